"""The scalar kernels shared by the families, against SciPy."""
import numpy as np
import pytest
from scipy.special import expit

from neurosim.kernels.scalar import logistic, logistic_rows, logistic_rows32, softplus, softplus_rows


@pytest.mark.kernel
@pytest.mark.parametrize("n", [1, 7, 64, 1001])
def test_logistic_rows_matches_expit(n):
    g = np.random.default_rng(n)
    x = np.concatenate([g.normal(scale=30, size=n), [0.0, -0.0, 1e-300, 36.7, -36.7, 708.0, -700.0]])
    y = x.copy()
    logistic_rows(y, np.empty_like(y))
    want = expit(x)
    np.testing.assert_allclose(y, want, rtol=4e-15, atol=0)
    np.testing.assert_allclose(y, [logistic(v) for v in x], rtol=4e-15, atol=0)


@pytest.mark.kernel
def test_logistic_rows_saturates_without_overflow():
    x = np.array([np.inf, -np.inf, 1e4, -1e4, 750.0, -750.0])
    y = x.copy()
    logistic_rows(y, np.empty_like(y))
    np.testing.assert_array_equal(y, [1.0, 0.0, 1.0, 0.0, 1.0, 0.0])
    y = np.array([-708.0, -709.0])
    logistic_rows(y, np.empty(2))
    np.testing.assert_allclose(y[0], expit(-708.0), rtol=4e-15)
    assert y[1] == 0.0  # below e^-708 (about 3e-308): flushed to zero


@pytest.mark.kernel
@pytest.mark.parametrize("n", [1, 9, 1001])
def test_softplus_rows_matches_logaddexp(n):
    g = np.random.default_rng(n)
    x = np.concatenate([g.normal(scale=30, size=n), g.normal(size=n),
                        [0.0, -0.0, 1e-300, -1e-300, 1e-9, -1e-9, 36.7, -36.7, 700.0, -700.0]])
    y = np.empty_like(x)
    softplus_rows(x, y, np.empty_like(x))
    np.testing.assert_allclose(y, np.logaddexp(0.0, x), rtol=2e-15, atol=0)
    np.testing.assert_allclose(y, [softplus(v) for v in x], rtol=2e-15, atol=0)


@pytest.mark.kernel
def test_softplus_rows_at_the_extremes():
    x = np.array([np.inf, 1e4, 750.0, -750.0, -1e4, -np.inf])
    y = np.empty_like(x)
    softplus_rows(x, y, np.empty_like(x))
    np.testing.assert_array_equal(y[:3], x[:3])  # x + log1p(e^-x) rounds to x
    np.testing.assert_array_equal(y[3:], 0.0)  # the true values are below 1e-300


@pytest.mark.kernel
def test_float32_logistic_rows_against_exact():
    x = np.concatenate([np.linspace(-100, 100, 4001), [-1e30, 1e30, 0.0]]).astype(np.float32)
    y = x.copy()
    logistic_rows32(y, np.empty_like(y))
    with np.errstate(over="ignore"):
        exact = 1.0 / (1.0 + np.exp(-x.astype(np.float64)))
    np.testing.assert_allclose(y, exact, rtol=4e-7, atol=1e-37)
