"""Compiled layer normalisation kernels of the nn engine, forward and backward, each a serial
and a parallel twin (:func:`neurosim.kernels.threads.twins`) over runs of rows; and dropout's
mask pass (:func:`dropout_rows`), which runs without the GIL on parts of its arrays.

:func:`layer_norm_rows` writes the output and the row statistics, not ``xhat``, and
:func:`layer_norm_rows_backward` makes ``xhat`` again from the input and the statistics (the
forward pass writes one stream instead of two, and the op keeps no (rows, F) array of its own).
The forward's row sums run in float64 in any order (as NumPy's pairwise sums), its element
arithmetic in the input's dtype (float32 rows in float32 SIMD lanes: 1.4x faster than in
float64). The backward's two row sums run in float64 SIMD lanes (reassociated, in a function of
their own, so that no reordering or fused multiply-add reaches the gradient's formula: a row
whose gradient is exactly zero still gives exactly zero); the scale and shift gradients sum
column-wise in the input's dtype over blocks of :data:`ROW_BLOCK` rows, and the blocks' sums are
added into float64 in order after the rows (the float64 accumulators had cost a load, a convert
and a store per element). Rows are indexed in place (a row view costs two atomic reference
counts). At 4096 rows of 64 features, float32, one thread: 0.26 -> 0.15 ms; 8192 x 128: 0.89 ->
0.60 ms.

Each kernel takes ``parts``, the number of runs of consecutive rows (row blocks in the
backward) it splits the work into, which the parallel twin's threads take as they come free,
each thread with its caller's subnormal setting (:mod:`.fpenv`). No row reads another's
results and the blocks' sums are added in one order, so the bits do not depend on ``parts`` or
the twin. Float32, 4096 rows
(minimum over repetitions, 2 cores shared with other work at load 3.5-4), one thread against
two: 64 features, forward 0.112 -> 0.062 ms, backward 0.147 -> 0.082; 256 features, 0.392 ->
0.219 and 0.574 -> 0.318. Below 2^16 elements the threads' start costs more than they save
(512 x 64: backward 0.017 ms on one thread, 0.022 on two).
"""
import math

import numpy as np
from numba import njit, prange

from .fpenv import control_word, restore
from .simd import wide_vectors
from .threads import twins

ROW_BLOCK = 32      # rows whose scale and shift gradients are summed in the input's dtype
#: elements (rows * features) of a call from which its rows run on Numba's threads
PARALLEL_WORK = 1 << 16
# Row sums in SIMD lanes, in any order (as NumPy's pairwise sums are); forward only: the same
# flags on the backward left 1e-17 where a row's gradient is exactly zero (a causal mask's).
_SUMS = {"reassoc", "contract", "nsz", "arcp"}


@njit(cache=True, fastmath=_SUMS)
def _normalised(x, gamma, beta, eps, out, mean, inv_std):
    """:func:`layer_norm_rows` of all rows of ``x`` on this thread (each run's rows are passed
    as views: a loop from a run's first row, not from 0, had cost 2-3 ns a row)."""
    rows, F = x.shape
    dtype = x.dtype.type
    for r in range(rows):
        total = 0.0
        for j in range(F):
            total += x[r, j]
        m = dtype(total / F)
        var = 0.0
        for j in range(F):
            d = x[r, j] - m
            var += d * d
        s = dtype(1.0 / math.sqrt(var / F + eps))
        mean[r] = m
        inv_std[r] = s
        for j in range(F):
            out[r, j] = gamma[j] * ((x[r, j] - m) * s) + beta[j]


def _layer_norm_rows(x, gamma, beta, eps, out, mean, inv_std, parts):
    """Layer normalisation of the rows of ``x`` (rows, F): ``out`` (rows, F) ``= gamma xhat +
    beta`` with ``xhat = (x - mean) / sqrt(var + eps)``, the row's mean and biased variance
    (summed in float64; the mean and ``1 / sqrt(var + eps)`` then rounded to ``x``'s dtype);
    ``mean`` and ``inv_std`` (rows,) receive them, from which the backward pass makes ``xhat``
    again. ``gamma``, ``beta`` (F,); one float dtype throughout. ``parts`` (>= 1): runs of
    consecutive rows (see the module)."""
    word = control_word()
    for p in prange(parts):
        own = control_word()
        restore(word)
        lo, hi = p * x.shape[0] // parts, (p + 1) * x.shape[0] // parts
        _normalised(x[lo:hi], gamma, beta, eps, out[lo:hi], mean[lo:hi], inv_std[lo:hi])
        restore(own)


@njit(cache=True, fastmath={"reassoc", "nsz"})
def _row_sums(g, gamma, x, m, s, r):
    """``sum(g[r] * gamma)`` and ``sum(g[r] * gamma * xhat)``, ``xhat = (x[r] - m) s``, in
    float64 (any order)."""
    wide_vectors()
    a = 0.0
    b = 0.0
    for j in range(g.shape[1]):
        d = g[r, j] * gamma[j]
        a += d
        b += d * ((x[r, j] - m) * s)
    return a, b


@njit(cache=True)
def _gradients(g, gamma, x, mean, inv_std, gx, sums):
    """:func:`layer_norm_rows_backward` of all rows of ``g`` on this thread, but for the sums
    over the rows: ``sums`` (blocks, 2, F), each block's scale and shift gradients (views of a
    run of blocks, as :func:`_normalised` takes its rows)."""
    wide_vectors()
    rows, F = g.shape
    dtype = g.dtype.type
    for k in range(sums.shape[0]):          # indexed in place, as the rows
        for j in range(F):
            sums[k, 0, j] = 0.0
            sums[k, 1, j] = 0.0
        for r in range(k * ROW_BLOCK, min((k + 1) * ROW_BLOCK, rows)):
            m, s = mean[r], inv_std[r]
            for j in range(F):
                sums[k, 0, j] += g[r, j] * ((x[r, j] - m) * s)
                sums[k, 1, j] += g[r, j]
            sum_d, sum_dh = _row_sums(g, gamma, x, m, s, r)
            mean_d, mean_dh = dtype(sum_d / F), dtype(sum_dh / F)
            for j in range(F):
                gx[r, j] = s * (g[r, j] * gamma[j] - mean_d - ((x[r, j] - m) * s) * mean_dh)


def _layer_norm_rows_backward(g, gamma, x, mean, inv_std, gx, g_gamma, g_beta, parts):
    """Gradients of :func:`layer_norm_rows` from the output gradient ``g`` (rows, F), its input
    ``x`` and the row statistics ``mean`` and ``inv_std`` (rows,) it wrote: ``gx`` (rows, F)
    through the row statistics, ``g_gamma`` and ``g_beta`` (F,) float64 summed over the rows
    (in the input's dtype within blocks of :data:`ROW_BLOCK` rows, the blocks added in order).
    ``parts`` (>= 1): runs of consecutive row blocks (see the module)."""
    blocks = -(-g.shape[0] // ROW_BLOCK)
    sums = np.empty((blocks, 2, g.shape[1]), g.dtype)     # each block's scale, shift gradients
    word = control_word()
    for p in prange(parts):
        own = control_word()
        restore(word)
        lo, hi = p * blocks // parts, (p + 1) * blocks // parts
        r0, r1 = lo * ROW_BLOCK, hi * ROW_BLOCK
        _gradients(g[r0:r1], gamma, x[r0:r1], mean[r0:r1], inv_std[r0:r1], gx[r0:r1],
                   sums[lo:hi])
        restore(own)
    g_gamma[:] = 0.0
    g_beta[:] = 0.0
    for k in range(blocks):
        for j in range(g.shape[1]):
            g_gamma[j] += sums[k, 0, j]
            g_beta[j] += sums[k, 1, j]


layer_norm_rows, layer_norm_rows_parallel = twins(_layer_norm_rows)
layer_norm_rows_backward, layer_norm_rows_backward_parallel = twins(_layer_norm_rows_backward)


#: units from which :func:`neurosim.nn.norm.dropout` draws its uniforms and applies its mask
#: in parts on threads (2^18 float32 took 0.65 ms in one part, 0.76-0.78 in two, load 1.9)
DROPOUT_WORK = 1 << 20


@njit(cache=True, nogil=True)
def dropout_rows(x, u, rate, scale, out, mask):
    """Inverted dropout of ``x`` (n,) by the uniforms ``u`` (n,) float64: ``mask`` (n,) is
    ``scale`` where ``u >= rate``, else 0, and ``out = x mask`` (``x``'s dtype throughout, as
    NumPy's ``(u >= rate).astype(dtype) * scale`` and ``x * mask``: the same bits). Without the
    GIL, so that Python threads can run it on parts of the arrays."""
    zero = mask.dtype.type(0)
    for i in range(x.shape[0]):
        m = scale if u[i] >= rate else zero
        mask[i] = m
        out[i] = x[i] * m

