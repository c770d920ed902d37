"""Winograd F(2x2, 3x3) kernels of a 3x3 convolution (stride 1, dilation 1, one group, zero
padding 0, 1 or 2), NCHW, float32 or float64.

Each 2x2 block of outputs (a *tile*) comes from the 4x4 block of padded input around it:
``Y = A^T [(G w G^T) * (B^T d B)] A`` (``*`` element-wise), with

``G = [[1, 0, 0], [1/2, 1/2, 1/2], [1/2, -1/2, 1/2], [0, 0, 1]]`` (4x3),
``B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]`` (4x4),
``A^T = [[1, 1, 1, 0], [0, 1, -1, -1]]`` (2x4),

so that the sum over input channels becomes 16 matrix products, one per element ``e = 4a + b``
of the 4x4 transformed tile: ``M[e] = U[e] @ V[e]`` (2.25x fewer multiply-adds than the 9 taps
of im2col's product). Arrays:

- ``W`` (K, C, 3, 3): the filters, out channel by in channel (PyTorch's layout).
- ``U`` (16, K, C): ``G W[k, c] G^T`` for every (k, c), element ``e`` in plane ``e``.
- ``x`` (N, C, H, W): the images; ``pad`` the zero padding on each side, the output
  ``(oh, ow) = (H + 2 pad - 2, W + 2 pad - 2)``.
- ``V`` (16, C, T): ``B^T d B`` for every input channel and tile, ``T = N * th * tw`` tiles
  with ``(th, tw) = (ceil(oh / 2), ceil(ow / 2))``; tile ``(n * th + ty) * tw + tx`` holds
  outputs ``(2 ty .. 2 ty + 1, 2 tx .. 2 tx + 1)`` of image ``n`` and reads padded input rows
  and columns from ``2 ty`` and ``2 tx`` on (input ``(2 ty - pad, 2 tx - pad)`` on; where the
  output size is odd the last tiles reach past the padding and read zeros).
- ``M`` (16, K, T): the products; ``out`` (N, K, oh, ow) = ``A^T m A`` + bias (ReLU where
  asked), the parts of the last tiles past an odd output size dropped.

The transforms work an image (and channel) at a time, with contiguous loops over all of its
tiles where they can (see :func:`inputs` and :func:`outputs`). A tile is a 2x2 max-pool
window: :func:`pooled` gives the ReLU's pooled maxima and their argmax without laying the
convolution's output out. The checked entries, which run chunks of images whose ``V`` and ``M``
stay in L2 and make the 16 products of a chunk, are in :mod:`neurosim.nn.winograd`.

The transforms and :func:`plane_products` loop with ``prange`` over channels or planes, and
each is its serial dispatcher under its own name and its parallel twin with ``_parallel``
added (:func:`.threads.twins`: the same bits); :func:`convolve_parallel` (a whole call's
chunks) loops over runs of chunks. Each item flushes subnormals as its caller (:mod:`.fpenv`).
"""
import numpy as np
from numba import njit, prange

from .conv import _max4
from .fpenv import control_word, restore
from .gemm_large import gemm_serial
from .threads import twins


@njit(cache=True, inline="always")
def _tiles(size):
    """Tiles of 2 outputs along an axis of ``size`` outputs."""
    return (size + 1) // 2


@njit(cache=True, inline="always")
def _g(w0, w1, w2):
    """``G @ (w0, w1, w2)``: the four rows of the filter transform."""
    return w0, 0.5 * (w0 + w1 + w2), 0.5 * (w0 - w1 + w2), w2


@njit(cache=True)
def weights(W, U):
    """Fill ``U`` (16, K, C) with ``G W[k, c] G^T`` of the filters ``W`` (K, C, 3, 3):
    ``U[4 a + b, k, c]`` is element ``(a, b)`` of the 4x4 transform.

    The transforms go to a (K, C, 16) buffer first, then to ``U`` a plane at a time: storing
    each filter's 16 values straight into the 16 planes (``K * C`` values apart: 8 KB at 64 x
    32 float32, so that all fall in the same L1 sets) took 5x longer (0.10 against 0.02 ms).
    """
    n_out, n_in = W.shape[:2]
    T = np.empty((n_out, n_in, 16), W.dtype)
    t = np.empty((4, 3), W.dtype)
    for k in range(n_out):
        for c in range(n_in):
            w, u = W[k, c], T[k, c]
            for j in range(3):
                t[0, j], t[1, j], t[2, j], t[3, j] = _g(w[0, j], w[1, j], w[2, j])
            for a in range(4):
                u[4 * a], u[4 * a + 1], u[4 * a + 2], u[4 * a + 3] = _g(t[a, 0], t[a, 1],
                                                                          t[a, 2])
    for e in range(16):
        for k in range(n_out):
            for c in range(n_in):
                U[e, k, c] = T[k, c, e]


@njit(cache=True, inline="always")
def _pair(dst, a, b, sub, n):
    """``dst[f] = a[f] - b[f]`` where ``sub``, else ``a[f] + b[f]``, for ``f < n``: one store
    a step, so that LLVM vectorises the loop behind few runtime overlap checks (it gives up
    past 8: a loop storing the four rows of a transform at once stayed scalar)."""
    for f in range(n):
        dst[f] = a[f] - b[f] if sub else a[f] + b[f]


@njit(cache=True, inline="always")
def _triple(dst, a, b, c, sub, n):
    """``dst[f] = a[f] - b[f] - c[f]`` where ``sub``, else ``a[f] + b[f] + c[f]``, for
    ``f < n`` (as :func:`_pair`)."""
    for f in range(n):
        dst[f] = a[f] - b[f] - c[f] if sub else a[f] + b[f] + c[f]


@njit(cache=True, inline="always")
def _bt(r0, r1, r2, r3, d0, d1, d2, d3, n):
    """``(d0, d1, d2, d3) = B^T r`` for the four rows ``r`` (``r0 - r2, r1 + r2, r2 - r1,
    r1 - r3``), element by element over ``n``."""
    _pair(d0, r0, r2, True, n)
    _pair(d1, r1, r2, False, n)
    _pair(d2, r2, r1, True, n)
    _pair(d3, r1, r3, True, n)


@njit(cache=True, inline="always")
def _at(r0, r1, r2, r3, even, odd, n):
    """``(even, odd) = A^T r`` for the four rows ``r`` (``r0 + r1 + r2``, ``r1 - r2 - r3``),
    element by element over ``n``."""
    _triple(even, r0, r1, r2, False, n)
    _triple(odd, r1, r2, r3, True, n)


@njit(cache=True, inline="always")
def _activate(v, relu, zero):
    """The ReLU ``v if v > 0 else 0`` (as :func:`.conv.rows_to_images`) where ``relu``, else
    ``v``; ``zero`` of ``v``'s type."""
    return (v if v > zero else zero) if relu else v


def inputs(x, pad, V):
    """Fill ``V`` (16, C, T) with ``B^T d B`` of every 4x4 padded input tile ``d`` of ``x``
    (N, C, H, W) zero-padded by ``pad`` (see the module's layout).

    Per image and channel: the image is copied into the middle of a zeroed padded plane
    ``P`` (2 th + 2, 2 tw + 2) (its border, never written, stays zero); each of its rows ``r``
    that holds image pixels gives the column combinations of every tile column ``tx``, from
    the stride-2 windows of the row, in one loop per row: ``Z[r % 2, b, (r // 2) * tw + tx] =
    (d B)[r, b]`` (the other rows of ``Z`` stay zero). Then element ``(a, b)`` of every tile
    of the image combines two of ``Z[., b]``'s rows read at flat offsets ``f`` and ``f + tw``
    (tile ``f = ty * tw + tx`` meets padded rows ``2 ty .. 2 ty + 3``), in contiguous loops
    over the image's tiles (one per element, so that each vectorises). Rows are short
    (``tw`` tiles: 7 at 14x14), and a loop's vectorised body and overlap checks do not pay
    there: at 128 x 32 x 14 x 14, in chunks of 8 images, the column combinations as four
    vectorised loops per row took 1.3 ms, split into even and odd columns first 1.9 ms, as
    one scalar loop (this) 1.05 ms; the whole transform as one scalar loop per tile 1.17 ms.
    The channels are the parallel items, each with its own ``P`` and ``Z``.
    """
    n_img, n_ch, h, w = x.shape
    th, tw = _tiles(h + 2 * pad - 2), _tiles(w + 2 * pad - 2)
    per = th * tw
    word = control_word()
    for c in prange(n_ch):
        own = control_word()
        restore(word)
        P = np.zeros((2 * th + 2, 2 * tw + 2), x.dtype)
        Z = np.zeros((2, 4, (th + 1) * tw), x.dtype)
        for n in range(n_img):
            t0 = n * per
            for y in range(h):
                src, dst = x[n, c, y], P[y + pad, pad:pad + w]
                for q in range(w):
                    dst[q] = src[q]
            for r in range(pad, pad + h):       # (the other rows of P and Z stay zero)
                p, s, z = P[r], (r // 2) * tw, Z[r % 2]
                z0, z1, z2, z3 = z[0, s:], z[1, s:], z[2, s:], z[3, s:]
                for k in range(tw):
                    p0, p1, p2, p3 = p[2 * k], p[2 * k + 1], p[2 * k + 2], p[2 * k + 3]
                    z0[k] = p0 - p2
                    z1[k] = p1 + p2
                    z2[k] = p2 - p1
                    z3[k] = p1 - p3
            for b in range(4):
                ze, zo = Z[0, b], Z[1, b]
                _bt(ze, zo, ze[tw:], zo[tw:], V[b, c, t0:], V[4 + b, c, t0:], V[8 + b, c, t0:],
                    V[12 + b, c, t0:], per)
        restore(own)


@njit(cache=True, inline="always")
def _tile_rows(M, k, t0, per, R):
    """``R[s, b, f]`` (2, 4, per): row ``s`` of ``A^T m`` of tiles ``t0 .. t0 + per - 1`` of
    out channel ``k`` of ``M`` (16, K, T), in one contiguous loop per element."""
    for b in range(4):
        _at(M[b, k, t0:], M[4 + b, k, t0:], M[8 + b, k, t0:], M[12 + b, k, t0:], R[0, b],
            R[1, b], per)


@njit(cache=True, inline="always")
def _row_pair(R, s, f, beta, relu, zero):
    """Outputs ``(2 ty + s, 2 tx)`` and ``(2 ty + s, 2 tx + 1)`` of tile ``f = ty * tw + tx``
    from its rows ``R`` (:func:`_tile_rows`), plus ``beta``, through the ReLU where ``relu``."""
    return (_activate(R[s, 0, f] + R[s, 1, f] + R[s, 2, f] + beta, relu, zero),
            _activate(R[s, 1, f] - R[s, 2, f] - R[s, 3, f] + beta, relu, zero))


def outputs(M, bias, relu, out):
    """Fill ``out`` (N, K, oh, ow) with ``A^T m A + bias[k]`` (then the ReLU where
    ``relu``) of every tile ``m`` of ``M`` (16, K, T) (see the module's layout).

    Per out channel and image, in contiguous loops over the image's tiles: the rows of the
    tiles' ``A^T m`` into ``R`` (2, 4, th * tw), then the outputs with their bias (and ReLU)
    into ``Y`` (2, 2 th tw): ``Y[s, 2 f + t]`` the output at ``(2 ty + s, 2 tx + t)`` of tile
    ``f = ty * tw + tx``, so that output row ``2 ty + s`` is ``Y[s]`` from ``2 ty tw`` on.
    (Storing the tiles' four outputs straight into ``out``, strided, took 7 ms against this
    1.1 ms at 128 x 64 x 14 x 14 in chunks of 8 images.) The out channels are the parallel
    items, each with its own ``R`` and ``Y``.
    """
    n_img, n_out, oh, ow = out.shape
    th, tw = _tiles(oh), _tiles(ow)
    per = th * tw
    zero = out.dtype.type(0)
    word = control_word()
    for k in prange(n_out):
        own = control_word()
        restore(word)
        R = np.empty((2, 4, per), out.dtype)
        Y = np.empty((2, 2 * per), out.dtype)
        beta = bias[k]
        for n in range(n_img):
            t0 = n * per
            _tile_rows(M, k, t0, per, R)
            for s in range(2):
                y = Y[s]
                for f in range(per):
                    y[2 * f], y[2 * f + 1] = _row_pair(R, s, f, beta, relu, zero)
            for row in range(oh):
                src, dst = Y[row % 2, (row // 2) * 2 * tw:], out[n, k, row]
                for q in range(ow):
                    dst[q] = src[q]
        restore(own)


def pooled(M, bias, oh, ow, out, argmax):
    """Fill ``out`` (N, K, ph, pw) with the 2x2 max-pool (stride 2) of the ReLU of ``A^T m A +
    bias[k]`` and ``argmax`` (same shape, int32) with each window's flat index ``y * ow + x``
    in the convolution's plane ((oh, ow) its size): a tile is a pool window, so the
    convolution's output is never laid out. The values and indices of :func:`outputs` with
    the ReLU then :func:`.conv.max_pool2x2` (the first maximum in row-major order), bit for
    bit; the tiles of an odd last row or column, in no window, are not read. (One scalar
    loop a tile: laying the ReLU's output out a row pair at a time as :func:`outputs` does
    and pooling it with ``max_pool2x2``'s row kernel took 2.16 ms against 1.91 at 128 x 64
    x 14 x 14.) The out channels are the parallel items, each with its own ``R``."""
    n_img, n_out, ph, pw = out.shape
    tw = _tiles(ow)
    per = _tiles(oh) * tw
    zero = out.dtype.type(0)
    word = control_word()
    for k in prange(n_out):
        own = control_word()
        restore(word)
        R = np.empty((2, 4, per), out.dtype)
        beta = bias[k]
        for n in range(n_img):
            _tile_rows(M, k, n * per, per, R)
            for ty in range(ph):
                for tx in range(pw):
                    a, b = _row_pair(R, 0, ty * tw + tx, beta, True, zero)
                    c, d = _row_pair(R, 1, ty * tw + tx, beta, True, zero)
                    out[n, k, ty, tx], argmax[n, k, ty, tx] = _max4(a, b, c, d,
                                                                    2 * ty * ow + 2 * tx, ow)
        restore(own)


def plane_products(U, V, M):
    """``M[e] = U[e] @ V[e]`` for the 16 planes, (16, K, C) @ (16, C, T) -> (16, K, T), all
    C-contiguous of one dtype: one serial product of :mod:`.gemm_large` a plane, the planes
    the parallel items (each thread flushing subnormals as its caller: :mod:`.fpenv`)."""
    word = control_word()
    for e in prange(U.shape[0]):
        own = control_word()
        restore(word)
        gemm_serial(U[e], V[e], M[e], False, False, False)
        restore(own)


#: each kernel above written with ``prange`` is its serial dispatcher under its own name, and
#: its parallel twin (:func:`.threads.twins`: the same bits) with ``_parallel`` added
inputs, inputs_parallel = twins(inputs)
outputs, outputs_parallel = twins(outputs)
pooled, pooled_parallel = twins(pooled)
plane_products, plane_products_parallel = twins(plane_products)


@njit(cache=True, parallel=True)
def convolve_parallel(x, U, bias, pad, relu, pool, step, V, M, out, argmax):
    """The whole convolution of ``x`` (N, C, H, W) by the filters' transforms ``U``
    (16, K, C) plus ``bias`` (K,), over chunks of ``step`` images: :func:`inputs`, the 16
    products (serial own GEMMs, :mod:`.gemm_large`) and :func:`outputs` into ``out``
    (N, K, oh, ow) (the ReLU where ``relu``), or, where ``pool``, :func:`pooled` into ``out``
    (N, K, oh // 2, ow // 2) and ``argmax`` (same shape, int32; unused otherwise).

    ``V`` (P, 16 * C * step * th * tw) and ``M`` (P, 16 * K * step * th * tw) hold a chunk's
    transformed inputs and products for each of P parts, the parallel items, each a run of
    consecutive chunks on its thread (a chunk's ``V`` and ``M`` stay in its core's L2, and a
    call has one parallel loop, not three a chunk); a chunk's values do not depend on the part
    that makes them (tested: one part against two and three). Only the parallel kernel: one
    thread runs the chunk loop of :mod:`neurosim.nn.winograd` with the same own-GEMM planes
    (the same bits).
    """
    n_img, n_in = x.shape[:2]
    n_out = U.shape[1]
    oh, ow = x.shape[2] + 2 * pad - 2, x.shape[3] + 2 * pad - 2
    per = _tiles(oh) * _tiles(ow)
    n_chunks = -(-n_img // step)
    parts = V.shape[0]
    word = control_word()
    for t in prange(parts):
        own = control_word()
        restore(word)
        for i in range(t * n_chunks // parts, (t + 1) * n_chunks // parts):
            lo, hi = i * step, min(n_img, (i + 1) * step)
            tiles = (hi - lo) * per
            Vc = V[t, :16 * n_in * tiles].reshape(16, n_in, tiles)
            Mc = M[t, :16 * n_out * tiles].reshape(16, n_out, tiles)
            inputs(x[lo:hi], pad, Vc)
            for e in range(16):
                gemm_serial(U[e], Vc[e], Mc[e], False, False, False)
            if pool:
                pooled(Mc, bias, oh, ow, out[lo:hi], argmax[lo:hi])
            else:
                outputs(Mc, bias, relu, out[lo:hi])
        restore(own)

