"""The SymPy bridge: scalar symdiff expressions to SymPy and back.

Conventions
- Scalar (0-d) expressions only: SymPy is for looking at and polishing small
  formulas, never on the path of tensor compilation. A node of another shape
  raises ``ValueError``.
- Every scalar op of the op table has a SymPy form. Functions SymPy lacks are
  given their definitions: ``sigmoid(x) = 1/(1 + exp(-x))``, ``relu(x) =
  Max(0, x)``, ``softplus(x) = log(1 + exp(x))``, ``log1p(x) = log(1 + x)``,
  ``expm1(x) = exp(x) - 1``, ``square(x) = x**2``, ``logaddexp(a, b) =
  log(exp(a) + exp(b))``, ``clip(x, a, b) = Min(Max(x, a), b)``, ``where(c, a, b) =
  Piecewise((a, c), (b, True))``.
  The kinks keep symdiff's values (JAX's conventions) only where SymPy defines
  them the same way; derivatives at kinks are not compared.
- Variables become ``sympy.Symbol(name)`` (``real=True`` on request); SymPy
  symbols become scalar float64 ``Var``s, or the ``Var`` of that name in
  ``variables``. Numbers become float constants.
- Both directions walk the expression with an explicit stack (no recursion).
"""
from __future__ import annotations

import functools
import re
from typing import Any, Callable, Mapping

import numpy as np
import sympy

from .ir import Const, Node, Var, toposort
from .printing import exact_text
from .ops import FUNCTIONS, OPS

F = FUNCTIONS

# The operands of the ops' SymPy formulas (``Op.sympy``: "a + b", "log(1 + a)"...).
_OPERANDS = sympy.symbols("a b c", cls=sympy.Dummy)


@functools.cache
def _form(name: str) -> Callable | None:
    """The op's SymPy formula as a function of SymPy operands, or None if it has none."""
    formula = OPS[name].sympy if name in OPS else None
    if formula is None:
        return None
    expr = sympy.sympify(formula, locals=dict(zip("abc", _OPERANDS)))

    def form(*args):
        return expr.xreplace(dict(zip(_OPERANDS, args)))
    return form


def _number(value: np.ndarray):
    v = value.item()
    if isinstance(v, bool):
        return sympy.true if v else sympy.false
    if float(v).is_integer() and abs(v) < 2 ** 53:
        return sympy.Integer(int(v))
    exact = exact_text(abs(float(v)))   # 1/3, log(2), pi: the float is exactly that
    if exact is not None:
        return (1 if v > 0 else -1) * sympy.sympify(exact[0])
    return sympy.Float(v)


def to_sympy(expr: Node, *, real: bool = False) -> sympy.Expr:
    """The SymPy expression for a scalar symdiff expression."""
    if not isinstance(expr, Node):
        raise TypeError(f"to_sympy takes an expression, not {type(expr).__name__}")
    done: dict[int, Any] = {}
    for node in toposort([expr]):
        name = node.op.name
        if node.shape != () and not (name == "const" and node.value.size == 1):
            raise ValueError(f"to_sympy: only scalar expressions convert; {name} has shape "
                             f"{node.shape}")
        args = [_as_number(node, i, done[i.id]) for i in node.inputs]
        if node.dtype == np.bool_ and name in ("mul", "add"):   # booleans: and, or
            out = (sympy.And if name == "mul" else sympy.Or)(*args)
        elif name == "var":
            out = sympy.Symbol(node.name, real=True) if real else sympy.Symbol(node.name)
        elif name == "const":
            out = _number(node.value.reshape(()))
        elif _form(name) is not None:
            out = _form(name)(*args)
        elif name == "where":
            c, a, b = args
            out = sympy.Piecewise((a, c), (b, True))
        elif name == "clip":
            x, lo, hi = args
            out = sympy.Min(sympy.Max(x, lo), hi)
        elif name == "getitem" and node.inputs[0].shape == ():
            out = args[0]
        else:
            raise ValueError(f"to_sympy: no SymPy form for op {name!r}")
        done[node.id] = out
    return done[expr.id]


def _as_number(node: Node, operand: Node, value: Any) -> Any:
    """A boolean operand used as the number 0 or 1 (``0.5*(a == b)``) as SymPy's
    ``Piecewise((1, a == b), (0, True))``: SymPy multiplies no relations."""
    if operand.dtype != np.bool_ or node.dtype == np.bool_ or (
            node.op.name == "where" and operand is node.inputs[0]):
        return value
    return sympy.Piecewise((1, value), (0, True))


def sympy_names() -> dict[str, Any]:
    """The names with which ``sympy.sympify`` reads symdiff's scalar text as symdiff
    does: ``where(c, a, b)`` is ``Piecewise((a, c), (b, True))``, ``logical_and``,
    ``logical_or`` and ``logical_not`` are ``And``, ``Or``, ``Not``; ``log1p``,
    ``expm1``, ``softplus``, ``logaddexp`` (printed by name: their SymPy formulas
    lose digits or overflow in float64) and ``sigmoid`` are their formulas. (Everything else
    in scalar text is SymPy's own spelling: ``Abs``, ``Max``, ``Eq``, ``exp``...)"""
    return {"where": lambda c, a, b: sympy.Piecewise((a, c), (b, True)),
            "logical_and": sympy.And, "logical_or": sympy.Or, "logical_not": sympy.Not,
            "log1p": lambda a: sympy.log(1 + a), "expm1": lambda a: sympy.exp(a) - 1,
            "softplus": lambda a: sympy.log(1 + sympy.exp(a)),
            "logaddexp": lambda a, b: sympy.log(sympy.exp(a) + sympy.exp(b)),
            "sigmoid": lambda a: 1 / (1 + sympy.exp(-a))}


# -- back -------------------------------------------------------------------------------------

@functools.cache
def _functions() -> dict:
    """SymPy function -> op name, for the ops whose formula is one SymPy function of their
    operands (``"asin(a)"``: ``sympy.asin -> "arcsin"``; ``"atan2(a, b)"``)."""
    found = {}
    for name, op in OPS.items():
        call = re.fullmatch(r"(\w+)\(a(?:, b)?\)", op.sympy or "")
        fn = getattr(sympy, call.group(1), None) if call else None
        # two operands: functions only (Max and Min have their own reading below)
        two = ", b)" in (op.sympy or "")
        if isinstance(fn, type) and issubclass(fn, sympy.Function if two else sympy.Basic):
            found[fn] = name
    return found


_RELATIONS = {sympy.StrictLessThan: "less", sympy.LessThan: "less_equal",
              sympy.StrictGreaterThan: "greater", sympy.GreaterThan: "greater_equal",
              sympy.Equality: "equal", sympy.Unequality: "not_equal"}


def from_sympy(expr: Any, variables: Mapping[str, Var] | None = None) -> Node:
    """The symdiff expression for a SymPy expression (scalar float64 variables by default)."""
    variables = dict(variables or {})
    expr = sympy.sympify(expr)
    done: dict[Any, Node] = {}
    stack = [(expr, False)]
    while stack:
        e, expanded = stack.pop()
        if e in done:
            continue
        if not expanded and e.args and not isinstance(e, sympy.Number):
            stack.append((e, True))
            stack.extend((a, False) for a in e.args if a not in done)
            continue
        done[e] = _build(e, [done[a] for a in e.args] if e.args and
                         not isinstance(e, sympy.Number) else [], variables)
    return done[expr]


def _build(e, args: list, variables: dict) -> Any:
    if isinstance(e, sympy.Symbol):
        v = variables.get(e.name)
        if v is None:
            v = variables[e.name] = Var(e.name, ())
        return v
    if e is sympy.true or e is sympy.false:
        return Const(bool(e))
    if e.is_Number or e in (sympy.pi, sympy.E) or isinstance(e, sympy.NumberSymbol):
        value = complex(e)
        if value.imag:
            raise ValueError(f"from_sympy: complex number {e}")
        return Const(float(value.real))
    if isinstance(e, sympy.Add):
        return functools.reduce(F["add"], args)
    if isinstance(e, sympy.Mul):
        coeff, _ = e.as_coeff_Mul()
        if coeff == -1 and len(args) >= 2:
            # -x is Mul(-1, x): negate the product of the other factors.
            others = [a for a, s in zip(args, e.args) if s != -1]
            return F["negative"](functools.reduce(F["multiply"], others))
        return functools.reduce(F["multiply"], args)
    if isinstance(e, sympy.Pow):
        base, exponent = args
        if e.exp == -1:
            return F["divide"](1.0, base)
        if e.exp == sympy.Rational(1, 2):
            return F["sqrt"](base)
        if e.exp == 2:
            return F["square"](base)
        return F["power"](base, exponent)
    if e.func is sympy.sinc:
        # SymPy's sinc is sin(x)/x; NumPy's (symdiff's) is sin(pi x)/(pi x)
        return F["sinc"](F["divide"](args[0], float(np.pi)))
    if e.func in _functions():
        if e.func is sympy.log and len(args) == 2:
            return F["divide"](F["log"](args[0]), F["log"](args[1]))
        return F[_functions()[e.func]](*args)
    if isinstance(e, (sympy.Max, sympy.Min)):
        name = "maximum" if isinstance(e, sympy.Max) else "minimum"
        zero = [i for i, s in enumerate(e.args) if s == 0]
        if name == "maximum" and len(args) == 2 and zero:
            return F["relu"](args[1 - zero[0]])
        out = args[0]
        for a in args[1:]:
            out = F[name](out, a)
        return out
    if type(e) in _RELATIONS:
        return F[_RELATIONS[type(e)]](*args)
    if isinstance(e, sympy.And) or isinstance(e, sympy.Or):
        name = "logical_and" if isinstance(e, sympy.And) else "logical_or"
        out = args[0]
        for a in args[1:]:
            out = F[name](out, a)
        return out
    if isinstance(e, sympy.Not):
        return F["logical_not"](args[0])
    if isinstance(e, sympy.Piecewise):
        return _piecewise(e, args)
    if isinstance(e, sympy.functions.elementary.piecewise.ExprCondPair):
        return (args[0], args[1])       # (value, condition), read by the Piecewise
    if isinstance(e, sympy.Heaviside):
        x = args[0]
        at_zero = float(e.args[1]) if len(e.args) > 1 else 0.5
        step = F["where"](F["greater"](x, 0.0), 1.0, 0.0)
        return F["where"](F["equal"](x, 0.0), at_zero, step)
    raise ValueError(f"from_sympy: no symdiff form for {e.func.__name__}")


def _piecewise(e, pairs) -> Node:
    out = None
    for value, cond in reversed(pairs):
        if cond.op.name == "const" and bool(cond.value):
            out = value
        elif out is None:
            raise ValueError("from_sympy: a Piecewise without an 'otherwise' branch")
        else:
            out = F["where"](cond, value, out)
    return out
