"""Compiled kernels of the nn engine's convolutions and pooling, with dilation and padding.

Images are NCHW, C-contiguous. ``im2col`` lays every (dilated) receptive field out as a column
of a ``(channels * kh * kw, batch * out_h * out_w)`` matrix, so that a convolution is one GEMM
(one per group: a group's rows are a contiguous block); ``col2im`` is its adjoint. The GEMM
gives ``(out_channels, batch * out_h * out_w)``; :func:`rows_to_images` turns that into NCHW
while adding the bias and applying a ReLU in the same pass, and :func:`images_to_rows` is its
backward (the ReLU's mask, the layout change and the bias gradient in one pass).
:func:`conv_single` convolves one-channel images directly (every tap one multiply-add over a
padded plane) and :func:`max_pool2x2` is the common 2x2 pool unrolled. Pooling takes
zero (average) or minus-infinity (maximum) padding and any output size (PyTorch's
``ceil_mode``): windows are clipped to the image. :func:`interpolate2d` is up-sampling's
two-tap blend. Backward kernels add into zeroed arrays (except :func:`col2im`, which writes
every pixel, and :func:`max_pool2x2_backward`, which writes every pixel its windows cover).

The kernels that loop over images, channels or blocks of rows are written with ``prange``
over those items, none of which reads what another writes, and each is its serial dispatcher
under its own name and its parallel twin under the name with ``_parallel`` added
(:func:`.threads.twins`: the same bits; the caller picks by work, :data:`PARALLEL_VALUES`).
A sum over the items (a bias or weight gradient over images) is the same in both twins: the
items are then the out channels, each summing over the images itself in order, or blocks of
items (images, rows, chunks of images), each summing its own terms in order into its row of
a work array, the blocks' sums added in order after the loop. Each item sets its thread's
subnormal flushing to its caller's (:mod:`.fpenv`).
"""
import numpy as np
from numba import njit, prange

from .fpenv import control_word, restore
from .gemm_large import gemm_serial
from .threads import twins

#: values a call writes from which the parallel twin pays for its threads' start (a few
#: microseconds)
PARALLEL_VALUES = 1 << 15
#: rows of :func:`bias_relu` and :func:`relu_mask_sum` in a parallel item
BLOCK = 64
#: images in a parallel item of :func:`conv_single` and its backward (its buffers made once)
IMAGES = 4


@njit(cache=True, inline="always")
def _blocks(n, size):
    """Blocks of ``size`` items in ``n`` (the last one partial)."""
    return -(-n // size)


@njit(cache=True, inline="always")
def _span(block, size, n):
    """The bounds ``lo, hi`` of block ``block`` of ``size`` items in ``n``."""
    return block * size, min(n, (block + 1) * size)


@njit(cache=True)
def _pad_channel(x, c, ph, pw, xp):
    """Copy channel ``c`` of every image of ``x`` (N, C, H, W) into the middle of ``xp``
    (N, H + 2*ph, W + 2*pw), whose border stays as it is (zero)."""
    n_img, h, w = x.shape[0], x.shape[2], x.shape[3]
    for n in range(n_img):
        for y in range(h):
            src, dst = x[n, c, y], xp[n, y + ph, pw:pw + w]
            for q in range(w):
                dst[q] = src[q]


def im2col(x, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, cols):
    """Fill ``cols`` (C*kh*kw, N*oh*ow) with the zero-padded receptive fields of ``x``
    (N, C, H, W): kernel tap ``(i, j)`` reads pixel ``(oy*sh - ph + i*dh, ox*sw - pw + j*dw)``.

    Row ``(c*kh + i)*kw + j`` holds input channel ``c`` at tap ``(i, j)`` (a group's channels
    are a block of rows); column ``(n*oh + oy)*ow + ox`` is output position ``(oy, ox)`` of
    image ``n``. Each channel is zero-padded once into a buffer, so that every row segment
    is a plain copy with no bounds tests (at stride 1 a contiguous one that vectorises:
    1.5-1.8x the bounds-tested loop at 4x32x14x14 and 4x16x28x28, float32). The channels
    are the parallel items (each writes its own rows).
    """
    n_img, n_ch = x.shape[:2]
    for c in prange(n_ch):
        xp = np.zeros((n_img, x.shape[2] + 2 * ph, x.shape[3] + 2 * pw), x.dtype)
        _pad_channel(x, c, ph, pw, xp)
        for i in range(kh):
            for j in range(kw):
                row = cols[(c * kh + i) * kw + j]
                for n in range(n_img):
                    for oy in range(oh):
                        src = xp[n, oy * sh + i * dh, j * dw:]
                        dst = row[(n * oh + oy) * ow:(n * oh + oy + 1) * ow]
                        if sw == 1:
                            for ox in range(ow):
                                dst[ox] = src[ox]
                        else:
                            for ox in range(ow):
                                dst[ox] = src[ox * sw]


def col2im(cols, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, x):
    """Write into ``x`` (N, C, H, W) the sums of the columns of ``cols`` at the pixels they
    came from: the adjoint of :func:`im2col` with the same arguments (padding positions are
    dropped; a pixel in no receptive field gets 0), so ``x`` need not be zeroed.

    Each channel is summed in a zeroed padded buffer, every row segment added with no bounds
    tests (at stride 1 over two slices indexed by the loop counter alone, so that Numba drops
    its negative-index test and the loop vectorises), then its middle copied to ``x``. The
    channels are the parallel items; each thread keeps its caller's subnormal flushing
    (:mod:`.fpenv`)."""
    n_img, n_ch, h, w = x.shape
    word = control_word()
    for c in prange(n_ch):
        own = control_word()
        restore(word)
        xp = np.zeros((n_img, h + 2 * ph, w + 2 * pw), x.dtype)
        for i in range(kh):
            for j in range(kw):
                row = cols[(c * kh + i) * kw + j]
                for n in range(n_img):
                    for oy in range(oh):
                        dst = xp[n, oy * sh + i * dh, j * dw:]
                        src = row[(n * oh + oy) * ow:(n * oh + oy + 1) * ow]
                        if sw == 1:
                            for ox in range(ow):
                                dst[ox] += src[ox]
                        else:
                            for ox in range(ow):
                                dst[ox * sw] += src[ox]
        for n in range(n_img):
            for y in range(h):
                src, dst = xp[n, y + ph, pw:pw + w], x[n, c, y]
                for q in range(w):
                    dst[q] = src[q]
        restore(own)


@njit(cache=True, inline="always")
def _add_bias(src, b, relu, dst):
    """``dst[p] = act(src[p] + b)`` over the 1-D ``src`` and ``dst`` of one size; ``act`` is
    the ReLU (``v if v > 0 else 0``) when ``relu``, else the identity."""
    zero = dst.dtype.type(0)
    if relu:
        for p in range(dst.size):
            v = src[p] + b
            dst[p] = v if v > zero else zero
    else:
        for p in range(dst.size):
            dst[p] = src[p] + b


def rows_to_images(src, bias, relu, dst):
    """``dst[n, o, p] = act(src[o, n*P + p] + bias[o])`` for ``dst`` (N, O, P) from the GEMM's
    ``src`` (O, N*P); ``act`` is the ReLU (``v if v > 0 else 0``) when ``relu``, else the
    identity. Loads and stores both run in order; the images are the parallel items."""
    n_img, n_out, size = dst.shape
    word = control_word()
    for n in prange(n_img):
        own = control_word()
        restore(word)
        for o in range(n_out):
            _add_bias(src[o, n * size:(n + 1) * size], bias[o], relu, dst[n, o])
        restore(own)


@njit(cache=True, fastmath={"reassoc", "nsz"})
def _sum(a):
    """The sum of ``a`` in float64 SIMD lanes. Every kernel that needs a gradient plane's sum
    calls this one loop on the plane it has written, so that a fused kernel and the unfused
    pair it replaces get the same sum bit for bit (the lanes' order is the vectoriser's, which
    sees only this loop; the fused tests check the equality)."""
    total = 0.0
    for p in range(a.size):
        total += a[p]
    return total


@njit(cache=True)
def _masked_copy(s, y, relu, d):
    """``d[:n] = s`` where ``y > 0`` (all of ``s`` unless ``relu``), 0 elsewhere, ``n =
    s.size``. Both loads are unconditional, so the mask is a select (a branch mispredicts half
    the time on random signs: 20x slower)."""
    zero = s.dtype.type(0)
    for p in range(s.size):
        v = s[p]
        keep = (y[p] > zero) or not relu
        d[p] = v if keep else zero


def images_to_rows(g, out, relu, dst, gb):
    """Backward of :func:`rows_to_images`: ``dst[o, n*P + p]`` (O, N*P) receives ``g[n, o, p]``
    (zeroed where the ReLU's output ``out`` is not positive, when ``relu``), and ``gb`` (O,),
    float64, its sum over images and positions (the bias gradient), added image by image. The
    out channels are the parallel items."""
    n_img, n_out, size = g.shape
    word = control_word()
    for o in prange(n_out):
        own = control_word()
        restore(word)
        gb[o] = 0.0
        for n in range(n_img):
            d = dst[o, n * size:(n + 1) * size]
            _masked_copy(g[n, o], out[n, o], relu, d)
            gb[o] += _sum(d)
        restore(own)


@njit(cache=True)
def _pad_plane(x, ph, pw, xp):
    """Copy the plane ``x`` (H, W) into the zeroed flat buffer ``xp`` as rows of
    ``W + 2*pw`` starting at row ``ph``, column ``pw`` (the padding and tail stay zero)."""
    h, w = x.shape
    wp = w + 2 * pw
    for y in range(h):
        row = (y + ph) * wp + pw
        for q in range(w):
            xp[row + q] = x[y, q]


@njit(cache=True, fastmath={"reassoc", "nsz"})
def _dot(a, b):
    """``sum(a * b)`` in SIMD lanes of the arrays' dtype (float64 lanes run float32 at half the
    speed)."""
    total = a.dtype.type(0)
    for q in range(a.size):
        total += a[q] * b[q]
    return total


@njit(cache=True, fastmath={"reassoc", "nsz"})
def _dot3(a, b, start, step):
    """The three sums ``sum(a * b[s:s + a.size])`` at ``s = start, start + step,
    start + 2*step``, in one pass over ``a``."""
    size = a.size
    b0, b1, b2 = b[start:start + size], b[start + step:start + step + size], \
        b[start + 2 * step:start + 2 * step + size]
    t0 = t1 = t2 = a.dtype.type(0)
    for q in range(size):
        v = a[q]
        t0 += v * b0[q]
        t1 += v * b1[q]
        t2 += v * b2[q]
    return t0, t1, t2


@njit(cache=True)
def _axpy(a, x, y):
    """``y += a * x``."""
    for q in range(y.size):
        y[q] += a * x[q]


@njit(cache=True)
def _axpy3(a0, a1, a2, x, start, step, y):
    """``y += a0 * x[s:s + n]``, then ``+= a1 * x[s + step:...]``, then ``+= a2 * x[s +
    2*step:...]`` for ``s = start``, ``n = y.size``, in one pass over ``y``: the sums of three
    :func:`_axpy` rounded in the same order, with a third of the loads and stores of ``y``."""
    size = y.size
    x0, x1 = x[start:start + size], x[start + step:start + step + size]
    x2 = x[start + 2 * step:start + 2 * step + size]
    for q in range(size):
        v = y[q]
        v += a0 * x0[q]
        v += a1 * x1[q]
        v += a2 * x2[q]
        y[q] = v


@njit(cache=True)
def _taps3x3(xp, w, dh, dw, wp, acc):
    """:func:`_correlate` of a 3x3 kernel in one pass over ``acc``: each output the same nine
    products added to 0 in the same order, with no loads and stores of ``acc`` between taps
    (1.55 -> 1.09 ms for 32 planes of 28x30 on 128 images, float32)."""
    size, r, c = acc.size, dh * wp, dw
    x0, x1, x2 = xp[0:size], xp[c:c + size], xp[2 * c:2 * c + size]
    x3, x4, x5 = xp[r:r + size], xp[r + c:r + c + size], xp[r + 2 * c:r + 2 * c + size]
    r *= 2
    x6, x7, x8 = xp[r:r + size], xp[r + c:r + c + size], xp[r + 2 * c:r + 2 * c + size]
    w0, w1, w2, w3, w4, w5, w6, w7, w8 = w[0, 0], w[0, 1], w[0, 2], w[1, 0], w[1, 1], \
        w[1, 2], w[2, 0], w[2, 1], w[2, 2]
    zero = acc.dtype.type(0)
    for q in range(size):
        v = zero
        v += w0 * x0[q]
        v += w1 * x1[q]
        v += w2 * x2[q]
        v += w3 * x3[q]
        v += w4 * x4[q]
        v += w5 * x5[q]
        v += w6 * x6[q]
        v += w7 * x7[q]
        v += w8 * x8[q]
        acc[q] = v


@njit(cache=True)
def _correlate(xp, w, dh, dw, wp, acc):
    """``acc`` (rows * wp) = the sum over taps ``(i, j)`` in row-major order of ``w[i, j] *
    xp[i*dh*wp + j*dw:...]`` (added to 0 in that order): one output plane over the padded
    rows ``wp`` wide, each tap one multiply-add over the plane; a 3x3 kernel in one pass
    (:func:`_taps3x3`), others three taps of a kernel row in each pass."""
    kh, kw = w.shape
    if kh == 3 and kw == 3:
        _taps3x3(xp, w, dh, dw, wp, acc)
        return
    size = acc.size
    acc[:] = 0
    for i in range(kh):
        j = 0
        while j + 3 <= kw:
            _axpy3(w[i, j], w[i, j + 1], w[i, j + 2], xp, i * dh * wp + j * dw, dw, acc)
            j += 3
        for j in range(j, kw):
            start = i * dh * wp + j * dw
            _axpy(w[i, j], xp[start:start + size], acc)


def conv_single(x, W, bias, ph, pw, dh, dw, relu, pool, out, argmax):
    """Direct stride-1 convolution of one-channel images: the output ``act(bias[o] +
    sum_ij W[o, 0, i, j] * x[n, 0, y - ph + i*dh, q - pw + j*dw])`` (N, O, oh, ow) for ``x``
    (N, 1, H, W) zero-padded, ``W`` (O, 1, kh, kw) (``act`` the ReLU when ``relu``) goes to
    ``out``; when ``pool``, its ReLU (whatever ``relu``) goes through the 2x2/stride-2
    max-pool instead: ``out`` (N, O, oh // 2, ow // 2) receives the maxima and ``argmax``
    (same shape, integer; unused otherwise) their flat indices ``y*ow + x`` in the plane, the
    values and indices of :func:`max_pool2x2` on the unpooled output.

    Each image is padded once into a flat buffer of rows ``W + 2*pw`` wide; an output plane is
    accumulated over the same width (the extra columns are dropped) by :func:`_correlate`, so
    every tap is one contiguous multiply-add over the plane (on slices: an index ``start + q``
    would keep Numba's negative-index test in the loop and stop it vectorising, 7x slower):
    no patch matrix, and the bias and ReLU (and the pool) in the pass that reads the plane.
    When pooling, only the rows that the windows cover are computed. Blocks of
    :data:`IMAGES` images are the parallel items, each with its own buffers.
    """
    n_img, h, w = x.shape[0], x.shape[2], x.shape[3]
    n_out, kh, kw = W.shape[0], W.shape[2], W.shape[3]
    oh, ow = h + 2 * ph - dh * (kh - 1), w + 2 * pw - dw * (kw - 1)
    wp = w + 2 * pw
    word = control_word()
    for block in prange(_blocks(n_img, IMAGES)):
        own = control_word()
        restore(word)
        xp = np.zeros((h + 2 * ph) * wp + (kw - 1) * dw, x.dtype)
        acc = np.empty((2 * out.shape[2] if pool else oh) * wp, x.dtype)
        rows = acc.reshape(acc.size // wp, wp)
        lo, hi = _span(block, IMAGES, n_img)
        for n in range(lo, hi):
            _pad_plane(x[n, 0], ph, pw, xp)
            for o in range(n_out):
                _correlate(xp, W[o, 0], dh, dw, wp, acc)
                b = bias[o]
                if pool:
                    _pool_plane(rows, b, True, ow, out[n, o], argmax[n, o])
                    continue
                for y in range(oh):
                    _add_bias(acc[y * wp:y * wp + ow], b, relu, out[n, o, y])
        restore(own)


@njit(cache=True)
def _plane_backward(gm, xp, w, dh, dw, wp, want_x, gw, gxp):
    """Gradients of one output plane of :func:`conv_single` from its masked gradient ``gm``
    (oh*wp, over the padded rows; the extra columns 0): ``gw`` (kh*kw,), float64, adds
    ``sum(gm * xp[tap's start:...])`` per tap; when ``want_x``, ``gxp`` (the padded input's
    gradient) adds ``w[i, j] * gm`` at each tap."""
    kh, kw = w.shape
    size = gm.size
    for i in range(kh):
        j = 0
        while j + 3 <= kw:
            t0, t1, t2 = _dot3(gm, xp, i * dh * wp + j * dw, dw)
            gw[i * kw + j] += t0
            gw[i * kw + j + 1] += t1
            gw[i * kw + j + 2] += t2
            j += 3
        for j in range(j, kw):
            start = i * dh * wp + j * dw
            gw[i * kw + j] += _dot(gm, xp[start:start + size])
        for j in range(kw if want_x else 0):
            start = i * dh * wp + j * dw
            _axpy(w[i, j], gm, gxp[start:start + size])


def conv_single_backward(g, out, argmax, x, W, ph, pw, dh, dw, relu, pool, want_x, gx, gW,
                         gb):
    """Backward of :func:`conv_single` for the gradient ``g`` of its output ``out`` (both
    (N, O, oh, ow), ``g`` masked where ``out`` is not positive when ``relu``; when ``pool``,
    both (N, O, oh // 2, ow // 2) with ``argmax``: each window's gradient goes to its
    ``argmax`` where its output is positive, 0 elsewhere, as :func:`max_pool2x2_backward`
    then the ReLU's mask would give): ``gW`` (O, kh*kw) and ``gb`` (O,), float64, receive the
    weight and bias gradients; when ``want_x``, ``gx`` (N, 1, H, W) the input's. Each masked
    plane is written straight into the padded rows (row by row, or unpooled), then summed
    (:func:`_sum`) and correlated with the input: the same sums in the same order with and
    without ``pool``.

    Blocks of :data:`IMAGES` images are the parallel items, each with its own buffers,
    summing its images' terms of ``gW`` and ``gb`` in order into its rows of two work arrays;
    the blocks' sums are added in order after the loop.
    """
    n_img, h, w = x.shape[0], x.shape[2], x.shape[3]
    n_out, kh, kw = W.shape[0], W.shape[2], W.shape[3]
    oh, ow = h + 2 * ph - dh * (kh - 1), w + 2 * pw - dw * (kw - 1)
    wp = w + 2 * pw
    blocks = _blocks(n_img, IMAGES)
    sums_w = np.zeros((blocks, n_out, kh * kw))     # each block's sums of gW's and gb's terms
    sums_b = np.zeros((blocks, n_out))
    word = control_word()
    for block in prange(blocks):
        own = control_word()
        restore(word)
        xp = np.zeros((h + 2 * ph) * wp + (kw - 1) * dw, x.dtype)
        gxp = np.zeros(xp.size if want_x else 0, x.dtype)
        gm = np.zeros(oh * wp, x.dtype)     # the columns past ow (and, pooled, those outside
        rows = gm.reshape(oh, wp)           # every window) stay 0
        masked = np.empty(0 if pool else oh * ow, x.dtype)
        lo, hi = _span(block, IMAGES, n_img)
        for n in range(lo, hi):
            _pad_plane(x[n, 0], ph, pw, xp)
            if want_x:
                gxp[:] = 0
            for o in range(n_out):
                if pool:
                    _unpool_plane(g[n, o], out[n, o], True, argmax[n, o], ow, rows)
                else:
                    _masked_copy(g[n, o].reshape(oh * ow), out[n, o].reshape(oh * ow), relu,
                                 masked)
                    for y in range(oh):
                        src, dst = masked[y * ow:(y + 1) * ow], rows[y]
                        for q in range(ow):
                            dst[q] = src[q]
                sums_b[block, o] += _sum(gm)
                _plane_backward(gm, xp, W[o, 0], dh, dw, wp, want_x, sums_w[block, o], gxp)
            if want_x:
                for y in range(h):
                    row = (y + ph) * wp + pw
                    gx[n, 0, y] = gxp[row:row + w]
        restore(own)
    gW[:] = 0.0
    gb[:] = 0.0
    for block in range(blocks):
        gW += sums_w[block]
        gb += sums_b[block]


def bias_relu(out, bias, relu):
    """In place over the rows of ``out`` (R, F): ``out += bias`` and, when ``relu``, the ReLU.
    Blocks of :data:`BLOCK` rows are the parallel items."""
    zero = out.dtype.type(0)
    n_rows = out.shape[0]
    word = control_word()
    for block in prange(_blocks(n_rows, BLOCK)):
        own = control_word()
        restore(word)
        lo, hi = _span(block, BLOCK, n_rows)
        for r in range(lo, hi):
            row = out[r]
            if relu:
                for j in range(row.size):
                    v = row[j] + bias[j]
                    row[j] = v if v > zero else zero
            else:
                for j in range(row.size):
                    row[j] += bias[j]
        restore(own)


def relu_mask_sum(g, out, gx, gb):
    """``gx = g`` where ``out > 0`` else 0 (the ReLU's backward from its output, (R, F)), and
    ``gb`` (F,), float64, the column sums of ``gx`` (the bias gradient). Blocks of
    :data:`BLOCK` rows are the parallel items: each sums its rows in order into its own row of
    a work array, and the blocks' sums are added in order after the loop. (Blocks of columns,
    each summing all the rows, kept the row-by-row order but cost 1.8x on one thread at
    256 x 1024: a short loop's setup per row and block.)"""
    zero = g.dtype.type(0)
    n_rows, n_cols = g.shape
    sums = np.zeros((_blocks(n_rows, BLOCK), n_cols))
    word = control_word()
    for block in prange(sums.shape[0]):
        own = control_word()
        restore(word)
        total = sums[block]
        lo, hi = _span(block, BLOCK, n_rows)
        for r in range(lo, hi):
            gr, yr, dr = g[r], out[r], gx[r]
            for j in range(n_cols):
                v = gr[j]
                keep = yr[j] > zero
                v = v if keep else zero
                dr[j] = v
                total[j] += v
        restore(own)
    gb[:] = 0.0
    for block in range(sums.shape[0]):
        gb += sums[block]


@njit(cache=True)
def _window(o, s, p, k, n):
    """Start and end (clipped to ``[0, n)``) of window ``o`` and its size within the padded
    extent ``[-p, n + p)``."""
    start = o * s - p
    end = min(start + k, n + p)
    size = end - start
    return max(start, 0), min(end, n), size


def max_pool2d(x, kh, kw, sh, sw, ph, pw, out, argmax):
    """Window maxima of ``x`` (N, C, H, W) into ``out`` (N, C, oh, ow), windows starting at
    ``(oy*sh - ph, ox*sw - pw)`` and clipped to the image (padding counts as minus infinity);
    ``argmax`` (same shape, integer) receives the flat in-plane index ``y*W + x`` of each
    window's first maximum (a NaN wins, as in PyTorch)."""
    n_img, n_ch, oh, ow = out.shape
    h, w = x.shape[2], x.shape[3]
    word = control_word()
    for n in prange(n_img):
        own = control_word()
        restore(word)
        for c in range(n_ch):
            plane = x[n, c]
            for oy in range(oh):
                y0, y1, _ = _window(oy, sh, ph, kh, h)
                for ox in range(ow):
                    x0, x1, _ = _window(ox, sw, pw, kw, w)
                    best = plane[y0, x0]
                    where = y0 * w + x0
                    for yy in range(y0, y1):
                        for xx in range(x0, x1):
                            v = plane[yy, xx]
                            if v > best or v != v:
                                best = v
                                where = yy * w + xx
                    out[n, c, oy, ox] = best
                    argmax[n, c, oy, ox] = where
        restore(own)


def max_pool2d_backward(g, argmax, dx):
    """Add each output gradient ``g`` (N, C, oh, ow) to its window's maximum in the zeroed
    ``dx`` (N, C, H, W)."""
    n_img, n_ch, oh, ow = g.shape
    w = dx.shape[3]
    word = control_word()
    for n in prange(n_img):
        own = control_word()
        restore(word)
        for c in range(n_ch):
            for oy in range(oh):
                for ox in range(ow):
                    where = argmax[n, c, oy, ox]
                    dx[n, c, where // w, where % w] += g[n, c, oy, ox]
        restore(own)


@njit(cache=True)
def _takes(v, best):
    """Whether a max-pool window's next value ``v`` replaces ``best``: larger, or a NaN."""
    return (v > best) | (v != v)


@njit(cache=True, inline="always")
def _max4(a, b, c, d, at, w):
    """The first maximum of the 2x2 window ``a b / c d`` (row-major order, a NaN wins) and
    its flat index: ``at`` for ``a``, ``+ 1`` right, ``+ w`` below. Each comparison a select."""
    best, where = a, at
    t = _takes(b, best)
    best, where = (b, at + 1) if t else (best, where)
    t = _takes(c, best)
    best, where = (c, at + w) if t else (best, where)
    t = _takes(d, best)
    return (d, at + w + 1) if t else (best, where)


@njit(cache=True, inline="always")
def _pool_row(top, bottom, bias, relu, first, w, out, argmax):
    """One row of 2x2 windows over the rows ``top`` and ``bottom`` of a plane ``w`` wide:
    ``out[q]`` (Q,) the maximum of ``top[2q], top[2q + 1], bottom[2q], bottom[2q + 1]``, each
    value taken as ``max(v + bias, 0)`` (0 for a NaN) when ``relu`` and as it is otherwise
    (``bias`` unused); ``argmax[q]`` its flat index in the plane, ``first + 2q`` for
    ``top[2q]`` (:func:`_max4`). One loop for each case, so that each vectorises."""
    zero = out.dtype.type(0)
    if relu:
        for q in range(out.size):
            a, b = top[2 * q] + bias, top[2 * q + 1] + bias
            c, d = bottom[2 * q] + bias, bottom[2 * q + 1] + bias
            a, b = (a if a > zero else zero), (b if b > zero else zero)
            c, d = (c if c > zero else zero), (d if d > zero else zero)
            out[q], argmax[q] = _max4(a, b, c, d, first + 2 * q, w)
    else:
        for q in range(out.size):
            out[q], argmax[q] = _max4(top[2 * q], top[2 * q + 1], bottom[2 * q],
                                      bottom[2 * q + 1], first + 2 * q, w)


@njit(cache=True, inline="always")
def _pool_plane(src, bias, relu, w, out, argmax):
    """:func:`_pool_row` over every row of windows of the plane ``src`` (rows at least ``w``
    wide; indices count ``w`` a row): ``out`` and ``argmax`` (oh, ow), indices ``y*w + x``.
    (Rows of 2-D views: 1-D slices of a flat plane ran ~15% slower.)"""
    for y in range(out.shape[0]):
        _pool_row(src[2 * y], src[2 * y + 1], bias, relu, 2 * y * w, w, out[y], argmax[y])


def max_pool2x2(x, out, argmax):
    """:func:`max_pool2d` with 2x2 windows every 2 pixels and no padding, the windows inside
    ``x`` (N, C, H, W) (``out`` (N, C, oh, ow), ``2*oh <= H``, ``2*ow <= W``): the same maxima
    and ``argmax`` (the first maximum in row-major order, a NaN wins), by :func:`_pool_row`
    (~5x the general kernel at 128x32x28x28 float32 after a ReLU)."""
    n_img, n_ch, w = x.shape[0], x.shape[1], x.shape[3]
    zero = x.dtype.type(0)
    word = control_word()
    for n in prange(n_img):
        own = control_word()
        restore(word)
        for c in range(n_ch):
            _pool_plane(x[n, c], zero, False, w, out[n, c], argmax[n, c])
        restore(own)


@njit(cache=True, inline="always")
def _unpool_row(g, y, relu, argmax, first, w, top, bottom):
    """Backward of :func:`_pool_row` for the window gradients ``g`` (Q,): writes all four
    pixels of every window in ``top`` and ``bottom``, ``g[q]`` at ``argmax[q]`` and 0 at the
    other three; when ``relu``, 0 at all four where the window's output ``y[q]`` is not
    positive (the ReLU's mask)."""
    zero = top.dtype.type(0)
    for q in range(g.size):
        v, k = g[q], argmax[q] - first - 2 * q
        if relu:
            v = v if y[q] > zero else zero
        top[2 * q] = v if k == 0 else zero
        top[2 * q + 1] = v if k == 1 else zero
        bottom[2 * q] = v if k == w else zero
        bottom[2 * q + 1] = v if k == w + 1 else zero


@njit(cache=True, inline="always")
def _unpool_plane(g, y, relu, argmax, w, plane):
    """:func:`_unpool_row` over every row of windows: ``plane`` (rows ``w`` wide) receives the
    gradients ``g`` (oh, ow) of the windows with outputs ``y`` and ``argmax`` (as
    :func:`_pool_plane` made them); pixels outside every window are left as they are."""
    for r in range(g.shape[0]):
        _unpool_row(g[r], y[r], relu, argmax[r], 2 * r * w, w, plane[2 * r], plane[2 * r + 1])


def max_pool2x2_backward(g, argmax, dx):
    """Backward of :func:`max_pool2x2`: writes every pixel of ``dx`` (N, C, H, W) that a window
    covers, ``g`` (N, C, oh, ow) at its window's ``argmax`` and 0 elsewhere (pixels outside
    every window, an odd last row or column, are left as they are)."""
    n_img, n_ch, w = dx.shape[0], dx.shape[1], dx.shape[3]
    word = control_word()
    for n in prange(n_img):
        own = control_word()
        restore(word)
        for c in range(n_ch):
            _unpool_plane(g[n, c], g[n, c], False, argmax[n, c], w, dx[n, c])
        restore(own)


def rows_to_pooled(src, bias, out, argmax):
    """:func:`rows_to_images` with the ReLU, then :func:`max_pool2x2`, in one pass and without
    the images: the GEMM's output (O, N*oh*ow) viewed as ``src`` (O, N, oh, ow); ``out``
    (N, O, oh // 2, ow // 2) receives the maxima of ``max(src + bias[o], 0)`` over the 2x2
    windows and ``argmax`` (same shape, integer) their flat indices ``y*ow + x`` in the
    plane: the same values and indices as the two kernels in turn (an odd last row or column
    is in no window and is not read)."""
    n_out, n_img, ow = src.shape[0], src.shape[1], src.shape[3]
    word = control_word()
    for n in prange(n_img):
        own = control_word()
        restore(word)
        for o in range(n_out):
            _pool_plane(src[o, n], bias[o], True, ow, out[n, o], argmax[n, o])
        restore(own)


def pooled_to_rows(g, out, argmax, dst, gb):
    """Backward of :func:`rows_to_pooled` for the gradient ``g`` (N, O, oh // 2, ow // 2) of
    its output ``out``: ``dst`` (O, N, oh, ow), the GEMM's gradient (O, N*oh*ow) viewed so,
    receives each window's gradient at its ``argmax`` where its output is positive and 0
    everywhere else, and ``gb`` (O,), float64, the sums over images and positions (the bias
    gradient): the same values, and the same sums in the same order, as
    :func:`max_pool2x2_backward` then :func:`images_to_rows`. The out channels are the
    parallel items."""
    n_out, n_img, oh, ow = dst.shape
    word = control_word()
    for o in prange(n_out):
        own = control_word()
        restore(word)
        gb[o] = 0.0
        for n in range(n_img):
            plane = dst[o, n]
            _unpool_plane(g[n, o], out[n, o], True, argmax[n, o], ow, plane)
            if oh % 2:                              # the pixels outside every window
                plane[oh - 1] = 0
            if ow % 2:
                plane[:, ow - 1] = 0
            gb[o] += _sum(plane.reshape(oh * ow))
        restore(own)


def avg_pool2d(x, kh, kw, sh, sw, ph, pw, include_pad, out):
    """Window means of ``x`` (N, C, H, W) into ``out`` (N, C, oh, ow), windows as in
    :func:`max_pool2d`; the divisor counts the zero padding inside the padded image when
    ``include_pad`` (PyTorch's ``count_include_pad``), else only the pixels of the image."""
    n_img, n_ch, oh, ow = out.shape
    h, w = x.shape[2], x.shape[3]
    word = control_word()
    for n in prange(n_img):
        own = control_word()
        restore(word)
        for c in range(n_ch):
            plane = x[n, c]
            for oy in range(oh):
                y0, y1, ky = _window(oy, sh, ph, kh, h)
                for ox in range(ow):
                    x0, x1, kx = _window(ox, sw, pw, kw, w)
                    total = 0.0
                    for yy in range(y0, y1):
                        for xx in range(x0, x1):
                            total += plane[yy, xx]
                    count = ky * kx if include_pad else (y1 - y0) * (x1 - x0)
                    out[n, c, oy, ox] = total * (1.0 / count)
        restore(own)


def avg_pool2d_backward(g, kh, kw, sh, sw, ph, pw, include_pad, dx):
    """Spread each output gradient ``g`` (N, C, oh, ow) evenly over its window in the zeroed
    ``dx`` (N, C, H, W), windows and divisors as in :func:`avg_pool2d`."""
    n_img, n_ch, oh, ow = g.shape
    h, w = dx.shape[2], dx.shape[3]
    word = control_word()
    for n in prange(n_img):
        own = control_word()
        restore(word)
        for c in range(n_ch):
            plane = dx[n, c]
            for oy in range(oh):
                y0, y1, ky = _window(oy, sh, ph, kh, h)
                for ox in range(ow):
                    x0, x1, kx = _window(ox, sw, pw, kw, w)
                    count = ky * kx if include_pad else (y1 - y0) * (x1 - x0)
                    share = g[n, c, oy, ox] * (1.0 / count)
                    for yy in range(y0, y1):
                        for xx in range(x0, x1):
                            plane[yy, xx] += share
        restore(own)


def interpolate2d(x, y0, y1, wy, x0, x1, wx, out):
    """Separable two-tap interpolation of ``x`` (N, C, H, W) into ``out`` (N, C, oh, ow).

    Output row ``r`` blends input rows ``y0[r]`` and ``y1[r]`` with weights ``1 - wy[r]`` and
    ``wy[r]``; columns likewise with ``x0``, ``x1``, ``wx`` (nearest: ``wy = wx = 0``).
    """
    n_img, n_ch, oh, ow = out.shape
    word = control_word()
    for n in prange(n_img):
        own = control_word()
        restore(word)
        for c in range(n_ch):
            for r in range(oh):
                a, b, t = y0[r], y1[r], wy[r]
                for q in range(ow):
                    u, v, s = x0[q], x1[q], wx[q]
                    top = (1.0 - s) * x[n, c, a, u] + s * x[n, c, a, v]
                    bottom = (1.0 - s) * x[n, c, b, u] + s * x[n, c, b, v]
                    out[n, c, r, q] = (1.0 - t) * top + t * bottom
        restore(own)


def interpolate2d_backward(g, y0, y1, wy, x0, x1, wx, dx):
    """Adjoint of :func:`interpolate2d`: add ``g`` (N, C, oh, ow) back onto the zeroed ``dx``
    (N, C, H, W) with the same taps and weights."""
    n_img, n_ch, oh, ow = g.shape
    word = control_word()
    for n in prange(n_img):
        own = control_word()
        restore(word)
        for c in range(n_ch):
            for r in range(oh):
                a, b, t = y0[r], y1[r], wy[r]
                for q in range(ow):
                    u, v, s = x0[q], x1[q], wx[q]
                    top = (1.0 - t) * g[n, c, r, q]
                    bottom = t * g[n, c, r, q]
                    dx[n, c, a, u] += (1.0 - s) * top
                    dx[n, c, a, v] += s * top
                    dx[n, c, b, u] += (1.0 - s) * bottom
                    dx[n, c, b, v] += s * bottom
        restore(own)


@njit(cache=True, parallel=True)
def weight_gradient_parallel(x, rows, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, step, cols,
                             part_rows, terms, gW):
    """A convolution's weight gradient ``gW`` (O, C*kh*kw) from its output's gradient ``rows``
    (O, N*oh*ow) (the GEMM's layout: column ``(n*oh + oy)*ow + ox``) and its input ``x``
    (N, C, H, W), over chunks of ``step`` images: ``terms[i]`` (chunks, O, C*kh*kw) receives
    chunk ``i``'s product ``rows[:, chunk] @ im2col(x[chunk]).T`` (:func:`im2col`'s arguments;
    a serial own GEMM of :mod:`.gemm_large`, B transposed by its packing), and ``gW`` their
    sum, added chunk by chunk in order after the loop.

    ``cols`` (P, C*kh*kw * step*oh*ow) and ``part_rows`` (P, O * step*oh*ow) hold a chunk's
    patch matrix and gradient rows (copied contiguous) for each of P parts, the parallel
    items, each a run of consecutive chunks on its thread: one parallel loop a call, and a
    chunk's patch matrix stays in its core's L2 between being written and read; a chunk's
    values do not depend on the part that makes them (tested: one part against two and
    three). Only the parallel kernel: one thread runs the chunk loop of :mod:`neurosim.nn.conv`
    with the same chunks and products (the same bits).
    """
    n_img, size, n_out = x.shape[0], oh * ow, rows.shape[0]
    depth = x.shape[1] * kh * kw
    n_chunks = -(-n_img // step)
    parts = cols.shape[0]
    word = control_word()
    for t in prange(parts):
        own = control_word()
        restore(word)
        for i in range(t * n_chunks // parts, (t + 1) * n_chunks // parts):
            lo, hi = i * step, min(n_img, (i + 1) * step)
            m = (hi - lo) * size
            patches = cols[t, :depth * m].reshape(depth, m)
            im2col(x[lo:hi], kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, patches)
            grads = part_rows[t, :n_out * m].reshape(n_out, m)
            grads[:] = rows[:, lo * size:hi * size]
            gemm_serial(grads, patches, terms[i], False, True, False)
        restore(own)
    gW[:] = 0
    for i in range(n_chunks):
        gW += terms[i]


#: each kernel above written with ``prange`` is its serial dispatcher under its own name, and
#: its parallel twin (:func:`.threads.twins`: the same bits) with ``_parallel`` added
im2col, im2col_parallel = twins(im2col)
col2im, col2im_parallel = twins(col2im)
rows_to_images, rows_to_images_parallel = twins(rows_to_images)
images_to_rows, images_to_rows_parallel = twins(images_to_rows)
conv_single, conv_single_parallel = twins(conv_single)
conv_single_backward, conv_single_backward_parallel = twins(conv_single_backward)
bias_relu, bias_relu_parallel = twins(bias_relu)
relu_mask_sum, relu_mask_sum_parallel = twins(relu_mask_sum)
max_pool2d, max_pool2d_parallel = twins(max_pool2d)
max_pool2d_backward, max_pool2d_backward_parallel = twins(max_pool2d_backward)
max_pool2x2, max_pool2x2_parallel = twins(max_pool2x2)
max_pool2x2_backward, max_pool2x2_backward_parallel = twins(max_pool2x2_backward)
rows_to_pooled, rows_to_pooled_parallel = twins(rows_to_pooled)
pooled_to_rows, pooled_to_rows_parallel = twins(pooled_to_rows)
avg_pool2d, avg_pool2d_parallel = twins(avg_pool2d)
avg_pool2d_backward, avg_pool2d_backward_parallel = twins(avg_pool2d_backward)
interpolate2d, interpolate2d_parallel = twins(interpolate2d)
interpolate2d_backward, interpolate2d_backward_parallel = twins(interpolate2d_backward)

__all__ = [name for pair in (
    "im2col", "col2im", "rows_to_images", "images_to_rows", "rows_to_pooled", "pooled_to_rows",
    "bias_relu", "relu_mask_sum", "max_pool2d", "max_pool2d_backward", "max_pool2x2",
    "max_pool2x2_backward", "avg_pool2d", "avg_pool2d_backward", "conv_single",
    "conv_single_backward", "interpolate2d", "interpolate2d_backward")
    for name in (pair, pair + "_parallel")] + ["weight_gradient_parallel"]
