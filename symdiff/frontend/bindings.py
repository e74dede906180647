"""Text with named parts: ``BODY where s2 = ..., s1 = ..., C0 = [[1.0, 2.0]]``.

This is how the printers name a subexpression used more than once, and a constant
array given beside the text. ``where`` is a keyword here only where it is not
called (``where(c, a, b)`` is NumPy's). A part may use the parts after it (the
printers put a name's definition after its uses), so parts are read right to
left; a list of numbers is a constant array.
"""
from __future__ import annotations

import io
import keyword
import re
import tokenize
from typing import NamedTuple


_KEYWORD = re.compile(r"\bwhere\b(?!\s*\()")


class Part(NamedTuple):
    """A span of the text: where it starts (line from 1, column) and what it says."""
    text: str
    lineno: int
    col: int


def split_where(text: str) -> tuple[Part, list[tuple[Part, Part]]] | None:
    """The body and the ``(name, definition)`` parts of ``text``, or None when it has
    no top-level ``where`` keyword (or does not tokenize: the parser reports that)."""
    if not _KEYWORD.search(text):    # a quick look first: huge texts are common
        return None
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return None
    depth, cut = 0, None
    for i, tok in enumerate(tokens):
        if tok.type == tokenize.OP and tok.string in "([{":
            depth += 1
        elif tok.type == tokenize.OP and tok.string in ")]}":
            depth -= 1
        elif (depth == 0 and tok.type == tokenize.NAME and tok.string == "where"
              and not (i + 1 < len(tokens) and tokens[i + 1].string == "(")):
            cut = i
            break
    if cut is None:
        return None
    lines = text.splitlines(True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))

    def offset(pos: tuple[int, int]) -> int:
        return starts[pos[0] - 1] + pos[1]

    def part(start: tuple[int, int], end: tuple[int, int]) -> Part:
        raw = text[offset(start):offset(end)]
        return Part(raw.strip(), start[0], start[1] + len(raw) - len(raw.lstrip()))

    body = part((1, 0), tokens[cut].start)
    defs: list[tuple[Part, Part]] = []
    depth, i = 0, cut + 1
    ends = (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER, tokenize.COMMENT)
    while i < len(tokens) and tokens[i].type not in ends:
        name = tokens[i]
        if (name.type != tokenize.NAME or keyword.iskeyword(name.string) or i + 1 >= len(tokens)
                or tokens[i + 1].string != "="):
            return body, defs + [(Part("", *name.start), Part("", *name.start))]
        j = i + 2
        while j < len(tokens) and tokens[j].type not in ends:
            tok = tokens[j]
            if tok.type == tokenize.OP and tok.string in "([{":
                depth += 1
            elif tok.type == tokenize.OP and tok.string in ")]}":
                depth -= 1
            elif depth == 0 and tok.string == ",":
                break
            j += 1
        end = tokens[j].start if j < len(tokens) else tokens[-1].end
        defs.append((Part(name.string, *name.start), part(tokens[i + 2].start, end)))
        i = j + 1 if j < len(tokens) and tokens[j].string == "," else j
    return body, defs
