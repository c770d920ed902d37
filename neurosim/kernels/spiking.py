"""Clock-driven spiking kernels with event-driven synaptic delivery.

One call advances a whole network by many steps of ``dt``. Each step follows Brian2's schedule:

1. record the state monitors (state at the start of the step, time ``step * dt``);
2. state update of every neuron group (exact propagators for the linear parts), then threshold
   and reset (a spike is recorded with time ``step * dt``, as in Brian2);
3. spike sources (Poisson, generators) fire;
4. delivery: synaptic input whose delay ends now is taken from the ring buffer, and this step's
   spikes are sent along their outgoing synapses only (work ~ spikes x fan-out); a synapse with
   delay ``d`` steps adds its weight ``d`` steps later (``d = 0``: before the next update).
   Synapses with plasticity (STDP, short-term plasticity) are delivered one by one on arrival
   by :func:`neurosim.kernels.plasticity.deliver`, then the postsynaptic spikes update them.

Layout (all float64 unless said):

- Neurons ``0 .. N-1`` are grouped in contiguous ranges ``g_lo[g] .. g_lo[g+1]-1``; each group
  has a kind ``2 * model + synapse`` (model ``LIF`` or ``IZHIKEVICH``, synapse ``CURRENT`` or
  ``CONDUCTANCE``) and a parameter row ``g_par[g]`` (slots ``P_*`` below, filled by
  :mod:`neurosim.spiking.neurons` with precomputed propagators).
- State: ``v`` (N,) volts; ``u`` (N,) Izhikevich recovery (V/s); ``syn`` (2N,) synaptic
  variables, ``0..N-1`` excitatory, ``N..2N-1`` inhibitory (amperes for current synapses,
  siemens for conductance synapses; the network holds it as (2, N)); ``ref`` (N,) int32
  refractory steps left.
- External current ``I_ext`` (R, N) amperes; step ``s`` uses row ``min(s // I_stride, R - 1)``.
- Presynaptic index space: neurons ``0..N-1``, then Poisson sources ``N..N+P-1``, then
  generator sources. Synapses grouped by presynaptic index (CSR by source): ``out_ptr``
  (n_pre + 1,) int64, ``out_code`` int32 ``channel * N + post`` (an index into ``syn``),
  ``out_w``, ``out_d`` int64 delay steps. ``ring`` (L, 2N) holds input in flight, row ``s % L``.

CUDA: :func:`neurosim.kernels.cuda.spiking.run_steps` is the twin of :func:`run_steps` (the same
arguments on device arrays; a thread per neuron, atomic delivery), with the same arithmetic.

Compile time: :func:`run_steps` takes the features a network may not use (other neuron kinds,
external current, Poisson sources, generators, delays, state monitors) as arguments that are
None when unused; Numba prunes those branches before typing, so a network compiles (and
caches) only the code it runs. A CUBA network compiles the fused LIF pass and the delivery
loop alone (about 2 s instead of about 10 s for the kernel with every path). Keep helpers
free of literal arguments (a literal int or bool argument compiles a callee twice) and of
``inline="always"`` beyond the tiny random-number functions.
"""
import math

import numpy as np
from numba import njit

from . import neurons as _kn
from . import plasticity as _kp
from . import prefetch as _pf
from .neurons import (ADEX, BLOCK, CONDUCTANCE, CURRENT, CUSTOM, HH, IZHIKEVICH, LIF,  # noqa: F401
                      N_PAR, P_D, P_DE, P_DECAY, P_DI, P_DTTAU, P_EE, P_EI, P_KE, P_KI,
                      P_NREF, P_R, P_RESET, P_REST, P_TH)
from .rng import _step, _unit
from .simd import wide_vectors

# codes of recordable variables (then VAR_AUX + k: column k of aux)
VAR_V = 0
VAR_U = 1
VAR_SYN_E = 2
VAR_SYN_I = 3
VAR_AUX = 4


# group kinds handed to run_steps: 2 * model + synapse
LIF_CURRENT = 2 * LIF + CURRENT
LIF_CONDUCTANCE = 2 * LIF + CONDUCTANCE
IZH_CURRENT = 2 * IZHIKEVICH + CURRENT
IZH_CONDUCTANCE = 2 * IZHIKEVICH + CONDUCTANCE
ADEX_CURRENT = 2 * ADEX + CURRENT
ADEX_CONDUCTANCE = 2 * ADEX + CONDUCTANCE
HH_CURRENT = 2 * HH + CURRENT
HH_CONDUCTANCE = 2 * HH + CONDUCTANCE
CUSTOM_CURRENT = 2 * CUSTOM + CURRENT
CUSTOM_CONDUCTANCE = 2 * CUSTOM + CONDUCTANCE

@njit(cache=True)
def _izh_rhs(v, u, drive):
    return 4.0e4 * v * v + 5.0e3 * v + 140.0 - u + drive


@njit(cache=True)
def _update_izhikevich(v, u, ref, syn_e, syn_i, I_ext, p, conductance):
    """One step of Izhikevich neurons: two Euler half steps for the quadratic v (as in
    Izhikevich 2003), then the linear u exactly with v held; v is capped at v_peak."""
    A = p[P_DECAY]
    B = p[P_REST]
    inv_C = p[P_R]
    E_e = p[P_EE]
    E_i = p[P_EI]
    h = p[P_DTTAU]
    th = p[P_TH]
    de = p[P_DE]
    di = p[P_DI]
    eu = math.exp(-A * h)
    for i in range(v.shape[0]):
        vi = v[i]
        ui = u[i]
        xe = syn_e[i]
        xi = syn_i[i]
        r = ref[i]
        if r > 0:
            ref[i] = r - 1
        else:
            if conductance:
                I = I_ext[i] + xe * (E_e - vi) + xi * (E_i - vi)
            else:
                I = I_ext[i] + xe + xi
            drive = I * inv_C
            vi += 0.5 * h * _izh_rhs(vi, ui, drive)
            vi += 0.5 * h * _izh_rhs(vi, ui, drive)
            if vi > th:
                vi = th
            v[i] = vi
            u[i] = B * vi + (ui - B * vi) * eu
        syn_e[i] = xe * de
        syn_i[i] = xi * di


@njit(cache=True)
def _other_group(kind, v, u, ref, aux, syn_e, syn_i, I, lo, hi, p, fired, n_fired):
    """State update, threshold and reset of neurons ``lo .. hi-1`` of a group that is not
    LIF with current synapses nor a user model; appends spikers to ``fired`` and returns the
    new count."""
    if kind >= ADEX_CURRENT:
        conductance = kind % 2 == CONDUCTANCE
        if kind < HH_CURRENT:
            return _kn.adex(v, u, ref, syn_e, syn_i, I, lo, hi, p, conductance, fired, n_fired)
        if aux is not None:
            return _kn.hh(v, u, aux, ref, syn_e, syn_i, I, lo, hi, p, conductance, fired,
                          n_fired)
        return n_fired
    th = p[P_TH]
    reset = p[P_RESET]
    nref = np.int32(p[P_NREF])
    if kind == LIF_CONDUCTANCE:
        return _kn.lif_conductance(v, ref, syn_e, syn_i, I, lo, hi, p, fired, n_fired)
    _update_izhikevich(v[lo:hi], u[lo:hi], ref[lo:hi], syn_e[lo:hi], syn_i[lo:hi], I[lo:hi], p,
                       kind == IZH_CONDUCTANCE)
    du = p[P_D]
    for i in range(lo, hi):
        if v[i] >= th and ref[i] == 0:
            v[i] = reset
            u[i] += du
            ref[i] = nref
            fired[n_fired] = i
            n_fired += 1
    return n_fired


@njit(cache=True)
def _record(row, v, u, syn, aux, rec_idx, rec_vars, rec_buf):
    N = v.shape[0]
    for a in range(rec_vars.shape[0]):
        code = rec_vars[a]
        for b in range(rec_idx.shape[0]):
            i = rec_idx[b]
            if code == VAR_V:
                rec_buf[row, a, b] = v[i]
            elif code == VAR_U:
                rec_buf[row, a, b] = u[i]
            elif code == VAR_SYN_E:
                rec_buf[row, a, b] = syn[i]
            elif code == VAR_SYN_I:
                rec_buf[row, a, b] = syn[N + i]
            elif aux is not None:
                rec_buf[row, a, b] = aux[code - VAR_AUX, i]


#: Poisson sources drawn in one vectorised pass (their flags stay in L1)
SOURCE_BLOCK = 1024


@njit(cache=True)
def _split_streams(state):
    """The Poisson streams ``state`` (P, 2) as two arrays ``s0``, ``s1`` (P,), and a flag
    buffer: the layout of :func:`_poisson` (see :func:`_join_streams` for the way back)."""
    return state[:, 0].copy(), state[:, 1].copy(), np.zeros(SOURCE_BLOCK, np.uint8)


@njit(cache=True)
def _join_streams(state, s0, s1):
    """Write the split streams back into ``state`` (P, 2)."""
    state[:, 0] = s0
    state[:, 1] = s1


@njit(cache=True)
def _poisson(rates_now, dt, s0, s1, flags, offset, fired, n_fired):
    """Poisson sources: source ``j`` fires with probability ``rates_now[j] * dt``.

    The draws of stream ``j`` (states split into ``s0``, ``s1``, as :func:`_split_streams`
    makes them) are those of :func:`neurosim.kernels.rng.uniform` on the (P, 2) array. A block
    of sources is drawn in one vectorised pass that flags the firing ones in ``flags``
    (SOURCE_BLOCK,) uint8; a scan of the flags, eight at a time, then appends those in order.
    """
    wide_vectors()
    P = rates_now.shape[0]
    words = flags.view(np.uint64)
    for b0 in range(0, P, SOURCE_BLOCK):
        b1 = min(b0 + SOURCE_BLOCK, P)
        rb = rates_now[b0:b1]      # block views: LLVM vectorises the pass over these
        ab = s0[b0:b1]
        bb = s1[b0:b1]
        for j in range(rb.shape[0]):
            d, ab[j], bb[j] = _step(ab[j], bb[j])
            flags[j] = _unit(d) < rb[j] * dt
        for w in range((rb.shape[0] + 7) // 8):
            if words[w] != 0:
                for j in range(8 * w, min(8 * w + 8, rb.shape[0])):
                    if flags[j]:
                        fired[n_fired] = offset + b0 + j
                        n_fired += 1
    return n_fired


@njit(cache=True)
def _generators(s, gen_step, gen_idx, gen_ptr, fired, n_fired):
    """Spike generators: the events of step ``s`` (``gen_ptr[0]`` moves past them)."""
    n_gen = gen_step.shape[0]
    while gen_ptr[0] < n_gen and gen_step[gen_ptr[0]] < s:
        gen_ptr[0] += 1
    while gen_ptr[0] < n_gen and gen_step[gen_ptr[0]] == s:
        fired[n_fired] = gen_idx[gen_ptr[0]]
        n_fired += 1
        gen_ptr[0] += 1
    return n_fired


@njit(cache=True)
def _deliver_delayed(s, fired, n_fired, out_ptr, out_code, out_w, out_d, syn, ring):
    """Input due now from the ring buffer, then this step's spikes along their synapses."""
    L = ring.shape[0]
    slot = s % L
    _pf.prefetch_rows(fired, n_fired, out_ptr, out_code, out_w)   # while the ring drains
    for a in range(n_fired):
        j = fired[a]
        _pf.prefetch_span(out_d, out_ptr[j], out_ptr[j + 1])
    for c in range(syn.shape[0]):
        x = ring[slot, c]
        if x != 0.0:
            syn[c] += x
            ring[slot, c] = 0.0
    for a in range(n_fired):
        j = fired[a]
        for q in range(out_ptr[j], out_ptr[j + 1]):
            d = out_d[q]
            if d == 0:
                syn[out_code[q]] += out_w[q]
            else:
                ring[(s + d) % L, out_code[q]] += out_w[q]


def run_steps(step0, k_off, n_steps, dt, g_lo, g_kind, custom, g_par, v, u, syn, ref, aux,
              I_ext, I_stride, poisson, generators, out_ptr, out_code, out_w, delays, dynamic,
              rec_every, rec, wrec, rate_buf, spk_mask, spk_step, spk_idx, n_spk, fired):
    """Advance the network by up to ``n_steps`` steps from global step ``step0``.

    g_kind: None when every group is LIF with current synapses, else int64 (n_groups,) of
    ``2 * model + synapse``. custom: None, or the user model's step function (a Numba
    function; see :func:`neurosim.kernels.neurons.custom`; the kernel is then
    :data:`run_steps_custom`, compiled without the disk cache). syn: (2N,) the synaptic
    variables, excitatory then inhibitory. aux: (K, N) the state variables beyond v and u
    (Hodgkin-Huxley, user models), or None.
    The optional parts are None when unused, and Numba then compiles nothing for them:
    poisson ``(rates, rate_stride, pstate)``, generators ``(gen_step, gen_idx, gen_ptr)``,
    delays ``(out_d, ring)`` (None: every delay is 0), rec ``(rec_idx, rec_vars, rec_buf)``;
    dynamic: the synapses with plasticity, the arguments of
    :func:`neurosim.kernels.plasticity.deliver` after ``syn`` (None: none), and wrec ``(w,
    w_idx, s0, every, w_buf, w_n)`` their weight monitor
    (:func:`neurosim.kernels.plasticity.record_weights`).
    fired: int64 scratch, at least n_pre + the largest number of generator events in a step.

    Records: at chunk step ``k`` (counted from ``k_off``; ``k % rec_every == 0``) row
    ``k // rec_every`` of ``rec_buf`` (rows, n_vars, n_idx) gets variables ``rec_vars`` of
    neurons ``rec_idx``; ``rate_buf`` (rows, n_groups) int64 counts each group's spikes in the
    bin of ``rec_every`` steps. Spikes of neurons with ``spk_mask`` go to ``spk_step`` /
    ``spk_idx`` from position ``n_spk[0]`` on. Stops early, before a step whose spikes might
    not fit in the spike buffer, and returns the number of steps done.
    """
    wide_vectors()
    N = v.shape[0]
    n_groups = g_lo.shape[0] - 1
    syn_e = syn[:N]
    syn_i = syn[N:]
    last_I = 0 if I_ext is None else I_ext.shape[0] - 1
    cap = spk_step.shape[0]
    ns = n_spk[0]
    if poisson is not None:
        s0, s1, flags = _split_streams(poisson[2])
    done = n_steps
    for kk in range(n_steps):
        s = step0 + kk
        k = k_off + kk
        if ns + N > cap:
            done = kk
            break
        row = k // rec_every
        # 1. state monitors, at the start of the step
        if rec is not None:
            if k % rec_every == 0:
                _record(row, v, u, syn, aux, rec[0], rec[1], rec[2])
        if wrec is not None:
            _kp.record_weights(s, wrec[0], wrec[1], wrec[2], wrec[3], wrec[4], wrec[5])
        if I_ext is None:
            I_now = syn_e           # not read (I_ext is None only if every group is LIF_CURRENT)
        else:
            r_I = s // I_stride
            if r_I > last_I:
                r_I = last_I
            I_now = I_ext[r_I]
        # 2. state update, threshold and reset, group by group
        n_fired = k_off - k_off         # an int64 zero (a literal 0 would type callees twice)
        for g in range(n_groups):
            lo = g_lo[g]
            hi = g_lo[g + 1]
            p = g_par[g]
            kind = LIF_CURRENT if g_kind is None else g_kind[g]
            before = n_fired
            if kind == LIF_CURRENT:
                # exact propagator (v frozen while refractory), fused with the threshold: a
                # vectorisable pass over a block counts the spikers, a scalar pass over the
                # (rare) blocks with spikers resets them in order
                decay = p[P_DECAY]
                v_rest = p[P_REST]
                R = p[P_R]
                ke = p[P_KE]
                ki = p[P_KI]
                de = p[P_DE]
                di = p[P_DI]
                th = p[P_TH]
                reset = p[P_RESET]
                nref = np.int32(p[P_NREF])
                for b0 in range(lo, hi, BLOCK):
                    b1 = b0 + BLOCK
                    if b1 > hi:
                        b1 = hi
                    vb = v[b0:b1]
                    rb = ref[b0:b1]
                    eb = syn_e[b0:b1]
                    ib = syn_i[b0:b1]
                    Ib = I_now[b0:b1]
                    hit = 0
                    for i in range(vb.shape[0]):
                        vi = vb[i]
                        r = rb[i]
                        xe = eb[i]
                        xi = ib[i]
                        if I_ext is None:   # no external current: the same sum without + 0.0
                            vn = v_rest + (vi - v_rest) * decay + ke * xe + ki * xi
                        else:
                            vn = v_rest + (vi - v_rest) * decay + R * Ib[i] * (1.0 - decay) \
                                + ke * xe + ki * xi
                        if r > 0:
                            vn = vi
                            r -= 1
                        vb[i] = vn
                        rb[i] = r
                        eb[i] = xe * de
                        ib[i] = xi * di
                        hit += (vn > th) & (r == 0)
                    if hit > 0:
                        for i in range(vb.shape[0]):
                            if vb[i] > th and rb[i] == 0:
                                vb[i] = reset
                                rb[i] = nref
                                fired[n_fired] = b0 + i
                                n_fired += 1
            elif g_kind is not None:
                if kind < CUSTOM_CURRENT:
                    n_fired = _other_group(kind, v, u, ref, aux, syn_e, syn_i, I_now, lo, hi, p,
                                           fired, n_fired)
                elif custom is not None:
                    n_fired = _kn.custom(custom, v, u, aux, ref, syn_e, syn_i, I_now, lo, hi, p,
                                         kind == CUSTOM_CONDUCTANCE, dt, fired, n_fired)
            if n_fired > before:
                rate_buf[row, g] += n_fired - before
        n_neur = n_fired
        # record this step's neuron spikes
        for a in range(n_fired):
            i = fired[a]
            if spk_mask[i]:
                spk_step[ns] = s
                spk_idx[ns] = i
                ns += 1
        # 3. sources
        if poisson is not None:
            rates = poisson[0]
            r_P = s // poisson[1]
            if r_P > rates.shape[0] - 1:
                r_P = rates.shape[0] - 1
            n_fired = _poisson(rates[r_P], dt, s0, s1, flags, N, fired, n_fired)
        if generators is not None:
            n_fired = _generators(s, generators[0], generators[1], generators[2], fired,
                                  n_fired)
        # 4. delivery along the outgoing synapses of this step's spikers (their rows of the
        # synapse tables are random and cold: all asked for first, so the misses overlap)
        if delays is None:
            _pf.prefetch_rows(fired, n_fired, out_ptr, out_code, out_w)
            for a in range(n_fired):
                j = fired[a]
                for q in range(out_ptr[j], out_ptr[j + 1]):
                    syn[out_code[q]] += out_w[q]
        else:
            _deliver_delayed(s, fired, n_fired, out_ptr, out_code, out_w, delays[0], syn,
                             delays[1])
        if dynamic is not None:
            _kp.deliver(s, N, fired, n_fired, n_neur, syn, *dynamic)
    n_spk[0] = ns
    if poisson is not None:
        _join_streams(poisson[2], s0, s1)
    return done


#: :func:`run_steps` for networks with a user model, whose step function becomes part of the
#: compiled code (a new function each session: not cached on disk)
run_steps_custom = njit(run_steps)
run_steps = njit(cache=True)(run_steps)


@njit(cache=True)
def filtered_counts(spk_step, spk_idx, n, t_steps, decay_per_step):
    """Low-pass-filtered spike trains read out at given steps: array (len(t_steps), n).

    ``out[r, i] = sum over spikes of neuron i at step s <= t_steps[r] of
    decay_per_step ** (t_steps[r] - s)`` (an exponential kernel, one per readout time).
    """
    out = np.zeros((t_steps.shape[0], n))
    for e in range(spk_step.shape[0]):
        s = spk_step[e]
        i = spk_idx[e]
        for r in range(t_steps.shape[0]):
            if s <= t_steps[r]:
                out[r, i] += decay_per_step ** (t_steps[r] - s)
    return out
