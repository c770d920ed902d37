"""The parallel twins of the convolution, pooling and Winograd kernels against their serial
ones: the same bits in every array they write (also where the caller flushes subnormals, as
a backward pass does), on sizes that split into several items and a partial block. What the
serial kernels compute is checked against references in the other conv and Winograd tests."""
import numba
import numpy as np
import pytest

from neurosim.kernels import conv as kc
from neurosim.kernels import fpenv
from neurosim.kernels import winograd as kw

pytestmark = [pytest.mark.kernel, pytest.mark.slow]   # slow: ~80 s of cold compiling (the
#   bounds-checked CI stage skips it; checked with NUMBA_BOUNDSCHECK=1 when the twins change)
N, C, K, H = 5, 3, 4, 9          # images, in and out channels, image side
F32 = np.float32


def _rng():
    return np.random.default_rng(11)


def _images(rng, *shape, tiny=False):
    """Random values of both signs (scaled into float32's subnormals where ``tiny``: a
    worker thread that did not flush as its caller would give other bits)."""
    a = rng.standard_normal(shape).astype(F32)
    return a * F32(1e-39) if tiny else a


def _argmax(rng, shape, w):
    """Window indices of 2x2 pools over planes ``w`` wide: each window's top left plus one of
    its four offsets."""
    oh, ow = shape[-2:]
    base = (2 * np.arange(oh)[:, None] * w + 2 * np.arange(ow)[None, :])
    pick = rng.choice(np.array([0, 1, w, w + 1]), size=shape)
    return (base + pick).astype(np.int32)


# each case: builder(rng, tiny) -> (the kernel's arguments, indices of the arrays it writes)
def _im2col(rng, tiny):
    x = _images(rng, N, C, H, H, tiny=tiny)
    return (x, 3, 2, 1, 2, 1, 0, 2, 1, 4, 4, np.empty((C * 6, N * 16), F32)), (11,)


def _col2im(rng, tiny):
    cols = _images(rng, C * 6, N * 16, tiny=tiny)
    return (cols, 3, 2, 1, 2, 1, 0, 2, 1, 4, 4, np.empty((N, C, H, H), F32)), (11,)


def _rows_to_images(rng, tiny):
    return (_images(rng, K, N * 20, tiny=tiny), _images(rng, K), True,
            np.empty((N, K, 20), F32)), (3,)


def _images_to_rows(rng, tiny):
    return (_images(rng, N, K, 20, tiny=tiny), _images(rng, N, K, 20), True,
            np.empty((K, N * 20), F32), np.empty(K)), (3, 4)


def _conv_single(rng, tiny, pool=True):
    out_hw = (H // 2, H // 2) if pool else (H, H)
    return (_images(rng, N, 1, H, H, tiny=tiny), _images(rng, K, 1, 3, 3), _images(rng, K), 1,
            1, 1, 1, True, pool, np.empty((N, K) + out_hw, F32),
            np.empty((N, K) + out_hw if pool else (0, 0, 0, 0), np.int32)), (9, 10)


def _conv_single_backward(rng, tiny, pool=True):
    side = H // 2 if pool else H
    out = np.abs(_images(rng, N, K, side, side)) * (rng.random((N, K, side, side)) > 0.3)
    argmax = _argmax(rng, (N, K, side, side), H) if pool else np.empty((0, 0, 0, 0), np.int32)
    return (_images(rng, N, K, side, side, tiny=tiny), out.astype(F32), argmax,
            _images(rng, N, 1, H, H, tiny=tiny), _images(rng, K, 1, 3, 3), 1, 1, 1, 1, True,
            pool, True, np.empty((N, 1, H, H), F32), np.empty((K, 9)), np.empty(K)), (12, 13, 14)


def _conv_single_unpooled(rng, tiny):
    return _conv_single(rng, tiny, pool=False)


def _conv_single_backward_unpooled(rng, tiny):
    return _conv_single_backward(rng, tiny, pool=False)


def _bias_relu(rng, tiny):
    return (_images(rng, 3 * kc.BLOCK + 5, 7, tiny=tiny), _images(rng, 7), True), (0,)


def _relu_mask_sum(rng, tiny):
    rows, cols = 2 * kc.BLOCK + 9, 6
    return (_images(rng, rows, cols, tiny=tiny), _images(rng, rows, cols),
            np.empty((rows, cols), F32), np.empty(cols)), (2, 3)


def _max_pool2d(rng, tiny):
    return (_images(rng, N, C, H, H, tiny=tiny), 3, 3, 2, 2, 1, 1,
            np.empty((N, C, 5, 5), F32), np.empty((N, C, 5, 5), np.intp)), (7, 8)


def _max_pool2d_backward(rng, tiny):
    argmax = rng.integers(0, H * H, (N, C, 4, 4)).astype(np.intp)
    return (_images(rng, N, C, 4, 4, tiny=tiny), argmax, np.zeros((N, C, H, H), F32)), (2,)


def _max_pool2x2(rng, tiny):
    return (_images(rng, N, C, H, H, tiny=tiny), np.empty((N, C, 4, 4), F32),
            np.empty((N, C, 4, 4), np.intp)), (1, 2)


def _max_pool2x2_backward(rng, tiny):
    return (_images(rng, N, C, 4, 4, tiny=tiny), _argmax(rng, (N, C, 4, 4), H).astype(np.intp),
            np.zeros((N, C, H, H), F32)), (2,)


def _rows_to_pooled(rng, tiny):
    return (_images(rng, K, N, H, H, tiny=tiny), _images(rng, K), np.empty((N, K, 4, 4), F32),
            np.empty((N, K, 4, 4), np.int32)), (2, 3)


def _pooled_to_rows(rng, tiny):
    out = np.abs(_images(rng, N, K, 4, 4)) * (rng.random((N, K, 4, 4)) > 0.3)
    return (_images(rng, N, K, 4, 4, tiny=tiny), out.astype(F32),
            _argmax(rng, (N, K, 4, 4), H), np.empty((K, N, H, H), F32), np.empty(K)), (3, 4)


def _avg_pool2d(rng, tiny):
    return (_images(rng, N, C, H, H, tiny=tiny), 3, 3, 2, 2, 1, 1, False,
            np.empty((N, C, 5, 5), F32)), (8,)


def _avg_pool2d_backward(rng, tiny):
    return (_images(rng, N, C, 5, 5, tiny=tiny), 3, 3, 2, 2, 1, 1, True,
            np.zeros((N, C, H, H), F32)), (8,)


def _taps(n, scale):
    dst = np.arange(n * scale)
    src = np.maximum((dst + 0.5) / scale - 0.5, 0.0)
    first = src.astype(np.intp)
    return first, np.minimum(first + 1, n - 1), (src - first).astype(F32)


def _interpolate2d(rng, tiny):
    return (_images(rng, N, C, 4, 4, tiny=tiny), *_taps(4, 2), *_taps(4, 2),
            np.empty((N, C, 8, 8), F32)), (7,)


def _interpolate2d_backward(rng, tiny):
    return (_images(rng, N, C, 8, 8, tiny=tiny), *_taps(4, 2), *_taps(4, 2),
            np.zeros((N, C, 4, 4), F32)), (7,)


def _tiles(h, pad=1):
    return ((h + 2 * pad - 2 + 1) // 2) ** 2


def _inputs(rng, tiny):
    return (_images(rng, N, C, H, H, tiny=tiny), 1, np.empty((16, C, N * _tiles(H)), F32)), (2,)


def _outputs(rng, tiny):
    return (_images(rng, 16, K, N * _tiles(H), tiny=tiny), _images(rng, K), True,
            np.empty((N, K, H, H), F32)), (3,)


def _pooled(rng, tiny):
    return (_images(rng, 16, K, N * _tiles(H), tiny=tiny), _images(rng, K), H, H,
            np.empty((N, K, 4, 4), F32), np.empty((N, K, 4, 4), np.int32)), (4, 5)


def _plane_products(rng, tiny):
    return (_images(rng, 16, K + 33, C + 20), _images(rng, 16, C + 20, 70, tiny=tiny),
            np.empty((16, K + 33, 70), F32)), (2,)


CASES = {f.__name__[1:]: f for f in (
    _im2col, _col2im, _rows_to_images, _images_to_rows, _conv_single, _conv_single_backward,
    _conv_single_unpooled, _conv_single_backward_unpooled,
    _bias_relu, _relu_mask_sum, _max_pool2d, _max_pool2d_backward, _max_pool2x2,
    _max_pool2x2_backward, _rows_to_pooled, _pooled_to_rows, _avg_pool2d, _avg_pool2d_backward,
    _interpolate2d, _interpolate2d_backward, _inputs, _outputs, _pooled, _plane_products)}
WINOGRAD = ("inputs", "outputs", "pooled", "plane_products")


def _written(kernel, build, flushed):
    args, written = build(_rng(), flushed)
    (fpenv.call_flushed if flushed else lambda f, *a: f(*a))(kernel, *args)
    return [args[i] for i in written]


@pytest.mark.parametrize("flushed", [False, True])
@pytest.mark.parametrize("name", sorted(CASES))
def test_parallel_twin_gives_the_serial_bits(name, flushed):
    module = kw if name in WINOGRAD else kc
    kernel = name.replace("_unpooled", "")
    serial, parallel = getattr(module, kernel), getattr(module, kernel + "_parallel")
    want = _written(serial, CASES[name], flushed)
    got = _written(parallel, CASES[name], flushed)
    for a, b in zip(want, got):
        np.testing.assert_array_equal(a, b)


def _weight_gradient_args(rng, parts, tiny=False, step=2):
    """Arguments of ``weight_gradient`` for a 3x3 convolution at stride 2, padding 1, dilation
    1 of ``N`` images in chunks of ``step`` (a partial last one), with ``parts`` parts."""
    x, rows = _images(rng, N, C, H, H, tiny=tiny), _images(rng, K, N * 25)
    m = step * 25
    return (x, rows, 3, 3, 2, 2, 1, 1, 1, 1, 5, 5, step, np.empty((parts, C * 9 * m), F32),
            np.empty((parts, K * m), F32), np.empty((-(-N // step), K, C * 9), F32),
            np.empty((K, C * 9), F32))


@pytest.mark.parametrize("flushed", [False, True])
def test_weight_gradient_at_any_part_count(flushed):
    """One part (the serial order on one thread), two and three on the threads: the same bits
    (the kernel has no serial twin: one thread runs nn.conv's chunk loop)."""
    run = fpenv.call_flushed if flushed else (lambda f, *a: f(*a))
    want = _weight_gradient_args(_rng(), 1, flushed)
    run(kc.weight_gradient_parallel, *want)
    for parts in (2, 3):
        got = _weight_gradient_args(_rng(), parts, flushed)
        run(kc.weight_gradient_parallel, *got)
        np.testing.assert_array_equal(got[-1], want[-1])
        np.testing.assert_array_equal(got[-2], want[-2])


def test_weight_gradient_against_numpy():
    """``gW[o, (c*3 + i)*3 + j] = sum over images and outputs of rows * x`` at the tap's
    pixel, the padded input read at stride 2 (float64 reference)."""
    args = _weight_gradient_args(_rng(), 2)
    kc.weight_gradient_parallel(*args)
    x, rows = args[0].astype(np.float64), args[1].astype(np.float64).reshape(K, N, 5, 5)
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    want = np.empty((K, C, 3, 3))
    for i in range(3):
        for j in range(3):
            patch = xp[:, :, i:i + 9:2, j:j + 9:2]             # (N, C, 5, 5)
            want[:, :, i, j] = np.einsum("knyx,ncyx->kc", rows, patch)
    np.testing.assert_allclose(args[-1], want.reshape(K, -1), rtol=1e-5, atol=1e-5)


def _convolve_args(rng, parts, pool, step=2, tiny=False):
    """Arguments of the Winograd ``convolve`` for ``N`` images ``H`` wide (padding 1) in
    chunks of ``step`` (a partial last one), with ``parts`` parts."""
    x, W = _images(rng, N, C, H, H, tiny=tiny), _images(rng, K, C, 3, 3)
    U = np.empty((16, K, C), F32)
    kw.weights(W, U)
    tiles = step * _tiles(H)
    shape = (N, K) + ((H // 2, H // 2) if pool else (H, H))
    return (x, U, _images(rng, K), 1, True, pool, step, np.empty((parts, 16 * C * tiles), F32),
            np.empty((parts, 16 * K * tiles), F32), np.empty(shape, F32),
            np.empty(shape if pool else (0, 0, 0, 0), np.int32)), W


@pytest.mark.parametrize("flushed", [False, True])
@pytest.mark.parametrize("pool", [False, True])
def test_winograd_convolve_at_any_part_count(pool, flushed):
    """One part, two and three: the same bits (no serial twin: one thread runs nn.winograd's
    chunk loop)."""
    run = fpenv.call_flushed if flushed else (lambda f, *a: f(*a))
    want, _ = _convolve_args(_rng(), 1, pool, tiny=flushed)
    run(kw.convolve_parallel, *want)
    for parts in (2, 3):
        got, _ = _convolve_args(_rng(), parts, pool, tiny=flushed)
        run(kw.convolve_parallel, *got)
        np.testing.assert_array_equal(got[-2], want[-2])
        np.testing.assert_array_equal(got[-1], want[-1])


def test_winograd_convolve_against_im2col():
    """The ReLU's output against ``conv2d`` (im2col and BLAS) within float32 rounding, and the
    pooled maxima and argmax against ``max_pool2x2`` of it, bit for bit."""
    from neurosim.nn.conv import conv2d
    args, W = _convolve_args(_rng(), 2, False)
    kw.convolve_parallel(*args)
    want = conv2d(args[0], W, args[2], padding=1, activation="relu").data
    assert np.abs(args[-2] - want).max() <= 1e-5 * np.abs(want).max()
    pooled, _ = _convolve_args(_rng(), 2, True)
    kw.convolve_parallel(*pooled)
    maxima, argmax = np.empty_like(pooled[-2]), np.empty(pooled[-2].shape, np.intp)
    kc.max_pool2x2(args[-2], maxima, argmax)
    np.testing.assert_array_equal(pooled[-2], maxima)
    np.testing.assert_array_equal(pooled[-1], argmax)


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="Numba has one thread")
@pytest.mark.parametrize("n, channels, side", [(6, 16, 32), (2, 64, 14)])
def test_winograd_layer_on_threads_against_one_thread(n, channels, side):
    """``conv2d_relu_max_pool2x2`` through Winograd at sizes that take the threaded paths
    (6 images of 32x32: runs of chunks for the convolution, its input gradient and its weight
    gradient; 2 images of 64 channels: one chunk, the transforms' and products' twins): the
    output and gradients of one thread within float32 rounding (the products differ: BLAS on
    one thread, the own GEMM on several)."""
    from neurosim.nn import Tensor
    from neurosim.nn.conv import conv2d_relu_max_pool2x2
    rng = _rng()
    x, W = _images(rng, n, channels, side, side), _images(rng, channels, channels, 3, 3)
    b, g = _images(rng, channels), _images(rng, n, channels, side // 2, side // 2)
    results = []
    before = numba.get_num_threads()
    try:
        for threads in (1, 2):
            numba.set_num_threads(threads)
            ts = [Tensor(a, requires_grad=True) for a in (x, W, b)]
            y = conv2d_relu_max_pool2x2(*ts, padding=1)
            y.backward(g)
            results.append([y.data] + [t.grad for t in ts])
    finally:
        numba.set_num_threads(before)
    for one, two in zip(*results):
        assert np.abs(one - two).max() <= 1e-5 * np.abs(one).max()


@pytest.mark.parametrize("n, most, parts", [(32, 17, 2), (32, 9, 2), (128, 8, 2), (5, 4, 2),
                                            (100, 7, 3), (7, 1, 2)])
def test_chunk_size_balances_the_runs(n, most, parts):
    """At most ``most`` images a chunk, and the runs of chunks of the threads within one
    chunk of each other."""
    from neurosim.nn.winograd import chunk_size
    step = chunk_size(n, most, parts)
    chunks = -(-n // step)
    runs = [sum(min(n, (i + 1) * step) - i * step
                for i in range(t * chunks // parts, (t + 1) * chunks // parts))
            for t in range(parts)]
    assert step <= most and sum(runs) == n and max(runs) - min(runs) <= step
