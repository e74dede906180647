"""How a 0-d kernel (a whole scalar graph: one Numba function of straight-line code,
thousands of operations) is spelled so that Numba compiles it in little time.

Numba's lowering checks, for each variable assigned and read in one basic block, that
the block assigns it once, by scanning all of that block's statements: quadratic in
the size of a block. deep_scalar_160 (2,239 operations) was one block of 7,684 IR
statements, and that scan took 2.1 of the 4.4 s of CPU its compile took. So:

- Every ``BLOCK_LINES`` lines the function branches on a constant (``if cut: raise``).
  Numba removes the branch as dead and keeps the jump: the code is the same, in
  blocks of a few hundred statements, and LLVM joins them again.
- Each float constant and each ``math`` function is bound to a local name once, at the
  top: written in place, ``0.1 * v`` costs a constant statement and ``math.sin(v)`` a
  global and an attribute lookup, at every use (1,600 of the 3,842 assignments).

Both keep the values and the operations as they were (the same literals, the same
functions), so the machine code computes what it computed before.
"""
from __future__ import annotations

import re

import numpy as np

from ..ir import Node
from .plan import const_literal

# Lines of straight-line code per basic block: 200 was as fast as 400 and faster than
# 25-100 (more blocks cost Numba's per-block passes), measured on deep_scalar_160.
BLOCK_LINES = 200
CUT = "cut"   # the constant the branches test
_MATH = re.compile(r"\bmath\.(\w+)\b")


class ScalarNames:
    """The local names a 0-d kernel binds once at its top."""

    def __init__(self) -> None:
        self.constants: dict[str, str] = {}   # literal -> name
        self.functions: dict[str, str] = {}   # math function -> name

    def operand(self, node: Node) -> str:
        """A constant operand: a float is named, others (bools) stay literals (a name
        would change how Numba types them)."""
        text = const_literal(node.value)
        if node.dtype != np.float64:
            return text
        if text not in self.constants:
            self.constants[text] = f"c{len(self.constants)}"
        return self.constants[text]

    def spelling(self, template: str) -> str:
        """An op's Numba spelling with its ``math.f`` read from a local name."""
        def local(match: re.Match) -> str:
            return self.functions.setdefault(match.group(1), f"m_{match.group(1)}")
        return _MATH.sub(local, template)

    def prologue(self) -> list[str]:
        return ([f"{name} = math.{f}" for f, name in self.functions.items()]
                + [f"{name} = {text}" for text, name in self.constants.items()])


def in_blocks(lines: list[str]) -> list[str]:
    """``lines`` (straight-line code) cut into basic blocks of ``BLOCK_LINES`` lines."""
    if len(lines) <= BLOCK_LINES:
        return lines
    out = [f"{CUT} = False   # see numba_scalar.in_blocks: a branch Numba removes"]
    for k, line in enumerate(lines):
        if k and k % BLOCK_LINES == 0:
            out += [f"if {CUT}:", '    raise AssertionError("unreachable")']
        out.append(line)
    return out
