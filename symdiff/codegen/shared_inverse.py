"""Reuse a computed inverse: ``solve(A, B)`` becomes ``inv(A) @ B`` when the graph
computes ``inv(A)`` anyway (``logdet``'s gradient is ``inv(A).T``; the adjoint of
``solve`` solves with ``A.T``, which is ``inv(A).T @ G``).

A whole-graph step after simplification, before code is planned: the rewrite rules
go the other way (``inv(A) @ b -> solve(A, b)``), which is right when no inverse is
formed, since one LU solve costs less than an inverse and a product. Once the inverse
is formed, each solve with it (or with its transpose) is a matrix product, which is
cheaper than a new factorization. The algebra is exact; rounding differs slightly
(forward error of order cond(A) * eps either way, Higham, *Accuracy and Stability of
Numerical Algorithms*, 2nd ed., sections 14.1 and 14.3).

A symmetric ``A`` (certainly symmetric, or declared so when ``symmetric_inputs``) times
a transposed right-hand side, ``inv(A) @ X.T``, is computed as ``(X @ inv(A)).T``: in
``X``'s orientation, so that what combines it with ``X.T`` reads both as transposes of
contiguous arrays. Two readings are then undone: ``(Y.T).T -> Y``, and
``ravel(P.T) @ ravel(Q.T) -> ravel(P) @ ravel(Q)`` (one sum over the same pairs; the
raveled transposes were copies): ``sum(D.T * solve(S, D.T))`` in a Gaussian
likelihood no longer copies ``D.T``.
"""
from __future__ import annotations

from ..ir import Node, make_typed, toposort
from ..ops import OPS
from ..ops.contractions import matmul, matrix_transpose
from ..ops.linalg import inv
from ..ops.shape import reshape
from ..rewrite.matrices import certainly_symmetric


def matrix_transpose_of(node: Node) -> Node | None:
    """``x`` if ``node`` is ``x`` with its last two axes swapped, else None."""
    if node.op is not OPS["transpose"] or node.ndim < 2:
        return None
    axes = node.attr("axes")
    if tuple(axes) != tuple(range(node.ndim - 2)) + (node.ndim - 1, node.ndim - 2):
        return None
    return node.inputs[0]


def share_inverses(outputs: list[Node], symmetric_inputs: bool = False) -> list[Node]:
    """``outputs`` with each ``solve(A, B)`` (or ``solve(A.T, B)``) whose ``inv(A)``
    is computed too written as ``inv(A) @ B`` (``inv(A).T @ B``); ``symmetric_inputs``:
    the variables declared symmetric are (see the module docstring)."""
    order = toposort(outputs)
    inv_op, solve_op = OPS["inv"], OPS["solve"]
    inverted = {n.inputs[0].id for n in order if n.op is inv_op}
    if not inverted or not any(n.op is solve_op for n in order):
        return outputs
    new: dict[int, Node] = {}
    for node in order:
        inputs = [new[i.id] for i in node.inputs]
        if node.op is solve_op:
            a, b = node.inputs
            base = matrix_transpose_of(a)
            if a.id in inverted:
                product = _inverse_times(inputs[0], inputs[1], symmetric_inputs)
                new[node.id] = _product(product, node, inputs)
                continue
            if base is not None and base.id in inverted:
                inverse = matrix_transpose(inv(new[base.id]))
                new[node.id] = _product(matmul(inverse, inputs[1]), node, inputs)
                continue
        if all(x is y for x, y in zip(inputs, node.inputs)):
            new[node.id] = node
        else:
            undone = _undone(node, inputs)
            new[node.id] = undone if undone is not None else remake(node, inputs)
    return [new[o.id] for o in outputs]


def _inverse_times(a: Node, b: Node, symmetric_inputs: bool) -> Node:
    """``inv(a) @ b``, as ``(x @ inv(a)).T`` for ``b = x.T`` and a symmetric ``a``."""
    x = matrix_transpose_of(b)
    if x is not None and b.ndim == 2 and certainly_symmetric(a, 0, symmetric_inputs):
        return matrix_transpose(matmul(x, inv(a)))
    return matmul(inv(a), b)


def _undone(node: Node, inputs: list[Node]) -> Node | None:
    """``(y.T).T -> y`` and ``ravel(p.T) @ ravel(q.T) -> ravel(p) @ ravel(q)`` on the new
    operands, where the result has the node's type; else None."""
    found = None
    if node.op is OPS["transpose"] and node.ndim == 2:
        found = matrix_transpose_of(inputs[0])
    elif node.op is OPS["matmul"] and node.ndim == 0 and all(i.ndim == 1 for i in inputs):
        bases = [_raveled_transpose(i) for i in inputs]
        if all(b is not None for b in bases) and bases[0].shape == bases[1].shape:
            found = matmul(reshape(bases[0], (-1,)), reshape(bases[1], (-1,)))
    if found is not None and found.dtype == node.dtype and found.shape == node.shape:
        return found
    return None


def _raveled_transpose(node: Node) -> Node | None:
    """``x`` (2-d) if ``node`` is ``reshape(x.T, (-1,))``, else None."""
    if node.op is not OPS["reshape"] or tuple(node.attr("shape")) != (-1,):
        return None
    x = matrix_transpose_of(node.inputs[0])
    return x if x is not None and x.ndim == 2 and None not in x.shape else None


def _product(product: Node, solve: Node, inputs: list[Node]) -> Node:
    """The product where it has the solve's type (it has, for float operands), else the
    solve as it was: a node's type never changes in this step."""
    if product.dtype == solve.dtype and product.shape == solve.shape:
        return product
    return remake(solve, inputs)


def remake(node: Node, inputs: list[Node]) -> Node:
    """``node``'s op on new operands of the same types (so the same type)."""
    return make_typed(node.op, tuple(inputs), node.attrs, node.dtype, node.shape)
