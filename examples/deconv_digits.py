"""Deconvolutional network (DN) drawing digits from class codes.

A one-hot class code goes through a dense layer, is reshaped to a 32x2x2 feature map and drawn
out to an 8x8 image by two transposed convolutions; trained with binary cross-entropy from
the codes of the 1500 training digits to their images, each code's image becomes the mean of
its class. Writes to ``--out``:

- ``deconv_digits.png``: the ten generated digits above the mean digit of each class (test set);
- ``deconv_digits_morph.gif`` and ``deconv_digits_morph.png``: the image of the mixed code
  ``(1 - t) e_a + t e_b`` as ``t`` goes from 0 to 1 (an animation and a strip);
- ``deconv_digits.nc``: the generated digits, the class means and the morph as a Dataset.

    python examples/deconv_digits.py --out out/ [--seed 0] [--quick] [--morph 3 8]
"""
import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from neurosim import record  # noqa: E402
from neurosim.datasets import digits_split, one_hot  # noqa: E402
from neurosim.deep import as_images, class_means, deconvolutional, generate  # noqa: E402
from neurosim.viz import animate_images, image_strip, save_animation, state_grid  # noqa: E402

def plot_digits(generated, means, path):
    fig, axes = plt.subplots(2, 10, figsize=(10, 2.6))
    for k in range(10):
        state_grid(generated[k], ax=axes[0, k], title=str(k))
        state_grid(means[k], ax=axes[1, k])
    axes[0, 0].set_ylabel("generated")
    axes[1, 0].set_ylabel("class mean")
    fig.suptitle("deconvolutional network: image of each class code")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

def plot_morph(t, images, a, b, out):
    fig = image_strip(images, t, suptitle=f"code (1 - t) e_{a} + t e_{b}")
    fig.savefig(out / "deconv_digits_morph.png", dpi=110)
    save_animation(animate_images(images, t, title=f"{a} -> {b}: t = {{:.2f}}", bounce=True),
                   out / "deconv_digits_morph.gif", fps=12)
    plt.close("all")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="out", help="output folder (default: out/)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="fewer epochs and frames (for tests)")
    ap.add_argument("--morph", type=int, nargs=2, default=(3, 8), metavar=("A", "B"),
                    help="the two classes to morph between (default: 3 8)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    Xtr, Xte, ytr, yte = digits_split()
    model = deconvolutional(seed=args.seed)
    t0 = time.perf_counter()
    history = model.fit(one_hot(ytr), as_images(Xtr), loss="bce", lr=1e-2,
                        epochs=3 if args.quick else 10, seed=args.seed)
    fit_s = time.perf_counter() - t0
    generated, means = generate(model, np.arange(10)), class_means(Xte, yte)
    plot_digits(generated, means, out / "deconv_digits.png")

    a, b = args.morph
    t = np.linspace(0.0, 1.0, 9 if args.quick else 41)
    codes = np.outer(1 - t, one_hot([a], 10)[0]) + np.outer(t, one_hot([b], 10)[0])
    morph = generate(model, codes)
    plot_morph(t, morph, a, b, out)

    mse = ((generated - means) ** 2).mean(axis=(1, 2))
    ds = record.dataset(
        {"generated": (("digit", "row", "col"), generated),
         "class_mean": (("digit", "row", "col"), means),
         "mse": ("digit", mse, {"long_name": "pixel MSE to the test-set class mean"}),
         "morph": (("t", "row", "col"), morph)},
        {"digit": np.arange(10), "t": t},
        family="DN", model="Sequential", params={"morph_from": a, "morph_to": b,
                                                 "epochs": history.sizes["epoch"],
                                                 "final_bce": float(history.epoch_loss[-1])},
        seed=args.seed)
    record.save(ds, out / "deconv_digits.nc")
    print(f"BCE {float(history.epoch_loss[-1]):.4f} per pixel after {history.sizes['epoch']} "
          f"epochs ({fit_s:.1f} s); pixel MSE to the class means {mse.mean():.4f}; files in "
          f"{out}/")

if __name__ == "__main__":
    main()
