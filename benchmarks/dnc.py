"""DNC training on the copy task beside the same machine in PyTorch.

Copy task of :func:`neurosim.deep.ntm.copy_task` (1-5 vectors of 6 bits, 11 steps), 1000
sequences, batch 16; the DNC of :class:`neurosim.deep.dnc.DNC` (16 locations of width 8, two
read heads, a 64-unit LSTM controller). PyTorch runs the paper's equations (written out below
with torch ops, autograd for the gradients: :func:`torch_dnc`, which the tests also use) from
the same initial weights, Adam (lr 0.01) with gradient-norm clipping at 10, one thread each.
The first-batch losses of the two sides are reported (they must agree: the same machine).

Figures: time of one epoch (63 steps; median, min, max over repeats, alternating the sides;
neurosim's first epoch, with its compilation, reported apart), final epoch loss on both sides,
and the ratio PyTorch time / neurosim time. Prints one JSON object.

    python benchmarks/dnc.py [--repeats 5] [--dtype float64]
"""
import os

if __name__ == "__main__":  # one thread each; not when a test imports the torch machine from here
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ.setdefault(_var, "1")

import sys  # noqa: E402
import time  # noqa: E402

from neurosim.deep.dnc import DNC  # noqa: E402
from neurosim.deep.ntm import copy_loss  # noqa: E402
from neurosim.nn.layers import Sequential  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # the NTM benchmark beside it
from memory import copy_task_cli, torch_epochs  # noqa: E402

N, WIDTH, READS, UNITS, BITS, LENGTH, BATCH, LR = 16, 8, 2, 64, 6, 5, 16, 0.01


def torch_dnc(torch, state, dtype, locations, width, read_heads, prefix="0."):
    """The DNC's forward pass in torch ops, from the paper's equations and neurosim's weights
    (``state``: the model's ``state()``; LSTM controller). Returns (parameters by name,
    forward(x) -> outputs)."""
    p = {k: torch.tensor(v, dtype=dtype, requires_grad=True) for k, v in state.items()}
    F = torch.nn.functional
    eps, n, w, r = 1e-6, locations, width, read_heads
    off_diagonal = 1 - torch.eye(n, dtype=dtype)

    def content(memory, keys, strengths):
        cos = keys @ memory.transpose(1, 2) / (
            torch.sqrt((keys * keys).sum(-1, keepdim=True) + eps)
            * torch.sqrt((memory * memory).sum(-1) + eps)[:, None, :])
        return torch.softmax(strengths[..., None] * cos, -1)

    def split(xi):
        sizes = [r * w, r, w, 1, w, w, r, 1, 1, 3 * r]
        (keys, strengths, wkey, wstrength, erase, vector, free, ga, gw,
         modes) = torch.split(xi, sizes, 1)
        return (keys.reshape(-1, r, w), 1 + F.softplus(strengths), wkey, 1 + F.softplus(wstrength),
                torch.sigmoid(erase), vector, torch.sigmoid(free), torch.sigmoid(ga),
                torch.sigmoid(gw), torch.softmax(modes.reshape(-1, r, 3), -1))

    def allocation(usage):
        # free list: ascending usage, ties by ascending location (stable sort)
        sorted_usage, free_list = torch.sort(usage, dim=-1, stable=True)
        ahead = torch.cumprod(torch.cat([torch.ones_like(usage[:, :1]), sorted_usage[:, :-1]],
                                        1), 1)
        return torch.zeros_like(usage).scatter(1, free_list, (1 - sorted_usage) * ahead)

    def forward(x):
        batch, steps = x.shape[:2]
        units = p[prefix + "U_controller"].shape[0]
        h = c = torch.zeros(batch, units, dtype=dtype)
        memory = torch.zeros(batch, n, w, dtype=dtype)
        usage, precedence, ww = (torch.zeros(batch, n, dtype=dtype) for _ in range(3))
        link = torch.zeros(batch, n, n, dtype=dtype)
        wr, reads, out = torch.zeros(batch, r, n, dtype=dtype), torch.zeros(batch, r * w,
                                                                             dtype=dtype), []
        for t in range(steps):
            gates = (torch.cat([x[:, t], reads], 1) @ p[prefix + "W_controller"]
                     + h @ p[prefix + "U_controller"] + p[prefix + "b_controller"])
            i, f, g, o = gates.chunk(4, 1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            keys, strengths, wkey, wstrength, erase, vector, free, ga, gw, modes = split(
                h @ p[prefix + "W_interface"] + p[prefix + "b_interface"])
            usage = (usage + ww - usage * ww) * torch.prod(1 - free[..., None] * wr, 1)
            ww = gw * (ga * allocation(usage) + (1 - ga) * content(memory, wkey[:, None],
                                                                  wstrength)[:, 0])
            memory = memory * (1 - ww[:, :, None] * erase[:, None, :]) \
                + ww[:, :, None] * vector[:, None, :]
            link = ((1 - ww[:, :, None] - ww[:, None, :]) * link
                    + ww[:, :, None] * precedence[:, None, :]) * off_diagonal
            precedence = (1 - ww.sum(-1, keepdim=True)) * precedence + ww
            wr = (modes[..., 0:1] * (wr @ link) + modes[..., 1:2] * content(memory, keys, strengths)
                  + modes[..., 2:3] * (wr @ link.transpose(1, 2)))
            reads = (wr @ memory).reshape(batch, -1)
            out.append(torch.cat([h, reads], 1) @ p[prefix + "W_output"] + p[prefix + "b_output"])
        return torch.stack(out, 1)
    return p, forward


def ours(X, Y, dtype, epochs):
    model = Sequential(DNC(BITS, locations=N, width=WIDTH, read_heads=READS, controller=UNITS),
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


def theirs(X, Y, state, dtype, epochs):
    import torch
    torch.set_num_threads(1)
    tdtype = {"float64": torch.float64, "float32": torch.float32}[dtype]
    p, forward = torch_dnc(torch, state, tdtype, N, WIDTH, READS)
    return torch_epochs(torch, p, forward, X, Y, tdtype, epochs, BATCH, LR)


def main():
    copy_task_cli(ours, theirs, LENGTH, BITS, lambda X, dtype: (
        f"DNC copy task, one epoch of 1000 sequences (batch {BATCH}, {X.shape[1]} steps), "
        f"N={N}, W={WIDTH}, R={READS}, LSTM controller {UNITS}, {dtype}, one thread"))


if __name__ == "__main__":
    main()
