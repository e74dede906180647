"""Standard expressions for the command-line differentiator, with their domains.

Each row: the expression as a user would type it (``^`` or ``**``), and the
interval its variables are drawn from (away from kinks and singularities).
"""

POS = (0.3, 2.0)      # logs, square roots, x**x
UNIT = (-0.8, 0.8)    # inverse trig
ANY = (-2.0, 2.0)

CORPUS = [
    # polynomials
    ("x**2", ANY), ("x^3", ANY), ("3*x**4 - 2*x**2 + x - 7", ANY), ("(x + 1)**5", ANY),
    ("x^2 + 2*x + 1", ANY), ("(2*x - 3)^3", ANY), ("x*(x - 1)*(x + 2)", ANY),
    # rational functions
    ("1/x", POS), ("1/(1 + x**2)", ANY), ("(x + 1)/(x - 3)", ANY), ("x/(x**2 + 1)", ANY),
    ("(x^2 - 1)/(x^2 + 1)", ANY), ("1/(x + 2)^2", POS),
    # exp and log
    ("exp(x)", ANY), ("exp(2*x)", ANY), ("exp(-x**2)", ANY), ("x*exp(x)", ANY),
    ("log(x)", POS), ("log(x**2 + 1)", ANY), ("x*log(x)", POS), ("log(log(x + 2))", POS),
    ("exp(x)/x", POS), ("log(1 + exp(x))", ANY), ("exp(sin(x))", ANY),
    # trigonometry
    ("sin(x)", ANY), ("cos(x)", ANY), ("tan(x)", UNIT), ("sin(x)*cos(x)", ANY),
    ("sin(x)**2", ANY), ("cos(3*x + 1)", ANY), ("sin(x)/x", POS), ("x**2*sin(x)", ANY),
    ("tan(x)^2", UNIT), ("sin(cos(x))", ANY),
    # inverse trigonometry
    ("arcsin(x)", UNIT), ("arccos(x)", UNIT), ("arctan(x)", ANY), ("atan(x**2)", ANY),
    ("asin(x/2)", UNIT), ("x*arctan(x)", ANY),
    # hyperbolic
    ("sinh(x)", ANY), ("cosh(x)", ANY), ("tanh(x)", ANY), ("tanh(2*x)**2", ANY),
    ("x*cosh(x)", ANY),
    # roots and powers
    ("sqrt(x)", POS), ("sqrt(1 + x**2)", ANY), ("1/sqrt(x)", POS), ("x*sqrt(x)", POS),
    ("x**x", POS), ("x^(1/3)", POS), ("2**x", ANY), ("(x**2 + 1)**0.5", ANY),
    # abs away from 0, sigmoid
    ("abs(x)", POS), ("abs(x - 3)", POS), ("sigmoid(x)", ANY), ("sigmoid(2*x + 1)", ANY),
    ("x*sigmoid(x)", ANY),
    # compositions
    ("exp(-x)*sin(x)", ANY), ("log(cos(x) + 2)", ANY), ("sqrt(sin(x)**2 + 1)", ANY),
    ("exp(tanh(x))", ANY), ("sin(exp(x))", ANY),
    # several variables
    ("x*y", ANY), ("x^2*y + y^3", ANY), ("sin(x*y)", ANY), ("exp(x + 2*y)", ANY),
    ("x/y", POS), ("log(x*y)", POS), ("sqrt(x**2 + y**2)", POS), ("x**y", POS),
    ("atan(y/x)", POS), ("x*exp(-y) + y*exp(-x)", ANY),
]

# Matrix expressions: (expression, --var declarations, --wrt variable, --order). Their
# printed derivatives are read back by sd.parse and checked against finite differences.
MATRIX_CORPUS = [
    ("x @ A @ x", ["x=3", "A=3x3"], "x", 1),
    ("x @ A @ x", ["x=3", "A=3x3"], "x", 2),
    ("trace(A @ B)", ["A=3x3", "B=3x3"], "A", 1),
    ("trace(X.T @ A @ X)", ["X=3x2", "A=3x3"], "X", 1),
    ("(x @ y) / sqrt((x @ x) * (y @ y))", ["x=3", "y=3"], "x", 1),
    ("sum(sigmoid(W @ x))", ["W=3x4", "x=4"], "W", 1),
    ("sum(-y @ X)", ["y=3", "X=3x3"], "X", 1),
    ("sum(-y @ X)", ["y=3", "X=3x3"], "y", 1),
    ("log(sum(exp(W @ x)))", ["W=2x3", "x=3"], "x", 1),
    ("sum(x[1:] * x[:-1])", ["x=5"], "x", 1),
    ("sum((X @ w - y)**2)", ["X=4x3", "w=3", "y=4"], "w", 1),
    ("sum(sigmoid(W2 @ sigmoid(W1 @ x + b1) + b2))", ["W1=2x2", "W2=2x2", "x=2", "b1=", "b2="],
     "W1", 1),
    ("x @ x", ["x=3"], "x", 1),
    ("sum(A @ A)", ["A=3x3"], "A", 1),
    ("norm(X, 'nuc')", ["X=3x2"], "X", 1),
    ("norm(X, 2)", ["X=3x3"], "X", 1),
    ("norm(X, -2)", ["X=2x3"], "X", 2),
]
