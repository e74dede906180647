"""Numerical stability of compiled gradients, against the analytic values.

Each case is compiled with the default ``optimize=True`` and called at a point
where the naive formula overflows or divides by zero. The result must be
finite, equal to the analytic value, and produced without a NumPy warning:
warnings are errors, and overflow, division by zero and invalid operations
raise. Underflow is allowed: a true value below the smallest double (e^-800)
can only underflow to 0.
"""
import warnings

import mpmath
import numpy as np
import pytest

import symdiff as sd


def call_strictly(f, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", divide="raise", invalid="raise", under="ignore"):
            return f(*args)


def sigmoid(t):
    # mpmath: 0.5 + 0.5*tanh(t/2) in float64 is 1.7e-4 off at t = -30, and 0 below -37
    return float(1 / (1 + mpmath.exp(-mpmath.mpf(t))))


@pytest.mark.parametrize("point", [-800.0, 800.0, -30.0, 0.0, 30.0])
def test_log_sigmoid(point):
    x = sd.scalar("x")
    e = sd.log(sd.sigmoid(x))
    value, grad = call_strictly(sd.function([x], [e, sd.grad(e, x)]), point)
    assert np.isfinite(value) and np.isfinite(grad)
    np.testing.assert_allclose(value, -np.logaddexp(0.0, -point), rtol=1e-12)
    np.testing.assert_allclose(grad, sigmoid(-point), rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("point", [800.0, -800.0, 0.0])
def test_log_one_plus_exp(point):
    x = sd.scalar("x")
    e = sd.log(1.0 + sd.exp(x))
    value, grad = call_strictly(sd.function([x], [e, sd.grad(e, x)]), point)
    np.testing.assert_allclose(value, np.logaddexp(0.0, point), rtol=1e-12)
    np.testing.assert_allclose(grad, sigmoid(point), rtol=1e-12, atol=1e-300)


def test_log_sum_exp():
    v = sd.vector("v")
    e = sd.log(sd.sum(sd.exp(v)))
    f = sd.function([v], [e, sd.grad(e, v)])
    value, grad = call_strictly(f, np.array([1000.0, 1000.0]))
    np.testing.assert_allclose(value, 1000.0 + np.log(2.0), rtol=1e-12)
    np.testing.assert_allclose(grad, [0.5, 0.5], rtol=1e-12)
    value, grad = call_strictly(f, np.array([-1000.0, 0.0, 1000.0]))
    np.testing.assert_allclose(value, 1000.0, rtol=1e-12)
    np.testing.assert_allclose(grad, [0.0, 0.0, 1.0], atol=1e-300)


def test_softmax_cross_entropy_with_1000_logits():
    z, t = sd.vector("z", 1000), sd.vector("t", 1000)
    loss = -sd.sum(t * sd.log(sd.softmax(z)))
    f = sd.function([z, t], [loss, sd.grad(loss, z)])
    rng = np.random.default_rng(0)
    logits = 300.0 * rng.standard_normal(1000)     # most probabilities underflow to 0
    target = np.zeros(1000)
    target[np.argmin(logits)] = 1.0                # the least likely class
    value, grad = call_strictly(f, logits, target)
    shifted = logits - logits.max()
    log_p = shifted - np.log(np.sum(np.exp(shifted)))
    np.testing.assert_allclose(value, -log_p[np.argmin(logits)], rtol=1e-12)
    np.testing.assert_allclose(grad, np.exp(log_p) - target, atol=1e-12)


def test_the_naive_graphs_do_overflow():
    """The checks above can fail: without rewrites the same graphs warn or give nan."""
    x = sd.scalar("x")
    e = sd.log(sd.sigmoid(x))
    f = sd.function([x], [e, sd.grad(e, x)], optimize=False)
    with pytest.raises((FloatingPointError, RuntimeWarning)):
        call_strictly(f, -800.0)
    v = sd.vector("v")
    e = sd.log(sd.sum(sd.exp(v)))
    f = sd.function([v], [e, sd.grad(e, v)], optimize=False)
    with np.errstate(all="ignore"):
        value, grad = f(np.array([1000.0, 1000.0]))
    assert not np.all(np.isfinite(grad))


@pytest.mark.parametrize("point,want", [(0.0, 0.0), (-1.0, 0.0), (4.0, 0.25)])
def test_where_gradient_is_not_poisoned_by_the_branch_not_taken(point, want):
    x = sd.scalar("x")
    e = sd.where(x > 0, sd.sqrt(x), 0.0)
    value, grad = call_strictly(sd.function([x], [e, sd.grad(e, x)]), point)
    assert grad == want
    assert value == (np.sqrt(point) if point > 0 else 0.0)


def test_where_on_vectors_and_the_other_branch():
    v = sd.vector("v")
    e = sd.sum(sd.where(v < 1.0, 0.0, sd.log(v - 1.0)))
    f = sd.function([v], sd.grad(e, v))
    grad = call_strictly(f, np.array([0.0, 0.5, 2.0, 3.0]))
    np.testing.assert_allclose(grad, [0.0, 0.0, 1.0, 0.5])
    # where(x > 0, x * log(x), 0): the usual entropy term, finite at 0
    x = sd.scalar("x")
    e = sd.where(x > 0, x * sd.log(x), 0.0)
    assert call_strictly(sd.function([x], sd.grad(e, x)), 0.0) == 0.0


def test_where_gradient_in_float32():
    v = sd.vector("v32", dtype="float32")
    e = sd.sum(sd.where(v > 0, sd.sqrt(v), 0.0))
    grad = call_strictly(sd.function([v], sd.grad(e, v)), np.array([0.0, -1.0, 4.0], "float32"))
    np.testing.assert_allclose(grad, [0.0, 0.0, 0.25])
