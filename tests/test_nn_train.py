"""Layers, optimisers and the training loop: gradients of whole models by finite differences,
updates against the published formulas, and learning on the bundled digits."""
import numpy as np
import pytest
import xarray as xr

from neurosim import nn
from neurosim.datasets import digits_split
from neurosim.nn import optim
from neurosim.nn.layers import (Activation, AvgPool2D, BatchNorm, Conv2D, ConvTranspose2D, Dense,
                                Dropout, Flatten, LayerNorm, MaxPool2D, Reshape, Residual,
                                Sequential, Upsample)
from neurosim.nn.train import EarlyStopping, TrainingDiverged

R = np.random.default_rng(1)


def model_gradient_error(model, X, y, loss):
    """Max relative error of the autodiff gradient of every parameter against central
    differences of the loss (float64)."""
    model.build(X.shape[1:])
    fn = nn.losses.loss(loss)
    for _, p in model.parameters():
        p.grad = None
    fn(model(X), y).backward()
    worst = 0.0
    for name, p in model.parameters():
        def f(values, p=p):
            keep = p.data.copy()
            p.data[...] = values
            with nn.no_grad():
                out = fn(model(X), y).item()
            p.data[...] = keep
            return out
        numeric = nn.numerical_gradient(f, p.data)
        worst = max(worst, float(np.max(np.abs(p.grad - numeric) / np.maximum(1, np.abs(numeric)))))
    return worst


MODELS = {
    "mlp": (lambda: Sequential(Dense(5, "tanh"), Dense(4, "elu"), Dense(3), seed=0),
            R.standard_normal((6, 4)), np.array([0, 1, 2, 1, 0, 2]), "cross_entropy"),
    "cnn": (lambda: Sequential(Conv2D(3, 3, padding=1, activation="relu"), MaxPool2D(2),
                               Conv2D(2, 2, stride=2), AvgPool2D(2), Flatten(), Dense(2), seed=0),
            R.standard_normal((3, 2, 8, 8)), np.array([0, 1, 1]), "cross_entropy"),
    "deconv": (lambda: Sequential(Dense(8, "relu"), Reshape((2, 2, 2)), Upsample(2, "bilinear"),
                                  ConvTranspose2D(1, 3, stride=2, padding=1, output_padding=1,
                                                  activation="sigmoid"), Flatten(), seed=0),
               R.standard_normal((2, 3)), R.uniform(0, 1, (2, 64)), "bce"),
    "residual_norms": (lambda: Sequential(Dense(4), Residual(LayerNorm(), Dense(4, "tanh"),
                                                              activation="relu"),
                                          BatchNorm(), Activation("softplus"), Dense(2), seed=0),
                       R.standard_normal((5, 3)), R.standard_normal((5, 2)), "mse"),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_gradients_match_finite_differences(name):
    make, X, y, loss = MODELS[name]
    assert model_gradient_error(make(), X, y, loss) < 1e-6


def test_build_time_shape_errors_name_the_layer_and_shapes():
    with pytest.raises(ValueError, match=r"layer 1 Dense\(10\).*Flatten"):
        Sequential(Conv2D(4, 3), Dense(10), input_shape=(1, 8, 8))
    with pytest.raises(ValueError, match=r"layer 0 Conv2D.*\(channels, height, width\).*\(64,\)"):
        Sequential(Conv2D(4, 3), input_shape=(64,))
    with pytest.raises(ValueError, match=r"Reshape.*\(10,\).*\(3, 3\)"):
        Sequential(Reshape((3, 3)), input_shape=(10,))
    with pytest.raises(ValueError, match="body output"):
        Sequential(Residual(Dense(3)), input_shape=(4,))
    m = Sequential(Dense(3), input_shape=(4,))
    with pytest.raises(ValueError, match=r"expects inputs of shape \(batch, 4\); got \(2, 5\)"):
        m(np.zeros((2, 5)))
    with pytest.raises(TypeError, match="Layer"):
        Sequential(Dense(3), "relu")
    with pytest.raises(ValueError, match="activation"):
        Dense(3, "swish")


def test_summary_counts_parameters():
    m = Sequential(Conv2D(16, 3, padding=1), MaxPool2D(2), Flatten(), Dense(10), input_shape=(1, 8, 8))
    assert [layer.output_shape for layer in m.layers] == [(16, 8, 8), (16, 4, 4), (256,), (10,)]
    assert sum(p.size for _, p in m.parameters()) == 16 * 9 + 16 + 256 * 10 + 10
    assert "2730" in m.summary()


def quadratic_grad(p):
    return np.array([2 * (p[0] - 3.0), 20 * (p[1] + 1.0)])


def run_optimizer(opt, p, steps):
    for _ in range(steps):
        opt.zero_grad()
        opt.grad[:] = quadratic_grad(opt.data)
        opt.step()
    return p.data


def test_adam_and_sgd_follow_their_formulas():
    # Adam by the paper's algorithm 1, written out
    p = nn.Tensor(np.array([0.0, 0.0]), requires_grad=True)
    opt = optim.Adam([p], lr=0.1)
    theta, m, v = np.zeros(2), np.zeros(2), np.zeros(2)
    for t in range(1, 6):
        g = quadratic_grad(theta)
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        theta = theta - 0.1 * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
    np.testing.assert_allclose(run_optimizer(opt, p, 5), theta, rtol=1e-12)
    # Nesterov momentum (PyTorch's formulation) and AdamW's decoupled decay
    p = nn.Tensor(np.array([0.0, 0.0]), requires_grad=True)
    opt = optim.SGD([p], lr=0.01, momentum=0.9, nesterov=True)
    theta, buf = np.zeros(2), np.zeros(2)
    for _ in range(4):
        g = quadratic_grad(theta)
        buf = 0.9 * buf + g
        theta = theta - 0.01 * (g + 0.9 * buf)
    np.testing.assert_allclose(run_optimizer(opt, p, 4), theta, rtol=1e-12)
    p = nn.Tensor(np.array([1.0, 1.0]), requires_grad=True)
    opt = optim.AdamW([p], lr=0.1, weight_decay=0.5)
    opt.grad[:] = 0.0
    opt.step()
    np.testing.assert_allclose(p.data, [0.95, 0.95])


@pytest.mark.parametrize("make", [lambda ps: optim.SGD(ps, lr=0.04, momentum=0.5),
                                  lambda ps: optim.Adam(ps, lr=0.05),
                                  lambda ps: optim.SGD(ps, lr=optim.cosine(0.09, 400, 0.01))])
def test_optimizers_reach_the_minimum(make):
    p = nn.Tensor(np.array([0.0, 0.0]), requires_grad=True)
    np.testing.assert_allclose(run_optimizer(make([p]), p, 1500), [3.0, -1.0], atol=1e-4)


def test_schedules_and_clipping():
    assert optim.step_decay(1.0, 10, 0.5)(25) == 0.25
    assert optim.exponential(2.0, 0.5)(3) == 0.25
    assert optim.cosine(1.0, 100)(50) == pytest.approx(0.5)
    assert optim.cosine(1.0, 100, 0.1)(500) == pytest.approx(0.1)
    assert optim.warmup(optim.constant(1.0), 4)(1) == 0.5
    p = nn.Tensor(np.zeros(2), requires_grad=True)
    opt = optim.SGD([p], lr=1.0, clip_norm=1.0)
    opt.grad[:] = [3.0, 4.0]
    opt.step()
    np.testing.assert_allclose(p.data, [-0.6, -0.8])
    opt = optim.SGD([p], lr=1.0, clip_value=0.1)
    opt.grad[:] = [3.0, -0.05]
    opt.step()
    np.testing.assert_allclose(p.data, [-0.7, -0.75])
    with pytest.raises(ValueError, match="no parameters"):
        optim.Adam([])
    with pytest.raises(ValueError, match="optimizer must be one of"):
        optim.optimizer("adagrad", [p])
    with pytest.raises(ValueError, match="nesterov"):
        optim.SGD([p], nesterov=True)


def test_mlp_learns_digits_and_is_reproducible():
    Xtr, Xte, ytr, yte = digits_split()
    def run():
        m = Sequential(Dense(64, "relu"), Dense(10), input_shape=(64,), seed=3)
        h = m.fit(Xtr, ytr, epochs=8, batch_size=32, lr=3e-3, seed=4, validation=(Xte, yte),
                  metrics=["accuracy"])
        return m, h
    m, h = run()
    assert h.val_accuracy.values[-1] > 0.85          # chance is 0.1
    assert h.epoch_loss.values[-1] < 0.3 * h.epoch_loss.values[0]
    assert h.sizes == {"step": 8 * 47, "epoch": 8}
    np.testing.assert_allclose(m.predict(Xte).argmax(1).__eq__(yte).mean(), h.val_accuracy.values[-1])
    _, again = run()
    assert again.drop_vars("time").equals(h.drop_vars("time"))


def test_save_and_load_round_trip(tmp_path):
    m = Sequential(Dense(4, "relu"), BatchNorm(), Dropout(0.3), Dense(2), input_shape=(3,), seed=0)
    m.fit(R.standard_normal((20, 3)), R.integers(0, 2, 20), epochs=2, batch_size=5)
    m.save(tmp_path / "m.nc")
    twin = Sequential(Dense(4, "relu"), BatchNorm(), Dropout(0.3), Dense(2), input_shape=(3,), seed=9)
    twin.load(tmp_path / "m.nc")
    X = R.standard_normal((5, 3))
    np.testing.assert_array_equal(m.predict(X), twin.predict(X))
    with pytest.raises(ValueError, match="missing"):
        Sequential(Dense(4), Dense(2), input_shape=(3,)).load(tmp_path / "m.nc")
    with pytest.raises(ValueError, match="shape"):
        Sequential(Dense(5, "relu"), BatchNorm(), Dropout(0.3), Dense(2), input_shape=(3,)).load(
            tmp_path / "m.nc")


def test_early_stopping_restores_the_best_epoch():
    Xtr, Xte, ytr, yte = digits_split()
    m = Sequential(Dense(10), input_shape=(64,), seed=0)
    stop = EarlyStopping(patience=2)
    # a learning rate this large makes the validation loss oscillate and rise
    h = m.fit(Xtr[:300], ytr[:300], epochs=60, lr=0.5, optimizer="sgd", validation=(Xte, yte),
              early_stopping=stop, seed=0)
    assert h.attrs["stopped_early"] and h.sizes["epoch"] < 60
    best = int(np.argmin(h.val_loss.values))
    assert best == stop.best_epoch
    from neurosim.nn.losses import cross_entropy
    assert cross_entropy(m.predict(Xte), yte).item() == pytest.approx(h.val_loss.values[best])


def test_callback_stops_training():
    m = Sequential(Dense(2), input_shape=(3,))
    h = m.fit(R.standard_normal((10, 3)), R.integers(0, 2, 10), epochs=20,
              callbacks=[lambda model, epoch, logs: epoch == 2])
    assert h.sizes["epoch"] == 3


def test_divergence_stops_with_the_history():
    m = Sequential(Dense(1), input_shape=(2,), seed=0)
    X = R.standard_normal((64, 2)) * 1e3
    with pytest.raises(TrainingDiverged, match="loss became") as err:
        m.fit(X, X[:, :1] * 1e3, loss="mse", optimizer="sgd", lr=10.0, epochs=50, batch_size=8)
    h = err.value.history
    assert h.sizes["step"] >= 1 and np.isfinite(h.loss.values[:-1]).all()
    assert not np.isfinite(h.loss.values[-1])
    assert m.history is h


def test_fit_bad_input():
    m = Sequential(Dense(3), input_shape=(2,))
    X = np.zeros((4, 2))
    with pytest.raises(ValueError, match=r"y must hold class labels in \[0, 3\) \(the model has 3 outputs\)"):
        m.fit(X, np.array([0, 1, 3, 1]))
    with pytest.raises(ValueError, match=r"y must have one row per row of the inputs \(4\); got shape \(2,\)"):
        m.fit(X, np.array([0, 1]))
    with pytest.raises(TypeError, match="numeric"):
        m.fit(np.array([["a", "b"]] * 4), np.array([0, 1, 2, 1]))
    with pytest.raises(TypeError, match="numeric"):
        m.fit(X, np.array(["a", "b", "c", "d"]))
    with pytest.raises(ValueError, match="finite"):
        m.fit(np.full((4, 2), np.nan), np.array([0, 1, 2, 1]))
    with pytest.raises(ValueError, match="metric"):
        m.fit(X, np.array([0, 1, 2, 1]), metrics=["f1"])
    with pytest.raises(ValueError, match="val_loss"):
        m.fit(X, np.array([0, 1, 2, 1]), early_stopping=EarlyStopping())


def test_whole_number_float_labels_train_as_the_integers_they_are():
    X, y = np.random.default_rng(5).standard_normal((24, 4)), np.arange(24) % 3

    def trained(labels):
        m = Sequential(Dense(5, "relu"), Dense(3), input_shape=(4,), seed=0)
        return m.fit(X, labels, epochs=3, seed=1).loss.values

    np.testing.assert_array_equal(trained(y.astype(float)), trained(y))
    np.testing.assert_array_equal(trained(y.astype(np.float32)), trained(y))


def test_labels_and_targets_that_cannot_be_meant_are_refused_naming_y():
    m = Sequential(Dense(3), input_shape=(2,), seed=0)
    X = np.zeros((4, 2))
    with pytest.raises(ValueError, match=r"^y must hold class labels \(whole numbers\); got 0.5"):
        m.fit(X, np.array([0.0, 0.5, 1.0, 2.0]))
    with pytest.raises(ValueError, match=r"^y must hold class labels in \[0, 3\)"):
        m.fit(X, np.array([-1, 0, 1, 2]))
    with pytest.raises(TypeError, match="^y must be real"):
        m.fit(X, np.zeros(4, complex))
    with pytest.raises(ValueError, match="^y must be finite"):
        m.fit(X, np.array([0.0, np.nan, 1.0, 2.0]))
    with pytest.raises(ValueError, match=r"^y is None, so the targets are X .* outputs are \(n, 3\)"):
        m.fit(X)
    with pytest.raises(ValueError, match=r"^y has shape \(4, 2\), but the model's outputs are \(n, 3\)"):
        m.fit(X, np.full((4, 2), 0.5), loss="mse")
    with pytest.raises(ValueError, match=r"^validation y must hold class labels \(whole numbers\)"):
        m.fit(X, np.arange(4) % 3, validation=(X, np.full(4, 0.5)))
    with pytest.raises(ValueError, match=r"^X must have shape \(n, 2\) \(the model's inputs\); got \(4, 5\)"):
        m.fit(np.zeros((4, 5)), np.arange(4) % 3)


def test_float32_model_trains_in_float32():
    m = Sequential(Dense(8, "relu"), Dense(3), input_shape=(4,), seed=0, dtype=np.float32)
    m.fit(R.standard_normal((16, 4)), R.integers(0, 3, 16), epochs=2)
    assert all(p.dtype == np.float32 for _, p in m.parameters())
    assert m.predict(R.standard_normal((2, 4))).dtype == np.float32


def test_ctrl_c_stops_after_the_current_epoch(ctrl_c):
    m = Sequential(Dense(2), input_shape=(3,), seed=0)
    h = m.fit(R.standard_normal((10, 3)), R.integers(0, 2, 10), epochs=20, batch_size=5, progress=True)
    assert h.attrs["interrupted"] and h.sizes == {"step": 2, "epoch": 1}



def _history(store=None, **options):
    """A short training run with validation, metrics, a callback that logs and early stopping."""
    def logs_norm(model, epoch, logs):
        logs["w_norm"] = float(np.linalg.norm(model.layers[0].params["W"].data))
        return False
    data = np.random.default_rng(7)
    X, y = data.standard_normal((23, 4)), data.integers(0, 3, 23)
    m = Sequential(Dense(6, "tanh"), Dense(3), input_shape=(4,), seed=0)
    return m.fit(X, y, epochs=6, batch_size=5, seed=1, validation=(X[:7], y[:7]),
                 metrics=["accuracy"], callbacks=[logs_norm], store=store, **options)


@pytest.fixture
def no_clock(monkeypatch):
    """Epoch times of 0 s, so that two runs' histories can be identical."""
    from types import SimpleNamespace

    from neurosim.nn import train
    monkeypatch.setattr(train, "time", SimpleNamespace(perf_counter=lambda: 0.0))


@pytest.mark.parametrize("stop", [False, True])
def test_history_streamed_to_netcdf_is_the_in_memory_history(tmp_path, no_clock, stop):
    def run(store=None):
        return _history(store, early_stopping=EarlyStopping(patience=1, min_delta=1.0)
                        if stop else None)
    mem = run()
    with run(tmp_path / "h.nc") as disk:
        assert disk["loss"].variable._in_memory is False       # opened from the file
        xr.testing.assert_identical(disk.load(), mem)
    assert mem.sizes["step"] == 5 * mem.sizes["epoch"] and "w_norm" in mem
    assert mem.attrs["stopped_early"] == stop and mem.sizes["epoch"] == (2 if stop else 6)


def test_a_diverged_history_streams_too(tmp_path, no_clock):
    X = np.random.default_rng(0).standard_normal((64, 2)) * 1e3
    histories = []
    for store in (None, tmp_path / "d.nc"):
        m = Sequential(Dense(1), input_shape=(2,), seed=0)
        with pytest.raises(TrainingDiverged) as err:
            m.fit(X, X[:, :1] * 1e3, loss="mse", optimizer="sgd", lr=10.0, epochs=50,
                  batch_size=8, seed=0, store=store)
        histories.append(err.value.history.load())
    mem, disk = histories
    xr.testing.assert_identical(disk, mem)
    assert not np.isfinite(mem.loss.values[-1]) and np.isfinite(mem.loss.values[:-1]).all()
    assert mem.step.values.tolist() == list(range(mem.sizes["step"]))


@pytest.mark.parametrize("when, steps, epochs", [("setup", 0, 0), ("run", 4, 1)])
def test_real_ctrl_c_stops_fit_with_what_was_recorded(tmp_path, when, steps, epochs):
    from interrupt import interrupted_run

    ds = interrupted_run("""
        import numpy as np
        from neurosim.deep import mlp
        X = np.random.default_rng(0).standard_normal((20, 4))
        ds = mlp((4, 8, 3), seed=0).fit(X, np.arange(20) % 3, epochs=5, batch_size=5, seed=0)
    """, when, tmp_path)
    assert ds.attrs["interrupted"] == 1
    assert ds.sizes["step"] == steps and ds.sizes["epoch"] == epochs
    assert np.isfinite(ds.loss.values).all() and ds.epoch.values.tolist() == list(range(epochs))
