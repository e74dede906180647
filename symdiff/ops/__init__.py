"""The op table (``OPS``: name -> Op) and the public builders (``FUNCTIONS``).

Every primitive is one complete record (``core.Op``), declared in the file of its
family, with any helper it needs (batching rule, run-time helper, printers) next to it:

- ``elementwise.py``: ufunc-like ops, declared by their partials; comparisons,
  ``where``, ``clip``, ``astype``;
- ``ufuncs.py``: more ufuncs (``cbrt``, ``arctan2``, ``hypot``, inverse hyperbolics,
  rounding, ``mod``...) and ``cumsum``/``cumprod``;
- ``shape.py``: ``transpose``, ``reshape``, ``expand_dims``, ``squeeze``, broadcasts,
  ``zeros_like``, ``eye_like``;
- ``slicing.py``: ``getitem`` and its scatters ``embed`` and ``add_at``;
- ``joining.py``: ``concatenate`` (``stack``...) and its run-time-length adjoints;
- ``reductions.py``: ``sum``, ``mean``, ``prod``, ``max``, ``min``, ``logsumexp``, the
  softmax family, ``shape_size``;
- ``contractions.py``: ``matmul``, ``outer`` (``dot``, ``inner``);
- ``gather.py``: ``take`` (``x[idx]``, ``x[mask]``) and its scatter-add adjoint;
- ``einsum.py``: ``einsum`` in NumPy's notation;
- ``linalg.py``: ``trace``, ``diagonal``, ``diag``, ``inv``, ``solve``, ``det``,
  ``logdet``, ``slogdet``, ``cholesky`` (rules from the matrix identities);
- ``svd.py``: ``svdvals`` and the factors ``svd_u``, ``svd_vh`` of the reduced SVD
  (``svd``), whose rules are Townsend's (2016);
- ``banded.py``: ``band_matrix``, ``band_diagonal`` (banded Jacobians);
- ``composites.py``: public functions built from the others (``var``, ``log2``...).

``core.py`` holds the record and the type and printing helpers, ``declare.py`` what
every family uses to declare ops and export builders, ``portable.py`` the record of
an op's Array API form (``Op.portable``) and its builders; ``logistic.py`` and
``powers.py`` hold the longer bodies of the sigmoid and of the partials of ``pow``.

The families are imported here, in dependency order, so that the table is complete
whichever module is imported first.
"""
from . import (  # noqa: F401  (imported to register their ops)
    elementwise, shape, slicing, joining, reductions, ufuncs, contractions, einsum, linalg,
    svd, gather, banded, composites,
)
from .core import OPS, Case, Op
from .declare import FUNCTIONS

__all__ = ["OPS", "FUNCTIONS", "Op", "Case"]
