"""One singular value decomposition per matrix: where the graph computes two or more
of ``svdvals(A)``, ``svd_u(A)`` and ``svd_vh(A)`` (the gradient of a norm by singular
values uses all three), they become slices of one ``svd_packed(A)``, one LAPACK call.

A whole-graph step after simplification, before code is planned, like
``shared_inverse.py``: the printed derivatives keep the three ops, whose rules need
them apart. The slices need the shape of ``A``: with an unknown length each op keeps
its own call. U and Vh are the same bits as apart (the same call on ``A``); the singular
values may differ from ``compute_uv=False`` in the last bits.
"""
from __future__ import annotations

from collections import defaultdict

from ..ir import Node, make_typed, toposort
from ..ops.svd import SVD_PARTS, svd_parts_packed


def share_svds(outputs: list[Node]) -> list[Node]:
    """``outputs`` with the parts of the SVD of one matrix read from one decomposition."""
    order = toposort(outputs)
    kinds: dict[int, set] = defaultdict(set)
    for n in order:
        if n.op in SVD_PARTS:
            kinds[n.inputs[0].id].add(n.op.name)
    shared = {key for key, names in kinds.items() if len(names) > 1}
    if not shared:
        return outputs
    new: dict[int, Node] = {}
    for node in order:
        inputs = [new[i.id] for i in node.inputs]
        if node.op in SVD_PARTS and node.inputs[0].id in shared:
            part = svd_parts_packed(node, inputs[0])
            if part is not None and part.dtype == node.dtype and part.shape == node.shape:
                new[node.id] = part
                continue
        if all(x is y for x, y in zip(inputs, node.inputs)):
            new[node.id] = node
        else:
            new[node.id] = make_typed(node.op, tuple(inputs), node.attrs, node.dtype,
                                      node.shape)
    return [new[o.id] for o in outputs]
