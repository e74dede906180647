"""Whole plans: the body after the argument checks as one compiled function (see
``numba_printer``): which plans qualify, and how its lines are spelled, in the
compiled function and in the same steps run from Python for big operands.
"""
from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np

from .. import runtime
from .measured_dot import measured_dot
from .numba_blas import GEMM_NAME
from .numpy_printer import MAX_WRITTEN_CONSTANT
from .plan import KEEP_MIN_SIZE
from .statements import Backward, Check, Compute, Differentiates, Plan, Return

# Marks the call of a whole compiled body in the source; BLAS_MARK, one that calls
# np.dot: Numba's BLAS is SciPy's, so that module must not hide SciPy while it
# compiles or loads (importing scipy.linalg costs ~0.2 s at the first call).
WHOLE_MARK = "# the whole body, compiled"
POOL = "_nbpool"   # not the NumPy variant's ``_pool``: both are in one module
BLAS_MARK = " (with BLAS)"


def compile_whole(p: Any, name: str) -> None:
    """The lines a ``KernelBodyPrinter`` ``p`` printed after the checks become one
    kernel, ``name``; the function calls it and gives 0-d results as NumPy scalars, as
    the NumPy code does."""
    inputs = p.plan.inputs
    # constants are arguments too: Numba would freeze a global array read-only,
    # which the kernels (taking writable arrays) refuse
    taken = [(v.name, v) for v in inputs] + list(p.plan.constants)
    params = ", ".join(n for n, _ in taken)
    sig = ", ".join("float64" if v.ndim == 0 else
                    f"float64[{', '.join([':'] * (v.ndim - 1) + ['::1'])}]" for _, v in taken)
    marked = p.lines[p.prologue:]
    inner = [spell(line, p.marks, 0) for line in marked]
    # Numba's np.dot, or SciPy's dgemm called directly
    blas = any(".dot(" in line or GEMM_NAME in line for line in inner)
    p.store.append("\n".join(
        [f'@njit("({sig}{"," if len(taken) == 1 else ""})", cache=True, '
         f'error_model="numpy", nogil=True)',
         f"def {name}({params}):",
         '    """The whole function body, compiled."""',
         *("    " + line if line else "" for line in inner)]))
    # C-contiguous operands (a no-op for most): reshape and BLAS want them
    args = ", ".join(f"float({n})" if v.ndim == 0 else
                     f"np.ascontiguousarray({n})" for n, v in taken)
    values = p.returned_values
    results = [f"_r[{k}]" for k in range(len(values))] if not p.plan.single else ["_r"]
    refs = [p._ref(o) for o, _ in values]
    # Big operands: the same steps from Python, each product a call of NumPy's own
    # BLAS (Numba's is SciPy's: 8.8 against 6.1 ms on the 784-256-10 MLP).
    sized = [v.name for v in inputs if v.ndim and None in v.shape]
    big = []
    if sized:
        # there, big temporaries are kept between calls and products measured
        steps = [spell(line, p.marks, 1) for line in marked[:-1]]
        if p.kept:
            p.out._need([runtime._buffers, runtime._kept])
            p.pools.append(POOL)
            steps = [f"_s = _buffers({POOL})", *steps, f"{POOL}.append(_s)"]
        if any("measured_dot(" in line for line in steps):
            p.out._need([measured_dot])
        test = " or ".join(f"{n}.size >= {KEEP_MIN_SIZE}" for n in sized)
        big = [f"if {test}:", *("    " + line if line else "" for line in steps),
               f"    return {p._returned(values, refs)}"]
    p.lines = p.lines[:p.prologue] + big + [
        f"_r = {name}({args})  {WHOLE_MARK}{BLAS_MARK if blas else ''}",
        f"return {p._returned(values, results)}"]


def spell(line: str, marks: list[tuple[str, str]], which: int) -> str:
    """``line`` with its marks spelled the compiled way (0) or the Python way (1)."""
    parts = line.split("\0")
    return "".join(marks[int(p)][which] if k % 2 else p for k, p in enumerate(parts))


def whole_plan(plan: Plan, body: Any, regions: list) -> bool:
    """Whether the body after its checks can be one compiled function (see
    ``numba_printer``'s docstring): float64 inputs and values, no big constants held
    outside the source, and every step fused, Python-float math, or NumPy code Numba
    compiles."""
    if plan.fallback is not None or not plan.inputs or importlib.util.find_spec("scipy") is None:
        return False
    if any(v.dtype != np.float64 for v in [*plan.inputs, *(c for _, c in plan.constants)]):
        return False
    if any(node.value.size > MAX_WRITTEN_CONSTANT for _, node in plan.constants):
        return False
    if any(None not in v.shape and np.prod(v.shape) >= KEEP_MIN_SIZE for v in plan.inputs):
        return False   # big operands: NumPy's BLAS between the kernels (see compile_whole)
    fused = {m.id for r in regions for m in r.members}
    steps = len(regions)   # a single kernel is already one compiled function
    for s in body.statements:
        if isinstance(s, (Check, Backward, Differentiates, Return)):
            continue
        if not isinstance(s, Compute):
            return False
        node, op = s.node, s.node.op
        if node.id in fused:
            continue
        steps += 1
        if node.dtype != np.float64 or any(i.dtype != np.float64 for i in node.inputs):
            return False
        helpers = op.helpers(node) if callable(op.helpers) else op.helpers
        if helpers:
            return False
        if s.form == "float" and op.math is not None:
            continue
        ok = op.numba_body(node) if callable(op.numba_body) else op.numba_body
        if not ok or s.form not in ("call", "block") or s.kept is not None:
            return False
    return steps >= 2
