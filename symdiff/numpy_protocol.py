"""NumPy's dispatch protocols for expressions: ``np.exp(expr)`` builds a node.

``Node.__array_ufunc__`` and ``Node.__array_function__`` call the two functions
below, so NumPy code run on symdiff expressions builds graph nodes instead of
computing numbers:

    np.exp(x)                 -> exp(x)
    np.maximum(0, x)          -> maximum(0, x)
    A @ x  (A an ndarray)     -> matmul(A, x)
    np.sum(x, axis=0)         -> sum(x, axis=0)
    np.where(x > 0, x, 0.0)   -> where(greater(x, 0), x, 0.0)

Conventions of this module:

* A NumPy function maps to the op-table entry of the same name
  (``symdiff.ops.FUNCTIONS``), through ``UFUNC_NAMES`` / ``FUNCTION_NAMES`` when
  NumPy spells it differently (``absolute`` -> ``abs``, ``amax`` -> ``max``).
* A few NumPy functions that are not primitives are built from primitives by the
  ``COMPOSITES`` below (``np.linalg.norm``, ``np.ones_like``). The front end
  uses the same builders, so a function read from its source and the same
  function run on variables build the same graph.
* What is not supported returns ``NotImplemented`` (NumPy then raises its own
  ``TypeError``): ``out=``, ufunc methods other than ``__call__``
  (``np.add.reduce``), and functions outside the table.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

# NumPy ufunc name -> op-table name, where they differ.
UFUNC_NAMES: dict[str, str] = {
    "absolute": "abs",
    "fabs": "abs",
    "true_divide": "divide",
}

# NumPy function name -> op-table name, where they differ.
FUNCTION_NAMES: dict[str, str] = {
    "amax": "max",
    "amin": "min",
    "absolute": "abs",
}

# Keyword arguments NumPy passes that carry no meaning for a graph when they
# hold their default value.
_NEUTRAL_KWARGS: dict[str, Any] = {"out": None, "dtype": None, "casting": "same_kind",
                                   "order": "K", "subok": True}


def _functions() -> dict[str, Callable[..., Any]]:
    from .ops import FUNCTIONS
    return FUNCTIONS


# ---------------------------------------------------------------------------
# composites: NumPy functions built from several primitives

def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Any:
    """``np.linalg.norm``: ``sd.norm`` (``symdiff/ops/composites.py``)."""
    return _functions()["norm"](x, ord=ord, axis=axis, keepdims=keepdims)


def ones_like(x: Any) -> Any:
    """``np.ones_like``: ``zeros_like(x) + 1``."""
    return _functions()["zeros_like"](x) + 1.0


COMPOSITES: dict[str, Callable[..., Any]] = {"norm": norm, "ones_like": ones_like}


# ---------------------------------------------------------------------------
# NumPy arguments and spellings beyond the table's: ``np.real`` of a real value,
# ``np.fabs``, ``ddof``, ``trace(offset=)``, ``np.dot``/``np.inner`` above 2-d where
# they are matrix products. They override the table function of the same name, in
# the front end's ``np`` namespace and here, so that reading a function and tracing
# it build the same graph. On constants NumPy computes them.

_EXTRAS: dict[str, Callable[..., Any]] = {}


def numpy_extras() -> dict[str, Callable[..., Any]]:
    """NumPy name -> builder, for the spellings above (built once)."""
    if not _EXTRAS:
        _EXTRAS.update(_build_extras())
    return _EXTRAS


def as_node(value: Any) -> Any:
    """An expression as is; a number or a numeric array as a constant node."""
    from .ir import Const, Node
    if isinstance(value, Node):
        return value
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise ValueError(f"a {type(value).__name__} cannot be an item of an array")
    return Const(array.astype(float) if array.dtype.kind in "biu" else array)


def holds_expression(value: Any) -> bool:
    """Whether ``value`` is an expression or a (nested) tuple or list holding one."""
    from .ir import Node
    if isinstance(value, Node):
        return True
    if isinstance(value, (tuple, list)):
        return any(holds_expression(item) for item in value)
    return False


def _build_extras() -> dict[str, Callable[..., Any]]:
    import inspect
    functions = _functions()

    def on_constants(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        numpy_function = getattr(np, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            if not holds_expression(list(args) + list(kwargs.values())):
                return numpy_function(*args, **kwargs)
            return fn(*args, **kwargs)

        call.__signature__ = inspect.signature(fn)      # type: ignore[attr-defined]
        return call

    def real(val: Any) -> Any:
        return val          # the values symdiff computes with are real

    def spread(kind: str) -> Callable[..., Any]:
        def reduce(a: Any, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> Any:
            base = functions[kind](a, axis=axis, keepdims=keepdims)
            if holds_expression(ddof) or not isinstance(ddof, (int, np.integer)):
                raise ValueError("ddof must be an int known while reading")
            if ddof == 0:
                return base
            n = _count(a, axis)
            if n <= ddof:
                raise ValueError(f"ddof={ddof} with {n} values: NumPy divides by zero here")
            factor = n / (n - ddof)
            return base * (np.sqrt(factor) if kind == "std" else factor)
        return reduce

    def trace(a: Any, offset: int = 0) -> Any:
        if offset == 0:
            return functions["trace"](a)
        if a.ndim != 2 or not all(isinstance(d, int) for d in a.shape):
            raise ValueError("trace with an offset needs a matrix of known shape")
        rows, cols = a.shape
        entries = [a[i, i + offset] for i in range(rows) if 0 <= i + offset < cols]
        if not entries:
            return functions["sum"](a[0:0, 0])
        return functions["sum"](functions["stack"](entries))

    def dot(a: Any, b: Any) -> Any:
        a, b = as_node(a), as_node(b)
        if a.ndim <= 2 and b.ndim <= 2 or a.ndim == 0 or b.ndim == 0:
            return functions["dot"](a, b)
        if b.ndim <= 2:
            return functions["matmul"](a, b)      # sum over a's last axis, b's first
        raise ValueError("np.dot of two arrays above 2-d is not supported; write it with "
                         "np.einsum or np.matmul")

    def inner(a: Any, b: Any) -> Any:
        a, b = as_node(a), as_node(b)
        if a.ndim <= 1 and b.ndim <= 1 or a.ndim == 0 or b.ndim == 0:
            return functions["inner"](a, b)
        if b.ndim == 1:
            return functions["matmul"](a, b)
        if b.ndim == 2:
            return functions["matmul"](a, functions["transpose"](b))
        raise ValueError("np.inner with a second argument above 2-d is not supported; "
                         "write it with np.einsum")

    return {"real": real, "fabs": functions["abs"],
            "std": on_constants("std", spread("std")),
            "var": on_constants("var", spread("var")), "trace": on_constants("trace", trace),
            "dot": on_constants("dot", dot), "inner": on_constants("inner", inner)}


def _count(a: Any, axis: Any) -> int:
    """How many values a reduction over ``axis`` of ``a`` sees (for ``ddof``)."""
    shape = a.shape
    axes = range(len(shape)) if axis is None else (
        (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis))
    n = 1
    for k in axes:
        d = shape[k]
        if not isinstance(d, int):
            raise ValueError("ddof needs the reduced lengths known while reading")
        n *= d
    return n


# ---------------------------------------------------------------------------
# the two protocol entry points

def array_ufunc(expr: Any, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
    """``Node.__array_ufunc__``: build the node for ``ufunc(*inputs)``."""
    if method != "__call__" or not _neutral(kwargs):
        return NotImplemented
    name = UFUNC_NAMES.get(ufunc.__name__, ufunc.__name__)
    if name == "positive" and len(inputs) == 1:
        return inputs[0]
    builder = _functions().get(name)
    if builder is None:
        return NotImplemented
    return builder(*inputs)


def array_function(expr: Any, func: Callable[..., Any], types: Any, args: tuple,
                   kwargs: dict[str, Any]) -> Any:
    """``Node.__array_function__``: build the node for ``func(*args, **kwargs)``."""
    name = getattr(func, "__name__", "")
    name = FUNCTION_NAMES.get(name, name)
    module = getattr(func, "__module__", "") or ""
    if name == "norm" and not module.startswith("numpy.linalg"):
        return NotImplemented
    builder = COMPOSITES.get(name) or numpy_extras().get(name) or _functions().get(name)
    if builder is None:
        return NotImplemented
    return builder(*args, **kwargs)


def _neutral(kwargs: dict[str, Any]) -> bool:
    for key, value in kwargs.items():
        if key not in _NEUTRAL_KWARGS:
            return False
        default = _NEUTRAL_KWARGS[key]
        if (value is not None) if default is None else (value != default):
            return False
    return True
