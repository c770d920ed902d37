"""Liquid state machine on the jittered spike-template task (Maass, Natschlaeger and Markram
2002): the liquid's response to two inputs side by side, held-out accuracy of a ridge readout
against the jitter of the inputs, and the memory (delayed-recall) curve.

    python examples/lsm_templates.py --out out/ [--quick]
"""
import argparse
import os
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from neurosim.datasets.spikes import jittered_templates  # noqa: E402
from neurosim.spiking.lsm import LiquidStateMachine, jitter_curve  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out/", help="output folder (default out/)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-train", type=int, default=80)
    parser.add_argument("--n-test", type=int, default=80)
    parser.add_argument("--quick", action="store_true", help="fewer samples and bins")
    args = parser.parse_args(argv)
    if args.quick:
        args.n_train, args.n_test = 30, 30
    os.makedirs(args.out, exist_ok=True)
    t0 = time.perf_counter()

    lsm = LiquidStateMachine(4, seed=args.seed)
    _, _, templates = jittered_templates(1, seed=args.seed)
    fig = plt.figure(figsize=(10, 8), layout="constrained")
    grid = fig.add_gridspec(3, 2, height_ratios=[1, 2.2, 2])
    for k, tpl in enumerate(templates[:2]):
        ds = lsm.run(tpl, 0.2)
        ax_in = fig.add_subplot(grid[0, k])
        ax_in.plot(tpl[0], tpl[1], "|", ms=8, color="C1")
        ax_in.set_ylim(-0.5, 3.5)
        ax_in.set_xlim(0, 0.2)
        ax_in.set_title(f"input template {k}")
        ax_in.set_ylabel("channel")
        ax = fig.add_subplot(grid[1, k], sharex=ax_in)
        ax.plot(ds.spike_time, ds.spike_neuron, ".k", ms=1.5)
        ax.axhline(lsm.n_exc - 0.5, color="C3", lw=0.5)
        ax.set_ylabel("liquid neuron (inh. above red)")
        ax.set_xlabel("time (s)")
    jitters = np.array([0, 4, 8, 16, 32, 64]) * 1e-3
    curve = jitter_curve(jitters, n_train=args.n_train, n_test=args.n_test, seed=args.seed)
    ax = fig.add_subplot(grid[2, 0])
    ax.plot(1e3 * jitters, curve.accuracy, "o-", label="held-out")
    ax.plot(1e3 * jitters, curve.train_accuracy, "s--", ms=4, label="training")
    ax.axhline(curve.attrs["chance"], color="0.6", ls=":", label="chance")
    ax.set_xlabel("jitter (ms)")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0.3, 1.05)
    ax.legend(fontsize=8)
    mem = lsm.memory_curve(n_bins=120 if args.quick else 300, max_delay=8, seed=args.seed)
    ax = fig.add_subplot(grid[2, 1])
    ax.bar(mem.delay, mem.r2)
    ax.set_xlabel("delay (bins of 30 ms)")
    ax.set_ylabel("recall r$^2$")
    ax.set_title(f"memory capacity {mem.attrs['memory_capacity']:.2f}")
    path = os.path.join(args.out, "lsm_templates.png")
    fig.savefig(path, dpi=110)
    print("accuracy by jitter (ms):", dict(zip((1e3 * jitters).round(1).tolist(),
                                                curve.accuracy.values.round(3).tolist())))
    print(f"wrote {path} in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
