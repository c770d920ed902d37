"""Work arrays kept for reuse between calls of an op.

A large fresh array is mapped from the operating system and pays a page fault per page on its
first writes; freed, it goes back. An op that makes the same large arrays at every training
step (the recurrent ops: 25-50 MB per step at hidden 128, batch 64, 100 steps) spends a
measurable share of the step there (about 1000 faults a step for the LSTM's). :func:`take`
hands out a kept array of the asked shape and dtype (contents undefined, as ``np.empty``) and
:func:`give` keeps arrays for the next call; :class:`Lease` gives its arrays back when it is
collected, so arrays that a backward pass needs go back when the graph holding them does.
Only arrays from :func:`take` may be given, and only once nothing else uses them.

The arrays kept are those a step needed at its peak anyway, so keeping them raises no peak;
:func:`release` hands them back to the operating system (e.g. after training, in a notebook).
"""
import os
import threading

import numpy as np


def _default_limit():
    """A sixth of the machine's memory, within 256 MiB .. 4 GiB: a recurrent step at hidden
    512, batch 256, 200 steps holds 420 MB arrays; under a 256 MiB limit they were never kept,
    and the step paid its page faults again (5.4 s a step; 2.6 s kept, PyTorch 3.2-3.4 s)."""
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):   # no sysconf (Windows)
        memory = 0
    return int(min(4 * 2 ** 30, max(256 * 2 ** 20, memory // 6)))


LIMIT = _default_limit()  # bytes kept at most
_lock = threading.Lock()
_free = {}                # (shape, dtype) -> [arrays]
_held = [0]


def take(shape, dtype):
    """An array of ``shape`` and ``dtype``: a kept one if there is one, else ``np.empty``."""
    key = (tuple(shape), np.dtype(dtype).str)
    with _lock:
        kept = _free.get(key)
        if kept:
            a = kept.pop()
            _held[0] -= a.nbytes
            return a
    return np.empty(shape, dtype)


def give(*arrays):
    """Keep ``arrays`` (from :func:`take`, no longer used) for later calls, within
    :data:`LIMIT` bytes (the oldest shapes are dropped first)."""
    with _lock:
        for a in arrays:
            _free.setdefault((a.shape, a.dtype.str), []).append(a)
            _held[0] += a.nbytes
        while _held[0] > LIMIT and _free:
            key = next(iter(_free))
            _held[0] -= sum(a.nbytes for a in _free.pop(key))


def release():
    """Drop every kept array (their memory goes back to the operating system); returns the
    bytes released."""
    with _lock:
        held = _held[0]
        _free.clear()
        _held[0] = 0
    return held


class Lease:
    """Holds arrays from :func:`take` and gives them back when it is collected (keep it in the
    closure of a backward function: the arrays return with the graph)."""

    __slots__ = ("arrays",)

    def __init__(self, *arrays):
        self.arrays = arrays

    def __del__(self):
        try:
            give(*self.arrays)
        except (TypeError, AttributeError):     # interpreter shutdown: module globals gone
            pass
