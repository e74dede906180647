"""The singular value decomposition: ``svdvals`` (the singular values) and the two
factors ``svd_u`` and ``svd_vh`` of the reduced SVD, with the public builders
``svdvals`` and ``svd`` (``np.linalg.svd``'s results as a tuple).

Conventions of this module:

- For a (stack of) m x n matrix ``A`` and k = min(m, n), NumPy's reduced SVD
  ``U, s, Vh = np.linalg.svd(A, full_matrices=False)`` gives ``U`` (m x k), ``s``
  (k, descending, >= 0) and ``Vh`` (k x n) with ``A = U diag(s) Vh``; leading axes are
  stacks, as in ``np.linalg``. Each op computes its part by that call, so the three
  parts of one matrix are those of one decomposition (LAPACK is deterministic).
- The signs of the singular vectors are NumPy's: column i of ``U`` and row i of ``Vh``
  may both be negated. Every derivative rule below is invariant under that joint
  flip, and so is every quantity the norms use (``U diag(g) Vh``).
- The derivative rules are those of Townsend, "Differentiating the Singular Value
  Decomposition" (2016), for the reduced SVD (also Giles, "An extended collection of
  matrix derivative results for forward and reverse mode AD", 2008, for the square
  case): with F_ij = 1/(s_j^2 - s_i^2) off the diagonal and 0 on it, and dP = U^T dA V,
    ds  = diag(dP),
    dU  = U (F o (dP S + S dP^T)) + (I - U U^T) dA V S^-1,
    dV  = V (F o (S dP + dP^T S)) + (I - V V^T) dA^T U S^-1,
  and the adjoint
    A_bar = U [(F o (U^T U_bar - U_bar^T U)) S + diag(s_bar)
               + S (F o (V^T V_bar - V_bar^T V))] V^T
            + (I - U U^T) U_bar S^-1 V^T + U S^-1 V_bar^T (I - V V^T).
  Each op carries its own share of that sum. The (I - U U^T) terms vanish when ``U``
  is square (m <= n) and the (I - V V^T) ones when ``V`` is (n <= m); they are left
  out when the shape says so.
- Repeated singular values: the derivatives of ``U`` and ``Vh`` are not defined there,
  and F is nan where two singular values are equal to within ``TIE_EPS`` roundings
  (their squares, relative to the largest), so those derivatives, and the second derivatives of the
  norms, come out nan rather than a number made of rounding errors. The adjoint
  ``U diag(g) Vh`` of ``svdvals`` needs no F: the nuclear norm's gradient ``U Vh`` is
  right at ties, and the spectral norm's ``u_1 v_1^T`` is one of its subgradients
  there. Nearly repeated values (apart by more than that) give large, correct
  but ill-conditioned derivatives of the vectors. A zero singular value of a
  rectangular matrix (S^-1) gives inf or nan in the derivatives of the vectors.
- Backends: the Numba backend leaves these ops as NumPy (LAPACK) calls between its
  compiled regions; the portable variant calls ``xp.linalg.svdvals`` and
  ``xp.linalg.svd`` (the Array API's linalg extension), whose singular vectors have
  that library's signs. Each op makes its own LAPACK call: a gradient of a norm
  computes the decomposition three times (values, ``U``, ``Vh``).
"""
from __future__ import annotations

import numpy as np

from .. import portable_runtime
from ..errors import DiffError, ShapeError
from ..ir import Const, Node, fmt_shape, make
from .contractions import matmul, matrix_transpose, outer
from .core import P_ATOM, Case, Op, call_text, float_dtype, register
from .declare import as_nodes, public
from .elementwise import (absolute, add, divide, less_equal, multiply, negative, square,
                          subtract, where)
from .portable import Portable
from .reductions import sum_
from .shape import expand_dims, eye_like
from .slicing import getitem

# Stacks of matrices for the generic checker, square and both kinds of rectangle; the
# domain "separated" gives singular values k, k-1, ..., 1 (well apart, none zero).
_CASES = (Case(((3, 3),)), Case(((4, 2),)), Case(((2, 2, 3),)))


def _need_matrix(op: str, a: Node) -> None:
    if a.ndim < 2:
        raise ShapeError(f"{op}: needs a matrix (or a stack of them), not an operand of "
                         f"shape {fmt_shape(a.shape)}")


def _batch_unary(args, batched, node):
    # The op already maps over leading axes.
    return make(node.op, args, node.attrs)


def _k(m, n):
    return min(m, n) if m is not None and n is not None else None


def _infer(part: str):
    def infer(inputs, attrs):
        (a,) = inputs
        _need_matrix(part, a)
        m, n = a.shape[-2:]
        k, batch = _k(m, n), a.shape[:-2]
        shape = {"svdvals": batch + (k,), "svd_u": batch + (m, k),
                 "svd_vh": batch + (k, n)}[part]
        return float_dtype(a.dtype), shape
    return infer


def _latex(macro: str):
    def latex(node, child):
        return rf"{macro}\left({child(node.inputs[0], 0)}\right)", P_ATOM
    return latex


def _svdvals_impl(a):
    return np.linalg.svd(a, compute_uv=False)


def _svd_u_impl(a):
    return np.linalg.svd(a, full_matrices=False)[0]


def _svd_vh_impl(a):
    return np.linalg.svd(a, full_matrices=False)[2]


# -- helpers of the rules ----------------------------------------------------------

def _parts(a: Node) -> tuple[Node, Node, Node]:
    return make(_svd_u, [a]), make(_svdvals, [a]), make(_svd_vh, [a])


def _cols(s: Node) -> Node:
    """``s`` as a row (..., 1, k): ``X * _cols(s)`` is X S (scales the columns)."""
    return expand_dims(s, (s.ndim - 1,))


def _rows(s: Node) -> Node:
    """``s`` as a column (..., k, 1): ``_rows(s) * X`` is S X (scales the rows)."""
    return expand_dims(s, (s.ndim,))


# Two singular values whose squares differ by less than TIE_EPS machine epsilons of
# their dtype, relative to the largest square, are taken as one repeated value: a
# repeated singular value comes out of LAPACK as values a few roundings apart, and
# 1/(s_j^2 - s_i^2) would then be a huge finite number made of rounding errors
# (float64: about 1e-12; float32: about 5e-4).
TIE_EPS = 4096


def _f_matrix(s: Node) -> Node:
    """F_ij = 1/(s_j^2 - s_i^2) for i != j, 0 on the diagonal; nan where two singular
    values are tied (to ``TIE_EPS``), where the singular vectors have no derivative."""
    s2 = square(s)
    d = subtract(_cols(s2), _rows(s2))
    eye = _eye(s)
    largest = expand_dims(getitem(s2, (Ellipsis, 0)), (s2.ndim - 1, s2.ndim))
    # the diagonal's gap is the largest square itself, never a tie (unless A = 0)
    gap = add(absolute(d), multiply(eye, largest))
    rtol = TIE_EPS * float(np.finfo(s.dtype).eps)
    tied = less_equal(gap, multiply(rtol, largest))
    # (the inner where keeps an exact tie from dividing by zero, and warning)
    return where(tied, np.nan, divide(subtract(1.0, eye), where(tied, 1.0, add(d, eye))))


def _eye(s: Node) -> Node:
    """The k x k identity for singular values ``s`` (..., k): a constant when k is
    known, else built at run time from a vector of length k (a form every printer has;
    summed over the stack rather than indexed, so that an empty stack works)."""
    k = s.shape[-1]
    if k is not None:
        return Const(np.eye(k), s.dtype)
    return eye_like(sum_(s, axis=tuple(range(s.ndim - 1))) if s.ndim > 1 else s)


def _u_is_square(a: Node) -> bool:
    m, n = a.shape[-2:]
    return m is not None and n is not None and m <= n


def _v_is_square(a: Node) -> bool:
    m, n = a.shape[-2:]
    return m is not None and n is not None and n <= m


# -- singular values ---------------------------------------------------------------

def _one_value(g: Node, s: Node) -> tuple[Node, int] | None:
    """``(value, i)`` when the adjoint ``g`` is ``value`` at ``s[..., i]`` and zero
    elsewhere (the adjoint of one singular value, as in the norms 2 and -2)."""
    if g.op.name != "embed" or g.inputs[1] is not s:
        return None
    index = g.attr("index")
    whole = ("slice", None, None, None)
    if (len(index) != s.ndim or not isinstance(index[-1], int)
            or any(i != whole for i in index[:-1])):
        return None
    return g.inputs[0], index[-1]


def _svdvals_vjp(g, node):
    # d s_i = u_i^T dA v_i: the adjoint U diag(g) Vh (Townsend 2016, eq. for S_bar);
    # for one singular value, the outer product g_i u_i v_i^T (its matrix form).
    a = node.inputs[0]
    u, _, vh = _parts(a)
    one = _one_value(g, node)
    if one is None:
        return (matmul(multiply(u, _cols(g)), vh),)
    value, i = one
    ui, vi = getitem(u, (Ellipsis, slice(None), i)), getitem(vh, (Ellipsis, i, slice(None)))
    if a.ndim == 2:
        return (multiply(value, outer(ui, vi)),)
    product = multiply(expand_dims(ui, (ui.ndim,)), expand_dims(vi, (vi.ndim - 1,)))
    return (multiply(expand_dims(value, (value.ndim, value.ndim + 1)), product),)


def _svdvals_jvp(t, node):
    u, _, vh = _parts(node.inputs[0])
    return sum_(multiply(u, matmul(t[0], matrix_transpose(vh))), axis=-2)


_svdvals = register(Op(
    name="svdvals", impl=_svdvals_impl, infer=_infer("svdvals"),
    code=lambda args, node: f"np.linalg.svd({args[0]}, compute_uv=False)",
    vjp=_svdvals_vjp, jvp=_svdvals_jvp, batch=_batch_unary,
    text=call_text("svdvals"), latex=_latex(r"\operatorname{svdvals}"),
    portable=Portable(lambda a, n: f"xp.linalg.svdvals({a[0]})"),
    domain=("separated",), cases=_CASES))


# -- the singular vectors ------------------------------------------------------------

def _svd_u_vjp(g, node):
    # A_bar = U (F o (U^T g - g^T U)) S V^T + (I - U U^T) g S^-1 V^T
    a = node.inputs[0]
    u, s, vh = _parts(a)
    utg = matmul(matrix_transpose(u), g)
    left = matmul(u, multiply(multiply(_f_matrix(s), subtract(utg, matrix_transpose(utg))),
                              _cols(s)))
    if not _u_is_square(a):
        left = add(left, divide(subtract(g, matmul(u, utg)), _cols(s)))
    return (matmul(left, vh),)


def _svd_u_jvp(t, node):
    # dU = U (F o (dP S + S dP^T)) + (I - U U^T) dA V S^-1
    a = node.inputs[0]
    u, s, vh = _parts(a)
    av = matmul(t[0], matrix_transpose(vh))
    dp = matmul(matrix_transpose(u), av)
    sym = add(multiply(dp, _cols(s)), multiply(_rows(s), matrix_transpose(dp)))
    out = matmul(u, multiply(_f_matrix(s), sym))
    if not _u_is_square(a):
        out = add(out, divide(subtract(av, matmul(u, dp)), _cols(s)))
    return out


_svd_u = register(Op(
    name="svd_u", impl=_svd_u_impl, infer=_infer("svd_u"),
    code=lambda args, node: f"np.linalg.svd({args[0]}, full_matrices=False)[0]",
    vjp=_svd_u_vjp, jvp=_svd_u_jvp, batch=_batch_unary,
    text=call_text("svd_u"), latex=_latex(r"\operatorname{svd}_{U}"),
    portable=Portable(lambda a, n: f"xp.linalg.svd({a[0]}, full_matrices=False)[0]"),
    domain=("separated",), cases=_CASES))


def _svd_vh_vjp(g, node):
    # With V_bar = g^T: A_bar = U S (F o (V^T V_bar - V_bar^T V)) V^T
    #                           + U S^-1 V_bar^T (I - V V^T)
    a = node.inputs[0]
    u, s, vh = _parts(a)
    w = matmul(vh, matrix_transpose(g))                  # V^T V_bar
    right = matmul(multiply(_rows(s), multiply(_f_matrix(s), subtract(w, matrix_transpose(w)))),
                   vh)
    if not _v_is_square(a):
        right = add(right, divide(subtract(g, matmul(matrix_transpose(w), vh)), _rows(s)))
    return (matmul(u, right),)


def _svd_vh_jvp(t, node):
    # dVh = dV^T = -(F o (S dP + dP^T S)) Vh + S^-1 (U^T dA - dP Vh)
    a = node.inputs[0]
    u, s, vh = _parts(a)
    ua = matmul(matrix_transpose(u), t[0])
    dp = matmul(ua, matrix_transpose(vh))
    sym = add(multiply(_rows(s), dp), multiply(matrix_transpose(dp), _cols(s)))
    out = negative(matmul(multiply(_f_matrix(s), sym), vh))
    if not _v_is_square(a):
        out = add(out, divide(subtract(ua, matmul(dp, vh)), _rows(s)))
    return out


_svd_vh = register(Op(
    name="svd_vh", impl=_svd_vh_impl, infer=_infer("svd_vh"),
    code=lambda args, node: f"np.linalg.svd({args[0]}, full_matrices=False)[2]",
    vjp=_svd_vh_vjp, jvp=_svd_vh_jvp, batch=_batch_unary,
    text=call_text("svd_vh"), latex=_latex(r"\operatorname{svd}_{V^{\top}}"),
    portable=Portable(lambda a, n: f"xp.linalg.svd({a[0]}, full_matrices=False)[2]"),
    domain=("separated",), cases=_CASES))


# -- one decomposition for all three (code generation) ------------------------------

def _svd_packed(a):
    """The reduced SVD of ``a`` in one array (..., 1 + m + n, k): the singular values as
    the first row, then the rows of U, then those of V (Vh transposed)."""
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    return np.concatenate([s[..., None, :], u, np.swapaxes(vh, -1, -2)], axis=-2)


def _infer_packed(inputs, attrs):
    (a,) = inputs
    _need_matrix("svd_packed", a)
    m, n = a.shape[-2:]
    rows = 1 + m + n if m is not None and n is not None else None
    return float_dtype(a.dtype), a.shape[:-2] + (rows, _k(m, n))


# Not for users: code generation computes svdvals, svd_u and svd_vh of one matrix as
# slices of this one LAPACK call (symdiff/codegen/shared_svd.py), after differentiation.
_svd_packed_op = register(Op(
    name="svd_packed", impl=_svd_packed, infer=_infer_packed,
    code=lambda args, node: f"_svd_packed({args[0]})", helpers=(_svd_packed,),
    batch=_batch_unary, text=call_text("svd_packed"),
    latex=_latex(r"\operatorname{svd}"), differentiable=False,
    portable=Portable(lambda a, n: f"_xp_svd_packed(xp, {a[0]})",
                      helpers=(portable_runtime._xp_svd_packed,)),
    domain=("separated",), cases=_CASES))


def svd_parts_packed(part: Node, a: Node) -> Node | None:
    """``part`` (``svdvals``, ``svd_u`` or ``svd_vh`` of ``a``) read from
    ``svd_packed(a)``, or None when the shape of ``a`` is not known (the slices need it)."""
    m, n = a.shape[-2:]
    if m is None or n is None:
        return None
    packed = make(_svd_packed_op, [a])
    whole = slice(None)
    if part.op is _svdvals:
        return getitem(packed, (Ellipsis, 0, whole))
    if part.op is _svd_u:
        return getitem(packed, (Ellipsis, slice(1, 1 + m), whole))
    if part.op is _svd_vh:
        return matrix_transpose(getitem(packed, (Ellipsis, slice(1 + m, 1 + m + n), whole)))
    return None


SVD_PARTS = (_svdvals, _svd_u, _svd_vh)


# -- public builders -------------------------------------------------------------------

@public("svdvals")
def svdvals(a):
    """The singular values of ``a`` (its last two axes), descending: ``np.linalg.svdvals``
    (``np.linalg.svd(a, compute_uv=False)``)."""
    (a,) = as_nodes([a])
    return make(_svdvals, [a])


@public("svd_u")
def svd_u(a):
    """``U`` of the reduced SVD (``np.linalg.svd(a, full_matrices=False)[0]``)."""
    (a,) = as_nodes([a])
    return make(_svd_u, [a])


@public("svd_vh")
def svd_vh(a):
    """``Vh`` of the reduced SVD (``np.linalg.svd(a, full_matrices=False)[2]``)."""
    (a,) = as_nodes([a])
    return make(_svd_vh, [a])


# (named svd_ so that the name svd in the code of _svd_packed, np.linalg.svd, is not
# taken for this function when generated modules copy their helpers)
@public("svd")
def svd_(a, full_matrices: bool = True, compute_uv: bool = True, hermitian: bool = False):
    """``np.linalg.svd``: ``(U, s, Vh)``, or ``s`` with ``compute_uv=False``.

    The full ``U`` or ``Vh`` of a rectangular matrix (``full_matrices=True``, NumPy's
    default) has columns that are not determined by the matrix (any orthonormal basis
    of the complement), so they have no derivative: that is refused unless the shape
    says the matrix is square; pass ``full_matrices=False``.
    """
    (a,) = as_nodes([a])
    _need_matrix("svd", a)
    if hermitian:
        raise DiffError("svd: hermitian=True is not supported; the singular values and "
                        "vectors are the same without it")
    if not compute_uv:
        return svdvals(a)
    m, n = a.shape[-2:]
    if full_matrices and (m is None or n is None or m != n):
        raise ShapeError(f"svd: full_matrices=True needs a matrix known to be square, not "
                         f"shape {fmt_shape(a.shape)} (the extra singular vectors of a "
                         f"rectangular matrix are not unique); pass full_matrices=False")
    return svd_u(a), svdvals(a), svd_vh(a)
