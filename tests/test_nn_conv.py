"""Convolution, transposed convolution, pooling and upsampling: values against slow loop
references, gradients against central finite differences, dtypes and error messages."""
import numpy as np
import pytest

from neurosim import nn
from neurosim.nn import conv

R = np.random.default_rng(0)
X = R.standard_normal((2, 3, 7, 6))        # (batch, channels, height, width)
W = R.standard_normal((4, 3, 3, 2))        # (out, in, kh, kw)
B = R.standard_normal(4)
WT = R.standard_normal((3, 4, 3, 2))       # transposed: (in, out, kh, kw)
XT = R.standard_normal((2, 3, 4, 3))

# (stride, padding) and (stride, padding, output_padding) combinations
CONV_SETTINGS = [(1, 0), (2, 1), ((2, 1), (0, 2)), (3, 2)]
TRANSPOSE_SETTINGS = [(1, 0, 0), (2, 1, 1), ((2, 3), (0, 1), (1, 2)), (3, 2, 0)]
POOL_SETTINGS = [(2, None), (3, 2), ((2, 3), (1, 2))]


# ---------------------------------------------------------------- slow references
def pair(v):
    return (v, v) if np.ndim(v) == 0 else tuple(v)


def conv2d_reference(x, w, b, stride, padding):
    (sh, sw), (ph, pw) = pair(stride), pair(padding)
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    kh, kw = w.shape[2:]
    oh, ow = (xp.shape[2] - kh) // sh + 1, (xp.shape[3] - kw) // sw + 1
    out = np.zeros((x.shape[0], w.shape[0], oh, ow))
    for n in range(x.shape[0]):
        for o in range(w.shape[0]):
            for r in range(oh):
                for q in range(ow):
                    window = xp[n, :, r * sh:r * sh + kh, q * sw:q * sw + kw]
                    out[n, o, r, q] = (window * w[o]).sum() + (0.0 if b is None else b[o])
    return out


def pool_reference(x, size, stride, reduce):
    (kh, kw) = pair(size)
    (sh, sw) = pair(size if stride is None else stride)
    oh, ow = (x.shape[2] - kh) // sh + 1, (x.shape[3] - kw) // sw + 1
    out = np.zeros(x.shape[:2] + (oh, ow))
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            for r in range(oh):
                for q in range(ow):
                    out[n, c, r, q] = reduce(x[n, c, r * sh:r * sh + kh, q * sw:q * sw + kw])
    return out


def bilinear_reference(x, s):
    """PyTorch's align_corners=False rule, one output pixel at a time."""
    h, w = x.shape[2:]
    out = np.zeros(x.shape[:2] + (h * s, w * s))

    def source(d, size):
        src = max((d + 0.5) / s - 0.5, 0.0)
        low = int(src)
        return low, min(low + 1, size - 1), src - low

    for r in range(h * s):
        a, b, t = source(r, h)
        for q in range(w * s):
            u, v, f = source(q, w)
            out[..., r, q] = ((1 - t) * ((1 - f) * x[..., a, u] + f * x[..., a, v])
                              + t * ((1 - f) * x[..., b, u] + f * x[..., b, v]))
    return out


def nearest_reference(x, s):
    out = np.zeros(x.shape[:2] + (x.shape[2] * s, x.shape[3] * s))
    for r in range(out.shape[2]):
        for q in range(out.shape[3]):
            out[..., r, q] = x[..., r // s, q // s]
    return out


# ---------------------------------------------------------------- values
@pytest.mark.kernel
@pytest.mark.parametrize("stride, padding", CONV_SETTINGS)
def test_conv2d_matches_direct_convolution(stride, padding):
    for b in (None, B):
        np.testing.assert_allclose(conv.conv2d(X, W, b, stride, padding).data,
                                   conv2d_reference(X, W, b, stride, padding), atol=1e-12)


@pytest.mark.kernel
@pytest.mark.parametrize("stride, padding", CONV_SETTINGS)
def test_conv_transpose2d_is_the_adjoint_of_conv2d(stride, padding):
    (sh, sw), (ph, pw) = pair(stride), pair(padding)
    extra = ((X.shape[2] + 2 * ph - 3) % sh, (X.shape[3] + 2 * pw - 2) % sw)
    y = R.standard_normal(conv.conv2d(X, W, None, stride, padding).shape)
    back = conv.conv_transpose2d(y, W, None, stride, padding, extra).data
    assert back.shape == X.shape
    lhs = (conv.conv2d(X, W, None, stride, padding).data * y).sum()
    assert lhs == pytest.approx((X * back).sum(), rel=1e-12)
    with_bias = conv.conv_transpose2d(y, W, B[:3], stride, padding, extra).data
    np.testing.assert_allclose(with_bias, back + B[:3, None, None], atol=1e-12)


@pytest.mark.kernel
@pytest.mark.parametrize("size, stride", POOL_SETTINGS)
def test_pooling_matches_loops(size, stride):
    np.testing.assert_array_equal(conv.max_pool2d(X, size, stride).data,
                                  pool_reference(X, size, stride, np.max))
    np.testing.assert_allclose(conv.avg_pool2d(X, size, stride).data,
                               pool_reference(X, size, stride, np.mean), atol=1e-12)


@pytest.mark.kernel
def test_max_pool_gradient_goes_to_the_first_maximum():
    x = nn.Tensor(np.ones((1, 1, 2, 2)), requires_grad=True)
    conv.max_pool2d(x, 2).sum().backward()
    np.testing.assert_array_equal(x.grad[0, 0], [[1.0, 0.0], [0.0, 0.0]])


@pytest.mark.kernel
def test_bilinear_upsample_by_hand():
    x = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    np.testing.assert_allclose(conv.upsample(x, 2, "bilinear").data[0, 0],
                               [[1.0, 1.25, 1.75, 2.0], [1.5, 1.75, 2.25, 2.5],
                                [2.5, 2.75, 3.25, 3.5], [3.0, 3.25, 3.75, 4.0]])
    row = np.array([[[[0.0, 3.0, 6.0]]]])
    np.testing.assert_allclose(conv.upsample(row, 3, "bilinear").data[0, 0],
                               np.tile([0.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 6.0], (3, 1)),
                               atol=1e-15)


@pytest.mark.kernel
@pytest.mark.parametrize("scale", [1, 2, 3])
def test_upsample_matches_loops(scale):
    np.testing.assert_array_equal(conv.upsample(X, scale).data, nearest_reference(X, scale))
    np.testing.assert_allclose(conv.upsample(X, scale, "bilinear").data,
                               bilinear_reference(X, scale), atol=1e-12)


# ---------------------------------------------------------------- gradients
GRADIENT_CASES = {
    **{f"conv2d_s{s}_p{p}": (lambda x, w, b, s=s, p=p: conv.conv2d(x, w, b, s, p), X, W, B)
       for s, p in CONV_SETTINGS},
    "conv2d_no_bias": (lambda x, w: conv.conv2d(x, w, padding=1), X, W),
    **{f"conv_transpose2d_s{s}_p{p}_o{o}":
       (lambda x, w, b, s=s, p=p, o=o: conv.conv_transpose2d(x, w, b, s, p, o), XT, WT, B)
       for s, p, o in TRANSPOSE_SETTINGS},
    "conv_transpose2d_no_bias": (lambda x, w: conv.conv_transpose2d(x, w, stride=2), XT, WT),
    **{f"max_pool2d_{k}_{s}": (lambda x, k=k, s=s: conv.max_pool2d(x, k, s), X)
       for k, s in POOL_SETTINGS},
    **{f"avg_pool2d_{k}_{s}": (lambda x, k=k, s=s: conv.avg_pool2d(x, k, s), X)
       for k, s in POOL_SETTINGS},
    **{f"upsample_{m}_{s}": (lambda x, m=m, s=s: conv.upsample(x, s, m), XT)
       for m in ("nearest", "bilinear") for s in (2, 3)},
    "stacked": (lambda x, w: conv.max_pool2d(nn.ops.relu(conv.conv2d(x, w, padding=1))), X, W),
}


@pytest.mark.kernel
@pytest.mark.parametrize("name", sorted(GRADIENT_CASES))
def test_gradient_matches_finite_differences(name):
    f, *args = GRADIENT_CASES[name]
    assert nn.check_gradients(f, *args) < 1e-6


@pytest.mark.kernel
def test_weight_gradient_alone_for_a_constant_input():
    gW = nn.grad(lambda w: conv.conv2d(X, w, padding=1).sum())(W)
    _, gW_too = nn.grad(lambda x, w: conv.conv2d(x, w, padding=1).sum(), (0, 1))(X, W)
    np.testing.assert_allclose(gW, gW_too)


# ---------------------------------------------------------------- dtypes
@pytest.mark.kernel
def test_float32_in_float32_out():
    x32, xt32 = X.astype(np.float32), XT.astype(np.float32)
    outs = [conv.conv2d(x32, W, B, 2, 1), conv.conv_transpose2d(xt32, WT, B, 2, 1, 1),
            conv.max_pool2d(x32), conv.avg_pool2d(x32), conv.upsample(x32),
            conv.upsample(x32, 2, "bilinear")]
    assert [o.dtype for o in outs] == [np.float32] * len(outs)
    np.testing.assert_allclose(outs[0].data, conv2d_reference(X, W, B, 2, 1), rtol=1e-4,
                               atol=1e-4)
    x = nn.Tensor(x32, requires_grad=True)
    w = nn.Tensor(W.astype(np.float32), requires_grad=True)
    conv.avg_pool2d(conv.conv2d(x, w, padding=1)).sum().backward()
    assert x.grad.dtype == w.grad.dtype == np.float32


# ---------------------------------------------------------------- shapes and errors
def test_output_shapes():
    assert conv.conv_output_shape((8, 8), 3, 1, 1) == (8, 8)
    assert conv.conv_output_shape((7, 6), (3, 2), (2, 1), (0, 2)) == (3, 9)
    assert conv.conv_transpose_output_shape((4, 4), 3, 2, 1, 1) == (8, 8)
    assert conv.conv_transpose_output_shape((4, 3), (3, 2), (2, 3), (0, 1), (1, 2)) == (10, 8)


@pytest.mark.parametrize("call, message", [
    (lambda: conv.conv2d(X[0], W), r"x must be 4-D .* got shape \(3, 7, 6\)"),
    (lambda: conv.conv2d(X, W[0]), r"W must be 4-D .* got shape \(3, 3, 2\)"),
    (lambda: conv.conv2d(X, WT), r"x of shape \(2, 3, 7, 6\) has 3 channels but W of shape "
                                 r"\(3, 4, 3, 2\)"),
    (lambda: conv.conv2d(X, W, B[:3]), r"b must have shape \(4,\) for W of shape \(4, 3, 3, 2\)"),
    (lambda: conv.conv2d(X[:, :, :2, :1], W), r"kernel \(3, 2\) is larger than the padded input "
                                              r"\(2, 1\)"),
    (lambda: conv.conv2d(X, W, stride=0), r"stride must be an int >= 1"),
    (lambda: conv.conv2d(X, W, padding=-1), r"padding must be an int >= 0"),
    (lambda: conv.conv2d(X, W, stride=(1, 2, 3)), r"stride must be an int >= 1 or a pair"),
    (lambda: conv.conv_transpose2d(XT[0], WT), r"x must be 4-D"),
    (lambda: conv.conv_transpose2d(XT, W), r"x of shape \(2, 3, 4, 3\) has 3 channels but W of "
                                           r"shape \(4, 3, 3, 2\)"),
    (lambda: conv.conv_transpose2d(XT, WT, B[:3]), r"b must have shape \(4,\)"),
    (lambda: conv.conv_transpose2d(XT, WT, stride=2, output_padding=2),
     r"output_padding \(2, 2\) must be smaller than stride \(2, 2\)"),
    (lambda: conv.conv_transpose2d(XT[:, :, :1, :1], WT, padding=2), r"empty output"),
    (lambda: conv.max_pool2d(X[0]), r"max_pool2d: x must be 4-D"),
    (lambda: conv.avg_pool2d(X, 8), r"kernel \(8, 8\) is larger than the padded input \(7, 6\)"),
    (lambda: conv.max_pool2d(X, 2, 0), r"stride must be an int >= 1"),
    (lambda: conv.upsample(X[0]), r"upsample: x must be 4-D"),
    (lambda: conv.upsample(X, 2, "bicubic"), r"mode must be 'nearest' or 'bilinear'"),
    (lambda: conv.upsample(X, 1.5), r"scale must be an int >= 1"),
    (lambda: conv.upsample(X, 0), r"scale must be an int >= 1"),
])
def test_errors_name_the_shapes(call, message):
    with pytest.raises(ValueError, match=message):
        call()
