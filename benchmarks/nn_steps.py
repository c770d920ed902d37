"""Shared harness of the training-step sweeps beside PyTorch (cnn.py, autoencoder.py --sweep,
attention.py --sweep): threads, alternating timed rounds, per-family ratio summaries.

Import it before NumPy: ``--threads all`` on the command line lets both sides use every core
(BLAS, Numba and ``torch.set_num_threads``); otherwise each side runs on one thread.
"""
import os
import sys

ALL = "--threads" in sys.argv and sys.argv[sys.argv.index("--threads") + 1:][:1] == ["all"]
THREADS = os.cpu_count() if ALL else 1
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, str(THREADS))

import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402


def add_arguments(parser):
    """The options every sweep takes: rounds, seconds per side per round, threads."""
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=1.0, help="time per side per round")
    parser.add_argument("--threads", default="1", choices=("1", "all"),
                        help="threads per side (all: every core on both sides)")


def torch_module():
    """``torch`` with its intra-op threads set to this run's count."""
    import torch
    torch.set_num_threads(THREADS)
    return torch


def time_sides(sides, rounds, seconds):
    """Median and minimum step times (ms) and last loss of each side.

    ``sides``: ``{name: (step, batches)}``, ``step(*batch) -> loss``, cycling over
    ``batches``. Two warm-up steps per side (the second sizes the rounds: about ``seconds``
    per side per round, at least 2 steps); then ``rounds`` rounds, the order of the sides
    flipping each round, every step timed alone.
    """
    count = {name: 0 for name in sides}

    def one(name):
        step, data = sides[name]
        start = time.perf_counter()
        loss = step(*data[count[name] % len(data)])
        count[name] += 1
        return time.perf_counter() - start, loss
    t = {name: [one(name) for _ in range(2)][-1][0] for name in sides}
    per_round = max(2, int(seconds / max(t.values())))
    times, last = {name: [] for name in sides}, {}
    names = list(sides)
    for r in range(rounds):
        for name in (names if r % 2 == 0 else names[::-1]):
            for _ in range(per_round):
                dt, last[name] = one(name)
                times[name].append(dt)
    return ({name: float(np.median(v) * 1e3) for name, v in times.items()},
            {name: float(np.min(v) * 1e3) for name, v in times.items()}, last, per_round)


def point(labels, sides, rounds, seconds):
    """One row of a sweep: ``labels`` (the sizes), both sides' median ms, the ratio
    PyTorch / neurosim of the medians (> 1: neurosim faster), the ratio of the fastest steps
    (steadier than the medians on a shared machine) and the last losses."""
    ms, fastest, last, per_round = time_sides(sides, rounds, seconds)
    row = dict(labels)
    row.update({"neurosim_ms": ms["neurosim"], "pytorch_ms": ms["pytorch"],
                "ratio": ms["pytorch"] / ms["neurosim"],
                "ratio_fastest": fastest["pytorch"] / fastest["neurosim"],
                "timed_steps": per_round * rounds,
                "neurosim_loss": float(last["neurosim"]), "pytorch_loss": float(last["pytorch"])})
    print(json.dumps(row), flush=True)
    return row


def family(rows):
    """A family's points with the minimum, median and maximum of their ratios (of the median
    step times; ``fastest_*`` those of the fastest steps)."""
    out = {"points": rows}
    for key, prefix in (("ratio", "ratio"), ("ratio_fastest", "fastest")):
        ratios = [r[key] for r in rows]
        out.update({f"{prefix}_min": float(min(ratios)), f"{prefix}_median":
                    float(np.median(ratios)), f"{prefix}_max": float(max(ratios))})
    return out


def header(**extra):
    """The run's description: machine, threads, dtype, PyTorch's version and ``extra``."""
    import torch
    return {"machine": platform.processor() or platform.machine(), "threads": THREADS,
            "dtype": "float32", "torch": torch.__version__, **extra}


def weights_from_torch(modules):
    """``[(W, b)]`` of PyTorch ``nn.Linear`` / ``nn.Conv*`` modules in neurosim's layouts
    (a Linear's matrix transposed to (in, out); conv weights as they are), float64."""
    out = []
    for m in modules:
        W = m.weight.detach().numpy().astype(np.float64)
        out.append((W.T if W.ndim == 2 else W, m.bias.detach().numpy().astype(np.float64)))
    return out
