"""A restricted Boltzmann machine learning the bundled 8x8 digits.

Trains a Bernoulli RBM (64 visible, 100 hidden) on the digits scaled to [0, 1] by CD-1 with
momentum, classifies the test digits from its hidden probabilities with a softmax regression,
and writes to ``--out``:

- ``rbm_filters.gif``: the 100 filters (weights of each hidden unit) epoch by epoch;
- ``rbm_filters.png``: the final filters, with the training history (reconstruction error,
  pseudo-log-likelihood per epoch);
- ``rbm_gibbs.gif``: a block Gibbs chain of the trained model, ``E[v | h]`` step by step;
- ``rbm_digits.nc``: the trained model (``RBM.load`` reads it back).

    python examples/rbm_digits.py --out out/ [--hidden 100] [--epochs 15]
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
from neurosim.energy.dbn import SoftmaxRegression  # noqa: E402
from neurosim.energy.rbm import RBM  # noqa: E402


def tiles(images, rows, cols, pad=1):
    """A (rows*9, cols*9) mosaic of 8x8 images (rows of ``images``), each scaled to [0, 1]."""
    out = np.full((rows * (8 + pad) - pad, cols * (8 + pad) - pad), np.nan)
    for k, img in enumerate(images[:rows * cols]):
        a = img.reshape(8, 8)
        a = (a - a.min()) / (np.ptp(a) + 1e-12)
        r, c = divmod(k, cols)
        out[r * 9:r * 9 + 8, c * 9:c * 9 + 8] = a
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="out", help="output folder (default: out/)")
    ap.add_argument("--hidden", type=int, default=100)
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="smaller, faster run (for tests)")
    args = ap.parse_args(argv)
    if args.quick:
        args.hidden, args.epochs = 49, 3
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    dpi = 50 if args.quick else 80

    X, y = digits()
    X = X / 16.0
    train, test = slice(0, 1500), slice(1500, None)
    side = int(np.ceil(np.sqrt(args.hidden)))
    snapshots = []
    rbm = RBM(64, args.hidden, seed=args.seed)
    rbm.fit(X[train], args.epochs, learning_rate=0.02, momentum=0.9, batch_size=10,
            callback=lambda epoch, model: snapshots.append(model.W.T.copy()))
    rbm.save(out / "rbm_digits.nc")

    clf = SoftmaxRegression(args.hidden, 10, l2=1e-4).fit(rbm.transform(X[train]), y[train])
    raw = SoftmaxRegression(64, 10, l2=1e-4).fit(X[train], y[train])
    print(f"test accuracy: RBM features {clf.score(rbm.transform(X[test]), y[test]):.3f}, "
          f"raw pixels {raw.score(X[test], y[test]):.3f} (chance 0.1)")
    print(rbm.history)

    fig, ax = plt.subplots(figsize=(5, 5))
    im = ax.imshow(tiles(snapshots[0], side, side), cmap="gray", vmin=0, vmax=1)
    ax.axis("off")
    title = ax.set_title("")

    def draw(k):
        im.set_data(tiles(snapshots[k], side, side))
        title.set_text(f"RBM filters, epoch {k + 1}")
        return [im]

    viz.save_animation(FuncAnimation(fig, draw, frames=len(snapshots)), out / "rbm_filters.gif", fps=3, dpi=dpi)
    plt.close(fig)

    h = rbm.history
    fig, axes = plt.subplots(1, 3, figsize=(12, 4))
    axes[0].imshow(tiles(rbm.W.T, side, side), cmap="gray")
    axes[0].axis("off")
    axes[0].set_title("filters after training")
    axes[1].plot(h.epoch, h.reconstruction_error, "o-")
    axes[1].set_xlabel("epoch")
    axes[1].set_ylabel("reconstruction error (MSE)")
    axes[2].plot(h.epoch, h.pseudo_likelihood, "o-")
    axes[2].set_xlabel("epoch")
    axes[2].set_ylabel("pseudo-log-likelihood (nats)")
    fig.tight_layout()
    fig.savefig(out / "rbm_filters.png", dpi=dpi)
    plt.close(fig)

    steps = 60 if args.quick else 300
    chain = rbm.sample(steps=steps, chains=16, every=steps // 30, initial=X[test][:16])
    frames = chain.v_mean.values  # (chain, step, visible)
    fig, ax = plt.subplots(figsize=(4, 4))
    im = ax.imshow(tiles(frames[:, 0], 4, 4), cmap="gray_r", vmin=0, vmax=1)
    ax.axis("off")
    title = ax.set_title("")

    def draw_chain(k):
        im.set_data(tiles(frames[:, k], 4, 4))
        title.set_text(f"Gibbs step {int(chain.step[k])}")
        return [im]

    viz.save_animation(FuncAnimation(fig, draw_chain, frames=frames.shape[1]), out / "rbm_gibbs.gif", fps=6, dpi=dpi)
    plt.close(fig)
    print(f"wrote {out / 'rbm_filters.gif'}, {out / 'rbm_filters.png'}, {out / 'rbm_gibbs.gif'}, "
          f"{out / 'rbm_digits.nc'}")


if __name__ == "__main__":
    main()
