"""The user-facing entry points that take either expressions or Python functions."""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from . import autodiff
from .errors import DiffError
from .ir import Const, Node, Var


def scalar(name: str, dtype: Any = "float64") -> Var:
    """A 0-d variable."""
    return Var(name, (), dtype)


def vector(name: str, shape: Any = None, dtype: Any = "float64") -> Var:
    """A 1-d variable; its length is unknown unless given (``shape=3`` or ``(3,)``)."""
    return Var(name, (None,) if shape is None else _tuple(shape), dtype)


def matrix(name: str, shape: Any = None, dtype: Any = "float64") -> Var:
    """A 2-d variable; ``shape=(3, None)`` fixes the lengths that are known."""
    return Var(name, (None, None) if shape is None else _tuple(shape), dtype)


def tensor(name: str, shape: Any, dtype: Any = "float64") -> Var:
    """A variable of any number of dimensions, e.g. ``shape=(None, 3, 4)``."""
    return Var(name, _tuple(shape), dtype)


def var(name: str, shape: Any = (), dtype: Any = "float64") -> Var:
    return Var(name, _tuple(shape), dtype)


def constant(value: Any, dtype: Any = None) -> Const:
    """A constant array (copied and made read-only)."""
    return Const(value, dtype)


def _tuple(shape: Any) -> tuple:
    return (shape,) if isinstance(shape, (int, np.integer)) or shape is None else tuple(shape)


def grad(f: Node | Callable, wrt: Node | Sequence[Node] | None = None, *,
         argnums: int | Sequence[int] = 0, has_aux: bool = False):
    """d f / d wrt.

    With an expression ``f`` (0-d), returns expressions: one for one ``wrt``, a list
    for a list (symbol-to-symbol). With a Python function, returns a function
    computing its gradient with respect to the arguments ``argnums``, as
    ``jax.grad`` does; the function's source is parsed, never run symbolically.
    """
    if isinstance(f, Node):
        if wrt is None:
            raise DiffError("grad: say which variables to differentiate with respect to "
                            "(wrt=...)")
        return autodiff.grad(f, wrt)
    if callable(f):
        from . import pyfunc
        return pyfunc.grad(f, argnums=argnums, has_aux=has_aux)
    raise DiffError(f"grad: expected an expression or a Python function, "
                    f"got {type(f).__name__}")


def value_and_grad(f: Callable, argnums: int | Sequence[int] = 0, *, has_aux: bool = False):
    """A function returning ``(f(*args), gradient)`` as ``jax.value_and_grad`` does."""
    if isinstance(f, Node):
        raise DiffError("value_and_grad takes a Python function; for an expression use "
                        "sd.function([...], [cost, *sd.grad(cost, wrt)])")
    from . import pyfunc
    return pyfunc.value_and_grad(f, argnums=argnums, has_aux=has_aux)
