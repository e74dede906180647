"""Seeing the graph: networkx and DOT export, an SVG graph view, the grad-table
explanation of reverse mode, and a report of what simplification did.

Modules: ``nodes`` (names, kinds and colours of nodes), ``graph`` (``to_networkx``,
``to_dot``, ``GraphView``, ``show``), ``layout`` and ``svg`` (the built-in layered
drawing), ``gradtable`` (``explain``, the grad table), ``report`` (``simplify_report``). Text is
printed by ``symdiff.printing``, the one expression printer.

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

from .gradtable import ExplainRow, Explanation, explain
from .graph import GraphView, show, to_dot, to_networkx
from .nodes import (FILL, KINDS, LEGEND, STROKE, node_kind,  # noqa: F401  (public, as before)
                    node_names, rewrite_rule)
from .report import SimplifyReport, simplify_report

__all__ = ["to_networkx", "to_dot", "show", "GraphView", "explain", "Explanation",
           "ExplainRow", "simplify_report", "SimplifyReport"]
