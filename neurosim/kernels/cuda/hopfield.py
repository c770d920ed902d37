"""CUDA twin of :func:`neurosim.kernels.hopfield.sweeps`: one thread per cue.

Same arguments and the same arithmetic in the same order as the CPU kernel, except ``streams``,
which is the CPU's ``(m, 2) uint64`` state array viewed as ``xoroshiro128p_dtype``
(``streams.view(xoroshiro128p_dtype).ravel()``), and the overlap counts: this kernel takes the
patterns transposed, ``XT`` (n, P) ``int8``, instead of the packed ``XB`` and ``SB``, and
updates ``Q`` on every flip where the CPU recounts it from the bits once per sweep (the same
integers). The permutation of each asynchronous sweep is
the same Fisher-Yates shuffle (``j = int(u * (k + 1))``) from the same stream, so CPU and GPU
runs are bit-identical. Launch with at least ``m`` threads in total.
"""
import math

from numba import cuda, int8, int64
from numba.cuda.random import xoroshiro128p_uniform_float64


@cuda.jit(device=True, inline=True)
def _decide(h, t, streams, c):
    if t == 0.0:
        return int8(1) if h >= 0.0 else int8(-1)
    p = 1.0 / (1.0 + math.exp(-2.0 * h / t))
    return int8(1) if xoroshiro128p_uniform_float64(streams, c) < p else int8(-1)


@cuda.jit(device=True, inline=True)
def _flip(c, i, new, S, H, Q, W2T, XT):
    S[c, i] = new
    if new > 0:
        for j in range(H.shape[1]):
            H[c, j] += W2T[i, j]
        for p in range(Q.shape[1]):
            Q[c, p] += 2 * XT[i, p]
    else:
        for j in range(H.shape[1]):
            H[c, j] -= W2T[i, j]
        for p in range(Q.shape[1]):
            Q[c, p] -= 2 * XT[i, p]


@cuda.jit
def sweeps(W2T, XT, S, H, Q, streams, order, n_sweeps, t, sync, converged, used,
           rec_idx, rec_S, rec_E, rec_Q):
    """``n_sweeps`` sweeps of cue ``cuda.grid(1)``; see the CPU kernel."""
    c = cuda.grid(1)
    if c >= S.shape[0]:
        return
    n = S.shape[1]
    P = XT.shape[1]
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
                _flip(c, i, -S[c, i], S, H, Q, W2T, XT)
        else:
            for i in range(n):
                order[c, i] = i
            for a in range(n - 1, 0, -1):
                j = int64(xoroshiro128p_uniform_float64(streams, c) * (a + 1))
                if j > a:
                    j = a
                tmp = order[c, a]
                order[c, a] = order[c, j]
                order[c, j] = tmp
            for u in range(n):
                i = order[c, u]
                new = _decide(H[c, i], t, streams, c)
                if new != S[c, i]:
                    flips += 1
                    _flip(c, i, new, S, H, Q, W2T, XT)
        used[c] += 1
        if flips == 0:
            converged[c] = True
        e = 0.0
        for i in range(n):
            e += S[c, i] * H[c, i]
        rec_E[c, k] = -0.5 * float(e)
        for j in range(rec_idx.shape[0]):
            rec_S[c, k, j] = S[c, rec_idx[j]]
        for p in range(P):
            rec_Q[c, k, p] = Q[c, p]
