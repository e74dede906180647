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
from .ir import Const, Node, toposort
from .ops.core import P_ATOM, P_MUL, P_NEG

MAX_TEXT = 200_000  # characters; beyond this a tree print of a DAG would swell


def type_str(node: Node) -> str:
    dims = ",".join("?" if d is None else str(d) for d in node.shape)
    short = {"float64": "f64", "float32": "f32", "int64": "i64", "int32": "i32", "bool": "bool"}
    return f"{short.get(node.dtype.name, node.dtype.name)}[{dims}]"


def const_text(value: np.ndarray) -> str:
    """How a constant prints: ``0.5``, ``float('inf')``, ``eye(3)``, ``[1.0, 2.0]``."""
    text = _const_text(value)[0]
    return text if text is not None else repr(np.asarray(value).tolist())


def shorten(text: str, width: int, mark: str = "...") -> str:
    """``text`` on one line (runs of white space made one space), cut to at most
    ``width`` characters, ending in ``mark`` when cut."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - len(mark)] + mark


def _number_text(v: float | int | bool) -> tuple[str, int]:
    """A Python number as text that reads back to the same float64 (``repr`` keeps
    every digit; ``-0.0`` keeps its sign, which ``1/x`` can see)."""
    if isinstance(v, bool):
        return repr(v), P_ATOM
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e16 and not (
            v == 0 and np.signbit(v)):
        v = int(v)
    text = repr(v)
    if text in ("inf", "-inf", "nan"):
        text = {"inf": "float('inf')", "-inf": "-float('inf')", "nan": "float('nan')"}[text]
    elif isinstance(v, float):
        exact = exact_text(abs(v))
        if exact is not None:
            if v > 0:
                return exact
            return "-" + exact[0], min(P_NEG, exact[1])   # -1/3 is (-1)/3: a quotient
    return text, (P_NEG if text.startswith("-") else P_ATOM)


def _exact_forms() -> dict[float, tuple[str, int]]:
    """Floats that are exactly what a short exact formula evaluates to in float64 (in
    Python, NumPy and ``sd.parse`` alike): ``1/3``, ``pi``, ``E``, ``log(2)``,
    ``sqrt(2)``. Printed so, they read back to the same bits and stay exact for SymPy."""
    import math
    forms: dict[float, tuple[str, int]] = {}
    for q in (12, 11, 9, 7, 6, 3):   # not 2, 4, 5, 8, 10: 0.5, 0.25, 0.1 read as they are
        for p in range(1, 4 * q):
            if math.gcd(p, q) == 1:
                forms[p / q] = (f"{p}/{q}", P_MUL)
    for k in range(2, 11):
        forms[float(np.log(float(k)))] = (f"log({k})", P_ATOM)
        if math.isqrt(k) ** 2 != k:
            forms[float(np.sqrt(float(k)))] = (f"sqrt({k})", P_ATOM)
    forms.update({math.pi: ("pi", P_ATOM), math.e: ("E", P_ATOM),
                  math.pi / 2: ("pi/2", P_MUL), 2 * math.pi: ("2*pi", P_MUL)})
    return forms


_EXACT: dict[float, tuple[str, int]] = {}


def exact_text(v: float) -> tuple[str, int] | None:
    """The exact formula (and its precedence) that evaluates to ``v`` > 0, or None."""
    if not _EXACT:
        _EXACT.update(_exact_forms())
    return _EXACT.get(v)


def _shape_text(shape: tuple) -> str:
    return str(shape[0]) if len(shape) == 1 else repr(tuple(shape))


def _const_text(value: np.ndarray) -> tuple[str | None, int]:
    """A 0-d constant as a number; an array built from its shape as the NumPy call that
    builds it (``eye(3)``, ``ones(4)``, ``zeros((3, 4))``, ``full((2, 2), 0.5)``); None
    for any other array, which prints as a named constant."""
    if value.shape == ():
        return _number_text(value.item())
    if value.dtype != np.float64 or value.size == 0:
        return None, P_ATOM
    first = value.flat[0]
    if value.ndim == 2 and value.shape[0] == value.shape[1] and np.array_equal(
            value, np.eye(value.shape[0])):
        return f"eye({value.shape[0]})", P_ATOM
    if np.array_equal(value, np.full(value.shape, first), equal_nan=True) and np.all(
            np.signbit(value) == np.signbit(first)):
        shape = _shape_text(value.shape)
        if first == 0 and not np.signbit(first):
            return f"zeros({shape})", P_ATOM
        if first == 1:
            return f"ones({shape})", P_ATOM
        fill = _number_text(first.item())[0]
        fill = fill + ".0" if fill.lstrip("-").isdigit() else fill   # full(3, 2) is ints
        return f"full({shape}, {fill})", P_ATOM
    return None, P_ATOM


class _Constants:
    """The named constants of one printed text (``C0``, ``C1``...), each once, whose
    values are given beside the text (``... where C0 = [[1.0, 2.0], [3.0, 4.0]]``)."""

    def __init__(self, taken: Iterable[str] = ()) -> None:
        self.names: dict[int, str] = {}
        self.values: dict[str, np.ndarray] = {}
        self.taken = set(taken)

    def name(self, node: Node) -> str:
        if node.id not in self.names:
            k = len(self.names)
            while f"C{k}" in self.taken:
                k += 1
            name = self.names[node.id] = f"C{k}"
            self.taken.add(name)
            self.values[name] = node.value
        return self.names[node.id]

    def where(self) -> str:
        """`` where C0 = [...]``, or nothing."""
        if not self.values:
            return ""
        return " where " + ", ".join(f"{name} = {_list_text(value.tolist())}"
                                     for name, value in self.values.items())


def _list_text(value) -> str:
    """A nested list of numbers as text both readers take (``float('nan')``, ``1/3``)."""
    if isinstance(value, list):
        return "[" + ", ".join(_list_text(v) for v in value) + "]"
    return _number_text(value)[0]


def _as_number(parent: Node, operand: Node) -> bool:
    """A boolean operand that ``parent`` uses as the number 0 or 1 (``0.5*(a == b)``):
    printed as ``where(a == b, 1.0, 0.0)``, which both readers (and SymPy, as a
    ``Piecewise``) take as a number (floats: ``where`` of ints would be ints)."""
    if operand.dtype != np.bool_ or parent.dtype == np.bool_:
        return False
    return not (parent.op.name == "where" and operand is parent.inputs[0]) and \
        parent.op.name != "astype"


def _render(outputs: list[Node], rule: Callable, limit: int = MAX_TEXT,
            names: Mapping[int, str] | None = None,
            number: Callable[[str], str] = lambda t: f"where({t}, 1.0, 0.0)") -> list[str] | None:
    """Print every output bottom-up; ``rule(node, child)`` prints one node, and a node
    in ``names`` (by id) prints as its name. ``number`` wraps a boolean operand used
    as a number.

    None when some text would pass ``limit`` characters."""
    done: dict[int, tuple[str, int]] = {}
    if names:
        done = {i: (name, P_ATOM) for i, name in names.items()}
    named = frozenset(names or ())
    for node in toposort(outputs, known=done):
        text, prec = rule(node, _child(node, done, number, named))
        if len(text) > limit:
            return None
        done[node.id] = (text, prec)
    return [done[o.id][0] for o in outputs]


def _child(node: Node, done: Mapping, number: Callable[[str], str],
           named: frozenset = frozenset()) -> Callable:
    """How ``node`` prints an operand: parenthesised when its precedence is lower than
    the place needs, a boolean used as a number wrapped by ``number``. ``child.named``
    holds the nodes printed as a name: a rule must not look inside those (their
    operands are not printed; ``ops.core.inside``)."""
    def child(n: Node, min_prec: int) -> str:
        text, prec = done[n.id]
        if _as_number(node, n):
            return number(text)
        return f"({text})" if prec < min_prec else text
    child.named = named
    return child


def _folded(node: Node, depth: int = 0) -> np.ndarray | None:
    """The value of an op on constants only (``1/0``, ``-1*(1/0)``, ``ones(3) @
    zeros(3)``), which text must give as a number: a reader folds it with Python's
    arithmetic, where ``1/0`` is an error, not float64's ``inf``."""
    if node.op.name == "const":
        return node.value
    if node.op.name == "var" or not node.inputs or node.op.impl is None or depth > 32:
        return None
    values = []
    for i in node.inputs:
        value = _folded(i, depth + 1)
        if value is None:
            return None
        values.append(value)
    try:
        with np.errstate(all="ignore"):
            value = np.asarray(node.op.impl(*values, **dict(node.attrs)))
    except Exception:
        return None
    return value.astype(node.dtype) if value.shape == node.shape else None


def _text_rule(node: Node, child, constants: _Constants | None = None) -> tuple[str, int]:
    if node.op.name == "var":
        return node.name, P_ATOM
    folded = _folded(node) if node.op.name != "const" else None
    if folded is not None:
        node = Const(folded)
    if node.op.name == "const":
        text, prec = _const_text(node.value)
        if text is None:
            return (constants.name(node) if constants is not None else "C"), P_ATOM
        return text, prec
    return node.op.text(node, child)


@takes_expression
def to_text(node: Node, limit: int | None = None, *,
            names: Mapping[int, str] | None = None, shared: bool = False) -> str:
    """Python/SymPy syntax for an expression (its node listing when it is too big).

    With ``limit``, a text longer than that is cut short with "..." instead.
    ``names`` maps node ids to names: those nodes print as the name, an atom, and
    what they are made of is not printed (``g_t3*t3`` rather than its definition).
    A constant array that no NumPy call builds from its shape prints as a name,
    ``C0``, with its value given after the text: ``A @ C0 where C0 = [[...]]``.
    ``shared=True`` names each subexpression the text would repeat once:
    ``(s1 - t)*s1 where s1 = sigmoid(W @ x)``. ``sd.parse`` reads both forms back.
    """
    constants = _Constants(node.vars)
    rule = lambda n, c: _text_rule(n, c, constants)   # noqa: E731
    if shared:
        found = _shared(node, rule, names or {})
        if found is not None:
            body, parts = found
            consts = constants.where()
            text = body + (" where " + ", ".join(parts) + consts.replace(" where ", ", ")
                           if parts else consts)
            if limit is None or len(text) <= limit:
                return text
    out = _render([node], rule, limit or MAX_TEXT, names)
    if out is not None:
        text = out[0] + constants.where()
        if limit is None or len(text) <= limit:
            return text
    if limit is not None:
        return f"{node.op.name}(...)"
    return format_graph([node], names)


def repeated(node: Node, names: Mapping[int, str] = {}) -> list[Node]:
    """The subexpressions worth naming in ``node``'s text, outermost first: those the
    printed tree would hold more than once (counting a named one's definition once),
    but not variables, constants and short forms such as ``-x`` or ``x.T``."""
    order = toposort([node], known=dict.fromkeys(names))
    count = {node.id: 1}
    chosen = []
    for n in reversed(order):
        times = count.get(n.id, 0)
        if n is not node and times >= 2 and _worth_a_name(n):
            chosen.append(n)
            times = 1
        for i in n.inputs:
            if i.id not in names:
                count[i.id] = count.get(i.id, 0) + times
    return chosen


def _worth_a_name(n: Node) -> bool:
    if n.op.name in ("var", "const", "zeros_like", "eye_like") or not n.inputs:
        return False
    if len(n.inputs) == 1 and n.inputs[0].op.name in ("var", "const"):
        return n.op.name not in ("neg", "transpose", "getitem", "expand_dims",
                                 "broadcast_to", "broadcast_like", "squeeze", "astype")
    return True


def _shared(node: Node, rule: Callable, names: Mapping[int, str],
            show: Callable[[str], str] = lambda name: name,
            number: Callable[[str], str] = lambda t: f"where({t}, 1.0, 0.0)",
            ) -> tuple[str, list[str]] | None:
    """``node`` printed with its repeated subexpressions named ``s1, s2, ...`` (inner
    ones first), and the definitions ``s2 = ...``, outermost first."""
    chosen = repeated(node, names)
    taken = set(node.vars) | set(names.values())
    given: dict[int, str] = dict(names)
    k = 0
    for n in reversed(chosen):
        k += 1
        while f"s{k}" in taken:
            k += 1
        given[n.id] = show(f"s{k}")
    body = _render([node], rule, MAX_TEXT, given, number)
    if body is None:
        return None
    parts = []
    for n in chosen:
        out = _render([n], rule, MAX_TEXT, {i: t for i, t in given.items() if i != n.id},
                      number)
        if out is None:
            return None
        parts.append(f"{given[n.id]} = {out[0]}")
    return body[0], parts


def to_texts(nodes: list[Node], limit: int) -> list[str]:
    """``to_text(node, limit)`` for each node, from one walk of their common graph
    (constant arrays named ``C``, their values left out)."""
    done: dict[int, tuple[str, int] | None] = {}   # None: longer than the limit
    for node in toposort(nodes):
        if any(done[i.id] is None for i in node.inputs):
            done[node.id] = None   # a text holds its operands' texts
            continue
        text, prec = _text_rule(node, _child(node, done, lambda t: f"where({t}, 1.0, 0.0)"))
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
            if _as_number(n, c):
                return f"where({text}, 1.0, 0.0)"
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


def _latex_rule(node: Node, child, constants: _Constants | None = None) -> tuple[str, int]:
    if node.op.name == "var":
        return _latex_name(node.name), P_ATOM
    if node.op.name == "const":
        value = node.value
        text, prec = _const_text(value)
        if value.shape == ():
            return text, prec
        if text is not None and text.startswith("eye("):
            return "I", P_ATOM
        if text is not None and text.startswith("zeros("):
            return "0", P_ATOM
        if text is not None and text.startswith("ones("):
            return r"\mathbf{1}", P_ATOM
        name = constants.name(node) if constants is not None else "C"
        return f"{name[0]}_{{{name[1:]}}}", P_ATOM
    return node.op.latex(node, _latex_parens(child))


def _latex_parens(child: Callable) -> Callable:
    """``child`` with LaTeX's sized parentheses, ``\\left( ... \\right)``."""
    def wrapped(n: Node, min_prec: int) -> str:
        bare = child(n, 0)
        return bare if child(n, min_prec) == bare else rf"\left({bare}\right)"
    return wrapped


@takes_expression
def to_latex(node: Node, *, shared: bool = False) -> str:
    """LaTeX for an expression (matrix products by juxtaposition, ``\\odot``, ``^\\top``).

    Named constant arrays are given after the formula, and with ``shared=True``
    repeated subexpressions are named once, as in ``to_text``."""
    constants = _Constants(node.vars)
    rule = lambda n, c: _latex_rule(n, c, constants)   # noqa: E731
    if shared:
        found = _shared(node, rule, {}, lambda name: f"{name[0]}_{{{name[1:]}}}",
                        lambda t: rf"\left[{t}\right]")
        if found is not None:
            body, parts = found
            where = r",\quad \text{where } " + ", ".join(parts) if parts else ""
            return body + where + _latex_where(constants)
    out = _render([node], rule, number=lambda t: rf"\left[{t}\right]")
    if out is None:
        return r"\text{(expression too large to print)}"
    return out[0] + _latex_where(constants)


def _latex_where(constants: _Constants) -> str:
    if not constants.values:
        return ""
    parts = []
    for name, value in constants.values.items():
        rows = value.reshape(1, -1) if value.ndim == 1 else value.reshape(value.shape[0], -1)
        body = r" \\ ".join(" & ".join(_number_text(v)[0] for v in row.tolist())
                              for row in rows)
        parts.append(rf"{name[0]}_{{{name[1:]}}} = \begin{{bmatrix}} {body} \end{{bmatrix}}")
    return r",\quad \text{where } " + ", ".join(parts)


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
            label[node.id] = const_text(node.value)
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
