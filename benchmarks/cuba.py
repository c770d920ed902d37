"""CUBA benchmark (WORKLOADS.md "CUBA", issue 4 section 4): neurosim beside Brian2.

The Vogels and Abbott (2005) current-based network as Brian2's ``examples/CUBA.py`` defines it:
N = 4000 (80% excitatory), p = 80/N per source population, taum 20 ms, taue 5 ms, taui 10 ms,
Vt -50 mV, Vr -60 mV, El -49 mV, we = 60*0.27/10 mV, wi = -20*4.5/10 mV, refractory 5 ms, v0
uniform in [Vr, Vt], exact integration over dt = 0.1 ms, 1 s; also N = 1000, 16000 and 32000
(the same 80 synapses per neuron): the size sweep of issue 17, a ratio per size and their range
(``loop_speedup_range``).

Figures per size: the simulation loop (a 1 s run from a stored state, repeated: median, min,
max; network building and compilation apart), spikes, mean rate (spikes / N / 1 s), fraction of
silent neurons (averaged over seeds in ``rate_by_seed``), and, for the first size, the whole
process from a cold compile cache (a fresh interpreter and a fresh cache folder: import,
compile, build, 1 s run) and from a warm one, each with its parts as timed inside the process
(``import``, ``wiring``: ``cuba()``, ``run``: compile, build and the 1 s run); Brian2's later
sizes reuse its warm cache.
Brian2 (``cython`` and ``numpy`` targets) runs in a separate interpreter (``--brian-python``,
default: this one) in the same run; its figures are null where brian2 does not import
(Brian2 2.9 does not import with numpy 2.4: use a venv with numpy < 2.4). Brian2's loop is
the wall time of ``net.run(1 * second)`` after ``net.restore()``, compiled code cached.

neurosim's kernel is serial: results are the same on any number of threads, and one thread is
what runs (``threads`` reports numba's setting).

Prints one JSON object. ``python benchmarks/cuba.py [--repeats 3] [--sizes 1000 4000 16000 32000]
[--brian-python /tmp/bench-venv/bin/python] [--no-cold] [--no-brian-numpy]``
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

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

NEUROSIM_PROCESS = """
import time
t0 = time.perf_counter()
from neurosim.spiking import cuba
t1 = time.perf_counter()
net = cuba({n}, seed=0)
t2 = time.perf_counter()
ds = net.run(1.0)
t3 = time.perf_counter()
print(ds.sizes["spike"], t3 - t0, t1 - t0, t2 - t1, t3 - t2)
"""

BRIAN_SCRIPT = r"""
import json, sys, time
t_start = time.perf_counter()
import numpy as np
from brian2 import (NeuronGroup, Synapses, SpikeMonitor, Network, prefs, ms, mV, second,
                    defaultclock, seed as bseed)
N, target, repeats, cache = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
prefs.codegen.target = target
if cache != "-":
    prefs.codegen.runtime.cython.cache_dir = cache
bseed(0)
defaultclock.dt = 0.1 * ms
taum, taue, taui = 20 * ms, 5 * ms, 10 * ms
Vt, Vr, El = -50 * mV, -60 * mV, -49 * mV
eqs = '''
dv/dt  = (ge+gi-(v-El))/taum : volt (unless refractory)
dge/dt = -ge/taue : volt
dgi/dt = -gi/taui : volt
'''
t0 = time.perf_counter()
P = NeuronGroup(N, eqs, threshold='v>Vt', reset='v = Vr', refractory=5 * ms, method='exact')
P.v = 'Vr + rand() * (Vt - Vr)'
P.ge = 0 * mV
P.gi = 0 * mV
we = (60 * 0.27 / 10) * mV
wi = (-20 * 4.5 / 10) * mV
Ce = Synapses(P, P, on_pre='ge += we')
Ci = Synapses(P, P, on_pre='gi += wi')
ne = int(0.8 * N)
Ce.connect('i<ne', p=80.0 / N)
Ci.connect('i>=ne', p=80.0 / N)
mon = SpikeMonitor(P)
net = Network(P, Ce, Ci, mon)
net.store()
build = time.perf_counter() - t0
t0 = time.perf_counter()
net.run(1 * second)
first = time.perf_counter() - t0
whole = time.perf_counter() - t_start
loops, spikes, silent = [], [], []
for r in range(repeats):
    net.restore()
    t0 = time.perf_counter()
    net.run(1 * second)
    loops.append(time.perf_counter() - t0)
    spikes.append(int(mon.num_spikes))
    silent.append(float(np.mean(np.asarray(mon.count) == 0)))
import brian2
print(json.dumps({"version": brian2.__version__, "build_s": build, "first_run_s": first,
                  "whole_process_s": whole, "loop_s": loops, "spikes": spikes[-1],
                  "silent_fraction": silent[-1]}))
"""


def stats(xs):
    xs = sorted(xs)
    return {"median": float(np.median(xs)), "min": float(xs[0]), "max": float(xs[-1]),
            "repeats": len(xs)}


def neurosim_size(n, repeats, seeds):
    from neurosim.spiking import cuba, mean_rate, silent_fraction

    t0 = time.perf_counter()
    net = cuba(n, seed=0)
    net.store()
    build = time.perf_counter() - t0
    t0 = time.perf_counter()
    ds = net.run(1e-3, spikes=False)          # compiles (or loads the cache)
    first = time.perf_counter() - t0
    loops = []
    for _ in range(repeats):
        net.restore()
        t0 = time.perf_counter()
        ds = net.run(1.0, chunk=10000)
        loops.append(time.perf_counter() - t0)
    by_seed = []
    for s in seeds:
        d = cuba(n, seed=s).run(1.0, chunk=10000)
        by_seed.append({"seed": s, "rate_hz": mean_rate(d), "silent_fraction": silent_fraction(d)})
    return {"build_s": build, "first_call_s": first, "loop_s": stats(loops),
            "spikes": int(ds.sizes["spike"]), "rate_hz": mean_rate(ds),
            "silent_fraction": silent_fraction(ds),
            "rate_hz_seed_mean": float(np.mean([b["rate_hz"] for b in by_seed])),
            "silent_fraction_seed_mean": float(np.mean([b["silent_fraction"] for b in by_seed])),
            "rate_by_seed": by_seed}


def neurosim_process(n, cache_dir):
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir,
               PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", NEUROSIM_PROCESS.format(n=n)], env=env,
                         capture_output=True, text=True, check=True)
    return time.perf_counter() - t0, out.stdout.split()


def brian(python, n, target, repeats, cache):
    try:
        t0 = time.perf_counter()
        out = subprocess.run([python, "-c", BRIAN_SCRIPT, str(n), target, str(repeats), cache],
                             capture_output=True, text=True, timeout=1800)
        wall = time.perf_counter() - t0
    except (OSError, subprocess.TimeoutExpired) as err:
        return None, f"{type(err).__name__}: {err}"
    if out.returncode != 0:
        return None, out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "failed"
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res["process_wall_s"] = wall
    res["loop_s"] = stats(res["loop_s"])
    res["rate_hz"] = res["spikes"] / n / 1.0
    return res, None


def main(argv=None):
    ap = argparse.ArgumentParser(description="CUBA: neurosim beside Brian2")
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 4000, 16000, 32000])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seeds", type=int, default=3, help="seeds for the rate averages")
    ap.add_argument("--brian-python", default=os.environ.get("NEUROSIM_BRIAN_PYTHON",
                                                             sys.executable))
    ap.add_argument("--no-cold", action="store_true", help="skip whole-process timings")
    ap.add_argument("--no-brian", action="store_true")
    ap.add_argument("--no-brian-numpy", action="store_true")
    args = ap.parse_args(argv)

    import numba

    result = {"workload": "CUBA (WORKLOADS.md)", "duration_s": 1.0, "dt_s": 1e-4,
              "machine": {"python": platform.python_version(), "numpy": np.__version__,
                          "numba": numba.__version__, "cpus": os.cpu_count(),
                          "threads": numba.get_num_threads()},
              "sizes": {}}
    brian_cache = tempfile.TemporaryDirectory()   # cold for the first size, warm after
    for idx, n in enumerate(args.sizes):
        entry = {"neurosim": neurosim_size(n, args.repeats, list(range(args.seeds)))}
        if not args.no_cold and idx == 0:
            with tempfile.TemporaryDirectory() as cache:
                cold, out = neurosim_process(n, cache)
                warm, out_warm = neurosim_process(n, cache)
            entry["neurosim"]["whole_process_cold_cache_s"] = cold
            entry["neurosim"]["whole_process_warm_cache_s"] = warm
            # inside the process: import, wiring (compiles the wiring kernel when cold), run
            # (compiles the simulation kernel when cold, then builds and runs)
            for key, o in (("cold", out), ("warm", out_warm)):
                entry["neurosim"][f"whole_process_{key}_parts_s"] = dict(zip(
                    ("import", "wiring", "run"), map(float, o[2:5])))
        peers = {}
        if not args.no_brian:
            targets = ["cython"] + ([] if args.no_brian_numpy else ["numpy"])
            for target in targets:
                res, err = brian(args.brian_python, n, target, args.repeats, brian_cache.name)
                if res is not None:
                    res["compile_cache"] = "cold" if idx == 0 else "warm"
                peers[f"brian2_{target}"] = res
                if err:
                    peers[f"brian2_{target}_error"] = err
        entry.update(peers)
        ns = entry["neurosim"]
        ratios = {}
        for key, res in peers.items():
            if isinstance(res, dict):
                ratios[f"loop_speedup_vs_{key}"] = res["loop_s"]["median"] / ns["loop_s"]["median"]
                if "whole_process_cold_cache_s" in ns and res.get("compile_cache") == "cold":
                    ratios[f"cold_process_speedup_vs_{key}"] = (
                        res["process_wall_s"] / ns["whole_process_cold_cache_s"])
                ratios[f"rate_ratio_vs_{key}"] = ns["rate_hz_seed_mean"] / res["rate_hz"]
                ratios[f"silent_ratio_vs_{key}"] = (ns["silent_fraction_seed_mean"]
                                                    / max(res["silent_fraction"], 1e-12))
        entry["ratios"] = ratios
        result["sizes"][str(n)] = entry
    brian_cache.cleanup()
    for key in ("loop_speedup_vs_brian2_cython", "loop_speedup_vs_brian2_numpy"):
        sp = {n: e["ratios"][key] for n, e in result["sizes"].items() if key in e["ratios"]}
        if sp:  # the ratio at each size, and their range (the README's figure)
            result[key.replace("loop_speedup", "loop_speedup_range")] = {
                "per_size": sp, "min": min(sp.values()), "max": max(sp.values())}
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
