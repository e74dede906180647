"""Namespaces: what a name means to the walker. The ``np``/``numpy``, ``np.linalg``,
``math`` and ``symdiff`` namespaces and the builtins, built from the op table; the
spellings accepted in text; and the meaning of a Python object found in a
function's globals or closure.

Table functions, on constants only, are computed by NumPy's function of the same
name (or ``math``'s), exactly as the user's code run on constants would.
"""
from __future__ import annotations

import inspect
import math
import operator
import re
import sys
import types
from typing import Any, Callable

import numpy as np

from .. import members as member_table, numpy_protocol
from ..ops import OPS
from ..portable_runtime import foreign_library
from .constructs import as_array, rows
from .values import (MAX_CONSTANT_SIZE, SCALAR_TYPES, Known, Method, Namespace, Reject,
                     UserFunction, describe, has_expr, is_expr, suggest, table_functions)

# SymPy / math spellings accepted in text, and NumPy aliases.
TEXT_ALIASES: dict[str, str] = {
    "asin": "arcsin", "acos": "arccos", "atan": "arctan",
    "Abs": "abs", "absolute": "abs", "ln": "log", "Eq": "equal", "Ne": "not_equal",
    "asinh": "arcsinh", "acosh": "arccosh", "atanh": "arctanh", "atan2": "arctan2",
    "ceiling": "ceil",
}
NUMPY_ALIASES: dict[str, str] = {"absolute": "abs", "amax": "max", "amin": "min",
                                 "fabs": "abs"}
# math.<name> -> table name, beyond those the op records' ``math`` templates give; a
# name whose op is not in the table is left out.
MATH_ALIASES: dict[str, str] = {
    "fabs": "abs", "pow": "power", "log10": "log10", "log2": "log2", "atan2": "arctan2",
    "hypot": "hypot", "erf": "erf", "cbrt": "cbrt", "asinh": "arcsinh", "acosh": "arccosh",
    "atanh": "arctanh",
}
# np.linalg.<name> -> table name (norm is a composite, below).
LINALG_FUNCTIONS: dict[str, str] = {name: name for name in (
    "inv", "solve", "det", "slogdet", "cholesky", "diagonal", "trace", "svdvals", "svd")}
# (E: SymPy's name for e, as printers write it)
TEXT_CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e, "E": math.e, "inf": math.inf}

# Builtins that a function may call; their meaning is given in builtin().
FUNCTION_BUILTINS = ("abs", "sum", "max", "min", "pow", "range", "len", "zip",
                     "enumerate", "reversed", "float", "int", "bool", "round")
TEXT_BUILTINS = ("abs", "sum", "max", "min", "Max", "Min", "pow", "Heaviside", "float")

# The symdiff package itself (``import symdiff as sd`` in the user's module).
_PACKAGE = __name__.split(".")[0]

# Constant builders from the numpy namespace: called only on constants.
# Bare in text: str() prints constants built from a shape as these calls (``array``:
# what older versions printed).
_TEXT_BUILDERS = ("eye", "ones", "zeros", "full", "array")
_CONSTANT_BUILDERS = ("zeros", "ones", "full", "eye", "identity", "arange", "linspace",
                      "array", "asarray")


# ---------------------------------------------------------------------------
# Python objects found in a function's globals or closure

def from_python(value: Any, name: str, depth: int = 0) -> Any:
    """What a global (or closure, or default) value means to the walker."""
    if value is np:
        return numpy_namespace(strict=True)
    if value is math:
        return math_namespace()
    if value is np.linalg:
        return _linalg_namespace()
    if isinstance(value, types.ModuleType) and value is sys.modules.get(_PACKAGE):
        return _symdiff_namespace()
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if isinstance(value, float) and math.isnan(value):
            raise Reject(f"the constant {name!r} is nan")
        return value
    if isinstance(value, (np.ndarray, np.generic)):
        if value.dtype.kind not in "biuf":
            raise Reject(f"the constant {name!r} has dtype {value.dtype}, which symdiff "
                         "cannot use")
        return value
    if is_expr(value):
        return value
    if isinstance(value, (tuple, list)) and depth < 8:
        converted = [from_python(item, name, depth + 1) for item in value]
        return tuple(converted) if isinstance(value, tuple) else converted
    if isinstance(value, dict) and depth < 8:          # a pytree of constants
        return {key: from_python(item, name, depth + 1) for key, item in value.items()}
    if isinstance(value, slice) and all(part is None or isinstance(part, int) for part in
                                        (value.start, value.stop, value.step)):
        return value
    known = known_callable(value)
    if known is not None:
        return known
    if hasattr(type(value), "__symdiff_symbolic__"):     # sd.grad(f) and other transforms
        return Known(name, value.__symdiff_symbolic__, None)
    module = (getattr(value, "__module__", None) or "").split(".")[0]
    if callable(value) and module in _LIBRARIES:
        qualified = f"{module}.{getattr(value, '__name__', name)}"
        raise Reject(f"{name!r} ({qualified}) is not a function symdiff knows; "
                     "symdiff.ops.FUNCTIONS lists those it does")
    if isinstance(value, types.FunctionType):
        return UserFunction(value)
    if isinstance(value, type) and value in SCALAR_TYPES:
        return value
    if isinstance(value, type):
        raise Reject(f"{name!r} is a class; symdiff can call table functions and the "
                     "user's own functions")
    library = foreign_library(value)
    if library is not None:   # a Dask data set in a closure: constants are NumPy only
        raise Reject(f"{name!r} is a {library} array read from outside the function; pass "
                     f"it as an argument (arguments may be {library} arrays, constants "
                     "are NumPy)")
    raise Reject(f"{name!r} is {describe(value)}; symdiff can use numbers, NumPy "
                 "arrays, the numpy and math modules and readable functions")


# Functions of these packages are not inlined: they are not the user's code.
_LIBRARIES = frozenset(("numpy", "scipy", "symdiff", "math", "builtins", "jax", "torch"))


def _math_functions() -> dict[str, str]:
    """``math``'s functions that compute a table op on floats, name -> op name: those
    whose op record's ``math`` template is a plain call, ``arcsin``'s ``math.asin({0})``,
    and ``MATH_ALIASES``."""
    found = {}
    for name, op in OPS.items():
        call = re.fullmatch(r"math\.(\w+)\(\{0\}\)", op.math or "")
        if call and name in table_functions():
            found[call.group(1)] = name
    for name, target in MATH_ALIASES.items():
        if target in table_functions() and hasattr(math, name):
            found.setdefault(name, target)
    return found


def known_callable(value: Any) -> Known | None:
    """``np.exp``, ``sd.sigmoid``, ``np.linalg.norm``... found by identity."""
    known = _identity_table().get(id(value))
    if known is not None and _IDENTITY_OBJECTS.get(id(value)) is value:
        return known
    return None


_IDENTITY: dict[int, Known] = {}
_IDENTITY_OBJECTS: dict[int, Any] = {}


def _identity_table() -> dict[int, Known]:
    if not _IDENTITY:
        functions = table_functions()
        for name, builder in functions.items():
            _IDENTITY[id(builder)] = table_function(name)
            _IDENTITY_OBJECTS[id(builder)] = builder
            numpy_object = getattr(np, name, None)
            if numpy_object is not None and callable(numpy_object):
                _IDENTITY[id(numpy_object)] = table_function(name)
                _IDENTITY_OBJECTS[id(numpy_object)] = numpy_object
        for alias, name in NUMPY_ALIASES.items():
            numpy_object = getattr(np, alias, None)
            if numpy_object is not None and name in functions:
                _IDENTITY[id(numpy_object)] = table_function(name)
                _IDENTITY_OBJECTS[id(numpy_object)] = numpy_object
        _IDENTITY[id(np.linalg.norm)] = _composite("norm")
        _IDENTITY_OBJECTS[id(np.linalg.norm)] = np.linalg.norm
        for name, target in LINALG_FUNCTIONS.items():
            numpy_object = getattr(np.linalg, name, None)
            if numpy_object is not None and target in functions:
                known = table_function(target, numpy_object)
                _IDENTITY[id(numpy_object)] = known
                _IDENTITY_OBJECTS[id(numpy_object)] = numpy_object
        for name, target in _math_functions().items():
            _IDENTITY[id(getattr(math, name))] = table_function(target, getattr(math, name))
            _IDENTITY_OBJECTS[id(getattr(math, name))] = getattr(math, name)
    return _IDENTITY


# ---------------------------------------------------------------------------
# callables and namespaces

_TABLE_CACHE: dict[tuple, Known] = {}


def table_function(name: str, on_constants: Callable[..., Any] | None = None) -> Known:
    """The table's ``name``; on constants only, NumPy's function of that name (or
    ``on_constants``, e.g. ``math.sqrt``) computes the value, as the code would."""
    key = (name, on_constants)
    known = _TABLE_CACHE.get(key)
    if known is not None:
        return known
    builder = table_functions()[name]
    if on_constants is None:
        # ``np.<name>`` is this table function (see _identity_table); where NumPy has
        # none (sigmoid, softmax...), the builder is called on constants too.
        on_constants = getattr(np, name, None)

    def call(*args: Any, **kwargs: Any) -> Any:
        if on_constants is not None and not has_expr(args) and not has_expr(kwargs):
            return on_constants(*args, **kwargs)
        return builder(*args, **kwargs)

    known = Known(name, call, _signature(builder))
    _TABLE_CACHE[key] = known
    return known


def refresh_tables() -> None:
    """Forget the tables built from the op table if it has gained entries since."""
    size = len(table_functions())
    if _TABLE_SIZE and _TABLE_SIZE[0] == size:
        return
    _TABLE_CACHE.clear()
    _NAMESPACES.clear()
    _IDENTITY.clear()
    _IDENTITY_OBJECTS.clear()
    _TABLE_SIZE[:] = [size]


_TABLE_SIZE: list[int] = []


def _composite(name: str) -> Known:
    builder = numpy_protocol.COMPOSITES[name]
    numpy_function = np.linalg.norm if name == "norm" else getattr(np, name)

    def call(*args: Any, **kwargs: Any) -> Any:
        if not has_expr(args) and not has_expr(kwargs):
            return numpy_function(*args, **kwargs)
        return builder(*args, **kwargs)

    return Known(name, call, _signature(builder))


def _constant_builder(name: str) -> Known:
    numpy_function = getattr(np, name)

    def call(*args: Any, **kwargs: Any) -> Any:
        if has_expr(args) or has_expr(kwargs):
            if name == "asarray" and len(args) == 1 and not kwargs:
                return args[0]
            if len(args) == 1 and not kwargs and isinstance(args[0], (list, tuple)):
                return as_array(args[0])        # np.array([a, b * c])
            raise Reject(f"np.{name}() builds a constant: its arguments must be known while "
                         "reading, not expressions")
        for value in list(args) + list(kwargs.values()):
            if isinstance(value, (Known, Method, UserFunction, Namespace)):
                raise Reject(f"np.{name}(): unexpected argument {describe(value)}")
        result = numpy_function(*args, **kwargs)
        if isinstance(result, np.ndarray) and result.size > MAX_CONSTANT_SIZE:
            raise Reject(f"np.{name}() would build a constant of {result.size} elements")
        return result

    return Known(name, call, None)


def _signature(fn: Callable[..., Any]) -> inspect.Signature | None:
    try:
        return inspect.signature(fn)
    except (TypeError, ValueError):
        return None


_NAMESPACES: dict[str, Namespace] = {}


def numpy_namespace(strict: bool) -> Namespace:
    """``np``: in text every table name; in a function only what NumPy really has."""
    key = "numpy-strict" if strict else "numpy"
    if key in _NAMESPACES:
        return _NAMESPACES[key]
    members: dict[str, Any] = {}
    for name in table_functions():
        if not strict or hasattr(np, name):
            members[name] = table_function(name)
    for alias, name in NUMPY_ALIASES.items():
        if name in table_functions():
            members[alias] = table_function(name)
    if not strict:
        for alias, name in TEXT_ALIASES.items():
            if name in table_functions() and alias.islower():
                members.setdefault(alias, table_function(name))
    for name in numpy_protocol.COMPOSITES:
        if name != "norm":
            members.setdefault(name, _composite(name))
    for name in _CONSTANT_BUILDERS:
        members.setdefault(name, _constant_builder(name))
    for name, function in numpy_protocol.numpy_extras().items():
        members[name] = Known(name, function, _signature(function))
    members.update(member_table.NUMPY_SCALAR_TYPES)
    members.update(pi=math.pi, e=math.e, inf=math.inf, newaxis=None)
    if not strict:
        members["s_"] = np.s_          # an index as a value: add_at(x, g, np.s_[1:])
    members["linalg"] = _linalg_namespace()
    namespace = Namespace("np", members)
    _NAMESPACES[key] = namespace
    return namespace


def _linalg_namespace() -> Namespace:
    if "linalg" not in _NAMESPACES:
        members: dict[str, Any] = {"norm": _composite("norm")}
        for name, target in LINALG_FUNCTIONS.items():
            if hasattr(np.linalg, name) and target in table_functions():
                members[name] = table_function(target, getattr(np.linalg, name))
        _NAMESPACES["linalg"] = Namespace("np.linalg", members)
    return _NAMESPACES["linalg"]


def math_namespace() -> Namespace:
    if "math" not in _NAMESPACES:
        members: dict[str, Any] = {"pi": math.pi, "e": math.e, "inf": math.inf}
        for name, target in _math_functions().items():
            members[name] = table_function(target, getattr(math, name))
        _NAMESPACES["math"] = Namespace("math", members)
    return _NAMESPACES["math"]


def _symdiff_namespace() -> Namespace:
    if "symdiff" not in _NAMESPACES:
        members: dict[str, Any] = {name: table_function(name) for name in table_functions()}
        members.update(pi=math.pi, e=math.e)
        _NAMESPACES["symdiff"] = Namespace("sd", members)
    return _NAMESPACES["symdiff"]


def text_function(name: str) -> Any:
    """A bare function name in text: builtins, table names and aliases."""
    if name in TEXT_BUILTINS:
        return builtin(name, text=True)
    if name == "log" and "logb" in table_functions():
        return _log_with_base()
    if name in _TEXT_BUILDERS:     # str() prints constants built from shapes this way
        return _constant_builder(name)
    if name in table_functions():
        return table_function(name)
    if name in ("embed", "add_at"):   # how index updates print: add_at(x, g, np.s_[1:])
        return _index_update(name)
    if name in TEXT_ALIASES and TEXT_ALIASES[name] in table_functions():
        return table_function(TEXT_ALIASES[name])
    return None


def _log_with_base() -> Known:
    """``log(x)``, and ``log(x, b)`` as SymPy and ``math.log`` read it: base ``b``."""
    natural, based = table_function("log"), table_function("logb")

    def call(x: Any, base: Any = None) -> Any:
        return natural.call(x) if base is None else based.call(x, base)
    return Known("log", call, None)


def _index_update(name: str) -> Known:
    from ..ops import slicing
    fn = getattr(slicing, name)

    def call(first: Any, second: Any, index: Any) -> Any:
        if not (is_expr(first) or is_expr(second)):
            raise Reject(f"{name}() takes an expression")
        if has_expr(index):
            raise Reject(f"{name}(): the index must be known while reading (np.s_[1:])")
        return fn(first, second, index)
    return Known(name, call, _signature(fn))


def builtin(name: str, *, text: bool) -> Any:
    """Builtins with NumPy's meaning where it is clear.

    ``abs(x)`` is ``abs``; ``sum(x, axis=...)`` is ``np.sum`` (Python's ``sum``
    over a tuple or list of values stays Python's); ``max(x)`` is ``np.max`` and
    ``max(a, b, ...)`` is ``np.maximum`` folded (same for ``min``); SymPy's
    ``Max``/``Min`` take two or more arguments likewise. The rest (``range``,
    ``len``, ``zip``, ...) work on values known while reading; ``float``, ``int``
    and ``bool`` are the types themselves (dtypes; they convert constants only).
    """
    if name in member_table.BUILTIN_TYPES:
        return member_table.BUILTIN_TYPES[name]
    functions = table_functions()

    def absolute(x: Any) -> Any:
        return functions["abs"](x) if is_expr(x) else abs(x)

    def check_keywords(kwargs: dict) -> None:
        for key in kwargs:
            if key not in ("axis", "keepdims"):
                raise Reject(f"{name}() has no argument {key!r}"
                             + suggest(key, ["axis", "keepdims"]))

    def total(x: Any, *rest: Any, **kwargs: Any) -> Any:
        check_keywords(kwargs)
        if isinstance(x, (tuple, list)):
            if kwargs:
                raise Reject("sum() over a tuple or list takes no keyword arguments")
            return sum(x, *rest)
        if rest:
            raise Reject("sum() with two positional arguments is ambiguous; write "
                         "sum(x, axis=...)")
        return table_function("sum").call(x, **kwargs)

    def extreme(kind: str) -> Callable[..., Any]:
        pairwise = "maximum" if kind == "max" else "minimum"
        sympy_style = name in ("Max", "Min")

        def reduce(*args: Any, **kwargs: Any) -> Any:
            check_keywords(kwargs)
            if not args:
                raise Reject(f"{name}() needs at least one argument")
            if len(args) == 1:
                (x,) = args
                if sympy_style and not kwargs:
                    return x
                if isinstance(x, (tuple, list)) and not has_expr(x):
                    return (max if kind == "max" else min)(x)
                if isinstance(x, (tuple, list)):
                    raise Reject(f"{name}() over a list of expressions: use "
                                 f"np.{pairwise}(a, b)")
                return table_function(kind).call(x, **kwargs)
            if kwargs:
                raise Reject(f"{name}() with several arguments takes no keywords")
            if not has_expr(args):
                return (max if kind == "max" else min)(args)
            result = args[0]
            for arg in args[1:]:
                result = functions[pairwise](result, arg)
            return result

        return reduce

    def heaviside(x: Any, h0: Any = None) -> Any:
        # SymPy's step function, as str() prints 0-d comparisons: Heaviside(a - b, 0)
        # is a > b and Heaviside(a - b, 1) is a >= b; H(0) is 1/2 by default.
        if not has_expr((x, h0)):
            return np.heaviside(x, 0.5 if h0 is None else h0)
        if is_expr(h0):
            raise Reject("Heaviside(): the value at 0 must be a number")
        if h0 == 0:
            return functions["greater"](x, 0)
        if h0 == 1:
            return functions["greater_equal"](x, 0)
        at_zero = 0.5 if h0 is None else h0
        return functions["where"](functions["greater"](x, 0), 1.0,
                                  functions["where"](functions["less"](x, 0), 0.0, at_zero))

    def static_only(fn: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            if has_expr(args) or has_expr(kwargs):
                raise Reject(f"{name}() needs values known while reading, not expressions")
            return fn(*args, **kwargs)
        return call

    def length(x: Any) -> int:
        if is_expr(x):
            shape = tuple(x.shape)
            if not shape or not isinstance(shape[0], int):
                raise Reject("len() of an expression whose first dimension is not known")
            return shape[0]
        return len(x)

    def python_range(*args: Any) -> range:
        if has_expr(args):
            raise Reject("range() needs integers known while reading (a loop is unrolled); "
                         "pass the bound as a static argument (static_argnums)")
        return range(*(operator.index(arg) for arg in args))

    implementations: dict[str, Callable[..., Any]] = {
        "abs": absolute, "sum": total, "max": extreme("max"), "min": extreme("min"),
        "Max": extreme("max"), "Min": extreme("min"), "Heaviside": heaviside,
        "pow": lambda base, exponent: operator.pow(base, exponent),
        "range": python_range, "len": length,
        "zip": _sequence_builtin("zip"), "enumerate": _sequence_builtin("enumerate"),
        "reversed": _sequence_builtin("reversed"), "round": static_only(round),
    }
    return Known(name, implementations[name], None)


def _sequence_builtin(name: str) -> Callable[..., Any]:
    def call(*args: Any) -> list:
        args = list(args)
        for i, arg in enumerate(args[:1] if name == "enumerate" else args):
            if not isinstance(arg, (tuple, list, range)):
                args[i] = rows(arg)
                if args[i] is None:
                    raise Reject(f"{name}() works on tuples, lists, ranges, dicts, and "
                                 "arrays and expressions whose length is known here")
        return {"zip": lambda: list(zip(*args)), "enumerate": lambda: list(enumerate(*args)),
                "reversed": lambda: list(reversed(*args))}[name]()
    return call


