"""NTM training on the copy task beside the same machine in PyTorch.

Copy task of :func:`neurosim.deep.ntm.copy_task` (1-4 vectors of 4 bits, 9 steps), 1000
sequences, batch 16; the NTM of :class:`neurosim.deep.ntm.NTM` (12 locations of width 6, a
64-unit feed-forward controller, one read and one write head, shifts -1..1). PyTorch runs the
same equations (written out below with torch ops, autograd for the gradients) from the same
initial weights, Adam (lr 0.01) with gradient-norm clipping at 10, one thread each. The
first-batch losses of the two sides are reported (they must agree: the same machine).

Figures: time of one epoch (63 steps; median, min, max over repeats, alternating the sides;
neurosim's first epoch, with its compilation, reported apart), final epoch loss on both sides,
and the ratio PyTorch time / neurosim time. Prints one JSON object.

    python benchmarks/memory.py [--repeats 5] [--dtype float64]
"""
import os

if __name__ == "__main__":  # one thread each; not when a test imports the torch machine from here
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from neurosim.deep.ntm import NTM, copy_loss, copy_task  # noqa: E402
from neurosim.nn.layers import Sequential  # noqa: E402

N, WIDTH, UNITS, BITS, LENGTH, BATCH, LR = 12, 6, 64, 4, 4, 16, 0.01


def summary(times):
    t = np.asarray(times)
    return {"median": float(np.median(t)), "min": float(t.min()), "max": float(t.max())}


def ours(X, Y, dtype, epochs):
    model = Sequential(NTM(BITS, locations=N, width=WIDTH, controller=UNITS),
                       input_shape=X.shape[1:], seed=0, dtype=dtype)
    state = model.state()
    times, losses = [], []
    for epoch in range(epochs):
        t0 = time.perf_counter()
        h = model.fit(X, Y, loss=copy_loss, epochs=1, batch_size=BATCH, lr=LR, clip_norm=10,
                      shuffle=False)
        times.append(time.perf_counter() - t0)
        losses.append(float(h.epoch_loss[-1]))
    return times, losses, float(h.loss[0]) if epochs == 1 else None, state


def torch_ntm(torch, state, dtype):
    """The NTM's forward pass in torch ops, from neurosim's initial weights."""
    p = {k: torch.tensor(v, dtype=dtype, requires_grad=True) for k, v in state.items()}
    F = torch.nn.functional
    eps = 1e-6

    def address(memory, prev, raw):
        key, beta = raw[..., :WIDTH], F.softplus(raw[..., WIDTH])
        gate, gamma = torch.sigmoid(raw[..., WIDTH + 1]), 1 + F.softplus(raw[..., WIDTH + 2])
        shift = torch.softmax(raw[..., WIDTH + 3:WIDTH + 6], -1)
        cos = key @ memory.transpose(1, 2) / (
            torch.sqrt((key * key).sum(-1, keepdim=True) + eps)
            * torch.sqrt((memory * memory).sum(-1) + eps)[:, None, :])
        w = gate[..., None] * torch.softmax(beta[..., None] * cos, -1) \
            + (1 - gate[..., None]) * prev
        w = sum(shift[..., k, None] * torch.roll(w, o, -1) for k, o in enumerate((-1, 0, 1)))
        w = w ** gamma[..., None]
        return w / w.sum(-1, keepdim=True)

    def forward(x):
        batch, steps = x.shape[:2]
        memory = torch.zeros(batch, N, WIDTH, dtype=dtype)
        w_write = torch.zeros(batch, 1, N, dtype=dtype)
        w_write[..., 0] = 1
        w_read, reads, out = w_write.clone(), torch.zeros(batch, WIDTH, dtype=dtype), []
        for t in range(steps):
            state = torch.tanh(torch.cat([x[:, t], reads], 1) @ p["0.W_controller"]
                               + p["0.b_controller"])
            raw = (state @ p["0.W_write_heads"] + p["0.b_write_heads"]).reshape(batch, 1, -1)
            w_write = address(memory, w_write, raw)
            erase = torch.sigmoid(raw[..., WIDTH + 6:2 * WIDTH + 6])
            add = torch.tanh(raw[..., 2 * WIDTH + 6:])
            memory = memory * (1 - w_write[:, 0, :, None] * erase[:, 0, None, :]) \
                + w_write[:, 0, :, None] * add[:, 0, None, :]
            raw = (state @ p["0.W_read_heads"] + p["0.b_read_heads"]).reshape(batch, 1, -1)
            w_read = address(memory, w_read, raw)
            reads = (w_read @ memory).reshape(batch, -1)
            out.append(torch.cat([state, reads], 1) @ p["0.W_output"] + p["0.b_output"])
        return torch.stack(out, 1)
    return p, forward


def theirs(X, Y, state, dtype, epochs):
    import torch
    torch.set_num_threads(1)
    tdtype = {"float64": torch.float64, "float32": torch.float32}[dtype]
    p, forward = torch_ntm(torch, state, tdtype)
    return torch_epochs(torch, p, forward, X, Y, tdtype, epochs, BATCH, LR)


def torch_epochs(torch, p, forward, X, Y, tdtype, epochs, batch, lr):
    """Train the PyTorch machine ``forward`` (parameters ``p``, a dict) on (X, Y) as ``ours``
    trains neurosim's: Adam (``lr``), gradient-norm clipping at 10, batches of ``batch``, the
    copy loss on the recall steps (targets >= 0). Returns (epoch times, mean epoch losses,
    first loss)."""
    opt = torch.optim.Adam(p.values(), lr=lr)
    Xt, Yt = torch.tensor(X, dtype=tdtype), torch.tensor(Y, dtype=tdtype)
    times, losses, first = [], [], None
    for epoch in range(epochs):
        t0 = time.perf_counter()
        total = 0.0
        for k in range(0, len(X), batch):
            y = Yt[k:k + batch]
            mask = y >= 0
            opt.zero_grad()
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                forward(Xt[k:k + batch])[mask], y[mask])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(p.values(), 10.0)
            opt.step()
            total += loss.item()
            first = loss.item() if first is None else first
        times.append(time.perf_counter() - t0)
        losses.append(total / -(-len(X) // batch))
    return times, losses, first


def compare(ours, theirs, X, Y, dtype, repeats, workload):
    """Print the JSON figures of ``ours`` beside ``theirs`` (each one epoch per call, sides
    alternating over ``repeats``; the first call of ours compiles and gives the weights both
    start from)."""
    first_ours, _, loss_ours0, state = ours(X, Y, dtype, 1)
    _, _, loss_theirs0 = theirs(X, Y, state, dtype, 1)
    t_ours, t_theirs = [], []
    for _ in range(repeats):                         # alternate the sides
        t, l_ours, _, _ = ours(X, Y, dtype, 1)
        t_ours += t
        t, l_theirs, _ = theirs(X, Y, state, dtype, 1)
        t_theirs += t
    print(json.dumps({
        "workload": workload,
        "neurosim_epoch_s": summary(t_ours), "neurosim_first_epoch_s": first_ours[0],
        "pytorch_epoch_s": summary(t_theirs),
        "ratio_pytorch_over_neurosim": float(np.median(t_theirs) / np.median(t_ours)),
        "first_batch_loss": {"neurosim": loss_ours0, "pytorch": loss_theirs0},
        "epoch_loss": {"neurosim": l_ours[-1], "pytorch": l_theirs[-1]},
        "repeats": repeats, "python": platform.python_version()}, indent=1))


def copy_task_cli(ours, theirs, length, bits, describe):
    """The command line of the memory benchmarks: ``--repeats``, ``--dtype``; one epoch of 1000
    copy-task sequences (``length``, ``bits``) each side, compared; ``describe(X, dtype)`` names
    the workload."""
    ap = argparse.ArgumentParser(description=sys.modules["__main__"].__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--dtype", default="float64", choices=("float64", "float32"))
    args = ap.parse_args()
    X, Y = copy_task(1000, length, bits, seed=0)
    X, Y = X.astype(args.dtype), Y.astype(args.dtype)
    compare(ours, theirs, X, Y, args.dtype, args.repeats, describe(X, args.dtype))


def main():
    copy_task_cli(ours, theirs, LENGTH, BITS, lambda X, dtype: (
        f"NTM copy task, one epoch of 1000 sequences (batch {BATCH}, {X.shape[1]} steps), N={N}, "
        f"W={WIDTH}, controller {UNITS}, {dtype}, one thread"))


if __name__ == "__main__":
    main()
