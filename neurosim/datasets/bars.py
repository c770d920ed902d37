"""Bars and stripes: the classic toy distribution for Boltzmann machines (MacKay, 2003)."""
import itertools

import numpy as np

from .. import checks, rng


def bars_and_stripes(size=4, n=None, seed=None):
    """Bars-and-stripes images of ``size`` x ``size`` binary pixels, rows flattened.

    Each image has every row equal (horizontal bars: each row on or off) or every column equal
    (vertical stripes). The all-off and all-on images are both, so there are
    ``2 ** (size + 1) - 2`` distinct images, and the uniform distribution over them has
    log-likelihood ``-log(2 ** (size + 1) - 2)`` per image (the optimum for a model).

    ``n=None`` returns the distinct images once each (sorted); an int ``n`` draws ``n``
    images uniformly from them with ``seed``. float64 (count, size * size) of 0/1.
    """
    size = checks.integer(size, "size", low=1, high=8)
    lines = np.array(list(itertools.product([0.0, 1.0], repeat=size)))
    bars = np.repeat(lines, size, axis=1)            # row r has value lines[:, r]
    stripes = np.tile(lines, (1, size))             # column c has value lines[:, c]
    X = np.unique(np.concatenate([bars, stripes]), axis=0)
    if n is None:
        return X
    n = checks.integer(n, "n", low=1)
    return X[rng.generator(seed).integers(0, X.shape[0], n)]
