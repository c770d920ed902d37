"""Autoencoder and VAE on digits beside PyTorch (WORKLOADS.md "Gradient families").

Digits (8x8, 1797 images) divided by 16; the first 1500 train, the last 297 test. AE
64-32-8-32-64: ReLU hidden layers, a linear code, sigmoid output, binary cross-entropy per
pixel. VAE 64-128-(2x8)-128-64: a ReLU hidden layer, mean and log-variance heads of 8, one
reparameterised sample per image, a ReLU hidden layer, Bernoulli output; negative ELBO per
image. Both sides: Glorot-uniform weights and zero biases, the sigmoid fused into the
cross-entropy (PyTorch's ``BCEWithLogitsLoss``), Adam (lr 1e-3), batch 32, rows reshuffled
every epoch, 50 epochs, float32, one thread. neurosim runs ``fit`` (its history Dataset
included), PyTorch a plain training loop over index batches.

Quality is measured by one evaluator for both sides: PyTorch's trained weights are copied into
a neurosim model of the same shape, then the test BCE per pixel (AE) and the test ELBO in nats
per image (VAE, 10 samples of ``z`` per image, seed 0) are computed alike.

Figures: train time (median, min, max over repeats, the sides alternating; neurosim's first
call, which compiles or loads cached kernels, reported apart), test quality per seed and mean,
and the ratio PyTorch time / neurosim time. Prints one JSON object.

    python benchmarks/autoencoder.py [--repeats 5] [--dtype float32]
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
from neurosim.deep import Autoencoder, VariationalAutoencoder  # noqa: E402

EPOCHS, BATCH, LR = 50, 32, 1e-3
SIZES = {"ae": (64, 32, 8, 32, 64), "vae": (64, 128, 8, 128, 64)}


def summary(times):
    t = np.asarray(times)
    return {"median": float(np.median(t)), "min": float(t.min()), "max": float(t.max())}


def model(kind, seed, dtype):
    cls = Autoencoder if kind == "ae" else VariationalAutoencoder
    return cls(SIZES[kind], "relu", seed=seed, dtype=dtype)


def quality(kind, m, Xte):
    """Test BCE per pixel (AE) or test ELBO in nats per image (VAE)."""
    return m.evaluate(Xte) if kind == "ae" else float(m.elbo(Xte, samples=10, seed=0).mean())


def ours(kind, seed, dtype, epochs=EPOCHS):
    Xtr, Xte, _, _ = digits_split()
    m = model(kind, seed, dtype)
    t0 = time.perf_counter()
    m.fit(Xtr, epochs=epochs, batch_size=BATCH, lr=LR, seed=seed)
    elapsed = time.perf_counter() - t0
    return elapsed, quality(kind, m, Xte)


def torch_side(kind, seed, dtype):
    import torch
    from torch import nn

    torch.set_num_threads(1)
    torch.manual_seed(seed)
    Xtr, Xte, _, _ = digits_split()
    X = torch.tensor(Xtr, dtype=torch.float32)
    if kind == "ae":
        encoder = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 8))
        heads = []
        decoder = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 64))
    else:
        encoder = nn.Sequential(nn.Linear(64, 128), nn.ReLU())
        heads = [nn.Linear(128, 8), nn.Linear(128, 8)]
        decoder = nn.Sequential(nn.Linear(8, 128), nn.ReLU(), nn.Linear(128, 64))
    linears = [m for part in (encoder, *heads, decoder) for m in part.modules()
               if isinstance(m, nn.Linear)]
    for lin in linears:
        nn.init.xavier_uniform_(lin.weight)
        nn.init.zeros_(lin.bias)
    opt = torch.optim.Adam([p for lin in linears for p in lin.parameters()], lr=LR)
    bce = nn.BCEWithLogitsLoss(reduction="sum")
    n = len(X)
    t0 = time.perf_counter()
    for _ in range(EPOCHS):
        order = torch.randperm(n)
        for k in range(0, n, BATCH):
            x = X[order[k:k + BATCH]]
            opt.zero_grad()
            if kind == "ae":
                loss = bce(decoder(encoder(x)), x) / x.numel()
            else:
                h = encoder(x)
                mean, log_var = heads[0](h), heads[1](h)
                z = mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)
                kl = 0.5 * (log_var.exp() + mean ** 2 - 1 - log_var).sum()
                loss = (bce(decoder(z), x) + kl) / len(x)
            loss.backward()
            opt.step()
    elapsed = time.perf_counter() - t0
    twin = model(kind, seed, dtype)       # PyTorch's weights, neurosim's evaluator
    values = [v for lin in linears for v in (lin.weight.detach().numpy().T, lin.bias.detach())]
    for (_, p), value in zip(twin.parameters(), values):
        p.data[...] = np.asarray(value)
    return elapsed, quality(kind, twin, Xte)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    args = p.parse_args()
    try:
        import torch  # noqa: F401
        have_torch = True
    except ImportError:
        have_torch = False
    out = {"machine": platform.processor() or platform.machine(), "threads": 1,
           "dtype": args.dtype, "epochs": EPOCHS, "batch_size": BATCH}
    measure = {"ae": "test_bce_per_pixel", "vae": "test_elbo_nats_per_image"}
    for kind in ("ae", "vae"):
        t0 = time.perf_counter()
        ours(kind, 0, args.dtype, epochs=1)   # compiles (or loads cached) kernels
        res = {"first_call_s": time.perf_counter() - t0}
        ns_t, ns_q, pt_t, pt_q = [], [], [], []
        for r in range(args.repeats):
            sides = [(ours, ns_t, ns_q)] + ([(torch_side, pt_t, pt_q)] if have_torch else [])
            for run, times, scores in (sides if r % 2 == 0 else sides[::-1]):
                t, q = run(kind, r, args.dtype)
                times.append(t)
                scores.append(q)
        res["neurosim_s"] = summary(ns_t)
        res[f"neurosim_{measure[kind]}"] = {"mean": float(np.mean(ns_q)), "per_seed": ns_q}
        if have_torch:
            res["pytorch_s"] = summary(pt_t)
            res[f"pytorch_{measure[kind]}"] = {"mean": float(np.mean(pt_q)), "per_seed": pt_q}
            res["speedup_vs_pytorch"] = res["pytorch_s"]["median"] / res["neurosim_s"]["median"]
        out[kind] = res
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
