"""sd.jacobian / sd.hessian / sd.jvp / sd.vjp / sd.grad on Python functions and pytrees.

Oracle: JAX in float64. Each function below is written once with ``np``; JAX runs
the same code object with ``np`` bound to ``jax.numpy`` (``as_jax``), and its own
transforms give the reference values and the reference structure of the results.
Patterns after JAX's api_test and autograd's test_wrappers (argnums, pytrees,
has_aux, composition), written for this suite.
"""
import functools
import types

import numpy as np
import pytest

import symdiff as sd
from symdiff import pyfunc

jax = pytest.importorskip("jax")        # a guard only: the dev extra installs JAX
jax.config.update("jax_enable_x64", True)
jnp = jax.numpy

W = np.array([[0.3, -0.2, 0.5], [0.1, 0.4, -0.3], [-0.6, 0.2, 0.1], [0.2, 0.2, 0.2]])


def as_jax(fn):
    """``fn``'s code with ``np`` meaning ``jax.numpy``."""
    return types.FunctionType(fn.__code__, {**fn.__globals__, "np": jnp}, fn.__name__,
                              fn.__defaults__, fn.__closure__)


def assert_trees_close(ours, theirs, rtol=1e-10, atol=1e-12):
    their_leaves, their_def = jax.tree_util.tree_flatten(theirs)
    our_leaves, our_def = jax.tree_util.tree_flatten(ours)
    assert our_def == their_def
    for a, b in zip(our_leaves, their_leaves):
        assert np.shape(a) == np.shape(b)
        np.testing.assert_allclose(a, np.asarray(b), rtol=rtol, atol=atol)


# -- a corpus of functions, with sample arguments --------------------------------------

def sin_times_first(x):
    return np.sin(x) * x[0]


def tanh_layer(x):
    return np.tanh(W @ x)


def mixed(x, y):
    return x * y + np.exp(x) / (1.0 + y ** 2)


def cubes(x):
    return np.sum(x ** 3)


def gram(A):
    return A @ A.T


def ratio(x):
    return np.log1p(x ** 2) / (1.0 + np.sum(x ** 2))


def norm2(x):
    return np.sqrt(np.sum(x ** 2))


def stable_softplus(x):
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


def scaled(x, s):
    return x ** 2 * s + np.cos(s * x)


def dict_in_out(params):
    return {"a": params["w"] * 2.0 + params["v"] ** 2,
            "b": np.sum(params["w"] * params["v"])}


def list_of_pairs(layers, x):
    for w, b in layers:
        x = np.tanh(w @ x + b)
    return x


rng = np.random.default_rng(0)
CORPUS = {
    "sin_times_first": (sin_times_first, (rng.normal(size=3),), 0),
    "tanh_layer": (tanh_layer, (rng.normal(size=3),), 0),
    "mixed": (mixed, (rng.normal(size=3), rng.normal(size=3)), (0, 1)),
    "cubes": (cubes, (rng.normal(size=4),), 0),
    "gram": (gram, (rng.normal(size=(2, 3)),), 0),
    "ratio": (ratio, (rng.normal(size=3),), 0),
    "norm2": (norm2, (rng.normal(size=3),), 0),
    "stable_softplus": (stable_softplus, (rng.normal(size=4),), 0),
    "scaled": (scaled, (rng.normal(size=3), 0.7), (0, 1)),
    "dict_in_out": (dict_in_out, ({"w": rng.normal(size=2), "v": rng.normal(size=2)},), 0),
    "list_of_pairs": (list_of_pairs, ([(rng.normal(size=(2, 3)), rng.normal(size=2)),
                                       (rng.normal(size=(2, 2)), rng.normal(size=2))],
                                      rng.normal(size=3)), (0, 1)),
}


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_jacobian_matches_jax(name):
    fn, args, argnums = CORPUS[name]
    ours = sd.jacobian(fn, argnums)(*args)
    assert_trees_close(ours, jax.jacrev(as_jax(fn), argnums)(*args))


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_hessian_matches_jax(name):
    fn, args, argnums = CORPUS[name]
    ours = sd.hessian(fn, argnums)(*args)
    assert_trees_close(ours, jax.hessian(as_jax(fn), argnums)(*args), rtol=1e-9)


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_jvp_matches_jax(name):
    fn, args, _ = CORPUS[name]
    tangents = jax.tree_util.tree_map(
        lambda a: np.random.default_rng(1).normal(size=np.shape(a)), args)
    tangents = tuple(jax.tree_util.tree_map(lambda t, a: np.asarray(t, dtype=float)
                                            if np.ndim(a) else float(t), tangents, args))
    ours = sd.jvp(fn, args, tangents)
    theirs = jax.jvp(as_jax(fn), args, tangents)
    assert isinstance(ours, tuple) and len(ours) == 2
    assert_trees_close(ours, theirs)


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_vjp_matches_jax(name):
    fn, args, _ = CORPUS[name]
    out, vjp_fn = sd.vjp(fn, *args)
    their_out, their_vjp = jax.vjp(as_jax(fn), *args)
    assert_trees_close(out, their_out)
    cotangent = jax.tree_util.tree_map(
        lambda o: np.random.default_rng(2).normal(size=np.shape(o)), their_out)
    assert_trees_close(vjp_fn(cotangent), their_vjp(cotangent))


# -- the cache ---------------------------------------------------------------------------

def test_second_calls_with_the_same_signature_never_recompile():
    x = np.array([0.1, 0.2, 0.3])
    for transform in (sd.jacobian(sin_times_first), sd.hessian(cubes), sd.grad(cubes),
                      sd.value_and_grad(cubes)):
        transform(x)
        transform(x + 1.0)
        assert transform.compilations == 1
        transform(np.ones(5))
        transform(np.ones(5) * 2)
        assert transform.compilations == 2 and transform.cache_size == 2
    fresh = types.FunctionType(mixed.__code__, mixed.__globals__)   # nothing cached yet
    before = pyfunc.compilations_total
    for _ in range(3):
        sd.jvp(fresh, (x, x), (x, x))
        sd.vjp(fresh, x, x)[1](x)
    assert pyfunc.compilations_total == before + 2
    sd.jvp(fresh, (np.ones(2), np.ones(2)), (np.ones(2), np.ones(2)))
    assert pyfunc.compilations_total == before + 3


def test_static_arguments_are_part_of_the_signature():
    def power_sum(x, n, flag):
        total = 0.0
        for k in range(n):
            total = total + x ** k
        if flag:
            total = total * 2.0
        return np.sum(total)

    df = sd.grad(power_sum, static_argnums=(1, 2))
    x = np.array([0.5, 1.5])
    for n, flag in ((3, True), (3, False), (4, True), (3, True)):
        want = sum(k * x ** (k - 1) for k in range(n)) * (2.0 if flag else 1.0)
        np.testing.assert_allclose(df(x, n, flag), want, rtol=1e-12)
    assert df.compilations == 3
    with pytest.raises(sd.DiffError, match="both"):
        sd.grad(power_sum, argnums=1, static_argnums=1)
