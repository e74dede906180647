"""The canonicalize phase: one form for equal expressions, so that the other phases
and hash-consing see them as one.

- constant folding (constants of at most ``SMALL`` elements);
- identities (``x + 0``, ``x * 1``, ``x * 0`` with the type kept, ``x - x``...);
- like terms and powers (read and rebuilt by ``sums.py`` and ``products.py``);
- structure: explicit broadcasts an elementwise op does itself, nested transposes,
  reshapes and reductions, references that only give a shape;
- canonical operand order of commutative ops.

A new rule goes in ``CANONICALIZE`` at the bottom; the order of the table is the order
in which the rules are tried on a node.
"""
from __future__ import annotations

import numpy as np

from ..errors import SymdiffError
from ..ir import Const, Node, make, same_shape
from ..ops import FUNCTIONS, OPS
from ..ops.reductions import reduced_count
from .engine import SMALL, Match, Phase, rule, rule_fn, same_shape_ref
from . import matrices
from .guards import BROADCASTS, algebra_shape, floating, same_type_as_node
from .pattern import COMMUTATIVE, C, G, P, X, Y, const_value
from .products import collect_powers, key
from .sums import collect_terms, term_key

F = FUNCTIONS


# -- constant folding ------------------------------------------------------------------------

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



# -- structure -------------------------------------------------------------------------------

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



def _unbroadcast_input(node: Node) -> Node | None:
    """The operand of an explicit broadcast an elementwise op can do implicitly."""
    name = node.op.name
    if name in BROADCASTS:
        return node.inputs[0]
    if name == "const" and node.ndim > 0 and node.value.size > 1:
        v = const_value(node)               # a folded broadcast: all elements equal
        return None if v is None else Const(v, node.dtype)
    if name == "expand_dims":
        axes = node.attr("axis")
        inner = node.inputs[0]
        if axes == tuple(range(len(axes))):     # leading axes only
            return inner
        if inner.op.name in BROADCASTS and inner.inputs[0].ndim == 0:
            return inner.inputs[0]              # a broadcast scalar, with axes added
    return None


def lift_broadcast(m: Match) -> Node | None:
    """f(broadcast(c), k) -> broadcast(f(c, k)) for 0-d c and k: compute one number,
    not an array of copies of it (the gradient of a mean is such a broadcast)."""
    node = m.node
    spread = [i for i in node.inputs if i.op.name in BROADCASTS]
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
    if inner.op.name not in BROADCASTS:
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


def transpose_through(m: Match) -> Node | None:
    """(a + b).T -> a.T + b.T and (a @ b).T -> b.T @ a.T for matrices, when an operand
    is itself transposed: the result has fewer transposes ((A + A.T).T -> A.T + A)."""
    node, inner = m.node, m.node.inputs[0]
    if (node.attr("axes") != (1, 0) or inner.op.name not in ("add", "sub", "matmul")
            or any(i.ndim != 2 for i in inner.inputs)
            or not any(i.op.name == "transpose" for i in inner.inputs)):
        return None
    a, b = (F["transpose"](i) for i in inner.inputs)
    if inner.op.name == "matmul":
        return F["matmul"](b, a)
    return F["add"](a, b) if inner.op.name == "add" else F["subtract"](a, b)


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


def _is_identity(node: Node) -> bool:
    if node.op.name == "eye_like":
        return True
    value = node.value if node.op.name == "const" else None
    return (value is not None and value.ndim == 2 and value.shape[0] == value.shape[1]
            and np.array_equal(value, np.eye(value.shape[0])))


def matmul_identity(m: Match) -> Node | None:
    """I @ x -> x and x @ I -> x (an identity built from a shape, as d/dA tr(A B) gives)."""
    a, b = m.node.inputs
    for eye, other in ((a, b), (b, a)):
        if _is_identity(eye) and same_shape(other.shape, m.node.shape) \
                and other.dtype == m.node.dtype:
            return other
    return None


def boolean_factor(m: Match) -> Node | None:
    """g * (a > b) -> where(a > b, g, 0): a comparison used as a number is a step."""
    node = m.node
    for b, g in (node.inputs, node.inputs[::-1]):
        if b.dtype == np.bool_ and g.dtype == node.dtype and node.dtype.kind == "f" \
                and same_shape(g.shape, node.shape):
            return F["where"](b, g, Const(0.0, node.dtype))
    return None


def merge_steps(m: Match) -> Node | None:
    """where(c, a, b) ± where(c, d, e) -> where(c, a ± d, b ± e), and where(c, a, b) ± k
    -> where(c, a ± k, b ± k) for constants a, b, k: one step, not a sum of steps."""
    node = m.node
    left, right = node.inputs
    combine = F["add"] if node.op.name == "add" else F["subtract"]
    if left.op.name == "where" and right.op.name == "where" \
            and left.inputs[0] is right.inputs[0]:
        c = left.inputs[0]
        out = F["where"](c, combine(left.inputs[1], right.inputs[1]),
                         combine(left.inputs[2], right.inputs[2]))
    elif left.op.name == "where" and right.op.name == "const" and right.ndim == 0 \
            and all(i.op.name == "const" for i in left.inputs[1:]):
        c, a, b = left.inputs
        out = F["where"](c, combine(a, right), combine(b, right))
    else:
        return None
    return out if out.dtype == node.dtype and same_shape(out.shape, node.shape) else None


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
    rule_fn("broadcast(x) -> x when x has the shape", useless_broadcast, BROADCASTS),
    rule_fn("broadcast(c * ones) -> broadcast(c)", scalar_constant_broadcast, BROADCASTS),
    rule_fn("broadcast(broadcast(x)) -> broadcast(x)", nested_broadcast, BROADCASTS),
    rule_fn("zeros_like(f(v)) -> zeros_like(v)", cheaper_reference,
            ("zeros_like", "broadcast_like", "reshape_like", "shape_size")),
    rule_fn("transpose(transpose(x)) -> x", transpose_transpose, ("transpose",)),
    rule_fn("I @ x -> x, x @ I -> x", matmul_identity, ("matmul",)),
    rule_fn("g * (a > b) -> where(a > b, g, 0)", boolean_factor, ("mul",)),
    rule_fn("where(c, a, b) + where(c, d, e) -> where(c, a + d, b + e)", merge_steps,
            ("add", "sub")),
    rule_fn("(a + b).T -> a.T + b.T, (a @ b).T -> b.T @ a.T", transpose_through,
            ("transpose",)),
    rule_fn("s.T -> s for symmetric s", matrices.symmetric_transpose, ("transpose",)),
    rule_fn("(k I) @ b -> k * b", matrices.identity_product, ("matmul",)),
    rule_fn("inv(Y) @ Y -> I", matrices.inverse_cancels, ("matmul",)),
    rule_fn("inv(inv(Y)) -> Y", matrices.inverse_inverse, ("inv",)),
    rule_fn("solve(A, k*B) -> k*solve(A, B)", matrices.solve_scaled, ("solve",)),
    rule_fn("(k*a) @ b -> k*(a @ b) when smaller", matrices.smaller_scaled_product,
            ("matmul",)),
    rule_fn("s + s -> 2*s for a matrix or a sum", matrices.doubled_sum, ("add",)),
    rule_fn("log(abs(det(X))) -> logdet(X)", matrices.log_abs_det, ("log",)),
    rule_fn("a @ c + b @ c -> (a + b) @ c", matrices.factor_product, ("add", "sub")),
    rule_fn("logdet(cholesky factor) -> sum(log(diagonal))", matrices.logdet_of_cholesky,
            ("logdet",)),
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
