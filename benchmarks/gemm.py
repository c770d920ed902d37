"""Dense-layer matrix products: neurosim's own GEMM (neurosim.kernels.gemm_large) beside
NumPy's OpenBLAS and PyTorch's ``torch.mm`` (issue 18), in GFLOP/s per shape.

For a layer of ``in`` -> ``out`` units over ``rows`` rows (the batch, batch * steps, or
im2col rows) the three products of its training step:
- ``forward``: ``X @ W``, (rows, in) @ (in, out);
- ``input_grad``: ``G @ W.T``, (rows, out) @ (out, in) with ``W`` (in, out) stored;
- ``weight_grad``: ``W.grad += X.T @ G``, (in, rows) @ (rows, out) added to the buffer
  (NumPy's side: ``scipy.linalg.blas`` ``?gemm`` with beta = 1, as ``nn.ops`` calls it;
  PyTorch's: ``addmm_``).
Shapes: the sweeps' layers (MLP and VAE 784 -> 128..1024 over batches 32-256, the
transformer's d_model 64-256 over 512-16384 rows) and square ones up to 4096.

Timing: ``time.process_time`` (the CPU time of this process: the machine is shared), in
``--rounds`` rounds, the sides' order flipping each round, each side repeated for about
``--seconds``; a round's figure is its mean call, a ratio is taken within each round and the
JSON gives per shape the best GFLOP/s of each side and the median of the per-round ratios
``own / numpy`` and ``own / torch`` (> 1: ours faster). ``--threads all`` lets every side use
every core (Numba's threads, OpenBLAS, PyTorch); CPU time then sums over the threads, so the
all-core figures are taken with wall time (``time.perf_counter``) instead.

Prints one JSON object. Usage: ``python benchmarks/gemm.py [--rounds 5] [--seconds 0.2]
[--dtype float32|float64] [--threads 1|all] [--quick]``.
"""
import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import nn_steps  # noqa: E402  (sets the thread counts before NumPy is imported)

import json  # noqa: E402

import numpy as np  # noqa: E402
from scipy.linalg import blas  # noqa: E402

from neurosim.kernels.gemm_large import gemm  # noqa: E402

LAYERS = [(rows, 784, width) for rows in (32, 128, 256) for width in (256, 1024)] + \
    [(rows, width, width) for rows in (32, 256) for width in (128, 512, 1024)] + \
    [(rows, d, d) for rows in (512, 4096, 16384) for d in (64, 256)] + \
    [(rows, d, 2 * d) for rows in (2048,) for d in (128, 256)] + \
    [(size, size, size) for size in (1024, 2048, 4096)] + [(8192, 256, 256), (4096, 64, 4096)]
QUICK = [(32, 784, 1024), (256, 784, 1024), (256, 1024, 1024), (4096, 256, 256),
         (1024, 1024, 1024)]
KINDS = ("forward", "input_grad", "weight_grad")


def operands(kind, rows, n_in, n_out, dtype, rng):
    """(A, B, C, trans_a, trans_b, accumulate) of one product and its (M, K, N)."""
    X = rng.standard_normal((rows, n_in)).astype(dtype)
    W = rng.standard_normal((n_in, n_out)).astype(dtype)
    G = rng.standard_normal((rows, n_out)).astype(dtype)
    if kind == "forward":
        return (X, W, np.empty((rows, n_out), dtype), False, False, False), (rows, n_in, n_out)
    if kind == "input_grad":
        return (G, W, np.empty((rows, n_in), dtype), False, True, False), (rows, n_out, n_in)
    return (X, G, np.zeros((n_in, n_out), dtype), True, False, True), (n_in, rows, n_out)


def sides(torch, args):
    """``{name: call}`` of the three implementations for operands ``args``."""
    A, B, C, ta, tb, accumulate = args
    opa, opb = (A.T if ta else A), (B.T if tb else B)
    level3 = blas.sgemm if A.dtype == np.float32 else blas.dgemm
    if accumulate:      # as nn.ops: C.T += op(B).T @ op(A).T in Fortran order, in place
        def numpy_side():
            level3(1.0, opb.T, opa, beta=1.0, c=C.T, trans_b=1, overwrite_c=1)
    else:
        def numpy_side():
            np.matmul(opa, opb, out=C)
    ta_, tb_, tc = (torch.from_numpy(x) for x in (A, B, C))
    ta_, tb_ = (ta_.T if ta else ta_), (tb_.T if tb else tb_)
    torch_side = (lambda: tc.addmm_(ta_, tb_)) if accumulate else \
        (lambda: torch.mm(ta_, tb_, out=tc))
    return {"neurosim": lambda: gemm(A, B, C, ta, tb, accumulate), "numpy": numpy_side,
            "torch": torch_side}


def measure(calls, flops, rounds, seconds, clock):
    """Best GFLOP/s of each side and the median per-round ratios of neurosim to the others."""
    for call in calls.values():
        call()
    start = clock()
    calls["numpy"]()
    repeats = max(1, int(seconds / max(clock() - start, 1e-6)))
    rates = {name: [] for name in calls}
    names = list(calls)
    for r in range(rounds):
        for name in (names if r % 2 == 0 else names[::-1]):
            start = clock()
            for _ in range(repeats):
                calls[name]()
            rates[name].append(flops * repeats / max(clock() - start, 1e-9) / 1e9)
    own = np.array(rates["neurosim"])
    return {**{f"{name}_gflops": float(max(v)) for name, v in rates.items()},
            **{f"ratio_{name}": float(np.median(own / np.array(rates[name])))
               for name in names if name != "neurosim"}}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    nn_steps.add_arguments(p)
    p.set_defaults(rounds=5, seconds=0.2)
    p.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    p.add_argument("--quick", action="store_true", help="five shapes instead of the sweep's")
    p.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    args = p.parse_args()
    torch = nn_steps.torch_module()
    clock = time.perf_counter if nn_steps.THREADS > 1 else time.process_time
    rng = np.random.default_rng(0)
    rows = []
    for shape in (QUICK if args.quick else LAYERS):
        for kind in args.kinds:
            ops, (m, k, n) = operands(kind, *shape, np.dtype(args.dtype), rng)
            row = {"kind": kind, "layer": list(shape), "m": m, "k": k, "n": n,
                   **measure(sides(torch, ops), 2.0 * m * k * n, args.rounds, args.seconds,
                             clock)}
            print(json.dumps(row), file=sys.stderr, flush=True)
            rows.append(row)
    summary = {}
    for kind in args.kinds:
        for peer in ("numpy", "torch"):
            r = [row[f"ratio_{peer}"] for row in rows if row["kind"] == kind]
            summary[f"{kind}_vs_{peer}"] = [float(min(r)), float(np.median(r)), float(max(r))]
    print(json.dumps({**nn_steps.header(benchmark="gemm", clock=clock.__name__,
                                        dtype=args.dtype),
                      "summary_min_median_max": summary, "points": rows}))


if __name__ == "__main__":
    main()
