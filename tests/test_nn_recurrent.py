"""Recurrent ops and layers: each cell's forward pass against a step-by-step NumPy reference of
the textbook equations, every gradient (each cell, all options) against central finite
differences, dtypes, initialisation and error messages."""
import numpy as np
import pytest
from numba.core.errors import TypingError
from numba import njit

from neurosim import nn
from neurosim.kernels.blas import matmul, numpy_gemm
from neurosim.nn import recurrent as rec
from neurosim.nn.layers import Dense

R = np.random.default_rng(0)
BATCH, STEPS, FEATURES, UNITS = 2, 4, 3, 3
X = R.standard_normal((BATCH, STEPS, FEATURES))
H0, C0 = R.standard_normal((2, BATCH, UNITS))
GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def weights(cell, seed=1):
    g = np.random.default_rng(seed)
    n = GATES[cell] * UNITS
    out = [g.normal(0, 0.6, (FEATURES, n)), g.normal(0, 0.6, (UNITS, n)), g.normal(0, 0.5, n)]
    return out + ([g.normal(0, 0.5, UNITS)] if cell == "gru" else [])


# ---------------------------------------------------------------- textbook references
def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def reference(cell, x, W, U, b, b_hn=None, h0=None, c0=None):
    """All hidden states (batch, time, units), one step at a time."""
    n = U.shape[0]
    h = np.zeros((x.shape[0], n)) if h0 is None else h0
    c = np.zeros_like(h) if c0 is None else c0
    out = []
    for t in range(x.shape[1]):
        xt = x[:, t]
        if cell == "rnn":
            h = np.tanh(xt @ W + h @ U + b)
        elif cell == "lstm":
            Wi, Wf, Wg, Wo = np.split(W, 4, axis=1)
            Ui, Uf, Ug, Uo = np.split(U, 4, axis=1)
            bi, bf, bg, bo = np.split(b, 4)
            i = sigmoid(xt @ Wi + h @ Ui + bi)
            f = sigmoid(xt @ Wf + h @ Uf + bf)
            g = np.tanh(xt @ Wg + h @ Ug + bg)
            o = sigmoid(xt @ Wo + h @ Uo + bo)
            c = f * c + i * g
            h = o * np.tanh(c)
        else:
            Wr, Wz, Wn = np.split(W, 3, axis=1)
            Ur, Uz, Un = np.split(U, 3, axis=1)
            br, bz, bn = np.split(b, 3)
            r = sigmoid(xt @ Wr + h @ Ur + br)
            z = sigmoid(xt @ Wz + h @ Uz + bz)
            cand = np.tanh(xt @ Wn + bn + r * (h @ Un + b_hn))
            h = (1 - z) * cand + z * h
        out.append(h)
    return np.stack(out, axis=1)


def op(cell):
    return {"rnn": rec.rnn, "lstm": rec.lstm, "gru": rec.gru}[cell]


def states_of(cell, h0, c0):
    return {"h0": h0} | ({"c0": c0} if cell == "lstm" else {})


@pytest.mark.kernel
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("initial", [False, True])
def test_forward_matches_textbook_reference(cell, initial):
    states = states_of(cell, H0, C0) if initial else {}
    expected = reference(cell, X, *weights(cell), **states)
    got = op(cell)(X, *weights(cell), **states)
    np.testing.assert_allclose(got.data, expected, rtol=1e-12, atol=1e-13)
    last = op(cell)(X, *weights(cell), **states, return_sequences=False)
    np.testing.assert_allclose(last.data, expected[:, -1], rtol=1e-12, atol=1e-13)


@pytest.mark.kernel
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_reverse_runs_the_flipped_sequence(cell):
    expected = reference(cell, X[:, ::-1], *weights(cell))[:, ::-1]
    got = op(cell)(X, *weights(cell), reverse=True)
    np.testing.assert_allclose(got.data, expected, rtol=1e-12, atol=1e-13)


@pytest.mark.kernel
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("return_sequences", [True, False])
@pytest.mark.parametrize("reverse", [False, True])
def test_gradients_with_initial_state(cell, return_sequences, reverse):
    names = ("x", "W", "U", "b") + (("b_hn",) if cell == "gru" else ()) + \
        (("h0", "c0") if cell == "lstm" else ("h0",))

    def f(*args):
        kw = dict(zip(names, args))
        x, W, U, b = (kw.pop(k) for k in ("x", "W", "U", "b"))
        extra = [kw.pop("b_hn")] if cell == "gru" else []
        return op(cell)(x, W, U, b, *extra, **kw, return_sequences=return_sequences,
                        reverse=reverse)
    args = [X, *weights(cell), H0] + ([C0] if cell == "lstm" else [])
    assert nn.check_gradients(f, *args) < 1e-7


@pytest.mark.kernel
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_gradients_without_initial_state(cell):
    assert nn.check_gradients(lambda *a: op(cell)(*a), X, *weights(cell)) < 1e-7


@pytest.mark.kernel
@pytest.mark.parametrize("merge", ["concat", "sum"])
@pytest.mark.parametrize("return_sequences", [True, False])
def test_bidirectional_gradient_and_merge(merge, return_sequences):
    layer = rec.Bidirectional(rec.GRU(UNITS, return_sequences=return_sequences), merge)
    layer.build((STEPS, FEATURES), np.random.default_rng(3))
    assert nn.check_gradients(lambda x: layer(x), X) < 1e-7
    forward, backward = (lyr(X).data for lyr in layer.layers)
    both = layer(X).data
    if merge == "sum":
        np.testing.assert_allclose(both, forward + backward)
    else:
        np.testing.assert_array_equal(both, np.concatenate([forward, backward], axis=-1))
    # the backward copy is the same cell run on the flipped sequence, with its own weights
    p = layer.layers[1].params
    flipped = reference("gru", X[:, ::-1], p["W"].data, p["U"].data, p["b"].data,
                        p["b_hn"].data)[:, ::-1]
    np.testing.assert_allclose(backward, flipped if return_sequences else flipped[:, 0],
                               rtol=1e-12)
    assert not np.allclose(p["W"].data, layer.layers[0].params["W"].data)


@njit
def product(gemm, a, b, out):
    matmul(gemm, a, b, out)


@pytest.mark.kernel
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernel_product_matches_numpy(dtype):
    """The recurrent kernels' product, through NumPy's BLAS (found in NumPy's wheels) and
    through the ``np.dot`` fallback, against NumPy's ``@``; mismatched shapes are refused."""
    a, b = R.standard_normal((5, 7)).astype(dtype), R.standard_normal((7, 6)).astype(dtype)
    assert numpy_gemm(np.int64) is None
    for gemm in (numpy_gemm(dtype), None):
        out = np.full((5, 6), np.nan, dtype)
        product(gemm, a, b, out)
        np.testing.assert_allclose(out, a.astype(np.float64) @ b, rtol=1e-5, atol=1e-5)
        with pytest.raises(ValueError):
            product(gemm, a, b, np.empty((5, 5), dtype))
    other = np.float64 if dtype == np.float32 else np.float32
    if numpy_gemm(other) is not None:  # a gemm of the other precision would misread the arrays
        with pytest.raises(TypingError):
            product(numpy_gemm(other), a, b, np.empty((5, 6), dtype))
    with pytest.raises(TypingError):
        product(None, a, b.astype(other), np.empty((5, 6), dtype))


@pytest.mark.kernel
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_float32_follows_float64(cell):
    out32 = op(cell)(X.astype(np.float32), *weights(cell))
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32.data, reference(cell, X, *weights(cell)), atol=2e-6)
    W = nn.Tensor(weights(cell)[0].astype(np.float32), requires_grad=True)
    out32 = op(cell)(X.astype(np.float32), W, *weights(cell)[1:])
    out32.sum().backward()
    expected = nn.grad(lambda w: op(cell)(X, w, *weights(cell)[1:]).sum())(weights(cell)[0])
    assert W.grad.dtype == np.float32
    np.testing.assert_allclose(W.grad, expected, rtol=1e-4, atol=1e-5)


def test_cells_match_pytorch():
    torch = pytest.importorskip("torch")
    for cell, module in (("lstm", torch.nn.LSTM), ("gru", torch.nn.GRU)):
        torch.manual_seed(0)
        peer = module(FEATURES, UNITS, batch_first=True).double()
        p = {k: v.detach().numpy() for k, v in peer.named_parameters()}
        b = p["bias_ih_l0"] + p["bias_hh_l0"]
        extra = []
        if cell == "gru":
            b[2 * UNITS:] = p["bias_ih_l0"][2 * UNITS:]
            extra = [p["bias_hh_l0"][2 * UNITS:]]
        ours = op(cell)(X, p["weight_ih_l0"].T, p["weight_hh_l0"].T, b, *extra)
        theirs = peer(torch.from_numpy(X))[0].detach().numpy()
        np.testing.assert_allclose(ours.data, theirs, rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- layers
@pytest.mark.parametrize("layer, shape", [
    (rec.SimpleRNN(5), (5,)), (rec.LSTM(5, return_sequences=True), (STEPS, 5)),
    (rec.Bidirectional(rec.GRU(5)), (10,)),
    (rec.Bidirectional(rec.LSTM(5, return_sequences=True), merge="sum"), (STEPS, 5)),
    (rec.TimeDistributed(Dense(2)), (STEPS, 2))])
def test_layer_output_shapes(layer, shape):
    assert layer.build((STEPS, FEATURES)) == shape
    assert layer(X).shape == (BATCH,) + shape
    steps = (2, shape[1]) if len(shape) == 2 else shape     # any number of steps
    assert layer(X[:, :2]).shape == (BATCH,) + steps
    with pytest.raises(ValueError, match="expects inputs of shape"):
        layer(X[:, :, :2])


def test_initialisation_and_seeds():
    layer = rec.LSTM(4)
    layer.build((STEPS, FEATURES), np.random.default_rng(0))
    W, U, b = (layer.params[k].data for k in "WUb")
    assert W.shape == (FEATURES, 16) and U.shape == (4, 16)
    np.testing.assert_array_equal(b, np.repeat([0.0, 1.0, 0.0, 0.0], 4))  # forget bias 1
    for k in range(4):
        block = U[:, 4 * k:4 * k + 4]
        np.testing.assert_allclose(block.T @ block, np.eye(4), atol=1e-12)
    again = rec.LSTM(4)
    again.build((STEPS, FEATURES), np.random.default_rng(0))
    np.testing.assert_array_equal(again.params["U"].data, U)
    gru = rec.GRU(4)
    gru.build((STEPS, FEATURES), np.random.default_rng(0), np.float32)
    assert set(gru.params) == {"W", "U", "b", "b_hn"}
    assert all(p.dtype == np.float32 for p in gru.params.values())


def test_layer_initial_state():
    layer = rec.LSTM(UNITS, return_sequences=True)
    layer.build((STEPS, FEATURES))
    p = [layer.params[k].data for k in "WUb"]
    np.testing.assert_allclose(layer(X, initial_state=(H0, C0)).data,
                               reference("lstm", X, *p, h0=H0, c0=C0), rtol=1e-12)
    gru = rec.GRU(UNITS)
    gru.build((STEPS, FEATURES))
    p = [gru.params[k].data for k in ("W", "U", "b", "b_hn")]
    np.testing.assert_allclose(gru(X, initial_state=H0).data,
                               reference("gru", X, *p, h0=H0)[:, -1], rtol=1e-12)
    bi = rec.Bidirectional(rec.SimpleRNN(UNITS))
    bi.build((STEPS, FEATURES))
    out = bi(X, initial_state=(H0, None)).data
    assert not np.allclose(out[:, :UNITS], bi(X).data[:, :UNITS])
    np.testing.assert_array_equal(out[:, UNITS:], bi(X).data[:, UNITS:])


def test_states_give_every_step():
    layer = rec.Bidirectional(rec.SimpleRNN(UNITS))
    layer.build((STEPS, FEATURES))
    seq = layer.states(X).data
    assert seq.shape == (BATCH, STEPS, 2 * UNITS)
    last = layer(X).data
    np.testing.assert_array_equal(last[:, :UNITS], seq[:, -1, :UNITS])   # forward: last step
    np.testing.assert_array_equal(last[:, UNITS:], seq[:, 0, UNITS:])    # backward: first step


@pytest.mark.parametrize("make, error, match", [
    (lambda: rec.LSTM(0), ValueError, "units must be >= 1"),
    (lambda: rec.GRU(2.5), TypeError, "units must be an integer"),
    (lambda: rec.Bidirectional(rec.GRU(2), merge="mul"), ValueError, "merge must be one of"),
    (lambda: rec.Bidirectional(Dense(2)), TypeError, "wraps a recurrent layer"),
    (lambda: rec.TimeDistributed("dense"), TypeError, "wraps a Layer"),
    (lambda: rec.LSTM(2).build((5,)), ValueError, r"\(time, features\)"),
])
def test_bad_settings(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_bad_inputs():
    layer = rec.LSTM(UNITS)
    with pytest.raises(ValueError, match="not built"):
        layer(X)
    layer.build((STEPS, FEATURES))
    with pytest.raises(ValueError, match=r"expects inputs of shape \(batch, time, 3\)"):
        layer(X[0])
    with pytest.raises(ValueError, match=r"expects inputs of shape \(batch, time, 3\)"):
        layer(X[:, :, :2])
    with pytest.raises(TypeError, match=r"pair \(h0, c0\)"):
        layer(X, initial_state=H0)
    with pytest.raises(ValueError, match=r"h0 must have shape \(2, 3\)"):
        layer(X, initial_state=(H0[:1], C0))
    bi = rec.Bidirectional(rec.GRU(UNITS))
    bi.build((STEPS, FEATURES))
    with pytest.raises(TypeError, match=r"pair \(forward state, backward state\)"):
        bi(X, initial_state=H0)
    with pytest.raises(ValueError, match="x must be 3-D"):
        rec.rnn(X[0], *weights("rnn"))
    with pytest.raises(ValueError, match=r"W must have shape \(features, 4 \* units\)"):
        rec.lstm(X, weights("lstm")[0][:2], *weights("lstm")[1:])
    with pytest.raises(ValueError, match=r"U must have shape \(units, 3 \* units\)"):
        rec.gru(X, weights("gru")[0], weights("gru")[1][:, :4], *weights("gru")[2:])
    with pytest.raises(ValueError, match=r"b_hn must have shape \(3,\)"):
        rec.gru(X, *weights("gru")[:3], np.zeros(2))
