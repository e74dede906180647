"""Matrix Cookbook identities (Petersen & Pedersen, The Matrix Cookbook, 2012 edition;
equation numbers of that edition).

Each row is an identity: an expression, the variable, and the Cookbook's derivative
written in NumPy. The test checks symdiff's gradient against the Cookbook's formula
and against central finite differences (two independent oracles), that the printed
derivative reads back (``sd.parse``) to the same numbers, and that it is no longer
than the Cookbook's form plus two operators.
"""
import re

import numpy as np
import pytest

import symdiff as sd
from symdiff.rewrite import CANONICALIZE, run
from symdiff.testing import check_grads

N, M = 3, 2
inv, det, tr = np.linalg.inv, np.linalg.det, np.trace

# name -> shape; X is square (N x N) unless the row says otherwise.
SHAPES = dict(X=(N, N), A=(N, N), B=(N, N), C=(N, N), D=(N, N), a=(N,), b=(N,), c=(N,),
              d=(N,), x=(N,))

# (equation, expression, wrt, Cookbook's derivative as NumPy over env e, its printed
# form in symdiff's notation, shapes that differ from SHAPES)
ROWS = [
    (69, "a @ x", "x", lambda e: e["a"], "a", {}),
    (70, "a @ X @ b", "X", lambda e: np.outer(e["a"], e["b"]), "outer(a, b)", {}),
    (71, "a @ X.T @ b", "X", lambda e: np.outer(e["b"], e["a"]), "outer(b, a)", {}),
    (72, "a @ X @ a", "X", lambda e: np.outer(e["a"], e["a"]), "outer(a, a)", {}),
    (78, "b @ X.T @ X @ c", "X",
     lambda e: e["X"] @ (np.outer(e["b"], e["c"]) + np.outer(e["c"], e["b"])),
     "X @ (outer(b, c) + outer(c, b))", {}),
    (79, "(B @ x + b) @ C @ (D @ x + d)", "x",
     lambda e: e["B"].T @ e["C"] @ (e["D"] @ e["x"] + e["d"])
     + e["D"].T @ e["C"].T @ (e["B"] @ e["x"] + e["b"]),
     "B.T @ C @ (D @ x + d) + D.T @ C.T @ (B @ x + b)", {}),
    (81, "x @ B @ x", "x", lambda e: (e["B"] + e["B"].T) @ e["x"], "(B + B.T) @ x", {}),
    (85, "b @ X.T @ D @ X @ c", "X",
     lambda e: e["D"].T @ e["X"] @ np.outer(e["b"], e["c"])
     + e["D"] @ e["X"] @ np.outer(e["c"], e["b"]),
     "D.T @ X @ outer(b, c) + D @ X @ outer(c, b)", {}),
    (86, "(X @ b + c) @ D @ (X @ b + c)", "X",
     lambda e: np.outer((e["D"] + e["D"].T) @ (e["X"] @ e["b"] + e["c"]), e["b"]),
     "outer((D + D.T) @ (X @ b + c), b)", {}),
    (99, "trace(X)", "X", lambda e: np.eye(N), "eye(3)", {}),
    (100, "trace(X @ A)", "X", lambda e: e["A"].T, "A.T", {}),
    (101, "trace(A @ X @ B)", "X", lambda e: e["A"].T @ e["B"].T, "A.T @ B.T", {}),
    (102, "trace(A @ X.T @ B)", "X", lambda e: e["B"] @ e["A"], "B @ A", {}),
    (103, "trace(X.T @ A)", "X", lambda e: e["A"], "A", {}),
    (104, "trace(A @ X.T)", "X", lambda e: e["A"], "A", {}),
    (106, "trace(X @ X)", "X", lambda e: 2 * e["X"].T, "2*X.T", {}),
    (107, "trace(X @ X @ B)", "X", lambda e: (e["X"] @ e["B"] + e["B"] @ e["X"]).T,
     "(X @ B + B @ X).T", {}),
    (108, "trace(X.T @ B @ X)", "X", lambda e: e["B"] @ e["X"] + e["B"].T @ e["X"],
     "B @ X + B.T @ X", {}),
    (109, "trace(B @ X @ X.T)", "X", lambda e: e["B"] @ e["X"] + e["B"].T @ e["X"],
     "B @ X + B.T @ X", {}),
    (110, "trace(X @ X.T @ B)", "X", lambda e: e["B"] @ e["X"] + e["B"].T @ e["X"],
     "B @ X + B.T @ X", {}),
    (111, "trace(X @ B @ X.T)", "X", lambda e: e["X"] @ e["B"].T + e["X"] @ e["B"],
     "X @ B.T + X @ B", {}),
    (112, "trace(B @ X.T @ X)", "X", lambda e: e["X"] @ e["B"].T + e["X"] @ e["B"],
     "X @ B.T + X @ B", {}),
    (113, "trace(X.T @ X @ B)", "X", lambda e: e["X"] @ e["B"].T + e["X"] @ e["B"],
     "X @ B.T + X @ B", {}),
    (114, "trace(A @ X @ B @ X)", "X",
     lambda e: e["A"].T @ e["X"].T @ e["B"].T + e["B"].T @ e["X"].T @ e["A"].T,
     "A.T @ X.T @ B.T + B.T @ X.T @ A.T", {}),
    (115, "trace(X.T @ X)", "X", lambda e: 2 * e["X"], "2*X", {}),
    (116, "trace(B.T @ X.T @ C @ X @ B)", "X",
     lambda e: e["C"].T @ e["X"] @ e["B"] @ e["B"].T + e["C"] @ e["X"] @ e["B"] @ e["B"].T,
     "C.T @ X @ B @ B.T + C @ X @ B @ B.T", {}),
    (117, "trace(X.T @ B @ X @ C)", "X",
     lambda e: e["B"] @ e["X"] @ e["C"] + e["B"].T @ e["X"] @ e["C"].T,
     "B @ X @ C + B.T @ X @ C.T", {}),
    (118, "trace(A @ X @ B @ X.T @ C)", "X",
     lambda e: e["A"].T @ e["C"].T @ e["X"] @ e["B"].T + e["C"] @ e["A"] @ e["X"] @ e["B"],
     "A.T @ C.T @ X @ B.T + C @ A @ X @ B", {}),
    (119, "trace((A @ X @ B + C) @ (A @ X @ B + C).T)", "X",
     lambda e: 2 * e["A"].T @ (e["A"] @ e["X"] @ e["B"] + e["C"]) @ e["B"].T,
     "2*A.T @ (A @ X @ B + C) @ B.T", {}),
    (121, "trace(X @ X @ X)", "X", lambda e: 3 * (e["X"] @ e["X"]).T, "3*(X @ X).T", {}),
    (124, "trace(A @ inv(X) @ B)", "X",
     lambda e: -(inv(e["X"]) @ e["B"] @ e["A"] @ inv(e["X"])).T,
     "-(inv(X) @ B @ A @ inv(X)).T", {}),
    (61, "a @ inv(X) @ b", "X",
     lambda e: -inv(e["X"]).T @ np.outer(e["a"], e["b"]) @ inv(e["X"]).T,
     "-inv(X).T @ outer(a, b) @ inv(X).T", {}),
    (62, "det(inv(X))", "X", lambda e: -det(inv(e["X"])) * inv(e["X"]).T,
     "-det(inv(X))*inv(X).T", {}),
    (64, "trace(inv(X + A))", "X",
     lambda e: -(inv(e["X"] + e["A"]) @ inv(e["X"] + e["A"])).T,
     "-(inv(X + A) @ inv(X + A)).T", {}),
    (49, "det(X)", "X", lambda e: det(e["X"]) * inv(e["X"]).T, "det(X)*inv(X).T", {}),
    (55, "log(det(X.T @ X))", "X", lambda e: 2 * e["X"] @ inv(e["X"].T @ e["X"]),
     "2*X @ inv(X.T @ X)", {"X": (N, M)}),
    (57, "log(abs(det(X)))", "X", lambda e: inv(e["X"]).T, "inv(X).T", {}),
    (57, "logdet(X)", "X", lambda e: inv(e["X"]).T, "inv(X).T", {}),
    (129, "norm(x - a)", "x",
     lambda e: (e["x"] - e["a"]) / np.linalg.norm(e["x"] - e["a"]),
     "(x - a)/norm(x - a)", {}),
    (131, "x @ x", "x", lambda e: 2 * e["x"], "2*x", {}),
    (132, "sum(X**2)", "X", lambda e: 2 * e["X"], "2*X", {}),
]

_OPERATOR = re.compile(r"\*\*|[@+\-*/]|\.T\b|\w+\(")


def operators(text: str) -> int:
    """Operators and function calls in a printed formula (a unary minus counts)."""
    return len(_OPERATOR.findall(text))


def env_for(shapes, seed):
    rng = np.random.default_rng(seed)
    env = {}
    for name, shape in shapes.items():
        value = rng.uniform(-1.0, 1.0, shape)
        if name == "X" and shape[0] == shape[1]:
            value += 3.0 * np.eye(shape[0])      # invertible, well conditioned
        env[name] = value
    return env


@pytest.mark.parametrize("eq,text,wrt,formula,form,shapes", ROWS,
                         ids=[f"({r[0]}) {r[1]}" for r in ROWS])
def test_cookbook_identity(eq, text, wrt, formula, form, shapes):
    shapes = {**SHAPES, **shapes}
    f = sd.parse(text, **shapes)
    used = {v.name for v in sd.ir.toposort([f]) if isinstance(v, sd.Var)}
    env = env_for({k: s for k, s in shapes.items() if k in used}, eq)
    variable = next(v for v in sd.ir.toposort([f]) if isinstance(v, sd.Var) and v.name == wrt)
    (f,), _ = run([f], [CANONICALIZE])          # log|det X| is read as logdet(X)
    g = sd.simplify(sd.grad(f, variable))
    got = sd.function(list(_vars(f)), g)(**env)
    np.testing.assert_allclose(got, formula(env), rtol=1e-9, atol=1e-12)
    check_grads(f, env)
    printed = str(g)
    back = sd.parse(printed, **{k: s for k, s in shapes.items() if k in used})
    np.testing.assert_allclose(sd.evaluate(back, env), formula(env), rtol=1e-9, atol=1e-12)
    assert operators(printed) <= operators(form) + 2, \
        f"printed {printed!r} is longer than the Cookbook's {form!r}"


def _vars(f):
    return sorted((v for v in sd.ir.toposort([f]) if isinstance(v, sd.Var)),
                  key=lambda v: v.name)


def test_there_are_at_least_30_identities():
    assert len({(r[0], r[1]) for r in ROWS}) >= 30


# The command line prints the Cookbook's forms, for static and unknown sizes alike.
CLI = [
    ("trace(X.T @ A @ X)", ["--var", "X={n}x{n}", "--var", "A={n}x{n}", "--wrt", "X"],
     "(A + A.T) @ X"),
    ("log(det(X))", ["--var", "X={n}x{n}", "--wrt", "X"], "inv(X).T"),
    ("x @ A @ x", ["--var", "x={n}", "--var", "A={n}x{n}", "--wrt", "x", "--order", "2"],
     "A + A.T"),
    ("sum((A @ x - b)**2)", ["--var", "A={n}x{n}", "--var", "x={n}", "--var", "b={n}",
                             "--wrt", "x"], "2*A.T @ (A @ x - b)"),
    ("a @ X @ b", ["--var", "a={n}", "--var", "X={n}x{n}", "--var", "b={n}", "--wrt", "X"],
     "outer(a, b)"),
]


@pytest.mark.parametrize("n", ["3", "?"])
@pytest.mark.parametrize("text,args,want", CLI, ids=[r[0] for r in CLI])
def test_the_command_line_prints_matrix_notation(text, args, want, n, capsys):
    from symdiff import cli
    assert cli.main([text] + [a.format(n=n) for a in args]) == 0
    assert capsys.readouterr().out.strip() == want


def test_hessians_of_matrix_expressions_and_second_derivatives():
    rng = np.random.default_rng(5)
    a0 = rng.uniform(-0.5, 0.5, (N, N)) + 3.0 * np.eye(N)
    b0, x0 = rng.normal(size=N), rng.normal(size=N)
    x, A = sd.vector("x", shape=(None,)), sd.matrix("A", shape=(None, None))
    # x.T A x: Hessian A + A.T (Cookbook eq. 81 differentiated again)
    h = sd.hessian(x @ A @ x, x)
    np.testing.assert_allclose(sd.evaluate(h, {"x": x0, "A": a0}), a0 + a0.T)
    # through solve and inv: f(x) = b.T inv(A + diag(x)^2) b, against finite differences
    b = sd.vector("b", shape=(None,))
    for f in (b @ sd.solve(A + sd.diag(x * x), b), b @ sd.inv(A + sd.diag(x * x)) @ b,
              sd.logdet(A + sd.diag(x * x))):
        check_grads(f, {"x": x0, "A": a0, "b": b0}, order=2)
        hx = sd.evaluate(sd.hessian(f, x), {"x": x0, "A": a0, "b": b0})
        np.testing.assert_allclose(hx, hx.T, rtol=1e-10, atol=1e-12)
    # the Hessian of logdet(X) w.r.t. X, as a (n, n, n, n) array: -inv(X).T[j,k] inv(X).T[l,i]
    # (Cookbook eq. 43 differentiated with eq. 40)
    X = sd.matrix("X", shape=(N, N))
    hess = sd.evaluate(sd.hessian(sd.logdet(X), X), {"X": a0})
    ai = np.linalg.inv(a0)
    np.testing.assert_allclose(hess, -np.einsum("li,jk->ijkl", ai, ai), rtol=1e-9, atol=1e-12)


# Symmetric matrices declared so (sd.matrix("X", symmetric=True)): the Cookbook's
# formulas with X.T = X and B.T = B. The derivative is the unconstrained one at the
# symmetric value (the numbers JAX gives), not the constrained G + G.T - diag(G) of the
# Cookbook's section 2.8: rows (100) and (103) are not symmetric. The compiled code has
# no transpose of a symmetric input or of its inverse left.
SYMMETRIC_ROWS = [
    (49, "det(X)", "X", lambda e: det(e["X"]) * inv(e["X"])),
    (57, "logdet(X)", "X", lambda e: inv(e["X"])),
    (61, "a @ inv(X) @ b", "X", lambda e: -inv(e["X"]) @ np.outer(e["a"], e["b"]) @ inv(e["X"])),
    (81, "x @ B @ x", "x", lambda e: 2 * e["B"] @ e["x"]),
    (100, "trace(X @ A)", "X", lambda e: e["A"].T),
    (103, "trace(X.T @ A)", "X", lambda e: e["A"]),
    (106, "trace(X @ X)", "X", lambda e: 2 * e["X"]),
    (108, "trace(X.T @ B @ X)", "X", lambda e: 2 * e["B"] @ e["X"]),
    (124, "trace(A @ inv(X) @ C)", "X",
     lambda e: -inv(e["X"]) @ e["A"].T @ e["C"].T @ inv(e["X"])),
]


@pytest.mark.parametrize("eq,text,wrt,formula", SYMMETRIC_ROWS,
                         ids=[f"({r[0]}) {r[1]}" for r in SYMMETRIC_ROWS])
def test_cookbook_identity_for_symmetric_matrices(eq, text, wrt, formula):
    from symdiff.codegen.function import _optimized
    symmetric = {"X", "B"}
    bindings = {k: sd.matrix(k, shape=s, symmetric=k in symmetric) if len(s) == 2
                else sd.vector(k, shape=s) for k, s in SHAPES.items()}
    f = sd.parse(text, **bindings)
    variables = _vars(f)
    env = env_for({v.name: v.shape for v in variables}, eq)
    for k in symmetric & env.keys():
        env[k] = (env[k] + env[k].T) / 2
    g = sd.grad(f, bindings[wrt])
    got = sd.function(variables, g)(**env)
    np.testing.assert_allclose(got, formula(env), rtol=1e-9, atol=1e-12)
    check_grads(f, env)
    for node in sd.ir.toposort(_optimized([g])):
        if node.op.name == "transpose":
            inner = node.inputs[0]
            inner = inner.inputs[0] if inner.op.name == "inv" else inner
            assert not (isinstance(inner, sd.Var) and inner.symmetric), node
