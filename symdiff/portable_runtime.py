"""The functions that portable generated code (``f.portable_source``) calls at run time.

The portable variant of a compiled function is written against the Array API standard
namespace ``xp`` of its arguments (array-api-compat's ``array_namespace``), so one
source runs on Dask, CuPy, PyTorch, JAX and array-api-strict. Every function here
takes that namespace as its first argument and uses only functions the standard
names: no ``out=``, no NumPy-only calls, and no in-place update of an argument (a
scatter writes into an array it has just made, or uses JAX's ``.at`` where arrays
are immutable).

Which arguments decide the namespace: NumPy arrays and scalars, Python numbers and
lists are neutral. Next to arrays of one other library they are converted to that
library (a NumPy parameter vector next to a Dask data set); when every argument is
neutral the tuned NumPy code runs instead. Arrays of two other libraries in one
call are refused, naming both.

As in ``symdiff.runtime``, names begin with an underscore so that they never clash
with a parameter of a generated function (``__all__`` is the interface), and a bad
argument raises ``ShapeError`` or ``ArgumentTypeError``.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .errors import ArgumentTypeError, CompileError, ShapeError

__all__ = ["_namespace", "_xp_arg", "_xp_sigmoid", "_xp_softplus", "_xp_logsumexp", "_xp_softmax",
           "_xp_log_softmax", "_xp_logsumexp_softmax", "_xp_eye_like", "_xp_embed",
           "_xp_add_at", "_xp_svd_packed"]

# Top-level modules of array types -> the library's name, for messages and for telling
# arrays apart when array-api-compat is not installed.
LIBRARIES = {"dask": "dask", "cupy": "cupy", "torch": "torch", "jax": "jax",
             "jaxlib": "jax", "array_api_strict": "array-api-strict", "sparse": "sparse",
             "ndonnx": "ndonnx", "dpnp": "dpnp", "mlx": "mlx"}
_NEUTRAL = (np.ndarray, np.generic, numbers.Number, list, tuple, type(None))


def foreign_library(value: object) -> str | None:
    """The name of the array library of ``value`` when it is an array of a library
    other than NumPy; None for NumPy arrays and scalars, Python numbers, lists and
    anything else NumPy converts."""
    if isinstance(value, _NEUTRAL):
        return None
    top = type(value).__module__.split(".")[0]
    if top in LIBRARIES:
        return LIBRARIES[top]
    if hasattr(value, "__array_namespace__"):
        return top
    return None


def _namespace(**arguments: object):
    """The Array API namespace of the arguments that are not neutral (see above), and
    the device of the first of them (where neutral arguments and constants go)."""
    found: dict[str, str] = {}
    arrays = []
    for name, value in arguments.items():
        library = foreign_library(value)
        if library is not None:
            found.setdefault(library, name)
            arrays.append(value)
    if len(found) > 1:
        (a, name_a), (b, name_b) = list(found.items())[:2]
        raise ArgumentTypeError(
            f"arrays of two libraries in one call: {a} (argument {name_a!r}) and {b} "
            f"(argument {name_b!r}); convert them to one library (NumPy arrays mix with "
            f"either)")
    if not arrays:
        raise ArgumentTypeError("no argument is an array of an Array API library")
    try:
        from array_api_compat import array_namespace, device
    except ImportError:
        library = next(iter(found))
        raise CompileError(f"running on {library} arrays needs the array-api-compat "
                           f"package: pip install 'symdiff[array-api]'") from None
    return array_namespace(*arrays), device(arrays[0])


def _xp_arg(xp, device, value, name: str, dtype, shape: tuple):
    """``value`` as an array of ``xp`` with ``dtype``, checked against ``shape``
    (``None``: any length). A length the library does not know yet (a Dask array
    with unknown chunk sizes) is refused: the code would compute with NaN sizes."""
    if foreign_library(value) is None:
        value = np.asarray(value)   # a neutral argument: converted once, into xp
        if value.dtype.kind == "O":
            raise ArgumentTypeError(f"input {name!r}: an array of Python objects")
        array = xp.asarray(value, device=device)
    else:
        array = value if foreign_library(value) else xp.asarray(value)
    if array.dtype != dtype:
        array = xp.astype(array, dtype)
    got = tuple(array.shape)
    for axis, length in enumerate(got):
        if length is None or (isinstance(length, float) and math.isnan(length)):
            raise ShapeError(f"input {name!r}: its length on axis {axis} is not known yet "
                             f"(a Dask array with unknown chunk sizes: call "
                             f"{name}.compute_chunk_sizes() first)")
    if len(got) != len(shape) or any(d is not None and d != g for d, g in zip(shape, got)):
        dims = ", ".join("?" if d is None else str(d) for d in shape)
        raise ShapeError(f"input {name!r}: expected shape ({dims}{',' * (len(shape) == 1)}), "
                         f"got {got}")
    return array


# -- ops the standard has no single function for ------------------------------------------

def _numpy_blocks(x) -> bool:
    """``x`` is a Dask array of NumPy blocks: a NumPy function can run on each block
    (``map_blocks``), one task per block, updating the arrays it makes in place."""
    return foreign_library(x) == "dask" and isinstance(getattr(x, "_meta", None), np.ndarray)


def _xp_sigmoid(xp, x, top: float):
    """e / (1 + e), e = exp(min(x, top)): as ``symdiff.runtime._sigmoid``, exact in both
    tails and free of overflow. On a Dask array of NumPy blocks, each block is computed
    in one buffer by NumPy calls that write in place (3 passes, 1 temporary, against
    4 new arrays): with softplus below, the CPU time of the logistic loss and gradient
    over 2,000,000 x 16 fell by 15% (bench/DASK.md)."""
    if _numpy_blocks(x):
        return x.map_blocks(_sigmoid_block, top, dtype=x.dtype)
    e = xp.exp(xp.minimum(x, xp.asarray(top, dtype=x.dtype)))
    return e / (1.0 + e)


def _sigmoid_block(x: np.ndarray, top: float) -> np.ndarray:
    out = np.minimum(x, top, out=np.empty_like(x))   # an array, also for a 0-d block
    np.exp(out, out=out)
    out /= out + 1.0
    return out


def _xp_softplus(xp, x):
    """log(1 + exp(x)) = log1p(exp(-|x|)) + max(x, 0): the steps of NumPy's
    ``logaddexp(0, x)``, exact and free of overflow at any x, in functions of the
    standard (which has ``logaddexp``, but NumPy's is a scalar loop: 4.3 against
    2.5 ms on 250,000 elements). Dask arrays of NumPy blocks: one buffer per block."""
    if _numpy_blocks(x):
        return x.map_blocks(_softplus_block, dtype=x.dtype)
    zero = xp.asarray(0.0, dtype=x.dtype)
    return xp.log1p(xp.exp(-xp.abs(x))) + xp.maximum(x, zero)


def _softplus_block(x: np.ndarray) -> np.ndarray:
    out = np.abs(x, out=np.empty_like(x))   # an array, also for a 0-d block
    np.negative(out, out=out)
    np.exp(out, out=out)
    np.log1p(out, out=out)
    out += np.maximum(x, 0.0)
    return out


def _shifted_exp(xp, x, axis):
    """exp(x - m) and m, the max over ``axis`` (kept), or 0 where it is not finite."""
    m = xp.max(x, axis=axis, keepdims=True)
    m = xp.where(xp.isfinite(m), m, xp.zeros_like(m))
    return xp.exp(x - m), m


def _xp_logsumexp(xp, x, axis=None, keepdims: bool = False):
    """log(sum(exp(x))) with the max taken out first: no overflow."""
    e, m = _shifted_exp(xp, x, axis)
    s = xp.log(xp.sum(e, axis=axis, keepdims=True)) + m
    return s if keepdims else _drop(xp, s, axis)


def _xp_logsumexp_softmax(xp, x, axis: int, keepdims: bool = False):
    """logsumexp(x, axis) and softmax(x, axis) from one set of exponentials."""
    e, m = _shifted_exp(xp, x, axis)
    s = xp.sum(e, axis=axis, keepdims=True)
    lse = xp.log(s) + m
    return (lse if keepdims else _drop(xp, lse, axis)), e / s


def _xp_softmax(xp, x, axis: int):
    e, _ = _shifted_exp(xp, x, axis)
    return e / xp.sum(e, axis=axis, keepdims=True)


def _xp_log_softmax(xp, x, axis: int):
    z = x - xp.max(x, axis=axis, keepdims=True)
    return z - xp.log(xp.sum(xp.exp(z), axis=axis, keepdims=True))


def _drop(xp, s, axis):
    """``s`` without the reduced axes that were kept (length 1)."""
    axes = tuple(range(s.ndim)) if axis is None else axis
    return xp.squeeze(s, axis=axes) if s.ndim else s


def _xp_eye_like(xp, x, dtype):
    """The rows of the identity of size x.size, each shaped like ``x``."""
    from array_api_compat import device
    n = math.prod(x.shape)
    return xp.reshape(xp.eye(n, dtype=dtype, device=device(x)), (n, *x.shape))


def _xp_svd_packed(xp, a):
    """The reduced SVD of ``a`` in one array: the singular values as the first row, then
    the rows of U, then those of V (see ``symdiff/ops/svd.py``)."""
    u, s, vh = xp.linalg.svd(a, full_matrices=False)
    return xp.concat([s[..., None, :], u, xp.matrix_transpose(vh)], axis=-2)


def _xp_embed(xp, g, ref, index: tuple, dtype):
    """Zeros shaped like ``ref`` with ``g`` at ``index`` (basic indexing: no element
    is written twice). The zeros are a new array, so writing into it is no in-place
    update of an argument; immutable arrays (JAX) use their ``.at[...].set``."""
    out = xp.zeros_like(ref, dtype=dtype)
    return _set(xp, out, index, xp.astype(g, dtype) if g.dtype != dtype else g)


def _xp_add_at(xp, x, g, index: tuple):
    """``x`` with ``g`` added at ``x[index]``, in a copy of ``x``."""
    if hasattr(x, "at"):
        return x.at[index].add(g)
    out = xp.asarray(x, copy=True)
    return _set(xp, out, index, out[index] + g)


def _set(xp, out, index: tuple, value):
    """``out`` with ``value`` at ``out[index]``. The standard allows no new axis
    (``None``) in an assignment: those axes, of length 1, are taken out of the value."""
    if hasattr(out, "at"):   # JAX: immutable arrays
        return out.at[index].set(value)
    if None in index:
        part = tuple(out[index].shape)
        value = xp.broadcast_to(value, part)
        axis, keep = 0, []
        for item in index:
            if item is None or isinstance(item, slice):
                keep.append(item is not None)
                axis += 1
        keep += [True] * (len(part) - axis)
        value = xp.reshape(value, tuple(d for d, k in zip(part, keep) if k))
        index = tuple(i for i in index if i is not None)
    out[index] = value
    return out
