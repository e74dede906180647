"""The plan of a generated function: every decision about the computation, made once
on the IR; a printer (``numpy_printer``) then only spells it.

What the plan decides
- Schedule: one topological sort of the outputs, in which a node computed from
  inputs and constants alone moves to just before its first user (an array such as
  ``0.0002 * W1`` then lives only while it is needed: less peak memory).
- Python floats: 0-d float64 nodes whose op has a ``math`` form are computed on
  Python floats when there are enough of them (NumPy's 0-d calls cost ~20x more);
  a float used once, by float code, is written into its user's expression. Where
  Python's ``math`` raises (a domain error, an overflow, a division by zero) NumPy
  gives inf or nan, so such a function falls back to a NumPy-only copy of itself.
- Liveness, from the graph: a value dies after the last node that reads it, or
  reads a view of it.
- Buffers: an elementwise result is written into a dead temporary of the same
  shape and dtype (``np.multiply(a, b, out=t3)``, or ``t3 *= b`` in place).
- Kept buffers: big float64 temporaries are written into arrays that the function
  keeps between calls (see ``KEEP_MIN_SIZE``). When lengths are known only at run
  time, big arguments take a copy of the function that keeps them, small ones the
  plain copy.
- Fused pairs (``FUSED_PAIRS`` in the op table): ``logsumexp`` and the ``softmax``
  of its gradient are computed by one call.
- ``del``: an array temporary is deleted after the last statement that names it,
  so that its memory is back before later arrays are made.
- Outputs are never written into a buffer that is kept, and never alias an input,
  a constant or another output: a later call cannot change what an earlier call
  returned.

``readable=True`` turns off buffer reuse, in-place and ``out=`` forms, kept buffers,
``del`` and Python floats: one NumPy function, a new array for each node.

The plan is plain data (``statements.py``), computed once; every body of a function
walks the same schedule.
"""
from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np

from ..ir import Node, Var, meta, same_shape, toposort
from ..ops.reductions import FUSED_PAIRS
from .statements import (
    Backward, Body, Buffers, Check, Compute, Differentiates, Dispatch, Free, Kept, Pair, Plan,
    Return, Statement,
)

# Buffers kept across calls. A fresh array of a few hundred KB or more is memory the
# allocator maps and, once freed, unmaps again: touching it page-faults on every
# call (~0.9 ms a call in the 784-256-10 MLP, more than all its elementwise work).
KEEP_MIN_SIZE = 1 << 14   # elements, when the shape is static (128 KB of float64)
MIN_FLOAT_NODES = 8       # fewer 0-d nodes than this stay in NumPy (no fallback copy)
MAX_INLINE_DEPTH = 6      # Python-float expressions nest at most this deep in one statement
_FLOAT_OK = (np.dtype("float64"), np.dtype("bool"))


def const_literal(value: np.ndarray) -> str | None:
    """A Python literal for a 0-d constant, or None when it needs a name."""
    if value.shape != ():
        return None
    v = value.item()
    if isinstance(v, bool):
        return repr(v)
    if isinstance(v, float):
        if math.isinf(v):
            return "np.inf" if v > 0 else "(-np.inf)"
        if math.isnan(v):
            return "np.nan"
    if value.dtype.kind == "f" and value.dtype != np.float64:
        return None   # keep float32 constants float32
    text = repr(v)
    return f"({text})" if text.startswith("-") else text


def make_plan(inputs: list[Var], outputs: list[Node], name: str, single: bool, *,
              documented: list[Node] | None = None, keep_buffers: bool = True,
              readable: bool = False, other_arrays: bool = False) -> Plan:
    """The plan of the function ``name(*inputs) -> outputs``; with ``other_arrays``, it
    first sends arguments of other array libraries to ``_other_arrays``."""
    schedule = _Schedule(inputs, outputs)
    options = dict(reuse=not readable, free=not readable, steps=not readable)
    main = _walk(schedule, name, floats=not readable and schedule.worth_floats(), **options)
    fallback = kept_variant = None
    if main.floats:
        fallback = _walk(schedule, f"_{name}_numpy", floats=False, **options)
    elif keep_buffers and not readable:
        kept = _walk(schedule, name, floats=False, keep=True, **options)
        if kept.keeps:
            # Lengths known only at run time: big arguments take the copy that keeps its
            # big temporaries, small ones the plain code (keeping costs a little per
            # array, which only pays when allocating is what costs).
            sized = tuple(v.name for v in inputs if v.ndim >= 2 and None in v.shape)
            if not sized:
                main = kept
            else:
                kept_variant = replace(kept, name=f"_{name}_kept")
                main = _walk(schedule, name, floats=False,
                             dispatch=Dispatch(sized, kept_variant.name), **options)
    return Plan(name, tuple(inputs), tuple(outputs), tuple(documented or outputs), single,
                schedule.constants, main, fallback, kept_variant, other_arrays)


# -- the schedule and what is known from it alone ----------------------------------------

class _Schedule:
    """The order of the nodes, their consumers, liveness, fused pairs and constant
    names: computed once, shared by every body of the function."""

    def __init__(self, inputs: list[Var], outputs: list[Node]) -> None:
        self.inputs, self.outputs = inputs, outputs
        self.order = _late_leaves(toposort(outputs), outputs)
        self.consumers: dict[int, list[Node]] = {}
        for node in self.order:
            for i in node.inputs:
                self.consumers.setdefault(i.id, []).append(node)
        self.output_ids = {o.id for o in outputs}
        self.on_floats = {n.id for n in self.order if n.inputs and _on_floats(n)}
        self.liveness = _Liveness(self.order, outputs)
        self.fused = _fused_pairs(self.order, self.consumers)
        names = _Names({v.name for v in inputs})
        self.constants = tuple((names.new("c"), n) for n in self.order
                               if n.op.name == "const" and const_literal(n.value) is None)

    def worth_floats(self) -> bool:
        computed = sum(1 for n in self.order if n.inputs)
        on_floats = len(self.on_floats)
        # A NumPy fallback doubles the source: worth it for scalar-heavy code only.
        return on_floats >= MIN_FLOAT_NODES or bool(computed and on_floats == computed)


def _late_leaves(order: list[Node], outputs: list[Node]) -> list[Node]:
    """``order`` with each node computed from inputs and constants alone moved to just
    before its first user."""
    first_use: dict[int, int] = {}
    for k, node in enumerate(order):
        for i in node.inputs:
            first_use.setdefault(i.id, k)
    output_ids = {o.id for o in outputs}
    deferred: dict[int, list[Node]] = {}
    for node in order:
        if (node.inputs and node.id not in output_ids and node.id in first_use
                and all(_is_leaf(i) for i in node.inputs)):
            deferred.setdefault(first_use[node.id], []).append(node)
    moved = {n.id for group in deferred.values() for n in group}
    result: list[Node] = []
    for k, node in enumerate(order):
        result.extend(deferred.get(k, ()))
        if node.id not in moved:
            result.append(node)
    return result


def _fused_pairs(order: list[Node], consumers: dict[int, list[Node]]) -> dict[int, tuple]:
    """node id -> (first, second, fusion) for the pairs of ``FUSED_PAIRS`` in the graph."""
    fused: dict[int, tuple] = {}
    for node in order:
        for fusion in FUSED_PAIRS:
            if node.op.name != fusion.first or node.id in fused:
                continue
            for other in consumers.get(node.inputs[0].id, []):
                if (other.op.name == fusion.second and other.id not in fused
                        and fusion.match(node, other)):
                    fused[node.id] = fused[other.id] = (node, other, fusion)
                    break
    return fused


class _Liveness:
    """When each value dies, and which values may share their memory with others.

    A value is dead once its last consumer (or the last consumer of a view of it)
    has run. Outputs and what they view are never reused. Shapes with unknown
    lengths are compared by class: an elementwise result has the shape of its
    full-rank operand, since unknown lengths do not broadcast.
    """

    def __init__(self, order: list[Node], outputs: list[Node]) -> None:
        self.position = {n.id: k for k, n in enumerate(order)}
        self.last_use: dict[int, int] = {}
        for k, node in enumerate(order):
            for i in node.inputs:
                self.last_use[i.id] = k
        self.keep = {o.id for o in outputs}
        for node in reversed(order):   # consumers first, so chains of views propagate
            if _is_view(node):
                base = node.inputs[0]
                self.last_use[base.id] = max(self.last_use.get(base.id, 0),
                                             self.last_use.get(node.id, len(order)))
                if node.id in self.keep:
                    self.keep.add(base.id)
        self.shape_class: dict[int, Any] = {}
        for node in order:
            self.shape_class[node.id] = self._classify(node)

    def _classify(self, node: Node) -> Any:
        if None not in node.shape:
            return node.shape
        if node.op.elementwise:
            for i in node.inputs:
                if i.shape == node.shape:
                    return self.shape_class[i.id]
        if node.op.name in ("broadcast_like", "reshape_like"):
            return self.shape_class[node.inputs[1].id]
        if node.op.name == "zeros_like":
            return self.shape_class[node.inputs[0].id]
        return ("node", node.id)

    def key(self, node: Node) -> tuple:
        return (self.shape_class[node.id], node.dtype.str)

    def dies_at(self, value: Node, node: Node) -> bool:
        return self.last_use.get(value.id) == self.position[node.id]

    def reusable(self, node: Node) -> bool:
        """Its buffer may be written by a later node once it is dead."""
        return (not _is_leaf(node) and not _is_view(node) and node.id not in self.keep
                and node.shape != () and (node.op.block is None or node.op.fresh))


class _Allocator:
    """The buffers of one body: dead temporaries free for reuse, and kept buffers."""

    def __init__(self, liveness: _Liveness, reuse: bool) -> None:
        self.live, self.reuse = liveness, reuse
        self.free: dict[tuple, list[str]] = {}
        self.in_place: set[int] = set()   # values whose buffer a consumer's result took
        self.kept: set[str] = set()       # buffers kept across calls: never an output's

    def buffer_for(self, node: Node, names: dict[int, str]) -> str | None:
        """A dead buffer for an elementwise result, or None for a new array."""
        if not self.reuse or not node.op.elementwise or node.shape == ():
            return None
        key = self.live.key(node)
        # An operand used for the last time here can take the result in place
        # (a ufunc reads each element before writing it).
        for i in node.inputs:
            if (self.live.dies_at(i, node) and self.live.reusable(i)
                    and self.live.key(i) == key and self.may_hold(node, names[i.id])):
                self.in_place.add(i.id)
                return names[i.id]
        pool = [b for b in self.free.get(key, ()) if self.may_hold(node, b)]
        if not pool:
            return None
        self.free[key].remove(pool[-1])
        return pool[-1]

    def take_first(self, node: Node, names: dict[int, str]) -> str | None:
        """The first operand's buffer, when it is used for the last time here."""
        x = node.inputs[0]
        if (self.reuse and self.live.dies_at(x, node) and self.live.reusable(x)
                and x.dtype == node.dtype and all(i is not x for i in node.inputs[1:])
                and self.may_hold(node, names[x.id])):
            self.in_place.add(x.id)
            return names[x.id]
        return None

    def may_hold(self, node: Node, buffer: str) -> bool:
        """An output (or what an output views) is never put in a kept buffer."""
        return buffer not in self.kept or node.id not in self.live.keep

    def may_keep(self, node: Node) -> bool:
        return node.id not in self.live.keep and not _is_view(node)

    def done(self, node: Node, names: dict[int, str]) -> None:
        """``node`` has run: operands it read for the last time free their buffers."""
        for i in {i.id: i for i in node.inputs}.values():
            if (self.live.dies_at(i, node) and self.live.reusable(i)
                    and i.id not in self.in_place):
                self.free.setdefault(self.live.key(i), []).append(names[i.id])


# -- one body -----------------------------------------------------------------------------

def _walk(schedule: _Schedule, name: str, *, floats: bool, reuse: bool, free: bool,
          steps: bool, keep: bool = False, dispatch: Dispatch | None = None) -> Body:
    """The statements of one function over the schedule."""
    walk = _Walk(schedule, floats, reuse, steps, keep)
    statements = walk.run(dispatch)
    if free:
        statements = _free_dead_arrays(statements, walk.dead_candidates(), walk.names)
    if walk.alloc.kept:
        statements.insert(walk.prologue, Buffers(take=True))
        statements.append(Buffers(take=False))
    statements.append(walk.returns())
    return Body(name, tuple(statements), frozenset(walk.floats), bool(walk.alloc.kept))


class _Walk:
    """The node-by-node decisions of one body (see the module docstring)."""

    def __init__(self, schedule: _Schedule, floats: bool, reuse: bool, steps: bool,
                 keep: bool) -> None:
        self.s, self.use_floats, self.use_steps, self.keep = schedule, floats, steps, keep
        self.temps = _Names({v.name for v in schedule.inputs})
        self.names: dict[int, str] = {v.id: v.name for v in schedule.inputs}
        self.names.update((n.id, c) for c, n in schedule.constants)
        self.floats: set[int] = set()    # nodes whose value is a Python float
        self.depth: dict[int, int] = {}  # nesting of an expression written inline
        self.alloc = _Allocator(schedule.liveness, reuse)
        self.out: list[Statement] = []
        self.prologue = 0

    def run(self, dispatch: Dispatch | None) -> list[Statement]:
        for v in self.s.inputs:
            as_float = self.use_floats and _float_input(v, self.s.consumers.get(v.id, []))
            if as_float:
                self.floats.add(v.id)
            self.out.append(Check(v, as_float))
        self.prologue = len(self.out)
        if dispatch is not None:
            self.out.append(dispatch)
        origin_now, backward = None, False
        for node in self.s.order:
            if _is_leaf(node):
                continue
            on_floats = self.use_floats and node.id in self.s.on_floats
            if on_floats and self._inline(node):
                self.out.append(Compute(node, None, "float"))
                continue
            origin = None if meta(node, "forward") else meta(node, "origin")
            if origin is not None and origin is not origin_now:
                if not backward:
                    self.out.append(Backward())
                    backward = True
                self.out.append(Differentiates(origin))
            origin_now = origin
            if on_floats:
                self.names[node.id] = self.temps.new()
                self.out.append(Compute(node, self.names[node.id], "float"))
            elif node.id in self.s.fused:
                self._pair(node)
            else:
                self._array(node)
        return self.out

    def _inline(self, node: Node) -> bool:
        """A Python float used once by float code: written into its user's expression."""
        self.floats.add(node.id)
        users = self.s.consumers.get(node.id, [])
        self.depth[node.id] = 1 + max((self.depth.get(i.id, 0) for i in node.inputs),
                                      default=0)
        if (len(users) == 1 and node.id not in self.s.output_ids
                and users[0].id in self.s.on_floats
                and self.depth[node.id] < MAX_INLINE_DEPTH):
            return True
        self.depth[node.id] = 0
        return False

    def _pair(self, node: Node) -> None:
        first, second, fusion = self.s.fused[node.id]
        if node.id not in self.names:   # the first of the two: one call computes both
            pair = (self.temps.new(), self.temps.new())
            self.names[first.id], self.names[second.id] = pair
            self.out.append(Pair(first, second, fusion, pair))
        self.alloc.done(node, self.names)

    def _array(self, node: Node) -> None:
        op = node.op
        steps = self.use_steps and op.steps and node.shape != () and node.dtype.kind == "f"
        if op.overwrites_first:
            target = self.alloc.take_first(node, self.names)
        else:
            target = (self.alloc.buffer_for(node, self.names)
                      if op.out is not None or steps else None)
        shape = _kept_shape(node) if self.keep and target is None else None
        kept = None
        if shape is not None and self.alloc.may_keep(node):
            # A big temporary: its memory is kept for the next call.
            target = self.temps.new()
            kept = Kept(len(self.alloc.kept), **shape)
            self.alloc.kept.add(target)
        name = target or self.temps.new()
        self.names[node.id] = name
        if kept is not None and op.name == "matmul":   # into a C-contiguous buffer
            form = "dot"
        elif steps:
            form = "steps"
        elif op.block is not None:
            form = "block"
        else:
            form = "out" if target is not None else "call"
        self.out.append(Compute(node, name, form, target, kept))
        self.alloc.done(node, self.names)

    def returns(self) -> Return:
        """Outputs: fresh arrays, never an input, a constant, a view of one, or each other."""
        values, seen = [], set()
        for o in self.s.outputs:
            how = ""
            if o.id in self.floats:
                how = "float"
            elif o.shape == () and (_is_view(o) or _array_0d(o) or _may_alias(o)
                                    or all(i.op.name == "const" for i in o.inputs)):
                how = "scalar"   # a NumPy scalar, as reductions give
            elif o.id in seen or _may_alias(o):
                how = "copy"
            seen.add(o.id)
            values.append((o, how))
        return Return(tuple(values))

    def dead_candidates(self) -> set[str]:
        """The names of array temporaries, which ``del`` may free."""
        arrays = {self.names[n.id] for n in self.s.order
                  if n.shape != () and n.id not in self.s.output_ids and not _may_alias(n)
                  and n.id in self.names}
        outputs = {self.names.get(o.id) for o in self.s.outputs}
        return arrays - outputs - self.alloc.kept


def _free_dead_arrays(statements: list[Statement], arrays: set[str],
                      names: dict[int, str]) -> list[Statement]:
    """``del`` each array temporary after the last statement that names it, so that its
    memory is returned before later arrays are made (a dead temporary held until the
    return would add to the peak memory of the call). After the last statement that
    makes a new value nothing more is allocated: no need to free anything there."""
    if not arrays:
        return statements
    last: dict[str, int] = {}
    last_new = -1
    for k, statement in enumerate(statements):
        for name in _names_in(statement, names):
            if name in arrays:
                last[name] = k
        if _makes_new(statement):
            last_new = k
    dels: dict[int, list[str]] = {}
    for name, k in last.items():
        if k < last_new:
            dels.setdefault(k, []).append(name)
    out: list[Statement] = []
    for k, statement in enumerate(statements):
        out.append(statement)
        if k in dels:
            out.append(Free(tuple(sorted(dels[k], key=_temp_number))))
    return out


def _names_in(statement: Statement, names: dict[int, str]) -> set[str]:
    """The names a statement writes: its own and its operands' (a float expression
    written inline reads only 0-d values, never array temporaries)."""
    if isinstance(statement, Compute) and statement.name is not None:
        return {statement.name} | {names.get(i.id, "") for i in statement.node.inputs}
    if isinstance(statement, Pair):
        return set(statement.names) | {names.get(statement.first.inputs[0].id, "")}
    return set()


def _makes_new(statement: Statement) -> bool:
    """True for statements that assign a new value to a name."""
    if isinstance(statement, Check):
        return not statement.as_float
    if isinstance(statement, Pair):
        return True
    if isinstance(statement, Compute) and statement.name is not None:
        if statement.kept is not None or statement.form in ("float", "call"):
            return True
        return statement.form in ("steps", "block") and statement.target is None
    return False


def _temp_number(name: str) -> tuple:
    digits = name.lstrip("tc")
    return (len(digits), digits)


class _Names:
    """Temporaries t0, t1, ... (and constants c0, ...) that never collide with a
    parameter name."""

    def __init__(self, taken: set[str]) -> None:
        self.taken, self.n = taken, 0

    def new(self, prefix: str = "t") -> str:
        while True:
            name = f"{prefix}{self.n}"
            self.n += 1
            if name not in self.taken:
                return name


# -- properties of nodes ---------------------------------------------------------------

def _is_leaf(node: Node) -> bool:
    return node.op.name in ("var", "const")


def _is_view(node: Node) -> bool:
    """Its value may share memory with its first operand: never written into, and
    copied when returned if it could alias an input or a constant."""
    return not _is_leaf(node) and node.op.view


def _array_0d(node: Node) -> bool:
    """A 0-d value that is a 0-d array or a Python float rather than a NumPy scalar."""
    return not _is_leaf(node) and node.op.array_0d


def _may_alias(node: Node) -> bool:
    """Its value may be (a view of) an input or a constant."""
    while _is_view(node):
        node = node.inputs[0]
    return _is_leaf(node)


def _float_input(v: Var, consumers: list[Node]) -> bool:
    # A Python float is weakly typed: fine wherever the result is float64 anyway.
    return v.shape == () and v.dtype == np.float64 and all(c.dtype in _FLOAT_OK
                                                           for c in consumers)


def _on_floats(node: Node) -> bool:
    return (node.shape == () and node.dtype == np.float64 and node.op.math is not None
            and all(i.shape == () and i.dtype == np.float64 for i in node.inputs))


def float_arg_needs_cast(node: Node) -> bool:
    """A Python float operand of ``node`` is passed as ``np.float64`` (NumPy would
    otherwise take it as weakly typed and keep a float32 or integer result)."""
    return node.dtype not in _FLOAT_OK


def _kept_shape(node: Node) -> dict | None:
    """How to size ``node``'s kept buffer (``Kept``'s fields), when it is a big float64
    temporary worth keeping and its op can write into a given array; else None."""
    op = node.op
    if node.dtype != np.float64 or node.ndim == 0:
        return None
    if op.name == "matmul":
        # written by ndarray.dot: matmul for operands of at most 2 dimensions, and its
        # out= must have the dtype of the product
        if any(i.ndim > 2 or i.dtype != np.float64 for i in node.inputs):
            return None
    elif not (op.elementwise and (op.out is not None or op.steps)):
        return None
    elif all(_is_leaf(i) for i in node.inputs):
        return None   # placed next to its user, often to become an output in place
    if None not in node.shape:
        return {"static": node.shape} if int(np.prod(node.shape)) >= KEEP_MIN_SIZE else None
    if node.ndim < 2:        # unknown lengths: matrices and up only
        return None
    if op.name == "matmul":
        a, b = node.inputs
        return {} if a.ndim == b.ndim == 2 else None
    for k, i in enumerate(node.inputs):
        if i.ndim == node.ndim and same_shape(i.shape, node.shape):
            return {"like": k}
    return None
