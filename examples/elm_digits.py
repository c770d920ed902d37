"""Extreme learning machine on the bundled digits: accuracy against hidden-layer size.

Digits (8x8, values / 16), first 1500 images to train, last 297 to test. For several hidden
sizes and activations, fits an ELM (one least-squares solve) and writes to ``--out``:

- ``elm_digits_accuracy.png``: test accuracy against the number of hidden units;
- ``elm_digits_confusion.png``: the confusion matrix of the largest tanh ELM, with some of the
  test digits it got wrong;
- ``elm_digits.nc``: that model's predictions as a Dataset.

    python examples/elm_digits.py --out out/ [--seed 0] [--quick]
"""
import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from neurosim import record  # noqa: E402
from neurosim.datasets import digits  # noqa: E402
from neurosim.reservoir import ELM  # noqa: E402
from neurosim.viz.plots import confusion_matrix  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="out", help="output folder (default: out/)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="fewer sizes (for tests)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    X, y = digits()
    X = X / 16.0
    Xtr, ytr, Xte, yte = X[:1500], y[:1500], X[1500:], y[1500:]
    sizes = [25, 100, 400] if args.quick else [25, 50, 100, 200, 400, 800, 1500]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for act in ("tanh", "relu", "sigmoid"):
        acc = []
        for h in sizes:
            m = ELM(h, activation=act, ridge=1e-2, seed=args.seed).fit(Xtr, ytr)
            acc.append(m.score(Xte, yte))
        ax.semilogx(sizes, acc, "o-", label=act)
    ax.set_xlabel("hidden units")
    ax.set_ylabel("test accuracy")
    ax.set_title("ELM on digits (1500 train / 297 test)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "elm_digits_accuracy.png", dpi=110)
    plt.close(fig)

    t = time.perf_counter()
    best = ELM(sizes[-1], activation="tanh", ridge=1e-2, seed=args.seed).fit(Xtr, ytr)
    fit_s = time.perf_counter() - t
    ds = best.evaluate(Xte, yte)
    pred = ds["prediction"].values
    fig = plt.figure(figsize=(9, 4))
    ax = fig.add_subplot(1, 2, 1)
    confusion_matrix(yte, pred, ax)
    ax.set_title(f"{sizes[-1]} tanh units: accuracy {ds.attrs['score']:.3f}")
    wrong = np.flatnonzero(pred != yte)[:8]
    for k, i in enumerate(wrong):
        a = fig.add_subplot(4, 4, 4 * (k // 2) + 3 + k % 2)
        a.imshow(Xte[i].reshape(8, 8), cmap="gray_r")
        a.set_title(f"{yte[i]} -> {pred[i]}", fontsize=8)
        a.axis("off")
    fig.tight_layout()
    fig.savefig(out / "elm_digits_confusion.png", dpi=110)
    plt.close(fig)
    record.save(ds, out / "elm_digits.nc")
    print(f"accuracy {ds.attrs['score']:.3f} with {sizes[-1]} hidden units (fit {fit_s:.2f} s); files in {out}/")


if __name__ == "__main__":
    main()
