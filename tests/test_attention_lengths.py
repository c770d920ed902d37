"""``lengths=`` in the attention layers (issue 18 item 3): padded sequences with their lengths give,
at each sequence's valid steps, the outputs and gradients of that sequence run alone (float64,
1e-10); the multi-head layer and the encoder block against PyTorch's ``nn.MultiheadAttention``
(``key_padding_mask``) and ``nn.TransformerEncoderLayer`` (``src_key_padding_mask``) on the same
weights; ``fit`` with lengths takes the same steps whatever the padding holds; bad lengths."""
import numpy as np
import pytest

from neurosim import nn
from neurosim.deep.transformer import attention_maps, transformer_encoder
from neurosim.nn.attention import MultiHeadAttention, SequencePooling, TransformerEncoderBlock
from neurosim.nn.layers import Dense, Sequential
from neurosim.nn.tensor import Tensor
from neurosim.nn.train import fit

R = np.random.default_rng(18)
N, T, F = 4, 6, 3
LENGTHS = np.array([6, 3, 1, 4])
VALID = np.arange(T) < LENGTHS[:, None]


def padded(junk=1.0, features=F, seed=0):
    """A (N, T, features) batch whose padding holds ``junk`` times noise (0: zeros)."""
    g = np.random.default_rng(seed)
    x = g.standard_normal((N, T, features))
    x[~VALID] = junk * g.standard_normal((int((~VALID).sum()), features)) * 5.0
    return x


def grads(model):
    return [p.grad.copy() for _, p in model.parameters()]


@pytest.mark.parametrize("pool, causal, norm_first", [("mean", False, True),
                                                      ("last", True, False),
                                                      (None, False, False)])
def test_padded_batch_is_each_sequence_alone(pool, causal, norm_first):
    model = transformer_encoder(8, 2, 2, input_shape=(T, F), outputs=3, pool=pool,
                                causal=causal, norm_first=norm_first, seed=1)
    x = padded()
    g = R.standard_normal((N, T, 3) if pool is None else (N, 3))
    if pool is None:
        g[~VALID] = 0.0                                 # the loss sees the valid steps only
    xt = Tensor(x, requires_grad=True)
    out = model(xt, lengths=LENGTHS)
    (out * g).sum().backward()
    batch_grads, batch_x = grads(model), xt.grad.copy()
    for _, p in model.parameters():
        p.grad = None
    for i, n in enumerate(LENGTHS):                     # the parameters' gradients add up
        xi = Tensor(x[i:i + 1, :n], requires_grad=True)
        alone = model.forward(xi)
        gi = g[i:i + 1, :n] if pool is None else g[i:i + 1]
        (alone * gi).sum().backward()
        np.testing.assert_allclose(out.data[i:i + 1, :n] if pool is None else
                                   out.data[i:i + 1], alone.data, atol=1e-10)
        np.testing.assert_allclose(batch_x[i, :n], xi.grad[0], atol=1e-10)
    assert np.all(batch_x[~VALID] == 0.0)
    for mine, want in zip(batch_grads, grads(model)):
        np.testing.assert_allclose(mine, want, atol=1e-10)


def test_lengths_as_a_mask_and_full_lengths():
    model = transformer_encoder(8, 2, input_shape=(T, F), outputs=2, seed=2)
    x = padded()
    np.testing.assert_array_equal(model(x, lengths=LENGTHS).data,
                                  model(x, lengths=VALID).data)
    np.testing.assert_array_equal(model(x, lengths=np.full(N, T)).data, model(x).data)


def test_block_zeroes_padded_steps_and_pooling_reads_valid_steps():
    block = TransformerEncoderBlock(2, 5)
    block.build((T, 4), np.random.default_rng(0))
    out = block(padded(features=4), lengths=LENGTHS).data
    assert np.all(out[~VALID] == 0.0) and np.all(np.abs(out[VALID]).sum(-1) > 0)
    cross = MultiHeadAttention(2, context_features=3)
    cross.build((T, 4), np.random.default_rng(1))
    context = R.standard_normal((N, 5, 3))
    full, cut = (cross(padded(features=4), context, lengths=lengths).data
                 for lengths in (None, LENGTHS))
    assert np.all(cut[~VALID] == 0.0)                   # the queries' padding, zeroed
    np.testing.assert_array_equal(cut[VALID], full[VALID])
    x = padded(features=4)
    mean = SequencePooling("mean").forward(Tensor(x), lengths=LENGTHS).data
    last = SequencePooling("last").forward(Tensor(x), lengths=LENGTHS).data
    for i, n in enumerate(LENGTHS):
        np.testing.assert_allclose(mean[i], x[i, :n].mean(axis=0), atol=1e-14)
        np.testing.assert_array_equal(last[i], x[i, n - 1])
    err = nn.check_gradients(lambda a: SequencePooling("mean").forward(a, lengths=LENGTHS), x)
    assert err < 1e-8


# ------------------------------------------------------------------------------ against PyTorch
def test_multihead_layer_matches_torch_key_padding_mask():
    pytest.importorskip("torch")
    from test_attention_mask import DH, H, mha_pair
    import torch
    layer, theirs = mha_pair(None)                       # built for 4 steps, any length runs
    x = padded(features=H * DH)
    pad = ~VALID
    xt = torch.tensor(x, requires_grad=True)
    want, want_w = theirs(xt, xt, xt, key_padding_mask=torch.tensor(pad),
                          average_attn_weights=False)
    g = R.standard_normal(want.shape) * VALID[:, :, None]
    want.backward(torch.tensor(g))
    xn = Tensor(x, requires_grad=True)
    out = layer.forward(xn, lengths=LENGTHS)
    (out * g).sum().backward()
    np.testing.assert_allclose(out.data[VALID], want.detach().numpy()[VALID], atol=1e-10)
    assert np.all(out.data[pad] == 0.0)                  # padded query rows: zero
    np.testing.assert_allclose(layer.weights, want_w.detach().numpy(), atol=1e-10)
    np.testing.assert_allclose(xn.grad, xt.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(layer.params["W_q"].grad,
                               theirs.in_proj_weight.grad[:H * DH].T.numpy(), atol=1e-10)


def torch_encoder_layer(block, norm_first):
    """torch's TransformerEncoderLayer with ``block``'s weights (float64, no dropout)."""
    import torch
    a, p = block.attention.params, block.params
    d, ff = a["W_o"].shape[0], p["W1"].shape[1]
    theirs = torch.nn.TransformerEncoderLayer(d, block.attention.heads, ff, dropout=0.0,
                                              batch_first=True, norm_first=norm_first,
                                              dtype=torch.float64)
    with torch.no_grad():
        for name, value in (("self_attn.in_proj_weight",
                             np.vstack([a[n].data.T for n in ("W_q", "W_k", "W_v")])),
                            ("self_attn.in_proj_bias",
                             np.concatenate([a[n].data for n in ("b_q", "b_k", "b_v")])),
                            ("self_attn.out_proj.weight", a["W_o"].data.T),
                            ("self_attn.out_proj.bias", a["b_o"].data),
                            ("linear1.weight", p["W1"].data.T), ("linear1.bias", p["b1"].data),
                            ("linear2.weight", p["W2"].data.T), ("linear2.bias", p["b2"].data)):
            theirs.get_parameter(name).copy_(torch.tensor(value))
    return theirs


@pytest.mark.parametrize("norm_first, causal", [(False, False), (True, False), (True, True)])
def test_block_matches_torch_src_key_padding_mask(norm_first, causal):
    torch = pytest.importorskip("torch")
    d = 6
    block = TransformerEncoderBlock(2, 7, norm_first=norm_first, causal=causal)
    block.build((T, d), np.random.default_rng(3))
    theirs = torch_encoder_layer(block, norm_first)
    x = padded(features=d, seed=4)
    xt = torch.tensor(x, requires_grad=True)
    want = theirs(xt, src_key_padding_mask=torch.tensor(~VALID),
                  src_mask=torch.tensor(np.triu(np.ones((T, T), bool), 1)) if causal else None,
                  is_causal=causal)
    g = R.standard_normal(x.shape) * VALID[:, :, None]
    want.backward(torch.tensor(g))
    xn = Tensor(x, requires_grad=True)
    out = block(xn, lengths=LENGTHS)
    (out * g).sum().backward()
    np.testing.assert_allclose(out.data[VALID], want.detach().numpy()[VALID], atol=1e-10)
    np.testing.assert_allclose(xn.grad, xt.grad.numpy(), atol=1e-10)
    for name, theirs_name in (("W1", "linear1.weight"), ("b2", "linear2.bias")):
        np.testing.assert_allclose(block.params[name].grad,
                                   theirs.get_parameter(theirs_name).grad.numpy().T,
                                   atol=1e-10)
    np.testing.assert_allclose(block.attention.params["W_k"].grad,
                               theirs.self_attn.in_proj_weight.grad[d:2 * d].numpy().T,
                               atol=1e-10)


# ------------------------------------------------------------------------------------- training
@pytest.mark.parametrize("pool", ["mean", None])
def test_fit_takes_the_same_steps_whatever_the_padding_holds(pool):
    y = R.integers(3, size=(N, T) if pool is None else N)
    loss = "cross_entropy"
    if pool is None:
        from neurosim.deep.transformer import per_step_cross_entropy as loss   # noqa: N813
    runs = []
    for junk in (0.0, 1.0):
        model = transformer_encoder(8, 2, input_shape=(T, F), outputs=3, pool=pool,
                                    dropout=0.1, seed=5)
        history = fit(model, padded(junk), y, lengths=LENGTHS, loss=loss, epochs=3,
                         batch_size=2, lr=1e-2, seed=6)
        runs.append((history["loss"].values, [p.data.copy() for _, p in model.parameters()]))
    np.testing.assert_allclose(runs[0][0], runs[1][0], rtol=1e-12)
    for a, b in zip(runs[0][1], runs[1][1]):
        np.testing.assert_allclose(a, b, atol=1e-12)
    assert not np.allclose(model.predict(padded(0.0)), model.predict(padded()))  # padding counts
    assert not np.allclose(runs[0][0][0], runs[0][0][-1])    # it did train


def test_predict_and_attention_maps_with_lengths():
    model = transformer_encoder(8, 2, input_shape=(T, F), outputs=2, seed=7)
    a, b = model.predict(padded(0.0), lengths=LENGTHS), model.predict(padded(), lengths=LENGTHS)
    np.testing.assert_allclose(a, b, atol=1e-12)
    assert not np.allclose(model.predict(padded(0.0)), model.predict(padded()))  # padding counts
    w = attention_maps(model, padded(), lengths=LENGTHS)["weights"].values
    keys = np.broadcast_to(~VALID[None, :, None, None, :], w.shape)
    assert np.all(w[keys] == 0.0)
    np.testing.assert_allclose(w.sum(-1), 1.0)


def test_bad_lengths():
    model = transformer_encoder(8, 2, input_shape=(T, F), outputs=2, seed=0)
    x = padded()
    with pytest.raises(ValueError, match=r"lengths must lie in \[1, 6\]"):
        model(x, lengths=[6, 3, 0, 4])
    with pytest.raises(ValueError, match=r"lengths must lie in \[1, 6\]"):
        model(x, lengths=[7, 3, 1, 4])
    with pytest.raises(ValueError, match="lengths must be 4 integers"):
        model(x, lengths=[6, 3.5, 1, 4])
    with pytest.raises(ValueError, match="lengths as a mask must be True on each"):
        model(x, lengths=~VALID)
    with pytest.raises(ValueError, match="lengths must have one entry per sequence"):
        fit(model, x, np.zeros(N, int), lengths=LENGTHS[:3], epochs=1)
    layer = MultiHeadAttention(2)
    layer.build((T, 4))
    with pytest.raises(ValueError, match=r"lengths as a mask must have shape \(batch, time\)"):
        layer(np.zeros((N, T, 4)), lengths=np.ones((N, T + 1), bool))
    with pytest.raises(TypeError, match="lengths: .* no layer that takes lengths"):
        fit(Sequential(Dense(2), input_shape=(3,)), np.zeros((4, 3)),
               np.zeros(4, int), lengths=[1, 1, 1, 1], epochs=1)
