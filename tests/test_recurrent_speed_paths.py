"""The recurrent forward step by blocks of units (kernels.recurrent.block_units), the backward
step by blocks of units and their threaded twins (recurrent_forward_parallel,
recurrent_backward_parallel), with the threaded input passes (input_products_parallel,
input_gradients_parallel): against PyTorch on the same weights in float64 (outputs, final
states and every gradient to 1e-10), at shapes with several blocks, a partial last one and a
batch that is not a whole number of SIMD vectors; each threaded kernel gives the serial one's
bits, with variable lengths and outside gradients at every step; the input passes against
NumPy; each block's packed rows give its products; BLAS products in fpenv.call_flushed flush
subnormals on every thread."""
import numba
import numpy as np
import pytest
from numba import njit, prange

from neurosim.kernels import fpenv
from neurosim.kernels import recurrent as kr
from neurosim.kernels.gemm import packed_matmul, packed_shape
from neurosim.nn import recurrent as rec
from neurosim.nn.tensor import Tensor

torch = pytest.importorskip("torch")

FEATURES, UNITS, BATCH, STEPS = 3, 67, 1000, 5
CELLS = {"rnn": (kr.RNN, rec.SimpleRNN, "RNN"), "lstm": (kr.LSTM, rec.LSTM, "LSTM"),
         "gru": (kr.GRU, rec.GRU, "GRU")}
PANEL = packed_shape(1, 1)[2]


def blocks(cell, batch=BATCH, units=UNITS, itemsize=8):
    """Block size and count of the forward step at these sizes."""
    block = kr.block_units(kr.GATES[cell], batch, itemsize, PANEL)
    return block, -(-units // block)


@pytest.mark.kernel
@pytest.mark.parametrize("name", list(CELLS))
@pytest.mark.parametrize("parallel", [False, True])
def test_blocked_forward_matches_pytorch(name, parallel, monkeypatch):
    cell, layer_class, module_name = CELLS[name]
    block, count = blocks(cell)
    assert count > 1 and UNITS % block, "the shapes must give several blocks, the last partial"
    for threshold in ("PARALLEL_WORK", "PASS_WORK"):
        monkeypatch.setattr(kr, threshold, 0 if parallel else 2 ** 62)
    torch.manual_seed(0)
    module = getattr(torch.nn, module_name)(FEATURES, UNITS, batch_first=True).double()
    layer = layer_class(UNITS, layout="torch", return_sequences=True, return_state=True)
    layer.build((STEPS, FEATURES))
    layer.load_torch_state({k: v.detach().numpy() for k, v in module.state_dict().items()})
    g = np.random.default_rng(2)
    x = g.standard_normal((BATCH, STEPS, FEATURES))
    tx = torch.tensor(x, requires_grad=True)
    out, state = module(tx)
    finals = state if name == "lstm" else (state,)
    weights = [g.standard_normal(t.shape) for t in (out, *finals)]
    sum(((t * torch.tensor(w)).sum() for t, w in zip((out, *finals), weights))).backward()

    xt = Tensor(x, requires_grad=True)
    ours, ours_state = layer(xt)
    ours_finals = ours_state if name == "lstm" else (ours_state,)
    loss = sum((t * Tensor(w)).sum() for t, w in zip((ours, *ours_finals), weights))
    loss.backward()
    np.testing.assert_allclose(ours.data, out.detach().numpy(), rtol=0, atol=1e-10)
    for a, b in zip(ours_finals, finals):
        np.testing.assert_allclose(a.data, b.detach().numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(xt.grad, tx.grad.numpy(), rtol=0, atol=1e-10)
    grads = {k: v.grad.numpy() for k, v in module.named_parameters()}
    p = layer.params
    np.testing.assert_allclose(p["W"].grad, grads["weight_ih_l0"].T, rtol=0, atol=1e-10)
    np.testing.assert_allclose(p["U"].grad, grads["weight_hh_l0"].T, rtol=0, atol=1e-10)
    np.testing.assert_allclose(p["b_ih"].grad, grads["bias_ih_l0"], rtol=0, atol=1e-10)
    np.testing.assert_allclose(p["b_hh"].grad, grads["bias_hh_l0"], rtol=0, atol=1e-10)


def forward_arrays(cell, dtype, g):
    """Inputs and outputs of one forward kernel call (float ``dtype``, variable lengths)."""
    gates_n, units = kr.GATES[cell], UNITS
    P = g.standard_normal((gates_n * units, STEPS, BATCH)).astype(dtype)
    UT = (g.standard_normal((gates_n * units, units)) / np.sqrt(units)).astype(dtype)
    hs = np.zeros((units, STEPS + 1, BATCH), dtype)
    hs[:, 0] = g.standard_normal((units, BATCH))
    cs = np.zeros((STEPS + 1, units, BATCH), dtype)
    cs[0] = g.standard_normal((units, BATCH))
    gates = np.zeros((STEPS, 4 * units, BATCH), dtype)
    tanh_c = np.zeros((STEPS, units, BATCH), dtype)
    lengths = g.integers(1, STEPS + 1, BATCH).astype(np.int64)
    b_hn = g.standard_normal(units).astype(dtype)
    return [P, UT, b_hn, lengths, hs, cs, gates, tanh_c]


@pytest.mark.kernel
@pytest.mark.parametrize("cell", [kr.RNN, kr.RNN_RELU, kr.LSTM, kr.GRU])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_parallel_forward_gives_the_serial_bits(cell, dtype):
    serial = forward_arrays(cell, dtype, np.random.default_rng(3))
    threaded = [a.copy() for a in serial]
    kr.recurrent_forward(cell, *serial)
    kr.recurrent_forward_parallel(cell, *threaded, 3)    # the units in (at least) 3 blocks
    for a, b in zip(serial[4:], threaded[4:]):     # hs, cs, gates, tanh_c
        np.testing.assert_array_equal(a, b)


@njit(parallel=True)
def _start_threads(x):
    for i in prange(x.shape[0]):
        x[i] += 1.0


@pytest.mark.kernel
def test_parallel_forward_flushes_subnormals_in_every_thread():
    # inputs of 1e-310 (subnormal in float64) read as zero on every block's thread: outputs 0
    cell, args = kr.RNN_RELU, forward_arrays(kr.RNN_RELU, np.float64, np.random.default_rng(4))
    args[0][...] = 1e-310
    args[1][...] = 0.0
    args[4][:, 0] = 0.0
    _start_threads(np.zeros(8))       # the pool's threads made now, without the flush
    for kernel in (kr.recurrent_forward, kr.recurrent_forward_parallel):
        out = [a.copy() for a in args]
        kernel(cell, *out, 2)
        assert not np.any(out[4]), kernel
    assert kr.block_units(1, BATCH, 8, PANEL) < UNITS         # several blocks


@pytest.mark.kernel
@pytest.mark.parametrize("cell", [kr.RNN, kr.RNN_RELU, kr.LSTM, kr.GRU])
def test_parallel_backward_gives_the_serial_bits(cell, dtype=np.float64):
    # float64 only: the twins compiled for the PyTorch test above (a float32 pair costs 10 s
    # of compilation; the code does not depend on the dtype)
    g = np.random.default_rng(5)
    forward = forward_arrays(cell, dtype, g)
    kr.recurrent_forward(cell, *forward)
    P, UT, _, lengths, hs, cs, gates, tanh_c = forward
    dH = g.standard_normal((STEPS, UNITS, BATCH)).astype(dtype)
    serial = [np.zeros_like(P), np.zeros((UNITS, STEPS, BATCH), dtype),
              g.standard_normal((UNITS, BATCH)).astype(dtype),
              g.standard_normal((UNITS, BATCH)).astype(dtype)]      # dP, dA, dh, dc
    threaded = [a.copy() for a in serial]
    U = np.ascontiguousarray(UT.T)
    kr.recurrent_backward(cell, dH, U, lengths, hs, cs, gates, tanh_c, *serial)
    kr.recurrent_backward_parallel(cell, dH, U, lengths, hs, cs, gates, tanh_c, *threaded, 3)
    assert np.abs(serial[0]).max() > 0 and -(-UNITS // PANEL) >= 3   # 3 blocks of units
    for a, b in zip(serial, threaded):
        np.testing.assert_array_equal(a, b)


@pytest.mark.kernel
def test_parallel_backward_flushes_subnormals_in_every_thread():
    # gradients of 1e-310 (subnormal in float64) read as zero on every block's thread
    cell, args = kr.RNN, forward_arrays(kr.RNN, np.float64, np.random.default_rng(4))
    kr.recurrent_forward(cell, *args)
    _, UT, _, lengths, hs, cs, gates, tanh_c = args
    dH = np.full((STEPS, UNITS, BATCH), 1e-310)
    _start_threads(np.zeros(8))       # the pool's threads made now, without the flush
    for kernel in (kr.recurrent_backward, kr.recurrent_backward_parallel):
        dP, dh = np.ones((UNITS, STEPS, BATCH)), np.full((UNITS, BATCH), 1e-310)
        kernel(cell, dH, np.ascontiguousarray(UT.T), lengths, hs, cs, gates, tanh_c, dP,
               np.empty((UNITS, STEPS, BATCH)), dh, np.zeros_like(dh), 3)
        assert not np.any(dP) and not np.any(dh), kernel


@pytest.mark.kernel
@pytest.mark.parametrize("features, columns", [(3, 1000), (2, 37)])
def test_parallel_input_passes_give_the_serial_bits_and_numpys(features, columns,
                                                                dtype=np.float64):
    """Products and gradients of the input side in 1 and 3 parts against NumPy; 1000 columns
    leave a remainder after the whole tiles, 37 fewer tiles than parts (float64, as the
    backward's test)."""
    g = np.random.default_rng(6)
    width = 4 * UNITS
    X = g.standard_normal((features, columns)).astype(dtype)
    W = g.standard_normal((features, width)).astype(dtype)
    b = g.standard_normal(width).astype(dtype)
    dP = g.standard_normal((width, columns)).astype(dtype)
    tol = {"rtol": 1e-12, "atol": 1e-11}
    products = [np.empty((width, columns), dtype) for _ in range(2)]
    kr.input_products(X, W, b, products[0])
    kr.input_products_parallel(X, W, b, products[1], 3)
    np.testing.assert_array_equal(products[0], products[1])
    np.testing.assert_allclose(products[0], W.T @ X + b[:, None], **tol)
    grads = [[np.empty_like(X), np.empty_like(W), np.empty_like(b)] for _ in range(2)]
    kr.input_gradients(X, dP, W, *grads[0])
    kr.input_gradients_parallel(X, dP, W, *grads[1], 3)
    for a, b_ in zip(*grads):
        np.testing.assert_array_equal(a, b_)
    for got, want in zip(grads[0], (W @ dP, X @ dP.T, dP.sum(axis=1))):
        np.testing.assert_allclose(got, want, **tol)


@pytest.mark.kernel
@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 Numba threads")
@pytest.mark.parametrize("name", ["lstm", "gru"])
@pytest.mark.parametrize("features", [3, 40])     # the input side in loops, by products
def test_ops_give_the_same_bits_on_one_and_two_threads(name, features, monkeypatch):
    """Outputs and every gradient of a whole op, with lengths, on 1 and 2 Numba threads (every
    kernel's parallel twin taken on 2)."""
    for threshold in ("PARALLEL_WORK", "PASS_WORK"):
        monkeypatch.setattr(kr, threshold, 0)
    cell = CELLS[name][0]
    g = np.random.default_rng(7)
    width = kr.GATES[cell] * UNITS
    arrays = [g.standard_normal((90, STEPS, features)), g.standard_normal((features, width)),
              g.standard_normal((UNITS, width)) / np.sqrt(UNITS), g.standard_normal(width)]
    arrays += [g.standard_normal(UNITS)] if cell == kr.GRU else []
    lengths = g.integers(1, STEPS + 1, 90)
    results, before = [], numba.get_num_threads()
    try:
        for threads in (1, 2):
            numba.set_num_threads(threads)
            tensors = [Tensor(a, requires_grad=True) for a in arrays]
            out = getattr(rec, name)(*tensors, lengths=lengths)
            (out * out).sum().backward()
            results.append([out.data] + [t.grad for t in tensors])
    finally:
        numba.set_num_threads(before)
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


TWINS = [(kr.recurrent_forward, kr.recurrent_forward_parallel),
         (kr.recurrent_backward, kr.recurrent_backward_parallel),
         (kr.input_products, kr.input_products_parallel),
         (kr.input_gradients, kr.input_gradients_parallel)]


@pytest.mark.parametrize("twins", TWINS, ids=lambda t: t[0].__name__)
def test_serial_and_parallel_twins_keep_separate_disk_caches(twins):
    # one cache for both made the parallel dispatcher load the serial code (or the reverse)
    assert len({d._cache._cache_file._index_name for d in twins}) == 2


@pytest.mark.kernel
@pytest.mark.parametrize("gates_n", [1, 3, 4])
@pytest.mark.parametrize("batch, itemsize", [(1, 4), (40, 8), (100, 8), (256, 4), (4096, 8)])
def test_block_units_whole_panels_within_the_budget(gates_n, batch, itemsize):
    block = kr.block_units(gates_n, batch, itemsize, PANEL)
    assert block % PANEL == 0 and block > 0
    assert block == PANEL or gates_n * block * batch * itemsize <= kr.BLOCK_BYTES


@pytest.mark.kernel
@pytest.mark.parametrize("gates_n", [1, 3, 4])
def test_each_blocks_packed_rows_give_its_products(gates_n):
    g = np.random.default_rng(4)
    UT = g.standard_normal((gates_n * UNITS, UNITS))
    h = g.standard_normal((UNITS, 9))
    block = PANEL
    weights = np.empty(packed_shape(*UT.shape))
    kr._pack_blocked(UT, gates_n, block, weights)
    for j0 in range(0, UNITS, block):
        units = np.arange(j0, min(j0 + block, UNITS))
        rows = np.concatenate([q * UNITS + units for q in range(gates_n)])
        out = np.empty((len(rows), h.shape[1]))
        first = gates_n * j0 // PANEL
        packed_matmul(weights[first:first + -(-len(rows) // PANEL)], h, out)
        np.testing.assert_allclose(out, UT[rows] @ h, rtol=1e-12, atol=1e-12)


@pytest.mark.skipif(not fpenv.X86, reason="FTZ/DAZ are x86's")
def test_blas_products_in_call_flushed_flush_on_every_thread():
    """Products below float32's normal range are zeros inside call_flushed, also where BLAS
    would split the product among its threads (their FTZ/DAZ bits are not the caller's)."""
    A = np.full((256, 4000), 1e-20, np.float32)
    B = np.full((4000, 256), 1e-20, np.float32)
    assert (A @ B).min() > 0                                   # IEEE subnormal terms outside
    assert not fpenv.call_flushed(lambda: A @ B).any()
    assert (A @ B).min() > 0                                   # restored
