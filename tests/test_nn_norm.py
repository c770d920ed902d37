"""Dropout, batch norm and layer norm: gradients against finite differences, values against the
NumPy formulas, dropout's mask against its probability law."""
import numpy as np
import pytest

from neurosim import nn
from neurosim.kernels import threads as kthreads
from neurosim.nn import norm

R = np.random.default_rng(7)
X2 = R.standard_normal((5, 3)) * 2 + 1
X4 = R.standard_normal((3, 2, 3, 2)) - 0.5
XL = R.standard_normal((2, 3, 4))
G3, B3 = R.uniform(0.5, 1.5, 3), R.standard_normal(3)
G2, B2 = R.uniform(0.5, 1.5, 2), R.standard_normal(2)
G4, B4 = R.uniform(0.5, 1.5, 4), R.standard_normal(4)

CASES = {
    "batch_norm_2d": (lambda x, g, b: norm.batch_norm(x, g, b)[0], X2, G3, B3),
    "batch_norm_4d": (lambda x, g, b: norm.batch_norm(x, g, b)[0], X4, G2, B2),
    "batch_norm_channels_last": (lambda x, g, b: norm.batch_norm(x, g, b, axis=-1)[0], X4, G2, B2),
    "batch_norm_inference": (lambda x, g, b: norm.batch_norm_inference(
        x, g, b, np.array([0.3, -0.2]), np.array([1.5, 0.4])), X4, G2, B2),
    "layer_norm_2d": (lambda x, g, b: norm.layer_norm(x, g, b), X2, G3, B3),
    "layer_norm_3d": (lambda x, g, b: norm.layer_norm(x, g, b), XL, G4, B4),
    "dropout": (lambda x: norm.dropout(x, 0.4, np.random.default_rng(3)), X4),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradient_matches_finite_differences(name):
    f, *args = CASES[name]
    assert nn.check_gradients(f, *args) < 1e-6


def test_batch_norm_values():
    eps = 1e-5
    y, mean, var = norm.batch_norm(X4, np.ones(2), np.zeros(2), eps=eps)
    # per channel: mean 0 and variance var / (var + eps), i.e. 1 up to eps
    np.testing.assert_allclose(y.data.mean(axis=(0, 2, 3)), 0.0, atol=1e-12)
    np.testing.assert_allclose(y.data.var(axis=(0, 2, 3)), var / (var + eps), rtol=1e-12)
    np.testing.assert_allclose(mean, X4.mean(axis=(0, 2, 3)))
    np.testing.assert_allclose(var, X4.var(axis=(0, 2, 3)))
    # the documented conversion to the unbiased variance
    m = X4.size // 2
    np.testing.assert_allclose(var * m / (m - 1), X4.transpose(1, 0, 2, 3).reshape(2, -1).var(axis=1, ddof=1))
    y, mean, var = norm.batch_norm(X2, G3, B3, eps=eps)
    want = G3 * (X2 - X2.mean(axis=0)) / np.sqrt(X2.var(axis=0) + eps) + B3
    np.testing.assert_allclose(y.data, want, rtol=1e-12)
    assert mean.shape == var.shape == (3,)
    # channels last: statistics over all axes but the last
    _, mean, var = norm.batch_norm(X4, G2, B2, axis=-1)
    np.testing.assert_allclose(var, X4.var(axis=(0, 1, 2)))


def test_batch_norm_inference_with_batch_statistics_matches_training():
    y, mean, var = norm.batch_norm(X4, G2, B2, eps=1e-3)
    inf = norm.batch_norm_inference(X4, G2, B2, mean, var, eps=1e-3)
    np.testing.assert_allclose(inf.data, y.data, rtol=1e-12, atol=1e-12)
    # fixed statistics: per element, independent of the rest of the batch
    one = norm.batch_norm_inference(X4[:1], G2, B2, mean, var, eps=1e-3)
    np.testing.assert_allclose(one.data, y.data[:1], rtol=1e-12, atol=1e-12)


def test_layer_norm_values():
    eps = 1e-5
    y = norm.layer_norm(XL, np.ones(4), np.zeros(4), eps=eps).data
    v = XL.var(axis=-1)
    np.testing.assert_allclose(y.mean(axis=-1), 0.0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=-1), v / (v + eps), rtol=1e-12)
    want = G4 * (XL - XL.mean(axis=-1, keepdims=True)) / np.sqrt(v[..., None] + eps) + B4
    np.testing.assert_allclose(norm.layer_norm(XL, G4, B4, eps=eps).data, want, rtol=1e-12)


def test_dropout_rate_zero_is_identity():
    x = nn.Tensor(X2, requires_grad=True)
    gen = np.random.default_rng(0)
    before = gen.bit_generator.state
    assert norm.dropout(x, 0.0, gen) is x
    assert gen.bit_generator.state == before  # nothing drawn


def test_dropout_preserves_expected_value():
    rate, n = 0.3, 1_000_000
    out = norm.dropout(np.ones(n), rate, np.random.default_rng(11)).data
    kept = out != 0
    np.testing.assert_allclose(out[kept], 1 / (1 - rate))
    # each output has mean 1 and variance rate / (1 - rate); 5 standard errors
    assert abs(out.mean() - 1.0) < 5 * np.sqrt(rate / (1 - rate) / n)
    assert abs(kept.mean() - (1 - rate)) < 5 * np.sqrt(rate * (1 - rate) / n)


def test_dropout_same_seed_same_mask_and_gradient_through_kept_units():
    a = norm.dropout(X4, 0.5, np.random.default_rng(5)).data
    b = norm.dropout(X4, 0.5, np.random.default_rng(5)).data
    c = norm.dropout(X4, 0.5, np.random.default_rng(6)).data
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    x = nn.Tensor(X4, requires_grad=True)
    y = norm.dropout(x, 0.5, np.random.default_rng(5))
    y.sum().backward()
    kept = y.data != 0
    np.testing.assert_array_equal(x.grad, np.where(kept, 2.0, 0.0))


def test_float32_stays_float32():
    x = nn.Tensor(X4.astype(np.float32), requires_grad=True)
    g = nn.Tensor(G2.astype(np.float32), requires_grad=True)
    y, mean, var = norm.batch_norm(x, g, B2)  # a float64 constant beta takes x's dtype
    outs = [y, norm.batch_norm_inference(x, g, B2, mean, var),
            norm.layer_norm(x, np.ones(2), np.zeros(2)),
            norm.dropout(x, 0.2, np.random.default_rng(0))]
    assert mean.dtype == var.dtype == np.float32
    for out in outs:
        assert out.dtype == np.float32
        x.zero_grad()
        g.zero_grad()
        (out * out).sum().backward()
        assert x.grad.dtype == np.float32
    assert g.grad.dtype == np.float32


def test_no_grad_records_nothing():
    x = nn.Tensor(X2, requires_grad=True)
    with nn.no_grad():
        y = norm.layer_norm(norm.batch_norm(x, G3, B3)[0], G3, B3)
    assert not y.requires_grad and y.parents == ()


def test_bad_input():
    gen = np.random.default_rng(0)
    for rate in (-0.1, 1.0):
        with pytest.raises(ValueError, match=r"\[0, 1\)"):
            norm.dropout(X2, rate, gen)
    with pytest.raises(TypeError, match="Generator"):
        norm.dropout(X2, 0.5, 0)
    with pytest.raises(ValueError, match=r"gamma must have shape \(3,\)"):
        norm.batch_norm(X2, G2, B3)
    with pytest.raises(ValueError, match=r"beta must have shape \(2,\)"):
        norm.batch_norm(X4, G2, B3)
    with pytest.raises(ValueError, match="batch axis"):
        norm.batch_norm(np.ones(3), G3, B3)
    for axis in (0, 2):
        with pytest.raises(ValueError, match="axis"):
            norm.batch_norm(X2, G3, B3, axis=axis)
    with pytest.raises(ValueError, match=r"running_var must have shape \(2,\)"):
        norm.batch_norm_inference(X4, G2, B2, np.zeros(2), np.ones(3))
    with pytest.raises(ValueError, match=r"gamma must have shape \(4,\)"):
        norm.layer_norm(XL, G3, B4)
    with pytest.raises(ValueError, match="scalar"):
        norm.layer_norm(np.float64(1.0), G3, B3)


def test_thread_runs_one_without_threads_else_several_per_thread(monkeypatch):
    monkeypatch.setattr(kthreads, "threads", lambda work, threshold: 1)
    assert kthreads.runs(10 ** 9, 0, 1000) == 1
    monkeypatch.setattr(kthreads, "threads", lambda work, threshold: 2)
    assert kthreads.runs(10 ** 9, 0, 1000) == 2 * kthreads.RUNS_PER_THREAD
    assert kthreads.runs(10 ** 9, 0, 3) == 3          # no more runs than items
    assert kthreads.runs(10 ** 9, 0, 0) == 1


def test_layer_norm_op_on_threads_gives_the_serial_bits(monkeypatch):
    """The op through the parallel kernels (forced: any call, 2 threads' runs) against the
    serial op: output and every gradient bit for bit, float32 and float64."""
    x3 = R.standard_normal((5, 23, 19)) * 2 + 1
    gamma, beta, g = R.standard_normal(19), R.standard_normal(19), R.standard_normal(x3.shape)
    for dtype in (np.float32, np.float64):
        results = []
        for count in (1, 2):
            monkeypatch.setattr(kthreads, "threads", lambda work, threshold, count=count: count)
            ts = [nn.Tensor(a.astype(dtype), requires_grad=True) for a in (x3, gamma, beta)]
            y = norm.layer_norm(*ts)
            y.backward(g.astype(dtype))
            results.append([y.data] + [t.grad for t in ts])
        for a, b in zip(*results):
            assert a.dtype == dtype and a.tobytes() == b.tobytes()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bits, count", [(np.random.PCG64, 1), (np.random.PCG64, 3),
                                         (np.random.PCG64DXSM, 2), (np.random.Philox, 3)])
def test_dropout_gives_numpys_mask_and_stream_in_parts(dtype, bits, count, monkeypatch):
    """Dropout as ``x * ((u >= rate) * scale)`` of one ``generator.random`` call, bit for bit
    (infinities and NaN included), whether its uniforms are drawn in one call or in parts on
    threads (a PCG64 advanced to each part; other bit generators in one call), and the
    generator left where that one call leaves it."""
    monkeypatch.setattr(kthreads, "threads", lambda work, threshold: count)
    x = np.random.default_rng(1).standard_normal((7, 5, 9)).astype(dtype)
    x[0, 0, :3] = [np.inf, -np.inf, np.nan]
    g = np.random.default_rng(2).standard_normal(x.shape).astype(dtype)
    ours, theirs = np.random.Generator(bits(9)), np.random.Generator(bits(9))
    ours.random(3)                     # mid-stream
    theirs.random(3)
    tx = nn.Tensor(x, requires_grad=True)
    y = norm.dropout(tx, 0.3, ours)
    y.backward(g)
    scale = (theirs.random(x.shape) >= 0.3).astype(dtype)
    scale *= dtype(1.0 / 0.7)
    with np.errstate(invalid="ignore"):                 # inf * 0
        want = x * scale
    assert y.data.dtype == dtype and y.data.tobytes() == want.tobytes()
    assert tx.grad.tobytes() == (g * scale).tobytes()
    assert ours.random(4).tolist() == theirs.random(4).tolist()
