"""ESN beside reservoirpy: a sweep of sizes and tasks, the first call, and the Mackey-Glass
workload in detail (WORKLOADS.md, "ESN on Mackey-Glass").

Sweep (the default): fit then predict, as a user runs them, for each task, reservoir size
(``--sizes``, default 100 300 500 1000 2000 units) and recurrent connectivity (``--conn``,
default 0.1 and 1.0: sparse and dense reservoirs). Tasks:

- ``mackey_glass``: the workload below (1 input, 1 output; train 8000 steps, washout 100,
  test the next 1999 from the training end state; leak 0.3, spectral radius 1.25, input
  scaling 1, input connectivity 0.1, ridge 1e-7).
- ``multi``: 8 inputs u ~ U(0, 0.5), 3 outputs: NARMA10 driven by u0, u1 five steps back,
  u2[t] u3[t-2]; the same split; leak 0.5, spectral radius 0.9, input connectivity 0.2,
  ridge 1e-6.

Per point, ``--repeats`` rounds (seed = round), the two sides alternating which goes first:
construct (``init_s``: weights and spectral radius), ``fit_s`` and ``predict_s``; the ratio
is reservoirpy's (fit + predict) over neurosim's, per round, then the median (and with the
construction included, ``ratio_with_init``). reservoirpy's construction is timed with its own
generators, but it fits and predicts on neurosim's reservoir (the same W and Win, as
reservoirpy holds them), so the test NRMSEs (mean over outputs) must agree: relative difference
at most ``NRMSE_TOL`` (they differ by rounding: summation orders, tanh, the ridge solve). One
thread on both sides (BLAS and Numba).

First call: a fresh process each (import, then construct + fit 500 steps + predict 100 with a
100-unit reservoir), neurosim with a warm kernel cache and with an empty one
(``NUMBA_CACHE_DIR`` a new directory: the compile a new user waits for once), reservoirpy
(nothing to compile).

Workload (``--workload``): the Mackey-Glass block in detail (float64 and float32, closed-loop
generation, the floor: a pass that only reads the reservoir matrix in the kernel's layout
once per step, and a bare CSR matvec loop), units ``--units`` (500 2000).

    python benchmarks/esn.py [--sizes 100 300 500 1000 2000] [--conn 0.1 1.0]
                             [--tasks mackey_glass multi] [--repeats 2] [--no-first-call]
    python benchmarks/esn.py --workload [--repeats 3] [--units 500 2000]

Prints JSON.
"""
import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402

T_IMPORT = time.perf_counter()
try:
    import neurosim  # noqa: E402,F401
except ImportError:  # a checkout that is not pip-installed: use the repository next to this file
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import neurosim  # noqa: E402,F401
from neurosim import metrics  # noqa: E402
from neurosim.datasets import timeseries as ts  # noqa: E402
from neurosim.kernels.timeseries import narma as _narma  # noqa: E402
from neurosim.reservoir import ESN  # noqa: E402

T_IMPORT = time.perf_counter() - T_IMPORT

try:
    import reservoirpy
    from reservoirpy.datasets import mackey_glass as rpy_mackey_glass
    from reservoirpy.mat_gen import normal as rpy_normal
    from reservoirpy.nodes import Reservoir, Ridge
except ImportError:  # the benchmark still runs, neurosim alone
    reservoirpy = None

from numba import njit  # noqa: E402

P = dict(leak=0.3, sr=1.25, input_scaling=1.0, connectivity=0.1, input_connectivity=0.1, ridge=1e-7)
N_TRAIN, WASHOUT, N_GEN = 8000, 100, 500


def scaled(x):
    x = np.asarray(x, dtype=np.float64).reshape(-1, 1)
    return 2 * (x - x.min()) / (x.max() - x.min()) - 1


def scores(X, pred, gen):
    return {"nrmse_test": metrics.nrmse(X[N_TRAIN + 1:], pred),
            "nrmse_gen100": metrics.nrmse(X[N_TRAIN + 1:N_TRAIN + 101], gen[:100]),
            "nrmse_gen500": metrics.nrmse(X[N_TRAIN + 1:N_TRAIN + 1 + N_GEN], gen)}


def run_neurosim(X, units, seed, dtype="float64"):
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        esn = ESN(units, leak=P["leak"], spectral_radius=P["sr"], input_scaling=P["input_scaling"],
                  connectivity=P["connectivity"], input_connectivity=P["input_connectivity"],
                  ridge=P["ridge"], seed=seed, dtype=dtype)
    t1 = time.perf_counter()
    esn.fit(X[:N_TRAIN], X[1:N_TRAIN + 1], washout=WASHOUT)
    t2 = time.perf_counter()
    end_state = esn.state_.copy()
    pred = esn.predict(X[N_TRAIN:-1])
    t3 = time.perf_counter()
    esn.state_ = end_state
    gen = esn.generate(N_GEN, record={"index": [0]})["prediction"].values
    t4 = time.perf_counter()
    return {"init_s": t1 - t0, "fit_s": t2 - t1, "run_s": t3 - t2, "gen_s": t4 - t3, **scores(X, pred, gen)}, esn


def run_reservoirpy(X, units, seed):
    t0 = time.perf_counter()
    res = Reservoir(units, lr=P["leak"], sr=P["sr"], input_scaling=P["input_scaling"],
                    rc_connectivity=P["connectivity"], input_connectivity=P["input_connectivity"],
                    W=rpy_normal, Win=rpy_normal, bias=0.0, seed=seed)
    readout = Ridge(ridge=P["ridge"])
    model = res >> readout
    model.initialize(X[:N_TRAIN], X[1:N_TRAIN + 1])
    t1 = time.perf_counter()
    model.fit(X[:N_TRAIN], X[1:N_TRAIN + 1], warmup=WASHOUT)
    t2 = time.perf_counter()
    end_state = {k: np.array(v) for k, v in res.state.items()}
    pred = model.run(X[N_TRAIN:-1])
    t3 = time.perf_counter()
    res.state = end_state
    y = np.asarray(end_state["out"]) @ readout.Wout + readout.bias  # readout of the end state
    gen = np.empty((N_GEN, 1))
    for i in range(N_GEN):
        y = model.step(np.asarray(y).reshape(-1))
        gen[i] = y
    t4 = time.perf_counter()
    return {"init_s": t1 - t0, "fit_s": t2 - t1, "run_s": t3 - t2, "gen_s": t4 - t3, **scores(X, pred, gen)}


@njit(cache=True, fastmath=True)
def _stream(data, idx, passes):
    """Read the matrix values and indices once per pass (one SIMD sum: bandwidth-bound)."""
    acc = 0.0
    for _ in range(passes):
        for j in range(data.shape[0]):
            acc += data[j] + idx[j]
    return acc


@njit(cache=True, fastmath=True)
def _stream_dense(W, passes):
    acc = 0.0
    for _ in range(passes):
        for i in range(W.shape[0]):
            for j in range(W.shape[1]):
                acc += W[i, j]
    return acc


@njit(cache=True)
def _csr_matvec(indptr, indices, data, x, y, passes):
    """A bare CSR matvec per pass (one dependent sum per row), y = W x."""
    for _ in range(passes):
        for i in range(y.shape[0]):
            acc = 0.0
            for j in range(indptr[i], indptr[i + 1]):
                acc += data[j] * x[indices[j]]
            y[i] = acc
        x[0] += 1e-300 * y[0]


def floor_per_step(esn, passes=2000):
    """Seconds for one read of the matrix as the kernel stores it (values and column indices, or
    the dense array: the data every step must stream), the bytes read, and the seconds of one
    bare CSR matvec (int32 indices)."""
    mat = esn._kernel_args()[0]
    idx, data, dense = mat[5], mat[6], mat[7]
    if dense.size:
        _stream_dense(dense, 1)
        t = time.perf_counter()
        _stream_dense(dense, passes)
        stream, nbytes = (time.perf_counter() - t) / passes, dense.nbytes
    else:
        _stream(data, idx, 1)
        t = time.perf_counter()
        _stream(data, idx, passes)
        stream, nbytes = (time.perf_counter() - t) / passes, data.nbytes + idx.nbytes
    W = esn.W
    ip, ix = W.indptr.astype(np.int32), W.indices.astype(np.int32)
    x, y = np.ones(W.shape[0]), np.empty(W.shape[0])
    _csr_matvec(ip, ix, W.data, x, y, 1)
    p = max(10, passes // 4)
    t = time.perf_counter()
    _csr_matvec(ip, ix, W.data, x, y, p)
    return stream, nbytes, (time.perf_counter() - t) / p


def summary(xs):
    xs = np.asarray(xs, dtype=float)
    return {"median": float(np.median(xs)), "min": float(xs.min()), "max": float(xs.max())}


def workload(args):
    """The Mackey-Glass workload in detail (``--workload``): the JSON of the earlier script."""
    use_rpy = reservoirpy is not None and not args.neurosim_only

    X = scaled(rpy_mackey_glass(10000, tau=17)) if reservoirpy is not None else scaled(ts.mackey_glass(10000))
    X_own = scaled(ts.mackey_glass(10000))

    t = time.perf_counter()  # first call: compile (or load the cache) on a tiny problem
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for dtype in ("float64", "float32"):
            for layout in ("sparse", "dense"):
                tiny = ESN(20, seed=0, dtype=dtype, layout=layout).fit(X[:200], X[1:201], washout=10)
                tiny.predict(X[200:220])
                tiny.generate(5)
    compile_s = time.perf_counter() - t

    out = {"benchmark": "esn_mackey_glass", "series": "reservoirpy.mackey_glass" if reservoirpy else "neurosim",
           "threads": os.environ.get("NUMBA_NUM_THREADS"), "import_s": T_IMPORT, "compile_s": compile_s,
           "params": {**P, "n_train": N_TRAIN, "washout": WASHOUT, "n_gen": N_GEN},
           "reservoirpy_version": getattr(reservoirpy, "__version__", None), "results": []}
    for units in args.units:
        ns, ns32, rp, own = [], [], [], []
        floor = None
        for r in range(args.repeats):
            res, esn = run_neurosim(X, units, seed=r)
            ns.append(res)
            res32, esn32 = run_neurosim(X, units, seed=r, dtype="float32")
            ns32.append(res32)
            if floor is None:
                floor, floor_bytes, csr_step = floor_per_step(esn, passes=max(100, 2_000_000_000 // (12 * esn.W.nnz)))
            if use_rpy:
                rp.append(run_reservoirpy(X, units, seed=r))
            own.append(run_neurosim(X_own, units, seed=r)[0]["nrmse_test"])
        row = {"units": units, "nnz": int(esn.W.nnz)}
        for name, runs in (("neurosim", ns), ("neurosim_float32", ns32), ("reservoirpy", rp)):
            if not runs:
                continue
            row[name] = {k: summary([r[k] for r in runs]) for k in runs[0]}
            row[name]["us_per_train_step"] = summary([r["fit_s"] / N_TRAIN * 1e6 for r in runs])
        row["neurosim"]["nrmse_test_own_series"] = summary(own)
        step_us = row["neurosim"]["us_per_train_step"]["median"]
        row["floor_us_per_step"] = floor * 1e6
        row["floor_bytes_per_step"] = int(floor_bytes)
        row["floor_GB_per_s"] = floor_bytes / floor / 1e9
        row["ratio_to_floor"] = step_us / (floor * 1e6)
        row["bare_csr_matvec_us"] = csr_step * 1e6
        row["ratio_to_bare_csr_matvec"] = step_us / (csr_step * 1e6)
        row["neurosim_float32"]["layout"] = "dense" if esn32._kernel_args()[0][7].size else "sparse"
        row["speedup_float32_vs_float64"] = step_us / row["neurosim_float32"]["us_per_train_step"]["median"]
        init = row["neurosim"]["init_s"]["median"]
        fit = row["neurosim"]["fit_s"]["median"]
        row["neurosim"]["us_per_train_step_with_init"] = (init + fit) / N_TRAIN * 1e6
        if rp:
            rstep = row["reservoirpy"]["us_per_train_step"]["median"]
            row["speedup_train_step"] = rstep / step_us
            row["speedup_per_repeat"] = [b["fit_s"] / a["fit_s"] for a, b in zip(ns, rp)]
            row["speedup_run"] = row["reservoirpy"]["run_s"]["median"] / row["neurosim"]["run_s"]["median"]
            row["speedup_gen"] = row["reservoirpy"]["gen_s"]["median"] / row["neurosim"]["gen_s"]["median"]
            row["nrmse_test_ratio"] = (row["neurosim"]["nrmse_test"]["median"]
                                       / row["reservoirpy"]["nrmse_test"]["median"])
            row["speedup_train_step_float32"] = rstep / row["neurosim_float32"]["us_per_train_step"]["median"]
            row["speedup_per_repeat_float32"] = [b["fit_s"] / a["fit_s"] for a, b in zip(ns32, rp)]
            row["nrmse_test_ratio_float32"] = (row["neurosim_float32"]["nrmse_test"]["median"]
                                               / row["reservoirpy"]["nrmse_test"]["median"])
            row["goal_speedup"] = 5.0 if units <= 500 else 2.0
        out["results"].append(row)
    if not args.no_all_cores and not args.neurosim_only:
        env = {k: v for k, v in os.environ.items()
               if k not in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")}
        env.update({k: str(os.cpu_count()) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                                     "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")})
        proc = subprocess.run([sys.executable, __file__, "--workload", "--neurosim-only", "--repeats",
                               str(args.repeats), "--units", *map(str, args.units)],
                              env=env, capture_output=True, text=True)
        if proc.returncode == 0:
            extra = json.loads(proc.stdout)
            out["neurosim_all_cores"] = [{"units": r["units"], "threads": extra["threads"],
                                          "us_per_train_step": r["neurosim"]["us_per_train_step"]}
                                         for r in extra["results"]]
    return out


# --- the sweep ----------------------------------------------------------------------------------
N_TEST = 1999
NRMSE_TOL = 1e-3  # relative difference of the two NRMSEs on the same reservoir
TASKS = {
    "mackey_glass": dict(leak=0.3, sr=1.25, input_scaling=1.0, input_connectivity=0.1, ridge=1e-7),
    "multi": dict(leak=0.5, sr=0.9, input_scaling=1.0, input_connectivity=0.2, ridge=1e-6),
}


def task_data(task):
    """(inputs, targets) of a task, 10000 steps: (T, n_in), (T, n_out)."""
    if task == "mackey_glass":
        X = scaled(rpy_mackey_glass(10000, tau=17)) if reservoirpy is not None else scaled(ts.mackey_glass(10000))
        return X[:-1], X[1:]
    u = np.random.default_rng(0).uniform(0.0, 0.5, size=(10000, 8))
    y0 = np.empty(10001)
    _narma(np.append(u[:, 0], 0.0), 10, y0)      # y0[t + 1] from u0[..t]
    y1 = np.zeros(10000)
    y1[5:] = u[:-5, 1]
    y2 = np.zeros(10000)
    y2[2:] = u[2:, 2] * u[:-2, 3]
    return u, np.stack([y0[1:], y1, y2], axis=1)


def nrmse(target, pred):
    """Mean over outputs of RMSE / std(target)."""
    return float(np.mean([metrics.nrmse(target[:, k], pred[:, k]) for k in range(target.shape[1])]))


def make_esn(U, Y, units, conn, p, seed):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ESN(units, n_inputs=U.shape[1], n_outputs=Y.shape[1], leak=p["leak"], spectral_radius=p["sr"],
                   input_scaling=p["input_scaling"], connectivity=conn, input_connectivity=p["input_connectivity"],
                   ridge=p["ridge"], seed=seed)


def sweep_neurosim(U, Y, units, conn, p, seed):
    t0 = time.perf_counter()
    esn = make_esn(U, Y, units, conn, p, seed)
    t1 = time.perf_counter()
    esn.fit(U[:N_TRAIN], Y[:N_TRAIN], washout=WASHOUT)
    t2 = time.perf_counter()
    pred = esn.predict(U[N_TRAIN:N_TRAIN + N_TEST])
    t3 = time.perf_counter()
    return {"init_s": t1 - t0, "fit_s": t2 - t1, "predict_s": t3 - t2,
            "nrmse": nrmse(Y[N_TRAIN:N_TRAIN + N_TEST], pred)}, esn


def sweep_reservoirpy(U, Y, units, conn, p, seed, esn):
    """reservoirpy's construction timed with its own generators (weights and spectral radius);
    its fit and predict on neurosim's reservoir ``esn`` (W and Win given as reservoirpy would
    hold them: CSR where sparse, an array where dense), so that the two NRMSEs compare to the
    digit (equal up to rounding: summation orders, tanh, the ridge solve)."""
    t0 = time.perf_counter()
    own = Reservoir(units, lr=p["leak"], sr=p["sr"], input_scaling=p["input_scaling"], rc_connectivity=conn,
                    input_connectivity=p["input_connectivity"], W=rpy_normal, Win=rpy_normal, bias=0.0, seed=seed)
    own.initialize(U[:1])
    t1 = time.perf_counter()
    W = esn.W.toarray() if conn >= 1 else sp.csr_array(esn.W)
    Win = esn.Win if p["input_connectivity"] >= 1 else sp.csr_array(esn.Win)
    res = Reservoir(units, lr=p["leak"], W=W, Win=Win, bias=0.0)
    readout = Ridge(ridge=p["ridge"])
    model = res >> readout
    t2 = time.perf_counter()
    model.fit(U[:N_TRAIN], Y[:N_TRAIN], warmup=WASHOUT)
    t3 = time.perf_counter()
    pred = np.asarray(model.run(U[N_TRAIN:N_TRAIN + N_TEST])).reshape(N_TEST, -1)
    t4 = time.perf_counter()
    return {"init_s": t1 - t0, "fit_s": t3 - t2, "predict_s": t4 - t3,
            "nrmse": nrmse(Y[N_TRAIN:N_TRAIN + N_TEST], pred)}


def sweep_point(U, Y, units, conn, p, repeats, use_rpy):
    """One point of the sweep: both sides, ``repeats`` rounds, alternating which runs first
    (reservoirpy runs the round's neurosim reservoir, built untimed when it goes first)."""
    ns, rp = [], []
    for r in range(repeats):
        if not use_rpy or r % 2 == 0:
            a, esn = sweep_neurosim(U, Y, units, conn, p, r)
            if use_rpy:
                rp.append(sweep_reservoirpy(U, Y, units, conn, p, r, esn))
        else:
            rp.append(sweep_reservoirpy(U, Y, units, conn, p, r, make_esn(U, Y, units, conn, p, r)))
            a, _ = sweep_neurosim(U, Y, units, conn, p, r)
        ns.append(a)
    row = {"units": units, "connectivity": conn,
           "neurosim": {k: summary([x[k] for x in ns]) for k in ns[0]}}
    row["neurosim"]["us_per_train_step"] = summary([x["fit_s"] / N_TRAIN * 1e6 for x in ns])
    if rp:
        row["reservoirpy"] = {k: summary([x[k] for x in rp]) for k in rp[0]}
        per = [(b["fit_s"] + b["predict_s"]) / (a["fit_s"] + a["predict_s"]) for a, b in zip(ns, rp)]
        row["ratio_per_round"] = per
        row["ratio"] = float(np.median(per))
        row["ratio_fit"] = float(np.median([b["fit_s"] / a["fit_s"] for a, b in zip(ns, rp)]))
        row["ratio_predict"] = float(np.median([b["predict_s"] / a["predict_s"] for a, b in zip(ns, rp)]))
        row["ratio_with_init"] = float(np.median([sum(b[k] for k in ("init_s", "fit_s", "predict_s"))
                                                  / sum(a[k] for k in ("init_s", "fit_s", "predict_s"))
                                                  for a, b in zip(ns, rp)]))
        diff = max(abs(a["nrmse"] - b["nrmse"]) / b["nrmse"] for a, b in zip(ns, rp))
        row["nrmse_rel_diff"] = float(diff)
        row["nrmse_within_tol"] = bool(diff <= NRMSE_TOL)
    return row


FIRST_CALL = """
import os, sys, time
for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[v] = "1"
import warnings
warnings.simplefilter("ignore")
t0 = time.perf_counter()
import numpy as np
u = np.sin(np.arange(601) * 0.3)[:, None]
if sys.argv[1] == "neurosim":
    from neurosim.reservoir import ESN
    t1 = time.perf_counter()
    esn = ESN(100, seed=0).fit(u[:500], u[1:501], washout=10)
    esn.predict(u[500:600])
else:
    from reservoirpy.nodes import Reservoir, Ridge
    t1 = time.perf_counter()
    model = Reservoir(100, seed=0) >> Ridge(ridge=1e-7)
    model.fit(u[:500], u[1:501], warmup=10)
    model.run(u[500:600])
t2 = time.perf_counter()
print(t1 - t0, t2 - t1)
"""


def first_call(lib, cache_dir=None):
    """(import_s, first_s) of a fresh process: import, then construct + fit + predict (small)."""
    env = dict(os.environ)
    if cache_dir is not None:
        env["NUMBA_CACHE_DIR"] = cache_dir
    proc = subprocess.run([sys.executable, "-c", FIRST_CALL, lib], env=env, capture_output=True, text=True,
                          cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1:]}
    imp, first = map(float, proc.stdout.split()[-2:])
    return {"import_s": imp, "first_call_s": first}


def first_calls(repeats):
    """First-call timings, each in a fresh process: neurosim warm (after one run filled the
    cache), neurosim cold (an empty cache directory each time), reservoirpy."""
    import tempfile
    first_call("neurosim")  # fill the cache
    out = {"neurosim_warm": [first_call("neurosim") for _ in range(repeats)]}
    cold = []
    for _ in range(max(1, repeats // 2)):
        with tempfile.TemporaryDirectory() as d:
            cold.append(first_call("neurosim", d))
    out["neurosim_cold"] = cold
    if reservoirpy is not None:
        out["reservoirpy"] = [first_call("reservoirpy") for _ in range(repeats)]
    for k in list(out):
        runs = [r for r in out[k] if "error" not in r]
        if runs:
            out[k + "_median"] = {f: float(np.median([r[f] for r in runs])) for f in ("import_s", "first_call_s")}
    return out


def sweep(args):
    use_rpy = reservoirpy is not None and not args.neurosim_only
    with warnings.catch_warnings():  # compile (or load the cache) before timing
        warnings.simplefilter("ignore")
        ESN(20, seed=0).fit(np.zeros((50, 1)), np.zeros((50, 1))).predict(np.zeros((5, 1)))
    out = {"benchmark": "esn_sweep", "threads": os.environ.get("NUMBA_NUM_THREADS"),
           "reservoirpy_version": getattr(reservoirpy, "__version__", None), "nrmse_tol": NRMSE_TOL,
           "n_train": N_TRAIN, "washout": WASHOUT, "n_test": N_TEST, "tasks": {}}
    for task in args.tasks:
        U, Y = task_data(task)
        rows = []
        for conn in args.conn:
            for units in args.sizes:
                row = sweep_point(U, Y, units, conn, TASKS[task], args.repeats, use_rpy)
                rows.append(row)
                print(json.dumps({"task": task, "units": units, "connectivity": conn, "ratio": row.get("ratio"),
                                  "ratio_fit": row.get("ratio_fit"), "ratio_predict": row.get("ratio_predict"),
                                  "nrmse_rel_diff": row.get("nrmse_rel_diff")}),
                      file=sys.stderr, flush=True)
        out["tasks"][task] = {"params": TASKS[task], "n_inputs": U.shape[1], "n_outputs": Y.shape[1],
                              "results": rows}
    ratios = [r["ratio"] for t in out["tasks"].values() for r in t["results"] if "ratio" in r]
    if ratios:
        out["ratio_range"] = [float(min(ratios)), float(max(ratios))]
    if not args.no_first_call:
        out["first_call"] = first_calls(args.first_call_repeats)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workload", action="store_true", help="the Mackey-Glass workload in detail")
    ap.add_argument("--repeats", type=int, default=None, help="rounds per point (sweep 2, workload 3)")
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 300, 500, 1000, 2000])
    ap.add_argument("--conn", type=float, nargs="+", default=[0.1, 1.0])
    ap.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    ap.add_argument("--no-first-call", action="store_true")
    ap.add_argument("--first-call-repeats", type=int, default=3)
    ap.add_argument("--units", type=int, nargs="+", default=[500, 2000], help="workload sizes")
    ap.add_argument("--neurosim-only", action="store_true")
    ap.add_argument("--no-all-cores", action="store_true", help="workload: skip the all-cores neurosim line")
    args = ap.parse_args()
    if args.repeats is None:
        args.repeats = 3 if args.workload else 2
    print(json.dumps(workload(args) if args.workload else sweep(args), indent=1))


if __name__ == "__main__":
    main()
