"""The SymPy bridge: every scalar op of the table goes to SymPy and back.

The oracle is SymPy's own evaluation (``lambdify``) of the converted expression,
compared with symdiff's reference interpreter at random points of each op's
domain; the round trip ``from_sympy(to_sympy(e))`` must give the same values.
"""
import numpy as np
import pytest
import sympy

import symdiff as sd
from symdiff.ir import Var, make
from symdiff.ops import OPS

SCALAR_OPS = sorted(name for name, op in OPS.items()
                    if any(all(s == () for s in case.shapes) for case in op.cases))
# Ops with no scalar use: reductions, linear algebra, structure (their cases are tensors).
TENSOR_ONLY = sorted(set(OPS) - set(SCALAR_OPS))


def sample(domain, rng):
    if domain == "bool":
        return bool(rng.random() > 0.5)
    if domain == "nonzero":
        return float(rng.choice([-1.0, 1.0]) * rng.uniform(0.3, 2.0))
    lo, hi = domain if isinstance(domain, tuple) else (-2.0, 2.0)
    return float(rng.uniform(lo, hi))


def scalar_node(name):
    op = OPS[name]
    case = next(c for c in op.cases if all(s == () for s in c.shapes))
    dtypes = ["bool" if (k < len(op.domain) and op.domain[k] == "bool") else "float64"
              for k in range(len(case.shapes))]
    variables = [Var(f"a{k}", (), dt) for k, dt in enumerate(dtypes)]
    return make(op, variables, case.attrs), variables


def sympy_value(expr, env):
    symbols = sorted(expr.free_symbols, key=lambda s: s.name)
    fn = sympy.lambdify(symbols, expr, "numpy")
    return fn(*(env[s.name] for s in symbols))


def test_the_scalar_ops_are_the_elementwise_ones():
    assert "sigmoid" in SCALAR_OPS and "where" in SCALAR_OPS and "clip" in SCALAR_OPS
    assert all(not OPS[n].elementwise for n in TENSOR_ONLY)


@pytest.mark.parametrize("name", SCALAR_OPS)
def test_every_scalar_op_round_trips(name):
    node, variables = scalar_node(name)
    op = OPS[name]
    s = sd.to_sympy(node)
    back = sd.from_sympy(s, {v.name: v for v in variables})
    assert back.shape == ()
    rng = np.random.default_rng(len(name))
    for _ in range(5):
        env = {v.name: sample(op.domain[k] if k < len(op.domain) else (-2.0, 2.0), rng)
               for k, v in enumerate(variables)}
        want = sd.evaluate(node, env)
        np.testing.assert_allclose(float(sympy_value(s, env)), float(want), rtol=1e-12,
                                   atol=1e-14, err_msg=f"{name}: {s}")
        np.testing.assert_allclose(float(sd.evaluate(back, env)), float(want), rtol=1e-12,
                                   atol=1e-14, err_msg=f"{name}: {back}")


def test_ml_functions_are_given_their_definitions():
    x = sd.scalar("x")
    sx = sympy.Symbol("x")
    assert sympy.simplify(sd.to_sympy(sd.sigmoid(x)) - 1 / (1 + sympy.exp(-sx))) == 0
    assert sd.to_sympy(sd.relu(x)) == sympy.Max(0, sx)
    assert sympy.simplify(sd.to_sympy(sd.softplus(x)) - sympy.log(1 + sympy.exp(sx))) == 0
    assert sd.from_sympy(sympy.Max(0, sx)) is sd.relu(x)


def test_composite_expressions_round_trip():
    x, y = sd.scalar("x"), sd.scalar("y")
    exprs = [x ** 2 * sd.sin(x), sd.sigmoid(x * y) + sd.log1p(y ** 2), sd.where(x > y, x, -y),
             sd.sqrt(1 + x ** 2) / (2 + sd.cos(y)), -x * sd.exp(-y), sd.maximum(x, y) - 3]
    rng = np.random.default_rng(0)
    for e in exprs:
        back = sd.from_sympy(sd.to_sympy(e), e.vars)
        for _ in range(5):
            env = {"x": rng.uniform(-2, 2), "y": rng.uniform(-2, 2)}
            np.testing.assert_allclose(sd.evaluate(back, env), sd.evaluate(e, env), rtol=1e-12)


def test_from_sympy_reads_sympy_forms():
    sx, sy = sympy.symbols("x y")
    anywhere, positive = [(0.0, 1.0), (-0.5, 2.0), (1.5, -1.0)], []
    cases = [
        (sympy.Rational(1, 3) * sx + sympy.pi, lambda x, y: x / 3 + np.pi, anywhere),
        (sympy.Piecewise((sx, sx > 1), (sy, sx < 0), (0, True)),
         lambda x, y: x if x > 1 else (y if x < 0 else 0.0), anywhere),
        (sympy.Heaviside(sx, 1), lambda x, y: 1.0 if x >= 0 else 0.0, anywhere),
        (sympy.log(sx, 2), lambda x, y: np.log2(x), positive),
        (sympy.Min(sx, sy, 1), lambda x, y: min(x, y, 1.0), anywhere),
        (1 / sympy.sqrt(sx), lambda x, y: x ** -0.5, positive),
        (sympy.atan(sy / sx) - sympy.Abs(sy), lambda x, y: np.arctan(y / x) - abs(y), positive),
    ]
    rng = np.random.default_rng(1)
    for expr, want, points in cases:
        e = sd.from_sympy(expr)
        for point in points + [tuple(rng.uniform(0.1, 2, 2)) for _ in range(3)]:
            env = {n: value for n, value in zip("xy", point) if n in e.vars}
            np.testing.assert_allclose(sd.evaluate(e, env), want(*point), rtol=1e-12,
                                       err_msg=str(expr))


def test_variables_are_shared_with_the_given_ones():
    x = sd.scalar("x")
    e = sd.from_sympy(sympy.Symbol("x") ** 2 + 1)
    assert e.vars["x"] is x
    x32 = sd.scalar("x", "float32")
    e = sd.from_sympy(sympy.Symbol("x") * 2, {"x": x32})
    assert e.vars["x"] is x32


def test_what_does_not_convert_says_so():
    with pytest.raises(ValueError, match="scalar"):
        sd.to_sympy(sd.sum(sd.vector("v")) + sd.vector("w"))
    with pytest.raises(ValueError, match="gamma"):
        sd.from_sympy(sympy.gamma(sympy.Symbol("x")))
    with pytest.raises(TypeError):
        sd.to_sympy("x + 1")
