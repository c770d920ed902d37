"""Recurrent ops and layers: Elman RNN, LSTM and GRU over whole sequences, and their
bidirectional form.

Each op runs a whole sequence as one node on the tape: a compiled kernel
(:mod:`neurosim.kernels.recurrent`) makes each step's products ``x_t W`` and ``h_{t-1} U`` (BLAS)
and the gate math, keeping what backpropagation through time needs, and the backward pass is
one more kernel call and the weight gradients' GEMMs over all steps. Sequences are batch-first,
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
import copy

import numpy as np

from .. import checks
from ..kernels import recurrent as kr
from ..kernels.blas import numpy_gemm
from . import ops
from .init import initialiser
from .layers import Layer, SequenceLayer
from .tensor import as_tensor, record


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


def _time_major(a, reverse, dtype):
    """(batch, time, units) -> C-contiguous (time, batch, units), time reversed if asked."""
    a = a.transpose(1, 0, 2)
    return np.ascontiguousarray(a[::-1] if reverse else a, dtype=dtype)


def _sequence(cell, op, x, W, U, b, b_hn=None, h0=None, c0=None, return_sequences=True,
              reverse=False, return_cell=False):
    """The op behind :func:`rnn`, :func:`lstm` and :func:`gru` (``op`` names it in errors):
    the whole sequence is one tape node whose backward runs BPTT in one kernel call. With
    ``return_cell`` (LSTM) the node's output is the outputs and the last cell state packed
    along axis 1: (batch, time + 1, units), or (batch, 2, units) without ``return_sequences``."""
    parents, units = _checked(op, cell, x, W, U, b, b_hn, h0, c0)
    x = parents[0]
    dtype = x.dtype
    n, steps, features = x.shape
    Wd, Ud, bd = (np.ascontiguousarray(p.data, dtype) for p in parents[1:4])
    xs = _time_major(x.data, reverse, dtype)
    hs = np.empty((steps + 1, n, units), dtype)
    hs[0] = 0.0 if h0 is None else parents[5].data
    cs = np.empty((steps + 1, n, units) if cell == kr.LSTM else (1, 1, 1), dtype)
    cs[0] = 0.0 if c0 is None else parents[6].data
    gates = np.empty((steps, n, kr.STORED[cell] * units), dtype)
    bias_hn = np.zeros(1, dtype) if b_hn is None else parents[4].data.astype(dtype, copy=False)
    gemm = numpy_gemm(dtype)
    kr.recurrent_forward(cell, xs, Wd, bd, Ud, bias_hn, hs, cs, gates, gemm)
    if return_sequences:
        out = np.ascontiguousarray((hs[:0:-1] if reverse else hs[1:]).transpose(1, 0, 2))
    else:
        out = hs[-1].copy()
    if return_cell:
        out = np.concatenate([out if return_sequences else out[:, None], cs[-1][:, None]], 1)

    def backward(g):
        g = g.astype(dtype, copy=False)
        dc = np.zeros((n, units), dtype)
        if return_cell:
            dc[...] = g[:, -1]
            g = g[:, :-1] if return_sequences else g[:, 0]
        if return_sequences:
            dH, dh = _time_major(g, reverse, dtype), np.zeros((n, units), dtype)
        else:
            dH, dh = np.empty((0, n, units), dtype), np.array(g, dtype)
        dP = np.empty((steps, n, Ud.shape[1]), dtype)
        dA = np.empty_like(dP) if cell == kr.GRU else dP
        kr.recurrent_backward(cell, dH, np.ascontiguousarray(Ud.T), hs, cs, gates, dP, dA, dh,
                              dc, gemm)
        dP2, dA2 = dP.reshape(steps * n, -1), dA.reshape(steps * n, -1)
        gx = None
        if x.requires_grad:
            gx = (dP2 @ Wd.T).reshape(steps, n, features)
            gx = np.ascontiguousarray((gx[::-1] if reverse else gx).transpose(1, 0, 2))
        gW = xs.reshape(steps * n, features).T @ dP2 if parents[1].requires_grad else None
        gU = hs[:-1].reshape(steps * n, units).T @ dA2 if parents[2].requires_grad else None
        gb_hn = None if b_hn is None else dA2[:, 2 * units:].sum(axis=0)
        return gx, gW, gU, dP2.sum(axis=0), gb_hn, dh, dc
    kept = [p for p in parents if p is not None]
    return record(out, kept, lambda g: [d for d, p in zip(backward(g), parents)
                                        if p is not None])


def rnn(x, W, U, b, h0=None, *, return_sequences=True, reverse=False):
    """Elman RNN ``h_t = tanh(x_t W + h_{t-1} U + b)`` over whole sequences, one op.

    Parameters
    ----------
    x : Tensor or array, (batch, time, features)
    W : (features, units); U : (units, units); b : (units,)
    h0 : (batch, units), optional
        Initial state (zeros by default).
    return_sequences : bool
        Return every state (batch, time, units), or only the last one (batch, units).
    reverse : bool
        Run from the last step to the first; the returned states stay in input time order
        (``out[:, t]`` has seen ``x[:, t:]``).

    Returns
    -------
    Tensor, (batch, time, units) or (batch, units), in ``x``'s dtype.
    """
    return _sequence(kr.RNN, "rnn", x, W, U, b, h0=h0, return_sequences=return_sequences,
                     reverse=reverse)


def _take(packed, index):
    """``packed[:, index]`` (a basic index) as an op whose backward scatters by assignment."""
    def backward(g):
        out = np.zeros_like(packed.data)
        out[:, index] = g
        return (out,)
    return record(packed.data[:, index], (packed,), backward)


def lstm(x, W, U, b, h0=None, c0=None, *, return_sequences=True, reverse=False,
         return_state=False):
    """Long short-term memory over whole sequences, one op (gates input, forget, cell, output).

    Parameters
    ----------
    x : Tensor or array, (batch, time, features)
    W : (features, 4 units); U : (units, 4 units); b : (4 units,)
    h0, c0 : (batch, units), optional
        Initial hidden and cell states (zeros by default).
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
    options = dict(h0=h0, c0=c0, return_sequences=return_sequences, reverse=reverse)
    if not return_state:
        return _sequence(kr.LSTM, "lstm", x, W, U, b, **options)
    packed = _sequence(kr.LSTM, "lstm", x, W, U, b, **options, return_cell=True)
    steps = packed.shape[1] - 1
    cell = _take(packed, steps)
    if not return_sequences:
        out = _take(packed, 0)
        return out, out, cell
    return _take(packed, slice(0, steps)), _take(packed, 0 if reverse else steps - 1), cell


def gru(x, W, U, b, b_hn, h0=None, *, return_sequences=True, reverse=False):
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
    return_sequences, reverse : bool
        As for :func:`rnn`.

    Returns
    -------
    Tensor, (batch, time, units) or (batch, units).
    """
    return _sequence(kr.GRU, "gru", x, W, U, b, b_hn, h0, return_sequences=return_sequences,
                     reverse=reverse)


def orthogonal(generator, shape, fan_in, fan_out):
    """A random matrix with orthonormal rows or columns (QR of a Gaussian matrix, signs fixed
    so that the draw is uniform over orthogonal matrices); ``fan_in``, ``fan_out`` unused."""
    rows, cols = shape
    q, r = np.linalg.qr(generator.standard_normal((max(rows, cols), min(rows, cols))))
    q *= np.sign(np.diag(r))
    return q if rows >= cols else q.T


class Recurrent(SequenceLayer):
    """Base of the recurrent layers: (batch, time, features) -> (batch, time, units) with
    ``return_sequences``, else (batch, units).

    Parameters
    ----------
    units : int
    return_sequences : bool
        Output every step's hidden state, or only the last.
    reverse : bool
        Run backwards in time (outputs stay in input order).
    init : str or callable
        Initialiser of the input weights ``W`` (glorot_uniform by default).
    recurrent_init : str or callable
        Initialiser of each gate's (units, units) block of ``U`` (orthogonal by default).

    Call a built layer as ``layer(x, initial_state=None)``; the initial state is an array or
    Tensor (batch, units), for the LSTM a pair ``(h0, c0)``.
    """

    cell = None

    def __init__(self, units, *, return_sequences=False, reverse=False, init="glorot_uniform",
                 recurrent_init=orthogonal):
        super().__init__()
        self.units = checks.integer(units, "units", low=1)
        self.return_sequences, self.reverse = bool(return_sequences), bool(reverse)
        self.init, self.recurrent_init = initialiser(init), initialiser(recurrent_init)

    def _build(self, shape, generator, dtype):
        if len(shape) != 2:
            raise ValueError(f"needs per-sample inputs (time, features); got {shape}")
        gates, h = kr.GATES[self.cell], self.units
        self.add_param("W", self.init(generator, (shape[1], gates * h), shape[1], gates * h),
                       dtype)
        self.add_param("U", np.hstack([self.recurrent_init(generator, (h, h), h, h)
                                       for _ in range(gates)]), dtype)
        self.add_param("b", self._bias(), dtype)
        return (shape[0], h) if self.return_sequences else (h,)

    def _bias(self):
        return np.zeros(kr.GATES[self.cell] * self.units)

    def _states(self, initial_state):
        return {"h0": initial_state}

    def forward(self, x, initial_state=None):
        return self._run(x, initial_state, self.return_sequences)

    def states(self, x, initial_state=None):
        """Every step's hidden state (batch, time, units), whatever ``return_sequences``."""
        return self._run(self.checked_input(x), initial_state, True)

    def _run(self, x, initial_state, return_sequences):
        p = self.params
        extra = {"b_hn": p["b_hn"]} if "b_hn" in p else {}
        return _sequence(self.cell, type(self).__name__, x, p["W"], p["U"], p["b"], **extra,
                         **self._states(initial_state), return_sequences=return_sequences,
                         reverse=self.reverse)

    def __repr__(self):
        flags = "".join(f", {k}=True" for k in ("return_sequences", "reverse") if getattr(self, k))
        return f"{type(self).__name__}({self.units}{flags})"


class SimpleRNN(Recurrent):
    """Elman RNN layer ``h_t = tanh(x_t W + h_{t-1} U + b)`` (see :class:`Recurrent`)."""

    cell = kr.RNN


class LSTM(Recurrent):
    """LSTM layer (see :class:`Recurrent`); the forget gate's bias starts at
    ``forget_bias`` (1, so that memories are kept at first), the other biases at 0. The
    initial state is a pair ``(h0, c0)`` (either may be None)."""

    cell = kr.LSTM

    def __init__(self, units, *, forget_bias=1.0, **options):
        super().__init__(units, **options)
        self.forget_bias = checks.scalar(forget_bias, "forget_bias")

    def _bias(self):
        b = np.zeros(4 * self.units)
        b[self.units:2 * self.units] = self.forget_bias
        return b

    def _states(self, initial_state):
        if initial_state is None:
            return {}
        if not isinstance(initial_state, (tuple, list)) or len(initial_state) != 2:
            raise TypeError("LSTM initial_state must be a pair (h0, c0); got "
                            f"{type(initial_state).__name__}")
        return {"h0": initial_state[0], "c0": initial_state[1]}


class GRU(Recurrent):
    """GRU layer in PyTorch's form (reset gate after the recurrent product; see the module),
    with the candidate's recurrent bias ``b_hn`` beside ``b`` (see :class:`Recurrent`)."""

    cell = kr.GRU

    def _build(self, shape, generator, dtype):
        out = super()._build(shape, generator, dtype)
        self.add_param("b_hn", np.zeros(self.units), dtype)
        return out


class Bidirectional(Layer):
    """A recurrent layer run forwards and a copy of it run backwards in time, merged.

    Parameters
    ----------
    layer : Recurrent
        Its settings (units, return_sequences, initialisers) serve both directions; the
        backward copy draws its own weights.
    merge : "concat" or "sum"
        Join the two outputs along the units (2 units wide) or add them.

    With ``return_sequences``, ``out[:, t]`` has seen the whole sequence: ``x[:, :t+1]``
    forwards and ``x[:, t:]`` backwards; otherwise each direction's final state is returned.
    ``initial_state`` is a pair (forward state, backward state).
    """

    def __init__(self, layer, merge="concat"):
        super().__init__()
        if not isinstance(layer, Recurrent):
            raise TypeError(f"Bidirectional wraps a recurrent layer (SimpleRNN, LSTM, GRU); got "
                            f"{type(layer).__name__}")
        self.merge = checks.choice(merge, "merge", ("concat", "sum"))
        backward = copy.copy(layer)
        backward.params, backward.reverse = {}, not layer.reverse
        self.layers = [layer, backward]

    def _build(self, shape, generator, dtype):
        out = [layer.build(shape, generator, dtype) for layer in self.layers][0]
        return out[:-1] + (2 * out[-1],) if self.merge == "concat" else out

    def __call__(self, x, initial_state=None):
        return self.forward(self.layers[0].checked_input(x), initial_state)

    def forward(self, x, initial_state=None):
        return self._merged([layer.forward for layer in self.layers], x, initial_state)

    def states(self, x, initial_state=None):
        """Every step's merged hidden state (batch, time, 2 units or units)."""
        x = self.layers[0].checked_input(x)
        return self._merged([layer.states for layer in self.layers], x, initial_state)

    def _merged(self, runs, x, initial_state):
        states = (None, None) if initial_state is None else initial_state
        if not isinstance(states, (tuple, list)) or len(states) != 2:
            raise TypeError("Bidirectional initial_state must be a pair (forward state, "
                            f"backward state); got {type(states).__name__}")
        outs = [run(x, s) for run, s in zip(runs, states)]
        return ops.concatenate(outs, axis=-1) if self.merge == "concat" else outs[0] + outs[1]

    def __repr__(self):
        return f"Bidirectional({self.layers[0]!r}, merge={self.merge!r})"


class TimeDistributed(Layer):
    """A layer applied to every time step: (batch, time, *shape) -> (batch, time, *out), e.g.
    ``TimeDistributed(Dense(1))`` after a recurrent layer with ``return_sequences``."""

    def __init__(self, layer):
        super().__init__()
        if not isinstance(layer, Layer):
            raise TypeError(f"TimeDistributed wraps a Layer; got {type(layer).__name__}")
        self.layers = [layer]

    def _build(self, shape, generator, dtype):
        if len(shape) < 2:
            raise ValueError(f"needs per-sample inputs (time, ...); got {shape}")
        return (shape[0],) + self.layers[0].build(shape[1:], generator, dtype)

    def forward(self, x):
        n, steps = x.shape[:2]
        y = self.layers[0].forward(ops.reshape(x, (n * steps,) + x.shape[2:]))
        return ops.reshape(y, (n, steps) + y.shape[1:])

    def __repr__(self):
        return f"TimeDistributed({self.layers[0]!r})"


__all__ = ["rnn", "lstm", "gru", "orthogonal", "Recurrent", "SimpleRNN", "LSTM", "GRU",
           "Bidirectional", "TimeDistributed"]
