"""Code generation: readable straight-line NumPy, caching, aliasing, stability, errors."""
import inspect
import linecache
import re
import warnings

import numpy as np
import pytest

import symdiff as sd


def mlp():
    X, W, b = sd.matrix("X"), sd.matrix("W"), sd.vector("b")
    cost = sd.sum(sd.sigmoid(X @ W + b) ** 2)
    return [X, W, b], cost


def test_source_is_straight_line_numpy_with_backward_comments():
    inputs, cost = mlp()
    f = sd.function(inputs, [cost, *sd.grad(cost, inputs[1:])])
    src = f.source
    assert src.startswith("import numpy as np\n")   # then the imports it needs
    assert "\n\ndef value_and_grad_W_b(X, W, b):\n" in src
    assert "# backward pass" in src and "# d/d " in src
    body = [line.strip() for line in src.split("\ndef value_and_grad_W_b")[1].splitlines()]
    # the only branches: the class test of the arguments (other array libraries run the
    # portable variant), argument checks, and the choice of the variant that keeps big
    # temporaries between calls
    allowed = ("_shape_error", ".size >= ", "__class__ not in _native", "_run is not None")
    assert not any(line.startswith(("for ", "while ", "if ", "lambda")) for line in body
                   if not line.startswith("if ") or not any(a in line for a in allowed))
    compile(src, "<test>", "exec")


def test_source_is_registered_with_linecache():
    inputs, cost = mlp()
    f = sd.function(inputs, cost)
    filename = f._fn.__code__.co_filename
    assert linecache.getline(filename, 1) == f.source.splitlines(True)[0]
    assert inspect.getsource(f._fn).startswith(f"def {f.name}(")
    assert inspect.getsource(f._fn) in f.source


def test_compiled_functions_are_cached():
    inputs, cost = mlp()
    assert sd.function(inputs, cost) is sd.function(inputs, cost)


def test_outputs_are_not_aliased_across_calls():
    x = sd.vector("x")
    y = sd.exp(x) * 2.0
    f = sd.function([x], [y, x, x[1:], y])
    a = np.array([1.0, 2.0, 3.0])
    first = f(a)
    saved = [np.array(o) for o in first]
    second = f(a + 1)
    for o, s in zip(first, saved):
        np.testing.assert_array_equal(o, s)
    assert first[1] is not a and not np.shares_memory(first[2], a)
    assert not np.shares_memory(first[0], first[3])
    assert not np.shares_memory(first[0], second[0])


def test_positional_and_keyword_arguments():
    x, y = sd.scalar("x"), sd.scalar("y")
    f = sd.function([x, y], x - y)
    assert f(3.0, 1.0) == 2.0
    assert f(y=3.0, x=1.0) == -2.0


def test_user_names_are_checked():
    with pytest.raises(sd.CompileError):
        sd.function([sd.scalar("not a name")], sd.scalar("not a name") * 2)
    with pytest.raises(sd.CompileError):
        sd.function([sd.scalar("lambda")], sd.scalar("lambda") * 2)


def test_missing_and_clashing_inputs():
    x, y = sd.scalar("x"), sd.scalar("y")
    with pytest.raises(sd.CompileError, match="'y'"):
        sd.function([x], x * y)
    xv = sd.vector("x")
    with pytest.raises(sd.CompileError, match="two different"):
        sd.function([x], x * sd.sum(xv))


def test_bad_argument_shapes_are_clear_errors():
    W = sd.matrix("W", shape=(2, 3))
    f = sd.function([W], sd.sum(W))
    # ShapeError: nothing is compiled at call time; a ValueError, as NumPy's shape errors
    with pytest.raises(sd.ShapeError, match=r"input 'W': expected shape \(2, 3\), got \(3, 2\)"):
        f(np.ones((3, 2)))
    with pytest.raises(ValueError, match="'W'"):
        f(np.ones(6))


def test_generated_names_never_clash_with_user_names():
    t0, t1 = sd.scalar("t0"), sd.scalar("t1")
    f = sd.function([t0, t1], sd.sin(t0) * t1 + sd.cos(t1))
    assert f(0.5, 2.0) == pytest.approx(np.sin(0.5) * 2.0 + np.cos(2.0))


@pytest.mark.parametrize("build,check", [
    (lambda x: sd.sum(sd.sigmoid(x)), lambda g, v: np.all(np.isfinite(g))),
    (lambda x: sd.sum(sd.softplus(x)), lambda g, v: np.allclose(g, v > 0)),
    (lambda x: sd.logsumexp(x), lambda g, v: np.allclose(g, [0.5, 0.0, 0.5])),
    (lambda x: sd.sum(sd.log_softmax(x, axis=0)), lambda g, v: np.all(np.isfinite(g))),
    (lambda x: sd.sum(sd.softmax(x, axis=0) ** 2), lambda g, v: np.all(np.isfinite(g))),
])
def test_stable_forms_at_extremes(build, check):
    x = sd.vector("x")
    cost = build(x)
    f = sd.function([x], [cost, sd.grad(cost, x)])
    v = np.array([1000.0, -1000.0, 1000.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise", under="ignore"):
            value, g = f(v)
    assert np.isfinite(value)
    assert check(g, v)


def test_values_match_the_interpreter_with_unknown_shapes():
    X, w = sd.matrix("X"), sd.vector("w")
    cost = sd.mean(sd.logsumexp(sd.outer(X @ w, w), axis=1)) + sd.max(X)
    grads = sd.grad(cost, [X, w])
    rng = np.random.default_rng(3)
    env = {"X": rng.normal(size=(5, 4)), "w": rng.normal(size=4)}
    f = sd.function([X, w], [cost, *grads])
    for got, want in zip(f(**env), sd.evaluate([cost, *grads], env)):
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_scalar_outputs_are_numpy_scalars_of_one_type():
    s = sd.scalar("s")
    outputs = [sd.sin(s), sd.grad(0.0 * s + 2.0, s), s, sd.where(s > 0, s, 1.0),
               sd.reshape(sd.reshape(s, (1,)), ())]
    for optimize in (True, False):
        got = sd.function([s], outputs, optimize=optimize)(0.3)
        assert [type(g) for g in got] == [np.float64] * len(outputs), got


# -- faster forms: each is checked against plain NumPy on the shapes that select it --

@pytest.mark.parametrize("shape", [(2, 3), (300, 10), (300, 40), (5, 2000), (3, 3000)])
@pytest.mark.parametrize("axis", [0, 1])
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_row_and_column_sums_match_numpy(shape, axis, keepdims, dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    for declared in (None, shape):
        X = sd.matrix("X", dtype=dtype, shape=declared)
        f = sd.function([X], [sd.sum(X, axis=axis, keepdims=keepdims),
                              sd.mean(X, axis=axis, keepdims=keepdims)])
        total, avg = f(x)
        assert total.dtype == avg.dtype == np.dtype(dtype)
        tol = 1e-12 if dtype == "float64" else 1e-4
        np.testing.assert_allclose(total, x.sum(axis=axis, keepdims=keepdims), rtol=tol,
                                   atol=tol * shape[axis])
        np.testing.assert_allclose(avg, x.mean(axis=axis, keepdims=keepdims), rtol=tol,
                                   atol=tol)


def test_integer_sums_stay_reductions():
    X = sd.matrix("X", dtype="int64")
    f = sd.function([X], sd.sum(X, axis=0))
    assert "np.add.reduce" in f.source
    x = np.arange(600).reshape(200, 3)
    assert np.array_equal(f(x), x.sum(0)) and f(x).dtype == np.int64


@pytest.mark.parametrize("shape", [(3,), (4, 5), (300, 10), (200, 3)])
def test_logsumexp_and_softmax_share_one_call(shape):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape) * 30
    X = sd.tensor("X", shape=(None,) * len(shape))
    axis = len(shape) - 1
    lse = sd.logsumexp(X, axis=axis)
    g = sd.grad(sd.sum(lse), X)
    f = sd.function([X], [lse, g])
    assert "_logsumexp_softmax(" in f.source
    value, grad = f(x)
    m = x.max(axis=axis, keepdims=True)
    e = np.exp(x - m)
    np.testing.assert_allclose(value, np.log(e.sum(axis=axis)) + m.squeeze(axis), rtol=1e-13)
    np.testing.assert_allclose(grad, e / e.sum(axis=axis, keepdims=True), rtol=1e-13)
    # the separate functions give the same numbers
    alone = sd.function([X], lse)(x), sd.function([X], sd.softmax(X, axis=axis))(x)
    np.testing.assert_allclose(alone[0], value, rtol=1e-15)
    np.testing.assert_allclose(alone[1], grad, rtol=1e-15)


def test_narrow_row_max_handles_nan_and_infinite_rows():
    x = np.random.default_rng(2).standard_normal((200, 4))
    x[3] = -np.inf
    x[5, 1] = np.inf
    x[7, 2] = np.nan
    X = sd.matrix("X")
    f = sd.function([X], [sd.logsumexp(X, axis=1), sd.softmax(X, axis=1)])
    with np.errstate(invalid="ignore", divide="ignore"):
        lse, sm = f(x)
    assert lse[3] == -np.inf and lse[5] == np.inf and np.isnan(lse[7])
    assert np.isnan(sm[7]).all()
    ok = np.ones(200, bool)
    ok[[3, 5, 7]] = False
    m = x[ok].max(axis=1, keepdims=True)
    e = np.exp(x[ok] - m)
    np.testing.assert_allclose(lse[ok], np.log(e.sum(1)) + m[:, 0], rtol=1e-13)
    np.testing.assert_allclose(sm[ok], e / e.sum(1, keepdims=True), rtol=1e-13)


def test_small_products_use_ndarray_dot_and_outer_broadcasts():
    x, y = sd.vector("x"), sd.vector("y")
    A = sd.matrix("A")
    f = sd.function([A, x, y], [A @ x, sd.outer(x, y), x @ y])
    assert "A.dot(x)" in f.source and "[:, None] *" in f.source
    rng = np.random.default_rng(3)
    a, u, v = rng.standard_normal((3, 3)), rng.standard_normal(3), rng.standard_normal(3)
    r = f(a, u, v)
    np.testing.assert_allclose(r[0], a @ u)
    np.testing.assert_allclose(r[1], np.outer(u, v))
    np.testing.assert_allclose(r[2], u @ v)


def test_slice_adjoints_add_into_one_array():
    x = sd.vector("x")
    cost = sd.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)
    f = sd.function([x], sd.grad(cost, x))
    assert f.source.count("np.zeros(") == 1 and "[1:] += " in f.source
    a = np.random.default_rng(4).uniform(-1.5, 1.5, 50)
    want = np.zeros_like(a)        # the Rosenbrock gradient, written out
    want[:-1] = -400 * a[:-1] * (a[1:] - a[:-1] ** 2) - 2 * (1 - a[:-1])
    want[1:] += 200 * (a[1:] - a[:-1] ** 2)
    np.testing.assert_allclose(f(a), want, rtol=1e-12)


def test_add_at_copies_an_operand_that_is_still_needed():
    from symdiff.ops.slicing import add_at
    v, w = sd.vector("v", 4), sd.vector("w", 3)
    s = sd.sin(v)
    f = sd.function([v, w], [s, add_at(s, w, (slice(1, None),)), add_at(s, w[0], (0,))])
    a, b = np.arange(4.0), np.array([1.0, 2.0, 3.0])
    s_out, added, first = f(a, b)
    np.testing.assert_array_equal(s_out, np.sin(a))
    np.testing.assert_array_equal(added, np.sin(a) + np.r_[0.0, b])
    np.testing.assert_array_equal(first, np.sin(a) + np.r_[1.0, 0, 0, 0])
    with pytest.raises(sd.ShapeError):
        add_at(s, sd.vector("u", 2), (slice(1, None),))


def _peak_bytes(fn, *args):
    import tracemalloc
    fn(*args)                      # warm: caches and lazily built helpers
    tracemalloc.start()
    try:
        fn(*args)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_peak_memory_is_no_more_than_hand_written_backprop():
    """Temporaries are freed after their last use: one call of the compiled gradient of
    an L2-regularized sigmoid layer holds no more memory than the NumPy code a careful
    person writes (which frees each temporary as soon as it is unreferenced)."""
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((256, 300)), rng.standard_normal((256, 40))
    w1, w2 = rng.standard_normal((300, 200)) * 0.05, rng.standard_normal((200, 40)) * 0.05

    def hand(X, Y, W1, W2):
        h = 1.0 / (1.0 + np.exp(-(X @ W1)))
        d = h @ W2 - Y
        loss = np.vdot(d, d) / d.size + 1e-4 * np.vdot(W1, W1)
        g_out = (2.0 / d.size) * d
        g_h = (g_out @ W2.T) * h * (1.0 - h)
        return loss, X.T @ g_h + 2e-4 * W1, h.T @ g_out

    X, Y, W1, W2 = (sd.matrix(n) for n in ("X", "Y", "W1", "W2"))
    cost = sd.mean((sd.sigmoid(X @ W1) @ W2 - Y) ** 2) + 1e-4 * sd.sum(W1 ** 2)
    f = sd.function([X, Y, W1, W2], [cost, *sd.grad(cost, [W1, W2])])
    for got, want in zip(f(x, y, w1, w2), hand(x, y, w1, w2)):
        np.testing.assert_allclose(got, want, rtol=1e-9)
    assert "del " in f.source
    assert _peak_bytes(f, x, y, w1, w2) <= _peak_bytes(hand, x, y, w1, w2)


def test_softmax_cross_entropy_is_as_tight_as_by_hand():
    rng = np.random.default_rng(6)
    x, w, b = rng.standard_normal((300, 7)), rng.standard_normal((7, 4)), rng.standard_normal(4)
    y = np.eye(4)[rng.integers(0, 4, 300)]
    X, Y, W, B = sd.matrix("X"), sd.matrix("Y"), sd.matrix("W"), sd.vector("b")
    z = X @ W + B
    cost = sd.mean(sd.logsumexp(z, axis=1) - sd.sum(Y * z, axis=1))
    f = sd.function([X, Y, W, B], [cost, *sd.grad(cost, [W, B])])
    zz = x @ w + b
    e = np.exp(zz - zz.max(1, keepdims=True))
    p = e / e.sum(1, keepdims=True)
    want = [np.mean(np.log(e.sum(1)) + zz.max(1) - (y * zz).sum(1)),
            x.T @ (p - y) / 300, (p - y).sum(0) / 300]
    for got, ref in zip(f(x, y, w, b), want):
        np.testing.assert_allclose(got, ref, rtol=1e-11)
    src = f.source
    # one pass of exponentials for the value and the gradient; Y . z as one dot
    assert "= _logsumexp_softmax(" in src and "_logsumexp(" not in src
    assert "Y * " not in src and "* Y" not in src


# -- buffers kept between calls ------------------------------------------------------

def _layer():
    X, W, V = sd.matrix("X"), sd.matrix("W"), sd.matrix("V")
    cost = sd.sum(sd.sigmoid(X @ W) @ V) + 1e-3 * sd.sum(W ** 2)
    return [X, W, V], [cost, *sd.grad(cost, [W, V])]


def _layer_by_hand(x, w, v):
    h = 1.0 / (1.0 + np.exp(-(x @ w)))
    g_h = np.ones((x.shape[0], v.shape[1])) @ v.T * h * (1 - h)
    return [np.sum(h @ v) + 1e-3 * np.vdot(w, w), x.T @ g_h + 2e-3 * w,
            h.T @ np.ones((x.shape[0], v.shape[1]))]


def test_big_temporaries_are_kept_and_outputs_stay_fresh():
    inputs, outputs = _layer()
    f = sd.function(inputs, outputs)
    assert "_kept(" in f.source and ".size >= " in f.source
    rng = np.random.default_rng(7)
    big = [rng.standard_normal((300, 200)), rng.standard_normal((200, 150)) * 0.1,
           rng.standard_normal((150, 4))]
    small = [a[:5, :5] for a in big]
    for args in (big, small, big):
        first = f(*args)
        saved = [np.array(o) for o in first]
        second = f(*[a * 1.5 for a in args])   # same shapes: the kept buffers are reused
        for got, keep, want in zip(first, saved, _layer_by_hand(*args)):
            np.testing.assert_array_equal(got, keep)      # not overwritten by the next call
            np.testing.assert_allclose(got, want, rtol=1e-9)
        for a, b in zip(first, second):
            assert not np.shares_memory(a, b)
    assert f.kept_bytes >= 300 * 150 * 8, "big temporaries are kept for the next call"
    f.release_buffers()
    assert f.kept_bytes == 0
    np.testing.assert_allclose(f(*big)[1], _layer_by_hand(*big)[1], rtol=1e-9)


def test_stacked_matmuls_are_not_kept_as_dots():
    A, B = sd.tensor("A", shape=(40, 30, 20)), sd.tensor("B", shape=(40, 20, 25))
    f = sd.function([A, B], sd.sum(sd.tanh(A @ B)))
    rng = np.random.default_rng(10)
    a, b = rng.standard_normal((40, 30, 20)), rng.standard_normal((40, 20, 25))
    np.testing.assert_allclose(f(a, b), np.tanh(a @ b).sum(), rtol=1e-12)


def test_kept_buffers_are_safe_across_threads():
    from concurrent.futures import ThreadPoolExecutor
    inputs, outputs = _layer()
    f = sd.function(inputs, outputs)
    rng = np.random.default_rng(8)
    cases = [[rng.standard_normal((200, 120)), rng.standard_normal((120, 130)) * 0.1,
              rng.standard_normal((130, 3))] for _ in range(6)]
    want = [_layer_by_hand(*c) for c in cases]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda c: f(*c), cases * 5))
    for k, got in enumerate(results):
        for a, b in zip(got, want[k % len(cases)]):
            np.testing.assert_allclose(a, b, rtol=1e-9)


def test_static_big_shapes_keep_without_a_size_test():
    X, W = sd.matrix("X", shape=(300, 100)), sd.matrix("W", shape=(100, 80))
    cost = sd.sum(sd.tanh(X @ W))
    f = sd.function([X, W], [cost, sd.grad(cost, W)])
    assert "_kept(" in f.source and ".size >= " not in f.source
    x, w = np.random.default_rng(9).standard_normal((300, 100)), np.full((100, 80), 0.01)
    t = np.tanh(x @ w)
    np.testing.assert_allclose(f(x, w)[1], x.T @ (1 - t ** 2), rtol=1e-12)
    A = sd.matrix("A", shape=(3, 3))
    assert "_kept(" not in sd.function([A], sd.sum(sd.tanh(A @ A))).source


def test_big_static_shapes_of_every_kind_compile():
    """Big temporaries made by ops without an out= form (helpers, reductions, where)
    are left to their own allocation."""
    X = sd.matrix("X", shape=(200, 100))
    T = sd.tensor("T", shape=(200, 100, 2))
    K = sd.matrix("K", dtype="int64", shape=(100, 200))
    parts = [sd.softmax(X, axis=1), sd.sum(T, axis=2), sd.where(X > 0, X, 0.0),
             (X @ K)[:, :100], sd.exp(X) + X]
    f = sd.function([X, T, K], [sd.sum(sd.sin(p)) for p in parts])
    rng = np.random.default_rng(12)
    x, t = rng.standard_normal((200, 100)), rng.standard_normal((200, 100, 2))
    k = np.arange(20000).reshape(100, 200) % 7
    e = np.exp(x - x.max(1, keepdims=True))
    want = [e / e.sum(1, keepdims=True), t.sum(2), np.where(x > 0, x, 0.0),
            (x @ k)[:, :100], np.exp(x) + x]
    for _ in range(2):
        for got, ref in zip(f(x, t, k), want):
            np.testing.assert_allclose(got, np.sin(ref).sum(), rtol=1e-10)


# -- the source stands alone; readable code --------------------------------------------

def _standalone_cases():
    """(inputs, outputs, arguments): kept buffers with a size test, Python floats with
    their NumPy fallback, run-time helpers, named constants (float32 and arrays)."""
    rng = np.random.default_rng(11)
    inputs, outputs = _layer()
    yield "kept", inputs, outputs, [rng.standard_normal((300, 200)),
                                    rng.standard_normal((200, 150)) * 0.1,
                                    rng.standard_normal((150, 4))]
    x, y = sd.scalar("x"), sd.scalar("y")
    u = x
    for _ in range(5):
        u = sd.sin(u) * sd.exp(0.1 * y) + sd.log1p(u * u)
    yield "floats", [x, y], [u, *sd.grad(u, [x, y])], [0.3, 1.5]
    X = sd.matrix("X")
    lse = sd.logsumexp(X, axis=1)
    yield "helpers", [X], [lse, sd.grad(sd.sum(lse), X), sd.log_softmax(X, axis=0)], \
        [rng.standard_normal((7, 3)) * 30]
    v, s32 = sd.vector("v", 3), sd.vector("s", 3, dtype="float32")
    c = sd.constant(np.array([1.0, -np.inf, 2.5]))
    c32 = sd.constant(np.float32(0.1))
    cost = sd.sum(sd.exp(sd.maximum(v, c))) + sd.sum(s32 * c32)
    yield "constants", [v, s32], [cost, sd.grad(cost, v), s32 * c32], \
        [np.array([0.5, -1.0, 3.0]), np.arange(3, dtype=np.float32)]


@pytest.mark.parametrize("case", list(_standalone_cases()), ids=lambda c: c[0])
@pytest.mark.parametrize("readable", [False, True])
def test_source_runs_on_its_own(case, readable):
    """exec(f.source) in an empty namespace defines the same function: it imports what
    it uses (NumPy, symdiff.runtime) and defines its constants."""
    _, inputs, outputs, args = case
    f = sd.function(inputs, outputs, readable=readable)
    namespace: dict = {}
    exec(f.source, namespace)
    again = namespace[f.name]
    for _ in range(2):   # the second call reuses kept buffers
        for got, want in zip(again(*args), f(*args)):
            np.testing.assert_array_equal(got, want)
            assert np.asarray(got).dtype == np.asarray(want).dtype
    for got, want in zip(f(*args), sd.evaluate(outputs, dict(zip(inputs, args)))):
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_readable_code_makes_a_new_array_for_every_node():
    inputs, outputs = _layer()
    fast, readable = sd.function(inputs, outputs), sd.function(inputs, outputs,
                                                               readable=True)
    assert "_kept(" in fast.source and "out=" in fast.source and "del " in fast.source
    src = readable.source
    body = src.split(f"def {readable.name}(")[1]
    assert readable.source.count("\ndef ") == 1, "one function, no second copy"
    for form in ("out=", "_kept(", "_pool", "del ", "+=", "-=", "*=", "/="):
        assert form not in body, form
    # one assignment to a new name per computed node
    names = re.findall(r"^    (t\d+) = ", body, re.M)
    assert len(names) == len(set(names)) > 5
    rng = np.random.default_rng(13)
    args = [rng.standard_normal((300, 200)), rng.standard_normal((200, 150)) * 0.1,
            rng.standard_normal((150, 4))]
    for got, want in zip(readable(*args), _layer_by_hand(*args)):
        np.testing.assert_allclose(got, want, rtol=1e-9)
    assert readable.kept_bytes == 0


def test_readable_scalar_code_stays_in_numpy():
    x = sd.scalar("x")
    u = x
    for _ in range(10):
        u = sd.sin(u) + 0.5 * u
    f = sd.function([x], [u, sd.grad(u, x)], readable=True)
    assert "math." not in f.source and "try:" not in f.source
    value, slope = f(0.7)
    want, dwant = 0.7, 1.0
    for _ in range(10):
        want, dwant = np.sin(want) + 0.5 * want, (np.cos(want) + 0.5) * dwant
    assert value == pytest.approx(want, rel=1e-14) and slope == pytest.approx(dwant, rel=1e-13)


def test_module_source_stands_alone_with_array_helpers():
    """module_source copies the run-time functions it needs (from symdiff.runtime, the
    same definitions) into a module that imports only NumPy."""
    import inspect as _inspect

    from symdiff import runtime
    from symdiff.codegen import module_source
    X = sd.matrix("X")
    lse = sd.logsumexp(X, axis=1)
    text = module_source([X], [sd.sum(lse), sd.grad(sd.sum(lse), X)], "value_and_grad")
    assert "symdiff" not in text.replace("Generated by symdiff.", "")
    assert _inspect.getsource(runtime._logsumexp_softmax) in text
    namespace: dict = {}
    exec(text, namespace)
    x = np.random.default_rng(14).standard_normal((6, 4)) * 50
    value, grad = namespace["value_and_grad"](x)
    m = x.max(axis=1, keepdims=True)
    e = np.exp(x - m)
    np.testing.assert_allclose(value, np.sum(np.log(e.sum(1)) + m[:, 0]), rtol=1e-13)
    np.testing.assert_allclose(grad, e / e.sum(1, keepdims=True), rtol=1e-13)
    with pytest.raises(ValueError, match="expected shape"):
        namespace["value_and_grad"](np.ones(3))
    assert issubclass(namespace["ShapeError"], ValueError)


def test_codegen_reads_op_properties_as_fields():
    """What the memory plan asks of an op is a field of its record, set where the op is
    declared: no lookups with a default, no side tables keyed by op name."""
    import dataclasses
    import pathlib

    from symdiff.ops import OPS, Op
    fields = {f.name for f in dataclasses.fields(Op)}
    assert {"block", "fresh", "overwrites_first", "view", "array_0d", "helpers"} <= fields
    assert OPS["embed"].block and OPS["embed"].fresh and OPS["add_at"].overwrites_first
    assert OPS["band_matrix"].block is not None
    assert {n for n, op in OPS.items() if op.view} == {
        "getitem", "transpose", "reshape", "reshape_like", "broadcast_to", "broadcast_like",
        "expand_dims", "squeeze", "concat_part"}
    codegen = pathlib.Path(sd.__file__).parent / "codegen"
    for path in codegen.glob("*.py"):
        text = path.read_text()
        assert "getattr(" not in text, path.name
        assert "VIEW_OPS" not in text and "ARRAY_0D_OPS" not in text, path.name


def test_wrong_argument_shapes_raise_the_same_error_compiled_and_interpreted():
    W = sd.matrix("W", shape=(2, None))
    for run in (sd.function([W], sd.sum(W)), lambda w: sd.evaluate(sd.sum(W), {"W": w})):
        with pytest.raises(sd.ShapeError, match=r"input 'W': expected shape \(2, \?\), "
                                                r"got \(3, 2\)"):
            run(np.ones((3, 2)))
