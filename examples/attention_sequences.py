"""Attention networks on two sequence tasks: finding by content and finding by position.

1. Key-value retrieval: seven (key, value) pairs and a query key; a one-block Transformer
   encoder without positional encoding reads the queried value at the last step. Its query
   attends to the step whose key matches.
2. Reversal: eight symbols, output backwards; with a sinusoidal positional encoding step t
   learns to attend to step 7 - t (an anti-diagonal).

Writes to ``--out``:

- ``attention_sequences.png``: test accuracy per epoch and the training loss of both tasks,
  and each head's attention weights (query x key) on one test sequence of each task;
- ``attention_sequences.nc``: the learning curves (training loss per step, test loss and
  accuracy per epoch) and the attention weights of the shown sequences.

    python examples/attention_sequences.py --out out/ [--seed 0] [--quick]
"""
import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from neurosim import record  # noqa: E402
from neurosim.deep.transformer import (attention_maps, key_value_retrieval,  # noqa: E402
                                       per_step_cross_entropy, reverse_sequences,
                                       transformer_encoder)

STEPS, KEYS, VALUES, SYMBOLS, HEADS = 8, 12, 8, 6, 2


def accuracy_logger(X, y, log):
    """A ``fit`` callback appending to ``log`` the accuracy of every prediction (per sequence
    or per step) on ``X`` after each epoch."""
    def callback(model, epoch, logs):
        log.append(float((model.predict(X).argmax(-1) == y).mean()))
        return False
    return callback


def retrieval_labels(x):
    """'k3:v5' per stored pair and '?k3' for the query step."""
    keys, values = x[:, :KEYS].argmax(1), x[:, KEYS:KEYS + VALUES].argmax(1)
    return [f"k{k}:v{v}" for k, v in zip(keys[:-1], values[:-1])] + [f"?k{keys[-1]}"]


def plot(curves, maps, path):
    fig, axes = plt.subplots(2, 1 + HEADS, figsize=(4.2 * (1 + HEADS), 7.5),
                             layout="constrained")
    for (name, history), chance in zip(curves.items(), (1 / VALUES, 1 / SYMBOLS)):
        line, = axes[0, 0].plot(history.epoch + 1, history.val_accuracy, "o-", label=name)
        axes[0, 0].axhline(chance, color=line.get_color(), lw=0.8, ls=":")
        axes[1, 0].semilogy(history.step, history.loss, lw=0.8, label=name)
    axes[0, 0].set(xlabel="epoch", ylabel="test accuracy", ylim=(0, 1.02),
                   title="learning curves (dotted: chance)")
    axes[1, 0].set(xlabel="step", ylabel="training loss (nats)")
    for ax in axes[:, 0]:
        ax.legend(fontsize=8)
    for row, (name, (weights, labels)) in enumerate(maps.items()):
        for h in range(HEADS):
            ax = axes[row, 1 + h]
            image = ax.imshow(weights[h], cmap="viridis", vmin=0, vmax=1)
            ax.set_xticks(range(STEPS), labels, rotation=90, fontsize=7)
            ax.set_yticks(range(STEPS), labels, fontsize=7)
            ax.set(xlabel="key step", ylabel="query step" if h == 0 else "",
                   title=f"{name}: head {h}")
        fig.colorbar(image, ax=axes[row, 1:], shrink=0.8, label="attention weight")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="out", help="output folder (default: out/)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="fewer sequences and epochs (tests)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    n, epochs = (512, 3) if args.quick else (2048, 8)
    seed = args.seed
    t0 = time.perf_counter()

    tasks = {"retrieval": (key_value_retrieval, dict(pairs=STEPS - 1, keys=KEYS, values=VALUES),
                           dict(outputs=VALUES, positional=None, pool="last"), "cross_entropy"),
             "reversal": (reverse_sequences, dict(length=STEPS, symbols=SYMBOLS),
                          dict(outputs=SYMBOLS, positional="sinusoidal", pool=None),
                          per_step_cross_entropy)}
    curves, maps, accuracy = {}, {}, {}
    for name, (task, sizes, design, loss) in tasks.items():
        X, y = task(n, **sizes, seed=seed)
        Xt, yt = task(256, **sizes, seed=seed + 1)
        model = transformer_encoder(32, HEADS, input_shape=X.shape[1:], ff_units=64, seed=seed,
                                    **design)
        log = []
        history = model.fit(X, y, loss=loss, lr=3e-3, epochs=epochs, seed=seed,
                            validation=(Xt, yt), callbacks=[accuracy_logger(Xt, yt, log)])
        curves[name] = history.assign(val_accuracy=("epoch", np.array(log)))
        accuracy[name] = float(curves[name].val_accuracy[-1])
        labels = retrieval_labels(Xt[0]) if name == "retrieval" else \
            [f"{s}" for s in Xt[0].argmax(1)]
        maps[name] = (attention_maps(model, Xt[:1]).weights[0, 0].values, labels)
    fit_s = time.perf_counter() - t0
    plot(curves, maps, out / "attention_sequences.png")

    data = {}
    for name in tasks:
        data[f"{name}_loss"] = ("step", curves[name].loss.values, {"long_name": "loss (nats)", "units": "1"})
        data[f"{name}_val_loss"] = ("epoch", curves[name].val_loss.values,
                                    {"long_name": "validation loss (nats)", "units": "1"})
        data[f"{name}_val_accuracy"] = ("epoch", curves[name].val_accuracy.values)
        data[f"{name}_weights"] = (("head", "query", "key"), maps[name][0])
    ds = record.dataset(data, {"step": np.arange(curves["retrieval"].sizes["step"]),
                               "epoch": np.arange(epochs), "head": np.arange(HEADS),
                               "query": np.arange(STEPS), "key": np.arange(STEPS)},
                        family="AN", model="transformer_encoder",
                        params={"steps": STEPS, "train_sequences": n, "epochs": epochs,
                                "d_model": 32, "heads": HEADS}, seed=seed)
    record.save(ds, out / "attention_sequences.nc")
    print("test accuracy: " + ", ".join(f"{k} {v:.3f}" for k, v in accuracy.items())
          + f" ({fit_s:.1f} s); files in {out}/")


if __name__ == "__main__":
    main()
