"""The convolution and pooling fast paths: the direct convolution of one-channel images
(``kernels.conv.conv_single``, taken by ``conv2d`` at stride 1) and ``conv2d`` over chunks of
images against PyTorch on the same weights (float64, values and gradients to 1e-10) and central
finite differences; the unrolled 2x2 max-pool (``max_pool2x2``) against the general window
kernel (ties, NaN, odd sizes) and PyTorch."""
import numpy as np
import pytest

from neurosim.kernels import conv as kc
from neurosim.nn import check_gradients, conv
from neurosim.nn.tensor import Tensor

torch = pytest.importorskip("torch")
F = torch.nn.functional
R = np.random.default_rng(3)
TOL = 1e-10

SINGLE = [  # (x shape, W shape, padding, dilation, bias, activation)
    ((3, 1, 7, 6), (4, 1, 3, 3), 1, 1, True, "relu"),
    ((2, 1, 9, 8), (3, 1, 3, 2), (2, 1), (1, 2), True, "identity"),
    ((2, 1, 5, 5), (2, 1, 5, 5), 0, 1, False, "relu"),
    ((2, 1, 6, 7), (5, 1, 2, 4), (3, 2), (2, 1), True, "relu"),
    ((1, 1, 4, 4), (2, 1, 1, 1), 0, 1, True, "identity"),
]


def torch_conv(padding, dilation, activation):
    def run(x, W, b=None):
        y = F.conv2d(x, W, b, padding=padding, dilation=dilation)
        return F.relu(y) if activation == "relu" else y
    return run


@pytest.mark.kernel
@pytest.mark.parametrize("xs, ws, padding, dilation, bias, activation", SINGLE)
def test_direct_conv_matches_torch(xs, ws, padding, dilation, bias, activation):
    arrays = [R.standard_normal(xs), R.standard_normal(ws)] + ([R.standard_normal(ws[0])]
                                                               if bias else [])
    mine = [Tensor(a, requires_grad=True) for a in arrays]
    ref = [torch.tensor(a, requires_grad=True) for a in arrays]
    y = conv.conv2d(*mine, padding=padding, dilation=dilation, activation=activation)
    ty = torch_conv(padding, dilation, activation)(*ref)
    g = R.standard_normal(ty.shape)
    y.backward(g)
    ty.backward(torch.tensor(g))
    assert y.shape == tuple(ty.shape)
    assert np.abs(y.data - ty.detach().numpy()).max() < TOL
    for m, r in zip(mine, ref):
        assert np.abs(m.grad - r.grad.numpy()).max() < TOL


@pytest.mark.kernel
def test_direct_conv_float32_and_no_input_gradient():
    x = R.standard_normal((4, 1, 10, 9)).astype(np.float32)
    W, b = (R.standard_normal(s).astype(np.float32) for s in ((6, 1, 3, 3), (6,)))
    Wt, bt = Tensor(W, requires_grad=True), Tensor(b, requires_grad=True)
    y = conv.conv2d(Tensor(x), Wt, bt, padding=1, activation="relu")
    assert y.dtype == np.float32
    g = R.standard_normal(y.shape).astype(np.float32)
    y.backward(g)
    assert Wt.grad.dtype == np.float32 and bt.grad.dtype == np.float32
    tW, tb = (torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (W, b))
    ty = F.relu(F.conv2d(torch.tensor(x, dtype=torch.float64), tW, tb, padding=1))
    ty.backward(torch.tensor(g, dtype=torch.float64))
    assert np.allclose(y.data, ty.detach().numpy(), rtol=1e-5, atol=1e-5)
    assert np.allclose(Wt.grad, tW.grad.numpy(), rtol=1e-4, atol=1e-3)
    assert np.allclose(bt.grad, tb.grad.numpy(), rtol=1e-4, atol=1e-3)


@pytest.mark.kernel
def test_direct_conv_finite_differences():
    x, W, b = R.standard_normal((2, 1, 5, 6)), R.standard_normal((3, 1, 3, 2)), \
        R.standard_normal(3)
    error = check_gradients(lambda x, W, b: conv.conv2d(x, W, b, padding=(1, 2),
                                                        dilation=(2, 1), activation="relu"),
                            x, W, b)
    assert error < 1e-6


def pool_pair(x):
    """The general kernel's and the 2x2 kernel's maxima and argmax of ``x``."""
    oh, ow = x.shape[2] // 2, x.shape[3] // 2
    out = [np.empty(x.shape[:2] + (oh, ow), x.dtype) for _ in range(2)]
    where = [np.empty(out[0].shape, np.intp) for _ in range(2)]
    kc.max_pool2d(x, 2, 2, 2, 2, 0, 0, out[0], where[0])
    kc.max_pool2x2(x, out[1], where[1])
    return out, where


@pytest.mark.kernel
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(3, 2, 8, 6), (2, 3, 7, 9)])
def test_max_pool2x2_equals_general_kernel(dtype, shape):
    x = np.maximum(R.standard_normal(shape), 0).astype(dtype)   # many ties at 0, as after ReLU
    x[0, 0, 0, :4], x[0, 0, 1, 1] = np.nan, np.nan                # NaNs win, the later one
    x[1, 1, 2:4, 2:4] = 1.5                                       # a tie: the first maximum
    out, where = pool_pair(x)
    np.testing.assert_array_equal(out[0], out[1])
    np.testing.assert_array_equal(where[0], where[1])
    g = R.standard_normal(out[0].shape).astype(dtype)
    dx = [np.zeros_like(x), np.zeros_like(x)]
    kc.max_pool2d_backward(g, where[0], dx[0])
    kc.max_pool2x2_backward(g, where[1], dx[1])
    np.testing.assert_array_equal(dx[0], dx[1])


@pytest.mark.parametrize("shape", [(2, 3, 8, 8), (2, 2, 7, 5)])
def test_max_pool_fast_path_matches_torch(shape):
    x = R.standard_normal(shape)
    xt, tx = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ty = conv.max_pool2d(xt, 2), F.max_pool2d(tx, 2)
    g = R.standard_normal(ty.shape)
    y.backward(g)
    ty.backward(torch.tensor(g))
    np.testing.assert_array_equal(y.data, ty.detach().numpy())
    np.testing.assert_array_equal(xt.grad, tx.grad.numpy())   # odd last row/column: zero


@pytest.mark.parametrize("chunk_bytes", [1, 40000])
@pytest.mark.parametrize("shape, stride, padding, dilation, groups", [
    ((6, 4, 3, 3), 1, 1, 1, 1), ((6, 2, 3, 2), (2, 1), (2, 1), (2, 3), 2)])
def test_conv_in_chunks_of_images_matches_torch(monkeypatch, chunk_bytes, shape, stride,
                                                padding, dilation, groups):
    """im2col and its products over chunks of images (one image, or a few, a chunk) give
    PyTorch's values and gradients, the input's included."""
    monkeypatch.setattr(conv, "CHUNK_BYTES", chunk_bytes)
    arrays = [R.standard_normal((5, shape[1] * groups, 8, 7)), R.standard_normal(shape),
              R.standard_normal(shape[0])]
    mine = [Tensor(a, requires_grad=True) for a in arrays]
    ref = [torch.tensor(a, requires_grad=True) for a in arrays]
    y = conv.conv2d(*mine, stride=stride, padding=padding, dilation=dilation, groups=groups,
                    activation="relu")
    ty = F.relu(F.conv2d(*ref, stride=stride, padding=padding, dilation=dilation,
                         groups=groups))
    g = R.standard_normal(ty.shape)
    y.backward(g)
    ty.backward(torch.tensor(g))
    assert np.abs(y.data - ty.detach().numpy()).max() < TOL
    for m, r in zip(mine, ref):
        assert np.abs(m.grad - r.grad.numpy()).max() < TOL
