"""Serial and parallel twins of one kernel, and the choice between them by a call's work.

A kernel written with ``prange`` over independent items (images, rows, blocks of units), none
of which reads what another writes, compiles twice: serially, where ``prange`` is ``range``,
and with ``parallel=True`` on Numba's threads. The two give the same bits. :func:`twins` makes
the pair; :func:`threads` says how many threads a call of some work should use, so that small
calls, which gain less than the threads' start costs (a few microseconds), stay serial, and
:func:`pick` chooses a twin by it.

Numba's threads do not inherit the caller's subnormal flushing (x86's MXCSR): a parallel kernel
that runs under :func:`~.fpenv.call_flushed` (backward passes, optimiser updates) reads
``word = control_word()`` before its ``prange`` loop and sets it in each item
(``own = control_word(); restore(word)`` ... ``restore(own)``), so that its threads flush as
the serial twin does and give its bits.

Numba's thread pool is started only where ``NUMBA_NUM_THREADS`` allows more than one thread:
a started pool would make a later ``fork`` unsafe for nothing.
"""
import types

import numba
from numba import njit


def renamed(f, name):
    """A copy of the Python function ``f`` called ``name``. Numba names a function's disk cache
    after its name and line, so two dispatchers of one function (serial and parallel) would
    share one cache and load each other's code: the first compiled wins."""
    g = types.FunctionType(f.__code__, f.__globals__, name, f.__defaults__, f.__closure__)
    g.__qualname__ = name
    return g


def twins(f, **options):
    """``(serial, parallel)``: ``f`` compiled by ``njit(cache=True, **options)`` as it is and
    with ``parallel=True`` (its ``prange`` loops on Numba's threads)."""
    serial = njit(cache=True, **options)(f)
    parallel = njit(cache=True, parallel=True, **options)(renamed(f, f.__name__ + "_parallel"))
    return serial, parallel


def pick(pair, work, threshold):
    """The parallel dispatcher of the ``(serial, parallel)`` ``pair`` where :func:`threads`
    gives more than one thread for ``work``, else the serial one."""
    return pair[1] if threads(work, threshold) > 1 else pair[0]


#: runs of items a thread for kernels that split their items into runs: the threads take the
#: runs as they come free (Numba's TBB layer), so a thread that the OS has set aside (other
#: processes on the cores) leaves most of its share to the others. Measured under load 3.5 on
#: 2 cores, attention forward and backward at d_model 128, 64 steps, batch 128: 2, 4 and 8
#: runs gave minima of 11.0, 11.1 and 10.4 ms and medians of 17.5, 19.7 and 18.7 (serial 11.7
#: and 20.1): no clear difference, the load's noise larger than any
RUNS_PER_THREAD = 4


def runs(work, threshold, items):
    """How many runs a kernel splitting ``items`` (rows, blocks) into runs should make for a
    call of ``work`` units: 1 (the serial kernel) where :func:`threads` gives one thread, else
    :data:`RUNS_PER_THREAD` a thread, at most one an item."""
    count = threads(work, threshold)
    return 1 if count == 1 else max(1, min(items, RUNS_PER_THREAD * count))


def threads(work=None, threshold=0):
    """Numba's thread count (:func:`numba.get_num_threads`) for a call of ``work`` units, or 1
    where Numba has one thread or ``work`` is below ``threshold`` (``work`` None: no bound)."""
    if numba.config.NUMBA_NUM_THREADS < 2 or (work is not None and work < threshold):
        return 1
    return numba.get_num_threads()
