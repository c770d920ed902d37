"""Winograd F(2x2, 3x3) kernels against the im2col convolution (``neurosim.nn.conv.conv2d``)
and its input gradient (the autodiff's backward), and against the transform matrices."""
import numpy as np
import pytest

from neurosim.kernels import conv as kc
from neurosim.kernels import winograd as kw
from neurosim.nn import Tensor
from neurosim.nn import winograd as wg
from neurosim.nn.conv import conv2d, conv2d_relu_max_pool2x2

pytestmark = pytest.mark.kernel

G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]])
BT = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]])

# (batch, in channels, out channels, height, width, padding)
CASES = [(2, 3, 4, 13, 13, 1), (1, 1, 1, 7, 5, 0), (2, 2, 3, 7, 5, 2), (3, 4, 5, 6, 8, 1),
         (1, 2, 2, 1, 1, 1), (1, 1, 1, 3, 3, 0), (2, 5, 3, 4, 9, 2)]


def _data(case, dtype, seed=0):
    n, c, k, h, w, _ = case
    r = np.random.default_rng(seed)
    return (r.standard_normal((n, c, h, w)).astype(dtype),
            r.standard_normal((k, c, 3, 3)).astype(dtype), r.standard_normal(k).astype(dtype))


def _close(got, want, dtype):
    """Within 1e-10 (float64) or 1e-5 (float32) of ``want``'s largest magnitude."""
    assert got.dtype == want.dtype and got.shape == want.shape
    scale = max(np.abs(want).max(), 1e-30)
    assert np.abs(got - want).max() <= (1e-10 if dtype == np.float64 else 1e-5) * scale


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES)
def test_forward_and_input_grad_match_im2col(case, dtype):
    x, W, b = _data(case, dtype)
    pad = case[-1]
    xt = Tensor(x, requires_grad=True)
    y = conv2d(xt, W, b, padding=pad)
    _close(wg.conv3x3(x, W, b, pad), y.data, dtype)
    g = np.random.default_rng(1).standard_normal(y.shape).astype(dtype)
    (y * Tensor(g)).sum().backward()
    _close(wg.conv3x3_input_grad(g, W, pad, x.shape[2:]), xt.grad, dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_relu_and_no_bias(dtype):
    x, W, b = _data((2, 3, 4, 9, 6, 1), dtype, seed=2)
    _close(wg.conv3x3(x, W, b, 1, relu=True),
           conv2d(x, W, b, padding=1, activation="relu").data, dtype)
    _close(wg.conv3x3(x, W, padding=1), conv2d(x, W, padding=1).data, dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", [(2, 3, 4, 9, 6, 1), (1, 2, 3, 7, 5, 0), (2, 1, 2, 5, 8, 2)])
def test_relu_max_pool_is_the_two_ops_in_turn(case, dtype):
    """The pooled kernel gives the maxima and argmax of the ReLU output then
    ``max_pool2x2``, bit for bit, and the fused im2col op's within rounding."""
    x, W, b = _data(case, dtype, seed=8)
    x[0, 0, :2, :2] = 0.0                     # ties (several zeros after the ReLU)
    pad = case[-1]
    out, argmax = wg.conv3x3_relu_max_pool2x2(x, W, b, pad)
    conv = wg.conv3x3(x, W, b, pad, relu=True)
    want, want_arg = np.empty_like(out), np.empty(out.shape, np.int32)
    kc.max_pool2x2(conv, want, want_arg)
    np.testing.assert_array_equal(out, want)
    np.testing.assert_array_equal(argmax, want_arg)
    _close(out, conv2d_relu_max_pool2x2(x, W, b, padding=pad).data, dtype)


def test_transforms_are_the_matrices():
    """``U = G w G^T`` and ``V = B^T d B`` per tile, against the matrices themselves."""
    r = np.random.default_rng(3)
    W = r.standard_normal((2, 3, 3, 3))
    U = np.empty((16, 2, 3))
    kw.weights(W, U)
    want = np.einsum("ai,kcij,bj->abkc", G, W, G).reshape(16, 2, 3)
    np.testing.assert_allclose(U, want, rtol=0, atol=1e-14)
    x = r.standard_normal((1, 1, 5, 4))             # padding 1: output 5x4, tiles 3x2
    V = np.empty((16, 1, 6))
    kw.inputs(x, 1, V)
    xp = np.zeros((8, 6))                           # padded rows/columns 0 .. 2*3+1, 2*2+1
    xp[1:6, 1:5] = x[0, 0]
    for ty in range(3):
        for tx in range(2):
            d = xp[2 * ty:2 * ty + 4, 2 * tx:2 * tx + 4]
            np.testing.assert_allclose(V[:, 0, ty * 2 + tx], (BT @ d @ BT.T).reshape(16),
                                       rtol=0, atol=1e-14)


@pytest.mark.parametrize("call, match", [
    (lambda x, W: wg.conv3x3(x[0], W), "x must have 4 dims"),
    (lambda x, W: wg.conv3x3(x.astype(np.int32), W), "x must be a float32 or float64"),
    (lambda x, W: wg.conv3x3(x, W[:, :2]), r"W must be \(out_channels, 3, 3, 3\)"),
    (lambda x, W: wg.conv3x3(x, np.zeros((4, 3, 5, 5))), r"W must be \(out_channels, 3"),
    (lambda x, W: wg.conv3x3(x, W, np.zeros(3)), r"b must be \(4,\)"),
    (lambda x, W: wg.conv3x3(x, W, padding=3), "padding must be one of"),
    (lambda x, W: wg.conv3x3(x, W, padding=1.0), "padding must be one of"),
    (lambda x, W: wg.conv3x3(x[:, :, :1, :1], W, padding=0), "smaller than the 3x3 filter"),
    (lambda x, W: wg.conv3x3_relu_max_pool2x2(x[:, :, :3, :3], W, padding=0),
     "smaller than the 2x2 pool"),
    (lambda x, W: wg.conv3x3_relu_max_pool2x2(x, W[..., :2], padding=0),
     r"W must be \(out_channels, 3, 3, 3\)"),
    (lambda x, W: wg.conv3x3_input_grad(np.zeros((2, 4, 6, 6)), W, 1, (5, 5)),
     r"g's images \(6, 6\) are not the output of in_hw \(5, 5\)"),
    (lambda x, W: wg.conv3x3_input_grad(np.zeros((2, 5, 5, 5)), W, 1, (5, 5)),
     "g must have W's 4 out channels"),
    (lambda x, W: wg.conv3x3_input_grad(np.zeros((2, 4, 5, 5)), W[..., :2], 1, (5, 5)),
     r"W must be \(out_channels, 3, 3, 3\)"),
])
def test_bad_arguments_name_the_argument(call, match):
    x, W, _ = _data((2, 3, 4, 5, 5, 1), np.float64)
    with pytest.raises((ValueError, TypeError), match=match):
        call(x, W)


def test_chunks_of_images_give_the_same_values(monkeypatch):
    """Chunks of 2 images (the last one short) give the one-chunk values (the transforms
    are per image; only BLAS's blocking may differ with the products' width)."""
    x, W, b = _data((5, 3, 4, 7, 6, 1), np.float32, seed=4)
    g = np.random.default_rng(5).standard_normal((5, 4, 7, 6)).astype(np.float32)
    whole = (wg.conv3x3(x, W, b, 1, relu=True), wg.conv3x3_input_grad(g, W, 1, (7, 6)),
             wg.conv3x3_relu_max_pool2x2(x, W, b, 1)[0])
    monkeypatch.setattr(wg, "CHUNK_BYTES", 2 * 16 * 7 * 12 * 4)      # 2 images of 12 tiles
    _close(wg.conv3x3(x, W, b, 1, relu=True), whole[0], np.float32)
    _close(wg.conv3x3_input_grad(g, W, 1, (7, 6)), whole[1], np.float32)
    _close(wg.conv3x3_relu_max_pool2x2(x, W, b, 1)[0], whole[2], np.float32)


def test_input_grad_reads_the_gradient_rows_through_a_transpose():
    """The im2col path's gradient rows (K, N * oh * ow) seen as (N, K, oh, ow) by a transpose
    give the values of their contiguous copy."""
    x, W, _ = _data((3, 2, 4, 6, 5, 1), np.float32, seed=6)
    rows = np.random.default_rng(7).standard_normal((4, 3 * 6 * 5)).astype(np.float32)
    g = rows.reshape(4, 3, 6, 5).transpose(1, 0, 2, 3)
    np.testing.assert_array_equal(wg.conv3x3_input_grad(g, W, 1, (6, 5)),
                                  wg.conv3x3_input_grad(np.ascontiguousarray(g), W, 1, (6, 5)))
