"""Derivatives at the boundary of the domain.

- The zero-base powers, checked against their mathematical values: a**0 is 1 for
  every a, so its derivative in a is 0 at a = 0 too; 0**b is 0 for every b > 0, so
  its derivative in b is 0. Each to the second order, in reverse and forward mode,
  compiled (with and without rewrites) and interpreted, in float32 and float64.
- The boundary table: the value and the first two derivatives of functions at the
  edge of their domain (0 for powers, roots, logs, abs; +-1 for arcsin, arccos),
  against the one-sided limits, worked out by hand.
- The sweep: every differentiable elementwise op of the op table (a new op is swept
  too, or must be listed in ``SKIPPED`` with the reason) at 0, +-1, large values
  (+-800, +-1e4), +-inf and NaN, every operand taking each: the value and the first
  and second derivative in each operand, compiled with and without rewrites and
  interpreted, against JAX (float64) and against the limit of SymPy's derivative
  evaluated with mpmath, where that limit exists. Where symdiff departs from JAX on
  purpose, a row of ``DIFFERENCES`` says where, gives symdiff's value there and the
  reason (README, Conventions, lists them).
"""
import itertools
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest

import symdiff as sd
from symdiff.interpret import evaluate
from symdiff.ir import Var, make
from symdiff.ops import OPS

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


def test_clip_when_the_bounds_cross():
    """clip(x, lo, hi) is min(max(x, lo), hi): with lo > hi it is hi whatever x and lo are;
    and at x = lo = hi the three derivatives split 1 as the two ties do (1/4, 1/4, 1/2)."""
    x, lo, hi = sd.scalar("x"), sd.scalar("lo"), sd.scalar("hi")
    grads = sd.grad(sd.clip(x, lo, hi), [x, lo, hi])
    for path, values in every_path(grads, {"x": 0.0, "lo": 1.0, "hi": -1.0}):
        assert list(values) == [0.0, 0.0, 1.0], path
    for path, values in every_path(grads, {"x": 0.0, "lo": 0.0, "hi": 0.0}):
        assert list(values) == [0.25, 0.25, 0.5], path


# -- the boundary table ---------------------------------------------------------------------

INF = np.inf

# (name, f, point, value, first and second derivative): the limits from inside the domain
BOUNDARY = [
    ("sqrt at 0", sd.sqrt, 0.0, 0.0, INF, -INF),
    ("sqrt at inf", sd.sqrt, INF, INF, 0.0, 0.0),
    ("log at 0", sd.log, 0.0, -INF, INF, -INF),
    ("log1p at -1", sd.log1p, -1.0, -INF, INF, -INF),
    ("arcsin at 1", sd.arcsin, 1.0, np.pi / 2, INF, INF),
    ("arcsin at -1", sd.arcsin, -1.0, -np.pi / 2, INF, -INF),
    ("arccos at 1", sd.arccos, 1.0, 0.0, -INF, -INF),
    ("arccos at -1", sd.arccos, -1.0, np.pi, -INF, INF),
    # kinks: no limit; JAX's conventions (abs'(0) = 1, relu'(0) = 0, sign' = 0)
    ("abs at 0", sd.abs, 0.0, 0.0, 1.0, 0.0),
    ("relu at 0", sd.relu, 0.0, 0.0, 0.0, 0.0),
    ("sign at 0", sd.sign, 0.0, 0.0, 0.0, 0.0),
    ("x**0 at 0", lambda x: x ** 0.0, 0.0, 1.0, 0.0, 0.0),
    ("x**1 at 0", lambda x: x ** 1.0, 0.0, 0.0, 1.0, 0.0),
    ("x**2 at 0", lambda x: x ** 2.0, 0.0, 0.0, 0.0, 2.0),
    ("x**0.5 at 0", lambda x: x ** 0.5, 0.0, 0.0, INF, -INF),
    ("x**(1/3) at 0", lambda x: x ** (1.0 / 3.0), 0.0, 0.0, INF, -INF),
    ("x**-1 at 0", lambda x: x ** -1.0, 0.0, INF, -INF, INF),
    ("0**y at 0.5", lambda y: sd.power(0.0, y), 0.5, 0.0, 0.0, 0.0),
    ("0**y at 2", lambda y: sd.power(0.0, y), 2.0, 0.0, 0.0, 0.0),
    # a variable exponent (b = 0.5, 2), in the base and in the exponent
    ("x**b at 0, b = 0.5", lambda x: x ** sd.scalar("b"), 0.0, 0.0, INF, -INF),
    ("x**b at 0, b = 2", lambda x: x ** sd.scalar("b"), 0.0, 0.0, 0.0, 2.0),
    ("a**y at y = 0.5, a = 0", lambda y: sd.scalar("a") ** y, 0.5, 0.0, 0.0, 0.0),
]
OTHER_INPUTS = {"b": {"x**b at 0, b = 0.5": 0.5, "x**b at 0, b = 2": 2.0}, "a": {}}


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("name,f,point,value,first,second", BOUNDARY,
                         ids=[row[0] for row in BOUNDARY])
def test_boundary_table(name, f, point, value, first, second, dtype):
    w = sd.scalar("w", dtype)
    e = f(w)
    env = {"w": np.array(point, dtype)}
    for other in e.vars:
        if other != "w":
            env[other] = np.array(OTHER_INPUTS[other].get(name, 0.0), dtype)
    d1 = sd.grad(e, w)
    outputs = [e, d1, sd.grad(d1, w), sd.jvp(e, w, sd.constant(1.0, dtype))]
    with np.errstate(all="ignore"):
        for path, values in every_path(outputs, env):
            got = [float(v) for v in values]
            np.testing.assert_allclose(got, [value, first, second, first], rtol=1e-6,
                                       err_msg=f"{name} ({path}): value, d1, d2, jvp")


# -- the sweep --------------------------------------------------------------------------------

SPECIAL = (0.0, 1.0, -1.0, 0.5, -2.5, 800.0, -800.0, 1e4, -1e4, INF, -INF, np.nan)
SWEPT = sorted(name for name, op in OPS.items() if op.elementwise and op.differentiable)

# JAX's name (under ``jax``) where it is not numpy.<op>, nn.<op> or scipy.special.<op>
JAX_NAMES = {"neg": "numpy.negative", "sub": "numpy.subtract", "mul": "numpy.multiply",
             "div": "numpy.divide", "pow": "numpy.power"}
SKIPPED = {
    "astype": "a change of dtype: the identity on values, with derivative 1",
}


@dataclass
class Difference:
    """Where symdiff departs from JAX on purpose: in ``output`` of ``op`` at the points
    ``where(*operands)`` selects, symdiff gives ``value(*operands)``, for ``reason``."""
    op: str
    outputs: str | tuple    # "value", "d/d0" (first derivative in operand 0), "d2/d0" ...
    where: Callable
    value: Callable
    reason: str


def _zero(a):
    return a == 0


def _one_infinite(a, b):
    return (np.isinf(a) & np.isfinite(b)) | (np.isfinite(a) & np.isinf(b))


DIFFERENCES = [
    Difference("pow", "d/d0", lambda a, b: _zero(a) & _zero(b), lambda a, b: 0 * a,
               "a**0 is 1 for every a: its derivative in a is 0 at a = 0 too (JAX: NaN "
               "for a float exponent)"),
    Difference("pow", "d2/d0", lambda a, b: _zero(a) & ((b == 0) | (b == 1)),
               lambda a, b: 0 * a, "a**0 and a**1 have second derivative 0 (JAX: NaN)"),
    Difference("pow", "d/d1", lambda a, b: _zero(a) & (b <= 0), lambda a, b: -INF + 0 * a,
               "the limit of a**b * log(a) as a -> 0+ (JAX: 0 at b = 0, NaN for b < 0)"),
    Difference("pow", "d2/d1", lambda a, b: _zero(a) & (b <= 0), lambda a, b: INF + 0 * a,
               "the limit of a**b * log(a)**2 as a -> 0+ (JAX: 0 at b = 0, NaN for b < 0)"),
    Difference("mod", "d/d1", lambda a, b: np.isinf(a) & np.isfinite(b) & (b != 0),
               lambda a, b: np.nan * a, "mod(+-inf, b) is NaN, and so is its derivative "
               "-(a // b) (JAX: -floor(a/b) = -+inf)"),
    Difference("arccosh", ("d/d0", "d2/d0"), lambda x: x <= -1, lambda x: np.nan * x,
               "outside the domain (arccosh is NaN below 1) the derivatives are NaN (JAX: "
               "those of the continuation 1/sqrt(x**2 - 1))"),
    Difference("arccosh", "d2/d0", lambda x: x == INF, lambda x: np.zeros_like(x),
               "the limit -x/(x**2 - 1)**1.5 -> 0 (JAX: NaN)"),
    Difference("arctanh", "d2/d0", lambda x: np.abs(x) == 1, lambda x: INF * x,
               "the one-sided limit 2x/(1 - x**2)**2 -> +-inf from inside (JAX: NaN)"),
    Difference("sinc", "value", lambda x: np.isfinite(x) & (x != 0) & (x == np.round(x)),
               lambda x: 0 * x, "exactly 0 at nonzero integers: sin(pi x) is reduced "
               "exactly (JAX and NumPy: the rounding of pi x, about 1e-17)"),
    Difference("logaddexp", ("d/d0", "d2/d0", "d/d1", "d2/d1"),
               lambda a, b: (a == INF) & (b == INF), lambda a, b: np.nan * a,
               "no limit there: sigmoid(inf - inf) (JAX: 1, and 0 for the second)"),
    Difference("logaddexp", "d/d0", lambda a, b: np.isfinite(a) & (b == INF),
               lambda a, b: 0 * a, "the limit, sigmoid(a - b) -> 0 (JAX: exp(a))"),
    Difference("logaddexp", "d2/d0", lambda a, b: np.isfinite(a) & (b == INF),
               lambda a, b: 0 * a, "the limit (JAX: exp(a))"),
    Difference("logaddexp", "d/d1", lambda a, b: (a == INF) & np.isfinite(b),
               lambda a, b: 0 * b, "the limit, sigmoid(b - a) -> 0 (JAX: exp(b))"),
    Difference("logaddexp", "d2/d1", lambda a, b: (a == INF) & np.isfinite(b),
               lambda a, b: 0 * b, "the limit (JAX: exp(b))"),
    Difference("logaddexp2", ("d/d0", "d2/d0", "d/d1", "d2/d1"),
               lambda a, b: (a == INF) & (b == INF), lambda a, b: np.nan * a,
               "no limit there: sigmoid(inf - inf) (JAX: 1, and 0 for the second)"),
    Difference("hypot", ("d/d0", "d/d1"), lambda a, b: _zero(a) & _zero(b),
               lambda a, b: 0 * a, "at the origin, the smallest subgradient of the cone "
               "sqrt(a**2 + b**2) (JAX: 0.5 each, from the tie in its max/min split)"),
    Difference("hypot", "d/d0", _one_infinite, lambda a, b: np.where(np.isinf(a), np.sign(a), 0),
               "the limit of a/hypot(a, b): +-1 as a -> +-inf, 0 as b -> +-inf (JAX: NaN)"),
    Difference("hypot", "d/d1", _one_infinite, lambda a, b: np.where(np.isinf(b), np.sign(b), 0),
               "the limit of b/hypot(a, b), as d/d0 (JAX: NaN)"),
    Difference("hypot", ("d2/d0", "d2/d1"), _one_infinite, lambda a, b: np.zeros_like(a),
               "the limit of b**2/hypot**3 and a**2/hypot**3: 0 (JAX: NaN)"),
    Difference("hypot", ("d2/d0", "d2/d1"),
               lambda a, b: np.isfinite(a) & (np.abs(a) == np.abs(b)) & (a != 0),
               lambda a, b: 0.5 ** 1.5 / np.abs(a), "b**2/hypot**3 = 1/(2 sqrt(2) |a|) where "
               "|a| = |b| (JAX: 0, from the tie in its max/min split)"),
    Difference("logaddexp2", "d/d0", lambda a, b: np.isfinite(a) & (b == INF),
               lambda a, b: 0 * a, "the limit, sigmoid(a - b) -> 0 (JAX: 2**a)"),
    Difference("logaddexp2", "d2/d0", lambda a, b: np.isfinite(a) & (b == INF),
               lambda a, b: 0 * a, "the limit (JAX: 2**a)"),
    Difference("logaddexp2", "d/d1", lambda a, b: (a == INF) & np.isfinite(b),
               lambda a, b: 0 * b, "the limit, sigmoid(b - a) -> 0 (JAX: 2**b)"),
    Difference("logaddexp2", "d2/d1", lambda a, b: (a == INF) & np.isfinite(b),
               lambda a, b: 0 * b, "the limit (JAX: 2**b)"),
]


@dataclass
class PathDifference:
    """Where simplified code departs from the graph as written (``path``), and why."""
    op: str
    output: str
    path: str
    where: Callable
    reason: str


PATH_DIFFERENCES = [
    PathDifference("sqrt", "d2/d0", "compiled optimize=True", lambda x: x == -INF,
                   "simplification reads sqrt(x)**-3 as x**-1.5, which is 0 at -inf (IEEE "
                   "pow) where sqrt(-inf) is NaN: powers of one base merge wherever both "
                   "sides are finite (-inf is outside sqrt's domain)"),
    PathDifference("hypot", "d2/d1", "compiled optimize=True",
                   lambda a, b: np.isnan(a) & (b == 0),
                   "at b = 0 the partial sign(b)/sqrt(1 + (a/b)**2) has the factor sign(b) = 0 "
                   "with derivative 0, which simplification drops: 0 where the graph as "
                   "written gives 0 * NaN (the value and first derivative stay NaN)"),
    PathDifference("hypot", "d2/d0", "compiled optimize=True",
                   lambda a, b: (a == 0) & np.isnan(b),
                   "as d2/d1 at (NaN, 0), mirrored"),
]


def _operands(op) -> list:
    """Every combination of special values: one array per operand (booleans for a
    condition)."""
    kinds = ["bool" if op.domain and op.domain[i] == "bool" else "float"
             for i in range(len(op.cases[0].shapes))]
    values = [(True, False) if k == "bool" else SPECIAL for k in kinds]
    rows = list(itertools.product(*values))
    return [np.array([r[i] for r in rows], dtype=bool if k == "bool" else float)
            for i, k in enumerate(kinds)]


def _floats(operands) -> list:
    return [i for i, a in enumerate(operands) if a.dtype.kind == "f"]


def _labels(operands) -> list:
    return ["value"] + [f"{o}/d{i}" for i in _floats(operands) for o in ("d", "d2")]


def _symdiff_paths(name, operands) -> dict:
    """path -> [value, first and second derivative in each float operand]."""
    op = OPS[name]
    variables = [Var(f"in{i}", a.shape, a.dtype) for i, a in enumerate(operands)]
    node = make(op, variables, op.cases[0].attrs)
    outputs = [node]
    for i in _floats(operands):
        first = sd.grad(sd.sum(node), variables[i])
        outputs += [first, sd.grad(sd.sum(first), variables[i])]
    env = {v.name: a for v, a in zip(variables, operands)}
    with np.errstate(all="ignore"):
        return {path: [np.asarray(v, float) for v in values]
                for path, values in every_path(outputs, env)}


def _jax_function(jax, name):
    spelled = JAX_NAMES.get(name)
    candidates = [spelled] if spelled else [f"numpy.{name}", f"nn.{name}",
                                            f"scipy.special.{name}"]
    for path in candidates:
        f = jax
        for part in path.split("."):
            f = getattr(f, part, None)
            if f is None:
                break
        if f is not None:
            return f
    return None


@pytest.fixture(scope="module")
def jax_reference():
    """op name -> [value, derivatives] by JAX in float64, for every swept op JAX has
    (one compilation for all of them: this is most of the sweep's time)."""
    jax = pytest.importorskip("jax")        # a guard only: the dev extra installs JAX
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    functions = {name: _jax_function(jax, name) for name in SWEPT if name not in SKIPPED}
    functions = {k: f for k, f in functions.items() if f is not None}
    operands = {name: _operands(OPS[name]) for name in functions}

    def derivatives(f, args, i):
        def first(*a):
            return jax.grad(lambda *b: jnp.sum(f(*b)), i)(*a)
        return [first(*args), jax.grad(lambda *b: jnp.sum(first(*b)), i)(*args)]

    def everything(operands):
        out = {}
        for name, f in functions.items():
            args = operands[name]
            out[name] = [f(*args)] + [d for i in _floats(args) for d in derivatives(f, args, i)]
        return out

    args = {k: [jnp.asarray(a) for a in v] for k, v in operands.items()}
    # a quick compilation: the code runs once, on a few thousand numbers
    compiled = jax.jit(everything).lower(args).compile(
        compiler_options={"xla_backend_optimization_level": 0})
    return {k: [np.asarray(a, float) for a in v] for k, v in compiled(args).items()}


# Points where the limits of SymPy's formulas mean nothing for NumPy's function
NO_LIMIT = {
    "pow": (lambda a, b: (a < 0) | np.isinf(b),
            "a negative base has real powers at integers only; (mpmath takes seconds to "
            "raise to a power of 1e400)"),
}


def _mpmath_limits(name, operands) -> list | None:
    """[value, derivatives] as the limits of SymPy's formulas at each point, evaluated
    with mpmath (see ``_limit``); NaN where there is none, or where a formula cannot be
    evaluated. None for an op with a condition operand, three operands (too many points
    for mpmath), or no SymPy form."""
    import mpmath
    import sympy
    op = OPS[name]
    if any(a.dtype.kind != "f" for a in operands) or len(operands) > 2:
        return None
    variables = [Var(f"in{i}", (), "float64") for i in range(len(operands))]
    try:
        e = sd.to_sympy(make(op, variables, op.cases[0].attrs), real=True)
    except (ValueError, TypeError):
        return None
    symbols = [sympy.Symbol(v.name, real=True) for v in variables]
    formulas = [e] + [sympy.diff(e, symbols[i], k) for i in range(len(operands))
                      for k in (1, 2)]
    skip = np.zeros(operands[0].shape, bool)
    if name in NO_LIMIT:
        skip = np.asarray(NO_LIMIT[name][0](*operands), bool)
    out = []
    with mpmath.workdps(80):
        for formula in formulas:
            try:
                f = sympy.lambdify(symbols, formula, "mpmath")
            except Exception:       # a formula mpmath cannot spell (DiracDelta...)
                out.append(np.full(operands[0].shape, np.nan))
                continue
            out.append(np.array([np.nan if s else _limit(f, point)
                                 for s, point in zip(skip, zip(*operands))]))
    return out


# How the operands approach a point: for each of four approaches, operand k moves by
# sign * 10**-(20 + 20*order) from a finite value, or is sign' * 10**(400 + 100*order)
# for an infinite one, where the orders differ between operands and between approaches
# (so that 0/0 or inf - inf, which have no limit, give different results).
_APPROACHES = [(1, (0, 1)), (-1, (1, 0)), (1, (2, 0)), (-1, (0, 2))]


def _limit(f, point) -> float:
    """The limit of ``f`` at ``point`` when the four approaches agree, else NaN."""
    import mpmath
    if any(np.isnan(p) for p in point):
        return np.nan
    results = []
    for sign, orders in _APPROACHES:
        args = []
        for k, p in enumerate(point):
            if np.isfinite(p):
                step = mpmath.mpf(10) ** -(20 + 20 * orders[k])
                args.append(mpmath.mpf(p) + sign * (-1) ** k * step)
            else:
                args.append(mpmath.mpf(np.sign(p)) * mpmath.mpf(10) ** (400 + 100 * orders[k]))
        try:
            v = f(*args)
            if isinstance(v, mpmath.mpc):
                if v.imag != 0:
                    return np.nan
                v = v.real
            results.append(float(v))
        except Exception:           # a pole, a domain error, a name mpmath lacks
            return np.nan
    first = results[0]
    agree = all(r == first or np.isclose(r, first, rtol=1e-9, atol=1e-15) for r in results)
    return first if agree else np.nan


def _same(got, want, rtol=1e-9, atol=1e-300) -> np.ndarray:
    """Elementwise: equal, NaN included (infinities of one sign; underflow to 0 allowed)."""
    with np.errstate(all="ignore"):
        return (np.isclose(got, want, rtol=rtol, atol=atol, equal_nan=True)
                | (np.isnan(got) & np.isnan(want)) | (got == want))


def _report(operands, where, got, want) -> str:
    bad = np.nonzero(where)[0][:5]
    return "; ".join(f"at {tuple(float(a[k]) for a in operands)}: {got[k]!r}, want {want[k]!r}"
                     for k in bad)


@pytest.mark.parametrize("name", SWEPT)
def test_sweep_against_jax_and_limits(name, jax_reference):
    if name in SKIPPED:
        pytest.skip(SKIPPED[name])
    check_op(name, jax_reference)


def check_op(name, jax_reference):
    assert name in jax_reference, (
        f"{name}: no JAX function found to compare with; name it in JAX_NAMES, or list "
        f"the op in SKIPPED with the reason")
    operands = _operands(OPS[name])
    labels = _labels(operands)
    paths = _symdiff_paths(name, operands)
    limits = _mpmath_limits(name, operands)
    reference = paths["interpreted"]
    for path, values in paths.items():
        for label, got, want in zip(labels, values, reference):
            same = _same(got, want, rtol=1e-12)
            for row in PATH_DIFFERENCES:
                if row.op == name and row.output == label and path == row.path:
                    same |= np.asarray(row.where(*operands), bool)
            assert same.all(), (f"{name} {label}: {path} differs from interpreted "
                                f"{_report(operands, ~same, got, want)}")
    for k, (label, got, want) in enumerate(zip(labels, reference, jax_reference[name])):
        expected = want.copy()
        for row in DIFFERENCES:
            if row.op == name and label in np.atleast_1d(row.outputs):
                mask = np.asarray(row.where(*operands), bool)
                expected[mask] = np.broadcast_to(row.value(*operands), mask.shape)[mask]
        same = _same(got, expected)
        assert same.all(), f"{name} {label} vs JAX: {_report(operands, ~same, got, expected)}"
        if limits is not None:
            # a number must be the limit; NaN is allowed (inf / inf in the formula)
            limit = limits[k]
            same = _same(got, limit, atol=1e-15) | np.isnan(limit) | np.isnan(got)
            assert same.all(), (f"{name} {label} vs the limit: "
                                f"{_report(operands, ~same, got, limit)}")


def test_differences_are_used():
    """Each DIFFERENCES row selects some point of the sweep (no stale rows)."""
    for row in DIFFERENCES + PATH_DIFFERENCES:
        assert np.any(row.where(*_operands(OPS[row.op]))), row


def test_the_sweep_can_fail(jax_reference, patch_op):
    """A derivative wrong only at large inputs is caught (exp's, clipped at 1e300)."""
    exp = OPS["exp"]
    wrong = lambda g, node: (sd.multiply(g, sd.minimum(node, 1e300)),)
    patch_op(exp, "vjp", wrong)
    with pytest.raises(AssertionError, match="exp d/d0"):
        check_op("exp", jax_reference)
