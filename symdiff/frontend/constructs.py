"""Python constructs people write inside NumPy-style functions, read by the front end.

The walkers (``walker.py``, ``statements.py``) evaluate a function's body node by
node; this module holds what they do for the constructs beyond expressions and
plain statements:

* comprehensions and generator expressions over sequences known while reading
  (``range(n)``, tuples, lists, dicts, the rows of an expression whose length is
  known): unrolled like a ``for`` loop; a generator expression gives a list, so
  ``sum(w[i] * x[i] for i in range(3))`` is Python's ``sum`` of expressions;
* dict literals and dict comprehensions with keys known while reading,
  ``d[key]``, ``d.items()``, ``d.keys()``, ``d.values()``, ``d.get(key, default)``
  (dicts of arrays are the pytrees JAX users pass as parameters);
* nested ``def`` and ``lambda``: functions of the function, read from the same
  source and inlined where they are called, seeing the enclosing names;
* ``enumerate``/``zip`` over expressions and arrays (their rows);
* lists of expressions where NumPy would make an array (``np.array([a, b])``,
  ``np.mean([a, b])``): stacked, as NumPy stacks them.

NumPy's own spellings and arguments (``np.fabs``, ``ddof``, ...) are
``symdiff.numpy_protocol.numpy_extras``; ``math`` spellings are in ``namespaces.py``.

``x % c`` and ``x // c`` on expressions are the ops ``mod`` and ``floor_divide``
(derivatives 1 and 0 in ``x``, as in JAX).
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ..ir import Node
from ..numpy_protocol import as_node
from .values import MAX_UNROLL, table_functions

# ---------------------------------------------------------------------------
# scopes

class ChildScope:
    """Names bound inside a comprehension or a nested function, over the enclosing
    scope (which stays visible, as Python's closures see it)."""

    def __init__(self, parent: Any, local: dict[str, Any] | None = None) -> None:
        self.parent = parent
        self.local = {} if local is None else local

    def lookup(self, name: str) -> Any:
        if name in self.local:
            return self.local[name]
        return self.parent.lookup(name)

    def lookup_function(self, name: str) -> Any:
        if name in self.local:
            return self.local[name]
        return self.parent.lookup_function(name)

    def assign(self, name: str, value: Any) -> None:
        self.local[name] = value


# ---------------------------------------------------------------------------
# dicts

def dict_literal(walker: Any, node: ast.Dict) -> dict:
    result = {}
    for key_node, value_node in zip(node.keys, node.values):
        if key_node is None:
            raise walker.fail("'**' in a dict literal is not supported; write the keys "
                              "one by one", value_node)
        result[dict_key(walker, walker.eval(key_node), key_node)] = walker.eval(value_node)
    return result


def dict_key(walker: Any, key: Any, node: Any) -> Any:
    if isinstance(key, Node):
        raise walker.fail("a dict key must be known while reading (a string or an int), "
                          "not an expression", node)
    if isinstance(key, (np.integer, np.str_)):
        key = key.item()
    if not isinstance(key, (str, int)) or isinstance(key, bool):
        raise walker.fail(f"a dict key must be a string or an int, not a "
                          f"{type(key).__name__}", node)
    return key


def dict_item(walker: Any, owner: dict, index: Any, node: Any) -> Any:
    key = dict_key(walker, index, node)
    if key not in owner:
        keys = ", ".join(repr(k) for k in owner) or "none"
        raise walker.fail(f"the dict has no key {key!r} (its keys: {keys})", node)
    return owner[key]


def dict_member(owner: dict, name: str) -> Callable[..., Any] | None:
    """``d.items`` and the other dict methods, as functions of values known while
    reading; None for anything else."""
    methods: dict[str, Callable[..., Any]] = {
        "items": lambda: list(owner.items()),
        "keys": lambda: list(owner.keys()),
        "values": lambda: list(owner.values()),
        "get": lambda key, default=None: owner.get(key, default),
    }
    return methods.get(name)


# ---------------------------------------------------------------------------
# comprehensions

def comprehension(walker: Any, node: Any) -> Any:
    """A list, generator or dict comprehension, unrolled (a generator gives a list)."""
    results: list = []
    saved = walker.scope
    walker.scope = ChildScope(saved)
    try:
        _generate(walker, node, 0, results)
    finally:
        walker.scope = saved
    if isinstance(node, ast.DictComp):
        return dict(results)
    return results


def _generate(walker: Any, node: Any, level: int, results: list) -> None:
    generator = node.generators[level]
    if generator.is_async:
        raise walker.fail("an async comprehension is not supported", generator)
    items = walker.items(walker.eval(generator.iter), generator.iter)
    for item in items:
        walker.context.unrolled += 1
        if walker.context.unrolled > MAX_UNROLL:
            raise walker.fail(f"comprehension too long to unroll (more than {MAX_UNROLL} "
                              "iterations in all)", node)
        walker.assign(generator.target, item)
        if not all(walker.static(walker.eval(test), test, "a comprehension's 'if'")
                   for test in generator.ifs):
            continue
        if level + 1 < len(node.generators):
            _generate(walker, node, level + 1, results)
        elif isinstance(node, ast.DictComp):
            key = dict_key(walker, walker.eval(node.key), node.key)
            results.append((key, walker.eval(node.value)))
        else:
            results.append(walker.eval(node.elt))


# ---------------------------------------------------------------------------
# nested functions

@dataclass(frozen=True, eq=False)
class LocalFunction:
    """A ``def`` or ``lambda`` inside the function being read."""
    definition: Any             # ast.FunctionDef or ast.Lambda
    scope: Any                  # the scope it was defined in
    source: Any                 # where its text came from (for error positions)
    defaults: dict

    @property
    def name(self) -> str:
        return getattr(self.definition, "name", "<lambda>")


def define(walker: Any, node: Any) -> LocalFunction:
    """The function a nested ``def`` or ``lambda`` makes (defaults read now, as
    Python reads them)."""
    arguments = node.args
    for special, what in ((arguments.vararg, "*args"), (arguments.kwarg, "**kwargs")):
        if special is not None:
            raise walker.fail(f"{what} parameters are not supported", special)
    if getattr(node, "decorator_list", None):
        raise walker.fail("decorators on a nested function are not supported",
                          node.decorator_list[0])
    positional = arguments.posonlyargs + arguments.args
    defaults = {}
    for parameter, default in zip(positional[len(positional) - len(arguments.defaults):],
                                  arguments.defaults):
        defaults[parameter.arg] = _default(walker, default)
    for parameter, default in zip(arguments.kwonlyargs, arguments.kw_defaults):
        if default is not None:
            defaults[parameter.arg] = _default(walker, default)
    function = LocalFunction(node, walker.scope, walker.source, defaults)
    if isinstance(node, ast.FunctionDef):
        walker.scope.assign(node.name, function)
    return function


def _default(walker: Any, node: ast.AST) -> Any:
    # Defaults are not checked by the whitelist (it skips parameter lists): only
    # constants and names are read here.
    if not isinstance(node, (ast.Constant, ast.Name, ast.UnaryOp)):
        raise walker.fail("a default value of a nested function must be a constant or a "
                          "name", node)
    if isinstance(node, ast.Constant) and not isinstance(node.value, (int, float,
                                                                       type(None))):
        raise walker.fail("a default value of a nested function must be a number, None "
                          "or a name", node)
    return walker.eval(node)


def call_local(walker: Any, function: LocalFunction, args: list, kwargs: dict,
               node: Any) -> Any:
    """Inline a call of a nested function: bind its parameters, walk its body."""
    arguments = function.definition.args
    positional = [p.arg for p in arguments.posonlyargs + arguments.args]
    keyword_only = [p.arg for p in arguments.kwonlyargs]
    if len(args) > len(positional):
        raise walker.fail(f"{function.name}() takes {len(positional)} positional arguments "
                          f"but {len(args)} were given", node)
    local = dict(zip(positional, args))
    for key, value in kwargs.items():
        if key not in positional and key not in keyword_only:
            raise walker.fail(f"{function.name}() has no parameter {key!r}", node)
        if key in local:
            raise walker.fail(f"{function.name}() got two values for {key!r}", node)
        local[key] = value
    for name in positional + keyword_only:
        if name not in local:
            if name not in function.defaults:
                raise walker.fail(f"{function.name}() is missing the argument {name!r}", node)
            local[name] = function.defaults[name]
    inner = type(walker)(function.source, ChildScope(function.scope, local), walker.context)
    context = walker.context
    context.depth += 4       # an inlined call costs a few Python frames
    try:
        if isinstance(function.definition, ast.Lambda):
            return inner.eval(function.definition.body)
        outcome = inner.run(function.definition.body)
        return getattr(outcome, "value", None)      # a return statement, or None
    finally:
        context.depth -= 4


# ---------------------------------------------------------------------------
# sequences and arrays

def rows(value: Any) -> list | None:
    """The rows of an expression of known length or of an array; None otherwise."""
    if isinstance(value, Node):
        if value.ndim and isinstance(value.shape[0], int):
            return [value[i] for i in range(value.shape[0])]
        return None
    if isinstance(value, np.ndarray) and value.ndim >= 1:
        return list(value)
    if isinstance(value, dict):
        return list(value)
    return None


def as_array(value: Any) -> Any:
    """A (nested) list or tuple of expressions and numbers stacked into one expression,
    as NumPy makes an array of a nested list."""
    if not isinstance(value, (tuple, list)):
        return value
    if not value:
        raise ValueError("an empty list cannot be made an array of expressions")
    nodes = [as_node(as_array(item)) for item in value]
    shapes = {node.shape for node in nodes}
    if len(shapes) > 1:
        raise ValueError(f"the items have different shapes {sorted(map(str, shapes))}; "
                         "NumPy cannot make an array of them either")
    return table_functions()["stack"](nodes)
