"""Whole-sequence kernels of the recurrent cells (Elman RNN, LSTM, GRU): the forward pass
stores what backpropagation through time needs, the backward pass runs it.

Everything is time-major and C-contiguous: ``P`` (time, batch, G*H) holds the input
pre-activations ``x_t W + b`` of all steps (one GEMM, done by the caller); each step adds the
recurrent product ``h_{t-1} U`` (``np.dot``, BLAS) and applies the cell's element-wise gate
math in one fused loop. ``G`` gate blocks of ``H`` units: 1 for the RNN, 4 for the LSTM (input,
forget, cell candidate, output), 3 for the GRU (reset, update, candidate). ``cell`` selects the
cell by its code :data:`RNN`, :data:`LSTM` or :data:`GRU`.

Stored per step (``gates``): LSTM ``[i, f, g, o, tanh(c)]`` (5H), GRU ``[r, z, n, U_n h + b_hn]``
(4H), RNN nothing (its output ``h`` is all it needs).
"""
import numpy as np
from numba import njit

from .scalar import logistic_rows

RNN, LSTM, GRU = 0, 1, 2
GATES = {RNN: 1, LSTM: 4, GRU: 3}     # gate blocks in W, U, b
STORED = {RNN: 0, LSTM: 5, GRU: 4}    # blocks of ``gates`` kept for the backward pass


@njit(cache=True, inline="always")
def _sigmoid_of_sum(p, a, width, doubled, z, scratch):
    """``z[b * width + k] = s(m_k (p[b, k] + a[b, k]))`` for ``k < width``, with ``m_k = 2`` on
    the ``doubled`` (first, last) columns and 1 elsewhere (a tanh block:
    ``tanh(x) = 2 s(2x) - 1``); the sigmoids in float64 SIMD lanes."""
    for b in range(p.shape[0]):
        row = b * width
        for k in range(width):
            z[row + k] = p[b, k] + a[b, k]
        for k in range(doubled[0], doubled[1]):
            z[row + k] *= 2.0
    logistic_rows(z, scratch)


@njit(cache=True, inline="always")
def _rnn_step(p, a, h, z, scratch):
    n = h.shape[1]
    _sigmoid_of_sum(p, a, n, (0, n), z, scratch)
    for b in range(h.shape[0]):
        for j in range(n):
            h[b, j] = 2.0 * z[b * n + j] - 1.0


@njit(cache=True, inline="always")
def _lstm_step(p, a, c_prev, gates, h, c, z, zc, scratch):
    n = h.shape[1]
    _sigmoid_of_sum(p, a, 4 * n, (2 * n, 3 * n), z, scratch)
    for b in range(h.shape[0]):
        row = 4 * n * b
        for j in range(n):
            i, f = z[row + j], z[row + n + j]
            g = 2.0 * z[row + 2 * n + j] - 1.0
            cell = f * c_prev[b, j] + i * g
            c[b, j] = cell
            zc[b * n + j] = 2.0 * cell
            gates[b, j] = i
            gates[b, n + j] = f
            gates[b, 2 * n + j] = g
            gates[b, 3 * n + j] = z[row + 3 * n + j]
    logistic_rows(zc, scratch)
    for b in range(h.shape[0]):
        for j in range(n):
            tc = 2.0 * zc[b * n + j] - 1.0
            h[b, j] = gates[b, 3 * n + j] * tc
            gates[b, 4 * n + j] = tc


@njit(cache=True, inline="always")
def _gru_step(p, a, b_hn, h_prev, gates, h, z, zc, scratch):
    n = h.shape[1]
    _sigmoid_of_sum(p, a, 2 * n, (0, 0), z, scratch)
    for b in range(h.shape[0]):
        row = 2 * n * b
        for j in range(n):
            r = z[row + j]
            hn = a[b, 2 * n + j] + b_hn[j]
            zc[b * n + j] = 2.0 * (p[b, 2 * n + j] + r * hn)
            gates[b, j] = r
            gates[b, n + j] = z[row + n + j]
            gates[b, 3 * n + j] = hn
    logistic_rows(zc, scratch)
    for b in range(h.shape[0]):
        for j in range(n):
            cand = 2.0 * zc[b * n + j] - 1.0
            h[b, j] = cand + gates[b, n + j] * (h_prev[b, j] - cand)
            gates[b, 2 * n + j] = cand


@njit(cache=True)
def recurrent_forward(cell, P, U, b_hn, hs, cs, gates):
    """Run a cell over a whole sequence.

    Parameters
    ----------
    cell : int
        :data:`RNN`, :data:`LSTM` or :data:`GRU`.
    P : (T, B, G*H)
        Input pre-activations ``x_t W + b``.
    U : (H, G*H)
        Recurrent weights.
    b_hn : (H,)
        GRU: recurrent bias of the candidate (inside the reset gate); unused otherwise.
    hs : (T + 1, B, H)
        ``hs[0]`` the initial state on entry; filled with ``h_1 .. h_T``.
    cs : (T + 1, B, H)
        LSTM cell states, ``cs[0]`` the initial one; unused (any shape) otherwise.
    gates : (T, B, STORED*H)
        Filled with what :func:`recurrent_backward` needs; unused for the RNN.

    The sigmoids and tanh run in float64 SIMD lanes whatever the dtype of the arrays.
    """
    batch, width = hs.shape[1], U.shape[1]
    a = np.empty((batch, width), P.dtype)
    z, zc, scratch = np.empty(batch * width), np.empty(batch * hs.shape[2]), np.empty(batch * width)
    for t in range(P.shape[0]):
        np.dot(hs[t], U, a)
        if cell == LSTM:
            _lstm_step(P[t], a, cs[t], gates[t], hs[t + 1], cs[t + 1], z, zc, scratch)
        elif cell == GRU:
            _gru_step(P[t], a, b_hn, hs[t], gates[t], hs[t + 1], z, zc, scratch)
        else:
            _rnn_step(P[t], a, hs[t + 1], z, scratch)


@njit(cache=True, inline="always")
def _rnn_back(dh, h, dz):
    for b in range(dh.shape[0]):
        for j in range(dh.shape[1]):
            dz[b, j] = dh[b, j] * (1.0 - h[b, j] * h[b, j])


@njit(cache=True, inline="always")
def _lstm_back(dh, dc, c_prev, gates, dz):
    """``dc`` enters as d/dc_t (from step t+1) and leaves as d/dc_{t-1}."""
    n = dh.shape[1]
    for b in range(dh.shape[0]):
        for j in range(n):
            i, f, g = gates[b, j], gates[b, n + j], gates[b, 2 * n + j]
            o, tc = gates[b, 3 * n + j], gates[b, 4 * n + j]
            d = dc[b, j] + dh[b, j] * o * (1.0 - tc * tc)
            dz[b, j] = d * g * i * (1.0 - i)
            dz[b, n + j] = d * c_prev[b, j] * f * (1.0 - f)
            dz[b, 2 * n + j] = d * i * (1.0 - g * g)
            dz[b, 3 * n + j] = dh[b, j] * tc * o * (1.0 - o)
            dc[b, j] = d * f


@njit(cache=True, inline="always")
def _gru_back(dh, h_prev, gates, dp, da, direct):
    """``dp``: input pre-activations; ``da``: recurrent ones; ``direct``: ``dh * z`` (the
    gradient reaching ``h_{t-1}`` through the update gate's carry)."""
    n = dh.shape[1]
    for b in range(dh.shape[0]):
        for j in range(n):
            r, z = gates[b, j], gates[b, n + j]
            cand, hn = gates[b, 2 * n + j], gates[b, 3 * n + j]
            d = dh[b, j]
            dcand = d * (1.0 - z) * (1.0 - cand * cand)
            dr = dcand * hn * r * (1.0 - r)
            dzz = d * (h_prev[b, j] - cand) * z * (1.0 - z)
            dp[b, j] = dr
            dp[b, n + j] = dzz
            dp[b, 2 * n + j] = dcand
            da[b, j] = dr
            da[b, n + j] = dzz
            da[b, 2 * n + j] = dcand * r
            direct[b, j] = d * z


@njit(cache=True)
def recurrent_backward(cell, dH, UT, hs, cs, gates, dP, dA, dh, dc):
    """Backpropagation through time over a sequence run by :func:`recurrent_forward`.

    Parameters
    ----------
    cell : int
    dH : (T, B, H) or (0, B, H)
        Gradient of the loss with respect to every ``h_t``; empty when only the last state is
        an output (its gradient is then in ``dh`` on entry).
    UT : (G*H, H)
        ``U.T``, C-contiguous.
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
    """
    direct = np.zeros_like(dh)
    for t in range(dP.shape[0] - 1, -1, -1):
        if dH.shape[0]:
            dh += dH[t]
        if cell == LSTM:
            _lstm_back(dh, dc, cs[t], gates[t], dP[t])
        elif cell == GRU:
            _gru_back(dh, hs[t], gates[t], dP[t], dA[t], direct)
        else:
            _rnn_back(dh, hs[t + 1], dP[t])
        np.dot(dA[t], UT, dh)
        if cell == GRU:
            dh += direct
