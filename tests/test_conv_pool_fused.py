"""The fused convolution + ReLU + 2x2 max-pool (``nn.conv.conv2d_relu_max_pool2x2``) and its use
by ``Sequential``: bit for bit the values and gradients of ``conv2d(..., activation="relu")``
then ``max_pool2d(., 2)`` (both paths: the direct one-channel convolution and im2col + GEMM,
odd sizes, padding, dilation, stride, groups, several chunks, float32 and float64), against
PyTorch (float64, 1e-10) and central finite differences."""
import numpy as np
import pytest

from neurosim.nn import check_gradients, conv
from neurosim.nn.layers import Conv2D, Dense, Flatten, MaxPool2D, Sequential
from neurosim.nn.tensor import Tensor

R = np.random.default_rng(18)

CASES = [  # (x shape, W shape, stride, padding, dilation, groups): direct path first
    ((3, 1, 8, 8), (4, 1, 3, 3), 1, 1, 1, 1),
    ((2, 1, 9, 7), (3, 1, 3, 3), 1, 0, 1, 1),          # odd: the last row/column dropped
    ((2, 1, 7, 10), (5, 1, 3, 2), 1, 2, (2, 1), 1),
    ((2, 1, 11, 9), (2, 1, 5, 4), 1, (1, 2), 1, 1),    # kernel rows of 4 taps: 3 + 1
    ((3, 4, 8, 8), (6, 4, 3, 3), 1, 1, 1, 1),          # im2col + GEMM
    ((2, 3, 9, 11), (4, 3, 3, 3), 1, 0, 1, 1),
    ((2, 4, 13, 12), (6, 2, 3, 3), 2, 2, 1, 2),        # stride, groups
    ((2, 2, 12, 11), (3, 2, 3, 2), 1, 1, 2, 1),        # dilation, odd output width
    ((2, 1, 12, 12), (3, 1, 3, 3), 2, 1, 1, 1),        # one channel at stride 2: GEMM path
    ((2, 2, 11, 11), (3, 2, 2, 2), 3, 0, 1, 1),        # pixels in no receptive field
]


def _tensors(arrays, x_grad):
    return [Tensor(a, requires_grad=i > 0 or x_grad) for i, a in enumerate(arrays)]


def _same(a, b):
    """Equal bit for bit (NaN where the other is NaN)."""
    nan = np.isnan(a)
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(nan, np.isnan(b)) \
        and a[~nan].tobytes() == b[~nan].tobytes()


def _both(arrays, geometry, x_grad, g=None):
    """Outputs and gradients of the unfused pair and of the fused op on the same arrays."""
    stride, padding, dilation, groups = geometry
    runs = []
    for fused in (False, True):
        ts = _tensors(arrays, x_grad)
        options = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
        if fused:
            y = conv.conv2d_relu_max_pool2x2(*ts, **options)
        else:
            y = conv.max_pool2d(conv.conv2d(*ts, activation="relu", **options), 2)
        g = R.standard_normal(y.shape).astype(y.dtype) if g is None else g
        y.backward(g)
        runs.append([y.data] + [t.grad for t in ts if t.requires_grad])
    return runs


@pytest.mark.kernel
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("xs, ws, stride, padding, dilation, groups", CASES)
def test_fused_equals_conv_then_pool_bit_for_bit(dtype, xs, ws, stride, padding, dilation,
                                                 groups):
    for x_grad, bias in ((False, True), (True, True), (True, False)):
        arrays = [R.standard_normal(s).astype(dtype) for s in (xs, ws, ws[:1])[:3 if bias else 2]]
        unfused, fused = _both(arrays, (stride, padding, dilation, groups), x_grad)
        assert len(fused) == len(unfused) == (4 if x_grad else 3) - (not bias)
        for a, b in zip(unfused, fused):
            assert _same(a, b)


@pytest.mark.kernel
@pytest.mark.parametrize("channels", [1, 3])
def test_fused_over_chunks_ties_and_nan(monkeypatch, channels):
    """Several chunks of images (a small ``CHUNK_BYTES``), ties (zero weights: every window
    ties at the bias's ReLU; the first pixel wins) and a NaN image (the ReLU makes it 0)."""
    monkeypatch.setattr(conv, "CHUNK_BYTES", 3000)
    x = R.standard_normal((5, channels, 10, 9))
    x[1, 0, 3, 4] = np.nan
    W = R.standard_normal((4, channels, 3, 3))
    W[2] = 0.0
    b = R.standard_normal(4)
    b[2] = 0.5
    unfused, fused = _both([x, W, b], (1, 1, 1, 1), True)
    for a, c in zip(unfused, fused):
        assert _same(a, c)
    assert np.isnan(fused[2]).any()           # the NaN reaches the weight gradient
    assert np.all(fused[0][[0, 2, 3, 4], 2] == 0.5)    # all-tied windows


@pytest.mark.kernel
@pytest.mark.parametrize("xs, ws, stride, padding, dilation, groups",
                         [CASES[0], CASES[2], CASES[6], CASES[7], CASES[9]])
def test_fused_matches_torch(xs, ws, stride, padding, dilation, groups):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    arrays = [R.standard_normal(s) for s in (xs, ws, ws[:1])]
    mine = _tensors(arrays, True)
    ref = [torch.tensor(a, requires_grad=True) for a in arrays]
    y = conv.conv2d_relu_max_pool2x2(*mine, stride, padding, dilation, groups)
    ty = F.max_pool2d(F.relu(F.conv2d(*ref, stride=stride, padding=padding, dilation=dilation,
                                      groups=groups)), 2)
    g = R.standard_normal(ty.shape)
    y.backward(g)
    ty.backward(torch.tensor(g))
    assert y.shape == tuple(ty.shape)
    assert np.abs(y.data - ty.detach().numpy()).max() < 1e-10
    for m, r in zip(mine, ref):
        assert np.abs(m.grad - r.grad.numpy()).max() < 1e-10


@pytest.mark.kernel
@pytest.mark.parametrize("xs, ws, padding", [((2, 1, 6, 5), (3, 1, 3, 3), 1),
                                             ((2, 2, 5, 6), (3, 2, 2, 3), 0)])
def test_fused_gradients_match_finite_differences(xs, ws, padding):
    arrays = [R.standard_normal(s) for s in (xs, ws, ws[:1])]
    err = check_gradients(lambda x, W, b: conv.conv2d_relu_max_pool2x2(x, W, b, 1, padding),
                          *arrays)
    assert err < 1e-6


def _pair_model(dtype, pool=MaxPool2D(2), activation="relu"):
    return Sequential(Conv2D(4, 3, padding=1, activation=activation), pool,
                      Conv2D(6, 3, padding=1, activation="relu"), MaxPool2D(2), Flatten(),
                      Dense(3), input_shape=(1, 9, 8), seed=2, dtype=dtype)


def _layer_by_layer(model, x):
    for layer in model.layers:
        x = layer.forward(x)
    return x


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sequential_runs_the_pair_fused_with_the_same_results(monkeypatch, dtype):
    calls = []
    real = conv.conv2d_relu_max_pool2x2
    monkeypatch.setattr(conv, "conv2d_relu_max_pool2x2",
                        lambda *a: calls.append(a[0].shape) or real(*a))
    model = _pair_model(dtype)
    twin = _pair_model(dtype)
    x = R.standard_normal((5, 1, 9, 8)).astype(dtype)
    y, ref = model(x), _layer_by_layer(twin, Tensor(x))
    assert calls == [(5, 1, 9, 8), (5, 4, 4, 4)]
    assert _same(y.data, ref.data)
    y.sum().backward()
    ref.sum().backward()
    for (name, p), (_, q) in zip(model.parameters(), twin.parameters()):
        assert _same(p.grad, q.grad), name
    assert model.summary() == twin.summary() and repr(model) == repr(twin)
    assert sorted(model.state()) == ["0.W", "0.b", "2.W", "2.b", "5.W", "5.b"]


@pytest.mark.parametrize("pool, activation", [
    (MaxPool2D(2, stride=1), "relu"), (MaxPool2D(2, padding=1), "relu"),
    (MaxPool2D(2, ceil_mode=True), "relu"), (MaxPool2D(3), "relu"), (MaxPool2D(2), "tanh")])
def test_sequential_leaves_other_pairs_unfused(monkeypatch, pool, activation):
    calls = []
    real = conv.conv2d_relu_max_pool2x2
    monkeypatch.setattr(conv, "conv2d_relu_max_pool2x2",
                        lambda *a: calls.append(a[0].shape) or real(*a))
    model = _pair_model(np.float64, pool, activation)
    x = R.standard_normal((2, 1, 9, 8))
    y = model(x)
    assert len(calls) == 1                  # only the second pair
    assert np.array_equal(y.data, _layer_by_layer(model, Tensor(x)).data)


def test_lenet_gets_the_fused_op(monkeypatch):
    from neurosim.deep.cnn import lenet
    calls = []
    real = conv.conv2d_relu_max_pool2x2
    monkeypatch.setattr(conv, "conv2d_relu_max_pool2x2",
                        lambda *a: calls.append(a[0].shape) or real(*a))
    lenet((1, 8, 8), channels=(3, 5), seed=0)(R.standard_normal((2, 1, 8, 8)))
    assert calls == [(2, 1, 8, 8), (2, 3, 4, 4)]


def test_fused_bad_input_names_the_argument():
    x, W = np.zeros((2, 3, 6, 6)), np.zeros((4, 3, 3, 3))
    with pytest.raises(ValueError, match="conv2d_relu_max_pool2x2: x must be 4-D"):
        conv.conv2d_relu_max_pool2x2(np.zeros((3, 6, 6)), W)
    with pytest.raises(ValueError, match="has 3 channels but W"):
        conv.conv2d_relu_max_pool2x2(x, np.zeros((4, 2, 3, 3)))
    with pytest.raises(ValueError, match="b must have shape"):
        conv.conv2d_relu_max_pool2x2(x, W, np.zeros(3))
    with pytest.raises(ValueError, match="groups"):
        conv.conv2d_relu_max_pool2x2(x, W, groups=0)
    with pytest.raises(ValueError, match=r"conv2d_relu_max_pool2x2: the convolution's output "
                                         r"\(1, 1\) is smaller than the 2x2 pool"):
        conv.conv2d_relu_max_pool2x2(np.zeros((2, 3, 3, 3)), W)
