"""The Markov kernels on one backend, called alike: the CPU kernels of
:mod:`neurosim.kernels.markov` on host arrays, or their CUDA twins
(:mod:`neurosim.kernels.cuda.markov`, the same names and arguments) on device copies."""
from .. import backend as _backend
from .. import config

nbytes = _backend.Device.nbytes


class Kernels(_backend.Device):
    """:class:`neurosim.backend.Device` of the Markov kernels for ``n_chains`` chains:
    ``kernels[name]`` is the kernel to call (a CUDA twin on a thread per chain, blocks of
    ``config.MARKOV_CUDA_THREADS``), ``record(shape, dtype)`` the buffer a kernel writes one
    chunk's records into (:meth:`~neurosim.backend.Device.buffer`: the previous chunk's when
    it has the same shape)."""

    def __init__(self, backend, n_chains):
        super().__init__(backend, "markov")
        self.n_chains = n_chains

    def __getitem__(self, name):
        return self.items(name, self.n_chains, config.MARKOV_CUDA_THREADS)

    def record(self, shape, dtype):
        return self.buffer("record", shape, dtype)
