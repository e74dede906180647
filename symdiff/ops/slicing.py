"""The slicing family: basic indexing ``x[index]`` and the scatters its derivatives
make, ``embed`` (zeros with ``g`` at ``index``) and ``add_at`` (``x`` with ``g`` added
at ``index``, JAX's ``x.at[index].add(g)``).

An index is kept normalized in the node's attributes: a tuple of ints,
``("slice", start, stop, step)`` and None (a new axis), see ``normalize_index``.
Basic indexing never repeats an element, so a scatter is an assignment.
"""
from __future__ import annotations

import numpy as np

from .. import portable_runtime
from ..errors import ShapeError
from ..ir import Node, broadcast_shapes, fmt_shape, make, same_shape
from .core import P_ADD, P_ATOM, Case, Op, float_dtype, register, shape_error
from .declare import as_nodes, public
from .elementwise import sum_terms
from .portable import Portable, dtype_text
from .shape import align, broadcast_like, materialize, one_example

# A whole axis: ``:``.
_ALL = ("slice", None, None, None)


def _normalize_index(x: Node, index) -> tuple:
    """An index as a tuple of ints, ("slice", start, stop, step) and None (new axis)."""
    if not isinstance(index, tuple):
        index = (index,)
    out = []
    n_real = sum(1 for i in index if i is not None and i is not Ellipsis)
    for item in index:
        if item is Ellipsis:
            out.extend([("slice", None, None, None)] * (x.ndim - n_real))
        elif item is None:
            out.append(None)
        elif isinstance(item, slice):
            parts = [item.start, item.stop, item.step]
            for p in parts:
                if p is not None and not isinstance(p, (int, np.integer)):
                    raise ShapeError(f"getitem: slice bounds must be constant ints, got {item}")
            if item.step == 0:
                raise ShapeError("getitem: slice step cannot be zero")
            out.append(("slice",) + tuple(None if p is None else int(p) for p in parts))
        elif isinstance(item, (int, np.integer)) and not isinstance(item, bool):
            out.append(int(item))
        elif isinstance(item, Node):
            raise ShapeError("getitem: indexing with an expression is not supported; "
                             "use constant ints and slices (or sd.where for masks)")
        else:
            raise ShapeError(f"getitem: unsupported index {item!r}; use ints, slices, None "
                             f"and ...")
    real = sum(1 for i in out if i is not None)
    if real > x.ndim:
        raise ShapeError(f"getitem: too many indices ({real}) for an operand of shape "
                         f"{fmt_shape(x.shape)}")
    return tuple(out)


def _py_index(index: tuple) -> tuple:
    return tuple(slice(*i[1:]) if isinstance(i, tuple) else i for i in index)


def _infer_getitem(inputs, attrs):
    x = inputs[0]
    shape, axis = [], 0
    for item in attrs["index"]:
        if item is None:
            shape.append(1)
            continue
        n = x.shape[axis]
        if isinstance(item, int):
            if n is not None and not -n <= item < n:
                raise ShapeError(f"getitem: index {item} is out of bounds for axis {axis} "
                                 f"with length {n}")
        else:
            s = slice(*item[1:])
            if n is not None:
                shape.append(len(range(*s.indices(n))))
            elif (s.step in (None, 1) and s.start is not None and s.stop is not None
                  and 0 <= s.start <= s.stop):
                shape.append(None)  # could be shorter than stop - start: length unknown
            else:
                shape.append(None)
        axis += 1
    shape.extend(x.shape[axis:])
    return x.dtype, tuple(shape)


def _basic_index(index: tuple) -> bool:
    """Integers and slices only: the indexing Numba compiles as NumPy does it."""
    return bool(index) and all(isinstance(i, int) or (isinstance(i, tuple) and i[0] == "slice")
                               for i in index)


def _index_text(index: tuple) -> str:
    parts = []
    for item in index:
        if item is None:
            parts.append("None")
        elif isinstance(item, int):
            parts.append(str(item))
        else:
            start, stop, step = item[1:]
            text = f"{'' if start is None else start}:{'' if stop is None else stop}"
            if step is not None:
                text += f":{step}"
            parts.append(text)
    return ", ".join(parts) if parts else "()"


def _xp_index_text(index: tuple, ndim: int) -> str:
    """A basic index for portable code: ``...`` for the axes it does not name (the
    Array API standard has no implicit trailing slices)."""
    text = _index_text(index) if index else ""
    if sum(1 for i in index if i is not None) < ndim or not index:
        text += ", ..." if index else "..."
    return text


def _xp_index_value(index: tuple, ndim: int) -> str:
    """The same index as a Python value (a tuple), for the portable scatter helpers."""
    parts = []
    for item in index:
        if item is None or isinstance(item, int):
            parts.append(repr(item))
        else:
            parts.append(f"slice{item[1:]!r}")
    if sum(1 for i in index if i is not None) < ndim or not parts:
        parts.append("...")
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


def _batch_getitem(args, batched, node):
    return make(_getitem, args, {"index": (_ALL,) + node.attr("index")})


_getitem = register(Op(
    name="getitem", impl=lambda x, index: np.asarray(x)[_py_index(index)],
    infer=_infer_getitem,
    code=lambda args, node: f"{args[0]}[{_index_text(node.attr('index'))}]",
    numba_body=lambda node: _basic_index(node.attr("index")),
    vjp=lambda g, node: (make(_embed, [g, node.inputs[0]], {"index": node.attr("index")}),),
    jvp=lambda t, node: make(_getitem, [t[0]], {"index": node.attr("index")}),
    batch=_batch_getitem,
    text=lambda n, c: (f"{c(n.inputs[0], P_ATOM)}[{_index_text(n.attr('index'))}]", P_ATOM),
    latex=lambda n, c: (f"{{{c(n.inputs[0], P_ATOM)}}}_{{[{_index_text(n.attr('index'))}]}}",
                        P_ATOM),
    cases=(Case(((5,),), {"index": (("slice", 1, None, None),)}),
           Case(((5,),), {"index": (("slice", None, -1, None),)}),
           Case(((4, 3),), {"index": (1,)}),
           Case(((4, 3),), {"index": (("slice", None, None, 2), 0)}),
           Case(((3,),), {"index": (None, ("slice", None, None, None))})),
    view=True,
    portable=Portable(
        lambda a, n: f"{a[0]}[{_xp_index_text(n.attr('index'), n.inputs[0].ndim)}]", "none")))


@public("getitem")
def getitem(x, index):
    (x,) = as_nodes([x])
    from .gather import index_by_array   # a later family (see symdiff/ops/__init__.py)
    by_array = index_by_array(x, index)
    if by_array is not None:
        return by_array
    index = _normalize_index(x, index)
    if all(i == ("slice", None, None, None) for i in index):
        return x
    return make(_getitem, [x], {"index": index})


def _embed_impl(g, ref, index):
    out = np.zeros(np.shape(ref), np.result_type(g, np.float64) if np.asarray(g).dtype.kind != "f"
                   else np.asarray(g).dtype)
    out[_py_index(index)] = g
    return out


def _batch_embed(args, batched, node):
    g, ref = args
    ref = one_example(ref, batched[1])
    if not batched[0]:
        return make(_embed, [g, ref], dict(node.attrs))
    return make(_embed, [g, materialize(ref, g)], {"index": (_ALL,) + node.attr("index")})


# The adjoint of x[index]: zeros shaped like x with g at index (basic indexing never
# repeats an element, so assignment is enough).
_embed = register(Op(
    name="embed", impl=_embed_impl,
    infer=lambda inputs, attrs: (float_dtype(inputs[0].dtype), inputs[1].shape),
    code=None,
    vjp=lambda g, node: (make(_getitem, [g], {"index": node.attr("index")}), None),
    batch=_batch_embed,
    jvp=lambda t, node: (make(_embed, [t[0], node.inputs[1]], {"index": node.attr("index")})
                         if t[0] is not None else None),
    # a function both readers take: zeros like x with g at x[1:], embed(g, x, np.s_[1:])
    text=lambda n, c: (f"embed({c(n.inputs[0], 0)}, {c(n.inputs[1], 0)}, "
                       f"np.s_[{_index_text(n.attr('index'))}])", P_ATOM),
    latex=lambda n, c: (c(n.inputs[0], P_ATOM), P_ATOM),
    cases=(Case(((4,), (5,)), {"index": (("slice", 1, None, None),)}),
           Case(((3,), (4, 3)), {"index": (1,)})),
    domain=((-2.0, 2.0), "const"),
    # two statements: zeros, then g written at index; a new array a later op may overwrite
    block=lambda out, args, node: (
        f"{out} = np.zeros({args[1]}.shape, np.{node.dtype.name})\n"
        f"{out}[{_index_text(node.attr('index'))}] = {args[0]}"),
    numba_body=lambda node: _basic_index(node.attr("index")),
    fresh=True, array_0d=True,
    # a new array of zeros with g written at index
    portable=Portable(lambda a, n: (f"_xp_embed(xp, {a[0]}, {a[1]}, "
                                    f"{_xp_index_value(n.attr('index'), n.ndim)}, "
                                    f"{dtype_text(n.dtype)})"), "none",
                      helpers=(portable_runtime._xp_embed,))))


def _add_at_impl(x, g, index):
    out = np.array(x, dtype=np.result_type(x, g))
    out[_py_index(index)] += g
    return out


def _infer_add_at(inputs, attrs):
    x, g = inputs
    part = _infer_getitem([x], attrs)[1]
    try:
        fits = same_shape(broadcast_shapes(g.shape, part), part)
    except ShapeError:
        fits = False
    if not fits:
        raise shape_error("add_at", f"the added operand must broadcast to the shape "
                          f"{fmt_shape(part)} of the indexed part", x, g)
    return np.result_type(x.dtype, g.dtype), x.shape


def _batch_add_at(args, batched, node):
    x, g = args
    if not batched[0]:
        x = materialize(x, g)
    if batched[1]:   # an unbatched g broadcasts over the batch axis as it is
        part = _infer_getitem([node.inputs[0]], dict(node.attrs))[1]
        g = align(g, node.inputs[1].ndim, len(part))
    return make(_add_at, [x, g], {"index": (_ALL,) + node.attr("index")})


def _add_at_jvp_g(tg, node):
    if tg is None:
        return None
    x, g = node.inputs
    part = make(_getitem, [x], {"index": node.attr("index")})
    if not same_shape(g.shape, part.shape):   # embed wants the part's shape
        tg = broadcast_like(tg, part)
    return make(_embed, [tg, x], {"index": node.attr("index")})


# x + embed(g, x, index), the sum of slice adjoints: the zeros of the embedding are not
# made and added, g is added where it goes (in place when x is not needed after).
_add_at = register(Op(
    name="add_at", impl=_add_at_impl, infer=_infer_add_at, code=None,
    vjp=lambda g, node: (g, make(_getitem, [g], {"index": node.attr("index")})),
    jvp=lambda t, node: sum_terms([t[0], _add_at_jvp_g(t[1], node)]),
    batch=_batch_add_at,
    text=lambda n, c: (f"add_at({c(n.inputs[0], 0)}, {c(n.inputs[1], 0)}, "
                       f"np.s_[{_index_text(n.attr('index'))}])", P_ATOM),
    latex=lambda n, c: (rf"{c(n.inputs[0], P_ADD)} + {c(n.inputs[1], P_ADD + 1)}", P_ADD),
    cases=(Case(((5,), (4,)), {"index": (("slice", 1, None, None),)}),
           Case(((4, 3), (3,)), {"index": (1,)}),
           Case(((5,), ()), {"index": (("slice", None, -1, None),)}),
           Case(((4, 3), (3,)), {"index": (("slice", 1, None, None),)})),
    domain=((-2.0, 2.0), (-2.0, 2.0)),
    # a copy of x (none when codegen gives x itself, used for the last time), then g added
    block=lambda out, args, node: (
        (f"{out} = {args[0]}.copy()\n" if out != args[0] else "")
        + f"{out}[{_index_text(node.attr('index'))}] += {args[1]}"),
    numba_body=lambda node: _basic_index(node.attr("index")),
    fresh=True, overwrites_first=True,
    # a copy of x with g added at index
    portable=Portable(lambda a, n: (f"_xp_add_at(xp, {a[0]}, {a[1]}, "
                                    f"{_xp_index_value(n.attr('index'), n.ndim)})"),
                      helpers=(portable_runtime._xp_add_at,))))


def embed(g, like, index) -> Node:
    """Zeros shaped like ``like`` with ``g`` at ``like[index]`` (how the adjoint of
    indexing prints: ``embed(g, x, np.s_[1:])``)."""
    g, like = as_nodes([g, like])
    return make(_embed, [g, like], {"index": _normalize_index(like, index)})


def add_at(x, g, index) -> Node:
    """``x`` with ``g`` added at ``x[index]`` (``x.at[index].add(g)`` in JAX)."""
    x, g = as_nodes([x, g])
    return make(_add_at, [x, g], {"index": _normalize_index(x, index)})
