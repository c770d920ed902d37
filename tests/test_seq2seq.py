"""Encoder-decoder RNNs with attention: the additive and dot attention ops against a plain NumPy
loop and finite differences; the whole model's logits and gradients equal to a PyTorch
implementation written from the papers (the benchmark's, same weights, float64, 1e-10) for each
attention, cell and direction; learning reversal with an anti-diagonal alignment; greedy
decoding; the alignment Dataset; the tasks; bad input."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from neurosim import nn
from neurosim.deep import Seq2Seq, alignments, reversal_task, sequence_accuracy, sorting_task
from neurosim.deep.seq2seq import DATE_SOURCE, DATE_TARGET, MONTHS, date_task, detokenize
from neurosim.deep.transformer import per_step_cross_entropy
from neurosim.nn.attention import additive_attention, dot_attention

R = np.random.default_rng(7)
QUERY, KEYS, VALUES = R.standard_normal((2, 4)), R.standard_normal((2, 5, 4)), \
    R.standard_normal((2, 5, 3))
V = R.standard_normal(4)
PAD = np.array([[False, False, False, True, True], [False] * 5])


def bench():
    path = Path(__file__).parents[1] / "benchmarks" / "seq2seq.py"
    spec = importlib.util.spec_from_file_location("benchmark_seq2seq", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def reference(scores, values, pad):
    out, weights = np.zeros((len(scores), values.shape[2])), np.zeros_like(scores)
    for n in range(len(scores)):
        keep = ~pad[n] if pad is not None else np.ones(scores.shape[1], bool)
        e = np.exp(scores[n, keep] - scores[n, keep].max())
        weights[n, keep] = e / e.sum()
        out[n] = weights[n] @ values[n]
    return out, weights


@pytest.mark.parametrize("pad", [None, PAD])
def test_attention_ops_against_a_loop_and_finite_differences(pad):
    additive = np.array([[V @ np.tanh(QUERY[n] + KEYS[n, j]) for j in range(5)]
                         for n in range(2)])
    out, w = additive_attention(QUERY, KEYS, VALUES, V, pad)
    want, want_w = reference(additive, VALUES, pad)
    np.testing.assert_allclose(out.data, want, atol=1e-13)
    np.testing.assert_allclose(w, want_w, atol=1e-13)
    dot = np.einsum("nd,ntd->nt", QUERY, KEYS)
    out, w = dot_attention(QUERY, KEYS, VALUES, pad)
    want, want_w = reference(dot, VALUES, pad)
    np.testing.assert_allclose(out.data, want, atol=1e-13)
    np.testing.assert_allclose(w, want_w, atol=1e-13)
    assert nn.check_gradients(lambda q, k, v, a: additive_attention(q, k, v, a, pad)[0],
                              QUERY, KEYS, VALUES, V) < 1e-8
    assert nn.check_gradients(lambda q, k, v: dot_attention(q, k, v, pad)[0],
                              QUERY, KEYS, VALUES) < 1e-8


def test_attention_ops_in_float32_follow_float64():
    args = [a.astype(np.float32) for a in (QUERY, KEYS, VALUES, V)]
    out, w = additive_attention(*args, PAD)
    assert out.dtype == np.float32 and w.dtype == np.float32
    np.testing.assert_allclose(out.data, additive_attention(QUERY, KEYS, VALUES, V, PAD)[0].data,
                               atol=1e-5)
    out, w = dot_attention(*args[:3])
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.data, dot_attention(QUERY, KEYS, VALUES)[0].data, atol=1e-5)


def small(attention, cell=None, bidirectional=None, steps=(4, 3), pad=None):
    model = Seq2Seq(5, 6, units=3, embedding=2, attention=attention, cell=cell,
                    bidirectional=bidirectional, pad=pad, seed=0)
    return model.build_for(*steps)


def test_save_and_load_round_trip(tmp_path):
    model = small("general")
    S, T = R.integers(5, size=(3, 4)), R.integers(6, size=(3, 3))
    path = model.save(tmp_path / "seq2seq.nc")
    other = Seq2Seq(5, 6, units=3, embedding=2, attention="general", seed=1).build_for(4, 3)
    assert not np.allclose(other(other.pack(S, T)).data, model(model.pack(S, T)).data)
    other.load(path)
    np.testing.assert_array_equal(other(other.pack(S, T)).data, model(model.pack(S, T)).data)
    np.testing.assert_array_equal(other.predict(S), model.predict(S))


CONFIGS = [("additive", None, None, None), ("additive", "lstm", False, None),
           ("dot", None, None, None), ("general", None, None, None),
           ("general", "gru", True, None), ("dot", "gru", False, None),
           ("additive", None, None, 0), ("general", None, None, 0)]


@pytest.mark.parametrize("attention, cell, bidirectional, pad", CONFIGS)
def test_model_equals_pytorch_from_the_papers(attention, cell, bidirectional, pad):
    torch = pytest.importorskip("torch")
    model = small(attention, cell, bidirectional, pad=pad)
    S = R.integers(1, 5, size=(3, 4))
    if pad is not None:
        S[0, 2:] = S[1, 3:] = pad                         # padded at the end
    T = R.integers(6, size=(3, 3))
    module = bench().torch_seq2seq(torch, model, torch.float64)
    want = module(torch.tensor(S), torch.tensor(T))
    torch.nn.functional.cross_entropy(want.reshape(-1, 6),
                                      torch.tensor(T).reshape(-1)).backward()
    out = model(model.pack(S, T))
    per_step_cross_entropy(out, T).backward()
    np.testing.assert_allclose(out.data, want.detach().numpy(), atol=1e-10)
    grads = module.gradients()
    assert set(grads) == set(model.params)
    for name, p in model.params.items():
        np.testing.assert_allclose(p.grad, grads[name], atol=1e-10, err_msg=name)
    assert model.weights.shape == (3, 3, 4) and np.allclose(model.weights.sum(-1), 1.0)
    if pad is not None:
        assert np.all(model.weights[0, :, 2:] == 0) and np.all(model.weights[1, :, 3:] == 0)


def test_model_gradients_against_finite_differences():
    model = small("additive")
    S, T = R.integers(5, size=(2, 4)), R.integers(6, size=(2, 3))
    X = model.pack(S, T)
    names = ["v", "W_query", "U_decoder", "E_source"]
    start = [model.params[n].data.copy() for n in names]
    assert nn.check_gradients(lambda *v: _through(model, names, v, X, T), *start) < 1e-7


def _through(model, names, values, X, T):
    """The loss as a function of the named parameters (Tensors substituted for them)."""
    kept = {n: model.params[n] for n in names}
    try:
        for name, value in zip(names, values):
            model.params[name] = value
        return per_step_cross_entropy(model(X), T)
    finally:
        model.params.update(kept)


def test_date_task_and_learning_it():
    S, T, text = date_task(600, seed=0)
    assert S.shape == (600, 18) and T.shape == (600, 10) and len(text) == 600
    assert detokenize(S, DATE_SOURCE)[0].rstrip("_") == text[0]
    iso = detokenize(T, DATE_TARGET)
    for written, date in zip(text[:50], iso):
        year, month, day = date.split("-")
        assert year in written and (MONTHS[int(month) - 1][:3] in written or month in written)
        assert str(int(day)) in written and 1900 <= int(year) <= 2099
    model = Seq2Seq(len(DATE_SOURCE), len(DATE_TARGET), units=32, embedding=8,
                    attention="general", pad=0, seed=0)
    model.fit(S, T, epochs=3, lr=0.02, seed=0)
    Sv, Tv, _ = date_task(100, seed=1)
    tokens, _ = sequence_accuracy(model.predict(Sv), Tv)
    assert tokens > 0.65          # measured 0.76-0.82 over two seeds; chance about 0.1
    ds = alignments(model, Sv[:5])
    assert np.all(ds.attention.values[Sv[:5, None, :].repeat(10, 1) == 0] == 0)
    with pytest.raises(ValueError, match="tokens must lie in"):
        detokenize([[11]], DATE_TARGET)


def test_tasks():
    S, T = reversal_task(20, 6, 4, seed=0)
    assert S.shape == T.shape == (20, 6) and S.max() < 4
    np.testing.assert_array_equal(T, S[:, ::-1])
    S, T = sorting_task(20, 6, 4, seed=0)
    np.testing.assert_array_equal(T, np.sort(S, axis=1))
    assert sequence_accuracy(T, T) == (1.0, 1.0)
    wrong = T.copy()
    wrong[0, 0] += 1
    assert sequence_accuracy(wrong, T) == (1 - 1 / 120, 19 / 20)


def test_learns_reversal_with_an_anti_diagonal_alignment():
    S, T = reversal_task(1200, 6, 8, seed=0)
    Sv, Tv = reversal_task(200, 6, 8, seed=1)
    model = Seq2Seq(8, 8, units=24, embedding=12, seed=0)
    h = model.fit(S, T, epochs=4, lr=0.01, seed=0, validation=(Sv, Tv))
    assert h.val_loss[-1] < 0.3 * h.val_loss[0] and h.attrs["family"] == "AN"
    tokens, sequences = sequence_accuracy(model.predict(Sv), Tv)
    assert tokens > 0.85
    ds = alignments(model, Sv[:50])
    assert ds.attention.dims == ("sample", "decoder_step", "encoder_step")
    np.testing.assert_allclose(ds.attention.sum("encoder_step"), 1.0)
    mean = ds.attention.values.mean(0)                   # (decoder step, encoder step)
    anti = np.arange(6)[::-1]
    # measured over seeds 0-4: 0.42-0.53 on the anti-diagonal (chance 1/6), 3-6 of the 6
    # arg-maxes on it (a bidirectional encoder's annotations also carry their neighbours)
    assert mean[np.arange(6), anti].mean() > 0.3
    assert (mean.argmax(axis=1) == anti).sum() >= 3
    forced = alignments(model, Sv[:5], Tv[:5])
    assert forced.target.shape == (5, 6) and forced.attrs["attention"] == "additive"
    assert model.predict(Sv[:4], steps=9).shape == (4, 9)


def test_bad_input():
    model = small("general")
    with pytest.raises(ValueError, match=r"source tokens must lie in \[0, 5\)"):
        model.pack(np.full((2, 4), 5), np.zeros((2, 3), int))
    with pytest.raises(ValueError, match=r"target tokens must lie in \[0, 6\)"):
        model.pack(np.zeros((2, 4), int), np.full((2, 3), -1))
    with pytest.raises(ValueError, match="target must have 3 steps"):
        model.pack(np.zeros((2, 4), int), np.zeros((2, 5), int))
    with pytest.raises(ValueError, match="source must have 4 steps"):
        model.pack(np.zeros((2, 2), int), np.zeros((2, 3), int))
    with pytest.raises(ValueError, match=r"source must be 2-D \(sequences, steps\)"):
        model.predict(np.zeros(4, int))
    with pytest.raises(TypeError, match="source must hold integer tokens"):
        model.predict(np.full((2, 4), 0.5))
    with pytest.raises(ValueError, match="source and target must have as many sequences"):
        model.pack(np.zeros((2, 4), int), np.zeros((3, 3), int))
    with pytest.raises(ValueError, match="attention must be one of"):
        Seq2Seq(3, 3, attention="bilinear")
    with pytest.raises(ValueError, match="cell must be one of"):
        Seq2Seq(3, 3, cell="rnn")
    with pytest.raises(TypeError, match=r"validation must be a pair \(source, target\)"):
        model.fit(np.zeros((2, 4), int), np.zeros((2, 3), int), validation=np.zeros(3))
    with pytest.raises(ValueError, match="pad must be <= 2"):
        Seq2Seq(3, 3, pad=3)
    with pytest.raises(ValueError, match="units must be >= 1"):
        Seq2Seq(3, 3, units=0)
    with pytest.raises(ValueError, match="is not built"):
        Seq2Seq(3, 3).predict(np.zeros((1, 2), int))
    with pytest.raises(TypeError, match="model must be a Seq2Seq"):
        alignments(object(), np.zeros((1, 2), int))
    with pytest.raises(ValueError, match=r"keys must have shape \(batch, steps, features\)"):
        additive_attention(QUERY, KEYS[:, :, :3], VALUES, V)
    with pytest.raises(ValueError, match=r"v must have shape \(4,\)"):
        additive_attention(QUERY, KEYS, VALUES, V[:3])
    with pytest.raises(ValueError, match="values must have shape"):
        dot_attention(QUERY, KEYS, VALUES[:, :4])
    with pytest.raises(ValueError, match="query must be 2-D"):
        dot_attention(KEYS, KEYS, VALUES)
    with pytest.raises(ValueError, match="key_padding_mask must be boolean"):
        dot_attention(QUERY, KEYS, VALUES, PAD[:, :3])
