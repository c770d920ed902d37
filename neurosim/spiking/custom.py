"""User-defined neuron models, compiled by Numba into the network kernel.

A model is one small function ``step(x, p, I, dt) -> (new_x, spiked)`` for one neuron and one
step: ``x`` its state (a float64 array, ``x[0]`` the membrane potential v in volts, then the
model's other variables in the order given), ``p`` the group's parameters (float64 array, in
the order given), ``I`` the input current (A: synaptic currents onto current synapses,
``g_e (E_e - v) + g_i (E_i - v)`` onto conductance synapses, plus the external current ``I``)
and ``dt`` the step (s). It returns the new state (a tuple of floats or an array of the same
length; ``x`` itself, updated in place, will do) and whether the neuron spiked in this step,
with its reset already applied. Quadratic integrate-and-fire, for example::

    from numba import njit

    @njit
    def qif(x, p, I, dt):
        v_rest, v_c, tau, R, v_peak, v_reset = p[0], p[1], p[2], p[3], p[4], p[5]
        v = x[0] + dt / tau * ((x[0] - v_rest) * (x[0] - v_c) / (v_c - v_rest) + R * I)
        if v >= v_peak:
            return (v_reset,), True
        return (v,), False

    g = net.add(CustomNeurons(100, qif, state={"v": -65e-3},
                              params={"v_rest": -65e-3, "v_c": -50e-3, "tau": 10e-3,
                                      "R": 1e8, "v_peak": 30e-3, "v_reset": -70e-3}))

The network runs it inside its compiled kernel (a separate specialisation of
:func:`neurosim.kernels.spiking.run_steps` that includes the function; it is compiled once per
session, not cached on disk). A plain Python function is compiled with ``numba.njit``; the
function must be Numba-compilable. On ``backend="cuda"`` the same Python function is compiled
with ``numba.cuda.jit(device=True)`` into the CUDA twin's neuron pass (a thread per neuron), so
it must also compile for the CUDA target: scalar arithmetic and indexing of ``x`` and ``p``
(no array allocation); its state has at most 16 variables there, and a function that does not
compile is a TypeError naming ``step`` at the first run. One step function per network (several groups may share
it with different parameters). While a neuron is refractory (``t_ref`` after a spike) its
state is held and ``step`` is not called. Synaptic variables decay and receive spikes as for
every group (``synapse``, ``tau_e``, ``tau_i``, ``E_e``, ``E_i``).
"""
import numbers
import weakref

import numba
import numpy as np

from .. import checks
from ..kernels import neurons as _kn
from ..kernels import spiking as _k
from .neurons import NeuronGroup, _initial, _initial_spec


_JITTED = weakref.WeakKeyDictionary()    # a plain function compiled once, shared by groups


def _as_dispatcher(step):
    if isinstance(step, numba.core.registry.CPUDispatcher):
        return step
    if not callable(step):
        raise TypeError(f"step must be a function (x, p, I, dt) -> (new_x, spiked); got "
                        f"{type(step).__name__}")
    if step not in _JITTED:
        _JITTED[step] = numba.njit(step)
    return _JITTED[step]


class CustomNeurons(NeuronGroup):
    """Neurons whose update is a user function ``step(x, p, I, dt) -> (new_x, spiked)`` (see
    the module docstring).

    n: number of neurons. step: the function (a Numba ``@njit`` function, or a plain function
    compiled here). state: an ordered dict of the state variables and their initial values
    (a float, an array (n,), or ``(low, high)`` drawn uniformly); the first must be ``"v"``
    (V). params: an ordered dict of the parameters (floats) handed to ``step`` as ``p``.
    units: units of the state variables for monitors (default ``"V"`` for v, ``"1"``
    otherwise). t_ref (s): refractory time after a spike. synapse, tau_e, tau_i, E_e, E_i, I,
    I_dt, name: as for :class:`LIF`. The state variables are recorded by their names.
    """

    model = _k.CUSTOM

    def __init__(self, n, step, *, state, params=None, units=None, t_ref=0.0, synapse="current",
                 tau_e=5e-3, tau_i=10e-3, E_e=0.0, E_i=-80e-3, I=0.0, I_dt=None, name=None):
        super().__init__(n, name, synapse, tau_e, tau_i, E_e, E_i, t_ref, I, I_dt)
        self.step = _as_dispatcher(step)
        if not isinstance(state, dict) or not state:
            raise TypeError(f"state must be a dict of state variables and initial values, "
                            f"'v' first; got {type(state).__name__}")
        names = tuple(state)
        if names[0] != "v":
            raise ValueError(f"state must start with 'v' (the membrane potential); got {names}")
        for k in names:
            if not isinstance(k, str) or not k.isidentifier() or k in ("syn_e", "syn_i"):
                raise ValueError(f"state names must be identifiers other than syn_e, syn_i; "
                                 f"got {k!r}")
        self.state_names = names
        self.initial = {k: _initial_spec(x, k, self.n) for k, x in state.items()}
        params = {} if params is None else params
        if not isinstance(params, dict):
            raise TypeError(f"params must be a dict of floats; got {type(params).__name__}")
        self.model_params = {}
        for k, x in params.items():
            if not isinstance(x, numbers.Real) or isinstance(x, bool):
                raise TypeError(f"params[{k!r}] must be a real number; got {type(x).__name__}")
            self.model_params[str(k)] = checks.scalar(x, f"params[{k!r}]")
        units = dict(units or {})
        unknown = set(units) - set(names)
        if unknown:
            raise ValueError(f"units names variables that are not in state: {sorted(unknown)}")
        self.state_units = {k: units.get(k, "V" if k == "v" else "1") for k in names}

    def parameters(self, dt):
        """Kernel parameter row: the shared slots, then the model's parameters."""
        par = np.zeros(_k.N_PAR + len(self.model_params))
        self._syn_par(par, dt)
        par[_kn.P_NVARS] = len(self.state_names)
        par[_k.N_PAR:] = list(self.model_params.values())
        return par

    def initial_state(self, gen):
        """(v (n,), the second variable (n,) or zeros)."""
        vals = [_initial(self.initial[k], k, self.n, gen) for k in self.state_names]
        self._aux_init = vals[2:]
        return vals[0], vals[1] if len(vals) > 1 else np.zeros(self.n)

    def initial_aux(self, gen):
        """The variables after the second, as columns (n, n_aux)."""
        if not self._aux_init:
            return np.zeros((self.n, 0))
        return np.stack(self._aux_init, axis=1)

    def check_step(self, dt):
        """Compile ``step`` for this group and call it once on the first neuron's initial state;
        a function that does not compile or does not return ``(new_x, spiked)`` of the state's
        length is a TypeError naming ``step``."""
        k = len(self.state_names)
        x = np.array([float(np.atleast_1d(_initial(self.initial[name], name, self.n,
                                                   np.random.default_rng(0)))[0])
                      for name in self.state_names])
        p = np.array(list(self.model_params.values()), dtype=float)
        try:
            out = self.step(x.copy(), p, 0.0, float(dt))
        except Exception as err:
            raise TypeError(f"step must compile with Numba as step(x, p, I, dt) with x a "
                            f"float64 array of {k}, p of {p.size}, I and dt floats: {err}") from err
        if not (isinstance(out, tuple) and len(out) == 2 and len(out[0]) == k):
            raise TypeError(f"step must return (new_x, spiked) with new_x of length {k} (the "
                            f"state {self.state_names}); got {out!r}")

    def params(self):
        """Scalar parameters (for Dataset attrs): the group's and the model's."""
        out = super().params()
        out.update({f"param_{k}": v for k, v in self.model_params.items()})
        out["step"] = f"{getattr(self.step, '__module__', '?')}:" \
            f"{getattr(self.step, '__qualname__', getattr(self.step, '__name__', '?'))}"
        return out
