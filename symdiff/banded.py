"""Banded Jacobians: d y / d x kept as a few diagonals when y is made of shifted slices of x.

For vectors ``x`` and ``y``, where ``y`` is built from elementwise ops on slices
``x[a:b]`` (and the scatters that the gradients of slices produce), d y / d x is
zero except on a few diagonals: entries ``[j, j + k]`` for a few offsets ``k``. The
Hessian of a sum of such terms (a chain, a stencil, Rosenbrock's function) is
therefore banded. Batching a JVP over the rows of the identity (``symdiff.higher``)
turns every elementwise op of such a graph into an n x n op; here each op stays a
few length-n vectors, one per diagonal, scattered once into the n x n result.

Conventions
- ``banded_jacobian(lin, tangent, x)`` reads the JVP graph ``lin = jvp(y, x, tangent)``,
  which is linear in ``tangent``, and propagates for each node that depends on the
  tangent its Jacobian as ``{k: d}``: ``d[j]`` is d node[j] / d tangent[j + k]. A
  diagonal ``d`` is 0-d (the same value all along) or has the node's shape. Entries
  whose column ``j + k`` falls outside ``[0, n)`` are never read and may hold anything.
- Supported, on the tangent's path: ``neg``, ``add``, ``sub``, ``mul`` and ``div`` by
  values that do not depend on the tangent, ``where``, ``astype``, same-shape
  broadcasts, slices ``u[a:b]`` with step 1 (offsets shift by ``a``) and ``embed``
  (offsets shift by ``-a``). Anything else (a reduction, a tangent-dependent operand
  that broadcasts, a negative start on a vector of unknown length, more than
  ``MAX_BANDS`` diagonals) gives ``None``, and the caller takes the dense path.
- The result is one ``band_matrix`` node: zeros with each diagonal written in place.
  Its adjoint per diagonal is ``band_diagonal`` (the diagonal of offset ``k`` of a
  matrix, padded with zeros to the number of rows); both ops are records of the op
  table (``symdiff/ops/banded.py``), so the generic checkers cover them.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .ir import Const, Node, Var, make, same_shape, toposort
from .ops.banded import band_matrix
from .ops.elementwise import add, astype, divide, multiply, negative, subtract, where
from .ops.shape import broadcast_like

__all__ = ["banded_jacobian", "MAX_BANDS"]

# Beyond this many diagonals the dense Jacobian is taken: with b diagonals each op
# costs b vectors, so banded only pays while b is small next to n.
MAX_BANDS = 16


# ================================================================================
# Propagating diagonals through a JVP graph
# ================================================================================

class _Unsupported(Exception):
    """The graph leaves the banded form: the caller takes the dense path."""


@dataclass
class _Banded:
    ref: Node                   # a node of the same shape that does not depend on the tangent
    bands: dict[int, Node]      # offset k -> diagonal (0-d or of the node's shape)


def banded_jacobian(lin: Node, tangent: Var, x: Node) -> Node | None:
    """d lin / d tangent as a ``band_matrix`` of shape ``lin.shape + x.shape``, or None.

    ``lin`` is ``jvp(y, x, tangent)`` for vectors ``y`` and ``x``: linear in
    ``tangent``. None when some node on the tangent's path is not supported, when
    there are more than ``MAX_BANDS`` diagonals, or when ``lin`` does not depend on
    the tangent at all.
    """
    if lin.ndim != 1 or x.ndim != 1 or not same_shape(tangent.shape, x.shape):
        return None
    try:
        found = _propagate(lin, tangent, x)
    except _Unsupported:
        return None
    if found is None:
        return None
    m, n = lin.shape[0], x.shape[0]
    # Diagonals entirely outside the matrix are dropped when the lengths are known.
    bands = {k: d for k, d in found.bands.items()
             if not (n is not None and k >= n) and not (m is not None and k <= -m)}
    jac = band_matrix(found.ref, x, bands)
    return jac if jac.dtype == lin.dtype else astype(jac, lin.dtype)


def _propagate(lin: Node, tangent: Var, x: Node) -> _Banded | None:
    info: dict[int, _Banded] = {tangent.id: _Banded(x, {0: Const(1.0, tangent.dtype)})}
    for node in toposort([lin]):
        if node.id in info:
            continue
        args = [info.get(i.id) for i in node.inputs]
        if all(a is None for a in args):
            continue
        rule = _RULES.get(node.op.name)
        if rule is None:
            raise _Unsupported(node.op.name)
        result = rule(node, args)
        if len(result.bands) > MAX_BANDS:
            raise _Unsupported("too many diagonals")
        info[node.id] = result
    return info.get(lin.id)


# -- helpers -------------------------------------------------------------------------

def _const_scalar(node: Node) -> float | None:
    if node.op.name == "const" and node.shape == ():
        return float(node.value)
    return None


def _is_zero(node: Node) -> bool:
    return node.op.name == "const" and not np.any(node.value)


def _fit(d: Node, node: Node, ref: Node) -> Node:
    """A diagonal as 0-d or of the node's shape (a broadcast operand may leave it (1,))."""
    if d.ndim == 0 or same_shape(d.shape, node.shape):
        return d
    return broadcast_like(d, ref)


def _scale(d: Node, p: Node, node: Node, ref: Node, divide_by: bool = False) -> Node:
    """``d * p`` (or ``d / p``), without multiplying by a literal 1 or -1."""
    if divide_by:
        return _fit(divide(d, p), node, ref)
    c = _const_scalar(d)
    if c in (1.0, -1.0) and p.dtype == node.dtype:
        return _fit(p if c == 1.0 else negative(p), node, ref)
    return _fit(multiply(d, p), node, ref)


def _negate(d: Node) -> Node:
    c = _const_scalar(d)
    return Const(-c, d.dtype) if c is not None else negative(d)


def _check_operands(node: Node, args: list) -> _Banded:
    """The tangent-dependent operands must have the node's shape (none broadcasts)."""
    first = None
    for inp, a in zip(node.inputs, args):
        if a is None:
            continue
        if not same_shape(inp.shape, node.shape):
            raise _Unsupported(f"{node.op.name}: a broadcast operand")
        first = first or a
    return first


def _slice_start(index: tuple, length: int | None) -> int:
    """The start of a one-axis slice with step 1, as a non-negative int."""
    if len(index) != 1 or not isinstance(index[0], tuple):
        raise _Unsupported("not a single slice")
    _, start, _, step = index[0]
    if step not in (None, 1):
        raise _Unsupported("a slice with a step")
    start = 0 if start is None else start
    if start < 0:
        if length is None:
            raise _Unsupported("a negative start on a vector of unknown length")
        start = max(0, length + start)
    return start if length is None else min(start, length)


# -- rules, one per op: (node, per-input _Banded or None) -> _Banded -----------------

def _rule_neg(node, args):
    (a,) = args
    return _Banded(a.ref, {k: _negate(d) for k, d in a.bands.items()})


def _rule_add_sub(node, args):
    first = _check_operands(node, args)
    signs = (1, -1 if node.op.name == "sub" else 1)
    bands: dict[int, Node] = {}
    for inp, a, sign in zip(node.inputs, args, signs):
        if a is None:
            # The graph is linear in the tangent: a term without it can only be zero.
            if not _is_zero(inp):
                raise _Unsupported("an affine term")
            continue
        for k, d in a.bands.items():
            if k not in bands:
                bands[k] = d if sign > 0 else _negate(d)
            else:
                bands[k] = add(bands[k], d) if sign > 0 else subtract(bands[k], d)
    return _Banded(first.ref, bands)


def _rule_mul_div(node, args):
    a, b = args
    if a is not None and b is not None:
        raise _Unsupported("a product of two tangent-dependent values")
    if node.op.name == "div" and a is None:
        raise _Unsupported("division by a tangent-dependent value")
    dep, p = (a, node.inputs[1]) if a is not None else (b, node.inputs[0])
    _check_operands(node, args)
    return _Banded(dep.ref, {k: _scale(d, p, node, dep.ref, node.op.name == "div")
                             for k, d in dep.bands.items()})


def _rule_where(node, args):
    c, a, b = args
    if c is not None:
        raise _Unsupported("a tangent-dependent condition")
    first = _check_operands(node, args)
    for inp, arg in zip(node.inputs[1:], args[1:]):
        if arg is None and not _is_zero(inp):
            raise _Unsupported("an affine branch")
    zero = Const(0.0, node.dtype)
    keys = sorted(set(a.bands if a else ()) | set(b.bands if b else ()))
    cond = node.inputs[0]
    return _Banded(first.ref, {k: _fit(where(cond, a.bands.get(k, zero) if a else zero,
                                             b.bands.get(k, zero) if b else zero),
                                       node, first.ref) for k in keys})


def _rule_astype(node, args):
    (a,) = args
    return _Banded(a.ref, {k: astype(d, node.dtype) for k, d in a.bands.items()})


def _rule_broadcast(node, args):
    a = args[0]
    if a is None or not same_shape(node.inputs[0].shape, node.shape):
        raise _Unsupported("a broadcast")
    return a


def _rule_getitem(node, args):
    (a,) = args
    index = node.attr("index")
    start = _slice_start(index, node.inputs[0].shape[0])
    op = node.op
    # u = v[a:b]: row j of u is row j + a of v, same columns, so offsets grow by a.
    return _Banded(make(op, [a.ref], node.attrs),
                   {k + start: d if d.ndim == 0 else make(op, [d], node.attrs)
                    for k, d in a.bands.items()})


def _rule_embed(node, args):
    g, r = args
    if g is None:
        raise _Unsupported("embed: only the shape reference depends on the tangent")
    ref = node.inputs[1] if r is None else r.ref
    index = node.attr("index")
    start = _slice_start(index, node.shape[0])
    # out[a + j] = g[j]: the other rows are zero, and offsets shrink by a.
    g_node = node.inputs[0]
    return _Banded(ref, {k - start: make(node.op, [d if same_shape(d.shape, g_node.shape)
                                                   else broadcast_like(d, g.ref), ref],
                                         node.attrs)
                         for k, d in g.bands.items()})


_RULES = {
    "neg": _rule_neg, "add": _rule_add_sub, "sub": _rule_add_sub,
    "mul": _rule_mul_div, "div": _rule_mul_div, "where": _rule_where,
    "astype": _rule_astype, "broadcast_like": _rule_broadcast,
    "broadcast_to": _rule_broadcast, "getitem": _rule_getitem, "embed": _rule_embed,
}
