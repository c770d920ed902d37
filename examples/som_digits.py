"""A Kohonen map of the bundled handwritten digits.

Trains a 20x20 map (PCA initialisation, 20,000 online updates, sigma 3, learning rate 0.5:
the benchmark's settings) on the 8x8 digits scaled to [0, 1], then writes to ``--out``:

- ``som_digits.png``: the U-matrix with each unit's majority digit, the unit prototypes as
  images, the hit map, and the quantisation and topographic errors over training;
- ``som_digits.nc``: the trained map (``SOM.load`` reads it back).

    python examples/som_digits.py --out out/ [--topology hex] [--iterations 20000]
"""
import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from neurosim.datasets import digits  # noqa: E402
from neurosim.som import SOM  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="out", help="output folder (default: out/)")
    ap.add_argument("--topology", default="rect", choices=("rect", "hex"))
    ap.add_argument("--iterations", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="smaller, faster run (for tests)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    X, y = digits()
    X = X / 16.0
    size = 10 if args.quick else 20
    som = SOM(size, size, 64, topology=args.topology, sigma=3.0, learning_rate=0.5, init="pca", seed=args.seed)
    hist = som.train(X, iterations=3000 if args.quick else args.iterations, checkpoints=20)
    qe, te = som.quantization_error(X), som.topographic_error(X)
    print(f"{size}x{size} {args.topology} map: quantisation error {qe:.3f}, topographic error {te:.3f}")
    som.save(out / "som_digits.nc")

    bmu = som.bmu(X)
    majority = np.full(som.n_units, -1)
    purity = []
    for u in np.unique(bmu):
        counts = np.bincount(y[bmu == u], minlength=10)
        majority[u] = counts.argmax()
        purity.append(counts.max())
    print(f"units labelled by their majority digit explain {sum(purity) / len(y):.1%} of the samples")

    fig, axes = plt.subplots(1, 4, figsize=(20, 5), gridspec_kw={"width_ratios": [1.1, 1, 1.1, 1]})
    U = som.umatrix().values
    im = axes[0].imshow(U, cmap="bone_r")
    fig.colorbar(im, ax=axes[0], fraction=0.046, label="mean distance to neighbours")
    for u in range(som.n_units):
        if majority[u] >= 0:
            r, c = divmod(u, som.cols)
            axes[0].text(c, r, str(majority[u]), ha="center", va="center", fontsize=7,
                         color=plt.cm.tab10(majority[u]))
    axes[0].set_title("U-matrix and majority digit")
    tiles = som.weights.reshape(som.rows, som.cols, 8, 8).transpose(0, 2, 1, 3).reshape(som.rows * 8, som.cols * 8)
    axes[1].imshow(tiles, cmap="gray_r")
    axes[1].set_title("unit prototypes")
    hits = som.hit_map(X).values
    im = axes[2].imshow(hits, cmap="viridis")
    fig.colorbar(im, ax=axes[2], fraction=0.046, label="samples")
    axes[2].set_title("hit map")
    for ax in axes[:3]:
        ax.set_xticks([])
        ax.set_yticks([])
    axes[3].plot(hist.iteration, hist.quantization_error, "o-", label="quantisation error")
    axes[3].set_xlabel("online updates")
    axes[3].set_ylabel("quantisation error")
    ax2 = axes[3].twinx()
    ax2.plot(hist.iteration, hist.topographic_error, "s-", color="C1", label="topographic error")
    ax2.set_ylabel("topographic error")
    axes[3].set_title(f"QE {qe:.3f}, TE {te:.3f}")
    fig.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    png = out / "som_digits.png"
    fig.savefig(png, dpi=60 if args.quick else 90)
    plt.close(fig)
    print(f"wrote {png}")
    return png


if __name__ == "__main__":
    main()
