"""The band ops: ``band_matrix`` and ``band_diagonal``, what a banded Jacobian is made
of (``symdiff.banded`` finds one in a JVP graph).

- ``band_matrix(rows, cols, *bands, offsets, axes)`` is zeros of shape
  ``(rows.shape[axes[0]], cols.shape[axes[1]])`` (after the bands' leading axes)
  with ``bands[i][..., j]`` at ``[..., j, j + offsets[i]]``; ``rows`` and ``cols``
  give lengths only. Entries that fall outside the matrix are ignored.
- ``band_diagonal(g, offset)`` is the diagonal of offset ``k`` of a matrix, padded
  with zeros to the number of rows: the adjoint of one band.
Both run helpers of ``symdiff.runtime`` when a length is known only at run time.
"""
from __future__ import annotations

import numpy as np

from ..ir import Node, broadcast_shapes, make, same_shape
from ..runtime import _band_diagonal as _band_diagonal_helper
from ..runtime import _band_matrix as _band_matrix_helper
from .core import P_ATOM, Case, Op, call_text, float_dtype, register, shape_error
from .shape import broadcast_like, expand_dims


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
    # (``ravel()`` of the new zeros is a view, in NumPy and in Numba, and cheaper than
    # ``.flat``, which Numba cannot assign slices of: 0.3 against 0.9 us a write)
    flat = f"{out}.ravel()[" if not lead else f"{out}.reshape({lead + (m * n,)!r})[..., "
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
    # with static lengths the block above also compiles in Numba
    numba_body=lambda node: None not in node.shape,
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
