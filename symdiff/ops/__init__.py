"""The op table (``OPS``: name -> Op) and the public builders (``FUNCTIONS``)."""
from .core import OPS, Case, Op
from .table import FUNCTIONS

__all__ = ["OPS", "FUNCTIONS", "Op", "Case"]
