"""compile_scaling: how compile time grows with graph size.

Two chains of N scalar elementwise ops on one scalar x, value and derivative
compiled with `sd.function`:

- "euler": N // 3 explicit Euler steps y <- y + 0.01*sin(y), three ops each
  (sin, multiply by 0.01, add); dy/dx stays between 1e-13 and 2, so value and
  derivative are checked against dual numbers (rtol 1e-9).
- "product": sin, exp, multiply by 0.5, in turn. Its derivative is a product
  of N factors (the shape of a deep network's gradient); it underflows float64
  long before 10,000 ops, so only the value is checked.

The times of building the graph, taking the gradient and compiling are
reported for N = 1,000 and N = 10,000 (100 and 1,000 with --quick); compile
time linear in the graph size means a ratio near 10.

Each measurement runs in a fresh interpreter (`python -m bench.scaling N
CHAIN`, printing one JSON object), so that caches from one size do not help
the other and a crash (deep recursion overflowing the C stack) cannot take the
suite down. If the default recursion limit is not enough the run is repeated
once with a higher limit, and the report says so.
"""

import json
import math
import os
import subprocess
import sys
import time

SIZES = (1000, 10000)
QUICK_SIZES = (100, 1000)
RAISED_RECURSION_LIMIT = 100_000
X0 = 0.3
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def euler_chain(m, x, n_ops):
    y = x
    for _ in range(n_ops // 3):
        y = y + 0.01 * m.sin(y)
    return y


def euler_reference(x, n_ops):
    """Dual numbers on Python floats: (value, derivative)."""
    y, dy = x, 1.0
    for _ in range(n_ops // 3):
        y, dy = y + 0.01 * math.sin(y), dy * (1.0 + 0.01 * math.cos(y))
    return y, dy


def product_chain(m, x, n_ops):
    y = x
    for i in range(n_ops):
        step = i % 3
        if step == 0:
            y = m.sin(y)
        elif step == 1:
            y = m.exp(y)
        else:
            y = 0.5 * y
    return y


def product_reference(x, n_ops):
    """The value only (the derivative underflows float64)."""
    return product_chain(math, x, n_ops)


CHAINS = {"euler": (euler_chain, euler_reference), "product": (product_chain, product_reference)}


def measure(n_ops, chain_name):
    """Build, differentiate, compile and call one chain of n_ops ops; seconds per phase."""
    import numpy as np

    import symdiff as sd

    chain, reference = CHAINS[chain_name]
    times = {}
    start = time.perf_counter()
    x = sd.scalar("x")
    y = chain(sd, x, n_ops)
    times["build_s"] = time.perf_counter() - start
    start = time.perf_counter()
    g = sd.grad(y, x)
    times["grad_s"] = time.perf_counter() - start
    start = time.perf_counter()
    f = sd.function([x], [y, g])
    times["compile_s"] = time.perf_counter() - start
    start = time.perf_counter()
    value, derivative = f(X0)
    times["first_call_s"] = time.perf_counter() - start
    times["total_s"] = sum(times.values())
    times["source_lines"] = f.source.count("\n") + 1 if hasattr(f, "source") else None
    expected = reference(X0, n_ops)
    got = [value, derivative] if isinstance(expected, tuple) else value
    times["agrees"] = bool(np.allclose(got, expected, rtol=1e-9, atol=0.0))
    return times


def run_one(n_ops, chain_name, recursion_limit=None, timeout=600):
    """Measure in a fresh interpreter; a dict with the times or with 'error'."""
    cmd = [sys.executable, "-m", "bench.scaling", str(n_ops), chain_name]
    if recursion_limit:
        cmd.append(str(recursion_limit))
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO_ROOT
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"exit status {proc.returncode}: {tail}"}
    return json.loads(lines[-1])


def run(sizes=SIZES, timeout=600):
    """Every chain at both sizes; a size that needs a higher recursion limit is retried."""
    return {name: run_chain(name, sizes, timeout) for name in CHAINS}


def run_chain(chain_name, sizes, timeout):
    results = {"sizes": list(sizes)}
    for n_ops in sizes:
        result = run_one(n_ops, chain_name, timeout=timeout)
        error = result.get("error", "")
        if "RecursionError" in error or "exit status -11" in error:
            retry = run_one(n_ops, chain_name, RAISED_RECURSION_LIMIT, timeout=timeout)
            retry["default_limit_error"] = error
            retry["recursion_limit"] = RAISED_RECURSION_LIMIT
            result = retry
        results[str(n_ops)] = result
    small, large = (results[str(n)] for n in sizes)
    for phase in ("grad_s", "compile_s", "total_s"):
        if phase in small and phase in large and small[phase] > 0:
            results[f"ratio_{phase}"] = large[phase] / small[phase]
    return results


def main(argv):
    n_ops, chain_name = int(argv[0]), argv[1]
    if len(argv) > 2:
        sys.setrecursionlimit(int(argv[2]))
    try:
        result = measure(n_ops, chain_name)
    except Exception as exc:
        result = {"error": f"{type(exc).__name__}: {str(exc)[:300]}"}
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
