"""The batching transform: a graph applied to a stack of inputs at once (JAX's vmap).

``batch(outputs, {x: xs})`` rewrites ``outputs`` so that ``x`` is replaced by ``xs``,
which has one extra *leading* axis, the batch axis: the result is the graph whose
``k``-th slice along the batch axis is ``outputs`` evaluated with ``x = xs[k]``.

Conventions
- The batch axis is always axis 0 of a batched node. A node whose inputs are all
  unbatched is kept as it is (shared, not copied), so the forward part of a graph
  that does not depend on the batched inputs is computed once.
- Each op declares its own batching rule in the op table (``Op.batch``): the node
  applied to inputs of which some carry the batch axis. Elementwise ops align the
  batched operands (their broadcast axes go after the batch axis), reductions and
  the softmax family shift their axes by one, ``matmul`` becomes a stacked product
  (or one matrix product when only one operand is batched), structural ops shift
  their axes and indices. A rule returns a result without the batch axis when the
  value does not depend on the batch (``shape_size``).
- The size of the batch may be static or unknown (``None``); the result has the
  batch size of the replacements.

``symdiff.higher`` builds Jacobians and Hessians from this transform: the
derivative graph is built once, for one tangent or cotangent, and then batched
over the rows of an identity matrix, so its size does not depend on the number of
inputs or outputs.
"""
from __future__ import annotations

from typing import Mapping, Sequence

from .errors import DiffError, ShapeError
from .ir import Node, fmt_shape, toposort
from .ops.shape import materialize

__all__ = ["batch"]


def batch(outputs: Node | Sequence[Node], replace: Mapping[Node, Node]) -> Node | list[Node]:
    """``outputs`` with each key of ``replace`` swapped for its batched value.

    Every value must have the key's shape with one leading batch axis in front, and
    all values the same batch size. Returns one node for one output, a list for a
    list; each result has the batch axis in front of its output's shape (outputs that
    do not depend on the replaced nodes are repeated along it).
    """
    single = isinstance(outputs, Node)
    outs = [outputs] if single else list(outputs)
    if not replace:
        raise DiffError("batch: give at least one node to replace by a batched value")
    size = _check_replacements(replace)
    like = next(iter(replace.values()))
    new: dict[int, tuple[Node, bool]] = {n.id: (v, True) for n, v in replace.items()}
    for node in toposort(outs):
        if node.id in new:
            continue
        args = [new[i.id] for i in node.inputs]
        if not any(b for _, b in args):
            new[node.id] = (node, False)
            continue
        rule = node.op.batch
        if rule is None:
            raise DiffError(f"batch: the op {node.op.name!r} has no batching rule")
        result = rule(tuple(a for a, _ in args), tuple(b for _, b in args), node)
        new[node.id] = (result, _is_batched(result, node, size))
    results = []
    for o in outs:
        value, batched = new[o.id]
        results.append(value if batched else materialize(value, like))
    return results[0] if single else results


def _check_replacements(replace: Mapping[Node, Node]) -> int | None:
    sizes = set()
    for node, value in replace.items():
        if not isinstance(node, Node) or not isinstance(value, Node):
            raise DiffError("batch: replacements map expressions to expressions")
        if value.ndim != node.ndim + 1 or not _fits(value.shape[1:], node.shape):
            raise ShapeError(f"batch: a batched value of shape {fmt_shape(value.shape)} does not "
                             f"fit a node of shape {fmt_shape(node.shape)} (expected the "
                             f"node's shape with one leading batch axis)")
        sizes.add(value.shape[0])
    known = sizes - {None}
    if len(known) > 1:
        raise ShapeError(f"batch: the batched values have different batch sizes {sorted(known)}")
    return known.pop() if known else None


def _fits(shape: tuple, want: tuple) -> bool:
    return len(shape) == len(want) and all(a is None or b is None or a == b
                                           for a, b in zip(shape, want))


def _is_batched(result: Node, node: Node, size: int | None) -> bool:
    """Whether a rule's result carries the batch axis (checked against the node's type)."""
    if result.ndim == node.ndim + 1 and _fits(result.shape[1:], node.shape) \
            and (size is None or result.shape[0] in (size, None)):
        return True
    if result.ndim == node.ndim and _fits(result.shape, node.shape):
        return False
    raise ShapeError(f"batch: internal error in the rule of {node.op.name!r}: a result of "
                     f"shape {fmt_shape(result.shape)} for a node of shape "
                     f"{fmt_shape(node.shape)}")
