"""Compiled routing-by-agreement of capsule networks (Sabour et al. 2017).

The predictions come children first, ``u_hat[i, b, j]`` (in_capsules, batch, capsules, dim),
C-contiguous: child ``i``'s prediction for parent ``j`` in sample ``b``, the layout of the
batched product ``u_i W_i`` (one matrix product per child). One pass per sample runs every
routing iteration without temporaries, in plain loops (with slices and views inside the loops
Numba compiled 8x longer and ran slower); the logits and sums are float64 (float32 predictions
give float32 parents, rounded once).
"""
import math

import numpy as np
from numba import njit


@njit(cache=True, fastmath={"reassoc", "contract"}, error_model="numpy")
def route(u_hat, iterations, v, s, c):
    """Route ``u_hat`` (I, B, J, D) for ``iterations`` (>= 1) and write the parents ``v``
    (B, J, D), their inputs ``s = sum_i c_ij u_hat_{j|i}`` (B, J, D) and the last couplings
    ``c`` (B, I, J).

    Each iteration: ``c_ij = softmax_j(b_ij)``, ``v_j = squash(s_j)``, the logits ``b``
    starting at 0 and growing by the agreement ``u_hat_{j|i} . v_j`` between iterations (added
    at the start of the next one, in the same pass over the children).
    """
    n_in, n_batch, n_out, dim = u_hat.shape
    row = np.empty(n_out)
    logits = np.empty((n_in, n_out))
    total_in = np.empty((n_out, dim))     # s of sample b, summed in float64
    parents = np.empty((n_out, dim))      # v of sample b
    for b in range(n_batch):
        for i in range(n_in):
            for j in range(n_out):
                logits[i, j] = 0.0
        for r in range(iterations):
            for j in range(n_out):
                for d in range(dim):
                    total_in[j, d] = 0.0
            for i in range(n_in):
                if r > 0:
                    top = -np.inf
                    for j in range(n_out):
                        agree = 0.0
                        for d in range(dim):
                            agree += u_hat[i, b, j, d] * parents[j, d]
                        logits[i, j] += agree
                        top = max(top, logits[i, j])
                    total = 0.0
                    for j in range(n_out):
                        row[j] = math.exp(logits[i, j] - top)
                        total += row[j]
                    for j in range(n_out):
                        row[j] /= total
                else:                              # logits all 0: uniform couplings
                    for j in range(n_out):
                        row[j] = 1.0 / n_out
                for j in range(n_out):
                    w = row[j]
                    c[b, i, j] = w
                    for d in range(dim):
                        total_in[j, d] += w * u_hat[i, b, j, d]
            for j in range(n_out):
                n2 = 0.0
                for d in range(dim):
                    n2 += total_in[j, d] * total_in[j, d]
                scale = math.sqrt(n2) / (1.0 + n2)
                for d in range(dim):
                    parents[j, d] = scale * total_in[j, d]
        for j in range(n_out):
            for d in range(dim):
                s[b, j, d] = total_in[j, d]
                v[b, j, d] = parents[j, d]


@njit(cache=True, error_model="numpy")
def route_backward(gs, c, g_hat):
    """The predictions' gradient with constant couplings, children first: ``g_hat[i, b, j] =
    c[b, i, j] * gs[b, j]`` for the gradient ``gs`` (B, J, D) of the parents' inputs ``s``."""
    n_in, n_batch, n_out, dim = g_hat.shape
    for b in range(n_batch):
        for i in range(n_in):
            for j in range(n_out):
                w = c[b, i, j]
                for d in range(dim):
                    g_hat[i, b, j, d] = w * gs[b, j, d]
