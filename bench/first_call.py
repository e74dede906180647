"""First calls of ``backend="numba"`` in fresh processes, cold and warm.

`python -m bench.first_call [--only NAME[,NAME...]] [--runs N]` measures, for each
workload, the time from nothing to the first result in a new interpreter: import
symdiff (and, through it, whatever it loads), build the graph, take the gradient,
``sd.function(..., backend="numba")``, call once. NumPy and the workload's inputs are
there before the clock starts, as they are in a user's program. The cold run's CPU
time of the process to its first result (``process_time``; with the compilation on a
thread, the part done by then) is printed too: on a loaded machine it is the
comparable number.

Each workload gets a temporary cache directory (``SYMDIFF_CACHE_DIR``): the first run
finds it empty (cold: compile and store), the next ``N`` load what it stored (warm).
A cold ``sd.function`` compiles its kernels on a thread and its first call runs the
NumPy code (``--foreground``: ``SYMDIFF_NUMBA_BACKGROUND=0``, compile first); the
"compiled" column is the time until the kernels are in place (``f.wait_compiled()``).
The children write bytecode files, as an installed package has them.
Each child reports its phases and whether Numba and SciPy's linear algebra were
imported, so a slow warm call says where its time went. Best and spread are printed;
load the machine lightly, timings on a shared machine are noisy.

`python -m bench.first_call --child NAME` is one measurement (one JSON line).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT = ("mazur", "mlp_small", "mlp_mnist", "softmax_xent", "rosenbrock_grad",
           "rosenbrock_hess", "gauss_nll", "deep_scalar_10", "deep_scalar_40",
           "deep_scalar_160")
COLD_TARGET_S = {"deep_scalar_160": 5.0, "mlp_small": 3.0, "mlp_mnist": 3.0}
WARM_TARGET_S = 0.5


def child(name: str) -> dict:
    """One first call in this (fresh) process."""
    import numpy as np

    from bench.contenders import _as_list
    from bench.workloads import BY_NAME

    workload = BY_NAME[name]
    inputs = workload.make_inputs()
    reference = workload.hand(*inputs.values())
    t0, c0 = time.perf_counter(), time.process_time()
    import symdiff as sd
    t1 = time.perf_counter()
    variables = {}
    static = workload.static_shapes
    for key, value in inputs.items():
        shape = np.shape(value)
        declared = shape if static else None
        variables[key] = (sd.scalar(key) if not shape else
                          sd.vector(key, shape=declared) if len(shape) == 1 else
                          sd.matrix(key, shape=declared) if len(shape) == 2 else
                          sd.tensor(key, shape=declared or (None,) * len(shape)))
    cost = workload.model(sd, **variables)
    wrt = [variables[k] for k in workload.wrt]
    outputs = ([sd.hessian(cost, wrt[0])] if workload.kind == "hessian"
               else [cost, *sd.grad(cost, wrt)])
    t2 = time.perf_counter()
    f = sd.function(list(variables.values()), outputs, backend="numba")
    t3 = time.perf_counter()
    result = f(*inputs.values())
    t4, c4 = time.perf_counter(), time.process_time()
    numba_loaded = "numba" in sys.modules   # by the first call
    compiled = f.wait_compiled()
    t5 = time.perf_counter()
    agrees = all(np.allclose(a, b, rtol=workload.rtol, atol=workload.atol)
                 for a, b in zip(_as_list(result), _as_list(reference)))
    if compiled and f._trial is not None:   # the compiled variant agrees too
        compiled_result = f._trial.variants[0](*inputs.values())
        agrees = agrees and all(np.allclose(a, b, rtol=workload.rtol, atol=workload.atol)
                                for a, b in zip(_as_list(compiled_result), _as_list(reference)))
    return {"name": name, "total_s": t4 - t0, "import_s": t1 - t0, "graph_s": t2 - t1,
            "function_s": t3 - t2, "call_s": t4 - t3, "compiled_s": t5 - t0,
            "cpu_s": c4 - c0,
            "agrees": agrees, "numba": numba_loaded,
            "scipy_linalg": "scipy.linalg" in sys.modules}


def run_child(name: str, cache_dir: str, background: bool) -> dict:
    env = dict(os.environ, SYMDIFF_CACHE_DIR=cache_dir,
               SYMDIFF_NUMBA_BACKGROUND="1" if background else "0")
    # Bytecode files as an installed package has them (this variable turns them off).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    out = subprocess.run([sys.executable, "-m", "bench.first_call", "--child", name],
                         cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"{name}: {out.stderr.strip().splitlines()[-1:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.first_call", description=__doc__
                                     .split("\n\n")[0])
    parser.add_argument("--only", default=",".join(DEFAULT))
    parser.add_argument("--runs", type=int, default=3, help="warm runs per workload")
    parser.add_argument("--cold-runs", type=int, default=1, help="cold runs per workload")
    parser.add_argument("--foreground", action="store_true",
                        help="compile before sd.function returns (SYMDIFF_NUMBA_BACKGROUND=0)")
    parser.add_argument("--child")
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child)))
        return 0
    print(f"load: {os.getloadavg()}")
    print(f"{'workload':18} {'cold s (best, all)':>22} {'cold CPU s':>10} {'compiled s':>18} "
          f"{'warm s (best, all)':>28}  warm phases (import/graph/function/call) ms, "
          f"modules")
    failed = False
    for name in args.only.split(","):
        colds, warms = [], []
        for _ in range(args.cold_runs):
            with tempfile.TemporaryDirectory() as tmp:
                os.chmod(tmp, 0o700)
                colds.append(run_child(name, tmp, not args.foreground))
                if len(colds) == args.cold_runs:
                    warms = [run_child(name, tmp, not args.foreground)
                             for _ in range(args.runs)]
        failed |= not all(r["agrees"] for r in colds + warms)
        cold = [r["total_s"] for r in colds]
        warm = [r["total_s"] for r in warms]
        best = min(warms, key=lambda r: r["total_s"]) if warms else None
        phases = (f"{best['import_s'] * 1e3:.0f}/{best['graph_s'] * 1e3:.0f}/"
                  f"{best['function_s'] * 1e3:.0f}/{best['call_s'] * 1e3:.0f}"
                  f"{' numba' if best['numba'] else ''}"
                  f"{' scipy.linalg' if best['scipy_linalg'] else ''}") if best else ""
        cold_target = COLD_TARGET_S.get(name)
        compiled = [r["compiled_s"] for r in colds]
        print(f"{name:18} {min(cold):6.2f} ({' '.join(f'{c:.2f}' for c in cold)})"
              f"{' ≤ %g' % cold_target if cold_target else '':>8}"
              f" {min(r['cpu_s'] for r in colds):10.2f}"
              f" {min(compiled):6.2f} ({' '.join(f'{c:.2f}' for c in compiled)})"
              f" {min(warm) if warm else float('nan'):10.3f} "
              f"({' '.join(f'{w:.3f}' for w in warm)})  {phases}"
              f"{'' if all(r['agrees'] for r in colds + warms) else '  DISAGREES'}")
    print(f"load: {os.getloadavg()}")
    return 1 if failed else 0


if __name__ == "__main__":
    from bench.__main__ import limit_threads

    limit_threads()
    sys.exit(main())
