"""Deep convolutional inverse graphics network (DCIGN) on digits: reconstructions, latent
traversals and a class code learnt with Kulkarni's clamping.

A convolutional encoder (3x3 convolutions and 2x2 max-pooling, 8x8 -> 4x4 -> 2x2) maps each of
the 1500 training digits to a Gaussian over an 8-unit code; a transposed-convolution decoder
(2x2 -> 4x4 -> 8x8) draws it back; both are trained as a variational autoencoder (the
evidence lower bound, ELBO). Kulkarni's trick makes the first four units a class block: in
each batch they are clamped to their mean over the digits of the same class (whose style
varies) and pulled towards it, so the class goes there and the style to the other four. A
latent traversal decodes a digit's code with one unit swept while the others stay put.
Writes to ``--out``:

- ``dcign_digits_reconstructions.png``: one test digit of each class above its
  reconstruction;
- ``dcign_digits_traversals.png``: a test digit's traversals, one row per code unit (class
  block first, then style; each with its KL term in nats), one column per value of the unit;
- ``dcign_digits_swap.png``: each test digit's style units decoded with each other digit's
  class block (rows: style, columns: class);
- ``dcign_digits_traversal.gif``: the most active unit of the class block swept back and
  forth for four test digits at once;
- ``dcign_digits.nc``: the held-out negative ELBO and KL per epoch, the reconstructions, the
  traversals, the swaps and each unit's mean KL term on the test digits.

    python examples/dcign_digits.py --out out/ [--seed 0] [--quick] [--digit 0]
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
from neurosim.deep import DCIGN  # noqa: E402
from neurosim.viz import animate_images, save_animation  # noqa: E402
from neurosim.viz.plots import state_grid  # noqa: E402

LATENT, CLASS_UNITS = 8, 4


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


def plot_traversals(walks, values, kl, path):
    fig, axes = plt.subplots(LATENT, len(values), figsize=(len(values), LATENT * 1.05))
    for unit in range(LATENT):
        for col, value in enumerate(values):
            state_grid(walks[unit, col, 0], ax=axes[unit, col], vmin=0, vmax=1,
                       title=f"z = {value:+.1f}" if unit == 0 else None)
        block = "class" if unit < CLASS_UNITS else "style"
        axes[unit, 0].set_ylabel(f"{block} z{unit}\nKL {kl[unit]:.2f}", fontsize=8)
    fig.suptitle("latent traversals: one code unit swept, the others at the digit's code")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_swap(swaps, path):
    fig, ax = plt.subplots(figsize=(5.5, 5.8))
    tiles = np.pad(swaps.reshape(10, 10, 8, 8), ((0, 0), (0, 0), (0, 1), (0, 1)))
    ax.imshow(tiles.transpose(0, 2, 1, 3).reshape(90, 90)[:-1, :-1], cmap="gray_r", vmin=0,
              vmax=1)
    ticks = np.arange(10) * 9 + 3.5
    ax.set(xticks=ticks, xticklabels=range(10), yticks=ticks, yticklabels=range(10),
           xlabel="class block from a test digit of class", ylabel="style units from a test "
           "digit of class", title="style of one digit, class block of another")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def animate_traversal(walks, values, unit, path):
    """``walks`` (digits, values, 1, 8, 8): the unit's sweep for each digit, side by side."""
    strips = np.concatenate([np.pad(w[:, 0], ((0, 0), (0, 0), (0, 1))) for w in walks], axis=2)
    save_animation(animate_images(strips, values, title=f"z{unit} = {{:+.2f}}", bounce=True,
                                  vmin=0, vmax=1), path, fps=10)
    plt.close("all")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="out", help="output folder (default: out/)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="fewer epochs and frames (for tests)")
    ap.add_argument("--digit", type=int, default=0, help="class of the traversed test digit")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    Xtr, Xte, ytr, yte = digits_split()
    model = DCIGN(latent=LATENT, class_units=CLASS_UNITS, invariance=10.0, seed=args.seed)
    t0 = time.perf_counter()
    history = model.fit(Xtr, ytr, validation=Xte, epochs=2 if args.quick else 40, lr=3e-3,
                        seed=args.seed)
    fit_s = time.perf_counter() - t0

    firsts = np.array([np.flatnonzero(yte == k)[0] for k in range(10)])
    reconstructions = model.reconstruct(Xte[firsts])
    plot_reconstructions(Xte[firsts], reconstructions, out / "dcign_digits_reconstructions.png")

    mean, log_var = model.posterior(Xte)
    kl = (0.5 * (np.exp(log_var) + mean ** 2 - 1.0 - log_var)).mean(axis=0)
    values = np.linspace(-2.5, 2.5, 7 if args.quick else 9)
    walks = model.traversals(Xte[firsts[args.digit]], values)
    plot_traversals(walks, values, kl, out / "dcign_digits_traversals.png")
    swaps = model.swap(np.repeat(Xte[firsts], 10, axis=0), np.tile(Xte[firsts], (10, 1)))
    plot_swap(swaps, out / "dcign_digits_swap.png")
    unit = int(np.argmax(kl[:CLASS_UNITS]))
    sweep = np.linspace(-2.5, 2.5, 9 if args.quick else 31)
    animate_traversal([model.traverse(Xte[i], unit, sweep).reshape(-1, 1, 8, 8)
                       for i in firsts[:4]], sweep, unit, out / "dcign_digits_traversal.gif")

    ds = record.dataset(
        {"val_negative_elbo": ("epoch", history.val_loss.values),
         "val_kl": ("epoch", history.val_kl.values),
         "digit": (("example", "pixel"), Xte[firsts]),
         "reconstruction": (("example", "pixel"), reconstructions),
         "traversal": (("unit", "value", "row", "col"), walks[:, :, 0]),
         "swap": (("style_digit", "class_digit", "pixel"), swaps.reshape(10, 10, 64)),
         "unit_kl": ("unit", kl, {"long_name": "mean KL term per code unit on the test digits (nats)",
                                  "units": "1"})},
        {"epoch": history.epoch.values, "example": np.arange(10), "value": values,
         "unit": np.arange(LATENT)},
        family="DCIGN", model="DCIGN",
        params={"latent": LATENT, "class_units": CLASS_UNITS, "invariance": 10.0,
                "channels": "16-32", "epochs": history.sizes["epoch"],
                "traversed_digit": args.digit,
                "test_negative_elbo": float(history.val_loss.values[-1])},
        seed=args.seed, attrs={"loss_units": "nats per image"})
    record.save(ds, out / "dcign_digits.nc")
    active = int((kl > 0.1).sum())
    print(f"held-out negative ELBO {history.val_loss.values[-1]:.2f} nats per image after "
          f"{history.sizes['epoch']} epochs ({fit_s:.1f} s); {active} of {LATENT} code units "
          f"active (KL > 0.1 nats); files in {out}/")


if __name__ == "__main__":
    main()
