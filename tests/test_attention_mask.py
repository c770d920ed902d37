"""General attention masks (PyTorch's ``attn_mask``: boolean True masks out, floats added to the
scores; 2-D, per-head 3-D and broadcast 4-D): the op against
``torch.nn.functional.scaled_dot_product_attention``, the multi-head layer against
``torch.nn.MultiheadAttention`` and a post-norm encoder block against
``torch.nn.TransformerEncoderLayer`` on the same weights (float64, outputs and gradients to
1e-10), finite differences, fully masked rows, and bad masks."""
import numpy as np
import pytest

from neurosim import nn
from neurosim.deep.transformer import transformer_encoder
from neurosim.nn.attention import (MultiHeadAttention, TransformerEncoderBlock, attention,
                                   attention_mask)
from neurosim.nn.tensor import Tensor

torch = pytest.importorskip("torch")

R = np.random.default_rng(3)
B, H, T, S, DH = 2, 3, 4, 5, 4                 # batch, heads, queries, keys, head width
Q = R.standard_normal((B, T, H * DH))
K, V = R.standard_normal((2, B, S, H * DH))


def split(a):
    """(batch, time, heads * d) -> torch (batch, heads, time, d)."""
    b, t, _ = a.shape
    return torch.tensor(a.reshape(b, t, H, -1).transpose(0, 2, 1, 3).copy(), requires_grad=True)


def merged(t):
    return t.detach().numpy().transpose(0, 2, 1, 3).reshape(B, T, -1)


def masks():
    """(name, our attn_mask, torch's sdpa attn_mask) for the forms PyTorch accepts."""
    out = []
    pairs = R.random((T, S)) < 0.4
    pairs[:, 0] = False                        # every query keeps a key (torch gives NaN else)
    out.append(("bool 2-D", pairs, torch.tensor(~pairs)))
    per_sample = R.random((B, 1, T, S)) < 0.4
    per_sample[..., 1] = False
    out.append(("bool 4-D per sample", per_sample, torch.tensor(~per_sample)))
    floats = R.standard_normal((T, S))
    floats[1, 2] = -np.inf
    out.append(("float 2-D", floats, torch.tensor(floats)))
    per_head = R.standard_normal((1, H, T, S))
    out.append(("float 4-D per head", per_head, torch.tensor(per_head)))
    return out


@pytest.mark.parametrize("name, ours, theirs", masks(), ids=[m[0] for m in masks()])
def test_op_matches_scaled_dot_product_attention(name, ours, theirs):
    q, k, v = split(Q), split(K), split(V)
    want = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=theirs)
    g = R.standard_normal((B, T, H * DH))
    want.backward(torch.tensor(g.reshape(B, T, H, DH).transpose(0, 2, 1, 3).copy()))
    tq, tk, tv = (Tensor(a, requires_grad=True) for a in (Q, K, V))
    out, weights = attention(tq, tk, tv, H, attn_mask=ours)
    np.testing.assert_allclose(out.data, merged(want), atol=1e-10)
    (out * g).sum().backward()
    for mine, theirs_t in ((tq, q), (tk, k), (tv, v)):
        np.testing.assert_allclose(mine.grad, merged(theirs_t.grad).reshape(mine.shape),
                                   atol=1e-10)
    assert np.allclose(weights.sum(-1), 1.0)


def test_mask_combines_with_causal_and_padding():
    pad = np.array([[False] * (S - 1) + [True], [False] * S])
    window = np.abs(np.subtract.outer(np.arange(T), np.arange(S))) > 1   # local band
    causal = np.triu(np.ones((T, S), bool), 1)
    out, w = attention(Q, K, V, H, causal=True, key_padding_mask=pad, attn_mask=window)
    blocked = window | causal
    full = np.broadcast_to(blocked, (B, H, T, S)) | pad[:, None, None, :]
    assert np.all(w[full] == 0.0)
    want = torch.nn.functional.scaled_dot_product_attention(
        split(Q), split(K), split(V), attn_mask=torch.tensor(~full))
    np.testing.assert_allclose(out.data, merged(want), atol=1e-10)


def test_fully_masked_rows_give_zeros_and_gradients_check():
    floats = R.standard_normal((T, S))
    floats[2] = -np.inf                                   # query 2 sees nothing
    out, w = attention(Q, K, V, H, attn_mask=floats)
    assert np.all(out.data[:, 2] == 0.0) and np.all(w[:, :, 2] == 0.0)
    err = nn.check_gradients(lambda q, k, v: attention(q, k, v, H, attn_mask=floats)[0],
                             Q, K, V)
    assert err < 1e-8


def mha_pair(mask_builder):
    """Our MultiHeadAttention and torch's nn.MultiheadAttention with the same weights."""
    layer = MultiHeadAttention(H)
    layer.build((T, H * DH), np.random.default_rng(0))
    E = H * DH
    theirs = torch.nn.MultiheadAttention(E, H, batch_first=True, dtype=torch.float64)
    p = layer.params
    with torch.no_grad():
        theirs.in_proj_weight.copy_(torch.tensor(np.vstack([p[n].data.T for n in
                                                            ("W_q", "W_k", "W_v")])))
        theirs.in_proj_bias.copy_(torch.tensor(np.concatenate([p[n].data for n in
                                                               ("b_q", "b_k", "b_v")])))
        theirs.out_proj.weight.copy_(torch.tensor(p["W_o"].data.T))
        theirs.out_proj.bias.copy_(torch.tensor(p["b_o"].data))
    return layer, theirs


@pytest.mark.parametrize("form", ["bool 2-D", "float 3-D per head", "bool 3-D with padding"])
def test_multihead_layer_matches_torch(form):
    layer, theirs = mha_pair(None)
    x = R.standard_normal((B, T, H * DH))
    pad = None
    if form == "bool 2-D":
        mask = R.random((T, T)) < 0.4
        np.fill_diagonal(mask, False)
    elif form == "float 3-D per head":
        mask = R.standard_normal((B * H, T, T))
    else:
        mask = R.random((B * H, T, T)) < 0.3
        mask[:, :, 0] = False
        pad = np.array([[False] * (T - 1) + [True], [False] * T])
    xt = torch.tensor(x, requires_grad=True)
    want, want_w = theirs(xt, xt, xt, attn_mask=torch.tensor(mask),
                          key_padding_mask=None if pad is None else torch.tensor(pad),
                          average_attn_weights=False)
    g = R.standard_normal(want.shape)
    want.backward(torch.tensor(g))
    xn = Tensor(x, requires_grad=True)
    out = layer(xn, key_padding_mask=pad, attn_mask=mask)
    (out * g).sum().backward()
    np.testing.assert_allclose(out.data, want.detach().numpy(), atol=1e-10)
    np.testing.assert_allclose(layer.weights, want_w.detach().numpy(), atol=1e-10)
    np.testing.assert_allclose(xn.grad, xt.grad.numpy(), atol=1e-10)
    grads = {"W_q": theirs.in_proj_weight.grad[:H * DH].T, "W_o": theirs.out_proj.weight.grad.T,
             "b_v": theirs.in_proj_bias.grad[2 * H * DH:]}
    for name, want_g in grads.items():
        np.testing.assert_allclose(layer.params[name].grad, want_g.numpy(), atol=1e-10)


def test_post_norm_block_with_fixed_mask_matches_torch_encoder_layer():
    d, ff = H * DH, 7
    window = np.abs(np.subtract.outer(np.arange(T), np.arange(T))) > 1
    block = TransformerEncoderBlock(H, ff, norm_first=False, attn_mask=window)
    block.build((T, d), np.random.default_rng(1))
    theirs = torch.nn.TransformerEncoderLayer(d, H, ff, dropout=0.0, batch_first=True,
                                              dtype=torch.float64)
    a, p = block.attention.params, block.params
    with torch.no_grad():
        theirs.self_attn.in_proj_weight.copy_(torch.tensor(np.vstack(
            [a[n].data.T for n in ("W_q", "W_k", "W_v")])))
        theirs.self_attn.in_proj_bias.copy_(torch.tensor(np.concatenate(
            [a[n].data for n in ("b_q", "b_k", "b_v")])))
        theirs.self_attn.out_proj.weight.copy_(torch.tensor(a["W_o"].data.T))
        theirs.self_attn.out_proj.bias.copy_(torch.tensor(a["b_o"].data))
        theirs.linear1.weight.copy_(torch.tensor(p["W1"].data.T))
        theirs.linear1.bias.copy_(torch.tensor(p["b1"].data))
        theirs.linear2.weight.copy_(torch.tensor(p["W2"].data.T))
        theirs.linear2.bias.copy_(torch.tensor(p["b2"].data))
    x = R.standard_normal((B, T, d))
    xt = torch.tensor(x, requires_grad=True)
    want = theirs(xt, src_mask=torch.tensor(window))
    want.sum().backward()
    xn = Tensor(x, requires_grad=True)
    out = block(xn)                                      # the block's fixed mask
    out.sum().backward()
    np.testing.assert_allclose(out.data, want.detach().numpy(), atol=1e-10)
    np.testing.assert_allclose(xn.grad, xt.grad.numpy(), atol=1e-10)
    assert np.all(block.attention.weights[..., window] == 0.0)


def test_encoder_with_a_fixed_mask_sees_only_its_window():
    """Step 0's output of a one-block encoder read out per step depends only on steps 0-1."""
    window = np.abs(np.subtract.outer(np.arange(6), np.arange(6))) > 1
    model = transformer_encoder(8, 2, input_shape=(6, 3), outputs=2, pool=None,
                                attn_mask=window, seed=0)
    x = R.standard_normal((1, 6, 3))
    y = x.copy()
    y[:, 3:] += 1.0
    np.testing.assert_allclose(model.predict(x)[:, 0], model.predict(y)[:, 0], atol=1e-14)
    assert not np.allclose(model.predict(x)[:, 3], model.predict(y)[:, 3])


def test_bad_masks():
    with pytest.raises(ValueError, match=r"attn_mask must have shape \(queries, keys\)"):
        attention(Q, K, V, H, attn_mask=np.zeros((S, T), bool))
    with pytest.raises(ValueError, match="attn_mask must have shape"):
        attention(Q, K, V, H, attn_mask=np.zeros((B, 2, T, S), bool))
    with pytest.raises(TypeError, match="attn_mask must be boolean .* got dtype int64"):
        attention(Q, K, V, H, attn_mask=np.zeros((T, S), int))
    with pytest.raises(ValueError, match="attn_mask must hold finite values or -inf"):
        attention(Q, K, V, H, attn_mask=np.full((T, S), np.nan))
    with pytest.raises(ValueError, match="attn_mask must be 2-D, 3-D or 4-D"):
        MultiHeadAttention(2, attn_mask=np.zeros(4, bool))
    allowed, additive = attention_mask(np.ones((B * H, T, S)), B, H, T, S)
    assert allowed is None and additive.shape == (B, H, T, S)
    with pytest.raises(ValueError, match="scale must be > 0"):
        attention(Q, K, V, H, scale=0.0)
