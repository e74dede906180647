"""sd.parse: text -> expression, and NumPy's protocols on expressions.

Values are checked against hand-written NumPy; structure by node identity
(nodes are hash-consed, so the same expression built two ways is one object).
"""
import math

import numpy as np
import pytest

import symdiff as sd
from symdiff import frontend


def value(expr, **env):
    return sd.evaluate(expr, env)


# ---------------------------------------------------------------------------
# names, shapes, constants

def test_free_names_are_scalar_float64_variables_shared_with_the_api():
    e = sd.parse("x**2 * sin(x) + y")
    assert sorted(e.vars) == ["x", "y"]
    assert e.vars["x"] is sd.scalar("x")
    assert e.shape == () and e.dtype == np.float64
    assert e is sd.scalar("x") ** 2 * sd.sin(sd.scalar("x")) + sd.scalar("y")


def test_a_name_is_a_function_only_where_it_is_called():
    e = sd.parse("mu + std * z + std(v)", v=(3,))
    assert sorted(e.vars) == ["mu", "std", "v", "z"]
    assert value(e, mu=1.0, std=2.0, z=0.5, v=np.array([1.0, 2.0, 3.0])) == pytest.approx(
        1 + 2 * 0.5 + np.std([1.0, 2.0, 3.0]))


def test_shapes_given_as_keywords():
    e = sd.parse("sum(sigmoid(W @ x + b))", W=(3, 4), x=(4,), b=(3,))
    assert e.vars["W"] is sd.matrix("W", (3, 4))
    assert e.vars["x"].shape == (4,) and e.vars["b"].shape == (3,)
    W, x, b = np.arange(12.0).reshape(3, 4) / 10, np.ones(4), np.array([0.1, -0.2, 0.3])
    assert value(e, W=W, x=x, b=b) == pytest.approx(np.sum(1 / (1 + np.exp(-(W @ x + b)))))
    assert sd.parse("v", v=(None,)).shape == (None,)
    assert sd.parse("n", n=()).shape == ()


def test_bindings_to_expressions_arrays_and_numbers():
    v = sd.vector("v")
    assert sd.parse("exp(v)", v=v) is sd.exp(v)
    e = sd.parse("A @ x + k", A=np.eye(2) * 2, x=(2,), k=1.5)
    assert value(e, x=np.array([1.0, 2.0])) == pytest.approx([3.5, 5.5])
    with pytest.raises(TypeError, match="shape"):
        sd.parse("x", x=(3, -1))
    with pytest.raises(TypeError, match="shape tuple"):
        sd.parse("x", x="3")


def test_constants_pi_e_and_literals():
    assert value(sd.parse("pi * e + 1_000 + 1.5e-3 + .5")) == pytest.approx(
        math.pi * math.e + 1000 + 1.5e-3 + 0.5)
    c = sd.parse("1 + 2")
    assert isinstance(c, sd.Const) and float(c.value) == 3.0
    assert sd.parse("2*3*x") is 6 * sd.scalar("x")      # folded as Python folds it
    assert sd.parse("e", e=(2,)).shape == (2,)           # a keyword wins over the constant


def test_huge_integer_power_is_kept_as_an_expression():
    e = sd.parse("x**10**10")
    assert e is sd.scalar("x") ** 10_000_000_000
    assert value(e, x=1.0) == 1.0
    assert value(e, x=-1.0) == 1.0


# ---------------------------------------------------------------------------
# functions, aliases, keywords, methods

@pytest.mark.parametrize("text, numpy_value", [
    ("np.exp(x) + numpy.log(x)", np.exp(0.3) + np.log(0.3)),
    ("asin(x) + acos(x) + atan(x)", np.arcsin(0.3) + np.arccos(0.3) + np.arctan(0.3)),
    ("Abs(-x) + abs(-x) + np.absolute(-x)", 0.9),
    ("Max(0, x) + Min(x, 1, 0.2) + max(x, 0.5) + min(x, -1)", 0.3 + 0.2 + 0.5 - 1),
    ("ln(x) + np.log1p(x) + np.expm1(x)", np.log(0.3) + np.log1p(0.3) + np.expm1(0.3)),
    ("sqrt(x) + square(x) + sign(-x) + tan(x)", np.sqrt(0.3) + 0.09 - 1 + np.tan(0.3)),
    ("sinh(x) + cosh(x) + tanh(x)", np.sinh(0.3) + np.cosh(0.3) + np.tanh(0.3)),
    ("sigmoid(x) + relu(-x) + softplus(x)", 1 / (1 + np.exp(-0.3)) + np.log1p(np.exp(0.3))),
    ("clip(x, 0, 0.1) + where(x > 0, 1, 2) + np.maximum(x, 0.25)", 0.1 + 1 + 0.3),
    ("pow(x, 2) + x ** -1 + 2 ** x", 0.09 + 1 / 0.3 + 2 ** 0.3),
    ("Heaviside(x, 0) + Heaviside(-x, 1) + Heaviside(x - 0.3) + Heaviside(x - 0.3, 0.25)",
     1 + 0 + 0.5 + 0.25),
])
def test_scalar_functions_and_aliases(text, numpy_value):
    assert value(sd.parse(text), x=0.3) == pytest.approx(numpy_value, rel=1e-12)


def test_reductions_keywords_and_methods():
    W = np.arange(6.0).reshape(2, 3) - 2.5
    shapes = dict(W=(2, 3))
    cases = {
        "sum(W)": W.sum(),
        "sum(W, axis=0)": W.sum(axis=0),
        "np.sum(W, 1, keepdims=True)": W.sum(1, keepdims=True),
        "mean(W, axis=(0, 1))": W.mean(),
        "max(W)": W.max(),
        "max(W, axis=1)": W.max(axis=1),
        "np.min(W, axis=0)": W.min(axis=0),
        "prod(W + 3, axis=0)": (W + 3).prod(axis=0),
        "W.sum()": W.sum(),
        "W.mean(axis=0)": W.mean(axis=0),
        "W.T @ W": W.T @ W,
        "W.reshape(3, 2)": W.reshape(3, 2),
        "W.reshape((6,))": W.reshape(6),
        "W.transpose(1, 0)": W.T,
        "np.transpose(W)": W.T,
        "logsumexp(W, axis=1)": np.log(np.exp(W).sum(axis=1)),
        "softmax(W, axis=1)": np.exp(W) / np.exp(W).sum(axis=1, keepdims=True),
        "concatenate([W, W], axis=0)": np.concatenate([W, W]),
        "stack((W[0], W[1]), axis=1)": np.stack((W[0], W[1]), axis=1),
        "np.linalg.norm(W)": np.linalg.norm(W),
        "outer(W[0], W[1])": np.outer(W[0], W[1]),
        "dot(W[0], W[1])": W[0] @ W[1],
    }
    for text, want in cases.items():
        got = value(sd.parse(text, **shapes), W=W)
        np.testing.assert_allclose(got, want, rtol=1e-12, err_msg=text)


def test_indexing_and_slicing():
    x = np.arange(10.0)
    A = np.arange(12.0).reshape(3, 4)
    cases = {
        "x[0]": x[0], "x[-1]": x[-1], "x[2:5]": x[2:5], "x[::3]": x[::3], "x[-3:]": x[-3:],
        "x[None, 1:3]": x[None, 1:3], "A[1]": A[1], "A[:, 1]": A[:, 1], "A[1:, ::2]": A[1:, ::2],
        "A[..., 0]": A[..., 0], "A[:, None, 2]": A[:, None, 2], "A[-1, -2]": A[-1, -2],
    }
    for text, want in cases.items():
        got = value(sd.parse(text, x=(10,), A=(3, 4)), x=x, A=A)
        np.testing.assert_array_equal(got, want, err_msg=text)


def test_comparisons_build_nodes_for_where():
    e = sd.parse("where(x >= 0, x, 0.1 * x) + where(x != 2, 1, 0)", x=(3,))
    np.testing.assert_allclose(value(e, x=np.array([-1.0, 2.0, 3.0])), [0.9, 2.0, 4.0])


def test_leading_whitespace_and_parentheses():
    assert sd.parse("   (x +\n y)") is sd.scalar("x") + sd.scalar("y")


# ---------------------------------------------------------------------------
# str(expr) reads back to the same function

x_, v_, W_ = sd.scalar("x"), sd.vector("v", (3,)), sd.matrix("W", (2, 3))
ROUND_TRIP = [
    x_ ** 2 * sd.sin(x_), sd.sigmoid(x_), sd.log1p(x_), sd.expm1(x_), sd.relu(x_),
    sd.softplus(x_), sd.maximum(0, x_), sd.minimum(x_, 1), abs(x_), sd.arctan(x_),
    sd.arcsin(x_ / 2), sd.arccos(x_ / 2), sd.where(x_ > 0, x_, 2 * x_), sd.clip(x_, 0, 1),
    x_ - (x_ - 1), 2 ** x_, x_ ** -1, -x_ / 3, sd.sum(v_, axis=0), sd.softmax(v_),
    sd.log_softmax(v_), sd.logsumexp(W_, axis=1, keepdims=True), W_ @ v_, (W_ @ v_).T,
    W_[0, 1:], v_[None, :], v_.reshape(3, 1), W_.T, sd.mean(W_, axis=(0, 1)),
    sd.concatenate([v_, v_]), sd.stack([v_, v_], axis=1), sd.outer(v_, v_), sd.dot(v_, v_),
    sd.prod(v_), sd.max(W_, axis=0), sd.min(v_), sd.square(x_), sd.sign(x_),
    sd.broadcast_to(x_, (3,)), sd.cosh(x_) * sd.tanh(x_) - sd.sinh(x_),
    sd.where(x_ >= 1, x_, 0.0), sd.where(x_ < 2, x_, 1.0), sd.where(x_ <= x_ ** 2, 1.0, x_),
    sd.where(v_ > 0, v_, 0.0), sd.where(x_ == 1, 0.0, x_), (x_ > 0) * 3.0,
    sd.constant(np.arange(3.0)) * v_, sd.constant(np.ones((2, 3))) @ v_, x_ * np.inf,
    x_ - np.inf, x_ + np.nan,
]


@pytest.mark.parametrize("index", range(len(ROUND_TRIP)))
def test_str_reads_back_to_the_same_function(index):
    expr = ROUND_TRIP[index]
    parsed = sd.parse(str(expr), v=v_, W=W_)
    env = dict(x=0.37, v=np.array([0.3, -1.2, 0.8]), W=np.arange(6.0).reshape(2, 3) / 7)
    env = {k: env[k] for k in expr.vars}
    assert parsed.shape == expr.shape
    np.testing.assert_allclose(value(parsed, **env), value(expr, **env), rtol=1e-13)


def test_round_trip_mostly_gives_the_same_node():
    # Printing spells some ops as their definition (sigmoid as 1/(1 + exp(-x)),
    # a > b as Heaviside(a - b, 0)); the others read back to the very same node.
    same = sum(sd.parse(str(e), v=v_, W=W_) is e for e in ROUND_TRIP)
    assert same >= 2 * len(ROUND_TRIP) // 3


# ---------------------------------------------------------------------------
# long inputs

def test_long_sums_are_read_left_to_right():
    n = 20_000          # deeper than Python's own parser allows
    e = sd.parse("10" + " - x" * n)
    assert value(e, x=0.5) == pytest.approx(10 - 0.5 * n)
    e = sd.parse(" + ".join(f"{i % 7}*x*y" for i in range(n)) + " - 2e-3")
    assert value(e, x=2.0, y=0.5) == pytest.approx(sum(i % 7 for i in range(n)) - 2e-3)
    e = sd.parse("x" + "*x" * n)
    assert value(e, x=1.0) == 1.0
    e = sd.parse("1e-5 + x-1E+1 " + "+ x" * n)
    assert value(e, x=1.0) == pytest.approx(1e-5 + 1 - 10 + n)


def test_long_right_nested_power_chain():
    e = sd.parse("x" + "**x" * 500)
    assert value(e, x=1.0) == 1.0


# ---------------------------------------------------------------------------
# NumPy protocols on expressions

def test_numpy_ufuncs_build_nodes():
    x = sd.vector("x", (3,))
    assert np.exp(x) is sd.exp(x)
    assert np.maximum(0, x) is sd.maximum(0, x)
    assert np.absolute(x) is sd.abs(x)
    assert np.negative(x) is -x
    assert np.positive(x) is x
    assert np.divide(x, 2.0) is x / 2.0
    assert (np.arange(3.0) < x) is sd.less(sd.constant(np.arange(3.0)), x)
    A = np.ones((2, 3))
    assert (A @ x) is sd.matmul(sd.constant(A), x)


def test_numpy_functions_build_nodes():
    x = sd.matrix("X", (2, 3))
    assert np.sum(x, axis=0) is sd.sum(x, axis=0)
    assert np.mean(x) is sd.mean(x)
    assert np.amax(x, axis=1) is sd.max(x, axis=1)
    assert np.where(x > 0, x, 0.0) is sd.where(x > 0, x, 0.0)
    assert np.transpose(x) is x.T
    assert np.concatenate([x, x]) is sd.concatenate([x, x])
    np.testing.assert_allclose(value(np.linalg.norm(x), X=np.ones((2, 3))), np.sqrt(6))


def test_unsupported_numpy_calls_are_refused_by_numpy():
    x = sd.vector("x", (3,))
    with pytest.raises(TypeError):
        np.add.reduce(x)
    with pytest.raises(TypeError):
        np.exp(x, out=np.empty(3))
    with pytest.raises(TypeError):
        np.fft.fft(x)
    with pytest.raises(TypeError):
        np.nextafter(x, x)


def test_parse_function_matches_tracing_for_an_inline_helper():
    def helper(z):
        return np.tanh(z) * 2.0

    def outer(a, b):
        return np.sum(helper(a) @ b)

    a, b = sd.matrix("a", (2, 3)), sd.vector("b", (3,))
    assert frontend.parse_function(outer, a, b) is outer(a, b)
