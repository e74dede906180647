"""The elementwise family: ufunc-like ops, declared by their partial derivatives.

Each op gives one partial per input, an expression built from the node and its
inputs (``out`` is the node itself, so ``exp`` and ``tanh`` reuse their result).
From the partials come both rules: VJP ``g * d_i`` for each input and JVP
``sum_i t_i * d_i``. A partial of ``1`` or ``-1`` passes the adjoint through
(negated); ``None`` marks an input that is not differentiable (a condition).
``declare_elementwise`` and ``declare_unary`` are the declaring helpers; an op that
NumPy lacks gives ``declare_unary`` a run-time ``helper`` next to its record.

Kinks follow JAX: ``abs'(0) = 1`` (``x >= 0``), ``relu'(0) = 0``, ``sign' = 0``,
``maximum``/``minimum``/``clip`` split the derivative equally (0.5 each) at ties.
"""
from __future__ import annotations

import numbers
from typing import Any, Callable, Sequence

import numpy as np

from ..ir import Const, Node, make, same_shape
from .. import portable_runtime
from ..runtime import _sigmoid
from . import logistic, powers
from .core import (
    P_ADD, P_ATOM, P_CMP, P_MUL, P_NEG, P_POW, Case, Op, call_latex, call_text,
    infer_elementwise, infix_code, infix_text, inside, np_call, register,
)
from .declare import (
    BINARY_CASES, FUNCTIONS, UNARY_CASES, as_nodes, binary_builder, fn_latex, is_const, public,
    sympy_text, unary_builder,
)
from .portable import Portable, dtype_text, xp_call, xp_infix


def _elementwise_vjp(partials):
    def vjp(g, node):
        return tuple(_scale(g, p(node, *node.inputs)) if p is not None else None
                     for p in partials)
    return vjp


def _elementwise_jvp(partials):
    def jvp(tangents, node):
        terms = [_scale(t, p(node, *node.inputs)) for t, p in zip(tangents, partials)
                 if t is not None and p is not None]
        total = terms[0]
        for term in terms[1:]:
            total = add(total, term)
        # A tangent may have fewer axes than the output (a broadcast operand).
        return total if same_shape(total.shape, node.shape) else broadcast_like(total, node)
    return jvp


def _scale(g: Node, partial: Any) -> Node:
    if isinstance(partial, numbers.Number):
        if partial == 1:
            return g
        if partial == -1:
            return negative(g)
    return multiply(g, partial)


def batch_elementwise(args, batched, node):
    return make(node.op, [align(a, i.ndim, node.ndim) if b else a
                          for a, b, i in zip(args, batched, node.inputs)], node.attrs)



def declare_elementwise(name: str, impl: Callable, partials: Sequence | None, code, *, text, latex,
                        domain: tuple = (), cases: tuple | None = None, math: str | None = None,
                        **properties: Any) -> Op:
    code_fn, out_fn = code
    nondiff = partials is None
    return register(Op(
        name=name, impl=impl, infer=infer_elementwise(name, impl), code=code_fn, out=out_fn,
        vjp=None if nondiff else _elementwise_vjp(partials),
        jvp=None if nondiff else _elementwise_jvp(partials),
        batch=batch_elementwise,
        text=text, latex=latex, elementwise=True, domain=domain,
        cases=cases if cases is not None else UNARY_CASES, math=math,
        differentiable=not nondiff, **properties))


# -- unary --------------------------------------------------------------------------

def declare_unary(name: str, impl: Callable, partial: Callable, *, np_name: str | None = None,
                  helper: Callable | None = None, sympy: str | None = None, latex=None,
                  domain=(), math: str | None = None, call=None, text=None,
                  **properties: Any) -> Op:
    """Declare ``name(x)``, computed by ``np.<name>`` (or ``np_name``), or, for a
    function NumPy lacks, by the run-time function ``helper`` (defined next to the op):
    the generated code calls it by name and imports it from its module.
    ``sympy`` is the SymPy function's name (default ``name``), which ``str`` prints
    too, or a SymPy formula in the operand ``a`` (``"log(1 + a)"``) for a function SymPy
    lacks; ``call`` (code, out) and ``text`` replace the defaults; ``latex`` is a name
    or a printer."""
    if helper is not None:
        call = call or (lambda args, node: f"{helper.__name__}({args[0]})", None)
        properties["helpers"] = (helper,)
    call = call or np_call(np_name or f"np.{name}")
    latex = latex or rf"\operatorname{{{name}}}"
    sympy = sympy or name
    named = sympy.isidentifier()
    op = declare_elementwise(
        name, impl, (partial,), call, text=text or call_text(sympy if named else name),
        latex=latex if callable(latex) else fn_latex(latex),
        domain=(domain,) if domain else (), math=math,
        sympy=f"{sympy}(a)" if named else sympy, **properties)
    FUNCTIONS[name] = unary_builder(op)
    return op


declare_unary("exp", np.exp, lambda out, x: out, math="math.exp({0})", blows_up=True,
              latex=lambda n, c: (f"e^{{{c(n.inputs[0], 0)}}}", P_POW),
              portable=xp_call("exp"),
              numba="math.exp({0})", numba_split=("{0}", "np.exp", "{0}"))
declare_unary("log", np.log, lambda out, x: divide(1.0, x), latex=r"\log", domain=(0.2, 3.0),
              math="math.log({0})", blows_up=True,
              portable=xp_call("log"),
              numba="math.log({0})")
declare_unary("sqrt", np.sqrt, lambda out, x: divide(0.5, out),
              latex=lambda node, child: (rf"\sqrt{{{child(node.inputs[0], 0)}}}", P_ATOM),
              domain=(0.2, 3.0), math="math.sqrt({0})", same_type=True, blows_up=True,
              portable=xp_call("sqrt"),
              numba="math.sqrt({0})")
declare_unary("sin", np.sin, lambda out, x: cos(x), latex=r"\sin", math="math.sin({0})",
              portable=xp_call("sin"),
              numba="math.sin({0})")
declare_unary("cos", np.cos, lambda out, x: negative(sin(x)), latex=r"\cos",
              math="math.cos({0})",
              portable=xp_call("cos"),
              numba="math.cos({0})")
declare_unary("tan", np.tan, lambda out, x: add(1.0, square(out)), latex=r"\tan",
              domain=(-1.2, 1.2), math="math.tan({0})", blows_up=True,
              portable=xp_call("tan"),
              numba="math.tan({0})")
declare_unary("tanh", np.tanh, lambda out, x: subtract(1.0, square(out)), latex=r"\tanh",
              math="math.tanh({0})",
              portable=xp_call("tanh"),
              numba="math.tanh({0})")
declare_unary("sinh", np.sinh, lambda out, x: cosh(x), latex=r"\sinh", math="math.sinh({0})",
              blows_up=True,
              portable=xp_call("sinh"),
              numba="math.sinh({0})")
declare_unary("cosh", np.cosh, lambda out, x: sinh(x), latex=r"\cosh", math="math.cosh({0})",
              blows_up=True,
              portable=xp_call("cosh"),
              numba="math.cosh({0})")
declare_unary("arcsin", np.arcsin, lambda out, x: divide(1.0, sqrt(subtract(1.0, square(x)))),
              sympy="asin", latex=r"\arcsin", domain=(-0.9, 0.9), math="math.asin({0})",
              blows_up=True,
              portable=xp_call("asin"),
              numba="math.asin({0})")
declare_unary("arccos", np.arccos,
              lambda out, x: negative(divide(1.0, sqrt(subtract(1.0, square(x))))),
              sympy="acos", latex=r"\arccos", domain=(-0.9, 0.9), math="math.acos({0})",
              blows_up=True,
              portable=xp_call("acos"),
              numba="math.acos({0})")
declare_unary("arctan", np.arctan, lambda out, x: divide(1.0, add(1.0, square(x))),
              sympy="atan", latex=r"\arctan", math="math.atan({0})",
              portable=xp_call("atan"),
              numba="math.atan({0})")
declare_unary("sign", np.sign, lambda out, x: zeros_like(x), latex=r"\operatorname{sign}",
              domain="nonzero",
              portable=xp_call("sign"),
              numba="np.sign({0})")
# abs'(0) = 1 as in JAX (select(x >= 0, g, -g)).
declare_unary("abs", np.abs, lambda out, x: subtract(multiply(2.0, greater_equal(x, 0.0)), 1.0),
              np_name="np.abs", sympy="Abs", domain="nonzero", math="abs({0})",
              latex=lambda node, child: (rf"\left|{{{child(node.inputs[0], 0)}}}\right|", P_ATOM),
              portable=xp_call("abs"),
              numba="abs({0})")

# Functions with a more accurate NumPy form than their SymPy spelling print by their
# own name (log(1 + x) loses x's digits near 0, log(1 + exp(x)) overflows): SymPy
# reads them through symdiff.sympy_bridge.sympy_names().
declare_unary("log1p", np.log1p, lambda out, x: divide(1.0, add(1.0, x)),
              sympy="log(1 + a)",
              latex=r"\operatorname{log1p}", domain=(-0.5, 2.0), math="math.log1p({0})",
              blows_up=True,
              portable=xp_call("log1p"),
              numba="math.log1p({0})")
declare_unary("expm1", np.expm1, lambda out, x: add(out, 1.0), latex=r"\operatorname{expm1}",
              sympy="exp(a) - 1",
              math="math.expm1({0})", blows_up=True,
              portable=xp_call("expm1"),
              numba="math.expm1({0})")
declare_unary("square", np.square, lambda out, x: multiply(2.0, x), same_type=True,
              sympy="a**2",
              text=lambda n, c: (f"{c(n.inputs[0], P_POW + 1)}**2", P_POW),
              latex=lambda n, c: (f"{c(n.inputs[0], P_POW + 1)}^{{2}}", P_POW),
              math="{0} * {0}",
              portable=xp_call("square"),
              numba="({0} * {0})")

# sigmoid(x) = e / (1 + e), e = exp(min(x, top)): exact in both tails, never overflows
# (see symdiff/ops/logistic.py for the form and why it was chosen).
declare_unary("sigmoid", logistic.sigmoid, lambda out, x: multiply(out, subtract(1.0, out)),
              sympy="1/(1 + exp(-a))",
              latex=r"\sigma", math="(1.0 / (1.0 + math.exp(-{0})))",
              # Python floats: math.exp raises OverflowError below -709.78 and the
              # function then runs its NumPy twin, which is exact there.
              call=(lambda args, node: f"_sigmoid({args[0]}, {logistic.sigmoid_top(node.dtype)})",
                    None),
              helpers=(_sigmoid,),
              steps=logistic.sigmoid_steps,   # arrays: one buffer, one temporary
              text=sympy_text(lambda n, c: (f"1/(1 + exp(-{c(n.inputs[0], P_POW)}))", P_MUL),
                              "sigmoid"),
              portable=Portable(lambda a, n: (f"_xp_sigmoid(xp, {a[0]}, "
                                              f"{logistic.sigmoid_top(n.dtype)!r})"),
                                helpers=(portable_runtime._xp_sigmoid,)),
                                numba="(math.exp(39.0 if {0} > 39.0 else {0})"   # float64's top, as below
                    " / (math.exp(39.0 if {0} > 39.0 else {0}) + 1.0))",
              numba_split=("(39.0 if {0} > 39.0 else {0})", "np.exp", "({0} / ({0} + 1.0))"))
# softplus(x) = log(1 + exp(x)) = logaddexp(0, x): exact and overflow-free.
declare_unary("softplus", lambda x: np.logaddexp(0.0, x), lambda out, x: sigmoid(x),
              sympy="log(1 + exp(a))",
              latex=r"\operatorname{softplus}",
              call=(lambda args, node: f"np.logaddexp(0.0, {args[0]})",
                    lambda args, node, buf: f"np.logaddexp(0.0, {args[0]}, out={buf})"),
              portable=Portable(lambda a, n: f"_xp_softplus(xp, {a[0]})",
                                helpers=(portable_runtime._xp_softplus,)),
                                numba="(({0} if {0} > 0.0 else 0.0) + math.log1p(math.exp(-abs({0}))))")
# relu'(0) = 0 as in JAX.
declare_unary("relu", lambda x: np.maximum(x, 0.0), lambda out, x: greater(x, 0.0),
              sympy="Max(0, a)",
              latex=r"\operatorname{relu}", domain="nonzero", math="max({0}, 0.0)",
              call=(lambda args, node: f"np.maximum({args[0]}, 0.0)",
                    lambda args, node, buf: f"np.maximum({args[0]}, 0.0, out={buf})"),
              text=sympy_text(lambda n, c: (f"Max(0, {c(n.inputs[0], 0)})", P_ATOM), "relu"),
              portable=Portable(lambda a, n: (f"xp.maximum({a[0]}, xp.asarray(0.0, "
                                              f"dtype={dtype_text(n.dtype)}))")),
                                              numba="(0.0 if {0} < 0.0 else {0})")


def _erf(x):
    """The error function, elementwise (NumPy has none): ``math.erf``, within an ulp,
    on each element, in the float dtype NumPy's own ufuncs give (float64 for ints)."""
    import math   # here, so that the function can be copied into a module on its own
    x = np.asarray(x)
    dtype = np.result_type(x.dtype, np.float16)
    return np.array(np.frompyfunc(math.erf, 1, 1)(x), dtype)[()]


# erf'(x) = 2/sqrt(pi) exp(-x**2)
declare_unary("erf", _erf,
              lambda out, x: multiply(2 / np.sqrt(np.pi), exp(negative(square(x)))),
              helper=_erf, math="math.erf({0})", sympy="erf", latex=r"\operatorname{erf}",
              numba="math.erf({0})")

_neg = declare_elementwise(
    "neg", np.negative, (lambda out, x: -1,),
    (lambda a, n: f"-{a[0]}", lambda a, n, o: f"np.negative({a[0]}, out={o})"),
    text=lambda n, c: (f"-{c(n.inputs[0], P_NEG)}", P_NEG),
    latex=lambda n, c: (f"-{c(n.inputs[0], P_NEG)}", P_NEG), math="(-{0})",
    sympy="-a", symbol="\u2212x", same_type=True,
    portable=Portable(lambda a, n: f"-{a[0]}", infix=True),
    numba="(-{0})")
negative = public("negative", "neg")(unary_builder(_neg))

# -- binary ----------------------------------------------------------------------------

def _logical_text(name: str, arithmetic: Callable) -> Callable:
    """Booleans added or multiplied are ``or``, ``and``: printed by those names, which
    both readers (and SymPy, as ``Or``, ``And``) take for booleans."""
    def text(node, child):
        if node.dtype == np.bool_:
            return f"{name}({child(node.inputs[0], 0)}, {child(node.inputs[1], 0)})", P_ATOM
        return arithmetic(node, child)
    return text


_add = declare_elementwise(
    "add", np.add, (lambda out, a, b: 1, lambda out, a, b: 1),
    infix_code("+", "np.add"),
    text=_logical_text("logical_or", infix_text("+", P_ADD, associative=True)),
    latex=lambda n, c: (_latex_add(c(n.inputs[0], P_ADD), c(n.inputs[1], P_ADD)),
                        P_ADD),
    cases=BINARY_CASES, math="({0} + {1})", sympy="a + b", symbol="+", commutative=True,
    same_type=True,
    portable=Portable(lambda a, n: _bool_or(n, a, "+", "logical_or"), infix=True),
    numba="({0} + {1})")
_sub = declare_elementwise(
    "sub", np.subtract, (lambda out, a, b: 1, lambda out, a, b: -1),
    infix_code("-", "np.subtract"), text=infix_text("-", P_ADD),
    latex=lambda n, c: (f"{c(n.inputs[0], P_ADD)} - {c(n.inputs[1], P_ADD + 1)}",
                        P_ADD),
    cases=BINARY_CASES, math="({0} - {1})", sympy="a - b", symbol="\u2212", same_type=True,
    portable=xp_infix("-"),
    numba="({0} - {1})")
_mul = declare_elementwise(
    "mul", np.multiply, (lambda out, a, b: b, lambda out, a, b: a),
    infix_code("*", "np.multiply"),
    text=_logical_text("logical_and", infix_text("*", P_MUL, associative=True)),
    latex=lambda n, c: (_latex_mul(n, c), P_MUL), cases=BINARY_CASES,
    math="({0} * {1})", sympy="a*b", symbol="\u00d7", commutative=True, same_type=True,
    portable=Portable(lambda a, n: _bool_or(n, a, "*", "logical_and"), infix=True),
    numba="({0} * {1})")
_div = declare_elementwise(
    "div", np.divide,
    (lambda out, a, b: divide(1.0, b), lambda out, a, b: negative(divide(out, b))),
    infix_code("/", "np.divide"), text=infix_text("/", P_MUL),
    latex=lambda n, c: (rf"\frac{{{c(n.inputs[0], 0)}}}{{{c(n.inputs[1], 0)}}}",
                        P_ATOM),
    domain=((-2.0, 2.0), "nonzero"), cases=BINARY_CASES, math="({0} / {1})",
    sympy="a/b", symbol="/", same_type=True, blows_up=True,
    portable=xp_infix("/"),
    numba="({0} / {1})")
# The partials are written so they hold at a zero base too: see powers.py.
_pow = declare_elementwise(
    "pow", np.power, (powers.base_partial, powers.exponent_partial),
    (lambda a, n: f"{a[0]} ** {a[1]}",
     lambda a, n, o: f"np.power({a[0]}, {a[1]}, out={o})"),
    text=infix_text("**", P_POW, right_assoc=True),
    latex=lambda n, c: (f"{c(n.inputs[0], P_POW + 1)}^{{{c(n.inputs[1], 0)}}}",
                        P_POW),
    domain=((0.5, 2.0), (-2.0, 2.0)), cases=BINARY_CASES, math="math.pow({0}, {1})",
    sympy="a**b", symbol="**", blows_up=True,
    portable=xp_infix("**"),
    numba="({0} ** {1})")


def _bool_or(node: Node, a: list[str], symbol: str, logical: str) -> str:
    # NumPy's + and * of booleans are or and and; the standard has no arithmetic on them
    if node.dtype == np.bool_:
        return f"xp.{logical}({a[0]}, {a[1]})"
    return f"{a[0]} {symbol} {a[1]}"


def _latex_add(left: str, right: str) -> str:
    # x + -y is written x - y (the sign belongs to the right operand's first term)
    return f"{left} - {right[1:].lstrip()}" if right.startswith("-") else f"{left} + {right}"


def _latex_mul(node, child):
    # Scalars multiply by juxtaposition as in SymPy (a dot only before a number),
    # tensors elementwise with \odot; a column times a row is an outer product.
    a, b = node.inputs
    if (a.op.name == "expand_dims" and inside(child, a) and a.attr("axis") == (1,)
            and a.inputs[0].ndim == 1 and b.ndim == 1):
        v = a.inputs[0]
        v_text = child(v, P_MUL if v.op.name == "matmul" else P_MUL + 1)
        return rf"{v_text} {child(b, P_POW + 1)}^{{\top}}"
    # a (b c) = a b c: a product on the right needs no parentheses (not so a quotient);
    # a matrix product next to \odot does: (A x) \odot y
    left = child(a, P_MUL + 1 if a.op.name == "matmul" and b.ndim else P_MUL)
    right = child(b, P_MUL if b.op.name == "mul" and (a.ndim and b.ndim or not b.ndim)
                  else P_MUL + 1)
    if a.ndim and b.ndim:
        return rf"{left} \odot {right}"
    if right[:1].isdigit() or right[:1] in "-." or left[-1:] == "}" and right[:1] == "{":
        return rf"{left} \cdot {right}"
    return f"{left} {right}"


add = public("add")(binary_builder(_add))
subtract = public("subtract", "sub")(binary_builder(_sub))
multiply = public("multiply", "mul")(binary_builder(_mul))
divide = public("divide", "div", "true_divide")(binary_builder(_div))


@public("power", "pow")
def power(a, b):
    a, b = as_nodes([a, b])
    # An integer exponent on a float base stays a float power (NumPy: float ** int).
    if b.op.name == "const" and b.dtype.kind in "iu" and a.dtype.kind == "f":
        b = Const(b.value, a.dtype)
    return make(_pow, [a, b])


def _tie(a, b):
    """d max(a, b) / d a: 1 where a > b, 1/2 at ties (as JAX), 0 elsewhere."""
    return add(greater(a, b), multiply(0.5, equal(a, b)))


_max2 = declare_elementwise(
    "maximum", np.maximum,
    (lambda out, a, b: _tie(a, b), lambda out, a, b: _tie(b, a)),
    np_call("np.maximum"), text=sympy_text(
        lambda n, c: (f"Max({c(n.inputs[0], 0)}, {c(n.inputs[1], 0)})", P_ATOM),
        "maximum"),
    latex=call_latex(r"\max"), cases=BINARY_CASES, sympy="Max(a, b)", commutative=True,
    portable=xp_call("maximum"),
    numba="({0} if {0} > {1} or {0} != {0} else {1})")
_min2 = declare_elementwise(
    "minimum", np.minimum,
    (lambda out, a, b: _tie(b, a), lambda out, a, b: _tie(a, b)),
    np_call("np.minimum"), text=sympy_text(
        lambda n, c: (f"Min({c(n.inputs[0], 0)}, {c(n.inputs[1], 0)})", P_ATOM),
        "minimum"),
    latex=call_latex(r"\min"), cases=BINARY_CASES, sympy="Min(a, b)", commutative=True,
    portable=xp_call("minimum"),
    numba="({0} if {0} < {1} or {0} != {0} else {1})")
maximum = public("maximum")(binary_builder(_max2))
minimum = public("minimum")(binary_builder(_min2))
# log(exp(a) + exp(b)) without overflow. d/da = exp(a)/(exp(a) + exp(b)) = sigmoid(a - b):
# also right where a or b is infinite (exp(a - out) would be inf - inf there).
_logaddexp = declare_elementwise(
    "logaddexp", np.logaddexp,
    (lambda out, a, b: sigmoid(subtract(a, b)), lambda out, a, b: sigmoid(subtract(b, a))),
    np_call("np.logaddexp"), text=call_text("logaddexp"),
    latex=lambda n, c: (rf"\log\left(e^{{{c(n.inputs[0], 0)}}} + e^{{{c(n.inputs[1], 0)}}}"
                        r"\right)", P_ATOM),
    cases=BINARY_CASES, sympy="log(exp(a) + exp(b))",
    portable=xp_call("logaddexp"),
    # NumPy's own case split: equal operands (infinities too), either order, nan
    numba="({0} + 0.6931471805599453 if {0} == {1} else {0} + math.log1p(math.exp({1} - {0}))"
          " if {0} > {1} else {1} + math.log1p(math.exp({0} - {1})) if {0} < {1} else {0} - {1})")
logaddexp = public("logaddexp")(binary_builder(_logaddexp))

# -- comparisons and logic (not differentiable; for where) --------------------------

# name: (Python's operator, NumPy's function, SymPy's form)
_CMP = {"less": ("<", np.less, "a < b"), "less_equal": ("<=", np.less_equal, "a <= b"),
        "greater": (">", np.greater, "a > b"),
        "greater_equal": (">=", np.greater_equal, "a >= b"),
        "equal": ("==", np.equal, "Eq(a, b)"), "not_equal": ("!=", np.not_equal, "Ne(a, b)")}


def _equality_text(function: str, symbol: str) -> Callable:
    """0-d ``a == b`` prints as SymPy's ``Eq(a, b)`` (SymPy reads ``==`` as a test of
    equal formulas, not an equation); arrays as Python's ``a == b``."""
    infix = infix_text(symbol, P_CMP, chains=True)

    def text(node, child):
        if node.shape != ():
            return infix(node, child)
        return f"{function}({child(node.inputs[0], 0)}, {child(node.inputs[1], 0)})", P_ATOM
    return text


for _name, (_sym, _impl, _sympy) in _CMP.items():
    _op = declare_elementwise(
        _name, _impl, None, infix_code(_sym, f"np.{_name}"),
        text=(_equality_text(_sympy[:2], _sym) if _sym in ("==", "!=")
              else infix_text(_sym, P_CMP, chains=True)),
        latex=lambda n, c, s=_sym: (
            f"{c(n.inputs[0], P_CMP + 1)} {_LATEX_CMP[s]} {c(n.inputs[1], P_CMP + 1)}",
            P_CMP),
        cases=BINARY_CASES, sympy=_sympy, commutative=_name in ("equal", "not_equal"),
        portable=xp_infix(_sym, "common"),
        numba=f"({{0}} {_sym} {{1}})")
    FUNCTIONS[_name] = binary_builder(_op)
_LATEX_CMP = {"<": "<", "<=": r"\le", ">": ">", ">=": r"\ge", "==": "=", "!=": r"\ne"}
less, less_equal = FUNCTIONS["less"], FUNCTIONS["less_equal"]
greater, greater_equal = FUNCTIONS["greater"], FUNCTIONS["greater_equal"]
equal, not_equal = FUNCTIONS["equal"], FUNCTIONS["not_equal"]

for _name, _sympy in (("logical_and", "And(a, b)"), ("logical_or", "Or(a, b)")):
    _op = declare_elementwise(
        _name, getattr(np, _name), None, np_call(f"np.{_name}"),
        text=call_text(_name), latex=call_latex(rf"\operatorname{{{_name}}}"),
        domain=("bool", "bool"), cases=BINARY_CASES, sympy=_sympy, commutative=True,
        portable=xp_call(_name, "none"),
        numba="({0} and {1})" if _name == "logical_and" else "({0} or {1})")
    FUNCTIONS[_name] = binary_builder(_op)
_lnot = declare_elementwise(
    "logical_not", np.logical_not, None, np_call("np.logical_not"),
    text=call_text("logical_not"), latex=call_latex(r"\lnot"), domain=("bool",),
    sympy="Not(a)",
    portable=xp_call("logical_not", "none"),
    numba="(not {0})")
FUNCTIONS["logical_not"] = unary_builder(_lnot)

def _where_text(node, child):
    # where(c, 2, -1) would read back as integers (and 1/where(...) fail): when both
    # branches are whole-number float constants, one is written as a float
    c, a, b = node.inputs
    texts = [child(c, 0), child(a, 0), child(b, 0)]
    if node.dtype.kind == "f" and all(i.op.name == "const" for i in (a, b)) and \
            texts[2].lstrip("-").isdigit() and texts[1].lstrip("-").isdigit():
        texts[2] += ".0"
    return f"where({', '.join(texts)})", P_ATOM


# -- ternary ----------------------------------------------------------------------------

_where = declare_elementwise(
    "where", np.where,
    (None, lambda out, c, a, b: _select(c, 1.0, 0.0),
     lambda out, c, a, b: _select(c, 0.0, 1.0)),
    (np_call("np.where")[0], None), text=lambda n, c: _where_text(n, c),
    latex=lambda n, c: (rf"\begin{{cases}}{c(n.inputs[1], 0)} & "
                        rf"{c(n.inputs[0], 0)}\\ {c(n.inputs[2], 0)} & "
                        rf"\text{{otherwise}}\end{{cases}}", P_ATOM),
    domain=("bool", (-2.0, 2.0), (-2.0, 2.0)),
    cases=(Case(((), (), ())), Case(((3,), (3,), (3,))),
           Case(((2, 3), (3,), ()))), array_0d=True,
    portable=xp_call("where", "where"),
    numba="({1} if {0} else {2})")


def _select(c, a, b):
    return make(_where, as_nodes([c, a, b]))


@public("where")
def where(condition, x, y):
    c, a, b = as_nodes([condition, x, y])
    if c.dtype != np.bool_:
        c = not_equal(c, 0)
    return make(_where, [c, a, b])


# clip(x, lo, hi) = min(max(x, lo), hi), as NumPy computes it (hi wins when lo > hi),
# differentiated as that composition: the ties split as in maximum and minimum.
_clip = declare_elementwise(
    "clip", np.clip,
    (lambda out, x, lo, hi: multiply(_tie(x, lo), _tie(hi, maximum(x, lo))),
     lambda out, x, lo, hi: multiply(_tie(lo, x), _tie(hi, maximum(x, lo))),
     lambda out, x, lo, hi: _tie(maximum(x, lo), hi)),
    np_call("np.clip"), text=call_text("clip"), latex=call_latex(
        r"\operatorname{clip}"),
    domain=((-2.0, 2.0), (-1.0, -0.5), (0.5, 1.0)),
    cases=(Case(((), (), ())), Case(((2, 3), (), ()))), array_0d=True,
    # min(max(x, lo), hi) as NumPy computes it (hi wins if lo > hi)
    portable=Portable(lambda a, n: f"xp.minimum(xp.maximum({a[0]}, {a[1]}), {a[2]})"))


@public("clip")
def clip(x, a_min, a_max):
    return make(_clip, as_nodes([x, a_min, a_max]))


# -- dtype ---------------------------------------------------------------------------------

def _infer_astype(inputs, attrs):
    return np.dtype(attrs["dtype"]), inputs[0].shape


# A change of dtype; gradients come back in the dtype of what they differentiate.
_astype = register(Op(
    name="astype", impl=lambda x, dtype: np.asarray(x).astype(dtype), infer=_infer_astype,
    code=lambda args, node: f"np.array({args[0]}, dtype=np.{node.attr('dtype')})",
    vjp=lambda g, node: (astype(g, node.inputs[0].dtype),),
    jvp=lambda t, node: astype(t[0], node.dtype),
    batch=batch_elementwise, elementwise=True,
    text=lambda n, c: (f"{c(n.inputs[0], P_ATOM)}.astype({n.attr('dtype')!r})", P_ATOM),
    latex=lambda n, c: (c(n.inputs[0], P_ATOM), P_ATOM),
    cases=(Case(((),), {"dtype": "float64"}), Case(((3,),), {"dtype": "float64"}),
           Case(((2, 3),), {"dtype": "float64"})), sympy="a", array_0d=True,
    portable=Portable(lambda a, n: f"xp.astype({a[0]}, {dtype_text(n.dtype)})", "none")))


@public("astype")
def astype(x, dtype):
    """``x`` as ``dtype`` (a no-op when it already has it)."""
    (x,) = as_nodes([x])
    dtype = np.dtype(dtype)
    if dtype == x.dtype:
        return x
    return make(_astype, [x], {"dtype": dtype.name})


def sum_terms(terms: Sequence[Node | None]) -> Node:
    """The sum of the terms that are not None (at least one is not)."""
    terms = [t for t in terms if t is not None]
    total = terms[0]
    for t in terms[1:]:
        total = add(total, t)
    return total


exp, log, sqrt = FUNCTIONS["exp"], FUNCTIONS["log"], FUNCTIONS["sqrt"]
sin, cos, tan = FUNCTIONS["sin"], FUNCTIONS["cos"], FUNCTIONS["tan"]
sinh, cosh, tanh = FUNCTIONS["sinh"], FUNCTIONS["cosh"], FUNCTIONS["tanh"]
absolute, square, sigmoid = FUNCTIONS["abs"], FUNCTIONS["square"], FUNCTIONS["sigmoid"]

# The shape family builds on the ops above; the rules above call these of its builders
# only when they run, once both modules are loaded (symdiff/ops/__init__.py loads this
# module first).
from .shape import align, broadcast_like, zeros_like  # noqa: E402
