"""Recurrent families (RNN, LSTM, GRU and their bidirectional forms, BiRNN): models built from
the recurrent layers of :mod:`neurosim.nn.recurrent`, two small sequence tasks, and the hidden
activity of a trained model over time as a Dataset.

Tasks: :func:`sequence_sum` (the benchmark's regression of a running sum, which needs memory)
and :func:`lookahead` (the output at step t is the input at t + shift, which needs the future:
a unidirectional network can only guess it, a bidirectional one can read it).
"""
import numpy as np

from .. import checks, record, rng
from ..nn.layers import Dense, Sequential
from ..nn.recurrent import GRU, LSTM, Bidirectional, Recurrent, SimpleRNN, TimeDistributed
from ..nn.tensor import no_grad

CELLS = {"rnn": SimpleRNN, "lstm": LSTM, "gru": GRU}
_FAMILY = {SimpleRNN: "RNN", LSTM: "LSTM", GRU: "GRU"}


def recurrent_network(cell, units, *, input_shape, outputs=1, bidirectional=False,
                      merge="concat", return_sequences=False, output="identity", num_layers=1,
                      dropout=0.0, layout="neurosim", seed=None, dtype=np.float64):
    """A recurrent layer (one or a stack) and a dense read-out, built.

    Parameters
    ----------
    cell : "rnn", "lstm" or "gru"
    units : int
        Hidden units (per direction).
    input_shape : (time, features)
        Per-sample input shape.
    outputs : int
        Width of the dense read-out.
    bidirectional : bool
        Wrap the layer in :class:`~neurosim.nn.recurrent.Bidirectional` (``merge`` "concat" or
        "sum").
    return_sequences : bool
        Read out every step (outputs (batch, time, outputs), through ``TimeDistributed``) or
        only the last state (outputs (batch, outputs)).
    output : str
        Activation of the read-out (identity gives regression outputs or logits).
    num_layers, dropout, layout
        Stacked layers, dropout between them and the bias layout (see
        :class:`~neurosim.nn.recurrent.Recurrent`); with ``num_layers > 1`` a bidirectional
        network is the layer's own ``bidirectional=True`` (PyTorch's form, outputs
        concatenated).
    seed, dtype
        Seed of the weights; float64 or float32.

    Returns
    -------
    Sequential
        Train it with ``fit`` (e.g. ``loss="mse"``).
    """
    kind = CELLS[checks.choice(cell, "cell", tuple(CELLS))]
    stacked = checks.integer(num_layers, "num_layers", low=1) > 1
    if stacked and bidirectional and merge != "concat":
        raise ValueError("a stacked bidirectional network concatenates the directions; "
                         f"merge={merge!r} needs num_layers=1")
    layer = kind(units, return_sequences=return_sequences, num_layers=num_layers,
                 dropout=dropout, layout=layout, bidirectional=bidirectional and stacked)
    if bidirectional and not stacked:
        layer = Bidirectional(layer, merge)
    head = Dense(checks.integer(outputs, "outputs", low=1), output)
    if return_sequences:
        head = TimeDistributed(head)
    if len(tuple(input_shape)) != 2:
        raise ValueError(f"input_shape must be (time, features); got {input_shape!r}")
    return Sequential(layer, head, input_shape=input_shape, seed=seed, dtype=dtype)


def sequence_sum(n, length=50, features=8, *, seed=None):
    """Sequences of standard normal inputs and the sum of their first feature.

    Returns ``X`` (n, length, features) and ``y`` (n, 1) with ``y = X[:, :, 0].sum(axis=1)``
    (variance ``length``): a regression that needs the whole sequence in memory.
    """
    n = checks.integer(n, "n", low=1)
    length = checks.integer(length, "length", low=1)
    features = checks.integer(features, "features", low=1)
    X = rng.generator(seed).standard_normal((n, length, features))
    return X, X[:, :, :1].sum(axis=1)


def lookahead(n, length=20, shift=3, *, seed=None):
    """Sequences of standard normal inputs and the same sequence ``shift`` steps ahead.

    Returns ``X`` (n, length, 1) and ``y`` (n, length, 1) with ``y[:, t] = X[:, t + shift]``
    (0 past the end). A causal (unidirectional) model cannot know ``X[:, t + shift]`` at step
    t: its best mean squared error is the target's variance, about ``1 - shift / length``; a
    bidirectional one can reach 0.
    """
    n = checks.integer(n, "n", low=1)
    length = checks.integer(length, "length", low=2)
    shift = checks.integer(shift, "shift", low=1, high=length - 1)
    X = rng.generator(seed).standard_normal((n, length, 1))
    y = np.zeros_like(X)
    y[:, :-shift] = X[:, shift:]
    return X, y


def hidden_states(model, X, lengths=None):
    """The hidden state of every step of ``model``'s first recurrent layer for inputs ``X``
    (of the top layer of a stack).

    Parameters
    ----------
    model : Sequential
        Built, with a recurrent (or bidirectional) layer.
    X : array_like, (n, time, features)
    lengths : array_like, optional
        Each sequence's steps (see :class:`~neurosim.nn.recurrent.Recurrent`); states past a
        sequence's length are zero.

    Returns
    -------
    xarray.Dataset
        ``hidden`` (sample, step, unit); bidirectional layers merged as in the model (concat:
        the forward units first). attrs ``family`` (RNN, LSTM, GRU or BiRNN) and ``layer``
        (the layer's position in the model).
    """
    X = checks.array(X, "X", ndim=3, dtype=model.dtype)
    for position, layer in enumerate(model.layers):
        if isinstance(layer, (Recurrent, Bidirectional)):
            break
    else:
        raise ValueError(f"model has no recurrent layer: {model!r}")
    with no_grad():
        x = X
        for before in model.layers[:position]:
            x = before.forward(x)
        hidden = layer.states(x, lengths=lengths).data
    inner = layer.layers[0] if isinstance(layer, Bidirectional) else layer
    both = isinstance(layer, Bidirectional) or inner.bidirectional
    family = "BiRNN" if both else _FAMILY[type(inner)]
    return record.dataset({"hidden": (("sample", "step", "unit"), hidden)},
                          {"sample": np.arange(hidden.shape[0]),
                           "step": np.arange(hidden.shape[1]),
                           "unit": np.arange(hidden.shape[2])},
                          family=family, model=repr(layer), params={"layer": position})


__all__ = ["SimpleRNN", "LSTM", "GRU", "Bidirectional", "TimeDistributed", "recurrent_network",
           "sequence_sum", "lookahead", "hidden_states", "CELLS"]
