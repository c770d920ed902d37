"""Reservoir computing: echo state networks (ESN), extreme learning machines (ELM) and their
linear readouts (ridge regression, recursive least squares / FORCE)."""
from .esn import ESN, EchoStateWarning, echo_state_distance, memory_capacity  # noqa: F401
from .elm import ELM  # noqa: F401
from .readout import RLS, Ridge  # noqa: F401
