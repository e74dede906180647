"""Compiled functions on Dask arrays: lazy results equal to NumPy's, every input read
once for all outputs, no task holding more than a chunk's worth of rows, a graph
that grows with the number of chunks and not with the number of rows; and the
dispatch rules (NumPy and lists stay on the NumPy code, two libraries are refused).
"""
import numpy as np
import pytest

import symdiff as sd
from symdiff.errors import ArgumentTypeError, SymdiffError

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
pytest.importorskip("array_api_compat")
from dask.callbacks import Callback  # noqa: E402


def logistic(name=None):
    X, y, w = sd.matrix("X"), sd.vector("y"), sd.vector("w")
    z = X @ w
    loss = sd.mean(sd.softplus(z) - y * z)
    return sd.function([X, y, w], [loss, sd.grad(loss, w)], name=name)


def data(rows=2000, cols=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, cols))
    y = (rng.random(rows) < 0.5).astype(float)
    return X, y, rng.normal(size=cols)


def logistic_oracle(X, y, w):
    """Loss and gradient written out by hand (the textbook formulas)."""
    z = X @ w
    p = 1 / (1 + np.exp(-z))
    return np.mean(np.logaddexp(0, z) - y * z), X.T @ (p - y) / len(y)


class Reads:
    """An array-like that counts the reads of its rows (as Dask's from_array does them)."""

    def __init__(self, array):
        self.array, self.shape, self.dtype, self.ndim = array, array.shape, array.dtype, array.ndim
        self.reads = 0

    def __getitem__(self, index):
        self.reads += 1
        return self.array[index]


class Largest(Callback):
    """The largest result of any task (bytes)."""

    def __init__(self):
        super().__init__()
        self.largest = 0

    def _posttask(self, key, result, dsk, state, id):
        self.largest = max(self.largest, getattr(result, "nbytes", 0))


def test_dask_results_equal_numpy_and_the_oracle():
    f = logistic()
    X, y, w = data()
    expected = f(X, y, w)
    out = f(da.from_array(X, chunks=(300, 5)), da.from_array(y, chunks=300), w)
    assert all(isinstance(o, da.Array) for o in out)   # lazy
    got = dask.compute(*out, scheduler="sync")
    for g, e, o in zip(got, expected, logistic_oracle(X, y, w)):
        np.testing.assert_allclose(g, e, rtol=1e-12)
        np.testing.assert_allclose(g, o, rtol=1e-10)


def test_softmax_cross_entropy_on_dask():
    X, W, Y = sd.matrix("X"), sd.matrix("W"), sd.matrix("Y")
    logits = X @ W
    loss = sd.sum(sd.logsumexp(logits, axis=1)) - sd.sum(Y * logits)
    f = sd.function([X, W, Y], [loss, sd.grad(loss, W)])
    rng = np.random.default_rng(3)
    Xn, Wn = rng.normal(size=(500, 4)), rng.normal(size=(4, 3))
    Yn = np.eye(3)[rng.integers(0, 3, 500)]
    expected = f(Xn, Wn, Yn)
    got = dask.compute(*f(da.from_array(Xn, chunks=(100, 4)), Wn,
                          da.from_array(Yn, chunks=(100, 3))), scheduler="sync")
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-12)


def test_one_read_of_each_chunk_for_loss_and_gradient():
    f = logistic()
    X, y, w = data(rows=4000)
    source = Reads(X)
    Xd = da.from_array(source, chunks=(500, 5), asarray=False)
    reads_for_metadata = source.reads   # from_array may look at an empty slice
    out = f(Xd, da.from_array(y, chunks=500), w)
    assert source.reads == reads_for_metadata, "calling the function read the data"
    with Largest() as largest:
        dask.compute(*out, scheduler="sync")
    # each chunk once, for both outputs
    assert source.reads - reads_for_metadata == Xd.numblocks[0]
    assert largest.largest <= 500 * 5 * 8           # no task holds more than a chunk


def test_graph_grows_with_chunks_not_rows():
    f = logistic()

    def tasks(rows, chunks):
        X, y, w = data(rows=rows)
        out = f(da.from_array(X, chunks=(rows // chunks, 5)),
                da.from_array(y, chunks=rows // chunks), w)
        if hasattr(dask.base, "collections_to_expr"):   # dask >= 2025
            return len(dict(dask.base.collections_to_expr(out).__dask_graph__()))
        return len(dict(dask.base.collections_to_dsk(out)))

    assert tasks(1000, 4) == tasks(100_000, 4)
    small, big = tasks(4000, 8), tasks(4000, 32)
    assert big < 5 * small   # about linear in the chunks (tree reductions)


def test_numpy_arguments_and_lists_run_the_numpy_code():
    f = logistic(name="numpy_only")   # not the cached function the other tests call
    X, y, w = data(rows=50)
    out = f(X.tolist(), list(y), w)
    assert all(isinstance(o, (np.ndarray, np.floating)) for o in out)
    assert f._portable is None   # the portable variant was never made


def test_two_libraries_in_one_call_are_refused():
    xs = pytest.importorskip("array_api_strict")
    f = logistic()
    X, y, w = data(rows=50)
    with pytest.raises(ArgumentTypeError, match="dask.*'X'.*array-api-strict.*'y'"):
        f(da.from_array(X), xs.asarray(y), w)


def test_unknown_dask_lengths_are_refused():
    f = logistic()
    X, y, w = data(rows=50)
    Xd = da.from_array(X, chunks=10)
    Xd = Xd[Xd[:, 0] > -10]     # lengths unknown until computed
    with pytest.raises(SymdiffError, match="compute_chunk_sizes"):
        f(Xd, y, w)


# -- the function transforms (sd.grad(fn) and the others) on Dask arrays -------------------

def _loss(w, X, y):
    z = X @ w
    return np.mean(np.logaddexp(0, z) - y * z)


def _scores(w, X):
    return np.tanh(X @ w)


TRANSFORMS = {
    "grad": lambda w, X, y: sd.grad(_loss)(w, X, y),
    "grad_wrt_data": lambda w, X, y: sd.grad(_loss, argnums=1)(w, X, y),
    "value_and_grad": lambda w, X, y: sd.value_and_grad(_loss, argnums=(0, 2))(w, X, y),
    "jacobian": lambda w, X, y: sd.jacobian(_scores)(w, X),
    "hessian": lambda w, X, y: sd.hessian(_loss)(w, X, y),
    "jvp": lambda w, X, y: sd.jvp(_scores, (w, X), (np.ones_like(w), X)),
    "vjp": lambda w, X, y: sd.vjp(_scores, w, X)[1](y),
    "pytree": lambda w, X, y: sd.grad(lambda p, y: _loss(p["w"], p["X"], y))({"w": w, "X": X},
                                                                              y),
}


def _leaves(tree):
    if isinstance(tree, dict):
        return [leaf for key in sorted(tree) for leaf in _leaves(tree[key])]
    if isinstance(tree, (tuple, list)):
        return [leaf for item in tree for leaf in _leaves(item)]
    return [tree]


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_function_transforms_on_dask_equal_numpy(name):
    X, y, w = data(rows=120, cols=3, seed=5)
    expected = _leaves(TRANSFORMS[name](w, X, y))
    source = Reads(X)
    Xd = da.from_array(source, chunks=(40, 3), asarray=False)
    reads = source.reads
    got = _leaves(TRANSFORMS[name](w, Xd, da.from_array(y, chunks=40)))
    assert source.reads == reads, "the transform computed its Dask argument"
    assert len(got) == len(expected)
    assert all(isinstance(g, da.Array) for g in got)   # lazy
    for g, e in zip(dask.compute(*got, scheduler="sync"), expected):
        assert not isinstance(e, da.Array)
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-14)
        assert np.shape(g) == np.shape(e)


def test_function_transform_with_unknown_dask_lengths_is_refused():
    X, y, w = data(rows=50)
    Xd = da.from_array(X, chunks=10)
    Xd = Xd[Xd[:, 0] > -10]     # lengths unknown until computed
    with pytest.raises(SymdiffError, match="compute_chunk_sizes"):
        sd.grad(_loss)(w, Xd, y[:1])


def test_a_dask_array_in_a_closure_is_refused_with_a_hint():
    X, y, w = data(rows=50)
    yd = da.from_array(y, chunks=10)
    with pytest.raises(SymdiffError, match="'yd' is a dask array.*pass it as an argument"):
        sd.grad(lambda w, X: _loss(w, X, yd))(w, X)


def test_sigmoid_and_softplus_on_dask_are_exact_at_large_arguments():
    """The Dask forms (one NumPy pass per block) against mpmath, with every NumPy
    warning an error (overflow, invalid), and against array-api-strict's forms."""
    mpmath = pytest.importorskip("mpmath")
    xs = pytest.importorskip("array_api_strict")
    z = sd.vector("z")
    f = sd.function([z], [sd.sigmoid(z), sd.softplus(z)])
    points = np.array([-800.0, -745.0, -60.0, -30.0, -1e-9, 0.0, 3.5, 30.0, 40.0, 800.0])

    def oracle(t):
        with mpmath.workdps(400):   # 1 + e^-800 must not round to 1
            t = mpmath.mpf(t)
            return float(1 / (1 + mpmath.exp(-t))), float(mpmath.log(1 + mpmath.exp(t)))

    want = np.array([oracle(t) for t in points]).T
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        got = dask.compute(*f(da.from_array(points, chunks=4)), scheduler="sync")
    strict = [np.asarray(v) for v in f(xs.asarray(points))]
    for g, s, w in zip(got, strict, want):
        np.testing.assert_allclose(g, w, rtol=4e-16, atol=0)
        np.testing.assert_allclose(s, w, rtol=4e-16, atol=0)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shape", [(), (5,), (2, 3)])
def test_sigmoid_and_softplus_blocks_of_every_rank_and_float_dtype(shape, dtype):
    x = sd.tensor("x", shape=shape, dtype=dtype)
    f = sd.function([x], [sd.sigmoid(x), sd.softplus(x), sd.grad(sd.sum(sd.softplus(x)), x)])
    a = np.linspace(-60, 60, max(1, int(np.prod(shape)))).reshape(shape).astype(dtype)
    expected = f(a)
    got = dask.compute(*f(da.from_array(a)), scheduler="sync")
    for g, e in zip(got, expected):
        assert np.asarray(g).dtype == np.asarray(e).dtype
        np.testing.assert_allclose(g, e, rtol=4 * np.finfo(dtype).eps, atol=0)


def test_the_numpy_path_has_no_wrapper_and_other_classes_still_run_numpy():
    """A compiled function is called as the generated NumPy function itself (its class
    test is its first statement); NumPy subclasses and other numbers run the NumPy code,
    and the source run on its own (NumPy only) computes a Dask argument."""
    f = logistic(name="no_wrapper")
    assert type(f).__call__ is f._fn
    X, y, w = data(rows=40)
    expected = f(X, y, w)

    class Marked(np.ndarray):
        pass

    got = f(X.view(Marked), tuple(y), w.view(Marked))
    for g, e in zip(got, expected):
        assert isinstance(g, (np.ndarray, np.floating))
        np.testing.assert_array_equal(g, e)
    assert f._portable is None   # the portable variant was never made
    namespace: dict = {}
    exec(f.source, namespace)
    alone = namespace["no_wrapper"](da.from_array(X, chunks=10), y, w)
    for g, e in zip(alone, expected):
        assert isinstance(g, (np.ndarray, np.floating))
        np.testing.assert_allclose(g, e, rtol=1e-12)
