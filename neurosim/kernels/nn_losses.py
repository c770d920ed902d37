"""Compiled loss kernels of the nn engine: one pass computes a loss and its gradient."""
import math

import numpy as np
from numba import njit, prange

from .scalar import _LIMIT32, exp32
from .threads import pick, twins

_BLOCK = 2048      # elements of the float32 kernel's blocks of terms (8 KB, in L1)


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


@njit(cache=True, fastmath={"reassoc", "nsz"})
def _sum64(x):
    """The sum of a float32 vector in float64 lanes (any order)."""
    total = 0.0
    for j in range(x.size):
        total += np.float64(x[j])
    return total


def _bce_with_logits32(z, t, grad, totals, bad):
    """:func:`bce_with_logits` for float32 ``z``, ``t`` and ``grad``, in float32 SIMD lanes,
    by blocks of :data:`_BLOCK` elements (on Numba's threads in the parallel twin): ``u =
    e^-|z|`` by :func:`.scalar.exp32` (relative error below 1e-7; 0 for ``|z| > 87``) and
    ``log1p(u) = 2 w (1 + w^2/3 + ... + w^14/15)``, ``w = u / (2 + u) <= 1/3`` (truncation
    below 2e-9 relative), ~0.5 ns an element against ~14 for the scalar library calls. Block
    ``b``'s terms are summed in float64 lanes into ``totals[b]`` (:func:`_sum64`; no
    ``reassoc`` here, where it would undo the rounding in ``exp32``), its targets outside
    [0, 1] counted in ``bad[b]`` (``totals``, ``bad``: one element a block)."""
    zero, one, two = np.float32(0.0), np.float32(1.0), np.float32(2.0)
    for b in prange(totals.size):
        lo = b * _BLOCK
        zb, tb, gb = z[lo:lo + _BLOCK], t[lo:lo + _BLOCK], grad[lo:lo + _BLOCK]
        terms = np.empty(zb.size, np.float32)
        wrong = 0
        for j in range(zb.size):
            zj, tj = zb[j], tb[j]
            e = exp32(max(-abs(zj), -_LIMIT32))
            e = zero if abs(zj) > _LIMIT32 else e
            w = e / (two + e)
            s = w * w
            p = np.float32(1.0 / 15.0)
            p = np.float32(1.0 / 13.0) + s * p
            p = np.float32(1.0 / 11.0) + s * p
            p = np.float32(1.0 / 9.0) + s * p
            p = np.float32(1.0 / 7.0) + s * p
            p = np.float32(1.0 / 5.0) + s * p
            p = np.float32(1.0 / 3.0) + s * p
            p = one + s * p
            terms[j] = max(zj, zero) - zj * tj + two * w * p
            sig = one / (one + e)
            gb[j] = (sig if zj >= zero else e * sig) - tj
            wrong += not ((tj >= zero) & (tj <= one))
        totals[b] = _sum64(terms)
        bad[b] = wrong


BCE32 = twins(_bce_with_logits32, fastmath={"contract", "arcp", "nsz", "afn"},
              error_model="numpy")
PARALLEL_SIZE = 1 << 16    # elements from which the float32 kernel's threads pay


def bce_with_logits32(z, t, grad):
    """:func:`_bce_with_logits32` on flat float32 arrays of one size, on Numba's threads from
    :data:`PARALLEL_SIZE` elements (the same bits): the sum of the terms (the blocks' sums
    added in order) and whether every target lies in [0, 1]."""
    blocks = -(-z.size // _BLOCK)
    totals, bad = np.empty(blocks), np.empty(blocks, np.int64)
    pick(BCE32, z.size, PARALLEL_SIZE)(z, t, grad, totals, bad)
    return float(np.add.reduce(totals)), not bad.any()
