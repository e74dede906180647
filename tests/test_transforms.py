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


# -- pytrees: parameters as dicts and lists of tuples, dict aux ------------------------

def mlp_loss(params, x, t):
    h = np.tanh(params["W1"] @ x + params["b1"])
    y = params["W2"] @ h + params["b2"]
    return np.mean((y - t) ** 2)


def mlp_loss_aux(params, x, t):
    h = np.tanh(params["W1"] @ x + params["b1"])
    y = params["W2"] @ h + params["b2"]
    loss = np.mean((y - t) ** 2)
    return loss, {"prediction": y, "hidden": {"mean": np.mean(h), "h": h}}


def layers_loss(layers, x):
    for w, b in layers:
        x = np.tanh(w @ x + b)
    return np.sum(x ** 2)


def two_trees(a, b):
    return np.sum(a[0] * b["u"]) + np.sum(a[1][0] ** 2 * b["v"])


def make_params(seed=0):
    r = np.random.default_rng(seed)
    return {"W2": r.normal(size=(2, 4)), "b1": r.normal(size=4),
            "W1": r.normal(size=(4, 3)), "b2": r.normal(size=2)}


X3, T2 = np.array([0.5, -0.3, 0.8]), np.array([0.1, -0.2])


def test_grad_of_dict_parameters_has_their_structure():
    params = make_params()
    ours = sd.grad(mlp_loss)(params, X3, T2)
    theirs = jax.grad(as_jax(mlp_loss))(params, X3, T2)
    assert list(ours) == sorted(params)            # keys in JAX's (sorted) order
    assert_trees_close(ours, theirs)


def test_value_and_grad_with_dict_aux():
    params = make_params(1)
    (value, aux), grads = sd.value_and_grad(mlp_loss_aux, has_aux=True)(params, X3, T2)
    (their_value, their_aux), their_grads = jax.value_and_grad(
        as_jax(mlp_loss_aux), has_aux=True)(params, X3, T2)
    assert_trees_close((value, aux, grads), (their_value, their_aux, their_grads))
    grads2, aux2 = sd.grad(mlp_loss_aux, has_aux=True)(params, X3, T2)
    assert_trees_close((grads2, aux2), (their_grads, their_aux))


def test_grad_of_a_list_of_tuples():
    r = np.random.default_rng(3)
    layers = [(r.normal(size=(4, 3)), r.normal(size=4)), (r.normal(size=(2, 4)),
                                                          r.normal(size=2))]
    for argnums in (0, (0, 1)):
        ours = sd.grad(layers_loss, argnums)(layers, X3)
        assert_trees_close(ours, jax.grad(as_jax(layers_loss), argnums)(layers, X3))
    value, grads = sd.value_and_grad(layers_loss)(layers, X3)
    assert isinstance(grads, list) and all(isinstance(g, tuple) for g in grads)
    np.testing.assert_allclose(value, layers_loss(layers, X3), rtol=1e-14)


def test_argnums_over_several_pytrees():
    r = np.random.default_rng(4)
    a = (r.normal(size=3), [r.normal(size=2)])
    b = {"v": r.normal(size=2), "u": r.normal(size=3)}
    for argnums in (0, 1, (1, 0)):
        assert_trees_close(sd.grad(two_trees, argnums)(a, b),
                           jax.grad(as_jax(two_trees), argnums)(a, b))
    assert_trees_close(sd.jacobian(two_trees, (0, 1))(a, b),
                       jax.jacrev(as_jax(two_trees), (0, 1))(a, b))
    assert_trees_close(sd.hessian(two_trees, 1)(a, b), jax.hessian(as_jax(two_trees), 1)(a, b))


def test_new_structures_compile_once_each():
    df = sd.grad(layers_loss)
    one = [(np.ones((2, 3)), np.ones(2))]
    two = one + [(np.ones((2, 2)), np.ones(2))]
    df(one, X3), df(one, X3), df(two, X3), df(two, X3)
    assert df.compilations == 2


def test_a_training_step_over_a_dict_of_parameters():
    # The loop JAX users write: params = tree_map(lambda p, g: p - lr * g, params, grads)
    params, jparams = make_params(5), make_params(5)
    step = sd.value_and_grad(mlp_loss)
    for _ in range(5):
        value, grads = step(params, X3, T2)
        params = {k: params[k] - 0.1 * grads[k] for k in params}
        jvalue, jgrads = jax.value_and_grad(as_jax(mlp_loss))(jparams, X3, T2)
        jparams = jax.tree_util.tree_map(lambda p, g: p - 0.1 * g, jparams, jgrads)
        np.testing.assert_allclose(value, jvalue, rtol=1e-12)
    assert step.compilations == 1
    assert_trees_close(params, jparams, rtol=1e-10)


# -- composition ---------------------------------------------------------------------------

def scalar_fn(x):
    return np.sin(x) * x ** 3


def dscalar(x):
    return np.sum(np.tanh(x) * x)


d_dscalar = sd.grad(dscalar)


def uses_a_gradient(x):
    g = d_dscalar(x)
    return np.sum(g ** 2) + np.sum(x)


def uses_a_gradient_jax(x):
    g = jax.grad(as_jax(dscalar))(x)
    return jnp.sum(g ** 2) + jnp.sum(x)


def test_grad_of_grad():
    for x in (0.3, -1.2):
        ours = sd.grad(sd.grad(scalar_fn))(x)
        np.testing.assert_allclose(ours, jax.grad(jax.grad(as_jax(scalar_fn)))(x), rtol=1e-12)
        third = sd.grad(sd.grad(sd.grad(scalar_fn)))(x)
        np.testing.assert_allclose(third, jax.grad(jax.grad(jax.grad(as_jax(scalar_fn))))(x),
                                   rtol=1e-12)


def test_jacobian_of_grad_is_the_hessian():
    x = np.array([0.2, -0.5, 0.9])
    assert_trees_close(sd.jacobian(sd.grad(dscalar))(x), jax.hessian(as_jax(dscalar))(x))
    assert_trees_close(sd.jacobian(sd.grad(mlp_loss))(make_params(), X3, T2),
                       jax.jacrev(jax.grad(as_jax(mlp_loss)))(make_params(), X3, T2))


def test_hessian_of_a_function_calling_a_gradient_function():
    x = np.array([0.2, -0.5, 0.9])
    assert_trees_close(sd.grad(uses_a_gradient)(x), jax.grad(uses_a_gradient_jax)(x))
    assert_trees_close(sd.hessian(uses_a_gradient)(x), jax.hessian(uses_a_gradient_jax)(x),
                       rtol=1e-9)


def test_partial():
    x, y = np.array([0.3, 0.1, -0.4]), np.array([1.5, -0.5, 2.0])
    ours = sd.grad(functools.partial(lambda_free_sum, y=y))(x)
    theirs = jax.grad(functools.partial(as_jax(lambda_free_sum), y=y))(x)
    assert_trees_close(ours, theirs)
    ours = sd.jacobian(functools.partial(mixed, x))(y)
    assert_trees_close(ours, jax.jacrev(functools.partial(as_jax(mixed), x))(y))


def lambda_free_sum(x, y):
    return np.sum(x * y + np.exp(x) / (1.0 + y ** 2))


def test_dir_lists_the_lazy_names():
    names = dir(sd)
    for name in ("parse", "to_sympy", "explain", "show", "testing", "hvp", "jacobian",
                 "hessian", "jvp", "vjp", "grad", "value_and_grad", "sin"):
        assert name in names
    assert names == sorted(names)


def with_aux(x):
    y = np.sin(x) * x[0]
    return y, {"sum": np.sum(y), "first": [x[0] ** 2]}


def test_jacobian_and_hessian_with_aux():
    x = np.array([0.4, -0.2, 0.7])
    for ours, theirs in ((sd.jacobian(with_aux, has_aux=True), jax.jacrev),
                         (sd.hessian(with_aux, has_aux=True), jax.hessian)):
        assert_trees_close(ours(x), theirs(as_jax(with_aux), has_aux=True)(x))
    out, tangent, aux = sd.jvp(with_aux, (x,), (np.ones(3),), has_aux=True)
    assert_trees_close((out, tangent, aux),
                       jax.jvp(as_jax(with_aux), (x,), (np.ones(3),), has_aux=True))
    out, vjp_fn, aux = sd.vjp(with_aux, x, has_aux=True)
    their_out, their_vjp, their_aux = jax.vjp(as_jax(with_aux), x, has_aux=True)
    assert_trees_close((out, aux, vjp_fn(np.ones(3))), (their_out, their_aux,
                                                        their_vjp(np.ones(3))))


def test_float32_arguments_keep_their_precision():
    x = np.array([0.4, -0.2, 0.7], dtype=np.float32)
    J = sd.jacobian(sin_times_first)(x)
    assert J.dtype == np.float32
    np.testing.assert_allclose(J, jax.jacrev(as_jax(sin_times_first))(x.astype(float)),
                               rtol=1e-6)


def test_tangents_and_cotangents_must_fit():
    x = np.ones(3)
    with pytest.raises(sd.DiffError, match="tangent 0 has a leaf of shape"):
        sd.jvp(sin_times_first, (x,), (np.ones(2),))
    with pytest.raises(sd.DiffError, match="structure"):
        sd.vjp(dict_in_out, {"w": x, "v": x})[1]({"a": x})
    with pytest.raises(sd.DiffError, match="only floating-point"):
        sd.jacobian(sin_times_first)(np.arange(3))


# -- more patterns after JAX's api_test and autograd's test_wrappers -------------------

def three(x, y, z):
    return np.sum(np.sin(x) * y ** 2 + z * x)


def test_argnums_negative_keyword_and_order():
    r = np.random.default_rng(7)
    x, y, z = r.normal(size=3), r.normal(size=3), r.normal(size=3)
    jthree = as_jax(three)
    assert_trees_close(sd.grad(three, -1)(x, y, z), jax.grad(jthree, -1)(x, y, z))
    assert_trees_close(sd.grad(three, (2, 0))(x, y, z), jax.grad(jthree, (2, 0))(x, y, z))
    assert_trees_close(sd.grad(three, 1)(x, y=y, z=z), jax.grad(jthree, 1)(x, y, z))
    assert_trees_close(sd.value_and_grad(three, (0, 1, 2))(x, y, z),
                       jax.value_and_grad(jthree, (0, 1, 2))(x, y, z))
    assert_trees_close(sd.jacobian(three, (1, 2))(x, y, z), jax.jacrev(jthree, (1, 2))(x, y, z))


@pytest.mark.parametrize("call, error, words", [
    (lambda: sd.grad(sin_times_first)(np.ones(3)), sd.DiffError, "must return a scalar"),
    (lambda: sd.grad(cubes)(np.arange(3)), sd.DiffError, "only floating-point"),
    (lambda: sd.grad(three, 3), sd.DiffError, "out of range"),
    (lambda: sd.grad(three, (0, 0)), sd.DiffError, "repeats"),
    (lambda: sd.grad(cubes)({"a": "text"}), sd.ArgumentTypeError, "dtype"),
    (lambda: sd.grad(three, static_argnums=1)(np.ones(3), np.ones(3), np.ones(3)),
     sd.ArgumentTypeError, "not hashable"),
    (lambda: sd.jvp(cubes, np.ones(3), np.ones(3)), sd.DiffError, "tuple or list"),
    (lambda: sd.grad(mlp_loss_aux)(make_params(), X3, T2), sd.DiffError,
     "must return a scalar"),
])
def test_clear_errors(call, error, words):
    with pytest.raises(error) as err:
        call()
    assert words in str(err.value)


def test_threads_calling_at_once_compile_once():
    import threading
    df = sd.hessian(ratio)
    x = np.array([0.3, -0.1, 0.4])
    barrier, results = threading.Barrier(4), []

    def work():
        barrier.wait()
        results.append(df(x))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert df.compilations == 1 and len(results) == 4
    for r in results:
        np.testing.assert_allclose(r, jax.hessian(as_jax(ratio))(x), rtol=1e-10)
