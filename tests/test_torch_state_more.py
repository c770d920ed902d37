"""PyTorch recurrent modules made with ``bias=False``, the ReLU RNN (``nonlinearity="relu"``)
and the LSTM with ``proj_size`` in neurosim's layers: ``from_torch`` reads them (from a state
dict of NumPy arrays or from the module), and outputs, final states and every gradient match
PyTorch on the same weights in float64 to 1e-10, packed sequences included; finite
differences of the ReLU and projected ops; bad arguments named."""
import numpy as np
import pytest

from neurosim import nn
from neurosim.nn import recurrent as rec

torch = pytest.importorskip("torch")
from test_nn_recurrent_torch import (BATCH, FEATURES, LENGTHS, STEPS, UNITS,  # noqa: E402
                                     numpy_state, torch_module, torch_run)


def _compare(module, layer, cell, lengths, seed=1, initial=True):
    """Run ``module`` and ``layer`` on the same random sequences and initial states (zeros
    unless ``initial``); assert outputs, final states and the gradients of inputs, states and
    weights agree."""
    count = module.num_layers * (2 if module.bidirectional else 1)
    g = np.random.default_rng(seed)
    x = g.standard_normal((BATCH, STEPS, FEATURES))
    h0 = g.standard_normal((count, BATCH, layer.state_units)) * initial
    c0 = g.standard_normal((count, BATCH, UNITS)) * initial
    tx, th, tc = (torch.tensor(a, requires_grad=True) for a in (x, h0, c0))
    out, state = torch_run(module, tx, lengths, (th, tc) if cell == "lstm" else th)
    theirs = [out] + (list(state) if cell == "lstm" else [state])
    weights = [g.standard_normal(t.shape) for t in theirs]
    sum(((t * torch.tensor(w)).sum() for t, w in zip(theirs, weights))).backward()

    nx, nh, nc = (nn.Tensor(a, requires_grad=True) for a in (x, h0, c0))
    start = ((nh, nc) if cell == "lstm" else nh) if initial else None
    res, our_state = layer(nx, start, lengths=lengths)
    ours = [res] + (list(our_state) if cell == "lstm" else [our_state])
    for mine, t in zip(ours, theirs):
        np.testing.assert_allclose(mine.data, t.detach().numpy(), rtol=0, atol=1e-12)
    sum(((m * w).sum() for m, w in zip(ours, weights))).backward()
    for mine, t in [(nx, tx)] + ([(nh, th)] + ([(nc, tc)] if cell == "lstm" else [])) * initial:
        np.testing.assert_allclose(mine.grad, t.grad.numpy(), rtol=0, atol=1e-10)
    expected = rec.torch_to_state(layer, {k: p.grad.numpy() for k, p in
                                          module.named_parameters()})
    assert set(expected) == set(layer.params)
    for name, p in layer.params.items():
        np.testing.assert_allclose(p.grad, expected[name], rtol=0, atol=1e-10, err_msg=name)


@pytest.mark.parametrize("cell, options, layers, bidirectional, lengths", [
    ("rnn", {"nonlinearity": "relu"}, 2, True, LENGTHS),
    ("rnn", {"nonlinearity": "relu", "bias": False}, 1, False, None),
    ("rnn", {"bias": False}, 1, True, LENGTHS),
    ("lstm", {"bias": False}, 2, True, LENGTHS),
    ("gru", {"bias": False}, 2, False, LENGTHS),
    ("gru", {"bias": False}, 1, True, None),
    ("lstm", {"proj_size": 2}, 2, True, LENGTHS),
    ("lstm", {"proj_size": 3, "bias": False}, 1, False, None),
    ("lstm", {"proj_size": 1}, 1, True, None)])
def test_from_torch_matches_pytorch(cell, options, layers, bidirectional, lengths):
    module = torch_module(cell, num_layers=layers, bidirectional=bidirectional, **options)
    layer = rec.from_torch(module, return_state=True)     # the module: nonlinearity read
    assert layer.bias == options.get("bias", True)
    assert layer.state_units == options.get("proj_size", UNITS)
    assert ("relu" in repr(layer)) == (options.get("nonlinearity") == "relu")
    _compare(module, layer, cell, lengths)


def test_projected_lstm_from_zero_states_matches_pytorch():
    module = torch_module("lstm", proj_size=2, num_layers=2, bidirectional=True)
    _compare(module, rec.from_torch(module, return_state=True), "lstm", LENGTHS, initial=False)


@pytest.mark.parametrize("layout", ["neurosim", "torch"])
def test_layers_built_by_hand_load_the_state_dict(layout):
    """A SimpleRNN(nonlinearity="relu", bias=False) built in either layout has only W and U,
    and loads the ReLU module's NumPy state dict."""
    module = torch_module("rnn", nonlinearity="relu", bias=False)
    layer = rec.SimpleRNN(UNITS, nonlinearity="relu", bias=False, layout=layout,
                          return_sequences=True, return_state=True)
    layer.build((STEPS, FEATURES))
    assert sorted(layer.params) == ["U", "W"]
    layer.load_torch_state(numpy_state(module))
    _compare(module, layer, "rnn", LENGTHS, seed=2)


def test_state_dict_needs_the_nonlinearity():
    """A state dict does not say tanh or relu: from_torch takes it as an argument."""
    state = numpy_state(torch_module("rnn", nonlinearity="relu"))
    x = np.random.default_rng(3).standard_normal((BATCH, STEPS, FEATURES))
    relu = rec.from_torch(state, nonlinearity="relu")
    assert (relu(x).data >= 0).all()
    assert (rec.from_torch(state)(x).data < 0).any()      # tanh by default


@pytest.mark.kernel
@pytest.mark.parametrize("reverse", [False, True])
def test_relu_op_finite_differences(reverse):
    g = np.random.default_rng(4)
    x = g.standard_normal((3, 5, 2))
    W, U, b = g.standard_normal((2, 4)), 0.5 * g.standard_normal((4, 4)), g.standard_normal(4)
    lengths = np.array([5, 2, 4])

    def f(x, W, U, b, h0):
        out, h = rec.rnn(x, W, U, b, h0, lengths=lengths, reverse=reverse, return_state=True,
                         nonlinearity="relu")
        return out.sum(axis=1) + h * 2.0
    assert nn.check_gradients(f, x, W, U, b, g.standard_normal((3, 4))) < 1e-7


@pytest.mark.parametrize("reverse", [False, True])
def test_projected_op_finite_differences(reverse):
    from neurosim.nn.projected import lstm_projected
    g = np.random.default_rng(5)
    x = g.standard_normal((3, 4, 2))
    W, U, b = g.standard_normal((2, 12)), g.standard_normal((2, 12)), g.standard_normal(12)
    W_hr = g.standard_normal((3, 2))

    def f(x, W, U, b, W_hr, h0, c0):
        out, h, c = lstm_projected(x, W, U, b, W_hr, h0, c0, lengths=[4, 1, 3],
                                   reverse=reverse, return_state=True)
        return out.sum(axis=1) + h * 2.0 + c[:, :2]
    assert nn.check_gradients(f, x, W, U, b, W_hr, g.standard_normal((3, 2)),
                              g.standard_normal((3, 3))) < 1e-7


def test_projected_layer_trains_in_a_sequential():
    from neurosim.nn.layers import Dense, Sequential
    model = Sequential(rec.LSTM(6, proj_size=2, num_layers=2), Dense(1), seed=0)
    x = np.random.default_rng(6).standard_normal((16, 5, 3))
    h = model.fit(x, x.sum(axis=(1, 2))[:, None], loss="mse", epochs=3, lr=1e-2)
    assert h.loss.values[-1] < h.loss.values[0]
    assert model.layers[0].params["W_hr_l1"].shape == (6, 2)
    assert model.layers[0].params["W_l1"].shape == (2, 24)


def test_errors():
    with pytest.raises(ValueError, match=r"proj_size must be <= 4"):
        rec.LSTM(5, proj_size=5)
    with pytest.raises(ValueError, match=r"W_hr must have shape \(units, proj\)"):
        from neurosim.nn.projected import lstm_projected
        lstm_projected(np.zeros((1, 2, 1)), np.zeros((1, 8)), np.zeros((2, 8)), np.zeros(8),
                       np.zeros((2, 2)))
    with pytest.raises(ValueError, match="nonlinearity is the RNN's"):
        rec.from_torch(numpy_state(torch_module("gru")), nonlinearity="relu")
    with pytest.raises(ValueError, match="nonlinearity must be one of"):
        rec.SimpleRNN(3, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="nonlinearity must be one of"):
        rec.rnn(np.zeros((1, 2, 1)), np.zeros((1, 1)), np.zeros((1, 1)), np.zeros(1),
                nonlinearity="gelu")
    with pytest.raises(TypeError, match="bias must be True or False"):
        rec.LSTM(3, bias="no")
    layer = rec.LSTM(UNITS, bias=False)
    layer.build((STEPS, FEATURES))
    with pytest.raises(ValueError, match=r"tensors .* does not: \['bias_hh_l0', 'bias_ih_l0'\]"):
        layer.load_torch_state(numpy_state(torch_module("lstm")))
    with_bias = rec.LSTM(UNITS)
    with_bias.build((STEPS, FEATURES))
    with pytest.raises(ValueError, match=r"no \['bias_ih_l0', 'bias_hh_l0'\]"):
        with_bias.load_torch_state(numpy_state(torch_module("lstm", bias=False)))
