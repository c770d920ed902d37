"""The optimiser updates' parallel twins against their serial ones (the same bits, also where
the caller flushes subnormals), and the serial ones against the updates written in NumPy."""
import numpy as np
import pytest

from neurosim.kernels import fpenv
from neurosim.kernels import nn_optim as ko

pytestmark = pytest.mark.kernel
N = 3 * ko.CHUNK + 1001          # several chunks and a partial one


def _buffers(dtype, k, tiny=False):
    rng = np.random.default_rng(7)
    out = [rng.standard_normal(N).astype(dtype) for _ in range(k)]
    if tiny:      # gradients whose squares are subnormal in float32
        out[1] *= dtype(1e-21)
    out[2:] = [np.abs(b) for b in out[2:]]
    return out


def _args(name, dtype):
    t = np.dtype(dtype).type
    if name == "sgd":
        return ko.SGD, 3, (t(0.1), t(0.9), True, t(0.01))
    if name == "adam":
        return ko.ADAM, 4, (t(0.9), t(0.999), t(1e-3 / (1 - 0.9 ** 3)), t(1 / (1 - 0.999 ** 3)),
                            t(1e-8), t(0.01))
    return ko.RMSPROP, 5, (t(0.01), t(0.99), t(1e-8), t(0.01), t(0.9), True)


@pytest.mark.parametrize("name", ["sgd", "adam", "rmsprop"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("flushed", [False, True])
def test_parallel_twin_gives_the_serial_bits(name, dtype, flushed):
    (serial, parallel), k, scalars = _args(name, dtype)
    outs = []
    for kernel in (serial, parallel):
        bufs = _buffers(dtype, k, tiny=flushed)
        if flushed:
            fpenv.call_flushed(kernel, *bufs, *scalars)
        else:
            kernel(*bufs, *scalars)
        outs.append(bufs)
    for a, b in zip(*outs):
        np.testing.assert_array_equal(a, b)


def test_adam_against_numpy():
    (serial, _), _, (b1, b2, step, inv2, eps, wd) = _args("adam", np.float64)
    p, g, m, v = _buffers(np.float64, 4)
    want_p, want_m, want_v = p.copy(), m.copy(), v.copy()
    gg = g + wd * want_p
    want_m = b1 * want_m + (1 - b1) * gg
    want_v = b2 * want_v + (1 - b2) * gg * gg
    want_p -= step * want_m / (np.sqrt(want_v * inv2) + eps)
    serial(p, g, m, v, b1, b2, step, inv2, eps, wd)
    for got, want in ((p, want_p), (m, want_m), (v, want_v)):
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)


def test_rmsprop_centered_momentum_against_numpy():
    (serial, _), _, (lr, alpha, eps, wd, mom, centered) = _args("rmsprop", np.float64)
    p, g, sq, av, buf = _buffers(np.float64, 5)
    sq += av ** 2            # a running mean of squares is at least the squared mean
    want = [x.copy() for x in (p, sq, av, buf)]
    gg = g + wd * want[0]
    want[1] = alpha * want[1] + (1 - alpha) * gg * gg
    want[2] = alpha * want[2] + (1 - alpha) * gg
    want[3] = mom * want[3] + gg / (np.sqrt(want[1] - want[2] ** 2) + eps)
    want[0] = want[0] - lr * want[3]
    serial(p, g, sq, av, buf, lr, alpha, eps, wd, mom, centered)
    for got, w in zip((p, sq, av, buf), want):
        assert np.isfinite(w).all()
        np.testing.assert_allclose(got, w, rtol=1e-12, atol=1e-15)


def test_zero_twins_zero_every_element():
    for kernel in ko.ZERO:
        buf = np.arange(1, N + 1, dtype=np.float32)
        kernel(buf)
        assert not buf.any()
