"""Attention ops and layers: scaled dot-product attention over several heads as one tape op,
multi-head attention, positional encodings and the Transformer encoder block.

Sequences are batch-first, (batch, time, features), as in the recurrent layers. The attention
op splits the feature axis into heads and computes ``softmax(Q K^T / sqrt(d) + mask) V`` for
every head in a compiled kernel pair (:func:`neurosim.kernels.attention.sdp_forward` and
``sdp_backward``): one (sample, head) block at a time, by panels of 16 queries whose scores,
softmax rows and outputs are made while the panel is in L1, the products in the module's own
register tiles reading the heads where they are, masks read where they are (causal by index,
with only the unmasked pairs multiplied; padding per key; a general mask as a broadcast view).
It keeps the attention weights for its backward pass (and for plots). With several Numba
threads, a call of :data:`~neurosim.kernels.attention.PARALLEL_WORK` multiply-adds or more runs
its (sample, head) blocks on them (the parallel twins, the same bits). Computation follows the
inputs' dtype. Float32, one thread, 32 sequences of 128 steps, 4 heads of width 16: forward
2.4 ms and backward 3.1 (NumPy's stacked products over the whole batch had taken 49 ms
together, the first kernel pair with BLAS products on copies 7); PyTorch's flash attention took
6 and 8 in a profile of the same step.

The encoder-decoder attention of one decoder step (:func:`additive_attention`, Bahdanau's;
:func:`dot_attention`, Luong's) is one op too. The additive one runs in a compiled kernel pair
(:mod:`neurosim.kernels.attention`: its tanh in SIMD lanes, every gradient in one pass), which
made a seq2seq epoch 1.2-1.5x faster than the same op in NumPy (whose ``tanh`` and temporaries
took half of the epoch at 40 steps); the dot score is two stacked BLAS products.
"""
import numpy as np

from .. import checks
from ..kernels import attention as katt
from ..kernels import threads as kthreads
from . import ops
from .init import initialiser
from .layers import Dropout, Layer, LayerNorm, SequenceLayer
from .recurrent import _checked_lengths
from .tensor import Tensor, as_tensor, record

_NO_PAD = np.zeros((1, 0), bool)                                    # the kernels' "no mask"
_NO_MASK = np.broadcast_to(np.zeros((1, 1, 1, 0), bool), (1, 1, 1, 0))


def _padding(key_padding_mask, batch, keys):
    """The checked boolean (batch, keys) padding mask (True at padding), or an empty (1, 0)
    array when there is none (the kernel's "no mask")."""
    if key_padding_mask is None:
        return _NO_PAD
    pad = np.asarray(key_padding_mask.data if isinstance(key_padding_mask, Tensor)
                     else key_padding_mask)
    if pad.dtype != bool:
        raise TypeError(f"key_padding_mask must be boolean (True marks padding); got dtype "
                        f"{pad.dtype}")
    if pad.shape != (batch, keys):
        raise ValueError(f"key_padding_mask must have shape (batch, keys) = ({batch}, {keys});"
                         f" got {pad.shape}")
    return np.ascontiguousarray(pad)


def _valid_steps(lengths, shape):
    """The (batch, time) mask of each sequence's valid steps from ``lengths`` (batch,) or a
    (batch, time) mask True on the first steps (checked as the recurrent layers check them:
    a ValueError naming ``lengths``); None when there are none or every sequence is full."""
    lens = _checked_lengths(lengths, shape)
    return None if lens is None else np.arange(shape[1]) < lens[:, None]


def _merged_padding(key_padding_mask, valid):
    """``key_padding_mask`` (or None) with the steps past each sequence's length added."""
    if valid is None:
        return key_padding_mask
    if key_padding_mask is None:
        return ~valid
    return _padding(key_padding_mask, *valid.shape) | ~valid


def _zero_padding(x, valid):
    """``x`` (batch, time, features) with the rows of padded steps (``valid`` False) set to
    zero, one op (their gradient is zero too); ``x`` itself without ``valid``."""
    if valid is None:
        return x
    keep = valid[:, :, None].astype(x.dtype)
    return record(x.data * keep, (x,), lambda g: (g * keep,))


def _broadcast(mask, full, empty):
    """``mask`` as a read-only view of shape ``full`` (nothing copied), or ``empty``."""
    return empty if mask is None else np.broadcast_to(mask, full)


def attention_mask(attn_mask, batch, heads, queries, keys, dtype=np.float64):
    """A general attention mask in PyTorch's ``attn_mask`` semantics, checked and shaped to
    broadcast over (batch, heads, queries, keys).

    Parameters
    ----------
    attn_mask : bool or float array (or Tensor)
        Boolean: True marks a pair that is masked out (may not attend), as in
        :class:`torch.nn.MultiheadAttention` (``torch.nn.functional.scaled_dot_product_attention``
        reads booleans the other way round: there True means "may attend"). Float: added to the
        scaled scores (``-inf`` masks out). Shapes: (queries, keys), the same for every sample
        and head; (batch * heads, queries, keys), PyTorch's per-head 3-D mask (sample-major);
        or 4-D, broadcastable to (batch, heads, queries, keys).
    batch, heads, queries, keys : int
    dtype : the scores' dtype (of a float mask)

    Returns
    -------
    (allowed, additive) : boolean array or None, float array or None
        4-D, broadcastable to (batch, heads, queries, keys): the pairs that may attend (from a
        boolean mask) and the additive float mask.
    """
    if attn_mask is None:
        return None, None
    mask = np.asarray(attn_mask.data if isinstance(attn_mask, Tensor) else attn_mask)
    if mask.dtype != bool and not np.issubdtype(mask.dtype, np.floating):
        raise TypeError(f"attn_mask must be boolean (True masks out) or float (added to the "
                        f"scores); got dtype {mask.dtype}")
    full = (batch, heads, queries, keys)
    if mask.ndim == 2 and mask.shape == (queries, keys):
        mask = mask[None, None]
    elif mask.ndim == 3 and mask.shape == (batch * heads, queries, keys):
        mask = mask.reshape(full)
    elif mask.ndim == 4 and all(m in (1, f) for m, f in zip(mask.shape, full)):
        pass
    else:
        raise ValueError(f"attn_mask must have shape (queries, keys) = ({queries}, {keys}), "
                         f"(batch * heads, queries, keys) = ({batch * heads}, {queries}, {keys})"
                         f" or 4-D broadcastable to {full}; got {mask.shape}")
    if mask.dtype == bool:
        return ~mask, None
    if np.isnan(mask).any() or (mask == np.inf).any():
        raise ValueError("attn_mask must hold finite values or -inf; got NaN or +inf")
    return None, mask.astype(dtype, copy=False)


def attention(q, k, v, heads=1, *, causal=False, key_padding_mask=None, attn_mask=None,
              scale=None):
    """Scaled dot-product attention ``softmax(Q K^T / sqrt(d) + mask) V`` per head, one op.

    Parameters
    ----------
    q : Tensor or array, (batch, queries, heads * d)
    k : Tensor or array, (batch, keys, heads * d)
    v : Tensor or array, (batch, keys, heads * dv)
    heads : int
        The feature axes are split into this many equal blocks, one per head (``d`` the width
        of a head's query and key, so the scale is ``1 / sqrt(d)``).
    causal : bool
        Query ``i`` attends only to keys ``j <= i`` (nothing from the future).
    key_padding_mask : bool array (batch, keys), optional
        True marks padding: no query attends to it. A query with no key left gets zero weights
        and a zero output (PyTorch gives NaN there).
    attn_mask : bool or float array, optional
        A general mask in PyTorch's ``attn_mask`` semantics (see :func:`attention_mask`):
        boolean True masks a pair out, a float mask is added to the scaled scores; combined
        with ``causal`` and ``key_padding_mask``. Not differentiated.
    scale : float, optional
        Of the scores (``1 / sqrt(d)`` by default; 1 gives Luong's plain dot product).

    Returns
    -------
    out : Tensor, (batch, queries, heads * dv)
        Differentiable in ``q``, ``k`` and ``v``.
    weights : numpy.ndarray, (batch, heads, queries, keys)
        The attention weights (each allowed row sums to 1), for plots; not differentiable.
    """
    q, k, v = (as_tensor(t) for t in (q, k, v))
    heads = checks.integer(heads, "heads", low=1)
    for name, t in (("q", q), ("k", k), ("v", v)):
        if t.ndim != 3:
            raise ValueError(f"attention: {name} must be 3-D (batch, time, features); got shape "
                             f"{t.shape}")
        if t.shape[2] % heads:
            raise ValueError(f"attention: the features of {name} ({t.shape[2]}) must divide "
                             f"into heads={heads}")
    batch, tq, dq = q.shape
    if k.shape[0] != batch or v.shape[0] != batch:
        raise ValueError(f"attention: q, k, v must share the batch; got {q.shape}, {k.shape}, "
                         f"{v.shape}")
    if k.shape[2] != dq:
        raise ValueError(f"attention: q and k must have the same features; got {q.shape} and "
                         f"{k.shape}")
    if v.shape[1] != k.shape[1]:
        raise ValueError(f"attention: k and v must have the same number of steps; got "
                         f"{k.shape} and {v.shape}")
    dtype = np.result_type(q.dtype, k.dtype, v.dtype)
    scale = dtype.type(1.0 / np.sqrt(dq // heads) if scale is None else
                       checks.scalar(scale, "scale", low=0.0, low_open=True))
    Q, K, V = (np.ascontiguousarray(t.data, dtype) for t in (q, k, v))
    out, weights, grads_into = _sdp(Q, K, V, heads, causal, key_padding_mask, attn_mask, scale)

    def backward(g):
        grads = [np.empty_like(a) if t.requires_grad else np.empty((0, 0, 0), dtype)
                 for a, t in ((Q, q), (K, k), (V, v))]
        grads_into(g, *grads)
        return tuple(gr if t.requires_grad else None for gr, t in zip(grads, (q, k, v)))
    return record(out, (q, k, v), backward), weights


def _sdp(Q, K, V, heads, causal, key_padding_mask, attn_mask, scale):
    """The kernels' forward pass on checked arrays Q (batch, tq, heads * d), K, V (views
    allowed) of one dtype, ``scale`` of that dtype: ``(out, weights, grads_into)``, where
    ``grads_into(g, gq, gk, gv)`` writes the gradients for the output's gradient ``g`` into
    arrays of the shapes of Q, K, V (an unwanted one: an empty 3-D array)."""
    batch, tq, _ = Q.shape
    tk, dtype = K.shape[1], Q.dtype
    pad = _padding(key_padding_mask, batch, tk)
    general, additive = attention_mask(attn_mask, batch, heads, tq, tk, dtype)
    full = (batch, heads, tq, tk)
    allowed = _broadcast(general, full, _NO_MASK)
    added = _broadcast(additive, full, np.broadcast_to(np.zeros((1, 1, 1, 0), dtype),
                                                       (1, 1, 1, 0)))
    weights = np.empty(full, dtype)
    out = np.empty((batch, tq, V.shape[2]), dtype)
    parts = kthreads.runs(batch * tq * tk * (K.shape[2] + V.shape[2]), katt.PARALLEL_WORK,
                        batch * heads)
    forward, backward = (katt.sdp_forward, katt.sdp_backward) if parts == 1 else \
        (katt.sdp_forward_parallel, katt.sdp_backward_parallel)
    forward(Q, K, V, scale, bool(causal), pad, allowed, added, weights, out, parts)

    def grads_into(g, gq, gk, gv):
        backward(np.ascontiguousarray(g, dtype), Q, K, V, weights, scale, bool(causal), gq, gk,
                 gv, parts)
    return out, weights, grads_into


def _self_attention(qkv, heads, causal, key_padding_mask, attn_mask):
    """:func:`attention` of the packed projections ``qkv`` (batch, time, 3 d_model): queries,
    keys and values side by side, as one product with the three weight matrices side by side
    makes them. The kernels read the three as views and the backward pass writes their
    gradients into one array of ``qkv``'s shape."""
    d = qkv.shape[2] // 3
    dtype = qkv.dtype
    Q, K, V = (qkv.data[:, :, i * d:(i + 1) * d] for i in range(3))
    scale = dtype.type(1.0 / np.sqrt(d // heads))
    out, weights, grads_into = _sdp(Q, K, V, heads, causal, key_padding_mask, attn_mask, scale)

    def backward(g):
        grad = np.empty(qkv.shape, dtype)
        grads_into(g, *(grad[:, :, i * d:(i + 1) * d] for i in range(3)))
        return (grad,)
    return record(out, (qkv,), backward), weights


# ---------------------------------------------------------------- encoder-decoder attention
def _step_operands(op, query, keys, values, key_padding_mask):
    """Tensors of a per-step attention op after checking their shapes, and the pad mask."""
    query, keys, values = (as_tensor(t) for t in (query, keys, values))
    if query.ndim != 2:
        raise ValueError(f"{op}: query must be 2-D (batch, features); got shape {query.shape}")
    batch = query.shape[0]
    if keys.ndim != 3 or keys.shape[0] != batch or keys.shape[2] != query.shape[1]:
        raise ValueError(f"{op}: keys must have shape (batch, steps, features) = ({batch}, "
                         f"steps, {query.shape[1]}); got {keys.shape}")
    if values.ndim != 3 or values.shape[:2] != keys.shape[:2]:
        raise ValueError(f"{op}: values must have shape (batch, steps, value_features) with "
                         f"the keys' (batch, steps) = {keys.shape[:2]}; got {values.shape}")
    pad = None
    if key_padding_mask is not None:
        pad = np.asarray(key_padding_mask)
        if pad.dtype != bool or pad.shape != keys.shape[:2]:
            raise ValueError(f"{op}: key_padding_mask must be boolean (batch, steps) = "
                             f"{keys.shape[:2]}; got {pad.dtype} {pad.shape}")
    return query, keys, values, pad




def _weights_and_context(scores, values, pad):
    """Softmax over the steps of ``scores`` (batch, steps), padding excluded (a row with no
    step left gets zeros), and the weighted sum of ``values`` (batch, steps, dv)."""
    if pad is not None:
        scores = np.where(pad, -np.inf, scores)
    top = scores.max(axis=1, keepdims=True)
    if pad is not None:
        top[top == -np.inf] = 0.0
    w = np.exp(scores - top)
    total = w.sum(axis=1, keepdims=True)
    if pad is not None:
        total[total == 0.0] = 1.0
    w /= total
    return w, np.matmul(w[:, None, :], values)[:, 0]


def _context_backward(g, w, values):
    """Gradients of the context ``w @ values`` for its gradient ``g`` (batch, dv): the
    scores' (through the softmax) and the values'."""
    gw = np.matmul(values, g[:, :, None])[:, :, 0]
    gs = w * (gw - (gw * w).sum(axis=1, keepdims=True))
    return gs, w[:, :, None] * g[:, None, :]


def additive_attention(query, keys, values, v, key_padding_mask=None):
    """Bahdanau's additive attention for one decoder step, one op.

    ``e_j = v . tanh(query + keys_j)``, ``a = softmax(e)``, ``context = sum_j a_j values_j``,
    where ``query`` is the decoder state's projection ``s W_a`` (with a bias) and ``keys`` the
    encoder annotations' projections ``h_j U_a``, made once per sequence.

    Parameters
    ----------
    query : Tensor or array, (batch, units)
    keys : Tensor or array, (batch, steps, units)
    values : Tensor or array, (batch, steps, value_features)
        The annotations ``h_j``.
    v : Tensor or array, (units,)
    key_padding_mask : bool array (batch, steps), optional
        True marks padding (no weight).

    Returns
    -------
    context : Tensor, (batch, value_features)
        Differentiable in ``query``, ``keys``, ``values`` and ``v``.
    weights : numpy.ndarray, (batch, steps)
        The attention weights ``a`` (rows sum to 1).
    """
    query, keys, values, pad = _step_operands("additive_attention", query, keys, values,
                                              key_padding_mask)
    v = as_tensor(v)
    if v.shape != (query.shape[1],):
        raise ValueError(f"additive_attention: v must have shape ({query.shape[1]},); got "
                         f"{v.shape}")
    dtype = np.result_type(query.dtype, keys.dtype, values.dtype, v.dtype)
    q, K, V, vd = (np.ascontiguousarray(t.data, dtype) for t in (query, keys, values, v))
    n, steps, units = K.shape
    hidden = np.empty((n, steps, units), dtype)
    w = np.empty((n, steps), dtype)
    context = np.empty((n, V.shape[2]), dtype)
    katt.additive_forward(q, K, V, vd, _NO_PAD if pad is None else pad, hidden, w, context)

    def backward(g):
        grads = (np.empty_like(q), np.empty_like(K), np.empty_like(V), np.empty_like(vd))
        katt.additive_backward(np.ascontiguousarray(g, dtype), V, vd, hidden, w, *grads)
        return grads
    return record(context, (query, keys, values, v), backward), w


def dot_attention(query, keys, values, key_padding_mask=None):
    """Luong's multiplicative attention for one decoder step, one op: ``e_j = query . keys_j``
    (``keys`` the annotations for the "dot" score, their projections ``h_j W_a`` for
    "general"), ``a = softmax(e)``, ``context = sum_j a_j values_j``.

    Shapes and returns as :func:`additive_attention` (``query`` (batch, features), ``keys``
    (batch, steps, features)); differentiable in ``query``, ``keys`` and ``values``.
    """
    query, keys, values, pad = _step_operands("dot_attention", query, keys, values,
                                              key_padding_mask)
    scores = np.matmul(keys.data, query.data[:, :, None])[:, :, 0]
    w, context = _weights_and_context(scores, values.data, pad)

    def backward(g):
        gs, gvalues = _context_backward(g, w, values.data)
        gq = np.matmul(gs[:, None, :], keys.data)[:, 0] if query.requires_grad else None
        return gq, gs[:, :, None] * query.data[:, None, :], gvalues
    return record(context, (query, keys, values), backward), w


def sinusoidal_encoding(steps, features, dtype=np.float64):
    """The Transformer's fixed positional encoding, (steps, features).

    ``PE[t, 2i] = sin(t / 10000**(2i / features))``, ``PE[t, 2i + 1] = cos(...)`` of the
    same angle: every position gets a unique code, and a shift by ``s`` steps is a rotation of
    each (sin, cos) pair, so relative positions are linear in the codes.
    """
    steps = checks.integer(steps, "steps", low=1)
    features = checks.integer(features, "features", low=1)
    rates = 10000.0 ** (-np.arange(0, features, 2) / features)
    angles = np.arange(steps)[:, None] * rates[None, :]
    pe = np.empty((steps, features))
    pe[:, 0::2] = np.sin(angles)
    pe[:, 1::2] = np.cos(angles[:, :features // 2])
    return pe.astype(dtype)


def _fixed_mask(attn_mask):
    """A layer's fixed ``attn_mask`` as an array (checked against the sizes at call time)."""
    if attn_mask is None:
        return None
    mask = np.asarray(attn_mask.data if isinstance(attn_mask, Tensor) else attn_mask)
    if mask.ndim not in (2, 3, 4):
        raise ValueError(f"attn_mask must be 2-D, 3-D or 4-D (see attention_mask); got shape "
                         f"{mask.shape}")
    return mask.copy()


def _sequence_shape(shape, layer):
    if len(shape) != 2:
        raise ValueError(f"{layer} needs per-sample inputs (time, features); got {shape}")
    return shape


class MultiHeadAttention(SequenceLayer):
    """Multi-head attention: (batch, time, features) -> (batch, time, d_model).

    Queries, keys and values are learned projections (``W_q``, ``W_k``, ``W_v``, with biases)
    of the input (self-attention) or, for keys and values, of a ``context`` sequence
    (cross-attention); :func:`attention` runs every head; ``W_o`` maps the merged heads back
    to ``d_model`` features.

    Parameters
    ----------
    heads : int
    d_model : int, optional
        Width of the projections and of the output; the input's features by default. Must be
        divisible by ``heads``.
    causal : bool
        Each step attends only to itself and earlier steps.
    context_features : int, optional
        Features of the ``context`` sequence for cross-attention (``d_model``'s default: the
        input's features).
    init : str or callable
        Initialiser of the four weight matrices.
    attn_mask : bool or float array, optional
        A fixed mask used by every call that gives none (see :func:`attention_mask`: True
        masks out, floats are added to the scores), e.g. a local window.

    Call a built layer as ``layer(x, context=None, key_padding_mask=None, attn_mask=None,
    lengths=None)``, ``context`` (batch, keys, context_features), ``key_padding_mask`` bool
    (batch, keys), True at padding, and ``attn_mask`` as :func:`attention` takes it. After
    every call ``weights`` holds the attention weights, (batch, heads, time, keys).
    ``lengths`` (batch,) (or a (batch, time) mask True on the first steps) are the steps of
    each sequence of ``x``, padded at the end, as ``fit(..., lengths=)`` passes them: in
    self-attention no step attends to padding (PyTorch's ``src_key_padding_mask = arange(T) >=
    lengths[:, None]``), and the outputs at padded steps are zero, as PyTorch's nested-tensor
    path pads them (their gradient is zero, so padding neither counts nor trains); with a
    ``context`` only the padded query rows are zeroed (its padding is ``key_padding_mask``).
    """

    def __init__(self, heads, d_model=None, *, causal=False, context_features=None,
                 init="glorot_uniform", attn_mask=None):
        super().__init__()
        self.heads = checks.integer(heads, "heads", low=1)
        self.d_model = None if d_model is None else checks.integer(d_model, "d_model", low=1)
        if self.d_model is not None and self.d_model % self.heads:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by heads "
                             f"({self.heads})")
        self.context_features = None if context_features is None else \
            checks.integer(context_features, "context_features", low=1)
        self.causal, self.init = bool(causal), initialiser(init)
        self.attn_mask = _fixed_mask(attn_mask)
        self.weights = None

    def _build(self, shape, generator, dtype):
        steps, features = _sequence_shape(shape, "MultiHeadAttention")
        d = features if self.d_model is None else self.d_model
        if d % self.heads:
            raise ValueError(f"d_model ({d}, the input's features) must be divisible by heads "
                             f"({self.heads})")
        self.d_model = d
        context = self.context_features or features
        for name, fan_in in (("W_q", features), ("W_k", context), ("W_v", context), ("W_o", d)):
            self.add_param(name, self.init(generator, (fan_in, d), fan_in, d), dtype)
            self.add_param("b" + name[1:], np.zeros(d), dtype)
        self.context_features = context
        return (steps, d)

    def forward(self, x, context=None, key_padding_mask=None, attn_mask=None, lengths=None):
        p = self.params
        valid = _valid_steps(lengths, x.shape)
        if context is None:        # one product with the three matrices side by side
            qkv = ops.dense(x, ops.concatenate([p["W_q"], p["W_k"], p["W_v"]], axis=1),
                            ops.concatenate([p["b_q"], p["b_k"], p["b_v"]]))
            out, self.weights = _self_attention(
                qkv, self.heads, self.causal, _merged_padding(key_padding_mask, valid),
                self.attn_mask if attn_mask is None else attn_mask)
            return _zero_padding(ops.dense(out, p["W_o"], p["b_o"]), valid)
        context = as_tensor(context)
        if context.ndim != 3 or context.shape[0] != x.shape[0] or \
                context.shape[2] != self.context_features:
            raise ValueError(f"{self!r}: context must have shape ({x.shape[0]}, keys, "
                             f"{self.context_features}); got {context.shape}")
        out, self.weights = attention(ops.dense(x, p["W_q"], p["b_q"]),
                                      ops.dense(context, p["W_k"], p["b_k"]),
                                      ops.dense(context, p["W_v"], p["b_v"]), self.heads,
                                      causal=self.causal, key_padding_mask=key_padding_mask,
                                      attn_mask=self.attn_mask if attn_mask is None else
                                      attn_mask)
        return _zero_padding(ops.dense(out, p["W_o"], p["b_o"]), valid)

    def __repr__(self):
        causal = ", causal=True" if self.causal else ""
        return f"MultiHeadAttention({self.heads}, {self.d_model}{causal})"


class PositionalEncoding(SequenceLayer):
    """Adds a code of each step's position to its features: (batch, time, features) ->
    the same shape.

    Parameters
    ----------
    kind : "sinusoidal" or "learned"
        Fixed sines and cosines (:func:`sinusoidal_encoding`, any length) or a trained table
        (``max_steps`` rows, initialised N(0, 0.02**2), longer inputs are an error).
    max_steps : int, optional
        Rows of the learned table; the built input's steps by default.
    """

    def __init__(self, kind="sinusoidal", *, max_steps=None):
        super().__init__()
        self.kind = checks.choice(kind, "kind", ("sinusoidal", "learned"))
        self.max_steps = None if max_steps is None else checks.integer(max_steps, "max_steps",
                                                                       low=1)

    def _build(self, shape, generator, dtype):
        steps, features = _sequence_shape(shape, "PositionalEncoding")
        self.max_steps = self.max_steps or steps
        if self.kind == "learned":
            self.add_param("table", generator.normal(0.0, 0.02, (self.max_steps, features)),
                           dtype)
        else:
            self.table = sinusoidal_encoding(self.max_steps, features, dtype)
        return shape

    def forward(self, x):
        steps, features = x.shape[1:]
        if self.kind == "sinusoidal":
            table = self.table if steps <= len(self.table) else \
                sinusoidal_encoding(steps, features, x.dtype)
            return ops.add(x, table[:steps])
        if steps > self.max_steps:
            raise ValueError(f"{self!r} has positions for {self.max_steps} steps; got "
                             f"{steps}")
        table = self.params["table"]
        return ops.add(x, table if steps == self.max_steps else table[:steps])

    def __repr__(self):
        return f"PositionalEncoding({self.kind!r})"


class TransformerEncoderBlock(SequenceLayer):
    """Self-attention and a position-wise feed-forward network, each in a residual branch with
    layer normalisation: (batch, time, d_model) -> the same shape.

    Pre-norm (``norm_first=True``, the default; stable without learning-rate warm-up)::

        x = x + dropout(attention(norm1(x)));  x = x + dropout(ff(norm2(x)))

    post-norm (``norm_first=False``, the original Transformer and PyTorch's default)::

        x = norm1(x + dropout(attention(x)));  x = norm2(x + dropout(ff(x)))

    with ``ff(x) = dropout(act(x W1 + b1)) W2 + b2`` of ``ff_units`` hidden units.

    Parameters
    ----------
    heads : int
        Must divide the input's features (``d_model``).
    ff_units : int, optional
        Hidden units of the feed-forward network (4 d_model by default).
    dropout : float
        Dropout rate on both residual branches and the feed-forward hidden layer.
    activation : str
        Of the feed-forward hidden layer (``"relu"``).
    norm_first : bool
    causal : bool
        Causal self-attention (each step sees only the past and itself).
    attn_mask : bool or float array, optional
        A fixed mask of the self-attention (see :class:`MultiHeadAttention`).

    ``attention`` (the :class:`MultiHeadAttention`) keeps the last call's ``weights``; call
    ``block(x, key_padding_mask=None, attn_mask=None, lengths=None)``; ``lengths`` (each
    sequence's steps, padded at the end, as ``fit(..., lengths=)`` passes them) mask the
    padding's keys and zero the block's outputs at padded steps (see
    :class:`MultiHeadAttention`): each sequence's valid steps get what it gets alone.
    """

    def __init__(self, heads, ff_units=None, *, dropout=0.0, activation="relu",
                 norm_first=True, causal=False, attn_mask=None):
        super().__init__()
        self.ff_units = None if ff_units is None else checks.integer(ff_units, "ff_units",
                                                                     low=1)
        self.rate = checks.scalar(dropout, "dropout", low=0.0, high=1.0, high_open=True)
        self.activation, self.act = activation, ops.activation(activation)
        self.norm_first = bool(norm_first)
        self.attention = MultiHeadAttention(heads, causal=causal, attn_mask=attn_mask)
        self.layers = [self.attention, LayerNorm(), LayerNorm(), Dropout(self.rate),
                       Dropout(self.rate), Dropout(self.rate)]

    def _build(self, shape, generator, dtype):
        steps, d = _sequence_shape(shape, "TransformerEncoderBlock")
        if d % self.attention.heads:
            raise ValueError(f"the input's features (d_model = {d}) must be divisible by "
                             f"heads ({self.attention.heads})")
        hidden = self.ff_units or 4 * d
        self.ff_units = hidden
        for layer in self.layers:
            layer.build(shape, generator, dtype)
        for name, (fan_in, fan_out) in (("1", (d, hidden)), ("2", (hidden, d))):
            self.add_param("W" + name, self.attention.init(generator, (fan_in, fan_out), fan_in,
                                                           fan_out), dtype)
            self.add_param("b" + name, np.zeros(fan_out), dtype)
        return shape

    def feed_forward(self, x):
        """The position-wise network ``dropout(act(x W1 + b1)) W2 + b2``."""
        p = self.params
        hidden = ops.dense(x, p["W1"], p["b1"], "relu") if self.activation == "relu" else \
            self.act(ops.dense(x, p["W1"], p["b1"]))        # a ReLU in the product's op
        return ops.dense(self.layers[5].forward(hidden), p["W2"], p["b2"])

    def forward(self, x, key_padding_mask=None, attn_mask=None, lengths=None):
        attend, norm1, norm2, drop1, drop2 = self.layers[:5]
        valid = _valid_steps(lengths, x.shape)
        pad = _merged_padding(key_padding_mask, valid)

        def mixed(y):     # padded rows stay in padded rows: zeroed once, at the end
            return attend.forward(y, key_padding_mask=pad, attn_mask=attn_mask)
        if self.norm_first:
            x = ops.add(x, drop1.forward(mixed(norm1.forward(x))))
            return _zero_padding(ops.add(x, drop2.forward(self.feed_forward(norm2.forward(x)))),
                                 valid)
        x = norm1.forward(ops.add(x, drop1.forward(mixed(x))))
        return _zero_padding(norm2.forward(ops.add(x, drop2.forward(self.feed_forward(x)))), valid)

    def __repr__(self):
        kind = "pre-norm" if self.norm_first else "post-norm"
        causal = ", causal" if self.attention.causal else ""
        return f"TransformerEncoderBlock({self.attention.heads} heads, {kind}{causal})"


class SequencePooling(Layer):
    """(batch, time, features) -> (batch, features): the ``"mean"`` over the steps or the
    ``"last"`` step (for a causal encoder, the one that has seen the whole sequence).

    Call as ``pool(x, lengths=None)``: with ``lengths`` (each sequence's steps, padded at the
    end, as ``fit(..., lengths=)`` passes them) the mean is over each sequence's valid steps
    and "last" is its last valid step; the padding gets no gradient.
    """

    def __init__(self, mode="mean"):
        super().__init__()
        self.mode = checks.choice(mode, "mode", ("mean", "last"))

    def _build(self, shape, generator, dtype):
        return _sequence_shape(shape, "SequencePooling")[1:]

    def forward(self, x, lengths=None):
        valid = _valid_steps(lengths, x.shape)
        if self.mode == "mean":
            if valid is None:
                return ops.mean(x, axis=1)
            keep = (valid / valid.sum(axis=1, keepdims=True)).astype(x.dtype)[:, :, None]
            return record((x.data * keep).sum(axis=1), (x,),
                          lambda g: (keep * g[:, None, :],))
        rows = np.arange(x.shape[0])
        last = np.full(x.shape[0], x.shape[1] - 1) if valid is None else valid.sum(axis=1) - 1

        def backward(g):
            gx = np.zeros_like(x.data)
            gx[rows, last] = g
            return (gx,)
        return record(x.data[rows, last], (x,), backward)

    def __repr__(self):
        return f"SequencePooling({self.mode!r})"


__all__ = ["attention", "attention_mask", "additive_attention", "dot_attention",
           "sinusoidal_encoding", "MultiHeadAttention", "PositionalEncoding",
           "TransformerEncoderBlock", "SequencePooling"]
