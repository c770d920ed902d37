"""Compiled kernels of attention: scaled dot-product attention over several heads (forward and
backward), and Bahdanau's additive attention for one decoder step (forward and backward), over a
batch.

Scaled dot-product attention runs one (sample, head) block at a time: the block's queries, keys
and values are copied into small contiguous scratch arrays, the score product is one BLAS call
(``np.dot``) written into the block of the kept weights, the softmax (scale, masks, maximum,
exponential in SIMD lanes, normalisation) is one pass over the rows while they sit in cache, and
the output is a second BLAS call. The backward pass works the same way, block by block, with one
(queries, keys) scratch for the weights' gradient. No score-sized temporary is made: the
weights, (batch, heads, queries, keys), are written once and read once. Masks are read where
they are: causal by index, key padding (batch, keys), a general boolean or additive mask as a
broadcast view (batch, heads, queries, keys); none is materialised.

Forward, per sample ``b``: ``hidden[b, t] = tanh(query[b] + keys[b, t])`` for every encoder step
``t`` (in SIMD lanes, as ``tanh(x) = 2 s(2x) - 1`` with the vectorised logistic of
:mod:`neurosim.kernels.scalar`), scores ``e_t = hidden[b, t] . v``, their softmax over the steps
that are not padding (a row with none left gets zero weights), and the context
``sum_t w_t values[b, t]``. ``hidden`` and the weights are kept for the backward kernel, which
gives the gradients of the query, the keys, the values and ``v`` in one pass (``v``'s summed
over the batch in a fixed order). Arrays are C-contiguous, of one float dtype.
"""
import numpy as np
from numba import njit, types
from numba.extending import overload

from .scalar import _LIMIT32, _ROUND_BITS32, _exp_rows, exp_parts32, sigmoid_lanes

_FAST = {"contract", "arcp", "nsz", "afn"}       # as kernels.scalar: sums keep their order
_SUMS = {"reassoc", "nsz"}                       # row sums and maxima in SIMD lanes, any order


@njit(cache=True, fastmath=_FAST, error_model="numpy")
def _exp_shifted32(t, top, scale, scratch):
    """``t <- e^((t - top) scale)`` for a contiguous float32 vector, ``(t - top) scale <= 87``,
    but for the last product by ``2^k``, left to :func:`_times_and_sum` (which sums too), in
    SIMD lanes: ``2^k p(r)`` with ``|r| <= ln 2 / 2`` and ``p`` the Taylor polynomial of degree
    7 (relative error below 1e-7), ``2^k`` written into ``scratch`` (float32, at least
    ``len(t)``) from the bits of ``k + 1.5 * 2^23``, as in
    :func:`neurosim.kernels.scalar.logistic_rows32`; arguments below -87 give 0 (the true
    value is below 2e-38)."""
    bits = scratch.view(np.int32)
    for j in range(t.shape[0]):
        x = (t[j] - top) * scale
        e, scratch[j] = exp_parts32(max(x, -_LIMIT32))
        t[j] = np.float32(0.0) if x < -_LIMIT32 else e
    for j in range(t.shape[0]):
        bits[j] = (bits[j] - _ROUND_BITS32 + 127) << 23  # now the float 2^k


@njit(cache=True, fastmath=_SUMS)
def _times_and_sum(t, scratch):
    """``t *= scratch`` element-wise, and the sum of the products (float64, any order)."""
    total = 0.0
    for j in range(t.shape[0]):
        v = t[j] * scratch[j]
        t[j] = v
        total += v
    return total


def exp_shifted_sum(t, top, scale, scratch):
    """``t <- e^((t - top) scale)`` in place for a contiguous vector of either float dtype
    (``top`` at least its largest entry, ``scale > 0``; ``scratch`` of the same dtype, at
    least as long), in SIMD lanes; returns the sum of the results (float64). Callable from
    kernels only."""
    raise NotImplementedError("exp_shifted_sum is called from compiled kernels")


@overload(exp_shifted_sum)
def _exp_shifted_sum(t, top, scale, scratch):
    if t.dtype == types.float32:
        def impl32(t, top, scale, scratch):
            _exp_shifted32(t, top, scale, scratch)
            return _times_and_sum(t, scratch)
        return impl32

    def impl64(t, top, scale, scratch):
        for j in range(t.shape[0]):
            t[j] = (t[j] - top) * scale
        _exp_rows(t, scratch)
        return _row_sum(t)
    return impl64


@njit(cache=True)
def _ordered_max32(bits):
    """The largest of float32 values given as their int32 bits, as ordered bits: compared as
    integers, ``b ^ ((b >> 31) & 0x7FFFFFFF)`` is ordered as the floats (NaN above +inf), so
    the loop runs in SIMD lanes (a float maximum does not vectorise here). The map is its own
    inverse."""
    top = np.int32(-2147483648)
    for j in range(bits.shape[0]):
        v = bits[j]
        top = max(top, v ^ ((v >> 31) & np.int32(0x7FFFFFFF)))
    return top ^ ((top >> 31) & np.int32(0x7FFFFFFF))


@njit(cache=True)
def _ordered_max64(bits):
    """:func:`_ordered_max32` for float64 values given as their int64 bits."""
    top = np.int64(-9223372036854775808)
    for j in range(bits.shape[0]):
        v = bits[j]
        top = max(top, v ^ ((v >> 63) & np.int64(0x7FFFFFFFFFFFFFFF)))
    return top ^ ((top >> 63) & np.int64(0x7FFFFFFFFFFFFFFF))


def as_bits(a):
    """A view of a contiguous float array as integers of its width (int32 or int64)."""
    raise NotImplementedError("as_bits is called from compiled kernels")


@overload(as_bits)
def _as_bits(a):
    if a.dtype == types.float32:
        return lambda a: a.view(np.int32)
    return lambda a: a.view(np.int64)


def max_bits(bits):
    """The bits of the largest of the floats whose bits are ``bits`` (from :func:`as_bits`),
    in SIMD lanes. Callable from kernels only."""
    raise NotImplementedError("max_bits is called from compiled kernels")


@overload(max_bits)
def _max_bits(bits):
    if bits.dtype == types.int32:
        return lambda bits: _ordered_max32(bits)
    return lambda bits: _ordered_max64(bits)


@njit(cache=True, fastmath=_SUMS)
def _row_sum(row):
    total = 0.0
    for j in range(row.shape[0]):
        total += row[j]
    return total


@njit(cache=True, fastmath=_SUMS)
def _row_dot(a, b):
    total = 0.0
    for j in range(a.shape[0]):
        total += a[j] * b[j]
    return total


@njit(cache=True)
def _block(x, b, h, out):
    """``out`` (time, d) <- head ``h`` of sample ``b`` of ``x`` (batch, time, heads * d)."""
    d = out.shape[1]
    for t in range(out.shape[0]):
        src = x[b, t, h * d:(h + 1) * d]
        dst = out[t]
        for c in range(d):
            dst[c] = src[c]


@njit(cache=True)
def _block_transposed(x, b, h, out):
    """``out`` (d, time) <- head ``h`` of sample ``b`` of ``x`` (batch, time, heads * d),
    transposed."""
    d = out.shape[0]
    for t in range(out.shape[1]):
        src = x[b, t, h * d:(h + 1) * d]
        for c in range(d):
            out[c, t] = src[c]


@njit(cache=True)
def _unblock(block, b, h, out):
    """Head ``h`` of sample ``b`` of ``out`` (batch, time, heads * d) <- ``block`` (time, d)."""
    d = block.shape[1]
    for t in range(block.shape[0]):
        src = block[t]
        dst = out[b, t, h * d:(h + 1) * d]
        for c in range(d):
            dst[c] = src[c]


@njit(cache=True, error_model="numpy")
def _softmax_rows(S, b, h, scale, causal, pad, allowed, additive, scratch):
    """The block's scores ``S`` (queries, keys) -> attention weights in place: scaled, the
    additive mask added, disallowed pairs excluded, softmax per row (a row with no key left
    gets zeros). ``scratch``: of ``S``'s dtype, at least ``keys`` entries."""
    tq, tk = S.shape
    bits, top_bits = as_bits(S), as_bits(scratch)
    padded = pad.shape[1] == tk
    general = allowed.shape[3] == tk
    added = additive.shape[3] == tk
    masked = padded or general or added
    dtype = S.dtype.type
    ninf, one = dtype(-np.inf), dtype(1.0)
    for i in range(tq):
        row = S[i]
        shrink = scale            # unmasked rows: the scale goes into the exponential's pass
        if masked:
            shrink = one
            for j in range(tk):
                row[j] *= scale
        if added:
            mrow = additive[b, h, i]
            for j in range(tk):
                row[j] += mrow[j]
        if padded:
            prow = pad[b]
            for j in range(tk):
                if prow[j]:
                    row[j] = ninf
        if general:
            arow = allowed[b, h, i]
            for j in range(tk):
                if not arow[j]:
                    row[j] = ninf
        n = min(i + 1, tk) if causal else tk
        for j in range(n, tk):
            row[j] = 0.0
        live = row[:n]
        top_bits[0] = max_bits(bits[i, :n])
        top = scratch[0]
        if top == -np.inf or n == 0:
            live[:] = 0.0
            continue
        inv = dtype(1.0 / exp_shifted_sum(live, top, shrink, scratch))
        for j in range(n):
            live[j] *= inv


@njit(cache=True, inline="always")
def _sizes(q, k, v, weights):
    """``(batch, query steps, key steps, heads, head width, value head width)``."""
    heads = weights.shape[1]
    return q.shape[0], q.shape[1], k.shape[1], heads, q.shape[2] // heads, v.shape[2] // heads


@njit(cache=True, error_model="numpy")
def sdp_forward(q, k, v, scale, causal, pad, allowed, additive, weights, out):
    """Scaled dot-product attention of every (sample, head): ``weights[b, h] = softmax(scale
    Q K^T + mask)`` and ``out = weights V``, heads merged.

    ``q`` (B, Tq, H * d), ``k`` (B, Tk, H * d), ``v`` (B, Tk, H * dv), one float dtype, rows
    contiguous (column slices of a wider array will do); ``weights`` (B, H, Tq, Tk) and ``out``
    (B, Tq, H * dv) are written. Masks: ``causal`` (query ``i`` sees keys ``j <= i``); ``pad``
    (B, Tk) bool, True at padding; ``allowed`` bool and ``additive`` (of the dtype), broadcast
    views of shape (B, H, Tq, Tk). A mask that is not used is an array with an empty last axis
    ((1, 0) or (1, 1, 1, 0)).
    """
    n, tq, tk, heads, d, dv = _sizes(q, k, v, weights)
    dtype = q.dtype
    Qs, Kt = np.empty((tq, d), dtype), np.empty((d, tk), dtype)
    Vs, Os = np.empty((tk, dv), dtype), np.empty((tq, dv), dtype)
    scratch = np.empty(tk, dtype)
    for b in range(n):
        for h in range(heads):
            _block(q, b, h, Qs)
            _block_transposed(k, b, h, Kt)
            _block(v, b, h, Vs)
            S = weights[b, h]
            np.dot(Qs, Kt, S)
            _softmax_rows(S, b, h, scale, causal, pad, allowed, additive, scratch)
            np.dot(S, Vs, Os)
            _unblock(Os, b, h, out)


@njit(cache=True, error_model="numpy")
def sdp_backward(g, q, k, v, weights, scale, gq, gk, gv):
    """Gradients of :func:`sdp_forward` for the output's gradient ``g`` (B, Tq, H * dv), from
    the kept ``weights``: written into ``gq``, ``gk`` and ``gv`` (the shapes of ``q``, ``k``,
    ``v``); a gradient that is not wanted is passed as an array with no elements and skipped.
    Through the softmax, ``dS = P (dP - rowsum(dP P)) scale`` with ``dP = G V^T``."""
    n, tq, tk, heads, d, dv = _sizes(q, k, v, weights)
    dtype = q.dtype
    want_q, want_k, want_v = gq.size > 0, gk.size > 0, gv.size > 0
    Gs, Vt = np.empty((tq, dv), dtype), np.empty((dv, tk), dtype)
    Qs, Ks = np.empty((tq, d), dtype), np.empty((tk, d), dtype)
    dS = np.empty((tq, tk), dtype)
    dQ, dK, dV = np.empty((tq, d), dtype), np.empty((tk, d), dtype), np.empty((tk, dv), dtype)
    for b in range(n):
        for h in range(heads):
            P = weights[b, h]
            _block(g, b, h, Gs)
            if want_v:
                np.dot(P.T, Gs, dV)
                _unblock(dV, b, h, gv)
            if not (want_q or want_k):
                continue
            _block_transposed(v, b, h, Vt)
            np.dot(Gs, Vt, dS)
            for i in range(tq):
                prow, drow = P[i], dS[i]
                s = dtype.type(_row_dot(drow, prow))
                for j in range(tk):
                    drow[j] = prow[j] * (drow[j] - s) * scale
            if want_q:
                _block(k, b, h, Ks)
                np.dot(dS, Ks, dQ)
                _unblock(dQ, b, h, gq)
            if want_k:
                _block(q, b, h, Qs)
                np.dot(dS.T, Qs, dK)
                _unblock(dK, b, h, gk)


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
