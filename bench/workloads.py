"""The benchmark workloads.

Each workload is one record: its inputs (made from a fixed seed), the names of
the inputs it differentiates, the model written once against a math namespace
`m`, the hand-written NumPy reference, and its targets.

The model is written once and run by every contender through its own
namespace (`m` is the `symdiff` module itself, `jax.numpy` with `jax.nn`
helpers, `autograd.numpy`, `pytensor.tensor` or `torch` behind a small
adapter), so all contenders compute the same mathematics. `m` must provide
`sigmoid exp sin sum mean logsumexp solve logdet`, with `axis=` keywords as in
NumPy (`logdet` is log|det|).

The hand-written references are what an expert writes in NumPy: forward pass
kept and reused in the backward pass (`s * (1 - s)` from the stored sigmoid),
`X.T @ g` and `g.sum(0)` for the linear layers, `np.dot` for vector
reductions, max-subtracted logsumexp. They do not manage buffers with `out=`.
They return the value first and then the gradients in the order of `wrt`;
the Hessian workload returns the Hessian alone.
"""

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

SEED = 20240601


@dataclass(frozen=True)
class Workload:
    name: str
    summary: str
    make_inputs: Callable[[], dict]  # name -> ndarray or float, in call order
    wrt: tuple
    model: Callable  # model(m, **inputs) -> scalar cost, in namespace m
    hand: Callable  # hand(*inputs) -> tuple of outputs
    kind: str = "value_and_grad"  # or "hessian"
    target: float | None = None  # symdiff time / hand time
    first_call_target_ms: float | None = None
    static_shapes: bool = False  # symdiff variables declare their lengths
    symmetric: tuple = ()  # inputs symdiff declares symmetric (the hand code assumes it)
    reference_label: str = "hand-written NumPy"
    known: dict = field(default_factory=dict)  # output index -> published value
    rtol: float = 1e-7
    atol: float = 1e-10


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


# ----------------------------------------------------------------------------
# Mazur's 2-2-2 network (https://mattmazur.com/2015/03/17/a-step-by-step-
# backpropagation-example/): published E_total = 0.298371109.


def mazur_inputs():
    return {
        "x": np.array([0.05, 0.10]),
        "t": np.array([0.01, 0.99]),
        "W1": np.array([[0.15, 0.20], [0.25, 0.30]]),
        "b1": 0.35,
        "W2": np.array([[0.40, 0.45], [0.50, 0.55]]),
        "b2": 0.60,
    }


def mazur_model(m, x, t, W1, b1, W2, b2):
    h = m.sigmoid(W1 @ x + b1)
    o = m.sigmoid(W2 @ h + b2)
    return m.sum(0.5 * (t - o) ** 2)


def mazur_hand(x, t, W1, b1, W2, b2):
    h = _sigmoid(np.dot(W1, x) + b1)
    o = _sigmoid(np.dot(W2, h) + b2)
    d = o - t
    E = 0.5 * np.dot(d, d)
    g_o = d * o * (1.0 - o)
    g_h = np.dot(W2.T, g_o) * h * (1.0 - h)
    return E, np.outer(g_h, x), g_h.sum(), np.outer(g_o, h), g_o.sum()


# ----------------------------------------------------------------------------
# Two-layer sigmoid MLP with MSE loss and L2 penalty.

L2 = 1e-4


def mlp_inputs(batch, n_in, n_hidden, n_out, seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_out, size=batch)
    return {
        "X": rng.standard_normal((batch, n_in)),
        "Y": np.eye(n_out)[labels],
        "W1": rng.standard_normal((n_in, n_hidden)) / math.sqrt(n_in),
        "b1": 0.1 * rng.standard_normal(n_hidden),
        "W2": rng.standard_normal((n_hidden, n_out)) / math.sqrt(n_hidden),
        "b2": 0.1 * rng.standard_normal(n_out),
    }


def mlp_model(m, X, Y, W1, b1, W2, b2):
    h = m.sigmoid(X @ W1 + b1)
    yhat = m.sigmoid(h @ W2 + b2)
    return m.mean((yhat - Y) ** 2) + L2 * (m.sum(W1**2) + m.sum(W2**2))


def mlp_hand(X, Y, W1, b1, W2, b2):
    h = _sigmoid(X @ W1 + b1)
    yhat = _sigmoid(h @ W2 + b2)
    d = (yhat - Y).ravel()
    w1, w2 = W1.ravel(), W2.ravel()
    loss = np.dot(d, d) / d.size + L2 * (np.dot(w1, w1) + np.dot(w2, w2))
    g_out = (2.0 / d.size) * d.reshape(yhat.shape) * yhat * (1.0 - yhat)
    g_hid = (g_out @ W2.T) * h * (1.0 - h)
    g_W2 = h.T @ g_out + (2.0 * L2) * W2
    g_W1 = X.T @ g_hid + (2.0 * L2) * W1
    return loss, g_W1, g_hid.sum(0), g_W2, g_out.sum(0)


# ----------------------------------------------------------------------------
# Softmax cross-entropy (multinomial logistic regression).


def softmax_inputs(n=4096, d=100, k=10, seed=SEED):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, k, size=n)
    return {
        "X": rng.standard_normal((n, d)),
        "Y": np.eye(k)[labels],
        "W": 0.1 * rng.standard_normal((d, k)),
        "b": 0.1 * rng.standard_normal(k),
    }


def softmax_model(m, X, Y, W, b):
    z = X @ W + b
    return m.mean(m.logsumexp(z, axis=1) - m.sum(Y * z, axis=1))


def softmax_hand(X, Y, W, b):
    n = X.shape[0]
    z = X @ W + b
    z_max = z.max(axis=1, keepdims=True)
    e = np.exp(z - z_max)
    s = e.sum(axis=1, keepdims=True)
    lse = np.log(s) + z_max
    loss = (lse.sum() - np.vdot(Y, z)) / n
    g = (e / s - Y) / n
    return loss, X.T @ g, g.sum(0)


# ----------------------------------------------------------------------------
# Rosenbrock, gradient and Hessian.


def rosenbrock_inputs(n, seed=SEED):
    rng = np.random.default_rng(seed)
    return {"x": rng.uniform(-1.5, 1.5, size=n)}


def rosenbrock_model(m, x):
    return m.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def rosenbrock_hand(x):
    a, b = x[:-1], x[1:]
    d = b - a * a
    one_minus_a = 1.0 - a
    value = 100.0 * np.dot(d, d) + np.dot(one_minus_a, one_minus_a)
    g = np.zeros_like(x)
    g[:-1] = -400.0 * a * d - 2.0 * one_minus_a
    g[1:] += 200.0 * d
    return value, g


def rosenbrock_hessian_hand(x):
    """The tridiagonal Hessian, written out (as scipy.optimize.rosen_hess)."""
    n = x.size
    H = np.zeros((n, n))
    off = -400.0 * x[:-1]
    diag = np.zeros(n)
    diag[:-1] = 1200.0 * x[:-1] ** 2 - 400.0 * x[1:] + 2.0
    diag[1:] += 200.0
    idx = np.arange(n)
    H[idx, idx] = diag
    H[idx[:-1], idx[1:]] = off
    H[idx[1:], idx[:-1]] = off
    return (H,)


# ----------------------------------------------------------------------------
# A deep scalar chain: per-call overhead only. The reference is forward-mode
# dual numbers on Python floats, value and derivative carried together.

DEEP_X = 0.3


def deep_model(depth):
    def model(m, x):
        y = x
        for _ in range(depth):
            y = m.sin(y) * m.exp(0.1 * y) + 0.01 * y**2
        return y

    return model


def deep_hand(depth):
    sin, cos, exp = math.sin, math.cos, math.exp

    def dual_loop(x):
        y, dy = x, 1.0
        for _ in range(depth):
            s, e = sin(y), exp(0.1 * y)
            y, dy = s * e + 0.01 * y * y, (cos(y) * e + 0.1 * s * e + 0.02 * y) * dy
        return y, dy

    return dual_loop


def _deep(depth, target=None, first_call_target_ms=None):
    return Workload(
        name=f"deep_scalar_{depth}",
        summary=f"y <- sin(y)*exp(0.1*y) + 0.01*y**2, {depth} times, dy/dx at x=0.3",
        make_inputs=lambda: {"x": DEEP_X},
        wrt=("x",),
        model=deep_model(depth),
        hand=deep_hand(depth),
        target=target,
        first_call_target_ms=first_call_target_ms,
        reference_label="dual-number loop on Python floats",
    )


# ----------------------------------------------------------------------------
# Gaussian negative log-likelihood of N samples (rows of X) in n=64 dimensions,
# gradients w.r.t. the mean and the covariance (Matrix Cookbook, 2012, eqs. 43, 61):
#   d/dmu = -inv(S) sum_i (x_i - mu),  d/dS = (N inv(S) - inv(S) D.T D inv(S)) / 2.


def gauss_inputs(N=512, n=64, seed=SEED):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, n)) / np.sqrt(n)
    return {
        "X": rng.standard_normal((N, n)) @ A.T + 0.3,
        "mu": 0.1 * rng.standard_normal(n),
        "S": A @ A.T + 0.5 * np.eye(n),
    }


def gauss_model(m, X, mu, S):
    D = X - mu
    Z = m.solve(S, D.T)
    N, n = X.shape
    return 0.5 * (N * m.logdet(S) + m.sum(D.T * Z) + N * n * math.log(2 * math.pi))


def gauss_hand(X, mu, S):
    N, n = X.shape
    D = X - mu
    Si = np.linalg.inv(S)
    Z = Si @ D.T
    logdet = np.linalg.slogdet(S)[1]
    value = 0.5 * (N * logdet + np.vdot(D.T, Z) + N * n * math.log(2 * math.pi))
    # S is symmetric: inv(S).T = inv(S)
    return value, -Z.sum(axis=1), 0.5 * (N * Si - Z @ Z.T)


WORKLOADS = [
    Workload(
        name="mazur",
        summary="2-2-2 sigmoid network, MSE (Mazur's example), grads W1 b1 W2 b2",
        make_inputs=mazur_inputs,
        wrt=("W1", "b1", "W2", "b2"),
        model=mazur_model,
        hand=mazur_hand,
        target=1.0,
        first_call_target_ms=100.0,
        known={0: 0.298371109, 3: np.array([[0.082167041, 0.082667628],
                                              [-0.022602540, -0.022740242]])},
    ),
    Workload(
        name="mlp_small",
        summary="batch 32, 64-32-10 sigmoid MLP, MSE + L2, grads W1 b1 W2 b2",
        make_inputs=lambda: mlp_inputs(32, 64, 32, 10, SEED),
        wrt=("W1", "b1", "W2", "b2"),
        model=mlp_model,
        hand=mlp_hand,
        target=1.0,
        first_call_target_ms=100.0,
    ),
    Workload(
        name="mlp_mnist",
        summary="batch 256, 784-256-10 sigmoid MLP, MSE + L2, grads W1 b1 W2 b2",
        make_inputs=lambda: mlp_inputs(256, 784, 256, 10, SEED + 1),
        wrt=("W1", "b1", "W2", "b2"),
        model=mlp_model,
        hand=mlp_hand,
        target=0.8,
        first_call_target_ms=100.0,
    ),
    Workload(
        name="softmax_xent",
        summary="n=4096 d=100 k=10, mean(logsumexp(XW+b) - sum(Y*(XW+b))), grads W b",
        make_inputs=softmax_inputs,
        wrt=("W", "b"),
        model=softmax_model,
        hand=softmax_hand,
        target=0.9,
    ),
    Workload(
        name="rosenbrock_grad",
        summary="Rosenbrock n=1000, value and gradient",
        make_inputs=lambda: rosenbrock_inputs(1000),
        wrt=("x",),
        model=rosenbrock_model,
        hand=rosenbrock_hand,
        target=1.0,
    ),
    Workload(
        name="rosenbrock_hess",
        summary="Rosenbrock n=100, full Hessian (hand: analytic tridiagonal)",
        make_inputs=lambda: rosenbrock_inputs(100),
        wrt=("x",),
        model=rosenbrock_model,
        hand=rosenbrock_hessian_hand,
        kind="hessian",
        static_shapes=True,  # x declares its length, so sd.hessian's identity is a constant
        target=2.0,
        reference_label="analytic tridiagonal Hessian",
    ),
    Workload(
        name="gauss_nll",
        summary="Gaussian NLL, N=512 samples, n=64 covariance, grads mean and covariance",
        make_inputs=gauss_inputs,
        wrt=("mu", "S"),
        model=gauss_model,
        hand=gauss_hand,
        static_shapes=True,
        symmetric=("S",),
        target=1.0,
        rtol=1e-6,
        atol=1e-8,
    ),
    _deep(10),
    _deep(40),
    _deep(160, target=1.5, first_call_target_ms=500.0),
]

BY_NAME = {w.name: w for w in WORKLOADS}
