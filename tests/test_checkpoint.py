"""Training checkpoints: a fit interrupted after an epoch and resumed from its checkpoint takes
the same steps as the uninterrupted fit (losses, parameters and the history, bit for bit),
with dropout, shuffling and optimiser moments in play; damaged or foreign files named."""
import numpy as np
import pytest

from neurosim.deep.mlp import mlp
from neurosim.nn.layers import Conv2D, Dense, Dropout, Flatten, MaxPool2D, Sequential

R = np.random.default_rng(0)
X, Y = R.standard_normal((90, 8)), R.integers(0, 3, 90)
FIT = {"epochs": 5, "batch_size": 16, "seed": 7, "metrics": ("accuracy",)}


def model():
    return mlp((8, 16, 16, 3), "relu", dropout=0.3, seed=2)


def stop_after(epoch):
    return lambda model, e, logs: e == epoch


@pytest.mark.parametrize("optimizer, options", [("adam", {"lr": 1e-2}),
                                                ("rmsprop", {"lr": 1e-2, "momentum": 0.5,
                                                             "centered": True}),
                                                ("sgd", {"lr": 0.1, "momentum": 0.9})])
def test_resumed_fit_follows_the_uninterrupted_trajectory(tmp_path, optimizer, options):
    whole = model()
    h_whole = whole.fit(X, Y, optimizer=optimizer, validation=(X[:20], Y[:20]), **FIT, **options)
    path = tmp_path / "run.nc"
    first = model()
    first.fit(X, Y, optimizer=optimizer, validation=(X[:20], Y[:20]), checkpoint=path,
              callbacks=[stop_after(1)], **FIT, **options)
    resumed = model()                       # a fresh process would build it the same way
    h = resumed.fit(X, Y, optimizer=optimizer, validation=(X[:20], Y[:20]), resume=path,
                    checkpoint=path, **FIT, **options)
    np.testing.assert_array_equal(h.loss.values, h_whole.loss.values)
    np.testing.assert_array_equal(h.step.values, h_whole.step.values)
    for name in ("epoch_loss", "accuracy", "val_loss", "val_accuracy"):
        np.testing.assert_array_equal(h[name].values, h_whole[name].values)
    for (_, a), (_, b) in zip(whole.parameters(), resumed.parameters()):
        np.testing.assert_array_equal(a.data, b.data)


def test_cnn_resume_and_a_second_interruption(tmp_path):
    x = R.standard_normal((40, 1, 6, 6)).astype(np.float32)
    y = R.integers(0, 2, 40)

    def cnn():
        return Sequential(Conv2D(4, 3, padding=1, activation="relu"), MaxPool2D(2), Flatten(),
                          Dropout(0.2), Dense(2), input_shape=(1, 6, 6), seed=0,
                          dtype=np.float32)
    options = {"epochs": 4, "batch_size": 8, "seed": 1, "lr": 1e-2}
    whole = cnn().fit(x, y, **options)
    path = tmp_path / "cnn.nc"
    cnn().fit(x, y, checkpoint=path, callbacks=[stop_after(0)], **options)
    cnn().fit(x, y, checkpoint=path, resume=path, callbacks=[stop_after(2)], **options)
    h = cnn().fit(x, y, resume=path, **options)
    np.testing.assert_array_equal(h.loss.values, whole.loss.values)


def test_bad_checkpoints_are_named(tmp_path):
    path = tmp_path / "run.nc"
    model().fit(X, Y, checkpoint=path, epochs=2, batch_size=30, seed=0)
    with pytest.raises(ValueError, match="holds 2 epochs already; epochs=2"):
        model().fit(X, Y, resume=path, epochs=2, batch_size=30, seed=0)
    with pytest.raises(ValueError, match="written with optimizer Adam; this fit uses SGD"):
        model().fit(X, Y, resume=path, optimizer="sgd", epochs=3, batch_size=30)
    with pytest.raises(ValueError, match="state does not fit"):
        mlp((8, 5, 3), seed=2).fit(X, Y, resume=path, epochs=3, batch_size=30)
    saved = tmp_path / "model.nc"
    model().save(saved)
    with pytest.raises(ValueError, match="not a training checkpoint"):
        model().fit(X, Y, resume=saved, epochs=3)
    with pytest.raises(ValueError, match="no such file"):
        model().fit(X, Y, resume=tmp_path / "missing.nc", epochs=3)
    other = Sequential(Dense(3), input_shape=(8,))
    other.__class__ = type("Other", (Sequential,), {})
    with pytest.raises(ValueError, match="holds a Sequential"):
        other.fit(X, Y, resume=path, epochs=3)
