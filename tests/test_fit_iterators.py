"""``fit`` on sources of batches (ArrayBatches, DatasetBatches, generator functions) and on
variable-length sequences (``lengths``): a seeded ArrayBatches run takes the steps of the
array run with the same seed; a file read batch by batch trains as the arrays it holds; a
resumed run repeats the uninterrupted one bit for bit; with lengths, per-step outputs train
as PyTorch's packed sequences with a loss over the packed data (float64, SGD, to 1e-10), a
sequence's output equals that of the sequence run alone, and padding (its values, its length)
changes nothing; a Sequential refuses a layer with return_state; bad input named."""
import numpy as np
import pytest

from neurosim.deep.mlp import mlp
from neurosim.nn import recurrent as rec
from neurosim.nn.data import ArrayBatches, DatasetBatches
from neurosim.nn.layers import Dense, Flatten, Sequential
from neurosim.nn.train import fit, predict

R = np.random.default_rng(0)
X, Y = R.standard_normal((70, 6)), R.integers(0, 3, 70)
FEATURES, UNITS, CLASSES, STEPS = 3, 5, 4, 7
SEQ = R.standard_normal((12, STEPS, FEATURES))
LENGTHS = np.array([7, 3, 1, 5, 2, 7, 4, 6, 1, 3, 5, 2])
LABELS = R.integers(0, CLASSES, (12, STEPS))


def net(dropout=0.3):
    return mlp((6, 12, 3), "relu", dropout=dropout, seed=4)


def tagger(layout="torch", cell=rec.LSTM):
    """Per-step classes: a recurrent layer's every state through a Dense head."""
    return Sequential(cell(UNITS, return_sequences=True, layout=layout),
                      rec.TimeDistributed(Dense(CLASSES)), seed=1)


def padded(seq, lengths, value):
    """``seq`` with every step past a sequence's length set to ``value``."""
    out = np.array(seq, dtype=float)
    out[np.arange(out.shape[1]) >= lengths[:, None]] = value
    return out


def test_array_batches_take_the_steps_of_the_array_run():
    options = {"epochs": 3, "seed": 5, "metrics": ("accuracy",)}
    whole = net().fit(X, Y, batch_size=16, validation=(X[:20], Y[:20]), **options)
    h = net().fit(ArrayBatches(X, Y, batch_size=16, shuffle=True, seed=5),
                  validation=ArrayBatches(X[:20], Y[:20], batch_size=7), **options)
    np.testing.assert_array_equal(h.loss.values, whole.loss.values)
    assert set(h.data_vars) == set(whole.data_vars) and h.attrs["batch_size"] == 16
    for name in ("epoch_loss", "accuracy", "val_loss", "val_accuracy"):   # weighted means
        np.testing.assert_allclose(h[name].values, whole[name].values, rtol=1e-12)


def test_generator_function_and_netcdf_batches_train_as_the_arrays(tmp_path):
    import xarray as xr
    path = tmp_path / "data.nc"
    xr.Dataset({"x": (("sample", "f"), X), "label": ("sample", Y)}).to_netcdf(path)
    whole = net(0.0).fit(X, Y, batch_size=10, shuffle=False, epochs=2)

    def gen():
        for k in range(0, len(X), 10):
            yield X[k:k + 10], Y[k:k + 10]
    for source in (gen, DatasetBatches(path, ["x", "label"], batch_size=10)):
        h = net(0.0).fit(source, epochs=2)
        np.testing.assert_array_equal(h.loss.values, whole.loss.values)
    unbuilt = Sequential(Dense(3), seed=0)       # built from the file's shapes
    unbuilt.fit(DatasetBatches(path, ["x", "label"], batch_size=10), epochs=1)
    assert unbuilt.input_shape == (6,)
    np.testing.assert_array_equal(predict(net(0.0), ArrayBatches(X, batch_size=9)),
                                  predict(net(0.0), X))


def test_resume_with_shuffled_batches_is_exact(tmp_path):
    data = ArrayBatches(X, Y, batch_size=16, shuffle=True, seed=3)
    options = {"epochs": 4, "optimizer": "rmsprop", "lr": 1e-2, "metrics": ("accuracy",)}
    whole = net().fit(data, **options)
    path = tmp_path / "run.nc"
    net().fit(ArrayBatches(X, Y, batch_size=16, shuffle=True, seed=3), checkpoint=path,
              callbacks=[lambda model, epoch, logs: epoch == 1], **options)
    resumed = net()
    h = resumed.fit(ArrayBatches(X, Y, batch_size=16, shuffle=True, seed=99), resume=path,
                    **options)                 # the saved shuffle state, not seed 99
    np.testing.assert_array_equal(h.loss.values, whole.loss.values)
    np.testing.assert_array_equal(h.accuracy.values, whole.accuracy.values)


def test_packed_sequence_training_follows_pytorch():
    """SGD on an LSTM tagger from PyTorch's weights, loss over the valid steps only (PyTorch:
    pack_padded_sequence, the head on the packed data, cross-entropy): the same losses."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(FEATURES, UNITS, batch_first=True).double()
    head = torch.nn.Linear(UNITS, CLASSES).double()
    model = tagger()
    model.build((STEPS, FEATURES))
    model.layers[0].load_torch_state({k: v.detach().numpy() for k, v in
                                      lstm.state_dict().items()})
    model.layers[1].layers[0].load_state({"W": head.weight.detach().numpy().T,
                                          "b": head.bias.detach().numpy()})
    x = padded(SEQ, LENGTHS, 0.0)
    opt = torch.optim.SGD(list(lstm.parameters()) + list(head.parameters()), lr=0.5)
    theirs = []
    for batch in (slice(0, 6), slice(6, 12)) * 3:
        packed = torch.nn.utils.rnn.pack_padded_sequence(
            torch.tensor(x[batch]), torch.tensor(LENGTHS[batch]), batch_first=True,
            enforce_sorted=False)
        out = lstm(packed)[0]
        order = out.sorted_indices.numpy()       # the packed data's labels, step-major
        labels = np.concatenate([LABELS[batch][order[:int(size)], t] for t, size in
                                 enumerate(out.batch_sizes)])
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(head(out.data), torch.tensor(labels))
        loss.backward()
        opt.step()
        theirs.append(loss.item())
    h = model.fit(x, LABELS, lengths=LENGTHS, batch_size=6, shuffle=False, epochs=3,
                  optimizer="sgd", lr=0.5)
    np.testing.assert_allclose(h.loss.values, theirs, rtol=0, atol=1e-10)


def test_padding_values_and_lengths_change_nothing():
    """Other values in the padding, or each batch padded only to its own longest sequence
    (a generator of (x, y, lengths)), give the same trajectory and validation loss."""
    options = {"epochs": 2, "lr": 1e-2, "metrics": ("accuracy",)}
    ref = tagger("neurosim", rec.GRU).fit(padded(SEQ, LENGTHS, 0.0), LABELS, lengths=LENGTHS,
                                          batch_size=4, shuffle=False, **options,
                                          validation=(SEQ, LABELS, LENGTHS))
    other = tagger("neurosim", rec.GRU).fit(padded(SEQ, LENGTHS, 9.0), padded(LABELS, LENGTHS, 2),
                                            lengths=LENGTHS, batch_size=4, shuffle=False,
                                            **options, validation=(SEQ, LABELS, LENGTHS))

    def own_length():
        for k in range(0, 12, 4):
            steps = LENGTHS[k:k + 4].max()
            yield SEQ[k:k + 4, :steps], LABELS[k:k + 4, :steps], LENGTHS[k:k + 4]
    trimmed = tagger("neurosim", rec.GRU).fit(own_length, **options, validation=own_length)
    for h in (other, trimmed):
        for name in ("loss", "accuracy", "val_loss", "val_accuracy"):
            np.testing.assert_allclose(h[name].values, ref[name].values, rtol=1e-12)


def test_final_states_with_lengths_are_the_sequences_run_alone():
    model = Sequential(rec.GRU(UNITS, num_layers=2), Dense(2), seed=0)
    out = model.predict(padded(SEQ, LENGTHS, 5.0), lengths=LENGTHS, batch_size=5)
    for i, n in enumerate(LENGTHS):
        np.testing.assert_allclose(out[i], model.predict(SEQ[i:i + 1, :n])[0], rtol=0,
                                   atol=1e-12)
    model.fit(SEQ, R.integers(0, 2, 12), lengths=LENGTHS, epochs=1)    # seq-to-one trains


def test_sequential_refuses_a_layer_that_returns_states():
    with pytest.raises(TypeError, match=r"layer 0 LSTM\(4, return_state=True\) returns "
                                        r"\(outputs, final states\)"):
        Sequential(rec.LSTM(4, return_state=True), Dense(1))
    with pytest.raises(TypeError, match=r"layer 1 GRU\(4, return_sequences=True, "
                                        r"return_state=True\)"):
        Sequential(Dense(3), rec.GRU(4, return_sequences=True, return_state=True))


def test_errors():
    data = ArrayBatches(X, Y, batch_size=8)
    m = net()
    with pytest.raises(TypeError, match="y is for arrays; X is a source of batches"):
        m.fit(data, Y)
    with pytest.raises(TypeError, match="batch_size is for arrays"):
        m.fit(data, batch_size=8)
    with pytest.raises(TypeError, match="shuffle is for arrays"):
        m.fit(data, shuffle=True)
    with pytest.raises(TypeError, match="X is an iterator"):
        m.fit(iter(data))
    with pytest.raises(TypeError, match="validation is an iterator"):
        m.fit(X, Y, validation=iter(data))
    with pytest.raises(TypeError, match="validation must be"):
        m.fit(X, Y, validation=X)
    with pytest.raises(TypeError, match=r"each batch must be x, \(x, y\) or \(x, y, lengths\)"):
        m.fit(lambda: iter([(X, Y, None, None)]))
    with pytest.raises(TypeError, match="lengths: .* has no layer that takes lengths"):
        m.fit(X, Y, lengths=np.ones(70))
    with pytest.raises(TypeError, match="lengths: no layer of Sequential"):
        m(X[:2], lengths=[1, 1])
    with pytest.raises(ValueError, match=r"lengths must have one entry per sequence .*\(12\)"):
        tagger().fit(SEQ, LABELS, lengths=LENGTHS[:5])
    with pytest.raises(ValueError, match=r"lengths must lie in \[1, 7\]"):
        tagger().fit(SEQ, LABELS, lengths=LENGTHS * 2)
    with pytest.raises(ValueError, match=r"y must have one target per step, \(batch, time"):
        tagger().fit(SEQ, LABELS[:, 0], lengths=LENGTHS)
    with pytest.raises(ValueError, match=r"X batch y must hold class labels in \[0, 3\)"):
        m.fit(ArrayBatches(X, Y + 5, batch_size=8))
    with pytest.raises(ValueError, match=r"x must have shape \(n, time, 3\)"):
        model = tagger()
        model.build((STEPS, FEATURES))
        model(np.zeros((2, STEPS, 4)))
    fixed = Sequential(rec.LSTM(4, return_sequences=True), Flatten(), Dense(2),
                       input_shape=(5, 3))
    with pytest.raises(ValueError, match="built for sequences of 5 steps; got 6"):
        fixed(np.zeros((2, 6, 3)))
