"""CUDA twins of :func:`neurosim.kernels.annealing.anneal` and ``bm_sweeps``.

The same names and the same arguments in the same order as the CPU kernels (device arrays
instead of host arrays), the same moves in the same order and the same draws from the same
streams (row ``r`` of the CPU's ``(reads, 2) uint64`` xoroshiro128+ array, drawn with
:mod:`neurosim.kernels.cuda.rng`), so spins, energies, traces and samples are those of the CPU.

Parallel decomposition:

- ``anneal`` with dense ``J``: one block per read, launched ``anneal[reads, threads]``. The
  spins of a read must be visited in order (the decision for spin ``i`` needs the fields left
  by every earlier flip), so every thread of the block takes the same decisions: each keeps a
  copy of the read's stream in registers and draws the same numbers, reads the same field and
  spin, and so accepts or rejects alike, with no broadcast. What is split is the work of a
  flip: the update of the read's ``n`` local fields by the row ``J[i]``, thread ``t`` taking
  entries ``t, t + threads, ...`` (coalesced). A flip is bracketed by two ``syncthreads``
  (every thread has read the field before it changes; every field is updated before the next
  decision), so a sweep with few flips (the cold end of a schedule) synchronises rarely.
  Thread 0 writes the spin, the energy, the stream and the records of the read.
- ``anneal`` with CSR ``J``: one thread per read, launched ``anneal[blocks, threads]`` with at
  least ``reads`` threads: a flip touches only the spin's few neighbours, too little to share.
- ``bm_sweeps``: one block per chain (``W`` is dense), as the dense annealer.

The ``block`` argument of ``anneal`` (reads per CPU task) is unused here. The arithmetic of the
fields and energies is exact in the same order (a flip adds ``+-2 J_ij`` or ``+-W_ij``: the
product is exact, so even a fused multiply-add rounds as the CPU does); the one way a GPU could
part from the CPU is ``math.exp``, whose device implementation may differ from the CPU's in the
last bit, changing a decision only when a uniform draw falls within that bit of it.
"""
import math

from numba import cuda, int64, uint64

from ..annealing import _FROZEN, METROPOLIS
from .rng import uniform


@cuda.jit(device=True, inline=True)
def _accept(dE, beta, method, states, r):
    x = beta * dE
    if method == METROPOLIS:
        if x <= 0.0:
            return True
        if x > _FROZEN:
            return False
        return uniform(states, r) < math.exp(-x)
    # heat bath
    if x > _FROZEN:
        return False
    if x < -_FROZEN:
        return True
    return uniform(states, r) * (1.0 + math.exp(x)) < 1.0


@cuda.jit(device=True)
def _anneal_csr(r, indptr, indices, data, betas, start, stop, method, spins, fields, energy,
                trace, energy_trace, magnet_trace, skip, keep, samples, sample_energy, states, t0):
    """Read ``r`` by one thread: the CPU kernel's loop for one read, CSR couplings."""
    n = spins.shape[1]
    for k in range(start, stop):
        beta = betas[k]
        for i in range(n):
            si = spins[r, i]
            dE = 2.0 * si * fields[r, i]
            if _accept(dE, beta, method, states, r):
                spins[r, i] = -si
                energy[r] += dE
                d = -2.0 * si
                for q in range(indptr[i], indptr[i + 1]):
                    fields[r, indices[q]] += d * data[q]
        if trace:
            energy_trace[r, k - start] = energy[r]
            m = int64(0)
            for i in range(n):
                m += spins[r, i]
            magnet_trace[r, k - start] = m / n
        if keep > 0 and k >= skip and (k - skip + 1) % keep == 0:
            t = (k - skip + 1) // keep - 1 - t0
            for i in range(n):
                samples[r, t, i] = spins[r, i]
            sample_energy[r, t] = energy[r]


@cuda.jit(device=True)
def _anneal_dense(r, J, betas, start, stop, method, spins, fields, energy, trace, energy_trace,
                  magnet_trace, skip, keep, samples, sample_energy, states, t0):
    """Read ``r`` by the threads of one block: the same decisions in every thread (the stream
    copied to registers), the field update of a flip split among them."""
    n = spins.shape[1]
    tid = cuda.threadIdx.x
    nth = cuda.blockDim.x
    st = cuda.local.array((1, 2), uint64)
    st[0, 0] = states[r, 0]
    st[0, 1] = states[r, 1]
    e = energy[r]
    m = int64(0)                         # sum of the spins, kept exactly as spins flip
    for i in range(n):
        m += spins[r, i]
    for k in range(start, stop):
        beta = betas[k]
        for i in range(n):
            si = spins[r, i]
            dE = 2.0 * si * fields[r, i]
            if _accept(dE, beta, method, st, 0):
                cuda.syncthreads()       # every thread has read spins[r, i] and fields[r, i]
                if tid == 0:
                    spins[r, i] = -si
                e += dE
                m -= 2 * int64(si)
                d = -2.0 * si
                for j in range(tid, n, nth):
                    fields[r, j] += d * J[i, j]
                cuda.syncthreads()       # the fields are up to date for the next decision
        if trace and tid == 0:
            energy_trace[r, k - start] = e
            magnet_trace[r, k - start] = m / n
        if keep > 0 and k >= skip and (k - skip + 1) % keep == 0:
            t = (k - skip + 1) // keep - 1 - t0
            for i in range(tid, n, nth):
                samples[r, t, i] = spins[r, i]
            if tid == 0:
                sample_energy[r, t] = e
    if tid == 0:
        energy[r] = e
        states[r, 0] = st[0, 0]
        states[r, 1] = st[0, 1]


@cuda.jit
def anneal(J, indptr, indices, data, sparse, betas, start, stop, method, spins, fields, energy,
           trace, energy_trace, magnet_trace, skip, keep, samples, sample_energy, states, block):
    """Sweeps ``start .. stop-1`` of every read; see the CPU kernel for the arguments.

    Dense ``J``: launch ``anneal[reads, threads]`` (a block per read). CSR: launch with at
    least ``reads`` threads in all (a thread per read). ``block`` is unused."""
    t0 = max(start - skip, 0) // keep if keep > 0 else 0
    if sparse:
        r = cuda.grid(1)
        if r < spins.shape[0]:
            _anneal_csr(r, indptr, indices, data, betas, start, stop, method, spins, fields, energy,
                        trace, energy_trace, magnet_trace, skip, keep, samples, sample_energy,
                        states, t0)
    else:
        r = cuda.blockIdx.x
        if r < spins.shape[0]:
            _anneal_dense(r, J, betas, start, stop, method, spins, fields, energy, trace,
                          energy_trace, magnet_trace, skip, keep, samples, sample_energy, states, t0)


@cuda.jit
def bm_sweeps(W, b, beta, units, fields, first, sweeps, corr, thin, kept, states):
    """Heat-bath sweeps of chain ``blockIdx.x`` by the threads of its block; see the CPU
    kernel for the arguments. Launch ``bm_sweeps[chains, threads]``: every thread takes the
    same decisions (the chain's stream copied to registers), the field update of a flip, the
    ``x x^T`` rows and the kept state are split among them."""
    c = cuda.blockIdx.x
    if c >= units.shape[0]:
        return
    n = units.shape[1]
    tid = cuda.threadIdx.x
    nth = cuda.blockDim.x
    do_corr = corr.shape[1] == n
    do_keep = kept.shape[1] > 0
    st = cuda.local.array((1, 2), uint64)
    st[0, 0] = states[c, 0]
    st[0, 1] = states[c, 1]
    for s in range(sweeps):
        for i in range(first, n):
            x = beta * fields[c, i]
            if x > _FROZEN:
                new = 1
            elif x < -_FROZEN:
                new = 0
            else:
                new = 1 if uniform(st, 0) * (1.0 + math.exp(-x)) < 1.0 else 0
            if new != units[c, i]:
                d = 1.0 if new == 1 else -1.0
                cuda.syncthreads()       # every thread has read units[c, i] and fields[c, i]
                if tid == 0:
                    units[c, i] = new
                for j in range(tid, n, nth):
                    fields[c, j] += d * W[i, j]
                cuda.syncthreads()       # the fields and the unit are up to date
        if do_corr:
            for i in range(tid, n, nth):
                if units[c, i]:
                    for j in range(n):
                        if units[c, j]:
                            corr[c, i, j] += 1.0
        if do_keep and (s + 1) % thin == 0:
            t = (s + 1) // thin - 1
            for i in range(tid, n, nth):
                kept[c, t, i] = units[c, i]
    if tid == 0:
        states[c, 0] = st[0, 0]
        states[c, 1] = st[0, 1]
