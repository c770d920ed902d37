"""The CUDA draws (kernels.cuda.rng) give the CPU kernels' numbers from the same streams."""
import numpy as np
import pytest
from numba import njit

from neurosim import backend, rng
from neurosim.kernels import rng as krng

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not backend.cuda_available(),
                                                   reason="no GPU and no CUDA simulator")]


@njit(cache=True)
def cpu_draws(streams, out_u, out_n, out_k, order):
    for c in range(streams.shape[0]):
        for t in range(out_u.shape[1]):
            out_u[c, t] = krng.uniform(streams, c)
            out_n[c, t] = krng.normal(streams, c)
            out_k[c, t] = krng.randint(streams, c, 7)
        krng.shuffle(streams, c, order[c])


if backend.cuda_available():
    from numba import cuda

    from neurosim.kernels.cuda import rng as crng

    @cuda.jit
    def gpu_draws(streams, out_u, out_n, out_k, order):
        c = cuda.grid(1)
        if c < streams.shape[0]:
            for t in range(out_u.shape[1]):
                out_u[c, t] = crng.uniform(streams, c)
                out_n[c, t] = crng.normal(streams, c)
                out_k[c, t] = crng.randint(streams, c, 7)
            crng.shuffle(streams, c, order, c)


def test_uniform_normal_randint_shuffle_match_the_cpu():
    m, T, n = 3, 5, 9
    want = [np.empty((m, T)), np.empty((m, T)), np.empty((m, T), np.int64),
            np.tile(np.arange(n), (m, 1))]
    got = [a.copy() for a in want]
    s_cpu, s_gpu = rng.streams(4, m), rng.streams(4, m)
    cpu_draws(s_cpu, *want)
    d = [cuda.to_device(a) for a in [s_gpu, *got]]
    gpu_draws[1, 32](*d)
    for a, b in zip(want + [s_cpu], [x.copy_to_host() for x in d[1:]] + [d[0].copy_to_host()]):
        np.testing.assert_array_equal(a, b)
