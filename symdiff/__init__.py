"""symdiff: a symbol-to-symbol differentiation compiler for NumPy.

Write math as expressions, strings or NumPy-style functions; ``grad`` adds the
derivative nodes to the graph; ``function`` compiles values and gradients to
plain NumPy source.
"""
from __future__ import annotations

from .errors import (ArgumentError, ArgumentTypeError, CompileError, DiffError, ParseError,
                     ShapeError, SymdiffError)
from .ir import Const, Node, Var
from .ops import FUNCTIONS as _FUNCTIONS
from . import banded as _banded  # noqa: F401  (registers the band ops with the table)
from .api import (constant, function, grad, hessian, jacobian, jvp, matrix, scalar, tensor,
                  value_and_grad, var, vector, vjp)
from .codegen import Function
from .interpret import evaluate
from .printing import format_graph, to_latex, to_text
from .rewrite import simplify

Expr = Node
__version__ = "0.1.0"

globals().update({name: fn for name, fn in _FUNCTIONS.items() if name not in globals()})

__all__ = [
    "ArgumentError", "ArgumentTypeError", "CompileError", "cache_info", "clear_cache", "Const", "DiffError", "Expr",
    "Function", "Node", "ParseError", "ShapeError", "SymdiffError", "Var", "constant",
    "evaluate", "format_graph", "function", "grad", "hessian", "jacobian", "jvp", "matrix",
    "scalar", "simplify", "tensor", "to_latex", "to_text", "value_and_grad", "var", "vector", "vjp",
    *sorted(_FUNCTIONS),
]


# Modules that sit on top of the compiler load on first use: name -> (module, attribute).
_LAZY = {"parse": ("frontend", "parse"), "to_sympy": ("sympy_bridge", "to_sympy"),
         "from_sympy": ("sympy_bridge", "from_sympy"),
         "to_networkx": ("display", "to_networkx"),
         "to_dot": ("display", "to_dot"), "explain": ("display", "explain"),
         "show": ("display", "show"), "testing": ("testing", None),
         "hvp": ("higher", "hvp")}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib
        module_name, attr = _LAZY[name]
        try:
            module = importlib.import_module(f".{module_name}", __name__)
        except ModuleNotFoundError as err:
            if err.name != f"{__name__}.{module_name}":
                raise
            raise AttributeError(f"module 'symdiff' has no attribute {name!r}") from None
        return module if attr is None else getattr(module, attr)
    raise AttributeError(f"module 'symdiff' has no attribute {name!r}")


def __dir__() -> list[str]:
    # Tab completion lists the lazily loaded names too (``import *`` does not load them).
    return sorted(set(globals()) | set(_LAZY))


def cache_info() -> dict:
    """The disk cache of ``backend="numba"`` functions: its directory, number of entries,
    bytes and size bound (``$SYMDIFF_CACHE_MAX_BYTES``)."""
    from .codegen import numba_cache
    return numba_cache.cache_info()


def clear_cache() -> int:
    """Empty the disk cache of ``backend="numba"`` functions; the number of entries
    removed."""
    from .codegen import numba_cache
    return numba_cache.clear_cache()
