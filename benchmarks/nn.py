"""MLP and CNN on digits beside PyTorch (WORKLOADS.md "Gradient families", issue 7 section 5).

Digits (8x8, 1797 images) divided by 16; the first 1500 train, the last 297 test. MLP
64-128-10 with ReLU; CNN conv 3x3x16 (pad 1), ReLU, max-pool 2, conv 3x3x32 (pad 1), ReLU,
max-pool 2, dense 10. Both sides: He-uniform weights (``U(+-sqrt(6/fan_in))``, the ReLU
scheme) and zero biases, softmax
cross-entropy, Adam (lr 1e-3, betas 0.9/0.999, eps 1e-8), batch 32, rows reshuffled every
epoch, 20 epochs, float32, one thread. neurosim runs ``Sequential.fit`` (its history Dataset
included), PyTorch a plain training loop over ``DataLoader``-free index batches.

Figures: train time (median, min, max over repeats, alternating the two sides; neurosim's
first-call compilation reported apart), test accuracy (mean and per seed over the repeats,
seeds 0..: on 297 test images one image is 0.34%, so single runs differ by noise), and the
ratio PyTorch time / neurosim time. Prints one JSON object.

    python benchmarks/nn.py [--repeats 10] [--dtype float32]
"""
import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from neurosim.datasets import digits_split  # noqa: E402
from neurosim.deep.mlp import mlp  # noqa: E402
from neurosim.nn.layers import Conv2D, Dense, Flatten, MaxPool2D, Sequential  # noqa: E402

EPOCHS, BATCH, LR = 20, 32, 1e-3


def summary(times):
    t = np.asarray(times)
    return {"median": float(np.median(t)), "min": float(t.min()), "max": float(t.max())}


def data(kind):
    Xtr, Xte, ytr, yte = digits_split()
    if kind == "cnn":
        Xtr, Xte = Xtr.reshape(-1, 1, 8, 8), Xte.reshape(-1, 1, 8, 8)
    return Xtr, Xte, ytr, yte


def ours(kind, seed, dtype, epochs=EPOCHS):
    Xtr, Xte, ytr, yte = data(kind)
    if kind == "mlp":
        model = mlp((64, 128, 10), "relu", init="he_uniform", seed=seed, dtype=dtype)
    else:
        model = Sequential(Conv2D(16, 3, padding=1, activation="relu", init="he_uniform"),
                           MaxPool2D(2),
                           Conv2D(32, 3, padding=1, activation="relu", init="he_uniform"),
                           MaxPool2D(2), Flatten(), Dense(10, init="he_uniform"),
                           input_shape=(1, 8, 8), seed=seed, dtype=dtype)
    t0 = time.perf_counter()
    model.fit(Xtr, ytr, epochs=epochs, batch_size=BATCH, lr=LR, seed=seed)
    elapsed = time.perf_counter() - t0
    return elapsed, float(np.mean(model.predict(Xte).argmax(axis=1) == yte))


def torch_side(kind, seed):
    import torch
    from torch import nn

    torch.set_num_threads(1)
    torch.manual_seed(seed)
    Xtr, Xte, ytr, yte = data(kind)
    Xtr, Xte = torch.tensor(Xtr, dtype=torch.float32), torch.tensor(Xte, dtype=torch.float32)
    ytr = torch.tensor(ytr)
    if kind == "mlp":
        model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    else:
        model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Flatten(), nn.Linear(32 * 2 * 2, 10))
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            nn.init.kaiming_uniform_(m.weight, nonlinearity="relu")
            nn.init.zeros_(m.bias)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    loss_fn = nn.CrossEntropyLoss()
    n = len(Xtr)
    t0 = time.perf_counter()
    for _ in range(EPOCHS):
        order = torch.randperm(n)
        for k in range(0, n, BATCH):
            idx = order[k:k + BATCH]
            opt.zero_grad()
            loss = loss_fn(model(Xtr[idx]), ytr[idx])
            loss.backward()
            opt.step()
    elapsed = time.perf_counter() - t0
    with torch.no_grad():
        acc = float((model(Xte).argmax(1).numpy() == yte).mean())
    return elapsed, acc


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    args = p.parse_args()
    try:
        import torch  # noqa: F401
        have_torch = True
    except ImportError:
        have_torch = False
    out = {"machine": platform.processor() or platform.machine(), "threads": 1,
           "dtype": args.dtype, "epochs": EPOCHS, "batch_size": BATCH}
    for kind in ("mlp", "cnn"):
        t0 = time.perf_counter()
        ours(kind, 0, args.dtype, epochs=1)   # compiles (or loads cached) kernels
        res = {"first_call_s": time.perf_counter() - t0}
        ns_t, ns_a, pt_t, pt_a = [], [], [], []
        for r in range(args.repeats):
            t, a = ours(kind, r, args.dtype)
            ns_t.append(t)
            ns_a.append(a)
            if have_torch:
                t, a = torch_side(kind, r)
                pt_t.append(t)
                pt_a.append(a)
        res["neurosim_s"] = summary(ns_t)
        res["neurosim_test_accuracy"] = {"mean": float(np.mean(ns_a)), "per_seed": ns_a}
        if have_torch:
            res["pytorch_s"] = summary(pt_t)
            res["pytorch_test_accuracy"] = {"mean": float(np.mean(pt_a)), "per_seed": pt_a}
            res["speedup_vs_pytorch"] = res["pytorch_s"]["median"] / res["neurosim_s"]["median"]
        out[kind] = res
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
