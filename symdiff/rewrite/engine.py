"""The rewrite engine: named rules applied bottom-up to a fixpoint.

Conventions
- A ``Rule`` is data: a name that states the math (``"log(exp(x)) -> x"``), a
  pattern (see ``pattern.py``), a replacement (a template, or a function of the
  match returning a node or ``None`` to decline), and named guards (functions of
  the match). A rule whose pattern is ``None`` is tried on every node of the ops
  it lists (``ops=``) or on every node; its replacement then does the matching.
- A ``Phase`` is a named list of rules. ``Phase.run(outputs)`` rewrites the graph
  bottom-up: a node's inputs are brought to normal form first, the node is
  rebuilt on them (hash-consed; its type is not inferred again when the operands'
  types are unchanged), then the first rule that matches replaces it, and the
  replacement is itself brought to normal form. The walk uses an explicit stack
  (no recursion): a chain of 100,000 nodes rewrites in linear time. A node only
  tries the rules whose pattern could match it (looked up by the ops of the node
  and its operands), and a node no rule applies to, nor below it, is ``settled``: a
  later run of the phase (``simplify``'s next round) does not walk it again.
- A run has a ``Memo`` (``memo.py``): the readings of sums and products and the
  nodes the algebra built. ``Phase.run`` makes one unless given one
  (``rewrite.run`` passes one to every phase and round); a rule gets it as
  ``m.memo``.
- A replacement always has the type of the node it replaces: the engine checks
  the dtype and broadcasts a replacement whose shape is smaller (``broadcast_to``
  for static shapes; ``broadcast_like`` a node certainly of the same shape
  otherwise); a replacement that cannot be made to fit is declined.
- Annotations survive: a new replacement (and every node a rule creates) gets
  the replaced node's ``origin`` (which forward step a derivative node
  differentiates); a new replacement root also gets its ``grad_of``.
- A ``Trace`` counts the rules that fired and the graph size before and after.
  A rule set that cycles (a node rewritten back into itself) raises
  ``RewriteCycleError`` naming the rules of the cycle; a global cap on firings
  stops rule sets that grow without end.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from ..errors import SymdiffError
from ..ir import Const, Node, annotate, broadcast_shapes, make, make_typed, meta, next_id, \
    same_shape, toposort
from ..ops import FUNCTIONS
from .memo import Memo
from .pattern import CONSTANT_LIKE, Pattern, build, const_value

MAX_FIRES_PER_NODE = 50


class RewriteCycleError(SymdiffError, RuntimeError):
    """A rule set keeps rewriting a node back into an earlier form."""


@dataclass(frozen=True)
class Guard:
    """A named condition on a match (``m.x`` is the node bound to hole ``x``)."""
    name: str
    test: Callable[["Match"], bool]

    def __call__(self, m: "Match") -> bool:
        return bool(self.test(m))


class Match:
    """The bindings of a successful match: ``m.X`` or ``m["X"]``; ``m.node`` is the root,
    ``m.memo`` the run's memo."""

    __slots__ = ("node", "env", "memo")

    def __init__(self, node: Node, env: dict, memo: Memo | None = None) -> None:
        self.node, self.env = node, env
        self.memo = memo if memo is not None else Memo()

    def __getattr__(self, name: str) -> Any:
        try:
            return self.env[name]
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, name: str) -> Any:
        return self.env[name]


@dataclass(eq=False)
class Rule:
    """``name``: the math; ``pattern >> replacement`` when ``guards`` all hold."""
    name: str
    pattern: Pattern | None
    replacement: Any
    guards: tuple = ()
    ops: tuple | None = None        # root ops a pattern-less rule is tried on (None: all)

    @property
    def root_ops(self) -> tuple | None:
        if self.pattern is not None and hasattr(self.pattern, "op"):
            return (self.pattern.op,)
        return self.ops

    def __post_init__(self) -> None:
        # a function of the match computes the replacement; otherwise it is a template
        self._computed = callable(self.replacement) and not isinstance(
            self.replacement, (Pattern, Node))

    def apply(self, node: Node, memo: Memo | None = None) -> Node | None:
        """The replacement of ``node``, or None when the rule does not apply."""
        if self.pattern is None:
            if self._computed and not self.guards:     # the common case, directly
                out = self.replacement(Match(node, {}, memo))
                return None if out is node else out
            envs = ({},)
        elif self.pattern.could_match(node):
            envs = self.pattern.match(node, {})
        else:
            return None
        for env in envs:
            m = Match(node, env, memo)
            if self.guards and not all(g(m) for g in self.guards):
                continue
            out = self.replacement(m) if self._computed else build(self.replacement, env, node)
            if out is not None and out is not node:
                return out
        return None


def rule(name: str, pattern_and_replacement: tuple, *guards: Guard) -> Rule:
    """``rule("x * 1 -> x", X * 1 >> X)``: a rule from ``pattern >> replacement``."""
    pattern, replacement = pattern_and_replacement
    return Rule(name, pattern, replacement, tuple(guards))


def rule_fn(name: str, fn: Callable[[Match], Node | None], ops: Iterable[str] | None = None,
            *guards: Guard) -> Rule:
    """A rule whose replacement does its own matching, tried on nodes of ``ops``."""
    return Rule(name, None, fn, tuple(guards), tuple(ops) if ops is not None else None)


@dataclass
class Trace:
    """What a rewrite did: rule name -> times fired, and the graph size around it."""
    fired: Counter = field(default_factory=Counter)
    nodes_before: int = 0
    nodes_after: int = 0
    rounds: int = 0
    seconds: float = 0.0
    declined: Counter = field(default_factory=Counter)   # replacements of the wrong type
    cycles: Counter = field(default_factory=Counter)     # rule names -> cycles stopped

    def __str__(self) -> str:
        lines = [f"{self.nodes_before} -> {self.nodes_after} nodes in {self.rounds} round(s), "
                 f"{self.seconds * 1e3:.1f} ms"]
        for name, count in self.fired.most_common():
            lines.append(f"  {count:5d}  {name}")
        for names, count in self.cycles.items():
            lines.append(f"  cycle stopped {count} time(s): {names}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        from html import escape
        rows = "".join(f"<tr><td>{escape(k)}</td><td>{v}</td></tr>"
                       for k, v in self.fired.most_common())
        return (f"<p>{self.nodes_before} &rarr; {self.nodes_after} nodes</p>"
                f"<table><tr><th>rule</th><th>fired</th></tr>{rows}</table>")


def count_ops(outputs: Sequence[Node]) -> int:
    """The number of op nodes (not variables or constants) the outputs need."""
    return sum(1 for n in toposort(outputs) if n.inputs)


class Phase:
    """A named list of rules, applied together to a fixpoint."""

    def __init__(self, name: str, rules: Sequence[Rule]) -> None:
        self.name = name
        self.rules = list(rules)
        names = [r.name for r in self.rules]
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"phase {name}: duplicate rule names {dup}")
        self._index: dict[str, list[Rule]] = {}
        self._by_signature: dict[tuple, tuple] = {}
        self._generic = [r for r in self.rules if r.root_ops is None]

    def rules_for(self, op_name: str) -> list[Rule]:
        found = self._index.get(op_name)
        if found is None:
            found = [r for r in self.rules if r.root_ops is None or op_name in r.root_ops]
            self._index[op_name] = found
        return found

    def candidates(self, node: Node) -> tuple:
        """The rules to try on ``node``: those of its op whose pattern could match. A
        pattern looks one level down (``Pattern.could_match``), so the answer depends only
        on the ops of the node and its operands and the values of constant operands."""
        signature = (node.op.name, tuple([
            (i.op.name, len(i.inputs), const_value(i) if i.op.name in CONSTANT_LIKE else None)
            for i in node.inputs]))
        found = self._by_signature.get(signature)
        if found is None:
            found = tuple(r for r in self.rules_for(node.op.name)
                          if r.pattern is None or r.pattern.could_match(node))
            if len(self._by_signature) > 10_000:
                self._by_signature.clear()
            self._by_signature[signature] = found
        return found

    def __repr__(self) -> str:
        return f"<Phase {self.name}: {len(self.rules)} rules>"

    def run(self, outputs: Sequence[Node], trace: Trace | None = None, *,
            strict: bool = False, settled: set | None = None,
            memo: Memo | None = None) -> list[Node]:
        """Rewrite ``outputs`` to normal form. A cycle (A -> B -> A) keeps the current
        form and is counted in ``trace.cycles``; with ``strict`` it raises.

        ``settled``: ids of nodes known to be in normal form (no rule of this phase
        applies to them or to any node below them); the walk does not enter them, and
        adds the nodes it finds settled. Pass the same set to later runs of this phase
        on graphs sharing nodes (``simplify``'s rounds). ``memo``: the run's memo (a new
        one by default)."""
        return _Rewriter(self, trace if trace is not None else Trace(), strict, settled,
                         memo if memo is not None else Memo()).run(outputs)


class _Rewriter:
    def __init__(self, phase: Phase, trace: Trace, strict: bool = False,
                 settled: set | None = None, memo: Memo | None = None) -> None:
        self.phase = phase
        self.memo = memo if memo is not None else Memo()
        self.strict = strict
        self.trace = trace
        self.done: dict[int, Node] = {}     # node id -> its normal form
        self.settled: set[int] = set() if settled is None else settled
        self.fires = 0
        self.declines = 0

    def run(self, outputs: Sequence[Node]) -> list[Node]:
        self.outputs = outputs
        self.budget = None                  # counted when the firings could exceed it
        return [self.settle(o) for o in outputs]

    def _over_budget(self) -> bool:
        if self.fires <= MAX_FIRES_PER_NODE * 100:
            return False                    # below the least budget any graph has
        if self.budget is None:
            self.budget = MAX_FIRES_PER_NODE * (len(toposort(self.outputs)) + 100)
        return self.fires > self.budget

    def settle(self, root: Node) -> Node:
        done, settled = self.done, self.settled
        stack: list[Node] = [root]
        opened: set[int] = set()            # nodes whose inputs or replacement are pending
        waiting: dict[int, tuple] = {}      # node id -> (replacement, rule name, rebuilt)
        while stack:
            node = stack[-1]
            node_id = node.id
            if node_id in done:
                stack.pop()
                continue
            if node_id in settled:
                stack.pop()
                done[node_id] = node
                continue
            pending = waiting.get(node_id) if waiting else None
            if pending is not None:
                repl, _, rebuilt = pending
                stack.pop()
                done[node_id] = done[rebuilt.id] = done[repl.id]
                del waiting[node_id]
                opened.discard(node_id)
                continue
            node_inputs = node.inputs
            inputs = [done.get(i.id) for i in node_inputs]
            todo = [i for i, d in zip(node_inputs, inputs) if d is None]
            if todo:
                if node_id in opened:
                    self._cycle(node, waiting, fatal=True)
                opened.add(node_id)
                stack.extend(reversed(todo))
                for i in todo:
                    if i.id in opened:
                        self._cycle(i, waiting, fatal=True)
                continue
            stack.pop()
            rebuilt = node
            for a, b in zip(inputs, node_inputs):
                if a is not b:
                    mark = next_id()
                    rebuilt = _rebuild(node, inputs)
                    if rebuilt.id >= mark:      # new: it differentiates what node did
                        _inherit(node, rebuilt)
                    break
            if rebuilt is not node and rebuilt.id in done:
                done[node_id] = done[rebuilt.id]
                opened.discard(node_id)
                continue
            declines = self.declines
            repl, name = self.rewrite(rebuilt)
            if repl is None:
                done[node_id] = done[rebuilt.id] = rebuilt
                opened.discard(node_id)
                # No rule applies to it, nor below it: a later run need not look again
                # (unless a replacement was declined: the trace counts each attempt).
                if self.declines == declines and all(
                        i.id in settled for i in rebuilt.inputs):
                    settled.add(rebuilt.id)
                continue
            if repl.id in opened or repl.id in waiting:
                # A rewrites to B rewrites to A: keep the current form and say so.
                self._cycle(repl, waiting, name)
                done[node_id] = done[rebuilt.id] = rebuilt
                opened.discard(node_id)
                continue
            opened.add(node_id)
            waiting[node_id] = (repl, name, rebuilt)
            stack.append(node)
            stack.append(repl)
        return done[root.id]

    def rewrite(self, node: Node) -> tuple[Node | None, str | None]:
        mark = next_id()        # nodes from here on are new (a declining rule's included)
        memo = self.memo
        for r in self.phase.candidates(node):
            try:
                out = r.apply(node, memo)
            except (SymdiffError, TypeError, ValueError):
                # A replacement that does not type-check does not apply (NumPy refuses
                # some dtype combinations with a TypeError); the trace shows it.
                self.trace.declined[r.name + " (raised)"] += 1
                self.declines += 1
                out = None
            if out is None:
                continue
            extra: Sequence[str] = ()
            if isinstance(out, tuple):      # (node, names of the sub-rules that fired)
                out, extra = out
            fitted = fit(out, node)
            if fitted is None:
                self.trace.declined[r.name] += 1
                self.declines += 1
                continue
            if fitted is node:
                continue
            self.fires += 1
            if self._over_budget():
                raise RewriteCycleError(
                    f"phase {self.phase.name}: more than {self.budget} rewrites; the rules "
                    f"keep growing the graph (last: {r.name!r})")
            self.trace.fired[r.name] += 1
            for sub in extra:
                self.trace.fired[sub] += 1
            _annotate_new(node, fitted, mark)
            return fitted, r.name
        return None, None

    def _cycle(self, node: Node, waiting: dict, last: str | None = None, fatal=False):
        names = sorted({name for _, name, _ in waiting.values()} | ({last} if last else set()))
        self.trace.cycles[" / ".join(names)] += 1
        if not (fatal or self.strict):
            return
        raise RewriteCycleError(f"phase {self.phase.name}: the rules {names} rewrite a node "
                                f"({node.op.name}) back into itself")


def _rebuild(node: Node, inputs: list) -> Node:
    """``node``'s op on new operands. Types depend on the operands' types only, never on
    their values: operands of the same dtypes and shapes give the node's type again,
    without inferring it (a replacement has its node's type, see ``fit``)."""
    for a, b in zip(inputs, node.inputs):
        if a.dtype != b.dtype or a.shape != b.shape:
            return make(node.op, inputs, node.attrs)
    return make_typed(node.op, tuple(inputs), node.attrs, node.dtype, node.shape)


def _inherit(old: Node, new: Node) -> None:
    items = {k: meta(old, k) for k in ("origin", "grad_of")}
    items = {k: v for k, v in items.items() if v is not None}
    if items:
        annotate(new, **items)


def _annotate_new(old: Node, new: Node, mark: int) -> None:
    """Give the nodes a rule created the origin (and the root the grad_of) of ``old``."""
    if new.id < mark:
        return
    _inherit(old, new)
    # New nodes standing for a forward node are marked forward: a derivative node
    # rewritten into the same form first must not make them look like derivatives.
    origin = meta(old, "origin")
    mark_with = {"origin": origin} if origin is not None else {"forward": True}
    stack, seen = [new], set()
    while stack:
        n = stack.pop()
        if n.id in seen or n.id < mark:
            continue
        seen.add(n.id)
        annotate(n, **mark_with)
        stack.extend(n.inputs)


# -- making a replacement fit ----------------------------------------------------------

SMALL = 64   # constants up to this many elements are folded; larger ones stay broadcasts


def fit(new: Node, old: Node) -> Node | None:
    """``new`` with the dtype and shape of ``old``, or None when it cannot be made to fit."""
    if new.dtype != old.dtype:
        if new.op.name == "const":
            new = Const(new.value.astype(old.dtype))
        else:
            return None
    if len(new.shape) == len(old.shape) and all(
            a == b or (b is None and a is not None and a != 1)
            for a, b in zip(new.shape, old.shape)):
        return new      # the same shape, or one known more precisely (an unknown length
        #                 is never 1: a static 1 would broadcast)
    try:
        if broadcast_shapes(new.shape, old.shape) != old.shape or new.ndim > old.ndim:
            return None
    except SymdiffError:
        return None
    if None not in old.shape:
        if new.op.name == "const" and int(np.prod(old.shape)) <= SMALL:
            return Const(np.broadcast_to(new.value, old.shape).copy())
        return FUNCTIONS["broadcast_to"](new, old.shape)
    ref = same_shape_ref(old)
    if ref is None:
        return None
    return FUNCTIONS["broadcast_like"](new, ref)


def same_shape_ref(node: Node, limit: int = 64) -> Node | None:
    """A node certainly of ``node``'s shape at run time, cheaper than ``node``: found by
    walking down elementwise ops (whose operands of the same static shape have the
    same run-time shape) and the references of ``*_like`` ops. Variables first."""
    found: list[Node] = []
    stack, seen = list(_shape_sources(node)), {node.id}
    while stack and len(seen) < limit:
        n = stack.pop()
        if n.id in seen:
            continue
        seen.add(n.id)
        if same_shape(n.shape, node.shape) and n.op.name != "const":
            if n.op.name == "var":
                return n
            found.append(n)
        stack.extend(_shape_sources(n))
    return found[0] if found else None


def _shape_sources(node: Node) -> list[Node]:
    name = node.op.name
    if node.op.elementwise:
        return [i for i in node.inputs if same_shape(i.shape, node.shape)]
    if name in ("broadcast_like", "reshape_like"):
        return [node.inputs[1]]
    if name == "zeros_like":
        return [node.inputs[0]]
    return []
