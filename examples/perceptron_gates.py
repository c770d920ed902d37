"""Perceptron on the logic gates: Rosenblatt's rule finds AND, OR and NAND, and never XOR.

Trains one perceptron per gate (Rosenblatt's rule, seeded order) and writes to ``--out``:

- ``perceptron_gates.png``: the four truth tables with each perceptron's decision line
  ``w . x + b = 0`` (the side it calls 1 shaded); XOR's line keeps moving and never separates;
- ``perceptron_errors.png``: mistakes per epoch for each gate (zero from convergence on);
- ``perceptron_gates.nc``: errors per epoch, final weights, bias and convergence per gate.

    python examples/perceptron_gates.py --out out/ [--seed 0] [--quick]
"""
import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from neurosim import record  # noqa: E402
from neurosim.datasets import logic_gate  # noqa: E402
from neurosim.deep import Perceptron  # noqa: E402

GATES = ("AND", "OR", "NAND", "XOR")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="out", help="output folder (default: out/)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="fewer epochs for XOR (for tests)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    epochs = 20 if args.quick else 50

    models = {g: Perceptron(seed=args.seed).fit(*logic_gate(g), epochs=epochs) for g in GATES}

    fig, axes = plt.subplots(1, 4, figsize=(12, 3.2))
    grid = np.linspace(-0.5, 1.5, 201)
    gx, gy = np.meshgrid(grid, grid)
    for ax, (gate, p) in zip(axes, models.items()):
        X, y = logic_gate(gate)
        side = p.predict(np.column_stack([gx.ravel(), gy.ravel()])).reshape(gx.shape)
        ax.contourf(gx, gy, side, levels=[-0.5, 0.5, 1.5], colors=["white", "#cfe3f5"])
        w, b = p.weights_, p.bias_
        if w[1] != 0:
            ax.plot(grid, -(w[0] * grid + b) / w[1], "k-", lw=1.5)
        elif w[0] != 0:
            ax.axvline(-b / w[0], color="k", lw=1.5)
        for label, marker in ((0, "o"), (1, "s")):
            ax.scatter(*X[y == label].T, marker=marker, s=90,
                       c="tab:red" if label else "tab:gray", edgecolors="k", zorder=3,
                       label=f"output {label}")
        verdict = "converged" if p.converged_ else f"no line after {epochs} epochs"
        ax.set_title(f"{gate}: {verdict}", fontsize=10)
        ax.set_xlim(-0.5, 1.5)
        ax.set_ylim(-0.5, 1.5)
        ax.set_aspect("equal")
        ax.set_xlabel("$x_1$")
    axes[0].set_ylabel("$x_2$")
    axes[0].legend(loc="upper left", fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "perceptron_gates.png", dpi=110)
    plt.close(fig)

    errors = np.zeros((len(GATES), epochs), np.int64)  # no mistakes after convergence
    for i, p in enumerate(models.values()):
        errors[i, :p.history_.sizes["epoch"]] = p.history_.errors.values
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for gate, e in zip(GATES, errors):
        ax.plot(np.arange(1, epochs + 1), e, "o-", ms=3, label=gate)
    ax.set_xlabel("epoch")
    ax.set_ylabel("mistakes (updates) in the epoch")
    ax.set_title("Rosenblatt's rule on four gates")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "perceptron_errors.png", dpi=110)
    plt.close(fig)

    ds = record.dataset(
        {"errors": (("gate", "epoch"), errors),
         "weights": (("gate", "input"), np.array([p.weights_ for p in models.values()])),
         "bias": ("gate", np.array([p.bias_ for p in models.values()])),
         "converged": ("gate", np.array([p.converged_ for p in models.values()], np.int8))},
        {"gate": list(GATES), "epoch": np.arange(epochs), "input": ["x1", "x2"]},
        family="P", model="Perceptron", params={"epochs": epochs, "rule": "rosenblatt"},
        seed=args.seed)
    record.save(ds, out / "perceptron_gates.nc")
    summary = ", ".join(f"{g} {'yes' if p.converged_ else 'no'}" for g, p in models.items())
    print(f"converged: {summary}; files in {out}/")


if __name__ == "__main__":
    main()
