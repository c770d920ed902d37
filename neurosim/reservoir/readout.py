"""Deprecated alias of :mod:`neurosim.readout`: the linear readouts (``Ridge``, ``RLS``) moved to
the shared floor, where the ESN, the ELM, the liquid state machine and the RBF network all use
them. ``neurosim.reservoir.readout`` gives the very same module, with a DeprecationWarning;
``from neurosim.reservoir import Ridge, RLS`` stays as it was (no warning).
"""
import sys
import warnings

from .. import readout as _readout

warnings.warn("neurosim.reservoir.readout moved to neurosim.readout; import Ridge and RLS from there "
              "(or from neurosim.reservoir); the old path is a deprecated alias", DeprecationWarning,
              stacklevel=2)
sys.modules[__name__] = _readout
