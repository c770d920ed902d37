"""A deep belief network on the bundled 8x8 digits: greedy pre-training, classification and
generation.

Stacks two RBMs (64-100-100) trained layer by layer on the digits scaled to [0, 1], puts a
softmax regression on the top-level features, and lets the top RBM's Gibbs chain run to generate
digits (each state passed down through the lower layer); finally fine-tunes the whole stack for
classification by backpropagation. Writes to ``--out``:

- ``dbn_generate.gif``: 16 generated digits as the top-level chain runs;
- ``dbn_digits.png``: the last generated frame beside test digits and the per-layer training
  history;
- ``dbn_digits.nc``: the pre-trained network (``DBN.load`` reads it back).

    python examples/dbn_digits.py --out out/ [--epochs 10] [--steps 600]
"""
import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.animation import FuncAnimation  # noqa: E402

from neurosim import viz  # noqa: E402
from neurosim.datasets import digits  # noqa: E402
from neurosim.energy.dbn import DBN  # noqa: E402


def mosaic(images, rows=4, cols=4):
    """(rows*9-1, cols*9-1) mosaic of 8x8 images in [0, 1]."""
    out = np.full((rows * 9 - 1, cols * 9 - 1), np.nan)
    for k, img in enumerate(images[:rows * cols]):
        r, c = divmod(k, cols)
        out[r * 9:r * 9 + 8, c * 9:c * 9 + 8] = img.reshape(8, 8)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="out", help="output folder (default: out/)")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--steps", type=int, default=600, help="Gibbs steps of the top-level chain")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="smaller, faster run (for tests)")
    args = ap.parse_args(argv)
    if args.quick:
        args.epochs, args.steps = 2, 60
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    dpi = 50 if args.quick else 80

    X, y = digits()
    X = X / 16.0
    dbn = DBN([64, 100, 100], seed=args.seed)
    dbn.fit(X[:1500], y[:1500], epochs=args.epochs, learning_rate=0.02, momentum=0.9, l2=1e-4)
    dbn.save(out / "dbn_digits.nc")
    print(f"test accuracy of the softmax top layer: {dbn.score(X[1500:], y[1500:]):.3f} (chance 0.1)")

    every = max(1, args.steps // 60)
    gen = dbn.generate(steps=args.steps, chains=16, every=every)
    frames = gen.v.values  # (chain, step, visible)
    print(gen)

    fig, ax = plt.subplots(figsize=(4, 4))
    im = ax.imshow(mosaic(frames[:, 0]), cmap="gray_r", vmin=0, vmax=1)
    ax.axis("off")
    title = ax.set_title("")

    def draw(k):
        im.set_data(mosaic(frames[:, k]))
        title.set_text(f"top-level Gibbs step {int(gen.step[k])}")
        return [im]

    viz.save_animation(FuncAnimation(fig, draw, frames=frames.shape[1]), out / "dbn_generate.gif", fps=8, dpi=dpi)
    plt.close(fig)

    fig, axes = plt.subplots(1, 3, figsize=(12, 4))
    axes[0].imshow(mosaic(frames[:, -1]), cmap="gray_r", vmin=0, vmax=1)
    axes[0].set_title(f"generated (step {int(gen.step[-1])})")
    axes[1].imshow(mosaic(X[1500:1516]), cmap="gray_r", vmin=0, vmax=1)
    axes[1].set_title("test digits")
    for ax in axes[:2]:
        ax.axis("off")
    for layer in dbn.history.layer.values:
        axes[2].plot(dbn.history.epoch, dbn.history.reconstruction_error.sel(layer=layer), "o-",
                     label=f"RBM {layer}")
    axes[2].set_xlabel("epoch")
    axes[2].set_ylabel("reconstruction error (MSE)")
    axes[2].legend()
    fig.tight_layout()
    fig.savefig(out / "dbn_digits.png", dpi=dpi)
    plt.close(fig)
    dbn.fine_tune(X[:1500], y[:1500], max_iter=20 if args.quick else 150, l2=1e-4)
    print(f"test accuracy after fine-tuning the whole stack: {dbn.score(X[1500:], y[1500:]):.3f}")
    print(f"wrote {out / 'dbn_generate.gif'}, {out / 'dbn_digits.png'}, {out / 'dbn_digits.nc'}")


if __name__ == "__main__":
    main()
