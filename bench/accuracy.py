"""The accuracy table: every elementwise op of the op table against mpmath.

`python -m bench.accuracy` prints, for each op, the worst error of the compiled
float64 code in ulp, the input where it occurs and the bound that
tests/test_accuracy.py asserts.

- Error in ulp: |computed - true| / ulp(true), the true value from mpmath at 256
  bits, ulp(true) the spacing of float64 numbers at the true value (2**-1074 among
  the subnormals). A correctly rounded result is within 0.5 ulp.
- Two paths per op: arrays (a function of vectors of unknown length) and 0-d
  scalars (Python floats through `math` where the op has a `math` form, else 0-d
  NumPy), each called with warnings as errors and NumPy's overflow, division and
  invalid flags raising (underflow is allowed: a tiny true value can only underflow).
- Sample points: the normal range and its tails (large |x|, tiny |x| near 0, the
  edges of the domains, the overflow thresholds of exp). A point whose true value
  is not a finite real float64 (an overflow, a pole, a complex or undefined value)
  is left out: there the op's job is inf or nan, not digits.
- An op of the table with no reference here is measured against its SymPy form
  (symdiff.sympy_bridge), evaluated by mpmath; one with neither fails the test
  until it gets a reference or a reason to be skipped.
"""
from __future__ import annotations

import itertools
import math
from fractions import Fraction
import sys
import warnings
from typing import Callable, NamedTuple

import mpmath
import numpy as np

import symdiff as sd
from symdiff.ir import make
from symdiff.ops import OPS

PREC = 256
FALLBACK_PREC = 1200
ZERO = mpmath.mpf(0)

# name -> the op as an mpmath function of its float inputs (the definition, independent
# of how symdiff computes it).
REFERENCE: dict[str, Callable] = {
    "exp": mpmath.exp, "log": mpmath.log, "sqrt": mpmath.sqrt, "sin": mpmath.sin,
    "cos": mpmath.cos, "tan": mpmath.tan, "tanh": mpmath.tanh, "sinh": mpmath.sinh,
    "cosh": mpmath.cosh, "arcsin": mpmath.asin, "arccos": mpmath.acos,
    "arctan": mpmath.atan, "sign": mpmath.sign, "abs": abs, "log1p": mpmath.log1p,
    "expm1": mpmath.expm1, "erf": mpmath.erf, "square": lambda x: x * x,
    "sigmoid": lambda x: 1 / (1 + mpmath.exp(-x)),
    "softplus": lambda x: mpmath.log1p(mpmath.exp(x)),
    "relu": lambda x: max(x, ZERO), "neg": lambda x: -x,
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b if b else None, "pow": mpmath.power,
    "maximum": max, "minimum": min, "clip": lambda x, lo, hi: min(max(x, lo), hi),
    # mpmath's erfc overflows on huge arguments; there erfc is 0 (x > 0) or 2 in float64
    "erfc": lambda x: mpmath.erfc(x) if abs(x) < 1e6 else mpmath.mpf(0 if x > 0 else 2), "arcsinh": mpmath.asinh, "arctan2": mpmath.atan2,
    "hypot": mpmath.hypot,
    "floor": mpmath.floor, "ceil": mpmath.ceil,
    "floor_divide": lambda a, b: mpmath.floor(a / b) if b else None,
    # exact: the floored remainder of the two floats as fractions
    "mod": lambda a, b: _exact_mod(a, b) if b else None,
    "sinc": mpmath.sincpi,
    "cbrt": lambda x: mpmath.sign(x) * mpmath.cbrt(abs(x)),
    "round": lambda x: mpmath.mpf(round(float(x))),     # Python's: half to even, exact
    "logaddexp2": lambda a, b: max(a, b) + mpmath.log1p(mpmath.power(2, -abs(a - b)))
    / mpmath.log(2),
}


def _exact_mod(a, b):
    r = Fraction(float(a)) % Fraction(float(b))       # exact, sign of b as np.mod
    return mpmath.mpf(r.numerator) / r.denominator
SKIPPED = {
    "less": "a comparison: a bool, exact by construction",
    "less_equal": "a comparison: a bool, exact by construction",
    "greater": "a comparison: a bool, exact by construction",
    "greater_equal": "a comparison: a bool, exact by construction",
    "equal": "a comparison: a bool, exact by construction",
    "not_equal": "a comparison: a bool, exact by construction",
    "logical_and": "bool inputs and result: no rounding",
    "logical_or": "bool inputs and result: no rounding",
    "logical_not": "bool input and result: no rounding",
    "where": "picks one of its operands by a bool condition: no arithmetic",
    "astype": "a cast: its error is the rounding to the target dtype, by definition",
}
# The worst error allowed, in ulp of the true value. A function NumPy computes with one
# call (its own SIMD code or the C library's) is within 1 ulp of the correctly rounded
# result, which is what glibc documents for exp, log, sin, cos, tan, arcsin, arccos,
# arctan, expm1, log1p and pow in double on x86_64 (manual, "Known Maximum Errors in
# Math Functions"): 1.5 ulp of the true value. Exact ops (selections, sign changes)
# are within 0, the correctly rounded IEEE operations within 0.5.
EXACT = 0.0
ROUNDED = 0.5
DEFAULT_BOUND = 1.5
BOUNDS: dict[str, float] = {
    "neg": EXACT, "abs": EXACT, "sign": EXACT, "relu": EXACT, "maximum": EXACT,
    "minimum": EXACT, "clip": EXACT,
    "add": ROUNDED, "sub": ROUNDED, "mul": ROUNDED, "div": ROUNDED, "sqrt": ROUNDED,
    "square": ROUNDED,
    # glibc documents 2 ulp for these (Python's math.tanh reaches 1.9 on 10,000 points).
    "tanh": 2.5, "sinh": 2.5, "cosh": 2.5,
    # e / (1 + e) with e = exp(min(x, 39)) (Python floats: 1 / (1 + exp(-x))): exp's
    # 1.5, then the sum and the division round once each (measured: 1.9 on 40,000 points).
    "sigmoid": 2.5,
    # logaddexp(0, x) = max(x, 0) + log1p(exp(-|x|)): exp's error passes through log1p
    # at most unchanged, and log1p rounds (measured: 1.3 on 40,000 points).
    "softplus": 2.5,
    # np.logaddexp(a, b) = max(a, b) + log1p(exp(-|a - b|)). Where e^a + e^b is near 1
    # the result is near 0 and that sum cancels: the error stays within about an ulp
    # of max(|a|, |b|), but relative to the small result it grows like
    # max(|a|, |b|) / |result| (3.9 ulp at the grid's closest point to that zero set,
    # (-0.94, -0.39)). A relative bound cannot hold next to a zero of the function.
    "logaddexp": 4.5,
    # np.logaddexp2 likewise, next to its zero set a + log2(1 + 2**(b - a)) = 0: 11.1
    # ulp at (-0.265, -2.744), where the result is -0.027.
    "logaddexp2": 12.0,
    # the C library's cbrt, not correctly rounded: 2.2 ulp measured (at -2.4e-20)
    "cbrt": 2.5,
    "round": EXACT,
    # sin(pi f) of the rounded pi f, then / pi and / x: four roundings (measured 2.5,
    # at -5.6e-9)
    "sinc": 3.0,
    # fmod is exact; np.mod then adds b once where the signs differ: one rounding
    "mod": ROUNDED,
}

# -- sample points ----------------------------------------------------------------------

_MAGNITUDES = [
    5e-324, 1e-310, 2.2250738585072014e-308, 1e-300, 1e-200, 1e-100, 1e-30, 1e-20, 1e-16,
    2.0 ** -53, 1e-12, 1e-8, 1e-6, 1e-5, 1e-4, 1e-3, 0.01, 0.1, 0.25, 0.5, 0.7, 0.75, 0.9,
    0.99, 1 - 2.0 ** -53, 1 - 1e-10, 1.0, 1 + 1e-10, 1 + 2.0 ** -52, 1.5, 2.0,
    math.pi / 2, 2.5, 3.0, math.pi, 5.0, 7.25, 10.0, 17.5, 20.0, 30.0, 36.7, 37.5,
    38.99, 39.0, 39.01, 50.0, 88.7, 100.0, 300.0, 700.0, 708.0, 708.4, 709.78, 709.79,
    710.0, 710.5, 745.0, 745.2, 1000.0, 1e4, 1e5, 1e10, 1e15, 1e20, 1e100, 1e300,
    1.7976931348623157e308,
]


def unary_points() -> np.ndarray:
    """Fixed magnitudes of both signs, 0, and random points (seeded) across the range."""
    rng = np.random.default_rng(1)
    fixed = np.array(_MAGNITUDES)
    rand = np.concatenate([10.0 ** rng.uniform(-20, 3, 200), rng.uniform(0, 5, 100),
                           rng.uniform(700, 750, 30)])
    mags = np.concatenate([fixed, rand])
    return np.unique(np.concatenate([[0.0], mags, -mags]))


_GRID = [0.0, 1e-300, 1e-20, 1e-5, 0.1, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 7.25, 10.0, 100.0,
         1000.5, 1e20, 1e300]


def grid_points(arity: int) -> list[tuple[float, ...]]:
    """All tuples from a grid of both signs (random pairs too, for binary ops)."""
    values = sorted({s * v for v in _GRID for s in (1.0, -1.0)})
    if arity == 3:
        values = values[::3]
    points = list(itertools.product(values, repeat=arity))
    if arity == 2:
        rng = np.random.default_rng(2)
        a = 10.0 ** rng.uniform(-10, 10, (300, 2)) * rng.choice([-1.0, 1.0], (300, 2))
        points += [tuple(p) for p in a] + [tuple(p) for p in rng.uniform(-4, 4, (300, 2))]
    return points


def points_for(arity: int) -> list[tuple[float, ...]]:
    return [(x,) for x in unary_points()] if arity == 1 else grid_points(arity)


# -- measuring --------------------------------------------------------------------------

def ulp_error(computed: float, true: mpmath.mpf, dtype=np.float64) -> float:
    """|computed - true| in ulp of the true value, for numbers of ``dtype``."""
    if not math.isfinite(computed):
        return math.inf
    if true == 0:
        return 0.0 if computed == 0 else math.inf
    info = np.finfo(dtype)
    _, e = mpmath.frexp(true)          # true = m * 2**e, 0.5 <= |m| < 1
    ulp = mpmath.ldexp(1, max(e - info.nmant - 1, info.minexp - info.nmant))
    return float(abs(mpmath.mpf(computed) - true) / ulp)


def true_values(ref: Callable, points: list[tuple]) -> tuple[list[tuple], list]:
    """The points whose true value is a finite real float64, and those values."""
    kept, values = [], []
    with mpmath.workprec(PREC):
        for p in points:
            try:
                t = ref(*(mpmath.mpf(v) for v in p))
            except (ValueError, ZeroDivisionError):
                continue
            if not isinstance(t, mpmath.mpf) or not mpmath.isfinite(t):
                continue
            if abs(t) > mpmath.mpf(np.finfo(np.float64).max):
                continue   # overflows float64 even correctly rounded
            kept.append(p)
            values.append(t)
    return kept, values


def strictly(fn: Callable, *args):
    """Call with warnings as errors and NumPy's floating-point flags raising."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", divide="raise", invalid="raise", under="ignore"):
            return fn(*args)


def sympy_reference(name: str) -> Callable | None:
    """The op's SymPy form (symdiff's bridge) as an mpmath function, or None."""
    import sympy
    op = OPS[name]
    arity = len(op.cases[0].shapes) if op.cases else 1
    xs = [sd.scalar(f"x{k}") for k in range(arity)]
    try:
        expr = sd.to_sympy(make(op, xs))
    except (ValueError, TypeError, KeyError):
        return None
    fn = sympy.lambdify([sympy.Symbol(f"x{k}") for k in range(arity)], expr, "mpmath")

    def ref(*args):
        # SymPy's forms add 1 to tiny numbers (log(1 + x)): bits enough for 1 + 2**-1074
        with mpmath.workprec(FALLBACK_PREC):
            return fn(*args)
    return ref


def reference_for(name: str) -> Callable | None:
    return REFERENCE.get(name) or sympy_reference(name)


class Row(NamedTuple):
    op: str
    worst: float            # ulp
    where: tuple            # the inputs of the worst error
    path: str               # "array" or "scalar"
    bound: float
    points: int
    note: str = ""          # a warning raised, or why the op is skipped


def measure(name: str) -> Row:
    """The worst error of op ``name`` over its sample points, both paths."""
    bound = BOUNDS.get(name, DEFAULT_BOUND)
    if name in SKIPPED:
        return Row(name, math.nan, (), "", bound, 0, "skipped: " + SKIPPED[name])
    ref = reference_for(name)
    if ref is None:
        return Row(name, math.inf, (), "", bound, 0,
                   "no reference: add one to REFERENCE or a reason to SKIPPED")
    op = OPS[name]
    arity = len(op.cases[0].shapes) if op.cases else 1
    points, exact = true_values(ref, points_for(arity))
    worst = Row(name, 0.0, (), "", bound, len(points))
    vectors = [sd.vector(f"x{k}") for k in range(arity)]
    scalars = [sd.scalar(f"x{k}") for k in range(arity)]
    columns = [np.array([p[k] for p in points]) for k in range(arity)]
    f_array = sd.function(vectors, make(op, vectors))
    f_scalar = sd.function(scalars, make(op, scalars))
    try:
        on_arrays = strictly(f_array, *columns)
    except (Warning, FloatingPointError) as err:
        return worst._replace(worst=math.inf, path="array", note=f"{type(err).__name__}: {err}")
    for p, t, on_array in zip(points, exact, on_arrays):
        try:
            on_scalars = strictly(f_scalar, *p)
        except (Warning, FloatingPointError, ArithmeticError, ValueError) as err:
            return worst._replace(worst=math.inf, where=p, path="scalar",
                                  note=f"{type(err).__name__}: {err}")
        for path, value in (("array", on_array), ("scalar", on_scalars)):
            err = ulp_error(float(value), t)
            if err > worst.worst:
                worst = worst._replace(worst=err, where=p, path=path)
    return worst


def elementwise_ops() -> list[str]:
    return [name for name, op in OPS.items() if op.elementwise]


def table() -> list[Row]:
    return [measure(name) for name in elementwise_ops()]


def format_table(rows: list[Row]) -> str:
    lines = [f"{'op':13s} {'worst ulp':>9s} {'bound':>5s} {'points':>6s}  where", "-" * 72]
    for r in rows:
        if r.note.startswith("skipped"):
            lines.append(f"{r.op:13s} {'-':>9s} {'-':>5s} {'-':>6s}  {r.note}")
            continue
        where = "x = (" + ", ".join(f"{v:.17g}" for v in r.where) + f") [{r.path}]"
        flag = "" if r.worst <= r.bound else "  ** over the bound"
        lines.append(f"{r.op:13s} {r.worst:9.3f} {r.bound:5.1f} {r.points:6d}  "
                     f"{where if r.where else '-'}{flag} {r.note}".rstrip())
    return "\n".join(lines)


def main() -> int:
    rows = table()
    print("Worst error of the compiled float64 code against mpmath, in ulp "
          "(arrays and 0-d scalars)")
    print(format_table(rows))
    return 0 if all(r.worst <= r.bound or r.note.startswith("skipped") for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
