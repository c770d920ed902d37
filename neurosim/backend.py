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

    ``cache``: the dict in which :meth:`const` keeps device copies of constant arrays, by name;
    a model passes its own to keep them on the device between runs (default: this Device's).
    """

    def __init__(self, backend, module, cache=None):
        self.backend = backend
        self.cuda = None
        self._buffers = {}
        self._consts = {} if cache is None else cache
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

    def items(self, name, n, threads):
        """Kernel ``name`` over ``n`` items, a thread each: the CPU function, or the CUDA twin
        on as many blocks of ``threads`` as ``n`` needs (at least one)."""
        threads = int(threads)
        return self.kernel(name, max(-(-int(n) // threads), 1), threads)

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

    def clear(self, a):
        """Set kernel argument ``a`` to zeros in place."""
        if self.cuda is None:
            a[...] = 0
        else:
            a.copy_to_device(np.zeros(a.shape, a.dtype))

    def buffer(self, name, shape, dtype=np.float64, *, host=True):
        """A kernel output kept under ``name``: the previous call's when it has the same shape
        and dtype, so a chunked run allocates at most two (the last chunk may be shorter) and
        holds one at a time on the device (``record.Run.keep`` copies what it keeps). With
        ``host=False`` a CPU call gets a new array each time (results kept without a copy)."""
        if self.cuda is None and not host:
            return np.empty(shape, dtype)
        buf = self._buffers.get(name)
        if buf is None or tuple(buf.shape) != tuple(shape) or buf.dtype != np.dtype(dtype):
            self._buffers.pop(name, None)  # (let the old one go before the new one is made)
            buf = self._buffers[name] = self.empty(shape, dtype)
        return buf

    def cached(self, name, a):
        """True when :meth:`const` holds a device copy of this very array ``a`` under ``name``."""
        hit = self._consts.get(name)
        return hit is not None and hit[0] is a

    def const(self, name, a):
        """The kernel argument of a host array ``a`` that no kernel changes (None stays None),
        kept under ``name``: on CUDA the copy made earlier of this very array object (identity,
        not value: a new array under the name is copied again), else a new copy kept for next
        time; on the CPU ``a`` itself."""
        if self.cuda is None or a is None:
            return a
        if not self.cached(name, a):
            self._consts[name] = (a, self.put(a))
        return self._consts[name][1]

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
        """Bytes of host arrays, ``(shape, dtype)`` pairs, ints (bytes) and tuples of these
        (a kernel's argument groups) that a run puts on the device (None and device arrays
        count nothing)."""
        total = 0
        for a in arrays:
            if isinstance(a, tuple) and len(a) == 2 and isinstance(a[1], (type, np.dtype)) \
                    and not isinstance(a[0], np.ndarray):
                total += int(np.prod(a[0], dtype=np.int64)) * np.dtype(a[1]).itemsize
            elif isinstance(a, tuple):
                total += Device.nbytes(*a)
            elif isinstance(a, (int, np.integer)):
                total += int(a)
            elif isinstance(a, np.ndarray):
                total += a.nbytes
        return total
