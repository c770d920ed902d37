"""Shared harness of the training-step sweeps beside PyTorch (cnn.py, autoencoder.py --sweep,
attention.py --sweep): threads, alternating timed rounds, per-family ratio summaries, and each
point's ceiling: the largest ratio that any code making the same products could reach on this
core (:func:`ceiling`).

Import it before NumPy: ``--threads all`` on the command line lets both sides use every core
(BLAS, Numba and ``torch.set_num_threads``); otherwise each side runs on one thread.
neurosim's backward pass and update flush subnormals to zero; PyTorch keeps them unless
``--torch-flush`` is given. Both sides train on a pool of four batches, which the smaller
networks fit within a few hundred steps; their gradients then decay into subnormals, so the
two settings time different arithmetic there (PyTorch's MLP 784-128-128-10 step at batch 32:
1.2 ms flushing, 1.9 ms not).
"""
import os
import sys

ALL = "--threads" in sys.argv and sys.argv[sys.argv.index("--threads") + 1:][:1] == ["all"]
TORCH_FLUSH = "--torch-flush" in sys.argv
THREADS = os.cpu_count() if ALL else 1
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, str(THREADS))

import functools  # noqa: E402
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
    parser.add_argument("--torch-flush", action="store_true",
                        help="PyTorch flushes subnormals too, as neurosim's backward pass and "
                             "update do (torch.set_flush_denormal(True))")


def torch_module():
    """``torch`` with its intra-op threads set to this run's count (and flushing subnormals
    with ``--torch-flush``)."""
    import torch
    torch.set_num_threads(THREADS)
    torch.set_flush_denormal(TORCH_FLUSH)
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
    step, data = sides["pytorch"]
    row = dict(labels)
    row.update({"neurosim_ms": ms["neurosim"], "pytorch_ms": ms["pytorch"],
                "ratio": ms["pytorch"] / ms["neurosim"],
                "ratio_fastest": fastest["pytorch"] / fastest["neurosim"],
                "timed_steps": per_round * rounds,
                "neurosim_loss": float(last["neurosim"]), "pytorch_loss": float(last["pytorch"])})
    row.update(ceiling(ms["pytorch"], product_flops(step, data[0])))
    print(json.dumps(row), flush=True)
    return row


@functools.cache
def product_rate():
    """The best float32 product rate of one core here (GFLOP/s of CPU time): the faster of
    PyTorch's ``torch.mm`` (MKL) and neurosim's GEMM on square products of 1024 and 2048,
    best of 5 each. Real layer shapes run slower, so a product time taken at this rate is a
    lower bound."""
    import torch
    from neurosim.kernels import gemm_large
    best = 0.0
    for n in (1024, 2048):
        a, b = (np.random.default_rng(0).random((n, n), dtype=np.float32) for _ in range(2))
        c = np.empty((n, n), np.float32)
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        for run in (lambda: torch.mm(ta, tb), lambda: gemm_large.gemm(a, b, c)):
            run()
            for _ in range(5):
                start = time.process_time()
                run()
                best = max(best, 2 * n ** 3 / (time.process_time() - start) / 1e9)
    return best


def product_flops(step, batch):
    """Floating-point operations of the products (matrix products, convolutions, attention's
    products) in one PyTorch training ``step(*batch)``, forward and backward, counted by
    ``torch.utils.flop_counter``. The step is run (once more, after the timing)."""
    from torch.utils.flop_counter import FlopCounterMode
    with FlopCounterMode(display=False) as counter:
        step(*batch)
    return counter.get_total_flops()


def ceiling(pytorch_ms, flops):
    """The largest ratio PyTorch / neurosim that a step making the same products can reach
    here: PyTorch's step time over the time of ``flops`` at :func:`product_rate`, as if every
    product ran at the best rate of this core and everything else took no time (a bound for
    any code that keeps the products' arithmetic, i.e. no Winograd or Strassen)."""
    rate = product_rate()
    floor_ms = flops / rate / 1e6
    return {"product_gflop": flops / 1e9, "product_floor_ms": floor_ms,
            "best_rate_gflops": rate, "ceiling": pytorch_ms / floor_ms}


def family(rows):
    """A family's points with the minimum, median and maximum over them of the ratio of the
    median step times (``ratio_*``), of the fastest steps (``fastest_*``) and of the
    :func:`ceiling` (``ceiling_*``, where the rows have it)."""
    out = {"points": rows}
    for key, prefix in (("ratio", "ratio"), ("ratio_fastest", "fastest"), ("ceiling", "ceiling")):
        if key not in rows[0]:
            continue
        ratios = [r[key] for r in rows]
        out.update({f"{prefix}_min": float(min(ratios)), f"{prefix}_median":
                    float(np.median(ratios)), f"{prefix}_max": float(max(ratios))})
    return out


def header(**extra):
    """The run's description: machine, threads, dtype, PyTorch's version and ``extra``."""
    import torch
    return {"machine": platform.processor() or platform.machine(), "threads": THREADS,
            "dtype": "float32", "torch": torch.__version__,
            "torch_flushes_subnormals": TORCH_FLUSH, "load_before": os.getloadavg(), **extra}


def weights_from_torch(modules):
    """``[(W, b)]`` of PyTorch ``nn.Linear`` / ``nn.Conv*`` modules in neurosim's layouts
    (a Linear's matrix transposed to (in, out); conv weights as they are), float64."""
    out = []
    for m in modules:
        W = m.weight.detach().numpy().astype(np.float64)
        out.append((W.T if W.ndim == 2 else W, m.bias.detach().numpy().astype(np.float64)))
    return out
