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
    """Base of neuron-group descriptions (see :class:`LIF`, :class:`Izhikevich`)."""

    model = None
    kind = "neurons"

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


def check_dt(dt, groups):
    """Warn when ``dt`` is large for the groups' time constants (more than a tenth of one)."""
    taus = [t for g in groups for t in g.time_constants()]
    if taus and dt > 0.1 * min(taus):
        warnings.warn(f"dt = {dt} s is large for the smallest time constant ({min(taus)} s); "
                      "results will be coarse", RuntimeWarning, stacklevel=3)
