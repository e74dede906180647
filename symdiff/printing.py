"""The expression printers: text, LaTeX, and the one-line-per-node debug listing.

This is the only printer of expressions. Each op's record says how it prints
(``op.text``, ``op.latex``); this module walks the graph and joins the pieces. It
sits just above the op table so that everything can use it: ``str(expr)`` (ir),
the comments and docstrings of generated code (codegen), and the graph views and
``explain`` (display).

``to_text`` prints Python/SymPy syntax: 0-d nodes of functions SymPy lacks are
spelled the SymPy way (``sigmoid`` as ``1/(1 + exp(-x))``), tensor nodes by their
symdiff names, which ``sd.parse`` reads back. Its ``names`` argument prints chosen
nodes as names (``t3``, ``g_t3``) instead of their definitions, as ``explain``
does. Printers walk the graph bottom-up without recursion (a chain of 10,000 ops
prints), and print a shared node once per use: a graph whose printed tree would
be huge prints as its node listing.
"""
from __future__ import annotations

from typing import Callable, Iterable, Mapping

import numpy as np

from .arguments import takes_expression, takes_expressions
from .ir import Node, toposort
from .ops.core import P_ATOM, P_NEG

MAX_TEXT = 200_000  # characters; beyond this a tree print of a DAG would swell


def type_str(node: Node) -> str:
    dims = ",".join("?" if d is None else str(d) for d in node.shape)
    short = {"float64": "f64", "float32": "f32", "int64": "i64", "int32": "i32", "bool": "bool"}
    return f"{short.get(node.dtype.name, node.dtype.name)}[{dims}]"


def const_text(value: np.ndarray) -> str:
    """How a constant prints: ``0.5``, ``float('inf')``, ``array([1, 2])``."""
    return _const_text(value)[0]


def shorten(text: str, width: int, mark: str = "...") -> str:
    """``text`` on one line (runs of white space made one space), cut to at most
    ``width`` characters, ending in ``mark`` when cut."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - len(mark)] + mark


def _const_text(value: np.ndarray) -> tuple[str, int]:
    if value.shape == ():
        v = value.item()
        if isinstance(v, bool):
            return repr(v), P_ATOM
        if isinstance(v, float) and v.is_integer() and abs(v) < 1e16:
            v = int(v)
        text = repr(v)
        if text in ("inf", "-inf", "nan"):
            text = {"inf": "float('inf')", "-inf": "-float('inf')", "nan": "float('nan')"}[text]
        return text, (P_NEG if text.startswith("-") else P_ATOM)
    if value.size <= 16:
        return f"array({value.tolist()!r})", P_ATOM
    return f"array(<{value.dtype} {value.shape}>)", P_ATOM


def _render(outputs: list[Node], rule: Callable, limit: int = MAX_TEXT,
            names: Mapping[int, str] | None = None) -> list[str] | None:
    """Print every output bottom-up; ``rule(node, child)`` prints one node, and a node
    in ``names`` (by id) prints as its name.

    None when some text would pass ``limit`` characters."""
    done: dict[int, tuple[str, int]] = {}
    if names:
        done = {i: (name, P_ATOM) for i, name in names.items()}
    for node in toposort(outputs, known=done):
        def child(n: Node, min_prec: int) -> str:
            text, prec = done[n.id]
            return f"({text})" if prec < min_prec else text
        text, prec = rule(node, child)
        if len(text) > limit:
            return None
        done[node.id] = (text, prec)
    return [done[o.id][0] for o in outputs]


def _text_rule(node: Node, child) -> tuple[str, int]:
    if node.op.name == "var":
        return node.name, P_ATOM
    if node.op.name == "const":
        return _const_text(node.value)
    return node.op.text(node, child)


@takes_expression
def to_text(node: Node, limit: int | None = None, *,
            names: Mapping[int, str] | None = None) -> str:
    """Python/SymPy syntax for an expression (its node listing when it is too big).

    With ``limit``, a text longer than that is cut short with "..." instead.
    ``names`` maps node ids to names: those nodes print as the name, an atom, and
    what they are made of is not printed (``g_t3*t3`` rather than its definition).
    """
    out = _render([node], _text_rule, limit or MAX_TEXT, names)
    if out is not None:
        return out[0]
    if limit is not None:
        return f"{node.op.name}(...)"
    return format_graph([node], names)


def to_texts(nodes: list[Node], limit: int) -> list[str]:
    """``to_text(node, limit)`` for each node, from one walk of their common graph."""
    done: dict[int, tuple[str, int] | None] = {}   # None: longer than the limit
    for node in toposort(nodes):
        if any(done[i.id] is None for i in node.inputs):
            done[node.id] = None   # a text holds its operands' texts
            continue

        def child(n: Node, min_prec: int) -> str:
            text, prec = done[n.id]
            return f"({text})" if prec < min_prec else text
        text, prec = _text_rule(node, child)
        done[node.id] = (text, prec) if len(text) <= limit else None
    return [done[n.id][0] if done[n.id] is not None else f"{n.op.name}(...)" for n in nodes]


def short_text(node: Node, depth: int = 3) -> str:
    """The first levels of an expression's text, deeper parts as ``...`` (cheap on any
    graph: it never walks more than ``depth`` levels)."""
    def show(n: Node, level: int) -> tuple[str, int]:
        if n.op.name in ("var", "const"):
            return _text_rule(n, None)
        if level >= depth:
            return "...", P_ATOM

        def child(c: Node, min_prec: int) -> str:
            text, prec = show(c, level + 1)
            return f"({text})" if prec < min_prec else text
        return n.op.text(n, child)
    return show(node, 0)[0]


def _latex_name(name: str) -> str:
    greek = {"alpha", "beta", "gamma", "delta", "epsilon", "theta", "lambda", "mu", "sigma",
             "tau", "phi", "psi", "omega", "eta", "rho", "xi", "kappa", "nu", "zeta", "chi"}
    base, _, sub = name.partition("_")
    if not sub and len(base) > 1 and base[-1].isdigit() and not base[:-1][-1:].isdigit():
        base, sub = base.rstrip("0123456789"), base[len(base.rstrip("0123456789")):]
    base = rf"\{base}" if base in greek else (base if len(base) == 1 else rf"\mathrm{{{base}}}")
    return f"{base}_{{{sub}}}" if sub else base


def _latex_rule(node: Node, child) -> tuple[str, int]:
    if node.op.name == "var":
        return _latex_name(node.name), P_ATOM
    if node.op.name == "const":
        value = node.value
        if value.shape == ():
            text, prec = _const_text(value)
            return text, prec
        return r"\mathrm{const}", P_ATOM
    return node.op.latex(node, _latex_parens(child))


def _latex_parens(child: Callable) -> Callable:
    """``child`` with LaTeX's sized parentheses, ``\\left( ... \\right)``."""
    def wrapped(n: Node, min_prec: int) -> str:
        bare = child(n, 0)
        return bare if child(n, min_prec) == bare else rf"\left({bare}\right)"
    return wrapped


@takes_expression
def to_latex(node: Node) -> str:
    """LaTeX for an expression (matrix products by juxtaposition, ``\\odot``, ``^\\top``)."""
    out = _render([node], _latex_rule)
    return out[0] if out is not None else r"\text{(expression too large to print)}"


@takes_expressions
def format_graph(outputs: Iterable[Node] | Node, names: Mapping[int, str] | None = None) -> str:
    """One line per node, inputs first: ``t3: f64[3] = mul t1 t2``."""
    outputs = [outputs] if isinstance(outputs, Node) else list(outputs)
    label: dict[int, str] = dict(names or {})
    lines = []
    counter = 0
    for node in toposort(outputs):
        if node.op.name == "var":
            label[node.id] = node.name
            lines.append(f"{node.name}: {type_str(node)} = input")
            continue
        if node.op.name == "const" and node.value.size <= 16:
            label[node.id] = _const_text(node.value)[0]
            continue
        name = label.setdefault(node.id, f"t{counter}")
        counter += 1
        if node.op.name == "const":
            lines.append(f"{name}: {type_str(node)} = const")
            continue
        args = " ".join(label[i.id] for i in node.inputs)
        attrs = " ".join(f"{k}={v!r}" for k, v in node.attrs)
        lines.append(f"{name}: {type_str(node)} = {node.op.name} {args}"
                     + (f" [{attrs}]" if attrs else ""))
    outs = ", ".join(label[o.id] for o in outputs)
    lines.append(f"return {outs}")
    return "\n".join(lines)
