"""Extreme learning machines: the hidden-layer kernel against NumPy, the readout against a
closed form, and known results (digits, a smooth regression)."""
import numpy as np
import pytest

from neurosim.datasets import digits
from neurosim.kernels import reservoir as K
from neurosim.reservoir import ELM


@pytest.mark.kernel
@pytest.mark.parametrize("act, f", [(0, np.tanh), (1, lambda z: z), (2, lambda z: 1 / (1 + np.exp(-z))),
                                    (3, lambda z: np.maximum(z, 0))])
def test_hidden_kernel_matches_numpy(act, f):
    g = np.random.default_rng(act)
    Z = g.normal(size=(37, 11))
    b = g.normal(size=11)
    out = Z.copy()
    K.elm_hidden(b, act, out)
    np.testing.assert_allclose(out, f(Z + b), rtol=1e-13, atol=1e-15)


def test_readout_is_ridge_on_hidden_layer():
    g = np.random.default_rng(0)
    X = g.normal(size=(120, 4))
    y = np.sin(X).sum(1)
    m = ELM(30, ridge=0.1, seed=1).fit(X, y)
    H = np.tanh(X @ m.Win + m.b)
    Hc, yc = H - H.mean(0), y - y.mean()
    w = np.linalg.solve(Hc.T @ Hc + 0.1 * np.eye(30), Hc.T @ yc)
    np.testing.assert_allclose(m.predict(X), H @ w + (y.mean() - H.mean(0) @ w), rtol=1e-8, atol=1e-10)


def test_digits_classification():
    X, y = digits()
    X = X / 16.0
    m = ELM(800, ridge=1e-2, seed=0).fit(X[:1500], y[:1500])
    acc = m.score(X[1500:], y[1500:])
    assert acc > 0.92  # measured 0.95 (train on the first 1500, test on the last 297)
    ds = m.evaluate(X[1500:], y[1500:])
    assert ds["prediction"].dims == ("sample",) and ds.attrs["score"] == pytest.approx(acc)
    assert set(m.predict(X[:20])) <= set(range(10))


def test_regression_of_a_smooth_function():
    g = np.random.default_rng(2)
    X = g.uniform(-2, 2, size=(600, 2))
    y = np.sin(X[:, 0]) * np.cos(X[:, 1])
    m = ELM(200, ridge=1e-8, seed=0).fit(X[:400], y[:400])
    assert m.score(X[400:], y[400:]) > 0.99
    assert m.predict(X[400:]).shape == (200,)
    Y2 = np.stack([y, y ** 2], axis=1)
    assert ELM(200, ridge=1e-8, seed=0).fit(X, Y2).predict(X).shape == (600, 2)


def test_same_seed_same_model_and_save_load(tmp_path):
    X, y = digits()
    X = X[:300] / 16.0
    a = ELM(50, seed=3).fit(X, y[:300])
    b = ELM(50, seed=3).fit(X, y[:300])
    np.testing.assert_array_equal(a.Win, b.Win)
    back = ELM.load(a.save(tmp_path / "elm.nc"))
    np.testing.assert_array_equal(back.predict(X), a.predict(X))
    np.testing.assert_array_equal(back.decision_function(X), a.decision_function(X))


def test_bad_input():
    with pytest.raises(ValueError, match="n_hidden"):
        ELM(0)
    with pytest.raises(ValueError, match="activation"):
        ELM(10, activation="gelu")
    m = ELM(10, seed=0)
    with pytest.raises(ValueError, match="fit first"):
        m.predict(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="rows"):
        m.fit(np.zeros((5, 2)), np.zeros(4, dtype=int))
    with pytest.raises(ValueError, match="finite"):
        m.fit(np.full((5, 2), np.nan), np.zeros(5, dtype=int))
    m.fit(np.random.default_rng(0).normal(size=(20, 2)), np.arange(20) % 2)
    with pytest.raises(ValueError, match="X"):
        m.predict(np.zeros((3, 5)))


def test_load_refuses_foreign_truncated_and_other_model_files(tmp_path):
    import xarray as xr

    from neurosim.reservoir import ESN

    X, y = digits()
    m = ELM(20, seed=2 ** 70).fit(X[:100] / 16.0, y[:100])
    good = m.save(tmp_path / "elm.nc")
    back = ELM.load(good)
    assert back.seed == 2 ** 70 and m.evaluate(X[:10] / 16.0, y[:10]).attrs["seed"] == str(2 ** 70)
    np.testing.assert_array_equal(back.predict(X[100:150] / 16.0), m.predict(X[100:150] / 16.0))
    foreign = tmp_path / "foreign.nc"
    xr.Dataset({"a": ("x", np.arange(3.0))}).to_netcdf(foreign)
    truncated = tmp_path / "truncated.nc"
    truncated.write_bytes(good.read_bytes()[:200])
    esn = ESN(10, seed=0).fit(np.sin(np.arange(50.0)), np.cos(np.arange(50.0))).save(tmp_path / "esn.nc")
    for path, msg in [(foreign, "no neurosim model"), (truncated, "not a readable netCDF"), (esn, "holds a ESN")]:
        with pytest.raises(ValueError, match=msg) as err:
            ELM.load(path)
        assert str(path) in str(err.value)
    with pytest.raises(ValueError, match="seed"):
        ELM(10, seed=np.random.SeedSequence([1, 2]))
