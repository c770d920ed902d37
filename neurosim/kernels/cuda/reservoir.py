"""CUDA twins of the reservoir kernels (:mod:`neurosim.kernels.reservoir`): a block per sequence.

``run``, ``run_readout`` and ``readout`` take the same arguments in the same order as their CPU
kernels, and ``run_many`` and ``run_readout_many`` those of the CPU kernels for R reservoirs at
once (device arrays instead of host arrays; ``mat`` / ``mats`` the same layout tuples). Launch
``run``/``run_readout`` with one block per sequence (B blocks) and ``run_many`` /
``run_readout_many`` with one block per (reservoir, sequence) pair (R B blocks, block
``r B + b``), any number of threads that is a multiple of 8 (at most 1024; the readout's
reduction buffer holds 1024); ``readout`` with a thread per (sequence, step) row.

Parallel decomposition. A step of a sequence needs the whole previous state of that sequence
before any unit can move on, so a sequence belongs to one block, whose threads share its units
and meet at a barrier (``syncthreads``) between reading the state and writing it: the whole
chunk of steps is one launch, with no host round trip per step. Batches of sequences and of
reservoirs, the grain of reservoir work, fill the GPU with blocks. Within a layer of a step the
threads first make the sums ``z`` of their rows (the recurrent sum, the input term ``Win u``,
the bias and the fed-back output, each in the CPU's order) while nobody writes, then, after a
barrier, update the state; a deep ESN's layers follow one another as on the CPU (a layer reads
the earlier layers' new values). Sparse (SELL-8) layout: eight consecutive threads take the
eight rows of a slice and read its entries column by column, so a group's loads of ``data`` and
``idx`` are eight consecutive words, and each row's sum runs in CSR order as on the CPU. Dense
layout: a thread per row, the row read from the L1 cache line by line (the CPU sums the row in
SIMD lanes, another order). The readout in the loop (``run_readout``: output feedback and
closed-loop generation) is a reduction over the block: a partial sum per thread, added up in
thread order by thread 0 (a fixed order, not the CPU's).

Memory layout: the CPU's arrays. The state ``x`` (B, n) is updated in place in global memory
(cached in L1 where the step gathers it), and the row of ``out`` (or ``out_x``) of the current
step serves as the block's scratch for ``z`` and the noise before it receives the state, so
the kernels need no memory beyond the CPU kernels' arguments. Noise: the CPU's normals, in its
order, from stream ``b`` (``r B + b`` in the batch): thread 0 of the block draws the uniforms
(the serial part of a stream, a few integer operations a draw) into the record row, and the
threads turn them into normals (Box-Muller) for their own units.

Arithmetic: the same operations in the same precision as the CPU (float32 reservoirs round
where the CPU's float32 scratch rounds, ``tanh`` is the CPU's polynomial form); differences are
the order of the dense row sums and of the readout in the loop, the device's ``exp`` / ``log``
/ ``cos`` (libdevice, within an ulp or two of libm), and on a GPU the multiply-adds that NVVM
fuses into FMAs. So CPU and GPU agree to rounding per step (tested within 1e-12 over 50 steps)
and, where the dynamics amplify rounding (closed loop), statistically (NRMSE). Under the CUDA
simulator (Python's libm, no FMA) the sparse states of ``run`` are the CPU's to the bit.
"""
import math

import numpy as np
from numba import cuda, float64, int64, uint64

from .rng import normal, uniform

LANES = 8
MAX_THREADS = 1024

# Cephes coefficients, as in kernels.reservoir (the CPU's branch-free tanh, ported)
# (NumPy float64 scalars, so that under the simulator, as compiled, a float32 operand is promoted)
_EP0, _EP1, _EP2 = (np.float64(1.26177193074810590878e-4), np.float64(3.02994407707441961300e-2),
                    np.float64(9.99999999999999999910e-1))
_EQ0, _EQ1, _EQ2, _EQ3 = (np.float64(3.00198505138664455042e-6), np.float64(2.52448340349684104192e-3),
                          np.float64(2.27265548208155028766e-1), np.float64(2.00000000000000000009e0))
_LN2_HI, _LN2_LO, _LOG2E = np.float64(6.93145751953125e-1), np.float64(1.42860682030941723212e-6), \
    np.float64(1.4426950408889634073599)
_TP0, _TP1, _TP2 = (np.float64(-9.64399179425052238628e-1), np.float64(-9.92877231001918586564e1),
                    np.float64(-1.61468768441708447952e3))
_TQ0, _TQ1, _TQ2 = (np.float64(1.12811678491632931402e2), np.float64(2.23548839060100448583e3),
                    np.float64(4.84406305325125486048e3))


@cuda.jit(device=True, inline=True)
def _exp_0_40(x):
    k = math.floor(_LOG2E * x + 0.5)
    r = x - k * _LN2_HI
    r = r - k * _LN2_LO
    rr = r * r
    px = r * ((_EP0 * rr + _EP1) * rr + _EP2)
    e = 1.0 + 2.0 * (px / ((((_EQ0 * rr + _EQ1) * rr + _EQ2) * rr + _EQ3) - px))
    return e * float64(int64(1) << int64(k))


@cuda.jit(device=True, inline=True)
def tanh(z):
    """The CPU's ``kernels.reservoir.tanh`` (within 2 ulp of tanh), operation for operation."""
    a = abs(z)
    s = z * z
    small = z + z * s * (((_TP0 * s + _TP1) * s + _TP2) / (((s + _TQ0) * s + _TQ1) * s + _TQ2))
    e = _exp_0_40(2.0 * min(float64(a), 20.0))
    big = 1.0 - 2.0 / (e + 1.0)
    big = -big if z < 0.0 else big
    return small if a < 0.625 else (big if a == a else z)


@cuda.jit(device=True, inline=True)
def _leaky(xi, zi, c, leak, act):
    """``(1 - leak) x + leak f(z)`` as the CPU's ``_update`` computes it (``c = 1 - leak``)."""
    if act == 0:
        return c * xi + leak * tanh(zi)
    if act == 1:
        return c * xi + leak * zi
    if act == 2:
        return c * xi + leak * (1.0 / (1.0 + math.exp(-zi)))
    return c * xi + leak * (zi if zi > 0.0 else 0.0)


@cuda.jit(device=True, inline=True)
def _z(acc, i, win, u, wfb, fb, n_fb, bias):
    """Row ``i``'s input to the activation from its recurrent sum ``acc``: the CPU's
    ``z + (Win u + bias) + Wfb fb``, rounded to the bias's precision where the CPU stores it."""
    drive = 0.0
    for k in range(win.shape[1]):
        drive += win[i, k] * u[k]
    if n_fb > 0:
        tot = acc + (drive + bias[i])
        for m in range(n_fb):
            tot += wfb[i, m] * fb[m]
        return bias.dtype.type(tot)
    return bias.dtype.type(acc + (drive + bias[i]))


@cuda.jit(device=True, inline=True)
def _step(mat, bounds, win, wfb, bias, u, fb, n_fb, x, zs, leak, act, noise, rng, c):
    """One step of one sequence by the whole block: x (n,) its state, updated in place; u, fb
    this step's input and fed-back output; zs (n,) float64 scratch, left holding the new state
    (the record row). Noise from stream ``c``. Every thread of the block must call it."""
    sptr, slen, rows, scount, lslice, idx, data, dense = mat
    tid = cuda.threadIdx.x
    nth = cuda.blockDim.x
    lane = tid % LANES
    group = tid // LANES
    groups = nth // LANES
    use_dense = dense.shape[0] > 0
    n = x.shape[0]
    leak = float64(leak)  # (compiled, a no-op; under the simulator it keeps float32 states promoted)
    keep = 1.0 - leak
    for layer in range(bounds.shape[0] - 1):
        r0 = bounds[layer]
        r1 = bounds[layer + 1]
        if use_dense:
            for i in range(r0 + tid, r1, nth):
                acc = bias.dtype.type(0)
                for j in range(n):
                    acc += dense[i, j] * x[j]
                zs[i] = _z(acc, i, win, u, wfb, fb, n_fb, bias)
        else:
            for s in range(lslice[layer] + group, lslice[layer + 1], groups):
                if lane < scount[s]:
                    acc = bias.dtype.type(0)
                    off = sptr[s] + lane
                    for _ in range(slen[s]):
                        acc += data[off] * x[idx[off]]
                        off += LANES
                    i = rows[LANES * s + lane]
                    zs[i] = _z(acc, i, win, u, wfb, fb, n_fb, bias)
        cuda.syncthreads()  # every read of x in this layer is done
        for i in range(r0 + tid, r1, nth):
            x[i] = _leaky(x[i], bias.dtype.type(zs[i]), keep, leak, act)
            zs[i] = x[i]
        if noise > 0.0:
            cuda.syncthreads()
            _noise(x, zs, r0, r1, noise, rng, c, tid, nth)
        cuda.syncthreads()  # the layer's new values are visible to the next layer and step
    if noise > 0.0:  # the record row held the draws: the state again
        for i in range(tid, n, nth):
            zs[i] = x[i]
        cuda.syncthreads()


@cuda.jit(device=True, inline=True)
def _noise(x, zs, r0, r1, noise, rng, c, tid, nth):
    """x[i] += noise N(0, 1) for the units r0 <= i < r1, the normals of stream ``c`` in the
    CPU's order: thread 0 draws the uniforms (two a unit, the stream held in registers) into
    ``zs``, up to len(zs) / 2 units at a time, and every thread turns its units' pairs into
    normals (Box-Muller, as ``rng.normal``), so only the cheap part of a draw is serial."""
    cap = zs.shape[0] // 2
    if cap == 0:  # a one-unit reservoir
        if tid == 0:
            for i in range(r0, r1):
                x[i] += float64(noise) * normal(rng, c)
        cuda.syncthreads()
        return
    st = cuda.local.array((1, 2), uint64)
    for k0 in range(r0, r1, cap):
        k1 = min(k0 + cap, r1)
        if tid == 0:
            st[0, 0] = rng[c, 0]
            st[0, 1] = rng[c, 1]
            for j in range(2 * (k1 - k0)):
                zs[j] = uniform(st, 0)
            rng[c, 0] = st[0, 0]
            rng[c, 1] = st[0, 1]
        cuda.syncthreads()
        for i in range(k0 + tid, k1, nth):
            j = 2 * (i - k0)
            u1 = 1.0 - zs[j]
            u2 = zs[j + 1]
            x[i] += float64(noise) * (math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2))
        cuda.syncthreads()


@cuda.jit(device=True, inline=True)
def _readout_block(wout, wbias, x, y, out_y, red):
    """y = wout @ x + wbias by the whole block: each thread sums its units (every nth-th),
    thread 0 adds the threads' sums in order (two barriers an output: fewer than a tree's
    log2(threads), for a sum of a few hundred terms); y and the record row ``out_y`` written
    by thread 0, visible to all on return."""
    tid = cuda.threadIdx.x
    nth = cuda.blockDim.x
    for o in range(wout.shape[0]):
        acc = 0.0
        for i in range(tid, x.shape[0], nth):
            acc += wout[o, i] * x[i]
        red[tid] = acc
        cuda.syncthreads()
        if tid == 0:
            total = wbias[o]
            for j in range(nth):
                total += red[j]
            y[o] = total
            out_y[o] = total
        cuda.syncthreads()


@cuda.jit
def run(mat, bounds, win, wfb, bias, inputs, feedback, x, leak, act, noise, rng, out):
    """Sequence ``blockIdx.x`` through its chunk of steps; see the CPU kernel."""
    b = cuda.blockIdx.x
    n_fb = feedback.shape[2]
    for t in range(inputs.shape[1]):
        _step(mat, bounds, win, wfb, bias, inputs[b, t], feedback[b, t], n_fb, x[b], out[b, t], leak, act, noise,
              rng, b)


@cuda.jit
def run_readout(mat, bounds, win, wfb, bias, wout, wbias, inputs, closed, x, y, leak, act, noise, rng,
                out_x, out_y):
    """Sequence ``blockIdx.x`` with the readout in the loop; see the CPU kernel."""
    red = cuda.shared.array(MAX_THREADS, float64)
    b = cuda.blockIdx.x
    n_fb = wfb.shape[1]
    for t in range(out_y.shape[1]):
        u = y[b] if closed else inputs[b, t]
        _step(mat, bounds, win, wfb, bias, u, y[b], n_fb, x[b], out_x[b, t], leak, act, noise, rng, b)
        _readout_block(wout, wbias, x[b], y[b], out_y[b, t], red)


@cuda.jit
def readout(states, wout, wbias, out):
    """``out[b, t] = wout @ states[b, t] + wbias`` for the row ``cuda.grid(1)`` = b T + t,
    summed in the CPU's order."""
    r = cuda.grid(1)
    n_steps = states.shape[1]
    if r >= states.shape[0] * n_steps:
        return
    b = r // n_steps
    t = r - b * n_steps
    for o in range(wout.shape[0]):
        acc = wbias[o]
        for i in range(wout.shape[1]):
            acc += wout[o, i] * states[b, t, i]
        out[b, t, o] = acc


@cuda.jit
def run_many(mats, soff, bounds, win, wfb, bias, inputs, feedback, x, leak, act, noise, rng, out):
    """Reservoir r, sequence b (block r B + b) through its chunk of steps; see the CPU kernel."""
    k = cuda.blockIdx.x
    n_batch = x.shape[1]
    r = k // n_batch
    b = k - r * n_batch
    sptr, slen, rows, scount, lslice, idx, data, dense = mats
    s0 = soff[r]
    s1 = soff[r + 1]
    m = (sptr[s0:s1 + 1], slen[s0:s1], rows[LANES * s0:LANES * s1], scount[s0:s1], lslice[r], idx, data, dense[r])
    n_fb = feedback.shape[2]
    for t in range(inputs.shape[1]):
        _step(m, bounds, win[r], wfb[r], bias[r], inputs[b, t], feedback[b, t], n_fb, x[r, b], out[r, b, t], leak[r],
              act, noise[r], rng, k)


@cuda.jit
def run_readout_many(mats, soff, bounds, win, wfb, bias, wout, wbias, inputs, closed, x, y, leak, act, noise,
                     rng, out_x, out_y):
    """Reservoir r, sequence b (block r B + b) with the readout in the loop; see the CPU kernel."""
    red = cuda.shared.array(MAX_THREADS, float64)
    k = cuda.blockIdx.x
    n_batch = x.shape[1]
    r = k // n_batch
    b = k - r * n_batch
    sptr, slen, rows, scount, lslice, idx, data, dense = mats
    s0 = soff[r]
    s1 = soff[r + 1]
    m = (sptr[s0:s1 + 1], slen[s0:s1], rows[LANES * s0:LANES * s1], scount[s0:s1], lslice[r], idx, data, dense[r])
    n_fb = wfb.shape[2]
    for t in range(out_y.shape[2]):
        u = y[r, b] if closed else inputs[b, t]
        _step(m, bounds, win[r], wfb[r], bias[r], u, y[r, b], n_fb, x[r, b], out_x[r, b, t], leak[r], act, noise[r],
              rng, k)
        _readout_block(wout[r], wbias[r], x[r, b], y[r, b], out_y[r, b, t], red)


@cuda.jit
def take(src, rows, cols, dst):
    """dst[l, j, m] = src[l, rows[j], cols[m]] for the element ``cuda.grid(1)``: the recorded
    steps and units of a chunk gathered on the device, so only they are copied to the host."""
    e = cuda.grid(1)
    n_rows, n_cols = rows.shape[0], cols.shape[0]
    if e >= dst.shape[0] * n_rows * n_cols:
        return
    per = n_rows * n_cols
    lead = e // per
    rest = e - lead * per
    j = rest // n_cols
    m = rest - j * n_cols
    dst[lead, j, m] = src[lead, rows[j], cols[m]]


@cuda.jit
def last(ys, y):
    """y[b, o] = ys[b, T - 1, o] for the element ``cuda.grid(1)`` (the last output of a chunk)."""
    e = cuda.grid(1)
    n_out = y.shape[1]
    if e >= y.shape[0] * n_out:
        return
    b = e // n_out
    o = e - b * n_out
    y[b, o] = ys[b, ys.shape[1] - 1, o]
