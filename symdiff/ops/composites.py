"""Public functions built from the primitives of the other families (no op of their
own): ``reciprocal``, ``log2``, ``log10``, ``exp2``, ``var``, ``std``, ``norm``.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .declare import FUNCTIONS, as_nodes, public
from .elementwise import divide, log, multiply, power, sqrt, square, subtract
from .reductions import mean, sum_
from .slicing import getitem


@public("reciprocal")
def reciprocal(x):
    return divide(1.0, x)


@public("log2")
def log2(x):
    return divide(log(x), float(np.log(2.0)))


@public("log10")
def log10(x):
    return divide(log(x), float(np.log(10.0)))


@public("exp2")
def exp2(x):
    return power(2.0, x)


@public("var")
def var(x, axis=None, keepdims=False):
    (x,) = as_nodes([x])
    centred = subtract(x, mean(x, axis, True))
    return mean(square(centred), axis, keepdims)


@public("std")
def std(x, axis=None, keepdims=False):
    return sqrt(var(x, axis, keepdims))


@public("norm")
def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Any:
    """``np.linalg.norm``, built from primitives, with NumPy's ``ord`` and ``axis``.

    Vector norms: ``None``/``2`` Euclidean, ``1``, ``inf``, ``-inf``, ``0`` (a count,
    derivative 0) and any other ``p`` as ``sum(abs(x)**p)**(1/p)``. Matrix norms (a
    2-d ``x`` with ``axis=None``, or a pair of axes): ``None``/``'fro'``, ``1``, ``-1``,
    ``inf``, ``-inf``, and by the singular values (``symdiff/ops/svd.py``): ``2`` the
    largest, ``-2`` the smallest, ``'nuc'`` their sum. The gradient of ``2`` is
    ``u_1 v_1^T`` for the first singular vectors NumPy gives; where the largest singular
    value is repeated the norm has no gradient and that is one subgradient (likewise
    ``-2``). Second derivatives at repeated singular values are nan.
    """
    f = FUNCTIONS
    (x,) = as_nodes([x])
    ndim = len(x.shape)
    if axis is None:
        if ord is None:                       # Frobenius of the flattened array
            return f["sqrt"](f["sum"](f["square"](x), axis=None, keepdims=keepdims))
        if ndim not in (1, 2):
            raise ValueError("norm: ord needs a 1-d or 2-d array when axis is None")
        axis = tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    axes = tuple(a % ndim for a in axes)
    if len(axes) == 1:
        return _vector_norm(f, x, ord, axes[0], keepdims)
    if len(axes) == 2:
        return _matrix_norm(f, x, ord, axes, keepdims)
    raise ValueError(f"norm: improper number of axes {len(axes)}")


def _vector_norm(f: dict, x: Any, ord: Any, axis: int, keepdims: bool) -> Any:
    if isinstance(ord, str):
        raise ValueError(f"norm: invalid norm order {ord!r} for vectors")
    if ord is None or ord == 2:
        return f["sqrt"](f["sum"](f["square"](x), axis=axis, keepdims=keepdims))
    a = f["abs"](x)
    if ord == np.inf:
        return f["max"](a, axis=axis, keepdims=keepdims)
    if ord == -np.inf:
        return f["min"](a, axis=axis, keepdims=keepdims)
    if ord == 1:
        return f["sum"](a, axis=axis, keepdims=keepdims)
    if ord == 0:
        nonzero = f["astype"](f["not_equal"](x, 0.0), x.dtype)
        return f["sum"](nonzero, axis=axis, keepdims=keepdims)
    p = float(ord)
    return f["power"](f["sum"](f["power"](a, p), axis=axis, keepdims=keepdims), 1.0 / p)


def _matrix_norm(f: dict, x: Any, ord: Any, axes: tuple, keepdims: bool) -> Any:
    row, col = axes
    if row == col:
        raise ValueError("norm: duplicate axes given")
    if ord is None or ord == "fro":
        return f["sqrt"](f["sum"](f["square"](x), axis=axes, keepdims=keepdims))
    if ord in (1, -1, np.inf, -np.inf):
        # 1: the largest column sum of |x|; inf: the largest row sum.
        summed, other = (row, col) if ord in (1, -1) else (col, row)
        sums = f["sum"](f["abs"](x), axis=summed, keepdims=True)
        pick = f["max"] if ord > 0 else f["min"]
        out = pick(sums, axis=other, keepdims=True)
        return out if keepdims else f["squeeze"](out, axis=axes)
    if ord in (2, -2, "nuc"):
        rest = tuple(i for i in range(len(x.shape)) if i not in axes)
        if rest + axes != tuple(range(len(x.shape))):
            x = f["transpose"](x, rest + axes)
        s = f["svdvals"](x)                   # descending
        if ord == "nuc":
            out = f["sum"](s, axis=-1)
        else:
            out = getitem(s, (Ellipsis, 0 if ord == 2 else -1))
        return f["expand_dims"](out, tuple(sorted(axes))) if keepdims else out
    raise ValueError(f"norm: invalid norm order {ord!r} for matrices")
