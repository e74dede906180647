"""What every op family uses to declare its ops and export their builders.

- ``FUNCTIONS`` maps a public name (``sd.<name>``, NumPy's spellings included) to the
  function that builds a node; ``public`` adds to it.
- ``as_nodes`` wraps the Python numbers among a builder's arguments as constants of
  the symbolic operands' dtype (NEP 50), so that ``x * 2`` stays float32 for a
  float32 ``x``.
- ``unary_builder`` and ``binary_builder`` make the builder of an op that takes one
  or two operands and no attributes.
- ``fn_latex`` and ``sympy_text`` are printers that several families share.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

from ..ir import Node, as_node, make
from .core import P_ATOM, Case, Op, call_text

FUNCTIONS: dict[str, Callable] = {}

# Sample shapes for the generic checker (tests/test_ops.py), broadcasting included.
UNARY_CASES = (Case(((),)), Case(((3,),)), Case(((2, 3),)))
BINARY_CASES = (Case(((), ())), Case(((3,), (3,))), Case(((2, 3), (3,))),
                Case(((2, 1), (1, 3))), Case(((), (2, 3))))


def public(*names: str) -> Callable:
    """Export a builder as ``sd.<name>`` (and under NumPy's other spellings)."""
    def deco(fn):
        for name in names or (fn.__name__,):
            FUNCTIONS[name] = fn
        return fn
    return deco


def as_nodes(args: Sequence[Any]) -> list[Node]:
    """Wrap Python scalars with the dtype of the symbolic operands (NEP 50)."""
    like = next((a for a in args if isinstance(a, Node) and a.dtype.kind == "f"), None)
    if like is None:
        like = next((a for a in args if isinstance(a, Node)), None)
    return [as_node(a, like) for a in args]


def const_value(node: Node) -> Any:
    """The value of a ``Const`` node, None for any other node."""
    return node.value if node.op.name == "const" else None


def is_const(node: Node, value: float) -> bool:
    """``node`` is the 0-d constant ``value``."""
    v = const_value(node)
    return v is not None and v.shape == () and v == value


def unary_builder(op: Op) -> Callable:
    def build(x):
        return make(op, as_nodes([x]))
    return build


def binary_builder(op: Op) -> Callable:
    def build(a, b):
        return make(op, as_nodes([a, b]))
    return build


def fn_latex(macro: str) -> Callable:
    r"""A function call as SymPy prints it: ``\sin{\left(x \right)}``."""
    def latex(node, child):
        args = ", ".join(child(i, 0) for i in node.inputs)
        return rf"{macro}{{\left({args} \right)}}", P_ATOM
    return latex


def sympy_text(scalar_form: Callable, tensor_name: str) -> Callable:
    """Print 0-d nodes in a form SymPy reads, others as the symdiff function."""
    tensor = call_text(tensor_name)

    def text(node, child):
        return scalar_form(node, child) if node.shape == () else tensor(node, child)
    return text
