"""Source retrieval: the ``def`` or ``lambda`` node of a user's function, read from
its file (or notebook cell) with ``ast``, whitelisted, and mapped to positions in
that file; cached by code object. Decorators are looked through.
"""
from __future__ import annotations

import ast
import inspect
import linecache
import types
from typing import Any

from ..errors import ArgumentTypeError
from .namespaces import known_callable
from .positions import FakeNode, Source, parse_error
from .whitelist import validate

_FUNCTION_CACHE: dict[types.CodeType, tuple[Any, Source]] = {}


def unwrap(fn: Any) -> Any:
    """The function to read: decorators are looked through; table functions kept."""
    if known_callable(fn) is not None:
        return fn
    fn = inspect.unwrap(fn) if callable(fn) else fn
    if isinstance(fn, types.MethodType):
        raise ArgumentTypeError("bound methods are not supported; pass a plain function")
    if not isinstance(fn, types.FunctionType):
        raise ArgumentTypeError(f"expected a Python function, got {type(fn).__name__}")
    return fn


def read_function(fn: types.FunctionType) -> tuple[Any, Source]:
    """The ``def`` (or ``lambda``) node of ``fn`` and its position mapping, cached."""
    code = fn.__code__
    cached = _FUNCTION_CACHE.get(code)
    if cached is not None:
        return cached
    filename = code.co_filename
    try:
        lines, start = inspect.getsourcelines(fn)
    except (OSError, TypeError) as err:
        raise parse_error(f"cannot read the source of {fn.__name__}() ({err}); define it in "
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
              filename: str) -> tuple[Any, Source]:
    text = "".join(lines)
    indented = bool(lines) and lines[0][:1] in (" ", "\t")
    # An indented def is parsed under "if 1:" so that columns stay those of the file.
    parsed = ("if 1:\n" + text) if indented else text
    line_offset = start - 2 if indented else start - 1
    source = Source(file_text, filename, parsed.splitlines(), line_offset)
    try:
        module = ast.parse(parsed)
    except SyntaxError as err:
        raise source.error(f"cannot parse {fn.__name__}(): {err.msg}",
                           FakeNode(err.lineno or 1, max((err.offset or 1) - 1, 0))) from None
    except (RecursionError, MemoryError):
        raise source.error(f"{fn.__name__}() is nested too deeply for Python's parser",
                           FakeNode(1, 0)) from None
    body = module.body[0].body if indented else module.body
    definition = next((node for node in body
                       if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))), None)
    if isinstance(definition, ast.AsyncFunctionDef):
        raise source.error(f"{fn.__name__}() is an async function; symdiff reads plain "
                           "functions", definition)
    if definition is None:
        raise source.error(f"cannot find the definition of {fn.__name__}()", FakeNode(1, 0))
    validate(definition, source, statements=True)
    _check_parameters(definition, source)
    return definition, source


def _find_lambda(fn: types.FunctionType, file_text: str, filename: str, lines: list[str],
                 start: int) -> tuple[Any, Source]:
    names = list(fn.__code__.co_varnames[:fn.__code__.co_argcount])
    lineno = fn.__code__.co_firstlineno
    source = Source(file_text, filename, file_text.splitlines())
    try:
        tree = ast.parse(file_text)
    except (SyntaxError, RecursionError, MemoryError, ValueError):
        text = "".join(lines).strip()
        source = Source(file_text, filename, text.splitlines(), start - 1)
        try:
            tree = ast.parse(text)
        except (SyntaxError, RecursionError, MemoryError, ValueError):
            raise parse_error("cannot read the source of this lambda; define the function "
                              "with def", lineno=lineno, source=file_text,
                              filename=filename) from None
        lineno = 1
    found = [node for node in ast.walk(tree) if isinstance(node, ast.Lambda)
             and node.lineno == lineno and [a.arg for a in node.args.args] == names]
    if len(found) > 1:
        found = _pick_lambda(fn, found)
    if len(found) != 1:
        raise parse_error("cannot tell which lambda on this line is the function; define it "
                          "with def", lineno=lineno + source.line_offset, col=0,
                          source=file_text, filename=filename)
    definition = found[0]
    if definition.args.vararg or definition.args.kwarg:
        raise source.error("*args and **kwargs parameters are not supported", definition)
    validate(definition, source, statements=True)
    return definition, source


def _pick_lambda(fn: types.FunctionType, found: list[ast.Lambda]) -> list[ast.Lambda]:
    """Several lambdas with the same line and parameters: match columns of the code."""
    columns = {position[2] for position in fn.__code__.co_positions()
               if position[2] is not None}
    return [node for node in found
            if node.body.col_offset in columns] or found


def _check_parameters(definition: ast.FunctionDef, source: Source) -> None:
    arguments = definition.args
    for special in (arguments.vararg, arguments.kwarg):
        if special is not None:
            raise source.error("*args and **kwargs parameters are not supported", special)


