"""The contractions family: ``matmul`` (NumPy's ``@``, stacks of matrices included),
``outer``, and ``dot`` and ``inner`` built on ``matmul``.
"""
from __future__ import annotations

import numpy as np

from ..ir import Node, broadcast_shapes, make
from .core import P_ATOM, P_MUL, P_NEG, P_POW, Case, Op, call_text, infix_text, inside, \
    register, shape_error
from .declare import as_nodes, public
from .elementwise import multiply, sum_terms
from .portable import Portable
from .reductions import sum_
from .shape import align, expand_dims, squeeze, transpose


def _infer_matmul(inputs, attrs):
    a, b = inputs
    if a.ndim == 0 or b.ndim == 0:
        raise shape_error("matmul", "operands must have at least one dimension (use * for "
                          "scalars)", a, b)
    ka = a.shape[-1]
    kb = b.shape[-2] if b.ndim >= 2 else b.shape[0]
    if ka is not None and kb is not None and ka != kb:
        raise shape_error("matmul", f"inner dimensions differ ({ka} vs {kb})", a, b)
    batch = broadcast_shapes(a.shape[:-2], b.shape[:-2], op="matmul")
    shape = batch + (a.shape[-2:-1] if a.ndim >= 2 else ()) + (b.shape[-1:] if b.ndim >= 2 else ())
    dtype = np.result_type(a.dtype, b.dtype)
    return dtype, shape


def matrix_transpose(x: Node) -> Node:
    """Swap the last two axes."""
    axes = tuple(range(x.ndim - 2)) + (x.ndim - 1, x.ndim - 2)
    return transpose(x, axes)


def _matmul_vjp(g, node):
    a, b = node.inputs
    if a.ndim == 1 and b.ndim == 1:
        return multiply(g, b), multiply(g, a)
    if b.ndim == 1:            # (..., n, k) @ (k,) -> (..., n)
        ga = multiply(expand_dims(g, (g.ndim,)), b)
        gb = matmul(g, a) if a.ndim == 2 else sum_(multiply(expand_dims(g, (g.ndim,)), a),
                                                    tuple(range(a.ndim - 1)))
        return ga, gb
    if a.ndim == 1:            # (k,) @ (..., k, m) -> (..., m)
        ga = matmul(b, g) if b.ndim == 2 else sum_(
            multiply(b, expand_dims(g, (g.ndim - 1,))), tuple(range(b.ndim - 2)) + (b.ndim - 1,))
        gb = multiply(expand_dims(a, (1,)), expand_dims(g, (g.ndim - 1,)))
        return ga, gb
    return matmul(g, matrix_transpose(b)), matmul(matrix_transpose(a), g)


def _text_matmul(node, child):
    # A computed row vector times a matrix (an adjoint) prints as the Cookbook writes it:
    # v @ W is W.T @ v (the same numbers for a 1-d v), and (k*v) @ W is k*W.T @ v.
    a, b = node.inputs
    if a.ndim != 1 or b.ndim != 2 or (a.op.name == "var" and b.op.name != "transpose"):
        return _infix_matmul(node, child)          # a @ W as written
    scale = ""
    if (a.op.name == "mul" and inside(child, a) and a.inputs[0].op.name == "const"
            and a.inputs[0].ndim == 0):
        scale = f"{child(a.inputs[0], P_MUL)}*"
        a = a.inputs[1]
    if b.op.name == "transpose" and inside(child, b):
        mat = child(b.inputs[0], P_MUL)
    else:
        mat = f"{child(b, P_ATOM)}.T"
    return f"{scale}{mat} @ {child(a, P_MUL + 1)}", P_MUL


_infix_matmul = infix_text("@", P_MUL)


def _latex_matmul(node, child):
    # Matrix products chain by juxtaposition; other products are parenthesized. A row
    # vector times a matrix is written as the textbook does: g @ W = W^T g.
    a, b = node.inputs

    def side(n):   # juxtaposed: a sum, product or negation gets parentheses (X (-y))
        return child(n, P_MUL if n.op.name == "matmul" else P_NEG + 1)
    if a.ndim == 1 and b.ndim == 1:    # an inner product: x^T y, and x^T A y
        if (a.op.name == "matmul" and inside(child, a) and a.inputs[0].ndim == 1
                and a.inputs[1].ndim == 2):
            v, m = a.inputs
            return rf"{child(v, P_POW + 1)}^{{\top}} {side(m)} {side(b)}", P_MUL
        return rf"{child(a, P_POW + 1)}^{{\top}} {side(b)}", P_MUL
    if a.ndim == 1 and b.ndim == 2:
        if b.op.name == "transpose" and inside(child, b):
            return f"{side(b.inputs[0])} {side(a)}", P_MUL
        return rf"{child(b, P_POW + 1)}^{{\top}} {side(a)}", P_MUL
    return f"{side(a)} {side(b)}", P_MUL


def _matmul_code(args, node):
    # For operands of at most two dimensions ndarray.dot computes what @ does, with
    # less dispatch: 0.27 against 0.55 µs on 2-vectors, ~0.5 µs less on 32x32.
    a, b = node.inputs
    if a.ndim <= 2 and b.ndim <= 2:
        return f"{args[0]}.dot({args[1]})"
    return f"{args[0]} @ {args[1]}"


def _batch_matmul(args, batched, node):
    (a, b), (ba, bb), (a0, b0) = args, batched, node.inputs
    if ba and not bb and b0.ndim <= 2:
        return matmul(a, b)           # (B, ..., k) @ (k[, m])
    if bb and not ba and b0.ndim >= 2 and a0.ndim <= 2:
        return matmul(a, b)           # (n, k) @ (B, ..., k, m)
    if bb and not ba and b0.ndim == 1:
        return matmul(b, a if a0.ndim == 1 else matrix_transpose(a))   # one GEMM: (B, k) @ (k, n)
    if ba and bb and a0.ndim == 1 and b0.ndim == 1:
        return sum_(multiply(a, b), (1,))
    # General case: make both operands stacks of matrices whose batch axis comes first.
    rank = max(a0.ndim, b0.ndim, 2) - 2
    if a0.ndim == 1:
        a = expand_dims(a, (a.ndim - 1,))
    if b0.ndim == 1:
        b = expand_dims(b, (b.ndim,))
    if ba:
        a = align(a, max(a0.ndim, 2), rank + 2)
    if bb:
        b = align(b, max(b0.ndim, 2), rank + 2)
    out = matmul(a, b)
    if a0.ndim == 1:
        out = squeeze(out, (out.ndim - 2,))
    if b0.ndim == 1:
        out = squeeze(out, (out.ndim - 1,))
    return out


def _matmul_numba(a: str, b: str, na: int, nb: int) -> str:
    """In a compiled body: one BLAS function for every case, vectors as 1-row or
    1-column views (``numba_blas.GEMM``: Numba's np.dot compiles a subroutine per
    pair of layouts)."""
    if na == 2 and nb == 2:
        return f"_blas_gemm({a}, {b}, False)"
    if na == 1 and nb == 2:
        return f"_blas_gemm({a}[None, :], {b}, False)[0]"
    if na == 2:
        return f"_blas_gemm({b}[None, :], {a}.T, False)[0]"
    return f"_blas_gemm({a}[None, :], {b}[:, None], False)[0, 0]"


def _matmul_portable(a, n):
    """``a @ b``; as ``tensordot`` for operands of at most two axes (the same product).
    Dask computes that as a blockwise product and a tree sum over the row chunks; its
    ``@`` with a vector operand adds a getitem task per chunk on each side (a
    logistic loss and gradient over 16 chunks: 246 tasks with @, 131 with tensordot)."""
    x, y = n.inputs
    if x.ndim <= 2 and y.ndim <= 2:
        return f"xp.tensordot({a[0]}, {a[1]}, axes=1)"
    return f"{a[0]} @ {a[1]}"


_matmul = register(Op(
    name="matmul", impl=np.matmul, infer=_infer_matmul,
    code=_matmul_code,
    numba_body=lambda node: all(1 <= i.ndim <= 2 for i in node.inputs),
    numba_code=lambda args, node: _matmul_numba(*args, *(i.ndim for i in node.inputs)),
    out=lambda args, node, buf: f"np.matmul({args[0]}, {args[1]}, out={buf})",
    vjp=_matmul_vjp,
    batch=_batch_matmul,
    jvp=lambda t, node: sum_terms([matmul(t[0], node.inputs[1]) if t[0] is not None else None,
                                   matmul(node.inputs[0], t[1]) if t[1] is not None else None]),
    text=_text_matmul,
    latex=lambda n, c: _latex_matmul(n, c),
    symbol="@",
    cases=(Case(((3,), (3,))), Case(((2, 3), (3,))), Case(((3,), (3, 2))),
           Case(((2, 3), (3, 4))), Case(((2, 2, 3), (3, 2))), Case(((2, 3), (2, 3, 2)))),
    portable=Portable(_matmul_portable),
))


@public("matmul")
def matmul(a, b):
    return make(_matmul, as_nodes([a, b]))


@public("dot")
def dot(a, b):
    """``np.dot`` for operands of at most two dimensions (a 0-d operand scales)."""
    a, b = as_nodes([a, b])
    if a.ndim == 0 or b.ndim == 0:
        return multiply(a, b)
    if a.ndim > 2 or b.ndim > 2:
        raise shape_error("dot", "dot of operands with more than 2 dimensions is not "
                          "supported; use matmul", a, b)
    return matmul(a, b)


@public("inner", "vdot")
def inner(a, b):
    """Inner product of two vectors."""
    a, b = as_nodes([a, b])
    if a.ndim != 1 or b.ndim != 1:
        raise shape_error("inner", "expects two vectors", a, b)
    return matmul(a, b)


def _infer_outer(inputs, attrs):
    a, b = inputs
    if a.ndim != 1 or b.ndim != 1:
        raise shape_error("outer", "expects two vectors", a, b)
    return np.result_type(a.dtype, b.dtype), (a.shape[0], b.shape[0])


def _batch_outer(args, batched, node):
    a, b = args
    a = expand_dims(a, (a.ndim,)) if batched[0] else expand_dims(a, (1,))
    b = expand_dims(b, (1,)) if batched[1] else b
    return multiply(a, b)


_outer = register(Op(
    name="outer", impl=np.outer, infer=_infer_outer,
    # np.outer is a Python wrapper around this broadcast product (1.2 against 0.7 µs).
    code=lambda args, node: f"{args[0]}[:, None] * {args[1]}",
    numba_body=True,
    out=lambda args, node, buf: f"np.multiply({args[0]}[:, None], {args[1]}, out={buf})",
    vjp=lambda g, node: (matmul(g, node.inputs[1]), matmul(node.inputs[0], g)),
    jvp=lambda t, node: sum_terms([outer(t[0], node.inputs[1]) if t[0] is not None else None,
                                   outer(node.inputs[0], t[1]) if t[1] is not None else None]),
    batch=_batch_outer,
    text=call_text("outer"),
    latex=lambda n, c: (rf"{c(n.inputs[0], P_MUL + 1)} {c(n.inputs[1], P_POW + 1)}^{{\top}}",
                        P_MUL),
    cases=(Case(((3,), (2,))),),
    portable=Portable(lambda a, n: f"{a[0]}[:, None] * {a[1]}")))


@public("outer")
def outer(a, b):
    return make(_outer, as_nodes([a, b]))
