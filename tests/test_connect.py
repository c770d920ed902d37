"""Connectivity builders, checked against their definitions and naive references."""
import numpy as np
import pytest
import scipy.sparse as sp

from neurosim import connect
from neurosim.kernels import connect as kconnect


def dense(W):
    return W.toarray() if sp.issparse(W) else np.asarray(W)


def is_canonical_csr(W):
    """csr_array, sorted indices, no duplicates, no explicit zeros."""
    if not isinstance(W, sp.csr_array):
        return False
    A = W.copy()
    A.sort_indices()
    sorted_ok = np.array_equal(A.indices, W.indices)
    A.sum_duplicates()
    return sorted_ok and A.nnz == W.nnz and np.all(W.data != 0)


# ------------------------------------------------------------------------------- complete

def test_complete_all_to_all_without_diagonal():
    W = connect.complete(5)
    assert isinstance(W, np.ndarray) and W.dtype == np.float64 and W.shape == (5, 5)
    np.testing.assert_array_equal(W, np.ones((5, 5)) - np.eye(5))
    np.testing.assert_array_equal(connect.complete(4, self_loops=True), np.ones((4, 4)))
    S = connect.complete(5, sparse=True, weights=2.5)
    assert is_canonical_csr(S) and S.nnz == 20
    np.testing.assert_array_equal(S.toarray(), 2.5 * W)


def test_complete_weight_array_is_row_major():
    w = np.arange(1.0, 7.0)
    W = connect.complete(3, weights=w)
    np.testing.assert_array_equal(W, [[0, 1, 2], [3, 0, 4], [5, 6, 0]])
    M = np.arange(9.0).reshape(3, 3) + 1
    np.testing.assert_array_equal(connect.complete(3, weights=M), M * (1 - np.eye(3)))


def test_weight_distributions_reproducible_and_shaped():
    a = connect.complete(40, weights="normal", loc=1.0, scale=0.5, seed=3, sparse=True)
    b = connect.complete(40, weights="normal", loc=1.0, scale=0.5, seed=3, sparse=False)
    np.testing.assert_array_equal(a.toarray(), b)
    assert abs(a.data.mean() - 1.0) < 0.05 and abs(a.data.std() - 0.5) < 0.05
    u = connect.complete(40, weights="uniform", loc=-1.0, scale=2.0, seed=3, sparse=True).data
    assert u.min() >= -1.0 and u.max() < 1.0 and abs(u.mean()) < 0.05
    ln = connect.complete(40, weights="lognormal", loc=0.0, scale=0.25, seed=3, sparse=True).data
    assert np.all(ln > 0) and abs(np.log(ln).std() - 0.25) < 0.02
    c = connect.complete(40, weights="normal", seed=4)
    assert not np.array_equal(c, connect.complete(40, weights="normal", seed=3))


# ----------------------------------------------------------------------- bipartite, layered

def test_bipartite_full_and_probability():
    np.testing.assert_array_equal(connect.bipartite(3, 4), np.ones((3, 4)))
    n_post, n_pre, p = 200, 300, 0.2
    W = connect.bipartite(n_post, n_pre, p=p, seed=1, sparse=True)
    assert is_canonical_csr(W) and W.shape == (n_post, n_pre)
    n = n_post * n_pre
    assert abs(W.nnz - n * p) < 5 * np.sqrt(n * p * (1 - p))
    np.testing.assert_array_equal(connect.bipartite(n_post, n_pre, p=p, seed=1), W.toarray())


def naive_layered(sizes):
    n = sum(sizes)
    W = np.zeros((n, n))
    start = np.cumsum([0] + list(sizes))
    for l in range(len(sizes) - 1):
        for i in range(start[l + 1], start[l + 2]):
            for j in range(start[l], start[l + 1]):
                W[i, j] = 1.0
    return W


def test_layered_blocks_against_naive():
    sizes = [3, 4, 2, 5]
    F = connect.layered(sizes)
    np.testing.assert_array_equal(F, naive_layered(sizes))
    S = connect.layered(sizes, symmetric=True, sparse=True)
    assert is_canonical_csr(S)
    np.testing.assert_array_equal(S.toarray(), F + F.T)


def test_layered_symmetric_weights_and_sparse_probability():
    W = connect.layered([20, 30, 10], p=0.5, symmetric=True, weights="normal", seed=2)
    np.testing.assert_array_equal(W, W.T)
    F = connect.layered([20, 30, 10], p=0.5, weights="normal", seed=2)
    np.testing.assert_array_equal(W, F + F.T)
    assert np.all(F[np.triu_indices(60)] == 0)  # feed-forward: only below the diagonal
    assert 0.35 < np.count_nonzero(F) / (20 * 30 + 30 * 10) < 0.65


# -------------------------------------------------------------------------- convolutional

def naive_conv(in_shape, k, s, p):
    """Loops over every output and kernel position; in_shape and the rest are per-axis tuples."""
    if len(in_shape) == 1:
        in_shape, k, s, p = (1,) + in_shape, (1,) + k, (1,) + s, (0,) + p
    H, Wd = in_shape
    oh = (H + 2 * p[0] - k[0]) // s[0] + 1
    ow = (Wd + 2 * p[1] - k[1]) // s[1] + 1
    M = np.zeros((oh * ow, H * Wd))
    P = np.full((oh * ow, H * Wd), -1)
    for oy in range(oh):
        for ox in range(ow):
            for ky in range(k[0]):
                for kx in range(k[1]):
                    y, x = oy * s[0] - p[0] + ky, ox * s[1] - p[1] + kx
                    if 0 <= y < H and 0 <= x < Wd:
                        M[oy * ow + ox, y * Wd + x] = 1
                        P[oy * ow + ox, y * Wd + x] = ky * k[1] + kx
    return M, P, (oh, ow)


@pytest.mark.parametrize("in_shape,k,s,p", [
    ((10,), (3,), (1,), (0,)),
    ((11,), (4,), (2,), (1,)),
    ((6, 7), (3, 3), (1, 1), (0, 0)),
    ((6, 7), (3, 2), (2, 1), (1, 1)),
    ((5, 5), (5, 5), (1, 1), (2, 2)),
    ((9, 4), (2, 3), (3, 2), (0, 1)),
])
def test_convolutional_against_naive_loop(in_shape, k, s, p):
    W, out, pos = connect.convolutional(in_shape, k, stride=s, padding=p, return_positions=True)
    M, P, (oh, ow) = naive_conv(in_shape, k, s, p)
    assert out == ((ow,) if len(in_shape) == 1 else (oh, ow))
    assert is_canonical_csr(W)
    np.testing.assert_array_equal(W.toarray(), M)
    np.testing.assert_array_equal(pos, P[M == 1])  # row-major synapse order
    Wd, out_d = connect.convolutional(in_shape, k, stride=s, padding=p, sparse=False)
    assert out_d == out and isinstance(Wd, np.ndarray)
    np.testing.assert_array_equal(Wd, M)


def test_convolutional_shared_kernel_is_cross_correlation():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 8))
    K = rng.normal(size=(3, 3))
    W, out, pos = connect.convolutional((6, 8), 3, padding=1, return_positions=True)
    Wk = W.copy()
    Wk.data = K.ravel()[pos]
    xp = np.pad(x, 1)
    ref = np.array([[np.sum(xp[i:i + 3, j:j + 3] * K) for j in range(8)] for i in range(6)])
    np.testing.assert_allclose((Wk @ x.ravel()).reshape(out), ref, atol=1e-12)
    assert connect.convolutional(12, 5)[1] == (8,)


# ---------------------------------------------------------------------------------- random

def naive_sample_rows(counts, n_pre, skip_diag, u):
    """Partial Fisher-Yates with a fresh pool per row, in plain Python."""
    rows, start = [], 0
    for i, k in enumerate(counts):
        pool = [j for j in range(n_pre) if not (skip_diag and i < n_pre and j == i)]
        m = len(pool)
        for t in range(k):
            j = min(t + int(u[start + t] * (m - t)), m - 1)
            pool[t], pool[j] = pool[j], pool[t]
        rows.append(sorted(pool[:k]))
        start += k
    return rows


@pytest.mark.kernel
@pytest.mark.parametrize("n_post,n_pre,skip", [(7, 7, True), (9, 5, False), (5, 9, True)])
def test_sample_rows_kernel_against_naive(n_post, n_pre, skip):
    rng = np.random.default_rng(5)
    top = n_pre - 1 if skip else n_pre
    counts = rng.integers(0, top + 1, n_post)
    if skip and n_post > n_pre:
        counts[n_pre:] = rng.integers(0, n_pre + 1, n_post - n_pre)
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    u = rng.random(indptr[-1])
    u[:3] = [0.0, 0.999999999999, 0.5]
    indices = np.empty(indptr[-1], dtype=np.int64)
    kconnect.sample_rows(counts.astype(np.int64), n_pre, skip, u, indptr, indices)
    ref = naive_sample_rows(counts, n_pre, skip, u)
    for i in range(n_post):
        assert list(indices[indptr[i]:indptr[i + 1]]) == ref[i]


def test_random_fixed_in_degree():
    W = connect.random(300, k=17, seed=0)
    assert is_canonical_csr(W) and W.shape == (300, 300)
    np.testing.assert_array_equal(np.diff(W.indptr), 17)
    assert W.diagonal().sum() == 0
    # every presynaptic neuron equally likely: out-degrees ~ 17 on average, spread binomial
    out_deg = np.bincount(W.indices, minlength=300)
    assert out_deg.mean() == 17 and abs(out_deg.var() - 17 * (1 - 1 / 299)) < 5
    R = connect.random(40, 60, k=60, seed=1)  # rectangular: every input, no exclusion
    assert R.nnz == 40 * 60
    S = connect.random(30, k=30, self_loops=True, seed=1)
    assert S.nnz == 900


def test_random_probability_binomial():
    n, p = 400, 0.05
    W = connect.random(n, p=p, seed=7)
    assert is_canonical_csr(W) and W.diagonal().sum() == 0
    pairs_ = n * (n - 1)
    assert abs(W.nnz - pairs_ * p) < 5 * np.sqrt(pairs_ * p * (1 - p))
    deg = np.diff(W.indptr)
    assert abs(deg.var() - (n - 1) * p * (1 - p)) < 0.25 * (n - 1) * p * (1 - p)
    # the diagonal-free pool is uniform: frequency of each offset (j - i) mod n is flat
    rows = np.repeat(np.arange(n), deg)
    offset = np.bincount((W.indices - rows) % n, minlength=n)
    assert offset[0] == 0 and abs(offset[1:].mean() - n * p) < 1e-9 + 0.2 * n * p
    assert connect.random(50, p=0.0, seed=0).nnz == 0
    assert connect.random(50, p=1.0, seed=0).nnz == 50 * 49


def test_random_pair_marginals_match_p():
    """Each single pair is present with probability p (checked over many seeds)."""
    n, p, reps = 6, 0.3, 600
    freq = np.zeros((n, n))
    for s in range(reps):
        freq += connect.random(n, p=p, seed=s, sparse=False) != 0
    freq /= reps
    off = ~np.eye(n, dtype=bool)
    assert np.all(freq[~off] == 0)
    assert np.all(np.abs(freq[off] - p) < 5 * np.sqrt(p * (1 - p) / reps))


def test_random_same_seed_same_matrix():
    a = connect.random(100, 80, p=0.1, weights="normal", seed=11)
    b = connect.random(100, 80, p=0.1, weights="normal", seed=11)
    c = connect.random(100, 80, p=0.1, weights="normal", seed=12)
    assert (a != b).nnz == 0 and (a != c).nnz > 0
    d = connect.random(100, 80, p=0.1, weights="normal", seed=11, sparse=False)
    np.testing.assert_array_equal(d, a.toarray())
    ss = np.random.SeedSequence(3)
    assert connect.random(20, k=3, seed=ss).nnz == 60


# ---------------------------------------------------------------------------------- pairs

def test_pairs_round_trip_and_weight_order():
    post = np.array([2, 0, 1, 2])
    pre = np.array([0, 3, 1, 2])
    w = np.array([1.5, -2.0, 3.0, 4.0])
    W = connect.pairs(post, pre, (3, 4), weights=w)
    assert is_canonical_csr(W)
    ref = np.zeros((3, 4))
    ref[post, pre] = w
    np.testing.assert_array_equal(W.toarray(), ref)
    np.testing.assert_array_equal(connect.pairs(post, pre, (3, 4), sparse=False), ref != 0)
    with pytest.raises(ValueError, match="more than once"):
        connect.pairs([1, 0, 1], [2, 2, 2], (3, 3))
    with pytest.raises(ValueError, match=r"pre indices must lie in \[0, 3\]"):
        connect.pairs([0], [4], (3, 4))
    with pytest.raises(ValueError, match="same length"):
        connect.pairs([0, 1], [0], (3, 4))
    with pytest.raises(TypeError, match="integer"):
        connect.pairs([0.5], [0], (3, 4))
    with pytest.raises(ValueError, match="one value per listed pair"):
        connect.pairs(post, pre, (3, 4), weights=w[:2])


# ------------------------------------------------------------------------ distance, grid

def test_grid_positions():
    P = connect.grid((15, 3, 3))
    assert P.shape == (135, 3) and P.dtype == np.int64
    np.testing.assert_array_equal(P[0], [0, 0, 0])
    np.testing.assert_array_equal(P[1], [0, 0, 1])
    np.testing.assert_array_equal(P[-1], [14, 2, 2])
    assert len({tuple(r) for r in P}) == 135
    np.testing.assert_array_equal(connect.grid(4), [[0], [1], [2], [3]])


def test_distance_probability_follows_gaussian_profile():
    P = connect.grid((15, 3, 3))
    C, lam = 0.6, 2.0
    d = np.sqrt(((P[:, None, :] - P[None, :, :]) ** 2).sum(-1))
    prob = C * np.exp(-(d / lam) ** 2)
    np.fill_diagonal(prob, 0.0)
    counts = np.zeros_like(prob)
    reps = 40
    for s in range(reps):
        counts += connect.distance(P, C=C, lam=lam, seed=s, sparse=False) != 0
    assert np.all(np.diag(counts) == 0)
    for dist in (1.0, np.sqrt(2), 2.0, 3.0):  # pooled over all pairs at that distance
        sel = np.isclose(d, dist)
        n = sel.sum() * reps
        q = prob[sel][0]
        assert abs(counts[sel].sum() - n * q) < 5 * np.sqrt(n * q * (1 - q)) + 1
    far = d > 8
    assert counts[far].sum() == 0  # C exp(-16) * pairs * reps << 1


def test_distance_pair_dependent_C_and_rectangular():
    rng = np.random.default_rng(0)
    pos_post, pos_pre = rng.random((30, 2)), rng.random((20, 2))
    is_exc = np.arange(20) < 10
    C = np.where(is_exc, 1.0, 0.0)[None, :]  # only excitatory inputs, broadcast over posts
    W = connect.distance(pos_post, pos_pre, C=C, lam=1e6, seed=0, sparse=False)
    assert W.shape == (30, 20)
    np.testing.assert_array_equal(W[:, ~is_exc], 0)
    np.testing.assert_array_equal(W[:, is_exc], 1)  # p = 1 * exp(~0) for huge lam
    assert connect.distance(pos_post, C=0.0, seed=0).nnz == 0


# ---------------------------------------------------------------------- delays, outgoing

def test_delays_in_range_and_aligned():
    W = connect.random(120, p=0.1, weights="normal", seed=0)
    dt, low, high = 1e-4, 0.8e-3, 2.0e-3
    D = connect.delays(W, low=low, high=high, dt=dt, seed=0)
    assert isinstance(D, sp.csr_array) and D.dtype == np.int64
    np.testing.assert_array_equal(D.indptr, W.indptr)
    np.testing.assert_array_equal(D.indices, W.indices)
    assert D.data.min() >= round(low / dt) and D.data.max() <= round(high / dt)
    assert len(np.unique(D.data)) == round(high / dt) - round(low / dt) + 1
    C = connect.delays(W.toarray(), low=1.5e-3, dt=dt)
    np.testing.assert_array_equal(C.indices, W.indices)
    np.testing.assert_array_equal(C.data, 15)
    Z = connect.delays(W, low=0.0, dt=dt)  # zero delays are stored explicitly
    assert Z.nnz == W.nnz and np.all(Z.data == 0)
    same = connect.delays(W, low=low, high=high, dt=dt, seed=0)
    np.testing.assert_array_equal(same.data, D.data)


def test_outgoing_round_trips_to_W():
    W = connect.random(50, 70, p=0.2, weights="normal", seed=3)
    D = connect.delays(W, low=0.0, high=5e-3, dt=1e-3, seed=3)
    indptr, targets, weights, dl = connect.outgoing(W, D)
    assert indptr.dtype == targets.dtype == dl.dtype == np.int64 and weights.dtype == np.float64
    assert indptr.shape == (71,) and indptr[-1] == W.nnz
    Wr = np.zeros((50, 70))
    Dr = np.full((50, 70), -1)
    for j in range(70):
        sl = slice(indptr[j], indptr[j + 1])
        assert np.all(np.diff(targets[sl]) > 0)
        Wr[targets[sl], j] = weights[sl]
        Dr[targets[sl], j] = dl[sl]
    np.testing.assert_array_equal(Wr, W.toarray())
    np.testing.assert_array_equal(Dr[Wr != 0], D.toarray()[Wr != 0])
    # dense W and dense D give the same answer
    out2 = connect.outgoing(W.toarray(), D.toarray())
    for a, b in zip(out2, (indptr, targets, weights, dl)):
        np.testing.assert_array_equal(a, b)
    assert len(connect.outgoing(W)) == 3
    with pytest.raises(ValueError, match="sparsity pattern"):
        connect.outgoing(W, connect.delays(connect.random(50, 70, p=0.2, seed=4), low=0, dt=1))


# ------------------------------------------------------------------------ spectral radius

def test_spectral_radius_against_numpy(monkeypatch):
    monkeypatch.setattr(connect, "_DENSE_EIG_MAX", 50)  # small matrices take the ARPACK path
    rng = np.random.default_rng(0)
    A = rng.normal(size=(60, 60))
    assert np.isclose(connect.spectral_radius(A), np.abs(np.linalg.eigvals(A)).max())
    S = connect.random(150, p=0.1, weights="normal", seed=1)  # ARPACK
    ref = np.abs(np.linalg.eigvals(S.toarray())).max()
    assert np.isclose(connect.spectral_radius(S), ref, rtol=1e-8)
    Sym = connect.layered([60, 90], symmetric=True, weights="uniform", seed=0, sparse=True)
    ref = np.abs(np.linalg.eigvalsh(Sym.toarray())).max()
    assert np.isclose(connect.spectral_radius(Sym), ref, rtol=1e-8)
    assert connect.spectral_radius(np.zeros((4, 4))) == 0.0
    assert connect.spectral_radius(connect.random(80, p=0.0, seed=0)) == 0.0
    E = np.diag([0.5, -2.0, 1.0]) + np.diag([3.0, 3.0], 1)  # triangular: eigenvalues on diagonal
    assert np.isclose(connect.spectral_radius(E), 2.0)


def test_spectral_radius_of_a_sparse_reservoir_is_the_largest_eigenvalue():
    # asked for one eigenvalue, ARPACK stopped at one 6e-5 inside the largest here (a disk of
    # eigenvalues, the outermost barely apart): spectral_radius asks for eight
    A = connect.random(400, p=0.2, self_loops=True, weights="normal", seed=3)
    ref = np.abs(np.linalg.eigvals(A.toarray())).max()
    assert abs(connect.spectral_radius(A) - ref) < 1e-11 * ref


def test_spectral_radius_of_a_dense_matrix_is_the_dense_solver_s():
    # ARPACK on a dense random matrix (a disk of eigenvalues) is slow and can stop at one
    # inside the largest: dense matrices take eigvals, whose answer this is to the last bit
    A = connect.random(300, p=0.5, weights="normal", seed=2)
    assert connect.spectral_radius(A) == np.abs(np.linalg.eigvals(A.toarray())).max()


# ---------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("call,exc,msg", [
    (lambda: connect.complete(-1), ValueError, "n must be >= 1"),
    (lambda: connect.complete(2.5), TypeError, "n must be an integer"),
    (lambda: connect.random(10, p=1.5), ValueError, "p must be <= 1"),
    (lambda: connect.random(10, p=-0.1), ValueError, "p must be >= 0"),
    (lambda: connect.random(10, p=float("nan")), ValueError, "p must be finite"),
    (lambda: connect.random(10, k=10), ValueError, "k must be <= 9"),
    (lambda: connect.random(10, 5, k=6), ValueError, "k must be <= 5"),
    (lambda: connect.random(10, p=0.1, k=2), ValueError, "exactly one of p"),
    (lambda: connect.random(10), ValueError, "exactly one of p"),
    (lambda: connect.random(0, k=1), ValueError, "n_post must be >= 1"),
    (lambda: connect.random(10, k=-1), ValueError, "k must be >= 0"),
    (lambda: connect.random(10, k=2, seed=-3), ValueError, "seed"),
    (lambda: connect.random(10, k=2, weights="cauchy"), ValueError, "weights must be one of"),
    (lambda: connect.random(10, k=2, weights="normal", scale=-1), ValueError, "scale"),
    (lambda: connect.random(10, k=2, weights=np.ones(19)), ValueError, r"shape \(20,\)"),
    (lambda: connect.random(10, k=2, weights=True), TypeError, "weights"),
    (lambda: connect.complete(3, weights=np.array([1, np.nan, 1, 1, 1, 1.0])), ValueError,
     "weights must be finite"),
    (lambda: connect.complete(3, weights=float("inf")), ValueError, "weights must be finite"),
    (lambda: connect.bipartite(3, 4, p=2), ValueError, "p must be <= 1"),
    (lambda: connect.layered([3]), ValueError, "at least 2 layers"),
    (lambda: connect.layered([3, 0]), ValueError, r"sizes\[1\] must be >= 1"),
    (lambda: connect.layered(5), TypeError, "sizes must be a sequence"),
    (lambda: connect.convolutional((4, 4, 4), 3), ValueError, "in_shape"),
    (lambda: connect.convolutional((4, 4), (3, 3, 3)), ValueError, "kernel_size"),
    (lambda: connect.convolutional(4, 5), ValueError, "larger than the padded input"),
    (lambda: connect.convolutional(4, 3, stride=0), ValueError, "stride must be >= 1"),
    (lambda: connect.convolutional(4, 3, padding=3), ValueError, "padding must be smaller"),
    (lambda: connect.pairs([0], [0], (3,)), ValueError, "shape must be"),
    (lambda: connect.pairs([[0]], [[0]], (3, 3)), ValueError, "post must be 1-D"),
    (lambda: connect.distance(np.ones(5)), ValueError, "pos_post must be 2-D"),
    (lambda: connect.distance(np.ones((5, 3)), np.ones((4, 2))), ValueError, "coordinates"),
    (lambda: connect.distance(np.ones((5, 3)), lam=0), ValueError, "lam must be > 0"),
    (lambda: connect.distance(np.ones((5, 3)), C=1.2), ValueError, "C must be <= 1"),
    (lambda: connect.distance(np.ones((5, 3)), C=np.ones((2, 2))), ValueError, "broadcastable"),
    (lambda: connect.distance(np.ones((5, 3)), C=-np.ones(5)), ValueError, r"\[0, 1\]"),
    (lambda: connect.distance([[0.0, np.nan]]), ValueError, "pos_post must be finite"),
    (lambda: connect.grid((2, 2, 2, 2)), ValueError, "1 to 3"),
    (lambda: connect.grid((2, -1)), ValueError, r"shape\[1\] must be >= 1"),
    (lambda: connect.delays(np.ones((3, 3)), low=-1, dt=1), ValueError, "low must be >= 0"),
    (lambda: connect.delays(np.ones((3, 3)), low=2, high=1, dt=1), ValueError, "high must be >="),
    (lambda: connect.delays(np.ones((3, 3)), low=1, dt=0), ValueError, "dt must be > 0"),
    (lambda: connect.delays(np.ones(3), low=1, dt=1), ValueError, "W must be 2-D"),
    (lambda: connect.outgoing(np.ones((2, 3)), np.ones((3, 2))), ValueError, r"D must have shape"),
    (lambda: connect.outgoing(np.ones((2, 2)), 0.5 * np.ones((2, 2))), ValueError,
     "whole numbers"),
    (lambda: connect.outgoing(np.ones((2, 2)), -np.ones((2, 2))), ValueError, ">= 0 steps"),
    (lambda: connect.spectral_radius(np.ones((3, 4))), ValueError, "W must be square"),
    (lambda: connect.spectral_radius(np.array([[1.0, np.nan], [0, 1]])), ValueError,
     "W must be finite"),
    (lambda: connect.spectral_radius(sp.csr_array(np.array([[1.0, np.inf], [0, 1]]))),
     ValueError, "W must be finite"),
    (lambda: connect.spectral_radius([["a"]]), TypeError, "W must be numeric"),
])
def test_bad_input_raises_clear_errors(call, exc, msg):
    with pytest.raises(exc, match=msg):
        call()


@pytest.mark.kernel
def test_heapsort_sorts_like_numpy():
    from neurosim.kernels.connect import heapsort
    g = np.random.default_rng(3)
    for n in (0, 1, 2, 7, 64, 513):
        a = g.integers(-50, 50, n)
        b = a.copy()
        heapsort(b)
        np.testing.assert_array_equal(b, np.sort(a))
