"""Compiled kernels of the spatial transformer's bilinear sampler (forward and backward), over
whole batches.

Images are NCHW, C-contiguous; a sampling grid is (N, Ho, Wo, 2) of normalised coordinates
``(x, y)`` in [-1, 1] (PyTorch's ``grid_sample`` convention: x along the width). A coordinate
maps to pixel units as ``((x + 1) W - 1) / 2`` (``align_corners`` False: -1 and 1 are the outer
edges of the corner pixels) or ``(x + 1)(W - 1) / 2`` (True: the corner pixels' centres).
Samples outside the image read zeros (zero padding). The backward kernel adds into zeroed
gradient arrays; samples are visited in a fixed order, so results do not depend on threads.
"""
import math

from numba import njit


@njit(cache=True, inline="always")
def _pixel(coordinate, size, align_corners):
    if align_corners:
        return (coordinate + 1.0) * 0.5 * (size - 1)
    return ((coordinate + 1.0) * size - 1.0) * 0.5


@njit(cache=True, inline="always")
def _corners(ix, iy, h, w):
    """Bilinear corners and weights of the pixel coordinate (ix, iy)."""
    x0f, y0f = math.floor(ix), math.floor(iy)
    wx1, wy1 = ix - x0f, iy - y0f
    x0, y0 = int(x0f), int(y0f)
    return (x0, y0, 1.0 - wx1, wx1, 1.0 - wy1, wy1,
            0 <= x0 < w, 0 <= x0 + 1 < w, 0 <= y0 < h, 0 <= y0 + 1 < h)


@njit(cache=True, inline="always")
def _sample(x, n, ix, iy, out, i, j):
    """``out[n, :, i, j]``: image ``n`` of ``x`` sampled bilinearly at pixel (ix, iy), zeros
    outside."""
    h, w = x.shape[2], x.shape[3]
    x0, y0, wx0, wx1, wy0, wy1, ix0, ix1, iy0, iy1 = _corners(ix, iy, h, w)
    for c in range(x.shape[1]):
        v = 0.0
        if iy0 and ix0:
            v += x[n, c, y0, x0] * wx0 * wy0
        if iy0 and ix1:
            v += x[n, c, y0, x0 + 1] * wx1 * wy0
        if iy1 and ix0:
            v += x[n, c, y0 + 1, x0] * wx0 * wy1
        if iy1 and ix1:
            v += x[n, c, y0 + 1, x0 + 1] * wx1 * wy1
        out[n, c, i, j] = v


@njit(cache=True, inline="always")
def _sample_backward(x, n, ix, iy, g, i, j, gx, want_x):
    """Adjoint of :func:`_sample` for the output gradient ``g[n, :, i, j]``: the image's
    gradient added into ``gx`` when ``want_x``; returns the derivatives with respect to the
    pixel coordinates (ix, iy) (from the right on a pixel boundary, as PyTorch's)."""
    h, w = x.shape[2], x.shape[3]
    x0, y0, wx0, wx1, wy0, wy1, ix0, ix1, iy0, iy1 = _corners(ix, iy, h, w)
    dx = 0.0
    dy = 0.0
    for c in range(x.shape[1]):
        gv = g[n, c, i, j]
        v00 = x[n, c, y0, x0] if iy0 and ix0 else 0.0
        v01 = x[n, c, y0, x0 + 1] if iy0 and ix1 else 0.0
        v10 = x[n, c, y0 + 1, x0] if iy1 and ix0 else 0.0
        v11 = x[n, c, y0 + 1, x0 + 1] if iy1 and ix1 else 0.0
        dx += gv * ((v01 - v00) * wy0 + (v11 - v10) * wy1)
        dy += gv * ((v10 - v00) * wx0 + (v11 - v01) * wx1)
        if want_x:
            if iy0 and ix0:
                gx[n, c, y0, x0] += gv * wx0 * wy0
            if iy0 and ix1:
                gx[n, c, y0, x0 + 1] += gv * wx1 * wy0
            if iy1 and ix0:
                gx[n, c, y0 + 1, x0] += gv * wx0 * wy1
            if iy1 and ix1:
                gx[n, c, y0 + 1, x0 + 1] += gv * wx1 * wy1
    return dx, dy


@njit(cache=True)
def grid_sample_forward(x, grid, align_corners, out):
    """Bilinear samples of ``x`` (N, C, H, W) at ``grid`` (N, Ho, Wo, 2) into ``out``
    (N, C, Ho, Wo), zeros outside the image."""
    h, w = x.shape[2], x.shape[3]
    for n in range(x.shape[0]):
        for i in range(grid.shape[1]):
            for j in range(grid.shape[2]):
                _sample(x, n, _pixel(grid[n, i, j, 0], w, align_corners),
                        _pixel(grid[n, i, j, 1], h, align_corners), out, i, j)


@njit(cache=True)
def grid_sample_backward(x, grid, align_corners, g, gx, ggrid, want_x, want_grid):
    """Gradients of :func:`grid_sample_forward` for the output gradient ``g`` (N, C, Ho, Wo):
    added into the zeroed ``gx`` (N, C, H, W) when ``want_x``, written into ``ggrid``
    (N, Ho, Wo, 2) when ``want_grid`` (the sampler is piecewise bilinear: the derivative on a
    pixel boundary is the one from the right, as PyTorch's)."""
    h, w = x.shape[2], x.shape[3]
    sx = 0.5 * (w - 1) if align_corners else 0.5 * w
    sy = 0.5 * (h - 1) if align_corners else 0.5 * h
    for n in range(x.shape[0]):
        for i in range(grid.shape[1]):
            for j in range(grid.shape[2]):
                dx, dy = _sample_backward(x, n, _pixel(grid[n, i, j, 0], w, align_corners),
                                          _pixel(grid[n, i, j, 1], h, align_corners), g, i, j,
                                          gx, want_x)
                if want_grid:
                    ggrid[n, i, j, 0] = dx * sx
                    ggrid[n, i, j, 1] = dy * sy


@njit(cache=True)
def affine_sample_forward(x, theta, xs, ys, align_corners, out):
    """:func:`grid_sample_forward` at the affine grid of ``theta`` (N, 2, 3) over the output
    pixels' normalised coordinates ``xs`` (Wo,) and ``ys`` (Ho,), made on the fly (no grid
    array); ``out`` (N, C, Ho, Wo)."""
    h, w = x.shape[2], x.shape[3]
    for n in range(x.shape[0]):
        t00, t01, t02 = theta[n, 0, 0], theta[n, 0, 1], theta[n, 0, 2]
        t10, t11, t12 = theta[n, 1, 0], theta[n, 1, 1], theta[n, 1, 2]
        for i in range(len(ys)):
            for j in range(len(xs)):
                _sample(x, n, _pixel(t00 * xs[j] + t01 * ys[i] + t02, w, align_corners),
                        _pixel(t10 * xs[j] + t11 * ys[i] + t12, h, align_corners), out, i, j)


@njit(cache=True)
def affine_sample_backward(x, theta, xs, ys, align_corners, g, gx, gtheta, want_x):
    """Gradients of :func:`affine_sample_forward`: the image's added into the zeroed ``gx``
    when ``want_x``, ``theta``'s written into ``gtheta`` (N, 2, 3) (summed over the output
    pixels in a fixed order)."""
    h, w = x.shape[2], x.shape[3]
    sx = 0.5 * (w - 1) if align_corners else 0.5 * w
    sy = 0.5 * (h - 1) if align_corners else 0.5 * h
    for n in range(x.shape[0]):
        t00, t01, t02 = theta[n, 0, 0], theta[n, 0, 1], theta[n, 0, 2]
        t10, t11, t12 = theta[n, 1, 0], theta[n, 1, 1], theta[n, 1, 2]
        a00 = a01 = a02 = a10 = a11 = a12 = 0.0
        for i in range(len(ys)):
            for j in range(len(xs)):
                dx, dy = _sample_backward(
                    x, n, _pixel(t00 * xs[j] + t01 * ys[i] + t02, w, align_corners),
                    _pixel(t10 * xs[j] + t11 * ys[i] + t12, h, align_corners), g, i, j, gx,
                    want_x)
                dx *= sx
                dy *= sy
                a00 += dx * xs[j]
                a01 += dx * ys[i]
                a02 += dx
                a10 += dy * xs[j]
                a11 += dy * ys[i]
                a12 += dy
        gtheta[n, 0, 0], gtheta[n, 0, 1], gtheta[n, 0, 2] = a00, a01, a02
        gtheta[n, 1, 0], gtheta[n, 1, 1], gtheta[n, 1, 2] = a10, a11, a12
