"""Graph rewrites: simplification, numerical stabilization and specialization.

``simplify(expr_or_list)`` runs the phases of ``rules.PHASES`` in order --
canonicalize (constant folding, identities, like terms and powers, canonical
operand order), stabilize (``log(sigmoid x) -> -softplus(-x)``, NaN-safe
``where`` gradients...), specialize (``x**2 -> square(x)``, ``sum(x*y) -> x @ y``)
-- and repeats the round until nothing changes (at most ``MAX_ROUNDS``), so the
result is a fixpoint: ``simplify(simplify(e)) is simplify(e)``.

Rules are data: one table per phase, in ``canonicalize.py``, ``stabilize.py`` and
``specialize.py`` (guards they share in ``guards.py``; ``rules.py`` lists the phases in
order). The engine is ``engine.py``, patterns are ``pattern.py``; sums and products
are read and rebuilt in normal form by ``sums.py`` and ``products.py`` (costed by
``cost.py``), factor rules are ``factors.py``, and what a run remembers is
``memo.py``. Dead code needs no rule: a graph is what its outputs reach, and code is
generated from a topological walk of the outputs, so a subexpression a
rewrite disconnects (``f(x) * 0 -> 0``) is never computed.
"""
from __future__ import annotations

import time
from typing import Sequence

from ..ir import Node, gc_paused
from .engine import Phase, Rule, RewriteCycleError, Trace, count_ops, rule, rule_fn
from .memo import Memo
from .pattern import P, Hole
from .rules import CANONICALIZE, FACTOR_RULES, PHASES, SPECIALIZE, STABILIZE

MAX_ROUNDS = 8

__all__ = ["simplify", "run", "Trace", "Phase", "Rule", "rule", "rule_fn", "P", "Hole",
           "RewriteCycleError", "PHASES", "CANONICALIZE", "STABILIZE", "SPECIALIZE",
           "count_ops", "all_rules"]


def run(outputs: Sequence[Node], phases: Sequence[Phase] | None = None,
        max_rounds: int = MAX_ROUNDS, strict: bool = False, *,
        symmetric_inputs: bool = False) -> tuple[list[Node], Trace]:
    """Rewrite ``outputs`` with ``phases`` (default: all) to a fixpoint; also the trace.

    ``symmetric_inputs``: take the variables declared symmetric to be so (``S.T -> S``);
    the result has the same values at symmetric arguments, not the same derivatives
    (see ``Memo``), so only graphs that are compiled, not differentiated, are run so."""
    phases = PHASES if phases is None else list(phases)
    outputs = list(outputs)
    trace = Trace(nodes_before=count_ops(outputs))
    start = time.perf_counter()
    with gc_paused():
        outputs = _rounds(outputs, phases, trace, max_rounds, strict, symmetric_inputs)
    trace.seconds = time.perf_counter() - start
    trace.nodes_after = count_ops(outputs)
    return outputs, trace


def _rounds(outputs: list[Node], phases: Sequence[Phase], trace: Trace, max_rounds: int,
            strict: bool, symmetric_inputs: bool = False) -> list[Node]:
    """The phases in turn until a round changes nothing, with one memo for them all (freed
    on return, before the collector is back)."""
    memo = Memo(symmetric_inputs)   # readings and built nodes, for every phase and round
    settled: dict[int, set] = {}    # per phase: the nodes it leaves as they are
    for _ in range(max_rounds):
        before = outputs
        for phase in phases:
            outputs = phase.run(outputs, trace, strict=strict, memo=memo,
                                settled=settled.setdefault(id(phase), set()))
        trace.rounds += 1
        if all(a is b for a, b in zip(before, outputs)):
            break
    return outputs


def simplify(expr: Node | Sequence[Node], *, trace: bool = False):
    """Simplify an expression (returns an expression) or a list of them (returns a list).

    With ``trace=True`` also return the ``Trace``: which rules fired, how often,
    and the number of op nodes before and after.
    """
    single = isinstance(expr, Node)
    outputs, tr = run([expr] if single else list(expr))
    result = outputs[0] if single else outputs
    return (result, tr) if trace else result


def all_rules() -> list[tuple[str, str]]:
    """(phase, rule name) for every rule, factor rules included."""
    out = [(phase.name, r.name) for phase in PHASES for r in phase.rules]
    out += [(STABILIZE.name, r.name) for r in FACTOR_RULES]
    return out
