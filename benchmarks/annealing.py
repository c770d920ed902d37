"""SK annealing benchmark (WORKLOADS.md "SK annealing", issue 3 section 6).

Sherrington-Kirkpatrick instances, ``J_ij ~ N(0, 1/N)`` for ``i < j``, no fields; N = 512 with
20 reads and 1000 sweeps, N = 2000 with 4 reads and 500 sweeps (the workload), and for the
size sweep of issue 17 N = 128 (50 reads, 1000 sweeps), 1000 (10, 1000) and 4000 (2, 250); the same explicit geometric
schedule of inverse temperatures from 0.1 to 5 for both samplers, Metropolis moves, sequential
sweeps, random initial states. Energies are ``sum_{i<j} J_ij s_i s_j`` on both sides (neurosim
gets ``-J`` in its ``-1/2 s^T J s`` form).

Compared, alternating, in the same run: neurosim ``IsingAnnealer.anneal`` (whole call, Dataset
included; compilation reported apart) on one thread, D-Wave's ``SimulatedAnnealingSampler``
(package dwave-samplers) where installed, and neurosim on all cores (an extra line). Figures:
wall time (median, min, max over repeats), spin updates per second (N sweeps reads / time),
mean and best energy per spin, and the ratios.

Prints one JSON object, the ratio at each size and their range (``speedup_range``).
``python benchmarks/annealing.py [--repeats 3] [--sizes 128 512 1000 2000 4000]``
"""
import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402

import numba  # noqa: E402
import numpy as np  # noqa: E402

from neurosim.energy.annealing import IsingAnnealer, sk_couplings  # noqa: E402

WORKLOAD = {128: (50, 1000), 512: (20, 1000), 1000: (10, 1000), 2000: (4, 500), 4000: (2, 250)}  # reads, sweeps
BETA_RANGE = (0.1, 5.0)


def summary(times):
    t = np.asarray(times)
    return {"median": float(np.median(t)), "min": float(t.min()), "max": float(t.max())}


def dwave_sampler():
    try:
        import dimod
        from dwave.samplers import SimulatedAnnealingSampler
    except ImportError:
        return None
    return dimod, SimulatedAnnealingSampler()


def run_size(n, repeats, all_threads):
    reads, sweeps = WORKLOAD[n]
    J = sk_couplings(n, seed=0)           # ours: E = -1/2 s^T J s = -sum_{i<j} J_ij s_i s_j
    betas = np.geomspace(*BETA_RANGE, sweeps)
    updates = n * sweeps * reads
    annealer = IsingAnnealer(-J, seed=1)  # so that E = +sum_{i<j} J_ij s_i s_j as for dimod

    t0 = time.perf_counter()
    annealer.anneal(betas=betas[:2], reads=2)
    compile_s = time.perf_counter() - t0

    dw = dwave_sampler()
    if dw is not None:
        dimod, sampler = dw
        bqm = dimod.BinaryQuadraticModel(np.zeros(n), np.triu(J, 1), 0.0, "SPIN")
        sampler.sample(bqm, num_reads=1, num_sweeps=2, beta_schedule_type="custom", beta_schedule=betas[:2], seed=0)

    res = {"ours_1": [], "dwave": [], "ours_all": []}
    energies = {"ours_1": None, "dwave": None, "ours_all": None}
    for rep in range(repeats):
        numba.set_num_threads(1)
        t0 = time.perf_counter()
        ds = IsingAnnealer(-J, seed=1 + rep).anneal(betas=betas, reads=reads, method="metropolis")
        res["ours_1"].append(time.perf_counter() - t0)
        energies["ours_1"] = ds.energy.values / n
        if dw is not None:
            t0 = time.perf_counter()
            out = sampler.sample(bqm, num_reads=reads, num_sweeps=sweeps, beta_schedule_type="custom",
                                 beta_schedule=betas, seed=1 + rep)
            res["dwave"].append(time.perf_counter() - t0)
            energies["dwave"] = out.record.energy / n
        numba.set_num_threads(all_threads)
        t0 = time.perf_counter()
        ds = IsingAnnealer(-J, seed=1 + rep).anneal(betas=betas, reads=reads, method="metropolis")
        res["ours_all"].append(time.perf_counter() - t0)
        energies["ours_all"] = ds.energy.values / n

    out = {"n": n, "reads": reads, "sweeps": sweeps, "beta_range": list(BETA_RANGE), "schedule": "geometric",
           "compile_s": compile_s}
    for key, times in res.items():
        if not times:
            out[key] = None
            continue
        s = summary(times)
        e = energies[key]
        out[key] = {"time_s": s, "updates_per_s": updates / s["median"],
                    "mean_energy_per_spin": float(np.mean(e)), "best_energy_per_spin": float(np.min(e))}
    if out["dwave"]:
        out["speedup_1_thread_vs_dwave"] = out["dwave"]["time_s"]["median"] / out["ours_1"]["time_s"]["median"]
        per = np.asarray(res["dwave"]) / np.asarray(res["ours_1"])  # each pair back to back
        out["speedup_1_thread_per_repeat"] = {"min": float(per.min()), "max": float(per.max())}
        out["speedup_all_threads_vs_dwave"] = out["dwave"]["time_s"]["median"] / out["ours_all"]["time_s"]["median"]
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--sizes", type=int, nargs="+", default=sorted(WORKLOAD), choices=sorted(WORKLOAD))
    args = p.parse_args()
    all_threads = numba.config.NUMBA_NUM_THREADS
    try:
        import dwave.samplers as dws
        dw_version = getattr(dws, "__version__", "installed")
    except ImportError:
        dw_version = None
    result = {"benchmark": "SK annealing", "machine": platform.processor() or platform.machine(),
              "cpu_count": os.cpu_count(), "numba_threads_all": all_threads, "dwave_samplers": dw_version,
              "parisi_energy_per_spin": -0.7633,
              "sizes": [run_size(n, args.repeats, all_threads) for n in args.sizes]}
    sp = [r["speedup_1_thread_vs_dwave"] for r in result["sizes"] if "speedup_1_thread_vs_dwave" in r]
    if sp:
        result["speedup_range"] = {"min": min(sp), "max": max(sp)}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
