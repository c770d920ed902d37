"""A liquid state machine with the dynamic synapses of Maass, Natschlaeger and Markram (2002):
the liquid's answer to a spike-train template with static and with dynamic (Tsodyks-Markram
short-term plastic) recurrent synapses, and the template-classification accuracy of both
against input jitter.

    python examples/lsm_dynamic.py --out out/ [--quick]
"""
import argparse
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402

from neurosim.datasets import jittered_templates  # noqa: E402
from neurosim.spiking import LiquidStateMachine, jitter_curve  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out/", help="output folder (default out/)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="fewer samples and jitters")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    samples, _, _ = jittered_templates(1, jitter=0.0, seed=args.seed)
    jitters = np.array([0.0, 8e-3]) if args.quick else np.array([0.0, 2e-3, 4e-3, 8e-3, 16e-3])
    n = 30 if args.quick else 100
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    curves = {}
    for ax, dynamic in zip(axes[:2], (False, True)):
        kind = "dynamic" if dynamic else "static"
        lsm = LiquidStateMachine(4, dynamic=dynamic, seed=args.seed)
        ds = lsm.run(samples[0], 0.3)
        ax.plot(ds.spike_time, ds.spike_neuron, ".", ms=2)
        ax.plot(ds.input_time, -5 - 4 * ds.input_channel, "|", color="C3")
        ax.set(xlabel="t (s)", ylabel="neuron (inputs below)",
               title=f"{kind} synapses: {ds.sizes['spike']} spikes")
        curves[kind] = jitter_curve(jitters, n_train=n, n_test=n, seed=args.seed,
                                    dynamic=dynamic)
        axes[2].plot(jitters * 1e3, curves[kind].accuracy, "o-", label=kind)
    axes[2].axhline(0.5, color="0.6", ls=":", label="chance")
    axes[2].set(xlabel="jitter (ms)", ylabel="held-out accuracy", ylim=(0.4, 1.02),
                title="template classification")
    axes[2].legend()
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, "lsm_dynamic.png"), dpi=100)
    both = xr.concat([curves["static"], curves["dynamic"]], dim="synapses",
                     combine_attrs="drop_conflicts")
    both = both.assign_coords(synapses=["static", "dynamic"])
    both.to_netcdf(os.path.join(args.out, "lsm_dynamic.nc"))
    for kind, c in curves.items():
        print(kind, "accuracy by jitter:", np.round(c.accuracy.values, 2).tolist())


if __name__ == "__main__":
    main()
