"""Compiled kernels for reservoir computing (ESN, ELM, online readouts).

The reservoir matrix ``W[post, pre]`` comes in one of two layouts, the tuple ``mat`` =
(sptr, slen, rows, scount, lslice, idx, data, dense):

- sliced ELLPACK (SELL-8-sigma): the rows of each layer sorted by length (longest first) and cut
  in slices of 8 (``scount[s]`` rows, a slice never crossing a layer; ``rows[8 s + lane]`` is the
  row of a lane), each slice's entries column by column (``data[sptr[s] + 8 k + lane]``, column
  indices ``idx`` likewise, short rows padded with zeros; sorting keeps the padding to a few per
  cent). A step keeps 8 independent running sums where CSR has one dependent chain, and each
  row's sum still runs in CSR order, so results equal a plain CSR loop's. The 8 sums are one
  vector: a slice's values and indices are loaded 8 at a time and its ``x`` entries gathered
  (:func:`_sell_dot`). ``dense`` is (0, 0).
- dense: ``dense`` (n, n) holds W and the SELL arrays are empty; row sums by SIMD dot products
  (their order differs from CSR's only by rounding). Cheaper where the matrix fits the cache or
  is not sparse (see :func:`neurosim.reservoir.layout.reservoir_layout`).

``lslice[l]:lslice[l+1]`` are layer ``l``'s slices and ``bounds[l]:bounds[l+1]`` its units (a
shallow ESN has one layer). Layers update in order within a step, so a row of layer ``l`` that
reads units of an earlier layer sees their *new* value (deep ESN feed-forward), while reads
inside its own layer or of later layers see the previous step (recurrence). One step, for the
units ``i`` of a layer::

    z_i = sum_j W_ij x_j + (sum_k Win_ik u_k + bias_i) + sum_m Wfb_im fb_m
    x_i <- (1 - leak) x_i + leak f(z_i) + noise * N(0, 1)

The input term ``Win u`` is summed in the step, in a fixed order, as is the readout (:func:`readout`,
:func:`run_readout`): a sequence run in chunks (``record.Run``) gives the same states and
outputs, to the bit, as in one call, whatever the chunk size (a BLAS product over the steps of a
call would round by the call's length). Activation codes
``act``: 0 tanh, 1 identity, 2 logistic sigmoid, 3 ReLU; tanh is a branch-free polynomial form
(:func:`tanh`, within 2 ulp of libm) that vectorises. Sequences of a batch are independent
(``prange`` over the batch); sequence ``b`` draws its noise from stream ``b``. A single sequence
runs through :func:`run_serial` and :func:`run_readout_serial` (CPU only): the same per-sequence
function without a parallel loop, in the variant of the model (:func:`serial`: one function with
the step inlined, compiled for its layout, activation, noise and feedback only, the branches of
the others pruned before typing). A first ``fit`` on a cold cache compiles in 1.4 s of CPU
instead of 2.2-2.5 s (the generic kernel: every branch, three call levels).

Many reservoirs at once (:func:`run_many`, :func:`run_readout_many`): R reservoirs of the same
size and layers, their layouts stacked (:func:`neurosim.reservoir.layout.stack_layouts`; reservoir
``r``'s is ``member(mats, soff, r)``, views), their ``win``, ``wfb``, ``bias``, ``leak`` and
``noise`` given per reservoir, the same inputs for all; ``prange`` over (reservoir, sequence)
pairs, each running the single-reservoir :func:`step`, so each reservoir's numbers are its own
ESN's to the bit. The CUDA twins of all five run kernels are in
:mod:`neurosim.kernels.cuda.reservoir`.

Precision: float64 throughout by default. The kernels also take a float32 reservoir (the
``data``/``dense`` weights, the state ``x`` and the ``bias``): the recurrent sums then run in
float32 SIMD lanes (the scratch ``z`` takes ``bias``'s dtype, so a float64 ``bias`` gives float64
sums), the activation is evaluated in float64 and rounded into ``x``; the input term, the
readout and the recorded states (``out``, ``out_x``) stay float64.
"""
import math

import numpy as np
from llvmlite import ir
from numba import njit, prange, types, uint64
from numba.core import cgutils
from numba.extending import intrinsic

from .readout import _rls_downdate, _rls_gain
from .rng import normal
from .scalar import logistic

TANH, IDENTITY, SIGMOID, RELU = 0, 1, 2, 3
SPARSE, DENSE = 0, 1
ANY = -1  # a compile-time flag of a kernel variant that is read per call instead (see serial)
LANES = 8

# Cephes (S. Moshier) coefficients: exp on [-ln2/2, ln2/2] (Pade form) and tanh on |x| < 0.625
_EP0, _EP1, _EP2 = 1.26177193074810590878e-4, 3.02994407707441961300e-2, 9.99999999999999999910e-1
_EQ0, _EQ1, _EQ2, _EQ3 = (3.00198505138664455042e-6, 2.52448340349684104192e-3, 2.27265548208155028766e-1,
                          2.00000000000000000009e0)
_LN2_HI, _LN2_LO, _LOG2E = 6.93145751953125e-1, 1.42860682030941723212e-6, 1.4426950408889634073599
_TP0, _TP1, _TP2 = -9.64399179425052238628e-1, -9.92877231001918586564e1, -1.61468768441708447952e3
_TQ0, _TQ1, _TQ2 = 1.12811678491632931402e2, 2.23548839060100448583e3, 4.84406305325125486048e3


@njit(cache=True, inline="always")
def _exp_0_40(x):
    """exp(x) for x in [0, 40] without branches or library calls (so loops of it vectorise)."""
    k = math.floor(_LOG2E * x + 0.5)
    r = x - k * _LN2_HI
    r = r - k * _LN2_LO
    rr = r * r
    px = r * ((_EP0 * rr + _EP1) * rr + _EP2)
    e = 1.0 + 2.0 * (px / ((((_EQ0 * rr + _EQ1) * rr + _EQ2) * rr + _EQ3) - px))
    return e * float(np.int64(1) << np.int64(k))  # 2^k exactly, k in [0, 58]


@njit(cache=True, inline="always")
def tanh(z):
    """tanh(z) within 2 ulp (Cephes' method: a rational form below |z| = 0.625, 1 - 2 / (e^2|z| + 1)
    above, exactly 1 from |z| = 20 on, where tanh rounds to 1); both branches are computed and
    one selected, so a loop of it vectorises. NaN gives NaN."""
    a = abs(z)
    s = z * z
    small = z + z * s * (((_TP0 * s + _TP1) * s + _TP2) / (((s + _TQ0) * s + _TQ1) * s + _TQ2))
    e = _exp_0_40(2.0 * min(a, 20.0))
    big = 1.0 - 2.0 / (e + 1.0)
    big = -big if z < 0.0 else big
    return small if a < 0.625 else (big if a == a else z)


@njit(cache=True, inline="always")
def activate(z, act):
    """Activation ``act`` (code, see module doc) of the scalar ``z``."""
    if act == 0:
        return tanh(z)
    if act == 1:
        return z
    if act == 2:
        return logistic(z)
    return z if z > 0.0 else 0.0


@njit(cache=True)
def sell_pack(indptr, indices, data, rows, scount, sptr, out_idx, out_data):
    """Fill the SELL-8 arrays ``out_idx``, ``out_data`` (zeroed, length sptr[-1]) from sorted CSR;
    slice ``s`` lane ``lane`` holds row ``rows[8 s + lane]``."""
    for s in range(scount.shape[0]):
        for lane in range(scount[s]):
            r = rows[LANES * s + lane]
            pos = sptr[s] + lane
            for j in range(indptr[r], indptr[r + 1]):
                out_idx[pos] = indices[j]
                out_data[pos] = data[j]
                pos += LANES


@intrinsic
def _sell_dot(typingctx, data, idx, x, off, length):
    """The 8 lanes' sums of one SELL slice, a tuple: lane ``l`` sums ``data[p] * x[idx[p]]``
    over ``p = off + 8 k + l``, k = 0 .. length - 1, in that order, each product rounded, then
    added (no fused multiply-add: the bits of the scalar loop, lane by lane). Written as LLVM
    vector code: 8 values and 8 indices loaded at once and the 8 ``x`` entries gathered by one
    instruction where the CPU has one (``llvm.masked.gather``; AVX2/AVX-512 ``vgatherqpd``,
    elsewhere LLVM makes it 8 loads); about 1.8x faster than 8 scalar running sums, whose
    3 loads a product kept the load ports busy. ``data`` and ``x`` of one float dtype."""
    if not (isinstance(data, types.Array) and isinstance(x, types.Array) and isinstance(idx, types.Array)
            and data.dtype == x.dtype and data.dtype in (types.float64, types.float32)
            and isinstance(idx.dtype, types.Integer)):
        return None
    sig = types.UniTuple(data.dtype, LANES)(data, idx, x, off, length)

    def codegen(context, builder, signature, args):
        dty, ity, xty = signature.args[:3]
        da, ia, xa = (context.make_array(t)(context, builder, a) for t, a in zip(signature.args[:3], args[:3]))
        i32, i64 = ir.IntType(32), ir.IntType(64)
        start = context.cast(builder, args[3], signature.args[3], types.int64)
        count = context.cast(builder, args[4], signature.args[4], types.int64)
        size = dty.dtype.bitwidth // 8
        vf = ir.VectorType(context.get_value_type(dty.dtype), LANES)
        vi = ir.VectorType(context.get_value_type(ity.dtype), LANES)
        vi64, vbool = ir.VectorType(i64, LANES), ir.VectorType(ir.IntType(1), LANES)
        vptr = ir.VectorType(ir.PointerType(), LANES)
        gather = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(vf, [vptr, i32, vbool, vf]),
            f"llvm.masked.gather.v{LANES}f{8 * size}.v{LANES}p0")
        # the addresses of x's entries: x's base + 8 (or 4) * index, as integers (llvmlite's
        # gep takes no vector of indices)
        base = builder.insert_element(ir.Constant(vi64, ir.Undefined), builder.ptrtoint(xa.data, i64), i32(0))
        base = builder.shuffle_vector(base, ir.Constant(vi64, ir.Undefined), ir.Constant(ir.VectorType(i32, LANES),
                                                                                           [0] * LANES))
        acc = cgutils.alloca_once_value(builder, ir.Constant(vf, None))
        with cgutils.for_range(builder, count) as loop:
            pos = builder.add(start, builder.mul(loop.index, i64(LANES)))
            values = builder.load(builder.bitcast(builder.gep(da.data, [pos], inbounds=True), vf.as_pointer()),
                                  align=size)
            cols = builder.load(builder.bitcast(builder.gep(ia.data, [pos], inbounds=True), vi.as_pointer()),
                                align=ity.dtype.bitwidth // 8)
            if ity.dtype.bitwidth < 64:
                cols = builder.zext(cols, vi64)
            ptrs = builder.inttoptr(builder.add(base, builder.mul(cols, ir.Constant(vi64, [size] * LANES))), vptr)
            xs = builder.call(gather, [ptrs, i32(size), ir.Constant(vbool, [1] * LANES), ir.Constant(vf, ir.Undefined)])
            builder.store(builder.fadd(builder.load(acc), builder.fmul(values, xs)), acc)
        v = builder.load(acc)
        return context.make_tuple(builder, signature.return_type,
                                  [builder.extract_element(v, i32(lane)) for lane in range(LANES)])

    return sig, codegen


@njit(cache=True, inline="always")
def _slice_sums(sptr, slen, idx, data, x, s, rows, scount, z):
    a0, a1, a2, a3, a4, a5, a6, a7 = _sell_dot(data, idx, x, sptr[s], slen[s])
    base = LANES * s
    c = scount[s]
    if c == LANES:
        z[rows[base]], z[rows[base + 1]], z[rows[base + 2]], z[rows[base + 3]] = a0, a1, a2, a3
        z[rows[base + 4]], z[rows[base + 5]], z[rows[base + 6]], z[rows[base + 7]] = a4, a5, a6, a7
    else:
        acc = (a0, a1, a2, a3, a4, a5, a6, a7)
        for lane in range(c):
            z[rows[base + lane]] = acc[lane]


@njit(cache=True, fastmath={"reassoc", "contract"})
def _dense_rows(W, x, r0, r1, z):
    """z[i] = W[i] . x for rows r0 <= i < r1, summed in z's precision (SIMD: the sum is
    reassociated). A float32 ``W`` is read four rows at a time (each x[j] loaded once for four
    rows: 1.3x faster at 500 units in isolation); float64 keeps the one-row loop (same results
    as before)."""
    n = x.shape[0]
    i = r0
    if W.itemsize == 4:
        while i + 4 <= r1:
            a0 = a1 = a2 = a3 = z.dtype.type(0)
            for j in range(n):
                xj = x[j]
                a0 += W[i, j] * xj
                a1 += W[i + 1, j] * xj
                a2 += W[i + 2, j] * xj
                a3 += W[i + 3, j] * xj
            z[i], z[i + 1], z[i + 2], z[i + 3] = a0, a1, a2, a3
            i += 4
    for r in range(i, r1):
        acc = z.dtype.type(0)
        for j in range(n):
            acc += W[r, j] * x[j]
        z[r] = acc


@njit(cache=True, error_model="numpy")
def _leaky_tanh(x, z, r0, r1, leak):
    """x <- (1 - leak) x + leak tanh(z) over r0:r1 (one loop per activation, so each
    vectorises, and a specialised kernel compiles only its own)."""
    c = 1.0 - leak
    for i in range(r0, r1):
        x[i] = c * x[i] + leak * tanh(z[i])


@njit(cache=True, error_model="numpy")
def _leaky_identity(x, z, r0, r1, leak):
    """x <- (1 - leak) x + leak z over r0:r1."""
    c = 1.0 - leak
    for i in range(r0, r1):
        x[i] = c * x[i] + leak * z[i]


@njit(cache=True, error_model="numpy")
def _leaky_sigmoid(x, z, r0, r1, leak):
    """x <- (1 - leak) x + leak sigmoid(z) over r0:r1."""
    c = 1.0 - leak
    for i in range(r0, r1):
        x[i] = c * x[i] + leak * logistic(z[i])


@njit(cache=True, error_model="numpy")
def _leaky_relu(x, z, r0, r1, leak):
    """x <- (1 - leak) x + leak max(z, 0) over r0:r1."""
    c = 1.0 - leak
    for i in range(r0, r1):
        zi = z[i]
        x[i] = c * x[i] + leak * (zi if zi > 0.0 else 0.0)


@njit(cache=True, inline="always")
def _update(x, z, r0, r1, leak, act, ACT):
    """x <- (1 - leak) x + leak f(z) over r0:r1, f the activation ``act``; ``ACT`` its code
    fixed at compile time (then only that loop is compiled) or ``ANY`` (chosen per call)."""
    if ACT == ANY:
        if act == TANH:
            _leaky_tanh(x, z, r0, r1, leak)
        elif act == IDENTITY:
            _leaky_identity(x, z, r0, r1, leak)
        elif act == SIGMOID:
            _leaky_sigmoid(x, z, r0, r1, leak)
        else:
            _leaky_relu(x, z, r0, r1, leak)
    elif ACT == TANH:
        _leaky_tanh(x, z, r0, r1, leak)
    elif ACT == IDENTITY:
        _leaky_identity(x, z, r0, r1, leak)
    elif ACT == SIGMOID:
        _leaky_sigmoid(x, z, r0, r1, leak)
    else:
        _leaky_relu(x, z, r0, r1, leak)


@njit(cache=True)
def _sparse_rows(mat, layer, x, z):
    """z[i] = W[i] . x for the rows of ``layer``, from the SELL arrays of ``mat``."""
    sptr, slen, rows, scount, lslice, idx, data, dense = mat
    for s in range(lslice[layer], lslice[layer + 1]):
        _slice_sums(sptr, slen, idx, data, x, s, rows, scount, z)


@njit(cache=True, inline="always")
def _step(mat, bounds, drive, bias, wfb, fb, x, z, leak, act, noise, rng, b, LAYOUT, ACT, NOISY, FB):
    """One step (see :func:`step`). ``LAYOUT`` (``SPARSE``, ``DENSE``), ``ACT`` (an activation
    code), ``NOISY`` and ``FB`` (0 or 1: noise, output feedback) are fixed at compile time,
    where a branch not taken is not compiled, or ``ANY``: read from the arguments per call."""
    dense = mat[7]
    for layer in range(bounds.shape[0] - 1):
        r0 = bounds[layer]
        r1 = bounds[layer + 1]
        if LAYOUT == DENSE:
            _dense_rows(dense, x, r0, r1, z)
        elif LAYOUT == SPARSE:
            _sparse_rows(mat, layer, x, z)
        elif dense.shape[0] > 0:
            _dense_rows(dense, x, r0, r1, z)
        else:
            _sparse_rows(mat, layer, x, z)
        if FB == 1:
            _add_drive_fb(z, drive, bias, wfb, fb, r0, r1)
        elif FB == 0:
            _add_drive(z, drive, bias, r0, r1)
        elif fb.shape[0] > 0:
            _add_drive_fb(z, drive, bias, wfb, fb, r0, r1)
        else:
            _add_drive(z, drive, bias, r0, r1)
        _update(x, z, r0, r1, leak, act, ACT)
        if NOISY == 1:
            _add_noise(x, r0, r1, noise, rng, b)
        elif NOISY == ANY:
            if noise > 0.0:
                _add_noise(x, r0, r1, noise, rng, b)


@njit(cache=True, inline="always")
def _add_drive(z, drive, bias, r0, r1):
    for i in range(r0, r1):
        z[i] = z[i] + (drive[i] + bias[i])


@njit(cache=True)
def _add_drive_fb(z, drive, bias, wfb, fb, r0, r1):
    n_fb = fb.shape[0]
    for i in range(r0, r1):
        acc = z[i] + (drive[i] + bias[i])
        for m in range(n_fb):
            acc += wfb[i, m] * fb[m]
        z[i] = acc


@njit(cache=True)
def _add_noise(x, r0, r1, noise, rng, b):
    for i in range(r0, r1):
        x[i] += noise * normal(rng, b)


@njit(cache=True)
def step(mat, bounds, drive, bias, wfb, fb, x, z, leak, act, noise, rng, b):
    """Advance the state ``x`` (n,) one step in place. ``drive`` (n,) is the input term
    ``Win u`` of this step, ``fb`` (n_fb,) the fed-back output; ``mat`` the matrix layout (see
    module doc); ``z`` (n,) scratch; noise from stream ``b`` of ``rng``."""
    _step(mat, bounds, drive, bias, wfb, fb, x, z, leak, act, noise, rng, b, ANY, ANY, ANY, ANY)


@njit(parallel=True, cache=True)
def run(mat, bounds, win, wfb, bias, inputs, feedback, x, leak, act, noise, rng, out):
    """Drive the reservoir through whole sequences (teacher-forced feedback).

    inputs (B, T, n_in), feedback (B, T, n_fb) (the teacher's previous output at each step, or
    n_fb = 0), x (B, n) start states, updated in place to the end states; out (B, T, n) receives
    the state after each step.
    """
    for b in prange(inputs.shape[0]):
        _run_sequence(mat, bounds, win, wfb, bias, inputs[b], feedback[b], x[b], leak, act, noise, rng,
                      uint64(b), out[b])


@njit(cache=True)
def _run_sequence(mat, bounds, win, wfb, bias, inputs, feedback, x, leak, act, noise, rng, b, out):
    """Sequence ``b`` of :func:`run`: inputs (T, n_in), feedback (T, n_fb), x (n,), out (T, n).
    (``b`` is uint64 in both callers, its type in a parallel loop, so this compiles once.)"""
    _sequence(mat, bounds, win, wfb, bias, inputs, feedback, x, leak, act, noise, rng, b, out, ANY, ANY, ANY, ANY)


@njit(cache=True, inline="always")
def _sequence(mat, bounds, win, wfb, bias, inputs, feedback, x, leak, act, noise, rng, b, out, LAYOUT, ACT, NOISY,
              FB):
    """The steps of one sequence (:func:`_run_sequence`), flags as for :func:`_step`."""
    n = x.shape[0]
    z = np.empty(n, bias.dtype)
    drive = np.empty(n)
    for t in range(inputs.shape[0]):
        _input_term(win, inputs[t], drive)
        _step(mat, bounds, drive, bias, wfb, feedback[t], x, z, leak, act, noise, rng, b, LAYOUT, ACT, NOISY, FB)
        _copy(x, out[t])


@njit(cache=True, inline="always")
def _copy(src, dst):
    """``dst[:] = src`` for 1-D arrays of one length, as a loop. (Numba compiles an array
    assigned to a slice together with its shape-mismatch error message: about 2 s on a cold
    cache, once per process. The prange index is passed to :func:`step` as uint64, its type
    inside the parallel loop, so that ``step`` compiles once, not once more for int64.)"""
    for i in range(dst.shape[0]):
        dst[i] = src[i]


@njit(cache=True, inline="always")
def _input_term(win, u, drive):
    """drive = win @ u, each row summed from 0.0 in input order. Where ``win``'s columns are
    contiguous (one input, or a Fortran-ordered ``win``: the ESN passes one on the CPU) the sum
    runs column by column, each a vector loop over the units (the same additions, in the same
    order, as the row loop)."""
    n, n_in = win.shape
    if n_in == 1 or win.strides[0] == win.itemsize:
        for i in range(n):
            drive[i] = 0.0
        for k in range(n_in):
            w = win[:, k]
            uk = u[k]
            for i in range(n):
                drive[i] += w[i] * uk
        return
    for i in range(n):
        acc = 0.0
        for k in range(win.shape[1]):
            acc += win[i, k] * u[k]
        drive[i] = acc


@njit(cache=True, inline="always")
def _readout(wout, wbias, x, y):
    for o in range(wout.shape[0]):
        acc = wbias[o]
        for i in range(wout.shape[1]):
            acc += wout[o, i] * x[i]
        y[o] = acc


@njit(parallel=True, cache=True)
def readout(states, wout, wbias, out):
    """The readout ``out[b, t] = wout @ states[b, t] + wbias`` of recorded states (B, T, n) into
    out (B, T, n_out), each row summed as :func:`run_readout` sums it."""
    n_batch, n_steps = states.shape[0], states.shape[1]
    for r in prange(n_batch * n_steps):
        b = r // n_steps
        t = r - b * n_steps
        _readout(wout, wbias, states[b, t], out[b, t])


@njit(cache=True)
def readout_serial(states, wout, wbias, out):
    """:func:`readout` in one thread (the same numbers; no parallel region to compile)."""
    for b in range(states.shape[0]):
        for t in range(states.shape[1]):
            _readout(wout, wbias, states[b, t], out[b, t])


@njit(parallel=True, cache=True)
def run_readout(mat, bounds, win, wfb, bias, wout, wbias, inputs, closed, x, y, leak, act, noise, rng,
                out_x, out_y):
    """Run with the readout in the loop: its output ``y`` feeds back (through ``wfb``) and, when
    ``closed``, is also the next input (autonomous generation; then n_in == n_out).

    wout (n_out, n), wbias (n_out,); inputs (B, T, n_in) (ignored when ``closed``); x (B, n) and
    y (B, n_out) are the start state and the last output (updated in place); out_x (B, T, n) and
    out_y (B, T, n_out) receive the state and the readout after each step.
    """
    for b in prange(out_y.shape[0]):
        _run_readout_sequence(mat, bounds, win, wfb, bias, wout, wbias, inputs[b], closed, x[b], y[b], leak, act,
                              noise, rng, uint64(b), out_x[b], out_y[b])


@njit(cache=True)
def _run_readout_sequence(mat, bounds, win, wfb, bias, wout, wbias, inputs, closed, x, y, leak, act, noise, rng,
                          b, out_x, out_y):
    """Sequence ``b`` (uint64) of :func:`run_readout`: inputs (T, n_in), x (n,), y (n_out,),
    out_x (T, n), out_y (T, n_out)."""
    _readout_sequence(mat, bounds, win, wfb, bias, wout, wbias, inputs, closed, x, y, leak, act, noise, rng, b,
                      out_x, out_y, ANY, ANY, ANY, ANY)


@njit(cache=True, inline="always")
def _readout_sequence(mat, bounds, win, wfb, bias, wout, wbias, inputs, closed, x, y, leak, act, noise, rng, b,
                      out_x, out_y, LAYOUT, ACT, NOISY, FB):
    """The steps of one sequence of :func:`run_readout`, flags as for :func:`_step`."""
    n = x.shape[0]
    n_fb = wfb.shape[1]
    z = np.empty(n, bias.dtype)
    drive = np.empty(n)
    fb = np.zeros(n_fb)
    u = np.empty(win.shape[1])
    for t in range(out_y.shape[0]):
        _copy(y if closed else inputs[t], u)
        if n_fb > 0:
            _copy(y, fb)
        _input_term(win, u, drive)
        _step(mat, bounds, drive, bias, wfb, fb, x, z, leak, act, noise, rng, b, LAYOUT, ACT, NOISY, FB)
        _readout(wout, wbias, x, y)
        _copy(x, out_x[t])
        _copy(y, out_y[t])


def _serial_kernels(layout, act, noisy, fb):
    """The single-sequence CPU kernels ``run_serial`` and ``run_readout_serial`` (the arguments
    of :func:`run` and :func:`run_readout`), compiled for one variant: ``layout``, ``act``,
    ``noisy``, ``fb`` as the flags of :func:`_step` (``ANY``: read per call). Each is one
    function (the step inlined, no call levels) in which only the variant's branches are
    compiled: about half the cold compile time of the generic kernels (see :func:`serial`)."""
    LAYOUT, ACT, NOISY, FB = layout, act, noisy, fb

    @njit(cache=True)
    def run_serial(mat, bounds, win, wfb, bias, inputs, feedback, x, leak, act, noise, rng, out):
        for b in range(inputs.shape[0]):
            _sequence(mat, bounds, win, wfb, bias, inputs[b], feedback[b], x[b], leak, act, noise, rng, uint64(b),
                      out[b], LAYOUT, ACT, NOISY, FB)

    @njit(cache=True)
    def run_readout_serial(mat, bounds, win, wfb, bias, wout, wbias, inputs, closed, x, y, leak, act, noise, rng,
                           out_x, out_y):
        for b in range(out_y.shape[0]):
            _readout_sequence(mat, bounds, win, wfb, bias, wout, wbias, inputs[b], closed, x[b], y[b], leak, act,
                              noise, rng, uint64(b), out_x[b], out_y[b], LAYOUT, ACT, NOISY, FB)

    return {"run_serial": run_serial, "run_readout_serial": run_readout_serial}


_VARIANTS = {}


def serial(name, layout, act, noisy, fb):
    """The single-sequence CPU kernel ``name`` ("run_serial" or "run_readout_serial": :func:`run`
    and :func:`run_readout` in one thread, the same numbers) compiled for one variant:
    ``layout`` ``SPARSE`` or ``DENSE``, activation code ``act``, ``noisy`` and ``fb`` (0 or 1:
    state noise, output feedback); each may be ``ANY`` (read per call). Variants are built once
    per process and cached on disk like every kernel (a closure's cache entry is keyed by its
    flags). Only the variant's branches compile: a first ``fit`` on a cold cache compiles the
    step of its own layout and activation, not the other layout, the three other activations,
    the noise and the feedback."""
    key = (int(layout), int(act), int(noisy), int(fb))
    if key not in _VARIANTS:
        _VARIANTS[key] = _serial_kernels(*key)
    return _VARIANTS[key][name]


# the generic variants (every flag read per call): the single-sequence kernels of any model
run_serial = serial("run_serial", ANY, ANY, ANY, ANY)
run_readout_serial = serial("run_readout_serial", ANY, ANY, ANY, ANY)


@njit(cache=True, inline="always")
def member(mats, soff, r):
    """The layout tuple of reservoir ``r`` of a stacked batch (see
    :func:`neurosim.reservoir.layout.stack_layouts`): views of the stacked arrays, so that
    :func:`step` runs it exactly as the reservoir's own layout."""
    sptr, slen, rows, scount, lslice, idx, data, dense = mats
    s0 = soff[r]
    s1 = soff[r + 1]
    return (sptr[s0:s1 + 1], slen[s0:s1], rows[LANES * s0:LANES * s1], scount[s0:s1], lslice[r], idx, data,
            dense[r])


@njit(parallel=True, cache=True)
def run_many(mats, soff, bounds, win, wfb, bias, inputs, feedback, x, leak, act, noise, rng, out):
    """:func:`run` for R reservoirs of the same size over the same sequences, in parallel over
    (reservoir, sequence) pairs.

    mats, soff: the stacked layouts (:func:`member` gives reservoir r's); win (R, n, n_in),
    wfb (R, n, n_fb), bias (R, n); inputs (B, T, n_in) and feedback (B, T, n_fb), shared by all
    reservoirs; x (R, B, n) start states, updated in place; leak (R,), noise (R,); reservoir
    ``r``'s sequence ``b`` draws its noise from stream ``r * B + b`` of ``rng``; out (R, B, T, n).
    Each reservoir's numbers are those :func:`run` gives for it alone (the same step, in the
    same order).
    """
    n_res, n_batch = x.shape[0], x.shape[1]
    n_steps = inputs.shape[1]
    n = x.shape[2]
    for k in prange(n_res * n_batch):
        r = k // n_batch
        b = k - r * n_batch
        m = member(mats, soff, r)
        z = np.empty(n, bias.dtype)
        drive = np.empty(n)
        xb = x[r, b]
        for t in range(n_steps):
            _input_term(win[r], inputs[b, t], drive)
            step(m, bounds, drive, bias[r], wfb[r], feedback[b, t], xb, z, leak[r], act, noise[r], rng, uint64(k))
            _copy(xb, out[r, b, t])


@njit(parallel=True, cache=True)
def run_readout_many(mats, soff, bounds, win, wfb, bias, wout, wbias, inputs, closed, x, y, leak, act, noise,
                     rng, out_x, out_y):
    """:func:`run_readout` for R reservoirs at once (arguments as for :func:`run_many`; wout
    (R, n_out, n), wbias (R, n_out), y (R, B, n_out), out_x (R, B, T, n), out_y (R, B, T, n_out)).
    Each reservoir's numbers are those :func:`run_readout` gives for it alone."""
    n_res, n_batch = x.shape[0], x.shape[1]
    n_steps = out_y.shape[2]
    n = x.shape[2]
    n_fb = wfb.shape[2]
    for k in prange(n_res * n_batch):
        r = k // n_batch
        b = k - r * n_batch
        m = member(mats, soff, r)
        z = np.empty(n, bias.dtype)
        drive = np.empty(n)
        xb = x[r, b]
        yb = y[r, b]
        fb = np.zeros(n_fb)
        u = np.empty(win.shape[2])
        for t in range(n_steps):
            _copy(yb if closed else inputs[b, t], u)
            if n_fb > 0:
                _copy(yb, fb)
            _input_term(win[r], u, drive)
            step(m, bounds, drive, bias[r], wfb[r], fb, xb, z, leak[r], act, noise[r], rng, uint64(k))
            _readout(wout[r], wbias[r], xb, yb)
            _copy(xb, out_x[r, b, t])
            _copy(yb, out_y[r, b, t])


@njit(cache=True)
def force(mat, bounds, win, wfb, bias, inputs, targets, x, y, w, wbias, P, leak, act, noise, rng, every,
          out_y):
    """FORCE learning (Sussillo and Abbott 2009): the reservoir runs on its own fed-back output
    ``y`` while RLS (``P`` (n + 1, n + 1), no forgetting) pulls the readout toward ``targets``
    every ``every`` steps. One sequence: inputs (T, n_in), targets (T, n_out), x (n,), y (n_out,)
    updated in place; out_y (T, n_out) receives the readout after each step (before the update).
    """
    n_steps = targets.shape[0]
    n = x.shape[0]
    n_out = targets.shape[1]
    m = n + 1
    drive = np.empty(n)
    fb = np.zeros(wfb.shape[1])
    phi = np.empty(m)
    k = np.empty(m)
    z = np.empty(n, bias.dtype)
    for t in range(n_steps):
        if fb.shape[0] > 0:
            _copy(y, fb)
        _input_term(win, inputs[t], drive)
        step(mat, bounds, drive, bias, wfb, fb, x, z, leak, act, noise, rng, uint64(0))
        _readout(w, wbias, x, y)
        _copy(y, out_y[t])
        if t % every != 0:
            continue
        _copy(x, phi[:n])
        phi[n] = 1.0
        denom = _rls_gain(P, phi, k, 1.0)
        for o in range(n_out):
            e = y[o] - targets[t, o]
            for i in range(n):
                w[o, i] -= e * k[i]
            wbias[o] -= e * k[n]
            y[o] -= e * (1.0 - 1.0 / denom)  # a-posteriori output, fed back next step
        _rls_downdate(P, k, denom, 1.0)


@njit(parallel=True, cache=True, error_model="numpy")
def elm_hidden(b, act, out):
    """ELM hidden layer, in place: out (N, n_hidden) <- f(out + b), where ``out`` holds the input
    product X @ Win (done by BLAS); in parallel over samples."""
    n_samples, n_hidden = out.shape
    for s in prange(n_samples):
        for h in range(n_hidden):
            out[s, h] = activate(out[s, h] + b[h], act)
