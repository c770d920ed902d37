"""Generative adversarial networks (GAN) drawing digits.

A GAN of dense networks (noise 16 -> 128 ReLU -> 64 sigmoid pixels against a discriminator
64 -> 128 leaky ReLU -> 1 logit) learns the 1500 training digits: the discriminator is
trained to tell real digits from generated ones, the generator to fool it (the
non-saturating loss, alternating Adam steps). A conditional GAN of the same size also gets
each digit's class, so it can be asked for a given digit. Writes to ``--out``:

- ``gan_digits_training.gif``: the generator's digits for 36 fixed noise vectors, epoch by
  epoch;
- ``gan_digits_losses.png``: both networks' losses per epoch (beside 2 log 2 and log 2, their
  values at the game's equilibrium) and the discriminator's mean belief D(x) on real digits
  and D(G(z)) on generated ones (1/2 at the equilibrium);
- ``gan_digits_samples.png``: 100 digits of the trained GAN, and ten of each class from the
  conditional GAN;
- ``gan_digits.nc``: both histories per epoch, the snapshots and the final samples, and the
  mean squared distance from each sample to its nearest training digit (the test digits'
  own distance is the reference).

    python examples/gan_digits.py --out out/ [--seed 0] [--quick] [--epochs 100]
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
from neurosim.deep import dense_gan  # noqa: E402
from neurosim.viz import animate_images, save_animation  # noqa: E402


def tiles(images, rows):
    """(rows * cols, 64) digits as one (rows * 9 - 1, cols * 9 - 1) picture, 1-pixel gaps."""
    cols = len(images) // rows
    padded = np.pad(images.reshape(rows, cols, 8, 8), ((0, 0), (0, 0), (0, 1), (0, 1)))
    return padded.transpose(0, 2, 1, 3).reshape(rows * 9, cols * 9)[:-1, :-1]


def nearest_distance(samples, reference):
    """Mean squared pixel distance (n,) from each sample to its nearest reference row."""
    d = (samples ** 2).sum(1)[:, None] - 2 * samples @ reference.T + (reference ** 2).sum(1)
    return np.maximum(d.min(axis=1), 0.0) / samples.shape[1]


def plot_losses(histories, path):
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4))
    for (name, h), style in zip(histories.items(), ("-", "--")):
        epoch = h.epoch.values + 1
        ax.plot(epoch, h.epoch_d_loss, style, color="C0", label=f"{name}: discriminator")
        ax.plot(epoch, h.epoch_g_loss, style, color="C1", label=f"{name}: generator")
        bx.plot(epoch, h.epoch_d_real, style, color="C2", label=f"{name}: D(x), real")
        bx.plot(epoch, h.epoch_d_fake, style, color="C3", label=f"{name}: D(G(z)), generated")
    for value, text in ((2 * np.log(2), "2 log 2"), (np.log(2), "log 2")):
        ax.axhline(value, color="gray", lw=0.8, ls=":")
        ax.annotate(text, (1, value), color="gray", va="bottom")
    bx.axhline(0.5, color="gray", lw=0.8, ls=":")
    ax.set(xlabel="epoch", ylabel="loss (nats)", title="losses")
    bx.set(xlabel="epoch", ylabel="mean D", ylim=(0, 1), title="discriminator's belief")
    ax.legend(fontsize=8)
    bx.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_samples(samples, conditional, path):
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 5.3))
    ax.imshow(tiles(samples, 10), cmap="gray_r", vmin=0, vmax=1)
    ax.set(xticks=[], yticks=[], title="GAN: samples")
    bx.imshow(tiles(conditional, 10), cmap="gray_r", vmin=0, vmax=1)
    bx.set(xticks=[], yticks=np.arange(10) * 9 + 3.5, yticklabels=range(10),
           title="conditional GAN: one class per row")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="out", help="output folder (default: out/)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="a few epochs (for tests)")
    ap.add_argument("--epochs", type=int, default=100)
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    epochs = 3 if args.quick else args.epochs

    Xtr, Xte, ytr, _ = digits_split()
    gan = dense_gan(64, latent=16, hidden=(128,), seed=args.seed)
    every = max(epochs // 50, 1)
    snapshots, shown = [gan.sample(36, seed=args.seed)[0]], [0]

    def snapshot(model, epoch, logs):
        if (epoch + 1) % every == 0:
            snapshots.append(model.sample(36, seed=args.seed)[0])
            shown.append(epoch + 1)
        return False
    t0 = time.perf_counter()
    history = gan.fit(Xtr, epochs=epochs, lr=1e-3, seed=args.seed, callbacks=[snapshot])
    conditional = dense_gan(64, latent=16, hidden=(128,), classes=10, seed=args.seed)
    cond_history = conditional.fit(Xtr, ytr, epochs=epochs, lr=1e-3, seed=args.seed)
    fit_s = time.perf_counter() - t0

    samples = gan.sample(100, seed=args.seed + 1)[0]
    labels = np.repeat(np.arange(10), 10)
    by_class = conditional.sample(100, seed=args.seed + 1, labels=labels)[0]
    save_animation(animate_images(np.stack([tiles(s, 6) for s in snapshots]), shown,
                                  title="epoch {:.0f}", vmin=0, vmax=1),
                   out / "gan_digits_training.gif", fps=8)
    plt.close("all")
    plot_losses({"GAN": history, "conditional": cond_history}, out / "gan_digits_losses.png")
    plot_samples(samples, by_class, out / "gan_digits_samples.png")

    distance = nearest_distance(samples, Xtr)
    reference = nearest_distance(Xte, Xtr)
    per_epoch = ("epoch_d_loss", "epoch_g_loss", "epoch_d_real", "epoch_d_fake")
    data = {name: ("epoch", history[name].values) for name in per_epoch}
    data.update({f"conditional_{name}": ("epoch", cond_history[name].values)
                 for name in per_epoch})
    data.update({
        "snapshot": (("snapshot_epoch", "grid", "pixel"), np.array(snapshots, np.float32)),
        "generated": (("sample", "pixel"), samples),
        "conditional_sample": (("sample", "pixel"), by_class),
        "nearest_distance": ("sample", distance,
                             {"long_name": "mean squared pixel distance to the nearest "
                                           "training digit"})})
    ds = record.dataset(
        data, {"epoch": history.epoch.values, "snapshot_epoch": np.array(shown),
               "label": ("sample", labels)},
        family="GAN", model="GAN",
        params={"latent": 16, "hidden": 128, "epochs": epochs, "lr": 1e-3,
                "test_nearest_distance": float(reference.mean())},
        seed=args.seed, attrs={"loss_units": "nats"})
    record.save(ds, out / "gan_digits.nc")
    print(f"trained two GANs for {epochs} epochs in {fit_s:.1f} s; final D(x) "
          f"{float(history.epoch_d_real[-1]):.2f}, D(G(z)) {float(history.epoch_d_fake[-1]):.2f};"
          f" distance to the nearest training digit: samples {distance.mean():.4f}, test digits "
          f"{reference.mean():.4f} (per pixel); files in {out}/")


if __name__ == "__main__":
    main()
