"""Neuron groups: leaky integrate-and-fire (current- or conductance-based) and Izhikevich.

A group is a description (sizes, parameters, initial state, external current); a
:class:`~neurosim.spiking.network.Network` places it, allocates its state and runs it. All
quantities are SI: seconds, volts, amperes, siemens, ohms, farads.

Synapses onto a group feed two channels, excitatory (``"e"``) and inhibitory (``"i"``), each
decaying exponentially with ``tau_e`` / ``tau_i``:

- ``synapse="current"``: the channels are currents ``I_e``, ``I_i`` (A), a spike adds the
  synaptic weight (A); LIF: ``tau_m dv/dt = -(v - v_rest) + R (I_e + I_i + I_ext)``.
- ``synapse="conductance"``: the channels are conductances ``g_e``, ``g_i`` (S), a spike adds the
  weight (S, >= 0); LIF:
  ``tau_m dv/dt = -(v - v_rest) + R (g_e (E_e - v) + g_i (E_i - v) + I_ext)``.
"""
import math
import numbers
import warnings

import numpy as np

from .. import checks
from ..kernels import neurons as _kn
from ..kernels import spiking as _k

SYNAPSES = ("current", "conductance")


def _initial_spec(x, name, n):
    """Initial values as given, checked (when the group is made, not when it first runs): a
    float, a pair ``(low, high)`` or an array (n,)."""
    if isinstance(x, tuple) and len(x) == 2:
        low = checks.scalar(x[0], f"{name}[0]")
        return low, checks.scalar(x[1], f"{name}[1]", low=low)
    if isinstance(x, numbers.Real) and not isinstance(x, bool):
        return checks.scalar(x, name)
    return checks.array(x, name, shape=(n,))


def _initial(x, name, n, gen):
    """Initial values (n,): a float, an array (n,), or a pair ``(low, high)`` drawn uniformly."""
    x = _initial_spec(x, name, n)
    if isinstance(x, tuple):
        return x[0] + (x[1] - x[0]) * gen.random(n)
    if isinstance(x, float):
        return np.full(n, x)
    return x.copy()


def _current(I, n, name="I"):
    """External current as (rows, n) amperes from a float, (n,) or (rows, n)."""
    if isinstance(I, numbers.Real) and not isinstance(I, bool):
        return np.full((1, n), checks.scalar(I, name))
    a = checks.array(I, name, ndim=(1, 2))
    if a.shape[-1] != n:
        raise ValueError(f"{name} must have {n} columns (one per neuron), as a float, (n,) or "
                         f"(n_times, n); got shape {a.shape}")
    return a.reshape(-1, n)


class NeuronGroup:
    """Base of neuron-group descriptions (see :class:`LIF`, :class:`Izhikevich`, :class:`AdEx`,
    :class:`HodgkinHuxley`, :class:`~neurosim.spiking.CustomNeurons`)."""

    model = None
    kind = "neurons"
    #: the model's state variables in the kernel's order (v, u, then the columns of aux) and
    #: their units, for monitors
    state_names = ("v", "u")
    state_units = {"v": "V", "u": "V/s"}
    #: the kernel step function of a user model (None: a built-in model)
    step = None

    @property
    def n_aux(self):
        """State variables beyond v and u."""
        return max(len(self.state_names) - 2, 0)

    def initial_aux(self, gen):
        """Initial values of the state beyond v and u: (n, n_aux)."""
        return np.zeros((self.n, self.n_aux))

    def __init__(self, n, name, synapse, tau_e, tau_i, E_e, E_i, t_ref, I, I_dt):
        self.n = checks.integer(n, "n", low=1)
        # the state of each neuron in a network: potentials, synaptic variables, currents...
        checks.memory(64 * self.n, f"{type(self).__name__}(n={self.n})")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a string or None; got {type(name).__name__}")
        self.name = name
        self.synapse = checks.choice(synapse, "synapse", SYNAPSES)
        self.tau_e = checks.scalar(tau_e, "tau_e", low=0.0, low_open=True)
        self.tau_i = checks.scalar(tau_i, "tau_i", low=0.0, low_open=True)
        self.E_e = checks.scalar(E_e, "E_e")
        self.E_i = checks.scalar(E_i, "E_i")
        self.t_ref = checks.scalar(t_ref, "t_ref", low=0.0)
        self.I = _current(I, self.n)
        self.I_dt = None if I_dt is None else checks.scalar(I_dt, "I_dt", low=0.0, low_open=True)
        if self.I.shape[0] > 1 and self.I_dt is None:
            raise ValueError("I_dt (seconds between rows of I) is needed when I varies over time "
                             f"(I has shape {self.I.shape})")

    def time_constants(self):
        """The group's time constants (s), for the check of dt."""
        return [self.tau_e, self.tau_i]

    def _syn_par(self, par, dt):
        par[_k.P_DE] = math.exp(-dt / self.tau_e)
        par[_k.P_DI] = math.exp(-dt / self.tau_i)
        par[_k.P_EE] = self.E_e
        par[_k.P_EI] = self.E_i
        # Brian2's rule: v is held at reset until t_spike + t_ref, t_spike being the start of
        # the spike's step; the reset ends that step, so round(t_ref/dt) - 1 updates are skipped
        par[_k.P_NREF] = float(max(np.rint(self.t_ref / dt) - 1, 0))

    def params(self):
        """Scalar parameters as a dict (for Dataset attrs)."""
        out = {}
        for k, x in vars(self).items():
            if isinstance(x, (int, float, str)) and not isinstance(x, bool):
                out[k] = x
        return out


class LIF(NeuronGroup):
    """Leaky integrate-and-fire neurons.

    ``tau_m dv/dt = -(v - v_rest) + R * I_total``; when ``v > v_th`` the neuron spikes, ``v`` is
    set to ``v_reset`` and held there until ``t_ref`` seconds after the spike time (as in
    Brian2; synaptic variables keep decaying).
    The update is exact over each step: an exact propagator for current synapses, exponential
    Euler (conductances held over the step) for conductance synapses.

    n: number of neurons. tau_m (s), v_rest, v_th, v_reset (V), t_ref (s), R (ohm).
    synapse, tau_e, tau_i (s), E_e, E_i (V): see the module docstring. v0: initial v (V), a
    float, an array (n,), or ``(low, high)`` for uniform values. I: external current (A), a
    float, (n,), or (n_times, n) with rows ``I_dt`` seconds apart (the last row holds after).
    name: label of the group in results.
    """

    model = _k.LIF

    def __init__(self, n, *, tau_m=20e-3, v_rest=-70e-3, v_th=-50e-3, v_reset=-60e-3,
                 t_ref=2e-3, R=1e8, synapse="current", tau_e=5e-3, tau_i=10e-3, E_e=0.0,
                 E_i=-80e-3, v0=None, I=0.0, I_dt=None, name=None):
        super().__init__(n, name, synapse, tau_e, tau_i, E_e, E_i, t_ref, I, I_dt)
        self.tau_m = checks.scalar(tau_m, "tau_m", low=0.0, low_open=True)
        self.v_rest = checks.scalar(v_rest, "v_rest")
        self.v_th = checks.scalar(v_th, "v_th")
        self.v_reset = checks.scalar(v_reset, "v_reset")
        self.R = checks.scalar(R, "R", low=0.0, low_open=True)
        if self.v_reset >= self.v_th:
            raise ValueError(f"v_reset must be below v_th ({self.v_th}); got {self.v_reset}")
        self.v0 = self.v_rest if v0 is None else _initial_spec(v0, "v0", self.n)

    def time_constants(self):
        """The group's time constants (s), for the check of dt."""
        return [self.tau_m] + super().time_constants()

    def parameters(self, dt):
        """Kernel parameter row (float64, N_PAR) for time step ``dt``."""
        par = np.zeros(_k.N_PAR)
        self._syn_par(par, dt)
        pm = math.exp(-dt / self.tau_m)
        par[_k.P_DECAY] = pm
        par[_k.P_REST] = self.v_rest
        par[_k.P_TH] = self.v_th
        par[_k.P_RESET] = self.v_reset
        par[_k.P_R] = self.R
        par[_k.P_DTTAU] = dt / self.tau_m
        for slot, tau in ((_k.P_KE, self.tau_e), (_k.P_KI, self.tau_i)):
            ps = math.exp(-dt / tau)
            if abs(tau - self.tau_m) < 1e-12 * self.tau_m:
                par[slot] = self.R * (dt / self.tau_m) * pm
            else:
                par[slot] = self.R * tau / (tau - self.tau_m) * (ps - pm)
        return par

    def initial_state(self, gen):
        """(v (n,) volts, u (n,) zeros)."""
        return _initial(self.v0, "v0", self.n, gen), np.zeros(self.n)


class Izhikevich(NeuronGroup):
    """Izhikevich (2003) neurons, in SI units.

    ``dv/dt = 4e4 v**2 + 5e3 v + 140 - u + I_total / C`` (v in V, u in V/s, t in s: the paper's
    ``0.04 v**2 + 5 v + 140 - u + I`` in mV and ms), ``du/dt = a (b v - u)`` with ``a``, ``b`` the
    paper's numbers per ms (times 1000 here, per second, with v in mV). When ``v >= v_peak``:
    ``v = c``, ``u += d``. v is advanced with two Euler half steps per ``dt`` (as in the paper),
    ``u`` exactly with ``v`` held. Regular spiking: a=0.02, b=0.2, c=-0.065 V, d=8 V/s.

    a, b: dimensionless (the paper's). c, v_peak: V. d: V/s (the paper's mV/ms). C: the
    capacitance (F) that turns currents into the paper's ``I`` (``I_paper = I / C`` in V/s; with
    the default 1e-10 F, ``I_paper = 10`` is 1 nA). Synapses, v0, u0 (V/s; default ``b v0``), I,
    I_dt, t_ref, name: as for :class:`LIF`.
    """

    model = _k.IZHIKEVICH

    def __init__(self, n, *, a=0.02, b=0.2, c=-65e-3, d=8.0, v_peak=30e-3, C=1e-10,
                 synapse="current", tau_e=5e-3, tau_i=10e-3, E_e=0.0, E_i=-80e-3, t_ref=0.0,
                 v0=-65e-3, u0=None, I=0.0, I_dt=None, name=None):
        super().__init__(n, name, synapse, tau_e, tau_i, E_e, E_i, t_ref, I, I_dt)
        self.a = checks.scalar(a, "a", low=0.0, low_open=True)
        self.b = checks.scalar(b, "b")
        self.c = checks.scalar(c, "c")
        self.d = checks.scalar(d, "d")
        self.v_peak = checks.scalar(v_peak, "v_peak")
        self.C = checks.scalar(C, "C", low=0.0, low_open=True)
        if self.c >= self.v_peak:
            raise ValueError(f"c (reset, V) must be below v_peak ({self.v_peak}); got {self.c}")
        self.v0 = _initial_spec(v0, "v0", self.n)
        self.u0 = None if u0 is None else _initial_spec(u0, "u0", self.n)

    def time_constants(self):
        """The group's time constants (s), for the check of dt."""
        return [1e-3, 1e-3 / self.a] + super().time_constants()

    def parameters(self, dt):
        """Kernel parameter row (float64, N_PAR) for time step ``dt``."""
        par = np.zeros(_k.N_PAR)
        self._syn_par(par, dt)
        par[_k.P_DECAY] = self.a * 1e3
        par[_k.P_REST] = self.b * 1e3
        par[_k.P_TH] = self.v_peak
        par[_k.P_RESET] = self.c
        par[_k.P_R] = 1.0 / self.C
        par[_k.P_DTTAU] = dt
        par[_k.P_D] = self.d
        return par

    def initial_state(self, gen):
        """(v (n,) volts, u (n,) V/s)."""
        v = _initial(self.v0, "v0", self.n, gen)
        u = self.b * 1e3 * v if self.u0 is None else _initial(self.u0, "u0", self.n, gen)
        return v, u


class AdEx(NeuronGroup):
    """Adaptive exponential integrate-and-fire neurons (Brette and Gerstner 2005).

    ``C dv/dt = -g_L (v - E_L) + g_L Delta_T exp((v - V_T) / Delta_T) - w + I_syn + I`` and
    ``tau_w dw/dt = a (v - E_L) - w``; when ``v > v_peak``: ``v = v_reset``, ``w += b`` (v then
    held at the reset for ``t_ref``). Defaults: the paper's (C 281 pF, g_L 30 nS, E_L -70.6 mV,
    V_T -50.4 mV, Delta_T 2 mV, tau_w 144 ms, a 4 nS, b 80.5 pA, v_reset = E_L, v_peak 20 mV);
    :data:`ADEX_PATTERNS` holds the parameter sets of the firing patterns of Naud et al. (2008).
    Integration: exponential Euler (v relaxes exactly towards its steady state with the
    exponential, w and the input held; w exactly with v held), so a step never overshoots
    the stiff upswing; the spike is cut at v_peak.

    C (F), g_L (S), E_L, V_T, Delta_T, v_reset, v_peak (V), tau_w (s), a (S), b (A), t_ref
    (s). Synapses, I, I_dt, name: as for :class:`LIF`. v0 (default E_L), w0 (A, default 0).
    The adaptation current is recorded as ``"w"``.
    """

    model = _k.ADEX
    state_names = ("v", "w")
    state_units = {"v": "V", "w": "A"}

    def __init__(self, n, *, C=281e-12, g_L=30e-9, E_L=-70.6e-3, V_T=-50.4e-3, Delta_T=2e-3,
                 tau_w=144e-3, a=4e-9, b=80.5e-12, v_reset=None, v_peak=20e-3, t_ref=0.0,
                 synapse="current", tau_e=5e-3, tau_i=10e-3, E_e=0.0, E_i=-80e-3, v0=None,
                 w0=0.0, I=0.0, I_dt=None, name=None):
        super().__init__(n, name, synapse, tau_e, tau_i, E_e, E_i, t_ref, I, I_dt)
        self.C = checks.scalar(C, "C", low=0.0, low_open=True)
        self.g_L = checks.scalar(g_L, "g_L", low=0.0, low_open=True)
        self.E_L = checks.scalar(E_L, "E_L")
        self.V_T = checks.scalar(V_T, "V_T")
        self.Delta_T = checks.scalar(Delta_T, "Delta_T", low=0.0, low_open=True)
        self.tau_w = checks.scalar(tau_w, "tau_w", low=0.0, low_open=True)
        self.a = checks.scalar(a, "a")
        self.b = checks.scalar(b, "b")
        self.v_reset = self.E_L if v_reset is None else checks.scalar(v_reset, "v_reset")
        self.v_peak = checks.scalar(v_peak, "v_peak")
        if not self.v_reset < self.v_peak:
            raise ValueError(f"v_reset must be below v_peak ({self.v_peak}); got {self.v_reset}")
        if not self.V_T < self.v_peak:
            raise ValueError(f"V_T must be below v_peak ({self.v_peak}); got {self.V_T}")
        self.v0 = self.E_L if v0 is None else _initial_spec(v0, "v0", self.n)
        self.w0 = _initial_spec(w0, "w0", self.n)

    def time_constants(self):
        """The group's time constants (s), for the check of dt."""
        return [self.C / self.g_L, self.tau_w] + super().time_constants()

    def parameters(self, dt):
        """Kernel parameter row (float64, N_PAR) for time step ``dt``."""
        par = np.zeros(_k.N_PAR)
        self._syn_par(par, dt)
        par[_k.P_REST] = self.E_L
        par[_k.P_TH] = self.v_peak
        par[_k.P_RESET] = self.v_reset
        par[_k.P_DTTAU] = dt
        par[_k.P_D] = self.b
        par[_kn.P_C] = self.C
        par[_kn.P_GL] = self.g_L
        par[_kn.P_VT] = self.V_T
        par[_kn.P_DELTA] = self.Delta_T
        par[_kn.P_A] = self.a
        par[_kn.P_EW] = math.exp(-dt / self.tau_w)
        return par

    def initial_state(self, gen):
        """(v (n,) volts, w (n,) amperes)."""
        return _initial(self.v0, "v0", self.n, gen), _initial(self.w0, "w0", self.n, gen)


#: AdEx parameters of the firing patterns of Naud, Marcille, Clopath and Gerstner (2008),
#: Table 1 (with the step current ``I`` that shows each), in SI units
ADEX_PATTERNS = {
    name: dict(C=C * 1e-12, g_L=gL * 1e-9, E_L=EL * 1e-3, V_T=-50e-3, Delta_T=2e-3, a=a * 1e-9,
               tau_w=tw * 1e-3, b=b * 1e-12, v_reset=vr * 1e-3, I=I * 1e-12)
    for name, (C, gL, EL, a, tw, b, vr, I) in {
        "tonic": (200, 10, -70, 2, 30, 0, -58, 500),
        "adapting": (200, 12, -70, 2, 300, 60, -58, 500),
        "initial_burst": (130, 18, -58, 4, 150, 120, -50, 400),
        "bursting": (200, 10, -58, 2, 120, 100, -46, 210),
        "irregular": (100, 12, -60, -11, 130, 30, -48, 160),
        "transient": (100, 10, -65, 10, 90, 100, -47, 180),
        "delayed": (200, 12, -70, -10, 300, 0, -58, 300),
    }.items()}


class HodgkinHuxley(NeuronGroup):
    """Hodgkin-Huxley neurons with the Traub and Miles (1991) rates, as Brian2's COBAHH
    benchmark (Brette et al. 2007, benchmark 3) defines them.

    ``C dv/dt = g_L (E_L - v) - g_Na m^3 h (v - E_Na) - g_K n^4 (v - E_K) + I_syn + I``, each
    gate ``dx/dt = alpha_x (1 - x) - beta_x x`` with Traub-Miles rates around ``V_T``. A spike
    is counted when v rises above ``v_th`` (no reset; the neuron counts again only after v
    fell below, as Brian2's ``refractory='v > v_th'``). Integration: exponential Euler
    (Brian2's ``exponential_euler``: v and each gate relax exactly towards their steady state
    with the others held over the step), stable at dt = 0.1 ms.

    Defaults: COBAHH's membrane of 20000 um^2: C 200 pF, g_L 10 nS, E_L -60 mV, g_Na 20 uS,
    E_Na 50 mV, g_K 6 uS, E_K -90 mV, V_T -63 mV, v_th -20 mV; conductance synapses (tau_e
    5 ms, tau_i 10 ms, E_e 0, E_i -80 mV). v0 (default E_L); m0, h0, n0: initial gates (default
    their steady state at v0). State recorded as ``"v"``, ``"m"``, ``"h"``, ``"n"``.
    """

    model = _k.HH
    state_names = ("v", "m", "h", "n")
    state_units = {"v": "V", "m": "1", "h": "1", "n": "1"}

    def __init__(self, n, *, C=200e-12, g_L=10e-9, E_L=-60e-3, g_Na=20e-6, E_Na=50e-3,
                 g_K=6e-6, E_K=-90e-3, V_T=-63e-3, v_th=-20e-3, synapse="conductance",
                 tau_e=5e-3, tau_i=10e-3, E_e=0.0, E_i=-80e-3, v0=None, m0=None, h0=None,
                 n0=None, I=0.0, I_dt=None, name=None):
        super().__init__(n, name, synapse, tau_e, tau_i, E_e, E_i, 0.0, I, I_dt)
        self.C = checks.scalar(C, "C", low=0.0, low_open=True)
        self.g_L = checks.scalar(g_L, "g_L", low=0.0, low_open=True)
        self.g_Na = checks.scalar(g_Na, "g_Na", low=0.0)
        self.g_K = checks.scalar(g_K, "g_K", low=0.0)
        self.E_L = checks.scalar(E_L, "E_L")
        self.E_Na = checks.scalar(E_Na, "E_Na")
        self.E_K = checks.scalar(E_K, "E_K")
        self.V_T = checks.scalar(V_T, "V_T")
        self.v_th = checks.scalar(v_th, "v_th")
        self.v0 = self.E_L if v0 is None else _initial_spec(v0, "v0", self.n)
        for name_, x in (("m0", m0), ("h0", h0), ("n0", n0)):
            if x is not None:
                x = _initial_spec(x, name_, self.n)
                low, high = (x, x) if isinstance(x, float) else \
                    (x if isinstance(x, tuple) else (x.min(), x.max()))
                if low < 0 or high > 1:
                    raise ValueError(f"{name_} must lie in [0, 1] (a gate); got {x}")
            setattr(self, name_, x)

    def time_constants(self):
        """The group's time constants (s), for the check of dt."""
        return [self.C / self.g_L] + super().time_constants()

    def parameters(self, dt):
        """Kernel parameter row (float64, N_PAR) for time step ``dt``."""
        par = np.zeros(_k.N_PAR)
        self._syn_par(par, dt)
        par[_k.P_REST] = self.E_L
        par[_k.P_TH] = self.v_th
        par[_k.P_DTTAU] = dt
        par[_kn.P_C] = self.C
        par[_kn.P_GL] = self.g_L
        par[_kn.P_VT] = self.V_T
        par[_kn.P_GNA] = self.g_Na
        par[_kn.P_ENA] = self.E_Na
        par[_kn.P_GK] = self.g_K
        par[_kn.P_EK] = self.E_K
        return par

    def steady_gates(self, v):
        """(m, h, n) at rest at potentials ``v`` (V)."""
        r = np.array([_kn.hh_rates(float(x), self.V_T) for x in np.atleast_1d(v)])
        return tuple(r[:, k] / (r[:, k] + r[:, k + 1]) for k in (0, 2, 4))

    def initial_state(self, gen):
        """(v (n,) volts, m (n,)); h and n come from :meth:`initial_aux`."""
        self._v_init = _initial(self.v0, "v0", self.n, gen)
        m = self.steady_gates(self._v_init)[0] if self.m0 is None else \
            _initial(self.m0, "m0", self.n, gen)
        return self._v_init, m

    def initial_aux(self, gen):
        """(h, n) as columns (n, 2): given, or their steady state at the initial v."""
        _, h, n = self.steady_gates(self._v_init)
        if self.h0 is not None:
            h = _initial(self.h0, "h0", self.n, gen)
        if self.n0 is not None:
            n = _initial(self.n0, "n0", self.n, gen)
        return np.stack([h, n], axis=1)


def check_dt(dt, groups):
    """Warn when ``dt`` is large for the groups' time constants (more than a tenth of one)."""
    taus = [t for g in groups for t in g.time_constants()]
    if taus and dt > 0.1 * min(taus):
        warnings.warn(f"dt = {dt} s is large for the smallest time constant ({min(taus)} s); "
                      "results will be coarse", RuntimeWarning, stacklevel=3)
