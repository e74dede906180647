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
from symdiff.ir import Var, make
from symdiff.ops import OPS
from symdiff.testing import check_grads

CASES = [(name, k, dynamic) for name, op in sorted(OPS.items())
         for k in range(len(op.cases)) for dynamic in (False, True)]


def sample(domain, shape, rng):
    if domain == "bool":
        return rng.random(shape) > 0.5
    if domain == "nonzero":
        return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.5, 2.0, size=shape)
    lo, hi = domain if isinstance(domain, tuple) else (-2.0, 2.0)
    return rng.uniform(lo, hi, size=shape)


def build(name, k, dynamic, seed=0):
    op = OPS[name]
    case = op.cases[k]
    rng = np.random.default_rng(seed + 7 * k)
    variables, env = [], {}
    for i, shape in enumerate(case.shapes):
        domain = op.domain[i] if i < len(op.domain) else (-2.0, 2.0)
        value = sample(domain, shape, rng)
        declared = tuple(d if d == 1 or not dynamic else None for d in shape)
        v = Var(f"in{i}", declared, value.dtype)
        variables.append(v)
        env[v.name] = value
    return make(op, variables, case.attrs), variables, env


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


def test_checker_catches_a_wrong_rule(monkeypatch):
    """The checker is able to fail: break sin's derivative and it must notice."""
    node, variables, env = build("sin", 1, False)
    broken = lambda g, n: (sd.multiply(g, sd.sin(n.inputs[0])),)
    monkeypatch.setattr(OPS["sin"], "vjp", broken)
    with pytest.raises(AssertionError):
        check_grads(node, env)
