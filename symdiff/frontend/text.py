"""Reading text: ``parse`` and the names in text (keywords given to ``parse``,
constants, functions, free variables).

Text too deep for Python's own parser (a sum of 30,000 terms) is split at its
top-level ``+ -`` (or ``* / @``, see ``split.py``) and read term by term, up to
``MAX_TERMS`` terms; longer sums (``"x+" * 300000 + "x"``) are a clear error,
found in a fraction of a second, rather than seconds of node building.
"""
from __future__ import annotations

import ast
import operator
from typing import Any

import numpy as np

from ..errors import ArgumentError, ArgumentTypeError, DiffError, ParseError, ShapeError
from ..ir import Const, Node, Var
from .namespaces import (TEXT_ALIASES, TEXT_BUILTINS, TEXT_CONSTANTS, math_namespace,
                         numpy_namespace, refresh_tables, text_function)
from .bindings import Part, split_where
from .operators import apply_operator
from .positions import FakeNode, Source, out_of_stack, parse_error
from .split import split_flat, split_terms
from .values import (MAX_TERMS, Context, Reject, clean_message, describe, is_expr, suggest,
                     table_functions)
from .walker import ExpressionWalker
from .whitelist import construct, validate

def parse(text: str, **shapes: Any) -> Node:
    """Read ``text`` (Python syntax) into an expression.

    Free names become float64 variables: scalars, unless a keyword gives a shape
    (``W=(3, 4)``, ``x=(None,)``, ``n=()``), an existing expression or variable
    to use for the name (``x=sd.vector("x")``), or a constant value (a NumPy
    array or a number). ``pi``, ``e`` and ``inf`` are constants unless given as
    keywords. A name is a function only where it is called; function names come
    from the op table, bare or ``np.``/``numpy.`` qualified, with SymPy/math
    spellings (``atan``, ``Abs``, ``Max``, ``ln``, ``Heaviside``) and the builtins
    ``abs``, ``sum``, ``max``, ``min``.

    Raises ``ParseError`` (with line, column and a caret) for anything else:
    statements, strings, lambdas, comprehensions, attribute access outside
    ``np.``, unknown functions (with the closest known name), ``^`` (use
    ``**``), non-finite constants (``1e400``), and input nested too deeply.
    """
    if not isinstance(text, str):
        raise ArgumentTypeError(f"parse() takes a string, not {type(text).__name__}")
    refresh_tables()
    bindings = {name: _binding(name, value) for name, value in shapes.items()}
    scope = _TextScope(bindings)
    try:
        value = _read_text(text, scope, Context())
    except RecursionError:
        raise out_of_stack(text, None) from None
    if isinstance(value, (bool, int, float, np.number, np.bool_, np.ndarray)):
        return Const(value)
    if not is_expr(value):
        source = Source(text, None, text.splitlines())
        raise source.error(f"the text is {describe(value)}, not an expression",
                           FakeNode(1, 0))
    return value


def _binding(name: str, value: Any) -> Any:
    if not name.isidentifier():
        raise ArgumentError(f"parse(): {name!r} is not a valid variable name")
    if is_expr(value):
        return value
    if isinstance(value, (tuple, list)):
        shape = tuple(value)
        if not all(d is None or (isinstance(d, (int, np.integer)) and not isinstance(d, bool)
                                 and d >= 0) for d in shape):
            raise ArgumentTypeError(f"parse(): the shape of {name!r} must be a tuple of "
                                    f"non-negative ints or None, got {value!r}")
        return Var(name, tuple(None if d is None else int(d) for d in shape))
    if isinstance(value, (np.ndarray, np.number)) or (
            isinstance(value, (int, float)) and not isinstance(value, bool)):
        return value
    raise ArgumentTypeError(f"parse(): {name}= must be a shape tuple like (3, 4), an "
                            f"expression, or a constant array or number; got "
                            f"{type(value).__name__}")


class _TextScope:
    """Names in text: keywords given to parse, constants, functions, free variables.

    A name is a function only where it is called: ``std * z + mu`` has three
    variables, ``std(x)`` is the table's standard deviation.
    """

    def __init__(self, bindings: dict[str, Any]) -> None:
        self.bindings = bindings
        self.free: dict[str, Var] = {}

    def lookup(self, name: str) -> Any:
        if name in self.bindings:
            return self.bindings[name]
        if name in TEXT_CONSTANTS:
            return TEXT_CONSTANTS[name]
        if name in ("np", "numpy"):
            return numpy_namespace(strict=False)
        if name == "math":
            return math_namespace()
        variable = self.free.get(name)
        if variable is None:
            variable = self.free[name] = Var(name)
        return variable

    def lookup_function(self, name: str) -> Any:
        if name in self.bindings:
            raise Reject(f"{name!r} is given as a variable, not a function")
        known = text_function(name)
        if known is not None:
            return known
        if name in ("np", "numpy", "math") or name in TEXT_CONSTANTS:
            return self.lookup(name)
        names = list(table_functions()) + list(TEXT_ALIASES) + list(TEXT_BUILTINS)
        raise Reject(f"unknown function {name!r}" + suggest(name, names))


def _read_text(text: str, scope: _TextScope, context: Context) -> Any:
    stripped = text.lstrip()
    if not stripped.strip():
        raise parse_error("empty expression", lineno=1, col=0, source=text)
    removed = text[:len(text) - len(stripped)]
    line_offset = removed.count("\n")
    first_col = len(removed) - (removed.rfind("\n") + 1)
    source = Source(text, None, stripped.splitlines(), line_offset, first_col)
    parts = split_where(stripped)
    if parts is None:
        return _read_span(stripped, source, scope, context)
    body, definitions = parts

    def span(part: Part) -> Source:
        return Source(text, None, [part.text], line_offset + part.lineno - 1,
                      part.col + (first_col if part.lineno == 1 else 0))
    if not definitions:
        raise span(body).error("'where' needs definitions after it (where s1 = ...)",
                               FakeNode(1, len(body.text)))
    for name, definition in reversed(definitions):   # a part may use the parts after it
        if not name.text or not definition.text:
            raise span(name).error("expected NAME = EXPRESSION after 'where'", FakeNode(1, 0))
        if name.text in scope.bindings or name.text in scope.free:
            raise span(name).error(f"{name.text!r} is defined twice, or used by a "
                                   f"definition before it (each part may use only the "
                                   f"parts after it)", FakeNode(1, 0))
        value = _read_span(definition.text, span(definition), scope, context)
        if isinstance(value, list):     # a constant array, as printers give its value
            value = np.asarray(value, dtype=np.float64)
        scope.bindings[name.text] = value
    return _read_span(body.text, span(body), scope, context)


def _read_span(text: str, source: Source, scope: Any, context: Context) -> Any:
    """Parse and walk ``text`` (one expression); split it if Python's parser cannot."""
    if len(text) > 4 * MAX_TERMS:
        # Too many terms is known from a quick scan, before Python's parser spends
        # its time on the text.
        split = split_flat(text)
        if split is not None and len(split[0]) + 1 > MAX_TERMS:
            raise _too_many_terms(len(split[0]) + 1, source)
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as err:
        raise _syntax_error(err, text, source) from None
    except ValueError as err:        # e.g. a NUL character, on some Python versions
        raise source.error(str(err), FakeNode(1, 0)) from None
    except (RecursionError, MemoryError):
        split = split_flat(text)
        if split is None:
            raise source.error("expression is nested too deeply for Python's parser "
                               "(simplify it or split it into parts)",
                               FakeNode(1, 0)) from None
        if len(split[0]) + 1 > MAX_TERMS:
            raise _too_many_terms(len(split[0]) + 1, source) from None
        return _read_terms(text, split_terms(text, split), source, scope, context)
    validate(tree, source, statements=False)
    return ExpressionWalker(source, scope, context).eval(tree.body)


def _too_many_terms(count: int, source: Source) -> ParseError:
    return source.error(f"expression too long: {count} terms in one sum or product (the "
                        f"limit is {MAX_TERMS}); use sum() over an array instead",
                        FakeNode(1, 0))


def _syntax_error(err: SyntaxError, text: str, source: Source) -> ParseError:
    message = err.msg or "invalid syntax"
    # SyntaxError counts columns in characters, 1-based.
    lineno, col = err.lineno or 1, max((err.offset or 1) - 1, 0)
    if message.startswith("invalid syntax"):
        statement = _statement_in(text)
        if statement is not None:
            message = f"{construct(statement)} is not allowed in an expression"
            lineno, col = statement.lineno, statement.col_offset
    if "too many nested parentheses" in message:
        message += " (Python's parser allows 200 levels)"
    if not err.offset and message.startswith("invalid syntax"):
        # Python reports no column when the text stops mid-expression ("x +").
        lines = text.splitlines() or [""]
        lineno = len(lines)
        col = len(lines[-1].rstrip())
        message = "the expression ends too early (invalid syntax)"
    col += source.first_col if lineno == 1 else 0
    return parse_error(message, lineno=lineno + source.line_offset, col=col, source=source.text,
                       filename=source.filename)


def _statement_in(text: str) -> ast.stmt | None:
    """The first statement in ``text`` if it parses as statements, else None."""
    try:
        module = ast.parse(text, mode="exec")
    except (SyntaxError, RecursionError, MemoryError, ValueError):
        return None
    return next((node for node in module.body if not isinstance(node, ast.Expr)), None)


def _read_terms(text: str, terms: list[tuple[str, int, int]], source: Source, scope: Any,
                context: Context) -> Any:
    """Fold the terms of a split text left to right, reading each distinct term once."""
    operators = {"+": operator.add, "-": operator.sub, "*": operator.mul,
                 "/": operator.truediv, "//": operator.floordiv, "%": operator.mod,
                 "@": operator.matmul}
    read: dict[str, Any] = {}

    def read_term(raw: str, start: int) -> Any:
        term = raw.strip()
        if not term:
            raise source.error("operator without an operand", FakeNode(1, start))
        offset = start + (len(raw) - len(raw.lstrip()))
        term_source = Source(source.text, source.filename, [term], source.line_offset,
                             source.first_col + offset)
        return _read_span(term, term_source, scope, context)

    result = None
    for op, start, end in terms:
        raw = text[start:end]
        value = read.get(raw)
        if value is None:
            value = read[raw] = read_term(raw, start)
        if not op:
            result = value
            continue
        where = FakeNode(1, start - len(op))
        try:
            if isinstance(result, Node) and isinstance(value, Node):
                result = operators[op](result, value)
            else:
                result = apply_operator(operators[op], op, result, value)
        except Reject as err:
            raise source.error(str(err), where) from None
        except (ShapeError, DiffError) as err:
            raise type(err)(f"{err}{source.located(where)}") from err
        except (TypeError, ValueError, ArithmeticError) as err:
            raise source.error(clean_message(err), where) from None
    return result
