"""Attention ops and layers: the op against a plain NumPy reference written here, float64
finite-difference gradients (op with and without masks, dense over sequences, the multi-head
layer, both encoder blocks, positional encodings), causality, permutation equivariance, dtypes
and error messages."""
import numpy as np
import pytest

from neurosim import nn
from neurosim.nn import ops
from neurosim.nn.attention import (MultiHeadAttention, PositionalEncoding, SequencePooling,
                                   TransformerEncoderBlock, attention, sinusoidal_encoding)

R = np.random.default_rng(0)
BATCH, STEPS, D = 2, 5, 8
Q, K, V = R.standard_normal((3, BATCH, STEPS, D))
X = R.standard_normal((BATCH, STEPS, D))
PAD = np.array([[False, False, False, True, True], [False] * STEPS])


def reference(q, k, v, heads, causal=False, pad=None):
    """Loop over samples and heads: softmax(q k^T / sqrt(d) + mask) v, masked entries -inf."""
    b, tq, _ = q.shape
    tk, dh, dv = k.shape[1], q.shape[2] // heads, v.shape[2] // heads
    out, weights = np.zeros((b, tq, heads * dv)), np.zeros((b, heads, tq, tk))
    for n in range(b):
        for h in range(heads):
            qh, kh, vh = q[n, :, h * dh:(h + 1) * dh], k[n, :, h * dh:(h + 1) * dh], \
                v[n, :, h * dv:(h + 1) * dv]
            s = qh @ kh.T / np.sqrt(dh)
            for i in range(tq):
                for j in range(tk):
                    if (causal and j > i) or (pad is not None and pad[n, j]):
                        s[i, j] = -np.inf
            w = np.exp(s - s.max(axis=1, keepdims=True))
            w /= w.sum(axis=1, keepdims=True)
            weights[n, h] = w
            out[n, :, h * dv:(h + 1) * dv] = w @ vh
    return out, weights


@pytest.mark.parametrize("heads", [1, 2, 4])
@pytest.mark.parametrize("causal, pad", [(False, None), (True, None), (False, PAD), (True, PAD)])
def test_attention_matches_reference(heads, causal, pad):
    out, weights = attention(Q, K, V, heads, causal=causal, key_padding_mask=pad)
    want_out, want_weights = reference(Q, K, V, heads, causal, pad)
    np.testing.assert_allclose(out.data, want_out, atol=1e-12)
    np.testing.assert_allclose(weights, want_weights, atol=1e-12)


def test_cross_attention_shapes_and_reference():
    k, v = R.standard_normal((2, BATCH, 7, D))
    v = v[:, :, :6]                                      # values may be narrower than keys
    out, weights = attention(Q, k, v, 2)
    assert out.shape == (BATCH, STEPS, 6) and weights.shape == (BATCH, 2, STEPS, 7)
    np.testing.assert_allclose(out.data, reference(Q, k, v, 2)[0], atol=1e-12)


def test_query_without_keys_gets_zero_output():
    pad = np.ones((BATCH, STEPS), bool)
    out, weights = attention(Q, K, V, 2, key_padding_mask=pad)
    assert np.all(out.data == 0.0) and np.all(weights == 0.0)
    assert nn.check_gradients(lambda q, k, v: attention(q, k, v, 2, key_padding_mask=pad)[0],
                              Q, K, V) < 1e-8


@pytest.mark.parametrize("causal, pad", [(False, None), (True, None), (False, PAD), (True, PAD)])
def test_attention_gradients(causal, pad):
    err = nn.check_gradients(lambda q, k, v: attention(q, k, v, 2, causal=causal,
                                                       key_padding_mask=pad)[0], Q, K, V)
    assert err < 1e-8


def test_dense_maps_every_step():
    """ops.dense on (batch, time, in): each step mapped alike, gradients by finite differences."""
    W, b = R.standard_normal((D, 3)), R.standard_normal(3)
    out = ops.dense(X, W, b).data
    np.testing.assert_allclose(out[1, 2], X[1, 2] @ W + b)
    assert nn.check_gradients(lambda x, w, c: ops.dense(x, w, c), X, W, b) < 1e-8


def _slots(layer):
    """(owner, name) of every parameter of ``layer`` and its sub-layers, in a fixed order."""
    return [(layer, k) for k in layer.params] + [s for sub in layer.layers for s in _slots(sub)]


def check_layer(layer, x, **kwargs):
    """Finite-difference error of a built layer's output in its input and every parameter."""
    slots = _slots(layer)
    saved = [owner.params[k] for owner, k in slots]

    def f(x, *ws):
        for (owner, k), w in zip(slots, ws):
            owner.params[k] = w
        return layer(x, **kwargs)
    try:
        return nn.check_gradients(f, x, *[p.data for p in saved])
    finally:
        for (owner, k), p in zip(slots, saved):
            owner.params[k] = p


def built(layer, shape=(STEPS, D), seed=0):
    layer.build(shape, np.random.default_rng(seed))
    return layer


@pytest.mark.parametrize("causal", [False, True])
def test_multi_head_attention_gradients(causal):
    layer = built(MultiHeadAttention(2, causal=causal))
    assert check_layer(layer, X) < 1e-8
    assert check_layer(layer, X, key_padding_mask=PAD) < 1e-8


def test_multi_head_attention_is_projections_around_the_op():
    layer = built(MultiHeadAttention(4, 12))
    p = {k: v.data for k, v in layer.params.items()}
    out = layer(X).data
    heads, weights = reference(X @ p["W_q"] + p["b_q"], X @ p["W_k"] + p["b_k"],
                               X @ p["W_v"] + p["b_v"], 4)
    np.testing.assert_allclose(out, heads @ p["W_o"] + p["b_o"], atol=1e-12)
    np.testing.assert_allclose(layer.weights, weights, atol=1e-12)
    assert layer.output_shape == (STEPS, 12)


def test_cross_attention_layer():
    layer = built(MultiHeadAttention(2, context_features=3))
    context = R.standard_normal((BATCH, 7, 3))
    out = layer(X, context)
    assert out.shape == X.shape and layer.weights.shape == (BATCH, 2, STEPS, 7)
    slots = _slots(layer)
    assert check_layer(layer, X, context=context) < 1e-8
    assert nn.check_gradients(lambda c: layer(X, c), context) < 1e-8
    assert len(slots) == 8


@pytest.mark.parametrize("norm_first", [True, False])
def test_encoder_block_gradients(norm_first):
    block = built(TransformerEncoderBlock(2, 6, norm_first=norm_first, causal=True))
    assert block.output_shape == (STEPS, D) and block.ff_units == 6
    assert check_layer(block, X, key_padding_mask=PAD) < 1e-7


def test_pre_and_post_norm_follow_their_formulas():
    """The block against its equations written with the layer's own parts."""
    for norm_first in (True, False):
        block = built(TransformerEncoderBlock(2, 6, norm_first=norm_first))
        attend, n1, n2 = block.layers[:3]
        with nn.no_grad():
            if norm_first:
                h = X + attend(n1(X)).data
                want = h + block.feed_forward(n2(h)).data
            else:
                h = n1(X + attend(X).data).data
                want = n2(h + block.feed_forward(h).data).data
            np.testing.assert_allclose(block(X).data, want, atol=1e-12)


def test_dropout_only_in_training():
    block = built(TransformerEncoderBlock(2, 6, dropout=0.5))
    block.eval()
    first = block(X).data
    np.testing.assert_array_equal(block(X).data, first)
    block.train()
    assert not np.allclose(block(X).data, first)


@pytest.mark.parametrize("layer", [MultiHeadAttention(2, causal=True),
                                   TransformerEncoderBlock(2, 6, causal=True),
                                   TransformerEncoderBlock(2, 6, norm_first=False, causal=True)])
def test_causal_layers_do_not_see_the_future(layer):
    """Changing the inputs after step t leaves every output up to t unchanged, and the
    gradient of output t with respect to later inputs is exactly zero."""
    built(layer)
    out = layer(X).data
    for t in range(STEPS - 1):
        changed = X.copy()
        changed[:, t + 1:] = R.standard_normal(changed[:, t + 1:].shape)
        again = layer(changed).data
        np.testing.assert_allclose(again[:, :t + 1], out[:, :t + 1], atol=1e-12)
        assert not np.allclose(again[:, t + 1:], out[:, t + 1:])
    # weighted: a plain sum of a post-norm block's output is constant (layer norm's outputs
    # sum to zero), its gradient zero but for rounding
    weights = np.linspace(-1.0, 2.0, D)
    g = nn.grad(lambda x: (layer(x)[:, 1] * weights).sum())(X)
    assert np.all(g[:, 2:] == 0.0) and np.all(g[:, :2] != 0.0)


@pytest.mark.parametrize("layer", [MultiHeadAttention(2), TransformerEncoderBlock(2, 6)])
def test_self_attention_is_permutation_equivariant(layer):
    built(layer)
    order = np.array([3, 0, 4, 1, 2])
    np.testing.assert_allclose(layer(X[:, order]).data, layer(X).data[:, order], atol=1e-12)
    # a positional encoding breaks the symmetry
    coded = built(PositionalEncoding())
    assert not np.allclose(layer(coded(X[:, order])).data, layer(coded(X)).data[:, order])


def test_sinusoidal_encoding():
    pe = sinusoidal_encoding(50, 6)
    t = np.arange(50)
    for i in range(3):
        rate = 10000.0 ** (-2 * i / 6)
        np.testing.assert_allclose(pe[:, 2 * i], np.sin(t * rate), atol=1e-12)
        np.testing.assert_allclose(pe[:, 2 * i + 1], np.cos(t * rate), atol=1e-12)
    assert sinusoidal_encoding(4, 5).shape == (4, 5)
    # a shift by s steps is one fixed linear map of the codes (a rotation of each pair)
    shift = np.linalg.lstsq(pe[:40], pe[10:], rcond=None)[0]
    np.testing.assert_allclose(pe[:40] @ shift, pe[10:], atol=1e-8)


def test_positional_encodings():
    sin = built(PositionalEncoding())
    np.testing.assert_allclose(sin(X).data - X, np.broadcast_to(sinusoidal_encoding(STEPS, D),
                                                                X.shape))
    assert sin(X[:, :3]).shape == (BATCH, 3, D) and sin(np.zeros((1, 9, D))).shape == (1, 9, D)
    learned = built(PositionalEncoding("learned"))
    assert learned.params["table"].shape == (STEPS, D)
    assert check_layer(learned, X) < 1e-8
    assert check_layer(learned, X[:, :3]) < 1e-8
    with pytest.raises(ValueError, match="positions for 5 steps; got 6"):
        learned(np.zeros((1, 6, D)))


def test_sequence_pooling():
    mean, last = built(SequencePooling("mean")), built(SequencePooling("last"))
    np.testing.assert_allclose(mean(X).data, X.mean(axis=1))
    np.testing.assert_allclose(last(X).data, X[:, -1])
    assert mean.output_shape == (D,)
    assert check_layer(mean, X) < 1e-8 and check_layer(last, X) < 1e-8


def test_float32_stays_float32():
    x = X.astype(np.float32)
    block = TransformerEncoderBlock(2, 6)
    block.build((STEPS, D), np.random.default_rng(0), np.float32)
    out = block(x)
    assert out.dtype == np.float32 and block.attention.weights.dtype == np.float32
    out.sum().backward()
    assert all(p.grad.dtype == np.float32 for _, p in block.parameters())
    out32, _ = attention(Q.astype(np.float32), K.astype(np.float32), V.astype(np.float32), 2,
                         causal=True)
    np.testing.assert_allclose(out32.data, reference(Q, K, V, 2, True)[0], atol=1e-5)


def test_same_seed_same_weights():
    a, b = (built(TransformerEncoderBlock(2, 6), seed=3) for _ in range(2))
    for (_, p), (_, q) in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(p.data, q.data)
    np.testing.assert_array_equal(a(X).data, b(X).data)


def test_bad_input():
    with pytest.raises(ValueError, match=r"d_model \(10\) must be divisible by heads \(4\)"):
        MultiHeadAttention(4, 10)
    with pytest.raises(ValueError, match=r"d_model \(8, the input's features\) must be "
                                         r"divisible by heads \(3\)"):
        built(MultiHeadAttention(3))
    with pytest.raises(ValueError, match="divisible by heads"):
        built(TransformerEncoderBlock(3))
    with pytest.raises(ValueError, match=r"needs per-sample inputs \(time, features\)"):
        built(MultiHeadAttention(2), shape=(D,))
    with pytest.raises(ValueError, match=r"must divide into heads=3"):
        attention(Q, K, V, 3)
    with pytest.raises(ValueError, match="q must be 3-D"):
        attention(Q[0], K, V)
    with pytest.raises(ValueError, match="same features"):
        attention(Q, K[:, :, :4], V)
    with pytest.raises(ValueError, match="same number of steps"):
        attention(Q, K, V[:, :4])
    with pytest.raises(ValueError, match="share the batch"):
        attention(Q, K[:1], V[:1])
    with pytest.raises(ValueError, match=r"key_padding_mask must have shape \(batch, keys\) = "
                                         r"\(2, 5\)"):
        attention(Q, K, V, key_padding_mask=PAD[:, :4])
    with pytest.raises(TypeError, match="key_padding_mask must be boolean"):
        attention(Q, K, V, key_padding_mask=PAD.astype(int))
    with pytest.raises(TypeError, match="heads must be an integer"):
        attention(Q, K, V, 2.0)
    layer = built(MultiHeadAttention(2))
    with pytest.raises(ValueError, match=r"expects inputs of shape \(batch, time, 8\)"):
        layer(X[:, :, :4])
    with pytest.raises(ValueError, match=r"context must have shape \(2, keys, 8\)"):
        layer(X, context=X[:, :, :3])
    with pytest.raises(ValueError, match="is not built"):
        MultiHeadAttention(2)(X)
    with pytest.raises(ValueError, match="kind must be one of"):
        PositionalEncoding("rotary")
    with pytest.raises(ValueError, match="dropout must be < 1"):
        TransformerEncoderBlock(2, dropout=1.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_op_on_threads_gives_the_serial_bits(dtype, monkeypatch):
    """The op through the parallel kernels (forced: 3 runs of (sample, head) blocks) against
    the serial op, with a causal and a padding mask: output, weights and every gradient bit for
    bit."""
    from neurosim.kernels import threads as module
    q, k, v = (R.standard_normal((3, 11, 8)).astype(dtype) for _ in range(3))
    pad = R.random((3, 11)) < 0.2
    g = R.standard_normal((3, 11, 8)).astype(dtype)
    results = []
    for runs in (1, 3):
        monkeypatch.setattr(module, "runs", lambda work, threshold, items, n=runs: n)
        ts = [nn.Tensor(a, requires_grad=True) for a in (q, k, v)]
        out, weights = attention(*ts, 2, causal=True, key_padding_mask=pad)
        out.backward(g)
        results.append([out.data, weights] + [t.grad for t in ts])
    for a, b in zip(*results):
        assert a.tobytes() == b.tobytes()
