"""The reference interpreter: evaluate a graph node by node with NumPy.

Symbol-to-number evaluation, straight from the op table's implementations. It is
slow and simple on purpose: it is the oracle that compiled code is checked against.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from .arguments import takes_expressions
from .errors import CompileError, ShapeError
from .ir import Node, Var, toposort


def check_input(var: Var, value: Any) -> np.ndarray:
    """The value for a variable as an array of its dtype; its shape must fit."""
    array = np.asarray(value)
    if array.ndim != var.ndim or any(d is not None and d != s
                                     for d, s in zip(var.shape, array.shape)):
        from .ir import fmt_shape
        # as compiled code does (symdiff.runtime): an argument of the wrong shape
        raise ShapeError(f"input {var.name!r}: expected shape {fmt_shape(var.shape)}, "
                         f"got {fmt_shape(array.shape)}")
    if array.dtype != var.dtype:
        if not np.can_cast(array.dtype, var.dtype, casting="same_kind"):
            raise CompileError(f"input {var.name!r}: expected dtype {var.dtype}, "
                               f"got {array.dtype}")
        array = array.astype(var.dtype)
    return array


@takes_expressions
def evaluate(outputs: Node | Sequence[Node], env: Mapping[Any, Any]) -> Any:
    """Values of ``outputs`` given ``env``: a mapping from variables or their names to values.

    One output gives one array, a list gives a list.
    """
    single = isinstance(outputs, Node)
    outs = [outputs] if single else list(outputs)
    by_name = {(k.name if isinstance(k, Var) else k): v for k, v in env.items()}
    values: dict[int, Any] = {}
    with np.errstate(all="ignore"):
        for node in toposort(outs):
            if node.op.name == "var":
                if node.name not in by_name:
                    raise CompileError(f"no value given for input {node.name!r}")
                values[node.id] = check_input(node, by_name[node.name])
            elif node.op.name == "const":
                values[node.id] = node.value
            else:
                args = [values[i.id] for i in node.inputs]
                values[node.id] = np.asarray(node.op.impl(*args, **dict(node.attrs)))
    results = [values[o.id] for o in outs]
    return results[0] if single else results
