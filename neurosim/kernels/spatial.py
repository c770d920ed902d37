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


@njit(cache=True)
def grid_sample_forward(x, grid, align_corners, out):
    """Bilinear samples of ``x`` (N, C, H, W) at ``grid`` (N, Ho, Wo, 2) into ``out``
    (N, C, Ho, Wo), zeros outside the image."""
    n_img, n_ch, h, w = x.shape
    ho, wo = grid.shape[1], grid.shape[2]
    for n in range(n_img):
        for i in range(ho):
            for j in range(wo):
                ix = _pixel(grid[n, i, j, 0], w, align_corners)
                iy = _pixel(grid[n, i, j, 1], h, align_corners)
                x0f, y0f = math.floor(ix), math.floor(iy)
                wx1, wy1 = ix - x0f, iy - y0f
                wx0, wy0 = 1.0 - wx1, 1.0 - wy1
                x0, y0 = int(x0f), int(y0f)
                x1, y1 = x0 + 1, y0 + 1
                in_x0, in_x1 = 0 <= x0 < w, 0 <= x1 < w
                in_y0, in_y1 = 0 <= y0 < h, 0 <= y1 < h
                for c in range(n_ch):
                    v = 0.0
                    if in_y0 and in_x0:
                        v += x[n, c, y0, x0] * wx0 * wy0
                    if in_y0 and in_x1:
                        v += x[n, c, y0, x1] * wx1 * wy0
                    if in_y1 and in_x0:
                        v += x[n, c, y1, x0] * wx0 * wy1
                    if in_y1 and in_x1:
                        v += x[n, c, y1, x1] * wx1 * wy1
                    out[n, c, i, j] = v


@njit(cache=True)
def grid_sample_backward(x, grid, align_corners, g, gx, ggrid, want_x, want_grid):
    """Gradients of :func:`grid_sample_forward` for the output gradient ``g`` (N, C, Ho, Wo):
    added into the zeroed ``gx`` (N, C, H, W) when ``want_x``, written into ``ggrid``
    (N, Ho, Wo, 2) when ``want_grid`` (the sampler is piecewise bilinear: the derivative on a
    pixel boundary is the one from the right, as PyTorch's)."""
    n_img, n_ch, h, w = x.shape
    ho, wo = grid.shape[1], grid.shape[2]
    sx = 0.5 * (w - 1) if align_corners else 0.5 * w
    sy = 0.5 * (h - 1) if align_corners else 0.5 * h
    for n in range(n_img):
        for i in range(ho):
            for j in range(wo):
                ix = _pixel(grid[n, i, j, 0], w, align_corners)
                iy = _pixel(grid[n, i, j, 1], h, align_corners)
                x0f, y0f = math.floor(ix), math.floor(iy)
                wx1, wy1 = ix - x0f, iy - y0f
                wx0, wy0 = 1.0 - wx1, 1.0 - wy1
                x0, y0 = int(x0f), int(y0f)
                x1, y1 = x0 + 1, y0 + 1
                in_x0, in_x1 = 0 <= x0 < w, 0 <= x1 < w
                in_y0, in_y1 = 0 <= y0 < h, 0 <= y1 < h
                dx = 0.0
                dy = 0.0
                for c in range(n_ch):
                    gv = g[n, c, i, j]
                    v00 = x[n, c, y0, x0] if in_y0 and in_x0 else 0.0
                    v01 = x[n, c, y0, x1] if in_y0 and in_x1 else 0.0
                    v10 = x[n, c, y1, x0] if in_y1 and in_x0 else 0.0
                    v11 = x[n, c, y1, x1] if in_y1 and in_x1 else 0.0
                    if want_grid:
                        dx += gv * ((v01 - v00) * wy0 + (v11 - v10) * wy1)
                        dy += gv * ((v10 - v00) * wx0 + (v11 - v01) * wx1)
                    if want_x:
                        if in_y0 and in_x0:
                            gx[n, c, y0, x0] += gv * wx0 * wy0
                        if in_y0 and in_x1:
                            gx[n, c, y0, x1] += gv * wx1 * wy0
                        if in_y1 and in_x0:
                            gx[n, c, y1, x0] += gv * wx0 * wy1
                        if in_y1 and in_x1:
                            gx[n, c, y1, x1] += gv * wx1 * wy1
                if want_grid:
                    ggrid[n, i, j, 0] = dx * sx
                    ggrid[n, i, j, 1] = dy * sy
