"""The user-facing entry points that take either expressions or Python functions."""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from . import autodiff, codegen
from .arguments import expressions_only
from .errors import DiffError
from .ir import Const, Node, Var

# The compiler's entry point, refusing a Python function (``jax.jit(fn)``'s form)
# with a pointer to sd.grad / sd.value_and_grad.
function = expressions_only(codegen.function)


def scalar(name: str, dtype: Any = "float64") -> Var:
    """A 0-d variable."""
    return Var(name, (), dtype)


def vector(name: str, shape: Any = None, dtype: Any = "float64") -> Var:
    """A 1-d variable; its length is unknown unless given (``shape=3`` or ``(3,)``)."""
    return Var(name, (None,) if shape is None else _tuple(shape), dtype)


def matrix(name: str, shape: Any = None, dtype: Any = "float64", *,
           symmetric: bool = False) -> Var:
    """A 2-d variable; ``shape=(3, None)`` fixes the lengths that are known.

    ``symmetric=True`` declares that every value passed is a symmetric matrix (a
    covariance, a Hessian, a kernel matrix). Compiled code then uses ``S.T == S`` and
    ``inv(S).T == inv(S)``, and raises ``ShapeError`` for an argument that is not
    symmetric (to a tolerance of a few units of rounding, ``_symmetric_arg`` in
    ``symdiff.runtime``). Derivatives are those of the expression as written, with the
    entries of ``S`` independent, taken at the symmetric value: the same numbers as
    ``jax.grad`` and as finite differences moving one entry. They are not the
    gradients constrained to symmetric matrices (``G + G.T - diag(G)`` in the Matrix
    Cookbook, section 2.8); where ``G`` is not symmetric, symmetrize it yourself.
    """
    return Var(name, (None, None) if shape is None else _tuple(shape), dtype,
               symmetric=symmetric)


def tensor(name: str, shape: Any, dtype: Any = "float64", *, symmetric: bool = False) -> Var:
    """A variable of any number of dimensions, e.g. ``shape=(None, 3, 4)``;
    ``symmetric=True``: a stack of symmetric matrices (see ``matrix``)."""
    return Var(name, _tuple(shape), dtype, symmetric=symmetric)


def var(name: str, shape: Any = (), dtype: Any = "float64", *, symmetric: bool = False) -> Var:
    """A variable of the given shape (0-d by default); ``symmetric``: see ``matrix``."""
    return Var(name, _tuple(shape), dtype, symmetric=symmetric)


def constant(value: Any, dtype: Any = None) -> Const:
    """A constant array (copied and made read-only)."""
    return Const(value, dtype)


def _tuple(shape: Any) -> tuple:
    return (shape,) if isinstance(shape, (int, np.integer)) or shape is None else tuple(shape)


def grad(f: Node | Callable, wrt_or_argnums: Any = None, /, *,
         wrt: Node | Sequence[Node] | None = None, argnums: int | Sequence[int] | None = None,
         has_aux: bool = False, static_argnums: Any = (), static_argnames: Any = ()):
    """d f / d wrt.

    With an expression ``f`` (0-d), the second argument is ``wrt`` and the result is
    expressions: one for one ``wrt``, a list for a list (symbol-to-symbol). With a
    Python function, the second argument is ``argnums`` (``sd.grad(fn, 1)``, as in
    ``jax.grad`` and ``autograd.grad``) and the result is a function computing the
    gradient with respect to those arguments (``symdiff.pyfunc``). ``wrt=`` with a
    function, ``argnums=`` or ``has_aux=`` with an expression, or a second argument
    given both ways is a ``DiffError``.
    """
    if isinstance(f, Node):
        if argnums is not None or has_aux:
            given = "argnums=" if argnums is not None else "has_aux="
            raise DiffError(f"grad: {given} is for Python functions; an expression is "
                            "differentiated with respect to variables: sd.grad(cost, x)")
        wrt = _one_of(wrt_or_argnums, wrt, "wrt")
        if wrt is None:
            raise DiffError("grad: say which variables to differentiate with respect to: "
                            "sd.grad(cost, x) or sd.grad(cost, [x, y])")
        return autodiff.grad(f, wrt)
    if callable(f):
        if wrt is not None:
            raise DiffError("grad: wrt= is for expressions; for a Python function say which "
                            "arguments to differentiate with argnums: sd.grad(fn, 1) or "
                            "sd.grad(fn, argnums=(0, 1))")
        argnums = _argnums(_one_of(wrt_or_argnums, argnums, "argnums"), "grad")
        from . import pyfunc
        return pyfunc.grad(f, argnums=argnums, has_aux=has_aux,
                           static_argnums=static_argnums, static_argnames=static_argnames)
    raise DiffError(f"grad: expected an expression or a Python function, "
                    f"got {type(f).__name__}")


def value_and_grad(f: Callable, argnums: int | Sequence[int] = 0, *, has_aux: bool = False,
                   static_argnums: Any = (), static_argnames: Any = ()):
    """A function returning ``(f(*args), gradient)`` as ``jax.value_and_grad`` does."""
    if isinstance(f, Node):
        raise DiffError("value_and_grad takes a Python function; for an expression use "
                        "sd.function([...], [cost, *sd.grad(cost, wrt)])")
    from . import pyfunc
    return pyfunc.value_and_grad(f, argnums=_argnums(argnums, "value_and_grad"),
                                 has_aux=has_aux, static_argnums=static_argnums,
                                 static_argnames=static_argnames)


def jacobian(f: Node | Callable, x_or_argnums: Any = None, /, *, argnums: Any = None,
             has_aux: bool = False, static_argnums: Any = (), static_argnames: Any = (),
             **options: Any):
    """d y / d x: an expression of shape ``y.shape + x.shape`` for an expression ``y``
    (``sd.jacobian(y, x, mode="auto")``); for a Python function, a function computing
    its Jacobian with respect to the arguments ``argnums``, shaped as ``jax.jacrev``
    shapes it (``sd.jacobian(fn, argnums=0)(*args)``)."""
    from . import higher, pyfunc
    if _is_function(f):
        _no_options("jacobian", options)
        argnums = _argnums(_one_of(x_or_argnums, argnums, "argnums", "jacobian"), "jacobian")
        return pyfunc.jacobian(f, argnums=argnums, has_aux=has_aux,
                               static_argnums=static_argnums, static_argnames=static_argnames)
    _expression_form("jacobian", argnums, has_aux)
    if x_or_argnums is not None:
        return higher.jacobian(f, x_or_argnums, **options)
    return higher.jacobian(f, **options)


def hessian(f: Node | Callable, x_or_argnums: Any = None, /, *, argnums: Any = None,
            has_aux: bool = False, static_argnums: Any = (), static_argnames: Any = (),
            **options: Any):
    """Second derivatives: of a 0-d expression with respect to variables
    (``sd.hessian(cost, x)``), or of a Python function with respect to its arguments
    ``argnums`` (``sd.hessian(fn)(*args)``, as ``jax.hessian``)."""
    from . import higher, pyfunc
    if _is_function(f):
        _no_options("hessian", options)
        argnums = _argnums(_one_of(x_or_argnums, argnums, "argnums", "hessian"), "hessian")
        return pyfunc.hessian(f, argnums=argnums, has_aux=has_aux,
                              static_argnums=static_argnums, static_argnames=static_argnames)
    _expression_form("hessian", argnums, has_aux)
    if x_or_argnums is not None:
        return higher.hessian(f, x_or_argnums, **options)
    return higher.hessian(f, **options)


def jvp(*args: Any, **kwargs: Any):
    """Forward mode. ``sd.jvp(outputs, wrt, tangents)`` gives expressions;
    ``sd.jvp(fn, primals, tangents)`` gives ``(fn(*primals), tangent out)`` as
    ``jax.jvp`` does."""
    if _is_function(args[0] if args else kwargs.get("fn")):
        from . import pyfunc
        return pyfunc.jvp(*args, **kwargs)
    return autodiff.jvp(*args, **kwargs)


def vjp(*args: Any, **kwargs: Any):
    """Reverse mode. ``sd.vjp(outputs, wrt, cotangents)`` gives expressions;
    ``sd.vjp(fn, *primals)`` gives ``(fn(*primals), vjp_fn)`` as ``jax.vjp`` does."""
    if _is_function(args[0] if args else kwargs.get("fn")):
        from . import pyfunc
        return pyfunc.vjp(*args, **kwargs)
    return autodiff.vjp(*args, **kwargs)


def _is_function(f: Any) -> bool:
    return callable(f) and not isinstance(f, Node)


def _expression_form(fn: str, argnums: Any, has_aux: bool) -> None:
    if argnums is not None or has_aux:
        given = "argnums=" if argnums is not None else "has_aux="
        raise DiffError(f"{fn}: {given} is for Python functions; an expression is "
                        f"differentiated with respect to variables: sd.{fn}(y, x)")


def _no_options(fn: str, options: dict) -> None:
    if options:
        raise DiffError(f"{fn}: {', '.join(options)}= is for expressions; a Python "
                        f"function takes argnums=, has_aux= and static_argnums=")


def _one_of(positional: Any, keyword: Any, name: str, fn: str = "grad") -> Any:
    """The second argument, given positionally or by keyword, but not both."""
    if positional is not None and keyword is not None:
        raise DiffError(f"{fn}: {name} is given twice, as the second argument "
                        f"({positional!r}) and as {name}={keyword!r}")
    return keyword if positional is None else positional


def _argnums(argnums: Any, fn: str) -> Any:
    if argnums is None:
        return 0
    if isinstance(argnums, Node) or (isinstance(argnums, (list, tuple))
                                     and any(isinstance(a, Node) for a in argnums)):
        raise DiffError(f"{fn}: with a Python function the second argument is argnums, the "
                        "positions of the arguments to differentiate (an int or a tuple of "
                        "ints), not variables; variables are for expressions: "
                        "sd.grad(cost, x)")
    return argnums
