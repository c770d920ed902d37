"""Every example script in examples/ runs in a subprocess with ``--out tmp_path`` (and
``--quick`` where the script offers it) and writes its files there."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))

# Files the scripts are known to write; any other script must write at least one file.
EXPECTED = {
    "hopfield_letters.py": ["letters_recall.gif", "letters_recall.png", "letters_curves.png",
                            "letters_recall.nc", "letters_hebbian.png"],
    "hopfield_capacity.py": ["hopfield_capacity.png", "hopfield_capacity.nc"],
    "dnc_copy.py": ["dnc_copy.png", "dnc_copy.gif", "dnc_copy.nc", "dnc_copy_history.nc"],
    "esn_mackey_glass.py": ["esn_mg_states.png", "esn_mg_prediction.png", "esn_mg_generation.png",
                            "esn_mg_generation.gif", "esn_mg_generation.nc"],
    "elm_digits.py": ["elm_digits_accuracy.png", "elm_digits_confusion.png", "elm_digits.nc"],
    "markov_text.py": ["markov_text.png", "markov_text.txt"],
    "som_unfolding.py": ["som_unfolding.gif", "som_unfolding.png"],
    "som_digits.py": ["som_digits.png", "som_digits.nc"],
    "mlp_digits.py": ["mlp_digits_curves.png", "mlp_digits_weights.png", "mlp_digits.nc"],
    "perceptron_gates.py": ["perceptron_gates.png", "perceptron_errors.png", "perceptron_gates.nc"],
    "rbf_regression.py": ["rbf_regression.png", "rbf_digits.png", "rbf_regression.nc"],
    "cnn_digits.py": ["cnn_digits_training.png", "cnn_digits_filters.png", "cnn_digits_maps.png",
                      "cnn_digits_confusion.png", "cnn_digits.nc"],
    "deconv_digits.py": ["deconv_digits.png", "deconv_digits_morph.png", "deconv_digits_morph.gif",
                         "deconv_digits.nc"],
    "residual_depth.py": ["residual_depth.png", "residual_depth.nc"],
    "recurrent_sequences.py": ["recurrent_sequences.png", "recurrent_sequences.nc"],
    "attention_sequences.py": ["attention_sequences.png", "attention_sequences.nc"],
    "gan_digits.py": ["gan_digits_training.gif", "gan_digits_losses.png", "gan_digits_samples.png",
                      "gan_digits.nc"],
    "dcign_digits.py": ["dcign_digits_reconstructions.png", "dcign_digits_traversals.png",
                        "dcign_digits_swap.png", "dcign_digits_traversal.gif", "dcign_digits.nc"],
    "capsnet_digits.py": ["capsnet_digits.png", "capsnet_digits_dimensions.png", "capsnet_digits.nc"],
    "ntm_copy.py": ["ntm_copy.png", "ntm_copy.nc", "ntm_copy_history.nc"],
    "seq2seq_attention.py": ["seq2seq_attention.png", "seq2seq_attention.nc"],
    "spatial_transformer.py": ["spatial_transformer.png", "spatial_transformer.nc"],
    "autoencoders_digits.py": ["autoencoders_digits.png", "autoencoders_digits_curves.png",
                               "autoencoders_digits.nc"],
    "vae_digits.py": ["vae_digits_latent.png", "vae_digits_samples.png", "vae_digits_interpolation.gif",
                      "vae_digits_interpolation.png", "vae_digits.nc"],
}


def run_example(script, out, timeout=240):
    args = [sys.executable, str(script), "--out", str(out)]
    if "--quick" in script.read_text(encoding="utf-8"):
        args.append("--quick")
    env = dict(os.environ, MPLBACKEND="Agg",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    return subprocess.run(args, cwd=out, env=env, capture_output=True, text=True, timeout=timeout)


def check_letters(out):
    """The letters example's outputs hold what it says: a Dataset where the pseudo-inverse rule
    recalls the stored letters, and an animation with one frame per sweep."""
    from PIL import Image

    from neurosim import record
    from neurosim.datasets import letters

    ds = record.load(out / "letters_recall.nc")
    xi, _, _ = letters("HOP")  # --quick keeps the first three letters of HOPE
    assert ds.sizes["cue"] == 3 and ds.attrs["rule"] == "pinv"
    assert (ds.final_state.values == xi).mean() > 0.95
    with Image.open(out / "letters_recall.gif") as im:
        assert im.n_frames == ds.sizes["sweep"]


def check_capacity(out):
    """Overlap near 1 at the lowest load, clearly below 1 at the highest (alpha = 0.3)."""
    from neurosim import record

    ds = record.load(out / "hopfield_capacity.nc")
    m = ds.overlap.mean("seed")
    assert float(m.isel(alpha=0)) > 0.98 and float(m.isel(alpha=-1)) < 0.9


CHECKS = {"hopfield_letters.py": check_letters, "hopfield_capacity.py": check_capacity}


@pytest.mark.slow
@pytest.mark.parametrize("script", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs_and_writes_files(script, tmp_path):
    if script.name.startswith("hopfield"):
        pytest.importorskip("neurosim.energy")
    proc = run_example(script, tmp_path)
    assert proc.returncode == 0, f"{script.name} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p.stat().st_size > 0]
    assert written, f"{script.name} wrote nothing to --out"
    for name in EXPECTED.get(script.name, []):
        assert (tmp_path / name).is_file() and (tmp_path / name).stat().st_size > 0, name
    if script.name in CHECKS:
        CHECKS[script.name](tmp_path)
    import xarray as xr
    from test_units import check_cf
    for path in tmp_path.rglob("*.nc"):   # every example's Dataset: UDUNITS units, CF flags, Conventions
        with xr.open_dataset(path) as ds:
            check_cf(ds)
