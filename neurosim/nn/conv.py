"""Differentiable convolution, transposed convolution, pooling and upsampling on NCHW Tensors.

A convolution is ``im2col`` (a Numba kernel) followed by one GEMM per group, over chunks of
images whose patch matrix stays in cache (``CHUNK_BYTES``); a second kernel lays the GEMM's
rows out as NCHW images while adding the bias (and the ReLU when fused), and back in the
backward pass. Its input gradient goes back through ``col2im``. One-channel images at stride
1 (a network's first layer) are convolved directly instead
(:func:`kernels.conv.conv_single`). :func:`conv2d_relu_max_pool2x2` is a convolution, its ReLU
and a 2x2 max-pool as one op that never writes the full-size activation. The transposed
convolution is the im2col/col2im pair run the other way round.
Computation follows ``x``'s dtype (float32 or float64); weights and biases are cast to it.
Shapes: ``x`` (batch, channels, height, width); ``conv2d`` weights (out_channels,
in_channels / groups, kh, kw); ``conv_transpose2d`` weights (in_channels, out_channels, kh,
kw), as in PyTorch; biases (out_channels,). Pooling takes PyTorch's ``padding`` and
``ceil_mode`` (and ``count_include_pad`` for the mean).

With several Numba threads, every kernel whose call writes at least
:data:`~neurosim.kernels.conv.PARALLEL_VALUES` values runs its parallel twin (over images,
channels or blocks of rows: the serial bits), the Winograd convolutions and the weight
gradient run their chunks of images on the threads, and the products go to the own threaded
GEMM (:func:`~neurosim.kernels.gemm_large.preferred`), never to BLAS's threads.
"""
import numpy as np

from .. import checks
from ..kernels import conv as kc
from ..kernels import gemm_large
from ..kernels.threads import pick, threads
from . import ops, winograd, workspace
from .tensor import as_tensor, record

__all__ = ["conv2d", "conv2d_relu_max_pool2x2", "conv1d", "conv_transpose2d", "max_pool2d",
           "avg_pool2d", "upsample", "conv_output_shape", "pool_output_shape",
           "conv_transpose_output_shape"]


def pair(value, name, low=0):
    """``value`` (int or (h, w) pair) as a pair of ints, each at least ``low``."""
    pair = (value, value) if np.ndim(value) == 0 else tuple(value)
    if len(pair) != 2 or any(int(v) != v or v < low for v in pair):
        raise ValueError(f"{name} must be an int >= {low} or a pair of them; got {value!r}")
    return int(pair[0]), int(pair[1])


def conv_output_shape(in_hw, kernel, stride=1, padding=0, dilation=1):
    """Spatial output shape ``(out_h, out_w)`` of a convolution or pooling window.

    ``in_hw`` (height, width); ``kernel``, ``stride``, ``padding``, ``dilation`` ints or (h, w)
    pairs. ``out = (in + 2*padding - dilation*(kernel - 1) - 1) // stride + 1``. Raises
    ValueError when the (dilated) kernel does not fit the padded input.
    """
    (h, w), (kh, kw) = pair(in_hw, "input shape", 1), pair(kernel, "kernel", 1)
    (sh, sw), (ph, pw) = pair(stride, "stride", 1), pair(padding, "padding", 0)
    dh, dw = pair(dilation, "dilation", 1)
    eh, ew = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    if eh > h + 2 * ph or ew > w + 2 * pw:
        span = "" if (dh, dw) == (1, 1) else f" (spanning {(eh, ew)} with dilation {(dh, dw)})"
        raise ValueError(f"kernel {(kh, kw)}{span} is larger than the padded input "
                         f"{(h + 2 * ph, w + 2 * pw)} (input {(h, w)}, padding {(ph, pw)})")
    return (h + 2 * ph - eh) // sh + 1, (w + 2 * pw - ew) // sw + 1


def pool_output_shape(in_hw, size, stride=None, padding=0, ceil_mode=False):
    """Spatial output shape ``(out_h, out_w)`` of a pooling window, as PyTorch's.

    ``out = floor_or_ceil((in + 2*padding - size) / stride) + 1``; with ``ceil_mode`` a last
    window that would start in the right or bottom padding is dropped. ``padding`` may be at
    most half of ``size`` (a window never lies wholly in the padding); ``stride`` defaults to
    ``size``.
    """
    (h, w), (kh, kw) = pair(in_hw, "input shape", 1), pair(size, "size", 1)
    (sh, sw) = (kh, kw) if stride is None else pair(stride, "stride", 1)
    (ph, pw) = pair(padding, "padding", 0)
    if 2 * ph > kh or 2 * pw > kw:
        raise ValueError(f"padding {(ph, pw)} must be at most half of the window size {(kh, kw)}")
    out = []
    for n, k, s, p in ((h, kh, sh, ph), (w, kw, sw, pw)):
        span = n + 2 * p - k
        if span < 0:
            raise ValueError(f"kernel {(kh, kw)} is larger than the padded input "
                             f"{(h + 2 * ph, w + 2 * pw)} (input {(h, w)}, padding {(ph, pw)})")
        o = (span + (s - 1 if ceil_mode else 0)) // s + 1
        if ceil_mode and (o - 1) * s >= n + p:
            o -= 1
        out.append(o)
    return tuple(out)


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


def _weighted(op, x, W, b, axis, role, groups=1):
    """The Tensors ``(x, W[, b])``, checked: ``W`` 4-D with ``W.shape[axis] * groups`` = x's
    channels, ``b`` one entry per output channel."""
    parents = (as_tensor(x), as_tensor(W)) + (() if b is None else (as_tensor(b),))
    x, W = parents[:2]
    _check_images(op, x)
    if W.ndim != 4:
        raise ValueError(f"{op}: W must be 4-D {role}; got shape {W.shape}")
    if W.shape[axis] * groups != x.shape[1]:
        per = "" if groups == 1 else f" per group ({groups} groups: {x.shape[1]} / {groups})"
        raise ValueError(f"{op}: x of shape {x.shape} has {x.shape[1]} channels but W of shape "
                         f"{W.shape} {role} expects {W.shape[axis]}{per}")
    n_out = W.shape[1 - axis]
    if b is not None and parents[2].shape != (n_out,):
        raise ValueError(f"{op}: b must have shape ({n_out},) for W of shape "
                         f"{W.shape}; got {parents[2].shape}")
    return parents


def _images(data, dtype):
    return np.ascontiguousarray(data, dtype=dtype)


def _swap01(a, n0, n1):
    """``a`` viewed as ``(n0, n1, rest)`` with its first two axes swapped, as a C-contiguous
    ``(n1, n0 * rest)`` matrix."""
    return np.ascontiguousarray(a.reshape(n0, n1, -1).transpose(1, 0, 2)).reshape(n1, -1)


def _twin(serial, parallel, work):
    """The kernel ``serial`` of :mod:`neurosim.kernels.conv` or its ``parallel`` twin (the
    same bits), by the ``work`` of the call (the values it writes, or its multiply-adds):
    :func:`~neurosim.kernels.threads.pick` with :data:`~neurosim.kernels.conv.PARALLEL_VALUES`."""
    return pick((serial, parallel), work, kc.PARALLEL_VALUES)


def _im2col(x, kernel, stride, padding, out_hw, dilation=(1, 1)):
    cols = np.empty((x.shape[1] * kernel[0] * kernel[1], x.shape[0] * out_hw[0] * out_hw[1]),
                    x.dtype)
    _twin(kc.im2col, kc.im2col_parallel, cols.size)(x, *kernel, *stride, *padding, *dilation,
                                                    *out_hw, cols)
    return cols


def _col2im(cols, x, kernel, stride, padding, out_hw, dilation=(1, 1)):
    """The adjoint of :func:`_im2col`, written into the images ``x``; returns ``x``."""
    _twin(kc.col2im, kc.col2im_parallel, cols.size)(cols, *kernel, *stride, *padding,
                                                    *dilation, *out_hw, x)
    return x


def _images_to_rows(g, out, relu, rows, gb):
    """:func:`~neurosim.kernels.conv.images_to_rows` (or its parallel twin)."""
    _twin(kc.images_to_rows, kc.images_to_rows_parallel, rows.size)(g, out, relu, rows, gb)


def _pooled_to_rows(g, out, argmax, rows, gb):
    """:func:`~neurosim.kernels.conv.pooled_to_rows` (or its parallel twin)."""
    _twin(kc.pooled_to_rows, kc.pooled_to_rows_parallel, rows.size)(g, out, argmax, rows, gb)


def _grouped(a, b, groups, transpose_a=False, transpose_b=False):
    """The products ``a_g @ b_g`` of the ``groups`` row blocks of ``a`` and ``b`` (each
    transposed first where asked), stacked by rows: one GEMM when ``groups`` is 1 (neurosim's
    or BLAS's by shape: :func:`~neurosim.kernels.gemm_large.product`)."""
    if groups == 1:
        return gemm_large.product(a, b, transpose_a, transpose_b)
    rows_a, rows_b = a.shape[0] // groups, b.shape[0] // groups
    parts = []
    for k in range(groups):
        ak, bk = a[k * rows_a:(k + 1) * rows_a], b[k * rows_b:(k + 1) * rows_b]
        parts.append(gemm_large.product(ak, bk, transpose_a, transpose_b))
    return np.concatenate(parts)


FUSED = ("identity", "relu")
#: conv2d runs im2col and its products over chunks of images whose patch matrix takes at most
#: this many bytes (one image at least), so that the matrix stays in the core's L2 cache between
#: being written and read (the backward pass builds it again instead of keeping it)
CHUNK_BYTES = 2 ** 20


def conv2d(x, W, b=None, stride=1, padding=0, dilation=1, groups=1, activation="identity"):
    """2-D cross-correlation (a convolution layer's map), by im2col and one GEMM per group.

    Parameters
    ----------
    x : Tensor or array, (batch, in_channels, height, width)
    W : Tensor or array, (out_channels, in_channels / groups, kh, kw)
    b : Tensor or array, (out_channels,), optional
    stride, padding, dilation : int or (h, w) pair
        Zero padding on both sides of each spatial axis; ``dilation`` spaces the kernel's taps.
    groups : int
        In and out channels split into this many groups, each convolved with its own filters
        (PyTorch's ``groups``; ``in_channels`` groups of one channel make it depthwise).
    activation : {"identity", "relu"}
        Applied in the pass that lays the output out, as one op (the same values as
        ``ops.relu(conv2d(...))``).

    Returns
    -------
    Tensor, (batch, out_channels, out_h, out_w)
        Sizes from :func:`conv_output_shape`; dtype of ``x``.
    """
    relu = checks.choice(activation, "activation", FUSED) == "relu"
    return _convolve("conv2d", x, W, b, stride, padding, dilation, groups, relu, False)


def conv2d_relu_max_pool2x2(x, W, b=None, stride=1, padding=0, dilation=1, groups=1):
    """``max_pool2d(conv2d(x, W, b, stride, padding, dilation, groups, "relu"), 2)`` as one op,
    without the full-size activation.

    The kernel that lays the convolution's output out (or convolves one-channel images
    directly) takes the 2x2/stride-2 maxima of its ReLU in the same pass and keeps each
    window's argmax (int32); the backward pass goes from the pooled gradient straight to the
    convolution's: the GEMM path's gradient rows (:func:`kernels.conv.pooled_to_rows`), or the
    direct path's weight, bias and input gradients. Values, argmax rule (the first maximum
    in row-major order, a NaN wins) and gradients are those of the two ops in turn, bit for
    bit. ``Sequential`` runs a ``Conv2D(activation="relu")`` followed by ``MaxPool2D(2)`` this
    way.

    Parameters as :func:`conv2d`. Returns a Tensor (batch, out_channels, out_h // 2,
    out_w // 2), ``(out_h, out_w)`` the convolution's output size (an odd last row or column
    is dropped, as the pool drops it).
    """
    return _convolve("conv2d_relu_max_pool2x2", x, W, b, stride, padding, dilation, groups,
                     True, True)


def _convolve(op, x, W, b, stride, padding, dilation, groups, relu, pool):
    """:func:`conv2d` (its ReLU when ``relu``), then the 2x2 max-pool when ``pool``: checks,
    then the direct path for one-channel images at stride 1, else im2col and GEMMs."""
    groups = checks.integer(groups, "groups", low=1)
    parents = _weighted(op, x, W, b, 1, "(out_channels, in_channels / groups, kh, kw)", groups)
    x, W = parents[:2]
    if W.shape[0] % groups:
        raise ValueError(f"{op}: out_channels {W.shape[0]} (W of shape {W.shape}) must be a "
                         f"multiple of groups {groups}")
    stride, padding = pair(stride, "stride", 1), pair(padding, "padding", 0)
    dilation = pair(dilation, "dilation", 1)
    n_out, kernel = W.shape[0], W.shape[2:]
    out_hw = conv_output_shape(x.shape[2:], kernel, stride, padding, dilation)
    if pool and min(out_hw) < 2:
        raise ValueError(f"{op}: the convolution's output {out_hw} is smaller than the 2x2 "
                         f"pool (x of shape {x.shape}, W of shape {W.shape})")
    shape = (x.shape[0], n_out) + ((out_hw[0] // 2, out_hw[1] // 2) if pool else out_hw)
    dtype = x.dtype
    xd = _images(x.data, dtype)
    bias = np.zeros(n_out, dtype) if b is None else parents[2].data.astype(dtype, copy=False)
    if x.shape[1] == 1 and stride == (1, 1):
        return _conv_single(x, W, parents, xd, bias, padding, dilation, relu, pool, shape)
    geometry = (kernel, stride, padding, out_hw, dilation)
    if _winograd_suits(xd, geometry, groups):
        return _conv_winograd(x, W, parents, xd, bias, geometry, relu, pool, shape)
    return _conv_gemm(x, W, parents, xd, bias, geometry, groups, relu, pool, shape)


#: float32 3x3 convolutions at stride 1 with at least this many input channels run by
#: Winograd F(2x2, 3x3) (:mod:`neurosim.nn.winograd`) instead of im2col
WINOGRAD_MIN_CHANNELS = 8


def _winograd_suits(xd, geometry, groups):
    """Whether :func:`_conv_winograd` takes this convolution: float32, one group, a 3x3
    kernel at stride 1 without dilation, the same padding (0-2) on both axes, at least
    :data:`WINOGRAD_MIN_CHANNELS` input channels."""
    kernel, stride, padding, _, dilation = geometry
    return (xd.dtype == np.float32 and groups == 1 and kernel == (3, 3) and stride == (1, 1)
            and dilation == (1, 1) and padding[0] == padding[1] <= 2
            and xd.shape[1] >= WINOGRAD_MIN_CHANNELS)


def _conv_winograd(x, W, parents, xd, bias, geometry, relu, pool, shape):
    """:func:`_convolve` by Winograd F(2x2, 3x3) (:mod:`neurosim.nn.winograd`): the
    output with its bias and ReLU (or, where ``pool``, the 2x2 maxima and their argmax straight
    from the transformed products) and the input gradient in one call for the batch, 2.25x
    fewer multiply-adds than im2col's product (forward 1.7-1.9x, input gradient 1.3-1.7x faster
    at 16-32 -> 32-64 channels on 14x14, float32); the weight gradient stays on im2col and its
    product, over chunks of images."""
    dtype, n, n_out = xd.dtype, shape[0], shape[1]
    padding, out_hw = geometry[2], geometry[3]
    Wd = np.ascontiguousarray(W.data, dtype)
    if pool:                  # the pooled output and argmax, without the full-size output
        out, argmax = winograd.conv3x3_relu_max_pool2x2(xd, Wd, bias, padding[0])
    else:
        out = winograd.conv3x3(xd, Wd, bias, padding[0], relu)    # (N, out, oh, ow)
    size = out_hw[0] * out_hw[1]

    def backward(g):
        g = _images(g, dtype).reshape(shape)
        rows = workspace.take((n_out, n * size), dtype)     # the masked GEMM rows
        gb = np.empty(n_out)
        if pool:
            _pooled_to_rows(g, out, argmax, rows.reshape(n_out, n, *out_hw), gb)
        else:
            _images_to_rows(g.reshape(n, n_out, size), out.reshape(n, n_out, size), relu, rows,
                            gb)
        gx = gW = None
        if x.requires_grad:           # one call for the batch (the rows seen as images)
            images = rows.reshape(n_out, n, *out_hw).transpose(1, 0, 2, 3)
            gx = winograd.conv3x3_input_grad(images, Wd, padding[0], xd.shape[2:])
        gW = _weight_gradient(xd, rows, geometry).reshape(W.shape) if W.requires_grad else None
        workspace.give(rows)
        return (gx, gW) if len(parents) == 2 else (gx, gW, gb.astype(dtype))
    return record(out, parents, backward)


def _weight_gradient(xd, rows, geometry):
    """The weight gradient (out_channels, in_channels*kh*kw) of a one-group convolution of the
    images ``xd`` from its output's gradient ``rows`` (out_channels, N*oh*ow), ``geometry``
    as :func:`_im2col` takes it: im2col and one own GEMM per chunk of images whose patch
    matrix takes :data:`CHUNK_BYTES`, the chunks' products added in order (the same chunks
    and bits on any thread count). With several Numba threads, runs of chunks on the threads
    (:func:`~neurosim.kernels.conv.weight_gradient_parallel`)."""
    n, n_out, dtype = xd.shape[0], rows.shape[0], xd.dtype
    kernel, stride, padding, out_hw, dilation = geometry
    depth, size = xd.shape[1] * kernel[0] * kernel[1], out_hw[0] * out_hw[1]
    per = max(1, CHUNK_BYTES // (depth * size * xd.itemsize))
    n_chunks = -(-n // per)
    gW = np.empty((n_out, depth), dtype)
    parts = min(n_chunks, threads(n_out * depth * n * size, gemm_large.THREADED_WORK))
    if parts > 1:          # the work arrays kept between calls (no page faults on the threads)
        work = [workspace.take(shape, dtype) for shape in (
            (parts, depth * per * size), (parts, n_out * per * size), (n_chunks, n_out, depth))]
        kc.weight_gradient_parallel(xd, rows, *kernel, *stride, *padding, *dilation, *out_hw,
                                    per, *work, gW)
        workspace.give(*work)
        return gW
    gW[:] = 0
    term = np.empty_like(gW)
    for s in range(0, n, per):
        part_rows = np.ascontiguousarray(rows[:, s * size:min(s + per, n) * size])
        gW += gemm_large.gemm(part_rows, _im2col(xd[s:s + per], *geometry), term, trans_b=True)
    return gW


def _conv_gemm(x, W, parents, xd, bias, geometry, groups, relu, pool, shape):
    """:func:`_convolve` by im2col and GEMMs over chunks of images; ``shape`` the output's,
    ``geometry`` (kernel, stride, padding, out_hw, dilation) the im2col arguments."""
    dtype, n, n_out = xd.dtype, shape[0], shape[1]
    kernel, stride, padding, out_hw, dilation = geometry
    W2 = W.data.reshape(n_out, -1).astype(dtype, copy=False)      # (out, in/groups*kh*kw)
    size = out_hw[0] * out_hw[1]
    per = max(1, CHUNK_BYTES // (W2.shape[1] * groups * size * xd.itemsize))
    chunks = [slice(s, min(s + per, n)) for s in range(0, n, per)]
    out = np.empty(shape if pool else (n, n_out, size), dtype)
    argmax = np.empty(shape, np.int32) if pool else None
    for part in chunks:                  # cols (in*kh*kw, images*oh*ow) of a chunk of images
        cols = _im2col(xd[part], *geometry)
        rows = _grouped(W2, cols, groups)
        if pool:
            _twin(kc.rows_to_pooled, kc.rows_to_pooled_parallel, rows.size)(
                rows.reshape(n_out, -1, *out_hw), bias, out[part], argmax[part])
        else:
            _twin(kc.rows_to_images, kc.rows_to_images_parallel, rows.size)(
                rows, bias, relu, out[part])
    kept = cols if len(chunks) == 1 else None

    def backward(g):
        g = _images(g, dtype).reshape(out.shape)
        gx = np.empty_like(xd) if x.requires_grad else None
        gW = np.zeros_like(W2) if W.requires_grad else None
        gb = np.zeros(n_out)
        for part in chunks:
            g2 = np.empty((n_out, (part.stop - part.start) * size), dtype)
            gb_part = np.empty(n_out)
            if pool:
                _pooled_to_rows(g[part], out[part], argmax[part],
                                g2.reshape(n_out, -1, *out_hw), gb_part)
            else:
                _images_to_rows(g[part], out[part], relu, g2, gb_part)
            gb += gb_part
            if gx is not None:
                _col2im(_grouped(W2, g2, groups, transpose_a=True), gx[part], kernel, stride,
                        padding, out_hw, dilation)
            if gW is not None:
                cols = _im2col(xd[part], *geometry) if kept is None else kept
                gW += _grouped(g2, cols, groups, transpose_b=True)
        gW = None if gW is None else gW.reshape(W.shape)
        return (gx, gW) if len(parents) == 2 else (gx, gW, gb.astype(dtype))
    return record(out.reshape(shape), parents, backward)


def _conv_single(x, W, parents, xd, bias, padding, dilation, relu, pool, shape):
    """:func:`_convolve` of one-channel images at stride 1, directly (no patch matrix:
    im2col's ``kh*kw`` copies of the image and a GEMM over ``kh*kw`` terms cost more than the
    taps)."""
    Wd = np.ascontiguousarray(W.data, dtype=xd.dtype)
    out = np.empty(shape, xd.dtype)
    argmax = np.empty(shape if pool else (0, 0, 0, 0), np.int32)
    work = xd.size * W.shape[0] * W.shape[2] * W.shape[3]      # multiply-adds
    _twin(kc.conv_single, kc.conv_single_parallel, work)(xd, Wd, bias, *padding, *dilation,
                                                         relu, pool, out, argmax)

    def backward(g):
        gx = np.empty_like(xd) if x.requires_grad else None
        gW, gb = np.empty((W.shape[0], W.shape[2] * W.shape[3])), np.empty(W.shape[0])
        _twin(kc.conv_single_backward, kc.conv_single_backward_parallel, work)(
            _images(g, xd.dtype).reshape(shape), out, argmax, xd, Wd, *padding, *dilation,
            relu, pool, gx is not None, xd[:0] if gx is None else gx, gW, gb)
        gW = gW.astype(xd.dtype).reshape(W.shape) if W.requires_grad else None
        return (gx, gW) if len(parents) == 2 else (gx, gW, gb.astype(xd.dtype))
    return record(out, parents, backward)


def conv1d(x, W, b=None, stride=1, padding=0, dilation=1, groups=1, activation="identity"):
    """1-D cross-correlation over sequences of channels: :func:`conv2d` on images one pixel
    high.

    ``x`` (batch, in_channels, length), ``W`` (out_channels, in_channels / groups, k), ``b``
    (out_channels,); ``stride``, ``padding``, ``dilation`` ints. Returns (batch, out_channels,
    out_length), ``out_length = (length + 2*padding - dilation*(k - 1) - 1) // stride + 1``.
    """
    x, W = as_tensor(x), as_tensor(W)
    if x.ndim != 3:
        raise ValueError(f"conv1d: x must be 3-D (batch, channels, length); got shape {x.shape}")
    if W.ndim != 3:
        raise ValueError(f"conv1d: W must be 3-D (out_channels, in_channels / groups, k); got "
                         f"shape {W.shape}")
    ints = {name: checks.integer(v, name, low=low) for name, v, low in
            (("stride", stride, 1), ("padding", padding, 0), ("dilation", dilation, 1))}
    out = conv2d(ops.reshape(x, (x.shape[0], x.shape[1], 1, x.shape[2])),
                 ops.reshape(W, (W.shape[0], W.shape[1], 1, W.shape[2])), b,
                 (1, ints["stride"]), (0, ints["padding"]), (1, ints["dilation"]), groups,
                 activation)
    return ops.reshape(out, (out.shape[0], out.shape[1], out.shape[3]))


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
    out = _col2im(gemm_large.product(W2, x2, trans_a=True),
                  np.empty((n, n_out, *out_hw), dtype), kernel, stride, padding, (h, w))
    if b is not None:
        out += parents[2].data.astype(dtype, copy=False)[:, None, None]

    def backward(g):
        cols = _im2col(_images(g, dtype), kernel, stride, padding, (h, w))
        gx = _swap01(gemm_large.product(W2, cols), n_in, n).reshape(x.shape) \
            if x.requires_grad else None
        gW = gemm_large.product(x2, cols, trans_b=True).reshape(W.shape) \
            if W.requires_grad else None
        return (gx, gW) if b is None else (gx, gW, g.sum(axis=(0, 2, 3)))
    return record(out, parents, backward)


def _pool_setup(op, x, size, stride, padding, ceil_mode):
    x = as_tensor(x)
    _check_images(op, x)
    size = pair(size, "size", 1)
    stride = size if stride is None else pair(stride, "stride", 1)
    padding = pair(padding, "padding", 0)
    out_hw = pool_output_shape(x.shape[2:], size, stride, padding, bool(ceil_mode))
    return (x, _images(x.data, x.dtype), size + stride + padding,
            np.empty(x.shape[:2] + out_hw, x.dtype))


def max_pool2d(x, size=2, stride=None, padding=0, ceil_mode=False):
    """Maximum over ``size`` windows every ``stride`` (default ``size``) pixels.

    ``x`` (batch, channels, height, width) -> (batch, channels, out_h, out_w), sizes from
    :func:`pool_output_shape`: ``padding`` (at most half the window) pads with minus infinity,
    ``ceil_mode`` keeps partial windows at the bottom and right, as PyTorch's ``max_pool2d``.
    The gradient goes to the first maximum of each window.
    """
    x, xd, geometry, out = _pool_setup("max_pool2d", x, size, stride, padding, ceil_mode)
    argmax = np.empty(out.shape, np.intp)
    (h, w), (oh, ow) = xd.shape[2:], out.shape[2:]
    halves = geometry == (2, 2, 2, 2, 0, 0) and 2 * oh <= h and 2 * ow <= w
    if halves:                      # 2x2 windows inside the image: the unrolled kernel
        _twin(kc.max_pool2x2, kc.max_pool2x2_parallel, xd.size)(xd, out, argmax)
    else:
        _twin(kc.max_pool2d, kc.max_pool2d_parallel, xd.size)(xd, *geometry, out, argmax)

    def backward(g):
        g = _images(g, xd.dtype)
        if halves:                  # writes every pixel a window covers
            dx = (np.empty_like if (2 * oh, 2 * ow) == (h, w) else np.zeros_like)(xd)
            _twin(kc.max_pool2x2_backward, kc.max_pool2x2_backward_parallel, dx.size)(
                g, argmax, dx)
        else:
            dx = np.zeros_like(xd)
            _twin(kc.max_pool2d_backward, kc.max_pool2d_backward_parallel, dx.size)(
                g, argmax, dx)
        return (dx,)
    return record(out, (x,), backward)


def avg_pool2d(x, size=2, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """Mean over ``size`` windows every ``stride`` (default ``size``) pixels.

    ``x`` (batch, channels, height, width) -> (batch, channels, out_h, out_w), sizes from
    :func:`pool_output_shape` (``padding``, ``ceil_mode`` as in :func:`max_pool2d`, the padding
    zeros). The divisor counts the padding inside the padded image when ``count_include_pad``,
    only the image's pixels otherwise, as PyTorch's ``avg_pool2d``.
    """
    x, xd, geometry, out = _pool_setup("avg_pool2d", x, size, stride, padding, ceil_mode)
    include = bool(count_include_pad)
    _twin(kc.avg_pool2d, kc.avg_pool2d_parallel, xd.size)(xd, *geometry, include, out)

    def backward(g):
        dx = np.zeros_like(xd)
        _twin(kc.avg_pool2d_backward, kc.avg_pool2d_backward_parallel, dx.size)(
            _images(g, xd.dtype), *geometry, include, dx)
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
    _twin(kc.interpolate2d, kc.interpolate2d_parallel, out.size)(xd, *taps, out)

    def backward(g):
        dx = np.zeros_like(xd)
        _twin(kc.interpolate2d_backward, kc.interpolate2d_backward_parallel, out.size)(
            _images(g, xd.dtype), *taps, dx)
        return (dx,)
    return record(out, (x,), backward)
