"""Attention seq2seq training beside the same model in PyTorch.

The sequence reversal task of :func:`neurosim.deep.seq2seq.reversal_task` (10 symbols),
``--sequences`` sequences, batch 32, teacher forcing, Adam (lr 0.005); the
:class:`~neurosim.deep.seq2seq.Seq2Seq` of each attention (additive: Bahdanau's bidirectional
GRU encoder and GRU decoder; general: Luong's LSTM encoder and decoder with input feeding), 32
units a direction, embeddings of 16. PyTorch runs the papers' equations from the same initial
weights (:class:`TorchSeq2Seq`, which the tests also use: ``nn.GRU``/``nn.LSTM`` encoders,
``GRUCell``/``LSTMCell`` decoders, the attention written out), one thread each. The sweep is
over the sequence length (the decoder's steps and the attention's width grow together).

Figures per point: time of one epoch (median, min, max over repeats, sides alternated), the
first-batch loss on both sides (equal: the same model), the final epoch loss, and the ratio
PyTorch time / neurosim time. Prints one JSON object.

    python benchmarks/seq2seq.py [--repeats 3] [--lengths 5 10 20 40] [--sequences 512]
"""
import os

if __name__ == "__main__":  # one thread each; not when a test imports the torch model from here
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from neurosim.deep.seq2seq import Seq2Seq, reversal_task  # noqa: E402

UNITS, EMBEDDING, SYMBOLS, BATCH, LR = 32, 16, 10, 32, 0.005


def summary(times):
    t = np.asarray(times)
    return {"median": float(np.median(t)), "min": float(t.min()), "max": float(t.max())}


def torch_seq2seq(torch, model, dtype):
    """A PyTorch module computing ``model``'s (a built :class:`Seq2Seq`) logits from the same
    weights, written from the papers; ``module(source, target)`` is teacher-forced and
    ``module.gradients()`` gives the parameters' gradients under neurosim's names."""
    nn, F = torch.nn, torch.nn.functional
    p = {k: v.data for k, v in model.params.items()}
    u, d, e = model.units, model.decoder_units, model.embedding
    lstm = model.cell == "lstm"

    def tensor(a):
        return torch.tensor(np.ascontiguousarray(a), dtype=dtype)

    class TorchSeq2Seq(nn.Module):
        def __init__(self):
            super().__init__()
            self.E_source = nn.Parameter(tensor(p["E_source"]))
            self.E_target = nn.Parameter(tensor(p["E_target"]))
            rnn = nn.LSTM if lstm else nn.GRU
            self.encoder = rnn(e, u, batch_first=True, bidirectional=model.bidirectional,
                               dtype=dtype)
            names = ["forward", "backward"][:1 + model.bidirectional]
            for k, name in enumerate(names):
                suffix = "_reverse" if k else ""
                self._load(self.encoder, f"encoder_{name}", f"_l0{suffix}")
            self.decoder = (nn.LSTMCell if lstm else nn.GRUCell)(e + d, d, dtype=dtype)
            self._load(self.decoder, "decoder", "")
            self.dense = {}
            for name in ("query", "keys", "init", "combine", "output"):
                if f"W_{name}" in p:
                    W = p[f"W_{name}"]
                    layer = nn.Linear(*W.shape, bias=f"b_{name}" in p, dtype=dtype)
                    with torch.no_grad():
                        layer.weight.copy_(tensor(W.T))
                        if f"b_{name}" in p:
                            layer.bias.copy_(tensor(p[f"b_{name}"]))
                    self.add_module(name, layer)
                    self.dense[name] = layer
            if "v" in p:
                self.v = nn.Parameter(tensor(p["v"]))

        def _load(self, rnn, name, suffix):
            W, U, b = p[f"W_{name}"], p[f"U_{name}"], p[f"b_{name}"]
            hidden_bias = np.zeros_like(b)
            if not lstm:
                hidden_bias[2 * U.shape[0]:] = p[f"bhn_{name}"]
            with torch.no_grad():
                getattr(rnn, f"weight_ih{suffix}").copy_(tensor(W.T))
                getattr(rnn, f"weight_hh{suffix}").copy_(tensor(U.T))
                getattr(rnn, f"bias_ih{suffix}").copy_(tensor(b))
                getattr(rnn, f"bias_hh{suffix}").copy_(tensor(hidden_bias))

        def forward(self, source, target):
            n, steps = target.shape
            annotations, final = self.encoder(F.embedding(source, self.E_source))
            dense = self.dense
            if model.attention == "additive":
                first = annotations[:, 0, u:] if model.bidirectional else annotations[:, -1]
                h = torch.tanh(dense["init"](first))
                state = (h, torch.zeros_like(h)) if lstm else h
            elif lstm:
                state = tuple(s.transpose(0, 1).reshape(n, -1) for s in final)
            else:
                state = final.transpose(0, 1).reshape(n, -1)
            keys = dense["keys"](annotations) if "keys" in dense else annotations
            pad = None if model.pad is None else source == model.pad
            inputs = torch.cat([torch.full((n, 1), model.target_vocab, dtype=torch.long),
                                target[:, :-1]], 1)
            embedded = F.embedding(inputs, self.E_target)
            attentional = torch.zeros(n, d, dtype=dtype)
            features = []
            for i in range(steps):
                if model.attention == "additive":
                    h = state[0] if lstm else state
                    scores = torch.tanh(dense["query"](h)[:, None] + keys) @ self.v
                    if pad is not None:
                        scores = scores.masked_fill(pad, -torch.inf)
                    context = (torch.softmax(scores, 1)[:, :, None] * annotations).sum(1)
                    state = self.decoder(torch.cat([embedded[:, i], context], 1), state)
                    h = state[0] if lstm else state
                    features.append(torch.cat([h, context, embedded[:, i]], 1))
                else:
                    state = self.decoder(torch.cat([embedded[:, i], attentional], 1), state)
                    h = state[0] if lstm else state
                    scores = (keys @ h[:, :, None])[:, :, 0]
                    if pad is not None:
                        scores = scores.masked_fill(pad, -torch.inf)
                    weights = torch.softmax(scores, 1)
                    context = (weights[:, :, None] * annotations).sum(1)
                    attentional = torch.tanh(dense["combine"](torch.cat([context, h], 1)))
                    features.append(attentional)
            return dense["output"](torch.stack(features, 1))

        def gradients(self):
            """The parameters' gradients under neurosim's names."""
            out = {"E_source": self.E_source.grad, "E_target": self.E_target.grad}
            for k, name in enumerate(["forward", "backward"][:1 + model.bidirectional]):
                self._grads(out, self.encoder, f"encoder_{name}", "_l0_reverse" if k else "_l0")
            self._grads(out, self.decoder, "decoder", "")
            for name, layer in self.dense.items():
                out[f"W_{name}"] = layer.weight.grad.T
                if layer.bias is not None:
                    out[f"b_{name}"] = layer.bias.grad
            if "v" in p:
                out["v"] = self.v.grad
            return {k: v.numpy() for k, v in out.items()}

        def _grads(self, out, rnn, name, suffix):
            out[f"W_{name}"] = getattr(rnn, f"weight_ih{suffix}").grad.T
            out[f"U_{name}"] = getattr(rnn, f"weight_hh{suffix}").grad.T
            # neurosim's b is torch's bias_ih (with bias_hh's gate blocks folded in: the same
            # gradient); the GRU's b_hn is bias_hh's candidate block
            out[f"b_{name}"] = getattr(rnn, f"bias_ih{suffix}").grad
            if not lstm:
                ghb = getattr(rnn, f"bias_hh{suffix}").grad
                out[f"bhn_{name}"] = ghb[2 * (ghb.shape[0] // 3):]
    return TorchSeq2Seq()


def make(attention, S, T):
    model = Seq2Seq(SYMBOLS, SYMBOLS, units=UNITS, embedding=EMBEDDING, attention=attention,
                    seed=0)
    return model.build_for(S.shape[1], T.shape[1])


def ours(model, S, T):
    t0 = time.perf_counter()
    h = model.fit(S, T, epochs=1, batch_size=BATCH, lr=LR, shuffle=False)
    return time.perf_counter() - t0, float(h.epoch_loss[-1]), float(h.loss[0])


def theirs(torch, module, opt, S, T):
    St, Tt = torch.tensor(S), torch.tensor(T)
    t0 = time.perf_counter()
    total, first = 0.0, None
    for k in range(0, len(S), BATCH):
        opt.zero_grad()
        logits = module(St[k:k + BATCH], Tt[k:k + BATCH])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, SYMBOLS),
                                                 Tt[k:k + BATCH].reshape(-1))
        loss.backward()
        opt.step()
        total += loss.item()
        first = loss.item() if first is None else first
    return time.perf_counter() - t0, total / -(-len(S) // BATCH), first


def point(torch, attention, length, sequences, repeats):
    S, T = reversal_task(sequences, length, SYMBOLS, seed=0)
    model = make(attention, S, T)
    module = torch_seq2seq(torch, model, torch.float64)
    opt = torch.optim.Adam(module.parameters(), lr=LR)
    first_ours, _, loss_ours0 = ours(model, S, T)             # compiles on the first call
    _, _, loss_theirs0 = theirs(torch, module, opt, S, T)
    t_ours, t_theirs = [], []
    for _ in range(repeats):                                  # alternate the sides
        t, l_ours, _ = ours(model, S, T)
        t_ours.append(t)
        t, l_theirs, _ = theirs(torch, module, opt, S, T)
        t_theirs.append(t)
    return {"attention": attention, "cell": model.cell, "bidirectional": model.bidirectional,
            "length": length, "neurosim_epoch_s": summary(t_ours),
            "neurosim_first_epoch_s": first_ours, "pytorch_epoch_s": summary(t_theirs),
            "ratio_pytorch_over_neurosim": float(np.median(t_theirs) / np.median(t_ours)),
            "first_batch_loss": {"neurosim": loss_ours0, "pytorch": loss_theirs0},
            "epoch_loss": {"neurosim": l_ours, "pytorch": l_theirs}}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--lengths", type=int, nargs="+", default=[5, 10, 20, 40])
    ap.add_argument("--attention", nargs="+", default=["additive", "general"])
    ap.add_argument("--sequences", type=int, default=512)
    args = ap.parse_args()
    import torch
    torch.set_num_threads(1)
    points = [point(torch, a, n, args.sequences, args.repeats) for a in args.attention
              for n in args.lengths]
    print(json.dumps({
        "workload": f"seq2seq reversal, one epoch of {args.sequences} sequences (batch {BATCH}),"
                    f" {UNITS} units, embedding {EMBEDDING}, {SYMBOLS} symbols, float64, "
                    "one thread",
        "points": points, "repeats": args.repeats, "python": platform.python_version()},
        indent=1))


if __name__ == "__main__":
    main()
