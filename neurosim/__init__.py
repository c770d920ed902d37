"""neurosim: a Numba-accelerated simulator of the Neural Network Zoo.

Every run returns a labelled ``xarray.Dataset``; see the README for the API overview.
"""
__version__ = "0.1.0"

from . import backend, checks, connect, datasets, energy, markov, metrics, record, reservoir, rng, som, spiking, viz  # noqa: E402,F401,E501
from .energy import RBM, DBN, BoltzmannMachine, HopfieldNetwork, IsingAnnealer, ModernHopfield  # noqa: E402,F401
from .markov import ContinuousMarkovChain, MarkovChain  # noqa: E402,F401
from .record import Monitor, load, save  # noqa: E402,F401
from .reservoir import ELM, ESN  # noqa: E402,F401
from .som import SOM  # noqa: E402,F401
from .spiking import LiquidStateMachine, Network  # noqa: E402,F401
from .sweep import sweep  # noqa: E402,F401  (the function; the module stays importable by path)
