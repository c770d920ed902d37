"""Recurrent networks on two sequence tasks: memory (LSTM) and the future (bidirectional GRU).

1. An LSTM reads sequences of 20 steps (2 features, standard normal) and regresses the sum of
   the first feature from its last hidden state: the network has to count.
2. GRUs predict ``y[t] = x[t + 3]`` at every step: a causal GRU can only guess (its error stays
   at the target's variance), a bidirectional one reads the answer from its backward direction.

Writes to ``--out``:

- ``recurrent_sequences.png``: the learning curves; the LSTM's predicted sums against the true
  ones (test set); one test sequence's targets and both GRUs' predictions; the LSTM's hidden
  units over the steps of one test sequence;
- ``recurrent_sequences.nc``: the curves, the test predictions and the hidden activity.

    python examples/recurrent_sequences.py --out out/ [--seed 0] [--quick]
"""
import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from neurosim import record  # noqa: E402
from neurosim.deep.rnn import (hidden_states, lookahead, recurrent_network,  # noqa: E402
                               sequence_sum)

LENGTH, SHIFT = 20, 3


def train(model, X, y, validation, epochs, seed):
    return model.fit(X, y, loss="mse", lr=1e-2, epochs=epochs, seed=seed, validation=validation)


def plot(curves, sums, sequence, hidden, path):
    fig, axes = plt.subplots(2, 2, figsize=(10, 7))
    ax = axes[0, 0]
    for name, (history, variance) in curves.items():
        ax.semilogy(history.epoch + 1, history.val_loss / variance, label=name)
    ax.axhline(1.0, color="gray", lw=0.8, ls=":")
    ax.set(xlabel="epoch", ylabel="test MSE / target variance", title="learning curves")
    ax.legend(fontsize=8)

    ax = axes[0, 1]
    true, predicted = sums
    ax.scatter(true, predicted, s=6, alpha=0.6)
    lim = np.abs(true).max() * 1.1
    ax.plot([-lim, lim], [-lim, lim], color="gray", lw=0.8)
    ax.set(xlabel="true sum of feature 0", ylabel="LSTM prediction",
           title="LSTM: running sum from the last state", aspect="equal")

    ax = axes[1, 0]
    x, target, causal, bidirectional = sequence
    steps = np.arange(len(x))
    ax.plot(steps, x, color="lightgray", label="input x[t]")
    ax.plot(steps, target, "k.-", label=f"target x[t + {SHIFT}]")
    ax.plot(steps, causal, color="C1", label="GRU")          # colours as in the curves
    ax.plot(steps, bidirectional, color="C2", label="bidirectional GRU")
    ax.set(xlabel="step", title="lookahead: one test sequence")
    ax.legend(fontsize=8)

    ax = axes[1, 1]
    image = ax.imshow(hidden.T, aspect="auto", cmap="RdBu_r", vmin=-1, vmax=1)
    ax.set(xlabel="step", ylabel="unit", title="LSTM hidden state over one test sequence")
    fig.colorbar(image, ax=ax)
    fig.tight_layout()
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
    n, epochs = (256, 6) if args.quick else (2048, 20)
    seed = args.seed
    t0 = time.perf_counter()

    X, y = sequence_sum(n, LENGTH, 2, seed=seed)
    Xs, ys = sequence_sum(256, LENGTH, 2, seed=seed + 1)
    lstm = recurrent_network("lstm", 32, input_shape=(LENGTH, 2), seed=seed)
    curves = {"LSTM, running sum": (train(lstm, X, y, (Xs, ys), epochs, seed), ys.var())}
    sums = ys[:, 0], lstm.predict(Xs)[:, 0]
    hidden = hidden_states(lstm, Xs[:1]).hidden[0]

    X, y = lookahead(n, LENGTH, SHIFT, seed=seed)
    Xl, yl = lookahead(256, LENGTH, SHIFT, seed=seed + 1)
    predictions = {}
    for bidirectional, name in ((False, "GRU"), (True, "bidirectional GRU")):
        model = recurrent_network("gru", 16, input_shape=(LENGTH, 1), bidirectional=bidirectional,
                                  return_sequences=True, seed=seed)
        curves[f"{name}, lookahead"] = (train(model, X, y, (Xl, yl), epochs, seed), yl.var())
        predictions[name] = model.predict(Xl)[:, :, 0]
    fit_s = time.perf_counter() - t0
    plot(curves, sums, (Xl[0, :, 0], yl[0, :, 0], predictions["GRU"][0],
                        predictions["bidirectional GRU"][0]), hidden.values,
         out / "recurrent_sequences.png")

    ratios = {name: float(h.val_loss[-1] / v) for name, (h, v) in curves.items()}
    data = {"true_sum": ("sample", sums[0]), "lstm_sum": ("sample", sums[1]),
            "lookahead_target": (("sample", "step"), yl[:, :, 0]),
            "gru_prediction": (("sample", "step"), predictions["GRU"]),
            "bigru_prediction": (("sample", "step"), predictions["bidirectional GRU"]),
            "lstm_hidden": (("step", "unit"), hidden.values)}
    for key, (history, variance) in zip(("lstm", "gru", "bigru"), curves.values()):
        data[f"{key}_val_mse"] = ("epoch", history.val_loss.values,
                                  {"target_variance": float(variance)})
    ds = record.dataset(data, {"sample": np.arange(256), "step": np.arange(LENGTH),
                               "unit": np.arange(32), "epoch": np.arange(epochs)},
                        family="LSTM, GRU, BiRNN", model="recurrent_network",
                        params={"length": LENGTH, "shift": SHIFT, "train_sequences": n,
                                "epochs": epochs}, seed=seed)
    record.save(ds, out / "recurrent_sequences.nc")
    print("test MSE / target variance: " + ", ".join(f"{k} {v:.4f}" for k, v in ratios.items())
          + f" ({fit_s:.1f} s); files in {out}/")


if __name__ == "__main__":
    main()
