"""Gradients of NumPy-style Python functions, as ``jax.grad`` gives them.

    def loss(W, b, x, t):
        y = np.tanh(W @ x + b)
        return np.sum((y - t) ** 2)

    dloss = sd.grad(loss, argnums=(0, 1))
    dW, db = dloss(W, b, x, t)      # first call: read, differentiate, compile
    dW, db = dloss(W2, b2, x2, t2)  # same shapes and dtypes: compiled code reused

Conventions of this module:

* The function is never run on symbolic values. Its source is read by
  ``symdiff.frontend.parse_function`` (``ast``, a whitelist, no ``eval``);
  the graph is differentiated by ``symdiff.autodiff`` and compiled by
  ``symdiff.codegen.function`` (which simplifies it first).
* Arguments are arrays, NumPy scalars, Python numbers, or tuples and lists of
  these (as JAX's pytrees, without dicts). Each array leaf becomes a variable
  named after its parameter (``W``; ``params_0``, ``params_1`` for the leaves of
  a tuple ``params``) with the leaf's shape and dtype. Python floats are 0-d
  float64; Python ints are 0-d int64 and cannot be differentiated.
* A compiled function is specialized to a signature: which arguments were
  passed, and the shape and dtype of every leaf. Each new signature reads the
  source and compiles once (``compilations`` counts); later calls with the same
  signature only run the compiled NumPy code. Module-level constants are read
  at that first call, as ``jax.jit`` reads them when tracing.
* Results follow JAX: ``argnums`` an int gives one gradient (shaped like that
  argument), a tuple gives a tuple; ``value_and_grad`` gives
  ``(value, grads)``; with ``has_aux=True`` the function returns
  ``(value, aux)`` and ``grad`` gives ``(grads, aux)``, ``value_and_grad``
  ``((value, aux), grads)``. Values and gradients are NumPy arrays (0-d for
  scalars).
"""
from __future__ import annotations

import inspect
import numbers
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from . import autodiff, codegen, frontend
from .errors import ArgumentTypeError, DiffError
from .ir import Const, Node, Var


def grad(fn: Callable[..., Any], argnums: int | Sequence[int] = 0,
         has_aux: bool = False) -> "GradFunction":
    """The gradient of ``fn`` with respect to its arguments ``argnums`` (see the module)."""
    return GradFunction(fn, argnums, has_aux, with_value=False)


def value_and_grad(fn: Callable[..., Any], argnums: int | Sequence[int] = 0,
                   has_aux: bool = False) -> "GradFunction":
    """A function returning ``(fn(*args), gradient)`` (see the module)."""
    return GradFunction(fn, argnums, has_aux, with_value=True)


# A leaf's place in an argument: ("leaf", shape, dtype) or ("tuple"/"list", parts).
Structure = tuple


@dataclass
class _Specialized:
    """Everything one signature needs at call time."""
    function: codegen.Function
    n_grads: int
    grad_structures: list[Structure]   # per argnum, to rebuild its gradient
    aux: Any                           # aux with nodes replaced by output positions


class _AuxSlot:
    """Marks where an aux output goes back when rebuilding ``aux``."""

    def __init__(self, position: int) -> None:
        self.position = position


class GradFunction:
    """What ``sd.grad(fn)`` / ``sd.value_and_grad(fn)`` return: call it with arrays."""

    def __init__(self, fn: Callable[..., Any], argnums: int | Sequence[int], has_aux: bool,
                 with_value: bool) -> None:
        if not callable(fn):
            raise ArgumentTypeError(f"grad: expected a function, got {type(fn).__name__}")
        if isinstance(fn, GradFunction):
            raise ArgumentTypeError("grad of a gradient function is not supported for "
                                    "Python functions; differentiate the expression instead "
                                    "(sd.grad(sd.grad(cost, x), x))")
        self._target = frontend.unwrap(fn)
        known = frontend.known_callable(self._target)
        self._signature = (known.signature if known is not None and known.signature
                           else inspect.signature(self._target))
        self._positional = [p.name for p in self._signature.parameters.values()
                            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        self._single = isinstance(argnums, numbers.Integral)
        indices = (argnums,) if self._single else tuple(argnums)
        if not indices:
            raise DiffError("grad: argnums is empty")
        self.argnums = argnums
        self._wrt = [self._param_of(i) for i in indices]
        if len(set(self._wrt)) != len(self._wrt):
            raise DiffError(f"grad: argnums {argnums!r} repeats an argument")
        self.has_aux = bool(has_aux)
        self.with_value = with_value
        self.compilations = 0
        self._cache: dict[tuple, _Specialized] = {}
        for name in ("__module__", "__name__", "__qualname__", "__doc__"):
            if hasattr(fn, name):
                setattr(self, name, getattr(fn, name))

    def _param_of(self, index: Any) -> str:
        if not isinstance(index, numbers.Integral) or isinstance(index, bool):
            raise DiffError(f"grad: argnums must be ints, got {index!r}")
        count = len(self._positional)
        if not -count <= index < count:
            raise DiffError(f"grad: argnums {index} is out of range for "
                            f"{self._target.__name__}() with {count} positional parameters")
        return self._positional[index]

    def __repr__(self) -> str:
        kind = "value_and_grad" if self.with_value else "grad"
        return f"<symdiff {kind} of {self._target.__name__}, argnums={self.argnums!r}>"

    @property
    def cache_size(self) -> int:
        """How many signatures have been compiled and kept."""
        return len(self._cache)

    def compiled_for(self, *args: Any, **kwargs: Any) -> codegen.Function:
        """The compiled function used for these arguments (``.source`` shows its code)."""
        return self._specialized(*self._bind(args, kwargs)[:2]).function

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        bound, key, leaves = self._bind(args, kwargs)
        special = self._specialized(bound, key)
        outputs = special.function(*[array for _, array in leaves])
        outputs = list(outputs) if isinstance(outputs, tuple) else [outputs]
        value = outputs[0]
        flat = outputs[1:1 + special.n_grads]
        grads = []
        for structure in special.grad_structures:
            rebuilt, flat = _unflatten(structure, flat)
            grads.append(rebuilt)
        result: Any = grads[0] if self._single else tuple(grads)
        if self.has_aux:
            aux = _fill_aux(special.aux, outputs)
            return ((value, aux), result) if self.with_value else (result, aux)
        return (value, result) if self.with_value else result

    # -- signature and specialization ----------------------------------------

    def _bind(self, args: tuple, kwargs: dict) -> tuple:
        try:
            bound = self._signature.bind(*args, **kwargs)
        except TypeError as err:
            raise ArgumentTypeError(f"{self._target.__name__}(): {err}") from None
        for name in self._wrt:
            if name not in bound.arguments:
                raise DiffError(f"grad: the argument {name!r} to differentiate was not "
                                "passed")
        leaves: list[tuple[str, np.ndarray]] = []
        key = []
        for name, value in bound.arguments.items():
            structure = _flatten(value, name, leaves, differentiate=name in self._wrt)
            key.append((name, structure))
        return bound, tuple(key), leaves

    def _specialized(self, bound: inspect.BoundArguments, key: tuple) -> _Specialized:
        special = self._cache.get(key)
        if special is None:
            special = self._specialize(bound, key)
            self._cache[key] = special
            self.compilations += 1
        return special

    def _specialize(self, bound: inspect.BoundArguments, key: tuple) -> _Specialized:
        structures = dict(key)
        symbolic = inspect.BoundArguments(bound.signature, bound.arguments.copy())
        inputs: list[Var] = []
        for name in bound.arguments:
            symbolic.arguments[name] = _variables(structures[name], name, inputs)
        result = frontend.parse_function(self._target, *symbolic.args, **symbolic.kwargs)
        fname = self._target.__name__
        aux: Any = None
        if self.has_aux:
            if not (isinstance(result, (tuple, list)) and len(result) == 2):
                raise DiffError(f"{fname}() must return a pair (value, aux) when "
                                f"has_aux=True; it returns {_kind(result)}")
            result, aux = result
        value = _scalar_output(result, fname)
        wrt: list[Var] = []
        for name in self._wrt:
            _leaves_of(symbolic.arguments[name], wrt)
        grads = autodiff.grad(value, wrt) if wrt else []
        grads = [grads] if isinstance(grads, Node) else list(grads)
        outputs: list[Node] = [value, *grads]
        aux_template = _aux_template(aux, outputs, fname)
        function = codegen.function(inputs, outputs)
        return _Specialized(function, len(grads), [structures[name] for name in self._wrt],
                            aux_template)


# ---------------------------------------------------------------------------
# arguments as trees of arrays

def _flatten(value: Any, name: str, leaves: list, *, differentiate: bool,
             depth: int = 0) -> Structure:
    """Append ``(leaf name, array)`` pairs for ``value``; return its structure."""
    if isinstance(value, (tuple, list)) and depth < 16:
        parts = tuple(_flatten(item, f"{name}_{i}", leaves, differentiate=differentiate,
                               depth=depth + 1) for i, item in enumerate(value))
        return ("tuple" if isinstance(value, tuple) else "list", parts)
    if isinstance(value, Node):
        raise ArgumentTypeError(f"argument {name!r} is a symbolic expression; call the "
                                "gradient function with arrays (for expressions use "
                                "sd.grad(expr, wrt))")
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise ArgumentTypeError(f"argument {name!r} has dtype {array.dtype}; symdiff takes "
                                "numeric arrays, numbers, and tuples or lists of them")
    if differentiate and array.dtype.kind != "f":
        raise DiffError(f"argument {name!r} has dtype {array.dtype}: only floating-point "
                        "arguments can be differentiated (pass floats, e.g. "
                        "np.asarray(x, dtype=float))")
    leaves.append((name, array))
    return ("leaf", array.shape, array.dtype.str)


def _variables(structure: Structure, name: str, inputs: list[Var]) -> Any:
    """The variables standing for an argument of this structure."""
    if structure[0] == "leaf":
        # Parameter names the generated code needs for itself get a trailing underscore.
        safe = name + "_" if name in codegen.RESERVED else name
        variable = Var(safe, structure[1], np.dtype(structure[2]))
        inputs.append(variable)
        return variable
    parts = [_variables(part, f"{name}_{i}", inputs) for i, part in enumerate(structure[1])]
    return tuple(parts) if structure[0] == "tuple" else parts


def _leaves_of(value: Any, out: list) -> None:
    if isinstance(value, (tuple, list)):
        for item in value:
            _leaves_of(item, out)
    else:
        out.append(value)


def _unflatten(structure: Structure, flat: list) -> tuple[Any, list]:
    if structure[0] == "leaf":
        return flat[0], flat[1:]
    parts = []
    for part in structure[1]:
        rebuilt, flat = _unflatten(part, flat)
        parts.append(rebuilt)
    return (tuple(parts) if structure[0] == "tuple" else parts), flat


# ---------------------------------------------------------------------------
# outputs

def _scalar_output(result: Any, fname: str) -> Node:
    if isinstance(result, (numbers.Real, np.number, np.ndarray)) and not isinstance(
            result, bool):
        result = Const(np.asarray(result, dtype=float))
    if not isinstance(result, Node):
        raise DiffError(f"{fname}() must return a scalar to be differentiated; it returns "
                        f"{_kind(result)}")
    if result.shape != ():
        raise DiffError(f"{fname}() must return a scalar (0-d) to be differentiated; it "
                        f"returns shape {result.shape} (use sd.jacobian for vector outputs)")
    if result.dtype.kind != "f":
        raise DiffError(f"{fname}() returns a value of dtype {result.dtype}, which cannot "
                        "be differentiated")
    return result


def _aux_template(aux: Any, outputs: list[Node], fname: str, depth: int = 0) -> Any:
    """``aux`` with each expression replaced by the slot of a new output."""
    if isinstance(aux, Node):
        outputs.append(aux)
        return _AuxSlot(len(outputs) - 1)
    if isinstance(aux, (tuple, list)) and depth < 16:
        parts = [_aux_template(item, outputs, fname, depth + 1) for item in aux]
        return tuple(parts) if isinstance(aux, tuple) else parts
    if aux is None or isinstance(aux, (numbers.Number, np.ndarray, np.generic)):
        return aux
    raise DiffError(f"{fname}(): the aux output holds {_kind(aux)}, which symdiff cannot "
                    "return")


def _fill_aux(template: Any, outputs: list) -> Any:
    if isinstance(template, _AuxSlot):
        return outputs[template.position]
    if isinstance(template, tuple):
        return tuple(_fill_aux(item, outputs) for item in template)
    if isinstance(template, list):
        return [_fill_aux(item, outputs) for item in template]
    return template


def _kind(value: Any) -> str:
    if isinstance(value, Node):
        return f"an expression of shape {value.shape}"
    if isinstance(value, tuple):
        return f"a tuple of {len(value)}"
    if value is None:
        return "None"
    return f"a {type(value).__name__}"
