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


# -- other spellings of the same functions ----------------------------------------------------
# Each is compiled from the spelling a user writes and checked, value and gradient, against
# the analytic values computed by stable NumPy formulas, in float64 and float32.

def softplus(t):
    return np.logaddexp(0.0, t)


def stable_sigmoid(t):
    return np.exp(-np.logaddexp(0.0, -t))


def softmax(t, axis):
    e = np.exp(t - np.max(t, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


# name -> (build from a scalar variable, value, derivative)
SCALAR_SPELLINGS = {
    "log1p(exp(x))": (lambda x: sd.log1p(sd.exp(x)), softplus, stable_sigmoid),
    "log(1 + exp(-x))": (lambda x: sd.log(1.0 + sd.exp(-x)), lambda t: softplus(-t),
                         lambda t: -stable_sigmoid(-t)),
    "-log1p(exp(-x))": (lambda x: -sd.log1p(sd.exp(-x)), lambda t: -softplus(-t),
                        lambda t: stable_sigmoid(-t)),
    "1/(1 + exp(-x))": (lambda x: 1.0 / (1.0 + sd.exp(-x)), stable_sigmoid,
                        lambda t: stable_sigmoid(t) * stable_sigmoid(-t)),
    "exp(x)/(1 + exp(x))": (lambda x: sd.exp(x) / (1.0 + sd.exp(x)), stable_sigmoid,
                            lambda t: stable_sigmoid(t) * stable_sigmoid(-t)),
    "1/(1 + exp(x))": (lambda x: 1.0 / (1.0 + sd.exp(x)), lambda t: stable_sigmoid(-t),
                       lambda t: -stable_sigmoid(t) * stable_sigmoid(-t)),
    "log(exp(x) + exp(-x))": (lambda x: sd.log(sd.exp(x) + sd.exp(-x)),
                              lambda t: np.logaddexp(t, -t), lambda t: np.tanh(t)),
}
EXTREMES = [-1000.0, -800.0, -100.0, 0.0, 2.0, 100.0, 800.0, 1000.0]
# atol: sigmoid's tails below 1e-30 (e^-100) may come out as 0 (see the sigmoid record)
TOL = {"float64": dict(rtol=1e-12, atol=1e-30), "float32": dict(rtol=2e-6, atol=1e-37)}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", sorted(SCALAR_SPELLINGS))
def test_scalar_spellings_are_stable(name, dtype):
    build, value, derivative = SCALAR_SPELLINGS[name]
    x = sd.scalar("x", dtype)
    e = build(x)
    f = sd.function([x], [e, sd.grad(e, x), sd.jvp(e, x, sd.constant(1.0, dtype))])
    for point in EXTREMES:
        got = call_strictly(f, np.array(point, dtype))
        assert all(np.isfinite(g) and g.dtype == dtype for g in got), (point, got)
        want = [value(point), derivative(point), derivative(point)]
        np.testing.assert_allclose(got, want, err_msg=f"{name} at {point}", **TOL[dtype])


def test_log_of_a_sum_of_two_exponentials_is_logaddexp():
    a, b = sd.vector("a"), sd.vector("b")
    e = sd.sum(sd.log(sd.exp(a) + sd.exp(b)))
    assert "logaddexp" in str(sd.simplify(e))
    f = sd.function([a, b], [e, *sd.grad(e, [a, b])])
    pa = np.array([800.0, -1000.0, 1000.0, 3.0, -800.0])
    pb = np.array([799.0, -1000.0, -1000.0, 3.0, 800.0])
    value, ga, gb = call_strictly(f, pa, pb)
    out = np.logaddexp(pa, pb)
    np.testing.assert_allclose(value, np.sum(out), rtol=1e-12)
    np.testing.assert_allclose(ga, np.exp(pa - out), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(gb, np.exp(pb - out), rtol=1e-12, atol=1e-300)


SOFTMAX_POINTS = {
    "vector": np.array([800.0, 1.0, -800.0, 1000.0]),
    "matrix": np.array([[800.0, 1.0, -800.0], [-1000.0, -999.0, -1000.0],
                        [1000.0, 1000.0, 999.0]]),
}


def _softmax_spellings(m, weights, axis, keepdims):
    """sum(w * softmax(m)) and sum(w * log_softmax(m)), spelled with exp and sum."""
    ratio = sd.exp(m) / sd.sum(sd.exp(m), axis=axis, keepdims=keepdims)
    return sd.sum(weights * ratio), sd.sum(weights * sd.log(ratio))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shape,axis,keepdims", [("vector", None, False), ("vector", 0, True),
                                                 ("matrix", 1, True), ("matrix", 0, True)])
def test_softmax_spelled_with_exp_and_sum_is_stable(shape, axis, keepdims, dtype):
    point = SOFTMAX_POINTS[shape].astype(dtype)
    m = sd.var("m", point.shape, dtype)
    w = np.linspace(-1.0, 2.0, point.size).reshape(point.shape).astype(dtype)
    ratio_sum, log_ratio_sum = _softmax_spellings(m, sd.constant(w), axis, keepdims)
    f = sd.function([m], [ratio_sum, log_ratio_sum, sd.grad(ratio_sum, m),
                          sd.grad(log_ratio_sum, m)])
    got = call_strictly(f, point)
    assert all(np.all(np.isfinite(g)) for g in got), got
    p, ax = point.astype("float64"), 0 if axis is None else axis
    s = softmax(p, ax)
    shifted = p - np.max(p, ax, keepdims=True)
    log_s = shifted - np.log(np.sum(np.exp(shifted), ax, keepdims=True))
    want = [np.sum(w * s), np.sum(w * log_s), s * (w - np.sum(w * s, ax, keepdims=True)),
            w - s * np.sum(w, ax, keepdims=True)]
    tol = TOL[dtype] if dtype == "float64" else dict(rtol=1e-5, atol=1e-5)
    for g, wv, label in zip(got, want, ["value", "log value", "gradient", "log gradient"]):
        np.testing.assert_allclose(g, wv, err_msg=label, **tol)


def test_the_reported_spellings_through_python_functions():
    """The reports as users wrote them: finite, right, and without a warning."""
    def softplus_fn(x):
        return np.log1p(np.exp(x))

    value, grad = call_strictly(sd.value_and_grad(softplus_fn), 800.0)
    assert (value, grad) == (800.0, 1.0)
    value, grad = call_strictly(sd.value_and_grad(softplus_fn), np.float32(100.0))
    assert value == np.float32(100.0) and grad == np.float32(1.0)

    def log_sigmoid_fn(x):
        return -np.log1p(np.exp(-x))

    value, grad = call_strictly(sd.value_and_grad(log_sigmoid_fn), -800.0)
    assert (value, grad) == (-800.0, 1.0)

    def logaddexp_fn(a, b):
        return np.log(np.exp(a) + np.exp(b))

    value, (ga, gb) = call_strictly(sd.value_and_grad(logaddexp_fn, argnums=(0, 1)),
                                    1000.0, 1000.0)
    np.testing.assert_allclose([value, ga, gb], [1000.0 + np.log(2.0), 0.5, 0.5], rtol=1e-15)

    def softmax_fn(x):
        return np.sum(np.exp(x) / np.sum(np.exp(x), axis=1, keepdims=True) * np.eye(2))

    value, grad = call_strictly(sd.value_and_grad(softmax_fn),
                                np.array([[1000.0, 0.0], [-1000.0, -1000.0]]))
    np.testing.assert_allclose(value, 1.5, rtol=1e-15)
    np.testing.assert_allclose(grad, [[0.0, 0.0], [-0.25, 0.25]], atol=1e-300)
