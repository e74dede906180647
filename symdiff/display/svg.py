"""SVG for the built-in layout: boxes, curved edges and the legend.

Each graph node is one ``<g>`` whose ``class`` lists ``node``, its kind, and
``rewritten``/``output`` if so, with a ``<title>`` (the hover text), as in the
SVG Graphviz draws from ``to_dot``.
"""
from __future__ import annotations

import html
import itertools
from typing import Any, Mapping

from .layout import LEGEND_ROW, LINE_H, MARGIN, box_lines, layered_layout
from .nodes import FILL, LEGEND, STROKE, node_classes

# Marker ids must be unique in a page that shows several drawings.
_uid = itertools.count()


def layered_svg(graph) -> str:
    """The SVG drawing of a ``to_networkx`` graph, laid out by ``layered_layout``."""
    layout = layered_layout(graph, legend_entries=len(LEGEND) + 1)
    pos, size = layout.center, layout.size
    width, height = layout.width, layout.height
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
    out.append(_svg_legend(MARGIN, layout.legend_top))
    out.append("</svg>")
    return "\n".join(out)


def _svg_node(n: int, data: Mapping[str, Any], center: tuple[float, float],
              box: tuple[float, float]) -> str:
    (cx, cy), (w, h) = center, box
    style = "rewritten" if data["rewritten"] else data["kind"]
    fill, stroke = FILL[style], STROKE[style]
    x0, y0 = cx - w / 2, cy - h / 2
    parts = [f'<g id="n{n}" class="{node_classes(data)}" data-op="{html.escape(data["op"])}">',
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
    lines = box_lines(data)
    top = cy - (len(lines) - 1) * LINE_H / 2 + 4
    for k, line in enumerate(lines):
        weight = ' font-weight="bold"' if k == 0 else ' fill="#555555" font-size="9"'
        parts.append(f'<text x="{cx:.1f}" y="{top + k * LINE_H:.1f}" text-anchor="middle"'
                     f'{weight}>{html.escape(line)}</text>')
    parts.append("</g>")
    return "".join(parts)


def _svg_legend(x: float, y: float) -> str:
    parts = ['<g class="legend">']
    entries = list(LEGEND) + [("output", "output (double border)")]
    for k, (kind, text) in enumerate(entries):
        yy = y + LEGEND_ROW * k
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
