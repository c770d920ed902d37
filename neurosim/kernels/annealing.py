"""Single-spin-flip Monte Carlo for Ising energies and Boltzmann machines.

Ising form: ``E(s) = -1/2 s^T J s - h^T s`` with spins ``s_i = +-1`` (int8), symmetric ``J`` with
zero diagonal, given dense (``J`` float64 (n, n)) or CSR (``indptr``, ``indices``, ``data``,
symmetric). Each read (chain) is one row of ``spins`` with its own local fields
``f = J s + h`` (kept up to date: touched only when a spin flips) and its own random stream
``states[r]``; reads run in parallel (``prange``), each writing only its own rows, so results do
not depend on the number of threads.

Move codes: ``METROPOLIS`` (accept with ``min(1, exp(-beta dE))``) and ``HEAT_BATH`` (Gibbs:
flip with ``1 / (1 + exp(beta dE))``). One sweep visits the spins in order 0..n-1.
"""
import math

import numpy as np
from numba import njit, prange

from .rng import uniform

METROPOLIS = 0
HEAT_BATH = 1

# beta * dE above this is never accepted: exp(-40) is far below the 2**-53 resolution of uniform().
_FROZEN = 40.0


@njit(cache=True)
def coupling_check(J):
    """One pass over a dense square ``J`` (upper triangle against lower, in 64 x 64 tiles so
    that the transposed reads stay in cache): ``(max |J_ij - J_ji|, max |J_ij|, all finite)``,
    without the temporaries of ``numpy.allclose(J, J.T)`` (several n x n arrays)."""
    n = J.shape[0]
    worst = 0.0
    big = 0.0
    finite = True
    for i0 in range(0, n, 64):
        for j0 in range(i0, n, 64):
            for i in range(i0, min(i0 + 64, n)):
                for j in range(max(j0, i), min(j0 + 64, n)):
                    a = J[i, j]
                    b = J[j, i]
                    if not (math.isfinite(a) and math.isfinite(b)):
                        finite = False
                    worst = max(worst, abs(a - b))
                    big = max(big, abs(a), abs(b))
    return worst, big, finite


@njit(cache=True)
def local_fields_dense(J, h, spins, fields):
    """``fields[r] = J @ spins[r] + h`` for every read ``r`` (float64 (reads, n))."""
    reads, n = spins.shape
    s = np.empty(n)
    for r in range(reads):
        for j in range(n):
            s[j] = spins[r, j]
        f = J @ s
        for i in range(n):
            fields[r, i] = f[i] + h[i]


@njit(cache=True)
def local_fields_csr(indptr, indices, data, h, spins, fields):
    """``fields[r] = J @ spins[r] + h`` with ``J`` in CSR form."""
    reads, n = spins.shape
    for r in range(reads):
        for i in range(n):
            acc = h[i]
            for k in range(indptr[i], indptr[i + 1]):
                acc += data[k] * spins[r, indices[k]]
            fields[r, i] = acc


@njit(cache=True)
def ising_energy(spins, fields, h):
    """Energies ``-1/2 s.(f - h) - h.s = -1/2 s.(f + h)`` per read from the local fields."""
    reads, n = spins.shape
    out = np.empty(reads)
    for r in range(reads):
        acc = 0.0
        for i in range(n):
            acc += spins[r, i] * (fields[r, i] + h[i])
        out[r] = -0.5 * acc
    return out


@njit(cache=True, inline="always")
def _accept(dE, beta, method, states, r):
    x = beta * dE
    if method == METROPOLIS:
        if x <= 0.0:
            return True
        if x > _FROZEN:
            return False
        u = uniform(states, r)
        # 1 - x <= e^-x <= 1 / (1 + x + x^2 / 2) for x >= 0: most draws are decided by these
        # bounds (kept 1e-12 inside them: the decision is exactly that of u < exp(-x)), and
        # exp is left for the draws between them
        if u * (1.0 + x * (1.0 + 0.5 * x)) > 1.0 + 1e-12:
            return False
        if u < 1.0 - x - 1e-12:
            return True
        return u < math.exp(-x)
    # heat bath
    if x > _FROZEN:
        return False
    if x < -_FROZEN:
        return True
    return uniform(states, r) * (1.0 + math.exp(x)) < 1.0


@njit(parallel=True, cache=True)
def anneal(J, indptr, indices, data, sparse, betas, start, stop, method, spins, fields, energy,
           trace, energy_trace, magnet_trace, skip, keep, samples, sample_energy, states, block):
    """Run sweeps ``start .. stop-1`` of a schedule on every read, sweep ``k`` at ``betas[k]``.

    ``J`` dense (n, n) is used when ``sparse`` is False, else the CSR triple. ``spins`` int8
    (reads, n), ``fields`` float64 (reads, n) and ``energy`` float64 (reads,) are updated in
    place. The records go to buffers of this chunk, at offsets from its start: with ``trace``
    the energy and magnetisation per spin after sweep ``k`` go to ``energy_trace[:, k - start]``
    / ``magnet_trace[:, k - start]`` (reads, stop - start). With ``keep > 0`` the spins after
    sweep ``k >= skip`` with ``(k - skip + 1) % keep == 0`` (sample ``t = (k - skip + 1) //
    keep - 1`` of the run) go to ``samples[:, t - t0]`` (reads, samples in this chunk, n), with
    ``t0 = max(start - skip, 0) // keep`` the samples kept before the chunk, their energies to
    ``sample_energy[:, t - t0]``.

    Reads are processed in blocks of ``block`` (one block per parallel task); within a block
    the reads take turns spin by spin, so that row ``J[i]`` is read once from memory for all of
    them. Each read's moves and draws are the same whatever the blocking.
    """
    reads, n = spins.shape
    n_blocks = (reads + block - 1) // block
    t0 = max(start - skip, 0) // keep if keep > 0 else 0
    for blk in prange(n_blocks):
        r0 = blk * block
        r1 = min(reads, r0 + block)
        for k in range(start, stop):
            beta = betas[k]
            for i in range(n):
                for r in range(r0, r1):
                    si = spins[r, i]
                    dE = 2.0 * si * fields[r, i]
                    if _accept(dE, beta, method, states, r):
                        spins[r, i] = -si
                        energy[r] += dE
                        d = -2.0 * si  # change of s_i
                        if sparse:
                            for q in range(indptr[i], indptr[i + 1]):
                                fields[r, indices[q]] += d * data[q]
                        else:
                            for j in range(n):
                                fields[r, j] += d * J[i, j]
            for r in range(r0, r1):
                if trace:
                    energy_trace[r, k - start] = energy[r]
                    m = 0
                    for i in range(n):
                        m += spins[r, i]
                    magnet_trace[r, k - start] = m / n
                if keep > 0 and k >= skip and (k - skip + 1) % keep == 0:
                    t = (k - skip + 1) // keep - 1 - t0
                    for i in range(n):
                        samples[r, t, i] = spins[r, i]
                    sample_energy[r, t] = energy[r]


@njit(parallel=True, cache=True)
def bm_sweeps(W, b, beta, units, fields, first, sweeps, corr, thin, kept, states):
    """Heat-bath (Gibbs) sweeps of a Boltzmann machine with 0/1 units, one chain per row.

    Energy ``E = -1/2 x^T W x - b^T x`` (``W`` symmetric, zero diagonal). ``units`` int8
    (chains, n) and ``fields`` float64 (chains, n) = ``W x + b`` are updated in place; units
    ``first .. n-1`` are sampled in order (units before ``first`` stay clamped). Each unit is
    set to 1 with probability ``sigmoid(beta * field)``. After every sweep ``x x^T`` is added to
    ``corr[chain]`` (chains, n, n) when ``corr.shape[1] == n`` (pass a (chains, 0, 0) array to
    skip it); after every ``thin``-th sweep the state goes to ``kept[:, t]`` (chains, sweeps //
    thin, n) when ``kept.shape[1] > 0``.
    """
    chains, n = units.shape
    do_corr = corr.shape[1] == n
    do_keep = kept.shape[1] > 0
    for c in prange(chains):
        for s in range(sweeps):
            for i in range(first, n):
                x = beta * fields[c, i]
                if x > _FROZEN:
                    new = 1
                elif x < -_FROZEN:
                    new = 0
                else:
                    new = 1 if uniform(states, c) * (1.0 + math.exp(-x)) < 1.0 else 0
                if new != units[c, i]:
                    d = 1.0 if new == 1 else -1.0
                    units[c, i] = new
                    for j in range(n):
                        fields[c, j] += d * W[i, j]
            if do_corr:
                for i in range(n):
                    if units[c, i]:
                        for j in range(n):
                            if units[c, j]:
                                corr[c, i, j] += 1.0
            if do_keep and (s + 1) % thin == 0:
                t = (s + 1) // thin - 1
                for i in range(n):
                    kept[c, t, i] = units[c, i]
