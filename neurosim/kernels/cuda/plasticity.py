"""CUDA twin of :func:`neurosim.kernels.plasticity.deliver` and ``record_weights``: STDP and
Tsodyks-Markram short-term plasticity on the dynamic synapses, the CPU's events in the CPU's
order, launched by :func:`neurosim.kernels.cuda.spiking.run_steps` after a step's static
delivery (its control words ``ctl``/``cfg`` say which step a launch runs).

A step of the dynamic synapses is one launch, two with STDP, in the CPU's order (Brian2's: the
presynaptic pathway, then the postsynaptic one):

1. :func:`_arrivals`: every spike arriving now, the step's own spikers through their delay-0
   synapses and the spikes of step ``s - d`` (the history ``hist``) through their synapses of
   delay ``d``: delivery (STP), STDP depression with the post trace, pre trace update
   (:func:`_arrive`). Groups of ``cfg[C_LANES]`` threads take the sources (grid-stride), the
   lanes of a group stride over the source's synapses of that delay (found by bisection in its
   delay-sorted list, as on the CPU). With delays, the launch then appends the step's sources
   that have dynamic synapses to history row ``s % L`` at places taken by an atomic counter:
   no thread of the launch reads that row (``d >= 1``; its last reader was the previous step's
   ``d = L - 1``), and the step's ``_deliver``, an earlier launch, emptied it.
2. :func:`_post` (with STDP): a group of lanes per spiking neuron potentiates the STDP
   synapses onto it with their pre traces (``in_ptr``/``in_syn``, the lanes striding over
   them), and its lane 0 updates its post traces and ``last_spike``.

Ownership (why there are no races): a synapse receives at most one spike per step (its
source fires at most once a step, and one delay is one step of origin; a CUDA network refuses
a generator with two events of one source in one step onto plastic synapses), so in launch 1 the lane that delivers
to synapse ``q`` is the only one to read or write ``w[q]``, ``last[q]``, ``xpre[q]``,
``stp_u[q]``, ``stp_R[q]``; it only reads the post traces and ``last_spike``, which launch 1
does not write. The delivered amplitude goes into ``syn`` by an atomic add (many synapses
share one postsynaptic variable). In launch 2 the threads of neuron ``i`` own the synapses onto
``i`` (each synapse has one postsynaptic neuron), ``post_tr`` entries ``(projection, i)`` and
``last_spike[i]`` (one lane each synapse, lane 0 the traces); they read ``xpre``/``last`` of
their synapses, final since launch 1.

Arithmetic: :func:`neurosim.kernels.plasticity.depress` and ``potentiate`` are compiled from
the CPU's own source; the trace and STP expressions are the CPU's, term for term, with
``math.exp`` (glibc's on the CPU, libdevice's on a GPU: there weights and traces agree with the
CPU to rounding, about 1e-16 relative a step; under the simulator bit for bit). What can
differ, as for static synapses, is the order of the atomic adds into one synaptic variable.
"""
import math

from numba import cuda, float64, int64

from .. import plasticity as _kp
from ..plasticity import (R_KFAC, R_KPOST, R_KPRE, R_KREC, R_NEAR, R_POST_HI, R_POST_LO,
                          R_POST_OFF, R_STDP, R_STP, R_U)
from .spiking_control import C_KOFF, C_LANES, C_N, C_STEP0, COUNT, GO, KK

depress = cuda.jit(device=True)(_kp.depress.py_func)
potentiate = cuda.jit(device=True)(_kp.potentiate.py_func)


@cuda.jit(device=True, inline=True)
def _step(ctl, cfg, par):
    return cfg[C_STEP0] + ctl[KK + par]


@cuda.jit(device=True, inline=True)
def _decay(n, k):
    """``exp(-n k)`` for ``n`` steps (int64) at ``k = dt / tau``, as the CPU writes it."""
    return math.exp(float64(-n) * k)


@cuda.jit(device=True)
def _arrive(q, s, N, syn, code, w, proj, last, rule_par, xpre, post_tr, last_spike, stp_u,
            stp_R, has_stdp, has_stp):
    """A spike arrives at dynamic synapse ``q`` at step ``s``
    (:func:`neurosim.kernels.plasticity._arrive`)."""
    rp = rule_par[proj[q]]
    c = int64(code[q])
    n = s - last[q]
    wq = w[q]
    amp = wq
    if has_stp and rp[R_STP] != 0.0:
        U = rp[R_U]
        u0 = stp_u[q]
        R0 = stp_R[q]
        un = U + u0 * (1.0 - U) * _decay(n, rp[R_KFAC])
        Rn = 1.0 + (R0 - u0 * R0 - 1.0) * _decay(n, rp[R_KREC])
        stp_u[q] = un
        stp_R[q] = Rn
        amp = wq * un * Rn
    cuda.atomic.add(syn, c, amp)
    if has_stdp and rp[R_STDP] != 0.0:
        i = c - N if c >= N else c
        k = int64(rp[R_POST_OFF]) + i - int64(rp[R_POST_LO])
        x_post = post_tr[k] * _decay(s - last_spike[i], rp[R_KPOST])
        x = xpre[q] * _decay(n, rp[R_KPRE])
        xpre[q] = 1.0 if rp[R_NEAR] != 0.0 else x + 1.0
        w[q] = depress(wq, rp, x_post)
    last[q] = s


@cuda.jit(device=True, inline=True)
def _first(dyn_d, lo, hi, d):
    """The first synapse in ``lo .. hi-1`` (sorted by delay) with delay >= ``d``."""
    while lo < hi:
        mid = (lo + hi) // 2
        if dyn_d[mid] < d:
            lo = mid + 1
        else:
            hi = mid
    return lo


@cuda.jit(cache=True)
def _arrivals(ctl, cfg, par, fired, syn, dyn_ptr, code, w, proj, last, rule_par, dyn_d, hist,
              hist_n, xpre, post_tr, last_spike, stp_u, stp_R, has_delay, has_stdp, has_stp):
    """Launch 1: every spike arriving at a dynamic synapse in this step; then (with delays)
    the step's sources into the spike history."""
    if ctl[GO + par] != 0:
        return
    t = cuda.grid(1)
    s = _step(ctl, cfg, par)
    N = cfg[C_N]
    lanes = cfg[C_LANES]
    stride = cuda.gridsize(1) // lanes
    lane = t % lanes
    L = hist.shape[0] if has_delay else 1
    for d in range(L):
        row = (s - d) % L
        n_src = ctl[COUNT + par] if d == 0 else hist_n[row]
        a = t // lanes
        while a < n_src:
            j = fired[a] if d == 0 else hist[row, a]
            lo = dyn_ptr[j]
            hi = dyn_ptr[j + 1]
            if has_delay:
                lo = _first(dyn_d, lo, hi, d)
                hi = _first(dyn_d, lo, hi, d + 1)
            q = lo + lane
            while q < hi:
                _arrive(q, s, N, syn, code, w, proj, last, rule_par, xpre, post_tr,
                        last_spike, stp_u, stp_R, has_stdp, has_stp)
                q += lanes
            a += stride
    if has_delay:
        # this step's sources with dynamic synapses into history row s % L, which no thread
        # of this launch reads (d >= 1 above) and the step's _deliver emptied
        row = s % L
        a = t
        while a < ctl[COUNT + par]:
            j = fired[a]
            if dyn_ptr[j + 1] > dyn_ptr[j]:
                hist[row, cuda.atomic.add(hist_n, row, int64(1))] = j
            a += cuda.gridsize(1)


@cuda.jit(cache=True)
def _post(ctl, cfg, par, fired, w, proj, last, rule_par, xpre, post_tr, last_spike, in_ptr,
          in_syn):
    """Launch 3: a group of ``cfg[C_LANES]`` threads per spiking neuron: its lanes stride over
    the STDP synapses onto it (potentiation), then lane 0 updates its post traces (which no
    potentiation reads)."""
    if ctl[GO + par] != 0:
        return
    s = _step(ctl, cfg, par)
    N = cfg[C_N]
    lanes = cfg[C_LANES]
    t = cuda.grid(1)
    lane = t % lanes
    a = t // lanes
    while a < ctl[COUNT + par]:
        i = fired[a]
        if i < N:
            e = in_ptr[i] + lane
            while e < in_ptr[i + 1]:
                q = in_syn[e]
                rp = rule_par[proj[q]]
                x = xpre[q] * _decay(s - last[q], rp[R_KPRE])
                w[q] = potentiate(w[q], rp, x)
                e += lanes
        if i < N and lane == 0:
            for r in range(rule_par.shape[0]):
                rp = rule_par[r]
                if rp[R_STDP] != 0.0 and rp[R_POST_LO] <= i and i < rp[R_POST_HI]:
                    k = int64(rp[R_POST_OFF]) + i - int64(rp[R_POST_LO])
                    if rp[R_NEAR] != 0.0:
                        post_tr[k] = 1.0
                    else:
                        post_tr[k] = post_tr[k] * _decay(s - last_spike[i], rp[R_KPOST]) + 1.0
            last_spike[i] = s
        a += cuda.gridsize(1) // lanes


@cuda.jit(cache=True)
def record_weights(ctl, cfg, par, s0, every, w, w_idx, w_buf, w_n):
    """The weight monitor, launched on the steps ``s0 + k every`` it records: row ``w_n[0]``
    of ``w_buf`` gets ``w[w_idx]`` at the start of the step
    (:func:`neurosim.kernels.plasticity.record_weights`; ``w_n`` counts the rows from the
    start of the chunk, step ``cfg[C_STEP0] - cfg[C_KOFF]``, so no thread waits for another's
    count)."""
    if ctl[GO + par] != 0:
        return
    s = _step(ctl, cfg, par)
    first = cfg[C_STEP0] - cfg[C_KOFF]
    r = (s - s0 + every - 1) // every - (first - s0 + every - 1) // every
    b = cuda.grid(1)
    if b == 0:
        w_n[0] = r + 1
    while b < w_idx.shape[0]:
        w_buf[r, b] = w[w_idx[b]]
        b += cuda.gridsize(1)
