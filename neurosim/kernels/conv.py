"""Compiled kernels of the convolutional ops (forward and backward pairs), over whole batches.

Images are NCHW, C-contiguous. ``im2col`` lays every receptive field out as a column of a
``(channels * kh * kw, batch * out_h * out_w)`` matrix, so that a convolution is one GEMM;
``col2im`` is its adjoint (it adds the columns back onto the image), which also makes it the
forward pass of the transposed convolution. Pooling and interpolation kernels write into
``out`` arrays the caller allocates; the backward kernels add into zeroed gradient arrays.
"""
from numba import njit


@njit(cache=True)
def im2col(x, kh, kw, sh, sw, ph, pw, oh, ow, cols):
    """Fill ``cols`` (C*kh*kw, N*oh*ow) with the zero-padded receptive fields of ``x``
    (N, C, H, W), taken every (sh, sw) pixels after padding by (ph, pw).

    Row ``(c*kh + i)*kw + j`` holds input channel ``c`` at kernel offset ``(i, j)``; column
    ``(n*oh + oy)*ow + ox`` is output position ``(oy, ox)`` of image ``n``.
    """
    n_img, n_ch, h, w = x.shape
    for c in range(n_ch):
        for i in range(kh):
            for j in range(kw):
                row = (c * kh + i) * kw + j
                for n in range(n_img):
                    for oy in range(oh):
                        y = oy * sh - ph + i
                        col = (n * oh + oy) * ow
                        for ox in range(ow):
                            xx = ox * sw - pw + j
                            if 0 <= y < h and 0 <= xx < w:
                                cols[row, col + ox] = x[n, c, y, xx]
                            else:
                                cols[row, col + ox] = 0.0


@njit(cache=True)
def col2im(cols, kh, kw, sh, sw, ph, pw, oh, ow, x):
    """Add the columns of ``cols`` back onto the zeroed image ``x`` (N, C, H, W): the adjoint
    of :func:`im2col` with the same arguments (padding positions are dropped)."""
    n_img, n_ch, h, w = x.shape
    for c in range(n_ch):
        for i in range(kh):
            for j in range(kw):
                row = (c * kh + i) * kw + j
                for n in range(n_img):
                    for oy in range(oh):
                        y = oy * sh - ph + i
                        if y < 0 or y >= h:
                            continue
                        col = (n * oh + oy) * ow
                        for ox in range(ow):
                            xx = ox * sw - pw + j
                            if 0 <= xx < w:
                                x[n, c, y, xx] += cols[row, col + ox]


@njit(cache=True)
def max_pool2d(x, kh, kw, sh, sw, out, argmax):
    """Window maxima of ``x`` (N, C, H, W) into ``out`` (N, C, oh, ow); ``argmax`` (same shape,
    integer) receives the flat in-plane index ``y*W + x`` of each window's first maximum."""
    n_img, n_ch, oh, ow = out.shape
    w = x.shape[3]
    for n in range(n_img):
        for c in range(n_ch):
            for oy in range(oh):
                for ox in range(ow):
                    y0 = oy * sh
                    x0 = ox * sw
                    best = x[n, c, y0, x0]
                    where = y0 * w + x0
                    for i in range(kh):
                        for j in range(kw):
                            v = x[n, c, y0 + i, x0 + j]
                            if v > best:
                                best = v
                                where = (y0 + i) * w + x0 + j
                    out[n, c, oy, ox] = best
                    argmax[n, c, oy, ox] = where


@njit(cache=True)
def max_pool2d_backward(g, argmax, dx):
    """Add each output gradient ``g`` (N, C, oh, ow) to its window's maximum in the zeroed
    ``dx`` (N, C, H, W)."""
    n_img, n_ch, oh, ow = g.shape
    w = dx.shape[3]
    for n in range(n_img):
        for c in range(n_ch):
            for oy in range(oh):
                for ox in range(ow):
                    where = argmax[n, c, oy, ox]
                    dx[n, c, where // w, where % w] += g[n, c, oy, ox]


@njit(cache=True)
def avg_pool2d(x, kh, kw, sh, sw, out):
    """Window means of ``x`` (N, C, H, W) into ``out`` (N, C, oh, ow)."""
    n_img, n_ch, oh, ow = out.shape
    scale = 1.0 / (kh * kw)
    for n in range(n_img):
        for c in range(n_ch):
            for oy in range(oh):
                for ox in range(ow):
                    total = 0.0
                    for i in range(kh):
                        for j in range(kw):
                            total += x[n, c, oy * sh + i, ox * sw + j]
                    out[n, c, oy, ox] = total * scale


@njit(cache=True)
def avg_pool2d_backward(g, kh, kw, sh, sw, dx):
    """Spread each output gradient ``g`` (N, C, oh, ow) evenly over its window in the zeroed
    ``dx`` (N, C, H, W)."""
    n_img, n_ch, oh, ow = g.shape
    scale = 1.0 / (kh * kw)
    for n in range(n_img):
        for c in range(n_ch):
            for oy in range(oh):
                for ox in range(ow):
                    share = g[n, c, oy, ox] * scale
                    for i in range(kh):
                        for j in range(kw):
                            dx[n, c, oy * sh + i, ox * sw + j] += share


@njit(cache=True)
def interpolate2d(x, y0, y1, wy, x0, x1, wx, out):
    """Separable two-tap interpolation of ``x`` (N, C, H, W) into ``out`` (N, C, oh, ow).

    Output row ``r`` blends input rows ``y0[r]`` and ``y1[r]`` with weights ``1 - wy[r]`` and
    ``wy[r]``; columns likewise with ``x0``, ``x1``, ``wx`` (nearest: ``wy = wx = 0``).
    """
    n_img, n_ch, oh, ow = out.shape
    for n in range(n_img):
        for c in range(n_ch):
            for r in range(oh):
                a, b, t = y0[r], y1[r], wy[r]
                for q in range(ow):
                    u, v, s = x0[q], x1[q], wx[q]
                    top = (1.0 - s) * x[n, c, a, u] + s * x[n, c, a, v]
                    bottom = (1.0 - s) * x[n, c, b, u] + s * x[n, c, b, v]
                    out[n, c, r, q] = (1.0 - t) * top + t * bottom


@njit(cache=True)
def interpolate2d_backward(g, y0, y1, wy, x0, x1, wx, dx):
    """Adjoint of :func:`interpolate2d`: add ``g`` (N, C, oh, ow) back onto the zeroed ``dx``
    (N, C, H, W) with the same taps and weights."""
    n_img, n_ch, oh, ow = g.shape
    for n in range(n_img):
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
