"""Energy-based families: Hopfield networks (classical and modern) and their relatives."""
from .hopfield import HopfieldNetwork, ModernHopfield  # noqa: F401
