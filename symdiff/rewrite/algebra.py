"""Sums and products read as multisets: collecting like terms and powers.

Conventions
- A sum tree (``add``, ``sub``, ``neg``, multiplication by a constant) is read as
  ``c0 + sum_i k_i * t_i``; a product tree (``mul``, ``div``, ``neg``, ``pow``
  with a constant exponent, ``square``, ``sqrt``) as ``k * prod_j b_j ** e_j``.
  Constants are the scalar values ``pattern.const_value`` sees (through
  broadcasts); the engine restores the node's shape after a rewrite.
- A node is read from its operands' readings, each made once per rewrite run
  (``remembering``, kept by node id): linear time on chains of any length. An
  operand read as more than ``CAP`` terms or factors is taken whole (a long
  chain is read in pieces, the same pieces wherever it is met), and a power is
  entered only with an integer exponent, so ``(x*y)**0.5`` is not split into
  ``x**0.5 * y**0.5`` (different for negative x and y).
- A rebuild is counted (``product_cost``, ``build=False``) before it is made: a
  node already in canonical form costs no new nodes.
- A factor all terms of a sum share comes out (``a*g + b*g -> (a + b)*g``); a
  product of just those factors already in the graph (the adjoint reverse mode
  multiplies every term by) is reused.
- Merging powers of one base (``x**a * x**b -> x**(a+b)``, ``x/x -> 1``) holds
  wherever both sides are finite, as in SymPy for commutative symbols.
- The canonical rebuild: terms and factors sorted (constants first, then by node
  id, so equal subexpressions merge), the coefficient outermost (``k * (a / b)``,
  ``-(a*b)``, ``k / b``), sums as positives then subtractions, the constant term
  first when positive (``1 + x``, ``1 - s``) and subtracted when negative
  (``exp(x) - 1``), powers 2 and 0.5 as ``square`` and ``sqrt`` (what specialize
  would make of them: a later round finds nothing to redo). An operand product
  already in canonical form, with no constant or negation inside and nothing to
  merge with, is kept whole: moving a coefficient out of an adjoint
  ``((g * a) * b) * 0.1`` makes one node, not a new chain.
- A rebuild replaces the node only when it has fewer operations, or as many but
  moves a constant or a negation to its canonical place; otherwise the node is
  left alone, so sharing in the graph is kept.
- Factor rules (stabilize) rewrite a sub-multiset of a product's factors, the
  associative-commutative matching a tree pattern cannot do:
  ``g * exp(x) * (1 + exp(x))**-1 -> g * sigmoid(x)``.
"""
from __future__ import annotations

import math
import threading
import weakref
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from ..ir import Const, Node, _intern
from ..ops import FUNCTIONS, OPS
from .pattern import OpPat, build, const_value

CAP = 32


# Elementwise ops whose operands of one floating dtype and one shape give a node of that
# dtype and shape (what type inference would find).
_SAME_TYPE = {"add": "add", "subtract": "sub", "multiply": "mul", "divide": "div",
              "negative": "neg", "sqrt": "sqrt", "square": "square"}


def _remembered(name: str):
    """The public builder ``name``, looking first among the nodes it built in this run
    (``remembering``): an existing node is found without inferring its type again, and
    operands of one floating type make a node of that type without inferring it."""
    build = FUNCTIONS[name]
    op = OPS[_SAME_TYPE[name]] if name in _SAME_TYPE else None

    def made(args: tuple) -> Node:
        if op is not None:
            first = args[0]
            dtype, shape = first.dtype, first.shape
            if dtype.kind == "f" and all(a.dtype == dtype and a.shape == shape
                                         for a in args[1:]):
                return _intern(Node, op, args, (), dtype, shape)
        return build(*args)

    def builder(*args: Node) -> Node:
        built = _RUN.built
        if built is None:
            return made(args)
        key = (name,) + tuple(a.id for a in args)
        ref = built.get(key)
        node = ref() if ref is not None else None
        if node is None:
            node = made(args)
            built[key] = weakref.ref(node)
        return node
    return builder


add, subtract, multiply, divide, negative, power, sqrt, square = (
    _remembered(name) for name in ("add", "subtract", "multiply", "divide", "negative",
                                   "power", "sqrt", "square"))


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
    dtype = like.dtype if like.dtype.kind == "f" else _FLOAT64
    key = (dtype.str, value, math.copysign(1.0, value))     # -0.0 is not 0.0
    found = _CONSTS.get(key)
    if found is None:
        if len(_CONSTS) > 4096:
            _CONSTS.clear()
        found = _CONSTS[key] = Const(value, dtype)
    return found


# The scalar constants rebuilds make, by dtype and value: one is made once.
_CONSTS: dict[tuple, Const] = {}
_FLOAT64 = np.dtype("float64")


# A rebuild that only counts its operations (``build=False``) makes no nodes: this
# stands for each node it would have made.
PLANNED = object()


def _planned(*args) -> object:
    return PLANNED


# -- readings ------------------------------------------------------------------------------

# The readings of the sums and products met in one rewrite run (``remembering``), by node
# id; beside them, the nodes the builders above made: (builder, operand ids) -> weak
# reference to the node.
class _Run(threading.local):
    sums: dict | None = None
    products: dict | None = None
    built: dict | None = None


_RUN = _Run()


@contextmanager
def remembering():
    """Keep the readings of sums and products and the nodes built for the duration (one
    rewrite run, in this thread: nodes do not change, and node ids are never reused)."""
    outer = _RUN.sums, _RUN.products, _RUN.built
    if outer[0] is None:
        _RUN.sums, _RUN.products, _RUN.built = {}, {}, {}
    try:
        yield
    finally:
        _RUN.sums, _RUN.products, _RUN.built = outer


def _read_once(node: Node, memo: dict, read: Callable):
    """``memo[node.id]`` for a node not read yet, reading first (bottom-up, with an
    explicit stack: chains of any length) the operands whose readings ``read`` takes
    (it names them when they are missing): each node is read once."""
    stack = [node]
    while stack:
        n = stack[-1]
        if n.id in memo:
            stack.pop()
            continue
        out = read(n, memo)
        if type(out) is list:
            stack.extend(out)
            continue
        stack.pop()
        memo[n.id] = out
    return memo[node.id]


def _raised(v: float, e: float) -> float:
    """``v ** e`` as a float: inf when too large, nan for a negative number to a fractional
    power (Python would give a complex number)."""
    try:
        out = v ** e
    except OverflowError:
        return float("inf")
    return out if isinstance(out, float) else float("nan")


# -- sums ---------------------------------------------------------------------------------

@dataclass
class SumForm:
    c0: float
    terms: list            # [node, coefficient], in first-seen order
    size: int              # operations the tree spends
    moved: bool            # a constant or a negation not in canonical place


class _Sum:
    """The reading of a sum node: ``c0 + sum_i k_i * t_i``.

    ``terms``: term id -> (term, coefficient), in first-seen order; ``size``: the
    operations the tree spends; ``consts``: constants in it; ``moved``: a constant or a
    negation not in canonical place; ``nested``: the same, were the node an operand of a
    bigger sum; ``floats``: every term is floating point; ``merged``: a term met twice;
    ``common``: the factors every term has (as ``_common_factor`` takes them), or None
    where unknown; ``counts``: the terms of positive and of negative coefficient, and
    how many of each a rebuild scales, as ``sum_cost`` takes them."""

    __slots__ = ("c0", "terms", "size", "consts", "moved", "nested", "floats", "merged",
                 "common", "counts")

    def form(self) -> SumForm:
        return SumForm(self.c0, [list(t) for t in self.terms.values()], self.size, self.moved)


def _sum_operands(node: Node) -> tuple | None:
    """(operand, coefficient, a constant here is in canonical place) for the operands of a
    sum node (``add``, ``sub``, ``neg``, multiplication by a constant), else None."""
    name = node.op.name
    if name == "add":
        a, b = node.inputs
        return (a, 1.0, True), (b, 1.0, False)
    if name == "sub":
        a, b = node.inputs
        return (a, 1.0, True), (b, -1.0, True)
    if name == "neg":
        return ((node.inputs[0], -1.0, False),)
    if name == "mul":
        a, b = node.inputs
        va = const_value(a)
        if va is not None:
            return ((b, va, False),)
        vb = const_value(b)
        if vb is not None:
            return ((a, vb, False),)
    return None


_SUM_OPS = frozenset(("add", "sub", "neg", "mul"))


def _term(n: Node, k: float) -> tuple[Node, float]:
    if n.op.name == "div":
        a, d = n.inputs
        va = const_value(a)
        if va is not None and va != 1 and n.dtype.kind == "f":
            # k / d is the term 1 / d with coefficient k: -8/d + -16/d -> -24/d
            return divide(_const(1.0, n), d), k * va
    return n, k


def _whole_factors(term: Node) -> dict | None:
    """The factors of a term with a nonzero integer exponent (those a common factor can
    take), or None when the term is not a product with a finite coefficient."""
    r = _product(term)
    if r.whole is None:
        if r.poison or not np.isfinite(r.coef):
            return None
        r.whole = r.factors if r.plain else _whole(r.factors)
    return r.whole


def _meet(c1: dict | None, c2: dict | None) -> dict | None:
    """The common factors of two groups of terms: for each base both have with exponents
    of one sign, the smaller power (for divisors the one closer to 1)."""
    if c1 is None or c2 is None:
        return None
    if len(c1) > len(c2):
        c1, c2 = c2, c1
    out = {}
    for i, (b, e) in c1.items():
        other = c2.get(i)
        if other is not None and (e > 0) == (other[1] > 0):
            out[i] = (b, min(e, other[1]) if e > 0 else max(e, other[1]))
    return out


_UNSET = object()


def _read_sum(node: Node, memo: dict) -> _Sum | list:
    """The reading of ``node`` from its operands' (or the operands to read first)."""
    ops = _sum_operands(node)
    if ops is not None:
        missing = [c for c, _, _ in ops if c.op.name in _SUM_OPS and c.id not in memo
                   and _sum_operands(c) is not None]
        if missing:
            return missing
    r = _Sum()
    r.merged = False
    v = const_value(node)
    if v is not None:
        r.c0, r.terms, r.size, r.consts = v, {}, 0, 1
        r.moved = r.nested = True
        r.floats, r.common, r.counts = True, None, [0, 0, 0, 0]
        return r
    if ops is None:
        t, k = _term(node, 1.0)
        r.c0, r.terms, r.size, r.consts = 0.0, {t.id: (t, k)}, 0, 0
        r.moved = r.nested = False
        r.floats = t.dtype.kind == "f"
        r.common = None if _product(t).big else _whole_factors(t)
        r.counts = [0, 0, 0, 0]
        _tally(r.counts, t, k)
        return r
    name = node.op.name
    c0, size, consts, floats, merged = 0.0, 1, 0, True, False
    terms: dict[int, tuple] = {}
    counts = [0, 0, 0, 0]
    common, unknown = _UNSET, False
    if name == "mul":
        # canonical: the constant first, and positive when nested (a - 2*b)
        va = const_value(node.inputs[0])
        moved = va is None
        nested = va is None or va < 0
    else:
        moved, nested = False, name == "neg"
    for child, k, spot in ops:
        v = const_value(child)
        if v is not None:
            c0 += k * v
            consts += 1
            moved = moved or not spot
            continue
        sub = memo.get(child.id) if child.op.name in _SUM_OPS else None
        if sub is not None and sub.size and len(sub.terms) <= CAP:
            c0 += k * sub.c0
            size += sub.size
            consts += sub.consts
            moved = moved or sub.nested
            nested = nested or sub.nested
            floats = floats and sub.floats
            merged = merged or sub.merged
            if not terms and k == 1.0:
                terms = dict(sub.terms)
                counts = list(sub.counts)
            else:
                for i, (t, kt) in sub.terms.items():
                    entry = terms.get(i)
                    if entry is None:
                        terms[i] = (t, kt * k)
                        _tally(counts, t, kt * k)
                    else:
                        terms[i] = (t, entry[1] + kt * k)
                        merged = True
            common = sub.common if common is _UNSET else _meet(common, sub.common)
            unknown = unknown or sub.common is None
            continue
        t, k = _term(child, k)
        floats = floats and t.dtype.kind == "f"
        entry = terms.get(t.id)
        if entry is None:
            terms[t.id] = (t, k)
            _tally(counts, t, k)
        else:
            terms[t.id] = (t, entry[1] + k)
            merged = True
        whole = _whole_factors(t)
        common = whole if common is _UNSET else _meet(common, whole)
        unknown = unknown or _product(t).big
    if consts > 1:
        moved = True
    if merged:
        counts = [0, 0, 0, 0]
        for t, k in terms.values():
            _tally(counts, t, k)
    r.c0, r.terms, r.size, r.consts, r.counts = c0, terms, size, consts, counts
    r.moved, r.nested = moved, nested or consts > 0
    r.floats, r.merged = floats, merged
    # terms met twice may cancel, and a long product taken whole may hide a factor
    # another term shows: the common factors are then found again (_common_factor)
    r.common = None if merged or unknown or common is _UNSET else common
    return r


def _tally(counts: list, t: Node, k: float) -> None:
    """Count a term as ``sum_cost`` takes it: a coefficient other than 1 and -1 costs a
    multiplication, but on ``1 / d`` (it becomes ``k / d``)."""
    if k > 0:
        counts[0] += 1
        counts[2] += k != 1 and not _reciprocal(t)
    elif k < 0:
        counts[1] += 1
        counts[3] += k != -1 and not _reciprocal(t)


def _reciprocal(t: Node) -> bool:
    return t.op.name == "div" and const_value(t.inputs[0]) == 1


def sum_cost(c0: float, pos: int, neg: int, pos_scaled: int, neg_scaled: int) -> int | None:
    """The operations ``rebuild_sum`` spends on ``c0`` plus ``pos`` terms of positive
    coefficient and ``neg`` of negative coefficient (``pos_scaled`` and ``neg_scaled`` of
    them multiplied by their coefficient); None when that depends on which negative term
    comes first (no positive term nor positive constant)."""
    if not pos and c0 <= 0 and neg:
        return None
    size = neg + pos_scaled + neg_scaled         # a subtraction per negative term
    if pos or c0 > 0:
        size += pos - 1 + (c0 > 0)               # the additions
    if c0 < 0 and (pos or neg):
        size += 1
    return size


def _remembered_reading(node: Node, kind: str, reader):
    """The run's reading of ``node`` (``kind`` is "sums" or "products"), made once."""
    memo = getattr(_RUN, kind)
    if memo is None:
        with remembering():
            return _remembered_reading(node, kind, reader)
    found = memo.get(node.id)
    return found if found is not None else _read_once(node, memo, reader)


def _sum(node: Node) -> _Sum:
    return _remembered_reading(node, "sums", _read_sum)


def read_sum(node: Node) -> SumForm:
    return _sum(node).form()


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


def collect_terms(node: Node) -> Node | None:
    """``2*x + 3*x -> 5*x``, ``x - x -> 0``, ``-a + b -> b - a``: a sum in canonical form;
    ``a*x + a*y -> a*(x + y)`` and ``x/a + y/a -> (x + y)/a`` when every term has the
    factor (or divisor) ``a`` and that spends fewer operations (reverse mode sums products
    that share an adjoint)."""
    if node.dtype.kind != "f":
        return None
    reading = _sum(node)
    if reading.size == 0 or not reading.floats:
        return None
    # decide on the counts: a long sum in canonical form is not gone through again
    size = sum_cost(reading.c0, *reading.counts)
    form = None
    if size is None:
        form = reading.form()
        _, size = rebuild_sum(form, node, build=False)
    if reading.common is None or reading.common:    # no factor to share: nothing to try
        form = form or reading.form()
        factored = _common_factor(form, node)
        if factored is not None:
            expr, factored_size, terms_size = factored
            if factored_size < min(size, reading.size) + terms_size:
                return expr
    if size > reading.size or (size == reading.size and not reading.moved):
        return None
    new, _ = rebuild_sum(form or reading.form(), node)
    return None if new is node else new


def _common_factor(form: SumForm, like: Node) -> tuple[Node, int, int] | None:
    """``sum_i k_i * a * r_i -> a * sum_i k_i * r_i`` for factors ``a`` all terms share
    (integer powers, divisors too: ``a/g + b/g -> (a + b)/g``): the new node, the
    operations it spends and those the terms spend on products, as read."""
    terms = [(t, k) for t, k in form.terms if k != 0]
    if form.c0 != 0 or len(terms) < 2:
        return None
    products = [_product(t) for t, _ in terms]
    common = _shared(_whole_factors(t) for t, _ in terms)
    readings = [(p.coef, p.factors, p.size) for p in products]
    if common is not None and any(i not in common for p in products for i in p.big):
        # A long product is read in pieces, so one term may hold whole a product another
        # term shows factor by factor: open the products not shared, and look again.
        readings = [_opened(p, common) for p in products]
        common = _shared(_whole(f) for _, f, _ in readings)
    if not common:
        return None
    rest_terms, c0 = [], 0.0
    for (t, k), (coef, factors, _) in zip(terms, readings):
        rest = [[b, e] for i, (b, e) in factors.items() if i not in common]
        for i, (b, e) in common.items():
            left = factors[i][1] - e
            if left:
                rest.append([b, left])
        node, _ = rebuild_product(ProductForm(coef, rest, 0, False), like)
        v = const_value(node)
        if v is not None:
            c0 += k * v
        else:
            rest_terms.append([node, k])
    inner, inner_size = rebuild_sum(SumForm(c0, rest_terms, 0, False), like)
    outer = ProductForm(1.0, [[b, e] for b, e in common.values()] + [[inner, 1.0]], 0, False)
    _, outer_size = rebuild_product(outer, like, build=False)
    held = _holding(common, products) if len(common) > 1 else None
    if held is not None:
        # a product of just the common factors is there already (an adjoint): reuse it
        outer = ProductForm(1.0, [[held, 1.0], [inner, 1.0]], 0, False)
    expr, _ = rebuild_product(outer, like)
    size = outer_size + inner_size + sum(_tree_size(r) for r, _ in rest_terms)
    return expr, size, sum(spent for _, _, spent in readings)


def _holding(common: dict, products: list) -> Node | None:
    """A clean product (see ``_Product``) of exactly the factors ``common`` that some term
    is made of, looked for among the terms' clean parts and theirs."""
    todo = [p for q in products if q.parts for p, e in q.parts if e == 1.0]
    for _ in range(64):
        if not todo:
            return None
        node = todo.pop()
        r = _product(node)
        if len(r.factors) == len(common):
            for i, (_, e) in r.factors.items():
                shared = common.get(i)
                if shared is None or shared[1] != e:
                    break
            else:
                return node
        elif len(r.factors) > len(common) and r.parts:
            todo.extend(p for p, e in r.parts if e == 1.0)
    return None


def _shared(wholes) -> dict | None:
    """The factors all terms share (see ``_meet``); None when a term is not a product
    with a finite coefficient, empty when they share none."""
    common = _UNSET
    for w in wholes:
        if w is None:
            return None
        common = w if common is _UNSET else _meet(common, w)
        if not common:
            return common
    return common


def _whole(factors: dict) -> dict:
    return {i: (b, e) for i, (b, e) in factors.items() if e != 0 and float(e).is_integer()}


def _opened(p: _Product, keep: dict) -> tuple[float, dict, int]:
    """The coefficient, factors and size of a product with each long product it holds
    whole (but those in ``keep``) replaced by its own factors."""
    coef, factors, size = p.coef, p.factors, p.size
    for i, (b, e) in p.factors.items():
        if i in keep or b.op.name not in _PRODUCT_OPS or not float(e).is_integer():
            continue
        inner = _product(b)
        if inner.size == 0 or inner.coefficient() is None or (inner.coef == 0 and e < 0):
            continue
        if factors is p.factors:
            factors = dict(factors)
        del factors[i]
        coef *= _raised(inner.coef, e)
        size += inner.size
        for j, (c, ce) in inner.factors.items():
            entry = factors.get(j)
            factors[j] = (c, ce * e if entry is None else entry[1] + ce * e)
    return coef, factors, size


def _tree_size(node: Node) -> int:
    """Operations a rebuilt term spends on products (its own product tree)."""
    return _product(node).size


# -- products ------------------------------------------------------------------------------

@dataclass
class ProductForm:
    coef: float
    factors: list          # [base, exponent], in first-seen order
    size: int
    moved: bool


class _Product:
    """The reading of a product node: ``coef * prod_j b_j ** e_j``.

    ``factors``: base id -> (base, exponent), in first-seen order; ``poison``: a zero to a
    negative power (no reading then); ``size``: the operations the tree spends;
    ``consts``, ``negs``: the constants and negations in it; ``merged``: a base met
    twice; ``moved``: a constant or a negation not in canonical place, or a merge;
    ``floats``: every base is floating point (a boolean one, ``x > 0`` in ``g * (x > 0)``,
    cannot be negated or divided); ``counts``: factors of positive and of
    negative exponent, and how many of each have an exponent other than 1 and -1, as
    ``product_cost`` takes them; ``whole``: see ``_whole_factors``; ``big``: the ids of
    the factors that are products of more than ``CAP`` factors, taken whole; ``plain``:
    every exponent is a nonzero integer.

    ``parts``: the outermost clean products below the node, as (node, exponent 1 or -1),
    and ``loose``: the factors outside them (id -> (base, exponent)); together they
    multiply to the product without its coefficient (``parts`` is None where that is not
    known). A product is ``clean`` when a rebuild would keep it as it is: no constant,
    negation or merge, positive exponents only, and no more operations than its factors
    need."""

    __slots__ = ("factors", "coef", "poison", "size", "consts", "negs", "merged", "moved",
                 "floats", "counts", "parts", "loose", "clean", "whole", "big", "plain")

    def coefficient(self) -> float | None:
        """The coefficient, or None where ``read_product`` gives None."""
        if self.poison or not np.isfinite(self.coef):
            return None
        return self.coef

    def form(self, coef: float) -> ProductForm:
        return ProductForm(coef, [list(f) for f in self.factors.values()], self.size,
                           self.moved)


def _product_operands(node: Node) -> tuple | None:
    """(operand, exponent, a constant here is in canonical place) for the operands of a
    product node (``mul``, ``div``, ``neg``, ``pow`` with a constant exponent, ``square``,
    ``sqrt``), else None."""
    name = node.op.name
    if name == "mul":
        a, b = node.inputs
        return (a, 1.0, True), (b, 1.0, False)
    if name == "div":
        a, b = node.inputs
        return (a, 1.0, True), (b, -1.0, False)
    if name == "neg":
        return ((node.inputs[0], 1.0, False),)
    if name == "pow":
        ve = const_value(node.inputs[1])
        return ((node.inputs[0], ve, False),) if ve is not None else None
    if name == "square":
        return ((node.inputs[0], 2.0, False),)
    if name == "sqrt":
        return ((node.inputs[0], 0.5, False),)
    return None


_PRODUCT_OPS = frozenset(("mul", "div", "neg", "pow", "square", "sqrt"))


def _leaf_product(node: Node) -> _Product:
    r = _Product()
    r.factors = {node.id: (node, 1.0)}
    r.coef, r.poison, r.size, r.consts, r.negs = 1.0, False, 0, 0, 0
    r.merged = r.moved = False
    r.floats = node.dtype.kind == "f"
    r.counts = [1, 0, 0, 0]
    r.parts, r.loose, r.clean, r.whole, r.big = [], {node.id: (node, 1.0)}, False, None, ()
    r.plain = True
    return r


def _read_product(node: Node, memo: dict) -> _Product | list:
    """The reading of ``node`` from its operands' (or the operands to read first)."""
    v = const_value(node)
    ops = _product_operands(node) if v is None else ()
    if ops is None:
        return _leaf_product(node)
    # into a power only with an integer exponent: (x*y)**0.5 is not x**0.5 * y**0.5
    missing = [c for c, e, _ in ops if c.op.name in _PRODUCT_OPS and c.id not in memo
               and float(e).is_integer()]
    if missing:
        return missing
    factors: dict[int, tuple] = {}
    loose: dict[int, tuple] = {}
    parts: list | None = []
    coef, size, consts, negs = 1.0, 1, 0, 0
    moved = merged = poison = recount = False
    plain = True
    big: tuple = ()
    floats = True
    counts = [0, 0, 0, 0]
    if v is not None:               # a constant read as a product: the coefficient alone
        ops, size = ((node, 1.0, False),), 0
    elif node.op.name == "neg":
        coef, negs = -1.0, 1
    elif node.op.name == "pow" and ops[0][1] == 2:
        # the canonical square is square(x): the form specialize would give it, made
        # here so that a later round finds nothing to redo
        moved = True
    for child, e, spot in ops:
        v = const_value(child)
        if v is not None:
            consts += 1
            moved = moved or not spot
            if (v == 0 and e < 0) or (v < 0 and not float(e).is_integer()):
                poison = True
            else:
                coef *= _raised(v, e)
            continue
        sub = memo.get(child.id) if child.op.name in _PRODUCT_OPS else None
        if sub is not None and (not sub.size or not float(e).is_integer()):
            sub = None
        if sub is not None and len(sub.factors) > CAP:
            big += (child.id,)          # a long product is read in pieces: this one whole
            sub = None
        if sub is not None:
            # the operand's reading, to the power e: everything in it is out of the top
            big += sub.big
            plain = plain and sub.plain and e != 0
            size += sub.size
            consts += sub.consts
            negs += sub.negs
            moved = moved or sub.consts > 0 or sub.negs > 0 or sub.merged
            merged = merged or sub.merged
            floats = floats and sub.floats
            if sub.poison or (sub.coef == 0 and e < 0):
                poison = True
            else:
                coef *= _raised(sub.coef, e)
            unit = e == 1.0 or e == -1.0
            if parts is not None:
                if unit and sub.clean:
                    parts.append((child, e))
                elif sub.parts is None or (sub.parts and not unit):
                    parts = None
                else:
                    parts.extend((p, pe * e) for p, pe in sub.parts)
                    for i, (b, be) in sub.loose.items():
                        if i in loose:
                            parts = None
                            break
                        loose[i] = (b, be * e)
            if not factors and e == 1.0:
                factors = dict(sub.factors)
                counts = list(sub.counts)
                continue
            for i, (b, be) in sub.factors.items():
                entry = factors.get(i)
                if entry is None:
                    factors[i] = (b, be * e)
                else:
                    factors[i] = (b, entry[1] + be * e)
                    merged = moved = True
            if e == 1.0:
                counts = [x + y for x, y in zip(counts, sub.counts)]
            elif e == -1.0:
                c = sub.counts
                counts = [counts[0] + c[1], counts[1] + c[0], counts[2] + c[3],
                          counts[3] + c[2]]
            else:
                recount = True
            continue
        entry = factors.get(child.id)
        if entry is None:
            factors[child.id] = (child, e)
            floats = floats and child.dtype.kind == "f"
            plain = plain and e != 0 and float(e).is_integer()
            _count(counts, e)
        else:
            factors[child.id] = (child, entry[1] + e)
            merged = moved = True
        if parts is not None:
            if child.id in loose:
                parts = None
            else:
                loose[child.id] = (child, e)
    if consts > 1:
        moved = True
    if merged or recount:
        counts = _counts(factors.values())
        plain = all(e != 0 and float(e).is_integer() for _, e in factors.values())
    r = _Product()
    r.factors, r.coef, r.poison, r.size = factors, coef, poison, size
    r.consts, r.negs, r.merged, r.moved, r.floats = consts, negs, merged, moved, floats
    r.counts, r.whole, r.big, r.plain = counts, None, big, plain
    r.parts, r.loose = (None, {}) if merged else (parts, loose)
    r.clean = (not moved and not poison and counts[1] == 0 and counts[0] > 0
               and size == product_cost(*counts, 1.0))
    return r


def _product(node: Node) -> _Product:
    return _remembered_reading(node, "products", _read_product)


def read_product(node: Node) -> ProductForm | None:
    reading = _product(node)
    coef = reading.coefficient()
    if coef is None:
        return None
    return reading.form(coef)


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


def _count(counts: list, e: float) -> None:
    if e > 0:
        counts[0] += 1
        counts[2] += e != 1
    elif e < 0:
        counts[1] += 1
        counts[3] += e != -1


def _power(base: Node, e: float, like: Node) -> tuple[Node, int]:
    if e == 1:
        return base, 0
    if e == 0.5:
        return sqrt(base), 1
    if e == 2:
        return square(base), 1
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
    reading = _product(node)
    coef = reading.coefficient()
    if coef is None or reading.size == 0 or not reading.floats:
        return None
    # decide on the counts: a product already in canonical form costs no rebuild
    size = product_cost(*reading.counts, coef)
    if size > reading.size or (size == reading.size and not reading.moved):
        return None
    if reading.parts:
        # the clean operands stay whole: moving a coefficient out of a long chain makes
        # one node, not a new chain (and the same number of operations)
        units = [list(p) for p in reading.parts] + [list(f) for f in reading.loose.values()]
        form = ProductForm(coef, units, reading.size, True)
    else:
        form = reading.form(coef)
    new, _ = rebuild_product(form, node)
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

    def __post_init__(self) -> None:
        # the (op, exponent) of each factor a pattern needs: without them it cannot match
        self.needs = frozenset((p.op, e) for p, e in self.factors if isinstance(p, OpPat))

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
        reading = _product(node)
        coef = reading.coefficient()
        if coef is None or not reading.factors or not reading.floats:
            return None
        form = reading.form(coef)
        fired = []
        for _ in range(8):
            present = {(b.op.name, e) for b, e in form.factors}
            for r in rules:
                if not r.needs <= present:
                    continue
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
