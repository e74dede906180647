"""Front end: text and NumPy-style Python functions -> graph nodes.

    sd.parse("x**2 * sin(x)")
    sd.parse("sum(sigmoid(W @ x + b))", W=(3, 4), x=(4,), b=(3,))
    parse_function(loss, W, x)          # loss's source, read with ast

Conventions of this module:

* Nothing the user wrote is ever run. Text and function source are read with
  ``ast`` and walked by a small interpreter over a whitelist of node kinds and
  names; ``eval``/``exec`` are never called, attributes are looked up only on the
  NumPy namespace aliases and on expressions (``.T``, ``.sum()``, ...), and only
  table functions, a few builtins and the user's own readable functions can be
  called. The code that runs is ours, the core's node builders, and NumPy on
  constants.
* While walking, a value is an expression (``Node``), a constant known at parse
  time (``int``, ``float``, ``bool``, a NumPy scalar or array, ``None``, ``...``,
  a slice, a ``range``, a tuple or list of values), or something callable that
  the front end knows (``_Known``, ``_Method``, ``_UserFunction``), a namespace
  (``_Namespace``), or a scalar type (``np.float32``, ``float``: a dtype, as in
  ``x.astype(np.float32)`` and ``x.dtype == np.float64``, and a converter of
  constants). Python's operators are applied to these values exactly as
  Python would apply them, so ``np.exp(W @ x)`` read from source and the same
  line run on variables build the same hash-consed node.
* Positions are those of ``ast``: ``lineno`` 1-based, ``col`` 0-based, counted
  in characters. For a function, they are positions in its file.
* Operator chains (``a + b - ...``, ``a ** b ** ...``, ``- - x``) are walked
  without recursion; other nesting is limited to ``MAX_NESTING`` levels. Text
  too deep for Python's own parser (a sum of 30,000 terms) is split at its
  top-level ``+ -`` (or ``* / @``) and read term by term, up to ``MAX_TERMS``
  terms; longer sums (``"x+" * 300000 + "x"``) are a clear error, found in a
  fraction of a second, rather than seconds of node building.
* Constant folding follows Python, with guards: integer results wider than
  ``MAX_INT_BITS`` bits and non-finite float constants are errors rather than
  hangs or silent infinities (``np.inf`` and ``inf`` written as names are fine).
"""
from __future__ import annotations

import ast
import difflib
import inspect
import linecache
import math
import operator
import re
import sys
import types
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from . import frontend_constructs as constructs, members as member_table, numpy_protocol
from .errors import (ArgumentError, ArgumentTypeError, DiffError, ParseError, ShapeError,
                     SymdiffError)
from .ir import Const, Node, Var

MAX_NESTING = 180        # nested sub-expressions / inlined calls before a clear error
MAX_UNROLL = 100_000     # loop iterations unrolled per function
MAX_INT_BITS = 1100      # wider integer constants do not fit a float64 anyway
MAX_CONSTANT_SIZE = 10_000_000   # elements of an array built at parse time
MAX_TERMS = 100_000      # terms of an input split because Python's parser cannot read it


# ---------------------------------------------------------------------------
# the op table

def _functions() -> dict[str, Callable[..., Any]]:
    from .ops import FUNCTIONS
    return FUNCTIONS


def _is_expr(value: Any) -> bool:
    return isinstance(value, Node)


# ---------------------------------------------------------------------------
# names

# SymPy / math spellings accepted in text, and NumPy aliases.
TEXT_ALIASES: dict[str, str] = {
    "asin": "arcsin", "acos": "arccos", "atan": "arctan",
    "Abs": "abs", "absolute": "abs", "ln": "log",
}
NUMPY_ALIASES: dict[str, str] = {"absolute": "abs", "amax": "max", "amin": "min",
                                 "fabs": "abs"}
TEXT_CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e, "inf": math.inf}

# Builtins that a function may call; their meaning is given in _builtin().
FUNCTION_BUILTINS = ("abs", "sum", "max", "min", "pow", "range", "len", "zip",
                     "enumerate", "reversed", "float", "int", "bool", "round")
TEXT_BUILTINS = ("abs", "sum", "max", "min", "Max", "Min", "pow", "Heaviside", "float")

# Calls that get a pointed refusal rather than "unknown function".
_FORBIDDEN_CALLS = frozenset((
    "eval", "exec", "compile", "open", "__import__", "globals", "locals", "vars",
    "getattr", "setattr", "delattr", "input", "breakpoint", "exit", "quit", "help",
    "print", "type", "object", "super", "memoryview", "classmethod", "staticmethod",
    "property", "dir", "id", "hash", "iter", "next", "callable", "isinstance"))

# Attributes and methods of expressions and constant arrays, and the scalar types
# (dtypes): symdiff.members.
_SCALAR_TYPES = member_table.SCALAR_TYPES

# Constant builders from the numpy namespace: called only on constants.
_CONSTANT_BUILDERS = ("zeros", "ones", "full", "eye", "identity", "arange", "linspace",
                      "array", "asarray")

# Constructs refused by kind, with a hint.
_REFUSED: dict[type, tuple[str, str]] = {
    ast.Lambda: ("a lambda", "define a function with def at module level"),
    ast.ListComp: ("a list comprehension", "write a for loop over range(N)"),
    ast.SetComp: ("a set comprehension", "use a list comprehension [... for ...]"),
    ast.DictComp: ("a dict comprehension", ""),
    ast.GeneratorExp: ("a generator expression", "write a for loop over range(N)"),
    ast.JoinedStr: ("an f-string", "strings have no meaning in an expression"),
    ast.FormattedValue: ("an f-string", "strings have no meaning in an expression"),
    ast.NamedExpr: ("the walrus operator ':='", "assign on a line of its own"),
    ast.Dict: ("a dict literal", ""),
    ast.Set: ("a set literal", "use a tuple or a list"),
    ast.Starred: ("a starred expression", "pass arguments one by one"),
    ast.Await: ("await", ""),
    ast.Yield: ("yield", ""),
    ast.YieldFrom: ("yield from", ""),
    ast.While: ("a while loop", "loops must be `for i in range(N)` with N known when "
                "the function is read"),
    ast.Import: ("an import statement", "import at module level"),
    ast.ImportFrom: ("an import statement", "import at module level"),
    ast.Global: ("a global statement", ""),
    ast.Nonlocal: ("a nonlocal statement", ""),
    ast.Try: ("a try statement", ""),
    ast.With: ("a with statement", ""),
    ast.AsyncWith: ("an async with statement", ""),
    ast.AsyncFor: ("an async for loop", ""),
    ast.AsyncFunctionDef: ("an async function", ""),
    ast.FunctionDef: ("a nested function definition", "define helpers at module level"),
    ast.ClassDef: ("a class definition", ""),
    ast.Delete: ("a del statement", ""),
}
if hasattr(ast, "TryStar"):
    _REFUSED[ast.TryStar] = ("a try statement", "")
if hasattr(ast, "Match"):
    _REFUSED[ast.Match] = ("a match statement", "")

_BINARY_OPERATORS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.Pow: operator.pow, ast.MatMult: operator.matmul,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
}
_OPERATOR_TEXT: dict[type, str] = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**",
    ast.MatMult: "@", ast.FloorDiv: "//", ast.Mod: "%", ast.BitXor: "^",
    ast.BitAnd: "&", ast.BitOr: "|", ast.LShift: "<<", ast.RShift: ">>",
}
_REFUSED_OPERATORS: dict[type, str] = {
    ast.BitXor: "'^' is bitwise XOR in Python; use ** for powers",
    ast.BitAnd: "'&' (bitwise and) is not supported; use np.where or np.minimum",
    ast.BitOr: "'|' (bitwise or) is not supported; use np.where or np.maximum",
    ast.LShift: "'<<' is not supported",
    ast.RShift: "'>>' is not supported",
    ast.Invert: "'~' (bitwise not) is not supported",
}
_COMPARISONS: dict[type, tuple[str, Callable[[Any, Any], Any]]] = {
    ast.Lt: ("less", operator.lt), ast.LtE: ("less_equal", operator.le),
    ast.Gt: ("greater", operator.gt), ast.GtE: ("greater_equal", operator.ge),
    ast.Eq: ("equal", operator.eq), ast.NotEq: ("not_equal", operator.ne),
    ast.Is: ("", operator.is_), ast.IsNot: ("", operator.is_not),
    ast.In: ("", lambda a, b: a in b), ast.NotIn: ("", lambda a, b: a not in b),
}
_ALLOWED_EXPRESSION_KINDS = frozenset((
    ast.BinOp, ast.UnaryOp, ast.Compare, ast.BoolOp, ast.IfExp, ast.Call, ast.keyword,
    ast.Name, ast.Constant, ast.Attribute, ast.Subscript, ast.Slice, ast.Tuple, ast.List))
_ALLOWED_STATEMENT_KINDS = _ALLOWED_EXPRESSION_KINDS | frozenset((
    ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Return, ast.If, ast.For, ast.Pass,
    ast.Break, ast.Continue, ast.Expr, ast.Raise, ast.Assert,
    # in function bodies only: symdiff.frontend_constructs
    ast.Dict, ast.ListComp, ast.GeneratorExp, ast.DictComp, ast.comprehension, ast.Lambda,
    ast.FunctionDef))


# ---------------------------------------------------------------------------
# values the walker knows besides expressions and constants

@dataclass(frozen=True, eq=False)
class _Known:
    """A callable the front end knows: a table function, an alias, a builtin."""
    name: str
    call: Callable[..., Any]
    signature: inspect.Signature | None = None


@dataclass(frozen=True, eq=False)
class _Method:
    """``value.name`` for a method of an expression or of a constant array."""
    owner: Any
    name: str


@dataclass(frozen=True, eq=False)
class _UserFunction:
    """A Python function of the user's, read from its source and inlined."""
    fn: types.FunctionType


@dataclass(frozen=True, eq=False)
class _Namespace:
    """``np``, ``numpy``, ``math``, ``symdiff`` or ``np.linalg``."""
    name: str
    members: dict[str, Any]


class _Reject(Exception):
    """Raised inside the walker; turned into a ParseError at the node being read."""


# ---------------------------------------------------------------------------
# positions

@dataclass
class _Source:
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
        return _error(message, lineno=lineno, col=col, source=self.text,
                      filename=self.filename)

    def located(self, node: Any) -> str:
        lineno, col = self.position(node)
        if lineno is None:
            return ""
        place = f'file "{self.filename}", ' if self.filename else ""
        text = ParseError("", lineno=lineno, col=col, source=self.text)
        caret = str(text).split("\n", 1)[1] if "\n" in str(text) else ""
        return f" ({place}line {lineno}, column {col + 1})" + (f"\n{caret}" if caret else "")


def _error(message: str, *, lineno: int | None = None, col: int | None = None,
           source: str | None = None, filename: str | None = None) -> ParseError:
    """A ParseError whose SyntaxError fields are filled too, so that Python's own
    traceback printer shows the message, the line and a caret when it is not caught."""
    err = ParseError(message, lineno=lineno, col=col, source=source, filename=filename)
    err.msg = message
    err.text = err.source_line
    err.offset = None if col is None else col + 1
    err.end_offset = None if col is None else col + 2
    return err


@dataclass
class _Context:
    """State shared by the walkers of one parse: nesting, inlining, loop budget."""
    depth: int = 0
    inlining: list[Any] = field(default_factory=list)
    unrolled: int = 0


# ---------------------------------------------------------------------------
# public entry points

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
    _refresh_tables()
    bindings = {name: _binding(name, value) for name, value in shapes.items()}
    scope = _TextScope(bindings)
    try:
        value = _read_text(text, scope, _Context())
    except RecursionError:
        raise _out_of_stack(text, None) from None
    if isinstance(value, (bool, int, float, np.number, np.bool_, np.ndarray)):
        return Const(value)
    if not _is_expr(value):
        source = _Source(text, None, text.splitlines())
        raise source.error(f"the text is {_describe(value)}, not an expression",
                           _FakeNode(1, 0))
    return value


def parse_function(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Read ``fn``'s source and evaluate its body on ``args`` without running it.

    The arguments are expressions (usually variables) or constants; the result
    is what ``fn`` returns, built as graph: an expression, or a tuple of them.
    Calls to other readable functions of the user are inlined; module-level
    numbers and arrays become constants; ``for`` loops over ``range(N)`` are
    unrolled and ``if`` is decided when the condition is known while reading
    (shapes are). Errors are ``ParseError`` at the position in ``fn``'s file.
    """
    _refresh_tables()
    known = _known_callable(fn)
    if known is not None:            # sd.grad(np.sin), sd.grad(np.sum)
        return known.call(*args, **kwargs)
    context = _Context()
    user_fn = _UserFunction(_unwrap(fn))
    definition, source = _read_function(user_fn.fn)
    walker = _Walker(source, None, context)
    try:
        return walker.call_user(definition, user_fn, list(args), kwargs, top=True)
    except RecursionError:
        raise _out_of_stack(source.text, source.filename) from None


def _out_of_stack(text: str, filename: str | None) -> ParseError:
    # The nesting limit keeps the walker well inside Python's stack, unless the
    # caller was already deep in it.
    return _error("expression nested too deeply for the Python stack left at this "
                      "call", source=text, filename=filename)


# ---------------------------------------------------------------------------
# text

def _binding(name: str, value: Any) -> Any:
    if not name.isidentifier():
        raise ArgumentError(f"parse(): {name!r} is not a valid variable name")
    if _is_expr(value):
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
            return _numpy_namespace(strict=False)
        if name == "math":
            return _math_namespace()
        variable = self.free.get(name)
        if variable is None:
            variable = self.free[name] = Var(name)
        return variable

    def lookup_function(self, name: str) -> Any:
        if name in self.bindings:
            raise _Reject(f"{name!r} is given as a variable, not a function")
        known = _text_function(name)
        if known is not None:
            return known
        if name in ("np", "numpy", "math") or name in TEXT_CONSTANTS:
            return self.lookup(name)
        names = list(_functions()) + list(TEXT_ALIASES) + list(TEXT_BUILTINS)
        raise _Reject(f"unknown function {name!r}" + _suggest(name, names))


def _read_text(text: str, scope: _TextScope, context: _Context) -> Any:
    stripped = text.lstrip()
    if not stripped.strip():
        raise _error("empty expression", lineno=1, col=0, source=text)
    removed = text[:len(text) - len(stripped)]
    line_offset = removed.count("\n")
    first_col = len(removed) - (removed.rfind("\n") + 1)
    source = _Source(text, None, stripped.splitlines(), line_offset, first_col)
    return _read_span(stripped, source, scope, context)


def _read_span(text: str, source: _Source, scope: Any, context: _Context) -> Any:
    """Parse and walk ``text`` (one expression); split it if Python's parser cannot."""
    if len(text) > 4 * MAX_TERMS:
        # Too many terms is known from a quick scan, before Python's parser spends
        # its time on the text.
        split = _split_flat(text)
        if split is not None and len(split[0]) + 1 > MAX_TERMS:
            raise _too_many_terms(len(split[0]) + 1, source)
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as err:
        raise _syntax_error(err, text, source) from None
    except ValueError as err:        # e.g. a NUL character, on some Python versions
        raise source.error(str(err), _FakeNode(1, 0)) from None
    except (RecursionError, MemoryError):
        split = _split_flat(text)
        if split is None:
            raise source.error("expression is nested too deeply for Python's parser "
                               "(simplify it or split it into parts)",
                               _FakeNode(1, 0)) from None
        if len(split[0]) + 1 > MAX_TERMS:
            raise _too_many_terms(len(split[0]) + 1, source) from None
        return _read_terms(text, _terms(text, split), source, scope, context)
    _validate(tree, source, statements=False)
    return _Walker(source, scope, context).eval(tree.body)


def _too_many_terms(count: int, source: _Source) -> ParseError:
    return source.error(f"expression too long: {count} terms in one sum or product (the "
                        f"limit is {MAX_TERMS}); use sum() over an array instead",
                        _FakeNode(1, 0))


def _syntax_error(err: SyntaxError, text: str, source: _Source) -> ParseError:
    message = err.msg or "invalid syntax"
    # SyntaxError counts columns in characters, 1-based.
    lineno, col = err.lineno or 1, max((err.offset or 1) - 1, 0)
    if message.startswith("invalid syntax"):
        statement = _statement_in(text)
        if statement is not None:
            message = f"{_construct(statement)} is not allowed in an expression"
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
    return _error(message, lineno=lineno + source.line_offset, col=col, source=source.text,
                  filename=source.filename)


def _statement_in(text: str) -> ast.stmt | None:
    """The first statement in ``text`` if it parses as statements, else None."""
    try:
        module = ast.parse(text, mode="exec")
    except (SyntaxError, RecursionError, MemoryError, ValueError):
        return None
    return next((node for node in module.body if not isinstance(node, ast.Expr)), None)


@dataclass
class _FakeNode:
    lineno: int
    col_offset: int


# Top-level splitting of inputs too deep for ast: "x+x+...+x", "x*x*...*x". The
# scan is vectorized with NumPy so that a megabyte of text takes milliseconds.
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


def _split_flat(text: str) -> tuple[np.ndarray, np.ndarray] | None:
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


def _terms(text: str, split: tuple[np.ndarray, np.ndarray]) -> list[tuple[str, int, int]]:
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


def _read_terms(text: str, terms: list[tuple[str, int, int]], source: _Source, scope: Any,
                context: _Context) -> Any:
    """Fold the terms of a split text left to right, reading each distinct term once."""
    operators = {"+": operator.add, "-": operator.sub, "*": operator.mul,
                 "/": operator.truediv, "//": operator.floordiv, "%": operator.mod,
                 "@": operator.matmul}
    read: dict[str, Any] = {}

    def read_term(raw: str, start: int) -> Any:
        term = raw.strip()
        if not term:
            raise source.error("operator without an operand", _FakeNode(1, start))
        offset = start + (len(raw) - len(raw.lstrip()))
        term_source = _Source(source.text, source.filename, [term], source.line_offset,
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
        where = _FakeNode(1, start - len(op))
        try:
            if isinstance(result, Node) and isinstance(value, Node):
                result = operators[op](result, value)
            else:
                result = _apply_operator(operators[op], op, result, value)
        except _Reject as err:
            raise source.error(str(err), where) from None
        except (ShapeError, DiffError) as err:
            raise type(err)(f"{err}{source.located(where)}") from err
        except (TypeError, ValueError, ArithmeticError) as err:
            raise source.error(_clean_message(err), where) from None
    return result


# ---------------------------------------------------------------------------
# whitelist

def _validate(tree: ast.AST, source: _Source, *, statements: bool) -> None:
    """Refuse every node kind, name and attribute outside the whitelist.

    Iterative pre-order walk, so the first refusal in reading order is reported.
    The subtrees of ``raise`` and of ``assert``'s message are not read (they are
    only reported, never evaluated), nor are decorators and annotations. The
    root may be a ``def`` or a ``lambda`` (the function being read).
    """
    allowed = _ALLOWED_STATEMENT_KINDS if statements else _ALLOWED_EXPRESSION_KINDS
    strings = statements        # dict keys and dtype names, in function bodies
    stack: list[ast.AST] = list(reversed(_children(tree)))
    while stack:
        node = stack.pop()
        kind = type(node)
        if kind not in allowed:
            if kind in _REFUSED:
                name, hint = _REFUSED[kind]
                raise source.error(f"{name} is not supported" + (f"; {hint}" if hint else ""),
                                   node)
            raise source.error(f"{_construct(node)} is not supported", node)
        if kind is ast.Constant:
            if not (strings and isinstance(node.value, str)):
                _check_literal(node, source)
        elif kind is ast.Name:
            if node.id.startswith("__"):
                raise source.error(f"the name {node.id!r} is not allowed", node)
        elif kind is ast.BinOp or kind is ast.UnaryOp:
            if type(node.op) in _REFUSED_OPERATORS:
                raise source.error(_REFUSED_OPERATORS[type(node.op)],
                                   _operator_position(node, source))
        elif kind is ast.Attribute:
            if node.attr.startswith("_"):
                raise source.error(f"the attribute {node.attr!r} is not allowed",
                                   _attribute_position(node))
        elif kind is ast.Call:
            if isinstance(node.func, ast.Name) and node.func.id in _FORBIDDEN_CALLS:
                raise source.error(f"calling {node.func.id}() is not allowed: symdiff reads "
                                   "code, it does not run it", node.func)
            for keyword in node.keywords:
                if keyword.arg is None:
                    raise source.error("**kwargs in a call is not supported", keyword.value)
        stack.extend(reversed(_children(node)))


# The fields of a node that hold sub-expressions or statements worth checking:
# operators and contexts are checked on their parent, decorators, annotations
# and default values are never read (defaults are taken as the values Python
# computed for them).
_SKIPPED_FIELDS = frozenset(("ctx", "op", "ops", "decorator_list", "returns", "annotation",
                             "type_comment", "args", "type_params"))


def _children(node: ast.AST) -> list[ast.AST]:
    kind = type(node)
    if kind is ast.Raise:
        return []
    if kind is ast.Assert:
        return [node.test]
    if kind is ast.Expr and type(node.value) is ast.Constant:
        return []     # docstrings and other bare constants: no effect
    if kind is ast.AnnAssign:
        return [node.target] + ([node.value] if node.value is not None else [])
    if kind is ast.Call:
        if _is_float_literal(node):
            return [node.func]     # float('inf'): the one string allowed, read by float
        return [node.func, *node.args, *node.keywords]
    children: list[ast.AST] = []
    for name in kind._fields:
        if name in _SKIPPED_FIELDS:
            continue
        value = getattr(node, name, None)
        if type(value) is list:
            children.extend(item for item in value if item is not None)   # {**d}: None key
        elif isinstance(value, ast.AST):
            children.append(value)
    return children


_FLOAT_WORDS = frozenset(("inf", "+inf", "-inf", "infinity", "+infinity", "-infinity",
                          "nan"))


def _is_float_literal(node: ast.Call) -> bool:
    """``float('inf')``, ``float('-inf')``, ``float('nan')``: how str() prints them."""
    return (isinstance(node.func, ast.Name) and node.func.id == "float" and not node.keywords
            and len(node.args) == 1 and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and node.args[0].value.strip().lower() in _FLOAT_WORDS)


def _check_literal(node: ast.Constant, source: _Source) -> None:
    value = node.value
    if isinstance(value, (str, bytes)):
        raise source.error("strings are not allowed in an expression", node)
    if isinstance(value, complex):
        raise source.error("complex numbers are not supported", node)
    if isinstance(value, float) and not math.isfinite(value):
        raise source.error("non-finite constant: the literal overflows float64 (write inf "
                           "or np.inf if infinity is meant)", node)
    if isinstance(value, int) and not isinstance(value, bool) \
            and value.bit_length() > MAX_INT_BITS:
        raise source.error("integer constant too large for float64", node)


_STATEMENT_NAMES = {ast.Assign: "an assignment", ast.AugAssign: "an assignment",
                    ast.AnnAssign: "an assignment", ast.Return: "a return statement",
                    ast.If: "an if statement", ast.For: "a for loop", ast.Pass: "pass",
                    ast.Raise: "a raise statement", ast.Assert: "an assert statement",
                    ast.Break: "break", ast.Continue: "continue"}


def _construct(node: ast.AST) -> str:
    kind = type(node)
    if kind in _REFUSED:
        return _REFUSED[kind][0]
    if kind in _STATEMENT_NAMES:
        return _STATEMENT_NAMES[kind]
    name = kind.__name__
    return "an " + name if name[0] in "AEIOU" else "a " + name


def _attribute_position(node: ast.Attribute) -> Any:
    """Errors about ``owner.name`` point at ``name``, not at the start of the owner."""
    return _FakeNode(node.end_lineno or node.lineno,
                     (node.end_col_offset or 0) - len(node.attr.encode("utf-8")))


def _operator_position(binop: Any, source: _Source) -> Any:
    """Where the operator of ``binop`` is written (ast only knows the operands)."""
    if isinstance(binop, ast.UnaryOp) or not isinstance(binop, ast.BinOp):
        return binop
    left, right = binop.left, binop.right
    if left.end_lineno == right.lineno == binop.lineno and left.end_col_offset is not None:
        line = source.parsed_lines[binop.lineno - 1].encode("utf-8")
        segment = line[left.end_col_offset:right.col_offset].decode("utf-8", "replace")
        symbol = _OPERATOR_TEXT.get(type(binop.op), "")
        index = segment.find(symbol) if symbol else -1
        if index >= 0:
            return _FakeNode(binop.lineno, left.end_col_offset + len(segment[:index].encode()))
    return binop


# ---------------------------------------------------------------------------
# the walker

class _Walker:
    """Evaluates whitelisted ast nodes to values (see the module docstring)."""

    def __init__(self, source: _Source, scope: Any, context: _Context) -> None:
        self.source = source
        self.scope = scope
        self.context = context

    # -- errors -------------------------------------------------------------

    def fail(self, message: str, node: Any) -> ParseError:
        return self.source.error(message, node)

    def guarded(self, node: Any, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call into the core or NumPy; report its errors at ``node``."""
        try:
            return fn(*args, **kwargs)
        except (ParseError, _Reject):
            raise
        except (ShapeError, DiffError) as err:
            raise type(err)(f"{err}{self.source.located(node)}") from err
        except SymdiffError:
            raise
        except RecursionError:
            raise self.fail("expression nested too deeply", node) from None
        except NotImplementedError as err:
            raise self.fail(str(err) or "not supported", node) from None
        except (TypeError, ValueError, ArithmeticError, IndexError, KeyError,
                AttributeError) as err:
            raise self.fail(_clean_message(err), node) from None

    # -- expressions ----------------------------------------------------------

    def eval(self, node: ast.AST) -> Any:
        context = self.context
        context.depth += 1
        try:
            if context.depth > MAX_NESTING:
                raise self.fail(f"expression nested too deeply (more than {MAX_NESTING} "
                                "levels)", node)
            method = getattr(self, "eval_" + type(node).__name__, None)
            if method is None:
                raise self.fail(f"{_construct(node)} is not supported here", node)
            try:
                return method(node)
            except _Reject as err:
                raise self.fail(str(err), node) from None
        finally:
            context.depth -= 1

    def eval_Constant(self, node: ast.Constant) -> Any:
        return node.value

    def eval_Name(self, node: ast.Name) -> Any:
        return self.scope.lookup(node.id)

    def eval_Tuple(self, node: ast.Tuple) -> tuple:
        return tuple(self.eval(element) for element in node.elts)

    def eval_List(self, node: ast.List) -> list:
        return [self.eval(element) for element in node.elts]

    def eval_Dict(self, node: ast.Dict) -> dict:
        return constructs.dict_literal(self, node)

    def eval_ListComp(self, node: ast.ListComp) -> Any:
        return constructs.comprehension(self, node)

    eval_GeneratorExp = eval_DictComp = eval_ListComp

    def eval_Lambda(self, node: ast.Lambda) -> Any:
        return constructs.define(self, node)

    def eval_BinOp(self, node: ast.BinOp) -> Any:
        if isinstance(node.op, ast.Pow):
            # a ** b ** c is a ** (b ** c): walk the right spine.
            chain = [node]
            while isinstance(chain[-1].right, ast.BinOp) and isinstance(chain[-1].right.op,
                                                                        ast.Pow):
                chain.append(chain[-1].right)
            result = self.eval(chain[-1].right)
            for link in reversed(chain):
                base = self.eval(link.left)
                result = self.binary(link, base, result)
            return result
        # a + b - c * d ...: walk the left spine.
        chain = [node]
        while isinstance(chain[-1].left, ast.BinOp) and not isinstance(chain[-1].left.op,
                                                                       ast.Pow):
            chain.append(chain[-1].left)
        result = self.eval(chain[-1].left)
        for link in reversed(chain):
            result = self.binary(link, result, self.eval(link.right))
        return result

    def binary(self, node: ast.BinOp, left: Any, right: Any) -> Any:
        kind = type(node.op)
        if kind in _REFUSED_OPERATORS:
            raise self.fail(_REFUSED_OPERATORS[kind], _operator_position(node, self.source))
        if kind in (ast.Mod, ast.FloorDiv) and (_is_expr(left) or _is_expr(right)):
            raise self.fail(constructs.FLOOR_REFUSAL.format(symbol=_OPERATOR_TEXT[kind]),
                            _operator_position(node, self.source))
        try:
            return _apply_operator(_BINARY_OPERATORS[kind], _OPERATOR_TEXT[kind], left, right,
                                   guard=lambda fn, a, b: self.guarded(node, fn, a, b))
        except _Reject as err:
            raise self.fail(str(err), _operator_position(node, self.source)) from None

    def eval_UnaryOp(self, node: ast.UnaryOp) -> Any:
        chain = [node]
        while isinstance(chain[-1].operand, ast.UnaryOp):
            chain.append(chain[-1].operand)
        value = self.eval(chain[-1].operand)
        for link in reversed(chain):
            kind = type(link.op)
            if kind in _REFUSED_OPERATORS:
                raise self.fail(_REFUSED_OPERATORS[kind], link)
            if isinstance(link.op, ast.Not):
                value = not self.static(value, link, "'not'")
                continue
            _check_operand(value, "-" if isinstance(link.op, ast.USub) else "+")
            if isinstance(link.op, ast.USub):
                value = self.guarded(link, operator.neg, value)
            elif not _is_expr(value) or hasattr(type(value), "__pos__"):
                value = self.guarded(link, operator.pos, value)
        return value

    def eval_Compare(self, node: ast.Compare) -> Any:
        left = self.eval(node.left)
        operands = [self.eval(right) for right in node.comparators]
        symbolic = _is_expr(left) or any(_is_expr(value) for value in operands)
        if symbolic and len(operands) > 1:
            raise self.fail("chained comparisons of expressions are not supported; "
                            "compare two values at a time", node)
        result: Any = True
        for op, right in zip(node.ops, operands):
            table_name, python_op = _COMPARISONS[type(op)]
            if symbolic:
                if not table_name:
                    raise self.fail(f"'{_cmp_text(op)}' cannot compare expressions", node)
                _check_operand(left, _cmp_text(op))
                _check_operand(right, _cmp_text(op))
                if isinstance(op, (ast.Eq, ast.NotEq)):
                    return self.guarded(node, _functions()[table_name], left, right)
                return self.guarded(node, python_op, left, right)
            outcome = self.guarded(node, python_op, left, right)
            if isinstance(outcome, np.ndarray):
                return outcome
            result = outcome
            if not result:
                return result
            left = right
        return result

    def eval_BoolOp(self, node: ast.BoolOp) -> Any:
        is_and = isinstance(node.op, ast.And)
        value: Any = None
        for operand in node.values:
            value = self.eval(operand)
            truth = self.static(value, operand, "'and'" if is_and else "'or'")
            if truth != is_and:
                return value
        return value

    def eval_IfExp(self, node: ast.IfExp) -> Any:
        test = self.static(self.eval(node.test), node.test, "'... if ... else ...'")
        return self.eval(node.body if test else node.orelse)

    def static(self, value: Any, node: Any, construct: str) -> bool:
        """The truth of a value known while reading; expressions are refused."""
        if _is_expr(value):
            raise self.fail(f"{construct} needs a value known while reading, but this "
                            "depends on the inputs; use np.where(condition, a, b), or pass "
                            "a Python value that steers the code as a static argument "
                            "(static_argnums)", node)
        if isinstance(value, np.ndarray) and value.size != 1:
            raise self.fail(f"{construct} on an array with more than one element is "
                            "ambiguous", node)
        return bool(value)

    def eval_Attribute(self, node: ast.Attribute) -> Any:
        owner = self.eval(node.value)
        name_at = _attribute_position(node)
        try:
            return self.attribute(owner, node.attr, name_at)
        except _Reject as err:
            raise self.fail(str(err), name_at) from None

    def attribute(self, owner: Any, name: str, node: Any) -> Any:
        if isinstance(owner, _Namespace):
            if name in owner.members:
                return owner.members[name]
            close = difflib.get_close_matches(name, list(owner.members), n=1, cutoff=0.6)
            hint = f"; did you mean {owner.name}.{close[0]}?" if close else ""
            raise self.fail(f"{owner.name}.{name} is not supported" + hint, node)
        if _is_expr(owner) or isinstance(owner, (np.ndarray, np.generic)):
            entry = member_table.MEMBERS.get(name)
            if entry is None:
                raise self.fail(f"the attribute .{name} is not supported; expressions and "
                                f"arrays have {member_table.listing()}"
                                + _suggest(name, member_table.MEMBERS), node)
            if entry.method:
                return _Method(owner, name)
            return self.guarded(node, member_table.get, owner, entry)
        if isinstance(owner, dict) and constructs.dict_member(owner, name) is not None:
            method = constructs.dict_member(owner, name)
            return _Known(f"dict.{name}", method, _signature(method))
        raise self.fail(f"{_describe(owner)} has no attribute .{name} that symdiff can read",
                        node)

    def eval_Subscript(self, node: ast.Subscript) -> Any:
        owner = self.eval(node.value)
        if isinstance(owner, dict):
            return constructs.dict_item(self, owner, self.eval(node.slice), node.slice)
        index = self.index(node.slice)
        if not (_is_expr(owner) or isinstance(owner, (tuple, list, np.ndarray, range))):
            raise self.fail(f"{_describe(owner)} cannot be indexed", node)
        return self.guarded(node, operator.getitem, owner, index)

    def index(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Slice):
            parts = [None if part is None else self.index_part(part)
                     for part in (node.lower, node.upper, node.step)]
            return slice(*parts)
        if isinstance(node, ast.Tuple):
            return tuple(self.index(element) for element in node.elts)
        value = self.eval(node)
        return self.index_value(value, node)

    def index_part(self, node: ast.AST) -> Any:
        value = self.eval(node)
        if value is None:
            return None
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            return int(value)
        if _is_expr(value):
            raise self.fail("slice bounds must be integers known while reading, not "
                            "expressions", node)
        raise self.fail(f"slice bounds must be integers, not {_describe(value)}", node)

    def index_value(self, value: Any, node: ast.AST) -> Any:
        if _is_expr(value):
            raise self.fail("indexing with an expression is not supported; indices must be "
                            "integers known while reading (use np.where for masks)", node)
        if isinstance(value, tuple):
            return tuple(self.index_value(v, node) for v in value)
        if value is None or value is Ellipsis or isinstance(value, (slice, np.ndarray)):
            return value
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            return int(value)
        raise self.fail(f"an index must be an integer, a slice, None or ..., not "
                        f"{_describe(value)}", node)

    def eval_Call(self, node: ast.Call) -> Any:
        if isinstance(node.func, ast.Name):
            try:
                function = self.scope.lookup_function(node.func.id)
            except _Reject as err:
                raise self.fail(str(err), node.func) from None
        else:
            function = self.eval(node.func)
        args = [self.eval(arg) for arg in node.args]
        kwargs = {keyword.arg: self.eval(keyword.value) for keyword in node.keywords}
        return self.call(function, args, kwargs, node)

    def call(self, function: Any, args: list, kwargs: dict, node: ast.Call) -> Any:
        if isinstance(function, _Known):
            if function.signature is not None:
                try:
                    function.signature.bind(*args, **kwargs)
                except TypeError as err:
                    raise self.fail(_arity_message(function, err, kwargs), node) from None
                if not function.name.startswith("dict."):
                    args, kwargs = self.check_sequences(function, args, kwargs, node)
            return self.guarded(node, function.call, *args, **kwargs)
        if isinstance(function, _Method):
            entry = member_table.MEMBERS[function.name]
            problem = member_table.arity_problem(entry, function.owner, args, kwargs)
            if problem:
                raise self.fail(problem, node)
            method = member_table.get(function.owner, entry)
            return self.guarded(node, method, *args, **kwargs)
        if isinstance(function, type) and function in _SCALAR_TYPES:
            if _has_expr(args) or _has_expr(kwargs):
                spelled = member_table.spelled(function)
                raise self.fail(f"{spelled}() converts a value known while reading; to "
                                f"convert an expression write x.astype({spelled})", node)
            return self.guarded(node, function, *args, **kwargs)
        if isinstance(function, constructs.LocalFunction):
            return constructs.call_local(self, function, args, kwargs, node)
        if isinstance(function, _UserFunction):
            definition, source = _read_function(function.fn)
            walker = _Walker(source, None, self.context)
            return walker.call_user(definition, function, args, kwargs, call_site=(self, node))
        raise self.fail(f"{_describe(function)} is not a function symdiff can call", node)

    def check_sequences(self, function: _Known, args: list, kwargs: dict,
                        node: ast.Call) -> tuple[list, dict]:
        """A list or tuple holding expressions is a sequence of arrays where NumPy takes
        one (a parameter named ``arrays``: concatenate, stack). Elsewhere NumPy makes it
        an array (``np.mean([a, b])``): it is stacked into one expression likewise."""
        names = list(function.signature.parameters) + [None] * len(args)
        args, kwargs = list(args), dict(kwargs)
        for i, (name, value, at) in enumerate(zip(names, list(args), node.args)):
            if name != "arrays" and isinstance(value, (list, tuple)) and _has_expr(value):
                args[i] = self.guarded(at, constructs.as_array, value)
        for keyword in node.keywords:
            value = kwargs[keyword.arg]
            if keyword.arg != "arrays" and isinstance(value, (list, tuple)) \
                    and _has_expr(value):
                kwargs[keyword.arg] = self.guarded(keyword.value, constructs.as_array, value)
        return args, kwargs

    # -- functions -----------------------------------------------------------

    def call_user(self, definition: Any, function: _UserFunction, args: list, kwargs: dict,
                  *, top: bool = False, call_site: tuple | None = None) -> Any:
        """Bind arguments and walk the body of a user function (inlining it)."""
        fn = function.fn
        name = fn.__name__
        context = self.context

        def refuse(message: str) -> ParseError:
            if call_site is not None:
                return call_site[0].fail(message, call_site[1])
            return self.fail(message, definition)

        if any(active is fn for active in context.inlining):
            raise refuse(f"recursive call of {name}() is not supported")
        try:
            bound = inspect.signature(fn).bind(*args, **kwargs)
        except TypeError as err:
            raise refuse(f"{name}(): {err}") from None
        local: dict[str, Any] = {}
        for parameter in inspect.signature(fn).parameters.values():
            if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
                raise self.fail(f"{name}(): *args and **kwargs parameters are not supported",
                                definition)
            if parameter.name in bound.arguments:
                local[parameter.name] = bound.arguments[parameter.name]
            elif parameter.default is not parameter.empty:
                try:
                    local[parameter.name] = _from_python(parameter.default, parameter.name)
                except _Reject as err:
                    raise refuse(f"{name}(): default of {err}") from None
        self.scope = _FunctionScope(fn, local)
        context.inlining.append(fn)
        context.depth += 4       # an inlined call costs a few Python frames
        try:
            if isinstance(definition, ast.Lambda):
                return self.eval(definition.body)
            outcome = self.run(definition.body)
            if isinstance(outcome, _Return):
                return outcome.value
            if top:
                raise self.fail(f"{name}() has no return statement", definition)
            return None
        finally:
            context.depth -= 4
            context.inlining.pop()

    def run(self, statements: list[ast.stmt]) -> Any:
        """Walk statements; returns ``_Return``, ``_BREAK``, ``_CONTINUE`` or None."""
        for statement in statements:
            outcome = self.statement(statement)
            if outcome is not None:
                return outcome
        return None

    def statement(self, node: ast.stmt) -> Any:
        try:
            return self._statement(node)
        except _Reject as err:
            raise self.fail(str(err), node) from None

    def _statement(self, node: ast.stmt) -> Any:
        if isinstance(node, ast.Assign):
            value = self.eval(node.value)
            for target in node.targets:
                self.assign(target, value)
        elif isinstance(node, ast.AugAssign):
            if not isinstance(node.target, ast.Name):
                raise self.fail("augmented assignment works on names only (arrays are "
                                "immutable here)", node.target)
            current = self.scope.lookup(node.target.id)
            update = self.eval(node.value)
            self.scope.assign(node.target.id, self.binary(
                ast.BinOp(left=node.target, op=node.op, right=node.value,
                          lineno=node.lineno, col_offset=node.col_offset,
                          end_lineno=node.end_lineno, end_col_offset=node.end_col_offset),
                current, update))
        elif isinstance(node, ast.AnnAssign):
            if node.value is not None:
                self.assign(node.target, self.eval(node.value))
        elif isinstance(node, ast.Return):
            return _Return(None if node.value is None else self.eval(node.value))
        elif isinstance(node, ast.If):
            test = self.static(self.eval(node.test), node.test, "'if'")
            return self.run(node.body if test else node.orelse)
        elif isinstance(node, ast.For):
            return self.loop(node)
        elif isinstance(node, ast.FunctionDef):
            constructs.define(self, node)
        elif isinstance(node, ast.Break):
            return _BREAK
        elif isinstance(node, ast.Continue):
            return _CONTINUE
        elif isinstance(node, ast.Expr):
            if not isinstance(node.value, ast.Constant):
                raise self.fail("a bare expression has no effect here; assign it or return "
                                "it", node)
        elif isinstance(node, ast.Raise):
            raise self.fail("the function raises an exception here for these inputs "
                            "(the raise statement is reached while reading)", node)
        elif isinstance(node, ast.Assert):
            if not self.static(self.eval(node.test), node.test, "'assert'"):
                raise self.fail("assertion failed for these inputs", node)
        elif not isinstance(node, ast.Pass):
            raise self.fail(f"{_construct(node)} is not supported", node)
        return None

    def loop(self, node: ast.For) -> Any:
        iterable = self.eval(node.iter)
        items = self.items(iterable, node.iter)
        for item in items:
            self.context.unrolled += 1
            if self.context.unrolled > MAX_UNROLL:
                raise self.fail(f"loop too long to unroll (more than {MAX_UNROLL} "
                                "iterations in all)", node)
            self.assign(node.target, item)
            outcome = self.run(node.body)
            if outcome is _BREAK:
                return None
            if isinstance(outcome, _Return):
                return outcome
        return self.run(node.orelse)

    def items(self, value: Any, node: Any) -> list | range:
        if isinstance(value, range):
            if len(value) > MAX_UNROLL:
                raise self.fail(f"loop too long to unroll ({len(value)} iterations)", node)
            return value
        if isinstance(value, (tuple, list)):
            return value
        if isinstance(value, (np.ndarray, dict)) and constructs.rows(value) is not None:
            return constructs.rows(value)
        if _is_expr(value):
            shape = tuple(value.shape)
            if not shape or not isinstance(shape[0], int):
                raise self.fail("cannot iterate over an expression whose first dimension is "
                                "not known while reading", node)
            return [self.guarded(node, operator.getitem, value, i) for i in range(shape[0])]
        raise self.fail(f"cannot iterate over {_describe(value)}; loop over range(N)", node)

    def assign(self, target: ast.AST, value: Any) -> None:
        if isinstance(target, ast.Name):
            self.scope.assign(target.id, value)
            return
        if isinstance(target, (ast.Tuple, ast.List)):
            values = self.items(value, target)
            if len(values) != len(target.elts):
                raise self.fail(f"cannot unpack {len(values)} values into "
                                f"{len(target.elts)} names", target)
            for element, item in zip(target.elts, values):
                self.assign(element, item)
            return
        if isinstance(target, (ast.Subscript, ast.Attribute)):
            raise self.fail("item and attribute assignment are not supported (values are "
                            "immutable; build a new array with np.where or np.concatenate)",
                            target)
        raise self.fail(f"cannot assign to {_construct(target)}", target)


@dataclass(frozen=True)
class _Return:
    value: Any


_BREAK = object()
_CONTINUE = object()


class _FunctionScope:
    """Names in a function: locals, then closure variables, globals and builtins."""

    def __init__(self, fn: types.FunctionType, local: dict[str, Any]) -> None:
        self.fn = fn
        self.local = local
        self.closure: dict[str, Any] | None = None

    def lookup(self, name: str) -> Any:
        if name in self.local:
            return self.local[name]
        if self.closure is None:
            self.closure = _closure_values(self.fn)
        if name in self.closure:
            return _from_python(self.closure[name], name)
        if name in self.fn.__globals__:
            return _from_python(self.fn.__globals__[name], name)
        if name in FUNCTION_BUILTINS:
            return _builtin(name, text=False)
        if name in ("True", "False", "None"):     # pragma: no cover - ast makes constants
            return {"True": True, "False": False, "None": None}[name]
        candidates = (list(self.local) + list(self.fn.__globals__)
                      + list(self.closure) + list(FUNCTION_BUILTINS))
        hint = _suggest(name, candidates)
        if not hint:
            close = difflib.get_close_matches(name, list(_functions()), n=1, cutoff=0.6)
            if close:
                prefix = "np." if hasattr(np, close[0]) else "sd."
                hint = f"; did you mean {prefix}{close[0]}?"
        raise _Reject(f"name {name!r} is not defined" + hint)

    def lookup_function(self, name: str) -> Any:
        return self.lookup(name)

    def assign(self, name: str, value: Any) -> None:
        self.local[name] = value


def _closure_values(fn: types.FunctionType) -> dict[str, Any]:
    if not fn.__closure__:
        return {}
    values = {}
    for name, cell in zip(fn.__code__.co_freevars, fn.__closure__):
        try:
            values[name] = cell.cell_contents
        except ValueError:          # an empty cell: the name is not bound yet
            pass
    return values


# ---------------------------------------------------------------------------
# reading a function's source

_FUNCTION_CACHE: dict[types.CodeType, tuple[Any, _Source]] = {}


def _unwrap(fn: Any) -> Any:
    """The function to read: decorators are looked through; table functions kept."""
    if _known_callable(fn) is not None:
        return fn
    fn = inspect.unwrap(fn) if callable(fn) else fn
    if isinstance(fn, types.MethodType):
        raise ArgumentTypeError("bound methods are not supported; pass a plain function")
    if not isinstance(fn, types.FunctionType):
        raise ArgumentTypeError(f"expected a Python function, got {type(fn).__name__}")
    return fn


def _read_function(fn: types.FunctionType) -> tuple[Any, _Source]:
    """The ``def`` (or ``lambda``) node of ``fn`` and its position mapping, cached."""
    code = fn.__code__
    cached = _FUNCTION_CACHE.get(code)
    if cached is not None:
        return cached
    filename = code.co_filename
    try:
        lines, start = inspect.getsourcelines(fn)
    except (OSError, TypeError) as err:
        raise _error(f"cannot read the source of {fn.__name__}() ({err}); define it in "
                         "a file or a notebook cell") from None
    file_lines = linecache.getlines(filename)
    file_text = "".join(file_lines) if file_lines else "\n" * (start - 1) + "".join(lines)
    if fn.__name__ == "<lambda>":
        result = _find_lambda(fn, file_text, filename, lines, start)
    else:
        result = _find_def(fn, lines, start, file_text, filename)
    _FUNCTION_CACHE[code] = result
    return result


def _find_def(fn: types.FunctionType, lines: list[str], start: int, file_text: str,
              filename: str) -> tuple[Any, _Source]:
    text = "".join(lines)
    indented = bool(lines) and lines[0][:1] in (" ", "\t")
    # An indented def is parsed under "if 1:" so that columns stay those of the file.
    parsed = ("if 1:\n" + text) if indented else text
    line_offset = start - 2 if indented else start - 1
    source = _Source(file_text, filename, parsed.splitlines(), line_offset)
    try:
        module = ast.parse(parsed)
    except SyntaxError as err:
        raise source.error(f"cannot parse {fn.__name__}(): {err.msg}",
                           _FakeNode(err.lineno or 1, max((err.offset or 1) - 1, 0))) from None
    except (RecursionError, MemoryError):
        raise source.error(f"{fn.__name__}() is nested too deeply for Python's parser",
                           _FakeNode(1, 0)) from None
    body = module.body[0].body if indented else module.body
    definition = next((node for node in body
                       if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))), None)
    if isinstance(definition, ast.AsyncFunctionDef):
        raise source.error(f"{fn.__name__}() is an async function; symdiff reads plain "
                           "functions", definition)
    if definition is None:
        raise source.error(f"cannot find the definition of {fn.__name__}()", _FakeNode(1, 0))
    _validate(definition, source, statements=True)
    _check_parameters(definition, source)
    return definition, source


def _find_lambda(fn: types.FunctionType, file_text: str, filename: str, lines: list[str],
                 start: int) -> tuple[Any, _Source]:
    names = list(fn.__code__.co_varnames[:fn.__code__.co_argcount])
    lineno = fn.__code__.co_firstlineno
    source = _Source(file_text, filename, file_text.splitlines())
    try:
        tree = ast.parse(file_text)
    except (SyntaxError, RecursionError, MemoryError, ValueError):
        text = "".join(lines).strip()
        source = _Source(file_text, filename, text.splitlines(), start - 1)
        try:
            tree = ast.parse(text)
        except (SyntaxError, RecursionError, MemoryError, ValueError):
            raise _error("cannot read the source of this lambda; define the function "
                             "with def", lineno=lineno, source=file_text,
                             filename=filename) from None
        lineno = 1
    found = [node for node in ast.walk(tree) if isinstance(node, ast.Lambda)
             and node.lineno == lineno and [a.arg for a in node.args.args] == names]
    if len(found) > 1:
        found = _pick_lambda(fn, found)
    if len(found) != 1:
        raise _error("cannot tell which lambda on this line is the function; define it "
                         "with def", lineno=lineno + source.line_offset, col=0,
                         source=file_text, filename=filename)
    definition = found[0]
    if definition.args.vararg or definition.args.kwarg:
        raise source.error("*args and **kwargs parameters are not supported", definition)
    _validate(definition, source, statements=True)
    return definition, source


def _pick_lambda(fn: types.FunctionType, found: list[ast.Lambda]) -> list[ast.Lambda]:
    """Several lambdas with the same line and parameters: match columns of the code."""
    columns = {position[2] for position in fn.__code__.co_positions()
               if position[2] is not None}
    return [node for node in found
            if node.body.col_offset in columns] or found


def _check_parameters(definition: ast.FunctionDef, source: _Source) -> None:
    arguments = definition.args
    for special in (arguments.vararg, arguments.kwarg):
        if special is not None:
            raise source.error("*args and **kwargs parameters are not supported", special)


# ---------------------------------------------------------------------------
# Python objects found in a function's globals or closure

def _from_python(value: Any, name: str, depth: int = 0) -> Any:
    """What a global (or closure, or default) value means to the walker."""
    if value is np:
        return _numpy_namespace(strict=True)
    if value is math:
        return _math_namespace()
    if value is np.linalg:
        return _linalg_namespace()
    if isinstance(value, types.ModuleType) and value is sys.modules.get(__package__ or ""):
        return _symdiff_namespace()
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if isinstance(value, float) and math.isnan(value):
            raise _Reject(f"the constant {name!r} is nan")
        return value
    if isinstance(value, (np.ndarray, np.generic)):
        if value.dtype.kind not in "biuf":
            raise _Reject(f"the constant {name!r} has dtype {value.dtype}, which symdiff "
                          "cannot use")
        return value
    if _is_expr(value):
        return value
    if isinstance(value, (tuple, list)) and depth < 8:
        converted = [_from_python(item, name, depth + 1) for item in value]
        return tuple(converted) if isinstance(value, tuple) else converted
    if isinstance(value, dict) and depth < 8:          # a pytree of constants
        return {key: _from_python(item, name, depth + 1) for key, item in value.items()}
    if isinstance(value, slice) and all(part is None or isinstance(part, int) for part in
                                        (value.start, value.stop, value.step)):
        return value
    known = _known_callable(value)
    if known is not None:
        return known
    if hasattr(type(value), "__symdiff_symbolic__"):     # sd.grad(f) and other transforms
        return _Known(name, value.__symdiff_symbolic__, None)
    module = (getattr(value, "__module__", None) or "").split(".")[0]
    if callable(value) and module in _LIBRARIES:
        qualified = f"{module}.{getattr(value, '__name__', name)}"
        raise _Reject(f"{name!r} ({qualified}) is not a function symdiff knows; "
                      "symdiff.ops.FUNCTIONS lists those it does")
    if isinstance(value, types.FunctionType):
        return _UserFunction(value)
    if isinstance(value, type) and value in _SCALAR_TYPES:
        return value
    if isinstance(value, type):
        raise _Reject(f"{name!r} is a class; symdiff can call table functions and the "
                      "user's own functions")
    raise _Reject(f"{name!r} is {_describe(value)}; symdiff can use numbers, NumPy "
                  "arrays, the numpy and math modules and readable functions")


_MATH_FUNCTIONS = ("sqrt", "exp", "log", "sin", "cos", "tan", "tanh", "sinh", "cosh",
                   "asin", "acos", "atan", "log1p", "expm1")

# Functions of these packages are not inlined: they are not the user's code.
_LIBRARIES = frozenset(("numpy", "scipy", "symdiff", "math", "builtins", "jax", "torch"))


def _known_callable(value: Any) -> _Known | None:
    """``np.exp``, ``sd.sigmoid``, ``np.linalg.norm``... found by identity."""
    known = _identity_table().get(id(value))
    if known is not None and _IDENTITY_OBJECTS.get(id(value)) is value:
        return known
    return None


_IDENTITY: dict[int, _Known] = {}
_IDENTITY_OBJECTS: dict[int, Any] = {}


def _identity_table() -> dict[int, _Known]:
    if not _IDENTITY:
        functions = _functions()
        for name, builder in functions.items():
            _IDENTITY[id(builder)] = _table_function(name)
            _IDENTITY_OBJECTS[id(builder)] = builder
            numpy_object = getattr(np, name, None)
            if numpy_object is not None and callable(numpy_object):
                _IDENTITY[id(numpy_object)] = _table_function(name)
                _IDENTITY_OBJECTS[id(numpy_object)] = numpy_object
        for alias, name in NUMPY_ALIASES.items():
            numpy_object = getattr(np, alias, None)
            if numpy_object is not None and name in functions:
                _IDENTITY[id(numpy_object)] = _table_function(name)
                _IDENTITY_OBJECTS[id(numpy_object)] = numpy_object
        _IDENTITY[id(np.linalg.norm)] = _composite("norm")
        _IDENTITY_OBJECTS[id(np.linalg.norm)] = np.linalg.norm
        for name in (*_MATH_FUNCTIONS, *constructs.MATH_NAMES):
            target = constructs.MATH_NAMES.get(name, TEXT_ALIASES.get(name, name))
            if target in functions:
                _IDENTITY[id(getattr(math, name))] = _table_function(target, getattr(math, name))
                _IDENTITY_OBJECTS[id(getattr(math, name))] = getattr(math, name)
    return _IDENTITY


# ---------------------------------------------------------------------------
# callables and namespaces

_TABLE_CACHE: dict[tuple, _Known] = {}

# Table functions that NumPy also has, with the same meaning: on constants only,
# NumPy computes them (exactly as NumPy code run on constants would).
_NOT_IN_NUMPY = frozenset(("sigmoid", "relu", "softplus", "softmax", "log_softmax",
                           "logsumexp"))


def _table_function(name: str, on_constants: Callable[..., Any] | None = None) -> _Known:
    """The table's ``name``; on constants only, NumPy's function of that name (or
    ``on_constants``, e.g. ``math.sqrt``) computes the value, as the code would."""
    key = (name, on_constants)
    known = _TABLE_CACHE.get(key)
    if known is not None:
        return known
    builder = _functions()[name]
    if on_constants is None and name not in _NOT_IN_NUMPY:
        on_constants = getattr(np, name, None)

    def call(*args: Any, **kwargs: Any) -> Any:
        if on_constants is not None and not _has_expr(args) and not _has_expr(kwargs):
            return on_constants(*args, **kwargs)
        return builder(*args, **kwargs)

    known = _Known(name, call, _signature(builder))
    _TABLE_CACHE[key] = known
    return known


def _refresh_tables() -> None:
    """Forget the tables built from the op table if it has gained entries since."""
    size = len(_functions())
    if _TABLE_SIZE and _TABLE_SIZE[0] == size:
        return
    _TABLE_CACHE.clear()
    _NAMESPACES.clear()
    _IDENTITY.clear()
    _IDENTITY_OBJECTS.clear()
    _TABLE_SIZE[:] = [size]


_TABLE_SIZE: list[int] = []


def _composite(name: str) -> _Known:
    builder = numpy_protocol.COMPOSITES[name]
    numpy_function = np.linalg.norm if name == "norm" else getattr(np, name)

    def call(*args: Any, **kwargs: Any) -> Any:
        if not _has_expr(args) and not _has_expr(kwargs):
            return numpy_function(*args, **kwargs)
        return builder(*args, **kwargs)

    return _Known(name, call, _signature(builder))


def _constant_builder(name: str) -> _Known:
    numpy_function = getattr(np, name)

    def call(*args: Any, **kwargs: Any) -> Any:
        if _has_expr(args) or _has_expr(kwargs):
            if name == "asarray" and len(args) == 1 and not kwargs:
                return args[0]
            if len(args) == 1 and not kwargs and isinstance(args[0], (list, tuple)):
                return constructs.as_array(args[0])        # np.array([a, b * c])
            raise _Reject(f"np.{name}() builds a constant: its arguments must be known while "
                          "reading, not expressions")
        for value in list(args) + list(kwargs.values()):
            if isinstance(value, (_Known, _Method, _UserFunction, _Namespace)):
                raise _Reject(f"np.{name}(): unexpected argument {_describe(value)}")
        result = numpy_function(*args, **kwargs)
        if isinstance(result, np.ndarray) and result.size > MAX_CONSTANT_SIZE:
            raise _Reject(f"np.{name}() would build a constant of {result.size} elements")
        return result

    return _Known(name, call, None)


def _signature(fn: Callable[..., Any]) -> inspect.Signature | None:
    try:
        return inspect.signature(fn)
    except (TypeError, ValueError):
        return None


def _has_expr(value: Any) -> bool:
    if _is_expr(value):
        return True
    if isinstance(value, (tuple, list)):
        return any(_has_expr(item) for item in value)
    if isinstance(value, dict):
        return any(_has_expr(item) for item in value.values())
    return False


_NAMESPACES: dict[str, _Namespace] = {}


def _numpy_namespace(strict: bool) -> _Namespace:
    """``np``: in text every table name; in a function only what NumPy really has."""
    key = "numpy-strict" if strict else "numpy"
    if key in _NAMESPACES:
        return _NAMESPACES[key]
    members: dict[str, Any] = {}
    for name in _functions():
        if not strict or hasattr(np, name):
            members[name] = _table_function(name)
    for alias, name in NUMPY_ALIASES.items():
        if name in _functions():
            members[alias] = _table_function(name)
    if not strict:
        for alias, name in TEXT_ALIASES.items():
            if name in _functions() and alias.islower():
                members.setdefault(alias, _table_function(name))
    for name in numpy_protocol.COMPOSITES:
        if name != "norm":
            members.setdefault(name, _composite(name))
    for name in _CONSTANT_BUILDERS:
        members.setdefault(name, _constant_builder(name))
    for name, function in constructs.numpy_extras().items():
        members[name] = _Known(name, function, _signature(function))
    members.update(member_table.NUMPY_SCALAR_TYPES)
    members.update(pi=math.pi, e=math.e, inf=math.inf, newaxis=None)
    members["linalg"] = _linalg_namespace()
    namespace = _Namespace("np", members)
    _NAMESPACES[key] = namespace
    return namespace


def _linalg_namespace() -> _Namespace:
    if "linalg" not in _NAMESPACES:
        _NAMESPACES["linalg"] = _Namespace("np.linalg", {"norm": _composite("norm")})
    return _NAMESPACES["linalg"]


def _math_namespace() -> _Namespace:
    if "math" not in _NAMESPACES:
        members: dict[str, Any] = {"pi": math.pi, "e": math.e, "inf": math.inf}
        for name in (*_MATH_FUNCTIONS, *constructs.MATH_NAMES):
            target = constructs.MATH_NAMES.get(name, TEXT_ALIASES.get(name, name))
            if target in _functions():
                members[name] = _table_function(target, getattr(math, name))
        _NAMESPACES["math"] = _Namespace("math", members)
    return _NAMESPACES["math"]


def _symdiff_namespace() -> _Namespace:
    if "symdiff" not in _NAMESPACES:
        members: dict[str, Any] = {name: _table_function(name) for name in _functions()}
        members.update(pi=math.pi, e=math.e)
        _NAMESPACES["symdiff"] = _Namespace("sd", members)
    return _NAMESPACES["symdiff"]


def _text_function(name: str) -> Any:
    """A bare function name in text: builtins, table names and aliases."""
    if name in TEXT_BUILTINS:
        return _builtin(name, text=True)
    if name == "array":            # str() prints small constant arrays as array([...])
        return _constant_builder("array")
    if name in _functions():
        return _table_function(name)
    if name in TEXT_ALIASES and TEXT_ALIASES[name] in _functions():
        return _table_function(TEXT_ALIASES[name])
    return None


def _builtin(name: str, *, text: bool) -> Any:
    """Builtins with NumPy's meaning where it is clear.

    ``abs(x)`` is ``abs``; ``sum(x, axis=...)`` is ``np.sum`` (Python's ``sum``
    over a tuple or list of values stays Python's); ``max(x)`` is ``np.max`` and
    ``max(a, b, ...)`` is ``np.maximum`` folded (same for ``min``); SymPy's
    ``Max``/``Min`` take two or more arguments likewise. The rest (``range``,
    ``len``, ``zip``, ...) work on values known while reading; ``float``, ``int``
    and ``bool`` are the types themselves (dtypes; they convert constants only).
    """
    if name in member_table.BUILTIN_TYPES:
        return member_table.BUILTIN_TYPES[name]
    functions = _functions()

    def absolute(x: Any) -> Any:
        return functions["abs"](x) if _is_expr(x) else abs(x)

    def check_keywords(kwargs: dict) -> None:
        for key in kwargs:
            if key not in ("axis", "keepdims"):
                raise _Reject(f"{name}() has no argument {key!r}"
                              + _suggest(key, ["axis", "keepdims"]))

    def total(x: Any, *rest: Any, **kwargs: Any) -> Any:
        check_keywords(kwargs)
        if isinstance(x, (tuple, list)):
            if kwargs:
                raise _Reject("sum() over a tuple or list takes no keyword arguments")
            return sum(x, *rest)
        if rest:
            raise _Reject("sum() with two positional arguments is ambiguous; write "
                          "sum(x, axis=...)")
        return _table_function("sum").call(x, **kwargs)

    def extreme(kind: str) -> Callable[..., Any]:
        pairwise = "maximum" if kind == "max" else "minimum"
        sympy_style = name in ("Max", "Min")

        def reduce(*args: Any, **kwargs: Any) -> Any:
            check_keywords(kwargs)
            if not args:
                raise _Reject(f"{name}() needs at least one argument")
            if len(args) == 1:
                (x,) = args
                if sympy_style and not kwargs:
                    return x
                if isinstance(x, (tuple, list)) and not _has_expr(x):
                    return (max if kind == "max" else min)(x)
                if isinstance(x, (tuple, list)):
                    raise _Reject(f"{name}() over a list of expressions: use "
                                  f"np.{pairwise}(a, b)")
                return _table_function(kind).call(x, **kwargs)
            if kwargs:
                raise _Reject(f"{name}() with several arguments takes no keywords")
            if not _has_expr(args):
                return (max if kind == "max" else min)(args)
            result = args[0]
            for arg in args[1:]:
                result = functions[pairwise](result, arg)
            return result

        return reduce

    def heaviside(x: Any, h0: Any = None) -> Any:
        # SymPy's step function, as str() prints 0-d comparisons: Heaviside(a - b, 0)
        # is a > b and Heaviside(a - b, 1) is a >= b; H(0) is 1/2 by default.
        if not _has_expr((x, h0)):
            return np.heaviside(x, 0.5 if h0 is None else h0)
        if _is_expr(h0):
            raise _Reject("Heaviside(): the value at 0 must be a number")
        if h0 == 0:
            return functions["greater"](x, 0)
        if h0 == 1:
            return functions["greater_equal"](x, 0)
        at_zero = 0.5 if h0 is None else h0
        return functions["where"](functions["greater"](x, 0), 1.0,
                                  functions["where"](functions["less"](x, 0), 0.0, at_zero))

    def static_only(fn: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            if _has_expr(args) or _has_expr(kwargs):
                raise _Reject(f"{name}() needs values known while reading, not expressions")
            return fn(*args, **kwargs)
        return call

    def length(x: Any) -> int:
        if _is_expr(x):
            shape = tuple(x.shape)
            if not shape or not isinstance(shape[0], int):
                raise _Reject("len() of an expression whose first dimension is not known")
            return shape[0]
        return len(x)

    def python_range(*args: Any) -> range:
        if _has_expr(args):
            raise _Reject("range() needs integers known while reading (a loop is unrolled); "
                          "pass the bound as a static argument (static_argnums)")
        return range(*(operator.index(arg) for arg in args))

    implementations: dict[str, Callable[..., Any]] = {
        "abs": absolute, "sum": total, "max": extreme("max"), "min": extreme("min"),
        "Max": extreme("max"), "Min": extreme("min"), "Heaviside": heaviside,
        "pow": lambda base, exponent: operator.pow(base, exponent),
        "range": python_range, "len": length,
        "zip": _sequence_builtin("zip"), "enumerate": _sequence_builtin("enumerate"),
        "reversed": _sequence_builtin("reversed"), "round": static_only(round),
    }
    return _Known(name, implementations[name], None)


def _sequence_builtin(name: str) -> Callable[..., Any]:
    def call(*args: Any) -> list:
        args = list(args)
        for i, arg in enumerate(args[:1] if name == "enumerate" else args):
            if not isinstance(arg, (tuple, list, range)):
                args[i] = constructs.rows(arg)
                if args[i] is None:
                    raise _Reject(f"{name}() works on tuples, lists, ranges, dicts, and "
                                  "arrays and expressions whose length is known here")
        return {"zip": lambda: list(zip(*args)), "enumerate": lambda: list(enumerate(*args)),
                "reversed": lambda: list(reversed(*args))}[name]()
    return call


# ---------------------------------------------------------------------------
# operators on values

def _check_operand(value: Any, symbol: str) -> None:
    if _is_expr(value) or isinstance(value, (bool, int, float, np.ndarray, np.number,
                                             np.bool_)):
        if isinstance(value, np.ndarray) and value.dtype.kind not in "biuf":
            raise _Reject(f"'{symbol}' on an array of dtype {value.dtype}")
        return
    if isinstance(value, _Known):
        raise _Reject(f"{value.name} is a function; call it: {value.name}(...)")
    if isinstance(value, str):
        raise _Reject("strings are not allowed in an expression (only as dict keys and "
                      "dtype names)")
    raise _Reject(f"'{symbol}' cannot be applied to {_describe(value)}")


def _apply_operator(fn: Callable[[Any, Any], Any], symbol: str, left: Any, right: Any,
                    guard: Callable[..., Any] | None = None) -> Any:
    """``left <symbol> right`` as Python computes it, with guards on constants."""
    if symbol == "+" and isinstance(left, tuple) and isinstance(right, tuple):
        return left + right           # shape arithmetic: x.shape + (1,)
    _check_operand(left, symbol)
    _check_operand(right, symbol)
    python_numbers = (isinstance(left, (int, float)) and isinstance(right, (int, float)))
    if python_numbers:
        _check_integer_size(symbol, left, right)
        try:
            result = fn(left, right)
        except ZeroDivisionError:
            raise _Reject("division by zero in a constant expression") from None
        except OverflowError:
            raise _Reject(f"constant {left!r} {symbol} {right!r} overflows float64") from None
        if isinstance(result, float) and not math.isfinite(result):
            raise _Reject(f"constant {left!r} {symbol} {right!r} is not finite")
        if isinstance(result, complex):
            raise _Reject(f"constant {left!r} {symbol} {right!r} is complex")
        return result
    if guard is not None:
        return guard(fn, left, right)
    return fn(left, right)


def _check_integer_size(symbol: str, left: Any, right: Any) -> None:
    if not (isinstance(left, int) and isinstance(right, int)):
        return
    if symbol == "**" and right > 0 and abs(left) > 1 \
            and right * abs(left).bit_length() > MAX_INT_BITS:
        raise _Reject(f"constant {left} ** {right} is too large for float64")
    if symbol == "*" and abs(left).bit_length() + abs(right).bit_length() > MAX_INT_BITS:
        raise _Reject(f"constant {left} * {right} is too large for float64")


def _cmp_text(op: ast.cmpop) -> str:
    return {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==",
            ast.NotEq: "!=", ast.Is: "is", ast.IsNot: "is not", ast.In: "in",
            ast.NotIn: "not in"}[type(op)]


# ---------------------------------------------------------------------------
# messages

def _suggest(name: str, candidates: Any) -> str:
    """``"; did you mean 'sin'?"`` for the closest candidate, or ''."""
    options = [c for c in candidates if isinstance(c, str) and not c.startswith("_")]
    close = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _describe(value: Any) -> str:
    if isinstance(value, _Known):
        return f"the function {value.name}"
    if isinstance(value, _Namespace):
        return f"the namespace {value.name}"
    if isinstance(value, _Method):
        return f"the method .{value.name}"
    if isinstance(value, _UserFunction):
        return f"the function {value.fn.__name__}"
    if isinstance(value, type) and value in _SCALAR_TYPES:
        return f"the type {member_table.spelled(value)}"
    if value is None:
        return "None"
    if isinstance(value, tuple):
        return "a tuple"
    kind = type(value).__name__
    return ("an " if kind[0] in "aeiou" else "a ") + kind


def _arity_message(function: _Known, err: TypeError, kwargs: dict) -> str:
    message = f"{function.name}(): {err}"
    if function.signature is not None and "unexpected keyword" in str(err):
        names = [p for p in function.signature.parameters]
        for key in kwargs:
            if key not in names:
                return f"{function.name}() has no argument {key!r}" + _suggest(key, names)
    if function.signature is not None:
        message += f"; the signature is {function.name}{function.signature}"
    return message


def _clean_message(err: BaseException) -> str:
    text = str(err) or type(err).__name__
    return text.splitlines()[0] if text else type(err).__name__
