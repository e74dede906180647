"""`python -m bench [--quick] [--only NAME[,NAME...]]`.

Every contender runs on one core with single-threaded math libraries, so the
thread counts are fixed here, before NumPy or any peer library is imported,
and the process is pinned to one CPU where the OS allows it.
"""

import os
import sys

SINGLE_THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "BLIS_NUM_THREADS": "1",
    "VECLIB_MAXIMUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
    "NUMBA_NUM_THREADS": "1",
    "JAX_PLATFORMS": "cpu",
}
XLA_SINGLE_THREAD_FLAGS = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


def limit_threads():
    """Set the thread variables and pin to one CPU; return the CPU set used."""
    os.environ.update(SINGLE_THREAD_ENV)
    xla_flags = os.environ.get("XLA_FLAGS", "")
    if XLA_SINGLE_THREAD_FLAGS not in xla_flags:
        os.environ["XLA_FLAGS"] = (xla_flags + " " + XLA_SINGLE_THREAD_FLAGS).strip()
    if hasattr(os, "sched_setaffinity"):
        try:
            os.sched_setaffinity(0, {max(os.sched_getaffinity(0))})
        except OSError:
            pass
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return None


if __name__ == "__main__":
    if "numpy" in sys.modules:
        print("warning: numpy was imported before the thread limits were set", file=sys.stderr)
    limit_threads()
    from bench.cli import main

    sys.exit(main())
