"""Indexing by constant integer arrays and boolean masks: ``take`` and its adjoint, the
scatter-add ``take_add``.

Conventions:
- The indices are constants known when the graph is built (a NumPy array, a list),
  stored in the node as a tuple; negative indices count from the end as in NumPy, and
  an index out of range is a ``ShapeError`` when the length is known (NumPy's
  ``IndexError`` at run time otherwise).
- ``x[idx]`` with one integer array is ``take(x, idx, axis=0)``; ``x[mask]`` with a
  boolean mask of ``x``'s shape is ``take(ravel(x), flatnonzero(mask))``, with a 1-d
  mask over the first axis ``take(x, flatnonzero(mask), axis=0)``.
- The adjoint adds each incoming value at its index (``np.add.at``), so a repeated
  index receives the sum of its adjoints.
"""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ..ir import Node, make
from .core import P_ATOM, Case, Op, float_dtype, normalize_axis, register
from .declare import FUNCTIONS, as_nodes, public


def _indices(node: Node) -> np.ndarray:
    return np.array(node.attr("indices"), dtype=np.intp).reshape(node.attr("ishape"))


def _infer_take(inputs, attrs):
    x, axis = inputs[0], attrs["axis"]
    n = x.shape[axis]
    flat = attrs["indices"]
    if n is not None and flat and (max(flat) >= n or min(flat) < -n):
        raise ShapeError(f"take: index out of range for axis {axis} of length {n}")
    return x.dtype, x.shape[:axis] + tuple(attrs["ishape"]) + x.shape[axis + 1:]


def _take_code(args, node):
    idx = _indices(node)
    literal = repr(idx.tolist())
    return f"np.take({args[0]}, np.array({literal}), axis={node.attr('axis')})"


def _take_add(g, ref, indices, ishape, axis):
    """zeros shaped like ``ref`` with ``g`` added at ``indices`` along ``axis``."""
    ref = np.asarray(ref)
    out = np.zeros(ref.shape, np.result_type(np.asarray(g).dtype, np.float64))
    idx = np.array(indices, dtype=np.intp).reshape(ishape)
    moved = np.moveaxis(out, axis, 0)
    g = np.moveaxis(np.asarray(g), tuple(range(axis, axis + idx.ndim)),
                    tuple(range(idx.ndim)))
    np.add.at(moved, idx, g)
    return out


def _take_attrs(node):
    return {k: node.attr(k) for k in ("indices", "ishape", "axis")}


def _batch_take(args, batched, node):
    return make(node.op, args, {**_take_attrs(node), "axis": node.attr("axis") + 1})


_take = register(Op(
    name="take", impl=lambda x, indices, ishape, axis: np.take(
        x, np.array(indices, dtype=np.intp).reshape(ishape), axis=axis),
    infer=_infer_take, code=_take_code,
    vjp=lambda g, node: (make(_take_add_op, [g, node.inputs[0]], _take_attrs(node)),),
    jvp=lambda t, node: make(_take, [t[0]], _take_attrs(node)),
    batch=_batch_take,
    text=lambda n, c: (f"take({c(n.inputs[0], 0)}, {_indices(n).tolist()!r}, "
                       f"axis={n.attr('axis')})", P_ATOM),
    latex=lambda n, c: (rf"{c(n.inputs[0], P_ATOM)}_{{{_indices(n).tolist()}}}", P_ATOM),
    cases=(Case(((5,),), {"indices": (0, 2, 2, -1), "ishape": (4,), "axis": 0}),
           Case(((3, 4),), {"indices": (3, 0, 1, 1), "ishape": (2, 2), "axis": 1}))))


def _batch_take_add(args, batched, node):
    g, ref = args
    attrs = {**_take_attrs(node), "axis": node.attr("axis") + 1}
    if not batched[1]:
        # The reference gives only the shape: give it the batch axis of g.
        f = FUNCTIONS
        batch = f["zeros_like"](f["expand_dims"](f["sum"](g, tuple(range(1, g.ndim))),
                                                 tuple(range(1, ref.ndim + 1))))
        ref = f["add"](f["expand_dims"](ref, (0,)), batch)
    if not batched[0]:
        g = FUNCTIONS["broadcast_like"](FUNCTIONS["expand_dims"](g, (0,)),
                                        make(_take, [ref], attrs))
    return make(node.op, [g, ref], attrs)


_take_add_op = register(Op(
    name="take_add", impl=_take_add,
    infer=lambda inputs, attrs: (float_dtype(inputs[0].dtype), inputs[1].shape),
    code=lambda args, node: (f"_take_add({args[0]}, {args[1]}, {node.attr('indices')!r}, "
                             f"{node.attr('ishape')!r}, {node.attr('axis')})"),
    helpers=(_take_add,),
    vjp=lambda g, node: (make(_take, [g], _take_attrs(node)), None),
    jvp=lambda t, node: (make(_take_add_op, [t[0], node.inputs[1]], _take_attrs(node))
                         if t[0] is not None else None),
    batch=_batch_take_add,
    text=lambda n, c: (f"take_add({c(n.inputs[0], 0)}, {c(n.inputs[1], 0)}, "
                       f"{n.attr('indices')!r}, {n.attr('ishape')!r}, {n.attr('axis')})",
                       P_ATOM),
    latex=lambda n, c: (rf"\operatorname{{scatter}}\left({c(n.inputs[0], 0)}\right)", P_ATOM),
    domain=((-2.0, 2.0), "const"),
    cases=(Case(((4,), (5,)), {"indices": (0, 2, 2, -1), "ishape": (4,), "axis": 0}),)))


@public("take")
def take(x, indices, axis=None):
    """``np.take`` with constant integer indices (``axis=None``: the flattened array)."""
    (x,) = as_nodes([x])
    idx = np.asarray(indices)
    if isinstance(indices, Node) or idx.dtype.kind not in "iu":
        raise ShapeError("take: the indices must be a constant array of integers")
    if axis is None:
        x, axis = FUNCTIONS["ravel"](x), 0
    (axis,) = normalize_axis(axis, x.ndim, "take")
    return make(_take, [x], {"indices": tuple(int(i) for i in idx.ravel()),
                             "ishape": tuple(idx.shape), "axis": axis})


def index_by_array(x: Node, index) -> Node | None:
    """``x[idx]`` for one constant integer array or boolean mask, else None."""
    if isinstance(index, list):
        index = np.asarray(index)
    if not isinstance(index, np.ndarray) or index.dtype.kind not in "iub":
        return None
    if index.dtype == np.bool_:
        if index.shape == tuple(x.shape):
            return take(x, np.flatnonzero(index))
        if index.ndim == 1 and x.ndim >= 1 and x.shape[0] in (None, index.shape[0]):
            return take(x, np.flatnonzero(index), axis=0)
        raise ShapeError(f"getitem: a boolean mask of shape {index.shape} for an operand "
                         f"of shape {x.shape} (a mask of several axes needs the operand's "
                         "shape known and equal)")
    return take(x, index, axis=0)
