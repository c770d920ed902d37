"""Compiled kernels of Bahdanau's additive attention for one decoder step (forward and backward),
over a batch.

Forward, per sample ``b``: ``hidden[b, t] = tanh(query[b] + keys[b, t])`` for every encoder step
``t`` (in SIMD lanes, as ``tanh(x) = 2 s(2x) - 1`` with the vectorised logistic of
:mod:`neurosim.kernels.scalar`), scores ``e_t = hidden[b, t] . v``, their softmax over the steps
that are not padding (a row with none left gets zero weights), and the context
``sum_t w_t values[b, t]``. ``hidden`` and the weights are kept for the backward kernel, which
gives the gradients of the query, the keys, the values and ``v`` in one pass (``v``'s summed
over the batch in a fixed order). Arrays are C-contiguous, of one float dtype.
"""
import numpy as np
from numba import njit

from .scalar import sigmoid_lanes


@njit(cache=True, error_model="numpy")
def additive_forward(query, keys, values, v, pad, hidden, weights, context):
    """Fill ``hidden`` (B, S, A), ``weights`` (B, S) and ``context`` (B, D) from ``query``
    (B, A), ``keys`` (B, S, A), ``values`` (B, S, D) and ``v`` (A,); ``pad`` (B, S) bool, True
    at padding (a (1, 1) array of False when there is none)."""
    n, steps, units = keys.shape
    dim = values.shape[2]
    two, one = hidden.dtype.type(2), hidden.dtype.type(1)
    scratch = np.empty(steps * units, hidden.dtype)
    padded = pad.shape[1] == steps
    for b in range(n):
        flat = hidden[b].reshape(-1)
        q, kb = query[b], keys[b]
        for t in range(steps):
            row = hidden[b, t]
            kt = kb[t]
            for a in range(units):
                row[a] = (kt[a] + q[a]) * two
        sigmoid_lanes(flat, scratch)
        for j in range(flat.shape[0]):
            flat[j] = flat[j] + flat[j] - one
        w = weights[b]
        top = -np.inf
        for t in range(steps):
            if padded and pad[b, t]:
                w[t] = -np.inf
                continue
            row = hidden[b, t]
            e = 0.0
            for a in range(units):
                e += row[a] * v[a]
            w[t] = e
            top = max(top, e)
        total = 0.0
        for t in range(steps):
            if padded and pad[b, t]:
                w[t] = 0.0
            else:
                w[t] = np.exp(w[t] - top)
                total += w[t]
        if total > 0.0:
            for t in range(steps):
                w[t] /= total
        c = context[b]
        c[:] = 0.0
        for t in range(steps):
            wt = w[t]
            vt = values[b, t]
            for d in range(dim):
                c[d] += wt * vt[d]


@njit(cache=True, error_model="numpy")
def additive_backward(g, values, v, hidden, weights, gquery, gkeys, gvalues, gv):
    """Gradients of :func:`additive_forward` for the context's gradient ``g`` (B, D): written
    into ``gquery`` (B, A), ``gkeys`` (B, S, A), ``gvalues`` (B, S, D) and ``gv`` (A,)."""
    n, steps, units = hidden.shape
    dim = values.shape[2]
    gs = np.empty(steps, hidden.dtype)
    gv[:] = 0.0
    for b in range(n):
        w, gb = weights[b], g[b]
        mean = 0.0
        for t in range(steps):
            vt = values[b, t]
            s = 0.0
            for d in range(dim):
                s += vt[d] * gb[d]
            gs[t] = s
            mean += s * w[t]
            out = gvalues[b, t]
            for d in range(dim):
                out[d] = w[t] * gb[d]
        gq = gquery[b]
        gq[:] = 0.0
        for t in range(steps):
            st = w[t] * (gs[t] - mean)
            row, gk = hidden[b, t], gkeys[b, t]
            for a in range(units):
                h = row[a]
                grad = st * v[a] * (1.0 - h * h)
                gk[a] = grad
                gq[a] += grad
                gv[a] += st * h
