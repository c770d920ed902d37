"""CapsNet on digits beside PyTorch: the same network, loss and training on both sides.

Digits (8x8) divided by 16; the first 1500 train, the last 297 test. Network (the defaults of
:func:`neurosim.deep.capsnet`): conv 3x3x64 + ReLU -> primary capsules (conv 3x3, 8
types of 8-D on a 4x4 grid, squashed) -> ten 16-D capsules, 3 routing iterations, the gradient
through the final iteration with the couplings held constant (PyTorch: the routing iterations
on ``u_hat.detach()``); decoder 160-128-256-64 (ReLU, ReLU, sigmoid) from the capsule of the
true class. Loss: margin loss (0.9, 0.1, 0.5) + 0.392 x pixel MSE. Adam 3e-3, batch 32, rows
reshuffled every epoch, float32, one thread. PyTorch's weights are its own defaults, so the
two sides start from different weights of similar scale.

Figures: train time (median, min, max over repeats, alternating the sides; neurosim's first
call, with compilation, reported apart), test accuracy per run, and the ratio PyTorch time /
neurosim time. Prints one JSON object.

    python benchmarks/capsnet.py [--repeats 5] [--epochs 5]
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
from neurosim.deep import capsnet  # noqa: E402

BATCH, LR = 32, 3e-3


def summary(times):
    t = np.asarray(times)
    return {"median": float(np.median(t)), "min": float(t.min()), "max": float(t.max())}


def ours(seed, epochs):
    Xtr, Xte, ytr, yte = digits_split()
    model = capsnet(seed=seed, dtype=np.float32)
    t0 = time.perf_counter()
    model.fit(Xtr, ytr, epochs=epochs, batch_size=BATCH, lr=LR, seed=seed)
    elapsed = time.perf_counter() - t0
    return elapsed, float(np.mean(model.predict(Xte) == yte))


def torch_side(seed, epochs):
    import torch
    from torch import nn

    torch.set_num_threads(1)
    torch.manual_seed(seed)
    Xtr, Xte, ytr, yte = digits_split()
    Xtr = torch.tensor(Xtr, dtype=torch.float32).reshape(-1, 1, 8, 8)
    Xte = torch.tensor(Xte, dtype=torch.float32).reshape(-1, 1, 8, 8)
    ytr = torch.tensor(ytr)

    def squash(s):
        n2 = (s * s).sum(-1, keepdim=True)
        return s * (n2.sqrt() / (1 + n2))

    class CapsNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 64, 3)
            self.primary = nn.Conv2d(64, 64, 3)
            self.W = nn.Parameter(torch.empty(128, 8, 10 * 16).uniform_(-0.5, 0.5))
            self.decoder = nn.Sequential(nn.Linear(160, 128), nn.ReLU(), nn.Linear(128, 256),
                                         nn.ReLU(), nn.Linear(256, 64), nn.Sigmoid())

        def forward(self, x):
            n = len(x)
            maps = self.primary(torch.relu(self.conv(x)))                 # (n, 64, 4, 4)
            u = squash(maps.reshape(n, 8, 8, 16).transpose(2, 3).reshape(n, 128, 8))
            u_hat = torch.bmm(u.transpose(0, 1), self.W).reshape(128, n, 10, 16)
            u_hat = u_hat.transpose(0, 1)                                  # (n, 128, 10, 16)
            fixed = u_hat.detach()
            logits = torch.zeros(n, 128, 10)
            for r in range(3):
                c = torch.softmax(logits, dim=2)
                if r == 2:
                    return squash((c.unsqueeze(-1) * u_hat).sum(1))
                v = squash((c.unsqueeze(-1) * fixed).sum(1))
                logits = logits + (fixed * v.unsqueeze(1)).sum(-1)

    model = CapsNet()
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    gen = torch.Generator().manual_seed(seed)
    t0 = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(len(Xtr), generator=gen)
        for k in range(0, len(Xtr), BATCH):
            idx = order[k:k + BATCH]
            x, y = Xtr[idx], ytr[idx]
            v = model(x)
            lengths = v.norm(dim=-1)
            present = nn.functional.one_hot(y, 10).float()
            margin = (present * torch.relu(0.9 - lengths) ** 2 +
                      0.5 * (1 - present) * torch.relu(lengths - 0.1) ** 2).sum(1).mean()
            redrawn = model.decoder((v * present.unsqueeze(-1)).reshape(len(x), -1))
            loss = margin + 0.392 * ((redrawn - x.reshape(len(x), -1)) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    elapsed = time.perf_counter() - t0
    with torch.no_grad():
        accuracy = float((model(Xte).norm(dim=-1).argmax(1).numpy() == yte).mean())
    return elapsed, accuracy


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=5)
    args = ap.parse_args(argv)
    first, _ = ours(0, 1)                        # compiles the kernels
    times = {"neurosim": [], "pytorch": []}
    accuracy = {"neurosim": [], "pytorch": []}
    for seed in range(args.repeats):
        sides = [("neurosim", ours), ("pytorch", torch_side)]
        for name, run in sides if seed % 2 == 0 else sides[::-1]:
            elapsed, acc = run(seed, args.epochs)
            times[name].append(elapsed)
            accuracy[name].append(acc)
    ours_t, torch_t = summary(times["neurosim"]), summary(times["pytorch"])
    print(json.dumps({
        "workload": f"CapsNet digits, {args.epochs} epochs, batch {BATCH}, float32, 1 thread",
        "neurosim_s": ours_t, "pytorch_s": torch_t,
        "ratio_pytorch_over_neurosim": torch_t["median"] / ours_t["median"],
        "neurosim_first_epoch_with_compile_s": first,
        "test_accuracy": accuracy, "repeats": args.repeats, "machine": platform.machine(),
    }, indent=1))


if __name__ == "__main__":
    main()
