"""Training with the compiled gradient: an MLP with L2 weight decay learns XOR."""
import numpy as np

import symdiff as sd


def test_xor_with_weight_decay():
    X = sd.matrix("X", shape=(4, 2))
    Y = sd.vector("Y", shape=(4,))
    W1, b1 = sd.matrix("W1", shape=(2, 8)), sd.vector("b1", shape=(8,))
    w2, b2 = sd.vector("w2", shape=(8,)), sd.scalar("b2")
    lam = 1e-4
    h = sd.tanh(X @ W1 + b1)
    p = sd.sigmoid(h @ w2 + b2)
    data_loss = sd.mean((p - Y) ** 2)
    cost = data_loss + lam * (sd.sum(W1 ** 2) + sd.sum(w2 ** 2))  # J + λΩ(θ)
    params = [W1, b1, w2, b2]
    step = sd.function([X, Y, *params], [data_loss, *sd.grad(cost, params)])

    rng = np.random.default_rng(0)
    xs = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    ys = np.array([0, 1, 1, 0], dtype=float)
    theta = [rng.normal(0, 1, (2, 8)), np.zeros(8), rng.normal(0, 1, 8), 0.0]
    first = None
    for _ in range(3000):
        loss, *grads = step(xs, ys, *theta)
        first = loss if first is None else first
        theta = [p - 2.0 * g for p, g in zip(theta, grads)]
    assert loss < 0.01 < first
    predict = sd.function([X, *params], p)
    assert np.array_equal(predict(xs, *theta) > 0.5, ys > 0.5)
