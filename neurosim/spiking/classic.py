"""Classic networks of the literature, built as their reference implementations define them.

- :func:`song2000`: STDP onto one neuron from Poisson inputs (Song, Miller and Abbott 2000), as
  Brian2's ``examples/synapses/STDP.py`` sets it up.

(The CUBA network of Vogels and Abbott 2005 is :func:`neurosim.spiking.cuba`.)
"""
import numpy as np

from .. import checks
from .inputs import PoissonGroup
from .network import Network
from .neurons import LIF
from .plasticity import STDP


def song2000(n_inputs=1000, *, rate=15.0, learning_rate=1.0, dt=1e-4, seed=None):
    """Song, Miller and Abbott (2000): ``n_inputs`` Poisson inputs at ``rate`` Hz onto one
    conductance-based LIF neuron through additive, all-to-all STDP synapses.

    Brian2's parameters: tau_m 10 ms, E_L -74 mV, threshold -54 mV, reset -60 mV, no refractory
    period, excitatory conductance decaying with 5 ms, reversal 0 mV; w_max = 0.01 in units of
    the leak conductance (here R = 100 Mohm, so 0.1 nS), initial weights uniform in
    [0, w_max); tau_plus = tau_minus = 20 ms, A_plus = 0.01, A_minus = 1.05 A_plus (fractions
    of w_max), each times ``learning_rate`` (> 1 to reach the final distribution in a shorter
    run). Returns ``(network, W)`` with ``W`` the plastic projection (read it with
    ``network.weights(W)``); the neuron is group "neuron", the inputs "inputs". After tens of
    seconds (100 s in Brian2's example) the weights are bimodal: piled up at 0 and at w_max.
    """
    n_inputs = checks.integer(n_inputs, "n_inputs", low=1)
    rate = checks.scalar(rate, "rate", low=0.0)
    lr = checks.scalar(learning_rate, "learning_rate", low=0.0, low_open=True)
    R = 1e8
    w_max = 0.01 / R
    if 0.0105 * lr > 1:
        raise ValueError(f"learning_rate must keep A_minus = 0.0105 learning_rate <= 1; got {lr}")
    net = Network(dt, seed=seed)
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
