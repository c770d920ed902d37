"""Reservoir computing: echo state networks (ESN; ``ESNBatch`` runs many of them, a sweep over
seeds and hyper-parameters, at once) and extreme learning machines (ELM). Their linear
readouts (ridge regression, recursive least squares / FORCE) live on the shared floor,
:mod:`neurosim.readout`, and are re-exported here."""
from ..readout import RLS, Ridge  # noqa: F401
from .batch import ESNBatch  # noqa: F401
from .elm import ELM  # noqa: F401
from .esn import ESN, EchoStateWarning, echo_state_distance, memory_capacity  # noqa: F401
