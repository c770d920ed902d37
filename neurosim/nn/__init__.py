"""Gradient-trained families on neurosim's own reverse-mode autodiff.

``Tensor`` records the op that made it; ``ops`` holds the differentiable ops; ``grad`` and
``value_and_grad`` differentiate users' own functions.
"""
from . import ops  # noqa: F401
from .gradcheck import check_gradients, numerical_gradient  # noqa: F401
from .tensor import Tensor, as_tensor, grad, no_grad, record, value_and_grad  # noqa: F401
from .data import ArrayBatches, DatasetBatches  # noqa: F401
