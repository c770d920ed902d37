"""The CUBA network (Vogels and Abbott 2005, as in Brian2's examples): raster, population rate
and membrane traces of 4000 LIF neurons over one second.

    python examples/cuba.py --out out/ [--quick] [--no-gif]
"""
import argparse
import os
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from neurosim import record  # noqa: E402
from neurosim.spiking import cuba, mean_rate, silent_fraction  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out/", help="output folder (default out/)")
    parser.add_argument("--n", type=int, default=4000, help="number of neurons")
    parser.add_argument("--duration", type=float, default=1.0, help="seconds")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-gif", action="store_true", help="skip the animation")
    parser.add_argument("--quick", action="store_true", help="0.3 s of simulated time")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration = min(args.duration, 0.3)
    os.makedirs(args.out, exist_ok=True)

    t0 = time.perf_counter()
    net = cuba(args.n, seed=args.seed)
    ds = net.run(args.duration, record=record.Monitor(every=1, index=[0, 1, 3300]),
                 progress=True)
    print(f"{ds.sizes['spike']} spikes in {time.perf_counter() - t0:.2f} s, "
          f"mean rate {mean_rate(ds):.2f} Hz, silent {100 * silent_fraction(ds):.1f}%")

    fig, axes = plt.subplots(3, 1, figsize=(8, 8), sharex=True, layout="constrained",
                             gridspec_kw={"height_ratios": [3, 1, 1.2]})
    shown = ds.spike_neuron.values < 500
    axes[0].plot(ds.spike_time.values[shown], ds.spike_neuron.values[shown], ",k")
    axes[0].set_ylabel("neuron (first 500)")
    axes[0].set_title(f"CUBA, N = {args.n}: {mean_rate(ds):.1f} Hz, "
                      f"{100 * silent_fraction(ds):.0f}% silent")
    rate = record.spike_rates(ds, 1e-3, n_neurons=args.n, duration=args.duration)
    axes[1].plot(rate.time, rate, lw=0.8)
    axes[1].set_ylabel("rate (Hz), 1 ms bins")
    for i, label in zip(range(ds.sizes["neuron"]), ("exc 0", "exc 1", "inh 3300")):
        axes[2].plot(ds.time, 1e3 * ds.v[:, i], lw=0.6, label=label)
    axes[2].set_ylabel("v (mV)")
    axes[2].set_xlabel("time (s)")
    axes[2].legend(loc="upper right", fontsize=7)
    path = os.path.join(args.out, "cuba.png")
    fig.savefig(path, dpi=120)
    print("wrote", path)
    if not args.no_gif:
        print("wrote", animate(ds, rate, args))


def animate(ds, rate, args, frames=25):
    """GIF of the raster and the population rate building up over the run."""
    from matplotlib.animation import FuncAnimation, PillowWriter

    t, i = ds.spike_time.values, ds.spike_neuron.values
    keep = i < 300
    t, i = t[keep], i[keep]
    fig, (ax0, ax1) = plt.subplots(2, 1, figsize=(6, 4.5), sharex=True, layout="constrained",
                                   gridspec_kw={"height_ratios": [2.5, 1]})
    dots, = ax0.plot([], [], ",k")
    line, = ax1.plot([], [], lw=0.8)
    ax0.set_xlim(0, args.duration)
    ax0.set_ylim(-1, 300)
    ax0.set_ylabel("neuron (first 300)")
    ax1.set_ylim(0, float(rate.max()) * 1.1)
    ax1.set_ylabel("rate (Hz)")
    ax1.set_xlabel("time (s)")
    title = ax0.set_title("")

    def draw(k):
        now = args.duration * (k + 1) / frames
        shown = t <= now
        dots.set_data(t[shown], i[shown])
        r = rate.sel(time=slice(0, now))
        line.set_data(r.time, r)
        title.set_text(f"CUBA, t = {now:.2f} s")
        return dots, line, title

    anim = FuncAnimation(fig, draw, frames=frames, blit=False)
    path = os.path.join(args.out, "cuba_raster.gif")
    anim.save(path, writer=PillowWriter(fps=8), dpi=80)
    plt.close(fig)
    return path


if __name__ == "__main__":
    main()
