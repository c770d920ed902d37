"""Encoder-decoder RNNs with attention learn to reverse and to sort sequences; their alignments.

Two models, each trained by teacher forcing (Adam, the learning rate decayed on a cosine) on
both tasks (eight tokens of ten symbols):
Bahdanau's additive attention (a bidirectional GRU encoder, the previous decoder state scores
the annotations) and Luong's multiplicative "general" attention (an LSTM encoder and decoder,
the current state scores them, input feeding). Greedy decoding on held-out sequences shows
what they learned to look at: the reversal's alignment is the anti-diagonal (output step i
reads source step 7 - i), the sorting's follows where each next-smallest token sits. Writes to
``--out``:

- ``seq2seq_attention.png``: validation loss per epoch of both models on both tasks, and the
  attention weights (output step x source step) of one held-out sequence for each model and
  task, labelled with the source and the decoded tokens;
- ``seq2seq_attention.nc``: the learning curves, the accuracies (per token and per whole
  sequence) and the alignments of the shown sequences.

    python examples/seq2seq_attention.py --out out/ [--seed 0] [--quick]
"""
import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from neurosim import record  # noqa: E402
from neurosim.nn.optim import cosine  # noqa: E402
from neurosim.deep.seq2seq import (Seq2Seq, alignments, reversal_task,  # noqa: E402
                                   sequence_accuracy, sorting_task)

LENGTH, SYMBOLS = 8, 10
TASKS = {"reversal": reversal_task, "sorting": sorting_task}
MODELS = {"additive": "Bahdanau (additive, BiGRU)", "general": "Luong (general, LSTM)"}


def plot(curves, maps, path):
    fig, axes = plt.subplots(len(TASKS), 1 + len(MODELS), figsize=(12, 7.6))
    for row, task in zip(axes, TASKS):
        for attention, label in MODELS.items():
            loss = curves[task, attention]
            row[0].semilogy(np.arange(1, len(loss) + 1), loss, "o-", label=label)
        row[0].set(xlabel="epoch", ylabel="validation loss (nats per token)",
                   title=f"{task}: learning")
        row[0].legend(fontsize=8)
        row[0].grid(alpha=0.3)
        for ax, attention in zip(row[1:], MODELS):
            ds = maps[task, attention]
            ax.imshow(ds.attention[0].values, cmap="viridis", vmin=0, vmax=1)
            ax.set_xticks(range(LENGTH), ds.source[0].values)
            ax.set_yticks(range(LENGTH), ds.prediction[0].values)
            ax.set(xlabel="source token", ylabel="decoded token",
                   title=f"{task}: {MODELS[attention]}")
            ax.title.set_fontsize(9)
    fig.suptitle("Seq2seq attention: the weight each output step gives each source step")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=".")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="fewer sequences and epochs (tests)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    n, epochs = (800, 2) if args.quick else (2400, 6)
    seed = args.seed
    t0 = time.perf_counter()
    curves, maps, scores = {}, {}, {}
    for task, make in TASKS.items():
        S, T = make(n, LENGTH, SYMBOLS, seed=seed)
        Sv, Tv = make(300, LENGTH, SYMBOLS, seed=seed + 1)
        for attention in MODELS:
            model = Seq2Seq(SYMBOLS, SYMBOLS, units=32, embedding=16, attention=attention,
                            seed=seed)
            steps = epochs * -(-n // 32)
            history = model.fit(S, T, epochs=epochs, lr=cosine(0.01, steps, 0.001), seed=seed,
                                validation=(Sv, Tv))
            curves[task, attention] = history.val_loss.values
            scores[task, attention] = sequence_accuracy(model.predict(Sv), Tv)
            maps[task, attention] = alignments(model, Sv[:1])
    fit_s = time.perf_counter() - t0
    plot(curves, maps, out / "seq2seq_attention.png")

    data = {}
    for (task, attention), ds in maps.items():
        key = f"{task}_{attention}"
        data[f"{key}_val_loss"] = ("epoch", curves[task, attention],
                                   {"long_name": "validation loss (nats per token)",
                                    "units": "1"})
        data[f"{key}_attention"] = (("decoder_step", "encoder_step"), ds.attention[0].values,
                                    {"long_name": "attention weight", "units": "1"})
        data[f"{key}_prediction"] = ("decoder_step", ds.prediction[0].values)
        data[f"{key}_source"] = ("encoder_step", ds.source[0].values)
        data[f"{key}_token_accuracy"] = ((), scores[task, attention][0])
        data[f"{key}_sequence_accuracy"] = ((), scores[task, attention][1])
    ds = record.dataset(data, {"epoch": np.arange(epochs), "decoder_step": np.arange(LENGTH),
                               "encoder_step": np.arange(LENGTH)},
                        family="AN", model="Seq2Seq",
                        params={"length": LENGTH, "symbols": SYMBOLS, "train_sequences": n,
                                "epochs": epochs, "units": 32, "embedding": 16}, seed=seed)
    record.save(ds, out / "seq2seq_attention.nc")
    print("held-out accuracy (tokens, whole sequences): " + ", ".join(
        f"{t} {a} {s[0]:.3f}/{s[1]:.3f}" for (t, a), s in scores.items())
        + f" ({fit_s:.1f} s); files in {out}/")


if __name__ == "__main__":
    main()
