"""Deep belief networks and the softmax top layer (neurosim.energy.dbn)."""
import numpy as np
import pytest
import xarray as xr
from interrupt import interrupted_run
from scipy.special import expit, softmax

from neurosim import config, record
from neurosim.datasets import digits
from neurosim.datasets.bars import bars_and_stripes
from neurosim.energy.dbn import DBN, SoftmaxRegression


def test_softmax_regression_gradient_and_separable_data():
    g = np.random.default_rng(0)
    X = np.concatenate([g.normal(-2, 0.5, (50, 2)), g.normal(2, 0.5, (50, 2)), g.normal((2, -2), 0.5, (50, 2))])
    y = np.repeat([0, 1, 2], 50)
    clf = SoftmaxRegression(2, 3, l2=1e-3).fit(X, y)
    assert clf.score(X, y) > 0.97
    np.testing.assert_allclose(clf.predict_proba(X), softmax(X @ clf.W + clf.bias, axis=1))
    # at the optimum the penalised gradient vanishes
    P = clf.predict_proba(X)
    Y = np.eye(3)[y]
    grad = X.T @ (P - Y) / len(X) + 1e-3 * clf.W
    assert np.abs(grad).max() < 1e-4


def test_greedy_stacking_feeds_hidden_probabilities_upward():
    X = bars_and_stripes(3, n=100, seed=0)
    dbn = DBN([9, 8, 4], seed=0).pretrain(X, epochs=3)
    h1 = expit(X @ dbn.rbms[0].W + dbn.rbms[0].hidden_bias)
    np.testing.assert_allclose(dbn.transform(X), expit(h1 @ dbn.rbms[1].W + dbn.rbms[1].hidden_bias))
    assert dbn.history.reconstruction_error.shape == (2, 3)
    assert dbn.history.attrs["family"] == "DBN"


def test_generation_passes_down_mean_field():
    X = bars_and_stripes(3, n=200, seed=1)
    dbn = DBN([9, 12, 6], seed=2).pretrain(X, epochs=5)
    ds = dbn.generate(steps=40, chains=3, every=10)
    assert ds.v.shape == (3, 4, 9) and ds.top.shape == (3, 4, 12)
    down = dbn.rbms[0].visible_means(ds.top_mean.values.reshape(-1, 12)).reshape(3, 4, 9)
    np.testing.assert_allclose(ds.v.values, down)
    assert set(np.unique(ds.top.values)) <= {0.0, 1.0}
    assert np.all((ds.v.values >= 0) & (ds.v.values <= 1))
    # starting from data works too
    ds2 = dbn.generate(steps=10, chains=2, every=5, initial=X[:2])
    assert ds2.v.shape == (2, 2, 9)


@pytest.mark.slow
def test_digits_classification():
    X, y = digits()
    X = X / 16
    dbn = DBN([64, 100, 100], seed=0).fit(X[:1200], y[:1200], epochs=8, learning_rate=0.02, momentum=0.9,
                                          l2=1e-4)
    acc = dbn.score(X[1200:], y[1200:])
    assert acc > 0.8  # chance is 0.10
    assert dbn.predict(X[1200:1210]).shape == (10,)


def test_save_load(tmp_path):
    X = bars_and_stripes(3, n=60, seed=0)
    y = (X[:, 0] > 0).astype(int)
    dbn = DBN([9, 6, 3], seed=0).fit(X, y, epochs=2)
    back = DBN.load(dbn.save(tmp_path / "dbn.nc"))
    np.testing.assert_allclose(back.transform(X), dbn.transform(X))
    np.testing.assert_allclose(back.predict_proba(X), dbn.predict_proba(X))


def test_bad_input():
    with pytest.raises(ValueError, match="at least two"):
        DBN([10])
    with pytest.raises(ValueError, match=r"layers\[1\] must be >= 1"):
        DBN([10, 0])
    dbn = DBN([4, 3], seed=0)
    with pytest.raises(ValueError, match="no classifier"):
        dbn.predict(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="binary"):
        dbn.pretrain(np.full((3, 4), 3.0), epochs=1)
    with pytest.raises(ValueError, match="epochs"):
        dbn.pretrain(np.zeros((3, 4)), epochs=[1, 2])
    clf = SoftmaxRegression(2, 3)
    with pytest.raises(ValueError, match="class labels"):
        clf.fit(np.zeros((2, 2)), np.array([0, 5]))


def test_fine_tuning_gradient_matches_finite_differences():
    g = np.random.default_rng(0)
    X = (g.random((12, 5)) < 0.5).astype(float)
    y = g.integers(0, 3, 12)
    dbn = DBN([5, 4, 3], seed=0).fit(X, y, epochs=1)
    theta = dbn._pack() + g.normal(0, 0.1, dbn._pack().size)
    Y = np.eye(3)[y]
    f, grad = dbn._loss(theta, X, Y, 0.01)
    eps = 1e-6
    num = np.array([(dbn._loss(theta + eps * e, X, Y, 0.01)[0] - dbn._loss(theta - eps * e, X, Y, 0.01)[0]) / (2 * eps)
                    for e in np.eye(theta.size)])
    np.testing.assert_allclose(grad, num, rtol=1e-6, atol=1e-8)


def test_fine_tuning_lowers_training_loss():
    X, y = digits()
    X, y = X[:400] / 16, y[:400]
    dbn = DBN([64, 40, 30], seed=0).fit(X, y, epochs=2, l2=1e-4)
    Y = np.eye(10)[y]
    before = dbn._loss(dbn._pack(), X, Y, 1e-4)[0]
    acc_before = dbn.score(X, y)
    dbn.fine_tune(X, y, max_iter=60, l2=1e-4)
    assert dbn._loss(dbn._pack(), X, Y, 1e-4)[0] < before - 0.05
    assert dbn.score(X, y) >= acc_before


# ------------------------------------------------------------------ runs: chunks, streaming, Ctrl+C, files

def trained(seed=2):
    return DBN([9, 7, 5], seed=seed).pretrain(bars_and_stripes(3, n=60, seed=1), epochs=[3, 2])


def test_generation_in_chunks_streams_to_disk(tmp_path, monkeypatch):
    # each generate call draws new streams: compare the first calls of equal networks
    whole = trained().generate(steps=23, chains=2, every=3)
    monkeypatch.setattr(config, "CHUNK_WORK", 2 * (9 * 7 + 7 * 5) * 7)   # 7 steps, rounded down to 6
    chunked = trained().generate(steps=23, chains=2, every=3)
    xr.testing.assert_identical(chunked, whole)
    with trained().generate(steps=23, chains=2, every=3, store=tmp_path / "g.nc") as disk:
        assert disk["v"].variable._in_memory is False
        xr.testing.assert_identical(disk.load(), chunked)
    assert chunked.v.shape == (2, 7, 9) and chunked.step.values.tolist() == list(range(3, 24, 3))


def test_pretrain_streams_to_disk(tmp_path):
    X = bars_and_stripes(3, n=60, seed=1)
    mem = DBN([9, 7, 5], seed=0).pretrain(X, epochs=[3, 2]).history
    with DBN([9, 7, 5], seed=0).pretrain(X, epochs=[3, 2], store=tmp_path / "p.nc").history as disk:
        xr.testing.assert_identical(disk.load(), mem)
    assert np.isnan(mem.reconstruction_error.values[1, 2]) and mem.layer.values.tolist() == [0, 1]


GENERATE = """
from neurosim import config
from neurosim.datasets.bars import bars_and_stripes
from neurosim.energy.dbn import DBN
dbn = DBN([9, 7, 5], seed=2).pretrain(bars_and_stripes(3, n=60, seed=1), epochs=[3, 2])
config.CHUNK_WORK = 2 * (9 * 7 + 7 * 5) * 6     # chunks of 6 steps
ds = dbn.generate(steps=23, chains=2, every=3)
"""

PRETRAIN = """
from neurosim.datasets.bars import bars_and_stripes
from neurosim.energy.dbn import DBN
ds = DBN([9, 7, 5], seed=2).pretrain(bars_and_stripes(3, n=60, seed=1), epochs=[3, 2]).history
"""


def test_ctrl_c_during_generation_and_pretraining(tmp_path):
    ds = interrupted_run(GENERATE, "setup", tmp_path)   # (the pretraining is interrupted too)
    assert ds.attrs["interrupted"] == 1 and ds.v.shape == (2, 0, 9)
    ds = interrupted_run(GENERATE, "run", tmp_path)
    assert ds.attrs["interrupted"] == 1 and ds.step.values.tolist() == [3, 6]
    ds = interrupted_run(PRETRAIN, "setup", tmp_path)
    assert ds.attrs["interrupted"] == 1 and ds.sizes["layer"] == 0
    ds = interrupted_run(PRETRAIN, "run", tmp_path)    # layer 0 stops after its first epoch
    assert ds.attrs["interrupted"] == 1 and ds.layer.values.tolist() == [0]
    assert np.isfinite(ds.reconstruction_error.values[0, 0]) and np.isnan(ds.reconstruction_error.values[0, 1:]).all()


def test_load_refuses_foreign_truncated_and_other_model_files(tmp_path):
    from neurosim.energy.rbm import RBM
    good = DBN([4, 3, 2], seed=0).save(tmp_path / "dbn.nc")
    assert DBN.load(good).layers == [4, 3, 2]
    text = tmp_path / "notes.txt"
    text.write_text("not a model")
    with pytest.raises(ValueError, match="notes.txt is not a readable netCDF"):
        DBN.load(text)
    plain = tmp_path / "plain.nc"
    xr.Dataset({"W_0": (("a", "b"), np.zeros((2, 2)))}).to_netcdf(plain)
    with pytest.raises(ValueError, match="plain.nc holds no neurosim model"):
        DBN.load(plain)
    cut = tmp_path / "cut.nc"
    cut.write_bytes(open(good, "rb").read()[:300])
    with pytest.raises(ValueError, match="cut.nc is not a readable netCDF"):
        DBN.load(cut)
    other = RBM(4, 3, seed=0).save(tmp_path / "rbm.nc")
    with pytest.raises(ValueError, match="rbm.nc holds a RBM; DBN.load"):
        DBN.load(other)
    part = tmp_path / "part.nc"
    record.load(good).drop_vars("W_1").to_netcdf(part)
    with pytest.raises(ValueError, match="part.nc lacks 'W_1'"):
        DBN.load(part)
