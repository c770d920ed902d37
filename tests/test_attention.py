"""Attention networks (AN): an encoder learns content-based retrieval (a key's value) and
position-based reversal, which need attention; only a non-causal one reads the future; the
builder, the tasks and the attention-weight Dataset keep their promises."""
import numpy as np
import pytest

from neurosim.deep.transformer import (attention_maps, key_value_retrieval,
                                       per_step_cross_entropy, reverse_sequences,
                                       transformer_encoder)
from neurosim.deep import mlp
from neurosim.nn import check_gradients
from neurosim.deep.rnn import lookahead


def test_encoder_learns_key_value_retrieval():
    """The query's value sits at the step whose key matches the query: chance is 1/8; an
    order-blind encoder (no positional encoding) reads it in a few epochs, and its attention
    from the query step goes to the matching key."""
    X, y = key_value_retrieval(1024, seed=0)
    Xv, yv = key_value_retrieval(256, seed=1)
    model = transformer_encoder(32, 2, input_shape=X.shape[1:], outputs=8, ff_units=64,
                                positional=None, pool="last", seed=0)
    history = model.fit(X, y, lr=3e-3, epochs=4, seed=0, validation=(Xv, yv),
                        metrics=["accuracy"])
    assert float(history.val_accuracy[-1]) > 0.95
    weights = attention_maps(model, Xv[:64]).weights[0, :, :, -1].mean("head")
    matching = Xv[:64, :-1, :12].argmax(-1) == Xv[:64, -1:, :12].argmax(-1)
    assert float((weights.values[:, :-1] * matching).sum(axis=1).mean()) > 0.5


def test_encoder_learns_to_reverse():
    """y[t] = x[T - 1 - t]: each step must find its mirror position, which only the positional
    encoding tells apart."""
    X, y = reverse_sequences(1024, 6, 5, seed=0)
    Xv, yv = reverse_sequences(256, 6, 5, seed=1)
    model = transformer_encoder(32, 2, input_shape=X.shape[1:], outputs=5, ff_units=64,
                                positional="learned", pool=None, seed=0)
    model.fit(X, y, loss=per_step_cross_entropy, lr=3e-3, epochs=4, seed=0)
    assert (model.predict(Xv).argmax(-1) == yv).mean() > 0.95


def test_only_a_non_causal_encoder_reads_the_future():
    """The recurrent family's lookahead task, y[t] = x[t + 2]: a causal encoder can do no
    better than the target's variance, a full one attends two steps ahead."""
    X, y = lookahead(1024, 12, 2, seed=0)
    Xv, yv = lookahead(256, 12, 2, seed=1)
    errors = {}
    for causal in (False, True):
        model = transformer_encoder(32, 2, input_shape=X.shape[1:], outputs=1, ff_units=64,
                                    causal=causal, pool=None, seed=0)
        history = model.fit(X, y, loss="mse", lr=3e-3, epochs=6, seed=0, validation=(Xv, yv))
        errors[causal] = float(history.val_loss[-1]) / yv.var()
    assert errors[True] > 0.9 and errors[False] < 0.1


def test_same_seed_same_training():
    X, y = key_value_retrieval(64, seed=0)
    runs = [transformer_encoder(8, 2, input_shape=X.shape[1:], outputs=8, dropout=0.1,
                                seed=4).fit(X, y, epochs=2, seed=1) for _ in range(2)]
    np.testing.assert_array_equal(runs[0].loss, runs[1].loss)


def test_save_and_load(tmp_path):
    X = np.random.default_rng(0).standard_normal((3, 6, 4))
    options = dict(input_shape=(6, 4), outputs=2, positional="learned", pool=None)
    model = transformer_encoder(8, 2, 2, seed=0, **options)
    model.save(tmp_path / "encoder.nc")
    other = transformer_encoder(8, 2, 2, seed=1, **options)
    assert not np.allclose(other.predict(X), model.predict(X))
    other.load(tmp_path / "encoder.nc")
    np.testing.assert_array_equal(other.predict(X), model.predict(X))


def test_tasks():
    X, y = key_value_retrieval(50, pairs=4, keys=6, values=3, seed=2)
    assert X.shape == (50, 5, 10) and y.shape == (50,)
    keys, values = X[:, :4, :6].argmax(-1), X[:, :4, 6:9].argmax(-1)
    assert all(len(set(row)) == 4 for row in keys)           # distinct keys per sequence
    assert np.all(X[:, :4, :9].sum(-1) == 2) and np.all(X[:, 4, 6:9] == 0)
    np.testing.assert_array_equal(X[:, :, -1], [[0, 0, 0, 0, 1]] * 50)
    query = X[:, 4, :6].argmax(-1)
    np.testing.assert_array_equal(y, values[keys == query[:, None]])
    np.testing.assert_array_equal(key_value_retrieval(50, 4, 6, 3, seed=2)[0], X)
    with pytest.raises(ValueError, match="pairs must be <= 6"):
        key_value_retrieval(5, pairs=7, keys=6)
    X, y = reverse_sequences(3, 4, 3, seed=0)
    np.testing.assert_array_equal(y, X.argmax(-1)[:, ::-1])
    assert X.shape == (3, 4, 3) and np.all(X.sum(-1) == 1)


def test_per_step_cross_entropy():
    logits = np.random.default_rng(0).standard_normal((2, 3, 4))
    labels = np.array([[0, 1, 3], [2, 2, 0]])
    z = logits - logits.max(-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    want = -np.take_along_axis(logp, labels[..., None], -1).mean()
    assert per_step_cross_entropy(logits, labels).item() == pytest.approx(want, abs=1e-12)
    assert check_gradients(lambda a: per_step_cross_entropy(a, labels), logits) < 1e-8


@pytest.mark.parametrize("pool, shape", [("mean", (3,)), ("last", (3,)), (None, (7, 3))])
def test_builder_shapes(pool, shape):
    model = transformer_encoder(8, 2, 2, input_shape=(7, 5), outputs=3, pool=pool,
                                norm_first=False, positional="learned")
    assert model.output_shape == shape
    assert model.predict(np.zeros((4, 7, 5))).shape == (4, *shape)
    assert len(attention_maps(model, np.zeros((4, 7, 5))).layer) == 2


def test_causal_encoder_reads_only_the_past():
    model = transformer_encoder(8, 2, input_shape=(6, 3), outputs=2, pool=None, causal=True,
                                seed=0)
    X = np.random.default_rng(0).standard_normal((2, 6, 3))
    later = X.copy()
    later[:, 3:] += 1.0
    np.testing.assert_allclose(model.predict(later)[:, :3], model.predict(X)[:, :3], atol=1e-12)
    weights = attention_maps(model, X).weights.values
    assert np.all(np.triu(np.ones((6, 6)), 1) * weights == 0.0)


def test_attention_maps_dataset():
    model = transformer_encoder(8, 2, input_shape=(5, 3), outputs=2, seed=0)
    X = np.random.default_rng(0).standard_normal((4, 5, 3))
    ds = attention_maps(model, X)
    assert ds.weights.dims == ("layer", "sample", "head", "query", "key")
    assert ds.weights.shape == (1, 4, 2, 5, 5) and ds.attrs["family"] == "AN"
    np.testing.assert_allclose(ds.weights.sum("key"), 1.0)
    np.testing.assert_allclose(attention_maps(model, X, batch_size=3).weights, ds.weights,
                               atol=1e-12)
    with pytest.raises(ValueError, match="no attention layer"):
        attention_maps(mlp((3, 2)), X)
    with pytest.raises(ValueError, match="X must be 3-D"):
        attention_maps(model, X[0])


def test_builder_errors():
    with pytest.raises(ValueError, match=r"d_model \(10\) must be divisible by heads \(3\)"):
        transformer_encoder(10, 3, input_shape=(5, 3), outputs=2)
    with pytest.raises(ValueError, match=r"input_shape must be \(time, features\)"):
        transformer_encoder(8, 2, input_shape=(5,), outputs=2)
    with pytest.raises(ValueError, match="pool must be one of"):
        transformer_encoder(8, 2, input_shape=(5, 3), outputs=2, pool="max")
    with pytest.raises(ValueError, match="positional must be one of"):
        transformer_encoder(8, 2, input_shape=(5, 3), outputs=2, positional="rope")


def test_encoder_takes_sequences_of_other_lengths():
    """Built for 12 steps, the encoder (position-wise embedding, sinusoidal positions) maps 7-
    and 20-step sequences as one built for those lengths with the same weights does; learned
    positions refuse more steps than they hold, naming the built length."""
    rng = np.random.default_rng(0)
    model = transformer_encoder(16, 2, input_shape=(12, 3), outputs=4, ff_units=32, seed=0)
    model.eval()
    for steps in (7, 20):
        x = rng.normal(size=(5, steps, 3))
        twin = transformer_encoder(16, 2, input_shape=(steps, 3), outputs=4, ff_units=32, seed=1)
        twin.load_state(model.state())
        twin.eval()
        np.testing.assert_allclose(model(x).data, twin(x).data, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(model.predict(x), twin.predict(x), rtol=1e-12, atol=1e-14)
    learned = transformer_encoder(16, 2, input_shape=(12, 3), outputs=4, positional="learned",
                                  seed=0)
    assert learned(x[:, :9]).shape == (5, 4)
    with pytest.raises(ValueError, match="built for sequences of 12 steps"):
        learned(x)
    with pytest.raises(ValueError, match=r"\(n, time, 3\)"):
        model(x[:, :, :2])
