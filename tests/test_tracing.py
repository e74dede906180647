"""Functions without source (a prompt, ``python -c``, ``exec``) are traced.

Oracles: JAX in float64 (same code run with ``np`` bound to ``jax.numpy``) and
analytic derivatives. Value-dependent Python control flow must give the
DiffError, never a number: both branches are tried.
"""
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import symdiff as sd
from symdiff import frontend, pyfunc, tracing

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
jnp = jax.numpy


def no_source(text, name, namespace=None):
    """A function defined by exec: inspect cannot find its source."""
    scope = {"np": np, **(namespace or {})}
    exec(textwrap.dedent(text), scope)
    fn = scope[name]
    assert not tracing.has_source(fn)
    return fn


def jax_version(text, name):
    scope = {"np": jnp}
    exec(textwrap.dedent(text), scope)
    return scope[name]


MLP = """
def mlp(params, x):
    h = np.tanh(params["W"] @ x + params["b"])
    out = {"y": h * 2.0, "norm": np.sqrt(np.sum(h ** 2))}
    return np.sum(out["y"] ** 2) + out["norm"]
"""


def test_a_traced_function_matches_jax():
    fn, reference = no_source(MLP, "mlp"), jax_version(MLP, "mlp")
    r = np.random.default_rng(0)
    params = {"W": r.normal(size=(3, 2)), "b": r.normal(size=3)}
    x = r.normal(size=2)
    for ours, theirs in ((sd.grad(fn)(params, x), jax.grad(reference)(params, x)),
                         (sd.hessian(fn, 1)(params, x), jax.hessian(reference, 1)(params, x))):
        leaves, treedef = jax.tree_util.tree_flatten(ours)
        their_leaves, their_def = jax.tree_util.tree_flatten(theirs)
        assert treedef == their_def
        for a, b in zip(leaves, their_leaves):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_tracing_builds_the_graph_the_source_builds():
    text = """
    def f(x, y):
        return np.sum(np.exp(x) * y + np.maximum(x, 0.0)) / np.mean(y ** 2)
    """
    traced = no_source(text, "f")
    namespace = {"np": np}
    exec(compile(textwrap.dedent(text), __file__, "exec"), namespace)   # any readable copy
    x, y = sd.vector("x", 3), sd.vector("y", 3)
    assert pyfunc.call_symbolic(traced, (x, y), {}) is traced(x, y)
    built = traced(x, y)
    f = sd.function([x, y], [built, *sd.grad(built, [x, y])])
    xv, yv = np.array([0.1, -0.2, 0.3]), np.array([1.0, 2.0, 0.5])
    want = jax.value_and_grad(jax_version(text, "f"), (0, 1))(xv, yv)
    got = f(xv, yv)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-13)
    np.testing.assert_allclose(got[1], want[1][0], rtol=1e-12)
    np.testing.assert_allclose(got[2], want[1][1], rtol=1e-12)


CONTROL_FLOW = {
    "if": """
def f(x):
    if x.sum() > 0:
        return np.sum(x ** 2)
    return np.sum(-x)
""",
    "float": """
def f(x):
    s = float(np.sum(x))
    return np.sum(x) * s
""",
    "bool": """
def f(x):
    flag = bool(x[0] > 1.0)
    return np.sum(x) * (2.0 if flag else 3.0)
""",
    "and": """
def f(x):
    big = (np.sum(x) > 0) and (np.sum(x) < 10)
    return np.sum(x * 2) if big else np.sum(x)
""",
    "while": """
def f(x):
    while np.sum(x) > 1.0:
        x = x / 2
    return np.sum(x)
""",
}


@pytest.mark.parametrize("kind", sorted(CONTROL_FLOW))
def test_control_flow_on_traced_values_is_a_diff_error_not_a_number(kind):
    fn = no_source(CONTROL_FLOW[kind], "f")
    # Both sides of the condition: neither may give a gradient.
    for x in (np.array([2.0, 3.0]), np.array([-2.0, -3.0])):
        with pytest.raises(sd.DiffError) as err:
            sd.grad(fn)(x)
        message = str(err.value)
        assert "line " in message and "<string>" in message
        assert "np.where" in message and "static_argnums" in message


def test_a_static_argument_steers_traced_code():
    fn = no_source("""
    def f(x, n, flag):
        total = 0.0
        for k in range(n):
            total = total + np.sum(x ** k)
        if flag:
            total = total * 2.0
        return total
    """, "f")
    df = sd.grad(fn, static_argnums=(1, 2))
    x = np.array([0.5, 1.5])
    np.testing.assert_allclose(df(x, 3, True), 2 * (1 + 2 * x), rtol=1e-14)
    np.testing.assert_allclose(df(x, 2, False), np.ones(2), rtol=1e-14)
    with pytest.raises(sd.DiffError, match="static_argnums"):
        sd.grad(fn)(x, 3, True)          # n as data: range(n) has no answer


def test_other_errors_while_tracing_name_the_line():
    fn = no_source("""
    def f(x):
        y = x.no_such_method()
        return y
    """, "f")
    with pytest.raises(sd.DiffError, match=r"tracing f\(\) failed at line 3 of <string>"):
        sd.grad(fn)(np.ones(2))


def test_a_function_with_source_is_read_not_run(monkeypatch):
    def readable(x):
        return np.sum(x ** 2)

    monkeypatch.setattr(tracing, "trace", lambda *a: pytest.fail("traced"))
    np.testing.assert_allclose(sd.grad(readable)(np.ones(2)), 2 * np.ones(2))
    read = []
    monkeypatch.setattr(frontend, "parse_function",
                        lambda fn, *a, **k: read.append(fn) or fn(*a, **k))
    sd.grad(readable)(np.ones(3))
    assert read == [readable]


SCRIPT = """
import numpy as np, symdiff as sd
x = np.array([0.3, -0.7, 1.1])
g = sd.grad(lambda x: np.sum(np.sin(x) ** 2))(x)
J = sd.jacobian(lambda x: np.tanh(x) * x[0])(x)
try:
    sd.grad(lambda x: np.sum(x) if x.sum() > 0 else 0.0)(x)
except sd.DiffError as err:
    print("refused:", err)
np.save(OUT, np.concatenate([g, J.ravel()]))
"""


def test_lambdas_under_python_c(tmp_path):
    out = tmp_path / "out.npy"
    result = subprocess.run([sys.executable, "-c", SCRIPT.replace("OUT", repr(str(out)))],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "refused:" in result.stdout and "np.where" in result.stdout
    x = np.array([0.3, -0.7, 1.1])
    values = np.load(out)
    g = jax.grad(lambda x: jnp.sum(jnp.sin(x) ** 2))(x)
    J = jax.jacrev(lambda x: jnp.tanh(x) * x[0])(x)
    np.testing.assert_allclose(values, np.concatenate([g, np.asarray(J).ravel()]),
                               rtol=1e-12)


NUMPY_ARGUMENTS = """
def f(x, T):
    return (np.std(x, ddof=1) + np.var(x, ddof=2) + np.sum(np.real(x) * np.fabs(x))
            + np.trace(T, offset=1) + np.sum(np.dot(T[None] * 1.0, x) ** 2)
            + np.sum(np.inner(T[None], x)))
"""


def test_traced_numpy_arguments_match_jax():
    # The NumPy spellings the front end reads (ddof=, offset=, np.real, np.dot above 2-d)
    # build the same when a function is traced.
    fn, reference = no_source(NUMPY_ARGUMENTS, "f"), jax_version(NUMPY_ARGUMENTS, "f")
    x, T = np.array([0.3, 1.0, 2.0]), np.arange(9.0).reshape(3, 3) / 4
    value, grads = sd.value_and_grad(fn, (0, 1))(x, T)
    their_value, their_grads = jax.value_and_grad(reference, (0, 1))(x, T)
    np.testing.assert_allclose(value, their_value, rtol=1e-13)
    for g, h in zip(grads, their_grads):
        np.testing.assert_allclose(g, h, rtol=1e-12, atol=1e-14)


def test_transforms_called_inside_traced_functions():
    # Patterns after JAX's api_test: transforms nested inside functions that are traced.
    cube_grad = sd.grad(no_source("def c(y):\n    return np.sum(y ** 3)\n", "c"))
    outer = no_source("def o(x):\n    return np.sum(cube_grad(x) ** 2)\n", "o",
                      {"cube_grad": cube_grad})
    x = np.array([0.5, 1.0, -2.0])
    reference = lambda x: jnp.sum(jax.grad(lambda y: jnp.sum(y ** 3))(x) ** 2)  # noqa: E731
    np.testing.assert_allclose(sd.grad(outer)(x), jax.grad(reference)(x), rtol=1e-13)
    np.testing.assert_allclose(sd.hessian(outer)(x), jax.hessian(reference)(x), rtol=1e-13)
    with_jvp = no_source("def w(x):\n    return np.sum(sd.jvp(np.sin, (x,), (x,))[1])\n", "w",
                         {"sd": sd})
    np.testing.assert_allclose(
        sd.grad(with_jvp)(x),
        jax.grad(lambda x: jnp.sum(jax.jvp(jnp.sin, (x,), (x,))[1]))(x), rtol=1e-13)
