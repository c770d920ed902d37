"""Memory-augmented networks: the neural Turing machine (NTM; Graves, Wayne and Danihelka 2014),
its copy task, and the read and write weightings of a trained machine over time as a Dataset.

The NTM's controller is a feed-forward tanh layer (``cell="feedforward"``, the paper's second
variant, whose use of memory is the easiest to read) or an LSTM (``cell="lstm"``, the paper's
first): at step t it sees the input ``x_t`` and the previous step's read vectors, and emits
every head's addressing parameters; the write heads erase and add, then the read heads read the
new memory; the output is a dense map of the controller's state and the new read vectors
(logits for the copy task). The addressing and the memory ops are those of
:mod:`neurosim.nn.memory`. The memory starts at zero, every head's weighting on location 0.
:class:`MemoryMachine` is the base the NTM shares with the DNC (:mod:`neurosim.deep.dnc`): the
controller, one step at a time, and the checks of input sequences.
"""
import numpy as np
import xarray as xr

from .. import checks, record, rng
from ..nn import memory as nm
from ..nn import ops
from ..nn.init import initialiser
from ..nn.layers import Layer
from ..nn.losses import binary_cross_entropy_with_logits
from ..nn.recurrent import lstm, orthogonal
from ..nn.tensor import Tensor, no_grad

CELLS = ("feedforward", "lstm")
"""The controllers a memory machine may have."""


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


class MemoryMachine(Layer):
    """Base of the memory-augmented machines (:class:`NTM`, :class:`~neurosim.deep.dnc.DNC`):
    a controller of ``controller`` units, a tanh layer (``cell="feedforward"``) or an LSTM
    (``cell="lstm"``; forget bias 1, recurrent weights orthogonal), run one step at a time on
    the input and the previous reads; ``family`` names the zoo family."""

    family = None

    def __init__(self, controller, cell, init):
        super().__init__()
        self.controller = checks.integer(controller, "controller", low=1)
        self.cell = checks.choice(cell, "cell", CELLS)
        self.init = initialiser(init)

    def _add_controller(self, fan_in, generator, dtype):
        """The controller's parameters: ``W_controller`` (fan_in, G units), for the LSTM
        ``U_controller`` (units, 4 units), and ``b_controller``."""
        units = self.controller
        width = units if self.cell == "feedforward" else 4 * units
        self.add_param("W_controller", self.init(generator, (fan_in, width), fan_in, width), dtype)
        bias = np.zeros(width)
        if self.cell == "lstm":
            self.add_param("U_controller", np.hstack([orthogonal(generator, (units, units), units,
                                                                 units) for _ in range(4)]), dtype)
            bias[units:2 * units] = 1.0
        self.add_param("b_controller", bias, dtype)

    def _control(self, inputs, state):
        """One controller step: inputs (batch, features) and the previous state (None at the
        start) -> (output (batch, units), new state)."""
        p = self.params
        if self.cell == "feedforward":
            return ops.tanh(ops.dense(inputs, p["W_controller"], p["b_controller"])), None
        h, c = (None, None) if state is None else state
        _, h, c = lstm(inputs.reshape(len(inputs), 1, -1), p["W_controller"], p["U_controller"],
                       p["b_controller"], h, c, return_sequences=False, return_state=True)
        return h, (h, c)

    def _run(self, x):
        """Outputs (batch, time, outputs) Tensor, the trace of every step (arrays) and the final
        memory."""
        raise NotImplementedError

    def trace_variables(self, trace):
        """The Dataset variables of :func:`memory_trace` from the trace of :meth:`_run`:
        name -> (dims, values)."""
        raise NotImplementedError

    def trace_attrs(self):
        """The machine's own sizes for the attrs of :func:`memory_trace`."""
        return {}

    def trace_coords(self):
        """Coordinates of the dims of :meth:`trace_variables` beyond sample and step."""
        return {}

    def _cell_repr(self):
        return "" if self.cell == "feedforward" else f", cell={self.cell!r}"


class NTM(MemoryMachine):
    """Neural Turing machine: (batch, time, features) -> (batch, time, outputs).

    Parameters
    ----------
    outputs : int
        Width of the output at every step (identity: logits or regression values).
    locations, width : int
        Memory size N x W.
    controller : int
        Units of the controller.
    read_heads, write_heads : int
    shift_range : int
        R: the heads shift by -R..R locations per step.
    cell : "feedforward" or "lstm"
        The controller: a tanh layer or an LSTM (see :class:`MemoryMachine`).
    init : str or callable
        Initialiser of the input weight matrices (biases start at zero).
    """

    family = "NTM"

    def __init__(self, outputs, *, locations=16, width=8, controller=64, read_heads=1,
                 write_heads=1, shift_range=1, cell="feedforward", init="glorot_uniform"):
        super().__init__(controller, cell, init)
        self.outputs = checks.integer(outputs, "outputs", low=1)
        self.locations = checks.integer(locations, "locations", low=1)
        self.width = checks.integer(width, "width", low=1)
        self.read_heads = checks.integer(read_heads, "read_heads", low=1)
        self.write_heads = checks.integer(write_heads, "write_heads", low=1)
        self.shift_range = checks.integer(shift_range, "shift_range", low=0,
                                          high=(self.locations - 1) // 2)

    def _build(self, shape, generator, dtype):
        if len(shape) != 2:
            raise ValueError(f"input shape must be (time, features); got {shape}")
        shifts, reads = 2 * self.shift_range + 1, self.read_heads * self.width
        self._add_controller(shape[1] + reads, generator, dtype)
        sizes = {"read_heads": (self.controller, self.read_heads * (self.width + 3 + shifts)),
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
        features, trace, control = [], {"write": [], "read": []}, None
        for t in range(steps):
            state, control = self._control(ops.concatenate([x[:, t], reads], axis=1), control)
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

    def trace_variables(self, trace):
        """``write_weighting`` (sample, step, write_head, location) and ``read_weighting``
        (sample, step, read_head, location)."""
        return {"write_weighting": (("sample", "step", "write_head", "location"), trace["write"]),
                "read_weighting": (("sample", "step", "read_head", "location"), trace["read"])}

    def trace_attrs(self):
        """The shift range."""
        return {"shift_range": self.shift_range}

    def __repr__(self):
        return (f"NTM({self.outputs}, locations={self.locations}, width={self.width}, "
                f"controller={self.controller}, read_heads={self.read_heads}, "
                f"write_heads={self.write_heads}, shift_range={self.shift_range}"
                f"{self._cell_repr()})")


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
    outputs = run_machine(model, X, MemoryMachine)[2].data
    if outputs.shape != Y.shape:
        raise ValueError(f"Y must have shape {outputs.shape} (the outputs'); got {Y.shape}")
    wrong = (outputs > 0) != (Y > 0.5)
    return float((wrong & (Y >= 0)).sum() / len(Y))


def run_machine(model, X, kind):
    """Run the first ``kind`` layer of ``model`` (the model itself or one of its layers) on
    ``X`` (n, time, features), any number of steps, without gradients: ``(machine, X checked,
    outputs, trace, final memory)`` (the machine's ``_run``)."""
    for machine in [model] + list(model.layers):
        if isinstance(machine, kind):
            break
    else:
        raise ValueError(f"model has no {kind.family or 'NTM or DNC'} layer: {model!r}")
    X = checks.array(X, "X", ndim=3, dtype=getattr(model, "dtype", np.float64))
    if X.shape[2] != machine.input_shape[1]:
        raise ValueError(f"X must have {machine.input_shape[1]} features (any number of steps); "
                         f"got shape {X.shape}")
    with no_grad():
        return (machine, X) + tuple(machine._run(Tensor(X)))


def memory_trace(model, X):
    """A trained memory machine's weightings at every step, its outputs and final memory.

    Parameters
    ----------
    model : NTM, DNC or a Sequential holding one (the first is traced)
    X : array_like, (n, time, features)
        Any number of steps (e.g. sequences longer than in training).

    Returns
    -------
    xarray.Dataset
        ``input`` (sample, step, input_channel), ``output`` (sample, step, output_channel) and
        ``memory`` (sample, location, slot) after the last step, attrs family ("NTM" or
        "DNC") and the machine's sizes; for the NTM ``write_weighting`` (sample, step,
        write_head, location) and ``read_weighting`` (sample, step, read_head, location); for
        the DNC the variables of :meth:`neurosim.deep.dnc.DNC.trace_variables`.
    """
    machine, X, out, trace, memory = run_machine(model, X, MemoryMachine)
    data = {"input": (("sample", "step", "input_channel"), X),
            "output": (("sample", "step", "output_channel"), out.data),
            "memory": (("sample", "location", "slot"), memory)}
    data.update(machine.trace_variables(trace))
    params = {"locations": machine.locations, "width": machine.width,
              "controller": machine.controller, "cell": machine.cell}
    params.update(machine.trace_attrs())
    coords = {"sample": np.arange(len(X)), "step": np.arange(X.shape[1])}
    return record.dataset(data, coords | machine.trace_coords(), family=machine.family,
                          model=repr(machine), params=params)


def bit_errors_by_length(model, lengths, bits, *, n=100, seed=None):
    """:func:`bit_errors` on ``n`` fresh copy-task sequences of each length in ``lengths``
    (e.g. beyond the trained length, to see whether the machine generalises), as a DataArray
    over ``length``; ``bits`` is the width of the vectors the model was trained on. Length k's
    sequences are drawn from child k of ``seed``."""
    lengths = checks.array(lengths, "lengths", ndim=1, dtype=np.int64)
    if len(lengths) == 0 or lengths.min() < 1:
        raise ValueError(f"lengths must be a non-empty list of integers >= 1; got {lengths}")
    errors = [bit_errors(model, *copy_task(n, int(length), bits, min_length=int(length),
                                           seed=rng.child(seed, k)))
              for k, length in enumerate(lengths)]
    return xr.DataArray(np.array(errors), coords={"length": lengths}, dims=("length",),
                        name="bit_errors_by_length",
                        attrs={"long_name": "wrong bits per sequence of this length"})


def recall_images(trace, i, bits):
    """Sample ``i`` of a copy-task :func:`memory_trace` as three (channel, step) images for
    plotting: the input, the target vectors at the recall steps, and the output probabilities
    at the recall steps (NaN elsewhere)."""
    x = trace.input[i].values
    length = int(x[:, -1].argmax())
    recall = slice(length + 1, 2 * length + 1)
    target = np.zeros((x.shape[0], bits))
    target[recall] = x[:length, :bits]
    output = np.full_like(target, np.nan)
    output[recall] = 1 / (1 + np.exp(-trace.output[i].values[recall]))
    return x.T, target.T, output.T


__all__ = ["MemoryMachine", "NTM", "copy_task", "copy_loss", "bit_errors", "bit_errors_by_length",
           "memory_trace", "recall_images"]
