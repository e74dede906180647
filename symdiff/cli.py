"""The ``symdiff`` command: a command-line expression differentiator.

    symdiff EXPR [--wrt x,y] [--var NAME=SHAPE ...] [--order N]
                 [--at NAME=VALUE ...] [--format text|latex|python|dot|json]
                 [--no-simplify]

Conventions
- EXPR is Python syntax read by ``sd.parse`` (never evaluated); ``^`` is accepted
  as power; ``-`` reads EXPR from standard input. EXPR is the first argument that
  is not an option or an option's value, whatever its first character
  (``symdiff '-x**2' --wrt x``); ``--`` still ends the options.
- A ``--wrt`` variable that EXPR does not contain gets a zero derivative (as
  SymPy's ``diff(x**3, y)``), shaped by ``--var`` if declared; a note on stderr
  names the variable it may be a typo of.
- Text output is Python/SymPy syntax: one variable prints the derivative alone on
  one line, several print ``NAME: DERIVATIVE`` lines (Hessian entries as
  ``x,y: ...`` with ``--order 2``).
- Bad input or usage: one clear message on stderr (with a caret under the column
  for expression errors) and exit status 2. Never a traceback for bad input.
"""
from __future__ import annotations

import argparse
import difflib
import io
import itertools
import json
import os
import sys
import tokenize
from typing import Any, Sequence

import numpy as np

from . import __version__
from .errors import ParseError, SymdiffError
from .polish import doubled, polish

EXAMPLES = """\
examples:
  symdiff 'x**2*sin(x)' --wrt x             derivative, simplified
  symdiff 'x^3 + y^2*x'                     d/dx and d/dy (one line each)
  symdiff 'exp(x*y)' --order 2              Hessian entries x,x  x,y  y,y
  symdiff 'sin(x)*y' --at x=0.5,y=2         numbers instead of formulas
  symdiff 'sum(sigmoid(W @ x))' --var W=3x4 --var x=4 --wrt W
  symdiff 'sum(sigmoid(W @ x))' --var W=3x4 --var x=4 --wrt W \\
          --at 'W=[[0,1,0,0],[1,0,0,0],[0,0,1,0]]' --at x=x.npy
  symdiff 'log(1 + exp(x))' --format latex
  symdiff 'tanh(x)*y' --format python > grad_tanh.py
  echo 'x**x' | symdiff -
"""


class UsageError(SymdiffError):
    """Bad command-line usage (exit status 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:   # argparse's own exit status is 2 as well
        self.print_usage(sys.stderr)
        self.exit(2, f"symdiff: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="symdiff", description="Differentiate a mathematical expression "
                "symbolically and print the simplified derivative.",
                epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("expr", metavar="EXPR", help="expression in Python syntax (^ is power); "
                   "- reads it from standard input")
    p.add_argument("--wrt", metavar="x,y", help="variables to differentiate with respect to "
                   "(default: all free variables, sorted)")
    p.add_argument("--var", metavar="NAME=SHAPE", action="append", default=[],
                   help="declare a shape: W=3x4 (matrix), x=4 (vector), s= (scalar), "
                   "? for an unknown length")
    p.add_argument("--order", type=int, default=1, metavar="N",
                   help="order of the derivative (default 1)")
    p.add_argument("--at", metavar="NAME=VALUE", action="append", default=[],
                   help="evaluate at a point: x=0.7,y=2; arrays as JSON or a .npy path")
    p.add_argument("--format", choices=["text", "latex", "python", "dot", "json"],
                   default="text", help="output format (default text)")
    p.add_argument("--no-simplify", action="store_true", help="print the raw chain-rule graph")
    p.add_argument("--version", action="version", version=f"symdiff {__version__}")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(expression_first(
        list(sys.argv[1:] if argv is None else argv), parser))
    try:
        text = _read_expr(args.expr)
        out = run(text, wrt=args.wrt, var=args.var, order=args.order, at=args.at,
                  fmt=args.format, simplify=not args.no_simplify)
    except SymdiffError as err:
        print(f"symdiff: error: {err}", file=sys.stderr)
        return 2
    except (RecursionError, MemoryError):
        print("symdiff: error: the expression is too large or too deeply nested",
              file=sys.stderr)
        return 2
    sys.stdout.write(out if out.endswith("\n") else out + "\n")
    return 0


def expression_first(argv: list[str], parser: argparse.ArgumentParser) -> list[str]:
    """``argv`` with an expression that starts with ``-`` (``-x**2``) moved behind ``--``.

    argparse takes every argument that starts with ``-`` for an option. Here the
    first argument that is not an option, nor the value of one, is EXPR whatever
    its first character; real options (``-h``, ``--version``, ``--wrt=x``, and
    unambiguous abbreviations such as ``--wr``) stay options.
    """
    takes_value = {option: action.nargs != 0
                   for action in parser._actions for option in action.option_strings}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--" or arg == "-" or not arg.startswith("-"):
            return argv           # options have ended, or EXPR is an ordinary positional
        option = _option_named(arg, takes_value)
        if option is None:       # not an option: the expression
            rest = argv[:i] + argv[i + 1:]
            end = rest.index("--") + 1 if "--" in rest else len(rest)
            return rest[:end] + ([] if "--" in rest else ["--"]) + [arg] + rest[end:]
        i += 2 if takes_value[option] and "=" not in arg else 1
    return argv


def _option_named(arg: str, takes_value: dict[str, bool]) -> str | None:
    """The option ``arg`` stands for, as argparse reads it (exactly, ``--name=value``, or
    a prefix of long options), or None."""
    if arg in takes_value:
        return arg
    if not arg.startswith("--"):
        return None
    name = arg.split("=", 1)[0]
    if name in takes_value:
        return name
    matches = [option for option in takes_value if option.startswith(name)]
    return matches[0] if matches else None


def _read_expr(arg: str) -> str:
    if arg == "-":
        text = sys.stdin.read()
        if not text.strip():
            raise UsageError("no expression on standard input")
        return text.strip()
    return arg


# -- the work ------------------------------------------------------------------------

def run(text: str, *, wrt: str | None = None, var: Sequence[str] = (), order: int = 1,
        at: Sequence[str] = (), fmt: str = "text", simplify: bool = True) -> str:
    """What ``symdiff`` prints for these arguments (raises SymdiffError for bad input)."""
    import symdiff as sd

    if order < 1:
        raise UsageError(f"--order must be at least 1, got {order}")
    shapes = dict(_parse_var(v) for v in var)
    expr = _parse(text, shapes)
    if not isinstance(expr, sd.Node):
        raise UsageError(f"the expression is a constant ({expr!r}): nothing to differentiate")
    if isinstance(expr, sd.Const) and expr.dtype.kind in "iu":
        expr = sd.constant(expr.value.astype(np.float64))   # '3' is the real number 3
    free = expr.vars
    wrt_names = _parse_wrt(wrt, free)
    # Variables that EXPR does not contain: their derivatives are zero.
    absent = {n: sd.var(n, shapes.get(n, ())) for n in wrt_names if n not in free}
    for name in shapes:
        if name not in free and name not in absent:
            raise UsageError(f"--var {name}: no variable {name!r} in the expression"
                             + _suggestion(name, free))
    variables = {**free, **absent}
    wrt_vars = [variables[n] for n in wrt_names]
    if expr.ndim != 0:
        raise UsageError(f"the expression has shape {expr.shape}, not a scalar: derivatives "
                         f"are printed for scalar expressions (wrap it in sum(...))")
    for name in absent:
        _note_absent(name, free)
    entries = _derivatives(expr, wrt_vars, order)   # [(label, derivative expr)]
    if simplify:
        simplified = sd.simplify([e for _, e in entries])
        entries = [(label, e) for (label, _), e in zip(entries, simplified)]
    # A scalar zero prints as 0, as SymPy's diff gives it, not as zeros_like(y).
    entries = [(label, sd.constant(0.0) if e.ndim == 0 and e.op.name == "zeros_like" else e)
               for label, e in entries]
    if simplify:     # x + x prints as 2*x (the same numbers)
        entries = [(label, doubled(e)) for label, e in entries]

    if fmt == "python":
        return _python_module(text, expr, wrt_vars, variables, order, simplify)
    if fmt == "dot":
        from .display import to_dot
        return to_dot([expr] + [e for _, e in entries])
    if at:
        values = _parse_at(at, variables)
        for name, variable in absent.items():
            if name not in values and None not in variable.shape:
                values[name] = np.zeros(variable.shape)    # any value: the derivative is 0
        missing = [n for n in variables if n not in values]
        if missing:
            raise UsageError(f"--at: no value for {', '.join(missing)}")
        results = sd.evaluate([e for _, e in entries], values)
        numbers = [(label, _number(r)) for (label, _), r in zip(entries, results)]
        if fmt == "json":
            return json.dumps({label: v for label, v in numbers})
        if fmt == "latex":
            return _lines([(label, _latex_number(v)) for label, v in numbers])
        return _lines([(label, json.dumps(v)) for label, v in numbers])
    if fmt == "json":
        return json.dumps({label: _show(e, simplify) for label, e in entries})
    if fmt == "latex":
        return _lines([(label, _latex(e, simplify)) for label, e in entries])
    return _lines([(label, _show(e, simplify)) for label, e in entries])


def _derivatives(expr, wrt_vars, order: int) -> list[tuple[str, Any]]:
    """All partial derivatives of the given order, labelled ``x`` or ``x,y``."""
    import symdiff as sd
    entries = []
    names = [v.name for v in wrt_vars]
    if order == 1:
        grads = sd.grad(expr, wrt_vars)
        return list(zip(names, grads))
    if order == 2 and any(v.ndim for v in wrt_vars):
        if len(wrt_vars) != 1:
            raise UsageError("--order 2 with tensor variables: give one variable in --wrt")
        return [(f"{names[0]},{names[0]}", sd.hessian(expr, wrt_vars[0]))]
    if any(v.ndim for v in wrt_vars):
        raise UsageError(f"--order {order} is supported for scalar variables (or order 2 "
                         f"for one tensor variable)")
    for combo in itertools.combinations_with_replacement(range(len(wrt_vars)), order):
        d = expr
        for k in combo:
            d = sd.simplify(sd.grad(d, wrt_vars[k]))
        entries.append((",".join(names[k] for k in combo), d))
    return entries


def _show(e, polished: bool = True) -> str:
    """Python/SymPy syntax, in its shortest form for scalar expressions (``polish``),
    with the subexpressions it repeats named once (``... where s1 = ...``) when that is
    shorter. Not ``polished``: the graph as it is (``--no-simplify``)."""
    from .printing import to_text
    text = polish(e) if polished else str(e)
    if not any(v.ndim for v in e.vars.values()):
        return text       # scalar text stays SymPy's syntax, which has no 'where'
    named = to_text(e, shared=True)
    return named if len(named) < len(text) else text


def _latex(e, polished: bool = True) -> str:
    """LaTeX of the form the text shows (the polished text read back), with repeated
    subexpressions named once when that is shorter."""
    import symdiff as sd
    text = polish(e) if polished else str(e)
    if text != str(e):
        e = sd.parse(text, **{n: v for n, v in e.vars.items()})
    if not any(v.ndim for v in e.vars.values()):
        return sd.to_latex(e)
    return min(sd.to_latex(e), sd.to_latex(e, shared=True), key=len)


def _lines(entries: list[tuple[str, str]]) -> str:
    if len(entries) == 1:
        return entries[0][1]
    return "\n".join(f"{label}: {value}" for label, value in entries)


def _number(value: np.ndarray) -> Any:
    value = np.asarray(value)
    return value.item() if value.ndim == 0 else value.tolist()


def _latex_number(value: Any) -> str:
    if isinstance(value, list):
        rows = value if value and isinstance(value[0], list) else [value]
        body = r" \\ ".join(" & ".join(f"{v:.6g}" for v in row) for row in rows)
        return rf"\begin{{bmatrix}} {body} \end{{bmatrix}}"
    return f"{value:.15g}"


def _python_module(text: str, expr, wrt_vars, variables, order: int, simplify: bool) -> str:
    import symdiff as sd
    from .codegen import module_source
    if order != 1:
        raise UsageError("--format python writes the value and the gradient (--order 1)")
    inputs = [variables[n] for n in sorted(variables)]
    grads = sd.grad(expr, wrt_vars)
    wrt = ", ".join(v.name for v in wrt_vars)
    params = ", ".join(v.name for v in inputs)
    doc = (f"Value and gradient of {' '.join(text.split())}\n\n"
           f"Generated by symdiff {__version__}; needs only NumPy.\n\n"
           f"    value_and_grad({params}) -> (value, d/d{wrt.replace(', ', ', d/d')})\n")
    return module_source(inputs, [expr, *grads], "value_and_grad", doc=doc, optimize=simplify)


# -- argument parsing ------------------------------------------------------------------

def caret_power(text: str) -> tuple[str, list[int]]:
    """Replace the operator ``^`` by ``**``; return the new text and, per ``^``, its
    position in the new text (to map error columns back)."""
    if "^" not in text:
        return text, []
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return text, []    # the parser reports the real problem, at the right place
    lines = text.splitlines(True) or [""]
    starts = list(itertools.accumulate([0] + [len(line) for line in lines]))
    out, shifts, last = [], [], 0
    for tok in tokens:
        if tok.type == tokenize.OP and tok.string == "^":
            offset = starts[tok.start[0] - 1] + tok.start[1]
            out.append(text[last:offset] + "**")
            shifts.append(offset + len(shifts))
            last = offset + 1
    out.append(text[last:])
    return "".join(out), shifts


def _parse(text: str, shapes: dict) -> Any:
    import symdiff as sd
    converted, shifts = caret_power(text)
    try:
        return sd.parse(converted, **shapes)
    except ParseError as err:
        if not shifts or err.col is None:
            raise
        # Columns in the converted text -> columns in what the user typed.
        line_start = sum(len(line) for line in converted.splitlines(True)[: (err.lineno or 1) - 1])
        absolute = line_start + err.col
        moved = sum(1 for s in shifts if s < absolute)
        raise ParseError(err.message.replace("**", "^") if "'**'" in err.message else err.message,
                         lineno=err.lineno, col=max(0, err.col - moved), source=text) from None


def _parse_var(spec: str) -> tuple[str, tuple]:
    name, eq, shape = spec.partition("=")
    name = name.strip()
    if not eq or not name.isidentifier():
        raise UsageError(f"--var {spec!r}: expected NAME=SHAPE, e.g. W=3x4, x=4 or s=")
    shape = shape.strip().strip("()").replace(",", "x").replace("*", "x")
    if not shape:
        return name, ()
    dims = []
    for part in shape.split("x"):
        part = part.strip()
        if part in ("?", "None", "n"):
            dims.append(None)
        elif part.isdigit():
            dims.append(int(part))
        else:
            raise UsageError(f"--var {spec!r}: a shape is lengths joined by 'x' (3x4), "
                             f"with ? for an unknown length")
    return name, tuple(dims)


def _parse_wrt(wrt: str | None, free: dict) -> list[str]:
    if wrt is None:
        if not free:
            raise UsageError("the expression has no variables to differentiate with respect to")
        return sorted(free)
    names = [n.strip() for n in wrt.split(",") if n.strip()]
    if not names:
        raise UsageError("--wrt needs at least one variable name")
    for n in names:
        if not n.isidentifier():
            raise UsageError(f"--wrt {n}: not a variable name")
    return names


def _note_absent(name: str, free: dict) -> None:
    """The derivative with respect to ``name`` is 0; say so if it looks like a typo."""
    close = difflib.get_close_matches(name, list(free), n=1)
    if close:
        print(f"symdiff: note: {name!r} does not appear in the expression, so the derivative "
              f"with respect to it is 0; did you mean {close[0]!r}?", file=sys.stderr)


def _suggestion(name: str, free: dict) -> str:
    close = difflib.get_close_matches(name, list(free), n=1)
    known = ", ".join(sorted(free)) or "none"
    return (f"; did you mean {close[0]!r}?" if close else "") + f" (variables: {known})"


def _split_top(text: str) -> list[str]:
    """Split ``x=0.7,W=[[1,2],[3,4]]`` at the commas outside brackets."""
    parts, depth, current = [], 0, []
    for ch in text:
        if ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p for p in (p.strip() for p in parts) if p]


def _parse_at(specs: Sequence[str], free: dict) -> dict[str, np.ndarray]:
    values = {}
    for spec in specs:
        for item in _split_top(spec):
            name, eq, raw = item.partition("=")
            name, raw = name.strip(), raw.strip()
            if not eq or not name:
                raise UsageError(f"--at {item!r}: expected NAME=VALUE")
            if name not in free:
                raise UsageError(f"--at {name}: no variable {name!r} in the expression"
                                 + _suggestion(name, free))
            values[name] = _value(name, raw, free[name])
    return values


def _value(name: str, raw: str, var) -> np.ndarray:
    if raw.endswith(".npy"):
        if not os.path.isfile(raw):
            raise UsageError(f"--at {name}: no file {raw!r}")
        try:
            value = np.load(raw, allow_pickle=False)
        except (OSError, ValueError) as err:
            raise UsageError(f"--at {name}: cannot read {raw!r}: {err}") from None
    else:
        try:
            value = np.asarray(json.loads(raw), dtype=np.float64)
        except (ValueError, TypeError):
            raise UsageError(f"--at {name}={raw}: a value is a number, a JSON array or a "
                             f"path to a .npy file") from None
    if value.ndim != var.ndim or any(d is not None and d != s
                                     for d, s in zip(var.shape, value.shape)):
        from .ir import fmt_shape
        raise UsageError(f"--at {name}: shape {fmt_shape(value.shape)} does not fit the "
                         f"variable's shape {fmt_shape(var.shape)}"
                         + (" (declare it with --var)" if var.ndim == 0 else ""))
    return value


if __name__ == "__main__":
    sys.exit(main())
