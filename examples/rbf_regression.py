"""RBF network: a noisy 1-D function from Gaussian bumps, and digits against the number of centres.

Fits an RBF network (k-means centres, nearest-centre widths, ridge read-out) to noisy samples
of ``sin(x) + 0.3 sin(3 x)`` on [0, 2 pi], then classifies the bundled digits (values / 16, first
1500 to train, last 297 to test) with more and more centres. Writes to ``--out``:

- ``rbf_regression.png``: data, fit, the true function, the centres and each weighted Gaussian
  bump ``w_j exp(-(x - c_j)^2 / 2 s_j^2)`` whose sum (plus the bias) is the fit;
- ``rbf_digits.png``: test accuracy against the number of centres;
- ``rbf_regression.nc``: the fitted 1-D network (centres, widths, weights, bias).

    python examples/rbf_regression.py --out out/ [--seed 0] [--quick]
"""
import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from neurosim import record, rng  # noqa: E402
from neurosim.datasets import digits  # noqa: E402
from neurosim.deep import RBFNetwork  # noqa: E402


def target(x):
    return np.sin(x) + 0.3 * np.sin(3 * x)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="out", help="output folder (default: out/)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="fewer centre counts (for tests)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    g = rng.generator(args.seed)
    x = np.sort(g.uniform(0, 2 * np.pi, 120))
    y = target(x) + 0.15 * g.standard_normal(x.size)
    net = RBFNetwork(12, ridge=1e-3, seed=args.seed).fit(x[:, None], y)
    xs = np.linspace(0, 2 * np.pi, 500)
    bumps = net.features(xs[:, None]) * net.weights_[:, 0]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    top.plot(x, y, ".", color="0.6", label="noisy samples")
    top.plot(xs, target(xs), "k--", lw=1, label="true function")
    top.plot(xs, net.predict(xs[:, None]), "tab:blue", lw=2, label="RBF fit")
    top.plot(net.centers_[:, 0], net.predict(net.centers_), "v", color="tab:red", ms=7,
             label="centres")
    top.set_title(f"RBF network, {net.centers} centres: R$^2$ on the true function "
                  f"{net.score(xs[:, None], target(xs)):.3f}")
    top.legend(fontsize=8)
    bottom.plot(xs, bumps, lw=1)
    bottom.axhline(net.bias_[0], color="k", lw=0.8, ls=":", label="bias")
    bottom.set_xlabel("x")
    bottom.set_ylabel("weighted Gaussian bumps")
    bottom.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "rbf_regression.png", dpi=110)
    plt.close(fig)
    record.save(net.to_dataset(), out / "rbf_regression.nc")

    X, labels = digits()
    X = X / 16.0
    counts = [10, 50, 150] if args.quick else [10, 25, 50, 100, 200, 400, 800]
    accuracy = [RBFNetwork(k, seed=args.seed).fit(X[:1500], labels[:1500])
                .score(X[1500:], labels[1500:]) for k in counts]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.semilogx(counts, accuracy, "o-")
    ax.set_xlabel("centres (k-means)")
    ax.set_ylabel("test accuracy")
    ax.set_title("RBF network on digits (1500 train / 297 test)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "rbf_digits.png", dpi=110)
    plt.close(fig)
    best = int(np.argmax(accuracy))
    print(f"digits: accuracy {accuracy[best]:.3f} with {counts[best]} centres; files in {out}/")


if __name__ == "__main__":
    main()
