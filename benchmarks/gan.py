"""GAN on digits beside PyTorch: time per epoch of the same model and algorithm.

Digits (8x8) divided by 16; the first 1500 train. Generator: noise 16 -> 128 ReLU -> 64
sigmoid; discriminator: 64 -> 128 leaky ReLU (slope 0.01) -> 1 logit; He-uniform hidden and
Glorot-uniform output weights, zero biases. Per batch of 64 real digits: one discriminator
Adam step on the binary cross-entropy of the real and generated rows (one pass over both),
then one generator Adam step on the non-saturating loss; Adam lr 2e-4, betas (0.5, 0.999);
float32, one thread. neurosim runs ``GAN.fit`` (its history Dataset included), PyTorch the
same loop written out.

Quality, measured alike on both sides: the mean over the last epoch of D(x) and D(G(z)), and
the mean squared pixel distance from 500 samples to their nearest training digit (the test
digits' own: about 0.023).

Figures: seconds per epoch (median, min, max over repeats of ``--epochs`` epochs each, the
sides alternating; neurosim's first call, which compiles or loads cached kernels, reported
apart) and the ratio PyTorch time / neurosim time. Prints one JSON object.

    python benchmarks/gan.py [--repeats 5] [--epochs 20]
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
from neurosim.deep import dense_gan  # noqa: E402

LATENT, HIDDEN, BATCH, LR, BETAS = 16, 128, 64, 2e-4, (0.5, 0.999)


def summary(times):
    t = np.asarray(times)
    return {"median": float(np.median(t)), "min": float(t.min()), "max": float(t.max())}


def nearest_distance(samples, reference):
    d = (samples ** 2).sum(1)[:, None] - 2 * samples @ reference.T + (reference ** 2).sum(1)
    return float(np.maximum(d.min(axis=1), 0.0).mean() / samples.shape[1])


def ours(seed, epochs):
    Xtr = digits_split()[0]
    gan = dense_gan(64, LATENT, (HIDDEN,), seed=seed, dtype=np.float32)
    t0 = time.perf_counter()
    h = gan.fit(Xtr, epochs=epochs, batch_size=BATCH, lr=LR, betas=BETAS, seed=seed)
    elapsed = time.perf_counter() - t0
    samples = gan.sample(500, seed=seed)[0].astype(np.float64)
    return elapsed / epochs, {"d_real": float(h.epoch_d_real[-1]),
                              "d_fake": float(h.epoch_d_fake[-1]),
                              "nearest_distance": nearest_distance(samples, Xtr)}


def torch_side(seed, epochs):
    import torch
    from torch import nn

    torch.set_num_threads(1)
    torch.manual_seed(seed)
    Xtr = digits_split()[0]
    X = torch.tensor(Xtr, dtype=torch.float32)
    G = nn.Sequential(nn.Linear(LATENT, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, 64), nn.Sigmoid())
    D = nn.Sequential(nn.Linear(64, HIDDEN), nn.LeakyReLU(0.01), nn.Linear(HIDDEN, 1))
    for net in (G, D):
        hidden, last = [m for m in net if isinstance(m, nn.Linear)]
        nn.init.kaiming_uniform_(hidden.weight, nonlinearity="relu")
        nn.init.xavier_uniform_(last.weight)
        for lin in (hidden, last):
            nn.init.zeros_(lin.bias)
    opt_d = torch.optim.Adam(D.parameters(), lr=LR, betas=BETAS)
    opt_g = torch.optim.Adam(G.parameters(), lr=LR, betas=BETAS)
    bce = nn.BCEWithLogitsLoss()
    n = len(X)
    t0 = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(n)
        beliefs = []
        for k in range(0, n, BATCH):
            real = X[order[k:k + BATCH]]
            m = len(real)
            with torch.no_grad():
                fake = G(torch.randn(m, LATENT))
            targets = torch.cat([torch.ones(m, 1), torch.zeros(m, 1)])
            opt_d.zero_grad()
            logits = D(torch.cat([real, fake]))
            (2 * bce(logits, targets)).backward()
            opt_d.step()
            belief = torch.sigmoid(logits.detach())
            beliefs.append((belief[:m].mean().item(), belief[m:].mean().item()))
            opt_g.zero_grad()
            generated = D(G(torch.randn(m, LATENT)))
            bce(generated, torch.ones(m, 1)).backward()
            opt_g.step()
    elapsed = time.perf_counter() - t0
    with torch.no_grad():
        samples = G(torch.randn(500, LATENT)).double().numpy()
    d_real, d_fake = np.mean(beliefs, axis=0)
    return elapsed / epochs, {"d_real": float(d_real), "d_fake": float(d_fake),
                              "nearest_distance": nearest_distance(samples, Xtr)}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--epochs", type=int, default=20)
    args = p.parse_args()
    try:
        import torch  # noqa: F401
        have_torch = True
    except ImportError:
        have_torch = False
    t0 = time.perf_counter()
    ours(0, 1)                               # compiles (or loads cached) kernels
    out = {"machine": platform.processor() or platform.machine(), "threads": 1,
           "dtype": "float32", "batch_size": BATCH, "epochs_per_repeat": args.epochs,
           "first_call_s": time.perf_counter() - t0}
    ns_t, ns_q, pt_t, pt_q = [], [], [], []
    for r in range(args.repeats):
        sides = [(ours, ns_t, ns_q)] + ([(torch_side, pt_t, pt_q)] if have_torch else [])
        for run, times, scores in (sides if r % 2 == 0 else sides[::-1]):
            t, q = run(r, args.epochs)
            times.append(t)
            scores.append(q)
    out["neurosim_s_per_epoch"] = summary(ns_t)
    out["neurosim_quality"] = {k: float(np.mean([q[k] for q in ns_q])) for k in ns_q[0]}
    if have_torch:
        out["pytorch_s_per_epoch"] = summary(pt_t)
        out["pytorch_quality"] = {k: float(np.mean([q[k] for q in pt_q])) for k in pt_q[0]}
        out["speedup_vs_pytorch"] = (out["pytorch_s_per_epoch"]["median"]
                                     / out["neurosim_s_per_epoch"]["median"])
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
