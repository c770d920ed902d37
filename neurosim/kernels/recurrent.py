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
independent, and :func:`recurrent_forward_parallel` runs them on Numba's threads. The backward
step runs by blocks of units too, one a thread (:func:`recurrent_backward_parallel`): a block's
rows of ``U dA_{t+1}``, then at once its gate gradients of step ``t`` (``dA_t`` into the other
of two buffers, since the other blocks still read ``dA_{t+1}``). The input passes over the
whole sequence, :func:`input_products` and :func:`input_gradients`, have parallel twins too
(parts of the columns, of the rows). Every parallel twin gives its serial twin's bits
(:mod:`.threads`): the parts are independent and each sum keeps its order.
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
from .gemm import VECTOR_BYTES, pack, packed_matmul, packed_shape
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
PARALLEL_WORK = 1 << 20   # multiply-adds of a step's products from which a step's blocks run on
#                           the threads (2 threads, load 2, min of 500-2000 passes, forward /
#                           backward speed-up: LSTM hidden 64 batch 64 (2^20) 1.21 / 1.03,
#                           128/32 and 64/128 (2^21) 1.38 / 1.30 and 1.47 / 1.20, GRU 128/32
#                           (2^20.6) 1.26 / 1.20; below: GRU 64/64 1.05 / 0.94, LSTM 64/32
#                           0.89 / 0.86; a start of the threads costs 1.2 us)
PASS_WORK = 1 << 18       # multiply-adds of a pass over the whole sequence (input products,
#                           input gradients) from which its one start of the threads is a
#                           small cost


@njit(cache=True, inline="always")
def _rows(a, row, u):
    """``a[row:row + u]`` of a 2-D C-contiguous array, flat (u * B,)."""
    return a[row:row + u].reshape(-1)


@njit(cache=True, inline="always")
def _add_rows(dst, src, clear):
    """``dst += src`` (two (u, B) C-contiguous runs), then ``src = 0`` where ``clear``."""
    d, s = dst.reshape(-1), src.reshape(-1)
    for k in range(d.shape[0]):
        d[k] += s[k]
        if clear:
            s[k] = 0.0


@njit(cache=True)
def _lstm_back(t, j0, u, dh, dc, cs, gates, tanh_c, dz):
    """Step ``t`` of the ``u`` units from ``j0``: ``dh``, ``dc`` (H, B) rows ``j0:j0 + u``
    (``dc`` enters as d/dc_t and leaves as d/dc_{t-1}); ``cs[t]`` (c_{t-1}), ``tanh_c[t]`` (H, B),
    ``gates[t]`` (4H, B) ``[i, f, g, o]`` read; ``dz`` (4H, B) those units' rows written.
    (A call, not inlined, that takes the step's rows itself, as :func:`_lstm_block`.)"""
    units, one = dh.shape[0], dh.dtype.type(1)
    z = gates[t]
    dhb, dcb = _rows(dh, j0, u), _rows(dc, j0, u)
    cp, tc = _rows(cs[t], j0, u), _rows(tanh_c[t], j0, u)
    gi, gf = _rows(z, j0, u), _rows(z, units + j0, u)
    gg, go = _rows(z, 2 * units + j0, u), _rows(z, 3 * units + j0, u)
    di, df = _rows(dz, j0, u), _rows(dz, units + j0, u)
    dg, do = _rows(dz, 2 * units + j0, u), _rows(dz, 3 * units + j0, u)
    for k in range(dhb.shape[0]):
        i, f, g, o, c = gi[k], gf[k], gg[k], go[k], tc[k]
        d = dcb[k] + dhb[k] * o * (one - c * c)
        di[k] = d * g * i * (one - i)
        df[k] = d * cp[k] * f * (one - f)
        dg[k] = d * i * (one - g * g)
        do[k] = dhb[k] * c * o * (one - o)
        dcb[k] = d * f


@njit(cache=True)
def _gru_back(t, j0, u, dh, hs, gates, h, dp, da, direct):
    """Step ``t`` of the ``u`` units from ``j0``: ``dh`` (H, B) and ``gates[t]`` (4H, B)
    ``[r, z, n, U_n h + b_hn]`` read, ``h_{t-1} = hs[:, t]`` through the rows of ``h`` (H, B);
    ``dp``, ``da`` (3H, B) and ``direct = dh * z`` (H, B) those units' rows written."""
    units, one = dh.shape[0], dh.dtype.type(1)
    _load(h[j0:j0 + u], hs[j0:j0 + u], t)
    z = gates[t]
    dhb, hp, carry = _rows(dh, j0, u), _rows(h, j0, u), _rows(direct, j0, u)
    gr, gz = _rows(z, j0, u), _rows(z, units + j0, u)
    gn, ghn = _rows(z, 2 * units + j0, u), _rows(z, 3 * units + j0, u)
    dp_r, dp_z, dp_n = _rows(dp, j0, u), _rows(dp, units + j0, u), _rows(dp, 2 * units + j0, u)
    da_r, da_z, da_n = _rows(da, j0, u), _rows(da, units + j0, u), _rows(da, 2 * units + j0, u)
    for k in range(dhb.shape[0]):
        r, zz, cand, hn, d = gr[k], gz[k], gn[k], ghn[k], dhb[k]
        dcand = d * (one - zz) * (one - cand * cand)
        dr = dcand * hn * r * (one - r)
        dzz = d * (hp[k] - cand) * zz * (one - zz)
        dp_r[k] = dr
        dp_z[k] = dzz
        dp_n[k] = dcand
        da_r[k] = dr
        da_z[k] = dzz
        da_n[k] = dcand * r
        carry[k] = d * zz


@njit(cache=True)
def _rnn_back(t, j0, u, relu, dh, hs, h, dz):
    """Step ``t`` of the ``u`` units from ``j0`` of the Elman RNN: ``dz`` (H, B) those units'
    rows from ``dh`` and ``h_t = hs[:, t + 1]`` (through the rows of ``h``, (H, B))."""
    _load(h[j0:j0 + u], hs[j0:j0 + u], t + 1)
    dhb, hb, dzb, one = _rows(dh, j0, u), _rows(h, j0, u), _rows(dz, j0, u), dh.dtype.type(1)
    if relu:     # relu'(z) from the output: 1 where h > 0 (PyTorch's)
        for k in range(dhb.shape[0]):
            dzb[k] = dhb[k] if hb[k] > 0 else one - one
    else:
        for k in range(dhb.shape[0]):
            dzb[k] = dhb[k] * (one - hb[k] * hb[k])


@njit(cache=True)
def _back_block(cell, t, j0, u, dH, lengths, hs, cs, gates, tanh_c, dP, dA, dh, dc, carry,
                kept, dz, da, h):
    """Step ``t`` of the backward pass for the ``u`` units from ``j0``, once ``dh`` holds the
    gradient of ``h_t`` from the later steps: the outside gradient ``dH[t]`` added, the cell's
    gate gradients into those units' rows of ``dz`` (and GRU ``da``) and of ``dP[:, t]`` (GRU
    ``dA[:, t]``); held samples (``t >= lengths[s]``) pass ``dh`` (through ``carry``) and
    ``dc`` on and get zero gate gradients."""
    units, batch = dh.shape
    gates_n = dP.shape[0] // units
    if dH.shape[0]:
        _add_rows(dh[j0:j0 + u], dH[t, j0:j0 + u], False)
    for s in range(batch):
        if t >= lengths[s]:
            for j in range(j0, j0 + u):
                kept[j, s] = dc[j, s]
    if cell == LSTM:
        _lstm_back(t, j0, u, dh, dc, cs, gates, tanh_c, dz)
    elif cell == GRU:
        _gru_back(t, j0, u, dh, hs, gates, h, dz, da, carry)
    else:
        _rnn_back(t, j0, u, cell == RNN_RELU, dh, hs, h, dz)
    for s in range(batch):
        if t >= lengths[s]:
            for q in range(gates_n):
                for j in range(q * units + j0, q * units + j0 + u):
                    dz[j, s] = 0.0
                    da[j, s] = 0.0
            for j in range(j0, j0 + u):
                carry[j, s] = dh[j, s]
                dc[j, s] = kept[j, s]
    for q in range(gates_n):
        row = q * units + j0
        _store(dz[row:row + u], dP[row:row + u], t)
    if cell == GRU:
        _store(da[2 * units + j0:2 * units + j0 + u], dA[j0:j0 + u], t)


def _backward(cell, dH, U, lengths, hs, cs, gates, tanh_c, dP, dA, dh, dc, threads=1):
    """Backpropagation through time over a sequence run by :func:`recurrent_forward`.

    Parameters
    ----------
    cell : int
    dH : (T, H, B) or (0, H, B)
        Gradients of every ``h_t`` from outside (none: shape (0, H, B)).
    U : (H, G*H)
        C-contiguous: packed once; each step makes ``U @ dA_t`` by blocks of units (rows of
        ``U``), each block's rows of ``dh`` then at once its gate math of the step before.
    lengths, hs, cs, gates, tanh_c
        As for :func:`recurrent_forward` (filled by it).
    dP : (G*H, T, B)
        Filled with the gradients of the input pre-activations.
    dA : (H, T, B)
        GRU only (other cells ignore it): the gradients of the recurrent candidate block
        ``U_n h + b_hn`` (the other blocks' are ``dP``'s).
    dh, dc : (H, B)
        On entry the gradients of ``h_T``, ``c_T`` from outside; on return those of the
        initial states. Held steps (``t >= lengths[s]``) pass sample ``s``'s gradients through.
    threads : int
        The threads that share a step (:func:`recurrent_backward_parallel`): the units split
        into that many blocks of whole panels of ``U`` (fewer where there are fewer panels).

    A step's blocks are independent: each reads all of ``dA_{t+1}`` (the previous step's,
    in the other of two buffers) and writes only its own units' rows, so the blocks run on
    Numba's threads with the serial bits (a row of the product sums its depth in one order
    whatever the block).
    """
    word = flush_subnormals()
    units, batch = dh.shape
    steps, width = dP.shape[1], dP.shape[0]
    panel = packed_shape(1, 1)[2]
    block = -(-units // (threads * panel)) * panel    # one block a thread (whole panels of U)
    blocks = -(-units // block)
    first = steps       # the first step at which some sample is held
    for s in range(batch):
        first = min(first, lengths[s])
    carry = np.zeros_like(dh)        # what reaches h_{t-1} besides U @ dA_t
    kept = np.zeros_like(dc)
    das = np.empty((min(blocks, 2), width, batch), dh.dtype)   # dA_t and dA_{t+1} (one
    #                                                            block: in turn in one buffer)
    dz = np.empty((width, batch), dh.dtype)           # GRU's input side (others': dA_t)
    h = np.empty_like(dh)
    weights = np.empty(packed_shape(U.shape[0], U.shape[1]), dh.dtype)
    pack(U, weights)
    for t in range(steps, -1, -1):      # the product of step t, the gate math of step t - 1
        for b in prange(blocks):
            inner = flush_subnormals()      # in this thread too (the control word is per thread)
            j0 = b * block
            u = min(block, units - j0)
            if t < steps:
                rows = dh[j0:j0 + u]
                p0 = j0 // panel
                packed_matmul(weights[p0:p0 + -(-u // panel)], das[t % das.shape[0]], rows)
                if cell == GRU or t >= first:
                    _add_rows(rows, carry[j0:j0 + u], cell != GRU)
            if t > 0:
                da = das[(t - 1) % das.shape[0]]
                _back_block(cell, t - 1, j0, u, dH, lengths, hs, cs, gates, tanh_c, dP, dA,
                            dh, dc, carry, kept, dz if cell == GRU else da, da, h)
            restore(inner)
    restore(word)


recurrent_backward, recurrent_backward_parallel = twins(_backward)


_BLOCK = 256     # columns per block of input_gradients (a block of X or gx stays in L1)


def _input_products(X, W, b, P, threads=1):
    """``P = W.T X + b``: ``X`` (F, N), ``W`` (F, G*H), ``b`` (G*H,), ``P`` (G*H, N), by the
    packed product (:mod:`.gemm`; ``W.T`` packed, the bias added in the tiles), in ``threads``
    parts of the columns (:func:`input_products_parallel` runs them on Numba's threads). The
    parts start at whole tiles of two SIMD vectors, so that every column meets the same tile
    (or the same remainder) as in one call: the bits do not depend on ``threads``."""
    weights = np.empty(packed_shape(W.shape[1], W.shape[0]), P.dtype)
    pack(W.T, weights)
    n, tile = X.shape[1], 2 * VECTOR_BYTES // P.itemsize
    tiles = -(-n // tile)
    for part in prange(threads):
        lo = min(n, part * tiles // threads * tile)
        hi = min(n, (part + 1) * tiles // threads * tile)
        packed_matmul(weights, X[:, lo:hi], P[:, lo:hi], b)


input_products, input_products_parallel = twins(_input_products)


def _input_gradients(X, dP, W, gx, gW, gb, threads=1):
    """The input side of :func:`recurrent_backward` for few input features: ``gW = X dP.T``
    (F, G*H) and ``gb`` the sum of ``dP`` (G*H, N) over its columns, in ``threads`` parts of
    the rows of ``dP`` (each row's sums by blocks of columns, in order); then ``gx = W dP``
    (F, N; skipped when ``gx`` has no rows) by blocks of columns, each column's terms in the
    order of the rows; ``X`` (F, N) and ``W`` (F, G*H) as in the forward pass.
    :func:`input_gradients_parallel` runs the parts and the blocks on Numba's threads, with the
    same bits."""
    zero = dP.dtype.type(0)
    features, width = W.shape
    n = dP.shape[1]
    for part in prange(threads):
        g0, g1 = part * width // threads, (part + 1) * width // threads
        for g in range(g0, g1):
            gb[g] = zero
            for f in range(features):
                gW[f, g] = zero
        for lo in range(0, n, _BLOCK):
            hi = min(lo + _BLOCK, n)
            for g in range(g0, g1):
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
    for c in prange(-(-n // _BLOCK) if gx.shape[0] else 0):
        lo = c * _BLOCK
        hi = min(lo + _BLOCK, n)
        for f in range(features):
            out = gx[f, lo:hi]
            for k in range(hi - lo):
                out[k] = zero
        for g in range(width):
            d = dP[g, lo:hi]
            for f in range(features):
                w, out = W[f, g], gx[f, lo:hi]
                for k in range(hi - lo):
                    out[k] += w * d[k]


input_gradients, input_gradients_parallel = twins(_input_gradients, fastmath=True,
                                                  error_model="numpy")
