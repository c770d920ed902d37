"""Whole-sequence kernels of the recurrent cells (Elman RNN, LSTM, GRU): the forward pass
stores what backpropagation through time needs, the backward pass runs it.

Everything is time-major and C-contiguous. The caller makes the input products ``x_t W + b``
of all steps in one GEMM; each step makes the recurrent product ``h_{t-1} U`` for the whole batch
(BLAS: NumPy's own where found, :mod:`.blas`) and then the cell's gate math: pre-activations, the sigmoids in SIMD lanes
(:func:`sigmoid_lanes`; ``tanh(x) = 2 s(2x) - 1``), the state update; the GRU and RNN sample by
sample (a sample's row of gates stays in L1 through its passes), the LSTM with each sigmoid pass
over the whole batch. Loops run over views from index 0: an offset index would make Numba's
negative-index check turn them into gathers and scatters.
``G`` gate blocks of ``H`` units: 1 for the RNN, 4 for the LSTM (input, forget, cell candidate,
output), 3 for the GRU (reset, update, candidate). ``cell`` selects the cell by its code
:data:`RNN`, :data:`LSTM` or :data:`GRU`.

Stored per step (``gates``, (B, STORED*H)): LSTM, read flat, the rows ``[i, f, g, o]`` (4H) of
every sample and then their rows ``tanh(c)`` (H), so that its sigmoid passes cover the whole
batch; GRU per sample ``[r, z, n, U_n h + b_hn]`` (4H); RNN nothing (its output ``h`` is all it
needs).
"""
import numpy as np
from numba import njit

from .blas import matmul
from .scalar import sigmoid_lanes

RNN, LSTM, GRU = 0, 1, 2
GATES = {RNN: 1, LSTM: 4, GRU: 3}     # gate blocks in W, U, b
STORED = {RNN: 0, LSTM: 5, GRU: 4}    # blocks of ``gates`` kept for the backward pass


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
def _rnn_step(p, a, h, scratch):
    _preactivate(h, p, a, h.dtype.type(2))
    sigmoid_lanes(h, scratch)
    _tanh_from_sigmoid(h)


@njit(cache=True, inline="always")
def _lstm_rows(gates):
    """An LSTM step's stored gates (B, 5H), read flat, as ``(ifgo, tanh_c)``: the rows
    ``[i, f, g, o]`` (B, 4H) of every sample, then the rows ``tanh(c)`` (B, H)."""
    batch, n = gates.shape[0], gates.shape[1] // 5
    flat = gates.reshape(-1)
    return (flat[:batch * 4 * n].reshape(batch, 4 * n),
            flat[batch * 4 * n:].reshape(batch, n))


@njit(cache=True, inline="always")
def _lstm_step(p, a, c_prev, gates, h, c, scratch):
    """One step of the whole batch (``p``, ``a`` (B, 4H); ``c_prev``, ``h``, ``c`` (B, H)):
    ``gates`` (B, 5H) is filled as :func:`_lstm_rows` reads it, so that each sigmoid pass covers
    the batch (``scratch`` at least B*4H)."""
    n, one, two = h.shape[1], h.dtype.type(1), h.dtype.type(2)
    ifgo, tanh_c = _lstm_rows(gates)
    for s in range(h.shape[0]):
        z, ps, a_s = ifgo[s], p[s], a[s]
        _preactivate(z[:2 * n], ps[:2 * n], a_s[:2 * n], one)
        _preactivate(z[2 * n:3 * n], ps[2 * n:3 * n], a_s[2 * n:3 * n], two)
        _preactivate(z[3 * n:], ps[3 * n:], a_s[3 * n:], one)
    sigmoid_lanes(ifgo.reshape(-1), scratch)
    for s in range(h.shape[0]):
        z, c_s, tc, cp = ifgo[s], c[s], tanh_c[s], c_prev[s]
        i, f, g = z[:n], z[n:2 * n], z[2 * n:3 * n]
        _tanh_from_sigmoid(g)
        for j in range(n):
            c_s[j] = f[j] * cp[j] + i[j] * g[j]
            tc[j] = c_s[j] + c_s[j]
    flat_tc = tanh_c.reshape(-1)
    sigmoid_lanes(flat_tc, scratch)
    _tanh_from_sigmoid(flat_tc)
    for s in range(h.shape[0]):
        o, tc, h_s = ifgo[s, 3 * n:], tanh_c[s], h[s]
        for j in range(n):
            h_s[j] = o[j] * tc[j]


@njit(cache=True, inline="always")
def _gru_step(p, a, b_hn, h_prev, gates, h, scratch):
    """One sample: ``gates`` (4H) becomes ``[r, z, n, U_n h + b_hn]``."""
    n = h.shape[0]
    _preactivate(gates[:2 * n], p[:2 * n], a[:2 * n], h.dtype.type(1))
    sigmoid_lanes(gates[:2 * n], scratch)
    r, z, cand, hn = gates[:n], gates[n:2 * n], gates[2 * n:3 * n], gates[3 * n:]
    p_n, a_n = p[2 * n:], a[2 * n:]
    for j in range(n):
        hn[j] = a_n[j] + b_hn[j]
        x = p_n[j] + r[j] * hn[j]
        cand[j] = x + x
    sigmoid_lanes(cand, scratch)
    _tanh_from_sigmoid(cand)
    for j in range(n):
        h[j] = cand[j] + z[j] * (h_prev[j] - cand[j])


@njit(cache=True, inline="always")
def _add_in_place(x, y):
    """``x <- x + y`` (vectors of one length)."""
    for k in range(x.shape[0]):
        x[k] += y[k]


@njit(cache=True)
def recurrent_forward(cell, P, U, b_hn, lengths, hs, cs, gates, gemm):
    """Run a cell over a whole sequence whose input products are made.

    Parameters
    ----------
    cell : int
        :data:`RNN`, :data:`LSTM` or :data:`GRU`.
    P : (T, B, G*H)
        Input pre-activations ``x_t W + b`` of every step (one GEMM over all steps, made by
        the caller).
    U : (H, G*H)
        Recurrent weights.
    b_hn : (H,)
        GRU: recurrent bias of the candidate (inside the reset gate); unused otherwise.
    lengths : (B,) int64
        Steps of each sequence; from step ``lengths[s]`` on, sample ``s``'s states stay as they
        were (``hs[t + 1, s] = hs[t, s]``), so ``hs[T]`` holds each sequence's last valid state.
    hs : (T + 1, B, H)
        ``hs[0]`` the initial state on entry; filled with ``h_1 .. h_T``.
    cs : (T + 1, B, H)
        LSTM cell states, ``cs[0]`` the initial one; unused (any shape) otherwise.
    gates : (T, B, STORED*H)
        Filled with what :func:`recurrent_backward` needs; unused for the RNN.
    gemm : ctypes function or None
        NumPy's BLAS product (:func:`~neurosim.kernels.blas.numpy_gemm`) for the recurrent
        product of every step, or None for ``np.dot``.

    The sigmoids and tanh run in SIMD lanes of the arrays' dtype (:func:`sigmoid_lanes`).
    """
    a = np.empty((hs.shape[1], U.shape[1]), hs.dtype)     # h_{t-1} U
    scratch = np.empty(a.size, hs.dtype)
    for t in range(P.shape[0]):
        p = P[t]
        matmul(gemm, hs[t], U, a)
        if cell == LSTM:
            _lstm_step(p, a, cs[t], gates[t], hs[t + 1], cs[t + 1], scratch)
        elif cell == GRU:
            for s in range(a.shape[0]):
                _gru_step(p[s], a[s], b_hn, hs[t, s], gates[t, s], hs[t + 1, s], scratch)
        else:
            for s in range(a.shape[0]):
                _rnn_step(p[s], a[s], hs[t + 1, s], scratch)
        for s in range(a.shape[0]):
            if t >= lengths[s]:          # past the sequence's end: the state is held
                hs[t + 1, s] = hs[t, s]
                if cell == LSTM:
                    cs[t + 1, s] = cs[t, s]


@njit(cache=True, inline="always")
def _rnn_back(dh, h, dz):
    """One sample: ``dz = dh * (1 - h**2)``."""
    one = dh.dtype.type(1)
    for j in range(dh.shape[0]):
        dz[j] = dh[j] * (one - h[j] * h[j])


@njit(cache=True, inline="always")
def _lstm_back(dh, dc, c_prev, ifgo, tanh_c, dz):
    """One sample (``ifgo``, ``tanh_c``: its rows from :func:`_lstm_rows`): ``dc`` enters as
    d/dc_t (from step t+1) and leaves as d/dc_{t-1}."""
    n, one = dh.shape[0], dh.dtype.type(1)
    gi, gf, gg, go = ifgo[:n], ifgo[n:2 * n], ifgo[2 * n:3 * n], ifgo[3 * n:]
    di, df, dg, do = dz[:n], dz[n:2 * n], dz[2 * n:3 * n], dz[3 * n:]
    for j in range(n):
        i, f, g, o, tc = gi[j], gf[j], gg[j], go[j], tanh_c[j]
        d = dc[j] + dh[j] * o * (one - tc * tc)
        di[j] = d * g * i * (one - i)
        df[j] = d * c_prev[j] * f * (one - f)
        dg[j] = d * i * (one - g * g)
        do[j] = dh[j] * tc * o * (one - o)
        dc[j] = d * f


@njit(cache=True, inline="always")
def _gru_back(dh, h_prev, gates, dp, da, direct):
    """One sample. ``dp``: input pre-activations; ``da``: recurrent ones; ``direct``:
    ``dh * z`` (the gradient reaching ``h_{t-1}`` through the update gate's carry)."""
    n, one = dh.shape[0], dh.dtype.type(1)
    gr, gz, gn, ghn = gates[:n], gates[n:2 * n], gates[2 * n:3 * n], gates[3 * n:]
    dp_r, dp_z, dp_n = dp[:n], dp[n:2 * n], dp[2 * n:]
    da_r, da_z, da_n = da[:n], da[n:2 * n], da[2 * n:]
    for j in range(n):
        r, z, cand, hn = gr[j], gz[j], gn[j], ghn[j]
        d = dh[j]
        dcand = d * (one - z) * (one - cand * cand)
        dr = dcand * hn * r * (one - r)
        dzz = d * (h_prev[j] - cand) * z * (one - z)
        dp_r[j] = dr
        dp_z[j] = dzz
        dp_n[j] = dcand
        da_r[j] = dr
        da_z[j] = dzz
        da_n[j] = dcand * r
        direct[j] = d * z


@njit(cache=True)
def recurrent_backward(cell, dH, UT, lengths, hs, cs, gates, dP, dA, dh, dc, gemm):
    """Backpropagation through time over a sequence run by :func:`recurrent_forward`.

    Parameters
    ----------
    cell : int
    dH : (T, B, H) or (0, B, H)
        Gradient of the loss with respect to every ``h_t``; empty when only the last state is
        an output (its gradient is then in ``dh`` on entry).
    UT : (G*H, H)
        ``U.T``, C-contiguous.
    lengths : (B,) int64
        As for :func:`recurrent_forward`: a held step passes ``dh`` and ``dc`` through and
        leaves zeros in ``dP`` and ``dA``.
    hs, cs, gates
        As filled by :func:`recurrent_forward`.
    dP : (T, B, G*H)
        Filled with the gradient with respect to the input pre-activations ``P``.
    dA : (T, B, G*H)
        GRU: filled with the gradient with respect to the recurrent pre-activations
        ``h_{t-1} U`` (and ``b_hn`` in the candidate block); the RNN and LSTM pass ``dP`` again.
    dh, dc : (B, H)
        Gradients flowing into ``h_T`` and (LSTM) ``c_T`` from outside on entry; on return the
        gradients with respect to the initial states ``h_0`` and ``c_0``.
    gemm : ctypes function or None
        As for :func:`recurrent_forward`.
    """
    carry = np.zeros_like(dh)     # what reaches h_{t-1} besides the recurrent product
    for t in range(dP.shape[0] - 1, -1, -1):
        if dH.shape[0]:
            dh += dH[t]
        held = False
        if cell == LSTM:
            ifgo, tanh_c = _lstm_rows(gates[t])
        for s in range(dh.shape[0]):
            if t >= lengths[s]:
                held = True
                dP[t, s] = 0.0
                dA[t, s] = 0.0
                carry[s] = dh[s]
            elif cell == LSTM:
                _lstm_back(dh[s], dc[s], cs[t, s], ifgo[s], tanh_c[s], dP[t, s])
            elif cell == GRU:
                _gru_back(dh[s], hs[t, s], gates[t, s], dP[t, s], dA[t, s], carry[s])
            else:
                _rnn_back(dh[s], hs[t + 1, s], dP[t, s])
        matmul(gemm, dA[t], UT, dh)
        if cell == GRU or held:
            dh += carry
            if held and cell != GRU:
                carry[...] = 0.0


SMALL_INPUTS = 32     # up to this many input features, input_gradients beats BLAS's skinny GEMMs


@njit(cache=True, fastmath=True, error_model="numpy")
def input_gradients(x, dP, W, gx, gW, gb):
    """The input side of BPTT in one pass over ``dP`` (n, G*H) for few input features:
    ``gx = dP W.T`` (n, F) (skipped when ``gx`` has no rows), ``gW = x.T dP`` (F, G*H) and
    ``gb = dP.sum(0)``. ``x`` (n, F) and ``W`` (F, G*H) as in the forward pass; all
    C-contiguous. OpenBLAS handles these products (an inner or outer dimension of a few
    features) an order of magnitude below its speed on square ones; here each row of ``dP`` is
    read once while ``W``, ``gW`` and ``gb`` stay in cache."""
    gW[...] = 0.0
    gb[...] = 0.0
    features, width = W.shape
    for r in range(dP.shape[0]):
        d = dP[r]
        for j in range(width):
            gb[j] += d[j]
        for f in range(features):
            v = x[r, f]
            row = gW[f]
            for j in range(width):
                row[j] += v * d[j]
        if gx.shape[0]:
            for f in range(features):
                w = W[f]
                acc = d.dtype.type(0)
                for j in range(width):
                    acc += d[j] * w[j]
                gx[r, f] = acc


@njit(cache=True, fastmath=True, error_model="numpy")
def input_products(x, W, b, P):
    """``P = x W + b`` ((n, F) times (F, G*H)) row by row for few input features (see
    :data:`SMALL_INPUTS`), the bias added in the same pass."""
    features, width = W.shape
    for r in range(x.shape[0]):
        p = P[r]
        for j in range(width):
            p[j] = b[j]
        for f in range(features):
            v = x[r, f]
            w = W[f]
            for j in range(width):
                p[j] += v * w[j]
