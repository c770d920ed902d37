"""Preparing data for the gradient-trained families: one-hot targets, standardisation, splits."""
import math
import numbers

import numpy as np

from .. import checks, rng
from .bundled import digits


def one_hot(y, classes=None):
    """One-hot rows for integer class labels.

    Parameters
    ----------
    y : array_like, shape (n,)
        Labels 0 .. classes - 1 (integers, or floats with no fractional part).
    classes : int, optional
        Number of classes; ``max(y) + 1`` by default.

    Returns
    -------
    ndarray, float64, shape (n, classes)
        Row ``i`` is 1 in column ``y[i]`` and 0 elsewhere.
    """
    y = checks.array(y, "y", ndim=1, dtype=None)
    if np.any(y != np.round(y)):
        raise ValueError("y must hold integer class labels; it has values with fractional parts")
    labels = y.astype(np.int64)
    if labels.min() < 0:
        raise ValueError(f"y must hold labels >= 0; got {labels.min()}")
    classes = labels.max() + 1 if classes is None else checks.integer(classes, "classes", low=1)
    if labels.max() >= classes:
        raise ValueError(f"y must hold labels < classes = {classes}; got {labels.max()}")
    out = np.zeros((len(labels), classes))
    out[np.arange(len(labels)), labels] = 1.0
    return out


class Standardizer:
    """Feature-wise standardisation: ``(X - mean_) / scale_``, column by column.

    ``mean_`` and ``scale_`` (float64, shape (features,)) are the columns' mean and standard
    deviation in the data given to :meth:`fit`. A constant column gets ``scale_`` 1, so it is
    centred and never divided by zero (and a later value off the constant is not blown up).

    Examples
    --------
    >>> s = Standardizer().fit(X_train)
    >>> Z_train, Z_test = s.transform(X_train), s.transform(X_test)
    """

    def fit(self, X):
        """Learn ``mean_`` and ``scale_`` from ``X`` (float, shape (samples, features)); returns
        ``self``."""
        X = checks.array(X, "X", ndim=2)
        self.mean_ = X.mean(axis=0)
        self.scale_ = np.where(np.ptp(X, axis=0) == 0, 1.0, X.std(axis=0))
        return self

    def transform(self, X):
        """``(X - mean_) / scale_``: float64 of the shape of ``X`` (samples, features)."""
        return (self._check(X, "X") - self.mean_) / self.scale_

    def fit_transform(self, X):
        """:meth:`fit` then :meth:`transform` on the same ``X``."""
        return self.fit(X).transform(X)

    def inverse_transform(self, Z):
        """``Z * scale_ + mean_``: standardised data (samples, features) back in data units."""
        return self._check(Z, "Z") * self.scale_ + self.mean_

    def _check(self, X, name):
        if not hasattr(self, "mean_"):
            raise ValueError("the Standardizer is not fitted yet; call fit first")
        X = checks.array(X, name, ndim=2)
        if X.shape[1] != len(self.mean_):
            raise ValueError(f"{name} has shape {X.shape} but the Standardizer was fitted on "
                             f"shape (*, {len(self.mean_)}): the feature counts differ")
        return X


def train_test_split(X, y, test, *, shuffle=False, seed=None):
    """Split samples (rows) into a training set and a test set.

    Parameters
    ----------
    X : array_like, shape (n, ...)
        Samples.
    y : array_like, shape (n, ...)
        Targets, one per sample.
    test : int or float
        Size of the test set: a count in [1, n - 1], or a fraction in (0, 1) of ``n``
        (rounded up, as scikit-learn does).
    shuffle : bool
        False: the last ``test`` rows are the test set, order kept (the benchmark split,
        e.g. ``train_test_split(X, y, 297)`` on digits). True: rows are permuted with ``seed``
        first.
    seed : int, SeedSequence or None
        Seed of the permutation; used only with ``shuffle``.

    Returns
    -------
    X_train, X_test, y_train, y_test : ndarray
        Copies with ``n - test`` and ``test`` rows, dtypes kept.
    """
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim == 0 or y.ndim == 0 or len(X) != len(y):
        raise ValueError(f"X and y must have the same number of rows; got shapes {X.shape} and "
                         f"{y.shape}")
    n = len(X)
    if n < 2:
        raise ValueError(f"X must have at least 2 rows to split; got {n}")
    if isinstance(test, numbers.Integral) and not isinstance(test, bool):
        count = checks.integer(test, "test", low=1, high=n - 1)
    elif isinstance(test, numbers.Real) and not isinstance(test, bool):
        fraction = checks.scalar(test, "test", low=0, high=1, low_open=True, high_open=True)
        count = math.ceil(fraction * n)
        if count > n - 1:
            raise ValueError(f"test = {fraction} of {n} rows leaves no training rows")
    else:
        raise TypeError(f"test must be a count (int) or a fraction (float); got "
                        f"{type(test).__name__}")
    order = rng.generator(seed).permutation(n) if shuffle else np.arange(n)
    train, held = order[:n - count], order[n - count:]
    return X[train], X[held], y[train], y[held]


def digits_split():
    """The bundled digits as the workloads use them: pixels divided by 16 (so in [0, 1]),
    first 1500 images for training, last 297 for testing, no shuffling.

    Returns
    -------
    X_train : float64, shape (1500, 64)
    X_test : float64, shape (297, 64)
    y_train : int64, shape (1500,)
    y_test : int64, shape (297,)
    """
    X, y = digits()
    return train_test_split(X / 16.0, y, 297)
