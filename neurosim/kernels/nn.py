"""Compiled element-wise kernels of the autodiff (forward and backward pairs) and the fused
softmax cross-entropy (the optimiser updates are in :mod:`.nn_optim`).

Element-wise kernels take arrays of any shape and work on their flattened, C-contiguous
copies; each ``*_backward(g, saved)`` gets the output gradient and what its forward saved
(the input or the output, as named).
"""
import math

import numpy as np
from numba import njit

from .scalar import logistic_rows, softplus_rows


def _flat(x):
    return np.ascontiguousarray(x).reshape(-1)


@njit(cache=True)
def _sigmoid(x, out):
    """In float64 SIMD lanes (:func:`~neurosim.kernels.scalar.logistic_rows`), rounded into
    ``out``'s dtype."""
    y = x.astype(np.float64)
    logistic_rows(y, np.empty(y.size))
    for i in range(x.size):
        out[i] = y[i]


@njit(cache=True)
def _sigmoid_backward(g, y, out):
    for i in range(g.size):
        out[i] = g[i] * y[i] * (1.0 - y[i])


@njit(cache=True)
def _tanh_backward(g, y, out):
    for i in range(g.size):
        out[i] = g[i] * (1.0 - y[i] * y[i])


@njit(cache=True)
def _relu(x, out):
    for i in range(x.size):
        out[i] = x[i] if x[i] > 0.0 else 0.0


@njit(cache=True)
def _relu_backward(g, x, out):
    for i in range(g.size):
        out[i] = g[i] if x[i] > 0.0 else 0.0


@njit(cache=True)
def _softplus(x, out):
    """In float64 SIMD lanes (:func:`~neurosim.kernels.scalar.softplus_rows`), rounded into
    ``out``'s dtype."""
    y = np.empty(x.size)
    softplus_rows(x.astype(np.float64), y, np.empty(x.size))
    for i in range(x.size):
        out[i] = y[i]


@njit(cache=True)
def _softplus_backward(g, x, out):
    y = x.astype(np.float64)
    logistic_rows(y, np.empty(y.size))
    for i in range(g.size):
        out[i] = g[i] * y[i]


def _unary(kernel):
    def forward(x):
        out = np.empty(x.shape, x.dtype)
        kernel(_flat(x), out.reshape(-1))
        return out
    forward.__doc__ = f"Element-wise {kernel.__name__.strip('_')} of an array of any shape."
    return forward


def _binary(kernel):
    def backward(g, saved):
        out = np.empty(saved.shape, saved.dtype)
        kernel(_flat(g).astype(saved.dtype, copy=False), _flat(saved), out.reshape(-1))
        return out
    backward.__doc__ = f"Element-wise {kernel.__name__.strip('_')}: input gradient from ``g``."
    return backward


sigmoid = _unary(_sigmoid)
relu = _unary(_relu)
softplus = _unary(_softplus)
sigmoid_backward = _binary(_sigmoid_backward)    # saved: the output
tanh_backward = _binary(_tanh_backward)          # saved: the output
relu_backward = _binary(_relu_backward)          # saved: the input
softplus_backward = _binary(_softplus_backward)  # saved: the input


@njit(cache=True)
def softmax_cross_entropy(logits, target):
    """Mean over rows of ``-sum(target * log softmax(logits))`` and the softmax itself.

    ``logits``, ``target`` (batch, classes). Returns ``(loss, probs)``.
    """
    n, k = logits.shape
    probs = np.empty_like(logits)
    total = 0.0
    for r in range(n):
        top = logits[r, 0]
        for c in range(1, k):
            top = max(top, logits[r, c])
        z = 0.0
        for c in range(k):
            e = math.exp(logits[r, c] - top)
            probs[r, c] = e
            z += e
        logz = math.log(z) + top
        for c in range(k):
            probs[r, c] /= z
            if target[r, c] != 0.0:
                total -= target[r, c] * (logits[r, c] - logz)
    return total / n, probs
