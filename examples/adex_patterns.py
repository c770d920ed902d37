"""The firing patterns of the adaptive exponential integrate-and-fire neuron (Brette and
Gerstner 2005) with the parameters of Naud, Marcille, Clopath and Gerstner (2008): tonic,
adapting, initial burst, bursting, irregular, transient and delayed spiking under a current
step, one AdEx group per pattern in one network.

    python examples/adex_patterns.py --out out/ [--quick]
"""
import argparse
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from neurosim.record import Monitor  # noqa: E402
from neurosim.spiking import ADEX_PATTERNS, AdEx, Network  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out/", help="output folder (default out/)")
    parser.add_argument("--quick", action="store_true", help="0.3 s instead of 0.5 s")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    dt, T, onset = 2e-5, (0.3 if args.quick else 0.5), 0.02
    steps = int(round(T / dt))
    names = list(ADEX_PATTERNS)
    net = Network(dt)
    for name in names:
        kw = dict(ADEX_PATTERNS[name])
        I = kw.pop("I")
        # a step of I from `onset` on (rows of I every 1 ms)
        I_t = np.where(np.arange(int(T / 1e-3) + 1) * 1e-3 >= onset, I, 0.0)[:, None]
        net.add(AdEx(1, I=I_t, I_dt=1e-3, v_peak=0.0, name=name, **kw))
    ds = net.run(T, record=Monitor(every=5), variables=("v", "w"))
    fig, axes = plt.subplots(len(names), 1, figsize=(8, 1.4 * len(names)), sharex=True)
    for k, (ax, name) in enumerate(zip(axes, names)):
        v = ds.v.values[:, k] * 1e3
        st = ds.spike_time.values[ds.spike_neuron.values == k]
        ax.plot(ds.time.values, v, lw=0.8)
        ax.vlines(st, 0, 20, color="C3", lw=0.8)             # spikes cut at v_peak = 0 mV
        ax.set_ylabel("v (mV)")
        ax.set_title(f"{name} ({st.size} spikes)", fontsize=9, loc="left")
    axes[-1].set_xlabel("t (s)")
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, "adex_patterns.png"), dpi=100)
    ds.to_netcdf(os.path.join(args.out, "adex_patterns.nc"))
    counts = np.bincount(ds.spike_neuron.values, minlength=len(names))
    print(", ".join(f"{n}: {c}" for n, c in zip(names, counts)), f"({steps} steps)")


if __name__ == "__main__":
    main()
