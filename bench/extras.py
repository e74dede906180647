"""Two measurements of symdiff alone, in the same process as the rest of the suite.

hvp: the compiled Hessian-vector product of Rosenbrock (n = 10,000) against the
compiled gradient: forward-over-reverse should cost a small multiple of the
gradient (target <= 4x).

optimize: what simplification buys: op nodes of the value-and-gradient graph and
time per call with ``sd.function(..., optimize=False)`` against the default,
for the 2-2-2 example and the two MLPs of the workloads.
"""

import statistics
import timeit

import numpy as np

from . import workloads


def _median_call(fn, args, number):
    times = timeit.repeat(lambda: fn(*args), number=number, repeat=7)
    return statistics.median(times) / number


def run_hvp(sd, n=10_000):
    x, v = sd.vector("x"), sd.vector("v")
    cost = workloads.rosenbrock_model(sd, x)
    grad = sd.function([x], sd.grad(cost, x))
    hvp = sd.function([x, v], sd.hvp(cost, x, v))
    rng = np.random.default_rng(0)
    xv, vv = rng.uniform(-1, 1, n), rng.standard_normal(n)
    # check the product against a central difference of the gradient
    eps = 1e-6
    fd = (grad(xv + eps * vv) - grad(xv - eps * vv)) / (2 * eps)
    ok = bool(np.allclose(hvp(xv, vv), fd, rtol=1e-5, atol=1e-4))
    tg = _median_call(grad, (xv,), 200)
    th = _median_call(hvp, (xv, vv), 200)
    return {"n": n, "grad_us": tg * 1e6, "hvp_us": th * 1e6, "ratio": th / tg,
            "agrees_with_finite_differences": ok}


def run_optimize(sd):
    from symdiff.rewrite import count_ops
    rows = {}
    cases = {"mazur": (workloads.mazur_model, workloads.mazur_inputs(), ("W1", "b1", "W2", "b2")),
             "mlp_small": (workloads.mlp_model, workloads.mlp_inputs(32, 64, 32, 10, 0),
                           ("W1", "b1", "W2", "b2")),
             "mlp_mnist": (workloads.mlp_model, workloads.mlp_inputs(256, 784, 256, 10, 0),
                           ("W1", "b1", "W2", "b2"))}
    for name, (model, values, wrt) in cases.items():
        variables = {k: sd.var(k, tuple(None for _ in np.shape(v))) for k, v in values.items()}
        cost = model(sd, **variables)
        outputs = [cost, *sd.grad(cost, [variables[k] for k in wrt])]
        inputs = list(variables.values())
        args = [values[k] for k in variables]
        raw = count_ops(outputs)
        simple = count_ops(sd.simplify(outputs))
        f0 = sd.function(inputs, outputs, optimize=False)
        f1 = sd.function(inputs, outputs)
        same = all(np.allclose(a, b) for a, b in zip(f0(*args), f1(*args)))
        number = 2000 if name == "mazur" else (200 if name == "mlp_small" else 10)
        t0, t1 = _median_call(f0, args, number), _median_call(f1, args, number)
        rows[name] = {"op_nodes_raw": raw, "op_nodes_simplified": simple,
                      "raw_us": t0 * 1e6, "optimized_us": t1 * 1e6, "speedup": t0 / t1,
                      "same_values": same}
    return rows


def hvp_lines(result):
    if not result:
        return []
    lines = ["## hvp", ""]
    if "error" in result:
        return lines + [f"n/a: {result['error']}", ""]
    return lines + [
        f"Rosenbrock, n = {result['n']:,}: compiled gradient {result['grad_us']:.0f} µs, "
        f"compiled Hessian-vector product {result['hvp_us']:.0f} µs, ratio "
        f"**{result['ratio']:.2f}** (target ≤ 4); agrees with finite differences of the "
        f"gradient: {'yes' if result['agrees_with_finite_differences'] else 'NO'}.", ""]


def optimize_lines(result):
    if not result:
        return []
    lines = ["## optimize", ""]
    if "error" in result:
        return lines + [f"n/a: {result['error']}", ""]
    lines += ["What simplification buys: `sd.function(..., optimize=False)` against the "
              "default, value and gradients.", "",
              "| workload | op nodes raw | simplified | raw (µs) | optimized (µs) | speed-up | "
              "same values |", "|---|---|---|---|---|---|---|"]
    for name, r in result.items():
        lines.append(f"| {name} | {r['op_nodes_raw']} | {r['op_nodes_simplified']} | "
                     f"{r['raw_us']:,.1f} | {r['optimized_us']:,.1f} | {r['speedup']:.2f}x | "
                     f"{'yes' if r['same_values'] else 'NO'} |")
    return lines + [""]
