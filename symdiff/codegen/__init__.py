"""Code generation: a graph becomes one straight-line NumPy function, in two steps.

- ``plan.py``: every decision about the computation, made once on the IR (schedule,
  liveness, buffers, kept buffers, Python floats, fused pairs, ``del``), recorded as
  plain data (``statements.py``).
- ``numpy_printer.py``: the plan spelled as NumPy source; it decides nothing.
- ``function.py``: ``function()`` and ``Function`` (compile, cache, call),
  ``module_source`` for the CLI's standalone modules.

The functions the generated code calls at run time are in ``symdiff.runtime``.
"""
from .function import RESERVED, Function, function, module_source
from .plan import make_plan
from .statements import Plan

__all__ = ["Function", "function", "module_source", "RESERVED", "Plan", "make_plan"]
