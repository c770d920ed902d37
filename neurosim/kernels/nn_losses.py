"""Compiled loss kernels of the nn engine: one pass computes a loss and its gradient."""
import math

from numba import njit


@njit(cache=True, fastmath={"reassoc", "nsz"})
def bce_with_logits(z, t, grad):
    """Binary cross-entropy of ``sigmoid(z)`` against ``t`` (flat arrays of one size), summed
    in float64 lanes, and ``grad = sigmoid(z) - t`` (its derivative in ``z``), in one pass.

    Each term is ``max(z, 0) - z t + log1p(exp(-|z|))``, finite for any ``z``; the exponential
    is shared with the sigmoid. Returns the sum and whether every target lies in [0, 1].
    """
    total = 0.0
    ok = True
    for i in range(z.size):
        zi = float(z[i])
        ti = float(t[i])
        ok &= (ti >= 0.0) & (ti <= 1.0)
        e = math.exp(-abs(zi))
        total += max(zi, 0.0) - zi * ti + math.log1p(e)
        s = 1.0 / (1.0 + e)
        grad[i] = (s if zi >= 0.0 else e * s) - ti
    return total, ok
