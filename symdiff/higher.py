"""Jacobians, Hessians and Hessian-vector products, built from ``vjp``/``jvp`` and batching.

Conventions
- ``jacobian(y, x)`` has shape ``y.shape + x.shape``: entry ``[i..., j...]`` is
  d y[i...] / d x[j...]. ``hessian(cost, x)`` is the Jacobian of the gradient, of
  shape ``x.shape + x.shape``.
- A Jacobian is one derivative graph, built for a single symbolic tangent (forward
  mode, ``jvp``) or cotangent (reverse mode, ``vjp``), then batched
  (``symdiff.batching``) over the rows of an identity matrix. The graph's size
  therefore does not grow with the number of inputs or outputs; only the batch does.
  The mode is the one with the smaller batch: reverse when ``y`` has fewer elements
  than ``x``, forward otherwise. A Hessian is thus forward-over-reverse (the
  Jacobian of the gradient, batched ``jvp`` of ``grad``), as in ``jax.hessian``.
- The identity is a constant, so the batch needs a static size: the number of
  elements of ``x`` (forward) or of ``y`` (reverse). When only one of them is known,
  that mode is used; when neither is, ``DiffError`` says so (``jvp``, ``vjp`` and
  ``hvp`` work with unknown lengths).
- ``hvp(cost, x, v)`` is forward-over-reverse, ``jvp(grad(cost, x), x, v)``: a small
  constant multiple of the gradient's cost, and no Hessian is ever formed.
"""
from __future__ import annotations

import itertools
from typing import Any, Sequence

import numpy as np

from .autodiff import grad, jvp, vjp
from .batching import batch
from .errors import DiffError
from .ir import Const, Node, Var, as_node, fmt_shape
from .ops.table import reshape, transpose

__all__ = ["jacobian", "hessian", "hvp"]

_placeholders = itertools.count()


def jacobian(y: Node, x: Node | Sequence[Node], *, mode: str = "auto") -> Node | list[Node]:
    """d y / d x as an expression of shape ``y.shape + x.shape`` (a list for a list of x).

    ``mode`` is ``"fwd"`` (batched ``jvp`` over the inputs), ``"rev"`` (batched ``vjp``
    over the outputs) or ``"auto"``: the one with the smaller batch.
    """
    if not isinstance(y, Node):
        raise DiffError(f"jacobian: y must be an expression, not {type(y).__name__}")
    if isinstance(x, Node):
        return _jacobian(y, x, mode)
    return [_jacobian(y, xi, mode) for xi in x]


def hessian(cost: Node, x: Node | Sequence[Node]) -> Node | list[list[Node]]:
    """The second derivatives of a 0-d ``cost``: shape ``x.shape + x.shape``.

    For a list of variables, a nested list: ``H[i][j]`` has shape
    ``x[i].shape + x[j].shape``.
    """
    if isinstance(x, Node):
        return jacobian(grad(cost, x), x, mode="fwd" if _size(x) is not None else "auto")
    xs = list(x)
    gs = grad(cost, xs)
    return [[jacobian(g, xj) for xj in xs] for g in gs]


def hvp(cost: Node, x: Node | Sequence[Node], v: Any) -> Node | list[Node]:
    """The Hessian of a 0-d ``cost`` times ``v``, forward-over-reverse: d/dh grad(x + h v).

    ``v`` has the shape of ``x`` (a list of them for a list of variables).
    """
    g = grad(cost, x)
    if isinstance(x, Node):
        return jvp(g, x, v)
    return jvp(g, list(x), list(v))


def _jacobian(y: Node, x: Node, mode: str) -> Node:
    if not isinstance(x, Node):
        raise DiffError(f"jacobian: x must be an expression, not {type(x).__name__}")
    if mode not in ("auto", "fwd", "rev"):
        raise DiffError(f"jacobian: mode must be 'auto', 'fwd' or 'rev', not {mode!r}")
    n, m = _size(x), _size(y)
    if mode == "auto":
        if n is None and m is None:
            raise DiffError(f"jacobian: static shapes are needed (the identity it is built from "
                            f"is a constant), but y has shape {fmt_shape(y.shape)} and x "
                            f"{fmt_shape(x.shape)}; use sd.jvp or sd.vjp, or declare the "
                            f"lengths")
        mode = "rev" if n is None or (m is not None and m < n) else "fwd"
    if mode == "fwd":
        if n is None:
            raise DiffError(f"jacobian: forward mode needs x of static shape, not "
                            f"{fmt_shape(x.shape)}")
        tangent = Var(_placeholder_name("tangent"), x.shape, x.dtype)
        lines = batch(jvp(y, x, tangent), {tangent: _identity(n, x)})   # (n,) + y.shape
        jac = transpose(lines, tuple(range(1, lines.ndim)) + (0,))      # y.shape + (n,)
        return jac if x.ndim == 1 else reshape(jac, y.shape + x.shape)
    if m is None:
        raise DiffError(f"jacobian: reverse mode needs y of static shape, not "
                        f"{fmt_shape(y.shape)}")
    cotangent = Var(_placeholder_name("cotangent"), y.shape, y.dtype)
    rows = batch(vjp(y, x, cotangent), {cotangent: _identity(m, y)})    # (m,) + x.shape
    if y.ndim == 1:
        return rows
    if None in x.shape:
        if x.ndim != 1:
            raise DiffError(f"jacobian: x of shape {fmt_shape(x.shape)} needs a static shape "
                            f"here")
        return reshape(rows, y.shape + (-1,))
    return reshape(rows, y.shape + x.shape)


def _size(node: Node) -> int | None:
    return node.size


def _identity(n: int, like: Node) -> Const:
    """The rows of the n-by-n identity, each shaped like ``like``."""
    dtype = like.dtype if like.dtype.kind == "f" else np.dtype("float64")
    return Const(np.eye(n, dtype=dtype).reshape((n,) + like.shape))


def _placeholder_name(kind: str) -> str:
    # A variable that the identity replaces before anything is compiled.
    return f"__symdiff_{kind}_{next(_placeholders)}"


def _as_tangent(v: Any, like: Node) -> Node:
    return as_node(v, like)
