"""Hopfield recall benchmark (WORKLOADS.md "Hopfield recall", issue 2 section 8).

N = 1024 units, P = 50 random +-1 patterns, Hebbian W = xi^T xi / N with a zero diagonal, 50 cues
with exactly 205 (20%) distinct bits flipped (the same cues for every method); asynchronous
recall with a fresh random permutation each sweep, ``s_i <- +1 if h_i >= 0 else -1``, until the
first sweep that changes nothing (it counts), at most 100 sweeps.

Compared in the same run, in rounds: each round times the NumPy loop once and, right beside
it, each fast method ``--repeats`` times back to back (their median is the round's figure); a
ratio is taken within each round and the JSON gives the median and range over the rounds (this
machine's speed drifts between phases seconds apart, which a ratio of two medians taken at
different times would mix in) and the ratio of the overall medians. Methods:
- neurosim ``HopfieldNetwork.recall`` (whole call, Dataset included; compile reported apart),
  on one thread and on all cores;
- a straightforward NumPy loop (Python loop over units, one ``np.dot`` per update);
- the sweep kernel alone on prepared arrays (where the time goes: the rest is set-up and the
  Dataset);
- the floor: one product ``W @ S`` for all cues plus one column of ``W`` added per flip
  (compiled), with the flips of the same run;
- ``hopfieldnetwork`` from PyPI where installed (its own Hebbian matrix and loop).

Then a size sweep (``"sweep"``, issue 17): N = 100 .. 4000 units, P = N / 20 patterns, 10 to
200 cues with 20% of their bits flipped, the same rule and stopping; at each point, in rounds,
neurosim's recall (one thread, median of ``--repeats``) beside two NumPy baselines and the
ratios per point, and the share of neurosim's call outside the sweep kernel (``wrapper_share``,
from the fastest call and the fastest kernel alone on prepared arrays):
- ``numpy_cues``: the cue-vectorised loop a NumPy user writes: all running cues take their
  update together (each with its own random permutation per sweep, as neurosim's streams do),
  fields kept as ``H = S W`` and moved by the rows of ``W`` of the units that flip;
- ``numpy_cues_dot``: the same loop computing each field afresh, one row-wise dot per update
  for all cues (the vectorised form of the straightforward loop; N <= 2000);
- ``numpy_loop``: the straightforward loop above, one cue at a time (where it takes under
  a few seconds).

Prints one JSON object. Usage: ``python benchmarks/hopfield.py [--rounds 5] [--repeats 9] [--quick]
[--sweep-only]``.
"""
import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numba  # noqa: E402
import numpy as np  # noqa: E402
from numba import njit  # noqa: E402

N, P, N_CUES, N_FLIP, MAX_SWEEPS = 1024, 50, 50, 205, 100


def workload(seed=0, n=N, p=P, m=N_CUES, n_flip=N_FLIP):
    """Patterns (p, n) int8 and cues (m, n) int8: pattern k % p with exactly ``n_flip`` bits
    flipped (the fixed workload: n=1024, p=m=50, 205 bits)."""
    g = np.random.default_rng(seed)
    X = np.where(g.random((p, n)) < 0.5, -1, 1).astype(np.int8)
    cues = X[np.arange(m) % p].copy()
    for k in range(m):
        cues[k, g.choice(n, n_flip, replace=False)] *= -1
    return X, cues


def hebbian(X):
    Xf = X.astype(np.float64)
    W = Xf.T @ Xf / X.shape[1]
    np.fill_diagonal(W, 0.0)
    return W


def numpy_loop(W, cues, seed=0):
    """The straightforward implementation: one np.dot per unit update."""
    g = np.random.default_rng(seed)
    n = W.shape[0]
    finals, sweeps = [], []
    for cue in cues:
        s = cue.astype(np.float64).copy()
        for sweep in range(1, MAX_SWEEPS + 1):
            changed = False
            for i in g.permutation(n):
                new = 1.0 if np.dot(W[i], s) >= 0 else -1.0
                if new != s[i]:
                    s[i] = new
                    changed = True
            if not changed:
                break
        finals.append(s)
        sweeps.append(sweep)
    return np.array(finals), np.array(sweeps)


def numpy_cues(W, cues, seed=0, fields=True):
    """The cue-vectorised loop: every running cue updates its next unit together (the same rule,
    its own permutation per sweep, stopping after its first sweep without a flip).

    ``fields``: keep ``H = S W`` and add ``2 s W[i]`` to the fields of the cues whose unit ``i``
    flips; else compute each update's field afresh, one row-wise dot for all cues."""
    g = np.random.default_rng(seed)
    S = cues.astype(np.float64)
    m, n = S.shape
    H = S @ W if fields else None
    sweeps = np.zeros(m, np.int64)
    run = np.arange(m)  # the cues still running
    for sweep in range(1, MAX_SWEEPS + 1):
        A, r = S[run], np.arange(run.size)
        HA = H[run] if fields else None
        order = g.permuted(np.tile(np.arange(n), (run.size, 1)), axis=1)
        changed = np.zeros(run.size, bool)
        for u in range(n):
            i = order[:, u]
            h = HA[r, i] if fields else np.einsum("ij,ij->i", W[i], A)
            new = np.where(h >= 0, 1.0, -1.0)
            f = np.flatnonzero(new != A[r, i])
            if f.size:
                A[f, i[f]] = new[f]
                changed[f] = True
                if fields:
                    HA[f] += 2.0 * new[f, None] * W[i[f]]
        S[run] = A
        if fields:
            H[run] = HA
        sweeps[run] = sweep
        run = run[changed]
        if run.size == 0:
            break
    return S, sweeps


@njit(cache=True)
def _column_updates(W, H, cue_of_flip, unit_of_flip, sign_of_flip):
    for f in range(cue_of_flip.shape[0]):
        h = H[cue_of_flip[f]]
        w = W[unit_of_flip[f]]
        s2 = 2.0 * sign_of_flip[f]
        for j in range(h.shape[0]):
            h[j] += s2 * w[j]


def floor(W, cues, flips):
    """One BLAS product for all cues' fields plus one column of W per flip (float64)."""
    S = cues.astype(np.float64)
    H = S @ W
    _column_updates(W, H, *flips)
    return H


def flips_of(ds):
    """(cue, unit, new sign) of every flip of a recorded recall (one flip per unit and sweep)."""
    st = ds.state.values
    d = st[:, 1:] != st[:, :-1]
    c, s, i = np.nonzero(d)
    return c.astype(np.int64), i.astype(np.int64), st[c, s + 1, i].astype(np.float64)


def hopfieldnetwork_recall(X, cues):
    from hopfieldnetwork import HopfieldNetwork as PeerNet

    net = PeerNet(N)
    net.train_pattern(np.ascontiguousarray(X.T))  # (N, P), its own Hebbian matrix
    finals, sweeps = [], []
    for cue in cues:
        net.set_initial_neurons_state(cue.astype(np.int64).copy())
        net.update_neurons(0, "async", run_max=True)
        finals.append(np.asarray(net.S).copy())
        sweeps.append(net.t + 1)  # its counter omits the final unchanged sweep
    return np.array(finals), np.array(sweeps)


def kernel_only(net, cues, seed):
    """The compiled sweep kernel alone on prepared arrays (no set-up, no Dataset): seconds."""
    from neurosim import rng
    from neurosim.kernels import hopfield as K

    from neurosim import config

    m, n = cues.shape
    p = net.n_patterns
    S = cues.copy()
    # the kernel recall runs: from the overlap counts for Hebbian counts with few patterns
    low_rank = net._h_dtype != np.float64 and p <= config.HOPFIELD_RECALL_LOW_RANK_MAX_RATIO * n
    SB, Q, H, _ = net._start(S, fields=not low_rank)
    conv, used = np.zeros(m, np.bool_), np.zeros(m, np.int64)
    idx = np.zeros(0, np.int64)
    per_cue = (rng.streams(seed, m), np.empty((m, n), np.int64))
    recs = (np.empty((m, MAX_SWEEPS, 0), np.int8), np.empty((m, MAX_SWEEPS)), np.empty((m, MAX_SWEEPS, p), np.int64))
    if low_rank:
        kernel, arrays = K.sweeps_low_rank, (net._X, net._XT, net._W2k, S, SB, np.empty(S.shape, net._h_dtype), Q)
    else:
        kernel, arrays = K.sweeps, (net._W2k, net._XB, S, SB, H, Q)
    t0 = time.perf_counter()
    kernel(*arrays, *per_cue, MAX_SWEEPS, 0.0, False, conv, used, idx, *recs)
    return time.perf_counter() - t0


def stats(times):
    t = np.asarray(times)
    return {"median_s": float(np.median(t)), "min_s": float(t.min()), "max_s": float(t.max()),
            "repeats": int(t.size)}


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


SWEEP = ((100, 50), (500, 50), (1000, 10), (1000, 50), (1000, 200), (2000, 10), (2000, 50), (2000, 200),
         (4000, 50))  # (units, cues); P = units / 20, 20% of each cue's bits flipped
QUICK_SWEEP = ((100, 10), (300, 10), (600, 10), (1000, 10))


def sweep(points, rounds, repeats):
    """Recall at each (units, cues) point beside the NumPy baselines, one thread each, in rounds
    (each baseline once, neurosim ``repeats`` times right beside it: the median; at least
    ``rounds``, up to 5x as many while a point has run under 2 s); the ratio of each baseline
    to neurosim per round, then their median and range."""
    from neurosim.energy import HopfieldNetwork

    numba.set_num_threads(1)
    X, cues = workload(1, 20, 2, 2, 4)  # the baselines' first calls (NumPy's own set-up) apart
    numpy_cues(hebbian(X), cues), numpy_cues(hebbian(X), cues, fields=False), numpy_loop(hebbian(X), cues)
    out = []
    for n, m in points:
        p = max(2, n // 20)
        X, cues = workload(1, n, p, m, n // 5)
        W = hebbian(X)
        net = HopfieldNetwork(n, seed=0).store(X)
        net.recall(cues, record="final", seed=0)
        sides = {"numpy_cues": lambda r: numpy_cues(W, cues, seed=r)}
        if n <= 2000:
            sides["numpy_cues_dot"] = lambda r: numpy_cues(W, cues, seed=r, fields=False)
        if n * n * m <= 2000 * 2000 * 10:
            sides["numpy_loop"] = lambda r: numpy_loop(W, cues, seed=r)
        t = {k: [] for k in ("neurosim", *sides)}
        sweeps, fastest = {}, {"neurosim": np.inf, "kernel": np.inf}
        r, began = 0, time.perf_counter()
        while r < rounds or (r < 5 * rounds and time.perf_counter() - began < 2.0):  # (cheap points:
            r += 1                                                                    # more rounds)
            for name, fn in sides.items():
                dt, (_, used) = timed(lambda: fn(r))
                t[name].append(dt)
                sweeps[name] = float(used.mean())
                ours = [timed(lambda: net.recall(cues, record="final", seed=r))[0] for _ in range(repeats)]
                t["neurosim"].append(float(np.median(ours)))
                kern = [kernel_only(net, cues, r) for _ in range(repeats)]
                fastest = {"neurosim": min(fastest["neurosim"], *ours), "kernel": min(fastest["kernel"], *kern)}
        ds = net.recall(cues, record="final", seed=0)
        point = {"units": n, "patterns": p, "cues": m, "flipped_bits": n // 5,
                 "sweeps_mean": {"neurosim": float(ds.sweeps.mean()), **sweeps},
                 "seconds_median": {k: float(np.median(v)) for k, v in t.items()},
                 "seconds_min": {**{k: float(np.min(v)) for k, v in t.items() if k != "neurosim"}, **fastest},
                 # everything but the sweep kernel (set-up, records, Dataset), from the fastest calls
                 "wrapper_share": max(0.0, 1.0 - fastest["kernel"] / fastest["neurosim"])}
        k = len(sides)  # neurosim's figures interleave with each side's, in the same order
        for j, name in enumerate(sides):
            per_round = np.asarray(t[name]) / np.asarray(t["neurosim"][j::k])
            point[f"{name}_over_neurosim"] = {"median": float(np.median(per_round)),
                                              "min": float(per_round.min()), "max": float(per_round.max()),
                                              # (the fastest of each side: the least disturbed by load)
                                              "of_fastest": float(np.min(t[name]) / fastest["neurosim"])}
        print(json.dumps({"point": point}), file=sys.stderr, flush=True)
        out.append(point)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5, help="rounds (one NumPy loop each)")
    ap.add_argument("--repeats", type=int, default=9, help="back-to-back calls of each fast method per round")
    ap.add_argument("--quick", action="store_true", help="one round, a small sweep")
    ap.add_argument("--sweep-only", action="store_true", help="only the size sweep")
    ap.add_argument("--sweep-rounds", type=int, default=3, help="rounds at each point of the sweep")
    args = ap.parse_args(argv)
    rounds = 1 if args.quick else args.rounds
    points = QUICK_SWEEP if args.quick else SWEEP
    if args.sweep_only:
        out = {"sweep": sweep(points, 1 if args.quick else args.sweep_rounds, args.repeats)}
        print(json.dumps(out, indent=2))
        return out

    t0 = time.perf_counter()
    from neurosim.energy import HopfieldNetwork
    import_s = time.perf_counter() - t0

    X, cues = workload(0)
    W = hebbian(X)
    net = HopfieldNetwork(N, seed=0).store(X)
    all_threads = numba.config.NUMBA_NUM_THREADS

    # First call: compilation (or loading the cache) plus one run.
    numba.set_num_threads(1)
    first_s, ds = timed(lambda: net.recall(cues, record="final", seed=0))
    rec = net.recall(cues, record="sweeps", seed=0)
    flips = flips_of(rec)
    floor(W, cues[:1], tuple(a[:1] for a in flips))  # compile the floor's column loop
    try:
        import hopfieldnetwork  # noqa: F401
        have_peer = True
    except ImportError:
        have_peer = False

    def group(seconds, threads):
        """Median of ``--repeats`` back-to-back calls of ``seconds()`` (after one that wakes the
        threads up)."""
        numba.set_num_threads(threads)
        seconds()
        return float(np.median([seconds() for _ in range(args.repeats)]))

    seeds = iter(range(10**6))

    def recall():
        return timed(lambda: net.recall(cues, record="final", seed=next(seeds)))[0]

    t = {"one": [], "all": [], "kernel": [], "floor": [], "numpy": [], "numpy_cues": [], "peer": []}
    for r in range(rounds):
        dt, (np_final, np_sweeps) = timed(lambda: numpy_loop(W, cues, seed=r))
        t["numpy"].append(dt)
        dt, (npc_final, npc_sweeps) = timed(lambda: numpy_cues(W, cues, seed=r))
        t["numpy_cues"].append(dt)
        t["one"].append(group(recall, 1))
        t["all"].append(group(recall, all_threads))
        t["kernel"].append(group(lambda: kernel_only(net, cues, next(seeds)), 1))
        t["floor"].append(group(lambda: timed(lambda: floor(W, cues, flips))[0], 1))
        if have_peer:
            dt, (peer_final, peer_sweeps) = timed(lambda: hopfieldnetwork_recall(X, cues))
            t["peer"].append(dt)
    ds1 = net.recall(cues, record="final", seed=0)

    def overlaps(final):
        return np.einsum("ki,ki->k", final.astype(np.float64), X.astype(np.float64)) / N

    ns = {k: stats(v) for k, v in t.items() if v}
    out = {
        "workload": {"N": N, "P": P, "cues": N_CUES, "flipped_bits": N_FLIP, "max_sweeps": MAX_SWEEPS,
                     "rule": "hebbian", "mode": "async", "temperature": 0.0},
        "machine": {"cpu_count": os.cpu_count(), "numba_threads_all": all_threads,
                    "python": platform.python_version(), "numba": numba.__version__,
                    "numpy": np.__version__},
        "neurosim": {
            "import_s": import_s,
            "first_call_s": first_s,
            "compile_s": max(first_s - ns["one"]["median_s"], 0.0),
            "one_thread": ns["one"], "all_cores": ns["all"],
            "kernel_only_one_thread": ns["kernel"],
            "sweeps_mean": float(ds1.sweeps.mean()), "sweeps_max": int(ds1.sweeps.max()),
            "converged": bool(ds1.converged.all()),
            "final_overlap_min": float(np.diagonal(ds1.overlap.isel(sweep=-1).values).min()),
            "final_overlap_mean": float(np.diagonal(ds1.overlap.isel(sweep=-1).values).mean()),
            "flips_total": int(flips[0].size),
        },
        "floor": {"what": "W @ S (BLAS, 1 thread) + one column of W per flip (compiled)", **ns["floor"]},
        "numpy_loop": {**ns["numpy"], "sweeps_mean": float(np_sweeps.mean()),
                       "final_overlap_min": float(overlaps(np_final).min())},
        "numpy_cues": {**ns["numpy_cues"], "sweeps_mean": float(npc_sweeps.mean()),
                       "final_overlap_min": float(overlaps(npc_final).min())},
    }
    def paired(a, b):
        """``a / b`` within each round: median, range, and the ratio of the overall medians."""
        per_round = np.asarray(t[a]) / np.asarray(t[b])
        return {"median": float(np.median(per_round)), "min": float(per_round.min()),
                "max": float(per_round.max()), "of_medians": ns[a]["median_s"] / ns[b]["median_s"]}

    ratio = {
        "numpy_loop_over_neurosim_one_thread": paired("numpy", "one"),
        "numpy_loop_over_neurosim_all_cores": paired("numpy", "all"),
        "numpy_loop_over_kernel_only_one_thread": paired("numpy", "kernel"),
        "numpy_cues_over_neurosim_one_thread": paired("numpy_cues", "one"),
        "neurosim_one_thread_over_floor": paired("one", "floor"),
        "neurosim_all_cores_over_floor": paired("all", "floor"),
    }
    if have_peer:
        out["hopfieldnetwork"] = {**ns["peer"], "sweeps_mean": float(peer_sweeps.mean()),
                                  "final_overlap_min": float(overlaps(peer_final).min())}
        ratio["hopfieldnetwork_over_neurosim_one_thread"] = paired("peer", "one")
        ratio["hopfieldnetwork_over_neurosim_all_cores"] = paired("peer", "all")
    else:
        out["hopfieldnetwork"] = "not installed (pip install hopfieldnetwork)"
    out["ratios"] = ratio
    out["goals"] = {"numpy_loop_over_neurosim_all_cores": ">= 100", "numpy_loop_over_neurosim_one_thread": ">= 50",
                    "numpy_cues_over_neurosim_one_thread": ">= 50", "neurosim_over_floor": "<= 2"}
    out["sweep"] = sweep(points, 1 if args.quick else args.sweep_rounds, args.repeats)
    print(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
