"""Boltzmann machine (neurosim.energy.boltzmann) and its Gibbs kernel."""
import itertools
import math

import numpy as np
import pytest
import xarray as xr
from interrupt import interrupted_run
from scipy import stats
from scipy.special import logsumexp

from neurosim import config, record, rng
from neurosim.energy.boltzmann import BoltzmannMachine
from neurosim.kernels import annealing as K
from neurosim.kernels import rng as krng


def binary(n):
    return np.array(list(itertools.product([0, 1], repeat=n)), dtype=float)


def random_bm(nv, nh, seed, scale=1.0, T=1.0):
    g = np.random.default_rng(seed)
    bm = BoltzmannMachine(nv, nh, temperature=T, seed=seed)
    A = np.triu(g.normal(0, scale, (bm.n, bm.n)), 1)
    bm.W = A + A.T
    bm.bias = g.normal(0, scale, bm.n)
    return bm


@pytest.mark.kernel
@pytest.mark.parametrize("first", [0, 2])
def test_bm_sweeps_matches_naive(first):
    bm = random_bm(3, 3, 1)
    W, b, beta = bm.W, bm.bias, 0.7
    x0 = (np.random.default_rng(0).random((4, 6)) < 0.5).astype(np.int8)
    # naive: fields from scratch, the same draws in the same order
    st = rng.streams(5, 4)
    ref = x0.astype(float)
    corr = np.zeros((4, 6, 6))
    for c in range(4):
        for _ in range(3):
            for i in range(first, 6):
                a = beta * (W[i] @ ref[c] + b[i])
                ref[c, i] = 1.0 if krng.uniform(st, c) * (1 + math.exp(-a)) < 1 else 0.0
            corr[c] += np.outer(ref[c], ref[c])
    x = x0.copy()
    f = x.astype(float) @ W + b
    got = np.zeros((4, 6, 6))
    kept = np.zeros((4, 3, 6), dtype=np.int8)
    K.bm_sweeps(W, b, beta, x, f, np.int64(first), np.int64(3), got, np.int64(1), kept, rng.streams(5, 4))
    np.testing.assert_array_equal(kept[:, -1], x)
    np.testing.assert_array_equal(x, ref.astype(np.int8))
    np.testing.assert_allclose(f, x.astype(float) @ W + b, atol=1e-12)
    np.testing.assert_allclose(got, corr)
    np.testing.assert_array_equal(x[:, :first], x0[:, :first])


def test_exact_likelihood_sums_to_one():
    bm = random_bm(3, 2, 2, T=1.5)
    X = binary(5)
    lz = logsumexp(-bm.energy(X) / 1.5)
    assert bm.log_partition() == pytest.approx(lz)
    assert logsumexp(bm.log_likelihood(binary(3))) == pytest.approx(0.0, abs=1e-12)


def test_samples_follow_boltzmann_distribution():
    bm = random_bm(3, 1, 3, scale=0.7, T=1.3)
    X = binary(4)
    p = np.exp(-bm.energy(X) / 1.3 - bm.log_partition())
    ds = bm.sample(samples=1, chains=20000, burn_in=30)
    idx = (ds.x.values[:, 0, :] @ (1 << np.arange(3, -1, -1))).astype(int)
    counts = np.bincount(idx, minlength=16)
    assert stats.chisquare(counts, p * counts.sum()).pvalue > 1e-3
    q = np.exp(-bm.energy(X) - logsumexp(-bm.energy(X)))  # the wrong temperature is rejected
    assert stats.chisquare(counts, q * counts.sum()).pvalue < 1e-6


def test_clamped_sampling_gives_hidden_posterior():
    bm = random_bm(2, 2, 4)
    v = np.array([1.0, 0.0])
    H = binary(2)
    lw = -bm.energy(np.concatenate([np.tile(v, (4, 1)), H], 1))
    p = np.exp(lw - logsumexp(lw))
    ds = bm.sample(samples=1, chains=10000, burn_in=20, clamp=v)
    x = ds.x.values[:, 0, :]
    assert np.all(x[:, :2] == v)
    counts = np.bincount((x[:, 2:] @ [2, 1]).astype(int), minlength=4)
    assert stats.chisquare(counts, p * counts.sum()).pvalue > 1e-3


def test_learning_improves_exact_likelihood():
    patterns = np.array([[1, 1, 0, 0], [0, 0, 1, 1], [1, 1, 1, 1], [0, 0, 0, 0]], dtype=float)
    data = np.tile(patterns, (10, 1))
    bm = BoltzmannMachine(4, 2, seed=0, init_scale=0.1)
    before = bm.log_likelihood(data).mean()
    bm.fit(data, epochs=150, learning_rate=0.2, free_chains=40, free_sweeps=3)
    after = bm.log_likelihood(data).mean()
    assert before < -2.5                    # about log(1/16)
    assert after > before + 0.8             # optimum log(1/4) = -1.39
    assert bm.history.log_likelihood.values[-1] == pytest.approx(after)
    np.testing.assert_allclose(bm.W, bm.W.T)
    assert np.all(np.diag(bm.W) == 0)


def test_visible_only_machine_learns_correlations():
    g = np.random.default_rng(1)
    a = (g.random(300) < 0.5).astype(float)
    data = np.stack([a, a, 1 - a], 1)   # units 0 and 1 equal, unit 2 opposite
    bm = BoltzmannMachine(3, seed=1).fit(data, epochs=100, learning_rate=0.2)
    assert bm.W[0, 1] > 1.0 and bm.W[0, 2] < -1.0


def test_save_load(tmp_path):
    bm = random_bm(3, 2, 0, T=2.0)
    back = BoltzmannMachine.load(bm.save(tmp_path / "bm.nc"))
    np.testing.assert_array_equal(back.W, bm.W)
    assert back.temperature == 2.0 and back.n_hidden == 2


def test_bad_input():
    with pytest.raises(ValueError, match="temperature must be > 0"):
        BoltzmannMachine(3, temperature=0.0)
    bm = BoltzmannMachine(3, 1)
    with pytest.raises(ValueError, match="binary"):
        bm.fit(np.full((4, 3), 0.5))
    with pytest.raises(ValueError, match="3 columns"):
        bm.fit(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="finite"):
        bm.fit(np.array([[0.0, np.nan, 1.0]]))
    with pytest.raises(ValueError, match="at most"):
        BoltzmannMachine(20, 10).log_partition()
    with pytest.raises(ValueError, match="4 columns"):
        bm.energy(np.zeros(3))


# ------------------------------------------------------------------ runs: chunks, streaming, Ctrl+C, files

PATTERNS = np.tile(np.array([[1, 1, 0, 0], [0, 0, 1, 1], [1, 1, 1, 1], [0, 0, 0, 0]], dtype=float), (3, 1))


def test_sampling_in_chunks_gives_the_one_chunk_result(monkeypatch):
    for clamp in (None, [1, 0]):
        whole = random_bm(2, 3, 5).sample(samples=25, chains=3, burn_in=4, thin=2, clamp=clamp)
        with monkeypatch.context() as m:
            m.setattr(config, "CHUNK_WORK", 3 * 2 * 5 * 5 * 4)   # 4 samples a chunk
            chunked = random_bm(2, 3, 5).sample(samples=25, chains=3, burn_in=4, thin=2, clamp=clamp)
        xr.testing.assert_identical(chunked, whole)


def test_sample_and_fit_stream_to_disk(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "CHUNK_WORK", 3 * 5 * 5 * 4)      # 4 samples a chunk
    mem = random_bm(3, 2, 1).sample(samples=10, chains=3, burn_in=2)
    with random_bm(3, 2, 1).sample(samples=10, chains=3, burn_in=2, store=tmp_path / "s.nc") as disk:
        assert disk["x"].dtype == np.int8
        xr.testing.assert_identical(disk.load(), mem)
    mem = BoltzmannMachine(4, 1, seed=0).fit(PATTERNS, epochs=3).history
    with BoltzmannMachine(4, 1, seed=0).fit(PATTERNS, epochs=3, store=tmp_path / "f.nc").history as disk:
        xr.testing.assert_identical(disk.load(), mem)
    assert mem.epoch.values.tolist() == [1, 2, 3] and mem.log_likelihood.attrs["units"] == "1"


SAMPLE = """
from neurosim import config
from neurosim.energy.boltzmann import BoltzmannMachine
config.CHUNK_WORK = 2 * 5 * 5 * 3      # 3 samples a chunk
ds = BoltzmannMachine(3, 2, seed=0, init_scale=1.0).sample(samples=12, chains=2, burn_in=3)
"""

FIT = """
import numpy as np
from neurosim.energy.boltzmann import BoltzmannMachine
data = np.tile(np.eye(3), (4, 1))
ds = BoltzmannMachine(3, 1, seed=0).fit(data, epochs=4, free_chains=5).history
"""


def test_ctrl_c_during_sampling_and_fitting(tmp_path):
    ds = interrupted_run(SAMPLE, "setup", tmp_path)
    assert ds.attrs["interrupted"] == 1 and ds.x.shape == (2, 0, 5)
    ds = interrupted_run(SAMPLE, "run", tmp_path)
    assert ds.attrs["interrupted"] == 1 and ds.sample.values.tolist() == [0, 1, 2]
    full = BoltzmannMachine(3, 2, seed=0, init_scale=1.0).sample(samples=12, chains=2, burn_in=3)
    np.testing.assert_array_equal(ds.x.values, full.x.values[:, :3])
    ds = interrupted_run(FIT, "setup", tmp_path)
    assert ds.attrs["interrupted"] == 1 and ds.sizes["epoch"] == 0
    ds = interrupted_run(FIT, "run", tmp_path)
    assert ds.attrs["interrupted"] == 1 and ds.epoch.values.tolist() == [1] and ds.log_likelihood.size == 1


def test_load_refuses_foreign_truncated_and_other_model_files(tmp_path):
    from neurosim.energy.rbm import RBM
    good = random_bm(3, 2, 0).save(tmp_path / "bm.nc")
    assert BoltzmannMachine.load(good).n == 5
    text = tmp_path / "notes.txt"
    text.write_text("not a model")
    with pytest.raises(ValueError, match="notes.txt is not a readable netCDF"):
        BoltzmannMachine.load(text)
    plain = tmp_path / "plain.nc"
    xr.Dataset({"W": (("a", "b"), np.zeros((2, 2)))}).to_netcdf(plain)
    with pytest.raises(ValueError, match="plain.nc holds no neurosim model"):
        BoltzmannMachine.load(plain)
    cut = tmp_path / "cut.nc"
    cut.write_bytes(open(good, "rb").read()[:300])
    with pytest.raises(ValueError, match="cut.nc is not a readable netCDF"):
        BoltzmannMachine.load(cut)
    other = RBM(3, 2, seed=0).save(tmp_path / "rbm.nc")
    with pytest.raises(ValueError, match="rbm.nc holds a RBM; BoltzmannMachine.load"):
        BoltzmannMachine.load(other)
    part = tmp_path / "part.nc"
    record.load(good).drop_vars("bias").to_netcdf(part)
    with pytest.raises(ValueError, match="part.nc lacks 'bias'"):
        BoltzmannMachine.load(part)
