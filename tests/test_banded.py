"""Banded Jacobians and Hessians (symdiff.banded) against the dense path and finite differences.

Oracles: the dense batched Jacobian (the banded path switched off), central finite
differences of compiled gradients, the analytic Rosenbrock Hessian, and ``np.diag``
for the ``band_matrix`` op itself. The two new ops also go through the generic op
checkers (values, VJP, JVP, batching, Jacobians), whatever order the test files load in.
"""
import numpy as np
import pytest

import symdiff as sd
import symdiff.higher as higher
from symdiff.banded import MAX_BANDS
from symdiff.ops.banded import band_diagonal, band_matrix
from symdiff.ir import toposort
from symdiff.ops import OPS

from test_batching import test_batching_rule as _batching_rule
from test_higher import numeric_jacobian, rosenbrock, rosenbrock_hessian
from test_higher import test_jacobian_of_every_op_matches_finite_differences as _jacobian_rule
from test_jvp import test_forward_over_reverse_matches_finite_differences as _fwd_over_rev
from test_jvp import test_jvp_matches_finite_differences as _jvp_rule
from test_ops import test_op as _op_rule

BAND_OPS = [(name, k) for name in ("band_matrix", "band_diagonal")
            for k in range(len(OPS[name].cases))]


@pytest.mark.parametrize("name,k", BAND_OPS)
def test_band_ops_pass_the_generic_checkers(name, k):
    for dynamic in (False, True):
        _op_rule(name, k, dynamic)
        _jvp_rule(name, k, dynamic)
        _fwd_over_rev(name, k, dynamic)
    _batching_rule(name, k)
    _jacobian_rule(name, k)


def test_band_matrix_places_each_diagonal():
    rng = np.random.default_rng(0)
    for m, n in ((4, 4), (3, 5), (5, 3), (1, 1)):
        d = {-2: rng.standard_normal(m), 0: rng.standard_normal(m), 3: 1.5}
        want = np.zeros((m, n))
        for k, v in d.items():
            for j in range(m):
                if 0 <= j + k < n:
                    want[j, j + k] = v if np.ndim(v) == 0 else v[j]
        for shape in ((m, n), (None, None)):
            rows, cols = sd.vector("r", shape[0]), sd.vector("c", shape[1])
            bands = {k: sd.vector(f"d{i}", shape[0]) if np.ndim(v) else sd.constant(v)
                     for i, (k, v) in enumerate(d.items())}
            B = band_matrix(rows, cols, bands)
            env = {"r": np.zeros(m), "c": np.zeros(n),
                   **{f"d{i}": v for i, v in enumerate(d.values()) if np.ndim(v)}}
            np.testing.assert_array_equal(sd.evaluate(B, env), want)
            f = sd.function(sorted((v for v in toposort([B]) if v.op.name == "var"),
                                   key=lambda v: v.name), B)
            np.testing.assert_array_equal(f(**env), want)


def test_band_diagonal_reads_a_diagonal_padded_with_zeros():
    g = np.arange(12.0).reshape(3, 4)
    G = sd.matrix("G", (3, 4))
    for k in (-3, -1, 0, 2, 4):
        want = np.array([g[j, j + k] if 0 <= j + k < 4 else 0.0 for j in range(3)])
        np.testing.assert_array_equal(sd.evaluate(band_diagonal(G, k), {"G": g}), want)


# -- Hessians and Jacobians: banded against dense -------------------------------------

def dense(build):
    """``build()`` with the banded path switched off: the batched Jacobian of today."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(higher, "banded_jacobian", lambda *args: None)
        return build()


def is_banded(expr):
    """The result is one band_matrix and nothing before it is a matrix."""
    nodes = toposort([expr])
    return (expr.op.name == "band_matrix"
            and all(n.ndim <= 1 for n in nodes if n is not expr))


a, b = sd.scalar("a"), sd.scalar("b")

COSTS = {
    "rosenbrock": lambda x: rosenbrock(x),
    "shifted by two": lambda x: sd.sum(sd.sin(x[2:] * x[:-2]) + x[1:-1] ** 3 * sd.exp(x[:-2])),
    "chained slices": lambda x: sd.sum(sd.tanh(x[1:][1:] - x[:-1][:-1]) ** 2)
                                + sd.sum((x[:-1] - 2 * x[1:]) ** 4),
    "scalar parameters": lambda x: a * sd.sum(a * (x[1:] - x[:-1] ** 2) ** 2)
                                   + sd.sum(b * sd.log1p(x ** 2)),
    "quotient and kinks": lambda x: sd.sum(x[1:] / (1 + x[:-1] ** 2)
                                           + sd.maximum(x[1:], 0.5 * x[:-1]) ** 2
                                           + sd.relu(x[1:] - x[:-1]) ** 3),
}
VALUES = {"a": 1.3, "b": -0.7}


def values_for(x, n, seed=0):
    return {"x": np.random.default_rng(seed).uniform(-1.5, 1.5, n), **VALUES}


@pytest.mark.parametrize("name", sorted(COSTS))
@pytest.mark.parametrize("static", [True, False])
def test_banded_hessian_equals_dense_and_finite_differences(name, static):
    for n in ((8,) if static else (3, 8)):
        x = sd.vector("x", n if static else None)
        cost = COSTS[name](x)
        H = sd.hessian(cost, x)
        assert is_banded(H), name
        Hd = dense(lambda: sd.hessian(cost, x))
        assert not is_banded(Hd) and Hd.shape == H.shape and Hd.dtype == H.dtype
        inputs = [x] + [v for v in (a, b) if v.name in cost.vars]
        env = {v.name: values_for(x, n)[v.name] for v in inputs}
        got = sd.function(inputs, H)(**env)
        np.testing.assert_allclose(got, sd.function(inputs, Hd)(**env), rtol=1e-12,
                                   atol=1e-12)
        np.testing.assert_allclose(sd.evaluate(H, env), got, rtol=1e-12, atol=1e-12)
        grad = sd.function(inputs, sd.grad(cost, x))
        numeric = numeric_jacobian(lambda v: grad(**{**env, "x": v}), env["x"])
        np.testing.assert_allclose(got, numeric, rtol=1e-6, atol=1e-6)


def test_rosenbrock_hessian_for_short_and_unknown_lengths():
    x = sd.vector("x")
    H = sd.hessian(rosenbrock(x), x)
    assert is_banded(H)
    f = sd.function([x], H)
    for n in (1, 2, 3, 10):
        xv = np.random.default_rng(n).uniform(-2, 2, n)
        np.testing.assert_allclose(f(xv), rosenbrock_hessian(xv), rtol=1e-12, atol=1e-9)


def test_the_compiled_banded_hessian_has_no_matrix_temporaries():
    x = sd.vector("x", 50)
    source = sd.function([x], sd.hessian(rosenbrock(x), x)).source
    assert source.count("np.zeros((50, 50))") == 1 and "np.eye" not in source
    assert ".ravel()[" in source


@pytest.mark.parametrize("n", [6, None])
def test_rectangular_jacobian_of_slices(n):
    x = sd.vector("x", n)
    y = x[1:] * x[:-1] + sd.sin(x[:-1]) - 3.0 * x[1:]
    env = {"x": np.linspace(-1, 2, 6)}
    f = sd.function([x], y)
    numeric = numeric_jacobian(f, env["x"])
    for mode in ("auto", "fwd"):
        J = sd.jacobian(y, x, mode=mode)
        assert is_banded(J) and J.shape == (None if n is None else n - 1, n)
        np.testing.assert_allclose(sd.function([x], J)(**env), numeric, rtol=1e-7, atol=1e-9)
    assert not is_banded(sd.jacobian(y, x, mode="rev"))   # reverse mode stays as asked


def test_float32_stays_float32():
    x = sd.vector("x", 5, dtype="float32")
    H = sd.hessian(rosenbrock(x), x)
    assert is_banded(H) and H.dtype == np.float32
    xv = np.linspace(-1, 1, 5).astype(np.float32)
    got = sd.function([x], H)(xv)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, rosenbrock_hessian(xv.astype(float)), rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize("name,cost", [
    ("a dense term", lambda x: rosenbrock(x) + sd.sum(x) ** 2),
    ("a strided slice", lambda x: sd.sum(x[::2] ** 2 * x[1::2])),
    ("a reversal", lambda x: sd.sum(sd.sin(x) * x[::-1])),
    ("too many diagonals", lambda x: sum(sd.sum(x[k:] * x[:-k] ** 2)
                                         for k in range(1, MAX_BANDS // 2 + 2))),
])
def test_graphs_without_a_banded_form_take_the_dense_path(name, cost):
    n = 2 * MAX_BANDS
    x = sd.vector("x", n)
    c = cost(x)
    H = sd.hessian(c, x)
    assert not any(node.op.name == "band_matrix" for node in toposort([H])), name
    xv = np.random.default_rng(1).uniform(-1, 1, n)
    grad = sd.function([x], sd.grad(c, x))
    np.testing.assert_allclose(sd.function([x], H)(xv), numeric_jacobian(grad, xv),
                               rtol=1e-6, atol=1e-6)


def test_negative_start_with_unknown_length_takes_the_dense_path():
    x = sd.vector("x")
    c = sd.sum(x[-3:] ** 3)
    H = sd.hessian(c, x)
    assert not any(node.op.name == "band_matrix" for node in toposort([H]))
    xv = np.array([0.5, -1.0, 2.0, 1.5])
    np.testing.assert_allclose(sd.function([x], H)(xv), np.diag([0, -6.0, 12.0, 9.0]),
                               atol=1e-12)
    # With the length known the start is an ordinary offset.
    xs = sd.vector("x", 4)
    Hs = sd.hessian(sd.sum(xs[-3:] ** 3), xs)
    assert is_banded(Hs)
    np.testing.assert_allclose(sd.function([xs], Hs)(xv), np.diag([0, -6.0, 12.0, 9.0]),
                               atol=1e-12)


def test_third_derivatives_through_a_banded_hessian():
    """The Jacobian of a banded Hessian: band_matrix's own JVP and batching rules."""
    x = sd.vector("x", 4)
    H = sd.hessian(sd.sum(x[1:] ** 2 * x[:-1]), x)
    assert is_banded(H)
    xv = np.array([0.3, -0.8, 1.1, 0.4])
    hess = sd.function([x], H)
    numeric = numeric_jacobian(hess, xv)
    for mode in ("fwd", "rev"):
        T = sd.jacobian(H, x, mode=mode)
        np.testing.assert_allclose(sd.function([x], T)(xv), numeric, rtol=1e-6, atol=1e-8)


def test_hessian_blocks_with_a_scalar_parameter():
    """hessian(cost, [x, a]): the x-x block is banded, the blocks with a are not."""
    x = sd.vector("x", 6)
    cost = COSTS["scalar parameters"](x)
    blocks = sd.hessian(cost, [x, a])
    assert is_banded(blocks[0][0]) and not is_banded(blocks[0][1])
    env = values_for(x, 6, seed=4)
    grads = sd.function([x, a, b], sd.grad(cost, [x, a]))
    for i, row in enumerate(blocks):
        for j, block in enumerate(row):
            name = "xa"[j]
            numeric = numeric_jacobian(lambda v: grads(**{**env, name: v})[i], env[name])
            np.testing.assert_allclose(sd.function([x, a, b], block)(**env), numeric,
                                       rtol=1e-6, atol=1e-6)
