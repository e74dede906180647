"""The graph as data and as a drawing: ``to_networkx``, ``to_dot``, ``GraphView``,
``show``.

``to_networkx`` is the one description of the graph both renderers draw from:
Graphviz's ``dot`` (fed ``to_dot``) when it is installed, otherwise the built-in
layered layout (``svg.py``).
"""
from __future__ import annotations

import html
import re
import shutil
import subprocess
from typing import Mapping, Sequence

from ..arguments import takes_expressions
from ..ir import Node, meta, toposort
from ..printing import const_text, format_graph, to_text, type_str
from .nodes import (FILL, KINDS, LEGEND, STROKE, as_list, attrs_text, definition, node_classes,
                    node_kind, node_names, rewrite_rule, short)
from .svg import layered_svg

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

    outs = as_list(outputs)
    names = node_names(outs)
    out_index: dict[int, int] = {}
    for k, o in enumerate(outs):
        out_index.setdefault(o.id, k)
    old = {n.id for n in toposort(as_list(before))} if before is not None else None
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


def _output_note(node: Node, index: int, names: Mapping[int, str]) -> str:
    grad_of = meta(node, "grad_of")
    if grad_of is not None:
        wrt = grad_of[1]
        wrt_name = wrt.name if wrt.op.name == "var" else names.get(wrt.id, "?")
        return f"\u2202/\u2202{wrt_name}"
    return f"output {index}"


def _label(node: Node, names: Mapping[int, str]) -> str:
    if node.op.name == "var":
        return node.name
    if node.op.name == "const":
        return short(const_text(node.value), 16)
    head = f"{names[node.id]}: " + (node.op.symbol or node.op.name)
    attrs = attrs_text(node)
    if attrs and node.op.name not in ("broadcast_to", "reshape"):
        head += f" ({short(attrs, 24)})"
    return head


def _title(node: Node, names: Mapping[int, str], origin: Node | None, rule: str | None,
           note: str) -> str:
    lines = [f"{names[node.id]}: {type_str(node)} = {definition(node, names)}"]
    if origin is not None:
        lines.append(f"derivative of {names.get(origin.id, '?')} = "
                     f"{definition(origin, names)}")
    if rule:
        lines.append(f"rewritten by rule {rule}")
    if note:
        lines.append(note)
    if node.op.name not in ("var", "const"):
        lines.append(short(to_text(node), 120))
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
        shape = {"input": "ellipse", "const": "plaintext"}.get(data["kind"], "box")
        label = data["label"] + "\n" + data["type"]
        if data["is_output"]:
            label += "\n" + data["output"]
        attrs = {"id": f"n{nid}", "class": node_classes(data), "label": label,
                 "tooltip": data["title"], "shape": shape, "fillcolor": FILL[style],
                 "color": STROKE[style]}
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
        self.outputs = as_list(outputs)
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
        return layered_svg(self.graph)

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
