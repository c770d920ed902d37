"""CUDA twin of :func:`neurosim.kernels.spiking.run_steps`: a thread per neuron, atomic delivery.

:func:`run_steps` has the CPU kernel's name and arguments in the same order (device arrays
instead of host arrays, the same ``None`` for the parts a network does not use) and returns the
number of steps done. It is a host function: a step is two kernel launches (three on recorded
steps, one or two more with plastic synapses, one more on weight-monitor steps), queued
without waiting, and the host synchronises once per call (one chunk), to read the
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
   neurons. Thread 0 also empties the plastic synapses' history row of this step.
4. Synapses with plasticity (STDP, STP), after the static ones as on the CPU: the launches of
   :mod:`neurosim.kernels.cuda.plasticity` (arrivals and spike history, postsynaptic STDP), whose
   docstring says which thread owns which synapse; the weight monitor before step 1.

Neuron models: LIF and Izhikevich here; AdEx, Hodgkin-Huxley and user models are the
per-neuron updates of :mod:`neurosim.kernels.cuda.neurons`, called by :func:`_neuron` by group
kind. A network with a user model runs ``_spikes`` compiled again (:func:`_kernels`) from the
same source with ``_custom`` bound to the user's step function compiled for the device (as the
CPU compiles ``run_steps_custom`` around its ``njit``); those kernels are not cached on disk.

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
into a multiply-add (an FMA rounds once where the CPU rounds twice), the CPU's explicit fused
multiply-adds (:func:`neurosim.kernels.vexp.fma`) are CUDA's ``fma`` (rounded once on both),
the Izhikevich ``exp(-a dt)`` is computed on the host with the CPU's ``exp``, the conductance
LIF's step is the CPU's (:func:`neurosim.kernels.vexp.relax` written out, ``_relax``, where
the CPU takes it, else :func:`neurosim.kernels.vexp.exp` written out, ``_exp``: plain
arithmetic, no libm; AdEx and HH use it and ``exprel`` the same way), and the division is
IEEE. What can differ is the order of the atomic adds into one synaptic
variable (or ring slot) in one step; with one input per variable per step, or equal weights per
channel (CUBA), the sums are the CPU's. Plastic weights and traces use ``math.exp`` as the
CPU (libdevice's on a GPU: equal to rounding there), and a user model's own arithmetic is
compiled by NVVM (fused multiply-adds: equal to rounding). Under the simulator every product is
plain Python float arithmetic: everything but the order of the atomic adds is the CPU's.

The kernels compile once per signature and GPU model and are cached on disk (``cache=True``);
after editing ``kernels/cuda/rng.py``, clear ``__pycache__`` (see docs/architecture.md).
"""
import math
import weakref

import numpy as np
from numba import cuda, int32, int64
from numba.core.errors import NumbaError

from ... import config
from ..spiking import (ADEX_CURRENT, CONDUCTANCE, CUSTOM_CURRENT, HH_CURRENT, IZH_CONDUCTANCE,
                       LIF_CONDUCTANCE, LIF_CURRENT, P_D, P_DE, P_DECAY, P_DI, P_DTTAU, P_EE,
                       P_EI, P_KE, P_KI, P_NREF, P_R, P_RESET, P_REST, P_TH, VAR_AUX,
                       VAR_SYN_E, VAR_SYN_I, VAR_U, VAR_V)
from . import plasticity as _cp
from ..neurons import P_NVARS
from ..vexp import RELAX_MAX
from .neurons import MAX_VARS, _exp, _fma, _mul, _relax, rebind, with_user_step
from .neurons import adex as _adex
from .neurons import custom as _custom
from .neurons import hh as _hh
from .rng import uniform
from .spiking_control import (C_CAP, C_EVERY, C_HAS_GEN, C_HAS_I, C_HAS_RING, C_ISTRIDE,
                              C_KOFF, C_LANES, C_LAST_I, C_LAST_P, C_N, C_P, C_RSTRIDE, C_STEP0,
                              COUNT, DONE, GO, KK, N_CFG)


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
def _neuron(i, N, kind, p, eu, dt, v, u, aux, syn, ref, has_I, I_ext, r_I, has_ring, ring,
            slot):
    """State update, threshold and reset of neuron ``i`` (the CPU kernel's arithmetic in the
    same order); True when it spikes. AdEx, Hodgkin-Huxley and user models: the per-neuron
    updates of :mod:`neurosim.kernels.cuda.neurons` (``_custom`` is the user's model in the
    kernels compiled for one, :func:`_kernels`)."""
    vi = v[i]
    r = ref[i]
    xe = syn[i]
    xi = syn[N + i]
    th = p[P_TH]
    nref = int32(p[P_NREF])
    I = I_ext[r_I, i] if has_I else 0.0
    syn[i] = _drain(syn, i, _mul(xe, p[P_DE]), has_ring, ring, slot)
    syn[N + i] = _drain(syn, N + i, _mul(xi, p[P_DI]), has_ring, ring, slot)
    if kind >= ADEX_CURRENT:
        conductance = kind % 2 == CONDUCTANCE
        if kind < HH_CURRENT:
            return _adex(i, p, conductance, v, u, ref, xe, xi, I)
        if kind < CUSTOM_CURRENT:
            return _hh(i, p, conductance, v, u, aux, ref, xe, xi, I)
        return _custom(i, p, conductance, dt, v, u, aux, ref, xe, xi, I)
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
        # kernels.neurons.lif_conductance: the polynomial step where vexp.relax holds (the
        # CPU's per-neuron choice), else exponential Euler with the exponential
        R = p[P_R]
        gtot = _fma(R, xe + xi, 1.0)
        A = _fma(R, _fma(xe, p[P_EE], _fma(xi, p[P_EI], I)), p[P_REST])
        y = _mul(p[P_DTTAU], gtot)
        if y >= 0.0 and y <= RELAX_MAX:
            vn = _fma(_fma(-vi, gtot, A), _mul(p[P_DTTAU], _relax(y)), vi)
        else:
            v_inf = A / gtot
            vn = _fma(vi - v_inf, _exp(-y), v_inf)
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
def _record(ctl, cfg, par, v, u, syn, aux, rec_idx, rec_vars, rec_buf):
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
        elif code == VAR_SYN_I:
            rec_buf[row, a, b] = syn[N + i]
        else:
            rec_buf[row, a, b] = aux[code - VAR_AUX, i]


@cuda.jit(cache=True)
def _spikes(ctl, cfg, par, dt, g_lo, g_kind, g_eu, g_par, v, u, aux, syn, ref, I_ext, rates,
            pstate, gen_step, gen_idx, gen_ptr, ring, spk_mask, spk_step, spk_idx, n_spk, rate_buf,
            fired):
    """Neurons (threads 0..N-1), Poisson sources (N..N+P-1), generators (thread N+P). aux:
    the (K, N) state beyond v and u (Hodgkin-Huxley, user models), or a dummy."""
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
        spiked = _neuron(i, N, g_kind[g], g_par[g], g_eu[g], dt, v, u, aux, syn, ref,
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
def _deliver(ctl, cfg, par, n_spk, fired, out_ptr, out_code, out_w, out_d, ring, syn, hist_n):
    """This step's spikes along their outgoing synapses (atomic adds); then the control words
    of the next step and an empty row ``s % L`` of the plastic synapses' spike history
    (:mod:`neurosim.kernels.cuda.plasticity`; a dummy of one row without one) (thread 0)."""
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
        if ctl[GO + par] == 0:
            hist_n[s % hist_n.shape[0]] = 0
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
                "i1": np.zeros(1, np.int64), "f1": np.zeros(1),
                "i2": np.zeros((1, 1), np.int64)}[kind]
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


_USER = weakref.WeakKeyDictionary()


def _kernels(step):
    """``_spikes`` (and ``_record``, unchanged) for a network whose user model is ``step``
    (None: the module's, cached on disk): the same source compiled again with the user's
    function as ``_custom`` (:func:`neurosim.kernels.cuda.neurons.with_user_step`)."""
    if step is None:
        return _spikes
    if step not in _USER:
        neuron = cuda.jit(device=True)(rebind(_neuron, _custom=with_user_step(step)))
        _USER[step] = cuda.jit(rebind(_spikes, _neuron=neuron))
    return _USER[step]


def _check_user(kinds, gp):
    """A user model's state must fit a thread's local array."""
    for g in np.flatnonzero(kinds >= CUSTOM_CURRENT):
        k = int(gp[g, P_NVARS])
        if k > MAX_VARS:
            raise ValueError(f"state: a user-defined neuron model on CUDA has at most {MAX_VARS} "
                             f"state variables; group {g} has {k}")


def _plasticity(ctl, cfg, N, fired, syn, dynamic, wrec, d_blocks, d_threads):
    """The launches of the dynamic synapses (:mod:`neurosim.kernels.cuda.plasticity`) for
    each parity, and of the weight monitor (None where unused): grid-stride over the step's
    spikers or the monitored synapses, on blocks of ``d_threads`` as the delivery's."""
    none = ([], [None, None])
    if dynamic is None:
        return none
    (dyn_ptr, code, w, proj, last, rules, dyn_d, hist, hist_n, xpre, post_tr, last_spike,
     in_ptr, in_syn, stp_u, stp_R) = dynamic
    has_delay, has_stdp, has_stp = dyn_d is not None, xpre is not None, stp_u is not None
    f1, i1 = _dummy("f1"), _dummy("i1")
    if not has_delay:
        dyn_d, hist, hist_n = i1, _dummy("i2"), i1
    if not has_stdp:
        xpre, post_tr, last_spike, in_ptr, in_syn = f1, f1, i1, i1, i1
    if not has_stp:
        stp_u, stp_R = f1, f1
    n_pre = int(dyn_ptr.shape[0]) - 1
    lanes = int(config.SPIKING_CUDA_LANES)
    arrivals = _cp._arrivals[min(d_blocks, _blocks(n_pre * lanes, d_threads)), d_threads]
    post = _cp._post[min(d_blocks, _blocks(N * lanes, d_threads)), d_threads]
    launches = []
    for par in (0, 1):
        step = [_Launch(arrivals, (ctl, cfg, par, fired, syn, dyn_ptr, code, w, proj, last, rules,
                                   dyn_d, hist, hist_n, xpre, post_tr, last_spike, stp_u, stp_R,
                                   int(has_delay), int(has_stdp), int(has_stp)))]
        if has_stdp:
            step.append(_Launch(post, (ctl, cfg, par, fired, w, proj, last, rules, xpre, post_tr,
                                       last_spike, in_ptr, in_syn)))
        launches.append(step)
    weights = [None, None]
    if wrec is not None:
        w_mon, w_idx, s0, every, w_buf, w_n = wrec
        n_w = max(1, int(w_idx.shape[0]))
        configured = _cp.record_weights[min(d_blocks, _blocks(n_w, d_threads)), d_threads]
        weights = [_Launch(configured, (ctl, cfg, par, int(s0), int(every), w_mon, w_idx, w_buf,
                                        w_n)) for par in (0, 1)]
    return launches, weights


def run_steps(step0, k_off, n_steps, dt, g_lo, g_kind, custom, g_par, v, u, syn, ref, aux,
              I_ext, I_stride, poisson, generators, out_ptr, out_code, out_w, delays, dynamic,
              rec_every, rec, wrec, rate_buf, spk_mask, spk_step, spk_idx, n_spk, fired):
    """The CPU kernel's ``run_steps`` on device arrays (see its docstring for the arguments):
    advances by up to ``n_steps`` steps and returns the number done, stopping before a step
    whose spikes might not fit in the spike buffer. Spikes of one step are recorded in no
    particular order. ``custom``: the user model's step function (a Python or Numba function,
    compiled here for the device), or None. ``dynamic``, ``wrec``: as on the CPU, on device
    arrays (``wrec``'s step numbers ``s0``, ``every`` host integers); a step's dynamic
    synapses and weight records are the launches of :mod:`neurosim.kernels.cuda.plasticity`.
    A generator with two events of one source in one step onto plastic synapses would make two
    threads update one synapse: the network refuses it (ValueError) before this runs."""
    N = int(v.shape[0])
    n_groups = int(g_lo.shape[0]) - 1
    step0, k_off, n_steps, every = int(step0), int(k_off), int(n_steps), int(rec_every)
    # per-group tables: kinds (all LIF with current synapses when None) and the Izhikevich
    # exp(-a dt), computed here with the CPU's exp
    gp = g_par.copy_to_host()
    kinds = np.full(n_groups, LIF_CURRENT, np.int64) if g_kind is None else g_kind.copy_to_host()
    _check_user(kinds, gp)
    if custom is None and kinds.max() >= CUSTOM_CURRENT:
        raise ValueError("custom: a network with user-defined neurons needs their step function")
    eu = np.array([math.exp(-float(gp[g, P_DECAY]) * float(gp[g, P_DTTAU]))
                   for g in range(n_groups)])
    if aux is None or aux.size == 0:
        aux = _dummy("f2")
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
    spikes = _kernels(custom)[_blocks(n_a, threads), min(threads, n_a)]
    d_blocks = int(config.SPIKING_CUDA_DELIVERY_BLOCKS)
    deliver = _deliver[min(d_blocks, _blocks(n_pre * lanes, d_threads)), d_threads]
    I_dev = I_ext if has_I else _dummy("f2")
    hist_n = dynamic[8] if dynamic is not None and dynamic[8] is not None else _dummy("i1")
    step = []
    for par in (0, 1):
        step.append((
            _Launch(spikes, (ctl, cfg, par, float(dt), g_lo, d_kind, d_eu, g_par, v, u, aux, syn,
                             ref, I_dev, rates, pstate, gen_step, gen_idx, gen_ptr, ring, spk_mask,
                             spk_step, spk_idx, n_spk, rate_buf, fired)),
            _Launch(deliver, (ctl, cfg, par, n_spk, fired, out_ptr, out_code, out_w, out_d, ring,
                              syn, hist_n))))
    record = [None, None]
    if rec is not None:
        rec_idx, rec_vars, rec_buf = rec
        n_r = rec_idx.shape[0] * rec_vars.shape[0]
        configured = _record[_blocks(n_r, threads), min(threads, n_r)]
        record = [_Launch(configured, (ctl, cfg, par, v, u, syn, aux, rec_idx, rec_vars,
                                       rec_buf)) for par in (0, 1)]
    dyn, weights = _plasticity(ctl, cfg, N, fired, syn, dynamic, wrec, d_blocks, d_threads)
    w_s0, w_every = (int(wrec[2]), int(wrec[3])) if wrec is not None else (0, 1)
    try:
        for kk in range(n_steps):
            s = step0 + kk
            par = s & 1
            if record[par] is not None and (k_off + kk) % every == 0:
                record[par]()
            if weights[par] is not None and (s - w_s0) % w_every == 0:
                weights[par]()
            step[par][0]()
            step[par][1]()
            for launch in dyn[par] if dyn else ():
                launch()
    except NumbaError as err:
        if custom is None:
            raise
        raise TypeError(f"step: the user model's step function does not compile for CUDA "
                        f"(numba.cuda.jit(device=True)): {err}") from err
    return int(ctl.copy_to_host()[DONE])
