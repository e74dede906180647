"""Measuring: per-call time, first-call time, peak memory, agreement, machine facts.

Times are seconds everywhere in the data; only the report converts them.
Per-call time is the median over repeats of (time of `number` calls / number),
with `number` chosen autorange-style so that one repeat lasts at least
`min_time`. The contenders of one workload are timed in interleaved rounds
(one repeat of each, then the next round), so that a change in machine load
during the run hits all of them alike and their ratios stay meaningful.
"""

import datetime
import gc
import os
import platform
import statistics
import subprocess
import sys
import time
import timeit
import tracemalloc

import numpy as np


def first_call(build):
    """Run `build()` -> (call, ...) and the first call; return (built, result, seconds)."""
    gc.collect()
    start = time.perf_counter()
    built = build()
    result = built[0]()
    return built, result, time.perf_counter() - start


def calibrate(call, min_time):
    """The smallest number in 1, 2, 5, 10, 20, 50, ... whose run lasts >= min_time."""
    timer = timeit.Timer(call)
    number = 1
    while True:
        for factor in (1, 2, 5):
            n = number * factor
            if timer.timeit(n) >= min_time:
                return n
        number *= 10


def time_interleaved(calls, repeats, min_time):
    """calls: name -> zero-argument callable. Returns name -> dict of timings."""
    numbers = {name: calibrate(call, min_time) for name, call in calls.items()}
    timers = {name: timeit.Timer(call) for name, call in calls.items()}
    per_call = {name: [] for name in calls}
    for _ in range(repeats):
        for name, timer in timers.items():
            per_call[name].append(timer.timeit(numbers[name]) / numbers[name])
    return {
        name: {
            "per_call_s": statistics.median(times),
            "min_s": min(times),
            "repeats_s": times,
            "number": numbers[name],
        }
        for name, times in per_call.items()
    }


def peak_memory(call):
    """Peak bytes allocated (as seen by tracemalloc) during one call."""
    gc.collect()
    tracemalloc.start()
    try:
        result = call()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del result
    return peak


def compare(outputs, reference, rtol, atol):
    """None when outputs match reference (count, shapes, values); else the reason."""
    if len(outputs) != len(reference):
        return f"{len(outputs)} outputs, expected {len(reference)}"
    for i, (out, ref) in enumerate(zip(outputs, reference)):
        out, ref = np.asarray(out), np.asarray(ref)
        if out.shape != ref.shape:
            return f"output {i}: shape {out.shape}, expected {ref.shape}"
        if not np.allclose(out, ref, rtol=rtol, atol=atol):
            err = np.max(np.abs(out - ref))
            return f"output {i}: max abs error {err:.3g} (rtol={rtol:g}, atol={atol:g})"
    return None


def short_error(exc, limit=300):
    text = f"{type(exc).__name__}: {exc}".strip().replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def blas_facts():
    facts = {}
    try:
        config = np.show_config(mode="dicts")
        blas = config["Build Dependencies"]["blas"]
        facts["numpy_blas"] = f"{blas.get('name')} {blas.get('version')}"
    except Exception:
        pass
    try:
        import threadpoolctl

        facts["threadpools"] = [
            {k: info.get(k) for k in ("internal_api", "version", "num_threads", "architecture")}
            for info in threadpoolctl.threadpool_info()
        ]
    except ImportError:
        pass
    return facts


def git_commit():
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5,
            cwd=os.path.dirname(os.path.abspath(__file__)),
        )
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def machine_facts(contenders):
    affinity = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    facts = {
        "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "pinned_to_cpus": affinity,
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "numpy": np.__version__,
        "git_commit": git_commit(),
        "thread_env": {k: os.environ.get(k) for k in (
            "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS",
            "XLA_FLAGS")},
        "versions": {name: c.version for name, c in contenders.items()},
    }
    facts.update(blas_facts())
    return facts
