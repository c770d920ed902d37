"""MLP and CNN training steps beside PyTorch over a sweep of sizes (issue 18), MNIST-like.

Inputs: 784 features (MLP) or 1x28x28 images (CNN), uniform in [0, 1), 10 classes, a fixed
pool of 4 batches (seed 0). MLP: 784 -> width -> width -> 10, ReLU, for widths 128-1024 and
batches 32-256. CNN: conv 3x3 (c channels, pad 1), ReLU, max-pool 2, conv 3x3 (2c, pad 1),
ReLU, max-pool 2, dense 10, for c = 16 and 32 (the 32-64 channel net) and batches 32-256.
Softmax cross-entropy, Adam (lr 1e-3), float32. A step is forward, backward and update.
Both sides start from PyTorch's default weights (copied into neurosim's layout) and train on
the same batches, so their losses agree up to float32 rounding.

Timing (:mod:`nn_steps`): after warm-up, rounds alternate the sides; each step timed alone;
per point the median step times, the ratio PyTorch / neurosim (> 1: neurosim faster) and the
last losses; per family the minimum, median and maximum ratio. ``--threads all``: every core on
both sides. Prints one JSON line per point, then one JSON object.

    python benchmarks/cnn.py [--families mlp cnn] [--rounds 3] [--seconds 1] [--threads 1|all]
"""
import nn_steps  # noqa: F401  (sets the thread counts before NumPy loads)

import argparse  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402

import numpy as np  # noqa: E402

from neurosim.nn import losses, optim  # noqa: E402
from neurosim.nn.layers import Conv2D, Dense, Flatten, MaxPool2D, Sequential  # noqa: E402

LR, POOL, CLASSES = 1e-3, 4, 10
WIDTHS, CHANNELS, BATCHES = (128, 256, 512, 1024), (16, 32), (32, 64, 128, 256)


def batches(batch, shape):
    rng = np.random.default_rng(0)
    return [(rng.random((batch, *shape), dtype=np.float32), rng.integers(0, CLASSES, batch))
            for _ in range(POOL)]


def torch_model(torch, kind, size):
    nn = torch.nn
    torch.manual_seed(0)
    if kind == "mlp":
        return nn.Sequential(nn.Linear(784, size), nn.ReLU(), nn.Linear(size, size), nn.ReLU(),
                             nn.Linear(size, CLASSES))
    return nn.Sequential(nn.Conv2d(1, size, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(size, 2 * size, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(2 * size * 49, CLASSES))


def our_model(kind, size, twin):
    """neurosim's model holding ``twin``'s (PyTorch's) weights."""
    if kind == "mlp":
        model = Sequential(Dense(size, "relu"), Dense(size, "relu"), Dense(CLASSES),
                           input_shape=(784,), dtype=np.float32)
    else:
        model = Sequential(Conv2D(size, 3, padding=1, activation="relu"), MaxPool2D(2),
                           Conv2D(2 * size, 3, padding=1, activation="relu"), MaxPool2D(2),
                           Flatten(), Dense(CLASSES), input_shape=(1, 28, 28), dtype=np.float32)
    weighted = [m for m in twin if hasattr(m, "weight")]
    state = {}
    mine = [i for i, layer in enumerate(model.layers) if layer.params]
    for i, (W, b) in zip(mine, nn_steps.weights_from_torch(weighted)):
        state[f"{i}.W"], state[f"{i}.b"] = W, b
    model.load_state(state)
    return model


def sides(torch, kind, size, batch):
    twin = torch_model(torch, kind, size)
    model = our_model(kind, size, twin)
    opt = optim.Adam(model.parameters(), lr=LR)
    topt = torch.optim.Adam(twin.parameters(), lr=LR)
    data = batches(batch, (784,) if kind == "mlp" else (1, 28, 28))
    tdata = [(torch.from_numpy(X), torch.from_numpy(y)) for X, y in data]
    ce = torch.nn.functional.cross_entropy

    def ours(X, y):
        opt.zero_grad()
        loss = losses.cross_entropy(model(X), y)
        loss.backward()
        opt.step()
        return loss.item()

    def theirs(X, y):
        topt.zero_grad()
        loss = ce(twin(X), y)
        loss.backward()
        topt.step()
        return loss.item()
    return {"neurosim": (ours, data), "pytorch": (theirs, tdata)}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    nn_steps.add_arguments(p)
    p.add_argument("--families", nargs="+", default=["mlp", "cnn"], choices=("mlp", "cnn"))
    p.add_argument("--sizes", nargs="+", type=int, default=None,
                   help="widths (MLP) or first-layer channels (CNN) instead of the sweep's")
    p.add_argument("--batches", nargs="+", type=int, default=list(BATCHES))
    args = p.parse_args()
    torch = nn_steps.torch_module()
    out = nn_steps.header(inputs="784 / 1x28x28", classes=CLASSES, optimizer="Adam")
    for kind in args.families:
        sizes = args.sizes or (WIDTHS if kind == "mlp" else CHANNELS)
        label = "width" if kind == "mlp" else "channels"
        rows = [nn_steps.point({"family": kind, label: size, "batch": batch},
                               sides(torch, kind, size, batch), args.rounds, args.seconds)
                for size, batch in itertools.product(sizes, args.batches)]
        out[kind] = nn_steps.family(rows)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
