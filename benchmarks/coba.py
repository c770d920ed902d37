"""COBA and COBAHH (Brette et al. 2007, benchmarks 1 and 3): neurosim beside Brian2, sweeping N.

COBA: the Vogels-Abbott network with conductance synapses and LIF neurons, as Brian2's and
BrainPy's benchmark scripts define it (tau_m 20 ms, E_L = reset = -60 mV, threshold -50 mV,
refractory 5 ms, drive 20 mV, E_e 0, E_i -80 mV, tau_e 5 ms, tau_i 10 ms, we 0.6 and wi 6.7
leak conductances). COBAHH: Brian2's ``examples/COBAHH.py`` (Traub-Miles Hodgkin-Huxley,
we 6 nS, wi 67 nS). Both with 80% excitatory neurons and p = 80 / N (80 synapses per neuron
per population at every N, as benchmarks/cuba.py), dt 0.1 ms, 1 s.

Figures per N: the simulation loop (a 1 s run from a stored state, median of ``--repeats``;
building and compilation apart), the mean rate, and Brian2's loop (``cython`` target, one
thread: ``OMP_NUM_THREADS=1``, in a separate interpreter given by ``--brian-python``), with the
ratio Brian2 / neurosim per point (of the medians, of the fastest repeats, and of the loops'
CPU time, ``process_time``: on a machine shared with other work the last is the steadiest), and
each side's fastest CPU time per neuron-step (ns).
neurosim's kernel is serial.
Brian2 integrates both models with ``exponential_euler``, as neurosim does (for COBAHH
Brian2's example's choice; for COBA the closest to neurosim's exponential-Euler LIF step).

Prints one JSON object. ``python benchmarks/coba.py [--models coba cobahh] [--sizes 1000 4000
16000 32000] [--repeats 3] [--brian-python /tmp/bench-venv/bin/python] [--no-brian]``
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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cuba import stats  # noqa: E402  (the benchmarks' shared summary)

BRIAN_SCRIPT = r"""
import json, sys, time
from brian2 import *
model, N, repeats, cache = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
prefs.codegen.target = "cython"
prefs.codegen.runtime.cython.cache_dir = cache
seed(0)
defaultclock.dt = 0.1 * ms
Ne, p = int(0.8 * N), 80.0 / N
if model == "coba":
    taum, taue, taui = 20 * ms, 5 * ms, 10 * ms
    Vt, Vr, El, Erev_exc, Erev_inh, I = -50 * mV, -60 * mV, -60 * mV, 0 * mV, -80 * mV, 20 * mV
    eqs = '''dv/dt = (ge*(Erev_exc-v)+gi*(Erev_inh-v)-(v-El)+I)*(1./taum) : volt (unless refractory)
    dge/dt = -ge/taue : 1
    dgi/dt = -gi/taui : 1'''
    P = NeuronGroup(N, eqs, threshold='v>Vt', reset='v = Vr', refractory=5 * ms,
                    method='exponential_euler')
    we, wi = 6. / 10., 67. / 10.
    P.v = 'Vr + rand() * (Vt - Vr)'
else:
    area = 20000 * umetre ** 2
    Cm = (1 * ufarad * cm ** -2) * area
    gl = (5e-5 * siemens * cm ** -2) * area
    El, EK, ENa, VT = -60 * mV, -90 * mV, 50 * mV, -63 * mV
    g_na = (100 * msiemens * cm ** -2) * area
    g_kd = (30 * msiemens * cm ** -2) * area
    taue, taui, Ee, Ei = 5 * ms, 10 * ms, 0 * mV, -80 * mV
    we, wi = 6 * nS, 67 * nS
    eqs = Equations('''
    dv/dt = (gl*(El-v)+ge*(Ee-v)+gi*(Ei-v)-g_na*(m*m*m)*h*(v-ENa)-g_kd*(n*n*n*n)*(v-EK))/Cm : volt
    dm/dt = alpha_m*(1-m)-beta_m*m : 1
    dn/dt = alpha_n*(1-n)-beta_n*n : 1
    dh/dt = alpha_h*(1-h)-beta_h*h : 1
    dge/dt = -ge*(1./taue) : siemens
    dgi/dt = -gi*(1./taui) : siemens
    alpha_m = 0.32*(mV**-1)*4*mV/exprel((13*mV-v+VT)/(4*mV))/ms : Hz
    beta_m = 0.28*(mV**-1)*5*mV/exprel((v-VT-40*mV)/(5*mV))/ms : Hz
    alpha_h = 0.128*exp((17*mV-v+VT)/(18*mV))/ms : Hz
    beta_h = 4./(1+exp((40*mV-v+VT)/(5*mV)))/ms : Hz
    alpha_n = 0.032*(mV**-1)*5*mV/exprel((15*mV-v+VT)/(5*mV))/ms : Hz
    beta_n = .5*exp((10*mV-v+VT)/(40*mV))/ms : Hz
    ''')
    P = NeuronGroup(N, model=eqs, threshold='v>-20*mV', refractory=3 * ms,
                    method='exponential_euler')
    P.v = 'El + (randn() * 5 - 5)*mV'
    P.ge = '(randn() * 1.5 + 4) * 10.*nS'
    P.gi = '(randn() * 12 + 20) * 10.*nS'
Ce = Synapses(P, P, on_pre='ge += we')
Ci = Synapses(P, P, on_pre='gi += wi')
Ce.connect('i<Ne', p=p)
Ci.connect('i>=Ne', p=p)
mon = SpikeMonitor(P)
net = Network(P, Ce, Ci, mon)
net.store()
t0 = time.perf_counter()
net.run(1 * second)
first = time.perf_counter() - t0
loops, cpu = [], []
for r in range(repeats):
    net.restore()
    t0, c0 = time.perf_counter(), time.process_time()
    net.run(1 * second)
    loops.append(time.perf_counter() - t0)
    cpu.append(time.process_time() - c0)
print(json.dumps({"first_run_s": first, "loop_s": loops, "cpu_s": cpu,
                  "rate_hz": mon.num_spikes / N}))
"""


def neurosim_point(model, n, repeats):
    from neurosim.spiking import classic

    t0 = time.perf_counter()
    net = getattr(classic, model)(n, seed=0)
    net.store()
    build = time.perf_counter() - t0
    t0 = time.perf_counter()
    net.run(1e-3, spikes=False)               # compiles (or loads the cache)
    first = time.perf_counter() - t0
    loops, cpu = [], []
    for _ in range(repeats):
        net.restore()
        t0, c0 = time.perf_counter(), time.process_time()
        ds = net.run(1.0, chunk=10000)
        loops.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return {"build_s": build, "first_call_s": first, "loop_s": stats(loops), "cpu_s": stats(cpu),
            "cpu_ns_per_neuron_step": per_neuron_step(min(cpu), n),
            "rate_hz": ds.sizes["spike"] / n}


def per_neuron_step(seconds, n, duration=1.0, dt=1e-4):
    """Nanoseconds a neuron-step: ``seconds`` of a ``duration`` run of ``n`` neurons."""
    return seconds / (n * round(duration / dt)) * 1e9


def brian_point(python, model, n, repeats, cache):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    try:
        out = subprocess.run([python, "-c", BRIAN_SCRIPT, model, str(n), str(repeats), cache],
                             capture_output=True, text=True, timeout=3600, env=env)
    except (OSError, subprocess.TimeoutExpired) as err:
        return None, f"{type(err).__name__}: {err}"
    if out.returncode != 0:
        return None, out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "failed"
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res["cpu_ns_per_neuron_step"] = per_neuron_step(min(res["cpu_s"]), n)
    res["loop_s"] = stats(res["loop_s"])
    res["cpu_s"] = stats(res["cpu_s"])
    return res, None


def main(argv=None):
    ap = argparse.ArgumentParser(description="COBA and COBAHH: neurosim beside Brian2")
    ap.add_argument("--models", nargs="+", default=["coba", "cobahh"],
                    choices=["coba", "cobahh"])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 4000, 16000, 32000])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--brian-python", default=os.environ.get("NEUROSIM_BRIAN_PYTHON",
                                                             sys.executable))
    ap.add_argument("--no-brian", action="store_true")
    args = ap.parse_args(argv)

    import numba

    result = {"workload": "Brette et al. 2007 benchmarks 1 (COBA) and 3 (COBAHH)",
              "duration_s": 1.0, "dt_s": 1e-4, "synapses_per_neuron": 80,
              "machine": {"python": platform.python_version(), "numpy": np.__version__,
                          "numba": numba.__version__, "cpus": os.cpu_count()},
              "models": {}}
    with tempfile.TemporaryDirectory() as cache:
        for model in args.models:
            points = {}
            for n in args.sizes:
                entry = {"neurosim": neurosim_point(model, n, args.repeats)}
                if not args.no_brian:
                    res, err = brian_point(args.brian_python, model, n, args.repeats, cache)
                    entry["brian2_cython"] = res
                    if err:
                        entry["brian2_cython_error"] = err
                    else:
                        entry["loop_speedup_vs_brian2_cython"] = (
                            res["loop_s"]["median"] / entry["neurosim"]["loop_s"]["median"])
                        # the fastest repeat of each: less sensitive to other load on the machine
                        entry["best_loop_speedup_vs_brian2_cython"] = (
                            res["loop_s"]["min"] / entry["neurosim"]["loop_s"]["min"])
                        # CPU time of the loop (one thread each): steadier still on a busy machine
                        entry["cpu_speedup_vs_brian2_cython"] = (
                            res["cpu_s"]["min"] / entry["neurosim"]["cpu_s"]["min"])
                        entry["rate_ratio_vs_brian2_cython"] = (
                            entry["neurosim"]["rate_hz"] / max(res["rate_hz"], 1e-12))
                points[str(n)] = entry
                print(f"{model} N={n}: speedup "
                      f"{entry.get('loop_speedup_vs_brian2_cython', float('nan')):.2f} (CPU time "
                      f"{entry.get('cpu_speedup_vs_brian2_cython', float('nan')):.2f})",
                      file=sys.stderr)
            result["models"][model] = points
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
