"""neurosim: a Numba-accelerated simulator of the Neural Network Zoo.

Every run returns a labelled ``xarray.Dataset``; see the README for the API overview.

The package is lazy (PEP 562): ``import neurosim`` loads nothing heavy; a family module, or a
class re-exported here (``from neurosim import HopfieldNetwork``), is imported on first access.
So a script that only runs a spiking network does not pay for SciPy's statistics, Dask or
matplotlib.
"""
import importlib
import importlib.util

__version__ = "0.1.0"

# submodules reachable as attributes (any other submodule is too, imported on first access)
_SUBMODULES = ("backend", "checks", "connect", "datasets", "deep", "energy", "markov", "metrics",
               "nn", "record", "reservoir", "rng", "som", "spiking", "sweeps", "viz")
# re-exported names -> the module that defines them
_EXPORTS = {
    "RBM": "energy", "DBN": "energy", "BoltzmannMachine": "energy",
    "HopfieldNetwork": "energy", "IsingAnnealer": "energy", "ModernHopfield": "energy",
    "Autoencoder": "deep", "CapsNet": "deep", "DCIGN": "deep", "DenoisingAutoencoder": "deep",
    "GAN": "deep", "NTM": "deep", "Perceptron": "deep", "RBFNetwork": "deep",
    "SparseAutoencoder": "deep", "VariationalAutoencoder": "deep",
    "ContinuousMarkovChain": "markov", "MarkovChain": "markov",
    "Monitor": "record", "load": "record", "save": "record",
    "ELM": "reservoir", "ESN": "reservoir",
    "SOM": "som",
    "LiquidStateMachine": "spiking", "Network": "spiking",
    "sweep": "sweeps",  # the function (its package is neurosim.sweeps)
}

__all__ = sorted(set(_SUBMODULES) | set(_EXPORTS))


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    elif name in _SUBMODULES or (not name.startswith("_")
                                 and importlib.util.find_spec(f"{__name__}.{name}") is not None):
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
