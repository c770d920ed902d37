"""Weight initialisers: ``init(generator, shape, fan_in, fan_out) -> array``.

Glorot (Xavier) keeps the activation variance of tanh/sigmoid layers, He that of ReLU layers;
``uniform`` is PyTorch's default for dense and convolutional layers, ``U(+-1/sqrt(fan_in))``.
"""
import numpy as np


def glorot_uniform(generator, shape, fan_in, fan_out):
    """``U(-a, a)`` with ``a = sqrt(6 / (fan_in + fan_out))``."""
    a = np.sqrt(6.0 / (fan_in + fan_out))
    return generator.uniform(-a, a, shape)


def glorot_normal(generator, shape, fan_in, fan_out):
    """``N(0, 2 / (fan_in + fan_out))``."""
    return generator.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), shape)


def he_uniform(generator, shape, fan_in, fan_out):
    """``U(-a, a)`` with ``a = sqrt(6 / fan_in)``."""
    a = np.sqrt(6.0 / fan_in)
    return generator.uniform(-a, a, shape)


def he_normal(generator, shape, fan_in, fan_out):
    """``N(0, 2 / fan_in)``."""
    return generator.normal(0.0, np.sqrt(2.0 / fan_in), shape)


def uniform(generator, shape, fan_in, fan_out):
    """``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``, PyTorch's default for weights and biases."""
    a = 1.0 / np.sqrt(fan_in)
    return generator.uniform(-a, a, shape)


def zeros(generator, shape, fan_in, fan_out):
    """All zeros."""
    return np.zeros(shape)


INITIALISERS = {f.__name__: f for f in (glorot_uniform, glorot_normal, he_uniform, he_normal,
                                        uniform, zeros)}


def initialiser(name):
    """The initialiser called ``name`` (one of :data:`INITIALISERS`), or ``name`` if callable."""
    if callable(name):
        return name
    if name not in INITIALISERS:
        raise ValueError(f"init must be one of {sorted(INITIALISERS)} or a callable; got {name!r}")
    return INITIALISERS[name]
