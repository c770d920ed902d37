"""The recurrent layers against PyTorch on the same weights (float64): stacked and bidirectional
layers, initial and final states, variable-length sequences (PyTorch's packed sequences),
outputs and every gradient to 1e-10; an Adam run from PyTorch's weights that ends at its loss;
finite differences of the new options; dropout between layers; errors."""
import numpy as np
import pytest

from neurosim import nn
from neurosim.nn import losses, norm, optim
from neurosim.nn import recurrent as rec
from neurosim.nn.layers import Dense, Sequential

torch = pytest.importorskip("torch")

FEATURES, UNITS, BATCH, STEPS = 3, 4, 5, 6
LENGTHS = np.array([6, 3, 1, 5, 2])
MODULES = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}


def torch_module(cell, seed=0, **options):
    torch.manual_seed(seed)
    return getattr(torch.nn, MODULES[cell])(FEATURES, UNITS, batch_first=True,
                                            **options).double()


def numpy_state(module):
    return {k: v.detach().numpy().copy() for k, v in module.state_dict().items()}


def torch_run(module, x, lengths, initial):
    """PyTorch's outputs (padded with zeros) and final states, packing when lengths are given."""
    inp = x
    if lengths is not None:
        inp = torch.nn.utils.rnn.pack_padded_sequence(x, torch.tensor(lengths),
                                                      batch_first=True, enforce_sorted=False)
    out, state = module(inp, initial)
    if lengths is not None:
        out = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True,
                                                     total_length=STEPS)[0]
    return out, state


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("layers, bidirectional, lengths, layout", [
    (1, False, None, "torch"), (2, True, LENGTHS, "torch"), (2, False, LENGTHS, "neurosim"),
    (1, True, None, "neurosim")])
def test_outputs_states_and_gradients_match_pytorch(cell, layers, bidirectional, lengths,
                                                     layout):
    module = torch_module(cell, num_layers=layers, bidirectional=bidirectional)
    count = layers * (2 if bidirectional else 1)
    g = np.random.default_rng(1)
    x = g.standard_normal((BATCH, STEPS, FEATURES))
    h0, c0 = g.standard_normal((2, count, BATCH, UNITS))
    tx, th, tc = (torch.tensor(a, requires_grad=True) for a in (x, h0, c0))
    initial = (th, tc) if cell == "lstm" else th
    out, state = torch_run(module, tx, lengths, initial)
    h_n = state[0] if cell == "lstm" else state
    weights = [g.standard_normal(t.shape) for t in (out, h_n)]
    loss = (out * torch.tensor(weights[0])).sum() + (h_n * torch.tensor(weights[1])).sum()
    if cell == "lstm":
        weights.append(g.standard_normal(h_n.shape))
        loss = loss + (state[1] * torch.tensor(weights[2])).sum()
    loss.backward()

    kind = {"rnn": rec.SimpleRNN, "lstm": rec.LSTM, "gru": rec.GRU}[cell]
    layer = kind(UNITS, num_layers=layers, bidirectional=bidirectional, layout=layout,
                 return_sequences=True, return_state=True)
    layer.build((STEPS, FEATURES))
    layer.load_torch_state(numpy_state(module))
    nx, nh, nc = (nn.Tensor(a, requires_grad=True) for a in (x, h0, c0))
    ours, our_state = layer(nx, (nh, nc) if cell == "lstm" else nh, lengths=lengths)
    finals = list(our_state) if cell == "lstm" else [our_state]
    np.testing.assert_allclose(ours.data, out.detach().numpy(), rtol=0, atol=1e-12)
    for mine, theirs in zip(finals, state if cell == "lstm" else [state]):
        np.testing.assert_allclose(mine.data, theirs.detach().numpy(), rtol=0, atol=1e-12)
    total = (ours * weights[0]).sum()
    for f, w in zip(finals, weights[1:]):
        total = total + (f * w).sum()
    total.backward()
    np.testing.assert_allclose(nx.grad, tx.grad.numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(nh.grad, th.grad.numpy(), rtol=0, atol=1e-10)
    if cell == "lstm":
        np.testing.assert_allclose(nc.grad, tc.grad.numpy(), rtol=0, atol=1e-10)
    torch_grads = {k: p.grad.numpy().copy() for k, p in module.named_parameters()}
    if layout == "neurosim":     # one bias b = b_ih + b_hh: d/db = d/db_ih (GRU's b_hn apart)
        for k, v in torch_grads.items():
            if k.startswith("bias_hh"):
                v[:None if cell != "gru" else 2 * UNITS] = 0.0
    expected = rec.torch_to_state(layer, torch_grads)
    for name, p in layer.params.items():
        np.testing.assert_allclose(p.grad, expected[name], rtol=0, atol=1e-10, err_msg=name)


def test_adam_from_pytorch_weights_follows_its_trajectory():
    """80 Adam steps of LSTM + Linear from PyTorch's weights end at PyTorch's loss (float64);
    the one-bias layout, the same model, does not (Adam moves two biases twice as far)."""
    g = np.random.default_rng(0)
    x = g.standard_normal((16, 10, FEATURES))
    y = x[:, :, :1].sum(axis=1)
    module, head = torch_module("lstm"), torch.nn.Linear(UNITS, 1).double()
    state = numpy_state(module)
    head_state = {"1.W": head.weight.detach().numpy().T.copy(),
                  "1.b": head.bias.detach().numpy().copy()}
    opt = torch.optim.Adam(list(module.parameters()) + list(head.parameters()), lr=1e-2)
    tx, ty = torch.tensor(x), torch.tensor(y)
    for _ in range(80):
        opt.zero_grad()
        loss = ((head(module(tx)[0][:, -1]) - ty) ** 2).mean()
        loss.backward()
        opt.step()
    theirs = loss.item()
    ends = {}
    for layout in ("torch", "neurosim"):
        model = Sequential(rec.LSTM(UNITS, layout=layout), Dense(1),
                           input_shape=(10, FEATURES))
        model.layers[0].load_torch_state(state)
        model.load_state({**{f"0.{k}": v for k, v in model.layers[0].state().items()},
                          **head_state})
        adam = optim.Adam(model.parameters(), lr=1e-2)
        for _ in range(80):
            adam.zero_grad()
            ours = losses.mse(model(x), y)
            ours.backward()
            adam.step()
        ends[layout] = ours.item()
    assert abs(ends["torch"] - theirs) <= 1e-6 * theirs
    assert abs(ends["neurosim"] - theirs) > 1e-3 * theirs


@pytest.mark.parametrize("op, extra", [(rec.rnn, 0), (rec.lstm, 0), (rec.gru, 1)])
@pytest.mark.parametrize("reverse", [False, True])
def test_lengths_and_states_finite_differences(op, extra, reverse):
    g = np.random.default_rng(2)
    gates = {rec.rnn: 1, rec.lstm: 4, rec.gru: 3}[op]
    x = g.standard_normal((3, 4, 2))
    W, U = g.normal(0, 0.6, (2, gates * 3)), g.normal(0, 0.6, (3, gates * 3))
    b = g.normal(0, 0.5, gates * 3)
    more = [g.normal(0, 0.5, 3) for _ in range(extra)]
    h0 = g.standard_normal((3, 3))
    lengths = np.array([4, 1, 2])

    def f(x, W, U, b, *rest):
        outs = op(x, W, U, b, *rest, lengths=lengths, reverse=reverse, return_state=True)
        return nn.ops.concatenate([o.reshape(3, -1) for o in outs], axis=1)
    assert nn.check_gradients(f, x, W, U, b, *more, h0) < 1e-7


def test_mask_equals_lengths_and_padding_is_ignored():
    g = np.random.default_rng(3)
    layer = rec.GRU(UNITS, return_sequences=True, bidirectional=True)
    layer.build((STEPS, FEATURES))
    x = g.standard_normal((BATCH, STEPS, FEATURES))
    mask = np.arange(STEPS) < LENGTHS[:, None]
    noisy = np.where(mask[:, :, None], x, 1e3)
    a = layer(x, lengths=LENGTHS).data
    np.testing.assert_array_equal(a, layer(noisy, lengths=mask).data)
    assert np.all(a[~mask] == 0)


def test_dropout_between_layers_only_in_training():
    layer = rec.LSTM(UNITS, num_layers=2, dropout=0.5, return_sequences=True)
    layer.build((STEPS, FEATURES))
    x = np.random.default_rng(4).standard_normal((BATCH, STEPS, FEATURES))
    p = layer.params
    replay = np.random.default_rng()
    replay.bit_generator.state = layer.generator.bit_generator.state
    below = rec.lstm(x, p["W"], p["U"], p["b"])
    dropped = norm.dropout(below, 0.5, replay)
    expected = rec.lstm(dropped, p["W_l1"], p["U_l1"], p["b_l1"]).data
    np.testing.assert_allclose(layer(x).data, expected, rtol=0, atol=1e-14)
    layer.eval()
    np.testing.assert_allclose(layer(x).data, rec.lstm(below, p["W_l1"], p["U_l1"],
                                                       p["b_l1"]).data, rtol=0, atol=1e-14)


def test_from_torch_reads_the_architecture():
    module = torch_module("gru", num_layers=3, bidirectional=True)
    layer = rec.from_torch(numpy_state(module))
    assert isinstance(layer, rec.GRU) and layer.num_layers == 3 and layer.bidirectional
    assert layer.layout == "torch" and layer.output_shape == (1, 2 * UNITS)
    assert layer.parameters()[-1][0] == "b_hh_l2_reverse"


def test_errors():
    layer = rec.LSTM(UNITS, num_layers=2, return_sequences=True)
    layer.build((STEPS, FEATURES))
    x = np.zeros((BATCH, STEPS, FEATURES))
    with pytest.raises(ValueError, match=r"lengths must lie in \[1, 6\]"):
        layer(x, lengths=[0, 1, 2, 3, 4])
    with pytest.raises(ValueError, match="lengths must be 5 integers"):
        layer(x, lengths=[1, 2])
    with pytest.raises(ValueError, match="first steps"):
        layer(x, lengths=np.arange(STEPS) >= LENGTHS[:, None])
    with pytest.raises(ValueError, match=r"h0 must have shape \(num_layers"):
        layer(x, (np.zeros((BATCH, UNITS)), None))
    with pytest.raises(ValueError, match="reverse and bidirectional"):
        rec.GRU(3, reverse=True, bidirectional=True)
    with pytest.raises(ValueError, match="layout must be one of"):
        rec.GRU(3, layout="keras")
    with pytest.raises(ValueError, match="weight_hr_l0"):
        rec.from_torch({"weight_hr_l0": np.zeros((4, 4))})
    with pytest.raises(ValueError, match=r"no \['weight_ih_l1'"):
        layer.load_torch_state({k: v for k, v in numpy_state(torch_module(
            "lstm", num_layers=2)).items() if k != "weight_ih_l1"})
    with pytest.raises(ValueError, match="Bidirectional wraps a one-way layer"):
        rec.Bidirectional(rec.GRU(3, bidirectional=True))


def test_stacked_network_builder_and_hidden_states():
    from neurosim.deep.rnn import hidden_states, recurrent_network
    model = recurrent_network("gru", 3, input_shape=(STEPS, FEATURES), num_layers=2,
                              bidirectional=True, dropout=0.2, seed=0)
    layer = model.layers[0]
    assert layer.num_layers == 2 and layer.bidirectional and layer.dropout == 0.2
    x = np.random.default_rng(5).standard_normal((BATCH, STEPS, FEATURES))
    ds = hidden_states(model, x, lengths=LENGTHS)
    assert ds.attrs["family"] == "BiRNN" and ds["hidden"].shape == (BATCH, STEPS, 6)
    assert np.all(ds["hidden"].values[np.arange(STEPS) >= LENGTHS[:, None]] == 0)
    with pytest.raises(ValueError, match="concatenates the directions"):
        recurrent_network("gru", 3, input_shape=(STEPS, FEATURES), num_layers=2,
                          bidirectional=True, merge="sum")


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_blas_input_side_equals_the_few_features_loops(cell, monkeypatch):
    """Inputs wider than kernels.recurrent.SMALL_INPUTS take BLAS products: same results."""
    from neurosim.kernels import recurrent as kr
    g = np.random.default_rng(6)
    layer = {"lstm": rec.LSTM, "gru": rec.GRU}[cell](UNITS, bidirectional=True,
                                                     return_sequences=True)
    layer.build((STEPS, FEATURES))
    x = g.standard_normal((BATCH, STEPS, FEATURES))
    results = []
    for small in (32, 0):
        monkeypatch.setattr(kr, "SMALL_INPUTS", small)
        xt = nn.Tensor(x, requires_grad=True)
        for p in layer.params.values():
            p.grad = None
        out = layer(xt, lengths=LENGTHS)
        (out * out).sum().backward()
        results.append([out.data, xt.grad] + [p.grad for p in layer.params.values()])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_reused_work_arrays_keep_live_graphs_apart():
    """The op's arrays go back to nn.workspace only with their graph: two graphs alive at
    once, and forward passes without a graph between, leave each backward pass exact."""
    g = np.random.default_rng(7)
    W, U, b = g.normal(0, 0.5, (FEATURES, 16)), g.normal(0, 0.5, (UNITS, 16)), np.zeros(16)
    xs = g.standard_normal((3, BATCH, STEPS, FEATURES))

    def input_gradient(x, between=()):
        t = nn.Tensor(x, requires_grad=True)
        out = rec.lstm(t, W, U, b, return_sequences=False)
        for other in between:
            with nn.no_grad():
                rec.lstm(other, W, U, b, return_sequences=False)
            live = nn.Tensor(other, requires_grad=True)
            (rec.lstm(live, W, U, b, return_sequences=False) ** 2).sum().backward()
        (out ** 2).sum().backward()
        return t.grad
    alone = input_gradient(xs[0])
    np.testing.assert_array_equal(input_gradient(xs[0], between=xs[1:]), alone)
