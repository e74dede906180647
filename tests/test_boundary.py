"""Derivatives at the boundary of the domain.

First the zero-base powers, checked against their mathematical values: a**0 is 1
for every a, so its derivative in a is 0 at a = 0 too; 0**b is 0 for every b > 0,
so its derivative in b is 0. Each is checked to the second order, in reverse and
forward mode, compiled (with and without rewrites) and interpreted, in float32 and
float64.
"""
import warnings

import numpy as np
import pytest

import symdiff as sd
from symdiff.interpret import evaluate

FLOATS = ("float32", "float64")


def call_strictly(f, *args, **kwargs):
    """Warnings are errors (underflow aside): a right answer comes without them."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", divide="raise", invalid="raise", under="ignore"):
            return f(*args, **kwargs)


def two_derivatives(e, w):
    """d/dw and d2/dw2 of a 0-d ``e``, by reverse mode and by forward mode."""
    d1 = sd.grad(e, w)
    t1 = sd.jvp(e, w, sd.constant(1.0, w.dtype))
    return [d1, sd.grad(d1, w), t1, sd.jvp(t1, w, sd.constant(1.0, w.dtype))]


def every_path(outputs, env):
    """(path, values) for compiled code with and without rewrites and the interpreter."""
    inputs = sorted({v for o in outputs for v in o.vars.values()}, key=lambda v: v.name)
    for optimize in (True, False):
        values = sd.function(inputs, outputs, optimize=optimize)(**env)
        yield f"compiled optimize={optimize}", values
    yield "interpreted", evaluate(outputs, env)


# -- powers with a zero base --------------------------------------------------------------

def _power_of_zero(dtype):
    y = sd.scalar("y", dtype)
    return sd.power(sd.constant(0.0, dtype), y), y


def _x_to_the_n(dtype):
    x = sd.scalar("x", dtype)
    return x ** sd.scalar("n", "int64"), x


def _x_to_the_float_n(dtype):
    x = sd.scalar("x", dtype)
    return x ** sd.scalar("m", dtype), x


def _sum_of_powers(dtype):
    z = sd.scalar("z", dtype)
    return sd.sum(z ** sd.constant(np.arange(0, 3))), z


# (name, builder, other inputs, point, first and second derivative): the exact values
ZERO_BASE = [
    ("0**y at y = 0.5", _power_of_zero, {}, 0.5, 0.0, 0.0),
    ("0**y at y = 2", _power_of_zero, {}, 2.0, 0.0, 0.0),
    ("x**n at x = 0, n = 0 (int)", _x_to_the_n, {"n": 0}, 0.0, 0.0, 0.0),
    ("x**n at x = 0, n = 1 (int)", _x_to_the_n, {"n": 1}, 0.0, 1.0, 0.0),
    ("x**n at x = 0, n = 2 (int)", _x_to_the_n, {"n": 2}, 0.0, 0.0, 2.0),
    ("x**n at x = 2, n = 0 (int)", _x_to_the_n, {"n": 0}, 2.0, 0.0, 0.0),
    ("x**m at x = 0, m = 0.0", _x_to_the_float_n, {"m": 0.0}, 0.0, 0.0, 0.0),
    ("x**m at x = 0, m = 1.0", _x_to_the_float_n, {"m": 1.0}, 0.0, 1.0, 0.0),
    ("sum(z**[0, 1, 2]) at z = 0", _sum_of_powers, {}, 0.0, 1.0, 2.0),
]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("name,build,others,point,first,second", ZERO_BASE,
                         ids=[row[0] for row in ZERO_BASE])
def test_zero_base_power_derivatives(name, build, others, point, first, second, dtype):
    e, w = build(dtype)
    env = {w.name: np.array(point, dtype), **others}
    want = [first, second, first, second]
    for path, values in every_path(two_derivatives(e, w), env):
        got = np.array([np.asarray(v, float) for v in values])
        np.testing.assert_array_equal(got, want, err_msg=f"{name}, {path}, "
                                      "[rev, rev of rev, fwd, fwd of fwd]")


def test_zero_base_power_of_python_functions():
    """The three spellings users met, through sd.grad of a function: no NaN, no warning."""
    for dtype in (np.float32, np.float64):
        zero = dtype(0.0)
        assert call_strictly(sd.grad(lambda y: np.power(zero, y)), dtype(0.5)) == 0.0
        assert call_strictly(sd.grad(lambda x, n: x**n), zero, 0) == 0.0
        assert call_strictly(sd.grad(lambda z: np.sum(z ** np.arange(0, 2))), zero) == 1.0


def test_mixed_second_derivative_of_a_power_is_exact_away_from_zero():
    """The zero-base corrections are piecewise constant: at a != 0 every derivative is the
    textbook one, b = 0 included (d/db of b * a**(b - 1) is 1/a there)."""
    x, y = sd.scalar("x"), sd.scalar("y")
    gx = sd.grad(x ** y, x)
    f = sd.function([x, y], [gx, sd.grad(gx, y), sd.grad(sd.grad(x ** y, y), x)])
    for a, b in [(2.0, 0.0), (0.5, 0.0), (2.0, 1.0), (1.5, 0.7)]:
        want = [b * a ** (b - 1), a ** (b - 1) * (1 + b * np.log(a))]
        got = call_strictly(f, a, b)
        np.testing.assert_allclose(got, [want[0], want[1], want[1]], rtol=1e-14)


def test_mixed_second_derivative_at_zero_zero_is_not_a_number():
    """At a = b = 0, a**b is not continuous and d2/da db does not exist: NaN, not a
    number that looks right."""
    x, y = sd.scalar("x"), sd.scalar("y")
    gx = sd.grad(x ** y, x)
    with np.errstate(all="ignore"):
        for path, values in every_path([sd.grad(gx, y)], {"x": 0.0, "y": 0.0}):
            assert np.isnan(values[0]), path
