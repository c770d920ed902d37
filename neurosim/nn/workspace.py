"""Work arrays kept for reuse between calls of an op.

A large fresh array is mapped from the operating system and pays a page fault per page on its
first writes; freed, it goes back. An op that makes the same large arrays at every training
step (the recurrent ops: 25-50 MB per step at hidden 128, batch 64, 100 steps) spends a
measurable share of the step there (about 1000 faults a step for the LSTM's). :func:`take`
hands out a kept array of the asked shape and dtype (contents undefined, as ``np.empty``) and
:func:`give` keeps arrays for the next call; :class:`Lease` gives its arrays back when it is
collected, so arrays that a backward pass needs go back when the graph holding them does.
Only arrays from :func:`take` may be given, and only once nothing else uses them.
"""
import threading

import numpy as np

LIMIT = 256 * 2 ** 20     # bytes kept at most
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
