"""Scalar functions shared by the kernels (inlined where they are called)."""
import math

from numba import njit


@njit(cache=True, inline="always")
def logistic(x):
    """``1 / (1 + e^-x)``; for x < -709 ``e^-x`` overflows to inf and ``1 / inf = 0``, the limit."""
    return 1.0 / (1.0 + math.exp(-x))


@njit(cache=True, inline="always")
def softplus(x):
    """``log(1 + e^x)`` without overflow."""
    if x > 0.0:
        return x + math.log1p(math.exp(-x))
    return math.log1p(math.exp(x))
