"""SOM benchmark (WORKLOADS.md "SOM on digits"): neurosim's SOM against MiniSom in the same run.

20x20 map, input 64 (the bundled digits divided by 16, pixel values in [0, 1]), sigma 3.0,
learning rate 0.5, Gaussian neighbourhood, MiniSom's default asymptotic decay of both, PCA
initialisation, 20,000 random-order online updates. Figures: training time (initialisation
apart), quantisation and topographic error on the training set, each side measured by its own
code and by neurosim's code on both maps (same definitions). One thread; sides alternate.

The size sweep of issue 17 (``"sizes"``): square maps of 10, 20, 30 and 50 units a side with
sigma 0.15 x side (3.0 at 20x20), the rest as above; the ratio at each size and their range
(``ratio_range``). The 20x20 map's figures stay at the top level.

    python benchmarks/som.py [--repeats 5] [--sides 10 20 30 50]
"""
import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402

import numba  # noqa: E402
import numpy as np  # noqa: E402


def stats(times):
    t = np.asarray(times)
    return {"median": float(np.median(t)), "min": float(t.min()), "max": float(t.max()), "n": len(t)}


def one_size(side, X, repeats, iterations, MiniSom):
    """Training at one ``side`` x ``side`` map, the sides alternating: figures and the ratio."""
    from neurosim.som import SOM

    settings = dict(sigma=0.15 * side, learning_rate=0.5)
    out = {"side": side, "sigma": settings["sigma"]}
    res = {"neurosim": [], "minisom": []}
    err = {"neurosim": [], "minisom": []}
    for r in range(repeats):
        som = SOM(side, side, 64, **settings, neighbourhood="gaussian", decay="asymptotic", init="pca", seed=r)
        t_init = time.perf_counter()
        som.initialise(X, "pca")
        t_init = time.perf_counter() - t_init
        t0 = time.perf_counter()
        som.train(X, iterations=iterations, checkpoints=0)
        res["neurosim"].append(time.perf_counter() - t0)
        err["neurosim"].append({"qe": som.quantization_error(X), "te": som.topographic_error(X), "init_s": t_init})
        if MiniSom is not None:
            ms = MiniSom(side, side, 64, **settings, neighborhood_function="gaussian", random_seed=r)
            t_init = time.perf_counter()
            ms.pca_weights_init(X)
            t_init = time.perf_counter() - t_init
            t0 = time.perf_counter()
            ms.train(X, iterations, random_order=True)
            res["minisom"].append(time.perf_counter() - t0)
            probe = SOM(side, side, 64)
            probe.W = np.ascontiguousarray(ms.get_weights().reshape(side * side, 64))
            err["minisom"].append({"qe": float(ms.quantization_error(X)), "te": float(ms.topographic_error(X)),
                                   "qe_by_neurosim": probe.quantization_error(X),
                                   "te_by_neurosim": probe.topographic_error(X), "init_s": t_init})
    for who in ("neurosim", "minisom"):
        if res[who]:
            e = err[who]
            out[who] = {"train_s": stats(res[who]),
                         "quantization_error": float(np.mean([x["qe"] for x in e])),
                         "topographic_error": float(np.mean([x["te"] for x in e])),
                         "init_s": float(np.median([x["init_s"] for x in e]))}
            if who == "minisom":
                out[who]["quantization_error_by_neurosim"] = float(np.mean([x["qe_by_neurosim"] for x in e]))
                out[who]["topographic_error_by_neurosim"] = float(np.mean([x["te_by_neurosim"] for x in e]))
    if res["minisom"]:
        out["ratio_minisom_over_neurosim_time"] = (out["minisom"]["train_s"]["median"]
                                                   / out["neurosim"]["train_s"]["median"])
        out["ratio_neurosim_over_minisom_qe"] = (out["neurosim"]["quantization_error"]
                                                 / out["minisom"]["quantization_error"])
        per = np.asarray(res["minisom"]) / np.asarray(res["neurosim"])  # each pair back to back
        out["ratio_per_repeat"] = {"min": float(per.min()), "max": float(per.max())}
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--iterations", type=int, default=20_000)
    ap.add_argument("--sides", type=int, nargs="+", default=[10, 20, 30, 50], help="map sides swept")
    args = ap.parse_args()
    numba.set_num_threads(1)
    t0 = time.perf_counter()
    from neurosim.datasets import digits
    from neurosim.som import SOM
    out = {"workload": "WORKLOADS.md SOM on digits (data / 16)", "repeats": args.repeats,
           "iterations": args.iterations, "threads": 1, "import_s": {"neurosim": time.perf_counter() - t0}}
    try:
        t0 = time.perf_counter()
        from minisom import MiniSom
        out["import_s"]["minisom"] = time.perf_counter() - t0
    except ImportError:
        MiniSom = None
    X = digits()[0] / 16.0
    settings = dict(sigma=3.0, learning_rate=0.5)

    t0 = time.perf_counter()
    SOM(20, 20, 64, **settings, seed=0).train(X[:100], iterations=100, checkpoints=1)
    SOM(20, 20, 64, **settings, seed=0).train(X[:100], mode="batch", epochs=1, checkpoints=0)
    out["first_call_s"] = {"neurosim": time.perf_counter() - t0}
    out["sizes"] = [one_size(side, X, args.repeats, args.iterations, MiniSom) for side in args.sides]
    for point in out["sizes"]:
        if point["side"] == 20:  # the workload's figures at the top level
            out.update({k: v for k, v in point.items() if k not in ("side", "sigma")})
    sp = [p["ratio_minisom_over_neurosim_time"] for p in out["sizes"] if "ratio_minisom_over_neurosim_time" in p]
    if sp:
        out["ratio_range"] = {"min": min(sp), "max": max(sp)}

    # extra lines: the batch algorithm (20 epochs), and all cores (online training is serial;
    # only the error measures run in parallel)
    som = SOM(20, 20, 64, **settings, seed=0)
    som.initialise(X, "pca")
    t0 = time.perf_counter()
    som.train(X, mode="batch", epochs=20, checkpoints=0)
    out["neurosim_batch_20_epochs"] = {"train_s": time.perf_counter() - t0,
                                       "quantization_error": som.quantization_error(X),
                                       "topographic_error": som.topographic_error(X)}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
