"""Hopfield network kernels: asynchronous and synchronous event-based sweeps, initial fields,
Storkey learning, modern (dense associative memory) retrieval.

Conventions shared by the CPU kernels and their CUDA twins (``kernels.cuda.hopfield``):

- ``S`` (m, n) ``int8`` states of +-1, one row per cue, updated in place.
- ``H`` (m, n) local fields ``H[c] = W @ S[c]`` (in kernel units, see ``W2T``), kept up to date
  in place: a flip of unit ``i`` to ``s`` adds ``s * W2T[i]``. ``float64``, or an integer dtype
  when the weights are integers (Hebbian counts: ``int16`` when the largest row sum of
  ``|W|`` fits, which bounds every field of every state, else ``int32``: exact, and 2-8x more
  SIMD lanes per flip than ``float64``).
- ``W2T`` (n, n): twice the transposed weights, ``2 W.T`` (row ``i`` is twice column ``i`` of
  ``W``), zero diagonal, ``float64`` or an integer dtype (``int8``/``int16`` Hebbian counts
  ``2 X^T X``, so that every field is an exact integer); ``t`` is the temperature in those
  kernel units (the family divides by the weights' scale).
- ``XB`` (P, w) ``uint64``: stored patterns packed into bits (:func:`pack_bits`, 1 for +1,
  ``w = ceil(n / 64)``); ``SB`` (m, w) the states packed alike, one bit toggled per flip.
  ``Q`` (m, P) ``int64`` overlap counts ``Q[c, p] = sum_i X[p, i] S[c, i]
  = n - 2 popcount(XB[p] xor SB[c])``, recomputed exactly from the bits at every record.
- ``streams`` (m, 2) ``uint64``: one xoroshiro128+ stream per cue (``neurosim.rng.streams``).

The CUDA twin ``kernels.cuda.hopfield.sweeps`` takes the same arguments in the same order (as
device arrays) and gives the same values bit for bit.
- ``t``: temperature (in the kernel units of ``W2T``); ``t == 0`` is the deterministic rule
  ``s_i = +1 if h_i >= 0 else -1``, ``t > 0`` Glauber's heat bath
  ``P(s_i = +1) = 1 / (1 + exp(-2 h_i / t))`` (one uniform draw per update).
- ``converged`` (m,) ``bool`` and ``used`` (m,) ``int64`` (sweeps used): a cue stops after the
  first sweep in which no unit changed (that sweep counts); stopped cues are left untouched.
- Records for the sweeps of one call: ``rec_S`` (m, n_sweeps, k) ``int8`` of the units
  ``rec_idx`` (k may be 0), ``rec_E`` (m, n_sweeps) energy ``-1/2 s.h`` in kernel units,
  ``rec_Q`` (m, n_sweeps, P) overlap counts. Slot ``k`` holds sweep ``used_before + k + 1``;
  slots after a cue stops are left unwritten (the caller carries the final state forward).
"""
import math

import numpy as np
from numba import njit, prange, uint64

from .prefetch import prefetch2
from .rng import shuffle, uniform

_AHEAD = 8  # units ahead in a sweep's order whose pattern column sweeps_low_rank prefetches


@njit(cache=True, inline="always")
def _decide(h, t, state, c):
    """New spin (+1/-1) for field ``h`` at temperature ``t`` (draws only when ``t > 0``)."""
    if t == 0.0:
        return np.int8(1) if h >= 0.0 else np.int8(-1)
    p = 1.0 / (1.0 + math.exp(-2.0 * h / t))
    return np.int8(1) if uniform(state, c) < p else np.int8(-1)


@njit(cache=True, inline="always")
def _energy(s, h):
    """``-1/2 s.h`` in kernel units, summed in unit order (the start and the records agree)."""
    e = 0.0
    for i in range(s.shape[0]):
        e += s[i] * h[i]
    return -0.5 * float(e)


@njit(cache=True, inline="always")
def _popcount(x):
    """Set bits of a ``uint64`` (the SWAR sum that LLVM turns into one ``popcnt``)."""
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return (x * np.uint64(0x0101010101010101)) >> np.uint64(56)


@njit(cache=True, inline="always")
def _overlaps(XB, bits, n, q):
    """Overlap counts ``q[p] = n - 2 popcount(XB[p] xor bits)`` of one packed state of ``n``
    units with every packed pattern."""
    for p in range(XB.shape[0]):
        differ = np.uint64(0)
        for w in range(bits.shape[0]):
            differ += _popcount(XB[p, w] ^ bits[w])
        q[p] = n - 2 * np.int64(differ)


@njit(cache=True, inline="always")
def _record(c, k, XB, S, SB, H, Q, rec_idx, rec_S, rec_E, rec_Q):
    """Write cue ``c``'s state, energy and overlap counts (brought up to date in ``Q``) into
    record slot ``k``."""
    rec_E[c, k] = _energy(S[c], H[c])
    for j in range(rec_idx.shape[0]):
        rec_S[c, k, j] = S[c, rec_idx[j]]
    _overlaps(XB, SB[c], S.shape[1], Q[c])
    for p in range(Q.shape[1]):
        rec_Q[c, k, p] = Q[c, p]


@njit(cache=True, inline="always")
def _flip(i, new, s, bits, h, W2T):
    """Set unit ``i`` of one cue to ``new``: its bit toggles, its fields move by ``+-W2T[i]``."""
    s[i] = new
    bits[i >> 6] ^= np.uint64(1) << np.uint64(i & 63)
    w = W2T[i]
    if new > 0:
        for j in range(h.shape[0]):
            h[j] += w[j]
    else:
        for j in range(h.shape[0]):
            h[j] -= w[j]


@njit(cache=True)
def _sweeps_cue(c, W2T, XB, S, SB, H, Q, streams, order, n_sweeps, t, sync, converged, used,
                rec_idx, rec_S, rec_E, rec_Q):
    """``n_sweeps`` sweeps of cue ``c`` (one row of every per-cue array)."""
    n = S.shape[1]
    s = S[c]
    bits = SB[c]
    h = H[c]
    buf = order[c]
    for k in range(n_sweeps):
        if converged[c]:
            break
        flips = 0
        if sync:
            # every unit decides from the fields of the previous state; then the flips apply
            for i in range(n):
                new = _decide(h[i], t, streams, c)
                if new != s[i]:
                    buf[flips] = i
                    flips += 1
            for f in range(flips):
                i = buf[f]
                _flip(i, -s[i], s, bits, h, W2T)
        else:
            for i in range(n):
                buf[i] = i
            shuffle(streams, c, buf)
            for u in range(n):
                i = buf[u]
                new = _decide(h[i], t, streams, c)
                if new != s[i]:
                    flips += 1
                    _flip(i, new, s, bits, h, W2T)
        used[c] += 1
        if flips == 0:
            converged[c] = True
        _record(c, k, XB, S, SB, H, Q, rec_idx, rec_S, rec_E, rec_Q)


@njit(parallel=True, cache=True)
def sweeps(W2T, XB, S, SB, H, Q, streams, order, n_sweeps, t, sync, converged, used,
           rec_idx, rec_S, rec_E, rec_Q):
    """Run ``n_sweeps`` sweeps on every running cue (cues in parallel, one stream each).

    Asynchronous (``sync`` False): each sweep visits all ``n`` units in a fresh random order,
    ``order[c]`` ((m, n) ``int64`` scratch) reset to ``0..n-1`` and Fisher-Yates shuffled from
    stream ``c``; each unit decides from the current fields. Synchronous (``sync`` True): every
    unit decides, in index order, from the fields of the previous state; the flips are then
    applied together. Either way the fields change only when a unit flips (O(n) per flip, no
    matrix product), and the overlap counts are recounted from the bits once per sweep
    (O(P n / 64)). See the module docstring for the arrays; all are updated in place.
    """
    for c in prange(S.shape[0]):  # c as uint64, its type in the parallel loop: one compile, not two
        _sweeps_cue(uint64(c), W2T, XB, S, SB, H, Q, streams, order, n_sweeps, t, sync, converged, used,
                    rec_idx, rec_S, rec_E, rec_Q)


@njit(cache=True, inline="always")
def _energy_of_counts(q, n):
    """``-1/2 s.h`` of Hebbian counts from the overlap counts ``q`` (P,) of a state of ``n``
    units: ``s.h = sum_p q_p^2 - P n`` (exact integers, the value :func:`_energy` sums)."""
    e = np.int64(0)
    for p in range(q.shape[0]):
        e += np.int64(q[p]) * np.int64(q[p])
    return -0.5 * float(e - np.int64(q.shape[0]) * np.int64(n))


@njit(cache=True, inline="always")
def _field_low_rank(XT, q, i, s_i):
    """Field of unit ``i`` from the overlap counts ``q`` (P,) int16 of Hebbian counts
    ``W2T = 2 (X^T X - P I)``: ``sum_p X[p, i] q[p] - P s_i`` (``XT`` (n, P) int8 = ``X.T``),
    the exact integer that the kept fields ``H`` hold. Products of int16 summed in int32 (the
    casts say so: LLVM then multiplies-and-adds int16 pairs, 3-4x faster than in int64)."""
    x = XT[i]
    acc = np.int32(0)
    for p in range(x.shape[0]):
        acc = np.int32(acc + np.int32(np.int16(x[p]) * q[p]))
    return acc - np.int32(x.shape[0]) * np.int32(s_i)


@njit(cache=True, inline="always")
def _count_flip(i, new, q, XT):
    """Unit ``i`` turned to ``new``: each overlap count moves by ``2 new X[p, i]``."""
    x = XT[i]
    d = np.int16(2 * new)
    for p in range(q.shape[0]):
        q[p] = np.int16(q[p] + d * x[p])


@njit(cache=True, inline="always")
def _fields_of_counts(X, q, s, h):
    """All fields ``h = X^T q - P s`` of Hebbian counts (``X`` (P, n) int8), row by row of ``X``
    (streamed, in ``h``'s dtype: partial sums may wrap, the final fields are exact)."""
    P = X.shape[0]
    for j in range(h.shape[0]):
        h[j] = h.dtype.type(-P * s[j])
    for p in range(P):
        qp = h.dtype.type(q[p])
        x = X[p]
        for j in range(h.shape[0]):
            h[j] = h.dtype.type(h[j] + x[j] * qp)


@njit(cache=True, inline="always")
def _fixed(h, s):
    """At temperature 0: does every unit keep its state under its field ``h``?"""
    for i in range(h.shape[0]):
        if (h[i] >= 0) != (s[i] > 0):
            return False
    return True


_FIELD_FLIPS = 24  # sweeps_low_rank keeps the fields (O(n) a flip) while a sweep flips at most this


@njit(cache=True)
def _sweeps_cue_low_rank(c, X, XT, W2T, S, SB, H, Q, streams, order, n_sweeps, t, sync, converged,
                         used, rec_idx, rec_S, rec_E, rec_Q, q):
    """:func:`_sweeps_cue` for Hebbian counts, keeping the overlap counts ``q`` (P,) int16 (the
    cue's ``Q`` row) up to date (O(P) a flip) and deciding from them (O(P) a decision) while
    sweeps flip many units; once a sweep flips at most ``_FIELD_FLIPS``, the next recomputes
    the fields from the counts (one pass over ``X``) and decides from them (O(1) a decision,
    O(n) a flip, as :func:`_sweeps_cue`), back to the counts if it flips more."""
    n = S.shape[1]
    s = S[c]
    bits = SB[c]
    h = H[c]
    buf = order[c]
    last = XT.shape[1] - 1
    for p in range(XT.shape[1]):
        q[p] = np.int16(Q[c, p])
    before = n  # flips of the previous sweep (none yet: decide from the counts)
    for k in range(n_sweeps):
        if converged[c]:
            break
        flips = 0
        fields = before <= n // 4 and not sync  # (a sweep flipping more: the next one will too)
        if fields:
            _fields_of_counts(X, q, s, h)
        if sync:
            for i in range(n):
                new = _decide(_field_low_rank(XT, q, i, s[i]), t, streams, c)
                if new != s[i]:
                    buf[flips] = i
                    flips += 1
            for f in range(flips):
                i = buf[f]
                s[i] = -s[i]
                bits[i >> 6] ^= np.uint64(1) << np.uint64(i & 63)
                _count_flip(i, s[i], q, XT)
        elif fields and t == 0.0 and _fixed(h, s):
            pass  # a fixed point: the sweep flips nothing in any order, so its order is not
            # drawn (the cue stops here and its stream is not used again)
        else:
            for i in range(n):
                buf[i] = i
            shuffle(streams, c, buf)
            for u in range(n):
                if not fields and u + _AHEAD < n:  # the order is known: fetch a coming column
                    ahead = buf[u + _AHEAD]
                    prefetch2(XT, ahead, 0)
                    prefetch2(XT, ahead, last)
                i = buf[u]
                hi = np.int32(h[i]) if fields else _field_low_rank(XT, q, i, s[i])
                new = _decide(hi, t, streams, c)
                if new != s[i]:
                    flips += 1
                    if fields:
                        _flip(i, new, s, bits, h, W2T)
                        fields = flips <= _FIELD_FLIPS  # many flips: back to the counts
                    else:
                        s[i] = new
                        bits[i >> 6] ^= np.uint64(1) << np.uint64(i & 63)
                    _count_flip(i, new, q, XT)
        before = flips
        used[c] += 1
        if flips == 0:
            converged[c] = True
        for p in range(XT.shape[1]):
            Q[c, p] = q[p]
            rec_Q[c, k, p] = q[p]
        rec_E[c, k] = _energy_of_counts(Q[c], n)
        for j in range(rec_idx.shape[0]):
            rec_S[c, k, j] = s[rec_idx[j]]


@njit(parallel=True, cache=True)
def sweeps_low_rank(X, XT, W2T, S, SB, H, Q, streams, order, n_sweeps, t, sync, converged, used,
                    rec_idx, rec_S, rec_E, rec_Q):
    """:func:`sweeps` for Hebbian counts ``W2T = 2 (X^T X - P I)`` with few patterns (CPU
    only): the same decisions, draws, records and final ``S``, ``SB``, ``Q``, deciding from the
    overlap counts ``Q`` (kept up to date, O(P) per flip; ``XT`` (n, P) int8 = ``X.T``) while
    sweeps flip many units, and from the fields ``H`` (scratch here, recomputed from the counts)
    once they flip few (see :func:`_sweeps_cue_low_rank`): O(n) per flip only then.

    ``n < 2**15`` (the counts fit int16) and ``n P < 2**31`` (the fields fit int32).
    """
    for c in prange(S.shape[0]):
        q = np.empty(XT.shape[1], np.int16)
        _sweeps_cue_low_rank(uint64(c), X, XT, W2T, S, SB, H, Q, streams, order, n_sweeps, t, sync,
                             converged, used, rec_idx, rec_S, rec_E, rec_Q, q)


@njit(cache=True, inline="always")
def _pack_row(s, out):
    """Bit ``b`` of word ``w`` of ``out`` (uint64) is set where ``s[64 w + b] > 0``; the
    padding bits of the last word stay 0."""
    n = s.shape[0]
    for w in range(out.shape[0]):
        word = np.uint64(0)
        for b in range(min(64, n - 64 * w)):
            if s[64 * w + b] > 0:
                word |= np.uint64(1) << np.uint64(b)
        out[w] = word


@njit(cache=True)
def pack_bits(S, out):
    """Rows of +-1 ``S`` (m, n) as bits: ``out`` (m, ceil(n / 64)) uint64, 1 for +1."""
    for r in range(S.shape[0]):
        _pack_row(S[r], out[r])


@njit(parallel=True, cache=True)
def start(X, XB, W2T, low_rank, S, SB, Q, H, E):
    """Packed states, overlap counts, local fields and energies of the states ``S`` (m, n),
    cues in parallel.

    ``SB[c]``: ``S[c]`` packed as :func:`pack_bits` packs the patterns into ``XB``;
    ``Q[c, p] = sum_i X[p, i] S[c, i] = n - 2 popcount(XB[p] xor SB[c])``; then the fields
    ``H[c]`` in kernel units
    (``1/2 W2T.T S[c]``): with ``low_rank`` (Hebbian counts ``W2T = 2 (X^T X - P I)``) as
    ``X^T Q[c] - P S[c]``, O(n P) per cue instead of O(n^2); otherwise from the rows of
    ``W2T``. ``E[c]``: ``-1/2 S[c].H[c]`` summed in unit order, as the sweeps record it.
    """
    P, n = X.shape
    for c in prange(S.shape[0]):
        s = S[c]
        h = H[c]
        _pack_row(s, SB[c])
        _overlaps(XB, SB[c], n, Q[c])
        if low_rank:
            for i in range(n):
                h[i] = -P * s[i]
            for p in range(P):
                qp = h.dtype.type(Q[c, p])  # products in H's dtype (int16/int32 SIMD lanes; the
                # partial sums may wrap, the final field fits H's dtype and is exact)
                x = X[p]
                for i in range(n):
                    h[i] += x[i] * qp
        else:
            acc = np.zeros(n)  # float64: exact for integer counts, whatever H's dtype
            for j in range(n):
                w = W2T[j]
                if s[j] > 0:
                    for i in range(n):
                        acc[i] += w[i]
                else:
                    for i in range(n):
                        acc[i] -= w[i]
            for i in range(n):
                h[i] = acc[i] / 2  # exact: fields of integer counts are even here
        E[c] = _energy(s, h)


@njit(parallel=True, cache=True)
def start_counts(XB, S, SB, Q, E):
    """:func:`start` without the fields, for :func:`sweeps_low_rank` (Hebbian counts): packed
    states ``SB``, overlap counts ``Q`` and energies ``E[c] = -1/2 (sum_p Q[c, p]^2 - P n)``
    (``s.h`` of the low-rank fields, the same exact integer as :func:`start` sums)."""
    n = S.shape[1]
    for c in prange(S.shape[0]):
        _pack_row(S[c], SB[c])
        _overlaps(XB, SB[c], n, Q[c])
        E[c] = _energy_of_counts(Q[c], n)


@njit(cache=True)
def storkey(X):
    """Storkey (1997) learning rule on bipolar patterns ``X`` (P, n): weights (n, n) float64.

    Patterns are learnt one after another from ``W = 0``::

        W_ij += (x_i x_j - x_i h_ji - h_ij x_j) / n,   h_ij = sum_{k != i, j} W_ik x_k

    with a zero diagonal kept throughout. Using ``x_k^2 = 1`` and ``W = W^T``, ``h_ij`` is
    ``(W x)_i - W_ij x_j``, which gives an O(n^2) update per pattern.
    """
    P, n = X.shape
    W = np.zeros((n, n))
    h = np.empty(n)
    inv_n = 1.0 / n
    for mu in range(P):
        x = X[mu]
        for i in range(n):
            acc = 0.0
            for j in range(n):
                acc += W[i, j] * x[j]
            h[i] = acc
        for i in range(n):
            xi = float(x[i])
            hi = h[i]
            for j in range(i + 1, n):
                xj = float(x[j])
                d = (xi * xj - xi * h[j] - hi * xj + 2.0 * W[i, j]) * inv_n
                W[i, j] += d
                W[j, i] = W[i, j]
    return W


@njit(cache=True)
def modern_steps(X, XI, beta, n_steps, tol, converged, used, rec_XI):
    """``n_steps`` retrieval updates of a modern Hopfield network (Ramsauer et al. 2020).

    ``X`` (P, n) stored patterns, ``XI`` (m, n) float64 states updated in place with
    ``xi <- X^T softmax(beta X xi)`` for every running cue (one matrix product for all cues).
    A cue stops after the first step whose largest change ``max|xi_new - xi|`` is ``<= tol``
    (the step counts): ``converged``, ``used`` as for the classical kernels. ``rec_XI``
    (m, n_steps, n) receives the states after each step (stopped cues carry forward).
    """
    m, n = XI.shape
    P = X.shape[0]
    for k in range(n_steps):
        A = np.dot(XI, X.T) * beta  # (m, P)
        for c in range(m):
            amax = A[c, 0]
            for p in range(1, P):
                if A[c, p] > amax:
                    amax = A[c, p]
            tot = 0.0
            for p in range(P):
                A[c, p] = math.exp(A[c, p] - amax)
                tot += A[c, p]
            for p in range(P):
                A[c, p] /= tot
        NEW = np.dot(A, X)  # (m, n)
        for c in range(m):
            if not converged[c]:
                change = 0.0
                for i in range(n):
                    d = abs(NEW[c, i] - XI[c, i])
                    if d > change:
                        change = d
                    XI[c, i] = NEW[c, i]
                used[c] += 1
                if change <= tol:
                    converged[c] = True
            for i in range(n):
                rec_XI[c, k, i] = XI[c, i]
