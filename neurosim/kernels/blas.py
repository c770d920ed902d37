"""NumPy's own BLAS matrix product, callable from compiled kernels.

Numba's ``np.dot`` calls the BLAS that SciPy ships; NumPy's wheels carry their own build of
OpenBLAS (64-bit integers, symbols suffixed ``64_``), which here is about 1.7x faster on the
small products a recurrent kernel makes at every step (the recurrent kernels have since moved
to their own packed product, :mod:`.gemm`, 1.2-1.8x faster again; this stays for kernels that
need a general BLAS product). :func:`numpy_gemm` finds its CBLAS
``?gemm`` through NumPy's core extension module (the dynamic linker resolves the symbol in
the libraries that module loaded, so no library file name is needed), checks it on a small
product and hands it to kernels as a ctypes function; :func:`matmul` calls it, or ``np.dot``
where it was not found.
"""
import ctypes
import functools

import numpy as np
from numba import types
from numba.core.errors import TypingError
from numba.extending import overload

_ROW_MAJOR, _NO_TRANS = 101, 111     # CBLAS enumerations
_SYMBOLS = {np.float32: ("scipy_cblas_sgemm64_", "cblas_sgemm64_"),
            np.float64: ("scipy_cblas_dgemm64_", "cblas_dgemm64_")}
_SCALARS = {np.float32: ctypes.c_float, np.float64: ctypes.c_double}


def _numpy_core_library():
    """NumPy's compiled core module, opened with ctypes (it links NumPy's BLAS)."""
    try:
        from numpy._core import _multiarray_umath as core
    except ImportError:                        # NumPy < 2
        from numpy.core import _multiarray_umath as core
    return ctypes.CDLL(core.__file__)


def _multiplies(gemm, dtype):
    """Whether ``gemm`` computes a small product as NumPy does (wrong integer widths or a
    different interface would not)."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((3, 5)).astype(dtype), rng.standard_normal((5, 4)).astype(dtype)
    out = np.zeros((3, 4), dtype)
    gemm(_ROW_MAJOR, _NO_TRANS, _NO_TRANS, 3, 4, 5, 1.0, a.ctypes.data, 5, b.ctypes.data, 4,
         0.0, out.ctypes.data, 4)
    return np.allclose(out, a @ b, rtol=1e-4, atol=1e-5)


@functools.cache
def numpy_gemm(dtype):
    """NumPy's CBLAS ``sgemm`` (float32) or ``dgemm`` (float64) as a ctypes function for
    :func:`matmul`, or None where it cannot be found (any other dtype, another BLAS build)."""
    dtype = np.dtype(dtype).type
    try:
        lib = _numpy_core_library()
    except OSError:
        return None
    for name in _SYMBOLS.get(dtype, ()):
        gemm = getattr(lib, name, None)
        if gemm is None:
            continue
        i32, i64, address, scalar = ctypes.c_int32, ctypes.c_int64, ctypes.c_size_t, _SCALARS[dtype]
        gemm.argtypes = [i32, i32, i32, i64, i64, i64, scalar, address, i64, address, i64, scalar,
                         address, i64]
        gemm.restype = None
        return gemm if _multiplies(gemm, dtype) else None
    return None


def matmul(gemm, a, b, out):
    """``out = a @ b`` for C-contiguous 2-D arrays ``a`` (m, k), ``b`` (k, n), ``out`` (m, n)
    of one float dtype, through ``gemm`` (from :func:`numpy_gemm`) or, where ``gemm`` is None,
    ``np.dot``. Callable from kernels only."""
    raise NotImplementedError("matmul is called from compiled kernels")


@overload(matmul)
def _matmul(gemm, a, b, out):
    if not a.dtype == b.dtype == out.dtype:
        raise TypingError(f"matmul: a, b and out must share one dtype; got {a.dtype}, {b.dtype}, "
                          f"{out.dtype}")
    if isinstance(gemm, types.NoneType) or not all(x.layout == "C" for x in (a, b, out)):
        return lambda gemm, a, b, out: np.dot(a, b, out)
    if gemm.sig.args[6] != out.dtype:  # alpha's type: the gemm's own precision
        raise TypingError(f"matmul: a {gemm.sig.args[6]} gemm cannot multiply {out.dtype} arrays")

    def call(gemm, a, b, out):
        m, k = a.shape
        n = b.shape[1]
        if b.shape[0] != k or out.shape[0] != m or out.shape[1] != n:
            raise ValueError("matmul: shapes do not match")
        gemm(_ROW_MAJOR, _NO_TRANS, _NO_TRANS, m, n, k, out.dtype.type(1), a.ctypes.data,
             max(k, 1), b.ctypes.data, max(n, 1), out.dtype.type(0), out.ctypes.data, max(n, 1))
    return call
