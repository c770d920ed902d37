"""LSTM and GRU training steps beside PyTorch (WORKLOADS.md "Gradient families").

Input 8, hidden 128, one layer, sequences of 50 steps, batch 32: regression of the sum of the
first feature over the sequence from the last hidden state through a dense layer (MSE),
Adam (lr 1e-3), float32, one thread each. A step is forward, backward and update. neurosim
runs ``Sequential(LSTM(128), Dense(1))``; PyTorch ``nn.LSTM`` / ``nn.GRU`` (batch_first) with
``nn.Linear``, and an ``nn.LSTMCell`` Python loop over the steps. Every side trains on the
same fixed batches (a pool of 16, drawn with seed 0) from the same weights (PyTorch's, copied
into neurosim's layout and into the LSTMCell), so the losses after the same number of steps
are comparable (float32 rounding still lets the runs drift apart slowly).

Timing: after warm-up, rounds alternate the sides; each round times ``--steps`` steps one by one
per side. Reported: median, min and max of the step times (ms), the ratio PyTorch / neurosim
of the medians, neurosim's first-call (compile or cache load) time apart, and each side's mean
loss over the last pool of batches. Prints one JSON object.

    python benchmarks/rnn.py [--rounds 5] [--steps 40] [--cells lstm gru]
"""
import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from neurosim.nn import losses, optim  # noqa: E402
from neurosim.nn.layers import Dense, Sequential  # noqa: E402
from neurosim.nn.recurrent import GRU, LSTM  # noqa: E402
from neurosim.deep.rnn import sequence_sum  # noqa: E402

FEATURES, UNITS, STEPS, BATCH, LR, POOL = 8, 128, 50, 32, 1e-3, 16


def summary(times):
    t = np.asarray(times) * 1e3
    return {"median": float(np.median(t)), "min": float(t.min()), "max": float(t.max())}


def batches():
    X, y = sequence_sum(POOL * BATCH, STEPS, FEATURES, seed=0)
    return [(X[k:k + BATCH].astype(np.float32), y[k:k + BATCH].astype(np.float32))
            for k in range(0, len(X), BATCH)]


class Ours:
    def __init__(self, cell, weights):
        layer = {"lstm": LSTM, "gru": GRU}[cell](UNITS)
        self.model = Sequential(layer, Dense(1), input_shape=(STEPS, FEATURES), dtype=np.float32)
        self.model.load_state(weights)
        self.opt = optim.Adam(self.model.parameters(), lr=LR)

    def step(self, X, y):
        self.opt.zero_grad()
        loss = losses.mse(self.model(X), y)
        loss.backward()
        self.opt.step()
        return loss.item()


class Torch:
    def __init__(self, cell, seed, loop=False):
        import torch
        from torch import nn
        torch.manual_seed(seed)
        self.torch, self.loop = torch, loop
        self.rnn = {"lstm": nn.LSTM, "gru": nn.GRU}[cell](FEATURES, UNITS, batch_first=True)
        self.head = nn.Linear(UNITS, 1)
        if loop:                           # the same weights in an LSTMCell
            layer, self.rnn = self.rnn, nn.LSTMCell(FEATURES, UNITS)
            with torch.no_grad():
                for name, p in self.rnn.named_parameters():
                    p.copy_(getattr(layer, name + "_l0"))
        self.opt = torch.optim.Adam(list(self.rnn.parameters()) + list(self.head.parameters()),
                                    lr=LR)

    def last_state(self, X):
        if not self.loop:
            return self.rnn(X)[0][:, -1]
        h = c = self.torch.zeros(X.shape[0], UNITS)
        for t in range(X.shape[1]):
            h, c = self.rnn(X[:, t], (h, c))
        return h

    def step(self, X, y):
        self.opt.zero_grad()
        loss = ((self.head(self.last_state(X)) - y) ** 2).mean()
        loss.backward()
        self.opt.step()
        return loss.item()

    def weights(self, cell):
        """The same weights in neurosim's layout: ``x W``, gate blocks in PyTorch's order."""
        p = {k: v.detach().numpy().astype(np.float64) for k, v in self.rnn.named_parameters()}
        w_ih, w_hh, b_ih, b_hh = (p[k + "_l0"] for k in ("weight_ih", "weight_hh", "bias_ih",
                                                          "bias_hh"))
        state = {"0.W": w_ih.T, "0.U": w_hh.T, "0.b": b_ih + b_hh,
                 "1.W": self.head.weight.detach().numpy().T,
                 "1.b": self.head.bias.detach().numpy()}
        if cell == "gru":
            state["0.b"][2 * UNITS:] = b_ih[2 * UNITS:]
            state["0.b_hn"] = b_hh[2 * UNITS:]
        return state


def run_cell(cell, rounds, steps, data, have_torch):
    if have_torch:
        import torch
        torch.set_num_threads(1)
    sides = {"pytorch": Torch(cell, 0)} if have_torch else {}
    if have_torch and cell == "lstm":
        sides["pytorch_lstmcell_loop"] = Torch(cell, 0, loop=True)
    weights = Torch(cell, 0).weights(cell) if have_torch else None
    t0 = time.perf_counter()
    sides = {"neurosim": Ours(cell, weights)} | sides
    X, y = data[0]
    sides["neurosim"].step(X, y)            # compiles (or loads cached) kernels
    first_call = time.perf_counter() - t0
    inputs = {name: data if name == "neurosim" else
              [(torch.from_numpy(X), torch.from_numpy(y)) for X, y in data] for name in sides}
    times, count = {name: [] for name in sides}, {name: 1 if name == "neurosim" else 0
                                                  for name in sides}
    for name, side in sides.items():        # warm-up, outside the timed rounds
        for _ in range(5 - count[name]):
            side.step(*inputs[name][count[name] % POOL])
            count[name] += 1
    last = {}
    for r in range(rounds):
        order = list(sides) if r % 2 == 0 else list(sides)[::-1]
        for name in order:
            side, losses_seen = sides[name], []
            for _ in range(steps):
                X, y = inputs[name][count[name] % POOL]
                t = time.perf_counter()
                losses_seen.append(side.step(X, y))
                times[name].append(time.perf_counter() - t)
                count[name] += 1
            last[name] = float(np.mean(losses_seen[-POOL:]))
    out = {"neurosim_first_call_s": first_call, "steps_per_side": count["neurosim"]}
    for name in sides:
        out[f"{name}_ms"] = summary(times[name])
        out[f"{name}_final_loss"] = last[name]
    for name in sides:
        if name != "neurosim":
            out[f"ratio_{name}_over_neurosim"] = (out[f"{name}_ms"]["median"]
                                                  / out["neurosim_ms"]["median"])
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--steps", type=int, default=40, help="timed steps per side per round")
    p.add_argument("--cells", nargs="+", default=["lstm", "gru"], choices=("lstm", "gru"))
    args = p.parse_args()
    try:
        import torch  # noqa: F401
        have_torch = True
    except ImportError:
        have_torch = False
    data = batches()
    out = {"machine": platform.processor() or platform.machine(), "threads": 1,
           "dtype": "float32", "input": FEATURES, "hidden": UNITS, "steps": STEPS,
           "batch_size": BATCH, "target_variance": float(np.var(np.concatenate(
               [y for _, y in data])))}
    for cell in args.cells:
        out[cell] = run_cell(cell, args.rounds, args.steps, data, have_torch)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
