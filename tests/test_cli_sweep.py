"""The command line for experiments at scale: ``neurosim sweep`` (configs, bad input, a real
local cluster), ``neurosim plot`` and ``neurosim animate``."""
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import neurosim.sweeps as S
from neurosim import cli, record
from neurosim.sweeps import result as R

ROOT = Path(__file__).resolve().parents[1]


def write(tmp_path, text, name="exp.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


GOOD = """
fn = "hopfield_capacity"
seeds = 2
store = "points"
[grid]
n_units = [50, 80]
alpha = {start = 0.05, stop = 0.25, num = 3}
[fixed]
rule = "hebbian"
flip = 0.05
"""


def test_sweep_config_reads_the_grid(tmp_path):
    kwargs, name = cli.sweep_config(write(tmp_path, GOOD))
    assert name == "exp" and kwargs["fn"] == "hopfield_capacity" and kwargs["store"] == "points"
    assert kwargs["grid"] == {"n_units": [50, 80], "alpha": [0.05, 0.15, 0.25]}
    assert kwargs["seeds"] == [0, 1] and kwargs["fixed"] == {"rule": "hebbian", "flip": 0.05}
    assert kwargs["batch"] is None


def test_example_config_is_valid():
    kwargs, name = cli.sweep_config(ROOT / "examples" / "sweeps" / "hopfield_capacity.toml")
    assert name == "hopfield_capacity" and kwargs["fn"] == "hopfield_capacity"
    alpha = kwargs["grid"]["alpha"]
    assert len(alpha) == 15 and alpha[0] == 0.02 and alpha[-1] == 0.3 and 0.14 in alpha
    assert len(kwargs["grid"]["n_units"]) >= 3 and len(kwargs["seeds"]) >= 2


@pytest.mark.parametrize("edit, match", [
    (('seeds = 2', 'seeds = 2\ncolour = "red"'), r"unknown top-level key.*colour"),
    (('fn = "hopfield_capacity"', ''), "needs fn"),
    (('fn = "hopfield_capacity"', 'fn = "nope"'), "experiments"),
    (('fn = "hopfield_capacity"', 'fn = "no_such_module_q:f"'), "cannot import module"),
    (("n_units = [50, 80]", "n_units = 50"), r"\[grid\] n_units must be a list"),
    (("n_units = [50, 80]", "n_units = []"), "at least one value"),
    (("n_units = [50, 80]", "n_units = [50, 'x']"), "one kind"),
    (("n_units = [50, 80]", "n_units = [50, 50]"), "distinct"),
    (("num = 3}", "step = 0.1}"), r"needs exactly the keys"),
    (("num = 3}", "num = 0}"), "num must be"),
    (("start = 0.05", "start = 'a'"), "start and stop must be numbers"),
    (("[grid]", "[grid]\ntemperature = [0.0, 1.0]"), r"grid names parameter\(s\) \['temperature'\]"),
    (("[fixed]", "[fixed]\nlearning = 'oja'"), r"fixed names parameter\(s\) \['learning'\]"),
    (("[fixed]", "[fixed]\nseed = 3"), "fixed may not set 'seed'"),
    (("[fixed]", "[fixed]\nmax_sweeps = {a = 1}"), r"\[fixed\] max_sweeps"),
    (("[fixed]", "[fixed]\nn_units = 50"), r"n_units.*both in grid and in fixed"),
    (("seeds = 2", "seeds = 0"), "seeds"),
    (("seeds = 2", "seeds = [1, -1]"), "seeds"),
    (("seeds = 2", "seeds = 2\nbatch = 0"), "batch"),
    (('store = "points"', "store = 5"), "store must be a folder name"),
    (("[grid]\nn_units = [50, 80]\nalpha = {start = 0.05, stop = 0.25, num = 3}", ""), r"\[grid\] must be a table"),
    (("[fixed]", "[fixed]\n[fixed]"), "TOML"),
])
def test_bad_sweep_configs_name_the_key(tmp_path, edit, match):
    text = GOOD.replace(*edit, 1)
    assert text != GOOD
    with pytest.raises(cli.ConfigError, match=match):
        cli.sweep_config(write(tmp_path, text))


def test_sweep_command_errors_are_one_line_with_status_2(tmp_path, capsys):
    cfg = write(tmp_path, GOOD)
    assert cli.main(["sweep", str(write(tmp_path, GOOD + "\nbogus = 1\n", "bad.toml"))]) == 2
    err = capsys.readouterr().err
    assert "bogus" in err and err.count("\n") == 1 and err.startswith("neurosim sweep: error:")
    assert cli.main(["sweep", str(tmp_path / "missing.toml")]) == 2
    assert "not found" in capsys.readouterr().err
    assert cli.main(["sweep", str(cfg), "--workers", "2", "--scheduler", "tcp://127.0.0.1:9"]) == 2
    assert "--workers" in capsys.readouterr().err
    assert cli.main(["sweep", str(cfg), "--workers", "0"]) == 2
    assert "--workers must be >= 1" in capsys.readouterr().err
    out = tmp_path / "run"
    assert cli.main(["sweep", str(cfg), "--scheduler", "tcp://127.0.0.1:9", "--timeout", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "could not reach the Dask scheduler" in err and err.count("\n") == 1
    assert not (out / "points").exists()


def test_sweep_without_dask_names_the_extra(tmp_path, capsys, monkeypatch):
    """The README's plain install has no Dask: one line naming the extra, status 2, nothing written."""
    import sys

    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    out = tmp_path / "run"
    assert cli.main(["sweep", str(write(tmp_path, GOOD)), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("neurosim sweep: error:") and err.count("\n") == 1
    assert 'pip install "neurosim[dist]"' in err and not out.exists()


def test_sweep_command_refuses_a_store_of_another_grid(tmp_path, capsys):
    store = tmp_path / "points"
    manifest = {"format": S.FORMAT, "fn": "hopfield_capacity", "grid": [["n_units", [50]], ["alpha", [0.1]]],
                "seeds": [0, 1], "fixed": {"rule": "hebbian", "flip": 0.05}}
    S.Store(store, manifest).create()
    before = (store / "manifest.json").read_bytes()
    assert cli.main(["sweep", str(write(tmp_path, GOOD)), "--out", str(tmp_path)]) == 2
    assert "holds a different sweep" in capsys.readouterr().err
    assert (store / "manifest.json").read_bytes() == before and not list((store / "points").iterdir())


def test_interrupted_sweep_exits_130_and_says_how_to_resume(tmp_path, monkeypatch, capsys):
    ds = xr.Dataset(attrs={"interrupted": 1, "n_points": 10, "n_failed": 0, "n_missing": 6, "store": "pts"})
    monkeypatch.setattr(cli, "run_sweep", lambda *a, **k: (ds, None))
    assert cli.main(["sweep", "x.toml"]) == 130
    err = capsys.readouterr().err
    assert "4 of 10 points done" in err and "again to resume" in err


# -- figures --------------------------------------------------------------------------------------
def capacity_like(seeds=(0, 1, 2)):
    """A sweep result over n_units x alpha x seed with known values (no cluster needed)."""
    axes = [("n_units", [50, 100, 200]), ("alpha", [0.05, 0.1, 0.15, 0.2])]
    g = np.random.default_rng(1)
    results = {}
    for index in np.ndindex(3, 4, len(seeds)):
        results[index] = xr.Dataset({"overlap": ((), g.uniform()), "sweeps": ((), float(sum(index)))},
                                    attrs={"family": "HN", "rule": "hebbian"})
    return R.combine(axes, list(seeds), results, {}, name="hopfield_capacity", fixed={}, store=None,
                      interrupted=False)


def test_sweep_figure_is_the_seed_mean_over_the_grid():
    ds = capacity_like()
    fig = cli.figure(ds)
    ax_map, ax_lines = fig.axes[:2]
    image = ax_map.get_images()[0].get_array()
    np.testing.assert_allclose(image, ds.overlap.mean("seed").values)
    lines = [c.lines[0] for c in ax_lines.containers]  # the errorbar series, one per n_units
    assert len(lines) == 3
    np.testing.assert_allclose(lines[0].get_ydata(), ds.overlap.mean("seed").values[0])
    np.testing.assert_allclose(lines[0].get_xdata(), [0.05, 0.1, 0.15, 0.2])
    # HN sweeps over alpha mark the critical load 0.138
    assert any(np.allclose(ln.get_xdata(), S.ALPHA_C) for ln in ax_lines.get_lines())
    fig = cli.figure(ds, "sweeps")
    np.testing.assert_allclose(fig.axes[0].get_images()[0].get_array(), ds.sweeps.mean("seed").values)


def test_one_dim_and_string_grids_draw_lines():
    ds = capacity_like().isel(n_units=[1])
    ax = cli.figure(ds).axes[0]
    line = ax.containers[0].lines[0]
    np.testing.assert_allclose(line.get_ydata(), ds.overlap.mean("seed").values[0])
    results = {(i, 0): xr.Dataset({"v": ((), float(i))}) for i in range(3)}
    ds = R.combine([("rule", ["hebbian", "storkey", "pinv"])], [0], results, {}, name="f", fixed={},
                    store=None, interrupted=False)
    ax = cli.figure(ds).axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["hebbian", "storkey", "pinv"]
    np.testing.assert_allclose(ax.containers[0].lines[0].get_ydata(), [0, 1, 2])


def recall_dataset(tmp_path, name="recall.nc"):
    from neurosim.datasets import letters, noisy
    from neurosim.energy import HopfieldNetwork

    xi, _, names = letters("HOP")
    net = HopfieldNetwork(xi.shape[1], rule="pinv", seed=0).store(xi)
    ds = net.recall(noisy(xi, 0.2, seed=1), seed=2).assign_coords(pattern=list(names))
    path = tmp_path / name
    ds.to_netcdf(path)
    return ds, path


def test_plot_command_writes_figures(tmp_path, capsys):
    from PIL import Image

    sweep_nc = tmp_path / "sweep.nc"
    capacity_like().to_netcdf(sweep_nc)
    assert cli.main(["plot", str(sweep_nc)]) == 0
    assert (tmp_path / "sweep.png").is_file()
    ds, recall_nc = recall_dataset(tmp_path)
    assert cli.main(["plot", str(recall_nc), "-o", str(tmp_path / "figs" / "r.png")]) == 0
    with Image.open(tmp_path / "figs" / "r.png") as im:
        assert im.size[0] > 300 and im.size[1] > 200
    fig = cli.figure(record.load(recall_nc))
    assert len(fig.axes[0].get_lines()) == ds.sizes["cue"]  # one energy trace per cue
    np.testing.assert_allclose(fig.axes[0].get_lines()[1].get_ydata(), ds.energy.values[1])
    # a Dataset with curves over a time-like dim, and one with nothing to draw
    xr.Dataset({"loss": ("epoch", [3.0, 2.0, 1.5])}, attrs={"family": "FF"}).to_netcdf(tmp_path / "fit.nc")
    assert cli.main(["plot", str(tmp_path / "fit.nc")]) == 0
    spikes = xr.Dataset(record.spike_events([0.001, 0.002, 0.004], [3, 0, 3]), attrs={"family": "LSM"})
    spikes.to_netcdf(tmp_path / "spikes.nc")
    assert cli.main(["plot", str(tmp_path / "spikes.nc")]) == 0
    np.testing.assert_array_equal(cli.figure(spikes).axes[0].get_lines()[0].get_ydata(), [3, 0, 3])
    capsys.readouterr()
    xr.Dataset({"w": (("a", "b"), np.zeros((2, 2)))}, attrs={"family": "KN"}).to_netcdf(tmp_path / "w.nc")
    assert cli.main(["plot", str(tmp_path / "w.nc")]) == 2
    assert "no default figure" in capsys.readouterr().err
    assert cli.main(["plot", str(sweep_nc), "--var", "nope"]) == 2
    assert "nope" in capsys.readouterr().err
    assert cli.main(["plot", str(sweep_nc), "--var", "error"]) == 2
    assert "not numeric" in capsys.readouterr().err
    assert cli.main(["plot", str(tmp_path / "missing.nc")]) == 2
    (tmp_path / "junk.nc").write_text("not netcdf")
    assert cli.main(["plot", str(tmp_path / "junk.nc")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_animate_command(tmp_path, capsys):
    from PIL import Image

    ds, path = recall_dataset(tmp_path)
    gif = tmp_path / "anim" / "recall.gif"
    assert cli.main(["animate", str(path), "-o", str(gif)]) == 0
    with Image.open(gif) as im:
        assert im.n_frames == ds.sizes["sweep"]
    assert cli.main(["animate", str(path), "-o", str(tmp_path / "two.gif"), "--cues", "0,2", "--shape", "12x12"]) == 0
    capsys.readouterr()
    assert cli.main(["animate", str(path), "--shape", "10x12"]) == 2
    assert "holds 120 units" in capsys.readouterr().err
    assert cli.main(["animate", str(path), "--shape", "big"]) == 2
    assert "--shape must look like" in capsys.readouterr().err
    assert cli.main(["animate", str(path), "--cues", "7"]) == 2
    assert "cues" in capsys.readouterr().err
    no_state = tmp_path / "final.nc"
    ds.drop_vars("state").to_netcdf(no_state)
    assert cli.main(["animate", str(no_state), "-o", str(tmp_path / "x.gif")]) == 2
    err = capsys.readouterr().err
    assert "no recorded states" in err and "record='sweeps'" in err and not (tmp_path / "x.gif").exists()
    odd = tmp_path / "odd.nc"
    ds.isel(unit=slice(0, 143)).to_netcdf(odd)
    assert cli.main(["animate", str(odd)]) == 2
    assert "--shape" in capsys.readouterr().err


# -- a real local cluster ---------------------------------------------------------------------
POINTS = '''
import os


def point(a, seed, marker):
    """Fails at a == 2 until the file marker exists."""
    if a == 2 and not os.path.exists(marker):
        raise RuntimeError("not yet")
    return {"v": float(a * 10 + seed)}
'''


@pytest.mark.slow
def test_sweep_command_on_a_local_cluster_records_failures_and_resumes(tmp_path, capsys):
    """``module:function`` next to the config; a failing point gives status 1 and is retried by
    the next run, which runs only that point; then the result plots."""
    (tmp_path / "cli_sweep_points.py").write_text(POINTS)
    marker = tmp_path / "ready"
    cfg = write(tmp_path, f'fn = "cli_sweep_points:point"\nseeds = [0, 1]\nstore = "pts"\n'
                          f'[grid]\na = [1, 2, 3]\n[fixed]\nmarker = "{marker}"\n', "cfg.toml")
    out = tmp_path / "out"
    assert cli.main(["sweep", str(cfg), "--workers", "1", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "2 point(s) failed" in err and "RuntimeError: not yet" in err
    first = record.load(out / "cfg.nc")
    assert np.isnan(first.v.values[1]).all() and first.v.values[2, 1] == 31.0
    stamps = {p.name: p.stat().st_mtime_ns for p in (out / "pts" / "points").glob("*.nc")}
    assert len(stamps) == 4
    marker.touch()
    assert cli.main(["sweep", str(cfg), "--workers", "1", "--out", str(out)]) == 0
    assert "wrote:" in capsys.readouterr().out
    ds = record.load(out / "cfg.nc")
    np.testing.assert_array_equal(ds.v.values, [[10, 11], [20, 21], [30, 31]])
    assert (ds.error.values == "").all()
    assert {p.name: p.stat().st_mtime_ns for p in (out / "pts" / "points").glob("*.nc")
            if p.name in stamps} == stamps  # the points already done were not run again
    assert cli.main(["plot", str(out / "cfg.nc")]) == 0
    assert (out / "cfg.png").is_file()
