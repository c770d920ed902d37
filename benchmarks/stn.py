"""Spatial transformer CNN training beside the same network in PyTorch.

Digits rotated (+-45 degrees) and shifted (+-25%) on a canvas of ``--sizes`` pixels a side
(:func:`neurosim.deep.stn.distorted_digits`); the classifier of :func:`neurosim.deep.stn.stn_cnn`
behind its spatial transformer (localisation: max-pool 2, conv 3x3x8, ReLU, max-pool 2, dense
32, ReLU, the affine regressor at the identity; then conv 3x3x16, ReLU, max-pool 2, conv
3x3x32, ReLU, max-pool 2, dense 10). PyTorch runs the same layers from the same initial weights
(``affine_grid``/``grid_sample`` with ``align_corners=False``), Adam (lr 0.002), batch 32, one
thread each, float64 (``--dtype``).

Figures per canvas size: time of ``--steps`` training steps (median, min, max over repeats,
sides alternated; neurosim's first run, with its compilation, apart), the first-step loss on both
sides (equal: the same network), and the ratio PyTorch time / neurosim time; and, apart, the
transformer's own op (``spatial_transform`` against ``affine_grid`` + ``grid_sample``, forward
and backward on a batch of 32, median of 50 alternated rounds) with its ratio. One JSON
object.

    python benchmarks/stn.py [--repeats 3] [--sizes 16 24 32 48] [--steps 20]
"""
import os

if __name__ == "__main__":  # one thread each
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from neurosim.deep.stn import SpatialTransformer, distorted_digits, stn_cnn  # noqa: E402
from neurosim.nn.layers import Conv2D, Dense, Flatten, MaxPool2D  # noqa: E402
from neurosim.nn.spatial import identity_theta, spatial_transform  # noqa: E402
from neurosim.nn.tensor import Tensor  # noqa: E402

BATCH, LR = 32, 0.002


def summary(times):
    t = np.asarray(times)
    return {"median": float(np.median(t)), "min": float(t.min()), "max": float(t.max())}


def torch_layers(torch, layers, dtype):
    """PyTorch modules doing what neurosim's ``layers`` (Conv2D, MaxPool2D, Flatten, Dense)
    do, with their weights."""
    nn = torch.nn
    out = []
    for layer in layers:
        p = {k: torch.tensor(v.data, dtype=dtype) for k, v in layer.params.items()}
        if isinstance(layer, MaxPool2D):
            out.append(nn.MaxPool2d(layer.size, layer.stride))
            continue
        if isinstance(layer, Flatten):
            out.append(nn.Flatten())
            continue
        if isinstance(layer, Conv2D):
            module = nn.Conv2d(p["W"].shape[1], layer.filters, layer.kernel, layer.stride,
                               layer.padding, dtype=dtype)
            weight = p["W"]
        elif isinstance(layer, Dense):
            module = nn.Linear(*p["W"].shape, dtype=dtype)
            weight = p["W"].T
        else:
            raise TypeError(f"no PyTorch twin for {layer!r}")
        with torch.no_grad():
            module.weight.copy_(weight)
            module.bias.copy_(p["b"])
        out.append(module)
        if layer.activation == "relu":
            out.append(nn.ReLU())
    return out


def torch_stn_cnn(torch, model, dtype):
    """The PyTorch twin of a built :func:`~neurosim.deep.stn.stn_cnn` (with its transformer)."""
    nn, F = torch.nn, torch.nn.functional
    stn = model.layers[0]
    assert isinstance(stn, SpatialTransformer)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.localisation = nn.Sequential(*torch_layers(torch, stn.layers[0].layers, dtype))
            self.regressor = nn.Linear(*stn.params["W_theta"].shape, dtype=dtype)
            with torch.no_grad():
                self.regressor.weight.copy_(torch.tensor(stn.params["W_theta"].data.T))
                self.regressor.bias.copy_(torch.tensor(stn.params["b_theta"].data))
            self.classifier = nn.Sequential(*torch_layers(torch, model.layers[1:], dtype))

        def forward(self, x):
            theta = self.regressor(self.localisation(x)).view(-1, 2, 3)
            size = (x.shape[0], x.shape[1]) + stn.output_size
            grid = F.affine_grid(theta, size, align_corners=stn.align_corners)
            return self.classifier(F.grid_sample(x, grid, align_corners=stn.align_corners))
    return Net()


def ours(model, X, y, steps):
    t0 = time.perf_counter()
    h = model.fit(X[:steps * BATCH], y[:steps * BATCH], epochs=1, batch_size=BATCH, lr=LR,
                  shuffle=False)
    return time.perf_counter() - t0, float(h.loss[0])


def theirs(torch, net, opt, X, y, steps):
    Xt, yt = torch.tensor(X), torch.tensor(y)
    t0 = time.perf_counter()
    first = None
    for k in range(steps):
        sl = slice(k * BATCH, (k + 1) * BATCH)
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(Xt[sl]), yt[sl])
        loss.backward()
        opt.step()
        first = loss.item() if first is None else first
    return time.perf_counter() - t0, first


def transform_op(torch, X, dtype, rounds=50):
    """Median seconds of the transformer op alone, forward and backward, on both sides."""
    F = torch.nn.functional
    x = X[:BATCH]
    theta = identity_theta(BATCH) + 0.1 * np.random.default_rng(0).standard_normal((BATCH, 2, 3))
    g = np.random.default_rng(1).standard_normal(x.shape).astype(dtype)
    xt = torch.tensor(x, requires_grad=True)
    tt, gt = torch.tensor(theta.astype(dtype), requires_grad=True), torch.tensor(g)

    def ours_op():
        spatial_transform(Tensor(x, requires_grad=True),
                          Tensor(theta.astype(dtype), requires_grad=True)).backward(g)

    def theirs_op():
        F.grid_sample(xt, F.affine_grid(tt, x.shape, align_corners=False),
                      align_corners=False).backward(gt)
    times = {ours_op: [], theirs_op: []}
    for _ in range(rounds + 1):
        for f in times:
            t0 = time.perf_counter()
            f()
            times[f].append(time.perf_counter() - t0)
    a, b = np.median(times[ours_op][1:]), np.median(times[theirs_op][1:])
    return {"neurosim_s": float(a), "pytorch_s": float(b), "ratio_pytorch_over_neurosim":
            float(b / a)}


def point(torch, size, steps, repeats, dtype):
    X, _, y, _, _ = distorted_digits(45, 0.25, canvas=size, seed=0)
    X = X.astype(dtype)
    model = stn_cnn((1, size, size), seed=0, dtype=dtype)
    net = torch_stn_cnn(torch, model, getattr(torch, dtype))
    opt = torch.optim.Adam(net.parameters(), lr=LR)
    first_ours, loss_ours = ours(model, X, y, steps)
    _, loss_theirs = theirs(torch, net, opt, X, y, steps)
    t_ours, t_theirs = [], []
    for _ in range(repeats):                                   # alternate the sides
        t_ours.append(ours(model, X, y, steps)[0])
        t_theirs.append(theirs(torch, net, opt, X, y, steps)[0])
    return {"canvas": size, "neurosim_s": summary(t_ours), "neurosim_first_s": first_ours,
            "pytorch_s": summary(t_theirs),
            "ratio_pytorch_over_neurosim": float(np.median(t_theirs) / np.median(t_ours)),
            "first_step_loss": {"neurosim": loss_ours, "pytorch": loss_theirs},
            "transformer_op": transform_op(torch, X, dtype)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--sizes", type=int, nargs="+", default=[16, 24, 32, 48])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--dtype", default="float64", choices=("float64", "float32"))
    args = ap.parse_args()
    import torch
    torch.set_num_threads(1)
    points = [point(torch, s, args.steps, args.repeats, args.dtype) for s in args.sizes]
    print(json.dumps({
        "workload": f"STN CNN on distorted digits, {args.steps} training steps of batch {BATCH},"
                    f" Adam, {args.dtype}, one thread",
        "points": points, "repeats": args.repeats, "python": platform.python_version()},
        indent=1))


if __name__ == "__main__":
    main()
