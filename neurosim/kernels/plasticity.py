"""Event-driven synaptic plasticity: STDP and Tsodyks-Markram short-term plasticity.

Synapses that carry a rule ("dynamic" synapses) live apart from the static ones, in their own
presynaptic CSR lists (``dyn_ptr`` over the presynaptic index space of
:mod:`neurosim.kernels.spiking`, each source's synapses sorted by delay), because they are
handled one by one when a spike *arrives* (after the synapse's delay), as Brian2's ``on_pre``
pathway: the weight the synapse delivers is its weight at arrival. Per synapse:

- ``code`` (``channel * N + post``), ``w`` (the weight, changed by STDP), ``proj`` (int64 row of
  ``rule_par``), ``last`` (int64 step of the latest arrival, ``NEVER`` before the first);
- with STDP: ``xpre``, the presynaptic trace just after the latest arrival;
- with STP: ``stp_u``, ``stp_R``, the ``u_n``, ``R_n`` of the latest arrival.

Postsynaptic traces are kept per (projection with STDP, postsynaptic neuron) in ``post_tr``
(the value just after the neuron's latest spike; ``last_spike`` (N,) int64 holds the step of
that spike), and the postsynaptic view ``in_ptr`` (N + 1,), ``in_syn`` lists the STDP synapses
onto each neuron (indices into the dynamic synapses), for the potentiation at a post spike.
Traces decay analytically, ``x exp(-k dt / tau)`` over ``k`` steps, so each event costs O(1)
whatever the time since the last one.

Delays: synapses with delay ``d > 0`` receive the spikes of step ``s - d``, which the history
``hist`` (L, cap) int64 (row ``s % L``, ``hist_n[s % L]`` entries: the sources that fired at
step ``s`` and have dynamic synapses) keeps; a source's synapses of delay ``d`` are found by
bisection in its delay-sorted list.

Order within a step (Brian2's: presynaptic pathway, then postsynaptic): every arrival of this
step (delivery, STP update, STDP depression with the post trace, pre trace update), then every
postsynaptic spike of this step (STDP potentiation with the pre traces, post trace update). So
a pre and a post spike in the same step pair as ``t_post - t_pre = 0``: potentiation.
"""
import math

import numpy as np
from numba import njit

# slots of a row of rule_par (one row per dynamic projection)
R_STDP = 0       # 1.0 when the projection has STDP
R_KPRE = 1       # dt / tau_plus (pre trace)
R_KPOST = 2      # dt / tau_minus (post trace)
R_APLUS = 3      # A_plus (w_max - w_min)
R_AMINUS = 4     # A_minus (w_max - w_min)
R_WMIN = 5
R_WMAX = 6
R_MU = 7         # weight dependence: 0 additive, 1 multiplicative
R_NEAR = 8       # 1.0: nearest-spike interaction (traces reset to 1)
R_STP = 9        # 1.0 when the projection has STP
R_U = 10
R_KREC = 11      # dt / tau_rec
R_KFAC = 12      # dt / tau_facil (NO_FACIL when tau_facil = 0)
R_POST_OFF = 13  # first entry of the projection's post traces in post_tr
R_POST_LO = 14   # first neuron of the postsynaptic group
R_POST_HI = 15   # one past its last neuron
N_RULE = 16

NO_FACIL = 1e300           # k dt / tau with tau = 0: exp(-k * NO_FACIL) = 0 for k >= 1
NEVER = -(1 << 60)         # "no event yet": exp(-(s - NEVER) dt / tau) = 0


@njit(cache=True)
def depress(w, rp, x_post):
    """The weight after a presynaptic arrival that sees the post trace ``x_post``."""
    lo = rp[R_WMIN]
    hi = rp[R_WMAX]
    mu = rp[R_MU]
    dw = rp[R_AMINUS] * x_post
    if mu != 0.0:
        f = (w - lo) / (hi - lo)
        if f < 0.0:
            f = 0.0
        dw *= f if mu == 1.0 else f ** mu
    w -= dw
    return lo if w < lo else (hi if w > hi else w)


@njit(cache=True)
def potentiate(w, rp, x_pre):
    """The weight after a postsynaptic spike that sees the pre trace ``x_pre``."""
    lo = rp[R_WMIN]
    hi = rp[R_WMAX]
    mu = rp[R_MU]
    dw = rp[R_APLUS] * x_pre
    if mu != 0.0:
        f = (hi - w) / (hi - lo)
        if f < 0.0:
            f = 0.0
        dw *= f if mu == 1.0 else f ** mu
    w += dw
    return hi if w > hi else (lo if w < lo else w)


@njit(cache=True)
def _arrive(q, s, N, syn, code, w, proj, last, rule_par, xpre, post_tr, last_spike, stp_u,
            stp_R):
    """A spike arrives at dynamic synapse ``q`` at step ``s``."""
    rp = rule_par[proj[q]]
    c = code[q]
    n = s - last[q]
    wq = w[q]
    amp = wq
    if stp_u is not None:
        if rp[R_STP] != 0.0:
            U = rp[R_U]
            u0 = stp_u[q]
            R0 = stp_R[q]
            un = U + u0 * (1.0 - U) * math.exp(-n * rp[R_KFAC])
            Rn = 1.0 + (R0 - u0 * R0 - 1.0) * math.exp(-n * rp[R_KREC])
            stp_u[q] = un
            stp_R[q] = Rn
            amp = wq * un * Rn
    syn[c] += amp
    if xpre is not None:
        if rp[R_STDP] != 0.0:
            i = c - N if c >= N else c
            k = np.int64(rp[R_POST_OFF]) + i - np.int64(rp[R_POST_LO])
            x_post = post_tr[k] * math.exp(-(s - last_spike[i]) * rp[R_KPOST])
            x = xpre[q] * math.exp(-n * rp[R_KPRE])
            xpre[q] = 1.0 if rp[R_NEAR] != 0.0 else x + 1.0
            w[q] = depress(wq, rp, x_post)
    last[q] = s


@njit(cache=True)
def deliver(s, N, fired, n_fired, n_neur, syn, dyn_ptr, code, w, proj, last, rule_par, dyn_d,
            hist, hist_n, xpre, post_tr, last_spike, in_ptr, in_syn, stp_u, stp_R):
    """Step ``s`` of the dynamic synapses: the spikes arriving now (``fired[:n_fired]`` through
    their delay-0 synapses, earlier spikes from ``hist`` through synapses of their age), then
    the postsynaptic spikes ``fired[:n_neur]`` (the neurons' own). ``dyn_d``, ``hist``,
    ``hist_n`` are None when every dynamic synapse has delay 0; ``xpre``, ``post_tr``,
    ``last_spike``, ``in_ptr``, ``in_syn`` when no projection has STDP; ``stp_u``, ``stp_R``
    when none has STP (Numba then compiles nothing for them)."""
    for a in range(n_fired):
        j = fired[a]
        for q in range(dyn_ptr[j], dyn_ptr[j + 1]):
            if dyn_d is not None:
                if dyn_d[q] != 0:
                    break
            _arrive(q, s, N, syn, code, w, proj, last, rule_par, xpre, post_tr, last_spike,
                    stp_u, stp_R)
    if dyn_d is not None:
        L = hist.shape[0]
        for d in range(1, L):
            row = (s - d) % L
            for a in range(hist_n[row]):
                j = hist[row, a]
                lo = dyn_ptr[j]
                hi = dyn_ptr[j + 1]
                while lo < hi:               # first synapse of j with delay >= d
                    mid = (lo + hi) // 2
                    if dyn_d[mid] < d:
                        lo = mid + 1
                    else:
                        hi = mid
                end = dyn_ptr[j + 1]
                while lo < end and dyn_d[lo] == d:
                    _arrive(lo, s, N, syn, code, w, proj, last, rule_par, xpre, post_tr,
                            last_spike, stp_u, stp_R)
                    lo += 1
        row = s % L
        m = 0
        for a in range(n_fired):
            j = fired[a]
            if dyn_ptr[j + 1] > dyn_ptr[j]:
                hist[row, m] = j
                m += 1
        hist_n[row] = m
    if xpre is not None:
        for a in range(n_neur):
            i = fired[a]
            for e in range(in_ptr[i], in_ptr[i + 1]):
                q = in_syn[e]
                rp = rule_par[proj[q]]
                x = xpre[q] * math.exp(-(s - last[q]) * rp[R_KPRE])
                w[q] = potentiate(w[q], rp, x)
            for r in range(rule_par.shape[0]):
                rp = rule_par[r]
                if rp[R_STDP] != 0.0 and rp[R_POST_LO] <= i < rp[R_POST_HI]:
                    k = np.int64(rp[R_POST_OFF]) + i - np.int64(rp[R_POST_LO])
                    if rp[R_NEAR] != 0.0:
                        post_tr[k] = 1.0
                    else:
                        post_tr[k] = post_tr[k] * math.exp(-(s - last_spike[i]) * rp[R_KPOST]) \
                            + 1.0
            last_spike[i] = s


@njit(cache=True)
def record_weights(s, w, w_idx, s0, every, w_buf, w_n):
    """At steps ``s0 + k every``: row ``w_n[0]`` of ``w_buf`` gets the weights ``w[w_idx]``."""
    if (s - s0) % every == 0:
        r = w_n[0]
        for b in range(w_idx.shape[0]):
            w_buf[r, b] = w[w_idx[b]]
        w_n[0] = r + 1
