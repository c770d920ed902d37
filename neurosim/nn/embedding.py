"""Embedding: integer tokens to trainable vectors, as PyTorch's ``nn.Embedding``.

:func:`embedding` is the op (a row lookup whose backward adds each output's gradient into its
token's row); :class:`Embedding` the layer, exported by :mod:`neurosim.nn.layers`.
"""
import numpy as np

from .. import checks
from .init import initialiser
from .layers import Layer
from .tensor import Tensor, as_tensor, record


def token_indices(indices, count, name="indices"):
    """``indices`` (array, Tensor or nested lists of whole numbers) as an intp array, checked
    to lie in ``[0, count)``; a bad value or type is an error naming ``name``."""
    a = indices.data if isinstance(indices, Tensor) else np.asarray(indices)
    if a.dtype == bool or not (np.issubdtype(a.dtype, np.integer) or
                               np.issubdtype(a.dtype, np.floating)):
        raise TypeError(f"{name} must be integers (token ids); got dtype {a.dtype}")
    if np.issubdtype(a.dtype, np.floating):
        if not np.all(np.isfinite(a)) or not np.array_equal(a, np.round(a)):
            raise TypeError(f"{name} must be whole numbers (token ids); got non-integer "
                            "values")
    if a.size and (a.min() < 0 or a.max() >= count):
        raise ValueError(f"{name} must lie in [0, {count}) (num_embeddings {count}); got "
                         f"values from {a.min():.0f} to {a.max():.0f}")
    return a.astype(np.intp)


def embedding(indices, weight, padding_idx=None):
    """Rows of ``weight`` (num_embeddings, dim) at ``indices`` (any shape): (*shape, dim).

    The gradient of ``weight`` adds up each output's gradient in its token's row; the row
    ``padding_idx`` (if given) gets none, as in PyTorch.
    """
    weight = as_tensor(weight)
    if weight.ndim != 2:
        raise ValueError(f"weight must be (num_embeddings, dim); got shape {weight.shape}")
    idx = token_indices(indices, weight.shape[0])

    def backward(g):
        out = np.zeros_like(weight.data)
        np.add.at(out, idx.reshape(-1), g.reshape(-1, weight.shape[1]))
        if padding_idx is not None:
            out[padding_idx] = 0.0
        return (out,)
    return record(weight.data[idx], (weight,), backward)


class Embedding(Layer):
    """Token ids to vectors: (batch, ...) integers -> (batch, ..., dim), as PyTorch's
    ``nn.Embedding``.

    Parameters
    ----------
    num_embeddings : int
        Size of the vocabulary (ids lie in ``[0, num_embeddings)``).
    dim : int
        Length of each vector.
    padding_idx : int, optional
        A token whose vector starts at zero and is never trained (negative counts from the
        end, as PyTorch).
    init : str or callable
        Initialiser of the table; standard normal (PyTorch's) by default.

    The parameter ``W`` (num_embeddings, dim) is PyTorch's ``weight``. Inputs may be float
    arrays of whole numbers (a Sequential's inputs are floats).
    """

    def __init__(self, num_embeddings, dim, *, padding_idx=None, init=None):
        super().__init__()
        self.num_embeddings = checks.integer(num_embeddings, "num_embeddings", low=1)
        self.dim = checks.integer(dim, "dim", low=1)
        if padding_idx is not None:
            padding_idx = checks.integer(padding_idx, "padding_idx", low=-self.num_embeddings,
                                         high=self.num_embeddings - 1)
            padding_idx %= self.num_embeddings
        self.padding_idx = padding_idx
        self.init = init

    def _build(self, shape, generator, dtype):
        n, d = self.num_embeddings, self.dim
        table = generator.standard_normal((n, d)) if self.init is None else \
            initialiser(self.init)(generator, (n, d), n, d)
        if self.padding_idx is not None:
            table[self.padding_idx] = 0.0
        self.add_param("W", table, dtype)
        return shape + (d,)

    def __call__(self, x):
        if not self.built:
            raise ValueError(f"{self!r} is not built: call build(input_shape) or put it in a "
                             "Sequential")
        shape = np.shape(x.data if isinstance(x, Tensor) else x)
        if tuple(shape[1:]) != self.input_shape:
            raise ValueError(f"{self!r} expects indices of shape (batch, "
                             f"{', '.join(map(str, self.input_shape))}); got {shape}")
        return self.forward(x)

    def forward(self, x):
        return embedding(x, self.params["W"], self.padding_idx)

    def __repr__(self):
        pad = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"Embedding({self.num_embeddings}, {self.dim}{pad})"


__all__ = ["embedding", "token_indices", "Embedding"]
