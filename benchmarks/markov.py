"""Markov chain benchmark (WORKLOADS.md "Markov chains"): neurosim against QuantEcon's
MarkovChain and PyDTMC, in the same run where they are installed.

Dense 1000-state chain with Dirichlet(1) rows (seed 0): one path of 1,000,000 steps, 1000 paths
of 1000 steps, the stationary distribution. Sparse 100,000-state chain with 10 non-zeros per
row (Dirichlet(1) weights on 10 distinct random columns, seed 0): the same two simulations and
its stationary distribution (QuantEcon would densify an 80 GB matrix; not run). One thread on
both sides (BLAS and Numba), neurosim on all cores as extra lines. PyDTMC is too slow for the
full workload: it runs a shorter path (``--pydtmc-steps``) and the figure is steps per second.

Prints one JSON object: times in seconds (median, min, max over ``--repeats``, sides
alternating), steps per second, first-call (compile) times apart, and ratios.

The size sweep of issue 17 (``"sweep"``): dense Dirichlet(1) chains of 100, 1000 and 10000
states, one path of 10^3, 10^4 and 10^6 steps and 100 paths of 10^4 and 10^5 steps, neurosim's
``simulate`` beside QuantEcon's ``simulate`` (alternating, one thread; a point under 200,000
steps in all takes the fastest of a batch of calls back to back, one up to 10^6 the fastest of
3): the ratio per point (the median of the back-to-back pairs, and ``of_fastest``: QuantEcon's
fastest over neurosim's fastest), the wrapper's share of neurosim's call (everything but the
kernel: the kernel alone is timed on prepared arrays writing a fresh output, as the call does;
from the fastest of the repeats of each), and the peak memory of each call (tracemalloc, chains
built and warm).

    python benchmarks/markov.py [--repeats 5] [--quick] [--sweep-only]
"""
import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402

import numba  # noqa: E402
import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402


def stats(times):
    t = np.asarray(times)
    return {"median": float(np.median(t)), "min": float(t.min()), "max": float(t.max()), "n": len(t)}


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def per_call(fn, number):
    """Seconds of the fastest of ``number`` calls of ``fn`` back to back: a short call's own time,
    which the other processes of a shared machine disturb only now and then (a mean of the batch
    would take in every time slice they took)."""
    best = np.inf
    for _ in range(number):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def dense_chain(n=1000, seed=0):
    return np.random.default_rng(seed).dirichlet(np.ones(n), size=n)


def sparse_chain(n=100_000, k=10, seed=0):
    """CSR chain: each row has ``k`` distinct uniformly random columns with Dirichlet(1) weights."""
    rng = np.random.default_rng(seed)
    cols = np.sort(rng.integers(0, n, (n, k)), axis=1)
    while True:  # redraw repeated columns until every row has k distinct ones
        dup = np.zeros_like(cols, dtype=bool)
        dup[:, 1:] = cols[:, 1:] == cols[:, :-1]
        if not dup.any():
            break
        cols[dup] = rng.integers(0, n, int(dup.sum()))
        cols.sort(axis=1)
    rows = np.repeat(np.arange(n), k)
    return sp.csr_array((rng.dirichlet(np.ones(k), size=n).ravel(), (rows, cols.ravel())), shape=(n, n))


SWEEP_STATES = (100, 1000, 10000)
SWEEP_RUNS = ((1, 1_000), (1, 10_000), (1, 1_000_000), (100, 10_000), (100, 100_000))  # (paths, ts_length)
SHORT = 200_000  # a point of fewer steps in all (paths x steps) times a batch of calls per figure
MID = 1_000_000  # up to this many steps in all, the fastest of 3 calls


def peak_bytes(fn):
    """Peak memory (bytes) that Python allocations reach during ``fn()`` (tracemalloc)."""
    import tracemalloc

    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        fn()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def kernel_seconds(mc, paths, steps, seed=0, number=1):
    """The compiled simulation kernel alone, on prepared tables, streams and starting states,
    writing a fresh output (what ``simulate`` runs for a dense chain on the CPU): seconds of the
    fastest of ``number`` calls."""
    from neurosim import config, rng
    from neurosim.kernels import markov as K

    table = mc._get_tables()[1]
    x = np.zeros(paths, np.int64)
    states = rng.streams(seed, paths)
    one = paths == 1 and mc.n_states >= config.MARKOV_PREFETCH_MIN_STATES
    kernel = K.run_dense_one if one else K.run_dense
    best = np.inf
    for _ in range(number):
        t0 = time.perf_counter()
        out = np.empty((paths, steps), np.int64)
        kernel(table, x, np.int64(steps), np.int64(1), states, out[0] if one else out)
        best = min(best, time.perf_counter() - t0)
    return best


def sweep(repeats, qe, states_list=SWEEP_STATES, runs=SWEEP_RUNS):
    """neurosim beside QuantEcon at each (states, paths, ts_length) point: ratio, wrapper share,
    peak memory."""
    from neurosim.markov import MarkovChain

    numba.set_num_threads(1)
    points = []
    for n in states_list:
        P = dense_chain(n)
        mc = MarkovChain(P, seed=0)
        mc.simulate(10, start=0)
        mc.simulate(10, start=0, n_chains=2)
        qmc = qe.MarkovChain(P) if qe is not None else None
        if qmc is not None:
            qmc.simulate(10, init=0)
        for paths, length in runs:
            steps = length - 1  # ts_length states: the start and length - 1 steps
            init = 0 if paths == 1 else np.zeros(paths, dtype=np.int64)
            total = paths * length  # calls per figure (the fastest of them)
            number = max(1, SHORT // total) if total < SHORT else (3 if total <= MID else 1)
            t = {"neurosim": [], "quantecon": [], "kernel": []}
            for _ in range(repeats):
                t["neurosim"].append(per_call(lambda: mc.simulate(steps, start=0, n_chains=paths), number))
                t["kernel"].append(kernel_seconds(mc, paths, steps, number=number))
                if qmc is not None:
                    t["quantecon"].append(per_call(lambda: qmc.simulate(length, init=init), number))
            med = {k: float(np.median(v)) for k, v in t.items() if v}
            low = {k: float(np.min(v)) for k, v in t.items() if v}  # (least disturbed by other load)
            point = {"states": n, "paths": paths, "ts_length": length, "calls_per_figure": number,
                     "seconds_median": med, "seconds_min": low,
                     "wrapper_share": max(0.0, 1.0 - low["kernel"] / low["neurosim"]),
                     "peak_bytes": {"neurosim": peak_bytes(lambda: mc.simulate(steps, start=0, n_chains=paths))}}
            if qmc is not None:
                point["peak_bytes"]["quantecon"] = peak_bytes(lambda: qmc.simulate(length, init=init))
                per = np.asarray(t["quantecon"]) / np.asarray(t["neurosim"])  # pairs back to back
                point["ratio_quantecon_over_neurosim"] = {"median": float(np.median(per)),
                                                          "min": float(per.min()), "max": float(per.max()),
                                                          # (fastest against fastest: the least disturbed)
                                                          "of_fastest": low["quantecon"] / low["neurosim"]}
                point["memory_ratio_neurosim_over_quantecon"] = (point["peak_bytes"]["neurosim"]
                                                                 / point["peak_bytes"]["quantecon"])
            points.append(point)
        del mc, qmc, P
    out = {"points": points}
    if qe is not None:
        r = [p["ratio_quantecon_over_neurosim"]["median"] for p in points]
        out["ratio_range"] = {"min": min(r), "max": max(r)}
    w = [p["wrapper_share"] for p in points]
    out["wrapper_share_range"] = {"min": min(w), "max": max(w)}
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="smaller sizes (smoke test)")
    ap.add_argument("--pydtmc-steps", type=int, default=20_000)
    ap.add_argument("--sweep-only", action="store_true", help="only the size sweep")
    args = ap.parse_args()
    if args.sweep_only:
        try:
            import quantecon as qe
        except ImportError:
            qe = None
        runs = SWEEP_RUNS if not args.quick else ((1, 1_000), (1, 10_000), (100, 10_000))
        print(json.dumps({"sweep": sweep(args.repeats, qe, SWEEP_STATES if not args.quick else (100, 1000), runs)},
                         indent=1))
        return
    R = args.repeats
    long_steps, n_paths, path_steps = (1_000_000, 1000, 1000) if not args.quick else (100_000, 100, 1000)
    n_sparse = 100_000 if not args.quick else 10_000
    all_cores = numba.config.NUMBA_NUM_THREADS

    t0 = time.perf_counter()
    from neurosim.markov import MarkovChain
    out = {"workload": "WORKLOADS.md Markov chains", "repeats": R, "threads": 1,
           "all_cores": all_cores, "import_s": {"neurosim": time.perf_counter() - t0}}
    try:
        t0 = time.perf_counter()
        import quantecon as qe
        out["import_s"]["quantecon"] = time.perf_counter() - t0
    except ImportError:
        qe = None
    try:
        t0 = time.perf_counter()
        import pydtmc
        out["import_s"]["pydtmc"] = time.perf_counter() - t0
    except ImportError:
        pydtmc = None

    P = dense_chain()
    numba.set_num_threads(1)
    mc = MarkovChain(P, seed=0)
    first, _ = timed(lambda: mc.simulate(10, start=0))  # alias tables + kernels (compile or cache load)
    out["first_call_s"] = {"neurosim": first}
    res = {"long": {"neurosim": [], "quantecon": []}, "paths": {"neurosim": [], "quantecon": []},
           "stationary": {"neurosim": [], "quantecon": []}}
    qmc = None
    if qe is not None:
        qmc = qe.MarkovChain(P)
        out["first_call_s"]["quantecon"], _ = timed(lambda: qmc.simulate(10, init=0))
    starts = np.zeros(n_paths, dtype=np.int64)
    for _ in range(R):
        res["long"]["neurosim"].append(timed(lambda: mc.simulate(long_steps, start=0))[0])
        if qmc is not None:
            res["long"]["quantecon"].append(timed(lambda: qmc.simulate(long_steps, init=0))[0])
        res["paths"]["neurosim"].append(timed(lambda: mc.simulate(path_steps, start=0, n_chains=n_paths))[0])
        if qmc is not None:
            res["paths"]["quantecon"].append(timed(lambda: qmc.simulate(path_steps + 1, init=starts))[0])
        fresh = MarkovChain(P)  # no cached structure
        res["stationary"]["neurosim"].append(timed(fresh.stationary)[0])
        if qe is not None:
            q2 = qe.MarkovChain(P)
            res["stationary"]["quantecon"].append(timed(lambda: q2.stationary_distributions)[0])
    pi = mc.stationary()
    if qe is not None:
        out["stationary_max_abs_diff_vs_quantecon"] = float(np.abs(qe.MarkovChain(P).stationary_distributions[0] - pi).max())
    dense = {}
    for key, steps in (("long", long_steps), ("paths", n_paths * path_steps)):
        dense[key] = {side: {**stats(v), "steps_per_s": steps / float(np.median(v))} for side, v in res[key].items() if v}
    dense["stationary"] = {side: stats(v) for side, v in res["stationary"].items() if v}
    if qe is not None:
        for key in ("long", "paths", "stationary"):
            dense[key]["ratio_quantecon_over_neurosim"] = (dense[key]["quantecon"]["median"]
                                                           / dense[key]["neurosim"]["median"])
    # all cores (extra line)
    numba.set_num_threads(all_cores)
    dense["paths"]["neurosim_all_cores"] = stats([timed(lambda: mc.simulate(path_steps, start=0, n_chains=n_paths))[0]
                                                  for _ in range(R)])
    numba.set_num_threads(1)
    if pydtmc is not None:
        t_build, pmc = timed(lambda: pydtmc.MarkovChain(P))
        steps = args.pydtmc_steps
        t_sim, _ = timed(lambda: pmc.simulate(steps, initial_state=0, seed=0))
        t_pi, _ = timed(lambda: pmc.pi)
        nrate = dense["long"]["neurosim"]["steps_per_s"]
        dense["pydtmc"] = {"build_s": t_build, "steps": steps, "simulate_s": t_sim, "steps_per_s": steps / t_sim,
                           "stationary_s": t_pi, "ratio_neurosim_steps_per_s_over_pydtmc": nrate / (steps / t_sim)}
    out["dense_1000"] = dense

    # sparse chain
    A = sparse_chain(n_sparse)
    t_build, smc = timed(lambda: MarkovChain(A, seed=0))
    first, _ = timed(lambda: smc.simulate(10, start=0))
    sres = {"long": [], "paths": [], "stationary": []}
    for _ in range(R):
        sres["long"].append(timed(lambda: smc.simulate(long_steps, start=0))[0])
        sres["paths"].append(timed(lambda: smc.simulate(path_steps, start=0, n_chains=n_paths))[0])
        fresh = MarkovChain(A)
        sres["stationary"].append(timed(lambda: fresh.stationary(method="power", tol=1e-12))[0])
    spi = smc.stationary(method="power", tol=1e-12)
    resid = float(np.abs(spi @ smc.P - spi).sum())
    sparse = {"n_states": n_sparse, "nnz": int(A.nnz), "build_s": t_build, "first_call_s": first,
              "long": {**stats(sres["long"]), "steps_per_s": long_steps / float(np.median(sres["long"]))},
              "paths": {**stats(sres["paths"]), "steps_per_s": n_paths * path_steps / float(np.median(sres["paths"]))},
              "stationary": {**stats(sres["stationary"]), "method": "power (lazy chain), tol 1e-12",
                             "residual_l1_piP_minus_pi": resid},
              "quantecon": "not run: its stationary_distributions densifies the matrix (100000^2 floats)"}
    numba.set_num_threads(all_cores)
    sparse["paths"]["neurosim_all_cores"] = stats([timed(lambda: smc.simulate(path_steps, start=0, n_chains=n_paths))[0]
                                                   for _ in range(R)])
    numba.set_num_threads(1)
    out["sparse_100k"] = sparse
    out["sweep"] = sweep(R, qe, SWEEP_STATES if not args.quick else (100, 1000),
                         SWEEP_RUNS if not args.quick else ((1, 1_000), (1, 10_000), (100, 10_000)))
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
