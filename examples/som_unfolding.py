"""A Kohonen map unfolding over uniform 2-D data.

A 12x12 map (rectangular by default) starts from random weights in the unit square and learns
uniform samples online; its grid, drawn in the data plane, unfolds and spreads out. Writes to
``--out``:

- ``som_unfolding.gif``: the animation (one frame per checkpoint);
- ``som_unfolding.png``: snapshots, and the quantisation and topographic errors over training.

    python examples/som_unfolding.py --out out/ [--topology hex] [--toroidal]
"""
import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.animation import FuncAnimation, PillowWriter  # noqa: E402

from neurosim.som import SOM  # noqa: E402


def draw_grid(ax, W, som):
    """Draw the map's weights (rows, cols, 2) in the data plane with grid-neighbour edges."""
    ax.clear()
    segs = []
    for r in range(som.rows):
        for c in range(som.cols):
            if c + 1 < som.cols:
                segs.append((W[r, c], W[r, c + 1]))
            if r + 1 < som.rows:
                segs.append((W[r, c], W[r + 1, c]))
                if som.topology == "hex":  # the other lower neighbour on a hexagonal grid
                    cc = c + 1 if r % 2 else c - 1
                    if 0 <= cc < som.cols:
                        segs.append((W[r, c], W[r + 1, cc]))
    for a, b in segs:
        ax.plot([a[0], b[0]], [a[1], b[1]], color="C0", lw=0.8)
    ax.plot(W[..., 0].ravel(), W[..., 1].ravel(), "o", color="C3", ms=2.5)
    ax.set_xlim(-0.05, 1.05)
    ax.set_ylim(-0.05, 1.05)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="out", help="output folder (default: out/)")
    ap.add_argument("--topology", default="rect", choices=("rect", "hex"))
    ap.add_argument("--toroidal", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="smaller, faster run (for tests)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    X = np.random.default_rng(args.seed).random((2000, 2))
    size = 6 if args.quick else 12
    som = SOM(size, size, 2, topology=args.topology, toroidal=args.toroidal, sigma=size / 2,
              learning_rate=0.5, decay="exponential", sigma_end=0.7, learning_rate_end=0.02,
              init="random", seed=args.seed)
    som.initialise(X)
    W0 = som.weights.copy()
    frames = 10 if args.quick else 40
    hist = som.train(X, iterations=2000 if args.quick else 20_000, checkpoints=frames, record_weights=True)
    print(hist[["iteration", "sigma", "quantization_error", "topographic_error"]].to_dataframe().tail())

    weights = np.concatenate([W0[None], hist.weights.values])
    its = np.concatenate([[0], hist.iteration.values])
    fig, ax = plt.subplots(figsize=(4.5, 4.8))

    def frame(k):
        draw_grid(ax, weights[k], som)
        ax.set_title(f"{som.rows}x{som.cols} {som.topology} map, update {its[k]}")

    anim = FuncAnimation(fig, frame, frames=len(weights), interval=150)
    gif = out / "som_unfolding.gif"
    anim.save(gif, writer=PillowWriter(fps=8), dpi=50 if args.quick else 70)
    plt.close(fig)

    picks = np.unique(np.linspace(0, len(weights) - 1, 4).round().astype(int))
    fig, axes = plt.subplots(1, len(picks) + 1, figsize=(4 * (len(picks) + 1), 4.4))
    for ax, k in zip(axes, picks):
        draw_grid(ax, weights[k], som)
        ax.set_title(f"update {its[k]}")
    axes[-1].plot(hist.iteration, hist.quantization_error, "o-", label="quantisation error")
    axes[-1].plot(hist.iteration, hist.topographic_error, "s-", label="topographic error")
    axes[-1].set_xlabel("online updates")
    axes[-1].legend()
    fig.tight_layout()
    png = out / "som_unfolding.png"
    fig.savefig(png, dpi=60 if args.quick else 90)
    plt.close(fig)
    print(f"wrote {gif} and {png}")
    return gif


if __name__ == "__main__":
    main()
