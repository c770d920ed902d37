"""Feed-forward network (MLP) on the bundled digits: learning curves for several hidden widths.

Digits (8x8, values / 16), first 1500 images to train, last 297 to test. Trains 64-h-10 ReLU
networks with Adam and writes to ``--out``:

- ``mlp_digits_curves.png``: training and test loss per epoch, and test accuracy, per width;
- ``mlp_digits_weights.png``: the input weights of sixteen hidden units of the widest network,
  as 8x8 images (the strokes each unit looks for);
- ``mlp_digits.nc``: that network's training history (loss per step, metrics per epoch).

    python examples/mlp_digits.py --out out/ [--seed 0] [--quick]
"""
import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from neurosim import record  # noqa: E402
from neurosim.datasets import digits_split  # noqa: E402
from neurosim.deep import mlp  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="out", help="output folder (default: out/)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="fewer widths and epochs (for tests)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    Xtr, Xte, ytr, yte = digits_split()
    widths = [16, 128] if args.quick else [8, 32, 128, 256]
    epochs = 5 if args.quick else 25
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.8))
    for i, width in enumerate(widths):
        model = mlp((64, width, 10), "relu", seed=args.seed)
        h = model.fit(Xtr, ytr, epochs=epochs, batch_size=32, lr=1e-3, seed=args.seed,
                      validation=(Xte, yte), metrics=["accuracy"])
        color = f"C{i}"
        ax_loss.semilogy(h.epoch, h.epoch_loss, color=color, label=f"{width} hidden: train")
        ax_loss.semilogy(h.epoch, h.val_loss, "--", color=color, label="test")
        ax_acc.plot(h.epoch, h.val_accuracy, color=color, label=f"{width} hidden")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("cross-entropy (nats)")
    ax_loss.legend(fontsize=7, ncol=2)
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("test accuracy")
    ax_acc.legend(fontsize=8)
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
    fig.suptitle("MLP 64-h-10 on digits (Adam 1e-3, batch 32)")
    fig.tight_layout()
    fig.savefig(out / "mlp_digits_curves.png", dpi=110)
    plt.close(fig)

    W = dict(model.parameters())["0.W"].data
    strongest = np.argsort(-np.abs(W).sum(axis=0))[:16]
    fig, axes = plt.subplots(2, 8, figsize=(9, 2.6))
    for ax, unit in zip(axes.flat, strongest):
        lim = np.abs(W[:, unit]).max()
        ax.imshow(W[:, unit].reshape(8, 8), cmap="RdBu_r", vmin=-lim, vmax=lim)
        ax.set_title(f"unit {unit}", fontsize=7)
        ax.axis("off")
    fig.suptitle(f"input weights of the {width}-unit network (red: excitatory)")
    fig.tight_layout()
    fig.savefig(out / "mlp_digits_weights.png", dpi=110)
    plt.close(fig)
    record.save(h, out / "mlp_digits.nc")
    print(f"test accuracy {float(h.val_accuracy[-1]):.3f} with {width} hidden units; files in {out}/")


if __name__ == "__main__":
    main()
