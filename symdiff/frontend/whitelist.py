"""The whitelist: the node kinds, names, attributes, operators and literals the front
end reads; everything else is refused before anything is walked, at its position.

Nothing the user wrote is ever run: ``eval``/``exec`` are never called, and names
with two leading underscores and attributes with one are refused here. A construct
the walker learns to read is added to the allowed kinds here and gets a method in
``walker.py`` (expressions) or ``statements.py`` (statements).
"""
from __future__ import annotations

import ast
import math

from .operators import REFUSED_OPERATORS
from .positions import Source, attribute_position, operator_position
from .values import MAX_INT_BITS

# Calls that get a pointed refusal rather than "unknown function".
_FORBIDDEN_CALLS = frozenset((
    "eval", "exec", "compile", "open", "__import__", "globals", "locals", "vars",
    "getattr", "setattr", "delattr", "input", "breakpoint", "exit", "quit", "help",
    "print", "type", "object", "super", "memoryview", "classmethod", "staticmethod",
    "property", "dir", "id", "hash", "iter", "next", "callable", "isinstance"))

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

ALLOWED_EXPRESSION_KINDS = frozenset((
    ast.BinOp, ast.UnaryOp, ast.Compare, ast.BoolOp, ast.IfExp, ast.Call, ast.keyword,
    ast.Name, ast.Constant, ast.Attribute, ast.Subscript, ast.Slice, ast.Tuple, ast.List))
# Expressions read in function bodies only (constructs.py); text stays plain formulas.
FUNCTION_EXPRESSION_KINDS = frozenset((
    ast.Dict, ast.ListComp, ast.GeneratorExp, ast.DictComp, ast.comprehension, ast.Lambda))
ALLOWED_STATEMENT_KINDS = ALLOWED_EXPRESSION_KINDS | FUNCTION_EXPRESSION_KINDS | frozenset((
    ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Return, ast.If, ast.For, ast.Pass,
    ast.Break, ast.Continue, ast.Expr, ast.Raise, ast.Assert, ast.FunctionDef))


def validate(tree: ast.AST, source: Source, *, statements: bool) -> None:
    """Refuse every node kind, name and attribute outside the whitelist.

    Iterative pre-order walk, so the first refusal in reading order is reported.
    The subtrees of ``raise`` and of ``assert``'s message are not read (they are
    only reported, never evaluated), nor are decorators and annotations. The
    root may be a ``def`` or a ``lambda`` (the function being read).
    """
    allowed = ALLOWED_STATEMENT_KINDS if statements else ALLOWED_EXPRESSION_KINDS
    strings = statements        # dict keys and dtype names, in function bodies
    allowed_strings: set[int] = set()   # einsum's subscripts, norm's ord, in text too
    stack: list[ast.AST] = list(reversed(_children(tree)))
    while stack:
        node = stack.pop()
        kind = type(node)
        if kind not in allowed:
            if kind in _REFUSED:
                name, hint = _REFUSED[kind]
                raise source.error(f"{name} is not supported" + (f"; {hint}" if hint else ""),
                                   node)
            raise source.error(f"{construct(node)} is not supported", node)
        if kind is ast.Constant:
            if not ((strings or id(node) in allowed_strings) and isinstance(node.value, str)):
                _check_literal(node, source)
        elif kind is ast.Name:
            if node.id.startswith("__"):
                raise source.error(f"the name {node.id!r} is not allowed", node)
        elif kind is ast.BinOp or kind is ast.UnaryOp:
            if type(node.op) in REFUSED_OPERATORS:
                raise source.error(REFUSED_OPERATORS[type(node.op)],
                                   operator_position(node, source))
        elif kind is ast.Attribute:
            if node.attr.startswith("_"):
                raise source.error(f"the attribute {node.attr!r} is not allowed",
                                   attribute_position(node))
        elif kind is ast.Call:
            if isinstance(node.func, ast.Name) and node.func.id in _FORBIDDEN_CALLS:
                raise source.error(f"calling {node.func.id}() is not allowed: symdiff reads "
                                   "code, it does not run it", node.func)
            for keyword in node.keywords:
                if keyword.arg is None:
                    raise source.error("**kwargs in a call is not supported", keyword.value)
            allowed_strings.update(id(n) for n in _string_arguments(node))
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


def _check_literal(node: ast.Constant, source: Source) -> None:
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


def construct(node: ast.AST) -> str:
    kind = type(node)
    if kind in _REFUSED:
        return _REFUSED[kind][0]
    if kind in _STATEMENT_NAMES:
        return _STATEMENT_NAMES[kind]
    name = kind.__name__
    return "an " + name if name[0] in "AEIOU" else "a " + name


def _string_arguments(call: ast.Call) -> list[ast.AST]:
    """The string literals NumPy needs in a call: einsum's subscripts (its first
    argument) and norm's ord ('fro', 'nuc'); strings stay refused everywhere else."""
    func = call.func
    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
    if name == "einsum" and call.args:
        return [call.args[0]]
    if name == "norm":
        found = call.args[1:2] + [k.value for k in call.keywords if k.arg == "ord"]
        return [n for n in found if isinstance(n, ast.Constant) and n.value in ("fro", "nuc")]
    return []
