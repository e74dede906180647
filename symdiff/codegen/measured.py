"""Choosing, by measurement, between a function's fused (Numba) variant and its NumPy
code.

Both variants are printed from the same simplified graph. On the first calls they run
in turn, ``ROUNDS`` calls each; the one with the least time then takes their place.
Fused loops win on elementwise chains and scalar graphs; the NumPy code keeps its big
temporaries between calls, which wins where allocating is what costs. Since which wins
depends on the sizes, calls where an argument of unknown length has at least
``KEEP_MIN_SIZE`` elements are measured and routed apart from the others. Once chosen,
the winner is called directly (through a generated two-way test on the sizes when the
two classes chose differently, or when one is still being measured).
"""
from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

from .plan import KEEP_MIN_SIZE

ROUNDS = 5


class Measured:
    """The two variants on trial; ``rebind(fn)`` installs ``fn`` as the function."""

    def __init__(self, compiled: Callable, numpy_code: Callable, params: list[str],
                 sized: list[str]) -> None:
        self.variants = (compiled, numpy_code)
        self.params, self.sized = params, sized
        self.times = {False: ([], []), True: ([], [])}
        self.calls = {False: 0, True: 0}
        self.winner: dict[bool, Callable | None] = {False: None, True: None}
        self.rebind: Callable[[Callable], None] | None = None
        self.__doc__ = numpy_code.__doc__
        self.__globals__ = numpy_code.__globals__

    @property
    def chosen(self) -> dict[str, str]:
        """Which variant each size class runs: ``{"small": "numba", ...}``."""
        names = {self.variants[0]: "numba", self.variants[1]: "numpy"}
        return {("big" if big else "small"): names[w] for big, w in self.winner.items()
                if w is not None}

    def _big(self, args: tuple, kwargs: dict) -> bool:
        values = dict(zip(self.params, args), **kwargs)
        return any(isinstance(values.get(n), np.ndarray) and values[n].size >= KEEP_MIN_SIZE
                   for n in self.sized)

    def __call__(self, *args, **kwargs):
        big = bool(self.sized) and self._big(args, kwargs)
        if self.winner[big] is not None:
            return self.winner[big](*args, **kwargs)
        which = self.calls[big] % 2
        self.calls[big] += 1
        start = time.process_time()   # CPU time: other processes do not count
        result = self.variants[which](*args, **kwargs)
        self.times[big][which].append(time.process_time() - start)
        numba_times, numpy_times = self.times[big]
        # (several threads may be calling: decide on whole measurements only)
        if len(numba_times) >= ROUNDS and len(numpy_times) >= ROUNDS:
            self.winner[big] = self.variants[0 if min(numba_times) <= min(numpy_times) else 1]
            self._install()
        return result

    def _install(self) -> None:
        if self.rebind is None:
            return
        small, big = self.winner[False], self.winner[True]
        if not self.sized or small is big:
            self.rebind(small)
            return
        test = " or ".join(f"({n}.__class__ is _ndarray and {n}.size >= {KEEP_MIN_SIZE})"
                           for n in self.sized)
        params = ", ".join(self.params)
        source = (f"def route({params}):\n    if {test}:\n        return _big({params})\n"
                  f"    return _small({params})\n")
        namespace = {"_ndarray": np.ndarray, "_big": big or self, "_small": small or self}
        exec(compile(source, "<symdiff-route>", "exec"), namespace)  # only code we generated
        self.rebind(namespace["route"])


def measured(compiled: Callable, numpy_code: Callable, inputs: list) -> Any:
    """The trial of the two variants of a function of ``inputs``."""
    sized = [v.name for v in inputs if v.ndim >= 1 and None in v.shape]
    return Measured(compiled, numpy_code, [v.name for v in inputs], sized)
