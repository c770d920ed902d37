"""The differentiable neural computer (DNC; Graves et al. 2016, "Hybrid computing using a neural
network with dynamic external memory"), its tasks (copy, repeat copy, associative recall), and
the memory's usage, allocation, temporal links and weightings over time as a Dataset.

At step t an LSTM controller (or a tanh layer, ``cell="feedforward"``) sees the input ``x_t``
and the previous step's R read vectors; a dense map of its output is the interface vector, from
which :func:`neurosim.nn.dnc.access` runs the memory for one step: dynamic allocation (usage,
free gates, the allocation weighting from the sorted usage), content lookup, the write (gated
between allocation and content), the temporal link matrix and precedence, and R read heads that
mix backward, content and forward reads. The output is a dense map of the controller's output
and the new read vectors (the paper's ``W_y h_t + W_r [r_t^1 .. r_t^R]``). Memory, usage, links
and weightings start at zero.
"""
import numpy as np

from .. import checks, rng
from ..nn import dnc as nd
from ..nn import ops
from ..nn.recurrent import _take
from .ntm import MemoryMachine, memory_trace  # noqa: F401  (memory_trace traces a DNC too)


class DNC(MemoryMachine):
    """Differentiable neural computer: (batch, time, features) -> (batch, time, outputs).

    Parameters
    ----------
    outputs : int
        Width of the output at every step (identity: logits or regression values).
    locations, width : int
        Memory size N x W.
    read_heads : int
        R read heads (one write head, as in the paper).
    controller : int
        Units of the controller.
    cell : "lstm" or "feedforward"
        The controller (see :class:`~neurosim.deep.ntm.MemoryMachine`); the paper's is an LSTM.
    init : str or callable
        Initialiser of the input weight matrices (biases start at zero, the LSTM's forget bias
        at 1).
    """

    family = "DNC"

    def __init__(self, outputs, *, locations=16, width=8, read_heads=2, controller=64,
                 cell="lstm", init="glorot_uniform"):
        super().__init__(controller, cell, init)
        self.outputs = checks.integer(outputs, "outputs", low=1)
        self.locations = checks.integer(locations, "locations", low=2)
        self.width = checks.integer(width, "width", low=1)
        self.read_heads = checks.integer(read_heads, "read_heads", low=1)

    @property
    def sizes(self):
        """(N, W, R)."""
        return self.locations, self.width, self.read_heads

    def _build(self, shape, generator, dtype):
        if len(shape) != 2:
            raise ValueError(f"input shape must be (time, features); got {shape}")
        reads = self.read_heads * self.width
        self._add_controller(shape[1] + reads, generator, dtype)
        for name, (fan_in, fan_out) in {
                "interface": (self.controller, nd.interface_size(self.width, self.read_heads)),
                "output": (self.controller + reads, self.outputs)}.items():
            self.add_param(f"W_{name}", self.init(generator, (fan_in, fan_out), fan_in, fan_out),
                           dtype)
            self.add_param(f"b_{name}", np.zeros(fan_out), dtype)
        return shape[0], self.outputs

    def _run(self, x, keep=True):
        """Outputs (batch, time, outputs), the trace of every step (a dict of arrays stacked
        along axis 1; empty unless ``keep``) and the final memory (batch, N, W)."""
        p, sizes = self.params, self.sizes
        batch, steps = x.shape[:2]
        state = np.zeros((batch, nd.state_size(*sizes)), x.dtype)
        part = nd.state_layout(*sizes)["read_vectors"][0]
        reads = np.zeros((batch, part.stop - part.start), x.dtype)
        features, control, trace = [], None, [] if keep else None
        for t in range(steps):
            h, control = self._control(ops.concatenate([x[:, t], reads], axis=1), control)
            state = nd.access(state, ops.dense(h, p["W_interface"], p["b_interface"]), *sizes,
                              trace=trace)
            reads = _take(state, part)
            features.append(ops.concatenate([h, reads], axis=1))
        out = ops.dense(ops.stack(features, axis=1), p["W_output"], p["b_output"])
        stacked = {k: np.stack([step[k] for step in trace], 1) for k in trace[0]} if keep else {}
        memory = nd.views(state.data, nd.state_layout(*sizes))["memory"]
        return out, stacked, memory

    def forward(self, x):
        return self._run(x, keep=False)[0]

    def trace_variables(self, trace):
        """The DNC's variables in :func:`~neurosim.deep.ntm.memory_trace`, after each step's
        write: ``usage``, ``allocation``, ``write_weighting`` and ``precedence`` (sample, step,
        location); ``link`` (sample, step, location, predecessor), the degree to which
        ``location`` was written right after ``predecessor``; ``read_weighting`` (sample,
        step, read_head, location); ``read_modes`` (sample, step, read_head, mode) over the
        modes backward, content, forward (coordinate ``mode``); ``write_gate`` and
        ``allocation_gate`` (sample, step); ``free_gates`` (sample, step, read_head)."""
        interface = trace["interface"]                                   # (n, time, I)
        face = nd.views(interface.reshape(-1, interface.shape[-1]),
                        nd.interface_layout(self.width, self.read_heads))

        def per_step(a):
            return a.reshape(interface.shape[:2] + a.shape[1:])
        seq, loc = ("sample", "step"), ("sample", "step", "location")
        heads = seq + ("read_head",)
        data = {"link": (loc + ("predecessor",), trace["link"]),
                "read_weighting": (heads + ("location",), trace["read_weighting"]),
                "read_modes": (heads + ("mode",), per_step(face["read_modes"])),
                "free_gates": (heads, per_step(face["free_gates"]))}
        for name in ("usage", "allocation", "write_weighting", "precedence"):
            data[name] = (loc, trace[name])
        for name in ("write_gate", "allocation_gate"):
            data[name] = (seq, per_step(face[name]))
        return data

    def trace_attrs(self):
        """The number of read heads."""
        return {"read_heads": self.read_heads}

    def trace_coords(self):
        """The read modes."""
        return {"mode": list(nd.MODES)}

    def __repr__(self):
        return (f"DNC({self.outputs}, locations={self.locations}, width={self.width}, "
                f"read_heads={self.read_heads}, controller={self.controller}"
                f"{'' if self.cell == 'lstm' else f', cell={self.cell!r}'})")


# ---------------------------------------------------------------- tasks
def repeat_copy_task(n, max_length=3, max_repeats=3, bits=4, *, min_length=1, min_repeats=1,
                     seed=None):
    """The NTM paper's repeat copy: a sequence of random binary vectors, then a delimiter that
    carries the number of repeats k; the target is the sequence k times over, then an end
    marker.

    Input channels (``bits + 2``): the vectors (steps 0..L-1), the delimiter flag (step L) and
    the repeat count ``k / max_repeats`` (step L). Target channels (``bits + 1``): the vectors
    again at steps L+1..L+kL, then the end marker (last channel 1, the bits 0) at step
    L+kL+1; every channel of those steps is scored, everything else is -1 (ignored by
    :func:`~neurosim.deep.ntm.copy_loss`). L and k are uniform in their ranges.

    Returns
    -------
    X : (n, T, bits + 2); Y : (n, T, bits + 1), T = max_length (max_repeats + 1) + 2
    """
    n = checks.integer(n, "n", low=1)
    max_length = checks.integer(max_length, "max_length", low=1)
    min_length = checks.integer(min_length, "min_length", low=1, high=max_length)
    max_repeats = checks.integer(max_repeats, "max_repeats", low=1)
    min_repeats = checks.integer(min_repeats, "min_repeats", low=1, high=max_repeats)
    bits = checks.integer(bits, "bits", low=1)
    generator = rng.generator(seed)
    steps = max_length * (max_repeats + 1) + 2
    X = np.zeros((n, steps, bits + 2))
    Y = np.full((n, steps, bits + 1), -1.0)
    lengths = generator.integers(min_length, max_length + 1, n)
    repeats = generator.integers(min_repeats, max_repeats + 1, n)
    vectors = generator.integers(0, 2, (n, max_length, bits)).astype(float)
    for i, (length, k) in enumerate(zip(lengths, repeats)):
        X[i, :length, :bits] = vectors[i, :length]
        X[i, length, bits] = 1.0
        X[i, length, bits + 1] = k / max_repeats
        end = length + k * length + 1
        Y[i, length + 1:end + 1] = 0.0
        Y[i, length + 1:end, :bits] = np.tile(vectors[i, :length], (k, 1))
        Y[i, end, bits] = 1.0
    return X, Y


def associative_recall_task(n, max_items=4, item_length=2, bits=4, *, min_items=2, seed=None):
    """The NTM paper's associative recall: a list of items (each ``item_length`` random binary
    vectors, each item after an item delimiter), then a query delimiter, one of the items but
    the last (the query), the query delimiter again; the target is the item that followed
    the query in the list.

    Input channels (``bits + 2``): the vectors, the item delimiter, the query delimiter.
    Target (``bits`` channels): the answer at the ``item_length`` steps after the closing
    delimiter, -1 elsewhere (ignored by :func:`~neurosim.deep.ntm.copy_loss`); sequences with
    fewer items end with zero steps. The number of items is uniform in
    ``min_items..max_items``.

    Returns
    -------
    X : (n, T, bits + 2); Y : (n, T, bits), T = (max_items + 2)(item_length + 1)
    """
    n = checks.integer(n, "n", low=1)
    max_items = checks.integer(max_items, "max_items", low=2)
    min_items = checks.integer(min_items, "min_items", low=2, high=max_items)
    item_length = checks.integer(item_length, "item_length", low=1)
    bits = checks.integer(bits, "bits", low=1)
    generator = rng.generator(seed)
    span = item_length + 1
    steps = (max_items + 2) * span
    X = np.zeros((n, steps, bits + 2))
    Y = np.full((n, steps, bits), -1.0)
    counts = generator.integers(min_items, max_items + 1, n)
    queries = generator.integers(0, counts - 1)
    items = generator.integers(0, 2, (n, max_items, item_length, bits)).astype(float)
    for i, (count, q) in enumerate(zip(counts, queries)):
        for k in range(count):
            X[i, k * span, bits] = 1.0
            X[i, k * span + 1:(k + 1) * span, :bits] = items[i, k]
        at = count * span
        X[i, at, bits + 1] = X[i, at + span, bits + 1] = 1.0
        X[i, at + 1:at + span, :bits] = items[i, q]
        Y[i, at + span + 1:at + span + 1 + item_length] = items[i, q + 1]
    return X, Y


__all__ = ["DNC", "repeat_copy_task", "associative_recall_task"]
