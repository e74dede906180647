"""A derivative table: standard scalar expressions of one variable ``x``, with domains.

Each row is the expression (Python syntax that both ``sd.parse`` and
``sympy.sympify`` read, given ``SYMPY_NAMES``) and the interval ``x`` is drawn
from, away from singularities and kinks.
"""
import sympy

POS = (0.3, 2.0)
UNIT = (-0.8, 0.8)
ANY = (-2.0, 2.0)

SYMPY_NAMES = {
    "sigmoid": lambda z: 1 / (1 + sympy.exp(-z)),
    "softplus": lambda z: sympy.log(1 + sympy.exp(z)),
    "relu": lambda z: sympy.Max(0, z),
    "log1p": lambda z: sympy.log(1 + z),
    "expm1": lambda z: sympy.exp(z) - 1,
    "square": lambda z: z ** 2,
    "arcsin": sympy.asin, "arccos": sympy.acos, "arctan": sympy.atan,
    "x": sympy.Symbol("x"),
}

CORPUS = [
    # powers and polynomials
    ("x**2", ANY), ("x**3", ANY), ("x**5", ANY), ("3*x**4 - 2*x**2 + x - 7", ANY),
    ("(x + 1)**5", ANY), ("(2*x - 3)**3", ANY), ("x*(x - 1)*(x + 2)", ANY),
    ("x**0.5", POS), ("x**(-2)", POS), ("x**1.5", POS), ("1/x", POS),
    ("sqrt(x)", POS), ("1/sqrt(x)", POS), ("x*sqrt(x)", POS), ("square(x) + x", ANY),
    # rational functions
    ("1/(1 + x**2)", ANY), ("(x + 1)/(x - 3)", ANY), ("x/(x**2 + 1)", ANY),
    ("(x**2 - 1)/(x**2 + 1)", ANY), ("1/(x + 2)**2", POS),
    # exponentials and logarithms
    ("exp(x)", ANY), ("exp(2*x)", ANY), ("exp(-x**2)", ANY), ("x*exp(x)", ANY),
    ("exp(x)/x", POS), ("2**x", ANY), ("x**x", POS), ("log(x)", POS),
    ("log(x**2 + 1)", ANY), ("x*log(x)", POS), ("log(log(x + 2))", POS),
    ("log(1 + exp(x))", ANY), ("log1p(x)", POS), ("expm1(x)", ANY), ("exp(sin(x))", ANY),
    ("log(x)/x", POS),
    # trigonometry
    ("sin(x)", ANY), ("cos(x)", ANY), ("tan(x)", UNIT), ("sin(x)*cos(x)", ANY),
    ("sin(x)**2", ANY), ("cos(3*x + 1)", ANY), ("sin(x)/x", POS), ("x**2*sin(x)", ANY),
    ("tan(x)**2", UNIT), ("sin(cos(x))", ANY), ("1/cos(x)", UNIT),
    # inverse trigonometry
    ("arcsin(x)", UNIT), ("arccos(x)", UNIT), ("arctan(x)", ANY), ("arctan(x**2)", ANY),
    ("arcsin(x/2)", UNIT), ("x*arctan(x)", ANY),
    # hyperbolic
    ("sinh(x)", ANY), ("cosh(x)", ANY), ("tanh(x)", ANY), ("tanh(2*x)**2", ANY),
    ("x*cosh(x)", ANY),
    # machine-learning functions
    ("sigmoid(x)", ANY), ("sigmoid(2*x + 1)", ANY), ("x*sigmoid(x)", ANY),
    ("softplus(x)", ANY), ("log(sigmoid(x))", ANY), ("relu(x)", POS),
    # compositions
    ("exp(-x)*sin(x)", ANY), ("log(cos(x) + 2)", ANY), ("sqrt(sin(x)**2 + 1)", ANY),
    ("exp(tanh(x))", ANY), ("sin(exp(x))", ANY), ("sqrt(1 + x**2)", ANY),
]
