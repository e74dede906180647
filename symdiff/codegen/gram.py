"""Quadratic forms of a tall matrix through its Gram matrix.

A whole-graph step after simplification, before code is planned. A product
``P = X @ A`` of a tall ``X`` (N x m, many rows) is often used only in ways that sum
over its rows:

- ``P.T @ P``           = ``A.T @ (G @ A)``
- ``sum(X * P)``        = ``sum(G * A)``  (``ravel(X) @ ravel(P)``, for a square ``A``)
- ``sum(P, axis=0)``    = ``sum(X, axis=0) @ A``

with ``G = X.T @ X``, an m x m matrix that BLAS forms as a symmetric rank-k update
(NumPy's ``dot`` calls ``syrk`` for a matrix times its own transpose, half the work
of a general product). When every use of ``P`` is one of these and the flop count
drops, ``P`` is no longer computed. A Gaussian likelihood of N samples with
``Z = D @ inv(S)`` is the common case: its value ``sum(D * Z)`` and the covariance
gradient's ``Z.T @ Z`` are two N x n x n products, and become one Gram matrix
``D.T @ D`` and two n x n x n products.

The algebra is exact (the three identities above are sums over the same terms taken in
another order); rounding differs as between any two orders of a product. As with any
reassociation of a product, the range of the intermediates differs: ``G`` squares
``X``'s entries, so entries of ``X`` past ~1e154 overflow in ``G`` even where a tiny
``A`` kept ``X @ A`` and its uses finite.
"""
from __future__ import annotations

from collections import defaultdict

from ..ir import Node, toposort
from ..ops import FUNCTIONS, OPS
from ..ops.contractions import matmul, matrix_transpose
from ..ops.shape import reshape
from .shared_inverse import matrix_transpose_of, remake


def use_grams(outputs: list[Node]) -> list[Node]:
    """``outputs`` with each product ``X @ A`` whose uses all sum over its rows
    rewritten through ``X.T @ X`` where that takes fewer flops (module docstring)."""
    order = toposort(outputs)
    if not any(n.op is OPS["matmul"] for n in order):
        return outputs
    users: dict[int, list[Node]] = defaultdict(list)
    for node in order:
        for i in {i.id: i for i in node.inputs}.values():
            users[i.id].append(node)
    returned = {o.id for o in outputs}
    uses: dict[int, tuple[str, Node]] = {}  # rewritten node id -> (kind, product)
    for p in order:
        found = _row_sum_uses(p, users, returned)
        if found is not None and _cheaper(p, found):
            for kind, node in found:
                uses[node.id] = (kind, p)
    if not uses:
        return outputs
    new: dict[int, Node] = {}
    grams: dict[int, Node] = {}
    for node in order:
        inputs = [new[i.id] for i in node.inputs]
        if node.id in uses:
            kind, p = uses[node.id]
            x, a = new[p.inputs[0].id], new[p.inputs[1].id]
            if kind == "colsum":
                found = matmul(FUNCTIONS["sum"](x, axis=0), a)
            else:
                if p.id not in grams:
                    grams[p.id] = matmul(matrix_transpose(x), x)
                g = grams[p.id]
                found = (matmul(matrix_transpose(a), matmul(g, a)) if kind == "gram"
                         else matmul(reshape(g, (-1,)), reshape(a, (-1,))))
            if found.dtype == node.dtype and found.shape == node.shape:
                new[node.id] = found
                continue
        if all(x is y for x, y in zip(inputs, node.inputs)):
            new[node.id] = node
        else:
            new[node.id] = remake(node, inputs)
    return [new[o.id] for o in outputs]


def _row_sum_uses(p: Node, users: dict, returned: set) -> list[tuple[str, Node]] | None:
    """The uses of ``p`` as (kind, node) if ``p = X @ A`` (2-d, static shapes, X tall)
    is used only as ``p.T @ p``, ``ravel(X) @ ravel(p)`` or ``sum(p, axis=0)``."""
    if p.op is not OPS["matmul"] or p.id in returned or p.ndim != 2:
        return None
    x, a = p.inputs
    if x.ndim != 2 or a.ndim != 2 or None in x.shape or None in a.shape:
        return None
    found: dict[int, tuple[str, Node]] = {}
    for u in users[p.id]:
        # a use that is itself returned is replaced by its equal; p.T or ravel(p) are
        # not replaced, so they must not be returned
        if matrix_transpose_of(u) is p and u.id not in returned:
            for v in users[u.id]:
                if v.op is not OPS["matmul"] or v.inputs[0] is not u or v.inputs[1] is not p:
                    return None
                found[v.id] = ("gram", v)
        elif u.op is OPS["matmul"] and matrix_transpose_of(u.inputs[0]) is p \
                and u.inputs[1] is p:
            found[u.id] = ("gram", u)
        elif u.op is OPS["reshape"] and tuple(u.attr("shape")) == (-1,) \
                and x.shape == p.shape and u.id not in returned:
            for v in users[u.id]:
                if v.op is not OPS["matmul"] or v.ndim != 0:
                    return None
                other = v.inputs[0] if v.inputs[1] is u else v.inputs[1]
                if other.op is not OPS["reshape"] or other.inputs[0] is not x:
                    return None
                found[v.id] = ("inner", v)
        elif u.op is OPS["sum"] and u.attr("axis") == (0,) and not u.attr("keepdims"):
            found[u.id] = ("colsum", u)
        else:
            return None
    return list(found.values()) or None


def _cheaper(p: Node, uses: list[tuple[str, Node]]) -> bool:
    """Fewer multiply-adds through the Gram matrix (counted as a general product)."""
    (n, m), k = p.inputs[0].shape, p.inputs[1].shape[1]
    kinds = [kind for kind, _ in uses]
    old = n * m * k + sum({"gram": n * k * k, "inner": n * k, "colsum": n * k}[c]
                          for c in kinds)
    new = (n * m * m if {"gram", "inner"} & set(kinds) else 0) + \
        sum({"gram": m * m * k + m * k * k, "inner": m * m, "colsum": n * m + m * k}[c]
            for c in kinds)
    return new < old
