"""The shape family: transposes, reshapes, new and dropped axes, broadcasts, and arrays
made from the shape of another (``zeros_like``, ``eye_like``).

Most of these are views: the result may share memory with the operand (``view``).
The helpers that batching rules of every family use are here too: ``align`` lines a
batched operand up with its batched result, ``one_example`` takes one example of a
batched operand, ``materialize`` repeats an unbatched operand along the batch axis.

Ops of one family may build nodes of another in their rules: those builders are
imported at the top when their family comes earlier (elementwise), at the bottom
when it comes later (slicing), since the rules only call them once every family is
loaded.
"""
from __future__ import annotations

import numpy as np

from .. import portable_runtime
from ..errors import ShapeError
from ..ir import Const, Node, Var, broadcast_shapes, fmt_shape, make, same_shape
from .core import (
    P_ATOM, P_POW, Case, Op, call_text, float_dtype, fmt_attr, inside, normalize_axis,
    register, shape_error,
)
from .declare import FUNCTIONS, as_nodes, public
from .elementwise import add
from .portable import Portable, dtype_text

def align(x: Node, ndim: int, out_ndim: int) -> Node:
    """A batched operand of ``ndim`` axes lined up with a batched result of ``out_ndim``
    axes: the axes it broadcasts over go after the batch axis, not before it."""
    extra = out_ndim - ndim
    return expand_dims(x, tuple(range(1, 1 + extra))) if extra > 0 else x


def one_example(x: Node, batched: bool) -> Node:
    """One example of a batched operand, for rules that only read its shape."""
    return getitem(x, 0) if batched else x


def materialize(x: Node, like: Node) -> Node:
    """An unbatched ``x`` repeated along the batch axis of the batched ``like``."""
    size = like.shape[0]
    if size is not None and None not in x.shape:
        return broadcast_to(x, (size,) + x.shape)
    lead = zeros_like(getitem(like, (slice(None),) + (0,) * (like.ndim - 1)))
    return add(x, expand_dims(lead, tuple(range(1, 1 + x.ndim))) if x.ndim else lead)


def _infer_transpose(inputs, attrs):
    (x,) = inputs
    return x.dtype, tuple(x.shape[a] for a in attrs["axes"])


def _transpose_text(node, child):
    x = node.inputs[0]
    if node.attr("axes") == tuple(reversed(range(x.ndim))):
        return f"{child(x, P_ATOM)}.T", P_ATOM
    return f"transpose({child(x, 0)}, axes={node.attr('axes')!r})", P_ATOM


def _transpose_code(args, node):
    x = node.inputs[0]
    if node.attr("axes") == tuple(reversed(range(x.ndim))):
        return f"{args[0]}.T"
    return f"np.transpose({args[0]}, {node.attr('axes')!r})"


def _transpose_portable(a, n):
    axes = n.attr("axes")
    if n.ndim == 2 and axes == (1, 0):
        return f"{a[0]}.T"
    return f"xp.permute_dims({a[0]}, {axes!r})"


def _batch_transpose(args, batched, node):
    return make(_transpose, args, {"axes": (0,) + tuple(a + 1 for a in node.attr("axes"))})


_transpose = register(Op(
    name="transpose", impl=lambda x, axes: np.transpose(x, axes), infer=_infer_transpose,
    code=_transpose_code,
    numba_body=lambda node: node.ndim == 2 and node.attr("axes") == (1, 0),   # .T
    vjp=lambda g, node: (transpose(g, tuple(np.argsort(node.attr("axes")).tolist())),),
    jvp=lambda t, node: transpose(t[0], node.attr("axes")),
    batch=_batch_transpose,
    text=_transpose_text,
    latex=lambda n, c: (f"{c(n.inputs[0], P_POW + 1)}^{{\\top}}", P_POW),
    sympy="a",
    cases=(Case(((2, 3),), {"axes": (1, 0)}), Case(((2, 3, 4),), {"axes": (2, 0, 1)})),
    view=True,
    portable=Portable(_transpose_portable, "none")))


@public("transpose", "permute_dims")
def transpose(x, axes=None):
    (x,) = as_nodes([x])
    if axes is None:
        axes = tuple(reversed(range(x.ndim)))
    axes = tuple(int(a) % max(x.ndim, 1) for a in axes)
    if sorted(axes) != list(range(x.ndim)):
        raise ShapeError(f"transpose: axes {axes} are not a permutation of the "
                         f"{x.ndim} axes of an operand of shape {fmt_shape(x.shape)}")
    if axes == tuple(range(x.ndim)):
        return x
    return make(_transpose, [x], {"axes": axes})


@public("swapaxes")
def swapaxes(x, axis1, axis2):
    (x,) = as_nodes([x])
    axes = list(range(x.ndim))
    axes[axis1], axes[axis2] = axes[axis2], axes[axis1]
    return transpose(x, tuple(axes))


def _reshape_target(x: Node, shape: tuple) -> tuple:
    unknown = [i for i, d in enumerate(shape) if d == -1]
    if len(unknown) > 1:
        raise ShapeError(f"reshape: can only specify one unknown dimension, got {shape}")
    if any(d is None for d in shape) or any(d < -1 for d in shape):
        raise ShapeError(f"reshape: the new shape must be ints (one may be -1), got {shape}")
    size = x.size
    known = int(np.prod([d for d in shape if d != -1], dtype=np.int64))
    if unknown:
        out = list(shape)
        if size is None:
            out[unknown[0]] = None
        else:
            if known == 0 or size % known:
                raise ShapeError(f"reshape: cannot reshape an operand of shape "
                                 f"{fmt_shape(x.shape)} into {shape}")
            out[unknown[0]] = size // known
        return tuple(out)
    if size is not None and size != known:
        raise ShapeError(f"reshape: cannot reshape an operand of shape {fmt_shape(x.shape)} "
                         f"({size} elements) into {shape} ({known} elements)")
    return tuple(shape)


def _reshape_back(g: Node, x: Node) -> Node:
    if None in x.shape:
        return make(_reshape_like, [g, x])
    return reshape(g, x.shape)


def _batch_reshape(args, batched, node):
    (x,) = args
    if None not in node.shape:
        return reshape(x, (-1,) + node.shape)
    if x.shape[0] is not None:
        return reshape(x, (x.shape[0],) + node.attr("shape"))
    example = make(_reshape, [one_example(x, True)], node.attrs)
    return make(_reshape_like, [x, materialize(example, x)])


_reshape = register(Op(
    name="reshape", impl=lambda x, shape: np.reshape(x, shape),
    infer=lambda inputs, attrs: (inputs[0].dtype, _reshape_target(inputs[0], attrs["shape"])),
    code=lambda args, node: (f"{args[0]}.reshape({node.attr('shape')!r})"
                             if node.inputs[0].ndim else    # the method skips dispatch
                             f"np.reshape({args[0]}, {node.attr('shape')!r})"),
    # Numba reshapes C-contiguous arrays only: the function's inputs and constants
    # (which the compiled body takes contiguous), new arrays of elementwise kernels and
    # products; not views made inside it
    numba_body=lambda node: node.inputs[0].ndim > 0 and (
        isinstance(node.inputs[0], (Var, Const)) or node.inputs[0].op.elementwise
        or node.inputs[0].op.name == "matmul"),
    vjp=lambda g, node: (_reshape_back(g, node.inputs[0]),),
    jvp=lambda t, node: reshape(t[0], node.attr("shape")),
    batch=_batch_reshape,
    text=lambda n, c: (f"{c(n.inputs[0], P_ATOM)}.reshape({n.attr('shape')!r})", P_ATOM),
    latex=lambda n, c: (c(n.inputs[0], P_ATOM), P_ATOM),
    sympy="a",
    cases=(Case(((2, 3),), {"shape": (3, 2)}), Case(((2, 3),), {"shape": (-1,)})),
    see_through=True, view=True,
    portable=Portable(lambda a, n: f"xp.reshape({a[0]}, {n.attr('shape')!r})", "none")))


@public("reshape")
def reshape(x, shape):
    (x,) = as_nodes([x])
    if isinstance(shape, (int, np.integer)):
        shape = (int(shape),)
    shape = tuple(int(d) for d in shape)
    if shape == x.shape:
        return x
    return make(_reshape, [x], {"shape": shape})


def _batch_reshape_like(args, batched, node):
    x, ref = args
    ref = one_example(ref, batched[1])
    if not batched[0]:
        return make(_reshape_like, [x, ref])
    if x.shape[0] is not None and None not in ref.shape:
        return reshape(x, (x.shape[0],) + ref.shape)
    return make(_reshape_like, [x, materialize(ref, x)])


_reshape_like = register(Op(
    name="reshape_like", impl=lambda x, ref: np.reshape(x, np.shape(ref)),
    infer=lambda inputs, attrs: (inputs[0].dtype, inputs[1].shape),
    code=lambda args, node: (f"{args[0]}.reshape({args[1]}.shape)" if node.inputs[0].ndim
                             else f"np.reshape({args[0]}, {args[1]}.shape)"),
    vjp=lambda g, node: (_reshape_back(g, node.inputs[0]), None),
    jvp=lambda t, node: (make(_reshape_like, [t[0], node.inputs[1]]) if t[0] is not None
                         else None),
    batch=_batch_reshape_like,
    text=call_text("reshape_like"),
    latex=lambda n, c: (c(n.inputs[0], P_ATOM), P_ATOM),
    sympy="a",
    cases=(Case(((2, 3), (3, 2))),), domain=((-2.0, 2.0), "const"), view=True,
    portable=Portable(lambda a, n: f"xp.reshape({a[0]}, {a[1]}.shape)", "none")))


@public("ravel", "flatten")
def ravel(x):
    return reshape(x, (-1,))


def _infer_expand(inputs, attrs):
    (x,) = inputs
    shape = list(x.shape)
    for a in attrs["axis"]:
        shape.insert(a, 1)
    return x.dtype, tuple(shape)


def batch_shift_axes(args, batched, node):
    """Ops whose only attribute is ``axis``, a tuple of axes (expand_dims, squeeze, ...)."""
    return make(node.op, args, {"axis": tuple(a + 1 for a in node.attr("axis"))})


def _expand_dims_portable(a, n):
    text = a[0]
    for axis in n.attr("axis"):   # ascending: each is a position in the result
        text = f"xp.expand_dims({text}, axis={axis})"
    return text


_expand = register(Op(
    name="expand_dims", impl=lambda x, axis: np.expand_dims(x, axis), infer=_infer_expand,
    code=lambda args, node: f"np.expand_dims({args[0]}, {fmt_attr(node.attr('axis'))})",
    vjp=lambda g, node: (squeeze(g, node.attr("axis")),),
    jvp=lambda t, node: expand_dims(t[0], node.attr("axis")),
    batch=batch_shift_axes,
    text=call_text("expand_dims", "axis"), latex=lambda n, c: (c(n.inputs[0], P_ATOM), P_ATOM),
    sympy="a",
    cases=(Case(((3,),), {"axis": (0,)}), Case(((2, 3),), {"axis": (1, 3)})),
    see_through=True, view=True,
    portable=Portable(_expand_dims_portable, "none")))


@public("expand_dims")
def expand_dims(x, axis):
    (x,) = as_nodes([x])
    axis = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    axis = normalize_axis(axis, x.ndim + len(axis), "expand_dims")
    return make(_expand, [x], {"axis": axis})


def _infer_squeeze(inputs, attrs):
    (x,) = inputs
    for a in attrs["axis"]:
        if x.shape[a] not in (1, None):
            raise ShapeError(f"squeeze: axis {a} of shape {fmt_shape(x.shape)} has length "
                             f"{x.shape[a]}, not 1")
    return x.dtype, tuple(d for i, d in enumerate(x.shape) if i not in attrs["axis"])


_squeeze = register(Op(
    name="squeeze", impl=lambda x, axis: np.squeeze(x, axis), infer=_infer_squeeze,
    code=lambda args, node: f"np.squeeze({args[0]}, {fmt_attr(node.attr('axis'))})",
    vjp=lambda g, node: (expand_dims(g, node.attr("axis")),),
    jvp=lambda t, node: squeeze(t[0], node.attr("axis")),
    batch=batch_shift_axes,
    text=call_text("squeeze", "axis"), latex=lambda n, c: (c(n.inputs[0], P_ATOM), P_ATOM),
    sympy="a",
    cases=(Case(((1, 3),), {"axis": (0,)}), Case(((2, 1, 3, 1),), {"axis": (1, 3)})),
    see_through=True, view=True,
    portable=Portable(lambda a, n: f"xp.squeeze({a[0]}, axis={n.attr('axis')!r})", "none")))


@public("squeeze")
def squeeze(x, axis=None):
    (x,) = as_nodes([x])
    if axis is None:
        axis = tuple(i for i, d in enumerate(x.shape) if d == 1)
    axis = normalize_axis(axis, x.ndim, "squeeze")
    return make(_squeeze, [x], {"axis": axis}) if axis else x


def _infer_broadcast_to(inputs, attrs):
    (x,) = inputs
    shape = attrs["shape"]
    out = broadcast_shapes(x.shape, shape, op="broadcast_to")
    if len(x.shape) > len(shape) or not all(o == s for o, s in zip(out, shape)):
        raise ShapeError(f"broadcast_to: an operand of shape {fmt_shape(x.shape)} cannot be "
                         f"broadcast to {fmt_shape(shape)}")
    return x.dtype, shape


def _batch_broadcast_to(args, batched, node):
    (x,) = args
    shape = node.attr("shape")
    x = align(x, node.inputs[0].ndim, len(shape))
    if x.shape[0] is not None:
        return broadcast_to(x, (x.shape[0],) + shape)
    return add(x, Const(np.zeros(shape), x.dtype if x.dtype.kind == "f" else None))


def _broadcast_latex(node, child):
    # a column spread over a matrix is an outer product with ones: v 1^T (not just v)
    x = node.inputs[0]
    if (len(node.shape) == 2 and x.op.name == "expand_dims" and inside(child, x)
            and x.shape[1:] == (1,)):
        return rf"{child(x.inputs[0], P_POW + 1)} \mathbf{{1}}^{{\top}}", P_POW
    if len(node.shape) == 2 and x.ndim == 1:
        return rf"\mathbf{{1}} {child(x, P_POW + 1)}^{{\top}}", P_POW
    return child(x, P_ATOM), P_ATOM


# Adjoints of broadcast results are summed back by the reverse-mode driver, so the
# VJP of a broadcast is the identity.
_broadcast_to = register(Op(
    name="broadcast_to", impl=lambda x, shape: np.broadcast_to(x, shape),
    infer=_infer_broadcast_to,
    code=lambda args, node: f"np.broadcast_to({args[0]}, {node.attr('shape')!r})",
    vjp=lambda g, node: (g,), jvp=lambda t, node: broadcast_to(t[0], node.attr("shape")),
    batch=_batch_broadcast_to,
    text=call_text("broadcast_to", "shape"), latex=_broadcast_latex, sympy="a",
    cases=(Case(((3,),), {"shape": (2, 3)}), Case(((2, 1),), {"shape": (2, 3)})),
    see_through=True, broadcasts=True, view=True,
    portable=Portable(lambda a, n: f"xp.broadcast_to({a[0]}, {n.attr('shape')!r})", "none")))


@public("broadcast_to")
def broadcast_to(x, shape):
    (x,) = as_nodes([x])
    shape = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(shape)
    if any(d is None for d in shape):
        raise ShapeError(f"broadcast_to: the target shape must be static, got {shape}")
    if shape == x.shape:
        return x
    return make(_broadcast_to, [x], {"shape": tuple(int(d) for d in shape)})


def _infer_broadcast_like(inputs, attrs):
    x, ref = inputs
    broadcast_shapes(x.shape, ref.shape, op="broadcast_like")
    if x.ndim > ref.ndim:
        raise shape_error("broadcast_like", "the operand has more axes than the reference",
                          x, ref)
    return x.dtype, ref.shape


def _batch_broadcast_like(args, batched, node):
    x, ref = args
    if batched[1]:
        x = align(x, node.inputs[0].ndim, node.ndim) if batched[0] else x
        return broadcast_like(x, ref)
    if not batched[0]:
        return broadcast_like(x, ref)
    x = align(x, node.inputs[0].ndim, node.ndim)
    if x.shape[0] is not None and None not in ref.shape:
        return broadcast_to(x, (x.shape[0],) + ref.shape)
    return add(x, zeros_like(ref))


_broadcast_like = register(Op(
    name="broadcast_like", impl=lambda x, ref: np.broadcast_to(x, np.shape(ref)),
    infer=_infer_broadcast_like,
    code=lambda args, node: f"np.broadcast_to({args[0]}, {args[1]}.shape)",
    vjp=lambda g, node: (g, None),
    jvp=lambda t, node: broadcast_like(t[0], node.inputs[1]) if t[0] is not None else None,
    batch=_batch_broadcast_like,
    text=call_text("broadcast_like"), latex=lambda n, c: (c(n.inputs[0], P_ATOM), P_ATOM),
    sympy="a",
    cases=(Case(((3,), (2, 3))), Case(((2, 1), (2, 3)))), domain=((-2.0, 2.0), "const"),
    see_through=True, broadcasts=True, view=True,
    portable=Portable(lambda a, n: f"xp.broadcast_to({a[0]}, {a[1]}.shape)", "none")))


def broadcast_like(x: Node, ref: Node) -> Node:
    """``x`` broadcast to the shape of ``ref`` (known statically or only at run time)."""
    (x,) = as_nodes([x])
    if same_shape(x.shape, ref.shape):
        return x
    if None not in ref.shape:
        return broadcast_to(x, ref.shape)
    return make(_broadcast_like, [x, ref])


FUNCTIONS["broadcast_like"] = broadcast_like


def _infer_zeros_like(inputs, attrs):
    return float_dtype(inputs[0].dtype), inputs[0].shape


_zeros_like = register(Op(
    name="zeros_like", impl=lambda x: np.zeros(np.shape(x), float_dtype(np.asarray(x).dtype)),
    infer=_infer_zeros_like,
    code=lambda args, node: (f"np.zeros({node.shape!r})" if None not in node.shape
                             else f"np.zeros({args[0]}.shape)"),
    batch=lambda args, batched, node: zeros_like(one_example(args[0], True)),
    vjp=lambda g, node: (None,),
    # a 0-d zero is the number 0, as SymPy's diff gives it
    text=lambda n, c: ("0", P_ATOM) if n.shape == () else call_text("zeros_like")(n, c),
    latex=lambda n, c: ("0", P_ATOM), cases=(Case(((3,),)),), differentiable=False,
    array_0d=True,
    portable=Portable(lambda a, n: f"xp.zeros_like({a[0]}, dtype={dtype_text(n.dtype)})",
                      "none")))


@public("zeros_like")
def zeros_like(x):
    (x,) = as_nodes([x])
    return make(_zeros_like, [x])


def _eye_like_impl(x):
    n = int(np.size(x))
    return np.eye(n, dtype=float_dtype(np.asarray(x).dtype)).reshape((n,) + np.shape(x))


def _eye_like_code(args, node):
    x = args[0]
    return f"np.eye({x}.size, dtype=np.{node.dtype.name}).reshape(({x}.size,) + {x}.shape)"


# The rows of the identity, each shaped like x: the tangents (or cotangents) that
# Jacobians are batched over, built at run time when the length of x is unknown.
_eye_like = register(Op(
    name="eye_like", impl=_eye_like_impl,
    infer=lambda inputs, attrs: (float_dtype(inputs[0].dtype),
                                 (inputs[0].size,) + inputs[0].shape),
    code=_eye_like_code, vjp=lambda g, node: (None,),
    batch=lambda args, batched, node: make(_eye_like, [one_example(args[0], True)]),
    text=call_text("eye_like"), latex=lambda n, c: ("I", P_ATOM),
    sympy="0",
    cases=(Case(((3,),)), Case(((2, 3),))), differentiable=False,
    portable=Portable(lambda a, n: f"_xp_eye_like(xp, {a[0]}, {dtype_text(n.dtype)})", "none",
                      helpers=(portable_runtime._xp_eye_like,))))


@public("eye_like")
def eye_like(x):
    """The rows of the identity matrix of size ``x.size``, each shaped like ``x``."""
    (x,) = as_nodes([x])
    return make(_eye_like, [x])


from .slicing import getitem  # noqa: E402  (see the module's docstring)
