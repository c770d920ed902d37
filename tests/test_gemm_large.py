"""The blocked general matrix product (neurosim.kernels.gemm_large) against NumPy's ``@``: in
float64 to 1e-12 relative, in float32 within float32 rounding; every transpose pair, odd
shapes (1, 13, 17, 33, edges past 1000), the accumulating form (beta = 1), more than one
pass of the depth and more than one block of columns and of rows, the threaded form, empty
sides; and its refusals of bad arguments."""
import numba
import numpy as np
import pytest

from neurosim.kernels import fpenv, gemm_large
from neurosim.kernels.gemm_large import gemm

R = np.random.default_rng(0)
TRANSPOSES = [(False, False), (False, True), (True, False), (True, True)]


def operands(m, k, n, ta, tb, dtype):
    """``A``, ``B`` stored as the transposes ask (C-contiguous) and the float64 product of
    their float ``dtype`` values."""
    A = R.standard_normal((k, m) if ta else (m, k)).astype(dtype)
    B = R.standard_normal((n, k) if tb else (k, n)).astype(dtype)
    exact = (A.T if ta else A).astype(np.float64) @ (B.T if tb else B).astype(np.float64)
    return A, B, exact


@pytest.mark.kernel
@pytest.mark.parametrize("ta, tb", TRANSPOSES)
@pytest.mark.parametrize("m, k, n", [
    (1, 1, 1), (13, 17, 33), (33, 13, 17),        # one partial tile, partial panels of B
    (17, 300, 70),                                # two passes of the depth (150 + 150)
    (25, 1030, 1001),                             # passes, a column tail past 1000
    (1003, 40, 45),                               # blocks of rows, a last panel of 7 rows
    (5, 0, 7), (0, 3, 4), (6, 3, 0)])             # empty sides
def test_float64_matches_numpy(m, k, n, ta, tb):
    A, B, exact = operands(m, k, n, ta, tb, np.float64)
    C = gemm(A, B, np.full((m, n), np.nan), ta, tb)
    np.testing.assert_allclose(C, exact, rtol=1e-12, atol=1e-12 * np.sqrt(k + 1))


@pytest.mark.kernel
@pytest.mark.parametrize("ta, tb", TRANSPOSES)
def test_float32_within_float32_rounding(ta, tb):
    k = 530
    A, B, exact = operands(45, k, 70, ta, tb, np.float32)
    C = gemm(A, B, np.empty((45, 70), np.float32), ta, tb)
    assert C.dtype == np.float32
    # each of k products and sums rounds once: within k float32 roundings of the terms' scale
    scale = np.abs(A.T if ta else A).astype(np.float64) @ np.abs(B.T if tb else B)
    assert np.all(np.abs(C - exact) <= k * np.finfo(np.float32).eps * scale)


@pytest.mark.kernel
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_accumulate_adds_to_c(dtype):
    """beta = 1, as a weight gradient ``W.grad += X.T @ G``: over two passes of the depth
    (the first adds as well) and with an empty depth (C unchanged)."""
    A, B, exact = operands(40, 300, 50, True, False, dtype)
    start = R.standard_normal((40, 50)).astype(dtype)
    C = gemm(A, B, start.copy(), trans_a=True, accumulate=True)
    tol = 1e-12 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(C, start + exact, rtol=tol, atol=tol * np.sqrt(300))
    empty = np.empty((0, 40), dtype), np.empty((0, 50), dtype)
    np.testing.assert_array_equal(gemm(*empty, start.copy(), True, False, True), start)
    np.testing.assert_array_equal(gemm(*empty, start.copy(), True, False), 0.0)


@pytest.mark.kernel
@pytest.mark.parametrize("m, n", [(37, 1100), (400, 40)])   # split by columns, then by rows
def test_threaded_matches_serial(m, n):
    """The threaded form (each thread a block of columns, or of rows where the columns are
    few) gives the serial form's bits: each element's sums run in the same order."""
    A, B, exact = operands(m, 150, n, False, True, np.float64)
    serial, threaded = np.empty((m, n)), np.empty((m, n))
    gemm_large.gemm_serial(A, B, serial, False, True, False)
    gemm_large._gemm_threaded(A, B, threaded, False, True, False, 2)
    np.testing.assert_array_equal(threaded, serial)
    np.testing.assert_allclose(threaded, exact, rtol=1e-12, atol=1e-12 * np.sqrt(151))
    if numba.config.NUMBA_NUM_THREADS > 1:              # through gemm, where there are threads
        previous = numba.get_num_threads()
        numba.set_num_threads(2)
        try:
            np.testing.assert_array_equal(gemm(A, B, np.empty((m, n)), False, True), serial)
        finally:
            numba.set_num_threads(previous)


@pytest.mark.kernel
@pytest.mark.skipif(not fpenv.X86, reason="FTZ/DAZ are x86's")
@pytest.mark.parametrize("flush", [False, True])
def test_threaded_threads_flush_as_their_caller(flush):
    """Every thread of the threaded form treats subnormals as its caller does: products below
    float32's normal range are IEEE subnormals, or zeros inside ``fpenv.call_flushed``, the
    serial form's bits either way (worker threads keep their own setting after)."""
    A = np.full((64, 32), 1e-20, np.float32)
    B = np.full((300, 32), 1e-19, np.float32)
    C = np.empty((64, 300), np.float32), np.empty((64, 300), np.float32)

    def both():
        gemm_large.gemm_serial(A, B, C[0], False, True, False)
        gemm_large._gemm_threaded(A, B, C[1], False, True, False, 2)
    fpenv.call_flushed(both) if flush else both()
    np.testing.assert_array_equal(C[1], C[0])
    assert (C[0] == 0).all() if flush else (C[0] > 0).all()
    if flush:                                           # the workers were set back
        gemm_large._gemm_threaded(A, B, C[1], False, True, False, 2)
        assert (C[1] > 0).all()


@pytest.mark.kernel
def test_bad_arguments_are_refused():
    A, B, C = np.ones((4, 3)), np.ones((3, 5)), np.zeros((4, 5))
    with pytest.raises(ValueError, match="C-contiguous"):
        gemm(np.ones((3, 4)).T, B, C)                    # a transposed view: pass trans_a
    with pytest.raises(ValueError, match="C-contiguous"):
        gemm(A, B, np.empty((4, 10))[:, ::2])
    with pytest.raises(TypeError, match="dtype of the others"):
        gemm(A.astype(np.float32), B, C)
    with pytest.raises(TypeError, match="float32 or float64"):
        gemm(A.astype(np.int64), B.astype(np.int64), C.astype(np.int64))
    with pytest.raises(TypeError, match="2-D NumPy array"):
        gemm(A, [[1.0] * 5] * 3, C)
    with pytest.raises(ValueError, match="shape"):
        gemm(A, B, np.empty((5, 4)))
    with pytest.raises(ValueError, match="shape"):
        gemm(A, B, C, trans_b=True)
    square = np.ones((4, 4))
    with pytest.raises(ValueError, match="share memory"):
        gemm(square, square, square)


@pytest.mark.kernel
@pytest.mark.parametrize("threads", [1, 2])
def test_preferred_rule_the_same_on_any_thread_count(threads, monkeypatch):
    """Every product OpenBLAS would thread (2^19 multiply-adds and up) is made here, whatever
    its columns and the thread count; smaller ones stay with BLAS."""
    monkeypatch.setattr(gemm_large, "pool_threads", lambda *work: threads)
    edge = gemm_large.BLAS_WORK
    assert gemm_large.preferred(256, 784, 1024) and gemm_large.preferred(1024, 256, 10)
    assert gemm_large.preferred(1, edge, 1) and not gemm_large.preferred(1, edge - 1, 1)
    assert not gemm_large.preferred(32, 128, 127)
    calls = []
    monkeypatch.setattr(gemm_large, "_run", lambda A, B, C, *rest: calls.append(C.shape) or C)
    A, B = np.ones((64, 128)), np.ones((64, 100))
    gemm_large.product(A, B, trans_a=True)
    assert calls == [(128, 100)]


@pytest.mark.kernel
@pytest.mark.parametrize("m, k, n, ta, tb", [(256, 300, 10, False, False), (300, 64, 10, True, False),
                                             (256, 70, 40, False, True), (5, 90, 300, True, True)])
@pytest.mark.parametrize("accumulate", [False, True])
def test_few_columns_as_the_transpose(m, k, n, ta, tb, accumulate):
    """A product with few columns (run as its transpose) or few rows (not) against NumPy in
    float64, added to C or not; without accumulating, the bits of the direct tiles."""
    assert gemm_large._narrow(m, n, 4) == (n < 64)
    A = R.standard_normal((k, m) if ta else (m, k)).astype(np.float32)
    B = R.standard_normal((n, k) if tb else (k, n)).astype(np.float32)
    C0 = R.standard_normal((m, n)).astype(np.float32)
    want = (C0 if accumulate else 0) + (A.T if ta else A).astype(float) @ (B.T if tb else B)
    C = C0.copy()
    gemm(A, B, C, trans_a=ta, trans_b=tb, accumulate=accumulate)
    np.testing.assert_allclose(C, want, rtol=0, atol=k * 4e-7 * np.abs(want).max())
    if not accumulate:
        direct = np.empty_like(C)
        gemm_large.gemm_serial(A, B, direct, ta, tb, False)
        np.testing.assert_array_equal(C, direct)


@pytest.mark.kernel
def test_dense_and_matmul_through_the_own_gemm():
    """``nn.ops.dense`` and ``matmul`` in float32 at shapes where the rule picks this GEMM
    (forward and weight gradient, into an optimiser's buffer and not) against NumPy's
    products in float64, within float32 rounding."""
    from neurosim.nn import ops, optim
    from neurosim.nn.tensor import Tensor
    f32 = np.float32
    x, g = R.standard_normal((40, 300)).astype(f32), R.standard_normal((40, 200)).astype(f32)
    assert gemm_large.preferred(40, 300, 200) and gemm_large.preferred(300, 40, 200)

    def close(got, want, depth):
        assert got.dtype == f32
        np.testing.assert_allclose(got, want, rtol=0, atol=depth * 4e-7 * np.abs(want).max())
    for buffered in (True, False):
        W = Tensor(R.standard_normal((300, 200)).astype(f32), requires_grad=True)
        xt = Tensor(x, requires_grad=True)
        before = np.zeros((300, 200), f32)
        if buffered:
            optim.SGD([W], lr=0.1)
            before = R.standard_normal((300, 200)).astype(f32)
            W.grad[...] = before
        y = ops.dense(xt, W)
        close(y.data, x.astype(float) @ W.data, 300)
        y.backward(g)
        close(W.grad, before + x.T.astype(float) @ g, 40)
        close(xt.grad, g.astype(float) @ W.data.T, 200)
    a, b = (Tensor(R.standard_normal(s).astype(f32), requires_grad=True)
            for s in ((40, 300), (300, 200)))
    y = ops.matmul(a, b)
    close(y.data, a.data.astype(float) @ b.data, 300)
    y.backward(g)
    close(b.grad, a.data.T.astype(float) @ g, 40)
    close(a.grad, g.astype(float) @ b.data.T, 200)
