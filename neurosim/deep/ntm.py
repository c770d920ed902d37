"""Memory-augmented networks: the neural Turing machine (NTM; Graves, Wayne and Danihelka 2014),
its copy task, and the read and write weightings of a trained machine over time as a Dataset.

The NTM here has a feed-forward controller (the paper's second variant, whose use of memory is
the easiest to read): at step t a tanh layer sees the input ``x_t`` and the previous step's
read vectors, and emits every head's addressing parameters; the write heads erase and add, then
the read heads read the new memory; the output is a dense map of the controller's state and the
new read vectors (logits for the copy task). The addressing and the memory ops are those of
:mod:`neurosim.nn.memory`. The memory starts at zero, every head's weighting on location 0.
"""
import numpy as np

from .. import checks, record, rng
from ..nn import memory as nm
from ..nn import ops
from ..nn.init import initialiser
from ..nn.layers import Layer
from ..nn.losses import binary_cross_entropy_with_logits
from ..nn.tensor import Tensor, no_grad


def _head_parameters(raw, width, shifts, writes):
    """A head's addressing parameters (and erase, add for a write head) from the controller's
    emission ``raw`` (batch, heads, P), laid out key, beta, gate, gamma, shift[, erase, add]."""
    key = raw[:, :, :width]
    beta = ops.softplus(raw[:, :, width])
    gate = ops.sigmoid(raw[:, :, width + 1])
    gamma = ops.softplus(raw[:, :, width + 2]) + raw.dtype.type(1.0)     # keeps float32
    shift = ops.softmax(raw[:, :, width + 3:width + 3 + shifts])
    address = (key, beta, gate, shift, gamma)
    if not writes:
        return address, None
    end = width + 3 + shifts
    return address, (ops.sigmoid(raw[:, :, end:end + width]),
                     ops.tanh(raw[:, :, end + width:end + 2 * width]))


class NTM(Layer):
    """Neural Turing machine with a feed-forward controller: (batch, time, features) ->
    (batch, time, outputs).

    Parameters
    ----------
    outputs : int
        Width of the output at every step (identity: logits or regression values).
    locations, width : int
        Memory size N x W.
    controller : int
        Units of the controller's tanh layer.
    read_heads, write_heads : int
    shift_range : int
        R: the heads shift by -R..R locations per step.
    init : str or callable
        Initialiser of the weight matrices (biases start at zero).
    """

    def __init__(self, outputs, *, locations=16, width=8, controller=64, read_heads=1,
                 write_heads=1, shift_range=1, init="glorot_uniform"):
        super().__init__()
        self.outputs = checks.integer(outputs, "outputs", low=1)
        self.locations = checks.integer(locations, "locations", low=1)
        self.width = checks.integer(width, "width", low=1)
        self.controller = checks.integer(controller, "controller", low=1)
        self.read_heads = checks.integer(read_heads, "read_heads", low=1)
        self.write_heads = checks.integer(write_heads, "write_heads", low=1)
        self.shift_range = checks.integer(shift_range, "shift_range", low=0,
                                          high=(self.locations - 1) // 2)
        self.init = initialiser(init)

    def _build(self, shape, generator, dtype):
        if len(shape) != 2:
            raise ValueError(f"input shape must be (time, features); got {shape}")
        shifts, reads = 2 * self.shift_range + 1, self.read_heads * self.width
        sizes = {"controller": (shape[1] + reads, self.controller),
                 "read_heads": (self.controller, self.read_heads * (self.width + 3 + shifts)),
                 "write_heads": (self.controller,
                                 self.write_heads * (3 * self.width + 3 + shifts)),
                 "output": (self.controller + reads, self.outputs)}
        for name, (fan_in, fan_out) in sizes.items():
            self.add_param(f"W_{name}", self.init(generator, (fan_in, fan_out), fan_in, fan_out),
                           dtype)
            self.add_param(f"b_{name}", np.zeros(fan_out), dtype)
        return shape[0], self.outputs

    def _run(self, x):
        """Outputs (batch, time, outputs) and the weightings of every step (arrays)."""
        p = self.params
        batch, steps = x.shape[:2]
        dtype, shifts = x.dtype, 2 * self.shift_range + 1
        memory = np.zeros((batch, self.locations, self.width), dtype)
        start = np.zeros(self.locations, dtype)
        start[0] = 1.0
        w_write = np.broadcast_to(start, (batch, self.write_heads, self.locations))
        w_read = np.broadcast_to(start, (batch, self.read_heads, self.locations))
        reads = np.zeros((batch, self.read_heads * self.width), dtype)
        features, trace = [], {"write": [], "read": []}
        for t in range(steps):
            state = ops.tanh(ops.dense(ops.concatenate([x[:, t], reads], axis=1),
                                       p["W_controller"], p["b_controller"]))
            raw = ops.dense(state, p["W_write_heads"], p["b_write_heads"])
            address, (erase, add) = _head_parameters(
                raw.reshape(batch, self.write_heads, -1), self.width, shifts, True)
            w_write = nm.address(memory, w_write, *address)
            memory = nm.write(memory, w_write, erase, add)
            raw = ops.dense(state, p["W_read_heads"], p["b_read_heads"])
            address, _ = _head_parameters(raw.reshape(batch, self.read_heads, -1), self.width,
                                          shifts, False)
            w_read = nm.address(memory, w_read, *address)
            reads = nm.read(memory, w_read).reshape(batch, -1)
            features.append(ops.concatenate([state, reads], axis=1))
            trace["write"].append(w_write.data)
            trace["read"].append(w_read.data)
        out = ops.dense(ops.stack(features, axis=1), p["W_output"], p["b_output"])
        return out, {k: np.stack(v, axis=1) for k, v in trace.items()}, memory.data

    def forward(self, x):
        return self._run(x)[0]

    def __repr__(self):
        return (f"NTM({self.outputs}, locations={self.locations}, width={self.width}, "
                f"controller={self.controller}, read_heads={self.read_heads}, "
                f"write_heads={self.write_heads}, shift_range={self.shift_range})")


def copy_task(n, max_length=5, bits=4, *, min_length=1, seed=None):
    """Graves's copy task: random binary vectors, a delimiter, then the vectors to recall.

    Each sample has a length L drawn uniformly from ``min_length..max_length``; its input has
    ``bits + 1`` channels (the last one the delimiter): L random vectors, the delimiter at step
    L, then zeros. Its target (``bits`` channels) is the same L vectors at steps L+1..2L and -1
    (ignored by :func:`copy_loss`) elsewhere.

    Returns
    -------
    X : (n, 2 max_length + 1, bits + 1); Y : (n, 2 max_length + 1, bits)
    """
    n = checks.integer(n, "n", low=1)
    max_length = checks.integer(max_length, "max_length", low=1)
    min_length = checks.integer(min_length, "min_length", low=1, high=max_length)
    bits = checks.integer(bits, "bits", low=1)
    generator = rng.generator(seed)
    steps = 2 * max_length + 1
    X = np.zeros((n, steps, bits + 1))
    Y = np.full((n, steps, bits), -1.0)
    lengths = generator.integers(min_length, max_length + 1, n)
    vectors = generator.integers(0, 2, (n, max_length, bits)).astype(float)
    for i, length in enumerate(lengths):
        X[i, :length, :bits] = vectors[i, :length]
        X[i, length, bits] = 1.0
        Y[i, length + 1:2 * length + 1] = vectors[i, :length]
    return X, Y


def copy_loss(logits, targets):
    """Binary cross-entropy with logits, mean over the scored entries (targets >= 0; entries
    of -1 are ignored, as in :func:`copy_task`), in nats.

    logits (batch, time, bits) Tensor; targets array of the same shape -> one-element Tensor.
    """
    targets = np.asarray(getattr(targets, "data", targets))
    if targets.shape != logits.shape:
        raise ValueError(f"copy_loss: targets must have the logits' shape {logits.shape}; got "
                         f"{targets.shape}")
    scored = targets >= 0
    count = scored.sum()
    if count == 0:
        raise ValueError("copy_loss: no target entry is scored (all are -1)")
    # an ignored entry becomes logit 0 against target 0: loss log 2, no gradient
    mean = binary_cross_entropy_with_logits(logits * scored, np.where(scored, targets, 0.0))
    return mean * (targets.size / count) - np.log(2.0) * (targets.size - count) / count


def bit_errors(model, X, Y):
    """Mean number of wrongly recalled bits per sequence (output logit > 0 read as 1; only the
    scored entries of ``Y``, those >= 0, count). ``X`` may have any number of steps (e.g.
    sequences longer than in training): see :func:`memory_trace`."""
    Y = checks.array(Y, "Y", ndim=3)
    outputs = memory_trace(model, X).output.values
    if outputs.shape != Y.shape:
        raise ValueError(f"Y must have shape {outputs.shape} (the outputs'); got {Y.shape}")
    wrong = (outputs > 0) != (Y > 0.5)
    return float((wrong & (Y >= 0)).sum() / len(Y))


def _machine(model):
    for layer in [model] + list(model.layers):
        if isinstance(layer, NTM):
            return layer
    raise ValueError(f"model has no NTM layer: {model!r}")


def memory_trace(model, X):
    """A trained NTM's read and write weightings at every step, its outputs and final memory.

    Parameters
    ----------
    model : NTM or Sequential holding one
    X : array_like, (n, time, features)
        Any number of steps (e.g. sequences longer than in training).

    Returns
    -------
    xarray.Dataset
        ``input`` (sample, step, input_channel), ``output`` (sample, step, output_channel),
        ``write_weighting`` (sample, step, write_head, location), ``read_weighting``
        (sample, step, read_head, location) and ``memory`` (sample, location, slot) after the
        last step; attrs family "NTM" and the machine's sizes.
    """
    machine = _machine(model)
    X = checks.array(X, "X", ndim=3, dtype=getattr(model, "dtype", np.float64))
    if X.shape[2] != machine.input_shape[1]:
        raise ValueError(f"X must have {machine.input_shape[1]} features (any number of steps); "
                         f"got shape {X.shape}")
    with no_grad():
        out, trace, memory = machine._run(Tensor(X))
    steps = np.arange(X.shape[1])
    return record.dataset(
        {"input": (("sample", "step", "input_channel"), X),
         "output": (("sample", "step", "output_channel"), out.data),
         "write_weighting": (("sample", "step", "write_head", "location"), trace["write"]),
         "read_weighting": (("sample", "step", "read_head", "location"), trace["read"]),
         "memory": (("sample", "location", "slot"), memory)},
        {"sample": np.arange(len(X)), "step": steps},
        family="NTM", model=repr(machine),
        params={"locations": machine.locations, "width": machine.width,
                "controller": machine.controller, "shift_range": machine.shift_range})


__all__ = ["NTM", "copy_task", "copy_loss", "bit_errors", "memory_trace"]
