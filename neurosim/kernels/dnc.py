"""Kernels of the differentiable neural computer's memory (Graves et al. 2016): the dynamic
allocation weighting (a sort and a running product, sequential along the free list) and the
temporal link matrix update (O(N^2) per sample and step), forward and backward, for the stage
ops of :mod:`neurosim.nn.dnc`; and the whole step fused (:func:`access_forward`,
:func:`access_backward`): per sample, the interface's activations, usage, allocation, write
weighting, write, links, precedence, read weightings and read vectors in one pass of loops,
the backward running the sample's forward again (:func:`_step`) for its intermediates rather
than storing them.

Shapes: ``usage``, ``allocation``, ``write`` and ``precedence`` (B, N); ``link`` (B, N, N),
``link[b, i, j]`` the degree to which location i was written to after location j.
"""
import numpy as np
from numba import njit


@njit(cache=True)
def allocation_forward(usage, order, allocation, before):
    """``a[phi_k] = (1 - u[phi_k]) prod_{m<k} u[phi_m]``, phi the free list: the locations in
    ascending order of usage, ties in ascending order of location (a stable sort).

    Fills ``order`` (B, N) int with the free list, ``allocation`` (B, N) and ``before`` (B, N),
    the product of the usages ahead of each location in the free list.
    """
    for b in range(usage.shape[0]):
        order[b] = np.argsort(usage[b], kind="mergesort")
        product = 1.0
        for k in range(usage.shape[1]):
            j = order[b, k]
            allocation[b, j] = (1.0 - usage[b, j]) * product
            before[b, j] = product
            product *= usage[b, j]


@njit(cache=True)
def allocation_backward(usage, order, before, g, d_usage):
    """Gradient of the allocation with respect to the usage, the free list held fixed (a sort
    has no gradient): one backward scan along the free list (no division, so zero usages are
    fine). ``g`` (B, N) is the allocation's gradient; fills ``d_usage`` (B, N)."""
    for b in range(usage.shape[0]):
        carry = 0.0                       # gradient reaching the product after position k
        for k in range(usage.shape[1] - 1, -1, -1):
            j = order[b, k]
            d_usage[b, j] = (carry - g[b, j]) * before[b, j]
            carry = g[b, j] * (1.0 - usage[b, j]) + carry * usage[b, j]


@njit(cache=True)
def link_forward(link, precedence, write, out):
    """``L[i, j] = (1 - w_i - w_j) L_prev[i, j] + w_i p_j`` off the diagonal, 0 on it (``link``
    the previous matrix, ``precedence`` the previous precedence, ``write`` the new write
    weighting); fills ``out`` (B, N, N)."""
    n = write.shape[1]
    for b in range(write.shape[0]):
        for i in range(n):
            wi = write[b, i]
            for j in range(n):
                if i == j:
                    out[b, i, j] = 0.0
                else:
                    out[b, i, j] = (1.0 - wi - write[b, j]) * link[b, i, j] + wi * precedence[b, j]


@njit(cache=True)
def link_backward(link, precedence, write, g, d_link, d_precedence, d_write):
    """Gradients of :func:`link_forward` from the new matrix's gradient ``g`` (its diagonal
    ignored): fills ``d_link`` (B, N, N), ``d_precedence`` and ``d_write`` (B, N)."""
    n = write.shape[1]
    for b in range(write.shape[0]):
        for j in range(n):
            d_precedence[b, j] = 0.0
            d_write[b, j] = 0.0
        for i in range(n):
            wi = write[b, i]
            row = 0.0
            for j in range(n):
                if i == j:
                    d_link[b, i, j] = 0.0
                    continue
                gij, lij = g[b, i, j], link[b, i, j]
                d_link[b, i, j] = gij * (1.0 - wi - write[b, j])
                row += gij * (precedence[b, j] - lij)
                d_write[b, j] -= gij * lij
                d_precedence[b, j] += gij * wi
            d_write[b, i] += row


# ---------------------------------------------------------------- the whole step, fused
# A sample's state row (S,) and interface row (I,) are packed as neurosim.nn.dnc lays them out:
# state: memory (N*W), usage (N), link (N*N), precedence (N), write weighting (N), read
# weightings (R*N), read vectors (R*W); interface: read keys (R*W), read strengths (R), write
# key (W), write strength (1), erase (W), write vector (W), free gates (R), allocation gate,
# write gate, read modes (R*3). Rows of the scratch ``vecs`` (K, N) and ``heads`` (K, R, N):
U0, P0, WW0, PSI, KEPT, U, BEFORE, ALLOC, WCOS, WC, NORM0, WW, P, NORM = range(14)
WR0, KEEP, RCOS, RC, FWD, BWD, WR = range(7)
VECS, HEADS = 14, 7


@njit(cache=True)
def _scratch(n, w, r, like):
    """The work arrays of :func:`_step` for sizes N, W, R in ``like``'s dtype:
    ``(M0, M, L0, L, vecs, heads, order, key_norms)``."""
    dtype = like.dtype
    return (np.empty((n, w), dtype), np.empty((n, w), dtype), np.empty((n, n), dtype),
            np.empty((n, n), dtype), np.empty((VECS, n), dtype), np.empty((HEADS, r, n), dtype),
            np.empty(n, np.intp), np.empty(r + 1, dtype))


@njit(cache=True, inline="always")
def _sigmoid(x):
    if x >= 0:
        return 1.0 / (1.0 + np.exp(-x))
    e = np.exp(x)
    return e / (1.0 + e)


def _interface_offsets(w, r):
    """Starts of the interface's parts: read strengths, write key, erase, free gates, modes."""
    rw = r * w
    return rw, rw + r, rw + r + w + 1, rw + r + 3 * w + 1, rw + 2 * r + 3 * w + 3


interface_offsets = njit(cache=True, inline="always")(_interface_offsets)


@njit(cache=True)
def _activate(raw, y, w, r):
    """The interface's activations, ``raw`` (I,) -> ``y`` (I,): oneplus on the strengths,
    sigmoid on the erase vector and the gates, softmax over each head's modes."""
    o_strength, o_wkey, o_erase, o_free, o_modes = interface_offsets(w, r)
    for k in range(raw.shape[0]):
        y[k] = raw[k]
    for k in range(o_strength, o_modes):
        if k < o_wkey or k == o_wkey + w:
            x = raw[k]
            y[k] = 1.0 + max(x, 0.0) + np.log1p(np.exp(-abs(x)))
        elif o_erase <= k < o_erase + w or k >= o_free:
            y[k] = _sigmoid(raw[k])
    for i in range(r):
        a = o_modes + 3 * i
        top = max(raw[a], max(raw[a + 1], raw[a + 2]))
        total = 0.0
        for m in range(3):
            y[a + m] = np.exp(raw[a + m] - top)
            total += y[a + m]
        for m in range(3):
            y[a + m] /= total


@njit(cache=True)
def _activate_backward(y, dy, w, r, d_raw):
    """Backward of :func:`_activate` from the activated ``y`` and its gradient ``dy``
    (oneplus' = sigmoid = 1 - e^(1 - y))."""
    o_strength, o_wkey, o_erase, o_free, o_modes = interface_offsets(w, r)
    for k in range(y.shape[0]):
        d_raw[k] = dy[k]
    for k in range(o_strength, o_modes):
        if k < o_wkey or k == o_wkey + w:
            d_raw[k] = -dy[k] * np.expm1(1.0 - y[k])
        elif o_erase <= k < o_erase + w or k >= o_free:
            d_raw[k] = dy[k] * y[k] * (1.0 - y[k])
    for i in range(r):
        a = o_modes + 3 * i
        dot = dy[a] * y[a] + dy[a + 1] * y[a + 1] + dy[a + 2] * y[a + 2]
        for m in range(3):
            d_raw[a + m] = y[a + m] * (dy[a + m] - dot)


@njit(cache=True, inline="always")
def _cosine_softmax(memory, key, strength, eps, norms, cos, out):
    """Content weighting of one key: row norms into ``norms`` (N), cosines into ``cos``, the
    softmax of ``strength * cos`` into ``out``; returns the key's norm."""
    kk = eps
    for k in range(key.shape[0]):
        kk += key[k] * key[k]
    key_norm = np.sqrt(kk)
    top = -np.inf
    for j in range(memory.shape[0]):
        mm, dot = eps, 0.0
        for k in range(key.shape[0]):
            mm += memory[j, k] * memory[j, k]
            dot += memory[j, k] * key[k]
        norms[j] = np.sqrt(mm)
        cos[j] = dot / (key_norm * norms[j])
        top = max(top, strength * cos[j])
    total = 0.0
    for j in range(memory.shape[0]):
        out[j] = np.exp(strength * cos[j] - top)
        total += out[j]
    for j in range(memory.shape[0]):
        out[j] /= total
    return key_norm


@njit(cache=True, inline="always")
def _cosine_softmax_backward(memory, key, strength, norms, cos, weights, key_norm, g,
                             d_memory, d_key):
    """Backward of :func:`_cosine_softmax` for the weighting's gradient ``g`` (N): adds to
    ``d_memory`` (N, W) and ``d_key`` (W); returns the strength's gradient."""
    dot = 0.0
    for j in range(memory.shape[0]):
        dot += g[j] * weights[j]
    d_strength = 0.0
    for j in range(memory.shape[0]):
        dz = weights[j] * (g[j] - dot)
        d_strength += dz * cos[j]
        d_cos = dz * strength
        a = d_cos / (key_norm * norms[j])
        bk = d_cos * cos[j] / (key_norm * key_norm)
        bm = d_cos * cos[j] / (norms[j] * norms[j])
        for k in range(key.shape[0]):
            d_key[k] += a * memory[j, k] - bk * key[k]
            d_memory[j, k] += a * key[k] - bm * memory[j, k]
    return d_strength


@njit(cache=True)
def _step(state, y, n, w, r, eps, M0, M, L0, L, vecs, heads, order, key_norms):
    """One sample's step into the scratch arrays (the module's equations); ``y`` activated."""
    o_u, o_l = n * w, n * w + n
    o_p = o_l + n * n
    o_ww, o_wr = o_p + n, o_p + 2 * n
    o_strength, o_wkey, o_erase, o_free, o_modes = interface_offsets(w, r)
    for j in range(n):
        for k in range(w):
            M0[j, k] = state[j * w + k]
        vecs[U0, j], vecs[P0, j], vecs[WW0, j] = state[o_u + j], state[o_p + j], state[o_ww + j]
        for m in range(n):
            L0[j, m] = state[o_l + j * n + m]
        for i in range(r):
            heads[WR0, i, j] = state[o_wr + i * n + j]
    o_vec = o_erase + w
    alloc_gate, write_gate = y[o_free + r], y[o_free + r + 1]
    # usage and allocation
    for j in range(n):
        psi = 1.0
        for i in range(r):
            heads[KEEP, i, j] = 1.0 - y[o_free + i] * heads[WR0, i, j]
            psi *= heads[KEEP, i, j]
        u0, ww0 = vecs[U0, j], vecs[WW0, j]
        vecs[PSI, j], vecs[KEPT, j] = psi, u0 + ww0 - u0 * ww0
        vecs[U, j] = vecs[KEPT, j] * psi
    order[:] = np.argsort(vecs[U], kind="mergesort")
    product = 1.0
    for k in range(n):
        j = order[k]
        vecs[ALLOC, j], vecs[BEFORE, j] = (1.0 - vecs[U, j]) * product, product
        product *= vecs[U, j]
    # write weighting, write, links, precedence
    key_norms[r] = _cosine_softmax(M0, y[o_wkey:o_wkey + w], y[o_wkey + w], eps, vecs[NORM0],
                                   vecs[WCOS], vecs[WC])
    total = 0.0
    for j in range(n):
        vecs[WW, j] = write_gate * (alloc_gate * vecs[ALLOC, j]
                                    + (1.0 - alloc_gate) * vecs[WC, j])
        total += vecs[WW, j]
        for k in range(w):
            M[j, k] = M0[j, k] * (1.0 - vecs[WW, j] * y[o_erase + k]) + vecs[WW, j] * y[o_vec + k]
    for j in range(n):
        wj = vecs[WW, j]
        for m in range(n):
            L[j, m] = 0.0 if j == m else (1.0 - wj - vecs[WW, m]) * L0[j, m] + wj * vecs[P0, m]
        vecs[P, j] = (1.0 - total) * vecs[P0, j] + wj
    # read weightings
    for i in range(r):
        key_norms[i] = _cosine_softmax(M, y[i * w:(i + 1) * w], y[o_strength + i], eps, vecs[NORM],
                                       heads[RCOS, i], heads[RC, i])
        for j in range(n):
            f, b = 0.0, 0.0
            for m in range(n):
                f += L[j, m] * heads[WR0, i, m]
                b += L[m, j] * heads[WR0, i, m]
            heads[FWD, i, j], heads[BWD, i, j] = f, b
            heads[WR, i, j] = (y[o_modes + 3 * i] * b + y[o_modes + 3 * i + 1] * heads[RC, i, j]
                               + y[o_modes + 3 * i + 2] * f)


@njit(cache=True)
def access_forward(state, raw, n, w, r, eps, out, y, allocation):
    """A DNC step for every sample: ``state`` (B, S) and the controller's ``raw`` interface
    (B, I) -> the new state ``out`` (B, S), the activated interface ``y`` (B, I) and the
    allocation weighting (B, N)."""
    M0, M, L0, L, vecs, heads, order, key_norms = _scratch(n, w, r, state)
    o_l = n * w + n
    o_p = o_l + n * n
    o_wr = o_p + 2 * n
    for b in range(state.shape[0]):
        _activate(raw[b], y[b], w, r)
        _step(state[b], y[b], n, w, r, eps, M0, M, L0, L, vecs, heads, order, key_norms)
        row = out[b]
        for j in range(n):
            for k in range(w):
                row[j * w + k] = M[j, k]
            row[n * w + j], row[o_p + j], row[o_p + n + j] = vecs[U, j], vecs[P, j], vecs[WW, j]
            allocation[b, j] = vecs[ALLOC, j]
            for m in range(n):
                row[o_l + j * n + m] = L[j, m]
        for i in range(r):
            for j in range(n):
                row[o_wr + i * n + j] = heads[WR, i, j]
            for k in range(w):
                read = 0.0
                for j in range(n):
                    read += heads[WR, i, j] * M[j, k]
                row[o_wr + r * n + i * w + k] = read


@njit(cache=True)
def access_backward(state, y, n, w, r, eps, g, d_state, d_raw):
    """Gradients of :func:`access_forward` (run again per sample for its intermediates) from
    the new state's gradient ``g`` (B, S): fills ``d_state`` (B, S), the previous state's, and
    ``d_raw`` (B, I), the raw interface's."""
    M0, M, L0, L, vecs, heads, order, key_norms = _scratch(n, w, r, state)
    g_memory, g_link = np.empty((n, w), state.dtype), np.empty((n, n), state.dtype)
    g_vecs = np.empty((5, n), state.dtype)                  # usage, precedence, ww, alloc, wc
    g_heads = np.empty((3, r, n), state.dtype)              # read weightings, previous, content
    dy = np.empty(y.shape[1], state.dtype)
    o_u, o_l = n * w, n * w + n
    o_p = o_l + n * n
    o_ww, o_wr = o_p + n, o_p + 2 * n
    o_read = o_wr + r * n
    o_strength, o_wkey, o_erase, o_free, o_modes = interface_offsets(w, r)
    o_vec = o_erase + w
    for b in range(state.shape[0]):
        _step(state[b], y[b], n, w, r, eps, M0, M, L0, L, vecs, heads, order, key_norms)
        gb, ds, yb = g[b], d_state[b], y[b]
        dy[:] = 0.0
        for j in range(n):
            for k in range(w):
                g_memory[j, k] = gb[j * w + k]
            g_vecs[0, j], g_vecs[1, j], g_vecs[2, j] = gb[o_u + j], gb[o_p + j], gb[o_ww + j]
            for m in range(n):
                g_link[j, m] = gb[o_l + j * n + m]
        # read vectors r_i = sum_j wr[i, j] M[j]
        for i in range(r):
            for j in range(n):
                acc = gb[o_wr + i * n + j]
                for k in range(w):
                    acc += gb[o_read + i * w + k] * M[j, k]
                    g_memory[j, k] += heads[WR, i, j] * gb[o_read + i * w + k]
                g_heads[0, i, j] = acc
                g_heads[1, i, j] = 0.0
        # read weightings: modes, temporal reads, content
        for i in range(r):
            a = o_modes + 3 * i
            pb, pc, pf = yb[a], yb[a + 1], yb[a + 2]
            for j in range(n):
                gw = g_heads[0, i, j]
                dy[a] += gw * heads[BWD, i, j]
                dy[a + 1] += gw * heads[RC, i, j]
                dy[a + 2] += gw * heads[FWD, i, j]
                g_heads[2, i, j] = pc * gw
            for j in range(n):
                gf = pf * g_heads[0, i, j]
                wj = heads[WR0, i, j]
                for m in range(n):
                    gbm = pb * g_heads[0, i, m]
                    g_heads[1, i, m] += gf * L[j, m]
                    g_heads[1, i, j] += gbm * L[j, m]
                    g_link[j, m] += gf * heads[WR0, i, m] + wj * gbm
            dy[o_strength + i] += _cosine_softmax_backward(
                M, yb[i * w:(i + 1) * w], yb[o_strength + i], vecs[NORM], heads[RCOS, i],
                heads[RC, i], key_norms[i], g_heads[2, i], g_memory, dy[i * w:(i + 1) * w])
        # precedence and links
        total, dot = 0.0, 0.0
        for j in range(n):
            total += vecs[WW, j]
            dot += g_vecs[1, j] * vecs[P0, j]
        for j in range(n):
            ds[o_p + j] = g_vecs[1, j] * (1.0 - total)
            g_vecs[2, j] += g_vecs[1, j] - dot
        for j in range(n):
            wj, row = vecs[WW, j], 0.0
            for m in range(n):
                if j == m:
                    ds[o_l + j * n + m] = 0.0
                    continue
                gjm, ljm = g_link[j, m], L0[j, m]
                ds[o_l + j * n + m] = gjm * (1.0 - wj - vecs[WW, m])
                row += gjm * (vecs[P0, m] - ljm)
                g_vecs[2, m] -= gjm * ljm
                ds[o_p + m] += gjm * wj
            g_vecs[2, j] += row
        # write: M = M0 (1 - ww e) + ww v
        for j in range(n):
            wj, acc = vecs[WW, j], 0.0
            for k in range(w):
                gjk, e = g_memory[j, k], yb[o_erase + k]
                ds[j * w + k] = gjk * (1.0 - wj * e)
                acc += gjk * (yb[o_vec + k] - M0[j, k] * e)
                dy[o_erase + k] -= gjk * M0[j, k] * wj
                dy[o_vec + k] += gjk * wj
            g_vecs[2, j] += acc
        # write weighting: ww = g^w (g^a a + (1 - g^a) c)
        alloc_gate, write_gate = yb[o_free + r], yb[o_free + r + 1]
        for j in range(n):
            mix = alloc_gate * vecs[ALLOC, j] + (1.0 - alloc_gate) * vecs[WC, j]
            dy[o_free + r + 1] += g_vecs[2, j] * mix
            g_mix = g_vecs[2, j] * write_gate
            dy[o_free + r] += g_mix * (vecs[ALLOC, j] - vecs[WC, j])
            g_vecs[3, j] = g_mix * alloc_gate
            g_vecs[4, j] = g_mix * (1.0 - alloc_gate)
        d_memory = np.zeros((n, w), state.dtype)
        dy[o_wkey + w] += _cosine_softmax_backward(
            M0, yb[o_wkey:o_wkey + w], yb[o_wkey + w], vecs[NORM0], vecs[WCOS], vecs[WC],
            key_norms[r], g_vecs[4], d_memory, dy[o_wkey:o_wkey + w])
        for j in range(n):
            for k in range(w):
                ds[j * w + k] += d_memory[j, k]
        # allocation (free list fixed), then usage
        carry = 0.0
        for k in range(n - 1, -1, -1):
            j = order[k]
            g_vecs[0, j] += (carry - g_vecs[3, j]) * vecs[BEFORE, j]
            carry = g_vecs[3, j] * (1.0 - vecs[U, j]) + carry * vecs[U, j]
        for j in range(n):
            g_kept = g_vecs[0, j] * vecs[PSI, j]
            ds[o_u + j] = g_kept * (1.0 - vecs[WW0, j])
            ds[o_ww + j] = g_kept * (1.0 - vecs[U0, j])
            for i in range(r):
                others = 1.0
                for i2 in range(r):
                    if i2 != i:
                        others *= heads[KEEP, i2, j]
                d_keep = g_vecs[0, j] * vecs[KEPT, j] * others
                g_heads[1, i, j] -= d_keep * yb[o_free + i]
                dy[o_free + i] -= d_keep * heads[WR0, i, j]
        for i in range(r):
            for j in range(n):
                ds[o_wr + i * n + j] = g_heads[1, i, j]
            for k in range(w):
                ds[o_read + i * w + k] = 0.0
        _activate_backward(yb, dy, w, r, d_raw[b])
