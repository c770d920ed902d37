"""Embedding against PyTorch's nn.Embedding on the same table (lookup and the table's gradient,
padding_idx included), finite differences, in a model, errors naming the argument."""
import numpy as np
import pytest

from neurosim import nn
from neurosim.nn.embedding import embedding
from neurosim.nn.layers import Dense, Embedding, Flatten, Sequential

IDS = np.array([[1, 0, 3, 3], [4, 2, 0, 1]])


@pytest.mark.parametrize("padding_idx", [None, 0, -2])
def test_matches_pytorch(padding_idx):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    ref = torch.nn.Embedding(5, 3, padding_idx=padding_idx).double()
    layer = Embedding(5, 3, padding_idx=padding_idx)
    layer.build(IDS.shape[1:])
    if padding_idx is not None:        # zero at first, as PyTorch's
        assert np.all(layer.params["W"].data[padding_idx] == 0)
    layer.load_state({"W": ref.weight.detach().numpy()})
    g = np.random.default_rng(0).standard_normal(IDS.shape + (3,))
    out = ref(torch.tensor(IDS))
    (out * torch.tensor(g)).sum().backward()
    ours = layer(IDS)
    (ours * g).sum().backward()
    np.testing.assert_array_equal(ours.data, out.detach().numpy())
    np.testing.assert_allclose(layer.params["W"].grad, ref.weight.grad.numpy(), rtol=0,
                               atol=1e-12)


def test_finite_differences():
    weight = np.random.default_rng(1).standard_normal((5, 3))
    assert nn.check_gradients(lambda w: embedding(IDS, w), weight) < 1e-8
    grad = nn.grad(lambda w: embedding(IDS, w, padding_idx=3).sum())(weight)
    assert np.all(grad[3] == 0) and np.all(grad[0] == 2)


def test_in_a_model_with_float_ids():
    model = Sequential(Embedding(5, 2), Flatten(), Dense(1), input_shape=(4,), seed=0)
    out = model(IDS.astype(float))
    assert out.shape == (2, 1)
    table = model.layers[0].params["W"].data
    expected = table[IDS].reshape(2, -1) @ model.layers[2].params["W"].data
    np.testing.assert_allclose(out.data, expected + model.layers[2].params["b"].data)


def test_errors_name_the_argument():
    layer = Embedding(5, 3)
    layer.build((4,))
    with pytest.raises(ValueError, match=r"indices must lie in \[0, 5\).*5"):
        layer(IDS + 1)
    with pytest.raises(ValueError, match=r"indices must lie in \[0, 5\)"):
        layer(IDS - 2)
    with pytest.raises(TypeError, match="indices must be whole numbers"):
        layer(IDS + 0.5)
    with pytest.raises(ValueError, match=r"expects indices of shape \(batch, 4\)"):
        layer(IDS[:, :2])
    with pytest.raises(ValueError, match="padding_idx must be <= 4"):
        Embedding(5, 3, padding_idx=5)
    with pytest.raises(ValueError, match="num_embeddings must be >= 1"):
        Embedding(0, 3)
    with pytest.raises(ValueError, match="weight must be"):
        embedding(IDS, np.zeros(5))
