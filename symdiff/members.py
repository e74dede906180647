"""The attributes and methods that parsed code may use on a value: ``x.T``, ``x.sum(0)``.

Conventions of this module:

* One table, ``MEMBERS`` (name -> ``Member``), drives both the front end's
  dispatch and its "attribute not supported" message, so what the message
  lists is exactly what works.
* On an expression, a member is answered by the op table (``x.ravel()`` is
  ``sd.ravel(x)``), with the signature of NumPy's ndarray method. On a constant
  array (known while reading), NumPy's own attribute answers, as the code would
  run; where NumPy lacks it (``.mT`` before NumPy 2), the builder below does.
* An attribute (``.T``, ``.shape``) is read at once; a method becomes a callable
  the front end calls with the arguments written.
* Scalar types (``np.float32``, ``float``) are values of their own: dtypes, as
  in ``x.astype(np.float32)`` and ``x.dtype == np.float64`` (which compare as
  NumPy compares them), and converters of constants when called.
"""
from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .errors import ShapeError
from .ir import Node, fmt_shape


@dataclass(frozen=True)
class Member:
    """``value.name``: an attribute (``method=False``) or a method, and its builder."""
    name: str
    method: bool
    build: Callable[..., Any]   # (x, *args, **kwargs) on an expression


def _f(name: str) -> Callable[..., Any]:
    from .ops import FUNCTIONS
    return FUNCTIONS[name]


# -- builders, with NumPy's ndarray signatures -------------------------------------

def _matrix_transpose(x: Node) -> Node:
    """``.mT``: the last two axes swapped (NumPy >= 2, the Array API)."""
    if x.ndim < 2:
        raise ShapeError(f".mT needs at least 2 dimensions (a stack of matrices); the "
                         f"operand has shape {fmt_shape(x.shape)}")
    return _f("swapaxes")(x, -1, -2)


def _reduction(name: str) -> Callable[..., Any]:
    def reduce(x: Node, axis: Any = None, keepdims: bool = False) -> Node:
        return _f(name)(x, axis, keepdims)
    reduce.__name__ = name
    return reduce


def _reshape(x: Node, *shape: Any) -> Node:
    return x.reshape(*shape)


def _transpose(x: Node, *axes: Any) -> Node:
    return x.transpose(*axes)


def _dot(x: Node, other: Any) -> Node:
    return _f("dot")(x, other)


def _clip(x: Node, min: Any = None, max: Any = None) -> Node:
    """``x.clip(min, max)``; with one bound, ``maximum`` or ``minimum`` (NumPy's
    meaning, and the same derivative convention at ties as ``clip``)."""
    if min is None and max is None:
        return x
    if max is None:
        return _f("maximum")(x, min)
    if min is None:
        return _f("minimum")(x, max)
    return _f("clip")(x, min, max)


def _squeeze(x: Node, axis: Any = None) -> Node:
    return _f("squeeze")(x, axis)


def _ravel(x: Node) -> Node:
    return _f("ravel")(x)


def _astype(x: Node, dtype: Any) -> Node:
    return _f("astype")(x, dtype)


def _table(*members: Member) -> dict[str, Member]:
    return {member.name: member for member in members}


MEMBERS: dict[str, Member] = _table(
    # attributes
    Member("T", False, lambda x: x.T),
    Member("mT", False, _matrix_transpose),
    Member("shape", False, lambda x: x.shape),
    Member("ndim", False, lambda x: x.ndim),
    Member("size", False, lambda x: x.size),
    Member("dtype", False, lambda x: x.dtype),
    # methods
    *(Member(name, True, _reduction(name)) for name in ("sum", "mean", "prod", "max", "min")),
    Member("reshape", True, _reshape),
    Member("transpose", True, _transpose),
    Member("dot", True, _dot),
    Member("clip", True, _clip),
    Member("squeeze", True, _squeeze),
    Member("ravel", True, _ravel),
    Member("flatten", True, _ravel),
    Member("astype", True, _astype),
)


NUMPY_SCALAR_TYPES: dict[str, type] = {"float64": np.float64, "float32": np.float32,
                                       "int64": np.int64, "int32": np.int32,
                                       "bool_": np.bool_}
BUILTIN_TYPES: dict[str, type] = {"float": float, "int": int, "bool": bool}
SCALAR_TYPES = frozenset(NUMPY_SCALAR_TYPES.values()) | frozenset(BUILTIN_TYPES.values())


def spelled(scalar_type: type) -> str:
    """``np.float32`` or ``float``, as the code writes it."""
    builtin = scalar_type in BUILTIN_TYPES.values()
    return ("" if builtin else "np.") + scalar_type.__name__


def get(owner: Any, entry: Member) -> Any:
    """``owner.name``: an attribute's value, or the method bound to ``owner``."""
    if not isinstance(owner, Node) and hasattr(owner, entry.name):
        return getattr(owner, entry.name)     # a constant: NumPy's own, as the code runs
    if entry.method:
        return functools.partial(entry.build, owner)
    return entry.build(owner)


def arity_problem(entry: Member, owner: Any, args: list, kwargs: dict) -> str | None:
    """What is wrong with the arguments of a method call on an expression, or None."""
    if not isinstance(owner, Node):
        return None           # NumPy's own method reports its own errors
    signature = inspect.signature(entry.build)
    try:
        signature.bind(owner, *args, **kwargs)
    except TypeError as err:
        parameters = [p.replace(annotation=p.empty)
                      for p in list(signature.parameters.values())[1:]]
        shown = signature.replace(parameters=parameters, return_annotation=signature.empty)
        return f".{entry.name}(): {err}; the method is .{entry.name}{shown}"
    return None


def listing() -> str:
    """The members, as the "not supported" message lists them."""
    return ", ".join("." + name + ("()" if m.method else "") for name, m in MEMBERS.items())
