"""Newton's method with compiled derivatives: regularized logistic regression.

The loss, its gradient and its Hessian are compiled into one NumPy function; Newton's
iteration w <- w - H⁻¹ g must converge quadratically (gradient norm below 1e-10 in at
most 10 steps) on data generated here. The compiled gradient and Hessian are checked
against the ones written by hand: Xᵀ(σ(Xw) - y)/n + λw and Xᵀ diag(σ(1 - σ)) X / n + λI.
"""
import numpy as np

import symdiff as sd

LAMBDA = 0.1


def problem(n=400, d=6, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    w_true = rng.standard_normal(d)
    y = (rng.random(n) < 1 / (1 + np.exp(-X @ w_true))).astype(float)
    return X, y


def compiled_newton_step(d):
    w = sd.vector("w", d)
    X, y = sd.matrix("X", (None, d)), sd.vector("y")       # any number of examples
    z = X @ w
    loss = sd.mean(sd.softplus(z) - y * z) + 0.5 * LAMBDA * sd.sum(w ** 2)
    return sd.function([w, X, y], [loss, sd.grad(loss, w), sd.hessian(loss, w)])


def test_compiled_derivatives_equal_the_hand_written_ones():
    X, y = problem()
    n, d = X.shape
    f = compiled_newton_step(d)
    w = np.linspace(-1, 1, d)
    _, g, H = f(w, X, y)
    s = 1 / (1 + np.exp(-X @ w))
    np.testing.assert_allclose(g, X.T @ (s - y) / n + LAMBDA * w, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(H, (X.T * (s * (1 - s))) @ X / n + LAMBDA * np.eye(d),
                               rtol=1e-12, atol=1e-14)


def test_newton_converges_in_a_handful_of_steps():
    X, y = problem()
    f = compiled_newton_step(X.shape[1])
    w = np.zeros(X.shape[1])
    norms = []
    for _ in range(10):
        loss, g, H = f(w, X, y)
        norms.append(np.linalg.norm(g))
        if norms[-1] < 1e-10:
            break
        w = w - np.linalg.solve(H, g)
    assert norms[-1] < 1e-10, norms
    assert len(norms) <= 10
    # Quadratic convergence: once close, each step roughly squares the error.
    assert norms[-2] < 1e-4
