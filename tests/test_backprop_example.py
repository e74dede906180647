"""The 2-2-2 sigmoid/MSE worked example of backpropagation lectures.

The oracle is a hand-written backward pass following the textbook MLP equations:
g ← ∇ŷ J;  g ← g ⊙ f'(a);  ∇W = g hᵀ;  ∇b = Σ g;  g ← Wᵀ g. The published numbers
(E ≈ 0.298371109, ∂E/∂W2[0,0] ≈ 0.082167041, ∂E/∂W1[0,0] ≈ 0.000438568) are
checked too.
"""
import numpy as np
import pytest

import symdiff as sd

VALUES = dict(x=np.array([0.05, 0.10]), t=np.array([0.01, 0.99]),
              W1=np.array([[0.15, 0.20], [0.25, 0.30]]), b1=0.35,
              W2=np.array([[0.40, 0.45], [0.50, 0.55]]), b2=0.60)


def model():
    x, t = sd.vector("x"), sd.vector("t")
    W1, W2 = sd.matrix("W1"), sd.matrix("W2")
    b1, b2 = sd.scalar("b1"), sd.scalar("b2")
    h = sd.sigmoid(W1 @ x + b1)
    o = sd.sigmoid(W2 @ h + b2)
    E = sd.sum(0.5 * (t - o) ** 2)
    return (x, t, W1, b1, W2, b2), E


def by_hand(x, t, W1, b1, W2, b2):
    sig = lambda a: 1.0 / (1.0 + np.exp(-a))
    a1 = W1 @ x + b1
    h = sig(a1)
    a2 = W2 @ h + b2
    o = sig(a2)
    E = np.sum(0.5 * (t - o) ** 2)
    g = o - t                      # g <- grad_yhat J
    g = g * o * (1 - o)            # g <- g ⊙ f'(a2)
    gW2, gb2 = np.outer(g, h), g.sum()
    g = W2.T @ g                   # g <- W2ᵀ g
    g = g * h * (1 - h)            # g <- g ⊙ f'(a1)
    gW1, gb1 = np.outer(g, x), g.sum()
    return E, gW1, gb1, gW2, gb2


@pytest.mark.parametrize("optimize", [True, False])
def test_worked_example_matches_hand_backprop(optimize):
    inputs, E = model()
    x, t, W1, b1, W2, b2 = inputs
    grads = sd.grad(E, [W1, b1, W2, b2])
    f = sd.function(list(inputs), [E, *grads], optimize=optimize)
    got = f(**VALUES)
    want = by_hand(**VALUES)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-15)


def test_published_numbers():
    inputs, E = model()
    _, _, W1, _, W2, _ = inputs
    f = sd.function(list(inputs), [E, *sd.grad(E, [W1, W2])])
    value, gW1, gW2 = f(**VALUES)
    assert value == pytest.approx(0.298371109, abs=1e-9)
    assert gW2[0, 0] == pytest.approx(0.082167041, abs=1e-9)
    assert gW1[0, 0] == pytest.approx(0.000438568, abs=1e-9)
    # One step of gradient descent with learning rate 0.5, as in the example.
    assert (VALUES["W2"] - 0.5 * gW2)[0, 0] == pytest.approx(0.35891648, abs=1e-8)


def test_gradient_is_a_graph_in_the_same_graph():
    inputs, E = model()
    _, _, W1, _, _, _ = inputs
    gW1 = sd.grad(E, W1)
    # The derivative is an expression over the same variables, and can be differentiated.
    assert set(gW1.vars) <= {"x", "t", "W1", "b1", "W2", "b2"}
    assert gW1.shape == W1.shape
    second = sd.grad(sd.sum(gW1), W1)
    assert second.shape == W1.shape
