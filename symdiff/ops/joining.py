"""The joining family: ``concatenate`` (and ``stack``, ``hstack``, ``vstack`` built on
it), with the two ops its derivatives need when the lengths are known only at run
time: ``concat_part`` (one operand's part of a concatenation) and ``concat_pad`` (one
part padded with zeros to the whole).
"""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ..ir import make
from .core import P_ATOM, Case, Op, normalize_axis, register, shape_error
from .declare import as_nodes, public
from .portable import Portable, dtype_text
from .shape import expand_dims, materialize, one_example, zeros_like
from .slicing import getitem


def _infer_concat(inputs, attrs):
    axis = attrs["axis"]
    first = inputs[0]
    for other in inputs[1:]:
        if other.ndim != first.ndim:
            raise shape_error("concatenate", "operands have different numbers of dimensions",
                              *inputs)
    shape = list(first.shape)
    for other in inputs[1:]:
        for i, (d, e) in enumerate(zip(shape, other.shape)):
            if i == axis:
                continue
            if d is not None and e is not None and d != e:
                raise shape_error("concatenate", f"lengths differ on axis {i}", *inputs)
            shape[i] = d if d is not None else e
    lengths = [i.shape[axis] for i in inputs]
    shape[axis] = None if None in lengths else sum(lengths)
    return np.result_type(*(i.dtype for i in inputs)), tuple(shape)


def _concat_vjp(g, node):
    axis = node.attr("axis")
    lengths = [i.shape[axis] for i in node.inputs]
    out = []
    for part, x in enumerate(node.inputs):
        if None in lengths:
            out.append(make(_concat_part, [g, *node.inputs], {"axis": axis, "part": part}))
        else:
            start = sum(lengths[:part])
            out.append(getitem(g, (slice(None),) * axis
                               + (slice(start, start + lengths[part]),)))
    return tuple(out)


def _batch_concat(args, batched, node):
    like = args[batched.index(True)]
    parts = [a if b else materialize(a, like) for a, b in zip(args, batched)]
    return make(_concat, parts, {"axis": node.attr("axis") + 1})


_concat = register(Op(
    name="concatenate", impl=lambda *xs, axis: np.concatenate(xs, axis=axis),
    infer=_infer_concat,
    code=lambda args, node: f"np.concatenate(({', '.join(args)},), axis={node.attr('axis')})",
    vjp=_concat_vjp,
    batch=_batch_concat,
    jvp=lambda t, node: concatenate([ti if ti is not None else zeros_like(x)
                                     for ti, x in zip(t, node.inputs)], node.attr("axis")),
    text=lambda n, c: (f"concatenate([{', '.join(c(i, 0) for i in n.inputs)}], "
                       f"axis={n.attr('axis')})", P_ATOM),
    latex=lambda n, c: (r"\left[" + ", ".join(c(i, 0) for i in n.inputs) + r"\right]", P_ATOM),
    cases=(Case(((2,), (3,)), {"axis": 0}), Case(((2, 3), (2, 1)), {"axis": 1})),
    portable=Portable(lambda a, n: f"xp.concat(({', '.join(a)},), axis={n.attr('axis')})")))


def _concat_part_impl(g, *parts, axis, part):
    start = sum(np.shape(p)[axis] for p in parts[:part])
    index = (slice(None),) * axis + (slice(start, start + np.shape(parts[part])[axis]),)
    return np.asarray(g)[index]


def _concat_part_code(args, node):
    axis, part = node.attr("axis"), node.attr("part")
    start = " + ".join(f"{a}.shape[{axis}]" for a in args[1:1 + part])
    length = f"{args[1 + part]}.shape[{axis}]"
    stop = f"{start} + {length}" if start else length
    return f"{args[0]}[{':, ' * axis}{start}:{stop}]"


def _concat_part_portable(a, n):
    axis, part = n.attr("axis"), n.attr("part")
    start = " + ".join(f"{x}.shape[{axis}]" for x in a[1:1 + part]) or "0"
    stop = f"{start} + {a[1 + part]}.shape[{axis}]" if part else f"{a[1]}.shape[{axis}]"
    lead = ":, " * axis
    trail = ", ..." if axis + 1 < n.ndim else ""
    return f"{a[0]}[{lead}{start}:{stop}{trail}]"


def _batch_concat_part(args, batched, node):
    g, parts = args[0], [one_example(p, b) for p, b in zip(args[1:], batched[1:])]
    axis, part = node.attr("axis"), node.attr("part")
    if not batched[0]:
        return make(_concat_part, [g, *parts], dict(node.attrs))
    # The parts give lengths only: a length-1 batch axis will do, except for the one
    # whose shape is the result's.
    parts = [materialize(p, g) if i == part else expand_dims(p, (0,))
             for i, p in enumerate(parts)]
    return make(_concat_part, [g, *parts], {"axis": axis + 1, "part": part})


# The adjoint of one operand of a concatenation whose lengths are known only at run time.
_concat_part = register(Op(
    name="concat_part", impl=_concat_part_impl,
    infer=lambda inputs, attrs: (inputs[0].dtype, inputs[1 + attrs["part"]].shape),
    code=_concat_part_code,
    batch=_batch_concat_part,
    vjp=lambda g, node: (make(_concat_pad, [g, *node.inputs[1:]], dict(node.attrs)),)
    + (None,) * (len(node.inputs) - 1),
    jvp=lambda t, node: (make(_concat_part, [t[0], *node.inputs[1:]], dict(node.attrs))
                         if t[0] is not None else None),
    text=lambda n, c: (f"concat_part({', '.join(c(i, 0) for i in n.inputs)}, "
                       f"axis={n.attr('axis')}, part={n.attr('part')})", P_ATOM),
    latex=lambda n, c: (c(n.inputs[0], P_ATOM), P_ATOM),
    cases=(Case(((5,), (2,), (3,)), {"axis": 0, "part": 1}),),
    domain=((-2.0, 2.0), "const", "const"), view=True,
    portable=Portable(_concat_part_portable, "none")))


def _concat_pad_impl(g, *parts, axis, part):
    return np.concatenate([g if i == part else np.zeros(np.shape(p))
                           for i, p in enumerate(parts)], axis=axis)


def _concat_pad_portable(a, n):
    parts = [a[0] if k == n.attr("part") else f"xp.zeros_like({x}, dtype={dtype_text(n.dtype)})"
             for k, x in enumerate(a[1:])]
    return f"xp.concat(({', '.join(parts)},), axis={n.attr('axis')})"


def _batch_concat_pad(args, batched, node):
    g, parts = args[0], [one_example(p, b) for p, b in zip(args[1:], batched[1:])]
    if not batched[0]:
        return make(_concat_pad, [g, *parts], dict(node.attrs))
    parts = [materialize(p, g) for p in parts]
    return make(_concat_pad, [g, *parts], {"axis": node.attr("axis") + 1,
                                           "part": node.attr("part")})


_concat_pad = register(Op(
    name="concat_pad", impl=_concat_pad_impl,
    batch=_batch_concat_pad,
    infer=lambda inputs, attrs: _infer_concat(inputs[1:], attrs),
    code=lambda args, node: "np.concatenate((" + ", ".join(
        args[0] if i == node.attr("part") else f"np.zeros({a}.shape)"
        for i, a in enumerate(args[1:])) + f",), axis={node.attr('axis')})",
    vjp=lambda g, node: (make(_concat_part, [g, *node.inputs[1:]], dict(node.attrs)),)
    + (None,) * (len(node.inputs) - 1),
    jvp=lambda t, node: (make(_concat_pad, [t[0], *node.inputs[1:]], dict(node.attrs))
                         if t[0] is not None else None),
    text=lambda n, c: (f"concat_pad({', '.join(c(i, 0) for i in n.inputs)}, "
                       f"axis={n.attr('axis')}, part={n.attr('part')})", P_ATOM),
    latex=lambda n, c: (c(n.inputs[0], P_ATOM), P_ATOM),
    cases=(Case(((2,), (2,), (3,)), {"axis": 0, "part": 0}),),
    domain=((-2.0, 2.0), "const", "const"), array_0d=True,
    portable=Portable(_concat_pad_portable, "none")))


@public("concatenate", "concat")
def concatenate(arrays, axis=0):
    xs = as_nodes(list(arrays))
    if not xs:
        raise ShapeError("concatenate: needs at least one operand")
    if any(x.ndim == 0 for x in xs):
        raise ShapeError("concatenate: zero-dimensional operands cannot be concatenated")
    (axis,) = normalize_axis(axis, xs[0].ndim, "concatenate")
    if len(xs) == 1:
        return xs[0]
    return make(_concat, xs, {"axis": axis})


@public("stack")
def stack(arrays, axis=0):
    xs = as_nodes(list(arrays))
    if not xs:
        raise ShapeError("stack: needs at least one operand")
    (axis,) = normalize_axis(axis, xs[0].ndim + 1, "stack")
    return concatenate([expand_dims(x, axis) for x in xs], axis)


@public("hstack")
def hstack(arrays):
    xs = as_nodes(list(arrays))
    return concatenate(xs, 0 if xs and xs[0].ndim == 1 else 1)


@public("vstack")
def vstack(arrays):
    xs = [x if x.ndim >= 2 else expand_dims(x, 0) for x in as_nodes(list(arrays))]
    return concatenate(xs, 0)
