"""The layer norm kernels (neurosim.kernels.nn_norm.layer_norm_rows, float32 element arithmetic,
and layer_norm_rows_backward, float32 column sums by row blocks) against
PyTorch in float64 and a float64 NumPy reference for float32, at row counts around the row
block and widths with SIMD tails; a row whose gradient is exactly zero gives exactly zero."""
import numpy as np
import pytest

from neurosim.kernels import fpenv
from neurosim.kernels import nn_norm as kq
from neurosim.nn import norm
from neurosim.nn.tensor import Tensor

pytestmark = pytest.mark.kernel
R = np.random.default_rng(11)
SHAPES = [(1, 5), (kq.ROW_BLOCK, 64), (2 * kq.ROW_BLOCK + 7, 37), (70, 128)]


def _forward(x, gamma, beta, eps=1e-5):
    out = np.empty_like(x)
    mean, inv_std = np.empty(x.shape[0], x.dtype), np.empty(x.shape[0], x.dtype)
    kq.layer_norm_rows(x, gamma, beta, eps, out, mean, inv_std, 1)
    return out, mean, inv_std


def _backward(g, gamma, x, mean, inv_std):
    gx = np.empty_like(g)
    g_gamma, g_beta = np.empty(g.shape[1]), np.empty(g.shape[1])
    kq.layer_norm_rows_backward(g, gamma, x, mean, inv_std, gx, g_gamma, g_beta, 1)
    return gx, g_gamma, g_beta


def _reference(x, gamma, beta, g, eps=1e-5):
    """Float64 NumPy: the output and the gradients of ``sum(out * g)``."""
    x, gamma, beta, g = (a.astype(np.float64) for a in (x, gamma, beta, g))
    mean = x.mean(axis=1, keepdims=True)
    s = 1.0 / np.sqrt(((x - mean) ** 2).mean(axis=1, keepdims=True) + eps)
    xhat = (x - mean) * s
    d = g * gamma
    gx = s * (d - d.mean(axis=1, keepdims=True) - xhat * (d * xhat).mean(axis=1, keepdims=True))
    return xhat * gamma + beta, gx, (g * xhat).sum(axis=0), g.sum(axis=0)


def _inputs(rows, features, dtype):
    x = (R.standard_normal((rows, features)) * 3.0 + 1.5).astype(dtype)
    gamma = R.standard_normal(features).astype(dtype)
    beta = R.standard_normal(features).astype(dtype)
    g = R.standard_normal((rows, features)).astype(dtype)
    return x, gamma, beta, g


@pytest.mark.parametrize("rows, features", SHAPES)
def test_float64_matches_pytorch(rows, features):
    torch = pytest.importorskip("torch")
    x, gamma, beta, g = _inputs(rows, features, np.float64)
    out, mean, inv_std = _forward(x, gamma, beta)
    gx, g_gamma, g_beta = _backward(g, gamma, x, mean, inv_std)
    tx, tg, tb = (torch.tensor(a, requires_grad=True) for a in (x, gamma, beta))
    ty = torch.nn.functional.layer_norm(tx, (features,), tg, tb, eps=1e-5)
    (ty * torch.tensor(g)).sum().backward()
    for ours, theirs in ((out, ty), (gx, tx.grad), (g_gamma, tg.grad), (g_beta, tb.grad)):
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("rows, features", SHAPES)
def test_float32_within_float32_rounding(rows, features):
    x, gamma, beta, g = _inputs(rows, features, np.float32)
    out, mean, inv_std = _forward(x, gamma, beta)
    gx, g_gamma, g_beta = _backward(g, gamma, x, mean, inv_std)
    want_out, want_gx, want_gamma, want_beta = _reference(x, gamma, beta, g)
    assert out.dtype == mean.dtype == inv_std.dtype == gx.dtype == np.float32
    eps = np.finfo(np.float32).eps
    for ours, want, terms in ((out, want_out, 4), (gx, want_gx, 4 * features),
                              (g_gamma, want_gamma, 4 * rows), (g_beta, want_beta, 4 * rows)):
        size = np.abs(want).max()
        np.testing.assert_allclose(ours, want, rtol=0, atol=8 * eps * size * np.sqrt(terms))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_zero_gradient_rows_give_exact_zeros(dtype):
    x, gamma, beta, g = _inputs(2 * kq.ROW_BLOCK + 3, 40, dtype)
    g[[0, 5, kq.ROW_BLOCK + 1, -1]] = 0.0
    _, mean, inv_std = _forward(x, gamma, beta)
    gx, _, _ = _backward(g, gamma, x, mean, inv_std)
    assert not gx[[0, 5, kq.ROW_BLOCK + 1, -1]].any()
    assert gx[[1, 2, -2]].all()


def test_op_in_float32_matches_float64_op():
    """norm.layer_norm on float32 Tensors: values and gradients within float32 rounding of the
    float64 op."""
    x, gamma, beta, g = _inputs(3 * kq.ROW_BLOCK, 48, np.float64)
    results = {}
    for dtype in (np.float32, np.float64):
        tx, tg, tb = (Tensor(a.astype(dtype), requires_grad=True) for a in (x, gamma, beta))
        y = norm.layer_norm(tx.reshape(3, kq.ROW_BLOCK, 48), tg, tb)
        (y * g.reshape(3, kq.ROW_BLOCK, 48).astype(dtype)).sum().backward()
        results[dtype] = [y.data, tx.grad, tg.grad, tb.grad]
    for ours, want in zip(results[np.float32], results[np.float64]):
        assert ours.dtype == np.float32
        np.testing.assert_allclose(ours, want, rtol=0, atol=2e-5 * np.abs(want).max())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rows, features, parts", [(5 * kq.ROW_BLOCK + 9, 37, 3),
                                                   (kq.ROW_BLOCK + 1, 64, 2)])
def test_parallel_twins_give_the_serial_bits(dtype, rows, features, parts):
    """The rows (and row blocks) in several runs, serial and on threads, against one run; under
    the backward pass's flushing, every thread flushes as its caller: gradient columns of
    subnormals read as zero (their scale and shift gradients are zero, not sums of
    subnormals)."""
    x, gamma, beta, g = _inputs(rows, features, dtype)
    g[:, ::2] = np.finfo(dtype).smallest_subnormal * 3
    results = []
    for forward, backward, n in ((kq.layer_norm_rows, kq.layer_norm_rows_backward, 1),
                                 (kq.layer_norm_rows, kq.layer_norm_rows_backward, parts),
                                 (kq.layer_norm_rows_parallel,
                                  kq.layer_norm_rows_backward_parallel, parts)):
        out = np.empty_like(x)
        mean, inv_std = np.empty(rows, dtype), np.empty(rows, dtype)
        forward(x, gamma, beta, 1e-5, out, mean, inv_std, n)
        gx = np.empty_like(g)
        g_gamma, g_beta = np.empty(features), np.empty(features)
        fpenv.call_flushed(backward, g, gamma, x, mean, inv_std, gx, g_gamma, g_beta, n)
        assert not g_beta[::2].any() and not g_gamma[::2].any()
        results.append((out, mean, inv_std, gx, g_gamma, g_beta))
    assert _backward(g, gamma, x, *results[0][1:3])[2][::2].all()     # unflushed: subnormals
    for other in results[1:]:
        for a, b in zip(results[0], other):
            assert a.tobytes() == b.tobytes()
