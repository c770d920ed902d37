"""Clock-driven spiking kernels with event-driven synaptic delivery.

One call advances a whole network by many steps of ``dt``. Each step follows Brian2's schedule:

1. record the state monitors (state at the start of the step, time ``step * dt``);
2. state update of every neuron group (exact propagators for the linear parts), then threshold
   and reset (a spike is recorded with time ``step * dt``, as in Brian2);
3. spike sources (Poisson, generators) fire;
4. delivery: synaptic input whose delay ends now is taken from the ring buffer, and this step's
   spikes are sent along their outgoing synapses only (work ~ spikes x fan-out); a synapse with
   delay ``d`` steps adds its weight ``d`` steps later (``d = 0``: before the next update).

Layout (all float64 unless said):

- Neurons ``0 .. N-1`` are grouped in contiguous ranges ``g_lo[g] .. g_lo[g+1]-1``; each group
  has a model code ``g_model`` (``LIF`` or ``IZHIKEVICH``), a synapse code ``g_syn``
  (``CURRENT`` or ``CONDUCTANCE``) and a parameter row ``g_par[g]`` (slots ``P_*`` below, filled
  by :mod:`neurosim.spiking.neurons` with precomputed propagators).
- State: ``v`` (N,) volts; ``u`` (N,) Izhikevich recovery (V/s); ``syn`` (2, N) synaptic
  variables, row 0 excitatory, row 1 inhibitory (amperes for current synapses, siemens for
  conductance synapses); ``ref`` (N,) int32 refractory steps left.
- External current ``I_ext`` (R, N) amperes; step ``s`` uses row ``min(s // I_stride, R - 1)``.
- Presynaptic index space: neurons ``0..N-1``, then Poisson sources ``N..N+P-1``, then
  generator sources. Synapses grouped by presynaptic index (CSR): ``out_ptr`` (n_pre + 1,),
  ``out_code`` int64 ``channel * N + post`` (an index into ``syn.ravel()``), ``out_w``,
  ``out_d`` int64 delay steps. ``ring`` (L, 2N) holds input in flight, row ``s % L``.
"""
import math

import numpy as np
from numba import njit

from .rng import uniform

LIF = 0
IZHIKEVICH = 1
CURRENT = 0
CONDUCTANCE = 1

# parameter slots of g_par
P_DECAY = 0      # LIF: exp(-dt/tau_m);  Izhikevich: a (1/s)
P_REST = 1       # LIF: v_rest (V);      Izhikevich: b (1/s)
P_TH = 2         # threshold / v_peak (V)
P_RESET = 3      # reset potential (V)
P_NREF = 4       # updates skipped after a spike step (float holding an integer)
P_R = 5          # LIF: membrane resistance (ohm); Izhikevich: 1/C (1/F)
P_DE = 6         # exp(-dt/tau_e)
P_DI = 7         # exp(-dt/tau_i)
P_KE = 8         # LIF current synapses: volts on v per ampere of I_e over one step
P_KI = 9         # same for I_i
P_EE = 10        # excitatory reversal potential (V)
P_EI = 11        # inhibitory reversal potential (V)
P_DTTAU = 12     # LIF: dt / tau_m;  Izhikevich: dt (s)
P_D = 13         # Izhikevich: u increment at reset (V/s)
N_PAR = 14

# codes of recordable variables
VAR_V = 0
VAR_U = 1
VAR_SYN_E = 2
VAR_SYN_I = 3


@njit(cache=True)
def lif_current_step(v, I_e, I_i, I, decay, v_rest, R, ke, ki):
    """Exact LIF update over one step with exponentially decaying synaptic currents (V)."""
    return v_rest + (v - v_rest) * decay + R * I * (1.0 - decay) + ke * I_e + ki * I_i


@njit(cache=True)
def lif_conductance_step(v, g_e, g_i, I, v_rest, R, E_e, E_i, dt_tau):
    """Exponential-Euler LIF update over one step with conductances held over the step (V)."""
    gtot = 1.0 + R * (g_e + g_i)
    v_inf = (v_rest + R * (g_e * E_e + g_i * E_i + I)) / gtot
    return v_inf + (v - v_inf) * math.exp(-dt_tau * gtot)


@njit(cache=True)
def _izh_rhs(v, u, drive):
    return 4.0e4 * v * v + 5.0e3 * v + 140.0 - u + drive


@njit(cache=True)
def _update_lif_current(v, ref, syn_e, syn_i, I, decay, v_rest, R, ke, ki, de, di):
    """One exact step of LIF neurons with current synapses (v frozen while refractory)."""
    for i in range(v.shape[0]):
        vi = v[i]
        r = ref[i]
        xe = syn_e[i]
        xi = syn_i[i]
        vn = lif_current_step(vi, xe, xi, I[i], decay, v_rest, R, ke, ki)
        v[i] = vn if r <= 0 else vi
        ref[i] = r - 1 if r > 0 else r
        syn_e[i] = xe * de
        syn_i[i] = xi * di


@njit(cache=True)
def _update_lif_conductance(v, ref, syn_e, syn_i, I, v_rest, R, E_e, E_i, dt_tau, de, di):
    """One exponential-Euler step of LIF neurons with conductance synapses."""
    for i in range(v.shape[0]):
        vi = v[i]
        r = ref[i]
        xe = syn_e[i]
        xi = syn_i[i]
        vn = lif_conductance_step(vi, xe, xi, I[i], v_rest, R, E_e, E_i, dt_tau)
        v[i] = vn if r <= 0 else vi
        ref[i] = r - 1 if r > 0 else r
        syn_e[i] = xe * de
        syn_i[i] = xi * di


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
def _threshold(v, u, ref, lo, hi, p, izhikevich, fired, n_fired):
    """Threshold and reset of neurons ``lo .. hi-1``; appends spikers to ``fired`` from
    ``n_fired`` on and returns the new count."""
    th = p[P_TH]
    reset = p[P_RESET]
    nref = np.int32(p[P_NREF])
    if izhikevich:
        du = p[P_D]
        for i in range(lo, hi):
            if v[i] >= th and ref[i] == 0:
                v[i] = reset
                u[i] += du
                ref[i] = nref
                fired[n_fired] = i
                n_fired += 1
    else:
        for i in range(lo, hi):
            if v[i] > th and ref[i] == 0:
                v[i] = reset
                ref[i] = nref
                fired[n_fired] = i
                n_fired += 1
    return n_fired


@njit(cache=True)
def _record(row, v, u, syn, rec_idx, rec_vars, rec_buf):
    for a in range(rec_vars.shape[0]):
        code = rec_vars[a]
        for b in range(rec_idx.shape[0]):
            i = rec_idx[b]
            if code == VAR_V:
                rec_buf[row, a, b] = v[i]
            elif code == VAR_U:
                rec_buf[row, a, b] = u[i]
            elif code == VAR_SYN_E:
                rec_buf[row, a, b] = syn[0, i]
            else:
                rec_buf[row, a, b] = syn[1, i]


@njit(cache=True)
def _poisson(rates_now, dt, pstate, offset, fired, n_fired):
    """Poisson sources: source ``j`` fires with probability ``rates_now[j] * dt``."""
    for j in range(rates_now.shape[0]):
        if uniform(pstate, j) < rates_now[j] * dt:
            fired[n_fired] = offset + j
            n_fired += 1
    return n_fired


@njit(cache=True)
def _deliver(s, fired, n_fired, out_ptr, out_code, out_w, out_d, syn_flat, ring):
    """Input due now from the ring buffer, then this step's spikes along their synapses."""
    L = ring.shape[0]
    if L == 1:
        for a in range(n_fired):
            j = fired[a]
            for q in range(out_ptr[j], out_ptr[j + 1]):
                syn_flat[out_code[q]] += out_w[q]
        return
    slot = s % L
    for c in range(syn_flat.shape[0]):
        x = ring[slot, c]
        if x != 0.0:
            syn_flat[c] += x
            ring[slot, c] = 0.0
    for a in range(n_fired):
        j = fired[a]
        for q in range(out_ptr[j], out_ptr[j + 1]):
            d = out_d[q]
            if d == 0:
                syn_flat[out_code[q]] += out_w[q]
            else:
                ring[(s + d) % L, out_code[q]] += out_w[q]


@njit(cache=True)
def run_steps(step0, k_off, n_steps, dt,
              g_lo, g_model, g_syn, g_par,
              v, u, syn, ref,
              I_ext, I_stride,
              n_poisson, rates, rate_stride, pstate,
              gen_step, gen_idx, gen_ptr,
              out_ptr, out_code, out_w, out_d, ring,
              rec_every, rec_idx, rec_vars, rec_buf, rate_buf,
              spk_mask, spk_step, spk_idx, n_spk):
    """Advance the network by up to ``n_steps`` steps from global step ``step0``.

    Records: at chunk step ``k`` (counted from ``k_off``; ``k % rec_every == 0``) row
    ``k // rec_every`` of ``rec_buf`` (rows, n_vars, n_idx) gets variables ``rec_vars`` of
    neurons ``rec_idx``; ``rate_buf`` (rows, n_groups) int64 counts each group's spikes in the
    bin of ``rec_every`` steps. Spikes of neurons with ``spk_mask`` go to ``spk_step`` /
    ``spk_idx`` from position ``n_spk[0]`` on. Stops early, before a step whose spikes might
    not fit in the spike buffer, and returns the number of steps done.
    """
    N = v.shape[0]
    n_groups = g_lo.shape[0] - 1
    syn_e = syn[0]
    syn_i = syn[1]
    syn_flat = syn.reshape(-1)
    fired = np.empty(out_ptr.shape[0] - 1, dtype=np.int64)
    cap = spk_step.shape[0]
    n_I = I_ext.shape[0]
    n_rates = rates.shape[0]
    n_gen = gen_step.shape[0]
    for kk in range(n_steps):
        s = step0 + kk
        k = k_off + kk
        if n_spk[0] + N > cap:
            return kk
        # 1. state monitors, at the start of the step
        if k % rec_every == 0:
            _record(k // rec_every, v, u, syn, rec_idx, rec_vars, rec_buf)
        I_now = I_ext[min(s // I_stride, n_I - 1)]
        # 2. state update (a vectorisable pass per group), then threshold and reset
        n_fired = 0
        for g in range(n_groups):
            lo = g_lo[g]
            hi = g_lo[g + 1]
            p = g_par[g]
            if g_model[g] == LIF:
                if g_syn[g] == CURRENT:
                    _update_lif_current(v[lo:hi], ref[lo:hi], syn_e[lo:hi], syn_i[lo:hi],
                                        I_now[lo:hi], p[P_DECAY], p[P_REST], p[P_R],
                                        p[P_KE], p[P_KI], p[P_DE], p[P_DI])
                else:
                    _update_lif_conductance(v[lo:hi], ref[lo:hi], syn_e[lo:hi], syn_i[lo:hi],
                                            I_now[lo:hi], p[P_REST], p[P_R], p[P_EE], p[P_EI],
                                            p[P_DTTAU], p[P_DE], p[P_DI])
            else:
                _update_izhikevich(v[lo:hi], u[lo:hi], ref[lo:hi], syn_e[lo:hi], syn_i[lo:hi],
                                   I_now[lo:hi], p, g_syn[g] == CONDUCTANCE)
            before = n_fired
            n_fired = _threshold(v, u, ref, lo, hi, p, g_model[g] == IZHIKEVICH, fired,
                                 n_fired)
            if n_fired > before:
                rate_buf[k // rec_every, g] += n_fired - before
        # record this step's neuron spikes
        for a in range(n_fired):
            i = fired[a]
            if spk_mask[i]:
                spk_step[n_spk[0]] = s
                spk_idx[n_spk[0]] = i
                n_spk[0] += 1
        # 3. sources
        if n_poisson > 0:
            n_fired = _poisson(rates[min(s // rate_stride, n_rates - 1)], dt, pstate, N,
                               fired, n_fired)
        while gen_ptr[0] < n_gen and gen_step[gen_ptr[0]] < s:
            gen_ptr[0] += 1
        while gen_ptr[0] < n_gen and gen_step[gen_ptr[0]] == s:
            fired[n_fired] = gen_idx[gen_ptr[0]]
            n_fired += 1
            gen_ptr[0] += 1
        # 4. delivery
        _deliver(s, fired, n_fired, out_ptr, out_code, out_w, out_d, syn_flat, ring)
    return n_steps


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
