"""Linear algebra: norms against NumPy, the spellings users write, and bad input.

The derivative rules of the linalg ops are checked by the generic op checker
(tests/test_ops.py); the Matrix Cookbook identities by tests/test_cookbook.py; the
norms by singular values by tests/test_svd.py.
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


EINSUM = [("ij,jk->ik", [(2, 3), (3, 4)]), ("ij,jk", [(2, 3), (3, 4)]), ("ij->", [(2, 3)]),
          ("ij->ji", [(2, 3)]), ("i,i", [(3,), (3,)]), ("i,j->ij", [(2,), (3,)]),
          ("...ij,...jk->...ik", [(4, 2, 3), (3, 2)]), ("bij,bjk->bik", [(2, 2, 3), (2, 3, 2)]),
          ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]), ("ij,ij->i", [(2, 3), (2, 3)]),
          ("...i,...i", [(2, 3), (3,)])]


@pytest.mark.parametrize("spec,shapes", EINSUM, ids=[s for s, _ in EINSUM])
def test_einsum_matches_numpy_and_differentiates(spec, shapes):
    rng = np.random.default_rng(len(spec))
    values = [rng.normal(size=s) for s in shapes]
    names = [f"x{k}" for k in range(len(shapes))]
    variables = [sd.tensor(n, shape=tuple(None for _ in s)) for n, s in zip(names, shapes)]
    e = sd.einsum(spec, *variables)
    env = dict(zip(names, values))
    want = np.einsum(spec, *values)
    np.testing.assert_allclose(sd.function(variables, e)(*values), want, rtol=1e-12)
    check_grads(sd.sum(e * e), env, order=2)
    text = sd.parse(str(e), **{n: s for n, s in zip(names, shapes)})
    np.testing.assert_allclose(sd.evaluate(text, env), want, rtol=1e-12)


@pytest.mark.parametrize("text,where", [
    ('einsum("ij,jk->iq", A, B)', "output letter 'q'"),
    ('einsum("ij,j%->ik", A, B)', "invalid character"),
    ('einsum("ii->", A)', "repeats in one operand"),
    ('einsum("ij,jk,kl->il", A, B)', "3 operand subscripts for 2"),
    ('einsum("ijk,jk->i", A, B)', "3 subscripts for an operand of 2"),
])
def test_bad_einsum_subscripts_are_parse_errors_with_a_caret(text, where):
    with pytest.raises(sd.ParseError, match=where) as info:
        sd.parse(text, A=(3, 3), B=(3, 3))
    assert "^" in str(info.value)


def test_strings_only_where_numpy_needs_them():
    a = sd.parse('norm(A, "fro") + norm(A, ord="fro")', A=(3, 3))
    np.testing.assert_allclose(sd.evaluate(a, {"A": X[:, :3]}), 2 * np.linalg.norm(X[:, :3]))
    for text in ('norm(A, "abc")', 'A + "a"', 'sum(A, "fro")', 'exp("ij")'):
        with pytest.raises(sd.ParseError, match="strings are not allowed"):
            sd.parse(text, A=(3, 3))


def test_einsum_in_a_numpy_function():
    def f(A, B):
        return np.sum(np.einsum("ij,jk->ik", A, B) ** 2)
    a, b = RNG.normal(size=(2, 3)), RNG.normal(size=(3, 4))
    check_grads(f, [a, b], argnums=(0, 1))


def test_indexing_by_integer_arrays_and_masks_scatters_back():
    v = RNG.normal(size=(5, 2))
    idx = np.array([0, 2, 2, -1])
    mask = np.array([True, False, True, False, True])
    full = RNG.random((5, 2)) > 0.5

    def f(x):
        return (np.sum(x[idx] ** 2) + np.sum(np.take(x, idx, axis=1 - 1) * 3.0)
                + np.sum(np.sin(x[mask])) + np.sum(x[full] ** 3))
    x = sd.matrix("x", shape=(5, 2))
    assert float(sd.evaluate(f(x), {"x": v})) == pytest.approx(f(v), rel=1e-13)
    check_grads(f(x), {"x": v}, order=2)
    # the adjoint adds at repeated indices: d/dx sum(x[[2, 2]]) = 2 at 2
    g = sd.evaluate(sd.grad(sd.sum(x[np.array([2, 2])]), x), {"x": v})
    np.testing.assert_array_equal(g, np.array([[0, 0], [0, 0], [2, 2], [0, 0], [0, 0]]))
    text = sd.parse("x[idx] + take(x, idx, axis=0)", x=(5, 2), idx=idx)
    again = sd.parse(str(text), x=(5, 2))
    np.testing.assert_allclose(sd.evaluate(again, {"x": v}), 2 * v[idx])
    with pytest.raises(sd.ShapeError, match="out of range"):
        sd.matrix("y", shape=(5, 2))[np.array([7])]


# -- a computed inverse is reused by the solves (codegen/shared_inverse.py) ----------

def _spd(n, rng):
    a = rng.normal(size=(n, n)) / np.sqrt(n)
    return a @ a.T + 0.5 * np.eye(n)


def test_gaussian_nll_reuses_the_inverse_and_matches_the_textbook_gradients():
    rng = np.random.default_rng(3)
    N, n = 20, 6
    X = sd.matrix("X", shape=(N, n))
    mu, S = sd.vector("mu", shape=(n,)), sd.matrix("S", shape=(n, n))
    D = X - mu
    nll = 0.5 * (N * sd.logdet(S) + sd.sum(D.T * sd.solve(S, D.T)))
    f = sd.function([X, mu, S], [nll, sd.grad(nll, mu), sd.grad(nll, S)])
    assert "np.linalg.solve" not in f.source and f.source.count("np.linalg.inv(") == 1
    x, m, s = rng.normal(size=(N, n)), rng.normal(size=n), _spd(n, rng)
    value, g_mu, g_s = f(X=x, mu=m, S=s)
    # Matrix Cookbook eqs. (57), (61), (88): with Z = inv(S) D.T,
    # d/dmu = -sum of Z's columns, d/dS = (N inv(S) - Z Z.T)/2 for symmetric S.
    d = x - m
    si = np.linalg.inv(s)
    z = si @ d.T
    np.testing.assert_allclose(value, 0.5 * (N * np.linalg.slogdet(s)[1] + np.sum(d.T * z)),
                               rtol=1e-12)
    np.testing.assert_allclose(g_mu, -z.sum(axis=1), rtol=1e-10)
    np.testing.assert_allclose(g_s, 0.5 * (N * si - z @ z.T), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("a_shape, b_shape", [((3, 3), (3,)), ((2, 3, 3), (3,)),
                                              ((2, 3, 3), (2, 3, 4)), ((3, 3), (3, 2))])
def test_solves_next_to_an_inverse_match_the_interpreter(a_shape, b_shape):
    rng = np.random.default_rng(4)
    A, B = sd.tensor("A", shape=a_shape), sd.tensor("B", shape=b_shape)
    # the inverse, a solve with A and (in the gradient) a solve with A.T
    e = sd.sum(sd.logdet(A)) + sd.sum(sd.sin(sd.solve(A, B)))
    outs = [e, sd.grad(e, A), sd.grad(e, B)]
    a = np.stack([_spd(3, rng) + rng.normal(size=(3, 3)) * 0.1
                  for _ in range(int(np.prod(a_shape[:-2])))]).reshape(a_shape)
    env = {"A": a, "B": rng.normal(size=b_shape)}
    f = sd.function([A, B], outs)
    assert "np.linalg.solve" not in f.source
    for got, want in zip(f(**env), sd.evaluate(outs, env)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    check_grads(e, env)


def test_a_solve_without_an_inverse_stays_a_solve():
    A, b = sd.matrix("A", shape=(3, 3)), sd.vector("b", shape=(3,))
    e = sd.sum(sd.solve(A, b) ** 2)
    f = sd.function([A, b], [e, sd.grad(e, A)])
    assert "np.linalg.solve" in f.source and "np.linalg.inv" not in f.source


# einsum's generated code: the direct NumPy call where the subscripts are one, with
# static lengths; np.einsum where a length might broadcast (unknown) or no form fits.
EINSUM_FORMS = [
    ("ij,jk->ik", [(2, 3), (3, 4)], "@"), ("bij,bjk->bik", [(2, 2, 3), (2, 3, 2)], "@"),
    ("bij,bjk->bik", [(1, 2, 3), (4, 3, 2)], "@"), ("i,i->", [(3,), (3,)], "@"),
    ("ij,j->i", [(2, 3), (3,)], "@"), ("j,jk->k", [(3,), (3, 4)], "@"),
    ("ij,kj->ik", [(2, 3), (4, 3)], "(x0 @ x1.T)"),
    ("ji,jk->ik", [(3, 2), (3, 4)], "(x0.T @ x1)"),
    ("ji,kj->ik", [(3, 2), (4, 3)], "(x0.T @ x1.T)"),
    ("i,j->ij", [(2,), (3,)], "[..., None] *"),
    ("ij,k->ijk", [(2, 3), (4,)], "[..., None] *"),
    ("i,jk->ijk", [(2,), (3, 4)], "[..., None, None] *"),
    ("ijk,jkl->il", [(8, 8, 8), (8, 8, 8)], "np.tensordot"),
    ("ijk,jkl->il", [(2, 3, 4), (3, 4, 2)], "np.einsum"),
    ("ij->i", [(2, 3)], "np.einsum"), ("ij->", [(2, 3)], "np.einsum"),
    ("ij,jk->ki", [(2, 3), (3, 4)], "np.einsum"), ("ij,ij->i", [(2, 3), (2, 3)], "np.einsum"),
    ("ij,jk->ik", [(2, 1), (3, 4)], "np.einsum"), ("ij,jk->ik", [(2, 3), (1, 4)], "np.einsum"),
    ("bij,bjk->bik", [(2, 2, 1), (2, 3, 2)], "np.einsum"), ("ij->ji", [(2, 3)], "np.einsum"),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)], "optimize=True"),
]


@pytest.mark.parametrize("spec,shapes,form", EINSUM_FORMS,
                         ids=[f"{s}-{'x'.join(map(str, sh[0]))}" for s, sh, _ in EINSUM_FORMS])
def test_einsum_code_picks_the_direct_form(spec, shapes, form):
    rng = np.random.default_rng(len(spec) + len(shapes[0]))
    values = [rng.normal(size=s) for s in shapes]
    variables = [sd.tensor(f"x{k}", shape=s) for k, s in enumerate(shapes)]
    e = sd.einsum(spec, *variables)
    f = sd.function(variables, e)
    got = f(*values)
    np.testing.assert_allclose(got, np.einsum(spec, *values), rtol=1e-13, atol=1e-15)
    assert np.shape(got) == np.shape(np.einsum(spec, *values))
    line = next(ln for ln in f.source.splitlines() if ln.strip().startswith("t0 ="))
    assert form in f.source, f.source
    if form != "np.einsum" and form != "optimize=True":
        assert "np.einsum" not in line, f.source
    check_grads(sd.sum(e * e), {f"x{k}": v for k, v in enumerate(values)}, order=2)
    # the compiled gradient (its adjoint einsums take the direct forms too) against
    # central differences of np.einsum
    loss = sd.sum(e * e)
    grads = sd.function(variables, [sd.grad(loss, v) for v in variables])(*values)
    for k, v in enumerate(values):
        fd = np.zeros_like(v)
        for idx in np.ndindex(v.shape):
            hi, lo = [w.copy() for w in values], [w.copy() for w in values]
            hi[k][idx] += 1e-6
            lo[k][idx] -= 1e-6
            fd[idx] = (np.sum(np.einsum(spec, *hi) ** 2)
                       - np.sum(np.einsum(spec, *lo) ** 2)) / 2e-6
        np.testing.assert_allclose(grads[k], fd, rtol=1e-6, atol=1e-6 * np.abs(fd).max())


@pytest.mark.parametrize("spec, shapes", [("i,i->", [(3,), (3,)]), ("i,i", [(4,), (4,)]),
                                          ("ij,ij->", [(2, 3), (2, 3)])])
def test_gradient_of_a_scalar_einsum_compiles(spec, shapes):
    # The cotangent of a scalar output is the number 1.0: the adjoint ",i->i" must
    # not index it. d/dx0 sum(x0 * x1) = x1 and the other way round.
    rng = np.random.default_rng(5)
    values = [rng.normal(size=s) for s in shapes]
    variables = [sd.tensor(f"x{k}", shape=s) for k, s in enumerate(shapes)]
    e = sd.einsum(spec, *variables)
    grads = sd.function(variables, [sd.grad(e, v) for v in variables])(*values)
    np.testing.assert_allclose(grads[0], values[1], rtol=1e-14)
    np.testing.assert_allclose(grads[1], values[0], rtol=1e-14)


# -- inputs declared symmetric (sd.matrix("S", symmetric=True)) --------------------------
# The derivative is that of the expression as written, entries independent, at the
# symmetric value (JAX's); compiled code may use S.T == S and refuses other values.

def _not_symmetric_gradient_cost(S, A, B, C, x, y):
    """A cost whose gradient with respect to S is not symmetric, with S.T, inv(S).T and
    solves with S and S.T that compiled code may rewrite."""
    return (sd.sum(A * S.T) + x @ S @ y + sd.logdet(S) + sd.sum(sd.solve(S.T, B) * C)
            + sd.sum(sd.inv(S).T * A) + sd.sum(sd.solve(S, B) * C))


def _symmetric_case(n=4, seed=5):
    rng = np.random.default_rng(seed)
    env = {"S": _spd(n, rng), "A": rng.normal(size=(n, n)), "B": rng.normal(size=(n, 2)),
           "C": rng.normal(size=(n, 2)), "x": rng.normal(size=n), "y": rng.normal(size=n)}
    S = sd.matrix("S", shape=(n, n), symmetric=True)
    A = sd.matrix("A", shape=(n, n))
    B, C = sd.matrix("B", shape=(n, 2)), sd.matrix("C", shape=(n, 2))
    x, y = sd.vector("x", shape=n), sd.vector("y", shape=n)
    return [S, A, B, C, x, y], env


def test_a_symmetric_input_has_the_unconstrained_gradient_at_a_symmetric_point():
    variables, env = _symmetric_case()
    S = variables[0]
    cost = _not_symmetric_gradient_cost(*variables)
    f = sd.function(variables, [cost, sd.grad(cost, S)])
    value, g = f(**env)
    # oracle: central differences moving one entry of S at a time, through the reference
    # interpreter (which computes the expression as written, for any S)
    s, h = env["S"], 1e-6
    fd = np.zeros_like(s)
    for i, j in np.ndindex(*s.shape):
        e = np.zeros_like(s)
        e[i, j] = h
        fd[i, j] = (sd.evaluate(cost, {**env, "S": s + e})
                    - sd.evaluate(cost, {**env, "S": s - e})) / (2 * h)
    assert not np.allclose(fd, fd.T, atol=1e-3)     # a case where the semantics matter
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(value, sd.evaluate(cost, env), rtol=1e-12)
    check_grads(cost, env)


def test_a_symmetric_inputs_gradient_matches_jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    variables, env = _symmetric_case(seed=6)
    cost = _not_symmetric_gradient_cost(*variables)
    g = sd.function(variables, sd.grad(cost, variables[0]))(**env)

    def jax_cost(S, A, B, C, x, y):
        return (jnp.sum(A * S.T) + x @ S @ y + jnp.linalg.slogdet(S)[1]
                + jnp.sum(jnp.linalg.solve(S.T, B) * C) + jnp.sum(jnp.linalg.inv(S).T * A)
                + jnp.sum(jnp.linalg.solve(S, B) * C))
    want = jax.grad(jax_cost)(*(jnp.asarray(env[k]) for k in "SABCxy"))
    np.testing.assert_allclose(g, np.asarray(want), rtol=1e-9, atol=1e-12)


def test_compiled_code_uses_the_symmetry_and_simplify_does_not():
    n = 3
    S, M = sd.matrix("S", shape=(n, n), symmetric=True), sd.matrix("M", shape=(n, n))
    assert S.symmetric and not M.symmetric and S is not sd.matrix("S", shape=(n, n))
    # logdet's gradient inv(S).T is inv(S): no transpose left in the code
    assert ".T" not in sd.function([S], sd.grad(sd.logdet(S), S)).source
    assert ".T" in sd.function([M], sd.grad(sd.logdet(M), M)).source
    # simplify keeps the expression as written: its derivatives are the same
    assert sd.simplify(S.T) is not S
    A = sd.matrix("A", shape=(n, n))
    cost = sd.sum(A * S.T)
    rng = np.random.default_rng(7)
    env = {"S": _spd(n, rng), "A": rng.normal(size=(n, n))}
    for e in (cost, sd.simplify(cost)):
        np.testing.assert_allclose(sd.evaluate(sd.grad(e, S), env), env["A"].T)


def _product_work(outputs) -> int:
    """Multiply-adds of the matrix products in the graph that is compiled."""
    from symdiff.codegen.function import _optimized
    from symdiff.ir import toposort
    return sum(int(np.prod(n.shape)) * n.inputs[0].shape[-1] for n in toposort(_optimized(outputs))
               if n.op.name == "matmul")


def test_the_gaussian_nll_with_a_symmetric_covariance_saves_a_product():
    rng = np.random.default_rng(8)
    N, n = 20, 6
    X = sd.matrix("X", shape=(N, n))
    mu = sd.vector("mu", shape=(n,))
    work, results = [], []
    x, m, s = rng.normal(size=(N, n)), rng.normal(size=n), _spd(n, rng)
    for symmetric in (False, True):
        S = sd.matrix("S", shape=(n, n), symmetric=symmetric)
        D = X - mu
        nll = 0.5 * (N * sd.logdet(S) + sd.sum(D.T * sd.solve(S, D.T)))
        outs = [nll, *sd.grad(nll, [mu, S])]
        f = sd.function([X, mu, S], outs)
        work.append(_product_work(outs))
        results.append(f(x, m, s))
    assert work[1] < work[0]
    # one N x n x n product: the Gram matrix D.T @ D (codegen/gram.py), and n x n ones
    assert work[1] <= N * n * n + 3 * n ** 3
    # Matrix Cookbook eqs. (57), (61), (88), as in the test above
    si = np.linalg.inv(s)
    z = si @ (x - m).T
    for got, want in zip(results[1], [results[0][0], -z.sum(axis=1), 0.5 * (N * si - z @ z.T)]):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_a_value_that_is_not_symmetric_is_refused():
    rng = np.random.default_rng(9)
    S = sd.matrix("S", shape=(None, None), symmetric=True)
    f = sd.function([S], sd.grad(sd.logdet(S), S))
    s = _spd(5, rng)
    bad = s.copy()
    bad[0, 1] += 1e-6
    with pytest.raises(sd.ShapeError, match="'S' is declared symmetric, but it is not"):
        f(bad)
    with pytest.raises(sd.ShapeError, match="square"):
        f(np.ones((2, 3)))
    # the rounding of B @ C @ B.T is let through, and the result is that of the
    # symmetric part
    b, c = rng.normal(size=(5, 5)), s
    close = b @ c @ b.T
    np.testing.assert_allclose(f(close), np.linalg.inv((close + close.T) / 2), rtol=1e-9)
    # a stack of symmetric matrices: each is checked
    T = sd.tensor("T", shape=(2, 3, 3), symmetric=True)
    g = sd.function([T], sd.grad(sd.sum(sd.logdet(T)), T))
    stack = np.stack([_spd(3, rng), _spd(3, rng)])
    np.testing.assert_allclose(g(stack), np.linalg.inv(stack), rtol=1e-10)
    stack[1, 2, 0] += 0.1
    with pytest.raises(sd.ShapeError, match="declared symmetric"):
        g(stack)


def test_only_square_matrices_can_be_declared_symmetric():
    for make in (lambda: sd.matrix("S", shape=(3, 4), symmetric=True),
                 lambda: sd.var("S", shape=(3,), symmetric=True),
                 lambda: sd.tensor("S", shape=(2, 3, 4), symmetric=True)):
        with pytest.raises(sd.ShapeError, match="symmetric"):
            make()
    S = sd.matrix("S", symmetric=True)
    with pytest.raises(sd.CompileError, match=r"named 'S' \(f64\[\?,\?\] symmetric and"):
        sd.function([S, sd.matrix("S")], S)
    with pytest.raises(sd.CompileError, match=r"f64\[\?,\?\] symmetric \(an input\)"):
        sd.function([S], S + sd.matrix("S"))


def test_a_standalone_module_checks_symmetry_too():
    S = sd.matrix("S", shape=(3, 3), symmetric=True)
    text = sd.codegen.module_source([S], [sd.grad(sd.logdet(S), S)], "g")
    namespace: dict = {}
    exec(compile(text, "<module>", "exec"), namespace)
    s = _spd(3, np.random.default_rng(10))
    np.testing.assert_allclose(namespace["g"](s)[0], np.linalg.inv(s), rtol=1e-10)
    with pytest.raises(ValueError, match="declared symmetric"):
        namespace["g"](s + np.triu(np.ones((3, 3)), 1))


def test_the_portable_variant_computes_the_expression_as_written():
    xp = pytest.importorskip("array_api_strict")
    S, A = sd.matrix("S", shape=(3, 3), symmetric=True), sd.matrix("A", shape=(3, 3))
    cost = sd.sum(A * S.T) + sd.sum(sd.exp(sd.sin(S) * A) * S.T)
    outs = [cost, sd.grad(cost, S)]
    f = sd.function([S, A], outs)
    rng = np.random.default_rng(11)
    env = {"S": _spd(3, rng), "A": rng.normal(size=(3, 3))}
    want = sd.evaluate(outs, env)
    for got in (f(**env), f(*(xp.asarray(env[k]) for k in "SA"))):
        for g, w in zip(got, want):
            np.testing.assert_allclose(np.asarray(g), w, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("declared", [True, False])
def test_a_symmetric_inverse_times_a_transpose_is_computed_in_its_orientation(declared):
    # inv(S) @ D.T as (D @ inv(S)).T (shared_inverse.py): the values and gradients are
    # those of the graph as written, for a declared S and for a certainly symmetric one
    rng = np.random.default_rng(12)
    n, N = 4, 7
    A, D = sd.matrix("A", shape=(n, n)), sd.matrix("D", shape=(N, n))
    S = sd.matrix("S", shape=(n, n), symmetric=True) if declared else \
        A @ A.T + sd.constant(np.eye(n))
    e = sd.logdet(S) + sd.sum(D.T * sd.solve(S, D.T)) + sd.sum(sd.solve(S, D.T) ** 2)
    wrt = [v for v in (A, D) + ((S,) if declared else ()) if v.name in e.vars]
    outs = [e, *sd.grad(e, wrt)]
    env = {"A": rng.normal(size=(n, n)), "D": rng.normal(size=(N, n)), "S": _spd(n, rng)}
    env = {k: v for k, v in env.items() if k in e.vars}
    f = sd.function([e.vars[k] for k in sorted(env)], outs)
    assert "np.linalg.solve" not in f.source
    for got, want in zip(f(**{k: env[k] for k in sorted(env)}), sd.evaluate(outs, env)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    check_grads(e, env)


def test_a_hessian_with_respect_to_a_symmetric_input_is_the_unconstrained_one():
    rng = np.random.default_rng(13)
    n = 3
    S, A = sd.matrix("S", shape=(n, n), symmetric=True), sd.matrix("A", shape=(n, n))
    e = sd.logdet(S) + sd.sum(A * (S.T @ S)) + sd.sum(sd.solve(S.T, A) * A.T)
    env = {"S": _spd(n, rng), "A": rng.normal(size=(n, n))}
    h = sd.hessian(e, S)
    got = sd.function([S, A], h)(**env)
    # oracle: central differences of the gradient (interpreted, as written), one entry
    # of S at a time
    g, step = sd.grad(e, S), 1e-6
    want = np.zeros((n, n, n, n))
    for i, j in np.ndindex(n, n):
        d = np.zeros((n, n))
        d[i, j] = step
        want[..., i, j] = (sd.evaluate(g, {**env, "S": env["S"] + d})
                           - sd.evaluate(g, {**env, "S": env["S"] - d})) / (2 * step)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    assert not np.allclose(want, want.transpose(1, 0, 2, 3), atol=1e-3)
