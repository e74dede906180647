"""The partial derivatives of ``pow``, right at a zero base.

Read literally, d(a**b)/da = b * a**(b - 1) and d(a**b)/db = a**b * log(a) are NaN at
a = 0 where both derivatives exist: ``0 * 0**-1`` for b = 0 (a**0 is 1 for every a,
so the derivative is 0), and ``0 * log(0)`` for b > 0 (0**b is 0 for every b > 0).
The partials below give those values and change nothing where a != 0:

- base: ``b * a**(b - 1 + [max(|a|, |b|) <= 0])``, the exponent being b - 1 but at
  a = b = 0, where it is 0: ``0 * 0**0 = 0``.
- exponent: ``a**b * log(a + [b > 0] * [|a| <= 0])``, the log's operand being a but
  where a = 0 < b, where it is 1: ``0 * log(1) = 0``. The log of 0 is not computed
  there. (JAX's pow replaces every zero base; at b = 0, where 0**b jumps from 1 to 0,
  this keeps the one-sided -inf, so that the mixed second derivative at a = b = 0,
  which does not exist, comes out NaN rather than a number.)

The corrections are comparisons: they have no derivative (none flows through them, not
even a zero that could meet an infinity), so every higher derivative differentiates the
textbook formula wherever a != 0, and at a = b = 0 the inner power, of exponent 0 there,
gives its own derivative the same way. A 0-d comparison prints as ``Heaviside``, so a
printed derivative stays in a form SymPy and ``sd.parse`` read.
A constant exponent or base is looked at when the partial is built: ``x**3`` gets
``3 * x**2`` as before, and a constant exponent with zeros (``z**arange(3)``) gets
``0 * z**0`` at those zeros. A constant exponent that is the float nearest a
simple fraction p/q (``x**(1/3)``) gets the float nearest p/q - 1 as its new exponent,
not the rounded difference of floats: both are within half an ulp of b - 1 (1/3 - 1
is a tie), and this one is what ``-2/3`` reads back to, so the derivative prints as
the exact fraction it computes.

These are the bodies of the ``pow`` record's partials in ``elementwise.py``; the builders
are looked up when a partial is built (that module imports this one).
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np

from ..ir import Const, Node


def base_partial(out: Node, a: Node, b: Node) -> Node:
    """d(a**b)/da, 0 where a = b = 0 (see the module)."""
    from . import elementwise as t
    b_value = constant_value(b)
    if b_value is not None:
        b = Const(b_value, b.dtype) if b.op.name != "const" else b
        exponent = _less_one(_replace_zero(b))
    elif a.op.name == "const" and not np.any(a.value == 0):
        exponent = t.subtract(b, 1.0)
    else:
        size = t.absolute(a) if a is b else t.maximum(t.absolute(a), t.absolute(b))
        both_zero = t.less_equal(size, 0.0)
        exponent = t.add(t.subtract(b, 1.0), both_zero)
    return t.multiply(b, t.power(a, exponent))


def exponent_partial(out: Node, a: Node, b: Node) -> Node:
    """d(a**b)/db, 0 where a = 0 < b (see the module)."""
    from . import elementwise as t
    if a.op.name == "const" and not np.any(a.value == 0):
        return t.multiply(out, t.log(a))
    zero_power = t.multiply(t.greater(b, 0.0), t.less_equal(t.absolute(a), 0.0))
    return t.multiply(out, t.log(t.add(a, zero_power)))


# A constant-valued exponent is often not a Const node yet when a derivative is built
# (the slope of x**2 is 2 * x**(2 - 1) until simplification folds it): its value is
# read here so that no run-time zero test is added where none can be true.
_FOLD_LIMIT = 32   # nodes: bigger constant subgraphs are left to constant folding


def constant_value(node: Node) -> np.ndarray | None:
    """The value of ``node`` when it depends on no variable (a small graph), else None."""
    values: dict[int, np.ndarray] = {}
    stack = [node]
    while stack:
        n = stack[-1]
        if n.id in values:
            stack.pop()
            continue
        if n.op.name == "const":
            values[n.id] = n.value
            stack.pop()
            continue
        if n.op.name == "var" or len(values) + len(stack) > _FOLD_LIMIT:
            return None
        todo = [i for i in n.inputs if i.id not in values]
        if todo:
            stack.extend(todo)
            continue
        with np.errstate(all="ignore"):
            values[n.id] = np.asarray(n.op.impl(*(values[i.id] for i in n.inputs),
                                                **dict(n.attrs)))
        stack.pop()
    return values[node.id]


def _replace_zero(c: Node) -> Node:
    """A constant with its zeros replaced by ones (itself when it has none)."""
    if not np.any(c.value == 0):
        return c
    return Const(np.where(c.value == 0, 1, c.value), c.dtype)


_DENOMINATORS = 12   # the fractions the printer writes exactly have q <= 12


def _less_one(c: Node) -> Node:
    """The constant ``c - 1``, carried exactly for floats nearest a fraction p/q."""
    if c.dtype.kind != "f":
        return Const(np.asarray(c.value - 1), c.dtype)

    def less_one(v: float) -> float:
        if not np.isfinite(v):
            return v - 1.0
        fraction = Fraction(float(v)).limit_denominator(_DENOMINATORS)
        if fraction.denominator > 1 and float(fraction) == v:
            return float(fraction - 1)     # p/q - 1 rounded once
        return v - 1.0
    values = np.asarray(c.value, dtype=np.float64)
    result = np.array([less_one(float(v)) for v in values.ravel()]).reshape(values.shape)
    return Const(result.astype(c.dtype), c.dtype)
