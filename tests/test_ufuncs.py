"""The ufuncs beyond the first set: values against ``math`` and NumPy, the spellings of
SymPy and of NumPy in text and in functions, derivatives against finite differences.
(The generic op checker covers each op's rules; these check the ways users write them.)
"""
import math

import numpy as np
import pytest

import symdiff as sd
from symdiff.testing import check_grads

TEXT = [
    ("log(x, 2)", lambda x, y: math.log(x, 2)),
    ("sec(x) + csc(x) + cot(x)", lambda x, y: 1 / math.cos(x) + 1 / math.sin(x) + 1 / math.tan(x)),
    ("asinh(x) + atan2(x, y)", lambda x, y: math.asinh(x) + math.atan2(x, y)),
    ("arcsinh(x) * arctan2(y, x)", lambda x, y: math.asinh(x) * math.atan2(y, x)),
    ("erfc(x) + acot(x) + coth(x)", lambda x, y: math.erfc(x) + math.atan(1 / x)
     + 1 / math.tanh(x)),
    ("floor(x) + ceiling(y) + x * ceil(y)", lambda x, y: math.floor(x) + math.ceil(y)
     + x * math.ceil(y)),
]


@pytest.mark.parametrize("text,want", TEXT, ids=[t for t, _ in TEXT])
def test_text_spellings_compute_their_functions(text, want):
    e = sd.parse(text, x=(), y=())
    x, y = 0.7, 1.3
    assert float(sd.evaluate(e, {"x": x, "y": y})) == pytest.approx(want(x, y), rel=1e-13)
    check_grads(e, {"x": x, "y": y}, order=2)
    again = sd.parse(str(e), x=(), y=())          # the printed form reads back
    assert float(sd.evaluate(again, {"x": x, "y": y})) == pytest.approx(want(x, y), rel=1e-13)


def test_numpy_and_math_functions_in_python_functions():
    def f(x, y):
        return (np.sum(np.arcsinh(x) * np.arctan2(y, x)) + math.erfc(0.5)
                + np.sum(np.floor_divide(x, 3.0)) + np.sum(np.cumsum(x * y))
                + np.sum(np.cumprod(y, axis=0)) + np.sum(np.floor(x) + np.ceil(y)))
    rng = np.random.default_rng(0)
    x, y = rng.uniform(0.6, 1.4, 4), rng.uniform(0.6, 1.4, 4)
    X, Y = sd.vector("x", shape=(4,)), sd.vector("y", shape=(4,))
    assert float(sd.evaluate(f(X, Y), {"x": x, "y": y})) == pytest.approx(f(x, y), rel=1e-13)
    check_grads(f, [x, y], argnums=(0, 1))


@pytest.mark.parametrize("axis", [None, 0, 1, -1])
@pytest.mark.parametrize("name", ["cumsum", "cumprod"])
def test_running_sums_and_products_follow_numpy(name, axis):
    rng = np.random.default_rng(1)
    v = rng.uniform(0.5, 1.5, (3, 4))
    x = sd.matrix("x", shape=(None, None))
    e = getattr(sd, name)(x, axis=axis)
    np.testing.assert_allclose(sd.evaluate(e, {"x": v}), getattr(np, name)(v, axis=axis),
                               rtol=1e-13)
    check_grads(sd.sum(e * e), {"x": v}, order=2)


def test_rounding_has_derivative_zero_and_floor_divide_too():
    x = sd.vector("x", shape=(3,))
    v = np.array([0.3, 1.7, -2.2])
    for e in (sd.floor(x), sd.ceil(x), sd.floor_divide(x, 0.7)):
        g = sd.evaluate(sd.grad(sd.sum(e * x), x), {"x": v})
        np.testing.assert_allclose(g, sd.evaluate(e, {"x": v}))   # d(e*x)/dx = e


@pytest.mark.parametrize("typo,want", [("dett", "det"), ("invv", "inv"), ("cso", "cos"),
                                       ("tarce", "trace"), ("slove", "solve")])
def test_did_you_mean_picks_the_fewest_edits(typo, want):
    with pytest.raises(sd.ParseError, match=f"did you mean '{want}'"):
        sd.parse(f"{typo}(A)", A=(3, 3))


def test_mod_and_floor_divide_operators_against_finite_differences():
    # Points away from the jumps of x % c (x/c not near an integer).
    x, c = sd.vector("x", shape=(4,)), sd.scalar("c")
    v = {"x": np.array([0.3, 1.7, -2.2, 5.1]), "c": 0.8}
    e = sd.sum(sd.sin(x % c) * (x + 1.0)) + sd.sum((2.0 * x) // c * x) + sd.sum(3.0 % (c + x))
    np.testing.assert_allclose(sd.evaluate(e, v),
                               np.sum(np.sin(v["x"] % 0.8) * (v["x"] + 1))
                               + np.sum((2 * v["x"]) // 0.8 * v["x"])
                               + np.sum(np.mod(3.0, 0.8 + v["x"])), rtol=1e-14)
    check_grads(e, v, order=2)
    assert sd.parse(str(e), x=(4,), c=()) is e
    # d(x % c)/dc = -floor(x/c): an independent closed form.
    g = sd.evaluate(sd.grad(sd.sum(x % c), c), v)
    np.testing.assert_allclose(g, -np.sum(np.floor(v["x"] / 0.8)), rtol=1e-14)


def test_mod_in_parsed_text_reads_back():
    e = sd.parse("x % 3 + x // 2 - 5 % x", x=(3,))
    assert str(e) == "mod(x, 3) + floor_divide(x, 2) - mod(5, x)"
    assert sd.parse(str(e), x=(3,)) is e


def test_sinc_derivatives_at_and_near_zero_match_sympy():
    sympy = pytest.importorskip("sympy")
    t = sympy.Symbol("t")
    exact = sympy.sinc(sympy.pi * t)          # SymPy's sinc is sin(x)/x
    x = sd.scalar("x")
    d1 = sd.grad(sd.sinc(x), x)
    f = sd.function([x], [sd.sinc(x), d1, sd.grad(d1, x)])
    np.testing.assert_allclose(f(x=0.0), [1.0, 0.0, -np.pi ** 2 / 3], rtol=1e-15, atol=0)
    # either side of the switch to the series (|x| = 0.05), and far from it
    for v in ("0.001", "-0.0499", "0.0501", "0.7", "-3.3"):
        want = [float(sympy.diff(exact, t, k).subs(t, sympy.Rational(v)).evalf(30))
                for k in range(3)]
        np.testing.assert_allclose(f(x=float(v)), want, rtol=1e-11, atol=1e-15)


# -- hypot: derivatives accurate where one input dwarfs the other, and at the extremes ---

def _hypot_exact(a: float, b: float) -> list:
    """value, d/da, d/db, d2/da2, d2/dadb, d2/db2 by mpmath at 50 digits (b**2/h**3 and
    friends, the closed forms)."""
    import mpmath
    with mpmath.workdps(50):
        a, b = mpmath.mpf(a), mpmath.mpf(b)
        h = mpmath.sqrt(a * a + b * b)
        return [float(v) for v in (h, a / h, b / h, b * b / h**3, -a * b / h**3, a * a / h**3)]


def _hypot_paths(a: float, b: float) -> dict:
    import sys
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
    from test_boundary import every_path
    from symdiff.ir import Var
    va, vb = Var("a", (), np.float64), Var("b", (), np.float64)
    h = sd.hypot(va, vb)
    ga, gb = sd.grad(h, va), sd.grad(h, vb)
    outputs = [h, ga, gb, sd.grad(ga, va), sd.grad(ga, vb), sd.grad(gb, vb)]
    return dict(every_path(outputs, {"a": np.float64(a), "b": np.float64(b)}))


@pytest.mark.parametrize("point", [(800.0, 1.0), (1.0, -800.0), (-3e5, 2.0), (3.0, 4.0)])
def test_hypot_second_derivatives_do_not_cancel(point):
    # written as a/h, d(a/h)/da = (1 - (a/h)**2)/h loses 6 digits at (800, 1)
    want = _hypot_exact(*point)
    for path, got in _hypot_paths(*point).items():
        np.testing.assert_allclose(np.array(got, float), want, rtol=4e-15, atol=0,
                                   err_msg=f"hypot at {point} ({path})")


@pytest.mark.parametrize("point", [(1e-300, 1e-300), (1e300, 1e300), (1e300, 1.0)])
def test_hypot_at_the_extremes(point):
    want = _hypot_exact(*point)
    with np.errstate(all="ignore"):
        paths = _hypot_paths(*point)
    for path, got in paths.items():
        # value and first derivatives on every path (np.hypot scales: no overflow)
        np.testing.assert_allclose(np.array(got[:3], float), want[:3], rtol=4e-15,
                                   err_msg=f"hypot at {point} ({path})")
    # second derivatives in the graph as written (simplification merges b/a/a into
    # b/a**2, which over- or underflows out here)
    for path in ("interpreted", "compiled optimize=False"):
        np.testing.assert_allclose(np.array(paths[path][3:], float), want[3:], rtol=4e-15,
                                   atol=1e-320, err_msg=f"hypot at {point} ({path})")


def test_hypot_gradient_at_the_origin_is_zero():
    for path, got in _hypot_paths(0.0, 0.0).items():
        assert np.all(np.array(got, float) == 0), path


def test_hypot_spellings():
    x, y = np.array([3.0, -0.5, 1e-3]), np.array([4.0, 2.0, -7.0])
    X, Y = sd.vector("x", shape=(3,)), sd.vector("y", shape=(3,))
    want = np.sum(np.hypot(x, y))
    for e in (np.sum(np.hypot(X, Y)), sd.sum(sd.hypot(X, Y)),
              sd.parse("sum(hypot(x, y))", x=(3,), y=(3,))):
        assert float(sd.evaluate(e, {"x": x, "y": y})) == pytest.approx(want, rel=1e-15)
    check_grads(lambda a, b: np.sum(np.hypot(a, b)), [x, y], argnums=(0, 1))
