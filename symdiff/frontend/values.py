"""What the walker works with: the limits of a parse, the kinds of values it knows
besides expressions and constants, the state of one parse, and messages about values."""
from __future__ import annotations

import difflib
import inspect
import types
from dataclasses import dataclass, field
from typing import Any, Callable

from .. import members as member_table
from ..ir import Node
from ..ops import FUNCTIONS

MAX_NESTING = 180        # nested sub-expressions / inlined calls before a clear error
MAX_UNROLL = 100_000     # loop iterations unrolled per function
MAX_INT_BITS = 1100      # wider integer constants do not fit a float64 anyway
MAX_CONSTANT_SIZE = 10_000_000   # elements of an array built at parse time
MAX_TERMS = 100_000      # terms of an input split because Python's parser cannot read it


# ---------------------------------------------------------------------------
# the op table

def table_functions() -> dict[str, Callable[..., Any]]:
    return FUNCTIONS


def is_expr(value: Any) -> bool:
    return isinstance(value, Node)


def has_expr(value: Any) -> bool:
    if is_expr(value):
        return True
    if isinstance(value, (tuple, list)):
        return any(has_expr(item) for item in value)
    if isinstance(value, dict):
        return any(has_expr(item) for item in value.values())
    return False


# Attributes and methods of expressions and constant arrays, and the scalar types
# (dtypes): symdiff.members.
SCALAR_TYPES = member_table.SCALAR_TYPES


# ---------------------------------------------------------------------------
# values the walker knows besides expressions and constants

@dataclass(frozen=True, eq=False)
class Known:
    """A callable the front end knows: a table function, an alias, a builtin."""
    name: str
    call: Callable[..., Any]
    signature: inspect.Signature | None = None


@dataclass(frozen=True, eq=False)
class Method:
    """``value.name`` for a method of an expression or of a constant array."""
    owner: Any
    name: str


@dataclass(frozen=True, eq=False)
class UserFunction:
    """A Python function of the user's, read from its source and inlined."""
    fn: types.FunctionType


@dataclass(frozen=True, eq=False)
class Namespace:
    """``np``, ``numpy``, ``math``, ``symdiff`` or ``np.linalg``."""
    name: str
    members: dict[str, Any]


class Reject(Exception):
    """Raised inside the walker; turned into a ParseError at the node being read."""


@dataclass
class Context:
    """State shared by the walkers of one parse: nesting, inlining, loop budget."""
    depth: int = 0
    inlining: list[Any] = field(default_factory=list)
    unrolled: int = 0


# ---------------------------------------------------------------------------
# messages

def suggest(name: str, candidates: Any) -> str:
    """``"; did you mean 'sin'?"`` for the closest candidate, or ''."""
    best = closest(name, candidates)
    return f"; did you mean {best!r}?" if best else ""


def closest(name: str, candidates: Any) -> str | None:
    """The candidate name closest to ``name``, or None if none is close."""
    options = [c for c in candidates if isinstance(c, str) and not c.startswith("_")]
    close = difflib.get_close_matches(name, options, n=8, cutoff=0.6)
    if not close:
        return None
    # Of the close names, the fewest edits (a swap of two letters is one: 'cso' is 'cos'
    # mistyped, not 'csc'), then the same letters, then difflib's order.
    best = min(close, key=lambda c: (_edits(name, c), sorted(c) != sorted(name),
                                     close.index(c)))
    return best


def _edits(a: str, b: str) -> int:
    """Optimal string alignment distance: insertions, deletions, substitutions and swaps
    of adjacent letters."""
    d = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1,
                          d[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]


def describe(value: Any) -> str:
    if isinstance(value, Known):
        return f"the function {value.name}"
    if isinstance(value, Namespace):
        return f"the namespace {value.name}"
    if isinstance(value, Method):
        return f"the method .{value.name}"
    if isinstance(value, UserFunction):
        return f"the function {value.fn.__name__}"
    if isinstance(value, type) and value in SCALAR_TYPES:
        return f"the type {member_table.spelled(value)}"
    if value is None:
        return "None"
    if isinstance(value, tuple):
        return "a tuple"
    kind = type(value).__name__
    return ("an " if kind[0] in "aeiou" else "a ") + kind


def clean_message(err: BaseException) -> str:
    text = str(err) or type(err).__name__
    return text.splitlines()[0] if text else type(err).__name__
