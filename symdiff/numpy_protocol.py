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
    """``np.linalg.norm`` for the vector norms (and Frobenius for ``ord=None``).

    ``ord=None`` or ``2`` on a vector: ``sqrt(sum(square(x)))``; ``ord=1``:
    ``sum(abs(x))``; ``ord=inf``: ``max(abs(x))``. Matrix norms other than
    Frobenius are not supported (``NotImplementedError``).
    """
    f = _functions()
    ndim = len(x.shape) if axis is None else (1 if isinstance(axis, int) else len(axis))
    if ord is None or (ord == 2 and ndim == 1) or (ord == "fro" and ndim == 2):
        return f["sqrt"](f["sum"](f["square"](x), axis=axis, keepdims=keepdims))
    if ndim == 1 and ord == 1:
        return f["sum"](f["abs"](x), axis=axis, keepdims=keepdims)
    if ndim == 1 and ord == np.inf:
        return f["max"](f["abs"](x), axis=axis, keepdims=keepdims)
    raise NotImplementedError(f"norm with ord={ord!r} of a {ndim}-d array is not supported")


def ones_like(x: Any) -> Any:
    """``np.ones_like``: ``zeros_like(x) + 1``."""
    return _functions()["zeros_like"](x) + 1.0


COMPOSITES: dict[str, Callable[..., Any]] = {"norm": norm, "ones_like": ones_like}


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
    builder = COMPOSITES.get(name) or _extras().get(name) or _functions().get(name)
    if builder is None:
        return NotImplemented
    return builder(*args, **kwargs)


def _extras() -> dict[str, Callable[..., Any]]:
    # What the front end reads for these NumPy spellings (np.real, ddof=, offset=, np.dot
    # above 2-d), so that tracing a function builds the graph reading it builds.
    from .frontend_constructs import numpy_extras
    return numpy_extras()


def _neutral(kwargs: dict[str, Any]) -> bool:
    for key, value in kwargs.items():
        if key not in _NEUTRAL_KWARGS:
            return False
        default = _NEUTRAL_KWARGS[key]
        if (value is not None) if default is None else (value != default):
            return False
    return True
