"""Feed-forward families trained by gradient (or by their own rules) on ``neurosim.nn``."""
from .mlp import mlp  # noqa: F401
