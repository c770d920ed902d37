"""Seeds to random streams.

Every stochastic call in neurosim takes ``seed`` and turns it into explicit generator states
here: one xoroshiro128+ stream per chain, replica, cue or neuron, passed into the kernel. The
same seed then gives the same result on every run, whatever the number of threads, and on CPU
and CUDA alike (see :mod:`neurosim.kernels.rng`).
"""
import numpy as np

from .kernels import rng as _k

def sequence(seed):
    """``SeedSequence`` from ``seed``: an int >= 0, a ``SeedSequence``, or None (fresh entropy).

    Raises ``TypeError`` for other types and ``ValueError`` for a negative int.
    """
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if seed is None:
        return np.random.SeedSequence()
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int >= 0, a numpy SeedSequence or None; got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0; got {seed}")
    return np.random.SeedSequence(int(seed))


def seed64(seed):
    """One 64-bit integer derived from ``seed`` (see :func:`sequence`): the kernels' master seed."""
    return np.uint64(sequence(seed).generate_state(1, np.uint64)[0])


def streams(seed, n, first=0):
    """Generator states for ``n`` independent streams: ``uint64`` array of shape ``(n, 2)``.

    Stream ``k`` is the same whatever ``n`` is, so item ``k`` of a batch draws the same numbers
    whether it runs alone (``first=k, n=1``) or with others.
    """
    n = int(n)
    if n < 1:
        raise ValueError(f"n (number of streams) must be >= 1; got {n}")
    state = np.empty((n, 2), dtype=np.uint64)
    _k.seed_streams(state, seed64(seed), np.int64(first))
    return state


def generator(seed):
    """A NumPy ``Generator`` for set-up work outside kernels (initial weights, patterns, wiring)."""
    return np.random.default_rng(sequence(seed).spawn(1)[0])
