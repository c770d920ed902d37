"""Winograd F(2x2, 3x3) convolution (``neurosim.nn.winograd``) beside the im2col path
of ``neurosim.nn.conv`` and PyTorch (issue 18), float32, one thread (or every core on each
side: ``--threads all``).

Layers: the CNN sweep's second convolution, ``c -> 2c`` channels on 14x14 images, 3x3 filters,
padding 1, for c in (16, 32) and batches 32-256. Three ops per layer:
- ``forward``: ``conv3x3(x, W, b, 1)`` against ``conv2d(x, W, b, padding=1)`` on im2col (its
  autodiff record included, as a training step pays it) and ``torch.nn.functional.conv2d``;
- ``relu_pool``: ``conv3x3_relu_max_pool2x2(x, W, b, 1)`` against im2col's
  ``conv2d_relu_max_pool2x2`` and PyTorch's ``max_pool2d(relu(conv2d), 2,
  return_indices=True)``;
- ``input_grad``: ``conv3x3_input_grad(g, W, 1, (14, 14))`` against im2col's conv2d backward
  with only the input requiring a gradient (the bias gradient's sum included, as in a
  training step) and ``torch.nn.grad.conv2d_input``.
``nn.conv`` itself takes the Winograd path for these layers; its im2col side here runs with
``nn.conv.WINOGRAD_MIN_CHANNELS`` raised past every layer.

Timing: ``time.process_time`` (the CPU time of this process: the machine is shared), or with
``--threads all`` ``time.perf_counter`` (the CPU time would add the threads'), in ``--rounds``
rounds, the sides' order flipping each round, each side repeated for about ``--seconds``; a
round's figure is its mean call. The JSON gives per point each side's best
round (ms) and the median of the per-round ratios ``im2col / winograd`` and ``torch /
winograd`` (> 1: Winograd faster), and the load average before and after.

Prints one JSON object. Usage: ``python benchmarks/winograd.py [--rounds 5] [--seconds 0.2]
[--quick] [--threads 1|all]``.
"""
import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import nn_steps  # noqa: E402  (sets the thread counts before NumPy is imported)

import json  # noqa: E402
import os  # noqa: E402

import numpy as np  # noqa: E402

from neurosim.nn import winograd  # noqa: E402
from neurosim.nn import Tensor  # noqa: E402
from neurosim.nn import conv  # noqa: E402

LAYERS = [(batch, c, 2 * c, 14) for c in (16, 32) for batch in (32, 64, 128, 256)]
QUICK = [(32, 16, 32, 14), (128, 32, 64, 14)]
KINDS = ("forward", "relu_pool", "input_grad")


def im2col(op):
    """``op`` run with nn.conv's Winograd path switched off (its im2col path)."""
    def call(*args, **kwargs):
        kept = conv.WINOGRAD_MIN_CHANNELS
        conv.WINOGRAD_MIN_CHANNELS = 1 << 62
        try:
            return op(*args, **kwargs)
        finally:
            conv.WINOGRAD_MIN_CHANNELS = kept
    return call


def sides(torch, kind, batch, n_in, n_out, size, rng):
    """``{name: call}`` of one op on random float32 data of one layer."""
    x = rng.standard_normal((batch, n_in, size, size)).astype(np.float32)
    W = (rng.standard_normal((n_out, n_in, 3, 3)) * 0.1).astype(np.float32)
    b = rng.standard_normal(n_out).astype(np.float32)
    g = rng.standard_normal((batch, n_out, size, size)).astype(np.float32)
    tx, tW, tb, tg = (torch.from_numpy(a) for a in (x, W, b, g))
    F = torch.nn.functional
    if kind == "forward":
        return {"winograd": lambda: winograd.conv3x3(x, W, b, 1),
                "im2col": lambda: im2col(conv.conv2d)(x, W, b, padding=1),
                "torch": lambda: F.conv2d(tx, tW, tb, padding=1)}
    if kind == "relu_pool":
        return {"winograd": lambda: winograd.conv3x3_relu_max_pool2x2(x, W, b, 1),
                "im2col": lambda: im2col(conv.conv2d_relu_max_pool2x2)(x, W, b, padding=1),
                "torch": lambda: F.max_pool2d(F.relu(F.conv2d(tx, tW, tb, padding=1)), 2,
                                              return_indices=True)}
    y = im2col(conv.conv2d)(Tensor(x, requires_grad=True), W, b, padding=1)
    return {"winograd": lambda: winograd.conv3x3_input_grad(g, W, 1, (size, size)),
            "im2col": lambda: y.backward_fn(g),
            "torch": lambda: torch.nn.grad.conv2d_input(tx.shape, tW, tg, padding=1)}


#: the clock of a round: the process's CPU time on one thread, wall time on several
CLOCK = time.perf_counter if nn_steps.ALL else time.process_time


def measure(calls, rounds, seconds):
    """Best ms of each side and the median per-round ratios of the others to Winograd."""
    for call in calls.values():
        call()
    start = CLOCK()
    calls["winograd"]()
    repeats = max(1, int(seconds / max(CLOCK() - start, 1e-6)))
    ms = {name: [] for name in calls}
    names = list(calls)
    for r in range(rounds):
        for name in (names if r % 2 == 0 else names[::-1]):
            start = CLOCK()
            for _ in range(repeats):
                calls[name]()
            ms[name].append((CLOCK() - start) / repeats * 1e3)
    own = np.array(ms["winograd"])
    return {**{f"{name}_ms": float(min(v)) for name, v in ms.items()},
            **{f"ratio_{name}": float(np.median(np.array(ms[name]) / own))
               for name in names if name != "winograd"}}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--seconds", type=float, default=0.2, help="time per side per round")
    p.add_argument("--quick", action="store_true", help="two layers instead of the sweep's")
    p.add_argument("--threads", default="1", choices=("1", "all"),
                   help="threads per side (all: every core on both sides)")
    args = p.parse_args()
    load_before = os.getloadavg()
    torch = nn_steps.torch_module()
    rng = np.random.default_rng(0)
    rows = []
    for layer in (QUICK if args.quick else LAYERS):
        for kind in KINDS:
            row = {"kind": kind, "batch": layer[0], "channels": list(layer[1:3]),
                   "size": layer[3],
                   **measure(sides(torch, kind, *layer, rng), args.rounds, args.seconds)}
            print(json.dumps(row), file=sys.stderr, flush=True)
            rows.append(row)
    summary = {f"{kind}_vs_{peer}": [float(f(r)) for f in (np.min, np.median, np.max)]
               for kind in KINDS for peer in ("im2col", "torch")
               for r in [[row[f"ratio_{peer}"] for row in rows if row["kind"] == kind]]}
    print(json.dumps({**nn_steps.header(benchmark="winograd", clock=CLOCK.__name__,
                                        load_before=load_before),
                      "load_after": os.getloadavg(), "summary_min_median_max": summary,
                      "points": rows}))


if __name__ == "__main__":
    main()
