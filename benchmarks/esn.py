"""ESN on Mackey-Glass, beside reservoirpy (WORKLOADS.md, "ESN on Mackey-Glass").

Series: reservoirpy's ``mackey_glass(10000, tau=17)`` (when installed, else neurosim's), rescaled
to [-1, 1]. One-step-ahead: train X[0:8000] -> X[1:8001] discarding 100 states, test
X[8000:9999] -> X[8001:10000] from the training end state; closed loop 500 steps from the
training end state (NRMSE over the first 100 and all 500). Reservoir 500 and 2000 units, leak
0.3, spectral radius 1.25, input scaling 1, connectivities 0.1, no bias, tanh, normal weights,
ridge 1e-7. One thread for both sides; neurosim float64 (default), neurosim float32
(``ESN(dtype="float32")``) and reservoirpy alternate within each repeat, same seeds.

The floor: a pass that only reads the reservoir matrix (values and column indices, in the
kernel's layout) once per step; also a bare CSR matvec loop (the sparse product alone, no
input, activation or readout). Initialisation (drawing W, its spectral radius) is reported
apart from the fit. Prints JSON.

    python benchmarks/esn.py [--repeats 3] [--units 500 2000] [--quick]
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

T_IMPORT = time.perf_counter()
try:
    import neurosim  # noqa: E402,F401
except ImportError:  # a checkout that is not pip-installed: use the repository next to this file
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import neurosim  # noqa: E402,F401
from neurosim import metrics  # noqa: E402
from neurosim.datasets import timeseries as ts  # noqa: E402
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


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--units", type=int, nargs="+", default=[500, 2000])
    ap.add_argument("--neurosim-only", action="store_true")
    ap.add_argument("--no-all-cores", action="store_true", help="skip the extra all-cores neurosim line")
    args = ap.parse_args()
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
        proc = subprocess.run([sys.executable, __file__, "--neurosim-only", "--repeats", str(args.repeats),
                               "--units", *map(str, args.units)], env=env, capture_output=True, text=True)
        if proc.returncode == 0:
            extra = json.loads(proc.stdout)
            out["neurosim_all_cores"] = [{"units": r["units"], "threads": extra["threads"],
                                          "us_per_train_step": r["neurosim"]["us_per_train_step"]}
                                         for r in extra["results"]]
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
