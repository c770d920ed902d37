"""Classic networks of the literature, built as their reference implementations define them.

- :func:`song2000`: STDP onto one neuron from Poisson inputs (Song, Miller and Abbott 2000), as
  Brian2's ``examples/synapses/STDP.py`` sets it up.
- :func:`coba`, :func:`cobahh`: benchmarks 1 and 3 of Brette et al. (2007), the conductance-
  based Vogels-Abbott network with LIF and with Hodgkin-Huxley neurons.

(The CUBA network of Vogels and Abbott 2005 is :func:`neurosim.spiking.cuba`.)
"""
import numpy as np

from .. import checks
from .inputs import PoissonGroup
from .network import Network
from .neurons import LIF, HodgkinHuxley
from .plasticity import STDP


def song2000(n_inputs=1000, *, rate=15.0, learning_rate=1.0, g_max=0.01, dt=1e-4, seed=None,
             backend="cpu"):
    """Song, Miller and Abbott (2000): ``n_inputs`` Poisson inputs at ``rate`` Hz onto one
    conductance-based LIF neuron through additive, all-to-all STDP synapses.

    Brian2's parameters: tau_m 10 ms, E_L -74 mV, threshold -54 mV, reset -60 mV, no refractory
    period, excitatory conductance decaying with 5 ms, reversal 0 mV; w_max = ``g_max`` (0.01)
    in units of the leak conductance (here R = 100 Mohm, so 0.1 nS; scale it as 10 / n_inputs
    to keep the example's drive with other numbers of inputs), initial weights uniform in
    [0, w_max); tau_plus = tau_minus = 20 ms, A_plus = 0.01, A_minus = 1.05 A_plus (fractions
    of w_max), each times ``learning_rate`` (> 1 to reach the final distribution in a shorter
    run). Returns ``(network, W)`` with ``W`` the plastic projection (read it with
    ``network.weights(W)``); the neuron is group "neuron", the inputs "inputs". After tens of
    seconds (100 s in Brian2's example) the weights are bimodal: piled up at 0 and at w_max.
    ``backend``: as :class:`Network`'s.
    """
    n_inputs = checks.integer(n_inputs, "n_inputs", low=1)
    rate = checks.scalar(rate, "rate", low=0.0)
    lr = checks.scalar(learning_rate, "learning_rate", low=0.0, low_open=True)
    g_max = checks.scalar(g_max, "g_max", low=0.0, low_open=True)
    R = 1e8
    w_max = g_max / R
    if 0.0105 * lr > 1:
        raise ValueError(f"learning_rate must keep A_minus = 0.0105 learning_rate <= 1; got {lr}")
    net = Network(dt, seed=seed, backend=backend)
    inputs = net.add(PoissonGroup(n_inputs, rate, name="inputs"))
    neuron = net.add(LIF(1, tau_m=10e-3, v_rest=-74e-3, v_th=-54e-3, v_reset=-60e-3, t_ref=0.0,
                         R=R, synapse="conductance", tau_e=5e-3, E_e=0.0, v0=-74e-3,
                         name="neuron"))
    gen = np.random.default_rng(net._child())
    W = gen.random((1, n_inputs)) * w_max
    W[W == 0] = w_max * 1e-6          # a zero weight would be no synapse
    rule = STDP(w_max=w_max, tau_plus=20e-3, tau_minus=20e-3, A_plus=0.01 * lr,
                A_minus=0.0105 * lr)
    W = net.connect(inputs, neuron, W, plasticity=rule)
    return net, W


def _balanced(net, exc, inh, n, p, we, wi):
    """Brian2's wiring of the Vogels-Abbott networks: each population's synapses onto every
    neuron with probability ``p`` (self-connections included), weights ``we``, ``wi``."""
    for src, w, ch in ((exc, we, "e"), (inh, wi, "i")):
        for dst in (exc, inh):
            net.connect(src, dst, p=p, weights=w, channel=ch, self_loops=True)


def coba(n=4000, *, p=None, dt=1e-4, seed=None, backend="cpu"):
    """Brette et al. (2007) benchmark 1, COBA: the Vogels and Abbott (2005) network with
    conductance synapses, as Brian2's and BrainPy's benchmark scripts define it.

    n neurons (80% excitatory "exc", 20% inhibitory "inh"), each population connected onto
    every neuron with probability ``p`` (default ``80 / n``, 0.02 at n = 4000); tau_m 20 ms,
    E_L -60 mV, threshold -50 mV, reset -60 mV, refractory 5 ms, a constant drive of 20 mV
    (R I with R = 100 Mohm), E_e 0 mV, E_i -80 mV, tau_e 5 ms, tau_i 10 ms, weights 0.6 and
    6.7 leak conductances (6 nS, 67 nS); v0 uniform in [-60, -50] mV. ``backend``: as
    :class:`Network`'s. Returns the Network.
    """
    n = checks.integer(n, "n", low=5)
    p = 80.0 / n if p is None else checks.scalar(p, "p", low=0.0, high=1.0)
    R = 1e8
    n_e = int(round(0.8 * n))
    kw = dict(tau_m=20e-3, v_rest=-60e-3, v_th=-50e-3, v_reset=-60e-3, t_ref=5e-3, R=R,
              synapse="conductance", tau_e=5e-3, tau_i=10e-3, E_e=0.0, E_i=-80e-3,
              I=20e-3 / R, v0=(-60e-3, -50e-3))
    net = Network(dt, seed=seed, backend=backend)
    exc = net.add(LIF(n_e, name="exc", **kw))
    inh = net.add(LIF(n - n_e, name="inh", **kw))
    _balanced(net, exc, inh, n, p, 0.6 / R, 6.7 / R)
    return net


def cobahh(n=4000, *, p=None, dt=1e-4, seed=None, backend="cpu"):
    """Brette et al. (2007) benchmark 3, COBAHH: Hodgkin-Huxley neurons (Traub-Miles) with
    conductance synapses, as Brian2's ``examples/COBAHH.py`` defines it.

    n neurons (80% excitatory), connection probability ``p`` (default ``80 / n``), membrane of
    20000 um^2 (:class:`HodgkinHuxley`'s defaults), we = 6 nS, wi = 67 nS, tau_e 5 ms, tau_i
    10 ms; initial v = E_L + N(-5, 5) mV, g_e = N(40, 15) nS, g_i = N(200, 120) nS, gates 0
    (Brian2 leaves them at zero). ``backend``: as :class:`Network`'s. Returns the built Network.
    """
    n = checks.integer(n, "n", low=5)
    p = 80.0 / n if p is None else checks.scalar(p, "p", low=0.0, high=1.0)
    n_e = int(round(0.8 * n))
    net = Network(dt, seed=seed, backend=backend)
    gen = np.random.default_rng(net._child())
    v0 = -60e-3 + (gen.standard_normal(n) * 5 - 5) * 1e-3
    kw = dict(m0=0.0, h0=0.0, n0=0.0)
    exc = net.add(HodgkinHuxley(n_e, v0=v0[:n_e], name="exc", **kw))
    inh = net.add(HodgkinHuxley(n - n_e, v0=v0[n_e:], name="inh", **kw))
    _balanced(net, exc, inh, n, p, 6e-9, 67e-9)
    net.store()                                   # builds it; the synapses' initial state:
    net.syn[0] = (gen.standard_normal(n) * 1.5 + 4) * 10e-9
    net.syn[1] = (gen.standard_normal(n) * 12 + 20) * 10e-9
    net.store()
    return net
