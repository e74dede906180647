"""``measured_dot``: a product of two big matrices in the Numba backend's code,
spelled as the first calls with those shapes and layouts measured faster."""
from __future__ import annotations

import time

import numpy as np

from .. import runtime

# Products of at least this many multiply-adds have their spelling measured.
MEASURED_PRODUCT_MIN = 1 << 17
_DOT_ROUNDS = 6
_dot_choice: dict[tuple, bool] = {}
_dot_times: dict[tuple, tuple[list, list]] = {}
_MAX_KINDS = 1024   # shapes measured at most, then forgotten (varying batch sizes)


def measured_dot(a: np.ndarray, b: np.ndarray, buffers: dict | None = None,
                 key: int = 0) -> np.ndarray:
    """``a.dot(b)`` of 2-d float64 arrays, or the same product computed transposed,
    ``b.T.dot(a.T).T`` (a result in Fortran order), whichever measured faster on the
    first calls with these shapes and layouts. The BLAS (OpenBLAS here) is faster when
    the long side of the result is the leading dimension of the product it computes:
    4096x100 @ 100x10 takes 285 against 366 us transposed, the adjoint X.T @ G
    278 against 396 us; for other shapes the plain call wins or they tie.
    With ``buffers``, the result is written into the kept buffer ``key`` of that set."""
    if a.size * b.shape[1] < MEASURED_PRODUCT_MIN:
        return _dot(a, b, False, buffers, key)
    kind = (a.shape, b.shape, a.flags.c_contiguous, a.flags.f_contiguous,
            b.flags.c_contiguous, b.flags.f_contiguous)
    transposed = _dot_choice.get(kind)
    if transposed is not None:
        return _dot(a, b, transposed, buffers, key)
    if len(_dot_times) > _MAX_KINDS:
        _dot_times.clear()
        _dot_choice.clear()
    times = _dot_times.setdefault(kind, ([], []))
    transposed = len(times[1]) < len(times[0])
    # CPU time: other processes on the core do not count
    start = time.process_time()
    out = _dot(a, b, transposed, buffers, key)
    times[transposed].append(time.process_time() - start)
    if min(len(times[0]), len(times[1])) >= _DOT_ROUNDS:
        # the first calls warm the caches: the best of the later ones decides (several
        # threads may be measuring: a choice made twice is made alike)
        _dot_choice[kind] = min(times[1][2:]) < 0.9 * min(times[0][2:])
    return out


def _dot(a: np.ndarray, b: np.ndarray, transposed: bool, buffers: dict | None,
         key: int) -> np.ndarray:
    if buffers is None:
        return b.T.dot(a.T).T if transposed else a.dot(b)
    if transposed:   # a buffer of its own (~key): the trial alternates the two
        out = runtime._kept(buffers, ~key, (b.shape[1], a.shape[0]))
        return np.dot(b.T, a.T, out=out).T
    return np.dot(a, b, out=runtime._kept(buffers, key, (a.shape[0], b.shape[1])))
