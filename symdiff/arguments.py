"""Argument checks shared by the public entry points that take expressions.

Conventions of this module:

* ``expressions(value, fn, what)`` reads an ``outputs`` or ``wrt`` argument: one
  expression, or a sequence of them. Anything else (a NumPy array, a number, a
  Python function) is a ``DiffError`` naming the function, the argument and the
  type received, rather than an ``AttributeError`` deep in the graph code.
* The symbolic transforms (``jvp``, ``vjp``, ``jacobian``, ``hessian``, ``hvp``,
  ``function``, ``explain``) take expressions. JAX users write the same names
  with a Python function first (``jax.jvp(fn, primals, tangents)``,
  ``jax.hessian(fn)``, ``jax.jit(fn)``); ``sd.jvp``, ``sd.vjp``, ``sd.jacobian`` and
  ``sd.hessian`` take them (``symdiff.pyfunc``). For the others,
  ``expressions_only`` refuses a callable first argument before the others are
  bound, so every arity gets the same ``DiffError`` saying what to write
  instead: never a missing-argument ``TypeError``, never a wrong number.
* Printers, graph views and the interpreter (``takes_expression``,
  ``takes_expressions``) refuse a first argument that is not an expression (or
  a list of them) with an ``ArgumentTypeError``, not an ``AttributeError``.
"""
from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, TypeVar

import numpy as np

from .errors import ArgumentTypeError, DiffError
from .ir import Node

F = TypeVar("F", bound=Callable[..., Any])

# How each transform is called, why a Python function is refused, what to do instead.
_NOT_YET = "the function-transform form, as in JAX, is not supported yet"
_FUNCTION_FORM = "this is the expression form"
_CALL_ON_VARIABLES = ("build the expression by calling the function on variables "
                      "(x = sd.vector('x', 3); y = fn(x)) and pass that, or use "
                      "sd.grad(fn) / sd.value_and_grad(fn) for the gradient of a scalar "
                      "function")
USAGE: dict[str, tuple[str, str, str]] = {
    "jvp": ("sd.jvp(outputs, wrt, tangents)", _FUNCTION_FORM,
            "for a Python function call sd.jvp(fn, primals, tangents)"),
    "vjp": ("sd.vjp(outputs, wrt, cotangents)", _FUNCTION_FORM,
            "for a Python function call sd.vjp(fn, *primals)"),
    "jacobian": ("sd.jacobian(y, x)", _FUNCTION_FORM,
                 "for a Python function call sd.jacobian(fn, argnums)"),
    "hessian": ("sd.hessian(cost, x)", _FUNCTION_FORM,
                "for a Python function call sd.hessian(fn, argnums)"),
    "hvp": ("sd.hvp(cost, x, v)", _NOT_YET, _CALL_ON_VARIABLES),
    "explain": ("sd.explain(cost, wrt)", "it explains the graph of an expression",
                _CALL_ON_VARIABLES),
    "function": ("sd.function(inputs, outputs)",
                 "compiling a Python function as jax.jit does is not supported",
                 "sd.grad(fn) and sd.value_and_grad(fn) compile the gradient of a Python "
                 "function on their first call"),
}


def expressions_only(fn: F) -> F:
    """``fn`` refusing a Python function as its first argument (see the module)."""
    name = fn.__name__
    usage, why, instead = USAGE[name]
    first = next(iter(inspect.signature(fn).parameters))

    @functools.wraps(fn)
    def checked(*args: Any, **kwargs: Any) -> Any:
        value = args[0] if args else kwargs.get(first)
        if callable(value) and not isinstance(value, Node):
            raise DiffError(f"sd.{name} takes expressions: {usage}; it was given "
                            f"{describe(value)} ({why}); {instead}")
        return fn(*args, **kwargs)

    return checked  # type: ignore[return-value]


def takes_expression(fn: F) -> F:
    """``fn`` (a printer) refusing a first argument that is not an expression with an
    ``ArgumentTypeError`` naming what it got."""
    return _first_argument(fn, many=False)


def takes_expressions(fn: F) -> F:
    """``fn`` (a graph view, the interpreter) refusing a first argument that is not an
    expression or a list or tuple of them with an ``ArgumentTypeError``."""
    return _first_argument(fn, many=True)


def _first_argument(fn: F, many: bool) -> F:
    name = fn.__name__
    first = next(iter(inspect.signature(fn).parameters))
    wanted = "an expression or a list of expressions" if many else "an expression"

    @functools.wraps(fn)
    def checked(*args: Any, **kwargs: Any) -> Any:
        value = args[0] if args else kwargs.get(first)
        items = value if many and isinstance(value, (list, tuple)) else [value]
        wrong = next((item for item in items if not isinstance(item, Node)), None)
        if wrong is not None:
            hint = (f"; to see a Python function as a graph, call it on variables: "
                    f"y = fn(sd.vector('x', 3))" if callable(wrong) else "")
            raise ArgumentTypeError(f"sd.{name} takes {wanted}, got {describe(wrong)}{hint}")
        return fn(*args, **kwargs)

    return checked  # type: ignore[return-value]


def expressions(value: Any, fn: str, what: str) -> tuple[list[Node], bool]:
    """``value`` as a list of expressions, and whether it was a single one."""
    if isinstance(value, Node):
        return [value], True
    items = None
    if not isinstance(value, (str, bytes, np.ndarray)) and not callable(value):
        try:
            items = list(value)
        except TypeError:
            items = None
    if items is None:
        raise DiffError(f"{fn}: {what} must be an expression or a list of expressions, "
                        f"got {describe(value)}")
    for i, item in enumerate(items):
        if not isinstance(item, Node):
            raise DiffError(f"{fn}: {what}[{i}] must be an expression, got {describe(item)}")
    return items, False


def describe(value: Any) -> str:
    """The type of ``value`` as a message names it (arrays with their shape)."""
    if isinstance(value, np.ndarray):
        return f"a NumPy array of shape {value.shape}"
    if callable(value) and hasattr(value, "__name__"):
        return f"the Python function {value.__name__!r}"
    kind = type(value).__name__
    return ("an " if kind[0] in "aeiouAEIOU" else "a ") + kind
