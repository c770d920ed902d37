"""A user-defined neuron model: the quadratic integrate-and-fire neuron, written as one small
Python function that Numba compiles into the network kernel (neurosim.spiking.CustomNeurons).

Left: its f-I curve beside the closed-form rate. Right: 200 of them driven by Poisson input
through conductance synapses.

    python examples/qif_neuron.py --out out/ [--quick]
"""
import argparse
import math
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from numba import njit  # noqa: E402

from neurosim.spiking import CustomNeurons, Network, PoissonGroup  # noqa: E402


@njit
def qif(x, p, I, dt):
    """One step of tau dv/dt = (v - v_r)(v - v_c) / (v_c - v_r) + R I (forward Euler); at
    v >= v_peak the neuron spikes and v = v_reset."""
    v_r, v_c, tau, R, v_peak, v_reset = p[0], p[1], p[2], p[3], p[4], p[5]
    v = x[0] + dt / tau * ((x[0] - v_r) * (x[0] - v_c) / (v_c - v_r) + R * I)
    if v >= v_peak:
        return (v_reset,), True
    return (v,), False


PARAMS = {"v_r": -65e-3, "v_c": -50e-3, "tau": 10e-3, "R": 1e8, "v_peak": 30e-3,
          "v_reset": -70e-3}


def theory(I):
    """Closed-form firing rate (Hz) of the QIF neuron at constant current I (A)."""
    p = PARAMS
    w = (p["v_c"] - p["v_r"]) / 2
    K = 2 * w * p["R"] * I - w * w
    if K <= 0:
        return 0.0
    m = (p["v_r"] + p["v_c"]) / 2
    s = math.sqrt(K)
    T = p["tau"] * 2 * w / s * (math.atan((p["v_peak"] - m) / s)
                                - math.atan((p["v_reset"] - m) / s))
    return 1 / T


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out/", help="output folder (default out/)")
    parser.add_argument("--quick", action="store_true", help="fewer currents, shorter runs")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    currents = np.linspace(0, 0.3e-9, 8 if args.quick else 25)
    T = 0.5 if args.quick else 2.0
    net = Network(1e-5)
    net.add(CustomNeurons(currents.size, qif, state={"v": -70e-3}, params=PARAMS, I=currents))
    ds = net.run(T, spikes=True)
    rates = np.bincount(ds.spike_neuron.values, minlength=currents.size) / T

    net = Network(1e-4, seed=0)
    g = net.add(CustomNeurons(200, qif, state={"v": (-70e-3, -50e-3)}, params=PARAMS,
                              synapse="conductance", t_ref=2e-3, name="qif"))
    src = net.add(PoissonGroup(400, 10.0, name="input"))
    net.connect(src, g, p=0.1, weights=1.5e-9)
    net.connect(g, g, p=0.05, weights=1e-9, channel="i")
    ras = net.run(0.3 if args.quick else 1.0)

    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    fine = np.linspace(0, currents[-1], 200)
    ax[0].plot(fine * 1e9, [theory(I) for I in fine], label="closed form")
    ax[0].plot(currents * 1e9, rates, "o", label="neurosim (user model)")
    ax[0].set(xlabel="I (nA)", ylabel="rate (Hz)", title="QIF f-I curve")
    ax[0].legend()
    ax[1].plot(ras.spike_time, ras.spike_neuron, ".", ms=1)
    ax[1].set(xlabel="t (s)", ylabel="neuron", title="200 QIF neurons, Poisson input")
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, "qif_neuron.png"), dpi=100)
    ras.to_netcdf(os.path.join(args.out, "qif_neuron.nc"))
    print(f"f-I: {rates.max():.1f} Hz at {currents[-1] * 1e9:.2f} nA (theory "
          f"{theory(currents[-1]):.1f}); network: {ras.sizes['spike']} spikes")


if __name__ == "__main__":
    main()
