"""Autodiff core and element-wise ops: every gradient against central finite differences."""
import numpy as np
import pytest

from neurosim import nn
from neurosim.nn import ops

R = np.random.default_rng(0)
A34, B4, C34, D11 = R.standard_normal((3, 4)), R.standard_normal(4), R.standard_normal((3, 4)), R.standard_normal((1, 1))
POS34 = R.uniform(0.5, 2.0, (3, 4))
LABELS = np.array([0, 2, 3])

CASES = {
    "add_broadcast": (lambda a, b: a + b, A34, B4),
    "sub_broadcast": (lambda a, b: a - b, A34, D11),
    "mul_broadcast": (lambda a, b: a * b, A34, B4),
    "div": (lambda a, b: a / b, A34, POS34),
    "rsub_rdiv_constants": (lambda a: 2.0 - 3.0 / (a + 5.0), A34),
    "neg_pow": (lambda a: -(a ** 3), A34),
    "exp_log_sqrt": (lambda a: ops.log(a) + ops.exp(a) + ops.sqrt(a), POS34),
    "abs": (lambda a: ops.abs(a), A34),
    "maximum": (lambda a, b: ops.maximum(a, b), A34, C34),
    "clip": (lambda a: ops.clip(a, -0.5, 0.5), A34),
    "sum_axis": (lambda a: a.sum(axis=0), A34),
    "sum_keepdims": (lambda a: a.sum(axis=1, keepdims=True) * a, A34),
    "mean_all": (lambda a: a.mean(), A34),
    "max_axis": (lambda a: a.max(axis=1), A34),
    "max_all": (lambda a: a.max(), A34),
    "matmul_2d": (lambda a, b: a @ b, A34, C34.T),
    "matmul_vec": (lambda a, b: a @ b, A34, B4),
    "matmul_vec_left": (lambda a, b: b @ a, A34, R.standard_normal(3)),
    "matmul_batched": (lambda a, b: a @ b, R.standard_normal((2, 3, 4)), R.standard_normal((4, 5))),
    "dense": (lambda x, w, b: ops.dense(x, w, b), A34, R.standard_normal((4, 5)), R.standard_normal(5)),
    "reshape_transpose": (lambda a: a.reshape(2, 6).T * np.arange(12.0).reshape(6, 2), A34),
    "transpose_axes": (lambda a: a.transpose(2, 0, 1), R.standard_normal((2, 3, 4))),
    "getitem_slice": (lambda a: a[1:, ::2], A34),
    "getitem_repeated": (lambda a: a[np.array([0, 0, 2])], A34),
    "concatenate": (lambda a, b: ops.concatenate([a, b], axis=1), A34, C34),
    "stack": (lambda a, b: ops.stack([a, b], axis=1), A34, C34),
    "sigmoid": (ops.sigmoid, A34 * 5),
    "tanh": (ops.tanh, A34),
    "relu": (ops.relu, A34),
    "leaky_relu": (lambda a: ops.leaky_relu(a, 0.1), A34),
    "elu": (ops.elu, A34),
    "softplus": (ops.softplus, A34 * 5),
    "gaussian": (ops.gaussian, A34),
    "softmax": (lambda a: ops.softmax(a, axis=0), A34),
    "log_softmax": (ops.log_softmax, A34),
    "softmax_xent_labels": (lambda a: ops.softmax_cross_entropy(a, LABELS), A34),
    "softmax_xent_soft": (lambda a: ops.softmax_cross_entropy(a, np.full((3, 4), 0.25)), A34),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradient_matches_finite_differences(name):
    f, *args = CASES[name]
    assert nn.check_gradients(f, *args) < 1e-6


def test_gradient_check_catches_a_wrong_backward():
    wrong = lambda a: nn.record(a.data ** 2, (a,), lambda g: (g * a.data,))  # noqa: E731 (2x missing)
    assert nn.check_gradients(wrong, A34) > 0.1


def test_values_match_numpy():
    np.testing.assert_allclose(ops.softmax(A34).data.sum(axis=1), 1.0)
    np.testing.assert_allclose(ops.log_softmax(A34).data, np.log(ops.softmax(A34).data))
    np.testing.assert_allclose(ops.sigmoid(np.array([-800.0, 0.0, 800.0])).data, [0.0, 0.5, 1.0])
    np.testing.assert_allclose(ops.softplus(np.array([-800.0, 0.0, 800.0])).data, [0.0, np.log(2), 800.0])
    p = np.exp(A34) / np.exp(A34).sum(axis=1, keepdims=True)
    assert ops.softmax_cross_entropy(A34, LABELS).item() == pytest.approx(-np.log(p[[0, 1, 2], LABELS]).mean())


def test_chain_and_shared_subexpressions():
    # f(x) = sum(x * x + x) uses x three times; df/dx = 2x + 1
    x = nn.Tensor(A34, requires_grad=True)
    y = x * x + x
    y.sum().backward()
    np.testing.assert_allclose(x.grad, 2 * A34 + 1)
    y.sum().backward()  # gradients accumulate until zeroed
    np.testing.assert_allclose(x.grad, 2 * (2 * A34 + 1))
    x.zero_grad()
    assert not x.grad.any()


def test_deep_graph_does_not_recurse():
    x = nn.Tensor(np.ones(3), requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0001
    y.sum().backward()
    np.testing.assert_allclose(x.grad, 1.0001 ** 5000)


def test_grad_and_value_and_grad():
    f = lambda x, y: (ops.tanh(x) * y).sum()  # noqa: E731
    value, (gx, gy) = nn.value_and_grad(f, (0, 1))(A34, B4)
    assert value == pytest.approx((np.tanh(A34) * B4).sum())
    np.testing.assert_allclose(gx, (1 - np.tanh(A34) ** 2) * B4)
    np.testing.assert_allclose(gy, np.tanh(A34).sum(axis=0))
    np.testing.assert_allclose(nn.grad(lambda x: (x ** 2).sum())([1.0, 2.0]), [2.0, 4.0])
    # an argument the function ignores gets a zero gradient
    np.testing.assert_array_equal(nn.grad(lambda x, y: (x * 2).sum(), (0, 1))(A34, B4)[1], np.zeros(4))


def test_no_grad_records_nothing():
    x = nn.Tensor(A34, requires_grad=True)
    with nn.no_grad():
        y = ops.relu(x) * 2
    assert not y.requires_grad and y.parents == ()
    assert (x * 2).requires_grad


def test_float32_stays_float32():
    x = nn.Tensor(A34.astype(np.float32), requires_grad=True)
    y = ops.sigmoid(x * 2.0 + np.ones(4)) @ np.ones((4, 2))
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32


def test_bad_input():
    with pytest.raises(TypeError, match="numbers"):
        nn.Tensor(np.array(["a"]))
    x = nn.Tensor(A34, requires_grad=True)
    with pytest.raises(ValueError, match="one-element"):
        (x * 2).backward()
    with pytest.raises(ValueError, match="does not match"):
        (x * 2).backward(np.ones(3))
    with pytest.raises(ValueError, match="does not depend"):
        nn.Tensor(A34).sum().backward()
    with pytest.raises(ValueError, match=r"\[0, 4\)"):
        ops.softmax_cross_entropy(A34, np.array([0, 4, 1]))
    with pytest.raises(ValueError, match="shape"):
        ops.softmax_cross_entropy(A34, np.array([0, 1]))
    with pytest.raises(ValueError, match="activation"):
        ops.activation("swish")
    with pytest.raises(TypeError, match="scalar"):
        nn.grad(lambda x: x * 2)(A34)


@pytest.mark.parametrize("shapes", [((5, 3, 4), (4, 6)), ((2, 5, 3, 4), (4, 6)), ((4,), (4, 6)),
                                    ((5, 4), (4,)), ((5, 3, 4), (5, 4, 6)), ((5, 3, 4), (4,))])
def test_matmul_of_any_operands_against_torch(shapes):
    """Stacked, promoted and (..., k) @ (k, n) products (the last as one 2-D product of every
    leading index's rows): values and both gradients as PyTorch's, in float64."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    A, B = (rng.standard_normal(s) for s in shapes)
    a, b = (nn.Tensor(x, requires_grad=True) for x in (A, B))
    y = ops.matmul(a, b)
    G = rng.standard_normal(y.shape)
    y.backward(G)
    ta, tb = (torch.tensor(x, requires_grad=True) for x in (A, B))
    ty = ta @ tb
    ty.backward(torch.tensor(G))
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(a.grad, ta.grad.numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(b.grad, tb.grad.numpy(), rtol=0, atol=1e-12)
