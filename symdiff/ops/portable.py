"""How an op is written against the Array API standard: the ``portable`` field of its
record, and the small builders the op families declare it with.

The portable printer (``symdiff/codegen/portable_printer.py``) spells a plan against
the namespace ``xp`` of the arguments; each op's record says how its node is written
there (``Op.portable``), or has ``None``: the op has no portable form and the printer
refuses it by name. The conventions of the templates:

- only functions the standard names (``xp.exp``, ``xp.sum``, ``xp.permute_dims``,
  operators); no ``out=``, no NumPy-only calls, no in-place update of an argument;
- operands arrive already cast as ``cast`` asks (the standard does not promote between
  kinds), and a Python number stays a number only where ``infix`` says the operands are
  those of Python operators;
- ops with no single standard function call the functions of
  ``symdiff.portable_runtime`` (listed in ``helpers``, imported by name).
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from ..ir import Node


class Portable(NamedTuple):
    """How one op is written against ``xp``.

    ``code(args, node)``: the expression, over the spelled operands. ``cast``: which
    dtype array operands are cast to first: ``"result"`` the node's, ``"common"``
    the operands' common dtype (comparisons), ``"where"`` the node's for the two
    branches, ``"none"``. ``infix``: the operands are those of Python operators, so a
    number stays a Python number. ``helpers``: the ``portable_runtime`` functions
    the code calls. ``number``: the result is a Python number, not an array of the
    library (a length computed from shapes).
    """
    code: Callable[[list[str], Node], str]
    cast: str = "result"
    infix: bool = False
    helpers: tuple = ()
    number: bool = False


def dtype_text(dt: np.dtype) -> str:
    """The namespace's name of a dtype: ``xp.float64``."""
    return f"xp.{np.dtype(dt).name}"


def xp_call(fn: str, cast: str = "result") -> Portable:
    """``xp.fn(a, b, ...)``."""
    return Portable(lambda a, n: f"xp.{fn}({', '.join(a)})", cast)


def xp_infix(symbol: str, cast: str = "result") -> Portable:
    """``a SYMBOL b``, a Python operator."""
    return Portable(lambda a, n: f"{a[0]} {symbol} {a[1]}", cast, infix=True)


def axis_kw(node: Node) -> str:
    """The ``axis=`` and ``keepdims=`` arguments of a reduction node (none at default)."""
    axis, out = node.attr("axis"), ""
    if axis is not None:
        out += f", axis={axis!r}"
    if node.attr("keepdims"):
        out += ", keepdims=True"
    return out


def xp_reduce(fn: str) -> Portable:
    """``xp.fn(x, axis=..., keepdims=...)``: Dask makes each a tree reduction."""
    return Portable(lambda a, n: f"xp.{fn}({a[0]}{axis_kw(n)})")
