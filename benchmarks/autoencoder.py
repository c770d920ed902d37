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

``--sweep``: the dense VAE's training step at MNIST-like sizes instead (issue 18): 784 inputs
uniform in [0, 1), hidden widths 256-1024, latent 20, batches 32-256, a fixed pool of 4
batches; both sides from PyTorch's default weights (copied into neurosim's layout). Timing by
:mod:`nn_steps` (alternating rounds, each step timed alone): per point the median step times
and the ratio PyTorch / neurosim, per family the minimum, median and maximum ratio.
``--threads all``: every core on both sides.

    python benchmarks/autoencoder.py [--repeats 5] [--dtype float32]
    python benchmarks/autoencoder.py --sweep [--rounds 3] [--seconds 1] [--threads 1|all]
"""
import nn_steps  # noqa: F401  (sets the thread counts before NumPy loads)

import argparse  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from neurosim.datasets import digits_split  # noqa: E402
from neurosim.deep import Autoencoder, VariationalAutoencoder  # noqa: E402
from neurosim.nn import optim  # noqa: E402

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


def torch_parts(torch, kind, sizes):
    """PyTorch's encoder, heads (the VAE's mean and log-variance) and decoder for ``sizes``
    (input, hidden, code, hidden, input), and their Linear layers in neurosim's order."""
    from torch import nn
    n_in, hidden, code = sizes[:3]
    if kind == "ae":
        encoder = nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, code))
        heads = []
    else:
        encoder = nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU())
        heads = [nn.Linear(hidden, code), nn.Linear(hidden, code)]
    decoder = nn.Sequential(nn.Linear(code, hidden), nn.ReLU(), nn.Linear(hidden, n_in))
    linears = [m for part in (encoder, *heads, decoder) for m in part.modules()
               if isinstance(m, nn.Linear)]
    return encoder, heads, decoder, linears


def vae_loss(torch, encoder, heads, decoder, x):
    """Negative ELBO per image (Bernoulli decoder, one reparameterised sample)."""
    h = encoder(x)
    mean, log_var = heads[0](h), heads[1](h)
    z = mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)
    kl = 0.5 * (log_var.exp() + mean ** 2 - 1 - log_var).sum()
    bce = torch.nn.functional.binary_cross_entropy_with_logits(decoder(z), x, reduction="sum")
    return (bce + kl) / len(x)


def torch_side(kind, seed, dtype):
    import torch
    from torch import nn

    torch.set_num_threads(1)
    torch.manual_seed(seed)
    Xtr, Xte, _, _ = digits_split()
    X = torch.tensor(Xtr, dtype=torch.float32)
    encoder, heads, decoder, linears = torch_parts(torch, kind, SIZES[kind])
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
                loss = vae_loss(torch, encoder, heads, decoder, x)
            loss.backward()
            opt.step()
    elapsed = time.perf_counter() - t0
    twin = model(kind, seed, dtype)       # PyTorch's weights, neurosim's evaluator
    copy_weights(twin, linears)
    return elapsed, quality(kind, twin, Xte)


def copy_weights(ours, linears):
    """PyTorch's Linear layers' weights into neurosim's model (same order of layers)."""
    values = [v for W, b in nn_steps.weights_from_torch(linears) for v in (W, b)]
    for (_, p), value in zip(ours.parameters(), values):
        p.data[...] = value


HIDDEN, LATENT, BATCHES = (256, 512, 1024), 20, (32, 64, 128, 256)


def sweep_sides(torch, hidden, batch):
    """Both sides' training steps of the 784-hidden-20-hidden-784 VAE from the same weights."""
    sizes = (784, hidden, LATENT, hidden, 784)
    torch.manual_seed(0)
    encoder, heads, decoder, linears = torch_parts(torch, "vae", sizes)
    ours = VariationalAutoencoder(sizes, "relu", seed=0, dtype=np.float32)
    copy_weights(ours, linears)
    opt = optim.Adam(ours.parameters(), lr=LR)
    topt = torch.optim.Adam([p for lin in linears for p in lin.parameters()], lr=LR)
    rng = np.random.default_rng(0)
    data = [(rng.random((batch, 784), dtype=np.float32),) for _ in range(4)]

    def step_ours(x):
        opt.zero_grad()
        loss = ours.objective(ours(x), x)
        loss.backward()
        opt.step()
        return loss.item()

    def step_torch(x):
        topt.zero_grad()
        loss = vae_loss(torch, encoder, heads, decoder, x)
        loss.backward()
        topt.step()
        return loss.item()
    return {"neurosim": (step_ours, data),
            "pytorch": (step_torch, [(torch.from_numpy(x),) for (x,) in data])}


def sweep(args):
    torch = nn_steps.torch_module()
    out = nn_steps.header(model=f"VAE 784-h-{LATENT}-h-784", optimizer="Adam")
    rows = [nn_steps.point({"family": "vae", "hidden": h, "batch": b}, sweep_sides(torch, h, b),
                           args.rounds, args.seconds)
            for h, b in itertools.product(HIDDEN, BATCHES)]
    out["vae"] = nn_steps.family(rows)
    print(json.dumps(out, indent=1))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    p.add_argument("--sweep", action="store_true", help="the VAE's step over sizes instead")
    nn_steps.add_arguments(p)
    args = p.parse_args()
    if args.sweep:
        return sweep(args)
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
