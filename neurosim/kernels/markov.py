"""Compiled kernels for Markov chains (family MC).

Transition rows are sampled in O(1) with Walker/Vose alias tables: a draw ``u`` in [0, 1) picks
slot ``k = floor(u * m)`` of an ``m``-slot row and keeps it when the fractional part of ``u * m``
is below ``prob[k]``, else takes ``alias[k]``. Sparse rows (CSR) with at most ``SCAN_MAX``
non-zeros are sampled instead by a linear scan of their cumulative sums, which is faster there.

Layout: dense tables ``prob`` (n, n) float64 and ``alias`` (n, n) int32 (target columns),
packed for simulation into one ``uint64`` (n, n) table (32-bit threshold and alias: one memory
look-up per step); CSR tables share the matrix's ``indptr`` and hold per non-zero ``cdf`` (row
cumulative sums), ``prob`` and ``alias`` (target columns). Chains run in ``prange`` over groups
of chains, chain ``c`` drawing from stream row ``c`` of ``states`` (see
:mod:`neurosim.kernels.rng`).

One long chain is bound by memory latency, not arithmetic: each step's table look-up depends on
the previous step's result, and a 1000-state table (8 MB) lives beyond the L2 cache.
:func:`run_dense_one` therefore draws its random numbers a few steps ahead (the slots do not
depend on the path) and prefetches the entries that the path will read if it keeps the slot it
drew one step earlier, or keeps it two steps earlier and then takes that entry's alias. The path
is the same, draw for draw, as with :func:`run_dense`.
"""
import math

import numpy as np
from numba import njit, prange, uint64

from .prefetch import prefetch2
from .rng import next_u64, uniform

SCAN_MAX = 16  # CSR rows with at most this many non-zeros are sampled by a cumulative-sum scan


@njit(cache=True)
def _alias_row(p, prob, alias, cols, small, large):
    """Vose's alias table for one row ``p`` (m,) summing to 1; ``cols`` maps slots to states."""
    m = p.shape[0]
    ns = 0
    nl = 0
    best = 0
    for k in range(m):
        prob[k] = p[k] * m
        if p[k] > p[best]:
            best = k
        if prob[k] < 1.0:
            small[ns] = k
            ns += 1
        else:
            large[nl] = k
            nl += 1
    while ns > 0 and nl > 0:
        ns -= 1
        s = small[ns]
        g = large[nl - 1]
        alias[s] = cols[g]
        prob[g] = (prob[g] + prob[s]) - 1.0
        if prob[g] < 1.0:
            nl -= 1
            small[ns] = g
            ns += 1
    for t in range(nl):  # what is left is 1 up to rounding
        g = large[t]
        prob[g] = 1.0
        alias[g] = cols[g]
    for t in range(ns):
        s = small[t]
        if p[s] > 0.0:
            prob[s] = 1.0
            alias[s] = cols[s]
        else:  # a zero-probability slot must never be kept: send it to the row's mode
            prob[s] = 0.0
            alias[s] = cols[best]


@njit(cache=True)
def dense_tables(P, prob, alias):
    """Fill alias tables ``prob`` (n, n) float64 and ``alias`` (n, n) int32 for the rows of ``P``."""
    n = P.shape[0]
    m = P.shape[1]
    cols = np.arange(m)
    small = np.empty(m, np.int64)
    large = np.empty(m, np.int64)
    a = np.empty(m, np.int64)
    for i in range(n):
        _alias_row(P[i], prob[i], a, cols, small, large)
        for k in range(m):
            alias[i, k] = a[k]


@njit(cache=True)
def csr_tables(indptr, indices, data, cdf, prob, alias):
    """Fill per-non-zero ``cdf``, ``prob`` and ``alias`` (target columns) for a CSR matrix."""
    n = indptr.shape[0] - 1
    widest = 0
    for i in range(n):
        widest = max(widest, indptr[i + 1] - indptr[i])
    small = np.empty(widest, np.int64)
    large = np.empty(widest, np.int64)
    al = np.empty(widest, np.int64)
    for i in range(n):
        a = indptr[i]
        b = indptr[i + 1]
        m = b - a
        if m == 0:
            continue
        acc = 0.0
        for p in range(a, b):
            acc += data[p]
            cdf[p] = acc
        cdf[b - 1] = 1.0  # the last slot catches rounding
        _alias_row(data[a:b], prob[a:b], al, indices[a:b], small, large)
        for k in range(m):
            alias[a + k] = al[k]


@njit(cache=True)
def pack_dense(prob, alias, table):
    """Pack dense alias tables into one ``uint64`` (n, n) table: the keep-threshold
    ``floor(prob * 2**32)`` (capped at 2**32 - 1) in the high 32 bits, the alias in the low 32.
    One look-up per step instead of two; the probabilities are kept to 2**-32."""
    for i in range(prob.shape[0]):
        for k in range(prob.shape[1]):
            thr = prob[i, k] * 4294967296.0
            t = uint64(4294967295) if thr >= 4294967295.0 else uint64(thr)
            table[i, k] = (t << uint64(32)) | uint64(alias[i, k])


@njit(cache=True)
def dense_packed(P, table):
    """:func:`dense_tables` then :func:`pack_dense` row by row, into ``table`` (n, n) uint64:
    the same table without the (n, n) ``prob`` and ``alias`` arrays in between (a fifth of the
    memory a dense chain's first simulation takes)."""
    m = P.shape[1]
    cols = np.arange(m)
    small = np.empty(m, np.int64)
    large = np.empty(m, np.int64)
    a = np.empty(m, np.int64)
    prob = np.empty((1, m))
    alias = np.empty((1, m), np.int32)
    for i in range(P.shape[0]):
        _alias_row(P[i], prob[0], a, cols, small, large)
        for k in range(m):
            alias[0, k] = a[k]
        pack_dense(prob, alias, table[i:i + 1])


@njit(cache=True, inline="always")
def _step_dense(table, x, state, c):
    """One step from state ``x`` with a packed table: the high 32 bits of a draw pick the slot
    (multiply-shift), its low 32 bits are the coin against the slot's threshold."""
    r = next_u64(state, c)
    k = np.int64(((r >> uint64(32)) * uint64(table.shape[1])) >> uint64(32))
    e = table[x, k]
    other = np.int64(e & uint64(0xFFFFFFFF))  # a select, not a branch: look-ups of chains
    return k if (r & uint64(0xFFFFFFFF)) < (e >> uint64(32)) else other  # in lockstep overlap


@njit(cache=True, inline="always")
def _step_csr(indptr, indices, cdf, prob, alias, x, state, c):
    a = indptr[x]
    m = indptr[x + 1] - a
    if m <= SCAN_MAX:
        u = uniform(state, c)
        p = a
        last = a + m - 1
        while p < last and cdf[p] <= u:
            p += 1
        return np.int64(indices[p])
    v = uniform(state, c) * m
    k = np.int64(v)
    if k >= m:
        k = m - 1
    other = np.int64(alias[a + k])
    return np.int64(indices[a + k]) if v - k < prob[a + k] else other


GROUP = 8  # chains stepped in lockstep by one thread: their table look-ups overlap in memory


@njit(parallel=True, cache=True)
def run_dense(table, x, n_steps, every, states, out):
    """Advance chains ``x`` (n_chains,) int64 by ``n_steps`` steps of the dense chain (packed
    table from :func:`pack_dense`), in place.

    After each ``every``-th step of this call the state goes to ``out[c, j]`` (``out`` has shape
    (n_chains, n_steps // every)). Chain ``c`` draws from stream ``states[c]`` only, so results do
    not depend on the grouping of chains (``GROUP`` per thread, stepped in lockstep so that
    their memory accesses overlap) nor on the number of threads.
    """
    n = x.shape[0]
    for g in prange((n + GROUP - 1) // GROUP):
        lo = g * GROUP
        m = min(GROUP, n - lo)
        s = x[lo:lo + m].copy()
        j = 0
        t = 0
        for _ in range(n_steps):
            for c in range(m):
                s[c] = _step_dense(table, s[c], states, lo + c)
            t += 1
            if t == every:
                for c in range(m):
                    out[lo + c, j] = s[c]
                j += 1
                t = 0
        x[lo:lo + m] = s


_RING = 32  # draws held ahead by run_dense_one (a power of 2 above _AHEAD1 + 1)
_AHEAD1 = 24  # steps ahead at which the "kept one step earlier" entry is prefetched
_AHEAD2 = 12  # steps ahead at which the "kept, then alias" entry is prefetched


@njit(cache=True)
def run_dense_one(table, x, n_steps, every, states, out):
    """:func:`run_dense` for one chain (``x`` (1,), stream ``states[0]``) recording into the 1-D
    ``out`` (n_steps // every,): the same draws and the same path, with look-ups prefetched.

    Step ``t`` reads ``table[s_t, k_t]`` (``k_t``: slot of draw ``t``). When step ``t - 1`` kept
    its slot, ``s_t = k_{t-1}``; when step ``t - 2`` kept and step ``t - 1`` took the alias,
    ``s_t = alias(table[k_{t-2}, k_{t-1}])``. Both candidates are known before the path gets
    there (the slots come from the draws alone), so their entries are prefetched ``_AHEAD1`` and
    ``_AHEAD2`` steps ahead; only after two aliases in a row does a step wait on memory.
    Draws are made ``_AHEAD1 + 1`` steps ahead but never past ``n_steps``, so the stream ends
    where :func:`run_dense` leaves it.
    """
    m = np.uint64(table.shape[1])
    lo32 = uint64(0xFFFFFFFF)
    rr = np.zeros(_RING, np.uint64)  # draw t at t % _RING
    kk = np.zeros(_RING, np.int64)  # its slot
    for i in range(min(n_steps, _AHEAD1 + 1)):
        v = next_u64(states, 0)
        rr[i] = v
        kk[i] = np.int64(((v >> uint64(32)) * m) >> uint64(32))
    s = x[0]
    j = 0
    t = 0
    for i in range(n_steps):
        a = i + _AHEAD1 + 1
        if a < n_steps:
            v = next_u64(states, 0)
            ka = np.int64(((v >> uint64(32)) * m) >> uint64(32))
            rr[a & (_RING - 1)] = v
            kk[a & (_RING - 1)] = ka
            prefetch2(table, kk[(a - 1) & (_RING - 1)], ka)  # kept at step a - 1
        a = i + _AHEAD2 + 1
        if a < n_steps:  # kept at a - 2, alias at a - 1 (that entry was prefetched above)
            w = table[kk[(a - 2) & (_RING - 1)], kk[(a - 1) & (_RING - 1)]]
            prefetch2(table, np.int64(w & lo32), kk[a & (_RING - 1)])
        q = i & (_RING - 1)
        k = kk[q]
        e = table[s, k]
        other = np.int64(e & lo32)
        s = k if (rr[q] & lo32) < (e >> uint64(32)) else other
        t += 1
        if t == every:
            out[j] = s
            j += 1
            t = 0
    x[0] = s


@njit(parallel=True, cache=True)
def run_csr(indptr, indices, cdf, prob, alias, x, n_steps, every, states, out):
    """As :func:`run_dense` for a CSR chain with tables from :func:`csr_tables`."""
    n = x.shape[0]
    for g in prange((n + GROUP - 1) // GROUP):
        lo = g * GROUP
        m = min(GROUP, n - lo)
        s = x[lo:lo + m].copy()
        j = 0
        t = 0
        for _ in range(n_steps):
            for c in range(m):
                s[c] = _step_csr(indptr, indices, cdf, prob, alias, s[c], states, lo + c)
            t += 1
            if t == every:
                for c in range(m):
                    out[lo + c, j] = s[c]
                j += 1
                t = 0
        x[lo:lo + m] = s


@njit(cache=True)
def sample_initial(cdf, n, states, x):
    """Draw ``x[c]`` from the distribution with cumulative sums ``cdf`` (n,) for every chain."""
    for c in range(x.shape[0]):
        u = uniform(states, c)
        lo = 0
        hi = n - 1
        while lo < hi:  # first index with cdf > u
            mid = (lo + hi) // 2
            if cdf[mid] > u:
                hi = mid
            else:
                lo = mid + 1
        x[c] = lo


@njit(cache=True)
def count_transitions(seq, n_states, counts):
    """Add the transitions of the int sequence ``seq`` to ``counts`` (n, n); negative = gap."""
    for t in range(seq.shape[0] - 1):
        a = seq[t]
        b = seq[t + 1]
        if a >= 0 and b >= 0:
            counts[a, b] += 1.0


@njit(cache=True)
def power_stationary(indptr, indices, data, pi, tol, max_iter):
    """Power iteration ``pi <- pi (I + P) / 2`` (the lazy chain, so periodic chains converge too)
    until the L1 change is below ``tol``; ``pi`` (n,) is updated in place. Returns iterations.

    ``indptr, indices, data`` are the CSR arrays of the *transpose* ``P^T``, so each new entry
    is a gather ``sum_i P[i, j] pi[i]`` (sequential writes, no scattered read-modify-writes).
    """
    n = pi.shape[0]
    nxt = np.empty(n)
    for it in range(max_iter):
        diff = 0.0
        total = 0.0
        for j in range(n):
            acc = 0.0
            for p in range(indptr[j], indptr[j + 1]):
                acc += data[p] * pi[indices[p]]
            v = 0.5 * (pi[j] + acc)
            diff += abs(v - pi[j])
            nxt[j] = v
            total += v
        for j in range(n):
            pi[j] = nxt[j] / total
        if diff < tol:
            return it + 1
    return max_iter


@njit(parallel=True, cache=True)
def gillespie(indptr, indices, cdf, prob, alias, rates, x, t_last, t_next, duration, grid_dt, k0,
              n_grid, states, grid, occupancy, jumps):
    """Event-driven (Gillespie) runs of a continuous-time chain over ``[0, duration]``, one
    stretch of the time grid per call: grid points ``k0 .. k0 + grid.shape[1] - 1`` of
    ``n_grid`` (point ``k`` at time ``k * grid_dt``).

    ``rates`` (n,) are the exit rates; the jump chain is a CSR matrix with tables from
    :func:`csr_tables`. Chain ``c`` is in state ``x[c]`` since its last jump at ``t_last[c]``,
    its next jump drawn for ``t_next[c]`` (NaN: not drawn yet; start with NaN and 0). It writes
    its state at the grid points into ``grid[c, :]``, adds the time spent in each state to
    ``occupancy[c, :]`` and its jumps to ``jumps[c]``, and leaves ``x``, ``t_last``, ``t_next``
    for the next call. A call stops a chain at the end of its stretch (every jump processed is
    at or before the stretch's last grid point), so successive calls draw, jump and add up
    exactly as one call over the whole grid does; the call holding the last grid point runs
    each chain to ``duration``.
    """
    k_end = k0 + grid.shape[1]
    last = k_end >= n_grid
    for c in prange(x.shape[0]):
        s = x[c]
        t = t_last[c]
        t_nx = t_next[c]
        k = k0
        while True:
            if math.isnan(t_nx):
                q = rates[s]
                t_nx = t - math.log(1.0 - uniform(states, c)) / q if q > 0.0 else math.inf
            while k < k_end and k * grid_dt < t_nx:
                grid[c, k - k0] = s
                k += 1
            if k == k_end and not last:
                break  # the stretch is full; the drawn jump waits for the next call
            if t_nx >= duration:
                occupancy[c, s] += duration - t
                while k < k_end:  # grid points beyond duration by rounding: the last state
                    grid[c, k - k0] = s
                    k += 1
                t = duration
                t_nx = math.inf
                break
            occupancy[c, s] += t_nx - t
            s = _step_csr(indptr, indices, cdf, prob, alias, s, states, c)
            jumps[c] += 1
            t = t_nx
            t_nx = math.nan
        x[c] = s
        t_last[c] = t
        t_next[c] = t_nx
