"""Error classes.

Every error symdiff raises for bad input is a ``SymdiffError``. Messages name
what went wrong and where: a ``ParseError`` carries the line, the column and the
source line, and its message shows a caret under the column.

Each class also derives from the built-in exception a Python user would catch
for the same mistake: ``ParseError`` is a ``SyntaxError``; ``ShapeError``,
``DiffError`` and ``ArgumentError`` (a bad value, e.g. an empty variable name)
are ``ValueError`` subclasses; ``ArgumentTypeError`` (a value of the wrong type, e.g. a
variable name that is not a string) is an ``ArgumentError`` and a ``TypeError``.
"""
from __future__ import annotations


class SymdiffError(Exception):
    """Base class of every error raised by symdiff for bad input."""


class ParseError(SymdiffError, SyntaxError):
    """User text could not be read as an expression or a function.

    ``lineno`` is 1-based, ``col`` 0-based (as in ``ast``). ``str(err)`` shows the
    message, the source line and a caret under the column.
    """

    def __init__(self, message: str, *, lineno: int | None = None, col: int | None = None,
                 source: str | None = None, filename: str | None = None) -> None:
        self.message = message
        self.lineno = lineno
        self.col = col
        self.source_line = _line_of(source, lineno)
        self.filename = filename
        # SyntaxError's own fields, read by Python's traceback printer when the
        # error is not caught (without them it prints only 'File "<string>"').
        self.msg = message
        self.text = self.source_line
        self.offset = None if col is None else col + 1
        self.end_offset = None if col is None else col + 2
        Exception.__init__(self, self._render())

    def _render(self) -> str:
        where = []
        if self.filename:
            where.append(f'file "{self.filename}"')
        if self.lineno is not None:
            where.append(f"line {self.lineno}")
        if self.col is not None:
            where.append(f"column {self.col + 1}")
        head = self.message + (f" ({', '.join(where)})" if where else "")
        if self.source_line is None or self.col is None:
            return head
        line = self.source_line
        col = min(self.col, len(line))
        # Long lines are cut around the column so the caret stays readable.
        if len(line) > 100:
            start = max(0, col - 50)
            shown = ("..." if start else "") + line[start:start + 100]
            col = col - start + (3 if start else 0)
            line = shown + ("..." if start + 100 < len(self.source_line) else "")
        return f"{head}\n    {line}\n    {' ' * col}^"

    def __str__(self) -> str:
        return self.args[0]


class ShapeError(SymdiffError, ValueError):
    """Operand shapes or dtypes do not fit an operation (raised when the node is built)."""


class DiffError(SymdiffError, ValueError):
    """A derivative was asked for that does not exist or is not defined here."""


class ArgumentError(SymdiffError, ValueError):
    """An argument of a public function has a value it cannot take (an empty
    variable name)."""


class ArgumentTypeError(ArgumentError, TypeError):
    """An argument of a public function has the wrong type (a variable name that is
    not a string, a Python function given to a printer)."""


class CompileError(SymdiffError):
    """A graph could not be turned into a function (bad inputs, names, missing inputs)."""


def _line_of(source: str | None, lineno: int | None) -> str | None:
    if source is None:
        return None
    lines = source.splitlines() or [""]
    index = (lineno or 1) - 1
    if 0 <= index < len(lines):
        return lines[index].replace("\t", " ")
    return None
