"""A spiking network to NIR and back: the same spikes after a round trip through a .nir file.

Builds a small network (spike-train input, an excitatory layer with current synapses, a
recurrently inhibited output layer with two synaptic time constants and transmission delays),
writes it as a NIR graph (``to_nir`` then ``nir.write``), reads the file back into a new
network (``nir.read`` then ``from_nir``), runs both on the same input and plots their spikes
over each other. Writes to ``--out``:

- ``nir_roundtrip.png``: both rasters and one neuron's membrane potential from each run;
- ``nir_network.nir``: the NIR graph (HDF5), for any NIR tool to read.

    python examples/nir_roundtrip.py --out out/ [--duration 0.5]
"""
import argparse
from collections import Counter
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import nir  # noqa: E402
import numpy as np  # noqa: E402

from neurosim.record import Monitor  # noqa: E402
from neurosim.spiking import LIF, Network, SpikeGeneratorGroup  # noqa: E402
from neurosim.spiking.nir import from_nir, to_nir  # noqa: E402

DT = 1e-4


def network(times, indices, seed):
    """Input (40 trains) -> hidden (80 LIF, 3 ms synapses) -> output (20 LIF, 5 ms excitation
    delayed 1-3 ms, 10 ms recurrent inhibition)."""
    net = Network(DT, seed=seed)
    inp = net.add(SpikeGeneratorGroup(40, times, indices, name="input"))
    hid = net.add(LIF(80, t_ref=0.0, tau_e=3e-3, name="hidden"))
    out = net.add(LIF(20, t_ref=0.0, tau_e=5e-3, tau_i=10e-3, name="output"))
    net.connect(inp, hid, p=0.2, weights=1.8e-10)
    net.connect(hid, out, p=0.3, weights=0.6e-10, delay=(1e-3, 3e-3))
    net.connect(out, out, p=0.5, weights=-0.5e-10, channel="i")
    return net


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="out", help="output folder (default: out/)")
    ap.add_argument("--duration", type=float, default=0.5, help="simulated seconds")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="shorter run (for tests)")
    args = ap.parse_args(argv)
    if args.quick:
        args.duration = 0.2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    g = np.random.default_rng(args.seed)
    rate = 40 * (1 + np.sin(np.linspace(0, 4 * np.pi, 40)))          # Hz, per input
    n_spk = g.poisson(rate * args.duration)
    indices = np.repeat(np.arange(40), n_spk)
    times = g.random(indices.size) * args.duration

    original = network(times, indices, args.seed)
    graph = to_nir(original)
    nir.write(out / "nir_network.nir", graph)
    print("NIR nodes:", dict(Counter(type(node).__name__ for node in graph.nodes.values())))

    imported = from_nir(nir.read(out / "nir_network.nir"), dt=DT)
    source = next(s for s in imported.sources if s.name == "input")
    imported.set_spikes(source, times, indices)

    rec = Monitor(every=1, index=[80])                # the first output neuron
    runs = [net.run(args.duration, record=rec) for net in (original, imported)]
    same = all(np.array_equal(runs[0][k].values, runs[1][k].values)
               for k in ("spike_time", "spike_neuron"))
    print(f"{runs[0].sizes['spike']} spikes in the original, {runs[1].sizes['spike']} after the "
          f"round trip; identical: {same}")

    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(9, 6), sharex=True,
                                   gridspec_kw={"height_ratios": [3, 1]})
    ax1.plot(times, indices - 40, "|", color="0.6", ms=3, label="input (below 0)")
    for ds, style, label in ((runs[0], dict(marker="o", ms=4, mfc="none"), "original"),
                             (runs[1], dict(marker=".", ms=2), "from the .nir file")):
        ax1.plot(ds.spike_time, ds.spike_neuron, ls="none", label=label, **style)
    ax1.axhline(79.5, color="k", lw=0.5)
    ax1.set_ylabel("neuron (hidden 0-79, output 80-99)")
    ax1.legend(loc="upper right", fontsize=8)
    ax1.set_title(f"round trip through NIR: identical spikes = {same}")
    for ds, style, label in ((runs[0], "-", "original"), (runs[1], "--", "from the .nir file")):
        ax2.plot(ds.time, 1e3 * ds.v.isel(neuron=0), style, lw=1, label=label)
    ax2.set_xlabel("time (s)")
    ax2.set_ylabel("v of neuron 80 (mV)")
    ax2.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "nir_roundtrip.png", dpi=60 if args.quick else 100)
    plt.close(fig)
    print(f"wrote {out / 'nir_roundtrip.png'}, {out / 'nir_network.nir'}")


if __name__ == "__main__":
    main()
