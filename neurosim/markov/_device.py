"""The Markov kernels on one backend, called alike: the CPU kernels of
:mod:`neurosim.kernels.markov` on host arrays, or their CUDA twins
(:mod:`neurosim.kernels.cuda.markov`, the same names and arguments) on device copies."""
import numpy as np

from .. import backend as _backend
from .. import config
from ..kernels import markov as _k


class Kernels:
    """``kernels[name]`` is the kernel to call (a CUDA twin already given its launch grid of
    one thread per chain); ``put`` makes a kernel argument of a host array, ``empty`` a new
    one, ``record`` a chunk's record buffer, ``get`` the host array of an argument (on the
    CPU, the array itself); ``check`` refuses, before anything is copied, a CUDA run whose
    arrays would not fit on the GPU."""

    def __init__(self, backend, n_chains):
        self.cuda = None
        self.backend = backend
        self._record = None
        if backend == "cpu":
            return
        from numba import cuda

        from ..kernels.cuda import markov as ck

        threads = config.MARKOV_CUDA_THREADS
        self.cuda, self._twins = cuda, ck
        self._grid = ((n_chains + threads - 1) // threads, threads)

    def __getitem__(self, name):
        if self.cuda is None:
            return getattr(_k, name)
        return getattr(self._twins, name)[self._grid]

    def check(self, nbytes, what):
        if self.cuda is not None:
            _backend.check_device_memory(nbytes, what)

    def put(self, a):
        return a if self.cuda is None else self.cuda.to_device(np.ascontiguousarray(a))

    def empty(self, shape, dtype):
        return np.empty(shape, dtype) if self.cuda is None else self.cuda.device_array(shape, dtype)

    def record(self, shape, dtype):
        """The buffer a kernel writes one chunk's records into: the previous chunk's when it has
        the same shape (``record.Run.keep`` keeps a copy), so a run allocates at most two (the
        last chunk may be shorter) and holds one at a time on the device."""
        buf = self._record
        if buf is None or buf.shape != tuple(shape) or buf.dtype != np.dtype(dtype):
            self._record = None  # (let the old one go before the new one is made)
            buf = self._record = self.empty(shape, dtype)
        return buf

    def get(self, a):
        if self.cuda is None:
            return a
        return a.copy_to_host() if a.size else np.empty(a.shape, a.dtype)


def nbytes(*arrays):
    """Bytes of host arrays (or ``(shape, dtype)`` pairs) that a run puts on the device."""
    total = 0
    for a in arrays:
        if isinstance(a, tuple):
            total += int(np.prod(a[0], dtype=np.int64)) * np.dtype(a[1]).itemsize
        else:
            total += a.nbytes
    return total
