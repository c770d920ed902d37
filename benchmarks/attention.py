"""A Transformer encoder's training step beside PyTorch's.

Key-value retrieval (:func:`neurosim.deep.transformer.key_value_retrieval`: 15 pairs of 16 keys and 8
values, then the query: 16 steps of 25 features), batch 32, float32, one thread each. The
model: a position-wise dense embedding to d_model 64, one pre-norm encoder block (4 heads,
feed-forward 128, no dropout), a final layer norm and a dense read-out of the last step (8
logits, cross-entropy), Adam (lr 1e-3). neurosim runs :func:`transformer_encoder` (without
positional encoding); PyTorch ``nn.Linear``, ``nn.TransformerEncoderLayer(norm_first=True,
batch_first=True)``, ``nn.LayerNorm`` and ``nn.Linear``. Both start from PyTorch's weights
(copied into neurosim's layout) and train on the same fixed batches (a pool of 16, seed 0).

Timing: after warm-up, rounds alternate the sides; each round times ``--steps`` steps one by one
per side. Reported: median, min and max of the step times (ms), the ratio PyTorch / neurosim
of the medians, neurosim's first-call time apart, each side's mean loss over the last pool of
batches. Prints one JSON object.

``--sweep``: the same block's training step over sizes instead (issue 18): d_model 64-256
(4 heads, feed-forward 2 d_model), sequences of 16-128 steps of 25 features, batches 32 and
128, random inputs and 8-class labels (a fixed pool of 4 batches); both sides from PyTorch's
weights. Timing by :mod:`nn_steps` (alternating rounds, each step timed alone): per point the
median step times and the ratio PyTorch / neurosim; per family min, median and max ratio.
``--threads all``: every core on both sides; ``--causal``: causal self-attention on both sides
(PyTorch's block given the causal mask with ``is_causal=True``).

    python benchmarks/attention.py [--rounds 5] [--steps 40]
    python benchmarks/attention.py --sweep [--rounds 3] [--seconds 1] [--threads 1|all] [--causal]
        [--d-model 64 128 256] [--lengths 16 64 128] [--batches 32 128]
"""
import nn_steps  # noqa: F401  (sets the thread counts before NumPy loads)

import argparse  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from neurosim.deep.transformer import key_value_retrieval, transformer_encoder  # noqa: E402
from neurosim.nn import losses, optim  # noqa: E402

PAIRS, KEYS, VALUES = 15, 16, 8
D_MODEL, HEADS, FF, BATCH, LR, POOL = 64, 4, 128, 32, 1e-3, 16


def summary(times):
    t = np.asarray(times) * 1e3
    return {"median": float(np.median(t)), "min": float(t.min()), "max": float(t.max())}


def batches():
    X, y = key_value_retrieval(POOL * BATCH, PAIRS, KEYS, VALUES, seed=0)
    return [(X[k:k + BATCH].astype(np.float32), y[k:k + BATCH])
            for k in range(0, len(X), BATCH)]


class Ours:
    def __init__(self, weights, d_model=D_MODEL, ff=FF, shape=(PAIRS + 1, KEYS + VALUES + 1),
                 causal=False):
        self.model = transformer_encoder(d_model, HEADS, input_shape=shape,
                                         outputs=VALUES, ff_units=ff, positional=None,
                                         pool="last", causal=causal, dtype=np.float32)
        self.model.load_state(weights)
        self.opt = optim.Adam(self.model.parameters(), lr=LR)

    def step(self, X, y):
        self.opt.zero_grad()
        loss = losses.cross_entropy(self.model(X), y)
        loss.backward()
        self.opt.step()
        return loss.item()


class Torch:
    def __init__(self, seed, d_model=D_MODEL, ff=FF, features=KEYS + VALUES + 1, steps=None):
        """``steps``: a causal block (each step sees itself and the past) for that length."""
        import torch
        from torch import nn
        torch.manual_seed(seed)
        self.torch, self.d = torch, d_model
        self.mask = None if steps is None else nn.Transformer.generate_square_subsequent_mask(
            steps)
        self.embed = nn.Linear(features, d_model)
        self.block = nn.TransformerEncoderLayer(d_model, HEADS, ff, dropout=0.0,
                                                batch_first=True, norm_first=True)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, VALUES)
        self.modules = (self.embed, self.block, self.norm, self.head)
        self.opt = torch.optim.Adam([p for m in self.modules for p in m.parameters()], lr=LR)

    def step(self, X, y):
        self.opt.zero_grad()
        causal = {} if self.mask is None else {"src_mask": self.mask, "is_causal": True}
        logits = self.head(self.norm(self.block(self.embed(X), **causal))[:, -1])
        loss = self.torch.nn.functional.cross_entropy(logits, y)
        loss.backward()
        self.opt.step()
        return loss.item()

    def weights(self):
        """The same weights in neurosim's layout (``x W``: PyTorch's matrices transposed)."""
        def a(t):
            return t.detach().numpy().astype(np.float64)
        attn, d = self.block.self_attn, self.d
        w_in, b_in = a(attn.in_proj_weight), a(attn.in_proj_bias)
        state = {"0.0.W": a(self.embed.weight).T, "0.0.b": a(self.embed.bias),
                 "1.W1": a(self.block.linear1.weight).T, "1.b1": a(self.block.linear1.bias),
                 "1.W2": a(self.block.linear2.weight).T, "1.b2": a(self.block.linear2.bias),
                 "1.0.W_o": a(attn.out_proj.weight).T, "1.0.b_o": a(attn.out_proj.bias),
                 "1.1.gamma": a(self.block.norm1.weight), "1.1.beta": a(self.block.norm1.bias),
                 "1.2.gamma": a(self.block.norm2.weight), "1.2.beta": a(self.block.norm2.bias),
                 "2.gamma": a(self.norm.weight), "2.beta": a(self.norm.bias),
                 "4.W": a(self.head.weight).T, "4.b": a(self.head.bias)}
        for i, name in enumerate("qkv"):
            state[f"1.0.W_{name}"] = w_in[i * d:(i + 1) * d].T
            state[f"1.0.b_{name}"] = b_in[i * d:(i + 1) * d]
        return state


D_SWEEP, LENGTHS, BATCHES, FEATURES = (64, 128, 256), (16, 64, 128), (32, 128), 25


def sweep(args):
    torch = nn_steps.torch_module()
    out = nn_steps.header(heads=HEADS, features=FEATURES, classes=VALUES, optimizer="Adam",
                          causal=args.causal)
    rows = []
    for d, length, batch in itertools.product(args.d_model, args.lengths, args.batches):
        theirs = Torch(0, d, 2 * d, FEATURES, length if args.causal else None)
        ours = Ours(theirs.weights(), d, 2 * d, (length, FEATURES), args.causal)
        rng = np.random.default_rng(0)
        data = [(rng.standard_normal((batch, length, FEATURES)).astype(np.float32),
                 rng.integers(0, VALUES, batch)) for _ in range(4)]
        sides = {"neurosim": (ours.step, data),
                 "pytorch": (theirs.step, [(torch.from_numpy(X), torch.from_numpy(y))
                                           for X, y in data])}
        rows.append(nn_steps.point({"family": "transformer", "d_model": d, "length": length,
                                    "batch": batch}, sides, args.rounds, args.seconds))
    out["transformer"] = nn_steps.family(rows)
    print(json.dumps(out, indent=1))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=40, help="timed steps per side per round")
    p.add_argument("--sweep", action="store_true", help="the block's step over sizes instead")
    p.add_argument("--causal", action="store_true",
                   help="with --sweep: causal self-attention on both sides")
    p.add_argument("--d-model", nargs="+", type=int, default=list(D_SWEEP),
                   help="with --sweep: these widths only")
    p.add_argument("--lengths", nargs="+", type=int, default=list(LENGTHS),
                   help="with --sweep: these sequence lengths only")
    p.add_argument("--batches", nargs="+", type=int, default=list(BATCHES),
                   help="with --sweep: these batch sizes only")
    nn_steps.add_arguments(p)
    p.set_defaults(rounds=5)
    args = p.parse_args()
    if args.sweep:
        return sweep(args)
    import torch
    torch.set_num_threads(1)
    data = batches()
    torch_side = Torch(0)
    t0 = time.perf_counter()
    sides = {"neurosim": Ours(torch_side.weights()), "pytorch": torch_side}
    sides["neurosim"].step(*data[0])          # compiles (or loads cached) kernels
    first_call = time.perf_counter() - t0
    inputs = {"neurosim": data,
              "pytorch": [(torch.from_numpy(X), torch.from_numpy(y)) for X, y in data]}
    count = {"neurosim": 1, "pytorch": 0}
    for name, side in sides.items():          # warm-up, outside the timed rounds
        while count[name] < 5:
            side.step(*inputs[name][count[name] % POOL])
            count[name] += 1
    times, last = {name: [] for name in sides}, {}
    for r in range(args.rounds):
        for name in (list(sides) if r % 2 == 0 else list(sides)[::-1]):
            seen = []
            for _ in range(args.steps):
                X, y = inputs[name][count[name] % POOL]
                t = time.perf_counter()
                seen.append(sides[name].step(X, y))
                times[name].append(time.perf_counter() - t)
                count[name] += 1
            last[name] = float(np.mean(seen[-POOL:]))
    out = {"machine": platform.processor() or platform.machine(), "threads": 1,
           "dtype": "float32", "steps": PAIRS + 1, "features": KEYS + VALUES + 1,
           "d_model": D_MODEL, "heads": HEADS, "ff_units": FF, "batch_size": BATCH,
           "neurosim_first_call_s": first_call, "steps_per_side": count["neurosim"]}
    for name in sides:
        out[f"{name}_ms"] = summary(times[name])
        out[f"{name}_final_loss"] = last[name]
    out["ratio_pytorch_over_neurosim"] = out["pytorch_ms"]["median"] / out["neurosim_ms"]["median"]
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
