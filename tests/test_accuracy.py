"""Accuracy against mpmath, in ulp of the true value.

- The sigmoid in its tails, on every path a value can take: compiled arrays (length
  known or not, written into a dead temporary, into a buffer kept between calls),
  compiled 0-d values (Python floats, 0-d NumPy), the reference interpreter, constant
  folding and ``--at`` in the command line; the same for the gradient of softplus,
  which is the sigmoid. Wherever the true value is a normal float64 (from x = -708.4
  up) the error is at most 4 ulp, and nothing warns at +-1000 or +-inf.
- The table of every elementwise op of the op table (bench/accuracy.py, printed by
  ``python -m bench.accuracy``): each op within its bound, and every op either measured
  or skipped for a stated reason.
"""
import math
import warnings

import mpmath
import numpy as np
import pytest

import symdiff as sd
from bench import accuracy
from symdiff import cli

MAX_ULP = 4.0
# From the left tail (normal down to -708.39) through 0 to where sigmoid rounds to 1.
TAIL = [-708.0, -700.0, -650.5, -500.0, -300.25, -100.0, -50.0, -40.0, -37.0, -30.0, -20.0,
        -10.0, -5.0, -1.0, -0.25, -1e-8, 0.0, 1e-8, 0.25, 1.0, 5.0, 10.0, 20.0, 30.0, 36.0,
        37.0, 38.0, 39.0, 40.0, 50.0, 700.0]


def sigmoid_true(x: float) -> mpmath.mpf:
    with mpmath.workprec(accuracy.PREC):
        return 1 / (1 + mpmath.exp(-mpmath.mpf(x)))


def sigmoid_slope_true(x: float) -> mpmath.mpf:
    with mpmath.workprec(accuracy.PREC):
        e = mpmath.exp(-abs(mpmath.mpf(x)))
        return e / (1 + e) ** 2


def assert_ulp(values, points, true, bound=MAX_ULP, dtype=np.float64, what=""):
    errors = [accuracy.ulp_error(float(v), true(x), dtype) for v, x in zip(values, points)]
    k = int(np.argmax(errors))
    assert errors[k] <= bound, (f"{what}: {errors[k]:.3g} ulp at x = {points[k]!r}: got "
                                f"{float(values[k])!r}, true {mpmath.nstr(true(points[k]), 17)}")


def strictly(fn, *args):
    return accuracy.strictly(fn, *args)


# -- the sigmoid and the gradient of softplus, on every path --------------------------------

def _array(expr_of, shape=None):
    v = sd.vector("v", shape=shape) if shape else sd.vector("v")
    f = sd.function([v], expr_of(v))
    return lambda xs: strictly(f, np.array(xs)), f


def _vector(expr_of):
    return _array(expr_of)[0]


def _static(expr_of):
    return lambda xs: _array(expr_of, (len(xs),))[0](xs)


def _in_place(expr_of):
    """Written into a dead temporary (the doubled input) with out=."""
    call, f = _array(lambda v: expr_of(2.0 * v))
    assert "out=t0)  # sigmoid" in f.source, f.source
    return lambda xs: call(np.array(xs) / 2.0)


def _kept(expr_of):
    """Written into a buffer kept between calls (a big temporary, not an output)."""
    n = 1 << 14
    v = sd.vector("v", shape=(n,))
    u = 2.0 * v
    f = sd.function([v], [-expr_of(u), u])
    assert "_kept(" in f.source, f.source
    return lambda xs: -strictly(f, np.resize(np.array(xs) / 2.0, n))[0][:len(xs)]


def _python_floats(expr_of):
    s = sd.scalar("s")
    f = sd.function([s], expr_of(s))
    return lambda xs: [strictly(f, x) for x in xs]


def _numpy_0d(expr_of):
    """A 0-d node beside array work stays in NumPy (too few 0-d nodes for Python floats)."""
    s, w = sd.scalar("s"), sd.vector("w")
    f = sd.function([s, w], [expr_of(s), 2.0 * w])
    assert "math." not in f.source, f.source
    return lambda xs: [strictly(f, x, np.ones(2))[0] for x in xs]


def _interpreter(expr_of):
    v = sd.vector("v")
    return lambda xs: strictly(sd.evaluate, expr_of(v), {"v": np.array(xs)})


def _folded(expr_of):
    def values(xs):
        nodes = [sd.simplify(expr_of(sd.constant(x))) for x in xs]
        assert all(n.op.name == "const" for n in nodes)
        return [n.value for n in nodes]
    return values


PATHS = {"vector": _vector, "static": _static, "in place": _in_place, "kept": _kept,
         "python floats": _python_floats, "numpy 0-d": _numpy_0d,
         "interpreter": _interpreter, "folded": _folded}


def softplus_grad(x):
    """d softplus(x) / dx, by reverse mode (x may be any node, not only a variable)."""
    return sd.grad(sd.sum(sd.softplus(x)), x) if x.ndim else sd.grad(sd.softplus(x), x)


@pytest.mark.parametrize("path", PATHS)
def test_sigmoid_tails(path):
    values = PATHS[path](sd.sigmoid)(TAIL)
    assert_ulp(values, TAIL, sigmoid_true, what=f"sigmoid, {path}")
    if path == "python floats":
        s = sd.scalar("s")
        assert "math.exp(-s)" in sd.function([s], sd.sigmoid(s)).source


@pytest.mark.parametrize("path", sorted(set(PATHS) - {"folded"}))
def test_softplus_gradient_tails(path):
    values = PATHS[path](softplus_grad)(TAIL)
    assert_ulp(values, TAIL, sigmoid_true, what=f"d softplus/dx, {path}")


def test_sigmoid_on_the_command_line():
    # symdiff prints the derivative: of softplus, the sigmoid; of sigmoid, its slope.
    points = [-700.0, -50.0, -30.0, 1e-8, 30.0]
    values = [float(cli.run("softplus(x)", at=[f"x={x!r}"])) for x in points]
    assert_ulp(values, points, sigmoid_true, what="--at, d softplus/dx")
    values = [float(cli.run("sigmoid(x)", at=[f"x={x!r}"])) for x in points[:3]]
    assert_ulp(values, points[:3], sigmoid_slope_true, what="--at, d sigmoid/dx")


def test_sigmoid_slope_in_the_left_tail():
    """s * (1 - s) (the slope from s alone, as specialized) is accurate where s is small
    (x <= 0); on the right 1 - s is lost to rounding, as in JAX and PyTorch."""
    points = [x for x in TAIL if x <= 0]
    for path in ("vector", "python floats", "interpreter"):
        values = PATHS[path](lambda x: sd.grad(sd.sum(sd.sigmoid(x)), x))(points)
        assert_ulp(values, points, sigmoid_slope_true, what=f"d sigmoid/dx, {path}")


def test_log_sigmoid_and_its_gradient_in_both_tails():
    points = [x for x in TAIL if abs(x) <= 700]

    def log_sigmoid_true(x):
        with mpmath.workprec(accuracy.PREC):
            return -mpmath.log1p(mpmath.exp(-mpmath.mpf(x)))

    for path in ("vector", "python floats"):
        values = PATHS[path](lambda x: sd.log(sd.sigmoid(x)))
        assert_ulp(values(points), points, log_sigmoid_true, what=f"log sigmoid, {path}")
        grads = PATHS[path](lambda x: sd.grad(sd.sum(sd.log(sd.sigmoid(x))), x))
        assert_ulp(grads(points), points, lambda x: sigmoid_true(-x),
                   what=f"d log sigmoid/dx, {path}")


@pytest.mark.parametrize("path", sorted(set(PATHS) - {"folded"}))
def test_no_warnings_at_the_extremes(path):
    points = [-np.inf, -1e300, -1000.0, -745.5, -709.9, 709.9, 1000.0, 1e300, np.inf]
    want = [0.0, 0.0, 0.0, 0.0, sigmoid_true(-709.9), 1.0, 1.0, 1.0, 1.0]
    for expr_of in (sd.sigmoid, softplus_grad):
        got = PATHS[path](expr_of)(points)     # warnings are errors
        np.testing.assert_array_equal(np.asarray(got, float), np.asarray(want, float))
    got = PATHS[path](lambda x: sd.grad(sd.sum(sd.sigmoid(x)), x))(points)
    # s * (1 - s): exact on the left, 0 on the right (see the test above)
    want = [0.0, 0.0, 0.0, 0.0, float(sigmoid_slope_true(-709.9)), 0.0, 0.0, 0.0, 0.0]
    np.testing.assert_array_equal(np.asarray(got, float), want)


def test_float32_sigmoid():
    """float32 throughout: within 4 float32 ulp wherever the true value is a normal
    float32 (x from -87.3 up), and no overflow where exp(x) would (x > 88.7)."""
    points = [x for x in TAIL if x >= -87] + [-87.0, -80.5, 88.0, 89.0, 100.0]
    v = sd.vector("v", dtype=np.float32)
    f = sd.function([v], sd.sigmoid(v))
    got = strictly(f, np.array(points, np.float32))
    assert got.dtype == np.float32
    assert_ulp(got, points, sigmoid_true, dtype=np.float32, what="float32 sigmoid")
    s = sd.scalar("s", dtype=np.float32)
    g = sd.function([s], sd.sigmoid(s))
    got = [strictly(g, np.float32(x)) for x in points]
    assert all(np.asarray(x).dtype == np.float32 for x in got)
    assert_ulp(got, points, sigmoid_true, dtype=np.float32, what="float32 0-d sigmoid")


# -- the table of every elementwise op -------------------------------------------------------

MEASURED = [n for n in accuracy.elementwise_ops() if n not in accuracy.SKIPPED]


@pytest.mark.parametrize("name", MEASURED)
def test_accuracy_table(name):
    row = accuracy.measure(name)
    assert row.note == "", f"{name}: {row.note}"
    assert row.points >= 100, f"{name}: only {row.points} sample points have a float value"
    # 1e-9: the reference is rounded at 256 bits, a correctly rounded result is at 0.5
    assert row.worst <= row.bound + 1e-9, accuracy.format_table([row])


def test_every_elementwise_op_is_measured_or_skipped_for_a_reason():
    for name in accuracy.elementwise_ops():
        if name in accuracy.SKIPPED:
            assert accuracy.SKIPPED[name].strip()
        else:
            assert accuracy.reference_for(name) is not None, (
                f"{name}: no mpmath reference and no SymPy form; add one to "
                f"bench/accuracy.py REFERENCE, or a reason to SKIPPED")


def test_the_table_can_fail():
    """A form that loses the tail (the sigmoid as 0.5 + 0.5 tanh(x/2)) is caught."""
    x = -50.0
    naive = 0.5 + 0.5 * math.tanh(0.5 * x)
    assert accuracy.ulp_error(naive, sigmoid_true(x)) > 1e15
    assert accuracy.ulp_error(float(sigmoid_true(x)), sigmoid_true(x)) <= 0.5
    with pytest.raises((Warning, FloatingPointError)):
        strictly(lambda: np.exp(np.array(1000.0)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert accuracy.ulp_error(1.0, mpmath.mpf(0)) == math.inf
