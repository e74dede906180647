"""NumPy-style functions, written as a user would, for the function front end.

Each entry of ``CASES`` is ``(function, argument shapes, argnums)``. The tests
read every function from its source (``sd.grad``), run it on NumPy arrays (the
finite-difference oracle), and run it on symdiff variables (the
``__array_ufunc__`` route), so everything here must work all three ways: only
NumPy calls, operators, indexing, module constants and plain Python control
flow over values known in advance.
"""
import math

import numpy as np
from numpy import exp as np_exp

N_TERMS = 4
COEFFS = (0.5, -1.0, 2.0, 0.25)
A_CONST = np.array([[2.0, 0.5, 0.0], [0.5, 1.0, -0.3], [0.0, -0.3, 3.0]])
SCALE = 0.1


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def logsumexp(z):
    m = np.max(z)
    return m + np.log(np.sum(np.exp(z - m)))


def softmax_rows(s):
    e = np.exp(s - np.max(s, axis=1, keepdims=True))
    return e / np.sum(e, axis=1, keepdims=True)


def mlp_tanh(W1, b1, W2, b2, x):
    h = np.tanh(W1 @ x + b1)
    y = W2 @ h + b2
    return np.sum(y ** 2)


def mlp_relu(W1, b1, W2, x, t):
    """A ReLU layer and a squared error."""
    h = np.maximum(W1 @ x + b1, 0.0)
    err = W2 @ h - t
    return 0.5 * np.sum(err * err)


def mlp_sigmoid(W1, b1, W2, b2, x, t):
    h = sigmoid(W1 @ x + b1)
    o = sigmoid(W2 @ h + b2)
    return np.sum(0.5 * (t - o) ** 2)


def softmax_cross_entropy(W, x, y):
    logits = W @ x
    return -np.sum(y * (logits - logsumexp(logits)))


def gaussian_nll(mu, log_sigma, x):
    n = x.shape[0]
    z = (x - mu) / np.exp(log_sigma)
    return 0.5 * np.sum(z ** 2) + n * log_sigma + 0.5 * n * np.log(2 * np.pi)


def quadratic_form(x, A):
    return x @ A @ x


def l2_norm(x):
    return np.sqrt(np.sum(x ** 2))


def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def broadcast_affine(W, b, X):
    Y = X @ W + b[None, :]
    return np.mean(Y ** 2)


def axis_reductions(X):
    col = np.mean(X, axis=0)
    row = np.max(X, axis=1)
    return np.sum(col ** 2) + np.sum(row) - np.prod(X[0])


def slicing(x):
    return np.sum(x[::2] * x[1::2]) + x[0] * x[-1] + np.sum(x[1:4] ** 3)


def where_and_clip(x):
    y = np.where(x > 0, x ** 2, -0.5 * x)
    return np.sum(y) + np.sum(np.abs(np.clip(x, -0.5, 0.5)) * x)


def matrix_chain(A, B, C):
    return np.sum((A @ B @ C).T @ A)


def loop_sines(x):
    acc = 0.0
    for i in range(N_TERMS):
        acc = acc + np.sin(x * (i + 1)) / (i + 1)
    return np.sum(acc ** 2)


def horner(x):
    result = 0.0
    for c in COEFFS:
        result = result * x + c
    total = np.sum(result)
    total += SCALE * np.sum(x * x)
    return total


def constant_matrix(x):
    y = A_CONST @ x
    return 0.5 * np.dot(x, y) + np.sum(np.cos(y))


def logistic_regression(w, b, X, y):
    p = sigmoid(X @ w + b)
    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))


def static_branch(x):
    if x.ndim == 1:
        s = np.sum(np.exp(x))
    else:
        s = np.sum(np.exp(x), axis=0)
        s = np.sum(s)
    return np.log(s)


def stable_softplus(x):
    return np.sum(np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0))


def attention(Q, K, V):
    d = Q.shape[1]
    scores = Q @ K.T / math.sqrt(d)
    weights = softmax_rows(scores)
    return np.sum((weights @ V) ** 2)


def norm_penalty(x):
    return np.linalg.norm(x) + 0.5 * np.linalg.norm(x - 1.0) ** 2


def reshape_transpose(x, y):
    m = x.reshape(2, 3).T
    return np.sum((m @ y) ** 2) + np.sum(np.transpose(m) * 2.0)


def join_arrays(x, y):
    z = np.concatenate([x, y ** 2])
    s = np.stack([x, y], axis=0)
    return np.sum(z ** 2) + np.sum(s[1] * s[0])


def unpack_and_augment(p):
    a, b = p[0], p[1]
    r = (1 - a) ** 2
    r += 100.0 * (b - a ** 2) ** 2
    r *= 0.5
    return r


def ridge(w, X, y, lam=0.1):
    residual = X @ w - y
    return np.dot(residual, residual) / len(y) + lam * np.sum(w ** 2)


def trig_mix(x, y):
    """Scalars: Python's math-style calls through NumPy."""
    return np.sin(x) * np.cos(y) + np.arctan(x * y) + np.tanh(x - y) ** 2 + np.exp(-x ** 2)


def control_flow(x):
    """for/else, continue, break, enumerate over a tuple, assert, len."""
    total = 0.0
    for i in range(10):
        if i % 2 == 0:
            continue
        elif i > 7:
            break
        total = total + x[i % 3] * i
    else:
        total = total * 100.0
    assert x.ndim == 1, "a vector"
    for j, w in enumerate((0.5, 0.25)):
        total += w * x[j]
    return total + np.sum(np_exp(x)) / len(x) + math.pi * x[0] ** 2


def nested_helpers(x, y):
    return inner_product(scaled(x), y) + inner_product(x, x)


def scaled(v, factor=2.0):
    return v * factor


def inner_product(a, b):
    return np.sum(a * b)


CASES = {
    "mlp_tanh": (mlp_tanh, [(3, 2), (3,), (2, 3), (2,), (2,)], (0, 1, 2, 3)),
    "mlp_relu": (mlp_relu, [(4, 3), (4,), (2, 4), (3,), (2,)], (0, 1, 2)),
    "mlp_sigmoid": (mlp_sigmoid, [(2, 2), (), (2, 2), (), (2,), (2,)], (0, 1, 2, 3)),
    "softmax_cross_entropy": (softmax_cross_entropy, [(4, 3), (3,), (4,)], (0, 1)),
    "gaussian_nll": (gaussian_nll, [(), (), (5,)], (0, 1)),
    "quadratic_form": (quadratic_form, [(3,), (3, 3)], (0, 1)),
    "l2_norm": (l2_norm, [(4,)], 0),
    "rosenbrock": (rosenbrock, [(5,)], 0),
    "broadcast_affine": (broadcast_affine, [(3, 2), (2,), (4, 3)], (0, 1)),
    "axis_reductions": (axis_reductions, [(3, 4)], 0),
    "slicing": (slicing, [(6,)], 0),
    "where_and_clip": (where_and_clip, [(5,)], 0),
    "matrix_chain": (matrix_chain, [(2, 3), (3, 4), (4, 3)], (0, 1, 2)),
    "loop_sines": (loop_sines, [(3,)], 0),
    "horner": (horner, [(4,)], 0),
    "constant_matrix": (constant_matrix, [(3,)], 0),
    "logistic_regression": (logistic_regression, [(3,), (), (5, 3), (5,)], (0, 1)),
    "static_branch_vector": (static_branch, [(4,)], 0),
    "static_branch_matrix": (static_branch, [(2, 3)], 0),
    "stable_softplus": (stable_softplus, [(5,)], 0),
    "attention": (attention, [(3, 2), (4, 2), (4, 2)], (0, 1, 2)),
    "norm_penalty": (norm_penalty, [(3,)], 0),
    "reshape_transpose": (reshape_transpose, [(6,), (2,)], (0, 1)),
    "join_arrays": (join_arrays, [(3,), (3,)], (0, 1)),
    "unpack_and_augment": (unpack_and_augment, [(2,)], 0),
    "ridge": (ridge, [(3,), (5, 3), (5,)], 0),
    "trig_mix": (trig_mix, [(), ()], (0, 1)),
    "control_flow": (control_flow, [(3,)], 0),
    "nested_helpers": (nested_helpers, [(3,), (3,)], (0, 1)),
}


def sample_args(shapes, seed=0):
    """Random float64 arguments for ``shapes``, away from kinks (|x| >= 0.1)."""
    rng = np.random.default_rng(seed)
    args = []
    for shape in shapes:
        value = rng.uniform(0.1, 0.9, size=shape) * rng.choice([-1.0, 1.0], size=shape)
        args.append(float(value) if shape == () else value)
    return args
