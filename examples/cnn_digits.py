"""Convolutional network (CNN) on the bundled digits: training curves, filters, feature maps.

The benchmark CNN (conv 3x3x16 pad 1, ReLU, max-pool 2, conv 3x3x32 pad 1, ReLU, max-pool 2,
dense 10; Adam 1e-3, batch 32) on the digits split (first 1500 images to train, last 297 to
test, pixels / 16). Writes to ``--out``:

- ``cnn_digits_training.png``: training and test loss and accuracy per epoch;
- ``cnn_digits_filters.png``: the 16 learned 3x3 filters of the first layer;
- ``cnn_digits_maps.png``: one test digit and its feature maps after each convolution stage;
- ``cnn_digits_confusion.png``: the confusion matrix on the test digits;
- ``cnn_digits.nc``: the training history as a Dataset.

    python examples/cnn_digits.py --out out/ [--seed 0] [--quick]
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
from neurosim.deep import as_images, feature_maps, lenet  # noqa: E402
from neurosim.nn.layers import Conv2D  # noqa: E402
from neurosim.viz.plots import confusion_matrix, state_grid  # noqa: E402


def plot_curves(history, path):
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.5))
    epochs = history.epoch.values + 1
    a1.plot(epochs, history.epoch_loss, "o-", label="train")
    a1.plot(epochs, history.val_loss, "s-", label="test")
    a1.set_ylabel("cross-entropy (nats)")
    a2.plot(epochs, history.accuracy, "o-", label="train")
    a2.plot(epochs, history.val_accuracy, "s-", label="test")
    a2.set_ylabel("accuracy")
    for ax in (a1, a2):
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle("CNN on digits (1500 train / 297 test)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_filters(W, path):
    lim = np.abs(W).max()
    fig, axes = plt.subplots(2, 8, figsize=(8, 2.4))
    for k, ax in enumerate(axes.flat):
        state_grid(W[k, 0], ax=ax, cmap="RdBu_r", vmin=-lim, vmax=lim, title=f"{k}")
    fig.suptitle("first-layer filters (red +, blue -)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_maps(model, image, label, path):
    maps = [(layer, a[0]) for layer, a in feature_maps(model, image[None])
            if isinstance(layer, Conv2D)]
    rows = 1 + sum(-(-len(a) // 16) for _, a in maps)
    fig = plt.figure(figsize=(12, 0.9 * rows + 0.6))
    state_grid(image[0], ax=fig.add_subplot(rows, 16, 1), title=f"digit {label}")
    row = 1
    for layer, a in maps:
        for k, m in enumerate(a):
            ax = fig.add_subplot(rows, 16, 16 * (row + k // 16) + k % 16 + 1)
            state_grid(m, ax=ax, cmap="viridis", vmin=0, vmax=max(a.max(), 1e-9))
            if k == 0:
                ax.set_ylabel(f"{a.shape[1]}x{a.shape[2]}", fontsize=7)
        row += -(-len(a) // 16)
    fig.suptitle("feature maps after each convolution + ReLU")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_confusion(y, pred, path):
    fig, ax = plt.subplots(figsize=(4.5, 4))
    confusion_matrix(y, pred, ax)
    ax.set_title(f"test accuracy {np.mean(y == pred):.3f}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="out", help="output folder (default: out/)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="3 epochs instead of 20 (for tests)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    Xtr, Xte, ytr, yte = digits_split()
    Xtr, Xte = as_images(Xtr), as_images(Xte)
    model = lenet(seed=args.seed)
    t = time.perf_counter()
    history = model.fit(Xtr, ytr, epochs=3 if args.quick else 20, batch_size=32, lr=1e-3,
                        seed=args.seed, validation=(Xte, yte), metrics=["accuracy"])
    fit_s = time.perf_counter() - t
    pred = model.predict(Xte).argmax(axis=1)

    plot_curves(history, out / "cnn_digits_training.png")
    plot_filters(model.layers[0].params["W"].data, out / "cnn_digits_filters.png")
    plot_maps(model, Xte[0], yte[0], out / "cnn_digits_maps.png")
    plot_confusion(yte, pred, out / "cnn_digits_confusion.png")
    record.save(history, out / "cnn_digits.nc")
    print(f"test accuracy {np.mean(pred == yte):.3f} after {history.sizes['epoch']} epochs "
          f"({fit_s:.1f} s); files in {out}/")


if __name__ == "__main__":
    main()
