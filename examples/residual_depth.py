"""Deep residual network (DRN) against its plain twin: the vanishing gradient at depth 30.

Two classifiers of the digits with the same depth (``--depth`` hidden layers of 32 sigmoid
units) and the same initial weights: a plain stack ``x -> sigmoid(W x + b)`` and a residual one
``x -> x + sigmoid(W x + b)``. At initialisation the plain stack's loss gradient shrinks by
about the sigmoid's slope (at most 1/4) at every layer on its way down, so its first layers
get ~1e-18 of the last one's gradient and the network stays at chance; the shortcuts carry the
gradient to every layer and the residual twin learns. Writes to ``--out``:

- ``residual_depth.png``: the training loss of both networks per step, their test accuracy
  per epoch, and the gradient norm of every layer at initialisation;
- ``residual_depth.nc``: those curves and gradient norms as one Dataset (dim ``net``).

    python examples/residual_depth.py --out out/ [--seed 0] [--quick] [--depth 30]
"""
import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import xarray as xr  # noqa: E402

from neurosim import record  # noqa: E402
from neurosim.datasets import digits_split  # noqa: E402
from neurosim.deep import gradient_norms, residual_network  # noqa: E402

NETS = {"plain": False, "residual": True}


def plot(ds, path):
    fig, (a1, a2, a3) = plt.subplots(1, 3, figsize=(13, 3.6))
    for net in ds.net.values:
        d = ds.sel(net=net)
        a1.plot(d.step, d.loss, lw=0.8, label=net)
        a2.plot(d.epoch + 1, d.val_accuracy, "o-", label=net)
        a3.semilogy(d.layer, d.grad_norm, "o-", ms=3, label=net)
    a1.set_xlabel("step")
    a1.set_ylabel("training loss (nats)")
    a1.set_ylim(0, 4)
    a2.set_xlabel("epoch")
    a2.set_ylabel("test accuracy")
    a2.set_ylim(0, 1)
    a3.set_xlabel("layer (0: input projection)")
    a3.set_ylabel("|d loss / d weights| at initialisation")
    for ax in (a1, a2, a3):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(f"{ds.attrs['depth']} sigmoid layers, plain against residual "
                 "(same initial weights)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="out", help="output folder (default: out/)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="2 epochs instead of 10 (for tests)")
    ap.add_argument("--depth", type=int, default=30, help="hidden layers (default 30)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    Xtr, Xte, ytr, yte = digits_split()
    runs = []
    for name, residual in NETS.items():
        model = residual_network(args.depth, activation="sigmoid", residual=residual,
                                 seed=args.seed)
        grads = gradient_norms(model, Xtr[:256], ytr[:256])
        t = time.perf_counter()
        history = model.fit(Xtr, ytr, epochs=2 if args.quick else 10, lr=3e-3, seed=args.seed,
                            validation=(Xte, yte), metrics=["accuracy"])
        print(f"{name:>8}: first/last hidden-layer gradient at init "
              f"{float(grads.grad_norm[1] / grads.grad_norm[-2]):.1e}; final training loss "
              f"{float(history.epoch_loss[-1]):.3f}, test accuracy "
              f"{float(history.val_accuracy[-1]):.3f} ({time.perf_counter() - t:.1f} s)")
        runs.append(xr.merge([history[["loss", "epoch_loss", "accuracy", "val_loss",
                                       "val_accuracy"]], grads[["grad_norm", "kind"]]]))
    data = xr.concat(runs, dim="net")
    ds = record.dataset(data.data_vars, {**data.coords, "net": list(NETS)}, family="DRN",
                        model="Sequential", params={"depth": args.depth, "width": 32,
                                                    "activation": "sigmoid", "lr": 3e-3},
                        seed=args.seed)
    plot(ds, out / "residual_depth.png")
    record.save(ds, out / "residual_depth.nc")
    print(f"files in {out}/")


if __name__ == "__main__":
    main()
