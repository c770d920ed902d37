"""Encoder-decoder RNNs with attention learn to reverse and sort sequences and to read dates;
their alignments.

Two models, each trained by teacher forcing (Adam, the learning rate decayed on a cosine) on
three tasks (reversing and sorting eight tokens of ten symbols; rewriting dates written in six
formats, e.g. "December 5, 2026" or "05/12/2026", as ISO dates, "2026-12-05"):
Bahdanau's additive attention (a bidirectional GRU encoder, the previous decoder state scores
the annotations) and Luong's multiplicative "general" attention (an LSTM encoder and decoder,
the current state scores them, input feeding). Greedy decoding on held-out sequences shows
what they learned to look at: the reversal's alignment is the anti-diagonal (output step i
reads source step 7 - i), the sorting's follows where each next-smallest token sits, and the
dates' jumps to the year's digits, then the month's name or digits, then the day's (the
padding gets no weight). Writes to ``--out``:

- ``seq2seq_attention.png``: validation loss per epoch of both models on each task, and the
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
from neurosim.deep.seq2seq import (DATE_SOURCE, DATE_TARGET, Seq2Seq,  # noqa: E402
                                   alignments, date_task, reversal_task, sequence_accuracy,
                                   sorting_task)

LENGTH, SYMBOLS = 8, 10
DIGITS = "0123456789"
# name: (make(n, seed) -> (source, target), source alphabet, target alphabet, padding token)
TASKS = {"reversal": (lambda n, seed: reversal_task(n, LENGTH, SYMBOLS, seed=seed), DIGITS,
                      DIGITS, None),
         "sorting": (lambda n, seed: sorting_task(n, LENGTH, SYMBOLS, seed=seed), DIGITS,
                     DIGITS, None),
         "dates": (lambda n, seed: date_task(n, seed=seed)[:2], DATE_SOURCE, DATE_TARGET, 0)}
MODELS = {"additive": "Bahdanau (additive, BiGRU)", "general": "Luong (general, LSTM)"}


def plot(curves, maps, path):
    fig, axes = plt.subplots(len(TASKS), 1 + len(MODELS), figsize=(13, 11))
    for row, task in zip(axes, TASKS):
        for attention, label in MODELS.items():
            loss = curves[task, attention]
            row[0].semilogy(np.arange(1, len(loss) + 1), loss, "o-", label=label)
        row[0].set(xlabel="epoch", ylabel="validation loss (nats per token)",
                   title=f"{task}: learning")
        row[0].legend(fontsize=8)
        row[0].grid(alpha=0.3)
        _, source_chars, target_chars, _ = TASKS[task]
        for ax, attention in zip(row[1:], MODELS):
            ds = maps[task, attention]
            ax.imshow(ds.attention[0].values, cmap="viridis", vmin=0, vmax=1, aspect="auto")
            ax.set_xticks(range(ds.sizes["encoder_step"]),
                          [source_chars[t] for t in ds.source[0].values])
            ax.set_yticks(range(ds.sizes["decoder_step"]),
                          [target_chars[t] for t in ds.prediction[0].values])
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
    for task, (make, source_chars, target_chars, pad) in TASKS.items():
        count = n // 2 if task == "dates" else n      # dates are learned faster
        S, T = make(count, seed)
        Sv, Tv = make(300, seed + 1)
        for attention in MODELS:
            model = Seq2Seq(len(source_chars), len(target_chars), units=32, embedding=16,
                            attention=attention, pad=pad, seed=seed)
            steps = epochs * -(-count // 32)
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
        decoder, encoder = ("date_" if task == "dates" else "") + "decoder_step", \
            ("date_" if task == "dates" else "") + "encoder_step"
        data[f"{key}_val_loss"] = ("epoch", curves[task, attention],
                                   {"long_name": "validation loss (nats per token)",
                                    "units": "1"})
        data[f"{key}_attention"] = ((decoder, encoder), ds.attention[0].values,
                                    {"long_name": "attention weight", "units": "1"})
        data[f"{key}_prediction"] = (decoder, ds.prediction[0].values)
        data[f"{key}_source"] = (encoder, ds.source[0].values)
        data[f"{key}_token_accuracy"] = ((), scores[task, attention][0])
        data[f"{key}_sequence_accuracy"] = ((), scores[task, attention][1])
    dates = maps["dates", "additive"]
    ds = record.dataset(data, {"epoch": np.arange(epochs), "decoder_step": np.arange(LENGTH),
                               "encoder_step": np.arange(LENGTH),
                               "date_decoder_step": np.arange(dates.sizes["decoder_step"]),
                               "date_encoder_step": np.arange(dates.sizes["encoder_step"])},
                        family="AN", model="Seq2Seq",
                        params={"length": LENGTH, "symbols": SYMBOLS, "train_sequences": n,
                                "epochs": epochs, "units": 32, "embedding": 16}, seed=seed)
    record.save(ds, out / "seq2seq_attention.nc")
    print("held-out accuracy (tokens, whole sequences): " + ", ".join(
        f"{t} {a} {s[0]:.3f}/{s[1]:.3f}" for (t, a), s in scores.items())
        + f" ({fit_s:.1f} s); files in {out}/")


if __name__ == "__main__":
    main()
