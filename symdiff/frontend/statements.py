"""Reading a user's function: ``parse_function``, the statement walker, and the
names in a function (locals, closure, globals, builtins).

The body is walked, never run: ``for`` loops over values known while reading are
unrolled (up to ``MAX_UNROLL`` iterations in all), ``if`` is decided when its
condition is known while reading, and calls of the user's other readable
functions are inlined. Each statement kind is one method of ``Walker``.
"""
from __future__ import annotations

import ast
import inspect
import operator
import types
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ..errors import ParseError
from . import constructs
from .namespaces import (FUNCTION_BUILTINS, builtin, from_python, known_callable,
                         refresh_tables)
from .positions import out_of_stack
from .source import read_function, unwrap
from .values import (MAX_UNROLL, Context, Reject, UserFunction, closest, describe, is_expr,
                     suggest, table_functions)
from .walker import ExpressionWalker
from .whitelist import construct

def parse_function(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Read ``fn``'s source and evaluate its body on ``args`` without running it.

    The arguments are expressions (usually variables) or constants; the result
    is what ``fn`` returns, built as graph: an expression, or a tuple of them.
    Calls to other readable functions of the user are inlined; module-level
    numbers and arrays become constants; ``for`` loops over ``range(N)`` are
    unrolled and ``if`` is decided when the condition is known while reading
    (shapes are). Errors are ``ParseError`` at the position in ``fn``'s file.
    """
    refresh_tables()
    known = known_callable(fn)
    if known is not None:            # sd.grad(np.sin), sd.grad(np.sum)
        return known.call(*args, **kwargs)
    context = Context()
    user_fn = UserFunction(unwrap(fn))
    definition, source = read_function(user_fn.fn)
    walker = Walker(source, None, context)
    try:
        return walker.call_user(definition, user_fn, list(args), kwargs, top=True)
    except RecursionError:
        raise out_of_stack(source.text, source.filename) from None


class Walker(ExpressionWalker):
    """Walks a function's statements; expressions are ``ExpressionWalker``'s."""

    def inline(self, function: UserFunction, args: list, kwargs: dict,
               node: ast.Call) -> Any:
        definition, source = read_function(function.fn)
        walker = Walker(source, None, self.context)
        return walker.call_user(definition, function, args, kwargs, call_site=(self, node))

    # -- functions -----------------------------------------------------------

    def call_user(self, definition: Any, function: UserFunction, args: list, kwargs: dict,
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
                    local[parameter.name] = from_python(parameter.default, parameter.name)
                except Reject as err:
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
        """Walk one statement with its ``exec_<Kind>`` method; returns what ``run`` does."""
        method = getattr(self, "exec_" + type(node).__name__, None)
        try:
            if method is None:
                raise self.fail(f"{construct(node)} is not supported", node)
            return method(node)
        except Reject as err:
            raise self.fail(str(err), node) from None

    # -- statements, one method per kind ---------------------------------------

    def exec_Assign(self, node: ast.Assign) -> None:
        value = self.eval(node.value)
        for target in node.targets:
            self.assign(target, value)

    def exec_AugAssign(self, node: ast.AugAssign) -> None:
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

    def exec_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.assign(node.target, self.eval(node.value))

    def exec_Return(self, node: ast.Return) -> _Return:
        return _Return(None if node.value is None else self.eval(node.value))

    def exec_If(self, node: ast.If) -> Any:
        test = self.static(self.eval(node.test), node.test, "'if'")
        return self.run(node.body if test else node.orelse)

    def exec_Break(self, node: ast.Break) -> object:
        return _BREAK

    def exec_Continue(self, node: ast.Continue) -> object:
        return _CONTINUE

    def exec_Pass(self, node: ast.Pass) -> None:
        return None

    def exec_FunctionDef(self, node: ast.FunctionDef) -> None:
        constructs.define(self, node)         # a nested def: bound in the current scope

    def exec_Expr(self, node: ast.Expr) -> None:
        if not isinstance(node.value, ast.Constant):
            raise self.fail("a bare expression has no effect here; assign it or return "
                            "it", node)

    def exec_Raise(self, node: ast.Raise) -> None:
        raise self.fail("the function raises an exception here for these inputs "
                        "(the raise statement is reached while reading)", node)

    def exec_Assert(self, node: ast.Assert) -> None:
        if not self.static(self.eval(node.test), node.test, "'assert'"):
            raise self.fail("assertion failed for these inputs", node)

    def exec_For(self, node: ast.For) -> Any:
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

    # -- helpers -------------------------------------------------------------

    def items(self, value: Any, node: Any) -> list | range:
        if isinstance(value, range):
            if len(value) > MAX_UNROLL:
                raise self.fail(f"loop too long to unroll ({len(value)} iterations)", node)
            return value
        if isinstance(value, (tuple, list)):
            return value
        if isinstance(value, (np.ndarray, dict)) and constructs.rows(value) is not None:
            return constructs.rows(value)
        if is_expr(value):
            shape = tuple(value.shape)
            if not shape or not isinstance(shape[0], int):
                raise self.fail("cannot iterate over an expression whose first dimension is "
                                "not known while reading", node)
            return [self.guarded(node, operator.getitem, value, i) for i in range(shape[0])]
        raise self.fail(f"cannot iterate over {describe(value)}; loop over range(N)", node)

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
        raise self.fail(f"cannot assign to {construct(target)}", target)


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
            return from_python(self.closure[name], name)
        if name in self.fn.__globals__:
            return from_python(self.fn.__globals__[name], name)
        if name in FUNCTION_BUILTINS:
            return builtin(name, text=False)
        if name in ("True", "False", "None"):     # pragma: no cover - ast makes constants
            return {"True": True, "False": False, "None": None}[name]
        candidates = (list(self.local) + list(self.fn.__globals__)
                      + list(self.closure) + list(FUNCTION_BUILTINS))
        hint = suggest(name, candidates)
        if not hint:
            close = closest(name, list(table_functions()))
            if close:
                prefix = "np." if hasattr(np, close) else "sd."
                hint = f"; did you mean {prefix}{close}?"
        raise Reject(f"name {name!r} is not defined" + hint)

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


