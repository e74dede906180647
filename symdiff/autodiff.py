"""Symbol-to-symbol differentiation: reverse mode (``grad``, ``vjp``) and forward
mode (``jvp``), each adding new nodes to the graph.

Reverse mode is the textbook backward pass: a grad table seeded with
d cost / d cost = 1, nodes visited in reverse topological order (only those
between ``wrt`` and the outputs), each node's adjoint the sum of the VJP
contributions of its consumers. Adjoints of broadcast operands are summed back
to the operand's shape here, in one place. Every node that a VJP rule creates is
annotated with the forward node it differentiates (``meta(n, "origin")``), which
the code generator and ``explain`` show.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence


from .arguments import expressions, expressions_only
from .errors import DiffError
from .ir import Const, Node, annotate, as_node, gc_paused, next_id, same_shape, toposort
from .ops.elementwise import add, astype
from .ops.reductions import sum_
from .ops.shape import zeros_like


@dataclass
class Step:
    """One row of the backward pass: a node, its adjoint, and what it passed on."""
    node: Node
    adjoint: Node
    contributions: list = field(default_factory=list)   # (input, adjoint contribution)


@dataclass
class GradTable:
    adjoints: dict          # node id -> accumulated adjoint
    steps: list             # Step, in the order they were taken (reverse topological)
    order: list             # the nodes on a path from wrt to the outputs, inputs first


def unbroadcast(g: Node, shape: tuple) -> Node:
    """Sum an adjoint of a broadcast result back to an operand's ``shape``."""
    if same_shape(g.shape, shape):
        return g
    lead = g.ndim - len(shape)
    if lead < 0:
        raise DiffError(f"internal: adjoint of shape {g.shape} is smaller than operand {shape}")
    if lead:
        g = sum_(g, tuple(range(lead)))
    ones = tuple(i for i, d in enumerate(shape) if d == 1 and g.shape[i] != 1)
    if ones:
        g = sum_(g, ones, True)
    return g


def _check_differentiable(node: Node, what: str) -> None:
    if node.dtype.kind not in "f":
        raise DiffError(f"cannot differentiate with respect to {what} of dtype {node.dtype}: "
                        f"only floating-point inputs are differentiable")


def backprop(outputs: Sequence[Node], cotangents: Sequence[Node],
             wrt: Sequence[Node]) -> GradTable:
    """Run the backward pass from ``outputs`` seeded with ``cotangents``."""
    with gc_paused():
        return _backprop(outputs, cotangents, wrt)


def _backprop(outputs, cotangents, wrt) -> GradTable:
    wrt_ids = {w.id for w in wrt}
    order_all = toposort(outputs)
    depends: set[int] = set()   # nodes that depend on some wrt
    for node in order_all:
        if node.id in wrt_ids or any(i.id in depends for i in node.inputs):
            depends.add(node.id)
    order = [n for n in order_all if n.id in depends]
    table: dict[int, Node] = {}
    for out, ct in zip(outputs, cotangents):
        if out.id in depends:
            table[out.id] = add(table[out.id], ct) if out.id in table else ct
    steps = []
    for node in reversed(order):
        g = table.get(node.id)
        if g is None or not node.inputs:
            continue
        if node.op.vjp is None:
            continue  # not differentiable (comparisons): no adjoint flows through
        mark = next_id()
        adjoints = node.op.vjp(g, node)
        step = Step(node, g)
        for inp, a in zip(node.inputs, adjoints):
            if a is None or inp.id not in depends:
                continue
            a = unbroadcast(as_node(a, inp), inp.shape)
            step.contributions.append((inp, a))
            table[inp.id] = add(table[inp.id], a) if inp.id in table else a
        for new in _created_since(mark, [a for _, a in step.contributions]
                                  + [table[i.id] for i, _ in step.contributions]):
            annotate(new, origin=node)
        steps.append(step)
    return GradTable(table, steps, order)


def _created_since(mark: int, roots: list[Node]) -> list[Node]:
    """The nodes reachable from ``roots`` that were created after ``mark``."""
    found, stack, seen = [], [r for r in roots if r.id >= mark], set()
    while stack:
        node = stack.pop()
        if node.id in seen:
            continue
        seen.add(node.id)
        found.append(node)
        stack.extend(i for i in node.inputs if i.id >= mark)
    return found


def grad(cost: Node, wrt: Node | Sequence[Node]) -> Node | list[Node]:
    """d cost / d wrt as expressions: one node for one ``wrt``, a list for a list.

    ``cost`` must be 0-d. A ``wrt`` that ``cost`` does not depend on gets zeros of
    its shape.
    """
    if not isinstance(cost, Node):
        raise DiffError(f"grad: the cost must be an expression, not {type(cost).__name__}")
    wrts, single = expressions(wrt, "grad", "wrt")
    if cost.ndim != 0:
        raise DiffError(f"grad: the cost must be a scalar (0-d), but it has shape {cost.shape}; "
                        f"use sd.jacobian or sd.vjp for non-scalar outputs")
    _check_differentiable(cost, "a cost")
    for w in wrts:
        _check_differentiable(w, _describe(w))
    table = backprop([cost], [Const(1.0, cost.dtype)], wrts)
    results = []
    for w in wrts:
        g = _adjoint_of(table, w)
        annotate(g, grad_of=(cost, w))
        results.append(g)
    return results[0] if single else results


def _seeds(fn: str, primals: list[Node], seeds: Any, what: str) -> list[Node]:
    """Cotangents (tangents) as nodes, one per output (input), of its shape."""
    values = list(seeds) if isinstance(seeds, (list, tuple)) else [seeds]
    if len(values) != len(primals):
        raise DiffError(f"{fn}: {len(primals)} {'outputs' if what == 'cotangent' else 'inputs'}"
                        f" but {len(values)} {what}s")
    try:
        nodes = [as_node(v, p) for v, p in zip(values, primals)]
    except TypeError as err:
        raise DiffError(f"{fn}: the {what}s must be expressions, arrays or numbers ({err})") \
            from None
    for p, n in zip(primals, nodes):
        if not same_shape(p.shape, n.shape) and None not in p.shape + n.shape:
            raise DiffError(f"{fn}: {what} of shape {n.shape} for a value of shape {p.shape}")
    return nodes


def _adjoint_of(table: GradTable, w: Node) -> Node:
    g = table.adjoints.get(w.id)
    return zeros_like(w) if g is None else _cast(g, w)


@expressions_only
def vjp(outputs: Node | Sequence[Node], wrt: Node | Sequence[Node],
        cotangents: Any) -> Node | list[Node]:
    """Vector-Jacobian products: sum over outputs of cotangent · d output / d wrt."""
    outs, _ = expressions(outputs, "vjp", "outputs")
    wrts, single = expressions(wrt, "vjp", "wrt")
    cts = _seeds("vjp", outs, cotangents, "cotangent")
    for w in wrts:
        _check_differentiable(w, _describe(w))
    table = backprop(outs, cts, wrts)
    results = [_adjoint_of(table, w) for w in wrts]
    return results[0] if single else results


@expressions_only
def jvp(outputs: Node | Sequence[Node], wrt: Node | Sequence[Node],
        tangents: Any) -> Node | list[Node]:
    """Jacobian-vector products (forward mode): d output along the tangents of ``wrt``."""
    outs, single = expressions(outputs, "jvp", "outputs")
    wrts, _ = expressions(wrt, "jvp", "wrt")
    for w in wrts:
        _check_differentiable(w, _describe(w))
    table: dict[int, Node] = {w.id: t for w, t in zip(wrts, _seeds("jvp", wrts, tangents,
                                                                    "tangent"))}
    for node in toposort(outs):
        if node.id in table or not node.inputs or node.op.jvp is None:
            continue
        ts = tuple(table.get(i.id) for i in node.inputs)
        if all(t is None for t in ts):
            continue
        t = node.op.jvp(ts, node)
        if t is not None:
            table[node.id] = t
    results = [_cast(table[o.id], o) if o.id in table else zeros_like(o) for o in outs]
    return results[0] if single else results


def _cast(g: Node, like: Node) -> Node:
    """Derivatives keep the precision of what they differentiate (float32 stays float32),
    as in JAX, even where a rule's constants promoted them."""
    if g.dtype != like.dtype and like.dtype.kind == "f":
        return astype(g, like.dtype)
    return g


def _describe(node: Node) -> str:
    return f"input {node.name!r}" if node.op.name == "var" else f"a node ({node.op.name})"
