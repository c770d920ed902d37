"""Deep residual networks against their plain twins: at depth 30 with sigmoid units the plain
stack's gradient vanishes towards the input (about 1e-18 of the last layer's) and it does not
learn the digits, while the residual twin keeps the gradient and learns. Sigmoid is the robust
choice here: with Glorot weights a tanh stack keeps its gradient within a factor of a few even
at depth 30, so it shows no vanishing."""
import numpy as np
import pytest

from neurosim.datasets import digits_split
from neurosim.deep.residual import gradient_norms, residual_network
from neurosim.nn import losses
from neurosim.nn.layers import BatchNorm, LayerNorm, Residual, Sequential


@pytest.mark.parametrize("seed", [0, 1])
def test_gradient_vanishes_in_the_plain_net_only(seed):
    Xtr, _, ytr, _ = digits_split()
    ratio = {}
    for residual in (False, True):
        m = residual_network(30, activation="sigmoid", residual=residual, seed=seed)
        g = gradient_norms(m, Xtr[:256], ytr[:256])
        assert g.sizes["layer"] == 32 and list(g.layer.values) == list(range(32))
        ratio[residual] = float(g.grad_norm[1] / g.grad_norm[30])   # first / last hidden
    assert ratio[False] < 1e-10                           # seen 5e-19 .. 1e-18
    assert ratio[True] > 1e-2                             # seen 0.12 .. 0.23


def test_residual_twin_trains_where_the_plain_net_does_not():
    Xtr, _, ytr, _ = digits_split()
    final = {}
    for residual in (False, True):
        m = residual_network(30, activation="sigmoid", residual=residual, seed=0)
        h = m.fit(Xtr, ytr, epochs=3, lr=3e-3, seed=0)
        final[residual] = h.epoch_loss.values[-1]
    assert final[False] > 2.2                             # seen 2.31: ln 10, chance
    assert final[True] < 0.4 * final[False]               # seen 0.60


def test_twins_share_their_initial_weights_and_seeds_reproduce():
    plain = residual_network(4, 8, input_dim=5, classes=3, residual=False, norm="layer", seed=2)
    res = residual_network(4, 8, input_dim=5, classes=3, norm="layer", seed=2)
    again = residual_network(4, 8, input_dim=5, classes=3, norm="layer", seed=2)
    other = residual_network(4, 8, input_dim=5, classes=3, norm="layer", seed=3)
    values = lambda m: [p.data for _, p in m.parameters()]  # noqa: E731
    for a, b, c in zip(values(plain), values(res), values(again)):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(b, c)
    assert not np.array_equal(values(res)[0], values(other)[0])
    assert isinstance(res.layers[1], Residual) and isinstance(res.layers[1].body.layers[0],
                                                              LayerNorm)
    assert isinstance(plain.layers[1], Sequential) and len(res.layers) == 6
    batch = residual_network(2, norm="batch", activation="relu", seed=0)
    assert isinstance(batch.layers[2].body.layers[0], BatchNorm) and batch.output_shape == (10,)
    with pytest.raises(ValueError, match="norm must be one of"):
        residual_network(3, norm="group")
    with pytest.raises(ValueError, match="depth"):
        residual_network(0)


def test_gradient_norms_are_the_backward_pass_and_leave_grads_alone():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((6, 5)), rng.integers(0, 3, 6)
    m = residual_network(3, 4, input_dim=5, classes=3, seed=0)
    params = [p for _, p in m.parameters()]
    for p in params:
        p.grad = np.full(p.shape, 7.0)
    g = gradient_norms(m, X, y)
    assert all(np.all(p.grad == 7.0) for p in params)
    for p in params:
        p.grad = None
    value = losses.cross_entropy(m(X), y)
    value.backward()
    W, b = m.layers[2].body.layers[0].params["W"], m.layers[2].body.layers[0].params["b"]
    np.testing.assert_allclose(float(g.grad_norm.sel(layer=2)),
                               np.sqrt((W.grad ** 2).sum() + (b.grad ** 2).sum()))
    np.testing.assert_allclose(g.attrs["loss_value"], value.item())
    assert g.kind.values[0] == "Dense(4)" and g.attrs["family"] == "DRN"
