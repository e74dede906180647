"""compile_scaling: how compile time grows with graph size.

A chain of N scalar elementwise ops on one scalar x (sin, exp, multiply by 0.5,
in turn: the values stay bounded), its value and its derivative, compiled with
`sd.function`. The times of building the graph, taking the gradient and
compiling are reported for N = 1,000 and N = 10,000 (100 and 1,000 with
--quick); compile time linear in the graph size means a ratio near 10.

Each size runs in a fresh interpreter (`python -m bench.scaling N`, printing
one JSON object), so that caches from one size do not help the other and a
crash (deep recursion overflowing the C stack) cannot take the suite down. If
the default recursion limit is not enough the run is repeated once with a
higher limit, and the report says so.
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


def chain(m, x, n_ops):
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


def chain_reference(x, n_ops):
    """Dual numbers on Python floats: (value, derivative)."""
    y, dy = x, 1.0
    for i in range(n_ops):
        step = i % 3
        if step == 0:
            y, dy = math.sin(y), math.cos(y) * dy
        elif step == 1:
            y = math.exp(y)
            dy = y * dy
        else:
            y, dy = 0.5 * y, 0.5 * dy
    return y, dy


def measure(n_ops):
    """Build, differentiate, compile and call the chain of n_ops ops; seconds per phase."""
    import numpy as np

    import symdiff as sd

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
    expected = chain_reference(X0, n_ops)
    times["agrees"] = bool(np.allclose([value, derivative], expected, rtol=1e-9, atol=1e-12))
    return times


def run_one(n_ops, recursion_limit=None, timeout=600):
    """Measure in a fresh interpreter; a dict with the times or with 'error'."""
    cmd = [sys.executable, "-m", "bench.scaling", str(n_ops)]
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
    """Both sizes; retries a size once with a higher recursion limit if it needs one."""
    results = {"sizes": list(sizes)}
    for n_ops in sizes:
        result = run_one(n_ops, timeout=timeout)
        if "RecursionError" in result.get("error", "") or "exit status -11" in result.get(
            "error", ""
        ):
            retry = run_one(n_ops, RAISED_RECURSION_LIMIT, timeout=timeout)
            retry["default_limit_error"] = result["error"]
            retry["recursion_limit"] = RAISED_RECURSION_LIMIT
            result = retry
        results[str(n_ops)] = result
    small, large = (results[str(n)] for n in sizes)
    for phase in ("grad_s", "compile_s", "total_s"):
        if phase in small and phase in large and small[phase] > 0:
            results[f"ratio_{phase}"] = large[phase] / small[phase]
    return results


def main(argv):
    n_ops = int(argv[0])
    if len(argv) > 1:
        sys.setrecursionlimit(int(argv[1]))
    try:
        result = measure(n_ops)
    except Exception as exc:
        result = {"error": f"{type(exc).__name__}: {str(exc)[:300]}"}
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
