"""Seeing the graph: networkx and DOT export, an SVG graph view, the grad-table
explanation of reverse mode, and a report of what simplification did.

Conventions
- Nodes are named as in ``format_graph``: variables by their name, small
  constants by their value, every other node ``t0, t1, ...`` in topological
  order. The same names appear in the graph view, in ``explain`` and in the node
  listing, so the three can be read side by side.
- A node's *kind* is ``input`` (a variable), ``const``, ``derivative`` (a node
  that ``grad`` added: it carries an ``origin`` annotation naming the forward node
  it differentiates) or ``forward`` (everything else). Independently, a node is
  *rewritten* when the rewrite engine produced it (a ``rule`` annotation), and
  an *output* when it is one of the nodes asked for.
- Display objects render in Jupyter (``_repr_svg_``, ``_repr_html_``) and as
  plain text in a terminal (``__str__``), and expose their content as data.
- Nothing here changes the graph: display only reads it.
- The SVG view uses Graphviz's ``dot`` when it is installed and otherwise a
  layered layout computed here (networkx topological generations), so it works
  with nothing but ``pip install``. In both, each graph node is one SVG ``<g>``
  whose ``class`` lists ``node``, its kind, and ``rewritten``/``output`` if so,
  with a ``<title>`` (the hover text) giving its definition, type and origin.
"""
from __future__ import annotations

import html
import itertools
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from .arguments import expressions_only, takes_expressions
from .ir import Const, Node, meta, toposort
from .printing import _const_text, to_text, type_str

__all__ = ["to_networkx", "to_dot", "show", "GraphView", "explain", "Explanation",
           "ExplainRow", "simplify_report", "SimplifyReport"]

KINDS = ("input", "const", "forward", "derivative")

# Fill colours, one per kind (and one for rewritten nodes), shared by both renderers.
FILL = {"input": "#cfe2ff", "const": "#eeeeee", "forward": "#ffffff",
        "derivative": "#ffd8a8", "rewritten": "#c3f0ca"}
STROKE = {"input": "#3b6fb6", "const": "#888888", "forward": "#333333",
          "derivative": "#d9480f", "rewritten": "#2b8a3e"}
LEGEND = (("input", "input variable"), ("const", "constant"), ("forward", "forward node"),
          ("derivative", "derivative node (added by grad)"),
          ("rewritten", "rewritten node (simplify)"))

_SYMBOL = {"add": "+", "sub": "\u2212", "mul": "\u00d7", "div": "/", "matmul": "@",
           "pow": "**", "neg": "\u2212x"}

_uid = itertools.count()


# ==================================================================================
# Naming and classifying nodes
# ==================================================================================

def _as_list(outputs: Node | Sequence[Node]) -> list[Node]:
    return [outputs] if isinstance(outputs, Node) else list(outputs)


def node_names(outputs: Node | Sequence[Node]) -> dict[int, str]:
    """Node id -> the name ``format_graph`` gives it (``x``, ``0.5``, ``t3``)."""
    names: dict[int, str] = {}
    counter = 0
    for node in toposort(_as_list(outputs)):
        if node.op.name == "var":
            names[node.id] = node.name
        elif node.op.name == "const" and node.value.size <= 16:
            names[node.id] = _const_text(node.value)[0]
        else:
            names[node.id] = f"t{counter}"
            counter += 1
    return names


def node_kind(node: Node) -> str:
    """``input``, ``const``, ``derivative`` or ``forward``."""
    if node.op.name == "var":
        return "input"
    if node.op.name == "const":
        return "const"
    if meta(node, "origin") is not None:
        return "derivative"
    return "forward"


def rewrite_rule(node: Node) -> str | None:
    """The name of the rewrite rule that produced this node, if any."""
    for key in ("rule", "rewritten_by", "rewrite"):
        value = meta(node, key)
        if value is not None:
            return value if isinstance(value, str) else getattr(value, "name", str(value))
    return None


def _attrs_text(node: Node) -> str:
    if node.op.name in ("var", "const"):
        return ""
    parts = []
    for key, value in node.attrs:
        if value is None or value is False:
            continue
        if isinstance(value, tuple) and len(value) == 1:
            value = value[0]
        parts.append(f"{key}={value}")
    return ", ".join(parts)


def _definition(node: Node, names: Mapping[int, str]) -> str:
    """``sigmoid t2`` style: the op applied to named inputs."""
    if node.op.name == "var":
        return "input"
    if node.op.name == "const":
        return "const " + _short(_const_text(node.value)[0], 40)
    args = " ".join(names.get(i.id, "?") for i in node.inputs)
    attrs = _attrs_text(node)
    return f"{node.op.name} {args}" + (f" [{attrs}]" if attrs else "")


def _short(text: str, width: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "\u2026"


def _output_note(node: Node, index: int, names: Mapping[int, str]) -> str:
    grad_of = meta(node, "grad_of")
    if grad_of is not None:
        wrt = grad_of[1]
        wrt_name = wrt.name if wrt.op.name == "var" else names.get(wrt.id, "?")
        return f"\u2202/\u2202{wrt_name}"
    return f"output {index}"


# ==================================================================================
# networkx and DOT
# ==================================================================================

@takes_expressions
def to_networkx(outputs: Node | Sequence[Node], *, before: Node | Sequence[Node] | None = None):
    """The graph as an ``nx.DiGraph``: one node per IR node (keyed by ``Node.id``),
    edges from each input to its consumer. With ``before`` (the graph a rewrite
    started from), op nodes that are not in it count as rewritten.

    Node attributes: ``name``, ``op``, ``label``, ``shape``, ``dtype``, ``type``,
    ``kind`` (input, const, forward, derivative), ``rewritten`` (the rule name or
    None), ``is_output``, ``output`` (its note, e.g. ``∂/∂W``), ``origin`` (the
    name of the forward node a derivative node differentiates), ``title`` (the
    hover text) and ``expr`` (the ``Node``). Edge attributes: ``index`` (the
    argument position; ``indices`` when a node uses the same input twice).
    """
    import networkx as nx

    outs = _as_list(outputs)
    names = node_names(outs)
    out_index: dict[int, int] = {}
    for k, o in enumerate(outs):
        out_index.setdefault(o.id, k)
    old = {n.id for n in toposort(_as_list(before))} if before is not None else None
    graph = nx.DiGraph()
    for node in toposort(outs):
        kind = node_kind(node)
        origin = meta(node, "origin")
        rule = rewrite_rule(node)
        if rule is None and old is not None and node.inputs and node.id not in old:
            rule = "simplify"
        is_output = node.id in out_index
        note = _output_note(node, out_index[node.id], names) if is_output else ""
        graph.add_node(
            node.id, name=names[node.id], op=node.op.name, label=_label(node, names),
            shape=node.shape, dtype=node.dtype.name, type=type_str(node), kind=kind,
            rewritten=rule, is_output=is_output, output=note,
            origin=names.get(origin.id) if origin is not None else None,
            title=_title(node, names, origin, rule, note), expr=node)
        for k, inp in enumerate(node.inputs):
            if graph.has_edge(inp.id, node.id):
                graph.edges[inp.id, node.id]["indices"] += (k,)
            else:
                graph.add_edge(inp.id, node.id, index=k, indices=(k,))
    graph.graph["outputs"] = [o.id for o in outs]
    return graph


def _label(node: Node, names: Mapping[int, str]) -> str:
    if node.op.name == "var":
        return node.name
    if node.op.name == "const":
        return _short(_const_text(node.value)[0], 16)
    head = f"{names[node.id]}: " + _SYMBOL.get(node.op.name, node.op.name)
    attrs = _attrs_text(node)
    if attrs and node.op.name not in ("broadcast_to", "reshape"):
        head += f" ({_short(attrs, 24)})"
    return head


def _title(node: Node, names: Mapping[int, str], origin: Node | None, rule: str | None,
           note: str) -> str:
    lines = [f"{names[node.id]}: {type_str(node)} = {_definition(node, names)}"]
    if origin is not None:
        lines.append(f"derivative of {names.get(origin.id, '?')} = "
                     f"{_definition(origin, names)}")
    if rule:
        lines.append(f"rewritten by rule {rule}")
    if note:
        lines.append(note)
    if node.op.name not in ("var", "const"):
        lines.append(_short(to_text(node), 120))
    return "\n".join(lines)


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


@takes_expressions
def to_dot(outputs: Node | Sequence[Node], *, legend: bool = True,
           before: Node | Sequence[Node] | None = None) -> str:
    """The graph in Graphviz's DOT language, styled as the SVG view: fill by kind,
    a bold double border on outputs, shapes in the labels, hover text in tooltips,
    and an SVG ``class`` on every node (``node derivative output`` ...)."""
    graph = to_networkx(outputs, before=before)
    lines = ["digraph symdiff {",
             '  graph [rankdir=TB, fontname="Helvetica", fontsize=10, nodesep=0.25, '
             'ranksep=0.35];',
             '  node [fontname="Helvetica", fontsize=10, style="filled", height=0.3];',
             '  edge [color="#555555", arrowsize=0.6];']
    for nid, data in graph.nodes(data=True):
        style = "rewritten" if data["rewritten"] else data["kind"]
        classes = _classes(data)
        shape = {"input": "ellipse", "const": "plaintext"}.get(data["kind"], "box")
        label = data["label"] + "\n" + data["type"]
        if data["is_output"]:
            label += "\n" + data["output"]
        attrs = {"id": f"n{nid}", "class": classes, "label": label, "tooltip": data["title"],
                 "shape": shape, "fillcolor": FILL[style], "color": STROKE[style]}
        if data["is_output"]:
            attrs.update(peripheries="2", penwidth="1.5")
        if data["kind"] == "const":
            attrs["fillcolor"] = "none"
        body = ", ".join(f"{k}={_dot_quote(v)}" for k, v in attrs.items())
        lines.append(f"  n{nid} [{body}];")
    for a, b, data in graph.edges(data=True):
        derivative = graph.nodes[b]["kind"] == "derivative"
        style = ', color="#d9480f"' if derivative else ""
        lines.append(f"  n{a} -> n{b} [class=\"edge\"{style}];")
    if legend:
        rows = "".join(
            f'<TR><TD BGCOLOR="{FILL[k]}" COLOR="{STROKE[k]}" BORDER="1" WIDTH="14"> </TD>'
            f'<TD ALIGN="LEFT">{html.escape(t)}'
            f"</TD></TR>" for k, t in LEGEND)
        rows += ('<TR><TD BORDER="2"> </TD><TD ALIGN="LEFT">output (double border)</TD></TR>')
        lines.append(f'  label=<<TABLE BORDER="0" CELLSPACING="2">{rows}</TABLE>>;')
        lines.append('  labelloc="b"; labeljust="l";')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _classes(data: Mapping[str, Any]) -> str:
    classes = ["node", data["kind"]]
    if data["rewritten"]:
        classes.append("rewritten")
    if data["is_output"]:
        classes.append("output")
    return " ".join(classes)


# ==================================================================================
# The graph view
# ==================================================================================

class GraphView:
    """A drawing of the graph of some outputs. In Jupyter it shows as SVG.

    ``engine`` is ``"auto"`` (Graphviz's ``dot`` if installed, else the built-in
    layout), ``"dot"`` or ``"python"``. ``.svg`` is the drawing, ``.dot`` the DOT
    text, ``.graph`` the networkx graph. ``before``: the graph a rewrite started
    from, to mark the nodes the rewrite made.
    """

    def __init__(self, outputs: Node | Sequence[Node], engine: str = "auto", *,
                 before: Node | Sequence[Node] | None = None) -> None:
        if engine not in ("auto", "dot", "python"):
            raise ValueError(f"engine must be 'auto', 'dot' or 'python', not {engine!r}")
        self.outputs = _as_list(outputs)
        self.before = before
        self.graph = to_networkx(self.outputs, before=before)
        self.engine = engine
        self._svg: str | None = None

    @property
    def dot(self) -> str:
        return to_dot(self.outputs, before=self.before)

    @property
    def svg(self) -> str:
        if self._svg is None:
            self._svg = self._render()
        return self._svg

    def _render(self) -> str:
        exe = shutil.which("dot") if self.engine in ("auto", "dot") else None
        if self.engine == "dot" and exe is None:
            raise RuntimeError("Graphviz's dot is not installed; use engine='python'")
        if exe is not None:
            try:
                done = subprocess.run([exe, "-Tsvg"], input=self.dot, capture_output=True,
                                      text=True, timeout=60, check=True)
                self.engine_used = "dot"
                return self._titles(_strip_prolog(done.stdout))
            except (OSError, subprocess.SubprocessError):
                if self.engine == "dot":
                    raise
        self.engine_used = "python"
        return _layered_svg(self.graph)

    def _titles(self, svg: str) -> str:
        # Graphviz titles a node with its DOT name; show the definition on hover instead.
        def title(match: re.Match) -> str:
            data = self.graph.nodes.get(int(match.group(1)))
            if data is None:
                return match.group(0)
            return f"<title>{html.escape(data['title'])}</title>"
        return re.sub(r"<title>n(\d+)</title>", title, svg)

    def _repr_svg_(self) -> str:
        return self.svg

    def save(self, path: str) -> None:
        """Write the drawing (``.svg``) or the DOT text (``.dot``/``.gv``)."""
        text = self.dot if path.endswith((".dot", ".gv")) else self.svg
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)

    def __str__(self) -> str:
        from .printing import format_graph
        return format_graph(self.outputs)

    def __repr__(self) -> str:
        kinds = {k: 0 for k in KINDS}
        for _, kind in self.graph.nodes(data="kind"):
            kinds[kind] += 1
        parts = ", ".join(f"{n} {k}" for k, n in kinds.items() if n)
        return f"<symdiff.GraphView: {self.graph.number_of_nodes()} nodes ({parts})>"


@takes_expressions
def show(outputs: Node | Sequence[Node], engine: str = "auto", *,
         before: Node | Sequence[Node] | None = None) -> GraphView:
    """A graph view of ``outputs`` (e.g. ``[cost, *grads]``): SVG in Jupyter, with
    forward, derivative and rewritten nodes coloured apart, inputs and outputs
    marked, types in the labels and the full definition on hover. Pass ``before``
    (the unsimplified outputs) to mark the nodes that simplification made."""
    return GraphView(outputs, engine, before=before)


def _strip_prolog(svg: str) -> str:
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else svg


# -- the built-in layered layout --------------------------------------------------------

_CHAR_W, _LINE_H, _PAD_X, _GAP_X, _GAP_Y, _MARGIN = 6.6, 13.0, 10.0, 18.0, 42.0, 16.0


def _layers(graph) -> list[list[int]]:
    """Rows of nodes: each node one row below its lowest input; sources sit just
    above their first consumer rather than all at the top."""
    import networkx as nx

    level: dict[int, int] = {}
    for depth, generation in enumerate(nx.topological_generations(graph)):
        for n in generation:
            level[n] = depth
    for n in graph.nodes:
        succ = [level[s] for s in graph.successors(n)]
        if graph.in_degree(n) == 0 and succ:
            level[n] = min(succ) - 1
    rows: list[list[int]] = [[] for _ in range(max(level.values(), default=-1) + 1)]
    for n in graph.nodes:  # graph order is topological, which keeps rows stable
        rows[level[n]].append(n)
    # A few barycentre sweeps reduce crossings.
    for _ in range(4):
        for r in range(1, len(rows)):
            _sort_row(rows[r], rows[r - 1], graph.predecessors)
        for r in range(len(rows) - 2, -1, -1):
            _sort_row(rows[r], rows[r + 1], graph.successors)
    return rows


def _sort_row(row: list[int], fixed: list[int], neighbours) -> None:
    pos = {n: i for i, n in enumerate(fixed)}
    old = {n: i for i, n in enumerate(row)}
    key = {n: _mean([pos[m] for m in neighbours(n) if m in pos], old[n]) for n in row}
    row.sort(key=lambda n: (key[n], old[n]))


def _mean(values: list[float], default: float) -> float:
    return sum(values) / len(values) if values else default


def _box_lines(data: Mapping[str, Any]) -> list[str]:
    lines = [data["label"], data["type"]]
    if data["is_output"]:
        lines.append(data["output"])
    return lines


def _layered_svg(graph) -> str:
    rows = _layers(graph)
    size: dict[int, tuple[float, float]] = {}
    for n, data in graph.nodes(data=True):
        lines = _box_lines(data)
        width = max(len(line) for line in lines) * _CHAR_W + 2 * _PAD_X
        size[n] = (max(width, 36.0), len(lines) * _LINE_H + 8)
    row_width = [sum(size[n][0] for n in row) + _GAP_X * max(len(row) - 1, 0) for row in rows]
    row_height = [max((size[n][1] for n in row), default=0) for row in rows]
    width = max(row_width, default=0) + 2 * _MARGIN
    width = max(width, 300.0)
    pos: dict[int, tuple[float, float]] = {}
    y = _MARGIN
    for row, rw, rh in zip(rows, row_width, row_height):
        x = (width - rw) / 2
        for n in row:
            w, h = size[n]
            pos[n] = (x + w / 2, y + rh / 2)
            x += w + _GAP_X
        y += rh + _GAP_Y
    legend_top = y - _GAP_Y + 24
    height = legend_top + 18 * (len(LEGEND) + 1) + _MARGIN
    uid = next(_uid)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
           f'viewBox="0 0 {width:.0f} {height:.0f}" class="symdiff-graph" '
           f'font-family="Helvetica, Arial, sans-serif" font-size="11">',
           f'<defs><marker id="arrow{uid}" viewBox="0 0 10 10" refX="10" refY="5" '
           f'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
           f'<path d="M 0 0 L 10 5 L 0 10 z" fill="#555555"/></marker></defs>',
           '<g class="edges">']
    for a, b in graph.edges:
        (xa, ya), (xb, yb) = pos[a], pos[b]
        ya += size[a][1] / 2
        yb -= size[b][1] / 2
        mid = (ya + yb) / 2
        colour = STROKE["derivative"] if graph.nodes[b]["kind"] == "derivative" else "#555555"
        out.append(f'<path class="edge" d="M {xa:.1f} {ya:.1f} C {xa:.1f} {mid:.1f} '
                   f'{xb:.1f} {mid:.1f} {xb:.1f} {yb:.1f}" fill="none" stroke="{colour}" '
                   f'stroke-width="1" marker-end="url(#arrow{uid})"/>')
    out.append("</g>")
    for n, data in graph.nodes(data=True):
        out.append(_svg_node(n, data, pos[n], size[n]))
    out.append(_svg_legend(_MARGIN, legend_top))
    out.append("</svg>")
    return "\n".join(out)


def _svg_node(n: int, data: Mapping[str, Any], center: tuple[float, float],
              box: tuple[float, float]) -> str:
    (cx, cy), (w, h) = center, box
    style = "rewritten" if data["rewritten"] else data["kind"]
    fill, stroke = FILL[style], STROKE[style]
    x0, y0 = cx - w / 2, cy - h / 2
    parts = [f'<g id="n{n}" class="{_classes(data)}" data-op="{html.escape(data["op"])}">',
             f"<title>{html.escape(data['title'])}</title>"]
    radius = h / 2 if data["kind"] == "input" else 3
    dash = ' stroke-dasharray="3 2"' if data["kind"] == "const" else ""
    width = 1.6 if data["is_output"] else 1.0
    parts.append(f'<rect x="{x0:.1f}" y="{y0:.1f}" width="{w:.1f}" height="{h:.1f}" '
                 f'rx="{radius:.1f}" fill="{fill}" stroke="{stroke}" stroke-width="{width}"'
                 f'{dash}/>')
    if data["is_output"]:
        parts.append(f'<rect x="{x0 - 3:.1f}" y="{y0 - 3:.1f}" width="{w + 6:.1f}" '
                     f'height="{h + 6:.1f}" rx="{radius + 3:.1f}" fill="none" '
                     f'stroke="{stroke}" stroke-width="1"/>')
    lines = _box_lines(data)
    top = cy - (len(lines) - 1) * _LINE_H / 2 + 4
    for k, line in enumerate(lines):
        weight = ' font-weight="bold"' if k == 0 else ' fill="#555555" font-size="9"'
        parts.append(f'<text x="{cx:.1f}" y="{top + k * _LINE_H:.1f}" text-anchor="middle"'
                     f'{weight}>{html.escape(line)}</text>')
    parts.append("</g>")
    return "".join(parts)


def _svg_legend(x: float, y: float) -> str:
    parts = ['<g class="legend">']
    entries = list(LEGEND) + [("output", "output (double border)")]
    for k, (kind, text) in enumerate(entries):
        yy = y + 18 * k
        fill = FILL.get(kind, "#ffffff")
        stroke = STROKE.get(kind, "#333333")
        parts.append(f'<rect x="{x:.1f}" y="{yy:.1f}" width="14" height="12" rx="2" '
                     f'fill="{fill}" stroke="{stroke}"/>')
        if kind == "output":
            parts.append(f'<rect x="{x - 2:.1f}" y="{yy - 2:.1f}" width="18" height="16" '
                         f'rx="3" fill="none" stroke="{stroke}"/>')
        parts.append(f'<text x="{x + 22:.1f}" y="{yy + 10:.1f}">{html.escape(text)}</text>')
    parts.append("</g>")
    return "".join(parts)


# ==================================================================================
# explain: the grad table, step by step
# ==================================================================================

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
    import textwrap
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


def _print_named(expr: Node, names: Mapping[int, str]) -> str:
    """Python-syntax text of ``expr``, printing named nodes as their names (leaves)."""
    from .ops.core import P_ATOM
    done: dict[int, tuple[str, int]] = {}
    stack: list[tuple[Node, bool]] = [(expr, False)]
    while stack:
        node, expanded = stack.pop()
        if node.id in done:
            continue
        if node.id in names:
            done[node.id] = (names[node.id], P_ATOM)
            continue
        if node.op.name in ("var", "const"):
            done[node.id] = (to_text(node), P_ATOM)
            continue
        if not expanded:
            stack.append((node, True))
            stack.extend((i, False) for i in node.inputs if i.id not in done)
            continue

        def child(n: Node, min_prec: int) -> str:
            text, prec = done[n.id]
            return f"({text})" if prec < min_prec else text
        done[node.id] = node.op.text(node, child)
    return done[expr.id][0]


def _local_rule(consumer: Node, index: int, c_name: str, n_name: str,
                names: Mapping[int, str]) -> str:
    """The local derivative of ``consumer`` with respect to its input ``index``, from
    the op's VJP rule applied to a placeholder adjoint."""
    from .ir import Var
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
            partial = _print_named(contribution.inputs[1], named)
        if partial is not None:
            return f"d{c_name}/d{n_name} = {partial}{note}"
    if not isinstance(contribution, Node):
        return f"g_{c_name} -> {contribution!r}{note}"
    return f"g_{c_name} -> {_print_named(contribution, named)}{note}"


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
    from .autodiff import backprop
    from .errors import DiffError

    if not isinstance(cost, Node):
        raise DiffError(f"explain: the cost must be an expression, not {type(cost).__name__}")
    if cost.ndim != 0:
        raise DiffError(f"explain: the cost must be a scalar (0-d), but it has shape "
                        f"{cost.shape}")
    wrts = _as_list(wrt)
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
    forward = [(names[n.id], type_str(n), _definition(n, names)) for n in toposort([cost])
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
                    terms.append(_print_named(contribution, named))
        adjoint = table.adjoints.get(node.id)
        if node is cost:
            gradient = "1"
        elif terms:
            gradient = " + ".join(f"({t})" if len(terms) > 1 and " " in t else t for t in terms)
        else:
            gradient = "0 (no gradient flows here)"
        result.rows.append(ExplainRow(
            step=step, name=name, node=node, op=node.op.name,
            definition=_definition(node, names), type=type_str(node),
            consumers=[names[c.id] for c in consumers[node.id]], rules=rules,
            gradient=gradient, adjoint=adjoint, is_wrt=node.id in wrt_ids,
            is_cost=node is cost))
    if at is not None:
        from .interpret import evaluate
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


# ==================================================================================
# What simplification did
# ==================================================================================

def _count_ops(outputs: Sequence[Node]) -> int:
    return sum(1 for n in toposort(outputs) if n.inputs)


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
        return [(_short(to_text(b), 300), _short(to_text(a), 300))
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
    from . import rewrite

    single = isinstance(expr, Node)
    before = _as_list(expr)
    trace = None
    try:
        after, trace = rewrite.simplify(before, trace=True)
    except TypeError:   # a simplify that keeps no trace
        after = rewrite.simplify(before)
    after = _as_list(after)
    fired: dict[str, int] = {}
    counts = getattr(trace, "fired", None) or {}
    for name, count in sorted(counts.items(), key=lambda item: (-item[1], str(item[0]))):
        fired[str(name)] = int(count)
    return SimplifyReport(before, after, fired, _count_ops(before), _count_ops(after),
                          rounds=getattr(trace, "rounds", None),
                          seconds=getattr(trace, "seconds", None), single=single)
