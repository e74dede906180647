"""What one rewrite run remembers: the readings of sums and products, and the nodes built.

Conventions
- The engine makes one ``Memo`` for a run (``rewrite.run``: every phase and round of a
  ``simplify``; ``Phase.run`` alone: that phase) and passes it down: a rule gets it as
  ``m.memo``, and the algebra (``sums.py``, ``products.py``) reads and builds through
  it.
- Readings are kept by node id for the run: nodes do not change and ids are never
  reused. A reading is made from its operands' readings, each made once (``read``):
  linear time on chains of any length.
- A node built through the memo (``memo.add(a, b)``...) is looked up first among those
  it built in this run, by operand ids, without inferring its type again; operands of
  one floating dtype and one shape give a node of that type at once for ops declared
  ``same_type``.
- Nothing is kept in hidden state but the scalar constants the algebra makes (one
  cache for all runs, of leaves that hash-consing would return anyway): the only
  state runs in several threads share, besides the hash-consing table, and safe to
  share (a lookup or an insertion into a dict is atomic).
"""
from __future__ import annotations

import math
import weakref
from typing import Callable

import numpy as np

from ..ir import Const, Node, make_typed
from ..ops import FUNCTIONS, OPS

_FLOAT64 = np.dtype("float64")

# The ops the algebra builds: op name -> (public builder, the op when its type is known
# from operands of one floating type, else None).
_BUILDERS = {name: (FUNCTIONS[name], OPS[name] if OPS[name].same_type else None)
             for name in ("add", "sub", "mul", "div", "neg", "pow", "sqrt", "square")}


class Memo:
    """The readings of one rewrite run (``sums``, ``products``: node id -> reading), the
    nodes it built ((op name, operand ids) -> weak reference to the node), and whether a
    ratio rule fires on a product as it is (``ratio_fires``: node id -> bool).

    ``symmetric_inputs``: the run may take the variables declared symmetric to be so
    (``S.T -> S``). Only code generation asks for it: its graphs are not differentiated
    again, and an expression rewritten so has other derivatives with respect to ``S``
    (those of ``S`` where ``S.T`` was written)."""

    __slots__ = ("sums", "products", "built", "ratio_fires", "symmetric_inputs")

    def __init__(self, symmetric_inputs: bool = False) -> None:
        self.sums: dict[int, object] = {}
        self.products: dict[int, object] = {}
        self.built: dict[tuple, weakref.ref] = {}
        self.ratio_fires: dict[int, bool] = {}
        self.symmetric_inputs = symmetric_inputs

    def read(self, node: Node, table: dict, reader: Callable) -> object:
        """``table[node.id]`` (``self.sums`` or ``self.products``), read first when missing:
        ``reader(n, self)`` gives the reading of ``n`` from its operands' readings, or the
        list of operands to read first (read bottom-up with an explicit stack, so chains
        of any length need no recursion)."""
        found = table.get(node.id)
        if found is not None:
            return found
        stack = [node]
        while stack:
            n = stack[-1]
            if n.id in table:
                stack.pop()
                continue
            out = reader(n, self)
            if type(out) is list:
                stack.extend(out)
                continue
            stack.pop()
            table[n.id] = out
        return table[node.id]

    def make(self, name: str, *args: Node) -> Node:
        """The node ``name(*args)``, built at most once in the run."""
        # the algebra's ops take one or two operands
        key = (name, args[0].id) if len(args) == 1 else (name, args[0].id, args[1].id)
        ref = self.built.get(key)
        node = ref() if ref is not None else None
        if node is None:
            node = _build(name, args)
            self.built[key] = weakref.ref(node)
        return node

    def add(self, a: Node, b: Node) -> Node:
        return self.make("add", a, b)

    def subtract(self, a: Node, b: Node) -> Node:
        return self.make("sub", a, b)

    def multiply(self, a: Node, b: Node) -> Node:
        return self.make("mul", a, b)

    def divide(self, a: Node, b: Node) -> Node:
        return self.make("div", a, b)

    def negative(self, a: Node) -> Node:
        return self.make("neg", a)

    def power(self, a: Node, b: Node) -> Node:
        return self.make("pow", a, b)

    def sqrt(self, a: Node) -> Node:
        return self.make("sqrt", a)

    def square(self, a: Node) -> Node:
        return self.make("square", a)

    def constant(self, value: float, like: Node) -> Const:
        """The scalar ``value`` in the floating dtype of ``like`` (float64 otherwise)."""
        dtype = like.dtype if like.dtype.kind == "f" else _FLOAT64
        key = (dtype.str, value, math.copysign(1.0, value))     # -0.0 is not 0.0
        found = _CONSTS.get(key)
        if found is None:
            if len(_CONSTS) > 4096:
                _CONSTS.clear()
            found = _CONSTS[key] = Const(value, dtype)
        return found


# The scalar constants rebuilds make, by dtype and value: one is made once.
_CONSTS: dict[tuple, Const] = {}


def _build(name: str, args: tuple) -> Node:
    build, op = _BUILDERS[name]
    if op is not None:
        first = args[0]
        dtype, shape = first.dtype, first.shape
        if dtype.kind == "f" and all(a.dtype == dtype and a.shape == shape for a in args[1:]):
            return make_typed(op, args, (), dtype, shape)
    return build(*args)


# A rebuild that only counts its operations (``build=False``) makes no nodes: this
# stands for each node it would have made.
PLANNED = object()


class Plan:
    """Stands for a memo in a rebuild that only counts: every node it makes is PLANNED."""

    def _planned(self, *args) -> object:
        return PLANNED

    add = subtract = multiply = divide = negative = constant = _planned


PLAN = Plan()
