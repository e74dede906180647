"""backend="numba": the generic op checker over the compiled backend, fusion, and the
disk cache (racing processes, a truncated entry, a world-writable directory, eviction
at the size bound, a version change).

Every op's first case runs by default (static lengths); SYMDIFF_SLOW_TESTS=1 runs
every case with static and unknown lengths. Compiled code is cached in one directory
for the test session, so a second run takes its machine code from there.
"""
import json
import os
import shutil
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import symdiff as sd
from symdiff.codegen import measured_dot, numba_cache, numba_printer, numba_scalar
from symdiff.ops import OPS
from symdiff.testing import op_example

pytest.importorskip("numba")

SLOW = os.environ.get("SYMDIFF_SLOW_TESTS") == "1"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module", autouse=True)
def session_cache(tmp_path_factory):
    path = tmp_path_factory.getbasetemp() / "symdiff-cache"
    path.mkdir(mode=0o700, exist_ok=True)
    # compiled before sd.function returns, unless a test asks for the thread
    settings = {"SYMDIFF_CACHE_DIR": str(path), "SYMDIFF_NUMBA_BACKGROUND": "0"}
    saved = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)
    yield path
    for name, value in saved.items():
        if value is None:
            del os.environ[name]
        else:
            os.environ[name] = value


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    path = tmp_path / "cache"
    path.mkdir(mode=0o700)
    monkeypatch.setenv("SYMDIFF_CACHE_DIR", str(path))
    return path


# -- the generic op checker over the Numba backend ----------------------------------

CASES = [(name, k, dynamic) for name, op in sorted(OPS.items())
         for k in range(len(op.cases) if SLOW else 1)
         for dynamic in ((False, True) if SLOW else (False,))]


def _weights(node, rng):
    # a constant cotangent: the cost sum(node * w) reads every element of the result
    return sd.constant(rng.uniform(0.5, 1.5, size=node.shape)) if node.shape else 0.7


@pytest.fixture
def every_node_compiled(monkeypatch):
    monkeypatch.setattr(numba_printer, "MIN_REGION", 1)


@pytest.mark.parametrize("name,k,dynamic", CASES)
def test_op_numba(name, k, dynamic, every_node_compiled):
    """Numba equals NumPy (values and gradients), and its gradient equals central
    finite differences of its own values. Every elementwise node is compiled, alone
    or fused, so that each op's kernel spelling runs."""
    node, variables, env = op_example(name, k, dynamic=dynamic)
    rng = np.random.default_rng(1)
    outputs = [node]
    wrt = [v for v in variables if v.dtype.kind == "f"]
    differentiable = node.dtype.kind == "f" and OPS[name].differentiable and wrt
    if differentiable:
        concrete = op_example(name, k, dynamic=False)[0]
        cost = sd.sum(node * _weights(concrete, rng))
        outputs = [cost, *sd.grad(cost, wrt)]
    f_nb = sd.function(variables, outputs, backend="numba")
    f_np = sd.function(variables, outputs)
    if OPS[name].numba is not None and name != "neg":   # neg is simplified away
        assert "@njit" in f_nb.source
    got, want = f_nb(**env), f_np(**env)
    for g, w in zip(got, want):
        assert np.asarray(g).dtype == np.asarray(w).dtype
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-13)
    if not differentiable:
        return
    eps = 1e-6
    for v, grad in zip(wrt, got[1:]):
        direction = rng.normal(size=np.shape(env[v.name]))
        plus = dict(env, **{v.name: env[v.name] + eps * direction})
        minus = dict(env, **{v.name: env[v.name] - eps * direction})
        fd = (f_nb(**plus)[0] - f_nb(**minus)[0]) / (2 * eps)
        np.testing.assert_allclose(np.sum(grad * direction), fd, rtol=1e-5, atol=1e-7)


# -- fusion ---------------------------------------------------------------------------

def test_an_elementwise_chain_is_one_loop_and_blas_stays_numpy():
    x, W = sd.vector("x", shape=(5,)), sd.matrix("W", shape=(4, 5))
    h = sd.sigmoid(W @ x + 0.5)
    cost = sd.sum(sd.tanh(h) * h - sd.exp(-h))
    outputs = [cost, *sd.grad(cost, [W, x])]
    f = sd.function([x, W], outputs, backend="numba")
    assert "@njit" in f.source and "for i0 in range(n0):" in f.source
    assert ".dot(" in f.source   # the products are NumPy (BLAS) calls
    rng = np.random.default_rng(0)
    args = rng.normal(size=5), rng.normal(size=(4, 5))
    want = sd.function([x, W], outputs)(*args)
    for g, w in zip(f(*args), want):
        np.testing.assert_allclose(g, w, rtol=1e-12)


def test_a_scalar_graph_is_one_compiled_function():
    x = sd.scalar("x")
    y = x
    for _ in range(12):
        y = sd.sin(y) * sd.exp(0.1 * y) + 0.01 * y ** 2
    outputs = [y, *sd.grad(y, [x])]
    f = sd.function([x], outputs, backend="numba")
    assert f.source.count("@njit") == 1
    got, want = f(0.3), sd.function([x], outputs)(0.3)
    assert type(got[0]) is type(want[0]) is np.float64
    np.testing.assert_allclose(got, want, rtol=1e-13)


def test_a_scalar_graph_cut_into_blocks_computes_the_same(fresh_cache, monkeypatch):
    """A 0-d kernel with its constants and math functions bound once and its lines cut
    into many basic blocks (numba_scalar), with ops whose spellings branch and nest
    math calls, equals the NumPy code and central finite differences."""
    monkeypatch.setattr(numba_scalar, "BLOCK_LINES", 3)
    x, y = sd.scalar("x"), sd.scalar("y")
    z = x
    for _ in range(3):
        z = (sd.sigmoid(z) * sd.softplus(y - z) + sd.maximum(z, 0.25 * y)
             + sd.logaddexp(z, y) - sd.where(z > y, sd.exp(-z), 0.5 * z ** 2)
             + sd.relu(sd.tanh(0.7 * y) - z) * sd.erf(z))
    outputs = [z, *sd.grad(z, [x, y])]
    f = sd.function([x, y], outputs, backend="numba")
    kernel = f.source.split("def _nb0(")[1].split("\ndef ")[0]
    assert f.source.count("@njit") == 1 and kernel.count("if cut:") > 10
    assert kernel.count("m_exp = math.exp") == 1 and "math.exp(" not in kernel
    assert kernel.count("= 0.25\n") == 1 and "(0.25 *" not in kernel
    f_np = sd.function([x, y], outputs)
    eps = 1e-6
    for a, b in [(0.3, -0.4), (-1.2, 0.9), (2.0, 1.5), (0.1, 0.1 + 1e-3)]:
        got, want = f(a, b), f_np(a, b)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
        dx = (f(a + eps, b)[0] - f(a - eps, b)[0]) / (2 * eps)
        dy = (f(a, b + eps)[0] - f(a, b - eps)[0]) / (2 * eps)
        np.testing.assert_allclose(got[1:], [dx, dy], rtol=1e-6, atol=1e-8)


def test_sums_and_inner_products_are_accumulated_in_the_loop():
    x = sd.vector("x")
    a, b = x[:-1], x[1:]
    cost = 100.0 * sd.sum((b - a ** 2) ** 2) + sd.sum((1.0 - a) ** 2)
    outputs = [cost, *sd.grad(cost, [x])]
    f = sd.function([x], outputs, backend="numba")
    assert " += v" in f.source   # a sum accumulated in the loop
    arg = np.linspace(-1.0, 1.5, 1001)
    want = sd.function([x], outputs)(arg)
    for got, w in zip(f(arg), want):
        np.testing.assert_allclose(got, w, rtol=1e-12)
    # the published gradient of Rosenbrock's function
    grad = np.zeros_like(arg)
    grad[:-1] = -400.0 * arg[:-1] * (arg[1:] - arg[:-1] ** 2) - 2.0 * (1.0 - arg[:-1])
    grad[1:] += 200.0 * (arg[1:] - arg[:-1] ** 2)
    np.testing.assert_allclose(f(arg)[1], grad, rtol=1e-12, atol=1e-12)


def _mazur(m, x, t, W1, b1, W2, b2):
    h = m.sigmoid(W1 @ x + b1)
    o = m.sigmoid(W2 @ h + b2)
    return m.sum(0.5 * (t - o) ** 2)


def test_a_small_plan_is_one_compiled_body():
    """Products, slices and kernels in one compiled function; checked against Mazur's
    published numbers (mattmazur.com, 2015), the NumPy backend and central finite
    differences, on contiguous, strided and Fortran-ordered operands, and on operands
    big enough for the path that runs the steps from Python."""
    x, t, W1, W2 = sd.vector("x"), sd.vector("t"), sd.matrix("W1"), sd.matrix("W2")
    b1, b2 = sd.scalar("b1"), sd.scalar("b2")
    cost = _mazur(sd, x, t, W1, b1, W2, b2)
    params = [W1, b1, W2, b2]
    inputs = [x, t, *params]
    outputs = [cost, *sd.grad(cost, params)]
    f = sd.function(inputs, outputs, backend="numba")
    assert numba_printer.WHOLE_MARK in f.source
    compiled = f._trial.variants[0]   # the numba variant, whatever the trial chooses
    f_np = sd.function(inputs, outputs)
    W1v, W2v = np.array([[0.15, 0.20], [0.25, 0.30]]), np.array([[0.40, 0.45], [0.50, 0.55]])
    got = compiled(np.array([0.05, 0.10]), np.array([0.01, 0.99]), W1v, 0.35, W2v, 0.60)
    assert type(got[0]) is np.float64 and type(got[2]) is np.float64
    np.testing.assert_allclose(got[0], 0.298371109, rtol=1e-9)
    np.testing.assert_allclose(got[3], [[0.082167041, 0.082667628],
                                        [-0.022602540, -0.022740242]], rtol=1e-7)
    rng = np.random.default_rng(3)
    for n, k in ((3, 4), (200, 100)):   # 200 x 100 takes the Python path
        args = [rng.normal(size=k), rng.normal(size=n), rng.normal(size=(k, n)).T, 0.3,
                np.asfortranarray(rng.normal(size=(n, n))), -0.2]
        args[0] = np.repeat(args[0], 2)[::2]   # strided
        got, want = compiled(*args), f_np(*args)
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-14)
        d = rng.normal(size=(n, n))
        eps = 1e-6
        fd = (compiled(*args[:4], args[4] + eps * d, args[5])[0]
              - compiled(*args[:4], args[4] - eps * d, args[5])[0]) / (2 * eps)
        np.testing.assert_allclose(np.sum(got[3] * d), fd, rtol=1e-6)
    with pytest.raises(ValueError):   # inner lengths differ: an error, not a read
        compiled(np.ones(3), np.ones(2), np.ones((2, 4)), 0.1, np.ones((2, 2)), 0.2)


def test_every_product_and_axis_sum_in_a_compiled_body_calls_blas():
    """Matrix-matrix, matrix-vector, vector-matrix and inner products and the sums over
    either axis of a matrix, on transposes and strided slices made inside the body:
    one BLAS function (no Numba ``np.dot``), values equal to the NumPy backend's."""
    A, B, x = sd.matrix("A"), sd.matrix("B"), sd.vector("x")
    xs = x[::2]   # a strided view: the products read it through its strides
    outputs = [A @ B, A.T @ B.T, A @ xs, xs @ B, A[::2, :] @ B[:, ::2], xs @ xs,
               sd.sum(A, axis=0), sd.sum(A.T, axis=1), sd.sum(A[:, ::2], axis=1)]
    f = sd.function([A, B, x], outputs, backend="numba")
    assert numba_printer.WHOLE_MARK in f.source and "_blas_gemm(" in f.source
    body = f.source.split('"""The whole function body')[1].split("\n\n\n")[0]
    assert ".dot(" not in body
    f_np = sd.function([A, B, x], outputs)
    rng = np.random.default_rng(21)
    for n, k in ((3, 3), (1, 1), (4, 1), (1, 5), (6, 9)):
        args = rng.normal(size=(n, k)), rng.normal(size=(k, n)), rng.normal(size=2 * k)
        if n == 4:
            args = np.asfortranarray(args[0]), args[1], args[2]
        for got, want in zip(f._trial.variants[0](*args), f_np(*args)):
            assert np.shape(got) == np.shape(want)
            np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-14)


def test_the_blas_product_reads_any_layout_or_multiplies_by_a_loop():
    """``_blas_gemm`` against NumPy's ``@``: C and Fortran order, rows or columns of
    one element with any stride, strided and reversed slices (a loop), zero lengths."""
    A, B = sd.matrix("A"), sd.matrix("B")
    f = sd.function([A, B], [A @ B, sd.sum(A @ B, axis=0)], backend="numba")
    blas_gemm = f._trial.variants[0].__globals__["_blas_gemm"]

    def gemm(a, b):
        return blas_gemm(a, b, False)
    rng = np.random.default_rng(22)

    def layouts(m, k):
        a = rng.normal(size=(m, k))
        wide = rng.normal(size=(3 * m + 1, 3 * k + 1))
        return [a, np.asfortranarray(a), wide[:m, :k], wide[::3, ::3][:m, :k],
                wide[::-3, :][:m, :k], wide[:m, :k].T.copy().T, wide[:k, :m].T]

    for m, k, n in ((3, 4, 5), (1, 4, 5), (3, 1, 5), (3, 4, 1), (1, 1, 1), (2, 3, 2)):
        for a in layouts(m, k):
            for b in layouts(k, n):
                np.testing.assert_allclose(gemm(a, b), a @ b, rtol=1e-13, atol=1e-14)
    for m, k, n in ((0, 3, 2), (3, 0, 2), (2, 3, 0)):
        got = gemm(np.ones((m, k)), np.ones((k, n)))
        assert got.shape == (m, n) and not got.any()
    with pytest.raises(ValueError):
        gemm(np.ones((2, 3)), np.ones((2, 3)))
    b = rng.normal(size=(4, 3))
    ones = np.full((1, 4), np.nan)   # filled first: b's column sums
    np.testing.assert_allclose(blas_gemm(ones, b, True), b.sum(axis=0, keepdims=True),
                               rtol=1e-14)


def test_the_same_loop_on_other_operands_is_one_kernel():
    """Two regions that differ only in their operands (each layer's weight decay) share
    one compiled kernel; each gets its own values (the NumPy backend's)."""
    A, B = sd.matrix("A"), sd.matrix("B")
    outputs = [sd.tanh(A) * 2.0 + A, sd.tanh(B) * 2.0 + B]
    f = sd.function([A, B], outputs, backend="numba")
    kernels = [line for line in f.source.splitlines() if line.startswith("def _nb")
               and "(a0" in line]   # not the compiled body
    assert len(kernels) == 1, kernels
    calls = [f.source.count(f"_nb0(np.ascontiguousarray({v})") for v in "AB"]  # arguments
    assert calls[0] == calls[1] >= 1
    rng = np.random.default_rng(23)
    args = rng.normal(size=(3, 4)), rng.normal(size=(5, 2))
    for got, want in zip(f._trial.variants[0](*args), sd.function([A, B], outputs)(*args)):
        np.testing.assert_allclose(got, want, rtol=1e-14)


def test_a_sliced_plan_is_one_compiled_body():
    x = sd.vector("x")
    cost = sd.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)
    f = sd.function([x], [cost, *sd.grad(cost, [x])], backend="numba")
    assert numba_printer.WHOLE_MARK in f.source
    xv = np.random.default_rng(4).uniform(-1.5, 1.5, size=50)
    value, g = f._trial.variants[0](xv)
    a, b = xv[:-1], xv[1:]   # the gradient written out (as scipy.optimize.rosen_der)
    want = np.zeros_like(xv)
    want[:-1] = -400.0 * a * (b - a * a) - 2.0 * (1.0 - a)
    want[1:] += 200.0 * (b - a * a)
    np.testing.assert_allclose(value, np.sum(100.0 * (b - a * a) ** 2 + (1.0 - a) ** 2),
                               rtol=1e-13)
    np.testing.assert_allclose(g, want, rtol=1e-12)


def test_a_banded_hessian_is_one_compiled_body():
    """The band matrix's zeros and strided writes compile with the rest: checked
    against the analytic tridiagonal Hessian (as scipy.optimize.rosen_hess) and
    central differences of the gradient."""
    x = sd.vector("x", 30)
    cost = sd.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)
    f = sd.function([x], sd.hessian(cost, x), backend="numba")
    assert numba_printer.WHOLE_MARK in f.source and ".ravel()[" in f.source
    xv = np.random.default_rng(5).uniform(-1.5, 1.5, size=30)
    H = f._trial.variants[0](xv)
    want = np.diag(np.r_[1200.0 * xv[:-1] ** 2 - 400.0 * xv[1:] + 2.0, 0.0])
    want[np.arange(1, 30), np.arange(1, 30)] += 200.0
    want += np.diag(-400.0 * xv[:-1], 1) + np.diag(-400.0 * xv[:-1], -1)
    np.testing.assert_allclose(H, want, rtol=1e-13, atol=1e-12)
    grad = sd.function([x], sd.grad(cost, [x])[0])
    eps, d = 1e-6, np.random.default_rng(6).normal(size=30)
    fd = (grad(xv + eps * d) - grad(xv - eps * d)) / (2 * eps)
    np.testing.assert_allclose(H @ d, fd, rtol=1e-6, atol=1e-6)


def test_a_stack_of_band_matrices_in_a_compiled_body(every_node_compiled):
    node, variables, env = op_example("band_matrix", 3)   # bands with a leading axis
    f = sd.function(variables, node * 2.0, backend="numba")
    assert numba_printer.WHOLE_MARK in f.source
    (offset,), band = node.attr("offsets"), env[variables[2].name]
    want = np.zeros(node.shape)
    for j in range(node.shape[1]):   # entry [..., j, j + offset] from the band
        if 0 <= j + offset < node.shape[2]:
            want[:, j, j + offset] = 2.0 * np.broadcast_to(band, node.shape[:2])[:, j]
    np.testing.assert_allclose(f._trial.variants[0](**env), want, rtol=1e-15)


@pytest.mark.parametrize("keepdims,scale", [(False, 1.0), (True, 1.0), (False, 2.0)])
def test_logsumexp_rows_and_their_softmax_in_kernels(keepdims, scale):
    """Row kernels around NumPy's exp: checked against the formula on moderate rows,
    the NumPy backend on rows with inf, -inf and nan, and finite differences. The
    operand is an argument (any layout) or an array a kernel wrote (C-ordered)."""
    X = sd.matrix("X")
    lse = sd.logsumexp(X if scale == 1.0 else scale * X, axis=1, keepdims=keepdims)
    cost = sd.sum(lse * sd.constant(np.linspace(0.5, 1.5, 6)[:, None] if keepdims
                                    else np.linspace(0.5, 1.5, 6)))
    outputs = [lse, cost, *sd.grad(cost, [X])]
    f = sd.function([X], outputs, backend="numba")
    assert "_shift(" in f.source and "np.exp(" in f.source
    compiled = f._trial.variants[0]
    rng = np.random.default_rng(7)
    x = rng.normal(size=(6, 4)) * 3
    got = compiled(x)
    want = np.log(np.sum(np.exp(scale * x), axis=1, keepdims=keepdims))
    np.testing.assert_allclose(got[0], want, rtol=1e-13)
    eps, d = 1e-6, rng.normal(size=x.shape)
    fd = (compiled(x + eps * d)[1] - compiled(x - eps * d)[1]) / (2 * eps)
    np.testing.assert_allclose(np.sum(got[2] * d), fd, rtol=1e-6)
    x[1, 2], x[2, 0], x[3, :] = np.inf, np.nan, -np.inf
    with np.errstate(all="ignore"):
        want = sd.function([X], outputs)(x)
        got = compiled(np.asfortranarray(x))   # any layout
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-13)   # nan where NumPy has nan
    # big operands: the same kernels called from Python
    X2 = rng.normal(size=(6, 3000)) * 3   # the weights have 6 rows
    X2[1, 2], X2[2, 0], X2[3, :], X2[4, :2] = np.inf, np.nan, -np.inf, -np.inf
    with np.errstate(all="ignore"):
        want = sd.function([X], outputs)(X2)
        got = compiled(X2)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-13)


def test_products_are_spelled_as_measured_and_agree():
    a = np.random.default_rng(8).normal(size=(600, 50))
    b = np.random.default_rng(9).normal(size=(50, 6))
    want = a @ b
    buffers = {}
    for _ in range(8):   # the trial runs both spellings, then the faster
        np.testing.assert_allclose(measured_dot.measured_dot(a, b), want, atol=1e-12)
        kept = measured_dot.measured_dot(a, b, buffers, 3)
        np.testing.assert_allclose(kept, want, atol=1e-12)
    assert buffers[3].base is None and np.shares_memory(kept, buffers[3])
    np.testing.assert_allclose(measured_dot.measured_dot(np.asfortranarray(a), b[:, :1]),
                               want[:, :1], atol=1e-12)


def test_a_lone_ufunc_after_a_product_is_a_kernel_in_either_layout():
    """``X @ W + b`` alone (its product may come back in Fortran order) is a compiled
    loop: the values agree with NumPy's evaluation, whichever spelling the product's
    trial takes, and the gradient with finite differences."""
    X, W, b = sd.matrix("X"), sd.matrix("W"), sd.vector("b")
    z = X @ W + b
    cost = sd.sum(sd.logsumexp(z, axis=1))
    f = sd.function([X, W, b], [z, cost, *sd.grad(cost, [W, b])], backend="numba")
    assert "1 nodes fused" in f.source
    compiled = f._trial.variants[0]
    rng = np.random.default_rng(12)
    x, w, c = rng.normal(size=(3000, 20)), rng.normal(size=(20, 7)), rng.normal(size=7)
    want = x @ w + c
    for _ in range(16):   # past the measured product's trial of both spellings
        got = compiled(x, w, c)
        np.testing.assert_allclose(got[0], want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(compiled(np.asfortranarray(x), w, c)[0], want, atol=1e-12)
    eps, dw, dc = 1e-6, rng.normal(size=w.shape), rng.normal(size=c.shape)
    fd = (compiled(x, w + eps * dw, c + eps * dc)[1]
          - compiled(x, w - eps * dw, c - eps * dc)[1]) / (2 * eps)
    np.testing.assert_allclose(np.sum(got[2] * dw) + np.sum(got[3] * dc), fd, rtol=1e-6)


def test_kept_buffers_never_hold_what_a_call_returned():
    """Big temporaries are kept between calls, outputs never: a later call leaves what
    an earlier call returned as it was (and the values agree with NumPy)."""
    X, W, b = sd.matrix("X"), sd.matrix("W"), sd.vector("b")
    z = X @ W + b
    cost = sd.mean(sd.logsumexp(z, axis=1) - sd.sum(z * z, axis=1))
    outputs = [cost, z * 2.0, *sd.grad(cost, [W, b])]
    f = sd.function([X, W, b], outputs, backend="numba")
    assert "_kept(_s" in f.source
    compiled = f._trial.variants[0]
    rng = np.random.default_rng(10)
    args1 = rng.normal(size=(3000, 20)), rng.normal(size=(20, 7)), rng.normal(size=7)
    args2 = [a + 1.0 for a in args1]
    _two_calls(f, [X, W, b], outputs, args1, args2)


def test_a_whole_body_run_from_python_keeps_no_returned_value():
    """A plan compiled whole runs its steps from Python for big operands, keeping big
    temporaries there: the same check on a sigmoid network."""
    X, W = sd.matrix("X"), sd.matrix("W")
    h = sd.tanh(X @ W)
    cost = sd.sum(h * h)
    outputs = [cost, h, *sd.grad(cost, [W])]
    f = sd.function([X, W], outputs, backend="numba")
    assert numba_printer.WHOLE_MARK in f.source and "_kept(_s" in f.source
    rng = np.random.default_rng(11)
    args1 = rng.normal(size=(300, 80)), rng.normal(size=(80, 70))
    args2 = [a * 0.5 for a in args1]
    _two_calls(f, [X, W], outputs, args1, args2)


def _two_calls(f, inputs, outputs, args1, args2):
    compiled = f._trial.variants[0]
    first = compiled(*args1)
    saved = [np.copy(v) for v in first]
    second = compiled(*args2)
    for v, w in zip(first, saved):
        np.testing.assert_array_equal(v, w)
    for g, w in zip(second, sd.function(inputs, outputs)(*args2)):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)


def test_unknown_lengths_that_differ_raise_rather_than_read_out_of_bounds():
    a, b = sd.vector("a"), sd.vector("b")
    f = sd.function([a, b], sd.exp(a) * sd.sin(b) + a, backend="numba")
    np.testing.assert_allclose(f(np.ones(3), np.ones(3)), np.exp(1) * np.sin(1) + 1)
    with pytest.raises(ValueError):
        f(np.ones(3), np.ones(4))


def test_strided_and_broadcast_operands():
    X, b = sd.matrix("X"), sd.vector("b")
    out = sd.exp(X) * b + sd.sin(X)
    f = sd.function([X, b], out, backend="numba")
    x = np.arange(12.0).reshape(3, 4) / 10
    for arg in (x, x[:, ::2].copy(), np.asfortranarray(x)):
        v = np.linspace(0, 1, arg.shape[1])
        np.testing.assert_allclose(f(arg, v), np.exp(arg) * v + np.sin(arg), rtol=1e-14)
    np.testing.assert_allclose(f(x.T, np.ones(3)), np.exp(x.T) + np.sin(x.T), rtol=1e-14)


def test_operands_of_the_loop_shape_in_c_order_are_one_flat_loop():
    """Arguments are given to kernels C-contiguous (copied when they are not) and the
    arrays kernels write are so: operands all of the loop's shape then take one flat
    loop. Any layout gives NumPy's values; a transpose computed inside the function
    keeps the nested loop over any layout; lengths that differ still raise. Small and
    big operands (the compiled body, and its steps run from Python)."""
    X, Y = sd.matrix("X"), sd.matrix("Y")
    u = sd.exp(X) * Y - sd.sin(X)
    out = [u, u / (Y * Y + 1.0) + X, sd.tanh(X.T) * Y.T - Y.T]
    f = sd.function([X, Y], out, backend="numba")
    compiled = f._trial.variants[0] if f._trial is not None else f._fn
    assert "for i in range(size):" in f.source and "np.ascontiguousarray(X)" in f.source
    rng = np.random.default_rng(13)
    x, y = rng.normal(size=(7, 6)), rng.normal(size=(7, 6))
    big = rng.normal(size=(7, 12))
    for a, b in ((x, y), (np.asfortranarray(x), y), (big[:, ::2], y), (x.T.copy().T, y.T.T),
                 (x[:0], y[:0]), (rng.normal(size=(200, 100)), rng.normal(size=(200, 100)))):
        e = np.exp(a) * b - np.sin(a)
        want = [e, e / (b * b + 1.0) + a, np.tanh(a.T) * b.T - b.T]
        for got, w in zip(compiled(a, b), want):
            np.testing.assert_allclose(got, w, rtol=1e-14, atol=1e-15)
    with pytest.raises(ValueError):
        compiled(x, y[:, :5])


@pytest.mark.parametrize("whole", [True, False])
def test_exp_and_sigmoid_on_big_arrays_are_numpys_ufunc_between_two_loops(whole):
    """On big arrays a region is cut at exp and sigmoid: a loop up to the exponent,
    NumPy's exp in place, a loop from there. Values as the NumPy backend gives them
    (overflowing, underflowing and nan operands too), sigmoid as its formula, and the
    gradient as finite differences. A plan compiled whole keeps one loop, in its
    compiled body and in its steps run from Python (big operands); a logsumexp keeps
    the plan apart (its steps are all Python), and that one is cut."""
    X, W, b = sd.matrix("X"), sd.matrix("W"), sd.vector("b")
    z = X @ W + b
    h = sd.sigmoid(z)
    cost = sd.sum(sd.exp(0.25 * h - 0.001 * z * z) * h)
    if not whole:
        cost = cost + sd.sum(sd.logsumexp(h, axis=1))
    outputs = [cost, h, *sd.grad(cost, [W, b])]
    f = sd.function([X, W, b], outputs, backend="numba")
    cut = "sigmoid before np.exp" in f.source and "exp before np.exp" in f.source
    assert cut != whole
    assert (numba_printer.WHOLE_MARK in f.source) == whole
    compiled = f._trial.variants[0]
    rng = np.random.default_rng(14)
    x, w, c = rng.normal(size=(300, 80)), rng.normal(size=(80, 70)), rng.normal(size=70)
    want = sd.function([X, W, b], outputs)(x, w, c)
    for _ in range(14):   # past the measured products' trial of both spellings
        got = compiled(x, w, c)
        for g, v in zip(got, want):
            # (Numba's scalar exp and NumPy's differ by an ulp; a gradient entry that
            # sums terms of size ~1 to ~1e-4 shows it as 1e-12 relative)
            np.testing.assert_allclose(g, v, rtol=1e-12, atol=1e-14)
    zz = x @ w + c
    np.testing.assert_allclose(got[1], 1.0 / (1.0 + np.exp(-zz)), rtol=1e-14)
    eps, dw, dc = 1e-6, rng.normal(size=w.shape), rng.normal(size=c.shape)
    fd = (compiled(x, w + eps * dw, c + eps * dc)[0]
          - compiled(x, w - eps * dw, c - eps * dc)[0]) / (2 * eps)
    np.testing.assert_allclose(np.sum(got[2] * dw) + np.sum(got[3] * dc), fd, rtol=1e-6)
    c[:3] = 800.0, -800.0, np.nan   # sigmoid 1 and 0, exp of -640 and 0, nan
    with np.errstate(all="ignore"):
        want = sd.function([X, W, b], outputs)(x, w, c)
        got = compiled(x, w, c)
    for g, v in zip(got, want):
        np.testing.assert_allclose(g, v, rtol=1e-12, atol=1e-14)    # nan where NumPy's
        tiny = np.abs(v) < 1e-14    # underflowing exponentials: relative to themselves
        np.testing.assert_allclose(g[tiny], v[tiny], rtol=1e-12, atol=1e-300)


def test_other_array_libraries_take_the_portable_path():
    xp = pytest.importorskip("array_api_strict")
    x = sd.vector("x")
    f = sd.function([x], sd.exp(x) * sd.sin(x), backend="numba")
    got = f(xp.asarray([0.1, 0.2]))
    assert type(got).__module__.startswith("array_api_strict")
    np.testing.assert_allclose(np.asarray(got), np.exp([0.1, 0.2]) * np.sin([0.1, 0.2]))


def test_the_faster_variant_is_chosen_by_measurement_per_class_of_sizes():
    x = sd.vector("x")
    y = x
    for _ in range(6):
        y = sd.sin(y) * sd.exp(0.1 * y) + 0.01 * y ** 2
    f = sd.function([x], [sd.sum(y), *sd.grad(sd.sum(y), [x])], backend="numba")
    g = sd.function([x], [sd.sum(y), *sd.grad(sd.sum(y), [x])])
    small, big = np.linspace(0, 1, 5), np.linspace(0, 1, 20000)
    for _ in range(12):
        for arg in (small, big):
            for got, want in zip(f(arg), g(arg)):
                np.testing.assert_allclose(got, want, rtol=1e-12)
    assert set(f.chosen) == {"small", "big"}
    assert set(f.chosen.values()) <= {"numba", "numpy"}


def test_threads_calling_during_the_measurement_get_right_values():
    from concurrent.futures import ThreadPoolExecutor
    X = sd.matrix("X")
    out = sd.sum(sd.tanh(X) * sd.exp(-X), axis=1)
    f = sd.function([X], out, backend="numba")
    args = [np.full((3, 4), k / 10) for k in range(40)]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(f, args))
    for a, g in zip(args, got):
        np.testing.assert_allclose(g, np.sum(np.tanh(a) * np.exp(-a), axis=1), rtol=1e-14)
    assert f.chosen


def test_unknown_backend_is_refused():
    with pytest.raises(sd.CompileError, match="backend"):
        sd.function([sd.scalar("x")], sd.scalar("x") * 2, backend="numbaa")


# -- the disk cache -------------------------------------------------------------------

_SMALL = textwrap.dedent('''\
    import numpy as np
    from numba import njit


    @njit("(float64,)", cache=True)
    def _nb0(a0):
        return a0 + {k}.0


    def f(x):
        return _nb0(x)
    ''')


def _builder(k, calls):
    def build():
        calls.append(k)
        return _SMALL.format(k=k), {}
    return build


def test_a_truncated_entry_is_detected_rebuilt_and_replaced(fresh_cache):
    calls = []
    key = "t" * 40
    _, module = numba_cache.load_or_build(key, _builder(1, calls))
    assert module.f(1.0) == 2.0 and calls == [1]
    entry = fresh_cache / "numba" / key
    code = next(entry.rglob("*.nbc"))
    code.write_bytes(code.read_bytes()[:20])     # truncated machine code
    _, module = numba_cache.load_or_build(key, _builder(1, calls))
    assert calls == [1, 1] and module.f(1.0) == 2.0
    recorded = numba_cache.json.loads((entry / "manifest.json").read_text())["files"]
    assert numba_cache._files(entry) == recorded      # the replacement is whole
    _, module = numba_cache.load_or_build(key, _builder(1, calls))
    assert calls == [1, 1]                            # and it loads


def test_a_world_writable_directory_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "shared"
    path.mkdir()
    path.chmod(0o777)
    monkeypatch.setenv("SYMDIFF_CACHE_DIR", str(path))
    with pytest.raises(numba_cache.CacheDirError, match="writable by other users"):
        numba_cache.cache_root()
    x = sd.scalar("x")
    with pytest.raises(sd.CompileError, match="writable by other users"):
        sd.function([x], sd.sin(x) * sd.exp(x), backend="numba", name="refused")


def test_eviction_at_the_size_bound_is_least_recently_used(fresh_cache, monkeypatch):
    calls = []
    keys = [c * 40 for c in "abc"]
    numba_cache.load_or_build(keys[0], _builder(1, calls))
    one = numba_cache.cache_info()["bytes"]
    monkeypatch.setenv("SYMDIFF_CACHE_MAX_BYTES", str(int(2.5 * one)))
    numba_cache.load_or_build(keys[1], _builder(2, calls))
    entry_a = fresh_cache / "numba" / keys[0] / "manifest.json"
    os.utime(entry_a, (1, 1))                                   # a: long unused
    numba_cache.load_or_build(keys[0], _builder(1, calls))      # ... used again now
    os.utime(fresh_cache / "numba" / keys[1] / "manifest.json", (2, 2))
    numba_cache.load_or_build(keys[2], _builder(3, calls))      # over the bound
    left = sorted(p.name for p in (fresh_cache / "numba").iterdir())
    assert left == sorted([keys[0], keys[2]])                   # b was the oldest
    assert numba_cache.cache_info()["bytes"] <= 2.5 * one
    assert sd.clear_cache() == 2 and sd.cache_info()["entries"] == 0


def test_a_version_change_invalidates(fresh_cache, monkeypatch):
    x = sd.scalar("x")
    graph = numba_cache.graph_text([x], [sd.sin(x)], ())
    key = numba_cache.entry_key(graph)
    real = numba_cache.environment()
    monkeypatch.setattr(numba_cache, "environment",
                        lambda: real.replace("numba ", "numba 0.0.0+other "))
    assert numba_cache.entry_key(graph) != key
    monkeypatch.setattr(numba_cache, "environment", lambda: real)
    monkeypatch.setattr(numba_cache, "_SOURCE_DIGEST", ["another symdiff"])
    assert numba_cache.entry_key(graph) != key


_RACE = textwrap.dedent('''\
    import numpy as np, symdiff as sd
    x = sd.vector("x")
    cost = sd.sum(sd.tanh(x) * sd.exp(-x))
    f = sd.function([x], [cost, *sd.grad(cost, [x])], backend="numba")
    value, grad = f(np.linspace(0, 1, 3))
    print(repr(float(value)), repr(float(grad.sum())))
    ''')


def test_eight_processes_racing_on_a_cold_cache(fresh_cache):
    # each compiles on its thread, and exits once that has stored (or dropped) its entry
    env = dict(os.environ, SYMDIFF_CACHE_DIR=str(fresh_cache), PYTHONPATH=ROOT,
               SYMDIFF_NUMBA_BACKGROUND="1")
    procs = [subprocess.Popen([sys.executable, "-c", _RACE], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(8)]
    results = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in results]
    assert len({out for out, _ in results}) == 1
    assert numba_cache.cache_info()["entries"] == 1
    assert not [p for p in (fresh_cache / "numba").iterdir() if p.name.startswith(".")]
    x = np.linspace(0, 1, 3)
    assert float(results[0][0].split()[0]) == pytest.approx(np.sum(np.tanh(x) * np.exp(-x)),
                                                            rel=1e-13)


# -- a warm first call: what a load from the cache does and does not do ---------------

_WARM = textwrap.dedent('''\
    import json, sys
    import numpy as np, symdiff as sd
    x, t, W1, W2 = sd.vector("x"), sd.vector("t"), sd.matrix("W1"), sd.matrix("W2")
    o = sd.sigmoid(W2 @ sd.sigmoid(W1 @ x + 0.35) + 0.6)
    cost = sd.sum(0.5 * (t - o) ** 2)
    f = sd.function([x, t, W1, W2], [cost, *sd.grad(cost, [W1, W2])], backend="numba")
    assert "with BLAS" in f.source
    module = sys.modules[f._trial.variants[0].__module__]
    W1v, W2v = np.array([[0.15, 0.20], [0.25, 0.30]]), np.array([[0.40, 0.45], [0.50, 0.55]])
    args = [np.array([0.05, 0.10]), np.array([0.01, 0.99]), W1v, W2v]
    value, g1, g2 = f._trial.variants[0](*args)
    strided = f._trial.variants[0](np.repeat(args[0], 2)[::2], args[1], W1v.T.copy().T, W2v)
    kernels = [v for k, v in vars(module).items()
               if k.startswith("_nb") and hasattr(v, "py_func")]   # not the pools
    loaded = [k for k in kernels if hasattr(k, "stats")]
    print(json.dumps({
        "value": float(value), "g2": g2.tolist(), "strided": float(strided[0]),
        "kernels": len(kernels), "loaded": len(loaded),
        "hits": sum(sum(k.stats.cache_hits.values()) for k in loaded),
        "misses": sum(sum(k.stats.cache_misses.values()) for k in loaded),
        "registries": "numba.np.arraymath" in sys.modules,
        "scipy_linalg": "scipy.linalg" in sys.modules,
        "blas": "scipy.linalg.cython_blas" in sys.modules}))
    ''')


def test_a_warm_load_runs_the_cached_code_without_compiling(fresh_cache):
    """A second process loads what the first stored: no compilation, none of Numba's
    set-up for compiling (its typing registries), only the compiled body (not the
    kernels that only the steps run from Python call), SciPy's BLAS module without
    scipy.linalg; the values are Mazur's published ones either way."""
    env = dict(os.environ, SYMDIFF_CACHE_DIR=str(fresh_cache), PYTHONPATH=ROOT)
    runs = []
    for _ in range(2):
        out = subprocess.run([sys.executable, "-c", _WARM], env=env, capture_output=True,
                             text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    cold, warm = runs
    assert cold["misses"] == cold["kernels"] == cold["loaded"] > 1 and cold["hits"] == 0
    assert warm["misses"] == 0 and warm["hits"] == warm["loaded"] == 1
    assert not warm["registries"] and not warm["scipy_linalg"] and warm["blas"]
    for run in runs:
        assert run["value"] == pytest.approx(0.298371109, rel=1e-9)
        assert run["strided"] == run["value"]
        np.testing.assert_allclose(run["g2"], [[0.082167041, 0.082667628],
                                               [-0.022602540, -0.022740242]], rtol=1e-7)
    entry = next(p for p in (fresh_cache / "numba").iterdir() if not p.name.startswith("."))
    assert (entry / numba_cache.CODE).exists()   # the stored code object, under checksum
    recorded = json.loads((entry / "manifest.json").read_text())["files"]
    assert numba_cache.CODE in recorded


_BLAS = textwrap.dedent('''\
    import sys
    from symdiff.codegen import numba_blas
    numba_blas.preload()
    assert "scipy.linalg.cython_blas" in sys.modules and "scipy.linalg" not in sys.modules
    blas = sys.modules["scipy.linalg.cython_blas"]
    import numpy as np
    import scipy.linalg
    assert scipy.linalg.cython_blas is blas
    assert type(scipy.linalg.__loader__) is type(scipy.linalg.__spec__.loader)
    assert "numba_blas" not in type(scipy.linalg.__loader__).__module__
    from scipy.linalg import cython_lapack
    print(scipy.linalg.solve(np.array([[2.0, 1.0], [1.0, 3.0]]), np.array([3.0, 5.0])))
    ''')


def test_scipy_blas_preloaded_then_scipy_linalg_imported_as_usual():
    pytest.importorskip("scipy")
    out = subprocess.run([sys.executable, "-c", _BLAS], env=dict(os.environ, PYTHONPATH=ROOT),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    np.testing.assert_allclose(np.array(out.stdout.strip()[1:-1].split(), float),
                               np.linalg.solve([[2.0, 1.0], [1.0, 3.0]], [3.0, 5.0]))


def test_a_moved_entry_compiles_its_source_rather_than_run_code_named_elsewhere(
        fresh_cache):
    calls = []
    key = "m" * 40
    numba_cache.load_or_build(key, _builder(5, calls))
    entry = fresh_cache / "numba" / key
    moved = fresh_cache / "moved"
    shutil.copytree(entry, moved)
    path = moved / f"sd_{key}.py"
    assert numba_cache._code(entry, entry / path.name).co_filename == str(entry / path.name)
    code = numba_cache._code(moved, path)
    assert code.co_filename == str(path)
    namespace = {"__name__": "moved"}
    exec(code, namespace)
    assert namespace["f"](1.0) == 6.0


def test_a_cold_function_runs_its_numpy_code_while_the_kernels_compile(fresh_cache,
                                                                      monkeypatch):
    """The first call does not wait for Numba: it runs the NumPy code; once the thread
    has compiled and stored the kernels, the trial of the two variants starts."""
    monkeypatch.setenv("SYMDIFF_NUMBA_BACKGROUND", "1")
    started, release = threading.Event(), threading.Event()
    real_store = numba_cache.store

    def slow_store(*args):   # holds the compilation until the first call is done
        started.set()
        release.wait(60)
        return real_store(*args)
    monkeypatch.setattr(numba_cache, "store", slow_store)
    x = sd.vector("x")
    cost = sd.sum(sd.tanh(x) * sd.exp(-x))
    f = sd.function([x], [cost, *sd.grad(cost, [x])], backend="numba", name="background")
    xv = np.linspace(-1.0, 2.0, 9)
    want = (np.sum(np.tanh(xv) * np.exp(-xv)),
            (1 - np.tanh(xv) ** 2) * np.exp(-xv) - np.tanh(xv) * np.exp(-xv))
    assert started.wait(60)
    value, grad = f(xv)
    assert f._trial is None and f.chosen == {} and not f.wait_compiled(timeout=0)
    np.testing.assert_allclose(value, want[0], rtol=1e-13)
    np.testing.assert_allclose(grad, want[1], rtol=1e-13)
    release.set()
    assert f.wait_compiled(timeout=120)
    for _ in range(2 * 5 + 1):
        value, grad = f(xv)
        np.testing.assert_allclose(value, want[0], rtol=1e-13)
        np.testing.assert_allclose(grad, want[1], rtol=1e-13)
    assert f.chosen == {"small": f.chosen["small"]} and f._trial is not None
    assert numba_cache.cache_info()["entries"] == 1


def test_a_failed_background_compilation_warns_and_keeps_the_numpy_code(fresh_cache,
                                                                        monkeypatch):
    monkeypatch.setenv("SYMDIFF_NUMBA_BACKGROUND", "1")

    def broken_store(*args):
        raise RuntimeError("no compiler today")
    monkeypatch.setattr(numba_cache, "store", broken_store)
    x = sd.vector("x")
    cost = sd.sum(sd.sin(x) * sd.exp(x))
    with pytest.warns(RuntimeWarning, match="no compiler today"):
        f = sd.function([x], [cost, *sd.grad(cost, [x])], backend="numba", name="broken")
        assert not f.wait_compiled(timeout=60)
    xv = np.linspace(0.0, 1.0, 5)
    value, grad = f(xv)
    np.testing.assert_allclose(value, np.sum(np.sin(xv) * np.exp(xv)), rtol=1e-13)
    np.testing.assert_allclose(grad, (np.cos(xv) + np.sin(xv)) * np.exp(xv), rtol=1e-13)


def test_a_stale_kernel_is_compiled_at_its_first_call_and_its_entry_dropped(fresh_cache):
    """Machine code Numba does not take (here: its index names another source file
    stamp) is compiled where it is first needed, with the kernels it calls, and the
    entry is removed so that the next process builds it again."""
    x, W = sd.vector("x"), sd.matrix("W", shape=(2, 2))
    cost = sd.sum(sd.tanh(W @ sd.exp(x) + 0.5) ** 2)
    outputs = [cost, *sd.grad(cost, [x, W])]
    f = sd.function([x, W], outputs, backend="numba", name="stale")
    assert numba_printer.WHOLE_MARK in f.source
    entry = next(p for p in (fresh_cache / "numba").iterdir() if not p.name.startswith("."))
    module_file = next(entry.glob("sd_*.py"))
    stamp = module_file.stat()   # Numba's index records the source's stamp: make it differ
    os.utime(module_file, ns=(stamp.st_atime_ns, stamp.st_mtime_ns + 10**9))
    manifest = json.loads((entry / "manifest.json").read_text())
    del sys.modules[f"sd_{entry.name}"]
    module = numba_cache.load(entry.name)
    assert module is not None and entry.exists()   # the files are whole: it loads
    name = f.name
    xv, Wv = np.array([0.3, -0.2]), np.array([[0.5, -1.0], [0.25, 2.0]])
    got = vars(module)[name](xv, Wv)
    want = sd.function([x, W], outputs, name="stale_numpy")(xv, Wv)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-13)
    assert not entry.exists()                      # dropped: the next process builds it
    assert manifest["files"]


@pytest.mark.parametrize("shape", [(3, 4), (300, 300)])
def test_read_only_arguments_are_taken(shape):
    """Numba's kernels take writable arrays only; read-only arguments (a broadcast, a
    flag set off, as np.asarray of a JAX array gives) are computed on writable copies,
    with the NumPy backend's results, and the argument is left as it was."""
    x, w = sd.matrix("x", shape=(None, None)), sd.vector("w", shape=(None,))
    cost = sd.sum(sd.tanh(sd.sin(x) * x + w) ** 2)
    outputs = [cost, *sd.grad(cost, [x, w])]
    f = sd.function([x, w], outputs, backend="numba")
    f.wait_compiled()
    f_np = sd.function([x, w], outputs)
    rng = np.random.default_rng(5)
    frozen = rng.normal(size=shape)
    frozen.flags.writeable = False
    broadcast = np.broadcast_to(rng.normal(size=shape[1]), shape)
    for xv in (frozen, broadcast):
        wv = np.broadcast_to(0.5, (shape[1],))
        before = xv.copy()
        for _ in range(12):   # past the trial of the two variants: the winner runs too
            got = f(xv, wv)
        for g, want in zip(got, f_np(xv, wv)):
            np.testing.assert_allclose(g, want, rtol=1e-12, atol=1e-13)
        np.testing.assert_array_equal(xv, before)


def test_a_broadcast_read_by_a_kernel():
    """np.broadcast_to gives read-only views; a fused loop reads one (kernels type
    their operands read-only). Values against the NumPy backend."""
    x, w = sd.matrix("x", shape=(None, None)), sd.vector("w", shape=(None,))
    cost = sd.sum(sd.broadcast_to(w, (300, 300)) * sd.sin(x) * sd.exp(x))
    outputs = [cost, *sd.grad(cost, [x, w])]
    f = sd.function([x, w], outputs, backend="numba")
    f.wait_compiled()
    assert "broadcast_to" in f.source and "@njit" in f.source
    rng = np.random.default_rng(6)
    xv, wv = rng.normal(size=(300, 300)), rng.normal(size=300)
    want = sd.function([x, w], outputs)(xv, wv)
    for _ in range(12):   # past the trial of the two variants: the winner runs too
        got = f(xv, wv)
    for g, w_ in zip(got, want):
        np.testing.assert_allclose(g, w_, rtol=1e-12, atol=1e-12)
