"""Spatial transformer network (STN) on randomly rotated and shifted digits, beside the same CNN
without it.

The bundled 8x8 digits are centred on a 16x16 field, then rotated (up to 45 degrees either way)
and shifted (up to a quarter of the field) at random. Two classifiers train on them with the
same settings: a LeNet-style CNN, and the same CNN behind a spatial transformer (Jaderberg et
al. 2015) whose localisation network starts at the identity transformation. Trained only by the
classification loss, the transformer learns to turn and re-centre each digit before the CNN sees
it, and the test accuracy rises above the plain CNN's. Writes to ``--out``:

- ``spatial_transformer.png``: test accuracy per epoch of both networks; distorted test digits
  and what the trained transformer makes of them, with the CNN's and the STN's predictions;
- ``spatial_transformer.nc``: the accuracies per epoch, the inputs, outputs and affine
  matrices ``theta`` of the transformer on the shown test digits.

    python examples/spatial_transformer.py --out out/ [--seed 0] [--quick]
"""
import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from neurosim import record  # noqa: E402
from neurosim.deep.stn import distorted_digits, stn_cnn, transformations  # noqa: E402

SHOWN = 10


def plot(accuracy, ds, plain_prediction, labels, path):
    fig = plt.figure(figsize=(13, 4.6))
    grid = fig.add_gridspec(2, SHOWN + 4)
    curve = fig.add_subplot(grid[:, :4])
    for name, values in accuracy.items():
        curve.plot(np.arange(1, len(values) + 1), values, "o-", label=name)
    curve.set(xlabel="epoch", ylabel="test accuracy", title="rotated and shifted digits")
    curve.grid(alpha=0.3)
    curve.legend()
    for k in range(SHOWN):
        for row, (image, guess, title) in enumerate(
                ((ds.input[k, 0], plain_prediction[k], "CNN"),
                 (ds.transformed[k, 0], int(ds.prediction[k]), "STN"))):
            ax = fig.add_subplot(grid[row, 4 + k])
            ax.imshow(image.values, cmap="gray_r", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            colour = "tab:green" if guess == labels[k] else "tab:red"
            ax.set_title(f"{title}: {guess}", fontsize=8, color=colour)
            if k == 0:
                ax.set_ylabel("input" if row == 0 else "transformed", fontsize=9)
    fig.suptitle("Spatial transformer: the distorted inputs (top) and the transformer's output "
                 "(bottom), with each network's guess")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=".")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="fewer epochs (tests)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    epochs = 2 if args.quick else 10
    seed = args.seed
    t0 = time.perf_counter()
    X, Xt, y, yt, _ = distorted_digits(45, 0.25, seed=seed)
    models, accuracy = {}, {}
    for name, transformer in (("CNN", False), ("STN + CNN", True)):
        models[name] = stn_cnn(transformer=transformer, seed=seed)
        history = models[name].fit(X, y, epochs=epochs, lr=2e-3, seed=seed,
                                   validation=(Xt, yt), metrics=["accuracy"])
        accuracy[name] = history.val_accuracy.values
    fit_s = time.perf_counter() - t0
    ds = transformations(models["STN + CNN"], Xt[:SHOWN])
    plain = models["CNN"].predict(Xt[:SHOWN]).argmax(axis=1)
    plot(accuracy, ds, plain, yt, out / "spatial_transformer.png")
    ds = ds.assign(cnn_accuracy=("epoch", accuracy["CNN"], {"long_name": "test accuracy"}),
                   stn_accuracy=("epoch", accuracy["STN + CNN"],
                                 {"long_name": "test accuracy"}),
                   cnn_prediction=("sample", plain), label=("sample", yt[:SHOWN]))
    ds = ds.assign_coords(epoch=np.arange(epochs))
    ds.attrs.update(epochs=epochs, max_angle=45.0, max_shift=0.25, seed=seed)
    record.save(ds, out / "spatial_transformer.nc")
    print("test accuracy: " + ", ".join(f"{k} {v[-1]:.3f}" for k, v in accuracy.items())
          + f" ({fit_s:.1f} s); files in {out}/")


if __name__ == "__main__":
    main()
