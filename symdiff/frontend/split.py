"""Splitting text too deep for Python's parser (a sum of 30,000 terms) at its
top-level ``+ -`` (else ``* / // % @``), so that its terms can be read one by one.

The scan is vectorized with NumPy so that a megabyte of text takes milliseconds.
"""
from __future__ import annotations

import re

import numpy as np

_KEYWORDS = re.compile(r"\b(?:and|or|not|in|is|if|else|lambda|for|await|yield)\b")
_EXPONENT_BEFORE = re.compile(r"(?<![\w.])(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)[eE]$")


def _codes(characters: str) -> np.ndarray:
    return np.frombuffer(characters.encode("ascii"), dtype=np.uint8)


def _class(characters: str) -> np.ndarray:
    """A lookup table: ``_class(s)[codes]`` is True where a character is in ``s``."""
    table = np.zeros(256, dtype=bool)
    table[_codes(characters)] = True
    return table


_NEVER_SPLIT = _class("'\"#\n\r\\")      # strings, comments, several lines
_NOT_FLAT = _class("<>=!&|^~,:;")         # lower precedence than + at the top level
_OPENING, _CLOSING, _SPACE = _class("([{"), _class(")]}"), _class(" \t\f")
_OPERAND_END = _class(")]_.0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_EXPONENT_MARK = _class("eE")


def split_flat(text: str) -> tuple[np.ndarray, np.ndarray] | None:
    """Where ``text`` splits at its top-level binary ``+ -`` (else ``* / // % @``).

    Returns the operators' positions and widths, or ``None`` when the text has
    no such flat structure.
    """
    if not text.isascii() or _KEYWORDS.search(text):
        return None
    codes = _codes(text)
    if _NEVER_SPLIT[codes].any():
        return None
    depth = np.cumsum(_OPENING[codes].astype(np.int64) - _CLOSING[codes])
    if depth[-1] != 0 or depth.min() < 0:
        return None
    top = depth == 0
    if (top & _NOT_FLAT[codes]).any():
        return None
    positions = _additive(text, codes, top)
    if positions.size:
        return positions, np.ones_like(positions)
    positions, widths = _multiplicative(codes, top)
    return (positions, widths) if positions.size else None


def split_terms(text: str, split: tuple[np.ndarray, np.ndarray]) -> list[tuple[str, int, int]]:
    """``(operator, start, end)`` per term of a split text (the first operator is '')."""
    positions, widths = split[0].tolist(), split[1].tolist()
    starts = [0] + [p + w for p, w in zip(positions, widths)]
    ends = positions + [len(text)]
    operators = [""] + [text[p:p + w] for p, w in zip(positions, widths)]
    return list(zip(operators, starts, ends))


def _additive(text: str, codes: np.ndarray, top: np.ndarray) -> np.ndarray:
    """Top-level binary ``+``/``-``: after an operand, not a sign nor an exponent's."""
    candidates = np.flatnonzero(top & ((codes == ord("+")) | (codes == ord("-"))))
    if not candidates.size:
        return candidates
    positions = np.arange(len(codes))
    last_visible = np.maximum.accumulate(np.where(_SPACE[codes], -1, positions))
    before = np.where(candidates > 0, last_visible[np.maximum(candidates - 1, 0)], -1)
    previous = codes[np.maximum(before, 0)]
    binary = (before >= 0) & _OPERAND_END[previous]
    # After an e or E, the sign may belong to a number's exponent (1e-5).
    maybe_exponent = binary & _EXPONENT_MARK[previous]
    for k in np.flatnonzero(maybe_exponent).tolist():
        end = int(before[k])
        if _EXPONENT_BEFORE.search(text[max(0, end - 63):end + 1]):
            binary[k] = False
    return candidates[binary]


def _multiplicative(codes: np.ndarray, top: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Top-level ``* / // % @`` (``**`` binds tighter and is left inside the terms)."""
    def shifted(mask: np.ndarray, by: int) -> np.ndarray:
        out = np.zeros_like(mask)
        if by > 0:
            out[by:] = mask[:-by]
        else:
            out[:by] = mask[-by:]
        return out

    star, slash = codes == ord("*"), codes == ord("/")
    single_star = star & ~shifted(star, 1) & ~shifted(star, -1)
    floor_division = slash & shifted(slash, -1)
    true_division = slash & ~shifted(slash, -1) & ~shifted(slash, 1)
    other = (codes == ord("%")) | (codes == ord("@"))
    positions = np.flatnonzero(top & (single_star | true_division | floor_division | other))
    return positions, np.where(floor_division[positions], 2, 1)


