"""The reductions family: ``sum``, ``mean``, ``prod``, ``max``, ``min`` and
``logsumexp`` over some axes (``axis``, ``keepdims`` as in NumPy), the softmax family
(``softmax``, ``log_softmax``: the axis is kept), and ``shape_size``, the number of
elements a reduction reduces over when it is known only at run time.

The gradient of ``max``/``min`` is shared equally among tied extrema (as JAX).
``logsumexp`` and the softmax family run helpers of ``symdiff.runtime`` (NumPy has
none): the exponentials are shifted by the max, so nothing overflows.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from .. import portable_runtime
from ..ir import Node, make
from ..runtime import _log_softmax, _logsumexp, _logsumexp_softmax, _softmax
from .core import (
    P_ATOM, P_MUL, P_POW, Case, Op, call_latex, call_text, float_dtype, fmt_attr, normalize_axis,
    reduced_shape, register,
)
from .declare import FUNCTIONS, as_nodes
from .elementwise import divide, equal, exp, multiply, subtract
from .portable import Portable, axis_kw, xp_reduce
from .shape import batch_shift_axes, broadcast_like, expand_dims


def _reduce_attrs(x: Node, axis, keepdims, op: str) -> dict:
    return {"axis": normalize_axis(axis, x.ndim, op), "keepdims": bool(keepdims)}


def _infer_reduce(name, dtype_rule):
    def infer(inputs, attrs):
        (x,) = inputs
        return dtype_rule(x.dtype), reduced_shape(x.shape, attrs["axis"], attrs["keepdims"])
    return infer


def _keep(g: Node, node: Node) -> Node:
    """Give a reduction's result (or its adjoint) back its reduced axes, length 1."""
    if node.attr("keepdims"):
        return g
    axis = node.attr("axis")
    axes = tuple(range(node.inputs[0].ndim)) if axis is None else axis
    return expand_dims(g, axes) if axes else g


def _sum_dtype(dt: np.dtype) -> np.dtype:
    return np.dtype("int64") if dt.kind in "bi" else dt


REDUCE_CASES = (Case(((3,),), {"axis": None, "keepdims": False}),
                Case(((2, 3),), {"axis": (1,), "keepdims": False}),
                Case(((2, 3),), {"axis": (0,), "keepdims": True}),
                Case(((2, 3, 2),), {"axis": (0, 2), "keepdims": False}))


def _batch_reduce(args, batched, node):
    (x,) = args
    axis = node.attr("axis")
    axis = tuple(range(1, x.ndim)) if axis is None else tuple(a + 1 for a in axis)
    return make(node.op, [x], {"axis": axis, "keepdims": node.attr("keepdims")})


def declare_reduction(name, impl, infer, vjp, jvp, latex, code_name=None, helpers=(), *,
                      code=None, domain=(), portable=None, numba_body=False,
                      numba_code=None):
    code_name = code_name or f"np.{name}"
    # A ufunc's reduce reduces axis 0 by default: the axis is always written.
    always_axis = code_name.endswith(".reduce")

    custom = code

    def default_code(args, node):
        if code_name == "np.add.reduce":
            by_dot = _sum_by_dot(args[0], node)
            if by_dot is not None:
                return by_dot
        return f"{code_name}({args[0]}{_axis_args(node, always_axis)})"
    op = register(Op(name=name, impl=impl, infer=infer, code=custom or default_code,
                     vjp=vjp, jvp=jvp,
                     batch=_batch_reduce,
                     text=call_text(name, "axis", "keepdims",
                                    defaults={"axis": None, "keepdims": False}),
                     latex=latex, cases=REDUCE_CASES, helpers=helpers, domain=domain,
                     portable=portable, numba_body=numba_body, numba_code=numba_code,
                     sympy="a"))   # on a 0-d operand, the identity

    def build(x, axis=None, keepdims=False):
        (x,) = as_nodes([x])
        return make(op, [x], _reduce_attrs(x, axis, keepdims, name))
    build.__name__ = name
    FUNCTIONS[name] = build
    return op, build


def _sum_by_dot(arg: str, node: Node) -> str | None:
    """A row or column sum of a float matrix as a product with a vector of ones.

    BLAS reads the matrix once; NumPy's reduction over a short contiguous axis runs
    a small inner loop per row: on 4096x10, 10 µs against 66 µs (axis 1) and
    13 against 62 µs (axis 0); 7 against 14 µs on 256x256. It is no faster on tiny
    matrices, and slower when summing along a long contiguous axis (3x100000:
    134 against 67 µs), so those keep the reduction. None where it does not apply.
    """
    x = node.inputs[0]
    axis = node.attr("axis")
    if x.ndim != 2 or x.dtype.kind != "f" or axis not in ((0,), (1,)):
        return None
    (a,) = axis
    rows, cols = x.shape
    if rows is not None and cols is not None and rows * cols < 64:
        return None
    if a == 1 and cols is not None and cols >= 1024:
        return None
    dtype = "" if x.dtype == np.float64 else f", np.{x.dtype.name}"
    ones = f"np.ones({arg}.shape[{a}]{dtype})"
    keep = node.attr("keepdims")
    if a == 0:
        return f"{ones}.dot({arg})" + ("[None, :]" if keep else "")
    return f"{arg}.dot({ones})" + ("[:, None]" if keep else "")


def _axis_args(node, always: bool = False):
    out = ""
    axis = node.attr("axis")
    if axis is not None or always:
        out += f", axis={fmt_attr(axis)}"
    if node.attr("keepdims"):
        out += ", keepdims=True"
    return out


def _sum_latex(node, child):
    axis = node.attr("axis")
    sub = "" if axis is None else f"_{{{','.join(map(str, axis))}}}"
    # \sum (A \odot A), not \sum A \odot A, which could be read as (\sum A) \odot A
    return rf"\sum{sub} {child(node.inputs[0], P_POW)}", P_MUL


_sum, sum_ = declare_reduction(
    "sum", np.sum, _infer_reduce("sum", _sum_dtype),
    vjp=lambda g, node: (broadcast_like(_keep(g, node), node.inputs[0]),),
    jvp=lambda t, node: sum_(t[0], node.attr("axis"), node.attr("keepdims")),
    latex=_sum_latex, code_name="np.add.reduce",
    # summed as a product with ones (a BLAS call, which Numba has too)
    numba_body=lambda node: _sum_by_dot("x", node) is not None and not node.attr("keepdims"),
    numba_code=lambda args, node: (
        f"_blas_gemm(np.empty((1, {args[0]}.shape[0])), {args[0]}, True)[0]"
        if node.attr("axis") == (0,)
        else f"_blas_gemm(np.empty((1, {args[0]}.shape[1])), {args[0]}.T, True)[0]"),
    portable=xp_reduce("sum"))
FUNCTIONS["sum"] = sum_


def _mean_code(args, node):
    """The sum divided by the count (``np.mean`` adds Python dispatch to the same)."""
    x = node.inputs[0]
    axis = node.attr("axis")
    axes = range(x.ndim) if axis is None else axis
    dims = [x.shape[a] for a in axes]
    count = (str(int(np.prod(dims))) if None not in dims
             else " * ".join(f"{args[0]}.shape[{a}]" for a in axes) or "1")
    if " * " in count:
        count = f"({count})"
    total = _sum_by_dot(args[0], node) or f"np.add.reduce({args[0]}{_axis_args(node, True)})"
    return f"{total} / {count}"


_mean, mean = declare_reduction(
    "mean", np.mean, _infer_reduce("mean", lambda dt: float_dtype(dt)),
    vjp=lambda g, node: (divide(broadcast_like(_keep(g, node), node.inputs[0]),
                                       reduced_count(node)),),
    jvp=lambda t, node: mean(t[0], node.attr("axis"), node.attr("keepdims")),
    latex=lambda n, c: (rf"\operatorname{{mean}}\left({c(n.inputs[0], 0)}\right)", P_ATOM),
    code=_mean_code,
    portable=xp_reduce("mean"))
_prod, prod = declare_reduction(
    "prod", np.prod, _infer_reduce("prod", _sum_dtype),
    # d prod / d x_i = prod / x_i (undefined where an x_i is 0).
    vjp=lambda g, node: (multiply(_keep(g, node), divide(_keep(node, node), node.inputs[0])),),
    jvp=lambda t, node: sum_(multiply(t[0], divide(_keep(node, node), node.inputs[0])),
                                    node.attr("axis"), node.attr("keepdims")),
    latex=lambda n, c: (rf"\prod {c(n.inputs[0], P_MUL)}", P_MUL), code_name="np.multiply.reduce",
    domain=((0.5, 2.0),),
    portable=xp_reduce("prod"))


def _argmax_share(node: Node) -> Node:
    """1/k at each of the k tied extrema of a max/min reduction, 0 elsewhere."""
    x = node.inputs[0]
    hit = equal(x, _keep(node, node))
    return divide(hit, sum_(hit, node.attr("axis"), True))


_max, max_ = declare_reduction(
    "max", np.max, _infer_reduce("max", lambda dt: dt),
    vjp=lambda g, node: (multiply(_keep(g, node), _argmax_share(node)),),
    jvp=lambda t, node: sum_(multiply(t[0], _argmax_share(node)), node.attr("axis"),
                                    node.attr("keepdims")),
    latex=call_latex(r"\max"), code_name="np.maximum.reduce",
    portable=xp_reduce("max"))
_min, min_ = declare_reduction(
    "min", np.min, _infer_reduce("min", lambda dt: dt),
    vjp=lambda g, node: (multiply(_keep(g, node), _argmax_share(node)),),
    jvp=lambda t, node: sum_(multiply(t[0], _argmax_share(node)), node.attr("axis"),
                                    node.attr("keepdims")),
    latex=call_latex(r"\min"), code_name="np.minimum.reduce",
    portable=xp_reduce("min"))
FUNCTIONS["amax"], FUNCTIONS["amin"] = max_, min_

# logsumexp and the softmax family run helpers of symdiff.runtime (NumPy has none):
# the exponentials are shifted by the max, so nothing overflows.


def _lse_softmax(x: Node, node: Node) -> Node:
    """exp(x - logsumexp(x)): the softmax op when the reduction is over one axis."""
    axis = _lse_axis(node)
    if axis is not None and len(axis) == 1:
        return softmax(x, axis[0])
    return exp(subtract(x, _keep(node, node)))


class Fusion(NamedTuple):
    """Two ops on the same operand that one generated call computes together
    (logsumexp's gradient is the softmax of its operand: one pass of exponentials)."""
    first: str
    second: str
    match: Callable[[Node, Node], bool]    # (first node, second node) -> same axis etc.
    code: Callable[[str, Node, Node], str]  # (operand, first, second) -> "call(...)"
    helpers: tuple                           # the run-time functions the code calls
    # The same against the Array API namespace xp (symdiff/ops/portable.py), and the
    # portable_runtime functions it calls; None: printed as two calls.
    portable: Callable[[str, Node, Node], str] | None = None
    portable_helpers: tuple = ()
    # The Numba backend's form: (kernel name, operand, first, second) -> (compiled
    # kernels' source, statements that assign "{a}, {b}", "{b}" being the C-ordered
    # array "{e}" the caller gives), or None when the NumPy call stays (that form is
    # the fallback as well: None for other nodes).
    # ``contiguous``: the operand is known C-ordered.
    numba: Callable[[str, str, Node, Node, bool], tuple[str, str] | None] | None = None


def _lse_axis(node: Node) -> tuple | None:
    axis = node.attr("axis")
    return (0,) if axis is None and node.inputs[0].ndim == 1 else axis


FUSED_PAIRS = (
    Fusion("logsumexp", "softmax",
           match=lambda lse, sm: _lse_axis(lse) == (sm.attr("axis"),),
           code=lambda arg, lse, sm: (f"_logsumexp_softmax({arg}, {sm.attr('axis')}"
                                      + (", keepdims=True" if lse.attr("keepdims") else "")
                                      + ")"),
           helpers=(_logsumexp_softmax,),
           portable=lambda arg, lse, sm: (f"_xp_logsumexp_softmax(xp, {arg}, {sm.attr('axis')}"
                                          + (", keepdims=True" if lse.attr("keepdims") else "")
                                          + ")"),
           portable_helpers=(portable_runtime._xp_logsumexp_softmax,),
           numba=lambda name, arg, lse, sm, contiguous: _numba_logsumexp_softmax(
               name, arg, lse, sm, contiguous)),
)


# Rows of a 2-d float64 operand in two compiled passes around NumPy's exp (which is
# vectorized; Numba's scalar exp is not: ~8 against ~0.8 ns an element): the row
# maxima and the shifted values, then the row sums and the scaling; the logs of the
# sums are NumPy's too (4096 rows: ~10 us less than math.log in the loop). A row's
# shift is its max, or 0 where that is not finite, as in the NumPy helper; the max
# skips nan (NumPy's would be nan, and shift by 0), but a row with a nan sums to nan
# either way, so inf and nan give what the NumPy helper gives.
_LSE_SOFTMAX_KERNELS = '''\
@njit("({x}, float64[:, ::1])", cache=True, error_model="numpy", nogil=True)
def {name}_shift(x, e):
    n, k = x.shape
    if e.shape[0] != n or e.shape[1] != k:
        raise ValueError("{name}_shift: a result of the wrong shape")
    m = np.empty(n, np.float64)
    for i in range(n):
        mi = -np.inf
        for j in range(k):   # no branch: a mispredicted one costs more than the row
            v = x[i, j]
            mi = v if v > mi else mi
        if not math.isfinite(mi):
            mi = 0.0
        m[i] = mi
        for j in range(k):
            e[i, j] = x[i, j] - mi
    return e, m


@njit("(float64[:, ::1],)", cache=True, error_model="numpy", nogil=True)
def {name}_scale(e):
    n, k = e.shape
    s = np.empty(n, np.float64)
    for i in range(n):
        si = 0.0
        for j in range(k):
            si += e[i, j]
        s[i] = si
        r = 1.0 / si
        for j in range(k):
            e[i, j] *= r
    return s'''


def _numba_logsumexp_softmax(name: str, arg: str, lse: Node, sm: Node, contiguous: bool):
    x = lse.inputs[0]
    if x.ndim != 2 or x.dtype != np.float64 or sm.attr("axis") not in (1, -1):
        return None
    # "{e}" is the array the caller gives for the exponentials (its shape: the operand's)
    lines = [f"{{b}}, _m = {name}_shift({arg}, {{e}})", "np.exp({b}, out={b})",
             f"{{a}} = {name}_scale({{b}})", "np.log({a}, out={a})", "{a} += _m"]
    if lse.attr("keepdims"):
        lines.append("{a} = {a}[:, None]")
    x_type = "float64[:, ::1]" if contiguous else "float64[:, :]"
    return _LSE_SOFTMAX_KERNELS.format(name=name, x=x_type), "\n".join(lines)


_logsumexp_op, logsumexp = declare_reduction(
    "logsumexp", _logsumexp, _infer_reduce("logsumexp", float_dtype),
    vjp=lambda g, node: (multiply(_keep(g, node), _lse_softmax(node.inputs[0], node)),),
    jvp=lambda t, node: sum_(multiply(t[0], _lse_softmax(node.inputs[0], node)),
                                    node.attr("axis"), node.attr("keepdims")),
    latex=lambda n, c: (rf"\log\sum\exp\left({c(n.inputs[0], 0)}\right)", P_ATOM),
    code_name="_logsumexp", helpers=(_logsumexp,),
    portable=Portable(lambda a, n: f"_xp_logsumexp(xp, {a[0]}{axis_kw(n)})",
                      helpers=(portable_runtime._xp_logsumexp,)))


# -- softmax family (axis kept) ----------------------------------------------------------

def _infer_same_float(inputs, attrs):
    return float_dtype(inputs[0].dtype), inputs[0].shape


SOFTMAX_CASES = (Case(((3,),), {"axis": 0}), Case(((2, 3),), {"axis": 1}),
                 Case(((2, 3),), {"axis": 0}))


def _batch_axis(args, batched, node):
    return make(node.op, args, {"axis": node.attr("axis") + 1})


def declare_axis_op(name, helper, vjp, jvp, portable):
    fn_name = helper.__name__
    latex_name = name.replace("_", "\\_")
    op = register(Op(
        name=name, impl=helper, infer=_infer_same_float,
        code=lambda args, node: f"{fn_name}({args[0]}, axis={node.attr('axis')})",
        vjp=vjp, jvp=jvp, text=call_text(name, "axis"),
        batch=_batch_axis,
        latex=lambda n, c: (rf"\operatorname{{{latex_name}}}\left({c(n.inputs[0], 0)}\right)",
                            P_ATOM),
        cases=SOFTMAX_CASES, helpers=(helper,),
        portable=portable))

    def build(x, axis=-1):
        (x,) = as_nodes([x])
        (axis,) = normalize_axis(axis, x.ndim, name)
        return make(op, [x], {"axis": axis})
    FUNCTIONS[name] = build
    return build


def _softmax_vjp(g, node):
    ax = node.attr("axis")
    return (multiply(node, subtract(g, sum_(multiply(g, node), ax, True))),)


def _log_softmax_vjp(g, node):
    ax = node.attr("axis")
    return (subtract(g, multiply(exp(node), sum_(g, ax, True))),)


softmax = declare_axis_op("softmax", _softmax, _softmax_vjp,
                          lambda t, node: _softmax_vjp(t[0], node)[0],
                          portable=Portable(
                              lambda a, n: f"_xp_softmax(xp, {a[0]}, {n.attr('axis')})",
                              helpers=(portable_runtime._xp_softmax,)))
log_softmax = declare_axis_op("log_softmax", _log_softmax, _log_softmax_vjp,
                              lambda t, node: subtract(t[0], sum_(multiply(exp(node), t[0]),
                                                                  node.attr("axis"), True)),
                              portable=Portable(
                                  lambda a, n: f"_xp_log_softmax(xp, {a[0]}, {n.attr('axis')})",
                                  helpers=(portable_runtime._xp_log_softmax,)))


# -- counts ----------------------------------------------------------------------------

def _infer_size(inputs, attrs):
    return np.dtype("float64"), ()


_shape_size = register(Op(
    name="shape_size",
    impl=lambda x, axis: np.float64(np.prod([np.shape(x)[a] for a in axis])),
    infer=_infer_size,
    code=lambda args, node: "float(" + " * ".join(
        f"{args[0]}.shape[{a}]" for a in node.attr("axis")) + ")",
    numba_body=True,
    batch=batch_shift_axes,
    vjp=lambda g, node: (None,), text=call_text("shape_size", "axis"),
    latex=lambda n, c: (rf"\left|{c(n.inputs[0], 0)}\right|", P_ATOM),
    sympy="1",
    cases=(Case(((2, 3),), {"axis": (0, 1)}),), differentiable=False, array_0d=True,
    # lengths are Python ints (unknown Dask lengths are refused when called)
    portable=Portable(lambda a, n: "float(" + " * ".join(
        f"{a[0]}.shape[{k}]" for k in n.attr("axis")) + ")", "none", number=True)))


def reduced_count(node: Node) -> Node | float:
    """The number of elements a reduction node reduces over: a float when the lengths
    are known, else a ``shape_size`` node that counts them at run time."""
    x = node.inputs[0]
    axis = node.attr("axis")
    axes = tuple(range(x.ndim)) if axis is None else axis
    dims = [x.shape[a] for a in axes]
    if None in dims:
        return make(_shape_size, [x], {"axis": axes})
    return float(np.prod(dims)) if dims else 1.0
