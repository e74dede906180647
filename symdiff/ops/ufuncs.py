"""More of the NumPy ufuncs a textbook uses, declared by their partials like the
elementwise family: ``arcsinh``, ``arccosh``, ``arctanh``, ``cbrt``, ``sinc``,
``erfc``, ``logaddexp2``, ``round`` (half to even, as NumPy), ``arctan2``, ``hypot``,
``floor``, ``ceil``, ``floor_divide`` and ``mod`` (``//`` and ``%``); the running ``cumsum`` and
``cumprod``; and SymPy's ``sec``, ``csc``, ``cot``, ``acot``, ``coth`` and
``log(x, base)`` built from them.

Conventions:
- Rounding has derivative 0 where it is defined (between the integers), as in JAX;
  ``floor_divide`` (``//``) has derivative 0 too; ``mod`` (``%``) has 1 in ``a``
  and ``-floor(a/b)`` in ``b``, as JAX's ``%``.
- ``cumprod``'s adjoint divides by the inputs: it is NaN where an input is 0.
- ``erfc`` has a run-time helper (NumPy has none; SciPy is never needed).
"""
from __future__ import annotations

import math

import numpy as np

from ..ir import Node, make
from .core import P_ATOM, Case, Op, call_text, np_call, register
from .declare import BINARY_CASES, FUNCTIONS, as_nodes, binary_builder, public
from .elementwise import (
    add, cos, declare_elementwise, power, declare_unary, divide, exp, log, multiply, negative, sqrt,
    square, subtract, zeros_like,
)
from .core import normalize_axis
from .reductions import sum_

declare_unary("arcsinh", np.arcsinh, lambda out, x: divide(1.0, sqrt(add(square(x), 1.0))),
              sympy="asinh", latex=r"\operatorname{arsinh}", math="math.asinh({0})")
# cbrt'(x) = 1/(3 cbrt(x)**2): inf at 0, the one-sided limit, as JAX.
declare_unary("cbrt", np.cbrt, lambda out, x: multiply(1.0 / 3.0, power(out, -2.0)),
              sympy="sign(a)*Abs(a)**(1/3)", latex=r"\sqrt[3]", domain=(0.5, 2.0),
              math="math.cbrt({0})")
# arccosh'(x) = 1/sqrt(x - 1)/sqrt(x + 1): exact near 1, NaN below 1 (outside the
# domain, where 1/sqrt(x**2 - 1) would give a number), its own derivative finite-or-inf.
declare_unary("arccosh", np.arccosh,
              lambda out, x: divide(divide(1.0, sqrt(subtract(x, 1.0))), sqrt(add(x, 1.0))),
              sympy="acosh", latex=r"\operatorname{arcosh}", domain=(1.5, 3.0),
              math="math.acosh({0})")
declare_unary("arctanh", np.arctanh,
              # 1/(1 - x**2) as partial fractions: its derivative is +-inf, not NaN, at +-1.
              lambda out, x: add(divide(0.5, subtract(1.0, x)), divide(0.5, add(1.0, x))),
              sympy="atanh", latex=r"\operatorname{artanh}", domain=(-0.5, 0.5),
              math="math.atanh({0})")


# sinc(x) = sin(pi x)/(pi x), 1 at 0 (NumPy's, normalized). sinc'(x) =
# (cos(pi x) - sinc(x))/x, 0/0 at 0: near 0 (|x| < 0.05) its Maclaurin series,
# sum_k (-1)^k pi^(2k) 2k x^(2k-1)/(2k+1)!, to x^11 (the next term is below 1e-20
# relative there), so that every derivative at 0 is right (sinc''(0) = -pi^2/3). The
# other branch sees x = 1 near 0 (the "double where"), so it never divides by 0.
_SINC_SWITCH = 0.05
_SINC_SERIES = [(-1) ** k * np.pi ** (2 * k) * 2 * k / math.factorial(2 * k + 1)
                for k in range(1, 7)]


def _sinc_partial(out, x):
    where, less, abs_ = FUNCTIONS["where"], FUNCTIONS["less"], FUNCTIONS["abs"]
    small = less(abs_(x), _SINC_SWITCH)
    x2 = square(x)
    series = _SINC_SERIES[-1]
    for c in reversed(_SINC_SERIES[:-1]):
        series = add(c, multiply(x2, series))
    series = multiply(x, series)
    safe = where(small, 1.0, x)
    general = divide(subtract(cos(multiply(np.pi, safe)), FUNCTIONS["sinc"](safe)), safe)
    return where(small, series, general)


def _sinc(x):
    """NumPy's sinc, sin(pi x)/(pi x), with sin(pi x) reduced exactly (fmod(x, 2), then
    quarter turns): 0 at every nonzero integer, where np.sinc gives rounding noise,
    and no overflow of pi x for huge x."""
    x = np.asarray(x)
    x = x.astype(np.result_type(x.dtype, np.float16))
    with np.errstate(invalid="ignore"):
        r = np.fmod(x, 2.0)                      # exact, in (-2, 2)
        n = np.rint(2.0 * r)                     # quarter turns -4..4
        f = np.pi * (r - 0.5 * n)                # |f| <= pi/4; r - n/2 is exact
        quarter = np.mod(n, 4.0)
        s = np.where(quarter == 0, np.sin(f), np.where(quarter == 1, np.cos(f),
                     np.where(quarter == 2, -np.sin(f), -np.cos(f))))
        s = np.where(np.isinf(x), np.nan, s)
        safe = np.where(x == 0, 1.0, x)
        out = np.where(x == 0, 1.0, s / np.pi / safe).astype(x.dtype)
    return out[()]


declare_unary("sinc", _sinc, _sinc_partial, helper=_sinc, sympy="sinc(pi*a)",
              latex=r"\operatorname{sinc}", domain=(0.2, 0.8))


def _erfc(x):
    """The complementary error function, elementwise (NumPy has none): ``math.erfc`` on
    each element (accurate in the tail, where 1 - erf(x) loses every digit)."""
    import math   # here, so that the function can be copied into a module on its own
    x = np.asarray(x)
    dtype = np.result_type(x.dtype, np.float16)
    return np.array(np.frompyfunc(math.erfc, 1, 1)(x), dtype)[()]


# erfc'(x) = -2/sqrt(pi) exp(-x**2)
declare_unary("erfc", _erfc,
              lambda out, x: multiply(-2 / np.sqrt(np.pi), exp(negative(square(x)))),
              helper=_erfc, math="math.erfc({0})", sympy="erfc",
              latex=r"\operatorname{erfc}")


# -- rounding: derivative 0 where defined --------------------------------------------

for _name, _sympy in (("floor", "floor"), ("ceil", "ceiling")):
    declare_unary(_name, getattr(np, _name), lambda out, x: zeros_like(x), sympy=_sympy,
                  latex=rf"\operatorname{{{_name}}}", domain=(0.1, 0.9),
                  math=f"float(math.{_name}({{0}}))")
# NumPy's round is half to even; SymPy has no elementwise form of it, so its SymPy
# formula is nearest-integer rounding, right away from the halves (the test domain).
declare_unary("round", np.round, lambda out, x: zeros_like(x), sympy="floor(a + 1/2)",
              latex=r"\operatorname{round}", domain=(0.1, 0.4), math="float(round({0}))")
# -- binary --------------------------------------------------------------------------


def _arctan2_partials():
    def r2(a, b):
        return add(square(a), square(b))
    return (lambda out, y, x: divide(x, r2(y, x)),
            lambda out, y, x: negative(divide(y, r2(y, x))))


_arctan2 = declare_elementwise(
    "arctan2", np.arctan2, _arctan2_partials(), np_call("np.arctan2"),
    text=call_text("atan2"), latex=lambda n, c: (
        rf"\operatorname{{atan2}}\left({c(n.inputs[0], 0)}, {c(n.inputs[1], 0)}\right)",
        P_ATOM),
    domain=((0.5, 2.0), (0.5, 2.0)), cases=BINARY_CASES, math="math.atan2({0}, {1})",
    sympy="atan2(a, b)")
# hypot(a, b) = sqrt(a**2 + b**2), by np.hypot (scaled: no overflow or underflow).
# Its partials are a/h and b/h, but written as a/h = divide(a, out) their own
# derivative comes out as (1 - (a/h)**2)/h, which cancels when one input dwarfs the
# other (b**2/h**3 loses 6 digits at (800, 1)). So they are written in the ratio
# t = small/large: a/h = sign(a)/sqrt(1 + t**2) and b/h = t * a/h where |a| >= |b|
# (mirrored where |a| < |b|), whose derivatives are products, exact to a few ulp, and
# t <= 1 never overflows. At the origin both are 0 (the smallest subgradient).
def _hypot_partials():
    f = FUNCTIONS

    def ratio_form(big, small):
        """(big/h, small/h) where |big| >= |small|; big is replaced by 1 where it is 0
        (then small is 0 too) so that the unselected side stays finite."""
        t = divide(small, f["where"](f["equal"](big, 0.0), 1.0, big))
        along = divide(f["sign"](big), sqrt(add(square(t), 1.0)))
        return along, multiply(t, along)

    def partials(out, a, b):
        a_big = f["greater_equal"](f["abs"](a), f["abs"](b))
        # each side sees operands that keep it finite (the "double where")
        ua, va = ratio_form(f["where"](a_big, a, 1.0), f["where"](a_big, b, 0.0))
        vb, ub = ratio_form(f["where"](a_big, 1.0, b), f["where"](a_big, 0.0, a))
        return f["where"](a_big, ua, ub), f["where"](a_big, va, vb)

    return (lambda out, a, b: partials(out, a, b)[0],
            lambda out, a, b: partials(out, a, b)[1])


_hypot = declare_elementwise(
    "hypot", np.hypot, _hypot_partials(), np_call("np.hypot"), text=call_text("hypot"),
    latex=lambda n, c: (rf"\sqrt{{{c(n.inputs[0], P_ATOM)}^{{2}} + "
                        rf"{c(n.inputs[1], P_ATOM)}^{{2}}}}", P_ATOM),
    domain=((0.5, 2.0), (0.5, 2.0)), cases=BINARY_CASES, math="math.hypot({0}, {1})",
    sympy="sqrt(a**2 + b**2)")
_floordiv = declare_elementwise(
    "floor_divide", np.floor_divide,
    (lambda out, a, b: zeros_like(out), lambda out, a, b: zeros_like(out)),
    np_call("np.floor_divide"), text=call_text("floor_divide"),
    latex=lambda n, c: (rf"\left\lfloor {c(n.inputs[0], 0)} / {c(n.inputs[1], 0)}"
                        r"\right\rfloor", P_ATOM),
    domain=((0.2, 2.0), (2.5, 3.0)), cases=BINARY_CASES, sympy="floor(a/b)")

# a % b is NumPy's (and Python's) floored remainder, a - b*floor(a/b), with the sign
# of b. Partials as JAX's: 1 in a, -floor(a/b) in b, the quotient as NumPy's // (so
# consistent with the value, and NaN at a = +-inf where the value is NaN too).
_mod = declare_elementwise(
    "mod", np.mod,
    (lambda out, a, b: 1, lambda out, a, b: negative(floor_divide(a, b))),
    np_call("np.mod"), text=call_text("mod"),
    latex=lambda n, c: (rf"{c(n.inputs[0], P_ATOM)} \bmod {c(n.inputs[1], P_ATOM)}",
                        P_ATOM),
    domain=((0.2, 2.0), (2.5, 3.0)), cases=BINARY_CASES, sympy="Mod(a, b)")

# log2(2**a + 2**b); d/da = 2**a/(2**a + 2**b) = sigmoid((a - b) log 2), right at
# infinities too, as logaddexp's.
_LN2 = float(np.log(2.0))
_logaddexp2 = declare_elementwise(
    "logaddexp2", np.logaddexp2,
    (lambda out, a, b: FUNCTIONS["sigmoid"](multiply(subtract(a, b), _LN2)),
     lambda out, a, b: FUNCTIONS["sigmoid"](multiply(subtract(b, a), _LN2))),
    np_call("np.logaddexp2"), text=call_text("logaddexp2"),
    latex=lambda n, c: (rf"\log_2\left(2^{{{c(n.inputs[0], 0)}}} + 2^{{{c(n.inputs[1], 0)}}}"
                        r"\right)", P_ATOM),
    cases=BINARY_CASES, sympy="log(2**a + 2**b, 2)")

arctan2 = public("arctan2")(binary_builder(_arctan2))
hypot = public("hypot")(binary_builder(_hypot))
logaddexp2 = public("logaddexp2")(binary_builder(_logaddexp2))
floor_divide = public("floor_divide")(binary_builder(_floordiv))
mod = public("mod", "remainder")(binary_builder(_mod))

# -- trigonometric and hyperbolic reciprocals (SymPy's names; no op of their own) ----


@public("sec")
def sec(x):
    return divide(1.0, cos(x))


@public("csc")
def csc(x):
    return divide(1.0, FUNCTIONS["sin"](x))


@public("cot")
def cot(x):
    return divide(1.0, FUNCTIONS["tan"](x))


@public("acot")
def acot(x):
    return FUNCTIONS["arctan"](divide(1.0, x))


@public("coth")
def coth(x):
    return divide(1.0, FUNCTIONS["tanh"](x))


@public("logb")
def logb(x, base):
    """``log(x, base)`` as SymPy and ``math.log`` write it: ``log(x) / log(base)``."""
    return divide(log(x), log(base))


# -- running sums and products ---------------------------------------------------------

def _infer_cum(inputs, attrs):
    x = inputs[0]
    dtype = np.result_type(x.dtype, np.float64) if x.dtype.kind in "biu" else x.dtype
    return dtype, x.shape


def _reverse_cumsum(g: Node, axis: int) -> Node:
    """sum_{j >= i} g_j along ``axis``: the adjoint of a running sum."""
    return add(subtract(sum_(g, (axis,), True), cumsum(g, axis)), g)


def _declare_cum(name: str, impl, vjp, jvp) -> Op:
    return register(Op(
        name=name, impl=lambda x, axis: impl(x, axis=axis), infer=_infer_cum,
        code=lambda args, node: f"np.{name}({args[0]}, axis={node.attr('axis')})",
        vjp=vjp, jvp=jvp, text=call_text(name, "axis"),
        batch=lambda args, batched, node: make(node.op, args,
                                               {"axis": node.attr("axis") + 1}),
        latex=lambda n, c: (rf"\operatorname{{{name}}}\left({c(n.inputs[0], 0)}\right)",
                            P_ATOM),
        cases=(Case(((4,),), {"axis": 0}), Case(((2, 3),), {"axis": 1}),
               Case(((2, 3),), {"axis": 0})),
        domain=((0.5, 1.5),) if name == "cumprod" else ()))


_cumsum = _declare_cum(
    "cumsum", np.cumsum, lambda g, node: (_reverse_cumsum(g, node.attr("axis")),),
    lambda t, node: cumsum(t[0], node.attr("axis")))
# d prod_{j<=i} x_j / d x_k = out_i / x_k for k <= i (inputs away from 0).
_cumprod = _declare_cum(
    "cumprod", np.cumprod,
    lambda g, node: (divide(_reverse_cumsum(multiply(g, node), node.attr("axis")),
                            node.inputs[0]),),
    lambda t, node: multiply(node, cumsum(divide(t[0], node.inputs[0]), node.attr("axis"))))


def _cum_builder(op: Op):
    def build(x, axis=None):
        (x,) = as_nodes([x])
        if axis is None:                   # NumPy: over the flattened array
            x = FUNCTIONS["ravel"](x)
            axis = 0
        (axis,) = normalize_axis(axis, x.ndim, op.name)
        return make(op, [x], {"axis": axis})
    return build


cumsum = public("cumsum")(_cum_builder(_cumsum))
cumprod = public("cumprod")(_cum_builder(_cumprod))
