"""The example sweep experiments against theory: SK annealing (energy per spin falling with the
number of sweeps towards Parisi's -0.7633, about 0 at infinite temperature) and the ESN error
map on Mackey-Glass (small, finite errors for sensible reservoirs, far below the naive
persistence forecast); their sweep configs and the figure's reference line."""
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import neurosim.sweeps as S
from neurosim.sweeps import result as R

ROOT = Path(__file__).resolve().parents[1]


# -- SK energy against sweeps -------------------------------------------------------------------
def test_sk_energy_falls_with_sweeps_towards_parisi():
    """Mean over 3 instances of N = 200: slower cooling reaches lower energy per spin, and 1000
    sweeps come within finite-size distance of Parisi's -0.7633 (about +0.7 N^(-2/3) = +0.02)."""
    def e(sweeps):
        return np.mean([float(S.sk_energy(200, sweeps, seed=s).energy_per_spin) for s in range(3)])

    fast, medium, slow = e(10), e(100), e(1000)
    assert fast > medium > slow
    assert -0.80 < slow < -0.70
    assert fast - slow > 0.03


def test_sk_energy_at_infinite_temperature_is_about_zero():
    """At beta -> 0 the spins are uniform: E / N has mean 0 and std about 1 / sqrt(2 N) per read."""
    ds = S.sk_energy(400, 3, seed=2, reads=16, beta_hot=1e-4, beta_cold=1e-4)
    assert abs(float(ds.energy_per_spin)) < 4 / np.sqrt(2 * 400 * 16)
    assert 0.3 / np.sqrt(2 * 400) < float(ds.energy_per_spin_std) < 3 / np.sqrt(2 * 400)


def test_sk_energy_dataset_and_reproducibility():
    ds = S.sk_energy(64, 50, seed=3, reads=4)
    assert set(ds.data_vars) == {"energy_per_spin", "energy_per_spin_best", "energy_per_spin_std"}
    assert all(ds[v].ndim == 0 for v in ds.data_vars)
    assert float(ds.energy_per_spin_best) <= float(ds.energy_per_spin)
    assert ds.energy_per_spin.attrs["reference"] == pytest.approx(-0.7633)
    assert ds.attrs["family"] == "BM" and ds.attrs["n_units"] == 64 and ds.attrs["sweeps"] == 50
    xr.testing.assert_identical(ds, S.sk_energy(64, 50, seed=3, reads=4))
    assert float(S.sk_energy(64, 50, seed=4, reads=4).energy_per_spin) != float(ds.energy_per_spin)


def test_sk_energy_bad_input():
    with pytest.raises(ValueError, match="n_units"):
        S.sk_energy(1, 10)
    with pytest.raises(ValueError, match="sweeps"):
        S.sk_energy(10, 0)
    with pytest.raises(ValueError, match="reads"):
        S.sk_energy(10, 10, reads=0)
    with pytest.raises(ValueError, match="beta_range"):
        S.sk_energy(10, 10, beta_hot=2.0, beta_cold=1.0)


# -- ESN error map ------------------------------------------------------------------------------
def persistence_nrmse(n_train=2000, n_test=500, seed=0):
    """NRMSE of the naive forecast x(t + 1) = x(t) on the same test part (a plain reference)."""
    from neurosim.datasets import mackey_glass

    s_series, _ = np.random.SeedSequence(seed).spawn(2)
    X = mackey_glass(n_train + n_test + 1, seed=int(s_series.generate_state(1)[0]))[:, 0]
    truth, naive = X[n_train + 1:], X[n_train:-1]
    return np.sqrt(np.mean((truth - naive) ** 2)) / truth.std()


def test_esn_error_small_for_sensible_settings():
    """Radius 0.9, leak 0.3: one-step NRMSE finite, below 0.02 and at least 10x better than
    persistence; training and test errors agree (no overfitting of 200 units on 1900 steps)."""
    ds = S.esn_error(0.9, 0.3, seed=0)
    err = float(ds.nrmse)
    assert np.isfinite(err) and 0 < err < 0.02
    assert err < persistence_nrmse(seed=0) / 10
    assert float(ds.log10_nrmse) == pytest.approx(np.log10(err))
    assert 0.3 < float(ds.train_nrmse) / err < 3
    assert ds.attrs["family"] == "ESN" and ds.attrs["spectral_radius"] == 0.9 and ds.attrs["leak"] == 0.3


def test_esn_error_worse_without_memory():
    """Weak recurrence and slow units (radius 0.1, leak 0.1: little more than a low-pass filter of
    the input) predict clearly worse than a sensible reservoir."""
    good = float(S.esn_error(0.9, 0.3, seed=1, n_units=100, n_train=1000, n_test=300).nrmse)
    poor = float(S.esn_error(0.1, 0.1, seed=1, n_units=100, n_train=1000, n_test=300).nrmse)
    assert poor > 5 * good


def test_esn_error_reproducible_and_bad_input():
    a = S.esn_error(0.8, 0.5, seed=2, n_units=50, n_train=300, n_test=100)
    xr.testing.assert_identical(a, S.esn_error(0.8, 0.5, seed=2, n_units=50, n_train=300, n_test=100))
    with pytest.raises(ValueError, match="leak"):
        S.esn_error(0.9, 0.0, n_units=20, n_train=100, n_test=10, washout=10)
    with pytest.raises(ValueError, match="spectral_radius"):
        S.esn_error(-1.0, 0.5, n_units=20, n_train=100, n_test=10, washout=10)
    with pytest.raises(ValueError, match="washout"):
        S.esn_error(0.9, 0.5, n_units=20, n_train=100, n_test=10, washout=100)


# -- configs and figures ------------------------------------------------------------------------
@pytest.mark.parametrize("name,fn,dims", [("sk_energy", "sk_energy", ["n_units", "sweeps"]),
                                         ("esn_error", "esn_error", ["leak", "spectral_radius"])])
def test_example_configs_are_valid(name, fn, dims):
    kw = S.read_config(ROOT / "examples" / "sweeps" / f"{name}.toml")
    assert kw["fn"] == fn and list(kw["grid"]) == dims
    assert S.resolve(fn)[0] is S.EXPERIMENTS[fn]


def _combined(fn, axes, seeds, **fixed):
    """The sweep result of ``fn`` over ``axes`` x ``seeds``, computed in-process."""
    import itertools

    results = {}
    for index in itertools.product(*[range(len(v)) for _, v in axes], range(len(seeds))):
        kw = {a: v[i] for (a, v), i in zip(axes, index)}
        results[index] = fn(**kw, seed=seeds[index[-1]], **fixed)
    return R.combine(axes, seeds, results, {}, name=fn.__name__, fixed=fixed, store=None, interrupted=False)


def _hlines(fig, y):
    return [line for ax in fig.axes for line in ax.get_lines()
            if len(line.get_ydata()) == 2 and np.allclose(line.get_ydata(), y)]


def test_sk_sweep_figure_draws_parisi_line():
    ds = _combined(S.sk_energy, [("n_units", [32, 64]), ("sweeps", [5, 500])], [0, 1], reads=2)
    assert ds.energy_per_spin.attrs["reference"] == pytest.approx(-0.7633)
    fig = S.plot(ds)
    assert _hlines(fig, -0.7633), "no Parisi line in the 2-D figure"
    assert any(ax.get_xscale() == "log" for ax in fig.axes)  # sweeps span a factor 100
    one = _combined(S.sk_energy, [("sweeps", [5, 50])], [0], n_units=32, reads=2)
    assert _hlines(S.plot(one), -0.7633), "no Parisi line in the 1-D figure"
    assert not _hlines(S.plot(one, "energy_per_spin_std"), -0.7633)
