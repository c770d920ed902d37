"""The compiled scaled dot-product attention (neurosim.kernels.attention.sdp_forward and
sdp_backward, behind neurosim.nn.attention.attention): its SIMD helpers against NumPy, and the op
against a plain float64 NumPy reference written here at sizes the small tests do not reach
(rows longer than a SIMD vector with tails, queries and keys of different lengths with a causal
mask, one key, scores far from zero, long causal blocks with and without masks), in float64
and float32, outputs and gradients."""
import numpy as np
import pytest
from numba import njit

from neurosim.kernels import attention as katt
from neurosim.nn.attention import attention
from neurosim.nn.tensor import Tensor

pytestmark = pytest.mark.kernel
R = np.random.default_rng(7)


@njit
def _exp(t, top, scale):
    """The kernels' exponential over a vector and the sum of the results in the vector's dtype,
    as the softmax rows sum them."""
    out = np.empty_like(t)
    total = t.dtype.type(0.0)
    for j in range(t.shape[0]):
        out[j] = katt.exp_shifted(t[j], top, scale)
        total += out[j]
    return out, total


@njit
def _max(t):
    """The largest entry over the kernels' order keys, as the softmax rows find it."""
    top = katt._order_key(t[0])
    for j in range(1, t.shape[0]):
        top = max(top, katt._order_key(t[j]))
    return katt._key_float(top)


@pytest.mark.parametrize("dtype, rtol, sum_rtol", [(np.float64, 1e-15, 1e-12),
                                                   (np.float32, 2e-7, 1e-6)])
def test_exp_shifted_matches_numpy(dtype, rtol, sum_rtol):
    """float32 sums in float32 (a few float32 roundings), float64 in float64."""
    t = np.concatenate([np.linspace(-80.0, 0.0, 997), [0.0, -1e-30, -86.9]]).astype(dtype)
    for top, scale in ((0.0, 1.0), (3.5, 0.25)):
        out, total = _exp(t, dtype(top), dtype(scale))
        x = (t - dtype(top)) * dtype(scale)               # the argument, rounded as in the kernel
        np.testing.assert_allclose(out, np.exp(x.astype(np.float64)), rtol=rtol, atol=0)
        assert total == pytest.approx(out.astype(np.float64).sum(), rel=sum_rtol)
    out, _ = _exp(np.array([-np.inf, -1000.0], dtype), dtype(0.0), dtype(1.0))
    assert out.tolist() == [0.0, 0.0]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_order_keys_give_the_float_maximum(dtype):
    for values in (R.standard_normal(37), -np.abs(R.standard_normal(40)) - 1.0,
                   np.array([-np.inf, -np.inf]), np.array([-0.0, -3.0]), np.array([-2.5])):
        x = values.astype(dtype)
        top = _max(x)
        assert top == x.max()


def reference(q, k, v, heads, causal, pad, additive):
    """Loop over samples and heads in float64: softmax(q k^T / sqrt(d) + mask) v."""
    b, tq, _ = q.shape
    tk, dh, dv = k.shape[1], q.shape[2] // heads, v.shape[2] // heads
    out = np.zeros((b, tq, heads * dv))
    for n in range(b):
        for h in range(heads):
            s = q[n, :, h * dh:(h + 1) * dh] @ k[n, :, h * dh:(h + 1) * dh].T / np.sqrt(dh)
            s = s + (0.0 if additive is None else additive)
            s[np.triu(np.ones((tq, tk), bool), 1) & causal] = -np.inf
            if pad is not None:
                s[:, pad[n]] = -np.inf
            top = s.max(axis=1, keepdims=True)
            w = np.exp(s - np.where(np.isinf(top), 0.0, top))
            w /= np.maximum(w.sum(axis=1, keepdims=True), 1e-300)
            out[n, :, h * dv:(h + 1) * dv] = w @ v[n, :, h * dv:(h + 1) * dv]
    return out


def _loss(out, weights_g):
    return float((out * weights_g).sum())


CASES = {"long rows": dict(tq=37, tk=37, causal=False),
         "causal, more queries": dict(tq=23, tk=19, causal=True),
         "causal, more keys": dict(tq=9, tk=26, causal=True),
         "one key": dict(tq=5, tk=1, causal=False),
         "padding and an additive mask": dict(tq=18, tk=21, causal=False, pad=True, add=True),
         "large scores": dict(tq=17, tk=17, causal=True, big=True),
         "causal, long": dict(tq=150, tk=150, causal=True),
         "causal, long, fewer keys": dict(tq=140, tk=70, causal=True),
         "causal, long, with masks": dict(tq=100, tk=100, causal=True, pad=True, add=True)}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-11), (np.float32, 2e-4)])
def test_op_matches_reference(case, dtype, tol):
    c = CASES[case]
    heads, batch = 2, 3
    q = R.standard_normal((batch, c["tq"], 8)) * (20.0 if c.get("big") else 1.0)
    k = R.standard_normal((batch, c["tk"], 8))
    v = R.standard_normal((batch, c["tk"], 6))
    pad = R.random((batch, c["tk"])) < 0.3 if c.get("pad") else None
    additive = R.standard_normal((c["tq"], c["tk"])) if c.get("add") else None
    g = R.standard_normal((batch, c["tq"], 6))
    want = reference(q, k, v, heads, c["causal"], pad, additive)
    ts = [Tensor(a.astype(dtype), requires_grad=True) for a in (q, k, v)]
    out, _ = attention(*ts, heads, causal=c["causal"], key_padding_mask=pad,
                       attn_mask=additive)
    assert out.dtype == dtype
    scale = np.abs(want).max()
    np.testing.assert_allclose(out.data, want, atol=tol * scale)
    out.backward(g.astype(dtype))
    eps = 1e-6
    for t, a in zip(ts, (q, k, v)):            # central differences of <out, g> in float64
        idx = tuple(R.integers(0, n) for n in a.shape)
        plus, minus = a.copy(), a.copy()
        plus[idx] += eps
        minus[idx] -= eps
        args = [plus if b is a else b for b in (q, k, v)], [minus if b is a else b
                                                           for b in (q, k, v)]
        fd = (_loss(reference(*args[0], heads, c["causal"], pad, additive), g) -
              _loss(reference(*args[1], heads, c["causal"], pad, additive), g)) / (2 * eps)
        assert abs(t.grad[idx] - fd) <= (1e-6 if dtype == np.float64 else 2e-3) * \
            max(1.0, abs(fd)) * (20.0 if c.get("big") else 1.0)


def test_only_wanted_gradients_are_made():
    q, k, v = (R.standard_normal((2, 6, 4)) for _ in range(3))
    tq = Tensor(q, requires_grad=True)
    out, _ = attention(tq, k, v, 2, causal=True)
    out.sum().backward()
    assert tq.grad.shape == q.shape and np.isfinite(tq.grad).all()


def _kernel_arrays(dtype, batch, heads, tq, tk, d, dv, masks, rng):
    """Inputs of the kernels: q, k, v as column slices of one packed array (as the layers pass
    them), the masks (general and additive as broadcast views) and the output's gradient."""
    packed = rng.standard_normal((batch, max(tq, tk), heads * (2 * d + dv))).astype(dtype)
    q = packed[:, :tq, :heads * d]
    k = packed[:, :tk, heads * d:2 * heads * d]
    v = packed[:, :tk, 2 * heads * d:]
    full = (batch, heads, tq, tk)
    if masks:
        pad = rng.random((batch, tk)) < 0.2
        allowed = np.broadcast_to(rng.random((1, heads, tq, tk)) < 0.8, full)
        additive = np.broadcast_to(rng.standard_normal((tq, tk)).astype(dtype), full)
    else:
        pad = np.zeros((1, 0), bool)
        allowed = np.broadcast_to(np.zeros((1, 1, 1, 0), bool), (1, 1, 1, 0))
        additive = np.broadcast_to(np.zeros((1, 1, 1, 0), dtype), (1, 1, 1, 0))
    g = rng.standard_normal((batch, tq, heads * dv)).astype(dtype)
    return q, k, v, pad, allowed, additive, g


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("tq, tk, causal, masks", [(37, 21, True, True), (19, 40, False, False),
                                                   (33, 33, True, False)])
def test_parallel_twins_give_the_serial_bits(dtype, tq, tk, causal, masks):
    """The (sample, head) blocks in several runs, serially and on threads, against one run:
    weights, outputs and every gradient bit for bit (also a call that wants only the values'
    gradient)."""
    batch, heads, d, dv = 3, 3, 8, 5
    q, k, v, pad, allowed, additive, g = _kernel_arrays(dtype, batch, heads, tq, tk, d, dv,
                                                        masks, np.random.default_rng(5))
    scale = dtype(0.3)
    results = []
    for forward, backward, parts in ((katt.sdp_forward, katt.sdp_backward, 1),
                                     (katt.sdp_forward, katt.sdp_backward, 4),
                                     (katt.sdp_forward_parallel, katt.sdp_backward_parallel, 4),
                                     (katt.sdp_forward_parallel, katt.sdp_backward_parallel, 9)):
        weights = np.empty((batch, heads, tq, tk), dtype)
        out = np.empty((batch, tq, heads * dv), dtype)
        forward(q, k, v, scale, causal, pad, allowed, additive, weights, out, parts)
        grads = [np.empty_like(a) for a in (q, k, v)]
        backward(g, q, k, v, weights, scale, causal, *grads, parts)
        only_v = np.empty_like(v)
        backward(g, q, k, v, weights, scale, causal, np.empty((0, 0, 0), dtype),
                 np.empty((0, 0, 0), dtype), only_v, parts)
        results.append([weights, out, *grads, only_v])
    assert results[0][4].tobytes() == results[0][5].tobytes()
    for other in results[1:]:
        for a, b in zip(results[0], other):
            assert a.tobytes() == b.tobytes()
