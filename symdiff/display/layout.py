"""The built-in layered layout, used when Graphviz is not installed.

Nodes sit in rows (networkx topological generations: each node one row below
its lowest input), ordered within a row by a few barycentre sweeps to reduce
crossings. Boxes are sized from their text with a fixed character width, rows
are centred, and room is left at the bottom for the legend. Units are SVG
pixels; ``svg.py`` draws what this computes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

CHAR_W = 6.6       # width of one character of the label font
LINE_H = 13.0      # height of one text line
PAD_X = 10.0       # space left and right of a box's text
GAP_X = 18.0       # between boxes in a row
GAP_Y = 42.0       # between rows
MARGIN = 16.0      # around the drawing
LEGEND_ROW = 18.0  # height of one legend entry
MIN_BOX_W = 36.0
MIN_WIDTH = 300.0


@dataclass(frozen=True)
class Layout:
    """Where everything goes: ``center`` and ``size`` per node id, the canvas size, and
    the top of the legend."""
    center: dict[int, tuple[float, float]]
    size: dict[int, tuple[float, float]]
    width: float
    height: float
    legend_top: float


def box_lines(data: Mapping[str, Any]) -> list[str]:
    """The text lines of a node's box: its label, its type, and its output note."""
    lines = [data["label"], data["type"]]
    if data["is_output"]:
        lines.append(data["output"])
    return lines


def layered_layout(graph, legend_entries: int) -> Layout:
    """The layout of a ``to_networkx`` graph, with room for ``legend_entries`` rows
    of legend below it."""
    rows = layers(graph)
    size: dict[int, tuple[float, float]] = {}
    for n, data in graph.nodes(data=True):
        lines = box_lines(data)
        width = max(len(line) for line in lines) * CHAR_W + 2 * PAD_X
        size[n] = (max(width, MIN_BOX_W), len(lines) * LINE_H + 8)
    row_width = [sum(size[n][0] for n in row) + GAP_X * max(len(row) - 1, 0) for row in rows]
    row_height = [max((size[n][1] for n in row), default=0) for row in rows]
    width = max(row_width, default=0) + 2 * MARGIN
    width = max(width, MIN_WIDTH)
    center: dict[int, tuple[float, float]] = {}
    y = MARGIN
    for row, rw, rh in zip(rows, row_width, row_height):
        x = (width - rw) / 2
        for n in row:
            w, h = size[n]
            center[n] = (x + w / 2, y + rh / 2)
            x += w + GAP_X
        y += rh + GAP_Y
    legend_top = y - GAP_Y + 24
    height = legend_top + LEGEND_ROW * legend_entries + MARGIN
    return Layout(center, size, width, height, legend_top)


def layers(graph) -> list[list[int]]:
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
