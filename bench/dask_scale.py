"""The scale workload: the logistic-regression gradient on Dask, symdiff against
dask-glm's hand-written ``Logistic`` family, on the same chunks and the same cluster.

`python -m bench.dask_scale [--rows N] [--chunk N] [--workers 2] [--memory 1GB]
[--scheduler ADDRESS] [--repeat 5] [--write]`

- The data (``rows`` x 16, float64, from ``da.random``) is generated on the cluster
  and persisted, so that the timings are of the gradient, not of the generator.
- symdiff: ``sd.function([X, y, w], grad(loss, w))`` with the loss dask-glm's
  ``Logistic.loglike`` computes (sum of log(1 + exp(Xw)) - y Xw), called on the Dask
  arrays and computed; dask-glm: ``Logistic.pointwise_gradient(w, X, y)``, computed.
  Both include building the graph. The same for the loss and the gradient together
  (``dask.compute`` of both outputs; dask-glm: ``pointwise_loss`` and
  ``pointwise_gradient``). The median of ``repeat`` interleaved rounds.
- Time per row against the same symdiff function on in-memory NumPy arrays of
  ``--numpy-rows`` rows (one process, NumPy's threads left as they are).
- Peak memory of each worker process (its maximum resident set size) after the run,
  and the number of tasks of each graph against the number of chunks.
- CPU time of the same computations in this process with Dask's synchronous
  scheduler, on ``--numpy-rows`` rows in chunks of ``--chunk``: the work itself,
  without the cluster's scheduling and transfers, and less moved by other programs
  on the machine than wall time (the minimum of ``repeat`` interleaved rounds).
- The load average before and after, since wall times on a shared machine move
  with it.

``--write`` writes the table to bench/DASK.md, keeping its ``## Notes`` section.
Needs the ``dask`` extra and dask-glm (``pip install dask-glm``).
"""
from __future__ import annotations

import argparse
import os
import pathlib
import platform
import resource
import statistics
import time

import numpy as np

COLS = 16


def _loss(sd, X, y, w):
    z = X @ w
    return sd.sum(sd.softplus(z) - y * z)


def _tasks(collections) -> int:
    """Tasks of the graph that computes the collections together (persisted chunks too)."""
    import dask.base
    if hasattr(dask.base, "collections_to_expr"):   # dask >= 2025
        return len(dict(dask.base.collections_to_expr(collections).__dask_graph__()))
    return len(dict(dask.base.collections_to_dsk(collections)))


def _median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024   # KB on Linux


def run(rows: int, chunk: int, workers: int, memory: str, scheduler: str | None,
        repeat: int, numpy_rows: int) -> dict:
    import dask
    import dask.array as da
    import distributed
    from dask_glm.families import Logistic

    import symdiff as sd

    load_before = os.getloadavg()
    X, y, w = sd.matrix("X"), sd.vector("y"), sd.vector("w")
    loss = _loss(sd, X, y, w)
    grad_f = sd.function([X, y, w], sd.grad(loss, w))
    both_f = sd.function([X, y, w], [loss, sd.grad(loss, w)])

    if scheduler:
        client = distributed.Client(scheduler)
        cluster = None
    else:
        cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1,
                                           memory_limit=memory, dashboard_address=None)
        client = distributed.Client(cluster)
    try:
        rs = da.random.RandomState(0)
        Xd = rs.normal(size=(rows, COLS), chunks=(chunk, COLS))
        yd = (rs.random_sample(rows, chunks=chunk) < 0.5).astype(np.float64)
        Xd, yd = client.persist([Xd, yd])
        distributed.wait([Xd, yd])
        wn = np.linspace(-0.2, 0.2, COLS)

        ours = grad_f(Xd, yd, wn).compute()
        theirs = Logistic.pointwise_gradient(wn, Xd, yd).compute()
        agree = bool(np.allclose(ours, theirs, rtol=1e-10))
        v_ours, _ = dask.compute(*both_f(Xd, yd, wn))
        v_theirs = Logistic.pointwise_loss(wn, Xd, yd).compute()
        agree &= bool(np.allclose(v_ours, v_theirs, rtol=1e-10))

        runs = {
            "symdiff gradient": lambda: grad_f(Xd, yd, wn).compute(),
            "dask-glm gradient": lambda: Logistic.pointwise_gradient(wn, Xd, yd).compute(),
            "symdiff loss + gradient": lambda: dask.compute(*both_f(Xd, yd, wn)),
            "dask-glm loss + gradient": lambda: dask.compute(
                Logistic.pointwise_loss(wn, Xd, yd), Logistic.pointwise_gradient(wn, Xd, yd)),
        }
        times = {name: [] for name in runs}
        for _ in range(repeat):   # interleaved: a change of load hits all alike
            for name, fn in runs.items():
                times[name].append(_median_time(fn, 1))
        median = {name: statistics.median(t) for name, t in times.items()}
        tasks = {
            "symdiff gradient": _tasks([grad_f(Xd, yd, wn)]),
            "dask-glm gradient": _tasks([Logistic.pointwise_gradient(wn, Xd, yd)]),
            "symdiff loss + gradient": _tasks(list(both_f(Xd, yd, wn))),
            "dask-glm loss + gradient": _tasks([Logistic.pointwise_loss(wn, Xd, yd),
                                                Logistic.pointwise_gradient(wn, Xd, yd)]),
        }
        peaks = client.run(_peak_rss_mb)
        limits = {k: v["memory_limit"] for k, v in client.scheduler_info()["workers"].items()}
    finally:
        client.close()
        if cluster is not None:
            cluster.close()

    Xn = np.random.default_rng(0).normal(size=(numpy_rows, COLS))
    yn = (np.random.default_rng(1).random(numpy_rows) < 0.5).astype(np.float64)
    wn = np.linspace(-0.2, 0.2, COLS)
    t_numpy = _median_time(lambda: grad_f(Xn, yn, wn), max(repeat, 5))
    cpu = _cpu_times(grad_f, both_f, Logistic, da.from_array(Xn, chunks=(chunk, COLS)),
                     da.from_array(yn, chunks=chunk), wn, repeat)
    return {
        "rows": rows, "chunk": chunk, "chunks": -(-rows // chunk), "workers": workers,
        "memory_limit": memory, "agree": agree, "seconds": median, "tasks": tasks,
        "ratio_gradient": median["symdiff gradient"] / median["dask-glm gradient"],
        "ratio_loss_gradient": (median["symdiff loss + gradient"]
                                / median["dask-glm loss + gradient"]),
        "ns_per_row_dask": median["symdiff gradient"] / rows * 1e9,
        "ns_per_row_numpy": t_numpy / numpy_rows * 1e9, "numpy_rows": numpy_rows,
        "peak_worker_mb": peaks, "worker_limit_mb": {k: v / 2**20 for k, v in limits.items()},
        "cpu_seconds": cpu, "load": (load_before, os.getloadavg()),
    }


def _cpu_times(grad_f, both_f, Logistic, X, y, w, repeat: int) -> dict:
    """CPU seconds (minimum of interleaved rounds) of each computation with Dask's
    synchronous scheduler in this process."""
    import dask
    runs = {
        "symdiff gradient": lambda: dask.compute(grad_f(X, y, w), scheduler="sync"),
        "dask-glm gradient": lambda: dask.compute(Logistic.pointwise_gradient(w, X, y),
                                                  scheduler="sync"),
        "symdiff loss + gradient": lambda: dask.compute(*both_f(X, y, w), scheduler="sync"),
        "dask-glm loss + gradient": lambda: dask.compute(
            Logistic.pointwise_loss(w, X, y), Logistic.pointwise_gradient(w, X, y),
            scheduler="sync"),
    }
    best = {name: float("inf") for name in runs}
    for _ in range(max(repeat, 5)):
        for name, fn in runs.items():
            t0 = time.process_time()
            fn()
            best[name] = min(best[name], time.process_time() - t0)
    return best


def table(r: dict) -> str:
    lines = [
        f"Logistic gradient, {r['rows']:,} x {COLS} float64 in {r['chunks']} chunks of "
        f"{r['chunk']:,} rows, LocalCluster of {r['workers']} worker processes (1 thread "
        f"each, memory_limit {r['memory_limit']}), {platform.machine()}, "
        f"results agree with dask-glm: {r['agree']}.", "",
        "| what | seconds (median, cluster) | tasks | CPU ms (one process, "
        f"{r['numpy_rows']:,} rows) |", "|---|---|---|---|"]
    for name, seconds in r["seconds"].items():
        lines.append(f"| {name} | {seconds:.3f} | {r['tasks'][name]} | "
                     f"{r['cpu_seconds'][name] * 1e3:.1f} |")
    cpu = r["cpu_seconds"]
    peaks = ", ".join(f"{mb:.0f}" for mb in r["peak_worker_mb"].values())
    lines += ["",
              f"- ratio symdiff / dask-glm: gradient {r['ratio_gradient']:.2f}, loss and "
              f"gradient {r['ratio_loss_gradient']:.2f} (cluster wall time); CPU time: "
              f"gradient {cpu['symdiff gradient'] / cpu['dask-glm gradient']:.2f}, loss and "
              f"gradient "
              f"{cpu['symdiff loss + gradient'] / cpu['dask-glm loss + gradient']:.2f}",
              f"- time per row: Dask {r['ns_per_row_dask']:.1f} ns, in-memory NumPy "
              f"({r['numpy_rows']:,} rows, one process) {r['ns_per_row_numpy']:.1f} ns",
              f"- peak worker memory (max RSS, MB): {peaks}",
              f"- tasks per chunk (symdiff loss + gradient): "
              f"{r['tasks']['symdiff loss + gradient'] / r['chunks']:.1f}",
              "- load average (1, 5, 15 min) before: "
              + ", ".join(f"{v:.1f}" for v in r["load"][0]) + "; after: "
              + ", ".join(f"{v:.1f}" for v in r["load"][1])]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dask_scale")
    parser.add_argument("--rows", type=int, default=4_000_000)
    parser.add_argument("--chunk", type=int, default=250_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory", default="1GB")
    parser.add_argument("--scheduler", default=None, help="a dask.distributed scheduler address")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--numpy-rows", type=int, default=1_000_000)
    parser.add_argument("--write", action="store_true", help="write bench/DASK.md")
    args = parser.parse_args(argv)
    result = run(args.rows, args.chunk, args.workers, args.memory, args.scheduler,
                 args.repeat, args.numpy_rows)
    text = table(result)
    print(text)
    if args.write:
        path = pathlib.Path(__file__).with_name("DASK.md")
        old = path.read_text() if path.exists() else ""
        notes = old[old.index("\n## Notes"):] if "\n## Notes" in old else ""
        path.write_text("# The scale workload (python -m bench.dask_scale)\n\n" + text + notes)
    return 0 if result["agree"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
