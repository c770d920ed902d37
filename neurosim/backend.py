"""Where kernels run (CPU or CUDA) and which dtypes they use.

Dtype policy: real-valued state, weights and records are ``float64`` unless a family offers
``dtype="float32"`` to halve memory; binary units are ``int8`` (+-1 or 0/1); indices ``int64``.
"""
import functools
import importlib
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


class Device:
    """One run's arrays and kernels on one backend, handled alike by a family.

    On ``"cpu"`` the kernels are those of ``neurosim.kernels.<module>`` and every array is the
    host array itself; on ``"cuda"`` they are the twins in ``neurosim.kernels.cuda.<module>``
    (the same names and arguments) and arrays are device copies. So a family writes its run once:
    ``dev.check(nbytes, what)`` (before anything is copied), ``a = dev.put(host)``,
    ``dev.kernel(name, blocks, threads)(a, ...)``, ``dev.get(a)``.
    """

    def __init__(self, backend, module):
        self.backend = backend
        self.cuda = None
        self.kernels = importlib.import_module(f"neurosim.kernels.{module}")
        if backend == "cuda":
            from numba import cuda

            self.cuda = cuda
            self.kernels = importlib.import_module(f"neurosim.kernels.cuda.{module}")

    def kernel(self, name, blocks=1, threads=1):
        """Kernel ``name``: the CPU function, or the CUDA twin launched on ``blocks`` x
        ``threads`` (a plain function for twins that launch themselves from the host)."""
        k = getattr(self.kernels, name)
        return k[blocks, threads] if self.cuda is not None and hasattr(k, "__getitem__") else k

    def check(self, nbytes, what):
        """Refuse a CUDA run needing ``nbytes`` (see :func:`check_device_memory`); a no-op on
        the CPU."""
        if self.cuda is not None:
            check_device_memory(nbytes, what)

    def put(self, a):
        """A kernel argument from ``a``: a host array (a device copy on CUDA), a tuple of them,
        or anything else (None, scalars, device arrays) as it is."""
        if isinstance(a, tuple):
            return tuple(self.put(v) for v in a)
        if self.cuda is None or not isinstance(a, np.ndarray):
            return a
        if a.size == 0:
            return self.cuda.device_array(a.shape, a.dtype)
        return self.cuda.to_device(np.ascontiguousarray(a))

    def empty(self, shape, dtype=np.float64):
        """A new uninitialised kernel argument."""
        return np.empty(shape, dtype) if self.cuda is None else self.cuda.device_array(shape, dtype)

    def zeros(self, shape, dtype=np.float64):
        """A new kernel argument of zeros."""
        return np.zeros(shape, dtype) if self.cuda is None else self.cuda.to_device(np.zeros(shape, dtype))

    def get(self, a, out=None):
        """The host array of kernel argument ``a`` (on the CPU, ``a`` itself), into ``out`` if
        given."""
        if self.cuda is not None and not isinstance(a, np.ndarray):
            if a.size == 0:
                host = np.empty(a.shape, a.dtype)
            else:
                return a.copy_to_host() if out is None else a.copy_to_host(out)
        else:
            host = a
        if out is None or out is host:
            return host
        out[...] = host
        return out

    @staticmethod
    def nbytes(*arrays):
        """Bytes of host arrays, ``(shape, dtype)`` pairs and ints (bytes) that a run puts on
        the device (None and device arrays count nothing)."""
        total = 0
        for a in arrays:
            if isinstance(a, tuple):
                total += int(np.prod(a[0], dtype=np.int64)) * np.dtype(a[1]).itemsize
            elif isinstance(a, (int, np.integer)):
                total += int(a)
            elif isinstance(a, np.ndarray):
                total += a.nbytes
        return total
