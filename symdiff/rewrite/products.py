"""Products read as multisets of powers: collecting like powers.

Conventions
- A product tree (``mul``, ``div``, ``neg``, ``pow`` with a constant exponent,
  ``square``, ``sqrt``) is read as ``k * prod_j b_j ** e_j``. Constants are the scalar
  values ``pattern.const_value`` sees (through broadcasts); the engine restores the
  node's shape after a rewrite.
- A node is read from its operands' readings, each made once per rewrite run (kept in
  the run's ``Memo`` by node id): linear time on chains of any length. An operand read
  as more than ``CAP`` factors is taken whole (a long chain is read in pieces, the
  same pieces wherever it is met), and a power is entered only with an integer
  exponent, so ``(x*y)**0.5`` is not split into ``x**0.5 * y**0.5`` (different for
  negative x and y).
- Merging powers of one base (``x**a * x**b -> x**(a+b)``, ``x/x -> 1``) holds
  wherever both sides are finite, as in SymPy for commutative symbols.
- A rebuild is counted (``cost.product_cost``) before it is made: a node already in
  canonical form costs no new nodes.
- The canonical rebuild: factors sorted (constants first, then by node id, so equal
  subexpressions merge), the coefficient outermost (``k * (a / b)``, ``-(a*b)``,
  ``k / b``), powers 2 and 0.5 as ``square`` and ``sqrt`` (what specialize would make
  of them: a later round finds nothing to redo). An operand product already in
  canonical form, with no constant or negation inside and nothing to merge with, is
  kept whole: moving a coefficient out of an adjoint ``((g * a) * b) * 0.1`` makes
  one node, not a new chain.
- A rebuild replaces the node only when it has fewer operations, or as many but moves
  a constant or a negation to its canonical place; otherwise the node is left alone,
  so sharing in the graph is kept.
"""
from __future__ import annotations

import math

from ..ir import Node
from .cost import FactorCounts, count_factors, product_cost
from .memo import PLANNED, Memo
from .pattern import const_value
from .record import record

CAP = 32


def key(node: Node) -> tuple:
    """The canonical order of commutative operands: constants first, then by age."""
    return (0 if node.op.name == "const" else 1, node.id)


@record
class ProductForm:
    """``coef * prod b ** e`` over ``factors``, (base, exponent) pairs; ``size``: the
    operations the node read spends, ``moved``: a constant or negation out of place."""
    coef: float
    factors: tuple
    size: int
    moved: bool


@record
class ProductReading:
    """The reading of a product node: ``coef * prod_j b_j ** e_j``.

    ``parts`` and ``loose`` multiply to the product without its coefficient: ``parts``
    are the outermost clean products below the node, as (node, exponent 1 or -1), and
    ``loose`` the factors outside them. A product is ``clean`` when a rebuild would
    keep it as it is: no constant, negation or merge, positive exponents only, and no
    more operations than its factors need."""
    factors: dict           # base id -> (base, exponent), in first-seen order
    coef: float
    poison: bool            # a zero to a negative power: no reading then
    size: int               # the operations the tree spends
    consts: int             # the constants in it
    negs: int               # the negations in it
    merged: bool            # a base met twice
    moved: bool             # a constant or a negation not in canonical place, or a merge
    floats: bool            # every base is floating point (a boolean one, x > 0 in
    #                         g * (x > 0), cannot be negated or divided)
    counts: FactorCounts    # as product_cost takes them
    parts: list | None      # see above; None where not known
    loose: dict             # base id -> (base, exponent)
    clean: bool
    big: tuple              # ids of the factors that are products of more than CAP
    #                         factors, taken whole
    plain: bool             # every exponent is a nonzero integer

    def coefficient(self) -> float | None:
        """The coefficient, or None where ``read_product`` gives None."""
        if self.poison or not math.isfinite(self.coef):
            return None
        return self.coef

    def whole(self) -> dict | None:
        """The factors of nonzero integer exponent (those a common factor of a sum can
        take); None without a finite coefficient."""
        if self.poison or not math.isfinite(self.coef):
            return None
        return self.factors if self.plain else whole_powers(self.factors)

    def form(self, coef: float) -> ProductForm:
        return ProductForm(coef, tuple(self.factors.values()), self.size, self.moved)


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


PRODUCT_OPS = frozenset(("mul", "div", "neg", "pow", "square", "sqrt"))


def raised(v: float, e: float) -> float:
    """``v ** e`` as a float: inf when too large, nan for a negative number to a fractional
    power (Python would give a complex number)."""
    try:
        out = v ** e
    except OverflowError:
        return float("inf")
    return out if isinstance(out, float) else float("nan")


def whole_powers(factors: dict) -> dict:
    """The factors of nonzero integer exponent."""
    return {i: (b, e) for i, (b, e) in factors.items() if e != 0 and float(e).is_integer()}


_ONE_FACTOR = FactorCounts(1, 0, 0, 0)
_NO_FACTORS = FactorCounts(0, 0, 0, 0)


def _leaf_product(node: Node) -> ProductReading:
    factors = {node.id: (node, 1.0)}
    return ProductReading(
        factors=factors, coef=1.0, poison=False, size=0, consts=0, negs=0, merged=False,
        moved=False, floats=node.dtype.kind == "f", counts=_ONE_FACTOR,
        parts=[], loose=factors, clean=False, big=(), plain=True)


def _read_product(node: Node, memo: Memo) -> ProductReading | list:
    """The reading of ``node`` from its operands' (or the operands to read first)."""
    v = const_value(node)
    ops = _product_operands(node) if v is None else ()
    if ops is None:
        return _leaf_product(node)
    table = memo.products
    # into a power only with an integer exponent: (x*y)**0.5 is not x**0.5 * y**0.5
    missing = [c for c, e, _ in ops if c.op.name in PRODUCT_OPS and c.id not in table
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
    counts = _NO_FACTORS
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
                coef *= raised(v, e)
            continue
        sub = table.get(child.id) if child.op.name in PRODUCT_OPS else None
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
                coef *= raised(sub.coef, e)
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
                counts = sub.counts
                continue
            for i, (b, be) in sub.factors.items():
                entry = factors.get(i)
                if entry is None:
                    factors[i] = (b, be * e)
                else:
                    factors[i] = (b, entry[1] + be * e)
                    merged = moved = True
            if e == 1.0:
                counts = counts + sub.counts
            elif e == -1.0:
                counts = counts + sub.counts.inverted()
            else:
                recount = True
            continue
        entry = factors.get(child.id)
        if entry is None:
            factors[child.id] = (child, e)
            floats = floats and child.dtype.kind == "f"
            plain = plain and e != 0 and float(e).is_integer()
            counts = counts.with_factor(e)
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
        counts = count_factors(factors.values())
        plain = all(e != 0 and float(e).is_integer() for _, e in factors.values())
    return ProductReading(
        factors=factors, coef=coef, poison=poison, size=size, consts=consts, negs=negs,
        merged=merged, moved=moved, floats=floats, counts=counts,
        parts=None if merged else parts, loose={} if merged else loose,
        clean=(not moved and not poison and counts.den == 0 and counts.num > 0
               and size == product_cost(counts, 1.0)),
        big=big, plain=plain)


def product_reading(node: Node, memo: Memo) -> ProductReading:
    """The run's reading of ``node`` as a product (a node that is none is one factor)."""
    found = memo.products.get(node.id)
    return found if found is not None else memo.read(node, memo.products, _read_product)


def read_product(node: Node, memo: Memo | None = None) -> ProductForm | None:
    """``node`` as ``coef * prod b ** e``; None when the coefficient is not finite."""
    reading = product_reading(node, memo if memo is not None else Memo())
    coef = reading.coefficient()
    if coef is None:
        return None
    return reading.form(coef)


def power_of(base: Node, e: float, like: Node, memo: Memo) -> tuple[Node, int]:
    """``base ** e`` in canonical form (``square``, ``sqrt``) and the operations it spends."""
    if e == 1:
        return base, 0
    if e == 0.5:
        return memo.sqrt(base), 1
    if e == 2:
        return memo.square(base), 1
    return memo.power(base, memo.constant(e, like)), 1


def rebuild_product(form: ProductForm, like: Node, memo: Memo | None = None,
                    build: bool = True) -> tuple[Node, int]:
    """The canonical node for a product and the number of operations it spends (with
    ``build=False`` only the number: the node is ``PLANNED``)."""
    size = product_cost(count_factors(form.factors), form.coef)
    if not build:
        return PLANNED, size
    memo = memo if memo is not None else Memo()
    if form.coef == 0:
        return memo.constant(0.0, like), size
    factors = sorted(((b, e) for b, e in form.factors if e != 0), key=lambda be: key(be[0]))

    def chain(items):
        out = None
        for b, e in items:
            p, _ = power_of(b, e, like, memo)
            out = p if out is None else memo.multiply(out, p)
        return out

    num = chain([(b, e) for b, e in factors if e > 0])
    den = chain([(b, -e) for b, e in factors if e < 0])
    coef = form.coef
    if den is not None:
        if num is None and coef != 1:
            num, coef = memo.constant(coef, like), 1.0
        expr = memo.divide(num if num is not None else memo.constant(1.0, like), den)
    else:
        expr = num
    if expr is None:
        return memo.constant(coef, like), size
    if coef == -1:
        expr = memo.negative(expr)
    elif coef != 1:
        expr = memo.multiply(memo.constant(coef, like), expr)
    return expr, size


def collect_powers(node: Node, memo: Memo | None = None) -> Node | None:
    """``x*x*x -> x**3``, ``2*(3*x) -> 6*x``, ``x/x -> 1``: a product in canonical form."""
    if node.dtype.kind != "f":
        return None
    memo = memo if memo is not None else Memo()
    reading = product_reading(node, memo)
    coef = reading.coefficient()
    if coef is None or reading.size == 0 or not reading.floats:
        return None
    # decide on the counts: a product already in canonical form costs no rebuild
    size = product_cost(reading.counts, coef)
    if size > reading.size or (size == reading.size and not reading.moved):
        return None
    if reading.parts:
        # the clean operands stay whole: moving a coefficient out of a long chain makes
        # one node, not a new chain (and the same number of operations)
        units = (*reading.parts, *reading.loose.values())
        form = ProductForm(coef, units, reading.size, True)
    else:
        form = reading.form(coef)
    new, _ = rebuild_product(form, node, memo)
    return None if new is node else new
