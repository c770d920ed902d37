"""STDP (Song, Miller and Abbott 2000, as Brian2's ``examples/synapses/STDP.py``): neurosim
beside Brian2, the final weight distribution and the speed, sweeping the number of inputs.

The network: N Poisson inputs at 15 Hz onto one conductance-based LIF neuron (tau_m 10 ms,
E_L -74 mV, threshold -54 mV, reset -60 mV, tau_e 5 ms, E_e 0) through additive all-to-all
STDP synapses (tau 20 ms, A_plus 0.01 w_max, A_minus 1.05 A_plus, w_max 0.01 leak
conductances, initial weights uniform in [0, w_max)): :func:`neurosim.spiking.classic.song2000`.
Brian2 runs the example's code (``cython`` target, one thread), in a separate interpreter
(``--brian-python``), the same duration, with one change by default: the neuron integrated by
``exponential_euler`` as neurosim integrates it (``--method euler`` for the example's forward
Euler, which decays g by 1 - dt/tau_e per step and makes the neuron about 10% less excitable).
With N inputs, w_max is scaled by 1000 / N in both, so that the neuron's drive stays the
example's (without it, 16000 inputs drive it to fire every step or two, where STDP work is
N per step in any simulator).

One run is one neuron: its rate varies between seeds (sd ~5.5 Hz over the first 10 s at 1000
inputs), so the two simulators' rates at one point differ by that much; over 40-60 seeds each
the means agree (Brian2 42.0 +- 0.9 Hz, neurosim 40.8 +- 0.8 Hz, 10 s; and with the same input
spike trains the two give the same spikes and weights to 1e-17).

Figures: for the distribution point (N = 1000, ``--duration`` 100 s as the example), each
simulator's histogram of w / w_max in ten bins, the fraction of weights in the outer tenths,
the postsynaptic rate, and the total variation distance between the two histograms; for every
N of the sweep (``--sweep-duration`` s each), the loop time of each (compilation apart: a
0.01 s run first) and the ratio Brian2 / neurosim. Prints one JSON object.

``python benchmarks/stdp.py [--sizes 1000 4000 16000 32000] [--duration 100]
[--sweep-duration 10] [--brian-python /tmp/bench-venv/bin/python] [--no-brian]``
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np

BRIAN_SCRIPT = r"""
import json, sys, time
import numpy as np
from brian2 import *
N, T, cache, method = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3], sys.argv[4]
prefs.codegen.target = "cython"
prefs.codegen.runtime.cython.cache_dir = cache
seed(1)
taum, taupre, taupost = 10 * ms, 20 * ms, 20 * ms
Ee, vt, vr, El, taue = 0 * mV, -54 * mV, -60 * mV, -74 * mV, 5 * ms
F, gmax, dApre = 15 * Hz, .01 * 1000 / N, .01
dApost = -dApre * taupre / taupost * 1.05
dApost *= gmax
dApre *= gmax
eqs_neurons = '''dv/dt = (ge * (Ee-v) + El - v) / taum : volt
dge/dt = -ge / taue : 1'''
inputs = PoissonGroup(N, rates=F)
neurons = NeuronGroup(1, eqs_neurons, threshold='v>vt', reset='v = vr', method=method)
S = Synapses(inputs, neurons, '''w : 1
                dApre/dt = -Apre / taupre : 1 (event-driven)
                dApost/dt = -Apost / taupost : 1 (event-driven)''',
             on_pre='''ge += w
                    Apre += dApre
                    w = clip(w + Apost, 0, gmax)''',
             on_post='''Apost += dApost
                     w = clip(w + Apre, 0, gmax)''')
S.connect()
S.w = 'rand() * gmax'
mon = SpikeMonitor(neurons)
net = Network(inputs, neurons, S, mon)
t0 = time.perf_counter()
net.run(0.01 * second)
first = time.perf_counter() - t0
t0 = time.perf_counter()
net.run(T * second)
loop = time.perf_counter() - t0
w = np.asarray(S.w[:]) / gmax
print(json.dumps({"first_run_s": first, "loop_s": loop, "post_rate_hz": mon.num_spikes / (T + 0.01),
                  "hist": np.histogram(w, bins=10, range=(0, 1))[0].tolist()}))
"""


def summary(w):
    """Histogram of w / w_max (ten bins) and the fraction in the outer tenths."""
    h = np.histogram(w, bins=10, range=(0, 1))[0]
    return {"hist": h.tolist(), "outer_fraction": float((h[0] + h[-1]) / h.sum())}


def neurosim_point(n, T):
    from neurosim.spiking.classic import song2000

    net, W = song2000(n, g_max=0.01 * 1000 / n, seed=1)
    t0 = time.perf_counter()
    net.run(0.01, spikes=False)                    # compiles (or loads the cache)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    ds = net.run(T)
    loop = time.perf_counter() - t0
    out = {"first_call_s": first, "loop_s": loop, "post_rate_hz": ds.sizes["spike"] / T}
    out.update(summary(net.weights(W).data / (1e-10 * 1000 / n)))
    return out


def brian_point(python, n, T, cache, method):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    try:
        out = subprocess.run([python, "-c", BRIAN_SCRIPT, str(n), str(T), cache, method],
                             capture_output=True, text=True, timeout=7200, env=env)
    except (OSError, subprocess.TimeoutExpired) as err:
        return None, f"{type(err).__name__}: {err}"
    if out.returncode != 0:
        return None, out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "failed"
    res = json.loads(out.stdout.strip().splitlines()[-1])
    h = np.array(res["hist"])
    res["outer_fraction"] = float((h[0] + h[-1]) / h.sum())
    return res, None


def main(argv=None):
    ap = argparse.ArgumentParser(description="STDP (Song et al. 2000): neurosim beside Brian2")
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 4000, 16000, 32000])
    ap.add_argument("--duration", type=float, default=100.0,
                    help="seconds of the distribution run (N = 1000)")
    ap.add_argument("--sweep-duration", type=float, default=10.0,
                    help="seconds of each point of the speed sweep")
    ap.add_argument("--brian-python", default=os.environ.get("NEUROSIM_BRIAN_PYTHON",
                                                             sys.executable))
    ap.add_argument("--method", default="exponential_euler",
                    choices=["exponential_euler", "euler"],
                    help="Brian2's integration of the neuron (the example's is euler; "
                         "neurosim's step is exponential Euler)")
    ap.add_argument("--no-brian", action="store_true")
    args = ap.parse_args(argv)

    import numba

    result = {"workload": "Song, Miller and Abbott (2000) as Brian2's STDP example",
              "dt_s": 1e-4, "rate_hz": 15.0, "brian2_method": args.method,
              "machine": {"python": platform.python_version(), "numpy": np.__version__,
                          "numba": numba.__version__, "cpus": os.cpu_count()}}
    with tempfile.TemporaryDirectory() as cache:
        dist = {"n_inputs": 1000, "duration_s": args.duration,
                "neurosim": neurosim_point(1000, args.duration)}
        if not args.no_brian:
            res, err = brian_point(args.brian_python, 1000, args.duration, cache, args.method)
            dist["brian2_cython"] = res if res is not None else err
            if res is not None:
                a = np.array(dist["neurosim"]["hist"], float)
                b = np.array(res["hist"], float)
                dist["total_variation_distance"] = float(0.5 * np.abs(a / a.sum()
                                                                      - b / b.sum()).sum())
                dist["loop_speedup_vs_brian2_cython"] = res["loop_s"] / dist["neurosim"]["loop_s"]
        result["distribution"] = dist
        sweep = {}
        for n in args.sizes:
            entry = {"neurosim": neurosim_point(n, args.sweep_duration)}
            if not args.no_brian:
                res, err = brian_point(args.brian_python, n, args.sweep_duration, cache,
                                       args.method)
                entry["brian2_cython"] = res if res is not None else err
                if res is not None:
                    entry["loop_speedup_vs_brian2_cython"] = (res["loop_s"]
                                                              / entry["neurosim"]["loop_s"])
            sweep[str(n)] = entry
            print(f"STDP N={n}: speedup "
                  f"{entry.get('loop_speedup_vs_brian2_cython', float('nan')):.2f}",
                  file=sys.stderr)
        result["sweep"] = {"duration_s": args.sweep_duration, "points": sweep}
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
