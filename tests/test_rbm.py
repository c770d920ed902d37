"""Restricted Boltzmann machines (neurosim.energy.rbm, neurosim.kernels.rbm)."""
import itertools
import math

import numpy as np
import pytest
import xarray as xr
from interrupt import interrupted_run
from scipy import stats
from scipy.special import expit, logsumexp

from neurosim import record, rng
from neurosim.datasets import digits
from neurosim.datasets.bars import bars_and_stripes
from neurosim.energy.rbm import RBM
from neurosim.kernels import rbm as K
from neurosim.kernels import rng as krng


def binary(n):
    return np.array(list(itertools.product([0.0, 1.0], repeat=n)))


def random_rbm(nv, nh, seed, scale=1.0, visible="bernoulli", sigma=1.0):
    g = np.random.default_rng(seed)
    r = RBM(nv, nh, visible=visible, sigma=sigma, seed=seed)
    r.W = g.normal(0, scale, (nv, nh))
    r.visible_bias = g.normal(0, scale, nv)
    r.hidden_bias = g.normal(0, scale, nh)
    return r


def brute_log_z(r):
    V, H = binary(r.n_visible), binary(r.n_hidden)
    E = -(V @ r.visible_bias)[:, None] - (H @ r.hidden_bias)[None, :] - V @ r.W @ H.T
    return logsumexp(-E)


# ------------------------------------------------------------------ naive reference of fit_epoch

def naive_epoch(W, b, c, dW, db, dc, X, order, batch, k, persistent, chain_h, lr, mom, decay,
                target, cost, gaussian, sigma, states):
    """Plain NumPy CD-k / PCD epoch drawing the same numbers in the same order as the kernel."""
    W, b, c, dW, db, dc, chain_h = (a.copy() for a in (W, b, c, dW, db, dc, chain_h))
    s = sigma if gaussian else 1.0
    u = lambda r: krng.uniform(states, r)
    for start in range(0, len(order), batch):
        v = X[order[start:start + batch]]
        B = len(v)
        hp = expit((v / s) @ W + c)
        if persistent:
            hs = chain_h[:B].copy()
        else:
            hs = np.array([[1.0 if u(r) < hp[r, j] else 0.0 for j in range(hp.shape[1])] for r in range(B)])
        for step in range(k):
            mean = hs @ W.T
            vn = np.empty_like(v)
            for r in range(B):
                for i in range(v.shape[1]):
                    if gaussian:
                        vn[r, i] = b[i] + s * mean[r, i] + s * krng.normal(states, r)
                    else:
                        vn[r, i] = 1.0 if u(r) < expit(mean[r, i] + b[i]) else 0.0
            hn = expit((vn / s) @ W + c)
            if step < k - 1:
                hs = np.array([[1.0 if u(r) < hn[r, j] else 0.0 for j in range(hn.shape[1])] for r in range(B)])
        if persistent:
            chain_h[:B] = [[1.0 if u(r) < hn[r, j] else 0.0 for j in range(hn.shape[1])] for r in range(B)]
        gW = ((v / s).T @ hp - (vn / s).T @ hn) / B
        gb = (v - vn).mean(0) / s ** 2
        gc = (hp - hn).mean(0) + (cost * (target - hp.mean(0)) if cost > 0 else 0.0)
        dW = mom * dW + lr * (gW - decay * W)
        db = mom * db + lr * gb
        dc = mom * dc + lr * gc
        W, b, c = W + dW, b + db, c + dc
    return W, b, c, chain_h


@pytest.mark.kernel
@pytest.mark.parametrize("persistent,k,gaussian", [(False, 1, False), (False, 3, False), (True, 1, False),
                                                    (True, 2, True), (False, 1, True)])
def test_fit_epoch_matches_naive(persistent, k, gaussian):
    g = np.random.default_rng(0)
    nv, nh, m, batch = 6, 4, 13, 5
    X = g.normal(size=(m, nv)) if gaussian else (g.random((m, nv)) < 0.4).astype(float)
    W = g.normal(0, 0.5, (nv, nh))
    b, c = g.normal(size=nv), g.normal(size=nh)
    dW, db, dc = g.normal(0, 0.1, (nv, nh)), g.normal(0, 0.1, nv), g.normal(0, 0.1, nh)
    chain_h = (g.random((batch, nh)) < 0.5).astype(float)
    order = g.permutation(m).astype(np.int64)
    args = (X, order, batch, k, persistent)
    hyper = (0.1, 0.5, 0.01, 0.2, 0.3, gaussian, 1.7)
    ref = naive_epoch(W, b, c, dW, db, dc, *args, chain_h, *hyper, rng.streams(3, batch))
    W2, b2, c2, ch2 = W.copy(), b.copy(), c.copy(), chain_h.copy()
    K.fit_epoch(W2, b2, c2, dW.copy(), db.copy(), dc.copy(), *args, ch2, *hyper, rng.streams(3, batch))
    for got, want in zip((W2, b2, c2, ch2), ref):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------------ energies and partition functions

def test_free_energy_by_summing_hidden_states():
    r = random_rbm(5, 4, 1)
    V, H = binary(5), binary(4)
    E = -(V @ r.visible_bias)[:, None] - (H @ r.hidden_bias)[None, :] - V @ r.W @ H.T
    np.testing.assert_allclose(r.free_energy(V), -logsumexp(-E, axis=1), rtol=1e-12)


@pytest.mark.kernel
@pytest.mark.parametrize("nv,nh", [(6, 9), (9, 6), (7, 7)])
def test_exact_log_z_bernoulli(nv, nh):
    r = random_rbm(nv, nh, nv * 10 + nh)
    assert r.log_partition("exact") == pytest.approx(brute_log_z(r), rel=1e-12)
    # the likelihood sums to one over all visible states
    assert logsumexp(r.log_likelihood(binary(nv))) == pytest.approx(0.0, abs=1e-10)


@pytest.mark.kernel
def test_exact_log_z_gaussian_against_quadrature():
    r = random_rbm(2, 3, 5, scale=0.6, visible="gaussian", sigma=0.8)
    x = np.linspace(-12, 12, 1201)
    V = np.stack(np.meshgrid(x, x, indexing="ij"), -1).reshape(-1, 2)
    dens = np.exp(-r.free_energy(V)).reshape(1201, 1201)
    z = np.trapezoid(np.trapezoid(dens, x, axis=1), x)
    assert r.log_partition() == pytest.approx(math.log(z), abs=1e-6)


@pytest.mark.kernel
def test_ais_matches_exact():
    r = random_rbm(14, 30, 2, scale=0.5)
    exact = r.log_partition("exact")  # enumerates the 14 visible units
    est, err = r.ais(chains=200, betas=2000)
    assert abs(est - exact) < max(0.1, 4 * err)
    assert err < 0.1


@pytest.mark.kernel
def test_pseudo_likelihood_against_free_energies():
    r = random_rbm(7, 5, 3)
    V = np.random.default_rng(0).random((6, 7))  # fractional values as scikit-learn allows
    F = r.free_energy(V)
    want = np.zeros(6)
    for i in range(7):
        Vf = V.copy()
        Vf[:, i] = 1 - Vf[:, i]
        want += -np.logaddexp(0, -(r.free_energy(Vf) - F))
    np.testing.assert_allclose(r.pseudo_likelihood(V), want, rtol=1e-12)


def test_conditionals_and_features():
    r = random_rbm(4, 3, 4)
    V = binary(4)
    np.testing.assert_allclose(r.transform(V), expit(V @ r.W + r.hidden_bias))
    H = binary(3)
    np.testing.assert_allclose(r.visible_means(H), expit(H @ r.W.T + r.visible_bias))
    rg = random_rbm(4, 3, 4, visible="gaussian", sigma=2.0)
    np.testing.assert_allclose(rg.visible_means(H), rg.visible_bias + 2.0 * H @ rg.W.T)
    assert r.reconstruction_error(V) == pytest.approx(np.mean((V - r.visible_means(r.transform(V))) ** 2))


# ------------------------------------------------------------------ sampling

@pytest.mark.kernel
def test_gibbs_samples_follow_the_model():
    r = random_rbm(4, 3, 7, scale=0.8)
    p = np.exp(r.log_likelihood(binary(4)))
    ds = r.sample(steps=200, chains=400, every=10)
    v = ds.v.values[:, 2:, :].reshape(-1, 4)  # drop the first 20 steps
    idx = (v @ (1 << np.arange(3, -1, -1))).astype(int)
    counts = np.bincount(idx, minlength=16)
    # samples 10 steps apart in one chain are nearly independent for this small model
    assert stats.chisquare(counts, p * counts.sum()).pvalue > 1e-3
    # the test can fail: a model with other biases is rejected
    q = np.exp(random_rbm(4, 3, 8, scale=0.8).log_likelihood(binary(4)))
    assert stats.chisquare(counts, q * counts.sum()).pvalue < 1e-6


def test_sampling_reproducible_and_annealed():
    r = random_rbm(5, 3, 1)
    a = RBM.from_dataset(r.to_dataset()).sample(steps=30, chains=3)
    b = RBM.from_dataset(r.to_dataset()).sample(steps=30, chains=3)
    np.testing.assert_array_equal(a.v.values, b.v.values)
    ds = r.sample(steps=40, chains=2, every=4, betas=np.linspace(0.1, 1.0, 40))
    assert ds.v.shape == (2, 10, 5) and ds.beta.values[-1] == 1.0
    assert set(np.unique(ds.v.values)) <= {0.0, 1.0}


# ------------------------------------------------------------------ learning

def test_bars_and_stripes_likelihood_approaches_optimum():
    X = bars_and_stripes(3)
    opt = -math.log(len(X))  # -2.64
    r = RBM(9, 16, seed=0, init_scale=0.1)
    before = r.log_likelihood(X).mean()
    r.fit(np.tile(X, (20, 1)), epochs=100, batch_size=10, learning_rate=0.05, method="cd", k=5, momentum=0.5)
    after = r.log_likelihood(X).mean()
    assert before < opt - 3
    assert after > opt - 0.5
    assert r.history.pseudo_likelihood.values[-1] > r.history.pseudo_likelihood.values[0]


def test_gaussian_rbm_learns_two_clusters():
    g = np.random.default_rng(0)
    centres = np.array([[2.0, -2.0, 2.0], [-2.0, 2.0, -2.0]])
    X = centres[g.integers(0, 2, 400)] + 0.3 * g.standard_normal((400, 3))
    r = RBM(3, 4, visible="gaussian", sigma=0.3, seed=1)
    before = r.log_likelihood(X).mean()
    r.fit(X, epochs=30, batch_size=20, learning_rate=0.01, momentum=0.5, method="cd", k=1)
    after = r.log_likelihood(X).mean()
    assert after > before + 5
    assert np.all(np.diff(r.history.reconstruction_error.values[[0, -1]]) < 0)


def softmax_fit_accuracy(F_train, y_train, F_test, y_test):
    from neurosim.energy.dbn import SoftmaxRegression
    return SoftmaxRegression(F_train.shape[1], 10, l2=1e-4).fit(F_train, y_train).score(F_test, y_test)


@pytest.mark.slow
def test_digits_features_classify_well_above_chance():
    X, y = digits()
    X = X / 16
    r = RBM(64, 100, seed=0).fit(X[:1200], epochs=10, learning_rate=0.02, momentum=0.9, batch_size=10)
    acc = softmax_fit_accuracy(r.transform(X[:1200]), y[:1200], r.transform(X[1200:]), y[1200:])
    assert acc > 0.85  # chance is 0.10


def test_save_load_roundtrip(tmp_path):
    r = random_rbm(5, 3, 0, visible="gaussian", sigma=0.5)
    back = RBM.load(r.save(tmp_path / "rbm.nc"))
    np.testing.assert_array_equal(back.W, r.W)
    assert back.visible == "gaussian" and back.sigma == 0.5
    np.testing.assert_allclose(back.free_energy(np.ones(5)), r.free_energy(np.ones(5)))


def test_bad_input():
    r = RBM(4, 3, seed=0)
    with pytest.raises(ValueError, match="binary"):
        r.fit(np.full((5, 4), 2.0))
    with pytest.raises(ValueError, match="4 columns"):
        r.fit(np.zeros((5, 3)))
    with pytest.raises(ValueError, match="finite"):
        r.transform(np.array([0.0, np.nan, 1.0, 0.0]))
    with pytest.raises(ValueError, match="method"):
        r.fit(np.zeros((5, 4)), method="ml")
    with pytest.raises(ValueError, match="learning_rate must be > 0"):
        r.fit(np.zeros((5, 4)), learning_rate=0.0)
    with pytest.raises(ValueError, match="visible"):
        RBM(4, 3, visible="poisson")
    with pytest.raises(ValueError, match="sigma must be > 0"):
        RBM(4, 3, visible="gaussian", sigma=0.0)
    with pytest.raises(ValueError, match="n_hidden must be >= 1"):
        RBM(4, 0)
    with pytest.raises(ValueError, match=r"betas must lie in \(0, 1\]"):
        r.sample(steps=3, betas=[1.0, 0.0, 1.0])
    with pytest.raises(ValueError, match="Bernoulli"):
        RBM(4, 3, visible="gaussian").pseudo_likelihood(np.zeros(4))
    with pytest.raises(ValueError, match="at most"):
        RBM(30, 30).log_partition("exact")
    with pytest.raises(ValueError, match="rise from 0 to 1"):
        r.ais(betas=[1.0, 0.0])


def test_parallel_kernels_do_not_depend_on_thread_count():
    import numba
    r = random_rbm(6, 5, 9)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        a = RBM.from_dataset(r.to_dataset()).sample(steps=20, chains=7).v.values
        za = RBM.from_dataset(r.to_dataset()).ais(chains=7, betas=50)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        b = RBM.from_dataset(r.to_dataset()).sample(steps=20, chains=7).v.values
        zb = RBM.from_dataset(r.to_dataset()).ais(chains=7, betas=50)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(a, b)
    assert za == zb


# ------------------------------------------------------------------ runs: chunks, streaming, Ctrl+C, files

def small_rbm():
    X = bars_and_stripes(3, n=40, seed=0)
    return RBM(9, 5, seed=0, init_scale=0.1), X


def test_sampling_in_chunks_gives_the_one_chunk_result(monkeypatch):
    from neurosim import config
    r = random_rbm(5, 4, 2)
    whole = RBM.from_dataset(r.to_dataset()).sample(steps=43, chains=3, every=4, betas=np.linspace(0.2, 1, 43))
    monkeypatch.setattr(config, "CHUNK_WORK", 3 * 5 * 4 * 10)     # 10 steps, rounded down to 8
    chunked = RBM.from_dataset(r.to_dataset()).sample(steps=43, chains=3, every=4, betas=np.linspace(0.2, 1, 43))
    xr.testing.assert_identical(chunked, whole)
    assert chunked.step.values.tolist() == list(range(4, 44, 4))


def test_fit_streams_to_disk(tmp_path):
    r, X = small_rbm()
    mem = RBM(9, 5, seed=0, init_scale=0.1).fit(X, epochs=4, batch_size=8).history
    with r.fit(X, epochs=4, batch_size=8, store=tmp_path / "fit.nc").history as disk:
        assert disk["pseudo_likelihood"].variable._in_memory is False
        xr.testing.assert_identical(disk.load(), mem)
    assert mem.sizes["epoch"] == 4 and mem.epoch.values.tolist() == [1, 2, 3, 4]


def test_sample_streams_to_disk(tmp_path, monkeypatch):
    from neurosim import config
    monkeypatch.setattr(config, "CHUNK_WORK", 3 * 5 * 4 * 6)       # chunks of 6 steps
    r = random_rbm(5, 4, 3)
    mem = RBM.from_dataset(r.to_dataset()).sample(steps=20, chains=3, every=3)
    with RBM.from_dataset(r.to_dataset()).sample(steps=20, chains=3, every=3, store=tmp_path / "s.nc") as disk:
        xr.testing.assert_identical(disk.load(), mem)
    assert mem.sizes["step"] == 6


FIT = """
import numpy as np
from neurosim.datasets.bars import bars_and_stripes
from neurosim.energy.rbm import RBM
ds = RBM(9, 5, seed=0).fit(bars_and_stripes(3, n=40, seed=0), epochs=5, batch_size=8).history
"""

SAMPLE = """
from neurosim import config
from neurosim.energy.rbm import RBM
config.CHUNK_WORK = 3 * 5 * 4 * 10     # chunks of 10 steps
ds = RBM(5, 4, seed=0, init_scale=1.0).sample(steps=40, chains=3, every=2)
"""


def test_ctrl_c_during_fit(tmp_path):
    ds = interrupted_run(FIT, "setup", tmp_path)
    assert ds.attrs["interrupted"] == 1 and ds.sizes["epoch"] == 0 and "pseudo_likelihood" in ds
    ds = interrupted_run(FIT, "run", tmp_path)
    assert ds.attrs["interrupted"] == 1 and ds.epoch.values.tolist() == [1]
    assert np.isfinite(ds.reconstruction_error.values).all()


def test_ctrl_c_during_sampling(tmp_path):
    ds = interrupted_run(SAMPLE, "setup", tmp_path)
    assert ds.attrs["interrupted"] == 1 and ds.v.shape == (3, 0, 5)
    ds = interrupted_run(SAMPLE, "run", tmp_path)
    assert ds.attrs["interrupted"] == 1 and ds.step.values.tolist() == [2, 4, 6, 8, 10]
    full = RBM(5, 4, seed=0, init_scale=1.0).sample(steps=40, chains=3, every=2)
    np.testing.assert_array_equal(ds.v.values, full.v.values[:, :5])


def test_load_refuses_foreign_truncated_and_other_model_files(tmp_path):
    from neurosim.energy.boltzmann import BoltzmannMachine
    good = RBM(4, 3, seed=0).save(tmp_path / "rbm.nc")
    assert RBM.load(good).n_hidden == 3
    text = tmp_path / "notes.txt"
    text.write_text("not a model")
    with pytest.raises(ValueError, match="notes.txt is not a readable netCDF"):
        RBM.load(text)
    plain = tmp_path / "plain.nc"
    xr.Dataset({"W": (("a", "b"), np.zeros((2, 2)))}).to_netcdf(plain)
    with pytest.raises(ValueError, match="plain.nc holds no neurosim model"):
        RBM.load(plain)
    cut = tmp_path / "cut.nc"
    cut.write_bytes(open(good, "rb").read()[:300])
    with pytest.raises(ValueError, match="cut.nc is not a readable netCDF"):
        RBM.load(cut)
    bm = BoltzmannMachine(3, 1, seed=0).save(tmp_path / "bm.nc")
    with pytest.raises(ValueError, match="bm.nc holds a BoltzmannMachine; RBM.load"):
        RBM.load(bm)
    part = tmp_path / "part.nc"
    record.load(good).drop_vars("hidden_bias").to_netcdf(part)
    with pytest.raises(ValueError, match="part.nc lacks 'hidden_bias'"):
        RBM.load(part)


def test_seed_sequences_round_trip_through_files(tmp_path):
    r = RBM(4, 3, seed=rng.child(7, (2, 5)))
    back = RBM.load(r.save(tmp_path / "r.nc"))
    assert back.seed.entropy == 7 and back.seed.spawn_key == (2, 5)
    same = RBM.from_dataset(r.to_dataset())
    np.testing.assert_array_equal(back.sample(steps=5, chains=2, initial=np.zeros(4)).v.values,
                                  same.sample(steps=5, chains=2, initial=np.zeros(4)).v.values)
