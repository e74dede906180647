"""The op table: every primitive declared once, with all of its parts.

Elementwise ops are declared by their partial derivatives, one expression per
input, built from the node and its inputs (``out`` is the node itself, so
``exp`` and ``tanh`` reuse their result). From the partials come both rules:
VJP ``g * d_i`` for each input and JVP ``sum_i t_i * d_i``. A partial of ``1``
or ``-1`` passes the adjoint through (negated); ``None`` marks an input that is
not differentiable (a condition).

Kinks follow JAX: ``abs'(0) = 1`` (``x >= 0``), ``relu'(0) = 0``, ``sign' = 0``,
``maximum``/``minimum``/``clip`` split the derivative equally (0.5 each) at ties,
the gradient of ``max``/``min`` reductions is shared equally among tied maxima.
"""
from __future__ import annotations

import numbers
from typing import Any, Callable, NamedTuple, Sequence

import numpy as np

from ..errors import ShapeError
from ..ir import Const, Node, as_node, broadcast_shapes, fmt_shape, make, same_shape
from . import logistic, powers
from ..runtime import _log_softmax, _logsumexp, _logsumexp_softmax, _sigmoid, _softmax
from .core import (
    OPS, P_ADD, P_ATOM, P_CMP, P_MUL, P_NEG, P_POW, Case, Op, call_latex, call_text,
    float_dtype, infer_elementwise, infix_code, infix_text, normalize_axis, np_call,
    reduced_shape, register, shape_error, fmt_attr,
)

FUNCTIONS: dict[str, Callable] = {}


def public(*names: str):
    """Export a builder as ``sd.<name>`` (and under NumPy's other spellings)."""
    def deco(fn):
        for name in names or (fn.__name__,):
            FUNCTIONS[name] = fn
        return fn
    return deco


def _nodes(args: Sequence[Any]) -> list[Node]:
    """Wrap Python scalars with the dtype of the symbolic operands (NEP 50)."""
    like = next((a for a in args if isinstance(a, Node) and a.dtype.kind == "f"), None)
    if like is None:
        like = next((a for a in args if isinstance(a, Node)), None)
    return [as_node(a, like) for a in args]


def _const_value(node: Node) -> Any:
    return node.value if node.op.name == "const" else None


def _is_const(node: Node, value: float) -> bool:
    v = _const_value(node)
    return v is not None and v.shape == () and v == value


# ================================================================================
# Batching rules (symdiff.batching): an input may carry an extra leading batch axis
# ================================================================================

_ALL = ("slice", None, None, None)


def _align(x: Node, ndim: int, out_ndim: int) -> Node:
    """A batched operand of ``ndim`` axes lined up with a batched result of ``out_ndim``
    axes: the axes it broadcasts over go after the batch axis, not before it."""
    extra = out_ndim - ndim
    return expand_dims(x, tuple(range(1, 1 + extra))) if extra > 0 else x


def _example(x: Node, batched: bool) -> Node:
    """One example of a batched operand, for rules that only read its shape."""
    return make(_getitem, [x], {"index": (0,)}) if batched else x


def _materialize(x: Node, like: Node) -> Node:
    """An unbatched ``x`` repeated along the batch axis of the batched ``like``."""
    size = like.shape[0]
    if size is not None and None not in x.shape:
        return broadcast_to(x, (size,) + x.shape)
    lead = zeros_like(getitem(like, (slice(None),) + (0,) * (like.ndim - 1)))
    return add(x, expand_dims(lead, tuple(range(1, 1 + x.ndim))) if x.ndim else lead)


def _batch_elementwise(args, batched, node):
    return make(node.op, [_align(a, i.ndim, node.ndim) if b else a
                          for a, b, i in zip(args, batched, node.inputs)], node.attrs)


def _batch_reduce(args, batched, node):
    (x,) = args
    axis = node.attr("axis")
    axis = tuple(range(1, x.ndim)) if axis is None else tuple(a + 1 for a in axis)
    return make(node.op, [x], {"axis": axis, "keepdims": node.attr("keepdims")})


def _batch_axis(args, batched, node):
    return make(node.op, args, {"axis": node.attr("axis") + 1})


def _batch_matmul(args, batched, node):
    (a, b), (ba, bb), (a0, b0) = args, batched, node.inputs
    if ba and not bb and b0.ndim <= 2:
        return matmul(a, b)           # (B, ..., k) @ (k[, m])
    if bb and not ba and b0.ndim >= 2 and a0.ndim <= 2:
        return matmul(a, b)           # (n, k) @ (B, ..., k, m)
    if bb and not ba and b0.ndim == 1:
        return matmul(b, a if a0.ndim == 1 else _mT(a))   # one GEMM: (B, k) @ (k, n)
    if ba and bb and a0.ndim == 1 and b0.ndim == 1:
        return sum_(multiply(a, b), (1,))
    # General case: make both operands stacks of matrices whose batch axis comes first.
    rank = max(a0.ndim, b0.ndim, 2) - 2
    if a0.ndim == 1:
        a = expand_dims(a, (a.ndim - 1,))
    if b0.ndim == 1:
        b = expand_dims(b, (b.ndim,))
    if ba:
        a = _align(a, max(a0.ndim, 2), rank + 2)
    if bb:
        b = _align(b, max(b0.ndim, 2), rank + 2)
    out = matmul(a, b)
    if a0.ndim == 1:
        out = squeeze(out, (out.ndim - 2,))
    if b0.ndim == 1:
        out = squeeze(out, (out.ndim - 1,))
    return out


def _batch_outer(args, batched, node):
    a, b = args
    a = expand_dims(a, (a.ndim,)) if batched[0] else expand_dims(a, (1,))
    b = expand_dims(b, (1,)) if batched[1] else b
    return multiply(a, b)


def _batch_reshape(args, batched, node):
    (x,) = args
    if None not in node.shape:
        return reshape(x, (-1,) + node.shape)
    if x.shape[0] is not None:
        return reshape(x, (x.shape[0],) + node.attr("shape"))
    example = make(_reshape, [_example(x, True)], node.attrs)
    return make(_reshape_like, [x, _materialize(example, x)])


def _batch_transpose(args, batched, node):
    return make(_transpose, args, {"axes": (0,) + tuple(a + 1 for a in node.attr("axes"))})


def _batch_shift_axes(args, batched, node):
    """Ops whose only attribute is ``axis``, a tuple of axes (expand_dims, squeeze, ...)."""
    return make(node.op, args, {"axis": tuple(a + 1 for a in node.attr("axis"))})


def _batch_reshape_like(args, batched, node):
    x, ref = args
    ref = _example(ref, batched[1])
    if not batched[0]:
        return make(_reshape_like, [x, ref])
    if x.shape[0] is not None and None not in ref.shape:
        return reshape(x, (x.shape[0],) + ref.shape)
    return make(_reshape_like, [x, _materialize(ref, x)])


def _batch_broadcast_to(args, batched, node):
    (x,) = args
    shape = node.attr("shape")
    x = _align(x, node.inputs[0].ndim, len(shape))
    if x.shape[0] is not None:
        return broadcast_to(x, (x.shape[0],) + shape)
    return add(x, Const(np.zeros(shape), x.dtype if x.dtype.kind == "f" else None))


def _batch_broadcast_like(args, batched, node):
    x, ref = args
    if batched[1]:
        x = _align(x, node.inputs[0].ndim, node.ndim) if batched[0] else x
        return broadcast_like(x, ref)
    if not batched[0]:
        return broadcast_like(x, ref)
    x = _align(x, node.inputs[0].ndim, node.ndim)
    if x.shape[0] is not None and None not in ref.shape:
        return broadcast_to(x, (x.shape[0],) + ref.shape)
    return add(x, zeros_like(ref))


def _batch_getitem(args, batched, node):
    return make(_getitem, args, {"index": (_ALL,) + node.attr("index")})


def _batch_embed(args, batched, node):
    g, ref = args
    ref = _example(ref, batched[1])
    if not batched[0]:
        return make(_embed, [g, ref], dict(node.attrs))
    return make(_embed, [g, _materialize(ref, g)], {"index": (_ALL,) + node.attr("index")})


def _batch_concat(args, batched, node):
    like = args[batched.index(True)]
    parts = [a if b else _materialize(a, like) for a, b in zip(args, batched)]
    return make(_concat, parts, {"axis": node.attr("axis") + 1})


def _batch_concat_part(args, batched, node):
    g, parts = args[0], [_example(p, b) for p, b in zip(args[1:], batched[1:])]
    axis, part = node.attr("axis"), node.attr("part")
    if not batched[0]:
        return make(_concat_part, [g, *parts], dict(node.attrs))
    # The parts give lengths only: a length-1 batch axis will do, except for the one
    # whose shape is the result's.
    parts = [_materialize(p, g) if i == part else expand_dims(p, (0,))
             for i, p in enumerate(parts)]
    return make(_concat_part, [g, *parts], {"axis": axis + 1, "part": part})


def _batch_concat_pad(args, batched, node):
    g, parts = args[0], [_example(p, b) for p, b in zip(args[1:], batched[1:])]
    if not batched[0]:
        return make(_concat_pad, [g, *parts], dict(node.attrs))
    parts = [_materialize(p, g) for p in parts]
    return make(_concat_pad, [g, *parts], {"axis": node.attr("axis") + 1,
                                           "part": node.attr("part")})



# ================================================================================
# Elementwise
# ================================================================================

UNARY_CASES = (Case(((),)), Case(((3,),)), Case(((2, 3),)))
BINARY_CASES = (Case(((), ())), Case(((3,), (3,))), Case(((2, 3), (3,))),
                Case(((2, 1), (1, 3))), Case(((), (2, 3))))


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


def elementwise(name: str, impl: Callable, partials: Sequence | None, code, *, text, latex,
                domain: tuple = (), cases: tuple | None = None, math: str | None = None,
                **properties: Any) -> Op:
    code_fn, out_fn = code
    nondiff = partials is None
    return register(Op(
        name=name, impl=impl, infer=infer_elementwise(name, impl), code=code_fn, out=out_fn,
        vjp=None if nondiff else _elementwise_vjp(partials),
        jvp=None if nondiff else _elementwise_jvp(partials),
        batch=_batch_elementwise,
        text=text, latex=latex, elementwise=True, domain=domain,
        cases=cases if cases is not None else UNARY_CASES, math=math,
        differentiable=not nondiff, **properties))


def _unary(op: Op):
    def build(x):
        return make(op, _nodes([x]))
    return build


def _binary(op: Op):
    def build(a, b):
        return make(op, _nodes([a, b]))
    return build


def _fn_text(name: str, sympy_name: str | None = None):
    return call_text(sympy_name or name)


def _fn_latex(macro: str):
    r"""A function call as SymPy prints it: ``\sin{\left(x \right)}``."""
    def latex(node, child):
        args = ", ".join(child(i, 0) for i in node.inputs)
        return rf"{macro}{{\left({args} \right)}}", P_ATOM
    return latex


def _sympy_text(scalar_form: Callable, tensor_name: str):
    """Print 0-d nodes in a form SymPy reads, others as the symdiff function."""
    tensor = call_text(tensor_name)

    def text(node, child):
        return scalar_form(node, child) if node.shape == () else tensor(node, child)
    return text


# -- unary --------------------------------------------------------------------------

def _declare_unary(name, impl, partial, *, np_name=None, sympy=None, latex=None, domain=(),
                   math=None, call=None, text=None, **properties):
    # ``call`` (code, out) and ``text`` replace the defaults; ``latex`` is a name or a printer.
    call = call or np_call(np_name or f"np.{name}")
    latex = latex or rf"\operatorname{{{name}}}"
    op = elementwise(name, impl, (partial,), call, text=text or _fn_text(name, sympy),
                     latex=latex if callable(latex) else _fn_latex(latex),
                     domain=(domain,) if domain else (), math=math, **properties)
    FUNCTIONS[name] = _unary(op)
    return op


_declare_unary("exp", np.exp, lambda out, x: out, math="math.exp({0})", blows_up=True,
               latex=lambda n, c: (f"e^{{{c(n.inputs[0], 0)}}}", P_POW))
_declare_unary("log", np.log, lambda out, x: divide(1.0, x), latex=r"\log", domain=(0.2, 3.0),
               math="math.log({0})", blows_up=True)
_declare_unary("sqrt", np.sqrt, lambda out, x: divide(0.5, out),
               latex=lambda node, child: (rf"\sqrt{{{child(node.inputs[0], 0)}}}", P_ATOM),
               domain=(0.2, 3.0), math="math.sqrt({0})", same_type=True, blows_up=True)
_declare_unary("sin", np.sin, lambda out, x: cos(x), latex=r"\sin", math="math.sin({0})")
_declare_unary("cos", np.cos, lambda out, x: negative(sin(x)), latex=r"\cos",
               math="math.cos({0})")
_declare_unary("tan", np.tan, lambda out, x: add(1.0, square(out)), latex=r"\tan",
               domain=(-1.2, 1.2), math="math.tan({0})", blows_up=True)
_declare_unary("tanh", np.tanh, lambda out, x: subtract(1.0, square(out)), latex=r"\tanh",
               math="math.tanh({0})")
_declare_unary("sinh", np.sinh, lambda out, x: cosh(x), latex=r"\sinh", math="math.sinh({0})",
               blows_up=True)
_declare_unary("cosh", np.cosh, lambda out, x: sinh(x), latex=r"\cosh", math="math.cosh({0})",
               blows_up=True)
_declare_unary("arcsin", np.arcsin, lambda out, x: divide(1.0, sqrt(subtract(1.0, square(x)))),
               sympy="asin", latex=r"\arcsin", domain=(-0.9, 0.9), math="math.asin({0})",
               blows_up=True)
_declare_unary("arccos", np.arccos,
               lambda out, x: negative(divide(1.0, sqrt(subtract(1.0, square(x))))),
               sympy="acos", latex=r"\arccos", domain=(-0.9, 0.9), math="math.acos({0})",
               blows_up=True)
_declare_unary("arctan", np.arctan, lambda out, x: divide(1.0, add(1.0, square(x))),
               sympy="atan", latex=r"\arctan", math="math.atan({0})")
_declare_unary("sign", np.sign, lambda out, x: zeros_like(x), latex=r"\operatorname{sign}",
               domain="nonzero")
# abs'(0) = 1 as in JAX (select(x >= 0, g, -g)).
_declare_unary("abs", np.abs, lambda out, x: subtract(multiply(2.0, greater_equal(x, 0.0)), 1.0),
               np_name="np.abs", sympy="Abs", domain="nonzero", math="abs({0})",
               latex=lambda node, child: (rf"\left|{{{child(node.inputs[0], 0)}}}\right|", P_ATOM))

# Functions with a more accurate NumPy form than their SymPy spelling; 0-d nodes
# print as the SymPy spelling so that str() reads back in SymPy.
_declare_unary("log1p", np.log1p, lambda out, x: divide(1.0, add(1.0, x)),
               latex=r"\operatorname{log1p}", domain=(-0.5, 2.0), math="math.log1p({0})",
               blows_up=True,
               text=_sympy_text(lambda n, c: (f"log(1 + {c(n.inputs[0], P_ADD + 1)})", P_ATOM),
                                "log1p"))
_declare_unary("expm1", np.expm1, lambda out, x: add(out, 1.0), latex=r"\operatorname{expm1}",
               math="math.expm1({0})", blows_up=True,
               text=_sympy_text(lambda n, c: (f"exp({c(n.inputs[0], 0)}) - 1", P_ADD), "expm1"))
_declare_unary("square", np.square, lambda out, x: multiply(2.0, x), same_type=True,
               text=lambda n, c: (f"{c(n.inputs[0], P_POW + 1)}**2", P_POW),
               latex=lambda n, c: (f"{c(n.inputs[0], P_POW + 1)}^{{2}}", P_POW),
               math="{0} * {0}")

# sigmoid(x) = e / (1 + e), e = exp(min(x, top)): exact in both tails, never overflows
# (see symdiff/ops/logistic.py for the form and why it was chosen).
_declare_unary("sigmoid", logistic.sigmoid, lambda out, x: multiply(out, subtract(1.0, out)),
               latex=r"\sigma", math="(1.0 / (1.0 + math.exp(-{0})))",
               # Python floats: math.exp raises OverflowError below -709.78 and the
               # function then runs its NumPy twin, which is exact there.
               call=(lambda args, node: f"_sigmoid({args[0]}, {logistic.sigmoid_top(node.dtype)})",
                     None),
               helpers=(_sigmoid,),
               steps=logistic.sigmoid_steps,   # arrays: one buffer, one temporary
               text=_sympy_text(lambda n, c: (f"1/(1 + exp(-{c(n.inputs[0], P_POW)}))", P_MUL),
                                "sigmoid"))
# softplus(x) = log(1 + exp(x)) = logaddexp(0, x): exact and overflow-free.
_declare_unary("softplus", lambda x: np.logaddexp(0.0, x), lambda out, x: sigmoid(x),
               latex=r"\operatorname{softplus}",
               call=(lambda args, node: f"np.logaddexp(0.0, {args[0]})",
                     lambda args, node, buf: f"np.logaddexp(0.0, {args[0]}, out={buf})"),
               text=_sympy_text(lambda n, c: (f"log(1 + exp({c(n.inputs[0], 0)}))", P_ATOM),
                                "softplus"))
# relu'(0) = 0 as in JAX.
_declare_unary("relu", lambda x: np.maximum(x, 0.0), lambda out, x: greater(x, 0.0),
               latex=r"\operatorname{relu}", domain="nonzero", math="max({0}, 0.0)",
               call=(lambda args, node: f"np.maximum({args[0]}, 0.0)",
                     lambda args, node, buf: f"np.maximum({args[0]}, 0.0, out={buf})"),
               text=_sympy_text(lambda n, c: (f"Max(0, {c(n.inputs[0], 0)})", P_ATOM), "relu"))

_neg = elementwise("neg", np.negative, (lambda out, x: -1,),
                   (lambda a, n: f"-{a[0]}", lambda a, n, o: f"np.negative({a[0]}, out={o})"),
                   text=lambda n, c: (f"-{c(n.inputs[0], P_NEG)}", P_NEG),
                   latex=lambda n, c: (f"-{c(n.inputs[0], P_NEG)}", P_NEG), math="(-{0})",
                   same_type=True)
negative = public("negative", "neg")(_unary(_neg))

# -- binary ----------------------------------------------------------------------------

_add = elementwise("add", np.add, (lambda out, a, b: 1, lambda out, a, b: 1),
                   infix_code("+", "np.add"), text=infix_text("+", P_ADD, associative=True),
                   latex=lambda n, c: (_latex_add(c(n.inputs[0], P_ADD), c(n.inputs[1], P_ADD)),
                                       P_ADD),
                   cases=BINARY_CASES, math="({0} + {1})", commutative=True, same_type=True)
_sub = elementwise("sub", np.subtract, (lambda out, a, b: 1, lambda out, a, b: -1),
                   infix_code("-", "np.subtract"), text=infix_text("-", P_ADD),
                   latex=lambda n, c: (f"{c(n.inputs[0], P_ADD)} - {c(n.inputs[1], P_ADD + 1)}",
                                       P_ADD),
                   cases=BINARY_CASES, math="({0} - {1})", same_type=True)
_mul = elementwise("mul", np.multiply, (lambda out, a, b: b, lambda out, a, b: a),
                   infix_code("*", "np.multiply"), text=infix_text("*", P_MUL, associative=True),
                   latex=lambda n, c: (_latex_mul(n, c), P_MUL), cases=BINARY_CASES,
                   math="({0} * {1})", commutative=True, same_type=True)
_div = elementwise("div", np.divide,
                   (lambda out, a, b: divide(1.0, b), lambda out, a, b: negative(divide(out, b))),
                   infix_code("/", "np.divide"), text=infix_text("/", P_MUL),
                   latex=lambda n, c: (rf"\frac{{{c(n.inputs[0], 0)}}}{{{c(n.inputs[1], 0)}}}",
                                       P_ATOM),
                   domain=((-2.0, 2.0), "nonzero"), cases=BINARY_CASES, math="({0} / {1})",
                   same_type=True, blows_up=True)
# The partials are written so they hold at a zero base too: see powers.py.
_pow = elementwise("pow", np.power, (powers.base_partial, powers.exponent_partial),
                   (lambda a, n: f"{a[0]} ** {a[1]}",
                    lambda a, n, o: f"np.power({a[0]}, {a[1]}, out={o})"),
                   text=infix_text("**", P_POW, right_assoc=True),
                   latex=lambda n, c: (f"{c(n.inputs[0], P_POW + 1)}^{{{c(n.inputs[1], 0)}}}",
                                       P_POW),
                   domain=((0.5, 2.0), (-2.0, 2.0)), cases=BINARY_CASES, math="math.pow({0}, {1})",
                   blows_up=True)


def _latex_add(left: str, right: str) -> str:
    # x + -y is written x - y (the sign belongs to the right operand's first term)
    return f"{left} - {right[1:].lstrip()}" if right.startswith("-") else f"{left} + {right}"


def _latex_mul(node, child):
    # Scalars multiply by juxtaposition as in SymPy (a dot only before a number),
    # tensors elementwise with \odot; a column times a row is an outer product.
    a, b = node.inputs
    if (a.op.name == "expand_dims" and a.attr("axis") == (1,) and a.inputs[0].ndim == 1
            and b.ndim == 1):
        v = a.inputs[0]
        v_text = child(v, P_MUL if v.op.name == "matmul" else P_MUL + 1)
        return rf"{v_text} {child(b, P_POW + 1)}^{{\top}}"
    # a (b c) = a b c: a product on the right needs no parentheses (not so a quotient)
    left = child(a, P_MUL)
    right = child(b, P_MUL if b.op.name == "mul" and (a.ndim and b.ndim or not b.ndim)
                  else P_MUL + 1)
    if a.ndim and b.ndim:
        return rf"{left} \odot {right}"
    if right[:1].isdigit() or right[:1] in "-." or left[-1:] == "}" and right[:1] == "{":
        return rf"{left} \cdot {right}"
    return f"{left} {right}"


add = public("add")(_binary(_add))
subtract = public("subtract", "sub")(_binary(_sub))
multiply = public("multiply", "mul")(_binary(_mul))
divide = public("divide", "div", "true_divide")(_binary(_div))


@public("power", "pow")
def power(a, b):
    a, b = _nodes([a, b])
    # An integer exponent on a float base stays a float power (NumPy: float ** int).
    if b.op.name == "const" and b.dtype.kind in "iu" and a.dtype.kind == "f":
        b = Const(b.value, a.dtype)
    return make(_pow, [a, b])


def _tie(a, b):
    """d max(a, b) / d a: 1 where a > b, 1/2 at ties (as JAX), 0 elsewhere."""
    return add(greater(a, b), multiply(0.5, equal(a, b)))


_max2 = elementwise("maximum", np.maximum,
                    (lambda out, a, b: _tie(a, b), lambda out, a, b: _tie(b, a)),
                    np_call("np.maximum"), text=_sympy_text(
                        lambda n, c: (f"Max({c(n.inputs[0], 0)}, {c(n.inputs[1], 0)})", P_ATOM),
                        "maximum"),
                    latex=call_latex(r"\max"), cases=BINARY_CASES, commutative=True)
_min2 = elementwise("minimum", np.minimum,
                    (lambda out, a, b: _tie(b, a), lambda out, a, b: _tie(a, b)),
                    np_call("np.minimum"), text=_sympy_text(
                        lambda n, c: (f"Min({c(n.inputs[0], 0)}, {c(n.inputs[1], 0)})", P_ATOM),
                        "minimum"),
                    latex=call_latex(r"\min"), cases=BINARY_CASES, commutative=True)
maximum = public("maximum")(_binary(_max2))
minimum = public("minimum")(_binary(_min2))
# log(exp(a) + exp(b)) without overflow. d/da = exp(a)/(exp(a) + exp(b)) = sigmoid(a - b):
# also right where a or b is infinite (exp(a - out) would be inf - inf there).
_logaddexp = elementwise(
    "logaddexp", np.logaddexp,
    (lambda out, a, b: sigmoid(subtract(a, b)), lambda out, a, b: sigmoid(subtract(b, a))),
    np_call("np.logaddexp"), text=_sympy_text(
        lambda n, c: (f"log(exp({c(n.inputs[0], 0)}) + exp({c(n.inputs[1], 0)}))", P_ATOM),
        "logaddexp"),
    latex=lambda n, c: (rf"\log\left(e^{{{c(n.inputs[0], 0)}}} + e^{{{c(n.inputs[1], 0)}}}"
                        r"\right)", P_ATOM),
    cases=BINARY_CASES)
logaddexp = public("logaddexp")(_binary(_logaddexp))

# -- comparisons and logic (not differentiable; for where) --------------------------

_CMP = {"less": ("<", np.less), "less_equal": ("<=", np.less_equal),
        "greater": (">", np.greater), "greater_equal": (">=", np.greater_equal),
        "equal": ("==", np.equal), "not_equal": ("!=", np.not_equal)}


def _heaviside_text(symbol: str) -> Callable:
    """0-d ``a >= b`` prints as ``Heaviside(a - b, 1)`` (``>``: value 0 at the tie), a
    number SymPy reads and can multiply; ``==``, ``!=`` and tensors print as Python."""
    infix = infix_text(symbol, P_CMP)
    flip = {"<": ">", "<=": ">="}

    def text(node, child):
        if node.shape != () or symbol in ("==", "!="):
            return infix(node, child)
        a, b = node.inputs
        if symbol in flip:
            a, b = b, a
        at_tie = 1 if symbol in (">=", "<=") else 0
        if _is_const(b, 0.0):
            diff = child(a, 0)
        elif _is_const(a, 0.0):
            diff = f"-{child(b, P_NEG)}"
        else:
            diff = f"{child(a, P_ADD)} - {child(b, P_ADD + 1)}"
        return f"Heaviside({diff}, {at_tie})", P_ATOM
    return text


for _name, (_sym, _impl) in _CMP.items():
    _op = elementwise(_name, _impl, None, infix_code(_sym, f"np.{_name}"),
                      text=_heaviside_text(_sym),
                      latex=lambda n, c, s=_sym: (
                          f"{c(n.inputs[0], P_CMP + 1)} {_LATEX_CMP[s]} {c(n.inputs[1], P_CMP + 1)}",
                          P_CMP),
                      cases=BINARY_CASES, commutative=_name in ("equal", "not_equal"))
    FUNCTIONS[_name] = _binary(_op)
_LATEX_CMP = {"<": "<", "<=": r"\le", ">": ">", ">=": r"\ge", "==": "=", "!=": r"\ne"}
less, less_equal = FUNCTIONS["less"], FUNCTIONS["less_equal"]
greater, greater_equal = FUNCTIONS["greater"], FUNCTIONS["greater_equal"]
equal, not_equal = FUNCTIONS["equal"], FUNCTIONS["not_equal"]

for _name in ("logical_and", "logical_or"):
    _op = elementwise(_name, getattr(np, _name), None, np_call(f"np.{_name}"),
                      text=call_text(_name), latex=call_latex(rf"\operatorname{{{_name}}}"),
                      domain=("bool", "bool"), cases=BINARY_CASES, commutative=True)
    FUNCTIONS[_name] = _binary(_op)
_lnot = elementwise("logical_not", np.logical_not, None, np_call("np.logical_not"),
                    text=call_text("logical_not"), latex=call_latex(r"\lnot"), domain=("bool",))
FUNCTIONS["logical_not"] = _unary(_lnot)

# -- ternary ----------------------------------------------------------------------------

_where = elementwise("where", np.where,
                     (None, lambda out, c, a, b: _select(c, 1.0, 0.0),
                      lambda out, c, a, b: _select(c, 0.0, 1.0)),
                     (np_call("np.where")[0], None), text=call_text("where"),
                     latex=lambda n, c: (rf"\begin{{cases}}{c(n.inputs[1], 0)} & "
                                         rf"{c(n.inputs[0], 0)}\\ {c(n.inputs[2], 0)} & "
                                         rf"\text{{otherwise}}\end{{cases}}", P_ATOM),
                     domain=("bool", (-2.0, 2.0), (-2.0, 2.0)),
                     cases=(Case(((), (), ())), Case(((3,), (3,), (3,))),
                            Case(((2, 3), (3,), ()))), array_0d=True)


def _select(c, a, b):
    return make(_where, _nodes([c, a, b]))


@public("where")
def where(condition, x, y):
    c, a, b = _nodes([condition, x, y])
    if c.dtype != np.bool_:
        c = not_equal(c, 0)
    return make(_where, [c, a, b])


# clip(x, lo, hi) = min(max(x, lo), hi), as NumPy computes it (hi wins when lo > hi),
# differentiated as that composition: the ties split as in maximum and minimum.
_clip = elementwise("clip", np.clip,
                    (lambda out, x, lo, hi: multiply(_tie(x, lo), _tie(hi, maximum(x, lo))),
                     lambda out, x, lo, hi: multiply(_tie(lo, x), _tie(hi, maximum(x, lo))),
                     lambda out, x, lo, hi: _tie(maximum(x, lo), hi)),
                    np_call("np.clip"), text=call_text("clip"), latex=call_latex(
                        r"\operatorname{clip}"),
                    domain=((-2.0, 2.0), (-1.0, -0.5), (0.5, 1.0)),
                    cases=(Case(((), (), ())), Case(((2, 3), (), ()))), array_0d=True)


@public("clip")
def clip(x, a_min, a_max):
    return make(_clip, _nodes([x, a_min, a_max]))


# ================================================================================
# Reductions
# ================================================================================

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


def _reduction(name, impl, infer, vjp, jvp, latex, code_name=None, helpers=(), *,
               code=None, domain=()):
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
    op = register(Op(name=name, impl=impl, infer=infer, code=custom or default_code, vjp=vjp, jvp=jvp,
                     batch=_batch_reduce,
                     text=call_text(name, "axis", "keepdims",
                                    defaults={"axis": None, "keepdims": False}),
                     latex=latex, cases=REDUCE_CASES, helpers=helpers, domain=domain))

    def build(x, axis=None, keepdims=False):
        (x,) = _nodes([x])
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
    return rf"\sum{sub} {child(node.inputs[0], P_MUL)}", P_MUL


_sum, sum_ = _reduction(
    "sum", np.sum, _infer_reduce("sum", _sum_dtype),
    vjp=lambda g, node: (broadcast_like(_keep(g, node), node.inputs[0]),),
    jvp=lambda t, node: sum_(t[0], node.attr("axis"), node.attr("keepdims")),
    latex=_sum_latex, code_name="np.add.reduce")
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


_mean, mean = _reduction(
    "mean", np.mean, _infer_reduce("mean", lambda dt: float_dtype(dt)),
    vjp=lambda g, node: (divide(broadcast_like(_keep(g, node), node.inputs[0]),
                                _count(node)),),
    jvp=lambda t, node: mean(t[0], node.attr("axis"), node.attr("keepdims")),
    latex=lambda n, c: (rf"\operatorname{{mean}}\left({c(n.inputs[0], 0)}\right)", P_ATOM),
    code=_mean_code)
_prod, prod = _reduction(
    "prod", np.prod, _infer_reduce("prod", _sum_dtype),
    # d prod / d x_i = prod / x_i (undefined where an x_i is 0).
    vjp=lambda g, node: (multiply(_keep(g, node), divide(_keep(node, node), node.inputs[0])),),
    jvp=lambda t, node: sum_(multiply(t[0], divide(_keep(node, node), node.inputs[0])),
                             node.attr("axis"), node.attr("keepdims")),
    latex=lambda n, c: (rf"\prod {c(n.inputs[0], P_MUL)}", P_MUL), code_name="np.multiply.reduce",
    domain=((0.5, 2.0),))


def _argmax_share(node: Node) -> Node:
    """1/k at each of the k tied extrema of a max/min reduction, 0 elsewhere."""
    x = node.inputs[0]
    hit = equal(x, _keep(node, node))
    return divide(hit, sum_(hit, node.attr("axis"), True))


_max, max_ = _reduction(
    "max", np.max, _infer_reduce("max", lambda dt: dt),
    vjp=lambda g, node: (multiply(_keep(g, node), _argmax_share(node)),),
    jvp=lambda t, node: sum_(multiply(t[0], _argmax_share(node)), node.attr("axis"),
                             node.attr("keepdims")),
    latex=call_latex(r"\max"), code_name="np.maximum.reduce")
_min, min_ = _reduction(
    "min", np.min, _infer_reduce("min", lambda dt: dt),
    vjp=lambda g, node: (multiply(_keep(g, node), _argmax_share(node)),),
    jvp=lambda t, node: sum_(multiply(t[0], _argmax_share(node)), node.attr("axis"),
                             node.attr("keepdims")),
    latex=call_latex(r"\min"), code_name="np.minimum.reduce")
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


def _lse_axis(node: Node) -> tuple | None:
    axis = node.attr("axis")
    return (0,) if axis is None and node.inputs[0].ndim == 1 else axis


FUSED_PAIRS = (
    Fusion("logsumexp", "softmax",
           match=lambda lse, sm: _lse_axis(lse) == (sm.attr("axis"),),
           code=lambda arg, lse, sm: (f"_logsumexp_softmax({arg}, {sm.attr('axis')}"
                                      + (", keepdims=True" if lse.attr("keepdims") else "")
                                      + ")"),
           helpers=(_logsumexp_softmax,)),
)


_logsumexp_op, logsumexp = _reduction(
    "logsumexp", _logsumexp, _infer_reduce("logsumexp", float_dtype),
    vjp=lambda g, node: (multiply(_keep(g, node), _lse_softmax(node.inputs[0], node)),),
    jvp=lambda t, node: sum_(multiply(t[0], _lse_softmax(node.inputs[0], node)),
                             node.attr("axis"), node.attr("keepdims")),
    latex=lambda n, c: (rf"\log\sum\exp\left({c(n.inputs[0], 0)}\right)", P_ATOM),
    code_name="_logsumexp", helpers=(_logsumexp,))


# -- softmax family (axis kept) ----------------------------------------------------------

def _infer_same_float(inputs, attrs):
    return float_dtype(inputs[0].dtype), inputs[0].shape


SOFTMAX_CASES = (Case(((3,),), {"axis": 0}), Case(((2, 3),), {"axis": 1}),
                 Case(((2, 3),), {"axis": 0}))


def _axis_op(name, helper, vjp, jvp):
    fn_name = helper.__name__
    latex_name = name.replace("_", "\\_")
    op = register(Op(
        name=name, impl=helper, infer=_infer_same_float,
        code=lambda args, node: f"{fn_name}({args[0]}, axis={node.attr('axis')})",
        vjp=vjp, jvp=jvp, text=call_text(name, "axis"),
        batch=_batch_axis,
        latex=lambda n, c: (rf"\operatorname{{{latex_name}}}\left({c(n.inputs[0], 0)}\right)",
                            P_ATOM),
        cases=SOFTMAX_CASES, helpers=(helper,)))

    def build(x, axis=-1):
        (x,) = _nodes([x])
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


softmax = _axis_op("softmax", _softmax, _softmax_vjp,
                   lambda t, node: _softmax_vjp(t[0], node)[0])
log_softmax = _axis_op("log_softmax", _log_softmax, _log_softmax_vjp,
                       lambda t, node: subtract(t[0], sum_(multiply(exp(node), t[0]),
                                                           node.attr("axis"), True)))


# ================================================================================
# Linear algebra
# ================================================================================

def _infer_matmul(inputs, attrs):
    a, b = inputs
    if a.ndim == 0 or b.ndim == 0:
        raise shape_error("matmul", "operands must have at least one dimension (use * for "
                          "scalars)", a, b)
    ka = a.shape[-1]
    kb = b.shape[-2] if b.ndim >= 2 else b.shape[0]
    if ka is not None and kb is not None and ka != kb:
        raise shape_error("matmul", f"inner dimensions differ ({ka} vs {kb})", a, b)
    batch = broadcast_shapes(a.shape[:-2], b.shape[:-2], op="matmul")
    shape = batch + (a.shape[-2:-1] if a.ndim >= 2 else ()) + (b.shape[-1:] if b.ndim >= 2 else ())
    dtype = np.result_type(a.dtype, b.dtype)
    return dtype, shape


def _mT(x: Node) -> Node:
    """Swap the last two axes."""
    axes = tuple(range(x.ndim - 2)) + (x.ndim - 1, x.ndim - 2)
    return transpose(x, axes)


def _matmul_vjp(g, node):
    a, b = node.inputs
    if a.ndim == 1 and b.ndim == 1:
        return multiply(g, b), multiply(g, a)
    if b.ndim == 1:            # (..., n, k) @ (k,) -> (..., n)
        ga = multiply(expand_dims(g, (g.ndim,)), b)
        gb = matmul(g, a) if a.ndim == 2 else sum_(multiply(expand_dims(g, (g.ndim,)), a),
                                                    tuple(range(a.ndim - 1)))
        return ga, gb
    if a.ndim == 1:            # (k,) @ (..., k, m) -> (..., m)
        ga = matmul(b, g) if b.ndim == 2 else sum_(
            multiply(b, expand_dims(g, (g.ndim - 1,))), tuple(range(b.ndim - 2)) + (b.ndim - 1,))
        gb = multiply(expand_dims(a, (1,)), expand_dims(g, (g.ndim - 1,)))
        return ga, gb
    return matmul(g, _mT(b)), matmul(_mT(a), g)


def _latex_matmul(node, child):
    # Matrix products chain by juxtaposition; other products are parenthesized. A row
    # vector times a matrix is written as the textbook does: g @ W = W^T g.
    a, b = node.inputs

    def side(n):
        return child(n, P_MUL if n.op.name == "matmul" else P_MUL + 1)
    if a.ndim == 1 and b.ndim == 2:
        if b.op.name == "transpose":
            return f"{side(b.inputs[0])} {side(a)}", P_MUL
        return rf"{child(b, P_POW + 1)}^{{\top}} {side(a)}", P_MUL
    return f"{side(a)} {side(b)}", P_MUL


def _matmul_code(args, node):
    # For operands of at most two dimensions ndarray.dot computes what @ does, with
    # less dispatch: 0.27 against 0.55 µs on 2-vectors, ~0.5 µs less on 32x32.
    a, b = node.inputs
    if a.ndim <= 2 and b.ndim <= 2:
        return f"{args[0]}.dot({args[1]})"
    return f"{args[0]} @ {args[1]}"


_matmul = register(Op(
    name="matmul", impl=np.matmul, infer=_infer_matmul,
    code=_matmul_code,
    out=lambda args, node, buf: f"np.matmul({args[0]}, {args[1]}, out={buf})",
    vjp=_matmul_vjp,
    batch=_batch_matmul,
    jvp=lambda t, node: _sum_terms([matmul(t[0], node.inputs[1]) if t[0] is not None else None,
                                    matmul(node.inputs[0], t[1]) if t[1] is not None else None]),
    text=infix_text("@", P_MUL),
    latex=lambda n, c: _latex_matmul(n, c),
    cases=(Case(((3,), (3,))), Case(((2, 3), (3,))), Case(((3,), (3, 2))),
           Case(((2, 3), (3, 4))), Case(((2, 2, 3), (3, 2))), Case(((2, 3), (2, 3, 2)))),
))


def _sum_terms(terms):
    terms = [t for t in terms if t is not None]
    total = terms[0]
    for t in terms[1:]:
        total = add(total, t)
    return total


@public("matmul")
def matmul(a, b):
    return make(_matmul, _nodes([a, b]))


@public("dot")
def dot(a, b):
    """``np.dot`` for operands of at most two dimensions (a 0-d operand scales)."""
    a, b = _nodes([a, b])
    if a.ndim == 0 or b.ndim == 0:
        return multiply(a, b)
    if a.ndim > 2 or b.ndim > 2:
        raise shape_error("dot", "dot of operands with more than 2 dimensions is not "
                          "supported; use matmul", a, b)
    return matmul(a, b)


@public("inner", "vdot")
def inner(a, b):
    """Inner product of two vectors."""
    a, b = _nodes([a, b])
    if a.ndim != 1 or b.ndim != 1:
        raise shape_error("inner", "expects two vectors", a, b)
    return matmul(a, b)


def _infer_outer(inputs, attrs):
    a, b = inputs
    if a.ndim != 1 or b.ndim != 1:
        raise shape_error("outer", "expects two vectors", a, b)
    return np.result_type(a.dtype, b.dtype), (a.shape[0], b.shape[0])


_outer = register(Op(
    name="outer", impl=np.outer, infer=_infer_outer,
    # np.outer is a Python wrapper around this broadcast product (1.2 against 0.7 µs).
    code=lambda args, node: f"{args[0]}[:, None] * {args[1]}",
    out=lambda args, node, buf: f"np.multiply({args[0]}[:, None], {args[1]}, out={buf})",
    vjp=lambda g, node: (matmul(g, node.inputs[1]), matmul(node.inputs[0], g)),
    jvp=lambda t, node: _sum_terms([outer(t[0], node.inputs[1]) if t[0] is not None else None,
                                    outer(node.inputs[0], t[1]) if t[1] is not None else None]),
    batch=_batch_outer,
    text=call_text("outer"),
    latex=lambda n, c: (rf"{c(n.inputs[0], P_MUL + 1)} {c(n.inputs[1], P_POW + 1)}^{{\top}}",
                        P_MUL),
    cases=(Case(((3,), (2,))),)))


@public("outer")
def outer(a, b):
    return make(_outer, _nodes([a, b]))


# ================================================================================
# Structure: transpose, reshape, broadcasting, indexing, joining
# ================================================================================

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


_transpose = register(Op(
    name="transpose", impl=lambda x, axes: np.transpose(x, axes), infer=_infer_transpose,
    code=_transpose_code,
    vjp=lambda g, node: (transpose(g, tuple(np.argsort(node.attr("axes")).tolist())),),
    jvp=lambda t, node: transpose(t[0], node.attr("axes")),
    batch=_batch_transpose,
    text=_transpose_text,
    latex=lambda n, c: (f"{c(n.inputs[0], P_POW + 1)}^{{\\top}}", P_POW),
    cases=(Case(((2, 3),), {"axes": (1, 0)}), Case(((2, 3, 4),), {"axes": (2, 0, 1)})),
    view=True))


@public("transpose", "permute_dims")
def transpose(x, axes=None):
    (x,) = _nodes([x])
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
    (x,) = _nodes([x])
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


_reshape = register(Op(
    name="reshape", impl=lambda x, shape: np.reshape(x, shape),
    infer=lambda inputs, attrs: (inputs[0].dtype, _reshape_target(inputs[0], attrs["shape"])),
    code=lambda args, node: (f"{args[0]}.reshape({node.attr('shape')!r})"
                             if node.inputs[0].ndim else    # the method skips dispatch
                             f"np.reshape({args[0]}, {node.attr('shape')!r})"),
    vjp=lambda g, node: (_reshape_back(g, node.inputs[0]),),
    jvp=lambda t, node: reshape(t[0], node.attr("shape")),
    batch=_batch_reshape,
    text=lambda n, c: (f"{c(n.inputs[0], P_ATOM)}.reshape({n.attr('shape')!r})", P_ATOM),
    latex=lambda n, c: (c(n.inputs[0], P_ATOM), P_ATOM),
    cases=(Case(((2, 3),), {"shape": (3, 2)}), Case(((2, 3),), {"shape": (-1,)})),
    see_through=True, view=True))


@public("reshape")
def reshape(x, shape):
    (x,) = _nodes([x])
    if isinstance(shape, (int, np.integer)):
        shape = (int(shape),)
    shape = tuple(int(d) for d in shape)
    if shape == x.shape:
        return x
    return make(_reshape, [x], {"shape": shape})


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
    cases=(Case(((2, 3), (3, 2))),), domain=((-2.0, 2.0), "const"), view=True))


@public("ravel", "flatten")
def ravel(x):
    return reshape(x, (-1,))


def _infer_expand(inputs, attrs):
    (x,) = inputs
    shape = list(x.shape)
    for a in attrs["axis"]:
        shape.insert(a, 1)
    return x.dtype, tuple(shape)


_expand = register(Op(
    name="expand_dims", impl=lambda x, axis: np.expand_dims(x, axis), infer=_infer_expand,
    code=lambda args, node: f"np.expand_dims({args[0]}, {fmt_attr(node.attr('axis'))})",
    vjp=lambda g, node: (squeeze(g, node.attr("axis")),),
    jvp=lambda t, node: expand_dims(t[0], node.attr("axis")),
    batch=_batch_shift_axes,
    text=call_text("expand_dims", "axis"), latex=lambda n, c: (c(n.inputs[0], P_ATOM), P_ATOM),
    cases=(Case(((3,),), {"axis": (0,)}), Case(((2, 3),), {"axis": (1, 3)})), see_through=True, view=True))


@public("expand_dims")
def expand_dims(x, axis):
    (x,) = _nodes([x])
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
    batch=_batch_shift_axes,
    text=call_text("squeeze", "axis"), latex=lambda n, c: (c(n.inputs[0], P_ATOM), P_ATOM),
    cases=(Case(((1, 3),), {"axis": (0,)}), Case(((2, 1, 3, 1),), {"axis": (1, 3)})),
    see_through=True, view=True))


@public("squeeze")
def squeeze(x, axis=None):
    (x,) = _nodes([x])
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


# Adjoints of broadcast results are summed back by the reverse-mode driver, so the
# VJP of a broadcast is the identity.
_broadcast_to = register(Op(
    name="broadcast_to", impl=lambda x, shape: np.broadcast_to(x, shape),
    infer=_infer_broadcast_to,
    code=lambda args, node: f"np.broadcast_to({args[0]}, {node.attr('shape')!r})",
    vjp=lambda g, node: (g,), jvp=lambda t, node: broadcast_to(t[0], node.attr("shape")),
    batch=_batch_broadcast_to,
    text=call_text("broadcast_to", "shape"), latex=lambda n, c: (c(n.inputs[0], P_ATOM), P_ATOM),
    cases=(Case(((3,),), {"shape": (2, 3)}), Case(((2, 1),), {"shape": (2, 3)})),
    see_through=True, broadcasts=True, view=True))


@public("broadcast_to")
def broadcast_to(x, shape):
    (x,) = _nodes([x])
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


_broadcast_like = register(Op(
    name="broadcast_like", impl=lambda x, ref: np.broadcast_to(x, np.shape(ref)),
    infer=_infer_broadcast_like,
    code=lambda args, node: f"np.broadcast_to({args[0]}, {args[1]}.shape)",
    vjp=lambda g, node: (g, None),
    jvp=lambda t, node: broadcast_like(t[0], node.inputs[1]) if t[0] is not None else None,
    batch=_batch_broadcast_like,
    text=call_text("broadcast_like"), latex=lambda n, c: (c(n.inputs[0], P_ATOM), P_ATOM),
    cases=(Case(((3,), (2, 3))), Case(((2, 1), (2, 3)))), domain=((-2.0, 2.0), "const"),
    see_through=True, broadcasts=True, view=True))


def broadcast_like(x: Node, ref: Node) -> Node:
    """``x`` broadcast to the shape of ``ref`` (known statically or only at run time)."""
    (x,) = _nodes([x])
    if same_shape(x.shape, ref.shape):
        return x
    if None not in ref.shape:
        return broadcast_to(x, ref.shape)
    return make(_broadcast_like, [x, ref])


FUNCTIONS["broadcast_like"] = broadcast_like


def _infer_zeros_like(inputs, attrs):
    return float_dtype(inputs[0].dtype), inputs[0].shape


def _infer_astype(inputs, attrs):
    return np.dtype(attrs["dtype"]), inputs[0].shape


# A change of dtype; gradients come back in the dtype of what they differentiate.
_astype = register(Op(
    name="astype", impl=lambda x, dtype: np.asarray(x).astype(dtype), infer=_infer_astype,
    code=lambda args, node: f"np.array({args[0]}, dtype=np.{node.attr('dtype')})",
    vjp=lambda g, node: (astype(g, node.inputs[0].dtype),),
    jvp=lambda t, node: astype(t[0], node.dtype),
    batch=_batch_elementwise, elementwise=True,
    text=lambda n, c: (f"{c(n.inputs[0], P_ATOM)}.astype({n.attr('dtype')!r})", P_ATOM),
    latex=lambda n, c: (c(n.inputs[0], P_ATOM), P_ATOM),
    cases=(Case(((),), {"dtype": "float64"}), Case(((3,),), {"dtype": "float64"}),
           Case(((2, 3),), {"dtype": "float64"})), array_0d=True))


@public("astype")
def astype(x, dtype):
    """``x`` as ``dtype`` (a no-op when it already has it)."""
    (x,) = _nodes([x])
    dtype = np.dtype(dtype)
    if dtype == x.dtype:
        return x
    return make(_astype, [x], {"dtype": dtype.name})


_zeros_like = register(Op(
    name="zeros_like", impl=lambda x: np.zeros(np.shape(x), float_dtype(np.asarray(x).dtype)),
    infer=_infer_zeros_like,
    code=lambda args, node: (f"np.zeros({node.shape!r})" if None not in node.shape
                             else f"np.zeros({args[0]}.shape)"),
    batch=lambda args, batched, node: zeros_like(_example(args[0], True)),
    vjp=lambda g, node: (None,), text=call_text("zeros_like"),
    latex=lambda n, c: ("0", P_ATOM), cases=(Case(((3,),)),), differentiable=False,
    array_0d=True))


@public("zeros_like")
def zeros_like(x):
    (x,) = _nodes([x])
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
    batch=lambda args, batched, node: make(_eye_like, [_example(args[0], True)]),
    text=call_text("eye_like"), latex=lambda n, c: ("I", P_ATOM),
    cases=(Case(((3,),)), Case(((2, 3),))), differentiable=False))


@public("eye_like")
def eye_like(x):
    """The rows of the identity matrix of size ``x.size``, each shaped like ``x``."""
    (x,) = _nodes([x])
    return make(_eye_like, [x])


def _infer_size(inputs, attrs):
    return np.dtype("float64"), ()


_shape_size = register(Op(
    name="shape_size",
    impl=lambda x, axis: np.float64(np.prod([np.shape(x)[a] for a in axis])),
    infer=_infer_size,
    code=lambda args, node: "float(" + " * ".join(
        f"{args[0]}.shape[{a}]" for a in node.attr("axis")) + ")",
    batch=_batch_shift_axes,
    vjp=lambda g, node: (None,), text=call_text("shape_size", "axis"),
    latex=lambda n, c: (rf"\left|{c(n.inputs[0], 0)}\right|", P_ATOM),
    cases=(Case(((2, 3),), {"axis": (0, 1)}),), differentiable=False, array_0d=True))


def _count(node: Node) -> Node | float:
    """The number of elements a reduction node reduces over."""
    x = node.inputs[0]
    axis = node.attr("axis")
    axes = tuple(range(x.ndim)) if axis is None else axis
    dims = [x.shape[a] for a in axes]
    if None in dims:
        return make(_shape_size, [x], {"axis": axes})
    return float(np.prod(dims)) if dims else 1.0


# -- indexing --------------------------------------------------------------------------------

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


_getitem = register(Op(
    name="getitem", impl=lambda x, index: np.asarray(x)[_py_index(index)],
    infer=_infer_getitem,
    code=lambda args, node: f"{args[0]}[{_index_text(node.attr('index'))}]",
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
    view=True))


@public("getitem")
def getitem(x, index):
    (x,) = _nodes([x])
    index = _normalize_index(x, index)
    if all(i == ("slice", None, None, None) for i in index):
        return x
    return make(_getitem, [x], {"index": index})


def _embed_impl(g, ref, index):
    out = np.zeros(np.shape(ref), np.result_type(g, np.float64) if np.asarray(g).dtype.kind != "f"
                   else np.asarray(g).dtype)
    out[_py_index(index)] = g
    return out


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
    # JAX's spelling of a functional index update: zeros_like(x).at[1:].set(g)
    text=lambda n, c: (f"zeros_like({c(n.inputs[1], 0)}).at[{_index_text(n.attr('index'))}]"
                       f".set({c(n.inputs[0], 0)})", P_ATOM),
    latex=lambda n, c: (c(n.inputs[0], P_ATOM), P_ATOM),
    cases=(Case(((4,), (5,)), {"index": (("slice", 1, None, None),)}),
           Case(((3,), (4, 3)), {"index": (1,)})),
    domain=((-2.0, 2.0), "const"),
    # two statements: zeros, then g written at index; a new array a later op may overwrite
    block=lambda out, args, node: (
        f"{out} = np.zeros({args[1]}.shape, np.{node.dtype.name})\n"
        f"{out}[{_index_text(node.attr('index'))}] = {args[0]}"),
    fresh=True, array_0d=True))


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
        x = _materialize(x, g)
    if batched[1]:   # an unbatched g broadcasts over the batch axis as it is
        part = _infer_getitem([node.inputs[0]], dict(node.attrs))[1]
        g = _align(g, node.inputs[1].ndim, len(part))
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
    jvp=lambda t, node: _sum_terms([t[0], _add_at_jvp_g(t[1], node)]),
    batch=_batch_add_at,
    text=lambda n, c: (f"{c(n.inputs[0], P_ATOM)}.at[{_index_text(n.attr('index'))}]"
                       f".add({c(n.inputs[1], 0)})", P_ATOM),
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
    fresh=True, overwrites_first=True))


def add_at(x, g, index) -> Node:
    """``x`` with ``g`` added at ``x[index]`` (``x.at[index].add(g)`` in JAX)."""
    x, g = _nodes([x, g])
    return make(_add_at, [x, g], {"index": _normalize_index(x, index)})


# -- joining -----------------------------------------------------------------------------------

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
            index = (("slice", None, None, None),) * axis + (("slice", start,
                                                             start + lengths[part], None),)
            out.append(make(_getitem, [g], {"index": index}))
    return tuple(out)


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
    cases=(Case(((2,), (3,)), {"axis": 0}), Case(((2, 3), (2, 1)), {"axis": 1}))))


def _concat_part_impl(g, *parts, axis, part):
    start = sum(np.shape(p)[axis] for p in parts[:part])
    index = (slice(None),) * axis + (slice(start, start + np.shape(parts[part])[axis]),)
    return np.asarray(g)[index]


def _concat_part_code(args, node):
    axis, part = node.attr("axis"), node.attr("part")
    start = " + ".join(f"{a}.shape[{axis}]" for a in args[1:1 + part])
    stop = f"{start} + {args[1 + part]}.shape[{axis}]" if start else f"{args[1 + part]}.shape[{axis}]"
    return f"{args[0]}[{':, ' * axis}{start}:{stop}]"


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
    domain=((-2.0, 2.0), "const", "const"), view=True))


def _concat_pad_impl(g, *parts, axis, part):
    return np.concatenate([g if i == part else np.zeros(np.shape(p))
                           for i, p in enumerate(parts)], axis=axis)


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
    domain=((-2.0, 2.0), "const", "const"), array_0d=True))


@public("concatenate", "concat")
def concatenate(arrays, axis=0):
    xs = _nodes(list(arrays))
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
    xs = _nodes(list(arrays))
    if not xs:
        raise ShapeError("stack: needs at least one operand")
    (axis,) = normalize_axis(axis, xs[0].ndim + 1, "stack")
    return concatenate([expand_dims(x, axis) for x in xs], axis)


@public("hstack")
def hstack(arrays):
    xs = _nodes(list(arrays))
    return concatenate(xs, 0 if xs and xs[0].ndim == 1 else 1)


@public("vstack")
def vstack(arrays):
    xs = [x if x.ndim >= 2 else expand_dims(x, 0) for x in _nodes(list(arrays))]
    return concatenate(xs, 0)


# ================================================================================
# Composites: public functions built from the primitives above
# ================================================================================

@public("reciprocal")
def reciprocal(x):
    return divide(1.0, x)


@public("log2")
def log2(x):
    return divide(log(x), float(np.log(2.0)))


@public("log10")
def log10(x):
    return divide(log(x), float(np.log(10.0)))


@public("exp2")
def exp2(x):
    return power(2.0, x)


@public("var")
def var(x, axis=None, keepdims=False):
    (x,) = _nodes([x])
    centred = subtract(x, mean(x, axis, True))
    return mean(square(centred), axis, keepdims)


@public("std")
def std(x, axis=None, keepdims=False):
    return sqrt(var(x, axis, keepdims))


@public("trace")
def trace(x):
    (x,) = _nodes([x])
    if x.ndim != 2 or None in x.shape:
        raise ShapeError("trace: needs a matrix of static shape")
    eye = Const(np.eye(x.shape[0], x.shape[1]), x.dtype)
    return sum_(multiply(x, eye))


exp, log, sqrt = FUNCTIONS["exp"], FUNCTIONS["log"], FUNCTIONS["sqrt"]
sin, cos, tan = FUNCTIONS["sin"], FUNCTIONS["cos"], FUNCTIONS["tan"]
sinh, cosh, tanh = FUNCTIONS["sinh"], FUNCTIONS["cosh"], FUNCTIONS["tanh"]
square, sigmoid = FUNCTIONS["square"], FUNCTIONS["sigmoid"]
FUNCTIONS["max"], FUNCTIONS["min"], FUNCTIONS["sum"] = max_, min_, sum_
