"""SciPy's BLAS for Numba's ``np.dot``, without importing ``scipy.linalg``.

Numba's compiled ``np.dot`` calls the BLAS that ``scipy.linalg.cython_blas`` exports
(its ``__pyx_capi__``), and imports that module when it compiles such a call and, in
a new process, at the first call of code loaded from a cache. Importing it imports the
package ``scipy.linalg`` first: 0.13-0.3 s, more than the rest of a warm first call.
The extension module loads on its own in ~0.03 s: ``preload()`` loads it alone and
registers it under its name, where Numba's import finds it.

A later ``import scipy.linalg`` then runs as usual; only the attribute
``scipy.linalg.cython_blas`` would be missing (the import system sets it only when it
loads the submodule itself), so a one-shot finder sets it once that package is loaded.

``GEMM`` is the product function that compiled bodies call instead of Numba's
``np.dot`` (see below); it is source text, printed into the generated modules.
"""
from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

NAME = "scipy.linalg.cython_blas"
PACKAGE = "scipy.linalg"


def preload() -> None:
    """Load SciPy's BLAS module alone when neither it nor ``scipy.linalg`` is loaded;
    anything unexpected leaves the ordinary import to do it."""
    if NAME in sys.modules or PACKAGE in sys.modules:
        return
    try:
        spec = importlib.util.find_spec("scipy")   # finds; imports nothing
        if spec is None or not spec.submodule_search_locations:
            return
        for location in spec.submodule_search_locations:
            for suffix in importlib.machinery.EXTENSION_SUFFIXES:
                path = Path(location) / "linalg" / f"cython_blas{suffix}"
                if path.is_file():
                    break
            else:
                continue
            break
        else:
            return
        loader = importlib.machinery.ExtensionFileLoader(NAME, str(path))
        module_spec = importlib.util.spec_from_file_location(NAME, path, loader=loader)
        module = importlib.util.module_from_spec(module_spec)
        loader.exec_module(module)
        if "dgemm" not in vars(module).get("__pyx_capi__", {}):
            return
    except Exception:   # another SciPy layout: the ordinary import
        return
    sys.modules[NAME] = module
    sys.meta_path.insert(0, _SetsAttribute(module))


class _SetsAttribute:
    """A finder for ``scipy.linalg`` alone, once: the package is found and loaded as
    usual, then given the preloaded module as its attribute."""

    def __init__(self, blas: ModuleType) -> None:
        self.blas = blas

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname != PACKAGE:
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is None or spec.loader is None:
            return spec
        spec.loader = _Loader(spec.loader, self.blas)
        return spec

    def invalidate_caches(self) -> None:
        pass


class _Loader:
    def __init__(self, loader: Any, blas: ModuleType) -> None:
        self.loader, self.blas = loader, blas

    def create_module(self, spec: Any) -> Any:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        # the package's own loader in its spec and __loader__, as without this finder
        module.__spec__.loader = module.__loader__ = self.loader
        self.loader.exec_module(module)
        if sys.modules.get(NAME) is self.blas and not hasattr(module, "cython_blas"):
            module.cython_blas = self.blas


# Matrix products inside a compiled body. Numba's own ``np.dot`` compiles a subroutine
# per pair of operand layouts (C, F, A: ``dot_2_mm``, ``dot_2_vm``...) with its checks
# and copies: on the 64-32-10 MLP's body, 1.5 of its 2.4 s of compiling. A body calls
# this one function instead (``Op.numba_code``; vectors as 1-row or 1-column views,
# sums over an axis as products with a row of ones), compiled once for operands of
# any layout, which reads the layout from the strides and calls SciPy's dgemm
# (``numba_dgemm.py``). Row-major ``c = a @ b`` is
# column-major ``c.T = b.T @ a.T``: an operand in C order is passed as it is ("N"),
# one in Fortran order (a transpose) as transposed ("T"); another layout (a strided
# slice), and lengths past BLAS's 32-bit integers, are multiplied by a loop.
GEMM_NAME = "_blas_gemm"
GEMM = '''\
@njit("float64[:, ::1](float64[:, :], float64[:, :], boolean)", cache=True,
      error_model="numpy", nogil=True)
def _blas_gemm(a, b, ones):
    """a @ b, a new C-ordered matrix: SciPy's dgemm (any layout it can read). ones:
    a is first filled with ones (a row of them: b's column sums)."""
    m, k = a.shape
    n = b.shape[1]
    if b.shape[0] != k:
        raise ValueError("matmul: operand lengths differ")
    if ones:   # (not np.ones: another subroutine to compile)
        for i in range(m):
            for q in range(k):
                a[i, q] = 1.0
    c = np.empty((m, n))
    ta = tb = lda = ldb = 0
    s0, s1 = a.strides
    if (k == 1 or s1 == 8) and (m == 1 or (s0 % 8 == 0 and s0 >= 8 * k)):
        ta, lda = 78, (s0 // 8 if m > 1 else k)    # "N"
    elif (m == 1 or s0 == 8) and (k == 1 or (s1 % 8 == 0 and s1 >= 8 * m)):
        ta, lda = 84, (s1 // 8 if k > 1 else m)    # "T"
    s0, s1 = b.strides
    if (n == 1 or s1 == 8) and (k == 1 or (s0 % 8 == 0 and s0 >= 8 * n)):
        tb, ldb = 78, (s0 // 8 if k > 1 else n)
    elif (k == 1 or s0 == 8) and (n == 1 or (s1 % 8 == 0 and s1 >= 8 * k)):
        tb, ldb = 84, (s1 // 8 if n > 1 else k)
    if m and n and k and ta and tb and max(m, n, k, lda, ldb) < 2**31:
        _dgemm(tb, ta, n, m, k, b, ldb, a, lda, c, n)
        return c
    for i in range(m):
        for j in range(n):
            s = 0.0
            for q in range(k):
                s += a[i, q] * b[q, j]
            c[i, j] = s
    return c'''
