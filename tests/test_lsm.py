"""Liquid state machine: readout algebra, the state filter kernel against a plain reference,
the jittered-template task (above chance, falling with jitter) and the memory curve."""
import numpy as np
import pytest
import xarray as xr

from neurosim.datasets.spikes import jittered_templates
from neurosim.kernels import spiking as K
from neurosim.spiking.lsm import LiquidStateMachine, jitter_curve, ridge


@pytest.fixture(scope="module")
def lsm():
    return LiquidStateMachine(4, seed=0)


def test_ridge_solves_the_regularised_normal_equations():
    gen = np.random.default_rng(0)
    X = gen.standard_normal((40, 6))
    Y = gen.standard_normal((40, 2))
    w0 = ridge(X, Y, 0.0)
    ref = np.linalg.lstsq(np.hstack([X, np.ones((40, 1))]), Y, rcond=None)[0]
    np.testing.assert_allclose(w0, ref, atol=1e-10)
    w = ridge(X, Y, 3.0)
    Xb = np.hstack([X, np.ones((40, 1))])
    grad = Xb.T @ (Xb @ w - Y) + 3.0 * np.vstack([w[:-1], np.zeros((1, 2))])
    np.testing.assert_allclose(grad, 0, atol=1e-9)
    with pytest.raises(ValueError, match="Y"):
        ridge(X, Y[:5], 1.0)
    with pytest.raises(ValueError, match="alpha"):
        ridge(X, Y, -1.0)


@pytest.mark.kernel
def test_filtered_counts_matches_reference():
    gen = np.random.default_rng(1)
    st = np.sort(gen.integers(0, 500, 300))
    si = gen.integers(0, 7, 300)
    steps = np.array([0, 99, 250, 499])
    got = K.filtered_counts(st, si, 7, steps, 0.97)
    ref = np.zeros((4, 7))
    for r, T in enumerate(steps):
        for s, i in zip(st, si):
            if s <= T:
                ref[r, i] += 0.97 ** (T - s)
    np.testing.assert_allclose(got, ref, rtol=1e-12)


def test_jittered_templates_share_templates_and_jitter_moves_spikes():
    a, la, ta = jittered_templates(20, jitter=0.0, seed=3)
    b, lb, tb = jittered_templates(20, jitter=5e-3, seed=3)
    for (t1, c1), (t2, c2) in zip(ta, tb):
        np.testing.assert_array_equal(t1, t2)
        np.testing.assert_array_equal(c1, c2)
    np.testing.assert_array_equal(la, lb)
    for (t, c), lab in zip(a, la):          # no jitter: the template itself
        np.testing.assert_array_equal(t, ta[lab][0])
    assert any(not np.array_equal(t, ta[l][0]) for (t, _), l in zip(b, lb))
    assert all(np.all(np.diff(t) >= 0) and t.min() >= 0 and t.max() < 0.2 for t, _ in b)
    with pytest.raises(ValueError, match="jitter"):
        jittered_templates(5, jitter=-1.0)


def test_liquid_structure(lsm):
    assert lsm.n_liquid == 135 and lsm.n_inh == 27 and lsm.n_exc == 108
    net = lsm.network
    # distance-dependent wiring: connected pairs are closer than random pairs
    d_conn, d_all = [], []
    for pr in net.projections:
        if pr.pre is lsm.inputs:
            continue
        pre0 = 0 if pr.pre.name == "exc" else lsm.n_exc
        post0 = 0 if pr.post.name == "exc" else lsm.n_exc
        rows, cols = pr.W.nonzero()
        d = np.linalg.norm(lsm.positions[post0 + rows] - lsm.positions[pre0 + cols], axis=1)
        d_conn.append(d)
    P = lsm.positions
    d_all = np.linalg.norm(P[:, None] - P[None], axis=2)
    assert np.concatenate(d_conn).mean() < 0.6 * d_all.mean()
    assert all(pr.D is not None for pr in net.projections if pr.pre is not lsm.inputs)


def test_liquid_is_silent_without_input_and_deterministic(lsm):
    quiet = lsm.run((np.empty(0), np.empty(0, dtype=np.int64)), 0.1)
    assert quiet.sizes["spike"] == 0
    samples, _, _ = jittered_templates(2, seed=0)
    a = lsm.states(samples, 0.2, readout_times=[0.1, 0.2])
    b = lsm.states(samples, 0.2, readout_times=[0.1, 0.2])
    np.testing.assert_array_equal(a, b)
    assert a.shape == (2, 2 * 135) and a.max() > 0


def test_template_classification_beats_chance_and_falls_with_jitter():
    ds = jitter_curve([0.0, 64e-3], n_train=60, n_test=60, seed=0)
    acc = ds.accuracy.values
    assert ds.attrs["chance"] == 0.5
    assert acc[0] >= 0.9
    assert acc[1] < acc[0] - 0.1              # measured here: 1.0 -> 0.73
    assert ds.jitter.attrs["units"] == "s"


def test_memory_curve_decays_with_delay(lsm):
    ds = lsm.memory_curve(n_bins=300, bin=0.03, max_delay=6, seed=1)
    r2 = ds.r2.values
    assert r2[0] > 0.3                       # the current input is read out well
    assert r2[1] > r2[3:].max()              # the last bin is partly remembered
    assert r2[3:].max() < r2[0] - 0.25       # older inputs are forgotten
    assert ds.attrs["memory_capacity"] == pytest.approx(r2.sum())


def test_lsm_bad_input(lsm):
    with pytest.raises(ValueError, match="labels"):
        lsm.fit([(np.array([0.01]), np.array([0]))], [0, 1])
    with pytest.raises(ValueError, match="channels"):
        lsm.states([(np.array([0.01]), np.array([9]))], 0.1)
    with pytest.raises(ValueError, match="pair"):
        lsm.states([np.array([0.01])], 0.1)
    with pytest.raises(ValueError, match="readout_times"):
        lsm.states([(np.array([0.01]), np.array([0]))], 0.1, readout_times=[0.5])
    with pytest.raises(RuntimeError, match="fit"):
        LiquidStateMachine(2, shape=(3, 3, 1), seed=0).predict([(np.array([0.01]), np.array([0]))])
    with pytest.raises(ValueError, match="frac_inh"):
        LiquidStateMachine(2, frac_inh=1.5)


def test_lsm_save_load_gives_the_same_predictions(tmp_path):
    samples, labels, _ = jittered_templates(30, jitter=2e-3, seed=4)
    lsm = LiquidStateMachine(4, shape=(5, 3, 3), seed=2).fit(samples[:20], labels[:20])
    lsm.save(tmp_path / "lsm.nc")
    back = LiquidStateMachine.load(tmp_path / "lsm.nc")
    np.testing.assert_array_equal(back.decision_function(samples[20:]),
                                  lsm.decision_function(samples[20:]))
    assert back.n_liquid == 45 and back.alpha == lsm.alpha


# ------------------------------------------------- the run contract: store, Ctrl+C, seeds, files

def small_lsm(seed=2):
    return LiquidStateMachine(4, shape=(5, 3, 3), seed=seed)


def test_run_with_store_gives_the_in_memory_dataset(tmp_path):
    samples, _, _ = jittered_templates(1, seed=0)
    lsm = small_lsm()
    mem = lsm.run(samples[0], 0.1, chunk=300)
    disk = lsm.run(samples[0], 0.1, chunk=300, store=tmp_path / "lsm-run.nc")
    try:
        assert mem.sizes["spike"] > 0 and mem.attrs["model"] == "LiquidStateMachine"
        xr.testing.assert_identical(disk.load(), mem)
    finally:
        disk.close()
    xr.testing.assert_identical(lsm.run(samples[0], 0.1), mem)   # chunks change nothing


LSM_RUN = """
from neurosim.datasets.spikes import jittered_templates
from neurosim.spiking import LiquidStateMachine
samples, _, _ = jittered_templates(1, seed=0)
ds = LiquidStateMachine(4, shape=(5, 3, 3), seed=2).run(samples[0], 0.1, chunk=300)
"""


@pytest.mark.parametrize("when", ["setup", "run"])
def test_ctrl_c_during_a_run_keeps_what_was_recorded(tmp_path, when):
    from interrupt import interrupted_run

    ds = interrupted_run(LSM_RUN, when, tmp_path)
    done = 0 if when == "setup" else 300
    assert ds.attrs["interrupted"] == 1 and ds.sizes["time"] == done
    samples, _, _ = jittered_templates(1, seed=0)
    full = small_lsm().run(samples[0], 0.1, chunk=300)
    first = full.isel(time=slice(0, done), spike=full.spike_time.values < done * 1e-4)
    xr.testing.assert_equal(ds, first)


def test_liquid_seeds_are_children_of_the_seed():
    from neurosim import rng

    lsm = small_lsm(seed=9)
    assert rng.to_attr(lsm.network.seed) == rng.to_attr(rng.child(9, 1))
    with pytest.raises(ValueError, match="seed"):
        LiquidStateMachine(2, shape=(3, 3, 1), seed=np.random.SeedSequence([1, 2]))


@pytest.mark.parametrize("seed", [3, 2 ** 70, None])
def test_seed_survives_save_and_load(tmp_path, seed):
    from neurosim import rng

    lsm = LiquidStateMachine(2, shape=(3, 3, 1), seed=seed)
    lsm.save(tmp_path / "lsm.nc")
    back = LiquidStateMachine.load(tmp_path / "lsm.nc")
    assert rng.to_attr(back.seed) == rng.to_attr(seed)
    assert rng.to_attr(back.network.seed) == rng.to_attr(lsm.network.seed)
    sample = (np.array([0.01, 0.02]), np.array([0, 1]))
    xr.testing.assert_identical(back.run(sample, 0.05), lsm.run(sample, 0.05))


def test_load_refuses_foreign_truncated_and_other_model_files(tmp_path):
    from neurosim.spiking import LIF, Network

    path = tmp_path / "lsm.nc"
    LiquidStateMachine(2, shape=(3, 3, 1), seed=0).save(path)
    net = Network(1e-4, seed=0)
    net.add(LIF(3))
    net.save(tmp_path / "net.nc")
    foreign = tmp_path / "foreign.nc"
    xr.Dataset({"x": ("a", np.arange(3.0))}).to_netcdf(foreign)
    truncated = tmp_path / "truncated.nc"
    truncated.write_bytes(path.read_bytes()[:path.stat().st_size // 2])
    for bad, match in ((foreign, "no neurosim model"), (truncated, "not a readable netCDF"),
                       (tmp_path / "net.nc", "holds a Network")):
        with pytest.raises(ValueError, match=match) as err:
            LiquidStateMachine.load(bad)
        assert str(bad) in str(err.value)
    with xr.open_dataset(path) as ds:
        ds.load().drop_vars("positions").to_netcdf(tmp_path / "partial.nc")
    with pytest.raises(ValueError, match="positions"):
        LiquidStateMachine.load(tmp_path / "partial.nc")


def test_lsm_labels_and_samples_are_checked_before_the_liquid_runs(lsm):
    sample = (np.array([0.01, 0.02]), np.array([0, 1]))
    with pytest.raises(ValueError, match=r"labels must hold class labels \(whole numbers\); got 0.5"):
        lsm.fit([sample, sample], [0.5, 1.5])      # used to be truncated to 0 and 1
    with pytest.raises(TypeError, match=r"samples\[0\] times must be real"):
        lsm.fit([(np.array([0.01j]), np.array([0])), sample], [0, 1])
    with pytest.raises(ValueError, match=r"samples\[1\] times must be finite"):
        lsm.states([sample, (np.array([np.nan]), np.array([0]))], 0.1)
    with pytest.raises(ValueError, match=r"samples\[0\] must be a pair"):
        lsm.fit([np.ones(3), sample], [0, 1])     # used to fail unpacking, in the default duration
    with pytest.raises(TypeError, match=r"samples\[0\] channels must be integers"):
        lsm.states([(np.array([0.01]), np.array([0.5]))], 0.1)
    with pytest.raises(ValueError, match="samples must hold at least one"):
        lsm.states([], 0.1)
    assert lsm.states([sample, ([], [])], 0.05).shape[0] == 2     # no spikes is an input too
