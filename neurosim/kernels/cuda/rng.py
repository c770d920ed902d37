"""xoroshiro128+ draws for CUDA kernels: the device twins of :mod:`neurosim.kernels.rng`.

A stream is row ``c`` of the same ``(n, 2) uint64`` array the CPU kernels use (made by
``rng.streams``), so a CUDA twin draws exactly the numbers its CPU kernel draws: the same
step, the same 53-bit uniform, the same integer and Box-Muller arithmetic. (The array is the
one ``numba.cuda.random`` would make with ``init_xoroshiro128p_states``; these functions read
it as plain ``uint64`` so that kernels and the simulator need no record dtype.)
"""
import math

from numba import cuda, int64, uint64


@cuda.jit(device=True, inline=True)
def next_u64(streams, c):
    """Next raw 64-bit draw of stream ``c``; advances ``streams[c]`` in place."""
    s0 = streams[c, 0]
    s1 = streams[c, 1]
    result = s0 + s1
    s1 ^= s0
    streams[c, 0] = ((s0 << uint64(55)) | (s0 >> uint64(9))) ^ s1 ^ (s1 << uint64(14))
    streams[c, 1] = (s1 << uint64(36)) | (s1 >> uint64(28))
    return result


@cuda.jit(device=True, inline=True)
def uniform(streams, c):
    """Uniform float64 in [0, 1) from stream ``c`` (its top 53 bits)."""
    return (next_u64(streams, c) >> uint64(11)) * (1.0 / 9007199254740992.0)


@cuda.jit(device=True, inline=True)
def below(u, n):
    """``u`` in [0, 1) as an integer in ``[0, n)``."""
    k = int64(u * n)
    return k if k < n else n - 1


@cuda.jit(device=True, inline=True)
def randint(streams, c, n):
    """Integer uniform in ``[0, n)`` from stream ``c``."""
    return below(uniform(streams, c), n)


@cuda.jit(device=True, inline=True)
def normal(streams, c):
    """Standard normal float64 from stream ``c`` (Box-Muller, as the CPU kernels draw it)."""
    u1 = 1.0 - uniform(streams, c)
    u2 = uniform(streams, c)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


@cuda.jit(device=True, inline=True)
def shuffle(streams, c, order, row):
    """Fisher-Yates shuffle of ``order[row]`` in place from stream ``c`` (the CPU's draws)."""
    for k in range(order.shape[1] - 1, 0, -1):
        j = randint(streams, c, k + 1)
        tmp = order[row, k]
        order[row, k] = order[row, j]
        order[row, j] = tmp
