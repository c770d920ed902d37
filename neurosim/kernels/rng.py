"""xoroshiro128+ random streams for compiled kernels.

A stream is one row ``state[i] = (s0, s1)`` of a ``uint64`` array of shape ``(n_streams, 2)``.
The algorithm, the SplitMix64 seeding and the 2**64-step jump between streams are those of
``numba.cuda.random``, so a CPU kernel and its CUDA twin draw the same numbers from the same
state array (viewed there as ``xoroshiro128p_dtype``).
"""
import math

import numpy as np
from numba import njit, uint64

_JUMP = (np.uint64(0xBEAC0467EBA5FACB), np.uint64(0xD86B048B86AA9922))


@njit(cache=True, inline="always")
def _step(s0, s1):
    """One xoroshiro128+ step on a state held in registers: ``(draw, s0, s1)``."""
    result = s0 + s1
    s1 ^= s0
    return result, ((s0 << uint64(55)) | (s0 >> uint64(9))) ^ s1 ^ (s1 << uint64(14)), \
        (s1 << uint64(36)) | (s1 >> uint64(28))


@njit(cache=True, inline="always")
def next_u64(state, i):
    """Next raw 64-bit draw of stream ``i``; advances ``state[i]`` in place."""
    result, state[i, 0], state[i, 1] = _step(state[i, 0], state[i, 1])
    return result


@njit(cache=True, inline="always")
def _unit(draw):
    """A raw 64-bit draw as a float64 in [0, 1) (its top 53 bits)."""
    return (draw >> uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True, inline="always")
def _below(u, n):
    """``u`` in [0, 1) as an integer in ``[0, n)``."""
    k = np.int64(u * n)
    return k if k < n else n - 1


@njit(cache=True, inline="always")
def uniform(state, i):
    """Uniform float64 in [0, 1) from stream ``i`` (53 random bits)."""
    return _unit(next_u64(state, i))


@njit(cache=True, inline="always")
def randint(state, i, n):
    """Integer uniform in ``[0, n)`` from stream ``i``."""
    return _below(uniform(state, i), n)


@njit(cache=True, inline="always")
def normal(state, i):
    """Standard normal float64 from stream ``i`` (Box-Muller, two uniform draws)."""
    u1 = 1.0 - uniform(state, i)  # in (0, 1]: log is finite
    u2 = uniform(state, i)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


@njit(cache=True)
def shuffle(state, i, order):
    """Fisher-Yates shuffle of the int array ``order`` in place, drawing from stream ``i``
    (the draws of :func:`randint`, with the state kept in registers for the whole loop)."""
    s0 = state[i, 0]
    s1 = state[i, 1]
    for k in range(order.shape[0] - 1, 0, -1):
        r, s0, s1 = _step(s0, s1)
        j = _below(_unit(r), k + 1)
        tmp = order[k]
        order[k] = order[j]
        order[j] = tmp
    state[i, 0] = s0
    state[i, 1] = s1


@njit(cache=True)
def _jump(state, i):
    s0 = uint64(0)
    s1 = uint64(0)
    for w in range(2):
        for b in range(64):
            if _JUMP[w] & (uint64(1) << uint64(b)):
                s0 ^= state[i, 0]
                s1 ^= state[i, 1]
            next_u64(state, i)
    state[i, 0] = s0
    state[i, 1] = s1


@njit(cache=True)
def seed_streams(state, seed, first):
    """Fill ``state`` (n, 2) with streams ``first, first+1, ...`` of the 64-bit ``seed``.

    Stream k starts 2**64 * k draws into the SplitMix64-seeded sequence, as numba's
    ``init_xoroshiro128p_states`` does with ``subsequence_start=first``.
    """
    z = seed + uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> uint64(30))) * uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> uint64(27))) * uint64(0x94D049BB133111EB)
    z = z ^ (z >> uint64(31))
    state[0, 0] = z
    state[0, 1] = z
    for _ in range(first):
        _jump(state, np.int64(0))  # an int64, not the literal 0: one compile of _jump
    for k in range(1, state.shape[0]):
        state[k, 0] = state[k - 1, 0]
        state[k, 1] = state[k - 1, 1]
        _jump(state, k)
