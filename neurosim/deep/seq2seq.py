"""Encoder-decoder RNNs with attention (AN): Bahdanau, Cho and Bengio's additive attention
(2015, "Neural machine translation by jointly learning to align and translate") and Luong,
Pham and Manning's multiplicative attention (2015, "Effective approaches to attention-based
neural machine translation", the "dot" and "general" scores), sequence-to-sequence tasks made
here (reversal, sorting), and the alignments (decoder step x encoder step) as a Dataset.

The encoder embeds the source tokens and runs a GRU or LSTM over them (both directions,
concatenated, where asked: Bahdanau's encoder is bidirectional); its outputs are the
annotations ``h_j``. The decoder runs one step at a time with the per-step ops of
:mod:`neurosim.nn.recurrent` and the attention ops of :mod:`neurosim.nn.attention`:

- additive (Bahdanau): at step i the previous state ``s_{i-1}`` scores every annotation,
  ``e_ij = v . tanh(s_{i-1} W_a + b_a + h_j U_a)``; the context ``c_i`` and the previous
  output's embedding feed the RNN, ``s_i = RNN([y_{i-1}; c_i], s_{i-1})``, and the logits are
  a dense map of ``[s_i; c_i; y_{i-1}]``. ``s_0 = tanh(W_s h_1 + b_s)``, ``h_1`` the backward
  encoder's first state (the forward encoder's last state when the encoder is one way).
- dot and general (Luong): the RNN steps first, ``h_i = RNN([y_{i-1}; h~_{i-1}], h_{i-1})``
  (input feeding), then ``h_i`` scores the annotations (``h_i . h_j``, or ``h_i . h_j W_a``),
  the attentional state is ``h~_i = tanh([c_i; h_i] W_c + b_c)`` and the logits a dense map of
  it. The decoder starts from the encoder's final state(s).

Training is teacher-forced: the decoder reads the target's previous token (a start symbol at
step 0). :meth:`Seq2Seq.predict` decodes greedily, feeding back its own arg-max tokens.
"""
import numpy as np

from .. import checks, record, rng
from ..nn import ops
from ..nn.attention import additive_attention, dot_attention
from ..nn.init import initialiser
from ..nn.layers import Layer
from ..nn.recurrent import gru, lstm, orthogonal
from ..nn.tensor import Tensor, no_grad
from ..nn.train import fit as _fit
from .transformer import per_step_cross_entropy

ATTENTION = ("additive", "dot", "general")
"""The attention scores of :class:`Seq2Seq`."""


def _tokens(a, name, vocab, steps=None):
    """Integer token array (n, steps) in ``[0, vocab)``, checked."""
    a = np.asarray(a)
    if a.ndim != 2 or a.shape[1] < 1 or len(a) < 1:
        raise ValueError(f"{name} must be 2-D (sequences, steps) with at least one of each; "
                         f"got shape {a.shape}")
    if steps is not None and a.shape[1] != steps:
        raise ValueError(f"{name} must have {steps} steps; got shape {a.shape}")
    if not (np.issubdtype(a.dtype, np.integer) or
            (np.issubdtype(a.dtype, np.floating) and np.all(np.isfinite(a)) and
             np.all(a == np.round(a)))):
        raise TypeError(f"{name} must hold integer tokens; got dtype {a.dtype}")
    a = a.astype(np.int64)
    if a.min() < 0 or a.max() >= vocab:
        raise ValueError(f"{name} tokens must lie in [0, {vocab}) (the vocabulary); got values "
                         f"from {a.min()} to {a.max()}")
    return a


class Seq2Seq(Layer):
    """An encoder-decoder RNN with attention: source tokens (batch, S) -> logits over the
    target vocabulary at every target step (batch, T, target_vocab).

    Parameters
    ----------
    source_vocab, target_vocab : int
        Sizes of the two vocabularies (tokens ``0 .. vocab - 1``; the decoder's start symbol
        is an extra embedding row).
    units : int
        Units of each encoder direction. The decoder has as many units as the annotations are
        wide (``2 units`` with a bidirectional encoder).
    embedding : int
        Width of the token embeddings.
    attention : "additive", "dot" or "general"
        Bahdanau's additive score or Luong's multiplicative ones (see the module).
    cell : "gru" or "lstm", optional
        Of encoder and decoder; the paper's by default (GRU for additive, LSTM otherwise).
    bidirectional : bool, optional
        Of the encoder; the paper's by default (True for additive, False otherwise).
    attention_units : int, optional
        Width of the additive score's hidden layer (the decoder's units by default).
    pad : int, optional
        A source token that marks padding (variable-length sources, as :func:`date_task`'s):
        the decoder gives it no attention.
    init : str or callable
        Initialiser of the input weight matrices (recurrent ones orthogonal, biases zero, an
        LSTM's forget bias 1, embeddings N(0, 1)).
    seed : int, optional
        Of the initial weights (drawn when :meth:`fit` first builds the model).

    The model's input, as :func:`~neurosim.nn.train.fit` feeds it, is the source and the
    target side by side, (batch, S + T) (:meth:`pack`); :meth:`fit` packs them. After a call
    ``weights`` holds the attention weights (batch, T, S).
    """

    family = "AN"

    def __init__(self, source_vocab, target_vocab, *, units=64, embedding=32,
                 attention="additive", cell=None, bidirectional=None, attention_units=None,
                 pad=None, init="glorot_uniform", seed=None):
        super().__init__()
        self.seed = seed
        self.source_vocab = checks.integer(source_vocab, "source_vocab", low=1)
        self.target_vocab = checks.integer(target_vocab, "target_vocab", low=1)
        self.units = checks.integer(units, "units", low=1)
        self.embedding = checks.integer(embedding, "embedding", low=1)
        self.attention = checks.choice(attention, "attention", ATTENTION)
        additive = self.attention == "additive"
        self.cell = checks.choice(cell or ("gru" if additive else "lstm"), "cell",
                                  ("gru", "lstm"))
        self.bidirectional = additive if bidirectional is None else bool(bidirectional)
        self.decoder_units = self.units * (2 if self.bidirectional else 1)
        self.attention_units = self.decoder_units if attention_units is None else \
            checks.integer(attention_units, "attention_units", low=1)
        self.pad = None if pad is None else checks.integer(pad, "pad", low=0,
                                                           high=self.source_vocab - 1)
        self.init = initialiser(init)
        self.source_steps = self.weights = None
        self.dtype = np.dtype(np.float64)

    # ------------------------------------------------------------ parameters
    def _rnn_params(self, name, fan_in, units, generator, dtype):
        gates = 4 if self.cell == "lstm" else 3
        self.add_param(f"W_{name}", self.init(generator, (fan_in, gates * units), fan_in,
                                              gates * units), dtype)
        self.add_param(f"U_{name}", np.hstack([orthogonal(generator, (units, units), units,
                                                          units) for _ in range(gates)]), dtype)
        bias = np.zeros(gates * units)
        if self.cell == "lstm":
            bias[units:2 * units] = 1.0
        self.add_param(f"b_{name}", bias, dtype)
        if self.cell == "gru":
            self.add_param(f"bhn_{name}", np.zeros(units), dtype)

    def _dense_params(self, name, fan_in, fan_out, generator, dtype, bias=True):
        self.add_param(f"W_{name}", self.init(generator, (fan_in, fan_out), fan_in, fan_out),
                       dtype)
        if bias:
            self.add_param(f"b_{name}", np.zeros(fan_out), dtype)

    def _build(self, shape, generator, dtype):
        if len(shape) != 1 or self.source_steps is None or shape[0] <= self.source_steps:
            raise ValueError(f"input shape must be (source_steps + target_steps,) with "
                             f"source_steps = {self.source_steps} set (by fit or pack); got "
                             f"{shape}")
        e, u, d, a = self.embedding, self.units, self.decoder_units, self.attention_units
        self.add_param("E_source", generator.standard_normal((self.source_vocab, e)), dtype)
        self.add_param("E_target", generator.standard_normal((self.target_vocab + 1, e)), dtype)
        for direction in ("forward", "backward")[:1 + self.bidirectional]:
            self._rnn_params(f"encoder_{direction}", e, u, generator, dtype)
        self._rnn_params("decoder", e + d, d, generator, dtype)
        if self.attention == "additive":
            self._dense_params("query", d, a, generator, dtype)
            self._dense_params("keys", d, a, generator, dtype, bias=False)
            self.add_param("v", self.init(generator, (a, 1), a, 1)[:, 0], dtype)
            self._dense_params("init", u, d, generator, dtype)
            self._dense_params("output", 2 * d + e, self.target_vocab, generator, dtype)
        else:
            if self.attention == "general":
                self._dense_params("keys", d, d, generator, dtype, bias=False)
            self._dense_params("combine", 2 * d, d, generator, dtype)
            self._dense_params("output", d, self.target_vocab, generator, dtype)
        self.dtype = np.dtype(dtype)
        return (shape[0] - self.source_steps, self.target_vocab)

    # ------------------------------------------------------------ the network
    def _rnn(self, name, x, h0=None, c0=None, reverse=False, sequences=True):
        """The encoder's or decoder's RNN over ``x`` (batch, time, features): outputs and
        the final state (``(h, c)`` for an LSTM)."""
        p = self.params
        W, U, b = p[f"W_{name}"], p[f"U_{name}"], p[f"b_{name}"]
        if self.cell == "gru":
            out = gru(x, W, U, b, p[f"bhn_{name}"], h0, return_sequences=sequences,
                      reverse=reverse)
            return out, (out if not sequences else None)
        out, h, c = lstm(x, W, U, b, h0, c0, return_sequences=sequences, reverse=reverse,
                         return_state=True)
        return out, (h, c)

    def encode(self, source):
        """Annotations (batch, S, decoder_units) Tensor and the decoder's initial state."""
        p = self.params
        x = ops.getitem(p["E_source"], source)
        out, final = self._rnn("encoder_forward", x)
        if not self.bidirectional:
            annotations = out
            if self.cell == "gru":
                last = ops.getitem(out, (slice(None), -1))
                final = last
        else:
            back, back_final = self._rnn("encoder_backward", x, reverse=True)
            annotations = ops.concatenate([out, back], axis=2)
            if self.cell == "gru":
                final = ops.concatenate([ops.getitem(out, (slice(None), -1)),
                                         ops.getitem(back, (slice(None), 0))], axis=1)
            else:
                final = tuple(ops.concatenate([f, b], axis=1) for f, b in zip(final, back_final))
        if self.attention == "additive":
            first = ops.getitem(annotations, (slice(None), 0 if self.bidirectional else -1,
                                              slice(self.units, None) if self.bidirectional
                                              else slice(None)))
            h = ops.tanh(ops.dense(first, p["W_init"], p["b_init"]))
            final = h if self.cell == "gru" else (h, np.zeros(h.shape, h.dtype))
        return annotations, final

    def _step(self, inputs, state):
        """One decoder RNN step: (output (batch, units), new state)."""
        x = ops.reshape(inputs, (inputs.shape[0], 1, inputs.shape[1]))
        if self.cell == "gru":
            out, _ = self._rnn("decoder", x, state, sequences=False)
            return out, out
        out, (h, c) = self._rnn("decoder", x, *state, sequences=False)
        return h, (h, c)

    def decode(self, source, target=None, steps=None):
        """Run the model: teacher-forced on ``target`` (batch, T) when given, else greedy for
        ``steps`` steps. Returns logits (batch, T, target_vocab) Tensor, the attention
        weights (batch, T, S) and the tokens fed back (the greedy predictions; for teacher
        forcing the arg-max of the logits)."""
        p = self.params
        annotations, state = self.encode(source)
        n = len(source)
        additive = self.attention == "additive"
        if additive:
            keys = ops.dense(annotations, p["W_keys"])
        else:
            keys = ops.dense(annotations, p["W_keys"]) if "W_keys" in p else annotations
        steps = target.shape[1] if target is not None else steps
        mask = None if self.pad is None else source == self.pad
        previous = np.full(n, self.target_vocab)                          # the start symbol
        attentional = np.zeros((n, self.decoder_units), annotations.dtype)
        features, weights, tokens = [], [], []
        for i in range(steps):
            embedded = ops.getitem(p["E_target"], previous)
            h = state if self.cell == "gru" else state[0]
            if additive:
                query = ops.dense(h, p["W_query"], p["b_query"])
                context, w = additive_attention(query, keys, annotations, p["v"], mask)
                h, state = self._step(ops.concatenate([embedded, context], axis=1), state)
                feature = ops.concatenate([h, context, embedded], axis=1)
            else:
                h, state = self._step(ops.concatenate([embedded, attentional], axis=1), state)
                context, w = dot_attention(h, keys, annotations, mask)
                attentional = ops.tanh(ops.dense(ops.concatenate([context, h], axis=1),
                                                 p["W_combine"], p["b_combine"]))
                feature = attentional
            features.append(feature)
            weights.append(w)
            if target is not None:
                previous = target[:, i]
            else:
                with no_grad():
                    logits = ops.dense(feature, p["W_output"], p["b_output"]).data
                previous = logits.argmax(axis=1)
            tokens.append(previous)
        logits = ops.dense(ops.stack(features, axis=1), p["W_output"], p["b_output"])
        if target is not None:
            tokens = [logits.data[:, i].argmax(axis=1) for i in range(steps)]
        return logits, np.stack(weights, 1), np.stack(tokens, 1)

    def forward(self, x):
        data = x.data if isinstance(x, Tensor) else np.asarray(x)
        source = data[:, :self.source_steps].astype(np.int64)
        target = data[:, self.source_steps:].astype(np.int64)
        logits, self.weights, _ = self.decode(source, target)
        return logits

    # ------------------------------------------------------------ user API
    def build_for(self, source_steps, target_steps, dtype=np.float64):
        """Build the model for sequences of these lengths (as :meth:`fit` does at its first
        call, with the constructor's ``seed``), e.g. to :meth:`load` saved weights; returns
        the model."""
        source_steps = checks.integer(source_steps, "source_steps", low=1)
        target_steps = checks.integer(target_steps, "target_steps", low=1)
        self.source_steps = source_steps
        self.build((source_steps + target_steps,), rng.generator(self.seed), dtype)
        return self

    def pack(self, source, target):
        """Source (n, S) and target (n, T) tokens side by side as the model's input
        (n, S + T), checked (vocabularies, and the built model's steps; before the model is
        built, S becomes its source length)."""
        source = _tokens(source, "source", self.source_vocab,
                         self.source_steps if self.built else None)
        target_steps = self.output_shape[0] if self.built else None
        target = _tokens(target, "target", self.target_vocab, target_steps)
        if len(source) != len(target):
            raise ValueError(f"source and target must have as many sequences; got "
                             f"{len(source)} and {len(target)}")
        if not self.built:                    # the lengths are fixed when the model is built
            self.source_steps = source.shape[1]
        return np.concatenate([source, target], axis=1).astype(self.dtype)

    def fit(self, source, target, *, validation=None, dtype=np.float64, **options):
        """Train with teacher forcing against per-step cross-entropy (nats); ``validation`` a
        pair (source, target); other options as :func:`~neurosim.nn.train.fit`. Builds the
        model for these sequence lengths (with ``dtype``) at the first call."""
        X = self.pack(source, target)
        if not self.built:
            self.build_for(self.source_steps, X.shape[1] - self.source_steps, dtype)
            X = X.astype(self.dtype)
        Y = X[:, self.source_steps:].astype(np.int64)
        if validation is not None:
            if not isinstance(validation, (tuple, list)) or len(validation) != 2:
                raise TypeError("validation must be a pair (source, target)")
            Xv = self.pack(*validation)
            validation = (Xv, Xv[:, self.source_steps:].astype(np.int64))
        return _fit(self, X, Y, loss=per_step_cross_entropy, validation=validation, **options)

    def predict(self, source, steps=None, batch_size=256):
        """Greedy decoding: the arg-max token at every step, fed back as the next input.

        ``source`` (n, S) tokens; ``steps`` target steps (the trained length by default).
        Returns int64 (n, steps)."""
        return self._greedy(source, steps, batch_size)[0]

    def _greedy(self, source, steps, batch_size):
        if not self.built:
            raise ValueError(f"{self!r} is not built: fit it first")
        source = _tokens(source, "source", self.source_vocab)
        steps = self.output_shape[0] if steps is None else checks.integer(steps, "steps",
                                                                          low=1)
        batch_size = checks.integer(batch_size, "batch_size", low=1)
        tokens, weights = [], []
        with no_grad():
            for start in range(0, len(source), batch_size):
                _, w, t = self.decode(source[start:start + batch_size], steps=steps)
                tokens.append(t)
                weights.append(w)
        return np.concatenate(tokens), np.concatenate(weights)

    def history_attrs(self):
        """The family, the attention and the cell, in the training history's attrs."""
        return {"family": self.family, "attention": self.attention, "cell": self.cell,
                "bidirectional": int(self.bidirectional)}

    def __repr__(self):
        pad = "" if self.pad is None else f", pad={self.pad}"
        return (f"Seq2Seq({self.source_vocab}, {self.target_vocab}, units={self.units}, "
                f"attention={self.attention!r}, cell={self.cell!r}, "
                f"bidirectional={self.bidirectional}{pad})")


def alignments(model, source, target=None, batch_size=256):
    """The attention of a trained :class:`Seq2Seq` as a Dataset.

    Parameters
    ----------
    model : Seq2Seq
    source : int array (n, S)
    target : int array (n, T), optional
        Given, the decoder is teacher-forced on it (and it is kept); otherwise it decodes
        greedily for the trained number of steps.

    Returns
    -------
    xarray.Dataset
        ``attention`` (sample, decoder_step, encoder_step): the weight each output step gives
        each source step (rows sum to 1); ``source`` (sample, encoder_step), ``prediction``
        (sample, decoder_step) and ``target`` if given; attrs family "AN", the attention
        score, cell and sizes.
    """
    if not isinstance(model, Seq2Seq):
        raise TypeError(f"model must be a Seq2Seq; got {type(model).__name__}")
    if target is None:
        tokens, weights = model._greedy(source, None, batch_size)
        source = _tokens(source, "source", model.source_vocab)
    else:
        X = model.pack(source, target)
        source = X[:, :model.source_steps].astype(np.int64)
        with no_grad():
            logits, weights, _ = model.decode(source, X[:, model.source_steps:].astype(np.int64))
        tokens = logits.data.argmax(axis=2)
    data = {"attention": (("sample", "decoder_step", "encoder_step"), weights,
                          {"long_name": "attention weight", "units": "1"}),
            "source": (("sample", "encoder_step"), source),
            "prediction": (("sample", "decoder_step"), tokens)}
    if target is not None:
        data["target"] = (("sample", "decoder_step"), np.asarray(target, np.int64))
    coords = {"sample": np.arange(len(source)), "decoder_step": np.arange(weights.shape[1]),
              "encoder_step": np.arange(weights.shape[2])}
    params = {"attention": model.attention, "cell": model.cell,
              "pad": -1 if model.pad is None else model.pad,
              "bidirectional": int(model.bidirectional), "units": model.units,
              "source_vocab": model.source_vocab, "target_vocab": model.target_vocab}
    return record.dataset(data, coords, family="AN", model=repr(model), params=params)


# ---------------------------------------------------------------- tasks
def reversal_task(n, length=8, symbols=10, *, seed=None):
    """Random token sequences (n, length) in ``[0, symbols)`` and the same backwards: output
    step i must attend to source step ``length - 1 - i`` (an anti-diagonal alignment)."""
    source = _random_tokens(n, length, symbols, seed)
    return source, source[:, ::-1].copy()


def sorting_task(n, length=8, symbols=10, *, seed=None):
    """Random token sequences (n, length) in ``[0, symbols)`` and the same sorted ascending:
    output step i attends to wherever the i-th smallest token sits."""
    source = _random_tokens(n, length, symbols, seed)
    return source, np.sort(source, axis=1)


MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")
DATE_SOURCE = "_ ,./0123456789" + "".join(sorted(set("".join(MONTHS)) - set("_ ,./")))
"""The characters of :func:`date_task`'s sources, by token (token 0, ``_``, is padding)."""
DATE_TARGET = "0123456789-"
"""The characters of :func:`date_task`'s targets (ISO dates), by token."""
DATE_FORMATS = ("{d} {M} {Y}", "{M} {d}, {Y}", "{dd}/{mm}/{Y}", "{Y}.{mm}.{dd}",
                "{d} {m3} {Y}", "{m3} {dd} {Y}")
"""The source formats of :func:`date_task` (``d`` day, ``dd`` two-digit day, ``M`` month name,
``m3`` its first three letters, ``mm`` two-digit month, ``Y`` year)."""


def date_task(n, *, seed=None):
    """Dates written in the formats of :data:`DATE_FORMATS` (e.g. "5 December 2026",
    "December 5, 2026", "05/12/2026", "Dec 05 2026"), uniform over 1900-2099, and the same
    dates in ISO form ("2026-12-05").

    Returns
    -------
    source : int (n, 18)
        Tokens of :data:`DATE_SOURCE`, padded at the end with token 0 (``pad=0`` for
        :class:`Seq2Seq`).
    target : int (n, 10)
        Tokens of :data:`DATE_TARGET`.
    text : list of str
        The source strings.
    """
    n = checks.integer(n, "n", low=1)
    g = rng.generator(seed)
    first, last = np.datetime64("1900-01-01"), np.datetime64("2099-12-31")
    days = first + g.integers(0, int((last - first).astype(int)) + 1, n).astype("timedelta64[D]")
    formats = g.integers(len(DATE_FORMATS), size=n)
    width = max(len(f"{m} 30, 2000") for m in MONTHS)
    source = np.zeros((n, width), np.int64)
    target = np.empty((n, 10), np.int64)
    index = {c: k for k, c in enumerate(DATE_SOURCE)}
    text = []
    for i, (day, f) in enumerate(zip(days, formats)):
        iso = str(day)
        year, month, date = iso.split("-")
        name = MONTHS[int(month) - 1]
        written = DATE_FORMATS[f].format(d=int(date), dd=date, M=name, m3=name[:3],
                                         mm=month, Y=year)
        text.append(written)
        source[i, :len(written)] = [index[c] for c in written]
        target[i] = [DATE_TARGET.index(c) for c in iso]
    return source, target, text


def detokenize(tokens, alphabet):
    """Token rows as strings of ``alphabet`` (e.g. :data:`DATE_TARGET`)."""
    tokens = np.asarray(tokens)
    if tokens.ndim != 2 or not np.issubdtype(tokens.dtype, np.integer):
        raise ValueError(f"tokens must be a 2-D integer array; got {tokens.dtype} "
                         f"{tokens.shape}")
    if tokens.size and (tokens.min() < 0 or tokens.max() >= len(alphabet)):
        raise ValueError(f"tokens must lie in [0, {len(alphabet)}) (the alphabet)")
    return ["".join(alphabet[t] for t in row) for row in tokens]


def _random_tokens(n, length, symbols, seed):
    n = checks.integer(n, "n", low=1)
    length = checks.integer(length, "length", low=1)
    symbols = checks.integer(symbols, "symbols", low=2)
    return rng.generator(seed).integers(symbols, size=(n, length))


def sequence_accuracy(predicted, target):
    """(token accuracy, whole-sequence accuracy) of predicted tokens against the target."""
    predicted, target = np.asarray(predicted), np.asarray(target)
    if predicted.shape != target.shape:
        raise ValueError(f"predicted and target must have one shape; got {predicted.shape} and "
                         f"{target.shape}")
    right = predicted == target
    return float(right.mean()), float(right.all(axis=1).mean())


__all__ = ["Seq2Seq", "alignments", "reversal_task", "sorting_task", "date_task",
           "detokenize", "sequence_accuracy", "DATE_SOURCE", "DATE_TARGET", "DATE_FORMATS",
           "MONTHS"]
