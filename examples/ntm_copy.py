"""Neural Turing machine (NTM) learning Graves's copy task.

A feed-forward-controlled NTM (12 memory locations of width 6, 32 controller units) sees 1-3
random 4-bit vectors, a delimiter, then nothing, and must output the vectors again. Trained
with Adam (learning rate decayed on a cosine) and gradient clipping, it learns to write the
vectors to consecutive locations and to read them back in the same order, as in the paper's
figure, and copies somewhat longer sequences than it was trained on. Writes to ``--out``:

- ``ntm_copy.png``: for two held-out sequences, the input, target and output over time, and the
  write and read weightings over the locations at every step; the training loss;
- ``ntm_copy.nc``: the weightings, outputs and final memory of held-out sequences (the
  Dataset of :func:`neurosim.deep.ntm.memory_trace`), and the bit errors per sequence by
  sequence length, up to twice the trained length (``bit_errors_by_length``);
- ``ntm_copy_history.nc``: the training history of ``fit``.

    python examples/ntm_copy.py --out out/ [--seed 0] [--quick]
"""
import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from neurosim import record  # noqa: E402
from neurosim.deep.ntm import (NTM, bit_errors, bit_errors_by_length, copy_loss,  # noqa: E402
                               copy_task, memory_trace, recall_images)
from neurosim.nn.layers import Sequential  # noqa: E402
from neurosim.nn.optim import cosine  # noqa: E402

BITS, MAX_LENGTH = 4, 3


def plot(trace, history, samples, path):
    fig = plt.figure(figsize=(16, 2.6 * len(samples) + 0.6))
    grid = fig.add_gridspec(len(samples), 6)
    for k, i in enumerate(samples):
        row = [fig.add_subplot(grid[k, j]) for j in range(5)]
        x, target, output = recall_images(trace, i, BITS)   # unscored steps left blank
        images = [(x, "input (last row: delimiter)"), (target, "target"),
                  (output, "output probability (recall)"),
                  (trace.write_weighting[i, :, 0].values.T, "write weighting"),
                  (trace.read_weighting[i, :, 0].values.T, "read weighting")]
        for ax, (image, title) in zip(row, images):
            ax.imshow(image, aspect="auto", cmap="gray_r", vmin=0, vmax=1,
                      interpolation="nearest")
            ax.set_title(title, fontsize=9)
            ax.set_xlabel("step")
        row[3].set_ylabel("location")
    fig.suptitle("NTM copy task: vectors written to consecutive locations, read back in order")
    loss = fig.add_subplot(grid[:, 5])
    loss.semilogy(history.loss.values, lw=0.6)
    loss.set(xlabel="training step", title="loss (nats per scored bit)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="out", help="output folder (default: out/)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="a short training (for tests)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    n, epochs = (400, 3) if args.quick else (800, 8)
    X, Y = copy_task(n, MAX_LENGTH, BITS, seed=args.seed)
    Xt, Yt = copy_task(200, MAX_LENGTH, BITS, seed=args.seed + 1)
    model = Sequential(NTM(BITS, locations=12, width=6, controller=32),
                       input_shape=X.shape[1:], seed=args.seed)
    t0 = time.perf_counter()
    steps = epochs * -(-n // 16)
    history = model.fit(X, Y, loss=copy_loss, epochs=epochs, batch_size=16,
                        lr=cosine(0.02, steps, 0.001), clip_norm=10, seed=args.seed)
    fit_s = time.perf_counter() - t0
    errors = bit_errors(model, Xt, Yt)
    trace = memory_trace(model, Xt[:20])
    by_length = bit_errors_by_length(model, np.arange(1, 2 * MAX_LENGTH + 1), BITS,
                                     seed=args.seed + 2)   # up to twice the trained length
    trace.attrs.update(bit_errors_per_sequence=errors, bits=BITS, max_length=MAX_LENGTH)
    trace = trace.assign(bit_errors_by_length=by_length)
    longest = np.flatnonzero(Xt[:20, :, -1].argmax(1) == MAX_LENGTH)
    plot(trace, history, [int(longest[0]), int(longest[-1])] if len(longest) > 1 else [0, 1],
         out / "ntm_copy.png")
    record.save(trace, out / "ntm_copy.nc")
    record.save(history, out / "ntm_copy_history.nc")
    by_length = dict(zip(by_length.length.values.tolist(), np.round(by_length.values, 2).tolist()))
    print(f"copy task: {errors:.2f} wrong bits per held-out sequence (chance about "
          f"{BITS * (MAX_LENGTH + 1) / 4:.1f}) after {history.sizes['epoch']} epochs "
          f"({fit_s:.1f} s); by length {by_length} (trained on 1-{MAX_LENGTH}); files in {out}/")


if __name__ == "__main__":
    main()
