"""Rules of matrix algebra: what makes derivatives of matrix expressions come out in
the notation of the Matrix Cookbook (Petersen & Pedersen, 2012).

- ``I @ B -> B`` (and ``B @ I``, ``(k I) @ B -> k B``): the identity a trace's
  derivative brings in, a constant ``eye`` or, for unknown sizes, a diagonal of ones;
- ``(a @ b).T -> b.T @ a.T`` and ``(a + b).T -> a.T + b.T`` when that leaves fewer
  transposes (never more, so it cannot cycle with ``a.T @ b.T -> (b @ a).T``);
- ``s.T -> s`` for a matrix certainly symmetric (``a.T @ a``, ``inv`` of one...), and in
  code generation for a variable declared symmetric (``sd.matrix("S", symmetric=True)``);
- ``a @ c + b @ c -> (a + b) @ c`` and ``c @ a + c @ b -> c @ (a + b)``;
- ``inv(Y) @ Y -> I`` (in chains too), ``inv(inv(Y)) -> Y``, ``a @ (k*b) -> k*(a @ b)``,
  ``s + s -> 2*s`` for a matrix, ``log(abs(det(X))) -> logdet(X)``;
- ``solve(A, k*B) -> k*solve(A, B)`` for a 0-d k, and ``(k*a) @ b -> k*(a @ b)`` where
  the product is the smaller array;
- ``inv(A) @ b -> solve(A, b)`` (specialize: one factorization, no explicit inverse);
- ``logdet(L) -> sum(log(diagonal(L)))`` for a Cholesky factor ``L`` (its diagonal is
  positive), and ``logdet(L @ L.T) -> 2*sum(log(diagonal(L)))``;
- ``trace(A @ B) -> sum(A * B.T)`` (specialize: n² instead of n³ operations).

The functions here are the replacements; the tables of the phases list them.
"""
from __future__ import annotations

import numpy as np

from ..ir import Const, Node, same_shape
from ..ops import FUNCTIONS
from .engine import Match
from .pattern import const_value

F = FUNCTIONS


def _is_identity(node: Node) -> bool:
    """A square identity matrix: a constant ``eye`` or ``diag_embed`` of ones."""
    if node.ndim != 2:
        return False
    if node.op.name == "const":
        v = node.value
        return v.shape == node.shape and v.shape[0] == v.shape[1] and \
            bool(np.array_equal(v, np.eye(v.shape[0])))
    if node.op.name == "eye_like":          # the rows of the identity of a vector's size
        return node.inputs[0].ndim == 1
    return node.op.name == "diag_embed" and const_value(node.inputs[0]) == 1.0


def _scaled_identity(node: Node) -> tuple[Node | None, bool]:
    """(k, True) for ``k * I`` with 0-d k, (None, True) for ``I``, else (None, False)."""
    if _is_identity(node):
        return None, True
    if node.op.name == "mul":
        for k, i in (node.inputs, node.inputs[::-1]):
            if k.ndim == 0 and _is_identity(i):
                return k, True
    return None, False


def identity_product(m: Match) -> Node | None:
    """I @ b -> b, b @ I -> b, (k I) @ b -> k * b."""
    a, b = m.node.inputs
    for ident, other in ((a, b), (b, a)):
        k, found = _scaled_identity(ident)
        if found and (other.ndim <= 2 or ident is a):
            return other if k is None else F["multiply"](k, other)
    return None


def _is_t(node: Node) -> bool:
    return node.op.name == "transpose" and node.ndim == 2


def _t(node: Node) -> Node:
    return node.inputs[0] if _is_t(node) else F["transpose"](node)


def certainly_symmetric(node: Node, depth: int = 0, declared: bool = False) -> bool:
    """Certainly symmetric: a.T @ a, a @ a.T, a + a.T, and inverses, sums, scalings of
    symmetric matrices (read a few levels deep); with ``declared``, also the variables
    declared symmetric (see ``Memo.symmetric_inputs``)."""
    if node.ndim != 2 or depth > 4:
        return False
    name = node.op.name
    if name == "var":
        return declared and node.symmetric
    if name == "matmul":
        a, b = node.inputs
        return (_is_t(a) and a.inputs[0] is b) or (_is_t(b) and b.inputs[0] is a)
    if name in ("add", "sub"):
        a, b = node.inputs
        if (_is_t(b) and b.inputs[0] is a) or (_is_t(a) and a.inputs[0] is b):
            return name == "add"
        return (certainly_symmetric(a, depth + 1, declared)
                and certainly_symmetric(b, depth + 1, declared))
    if name in ("inv", "neg"):
        return certainly_symmetric(node.inputs[0], depth + 1, declared)
    if name in ("mul", "div"):
        a, b = node.inputs
        return (a.ndim == 0 and certainly_symmetric(b, depth + 1, declared)) or \
            (b.ndim == 0 and certainly_symmetric(a, depth + 1, declared))
    if name == "const":
        return bool(np.array_equal(node.value, node.value.T))
    return _is_identity(node)


def symmetric_transpose(m: Match) -> Node | None:
    """s.T -> s for a symmetric matrix s."""
    x = m.node.inputs[0]
    return x if m.node.ndim == 2 and certainly_symmetric(x, 0, m.memo.symmetric_inputs) else None


def factor_product(m: Match) -> Node | None:
    """a @ c + b @ c -> (a + b) @ c; c @ a + c @ b -> c @ (a + b) (and with -)."""
    node = m.node
    x, y = node.inputs
    if x.op.name != "matmul" or y.op.name != "matmul":
        return None
    def combine(p: Node, q: Node) -> Node:
        if p is q:
            return F["multiply"](2.0, p) if node.op.name == "add" else F["zeros_like"](p)
        return F["add" if node.op.name == "add" else "subtract"](p, q)
    (a, c), (b, d) = _column_form(x), _column_form(y)
    if c is d and a.ndim == b.ndim == 2 and same_shape(a.shape, b.shape):
        return F["matmul"](combine(a, b), c)
    if a is b and a.ndim == 2 and c.ndim == d.ndim and c.ndim in (1, 2) \
            and same_shape(c.shape, d.shape):
        return F["matmul"](a, combine(c, d))
    return None


def _column_form(product: Node) -> tuple[Node, Node]:
    """The operands of a product, a row vector times a matrix read as W.T @ v."""
    a, b = product.inputs
    if a.ndim == 1 and b.ndim == 2:
        return _t(b), a
    return a, b


def doubled_sum(m: Match) -> Node | None:
    """s + s -> 2*s for a matrix, or a vector that is a sum (the adjoint of s @ s.T):
    one term rather than the operand written twice."""
    a, b = m.node.inputs
    if a is b and (a.ndim >= 2 or a.ndim == 1 and a.op.name in ("add", "sub")):
        return F["multiply"](2.0, a)
    return None


def _identity_like(x: Node) -> Node:
    n = x.shape[-1]
    if n is not None:
        return Const(np.eye(n), x.dtype)
    return F["eye_like"](F["diagonal"](x))


def _inverse_pair(a: Node, b: Node) -> bool:
    """a @ b is the identity: inv(Y) @ Y, Y @ inv(Y), or the transposes of those."""
    if _is_t(a) and _is_t(b):
        a, b = b.inputs[0], a.inputs[0]
    return (a.op.name == "inv" and a.inputs[0] is b) or (b.op.name == "inv"
                                                         and b.inputs[0] is a)


def inverse_cancels(m: Match) -> Node | None:
    """inv(Y) @ Y -> I, and inside chains: p @ inv(Y) @ Y -> p, Y @ inv(Y) @ r -> r;
    a 0-d factor moves out: a @ (k*b) -> k*(a @ b)."""
    node = m.node
    a, b = node.inputs
    if a.ndim != 2 or b.ndim not in (1, 2):
        return None
    if b.ndim == 2 and _inverse_pair(a, b):
        return _identity_like(a)
    if a.op.name == "matmul" and a.inputs[1].ndim == 2 and b.ndim == 2 \
            and _inverse_pair(a.inputs[1], b):
        return a.inputs[0]
    if b.op.name == "matmul" and b.inputs[0].ndim == 2 and _inverse_pair(a, b.inputs[0]):
        return b.inputs[1]
    # Moving a scale out changes the cost of the code: only where an inverse may cancel.
    for k, other in _scaled(b):
        if _inverse_end(a) or _inverse_end(other):
            return F["multiply"](k, F["matmul"](a, other))
    for k, other in _scaled(a):
        if _inverse_end(b) or _inverse_end(other):
            return F["multiply"](k, F["matmul"](other, b))
    return None


def _inverse_end(x: Node, depth: int = 0) -> bool:
    if _is_t(x):
        x = x.inputs[0]
    if x.op.name == "inv":
        return True
    return x.op.name == "matmul" and depth < 3 and any(_inverse_end(i, depth + 1)
                                                       for i in x.inputs)


def _scaled(x: Node) -> list[tuple[Node, Node]]:
    if x.op.name == "mul" and x.ndim >= 1:
        p, q = x.inputs
        if p.ndim == 0:
            return [(p, q)]
        if q.ndim == 0:
            return [(q, p)]
    return []


def inverse_inverse(m: Match) -> Node | None:
    """inv(inv(Y)) -> Y."""
    x = m.node.inputs[0]
    return x.inputs[0] if x.op.name == "inv" else None


def smaller_scaled_product(m: Match) -> Node | None:
    """(k*a) @ b -> k*(a @ b) (and a @ (k*b)) for a 0-d k, when the product has fewer
    elements than the scaled operand (known lengths): the scaling is a pass over the
    smaller array (``(0.5*Z) @ Z.T``, Z of n x N, in the Gaussian likelihood's gradient)."""
    node = m.node
    size = _static_size(node)
    if size is None:
        return None
    a, b = node.inputs
    for scaled, other, left in ((a, b, True), (b, a, False)):
        for k, rest in _scaled(scaled):
            before = _static_size(scaled)
            if before is not None and size < before:
                product = F["matmul"](rest, other) if left else F["matmul"](other, rest)
                return F["multiply"](k, product)
    return None


def _static_size(node: Node) -> int | None:
    return None if None in node.shape else int(np.prod(node.shape, dtype=np.int64))


def solve_scaled(m: Match) -> Node | None:
    """solve(A, k*B) -> k*solve(A, B) for a 0-d k: the solve with B is then one node with
    any other solve with B (the adjoint of ``sum(B * solve(A, B))`` solves with ``k*B``
    and ``A.T``, which is ``A`` for a symmetric ``A``)."""
    a, b = m.node.inputs
    for k, other in _scaled(b):
        return F["multiply"](k, F["solve"](a, other))
    return None


def log_abs_det(m: Match) -> Node | None:
    """log(abs(det(X))) -> logdet(X)."""
    x = m.node.inputs[0]
    if x.op.name == "abs" and x.inputs[0].op.name == "det":
        return F["logdet"](x.inputs[0].inputs[0])
    return None


def inverse_product(m: Match) -> Node | None:
    """inv(A) @ b -> solve(A, b)."""
    a, b = m.node.inputs
    if a.op.name == "inv" and a.ndim == 2 and b.ndim in (1, 2):
        return F["solve"](a.inputs[0], b)
    return None


def logdet_of_cholesky(m: Match) -> Node | None:
    """logdet(L) -> sum(log(diagonal(L))) and logdet(L @ L.T) -> 2*sum(log(diagonal(L)))
    for a Cholesky factor L (a positive diagonal)."""
    x = m.node.inputs[0]
    if x.ndim != 2:
        return None
    if x.op.name == "cholesky":
        return F["sum"](F["log"](F["diagonal"](x)))
    if x.op.name == "matmul":
        a, b = x.inputs
        if a.op.name == "cholesky" and _is_t(b) and b.inputs[0] is a:
            return F["multiply"](2.0, F["sum"](F["log"](F["diagonal"](a))))
    return None


def trace_of_product(m: Match) -> Node | None:
    """trace(A @ B) -> sum(A * B.T) for matrices."""
    x = m.node.inputs[0]
    if x.op.name != "matmul" or x.ndim != 2:
        return None
    a, b = x.inputs
    if a.ndim != 2 or b.ndim != 2:
        return None
    return F["sum"](F["multiply"](a, _t(b)))
