"""Sweep overhead benchmark (issue 8 section 5): what a sweep costs per point beyond the work.

Trivial points (``{"y": x + seed}``, microseconds of work) on a ``LocalCluster`` of 2 worker
processes with one thread each, the same cluster for every method, alternating in one run:
- ``neurosim.sweeps.sweep`` unbatched (``batch=1``: one Dask task per point);
- ``neurosim.sweeps.sweep`` batched automatically (``batch=None``) and with ``batch=100``;
- ``neurosim.sweeps.sweep`` batched with a ``store`` (one netCDF file per point written as it comes back);
- the peer: Dask alone, ``client.map`` over the points plus ``client.gather`` (one task each,
  no Dataset, no store): Dask's own per-task overhead.
Each figure is the wall time per point (ms) over all points, median and min-max over repeats;
the cluster's start-up and the first small sweep (the workers import neurosim) are reported apart. Ratios are against Dask's ``client.map``.

Prints one JSON object. Usage: ``python benchmarks/sweep.py [--points 1000] [--repeats 3] [--quick]``.
"""
import argparse
import json
import logging
import os
import platform
import shutil
import tempfile
import time


def trivial(x, seed):
    """A point with (almost) no work."""
    return {"y": float(x + seed)}


def trivial_pair(args):
    x, seed = args
    return trivial(x, seed)


def stats(times, n):
    per = sorted(1e3 * t / n for t in times)
    return {"ms_per_point_median": round(per[len(per) // 2], 4), "ms_per_point_min": round(per[0], 4),
            "ms_per_point_max": round(per[-1], 4), "points": n, "repeats": len(times)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=1000, help="points per sweep (default 1000)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="200 points, one repeat")
    args = ap.parse_args(argv)
    n = 200 if args.quick else args.points
    repeats = 1 if args.quick else args.repeats
    n_x = max(1, n // 2)
    n = 2 * n_x

    import dask
    import distributed

    from neurosim.sweeps import sweep

    t0 = time.perf_counter()
    cluster = distributed.LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=logging.CRITICAL)
    client = distributed.Client(cluster)
    client.submit(trivial, 0, 0).result()
    startup = time.perf_counter() - t0
    t0 = time.perf_counter()
    sweep(trivial, {"x": [0, 1, 2, 3]}, seeds=1, client=client, batch=1, progress=False)  # workers import neurosim
    warmup = time.perf_counter() - t0

    grid = {"x": list(range(n_x))}
    scratch = tempfile.mkdtemp(prefix="neurosim-sweep-bench-")
    methods = {
        "sweep_unbatched": lambda r: sweep(trivial, grid, seeds=2, client=client, batch=1, progress=False),
        "sweep_auto_batch": lambda r: sweep(trivial, grid, seeds=2, client=client, progress=False),
        "sweep_batch_100": lambda r: sweep(trivial, grid, seeds=2, client=client, batch=100, progress=False),
        "sweep_auto_batch_store": lambda r: sweep(trivial, grid, seeds=2, client=client, progress=False,
                                                  store=os.path.join(scratch, f"store{r}")),
        "dask_client_map": lambda r: client.gather(client.map(trivial_pair, [(x, s) for x in range(n_x)
                                                                              for s in range(2)], pure=False)),
    }
    times = {k: [] for k in methods}
    check = {}
    try:
        for r in range(repeats):
            for name, run in methods.items():
                t = time.perf_counter()
                out = run(r)
                times[name].append(time.perf_counter() - t)
                if name.startswith("sweep"):
                    check[name] = float(out.y.sum()) == float(sum(x + s for x in range(n_x) for s in range(2)))
        t = time.perf_counter()
        for x in range(n_x):
            for s in range(2):
                trivial(x, s)
        serial = time.perf_counter() - t
    finally:
        client.close()
        cluster.close()
        shutil.rmtree(scratch, ignore_errors=True)

    results = {k: stats(v, n) for k, v in times.items()}
    peer = results["dask_client_map"]["ms_per_point_median"]
    for k, v in results.items():
        v["ratio_to_dask_map"] = round(v["ms_per_point_median"] / peer, 3)
    print(json.dumps({
        "benchmark": "sweep overhead per point (trivial points)",
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "dask": dask.__version__,
                    "distributed": distributed.__version__},
        "cluster": {"workers": args.workers, "threads_per_worker": 1, "startup_s": round(startup, 2),
                    "first_sweep_s": round(warmup, 2)},
        "serial_python_ms_per_point": round(1e3 * serial / n, 5),
        "results": results,
        "results_correct": all(check.values()),
    }, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
