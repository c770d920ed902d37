"""The scalar kernels shared by the families, against SciPy."""
import numpy as np
import pytest
from scipy.special import expit

from neurosim.kernels.scalar import logistic, logistic_rows


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
    assert np.all(np.isfinite(y))
    np.testing.assert_array_equal(y[[0, 2, 4]], 1.0)
    assert np.all((y[[1, 3, 5]] >= 0) & (y[[1, 3, 5]] < 1e-307))  # e^-x clamped at e^708
