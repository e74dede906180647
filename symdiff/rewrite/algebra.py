"""Sums and products read as multisets: collecting like terms and powers.

Conventions
- A sum tree (``add``, ``sub``, ``neg``, multiplication by a constant) is read as
  ``c0 + sum_i k_i * t_i``; a product tree (``mul``, ``div``, ``neg``, ``pow``
  with a constant exponent, ``square``, ``sqrt``) as ``k * prod_j b_j ** e_j``.
  Constants are the scalar values ``pattern.const_value`` sees (through
  broadcasts); the engine restores the node's shape after a rewrite.
- Reading descends at most ``CAP`` operands (linear time on long chains), and
  into a power only with an integer outer exponent, so ``(x*y)**0.5`` is not
  split into ``x**0.5 * y**0.5`` (different for negative x and y). Within one
  rewrite run (``remembering``) readings are kept by node id, and a product
  reuses its operand's reading where the walk would find the same factors.
- A rebuild is counted (``product_cost``, ``build=False``) before it is made: a
  node already in canonical form costs no new nodes.
- Merging powers of one base (``x**a * x**b -> x**(a+b)``, ``x/x -> 1``) holds
  wherever both sides are finite, as in SymPy for commutative symbols.
- The canonical rebuild: terms and factors sorted (constants first, then by node
  id, so equal subexpressions merge), the coefficient outermost (``k * (a / b)``,
  ``-(a*b)``, ``k / b``), sums as positives then subtractions, the constant term
  first when positive (``1 + x``, ``1 - s``) and subtracted when negative
  (``exp(x) - 1``).
- A rebuild replaces the node only when it has fewer operations, or as many but
  moves a constant or a negation to its canonical place; otherwise the node is
  left alone, so sharing in the graph is kept.
- Factor rules (stabilize) rewrite a sub-multiset of a product's factors, the
  associative-commutative matching a tree pattern cannot do:
  ``g * exp(x) * (1 + exp(x))**-1 -> g * sigmoid(x)``.
"""
from __future__ import annotations

import threading
import weakref
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from ..ir import Const, Node
from ..ops import FUNCTIONS
from .pattern import CONSTANT_LIKE, build, const_value

CAP = 32


def _remembered(name: str):
    """The public builder ``name``, looking first among the nodes it built in this run
    (``remembering``): an existing node is found without inferring its type again."""
    build = FUNCTIONS[name]

    def builder(*args: Node) -> Node:
        built = _RUN.built
        if built is None:
            return build(*args)
        key = (name,) + tuple(a.id for a in args)
        ref = built.get(key)
        node = ref() if ref is not None else None
        if node is None:
            node = build(*args)
            built[key] = weakref.ref(node)
        return node
    return builder


add, subtract, multiply, divide, negative, power, sqrt = (
    _remembered(name) for name in ("add", "subtract", "multiply", "divide", "negative",
                                   "power", "sqrt"))


def key(node: Node) -> tuple:
    """The canonical order of commutative operands: constants first, then by age."""
    return (0 if node.op.name == "const" else 1, node.id)


def term_key(node: Node) -> tuple:
    """The order of the terms of a sum: by the term without its constant coefficient
    (``3*x`` sorts as ``x``, ``k / d`` as ``1 / d``), so that rebuilt sums and the
    operand-order rule agree."""
    name = node.op.name
    if name in ("mul", "div") and node.inputs[0].op.name == "const" and node.inputs[1:]:
        rest = node.inputs[1]
        return (1, rest.id, 0 if name == "mul" else 1)
    if name == "neg":
        return (1, node.inputs[0].id, 2)
    return (0 if name == "const" else 1, node.id, 0)


def _const(value: float, like: Node) -> Const:
    return Const(value, like.dtype if like.dtype.kind == "f" else "float64")


# A rebuild that only counts its operations (``build=False``) makes no nodes: this
# stands for each node it would have made.
PLANNED = object()


def _planned(*args) -> object:
    return PLANNED


# -- sums ---------------------------------------------------------------------------------

@dataclass
class SumForm:
    c0: float
    terms: list            # [node, coefficient], in first-seen order
    size: int              # operations the tree spends
    moved: bool            # a constant or a negation not in canonical place


def read_sum(node: Node) -> SumForm:
    terms: dict[int, list] = {}
    c0, size, moved, consts = 0.0, 0, False, 0
    # (node, coefficient, is the root, a constant here is in canonical place)
    stack = [(node, 1.0, True, False)]
    while stack:
        n, k, top, spot = stack.pop()
        v = const_value(n)
        if v is not None:
            c0 += k * v
            consts += 1
            moved = moved or not spot
            continue
        name = n.op.name
        room = len(terms) + len(stack) < CAP
        if room and name in ("add", "sub"):
            a, b = n.inputs
            size += 1
            stack.append((b, -k if name == "sub" else k, False, top and name == "sub"))
            stack.append((a, k, False, top))
            continue
        if room and name == "neg":
            size += 1
            moved = moved or not top
            stack.append((n.inputs[0], -k, False, False))
            continue
        if room and name == "mul":
            a, b = n.inputs
            va, vb = const_value(a), const_value(b)
            if va is not None or vb is not None:
                size += 1
                # canonical: the constant first, and positive when nested (a - 2*b)
                moved = moved or va is None or (not top and va < 0)
                stack.append((b, k * va, False, False) if va is not None
                             else (a, k * vb, False, False))
                continue
        if name == "div":
            a, d = n.inputs
            va = const_value(a)
            if va is not None and va != 1 and n.dtype.kind == "f":
                # k / d is the term 1 / d with coefficient k: -8/d + -16/d -> -24/d
                n, k = divide(_const(1.0, n), d), k * va
        entry = terms.get(n.id)
        if entry is None:
            terms[n.id] = [n, k]
        else:
            entry[1] += k
    if consts > 1:
        moved = True
    return SumForm(c0, list(terms.values()), size, moved)


def _term_order(t: Node) -> tuple:
    # a coefficient-free term t sorts as its scaled forms k*t and k/d (see term_key)
    if t.op.name == "div" and const_value(t.inputs[0]) == 1:
        return (1, t.inputs[1].id, 1)
    return (0 if t.op.name == "const" else 1, t.id, 0)


def rebuild_sum(form: SumForm, like: Node, build: bool = True) -> tuple[Node, int]:
    """The canonical node for a sum and the number of operations it spends (with
    ``build=False`` only the number: the node is ``PLANNED``)."""
    add_, subtract_, multiply_, divide_, negative_, const = (
        (add, subtract, multiply, divide, negative, _const) if build else (_planned,) * 6)
    terms = sorted(((t, k) for t, k in form.terms if k != 0), key=lambda tk: _term_order(tk[0]))
    pos = [(t, k) for t, k in terms if k > 0]
    neg = [(t, -k) for t, k in terms if k < 0]
    size = 0

    def scaled(t, k):
        nonlocal size
        if k == 1:
            return t
        if t.op.name == "div" and const_value(t.inputs[0]) == 1:
            return divide_(const(k, like), t.inputs[1])     # k / d: no extra operation
        size += 1
        return multiply_(const(k, like), t)

    expr = const(form.c0, like) if form.c0 > 0 else None
    for t, k in pos:
        s = scaled(t, k)
        if expr is None:
            expr = s
        else:
            expr = add_(expr, s)
            size += 1
    for t, k in neg:
        if expr is None:
            expr = scaled(t, -k) if k != 1 else negative_(t)
            size += k == 1
        else:
            expr = subtract_(expr, scaled(t, k))
            size += 1
    if form.c0 < 0:
        if expr is None:
            expr = const(form.c0, like)
        else:
            expr = subtract_(expr, const(-form.c0, like))
            size += 1
    if expr is None:
        expr = const(0.0, like)
    return expr, size


def _all_float(nodes) -> bool:
    """Boolean operands (``x > 0`` in ``g * (x > 0)``) cannot be negated or divided."""
    return all(n.dtype.kind == "f" for n in nodes)


def collect_terms(node: Node) -> Node | None:
    """``2*x + 3*x -> 5*x``, ``x - x -> 0``, ``-a + b -> b - a``: a sum in canonical form;
    ``a*x + a*y -> a*(x + y)`` and ``x/a + y/a -> (x + y)/a`` when every term has the
    factor (or divisor) ``a`` and that spends fewer operations (reverse mode sums products
    that share an adjoint)."""
    if node.dtype.kind != "f":
        return None
    form = read_sum(node)
    if form.size == 0 or not _all_float(t for t, _ in form.terms):
        return None
    _, size = rebuild_sum(form, node, build=False)
    factored = _common_factor(form, node)
    if factored is not None:
        terms_size = sum(_tree_size(t) for t, k in form.terms if k != 0)
        if factored[1] < min(size, form.size) + terms_size:
            return factored[0]
    if size > form.size or (size == form.size and not form.moved):
        return None
    new, _ = rebuild_sum(form, node)
    return None if new is node else new


def _common_factor(form: SumForm, like: Node) -> tuple[Node, int] | None:
    """``sum_i k_i * a * r_i -> a * sum_i k_i * r_i`` for factors ``a`` all terms share
    (integer powers, divisors too: ``a/g + b/g -> (a + b)/g``)."""
    terms = [(t, k) for t, k in form.terms if k != 0]
    if form.c0 != 0 or len(terms) < 2:
        return None
    products = [read_product(t) for t, _ in terms]
    if any(p is None for p in products):
        return None
    common = None
    for p in products:
        exps = {}
        for b, e in p.factors:
            if e != 0 and float(e).is_integer():
                exps[b.id] = (b, e)
        if common is None:
            common = exps
        else:
            # the power all terms share: the smaller one (a*g**2 + b*g -> (a*g + b)*g),
            # for divisors the one closer to 1 (a/g**2 + b/g -> (a/g + b)/g)
            common = {i: (b, (min if e > 0 else max)(e, exps[i][1]))
                      for i, (b, e) in common.items()
                      if i in exps and (e > 0) == (exps[i][1] > 0)}
        if not common:
            return None
    rest_terms, c0 = [], 0.0
    for (t, k), p in zip(terms, products):
        factors = []
        for b, e in p.factors:
            e = e - common[b.id][1] if b.id in common else e
            factors.append([b, e])
        rest, _ = rebuild_product(ProductForm(p.coef, factors, 0, False), like)
        v = const_value(rest)
        if v is not None:
            c0 += k * v
        else:
            rest_terms.append([rest, k])
    inner, inner_size = rebuild_sum(SumForm(c0, rest_terms, 0, False), like)
    outer = ProductForm(1.0, [[b, e] for b, e in common.values()] + [[inner, 1.0]], 0, False)
    expr, outer_size = rebuild_product(outer, like)
    size = outer_size + inner_size + sum(_tree_size(r) for r, _ in rest_terms)
    return expr, size


def _tree_size(node: Node) -> int:
    """Operations a rebuilt term spends on products (its own product tree)."""
    p = read_product(node)
    return p.size if p is not None else 0


# -- products ------------------------------------------------------------------------------

@dataclass
class ProductForm:
    coef: float
    factors: list          # [base, exponent], in first-seen order
    size: int
    moved: bool


def read_product(node: Node) -> ProductForm | None:
    reading = _reading(node)
    coef = reading.coef()
    if coef is None:
        return None
    return reading.form(coef)


def _reading(node: Node) -> "_Reading":
    readings = _RUN.readings
    reading = readings.get(node.id) if readings is not None else None
    if reading is None:
        reading = _read_product(node)
        if readings is not None:
            readings[node.id] = reading
    return reading


# Readings of the products met in one rewrite run (``remembering``), by node id. A
# product whose operand was read before takes the operand's reading as a whole when
# the walk below would have found the same factors: no cut (``CAP`` cannot be reached
# from where the operand is met), exponent 1 or -1, no base met twice. Beside them, the
# nodes the builders above made: (builder, operand ids) -> weak reference to the node.
class _Run(threading.local):
    readings: dict | None = None
    built: dict | None = None


_RUN = _Run()


@contextmanager
def remembering():
    """Keep the readings of products and the nodes built for the duration (one rewrite
    run, in this thread: nodes do not change, and node ids are never reused)."""
    outer = _RUN.readings, _RUN.built
    if outer[0] is None:
        _RUN.readings, _RUN.built = {}, {}
    try:
        yield
    finally:
        _RUN.readings, _RUN.built = outer


class _Reading:
    """The walk of ``read_product`` below a node, as the events it met.

    ``events``: the (value, exponent) of each constant (and (-1, exponent) of each
    negation), whose powers multiply the coefficient in this order; ``factors``: base id
    -> (base, exponent); ``counts``: factors of positive and of negative exponent, and
    how many of each have an exponent other than 1 and -1, as ``product_cost`` takes
    them; ``floats``: all bases are floating point; ``peak``: the most items (factors
    and pending operands) the walk held when it met a node; ``cut``: whether ``CAP``
    stopped it somewhere; ``merged``: whether it met a base twice; ``poison``: a zero to
    a negative power."""

    __slots__ = ("factors", "events", "size", "consts", "negs", "merged", "moved", "peak",
                 "cut", "poison", "counts", "floats")

    def embeddable(self, exponent: float, held: int) -> bool:
        """Whether a walk meeting this node with ``exponent`` while holding ``held``
        items would make exactly these events."""
        return (not self.cut and not self.merged and held + self.peak < CAP
                and (exponent == 1.0 or (exponent == -1.0 and not self.poison)))

    def coef(self) -> float | None:
        """The coefficient, or None where ``read_product`` gives None."""
        if self.poison:
            return None
        coef = 1.0
        for v, e in self.events:
            coef *= v ** e
        return coef if np.isfinite(coef) else None

    def form(self, coef: float) -> ProductForm:
        return ProductForm(coef, [list(f) for f in self.factors.values()], self.size,
                           self.moved or self.consts > 1)


def _counts(factors) -> list:
    counts = [0, 0, 0, 0]
    for _, e in factors:
        _count(counts, e)
    return counts


def product_cost(num: int, den: int, num_powers: int, den_powers: int, coef: float) -> int:
    """The operations ``rebuild_product`` spends on ``coef`` times ``num`` factors of
    positive exponent (``num_powers`` of them not 1) over ``den`` factors of negative
    exponent (``den_powers`` of them not -1)."""
    if coef == 0:
        return 0
    size = num_powers + max(num - 1, 0) + den_powers + max(den - 1, 0) + (den > 0)
    if den and not num:
        return size         # k / d: the coefficient is the numerator
    return size + (num > 0 and coef != 1)


def _read_product(node: Node) -> _Reading:
    readings = _RUN.readings
    factors: dict[int, tuple] = {}
    events: list[tuple] = []
    size, consts, negs, peak = 0, 0, 0, 0
    moved = merged = cut = poison = False
    counts: list | None = [0, 0, 0, 0]     # None once a merge changed an exponent
    floats = True
    # (node, exponent, is the root, a constant here is in canonical place)
    stack = [(node, 1.0, True, False)]
    while stack:
        n, e, top, spot = stack.pop()
        name = n.op.name
        v = const_value(n) if name in CONSTANT_LIKE else None
        if v is not None:
            if v == 0 and e < 0:
                poison = True
                break
            events.append((v, e))
            consts += 1
            moved = moved or not spot
            continue
        held = len(factors) + len(stack)
        if held > peak:
            peak = held
        room = held < CAP
        if room and float(e).is_integer():
            if readings is not None and not top and name in _PRODUCT_OPS:
                r = readings.get(n.id)
                if r is not None and r.embeddable(e, held):
                    # everything below n is spot-less and not at the top: each constant
                    # and negation is out of place, as in the walk it stands for
                    size += r.size
                    consts += r.consts
                    negs += r.negs
                    moved = moved or r.consts > 0 or r.negs > 0
                    peak = max(peak, held + r.peak)
                    if r.poison:
                        poison = True
                        break
                    for value, exponent in r.events:
                        exponent = exponent * e
                        if value == 0 and exponent < 0:
                            poison = True
                            break
                        events.append((value, exponent))
                    if poison:
                        break
                    floats = floats and r.floats
                    if not factors and e == 1.0:
                        factors = dict(r.factors)
                        counts = list(r.counts)
                        continue
                    for key_, (base, exponent) in r.factors.items():
                        exponent = exponent * e
                        entry = factors.get(key_)
                        if entry is None:
                            factors[key_] = (base, exponent)
                            if counts is not None:
                                _count(counts, exponent)
                        else:
                            factors[key_] = (base, entry[1] + exponent)
                            moved = merged = True
                            counts = None
                    continue
            if name in ("mul", "div"):
                a, b = n.inputs
                size += 1
                stack.append((b, -e if name == "div" else e, False, False))
                stack.append((a, e, False, top))
                continue
            if name == "neg":
                size += 1
                negs += 1
                events.append((-1.0, e))
                moved = moved or not top
                stack.append((n.inputs[0], e, False, False))
                continue
            if name == "pow":
                ve = const_value(n.inputs[1])
                if ve is not None:
                    size += 1
                    stack.append((n.inputs[0], e * ve, False, False))
                    continue
            if name in ("square", "sqrt"):
                size += 1
                stack.append((n.inputs[0], e * (2.0 if name == "square" else 0.5), False, False))
                continue
        elif not room and name in _PRODUCT_OPS:
            cut = True
        entry = factors.get(n.id)
        if entry is None:
            factors[n.id] = (n, e)
            floats = floats and n.dtype.kind == "f"
            if counts is not None:
                _count(counts, e)
        else:
            factors[n.id] = (n, entry[1] + e)
            moved = merged = True
            counts = None
    reading = _Reading()
    reading.factors, reading.events, reading.size = factors, events, size
    reading.consts, reading.negs, reading.merged, reading.moved = consts, negs, merged, moved
    reading.peak, reading.cut, reading.poison = peak, cut, poison
    reading.counts = counts if counts is not None else _counts(factors.values())
    reading.floats = floats
    return reading


def _count(counts: list, e: float) -> None:
    if e > 0:
        counts[0] += 1
        counts[2] += e != 1
    elif e < 0:
        counts[1] += 1
        counts[3] += e != -1


_PRODUCT_OPS = frozenset(("mul", "div", "neg", "pow", "square", "sqrt"))


def _power(base: Node, e: float, like: Node) -> tuple[Node, int]:
    if e == 1:
        return base, 0
    if e == 0.5:
        return sqrt(base), 1
    return power(base, _const(e, like)), 1


def rebuild_product(form: ProductForm, like: Node, build: bool = True) -> tuple[Node, int]:
    """The canonical node for a product and the number of operations it spends (with
    ``build=False`` only the number: the node is ``PLANNED``)."""
    size = product_cost(*_counts(form.factors), form.coef)
    if not build:
        return PLANNED, size
    if form.coef == 0:
        return _const(0.0, like), size
    factors = sorted(((b, e) for b, e in form.factors if e != 0), key=lambda be: key(be[0]))

    def chain(items):
        out = None
        for b, e in items:
            p, _ = _power(b, e, like)
            out = p if out is None else multiply(out, p)
        return out

    num = chain([(b, e) for b, e in factors if e > 0])
    den = chain([(b, -e) for b, e in factors if e < 0])
    coef = form.coef
    if den is not None:
        if num is None and coef != 1:
            num, coef = _const(coef, like), 1.0
        expr = divide(num if num is not None else _const(1.0, like), den)
    else:
        expr = num
    if expr is None:
        return _const(coef, like), size
    if coef == -1:
        expr = negative(expr)
    elif coef != 1:
        expr = multiply(_const(coef, like), expr)
    return expr, size


def collect_powers(node: Node) -> Node | None:
    """``x*x*x -> x**3``, ``2*(3*x) -> 6*x``, ``x/x -> 1``: a product in canonical form."""
    if node.dtype.kind != "f":
        return None
    reading = _reading(node)
    coef = reading.coef()
    if coef is None or reading.size == 0 or not reading.floats:
        return None
    # decide on the counts: a product already in canonical form costs no rebuild
    size = product_cost(*reading.counts, coef)
    moved = reading.moved or reading.consts > 1
    if size > reading.size or (size == reading.size and not moved):
        return None
    new, _ = rebuild_product(reading.form(coef), node)
    return None if new is node else new


# -- factor rules ------------------------------------------------------------------------

@dataclass
class FactorRule:
    """Rewrite some factors of a product: ``[(pattern, exponent), ...] -> template``
    (the replacement enters with exponent 1), or ``fn(form, like) -> form | None``."""
    name: str
    factors: Sequence[tuple] = ()
    replacement: object = None
    guard: Callable[[dict], bool] | None = None
    fn: Callable | None = None

    def apply(self, form: ProductForm, like: Node) -> ProductForm | None:
        if self.fn is not None:
            return self.fn(form, like)
        live = [(i, b, e) for i, (b, e) in enumerate(form.factors) if e != 0]
        for env, used in _match_factors(self.factors, live, {}, ()):
            if self.guard is not None and not self.guard(env):
                continue
            try:
                new = build(self.replacement, env, like)
            except Exception:   # a replacement that does not type-check does not apply
                continue
            factors = [list(f) for i, f in enumerate(form.factors) if i not in used]
            factors.append([new, 1.0])
            return ProductForm(form.coef, factors, form.size, True)
        return None


def _match_factors(patterns, live, env, used):
    if not patterns:
        yield env, used
        return
    (pattern, exponent), rest = patterns[0], patterns[1:]
    for i, base, e in live:
        if i in used or e != exponent:
            continue
        for env1 in pattern.match(base, env):
            yield from _match_factors(rest, live, env1, used + (i,))


def factor_rewrite(rules: Sequence[FactorRule]) -> Callable[[Node], tuple | None]:
    """A product normalizer that applies ``rules``; fires only when one of them does."""
    def rewrite(node: Node):
        if node.dtype.kind != "f":
            return None
        form = read_product(node)
        if form is None or len(form.factors) < 1 or not _all_float(b for b, _ in form.factors):
            return None
        fired = []
        for _ in range(8):
            for r in rules:
                new = r.apply(form, node)
                if new is not None:
                    form = new
                    fired.append(r.name)
                    break
            else:
                break
        if not fired:
            return None
        expr, _ = rebuild_product(form, node)
        return expr, fired
    return rewrite
