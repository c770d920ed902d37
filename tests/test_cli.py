"""The command line: demo, run from TOML (with bad configs), list, info."""
import subprocess
import sys

import numpy as np
import pytest

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


def test_demo_writes_datasets_and_animations(tmp_path):
    written = cli.demo(tmp_path)
    assert any(p.suffix == ".nc" for p in written) and any(p.suffix == ".gif" for p in written)
    for path in written:
        assert path.is_file() and path.stat().st_size > 0
    ds = record.load(next(p for p in written if p.suffix == ".nc"))
    assert "family" in ds.attrs


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
