"""SciPy's ``dgemm`` for compiled code: ``_dgemm``, the call of the external symbol
``symdiff_dgemm``, which this module registers (by name, so machine code loaded from
the cache in a new process finds it again) as the ``dgemm`` that
``scipy.linalg.cython_blas`` exports: the BLAS Numba's own ``np.dot`` calls. The
function that calls it is printed into the generated modules (``numba_blas.GEMM``).
"""
from __future__ import annotations

import ctypes
import importlib
import re
import sys

import llvmlite.binding as ll
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from .numba_blas import NAME, preload

SYMBOL = "symdiff_dgemm"
SIGNATURE = (b"void (char *, char *, int *, int *, int *, d *, d *, int *, d *, int *, d *, "
             b"d *, int *)")


def _register() -> None:
    """Give the linker SciPy's ``dgemm`` under ``SYMBOL`` (from its C-API capsule)."""
    preload()
    blas = sys.modules.get(NAME) or importlib.import_module(NAME)
    capsule = blas.__pyx_capi__["dgemm"]
    get_name = ctypes.pythonapi.PyCapsule_GetName
    get_name.restype, get_name.argtypes = ctypes.c_char_p, [ctypes.py_object]
    get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
    get_pointer.restype = ctypes.c_void_p
    get_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
    name = get_name(capsule)
    # the 32-bit integers and doubles _dgemm passes (the typedef of double spelled "d")
    if re.sub(rb"__pyx_t_\w+_d\b", b"d", name) != SIGNATURE:
        raise ImportError(f"SciPy's dgemm is not the one expected: {name.decode()}")
    address = get_pointer(capsule, name)
    if not address:
        raise ImportError("SciPy's dgemm has no address")
    ll.add_symbol(SYMBOL, address)


_register()


@intrinsic
def _dgemm(typingctx, ta, tb, m, n, k, a, lda, b, ldb, c, ldc):
    """Fortran ``dgemm(ta, tb, m, n, k, 1.0, a, lda, b, ldb, 0.0, c, ldc)``: every
    argument by pointer (slots on the stack); the arrays are passed, not their
    addresses, so they are alive for the call."""
    if not all(isinstance(t, types.Array) and t.dtype == types.float64 for t in (a, b, c)):
        return None   # float64 arrays only
    i64 = types.int64
    sig = types.void(i64, i64, i64, i64, i64, a, i64, b, i64, c, i64)

    def codegen(context, builder, signature, args):
        i8, i32, f64 = ir.IntType(8), ir.IntType(32), ir.DoubleType()
        fnty = ir.FunctionType(ir.VoidType(), [
            i8.as_pointer(), i8.as_pointer(), i32.as_pointer(), i32.as_pointer(),
            i32.as_pointer(), f64.as_pointer(), f64.as_pointer(), i32.as_pointer(),
            f64.as_pointer(), i32.as_pointer(), f64.as_pointer(), f64.as_pointer(),
            i32.as_pointer()])
        fn = cgutils.get_or_insert_function(builder.module, fnty, SYMBOL)

        def slot(ty, value):
            p = cgutils.alloca_once(builder, ty)
            builder.store(value, p)
            return p

        def data(k):
            return context.make_array(signature.args[k])(context, builder, args[k]).data

        def small(ty, k):
            return slot(ty, builder.trunc(args[k], ty))

        builder.call(fn, [small(i8, 0), small(i8, 1), small(i32, 2), small(i32, 3),
                          small(i32, 4), slot(f64, ir.Constant(f64, 1.0)), data(5),
                          small(i32, 6), data(7), small(i32, 8),
                          slot(f64, ir.Constant(f64, 0.0)), data(9), small(i32, 10)])
        return context.get_dummy_value()
    return sig, codegen
