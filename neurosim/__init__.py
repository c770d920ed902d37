"""neurosim: a Numba-accelerated simulator of the Neural Network Zoo.

Every run returns a labelled ``xarray.Dataset``; see the README for the API overview.
"""
__version__ = "0.1.0"

from . import backend, checks, connect, datasets, record, rng, viz  # noqa: E402,F401
from . import energy  # noqa: E402,F401
from .energy import HopfieldNetwork, ModernHopfield  # noqa: E402,F401
from . import metrics, reservoir  # noqa: E402,F401
from .reservoir import ELM, ESN  # noqa: E402,F401
from . import markov, som  # noqa: E402,F401
from .markov import ContinuousMarkovChain, MarkovChain  # noqa: E402,F401
from .som import SOM  # noqa: E402,F401
from . import spiking  # noqa: E402,F401
from .record import Monitor, load, save  # noqa: E402,F401
