"""Patterns over the IR, written like the math they match.

Conventions
- ``P.<op>(...)`` is a pattern for a node of that op (op-table names: ``P.log``,
  ``P.sum``; the arithmetic ops come from Python's operators: ``X + 1``,
  ``-X``, ``X * Y``, ``X / Y``, ``X ** 2``). Keyword arguments match attributes:
  a value must be equal, a ``Hole`` binds the attribute's value; attributes not
  named match anything.
- ``Hole("x")`` (exported as ``X``, ``Y``, ``Z``, ``G``, ``C``) matches any node
  and binds it; a name used twice must bind the same node (hash-consing makes
  that structural equality). A hole may carry a named guard: ``Hole("c", const)``.
- A number in a pattern matches a constant whose elements all equal it, seen
  through the ops declared ``see_through`` (broadcasts, reshapes; ``zeros_like``
  matches 0): ``X * 1`` matches ``x * broadcast_to(1.0, (3,))``.
- Ops declared ``commutative`` (``add``, ``mul``, ``maximum``...) match their
  operands in either order.
- The same pattern objects are templates: ``build(pattern, bindings, like)``
  makes the node a replacement stands for, through the public builders, with
  numbers given the floating dtype of ``like``.

Matching recurses over the pattern (a handful of levels), never over the graph.
"""
from __future__ import annotations

from typing import Any, Callable, Iterator

import numpy as np

from ..ir import Const, Node, make
from ..ops import FUNCTIONS, OPS

# Ops whose operands match in either order (declared ``commutative`` in the op table).
COMMUTATIVE = frozenset(name for name, op in OPS.items() if op.commutative)


class Pattern:
    """Base of patterns; the operators build op patterns."""

    def __add__(self, o): return OpPat("add", (self, lift(o)))
    def __radd__(self, o): return OpPat("add", (lift(o), self))
    def __sub__(self, o): return OpPat("sub", (self, lift(o)))
    def __rsub__(self, o): return OpPat("sub", (lift(o), self))
    def __mul__(self, o): return OpPat("mul", (self, lift(o)))
    def __rmul__(self, o): return OpPat("mul", (lift(o), self))
    def __truediv__(self, o): return OpPat("div", (self, lift(o)))
    def __rtruediv__(self, o): return OpPat("div", (lift(o), self))
    def __pow__(self, o): return OpPat("pow", (self, lift(o)))
    def __rpow__(self, o): return OpPat("pow", (lift(o), self))
    def __matmul__(self, o): return OpPat("matmul", (self, lift(o)))
    def __neg__(self): return OpPat("neg", (self,))

    def __rshift__(self, replacement) -> tuple:
        """``pattern >> replacement``: the two halves of a rule."""
        return (self, replacement)

    def match(self, node: Node, env: dict) -> Iterator[dict]:
        raise NotImplementedError

    def could_match(self, node: Node) -> bool:
        """A cheap test that ``match`` needs to pass: False only when it cannot match."""
        return True


class Hole(Pattern):
    """A named hole: matches any node (passing its guard) and binds it."""

    def __init__(self, name: str, guard: Callable[[Node], bool] | None = None) -> None:
        self.name, self.guard = name, guard

    def __repr__(self) -> str:
        return self.name

    def match(self, node, env):
        bound = env.get(self.name)
        if bound is not None:
            if bound is node:
                yield env
            return
        if self.guard is not None and not self.guard(node):
            return
        yield {**env, self.name: node}


class Lit(Pattern):
    """A number: matches a constant whose elements all equal it."""

    def __init__(self, value: float) -> None:
        self.value = value

    def __repr__(self) -> str:
        return repr(self.value)

    def match(self, node, env):
        if const_value(node) == self.value:
            yield env

    def could_match(self, node):
        return const_value(node) == self.value


class OpPat(Pattern):
    """``op(args...; attrs)``: a node of that op whose inputs match ``args``."""

    def __init__(self, op: str, args: tuple, attrs: dict | None = None) -> None:
        if op not in OPS:
            raise ValueError(f"pattern over unknown op {op!r}")
        self.op, self.args, self.attrs = op, tuple(args), dict(attrs or {})
        self.commutative = OPS[op].commutative
        # what could_match looks at, by position: the value of a number, the op of an op
        self._checks = tuple((k, a.value, None) if isinstance(a, Lit) else (k, a.op, len(a.args))
                             for k, a in enumerate(self.args) if isinstance(a, (Lit, OpPat)))

    def __repr__(self) -> str:
        args = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.attrs.items()]
        return f"{self.op}({', '.join(args)})"

    def match(self, node, env):
        if node.op.name != self.op or len(node.inputs) != len(self.args):
            return
        for key, want in self.attrs.items():
            have = node.attr(key)
            if isinstance(want, Hole):
                bound = env.get(want.name, _MISSING)
                if bound is _MISSING:
                    env = {**env, want.name: have}
                elif bound != have:
                    return
            elif have != want:
                return
        orders = [node.inputs]
        if self.commutative and node.inputs[0] is not node.inputs[1]:
            orders.append(node.inputs[::-1])
        for inputs in orders:
            yield from _match_all(self.args, inputs, env)

    def could_match(self, node):
        """The op, and the op or value of each argument (in some order): one level down."""
        inputs = node.inputs
        if node.op.name != self.op or len(inputs) != len(self.args):
            return False
        checks = self._checks
        if _shallow(checks, inputs):
            return True
        return self.commutative and _shallow(checks, inputs[::-1])


def _shallow(checks: tuple, inputs: tuple) -> bool:
    """Whether the operands pass ``OpPat._checks``."""
    for k, want, arity in checks:
        node = inputs[k]
        if arity is None:
            if const_value(node) != want:
                return False
        elif node.op.name != want or len(node.inputs) != arity:
            return False
    return True


_MISSING = object()


def _match_all(patterns, nodes, env) -> Iterator[dict]:
    if not patterns:
        yield env
        return
    for env1 in patterns[0].match(nodes[0], env):
        yield from _match_all(patterns[1:], nodes[1:], env1)


def lift(value: Any) -> Pattern:
    if isinstance(value, Pattern):
        return value
    if isinstance(value, (int, float)):
        return Lit(float(value))
    raise TypeError(f"cannot use {value!r} in a pattern")


class _OpNamespace:
    """``P.log(X)``, ``P.sum(X, axis=A)``: op patterns by op-table name."""

    def __getattr__(self, name: str):
        op = {"sum_": "sum", "max_": "max", "min_": "min"}.get(name, name)
        if op not in OPS:
            raise AttributeError(f"no op named {name!r}")

        def build(*args, **attrs):
            return OpPat(op, tuple(lift(a) for a in args), attrs)
        return build


P = _OpNamespace()
X, Y, Z, G, C, A, B = (Hole(n) for n in "XYZGCAB")


# -- constants seen through broadcasts -----------------------------------------------

_SEE_THROUGH = frozenset(name for name, op in OPS.items() if op.see_through)
CONSTANT_LIKE = frozenset(("const", "zeros_like")) | _SEE_THROUGH


def const_value(node: Node) -> float | None:
    """The value of a constant whose elements are all equal (through broadcasts), else None."""
    if node.op.name not in CONSTANT_LIKE:
        return None
    for _ in range(8):
        name = node.op.name
        if name == "const":
            value = node.value
            if value.size == 0 or value.dtype.kind not in "biuf":
                return None
            first = value.flat[0]
            if value.size > 1 and not np.all(value == first):
                return None
            return float(first)
        if name == "zeros_like":
            return 0.0
        if name in _SEE_THROUGH:
            node = node.inputs[0]
            continue
        return None
    return None


# -- templates ----------------------------------------------------------------------

def build(template: Any, env: dict, like: Node | None) -> Node:
    """The node a template stands for, with the holes filled from ``env``."""
    if isinstance(template, Hole):
        return env[template.name]
    if isinstance(template, Lit):
        return Const(template.value, like.dtype if like is not None and like.dtype.kind == "f"
                     else "float64")
    if isinstance(template, OpPat):
        args = [build(a, env, like) for a in template.args]
        attrs = {k: (env[v.name] if isinstance(v, Hole) else v)
                 for k, v in template.attrs.items()}
        fn = FUNCTIONS.get(template.op)     # the public builder (op names are aliases)
        if fn is not None:
            return fn(*args, **attrs)
        return make(OPS[template.op], args, attrs)
    if isinstance(template, Node):
        return template
    raise TypeError(f"cannot build a replacement from {template!r}")
