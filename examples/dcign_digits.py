"""Deep convolutional inverse graphics network (DCIGN) on digits: reconstructions and latent
traversals.

A convolutional encoder (3x3 convolutions and 2x2 max-pooling, 8x8 -> 4x4 -> 2x2) maps each of
the 1500 training digits to a Gaussian over an 8-unit code; a transposed-convolution decoder
(2x2 -> 4x4 -> 8x8) draws it back; both are trained as a variational autoencoder (the
evidence lower bound, ELBO). A latent traversal decodes a digit's code with one unit swept
while the others stay put: the units the KL term keeps active each change one aspect of the
digit, the others do nothing. Writes to ``--out``:

- ``dcign_digits_reconstructions.png``: one test digit of each class above its
  reconstruction;
- ``dcign_digits_traversals.png``: a test digit's traversals, one row per code unit (most
  active first, with its KL term in nats), one column per value of the unit;
- ``dcign_digits_traversal.gif``: the most active unit swept back and forth for four test
  digits at once;
- ``dcign_digits.nc``: the held-out negative ELBO and KL per epoch, the reconstructions, the
  traversals and each unit's mean KL term on the test digits.

    python examples/dcign_digits.py --out out/ [--seed 0] [--quick] [--digit 0]
"""
import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.animation import FuncAnimation  # noqa: E402

from neurosim import record  # noqa: E402
from neurosim.datasets import digits_split  # noqa: E402
from neurosim.feedforward import DCIGN  # noqa: E402
from neurosim.viz.animate import save_animation  # noqa: E402
from neurosim.viz.plots import state_grid  # noqa: E402

LATENT = 8


def plot_reconstructions(originals, reconstructions, path):
    fig, axes = plt.subplots(2, 10, figsize=(10, 2.6))
    for k in range(10):
        state_grid(originals[k].reshape(8, 8), ax=axes[0, k], vmin=0, vmax=1)
        state_grid(reconstructions[k].reshape(8, 8), ax=axes[1, k], vmin=0, vmax=1)
    axes[0, 0].set_ylabel("test digit")
    axes[1, 0].set_ylabel("reconstructed")
    fig.suptitle("DCIGN: reconstructions from the posterior mean")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_traversals(walks, values, order, kl, path):
    fig, axes = plt.subplots(len(order), len(values), figsize=(len(values), len(order) * 1.05))
    for row, unit in enumerate(order):
        for col, value in enumerate(values):
            state_grid(walks[unit, col, 0], ax=axes[row, col], vmin=0, vmax=1,
                       title=f"z = {value:+.1f}" if row == 0 else None)
        axes[row, 0].set_ylabel(f"z{unit}\nKL {kl[unit]:.2f}", fontsize=8)
    fig.suptitle("latent traversals: one code unit swept, the others at the digit's code")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def animate_traversal(walks, values, unit, path):
    """``walks`` (digits, values, 1, 8, 8): the unit's sweep for each digit, side by side."""
    strips = np.concatenate([np.pad(w[:, 0], ((0, 0), (0, 0), (0, 1))) for w in walks], axis=2)
    fig, ax = plt.subplots(figsize=(1.3 * len(walks), 1.9))
    state_grid(strips[0], ax=ax, vmin=0, vmax=1)
    frames = np.concatenate([np.arange(len(values)), np.arange(len(values))[::-1]])

    def draw(i):
        ax.images[-1].set_data(strips[i])
        ax.set_title(f"z{unit} = {values[i]:+.2f}")
        return ax.images
    save_animation(FuncAnimation(fig, draw, frames=frames), path, fps=10)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="out", help="output folder (default: out/)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="fewer epochs and frames (for tests)")
    ap.add_argument("--digit", type=int, default=0, help="class of the traversed test digit")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    Xtr, Xte, _, yte = digits_split()
    model = DCIGN(latent=LATENT, seed=args.seed)
    t0 = time.perf_counter()
    history = model.fit(Xtr, validation=Xte, epochs=2 if args.quick else 60, lr=3e-3,
                        seed=args.seed)
    fit_s = time.perf_counter() - t0

    firsts = np.array([np.flatnonzero(yte == k)[0] for k in range(10)])
    reconstructions = model.reconstruct(Xte[firsts])
    plot_reconstructions(Xte[firsts], reconstructions, out / "dcign_digits_reconstructions.png")

    mean, log_var = model.posterior(Xte)
    kl = (0.5 * (np.exp(log_var) + mean ** 2 - 1.0 - log_var)).mean(axis=0)
    order = np.argsort(kl)[::-1]
    values = np.linspace(-2.5, 2.5, 7 if args.quick else 9)
    walks = model.traversals(Xte[firsts[args.digit]], values)
    plot_traversals(walks, values, order, kl, out / "dcign_digits_traversals.png")
    sweep = np.linspace(-2.5, 2.5, 9 if args.quick else 31)
    animate_traversal([model.traverse(Xte[i], order[0], sweep).reshape(-1, 1, 8, 8)
                       for i in firsts[:4]], sweep, order[0], out / "dcign_digits_traversal.gif")

    ds = record.dataset(
        {"val_negative_elbo": ("epoch", history.val_loss.values),
         "val_kl": ("epoch", history.val_kl.values),
         "digit": (("example", "pixel"), Xte[firsts]),
         "reconstruction": (("example", "pixel"), reconstructions),
         "traversal": (("unit", "value", "row", "col"), walks[:, :, 0]),
         "unit_kl": ("unit", kl, {"long_name": "mean KL term per code unit on the test digits",
                                  "units": "nats"})},
        {"epoch": history.epoch.values, "example": np.arange(10), "value": values,
         "unit": np.arange(LATENT)},
        family="DCIGN", model="DCIGN",
        params={"latent": LATENT, "channels": "16-32", "epochs": history.sizes["epoch"],
                "traversed_digit": args.digit,
                "test_negative_elbo": float(history.val_loss.values[-1])},
        seed=args.seed, attrs={"units": "nats per image"})
    record.save(ds, out / "dcign_digits.nc")
    active = int((kl > 0.1).sum())
    print(f"held-out negative ELBO {history.val_loss.values[-1]:.2f} nats per image after "
          f"{history.sizes['epoch']} epochs ({fit_s:.1f} s); {active} of {LATENT} code units "
          f"active (KL > 0.1 nats); files in {out}/")


if __name__ == "__main__":
    main()
