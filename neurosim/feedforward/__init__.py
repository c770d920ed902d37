"""Feed-forward families trained by gradient (or by their own rules) on ``neurosim.nn``."""
from .mlp import mlp  # noqa: F401
from .perceptron import Perceptron  # noqa: F401
from .rbf import RBF, RBFNetwork, kmeans  # noqa: F401
