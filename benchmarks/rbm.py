"""RBM on digits benchmark (WORKLOADS.md "RBM on digits", issue 3 section 6).

Digits (8x8, 1797 images) divided by 16; the first 1500 train, the last 297 test, no shuffling.
Bernoulli RBM with 256 hidden units, learning rate 0.05, batch 10, 20 epochs, seed 0, trained
the way scikit-learn's ``BernoulliRBM`` trains (persistent CD with one Gibbs step, no momentum,
no weight decay, batches in data order): neurosim ``RBM.fit(..., method="pcd", k=1,
momentum=0, shuffle=False, monitor=0)`` (``monitor=0``: no per-epoch metrics, as scikit-learn's
``verbose=0``) beside ``sklearn.neural_network.BernoulliRBM`` where installed, alternating, one
thread each.

Figures: fit time (median, min, max over repeats; compilation apart), mean test
pseudo-log-likelihood by scikit-learn's ``score_samples`` definition (one random unit flipped
per image, times 64; the same random units for both models), and the exact mean over all 64
units (``RBM.pseudo_likelihood``, the expectation of the former), and the ratios.

Issue 17: the same fit swept over 16, 64, 256 and 1024 hidden units (``--hidden``), the ratio
and the pseudo-likelihoods at each point (``"points"``; the 256-unit point is the workload's).

Prints one JSON object. ``python benchmarks/rbm.py [--repeats 3] [--hidden 16 64 256 1024]``
"""
import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from neurosim.datasets import digits  # noqa: E402
from neurosim.energy.rbm import RBM  # noqa: E402

SETTINGS = dict(n_hidden=256, learning_rate=0.05, batch_size=10, epochs=20, seed=0)


def summary(times):
    t = np.asarray(times)
    return {"median": float(np.median(t)), "min": float(t.min()), "max": float(t.max())}


def sklearn_style_pl(rbm, X, seed=0):
    """scikit-learn's score_samples: flip one random unit per row, n_visible * log sigmoid(dF)."""
    g = np.random.RandomState(seed)
    idx = (np.arange(X.shape[0]), g.randint(0, X.shape[1], X.shape[0]))
    Xc = X.copy()
    Xc[idx] = 1 - Xc[idx]
    return float(np.mean(-X.shape[1] * np.logaddexp(0, -(rbm.free_energy(Xc) - rbm.free_energy(X)))))


def as_neurosim(sk):
    r = RBM(sk.components_.shape[1], sk.components_.shape[0], init_scale=0.0, seed=0)
    r.W = np.ascontiguousarray(sk.components_.T)
    r.visible_bias = np.ascontiguousarray(sk.intercept_visible_)
    r.hidden_bias = np.ascontiguousarray(sk.intercept_hidden_)
    return r


def fit_ours(n_hidden):
    X, _ = digits()
    X = X / 16.0
    r = RBM(64, n_hidden, seed=SETTINGS["seed"])
    t0 = time.perf_counter()
    r.fit(X[:1500], SETTINGS["epochs"], batch_size=SETTINGS["batch_size"], learning_rate=SETTINGS["learning_rate"],
          method="pcd", k=1, momentum=0.0, shuffle=False, monitor=0)
    return time.perf_counter() - t0, r


def fit_sklearn(n_hidden):
    from sklearn.neural_network import BernoulliRBM
    X, _ = digits()
    X = X / 16.0
    sk = BernoulliRBM(n_components=n_hidden, learning_rate=SETTINGS["learning_rate"],
                      batch_size=SETTINGS["batch_size"], n_iter=SETTINGS["epochs"], random_state=SETTINGS["seed"])
    t0 = time.perf_counter()
    sk.fit(X[:1500])
    return time.perf_counter() - t0, sk


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--hidden", type=int, nargs="+", default=[16, 64, 256, 1024], help="hidden units swept")
    args = p.parse_args()
    X, _ = digits()
    test = X[1500:] / 16.0

    t0 = time.perf_counter()
    RBM(64, 8, seed=0).fit(X[:30] / 16.0, 1, method="pcd", monitor=0)
    RBM(64, 8, seed=0).pseudo_likelihood(test[:2])
    compile_s = time.perf_counter() - t0
    try:
        import sklearn
        sk_version = sklearn.__version__
    except ImportError:
        sk_version = None

    out = {"benchmark": "RBM on digits", "machine": platform.processor() or platform.machine(),
           "cpu_count": os.cpu_count(), "threads": 1, "settings": SETTINGS, "sklearn": sk_version,
           "compile_s": compile_s, "points": []}
    for n_hidden in args.hidden:
        ours_t, sk_t = [], []
        ours = sk = None
        for _ in range(args.repeats):  # the sides alternate
            t, ours = fit_ours(n_hidden)
            ours_t.append(t)
            if sk_version:
                t, sk = fit_sklearn(n_hidden)
                sk_t.append(t)
        point = {"n_hidden": n_hidden,
                 "neurosim": {"fit_s": summary(ours_t),
                              "test_pl_sklearn_definition": sklearn_style_pl(ours, test),
                              "test_pl_exact": float(np.mean(ours.pseudo_likelihood(test)))}}
        if sk is not None:
            twin = as_neurosim(sk)
            point["sklearn_BernoulliRBM"] = {"fit_s": summary(sk_t),
                                             "test_pl_score_samples": float(np.mean(sk.score_samples(test))),
                                             "test_pl_sklearn_definition": sklearn_style_pl(twin, test),
                                             "test_pl_exact": float(np.mean(twin.pseudo_likelihood(test)))}
            point["speedup_vs_sklearn"] = point["sklearn_BernoulliRBM"]["fit_s"]["median"] / \
                point["neurosim"]["fit_s"]["median"]
            # per repeat (each pair ran back to back): the range of the ratio
            per = np.asarray(sk_t) / np.asarray(ours_t)
            point["speedup_per_repeat"] = {"min": float(per.min()), "max": float(per.max())}
            point["exact_pl_difference"] = point["neurosim"]["test_pl_exact"] - \
                point["sklearn_BernoulliRBM"]["test_pl_exact"]
        out["points"].append(point)
        if n_hidden == SETTINGS["n_hidden"]:  # the workload's figures, where they were
            out.update({k: point[k] for k in ("neurosim", "sklearn_BernoulliRBM", "speedup_vs_sklearn",
                                              "exact_pl_difference") if k in point})
    if sk_version:
        sp = [p["speedup_vs_sklearn"] for p in out["points"]]
        out["speedup_range"] = {"min": min(sp), "max": max(sp)}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
