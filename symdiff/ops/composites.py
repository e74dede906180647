"""Public functions built from the primitives of the other families (no op of their
own): ``reciprocal``, ``log2``, ``log10``, ``exp2``, ``var``, ``std``.
"""
from __future__ import annotations

import numpy as np

from .declare import as_nodes, public
from .elementwise import divide, log, multiply, power, sqrt, square, subtract
from .reductions import mean, sum_


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
