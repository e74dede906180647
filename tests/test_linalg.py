"""Linear algebra: norms against NumPy, the spellings users write, and bad input.

The derivative rules of the linalg ops are checked by the generic op checker
(tests/test_ops.py); the Matrix Cookbook identities by tests/test_cookbook.py.
"""
import numpy as np
import pytest

import symdiff as sd
from symdiff.testing import check_grads

RNG = np.random.default_rng(0)
X = RNG.normal(size=(3, 4))
V = RNG.normal(size=5)


@pytest.mark.parametrize("ord", [None, 2, 1, np.inf, -np.inf, 3, 0.5, 0])
def test_vector_norms_match_numpy(ord):
    x = sd.vector("x", shape=(5,))
    e = sd.norm(x, ord=ord)
    np.testing.assert_allclose(sd.evaluate(e, {"x": V}), np.linalg.norm(V, ord))
    if ord != 0:
        check_grads(e, {"x": V})


@pytest.mark.parametrize("ord", [None, "fro", 1, -1, np.inf, -np.inf])
@pytest.mark.parametrize("axis", [None, (1, 0)])
def test_matrix_norms_match_numpy(ord, axis):
    a = sd.matrix("A", shape=(None, None))
    e = sd.norm(a, ord=ord, axis=axis, keepdims=axis is not None)
    want = np.linalg.norm(X, ord, axis=axis, keepdims=axis is not None)
    np.testing.assert_allclose(sd.evaluate(e, {"A": X}), want)
    check_grads(e, {"A": X})


@pytest.mark.parametrize("ord", [2, -2, "nuc"])
def test_singular_value_norms_are_refused(ord):
    with pytest.raises(NotImplementedError, match="singular values"):
        sd.norm(sd.matrix("A", shape=(3, 3)), ord=ord)


def test_inv_of_a_rectangular_matrix_is_a_shape_error_naming_the_op():
    with pytest.raises(sd.ShapeError, match=r"inv: needs a square matrix.*\(2, 3\)"):
        sd.inv(sd.matrix("A", shape=(2, 3)))
    with pytest.raises(sd.ShapeError, match="solve: the right-hand side has 4 rows"):
        sd.solve(sd.matrix("A", shape=(3, 3)), sd.vector("b", shape=(4,)))
    with pytest.raises(sd.ShapeError, match=r"det: needs a matrix(.|\n)*det\(x\)\n *\^"):
        sd.parse("det(x)", x=(3,))


def test_a_singular_matrix_raises_numpys_linalg_error():
    a = sd.matrix("A", shape=(2, 2))
    f = sd.function([a], [sd.inv(a), sd.grad(sd.logdet(a), a)])
    with pytest.raises(np.linalg.LinAlgError):
        f(np.ones((2, 2)))


def test_numpy_spellings_in_functions_and_text():
    def f(A, b):
        sign, logabs = np.linalg.slogdet(A)
        return (np.linalg.solve(A, b).sum() + np.trace(A) + sign * logabs
                + np.linalg.det(np.linalg.inv(A)) + np.linalg.norm(b) + np.diag(A) @ b
                + np.sum(np.linalg.cholesky(A @ A.T)))
    a = 2.0 * np.eye(3) + RNG.uniform(-0.3, 0.3, (3, 3))
    b = RNG.normal(size=3)
    A, B = sd.matrix("A", shape=(3, 3)), sd.vector("b", shape=(3,))
    np.testing.assert_allclose(sd.evaluate(f(A, B), {"A": a, "b": b}), f(a, b))
    check_grads(f, [a, b], argnums=(0, 1))
    text = sd.parse("np.linalg.inv(A) @ b + solve(A, b) + np.linalg.det(A)", A=(3, 3), b=(3,))
    want = np.linalg.inv(a) @ b + np.linalg.solve(a, b) + np.linalg.det(a)
    np.testing.assert_allclose(sd.evaluate(text, {"A": a, "b": b}), want)


def test_trace_and_diagonal_follow_numpy_axes_and_rectangles():
    t = RNG.normal(size=(2, 3, 4))
    x = sd.tensor("x", shape=(2, 3, 4))
    for e, want in [(sd.trace(x, 0, 1, 2), np.trace(t, 0, 1, 2)),
                    (sd.trace(x, 0, 0, 2), np.trace(t, 0, 0, 2)),
                    (sd.diagonal(x, 0, 2, 1), np.diagonal(t, 0, 2, 1))]:
        np.testing.assert_allclose(sd.evaluate(e, {"x": t}), want)
        check_grads(sd.sum(e * e), {"x": t})
