"""The linear algebra family: ``trace``, ``diagonal``, ``diag``, ``inv``, ``solve``,
``det``, ``logdet``, ``slogdet``, ``cholesky`` (and the structural ``diag_embed`` and
``tril`` their rules need).

Conventions of this module:

- Every op works on the last two axes; leading axes are stacks of matrices, as in
  ``np.linalg`` (so the batching rule of a one-operand op is the op itself).
  ``trace`` and ``diagonal`` take NumPy's ``axis1``/``axis2`` in their builders,
  which move those axes last.
- The derivative rules are the textbook matrix identities, written with the ops of
  this and the other families, so they differentiate again:
  d inv(A) = -inv(A) dA inv(A); d det(A) = det(A) tr(inv(A) dA);
  d logdet(A) = tr(inv(A) dA) (Petersen & Pedersen, The Matrix Cookbook, 2012,
  eqs. 40, 42, 43); the Cholesky rules are those of Murray, "Differentiation of the
  Cholesky decomposition" (2016, arXiv:1602.07527), eqs. (10) and (19).
- ``cholesky`` reads only the lower triangle of its operand, as NumPy does: its
  derivative is with respect to that triangle (the upper one has none).
- A singular matrix gives NumPy's ``numpy.linalg.LinAlgError`` at run time (a
  matrix that is not positive definite, for ``cholesky``); ``logdet`` of a singular
  matrix is ``-inf``, as ``np.linalg.slogdet`` gives.
"""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ..ir import Const, Node, broadcast_shapes, fmt_shape, make
from .contractions import matmul, matrix_transpose
from .core import P_ATOM, P_MUL, P_POW, Case, Op, call_text, float_dtype, register
from .declare import as_nodes, public
from .elementwise import add, multiply, negative, subtract
from .reductions import sum_
from .slicing import getitem
from .shape import broadcast_like, expand_dims, squeeze, transpose

# Stacks of matrices for the generic checker: square (and rectangular where allowed).
_SQUARE = (Case(((3, 3),)), Case(((2, 2, 2),)))


def _need_matrix(op: str, x: Node, square: bool = True) -> None:
    if x.ndim < 2:
        raise ShapeError(f"{op}: needs a matrix (or a stack of them), not an operand of "
                         f"shape {fmt_shape(x.shape)}")
    m, n = x.shape[-2:]
    if square and m is not None and n is not None and m != n:
        raise ShapeError(f"{op}: needs a square matrix, not one of shape {fmt_shape(x.shape)}")


def _square_infer(op: str, out_shape):
    def infer(inputs, attrs):
        (x,) = inputs
        _need_matrix(op, x)
        return float_dtype(x.dtype), out_shape(x.shape)
    return infer


def _mat(x: Node) -> Node:
    """A (stack of) 0-d values as 1x1 matrices, to scale matrices."""
    if x.ndim == 0:
        return x
    return expand_dims(x, (x.ndim, x.ndim + 1))


def _square_cases(*domain):
    return dict(cases=_SQUARE, domain=domain)


def _latex_call(macro: str):
    def latex(node, child):
        return rf"{macro}\left({child(node.inputs[0], 0)}\right)", P_ATOM
    return latex


def _same(x):
    return x


def _batch_unary(args, batched, node):
    # The op already maps over leading axes.
    return make(node.op, args, node.attrs)


# -- structure: diagonal, diag_embed, tril, trace ------------------------------------

def _diag_len(shape):
    m, n = shape[-2:]
    return min(m, n) if m is not None and n is not None else (m if m is not None else n)


# The diagonal over the last two axes (a copy: np.diagonal's view is read-only).
_diagonal = register(Op(
    name="diagonal", impl=lambda x: np.diagonal(x, 0, -2, -1).copy(),
    infer=_square_infer("diagonal", lambda s: s[:-2] + (s[-1] if s[-1] is not None
                                                        else s[-2],)),
    code=lambda args, node: f"np.diagonal({args[0]}, 0, -2, -1).copy()",
    vjp=lambda g, node: (diag_embed(g),),
    jvp=lambda t, node: _diagonal_last(t[0]),
    batch=_batch_unary,
    text=lambda n, c: (f"diagonal({c(n.inputs[0], 0)}, 0, -2, -1)" if n.inputs[0].ndim > 2
                       else f"diagonal({c(n.inputs[0], 0)})", P_ATOM),
    latex=_latex_call(r"\operatorname{diag}"), **_square_cases()))


def _diag_embed(d):
    """Square matrices with diagonal ``d`` (over its last axis), zeros elsewhere."""
    d = np.asarray(d)
    out = np.zeros(d.shape + d.shape[-1:], np.result_type(d.dtype, np.float64))
    np.einsum("...ii->...i", out)[...] = d
    return out


def _infer_diag_embed(inputs, attrs):
    (d,) = inputs
    if d.ndim < 1:
        raise ShapeError("diag: needs a vector (or a stack of them), not a 0-d operand")
    return float_dtype(d.dtype), d.shape + d.shape[-1:]


# The matrix whose diagonal is d (over the last axis: a stack of them); zeros elsewhere.
_diag_embed_op = register(Op(
    name="diag_embed", impl=_diag_embed, infer=_infer_diag_embed,
    code=lambda args, node: f"_diag_embed({args[0]})", helpers=(_diag_embed,),
    vjp=lambda g, node: (_diagonal_last(g),),
    jvp=lambda t, node: diag_embed(t[0]),
    batch=_batch_unary,
    text=lambda n, c: (f"diag({c(n.inputs[0], 0)})" if n.inputs[0].ndim == 1
                       else f"diag_embed({c(n.inputs[0], 0)})", P_ATOM),
    latex=_latex_call(r"\operatorname{diag}"),
    cases=(Case(((3,),)), Case(((2, 3),)))))


def _infer_tril(inputs, attrs):
    (x,) = inputs
    _need_matrix("tril", x, square=False)
    return x.dtype, x.shape


_tril = register(Op(
    name="tril", impl=lambda x, k: np.tril(x, k), infer=_infer_tril,
    code=lambda args, node: f"np.tril({args[0]}, {node.attr('k')})",
    vjp=lambda g, node: (tril(g, node.attr("k")),),
    jvp=lambda t, node: tril(t[0], node.attr("k")),
    batch=_batch_unary,
    text=lambda n, c: (f"tril({c(n.inputs[0], 0)}, {n.attr('k')})" if n.attr("k")
                       else f"tril({c(n.inputs[0], 0)})", P_ATOM),
    latex=_latex_call(r"\operatorname{tril}"),
    cases=(Case(((3, 3),), {"k": 0}), Case(((2, 3, 2),), {"k": -1}))))


def _identity(x: Node) -> Node:
    """The identity matrix of the size of the (square) matrices in ``x``: a constant
    when the size is known, else a diagonal of ones built at run time."""
    n = x.shape[-1]
    if n is not None and x.shape[-2] == n:
        return Const(np.eye(n), float_dtype(x.dtype))
    return diag_embed(broadcast_like(Const(1.0, float_dtype(x.dtype)), _diagonal_last(x)))


def _trace_vjp(g, node):
    # d tr(X) = tr(dX): the adjoint is g I (Cookbook eq. 99).
    return (multiply(_mat(g), _identity(node.inputs[0])),)


_trace = register(Op(
    name="trace", impl=lambda x: np.trace(x, 0, -2, -1),
    infer=_square_infer("trace", lambda s: s[:-2]),
    code=lambda args, node: (f"np.trace({args[0]})" if node.inputs[0].ndim == 2
                             else f"np.trace({args[0]}, 0, -2, -1)"),
    vjp=_trace_vjp, jvp=lambda t, node: make(_trace, [t[0]]),
    batch=_batch_unary,
    text=lambda n, c: (f"trace({c(n.inputs[0], 0)})" if n.inputs[0].ndim == 2
                       else f"trace({c(n.inputs[0], 0)}, 0, -2, -1)", P_ATOM),
    latex=_latex_call(r"\operatorname{tr}"), **_square_cases()))


def _diagonal_last(x: Node) -> Node:
    return make(_diagonal, [x])


def _trace_last(x: Node) -> Node:
    return make(_trace, [x])


def _last_two(x: Node, axis1: int, axis2: int, op: str) -> Node:
    """``x`` with its axes ``axis1`` and ``axis2`` moved last (NumPy's order)."""
    if x.ndim < 2:
        raise ShapeError(f"{op}: needs an operand of at least 2 dimensions, not shape "
                         f"{fmt_shape(x.shape)}")
    a1, a2 = axis1 % x.ndim, axis2 % x.ndim
    if a1 == a2:
        raise ShapeError(f"{op}: axis1 and axis2 cannot be the same")
    if (a1, a2) != (x.ndim - 2, x.ndim - 1):
        rest = tuple(i for i in range(x.ndim) if i not in (a1, a2))
        x = transpose(x, rest + (a1, a2))
    m, n = x.shape[-2:]
    if m is not None and n is not None and m != n:
        # A rectangular matrix: its diagonal is that of its leading square block.
        k = min(m, n)
        x = getitem(x, (Ellipsis, slice(0, k), slice(0, k)))
    return x


@public("trace")
def trace(x, offset: int = 0, axis1: int = 0, axis2: int = 1):
    """``np.trace`` (offset 0), of stacks over ``axis1, axis2`` too. A rectangular
    matrix must have a known shape."""
    (x,) = as_nodes([x])
    if offset != 0:
        raise ShapeError("trace: only offset=0 is supported")
    return make(_trace, [_last_two(x, axis1, axis2, "trace")])


@public("diagonal")
def diagonal(x, offset: int = 0, axis1: int = 0, axis2: int = 1):
    """``np.diagonal`` (offset 0; over ``axis1, axis2``). A rectangular matrix must have
    a known shape."""
    (x,) = as_nodes([x])
    if offset != 0:
        raise ShapeError("diagonal: only offset=0 is supported")
    return make(_diagonal, [_last_two(x, axis1, axis2, "diagonal")])


@public("diag_embed")
def diag_embed(d):
    """The (stack of) square matrices with diagonal ``d`` (its last axis)."""
    (d,) = as_nodes([d])
    return make(_diag_embed_op, [d])


@public("diag")
def diag(v, k: int = 0):
    """``np.diag``: the diagonal matrix of a vector, or the diagonal of a matrix."""
    (v,) = as_nodes([v])
    if k != 0:
        raise ShapeError("diag: only k=0 is supported")
    if v.ndim == 1:
        return diag_embed(v)
    if v.ndim == 2:
        return diagonal(v)
    raise ShapeError(f"diag: needs a vector or a matrix, not shape {fmt_shape(v.shape)}")


@public("tril")
def tril(x, k: int = 0):
    (x,) = as_nodes([x])
    if k not in (0, -1):
        raise ShapeError("tril: only k=0 and k=-1 are supported")
    return make(_tril, [x], {"k": int(k)})


# -- inverse and solve -----------------------------------------------------------

# d inv(A) = -inv(A) dA inv(A) (Cookbook eq. 40); the adjoint: -inv(A).T g inv(A).T.
_inv = register(Op(
    name="inv", impl=np.linalg.inv, infer=_square_infer("inv", _same),
    code=lambda args, node: f"np.linalg.inv({args[0]})",
    vjp=lambda g, node: (negative(matmul(matmul(matrix_transpose(node), g),
                                         matrix_transpose(node))),),
    jvp=lambda t, node: negative(matmul(matmul(node, t[0]), node)),
    batch=_batch_unary,
    text=call_text("inv"),
    latex=lambda n, c: (f"{c(n.inputs[0], P_POW + 1)}^{{-1}}", P_POW),
    blows_up=True, **_square_cases("invertible")))


@public("inv")
def inv(a):
    """``np.linalg.inv``; a singular matrix raises ``numpy.linalg.LinAlgError``."""
    (a,) = as_nodes([a])
    return make(_inv, [a])


def _infer_solve(inputs, attrs):
    a, b = inputs
    _need_matrix("solve", a)
    n = a.shape[-1]
    if b.ndim == 1:           # NumPy 2: a 1-d b is one right-hand side
        k, batch = b.shape[0], a.shape[:-2]
        shape = batch + (n if n is not None else k,)
    elif b.ndim >= 2:
        k = b.shape[-2]
        batch = broadcast_shapes(a.shape[:-2], b.shape[:-2], op="solve")
        shape = batch + (n if n is not None else k, b.shape[-1])
    else:
        raise ShapeError("solve: the right-hand side must be a vector or a matrix, not 0-d")
    if n is not None and k is not None and n != k:
        raise ShapeError(f"solve: the right-hand side has {k} rows for a {n}x{n} matrix "
                         f"(operand shapes {fmt_shape(a.shape)} and {fmt_shape(b.shape)})")
    return float_dtype(a.dtype, b.dtype), shape


def _solve_vec(a: Node, v: Node) -> Node:
    """``inv(a) v`` for a (stack of) vector(s) ``v``: NumPy 2 reads a right-hand side
    of more than one dimension as a matrix, so a stack of vectors becomes columns."""
    if v.ndim == 1:
        return solve(a, v)
    out = solve(a, expand_dims(v, (v.ndim,)))
    return squeeze(out, (out.ndim - 1,))


def _solve_vjp(g, node):
    # X = inv(A) B: gB = inv(A).T g, gA = -gB X.T (Cookbook eq. 40 applied to B).
    a, b = node.inputs
    if b.ndim == 1:
        gb = _solve_vec(matrix_transpose(a), g)
        ga = negative(multiply(expand_dims(gb, (gb.ndim,)), expand_dims(node, (node.ndim - 1,))))
    else:
        gb = solve(matrix_transpose(a), g)
        ga = negative(matmul(gb, matrix_transpose(node)))
    return ga, gb


def _solve_jvp(t, node):
    a, b = node.inputs
    ta, tb = t
    if ta is not None:
        x = node if b.ndim >= 2 else expand_dims(node, (node.ndim,))
        tax = matmul(ta, x)
        if b.ndim == 1:
            tax = squeeze(tax, (tax.ndim - 1,))
        tb = negative(tax) if tb is None else subtract(tb, tax)
    return _solve_vec(a, tb) if b.ndim == 1 else solve(a, tb)


def _batch_solve(args, batched, node):
    a, b = args
    a0, b0 = node.inputs
    if b0.ndim == 1 and batched[1] and a0.ndim > 2:
        # (B, n) against a stack (S.., n, n): give b the stack's axes to broadcast over.
        b = expand_dims(b, tuple(range(1, a0.ndim - 1)))
    return _solve_vec(a, b) if b0.ndim == 1 else solve(a, b)


_solve = register(Op(
    name="solve", impl=np.linalg.solve, infer=_infer_solve,
    code=lambda args, node: f"np.linalg.solve({args[0]}, {args[1]})",
    vjp=_solve_vjp, jvp=_solve_jvp, batch=_batch_solve,
    text=call_text("solve"),
    latex=lambda n, c: (f"{c(n.inputs[0], P_POW + 1)}^{{-1}} {c(n.inputs[1], P_MUL + 1)}",
                        P_MUL),
    blows_up=True, domain=("invertible", (-2.0, 2.0)),
    cases=(Case(((3, 3), (3,))), Case(((3, 3), (3, 2))), Case(((2, 2, 2), (2, 2, 3))),
           Case(((2, 2, 2), (2,))))))


@public("solve")
def solve(a, b):
    """``np.linalg.solve(a, b)``; a 1-d ``b`` is one right-hand side (NumPy 2)."""
    a, b = as_nodes([a, b])
    return make(_solve, [a, b])


# -- determinants ------------------------------------------------------------------

def _inv_t(a: Node) -> Node:
    return matrix_transpose(inv(a))


# d det(A) = det(A) tr(inv(A) dA) (Cookbook eq. 42): the adjoint g det(A) inv(A).T.
_det = register(Op(
    name="det", impl=np.linalg.det, infer=_square_infer("det", lambda s: s[:-2]),
    code=lambda args, node: f"np.linalg.det({args[0]})",
    vjp=lambda g, node: (multiply(_mat(multiply(g, node)), _inv_t(node.inputs[0])),),
    jvp=lambda t, node: multiply(node, _trace_last(solve(node.inputs[0], t[0]))),
    batch=_batch_unary, text=call_text("det"),
    latex=lambda n, c: (rf"\left|{c(n.inputs[0], 0)}\right|", P_ATOM),
    blows_up=True, **_square_cases("invertible")))


def _logdet_impl(a):
    return np.linalg.slogdet(a)[1]


# d log|det A| = tr(inv(A) dA) (Cookbook eq. 43): the adjoint g inv(A).T.
_logdet = register(Op(
    name="logdet", impl=_logdet_impl, infer=_square_infer("logdet", lambda s: s[:-2]),
    code=lambda args, node: f"np.linalg.slogdet({args[0]})[1]",
    vjp=lambda g, node: (multiply(_mat(g), _inv_t(node.inputs[0])),),
    jvp=lambda t, node: _trace_last(solve(node.inputs[0], t[0])),
    batch=_batch_unary, text=call_text("logdet"),
    latex=lambda n, c: (rf"\log\left|{c(n.inputs[0], 0)}\right|", P_ATOM),
    blows_up=True, **_square_cases("invertible")))


_slogdet_sign = register(Op(
    name="slogdet_sign", impl=lambda a: np.linalg.slogdet(a)[0],
    infer=_square_infer("slogdet", lambda s: s[:-2]),
    code=lambda args, node: f"np.linalg.slogdet({args[0]})[0]",
    batch=_batch_unary, text=call_text("slogdet_sign"),
    latex=lambda n, c: (rf"\operatorname{{sign}}\left|{c(n.inputs[0], 0)}\right|", P_ATOM),
    differentiable=False, **_square_cases("invertible")))


@public("det")
def det(a):
    (a,) = as_nodes([a])
    return make(_det, [a])


@public("logdet")
def logdet(a):
    """``log|det(a)|``, computed as ``np.linalg.slogdet(a)[1]`` (no overflow)."""
    (a,) = as_nodes([a])
    return make(_logdet, [a])


@public("slogdet")
def slogdet(a):
    """``np.linalg.slogdet``: ``(sign, logabsdet)``; the sign has derivative 0."""
    (a,) = as_nodes([a])
    return make(_slogdet_sign, [a]), make(_logdet, [a])


# -- Cholesky ------------------------------------------------------------------------

def _phi(x: Node) -> Node:
    """Murray's Phi: the lower triangle with its diagonal halved."""
    return subtract(tril(x), multiply(0.5, diag_embed(_diagonal_last(x))))


def _cholesky_jvp(t, node):
    # dL = L Phi(inv(L) dS inv(L).T) (Murray 2016, eq. 10), dS the symmetric matrix
    # whose lower triangle is that of dA (NumPy reads only the lower triangle).
    (ta,) = t
    ds = add(tril(ta), matrix_transpose(tril(ta, -1)))
    inner = solve(node, matrix_transpose(solve(node, ds)))   # inv(L) dS inv(L).T
    return matmul(node, _phi(inner))


def _cholesky_vjp(g, node):
    # P = inv(L).T Phi(L.T g) inv(L) (Murray 2016, eq. 19, before symmetrizing); the
    # adjoint of the lower triangle is Phi(P + P.T).
    lt = matrix_transpose(node)
    z = solve(lt, _phi(matmul(lt, g)))
    p = matrix_transpose(solve(lt, matrix_transpose(z)))
    return (_phi(add(p, matrix_transpose(p))),)


_cholesky = register(Op(
    name="cholesky", impl=np.linalg.cholesky, infer=_square_infer("cholesky", _same),
    code=lambda args, node: f"np.linalg.cholesky({args[0]})",
    vjp=_cholesky_vjp, jvp=_cholesky_jvp, batch=_batch_unary,
    text=call_text("cholesky"),
    latex=_latex_call(r"\operatorname{chol}"), blows_up=True, **_square_cases("spd")))


@public("cholesky")
def cholesky(a):
    """``np.linalg.cholesky``: the lower factor; a matrix that is not positive definite
    raises ``numpy.linalg.LinAlgError``."""
    (a,) = as_nodes([a])
    return make(_cholesky, [a])
