"""The command line: demo, run from TOML (with bad configs), list, info."""
import os
from pathlib import Path
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr

from neurosim import cli, record, zoo


def write(tmp_path, text, name="exp.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


GOOD = """
family = "HN"
seed = 3
output = "out.nc"
[model]
rule = "hebbian"
[patterns]
source = "random"
count = 5
units = 100
[cues]
flip = 0.1
[recall]
max_sweeps = 20
"""


def test_run_config_writes_a_dataset_that_recalls(tmp_path):
    ds, out = cli.run_config(write(tmp_path, GOOD))
    assert out == tmp_path / "out.nc" and out.is_file()
    back = record.load(out)
    assert back.attrs["family"] == "HN" and back.attrs["seed"] == 3
    # 5 patterns in 100 units is far below capacity: every 10%-noisy cue is recalled exactly
    final = back.overlap.isel(sweep=-1).values
    assert np.allclose(np.diagonal(final), 1.0)


def test_same_config_same_result(tmp_path):
    a, _ = cli.run_config(write(tmp_path, GOOD, "a.toml"))
    b, _ = cli.run_config(write(tmp_path, GOOD, "b.toml"))
    assert np.array_equal(a.final_state, b.final_state)


@pytest.mark.parametrize("edit, match", [
    (("[model]", "[model]\nlearning = 'oja'"), "unknown key.*learning.*model"),
    (('family = "HN"', 'family = "XYZ"'), "family must be one of"),
    (('seed = 3', 'seed = 3\ncolour = "red"'), "unknown top-level key.*colour"),
    (('source = "random"', 'source = "faces"'), "source must be"),
    (("max_sweeps = 20", "max_sweeps = -2"), "max_sweeps"),
    (("flip = 0.1", "flip = 1.5"), "flip"),
    (("[model]", "[model]\nrule = 'oja'\n[x]"), "TOML|unknown"),
])
def test_bad_configs_name_the_key(tmp_path, edit, match):
    with pytest.raises(cli.ConfigError, match=match):
        cli.run_config(write(tmp_path, GOOD.replace(*edit, 1)))


def test_main_exit_codes(tmp_path, capsys):
    assert cli.main(["run", str(write(tmp_path, "family = 'HN'\nbogus = 1\n"))]) == 2
    assert "bogus" in capsys.readouterr().err
    assert cli.main(["info", str(tmp_path / "missing.nc")]) == 2
    assert cli.main(["list"]) == 0
    listing = capsys.readouterr().out
    assert all(f.abbrev in listing for f in zoo.families())


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """The demo run once for this module: (paths written, its progress output, whether the
    kernels were in Numba's cache before it ran)."""
    import io

    cached = cli.kernels_cached()
    out = io.StringIO()
    written = cli.demo(tmp_path_factory.mktemp("demo"), stream=out)
    return written, out.getvalue(), cached


def test_demo_writes_datasets_figures_and_animations(demo_run):
    from PIL import Image

    written, _, _ = demo_run
    assert any(p.suffix == ".gif" for p in written)
    ncs = [p for p in written if p.suffix == ".nc"]
    assert len(ncs) == len(cli.DEMOS)
    for path in written:
        assert path.is_file() and path.stat().st_size > 0
    for nc in ncs:  # the main figure beside each result
        assert "family" in record.load(nc).attrs
        with Image.open(nc.with_suffix(".png")) as im:
            assert im.size[0] > 300 and im.size[1] > 200


def test_demo_reports_progress_and_compiling_only_on_a_cold_cache(demo_run):
    _, text, cached = demo_run
    lines = text.splitlines()
    assert [ln for ln in lines if ln.startswith("[")] == [f"[{k}/{len(cli.DEMOS)}] {d.__doc__.splitlines()[0]}"
                                                          for k, d in enumerate(cli.DEMOS, 1)]
    assert sum("wrote " in ln for ln in lines) == len(cli.DEMOS)
    # the cold-start message only when Numba's cache lacked the demo's kernels
    assert ("first run compiles" in text) == (cached is False)
    if cached:
        assert "compiling kernels" not in text
    assert cli.kernels_cached() is True  # the demo has filled the cache


def test_kernels_cached_reads_numbas_cache(tmp_path):
    """In a fresh cache folder a kernel is missing until it has been compiled once."""
    code = ("import numpy as np; from neurosim import cli; from neurosim.kernels import annealing as k\n"
            "print(cli.kernels_cached(('annealing.ising_energy',)))\n"
            "k.ising_energy(np.ones((1, 2), np.int8), np.zeros((1, 2)), np.zeros(2))\n"
            "print(cli.kernels_cached(('annealing.ising_energy',)))\n")
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    first = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert first.stdout.split() == ["False", "True"], first.stderr
    again = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert again.stdout.split() == ["True", "True"], again.stderr


def test_compile_report_names_what_numba_compiles():
    import io

    from numba import njit

    @njit
    def triple(x):
        return 3 * x

    out = io.StringIO()
    with cli.CompileReport("  ", out) as report:
        assert triple(2) == 6
    assert out.getvalue().startswith(f"  compiling kernels: {__name__}") and report.seconds > 0
    out = io.StringIO()
    with cli.CompileReport("  ", out):
        triple(3)  # compiled already: nothing to say
    assert out.getvalue() == ""


def test_console_help():
    out = subprocess.run([sys.executable, "-m", "neurosim.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "demo" in out.stdout and "run" in out.stdout
    bad = subprocess.run([sys.executable, "-m", "neurosim.cli", "frobnicate"], capture_output=True, text=True)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


FF = """
family = "FF"
seed = 1
[model]
hidden = [32]
[data]
source = "digits"
[fit]
epochs = 4
lr = 3e-3
"""


def test_run_config_trains_an_mlp_on_digits(tmp_path):
    ds, out = cli.run_config(write(tmp_path, FF, "mlp.toml"))
    back = record.load(out)
    assert back.sizes["epoch"] == 4 and float(back.val_accuracy[-1]) > 0.8   # chance: 0.1


def test_run_config_trains_on_mnist_files(tmp_path):
    from neurosim.datasets import write_idx
    g = np.random.default_rng(0)
    (tmp_path / "idx").mkdir()
    for kind, n in (("train", 20), ("t10k", 10)):
        write_idx(tmp_path / "idx" / f"{kind}-images-idx3-ubyte", g.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        write_idx(tmp_path / "idx" / f"{kind}-labels-idx1-ubyte", (np.arange(n) % 10).astype(np.uint8))
    conf = FF.replace('source = "digits"', 'source = "mnist"\npath = "idx"').replace("epochs = 4", "epochs = 1")
    ds, _ = cli.run_config(write(tmp_path, conf, "mnist.toml"))
    assert ds.sizes["epoch"] == 1 and ds.sizes["step"] == 1
    with pytest.raises(cli.ConfigError, match="path"):
        cli.run_config(write(tmp_path, conf.replace('path = "idx"', 'path = "nowhere"'), "bad.toml"))
    with pytest.raises(cli.ConfigError, match=r"unknown key\(s\) \['epoch'\] in \[fit\]"):
        cli.run_config(write(tmp_path, FF.replace("epochs = 4", "epoch = 4"), "bad2.toml"))


# -- the main figure of each family (neurosim plot) ------------------------------------------------
def lines_of(ax):
    return [np.asarray(ln.get_ydata(), dtype=float) for ln in ax.get_lines()]


def test_plot_draws_each_demo_familys_main_variables(demo_run):
    written, _, _ = demo_run
    ds = {p.stem: record.load(p) for p in written if p.suffix == ".nc"}
    # SK annealing: the energy of each read per sweep, and the final energies; not the betas
    sk = ds["sk_annealing"]
    trace, final = cli.figure(sk).axes
    assert len(trace.get_lines()) == sk.sizes["chain"]
    for line, row in zip(lines_of(trace), sk.energy_trace.values):
        np.testing.assert_array_equal(line, row)
    assert sum(p.get_height() for p in final.patches) == sk.sizes["chain"]  # a histogram of all reads
    lo, hi = final.get_xlim()
    assert lo <= sk.energy.min() and sk.energy.max() <= hi
    assert all(not np.array_equal(line, sk.beta.values) for ax in (trace, final) for line in lines_of(ax))
    # SOM: quantisation and topographic error over training
    som = ds["som_digits"]
    qe, te = cli.figure(som).axes
    np.testing.assert_array_equal(lines_of(qe)[0], som.quantization_error.values)
    np.testing.assert_array_equal(lines_of(te)[0], som.topographic_error.values)
    # ESN generation: the output against time, beside the truth, with a legend outside the axes
    esn = ds["esn_generation"]
    ax = cli.figure(esn).axes[0]
    truth, generated = lines_of(ax)
    np.testing.assert_array_equal(truth, esn.truth.values[:, 0])
    np.testing.assert_array_equal(generated, esn.prediction.values[:, 0])
    np.testing.assert_array_equal(ax.get_lines()[0].get_xdata(), esn.time.values)
    assert ax.get_legend() is not None and ax.get_legend().get_bbox_to_anchor().x0 >= ax.bbox.x1 - 1
    # Hopfield: the energy of every cue and the first cue's overlaps
    hn = ds["hopfield_letters"]
    energy, overlap = cli.figure(hn).axes
    np.testing.assert_array_equal(np.array(lines_of(energy)), hn.energy.values)
    np.testing.assert_array_equal(np.array(lines_of(overlap)), hn.overlap.values[0].T)


def test_main_attr_grammar_panels_and_overlays():
    t = np.arange(5.0)
    ds = xr.Dataset({"a": ("time", t), "b": ("time", 2 * t), "c": (("time", "unit"), np.outer(t, [1, 2, 3])),
                     "final": ("chain", [1.0, 2.0, 2.5, 4.0])}, attrs={"main": "a+b c final"})
    first, second, third = cli.figure(ds).axes
    np.testing.assert_array_equal(np.array(lines_of(first)), [t, 2 * t])  # overlaid in one panel
    np.testing.assert_array_equal(np.array(lines_of(second)), np.outer(t, [1, 2, 3]).T)  # a line per unit
    assert sum(p.get_height() for p in third.patches) == 4  # no time dim: a histogram
    np.testing.assert_array_equal(lines_of(cli.figure(ds, "b").axes[0])[0], 2 * t)  # --var wins
    with pytest.raises(ValueError, match="attrs\\['main'\\].*'nope'"):
        cli.figure(ds.assign_attrs(main="a nope"))
    with pytest.raises(ValueError, match="var must name"):
        cli.figure(ds, "zz")


def test_family_datasets_name_their_main_figure():
    from neurosim.energy import IsingAnnealer, sk_couplings
    from neurosim.markov import MarkovChain
    from neurosim.reservoir import ESN
    from neurosim.som import SOM

    ann = IsingAnnealer(sk_couplings(16, seed=0), seed=0)
    assert ann.anneal(sweeps=5, reads=2).attrs["main"] == "energy"
    assert ann.anneal(sweeps=5, reads=2, trace=True).attrs["main"] == "energy_trace energy"
    X = np.sin(np.arange(101) / 5.0)[:, None]
    esn = ESN(20, seed=0).fit(X[:-1], X[1:])
    assert esn.run(X[:10]).attrs["main"] == "prediction" and esn.generate(5).attrs["main"] == "prediction"
    assert esn.states(X[:10]).attrs["main"] == "state"
    assert MarkovChain([[0.9, 0.1], [0.5, 0.5]]).simulate(10, seed=0).attrs["main"] == "path"
    history = SOM(3, 3, 2, seed=0).train(np.random.default_rng(0).random((20, 2)), iterations=40)
    assert history.attrs["main"] == "quantization_error topographic_error"
    assert len(cli.figure(history).axes) == 2


# -- example configs ------------------------------------------------------------------------------
CONFIGS = sorted((Path(__file__).resolve().parents[1] / "examples" / "configs").glob("*.toml"))


def test_there_is_an_example_config_for_every_runnable_family():
    families = {cli._read_toml(p)["family"] for p in CONFIGS}
    assert families == set(cli.RUNNERS)


@pytest.mark.parametrize("config", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_example_configs_run(tmp_path, config, capsys):
    """Each example, run as ``neurosim run`` (a copy beside its output), does what its comment says."""
    copy = tmp_path / config.name
    copy.write_text(config.read_text())
    assert cli.main(["run", str(copy)]) == 0
    out = tmp_path / cli._read_toml(copy)["output"]
    assert f"wrote: {out}" in capsys.readouterr().out
    ds = record.load(out)
    if ds.attrs["family"] == "HN":   # every 20%-noisy letter recalled exactly
        np.testing.assert_array_equal(np.diagonal(ds.overlap.isel(sweep=-1).values), 1.0)
    else:                            # the digits learnt far above chance (0.1)
        assert float(ds.val_accuracy[-1]) > 0.8
    assert cli.main(["plot", str(out)]) == 0 and out.with_suffix(".png").is_file()


# -- bad input: one line on stderr, exit status 2, nothing run ----------------------------------------
def one_line_error(capsys, command):
    err = capsys.readouterr().err
    assert err.startswith(f"neurosim {command}: error:") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


def test_info_on_a_file_that_is_not_netcdf(tmp_path, capsys):
    junk = tmp_path / "junk.nc"
    junk.write_text("not netCDF")
    assert cli.main(["info", str(junk)]) == 2
    assert "cannot read" in one_line_error(capsys, "info")


def test_info_shows_every_attribute(tmp_path, capsys):
    attrs = {f"param_{i:02d}": i for i in range(30)}
    xr.Dataset({"v": ("time", np.arange(3.0))}, attrs=attrs).to_netcdf(tmp_path / "r.nc")
    assert cli.main(["info", str(tmp_path / "r.nc")]) == 0
    out = capsys.readouterr().out
    assert all(f"{k}:" in out for k in attrs) and "/30)" not in out


def test_demo_into_a_folder_that_cannot_be_made(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    assert cli.main(["demo", "--out", str(tmp_path / "file" / "demo")]) == 2
    assert "--out" in one_line_error(capsys, "demo")


def test_output_in_a_missing_folder_is_refused_before_running(tmp_path, capsys, monkeypatch):
    ran = []
    monkeypatch.setitem(cli.RUNNERS, "HN", (lambda *a: ran.append(a), cli.RUNNERS["HN"][1]))
    cfg = write(tmp_path, GOOD.replace('output = "out.nc"', 'output = "nodir/o.nc"'))
    assert cli.main(["run", str(cfg)]) == 2
    err = one_line_error(capsys, "run")
    assert "nodir" in err and "does not exist" in err and not ran


@pytest.mark.parametrize("edit, names", [
    (("count = 5", 'count = "five"'), "[patterns] count"),
    (("units = 100", "units = 1.5"), "[patterns] units"),
    (("flip = 0.1", 'flip = "a lot"'), "[cues] flip"),
    (('source = "random"', 'source = "letters"\nletters = 5'), "[patterns] letters"),
])
def test_bad_values_name_the_config_key(tmp_path, capsys, edit, names):
    assert cli.main(["run", str(write(tmp_path, GOOD.replace(*edit, 1)))]) == 2
    err = one_line_error(capsys, "run")
    assert names in err and " P " not in err


def test_bad_hidden_widths_name_the_key(tmp_path, capsys):
    assert cli.main(["run", str(write(tmp_path, FF.replace("hidden = [32]", 'hidden = ["wide"]')))]) == 2
    assert "[model] hidden[0]" in one_line_error(capsys, "run")


def test_sweep_with_fixed_values_of_the_wrong_type_is_refused_before_the_cluster(tmp_path, capsys, monkeypatch):
    import neurosim.sweeps.engine as engine

    monkeypatch.setattr(engine, "_distributed", lambda: pytest.fail("the cluster was started"))
    cfg = write(tmp_path, 'fn = "hopfield_capacity"\nseeds = 1\n[grid]\nalpha = [0.05]\n'
                          '[fixed]\nn_units = 50\nmax_sweeps = "fifty"\n')
    assert cli.main(["sweep", str(cfg), "--out", str(tmp_path / "o")]) == 2
    err = one_line_error(capsys, "sweep")
    assert "max_sweeps" in err and "'fifty'" in err and not (tmp_path / "o").exists()


def test_animate_cues_that_are_not_numbers(tmp_path, capsys):
    assert cli.main(["animate", str(tmp_path / "any.nc"), "--cues", "a,b"]) == 2
    err = one_line_error(capsys, "animate")
    assert "--cues" in err and "'a,b'" in err and "lambda" not in err


def test_each_example_sweep_has_a_quick_variant_on_a_smaller_grid():
    folder = Path(__file__).resolve().parents[1] / "examples" / "sweeps"
    full = [p for p in folder.glob("*.toml") if not p.stem.endswith("_quick")]
    assert full
    for path in full:
        big, _ = cli.sweep_config(path)
        small, name = cli.sweep_config(folder / f"{path.stem}_quick.toml")
        assert small["fn"] == big["fn"] and name == f"{path.stem}_quick" and small["store"] != big["store"]
        points = [np.prod([len(v) for v in k["grid"].values()]) * len(k["seeds"]) for k in (small, big)]
        assert points[0] <= points[1] / 3


def test_list_maps_draws_the_zoo_poster(tmp_path, capsys):
    from neurosim import cli

    out = tmp_path / "zoo.png"
    cli.main(["list", "--maps", str(out)])
    text = capsys.readouterr().out
    assert "HN" in text and f"wrote: {out}" in text
    assert out.stat().st_size > 10_000 and out.read_bytes()[:4] == b"\x89PNG"
