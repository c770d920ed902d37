"""Regenerate the gallery: run every example in ``examples/`` (and every sweep config in
``examples/sweeps/``) and collect the figures and animations they write into ``docs/gallery/``,
listed with a one-line caption each in ``docs/gallery.md``.

    python tools/gallery.py                    # every example (QUICK ones with --quick), every sweep
    python tools/gallery.py --quick            # --quick for every script that offers it
    python tools/gallery.py --only cuba.py --only sk_energy.toml   # just these (others kept)
    python tools/gallery.py --no-sweeps        # skip the Dask sweeps, keep their old figures

Examples run at their own default sizes, except those in :data:`QUICK` (slower at full size,
and their ``--quick`` figures are as large). Each example runs in its own scratch folder
(``--out``) in a subprocess; only its PNG and GIF files are kept. Images are kept small: PNGs
wider than ``MAX_WIDTH`` are scaled down and all are stored with a 256-colour palette; GIFs
wider than 600 px are scaled down and those over ``MAX_GIF_BYTES`` lose every other frame (at
the same total duration) until they fit. Captions come from the ``- ``file``: caption`` bullets of each
script's docstring, else from :data:`EXAMPLES`.
"""
import argparse
import ast
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES_DIR = ROOT / "examples"
SWEEPS_DIR = EXAMPLES_DIR / "sweeps"
OUT = ROOT / "docs" / "gallery"
MARKDOWN = ROOT / "docs" / "gallery.md"
IMAGES = (".png", ".gif")
MAX_WIDTH = 1000  # px
MAX_GIF_BYTES = 450_000
TIMEOUT_S = 600

# Every script in examples/: its one-line caption (the section's text; also the caption of any
# image its docstring does not describe). tests/test_gallery.py checks that this matches
# examples/*.py exactly.
EXAMPLES = {
    "zoo_poster.py": "The Neural Network Zoo poster drawn from neurosim's working models: a node map per "
                     "family, read from the model's own layers and connections.",
    "hopfield_letters.py": "Hopfield network (HN): letters recalled from 30%-noisy cues, pseudo-inverse "
                           "against Hebbian learning.",
    "hopfield_capacity.py": "Hopfield network (HN): final overlap against the load P/N, with the "
                            "Amit-Gutfreund-Sompolinsky theory and alpha_c = 0.138.",
    "sk_annealing.py": "Boltzmann machine family (BM): simulated annealing of a Sherrington-Kirkpatrick "
                       "spin glass towards Parisi's -0.7633.",
    "rbm_digits.py": "Restricted Boltzmann machine (RBM) trained on the bundled 8x8 digits by CD-1.",
    "dbn_digits.py": "Deep belief network (DBN): greedy pre-training on digits, generation and "
                     "classification.",
    "cuba.py": "Liquid state machine family (LSM): the CUBA network of Vogels and Abbott (2005): "
               "raster, population rate and membrane traces.",
    "lsm_templates.py": "Liquid state machine (LSM) on jittered spike templates: liquid responses, "
                        "readout accuracy against jitter, memory curve.",
    "lsm_dynamic.py": "Liquid state machine (LSM) with Maass's dynamic (short-term plastic) synapses "
                      "beside static ones: liquid responses and accuracy against jitter.",
    "stdp_weights.py": "Spiking network with STDP (Song, Miller and Abbott 2000): the weight "
                       "histogram of 1000 inputs turning bimodal, and the postsynaptic rate.",
    "adex_patterns.py": "Adaptive exponential integrate-and-fire neurons: the firing patterns of "
                        "Naud et al. (2008) under a current step.",
    "qif_neuron.py": "A user-defined neuron model compiled into the spiking kernel: quadratic "
                     "integrate-and-fire f-I curve against its closed form, and a network of them.",
    "esn_mackey_glass.py": "Echo state network (ESN) on Mackey-Glass: states, one-step prediction and "
                           "closed-loop generation.",
    "elm_digits.py": "Extreme learning machine (ELM) on digits: accuracy against hidden-layer size, "
                     "confusion matrix.",
    "markov_text.py": "Markov chains (MC): n-gram chains on public-domain text, stationary "
                      "distribution and mixing.",
    "som_unfolding.py": "Kohonen map (KN/SOM) unfolding over uniform 2-D data.",
    "som_digits.py": "Kohonen map (KN/SOM) of the digits: U-matrix, prototypes, hit map and errors.",
    "perceptron_gates.py": "Perceptron (P): Rosenblatt's rule on logic gates, converging on AND, OR and "
                           "NAND, never on XOR.",
    "mlp_digits.py": "Feed-forward network (FF): learning curves on digits for several hidden widths, "
                     "and the input weights.",
    "rbf_regression.py": "Radial basis function network (RBF): a noisy 1-D fit with its Gaussian bumps, "
                         "and digits accuracy against the number of centres.",
    "cnn_digits.py": "Convolutional network (CNN): LeNet-style training on digits, filters, feature "
                     "maps and confusion matrix.",
    "deconv_digits.py": "Deconvolutional network (DN): the image of each class code, and a morph "
                        "between two codes.",
    "residual_depth.py": "Deep residual network (DRN): 30 sigmoid layers, plain against residual: "
                         "loss, accuracy and the vanishing gradient.",
    "recurrent_sequences.py": "Recurrent networks (RNN, LSTM, GRU, BiRNN): an LSTM counts, a bidirectional "
                              "GRU reads the future that a causal one cannot; hidden activity.",
    "attention_sequences.py": "Attention network (AN): a Transformer encoder retrieves a key's value and "
                              "reverses sequences; each head's attention map.",
    "seq2seq_attention.py": "Attention network (AN): encoder-decoder RNNs with Bahdanau's additive and "
                            "Luong's multiplicative attention reverse and sort sequences and read "
                            "dates; their alignments.",
    "spatial_transformer.py": "Spatial transformer network (AN): an STN turns and re-centres rotated, "
                              "shifted digits and beats the same CNN without it.",
    "gan_digits.py": "Generative adversarial network (GAN): samples per epoch on digits, the losses "
                     "beside their equilibrium, and a conditional GAN's digits by class.",
    "dcign_digits.py": "Deep convolutional inverse graphics network (DCIGN): reconstructions, code "
                       "traversals and a class block swapped between digits.",
    "capsnet_digits.py": "Capsule network (CapsNet): routing by agreement on digits, capsule lengths, "
                         "reconstructions and one capsule's dimensions perturbed.",
    "dnc_copy.py": "Differentiable neural computer (DNC) on the copy task: write and read weightings, "
                   "read modes, usage and the temporal link matrix, step by step.",
    "ocean_ground_states.py": "Ising annealing as a D-Wave Ocean (dimod) sampler: the probability of "
                              "reaching the ground state against sweeps, beside dwave-samplers.",
    "nir_roundtrip.py": "A spiking network exported to NIR and imported back: the same raster and "
                        "membrane traces.",
    "ntm_copy.py": "Neural Turing machine (NTM): the copy task, with the write and read weightings "
                   "moving over memory in order.",
    "autoencoders_digits.py": "Autoencoders (AE, DAE, SAE) on digits: reconstructions, restoring masked "
                              "pixels, and the sparse code's activations.",
    "vae_digits.py": "Variational autoencoder (VAE) with a 2-D code on digits: the latent map, samples "
                     "from the prior and an interpolation.",
}

# Examples run with --quick by default: their full runs take longer and their quick figures are
# the same size (the others' quick figures are drawn at a low dpi, so they run full size).
QUICK = {"cuba.py", "lsm_templates.py", "esn_mackey_glass.py", "som_digits.py"}

# Every sweep config in examples/sweeps/ but the *_quick.toml variants (smaller runs of the same
# sweep): (variable to plot or None for the default, caption). tests/test_gallery.py checks it.
SWEEPS = {
    "hopfield_capacity.toml": (None, "Sweep: Hopfield capacity phase diagram, final overlap over "
                                     "N x alpha (3 seeds), with alpha_c = 0.138."),
    "sk_energy.toml": (None, "Sweep: SK energy per spin reached by annealing against the number of "
                             "sweeps, for N = 100 to 800, with Parisi's -0.7633."),
    "esn_error.toml": ("log10_nrmse", "Sweep: ESN one-step test error (log10 NRMSE) on Mackey-Glass "
                                      "over leak rate x spectral radius."),
}


# -- captions -----------------------------------------------------------------------------------
def docstring_captions(source):
    """``{file name: caption}`` from the ``- ``a.png`` and ``b.gif``: caption;`` bullets of a
    module docstring (``source``: the script's text); a bullet may run over several lines."""
    doc = ast.get_docstring(ast.parse(source)) or ""
    captions = {}
    bullets = re.split(r"\n\s*-\s+", "\n" + doc)[1:]
    for bullet in bullets:
        head, sep, text = bullet.partition(":")
        if not sep:
            continue
        names = re.findall(r"``([^`]+\.(?:png|gif))``", head)
        text = " ".join(text.split("\n\n")[0].split()).rstrip(";.").replace("``", "`")
        if names and text:
            for name in names:
                captions[name] = text[0].upper() + text[1:] + "."
    return captions


# -- running ------------------------------------------------------------------------------------
def _env():
    return dict(os.environ, MPLBACKEND="Agg",
                PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))


def run_example(script, out, quick=True):
    """Run ``examples/<script>`` with ``--out out`` (and ``--quick`` where offered); returns the
    image paths it wrote."""
    path = EXAMPLES_DIR / script
    args = [sys.executable, str(path), "--out", str(out)]
    if quick and "--quick" in path.read_text(encoding="utf-8"):
        args.append("--quick")
    proc = subprocess.run(args, cwd=out, env=_env(), capture_output=True, text=True, timeout=TIMEOUT_S)
    if proc.returncode != 0:
        raise RuntimeError(f"{script} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    return sorted(p for p in Path(out).rglob("*") if p.suffix.lower() in IMAGES and p.is_file())


def run_sweep(config, out, var=None, workers=2):
    """Run ``examples/sweeps/<config>`` with ``neurosim sweep`` into ``out`` and draw its figure
    with ``neurosim plot`` (``--var var``); returns ``[png path]`` (``sweep_<config name>.png``,
    apart from the examples' own figures)."""
    stem = Path(config).stem
    cmd = [sys.executable, "-c", "import sys; from neurosim.cli import main; sys.exit(main(sys.argv[1:]))"]
    for args in (["sweep", str(SWEEPS_DIR / config), "--out", str(out), "--workers", str(workers)],
                 ["plot", str(Path(out) / f"{stem}.nc"), "-o", str(Path(out) / f"sweep_{stem}.png")]
                 + (["--var", var] if var else [])):
        proc = subprocess.run(cmd + args, cwd=out, env=_env(), capture_output=True, text=True, timeout=TIMEOUT_S)
        if proc.returncode != 0:
            raise RuntimeError(f"neurosim {' '.join(args)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    return [Path(out) / f"sweep_{stem}.png"]


# -- keeping images small -----------------------------------------------------------------------
def shrink_png(path, max_width=MAX_WIDTH):
    """Scale ``path`` down to at most ``max_width`` px wide and store it with a 256-colour palette:
    median cut's, unless a colour few pixels use is lost by it (its 99.9th-percentile pixel error
    is the larger; e.g. the small cells of the node maps), then the octree's."""
    import numpy as np
    from PIL import Image

    with Image.open(path) as im:
        im = im.convert("RGB")
    if im.width > max_width:
        im = im.resize((max_width, round(im.height * max_width / im.width)), Image.LANCZOS)
    rgb = np.asarray(im, dtype=float)

    def worst(q):
        return np.percentile(np.sqrt(((np.asarray(q.convert("RGB"), dtype=float) - rgb) ** 2).sum(-1)), 99.9)

    palettes = [im.quantize(256, method=m) for m in (Image.Quantize.MEDIANCUT, Image.Quantize.FASTOCTREE)]
    min(palettes, key=worst).save(path, optimize=True)


def shrink_gif(path, max_bytes=MAX_GIF_BYTES, max_width=600):
    """Scale a GIF's frames to at most ``max_width`` px and drop every other frame (doubling the
    frame duration) until the file is under ``max_bytes`` or 8 frames are left."""
    from PIL import Image, ImageSequence

    if path.stat().st_size <= max_bytes:
        with Image.open(path) as im:
            if im.width <= max_width:
                return
    with Image.open(path) as im:
        duration = im.info.get("duration", 100)
        frames = [f.convert("RGB") for f in ImageSequence.Iterator(im)]
    if frames[0].width > max_width:
        size = (max_width, round(frames[0].height * max_width / frames[0].width))
        frames = [f.resize(size, Image.LANCZOS) for f in frames]
    while True:
        pal = [f.quantize(128, method=Image.Quantize.MEDIANCUT) for f in frames]
        pal[0].save(path, save_all=True, append_images=pal[1:], duration=duration, loop=0, optimize=True)
        if path.stat().st_size <= max_bytes or len(frames) <= 8:
            return
        frames, duration = frames[::2], duration * 2


def keep(images, dest, taken=()):
    """Copy ``images`` into ``dest`` (shrunk); returns their names. A name in ``taken`` (kept for
    another source) is an error: two sources would overwrite each other's figure."""
    names = []
    for src in images:
        if src.name in taken:
            raise RuntimeError(f"two sources write {src.name}: rename one so the gallery keeps both")
        target = dest / src.name
        shutil.copyfile(src, target)
        (shrink_png if target.suffix.lower() == ".png" else shrink_gif)(target)
        names.append(target.name)
    return names


# -- the page -----------------------------------------------------------------------------------
def markdown(entries):
    """The text of docs/gallery.md: ``entries`` is a list of ``(source, caption, [(file, caption)])``."""
    lines = ["# Gallery", "",
             "Figures and animations written by the scripts in `examples/` and the "
             "sweep configs in `examples/sweeps/`. Regenerate them all with", "",
             "    python tools/gallery.py", ""]
    for source, caption, files in entries:
        lines += [f"## `{source}`", "", caption, ""]
        for name, text in files:
            alt = text.replace("`", "").replace("[", "(").replace("]", ")")  # "]" would end the alt text
            label = f"*`{name}`*" + (f": {text}" if text != caption else "")  # no caption twice
            lines += [f"![{alt}](gallery/{name})", "", label, ""]
    return "\n".join(lines)


def _existing(names):
    """Files already in the gallery for a source not rerun this time."""
    return [n for n in names if (OUT / n).is_file()]


def _previous():
    """``{source: [file names]}`` as listed in the current docs/gallery.md (for partial reruns)."""
    if not MARKDOWN.is_file():
        return {}
    found, source = {}, None
    for line in MARKDOWN.read_text().splitlines():
        m = re.match(r"## `(.+)`$", line)
        if m:
            source = m.group(1)
            found[source] = []
        m = re.match(r"!\[.*\]\(gallery/(.+)\)$", line)
        if m and source:
            found[source].append(m.group(1))
    return found


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="--quick for every script that offers it "
                    "(default: only for those in QUICK)")
    ap.add_argument("--only", action="append", metavar="NAME",
                    help="rerun only this example or sweep config (repeatable); keep the others' images")
    ap.add_argument("--no-sweeps", action="store_true", help="do not run the sweep configs (keep old figures)")
    ap.add_argument("--workers", type=int, default=2, help="Dask worker processes for the sweeps (default 2)")
    args = ap.parse_args(argv)
    unknown = sorted(set(args.only or []) - set(EXAMPLES) - set(SWEEPS))
    if unknown:
        ap.error(f"--only must name entries of EXAMPLES or SWEEPS; unknown: {unknown}")
    OUT.mkdir(parents=True, exist_ok=True)
    previous = _previous()
    sources = [f"examples/{s}" for s in EXAMPLES] + [f"examples/sweeps/{c}" for c in SWEEPS]

    def rerun(name, is_sweep):
        if args.only:
            return name in args.only
        return not (is_sweep and args.no_sweeps)

    results = {}
    for source in sources:
        name = Path(source).name
        is_sweep = name in SWEEPS
        if not rerun(name, is_sweep):
            results[source] = _existing(previous.get(source, []))
            continue
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="gallery-") as tmp:
            if is_sweep:
                images = run_sweep(name, Path(tmp), SWEEPS[name][0], workers=args.workers)
            else:
                images = run_example(name, Path(tmp), quick=args.quick or name in QUICK)
            taken = {n for other, names in results.items() if other != source for n in names}
            taken |= {n for other, names in previous.items() if other != source and other not in results
                      and not rerun(Path(other).name, Path(other).name in SWEEPS) for n in names}
            results[source] = keep(images, OUT, taken)
        print(f"{source}: {len(results[source])} image(s) in {time.perf_counter() - t0:.1f} s", flush=True)

    listed = {n for names in results.values() for n in names}
    for stale in OUT.iterdir():
        if stale.is_file() and stale.name not in listed:
            stale.unlink()
    entries = []
    for source in sources:
        name = Path(source).name
        if name in SWEEPS:
            caption = SWEEPS[name][1]
            captions = {}
        else:
            caption = EXAMPLES[name]
            captions = docstring_captions((EXAMPLES_DIR / name).read_text(encoding="utf-8"))
        files = [(f, captions.get(f, caption)) for f in results[source]]
        entries.append((source, caption, files))
    MARKDOWN.write_text(markdown(entries))
    total = sum(p.stat().st_size for p in OUT.iterdir() if p.is_file())
    print(f"wrote {MARKDOWN.relative_to(ROOT)} and {len(listed)} image(s), {total / 1e6:.2f} MB in "
          f"{OUT.relative_to(ROOT)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
