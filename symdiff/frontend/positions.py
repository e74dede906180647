"""Positions: where a parsed node is in the user's text or file, and errors with a
line, a column and a caret there.

Positions are those of ``ast``: ``lineno`` 1-based, ``col`` 0-based, counted in
characters. For a function, they are positions in its file.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

from ..errors import ParseError
from .operators import OPERATOR_TEXT

@dataclass
class Source:
    """Where the parsed text came from, to turn ast positions into user positions.

    ``text`` is what the caret line is taken from (the whole file for a
    function); parsed line ``n`` is line ``n + line_offset`` of ``text``; on
    parsed line 1, ``first_col`` is added to the column.
    """
    text: str
    filename: str | None
    parsed_lines: list[str]
    line_offset: int = 0
    first_col: int = 0

    def position(self, node: Any) -> tuple[int | None, int | None]:
        lineno = getattr(node, "lineno", None)
        if lineno is None:
            return None, None
        col = node.col_offset
        if 0 < lineno <= len(self.parsed_lines):
            raw = self.parsed_lines[lineno - 1].encode("utf-8")
            col = len(raw[:col].decode("utf-8", errors="replace"))
        if lineno == 1:
            col += self.first_col
        return lineno + self.line_offset, col

    def error(self, message: str, node: Any = None) -> ParseError:
        lineno, col = self.position(node) if node is not None else (None, None)
        return parse_error(message, lineno=lineno, col=col, source=self.text,
                           filename=self.filename)

    def located(self, node: Any) -> str:
        lineno, col = self.position(node)
        if lineno is None:
            return ""
        place = f'file "{self.filename}", ' if self.filename else ""
        text = ParseError("", lineno=lineno, col=col, source=self.text)
        caret = str(text).split("\n", 1)[1] if "\n" in str(text) else ""
        return f" ({place}line {lineno}, column {col + 1})" + (f"\n{caret}" if caret else "")


def parse_error(message: str, *, lineno: int | None = None, col: int | None = None,
                source: str | None = None, filename: str | None = None) -> ParseError:
    """A ParseError whose SyntaxError fields are filled too, so that Python's own
    traceback printer shows the message, the line and a caret when it is not caught."""
    err = ParseError(message, lineno=lineno, col=col, source=source, filename=filename)
    err.msg = message
    err.text = err.source_line
    err.offset = None if col is None else col + 1
    err.end_offset = None if col is None else col + 2
    return err


def out_of_stack(text: str, filename: str | None) -> ParseError:
    # The nesting limit keeps the walker well inside Python's stack, unless the
    # caller was already deep in it.
    return parse_error("expression nested too deeply for the Python stack left at this "
                       "call", source=text, filename=filename)


@dataclass
class FakeNode:
    lineno: int
    col_offset: int


def attribute_position(node: ast.Attribute) -> Any:
    """Errors about ``owner.name`` point at ``name``, not at the start of the owner."""
    return FakeNode(node.end_lineno or node.lineno,
                    (node.end_col_offset or 0) - len(node.attr.encode("utf-8")))


def operator_position(binop: Any, source: Source) -> Any:
    """Where the operator of ``binop`` is written (ast only knows the operands)."""
    if isinstance(binop, ast.UnaryOp) or not isinstance(binop, ast.BinOp):
        return binop
    left, right = binop.left, binop.right
    if left.end_lineno == right.lineno == binop.lineno and left.end_col_offset is not None:
        line = source.parsed_lines[binop.lineno - 1].encode("utf-8")
        segment = line[left.end_col_offset:right.col_offset].decode("utf-8", "replace")
        symbol = OPERATOR_TEXT.get(type(binop.op), "")
        index = segment.find(symbol) if symbol else -1
        if index >= 0:
            return FakeNode(binop.lineno, left.end_col_offset + len(segment[:index].encode()))
    return binop


