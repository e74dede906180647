"""Reverse mode: the driver's contract (DESIGN §4)."""
import numpy as np
import pytest

import symdiff as sd
from symdiff.testing import check_grads


def test_unconnected_wrt_gets_zeros_of_its_shape():
    x, W = sd.scalar("x"), sd.matrix("W", shape=(2, 3))
    g = sd.grad(sd.sin(x), W)
    assert g.shape == (2, 3)
    np.testing.assert_array_equal(sd.evaluate(g, {"x": 1.0, "W": np.ones((2, 3))}),
                                  np.zeros((2, 3)))
    v = sd.vector("v")
    gv = sd.grad(sd.sin(x), v)
    f = sd.function([x, v], gv)
    np.testing.assert_array_equal(f(1.0, np.ones(5)), np.zeros(5))


def test_non_scalar_cost_is_an_error():
    with pytest.raises(sd.DiffError, match="scalar"):
        sd.grad(sd.sin(sd.vector("v")), sd.vector("v"))


@pytest.mark.parametrize("dtype", ["int64", "bool"])
def test_integer_and_boolean_wrt_are_errors(dtype):
    i = sd.vector("i", dtype=dtype)
    x = sd.scalar("x")
    with pytest.raises(sd.DiffError, match="floating"):
        sd.grad(x * sd.sum(i), i)


def test_broadcast_adjoints_are_summed_back():
    X = sd.matrix("X", shape=(4, 3))
    b = sd.vector("b", shape=(3,))
    c = sd.scalar("c")
    col = sd.matrix("k", shape=(4, 1))
    cost = sd.sum(sd.tanh(X + b + c + col))
    gb, gc, gk = sd.grad(cost, [b, c, col])
    assert gb.shape == (3,) and gc.shape == () and gk.shape == (4, 1)
    rng = np.random.default_rng(0)
    env = {"X": rng.normal(size=(4, 3)), "b": rng.normal(size=3), "c": 0.3,
           "k": rng.normal(size=(4, 1))}
    check_grads(cost, env)


def test_grad_of_grad_scalar():
    x = sd.scalar("x")
    f = x ** 3 * sd.sin(x)
    d2 = sd.grad(sd.grad(f, x), x)
    v = 0.7
    want = 6 * v * np.sin(v) + 6 * v ** 2 * np.cos(v) - v ** 3 * np.sin(v)
    assert float(sd.function([x], d2)(v)) == pytest.approx(want, rel=1e-12)


def test_shared_subexpression_accumulates():
    x = sd.scalar("x")
    s = sd.sin(x)
    f = s * s + s   # the adjoint of s is the sum over its three uses
    g = sd.grad(f, x)
    v = 0.4
    assert float(sd.evaluate(g, {"x": v})) == pytest.approx(
        (2 * np.sin(v) + 1) * np.cos(v), rel=1e-13)


def test_wrt_an_intermediate_node():
    x = sd.scalar("x")
    h = sd.exp(x)
    g = sd.grad(sd.sin(h), h)
    assert float(sd.evaluate(g, {"x": 0.2})) == pytest.approx(np.cos(np.exp(0.2)))


def test_derivative_nodes_are_marked_with_their_forward_step():
    from symdiff.ir import meta, toposort
    x = sd.vector("x")
    y = sd.sigmoid(x)
    g = sd.grad(sd.sum(y), x)
    origins = {meta(n, "origin") for n in toposort([g])} - {None}
    assert y in origins


def test_vjp_and_jvp_agree():
    x = sd.vector("x", shape=(3,))
    A = sd.constant(np.arange(6.0).reshape(2, 3))
    y = sd.tanh(A @ x)
    u, v = np.array([0.3, -1.2]), np.array([1.0, 0.5, -0.25])
    env = {"x": np.array([0.1, -0.2, 0.3])}
    left = np.dot(sd.evaluate(sd.vjp(y, x, sd.constant(u)), env), v)
    right = np.dot(u, sd.evaluate(sd.jvp(y, x, sd.constant(v)), env))
    assert left == pytest.approx(right, rel=1e-12)


@pytest.mark.parametrize("build", [
    lambda x: sd.sum(sd.abs(x)), lambda x: sd.sum(sd.where(x > 0, x, 0.0)),
    lambda x: sd.mean(x), lambda x: sd.sum(sd.maximum(x, 0.5) * 2.0),
])
def test_float32_gradients_stay_float32(build):
    x = sd.vector("x", dtype="float32")
    g = sd.grad(build(x), x)
    assert g.dtype == np.float32
    assert sd.function([x], g)(np.array([1.0, -2.0], np.float32)).dtype == np.float32


def test_check_grads_accepts_the_nan_safe_where():
    v = sd.vector("v")
    check_grads(sd.sum(sd.where(v > 0, sd.sqrt(v), 0.0)), {"v": np.array([-1.0, 1.0, 2.0])})
