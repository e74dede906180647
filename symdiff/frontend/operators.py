"""Python's operators on the walker's values: the operator tables, and each operator
applied as Python applies it, with guards on constants (no huge integers, no silent
infinities)."""
from __future__ import annotations

import ast
import math
import operator
from typing import Any, Callable

import numpy as np

from .values import MAX_INT_BITS, Known, Reject, describe, is_expr

BINARY_OPERATORS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.Pow: operator.pow, ast.MatMult: operator.matmul,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
}
OPERATOR_TEXT: dict[type, str] = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**",
    ast.MatMult: "@", ast.FloorDiv: "//", ast.Mod: "%", ast.BitXor: "^",
    ast.BitAnd: "&", ast.BitOr: "|", ast.LShift: "<<", ast.RShift: ">>",
}
REFUSED_OPERATORS: dict[type, str] = {
    ast.BitXor: "'^' is bitwise XOR in Python; use ** for powers",
    ast.BitAnd: "'&' (bitwise and) is not supported; use np.where or np.minimum",
    ast.BitOr: "'|' (bitwise or) is not supported; use np.where or np.maximum",
    ast.LShift: "'<<' is not supported",
    ast.RShift: "'>>' is not supported",
    ast.Invert: "'~' (bitwise not) is not supported",
}
COMPARISONS: dict[type, tuple[str, Callable[[Any, Any], Any]]] = {
    ast.Lt: ("less", operator.lt), ast.LtE: ("less_equal", operator.le),
    ast.Gt: ("greater", operator.gt), ast.GtE: ("greater_equal", operator.ge),
    ast.Eq: ("equal", operator.eq), ast.NotEq: ("not_equal", operator.ne),
    ast.Is: ("", operator.is_), ast.IsNot: ("", operator.is_not),
    ast.In: ("", lambda a, b: a in b), ast.NotIn: ("", lambda a, b: a not in b),
}


# ---------------------------------------------------------------------------
# operators on values

def check_operand(value: Any, symbol: str) -> None:
    if is_expr(value) or isinstance(value, (bool, int, float, np.ndarray, np.number,
                                            np.bool_)):
        if isinstance(value, np.ndarray) and value.dtype.kind not in "biuf":
            raise Reject(f"'{symbol}' on an array of dtype {value.dtype}")
        return
    if isinstance(value, Known):
        raise Reject(f"{value.name} is a function; call it: {value.name}(...)")
    if isinstance(value, str):
        raise Reject("strings are not allowed in an expression (only as dict keys and "
                     "dtype names)")
    raise Reject(f"'{symbol}' cannot be applied to {describe(value)}")


def apply_operator(fn: Callable[[Any, Any], Any], symbol: str, left: Any, right: Any,
                   guard: Callable[..., Any] | None = None) -> Any:
    """``left <symbol> right`` as Python computes it, with guards on constants."""
    if symbol == "+" and isinstance(left, tuple) and isinstance(right, tuple):
        return left + right           # shape arithmetic: x.shape + (1,)
    check_operand(left, symbol)
    check_operand(right, symbol)
    python_numbers = (isinstance(left, (int, float)) and isinstance(right, (int, float)))
    if python_numbers:
        _check_integer_size(symbol, left, right)
        try:
            result = fn(left, right)
        except ZeroDivisionError:
            raise Reject("division by zero in a constant expression") from None
        except OverflowError:
            raise Reject(f"constant {left!r} {symbol} {right!r} overflows float64") from None
        if isinstance(result, float) and not math.isfinite(result):
            raise Reject(f"constant {left!r} {symbol} {right!r} is not finite")
        if isinstance(result, complex):
            raise Reject(f"constant {left!r} {symbol} {right!r} is complex")
        return result
    if guard is not None:
        return guard(fn, left, right)
    return fn(left, right)


def _check_integer_size(symbol: str, left: Any, right: Any) -> None:
    if not (isinstance(left, int) and isinstance(right, int)):
        return
    if symbol == "**" and right > 0 and abs(left) > 1 \
            and right * abs(left).bit_length() > MAX_INT_BITS:
        raise Reject(f"constant {left} ** {right} is too large for float64")
    if symbol == "*" and abs(left).bit_length() + abs(right).bit_length() > MAX_INT_BITS:
        raise Reject(f"constant {left} * {right} is too large for float64")


def cmp_text(op: ast.cmpop) -> str:
    return {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==",
            ast.NotEq: "!=", ast.Is: "is", ast.IsNot: "is not", ast.In: "in",
            ast.NotIn: "not in"}[type(op)]


