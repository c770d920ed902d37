"""STDP makes weights bimodal (Song, Miller and Abbott 2000): an animation of the weight
histogram of 1000 Poisson inputs onto one LIF neuron over 100 s of additive STDP, recorded
with a weight monitor (Brian2's STDP example's parameters).

    python examples/stdp_weights.py --out out/ [--quick] [--no-gif]
"""
import argparse
import os
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.animation import FuncAnimation, PillowWriter  # noqa: E402

from neurosim.record import Monitor  # noqa: E402
from neurosim.spiking.classic import song2000  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out/", help="output folder (default out/)")
    parser.add_argument("--duration", type=float, default=100.0, help="seconds of learning")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-gif", action="store_true", help="skip the animation")
    parser.add_argument("--quick", action="store_true",
                        help="20 s at a 3x learning rate, a coarser animation")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    lr = 3.0 if args.quick else 1.0
    duration = min(args.duration, 20.0) if args.quick else args.duration
    frames = 20 if args.quick else 50
    net, W = song2000(1000, learning_rate=lr, seed=args.seed)
    every = int(round(duration / frames / net.dt))
    t0 = time.perf_counter()
    ds = net.run(duration, weights=Monitor(every=every), record=None, progress=False)
    elapsed = time.perf_counter() - t0
    w_max = 1e-10
    w = ds.weight.values / w_max                    # (weight_time, synapse)
    bins = np.linspace(0, 1, 21)
    hists = np.array([np.histogram(row, bins)[0] for row in w])

    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    ax[0].stairs(hists[0], bins, label="start", color="0.6")
    ax[0].stairs(np.histogram(net.weights(W).data / w_max, bins)[0], bins, label="end",
                 color="C3", linewidth=2)
    ax[0].set(xlabel="w / w_max", ylabel="synapses", title="weight distribution")
    ax[0].legend()
    rate = np.histogram(ds.spike_time.values, bins=np.linspace(0, duration, 41))[0] \
        / (duration / 40)
    ax[1].plot(np.linspace(0, duration, 41)[:-1], rate)
    ax[1].set(xlabel="t (s)", ylabel="rate (Hz)", title="postsynaptic rate")
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, "stdp_weights.png"), dpi=100)
    plt.close(fig)
    ds.to_netcdf(os.path.join(args.out, "stdp_weights.nc"))

    if not args.no_gif:
        fig, ax = plt.subplots(figsize=(5, 3.5))
        bars = ax.bar(bins[:-1], hists[0], width=np.diff(bins), align="edge", color="C0")
        ax.set(xlabel="w / w_max", ylabel="synapses", ylim=(0, hists.max() * 1.1))
        title = ax.set_title("")

        def frame(k):
            for b, h in zip(bars, hists[k]):
                b.set_height(h)
            title.set_text(f"t = {ds.weight_time.values[k]:.0f} s")
            return list(bars) + [title]
        FuncAnimation(fig, frame, frames=len(hists), blit=False).save(
            os.path.join(args.out, "stdp_weights.gif"), writer=PillowWriter(fps=8))
        plt.close(fig)
    h = np.histogram(net.weights(W).data / w_max, bins=10, range=(0, 1))[0]
    print(f"{duration:.0f} s of STDP in {elapsed:.1f} s; final histogram (tenths of w_max): "
          f"{h.tolist()}")


if __name__ == "__main__":
    main()
