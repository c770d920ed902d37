"""Whole-sequence kernels of the recurrent cells (Elman RNN, LSTM, GRU): the forward pass
stores what backpropagation through time needs, the backward pass runs it.

Everything is time-major, C-contiguous and feature-major within a step: a step's states are
(H, B), its pre-activations (G*H, B), so that each gate block is one contiguous (H, B) run and
the element-wise passes are flat loops. The caller makes the input products ``W.T x_t + b`` of
all steps at once (:func:`input_products`); each step makes the recurrent product
``U.T h_{t-1}`` (backward: ``U dA_t``) for the whole batch (our own product, :mod:`.gemm`, the
weights packed once a sequence; 1.2-1.8x NumPy's OpenBLAS on these shapes) and the cell's gate
math: pre-activations, the sigmoids in SIMD lanes (:func:`sigmoid_lanes`; ``tanh(x) = 2 s(2x)
- 1``), the state update. The forward step runs by blocks of units (:func:`block_units`): a
block's products, all its gates' rows together, then its gate math while they are in L2 (the
products of a whole step, (G*H, B), reach 2 MB at hidden 512, batch 256, and the gate math read
them back from L3: the forward pass ran 10% slower there); the blocks of a step are
independent, and :func:`recurrent_forward_parallel` runs them on Numba's threads.
Loops run over views from index 0: an offset index would make Numba's negative-index check
turn them into gathers and scatters. Both passes run with subnormals flushed to zero
(:mod:`.fpenv`): gradients decaying through a long sequence fall under float32's normal range
and every operation on them cost a microcode assist (a step 7x slower at 200 steps).
``G`` gate blocks of ``H`` units: 1 for the RNN, 4 for the LSTM (input, forget, cell candidate,
output), 3 for the GRU (reset, update, candidate). ``cell`` selects the cell by its code
:data:`RNN`, :data:`LSTM` or :data:`GRU`
(:data:`RNN_RELU`: the RNN with a ReLU, PyTorch's ``nonlinearity="relu"``).

Stored per step for the backward pass (``gates``, (4H, B)): LSTM ``[i, f, g, o]`` (and
``tanh(c)`` apart, (H, B)); GRU ``[r, z, n, U_n h + b_hn]``; RNN nothing (its output ``h`` is
all it needs).
"""
import numpy as np
from numba import njit, prange

from .fpenv import flush_subnormals, restore
from .gemm import pack, packed_matmul, packed_shape
from .scalar import sigmoid_lanes
from .threads import twins

RNN, LSTM, GRU, RNN_RELU = 0, 1, 2, 3     # RNN_RELU: the Elman RNN with h_t = relu(...)
GATES = {RNN: 1, LSTM: 4, GRU: 3, RNN_RELU: 1}     # gate blocks in W, U, b
SMALL_INPUTS = 32     # up to this many input features, the input gradients run in Numba loops:
#                       OpenBLAS handles products with a side of a few features an order of
#                       magnitude below its speed on square ones


@njit(cache=True, inline="always")
def _preactivate(out, p, a, scale):
    """``out = scale * (p + a)`` (vectors of one length); ``scale`` 2 for a tanh block, computed
    as ``tanh(x) = 2 s(2x) - 1``."""
    for k in range(out.shape[0]):
        out[k] = (p[k] + a[k]) * scale


@njit(cache=True, inline="always")
def _tanh_from_sigmoid(x):
    """``x <- 2 x - 1``: the tanh of the halved argument of the sigmoid."""
    one = x.dtype.type(1)
    for k in range(x.shape[0]):
        x[k] = x[k] + x[k] - one


@njit(cache=True, inline="always")
def _tanh_half(x, scratch):
    """``x <- tanh(x / 2)`` in place (callers store twice the argument), by
    ``tanh(y) = 2 s(2y) - 1``."""
    sigmoid_lanes(x, scratch)
    _tanh_from_sigmoid(x)


@njit(cache=True, inline="always")
def _preactivate_block(out, P, t, row, a, scale):
    """``out[r] = scale * (P[row + r, t] + a[r])`` for each row ``r`` of ``out`` and ``a``
    (u, B): one gate block of a block of units (``P`` (G*H, T, B), read in place)."""
    for r in range(out.shape[0]):
        _preactivate(out[r], P[row + r, t], a[r], scale)


@njit(cache=True, inline="always")
def _gate(z, q, j0, u):
    """Gate block ``q``'s rows of the ``u`` units from ``j0`` in a step's stored gates ``z``
    (4H, B): ``z[q*H + j0 : q*H + j0 + u]``, (u, B)."""
    row = q * (z.shape[0] // 4) + j0
    return z[row:row + u]


@njit(cache=True)
def _lstm_block(ab, P, t, j0, cs, gates, tanh_c, h, scratch):
    """Step ``t`` of the ``u`` units from ``j0``: ``ab`` (4u, B) their recurrent products as
    ``[i, f, g, o]`` blocks of ``u`` rows; ``P[:, t]`` and ``z = gates[t]`` (the step's stored
    gates) (4H, B); ``c_prev = cs[t]``, ``tc = tanh_c[t]``, ``h``, ``c = cs[t + 1]`` (H, B).
    (A call, not inlined, that takes the step's rows itself: in the parallel loop of
    :func:`_forward` Numba hoists the loop-invariant ``cs[t + 1]`` of a caller or of inlined
    code out of the cell's branch, and other cells' ``cs`` has one row.)"""
    c_prev, z, tc, c = cs[t], gates[t], tanh_c[t], cs[t + 1]
    u, units = ab.shape[0] // 4, h.shape[0]
    j1, one = j0 + u, h.dtype.type(1)
    for q in range(4):
        gate = _gate(z, q, j0, u)
        _preactivate_block(gate, P, t, q * units + j0, ab[q * u:(q + 1) * u],
                           one + one if q == 2 else one)
        sigmoid_lanes(gate.reshape(-1), scratch)
    i, f = _gate(z, 0, j0, u).reshape(-1), _gate(z, 1, j0, u).reshape(-1)
    g, o = _gate(z, 2, j0, u).reshape(-1), _gate(z, 3, j0, u).reshape(-1)
    cp, cn, tcb = c_prev[j0:j1].reshape(-1), c[j0:j1].reshape(-1), tc[j0:j1].reshape(-1)
    for k in range(cn.shape[0]):
        gk = g[k] + g[k] - one
        g[k] = gk
        ck = f[k] * cp[k] + i[k] * gk
        cn[k] = ck
        tcb[k] = ck + ck
    _tanh_half(tcb, scratch)
    hb = h[j0:j1].reshape(-1)
    for k in range(hb.shape[0]):
        hb[k] = o[k] * tcb[k]


@njit(cache=True)
def _gru_block(ab, P, t, j0, b_hn, h_prev, gates, h, scratch):
    """Step ``t`` of the ``u`` units from ``j0``: ``ab`` (3u, B) their recurrent products as
    ``[r, z, n]`` blocks of ``u`` rows; ``P[:, t]`` (3H, B); ``z = gates[t]`` (4H, B) the
    step's stored ``[r, z, n, U_n h + b_hn]``; ``h_prev``, ``h`` (H, B) (rows taken here, as
    in :func:`_lstm_block`)."""
    z = gates[t]
    u, units, batch = ab.shape[0] // 3, h.shape[0], h.shape[1]
    one = h.dtype.type(1)
    for q in range(2):
        gate = _gate(z, q, j0, u)
        _preactivate_block(gate, P, t, q * units + j0, ab[q * u:(q + 1) * u], one)
        sigmoid_lanes(gate.reshape(-1), scratch)
    reset, cand, hn = _gate(z, 0, j0, u), _gate(z, 2, j0, u), _gate(z, 3, j0, u)
    for r in range(u):
        p_n, a_n, bias = P[2 * units + j0 + r, t], ab[2 * u + r], b_hn[j0 + r]
        for s in range(batch):
            v = a_n[s] + bias
            hn[r, s] = v
            x = p_n[s] + reset[r, s] * v
            cand[r, s] = x + x
    cand = cand.reshape(-1)
    _tanh_half(cand, scratch)
    gz, hb, hp = _gate(z, 1, j0, u).reshape(-1), h[j0:j0 + u].reshape(-1), \
        h_prev[j0:j0 + u].reshape(-1)
    for k in range(hb.shape[0]):
        hb[k] = cand[k] + gz[k] * (hp[k] - cand[k])


@njit(cache=True)
def _rnn_block(ab, P, t, j0, relu, h, scratch):
    """One step of the ``u`` units from ``j0`` of the Elman RNN: ``ab`` (u, B) their
    recurrent products, ``P[:, t]`` and ``h`` (H, B)."""
    hb = h[j0:j0 + ab.shape[0]]
    one = h.dtype.type(1)
    _preactivate_block(hb, P, t, j0, ab, one if relu else one + one)
    hf = hb.reshape(-1)
    if relu:
        zero = one - one
        for k in range(hf.shape[0]):
            if hf[k] < zero:
                hf[k] = zero
    else:
        _tanh_half(hf, scratch)


BLOCK_BYTES = 1 << 19     # a block of units' recurrent products per step (G*u, B), within
#                           a quarter of a 2 MB L2 (32 KB blocks ran 0-10% slower, 1 MB ones
#                           2-9%: hidden 512, batch 64-256)


@njit(cache=True)
def block_units(gates, batch, itemsize, panel):
    """Units per block of the forward step: the block's products (``gates * u``, ``batch``)
    within :data:`BLOCK_BYTES`, ``u`` a multiple of ``panel`` (the packed product's panel
    height: each block is whole panels), at least one panel."""
    return max(1, BLOCK_BYTES // (gates * batch * itemsize) // panel) * panel


@njit(cache=True)
def _pack_blocked(UT, gates, block, out):
    """``out`` <- ``UT`` (G*H, H) packed (:func:`~neurosim.kernels.gemm.pack`) with its rows
    ordered by blocks of ``block`` units, each block's gate blocks together: block ``b``'s
    rows are ``q*H + j`` for ``q < G`` and ``b*block <= j < (b+1)*block``, in that order."""
    units = UT.shape[0] // gates
    order = np.empty(UT.shape[0], np.int64)
    row = 0
    for j0 in range(0, units, block):
        j1 = min(j0 + block, units)
        for q in range(gates):
            for j in range(j0, j1):
                order[row] = q * units + j
                row += 1
    pack(UT[order], out)


@njit(cache=True, inline="always")
def _load(dst, src, t):
    """``dst`` (R, B) <- ``src[:, t]`` of an (R, T, B) array."""
    for g in range(dst.shape[0]):
        d, v = dst[g], src[g, t]
        for k in range(d.shape[0]):
            d[k] = v[k]


@njit(cache=True, inline="always")
def _store(src, dst, t):
    """``dst[:, t]`` of an (R, T, B) array <- ``src`` (R, B)."""
    for g in range(src.shape[0]):
        d, v = dst[g, t], src[g]
        for k in range(d.shape[0]):
            d[k] = v[k]


def _forward(cell, P, UT, b_hn, lengths, hs, cs, gates, tanh_c, threads=1):
    """Run a cell over a whole sequence.

    Parameters
    ----------
    cell : int
    P : (G*H, T, B)
        Input pre-activations ``W.T x_t + b`` of every step (one product over all steps).
    UT : (G*H, H)
        ``U.T``, C-contiguous: packed once (:func:`~neurosim.kernels.gemm.pack`), its rows
        grouped by blocks of units (:func:`block_units`); each step makes a block's products
        ``UT @ h_{t-1}`` (:func:`~neurosim.kernels.gemm.packed_matmul`) and at once, while
        they are in L2, the block's gate math. :func:`recurrent_forward_parallel` runs a
        step's blocks on Numba's threads.
    b_hn : (H,)
        GRU's candidate recurrent bias; unused otherwise.
    lengths : (B,) int64
        Steps of each sequence; from step ``lengths[s]`` on, sample ``s``'s states are held.
    hs : (H, T + 1, B)
        ``hs[:, 0]`` the initial state; filled with ``h_1 .. h_T`` (the layout of ``P``, so
        that ``hs[:, :T]`` is one (H, T*B) matrix for the weight gradient's product).
    cs : (T + 1, H, B)
        LSTM cell states (``cs[0]`` the initial one); any shape otherwise.
    gates : (T, 4H, B)
        Filled for the backward pass: LSTM ``[i, f, g, o]``, GRU ``[r, z, n, U_n h + b_hn]``;
        any shape for the RNN.
    tanh_c : (T, H, B)
        LSTM ``tanh(c_t)``; any shape otherwise.
    threads : int
        The threads that share a step (:func:`recurrent_forward_parallel`): the units split
        into at least that many blocks.
    """
    word = flush_subnormals()      # subnormals as zeros (see .fpenv), until the end
    units, batch = hs.shape[0], hs.shape[2]
    gates_n = UT.shape[0] // units
    panel = packed_shape(1, 1)[2]
    block = min(block_units(gates_n, batch, hs.itemsize, panel),      # a block in L2, and
                -(-units // (threads * panel)) * panel)                 # one for each thread
    blocks = -(-units // block)
    a = np.empty((blocks, gates_n * min(block, units), batch), hs.dtype)    # per block: no
    scratch = np.empty((blocks, block * batch), hs.dtype)                  # sharing in prange
    h_prev, h = np.empty((units, batch), hs.dtype), np.empty((units, batch), hs.dtype)
    weights = np.empty(packed_shape(UT.shape[0], UT.shape[1]), hs.dtype)
    _pack_blocked(UT, gates_n, block, weights)
    _load(h_prev, hs, 0)
    for t in range(P.shape[1]):
        for b in prange(blocks):      # a block's products, then at once its gates
            inner = flush_subnormals()      # in this thread too (the control word is per thread)
            j0 = b * block
            rows = gates_n * (min(j0 + block, units) - j0)
            ab = a[b, :rows]
            p0 = gates_n * j0 // panel
            packed_matmul(weights[p0:p0 + -(-rows // panel)], h_prev, ab)
            if cell == LSTM:
                _lstm_block(ab, P, t, j0, cs, gates, tanh_c, h, scratch[b])
            elif cell == GRU:
                _gru_block(ab, P, t, j0, b_hn, h_prev, gates, h, scratch[b])
            else:
                _rnn_block(ab, P, t, j0, cell == RNN_RELU, h, scratch[b])
            restore(inner)
        for s in range(batch):
            if t >= lengths[s]:
                for j in range(units):
                    h[j, s] = h_prev[j, s]
                    if cell == LSTM:
                        cs[t + 1, j, s] = cs[t, j, s]
        _store(h, hs, t + 1)
        h_prev, h = h, h_prev
    restore(word)


recurrent_forward, recurrent_forward_parallel = twins(_forward)
PARALLEL_WORK = 1 << 24   # multiply-adds of a step's products (0.1 ms on one core) from which
#                           starting the threads at every step is a small cost


@njit(cache=True, inline="always")
def _lstm_back(dh, dc, c_prev, z, tc, dz):
    """One step, flat: ``dc`` enters as d/dc_t and leaves as d/dc_{t-1}; ``dz`` (4n)."""
    n, one = dh.shape[0], dh.dtype.type(1)
    gi, gf, gg, go = z[:n], z[n:2 * n], z[2 * n:3 * n], z[3 * n:]
    di, df, dg, do = dz[:n], dz[n:2 * n], dz[2 * n:3 * n], dz[3 * n:]
    for k in range(n):
        i, f, g, o, t = gi[k], gf[k], gg[k], go[k], tc[k]
        d = dc[k] + dh[k] * o * (one - t * t)
        di[k] = d * g * i * (one - i)
        df[k] = d * c_prev[k] * f * (one - f)
        dg[k] = d * i * (one - g * g)
        do[k] = dh[k] * t * o * (one - o)
        dc[k] = d * f


@njit(cache=True, inline="always")
def _gru_back(dh, h_prev, z, dp, da, direct):
    """One step, flat (``n = H*B``): ``dp``, ``da`` (3n); ``direct = dh * z``."""
    n, one = dh.shape[0], dh.dtype.type(1)
    gr, gz, gn, ghn = z[:n], z[n:2 * n], z[2 * n:3 * n], z[3 * n:]
    dp_r, dp_z, dp_n = dp[:n], dp[n:2 * n], dp[2 * n:]
    da_r, da_z, da_n = da[:n], da[n:2 * n], da[2 * n:]
    for k in range(n):
        r, zz, cand, hn, d = gr[k], gz[k], gn[k], ghn[k], dh[k]
        dcand = d * (one - zz) * (one - cand * cand)
        dr = dcand * hn * r * (one - r)
        dzz = d * (h_prev[k] - cand) * zz * (one - zz)
        dp_r[k] = dr
        dp_z[k] = dzz
        dp_n[k] = dcand
        da_r[k] = dr
        da_z[k] = dzz
        da_n[k] = dcand * r
        direct[k] = d * zz


@njit(cache=True)
def recurrent_backward(cell, dH, U, lengths, hs, cs, gates, tanh_c, dP, dA, dh, dc):
    """Backpropagation through time over a sequence run by :func:`recurrent_forward`.

    ``dH`` (T, H, B) or (0, H, B): gradients of every ``h_t``; ``U`` (H, G*H) C-contiguous
    (packed once, each step makes ``U @ dA_t``); ``dP`` (G*H, T, B) filled with the gradients
    of the input pre-activations; ``dA`` (H, T, B), GRU only (other cells ignore it), with those of
    the recurrent candidate block ``U_n h + b_hn`` (the other blocks' are ``dP``'s); ``dh``,
    ``dc`` (H, B): on entry the gradients of ``h_T``, ``c_T`` from outside, on return those of the
    initial states. Held steps (``t >= lengths[s]``) pass sample ``s``'s gradients through."""
    word = flush_subnormals()
    units, batch = dh.shape
    carry = np.zeros_like(dh)        # what reaches h_{t-1} besides U @ dA_t
    kept = np.zeros_like(dc)
    dz = np.empty((dP.shape[0], batch), dh.dtype)
    da = np.empty_like(dz) if cell == GRU else dz
    h = np.empty_like(dh)
    weights = np.empty(packed_shape(U.shape[0], U.shape[1]), dh.dtype)
    pack(U, weights)
    for t in range(dP.shape[1] - 1, -1, -1):
        if dH.shape[0]:
            dh += dH[t]
        held = False
        for s in range(batch):
            if t >= lengths[s]:
                held = True
                for j in range(units):
                    kept[j, s] = dc[j, s]
        dhf, dzf = dh.reshape(-1), dz.reshape(-1)
        if cell == LSTM:
            _lstm_back(dhf, dc.reshape(-1), cs[t].reshape(-1), gates[t].reshape(-1),
                       tanh_c[t].reshape(-1), dzf)
        elif cell == GRU:
            _load(h, hs, t)
            _gru_back(dhf, h.reshape(-1), gates[t].reshape(-1), dzf, da.reshape(-1),
                      carry.reshape(-1))
        else:
            _load(h, hs, t + 1)
            hf, one = h.reshape(-1), dh.dtype.type(1)
            if cell == RNN_RELU:     # relu'(z) from the output: 1 where h > 0 (PyTorch's)
                for k in range(dhf.shape[0]):
                    dzf[k] = dhf[k] if hf[k] > 0 else one - one
            else:
                for k in range(dhf.shape[0]):
                    dzf[k] = dhf[k] * (one - hf[k] * hf[k])
        if held:
            for s in range(batch):
                if t >= lengths[s]:
                    for g in range(dz.shape[0]):
                        dz[g, s] = 0.0
                        da[g, s] = 0.0
                    for j in range(units):
                        carry[j, s] = dh[j, s]
                        dc[j, s] = kept[j, s]
        _store(dz, dP, t)
        if cell == GRU:
            _store(da[2 * units:], dA, t)
        packed_matmul(weights, da, dh)
        if cell == GRU or held:
            dh += carry
            if cell != GRU:
                carry[...] = 0.0
    restore(word)


_BLOCK = 256     # columns per block of input_gradients (a block of X or gx stays in L1)


@njit(cache=True)
def input_products(X, W, b, P):
    """``P = W.T X + b``: ``X`` (F, N), ``W`` (F, G*H), ``b`` (G*H,), ``P`` (G*H, N), by the
    packed product (:mod:`.gemm`; ``W.T`` packed, the bias added in the tiles)."""
    weights = np.empty(packed_shape(W.shape[1], W.shape[0]), P.dtype)
    pack(W.T, weights)
    packed_matmul(weights, X, P, b)


@njit(cache=True, fastmath=True, error_model="numpy")
def input_gradients(X, dP, W, gx, gW, gb):
    """The input side of :func:`recurrent_backward` for few input features, one pass over
    ``dP`` (G*H, N) by blocks of columns: ``gx = W dP`` (F, N; skipped when ``gx`` has no
    rows), ``gW = X dP.T`` (F, G*H) and ``gb`` the sum of ``dP`` over its columns; ``X``
    (F, N) and ``W`` (F, G*H) as in the forward pass."""
    gW[...] = 0.0
    gb[...] = 0.0
    if gx.shape[0]:
        gx[...] = 0.0
    zero = dP.dtype.type(0)
    features, width = W.shape
    for lo in range(0, dP.shape[1], _BLOCK):
        hi = min(lo + _BLOCK, dP.shape[1])
        for g in range(width):
            d = dP[g, lo:hi]
            acc = zero
            for k in range(hi - lo):
                acc += d[k]
            gb[g] += acc
            for f in range(features):
                x = X[f, lo:hi]
                acc = zero
                for k in range(hi - lo):
                    acc += x[k] * d[k]
                gW[f, g] += acc
                if gx.shape[0]:
                    w, out = W[f, g], gx[f, lo:hi]
                    for k in range(hi - lo):
                        out[k] += w * d[k]
