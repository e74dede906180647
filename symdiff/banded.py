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
  matrix, padded with zeros to the number of rows); both ops are in the op table, so
  the generic checkers cover them.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .ir import Const, Node, Var, broadcast_shapes, make, same_shape, toposort
from .ops.core import P_ATOM, Case, Op, call_text, float_dtype, register, shape_error
from .ops.table import (
    add, astype, broadcast_like, divide, expand_dims, multiply, negative, subtract, where,
)
from .runtime import _band_diagonal as _band_diagonal_helper
from .runtime import _band_matrix as _band_matrix_helper

__all__ = ["banded_jacobian", "band_matrix", "band_diagonal", "MAX_BANDS"]

# Beyond this many diagonals the dense Jacobian is taken: with b diagonals each op
# costs b vectors, so banded only pays while b is small next to n.
MAX_BANDS = 16


# ================================================================================
# The ops
# ================================================================================

def _band_matrix_impl(rows, cols, *bands, offsets, axes):
    dtype = float_dtype(*(np.asarray(d).dtype for d in bands)) if bands else np.float64
    return _band_matrix_helper(np.shape(rows)[axes[0]], np.shape(cols)[axes[1]], offsets,
                               dtype, *bands)


def _infer_band_matrix(inputs, attrs):
    rows, cols, *bands = inputs
    offsets, (ar, ac) = attrs["offsets"], attrs["axes"]
    if len(offsets) != len(bands):
        raise shape_error("band_matrix", f"{len(offsets)} offsets for {len(bands)} diagonals",
                          *inputs)
    if rows.ndim < -ar or cols.ndim < -ac:
        raise shape_error("band_matrix", f"the references have no axes {ar} and {ac}", *inputs)
    m, n = rows.shape[ar], cols.shape[ac]
    full = broadcast_shapes(*(d.shape for d in bands), (m,), op="band_matrix")
    dtype = float_dtype(*(d.dtype for d in bands)) if bands else np.dtype("float64")
    return dtype, full + (n,)


def _band_matrix_block(out, args, node):
    """Statements for the node: a helper call when some length is only known at run
    time, otherwise zeros and one strided write per diagonal with the bounds spelled out."""
    (ar, ac), offsets = node.attr("axes"), node.attr("offsets")
    rows, cols, bands = args[0], args[1], args[2:]
    dtype = f"np.{node.dtype.name}"
    if None in node.shape:
        return (f"{out} = _band_matrix({rows}.shape[{ar}], {cols}.shape[{ac}], {offsets!r}, "
                f"{dtype}, {', '.join(bands)})")
    lead, (m, n) = node.shape[:-2], node.shape[-2:]
    dtype_arg = "" if node.dtype == np.float64 else f", {dtype}"
    lines = [f"{out} = np.zeros({node.shape!r}{dtype_arg})"]
    # Entry [j, j + k] is element j * (n + 1) + k of the flattened matrix.
    flat = f"{out}.flat[" if not lead else f"{out}.reshape({lead + (m * n,)!r})[..., "
    for k, d, d_node in zip(offsets, bands, node.inputs[2:]):
        j0, j1 = max(0, -k), min(m, n - k)
        if j1 <= j0:
            continue
        start, stop = j0 * (n + 1) + k, (j1 - 1) * (n + 1) + k + 1
        value = d
        if d_node.ndim and d_node.shape[-1] != 1 and (j0, j1) != (0, m):
            value = f"{d}[{'..., ' if d_node.ndim > 1 else ''}{_span(j0, j1, m)}]"
        lines.append(f"{flat}{start or ''}:{stop}:{n + 1}] = {value}")
    return "\n".join(lines)


def _span(j0: int, j1: int, m: int) -> str:
    return f"{j0 or ''}:{j1 if j1 != m else ''}"


def _band_matrix_vjp(g, node):
    return (None, None) + tuple(band_diagonal(g, k) for k in node.attr("offsets"))


def _band_matrix_jvp(tangents, node):
    kept = [(k, t) for k, t in zip(node.attr("offsets"), tangents[2:]) if t is not None]
    if not kept:
        return None  # only the shape references have tangents: the value does not move
    out = make(_band_matrix, [*node.inputs[:2], *(t for _, t in kept)],
               {"offsets": tuple(k for k, _ in kept), "axes": node.attr("axes")})
    # Without the diagonals that carry the leading axes the result may have fewer.
    return out if same_shape(out.shape, node.shape) else broadcast_like(out, node)


def _band_matrix_batch(args, batched, node):
    # The lengths come from the references' trailing axes (negative ``axes``), so a
    # batch axis in front of them changes nothing. A batched diagonal gets its other
    # axes after the batch axis (as elementwise ops do); unbatched ones broadcast.
    full_ndim = node.ndim - 1
    bands = []
    for d, b, orig in zip(args[2:], batched[2:], node.inputs[2:]):
        extra = full_ndim - orig.ndim
        bands.append(expand_dims(d, tuple(range(1, 1 + extra))) if b and extra > 0 else d)
    return make(_band_matrix, [*args[:2], *bands], node.attrs)


def _band_matrix_text(node, child):
    rows, cols, *bands = node.inputs
    parts = [f"{k}: {child(d, 0)}" for k, d in zip(node.attr("offsets"), bands)]
    return (f"band_matrix({child(rows, 0)}, {child(cols, 0)}, {{{', '.join(parts)}}})",
            P_ATOM)


def _band_matrix_latex(node, child):
    parts = [rf"{k}: {child(d, 0)}" for k, d in zip(node.attr("offsets"), node.inputs[2:])]
    return rf"\operatorname{{band}}\left(\{{{', '.join(parts)}\}}\right)", P_ATOM


_band_matrix = register(Op(
    name="band_matrix", impl=_band_matrix_impl, infer=_infer_band_matrix,
    code=None,
    vjp=_band_matrix_vjp, jvp=_band_matrix_jvp, batch=_band_matrix_batch,
    text=_band_matrix_text, latex=_band_matrix_latex,
    # several statements: zeros, then the diagonals; static shapes are written out
    # inline, so only lengths known at run time need the helper
    block=_band_matrix_block,
    helpers=lambda node: (_band_matrix_helper,) if None in node.shape else (),
    domain=("const", "const"),
    cases=(Case(((4,), (5,), (4,), (), (4,)), {"offsets": (-1, 0, 2), "axes": (-1, -1)}),
           Case(((3,), (3,), (1,), (3,)), {"offsets": (0, -2), "axes": (-1, -1)}),
           Case(((3,), (2,), (2, 3), (3,)), {"offsets": (1, 0), "axes": (-1, -1)}),
           Case(((2, 3), (2, 3), (2, 2)), {"offsets": (-1,), "axes": (-2, -1)}))))


def _infer_band_diagonal(inputs, attrs):
    (g,) = inputs
    if g.ndim < 2:
        raise shape_error("band_diagonal", "needs a matrix (or a stack of them)", g)
    return float_dtype(g.dtype), g.shape[:-1]


def _band_diagonal_vjp(g, node):
    (a,) = node.inputs
    # ``a`` gives the lengths only: rows from its axis -2, columns from its axis -1.
    return (make(_band_matrix, [a, a, g], {"offsets": (node.attr("offset"),),
                                           "axes": (-2, -1)}),)


_band_diagonal = register(Op(
    name="band_diagonal", impl=_band_diagonal_helper,
    infer=_infer_band_diagonal,
    code=lambda args, node: f"_band_diagonal({args[0]}, {node.attr('offset')})",
    vjp=_band_diagonal_vjp,
    jvp=lambda t, node: make(_band_diagonal, [t[0]], node.attrs),
    batch=lambda args, batched, node: make(_band_diagonal, args, node.attrs),
    text=call_text("band_diagonal", "offset"),
    latex=lambda n, c: (rf"\operatorname{{diag}}_{{{n.attr('offset')}}}\left("
                        rf"{c(n.inputs[0], 0)}\right)", P_ATOM),
    helpers=(_band_diagonal_helper,),
    cases=(Case(((4, 5),), {"offset": 1}), Case(((4, 5),), {"offset": -2}),
           Case(((2, 3, 3),), {"offset": 0}))))


def band_matrix(rows: Node, cols: Node, bands: dict[int, Node]) -> Node:
    """The matrix with ``bands[k][j]`` at ``[j, j + k]`` and zeros elsewhere.

    Its shape is ``(len(rows), len(cols))``: ``rows`` and ``cols`` give the lengths
    only. A diagonal is 0-d or a vector of length ``len(rows)``; entries that fall
    outside the matrix are ignored.
    """
    offsets = tuple(sorted(bands))
    return make(_band_matrix, [rows, cols, *(bands[k] for k in offsets)],
                {"offsets": offsets, "axes": (-1, -1)})


def band_diagonal(g: Node, offset: int) -> Node:
    """Entries ``g[..., j, j + offset]``, zero where ``j + offset`` is outside ``g``."""
    return make(_band_diagonal, [g], {"offset": int(offset)})


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
