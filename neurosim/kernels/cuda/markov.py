"""CUDA twins of the Markov chain kernels (:mod:`neurosim.kernels.markov`): one thread per chain.

``run_dense``, ``run_csr`` and ``gillespie`` take the same arguments in the same order as their
CPU kernels (device arrays instead of host arrays) and make the same draws in the same order:
chain ``c`` (thread ``cuda.grid(1)``) draws from row ``c`` of the CPU's ``(n, 2) uint64`` stream
array with the generator of :mod:`neurosim.kernels.cuda.rng`, so the paths are the CPU's, state
for state. Launch with at least ``n_chains`` threads (``run_dense[blocks, threads](...)``).

Parallel decomposition: chains are independent, so one thread runs one chain through the whole
chunk; a warp's 32 chains make their table look-ups at once (gathers from a table that the
GPU's L2 cache holds for a 1000-state chain: 8 MB), which hides the latency that bounds one
chain on the CPU. Memory layout: the CPU's. Tables are shared read-only by all threads; a
thread's stream state and current state live in registers during the chunk (the stream is
copied to a local array and written back at the end, so global memory sees two reads and two
writes per chain and chunk, not per step); records ``out[c, j]`` / ``grid[c, k]`` are the CPU's
(chain, step) rows.

Arithmetic: the dense step is integer only (the packed 32-bit threshold and alias), so it is
exact anywhere. The CSR alias step scales a uniform by the row length and compares the
fractional part: the product is made with ``__dmul_rn`` on a GPU, which NVVM never fuses into
an FMA (its default contraction would otherwise compute ``u * m - k`` with one rounding and
could move a comparison by one ulp). The Gillespie waiting time ``-log(1 - u) / rate`` uses the
device's ``log`` (libdevice, within 1 ulp), which can differ from the CPU's libm ``log`` in the
last bit; a jump time can then move by one ulp, which changes a grid state only when a jump
falls within that ulp of a grid point, and the occupancy sums in their last bits. Under the
simulator (Python's ``math.log``, the CPU's libm) the runs are identical.
"""
import math

from numba import config as _nb_config
from numba import cuda, float64, int64, uint64

from ..markov import SCAN_MAX
from .rng import next_u64, uniform

if _nb_config.ENABLE_CUDASIM:
    @cuda.jit(device=True, inline=True)
    def _mul_rn(a, b):
        return a * b
else:  # pragma: no cover - needs a GPU
    from numba.cuda import libdevice

    @cuda.jit(device=True, inline=True)
    def _mul_rn(a, b):
        """``a * b`` rounded once, never contracted into an FMA with a following add."""
        return libdevice.dmul_rn(a, b)


@cuda.jit(device=True, inline=True)
def _load(states, c, st):
    st[0, 0] = states[c, 0]
    st[0, 1] = states[c, 1]


@cuda.jit(device=True, inline=True)
def _store(states, c, st):
    states[c, 0] = st[0, 0]
    states[c, 1] = st[0, 1]


@cuda.jit(device=True, inline=True)
def _step_dense(table, x, streams, c):
    """The CPU's ``_step_dense``: slot from the high 32 bits, coin from the low 32."""
    r = next_u64(streams, c)
    k = int64(((r >> uint64(32)) * uint64(table.shape[1])) >> uint64(32))
    e = table[x, k]
    other = int64(e & uint64(0xFFFFFFFF))
    return k if (r & uint64(0xFFFFFFFF)) < (e >> uint64(32)) else other


@cuda.jit(device=True, inline=True)
def _step_csr(indptr, indices, cdf, prob, alias, x, streams, c):
    """The CPU's ``_step_csr``: a scan of the cumulative sums for short rows, else the alias."""
    a = indptr[x]
    m = indptr[x + 1] - a
    if m <= SCAN_MAX:
        u = uniform(streams, c)
        p = a
        last = a + m - 1
        while p < last and cdf[p] <= u:
            p += 1
        return int64(indices[p])
    v = _mul_rn(uniform(streams, c), float64(m))
    k = int64(v)
    if k >= m:
        k = m - 1
    other = int64(alias[a + k])
    return int64(indices[a + k]) if v - float64(k) < prob[a + k] else other


@cuda.jit
def run_dense(table, x, n_steps, every, states, out):
    """``n_steps`` steps of chain ``cuda.grid(1)`` with the packed dense table; see the CPU
    kernel (``out`` (n_chains, n_steps // every) gets every ``every``-th state)."""
    c = cuda.grid(1)
    if c >= x.shape[0]:
        return
    st = cuda.local.array((1, 2), uint64)
    _load(states, c, st)
    s = int64(x[c])
    j = 0
    t = 0
    for _ in range(n_steps):
        s = _step_dense(table, s, st, 0)
        t += 1
        if t == every:
            out[c, j] = s
            j += 1
            t = 0
    x[c] = s
    _store(states, c, st)


@cuda.jit
def run_csr(indptr, indices, cdf, prob, alias, x, n_steps, every, states, out):
    """As :func:`run_dense` for a CSR chain with tables from ``kernels.markov.csr_tables``."""
    c = cuda.grid(1)
    if c >= x.shape[0]:
        return
    st = cuda.local.array((1, 2), uint64)
    _load(states, c, st)
    s = int64(x[c])
    j = 0
    t = 0
    for _ in range(n_steps):
        s = _step_csr(indptr, indices, cdf, prob, alias, s, st, 0)
        t += 1
        if t == every:
            out[c, j] = s
            j += 1
            t = 0
    x[c] = s
    _store(states, c, st)


@cuda.jit
def gillespie(indptr, indices, cdf, prob, alias, rates, x, t_last, t_next, duration, grid_dt, k0,
              n_grid, states, grid, occupancy, jumps):
    """Gillespie run of chain ``cuda.grid(1)`` over one stretch of the time grid; see the CPU
    kernel (the same stopping rule, so chunks add up to one run over the whole grid)."""
    c = cuda.grid(1)
    if c >= x.shape[0]:
        return
    st = cuda.local.array((1, 2), uint64)
    _load(states, c, st)
    k_end = k0 + grid.shape[1]
    last = k_end >= n_grid
    s = int64(x[c])
    t = t_last[c]
    t_nx = t_next[c]
    k = k0
    n_jumps = int64(0)
    while True:
        if math.isnan(t_nx):
            q = rates[s]
            t_nx = t - math.log(1.0 - uniform(st, 0)) / q if q > 0.0 else math.inf
        while k < k_end and k * grid_dt < t_nx:
            grid[c, k - k0] = s
            k += 1
        if k == k_end and not last:
            break  # the stretch is full; the drawn jump waits for the next call
        if t_nx >= duration:
            occupancy[c, s] += duration - t
            while k < k_end:  # grid points beyond duration by rounding: the last state
                grid[c, k - k0] = s
                k += 1
            t = duration
            t_nx = math.inf
            break
        occupancy[c, s] += t_nx - t
        s = _step_csr(indptr, indices, cdf, prob, alias, s, st, 0)
        n_jumps += 1
        t = t_nx
        t_nx = math.nan
    jumps[c] += n_jumps
    x[c] = s
    t_last[c] = t
    t_next[c] = t_nx
    _store(states, c, st)
