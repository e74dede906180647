"""What symdiff prints reads back: no NumPy reprs, no JAX ``.at[...]``, no
``Heaviside`` or a comparison used as a number (SymPy multiplies no booleans), in
``str``, the command line's text and JSON and LaTeX, and generated docstrings; the
command line's matrix derivatives read back by ``sd.parse`` to the values that
central finite differences of the expression give (the oracle never sees the text).
"""
import json
import re

from fractions import Fraction

import numpy as np
import pytest

import symdiff as sd
from cli_corpus import CORPUS, MATRIX_CORPUS
from symdiff import cli
from symdiff.testing import check_grads  # noqa: F401  (the checker users get)

FOREIGN = re.compile(r"array\(|\.at\[|Heaviside\(|\*\s*\([^()]*(==|!=|<|>)[^()]*\)")


def foreign(text: str) -> list[str]:
    return [m.group(0) for m in FOREIGN.finditer(text)]


def shapes(decls):
    out = {}
    for d in decls:
        name, _, shape = d.partition("=")
        out[name] = tuple(int(k) for k in shape.split("x")) if shape else ()
    return out


def point(shape_of, rng):
    return {n: rng.uniform(-1, 1, s) if s else float(rng.uniform(-1, 1))
            for n, s in shape_of.items()}


def numeric_derivative(text, shape_of, wrt, env, order):
    """Central differences of the expression (order 1) or of its numeric gradient."""
    expr = sd.parse(text, **shape_of)

    def value(v):
        return float(sd.evaluate(expr, {**env, wrt: v}))

    def grad(v, h=1e-6):
        v = np.asarray(v, dtype=float)
        out = np.zeros(v.shape)
        for i in np.ndindex(v.shape):
            up, down = v.copy(), v.copy()
            up[i] += h
            down[i] -= h
            out[i] = (value(up) - value(down)) / (2 * h)
        return out
    if order == 1:
        return grad(env[wrt])
    v = np.asarray(env[wrt], dtype=float)
    rows = []
    for i in np.ndindex(v.shape):
        up, down = v.copy(), v.copy()
        up[i] += 1e-4
        down[i] -= 1e-4
        rows.append((grad(up) - grad(down)) / 2e-4)
    return np.array(rows).reshape(v.shape + v.shape)


@pytest.mark.parametrize("text,decls,wrt,order", MATRIX_CORPUS,
                         ids=[f"{t} d/d{w} order {o}" for t, _, w, o in MATRIX_CORPUS])
def test_matrix_derivatives_read_back(text, decls, wrt, order):
    printed = cli.run(text, wrt=wrt, var=decls, order=order)
    as_json = json.loads(cli.run(text, wrt=wrt, var=decls, order=order, fmt="json"))
    latex = cli.run(text, wrt=wrt, var=decls, order=order, fmt="latex")
    assert list(as_json.values()) == [printed]
    assert not foreign(printed) and not foreign(latex), (printed, latex)
    shape_of = shapes(decls)
    back = sd.parse(printed, **shape_of)
    env = point(shape_of, np.random.default_rng(len(text)))
    got = sd.evaluate(back, {n: env[n] for n in back.vars})
    want = numeric_derivative(text, shape_of, wrt, env, order)
    np.testing.assert_allclose(np.broadcast_to(got, want.shape), want, rtol=1e-5, atol=1e-6,
                               err_msg=printed)


def test_matrix_derivatives_in_matrix_notation():
    """The Matrix Cookbook's forms: d/dx x^T A x = A x + A^T x, its Hessian A + A^T."""
    assert cli.run("x @ A @ x", wrt="x", var=["x=3", "A=3x3"]) in (
        "x @ A + A @ x", "A @ x + x @ A", "(A + A.T) @ x", "x @ (A + A.T)")
    hessian = cli.run("x @ A @ x", wrt="x", var=["x=3", "A=3x3"], order=2)
    assert "eye" not in hessian and "array" not in hessian, hessian


@pytest.mark.parametrize("text", [t for t, _ in CORPUS])
def test_scalar_derivatives_print_no_foreign_form(text):
    for fmt in ("text", "json", "latex"):
        out = cli.run(text, fmt=fmt)
        assert not foreign(out), out
    expr = sd.parse(text.replace("^", "**"))
    grads = sd.grad(expr, list(expr.vars.values()))
    for g in grads + sd.simplify(grads):
        assert not foreign(str(g)), str(g)


def test_generated_docstrings_print_no_foreign_form():
    A, B = sd.matrix("A", (3, 3)), sd.matrix("B", (3, 3))
    x = sd.vector("x", 5)
    a = sd.scalar("a")
    cases = [sd.trace(A @ B) + sd.sum(A @ np.arange(9.0).reshape(3, 3)),
             sd.sum(x[1:] * x[:-1]), sd.maximum(a, a ** 2) + sd.abs(a) + sd.relu(a)]
    for cost in cases:
        inputs = sorted(cost.vars.values(), key=lambda v: v.name)
        f = sd.function(inputs, [cost, *sd.grad(cost, inputs)])
        # the prose of the source: its docstring and comments (its code may build arrays)
        prose = re.findall(r'"""(.*?)"""', f.source, re.S) + re.findall(r"#.*", f.source)
        assert prose and not foreign("\n".join(prose)), foreign("\n".join(prose))


def test_constants_print_as_calls_or_named_values():
    A = sd.matrix("A", (3, 3))
    cases = {sd.constant(np.eye(3)) @ A: "eye(3) @ A", A + np.ones((3, 3)): "A + ones((3, 3))",
             A * np.zeros(3): "A*zeros(3)", A - np.full((3, 3), 0.5): "A - full((3, 3), 0.5)",
             A + np.full((3, 3), 2.0): "A + full((3, 3), 2.0)"}
    for e, want in cases.items():
        assert str(e) == want
    odd = A @ np.arange(9.0).reshape(3, 3)
    assert str(odd) == ("A @ C0 where C0 = [[0, 1, 2], [3, 4, 5], "
                        "[6, 7, 8]]")
    back = sd.parse(str(odd), A=A)
    value = np.arange(9.0).reshape(3, 3)[::-1]
    np.testing.assert_array_equal(sd.evaluate(back, {"A": value}),
                                  value @ np.arange(9.0).reshape(3, 3))


def test_exact_numbers_and_zero():
    x = sd.scalar("x")
    assert str(x ** (1 / 3)) == "x**(1/3)"
    assert str(sd.simplify(sd.grad(2.0 ** x, [x])[0])) == "log(2)*2**x"
    assert str(x * np.pi + np.e) == "x*pi + E"
    assert str(x * -0.0) == "x*-0.0"
    assert cli.run("x**2", order=3) == "0"
    assert sd.parse("x*-0.0 + 1/3 + log(2) + E").vars["x"] is x
    assert float(sd.evaluate(sd.parse("1/(x*-0.0)"), {"x": 1.0})) == -np.inf


def test_fraction_exponents_stay_fractions_with_the_value_they_print():
    # d/dx x**(p/q) has the exponent p/q - 1 rounded once from the fraction, so its
    # text shows -2/3, and that text computes what the derivative computes.
    x = sd.scalar("x")
    for p, q in [(1, 3), (2, 3), (1, 7), (5, 6), (-1, 3)]:
        g = sd.simplify(sd.grad(x ** (p / q), [x])[0])
        less = Fraction(p, q) - 1
        assert f"x**({less.numerator}/{less.denominator})" in str(g) or (
            f"x**{less.numerator}/{less.denominator}" in str(g)), str(g)
        back = sd.parse(str(g))
        for v in (0.3, 2.5, 7.0):
            got = float(sd.evaluate(g, {"x": v}))
            assert float(sd.evaluate(back, {"x": v})) == got
            assert got == pytest.approx(float(Fraction(p, q)) * v ** float(less), rel=1e-14)
    # The command line writes the exact coefficient as a division, as SymPy would.
    for text, want in [("x**(1/3)", "x**(-2/3)/3"), ("2**x", "log(2)*2**x")]:
        printed = cli.run(text)
        assert printed == want
        g = sd.simplify(sd.grad(sd.parse(text), [x])[0])
        for v in (0.3, 2.5, 7.0):
            assert float(sd.evaluate(sd.parse(printed), {"x": v})) == pytest.approx(
                float(sd.evaluate(g, {"x": v})), rel=1e-12)


def test_a_sum_of_a_term_with_itself_prints_doubled():
    assert cli.run("x @ x", var=["x=3"]) == "2*x"
    assert cli.run("x*x") == "2*x"
    assert cli.run("x @ x", var=["x=3"], fmt="latex") == "2 x"
    # doubling is exact: the printed text computes the simplifier's x + x bit for bit
    x = sd.var("x", (6,))
    value = np.array([1.5, -0.0, np.inf, np.nan, 1e308, 5e-324])
    with np.errstate(all="ignore"):
        cases = [("x @ x", 2 * value), ("sum(exp(x)) + x @ x", np.exp(value) + 2 * value)]
    for text, want in cases:
        g = sd.simplify(sd.grad(sd.parse(text, x=(6,)), [x])[0])
        back = sd.parse(cli.run(text, var=["x=6"]), x=(6,))
        with np.errstate(all="ignore"):
            np.testing.assert_array_equal(sd.evaluate(back, {"x": value}), want)
            np.testing.assert_array_equal(sd.evaluate(back, {"x": value}),
                                          sd.evaluate(g, {"x": value}))
        assert np.signbit(sd.evaluate(back, {"x": value})[1]) == np.signbit(want[1])


def test_log_abs_prints_one_over_x():
    # sign(x)/|x| is 1/x at every x != 0. At the zeros the derivative is undefined and
    # both forms are infinite (the graph's inf at -0.0, 1/x's -inf: the two one-sided
    # limits), so the printed 1/x changes no finite value.
    x = sd.scalar("x")
    g = sd.simplify(sd.grad(sd.parse("log(abs(x))"), [x])[0])
    text = cli.run("log(abs(x))")
    assert text == "1/x"
    back = sd.parse(text)
    with np.errstate(divide="ignore"):
        for v in [2.0, -2.0, 1e-300, -1e-300, 5e-324, -5e-324, 1e308, -np.inf]:
            assert float(sd.evaluate(back, {"x": v})) == float(sd.evaluate(g, {"x": v})), v
        for v in [0.0, -0.0]:
            assert np.isinf(float(sd.evaluate(g, {"x": v})))
            assert np.isinf(float(sd.evaluate(back, {"x": v})))


def test_derivatives_at_kinks_convert_to_sympy():
    sympy = pytest.importorskip("sympy")
    x = sd.scalar("x")
    for e in [sd.abs(x), sd.maximum(x, x ** 2), sd.clip(x, 0.0, 1.0), sd.relu(x)]:
        g = sd.simplify(sd.grad(e, [x])[0])
        s = sd.to_sympy(g)
        for v in (0.5, 2.0, -0.7):
            want = float(sd.evaluate(g, {"x": v}))
            assert float(s.subs(sympy.Symbol("x"), v)) == pytest.approx(want)


def test_demo_names_each_repeated_part_once(capsys):
    from symdiff import demo
    demo.main()
    out = capsys.readouterr().out
    line = out.split("sd.parse reads this text back):\n", 1)[1].splitlines()[0].strip()
    body, _, definitions = line.partition(" where ")
    assert definitions, line
    # each layer's sigmoid is written once, in its definition
    assert line.count("sigmoid(") == 2, line
    x, t = sd.vector("x", 2), sd.vector("t", 2)
    W1, W2 = sd.matrix("W1", (2, 2)), sd.matrix("W2", (2, 2))
    b1, b2 = sd.scalar("b1"), sd.scalar("b2")
    back = sd.parse(line, x=x, t=t, W1=W1, W2=W2, b1=b1, b2=b2)
    o = sd.sigmoid(W2 @ sd.sigmoid(W1 @ x + b1) + b2)
    want = sd.grad(sd.sum(0.5 * (t - o) ** 2), [b2])[0]
    rng = np.random.default_rng(1)
    env = dict(x=rng.normal(size=2), t=rng.normal(size=2), W1=rng.normal(size=(2, 2)),
               W2=rng.normal(size=(2, 2)), b1=0.3, b2=-0.1)
    assert float(sd.evaluate(back, env)) == pytest.approx(float(sd.evaluate(want, env)))


def test_latex_a_reader_rebuilds_one_way():
    x, y = sd.vector("x", 3), sd.vector("y", 3)
    A, X = sd.matrix("A", (3, 3)), sd.matrix("X", (3, 3))
    cases = {x @ A @ x: r"x^{\top} A x", x @ x: r"x^{\top} x",
             -y @ X: r"X^{\top} \left(-y\right)", (A @ x) * y: r"\left(A x\right) \odot y",
             sd.sum(A * A): r"\sum \left(A \odot A\right)",
             x * (x @ y): r"x \left(x^{\top} y\right)"}
    for e, want in cases.items():
        assert sd.to_latex(e) == want, str(e)
    # the command line's LaTeX shows the form its text shows
    assert cli.run("x**2*sin(x)", fmt="latex") == sd.to_latex(sd.parse(cli.run("x**2*sin(x)")))


# -- the polish of scalar derivatives (symdiff.rewrite.polish_rules) -----------------------

POLISHED = [   # expression, its printed derivative: one identity or form each
    ("x*(x - 1)*(x + 2)", "3*x**2 + 2*x - 2"),          # multiplied out
    ("(x + 1)/(x - 3)", "-4/(x - 3)**2"),               # one denominator, cancelled
    ("x*exp(x)", "(x + 1)*exp(x)"),                     # common factor
    ("exp(x)/x", "(x - 1)*exp(x)/x**2"),                # common factor with a power of x
    ("sin(x)*cos(x)", "cos(2*x)"),                      # cos**2 - sin**2
    ("sin(x)**2", "sin(2*x)"),                          # 2*sin*cos
    ("tan(x)**2", "2*tan(x)/cos(x)**2"),                # 1 + tan**2
    ("exp(tanh(x))", "exp(tanh(x))/cosh(x)**2"),        # 1 - tanh**2
    ("sigmoid(x)", "1/(4*cosh(x/2)**2)"),               # s*(1 - s)
    ("asin(x/2)", "1/sqrt(4 - x**2)"),                  # a number into the square root
    ("atan(y/x)", "x: -y/(x**2 + y**2)\ny: x/(x**2 + y**2)"),
    ("x**x", "(log(x) + 1)*x**x"),                      # x*x**(x - 1) is x**x
    ("log(abs(x))", "1/x"),                             # sign(x)/|x|
    ("x**(1/3)", "x**(-2/3)/3"),
]


BOTH_SIGNS = {"log(abs(x))", "sigmoid(x)", "sin(x)*cos(x)", "x*exp(x)", "tan(x)**2",
              "x*(x - 1)*(x + 2)", "(x + 1)/(x - 3)", "exp(tanh(x))"}


@pytest.mark.parametrize("text,want", POLISHED, ids=[t for t, _ in POLISHED])
def test_polished_forms(text, want):
    sympy = pytest.importorskip("sympy")
    printed = cli.run(text)
    assert printed == want
    # Oracles: central differences of the expression, and SymPy's derivative.
    e = sd.parse(text)
    names = sorted(e.vars)
    lines = printed.splitlines()
    rng = np.random.default_rng(1)
    for name, line in zip(names, lines):
        back = sd.parse(line.split(": ")[-1])
        symbols = {n: sympy.Symbol(n, real=True) for n in names}
        mine = sd.to_sympy(e).subs({sympy.Symbol(n): s for n, s in symbols.items()})
        theirs = sympy.diff(mine, symbols[name])
        for _ in range(3):
            sign = rng.choice([-1, 1]) if text in BOTH_SIGNS else 1
            point = {n: float(rng.uniform(0.3, 1.2) * sign) for n in names}
            h = 1e-6
            up = dict(point, **{name: point[name] + h})
            down = dict(point, **{name: point[name] - h})
            fd = (float(sd.evaluate(e, up)) - float(sd.evaluate(e, down))) / (2 * h)
            got = float(sd.evaluate(back, {n: v for n, v in point.items() if n in back.vars}))
            assert got == pytest.approx(fd, rel=1e-6, abs=1e-8), (line, point)
            exact = float(theirs.evalf(subs={symbols[n]: v for n, v in point.items()}))
            assert got == pytest.approx(exact, rel=1e-12, abs=1e-14), (line, point)


def test_polish_changes_no_finite_value_at_zero_bases():
    # x**y's partials keep the terms that make them exact at a zero base: without them
    # y*x**(y - 1) is NaN at (0, 0), where the derivative of x**0 is 0.
    out = dict(line.split(": ") for line in cli.run("x**y").splitlines())
    for name, text in out.items():
        g = sd.simplify(sd.grad(sd.parse("x**y"), [sd.scalar(name)])[0])
        back = sd.parse(text)
        with np.errstate(all="ignore"):
            for point in [(0.0, 0.0), (0.0, 0.5), (0.0, 2.0), (0.5, 0.0), (1.5, -1.0)]:
                env = dict(zip("xy", point))
                want = float(sd.evaluate(g, env))
                assert float(sd.evaluate(back, env)) == pytest.approx(want, nan_ok=True), (
                    name, point)
