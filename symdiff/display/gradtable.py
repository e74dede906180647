"""``explain``: the reverse-mode algorithm on a cost, as the grad table, step by step.

One row per node on a path from ``wrt`` to the cost, in the order the backward
pass visits them. Nodes are named as in the graph view (``node_names``), and
each entry is printed by the expression printer with those names, ``g_c``
standing for the entry of a consumer ``c``.
"""
from __future__ import annotations

import html
import textwrap
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from ..arguments import expressions_only
from ..autodiff import backprop
from ..errors import DiffError
from ..interpret import evaluate
from ..ir import Const, Node, Var, toposort
from ..printing import to_text, type_str
from .nodes import FILL, as_list, definition, node_names


@dataclass
class ExplainRow:
    """One node of the backward pass.

    ``gradient`` is the grad-table entry ``g_n = ∂cost/∂n`` written as the textbook
    writes it, a sum over the node's consumers ``c`` of ``g_c · ∂c/∂n`` (with
    ``g_c`` standing for the consumer's entry); ``adjoint`` is the same entry as
    an expression of the inputs, ready to evaluate or compile.
    """
    step: int
    name: str                    # t3, or the variable's name
    node: Node
    op: str
    definition: str              # "sigmoid t2"
    type: str                    # "f64[2]"
    consumers: list[str]         # names of the consumers on the path to the cost
    rules: list[str]             # one local derivative per (consumer, use of this node)
    gradient: str                # "g_t3*(t3*(1 - t3))"
    adjoint: Node | None         # None where no gradient flows (a condition)
    is_wrt: bool = False
    is_cost: bool = False
    value: Any = None            # with explain(..., at=...)
    grad_value: Any = None


@dataclass
class Explanation:
    """``explain``'s result: rows in the order the backward pass visits them."""
    cost: Node
    wrt: list[Node]
    names: dict
    forward: list[tuple[str, str, str]]   # (name, type, definition) for every forward node
    rows: list[ExplainRow] = field(default_factory=list)
    at: Mapping[Any, Any] | None = None

    def row(self, name_or_node: str | Node) -> ExplainRow:
        """The row of a node, by name (``"t3"``, ``"W1"``) or by node."""
        for r in self.rows:
            if r.node is name_or_node or (isinstance(name_or_node, str)
                                          and r.name == name_or_node):
                return r
        raise KeyError(f"no row for {name_or_node!r}")

    @property
    def gradients(self) -> dict[str, Node | None]:
        """The grad-table entries of the ``wrt`` inputs, by name."""
        return {r.name: r.adjoint for r in self.rows if r.is_wrt}

    # -- text -------------------------------------------------------------------------
    def _header(self) -> list[str]:
        cost = self.names[self.cost.id]
        wrt = ", ".join(self.names[w.id] for w in self.wrt)
        return [f"Reverse mode, step by step: the grad table of {cost} with respect to {wrt}.",
                f"g_n stands for the entry of node n, d{cost}/dn. The table starts with "
                f"g_{cost} = 1; going back from the cost, each entry is the sum over the "
                f"node's consumers c of g_c times the local derivative dc/dn."]

    def _columns(self) -> list[tuple[str, list[str]]]:
        cols = [("step", [str(r.step) for r in self.rows]),
                ("node", [r.name + (" (wrt)" if r.is_wrt else " (cost)" if r.is_cost else "")
                          for r in self.rows]),
                ("definition", [f"{r.definition}" for r in self.rows]),
                ("consumers", [", ".join(r.consumers) or "-" for r in self.rows]),
                ("local derivative", ["\n".join(r.rules) or "seed" for r in self.rows]),
                ("grad table entry", [f"g_{r.name} = {r.gradient}" for r in self.rows])]
        if self.at is not None:
            cols.append(("value", [_fmt_value(r.value) for r in self.rows]))
            cols.append(("gradient value", [_fmt_value(r.grad_value) for r in self.rows]))
        return cols

    def __str__(self) -> str:
        lines = [line for text in self._header() for line in _wrap(text, 88)]
        lines += ["", "Forward pass:"]
        lines += [f"  {name}: {typ} = {definition}" for name, typ, definition in self.forward]
        lines += ["", "Backward pass (reverse topological order):"]
        lines += _text_table(self._columns(), max_width=56)
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<symdiff.Explanation: {len(self.rows)} steps>"

    def _repr_html_(self) -> str:
        cols = self._columns()
        head = "".join(f"<th style='text-align:left'>{html.escape(h)}</th>" for h, _ in cols)
        body = []
        for k, r in enumerate(self.rows):
            colour = (FILL["input"] if r.is_wrt else "#fff3bf" if r.is_cost else "")
            style = f" style='background:{colour}'" if colour else ""
            cells = []
            for c, (_, values) in enumerate(cols):
                text = html.escape(values[k]).replace("\n", "<br>")
                cells.append(f"<td style='text-align:left'>{text}</td>" if c in (0, 1)
                             else f"<td style='text-align:left'><code>{text}</code></td>")
            body.append(f"<tr{style}>{''.join(cells)}</tr>")
        forward = "\n".join(f"{n}: {t} = {d}" for n, t, d in self.forward)
        header = "<br>".join(html.escape(h) for h in self._header())
        return (f"<div class='symdiff-explain'><p>{header}</p>"
                f"<details><summary>Forward pass ({len(self.forward)} nodes)</summary>"
                f"<pre>{html.escape(forward)}</pre></details>"
                f"<table class='symdiff-explain-table'><thead><tr>{head}</tr></thead>"
                f"<tbody>{''.join(body)}</tbody></table></div>")


def _fmt_value(value: Any) -> str:
    if value is None:
        return "-"
    array = np.asarray(value)
    if array.size > 36:
        return f"array of shape {array.shape}"
    text = np.array2string(array, precision=5, suppress_small=True, separator=", ",
                           max_line_width=48)
    return text


def _wrap(text: str, width: int) -> list[str]:
    out: list[str] = []
    for line in text.split("\n"):
        out += textwrap.wrap(line, width, subsequent_indent="  ", break_long_words=True,
                             break_on_hyphens=False) or [""]
    return out


def _text_table(cols: list[tuple[str, list[str]]], max_width: int) -> list[str]:
    """Columns of multi-line cells, aligned, each at most ``max_width`` wide."""
    nrows = len(cols[0][1]) if cols else 0
    cells = [[_wrap(v, max_width) for v in values] for _, values in cols]
    widths = [max([len(h)] + [len(line) for cell in col for line in cell])
              for (h, _), col in zip(cols, cells)]
    lines = ["  ".join(h.ljust(w) for (h, _), w in zip(cols, widths)).rstrip(),
             "  ".join("-" * w for w in widths)]
    for k in range(nrows):
        height = max(len(col[k]) for col in cells)
        for j in range(height):
            parts = [(col[k][j] if j < len(col[k]) else "").ljust(w)
                     for col, w in zip(cells, widths)]
            lines.append("  ".join(parts).rstrip())
    return lines


def _local_rule(consumer: Node, index: int, c_name: str, n_name: str,
                names: Mapping[int, str]) -> str:
    """The local derivative of ``consumer`` with respect to its input ``index``, from
    the op's VJP rule applied to a placeholder adjoint."""
    placeholder = Var(f"__adjoint_of_{c_name}", consumer.shape, consumer.dtype)
    named = dict(names)
    named[placeholder.id] = f"g_{c_name}"
    contribution = consumer.op.vjp(placeholder, consumer)[index]
    if contribution is None:
        return f"d{c_name}/d{n_name}: not differentiable"
    broadcast = consumer.op.elementwise and consumer.inputs[index].shape != consumer.shape
    note = " (summed over broadcast axes)" if broadcast else ""
    if consumer.op.elementwise and isinstance(contribution, Node):
        partial = None
        if contribution is placeholder:
            partial = "1"
        elif contribution.op.name == "neg" and contribution.inputs[0] is placeholder:
            partial = "-1"
        elif contribution.op.name == "mul" and contribution.inputs[0] is placeholder:
            partial = to_text(contribution.inputs[1], names=named)
        if partial is not None:
            return f"d{c_name}/d{n_name} = {partial}{note}"
    if not isinstance(contribution, Node):
        return f"g_{c_name} -> {contribution!r}{note}"
    return f"g_{c_name} -> {to_text(contribution, names=named)}{note}"


@expressions_only
def explain(cost: Node, wrt: Node | Sequence[Node], at: Mapping[Any, Any] | None = None, *,
            cost_name: str | None = None) -> Explanation:
    """The reverse-mode algorithm on ``cost``, one row per node on a path from ``wrt``
    to ``cost``, in the order the backward pass visits them: the node, its
    consumers, the local derivative each consumer contributes, and the grad-table
    entry. With ``at`` (values of the inputs, by variable or name) the rows also
    carry each node's value and its gradient's value. ``cost_name`` names the cost
    in the table (``"J"``) instead of its number.
    """
    if not isinstance(cost, Node):
        raise DiffError(f"explain: the cost must be an expression, not {type(cost).__name__}")
    if cost.ndim != 0:
        raise DiffError(f"explain: the cost must be a scalar (0-d), but it has shape "
                        f"{cost.shape}")
    wrts = as_list(wrt)
    table = backprop([cost], [Const(1.0, cost.dtype)], wrts)
    names = node_names([cost])
    if cost_name and cost.op.name not in ("var", "const"):
        names[cost.id] = cost_name
    steps = {s.node.id: s for s in table.steps}
    on_path = {n.id for n in table.order}
    consumers: dict[int, list[Node]] = {n.id: [] for n in table.order}
    for node in table.order:
        for inp in dict.fromkeys(node.inputs):
            if inp.id in on_path:
                consumers[inp.id].append(node)
    wrt_ids = {w.id for w in wrts}
    forward = [(names[n.id], type_str(n), definition(n, names)) for n in toposort([cost])
               if n.op.name != "const" or n.value.size > 16]
    result = Explanation(cost, wrts, names, forward, at=at)
    for step, node in enumerate(reversed(table.order), start=1):
        name = names[node.id]
        rules, terms = [], []
        for c in consumers[node.id]:
            c_step = steps.get(c.id)
            if c_step is None:
                continue  # no gradient reached c, or c is not differentiable (a comparison)
            c_name = names[c.id]
            named = dict(names)
            if c_step.adjoint.op.name != "const":
                named[c_step.adjoint.id] = f"g_{c_name}"
            for k, inp in enumerate(c.inputs):
                if inp is node:
                    rules.append(_local_rule(c, k, c_name, name, names))
            for inp, contribution in c_step.contributions:
                if inp is node:
                    terms.append(to_text(contribution, names=named))
        adjoint = table.adjoints.get(node.id)
        if node is cost:
            gradient = "1"
        elif terms:
            gradient = " + ".join(f"({t})" if len(terms) > 1 and " " in t else t for t in terms)
        else:
            gradient = "0 (no gradient flows here)"
        result.rows.append(ExplainRow(
            step=step, name=name, node=node, op=node.op.name,
            definition=definition(node, names), type=type_str(node),
            consumers=[names[c.id] for c in consumers[node.id]], rules=rules,
            gradient=gradient, adjoint=adjoint, is_wrt=node.id in wrt_ids,
            is_cost=node is cost))
    if at is not None:
        wanted = [r.node for r in result.rows] + [r.adjoint for r in result.rows
                                                   if r.adjoint is not None]
        values = evaluate(wanted, at)
        k = len(result.rows)
        for r, v in zip(result.rows, values[:k]):
            r.value = v
        rest = iter(values[k:])
        for r in result.rows:
            if r.adjoint is not None:
                r.grad_value = next(rest)
    return result
