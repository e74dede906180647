"""Naming, classifying and describing nodes, and the colours of each kind.

The graph view, the DOT text and ``explain`` all name and describe nodes with
the functions here, so the three can be read side by side.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from ..ir import Node, meta, toposort
from ..printing import const_text, shorten

KINDS = ("input", "const", "forward", "derivative")

# Fill colours, one per kind (and one for rewritten nodes), shared by both renderers.
FILL = {"input": "#cfe2ff", "const": "#eeeeee", "forward": "#ffffff",
        "derivative": "#ffd8a8", "rewritten": "#c3f0ca"}
STROKE = {"input": "#3b6fb6", "const": "#888888", "forward": "#333333",
          "derivative": "#d9480f", "rewritten": "#2b8a3e"}
LEGEND = (("input", "input variable"), ("const", "constant"), ("forward", "forward node"),
          ("derivative", "derivative node (added by grad)"),
          ("rewritten", "rewritten node (simplify)"))

ELLIPSIS = "\u2026"   # where display cuts a text short; generated code uses "..."


def as_list(outputs: Node | Sequence[Node]) -> list[Node]:
    """One node or several, as a list."""
    return [outputs] if isinstance(outputs, Node) else list(outputs)


def short(text: str, width: int = 80) -> str:
    """``text`` on one line, at most ``width`` characters."""
    return shorten(text, width, ELLIPSIS)


def node_names(outputs: Node | Sequence[Node]) -> dict[int, str]:
    """Node id -> the name ``format_graph`` gives it (``x``, ``0.5``, ``t3``)."""
    names: dict[int, str] = {}
    counter = 0
    for node in toposort(as_list(outputs)):
        if node.op.name == "var":
            names[node.id] = node.name
        elif node.op.name == "const" and node.value.size <= 16:
            names[node.id] = const_text(node.value)
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


def attrs_text(node: Node) -> str:
    """The attributes that are set, ``axis=0, keepdims=True``; empty for leaves."""
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


def definition(node: Node, names: Mapping[int, str]) -> str:
    """``sigmoid t2`` style: the op applied to named inputs."""
    if node.op.name == "var":
        return "input"
    if node.op.name == "const":
        return "const " + short(const_text(node.value), 40)
    args = " ".join(names.get(i.id, "?") for i in node.inputs)
    attrs = attrs_text(node)
    return f"{node.op.name} {args}" + (f" [{attrs}]" if attrs else "")


def node_classes(data: Mapping[str, Any]) -> str:
    """The SVG ``class`` of a node of ``to_networkx``: ``node derivative output``."""
    classes = ["node", data["kind"]]
    if data["rewritten"]:
        classes.append("rewritten")
    if data["is_output"]:
        classes.append("output")
    return " ".join(classes)
