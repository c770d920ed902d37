"""Recurrent families: the cells learn a task that needs memory, a bidirectional network solves
a task that needs the future where a unidirectional one cannot, and the builders, tasks and
hidden-state Datasets keep their promises."""
import numpy as np
import pytest

from neurosim.deep import mlp
from neurosim.nn.layers import Dense, Sequential
from neurosim.deep.rnn import (GRU, LSTM, hidden_states, lookahead, recurrent_network,
                               sequence_sum)


def trained(cell, X, y, validation, **options):
    model = recurrent_network(cell, options.pop("units", 16), input_shape=X.shape[1:], seed=0,
                              **options)
    history = model.fit(X, y, loss="mse", lr=1e-2, epochs=15, seed=0, validation=validation)
    return model, history


@pytest.mark.parametrize("cell, fraction", [("lstm", 0.02), ("gru", 0.02), ("rnn", 0.1)])
def test_cells_learn_the_running_sum(cell, fraction):
    """Regressing the sum of the first feature from the last state needs the whole sequence
    in memory; predicting the mean would leave the target's variance (about 10)."""
    X, y = sequence_sum(512, 10, 2, seed=0)
    validation = sequence_sum(256, 10, 2, seed=1)
    _, history = trained(cell, X, y, validation)
    assert float(history.val_loss[-1]) < fraction * validation[1].var()
    assert history.sizes == {"step": 15 * 16, "epoch": 15}


def test_bidirectional_reads_the_future():
    """y[t] = x[t + 2]: a causal network can do no better than the target's variance; the
    bidirectional one reads the answer from its backward direction."""
    X, y = lookahead(512, 12, 2, seed=0)
    Xv, yv = lookahead(256, 12, 2, seed=1)
    losses = {}
    for bidirectional in (False, True):
        _, history = trained("gru", X, y, (Xv, yv), units=12, bidirectional=bidirectional,
                             return_sequences=True)
        losses[bidirectional] = float(history.val_loss[-1])
    assert losses[False] > 0.9 * yv.var()
    assert losses[True] < 0.02 * yv.var()


def test_training_is_reproducible_in_float32():
    X, y = sequence_sum(64, 6, 2, seed=0)
    runs = [trained("lstm", X, y, None, units=4, dtype=np.float32)[1] for _ in range(2)]
    np.testing.assert_array_equal(runs[0].loss, runs[1].loss)
    assert runs[0].loss.dtype == np.float64 and np.isfinite(runs[0].loss).all()


def test_tasks():
    X, y = sequence_sum(5, 7, 3, seed=2)
    assert X.shape == (5, 7, 3) and y.shape == (5, 1)
    np.testing.assert_allclose(y[:, 0], X[:, :, 0].sum(axis=1))
    np.testing.assert_array_equal(sequence_sum(5, 7, 3, seed=2)[0], X)
    X, y = lookahead(4, 9, 3, seed=0)
    assert X.shape == y.shape == (4, 9, 1)
    np.testing.assert_array_equal(y[:, :6], X[:, 3:])
    np.testing.assert_array_equal(y[:, 6:], 0.0)
    with pytest.raises(ValueError, match="shift must be <= 8"):
        lookahead(4, 9, 9)


def test_builder_shapes_save_and_errors(tmp_path):
    model = recurrent_network("lstm", 5, input_shape=(7, 3), outputs=2, bidirectional=True,
                              merge="sum", seed=1)
    assert model.output_shape == (2,)
    X = np.random.default_rng(0).standard_normal((4, 7, 3))
    assert model.predict(X).shape == (4, 2)
    model.save(tmp_path / "bilstm.nc")
    twin = recurrent_network("lstm", 5, input_shape=(7, 3), outputs=2, bidirectional=True,
                             merge="sum", seed=2).load(tmp_path / "bilstm.nc")
    np.testing.assert_array_equal(twin.predict(X), model.predict(X))
    model = recurrent_network("rnn", 5, input_shape=(7, 3), return_sequences=True)
    assert model.output_shape == (7, 1)
    stacked = Sequential(LSTM(4, return_sequences=True), GRU(3), Dense(1), input_shape=(7, 3))
    assert stacked.predict(np.zeros((2, 7, 3))).shape == (2, 1)
    with pytest.raises(ValueError, match="cell must be one of"):
        recurrent_network("elman", 5, input_shape=(7, 3))
    with pytest.raises(ValueError, match=r"input_shape must be \(time, features\)"):
        recurrent_network("gru", 5, input_shape=(7,))


def test_hidden_states_dataset():
    model = recurrent_network("lstm", 6, input_shape=(8, 2), seed=0)
    X = np.random.default_rng(0).standard_normal((3, 8, 2))
    ds = hidden_states(model, X)
    assert ds.hidden.dims == ("sample", "step", "unit")
    assert ds.hidden.shape == (3, 8, 6)
    assert ds.attrs["family"] == "LSTM" and ds.attrs["layer"] == 0
    # the last step is what the read-out sees
    last = model.layers[0](X).data
    np.testing.assert_allclose(ds.hidden[:, -1].values, last)
    assert hidden_states(recurrent_network("gru", 6, input_shape=(8, 2), bidirectional=True),
                         X).attrs["family"] == "BiRNN"
    with pytest.raises(ValueError, match="no recurrent layer"):
        hidden_states(mlp((2, 3)), X)
