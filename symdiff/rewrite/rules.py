"""The rule sets, one list per phase: canonicalize, stabilize, specialize.

Each rule's name is the math it states. Rules keep the type of what they
replace (the engine checks dtype and restores shapes), and preserve values
wherever both sides are finite; the stabilize rules exist to make the right-hand
side finite where the left-hand side overflows or divides by zero.

- canonicalize: constant folding (constants of at most ``SMALL`` elements),
  identities, like terms and powers (``sums.py``, ``products.py``), canonical operand order,
  structure (transposes, broadcasts, reductions of broadcasts).
- stabilize: ``log(sigmoid)``, ``1 - sigmoid``, ``log(1 + exp)``, ``log1p(exp)``,
  ``log(exp(a) + exp(b))``, ``log(sum(exp))``, ``log(softmax)``, ``expm1``,
  ``log1p``; the gradients of these come out stable because the product normal
  form cancels ``s**-1 * s`` and the factor rules turn ratios of exponentials
  (``exp(x) / (1 + exp(x))``, ``exp(x) / sum(exp(x))``, and their powers) into
  sigmoids and softmaxes (``ratios.py``); the NaN-safe ``where`` below.
- specialize: cheaper forms for the generated code (``square``, ``x @ y`` for a
  sum of products, ``outer``, one transpose instead of two, the sigmoid's slope
  from the sigmoid alone).

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
"""
from __future__ import annotations

import numpy as np

from ..errors import SymdiffError
from ..ir import Const, Node, broadcast_shapes, make, same_shape, toposort
from ..ops import FUNCTIONS, OPS
from ..ops.reductions import reduced_count
from . import ratios
from .engine import SMALL, Guard, Match, Phase, rule, rule_fn, same_shape_ref
from .factors import FactorRule, factor_rewrite
from .memo import Memo
from .pattern import COMMUTATIVE, A, B, C, G, P, X, Y, Z, const_value
from .products import ProductForm, collect_powers, key, power_of
from .sums import collect_terms, term_key

F = FUNCTIONS


# -- guards ----------------------------------------------------------------------------------

def _guard(name):
    def deco(fn):
        return Guard(name, fn)
    return deco


@_guard("x is floating point")
def floating(m: Match) -> bool:
    return m.node.dtype.kind == "f"


def same_type_as_node(hole: str) -> Guard:
    return Guard(f"{hole} has the node's shape and dtype",
                 lambda m: m[hole].dtype == m.node.dtype and same_shape(m[hole].shape,
                                                                        m.node.shape))


def vector(hole: str) -> Guard:
    return Guard(f"{hole} is a vector", lambda m: m[hole].ndim == 1)


def matrix(hole: str) -> Guard:
    return Guard(f"{hole} is a matrix", lambda m: m[hole].ndim == 2)


# -- canonicalize: constant folding -----------------------------------------------------------

def fold_constants(m: Match) -> Node | None:
    """f(c1, c2, ...) -> c: evaluate an op on constants with its NumPy implementation."""
    node = m.node
    if not node.inputs or any(i.op.name != "const" for i in node.inputs):
        return None
    if node.size is None or node.size > SMALL:
        return None
    with np.errstate(all="ignore"):
        try:
            value = np.asarray(node.op.impl(*(i.value for i in node.inputs), **dict(node.attrs)))
        except Exception:
            return None
    if value.shape != node.shape or (value.dtype.kind == "f" and not np.all(np.isfinite(value))):
        return None
    return Const(value.astype(node.dtype))


# -- canonicalize: structure ------------------------------------------------------------------

def sort_operands(m: Match) -> Node | None:
    """a + b -> b + a when b comes first in the canonical order (constants, then age).
    Chains (an operand of the same op) are left to the sum and product normal forms."""
    node = m.node
    a, b = node.inputs
    if a.op is node.op or b.op is node.op:
        return None
    order = term_key if node.op.name == "add" else key
    if order(b) < order(a):
        return make(node.op, (b, a), node.attrs)
    return None


_BROADCASTS = tuple(name for name, op in OPS.items() if op.broadcasts)


def _unbroadcast_input(node: Node) -> Node | None:
    """The operand of an explicit broadcast an elementwise op can do implicitly."""
    name = node.op.name
    if name in _BROADCASTS:
        return node.inputs[0]
    if name == "expand_dims":
        axes = node.attr("axis")
        inner = node.inputs[0]
        if axes == tuple(range(len(axes))):     # leading axes only
            return inner
        if inner.op.name in _BROADCASTS and inner.inputs[0].ndim == 0:
            return inner.inputs[0]              # a broadcast scalar, with axes added
    return None


def lift_broadcast(m: Match) -> Node | None:
    """f(broadcast(c), k) -> broadcast(f(c, k)) for 0-d c and k: compute one number,
    not an array of copies of it (the gradient of a mean is such a broadcast)."""
    node = m.node
    spread = [i for i in node.inputs if i.op.name in _BROADCASTS]
    if len(spread) != 1 or any(i.ndim for i in node.inputs if i is not spread[0]):
        return None
    inner = spread[0]
    if inner.inputs[0].ndim != 0:
        return None
    scalar = make(node.op, [inner.inputs[0] if i is inner else i for i in node.inputs],
                  node.attrs)
    if scalar.dtype != node.dtype:
        return None
    return make(inner.op, (scalar,) + inner.inputs[1:], inner.attrs)


def drop_broadcasts(m: Match) -> Node | None:
    """f(broadcast(a), b) -> f(a, b): elementwise ops broadcast their operands themselves."""
    node = m.node
    inputs = list(node.inputs)
    changed = False
    for k, i in enumerate(inputs):
        inner = _unbroadcast_input(i)
        if inner is None:
            continue
        trial = inputs[:k] + [inner] + inputs[k + 1:]
        try:
            shape = algebra_shape(trial)
        except SymdiffError:
            continue
        if same_shape(shape, node.shape):
            inputs, changed = trial, True
    return make(node.op, inputs, node.attrs) if changed else None


def algebra_shape(inputs) -> tuple:
    return broadcast_shapes(*(i.shape for i in inputs))


def scalar_constant_broadcast(m: Match) -> Node | None:
    """broadcast(c * ones(k)) -> broadcast(c): a uniform constant broadcasts as a scalar."""
    x = m.node.inputs[0]
    v = const_value(x)
    if x.op.name != "const" or x.ndim == 0 or v is None:
        return None
    return make(m.node.op, (Const(v, x.dtype),) + m.node.inputs[1:], m.node.attrs)


def nested_broadcast(m: Match) -> Node | None:
    """broadcast(broadcast(x)) -> broadcast(x)."""
    node, inner = m.node, m.node.inputs[0]
    if inner.op.name not in _BROADCASTS:
        return None
    return make(node.op, (inner.inputs[0],) + node.inputs[1:], node.attrs)


def useless_broadcast(m: Match) -> Node | None:
    """broadcast(x) -> x when x has the target shape already."""
    x = m.node.inputs[0]
    return x if same_shape(x.shape, m.node.shape) else None


def cheaper_reference(m: Match) -> Node | None:
    """zeros_like(f(v)) -> zeros_like(v): depend on as little as possible (the reference
    only gives a shape; a static shape needs no reference at all)."""
    node = m.node
    ref_index = 0 if node.op.name in ("zeros_like", "shape_size") else 1
    ref = node.inputs[ref_index]
    if ref.op.name in ("var", "const"):
        return None
    if node.op.name == "zeros_like" and None not in node.shape:
        return Const(0.0, node.dtype)       # the engine broadcasts it to the shape
    if node.op.name == "shape_size" and None not in ref.shape:
        return None                         # constant folding has it
    better = same_shape_ref(ref)
    if better is None:
        return None
    if better.op.name != "var":
        # A node below ``ref`` is computed whenever ``ref`` is, so pointing at it never
        # adds work, and ``ref`` may then not be needed at all. Of the operands of the
        # same shape, the one with the smallest graph (likely needed elsewhere anyway).
        operands = [i for i in ref.inputs if ref.op.elementwise and i.op.name != "const"
                    and same_shape(i.shape, ref.shape)]
        if not operands:
            return None
        better = min(operands, key=_graph_size)
    inputs = list(node.inputs)
    inputs[ref_index] = better
    return make(node.op, inputs, node.attrs)


def _graph_size(node: Node, limit: int = 200) -> int:
    """The number of nodes ``node`` depends on (counted up to ``limit``)."""
    seen, stack = set(), [node]
    while stack and len(seen) < limit:
        n = stack.pop()
        if n.id not in seen:
            seen.add(n.id)
            stack.extend(n.inputs)
    return len(seen)


def transpose_transpose(m: Match) -> Node | None:
    """transpose(transpose(x, p), q) -> transpose(x, p∘q), and x when that is the identity."""
    node, inner = m.node, m.node.inputs[0]
    if inner.op.name != "transpose":
        return None
    p, q = inner.attr("axes"), node.attr("axes")
    return F["transpose"](inner.inputs[0], tuple(p[a] for a in q))


def sum_of_broadcast_scalar(m: Match) -> Node | None:
    """sum(broadcast(c)) -> c * n, n the number of elements summed."""
    node = m.node
    v = const_value(node.inputs[0])
    if v is None:
        return None
    n = reduced_count(node)
    if isinstance(n, float):
        return Const(v * n, node.dtype)
    inner = node.inputs[0]
    if inner.op.name != "broadcast_like" or node.ndim != 0 or node.dtype.kind != "f":
        return None
    # a length known only at run time: c * (number of elements of the reference)
    ref = inner.inputs[1]
    size = make(OPS["shape_size"], [ref], {"axis": tuple(range(ref.ndim))})
    return F["multiply"](Const(v, node.dtype), size) if v != 1 else size


def sum_of_scalar(m: Match) -> Node | None:
    """sum(x, axis=()) -> x: a reduction over no axes."""
    node = m.node
    axis = node.attr("axis")
    x = node.inputs[0]
    if (axis == () or x.ndim == 0) and same_shape(x.shape, node.shape) \
            and x.dtype == node.dtype:
        return x
    return None


def sum_of_sum(m: Match) -> Node | None:
    """sum(sum(x, a), b) -> sum(x, a ∪ b) (without keepdims inside)."""
    node, inner = m.node, m.node.inputs[0]
    if inner.op.name != "sum" or inner.attr("keepdims"):
        return None
    x = inner.inputs[0]
    a = inner.attr("axis")
    a = tuple(range(x.ndim)) if a is None else a
    kept = [i for i in range(x.ndim) if i not in a]
    b = node.attr("axis")
    b = tuple(range(inner.ndim)) if b is None else b
    axes = tuple(sorted(set(a) | {kept[i] for i in b}))
    if node.attr("keepdims"):
        return None
    return F["sum"](x, axes, False)


def sum_of_scaled(m: Match) -> Node | None:
    """sum(k * x) -> k * sum(x), sum(-x) -> -sum(x): the sum is linear."""
    node, inner = m.node, m.node.inputs[0]
    axis, keep = node.attr("axis"), node.attr("keepdims")
    if inner.op.name == "neg":
        return F["negative"](F["sum"](inner.inputs[0], axis, keep))
    if inner.op.name != "mul":
        return None
    a, b = inner.inputs
    k = const_value(a)
    if k is None or a.ndim > 0 or not same_shape(b.shape, inner.shape):
        return None
    return F["multiply"](Const(k, node.dtype), F["sum"](b, axis, keep))


def squeeze_expand(m: Match) -> Node | None:
    """squeeze(expand_dims(x, a), a) -> x and expand_dims(squeeze(x, a), a) -> x."""
    node, inner = m.node, m.node.inputs[0]
    pair = {"squeeze": "expand_dims", "expand_dims": "squeeze"}[node.op.name]
    if inner.op.name == pair and inner.attr("axis") == node.attr("axis"):
        x = inner.inputs[0]
        return x if same_shape(x.shape, node.shape) else None
    return None


def reshape_reshape(m: Match) -> Node | None:
    """reshape(reshape(x, s1), s2) -> reshape(x, s2)."""
    node, inner = m.node, m.node.inputs[0]
    if inner.op.name != "reshape":
        return None
    return F["reshape"](inner.inputs[0], node.attr("shape"))


def like_terms(m: Match) -> Node | None:
    return collect_terms(m.node, m.memo)


def like_powers(m: Match) -> Node | None:
    return collect_powers(m.node, m.memo)


def zero(m: Match) -> Node:
    return Const(0.0, m.node.dtype)


def one(m: Match) -> Node:
    return Const(1.0, m.node.dtype)


CANONICALIZE = Phase("canonicalize", [
    rule_fn("f(c1, c2, ...) -> c (constant folding)", fold_constants),
    rule("x + 0 -> x", X + 0 >> X),
    rule("x - 0 -> x", X - 0 >> X),
    rule("0 - x -> -x", 0 - X >> -X),
    rule("x * 1 -> x", X * 1 >> X),
    rule("x * 0 -> 0", X * 0 >> zero, floating),
    rule("x / 1 -> x", X / 1 >> X),
    rule("0 / x -> 0", 0 / X >> zero, floating),
    rule("x ** 1 -> x", X ** 1 >> X),
    rule("x ** 0 -> 1", X ** 0 >> one, floating),
    rule("x - x -> 0", X - X >> zero, floating),
    rule("x / x -> 1", X / X >> one, floating),
    rule("-(-x) -> x", -(-X) >> X),
    rule("x + (-y) -> x - y", X + (-Y) >> X - Y),
    rule("x - (-y) -> x + y", X - (-Y) >> X + Y),
    rule("-(x - y) -> y - x", -(X - Y) >> Y - X),
    rule("x * x**(y - 1) -> x**y", X * X ** (Y - 1) >> X ** Y),
    rule("1 + expm1(x) -> exp(x)", 1 + P.expm1(X) >> P.exp(X)),
    rule("exp(log(x)) -> x", P.exp(P.log(X)) >> X),
    rule("log(exp(x)) -> x", P.log(P.exp(X)) >> X),
    rule("g * where(c, 1, 0) -> where(c, g, 0)", G * P.where(C, 1, 0) >> P.where(C, G, 0),
         same_type_as_node("G")),
    rule("g * where(c, 0, 1) -> where(c, 0, g)", G * P.where(C, 0, 1) >> P.where(C, 0, G),
         same_type_as_node("G")),
    rule_fn("f(broadcast(a), b) -> f(a, b)", drop_broadcasts,
            [n for n, op in OPS.items() if op.elementwise]),
    rule_fn("f(broadcast(c), k) -> broadcast(f(c, k))", lift_broadcast,
            [n for n, op in OPS.items() if op.elementwise]),
    rule_fn("broadcast(x) -> x when x has the shape", useless_broadcast, _BROADCASTS),
    rule_fn("broadcast(c * ones) -> broadcast(c)", scalar_constant_broadcast, _BROADCASTS),
    rule_fn("broadcast(broadcast(x)) -> broadcast(x)", nested_broadcast, _BROADCASTS),
    rule_fn("zeros_like(f(v)) -> zeros_like(v)", cheaper_reference,
            ("zeros_like", "broadcast_like", "reshape_like", "shape_size")),
    rule_fn("transpose(transpose(x)) -> x", transpose_transpose, ("transpose",)),
    rule_fn("sum(broadcast(c)) -> c * n", sum_of_broadcast_scalar, ("sum",)),
    rule_fn("sum(x, axis=()) -> x", sum_of_scalar, ("sum",)),
    rule_fn("sum(sum(x, a), b) -> sum(x, a + b)", sum_of_sum, ("sum",)),
    rule_fn("sum(k * x) -> k * sum(x)", sum_of_scaled, ("sum",)),
    rule_fn("squeeze(expand_dims(x)) -> x", squeeze_expand, ("squeeze", "expand_dims")),
    rule_fn("reshape(reshape(x)) -> reshape(x)", reshape_reshape, ("reshape",)),
    rule_fn("2*x + 3*x -> 5*x (collect like terms)", like_terms, ("add", "sub", "neg")),
    rule_fn("x * x**2 / x -> x**2 (collect powers)", like_powers, ("mul", "div", "neg", "pow")),
    rule_fn("a + b -> b + a (canonical operand order)", sort_operands, sorted(COMMUTATIVE)),
])


# -- stabilize -------------------------------------------------------------------------------

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


# -- specialize ------------------------------------------------------------------------------

def dot_of_vectors(m: Match) -> Node | None:
    """sum(x * y) -> x @ y for two vectors of one length."""
    node, inner = m.node, m.node.inputs[0]
    if inner.op.name != "mul" or node.attr("keepdims"):
        return None
    a, b = inner.inputs
    if a.ndim == 1 and b.ndim == 1 and same_shape(a.shape, b.shape) \
            and node.attr("axis") in (None, (0,)):
        return F["matmul"](a, b)
    return None


def dot_of_arrays(m: Match) -> Node | None:
    """sum(x * y) -> ravel(x) @ ravel(y) over all axes of two arrays of one shape, and
    sum(square(x)) -> ravel(x) @ ravel(x) (one BLAS dot instead of a product array and
    a reduction); mean likewise, divided by the count."""
    node, inner = m.node, m.node.inputs[0]
    if node.attr("keepdims") or node.attr("axis") is not None and inner.ndim != 1:
        return None
    if inner.op.name == "square":
        a = b = inner.inputs[0]
    elif inner.op.name == "mul" and inner.ndim >= 2:
        a, b = inner.inputs
    else:
        return None
    if a.ndim == 0 or a.dtype != b.dtype or a.dtype.kind != "f" \
            or not (same_shape(a.shape, inner.shape) and same_shape(b.shape, inner.shape)):
        return None
    if a.ndim > 1:
        a, b = F["reshape"](a, (-1,)), (F["reshape"](b, (-1,)) if b is not a else None)
        b = a if b is None else b
    if node.op.name == "mean":   # mean(x * y) -> (ravel(x) @ ravel(y)) / count
        return F["divide"](F["matmul"](a, b), reduced_count(node))
    return F["matmul"](a, b)


def _dot_form(x: Node) -> bool:
    """x is a square or a product of two arrays of its shape, maybe times a scalar:
    a full sum of it is one BLAS dot (see ``dot_of_arrays``)."""
    if x.op.name == "mul" and any(i.ndim == 0 for i in x.inputs):
        x = next(i for i in x.inputs if i.ndim)
    if x.op.name == "square":
        return True
    return x.op.name == "mul" and all(same_shape(i.shape, x.shape) for i in x.inputs)


def sum_of_terms(m: Match) -> Node | None:
    """sum(a + b) -> sum(a) + sum(b) over all axes, when a term is a square or a product:
    each such sum is then a dot, and the sum of the terms is never made."""
    node, inner = m.node, m.node.inputs[0]
    if inner.op.name not in ("add", "sub") or node.attr("keepdims") or node.dtype.kind != "f":
        return None
    if node.attr("axis") is not None and inner.ndim != 1:
        return None
    a, b = inner.inputs
    if not (same_shape(a.shape, inner.shape) and same_shape(b.shape, inner.shape)):
        return None
    if not (_dot_form(a) or _dot_form(b) or _partial_dot(a) or _partial_dot(b)):
        return None
    combine = F["add"] if inner.op.name == "add" else F["subtract"]
    return combine(_total(node, a), _total(node, b))


def _partial_dot(x: Node) -> bool:
    """x sums a square or a product over some axes: sum(Y * z, axis=1)."""
    return x.op.name == "sum" and not x.attr("keepdims") and _dot_form(x.inputs[0])


def _total(node: Node, term: Node) -> Node:
    """sum(term) or mean(term) for the reduction ``node``; a partial sum of a product is
    summed whole at once: mean(sum(P, axis=1)) -> sum(P) / count."""
    if not _partial_dot(term):
        return F[node.op.name](term)
    total = F["sum"](term.inputs[0])
    if node.op.name == "sum":
        return total
    return F["divide"](total, reduced_count(node))


def matrix_vector(m: Match) -> Node | None:
    """sum(A * v, axis=1) -> A @ v for a matrix A and a vector v."""
    node, inner = m.node, m.node.inputs[0]
    if inner.op.name != "mul" or node.attr("keepdims") or node.attr("axis") != (1,):
        return None
    for a, v in (inner.inputs, inner.inputs[::-1]):
        if a.ndim == 2 and v.ndim == 1 and same_shape(a.shape, inner.shape):
            return F["matmul"](a, v)
    return None


def outer_product(m: Match) -> Node | None:
    """expand_dims(g, 1) * b -> outer(g, b) for vectors g and b."""
    node = m.node
    for e, b in (node.inputs, node.inputs[::-1]):
        if e.op.name == "expand_dims" and e.attr("axis") == (1,) and e.inputs[0].ndim == 1 \
                and b.ndim == 1:
            return F["outer"](e.inputs[0], b)
    return None


def add_embedded(m: Match) -> Node | None:
    """x + embed(g, index) -> add_at(x, g, index): add g where it goes, without a
    zeroed array to add (the adjoints of x[1:] and x[:-1] add up this way)."""
    node = m.node
    for x, e in (node.inputs, node.inputs[::-1]):
        if (e.op.name == "embed" and x.dtype == node.dtype and e.dtype == node.dtype
                and same_shape(x.shape, node.shape) and same_shape(e.shape, node.shape)):
            return make(OPS["add_at"], [x, e.inputs[0]], e.attrs)
    return None


def add_at_unbroadcast(m: Match) -> Node | None:
    """add_at(x, broadcast(g), index) -> add_at(x, g, index): the in-place add
    broadcasts g itself (a broadcast_to call costs more than the add)."""
    node = m.node
    x, g = node.inputs
    if g.op.name not in _BROADCASTS or g.inputs[0].dtype != g.dtype:
        return None
    try:
        return make(node.op, [x, g.inputs[0]], node.attrs)
    except SymdiffError:
        return None


SPECIALIZE = Phase("specialize", [
    rule("x ** 2 -> square(x)", X ** 2 >> P.square(X)),
    rule("x * x -> square(x)", X * X >> P.square(X)),
    rule("x ** 0.5 -> sqrt(x)", X ** 0.5 >> P.sqrt(X)),
    rule("g * (1 / x) -> g / x", G * (1 / X) >> G / X),
    rule("sigmoid(x) * sigmoid(-x) -> s * (1 - s)",
         P.sigmoid(X) * P.sigmoid(-X) >> P.sigmoid(X) * (1 - P.sigmoid(X))),
    rule("a.T @ b.T -> (b @ a).T", P.transpose(A) @ P.transpose(B) >> P.transpose(B @ A),
         matrix("A"), matrix("B")),
    rule_fn("sum(x * y) -> x @ y", dot_of_vectors, ("sum",)),
    rule_fn("sum(x * y), sum(x**2) -> ravel(x) @ ravel(y)", dot_of_arrays, ("sum", "mean")),
    rule_fn("sum(A * v, axis=1) -> A @ v", matrix_vector, ("sum",)),
    rule_fn("sum(a + b) -> sum(a) + sum(b) for squares and products", sum_of_terms,
            ("sum", "mean")),
    rule_fn("expand_dims(g, 1) * b -> outer(g, b)", outer_product, ("mul",)),
    rule_fn("x + embed(g, index) -> add_at(x, g, index)", add_embedded, ("add",)),
    rule_fn("add_at(x, broadcast(g)) -> add_at(x, g)", add_at_unbroadcast, ("add_at",)),
])

PHASES = [CANONICALIZE, STABILIZE, SPECIALIZE]
