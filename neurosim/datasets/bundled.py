"""Bundled data sets, loaded from ``neurosim/data`` (sources and licences in its README)."""
from importlib import resources

import numpy as np


def _bundled(name):
    with resources.files("neurosim").joinpath("data", name).open("rb") as f:
        with np.load(f, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}


def digits():
    """The UCI optical digits (CC BY 4.0): ``(X, y)`` with ``X`` float64 of shape (1797, 64),
    pixel values 0..16 (row-major 8x8 images), and ``y`` int64 labels 0..9 of shape (1797,)."""
    d = _bundled("digits.npz")
    return d["images"].reshape(-1, 64).astype(np.float64), d["labels"].astype(np.int64)
