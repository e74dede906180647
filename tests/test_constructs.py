"""The Python people write inside NumPy-style functions, read from the source.

Oracle: JAX in float64, running the same code object with ``np`` bound to
``jax.numpy``; ``math.*`` (which JAX cannot trace) against analytic derivatives.
Patterns after autograd's test_numpy (arrays from expressions, lists to NumPy
functions), written for this suite.
"""
import math
import types

import numpy as np
import pytest

import symdiff as sd

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
jnp = jax.numpy


def as_jax(fn):
    return types.FunctionType(fn.__code__, {**fn.__globals__, "np": jnp}, fn.__name__,
                              fn.__defaults__, fn.__closure__)


def generator_sum(w, x):
    return sum(w[i] * x[i] for i in range(3))


def list_comprehension(x):
    return np.sum(np.stack([x[i] ** 2 * (i + 1) for i in range(3) if i != 1]))


def nested_comprehension(x):
    return sum(x[i] * x[j] for i in range(3) for j in range(i, 3))


def dict_comprehension(x):
    parts = {i: x[i] ** 2 for i in range(3)}
    return parts[0] + parts[2] * parts[1]


def enumerate_rows(x):
    total = 0.0
    for i, v in enumerate(x):
        total = total + (i + 1) * np.sin(v)
    return total


def zip_rows(w, x):
    total = 0.0
    for a, b in zip(w, x):
        total = total + a * np.exp(b)
    return total


def nested_def(x):
    def square_sum(v, scale=2.0):
        return np.sum(v * v) * scale

    def outer_uses(v):
        return square_sum(v) + np.sum(x)     # sees the enclosing x

    return outer_uses(x) + square_sum(x, scale=0.5)


def nested_lambda(x):
    f = lambda v: np.sin(v) * 2.0  # noqa: E731
    g = lambda v, k=3: v ** k      # noqa: E731
    return np.sum(f(x) + g(x))


def dict_items(params):
    total = 0.0
    for name, value in params.items():
        total = total + np.sum(value ** 2)
    for value in params.values():
        total = total + np.sum(value)
    return total + np.sum(params.get("a") * 2)


def astype_names(x):
    a = x.astype("float64")
    b = x.astype(np.float64)
    return np.sum(a * b)


def reshape_minus_one(A):
    return np.sum(A.reshape(-1) * np.arange(6.0))


def array_of_expressions(x):
    a, b, c = x[0], x[1], x[2]
    v = np.array([a, b * c, 2.0])
    M = np.array([[a, b], [c, a * b]])
    return np.sum(v ** 2) + np.sum(M @ v[:2])


def stacks(a, b):
    return (np.sum(np.stack([a, b * 2]) ** 2) + np.sum(np.vstack([a, b]) ** 3)
            + np.sum(np.hstack([a, np.sin(b)])))


def lists_to_numpy(x):
    a, b = x[0], x[1] * 2
    return np.mean([a, b]) + np.std([a, b, x[2]]) + np.linalg.norm([a, b])


def lists_to_numpy_jax(x):
    # JAX refuses lists; NumPy (and symdiff) make arrays of them, as jnp.stack does.
    a, b = x[0], x[1] * 2
    return (jnp.mean(jnp.stack([a, b])) + jnp.std(jnp.stack([a, b, x[2]]))
            + jnp.linalg.norm(jnp.stack([a, b])))


def modulo(x, c):
    # d(x % c)/dx = 1, d(x % c)/dc = -floor(x/c), d(x // c) = 0, as JAX's operators.
    c = c ** 2 + 0.5
    return np.sum(x % c * x) + np.sum((3.0 * x) // c * x) + np.sum(7.0 % c + 5.0 // c)


def real_and_fabs(x):
    return np.sum(np.real(x) * np.fabs(x))


CASES = {
    "generator_sum": (generator_sum, 2), "list_comprehension": (list_comprehension, 1),
    "nested_comprehension": (nested_comprehension, 1),
    "dict_comprehension": (dict_comprehension, 1), "enumerate_rows": (enumerate_rows, 1),
    "zip_rows": (zip_rows, 2), "nested_def": (nested_def, 1),
    "nested_lambda": (nested_lambda, 1), "astype_names": (astype_names, 1),
    "array_of_expressions": (array_of_expressions, 1), "stacks": (stacks, 2),
    "lists_to_numpy": (lists_to_numpy, 1), "real_and_fabs": (real_and_fabs, 1),
    "modulo": (modulo, 2),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_construct_matches_jax(name):
    fn, arity = CASES[name]
    r = np.random.default_rng(len(name))
    args = [r.normal(size=3) for _ in range(arity)]
    argnums = tuple(range(arity))
    value, grads = sd.value_and_grad(fn, argnums)(*args)
    reference = lists_to_numpy_jax if fn is lists_to_numpy else as_jax(fn)
    their_value, their_grads = jax.value_and_grad(reference, argnums)(*args)
    np.testing.assert_allclose(value, their_value, rtol=1e-12)
    for g, h in zip(grads, their_grads):
        np.testing.assert_allclose(g, h, rtol=1e-11, atol=1e-13)


def test_dict_methods_match_jax():
    params = {"b": np.array([0.5, -1.0]), "a": np.array([[0.1, 0.2], [0.3, 0.4]])}
    ours = sd.grad(dict_items)(params)
    theirs = jax.grad(as_jax(dict_items))(params)
    assert list(ours) == ["a", "b"]
    for key in params:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-13)


def test_reshape_minus_one_matches_jax():
    A = np.random.default_rng(9).normal(size=(2, 3))
    np.testing.assert_allclose(sd.grad(reshape_minus_one)(A),
                               jax.grad(as_jax(reshape_minus_one))(A), rtol=1e-14)


def math_functions(x):
    return math.sin(x) * math.fabs(x) + math.pow(x, 3.0) + math.log10(x) + math.log2(x)


def test_math_functions_match_their_derivatives():
    x = 0.7
    want = (math.cos(x) * abs(x) + math.sin(x) * math.copysign(1.0, x) + 3 * x ** 2
            + 1 / (x * math.log(10)) + 1 / (x * math.log(2)))
    value, g = sd.value_and_grad(math_functions)(x)
    assert value == pytest.approx(math_functions(x), rel=1e-14)
    assert g == pytest.approx(want, rel=1e-13)


def set_comprehension(x):
    return sum({x[i] for i in range(2)})


def star_lambda(x):
    f = lambda *v: v  # noqa: E731
    return np.sum(f(x))


def dict_key_expression(x):
    d = {x[0]: 1.0}
    return d


def unknown_dict_key(x):
    d = {"w": x}
    return np.sum(d["v"])


@pytest.mark.parametrize("fn, words", [
    (set_comprehension, "a set comprehension is not supported"),
    (star_lambda, "*args parameters are not supported"),
    (dict_key_expression, "a dict key must be known while reading"),
    (unknown_dict_key, "the dict has no key 'v' (its keys: 'w')"),
])
def test_refused_constructs_get_a_caret(fn, words):
    with pytest.raises(sd.ParseError) as err:
        sd.grad(fn)(np.array([0.5, 1.5]))
    assert words in str(err.value)
    assert err.value.lineno is not None and "^" in str(err.value)


def ddof_spread(x):
    return np.std(x, ddof=1) + np.var(x, ddof=2) + np.std(x)


def trace_offsets(A):
    return np.trace(A, offset=1) * 2.0 + np.trace(A, offset=-2) + np.trace(A) ** 2


def dot_inner_above_2d(T, M, v):
    return (np.sum(np.dot(T, v) ** 2) + np.sum(np.dot(T, M) * 0.5)
            + np.sum(np.inner(T, v)) + np.sum(np.inner(T, M) ** 2))


@pytest.mark.parametrize("fn, shapes", [
    (ddof_spread, [(5,)]), (trace_offsets, [(3, 4)]),
    (dot_inner_above_2d, [(2, 3, 4), (4, 4), (4,)]),
])
def test_numpy_arguments_match_jax(fn, shapes):
    r = np.random.default_rng(11)
    args = [r.normal(size=shape) for shape in shapes]
    argnums = tuple(range(len(args)))
    value, grads = sd.value_and_grad(fn, argnums)(*args)
    their_value, their_grads = jax.value_and_grad(as_jax(fn), argnums)(*args)
    np.testing.assert_allclose(value, their_value, rtol=1e-12)
    for g, h in zip(grads, their_grads):
        np.testing.assert_allclose(g, h, rtol=1e-11, atol=1e-13)


SLICE = slice(1, 4)
CONFIG = {"scale": 2.0, "weights": np.array([1.0, -1.0, 0.5])}


def closure_slice_and_dict(x):
    return np.sum(x[SLICE] * CONFIG["weights"]) * CONFIG["scale"]


def static_slice(x, idx, flag):
    y = x[idx] ** 2
    if flag:
        y = y * 3.0
    return np.sum(y)


def test_slices_and_dicts_held_in_globals_or_passed_static():
    x = np.arange(5.0)
    np.testing.assert_allclose(sd.grad(closure_slice_and_dict)(x),
                               [0.0, 2.0, -2.0, 1.0, 0.0], rtol=1e-15)
    df = sd.grad(static_slice, static_argnums=(1, 2))
    np.testing.assert_allclose(df(x, slice(1, 4), True), [0, 6, 12, 18, 0], rtol=1e-15)
    np.testing.assert_allclose(df(x, slice(0, 2), False), [0, 2, 0, 0, 0], rtol=1e-15)
    np.testing.assert_allclose(df(x, slice(0, 2), False), [0, 2, 0, 0, 0], rtol=1e-15)
    assert df.compilations == 2
    with pytest.raises(sd.ParseError, match="static argument"):
        sd.grad(static_slice, static_argnums=1)(x, slice(0, 2), True)   # flag as data
