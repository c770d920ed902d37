"""Seeds to random streams.

Every stochastic call in neurosim takes ``seed`` and turns it into explicit generator states
here: one xoroshiro128+ stream per chain, replica, cue or neuron, passed into the kernel. The
same seed then gives the same result on every run, whatever the number of threads, and on CPU
and CUDA alike (see :mod:`neurosim.kernels.rng`).
"""
import functools

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


def check(seed):
    """Refuse, with :func:`sequence`'s or :func:`to_attr`'s error, a seed that cannot be used or
    recorded, without building its ``SeedSequence`` (hashing costs ~10 us); returns ``seed``."""
    if isinstance(seed, str):
        sequence(seed)  # a string is a stored attribute, not a seed: sequence's TypeError
    to_attr(seed)
    return seed


def child(seed, key):
    """The ``key``-th child ``SeedSequence`` of ``seed`` (a tuple ``key`` for a grandchild).

    The same as the ``key``-th result of ``sequence(seed).spawn(...)``, but without spawn's
    counter: a family derives the stream of each part it builds (wiring, initial state, noise)
    by name-like numbers, so adding a part never shifts the others' streams.
    """
    ss = sequence(seed)
    key = tuple(int(k) for k in (key if isinstance(key, tuple) else (key,)))
    return np.random.SeedSequence(ss.entropy, spawn_key=ss.spawn_key + key)


def to_attr(seed):
    """``seed`` as a netCDF attribute, losslessly: ``from_attr(to_attr(s))`` draws as ``s`` does.

    An int below 2**63 stays an int; a larger int becomes its decimal string; a
    ``SeedSequence`` becomes ``"<entropy>"`` or ``"<entropy>/<k1>.<k2>..."`` (its spawn key);
    None becomes ``"none"``; a list of int seeds (a sweep's) an int array; a string is taken as already stored. Anything else is refused like :func:`sequence` refuses it.
    """
    if seed is None:
        return "none"
    if isinstance(seed, str):  # already an attribute (idempotent): checked, kept
        from_attr(seed)
        return seed
    if isinstance(seed, (list, tuple)):  # a sweep's seeds: an int array
        values = [to_attr(k) for k in seed]
        if not all(isinstance(v, int) for v in values):
            raise ValueError(f"seed: a list of seeds must hold ints below 2**63; got {seed!r}")
        return np.asarray(values, dtype=np.int64)
    if isinstance(seed, np.random.SeedSequence):
        if not isinstance(seed.entropy, (int, np.integer)):
            raise ValueError("seed: a SeedSequence made from a list of ints cannot be recorded; "
                             "give an int seed or SeedSequence(int)")
        key = ".".join(str(k) for k in seed.spawn_key)
        return f"{seed.entropy}/{key}" if key else to_attr(int(seed.entropy))
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        sequence(seed)  # raises sequence's TypeError or ValueError
    return int(seed) if seed < 2 ** 63 else str(int(seed))


def from_attr(value):
    """The seed that :func:`to_attr` stored (an int, a ``SeedSequence``, a list or None)."""
    if isinstance(value, np.ndarray) and value.ndim == 1:
        return [int(v) for v in value]
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return int(value)
    text = str(value)
    if text == "none":
        return None
    entropy, _, key = text.partition("/")
    try:
        if not key:
            return int(entropy)
        return np.random.SeedSequence(int(entropy), spawn_key=tuple(int(k) for k in key.split(".")))
    except ValueError:
        raise ValueError(f"seed attribute must be an int, 'none' or '<entropy>/<spawn key>'; "
                         f"got {value!r}") from None


def fresh():
    """A new random seed (an int below 2**63), drawn from the OS: recorded, so the run repeats."""
    return int(np.random.SeedSequence().generate_state(1, np.uint64)[0] >> np.uint64(1))


def seed64(seed):
    """One 64-bit integer derived from ``seed`` (see :func:`sequence`): the kernels' master seed."""
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, (bool, np.bool_)) and seed >= 0:
        return _int_seed64(int(seed))
    return np.uint64(sequence(seed).generate_state(1, np.uint64)[0])


@functools.lru_cache(maxsize=256)
def _int_seed64(seed):
    """:func:`seed64` of an int seed, remembered: hashing a SeedSequence costs ~10 us, a
    noticeable part of a short simulation called in a loop with the same seed."""
    return np.uint64(np.random.SeedSequence(seed).generate_state(1, np.uint64)[0])


def streams(seed, n, first=0):
    """Generator states for ``n`` independent streams: ``uint64`` array of shape ``(n, 2)``.

    Stream ``k`` is the same whatever ``n`` is, so item ``k`` of a batch draws the same numbers
    whether it runs alone (``first=k, n=1``) or with others.
    """
    n = int(n)
    if n < 1:
        raise ValueError(f"n (number of streams) must be >= 1; got {n}")
    master, first = seed64(seed), int(first)
    if n <= _CACHED_STREAMS:  # (a kernel mutates its streams: each call gets a copy)
        return _seeded(master, n, first).copy()
    return _seeded.__wrapped__(master, n, first)


#: at most this many streams are remembered per (seed, n, first) (16 bytes each)
_CACHED_STREAMS = 1024


@functools.lru_cache(maxsize=64)
def _seeded(master, n, first):
    """The ``n`` streams from ``first`` of the 64-bit ``master`` seed, remembered for a few
    calls: seeding jumps each stream 2**64 draws ahead (~0.2 us a stream), a noticeable part of
    a short run called in a loop with the same seed (50 cues: 9 us); only copies leave."""
    state = np.empty((n, 2), dtype=np.uint64)
    _k.seed_streams(state, master, np.int64(first))
    return state


def generator(seed):
    """A NumPy ``Generator`` for set-up work outside kernels (initial weights, patterns, wiring).

    Drawn from child 0 of ``seed`` (what ``spawn(1)[0]`` gives a fresh SeedSequence), so a
    SeedSequence passed in twice gives the same generator twice."""
    return np.random.default_rng(child(seed, 0))
