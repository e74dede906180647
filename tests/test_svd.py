"""Norms by singular values (``ord=2, -2, 'nuc'``) and the SVD ops behind them.

The ops' own rules (``svdvals``, ``svd_u``, ``svd_vh``: first and second derivatives,
forward mode, batching, static and unknown lengths) are checked with every other op by
the generic op checker (tests/test_ops.py, test_jvp.py, test_batching.py). Here: the
norms against ``np.linalg.norm`` and central finite differences (second derivatives
included), their gradients against the textbook forms computed from NumPy's SVD,
invariance under the sign choice of the singular vectors, repeated singular values,
and the spellings users write.
"""
import warnings

import numpy as np
import pytest

import symdiff as sd
from symdiff import cli
from symdiff.ops import OPS
from symdiff.testing import check_grads, sample_input

ORDS = [2, -2, "nuc"]


def separated(shape, seed=0):
    """Matrices with singular values k, ..., 1 (well apart), random singular vectors."""
    return sample_input("separated", shape, np.random.default_rng(seed))


def rotated(values, seed=0):
    """A square matrix with the given singular values and random singular vectors."""
    rng = np.random.default_rng(seed)
    n = len(values)
    q1 = np.linalg.qr(rng.normal(size=(n, n)))[0]
    q2 = np.linalg.qr(rng.normal(size=(n, n)))[0]
    return q1 @ np.diag(values) @ q2.T


@pytest.mark.parametrize("static", [True, False], ids=["static", "unknown"])
@pytest.mark.parametrize("shape", [(3, 3), (4, 2), (2, 4)])
@pytest.mark.parametrize("ord", ORDS)
def test_norms_match_numpy_and_finite_differences_to_second_order(ord, shape, static):
    x = separated(shape, seed=len(str(ord)))
    A = sd.matrix("A", shape=shape if static else (None, None))
    e = sd.norm(A, ord=ord)
    np.testing.assert_allclose(sd.function([A], e)(x), np.linalg.norm(x, ord), rtol=1e-13)
    # the second derivative: finite differences of the first derivative (order=2)
    check_grads(e, {"A": x}, order=2, modes=("rev", "fwd"))


@pytest.mark.parametrize("axis,keepdims", [((1, 2), False), ((2, 1), True), ((0, 2), True),
                                           ((-1, 0), False)])
@pytest.mark.parametrize("ord", ORDS)
def test_norms_over_axes_of_a_stack_follow_numpy(ord, axis, keepdims):
    x = separated((2, 3, 4), seed=3)
    T = sd.tensor("T", shape=(2, None, 4))
    e = sd.norm(T, ord=ord, axis=axis, keepdims=keepdims)
    want = np.linalg.norm(x, ord, axis=axis, keepdims=keepdims)
    got = sd.function([T], e)(x)
    assert np.shape(got) == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-13)
    weights = np.arange(1.0, 1.0 + want.size).reshape(want.shape)
    check_grads(sd.sum(e * weights), {"T": x})


def test_gradients_are_the_textbook_forms():
    """d||A||_* = U Vh, d||A||_2 = u_1 v_1^T, d||A||_-2 = u_k v_k^T (distinct singular
    values), from NumPy's SVD; they print as these formulas."""
    x = separated((4, 3), seed=5)
    u, _, vh = np.linalg.svd(x, full_matrices=False)
    A = sd.matrix("A", shape=(4, 3))
    for ord, want in [("nuc", u @ vh), (2, np.outer(u[:, 0], vh[0])),
                      (-2, np.outer(u[:, -1], vh[-1]))]:
        g = sd.grad(sd.norm(A, ord=ord), A)
        np.testing.assert_allclose(sd.function([A], g)(x), want, rtol=1e-12, atol=1e-14)
    assert str(sd.simplify(sd.grad(sd.norm(A, "nuc"), A))) == "svd_u(A) @ svd_vh(A)"
    assert (str(sd.simplify(sd.grad(sd.norm(A, 2), A)))
            == "outer(svd_u(A)[:, 0], svd_vh(A)[0, :])")
    assert cli.run("norm(X, 'nuc')", wrt="X", var=["X=3x2"]) == "svd_u(X) @ svd_vh(X)"


def test_derivatives_do_not_depend_on_the_signs_of_the_singular_vectors(patch_op):
    """Negate some columns of U and the same rows of Vh (as another LAPACK could): the
    gradients and Hessian-vector products of the norms and of sum(svdvals**3) are the
    same. The interpreter runs the ops' implementations, patched here."""
    x = separated((4, 3), seed=7)
    A, V = sd.matrix("A", shape=(4, 3)), sd.matrix("V", shape=(4, 3))
    env = {"A": x, "V": np.random.default_rng(8).normal(size=(4, 3))}
    outputs = []
    for cost in [sd.norm(A, 2), sd.norm(A, -2), sd.norm(A, "nuc"), sd.sum(sd.svdvals(A) ** 3)]:
        g = sd.grad(cost, A)
        outputs += [g, sd.grad(sd.sum(g * V), A)]
    before = sd.evaluate(outputs, env)
    flip = np.array([-1.0, 1.0, -1.0])
    u_impl, vh_impl = OPS["svd_u"].impl, OPS["svd_vh"].impl
    patch_op(OPS["svd_u"], "impl", lambda a: u_impl(a) * flip)
    patch_op(OPS["svd_vh"], "impl", lambda a: vh_impl(a) * flip[:, None])
    assert not np.allclose(sd.evaluate(sd.svd_u(A), env), np.linalg.svd(x)[0][:, :3])
    after = sd.evaluate(outputs, env)
    for b, a in zip(before, after):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("x", [rotated([2.0, 2.0, 1.0]), np.diag([3.0, 1.0, 3.0])],
                         ids=["rotated", "diagonal"])
def test_repeated_singular_values(x):
    """The nuclear norm is smooth there: its gradient U Vh matches finite differences.
    The spectral norm is not: its gradient is one of its subgradients G (<G, A> = ||A||_2,
    ||G||_* = 1). Second derivatives go through the derivatives of U and Vh, which do
    not exist there: nan, not a number made of rounding errors."""
    A, V = sd.matrix("A", shape=(3, 3)), sd.matrix("V", shape=(3, 3))
    check_grads(sd.norm(A, "nuc"), {"A": x})
    g2 = sd.grad(sd.norm(A, 2), A)
    G = sd.function([A], g2)(x)
    assert np.sum(G * x) == pytest.approx(np.linalg.norm(x, 2), rel=1e-12)
    assert np.linalg.norm(G, "nuc") == pytest.approx(1.0, rel=1e-12)
    v = np.random.default_rng(2).normal(size=(3, 3))
    for cost in [sd.norm(A, "nuc"), sd.norm(A, 2)]:
        hv = sd.grad(sd.sum(sd.grad(cost, A) * V), A)
        with warnings.catch_warnings():
            warnings.simplefilter("error")          # nan by design, without a warning
            assert np.all(np.isnan(sd.function([A, V], hv)(x, v)))
    # apart by more than rounding: finite, and right
    check_grads(sd.norm(A, 2), {"A": rotated([2.0, 1.999, 1.0])}, order=2)


def test_svd_spellings_in_functions_and_text():
    x = separated((4, 3), seed=11)

    def f(A):
        U, s, Vh = np.linalg.svd(A, full_matrices=False)
        return (np.sum(s ** 2) + np.linalg.norm(A, 2) + np.linalg.norm(A, ord="nuc")
                + np.sum(np.linalg.svdvals(A)) + np.sum((U * s) @ Vh * A)
                + np.sum(np.linalg.svd(A, compute_uv=False)))
    A = sd.matrix("A", shape=(4, 3))
    np.testing.assert_allclose(sd.evaluate(f(A), {"A": x}), f(x), rtol=1e-12)
    check_grads(f, [x])
    text = "norm(A, 'nuc') + norm(A, ord=-2) + svdvals(A)[0] + sum(svd_u(A) @ svd_vh(A))"
    e = sd.parse(text, A=(4, 3))
    u, s, vh = np.linalg.svd(x, full_matrices=False)
    want = s.sum() + s[-1] + s[0] + np.sum(u @ vh)
    np.testing.assert_allclose(sd.evaluate(e, {"A": x}), want, rtol=1e-12)
    # the printed gradient reads back to the same values
    g = sd.simplify(sd.grad(e, e.vars["A"]))
    back = sd.parse(str(g), A=(4, 3))
    np.testing.assert_allclose(sd.evaluate(back, {"A": x}), sd.evaluate(g, {"A": x}),
                               rtol=1e-12, atol=1e-14)
    latex = sd.to_latex(g)
    assert r"\operatorname{svd}_{U}" in latex and "array(" not in latex


def test_svd_refuses_what_has_no_derivative():
    sq, rect = sd.matrix("S", shape=(3, 3)), sd.matrix("R", shape=(4, 3))
    u, s, vh = sd.svd(sq)                       # square: full and reduced are one
    x = separated((3, 3), seed=1)
    np.testing.assert_allclose(sd.evaluate((u * s) @ vh, {"S": x}), x, rtol=1e-12,
                               atol=1e-14)
    with pytest.raises(sd.ShapeError, match="full_matrices=False"):
        sd.svd(rect)
    with pytest.raises(sd.ShapeError, match="full_matrices=False"):
        sd.svd(sd.matrix("M"))                  # unknown: could be rectangular
    with pytest.raises(sd.DiffError, match="hermitian"):
        sd.svd(sq, hermitian=True)
    with pytest.raises(sd.ShapeError, match="svdvals: needs a matrix"):
        sd.svdvals(sd.vector("v", shape=(3,)))
    assert sd.svd(rect, compute_uv=False).shape == (3,)
    assert [t.shape for t in sd.svd(rect, full_matrices=False)] == [(4, 3), (3,), (3, 3)]


def test_float32_stays_float32_and_its_ties_are_found():
    A = sd.matrix("A", shape=(3, 3), dtype="float32")
    x = separated((3, 3), seed=4).astype(np.float32)
    u, _, vh = np.linalg.svd(x)
    f = sd.function([A], [sd.norm(A, "nuc"), sd.grad(sd.norm(A, 2), A)])
    value, g = f(x)
    assert value.dtype == np.float32 and g.dtype == np.float32
    np.testing.assert_allclose(g, np.outer(u[:, 0], vh[0]), rtol=1e-5, atol=1e-6)
    # singular values 2, 2, 1 in float32: with these vectors LAPACK gives values one
    # float32 rounding apart (about 1e-7), which must count as a tie
    tied = rotated([2.0, 2.0, 1.0], seed=1).astype(np.float32)
    hv = sd.grad(sd.sum(sd.grad(sd.norm(A, "nuc"), A) * x), A)
    assert np.all(np.isnan(sd.function([A], hv)(tied)))


@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 4)])
def test_compiled_code_decomposes_each_matrix_once(shape):
    """The values, U and Vh a gradient needs come from one LAPACK call where the shape
    is known (codegen/shared_svd.py), on every backend; the same numbers as apart."""
    xs = pytest.importorskip("array_api_strict")
    x = separated(shape, seed=9)
    T = sd.tensor("T", shape=shape)
    cost = sd.sum(sd.norm(T, 2, axis=(-2, -1)) + sd.norm(T, "nuc", axis=(-2, -1)))
    outputs = [cost, sd.grad(cost, T)]
    f = sd.function([T], outputs)
    assert f.source.count("_svd_packed(") == 1 and "np.linalg.svd" not in f.source
    want = sd.evaluate(outputs, {"T": x})          # the interpreter: three calls
    for got in [f(x), sd.function([T], outputs, backend="numba")(x),
                [np.asarray(v) for v in f(xs.asarray(x))]]:
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-14)
    unknown = sd.tensor("T", shape=(None,) * len(shape))
    cost = sd.sum(sd.norm(unknown, "nuc", axis=(-2, -1)))
    g = sd.function([unknown], sd.grad(cost, unknown))
    assert "_svd_packed" not in g.source          # the slices need the lengths
    np.testing.assert_allclose(g(x), want[1] - sd.evaluate(
        sd.grad(sd.sum(sd.norm(T, 2, axis=(-2, -1))), T), {"T": x}), rtol=1e-12, atol=1e-14)


def test_a_standalone_module_carries_the_decomposition():
    source = cli.run("norm(X, 'nuc')", wrt="X", var=["X=4x3"], fmt="python")
    namespace: dict = {}
    exec(compile(source, "<module>", "exec"), namespace)
    x = separated((4, 3), seed=10)
    u, s, vh = np.linalg.svd(x, full_matrices=False)
    value, grad = namespace["value_and_grad"](x)
    assert value == pytest.approx(s.sum(), rel=1e-13)
    np.testing.assert_allclose(grad, u @ vh, rtol=1e-12, atol=1e-14)
