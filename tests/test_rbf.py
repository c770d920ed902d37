"""Radial basis function networks (RBF): k-means against a plain NumPy Lloyd loop, function
interpolation (the interpolation theorem), digits, the RBF layer's gradients, and bad input."""
import numpy as np
import pytest

from neurosim import nn
from neurosim.datasets import digits
from neurosim.deep.rbf import (RBF, RBFNetwork, gaussian_rbf, kmeans, nearest_widths,
                               rbf_features)
from neurosim.kernels import feedforward as K
from neurosim.nn.layers import Dense, Sequential


def naive_lloyd(X, C, iterations, tol):
    """Lloyd's algorithm in NumPy, with the kernel's stopping rule and empty-cluster rule."""
    C = C.copy()
    for _ in range(iterations):
        labels = ((X[:, None, :] - C[None]) ** 2).sum(-1).argmin(axis=1)
        new = np.array([X[labels == j].mean(axis=0) if np.any(labels == j) else C[j]
                        for j in range(len(C))])
        shift = ((new - C) ** 2).sum()
        C = new
        if shift <= tol:
            break
    D = ((X[:, None, :] - C[None]) ** 2).sum(-1)
    return C, D.argmin(axis=1), D.min(axis=1).sum()


def blobs(seed, n=60):
    g = np.random.default_rng(seed)
    means = np.array([[0.0, 0.0], [5.0, 5.0], [-5.0, 5.0]])
    return np.concatenate([m + 0.3 * g.standard_normal((n, 2)) for m in means]), means


@pytest.mark.kernel
@pytest.mark.parametrize("k", [1, 4, 9])
def test_kmeans_matches_numpy_reference(k):
    X = np.random.default_rng(k).standard_normal((150, 3))
    init = X[:k] + 0.01  # poor centres: many iterations
    C, labels, inertia = kmeans(X, k, init=init, tol=0.0, iterations=50)
    C_ref, labels_ref, inertia_ref = naive_lloyd(X, init, 50, 0.0)
    np.testing.assert_allclose(C, C_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(labels, labels_ref)
    assert inertia == pytest.approx(inertia_ref, rel=1e-12)


def test_kmeans_finds_blob_centres():
    X, means = blobs(0)
    C, labels, inertia = kmeans(X, 3, seed=1)
    order = np.argsort(C[:, 0])  # blob means sorted by x: (-5, 5), (0, 0), (5, 5)
    np.testing.assert_allclose(C[order], means[[2, 0, 1]], atol=0.15)
    assert len(np.unique(labels[:60])) == 1 and len(np.unique(labels)) == 3
    assert inertia == pytest.approx(((X - C[labels]) ** 2).sum())


@pytest.mark.kernel
def test_lloyd_inertia_never_increases():
    g = np.random.default_rng(3)
    X = g.standard_normal((300, 4))
    C = X[:12].copy()
    labels = np.empty(300, np.int64)
    inertia = np.empty(101)
    done = K.lloyd(X, C, labels, inertia, 0.0)
    assert done > 5
    assert np.all(np.diff(inertia[:done]) <= 1e-12 * inertia[0])
    assert inertia[done - 1] < inertia[0]


@pytest.mark.kernel
def test_kmeans_plusplus_picks_distinct_rows():
    X = np.random.default_rng(0).standard_normal((30, 2))
    C = np.empty((30, 2))
    K.kmeans_plusplus(X, np.array([[1, 2]], dtype=np.uint64), C)
    rows = [int(np.flatnonzero((X == c).all(axis=1))[0]) for c in C]
    assert sorted(rows) == list(range(30))  # every row once: never a row already on a centre


def test_interpolates_sine():
    x = np.linspace(0, 2 * np.pi, 40)
    net = RBFNetwork(15, seed=0).fit(x[:, None], np.sin(x))
    between = np.linspace(0, 2 * np.pi, 1001)
    assert np.abs(net.predict(between[:, None]) - np.sin(between)).max() < 0.05
    assert net.predict(x[:, None]).shape == (40,)


def test_as_many_centres_as_points_interpolates_exactly():
    """Micchelli (1986): the Gaussian interpolation matrix of distinct points is positive
    definite, so one centre per point fits any targets exactly."""
    g = np.random.default_rng(1)
    X = g.uniform(-1, 1, (25, 2))
    Y = g.standard_normal((25, 2))
    net = RBFNetwork(25, ridge=1e-12, seed=0).fit(X, Y)
    assert sorted(map(tuple, net.centers_)) == sorted(map(tuple, X))
    np.testing.assert_allclose(net.predict(X), Y, atol=1e-6)


def test_digits_accuracy():
    X, y = digits()
    X = X / 16.0
    net = RBFNetwork(100, seed=0).fit(X[:1500], y[:1500])
    assert net.score(X[1500:], y[1500:]) > 0.9  # 0.929 measured (0.916-0.929 over seeds 0-7)
    assert net.predict(X[:5]).dtype == y.dtype and net.classes_.tolist() == list(range(10))


def test_nearest_widths():
    C = np.array([[0.0], [1.0], [3.0], [7.0]])
    np.testing.assert_allclose(nearest_widths(C), [2.0, 1.5, 2.5, 5.0])
    np.testing.assert_allclose(nearest_widths(C, neighbours=1), [1.0, 1.0, 2.0, 4.0])
    np.testing.assert_allclose(nearest_widths(C[:2], neighbours=5), [1.0, 1.0])
    F = rbf_features(np.array([[1.0]]), C, 2.0)
    np.testing.assert_allclose(F[0], np.exp(-np.array([1.0, 0.0, 4.0, 36.0]) / 8.0))


def test_rbf_layer_gradients():
    g = np.random.default_rng(0)
    x, c = g.standard_normal((5, 3)), g.standard_normal((4, 3))
    log_s = g.uniform(-0.5, 0.5, 4)
    assert nn.check_gradients(gaussian_rbf, x, c, log_s) < 1e-6
    out = gaussian_rbf(x, c, log_s).data
    np.testing.assert_allclose(out, rbf_features(x, c, np.exp(log_s)), rtol=1e-12)


def test_rbf_layer_trains_end_to_end():
    x = np.linspace(-2, 2, 64)[:, None]
    y = np.sin(2 * x)
    model = Sequential(RBF(12), Dense(1), seed=0)
    history = model.fit(x, y, loss="mse", lr=0.03, epochs=150, batch_size=16, seed=0)
    assert history.epoch_loss.values[-1] < 0.01 * history.epoch_loss.values[0]
    assert [n for n, _ in model.parameters()] == ["0.centers", "0.log_widths", "1.W", "1.b"]


def test_fine_tune_improves_a_poor_width():
    x = np.linspace(0, 2 * np.pi, 60)[:, None]
    y = np.sin(x[:, 0])
    net = RBFNetwork(6, width=0.3, seed=0).fit(x, y)
    before = np.mean((net.predict(x) - y) ** 2)
    net.fine_tune(x, y, epochs=100, lr=0.01, batch_size=15)
    assert np.mean((net.predict(x) - y) ** 2) < 0.05 * before
    with pytest.raises(ValueError, match="like the y given to fit"):
        net.fine_tune(x, np.zeros((60, 2)))


def test_reproducible_by_seed():
    X, _ = blobs(2)
    a, b, c = (kmeans(X, 8, seed=s)[0] for s in (3, 3, 4))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    n1, n2 = (RBFNetwork(8, seed=3).fit(X, X[:, 0]) for _ in range(2))
    np.testing.assert_array_equal(n1.weights_, n2.weights_)
    ds = n1.to_dataset()
    assert ds.attrs["family"] == "RBF" and ds.centers.dims == ("center", "feature")


def test_bad_input():
    X, _ = blobs(0, n=5)
    y = X[:, 0]
    with pytest.raises(ValueError, match=r"centers \(20\) must be at most the number of rows"):
        RBFNetwork(20).fit(X, y)
    with pytest.raises(ValueError, match="width"):
        RBFNetwork(3, width=-1.0)
    with pytest.raises(ValueError, match="finite"):
        RBFNetwork(3).fit(np.where(X > 4, np.nan, X), y)
    with pytest.raises(ValueError, match=r"y must have shape \(15,\)"):
        RBFNetwork(3).fit(X, y[:4])
    with pytest.raises(ValueError, match="not fitted"):
        RBFNetwork(3).predict(X)
    with pytest.raises(ValueError, match=r"X must have shape \(\*, 2\)"):
        RBFNetwork(3).fit(X, y).predict(np.ones((2, 3)))
    with pytest.raises(ValueError, match="k must be <= 15"):
        kmeans(X, 16)
    with pytest.raises(ValueError, match=r"init must have shape \(3, 2\)"):
        kmeans(X, 3, init=X[:2])
    with pytest.raises(ValueError, match="at least 2 centers"):
        nearest_widths(X[:1])
    with pytest.raises(ValueError, match="coincide"):
        nearest_widths(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="width must be > 0"):
        RBF(3, width=[1.0, 2.0])
    with pytest.raises(ValueError, match="flat inputs"):
        Sequential(RBF(3), input_shape=(2, 2))


@pytest.mark.parametrize("width, ridge", [(1.0, 1e-8), (3.0, 1e-8), (10.0, 1e-10), ("nearest", 0.0)])
def test_readout_is_the_least_squares_solution_on_ill_conditioned_features(width, ridge):
    """The read-out (neurosim.readout.Ridge) against least squares on the augmented system
    [H - mean; sqrt(ridge) I] W = [T - mean; 0] by scipy.linalg.lstsq, the backward-stable
    reference (the RBF network's own solve before the shared readout). Wide Gaussians make H
    ill-conditioned (cond 1e5 here); both solves are then accurate to about cond x eps in the
    weights, and far better in the fitted values, which the tolerances below allow."""
    import scipy.linalg

    g = np.random.default_rng(0)
    x = np.sort(g.uniform(-3, 3, (200, 1)), axis=0)
    T = np.column_stack([np.sin(2 * x[:, 0]), np.cos(x[:, 0])])
    T += 0.1 * g.standard_normal((200, 2))
    net = RBFNetwork(30, width=width, ridge=ridge, seed=0).fit(x, T)
    H = net.features(x)
    A = np.vstack([H - H.mean(axis=0), np.sqrt(ridge) * np.eye(30)])
    B = np.vstack([T - T.mean(axis=0), np.zeros((30, 2))])
    W = scipy.linalg.lstsq(A, B)[0]
    b = T.mean(axis=0) - H.mean(axis=0) @ W
    cond = np.linalg.cond(A)
    assert cond > 1e2 if width == "nearest" else cond > 1e4
    np.testing.assert_allclose(net.predict(x), H @ W + b, rtol=0, atol=1e-10 * np.abs(T).max())
    np.testing.assert_allclose(net.weights_, W, rtol=0, atol=100 * cond * 2.2e-16 * np.abs(W).max())
