"""Sums read as multisets of terms: collecting like terms and common factors.

Conventions
- A sum tree (``add``, ``sub``, ``neg``, multiplication by a constant) is read as
  ``c0 + sum_i k_i * t_i``, each term itself read as a product (``products.py``).
  Constants are the scalar values ``pattern.const_value`` sees (through broadcasts);
  the engine restores the node's shape after a rewrite.
- A node is read from its operands' readings, each made once per rewrite run (kept in
  the run's ``Memo`` by node id): linear time on chains of any length. An operand read
  as more than ``CAP`` terms is taken whole.
- A rebuild is counted (``cost.sum_cost``) before it is made: a node already in
  canonical form costs no new nodes.
- A factor all terms of a sum share comes out (``a*g + b*g -> (a + b)*g``); a product
  of just those factors already in the graph (the adjoint reverse mode multiplies
  every term by) is reused.
- The canonical rebuild: terms sorted (by the term without its coefficient, then by
  node id, so equal subexpressions merge), positives then subtractions, the constant
  term first when positive (``1 + x``, ``1 - s``) and subtracted when negative
  (``exp(x) - 1``). It replaces the node only when it has fewer operations, or as
  many but moves a constant or a negation to its canonical place.
"""
from __future__ import annotations


from ..ir import Node
from .cost import TermCounts, count_terms, reciprocal, sum_cost
from .memo import PLAN, Memo
from .pattern import const_value
from .record import record
from .products import (CAP, PRODUCT_OPS, ProductForm, ProductReading, product_reading, raised,
                       rebuild_product, whole_powers)


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


@record
class SumForm:
    """``c0 + sum k * t`` over ``terms``, (term, coefficient) pairs; ``size``: the
    operations the node read spends, ``moved``: a constant or negation out of place."""
    c0: float
    terms: tuple
    size: int
    moved: bool


@record
class SumReading:
    """The reading of a sum node: ``c0 + sum_i k_i * t_i``."""
    c0: float
    terms: dict             # term id -> (term, coefficient), in first-seen order
    size: int               # the operations the tree spends
    consts: int             # the constants in it
    moved: bool             # a constant or a negation not in canonical place
    nested: bool            # the same, were the node an operand of a bigger sum
    floats: bool            # every term is floating point
    merged: bool            # a term met twice
    common: dict | None     # the factors every term has (as _common_factor takes them);
    #                         None where unknown
    counts: TermCounts      # as sum_cost takes them

    def form(self) -> SumForm:
        return SumForm(self.c0, tuple(self.terms.values()), self.size, self.moved)


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


def _term(n: Node, k: float, memo: Memo) -> tuple[Node, float]:
    if n.op.name == "div":
        a, d = n.inputs
        va = const_value(a)
        if va is not None and va != 1 and n.dtype.kind == "f":
            # k / d is the term 1 / d with coefficient k: -8/d + -16/d -> -24/d
            return memo.divide(memo.constant(1.0, n), d), k * va
    return n, k


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
_NO_TERMS = TermCounts(0, 0, 0, 0)


def _read_sum(node: Node, memo: Memo) -> SumReading | list:
    """The reading of ``node`` from its operands' (or the operands to read first)."""
    table = memo.sums
    ops = _sum_operands(node)
    if ops is not None:
        missing = [c for c, _, _ in ops if c.op.name in _SUM_OPS and c.id not in table
                   and _sum_operands(c) is not None]
        if missing:
            return missing
    v = const_value(node)
    if v is not None:
        return SumReading(c0=v, terms={}, size=0, consts=1, moved=True, nested=True,
                          floats=True, merged=False, common=None, counts=_NO_TERMS)
    if ops is None:
        t, k = _term(node, 1.0, memo)
        product = product_reading(t, memo)
        return SumReading(c0=0.0, terms={t.id: (t, k)}, size=0, consts=0, moved=False,
                          nested=False, floats=t.dtype.kind == "f", merged=False,
                          common=None if product.big else product.whole(),
                          counts=_NO_TERMS.with_term(t, k))
    name = node.op.name
    c0, size, consts, floats, merged = 0.0, 1, 0, True, False
    terms: dict[int, tuple] = {}
    counts = _NO_TERMS
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
        sub = table.get(child.id) if child.op.name in _SUM_OPS else None
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
                counts = sub.counts
            else:
                for i, (t, kt) in sub.terms.items():
                    entry = terms.get(i)
                    if entry is None:
                        terms[i] = (t, kt * k)
                        counts = counts.with_term(t, kt * k)
                    else:
                        terms[i] = (t, entry[1] + kt * k)
                        merged = True
            common = sub.common if common is _UNSET else _meet(common, sub.common)
            unknown = unknown or sub.common is None
            continue
        t, k = _term(child, k, memo)
        floats = floats and t.dtype.kind == "f"
        entry = terms.get(t.id)
        if entry is None:
            terms[t.id] = (t, k)
            counts = counts.with_term(t, k)
        else:
            terms[t.id] = (t, entry[1] + k)
            merged = True
        product = product_reading(t, memo)
        common = product.whole() if common is _UNSET else _meet(common, product.whole())
        unknown = unknown or product.big
    if consts > 1:
        moved = True
    if merged:
        counts = count_terms(terms.values())
    # terms met twice may cancel, and a long product taken whole may hide a factor
    # another term shows: the common factors are then found again (_common_factor)
    return SumReading(c0=c0, terms=terms, size=size, consts=consts, moved=moved,
                      nested=nested or consts > 0, floats=floats, merged=merged,
                      common=None if merged or unknown or common is _UNSET else common,
                      counts=counts)


def sum_reading(node: Node, memo: Memo) -> SumReading:
    """The run's reading of ``node`` as a sum (a node that is none is one term)."""
    found = memo.sums.get(node.id)
    return found if found is not None else memo.read(node, memo.sums, _read_sum)


def read_sum(node: Node, memo: Memo | None = None) -> SumForm:
    """``node`` as ``c0 + sum k * t``."""
    return sum_reading(node, memo if memo is not None else Memo()).form()


def _term_order(t: Node) -> tuple:
    # a coefficient-free term t sorts as its scaled forms k*t and k/d (see term_key)
    if reciprocal(t):
        return (1, t.inputs[1].id, 1)
    return (0 if t.op.name == "const" else 1, t.id, 0)


def rebuild_sum(form: SumForm, like: Node, memo: Memo | None = None,
                build: bool = True) -> tuple[Node, int]:
    """The canonical node for a sum and the number of operations it spends (with
    ``build=False`` only the number: the node is ``PLANNED``)."""
    make = (memo if memo is not None else Memo()) if build else PLAN
    terms = sorted(((t, k) for t, k in form.terms if k != 0), key=lambda tk: _term_order(tk[0]))
    pos = [(t, k) for t, k in terms if k > 0]
    neg = [(t, -k) for t, k in terms if k < 0]
    size = 0

    def scaled(t, k):
        nonlocal size
        if k == 1:
            return t
        if reciprocal(t):
            return make.divide(make.constant(k, like), t.inputs[1])    # k / d: no extra op
        size += 1
        return make.multiply(make.constant(k, like), t)

    expr = make.constant(form.c0, like) if form.c0 > 0 else None
    for t, k in pos:
        s = scaled(t, k)
        if expr is None:
            expr = s
        else:
            expr = make.add(expr, s)
            size += 1
    for t, k in neg:
        if expr is None:
            expr = scaled(t, -k) if k != 1 else make.negative(t)
            size += k == 1
        else:
            expr = make.subtract(expr, scaled(t, k))
            size += 1
    if form.c0 < 0:
        if expr is None:
            expr = make.constant(form.c0, like)
        else:
            expr = make.subtract(expr, make.constant(-form.c0, like))
            size += 1
    if expr is None:
        expr = make.constant(0.0, like)
    return expr, size


def collect_terms(node: Node, memo: Memo | None = None) -> Node | None:
    """``2*x + 3*x -> 5*x``, ``x - x -> 0``, ``-a + b -> b - a``: a sum in canonical form;
    ``a*x + a*y -> a*(x + y)`` and ``x/a + y/a -> (x + y)/a`` when every term has the
    factor (or divisor) ``a`` and that spends fewer operations (reverse mode sums products
    that share an adjoint)."""
    if node.dtype.kind != "f":
        return None
    memo = memo if memo is not None else Memo()
    reading = sum_reading(node, memo)
    if reading.size == 0 or not reading.floats:
        return None
    # decide on the counts: a long sum in canonical form is not gone through again
    size = sum_cost(reading.c0, reading.counts)
    form = None
    if size is None:
        form = reading.form()
        _, size = rebuild_sum(form, node, build=False)
    if reading.common is None or reading.common:    # no factor to share: nothing to try
        form = form or reading.form()
        factored = _common_factor(form, node, memo)
        if factored is not None:
            expr, factored_size, terms_size = factored
            if factored_size < min(size, reading.size) + terms_size:
                return expr
    if size > reading.size or (size == reading.size and not reading.moved):
        return None
    new, _ = rebuild_sum(form or reading.form(), node, memo)
    return None if new is node else new


def _common_factor(form: SumForm, like: Node, memo: Memo) -> tuple[Node, int, int] | None:
    """``sum_i k_i * a * r_i -> a * sum_i k_i * r_i`` for factors ``a`` all terms share
    (integer powers, divisors too: ``a/g + b/g -> (a + b)/g``): the new node, the
    operations it spends and those the terms spend on products, as read."""
    terms = [(t, k) for t, k in form.terms if k != 0]
    if form.c0 != 0 or len(terms) < 2:
        return None
    products = [product_reading(t, memo) for t, _ in terms]
    common = _shared(p.whole() for p in products)
    readings = [(p.coef, p.factors, p.size) for p in products]
    if common is not None and any(i not in common for p in products for i in p.big):
        # A long product is read in pieces, so one term may hold whole a product another
        # term shows factor by factor: open the products not shared, and look again.
        readings = [_opened(p, common, memo) for p in products]
        common = _shared(whole_powers(f) for _, f, _ in readings)
    if not common:
        return None
    rest_terms, c0 = [], 0.0
    for (t, k), (coef, factors, _) in zip(terms, readings):
        rest = [(b, e) for i, (b, e) in factors.items() if i not in common]
        for i, (b, e) in common.items():
            left = factors[i][1] - e
            if left:
                rest.append((b, left))
        node, _ = rebuild_product(ProductForm(coef, tuple(rest), 0, False), like, memo)
        v = const_value(node)
        if v is not None:
            c0 += k * v
        else:
            rest_terms.append((node, k))
    inner, inner_size = rebuild_sum(SumForm(c0, tuple(rest_terms), 0, False), like, memo)
    outer = ProductForm(1.0, (*common.values(), (inner, 1.0)), 0, False)
    _, outer_size = rebuild_product(outer, like, build=False)
    held = _holding(common, products, memo) if len(common) > 1 else None
    if held is not None:
        # a product of just the common factors is there already (an adjoint): reuse it
        outer = ProductForm(1.0, ((held, 1.0), (inner, 1.0)), 0, False)
    expr, _ = rebuild_product(outer, like, memo)
    size = outer_size + inner_size + sum(product_reading(r, memo).size for r, _ in rest_terms)
    return expr, size, sum(spent for _, _, spent in readings)


def _holding(common: dict, products: list, memo: Memo) -> Node | None:
    """A clean product (see ``ProductReading``) of exactly the factors ``common`` that some
    term is made of, looked for among the terms' clean parts and theirs."""
    todo = [p for q in products if q.parts for p, e in q.parts if e == 1.0]
    for _ in range(64):
        if not todo:
            return None
        node = todo.pop()
        r = product_reading(node, memo)
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


def _opened(p: ProductReading, keep: dict, memo: Memo) -> tuple[float, dict, int]:
    """The coefficient, factors and size of a product with each long product it holds
    whole (but those in ``keep``) replaced by its own factors."""
    coef, factors, size = p.coef, p.factors, p.size
    for i, (b, e) in p.factors.items():
        if i in keep or b.op.name not in PRODUCT_OPS or not float(e).is_integer():
            continue
        inner = product_reading(b, memo)
        if inner.size == 0 or inner.coefficient() is None or (inner.coef == 0 and e < 0):
            continue
        if factors is p.factors:
            factors = dict(factors)
        del factors[i]
        coef *= raised(inner.coef, e)
        size += inner.size
        for j, (c, ce) in inner.factors.items():
            entry = factors.get(j)
            factors[j] = (c, ce * e if entry is None else entry[1] + ce * e)
    return coef, factors, size
