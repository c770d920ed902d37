"""The Winograd path of nn.conv (float32 3x3 stride-1 convolutions with at least
WINOGRAD_MIN_CHANNELS input channels): conv2d and the fused conv + ReLU + 2x2 max-pool give the
values and gradients of the im2col path in float64 within float32 rounding, the fused op stays
the unfused pair bit for bit, and other convolutions keep the im2col path."""
import numpy as np
import pytest

from neurosim import nn
from neurosim.nn import conv

R = np.random.default_rng(5)


def run(op, x, W, b, padding, relu, winograd, monkeypatch):
    """Output and the gradients of x, W, b for a fixed output weighting, on the Winograd path
    or (with the channel threshold out of reach) the im2col path."""
    monkeypatch.setattr(conv, "WINOGRAD_MIN_CHANNELS", 8 if winograd else 10 ** 6)
    xt, Wt, bt = (nn.Tensor(a, requires_grad=True) for a in (x, W, b))
    if op == "fused":
        y = conv.conv2d_relu_max_pool2x2(xt, Wt, bt, padding=padding)
    else:
        y = conv.conv2d(xt, Wt, bt, padding=padding, activation="relu" if relu else "identity")
    weight = np.cos(np.arange(y.data.size)).reshape(y.shape).astype(np.float32)
    (y * weight).sum().backward()
    return [y.data, xt.grad, Wt.grad, bt.grad]


@pytest.mark.parametrize("op, relu", [("conv", False), ("conv", True), ("fused", True)])
@pytest.mark.parametrize("shape, padding", [((3, 8, 14, 14), 1), ((2, 9, 7, 5), 0),
                                            ((2, 8, 6, 9), 2), ((1, 12, 13, 13), 1)])
def test_winograd_path_matches_im2col_within_float32_rounding(op, relu, shape, padding,
                                                              monkeypatch):
    n, c, h, w = shape
    x = R.standard_normal(shape).astype(np.float32)
    W = (R.standard_normal((16, c, 3, 3)) / np.sqrt(9 * c)).astype(np.float32)
    b = (0.1 * R.standard_normal(16)).astype(np.float32)
    fast = run(op, x, W, b, padding, relu, True, monkeypatch)
    slow = run(op, x, W, b, padding, relu, False, monkeypatch)
    for a, e in zip(fast, slow):
        assert a.dtype == np.float32 and a.shape == e.shape
        np.testing.assert_allclose(a, e, rtol=0, atol=2e-5 * max(1.0, np.abs(e).max()))


def test_fused_is_the_unfused_pair_bit_for_bit_on_the_winograd_path():
    x = R.standard_normal((4, 16, 10, 11)).astype(np.float32)
    W = (R.standard_normal((8, 16, 3, 3)) / 12).astype(np.float32)
    b = (0.1 * R.standard_normal(8)).astype(np.float32)
    grads = []
    for fused in (True, False):
        xt, Wt, bt = (nn.Tensor(a, requires_grad=True) for a in (x, W, b))
        y = conv.conv2d_relu_max_pool2x2(xt, Wt, bt, padding=1) if fused else \
            conv.max_pool2d(conv.conv2d(xt, Wt, bt, padding=1, activation="relu"), 2)
        (y * np.sin(np.arange(y.data.size)).reshape(y.shape)).sum().backward()
        grads.append([y.data, xt.grad, Wt.grad, bt.grad])
    for a, e in zip(*grads):
        np.testing.assert_array_equal(a, e)


@pytest.mark.parametrize("dtype, channels, stride, groups, kernel", [
    (np.float64, 8, 1, 1, 3), (np.float32, 4, 1, 1, 3), (np.float32, 8, 2, 1, 3),
    (np.float32, 8, 1, 2, 3), (np.float32, 8, 1, 1, 5)])
def test_other_convolutions_keep_the_im2col_path(dtype, channels, stride, groups, kernel,
                                                  monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the Winograd path was taken")
    monkeypatch.setattr(conv.winograd, "conv3x3", refuse)
    x = R.standard_normal((2, channels, 9, 9)).astype(dtype)
    W = R.standard_normal((4, channels // groups, kernel, kernel)).astype(dtype)
    y = conv.conv2d(x, W, stride=stride, padding=1, groups=groups)
    assert y.dtype == dtype
