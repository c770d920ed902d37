"""CUDA twin of :func:`neurosim.kernels.hopfield.sweeps`: one thread per cue.

The same arguments in the same order as the CPU kernel (``W2T, XB, S, SB, H, Q, streams,
order, n_sweeps, t, sync, converged, used, rec_idx, rec_S, rec_E, rec_Q``; see
``kernels.hopfield``), as device arrays, and the same arithmetic in the same order: ``streams``
is the CPU's ``(m, 2) uint64`` array of xoroshiro128+ states (drawn from here with the
generator of ``kernels.rng`` and ``numba.cuda.random``), the states are kept packed in ``SB``
alongside ``S`` and the overlap counts are recounted from the bits at every record. The
permutation of each asynchronous sweep is the same Fisher-Yates shuffle (``j = int(u * (k +
1))``) from the same stream, so CPU and GPU runs are bit-identical. Launch with at least ``m``
threads in total (``sweeps[blocks, threads](...)``).
"""
import math

from numba import cuda, int8, int64, uint64

from .rng import shuffle, uniform


@cuda.jit(device=True, inline=True)
def _decide(h, t, streams, c):
    if t == 0.0:
        return int8(1) if h >= 0.0 else int8(-1)
    p = 1.0 / (1.0 + math.exp(-2.0 * h / t))
    return int8(1) if uniform(streams, c) < p else int8(-1)


@cuda.jit(device=True, inline=True)
def _flip(c, i, new, S, SB, H, W2T):
    S[c, i] = new
    SB[c, i >> 6] ^= uint64(1) << uint64(i & 63)
    if new > 0:
        for j in range(H.shape[1]):
            H[c, j] += W2T[i, j]
    else:
        for j in range(H.shape[1]):
            H[c, j] -= W2T[i, j]


@cuda.jit
def sweeps(W2T, XB, S, SB, H, Q, streams, order, n_sweeps, t, sync, converged, used,
           rec_idx, rec_S, rec_E, rec_Q):
    """``n_sweeps`` sweeps of cue ``cuda.grid(1)``; see the CPU kernel."""
    c = cuda.grid(1)
    if c >= S.shape[0]:
        return
    n = S.shape[1]
    for k in range(n_sweeps):
        if converged[c]:
            break
        flips = 0
        if sync:
            for i in range(n):
                new = _decide(H[c, i], t, streams, c)
                if new != S[c, i]:
                    order[c, flips] = i
                    flips += 1
            for f in range(flips):
                i = order[c, f]
                _flip(c, i, -S[c, i], S, SB, H, W2T)
        else:
            for i in range(n):
                order[c, i] = i
            shuffle(streams, c, order, c)
            for u in range(n):
                i = order[c, u]
                new = _decide(H[c, i], t, streams, c)
                if new != S[c, i]:
                    flips += 1
                    _flip(c, i, new, S, SB, H, W2T)
        used[c] += 1
        if flips == 0:
            converged[c] = True
        e = 0.0
        for i in range(n):
            e += S[c, i] * H[c, i]
        rec_E[c, k] = -0.5 * float(e)
        for j in range(rec_idx.shape[0]):
            rec_S[c, k, j] = S[c, rec_idx[j]]
        for p in range(XB.shape[0]):
            differ = uint64(0)
            for w in range(SB.shape[1]):
                differ += uint64(cuda.popc(XB[p, w] ^ SB[c, w]))
            Q[c, p] = n - 2 * int64(differ)
            rec_Q[c, k, p] = Q[c, p]
