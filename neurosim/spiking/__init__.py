"""Spiking networks and the liquid state machine (LSM).

Neuron groups (:class:`LIF`, :class:`Izhikevich`, :class:`AdEx`, :class:`HodgkinHuxley`, and
user models compiled into the kernel, :class:`CustomNeurons`; current or conductance
synapses), spike
sources (:class:`PoissonGroup`, :class:`SpikeGeneratorGroup`), a :class:`Network` that wires
them with :mod:`neurosim.connect` (delays included; synaptic plasticity :class:`STDP` and
:class:`STP` on any projection) and runs them clock-driven with
event-driven delivery (on the CPU, or a GPU with ``backend="cuda"``), the :func:`cuba`
benchmark network, and the :class:`LiquidStateMachine`. All quantities in SI units: s, V, A, S,
ohm, F.
"""
from ..record import NetCDFAppender  # noqa: F401  (moved to neurosim.record; kept importable)
from .inputs import PoissonGroup, SpikeGeneratorGroup  # noqa: F401
from .lsm import LiquidStateMachine, jitter_curve, ridge  # noqa: F401
from .network import Network, cuba, mean_rate, silent_fraction  # noqa: F401
from .custom import CustomNeurons  # noqa: F401
from .neurons import ADEX_PATTERNS, LIF, AdEx, HodgkinHuxley, Izhikevich  # noqa: F401
from .plasticity import STDP, STP  # noqa: F401

__all__ = ["LIF", "Izhikevich", "AdEx", "HodgkinHuxley", "CustomNeurons", "ADEX_PATTERNS",
           "STDP", "STP", "PoissonGroup", "SpikeGeneratorGroup", "Network",
           "cuba", "mean_rate", "silent_fraction", "NetCDFAppender", "LiquidStateMachine",
           "jitter_curve", "ridge"]
