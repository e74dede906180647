"""Forward mode: the JVP column of the generic op checker, and vjp/jvp duality.

For every differentiable op of the table and each of its cases (inputs drawn from
the op's domain), the JVP along a random direction equals central finite
differences of the values (an independent oracle), with static shapes and with
unknown lengths. Reverse and forward mode must also be adjoint to each other:
⟨vjp(u), v⟩ = ⟨u, jvp(v)⟩ for random u and v, per op and on random composed graphs.
"""
import numpy as np
import pytest

import symdiff as sd
from symdiff.ir import Const, Var, toposort
from symdiff.ops import OPS
from symdiff.testing import GradientCheckError, check_grads, op_example

DIFFERENTIABLE = sorted(name for name, op in OPS.items() if op.differentiable)
CASES = [(name, k, dynamic) for name in DIFFERENTIABLE
         for k in range(len(OPS[name].cases)) for dynamic in (False, True)]


def build(name, k, dynamic=False, seed=0):
    """The op applied to variables (constants for "const" inputs), and their values."""
    node, _, env = op_example(name, k, dynamic=dynamic, seed=seed, const_refs=True)
    return node, env


def float_vars(node):
    return sorted((n for n in toposort([node]) if isinstance(n, Var) and n.dtype.kind == "f"),
                  key=lambda v: v.name)


def test_every_differentiable_op_has_a_jvp_rule():
    missing = [name for name, op in OPS.items() if op.differentiable and op.jvp is None]
    assert not missing, f"ops without a JVP rule: {missing}"


@pytest.mark.parametrize("name,k,dynamic", CASES)
def test_jvp_matches_finite_differences(name, k, dynamic):
    node, env = build(name, k, dynamic)
    if node.dtype.kind != "f":
        pytest.skip("not a floating-point result")
    check_grads(node, env, modes=("fwd",))


@pytest.mark.parametrize("name,k,dynamic", CASES)
def test_forward_over_reverse_matches_finite_differences(name, k, dynamic):
    """jvp of each op's VJP graph (what hvp and hessian compute) against finite
    differences of the VJP's values: the JVP rules of the ops that VJPs are made of."""
    node, env = build(name, k, dynamic)
    if node.dtype.kind != "f":
        pytest.skip("not a floating-point result")
    wrt = float_vars(node)
    u = np.random.default_rng(k).standard_normal(np.shape(sd.evaluate(node, env)))
    grads = sd.vjp(node, wrt, Const(u))
    check_grads(grads, env, modes=("fwd",), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name,k", [(n, k) for n, k, d in CASES if not d])
def test_jvp_has_the_type_of_its_output(name, k):
    node, env = build(name, k)
    wrt = float_vars(node)
    tangents = [Const(np.ones(v.shape)) for v in wrt]
    t = sd.jvp(node, wrt, tangents)
    assert t.shape == node.shape and t.dtype.kind == "f"
    assert np.shape(sd.evaluate(t, env)) == np.shape(sd.evaluate(node, env))


def _duality_gap(outputs, env, seed=0):
    """⟨vjp(u), v⟩ and ⟨u, jvp(v)⟩ for random u and v, both evaluated exactly."""
    rng = np.random.default_rng(seed)
    outputs = [outputs] if isinstance(outputs, sd.Expr) else list(outputs)
    wrt = sorted({v for o in outputs for v in float_vars(o)}, key=lambda v: v.name)
    values = sd.evaluate(outputs, env)
    us = [rng.standard_normal(np.shape(val)) for val in values]
    vs = [rng.standard_normal(np.shape(env[w.name])) for w in wrt]
    grads = sd.vjp(outputs, wrt, [Const(u) for u in us])
    tans = sd.jvp(outputs, wrt, [Const(v) for v in vs])
    tans = [tans] if isinstance(tans, sd.Expr) else tans
    left = sum(float(np.sum(g * v)) for g, v in zip(sd.evaluate(grads, env), vs))
    right = sum(float(np.sum(u * t)) for u, t in zip(us, sd.evaluate(tans, env)))
    return left, right


@pytest.mark.parametrize("name,k", [(n, k) for n, k, d in CASES if not d])
def test_vjp_and_jvp_are_adjoint_per_op(name, k):
    node, env = build(name, k)
    if node.dtype.kind != "f":
        pytest.skip("not a floating-point result")
    left, right = _duality_gap(node, env, seed=k)
    assert left == pytest.approx(right, rel=1e-10, abs=1e-12)


# -- random composed graphs ----------------------------------------------------------

UNARY = [sd.sin, sd.tanh, sd.exp, sd.sigmoid, sd.softplus, sd.square, sd.cos, sd.arctan,
         lambda a: sd.log(1.0 + a * a), lambda a: sd.softmax(a, -1),
         lambda a: sd.log_softmax(a, 0) if a.ndim else -a,
         lambda a: a.T, lambda a: a[..., ::-1] if a.ndim else a * 3.0,
         lambda a: sd.sum(a, -1, keepdims=True) if a.ndim else a,
         lambda a: sd.logsumexp(a, 0, keepdims=True) if a.ndim else a,
         lambda a: sd.concatenate([a, a * 2.0], -1) if a.ndim else a - 1.0]
BINARY = [sd.add, sd.subtract, sd.multiply, lambda a, b: a / (1.5 + sd.cos(b)),
          sd.maximum, lambda a, b: sd.where(a > b, a * b, a - b)]


def random_graph(seed, steps=12):
    """A random expression over x (3,), Y (3, 3) and s () built from UNARY and BINARY."""
    rng = np.random.default_rng(seed)
    x, Y, s = sd.vector("x", 3), sd.matrix("Y", (3, 3)), sd.scalar("s")
    pool = [x, Y, s]
    for _ in range(steps):
        if rng.random() < 0.45:
            a = pool[rng.integers(len(pool))]
            pool.append(UNARY[rng.integers(len(UNARY))](a))
        else:
            a, b = (pool[i] for i in rng.integers(len(pool), size=2))
            if rng.random() < 0.2 and a.ndim >= 1 and b.ndim >= 1:
                pool.append(sd.matmul(a, b) if a.ndim == 2 or b.ndim == 2 else sd.outer(a, b))
            else:
                pool.append(BINARY[rng.integers(len(BINARY))](a, b))
    env = {"x": rng.uniform(-1, 1, 3), "Y": rng.uniform(-1, 1, (3, 3)), "s": rng.uniform(-1, 1)}
    return pool[-3:], env


@pytest.mark.parametrize("seed", range(12))
def test_vjp_and_jvp_are_adjoint_on_random_graphs(seed):
    outputs, env = random_graph(seed)
    left, right = _duality_gap(outputs, env, seed)
    assert left == pytest.approx(right, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_jvp_of_random_graphs_matches_finite_differences(seed):
    outputs, env = random_graph(seed)
    check_grads(outputs, env, modes=("fwd", "rev"))


def test_jvp_of_several_inputs_adds_their_contributions():
    x, y = sd.scalar("x"), sd.vector("y", 2)
    out = sd.sin(x) * y + y ** 2
    t = sd.jvp(out, [x, y], [2.0, Const(np.array([1.0, -1.0]))])
    env = {"x": 0.3, "y": np.array([0.5, 2.0])}
    want = 2.0 * np.cos(0.3) * env["y"] + np.sin(0.3) * np.array([1, -1]) \
        + 2 * env["y"] * np.array([1, -1])
    np.testing.assert_allclose(sd.evaluate(t, env), want, rtol=1e-12)


def test_jvp_of_an_output_that_does_not_depend_on_wrt_is_zero():
    x, y = sd.vector("x", 3), sd.vector("y", 3)
    t = sd.jvp([sd.sin(y), x * 2.0], x, Const(np.ones(3)))
    np.testing.assert_array_equal(sd.evaluate(t[0], {"y": np.ones(3)}), np.zeros(3))
    np.testing.assert_array_equal(sd.evaluate(t[1], {}), 2 * np.ones(3))


def test_vjp_of_a_non_scalar_output():
    """Reverse mode for a vector output: uᵀ J, with J written by hand."""
    x = sd.vector("x", 3)
    W = np.arange(6.0).reshape(2, 3) / 7
    y = sd.tanh(sd.constant(W) @ x)                    # J = diag(1 - y²) W
    u = np.array([0.3, -2.0])
    xv = np.array([0.1, -0.4, 0.8])
    yv = np.tanh(W @ xv)
    got = sd.evaluate(sd.vjp(y, x, Const(u)), {"x": xv})
    np.testing.assert_allclose(got, (u * (1 - yv ** 2)) @ W, rtol=1e-12)
    with pytest.raises(sd.DiffError):
        sd.vjp(y, x, Const(np.ones(3)))


def test_the_forward_column_can_fail(patch_op):
    """Break tanh's JVP (not its VJP): the forward column must notice."""
    node, env = build("tanh", 1)
    patch_op(OPS["tanh"], "jvp", lambda t, n: sd.multiply(t[0], n))
    with pytest.raises(GradientCheckError):
        check_grads(node, env, modes=("fwd",))
    with pytest.raises(AssertionError):
        left, right = _duality_gap(node, env)
        assert left == pytest.approx(right, rel=1e-10)
