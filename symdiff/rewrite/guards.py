"""What the rule sets of more than one phase ask about a match or a node: guards (named
conditions a pattern rule checks before it fires) and the ops that broadcast."""
from __future__ import annotations

from ..ir import broadcast_shapes, same_shape
from ..ops import OPS
from .engine import Guard, Match

# The ops that spread an operand to a larger shape (``broadcast_to``, ``broadcast_like``...).
BROADCASTS = tuple(name for name, op in OPS.items() if op.broadcasts)


def algebra_shape(inputs) -> tuple:
    """The shape an elementwise op on ``inputs`` has (NumPy broadcasting)."""
    return broadcast_shapes(*(i.shape for i in inputs))


def _is_floating(m: Match) -> bool:
    return m.node.dtype.kind == "f"


floating = Guard("x is floating point", _is_floating)


def same_type_as_node(hole: str) -> Guard:
    return Guard(f"{hole} has the node's shape and dtype",
                 lambda m: m[hole].dtype == m.node.dtype and same_shape(m[hole].shape,
                                                                        m.node.shape))


def matrix(hole: str) -> Guard:
    return Guard(f"{hole} is a matrix", lambda m: m[hole].ndim == 2)
