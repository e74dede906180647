"""Graph rewrites (simplification and stabilization) run before code generation."""
from __future__ import annotations

from typing import Sequence

from ..ir import Node


def simplify(expr: Node | Sequence[Node]):
    """Simplify an expression or a list of expressions (currently the identity)."""
    return expr if isinstance(expr, Node) else list(expr)
