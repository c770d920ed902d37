"""Neuron models of the spiking kernel: parameter slots, and the updates of the models beyond
LIF and Izhikevich (those live in :mod:`neurosim.kernels.spiking`): adaptive exponential
integrate-and-fire (Brette and Gerstner 2005), Hodgkin-Huxley (Traub and Miles, as Brian2's
COBAHH benchmark) and user-defined models.

Each update advances neurons ``lo .. hi-1`` of one group by one step, thresholds and resets
them, decays their synaptic variables and appends spikers to ``fired``; it returns the new
spike count. State: ``v`` (N,), ``u`` (N,) the second variable (Izhikevich recovery, AdEx
adaptation current, HH activation m, a user model's second variable), ``aux`` (K, N) the
others (HH: h, n). Integration is exponential Euler, as Brian2's ``exponential_euler``: every
variable relaxes exactly towards its steady state with the others held at their values at the
start of the step (stable for the stiff HH gates and the AdEx exponential). The exponentials
are :mod:`neurosim.kernels.vexp`'s and the divisions unchecked (``error_model="numpy"``: Numba's
default zero-division check is a branch that stops vectorisation; no denominator here can be
zero), so that the passes over a block of neurons vectorise.
"""
import numpy as np
from numba import njit

from . import vexp as _vx
from .simd import wide_vectors

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

# neurons per block of the fused update passes: a block is rescanned for spikers only when its
# vectorised update saw one, so the scalar work per step is ~ (blocks with a spike) x BLOCK
BLOCK = 256


@njit(cache=True, error_model="numpy", inline="always")
def _far(y):
    """True where the conductance LIF step ``y = dt/tau_m g_tot`` is outside
    :func:`neurosim.kernels.vexp.relax`'s range [0, RELAX_MAX] (NaN included)."""
    return not ((y >= 0.0) & (y <= _vx.RELAX_MAX))


@njit(cache=True, error_model="numpy", inline="always")
def _settle(vb, rb, eb, ib, sp, i, vi, vn, r, xe, xi, de, di, th, reset, nref, keep, flag):
    """Store neuron ``i``'s new state: v held while refractory, reset (``nref`` refractory
    steps, ``sp[i] = 1``) if it crosses the threshold out of refractoriness, conductances
    decayed; or, if ``keep``, its state as it is and ``sp[i] = flag``. Returns 1 on a spike,
    else 0."""
    if r > 0:
        vn = vi
    rn = np.int32(r - 1) if r > 0 else r     # int32 (Numba widens r - 1 to int64)
    spike = (vn > th) & (rn == 0) & (not keep)
    vb[i] = reset if spike else (vi if keep else vn)
    rb[i] = nref if spike else (r if keep else rn)
    sp[i] = spike + keep * flag      # (a select here would stop the vectorisation)
    eb[i] = xe if keep else xe * de
    ib[i] = xi if keep else xi * di
    return spike


@njit(cache=True, error_model="numpy", inline="always")
def _lif_drive(xe, xi, Ii, R, v_rest, E_e, E_i):
    """``(g, A)`` of the conductance LIF step: ``g = 1 + R (g_e + g_i)``, ``A = v_rest + R
    (g_e E_e + (g_i E_i + I))`` (``dv/dt = (A - g v) / tau_m``), in fused multiply-adds."""
    return _vx.fma(R, xe + xi, 1.0), _vx.fma(R, _vx.fma(xe, E_e, _vx.fma(xi, E_i, Ii)), v_rest)


FAR = 2   # the byte flag of a neuron left for the exponential pass
FAR_WORD = 0x0202020202020202   # FAR in each byte of a word of flags


@njit(cache=True, inline="always")
def _any_flags(words, nw):
    """The bitwise or of ``words[:nw]`` (eight neurons' byte flags to a word)."""
    seen = 0
    for w in range(nw):
        seen |= words[w]
    return seen


@njit(cache=True, error_model="numpy")
def lif_conductance(v, ref, syn_e, syn_i, I, lo, hi, p, fired, n_fired):
    """LIF neurons with conductance synapses: exponential Euler over the step (conductances
    held), v held at the reset while refractory; then threshold and reset.

    With ``g = 1 + R (g_e + g_i)``, ``A = v_rest + R (g_e E_e + g_i E_i + I)`` and ``y = dt /
    tau_m g``, exponential Euler is ``v_inf + (v - v_inf) exp(-y)`` with ``v_inf = A / g``, the
    same as ``v + dt/tau_m (A - v g) f(y)`` with ``f(y) = (1 - exp(-y)) / y``. For ``0 <= y <=
    RELAX_MAX`` (1: g up to 200 at dt/tau_m = 1/200, all of COBA) the step is the second
    form with :func:`neurosim.kernels.vexp.relax`, a polynomial: no exponential, no division,
    the increment rounded rather than v_inf (at least as accurate). Outside, the first form
    with :func:`neurosim.kernels.vexp.exp`. Each neuron's bits depend only on its own y (the
    CUDA twin takes the same branch per thread).

    In blocks of ``BLOCK`` neurons, one vectorised pass takes the polynomial step, resets the
    spikers and flags them in a byte per neuron; a neuron outside the range is left as it was
    and flagged ``FAR``, and a block with such neurons gets a second vectorised pass that takes
    the exponential step for those alone. The flags of a block with spikers are then read
    eight at a time, in order, into ``fired`` (the pass keeps no counters: the bitwise or of
    the block's flag words says which kinds it has). The drive, the step and the polynomial
    are fused multiply-adds (:func:`neurosim.kernels.vexp.fma`; ``-v g + A`` and ``(.) f +
    v`` each rounded once), as the CUDA twin's."""
    wide_vectors()
    v_rest = p[P_REST]
    R = p[P_R]
    E_e = p[P_EE]
    E_i = p[P_EI]
    dt_tau = p[P_DTTAU]
    de = p[P_DE]
    di = p[P_DI]
    th = p[P_TH]
    reset = p[P_RESET]
    nref = np.int32(p[P_NREF])
    sp = np.zeros(BLOCK, dtype=np.uint8)
    words = sp.view(np.int64)
    for b0 in range(lo, hi, BLOCK):
        b1 = min(b0 + BLOCK, hi)
        vb = v[b0:b1]
        rb = ref[b0:b1]
        eb = syn_e[b0:b1]
        ib = syn_i[b0:b1]
        Ib = I[b0:b1]
        for i in range(vb.shape[0]):
            vi = vb[i]
            xe = eb[i]
            xi = ib[i]
            g, A = _lif_drive(xe, xi, Ib[i], R, v_rest, E_e, E_i)
            y = dt_tau * g
            vn = _vx.fma(_vx.fma(-vi, g, A), dt_tau * _vx.relax(y), vi)
            _settle(vb, rb, eb, ib, sp, i, vi, vn, rb[i], xe, xi, de, di, th, reset, nref,
                    _far(y), FAR)
        # the flags, eight to a word: which kinds the block has (no counters in the pass)
        nw = (vb.shape[0] + 7) // 8
        seen = _any_flags(words, nw)
        if seen & FAR_WORD:
            for i in range(vb.shape[0]):
                vi = vb[i]
                xe = eb[i]
                xi = ib[i]
                g, A = _lif_drive(xe, xi, Ib[i], R, v_rest, E_e, E_i)
                v_inf = A / g
                vn = _vx.fma(vi - v_inf, _vx.exp(-(dt_tau * g)), v_inf)
                f = sp[i]
                _settle(vb, rb, eb, ib, sp, i, vi, vn, rb[i], xe, xi, de, di, th, reset, nref,
                        f != FAR, f)
            seen = _any_flags(words, nw)
        if seen:
            for w in range(nw):
                x = words[w]
                if x != 0:
                    words[w] = 0
                    for k in range(8):
                        if (x >> (8 * k)) & 0xFF:
                            fired[n_fired] = b0 + 8 * w + k
                            n_fired += 1
    return n_fired


@njit(cache=True, error_model="numpy")
def adex(v, u, ref, syn_e, syn_i, I, lo, hi, p, conductance, fired, n_fired):
    """Adaptive exponential integrate-and-fire neurons (Brette and Gerstner 2005):
    ``C dv/dt = -g_L (v - E_L) + g_L Delta_T exp((v - V_T) / Delta_T) - w + I_syn + I``,
    ``tau_w dw/dt = a (v - E_L) - w``; at ``v > v_peak``: ``v = v_reset``, ``w += b``, v held at
    the reset for the refractory steps (w keeps relaxing). ``u`` holds w (A). Blocks as
    :func:`lif_conductance`."""
    wide_vectors()
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
    Ee = p[P_EE] if conductance else 0.0
    Ei = p[P_EI] if conductance else 0.0
    cond = 1.0 if conductance else 0.0
    nref = np.int32(p[P_NREF])
    for b0 in range(lo, hi, BLOCK):
        b1 = min(b0 + BLOCK, hi)
        vb = v[b0:b1]
        wb = u[b0:b1]
        rb = ref[b0:b1]
        eb = syn_e[b0:b1]
        ib = syn_i[b0:b1]
        Ib = I[b0:b1]
        hit = 0
        for i in range(vb.shape[0]):
            vi = vb[i]
            wi = wb[i]
            xe = eb[i]
            xi = ib[i]
            r = rb[i]
            w_inf = a * (vi - EL)
            wn = w_inf + (wi - w_inf) * ew
            # conductance synapses: g (E - v); current synapses: the currents themselves
            G = gL + cond * (xe + xi)
            A = gL * EL + (xe * Ee + xi * Ei if conductance else xe + xi) + Ib[i]
            arg = (vi - VT) / DT
            if arg > EXP_CAP:
                arg = EXP_CAP
            A += gL * DT * _vx.exp(arg) - wi
            v_inf = A / G
            vn = v_inf + (vi - v_inf) * _vx.exp(-h * G / C)
            if r > 0:
                vn = vi
                r -= 1
            vb[i] = vn
            wb[i] = wn
            rb[i] = r
            eb[i] = xe * de
            ib[i] = xi * di
            hit += (vn > th) & (r == 0)
        if hit > 0:
            for i in range(vb.shape[0]):
                if vb[i] > th and rb[i] == 0:
                    vb[i] = reset
                    wb[i] += b
                    rb[i] = nref
                    fired[n_fired] = b0 + i
                    n_fired += 1
    return n_fired


@njit(cache=True, error_model="numpy", inline="always")
def hh_rates(vi, VT):
    """Traub-Miles rates (1/s) at ``vi`` (V), as Brian2's COBAHH writes them:
    ``(alpha_m, beta_m, alpha_h, beta_h, alpha_n, beta_n)``."""
    x = vi - VT
    am = 1.28e3 / _vx.exprel((13e-3 - x) / 4e-3)
    bm = 1.4e3 / _vx.exprel((x - 40e-3) / 5e-3)
    ah = 128.0 * _vx.exp((17e-3 - x) / 18e-3)
    bh = 4e3 / (1.0 + _vx.exp((40e-3 - x) / 5e-3))
    an = 0.16e3 / _vx.exprel((15e-3 - x) / 5e-3)
    bn = 500.0 * _vx.exp((10e-3 - x) / 40e-3)
    return am, bm, ah, bh, an, bn


@njit(cache=True, error_model="numpy", inline="always")
def _gate(x, alpha, beta, h):
    """Gate ``x`` after ``h`` seconds of ``dx/dt = alpha (1 - x) - beta x`` (exact)."""
    k = alpha + beta
    x_inf = alpha / k
    return x_inf + (x - x_inf) * _vx.exp(-k * h)


@njit(cache=True, error_model="numpy")
def hh(v, m, aux, ref, syn_e, syn_i, I, lo, hi, p, conductance, fired, n_fired):
    """Hodgkin-Huxley neurons with Traub-Miles rates (Brian2's COBAHH):
    ``C dv/dt = g_L (E_L - v) - g_Na m^3 h (v - E_Na) - g_K n^4 (v - E_K) + I_syn + I``; a
    spike when v rises above ``v_th`` (no reset: ``ref`` is 1 while v stays above, as Brian2's
    ``refractory='v > v_th'``). ``m`` (N,) and ``aux[0]``, ``aux[1]`` hold m, h, n.
    Blocks as :func:`lif_conductance`: the vectorised pass marks a rise above v_th with
    ``ref = 2``, the scalar pass turns it into a spike."""
    wide_vectors()
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
    Ee = p[P_EE] if conductance else 0.0
    Ei = p[P_EI] if conductance else 0.0
    cond = 1.0 if conductance else 0.0
    for b0 in range(lo, hi, BLOCK):
        b1 = min(b0 + BLOCK, hi)
        vb = v[b0:b1]
        mb = m[b0:b1]
        hb = aux[0, b0:b1]
        nb = aux[1, b0:b1]
        rb = ref[b0:b1]
        eb = syn_e[b0:b1]
        ib = syn_i[b0:b1]
        Ib = I[b0:b1]
        hit = 0
        for i in range(vb.shape[0]):
            vi = vb[i]
            mi = mb[i]
            hi_ = hb[i]
            ni = nb[i]
            xe = eb[i]
            xi = ib[i]
            am, bm, ah, bh, an, bn = hh_rates(vi, VT)
            g_na = gNa * mi * mi * mi * hi_
            n2 = ni * ni
            g_k = gK * n2 * n2
            G = gL + g_na + g_k + cond * (xe + xi)
            A = gL * EL + g_na * ENa + g_k * EK + Ib[i] + \
                (xe * Ee + xi * Ei if conductance else xe + xi)
            v_inf = A / G
            vn = v_inf + (vi - v_inf) * _vx.exp(-h_ * G / C)
            mb[i] = _gate(mi, am, bm, h_)
            hb[i] = _gate(hi_, ah, bh, h_)
            nb[i] = _gate(ni, an, bn, h_)
            vb[i] = vn
            eb[i] = xe * de
            ib[i] = xi * di
            above = vn > th
            rise = above & (rb[i] == 0)
            rb[i] = 2 if rise else (1 if above else 0)
            hit += rise
        if hit > 0:
            for i in range(vb.shape[0]):
                if rb[i] == 2:
                    rb[i] = 1
                    fired[n_fired] = b0 + i
                    n_fired += 1
    return n_fired


@njit(cache=False)  # the user's step function is part of the compiled code
def custom(step, v, u, aux, ref, syn_e, syn_i, I, lo, hi, p, conductance, dt, fired, n_fired):
    """A user model: ``step(x, p, I, dt) -> (new x, spiked)`` for each neuron not refractory,
    with ``x`` the neuron's state (``v``, ``u``, ``aux[:, i]``: as many as the model has; see
    :class:`neurosim.spiking.CustomNeurons`) and ``I`` its input current
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
                x[a] = aux[a - 2, i]
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
                aux[a - 2, i] = x[a]
            if spiked:
                ref[i] = nref
                fired[n_fired] = i
                n_fired += 1
        syn_e[i] = xe * de
        syn_i[i] = xi * di
    return n_fired
