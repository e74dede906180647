"""``python -m symdiff.demo`` (``make demo``): differentiate and compile the 2-2-2
backpropagation worked example, and print the values, the gradients and the code.

The network: two inputs, two sigmoid hidden units, two sigmoid outputs, squared
error. The numbers are those of the classic worked example (E ≈ 0.298371109).
"""
from __future__ import annotations

import numpy as np

import symdiff as sd


def main() -> None:
    x, t = sd.vector("x"), sd.vector("t")
    W1, W2 = sd.matrix("W1"), sd.matrix("W2")
    b1, b2 = sd.scalar("b1"), sd.scalar("b2")
    h = sd.sigmoid(W1 @ x + b1)
    o = sd.sigmoid(W2 @ h + b2)
    E = sd.sum(0.5 * (t - o) ** 2)
    grads = sd.grad(E, [W1, b1, W2, b2])      # new nodes added to the same graph
    f = sd.function([x, t, W1, b1, W2, b2], [E, *grads])

    values = dict(x=np.array([0.05, 0.10]), t=np.array([0.01, 0.99]),
                  W1=np.array([[0.15, 0.20], [0.25, 0.30]]), b1=0.35,
                  W2=np.array([[0.40, 0.45], [0.50, 0.55]]), b2=0.60)
    value, gW1, gb1, gW2, gb2 = f(**values)
    np.set_printoptions(precision=9, suppress=True)
    print("symdiff demo: the 2-2-2 sigmoid network of the backpropagation worked example\n")
    print(f"cost E = {E}\n")
    print(f"E       = {value:.9f}")
    print(f"dE/dW1  =\n{gW1}")
    print(f"dE/db1  = {gb1:.9f}")
    print(f"dE/dW2  =\n{gW2}")
    print(f"dE/db2  = {gb2:.9f}")
    print(f"\nafter one gradient step (rate 0.5): W2 =\n{values['W2'] - 0.5 * gW2}")
    print("\nsymbolic gradient dE/db2 (an expression in the same graph; a part used more")
    print("than once is named once, and sd.parse reads this text back):")
    print(f"  {sd.to_text(sd.simplify(grads[3]), shared=True)}")
    print("\ngenerated NumPy source (f.source):\n")
    print(f.source)


if __name__ == "__main__":
    main()
