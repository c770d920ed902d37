"""Reservoir kernels' layouts and the vectorised tanh against slow NumPy references."""
import numpy as np
import pytest
import scipy.sparse as sp
from numba import njit

from neurosim.kernels import reservoir as K
from neurosim.reservoir import ESN, Ridge
from neurosim.reservoir.esn import dense_layout, reservoir_layout, sell_layout


@njit(error_model="numpy")
def _tanh_all(z, out):
    for i in range(z.shape[0]):
        out[i] = K.tanh(z[i])


@pytest.mark.kernel
def test_tanh_within_two_ulp_of_numpy():
    g = np.random.default_rng(0)
    z = np.concatenate([g.normal(size=20000) * 4, np.linspace(-25, 25, 20001), np.linspace(0.6, 0.65, 2001),
                        [0.0, 1e-300, -1e-300, 19.0, 19.1, 20.0, 20.5, 1e300, -1e300, np.inf, -np.inf]])
    out = np.empty_like(z)
    _tanh_all(z, out)
    ref = np.tanh(z)
    nz = ref != 0
    ulp = np.abs(out - ref)[nz] / np.spacing(np.abs(ref[nz]))
    assert ulp.max() <= 2.0
    assert out[0] == 0.0 or abs(out[z == 0.0]).max() == 0.0
    nan = np.empty(1)
    _tanh_all(np.array([np.nan]), nan)
    assert np.isnan(nan[0])


def _random_system(n, p, layers, seed):
    g = np.random.default_rng(seed)
    W = sp.random_array((n, n), density=p, random_state=g, data_sampler=g.standard_normal, format="csr")
    W = W * (0.9 / max(abs(np.linalg.eigvals(W.toarray())).max(), 1e-9))
    return sp.csr_array(W), np.array(layers, np.int64), g.normal(size=(n, 2)), g.normal(size=n) * 0.1


def _naive(Wd, bounds, Win, bias, U, x0, leak):
    x = x0.copy()
    out = []
    for t in range(U.shape[0]):
        for layer in range(len(bounds) - 1):
            r = slice(bounds[layer], bounds[layer + 1])
            x[r] = (1 - leak) * x[r] + leak * np.tanh(Wd[r] @ x + Win[r] @ U[t] + bias[r])
        out.append(x.copy())
    return np.array(out)


@pytest.mark.kernel
@pytest.mark.parametrize("layers", [(0, 37), (0, 9, 37), (0, 16, 17, 37)])
def test_sparse_and_dense_layouts_give_the_reference_states(layers):
    n = 37  # slices of 8 with a ragged end, rows of unequal length
    W, bounds, Win, bias = _random_system(n, 0.2, layers, 3)
    g = np.random.default_rng(1)
    U = g.normal(size=(2, 40, 2))
    x0 = g.normal(size=(2, n)) * 0.3
    outs = []
    for m in (sell_layout(W, bounds), dense_layout(W, bounds)):
        x = x0.copy()
        out = np.empty((2, 40, n))
        K.run(m, bounds, Win, np.zeros((n, 0)), bias, U, np.zeros((2, 40, 0)), x, 0.3, 0, 0.0,
              np.zeros((2, 2), np.uint64), out)
        np.testing.assert_array_equal(x, out[:, -1])
        outs.append(out)
    for b in range(2):
        ref = _naive(W.toarray(), bounds, Win, bias, U[b], x0[b], 0.3)
        np.testing.assert_allclose(outs[0][b], ref, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(outs[1][b], ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-12, atol=1e-12)


def test_sell_layout_sorts_rows_and_covers_every_entry():
    W, bounds, _, _ = _random_system(45, 0.3, (0, 20, 45), 5)
    sptr, slen, rows, scount, lslice, idx, data, dense = sell_layout(W, bounds)
    assert dense.size == 0 and list(lslice) == [0, 3, 7]
    assert np.count_nonzero(data) == W.nnz and np.isclose(data.sum(), W.data.sum())
    lengths = np.diff(W.indptr)
    for layer, (r0, r1) in enumerate(zip(bounds[:-1], bounds[1:])):
        used = np.concatenate([rows[8 * s:8 * s + scount[s]] for s in range(lslice[layer], lslice[layer + 1])])
        assert sorted(used) == list(range(r0, r1))
        assert np.all(np.diff(lengths[used]) <= 0)  # longest first


def test_layout_choice_and_esn_layouts_agree():
    Wsmall = sp.random_array((50, 50), density=0.1, format="csr", random_state=0)
    assert reservoir_layout(Wsmall, np.array([0, 50]))[7].shape == (50, 50)
    Wbig = sp.random_array((600, 600), density=0.1, format="csr", random_state=0)
    assert reservoir_layout(Wbig, np.array([0, 600]))[7].size == 0
    Wfull = sp.random_array((600, 600), density=0.8, format="csr", random_state=0)
    assert reservoir_layout(Wfull, np.array([0, 600]))[7].shape == (600, 600)
    u = np.sin(np.arange(300) / 7)[:, None]
    a = ESN(200, leak=0.3, spectral_radius=0.9, seed=1, layout="sparse")
    b = ESN(200, leak=0.3, spectral_radius=0.9, seed=1, layout="dense")
    np.testing.assert_allclose(a.run_states(u), b.run_states(u), rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="layout"):
        ESN(10, layout="csr")


def test_ridge_fast_path_equals_checked_path():
    g = np.random.default_rng(2)
    X = g.normal(size=(300, 20))
    Y = X @ g.normal(size=(20, 2)) + 0.1 * g.normal(size=(300, 2))
    a = Ridge(1e-3).fit(X, Y)
    b = Ridge(1e-3).partial_fit(X[:100], Y[:100]).partial_fit(X[100:], Y[100:]).solve()
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    Wt = np.linalg.solve(Xc.T @ Xc + 1e-3 * np.eye(20), Xc.T @ Yc)
    np.testing.assert_allclose(a.W, Wt.T, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(b.W, a.W, rtol=1e-10, atol=1e-13)
    with pytest.raises(ValueError, match="finite"), np.errstate(invalid="ignore"):
        Ridge(1.0)._fit_parts([np.full((5, 3), np.inf)], [np.zeros((5, 1))])


# --- float32 reservoirs ---------------------------------------------------------------------
def _naive32(Wd, bounds, Win, bias, U, x0, leak):
    """_naive in float32: weights, state and sums float32 (NumPy's float32 products)."""
    W32, b32 = Wd.astype(np.float32), bias.astype(np.float32)
    x = x0.astype(np.float32)
    out = []
    for t in range(U.shape[0]):
        for layer in range(len(bounds) - 1):
            r = slice(bounds[layer], bounds[layer + 1])
            z = W32[r] @ x + (Win[r] @ U[t] + b32[r]).astype(np.float32)
            x[r] = ((1 - leak) * x[r] + leak * np.tanh(z.astype(np.float64))).astype(np.float32)
        out.append(x.astype(np.float64))
    return np.array(out)


@pytest.mark.kernel
@pytest.mark.parametrize("layers", [(0, 37), (0, 9, 37), (0, 16, 17, 37)])
def test_float32_sparse_and_dense_layouts_give_the_float32_reference(layers):
    n = 37
    W, bounds, Win, bias = _random_system(n, 0.2, layers, 3)
    g = np.random.default_rng(1)
    U = g.normal(size=(2, 40, 2))
    x0 = (g.normal(size=(2, n)) * 0.3).astype(np.float32)
    for m in (sell_layout(W, bounds, "float32"), dense_layout(W, bounds, np.float32)):
        assert (m[6] if m[7].size == 0 else m[7]).dtype == np.float32
        x = x0.copy()
        out = np.empty((2, 40, n))
        K.run(m, bounds, Win, np.zeros((n, 0)), bias.astype(np.float32), U, np.zeros((2, 40, 0)), x, 0.3, 0,
              0.0, np.zeros((2, 2), np.uint64), out)
        assert x.dtype == np.float32
        np.testing.assert_array_equal(x, out[:, -1].astype(np.float32))
        for b in range(2):
            ref32 = _naive32(W.toarray(), bounds, Win, bias, U[b], x0[b], 0.3)
            ref64 = _naive(W.toarray(), bounds, Win, bias, U[b], x0[b].astype(np.float64), 0.3)
            np.testing.assert_allclose(out[b], ref32, rtol=0, atol=2e-6)
            assert np.abs(out[b] - ref64).max() > 1e-9  # really float32, not float64 in disguise


def test_float32_states_match_float64_and_are_reproducible():
    u = np.sin(np.arange(400) / 7)[:, None]
    for layout in ("sparse", "dense"):
        a = ESN(60, leak=0.3, spectral_radius=0.9, seed=4, layout=layout)
        b = ESN(60, leak=0.3, spectral_radius=0.9, seed=4, layout=layout, dtype="float32")
        c = ESN(60, leak=0.3, spectral_radius=0.9, seed=4, layout=layout, dtype=np.float32)
        xa, xb, xc = a.run_states(u), b.run_states(u), c.run_states(u)
        assert xb.dtype == np.float64 and b.state_.dtype == np.float64
        np.testing.assert_array_equal(xb, xc)  # same seed, same float32 states
        rel = np.abs(xb - xa).max() / np.abs(xa).max()
        assert 1e-9 < rel < 1e-5
        assert np.array_equal(b._kernel_args()[0][7].size > 0, layout == "dense")
    y = np.roll(u, -1)
    f1 = ESN(60, leak=0.3, spectral_radius=0.9, seed=4, dtype="float32").fit(u, y, washout=20)
    f2 = ESN(60, leak=0.3, spectral_radius=0.9, seed=4, dtype="float32").fit(u, y, washout=20)
    np.testing.assert_array_equal(f1.Wout, f2.Wout)
    np.testing.assert_array_equal(f1.generate(30)["prediction"].values, f2.generate(30)["prediction"].values)


def test_float32_layout_choice_and_bad_dtype():
    W = sp.random_array((300, 300), density=0.1, format="csr", random_state=0)
    bounds = np.array([0, 300])
    assert reservoir_layout(W, bounds)[7].size == 0  # float64: sparse
    m = reservoir_layout(W, bounds, dtype="float32")
    assert m[7].shape == (300, 300) and m[7].dtype == np.float32  # float32: the 360 kB dense fits L2
    Wbig = sp.random_array((600, 600), density=0.1, format="csr", random_state=0)
    m = reservoir_layout(Wbig, np.array([0, 600]), dtype="float32")
    assert m[7].size == 0 and m[6].dtype == np.float32
    Wmid = sp.random_array((900, 900), density=0.3, format="csr", random_state=0)
    assert reservoir_layout(Wmid, np.array([0, 900]))[7].size == 0  # float64: 6.5 MB, sparse
    assert reservoir_layout(Wmid, np.array([0, 900]), dtype="float32")[7].size == 0  # gathered rows win
    Wfull = sp.random_array((900, 900), density=0.8, format="csr", random_state=0)
    assert reservoir_layout(Wfull, np.array([0, 900]), dtype="float32")[7].shape == (900, 900)
    for bad in ("float16", "int32", "double precision", 3, object):
        with pytest.raises(ValueError, match="dtype"):
            ESN(10, dtype=bad)
    with pytest.raises(ValueError, match="dtype"):
        sell_layout(W, bounds, "float16")


# --- chunk invariance and tunables ------------------------------------------------------------
@pytest.mark.kernel
def test_runs_in_chunks_equal_one_call_to_the_bit():
    """The input term and the readout are summed in the kernels in a fixed order, so a run cut in
    chunks (as record.Run cuts it) gives the states and outputs of one call, for any widths."""
    n = 37
    W, bounds, _, bias = _random_system(n, 0.2, (0, 16, 37), 4)
    g = np.random.default_rng(2)
    Win, U = g.normal(size=(n, 3)), g.normal(size=(2, 60, 3))
    m = sell_layout(W, bounds)
    x = np.zeros((2, n))
    whole = np.empty((2, 60, n))
    K.run(m, bounds, Win, np.zeros((n, 0)), bias, U, np.zeros((2, 60, 0)), x, 0.3, 0, 0.0,
          np.zeros((2, 2), np.uint64), whole)
    xc = np.zeros((2, n))
    for s0, s1 in ((0, 1), (1, 8), (8, 45), (45, 60)):
        part = np.empty((2, s1 - s0, n))
        K.run(m, bounds, Win, np.zeros((n, 0)), bias, np.ascontiguousarray(U[:, s0:s1]),
              np.zeros((2, s1 - s0, 0)), xc, 0.3, 0, 0.0, np.zeros((2, 2), np.uint64), part)
        np.testing.assert_array_equal(part, whole[:, s0:s1])
    np.testing.assert_array_equal(xc, x)
    wout, wb = g.normal(size=(2, n)), g.normal(size=2)
    out = np.empty((2, 60, 2))
    K.readout(whole, wout, wb, out)
    np.testing.assert_allclose(out, whole @ wout.T + wb, rtol=1e-13, atol=1e-13)
    part = np.empty((2, 13, 2))
    K.readout(np.ascontiguousarray(whole[:, 20:33]), wout, wb, part)
    np.testing.assert_array_equal(part, out[:, 20:33])


def test_layout_switch_points_are_read_from_config(monkeypatch):
    from neurosim import config

    W = sp.random_array((200, 200), density=0.1, format="csr", random_state=0)
    bounds = np.array([0, 200])
    assert reservoir_layout(W, bounds)[7].size == 0   # sparse at 200 units by default
    monkeypatch.setattr(config, "ESN_DENSE_MAX_UNITS", 256)
    assert reservoir_layout(W, bounds)[7].shape == (200, 200)
