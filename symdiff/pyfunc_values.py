"""Arguments and results of the function transforms (``symdiff.pyfunc``).

* An argument is a pytree of arrays; its part of the cache key is its structure and
  each leaf's shape and dtype (``leaf_signature``); the variables standing for it
  are named after the leaves' paths (``variables_for``).
* Static arguments are keyed by value (``static_key``).
* A leaf that is an array of another Array API library (Dask, CuPy, JAX...) is kept as
  it is, never converted (a Dask array is not computed): the compiled function runs
  its portable variant on it and returns that library's arrays, lazy for Dask.
* Results are pytrees of expressions; ``jacobian_tree`` gives ``jax.jacrev``'s
  structure: the output's tree holding the arguments' trees.
"""
from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from . import codegen, pytree
from .errors import ArgumentTypeError, DiffError, ShapeError
from .higher import jacobian as jacobian_of
from .ir import Const, Node, Var
from .portable_runtime import foreign_library


# ---------------------------------------------------------------------------
# arguments as trees of arrays

def leaf_signature(value: Any, name: str, leaves: list, differentiate: bool) -> tuple:
    """Append the arrays of ``value``'s leaves; return its structure with each leaf's
    shape and dtype (the part of the cache key for this argument)."""
    parts, treedef = pytree.flatten(value)
    types_ = []
    for i, part in enumerate(parts):
        where = name if treedef == pytree.LEAF else f"{name} (leaf {i})"
        array = leaf_array(part, where, differentiate)
        leaves.append(array)
        shape, dtype = shape_and_dtype(array, where)
        types_.append((shape, dtype.str))
    return treedef, tuple(types_)


def shape_and_dtype(value: Any, where: str) -> tuple[tuple, np.dtype]:
    """The shape and NumPy dtype of an array of NumPy or of another library, read
    without converting it. A length not known yet (a Dask array with unknown chunk
    sizes) is refused: the code is specialized to the shapes."""
    if foreign_library(value) is None:
        array = np.asarray(value)
        return array.shape, array.dtype
    shape = tuple(value.shape)
    for axis, length in enumerate(shape):
        if length is None or length != length:   # None or NaN: unknown
            raise ShapeError(f"argument {where!r}: its length on axis {axis} is not known "
                             f"yet (a Dask array with unknown chunk sizes: call "
                             f"compute_chunk_sizes() on it first)")
    try:
        dtype = np.dtype(value.dtype)
    except TypeError:   # a library's own dtype object: "float64", "torch.float64"
        dtype = np.dtype(str(value.dtype).rsplit(".", 1)[-1])
    return tuple(int(d) for d in shape), dtype


def leaf_array(value: Any, where: str, differentiate: bool) -> Any:
    """The leaf as a NumPy array, or as it is when it is another library's array."""
    if callable(value) and not isinstance(value, np.ndarray):
        raise ArgumentTypeError(f"argument {where!r} is a function; pass it as a static "
                                "argument (static_argnums) or close over it")
    array = value if foreign_library(value) is not None else np.asarray(value)
    _, dtype = shape_and_dtype(array, where)
    if dtype.kind not in "biuf":
        raise ArgumentTypeError(f"argument {where!r} has dtype {dtype}; symdiff takes "
                                "numeric arrays, numbers, and tuples, lists and dicts of "
                                "them (pass Python values that steer the code with "
                                "static_argnums)")
    if differentiate and dtype.kind != "f":
        raise DiffError(f"argument {where!r} has dtype {dtype}: only floating-point "
                        "arguments can be differentiated (pass floats, e.g. "
                        "np.asarray(x, dtype=float))")
    return array


def variables_for(value: Any, name: str, inputs: list[Var], used: set[str]) -> Any:
    """``value`` with each leaf replaced by a new variable of its shape and dtype."""
    parts, treedef = pytree.flatten(value)
    names = pytree.leaf_names(treedef, name)
    variables = []
    for part, leaf_name in zip(parts, names):
        shape, dtype = shape_and_dtype(part, leaf_name)
        variable = Var(unique_name(leaf_name, used), shape, dtype)
        inputs.append(variable)
        variables.append(variable)
    return pytree.unflatten(treedef, variables)


def unique_name(name: str, used: set[str]) -> str:
    # Parameter names the generated code needs for itself get a trailing underscore.
    if name in codegen.RESERVED or not name.isidentifier():
        name = name + "_" if name.isidentifier() else "arg"
    candidate, n = name, 1
    while candidate in used:
        candidate, n = f"{name}_{n}", n + 1
    used.add(candidate)
    return candidate


def static_key(value: Any, name: str) -> Any:
    """A hashable stand-in for a static argument (slices are not hashable before 3.12)."""
    if isinstance(value, slice):
        return ("slice", static_key(value.start, name), static_key(value.stop, name),
                static_key(value.step, name))
    if isinstance(value, (tuple, list)):
        return (type(value).__name__, tuple(static_key(v, name) for v in value))
    try:
        hash(value)
    except TypeError:
        raise ArgumentTypeError(f"the static argument {name!r} is a "
                                f"{type(value).__name__}, which is not hashable; static "
                                "arguments are Python values such as ints, bools, tuples "
                                "and slices") from None
    return (type(value).__name__, value)


def check_tangent(primal: Any, tangent: Any, i: int) -> None:
    p_leaves, p_def = pytree.flatten(primal)
    t_leaves, t_def = pytree.flatten(tangent)
    if p_def != t_def:
        raise DiffError(f"jvp: tangent {i} has structure {pytree.structure_text(t_def)}, "
                        f"its primal {pytree.structure_text(p_def)}")
    for p, t in zip(p_leaves, t_leaves):
        (p_shape, p_dtype), (t_shape, t_dtype) = (shape_and_dtype(p, f"primal {i}"),
                                                  shape_and_dtype(t, f"tangent {i}"))
        if p_shape != t_shape or p_dtype != t_dtype:
            raise DiffError(f"jvp: tangent {i} has a leaf of shape {t_shape} and dtype "
                            f"{t_dtype} for a primal of shape {p_shape} and dtype {p_dtype} "
                            "(they must match, as in JAX)")


def int_tuple(value: Any, what: str) -> tuple[int, ...]:
    items = (value,) if isinstance(value, numbers.Integral) else tuple(value)
    for item in items:
        if not isinstance(item, numbers.Integral) or isinstance(item, bool):
            raise DiffError(f"{what} must be ints, got {item!r}")
    return tuple(int(item) for item in items)


# ---------------------------------------------------------------------------
# outputs

def jacobian_tree(result: Any, trees: list, single: bool, fname: str) -> Any:
    """jacrev's structure: the output's tree, each leaf holding the arguments' trees of
    ``out.shape + in.shape`` blocks (a tuple of them for a tuple of argnums)."""
    outs, out_def = pytree.flatten(result)
    blocks = []
    for out in outs:
        out = as_output(out, fname)
        if out.dtype.kind != "f":
            raise DiffError(f"{fname}() returns a value of dtype {out.dtype}, which cannot "
                            "be differentiated")
        parts = []
        for tree in trees:
            leaves, treedef = pytree.flatten(tree)
            parts.append(pytree.unflatten(treedef, [jacobian_of(out, leaf)
                                                    for leaf in leaves]))
        blocks.append(parts[0] if single else tuple(parts))
    return pytree.unflatten(out_def, blocks)


def check_differentiable_leaves(leaves: list, fn: str) -> None:
    for leaf in leaves:
        if leaf.dtype.kind != "f":
            raise DiffError(f"{fn}: the argument {getattr(leaf, 'name', '')!r} has dtype "
                            f"{leaf.dtype}; only floating-point arguments can be "
                            "differentiated")


def as_output(value: Any, fname: str) -> Node:
    if isinstance(value, Node):
        return value
    if isinstance(value, np.ndarray) and value.dtype == object:
        raise DiffError(f"{fname}() returns a NumPy array of expressions (np.array or "
                        "np.asarray of traced values); build arrays with np.stack([...])")
    if isinstance(value, (numbers.Number, np.ndarray, np.generic)) and not isinstance(
            value, (bool, np.bool_, complex)):
        return Const(np.asarray(value, dtype=float) if isinstance(value, int) else value)
    raise DiffError(f"{fname}(): the result holds {describe_result(value)}, which symdiff cannot "
                    "return (results are pytrees of arrays)")


def scalar_output(result: Any, fname: str) -> Node:
    if isinstance(result, (numbers.Real, np.number, np.ndarray)) and not isinstance(
            result, bool):
        result = Const(np.asarray(result, dtype=float))
    if not isinstance(result, Node):
        raise DiffError(f"{fname}() must return a scalar to be differentiated; it returns "
                        f"{describe_result(result)}")
    if result.shape != ():
        raise DiffError(f"{fname}() must return a scalar (0-d) to be differentiated; it "
                        f"returns shape {result.shape} (use sd.jacobian for vector outputs)")
    if result.dtype.kind != "f":
        raise DiffError(f"{fname}() returns a value of dtype {result.dtype}, which cannot "
                        "be differentiated")
    return result


def describe_result(value: Any) -> str:
    if isinstance(value, Node):
        return f"an expression of shape {value.shape}"
    if isinstance(value, tuple):
        return f"a tuple of {len(value)}"
    if value is None:
        return "None"
    return f"a {type(value).__name__}"
