"""sd.grad / sd.value_and_grad on NumPy-style Python functions, read from their source.

Oracles: central finite differences of the function run on NumPy arrays (our own,
element by element, and ``symdiff.testing.check_grads``), the published numbers
of the 2-2-2 backpropagation worked example, and the graph built by running the
function on symdiff variables (``__array_ufunc__``), which must be the same
hash-consed node as the one read from the source.
"""
import inspect

import numpy as np
import pytest

import symdiff as sd
from symdiff import frontend, pyfunc
from symdiff.testing import check_grads

import fn_corpus
from fn_corpus import CASES, sample_args


def numeric_grad(fn, args, i, eps=1e-6):
    """d fn / d args[i] by central differences, one element at a time (float64)."""
    x = np.array(args[i], dtype=float)
    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        values = []
        for step in (eps, -eps):
            moved = x.copy()
            moved[idx] += step
            new = list(args)
            new[i] = moved if x.ndim else float(moved)
            values.append(float(fn(*new)))
        g[idx] = (values[0] - values[1]) / (2 * eps)
    return g


def as_tuple(argnums):
    return (argnums,) if isinstance(argnums, int) else tuple(argnums)


# ---------------------------------------------------------------------------
# the corpus

@pytest.mark.parametrize("name", sorted(CASES))
def test_corpus_gradient_matches_central_differences(name):
    fn, shapes, argnums = CASES[name]
    args = sample_args(shapes, seed=1)
    grads = sd.grad(fn, argnums=argnums)(*args)
    grads = (grads,) if isinstance(argnums, int) else grads
    assert len(grads) == len(as_tuple(argnums))
    for i, g in zip(as_tuple(argnums), grads):
        want = numeric_grad(fn, args, i)
        assert np.shape(g) == np.shape(args[i])
        np.testing.assert_allclose(g, want, rtol=1e-5, atol=1e-7,
                                   err_msg=f"{name}: d/d argument {i}")


@pytest.mark.parametrize("name", sorted(CASES))
def test_corpus_check_grads(name):
    fn, shapes, argnums = CASES[name]
    check_grads(fn, sample_args(shapes, seed=2), argnums=argnums)


@pytest.mark.parametrize("name", sorted(CASES))
def test_corpus_value_matches_numpy(name):
    fn, shapes, argnums = CASES[name]
    args = sample_args(shapes, seed=3)
    value, _ = sd.value_and_grad(fn, argnums=argnums)(*args)
    np.testing.assert_allclose(value, fn(*args), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", sorted(CASES))
def test_corpus_source_and_tracing_build_the_same_graph(name):
    fn, shapes, _ = CASES[name]
    params = list(inspect.signature(fn).parameters)
    variables = [sd.var(p, shape) for p, shape in zip(params, shapes)]
    read = frontend.parse_function(fn, *variables)
    traced = fn(*variables)            # NumPy's protocols build nodes
    assert isinstance(read, sd.Expr)
    assert read is traced


def test_tracing_route_really_differs_when_the_function_differs():
    # The identity check above can fail: two different functions give two nodes.
    x = sd.var("x", (4,))
    assert frontend.parse_function(fn_corpus.l2_norm, x) is not fn_corpus.rosenbrock(
        sd.var("x", (4,)))
    assert frontend.parse_function(fn_corpus.l2_norm, x) is not np.sqrt(np.sum(x ** 3))


# ---------------------------------------------------------------------------
# the 2-2-2 worked example, three ways

X = np.array([0.05, 0.10])
W1 = np.array([[0.15, 0.20], [0.25, 0.30]])
B1 = 0.35
W2 = np.array([[0.40, 0.45], [0.50, 0.55]])
B2 = 0.60
T = np.array([0.01, 0.99])


def loss(W1, b1, W2, b2, x, t):
    h = 1 / (1 + np.exp(-(W1 @ x + b1)))
    o = 1 / (1 + np.exp(-(W2 @ h + b2)))
    return np.sum(0.5 * (t - o) ** 2)


def test_worked_example_three_ways():
    w1, w2 = sd.matrix("W1", (2, 2)), sd.matrix("W2", (2, 2))
    b1, b2 = sd.scalar("b1"), sd.scalar("b2")
    x, t = sd.vector("x", (2,)), sd.vector("t", (2,))

    # 1. operators
    o = sd.sigmoid(w2 @ sd.sigmoid(w1 @ x + b1) + b2)
    E = sd.sum(0.5 * (t - o) ** 2)
    f = sd.function([w1, b1, w2, b2, x, t], [E, *sd.grad(E, [w1, b1, w2, b2])])
    by_operators = f(W1, B1, W2, B2, X, T)

    # 2. one string
    parsed = sd.parse("sum(0.5*(t - sigmoid(W2 @ sigmoid(W1 @ x + b1) + b2))**2)",
                      W1=(2, 2), b1=(), W2=(2, 2), b2=(), x=(2,), t=(2,))
    assert parsed is E
    g = sd.function([w1, b1, w2, b2, x, t], [parsed, *sd.grad(parsed, [w1, b1, w2, b2])])
    by_text = g(W1, B1, W2, B2, X, T)

    # 3. a plain NumPy function
    value, grads = sd.value_and_grad(loss, argnums=(0, 1, 2, 3))(W1, B1, W2, B2, X, T)
    by_function = (value, *grads)

    for a, b, c in zip(by_operators, by_text, by_function):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(a, c, rtol=1e-13, atol=1e-15)
    # The published numbers: E_total, dE/dw5 (W2[0, 0]) and dE/dw1 (W1[0, 0]).
    assert abs(by_function[0] - 0.298371109) < 1e-9
    assert abs(by_function[3][0, 0] - 0.082167041) < 1e-9
    assert abs(by_function[1][0, 0] - 0.000438568) < 1e-9
    for i in range(4):
        np.testing.assert_allclose(grads[i], numeric_grad(loss, [W1, B1, W2, B2, X, T], i),
                                   rtol=1e-6, atol=1e-9)


# ---------------------------------------------------------------------------
# jax.grad semantics

def f_xy(x, y):
    return np.sum(x ** 2 * y) + np.sum(np.sin(y))


def test_argnums_int_gives_one_array_and_tuple_gives_tuple():
    x, y = np.array([1.0, 2.0]), np.array([0.5, -1.0])
    gx = sd.grad(f_xy)(x, y)
    assert isinstance(gx, np.ndarray) and gx.shape == (2,)
    np.testing.assert_allclose(gx, 2 * x * y)
    gy = sd.grad(f_xy, argnums=1)(x, y)
    np.testing.assert_allclose(gy, x ** 2 + np.cos(y))
    both = sd.grad(f_xy, argnums=(1, 0))(x, y)
    assert isinstance(both, tuple) and len(both) == 2
    np.testing.assert_allclose(both[0], gy)
    np.testing.assert_allclose(both[1], gx)
    np.testing.assert_allclose(sd.grad(f_xy, argnums=-1)(x, y), gy)


def test_value_and_grad():
    x, y = np.array([1.0, 2.0]), np.array([0.5, -1.0])
    value, g = sd.value_and_grad(f_xy, argnums=(0, 1))(x, y)
    assert value == pytest.approx(f_xy(x, y), rel=1e-14)
    np.testing.assert_allclose(g[0], 2 * x * y)
    value, g = sd.value_and_grad(f_xy)(x, y)
    np.testing.assert_allclose(g, 2 * x * y)


def with_aux(x):
    y = np.tanh(x)
    return np.sum(y ** 2), (y, 3.0)


def test_has_aux():
    x = np.array([0.1, -0.4, 0.7])
    g, aux = sd.grad(with_aux, has_aux=True)(x)
    np.testing.assert_allclose(g, 2 * np.tanh(x) * (1 - np.tanh(x) ** 2))
    np.testing.assert_allclose(aux[0], np.tanh(x))
    assert aux[1] == 3.0
    (value, aux), g2 = sd.value_and_grad(with_aux, has_aux=True)(x)
    assert value == pytest.approx(np.sum(np.tanh(x) ** 2))
    np.testing.assert_allclose(g2, g)


def test_has_aux_requires_a_pair():
    with pytest.raises(sd.DiffError, match="pair"):
        sd.grad(fn_corpus.l2_norm, has_aux=True)(np.ones(3))


def test_keywords_defaults_and_python_scalars():
    X = np.arange(6.0).reshape(3, 2) / 5
    y = np.array([0.5, -0.1, 0.3])
    w = np.array([0.2, -0.7])
    g = sd.grad(fn_corpus.ridge)(w, X, y)
    np.testing.assert_allclose(g, numeric_grad(fn_corpus.ridge, [w, X, y], 0), rtol=1e-6)
    g2 = sd.grad(fn_corpus.ridge)(w, X=X, y=y, lam=0.5)
    np.testing.assert_allclose(
        g2, numeric_grad(lambda w, X, y: fn_corpus.ridge(w, X, y, 0.5), [w, X, y], 0),
        rtol=1e-6)
    # a Python float argument is a 0-d float64 variable
    assert float(sd.grad(fn_corpus.trig_mix)(0.3, 0.2)) == pytest.approx(
        float(numeric_grad(fn_corpus.trig_mix, [0.3, 0.2], 0)), rel=1e-7)


def tuple_params(params, x):
    W, b = params
    return np.sum(np.tanh(W @ x + b) ** 2)


def test_tuple_and_list_arguments_are_trees():
    W, b, x = np.ones((2, 3)) * 0.1, np.array([0.2, -0.3]), np.array([1.0, 2.0, 3.0])
    gW, gb = sd.grad(tuple_params)((W, b), x)
    assert gW.shape == (2, 3) and gb.shape == (2,)
    np.testing.assert_allclose(gb, numeric_grad(lambda b: tuple_params((W, b), x), [b], 0),
                               rtol=1e-6)
    as_list = sd.grad(tuple_params)([W, b], x)
    assert isinstance(as_list, list)
    np.testing.assert_allclose(as_list[0], gW)


def test_lambda_and_closure():
    scale = 3.0
    np.testing.assert_allclose(sd.grad(lambda x: np.sum(x ** 2) * scale)(np.array([1.0, 2.0])),
                               [6.0, 12.0])

    def inner(x):
        return scale * np.sum(np.exp(x))
    np.testing.assert_allclose(sd.grad(inner)(np.zeros(2)), [3.0, 3.0])


def unused_argument(x, y):
    return np.sum(x ** 2)


def test_gradient_of_an_unused_argument_is_zero():
    gy = sd.grad(unused_argument, argnums=1)(np.ones(2), np.ones((3, 2)))
    np.testing.assert_array_equal(gy, np.zeros((3, 2)))


def test_integer_arguments_cannot_be_differentiated():
    with pytest.raises(sd.DiffError, match="int64"):
        sd.grad(fn_corpus.l2_norm)(np.arange(3))
    with pytest.raises(sd.DiffError, match="floating-point"):
        sd.grad(fn_corpus.l2_norm)(np.array([1, 2], dtype=np.int32))
    # integer arguments that are not differentiated are fine
    g = sd.grad(lambda x, n: np.sum(x * n))(np.ones(2), np.array([2, 3]))
    np.testing.assert_allclose(g, [2.0, 3.0])


def vector_output(x):
    return x ** 2


def test_non_scalar_output_is_a_diff_error():
    with pytest.raises(sd.DiffError, match=r"scalar \(0-d\).*\(3,\)"):
        sd.grad(vector_output)(np.ones(3))


def test_bad_argnums():
    with pytest.raises(sd.DiffError, match="out of range"):
        sd.grad(f_xy, argnums=2)
    with pytest.raises(sd.DiffError, match="ints"):
        sd.grad(f_xy, argnums="x")
    with pytest.raises(TypeError, match="f_xy"):
        sd.grad(f_xy)(np.ones(2))


def reserved_names(t0, math, asarray, *, scale=2.0):
    return scale * np.sum(t0 * math * asarray)


def test_parameter_names_that_generated_code_uses_and_keyword_only_parameters():
    g = sd.grad(reserved_names, argnums=(0, 1, 2))(1.0, 2.0, np.array([3.0, 1.0]))
    np.testing.assert_allclose(g[0], 16.0)
    np.testing.assert_allclose(g[1], 8.0)
    np.testing.assert_allclose(g[2], [4.0, 4.0])
    g = sd.grad(reserved_names)(1.0, 2.0, np.array([3.0, 1.0]), scale=1.0)
    np.testing.assert_allclose(g, 8.0)


def test_float32_arguments_keep_their_dtype():
    g = sd.grad(fn_corpus.l2_norm)(np.array([3.0, 4.0], dtype=np.float32))
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, [0.6, 0.8], rtol=1e-6)


# ---------------------------------------------------------------------------
# the cache

def test_same_signature_reuses_the_compiled_function(monkeypatch):
    reads = []
    original = frontend.parse_function

    def counting(fn, *args, **kwargs):
        reads.append(fn.__name__)
        return original(fn, *args, **kwargs)

    monkeypatch.setattr(frontend, "parse_function", counting)
    df = sd.grad(fn_corpus.mlp_tanh, argnums=(0, 2))
    args = sample_args(CASES["mlp_tanh"][1])
    assert df.compilations == 0
    first = df(*args)
    assert df.compilations == 1 and reads == ["mlp_tanh"]
    second = df(*sample_args(CASES["mlp_tanh"][1], seed=5))
    assert df.compilations == 1 and reads == ["mlp_tanh"]
    assert not np.allclose(first[0], second[0])   # really recomputed for the new values
    again = df(*args)
    np.testing.assert_array_equal(again[0], first[0])
    # a new shape compiles once more, then is cached too
    bigger = sample_args([(5, 2), (5,), (2, 5), (2,), (2,)])
    df(*bigger)
    df(*bigger)
    assert df.compilations == 2 and df.cache_size == 2 and len(reads) == 2
    # so does a new dtype
    df(*[np.asarray(a, dtype=np.float32) for a in args])
    assert df.compilations == 3


def test_results_are_not_aliased_between_calls():
    df = sd.grad(fn_corpus.l2_norm)
    a = df(np.array([3.0, 4.0]))
    b = df(np.array([1.0, 0.0]))
    np.testing.assert_allclose(a, [0.6, 0.8])
    np.testing.assert_allclose(b, [1.0, 0.0])


def test_compiled_source_is_available():
    df = sd.grad(fn_corpus.rosenbrock)
    source = df.compiled_for(np.ones(4)).source
    assert source.startswith("import numpy as np") and "\ndef " in source and "return" in source
    assert df.compilations == 1


def test_api_dispatches_callables_here():
    assert isinstance(sd.grad(f_xy), pyfunc.GradFunction)
    assert isinstance(sd.value_and_grad(f_xy, argnums=(0, 1)), pyfunc.GradFunction)
