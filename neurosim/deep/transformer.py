"""Attention networks (AN): Transformer encoders built from the attention layers of
:mod:`neurosim.nn.attention`, sequence tasks that need attention, and the attention weights of
a trained model as a Dataset.

Tasks: :func:`key_value_retrieval` (find the value stored under a queried key: content-based
addressing, which a pooled or position-blind read-out cannot do) and :func:`reverse_sequences`
(output the sequence backwards: position-based addressing, through the positional encoding).
"""
import numpy as np

from .. import checks, record, rng
from ..nn import ops
from ..nn.attention import (MultiHeadAttention, PositionalEncoding, SequencePooling,
                            TransformerEncoderBlock)
from ..nn.layers import Dense, LayerNorm, Sequential
from ..nn.recurrent import TimeDistributed
from ..nn.tensor import Tensor, no_grad


def transformer_encoder(d_model, heads, depth=1, *, input_shape, outputs, ff_units=None,
                        dropout=0.0, positional="sinusoidal", causal=False, norm_first=True,
                        pool="mean", output="identity", attn_mask=None, seed=None,
                        dtype=np.float64):
    """A Transformer encoder with a read-out, built.

    Layers: a position-wise dense embedding of the inputs to ``d_model`` features, a
    positional encoding, ``depth`` :class:`~neurosim.nn.attention.TransformerEncoderBlock`
    (and a final layer norm when they are pre-norm), then either a pooling over the steps and
    a dense read-out (sequence classification or regression) or a dense read-out at every
    step (``pool=None``).

    Parameters
    ----------
    d_model, heads, depth : int
        Width of the encoder, attention heads per block (dividing ``d_model``), blocks.
    input_shape : (time, features)
        Per-sample input shape.
    outputs : int
        Width of the read-out (classes for logits, or regression targets).
    ff_units : int, optional
        Hidden units of each block's feed-forward network (4 d_model by default).
    dropout : float
        In every block (see the block).
    positional : "sinusoidal", "learned" or None
        The positional encoding; None leaves the encoder blind to order (permutation
        equivariant).
    causal : bool
        Causal self-attention in every block.
    norm_first : bool
        Pre-norm blocks (True) or post-norm (False, PyTorch's default).
    pool : "mean", "last" or None
        How the steps are read out: their mean, the last step (after a causal encoder the
        only one that has seen everything), or each step (outputs (batch, time, outputs)).
    output : str
        Activation of the read-out (identity gives logits or regression outputs).
    attn_mask : bool or float array, optional
        A fixed self-attention mask of every block, in PyTorch's ``attn_mask`` semantics
        (:func:`~neurosim.nn.attention.attention_mask`: boolean True masks a pair out, floats
        are added to the scores), e.g. a local window (time, time).
    seed, dtype
        Seed of the weights and dropout masks; float64 or float32.

    Returns
    -------
    Sequential
        Outputs (batch, outputs), or (batch, time, outputs) with ``pool=None``. Train it with
        ``fit`` (``loss="cross_entropy"`` after pooling, :func:`per_step_cross_entropy` per
        step, or ``"mse"``). ``fit(model, X, y, lengths=)``, ``predict`` and ``model(x,
        lengths=)`` take each sequence's steps (padded at the end): every block masks the
        padding's keys and zeroes its padded steps, the pooling reads the valid steps only (and
        a per-step read-out's loss only those), so each sequence gets what it gets alone.
    """
    input_shape = tuple(input_shape)
    if len(input_shape) != 2:
        raise ValueError(f"input_shape must be (time, features); got {input_shape!r}")
    d_model = checks.integer(d_model, "d_model", low=1)
    heads = checks.integer(heads, "heads", low=1)
    if d_model % heads:
        raise ValueError(f"d_model ({d_model}) must be divisible by heads ({heads})")
    positional = checks.choice(positional, "positional", ("sinusoidal", "learned", None))
    pool = checks.choice(pool, "pool", ("mean", "last", None))
    layers = [TimeDistributed(Dense(d_model))]
    if positional is not None:
        layers.append(PositionalEncoding(positional))
    layers += [TransformerEncoderBlock(heads, ff_units, dropout=dropout, norm_first=norm_first,
                                       causal=causal, attn_mask=attn_mask)
               for _ in range(checks.integer(depth, "depth", low=1))]
    if norm_first:
        layers.append(LayerNorm())
    head = Dense(checks.integer(outputs, "outputs", low=1), output)
    layers += [SequencePooling(pool), head] if pool else [TimeDistributed(head)]
    return Sequential(*layers, input_shape=input_shape, seed=seed, dtype=dtype)


def per_step_cross_entropy(logits, labels):
    """Softmax cross-entropy at every step, mean over batch and steps (nats).

    ``logits`` (batch, time, classes); ``labels`` int (batch, time). A loss for ``fit``.
    """
    logits = ops.reshape(logits, (-1, logits.shape[-1]))
    labels = np.asarray(labels.data if isinstance(labels, Tensor) else labels)
    return ops.softmax_cross_entropy(logits, labels.astype(np.int64).reshape(-1))


def key_value_retrieval(n, pairs=6, keys=12, values=8, *, seed=None):
    """Sequences of key-value pairs followed by a query key; the target is the queried value.

    Each of the first ``pairs`` steps holds a one-hot key (distinct within a sequence) beside a
    one-hot value; the last step holds the query, one of those keys, with a query flag.

    Returns
    -------
    X : (n, pairs + 1, keys + values + 1)
        Features: key one-hot, value one-hot, query flag.
    y : int (n,)
        The value stored under the query key, in ``[0, values)``; chance accuracy is
        ``1 / values``.
    """
    n = checks.integer(n, "n", low=1)
    keys = checks.integer(keys, "keys", low=1)
    pairs = checks.integer(pairs, "pairs", low=1, high=keys)
    values = checks.integer(values, "values", low=2)
    g = rng.generator(seed)
    stored = np.argsort(g.random((n, keys)), axis=1)[:, :pairs]
    contents = g.integers(values, size=(n, pairs))
    asked = g.integers(pairs, size=n)
    rows = np.arange(n)
    X = np.zeros((n, pairs + 1, keys + values + 1))
    X[rows[:, None], np.arange(pairs), stored] = 1.0
    X[rows[:, None], np.arange(pairs), keys + contents] = 1.0
    X[rows, pairs, stored[rows, asked]] = 1.0
    X[:, pairs, -1] = 1.0
    return X, contents[rows, asked]


def reverse_sequences(n, length=8, symbols=6, *, seed=None):
    """Random symbol sequences and the same sequences backwards.

    Returns ``X`` (n, length, symbols) one-hot and ``y`` int (n, length) with
    ``y[:, t] = argmax X[:, length - 1 - t]``: step t must find step ``length - 1 - t``, which
    only the positional encoding tells apart (chance accuracy ``1 / symbols``).
    """
    n = checks.integer(n, "n", low=1)
    length = checks.integer(length, "length", low=2)
    symbols = checks.integer(symbols, "symbols", low=2)
    s = rng.generator(seed).integers(symbols, size=(n, length))
    return np.eye(symbols)[s], s[:, ::-1].copy()


def attention_maps(model, X, batch_size=256, lengths=None):
    """The attention weights of every multi-head attention layer of ``model`` for inputs ``X``.

    Parameters
    ----------
    model : Sequential
        Built, with :class:`~neurosim.nn.attention.MultiHeadAttention` layers (also inside
        encoder blocks); run in evaluation mode, no gradients.
    X : array_like, (n, time, features)
    batch_size : int
        Samples per forward pass.
    lengths : array_like (n,), optional
        Each sequence's steps (padded at the end): no step attends to padding.

    Returns
    -------
    xarray.Dataset
        ``weights`` (layer, sample, head, query, key): the weight each query step gives each
        key step (rows sum to 1). attrs ``family`` "AN".
    """
    X = checks.array(X, "X", ndim=3, dtype=model.dtype)
    found = _attention_layers(model)
    if not found:
        raise ValueError(f"model has no attention layer: {model!r}")
    batch_size = checks.integer(batch_size, "batch_size", low=1)
    mode = model.training
    model.eval()
    batches = []
    try:
        with no_grad():
            for start in range(0, len(X), batch_size):
                model(X[start:start + batch_size], lengths=None if lengths is None else
                      lengths[start:start + batch_size])
                batches.append(np.stack([layer.weights for layer in found]))
    finally:
        model.train(mode)
    weights = np.concatenate(batches, axis=1)
    return record.dataset({"weights": (("layer", "sample", "head", "query", "key"), weights)},
                          {d: np.arange(s) for d, s in zip(("layer", "sample", "head", "query",
                                                            "key"), weights.shape)},
                          family="AN", model=repr(model))


def _attention_layers(layer):
    if isinstance(layer, MultiHeadAttention):
        return [layer]
    return [found for sub in layer.layers for found in _attention_layers(sub)]


__all__ = ["transformer_encoder", "per_step_cross_entropy", "key_value_retrieval",
           "reverse_sequences", "attention_maps", "MultiHeadAttention", "PositionalEncoding",
           "TransformerEncoderBlock", "SequencePooling"]
