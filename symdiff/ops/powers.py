"""The partial derivatives of ``pow``, right at a zero base.

Read literally, d(a**b)/da = b * a**(b - 1) and d(a**b)/db = a**b * log(a) are NaN at
a = 0 where both derivatives exist: ``0 * 0**-1`` for b = 0 (a**0 is 1 for every a,
so the derivative is 0), and ``0 * log(0)`` for b > 0 (0**b is 0 for every b > 0).
The partials below give those values and change nothing where a != 0:

- base: ``b * a**(b - 1 + [a == 0 and b == 0])``. The bracket is piecewise constant,
  with no derivative, so every higher derivative differentiates the same formula; at
  a = b = 0 it is ``0 * 0**0 = 0``, and the inner power, of exponent 0 there, gives
  its own derivative the same way. A constant exponent gets the correction when
  built (``0 * a**0`` for its zeros), with no test at run time.
- exponent: ``a**b * log(a')`` with ``a' = where(a == 0 and b > 0, 1, a)``: 0 where
  0**b is 0 for all b > 0 (the log of 0 is not computed there). JAX replaces every
  zero base (0 at b = 0 too); here 0**b keeps its one-sided -inf at b = 0, where it
  jumps from 1 to 0, so that the mixed second derivative at a = b = 0 (which does not
  exist) comes out NaN rather than a number. A base that underflows is not replaced:
  its derivatives stay exact.

These are the bodies of the ``pow`` record's partials in ``table.py``; the builders
are looked up when a partial is built (the table imports this module).
"""
from __future__ import annotations

import numpy as np

from ..ir import Const, Node


def base_partial(out: Node, a: Node, b: Node) -> Node:
    """d(a**b)/da, 0 where a = b = 0 (see the module)."""
    from . import table as t
    if b.op.name == "const":
        b_safe = _replace_zero(b)
    else:
        dtype = b.dtype if b.dtype.kind == "f" else a.dtype
        both_zero = t.FUNCTIONS["logical_and"](t.equal(a, 0.0), t.equal(b, 0.0))
        b_safe = t.add(b, t.where(both_zero, Const(1.0, dtype), Const(0.0, dtype)))
    return t.multiply(b, t.power(a, t.subtract(b_safe, 1.0)))


def exponent_partial(out: Node, a: Node, b: Node) -> Node:
    """d(a**b)/db, 0 where a = 0 and b > 0 (see the module)."""
    from . import table as t
    if a.op.name == "const" and not np.any(a.value == 0):
        return t.multiply(out, t.log(a))
    zero_power = t.FUNCTIONS["logical_and"](t.equal(a, 0.0), t.greater(b, 0.0))
    return t.multiply(out, t.log(t.where(zero_power, 1.0, a)))


def _replace_zero(c: Node) -> Node:
    """A constant with its zeros replaced by ones (itself when it has none)."""
    if not np.any(c.value == 0):
        return c
    return Const(np.where(c.value == 0, 1, c.value), c.dtype)
