"""CUDA twin of :func:`neurosim.kernels.spiking.run_steps`: a thread per neuron, atomic delivery.

:func:`run_steps` has the CPU kernel's name and arguments in the same order (device arrays
instead of host arrays, the same ``None`` for the parts a network does not use) and returns the
number of steps done. It is a host function: a step is two kernel launches (three on recorded
steps), queued without waiting, and the host synchronises once per call (one chunk), to read the
number of steps done. Brian2's schedule, as on the CPU:

1. ``_record`` (recorded steps only): a thread per (variable, recorded neuron) copies the state
   at the start of the step into row ``k // rec_every`` of ``rec_buf``.
2. ``_spikes``: a thread per neuron updates it (the CPU kernel's arithmetic, term by term),
   thresholds and resets it, decays its synaptic variables and adds the input that the ring
   buffer holds for this step (the CPU adds it in its delivery; nothing reads it in between);
   then a thread per Poisson source draws from its own stream (the CPU's draws), and one thread
   steps through the generator events. Spikers are appended to ``fired`` and recorded spikes to
   ``spk_step``/``spk_idx`` through one atomic reservation per block (a shared counter gives
   each spiker its place in the block's range), and each group's count goes to ``rate_buf``
   the same way.
3. ``_deliver``: groups of ``config.SPIKING_CUDA_LANES`` threads take the spikers (grid-stride
   over ``fired``), the lanes of a group stride over its outgoing synapses (coalesced reads of
   ``out_code``/``out_w``) and add the weight atomically into ``syn``, or into ring-buffer row
   ``(s + d) % L`` for a delay of ``d`` steps. Work ~ spikes x fan-out, as on the CPU; a
   post-synaptic gather (a thread per neuron scanning its incoming synapses for spikers) would
   read every synapse every step, N x fan-in: 1 / (rate x dt) times more work, 1000x at
   10 Hz and dt = 0.1 ms. The atomics' contention is low: a step's few spikes hit scattered
   neurons.

Control words (``ctl``, int64 on the device): ``[go0, go1, count0, count1, done, kk0, kk1]``.
The launches of step ``s`` read the words of parity ``s & 1``: ``go`` (0: run the step),
``count`` (spikers so far) and ``kk`` (the step's number in the call, from which they derive the
step, the record row and the rows of the current and rate tables; the call's constants are in
``cfg``). ``_deliver`` of step ``s`` sets the words of step ``s + 1`` (the other parity: no thread
of the same launch reads them). So every launch of one parity has the same arguments (they are
marshalled once, see :class:`_Launch`), and a call stops, as the CPU's does, before a step whose
spikes might not fit in the spike buffer (``n_spk + N > cap``): the remaining launches of the
call do nothing, and the host calls again with an emptied buffer.

Results: spikes within a step come in the order of the atomics; the caller sorts them (step,
then neuron), as the CPU gives them. State updates, Poisson and generator spikes are those of
the CPU, bit for bit: products are written ``libdevice.dmul_rn``, which the compiler never fuses
into a multiply-add (an FMA rounds once where the CPU rounds twice), the Izhikevich ``exp(-a
dt)`` is computed on the host with the CPU's ``exp``, the conductance LIF's exponential is the
CPU's :func:`neurosim.kernels.vexp.exp` written out (:func:`_exp`: plain arithmetic, no libm),
and the division is IEEE. What can differ is the order of the atomic adds into one synaptic
variable (or ring slot) in one step; with one input per variable per step, or equal weights per
channel (CUBA), the sums are the CPU's. Under the simulator every product is plain Python float
arithmetic.

The kernels compile once per signature and GPU model and are cached on disk (``cache=True``);
after editing ``kernels/cuda/rng.py``, clear ``__pycache__`` (see docs/architecture.md).
"""
import math

import numpy as np
from numba import config as _numba_config
from numba import cuda, int32, int64

from ... import config
from .. import vexp as _vx
from ..spiking import (IZH_CONDUCTANCE, LIF_CONDUCTANCE, LIF_CURRENT, P_D, P_DE,
                       P_DECAY, P_DI, P_DTTAU, P_EE, P_EI, P_KE, P_KI, P_NREF, P_R, P_RESET,
                       P_REST, P_TH, VAR_SYN_E, VAR_U, VAR_V)
from .rng import uniform

# control words (ctl): written by the launches, read back once per call
GO = 0        # ctl[GO + parity]: 0 while the call runs steps
COUNT = 2     # ctl[COUNT + parity]: spikers of the step
DONE = 4      # ctl[DONE]: steps done in this call
KK = 5        # ctl[KK + parity]: the step (from the call's first) the launches of that parity run

# constants of a call (cfg, int64)
(C_STEP0, C_KOFF, C_EVERY, C_ISTRIDE, C_LAST_I, C_RSTRIDE, C_LAST_P, C_N, C_P, C_CAP, C_LANES,
 C_HAS_I, C_HAS_GEN, C_HAS_RING, N_CFG) = range(15)

if _numba_config.ENABLE_CUDASIM:
    import struct as _struct

    @cuda.jit(device=True, inline=True)
    def _mul(a, b):
        return a * b

    @cuda.jit(device=True, inline=True)
    def _as_double(bits):
        return _struct.unpack("<d", _struct.pack("<q", int(bits)))[0]

    @cuda.jit(device=True, inline=True)
    def _as_int(x):
        return _struct.unpack("<q", _struct.pack("<d", float(x)))[0]
else:  # pragma: no cover (needs a GPU)
    from numba.cuda import libdevice

    @cuda.jit(device=True, inline=True)
    def _mul(a, b):
        return libdevice.dmul_rn(a, b)

    @cuda.jit(device=True, inline=True)
    def _as_double(bits):
        return libdevice.longlong_as_double(bits)

    @cuda.jit(device=True, inline=True)
    def _as_int(x):
        return libdevice.double_as_longlong(x)


@cuda.jit(device=True, inline=True)
def _exp(x):
    """:func:`neurosim.kernels.vexp.exp` step for step (products ``dmul_rn``, sums apart, the
    scale from its bits): the CPU's exponential bit for bit."""
    if x < _vx.LOW:
        x = _vx.LOW
    if x > _vx.HIGH:
        x = _vx.HIGH
    t = _mul(x, _vx.LOG2E) + _vx.SHIFT
    kd = t - _vx.SHIFT
    r = (x - _mul(kd, _vx.LN2_HI)) - _mul(kd, _vx.LN2_LO)
    r2 = _mul(r, r)
    r4 = _mul(r2, r2)
    r8 = _mul(r4, r4)
    a0 = _vx.C0 + _mul(_vx.C1, r)
    a1 = _vx.C2 + _mul(_vx.C3, r)
    a2 = _vx.C4 + _mul(_vx.C5, r)
    a3 = _vx.C6 + _mul(_vx.C7, r)
    a4 = _vx.C8 + _mul(_vx.C9, r)
    a5 = _vx.C10 + _mul(_vx.C11, r)
    a6 = _vx.C12 + _mul(_vx.C13, r)
    b0 = a0 + _mul(a1, r2)
    b1 = a2 + _mul(a3, r2)
    b2 = a4 + _mul(a5, r2)
    p = (b0 + _mul(b1, r4)) + _mul(b2 + _mul(a6, r4), r8)
    return _mul(p, _as_double((_as_int(t) - _vx.SHIFT_BITS + 1023) << 52))


@cuda.jit(device=True, inline=True)
def _group(g_lo, i):
    g = 0
    while i >= g_lo[g + 1]:
        g += 1
    return g


@cuda.jit(device=True, inline=True)
def _drain(syn, c, x_decayed, has_ring, ring, slot):
    """``x_decayed`` plus the ring buffer's input for this step (taken out of the ring)."""
    if has_ring:
        x = ring[slot, c]
        if x != 0.0:
            ring[slot, c] = 0.0
            return x_decayed + x
    return x_decayed


@cuda.jit(device=True)
def _neuron(i, N, kind, p, eu, v, u, syn, ref, has_I, I_ext, r_I, has_ring, ring, slot):
    """State update, threshold and reset of neuron ``i`` (the CPU kernel's arithmetic in the
    same order); True when it spikes."""
    vi = v[i]
    r = ref[i]
    xe = syn[i]
    xi = syn[N + i]
    th = p[P_TH]
    nref = int32(p[P_NREF])
    I = I_ext[r_I, i] if has_I else 0.0
    syn[i] = _drain(syn, i, _mul(xe, p[P_DE]), has_ring, ring, slot)
    syn[N + i] = _drain(syn, N + i, _mul(xi, p[P_DI]), has_ring, ring, slot)
    if kind == LIF_CURRENT:
        decay = p[P_DECAY]
        v_rest = p[P_REST]
        if has_I:
            vn = v_rest + _mul(vi - v_rest, decay) + _mul(_mul(p[P_R], I), 1.0 - decay) \
                + _mul(p[P_KE], xe) + _mul(p[P_KI], xi)
        else:
            vn = v_rest + _mul(vi - v_rest, decay) + _mul(p[P_KE], xe) + _mul(p[P_KI], xi)
        if r > 0:
            vn = vi
            r -= 1
        if vn > th and r == 0:
            v[i] = p[P_RESET]
            ref[i] = nref
            return True
        v[i] = vn
        ref[i] = r
        return False
    if kind == LIF_CONDUCTANCE:
        R = p[P_R]
        gtot = 1.0 + _mul(R, xe + xi)
        v_inf = (p[P_REST] + _mul(R, _mul(xe, p[P_EE]) + _mul(xi, p[P_EI]) + I)) / gtot
        vn = v_inf + _mul(vi - v_inf, _exp(_mul(-p[P_DTTAU], gtot)))
        if r > 0:
            vn = vi
            r -= 1
        if vn > th and r == 0:
            v[i] = p[P_RESET]
            ref[i] = nref
            return True
        v[i] = vn
        ref[i] = r
        return False
    # Izhikevich
    if r > 0:
        if vi >= th and r == 1:      # as the CPU checks (v is held at c < v_peak: never)
            v[i] = p[P_RESET]
            u[i] = u[i] + p[P_D]
            ref[i] = nref
            return True
        ref[i] = r - 1
        return False
    if kind == IZH_CONDUCTANCE:
        I = I + _mul(xe, p[P_EE] - vi) + _mul(xi, p[P_EI] - vi)
    else:
        I = I + xe + xi
    drive = _mul(I, p[P_R])
    half = _mul(0.5, p[P_DTTAU])
    ui = u[i]
    for _ in range(2):
        vi += _mul(half, _mul(_mul(4.0e4, vi), vi) + _mul(5.0e3, vi) + 140.0 - ui + drive)
    if vi > th:
        vi = th
    B = p[P_REST]
    un = _mul(B, vi) + _mul(ui - _mul(B, vi), eu)
    if vi >= th:
        v[i] = p[P_RESET]
        u[i] = un + p[P_D]
        ref[i] = nref
        return True
    v[i] = vi
    u[i] = un
    return False


@cuda.jit(device=True, inline=True)
def _step(ctl, cfg, par):
    """(step s, chunk step k) of the step the launches of parity ``par`` run."""
    kk = ctl[KK + par]
    return cfg[C_STEP0] + kk, cfg[C_KOFF] + kk


@cuda.jit(cache=True)
def _record(ctl, cfg, par, v, u, syn, rec_idx, rec_vars, rec_buf):
    """The state at the start of the step: a thread per (variable, recorded neuron)."""
    t = cuda.grid(1)
    n_idx = rec_idx.shape[0]
    if ctl[GO + par] == 0 and t < rec_vars.shape[0] * n_idx:
        s, k = _step(ctl, cfg, par)
        row = k // cfg[C_EVERY]
        N = cfg[C_N]
        a = t // n_idx
        b = t - a * n_idx
        i = rec_idx[b]
        code = rec_vars[a]
        if code == VAR_V:
            rec_buf[row, a, b] = v[i]
        elif code == VAR_U:
            rec_buf[row, a, b] = u[i]
        elif code == VAR_SYN_E:
            rec_buf[row, a, b] = syn[i]
        else:
            rec_buf[row, a, b] = syn[N + i]


@cuda.jit(cache=True)
def _spikes(ctl, cfg, par, dt, g_lo, g_kind, g_eu, g_par, v, u, syn, ref, I_ext, rates, pstate,
            gen_step, gen_idx, gen_ptr, ring, spk_mask, spk_step, spk_idx, n_spk, rate_buf,
            fired):
    """Neurons (threads 0..N-1), Poisson sources (N..N+P-1), generators (thread N+P)."""
    sh = cuda.shared.array(5, int64)   # spikers, their base, recorded, their base, rate of g0
    tid = cuda.threadIdx.x
    if tid == 0:
        for a in range(5):
            sh[a] = 0
    cuda.syncthreads()
    i = cuda.grid(1)
    N = cfg[C_N]
    P = cfg[C_P]
    s, k = _step(ctl, cfg, par)
    row = k // cfg[C_EVERY]
    go = ctl[GO + par] == 0
    first = cuda.blockIdx.x * cuda.blockDim.x
    g0 = _group(g_lo, first) if first < N else -1
    spiked = False
    recorded = False
    if go and i < N:
        g = _group(g_lo, i)
        r_I = s // cfg[C_ISTRIDE]
        if r_I > cfg[C_LAST_I]:
            r_I = cfg[C_LAST_I]
        spiked = _neuron(i, N, g_kind[g], g_par[g], g_eu[g], v, u, syn, ref,
                         cfg[C_HAS_I] != 0, I_ext, r_I, cfg[C_HAS_RING] != 0, ring,
                         s % ring.shape[0])
        if spiked:
            recorded = spk_mask[i]
            if g == g0:
                cuda.atomic.add(sh, 4, int64(1))
            else:
                cuda.atomic.add(rate_buf, (row, int64(g)), int64(1))
    elif go and i < N + P:
        j = i - N
        r_P = s // cfg[C_RSTRIDE]
        if r_P > cfg[C_LAST_P]:
            r_P = cfg[C_LAST_P]
        spiked = uniform(pstate, j) < rates[r_P, j] * dt
    elif go and cfg[C_HAS_GEN] != 0 and i == N + P:
        n_gen = gen_step.shape[0]
        gp = gen_ptr[0]
        while gp < n_gen and gen_step[gp] < s:
            gp += 1
        start = gp
        while gp < n_gen and gen_step[gp] == s:
            gp += 1
        gen_ptr[0] = gp
        if gp > start:
            base = cuda.atomic.add(ctl, COUNT + par, int64(gp - start))
            for e in range(gp - start):
                fired[base + e] = gen_idx[start + e]
    pos = int64(0)
    rpos = int64(0)
    if spiked:
        pos = cuda.atomic.add(sh, 0, int64(1))
    if recorded:
        rpos = cuda.atomic.add(sh, 2, int64(1))
    cuda.syncthreads()
    if tid == 0:
        if sh[0] > 0:
            sh[1] = cuda.atomic.add(ctl, COUNT + par, sh[0])
        if sh[2] > 0:
            sh[3] = cuda.atomic.add(n_spk, 0, sh[2])
        if sh[4] > 0:
            cuda.atomic.add(rate_buf, (row, int64(g0)), sh[4])
    cuda.syncthreads()
    if spiked:
        fired[sh[1] + pos] = i
    if recorded:
        spk_step[sh[3] + rpos] = s
        spk_idx[sh[3] + rpos] = i


@cuda.jit(cache=True)
def _deliver(ctl, cfg, par, n_spk, fired, out_ptr, out_code, out_w, out_d, ring, syn):
    """This step's spikes along their outgoing synapses (atomic adds); then the control words
    of the next step (thread 0)."""
    t = cuda.grid(1)
    s, k = _step(ctl, cfg, par)
    if ctl[GO + par] == 0:
        n_fired = ctl[COUNT + par]
        lanes = cfg[C_LANES]
        has_ring = cfg[C_HAS_RING] != 0
        stride = cuda.gridsize(1) // lanes
        lane = t % lanes
        L = ring.shape[0]
        a = t // lanes
        while a < n_fired:
            j = fired[a]
            end = out_ptr[j + 1]
            q = out_ptr[j] + lane
            while q < end:
                c = int64(out_code[q])
                if has_ring and out_d[q] != 0:
                    cuda.atomic.add(ring, ((s + out_d[q]) % L, c), out_w[q])
                else:
                    cuda.atomic.add(syn, c, out_w[q])
                q += lanes
            a += stride
    if t == 0:
        nxt = 1 - par
        ctl[COUNT + nxt] = 0
        ctl[KK + nxt] = ctl[KK + par] + 1
        if ctl[GO + par] == 0:
            ctl[DONE] += 1
            ctl[GO + nxt] = 1 if n_spk[0] + cfg[C_N] > cfg[C_CAP] else 0
        else:
            ctl[GO + nxt] = 1


_DUMMY = {}


def _dummy(kind):
    """Small device arrays standing for the parts a network does not use (one compiled kernel
    for every network: ``cfg`` says what is used)."""
    if kind not in _DUMMY:
        host = {"f2": np.zeros((1, 1)), "u2": np.zeros((1, 2), np.uint64),
                "i1": np.zeros(1, np.int64)}[kind]
        _DUMMY[kind] = cuda.to_device(host)
    return _DUMMY[kind]


def _blocks(n_threads, threads):
    """Blocks of ``threads`` covering ``n_threads`` threads (at least one block)."""
    return max(1, -(-int(n_threads) // int(threads)))


class _Launch:
    """Launches of one configured kernel with the same arguments (a step's values come from
    the control words on the device, so the arguments of all steps of one parity are equal).

    The first launch goes through Numba's dispatcher (it compiles and type-checks). After it,
    with ``config.SPIKING_CUDA_PREPARED_LAUNCH``, the arguments Numba marshalled are kept and
    each later launch is one call of ``cuda.core.launch``: Numba's handling of twenty-odd
    array arguments costs tens of microseconds a launch, more than a step of a 10^6-neuron
    network takes on the GPU. This reads numba-cuda internals (``_Kernel._prepare_args``, the
    code library's cuda.core kernel); where they differ (another release, the simulator) every
    launch goes through the dispatcher, with the same result.
    """

    def __init__(self, configured, args):
        self.configured, self.args = configured, args
        self.fast, self.first, self.tried = None, True, False

    def __call__(self):
        if self.fast is not None:
            if self.tried:
                self.fast()
                return
            self.tried = True
            try:                # a launch refused before it is queued: back to the dispatcher
                self.fast()
                return
            except Exception:
                self.fast = None
        self.configured(*self.args)
        if self.first:
            self.first = False
            if config.SPIKING_CUDA_PREPARED_LAUNCH:
                self.fast = _prepared(self.configured, self.args)


def _prepared(configured, args):
    """A function launching ``configured`` on ``args`` again without Numba's dispatcher, or
    None where numba-cuda's internals are not the expected ones."""
    try:
        from cuda.core import LaunchConfig, launch

        dispatcher = configured.dispatcher
        kernel = dispatcher.overloads[tuple(dispatcher.typeof_pyval(a) for a in args)]
        if kernel.cooperative or kernel.debug or configured.pre_launch_callbacks:
            return None
        kernelargs, retr = [], []
        for ty, value in zip(kernel.argument_types, args):
            kernel._prepare_args(ty, value, configured.stream, retr, kernelargs)
        if retr:        # host arrays, copied back after each launch: not ours
            return None
        function = kernel._codelibrary.get_cufunc().kernel
        launch_config = LaunchConfig(grid=configured.griddim, block=configured.blockdim,
                                     shmem_size=configured.sharedmem)
        stream = configured.stream
    except Exception:
        return None

    def again():
        launch(stream, launch_config, function, *kernelargs)
    return again


def run_steps(step0, k_off, n_steps, dt, g_lo, g_kind, custom, g_par, v, u, syn, ref, aux,
              I_ext, I_stride, poisson, generators, out_ptr, out_code, out_w, delays, dynamic,
              rec_every, rec, wrec, rate_buf, spk_mask, spk_step, spk_idx, n_spk, fired):
    """The CPU kernel's ``run_steps`` on device arrays (see its docstring for the arguments):
    advances by up to ``n_steps`` steps and returns the number done, stopping before a step
    whose spikes might not fit in the spike buffer. Spikes of one step are recorded in no
    particular order. Synaptic plasticity (``dynamic``, ``wrec``), AdEx, Hodgkin-Huxley and
    user models (``custom``, ``aux``) have no twin yet: a ValueError (the network refuses
    them before anything runs)."""
    if dynamic is not None or wrec is not None:
        raise ValueError("synaptic plasticity (STDP, STP) has no CUDA twin yet: run this "
                         "network with backend='cpu'")
    if custom is not None or aux is not None:
        raise ValueError("AdEx, Hodgkin-Huxley and user-defined neurons have no CUDA twin yet: "
                         "run this network with backend='cpu'")
    N = int(v.shape[0])
    n_groups = int(g_lo.shape[0]) - 1
    step0, k_off, n_steps, every = int(step0), int(k_off), int(n_steps), int(rec_every)
    # per-group tables: kinds (all LIF with current synapses when None) and the Izhikevich
    # exp(-a dt), computed here with the CPU's exp
    gp = g_par.copy_to_host()
    kinds = np.full(n_groups, LIF_CURRENT, np.int64) if g_kind is None else g_kind.copy_to_host()
    if kinds.max() > IZH_CONDUCTANCE:
        raise ValueError("AdEx, Hodgkin-Huxley and user-defined neurons have no CUDA twin yet: "
                         "run this network with backend='cpu'")
    eu = np.array([math.exp(-float(gp[g, P_DECAY]) * float(gp[g, P_DTTAU]))
                   for g in range(n_groups)])
    has_I = I_ext is not None
    if poisson is not None:
        rates, rate_stride, pstate = poisson
        P = int(rates.shape[1])
    else:
        rates, rate_stride, pstate, P = _dummy("f2"), 1, _dummy("u2"), 0
    has_gen = generators is not None
    gen_step, gen_idx, gen_ptr = generators if has_gen else (_dummy("i1"),) * 3
    has_ring = delays is not None
    out_d, ring = delays if has_ring else (_dummy("i1"), _dummy("f2"))
    cap = int(spk_step.shape[0])
    threads = int(config.SPIKING_CUDA_THREADS)
    d_threads = int(config.SPIKING_CUDA_DELIVERY_THREADS)
    lanes = int(config.SPIKING_CUDA_LANES)
    if lanes < 1 or d_threads % lanes:
        raise ValueError(f"config.SPIKING_CUDA_LANES ({lanes}) must divide "
                         f"config.SPIKING_CUDA_DELIVERY_THREADS ({d_threads})")
    cfg = np.zeros(N_CFG, np.int64)
    cfg[[C_STEP0, C_KOFF, C_EVERY, C_ISTRIDE, C_LAST_I, C_RSTRIDE, C_LAST_P, C_N, C_P, C_CAP,
         C_LANES, C_HAS_I, C_HAS_GEN, C_HAS_RING]] = (
        step0, k_off, every, int(I_stride), int(I_ext.shape[0]) - 1 if has_I else 0,
        int(rate_stride), int(rates.shape[0]) - 1, N, P, cap, lanes, has_I, has_gen, has_ring)
    go = 1 if int(n_spk.copy_to_host()[0]) + N > cap else 0
    ctl = cuda.to_device(np.array([go, go, 0, 0, 0, 0, 0], np.int64))
    cfg, d_kind, d_eu = cuda.to_device(cfg), cuda.to_device(kinds), cuda.to_device(eu)
    # two launches a step (three on recorded steps), their arguments fixed per parity
    n_pre = int(out_ptr.shape[0]) - 1
    n_a = N + P + has_gen
    spikes = _spikes[_blocks(n_a, threads), min(threads, n_a)]
    deliver = _deliver[min(int(config.SPIKING_CUDA_DELIVERY_BLOCKS),
                           _blocks(n_pre * lanes, d_threads)), d_threads]
    I_dev = I_ext if has_I else _dummy("f2")
    step = []
    for par in (0, 1):
        step.append((
            _Launch(spikes, (ctl, cfg, par, float(dt), g_lo, d_kind, d_eu, g_par, v, u, syn, ref,
                             I_dev, rates, pstate, gen_step, gen_idx, gen_ptr, ring, spk_mask,
                             spk_step, spk_idx, n_spk, rate_buf, fired)),
            _Launch(deliver, (ctl, cfg, par, n_spk, fired, out_ptr, out_code, out_w, out_d, ring,
                              syn))))
    record = [None, None]
    if rec is not None:
        rec_idx, rec_vars, rec_buf = rec
        n_r = rec_idx.shape[0] * rec_vars.shape[0]
        configured = _record[_blocks(n_r, threads), min(threads, n_r)]
        record = [_Launch(configured, (ctl, cfg, par, v, u, syn, rec_idx, rec_vars, rec_buf))
                  for par in (0, 1)]
    for kk in range(n_steps):
        par = (step0 + kk) & 1
        if record[par] is not None and (k_off + kk) % every == 0:
            record[par]()
        step[par][0]()
        step[par][1]()
    return int(ctl.copy_to_host()[DONE])
