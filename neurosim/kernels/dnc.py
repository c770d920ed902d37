"""Kernels of the differentiable neural computer's memory (Graves et al. 2016): the dynamic
allocation weighting (a sort and a running product, sequential along the free list) and the
temporal link matrix update (O(N^2) per sample and step), forward and backward.

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
