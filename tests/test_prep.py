"""One-hot targets, standardisation and train/test splits."""
import numpy as np
import pytest

from neurosim.datasets import digits
from neurosim.datasets.prep import Standardizer, digits_split, one_hot, train_test_split


def test_one_hot_matches_eye():
    y = np.array([2, 0, 1, 2, 4])
    np.testing.assert_array_equal(one_hot(y), np.eye(5)[y])
    np.testing.assert_array_equal(one_hot(y, classes=7), np.eye(7)[y])
    np.testing.assert_array_equal(one_hot([1.0, 0.0, 3.0]), np.eye(4)[[1, 0, 3]])
    assert one_hot(np.array([1], np.uint8)).dtype == np.float64


@pytest.mark.parametrize("y, classes, message", [
    ([0, -1, 2], None, "labels >= 0; got -1"),
    ([0, 3, 2], 3, "labels < classes = 3; got 3"),
    ([0, 1.5], None, "fractional"),
    ([[0, 1]], None, "1-D"),
    ([0, np.nan], None, "finite"),
    ([], None, "empty"),
    ([0, 1], 0, "classes must be >= 1"),
])
def test_one_hot_errors(y, classes, message):
    with pytest.raises(ValueError, match=message):
        one_hot(y, classes)


def test_standardizer_matches_numpy():
    X = np.random.default_rng(0).normal(3.0, 2.0, (50, 4))
    s = Standardizer().fit(X)
    np.testing.assert_allclose(s.mean_, np.mean(X, axis=0))
    np.testing.assert_allclose(s.scale_, np.std(X, axis=0))
    Z = s.transform(X)
    np.testing.assert_allclose(Z, (X - np.mean(X, axis=0)) / np.std(X, axis=0))
    np.testing.assert_allclose(Z.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(Z.std(axis=0), 1.0)
    np.testing.assert_allclose(Standardizer().fit_transform(X), Z)
    np.testing.assert_allclose(s.inverse_transform(Z), X)


def test_standardizer_constant_column():
    X = np.array([[0.1, 1.0], [0.1, 2.0], [0.1, 4.0]])
    s = Standardizer().fit(X)
    assert s.scale_[0] == 1.0
    Z = s.transform(np.array([[0.1, 1.0], [0.6, 1.0]]))
    assert np.all(np.isfinite(Z))
    np.testing.assert_allclose(Z[:, 0], [0.0, 0.5], atol=1e-15)    # centred, not scaled


def test_standardizer_errors():
    with pytest.raises(ValueError, match="not fitted"):
        Standardizer().transform(np.ones((2, 2)))
    s = Standardizer().fit(np.ones((4, 3)))
    with pytest.raises(ValueError, match=r"shape \(4, 2\).*shape \(\*, 3\)"):
        s.transform(np.ones((4, 2)))
    with pytest.raises(ValueError, match=r"Z has shape \(1, 4\)"):
        s.inverse_transform(np.ones((1, 4)))
    with pytest.raises(ValueError, match="NaN"):
        s.transform(np.array([[0.0, np.nan, 1.0]]))
    with pytest.raises(ValueError, match="NaN"):
        Standardizer().fit(np.array([[0.0], [np.nan]]))
    with pytest.raises(ValueError, match="2-D"):
        Standardizer().fit(np.ones(3))


def _data(n=10):
    return np.arange(2 * n).reshape(n, 2), np.arange(n) * 10


def test_split_without_shuffle_keeps_order():
    X, y = _data()
    X_train, X_test, y_train, y_test = train_test_split(X, y, 3, seed=5)   # seed unused
    np.testing.assert_array_equal(X_train, X[:7])
    np.testing.assert_array_equal(X_test, X[7:])
    np.testing.assert_array_equal(y_train, y[:7])
    np.testing.assert_array_equal(y_test, y[7:])
    assert y_test.dtype == y.dtype
    X_test[:] = -1
    assert X.min() == 0                                  # copies, not views


@pytest.mark.parametrize("test, count", [(1, 1), (9, 9), (0.25, 3), (0.2, 2), (0.01, 1)])
def test_split_counts(test, count):
    X, y = _data()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test)
    assert len(X_test) == len(y_test) == count
    assert len(X_train) == len(y_train) == 10 - count


def test_split_shuffle_reproducible_and_paired():
    X, y = _data(50)
    a = train_test_split(X, y, 0.3, shuffle=True, seed=1)
    b = train_test_split(X, y, 0.3, shuffle=True, seed=1)
    c = train_test_split(X, y, 0.3, shuffle=True, seed=2)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[1], c[1])
    X_train, X_test, y_train, y_test = a
    assert len(X_test) == 15
    np.testing.assert_array_equal(np.sort(np.concatenate([y_train, y_test])), y)
    np.testing.assert_array_equal(X_train[:, 0] * 5, y_train)          # rows stay paired
    np.testing.assert_array_equal(X_test[:, 0] * 5, y_test)
    assert not np.array_equal(y_test, y[-15:])


@pytest.mark.parametrize("test, error, message", [
    (0, ValueError, ">= 1"),
    (10, ValueError, "<= 9"),
    (0.0, ValueError, "> 0"),
    (1.0, ValueError, "< 1"),
    (0.95, ValueError, "no training rows"),
    (True, TypeError, "count"),
    ("3", TypeError, "count"),
])
def test_split_bad_sizes(test, error, message):
    X, y = _data()
    with pytest.raises(error, match=message):
        train_test_split(X, y, test)


def test_split_bad_shapes():
    X, y = _data()
    with pytest.raises(ValueError, match=r"same number of rows.*\(10, 2\).*\(9,\)"):
        train_test_split(X, y[:9], 2)
    with pytest.raises(ValueError, match="at least 2 rows"):
        train_test_split(X[:1], y[:1], 1)


def test_digits_split():
    X, y = digits()
    X_train, X_test, y_train, y_test = digits_split()
    assert X_train.shape == (1500, 64) and X_test.shape == (297, 64)
    assert X_train.dtype == np.float64 and y_train.dtype == np.int64
    assert X_train.min() == 0.0 and max(X_train.max(), X_test.max()) == 1.0
    np.testing.assert_array_equal(X_test, X[1500:] / 16)
    np.testing.assert_array_equal(y_train, y[:1500])
    np.testing.assert_array_equal(y_test, y[1500:])
