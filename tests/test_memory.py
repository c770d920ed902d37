"""Memory-augmented family (NTM): the copy task and its loss, the machine's shapes, gradients
and seeds, the weighting Dataset, and learning the copy task with weightings that move in
order."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from neurosim import rng
from neurosim.deep.ntm import (NTM, bit_errors, bit_errors_by_length, copy_loss, copy_task,
                              memory_trace, recall_images)
from neurosim.nn import Tensor, check_gradients
from neurosim.nn.layers import Sequential
from neurosim.nn.optim import cosine


def small(seed=0, **sizes):
    options = dict(locations=6, width=3, controller=5) | sizes
    return Sequential(NTM(2, **options), input_shape=(5, 3), seed=seed)


def test_copy_task_layout():
    X, Y = copy_task(20, max_length=4, bits=3, seed=1)
    assert X.shape == (20, 9, 4) and Y.shape == (20, 9, 3)
    for x, y in zip(X, Y):
        length = int(x[:, -1].argmax())
        assert 1 <= length <= 4 and x[:, -1].sum() == 1
        np.testing.assert_array_equal(y[length + 1:2 * length + 1], x[:length, :3])
        assert np.all(y[:length + 1] == -1) and np.all(y[2 * length + 1:] == -1)
        assert np.all(x[length + 1:] == 0)
    np.testing.assert_array_equal(copy_task(20, 4, 3, seed=1)[0], X)
    with pytest.raises(ValueError, match="min_length must be <= 4"):
        copy_task(5, max_length=4, min_length=5)
    with pytest.raises(TypeError, match="bits must be an integer"):
        copy_task(5, bits=2.5)


def test_copy_loss_is_the_mean_cross_entropy_of_scored_entries():
    r = np.random.default_rng(0)
    z = r.standard_normal((3, 4, 2))
    y = r.integers(0, 2, (3, 4, 2)).astype(float)
    y[:, :2] = -1
    p = 1 / (1 + np.exp(-z[:, 2:]))
    want = -np.mean(y[:, 2:] * np.log(p) + (1 - y[:, 2:]) * np.log(1 - p))
    assert copy_loss(Tensor(z), y).item() == pytest.approx(want, rel=1e-12)
    assert check_gradients(lambda t: copy_loss(t, y), z) < 1e-8
    with pytest.raises(ValueError, match="no target entry is scored"):
        copy_loss(Tensor(z), np.full_like(z, -1))
    with pytest.raises(ValueError, match="targets must have the logits' shape"):
        copy_loss(Tensor(z), y[:, :2])


def test_ntm_shapes_and_bad_input():
    model = small()
    assert model.output_shape == (5, 2)
    assert model(np.zeros((4, 5, 3))).shape == (4, 5, 2)
    assert "NTM(2, locations=6" in repr(model)
    with pytest.raises(ValueError, match=r"input shape must be \(time, features\)"):
        Sequential(NTM(2), input_shape=(5,))
    with pytest.raises(ValueError, match="shift_range must be <= 2"):
        NTM(2, locations=5, shift_range=3)
    with pytest.raises(TypeError, match="read_heads must be an integer"):
        NTM(2, read_heads="two")
    with pytest.raises(ValueError, match="expects inputs of shape"):
        model(np.zeros((4, 5, 2)))


def test_gradients_through_the_whole_machine():
    model = small(read_heads=2, write_heads=2)
    x = np.random.default_rng(3).standard_normal((2, 5, 3))
    assert check_gradients(model, x) < 1e-6
    assert all(p.grad is None or np.all(np.isfinite(p.grad)) for _, p in model.parameters())


def test_matches_the_same_machine_in_pytorch():
    """The benchmark's torch version, written with torch ops and autograd: same outputs and
    parameter gradients from the same weights."""
    torch = pytest.importorskip("torch")
    path = Path(__file__).parents[1] / "benchmarks" / "memory.py"
    spec = importlib.util.spec_from_file_location("benchmark_memory", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    X, _ = copy_task(4, bench.LENGTH, bench.BITS, seed=0)
    model = Sequential(NTM(bench.BITS, locations=bench.N, width=bench.WIDTH,
                           controller=bench.UNITS), input_shape=X.shape[1:], seed=0)
    weights = np.random.default_rng(1).standard_normal(model.output_shape)
    (model(X) * weights).sum().backward()
    params, forward = bench.torch_ntm(torch, model.state(), torch.float64)
    (forward(torch.from_numpy(X)) * torch.from_numpy(weights)).sum().backward()
    np.testing.assert_allclose(model.predict(X), forward(torch.from_numpy(X)).detach().numpy(),
                               rtol=1e-10, atol=1e-12)
    for name, p in model.parameters():
        np.testing.assert_allclose(p.grad, params[name].grad.numpy(), rtol=1e-8,
                                   atol=1e-12, err_msg=name)


def test_same_seed_same_machine_and_training():
    X, Y = copy_task(16, max_length=2, bits=2, seed=0)
    runs = []
    for _ in range(2):
        model = small(seed=4)
        history = model.fit(X, Y, loss=copy_loss, epochs=2, batch_size=8, seed=5)
        runs.append((history.loss.values, model.predict(X)))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    assert not np.array_equal(small(seed=4).predict(X), small(seed=6).predict(X))


def test_float32_machine():
    X, Y = copy_task(16, max_length=2, bits=2, seed=0)
    model = Sequential(NTM(2, locations=6, width=3, controller=5), input_shape=X.shape[1:],
                       seed=0, dtype=np.float32)
    history = model.fit(X, Y, loss=copy_loss, epochs=1, batch_size=8)
    assert np.all(np.isfinite(history.loss))
    trace = memory_trace(model, X)
    assert trace.read_weighting.dtype == trace.output.dtype == np.float32


def test_saved_machine_loads_and_predicts_the_same(tmp_path):
    X = np.random.default_rng(0).random((3, 5, 3))
    model = small(seed=1)
    model.save(tmp_path / "ntm.nc")
    fresh = small(seed=2).load(tmp_path / "ntm.nc")
    np.testing.assert_array_equal(fresh.predict(X), model.predict(X))


def test_memory_trace_dataset():
    model = small(read_heads=2)
    X = np.random.default_rng(0).random((3, 8, 3))       # longer than the training sequences
    ds = memory_trace(model, X)
    assert ds.attrs["family"] == "NTM"
    assert ds.read_weighting.dims == ("sample", "step", "read_head", "location")
    assert ds.read_weighting.shape == (3, 8, 2, 6) and ds.write_weighting.shape == (3, 8, 1, 6)
    np.testing.assert_allclose(ds.read_weighting.sum("location"), 1.0)
    np.testing.assert_allclose(ds.output[:, :5], model.predict(X[:, :5]))
    assert ds.memory.shape == (3, 6, 3)
    with pytest.raises(ValueError, match="3 features"):
        memory_trace(model, X[..., :2])
    with pytest.raises(ValueError, match="Y must have shape"):
        bit_errors(model, X, np.zeros((3, 5, 2)))
    with pytest.raises(ValueError, match="no NTM or DNC layer"):
        memory_trace(Sequential(input_shape=(5, 3)), X)


def test_bit_errors_by_length_and_recall_images():
    model = small()
    by_length = bit_errors_by_length(model, [1, 2, 3], bits=2, n=20, seed=4)
    assert by_length.dims == ("length",) and by_length.length.values.tolist() == [1, 2, 3]
    for k, length in enumerate([1, 2, 3]):   # each length: sequences of exactly that length
        X, Y = copy_task(20, length, 2, min_length=length, seed=rng.child(4, k))
        assert by_length.values[k] == bit_errors(model, X, Y)
        assert 0 <= by_length.values[k] <= 2 * length
    X, Y = copy_task(4, 2, 2, seed=1)
    trace = memory_trace(model, X)
    for i in range(4):
        x, target, output = recall_images(trace, i, 2)
        scored = Y[i] >= 0                   # the recall steps: the target is Y there
        np.testing.assert_array_equal(target.T[scored], Y[i][scored])
        assert np.isnan(output.T[~scored]).all() and np.all((output.T[scored] > 0)
                                                            & (output.T[scored] < 1))
        np.testing.assert_array_equal(x, X[i].T)
    with pytest.raises(ValueError, match="lengths"):
        bit_errors_by_length(model, [0, 2], bits=2)


@pytest.mark.slow
def test_learns_to_copy_with_weightings_in_order():
    X, Y = copy_task(800, max_length=3, bits=4, seed=0)
    Xt, Yt = copy_task(100, max_length=3, bits=4, seed=1)
    model = Sequential(NTM(4, locations=12, width=6, controller=32), input_shape=X.shape[1:],
                       seed=0)
    before = bit_errors(model, Xt, Yt)
    model.fit(X, Y, loss=copy_loss, epochs=8, batch_size=16, lr=cosine(0.02, 400, 0.001),
              clip_norm=10, seed=0)
    after = bit_errors(model, Xt, Yt)
    assert before > 2 and after < 0.1                     # bits wrong per sequence (chance ~4)
    ds = memory_trace(model, Xt)
    in_order = []
    for i, x in enumerate(Xt):
        length = int(x[:, -1].argmax())
        written = ds.write_weighting[i, :length, 0].argmax("location").values
        # the output at step t sees the reads of steps t and t - 1 (through the controller)
        read = ds.read_weighting[i, length:2 * length + 1, 0].argmax("location").values
        steps = np.diff(written) % 12
        in_order.append(any(np.array_equal(read[lag:lag + length], written) for lag in (0, 1))
                        and (np.all(steps == 1) or np.all(steps == 11)))
    assert np.mean(in_order) > 0.9    # each vector read back from where it was written, in turn
    X4, Y4 = copy_task(100, max_length=4, min_length=4, bits=4, seed=2)
    assert bit_errors(model, X4, Y4) < 1     # one vector longer than trained: of 16 bits


# ---------------------------------------------------------------- the LSTM controller
def test_lstm_step_returns_pytorchs_hidden_and_cell_states():
    """The per-step LSTM op with return_state: h and c after each step, and the gradients of
    a loss on both through three steps, equal torch.nn.LSTMCell's from the same weights."""
    torch = pytest.importorskip("torch")
    from neurosim.nn import recurrent
    r = np.random.default_rng(0)
    x, h0, c0 = r.standard_normal((3, 2, 4)), r.standard_normal((2, 5)), r.standard_normal((2, 5))
    W, U, b = r.standard_normal((4, 20)) / 2, r.standard_normal((5, 20)) / 2, r.standard_normal(20)
    weights = [Tensor(a, requires_grad=True) for a in (W, U, b)]
    h, c, loss = h0, c0, 0
    for t in range(3):
        _, h, c = recurrent.lstm(x[t][:, None], *weights, h, c, return_sequences=False,
                                 return_state=True)
        loss = loss + (h * h).sum() + (c * np.arange(5)).sum()
    loss.backward()
    cell = torch.nn.LSTMCell(4, 5, dtype=torch.float64)
    with torch.no_grad():
        cell.weight_ih.copy_(torch.from_numpy(W.T))
        cell.weight_hh.copy_(torch.from_numpy(U.T))
        cell.bias_ih.copy_(torch.from_numpy(b))
        cell.bias_hh.zero_()
    th, tc, tloss = torch.from_numpy(h0), torch.from_numpy(c0), 0
    for t in range(3):
        th, tc = cell(torch.from_numpy(x[t]), (th, tc))
        tloss = tloss + (th * th).sum() + (tc * torch.arange(5.0, dtype=torch.float64)).sum()
    tloss.backward()
    np.testing.assert_allclose(h.data, th.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(c.data, tc.detach().numpy(), rtol=1e-12)
    for ours, theirs in zip(weights, (cell.weight_ih.grad.T, cell.weight_hh.grad.T,
                                      cell.bias_ih.grad)):
        np.testing.assert_allclose(ours.grad, theirs.numpy(), rtol=1e-10, atol=1e-12)


def test_lstm_controller_gradients_and_parameters():
    model = small(read_heads=2, cell="lstm")
    names = [name for name, _ in model.parameters()]
    assert {"0.W_controller", "0.U_controller", "0.b_controller"} <= set(names)
    b = dict(model.parameters())["0.b_controller"].data
    np.testing.assert_array_equal(b[5:10], 1.0)                          # forget bias
    assert dict(model.parameters())["0.W_controller"].shape == (3 + 2 * 3, 20)
    assert "cell='lstm'" in repr(model) and "cell=" not in repr(small())
    x = np.random.default_rng(3).standard_normal((2, 5, 3))
    assert check_gradients(model, x) < 1e-6
    assert memory_trace(model, x).attrs["cell"] == "lstm"
    with pytest.raises(ValueError, match="cell must be one of"):
        NTM(2, cell="gru")


def test_lstm_controller_learns_to_copy():
    X, Y = copy_task(1600, max_length=3, bits=4, seed=0)
    Xt, Yt = copy_task(100, max_length=3, bits=4, seed=1)
    model = Sequential(NTM(4, locations=12, width=6, controller=32, cell="lstm"),
                       input_shape=X.shape[1:], seed=0)
    before = bit_errors(model, Xt, Yt)
    model.fit(X, Y, loss=copy_loss, epochs=8, batch_size=16, lr=cosine(0.01, 800, 0.001),
              clip_norm=10, seed=0)
    assert before > 2 and bit_errors(model, Xt, Yt) < 0.1
