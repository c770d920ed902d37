"""The shared readouts (neurosim.readout): ridge regression against scipy's least squares on
ill-conditioned designs and against the regularised normal equations on tame ones; sample
weights, several outputs, no intercept, batches; recursive least squares with forgetting."""
import sys
import warnings

import numpy as np
import pytest
import scipy.linalg

from neurosim import config
from neurosim.readout import RLS, Ridge


def design(N, n, cond, offset=0.0, seed=0, outputs=2):
    """Rows X (N, n) with singular values (of the centred X / sqrt(N)) spread over ``cond``,
    plus a common offset; targets a noisy affine map of them."""
    g = np.random.default_rng(seed)
    U, _ = np.linalg.qr(g.normal(size=(N, n)))
    V, _ = np.linalg.qr(g.normal(size=(n, n)))
    X = (U * np.logspace(0, -np.log10(cond), n)) @ V.T * np.sqrt(N) + offset
    Y = X @ g.normal(size=(n, outputs)) + 0.01 * g.normal(size=(N, outputs)) + 3.0
    return X, Y


def reference(X, Y, ridge, w=None):
    """Ridge as least squares on the augmented system ``[s Xc; sqrt(ridge) I] W = [s Yc; 0]``
    (``s`` the square roots of the weights), by scipy.linalg.lstsq (SVD): (W (n, m), b (m,))."""
    w = np.ones(X.shape[0]) if w is None else w
    xm, ym = w @ X / w.sum(), w @ Y / w.sum()
    s = np.sqrt(w)[:, None]
    A = np.vstack([s * (X - xm), np.sqrt(ridge) * np.eye(X.shape[1])])
    B = np.vstack([s * (Y - ym), np.zeros((X.shape[1], Y.shape[1]))])
    W = scipy.linalg.lstsq(A, B)[0]
    return W, ym - xm @ W


def rel(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


# --- accuracy ---------------------------------------------------------------------------------
@pytest.mark.parametrize("cond, offset, ridge, method, tol", [
    (1e6, 0.0, 1e-12, "refined", 1e-8),
    (1e6, 100.0, 1e-12, "refined", 1e-8),     # offsets 100x the spread: centred by copies
    (1e4, 1000.0, 1e-8, "refined", 1e-10),
    (1e7, 0.0, 0.0, "refined", 1e-7),
    (1e8, 0.0, 1e-14, "qr", 1e-6),            # cond(A) eps ~ 1: the augmented system by QR
])
def test_ridge_matches_scipy_lstsq_on_ill_conditioned_designs(cond, offset, ridge, method, tol):
    """Weights within ``tol`` of scipy's least squares on the augmented system (both carry an
    error of about cond(X) eps, so ``tol`` is 100x that), outputs within 1e-11; the plain
    Cholesky solution of the normal equations misses by about cond(X)^2 eps (checked: 30x
    further off at least)."""
    X, Y = design(400, 30, cond, offset)
    W, b = reference(X, Y, ridge)
    r = Ridge(ridge).fit(X, Y)
    assert r.method_ == method
    assert rel(r.W.T, W) < tol and rel(r.b, b) < tol
    assert rel(r.predict(X), X @ W + b) < 1e-11
    if ridge > 0:
        normal = Ridge(ridge).partial_fit(X, Y).solve()   # no refinement: the old numerics
        assert rel(normal.W.T, W) > 30 * rel(r.W.T, W)


def test_ridge_on_an_esns_states_is_refined_to_the_rounding_floor():
    """An ESN's states with ridge 1e-7 (the benchmark's regime, scaled down): the normal
    equations alone are 6e-10 off the augmented least squares, the refined solve 1e-13."""
    from neurosim.datasets import timeseries as ts
    from neurosim.reservoir import ESN, EchoStateWarning

    x = ts.mackey_glass(2100).reshape(-1)
    x = 2 * (x - x.min()) / (x.max() - x.min()) - 1
    with pytest.warns(EchoStateWarning):
        X = ESN(100, leak=0.3, spectral_radius=1.25, seed=0).run_states(x[:2000])[100:]
    Y = x[101:2001].reshape(-1, 1)
    W, _ = reference(X, Y, 1e-7)
    r = Ridge(1e-7).fit(X, Y)
    normal = Ridge(1e-7).partial_fit(X, Y).solve()
    assert r.method_ == "refined" and rel(r.W.T, W) < 1e-11
    assert rel(normal.W.T, W) > 100 * rel(r.W.T, W)


def test_ridge_solves_the_regularised_normal_equations():
    g = np.random.default_rng(1)
    X = g.normal(size=(200, 5))
    Y = X @ g.normal(size=(5, 3)) + 5.0 + 0.1 * g.normal(size=(200, 3))
    r = Ridge(2.0).fit(X, Y)
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    Wt = np.linalg.solve(Xc.T @ Xc + 2.0 * np.eye(5), Xc.T @ Yc)
    np.testing.assert_allclose(r.W, Wt.T, rtol=1e-12)
    np.testing.assert_allclose(r.b, Y.mean(0) - X.mean(0) @ Wt, rtol=1e-12)
    # the gradient of the penalised loss vanishes; the bias is not penalised
    R = Y - r.predict(X)
    np.testing.assert_allclose(X.T @ R - 2.0 * r.W.T, 0, atol=1e-10)
    np.testing.assert_allclose(R.sum(0), 0, atol=1e-10)
    # one output as a 1-D target
    one = Ridge(2.0).fit(X, Y[:, 1])
    assert one.W.shape == (1, 5) and one.predict(X).shape == (200, 1)
    np.testing.assert_allclose(one.W[0], r.W[1], rtol=1e-12)


def test_ridge_zero_on_a_rank_deficient_design_gives_the_least_norm_solution():
    g = np.random.default_rng(2)
    X = g.normal(size=(50, 4))
    X = np.hstack([X, X[:, :1]])   # a repeated column
    Y = X @ np.array([1.0, 2.0, 0.0, -1.0, 1.0]) + 0.5
    r = Ridge(0.0).fit(X, Y)
    assert r.method_ == "svd"
    np.testing.assert_allclose(r.W[0, [0, 4]], [1.0, 1.0], rtol=1e-10)   # the weight split evenly
    np.testing.assert_allclose(r.predict(X)[:, 0], Y, atol=1e-10)


# --- options --------------------------------------------------------------------------------------
def test_sample_weights_equal_repeated_rows_and_weighted_least_squares():
    X, Y = design(120, 6, 1e3, offset=2.0, seed=4)
    counts = np.random.default_rng(5).integers(0, 4, size=120)
    a = Ridge(0.1).fit(X, Y, sample_weight=counts)
    b = Ridge(0.1).fit(np.repeat(X, counts, axis=0), np.repeat(Y, counts, axis=0))
    np.testing.assert_allclose(a.W, b.W, rtol=1e-10)
    np.testing.assert_allclose(a.b, b.b, rtol=1e-10)
    w = np.random.default_rng(6).uniform(0, 2, size=120)
    W, b0 = reference(X, Y, 0.1, w)
    c = Ridge(0.1).fit(X, Y, sample_weight=w)
    assert rel(c.W.T, W) < 1e-12 and rel(c.b, b0) < 1e-12
    # the streaming path weighs alike
    d = Ridge(0.1).partial_fit(X[:50], Y[:50], w[:50]).partial_fit(X[50:], Y[50:], w[50:]).solve()
    np.testing.assert_allclose(d.W, c.W, rtol=1e-9)


def test_without_intercept():
    X, Y = design(80, 4, 10.0, offset=1.0, seed=7)
    r = Ridge(0.5, intercept=False).fit(X, Y)
    assert np.all(r.b == 0)
    W = scipy.linalg.lstsq(np.vstack([X, np.sqrt(0.5) * np.eye(4)]), np.vstack([Y, np.zeros((4, 2))]))[0]
    np.testing.assert_allclose(r.W.T, W, rtol=1e-12)


def test_sequences_batches_and_block_size_give_the_same_fit(monkeypatch):
    X, Y = design(300, 8, 1e2, offset=0.5, seed=8)
    a = Ridge(1e-3).fit(X, Y)
    b = Ridge(1e-3).fit(X.reshape(3, 100, 8), Y.reshape(3, 100, 2))   # rows of 3 sequences
    c = Ridge(1e-3).partial_fit(X[:70], Y[:70]).partial_fit(X[70:], Y[70:]).solve()
    monkeypatch.setattr(config, "READOUT_BLOCK_BYTES", 8 * 8 * 7)        # blocks of 7 rows
    d = Ridge(1e-3).fit(X, Y)
    for other in (b, c, d):
        np.testing.assert_allclose(other.W, a.W, rtol=1e-10)
        np.testing.assert_allclose(other.b, a.b, rtol=1e-10)
    assert a.predict(X.reshape(3, 100, 8)).shape == (3, 100, 2)


def test_bad_input():
    with pytest.raises(ValueError, match="ridge"):
        Ridge(-1.0)
    X, Y = np.zeros((5, 3)), np.zeros((5, 1))
    with pytest.raises(ValueError, match="same number of rows"):
        Ridge().fit(X, Y[:4])
    with pytest.raises(ValueError, match="sample_weight"):
        Ridge().fit(X, Y, sample_weight=-np.ones(5))
    with pytest.raises(ValueError, match="sample_weight"):
        Ridge().fit(X, Y, sample_weight=np.zeros(5))
    with pytest.raises(ValueError, match="finite"):
        Ridge().fit(np.full((5, 3), np.nan), Y)
    with pytest.raises(ValueError, match="fit first"):
        Ridge().predict(X)
    with pytest.raises(ValueError, match="no samples"):
        Ridge().solve()
    r = Ridge().partial_fit(X, Y)
    with pytest.raises(ValueError, match="columns"):
        r.partial_fit(np.zeros((5, 4)), Y)
    with pytest.raises(ValueError, match="features"):
        Ridge().fit(np.random.default_rng(0).normal(size=(5, 3)), Y).predict(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="finite"), np.errstate(invalid="ignore", over="ignore"):
        Ridge(1.0)._fit_parts([np.full((5, 3), np.inf)], [np.zeros((5, 1))])


# --- recursive least squares --------------------------------------------------------------------
def test_rls_equals_penalised_least_squares():
    g = np.random.default_rng(0)
    X = g.normal(size=(80, 6))
    Y = X @ g.normal(size=(6, 2)) + 0.3 + 0.1 * g.normal(size=(80, 2))
    r = RLS(delta=0.5).fit(X[:30], Y[:30]).partial_fit(X[30:], Y[30:])
    A = np.hstack([X, np.ones((80, 1))])   # bias as a feature, penalised like the rest
    sol = np.linalg.solve(A.T @ A + 0.5 * np.eye(7), A.T @ Y)
    np.testing.assert_allclose(r.W, sol[:6].T, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(r.b, sol[6], rtol=1e-8, atol=1e-10)
    assert r.errors.shape == (50, 2)


def test_rls_with_forgetting_is_exponentially_weighted_ridge():
    """min sum_i f^(N-1-i) |e_i|^2 + delta f^N |w|^2 over [x, 1]: a weighted Ridge without
    intercept on the features with a column of ones."""
    g = np.random.default_rng(1)
    X = g.normal(size=(120, 4))
    Y = X @ g.normal(size=(4, 1)) + np.linspace(0, 2, 120)[:, None]   # drifting target
    f, delta = 0.97, 2.0
    r = RLS(delta=delta, forget=f).fit(X, Y)
    A = np.hstack([X, np.ones((120, 1))])
    ref = Ridge(delta * f ** 120, intercept=False).fit(A, Y, sample_weight=f ** np.arange(119, -1, -1))
    np.testing.assert_allclose(np.hstack([r.W, r.b[:, None]]), ref.W, rtol=1e-7)


def test_rls_bad_input():
    with pytest.raises(ValueError, match="delta"):
        RLS(delta=0.0)
    with pytest.raises(ValueError, match="forget"):
        RLS(forget=1.5)
    r = RLS().fit(np.zeros((3, 2)), np.zeros((3, 1)))
    with pytest.raises(ValueError, match="columns"):
        r.partial_fit(np.zeros((3, 3)), np.zeros((3, 1)))
    with pytest.raises(ValueError, match="fit first"):
        RLS().predict(np.zeros((3, 2)))


# --- where the readouts are used -------------------------------------------------------------
def test_one_readout_for_every_family():
    import neurosim.readout
    from neurosim import reservoir
    from neurosim.spiking import lsm

    assert reservoir.Ridge is Ridge and reservoir.RLS is RLS
    assert lsm.Ridge is Ridge
    fresh = "neurosim.reservoir.readout" not in sys.modules
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        import neurosim.reservoir.readout as old  # (the deprecated path)
    assert old is neurosim.readout
    if fresh:
        assert [w.category for w in caught] == [DeprecationWarning]
