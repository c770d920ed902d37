"""Hopfield networks: kernels against slow references, the science (capacity, energy, learning
rules, modern Hopfield), reproducibility, bad input and persistence."""
import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from neurosim import config, record, rng
from neurosim.energy import HopfieldNetwork, ModernHopfield
from neurosim.kernels import hopfield as K
from neurosim.kernels import rng as krng

from interrupt import interrupted_run

MASK = (1 << 64) - 1


# ------------------------------------------------------------------ slow, obviously-correct references
class PyStream:
    """Pure-Python xoroshiro128+ (Blackman and Vigna) on one stream row, 53-bit uniforms."""

    def __init__(self, row):
        self.s0, self.s1 = int(row[0]), int(row[1])

    def next(self):
        s0, s1 = self.s0, self.s1
        out = (s0 + s1) & MASK
        s1 ^= s0
        self.s0 = (((s0 << 55) | (s0 >> 9)) & MASK) ^ s1 ^ ((s1 << 14) & MASK)
        self.s1 = ((s1 << 36) | (s1 >> 28)) & MASK
        return out

    def uniform(self):
        return (self.next() >> 11) / 2.0**53

    def permutation(self, n):
        order = list(range(n))
        for k in range(n - 1, 0, -1):
            j = min(int(self.uniform() * (k + 1)), k)
            order[k], order[j] = order[j], order[k]
        return order


def ref_recall(W, X, cues, seed, T=0.0, max_sweeps=100, mode="async"):
    """Naive recall: fields recomputed with one dot product per update (no event tricks)."""
    m, n = cues.shape
    streams = rng.streams(seed, m)
    out = []
    for c in range(m):
        g = PyStream(streams[c])
        s = cues[c].astype(np.float64).copy()
        energies, overlaps, states = [-0.5 * s @ W @ s], [X @ s / n], [s.copy()]
        converged = False
        for _ in range(max_sweeps):
            old = s.copy()
            order = g.permutation(n) if mode == "async" else range(n)
            src = s if mode == "async" else old  # sync: every unit sees the previous state
            for i in order:
                h = float(np.dot(W[i], src))
                if T == 0:
                    s[i] = 1.0 if h >= 0 else -1.0
                else:
                    s[i] = 1.0 if g.uniform() < 1.0 / (1.0 + math.exp(-2.0 * h / T)) else -1.0
            energies.append(-0.5 * s @ W @ s)
            overlaps.append(X @ s / n)
            states.append(s.copy())
            if np.array_equal(old, s):
                converged = True
                break
        out.append((np.array(states), np.array(energies), np.array(overlaps), converged, len(states) - 1))
    return out


def pm1(rng_, shape):
    return np.where(rng_.random(shape) < 0.5, -1, 1).astype(np.int8)


def flip(rng_, X, frac):
    return (X * np.where(rng_.random(X.shape) < frac, -1, 1)).astype(np.int8)


def check_against_ref(ds, ref, n_sweeps_tol=0):
    for c, (states, energies, overlaps, conv, used) in enumerate(ref):
        assert int(ds.sweeps[c]) == used
        assert bool(ds.converged[c]) == conv
        k = used + 1
        np.testing.assert_array_equal(ds.state.values[c, :k], states)
        np.testing.assert_allclose(ds.energy.values[c, :k], energies, rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(ds.overlap.values[c, :k], overlaps, rtol=0, atol=1e-12)
        # carried forward after the cue stopped
        assert (ds.state.values[c, k:] == states[-1]).all()
        assert (ds.energy.values[c, k:] == ds.energy.values[c, k - 1]).all()


def test_pure_python_stream_matches_kernel_stream():
    st_ = rng.streams(5, 3)
    g = PyStream(st_[2])
    state = st_.copy()
    for _ in range(20):
        assert g.next() == int(krng.next_u64(state, 2))


# ------------------------------------------------------------------ kernels against the references
@pytest.mark.kernel
@pytest.mark.parametrize("rule", ["hebbian", "storkey", "pinv"])
@pytest.mark.parametrize("T", [0.0, 0.3])
def test_async_recall_matches_naive_reference(rule, T):
    g = np.random.default_rng(11)
    n, P, m = 40, 5, 6
    X = pm1(g, (P, n))
    cues = flip(g, np.repeat(X, 2, axis=0)[:m], 0.3)
    net = HopfieldNetwork(n, rule=rule, seed=3).store(X)
    ds = net.recall(cues, temperature=T, max_sweeps=12)
    check_against_ref(ds, ref_recall(net.weights, X, cues, 3, T, 12))
    np.testing.assert_array_equal(ds.final_state.values, ds.state.values[:, -1])


@pytest.mark.kernel
@pytest.mark.parametrize("T", [0.0, 0.5])
def test_sync_recall_matches_naive_reference(T):
    g = np.random.default_rng(12)
    n, P = 30, 4
    X = pm1(g, (P, n))
    cues = flip(g, X, 0.25)
    net = HopfieldNetwork(n, rule="storkey", seed=4).store(X)
    ds = net.recall(cues, mode="sync", temperature=T, max_sweeps=9)
    check_against_ref(ds, ref_recall(net.weights, X, cues, 4, T, 9, mode="sync"))


@pytest.mark.kernel
def test_async_kernel_on_random_float_weights():
    """The bare kernel with arbitrary symmetric real weights (no learning rule)."""
    g = np.random.default_rng(13)
    n, P, m = 25, 3, 4
    A = g.normal(size=(n, n))
    W = (A + A.T) / 2
    np.fill_diagonal(W, 0)
    X = pm1(g, (P, n))
    S = pm1(g, (m, n))
    cues = S.copy()
    H = S @ W.T
    Q = (S.astype(np.int64) @ X.T.astype(np.int64))
    streams = rng.streams(9, m)
    conv, used = np.zeros(m, bool), np.zeros(m, np.int64)
    idx = np.arange(n)
    rS, rE, rQ = np.zeros((m, 50, n), np.int8), np.zeros((m, 50)), np.zeros((m, 50, P), np.int64)
    XB, SB = np.empty((P, 1), np.uint64), np.empty((m, 1), np.uint64)
    K.pack_bits(X, XB)
    K.pack_bits(S, SB)
    K.sweeps(np.ascontiguousarray(2 * W.T), XB, S, SB, H, Q, streams, np.empty((m, n), np.int64),
             50, 0.0, False, conv, used, idx, rS, rE, rQ)
    for c, (states, energies, overlaps, cv, u) in enumerate(ref_recall(W, X, cues, 9, 0.0, 50)):
        assert cv and conv[c] and used[c] == u
        np.testing.assert_array_equal(rS[c, :u], states[1:])
        np.testing.assert_allclose(rE[c, :u], energies[1:], atol=1e-9)
        np.testing.assert_array_equal(rQ[c, :u], np.rint(overlaps[1:] * n))
        np.testing.assert_allclose(H[c], W @ S[c], atol=1e-9)  # fields kept up to date
    np.testing.assert_array_equal(Q, S.astype(np.int64) @ X.T)  # counts and bits too
    np.testing.assert_array_equal(SB, [[int("".join("1" if v > 0 else "0" for v in s[::-1]), 2)] for s in S])


@pytest.mark.kernel
@pytest.mark.parametrize("n", [63, 64, 130])
@pytest.mark.parametrize("low_rank", [True, False])
def test_start_kernel_matches_numpy(n, low_rank):
    """Bit-packed overlaps (partial last word included), fields and energies of the start."""
    g = np.random.default_rng(n)
    P, m = 7, 5
    X, S = pm1(g, (P, n)), pm1(g, (m, n))
    XB = np.empty((P, -(-n // 64)), np.uint64)
    K.pack_bits(X, XB)
    Wk = X.T.astype(np.int64) @ X.astype(np.int64)
    np.fill_diagonal(Wk, 0)
    SB, Q, H, E = np.empty((m, XB.shape[1]), np.uint64), np.empty((m, P), np.int64), np.empty((m, n), np.int32), np.empty(m)
    K.start(X, XB, (2 * Wk).astype(np.int16), low_rank, S, SB, Q, H, E)
    Si = S.astype(np.int64)
    SB_ref = np.empty_like(SB)
    K.pack_bits(S, SB_ref)
    np.testing.assert_array_equal(SB, SB_ref)
    np.testing.assert_array_equal(Q, Si @ X.T.astype(np.int64))
    np.testing.assert_array_equal(H, Si @ Wk)
    np.testing.assert_array_equal(E, -0.5 * np.einsum("ci,ci->c", Si, Si @ Wk))


@pytest.mark.kernel
def test_storkey_kernel_matches_literal_formula():
    g = np.random.default_rng(14)
    n, P = 12, 4
    X = pm1(g, (P, n))
    W = np.zeros((n, n))
    for x in X.astype(float):
        Hloc = np.array([[sum(W[i, k] * x[k] for k in range(n) if k not in (i, j))
                          for j in range(n)] for i in range(n)])
        new = W.copy()
        for i in range(n):
            for j in range(n):
                if i != j:
                    new[i, j] = W[i, j] + (x[i] * x[j] - x[i] * Hloc[j, i] - Hloc[i, j] * x[j]) / n
        W = new
    np.testing.assert_allclose(K.storkey(X), W, atol=1e-12)


def test_learning_rules_weights():
    g = np.random.default_rng(15)
    n, P = 50, 6
    X = pm1(g, (P, n))
    Xf = X.astype(float)
    heb = HopfieldNetwork(n).store(X).weights
    expect = Xf.T @ Xf / n
    np.fill_diagonal(expect, 0)
    np.testing.assert_array_equal(heb, expect)
    for rule in ("hebbian", "storkey", "pinv"):
        W = HopfieldNetwork(n, rule=rule).store(X).weights
        assert W.shape == (n, n) and W.dtype == np.float64
        np.testing.assert_array_equal(W, W.T)
        assert (np.diag(W) == 0).all()
    # pseudo-inverse: every (independent) stored pattern is a fixed point
    Wp = HopfieldNetwork(n, rule="pinv").store(X).weights
    assert (np.where(X @ Wp >= 0, 1, -1) == X).all()


def test_hebbian_does_not_overflow():
    """200 copies of one pattern: int8 sums would wrap; ours give exactly 200/n off the diagonal."""
    n = 512
    x = pm1(np.random.default_rng(0), (1, n))
    X = np.repeat(x, 200, axis=0)
    net = HopfieldNetwork(n).store(X)
    expect = 200.0 * np.outer(x[0], x[0]) / n
    np.fill_diagonal(expect, 0)
    np.testing.assert_array_equal(net.weights, expect)
    ds = net.recall(flip(np.random.default_rng(1), x, 0.2), seed=0)
    assert float(ds.overlap[0, -1, 0]) == 1.0


@pytest.mark.parametrize("copies,dtype", [(20, np.int16), (100, np.int32)])
def test_field_dtype_follows_the_bound_and_energies_stay_exact(copies, dtype):
    """Fields in int16 lanes only when the largest row sum of |W| (a bound on every field)
    fits: 100 copies of one pattern on 400 units give fields up to 39900, beyond int16."""
    n = 400
    g = np.random.default_rng(2)
    X = np.concatenate([np.repeat(pm1(g, (1, n)), copies, axis=0), pm1(g, (3, n))])
    net = HopfieldNetwork(n, seed=0).store(X)
    assert net._h_dtype == dtype
    cues = flip(g, X[[0, -1]], 0.3)
    ds = net.recall(cues, max_sweeps=20)
    S = ds.state.values.astype(np.float64)
    want = -0.5 * np.einsum("csi,ij,csj->cs", S, net.weights, S)
    np.testing.assert_allclose(ds.energy.values, want, rtol=1e-12, atol=1e-9)
    assert float(ds.overlap[0, -1, 0]) == 1.0


# ------------------------------------------------------------------ science
@pytest.mark.slow
def test_capacity_amit_gutfreund_sompolinsky():
    """Recall from stored patterns: overlap ~1 at alpha = 0.05, collapsed at alpha = 0.25."""
    n = 400
    g = np.random.default_rng(1)
    low = pm1(g, (20, n))
    m_low = HopfieldNetwork(n, seed=0).store(low).recall(low, record="final").overlap
    m_low = np.diagonal(m_low.isel(sweep=-1).values)
    assert m_low.mean() > 0.99 and m_low.min() > 0.95
    high = pm1(g, (100, n))
    m_high = HopfieldNetwork(n, seed=0).store(high).recall(high, record="final").overlap
    m_high = np.diagonal(m_high.isel(sweep=-1).values)
    assert m_high.mean() < 0.6


def test_storkey_and_pinv_store_correlated_patterns_better():
    """Patterns sharing 60% of their bits with a prototype (pairwise correlation ~0.36)."""
    n, P = 100, 10
    scores = {r: [] for r in ("hebbian", "storkey", "pinv")}
    for rep in range(3):
        g = np.random.default_rng(rep)
        X = flip(g, np.repeat(pm1(g, (1, n)), P, axis=0), 0.2)
        for rule in scores:
            ds = HopfieldNetwork(n, rule=rule, seed=0).store(X).recall(X, record="final")
            scores[rule].append(np.diagonal(ds.overlap.isel(sweep=-1).values).mean())
    heb, sto, pin = (np.mean(scores[r]) for r in ("hebbian", "storkey", "pinv"))
    assert heb < 0.75
    assert sto > heb + 0.15
    assert pin > 0.99


def test_modern_hopfield_exceeds_classical_capacity():
    """N = 64, P = 200 (alpha ~3, over 20x the classical 0.138): every noisy cue retrieved."""
    g = np.random.default_rng(2)
    n, P = 64, 200
    X = pm1(g, (P, n))
    cues = flip(g, X, 0.1)
    ds = ModernHopfield(beta=1.0, seed=0).store(X).recall(cues)
    assert ds.converged.all()
    assert (np.sign(ds.final_state.values) == X).all()
    assert (ds.overlap.isel(step=-1).values.argmax(axis=1) == np.arange(P)).all()
    assert (np.diff(ds.energy.values, axis=1) <= 1e-9).all()  # the update descends the energy
    classical = HopfieldNetwork(n, seed=0).store(X).recall(cues, record="final")
    assert np.diagonal(classical.overlap.isel(sweep=-1).values).mean() < 0.5


def test_modern_hopfield_update_rule():
    g = np.random.default_rng(3)
    X = g.normal(size=(7, 10))
    xi = g.normal(size=10)
    ds = ModernHopfield(beta=0.7).store(X).recall(xi, max_steps=1)
    a = 0.7 * X @ xi
    p = np.exp(a - a.max())
    np.testing.assert_allclose(ds.state.values[0, 1], X.T @ (p / p.sum()), rtol=1e-12)
    assert ds.sizes["step"] == 2 and ds.attrs["model"] == "ModernHopfield"


@settings(max_examples=25, deadline=None)
@given(n=st.integers(3, 30), P=st.integers(1, 5), rule=st.sampled_from(["hebbian", "storkey", "pinv"]),
       seed=st.integers(0, 2**32 - 1))
def test_energy_never_increases_at_zero_temperature(n, P, rule, seed):
    g = np.random.default_rng(seed)
    net = HopfieldNetwork(n, rule=rule, seed=seed).store(pm1(g, (P, n)))
    cues = pm1(g, (3, n))
    # per sweep, from the kernel
    ds = net.recall(cues, max_sweeps=50)
    assert (np.diff(ds.energy.values, axis=1) <= 1e-9).all()
    np.testing.assert_allclose(ds.energy.values[:, -1], net.energy(ds.final_state.values), atol=1e-9)
    # per flip, of the update rule itself: s_i <- sign(h_i) never raises E
    s = cues[0].astype(float)
    for i in g.permutation(n):
        before = net.energy(s.astype(np.int8))
        s[i] = 1.0 if net.weights[i] @ s >= 0 else -1.0
        assert net.energy(s.astype(np.int8)) <= before + 1e-9


def test_sync_two_cycle_runs_to_max_sweeps():
    net = HopfieldNetwork(2, seed=0).store([[1, -1]])  # W = [[0, -1/2], [-1/2, 0]]
    ds = net.recall([1, 1], mode="sync", max_sweeps=7)
    assert not bool(ds.converged[0]) and int(ds.sweeps[0]) == 7
    np.testing.assert_array_equal(ds.state.values[0, :3], [[1, 1], [-1, -1], [1, 1]])
    ds = net.recall([1, 1], mode="async", max_sweeps=7)
    assert bool(ds.converged[0]) and int(ds.sweeps[0]) == 2


def test_energy_function():
    g = np.random.default_rng(4)
    net = HopfieldNetwork(20, rule="pinv").store(pm1(g, (3, 20)))
    s = pm1(g, (5, 20))
    E = net.energy(s)
    assert E.shape == (5,)
    np.testing.assert_allclose(E, [-0.5 * x @ net.weights @ x for x in s.astype(float)])
    assert isinstance(net.energy(s[0]), float)


# ------------------------------------------------------------------ data model and reproducibility
def test_dataset_schema():
    g = np.random.default_rng(5)
    X = pm1(g, (3, 30))
    cues = flip(g, X, 0.2)
    ds = HopfieldNetwork(30, seed=1).store(X).recall(cues, temperature=0.1, max_sweeps=20)
    assert set(ds.dims) == {"cue", "sweep", "unit", "pattern"}
    assert ds.state.dtype == np.int8 and ds.state.dims == ("cue", "sweep", "unit")
    assert ds.final_state.dtype == np.int8 and ds.final_state.dims == ("cue", "unit")
    assert ds.energy.dims == ("cue", "sweep") and ds.energy.dtype == np.float64
    assert ds.overlap.dims == ("cue", "sweep", "pattern")
    assert ds.converged.dtype == bool and ds.sweeps.dtype == np.int64
    assert (ds.sweep.values == np.arange(ds.sizes["sweep"])).all()
    assert ds.sizes["sweep"] == int(ds.sweeps.max()) + 1
    np.testing.assert_array_equal(ds.state.values[:, 0], cues)
    assert np.abs(ds.overlap.values).max() <= 1
    for key, val in dict(family="HN", model="HopfieldNetwork", n_units=30, rule="hebbian",
                         units="bipolar", mode="async", temperature=0.1, max_sweeps=20, seed=1,
                         backend="cpu", interrupted=0).items():
        assert ds.attrs[key] == val, key


def test_sweep_zero_is_the_cue():
    g = np.random.default_rng(6)
    X = pm1(g, (2, 25))
    cues = flip(g, X, 0.3)
    ds = HopfieldNetwork(25, seed=0).store(X).recall(cues)
    np.testing.assert_array_equal(ds.state.values[:, 0], cues)
    np.testing.assert_allclose(ds.overlap.values[:, 0], cues @ X.T / 25)


def test_monitor_every_and_index():
    g = np.random.default_rng(7)
    X = pm1(g, (3, 40))
    cues = flip(g, X, 0.4)
    net = HopfieldNetwork(40, seed=2).store(X)
    full = net.recall(cues, temperature=0.5, max_sweeps=30)
    part = net.recall(cues, temperature=0.5, max_sweeps=30,
                      monitor=record.Monitor(every=4, index=[1, 5, 7]))
    assert (part.sweep.values == full.sweep.values[::4]).all()
    assert (part.unit.values == [1, 5, 7]).all()
    np.testing.assert_array_equal(part.state.values, full.state.values[:, ::4][:, :, [1, 5, 7]])
    np.testing.assert_array_equal(part.energy.values, full.energy.values[:, ::4])
    np.testing.assert_array_equal(part.final_state.values, full.final_state.values[:, [1, 5, 7]])
    final = net.recall(cues, temperature=0.5, max_sweeps=30, record="final")
    assert "state" not in final
    np.testing.assert_array_equal(final.final_state.values, full.final_state.values)
    np.testing.assert_array_equal(final.overlap.values, full.overlap.values)


def test_same_seed_same_dataset_and_seed_matters():
    g = np.random.default_rng(8)
    X = pm1(g, (4, 50))
    cues = flip(g, X, 0.3)
    net = HopfieldNetwork(50, seed=7).store(X)
    a = net.recall(cues, temperature=0.4, max_sweeps=15)
    b = HopfieldNetwork(50, seed=7).store(X).recall(cues, temperature=0.4, max_sweeps=15)
    assert a.identical(b)
    c = net.recall(cues, temperature=0.4, max_sweeps=15, seed=8)
    assert not np.array_equal(a.state.values[:, :3], c.state.values[:, :3])
    # cue k alone draws the same stream as in a batch
    solo = net.recall(cues[:1], temperature=0.4, max_sweeps=15)
    np.testing.assert_array_equal(solo.final_state.values[0], a.final_state.values[0])


def test_results_do_not_depend_on_thread_count(tmp_path):
    script = textwrap.dedent("""
        import sys, numpy as np
        from neurosim.energy import HopfieldNetwork
        g = np.random.default_rng(0)
        X = np.where(g.random((5, 120)) < 0.5, -1, 1)
        cues = np.tile(X, (4, 1))[:16] * np.where(g.random((16, 120)) < 0.3, -1, 1)
        net = HopfieldNetwork(120, seed=3).store(X)
        net.recall(cues, temperature=0.3, max_sweeps=20).to_netcdf(sys.argv[1] + "_async.nc")
        net.recall(cues, mode="sync", temperature=0.3, max_sweeps=20).to_netcdf(sys.argv[1] + "_sync.nc")
    """)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for threads in ("1", "2"):
        env = dict(os.environ, NUMBA_NUM_THREADS=threads, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
        subprocess.run([sys.executable, "-c", script, str(tmp_path / threads)], env=env, check=True)
    for kind in ("async", "sync"):
        one = xr.load_dataset(tmp_path / f"1_{kind}.nc")
        two = xr.load_dataset(tmp_path / f"2_{kind}.nc")
        assert one.identical(two)


def test_binary_units():
    g = np.random.default_rng(9)
    Xb = pm1(g, (3, 30))
    X01 = (Xb + 1) // 2
    nb = HopfieldNetwork(30, seed=1).store(Xb)
    n01 = HopfieldNetwork(30, units="binary", seed=1).store(X01)
    np.testing.assert_array_equal(n01.weights, nb.weights)
    np.testing.assert_array_equal(n01.patterns, X01)
    cues = flip(g, Xb, 0.2)
    a, b = nb.recall(cues), n01.recall((cues + 1) // 2)
    assert set(np.unique(b.state.values)) <= {0, 1}
    np.testing.assert_array_equal(b.state.values, (a.state.values + 1) // 2)
    np.testing.assert_array_equal(b.energy.values, a.energy.values)
    np.testing.assert_array_equal(b.overlap.values, a.overlap.values)
    np.testing.assert_allclose(n01.energy(b.final_state.values), a.energy.values[:, -1])


def test_interrupt_returns_what_was_recorded(monkeypatch, ctrl_c):
    monkeypatch.setattr(config, "CHUNK_WORK", 1)   # one sweep per chunk
    g = np.random.default_rng(10)
    X = pm1(g, (2, 30))
    ds = HopfieldNetwork(30, seed=0).store(X).recall(X, temperature=5.0, max_sweeps=50)
    assert ds.attrs["interrupted"] == 1
    assert ds.sizes["sweep"] == 2 and (ds.sweeps.values == 1).all() and not ds.converged.any()


@pytest.mark.parametrize("kw", [dict(temperature=0.4, max_sweeps=17),
                                dict(mode="sync", temperature=0.3, max_sweeps=9, record="final"),
                                dict(temperature=0.5, max_sweeps=30, monitor=record.Monitor(every=3, index=[2, 0]))])
def test_recall_streamed_to_disk_is_the_recall_in_memory(monkeypatch, tmp_path, kw):
    """store=: the records go to the file chunk by chunk (several chunks here) and the Dataset
    opened from it is the in-memory one."""
    monkeypatch.setattr(config, "CHUNK_WORK", 2 * 8 * 30)   # two sweeps per chunk
    g = np.random.default_rng(18)
    X = pm1(g, (3, 30))
    cues = flip(g, np.repeat(X, 3, axis=0)[:8], 0.3)
    net = HopfieldNetwork(30, seed=4).store(X)
    mem = net.recall(cues, **kw)
    with net.recall(cues, store=tmp_path / "recall.nc", **kw) as disk:
        assert disk["overlap"].variable._in_memory is False
        xr.testing.assert_identical(disk.load(), mem)
    assert mem.sizes["sweep"] > 3


RECALL = """
import numpy as np
from neurosim import config
from neurosim.energy import HopfieldNetwork
config.CHUNK_WORK = 4 * 40            # one sweep per chunk
X = np.where(np.random.default_rng(0).random((3, 40)) < 0.5, -1, 1)
cues = np.concatenate([X, X[:1]])
ds = HopfieldNetwork(40, seed=1).store(X).recall(cues, temperature=20.0, max_sweeps=50)
"""


@pytest.mark.parametrize("when, sweeps", [("setup", 0), ("run", 1)])
def test_real_ctrl_c_during_set_up_and_mid_recall(tmp_path, when, sweeps):
    """SIGINT in a subprocess: the recall returns the cues (set-up) or the first chunk's sweep."""
    ds = interrupted_run(RECALL, when, tmp_path)
    assert ds.attrs["interrupted"] == 1
    assert ds.sweep.values.tolist() == list(range(sweeps + 1))
    assert (ds.sweeps.values == sweeps).all() and not ds.converged.any()
    assert ds.state.shape == (4, sweeps + 1, 40) and ds.final_state.shape == (4, 40)


def test_progress_bar_runs(capsys):
    g = np.random.default_rng(16)
    X = pm1(g, (2, 20))
    ds = HopfieldNetwork(20, seed=0).store(X).recall(X, progress=True)
    assert ds.converged.all()


# ------------------------------------------------------------------ persistence
def test_save_load_round_trip(tmp_path):
    g = np.random.default_rng(17)
    for rule, units in (("hebbian", "bipolar"), ("storkey", "binary"), ("pinv", "bipolar")):
        X = pm1(g, (4, 36))
        if units == "binary":
            X = (X + 1) // 2
        net = HopfieldNetwork(36, rule=rule, units=units, seed=5).store(X)
        path = net.save(tmp_path / f"{rule}.nc")
        back = HopfieldNetwork.load(path)
        assert (back.rule, back.units, back.seed, back.n_units) == (rule, units, 5, 36)
        np.testing.assert_array_equal(back.weights, net.weights)
        np.testing.assert_array_equal(back.patterns, net.patterns)
        cues = X[:2]
        assert back.recall(cues, temperature=0.2, max_sweeps=10).identical(
            net.recall(cues, temperature=0.2, max_sweeps=10))
    ds = net.recall(X[:2])
    record.save(ds, tmp_path / "ds.nc")
    assert record.load(tmp_path / "ds.nc").identical(ds)
    mh = ModernHopfield(beta=2.0, seed=1).store(g.normal(size=(5, 8)))
    back = ModernHopfield.load(mh.save(tmp_path / "mh.nc"))
    assert back.beta == 2.0 and back.seed == 1
    np.testing.assert_array_equal(back.patterns, mh.patterns)
    with pytest.raises(ValueError, match="HopfieldNetwork"):
        HopfieldNetwork.load(tmp_path / "mh.nc")


def test_seeds_round_trip_losslessly(tmp_path):
    for seed in (2**70, np.random.SeedSequence(5, spawn_key=(1, 2)), None):
        net = HopfieldNetwork(8, seed=seed).store(pm1(np.random.default_rng(0), (2, 8)))
        back = HopfieldNetwork.load(net.save(tmp_path / "n.nc"))
        a = net.recall(np.ones(8), temperature=1.0, max_sweeps=3, seed=seed or 0)
        if seed is None:
            assert back.seed is None
        else:
            assert rng.to_attr(back.seed) == rng.to_attr(seed)
            assert back.recall(np.ones(8), temperature=1.0, max_sweeps=3).identical(
                net.recall(np.ones(8), temperature=1.0, max_sweeps=3))
        assert a.attrs["seed"] == rng.to_attr(seed or 0)
        mh = ModernHopfield(seed=seed).store(np.eye(3))
        assert rng.to_attr(ModernHopfield.load(mh.save(tmp_path / "m.nc")).seed) == rng.to_attr(seed)


@pytest.mark.parametrize("cls, other", [(HopfieldNetwork, ModernHopfield), (ModernHopfield, HopfieldNetwork)])
def test_load_refuses_foreign_truncated_and_other_model_files(tmp_path, cls, other):
    g = np.random.default_rng(19)
    X = pm1(g, (3, 12))
    good = (HopfieldNetwork(12, seed=1).store(X) if cls is HopfieldNetwork
            else ModernHopfield(seed=1).store(X.astype(float))).save(tmp_path / "good.nc")
    theirs = (HopfieldNetwork(12).store(X) if other is HopfieldNetwork
              else ModernHopfield().store(X.astype(float))).save(tmp_path / "other.nc")
    foreign = tmp_path / "foreign.nc"
    xr.Dataset({"weights": (("unit", "source"), np.zeros((12, 12)))}).to_netcdf(foreign)
    cut = tmp_path / "cut.nc"
    cut.write_bytes(open(good, "rb").read()[:300])
    text = tmp_path / "notes.txt"
    text.write_text("not a network")
    for path, match in ((foreign, "no neurosim model"), (cut, "not a readable netCDF"),
                        (text, "not a readable netCDF"), (theirs, f"holds a {other.__name__}"),
                        (tmp_path / "missing.nc", "no such file")):
        with pytest.raises(ValueError, match=match) as err:
            cls.load(path)
        assert str(path) in str(err.value)
    lacking = tmp_path / "lacking.nc"
    xr.load_dataset(good).drop_vars(["weights" if cls is HopfieldNetwork else "patterns"]).to_netcdf(lacking)
    with pytest.raises(ValueError, match="lacks"):
        cls.load(lacking)


def test_load_refuses_weights_of_the_wrong_shape(tmp_path):
    path = HopfieldNetwork(6).save(tmp_path / "n.nc")
    ds = xr.load_dataset(path)
    ds.attrs["n_units"] = 7
    ds.to_netcdf(tmp_path / "bad.nc")
    with pytest.raises(ValueError, match="bad.nc: weights of shape"):
        HopfieldNetwork.load(tmp_path / "bad.nc")


# ------------------------------------------------------------------ bad input
@pytest.fixture
def net():
    return HopfieldNetwork(6, seed=0).store([[1, -1, 1, -1, 1, -1], [1, 1, 1, -1, -1, -1]])


@pytest.mark.parametrize("kwargs, err, match", [
    (dict(n_units=1), ValueError, "n_units"),
    (dict(n_units=2.5), TypeError, "n_units"),
    (dict(n_units=5, rule="oja"), ValueError, "rule"),
    (dict(n_units=5, units="ternary"), ValueError, "units"),
    (dict(n_units=5, seed=-1), ValueError, "seed"),
    (dict(n_units=5, seed="x"), TypeError, "seed"),
    (dict(n_units=5, backend="tpu"), ValueError, "backend"),
])
def test_bad_constructor_arguments(kwargs, err, match):
    n = kwargs.pop("n_units")
    with pytest.raises(err, match=match):
        HopfieldNetwork(n, **kwargs)


@pytest.mark.parametrize("patterns, match", [
    (np.ones((2, 5)), r"patterns must have shape \(P, 6\)"),
    (np.zeros((0, 6)), "patterns must not be empty"),
    ([[1, -1, 1, -1, 1, 0]], "patterns must hold only -1 and 1"),
    ([[1, -1, 1, -1, 1, 2]], "patterns must hold only -1 and 1"),
    ([[1, -1, 1, -1, 1, np.nan]], "patterns must be finite"),
    ([[1, -1, 1, -1, 1, np.inf]], "patterns must be finite"),
    (np.ones((2, 2, 6)), "patterns must be 1-D or 2-D"),
    ([["a"] * 6], "patterns must be numeric"),
])
def test_bad_patterns(patterns, match):
    with pytest.raises((ValueError, TypeError), match=match):
        HopfieldNetwork(6).store(patterns)


def test_binary_units_reject_bipolar_patterns():
    with pytest.raises(ValueError, match="only 0 and 1"):
        HopfieldNetwork(3, units="binary").store([[1, -1, 1]])


@pytest.mark.parametrize("cues, kwargs, match", [
    (np.ones(5), {}, r"cues must have shape \(6,\) or \(m, 6\)"),
    (np.ones((2, 7)), {}, "cues must have shape"),
    ([1, -1, 1, -1, 1, 0.5], {}, "cues must hold only -1 and 1"),
    ([1, -1, 1, -1, 1, np.nan], {}, "cues must be finite"),
    (np.ones(6), dict(temperature=-0.1), "temperature must be >= 0"),
    (np.ones(6), dict(temperature=np.inf), "temperature must be finite"),
    (np.ones(6), dict(max_sweeps=0), "max_sweeps must be >= 1"),
    (np.ones(6), dict(mode="random"), "mode must be one of"),
    (np.ones(6), dict(record="all"), "record must be one of"),
    (np.ones(6), dict(monitor=record.Monitor(index=[9])), r"index must hold unit numbers in \[0, 6\)"),
    (np.ones(6), dict(seed=-3), "seed must be >= 0"),
])
def test_bad_recall_arguments(net, cues, kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        net.recall(cues, **kwargs)


def test_recall_before_store_and_bad_energy_states(net):
    with pytest.raises(ValueError, match="store"):
        HopfieldNetwork(4).recall(np.ones(4))
    with pytest.raises(ValueError, match="states must have shape"):
        net.energy(np.ones(4))
    with pytest.raises(ValueError, match="states must hold only -1 and 1"):
        net.energy(np.zeros(6))


@pytest.mark.parametrize("call, match", [
    (lambda: ModernHopfield(beta=0), "beta must be > 0"),
    (lambda: ModernHopfield(beta=np.nan), "beta must be finite"),
    (lambda: ModernHopfield().store(np.ones(4)), "patterns must be 2-D"),
    (lambda: ModernHopfield().store([[1.0, np.nan]]), "patterns must be finite"),
    (lambda: ModernHopfield().recall(np.ones(3)), "store"),
    (lambda: ModernHopfield().store(np.ones((2, 3))).recall(np.ones(4)), r"cues must have shape \(3,\)"),
    (lambda: ModernHopfield().store(np.ones((2, 3))).recall(np.ones(3), max_steps=0), "max_steps"),
    (lambda: ModernHopfield().store(np.ones((2, 3))).recall(np.ones(3), tol=-1), "tol"),
])
def test_modern_bad_input(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


@settings(max_examples=30, deadline=None)
@given(arr=st.lists(st.lists(st.sampled_from([-2, -1, 0, 1, 2, 0.5]), min_size=6, max_size=6),
                    min_size=1, max_size=3))
def test_values_other_than_pm1_are_rejected(arr):
    a = np.asarray(arr, dtype=float)
    net = HopfieldNetwork(6)
    if np.isin(a, [-1, 1]).all():
        net.store(a)
    else:
        with pytest.raises(ValueError, match="patterns must hold only -1 and 1"):
            net.store(a)


def test_a_large_max_sweeps_is_an_upper_bound_not_an_allocation():
    from neurosim.datasets import random_patterns

    X = random_patterns(5, 200, seed=0)
    ds = HopfieldNetwork(200, seed=0).store(X).recall(X, seed=1, max_sweeps=10 ** 9)
    assert bool(ds.converged.all()) and ds.sizes["sweep"] == 2 and "source" not in ds.encoding
