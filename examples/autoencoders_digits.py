"""Autoencoders (AE, DAE, SAE) compressing and restoring digits.

Three autoencoders learn the 1500 training digits: a plain AE through an 8-unit code, a
denoising AE of the same size that sees half of each input's pixels masked during training,
and a sparse AE whose 64 sigmoid code units are pushed to be active 5% of the time. On the 297
test digits each is compared with the simplest predictor, the mean training image. Writes to
``--out``:

- ``autoencoders_digits.png``: one test digit of each class, the AE's and the SAE's
  reconstructions, the digits with half their pixels masked, and how the AE and the DAE
  restore them;
- ``autoencoders_digits_curves.png``: held-out loss per epoch, and the SAE's mean activation
  of each code unit against the target rho;
- ``autoencoders_digits.nc``: the digits, reconstructions, curves and pixel errors.

    python examples/autoencoders_digits.py --out out/ [--seed 0] [--quick] [--mask 0.5]
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
from neurosim.deep import (Autoencoder, DenoisingAutoencoder,  # noqa: E402
                           SparseAutoencoder)
from neurosim.nn import losses  # noqa: E402
from neurosim.viz.plots import state_grid  # noqa: E402

SIZES = (64, 32, 8, 32, 64)


def plot_digits(rows, path):
    fig, axes = plt.subplots(len(rows), 10, figsize=(10, 1.15 * len(rows) + 0.4))
    for r, (label, images) in enumerate(rows.items()):
        for k in range(10):
            state_grid(images[k].reshape(8, 8), ax=axes[r, k], vmin=0, vmax=1)
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center")
    fig.suptitle("autoencoders on held-out digits")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_curves(histories, activation, rho, mean_image_bce, path):
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 3.6))
    for name, h in histories.items():
        ax.plot(h.epoch + 1, h.val_loss, marker=".", label=name)
    ax.axhline(mean_image_bce, color="gray", ls="--", label="mean image")
    ax.set(xlabel="epoch", ylabel="held-out loss (nats per pixel)",
           title="held-out loss (SAE: with its penalty)")
    ax.legend()
    bx.bar(np.arange(len(activation)), activation, color="tab:green")
    bx.axhline(rho, color="k", ls="--", label=f"rho = {rho}")
    bx.set(xlabel="code unit", ylabel="mean activation on test digits", title="SAE code")
    bx.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="out", help="output folder (default: out/)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="fewer epochs (for tests)")
    ap.add_argument("--mask", type=float, default=0.5,
                    help="fraction of pixels the DAE's corruption masks (default: 0.5)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    Xtr, Xte, _, yte = digits_split()
    rho = 0.05
    models = {"AE": Autoencoder(SIZES, seed=args.seed),
              "DAE": DenoisingAutoencoder(SIZES, mask_rate=args.mask, seed=args.seed),
              "SAE": SparseAutoencoder((64, 64, 64), rho=rho, beta=3.0, seed=args.seed)}
    epochs = 3 if args.quick else 40
    t0 = time.perf_counter()
    histories = {name: m.fit(Xtr, validation=Xte, epochs=epochs, lr=1e-2, seed=args.seed)
                 for name, m in models.items()}
    fit_s = time.perf_counter() - t0

    masked = models["DAE"].corrupt(Xte, seed=args.seed)
    recon = {name: m.reconstruct(Xte) for name, m in models.items()}
    restored = {name: models[name].reconstruct(masked) for name in ("AE", "DAE")}
    mean_image = np.broadcast_to(Xtr.mean(axis=0), Xte.shape)
    mse = {"mean image": mean_image, **recon}
    mse = {name: float(((x - Xte) ** 2).mean()) for name, x in mse.items()}
    masked_mse = {name: float(((x - Xte) ** 2).mean()) for name, x in
                  {"masked": masked, **restored}.items()}

    shown = np.array([np.flatnonzero(yte == k)[0] for k in range(10)])
    plot_digits({"test digit": Xte[shown], "AE": recon["AE"][shown], "SAE": recon["SAE"][shown],
                 "masked": masked[shown], "AE restores": restored["AE"][shown],
                 "DAE restores": restored["DAE"][shown]}, out / "autoencoders_digits.png")
    activation = models["SAE"].mean_activation(Xte)
    mean_image_bce = losses.binary_cross_entropy(mean_image, Xte).item()
    plot_curves(histories, activation, rho, mean_image_bce, out / "autoencoders_digits_curves.png")

    pixels, epoch = ("image", "pixel"), np.arange(epochs)
    ds = record.dataset(
        {"digit": (pixels, Xte), "masked": (pixels, masked),
         **{f"{name.lower()}_reconstruction": (pixels, x) for name, x in recon.items()},
         **{f"{name.lower()}_restored": (pixels, x) for name, x in restored.items()},
         **{f"{name.lower()}_val_loss": ("epoch", h.val_loss.values)
            for name, h in histories.items()},
         "sae_mean_activation": ("unit", activation)},
        {"image": np.arange(len(Xte)), "label": ("image", yte), "epoch": epoch},
        family="AE", model="Autoencoder, DenoisingAutoencoder, SparseAutoencoder",
        params={"sizes": "64-32-8-32-64", "sae_sizes": "64-64-64", "mask_rate": args.mask,
                "rho": rho, "epochs": epochs,
                **{f"mse_{k.replace(' ', '_')}": v for k, v in mse.items()},
                **{f"masked_mse_{k}": v for k, v in masked_mse.items()}},
        seed=args.seed)
    record.save(ds, out / "autoencoders_digits.nc")
    print("pixel MSE on test digits: " + ", ".join(f"{k} {v:.4f}" for k, v in mse.items()))
    print("masked digits: " + ", ".join(f"{k} {v:.4f}" for k, v in masked_mse.items()))
    print(f"SAE mean code activation {activation.mean():.3f} (rho {rho}); trained in {fit_s:.1f} s;"
          f" files in {out}/")


if __name__ == "__main__":
    main()
