"""LSTM and GRU training steps beside PyTorch over a sweep of sizes (issue 18).

One layer, input 8, hidden sizes 64-512, batches 32-256, sequences of 50-200 steps: regression
of the sum of the first feature over the sequence from the last hidden state through a dense
layer (MSE), Adam (lr 1e-3), float32, one thread each (``--threads``: more). A step is forward,
backward and update.
neurosim runs ``Sequential(LSTM(H, layout="torch"), Dense(1))``; PyTorch ``nn.LSTM`` /
``nn.GRU`` (batch_first) with ``nn.Linear``. Both sides start from the same weights (PyTorch's,
loaded with ``load_torch_state``) and train on the same fixed batches (a pool of 4, seed 0), so
their losses agree step for step until float32 rounding, amplified by the training, parts them
(a relative 1e-6 after 40 steps, percents after 60-70 at hidden 64). (An earlier version of this
script blamed float32 rounding for neurosim's LSTM ending 74% away from PyTorch's loss; the
cause was the one-bias layout: PyTorch's two biases each receive the gradient, so Adam moves
their sum twice as far. In float64 the torch layout ends at PyTorch's loss to 1e-13 after 80
steps: tests/test_nn_recurrent_torch.py.)

Points: the default sweep varies one size at a time around (hidden 128, batch 64, 100 steps)
and adds the corners (512, 256, 200) and (512, 32, 50); ``--grid full`` runs the whole grid.
Timing: after warm-up, rounds alternate the sides (the order flips each round); each round
times steps one by one per side, in CPU time with one thread (:func:`clock`), wall time with
``--threads N|all`` (each side on N threads, or on all the machine's cores: Numba's and the
BLAS's threads and ``torch.set_num_threads``). Per point: median step times (ms), ratio
PyTorch / neurosim of the medians (> 1: neurosim faster), the same ratio of the fastest steps
(steadier on a machine shared with other work), each side's median forward pass (to the loss)
and backward pass (the optimiser's update is the rest of the step), each side's last loss.
Per cell: min, median and max of the ratios. With one thread each point also gets its ceiling
(``nn_steps.ceiling``: PyTorch's step time over the time of the step's products at this core's
best product rate, with the products counted by :func:`product_flops`). Prints one JSON line
per point as it ends, then one JSON object.

``--products`` measures instead the per-step recurrent products alone, forward ``(4H, H) @
(H, B)`` and backward ``(H, 4H) @ (4H, B)`` for every hidden size and batch of the grid, in
GFLOP/s: neurosim's packed kernel (:mod:`neurosim.kernels.gemm`, the weights packed once, as
a sequence does), NumPy's OpenBLAS and PyTorch's BLAS (MKL), alternating, best of the rounds.

    python benchmarks/rnn.py [--rounds 3] [--seconds 1.0] [--cells lstm gru] [--grid full]
                             [--threads all]
    python benchmarks/rnn.py --products [--rounds 3]

neurosim's recurrent ops flush subnormals to zero (:mod:`neurosim.kernels.fpenv`); PyTorch
keeps them unless told: ``--torch-flush`` calls ``torch.set_flush_denormal(True)`` for its
side too (the long sequences' gradients decay into subnormals, which cost both sides 5-7x).
"""
import os
import sys


def threads_arg(argv):
    """The thread count of ``--threads N|all`` in ``argv`` (1 without it; ``all``: the
    machine's cores), read before NumPy, Numba and PyTorch start their thread pools."""
    value = next((argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "--threads"), "1")
    value = next((a.split("=", 1)[1] for a in argv if a.startswith("--threads=")), value)
    if value == "all":
        return os.cpu_count() or 1
    if not value.isdigit() or int(value) < 1:
        raise SystemExit(f"--threads must be a positive integer or 'all'; got {value!r}")
    return int(value)


THREADS = threads_arg(sys.argv[1:])
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = str(THREADS)

import argparse  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import nn_steps  # noqa: E402  (the ceiling and the family summary; threads are set above)

from neurosim.deep.rnn import sequence_sum  # noqa: E402
from neurosim.nn import losses, optim  # noqa: E402
from neurosim.nn.layers import Dense, Sequential  # noqa: E402
from neurosim.nn.recurrent import GRU, LSTM  # noqa: E402

FEATURES, LR, POOL = 8, 1e-3, 4
HIDDEN, BATCHES, LENGTHS = (64, 128, 256, 512), (32, 64, 128, 256), (50, 100, 200)
CENTRE = (128, 64, 100)


def points(grid):
    """(hidden, batch, steps) of the sweep."""
    if grid == "full":
        return list(itertools.product(HIDDEN, BATCHES, LENGTHS))
    h0, b0, t0 = CENTRE
    out = [(h, b0, t0) for h in HIDDEN] + [(h0, b, t0) for b in BATCHES if b != b0] + \
        [(h0, b0, t) for t in LENGTHS if t != t0] + [(512, 256, 200), (512, 32, 50)]
    return list(dict.fromkeys(out))


def batches(batch, steps):
    X, y = sequence_sum(POOL * batch, steps, FEATURES, seed=0)
    return [(X[k:k + batch].astype(np.float32), y[k:k + batch].astype(np.float32))
            for k in range(0, len(X), batch)]


class Ours:
    def __init__(self, cell, units, steps, torch_side):
        layer = {"lstm": LSTM, "gru": GRU}[cell](units, layout="torch")
        self.model = Sequential(layer, Dense(1), input_shape=(steps, FEATURES),
                                dtype=np.float32)
        layer.load_torch_state({k: v.detach().numpy()
                                for k, v in torch_side.rnn.state_dict().items()})
        head = torch_side.head
        self.model.layers[1].load_state({"W": head.weight.detach().numpy().T,
                                         "b": head.bias.detach().numpy()})
        self.opt = optim.Adam(self.model.parameters(), lr=LR)

    def step(self, X, y):
        """One training step: its loss and the clock after the forward pass and after the
        backward pass (:func:`clock`)."""
        self.opt.zero_grad()
        loss = losses.mse(self.model(X), y)
        forward = clock()
        loss.backward()
        backward = clock()
        self.opt.step()
        return loss.item(), forward, backward


class Torch:
    def __init__(self, cell, units, seed=0):
        import torch
        from torch import nn
        torch.manual_seed(seed)
        self.rnn = {"lstm": nn.LSTM, "gru": nn.GRU}[cell](FEATURES, units, batch_first=True)
        self.head = nn.Linear(units, 1)
        self.opt = torch.optim.Adam(list(self.rnn.parameters()) + list(self.head.parameters()),
                                    lr=LR)

    def step(self, X, y):
        """As :meth:`Ours.step`."""
        self.opt.zero_grad()
        loss = ((self.head(self.rnn(X)[0][:, -1]) - y) ** 2).mean()
        forward = clock()
        loss.backward()
        backward = clock()
        self.opt.step()
        return loss.item(), forward, backward


def clock():
    """The step timer: the process's CPU time with one thread (steady on a machine shared with
    other work: time spent waiting for a core is not counted), wall time with several (CPU
    time would add up the threads)."""
    return time.process_time() if THREADS == 1 else time.perf_counter()


def product_flops(cell, units, batch, steps):
    """Floating-point operations of a training step's products, counted by hand (PyTorch's
    fused RNN op is opaque to its FLOP counter): with G gate groups (LSTM 4, GRU 3), the
    forward's ``[x_t, h] (B, I + H) @ (I + H, G*H)`` each step, the backward's weight gradients
    (the same count) and hidden-state gradient ``(B, G*H) @ (G*H, H)``, and the dense head."""
    groups = {"lstm": 4, "gru": 3}[cell]
    per_step = 2 * batch * groups * units * (2 * (FEATURES + units) + units)
    return steps * per_step + 3 * 2 * batch * units


def run_point(cell, units, batch, steps, rounds, seconds):
    import torch
    theirs = Torch(cell, units)
    sides = {"neurosim": Ours(cell, units, steps, theirs), "pytorch": theirs}
    data = batches(batch, steps)
    inputs = {"neurosim": data,
              "pytorch": [(torch.from_numpy(X), torch.from_numpy(y)) for X, y in data]}
    count = {name: 0 for name in sides}
    t = {}
    for name, side in sides.items():        # warm-up, and a step time to size the rounds
        for _ in range(2):
            start = clock()
            side.step(*inputs[name][count[name] % POOL])
            count[name] += 1
        t[name] = clock() - start
    per_round = max(2, int(seconds / max(t.values())))
    times, last = {name: [] for name in sides}, {}
    for r in range(rounds):
        for name in (list(sides) if r % 2 == 0 else list(sides)[::-1]):
            for _ in range(per_round):
                start = clock()
                last[name], forward, backward = sides[name].step(*inputs[name][count[name] % POOL])
                times[name].append((clock() - start, forward - start, backward - forward))
                count[name] += 1
    ms = {name: np.median(v, axis=0) * 1e3 for name, v in times.items()}
    fastest = {name: float(np.min(v, axis=0)[0] * 1e3) for name, v in times.items()}
    row = {"hidden": units, "batch": batch, "steps": steps, "neurosim_ms": ms["neurosim"][0],
           "pytorch_ms": ms["pytorch"][0], "ratio": ms["pytorch"][0] / ms["neurosim"][0],
           "ratio_fastest": fastest["pytorch"] / fastest["neurosim"]}
    for name in sides:      # the medians of the steps' forward and backward passes
        row[f"{name}_forward_ms"], row[f"{name}_backward_ms"] = (float(v) for v in ms[name][1:])
    row.update({"timed_steps": len(times["neurosim"]), "neurosim_loss": last["neurosim"],
                "pytorch_loss": last["pytorch"]})
    if THREADS == 1:
        row.update(nn_steps.ceiling(ms["pytorch"][0], product_flops(cell, units, batch, steps)))
    return row


def products(rounds, seconds=0.2):
    """GFLOP/s of the per-step products (see the module docstring), one JSON line a shape."""
    import torch
    from neurosim.kernels.gemm import packed, packed_matmul
    rng = np.random.default_rng(0)
    rows = []
    for units, batch in itertools.product(HIDDEN, BATCHES):
        for m, k in ((4 * units, units), (units, 4 * units)):
            A = rng.standard_normal((m, k)).astype(np.float32)
            B = rng.standard_normal((k, batch)).astype(np.float32)
            C = np.empty((m, batch), np.float32)
            Ap, At, Bt, Ct = packed(A), torch.from_numpy(A), torch.from_numpy(B), \
                torch.from_numpy(C.copy())
            sides = {"neurosim": lambda: packed_matmul(Ap, B, C),
                     "numpy": lambda: np.matmul(A, B, out=C),
                     "pytorch": lambda: torch.mm(At, Bt, out=Ct)}
            reps = max(3, int(seconds * 1e11 / (2 * m * k * batch)))
            best = {name: np.inf for name in sides}
            for r in range(rounds):
                for name in (list(sides) if r % 2 == 0 else list(sides)[::-1]):
                    sides[name]()
                    start = time.perf_counter()
                    for _ in range(reps):
                        sides[name]()
                    best[name] = min(best[name], (time.perf_counter() - start) / reps)
            row = {"m": m, "k": k, "n": batch}
            row.update({f"{name}_gflops": 2 * m * k * batch / t / 1e9 for name, t in best.items()})
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=float, default=1.0, help="time per side per round")
    p.add_argument("--cells", nargs="+", default=["lstm", "gru"], choices=("lstm", "gru"))
    p.add_argument("--grid", default="axes", choices=("axes", "full"))
    p.add_argument("--points", nargs="+", default=None,
                   help="hidden,batch,steps triples instead of the sweep")
    p.add_argument("--torch-flush", action="store_true",
                   help="PyTorch flushes subnormals too (torch.set_flush_denormal(True))")
    p.add_argument("--products", action="store_true",
                   help="GFLOP/s of the per-step products instead of training steps")
    p.add_argument("--threads", default="1",
                   help="threads of each side (Numba, BLAS, PyTorch): a count or 'all' (the "
                        "machine's cores); read at start-up (see threads_arg)")
    args = p.parse_args()
    import torch
    torch.set_num_threads(THREADS)
    if args.torch_flush:
        torch.set_flush_denormal(True)
    if args.products:
        rows = products(args.rounds)
        print(json.dumps({"machine": platform.processor() or platform.machine(),
                          "threads": THREADS,
                          "dtype": "float32", "torch": torch.__version__, "products": rows},
                         indent=1))
        return
    sweep = [tuple(int(v) for v in s.split(",")) for s in args.points] if args.points else \
        points(args.grid)
    out = {"machine": platform.processor() or platform.machine(), "threads": THREADS,
           "clock": "process_time" if THREADS == 1 else "perf_counter", "dtype": "float32",
           "input": FEATURES, "torch": torch.__version__,
           "torch_flushes_subnormals": args.torch_flush, "load_before": os.getloadavg()}
    for cell in args.cells:
        rows = []
        for units, batch, steps in sweep:
            rows.append(run_point(cell, units, batch, steps, args.rounds, args.seconds))
            print(json.dumps({cell: rows[-1]}), flush=True)
        out[cell] = nn_steps.family(rows)
    out["load_after"] = os.getloadavg()
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
