"""Variational autoencoder (VAE) with a two-dimensional latent space, trained on digits.

A VAE 64-128-(2x2)-128-64 learns the 1500 training digits by maximising the evidence lower
bound (ELBO); with two latent dimensions the whole code space can be drawn. Writes to
``--out``:

- ``vae_digits_latent.png``: the posterior means of the 297 test digits coloured by class,
  beside the digits the decoder draws on a grid over the same latent square;
- ``vae_digits_samples.png``: digits decoded from codes drawn from the prior N(0, I);
- ``vae_digits_interpolation.gif`` and ``vae_digits_interpolation.png``: the decoded path
  along the straight line between the codes of two test digits (an animation and a strip);
- ``vae_digits.nc``: latent means, samples, path, the held-out negative ELBO and KL term per
  epoch, and the test ELBO and importance-sampled log-likelihood (nats per image).

    python examples/vae_digits.py --out out/ [--seed 0] [--quick] [--pair 0 2]
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
from neurosim.deep import VariationalAutoencoder  # noqa: E402
from neurosim.viz import animate_images, image_strip, save_animation  # noqa: E402


def mosaic(images, rows):
    """(rows * cols, 64) images as one (rows * 9 - 1, cols * 9 - 1) picture, 1-pixel gaps."""
    cols = len(images) // rows
    tiles = np.pad(images.reshape(rows, cols, 8, 8), ((0, 0), (0, 0), (0, 1), (0, 1)))
    return tiles.transpose(0, 2, 1, 3).reshape(rows * 9, cols * 9)[:-1, :-1]


def plot_latent(means, labels, grid, decoded, path):
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 5))
    points = ax.scatter(means[:, 0], means[:, 1], c=labels, cmap="tab10", s=12, vmin=-0.5,
                        vmax=9.5)
    fig.colorbar(points, ax=ax, ticks=range(10), label="digit")
    ax.set(xlabel="z1", ylabel="z2", xlim=(grid[0], grid[-1]), ylim=(grid[0], grid[-1]),
           title="test digits: posterior means")
    bx.imshow(mosaic(decoded, len(grid)), cmap="gray_r", vmin=0, vmax=1,
              extent=(grid[0], grid[-1], grid[0], grid[-1]))
    bx.set(xlabel="z1", ylabel="z2", title="decoder's digit at each code")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_samples(samples, path):
    fig, ax = plt.subplots(figsize=(5, 5.3))
    ax.imshow(mosaic(samples, int(np.sqrt(len(samples)))), cmap="gray_r", vmin=0, vmax=1)
    ax.set(xticks=[], yticks=[], title="samples: codes from the prior N(0, I)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_path(t, images, a, b, out):
    fig = image_strip(images, t, (8, 8), suptitle=f"decoded codes (1 - t) z_{a} + t z_{b}", vmin=0, vmax=1)
    fig.savefig(out / "vae_digits_interpolation.png", dpi=110)
    save_animation(animate_images(images, t, (8, 8), title=f"{a} -> {b}: t = {{:.2f}}", bounce=True,
                                  vmin=0, vmax=1),
                   out / "vae_digits_interpolation.gif", fps=12)
    plt.close("all")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="out", help="output folder (default: out/)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="fewer epochs and frames (for tests)")
    ap.add_argument("--pair", type=int, nargs=2, default=(0, 2), metavar=("A", "B"),
                    help="classes of the two test digits to interpolate between (default: 0 2)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    Xtr, Xte, _, yte = digits_split()
    vae = VariationalAutoencoder((64, 128, 2, 128, 64), seed=args.seed)
    t0 = time.perf_counter()
    history = vae.fit(Xtr, validation=Xte, epochs=5 if args.quick else 100, seed=args.seed)
    fit_s = time.perf_counter() - t0

    means = vae.encode(Xte)
    grid = np.linspace(-2.5, 2.5, 15)
    codes = np.stack(np.meshgrid(grid, grid[::-1]), axis=-1).reshape(-1, 2)
    decoded = vae.decode(codes)
    plot_latent(means, yte, grid, decoded, out / "vae_digits_latent.png")
    samples, _ = vae.sample(64, seed=args.seed)
    plot_samples(samples, out / "vae_digits_samples.png")

    a, b = args.pair
    first = [Xte[np.flatnonzero(yte == k)[0]] for k in (a, b)]
    path, t = vae.interpolate(*first, steps=9 if args.quick else 41)
    plot_path(t, path, a, b, out)

    elbo = vae.elbo(Xte, samples=10, seed=args.seed)
    log_px = vae.log_likelihood(Xte, samples=20 if args.quick else 200, seed=args.seed)
    pixels = ("image", "pixel")
    ds = record.dataset(
        {"latent_mean": (("image", "latent"), means), "elbo": ("image", elbo),
         "log_likelihood": ("image", log_px),
         "prior_sample": (("sample", "pixel"), samples), "path": (("t", "pixel"), path),
         "val_negative_elbo": ("epoch", history.val_loss.values),
         "val_kl": ("epoch", history.val_kl.values),
         "digit": (pixels, Xte)},
        {"image": np.arange(len(Xte)), "label": ("image", yte), "t": t,
         "epoch": history.epoch.values},
        family="VAE", model="VariationalAutoencoder",
        params={"sizes": "64-128-2-128-64", "epochs": history.sizes["epoch"],
                "test_elbo": float(elbo.mean()), "test_log_likelihood": float(log_px.mean()),
                "pair_from": a, "pair_to": b},
        seed=args.seed, attrs={"loss_units": "nats per image"})
    record.save(ds, out / "vae_digits.nc")
    print(f"test ELBO {elbo.mean():.2f} nats per image, importance-sampled log p(x) "
          f"{log_px.mean():.2f}; trained {history.sizes['epoch']} epochs in {fit_s:.1f} s; "
          f"files in {out}/")


if __name__ == "__main__":
    main()
