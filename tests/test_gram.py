"""Quadratic forms of a tall matrix through its Gram matrix (codegen/gram.py): the
compiled values equal the graph as written (reference interpreter), the gradients
equal central differences, and the tall product is gone only where every use of it
sums over its rows."""
import numpy as np
import pytest

import symdiff as sd
from symdiff.codegen.function import _optimized
from symdiff.ir import toposort
from symdiff.testing import check_grads

N, M = 40, 5


def _tall_products(outputs) -> int:
    return sum(1 for n in toposort(_optimized(outputs))
               if n.op.name == "matmul" and n.ndim == 2 and n.shape[0] == N)


def _env(rng, shapes):
    return {k: rng.normal(size=v) for k, v in shapes.items()}


CASES = {
    # every use sums over the rows of P = X @ A: P disappears
    "gram": (lambda X, A, B: sd.sum(B * ((X @ A).T @ (X @ A))), 0),
    "inner": (lambda X, A, B: sd.sum(X * (X @ A)) * sd.sum(B), 0),
    "colsum": (lambda X, A, B: sd.sum(sd.sum(X @ A, axis=0) * sd.sum(B, axis=0)), 0),
    "all three": (lambda X, A, B: sd.sum(X * (X @ A)) + sd.sum(B * ((X @ A).T @ (X @ A)))
                  + sd.sum(sd.sin(sd.sum(X @ A, axis=0))), 0),
    # P is also used elementwise: it stays
    "other use": (lambda X, A, B: sd.sum(X * (X @ A)) + sd.sum(sd.sin(X @ A)), 1),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_gram_forms_match_the_graph_as_written(case):
    build, tall_left = CASES[case]
    rng = np.random.default_rng(20)
    X, A, B = sd.matrix("X", shape=(N, M)), sd.matrix("A", shape=(M, M)), \
        sd.matrix("B", shape=(M, M))
    e = build(X, A, B)
    wrt = [v for v in (X, A, B) if v.name in e.vars]
    outs = [e, *sd.grad(e, wrt)]
    env = _env(rng, {"X": (N, M), "A": (M, M), "B": (M, M)})
    env = {k: v for k, v in env.items() if k in e.vars}
    f = sd.function(wrt, outs)
    for got, want in zip(f(**env), sd.evaluate(outs, env)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)
    check_grads(e, env)
    if any(v is B for v in wrt):
        # the value and its gradient w.r.t. B, whose own uses of P sum over its rows
        assert _tall_products([e, sd.grad(e, B)]) == tall_left


def test_unknown_sizes_and_wide_matrices_are_left_as_written():
    rng = np.random.default_rng(21)
    for shape in ((None, M), (3, M)):
        X, A = sd.matrix("X", shape=shape), sd.matrix("A", shape=(M, M))
        e = sd.sum(X * (X @ A))
        outs = [e, sd.grad(e, A)]
        env = {"X": rng.normal(size=(3, M)), "A": rng.normal(size=(M, M))}
        graph = toposort(_optimized(outs))
        assert any(n.op.name == "matmul" and n.ndim == 2 and n.inputs[1].name == "A"
                   for n in graph if n.inputs)
        for got, want in zip(sd.function([X, A], outs)(**env), sd.evaluate(outs, env)):
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)
