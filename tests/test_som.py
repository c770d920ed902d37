"""Kohonen self-organising maps (KN): kernels against plain NumPy references, training quality,
grid geometry, and bad input."""

import numpy as np
import pytest

from neurosim.datasets import digits
from neurosim.kernels import som as K
from neurosim.som import SOM


def test_cut_off_is_where_the_gaussian_falls_below_one_in_a_million():
    assert np.exp(-K._CUT / 2) == pytest.approx(1e-6, rel=0.05)


def naive_online(W, X, order, sigmas, rates, coords, period, kind):
    """Plain NumPy online SOM: one sample at a time, distances on the plane from ``coords``."""
    W = W.copy()
    for t, i in enumerate(order):
        x = X[i]
        b = np.argmin(((W - x) ** 2).sum(axis=1))
        W += naive_neighbourhood(coords, period, b, sigmas[t], rates[t], kind)[:, None] * (x - W)
    return W


@pytest.mark.kernel
@pytest.mark.parametrize("topology,toroidal,kind", [
    ("rect", False, "gaussian"), ("rect", True, "gaussian"), ("hex", False, "gaussian"),
    ("hex", True, "mexican_hat"), ("rect", False, "bubble"), ("hex", False, "bubble"),
    ("rect", False, "mexican_hat"), ("rect", True, "mexican_hat")])
def test_online_kernel_matches_naive(topology, toroidal, kind):
    rng = np.random.default_rng(0)
    som = SOM(6, 5, 3, topology=topology, toroidal=toroidal, neighbourhood=kind, seed=0)
    X = rng.random((40, 3))
    W0 = rng.random((30, 3))
    order = rng.integers(0, 40, 200)
    sig = np.linspace(2.0, 0.7, 200)
    lr = np.linspace(0.5, 0.05, 200)
    W = W0.copy()
    K.train_online(W, X, order, sig, lr, 6, 5, topology == "hex", som.period, K.__dict__[kind.upper()])
    ref = naive_online(W0, X, order, sig, lr, som.coords, som.period, kind)
    np.testing.assert_allclose(W, ref, atol=1e-9)


def naive_neighbourhood(coords, period, b, sigma, lr, kind):
    """``lr * h(d(j, b))`` for every unit in plain NumPy, zero beyond ``d^2 > 27.6 s^2`` (where
    the Gaussian factor is below 1e-6, the kernels' cut-off)."""
    d = np.abs(coords - coords[b])
    for ax in range(2):
        if period[ax] > 0:
            d[:, ax] = np.minimum(d[:, ax], period[ax] - d[:, ax])
    d2 = (d ** 2).sum(axis=1)
    s2 = sigma ** 2
    if kind == "bubble":
        return lr * (d2 <= s2 * (1 + 1e-12))
    h = np.exp(-d2 / (2 * s2))
    if kind == "mexican_hat":
        h = (1 - d2 / s2) * h
    return lr * np.where(d2 > 27.6 * s2, 0.0, h)


@pytest.mark.kernel
@pytest.mark.parametrize("rows,cols", [(7, 5), (4, 9), (1, 6), (6, 6)])
@pytest.mark.parametrize("toroidal", [False, True])
@pytest.mark.parametrize("kind", ["gaussian", "mexican_hat"])
def test_rect_neighbourhood_table_matches_naive_and_general(rows, cols, toroidal, kind):
    som = SOM(rows, cols, 2, toroidal=toroidal, neighbourhood=kind)
    code = K.__dict__[kind.upper()]
    for sigma in (0.3, 1.0, 2.7):
        for b in range(rows * cols):
            br, bc = divmod(b, cols)
            hs = np.full(rows * cols, np.nan)
            K._rect_neighbourhood(br, bc, rows, cols, som.period, sigma ** 2, 0.7, code,
                                  np.empty(max(rows, cols)), np.empty(rows, np.int64), np.empty(cols, np.int64),
                                  np.empty(cols), np.empty(cols), hs)
            ref = naive_neighbourhood(som.coords, som.period, b, sigma, 0.7, kind)
            np.testing.assert_allclose(hs, ref, rtol=1e-13, atol=1e-300)
            np.testing.assert_array_equal(hs == 0, ref == 0)  # the same cut-off
            general = np.full(rows * cols, np.nan)
            K._general_neighbourhood(br, bc, rows, cols, False, som.period, sigma ** 2, 0.7, code,
                                     np.empty(rows), np.empty(rows), np.empty((2, cols)), np.empty((2, cols)), general)
            np.testing.assert_allclose(hs, general, rtol=1e-14, atol=1e-300)


@pytest.mark.kernel
@pytest.mark.parametrize("topology", ["rect", "hex"])
def test_online_kernel_ties_go_to_the_lowest_unit(topology):
    """Duplicated weight rows: every distance ties, the kernel picks the first unit as
    np.argmin does, so each step matches the naive reference exactly in the choice."""
    rng = np.random.default_rng(3)
    som = SOM(4, 5, 3, topology=topology, seed=0)
    W0 = np.repeat(rng.random((1, 3)), 20, axis=0)
    W0[7] = W0[0]  # still all equal
    X = rng.random((10, 3))
    order = np.array([3, 3, 1, 4, 0], dtype=np.int64)
    sig = np.full(5, 1.2)
    lr = np.full(5, 0.3)
    W = W0.copy()
    K.train_online(W, X, order, sig, lr, 4, 5, topology == "hex", som.period, K.GAUSSIAN)
    np.testing.assert_allclose(W, naive_online(W0, X, order, sig, lr, som.coords, som.period, "gaussian"), atol=1e-12)


def test_hex_grid_geometry():
    som = SOM(4, 4, 2, topology="hex")
    c = som.coords
    d = np.sqrt(((c[:, None] - c[None]) ** 2).sum(-1))
    inner = 1 * 4 + 1  # unit (1, 1): interior on a 4x4 hex grid
    assert np.sum(np.isclose(d[inner], 1.0)) == 6  # six neighbours at distance 1
    rect = SOM(4, 4, 2, topology="rect")
    dr = np.sqrt(((rect.coords[:, None] - rect.coords[None]) ** 2).sum(-1))
    assert np.sum(dr[inner] <= 1.42) - 1 == 8
    torus = SOM(4, 6, 2, topology="hex", toroidal=True)
    # on a torus every unit has six neighbours, corners included
    for a in (0, 5, 23):
        n = sum(K.grid_d2(torus.coords, torus.period, a, b) <= 1.01 ** 2 for b in range(24)) - 1
        assert n == 6


@pytest.mark.kernel
def test_best_two_and_errors_match_naive():
    rng = np.random.default_rng(1)
    som = SOM(5, 4, 6, seed=1)
    X = rng.random((100, 6))
    som.initialise(X, "sample")
    D = ((X[:, None, :] - som.W[None]) ** 2).sum(-1)
    order = np.argsort(D, axis=1)
    np.testing.assert_array_equal(som.bmu(X), order[:, 0])
    assert som.quantization_error(X) == pytest.approx(np.sqrt(D.min(axis=1)).mean(), rel=1e-12)
    r1, c1 = np.divmod(order[:, 0], 4)
    r2, c2 = np.divmod(order[:, 1], 4)
    naive_te = np.mean(np.maximum(np.abs(r1 - r2), np.abs(c1 - c2)) > 1)  # 8-neighbourhood
    assert som.topographic_error(X) == pytest.approx(naive_te)
    np.testing.assert_array_equal(som.winners(X), np.stack([r1, c1], axis=1))


def test_umatrix_against_naive():
    rng = np.random.default_rng(2)
    som = SOM(3, 4, 2)
    som.W = rng.random((12, 2))
    U = som.umatrix().values
    Wg = som.W.reshape(3, 4, 2)
    for r in range(3):
        for c in range(4):
            ds = [np.linalg.norm(Wg[r, c] - Wg[rr, cc]) for rr in range(max(r - 1, 0), min(r + 2, 3))
                  for cc in range(max(c - 1, 0), min(c + 2, 4)) if (rr, cc) != (r, c)]
            assert U[r, c] == pytest.approx(np.mean(ds))


def test_pca_initialisation_spans_principal_plane():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(2000, 3)) * [5.0, 2.0, 0.1] + [1.0, -1.0, 0.0]
    som = SOM(5, 7, 3).initialise(X, "pca")
    W = som.weights
    np.testing.assert_allclose(W.reshape(-1, 3).mean(axis=0), X.mean(axis=0), atol=1e-10)
    # rows run along the first component (x, std 5), columns along the second (y, std 2)
    assert abs(W[-1, 3, 0] - W[0, 3, 0]) == pytest.approx(2 * X[:, 0].std(ddof=1), rel=0.05)
    assert abs(W[2, -1, 1] - W[2, 0, 1]) == pytest.approx(2 * X[:, 1].std(ddof=1), rel=0.05)


def test_uniform_square_unfolds_online_and_batch():
    rng = np.random.default_rng(4)
    X = rng.random((1000, 2))
    results = {}
    for mode, kw in (("online", {"iterations": 8000}), ("batch", {"epochs": 30})):
        som = SOM(8, 8, 2, sigma=3.0, learning_rate=0.5, decay="linear", sigma_end=0.6,
                  learning_rate_end=0.02, init="random", seed=5)
        hist = som.train(X, mode=mode, checkpoints=5, **kw)
        qe = hist.quantization_error.values
        assert qe[-1] < qe[0]
        assert hist.topographic_error.values[-1] < 0.1
        # an ordered 8x8 map of the unit square has QE near that of an 8x8 lattice of cells:
        # mean distance to a cell centre = 0.3826 * side (side 1/8)
        assert qe[-1] < 0.075
        results[mode] = qe[-1]
    assert results["batch"] == pytest.approx(results["online"], rel=0.25)


def test_history_dataset_and_reproducible():
    rng = np.random.default_rng(6)
    X = rng.random((200, 2))
    a = SOM(4, 4, 2, sigma=1.5, init="sample", seed=7)
    h = a.train(X, iterations=1000, checkpoints=4, record_weights=True)
    assert h.sizes["epoch"] == 4 and h.attrs["family"] == "KN"
    assert h.iteration.values.tolist() == [250, 500, 750, 1000]
    assert h.weights.shape == (4, 4, 4, 2)
    np.testing.assert_allclose(h.weights.values[-1], a.weights)
    assert np.all(np.diff(h.sigma.values) < 0)
    b = SOM(4, 4, 2, sigma=1.5, init="sample", seed=7)
    b.train(X, iterations=1000, checkpoints=0)
    np.testing.assert_array_equal(a.W, b.W)  # checkpoints do not change the run


def test_digits_map_quality():
    X, y = digits()
    X = X / 16.0
    som = SOM(10, 10, 64, sigma=2.0, learning_rate=0.5, seed=0)
    som.train(X, iterations=5000, checkpoints=0)
    assert som.quantization_error(X) < 1.6
    assert som.topographic_error(X) < 0.15
    # a map of digits groups the classes: majority label of each unit explains most samples
    b = som.bmu(X)
    agree = sum(np.bincount(y[b == u]).max() for u in np.unique(b))
    assert agree / len(y) > 0.8


def test_save_load(tmp_path):
    rng = np.random.default_rng(8)
    som = SOM(3, 5, 4, topology="hex", toroidal=False, neighbourhood="bubble", sigma=2.0, seed=3)
    som.initialise(rng.random((20, 4)), "random")
    som.save(tmp_path / "som.nc")
    back = SOM.load(tmp_path / "som.nc")
    np.testing.assert_array_equal(back.weights, som.weights)
    assert (back.topology, back.neighbourhood, back.sigma) == ("hex", "bubble", 2.0)


def test_bad_input():
    with pytest.raises(ValueError, match="rows must be >= 1"):
        SOM(0, 5, 3)
    with pytest.raises(ValueError, match="at least 2 units"):
        SOM(1, 1, 3)
    with pytest.raises(ValueError, match="topology"):
        SOM(3, 3, 2, topology="triangle")
    with pytest.raises(ValueError, match="even number of rows"):
        SOM(3, 4, 2, topology="hex", toroidal=True)
    with pytest.raises(ValueError, match="sigma"):
        SOM(3, 3, 2, sigma=0)
    with pytest.raises(ValueError, match="neighbourhood"):
        SOM(3, 3, 2, neighbourhood="cosine")
    som = SOM(3, 3, 4)
    with pytest.raises(ValueError, match=r"shape \(n_samples, 4\).*\(10, 3\)"):
        som.train(np.zeros((10, 3)))
    with pytest.raises(ValueError, match="finite"):
        som.train(np.full((10, 4), np.nan))
    with pytest.raises(ValueError, match="no weights"):
        som.bmu(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="iterations"):
        som.train(np.random.default_rng(0).random((10, 4)), iterations=0)
    with pytest.raises(ValueError, match="epochs"):
        som.train(np.random.default_rng(0).random((10, 4)), epochs=3)



# ----------------------------------------------------------------------------- the run contract

import xarray as xr  # noqa: E402
from interrupt import interrupted_run  # noqa: E402

from neurosim import config  # noqa: E402


def _data(n=120, dim=3):
    return np.random.default_rng(40).random((n, dim))


@pytest.mark.parametrize("mode, kw", [("online", {"iterations": 900}), ("batch", {"epochs": 6})])
def test_train_store_is_identical_to_memory(tmp_path, mode, kw):
    X = _data()
    a = SOM(4, 5, 3, sigma=1.5, seed=2)
    mem = a.train(X, mode=mode, checkpoints=4, record_weights=True, chunk=2 if mode == "batch" else 100, **kw)
    b = SOM(4, 5, 3, sigma=1.5, seed=2)
    with b.train(X, mode=mode, checkpoints=4, record_weights=True, chunk=2 if mode == "batch" else 100,
                 store=tmp_path / "h.nc", **kw) as ds:
        xr.testing.assert_identical(ds.load(), mem)
    np.testing.assert_array_equal(a.W, b.W)
    assert mem.sizes["epoch"] == 4 and mem.attrs["done"] == mem.attrs["planned"]


def test_chunks_do_not_change_the_map_or_the_history(monkeypatch):
    X = _data()
    ref = SOM(4, 5, 3, sigma=1.5, seed=3)
    h = ref.train(X, iterations=1000, checkpoints=3)
    for chunk in (1, 97, 333):
        som = SOM(4, 5, 3, sigma=1.5, seed=3)
        xr.testing.assert_identical(som.train(X, iterations=1000, checkpoints=3, chunk=chunk), h)
        np.testing.assert_array_equal(som.W, ref.W)
    monkeypatch.setattr(config, "CHUNK_WORK", 20 * 3 * 50)  # 50 updates a chunk by default
    som = SOM(4, 5, 3, sigma=1.5, seed=3)
    xr.testing.assert_identical(som.train(X, iterations=1000, checkpoints=3), h)
    np.testing.assert_array_equal(som.W, ref.W)


def test_no_checkpoints_gives_an_empty_history():
    h = SOM(3, 3, 3, seed=0).train(_data(), iterations=50, checkpoints=0, chunk=10)
    assert not h.data_vars and h.attrs["done"] == 50 and h.attrs["interrupted"] == 0


TRAIN = """
    import numpy as np
    from neurosim.som import SOM
    X = np.random.default_rng(40).random((120, 3))
    ds = SOM(4, 5, 3, sigma=1.5, seed=2).train(X, iterations=1000, checkpoints=4, record_weights=True, chunk=100)
    """


def test_train_ctrl_c_during_set_up(tmp_path):
    ds = interrupted_run(TRAIN, "setup", tmp_path)
    assert ds.attrs["interrupted"] == 1 and ds.attrs["done"] == 0
    assert ds.sizes["epoch"] == 0 and ds.weights.shape == (0, 4, 5, 3)


def test_train_ctrl_c_mid_run_checkpoints_where_it_stopped(tmp_path):
    ds = interrupted_run(TRAIN, "run", tmp_path)
    assert ds.attrs["interrupted"] == 1 and ds.attrs["done"] == 100 and ds.attrs["planned"] == 1000
    assert ds.iteration.values.tolist() == [100]
    som = SOM(4, 5, 3, sigma=1.5, seed=2)
    full = som.train(_data(), iterations=1000, checkpoints=10, record_weights=True)
    # the same schedule as the full run: its first checkpoint (at 100) is the interrupted one
    np.testing.assert_array_equal(ds.weights.values[0], full.weights.values[0])
    assert ds.quantization_error.values[0] == full.quantization_error.values[0]


@pytest.mark.parametrize("seed", [2 ** 70, np.random.SeedSequence(4, spawn_key=(1,)), 11])
def test_seeds_survive_save_load(tmp_path, seed):
    som = SOM(3, 4, 3, seed=seed, init="sample")
    h = som.train(_data(), iterations=200, checkpoints=1)
    som.save(tmp_path / "som.nc")
    back = SOM.load(tmp_path / "som.nc")
    fresh = SOM(3, 4, 3, seed=back.seed, init="sample")
    xr.testing.assert_identical(fresh.train(_data(), iterations=200, checkpoints=1), h)
    np.testing.assert_array_equal(back.W, som.W)


def test_unseeded_map_records_a_seed_that_repeats_the_run():
    h = SOM(3, 4, 3, init="random").train(_data(), iterations=100, checkpoints=1)
    assert isinstance(h.attrs["seed"], int)
    again = SOM(3, 4, 3, init="random", seed=h.attrs["seed"]).train(_data(), iterations=100, checkpoints=1)
    xr.testing.assert_identical(again, h)


def test_load_refuses_foreign_truncated_and_other_model_files(tmp_path):
    som = SOM(2, 3, 2, seed=0).initialise(_data(dim=2))
    som.save(tmp_path / "good.nc")
    xr.Dataset({"x": ("a", np.arange(3.0))}).to_netcdf(tmp_path / "foreign.nc")
    with pytest.raises(ValueError, match=r"foreign\.nc holds no neurosim model"):
        SOM.load(tmp_path / "foreign.nc")
    data = (tmp_path / "good.nc").read_bytes()
    (tmp_path / "cut.nc").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"cut\.nc is not a readable netCDF file"):
        SOM.load(tmp_path / "cut.nc")
    from neurosim.markov import MarkovChain
    MarkovChain(np.full((2, 2), 0.5), seed=0).save(tmp_path / "mc.nc")
    with pytest.raises(ValueError, match=r"mc\.nc holds a MarkovChain; SOM\.load"):
        SOM.load(tmp_path / "mc.nc")
    ds = xr.open_dataset(tmp_path / "good.nc").load()
    ds.attrs["cols"] = 4
    ds.to_netcdf(tmp_path / "bad.nc")
    with pytest.raises(ValueError, match=r"bad\.nc: weights of shape"):
        SOM.load(tmp_path / "bad.nc")


@pytest.mark.parametrize("seed, error", [("5", TypeError), (-1, ValueError),
                                         (np.random.SeedSequence([1, 2]), ValueError)])
def test_bad_or_unrecordable_seeds_are_refused_up_front(seed, error):
    with pytest.raises(error, match="seed"):
        SOM(2, 2, 2, seed=seed)


# ----------------------------------------------------------------------------- given weights

def test_a_map_starts_from_given_weights():
    rng = np.random.default_rng(3)
    W0 = rng.random((4, 5, 3))
    x = rng.random((1, 3))
    som = SOM.from_weights(W0, sigma=1.5, learning_rate=0.4, seed=0)
    assert (som.rows, som.cols, som.dim, som.sigma) == (4, 5, 3, 1.5)
    np.testing.assert_array_equal(som.weights, W0)
    given = W0.copy()
    W0[0, 0, 0] = 9.0                       # the map holds a copy, not the caller's array
    assert som.weights[0, 0, 0] == given[0, 0, 0]
    # one online update from the given weights is the textbook one (plain NumPy reference)
    som.train(x, iterations=1, checkpoints=0)
    want = naive_online(given.reshape(20, 3), x, [0], [1.5], [0.4], som.coords, som.period, "gaussian")
    np.testing.assert_allclose(som.weights.reshape(20, 3), want, rtol=0, atol=1e-15)


def test_weights_set_to_the_data_quantise_it_exactly():
    X = np.random.default_rng(4).random((12, 2))
    som = SOM(3, 4, 2, seed=0)
    som.weights = X                          # (rows * cols, dim), units row-major
    assert som.quantization_error(X) == 0.0
    np.testing.assert_array_equal(som.bmu(X), np.arange(12))
    np.testing.assert_array_equal(som.weights, X.reshape(3, 4, 2))


def test_given_weights_are_checked():
    som = SOM(3, 4, 2, seed=0)
    with pytest.raises(ValueError, match=r"weights must have shape \(3, 4, 2\).*got \(4, 3, 2\)"):
        som.weights = np.zeros((4, 3, 2))
    with pytest.raises(TypeError, match="weights must be real"):
        som.weights = np.zeros((3, 4, 2), complex)
    with pytest.raises(ValueError, match="weights must be finite"):
        som.weights = np.full((12, 2), np.nan)
    with pytest.raises(ValueError, match="weights must be 3-D"):
        SOM.from_weights(np.zeros((12, 2)))
    with pytest.raises(ValueError, match="at least 2 units"):
        SOM.from_weights(np.zeros((1, 1, 2)))
    assert som.W is None                     # nothing was set by the refused assignments


def test_absurd_maps_are_refused_from_an_estimate():
    with pytest.raises(ValueError, match=r"SOM\(rows=100000, cols=100000, dim=3\) needs about [\d,]+ bytes"):
        SOM(10 ** 5, 10 ** 5, 3)
    with pytest.raises(ValueError, match=r"mode='batch'.*needs about [\d,]+ bytes"):
        SOM(400, 400, 2, seed=0).train(np.zeros((5, 2)), mode="batch", epochs=1)
