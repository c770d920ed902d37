"""Kernels for building connectivity (see :mod:`neurosim.connect`).

Random wiring draws its uniforms in NumPy (from ``neurosim.rng.generator``) and hands them in, so
the kernel is a pure function of its arguments and easy to check against a plain reference.
"""
import numpy as np
from numba import njit


@njit(cache=True)
def _sift_down(a, root, end):
    while True:
        child = 2 * root + 1
        if child >= end:
            return
        if child + 1 < end and a[child] < a[child + 1]:
            child += 1
        if a[root] >= a[child]:
            return
        a[root], a[child] = a[child], a[root]
        root = child


@njit(cache=True)
def heapsort(a):
    """Sort the 1-D array ``a`` in place (ascending). Numba's ``ndarray.sort`` (quicksort) costs
    over a second to compile; this takes a fraction of that and wiring needs no more."""
    n = a.shape[0]
    for root in range(n // 2 - 1, -1, -1):
        _sift_down(a, root, n)
    for end in range(n - 1, 0, -1):
        a[0], a[end] = a[end], a[0]
        _sift_down(a, np.int64(0), end)  # an int64, not the literal 0: one compile


@njit(cache=True)
def sample_rows(counts, n_pre, skip_diag, u, indptr, indices):
    """Choose ``counts[i]`` distinct presynaptic indices for every row ``i``, without replacement.

    counts: int64 (n_post,), each <= the row's pool size (``n_pre``, or ``n_pre - 1`` where the
    diagonal is skipped). n_pre: int. skip_diag: bool, leave out ``j == i`` (rows ``i < n_pre``).
    u: float64 (sum(counts),) uniforms in [0, 1), one per draw, in row order. indptr: int64
    (n_post + 1,) row starts (cumulative counts). indices: int64 (sum(counts),) filled in place,
    sorted within each row.

    Partial Fisher-Yates over a pool of ``0..m-1`` per row (draw ``t`` swaps position ``t`` with
    ``t + floor(u * (m - t))``), undone after each row so that one scratch array serves all rows:
    O(n_pre + nnz log k) time, O(n_pre) scratch memory.
    """
    pool = np.empty(n_pre, dtype=np.int64)
    for t in range(n_pre):  # a loop, not np.arange: about 1 s less to compile
        pool[t] = t
    for i in range(counts.shape[0]):
        excl = skip_diag and i < n_pre
        m = n_pre - 1 if excl else n_pre
        k = counts[i]
        start = indptr[i]
        for t in range(k):
            j = t + np.int64(u[start + t] * (m - t))
            if j > m - 1:
                j = m - 1
            tmp = pool[t]
            pool[t] = pool[j]
            pool[j] = tmp
            v = pool[t]
            if excl and v >= i:
                v += 1
            indices[start + t] = v
        for t in range(k - 1, -1, -1):  # undo the swaps: pool is 0..n_pre-1 again
            j = t + np.int64(u[start + t] * (m - t))
            if j > m - 1:
                j = m - 1
            tmp = pool[t]
            pool[t] = pool[j]
            pool[j] = tmp
        heapsort(indices[start:start + k])
