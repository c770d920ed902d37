"""Subnormals flushed inside a compiled kernel (neurosim.kernels.fpenv): a product below
float32's normal range is 0 between flush_subnormals and restore and the IEEE subnormal
outside; the recurrent kernels leave the process's floating-point state as they found it."""
import numpy as np
import pytest
from numba import njit

from neurosim.nn.recurrent import lstm
from neurosim.nn.tensor import Tensor
from neurosim.kernels import fpenv

TINY = np.float32(1e-30)


@njit
def product(a, b, flush):
    """``a * b`` for each entry of ``a`` (a loop, as in a kernel), with FTZ/DAZ or not."""
    out = np.empty_like(a)
    word = fpenv.flush_subnormals() if flush else np.uint32(0)
    for i in range(a.shape[0]):
        out[i] = a[i] * b
    if flush:
        fpenv.restore(word)
    return out


@pytest.mark.kernel
def test_flush_and_restore():
    a, b = np.full(64, 1e-30, np.float32), np.float32(1e-10)
    subnormal = np.float32(1e-30) * b           # NumPy: about 1e-40, not 0
    assert 0 < subnormal < np.finfo(np.float32).tiny
    assert np.all(product(a, b, False) == subnormal)
    assert np.all(product(a, b, True) == (0.0 if fpenv.X86 else subnormal))
    assert np.all(product(a, b, False) == subnormal)           # restored
    assert np.float32(1e-30) * b == subnormal


@pytest.mark.kernel
def test_recurrent_ops_restore_the_state():
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((3, 5, 2)).astype(np.float32), requires_grad=True)
    W, U, b = (Tensor(rng.standard_normal(s).astype(np.float32), requires_grad=True)
               for s in ((2, 16), (4, 16), (16,)))
    out = lstm(x, W, U, b)
    out.sum().backward()
    assert np.float32(1e-30) * np.float32(1e-10) > 0


def test_call_flushed_restores_after_an_error():
    def fails():
        raise RuntimeError("inside")
    with pytest.raises(RuntimeError, match="inside"):
        fpenv.call_flushed(fails)
    assert np.all(product(np.full(4, 1e-30, np.float32), np.float32(1e-10), False) > 0)
    assert fpenv.call_flushed(lambda a, b: a + b, 2, 3) == 5


@pytest.mark.skipif(not fpenv.X86, reason="FTZ/DAZ are x86's")
def test_backward_and_optimiser_step_flush_subnormals_and_restore():
    """Tensor.backward and Optimizer.step run with subnormals as zeros (a gradient below
    float32's normal range is 0, as is Adam's square of a tiny gradient); outside them NumPy
    keeps IEEE subnormals, also after a backward function raised."""
    from neurosim.nn import optim
    x = Tensor(np.ones(4, np.float32), requires_grad=True)
    (x * TINY * np.float32(1e-10)).sum().backward()
    assert not x.grad.any()                                   # IEEE: about 1e-40 each
    opt = optim.Adam([x], lr=1e-3, betas=(0.0, 0.0))
    opt.grad[...] = np.float32(1e-20)                         # squared: 1e-40, a subnormal
    opt.step()
    assert not opt.v.any()
    assert TINY * np.float32(1e-10) > 0

    def fails(g):
        raise RuntimeError("inside backward")
    y = Tensor(np.ones(2, np.float32), requires_grad=True)
    from neurosim.nn.tensor import record
    with pytest.raises(RuntimeError, match="inside backward"):
        record(y.data.copy(), (y,), fails).sum().backward()
    assert TINY * np.float32(1e-10) > 0


@pytest.mark.skipif(not fpenv.X86, reason="FTZ/DAZ are x86's")
def test_backward_keeps_blas_on_the_flushing_thread_where_blas_has_threads():
    """With two BLAS threads, a backward product of subnormal size (the input gradient of a
    dense layer, a BLAS call) is zeros in every row: BLAS runs on the flushing thread for the
    pass, and has its two threads again after."""
    from threadpoolctl import threadpool_info, threadpool_limits
    from neurosim.nn import ops
    x = Tensor(np.ones((64, 512), np.float32), requires_grad=True)
    W = Tensor(np.full((512, 512), 1e-20, np.float32))
    with threadpool_limits(2, user_api="blas"):
        (ops.dense(x, W) * np.float32(1e-20)).sum().backward()
        assert all(i["num_threads"] == 2 for i in threadpool_info() if i["user_api"] == "blas")
    assert not x.grad.any()
