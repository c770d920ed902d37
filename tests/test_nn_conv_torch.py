"""Convolution dilation and groups, Conv1D, pooling padding / ceil_mode / count_include_pad and
the fused bias+ReLU of dense and conv against PyTorch on the same weights (float64, values and
gradients to 1e-10) and central finite differences; bad input named."""
import numpy as np
import pytest

from neurosim.nn import check_gradients, conv, ops
from neurosim.nn.layers import AvgPool2D, Conv1D, Conv2D, Dense, Flatten, MaxPool2D, Sequential
from neurosim.nn.tensor import Tensor

torch = pytest.importorskip("torch")
F = torch.nn.functional
R = np.random.default_rng(0)
TOL = 1e-10


def both(ours, theirs, *arrays, grad_seed=1):
    """Run ``ours`` on Tensors and ``theirs`` on torch tensors of ``arrays``; backpropagate
    the same random output gradient; return the largest value and gradient differences."""
    mine = [Tensor(a, requires_grad=True) for a in arrays]
    ref = [torch.tensor(a, requires_grad=True) for a in arrays]
    y, ty = ours(*mine), theirs(*ref)
    g = np.random.default_rng(grad_seed).standard_normal(ty.shape)
    y.backward(g)
    ty.backward(torch.tensor(g))
    value = np.abs(y.data - ty.detach().numpy()).max()
    grads = max(np.abs(m.grad - r.grad.numpy()).max() for m, r in zip(mine, ref))
    return value, grads


CONV = [  # (W shape, stride, padding, dilation, groups)
    ((6, 4, 3, 3), 1, 1, 1, 1),
    ((6, 4, 3, 3), 1, 2, 2, 1),
    ((6, 2, 3, 2), (2, 1), (2, 1), (2, 3), 2),
    ((8, 1, 3, 3), 1, 1, 1, 4),                  # depthwise, two filters per channel
    ((4, 1, 2, 3), (1, 2), 0, (3, 1), 4),
]


@pytest.mark.parametrize("shape, stride, padding, dilation, groups", CONV)
@pytest.mark.parametrize("relu", [False, True])
def test_conv2d_matches_torch(shape, stride, padding, dilation, groups, relu):
    x = R.standard_normal((2, 4, 9, 8))
    W, b = R.standard_normal(shape), R.standard_normal(shape[0])
    act = "relu" if relu else "identity"

    def theirs(x, W, b):
        y = F.conv2d(x, W, b, stride, padding, dilation, groups)
        return torch.relu(y) if relu else y
    value, grads = both(lambda x, W, b: conv.conv2d(x, W, b, stride, padding, dilation, groups,
                                                    act), theirs, x, W, b)
    assert value < TOL and grads < TOL


@pytest.mark.parametrize("stride, padding, dilation, groups", [(1, 0, 1, 1), (2, 2, 2, 2),
                                                               (3, 1, 1, 4)])
def test_conv1d_matches_torch(stride, padding, dilation, groups):
    x = R.standard_normal((3, 4, 13))
    W, b = R.standard_normal((8, 4 // groups, 3)), R.standard_normal(8)
    value, grads = both(lambda x, W, b: conv.conv1d(x, W, b, stride, padding, dilation, groups),
                        lambda x, W, b: F.conv1d(x, W, b, stride, padding, dilation, groups),
                        x, W, b)
    assert value < TOL and grads < TOL


POOL = [  # (size, stride, padding, ceil_mode)
    (2, None, 0, False), (3, 2, 1, False), (3, 2, 0, True), (3, 2, 1, True),
    ((2, 3), (2, 1), (1, 1), True), (2, 3, 0, True),
]


@pytest.mark.parametrize("size, stride, padding, ceil_mode", POOL)
def test_max_pool_matches_torch(size, stride, padding, ceil_mode):
    x = R.standard_normal((2, 3, 7, 8))
    value, grads = both(lambda x: conv.max_pool2d(x, size, stride, padding, ceil_mode),
                        lambda x: F.max_pool2d(x, size, stride, padding, ceil_mode=ceil_mode), x)
    assert value == 0.0 and grads == 0.0


@pytest.mark.parametrize("size, stride, padding, ceil_mode", POOL)
@pytest.mark.parametrize("include", [True, False])
def test_avg_pool_matches_torch(size, stride, padding, ceil_mode, include):
    x = R.standard_normal((2, 3, 7, 8))
    value, grads = both(
        lambda x: conv.avg_pool2d(x, size, stride, padding, ceil_mode, include),
        lambda x: F.avg_pool2d(x, size, stride, padding, ceil_mode, include), x)
    assert value < TOL and grads < TOL


def test_fused_dense_relu_matches_torch():
    x, W, b = R.standard_normal((5, 2, 7)), R.standard_normal((7, 4)), R.standard_normal(4)
    value, grads = both(lambda x, W, b: ops.dense(x, W, b, "relu"),
                        lambda x, W, b: torch.relu(x @ W + b), x, W, b)
    assert value < TOL and grads < TOL


def test_gradients_match_finite_differences():
    x = R.standard_normal((2, 4, 6, 5))
    W, b = R.standard_normal((4, 2, 2, 3)), R.standard_normal(4)
    assert check_gradients(lambda x, W, b: conv.conv2d(x, W, b, 2, 1, (2, 1), 2), x, W, b) < 1e-7
    # away from the ReLU's kink
    assert check_gradients(lambda x, W: conv.conv2d(x, W, None, 1, 1, 1, 2, "relu"), x, W) < 1e-7
    x1, W1 = R.standard_normal((2, 2, 9)), R.standard_normal((4, 1, 3))
    assert check_gradients(lambda x, W: conv.conv1d(x, W, None, 2, 2, 2, 2), x1, W1) < 1e-7
    assert check_gradients(lambda x: conv.avg_pool2d(x, 3, 2, 1, True, False), x) < 1e-7
    assert check_gradients(lambda x: conv.max_pool2d(x, 3, 2, 1, True), x) < 1e-7


def test_layers_load_torch_weights():
    """Conv1D, grouped dilated Conv2D and the pooling layers in a Sequential follow PyTorch's
    modules from the same weights."""
    tm = torch.nn.Sequential(torch.nn.Conv2d(4, 8, 3, padding=2, dilation=2, groups=2),
                             torch.nn.ReLU(), torch.nn.MaxPool2d(3, 2, 1, ceil_mode=True),
                             torch.nn.AvgPool2d(2, 2, 1, ceil_mode=True, count_include_pad=False),
                             torch.nn.Flatten(), torch.nn.Linear(8 * 3 * 3, 5), torch.nn.ReLU()
                             ).double()
    ours = Sequential(Conv2D(8, 3, padding=2, dilation=2, groups=2, activation="relu"),
                      MaxPool2D(3, 2, 1, ceil_mode=True),
                      AvgPool2D(2, 2, 1, ceil_mode=True, count_include_pad=False),
                      Flatten(),
                      Dense(5, "relu"), input_shape=(4, 9, 9))
    state = {"0.W": tm[0].weight, "0.b": tm[0].bias, "4.W": tm[5].weight.T, "4.b": tm[5].bias}
    ours.load_state({k: v.detach().numpy() for k, v in state.items()})
    x = R.standard_normal((3, 4, 9, 9))
    assert np.abs(ours(x).data - tm(torch.tensor(x)).detach().numpy()).max() < TOL
    c1 = torch.nn.Conv1d(4, 6, 3, stride=2, padding=1, dilation=2, groups=2).double()
    layer = Conv1D(6, 3, stride=2, padding=1, dilation=2, groups=2)
    layer.build((4, 11))
    layer.load_state({"W": c1.weight.detach().numpy(), "b": c1.bias.detach().numpy()})
    s = R.standard_normal((2, 4, 11))
    assert layer.output_shape == tuple(c1(torch.tensor(s)).shape[1:])
    assert np.abs(layer(s).data - c1(torch.tensor(s)).detach().numpy()).max() < TOL


def test_float32_stays_float32():
    x = R.standard_normal((2, 4, 6, 6)).astype(np.float32)
    W = R.standard_normal((4, 2, 3, 3)).astype(np.float32)
    assert conv.conv2d(x, W, None, 1, 1, 2, 2, "relu").dtype == np.float32
    assert conv.max_pool2d(x, 3, 2, 1, True).dtype == np.float32


@pytest.mark.parametrize("call, message", [
    (lambda: conv.conv2d(np.zeros((1, 4, 5, 5)), np.zeros((6, 3, 3, 3)), groups=2),
     r"expects 3 per group \(2 groups"),
    (lambda: conv.conv2d(np.zeros((1, 4, 5, 5)), np.zeros((5, 2, 3, 3)), groups=2),
     r"out_channels 5 .* multiple of groups 2"),
    (lambda: conv.conv2d(np.zeros((1, 1, 5, 5)), np.zeros((1, 1, 3, 3)), dilation=3),
     r"spanning \(7, 7\) with dilation \(3, 3\)"),
    (lambda: conv.conv2d(np.zeros((1, 1, 5, 5)), np.zeros((1, 1, 3, 3)), dilation=0),
     r"dilation must be an int >= 1"),
    (lambda: conv.conv2d(np.zeros((1, 1, 5, 5)), np.zeros((1, 1, 3, 3)), groups=0),
     r"groups"),
    (lambda: conv.conv2d(np.zeros((1, 1, 5, 5)), np.zeros((1, 1, 3, 3)), activation="tanh"),
     r"activation must be one of"),
    (lambda: conv.max_pool2d(np.zeros((1, 1, 5, 5)), 2, padding=2),
     r"padding \(2, 2\) must be at most half of the window size \(2, 2\)"),
    (lambda: conv.conv1d(np.zeros((1, 2, 5, 5)), np.zeros((1, 2, 3))), r"x must be 3-D"),
    (lambda: conv.conv1d(np.zeros((1, 2, 5)), np.zeros((1, 2, 3, 3))), r"W must be 3-D"),
    (lambda: Conv2D(5, 3, groups=2), r"filters \(5\) must be a multiple of groups \(2\)"),
    (lambda: Sequential(Conv2D(4, 3, groups=2), input_shape=(3, 5, 5)),
     r"input channels \(3\) must be a multiple of groups \(2\)"),
    (lambda: Sequential(Conv1D(4, 3), input_shape=(3, 5, 5)), r"Conv1D needs per-sample"),
    (lambda: ops.dense(np.zeros((2, 3)), np.zeros((3, 4)), None, "tanh"),
     r"activation must be 'identity' or 'relu'"),
])
def test_bad_input_is_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()
