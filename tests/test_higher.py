"""Jacobians, Hessians and Hessian-vector products against independent oracles.

Oracles: Hessians and Jacobians written by hand (Rosenbrock's tridiagonal Hessian,
the softmax Jacobian diag(s) - s sᵀ), central finite differences of compiled
gradients (the 2-2-2 network), and products with the full Hessian for ``hvp``.
The graph of a Jacobian must not grow with the number of outputs or inputs.
"""
import numpy as np
import pytest

import symdiff as sd
from symdiff.ir import toposort


def rosenbrock(x):
    return sd.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def rosenbrock_hessian(x):
    """The analytic Hessian of Rosenbrock's function: tridiagonal."""
    n = len(x)
    H = np.zeros((n, n))
    for i in range(n - 1):
        H[i, i] += 2 + 1200 * x[i] ** 2 - 400 * x[i + 1]
        H[i + 1, i + 1] += 200
        H[i, i + 1] = H[i + 1, i] = -400 * x[i]
    return H


def numeric_jacobian(f, x, eps=1e-6):
    """Central differences of a NumPy function, shape f(x).shape + x.shape."""
    x = np.asarray(x, dtype=float)
    cols = []
    for j in range(x.size):
        step = np.zeros(x.size)
        step[j] = eps
        step = step.reshape(x.shape)
        cols.append((np.asarray(f(x + step)) - np.asarray(f(x - step))) / (2 * eps))
    return np.moveaxis(np.array(cols), 0, -1).reshape(np.shape(f(x)) + x.shape)


def test_hessian_of_rosenbrock_is_the_analytic_tridiagonal_matrix():
    n = 100
    x = sd.vector("x", n)
    H = sd.hessian(rosenbrock(x), x)
    assert H.shape == (n, n)
    xv = np.random.default_rng(0).uniform(-2, 2, n)
    f = sd.function([x], H)
    np.testing.assert_allclose(f(xv), rosenbrock_hessian(xv), rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(sd.evaluate(H, {"x": xv}), rosenbrock_hessian(xv),
                               rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("mode", ["auto", "fwd", "rev"])
def test_jacobian_of_softmax(mode):
    z = sd.vector("z", 5)
    J = sd.jacobian(sd.softmax(z), z, mode=mode)
    zv = np.array([0.3, -1.2, 2.0, 0.0, 0.7])
    s = np.exp(zv - zv.max())
    s /= s.sum()
    np.testing.assert_allclose(sd.function([z], J)(zv), np.diag(s) - np.outer(s, s),
                               rtol=1e-12, atol=1e-15)


MLP = dict(x=[0.05, 0.10], W1=[[0.15, 0.20], [0.25, 0.30]], b1=0.35,
           W2=[[0.40, 0.45], [0.50, 0.55]], b2=0.60, t=[0.01, 0.99])


def mlp_loss():
    x, t = sd.vector("x", 2), sd.vector("t", 2)
    W1, W2 = sd.matrix("W1", (2, 2)), sd.matrix("W2", (2, 2))
    b1, b2 = sd.scalar("b1"), sd.scalar("b2")
    h = sd.sigmoid(W1 @ x + b1)
    o = sd.sigmoid(W2 @ h + b2)
    return sd.sum(0.5 * (t - o) ** 2), [x, W1, b1, W2, b2, t]


def test_hessian_of_the_2_2_2_network_matches_finite_differences_of_its_gradient():
    E, inputs = mlp_loss()
    W1 = inputs[1]
    H = sd.hessian(E, W1)
    assert H.shape == (2, 2, 2, 2)
    values = {k: np.array(v, dtype=float) for k, v in MLP.items()}
    hess = sd.function(inputs, H)(**values)
    grad = sd.function(inputs, sd.grad(E, W1))
    numeric = numeric_jacobian(lambda w: grad(**{**values, "W1": w}), values["W1"])
    np.testing.assert_allclose(hess, numeric, rtol=1e-6, atol=1e-10)
    # A Hessian is symmetric: H[i, j, k, l] = H[k, l, i, j].
    np.testing.assert_allclose(hess, hess.transpose(2, 3, 0, 1), atol=1e-15)


def test_hessian_of_several_variables_is_a_nested_list_of_blocks():
    E, inputs = mlp_loss()
    W1, b1, W2 = inputs[1], inputs[2], inputs[3]
    blocks = sd.hessian(E, [W1, b1, W2])
    values = {k: np.array(v, dtype=float) for k, v in MLP.items()}
    grads = sd.function(inputs, sd.grad(E, [W1, b1, W2]))
    wrt = ["W1", "b1", "W2"]
    for i, row in enumerate(blocks):
        for j, block in enumerate(row):
            assert block.shape == inputs[[1, 2, 3][i]].shape + inputs[[1, 2, 3][j]].shape
            numeric = numeric_jacobian(lambda v: grads(**{**values, wrt[j]: v})[i],
                                       values[wrt[j]])
            np.testing.assert_allclose(sd.function(inputs, block)(**values), numeric,
                                       rtol=1e-6, atol=1e-10)


@pytest.mark.parametrize("mode", ["auto", "fwd", "rev"])
def test_jacobian_of_tensors_has_shape_y_then_x(mode):
    X = sd.matrix("X", (2, 3))
    Y = sd.tanh(X.T @ X)[:, :2] * sd.sum(X)          # (3, 2)
    J = sd.jacobian(Y, X, mode=mode)
    assert J.shape == (3, 2, 2, 3)
    Xv = np.random.default_rng(1).standard_normal((2, 3))
    f = sd.function([X], Y)
    np.testing.assert_allclose(sd.function([X], J)(Xv), numeric_jacobian(f, Xv),
                               rtol=1e-7, atol=1e-9)


def test_jacobian_of_a_scalar_and_with_respect_to_a_scalar():
    x, s = sd.vector("x", 3), sd.scalar("s")
    y = sd.sin(x * s)
    np.testing.assert_allclose(sd.evaluate(sd.jacobian(y, s), {"x": [1.0, 2, 3], "s": 0.5}),
                               np.array([1.0, 2, 3]) * np.cos(np.array([1.0, 2, 3]) * 0.5))
    assert sd.jacobian(sd.sum(y), x).shape == (3,)
    assert sd.jacobian(y, [x, s])[1].shape == (3,)


def test_jacobian_of_an_output_that_does_not_depend_on_x_is_zero():
    x, y = sd.vector("x", 3), sd.vector("y", 2)
    for mode in ("fwd", "rev"):
        J = sd.jacobian(sd.sin(y), x, mode=mode)
        np.testing.assert_array_equal(sd.evaluate(J, {"y": [1.0, 2.0], "x": np.ones(3)}),
                                      np.zeros((2, 3)))


def node_count(expr):
    return len(toposort([expr]))


@pytest.mark.parametrize("mode", ["auto", "fwd", "rev"])
def test_the_graph_of_a_jacobian_does_not_grow_with_the_number_of_outputs(mode):
    def jac(m):
        x = sd.vector("x", 4)
        A = sd.constant(np.linspace(-1, 1, 4 * m).reshape(m, 4))
        y = sd.tanh(A @ x) * sd.sum(x ** 2) + sd.softmax(A @ sd.sin(x))
        return sd.jacobian(y, x, mode=mode)
    small, large = jac(10), jac(1000)
    assert small.shape == (10, 4) and large.shape == (1000, 4)
    assert node_count(small) == node_count(large)


@pytest.mark.parametrize("mode", ["auto", "fwd", "rev"])
def test_the_graph_of_a_jacobian_does_not_grow_with_the_number_of_inputs(mode):
    def jac(n):
        x = sd.vector("x", n)
        y = sd.stack([sd.sum(sd.sin(x) * x), sd.logsumexp(x), sd.sum(x[1:] * x[:-1])])
        return sd.jacobian(y, x, mode=mode)
    assert node_count(jac(10)) == node_count(jac(1000))


def test_the_graph_of_a_hessian_does_not_grow_with_n():
    def hess(n):
        x = sd.vector("x", n)
        return sd.hessian(rosenbrock(x), x)
    assert node_count(hess(10)) == node_count(hess(1000))


@pytest.mark.parametrize("mode", ["auto", "fwd", "rev"])
def test_jacobian_with_unknown_lengths(mode):
    """The identity is built at run time when a length is unknown."""
    x = sd.vector("x")
    y = sd.stack([sd.sum(x ** 3), sd.sum(sd.sin(x))])
    J = sd.function([x], sd.jacobian(y, x, mode=mode))
    for xv in (np.array([0.5, -1.0, 2.0]), np.linspace(-1, 1, 7)):
        np.testing.assert_allclose(J(xv), np.array([3 * xv ** 2, np.cos(xv)]), rtol=1e-12)


def test_hessian_with_unknown_lengths():
    x = sd.vector("x")
    H = sd.function([x], sd.hessian(rosenbrock(x), x))
    for n in (2, 9):
        xv = np.random.default_rng(n).uniform(-2, 2, n)
        np.testing.assert_allclose(H(xv), rosenbrock_hessian(xv), rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("mode", ["fwd", "rev"])
def test_jacobian_of_matrices_with_unknown_lengths(mode):
    X = sd.matrix("X", (None, None))
    Y = sd.tanh(X @ X.T)                                # (n, n)
    J = sd.jacobian(Y, X, mode=mode)
    assert J.ndim == 4
    Xv = np.random.default_rng(5).standard_normal((3, 2))
    f = sd.function([X], Y)
    np.testing.assert_allclose(sd.function([X], J)(Xv), numeric_jacobian(f, Xv),
                               rtol=1e-7, atol=1e-9)


def test_hvp_equals_the_hessian_times_v():
    n = 30
    x = sd.vector("x", n)
    v = sd.vector("v", n)
    cost = rosenbrock(x) + sd.sum(sd.softplus(x) * x[::-1])
    Hv = sd.hvp(cost, x, v)
    rng = np.random.default_rng(2)
    xv, vv = rng.uniform(-1, 1, n), rng.standard_normal(n)
    H = sd.function([x], sd.hessian(cost, x))(xv)
    np.testing.assert_allclose(sd.function([x, v], Hv)(xv, vv), H @ vv, rtol=1e-10, atol=1e-10)


def test_hvp_with_unknown_lengths_matches_finite_differences_of_the_gradient():
    x, v = sd.vector("x"), sd.vector("v")
    cost = rosenbrock(x)
    Hv = sd.function([x, v], sd.hvp(cost, x, v))
    grad = sd.function([x], sd.grad(cost, x))
    rng = np.random.default_rng(3)
    for n in (5, 50):
        xv, vv = rng.uniform(-1, 1, n), rng.standard_normal(n)
        eps = 1e-6
        numeric = (grad(xv + eps * vv) - grad(xv - eps * vv)) / (2 * eps)
        np.testing.assert_allclose(Hv(xv, vv), numeric, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(Hv(xv, vv), rosenbrock_hessian(xv) @ vv, rtol=1e-12,
                                   atol=1e-9)


def test_hvp_of_several_variables():
    E, inputs = mlp_loss()
    W1, W2 = inputs[1], inputs[3]
    V1, V2 = sd.matrix("V1", (2, 2)), sd.matrix("V2", (2, 2))
    out = sd.hvp(E, [W1, W2], [V1, V2])
    values = {k: np.array(v, dtype=float) for k, v in MLP.items()}
    rng = np.random.default_rng(4)
    v1, v2 = rng.standard_normal((2, 2)), rng.standard_normal((2, 2))
    got = sd.function(inputs + [V1, V2], out)(**values, V1=v1, V2=v2)
    H = sd.hessian(E, [W1, W2])
    blocks = [[sd.function(inputs, h)(**values) for h in row] for row in H]
    for i in range(2):
        want = (np.tensordot(blocks[i][0], v1, 2) + np.tensordot(blocks[i][1], v2, 2))
        np.testing.assert_allclose(got[i], want, rtol=1e-10, atol=1e-14)


def test_jacobian_errors():
    x = sd.vector("x", 3)
    with pytest.raises(sd.DiffError):
        sd.jacobian(sd.sin(x), x, mode="sideways")
    with pytest.raises(sd.DiffError):
        sd.hessian(sd.sin(x), x)                       # not a scalar cost
    with pytest.raises(sd.DiffError):
        sd.jacobian(sd.sin(x), sd.vector("k", 3, dtype="int64"))
    with pytest.raises(sd.DiffError):
        sd.jacobian(x > 0.0, x)


def test_repeated_grad_of_scalar_functions_stays_small_after_simplification():
    """grad applied n times (simplified each time) matches SymPy and does not blow up."""
    sympy = pytest.importorskip("sympy")
    x, sx = sd.scalar("x"), sympy.Symbol("x")
    cases = [(sd.sin(x) * sd.exp(x), sympy.sin(sx) * sympy.exp(sx)),
             (1 / (1 + x ** 2), 1 / (1 + sx ** 2)),
             (sd.tanh(x), sympy.tanh(sx))]
    for expr, sym in cases:
        for n in range(1, 7):
            expr = sd.simplify(sd.grad(expr, x))
            want = float(sympy.diff(sym, sx, n).subs(sx, 0.37))
            assert float(sd.evaluate(expr, {"x": 0.37})) == pytest.approx(want, rel=1e-9)
        assert node_count(expr) <= 100, (str(sym), node_count(expr))


def test_a_large_identity_is_built_at_run_time(monkeypatch):
    import symdiff.higher as higher
    monkeypatch.setattr(higher, "CONST_IDENTITY_LIMIT", 10)
    x = sd.vector("x", 5)
    # sum(x)**2 has a dense Hessian (2 everywhere): no banded form, the batched path.
    H = sd.hessian(rosenbrock(x) + sd.sum(x) ** 2, x)
    assert any(n.op.name == "eye_like" for n in toposort([H]))
    xv = np.linspace(-1, 1, 5)
    np.testing.assert_allclose(sd.function([x], H)(xv), rosenbrock_hessian(xv) + 2.0,
                               atol=1e-9)


def test_hvp_through_reshape_and_concatenate_of_unknown_length():
    """Their VJPs take the shape from x, whose tangent alone must not break forward mode."""
    x, v = sd.vector("x"), sd.vector("v")
    cost = sd.sum(x.reshape((-1, 1)) * 2.0) + sd.sum(sd.concatenate([x, x]) ** 2)
    Hv = sd.function([x, v], sd.hvp(cost, x, v))
    np.testing.assert_allclose(Hv(np.ones(3), np.arange(3.0)), 4 * np.arange(3.0))


def _op_cases():
    from symdiff.ops import OPS
    return [(name, k) for name, op in sorted(OPS.items()) if op.differentiable
            for k in range(len(op.cases))]


@pytest.mark.parametrize("name,k", _op_cases())
def test_jacobian_of_every_op_matches_finite_differences(name, k):
    """Both modes, static and unknown lengths: batching, jvp and vjp together."""
    from test_jvp import build
    for dynamic in (False, True):
        node, env = build(name, k, dynamic)
        if node.dtype.kind != "f":
            return
        wrt = [n for n in toposort([node]) if n.op.name == "var" and n.dtype.kind == "f"]
        for x in wrt:
            def f(value):
                return sd.evaluate(node, {**env, x.name: value})
            numeric = numeric_jacobian(f, env[x.name])
            for mode in ("fwd", "rev"):
                J = sd.evaluate(sd.jacobian(node, x, mode=mode), env)
                np.testing.assert_allclose(J, numeric, rtol=1e-6, atol=1e-8,
                                           err_msg=f"{name} {mode} d/d{x.name}")


@pytest.mark.parametrize("mode", ["fwd", "rev"])
def test_third_derivatives_are_the_jacobian_of_the_hessian(mode):
    """d³/dx³ of sum(sin(x) * x[::-1]): a Jacobian of a graph that is already batched."""
    x = sd.vector("x", 3)
    T = sd.jacobian(sd.hessian(sd.sum(sd.sin(x) * x[::-1]), x), x, mode=mode)
    assert T.shape == (3, 3, 3)
    xv = np.array([0.3, -0.8, 1.1])
    want = np.zeros((3, 3, 3))
    for i in range(3):
        j = 2 - i                       # d/dx_i d/dx_j (sin(x_i) x_j) terms
        want[i, i, i] += -np.cos(xv[i]) * xv[j]
        want[i, i, j] += -np.sin(xv[i])
        want[i, j, i] += -np.sin(xv[i])
        want[j, i, i] += -np.sin(xv[i])
    np.testing.assert_allclose(sd.function([x], T)(xv), want, rtol=1e-12, atol=1e-14)
