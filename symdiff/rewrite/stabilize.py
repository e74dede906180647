"""The stabilize phase: forms that stay finite where the textbook form overflows or
divides by zero.

``log(sigmoid)``, ``1 - sigmoid``, ``log(1 + exp)``, ``log1p(exp)``,
``log(exp(a) + exp(b))``, ``log(sum(exp))``, ``log(softmax)``, ``expm1``, ``log1p``;
the gradients of these come out stable because the product normal form cancels
``s**-1 * s`` and the factor rules turn ratios of exponentials
(``exp(x) / (1 + exp(x))``, ``exp(x) / sum(exp(x))``, and their powers) into sigmoids
and softmaxes (``ratios.py``); and the NaN-safe ``where`` below.

NaN-safe ``where``
    The adjoint of ``where(c, a, b)`` with respect to ``a`` is
    ``where(c, g, 0)``; the chain rule then multiplies it by the derivative of
    ``a``'s computation, evaluated everywhere, also where ``c`` is false: for
    ``where(x > 0, sqrt(x), 0)`` at ``x = 0`` that is ``0 * inf = nan`` (JAX and
    autograd give nan; users write the "double where" by hand). The factor rule
    ``where(c, g, 0) * f'(x) -> where(c, g * f'(x'), 0)`` with
    ``x' = where(c, x, safe)`` does it for them: when ``c`` compares a node ``x``
    with a constant ``k`` (``x > k``, ``k < x``...), the factors of the product
    that depend on ``x`` through an op that can overflow or divide by zero are
    moved inside the ``where`` and recomputed at ``x'``, which equals ``x``
    where ``c`` holds and a value satisfying ``c`` (``k + 1`` for ``x > k``)
    elsewhere. Where ``c`` holds nothing changes; where it does not, the result
    is 0 as it should be, and the masked branch is computed at a harmless point.
    ``where(c, 0, g)`` is handled the same way with a value violating ``c``.

A new rule on one node goes in ``STABILIZE``, a new rule on some factors of a product
in ``FACTOR_RULES``; the order of a table is the order in which its rules are tried.
"""
from __future__ import annotations

from ..ir import Const, Node, make, same_shape, toposort
from ..ops import FUNCTIONS, OPS
from . import ratios
from .engine import Match, Phase, rule, rule_fn
from .factors import FactorRule, factor_rewrite
from .guards import algebra_shape
from .memo import Memo
from .pattern import A, B, P, X, Y, Z, const_value
from .products import ProductForm, power_of

F = FUNCTIONS

_CMP_SAFE = {  # condition -> (a value satisfying it, a value violating it), k the constant
    "greater": (1.0, -1.0), "greater_equal": (1.0, -1.0),
    "less": (-1.0, 1.0), "less_equal": (-1.0, 1.0),
}
_MIRROR = {"greater": "less", "greater_equal": "less_equal", "less": "greater",
           "less_equal": "greater_equal"}
UNSAFE = frozenset(name for name, op in OPS.items() if op.blows_up)
_SUBGRAPH_LIMIT = 400


def _compared(c: Node) -> tuple[Node, float, float] | None:
    """For c = (x op k) with k a scalar constant: x, a value making c true, one making it false."""
    name = c.op.name
    if name not in _CMP_SAFE:
        return None
    a, b = c.inputs
    ka, kb = const_value(a), const_value(b)
    if kb is not None and ka is None:
        x, k, op = a, kb, name
    elif ka is not None and kb is None:
        x, k, op = b, ka, _MIRROR[name]
    else:
        return None
    if x.dtype.kind != "f" or not same_shape(x.shape, c.shape):
        return None
    true_step, false_step = _CMP_SAFE[op]
    return x, k + true_step, k + false_step


def _risky_on(d: Node, e: float, x: Node, c: Node) -> bool:
    """Whether factor d**e depends on x through an op that can overflow or divide by 0
    (not counting x's safe version ``where(c, ...)``)."""
    stack, seen, depends, unsafe = [d], set(), False, e < 0 or not float(e).is_integer()
    while stack:
        n = stack.pop()
        if n.id in seen:
            continue
        seen.add(n.id)
        if len(seen) > _SUBGRAPH_LIMIT:
            return False
        if n is x:
            depends = True
            continue
        if n.op.name == "where" and n.inputs[0] is c:
            continue
        if not n.op.elementwise:
            continue        # only position-wise paths: see _substitute
        if n.op.name in UNSAFE:
            unsafe = True
        stack.extend(n.inputs)
    return depends and unsafe


def _substitute(d: Node, x: Node, x_safe: Node) -> Node:
    """d with x replaced by x_safe through elementwise ops only: an element of the result
    then depends on the same element of x, so it is unchanged wherever x_safe equals x.
    (A reduction of x, say, keeps reading the original x.)"""
    new: dict[int, Node] = {x.id: x_safe}
    for n in toposort([d]):
        if n.id in new or not n.inputs or not n.op.elementwise:
            continue
        inputs = [new.get(i.id, i) for i in n.inputs]
        if any(a is not b for a, b in zip(inputs, n.inputs)):
            new[n.id] = make(n.op, inputs, n.attrs)
    return new.get(d.id, d)


def nan_safe_where(form: ProductForm, like: Node, memo: Memo) -> ProductForm | None:
    """where(c, g, 0) * f'(x) -> where(c, g * f'(x'), 0), x' = where(c, x, safe)."""
    for index, (w, e) in enumerate(form.factors):
        if w.op.name != "where" or e != 1:
            continue
        c, a, b = w.inputs
        if const_value(b) == 0 and const_value(a) != 0:
            g, taken_when_true = a, True
        elif const_value(a) == 0 and const_value(b) != 0:
            g, taken_when_true = b, False
        else:
            continue
        found = _compared(c)
        if found is None:
            continue
        x, value_true, value_false = found
        risky = [k for k, (d, ed) in enumerate(form.factors)
                 if k != index and ed != 0 and _risky_on(d, ed, x, c)]
        if not risky:
            continue
        safe = Const(value_true if taken_when_true else value_false, x.dtype)
        x_safe = (F["where"](c, x, safe) if taken_when_true else F["where"](c, safe, x))
        inner = g
        for k in risky:
            d, ed = form.factors[k]
            d_safe = _substitute(d, x, x_safe)
            p, _ = power_of(d_safe, ed, like, memo)
            inner = F["multiply"](inner, p)
        if not same_shape(algebra_shape([c, inner]), algebra_shape([w] + [form.factors[k][0]
                                                                          for k in risky])):
            continue
        zero_ = Const(0.0, inner.dtype)
        new_w = F["where"](c, inner, zero_) if taken_when_true else F["where"](c, zero_, inner)
        factors = [list(f) for k, f in enumerate(form.factors) if k != index and k not in risky]
        factors.append([new_w, 1.0])
        return ProductForm(form.coef, factors, form.size, True)
    return None


def nan_safe_branches(m: Match) -> Node | None:
    """where(c, f(x), g(x)) -> where(c, f(x'), g(x'')), x' = where(c, x, safe): each branch
    computed where it is harmless (its derivative too: the gradient graph reuses it)."""
    node = m.node
    c, a, b = node.inputs
    found = _compared(c)
    if found is None:
        return None
    x, value_true, value_false = found
    out = []
    for branch, taken_when_true in ((a, True), (b, False)):
        if branch is not x and _risky_on(branch, 1.0, x, c):
            safe = Const(value_true if taken_when_true else value_false, x.dtype)
            x_safe = F["where"](c, x, safe) if taken_when_true else F["where"](c, safe, x)
            branch = _substitute(branch, x, x_safe)
        out.append(branch)
    if out[0] is a and out[1] is b:
        return None
    return make(node.op, (c, out[0], out[1]), node.attrs)


FACTOR_RULES = [
    FactorRule("exp(a) / (exp(a) + exp(b)) -> sigmoid(a - b)", fn=ratios.sigmoid_ratio),
    FactorRule("exp(x) / sum(exp(x)) -> softmax(x)", fn=ratios.softmax_ratio),
    FactorRule("where(c, g, 0) * f'(x) -> where(c, g * f'(x'), 0), x' = where(c, x, safe)",
               fn=nan_safe_where),
]


def _stable_factors():
    rewrite = factor_rewrite(FACTOR_RULES)

    def apply(m: Match):
        return rewrite(m.node, m.memo)  # (node, names of the factor rules that fired) or None
    return apply


STABILIZE = Phase("stabilize", [
    rule("log(sigmoid(x)) -> -softplus(-x)", P.log(P.sigmoid(X)) >> -P.softplus(-X)),
    rule("log(1 + exp(x)) -> softplus(x)", P.log(1 + P.exp(X)) >> P.softplus(X)),
    # 1 - s cancels where s is near 1 (x > 0): the gradient of log(sigmoid(x)) was 0
    # at x = 50 (true 1.9e-22). sigmoid(-x) is exact in both tails; with the rule
    # above, log(1 - sigmoid(x)) becomes -softplus(x). In the sigmoid's slope
    # s * (1 - s), specialize puts 1 - s back (no second sigmoid): the next round
    # rebuilds the same nodes, so simplify still ends at a fixpoint.
    rule("1 - sigmoid(x) -> sigmoid(-x)", 1 - P.sigmoid(X) >> P.sigmoid(-X)),
    rule("log1p(exp(x)) -> softplus(x)", P.log1p(P.exp(X)) >> P.softplus(X)),
    rule("log(exp(a) + exp(b)) -> logaddexp(a, b)",
         P.log(P.exp(X) + P.exp(Y)) >> P.logaddexp(X, Y)),
    rule("log(sum(exp(x))) -> logsumexp(x)",
         P.log(P.sum(P.exp(X), axis=A, keepdims=B)) >> P.logsumexp(X, axis=A, keepdims=B)),
    rule("log(softmax(x)) -> log_softmax(x)",
         P.log(P.softmax(X, axis=A)) >> P.log_softmax(X, axis=A)),
    rule("exp(x) - 1 -> expm1(x)", P.exp(X) - 1 >> P.expm1(X)),
    rule("log(1 + x) -> log1p(x)", P.log(1 + X) >> P.log1p(X)),
    rule_fn("where(c, f(x), y) -> where(c, f(where(c, x, safe)), y)", nan_safe_branches,
            ("where",)),
    rule("x * (y - z / x) -> x * y - z", X * (Y - Z / X) >> X * Y - Z),
    rule("x * (z / x - y) -> z - x * y", X * (Z / X - Y) >> Z - X * Y),
    rule("x * (y + z / x) -> x * y + z", X * (Y + Z / X) >> X * Y + Z),
    rule_fn("stable products (factor rules)", _stable_factors(),
            ("mul", "div", "neg")),
    rule_fn("p * (a + b) -> p*a + p*b to pair exp(x) with a sum of exponentials",
            ratios.distribute_to_pair, ("mul", "div", "neg")),
    rule_fn("sum(y / s) -> sum(y) / s for a sum of exponentials s constant along the axes",
            ratios.sum_of_constant_factor, ("sum",)),
])
