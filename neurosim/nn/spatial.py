"""Differentiable sampling grids and the bilinear sampler of spatial transformer networks
(Jaderberg et al. 2015), on NCHW Tensors, in PyTorch's conventions.

:func:`affine_grid` maps a regular grid of output pixels through a batch of 2 x 3 affine
matrices ``theta`` to normalised source coordinates (N, Ho, Wo, 2), ``(x, y)`` in [-1, 1] with
x along the width; :func:`grid_sample` reads the input there by bilinear interpolation, zeros
outside the image. Both are single ops, differentiable in the image, the grid and ``theta``:
the affine grid is one small product (NumPy), the sampler a compiled kernel
(:mod:`neurosim.kernels.spatial`) whose backward gives the image's and the grid's gradients in
one pass. ``align_corners`` as in PyTorch: False (the default) puts -1 and 1 on the outer edges
of the corner pixels, so a grid is independent of the resolution; True on their centres.
Computation follows the image's dtype.
"""
import functools

import numpy as np

from .. import checks
from ..kernels import spatial as ks
from .tensor import as_tensor, record

__all__ = ["affine_grid", "grid_sample", "spatial_transform", "identity_theta", "base_grid"]


def identity_theta(n=None, dtype=np.float64):
    """The identity transformation ``[[1, 0, 0], [0, 1, 0]]`` (2, 3), or ``n`` copies (n, 2, 3)."""
    theta = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], dtype)
    return theta if n is None else np.repeat(theta[None], checks.integer(n, "n", low=1), 0)


def _size(size):
    if np.ndim(size) != 1 or len(size) != 4:
        raise ValueError(f"size must be (batch, channels, height, width); got {size!r}")
    return tuple(checks.integer(s, "size", low=1) for s in size)


def _align(align_corners):
    if not isinstance(align_corners, (bool, np.bool_)):
        raise TypeError(f"align_corners must be True or False; got {align_corners!r}")
    return bool(align_corners)


def _line(k, align_corners):
    """Normalised coordinates of ``k`` pixel centres along an axis."""
    points = np.linspace(-1.0, 1.0, k) if k > 1 else np.zeros(1)
    return points if align_corners else points * (k - 1) / k


@functools.lru_cache(maxsize=64)
def _lines(height, width, align_corners, dtype):
    """``(xs, ys)``: :func:`_line` of the width and of the height in ``dtype``, read-only and
    cached (a layer asks for the same ones at every call)."""
    out = (_line(width, align_corners).astype(dtype), _line(height, align_corners).astype(dtype))
    for a in out:
        a.flags.writeable = False
    return out


def base_grid(height, width, align_corners=False, dtype=np.float64):
    """The output pixels' homogeneous coordinates ``(x, y, 1)``, (height * width, 3), row-major:
    the grid that :func:`affine_grid` maps through ``theta``."""
    ys, xs = np.meshgrid(_line(height, align_corners), _line(width, align_corners),
                         indexing="ij")
    return np.stack([xs.ravel(), ys.ravel(), np.ones(height * width)], 1).astype(dtype)


def affine_grid(theta, size, align_corners=False):
    """Sampling grid of the affine transformations ``theta`` for outputs of ``size``, one op.

    Parameters
    ----------
    theta : Tensor or array, (batch, 2, 3)
        Each maps output coordinates ``(x, y, 1)`` to source coordinates (normalised).
    size : (batch, channels, height, width)
        Of the output (as :func:`torch.nn.functional.affine_grid` takes it).
    align_corners : bool

    Returns
    -------
    Tensor, (batch, height, width, 2)
        ``grid[n, i, j] = theta[n] @ (x_j, y_i, 1)``; differentiable in ``theta``.
    """
    theta = as_tensor(theta)
    n, _, h, w = _size(size)
    align = _align(align_corners)
    if theta.shape != (n, 2, 3):
        raise ValueError(f"theta must have shape (batch, 2, 3) = ({n}, 2, 3) for size "
                         f"{tuple(size)}; got {theta.shape}")
    base = base_grid(h, w, align, theta.dtype)                        # (h w, 3)
    grid = np.matmul(base[None], theta.data.transpose(0, 2, 1))       # (n, h w, 2)

    def backward(g):
        return (np.matmul(g.reshape(n, h * w, 2).transpose(0, 2, 1), base),)
    return record(grid.reshape(n, h, w, 2), (theta,), backward)


def grid_sample(x, grid, align_corners=False):
    """Bilinear samples of the images ``x`` at the normalised coordinates ``grid``, zeros
    outside (PyTorch's ``grid_sample`` with ``mode="bilinear"``, ``padding_mode="zeros"``), one
    op.

    Parameters
    ----------
    x : Tensor or array, (batch, channels, height, width)
    grid : Tensor or array, (batch, out_height, out_width, 2)
        ``(x, y)`` per output pixel, in [-1, 1] inside the image.
    align_corners : bool

    Returns
    -------
    Tensor, (batch, channels, out_height, out_width), in ``x``'s dtype; differentiable in
    ``x`` and ``grid``.
    """
    x, grid = as_tensor(x), as_tensor(grid)
    align = _align(align_corners)
    if x.ndim != 4:
        raise ValueError(f"grid_sample: x must be 4-D (batch, channels, height, width); got "
                         f"shape {x.shape}")
    if grid.ndim != 4 or grid.shape[3] != 2 or grid.shape[0] != x.shape[0]:
        raise ValueError(f"grid_sample: grid must have shape (batch, out_height, out_width, 2)"
                         f" with the batch of x ({x.shape[0]}); got {grid.shape}")
    if not np.all(np.isfinite(grid.data)):
        raise ValueError("grid_sample: grid must be finite")
    dtype = x.dtype
    xd = np.ascontiguousarray(x.data)
    gd = np.ascontiguousarray(grid.data, dtype)
    n, c = x.shape[:2]
    out = np.empty((n, c) + grid.shape[1:3], dtype)
    ks.grid_sample_forward(xd, gd, align, out)

    def backward(g):
        g = np.ascontiguousarray(g, dtype)
        gx = np.zeros_like(xd)
        ggrid = np.empty_like(gd)
        ks.grid_sample_backward(xd, gd, align, g, gx, ggrid, x.requires_grad,
                                grid.requires_grad)
        return (gx if x.requires_grad else None,
                ggrid.astype(grid.dtype, copy=False) if grid.requires_grad else None)
    return record(out, (x, grid), backward)


def spatial_transform(x, theta, output_size=None, align_corners=False):
    """``grid_sample(x, affine_grid(theta, ...))`` fused into one op (the spatial
    transformer's grid generator and sampler), the grid made on the fly in the kernel.

    Parameters
    ----------
    x : Tensor or array, (batch, channels, height, width)
    theta : Tensor or array, (batch, 2, 3)
    output_size : (out_height, out_width), optional
        The input's by default.
    align_corners : bool

    Returns
    -------
    Tensor, (batch, channels, out_height, out_width); differentiable in ``x`` and ``theta``.
    The same numbers as the two ops (to rounding: the grid's products are summed in another
    order).
    """
    x, theta = as_tensor(x), as_tensor(theta)
    align = _align(align_corners)
    if x.ndim != 4:
        raise ValueError(f"spatial_transform: x must be 4-D (batch, channels, height, width); "
                         f"got shape {x.shape}")
    n, c = x.shape[:2]
    if theta.shape != (n, 2, 3):
        raise ValueError(f"spatial_transform: theta must have shape (batch, 2, 3) = ({n}, 2, 3)"
                         f"; got {theta.shape}")
    if not np.all(np.isfinite(theta.data)):
        raise ValueError("spatial_transform: theta must be finite")
    ho, wo = x.shape[2:] if output_size is None else _size((n, c) + tuple(output_size))[2:]
    dtype = x.dtype
    xd = np.ascontiguousarray(x.data)
    td = np.ascontiguousarray(theta.data, dtype)
    xs, ys = _lines(ho, wo, align, np.dtype(dtype))
    out = np.empty((n, c, ho, wo), dtype)
    ks.affine_sample_forward(xd, td, xs, ys, align, out)

    def backward(g):
        gx = np.zeros_like(xd)
        gtheta = np.empty_like(td)
        ks.affine_sample_backward(xd, td, xs, ys, align, np.ascontiguousarray(g, dtype), gx,
                                  gtheta, x.requires_grad)
        return (gx if x.requires_grad else None,
                gtheta.astype(theta.dtype, copy=False) if theta.requires_grad else None)
    return record(out, (x, theta), backward)
