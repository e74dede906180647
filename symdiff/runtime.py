"""The functions that generated code calls at run time, defined once.

``f.source`` imports what it calls from here (``from symdiff.runtime import
_shape_error``); ``module_source`` (the CLI's ``--format python``) copies the same
definitions into a module that needs only NumPy. The op table uses the op helpers
below as the ops' NumPy implementations, so the interpreter runs what compiled code
runs.

Conventions
- Names begin with an underscore so that they never clash with a parameter of a
  generated function; they are nonetheless this module's interface (``__all__``).
- Every function uses only NumPy, ``ShapeError`` and the other functions here, so
  that it can be copied into a standalone module (which defines ``ShapeError`` as a
  ``ValueError`` of the same name).
- A wrong argument at call time raises ``ShapeError``: the argument does not have
  the shape the function was generated for (nothing is being compiled then). It is
  a ``SymdiffError`` and, as NumPy's shape errors are, a ``ValueError``.
"""
from __future__ import annotations

import numpy as np

from .errors import ShapeError

__all__ = ["_native", "_other_arrays", "_shape_error", "_shape_text", "_scalar_arg",
           "_symmetric_arg",
           "_buffers", "_kept",
           "_max_kept", "_shifted_exp", "_sum_kept", "_logsumexp", "_logsumexp_softmax",
           "_softmax", "_log_softmax", "_band_matrix", "_band_diagonal", "_sigmoid"]


# -- arguments ---------------------------------------------------------------------

# The argument classes a compiled function's NumPy code takes without a second look.
# Any other class makes it call ``_other_arrays`` first.
_native = frozenset({np.ndarray, float, int, bool, list, np.float64, np.float32})


def _other_arrays(*args: object):
    """The function to run instead of the NumPy code for these arguments, or None.

    Here (source run on its own): always None, the NumPy code converts what it is
    given. A compiled ``Function`` binds this name, in its own namespace, to its
    method that returns its portable variant for arrays of another library (Dask,
    CuPy, ...): see ``symdiff/codegen/function.py``."""
    return None


def _read_only(*args: object) -> bool:
    """Whether an argument is a read-only NumPy array (``np.broadcast_to``, a memory
    map opened read-only, ``np.asarray`` of a JAX array): compiled Numba kernels take
    writable arrays only, and refuse these with a TypeError."""
    return any(isinstance(a, np.ndarray) and not a.flags.writeable for a in args)


def _writable(*args: object) -> list:
    """The arguments, each read-only array replaced by a writable copy."""
    return [np.array(a) if isinstance(a, np.ndarray) and not a.flags.writeable else a
            for a in args]


def _shape_error(name: str, value: object, shape: tuple) -> None:
    raise ShapeError(f"input {name!r}: expected shape {_shape_text(shape)}, "
                     f"got {_shape_text(np.shape(value))}")


def _shape_text(shape: tuple) -> str:
    """``(3, ?)``: an unknown length as ``?``, a 1-tuple with its comma."""
    dims = ", ".join("?" if d is None else str(d) for d in shape)
    return f"({dims}{',' if len(shape) == 1 else ''})"


def _symmetric_arg(value: np.ndarray, name: str) -> None:
    """Refuse an argument declared symmetric that is not (in its last two axes).

    Equality is the common case (``A @ A.T``, ``A + A.T`` and ``np.cov`` are exactly
    symmetric) and the cheapest test. Otherwise ``|S - S.T|`` may be a few units of
    rounding of ``max |S|``, as ``B @ C @ B.T`` computes it (measured: under
    ``3 n eps``); the code then computes with ``S`` in one place and ``S.T`` in another,
    an error of the order rounding already makes. NaNs are let through (the results are
    NaN anyway)."""
    mirror = value.swapaxes(-1, -2)
    if mirror.shape != value.shape:
        raise ShapeError(f"input {name!r} is declared symmetric, but its shape "
                         f"{_shape_text(value.shape)} does not end in a square matrix")
    if value.size == 0 or (value == mirror).all():
        return
    eps = np.finfo(value.dtype).eps if value.dtype.kind in "fc" else 0.0
    gap, scale = np.abs(value - mirror).max(), np.abs(value).max()
    if gap > 32 * value.shape[-1] * eps * scale:
        raise ShapeError(f"input {name!r} is declared symmetric, but it is not: "
                         f"{name} - {name}.T has entries up to {gap:.3g} "
                         f"(the largest of |{name}| is {scale:.3g})")


def _scalar_arg(value: object, name: str) -> float:
    """A 0-d float64 argument as a Python float (the code computes on floats)."""
    array = np.asarray(value, np.float64)
    if array.ndim != 0:
        _shape_error(name, array, ())
    return float(array)


# -- buffers kept between calls -------------------------------------------------------
# A generated function that keeps its big temporaries has a list ``_pool`` of sets
# (dicts key -> array); a call takes one set and puts it back when done, so that
# concurrent calls (threads, recursion) each write into a set of their own.

def _buffers(pool: list) -> dict:
    try:
        return pool.pop()
    except IndexError:   # the first call, or every set is in use by another call
        return {}


def _kept(buffers: dict, key: int, shape: tuple) -> np.ndarray:
    array = buffers.get(key)
    if array is None or array.shape != shape:
        array = buffers[key] = np.empty(shape)
    return array


# -- the softmax family and logsumexp ---------------------------------------------------
# They share the exponentials shifted by the max (no overflow), computed in place in
# one fresh array, and sums kept as axes of length 1 (rows and columns of a float
# matrix summed by a product with ones: BLAS reads the matrix once).

def _max_kept(x, axis):
    """np.max(x, axis, keepdims=True); the rows of a long narrow matrix by a loop
    over its columns (NumPy reduces each short row on its own: 140 against 25 µs
    on 4096x10)."""
    if x.ndim == 2 and axis in (1, -1) and 2 <= x.shape[1] <= 32 and x.shape[0] >= 128:
        m = x[:, 0].copy()
        for j in range(1, x.shape[1]):
            np.maximum(m, x[:, j], out=m)
        return m[:, None]
    return np.max(x, axis=axis, keepdims=True)


def _shifted_exp(x, axis):
    """exp(x - m) and m, the max over axis (kept), or 0 where that max is not finite."""
    m = np.where(np.isfinite(m := _max_kept(x, axis)), m, 0.0)
    e = x - m
    if e.ndim:
        np.exp(e, out=e)   # e is a fresh array: no second temporary
    else:
        e = np.exp(e)
    return e, m


def _sum_kept(e, axis):
    """np.sum(e, axis, keepdims=True)."""
    if e.ndim == 2 and e.dtype.kind == "f" and axis in (0, 1, -1, -2):
        if axis in (1, -1):
            return e.dot(np.ones(e.shape[1], e.dtype))[:, None]
        return np.ones(e.shape[0], e.dtype).dot(e)[None, :]
    return np.add.reduce(e, axis=axis, keepdims=True)


def _logsumexp(x, axis=None, keepdims=False):
    """log(sum(exp(x))) without overflow: the max is taken out first."""
    e, m = _shifted_exp(x, axis)
    s = np.log(_sum_kept(e, axis)) + m
    return s if keepdims else np.squeeze(s, axis=axis)


def _logsumexp_softmax(x, axis, keepdims=False):
    """logsumexp(x, axis) and softmax(x, axis) from one pass of exponentials (the
    gradient of logsumexp is the softmax of its operand)."""
    e, m = _shifted_exp(x, axis)
    s = _sum_kept(e, axis)
    lse = np.log(s) + m
    e *= 1.0 / s   # one division per row, a product per element
    return (lse if keepdims else np.squeeze(lse, axis=axis)), e


def _softmax(x, axis=-1):
    e, _ = _shifted_exp(x, axis)
    e *= 1.0 / _sum_kept(e, axis)
    return e


def _log_softmax(x, axis=-1):
    z = x - np.max(x, axis=axis, keepdims=True)
    return z - np.log(np.sum(np.exp(z), axis=axis, keepdims=True))


# -- banded Jacobians (symdiff.banded) ---------------------------------------------------

def _sigmoid(x, top):
    """1 / (1 + exp(-x)) as e / (1 + e), e = exp(min(x, top)): no overflow, exact tails
    (see symdiff/ops/logistic.py)."""
    e = np.exp(np.minimum(x, top))
    return e / (1.0 + e)


def _band_matrix(m, n, offsets, dtype, *bands):
    """An m x n matrix (with the bands' leading axes) holding ``bands[i][j]`` at
    ``[j, j + offsets[i]]`` and zeros elsewhere."""
    lead = np.broadcast_shapes(*(np.shape(d)[:-1] for d in bands if np.ndim(d)))
    out = np.zeros(lead + (m, n), dtype)
    flat = out.reshape(lead + (m * n,))
    for k, d in zip(offsets, bands):
        j0, j1 = max(0, -k), min(m, n - k)
        if j1 > j0:
            d = np.asarray(d)
            if d.ndim and d.shape[-1] != 1:
                d = d[..., j0:j1]
            flat[..., j0 * (n + 1) + k:(j1 - 1) * (n + 1) + k + 1:n + 1] = d
    return out


def _band_diagonal(g, offset):
    """The diagonal of ``g`` at ``offset``, padded with zeros to the number of rows."""
    g = np.asarray(g)
    m, n = g.shape[-2:]
    out = np.zeros(g.shape[:-1], g.dtype if g.dtype.kind == "f" else np.float64)
    j0, j1 = max(0, -offset), min(m, n - offset)
    if j1 > j0:
        out[..., j0:j1] = np.diagonal(g, offset, -2, -1)
    return out
