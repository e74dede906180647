"""The batching transform, checked against its definition: a loop over the batch.

For every op of the table and each of its cases, with each input batched alone and
all inputs batched together, the batched graph evaluated on a stack of inputs (by
the interpreter and by compiled code) equals the original graph evaluated on each
slice of the stack, with the batch size static and unknown, and the per-example
lengths static and unknown.
"""
import numpy as np
import pytest

import symdiff as sd
from symdiff.batching import batch
from symdiff.ir import Var, make, toposort
from symdiff.ops import OPS
from symdiff.testing import sample_input

B = 4
CASES = [(name, k) for name, op in sorted(OPS.items()) for k in range(len(op.cases))]


def inputs_vars(outputs):
    return sorted((n for n in toposort(outputs) if isinstance(n, Var)), key=lambda v: v.name)


def check_batched(outputs, batched_names, env, stacks, *, dynamic_batch=False):
    """Batch ``outputs`` over the named variables; compare with a loop over the batch."""
    outputs = [outputs] if isinstance(outputs, sd.Expr) else list(outputs)
    variables = {v.name: v for v in inputs_vars(outputs)}
    replace, benv = {}, {}
    for name in batched_names:
        v = variables[name]
        size = None if dynamic_batch else B
        replace[v] = Var(name + "_batch", (size,) + v.shape, v.dtype)
        benv[name + "_batch"] = stacks[name]
    for name, value in env.items():
        if name not in batched_names:
            benv[name] = value
    batched = batch(outputs, replace)
    for o, b in zip(outputs, batched):
        assert b.ndim == o.ndim + 1 and b.dtype == o.dtype, (o.shape, b.shape)
    want = [np.stack(vals) for vals in zip(*(
        sd.evaluate(outputs, {**env, **{n: stacks[n][k] for n in batched_names}})
        for k in range(B)))]
    got = sd.evaluate(batched, benv)
    compiled = sd.function(inputs_vars(batched), batched)(
        **{v.name: benv[v.name] for v in inputs_vars(batched)})
    for w, g, c in zip(want, got, compiled):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(c, w, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name,k", CASES)
def test_batching_rule(name, k):
    op = OPS[name]
    case = op.cases[k]
    assert op.batch is not None, f"{name} has no batching rule"
    rng = np.random.default_rng(k)
    for dynamic in (False, True):
        variables, env, stacks = [], {}, {}
        for i, shape in enumerate(case.shapes):
            domain = op.domain[i] if i < len(op.domain) else (-2.0, 2.0)
            value = sample_input(domain, shape, rng)
            declared = tuple(d if d == 1 or not dynamic else None for d in shape)
            variables.append(Var(f"in{i}", declared, value.dtype))
            env[f"in{i}"] = value
            stacks[f"in{i}"] = sample_input(domain, (B,) + tuple(shape), rng)
        node = make(op, variables, case.attrs)
        names = [v.name for v in variables]
        subsets = [[n] for n in names] + ([names] if len(names) > 1 else [])
        for subset in subsets:
            check_batched(node, subset, env, stacks, dynamic_batch=dynamic)


def test_an_output_that_does_not_depend_on_the_batch_is_repeated():
    x, y = sd.vector("x", 3), sd.vector("y", 3)
    xs = sd.tensor("xs", (B, 3))
    out = batch([sd.sin(y), x * 2.0], {x: xs})
    yv, xv = np.arange(3.0), np.ones((B, 3))
    np.testing.assert_allclose(sd.evaluate(out[0], {"y": yv, "xs": xv}),
                               np.tile(np.sin(yv), (B, 1)))
    np.testing.assert_allclose(sd.evaluate(out[1], {"xs": xv}), 2 * xv)


def test_unbatched_parts_are_shared_not_copied():
    """The forward part that does not depend on the batch stays one node."""
    x, W = sd.vector("x", 3), sd.matrix("W", (3, 3))
    forward = sd.tanh(W @ W)
    out = sd.sum(forward @ x)
    batched = batch(out, {x: sd.tensor("xs", (B, 3))})
    assert any(n is forward for n in toposort([batched]))


def test_composed_graph_with_unknown_lengths():
    x, W = sd.vector("x"), sd.matrix("W", (None, None))
    h = sd.softmax(W @ sd.tanh(x), 0)
    out = [sd.logsumexp(h * x[: 2].sum()), sd.concatenate([h, x[1:]]), sd.outer(h, x)]
    rng = np.random.default_rng(0)
    env = {"x": rng.standard_normal(5), "W": rng.standard_normal((5, 5))}
    stacks = {"x": rng.standard_normal((B, 5)), "W": rng.standard_normal((B, 5, 5))}
    for names in (["x"], ["W"], ["x", "W"]):
        for dynamic_batch in (False, True):
            check_batched(out, names, env, stacks, dynamic_batch=dynamic_batch)


def test_batched_values_must_fit():
    x = sd.vector("x", 3)
    with pytest.raises(sd.ShapeError):
        batch(sd.sin(x), {x: sd.tensor("xs", (B, 4))})
    with pytest.raises(sd.ShapeError):
        batch(sd.sin(x) + sd.vector("y", 3),
              {x: sd.tensor("xs", (B, 3)), sd.vector("y", 3): sd.tensor("ys", (B + 1, 3))})


def test_the_checker_can_fail(patch_op):
    """A wrong rule (sum that forgets to shift its axes) is caught by the loop oracle."""
    def wrong(args, batched, node):
        return make(node.op, args, {"axis": node.attr("axis"), "keepdims": False})
    patch_op(OPS["sum"], "batch", wrong)
    x = sd.matrix("x", (3, 3))
    rng = np.random.default_rng(0)
    with pytest.raises(AssertionError):
        check_batched(sd.sum(x, 1), ["x"], {"x": rng.random((3, 3))},
                      {"x": rng.random((B, 3, 3))})


def test_a_rule_giving_the_wrong_shape_is_reported(patch_op):
    def wrong(args, batched, node):
        return make(node.op, args, {"axis": node.attr("axis"), "keepdims": False})
    patch_op(OPS["sum"], "batch", wrong)
    x = sd.matrix("x", (2, 3))
    with pytest.raises(sd.ShapeError, match="rule of 'sum'"):
        batch(sd.sum(x, 1), {x: sd.tensor("xs", (B, 2, 3))})
