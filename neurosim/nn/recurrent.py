"""Recurrent ops and layers: Elman RNN, LSTM and GRU over whole sequences, and their
bidirectional form.

Each op runs a whole sequence as one node on the tape: the input products of all steps are
made at once, a compiled kernel (:mod:`neurosim.kernels.recurrent`, feature-major inside) makes
each step's recurrent product (the packed product of :mod:`neurosim.kernels.gemm`) and the gate
math, keeping what backpropagation through time needs, and the backward pass is one more kernel
call and the weight gradients' products over all steps
(:func:`neurosim.kernels.gemm_large.product`). With several Numba threads each kernel has a
parallel twin with the serial bits, taken where the work pays for the threads' start: a step's
blocks of units, or parts of a pass over the whole sequence. Variable-length batches hold each sequence's state after its last step (as
PyTorch's packed sequences). Sequences are batch-first,
``x`` (batch, time, features); weights ``W`` (features, G*units), ``U`` (units, G*units),
``b`` (G*units,) with the gate blocks in PyTorch's order (LSTM: input, forget, cell, output;
GRU: reset, update, candidate). Computation follows ``x``'s dtype (float32 or float64).

Equations (``s`` the logistic sigmoid, ``*`` element-wise):

- RNN: ``h_t = tanh(x_t W + h_{t-1} U + b)``
- LSTM: ``[i, f, g, o] = [s, s, tanh, s](x_t W + h_{t-1} U + b)``,
  ``c_t = f * c_{t-1} + i * g``, ``h_t = o * tanh(c_t)``
- GRU (PyTorch's form, the reset gate applied after the recurrent product):
  ``r, z = s(x_t W_rz + h_{t-1} U_rz + b_rz)``,
  ``n = tanh(x_t W_n + b_n + r * (h_{t-1} U_n + b_hn))``, ``h_t = (1 - z) * n + z * h_{t-1}``
"""
import numpy as np

from .. import checks
from ..kernels import fpenv, gemm_large
from ..kernels import recurrent as kr
from ..kernels import threads as kthreads
from . import norm, ops, workspace
from .init import initialiser
from .layers import SequenceLayer
from .tensor import as_tensor, record
from .torch_state import from_torch, torch_to_state
from .wrappers import Bidirectional, TimeDistributed


def _checked(op, cell, x, W, U, b, b_hn, h0, c0):
    """The parent Tensors of a recurrent op after checking every shape; also the units."""
    x, W, U, b = (as_tensor(t) for t in (x, W, U, b))
    if x.ndim != 3:
        raise ValueError(f"{op}: x must be 3-D (batch, time, features); got shape {x.shape}")
    gates = kr.GATES[cell]
    if U.ndim != 2 or U.shape[1] != gates * U.shape[0]:
        raise ValueError(f"{op}: U must have shape (units, {gates} * units); got {U.shape}")
    units = U.shape[0]
    if W.shape != (x.shape[2], gates * units):
        raise ValueError(f"{op}: W must have shape (features, {gates} * units) = "
                         f"({x.shape[2]}, {gates * units}) for x of shape {x.shape}; got "
                         f"{W.shape}")
    if b.shape != (gates * units,):
        raise ValueError(f"{op}: b must have shape ({gates * units},); got {b.shape}")
    parents = [x, W, U, b]
    for name, t, wanted in (("b_hn", b_hn, (units,)), ("h0", h0, (x.shape[0], units)),
                            ("c0", c0, (x.shape[0], units))):
        if t is not None:
            t = as_tensor(t)
            if t.shape != wanted:
                raise ValueError(f"{op}: {name} must have shape {wanted}; got {t.shape}")
        parents.append(t)
    return parents, units


def _checked_lengths(lengths, shape):
    """Each sequence's steps as an int64 array (batch,), from ``lengths`` (batch,) or a mask
    (batch, time) that is True on each sequence's first steps; None when every sequence is
    full."""
    if lengths is None:
        return None
    n, steps = shape[:2]
    a = np.asarray(lengths.data if hasattr(lengths, "data") and not isinstance(
        lengths, np.ndarray) else lengths)
    if a.ndim == 2:
        if a.shape != (n, steps):
            raise ValueError(f"lengths as a mask must have shape (batch, time) = {(n, steps)}; "
                             f"got {a.shape}")
        mask = a.astype(bool)
        count = mask.sum(axis=1)
        if not np.array_equal(mask, np.arange(steps) < count[:, None]):
            raise ValueError("lengths as a mask must be True on each sequence's first steps "
                             "and False after (padding at the end)")
        a = count
    if a.shape != (n,) or not (np.issubdtype(a.dtype, np.integer) or
                               np.array_equal(a, np.round(a))):
        raise ValueError(f"lengths must be {n} integers (one per sequence) or a (batch, time) "
                         f"mask; got shape {a.shape}, dtype {a.dtype}")
    a = a.astype(np.int64)
    if n and (a.min() < 1 or a.max() > steps):
        raise ValueError(f"lengths must lie in [1, {steps}]; got values from {a.min()} to "
                         f"{a.max()}")
    return None if np.all(a == steps) else a


def _order(lengths, steps, reverse):
    """Per-sample time order (batch, time) of a run: each sequence flipped within its length
    when ``reverse`` (padding left in place; the map is its own inverse); None when plain
    slicing does (no lengths, or not reversed)."""
    if lengths is None or not reverse:
        return None
    t = np.arange(steps)
    return np.where(t < lengths[:, None], lengths[:, None] - 1 - t, t)


def _time_major(a, reverse, dtype, order=None):
    """(batch, time, units) -> C-contiguous (time, batch, units), time reversed if asked (each
    sequence within its length where ``order`` is given: :func:`_order`)."""
    if order is not None:
        a = np.take_along_axis(a, order[:, :, None], axis=1)
        reverse = False
    a = a.transpose(1, 0, 2)
    return np.ascontiguousarray(a[::-1] if reverse else a, dtype=dtype)


def _batch_major(a, reverse, order=None, lengths=None):
    """The inverse of :func:`_time_major`: (time, batch, units) -> (batch, time, units) in
    input time order, zero past each sequence's length."""
    if order is not None:
        out = np.take_along_axis(a.transpose(1, 0, 2), order[:, :, None], axis=1)
    else:
        out = np.array((a[::-1] if reverse else a).transpose(1, 0, 2), order="C")  # a copy
    if lengths is not None:
        out[np.arange(a.shape[0]) >= lengths[:, None]] = 0.0
    return out


def _kernel(twins, work, threshold):
    """One of ``twins`` (a serial kernel and its parallel twin,
    :func:`~neurosim.kernels.threads.twins`) for a call of ``work`` multiply-adds (a step's
    products for the forward and backward kernels, whose threads start at every step), and its
    thread count: the parallel one where Numba has several threads and the work reaches
    ``threshold`` (:data:`~neurosim.kernels.recurrent.PARALLEL_WORK`, or
    :data:`~neurosim.kernels.recurrent.PASS_WORK` for one pass over the sequence)."""
    threads = kthreads.threads(work, threshold)
    return (twins[1], threads) if threads > 1 else (twins[0], 1)


def _sequence(cell, op, x, W, U, b, b_hn=None, h0=None, c0=None, lengths=None,
              return_sequences=True, reverse=False, return_state=False):
    """The op behind :func:`rnn`, :func:`lstm` and :func:`gru` (``op`` names it in errors):
    the whole sequence is one tape node whose backward runs BPTT in one kernel call.

    Feature-major inside (:func:`~neurosim.kernels.recurrent.recurrent_forward`): a step's
    arrays are (features, batch). The input products of all steps are made at once; ``lengths``
    (checked by :func:`_checked_lengths`) hold each sample's state after its last step, as
    PyTorch's packed sequences (outputs past a length are zero). With ``return_state`` the
    node's output packs along axis 1 the outputs (``time`` entries, none without
    ``return_sequences``), the final hidden state and, for the LSTM, the final cell state:
    (batch, time + 1 or 2, units)."""
    parents, units = _checked(op, cell, x, W, U, b, b_hn, h0, c0)
    x = parents[0]
    dtype = x.dtype
    n, steps, features = x.shape
    lengths = _checked_lengths(lengths, x.shape)
    order = _order(lengths, steps, reverse)
    lens = np.full(n, steps, np.int64) if lengths is None else lengths
    Wd, Ud, bd = (np.ascontiguousarray(p.data, dtype) for p in parents[1:4])
    width, small = Ud.shape[1], features <= kr.SMALL_INPUTS
    X = np.ascontiguousarray(_time_major(x.data, reverse, dtype, order).transpose(2, 0, 1))
    Xm = X.reshape(features, steps * n)                 # (F, T*B): every step at once
    P = workspace.take((width, steps, n), dtype)
    kernel, threads = _kernel((kr.input_products, kr.input_products_parallel),
                              width * features * steps * n, kr.PASS_WORK)
    kernel(Xm, Wd, bd, P.reshape(width, -1), threads)
    lstm_cell = cell == kr.LSTM        # kept for the backward pass, then reused (workspace)
    hs = workspace.take((units, steps + 1, n), dtype)
    hs[:, 0] = 0.0 if h0 is None else parents[5].data.T
    cs = workspace.take((steps + 1, units, n) if lstm_cell else (1, 1, 1), dtype)
    cs[0] = 0.0 if c0 is None else parents[6].data.T
    gates = workspace.take((steps, 4 * units, n) if kr.GATES[cell] > 1 else (1, 1, 1), dtype)
    tanh_c = workspace.take((steps, units, n) if lstm_cell else (1, 1, 1), dtype)
    lease = workspace.Lease(hs, cs, gates, tanh_c)
    bias_hn = np.zeros(1, dtype) if b_hn is None else parents[4].data.astype(dtype, copy=False)
    kernel, threads = _kernel((kr.recurrent_forward, kr.recurrent_forward_parallel),
                              width * units * n, kr.PARALLEL_WORK)
    kernel(cell, P, np.ascontiguousarray(Ud.T), bias_hn, lens, hs, cs, gates, tanh_c, threads)
    workspace.give(P)
    del P
    parts = []
    if return_sequences:
        parts.append(_batch_major(hs[:, 1:].transpose(1, 2, 0), reverse, order, lengths))
    if return_state or not return_sequences:
        parts.append(hs[:, -1].T[:, None])
    if return_state and lstm_cell:
        parts.append(cs[-1].T[:, None])
    packed = len(parts) > 1
    out = np.concatenate(parts, 1) if packed else parts[0] if return_sequences else \
        hs[:, -1].T.copy()

    def backward(g):
        hs, cs, gates, tanh_c = lease.arrays     # held by the graph, then back to the workspace
        g = g.astype(dtype, copy=False)
        if not packed:
            g = g if return_sequences else g[:, None]
        dc = np.zeros((units, n), dtype)
        if return_state and lstm_cell:
            dc[...] = g[:, -1].T
            g = g[:, :-1]
        dh = np.array(g[:, -1].T, order="C") if return_state or not return_sequences else \
            np.zeros((units, n), dtype)
        if return_sequences:
            gs = g[:, :steps]
            if lengths is not None:
                gs = gs * (np.arange(steps) < lengths[:, None])[:, :, None]
            dH = np.ascontiguousarray(_time_major(gs, reverse, dtype, order).transpose(0, 2, 1))
        else:
            dH = np.empty((0, units, n), dtype)
        # GRU: the recurrent pre-activations' gradients equal the input ones but in the
        # candidate block (times r), kept as one more block: D = [dP; dA_n]
        gru_cell = cell == kr.GRU
        D = workspace.take((width + (units if gru_cell else 0), steps, n), dtype)
        dP = D[:width]
        kernel, threads = _kernel((kr.recurrent_backward, kr.recurrent_backward_parallel),
                                  width * units * n, kr.PARALLEL_WORK)
        kernel(cell, dH, Ud, lens, hs, cs, gates, tanh_c, dP, D[width:], dh, dc, threads)
        del dH
        dPm = dP.reshape(width, -1)
        dAm = (D.reshape(width + units, -1)[:2 * units], D.reshape(width + units, -1)[width:]) \
            if gru_cell else (dPm,)
        gx = None
        if small:
            gx = np.empty((features if x.requires_grad else 0, steps * n), dtype)
            gW, gb = np.empty_like(Wd), np.empty_like(bd)
            kernel, threads = _kernel((kr.input_gradients, kr.input_gradients_parallel),
                                      width * (features + 1) * steps * n, kr.PASS_WORK)
            kernel(Xm, dPm, Wd, gx, gW, gb, threads)
        else:
            gx = gemm_large.product(Wd, dPm) if x.requires_grad else None
            gW, gb = gemm_large.product(Xm, dPm, trans_b=True), dPm.sum(axis=1)
        if x.requires_grad:
            gx = _batch_major(gx.reshape(features, steps, n).transpose(1, 2, 0), reverse, order)
        gU = None
        if parents[2].requires_grad:     # hs[:, :T] as one (H, T*B) matrix, rows T+1 steps apart
            before = np.lib.stride_tricks.as_strided(hs, (units, steps * n),
                                                     (hs.strides[0], hs.strides[2]))
            rows = None
            if gemm_large.preferred(units, steps * n, width):   # the own GEMM reads C-contiguous
                rows = workspace.take(before.shape, dtype)
                rows[...] = before
                before = rows
            gU = [gemm_large.product(before, d, trans_b=True) for d in dAm]
            gU = np.concatenate(gU, axis=1) if gru_cell else gU[0]
            if rows is not None:
                workspace.give(rows)
        gb_hn = None if b_hn is None else dAm[-1].sum(axis=1)
        workspace.give(D)
        return gx, gW, gU, gb, gb_hn, dh.T, dc.T
    kept = [p for p in parents if p is not None]
    return record(out, kept, lambda g: [d for d, p in zip(fpenv.call_flushed(backward, g),
                                                          parents) if p is not None])


_LENGTHS_DOC = """lengths : array_like, optional
        Steps of each sequence, (batch,) integers in [1, time], or a (batch, time) mask True on
        each sequence's first steps: outputs past a sequence's length are zero and its final
        state is the one after its last step (PyTorch's packed sequences; ``reverse`` runs each
        sequence from its last valid step)."""


def _with_state(packed, return_sequences, cell_state):
    """Split a packed :func:`_sequence` output into ``(outputs, h_T[, c_T])``."""
    if not return_sequences and not cell_state:
        return packed, packed
    steps = packed.shape[1] - 1 - cell_state
    h = _take(packed, steps)
    out = _take(packed, slice(0, steps)) if return_sequences else h
    return (out, h, _take(packed, steps + 1)) if cell_state else (out, h)


def rnn(x, W, U, b, h0=None, *, lengths=None, return_sequences=True, reverse=False,
        return_state=False, nonlinearity="tanh"):
    """Elman RNN ``h_t = tanh(x_t W + h_{t-1} U + b)`` (or ``relu``) over whole sequences,
    one op.

    Parameters
    ----------
    x : Tensor or array, (batch, time, features)
    W : (features, units); U : (units, units); b : (units,)
    h0 : (batch, units), optional
        Initial state (zeros by default).
    %s
    return_sequences : bool
        Return every state (batch, time, units), or only the last one (batch, units).
    reverse : bool
        Run from the last step to the first; the returned states stay in input time order
        (``out[:, t]`` has seen ``x[:, t:]``).
    return_state : bool
        Also return the final hidden state (batch, units), differentiable.
    nonlinearity : "tanh" or "relu"
        As PyTorch's ``nn.RNN(nonlinearity=)`` (the ReLU's derivative is 0 where ``h`` is 0).

    Returns
    -------
    Tensor, (batch, time, units) or (batch, units), in ``x``'s dtype; with ``return_state`` a
    pair ``(outputs, h_T)``.
    """
    cell = _RNN_CELLS[checks.choice(nonlinearity, "nonlinearity", tuple(_RNN_CELLS))]
    out = _sequence(cell, "rnn", x, W, U, b, h0=h0, lengths=lengths,
                    return_sequences=return_sequences, reverse=reverse, return_state=return_state)
    return _with_state(out, return_sequences, False) if return_state else out


_RNN_CELLS = {"tanh": kr.RNN, "relu": kr.RNN_RELU}


def _take(packed, index):
    """``packed[:, index]`` (a basic index) as an op whose backward scatters by assignment."""
    def backward(g):
        out = np.zeros_like(packed.data)
        out[:, index] = g
        return (out,)
    return record(packed.data[:, index], (packed,), backward)


def lstm(x, W, U, b, h0=None, c0=None, *, lengths=None, return_sequences=True, reverse=False,
         return_state=False):
    """Long short-term memory over whole sequences, one op (gates input, forget, cell, output).

    Parameters
    ----------
    x : Tensor or array, (batch, time, features)
    W : (features, 4 units); U : (units, 4 units); b : (4 units,)
    h0, c0 : (batch, units), optional
        Initial hidden and cell states (zeros by default).
    %s
    return_sequences, reverse : bool
        As for :func:`rnn`.
    return_state : bool
        Also return the final hidden and cell states, differentiable (a step-by-step
        controller, as the NTM's and the DNC's, carries both from one call to the next).

    Returns
    -------
    Tensor, (batch, time, units) or (batch, units): the hidden states ``h_t``; with
    ``return_state`` a triple ``(outputs, h_T, c_T)``, the states (batch, units) after the last
    step run (``h_T`` is ``outputs`` itself without ``return_sequences``).
    """
    out = _sequence(kr.LSTM, "lstm", x, W, U, b, h0=h0, c0=c0, lengths=lengths,
                    return_sequences=return_sequences, reverse=reverse, return_state=return_state)
    return _with_state(out, return_sequences, True) if return_state else out


def gru(x, W, U, b, b_hn, h0=None, *, lengths=None, return_sequences=True, reverse=False,
        return_state=False):
    """Gated recurrent unit over whole sequences, one op (PyTorch's form, see the module).

    Parameters
    ----------
    x : Tensor or array, (batch, time, features)
    W : (features, 3 units); U : (units, 3 units)
    b : (3 units,)
        Input biases of the reset, update and candidate blocks (PyTorch's ``b_ih + b_hh`` for
        the two gates, ``b_ih`` for the candidate).
    b_hn : (units,)
        Recurrent bias of the candidate, inside the reset gate (PyTorch's ``b_hh[2H:]``).
    h0 : (batch, units), optional
    %s
    return_sequences, reverse, return_state : bool
        As for :func:`rnn`.

    Returns
    -------
    Tensor, (batch, time, units) or (batch, units); with ``return_state`` a pair
    ``(outputs, h_T)``.
    """
    out = _sequence(kr.GRU, "gru", x, W, U, b, b_hn, h0, lengths=lengths,
                    return_sequences=return_sequences, reverse=reverse, return_state=return_state)
    return _with_state(out, return_sequences, False) if return_state else out


for _op in (rnn, lstm, gru):
    _op.__doc__ = _op.__doc__ % _LENGTHS_DOC


def orthogonal(generator, shape, fan_in, fan_out):
    """A random matrix with orthonormal rows or columns (QR of a Gaussian matrix, signs fixed
    so that the draw is uniform over orthogonal matrices); ``fan_in``, ``fan_out`` unused."""
    rows, cols = shape
    q, r = np.linalg.qr(generator.standard_normal((max(rows, cols), min(rows, cols))))
    q *= np.sign(np.diag(r))
    return q if rows >= cols else q.T


_OPS = {kr.RNN: rnn, kr.LSTM: lstm, kr.GRU: gru,
        kr.RNN_RELU: lambda *args, **options: rnn(*args, nonlinearity="relu", **options)}


class Recurrent(SequenceLayer):
    """Base of the recurrent layers: (batch, time, features) -> (batch, time, D*units) with
    ``return_sequences``, else (batch, D*units) (the last layer's final states), ``D`` 2 when
    ``bidirectional`` else 1.

    Parameters
    ----------
    units : int
        Hidden units per direction.
    num_layers : int
        Stacked layers; each one after the first reads the outputs of the one below.
    bidirectional : bool
        Each layer runs forwards and backwards in time, the outputs joined along the units
        (forward first), as PyTorch's ``bidirectional=True``.
    dropout : float
        Dropout rate on the outputs of every layer but the last, in training (PyTorch's).
    return_sequences : bool
        Output every step's hidden state, or only the final one.
    return_state : bool
        Also return the final states, as PyTorch: ``(outputs, h_n)`` (LSTM
        ``(outputs, (h_n, c_n))``), each (num_layers * D, batch, units), layer by layer, the
        forward direction first.
    reverse : bool
        Run backwards in time (outputs stay in input order); not with ``bidirectional``.
    layout : "neurosim" or "torch"
        Biases: one per gate block, ``b`` (and the GRU's ``b_hn``), or PyTorch's two, ``b_ih``
        and ``b_hh`` (their sum is the same model; trained, each receives the gradient, so
        optimisers move them as PyTorch's do: an Adam run from PyTorch's weights follows its
        trajectory only in this layout).
    bias : bool
        With False the layer has no biases (PyTorch's ``bias=False``).
    init : str or callable
        Initialiser of the input weights ``W`` (glorot_uniform by default).
    recurrent_init : str or callable
        Initialiser of each gate's (units, units) block of ``U`` (orthogonal by default).

    Parameters of layer ``k`` and direction ``d`` are named ``W``, ``U``, ``b`` (or ``b_ih``,
    ``b_hh``) with the suffix ``_l{k}`` for ``k > 0`` and ``_reverse`` for the backward
    direction; weights are stored ``x W`` ((inputs, G*units), PyTorch's ``weight_ih.T``), gate
    blocks in PyTorch's order. :meth:`load_torch_state` reads a PyTorch state dict.

    Call a built layer as ``layer(x, initial_state=None, lengths=None)``. The initial state is
    an array or Tensor (num_layers * D, batch, units) (or (batch, units) for one layer and one
    direction), for the LSTM a pair ``(h0, c0)`` (either may be None). ``lengths`` are each
    sequence's steps ((batch,) or a (batch, time) prefix mask), as PyTorch's packed sequences.
    """

    cell = None
    proj_size = 0     # LSTM(proj_size=P): the states carried and output are P wide

    @property
    def state_units(self):
        """Width of the hidden state per direction: ``proj_size`` if set, else ``units``."""
        return self.proj_size or self.units

    def __init__(self, units, *, num_layers=1, bidirectional=False, dropout=0.0,
                 return_sequences=False, return_state=False, reverse=False, layout="neurosim",
                 bias=True, init="glorot_uniform", recurrent_init=orthogonal):
        super().__init__()
        self.units = checks.integer(units, "units", low=1)
        self.num_layers = checks.integer(num_layers, "num_layers", low=1)
        self.dropout = checks.scalar(dropout, "dropout", low=0.0, high=1.0, high_open=True)
        self.bidirectional, self.reverse = bool(bidirectional), bool(reverse)
        if self.bidirectional and self.reverse:
            raise ValueError("reverse and bidirectional exclude each other (a bidirectional "
                             "layer runs both ways)")
        self.return_sequences, self.return_state = bool(return_sequences), bool(return_state)
        self.layout = checks.choice(layout, "layout", ("neurosim", "torch"))
        if not isinstance(bias, (bool, np.bool_)):
            raise TypeError(f"bias must be True or False; got {bias!r}")
        self.bias = bool(bias)
        self.init, self.recurrent_init = initialiser(init), initialiser(recurrent_init)

    @property
    def directions(self):
        """2 for a bidirectional layer, else 1."""
        return 2 if self.bidirectional else 1

    @staticmethod
    def suffix(layer, direction):
        """The name suffix of the parameters of ``layer`` (0-based) and ``direction`` (1:
        backward): ``""``, ``"_reverse"``, ``"_l1"``, ``"_l1_reverse"``, ..."""
        return ("" if layer == 0 else f"_l{layer}") + ("_reverse" if direction else "")

    def _build(self, shape, generator, dtype):
        if len(shape) != 2:
            raise ValueError(f"needs per-sample inputs (time, features); got {shape}")
        gates, h, r = kr.GATES[self.cell], self.units, self.state_units
        width = self.directions * r
        for k in range(self.num_layers):
            inputs = shape[1] if k == 0 else width
            for d in range(self.directions):
                s = self.suffix(k, d)
                self.add_param("W" + s, self.init(generator, (inputs, gates * h), inputs,
                                                  gates * h), dtype)
                self.add_param("U" + s, np.hstack([self.recurrent_init(generator, (r, h), r, h)
                                                   for _ in range(gates)]), dtype)
                for name, value in self._biases().items():
                    self.add_param(name + s, value, dtype)
                if self.proj_size:
                    self.add_param("W_hr" + s, self.init(generator, (h, r), h, r), dtype)
        if self.dropout > 0:
            self.generator = np.random.default_rng(generator.integers(2 ** 63))
        return (shape[0], width) if self.return_sequences else (width,)

    def _biases(self):
        """Initial biases by name (one layer and direction); none without ``bias``."""
        n = kr.GATES[self.cell] * self.units
        if not self.bias:
            return {}
        if self.layout == "torch":
            return {"b_ih": self._bias(), "b_hh": np.zeros(n)}
        out = {"b": self._bias()}
        if self.cell == kr.GRU:
            out["b_hn"] = np.zeros(self.units)
        return out

    def _bias(self):
        return np.zeros(kr.GATES[self.cell] * self.units)

    def _op_biases(self, s):
        """The op's ``b`` (and GRU ``b_hn``) of the parameters with suffix ``s``: in the torch
        layout ``b_ih + b_hh`` (GRU: ``b_hh``'s candidate block apart, as ``b_hn``); zeros
        (constants) without ``bias``."""
        p = self.params
        if not self.bias:
            dtype = p["W" + s].dtype
            return [np.zeros(kr.GATES[self.cell] * self.units, dtype)] + \
                ([np.zeros(self.units, dtype)] if self.cell == kr.GRU else [])
        if self.layout != "torch":
            return [p["b" + s]] + ([p["b_hn" + s]] if self.cell == kr.GRU else [])
        b_ih, b_hh = p["b_ih" + s], p["b_hh" + s]
        if self.cell != kr.GRU:
            return [b_ih + b_hh]
        h = self.units
        outside = np.repeat(np.array([1.0, 1.0, 0.0], b_hh.dtype), h)
        return [b_ih + b_hh * outside, b_hh[2 * h:]]

    def _initial(self, initial_state, batch):
        """The initial states as a list per (layer, direction) of ``{"h0": ..., "c0": ...}``."""
        count = self.num_layers * self.directions
        if initial_state is None:
            return [{}] * count
        if self.cell == kr.LSTM:
            if not isinstance(initial_state, (tuple, list)) or len(initial_state) != 2:
                raise TypeError("LSTM initial_state must be a pair (h0, c0); got "
                                f"{type(initial_state).__name__}")
            pairs = zip(("h0", "c0"), initial_state)
        else:
            pairs = [("h0", initial_state)]
        out = [{} for _ in range(count)]
        for name, value in pairs:
            if value is None:
                continue
            value = as_tensor(value)
            wanted = (count, batch, self.state_units if name == "h0" else self.units)
            if count == 1 and value.shape == wanted[1:]:
                out[0][name] = value
                continue
            if value.shape != wanted:
                shapes = f"{wanted[1:]} or " if count == 1 else ""
                raise ValueError(f"{self!r}: {name} must have shape {shapes}(num_layers * "
                                 f"directions, batch, units) = {wanted}; got {value.shape}")
            for i in range(count):
                out[i][name] = value[i]
        return out

    def forward(self, x, initial_state=None, lengths=None):
        return self._run(x, initial_state, lengths, self.return_sequences, self.return_state)

    def states(self, x, initial_state=None, lengths=None):
        """Every step's hidden state of the last layer (batch, time, D*units), whatever
        ``return_sequences``."""
        return self._run(self.checked_input(x), initial_state, lengths, True, False)

    def _run(self, x, initial_state, lengths, return_sequences, return_state):
        starts = self._initial(initial_state, x.shape[0])
        lengths = _checked_lengths(lengths, x.shape)
        op, lstm_cell = _OPS[self.cell], self.cell == kr.LSTM
        if self.proj_size:
            from .projected import lstm_projected as op
        finals_h, finals_c = [], []
        for k in range(self.num_layers):
            if k and self.dropout and self.training:
                x = norm.dropout(x, self.dropout, self.generator)
            last = k == self.num_layers - 1
            sequences = not last or return_sequences
            outs = []
            for d in range(self.directions):
                s = self.suffix(k, d)
                p = self.params
                res = op(x, p["W" + s], p["U" + s], *self._op_biases(s),
                         *([p["W_hr" + s]] if self.proj_size else []),
                         **starts[k * self.directions + d], lengths=lengths,
                         return_sequences=sequences, return_state=return_state,
                         reverse=bool(d) or self.reverse)
                if not return_state:
                    outs.append(res)
                    continue
                outs.append(res[0])
                finals_h.append(res[1])
                if lstm_cell:
                    finals_c.append(res[2])
            x = outs[0] if len(outs) == 1 else ops.concatenate(outs, axis=-1)
        if not return_state:
            return x
        h_n = ops.stack(finals_h)
        return (x, (h_n, ops.stack(finals_c))) if lstm_cell else (x, h_n)

    def load_torch_state(self, state):
        """Copy a PyTorch ``nn.RNN``/``nn.LSTM``/``nn.GRU`` state dict (``{name: array}``,
        NumPy arrays: ``{k: v.numpy() for k, v in module.state_dict().items()}``) into this
        built layer, in place; returns the layer. Works in both layouts (in the neurosim one
        the two biases are summed). No PyTorch import is needed."""
        self.load_state(torch_to_state(self, state))
        return self

    def __repr__(self):
        flags = "".join(f", {k}=True" for k in ("return_sequences", "return_state", "reverse",
                                                "bidirectional") if getattr(self, k))
        if self.num_layers > 1:
            flags += f", num_layers={self.num_layers}"
        if self.dropout:
            flags += f", dropout={self.dropout}"
        if self.layout != "neurosim":
            flags += f", layout={self.layout!r}"
        if not self.bias:
            flags += ", bias=False"
        if self.proj_size:
            flags += f", proj_size={self.proj_size}"
        if self.cell == kr.RNN_RELU:
            flags += ", nonlinearity='relu'"
        return f"{type(self).__name__}({self.units}{flags})"


class SimpleRNN(Recurrent):
    """Elman RNN layer ``h_t = tanh(x_t W + h_{t-1} U + b)`` (see :class:`Recurrent`); with
    ``nonlinearity="relu"`` ``h_t = relu(...)``, as PyTorch's ``nn.RNN(nonlinearity=)``."""

    cell = kr.RNN

    def __init__(self, units, *, nonlinearity="tanh", **options):
        super().__init__(units, **options)
        self.cell = _RNN_CELLS[checks.choice(nonlinearity, "nonlinearity", tuple(_RNN_CELLS))]


class LSTM(Recurrent):
    """LSTM layer (see :class:`Recurrent`); the forget gate's bias starts at
    ``forget_bias`` (1, so that memories are kept at first; in the torch layout on ``b_ih``),
    the other biases at 0. The initial state is a pair ``(h0, c0)`` (either may be None).
    ``proj_size=P`` (``0 < P < units``) projects the hidden state, PyTorch's
    ``h_t = (o * tanh(c_t)) W_hr`` (:mod:`neurosim.nn.projected`, one fused LSTM run):
    ``U`` is (P, 4 units), ``W_hr`` (units, P), the outputs and ``h`` P wide."""

    cell = kr.LSTM

    def __init__(self, units, *, forget_bias=1.0, proj_size=0, **options):
        super().__init__(units, **options)
        self.forget_bias = checks.scalar(forget_bias, "forget_bias")
        self.proj_size = checks.integer(proj_size, "proj_size", low=0, high=self.units - 1)

    def _bias(self):
        b = np.zeros(4 * self.units)
        b[self.units:2 * self.units] = self.forget_bias
        return b


class GRU(Recurrent):
    """GRU layer in PyTorch's form (reset gate after the recurrent product; see the module),
    with the candidate's recurrent bias ``b_hn`` beside ``b`` (see :class:`Recurrent`)."""

    cell = kr.GRU


__all__ = ["rnn", "lstm", "gru", "orthogonal", "Recurrent", "SimpleRNN", "LSTM", "GRU",
           "Bidirectional", "TimeDistributed", "from_torch", "torch_to_state"]
