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
- The identity is a constant when its size is static (and it is not huge); when a
  length is unknown it is built at run time (``eye_like``), so Jacobians and
  Hessians work with unknown lengths too (for ``"auto"``, a mode whose batch size
  is static is preferred).
- For vectors ``y`` and ``x`` (modes ``"fwd"`` and ``"auto"``), the JVP graph is first
  read as a few diagonals (``symdiff.banded``): when ``y`` is made of elementwise ops
  on shifted slices of ``x`` (a chain, a stencil, Rosenbrock's gradient) the Jacobian
  is banded, each op stays a few length-n vectors and the n x n result is written
  once. Other graphs take the batched path above.
- ``hvp(cost, x, v)`` is forward-over-reverse, ``jvp(grad(cost, x), x, v)``: a small
  constant multiple of the gradient's cost, and no Hessian is ever formed.
"""
from __future__ import annotations

import itertools
from typing import Any, Sequence

import numpy as np

from .arguments import expressions, expressions_only
from .autodiff import grad, jvp, vjp
from .banded import banded_jacobian
from .batching import batch
from .errors import DiffError
from .ir import Const, Node, Var, make
from .ops import OPS
from .ops.elementwise import add
from .ops.shape import expand_dims, eye_like, reshape, transpose, zeros_like

__all__ = ["jacobian", "hessian", "hvp"]

_placeholders = itertools.count()


@expressions_only
def jacobian(y: Node, x: Node | Sequence[Node], *, mode: str = "auto") -> Node | list[Node]:
    """d y / d x as an expression of shape ``y.shape + x.shape`` (a list for a list of x).

    ``mode`` is ``"fwd"`` (batched ``jvp`` over the inputs), ``"rev"`` (batched ``vjp``
    over the outputs) or ``"auto"``: the one with the smaller batch.
    """
    if not isinstance(y, Node):
        raise DiffError(f"jacobian: y must be an expression, not {type(y).__name__}")
    if y.dtype.kind != "f":
        raise DiffError(f"jacobian: y has dtype {y.dtype}; only floating-point results "
                        f"are differentiable")
    xs, single = expressions(x, "jacobian", "x")
    jacobians = [_jacobian(y, xi, mode) for xi in xs]
    return jacobians[0] if single else jacobians


@expressions_only
def hessian(cost: Node, x: Node | Sequence[Node]) -> Node | list[list[Node]]:
    """The second derivatives of a 0-d ``cost``: shape ``x.shape + x.shape``.

    For a list of variables, a nested list: ``H[i][j]`` has shape
    ``x[i].shape + x[j].shape``.
    """
    _check_cost(cost, "hessian")
    xs, single = expressions(x, "hessian", "x")
    if single:
        return jacobian(grad(cost, x), x, mode="fwd")
    gs = grad(cost, xs)
    return [[jacobian(g, xj, mode="fwd") for xj in xs] for g in gs]


@expressions_only
def hvp(cost: Node, x: Node | Sequence[Node], v: Any) -> Node | list[Node]:
    """The Hessian of a 0-d ``cost`` times ``v``, forward-over-reverse: d/dh grad(x + h v).

    ``v`` has the shape of ``x`` (a list of them for a list of variables).
    """
    _check_cost(cost, "hvp")
    xs, single = expressions(x, "hvp", "x")
    if single:
        return jvp(grad(cost, x), x, v)
    if not isinstance(v, (list, tuple)):
        raise DiffError(f"hvp: x is a list of {len(xs)} variables, so v must be a list of "
                        f"as many values, got {type(v).__name__}")
    return jvp(grad(cost, xs), xs, list(v))


def _check_cost(cost: Any, fn: str) -> None:
    if not isinstance(cost, Node):
        raise DiffError(f"{fn}: the cost must be an expression, got {type(cost).__name__}")


def _jacobian(y: Node, x: Node, mode: str) -> Node:
    if mode not in ("auto", "fwd", "rev"):
        raise DiffError(f"jacobian: mode must be 'auto', 'fwd' or 'rev', not {mode!r}")
    n, m = x.size, y.size
    lin = None
    if mode != "rev" and y.ndim == 1 and x.ndim == 1:
        # Vectors made of (shifted) slices of x: a few diagonals, O(n) per op.
        tangent = Var(_placeholder_name("tangent"), x.shape, x.dtype)
        lin = jvp(y, x, tangent)
        jac = banded_jacobian(lin, tangent, x)
        if jac is not None:
            return jac
    if mode == "auto":
        # The smaller batch; a batch of unknown size only when both are unknown.
        mode = "rev" if m is not None and (n is None or m < n) else "fwd"
    if mode == "fwd":
        if lin is None:
            tangent = Var(_placeholder_name("tangent"), x.shape, x.dtype)
            lin = jvp(y, x, tangent)
        lines = batch(lin, {tangent: _identity(x)})                    # (n,) + y.shape
        jac = transpose(lines, tuple(range(1, lines.ndim)) + (0,))      # y.shape + (n,)
        return jac if x.ndim == 1 else _reshape(jac, y, x)
    cotangent = Var(_placeholder_name("cotangent"), y.shape, y.dtype)
    rows = batch(vjp(y, x, cotangent), {cotangent: _identity(y)})      # (m,) + x.shape
    return rows if y.ndim == 1 else _reshape(rows, y, x)


# Identities with more elements than this are built at run time rather than kept as a
# constant in the graph (and in every compiled function): 8 MB of float64.
CONST_IDENTITY_LIMIT = 1 << 20


def _identity(like: Node) -> Node:
    """The rows of the identity of size ``like.size``, each shaped like ``like``: a
    constant when the size is static and small, built at run time otherwise."""
    if like.size is None or like.size ** 2 > CONST_IDENTITY_LIMIT:
        return eye_like(like)
    dtype = like.dtype if like.dtype.kind == "f" else np.dtype("float64")
    return Const(np.eye(like.size, dtype=dtype).reshape((like.size,) + like.shape))


def _reshape(jac: Node, y: Node, x: Node) -> Node:
    """A Jacobian with its y or x axes flattened, reshaped to ``y.shape + x.shape``."""
    shape = y.shape + x.shape
    if shape.count(None) == 0:
        return reshape(jac, shape)
    if shape.count(None) == 1:
        return reshape(jac, tuple(-1 if d is None else d for d in shape))
    # Several unknown lengths: take them from a reference of the right shape.
    ref = add(expand_dims(zeros_like(y), tuple(range(y.ndim, y.ndim + x.ndim))),
              zeros_like(x))
    return make(OPS["reshape_like"], [jac, ref])


def _placeholder_name(kind: str) -> str:
    # A variable that the identity replaces before anything is compiled.
    return f"__symdiff_{kind}_{next(_placeholders)}"
