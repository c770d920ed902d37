"""Compiled normalisation kernels of the nn engine that vectorise (beside those in
:mod:`neurosim.kernels.nn`).

:func:`layer_norm_rows_backward` is the SIMD twin of
:func:`neurosim.kernels.nn.layer_norm_rows_backward`: the two row sums run in float64 SIMD lanes
(reassociated, no fused multiply-adds: a row whose gradient is exactly zero still gives exactly
zero) and the scale and shift gradients accumulate column-wise, so every loop vectorises.
"""
from numba import njit


@njit(cache=True, fastmath={"reassoc", "nsz"})
def _row_sums(g, gamma, xhat):
    """``sum(g * gamma)`` and ``sum(g * gamma * xhat)`` over one row, in float64."""
    a = 0.0
    b = 0.0
    for j in range(g.size):
        d = g[j] * gamma[j]
        a += d
        b += d * xhat[j]
    return a, b


@njit(cache=True)
def layer_norm_rows_backward(g, gamma, xhat, inv_std, gx, g_gamma, g_beta):
    """Gradients of layer normalisation from the output gradient ``g`` (rows, F): ``gx``
    (rows, F) through the row statistics, ``g_gamma`` and ``g_beta`` (F,) float64 summed over
    the rows. Same arguments and results as :func:`neurosim.kernels.nn.layer_norm_rows_backward`
    (the row sums in another order)."""
    rows, F = g.shape
    g_gamma[:] = 0.0
    g_beta[:] = 0.0
    for r in range(rows):
        gr, hr = g[r], xhat[r]
        for j in range(F):
            g_gamma[j] += gr[j] * hr[j]
            g_beta[j] += gr[j]
        sum_d, sum_dh = _row_sums(gr, gamma, hr)
        mean_d = sum_d / F
        mean_dh = sum_dh / F
        s = inv_std[r]
        out = gx[r]
        for j in range(F):
            out[j] = s * (gr[j] * gamma[j] - mean_d - hr[j] * mean_dh)
