"""Stabilize rules for ratios of exponentials: sigmoid, softmax, logaddexp gradients.

A ratio of exponentials overflows when read literally (``exp(800) / (1 + exp(800))``
is ``inf / inf``) though its value is at most 1. The factor rules pair exponentials in
a numerator with as many powers of their sum in the denominator and replace each pair
by the bounded ratio it stands for:

- ``exp(a)**j * exp(b)**k / (exp(a) + exp(b))**m``
  ``-> sigmoid(a - b)**j * sigmoid(b - a)**k / (exp(a) + exp(b))**(m - j - k)``,
  with ``1 = exp(0)`` standing for either exponential: ``1 / (1 + exp(-x))`` is
  ``sigmoid(x)``, and its derivative ``exp(-x) / (1 + exp(-x))**2`` is
  ``sigmoid(-x) * sigmoid(x)``. A ``1`` in the sum takes the powers the other
  exponential leaves; ``sigmoid(z)**m`` is read as ``1 / (1 + exp(-z))**m``, so
  ``exp(x) * sigmoid(-x)`` is ``sigmoid(x)``.
- ``exp(x)**k / sum(exp(x))**m -> softmax(x)**k' * exp(x)**(k - k') / sum(exp(x))**(m - k')``
  with ``k' = min(k, m)``, where the sum is over one axis it keeps (or a vector's).

Derivatives raise the powers (the second derivative of ``1 / (1 + exp(-x))`` has
``(1 + exp(-x))**-3``), hence any integer powers. Reverse mode also leaves the two
halves of a pair apart, which two more rules bring together:

- ``p * (t1 + t2) -> p*t1 + p*t2`` when ``p`` pairs with a factor of a term (the
  gradient of ``log(exp(a) + exp(b))`` is ``(exp(a) + exp(b)) / (exp(a) + exp(b))`` after
  the common factor comes out);
- ``sum(y / s**m) -> sum(y) / s**m`` for a sum of exponentials ``s`` that does not vary
  along the summed axes (a softmax's denominator, in the adjoint of its numerator).
"""
from __future__ import annotations

from ..ir import Node, same_shape
from ..ops import FUNCTIONS as F
from .memo import Memo
from .products import ProductForm, read_product, rebuild_product
from .sums import SumForm, read_sum, rebuild_sum
from .engine import Match
from .pattern import const_value


# -- the factor rules ----------------------------------------------------------------------

def _exp_sum(s: Node, e: float) -> tuple[int, list] | None:
    """(m, [a, b]) when ``s**e`` is ``(exp(a) + exp(b))**-m`` for a positive integer m,
    None standing for a 0 (a ``1`` in the sum), else None."""
    if s.op.name == "sigmoid" and e > 0 and float(e).is_integer():
        return int(e), [None, _negated(s.inputs[0])]
    if s.op.name != "add" or not (e < 0 and float(e).is_integer()) or s.inputs[0] is s.inputs[1]:
        return None
    args = []
    for t in s.inputs:
        if t.op.name == "exp":
            args.append(t.inputs[0])
        elif const_value(t) == 1.0 and t.dtype.kind == "f":
            args.append(None)
        else:
            return None
    return (int(-e), args) if any(a is not None for a in args) else None


def _negated(x: Node) -> Node:
    return x.inputs[0] if x.op.name == "neg" else F["negative"](x)


def _difference(a: Node | None, b: Node | None) -> Node:
    """a - b, where None stands for 0."""
    if a is None:
        return _negated(b)
    return a if b is None else F["subtract"](a, b)


def _replace(form: ProductForm, used: dict[int, float], new: list) -> ProductForm:
    """The form with ``used[i]`` added to the exponent of factor i, and ``new`` factors."""
    factors = [[b, e + used.get(i, 0.0)] for i, (b, e) in enumerate(form.factors)]
    factors = [f for f in factors if f[1] != 0]
    return ProductForm(form.coef, factors + new, form.size, True)


def sigmoid_ratio(form: ProductForm, like: Node, memo: Memo) -> ProductForm | None:
    """exp(a)**j * exp(b)**k / (exp(a) + exp(b))**m -> sigmoid(a - b)**j * ... (see module)."""
    exps = {b.inputs[0].id: (i, e) for i, (b, e) in enumerate(form.factors)
            if e > 0 and b.op.name == "exp"}
    for index, (s, e) in enumerate(form.factors):
        found = _exp_sum(s, e)
        if found is None:
            continue
        m, args = found
        take = [0, 0]
        for k, a in enumerate(args):
            if a is not None and a.id in exps:
                take[k] = min(int(exps[a.id][1]), m - take[0])
        one = [k for k, a in enumerate(args) if a is None]     # Node's == builds a node
        if one:
            k = one[0]
            if not take[1 - k] and s.op.name == "sigmoid":
                continue    # sigmoid(z)**m alone: nothing to pair
            take[k] = m - take[1 - k]
        if not any(take):
            continue
        used = {index: -e if s.op.name == "sigmoid" else float(sum(take))}
        new = []
        for k, a in enumerate(args):
            if not take[k]:
                continue
            if a is not None:
                i = exps[a.id][0]
                used[i] = used.get(i, 0.0) - take[k]
            new.append([F["sigmoid"](_difference(a, args[1 - k])), float(take[k])])
        return _replace(form, used, new)
    return None


def softmax_ratio(form: ProductForm, like: Node, memo: Memo) -> ProductForm | None:
    """exp(x)**k / sum(exp(x), axis)**m -> softmax(x, axis)**min(k, m) * ... (see module)."""
    positive = {b.id: (i, e) for i, (b, e) in enumerate(form.factors) if e > 0}
    for index, (s, e) in enumerate(form.factors):
        if s.op.name != "sum" or not (e < 0 and float(e).is_integer()):
            continue
        num = s.inputs[0]
        axis = _softmax_axis(s)
        if num.op.name != "exp" or num.id not in positive or axis is None:
            continue
        i, k = positive[num.id]
        if not float(k).is_integer():
            continue
        take = float(min(k, -e))
        return _replace(form, {index: take, i: -take},
                        [[F["softmax"](num.inputs[0], axis), take]])
    return None


def _softmax_axis(s: Node) -> int | None:
    """The axis of sum(exp(x)) when exp(x) / sum is a softmax over it, else None: the sum
    is over one axis it keeps (broadcasting back along it), or over a whole vector."""
    x = s.inputs[0]
    axis = s.attr("axis")
    if x.ndim == 1 and axis in (None, (0,)):
        return 0
    if s.attr("keepdims") and axis is not None and len(axis) == 1:
        return axis[0]
    return None


RATIO_RULES = (sigmoid_ratio, softmax_ratio)


def _may_pair(p: Node, e: float) -> bool:
    """Whether ``p**e`` can take part in a ratio: an exponential, or a power of a sum of
    exponentials (or of a sigmoid). A factor that cannot leaves the ratio rules' verdict
    on a product as it was without it."""
    return ((p.op.name == "exp" and e > 0) or _exp_sum(p, e) is not None
            or (p.op.name == "sum" and e < 0 and p.inputs[0].op.name == "exp"))


def _pairs(p: Node, e: float, term: Node, memo: Memo) -> bool:
    """Whether a factor ``p**e`` (one that ``_may_pair``) multiplied into ``term`` would
    let a ratio rule fire."""
    form = read_product(term, memo)
    if form is None:
        return False
    factors = [list(f) for f in form.factors]
    for f in factors:
        if f[0] is p:
            f[1] += e
            break
    else:
        factors.append([p, e])
    trial = ProductForm(1.0, factors, 0, False)
    return any(r(trial, term, memo) is not None for r in RATIO_RULES)


def _fires(term: Node, memo: Memo) -> bool:
    """Whether a ratio rule fires on ``term`` as it is (cached: a deep chain asks about the
    same terms for each of its many factors)."""
    found = memo.ratio_fires.get(term.id)
    if found is None:
        form = read_product(term, memo)
        trial = None if form is None else ProductForm(1.0, [list(f) for f in form.factors],
                                                      0, False)
        found = trial is not None and any(r(trial, term, memo) is not None
                                          for r in RATIO_RULES)
        memo.ratio_fires[term.id] = found
    return found


# -- bringing the halves of a pair together --------------------------------------------------

def distribute_to_pair(m: Match) -> Node | None:
    """p * (t1 + t2) -> p*t1 + p*t2 when p pairs with a factor of some term (see module)."""
    node, memo = m.node, m.memo
    if node.dtype.kind != "f":
        return None
    form = read_product(node, memo)
    if form is None or len(form.factors) < 2:
        return None
    for ti, (t, te) in enumerate(form.factors):
        if te != 1 or t.op.name not in ("add", "sub"):
            continue
        total = read_sum(t, memo)
        # a factor that cannot pair gives the verdict of the terms as they are: asked once
        alone = any(_fires(term, memo) for term, _ in total.terms)
        for pi, (p, pe) in enumerate(form.factors):
            if pi == ti or pe == 0:
                continue
            if not (alone if not _may_pair(p, pe) else
                    any(_pairs(p, pe, term, memo) for term, _ in total.terms)):
                continue
            power, _ = rebuild_product(ProductForm(1.0, [[p, pe]], 0, False), node, memo)
            terms = [[F["multiply"](power, term), k] for term, k in total.terms]
            if total.c0:
                terms.append([power, total.c0])
            spread, _ = rebuild_sum(SumForm(0.0, terms, 0, False), node, memo)
            rest = [list(f) for k, f in enumerate(form.factors) if k not in (ti, pi)]
            out, _ = rebuild_product(ProductForm(form.coef, rest + [[spread, 1.0]], 0, False),
                                     node, memo)
            return out
    return None


def sum_of_constant_factor(m: Match) -> Node | None:
    """sum(y / s**m) -> sum(y) / s**m for a sum of exponentials s constant along the summed
    axes (see module)."""
    node, memo = m.node, m.memo
    x = node.inputs[0]
    if x.dtype.kind != "f":
        return None
    form = read_product(x, memo)
    if form is None or len(form.factors) < 2:
        return None
    axes = node.attr("axis")
    axes = tuple(range(x.ndim)) if axes is None else axes
    keep = node.attr("keepdims")
    out, inside = [], []
    for b, e in form.factors:
        moved = _constant_along(b, x.ndim, axes, keep) if _is_exp_sum(b) and e < 0 else None
        if moved is None:
            inside.append([b, e])
        else:
            out.append([moved, e])
    if not out or not inside:
        return None
    inner, _ = rebuild_product(ProductForm(form.coef, inside, 0, False), x, memo)
    if not same_shape(inner.shape, x.shape) or inner.dtype != x.dtype:
        return None
    total = F["sum"](inner, node.attr("axis"), keep)
    result, _ = rebuild_product(ProductForm(1.0, out + [[total, 1.0]], 0, False), node, memo)
    return result


def _is_exp_sum(s: Node) -> bool:
    if s.op.name == "sum":
        return s.inputs[0].op.name == "exp"
    return _exp_sum(s, -1.0) is not None


def _constant_along(f: Node, ndim: int, axes: tuple, keepdims: bool) -> Node | None:
    """``f`` as a factor of the reduction's result, when it does not vary along ``axes`` of
    an operand of ``ndim`` axes it broadcasts against; else None."""
    lead = ndim - f.ndim
    if lead < 0 or any(a >= lead and f.shape[a - lead] != 1 for a in axes):
        return None
    own = tuple(a - lead for a in axes if a >= lead)
    return f if keepdims or not own else F["squeeze"](f, own)
