"""Capsule network (CapsNet) on the bundled digits: accuracy, capsule lengths, reconstructions
and what one capsule dimension draws.

The CapsNet of Sabour, Frosst and Hinton (2017) scaled to 8x8 images (conv 3x3x64, 8 types of
8-D primary capsules on a 4x4 grid, ten 16-D digit capsules after 3 routing iterations; a
128-256-64 decoder), trained with the margin loss plus the reconstruction error (Adam 3e-3,
batch 32) on the digits split (1500 train, 297 test). Writes to ``--out``:

- ``capsnet_digits.png``: test accuracy per epoch, the ten capsule lengths of a few test
  digits, and test digits above their reconstructions from the longest capsule;
- ``capsnet_digits_dimensions.png``: one test digit redrawn while each dimension of its
  capsule is shifted by -0.25 .. 0.25 (the paper's Figure 4);
- ``capsnet_digits.nc``: the training history as a Dataset.

    python examples/capsnet_digits.py --out out/ [--seed 0] [--quick] [--digit 4]
"""
import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from neurosim import record  # noqa: E402
from neurosim.datasets import digits_split  # noqa: E402
from neurosim.deep import capsnet  # noqa: E402
from neurosim.viz.plots import state_grid  # noqa: E402


def plot_overview(history, lengths, labels, images, redrawn, path):
    fig = plt.figure(figsize=(10, 6.4))
    top, bottom = fig.subfigures(2, 1, height_ratios=(1.5, 1))
    a1, a2 = top.subplots(1, 2, width_ratios=(1, 1.4))
    a1.plot(history.epoch.values + 1, history.val_accuracy, "o-")
    a1.set(xlabel="epoch", ylabel="test accuracy", title="longest capsule = class")
    a1.grid(alpha=0.3)
    shown = np.arange(len(labels))
    a2.imshow(lengths, cmap="viridis", vmin=0, vmax=1, aspect="auto")
    for (i, k), value in np.ndenumerate(lengths):
        a2.text(k, i, f"{value:.2f}", ha="center", va="center", fontsize=7,
                color="k" if value > 0.5 else "w")
    a2.set(xticks=range(lengths.shape[1]), yticks=shown, xlabel="capsule (class)",
           yticklabels=[f"digit {y}" for y in labels], title="capsule lengths of test digits")
    axes = bottom.subplots(2, len(images))
    for k in range(len(images)):
        state_grid(images[k], ax=axes[0, k])
        state_grid(redrawn[k], ax=axes[1, k])
    axes[0, 0].set_ylabel("test digit")
    axes[1, 0].set_ylabel("redrawn")
    bottom.suptitle("reconstructions from the longest capsule (the others masked)")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_dimensions(grid, offsets, digit, path):
    dims, steps, _, h, w = grid.shape
    mosaic = np.full((dims, h + 1, steps, w + 1), np.nan)      # a blank line between images
    mosaic[:, :h, :, :w] = grid[:, :, 0].transpose(0, 2, 1, 3)
    fig, ax = plt.subplots(figsize=(steps * 0.55 + 1, dims * 0.55 + 0.8))
    ax.imshow(mosaic.reshape(dims * (h + 1), steps * (w + 1)), cmap="gray_r", vmin=0, vmax=1)
    ax.set_xticks(np.arange(steps) * (w + 1) + (w - 1) / 2, [f"{o:+.2f}" for o in offsets],
                  fontsize=8)
    ax.set_yticks(np.arange(dims) * (h + 1) + (h - 1) / 2, range(dims), fontsize=8)
    ax.set(xlabel="offset added", ylabel="capsule dimension")
    ax.set_title(f"a test {digit} redrawn with one dimension of its capsule shifted")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="out", help="output folder (default: out/)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="fewer epochs (for tests)")
    ap.add_argument("--digit", type=int, default=4,
                    help="test digit whose capsule dimensions are varied (default: 4, a 3)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    Xtr, Xte, ytr, yte = digits_split()
    model = capsnet(seed=args.seed)
    t0 = time.perf_counter()
    history = model.fit(Xtr, ytr, epochs=1 if args.quick else 8, lr=3e-3, seed=args.seed,
                        validation=(Xte, yte))
    fit_s = time.perf_counter() - t0

    shown = np.arange(10)
    plot_overview(history, model.lengths(Xte[shown]), yte[shown], Xte[shown].reshape(-1, 8, 8),
                  model.reconstruct(Xte[shown])[:, 0], out / "capsnet_digits.png")
    offsets = np.linspace(-0.25, 0.25, 11)
    plot_dimensions(model.perturbations(Xte[args.digit], offsets), offsets, yte[args.digit],
                    out / "capsnet_digits_dimensions.png")

    redrawn = model.reconstruct(Xte).reshape(len(Xte), -1)
    mse, baseline = ((redrawn - Xte) ** 2).mean(), ((Xtr.mean(0) - Xte) ** 2).mean()
    history.attrs.update(test_reconstruction_mse=float(mse), mean_image_mse=float(baseline))
    record.save(history, out / "capsnet_digits.nc")
    print(f"test accuracy {float(history.val_accuracy[-1]):.3f} after {history.sizes['epoch']} "
          f"epochs ({fit_s:.1f} s); reconstruction MSE {mse:.4f} per pixel (mean image "
          f"{baseline:.4f}); files in {out}/")


if __name__ == "__main__":
    main()
