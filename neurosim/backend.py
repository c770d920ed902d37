"""Where kernels run (CPU or CUDA) and which dtypes they use.

Dtype policy: real-valued state, weights and records are ``float64`` unless a family offers
``dtype="float32"`` to halve memory; binary units are ``int8`` (+-1 or 0/1); indices ``int64``.
"""
import functools
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

FLOAT = np.float64
SPIN = np.int8
INDEX = np.int64
BACKENDS = ("cpu", "cuda", "auto")


@functools.lru_cache(maxsize=1)
def cuda_available():
    """True when ``numba.cuda`` imports and finds a GPU (or the CUDA simulator is enabled)."""
    try:
        from numba import cuda
    except ImportError:
        return False
    try:
        return bool(cuda.is_available())
    except Exception:  # a broken driver install is the same as no GPU to us
        return False


def available():
    """Backends that work on this machine, e.g. ``("cpu",)`` or ``("cpu", "cuda")``."""
    return ("cpu", "cuda") if cuda_available() else ("cpu",)


def resolve(backend):
    """``"cpu"`` or ``"cuda"`` for a requested ``backend`` in ``{"cpu", "cuda", "auto"}``.

    ``"auto"`` takes CUDA where there is a GPU and falls back to the CPU with a warning;
    ``"cuda"`` without a GPU is an error.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}; got {backend!r}")
    if backend == "cpu":
        return "cpu"
    if cuda_available():
        return "cuda"
    if backend == "cuda":
        raise ValueError("backend='cuda' was requested but no CUDA GPU is available "
                         "(install the 'cuda' extra, or set NUMBA_ENABLE_CUDASIM=1 to simulate)")
    warnings.warn("backend='auto': no CUDA GPU found, running on the CPU", RuntimeWarning, stacklevel=3)
    return "cpu"


def float_dtype(dtype):
    """``np.float32`` or ``np.float64`` from a name or dtype; anything else is a ``ValueError``."""
    try:
        dt = np.dtype(dtype)
    except TypeError as err:
        raise ValueError(f"dtype must be float32 or float64; got {dtype!r}") from err
    if dt not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64; got {dt}")
    return dt.type


def blas_single_thread():
    """Context that limits BLAS to one thread (threadpoolctl).

    Small products between kernel calls (a mini-batch by a layer) gain nothing from BLAS
    threads, and on a busy or 2-core machine those threads fight Numba's for the cores.
    """
    return threadpool_limits(limits=1, user_api="blas")


def free_device_memory():
    """Bytes free on the current CUDA device (``inf`` under the simulator)."""
    from numba import cuda

    return cuda.current_context().get_memory_info().free


def check_device_memory(nbytes, what):
    """Refuse a CUDA run that would not fit: ``ValueError`` naming ``what``, the bytes needed
    and the bytes free, before anything is copied or launched (never a CUDA out-of-memory)."""
    free = free_device_memory()
    if nbytes > free:
        raise ValueError(f"{what} needs {int(nbytes):,} bytes of GPU memory; {int(free):,} are "
                         "free (use fewer chains/reads/neurons, a stride in the monitor, or the CPU)")
    return int(nbytes)
