"""How the public entry points read their arguments, JAX-style positional ones included.

Oracles: analytic derivatives for the values; for refusals, the error class (a
``SymdiffError`` subclass, never a raw ``TypeError``/``AttributeError``) and the
words that tell the user what to write instead.
"""
import math

import numpy as np
import pytest

import symdiff as sd


def a_sin_b(a, b):
    return a * np.sin(b)


def sum_sin(x):
    return np.sum(np.sin(x))


# -- grad: the second positional argument ------------------------------------------------

def test_grad_of_a_function_reads_the_second_argument_as_argnums():
    # d/db a*sin(b) = a*cos(b), as jax.grad(f, 1) and autograd.grad(f, 1) give it.
    assert float(sd.grad(a_sin_b, 1)(2.0, 0.3)) == pytest.approx(2.0 * math.cos(0.3))
    assert float(sd.grad(a_sin_b, 0)(2.0, 0.3)) == pytest.approx(math.sin(0.3))
    da, db = sd.grad(a_sin_b, (0, 1))(2.0, 0.3)
    assert (float(da), float(db)) == pytest.approx((math.sin(0.3), 2.0 * math.cos(0.3)))
    assert float(sd.grad(a_sin_b, argnums=1)(2.0, 0.3)) == pytest.approx(2.0 * math.cos(0.3))
    value, db = sd.value_and_grad(a_sin_b, 1)(2.0, 0.3)
    assert float(db) == pytest.approx(2.0 * math.cos(0.3))


def test_grad_of_an_expression_reads_the_second_argument_as_wrt():
    x, y = sd.scalar("x"), sd.scalar("y")
    cost = x * sd.sin(y)
    assert sd.grad(cost, y) is sd.grad(cost, wrt=y)
    f = sd.function([x, y], sd.grad(cost, [x, y]))
    assert f(2.0, 0.3) == pytest.approx((math.sin(0.3), 2.0 * math.cos(0.3)))


@pytest.mark.parametrize("call, words", [
    (lambda x: sd.grad(a_sin_b, 1, argnums=0), "given twice"),
    (lambda x: sd.grad(a_sin_b, wrt=1), "wrt= is for expressions"),
    (lambda x: sd.grad(a_sin_b, wrt=x), "wrt= is for expressions"),
    (lambda x: sd.grad(a_sin_b, x), "argnums"),
    (lambda x: sd.grad(a_sin_b, (0, x)), "argnums"),
    (lambda x: sd.value_and_grad(a_sin_b, x), "argnums"),
    (lambda x: sd.grad(x ** 2, argnums=0), "argnums= is for Python functions"),
    (lambda x: sd.grad(x ** 2, x, argnums=0), "argnums= is for Python functions"),
    (lambda x: sd.grad(x ** 2, x, has_aux=True), "has_aux= is for Python functions"),
    (lambda x: sd.grad(x ** 2, x, wrt=x), "given twice"),
    (lambda x: sd.grad(x ** 2), "sd.grad(cost, x)"),
])
def test_grad_refuses_arguments_it_would_ignore(call, words):
    with pytest.raises(sd.DiffError) as err:
        call(sd.scalar("x"))
    assert words in str(err.value)


# -- the symbolic transforms given a Python function ---------------------------------------

X = np.array([0.1, 0.2, 0.3])

# Every public entry point that takes an expression (or inputs) first, called the way
# JAX users call its namesake on a function.
JAX_STYLE = [
    ("hvp", lambda: sd.hvp(sum_sin, (X,), (X,))),
    ("function", lambda: sd.function(sum_sin)),
    ("function", lambda: sd.function(sum_sin, [sd.vector("x")])),
    ("explain", lambda: sd.explain(sum_sin)),
    ("explain", lambda: sd.explain(sum_sin, 0)),
]


@pytest.mark.parametrize("name, call", JAX_STYLE)
def test_transforms_refuse_a_python_function_clearly(name, call):
    with pytest.raises(sd.SymdiffError) as err:
        call()
    message = str(err.value)
    assert isinstance(err.value, sd.DiffError)
    assert message.startswith(f"sd.{name} takes expressions")
    assert "Python function" in message
    assert "sd.grad(fn)" in message


# The transforms JAX users call on functions take functions too (symdiff.pyfunc).
FUNCTION_FORMS = [
    (lambda: sd.jacobian(sum_sin)(X), np.cos(X)),
    (lambda: sd.jacobian(a_sin_b, 1)(2.0, 0.3), 2.0 * np.cos(0.3)),
    (lambda: sd.jacobian(sum_sin, argnums=0)(X), np.cos(X)),
    (lambda: sd.hessian(sum_sin)(X), np.diag(-np.sin(X))),
    (lambda: sd.hessian(a_sin_b, 1)(2.0, 0.3), -2.0 * np.sin(0.3)),
    (lambda: sd.jvp(sum_sin, (X,), (X,))[1], np.sum(np.cos(X) * X)),
    (lambda: sd.vjp(sum_sin, X)[1](1.0)[0], np.cos(X)),
    (lambda: sd.vjp(a_sin_b, 2.0, 0.3)[1](1.0), (np.sin(0.3), 2.0 * np.cos(0.3))),
]


@pytest.mark.parametrize("k", range(len(FUNCTION_FORMS)))
def test_function_forms_of_the_transforms(k):
    call, want = FUNCTION_FORMS[k]
    got = call()
    for g, w in zip(np.broadcast_arrays(*got) if isinstance(got, tuple) else [got],
                    want if isinstance(want, tuple) else [want]):
        np.testing.assert_allclose(g, w, rtol=1e-12)


@pytest.mark.parametrize("call, words", [
    (lambda: sd.jacobian(sum_sin, sd.vector("x", 3)), "argnums"),
    (lambda: sd.hessian(sum_sin, sd.vector("x", 3)), "argnums"),
    (lambda: sd.vjp(a_sin_b, 2.0, 0.3, 0.1), "a_sin_b()"),
    (lambda: sd.jacobian(sd.vector("x", 3), argnums=0), "argnums= is for Python functions"),
    (lambda: sd.jacobian(sum_sin, mode="fwd"), "mode= is for expressions"),
])
def test_function_forms_refuse_what_they_would_ignore(call, words):
    with pytest.raises(sd.SymdiffError) as err:
        call()
    assert words in str(err.value)


def test_every_public_transform_is_in_the_table():
    # A new public transform must say what it does with a Python function.
    for name in ("grad", "value_and_grad", "jacobian", "hessian", "hvp", "jvp", "vjp",
                 "function", "explain"):
        assert callable(getattr(sd, name))
    assert {name for name, _ in JAX_STYLE} == {"hvp", "function", "explain"}


def test_transforms_still_take_expressions_by_keyword_and_position():
    x = sd.vector("x", 3)
    y = sd.sin(x)
    jac = sd.function([x], sd.jacobian(y, x))(X)
    np.testing.assert_allclose(jac, np.diag(np.cos(X)))
    (t,) = sd.function([x], [sd.jvp(outputs=y, wrt=x, tangents=np.ones(3))])(X)
    np.testing.assert_allclose(t, np.cos(X))
    (g,) = sd.function([x], sd.vjp(y, [x], [np.ones(3)]))(X)
    np.testing.assert_allclose(g, np.cos(X))


# Printers, graph views and the interpreter take expressions to look at.
VIEWS = [
    ("to_text", lambda v: sd.to_text(v)), ("to_latex", lambda v: sd.to_latex(v)),
    ("format_graph", lambda v: sd.format_graph(v)), ("evaluate", lambda v: sd.evaluate(v, {})),
    ("to_dot", lambda v: sd.to_dot(v)), ("to_networkx", lambda v: sd.to_networkx(v)),
    ("show", lambda v: sd.show(v)),
]


@pytest.mark.parametrize("name, call", VIEWS)
@pytest.mark.parametrize("value, words", [(sum_sin, "the Python function 'sum_sin'"),
                                          (X, "a NumPy array of shape (3,)")])
def test_views_refuse_what_is_not_an_expression(name, call, value, words):
    with pytest.raises(sd.ArgumentTypeError) as err:
        call(value)
    assert str(err.value).startswith(f"sd.{name} takes an expression")
    assert words in str(err.value)


# -- outputs and wrt that are not expressions ----------------------------------------------

@pytest.mark.parametrize("call, words", [
    (lambda x: sd.jvp(np.ones(3), x, np.ones(3)), "jvp: outputs must be an expression"),
    (lambda x: sd.jvp(sd.sin(x), np.ones(3), np.ones(3)), "jvp: wrt must be an expression"),
    (lambda x: sd.jvp(sd.sin(x), [x, 2.0], [1.0, 1.0]), "jvp: wrt[1] must be an expression"),
    (lambda x: sd.vjp(np.ones(3), x, np.ones(3)), "vjp: outputs must be an expression"),
    (lambda x: sd.vjp(sd.sin(x), "x", np.ones(3)), "vjp: wrt must be an expression"),
    (lambda x: sd.vjp(sd.sin(x), x, sum_sin), "vjp: the cotangents"),
    (lambda x: sd.grad(sd.sum(x), np.ones(3)), "grad: wrt must be an expression"),
    (lambda x: sd.grad(sd.sum(x), [x, 3]), "grad: wrt[1] must be an expression"),
    (lambda x: sd.jacobian(np.ones(3), x), "jacobian: y must be an expression"),
    (lambda x: sd.jacobian(sd.sin(x), 1.0), "jacobian: x must be an expression"),
    (lambda x: sd.hessian(2.0, x), "hessian: the cost must be an expression"),
    (lambda x: sd.hessian(sd.sum(x), np.ones(3)), "hessian: x must be an expression"),
    (lambda x: sd.hvp(np.float64(1.0), x, np.ones(3)), "hvp: the cost must be an expression"),
    (lambda x: sd.hvp(sd.sum(x), [x], np.ones(3)), "hvp: x is a list"),
])
def test_non_expressions_are_named_in_a_diff_error(call, words):
    with pytest.raises(sd.DiffError) as err:
        call(sd.vector("x", 3))
    assert words in str(err.value)


# -- check_grads -----------------------------------------------------------------------------

def test_check_grads_refuses_what_it_would_skip():
    sd.testing.check_grads(sum_sin, (X,))                 # first order: checked
    with pytest.raises(sd.DiffError, match="first-order"):
        sd.testing.check_grads(sum_sin, (X,), 2)
    with pytest.raises(sd.DiffError, match="first-order"):
        sd.testing.check_grads(sum_sin, (X,), modes=("fwd",))
    x = sd.vector("x", 3)
    with pytest.raises(sd.DiffError, match="argnums"):
        sd.testing.check_grads(sd.sum(sd.sin(x)), {x: X}, argnums=0)
    sd.testing.check_grads(sd.sum(sd.sin(x)), {x: X}, 2)  # JAX's positional order


# -- variable names --------------------------------------------------------------------------

@pytest.mark.parametrize("make", [sd.scalar, sd.vector, sd.matrix,
                                  lambda n: sd.tensor(n, (2, 3)), sd.var, sd.Var])
def test_empty_variable_name_is_a_value_error(make):
    with pytest.raises(sd.ArgumentError) as err:
        make("")
    assert isinstance(err.value, ValueError) and isinstance(err.value, sd.SymdiffError)
    assert not isinstance(err.value, TypeError)
    assert "empty" in str(err.value)


@pytest.mark.parametrize("name", ["a b", "1x", "lambda"])
def test_names_that_cannot_be_parameters_are_refused_when_compiled(name):
    x = sd.scalar(name)
    with pytest.raises(sd.CompileError, match="parameter name"):
        sd.function([x], x * 2)


@pytest.mark.parametrize("make", [sd.scalar, sd.vector, sd.var, sd.Var])
def test_variable_name_of_another_type_is_a_type_error(make):
    with pytest.raises(sd.ArgumentTypeError) as err:
        make(3)
    assert isinstance(err.value, TypeError) and isinstance(err.value, sd.SymdiffError)
