"""ops.dense's weight gradient accumulated by BLAS straight into an optimiser's gradient buffer
(``beta = 1``): the same values as NumPy's product ``x^T g`` added to what the buffer held,
for a weight used once, twice (tied) or built by another op (not a leaf: the tape adds it),
in float64 and float32; PyTorch's gradients of the same MLP as the outside reference."""
import numpy as np
import pytest

from neurosim.nn import ops, optim
from neurosim.nn.tensor import Tensor

R = np.random.default_rng(3)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("relu", [False, True])
def test_weight_gradient_lands_in_the_buffer(dtype, relu):
    x = R.standard_normal((33, 17)).astype(dtype)
    g = R.standard_normal((33, 9)).astype(dtype)
    W = Tensor(R.standard_normal((17, 9)).astype(dtype), requires_grad=True)
    b = Tensor(np.zeros(9, dtype), requires_grad=True)
    opt = optim.SGD([W, b], lr=0.1)
    before = R.standard_normal((17, 9)).astype(dtype)
    W.grad[...] = before                                   # gradients add up until zero_grad
    y = ops.dense(x, W, b, "relu" if relu else "identity")
    y.backward(g)
    gy = g * (y.data > 0) if relu else g
    np.testing.assert_array_equal(W.grad, before + x.T @ gy)
    assert np.shares_memory(W.grad, opt.grad)
    np.testing.assert_allclose(b.grad, gy.sum(axis=0), rtol=1e-6)


def test_tied_and_built_weights():
    x1, x2 = R.standard_normal((2, 6, 4))
    g = R.standard_normal((6, 4))
    W = Tensor(R.standard_normal((4, 4)), requires_grad=True)
    optim.SGD([W], lr=0.1)
    W.zero_grad()
    (ops.dense(x1, W) + ops.dense(x2, W)).backward(g)        # tied: both products added
    np.testing.assert_allclose(W.grad, x1.T @ g + x2.T @ g, rtol=1e-12)
    A, B = (Tensor(R.standard_normal((4, 2)), requires_grad=True) for _ in range(2))
    ops.dense(x1, ops.concatenate([A, B], axis=1)).backward(g)  # not a leaf: the tape adds
    np.testing.assert_allclose(np.hstack([A.grad, B.grad]), x1.T @ g, rtol=1e-12)


def test_mlp_gradients_match_torch():
    torch = pytest.importorskip("torch")
    x = R.standard_normal((16, 12))
    y = R.integers(0, 5, 16)
    layers = [(R.standard_normal((12, 20)), R.standard_normal(20)),
              (R.standard_normal((20, 5)), R.standard_normal(5))]
    params = [Tensor(a.copy(), requires_grad=True) for pair in layers for a in pair]
    opt = optim.SGD(params, lr=0.1)
    opt.zero_grad()
    h = ops.dense(x, params[0], params[1], "relu")
    ops.softmax_cross_entropy(ops.dense(h, params[2], params[3]), y).backward()
    tp = [torch.tensor(a, requires_grad=True) for pair in layers for a in pair]
    th = torch.relu(torch.tensor(x) @ tp[0] + tp[1])
    torch.nn.functional.cross_entropy(th @ tp[2] + tp[3], torch.tensor(y)).backward()
    for p, t in zip(params, tp):
        np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=1e-10, atol=1e-12)
