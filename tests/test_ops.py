"""The generic op checker: every entry of the op table, every sample case.

For each op and each of its cases (input shapes and attributes), with inputs drawn
from the op's domain: the compiled function equals the reference interpreter, the
reverse-mode derivative equals central finite differences, and so does the
derivative of the derivative (grad of grad). Each case runs with static shapes and
again with unknown lengths, so the run-time shape paths of the gradients are
covered too. Adding an op to the table adds its rows here.
"""
import numpy as np
import pytest

import symdiff as sd
from symdiff.ops import OPS
from symdiff.testing import check_grads, op_example

CASES = [(name, k, dynamic) for name, op in sorted(OPS.items())
         for k in range(len(op.cases)) for dynamic in (False, True)]


def build(name, k, dynamic):
    return op_example(name, k, dynamic=dynamic)


def test_every_op_has_cases():
    missing = [name for name, op in OPS.items() if not op.cases]
    assert not missing, f"ops without checker cases: {missing}"


@pytest.mark.parametrize("name,k,dynamic", CASES)
def test_op(name, k, dynamic):
    node, variables, env = build(name, k, dynamic)
    if node.dtype.kind != "f" or not OPS[name].differentiable:
        f = sd.function(variables, node)
        np.testing.assert_array_equal(f(**env), sd.evaluate(node, env))
        return
    check_grads(node, env, order=2)


def test_checker_catches_a_wrong_rule(patch_op):
    """The checker is able to fail: break sin's derivative and it must notice."""
    node, variables, env = build("sin", 1, False)
    broken = lambda g, n: (sd.multiply(g, sd.sin(n.inputs[0])),)
    patch_op(OPS["sin"], "vjp", broken)
    with pytest.raises(AssertionError):
        check_grads(node, env)


def test_broadcast_like_refuses_an_operand_with_more_axes():
    from symdiff.ir import make
    with pytest.raises(sd.ShapeError, match="more axes than the reference"):
        make(OPS["broadcast_like"], [sd.matrix("A", shape=(1, 3)), sd.vector("r", shape=(3,))])
