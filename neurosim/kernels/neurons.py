"""Neuron models of the spiking kernel: parameter slots, and the updates of the models beyond
LIF and Izhikevich (those live in :mod:`neurosim.kernels.spiking`): adaptive exponential
integrate-and-fire (Brette and Gerstner 2005), Hodgkin-Huxley (Traub and Miles, as Brian2's
COBAHH benchmark) and user-defined models.

Each update advances neurons ``lo .. hi-1`` of one group by one step, thresholds and resets
them, decays their synaptic variables and appends spikers to ``fired``; it returns the new
spike count. State: ``v`` (N,), ``u`` (N,) the second variable (Izhikevich recovery, AdEx
adaptation current, HH activation m, a user model's second variable), ``aux`` (N, K) the
others (HH: h, n). Integration is exponential Euler, as Brian2's ``exponential_euler``: every
variable relaxes exactly towards its steady state with the others held at their values at the
start of the step (stable for the stiff HH gates and the AdEx exponential).
"""
import math

import numpy as np
from numba import njit

LIF = 0
IZHIKEVICH = 1
ADEX = 2
HH = 3
CUSTOM = 4
CURRENT = 0
CONDUCTANCE = 1

# parameter slots of g_par
P_DECAY = 0      # LIF: exp(-dt/tau_m);  Izhikevich: a (1/s)
P_REST = 1       # LIF: v_rest (V);      Izhikevich: b (1/s);  AdEx, HH: E_L (V)
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
P_DTTAU = 12     # LIF: dt / tau_m;  Izhikevich, AdEx, HH: dt (s)
P_D = 13         # Izhikevich: u increment at reset (V/s); AdEx: b (A)
P_NVARS = 13     # a user model: its number of state variables
P_C = 14         # AdEx, HH: capacitance (F)
P_GL = 15        # AdEx, HH: leak conductance (S)
P_VT = 16        # AdEx: V_T (V); HH: V_T of the rate functions (V)
P_DELTA = 17     # AdEx: Delta_T (V)
P_A = 18         # AdEx: a (S)
P_EW = 19        # AdEx: exp(-dt / tau_w)
P_GNA = 20       # HH: sodium conductance (S)
P_ENA = 21       # HH: sodium reversal (V)
P_GK = 22        # HH: potassium conductance (S)
P_EK = 23        # HH: potassium reversal (V)
N_PAR = 24       # a user model's own parameters follow, from slot N_PAR on

EXP_CAP = 500.0  # AdEx: exp((v - V_T) / Delta_T) capped here (v beyond the peak is reset)


@njit(cache=True)
def _input(conductance, vi, xe, xi, I, p):
    """(conductance, reversal sum) of the synaptic input: for conductance synapses
    ``(g_e + g_i, g_e E_e + g_i E_i)``; for current synapses ``(0, I_e + I_i)``; ``I`` (external
    current) added to the second."""
    if conductance:
        return xe + xi, xe * p[P_EE] + xi * p[P_EI] + I
    return 0.0, xe + xi + I


@njit(cache=True)
def adex(v, u, ref, syn_e, syn_i, I, lo, hi, p, conductance, fired, n_fired):
    """Adaptive exponential integrate-and-fire neurons (Brette and Gerstner 2005):
    ``C dv/dt = -g_L (v - E_L) + g_L Delta_T exp((v - V_T) / Delta_T) - w + I_syn + I``,
    ``tau_w dw/dt = a (v - E_L) - w``; at ``v > v_peak``: ``v = v_reset``, ``w += b``, v held at
    the reset for the refractory steps (w keeps relaxing). ``u`` holds w (A)."""
    C = p[P_C]
    gL = p[P_GL]
    EL = p[P_REST]
    VT = p[P_VT]
    DT = p[P_DELTA]
    a = p[P_A]
    ew = p[P_EW]
    h = p[P_DTTAU]
    th = p[P_TH]
    reset = p[P_RESET]
    b = p[P_D]
    de = p[P_DE]
    di = p[P_DI]
    nref = np.int32(p[P_NREF])
    for i in range(lo, hi):
        vi = v[i]
        wi = u[i]
        xe = syn_e[i]
        xi = syn_i[i]
        r = ref[i]
        w_inf = a * (vi - EL)
        wn = w_inf + (wi - w_inf) * ew
        if r > 0:
            vn = vi
            ref[i] = r - 1
        else:
            G, A = _input(conductance, vi, xe, xi, I[i], p)
            arg = (vi - VT) / DT
            if arg > EXP_CAP:
                arg = EXP_CAP
            G += gL
            A += gL * EL + gL * DT * math.exp(arg) - wi
            v_inf = A / G
            vn = v_inf + (vi - v_inf) * math.exp(-h * G / C)
            if vn > th:
                vn = reset
                wn += b
                ref[i] = nref
                fired[n_fired] = i
                n_fired += 1
        v[i] = vn
        u[i] = wn
        syn_e[i] = xe * de
        syn_i[i] = xi * di
    return n_fired


@njit(cache=True)
def exprel(x):
    """``(exp(x) - 1) / x``, 1 at 0."""
    if abs(x) < 1e-9:
        return 1.0 + 0.5 * x
    return math.expm1(x) / x


@njit(cache=True)
def hh_rates(vi, VT):
    """Traub-Miles rates (1/s) at ``vi`` (V), as Brian2's COBAHH writes them:
    ``(alpha_m, beta_m, alpha_h, beta_h, alpha_n, beta_n)``."""
    x = vi - VT
    am = 1.28e3 / exprel((13e-3 - x) / 4e-3)
    bm = 1.4e3 / exprel((x - 40e-3) / 5e-3)
    ah = 128.0 * math.exp((17e-3 - x) / 18e-3)
    bh = 4e3 / (1.0 + math.exp((40e-3 - x) / 5e-3))
    an = 0.16e3 / exprel((15e-3 - x) / 5e-3)
    bn = 500.0 * math.exp((10e-3 - x) / 40e-3)
    return am, bm, ah, bh, an, bn


@njit(cache=True)
def _gate(x, alpha, beta, h):
    """Gate ``x`` after ``h`` seconds of ``dx/dt = alpha (1 - x) - beta x`` (exact)."""
    k = alpha + beta
    x_inf = alpha / k
    return x_inf + (x - x_inf) * math.exp(-k * h)


@njit(cache=True)
def hh(v, m, aux, ref, syn_e, syn_i, I, lo, hi, p, conductance, fired, n_fired):
    """Hodgkin-Huxley neurons with Traub-Miles rates (Brian2's COBAHH):
    ``C dv/dt = g_L (E_L - v) - g_Na m^3 h (v - E_Na) - g_K n^4 (v - E_K) + I_syn + I``; a
    spike when v rises above ``v_th`` (no reset: ``ref`` is 1 while v stays above, as Brian2's
    ``refractory='v > v_th'``). ``m`` (N,) and ``aux[:, 0]``, ``aux[:, 1]`` hold m, h, n."""
    C = p[P_C]
    gL = p[P_GL]
    EL = p[P_REST]
    VT = p[P_VT]
    gNa = p[P_GNA]
    ENa = p[P_ENA]
    gK = p[P_GK]
    EK = p[P_EK]
    h_ = p[P_DTTAU]
    th = p[P_TH]
    de = p[P_DE]
    di = p[P_DI]
    for i in range(lo, hi):
        vi = v[i]
        mi = m[i]
        hi_ = aux[i, 0]
        ni = aux[i, 1]
        xe = syn_e[i]
        xi = syn_i[i]
        am, bm, ah, bh, an, bn = hh_rates(vi, VT)
        g_na = gNa * mi * mi * mi * hi_
        n2 = ni * ni
        g_k = gK * n2 * n2
        G, A = _input(conductance, vi, xe, xi, I[i], p)
        G += gL + g_na + g_k
        A += gL * EL + g_na * ENa + g_k * EK
        v_inf = A / G
        vn = v_inf + (vi - v_inf) * math.exp(-h_ * G / C)
        m[i] = _gate(mi, am, bm, h_)
        aux[i, 0] = _gate(hi_, ah, bh, h_)
        aux[i, 1] = _gate(ni, an, bn, h_)
        v[i] = vn
        syn_e[i] = xe * de
        syn_i[i] = xi * di
        if vn > th:
            if ref[i] == 0:
                ref[i] = 1
                fired[n_fired] = i
                n_fired += 1
        else:
            ref[i] = 0
    return n_fired


@njit
def custom(step, v, u, aux, ref, syn_e, syn_i, I, lo, hi, p, conductance, dt, fired, n_fired):
    """A user model: ``step(x, p, I, dt) -> (new x, spiked)`` for each neuron not refractory,
    with ``x`` the neuron's state (``v``, ``u``, ``aux[i]``: as many as the model has, the
    length of ``p``... see :class:`neurosim.spiking.CustomNeurons`) and ``I`` its input current
    (A; conductance synapses give ``g_e (E_e - v) + g_i (E_i - v)``). A spike starts the
    group's refractory steps, during which the state is held. Not cached: the step function is
    part of the compiled code."""
    k = np.int64(p[P_NVARS])
    x = np.empty(k)
    de = p[P_DE]
    di = p[P_DI]
    nref = np.int32(p[P_NREF])
    for i in range(lo, hi):
        xe = syn_e[i]
        xi = syn_i[i]
        r = ref[i]
        if r > 0:
            ref[i] = r - 1
        else:
            vi = v[i]
            x[0] = vi
            if k > 1:
                x[1] = u[i]
            for a in range(2, k):
                x[a] = aux[i, a - 2]
            if conductance:
                Ii = xe * (p[P_EE] - vi) + xi * (p[P_EI] - vi) + I[i]
            else:
                Ii = xe + xi + I[i]
            new, spiked = step(x, p[N_PAR:], Ii, dt)
            for a in range(k):          # a runtime index: tuples of any length, or arrays
                x[a] = new[a]
            v[i] = x[0]
            if k > 1:
                u[i] = x[1]
            for a in range(2, k):
                aux[i, a - 2] = x[a]
            if spiked:
                ref[i] = nref
                fired[n_fired] = i
                n_fired += 1
        syn_e[i] = xe * de
        syn_i[i] = xi * di
    return n_fired
