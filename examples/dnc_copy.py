"""Differentiable neural computer (DNC) learning Graves's copy task, its memory animated.

A DNC (8 memory locations of width 6, one read head, a 64-unit LSTM controller) sees 1-4
random 4-bit vectors, a delimiter, then nothing, and must output the vectors again. Trained with
Adam (learning rate decayed on a cosine) and gradient clipping, it learns to write each vector
to a freshly allocated location (the allocation weighting moves to the least used location as
usage fills up), and to read them back by following the temporal link matrix forwards (the
forward read mode takes over during recall), as in the paper's figures. Writes to ``--out``:

- ``dnc_copy.png``: for two held-out sequences, the input, target and output over time, the
  write and read weightings, the read modes and the usage at every step, the link matrix after
  the last step; the training loss;
- ``dnc_copy.gif``: one sequence step by step: usage, allocation, write and read weightings,
  the link matrix and the memory;
- ``dnc_copy.nc``: the Dataset of :func:`neurosim.deep.ntm.memory_trace` for held-out
  sequences (usage, allocation, link, weightings, modes, gates, outputs), and the bit errors
  per sequence by sequence length (``bit_errors_by_length``);
- ``dnc_copy_history.nc``: the training history of ``fit``.

    python examples/dnc_copy.py --out out/ [--seed 0] [--quick]
"""
import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.animation import FuncAnimation  # noqa: E402

from neurosim import record, viz  # noqa: E402
from neurosim.deep.dnc import DNC  # noqa: E402
from neurosim.deep.ntm import (bit_errors, bit_errors_by_length, copy_loss,  # noqa: E402
                               copy_task, memory_trace, recall_images)
from neurosim.nn.layers import Sequential  # noqa: E402
from neurosim.nn.optim import cosine  # noqa: E402

BITS, MAX_LENGTH, LOCATIONS = 4, 4, 8


def plot(trace, history, samples, path):
    fig = plt.figure(figsize=(19, 2.7 * len(samples) + 0.6))
    grid = fig.add_gridspec(len(samples), 9)
    for k, i in enumerate(samples):
        row = [fig.add_subplot(grid[k, j]) for j in range(8)]
        x, target, output = recall_images(trace, i, BITS)   # unscored steps left blank
        images = [(x, "input (last row: delimiter)", "channel"), (target, "target", "bit"),
                  (output, "output probability", "bit"),
                  (trace.write_weighting[i].values.T, "write weighting", "location"),
                  (trace.read_weighting[i, :, 0].values.T, "read weighting", "location"),
                  (trace.read_modes[i, :, 0].values.T, "read modes (b, c, f)", "mode"),
                  (trace.usage[i].values.T, "usage", "location")]
        for ax, (image, title, ylabel) in zip(row, images):
            ax.imshow(image, aspect="auto", cmap="gray_r", vmin=0, vmax=1,
                      interpolation="nearest")
            ax.set(title=title, xlabel="step", ylabel=ylabel)
            ax.title.set_fontsize(9)
        row[5].set_yticks(range(3), ["back", "content", "fwd"])
        row[7].imshow(trace.link[i, -1].values, cmap="gray_r", vmin=0, vmax=1)
        row[7].set(title="link after the last step", xlabel="predecessor", ylabel="location")
        row[7].title.set_fontsize(9)
    fig.suptitle("DNC copy task: vectors written to allocated locations, read back along the "
                 "forward links")
    loss = fig.add_subplot(grid[:, 8])
    loss.semilogy(history.loss.values, lw=0.6)
    loss.set(xlabel="training step", title="loss (nats per bit)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def animate(trace, i, path):
    """One sequence, a frame per step: usage, allocation, write and read weightings (bars),
    the link matrix and the memory (images)."""
    length = int(trace.input[i, :, -1].argmax())
    steps = 2 * length + 1
    fig, axes = plt.subplots(1, 4, figsize=(13, 3.4))
    locations = np.arange(LOCATIONS)
    bars = {}
    for ax, names, title in ((axes[0], ("usage", "allocation"), "usage, allocation"),
                             (axes[1], ("write_weighting", "read_weighting"),
                              "write, read weighting")):
        for offset, name in zip((-0.2, 0.2), names):
            bars[name] = ax.bar(locations + offset, np.zeros(LOCATIONS), width=0.4, label=name)
        ax.set(ylim=(0, 1.05), xlabel="location", title=title)
        ax.legend(fontsize=7, loc="upper right")
    link = axes[2].imshow(np.zeros((LOCATIONS, LOCATIONS)), cmap="gray_r", vmin=0, vmax=1)
    axes[2].set(title="link matrix", xlabel="predecessor", ylabel="location")
    memory = axes[3].imshow(np.zeros((LOCATIONS, trace.sizes["slot"])), cmap="RdBu_r",
                            vmin=-1, vmax=1, aspect="auto")
    axes[3].set(title="memory (final)", xlabel="slot", ylabel="location")
    memory.set_data(trace.memory[i].values)
    fig.tight_layout(rect=(0, 0, 1, 0.9))

    def draw(t):
        phase = "write" if t < length else "delimiter" if t == length else "recall"
        fig.suptitle(f"step {t}: {phase}; read modes b/c/f = "
                     + " / ".join(f"{m:.2f}" for m in trace.read_modes[i, t, 0].values))
        for name, group in bars.items():
            values = trace[name][i, t].values
            values = values[0] if values.ndim == 2 else values
            for bar, v in zip(group, values):
                bar.set_height(v)
        link.set_data(trace.link[i, t].values)
        return []
    viz.save_animation(FuncAnimation(fig, draw, frames=steps), path, fps=2, dpi=80)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="out", help="output folder (default: out/)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="a short training (for tests)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    n, epochs = (400, 2) if args.quick else (2000, 10)
    X, Y = copy_task(n, MAX_LENGTH, BITS, seed=args.seed)
    Xt, Yt = copy_task(200, MAX_LENGTH, BITS, seed=args.seed + 1)
    model = Sequential(DNC(BITS, locations=LOCATIONS, width=6, read_heads=1, controller=64),
                       input_shape=X.shape[1:], seed=args.seed)
    t0 = time.perf_counter()
    steps = epochs * -(-n // 16)
    history = model.fit(X, Y, loss=copy_loss, epochs=epochs, batch_size=16,
                        lr=cosine(0.03, steps, 0.001), clip_norm=10, seed=args.seed)
    fit_s = time.perf_counter() - t0
    errors = bit_errors(model, Xt, Yt)
    trace = memory_trace(model, Xt[:20])
    by_length = bit_errors_by_length(model, np.arange(1, MAX_LENGTH + 3), BITS,
                                     seed=args.seed + 2)   # two longer than trained
    trace.attrs.update(bit_errors_per_sequence=errors, bits=BITS, max_length=MAX_LENGTH)
    trace = trace.assign(bit_errors_by_length=by_length)
    longest = np.flatnonzero(Xt[:20, :, -1].argmax(1) == MAX_LENGTH)
    samples = [int(longest[0]), int(longest[-1])] if len(longest) > 1 else [0, 1]
    plot(trace, history, samples, out / "dnc_copy.png")
    animate(trace, samples[0], out / "dnc_copy.gif")
    record.save(trace, out / "dnc_copy.nc")
    record.save(history, out / "dnc_copy_history.nc")
    modes = trace.read_modes.isel(step=slice(MAX_LENGTH + 1, None)).mean(
        ("sample", "step", "read_head"))
    by_length = dict(zip(by_length.length.values.tolist(), np.round(by_length.values, 2).tolist()))
    print(f"copy task: {errors:.2f} wrong bits per held-out sequence (chance about "
          f"{BITS * (MAX_LENGTH + 1) / 4:.1f}) after {history.sizes['epoch']} epochs "
          f"({fit_s:.1f} s); read modes while recalling (backward, content, forward) "
          f"{np.round(modes.values, 2).tolist()}; by length {by_length} (trained on "
          f"1-{MAX_LENGTH}, {LOCATIONS} locations); files in {out}/")


if __name__ == "__main__":
    main()
