"""Pytrees: nested tuples, lists and dicts of arrays, flattened in JAX's order.

Conventions of this module:

* A tree is a tuple, a list, a dict (keys sorted when flattened, as JAX does), a
  namedtuple, or ``None`` (a node with no leaves); anything else is a leaf.
* ``flatten(tree)`` gives the leaves, left to right, and a hashable ``TreeDef``
  that ``unflatten`` rebuilds the tree from. Dicts are rebuilt with their keys
  sorted, as ``jax.tree_util`` rebuilds them.
* ``leaf_names(treedef, prefix)`` names each leaf after its path (``params_W1``,
  ``layers_0_1``), as identifiers, so that a compiled function's parameters read
  like the user's arguments.
"""
from __future__ import annotations

import re
from typing import Any, Callable

from .errors import ArgumentTypeError

# A node: ("leaf",), ("none",), ("tuple", children), ("list", children),
# ("dict", keys, children) or ("namedtuple", type, children).
TreeDef = tuple

LEAF: TreeDef = ("leaf",)
MAX_DEPTH = 64


def flatten(tree: Any, *, is_leaf: Callable[[Any], bool] | None = None) -> tuple[list, TreeDef]:
    """The leaves of ``tree`` in JAX's order, and its structure."""
    leaves: list = []
    treedef = _flatten(tree, leaves, is_leaf, 0)
    return leaves, treedef


def _flatten(tree: Any, leaves: list, is_leaf: Any, depth: int) -> TreeDef:
    if is_leaf is not None and is_leaf(tree):
        leaves.append(tree)
        return LEAF
    if depth > MAX_DEPTH:
        raise ArgumentTypeError(f"an argument is nested more than {MAX_DEPTH} levels deep")
    if tree is None:
        return ("none",)
    if isinstance(tree, tuple) and hasattr(type(tree), "_fields"):
        return ("namedtuple", type(tree),
                tuple(_flatten(item, leaves, is_leaf, depth + 1) for item in tree))
    if isinstance(tree, (tuple, list)):
        kind = "tuple" if isinstance(tree, tuple) else "list"
        return (kind, tuple(_flatten(item, leaves, is_leaf, depth + 1) for item in tree))
    if isinstance(tree, dict):
        try:
            keys = tuple(sorted(tree))
        except TypeError:
            raise ArgumentTypeError(f"dict keys must be sortable (all strings, or all "
                                    f"numbers), got {list(tree)!r}") from None
        return ("dict", keys, tuple(_flatten(tree[k], leaves, is_leaf, depth + 1)
                                    for k in keys))
    leaves.append(tree)
    return LEAF


def unflatten(treedef: TreeDef, leaves: Any) -> Any:
    """The tree of structure ``treedef`` holding ``leaves`` (an iterable), in order."""
    iterator = iter(leaves)
    tree = _unflatten(treedef, iterator)
    if next(iterator, _END) is not _END:
        raise ValueError("unflatten: more leaves than the structure holds")
    return tree


_END = object()


def _unflatten(treedef: TreeDef, leaves: Any) -> Any:
    kind = treedef[0]
    if kind == "leaf":
        leaf = next(leaves, _END)
        if leaf is _END:
            raise ValueError("unflatten: fewer leaves than the structure holds")
        return leaf
    if kind == "none":
        return None
    if kind == "dict":
        return {key: _unflatten(child, leaves) for key, child in zip(treedef[1], treedef[2])}
    children = [_unflatten(child, leaves) for child in treedef[-1]]
    if kind == "tuple":
        return tuple(children)
    if kind == "namedtuple":
        return treedef[1](*children)
    return children


def num_leaves(treedef: TreeDef) -> int:
    kind = treedef[0]
    if kind == "leaf":
        return 1
    if kind == "none":
        return 0
    return sum(num_leaves(child) for child in treedef[-1])


def map_leaves(fn: Callable[[Any], Any], tree: Any) -> Any:
    """``tree`` with every leaf replaced by ``fn(leaf)``."""
    leaves, treedef = flatten(tree)
    return unflatten(treedef, [fn(leaf) for leaf in leaves])


def leaf_names(treedef: TreeDef, prefix: str) -> list[str]:
    """A name per leaf, after its path in the tree (not yet unique)."""
    names: list[str] = []
    _names(treedef, prefix, names)
    return names


_NOT_IDENTIFIER = re.compile(r"\W")


def _names(treedef: TreeDef, prefix: str, out: list[str]) -> None:
    kind = treedef[0]
    if kind == "leaf":
        out.append(prefix)
    elif kind == "dict":
        for key, child in zip(treedef[1], treedef[2]):
            part = _NOT_IDENTIFIER.sub("_", str(key)) or "key"
            _names(child, f"{prefix}_{part}", out)
    elif kind != "none":
        for i, child in enumerate(treedef[-1]):
            _names(child, f"{prefix}_{i}", out)


def structure_text(treedef: TreeDef) -> str:
    """The structure as a short text for messages: ``{'W': *, 'b': *}``, ``(*, [*])``."""
    kind = treedef[0]
    if kind == "leaf":
        return "*"
    if kind == "none":
        return "None"
    if kind == "dict":
        return "{" + ", ".join(f"{key!r}: {structure_text(child)}"
                               for key, child in zip(treedef[1], treedef[2])) + "}"
    inner = ", ".join(structure_text(child) for child in treedef[-1])
    if kind == "list":
        return f"[{inner}]"
    return f"({inner}{',' if len(treedef[-1]) == 1 else ''})"
