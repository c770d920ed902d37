"""Differentiable convolution, transposed convolution, pooling and upsampling on NCHW Tensors.

A convolution is ``im2col`` (a Numba kernel over the whole batch) followed by one GEMM; its
input gradient goes back through ``col2im``. The transposed convolution is the same pair run
the other way round. Computation follows ``x``'s dtype (float32 or float64); weights and biases
are cast to it. Shapes: ``x`` (batch, channels, height, width); ``conv2d`` weights
(out_channels, in_channels, kh, kw); ``conv_transpose2d`` weights (in_channels, out_channels,
kh, kw), as in PyTorch; biases (out_channels,).
"""
import numpy as np

from ..kernels import conv as kc
from .tensor import as_tensor, record

__all__ = ["conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d", "upsample",
           "conv_output_shape", "conv_transpose_output_shape"]


def pair(value, name, low=0):
    """``value`` (int or (h, w) pair) as a pair of ints, each at least ``low``."""
    pair = (value, value) if np.ndim(value) == 0 else tuple(value)
    if len(pair) != 2 or any(int(v) != v or v < low for v in pair):
        raise ValueError(f"{name} must be an int >= {low} or a pair of them; got {value!r}")
    return int(pair[0]), int(pair[1])


def conv_output_shape(in_hw, kernel, stride=1, padding=0):
    """Spatial output shape ``(out_h, out_w)`` of a convolution or pooling window.

    ``in_hw`` (height, width); ``kernel``, ``stride``, ``padding`` ints or (h, w) pairs.
    ``out = (in + 2*padding - kernel) // stride + 1``. Raises ValueError when the kernel does
    not fit the padded input.
    """
    (h, w), (kh, kw) = pair(in_hw, "input shape", 1), pair(kernel, "kernel", 1)
    (sh, sw), (ph, pw) = pair(stride, "stride", 1), pair(padding, "padding", 0)
    if kh > h + 2 * ph or kw > w + 2 * pw:
        raise ValueError(f"kernel {(kh, kw)} is larger than the padded input "
                         f"{(h + 2 * ph, w + 2 * pw)} (input {(h, w)}, padding {(ph, pw)})")
    return (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1


def conv_transpose_output_shape(in_hw, kernel, stride=1, padding=0, output_padding=0):
    """Spatial output shape ``(out_h, out_w)`` of a transposed convolution.

    ``out = (in - 1)*stride - 2*padding + kernel + output_padding``, with
    ``output_padding < stride``. Raises ValueError when the output would be empty.
    """
    (h, w), (kh, kw) = pair(in_hw, "input shape", 1), pair(kernel, "kernel", 1)
    (sh, sw), (ph, pw) = pair(stride, "stride", 1), pair(padding, "padding", 0)
    oph, opw = pair(output_padding, "output_padding", 0)
    if oph >= sh or opw >= sw:
        raise ValueError(f"output_padding {(oph, opw)} must be smaller than stride {(sh, sw)}")
    out = ((h - 1) * sh - 2 * ph + kh + oph, (w - 1) * sw - 2 * pw + kw + opw)
    if min(out) < 1:
        raise ValueError(f"transposed convolution of input {(h, w)} with kernel {(kh, kw)}, "
                         f"stride {(sh, sw)}, padding {(ph, pw)} gives an empty output {out}")
    return out


def _check_images(op, x):
    if x.ndim != 4:
        raise ValueError(f"{op}: x must be 4-D (batch, channels, height, width); got shape "
                         f"{x.shape}")


def _weighted(op, x, W, b, axis, role):
    """The Tensors ``(x, W[, b])``, checked: ``W`` 4-D with ``W.shape[axis]`` = x's channels,
    ``b`` one entry per output channel."""
    parents = (as_tensor(x), as_tensor(W)) + (() if b is None else (as_tensor(b),))
    x, W = parents[:2]
    _check_images(op, x)
    if W.ndim != 4:
        raise ValueError(f"{op}: W must be 4-D {role}; got shape {W.shape}")
    if W.shape[axis] != x.shape[1]:
        raise ValueError(f"{op}: x of shape {x.shape} has {x.shape[1]} channels but W of shape "
                         f"{W.shape} {role} expects {W.shape[axis]}")
    if b is not None and parents[2].shape != (W.shape[1 - axis],):
        raise ValueError(f"{op}: b must have shape ({W.shape[1 - axis]},) for W of shape "
                         f"{W.shape}; got {parents[2].shape}")
    return parents


def _swap01(a, n0, n1):
    """``a`` viewed as ``(n0, n1, rest)`` with its first two axes swapped, as a C-contiguous
    ``(n1, n0 * rest)`` matrix."""
    return np.ascontiguousarray(a.reshape(n0, n1, -1).transpose(1, 0, 2)).reshape(n1, -1)


def _images(data, dtype):
    return np.ascontiguousarray(data, dtype=dtype)


def _im2col(x, kernel, stride, padding, out_hw):
    cols = np.empty((x.shape[1] * kernel[0] * kernel[1], x.shape[0] * out_hw[0] * out_hw[1]),
                    x.dtype)
    kc.im2col(x, *kernel, *stride, *padding, *out_hw, cols)
    return cols


def _col2im(cols, shape, kernel, stride, padding, out_hw):
    x = np.zeros(shape, cols.dtype)
    kc.col2im(cols, *kernel, *stride, *padding, *out_hw, x)
    return x


def conv2d(x, W, b=None, stride=1, padding=0):
    """2-D cross-correlation (a convolution layer's map), by im2col and one GEMM.

    Parameters
    ----------
    x : Tensor or array, (batch, in_channels, height, width)
    W : Tensor or array, (out_channels, in_channels, kh, kw)
    b : Tensor or array, (out_channels,), optional
    stride, padding : int or (h, w) pair
        Zero padding on both sides of each spatial axis.

    Returns
    -------
    Tensor, (batch, out_channels, out_h, out_w)
        Sizes from :func:`conv_output_shape`; dtype of ``x``.
    """
    parents = _weighted("conv2d", x, W, b, 1, "(out_channels, in_channels, kh, kw)")
    x, W = parents[:2]
    stride, padding = pair(stride, "stride", 1), pair(padding, "padding", 0)
    n, n_out, kernel = x.shape[0], W.shape[0], W.shape[2:]
    out_hw = conv_output_shape(x.shape[2:], kernel, stride, padding)
    dtype = x.dtype
    xd = _images(x.data, dtype)
    W2 = W.data.reshape(n_out, -1).astype(dtype, copy=False)
    cols = _im2col(xd, kernel, stride, padding, out_hw)
    out = _swap01(W2 @ cols, n_out, n).reshape(n, n_out, *out_hw)
    if b is not None:
        out += parents[2].data.astype(dtype, copy=False)[:, None, None]

    def backward(g):
        g2 = _swap01(g.astype(dtype, copy=False), n, n_out)  # (out_channels, batch*oh*ow)
        gx = _col2im(W2.T @ g2, xd.shape, kernel, stride, padding, out_hw) \
            if x.requires_grad else None
        gW = (g2 @ cols.T).reshape(W.shape) if W.requires_grad else None
        return (gx, gW) if b is None else (gx, gW, g2.sum(axis=1))
    return record(out, parents, backward)


def conv_transpose2d(x, W, b=None, stride=1, padding=0, output_padding=0):
    """2-D transposed convolution: the adjoint of :func:`conv2d` with respect to its input.

    Parameters
    ----------
    x : Tensor or array, (batch, in_channels, height, width)
    W : Tensor or array, (in_channels, out_channels, kh, kw)
    b : Tensor or array, (out_channels,), optional
    stride, padding, output_padding : int or (h, w) pair
        ``output_padding`` (< stride) adds rows and columns at the bottom and right.

    Returns
    -------
    Tensor, (batch, out_channels, out_h, out_w)
        Sizes from :func:`conv_transpose_output_shape`; dtype of ``x``.
    """
    parents = _weighted("conv_transpose2d", x, W, b, 0, "(in_channels, out_channels, kh, kw)")
    x, W = parents[:2]
    stride, padding = pair(stride, "stride", 1), pair(padding, "padding", 0)
    (n, n_in, h, w), n_out, kernel = x.shape, W.shape[1], W.shape[2:]
    out_hw = conv_transpose_output_shape((h, w), kernel, stride, padding, output_padding)
    dtype = x.dtype
    x2 = _swap01(_images(x.data, dtype), n, n_in)  # (in_channels, batch*h*w)
    W2 = W.data.reshape(n_in, -1).astype(dtype, copy=False)
    out = _col2im(W2.T @ x2, (n, n_out, *out_hw), kernel, stride, padding, (h, w))
    if b is not None:
        out += parents[2].data.astype(dtype, copy=False)[:, None, None]

    def backward(g):
        cols = _im2col(_images(g, dtype), kernel, stride, padding, (h, w))
        gx = _swap01(W2 @ cols, n_in, n).reshape(x.shape) if x.requires_grad else None
        gW = (x2 @ cols.T).reshape(W.shape) if W.requires_grad else None
        return (gx, gW) if b is None else (gx, gW, g.sum(axis=(0, 2, 3)))
    return record(out, parents, backward)


def _pool_setup(op, x, size, stride):
    x = as_tensor(x)
    _check_images(op, x)
    size = pair(size, "size", 1)
    stride = size if stride is None else pair(stride, "stride", 1)
    out_hw = conv_output_shape(x.shape[2:], size, stride)
    return x, _images(x.data, x.dtype), size, stride, np.empty(x.shape[:2] + out_hw, x.dtype)


def max_pool2d(x, size=2, stride=None):
    """Maximum over ``size`` windows every ``stride`` (default ``size``) pixels, no padding.

    ``x`` (batch, channels, height, width) -> (batch, channels, out_h, out_w), sizes from
    :func:`conv_output_shape`. The gradient goes to the first maximum of each window.
    """
    x, xd, size, stride, out = _pool_setup("max_pool2d", x, size, stride)
    argmax = np.empty(out.shape, np.intp)
    kc.max_pool2d(xd, *size, *stride, out, argmax)

    def backward(g):
        dx = np.zeros_like(xd)
        kc.max_pool2d_backward(_images(g, xd.dtype), argmax, dx)
        return (dx,)
    return record(out, (x,), backward)


def avg_pool2d(x, size=2, stride=None):
    """Mean over ``size`` windows every ``stride`` (default ``size``) pixels, no padding.

    ``x`` (batch, channels, height, width) -> (batch, channels, out_h, out_w), sizes from
    :func:`conv_output_shape`.
    """
    x, xd, size, stride, out = _pool_setup("avg_pool2d", x, size, stride)
    kc.avg_pool2d(xd, *size, *stride, out)

    def backward(g):
        dx = np.zeros_like(xd)
        kc.avg_pool2d_backward(_images(g, xd.dtype), *size, *stride, dx)
        return (dx,)
    return record(out, (x,), backward)


def _taps(n_in, scale, mode, dtype):
    """Source indices and blend weights of each output row (or column) for upsampling."""
    dst = np.arange(n_in * scale)
    if mode == "nearest":
        first = dst // scale
        return first, first, np.zeros(dst.size, dtype)
    # bilinear, align_corners=False: pixel centres map as (dst + 0.5) / scale - 0.5, clamped
    src = np.maximum((dst + 0.5) / scale - 0.5, 0.0)
    first = src.astype(np.intp)
    return first, np.minimum(first + 1, n_in - 1), (src - first).astype(dtype)


def upsample(x, scale=2, mode="nearest"):
    """Enlarge each image ``scale`` times along height and width.

    ``x`` (batch, channels, height, width) -> (batch, channels, scale*height, scale*width).
    ``mode`` "nearest" repeats pixels; "bilinear" interpolates as PyTorch's
    ``F.interpolate(x, scale_factor=scale, mode="bilinear", align_corners=False)``.
    """
    x = as_tensor(x)
    _check_images("upsample", x)
    if mode not in ("nearest", "bilinear"):
        raise ValueError(f"upsample: mode must be 'nearest' or 'bilinear'; got {mode!r}")
    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) or scale < 1:
        raise ValueError(f"upsample: scale must be an int >= 1; got {scale!r}")
    xd = _images(x.data, x.dtype)
    taps = _taps(x.shape[2], scale, mode, x.dtype) + _taps(x.shape[3], scale, mode, x.dtype)
    out = np.empty(x.shape[:2] + (x.shape[2] * scale, x.shape[3] * scale), x.dtype)
    kc.interpolate2d(xd, *taps, out)

    def backward(g):
        dx = np.zeros_like(xd)
        kc.interpolate2d_backward(_images(g, xd.dtype), *taps, dx)
        return (dx,)
    return record(out, (x,), backward)
