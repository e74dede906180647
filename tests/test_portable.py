"""The portable variant (``f.portable_source``): the generic op checker run on
array-api-strict (the standard's reference implementation) and on JAX (immutable
arrays: the scatters take ``.at``), and the errors for ops it cannot run.

For every op with a portable form and every sample case, with static and unknown
lengths: the value and the reverse-mode derivative (along a random cotangent)
computed by the portable code on array-api-strict arrays equal those of the NumPy
code, which tests/test_ops.py checks against the interpreter and finite differences.
"""
import numpy as np
import pytest

import symdiff as sd
from symdiff.errors import CompileError
from symdiff.ops import OPS
from symdiff.testing import op_example

xs = pytest.importorskip("array_api_strict")
pytest.importorskip("array_api_compat")

CASES = [(name, k, dynamic) for name, op in sorted(OPS.items()) if op.portable is not None
         for k in range(len(op.cases)) for dynamic in (False, True)]


def outputs_of(node, variables):
    """The node and, for a float differentiable op, its reverse-mode derivative
    (of sum(node**2), so the cotangent has the node's shape even when unknown)."""
    wrt = [v for v in variables if v.dtype.kind == "f"]
    if node.dtype.kind != "f" or not node.op.differentiable or not wrt:
        return [node]
    return [node, *sd.grad(sd.sum(node * node), wrt)]


def to_strict(value):
    return xs.asarray(np.asarray(value))


def assert_same(portable, numpy_values):
    for p, n in zip(portable, numpy_values):
        assert not isinstance(p, np.ndarray), "the portable variant returned NumPy"
        got = np.asarray(p)
        assert got.dtype == np.asarray(n).dtype
        np.testing.assert_allclose(got, n, rtol=1e-12, atol=1e-14)


def to_jax(value):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)   # as tests/test_boundary.py
    return jax.numpy.asarray(np.asarray(value))


# JAX with static lengths only (each eager op costs JAX a dispatch: time).
LIBRARY_CASES = ([pytest.param(*c, to_strict, id=f"{c[0]}-{c[1]}-{c[2]}-strict") for c in CASES]
                 + [pytest.param(*c, to_jax, id=f"{c[0]}-{c[1]}-jax") for c in CASES
                    if not c[2]])


@pytest.mark.parametrize("name,k,dynamic,convert", LIBRARY_CASES)
def test_op_portable(name, k, dynamic, convert):
    node, variables, env = op_example(name, k, dynamic=dynamic)
    f = sd.function(variables, outputs_of(node, variables))
    expected = f(**env)
    got = f(**{name: convert(v) for name, v in env.items()})
    assert_same(got, expected)


def test_portable_helpers_are_importable_by_name():
    """Portable source imports the helpers of ops and fused pairs from
    symdiff.portable_runtime by name."""
    from symdiff import portable_runtime
    from symdiff.ops.reductions import FUSED_PAIRS
    helpers = [fn for op in OPS.values() if op.portable is not None for fn in op.portable.helpers]
    helpers += [fn for fusion in FUSED_PAIRS for fn in fusion.portable_helpers]
    assert helpers
    for fn in helpers:
        assert fn.__name__ in portable_runtime.__all__, fn.__name__
        assert getattr(portable_runtime, fn.__name__) is fn


@pytest.mark.parametrize("name", sorted(n for n, op in OPS.items() if op.portable is None))
def test_op_without_portable_form_is_refused(name):
    node, variables, env = op_example(name, 0)
    f = sd.function(variables, node)
    np.asarray(f(**env))   # NumPy arrays: the NumPy code runs
    with pytest.raises(CompileError, match=rf"op '{name}'.*array-api-strict"):
        f(**{n: to_strict(v) for n, v in env.items()})


def test_parameters_named_like_the_namespace():
    xp, device = sd.vector("xp"), sd.vector("device")
    f = sd.function([xp, device], sd.sum(sd.exp(xp) * device))
    a, b = np.array([0.5, -1.0]), np.array([2.0, 3.0])
    expected = float(np.sum(np.exp(a) * b))
    assert float(np.asarray(f(to_strict(a), b))) == pytest.approx(expected, rel=1e-15)
    assert float(np.asarray(f(device=to_strict(b), xp=a))) == pytest.approx(expected, rel=1e-15)
