"""The specialize phase: cheaper forms for the generated code.

``square``, ``x @ y`` for a sum of products (one BLAS call instead of a product array
and a reduction), ``outer``, one transpose instead of two, the sigmoid's slope from
the sigmoid alone, ``add_at`` instead of adding a zeroed array.

A new rule goes in ``SPECIALIZE`` at the bottom; the order of the table is the order
in which the rules are tried on a node.
"""
from __future__ import annotations

from ..errors import SymdiffError
from ..ir import Node, make, same_shape
from ..ops import FUNCTIONS, OPS
from ..ops.reductions import reduced_count
from .engine import Match, Phase, rule, rule_fn
from . import matrices
from .guards import BROADCASTS, matrix
from .pattern import A, B, G, P, X

F = FUNCTIONS


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
    if g.op.name not in BROADCASTS or g.inputs[0].dtype != g.dtype:
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
    rule_fn("inv(A) @ b -> solve(A, b)", matrices.inverse_product, ("matmul",)),
    rule_fn("trace(A @ B) -> sum(A * B.T)", matrices.trace_of_product, ("trace",)),
    rule_fn("sum(x * y) -> x @ y", dot_of_vectors, ("sum",)),
    rule_fn("sum(x * y), sum(x**2) -> ravel(x) @ ravel(y)", dot_of_arrays, ("sum", "mean")),
    rule_fn("sum(A * v, axis=1) -> A @ v", matrix_vector, ("sum",)),
    rule_fn("sum(a + b) -> sum(a) + sum(b) for squares and products", sum_of_terms,
            ("sum", "mean")),
    rule_fn("expand_dims(g, 1) * b -> outer(g, b)", outer_product, ("mul",)),
    rule_fn("x + embed(g, index) -> add_at(x, g, index)", add_embedded, ("add",)),
    rule_fn("add_at(x, broadcast(g)) -> add_at(x, g)", add_at_unbroadcast, ("add_at",)),
])
