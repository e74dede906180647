"""``simplify_report``: what simplification did to a graph (the rules that fired, how
often, the size before and after), with the graph view marking the nodes it made.
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Sequence

from ..rewrite import simplify
from ..ir import Node
from ..printing import to_text
from .graph import GraphView, show
from .nodes import as_list, short


@dataclass
class SimplifyReport:
    """``simplify_report``'s result: the graph before and after, and the rules that
    fired (name -> count, most frequent first)."""
    before: list[Node]
    after: list[Node]
    fired: dict[str, int]
    nodes_before: int
    nodes_after: int
    rounds: int | None = None
    seconds: float | None = None
    single: bool = True

    @property
    def result(self) -> Node | list[Node]:
        """The simplified expression (a list for a list)."""
        return self.after[0] if self.single else list(self.after)

    def show(self, engine: str = "auto") -> GraphView:
        """The simplified graph, with the nodes simplification made marked as rewritten."""
        return show(self.after, engine, before=self.before)

    def _summary(self) -> str:
        text = f"simplify: {self.nodes_before} -> {self.nodes_after} op nodes"
        extra = []
        if self.rounds is not None:
            extra.append(f"{self.rounds} round{'s' if self.rounds != 1 else ''}")
        if self.seconds is not None:
            extra.append(f"{self.seconds * 1e3:.1f} ms")
        fired = sum(self.fired.values())
        extra.append(f"{fired} rewrite{'s' if fired != 1 else ''}")
        return text + " (" + ", ".join(extra) + ")"

    def _pairs(self) -> list[tuple[str, str]]:
        return [(short(to_text(b), 300), short(to_text(a), 300))
                for b, a in zip(self.before, self.after)]

    def __str__(self) -> str:
        lines = [self._summary()]
        if self.fired:
            lines.append("rules fired:")
            lines += [f"  {count:5d}  {name}" for name, count in self.fired.items()]
        for k, (b, a) in enumerate(self._pairs()):
            label = "" if self.single else f" [{k}]"
            lines += [f"before{label}: {b}", f"after{label}:  {a}"]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<symdiff.SimplifyReport: {self.nodes_before} -> {self.nodes_after} op nodes>"

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><td style='text-align:left'><code>{html.escape(name)}</code></td>"
                       f"<td>{count}</td></tr>" for name, count in self.fired.items())
        table = (f"<table><thead><tr><th style='text-align:left'>rule</th><th>fired</th>"
                 f"</tr></thead><tbody>{rows}</tbody></table>" if rows
                 else "<p>No rule fired.</p>")
        pairs = "".join(f"<tr><td style='text-align:left'><code>{html.escape(b)}</code></td>"
                        f"<td style='text-align:left'><code>{html.escape(a)}</code></td></tr>"
                        for b, a in self._pairs())
        return (f"<div class='symdiff-simplify'><p><b>{html.escape(self._summary())}</b></p>"
                f"{table}<table><thead><tr><th style='text-align:left'>before</th>"
                f"<th style='text-align:left'>after</th></tr></thead><tbody>{pairs}</tbody>"
                f"</table></div>")


def simplify_report(expr: Node | Sequence[Node]) -> SimplifyReport:
    """Simplify ``expr`` and report what happened: the rules that fired, how often,
    and the number of op nodes before and after. ``.result`` is the simplified
    expression, ``.show()`` its graph with the rewritten nodes marked."""
    single = isinstance(expr, Node)
    before = as_list(expr)
    after, trace = simplify(before, trace=True)
    fired: dict[str, int] = {}
    for name, count in sorted(trace.fired.items(), key=lambda item: (-item[1], str(item[0]))):
        fired[str(name)] = int(count)
    return SimplifyReport(before, as_list(after), fired, trace.nodes_before, trace.nodes_after,
                          rounds=trace.rounds, seconds=trace.seconds, single=single)
