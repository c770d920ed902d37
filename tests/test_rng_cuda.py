"""CUDA and CPU draw the same numbers from the same stream states (run on a GPU or under
NUMBA_ENABLE_CUDASIM=1)."""
import numpy as np
import pytest
from numba import njit

from neurosim import backend, rng
from neurosim.kernels import rng as krng

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not backend.cuda_available(), reason="no CUDA device or simulator")]


@njit
def cpu_uniforms(state, n):
    out = np.empty((state.shape[0], n))
    for i in range(state.shape[0]):
        for k in range(n):
            out[i, k] = krng.uniform(state, i)
    return out


if backend.cuda_available():
    from numba import cuda
    from numba.cuda.random import xoroshiro128p_dtype, xoroshiro128p_uniform_float64

    @cuda.jit
    def gpu_uniforms(states, out):
        i = cuda.grid(1)
        if i < out.shape[0]:
            for k in range(out.shape[1]):
                out[i, k] = xoroshiro128p_uniform_float64(states, i)


def test_cuda_uniform_stream_matches_cpu():
    state = rng.streams(11, 4)
    out = np.zeros((4, 16))
    gpu_uniforms[1, 4](state.copy().view(xoroshiro128p_dtype).ravel(), out)
    assert np.array_equal(out, cpu_uniforms(state.copy(), 16))
