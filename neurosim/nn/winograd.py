"""Winograd F(2x2, 3x3) convolution of arrays (3x3 filters, stride 1, dilation 1, one
group, zero padding 0, 1 or 2; NCHW, float32 or float64), as :mod:`neurosim.nn.conv` runs its
float32 3x3 layers: the checked entries :func:`conv3x3`, :func:`conv3x3_relu_max_pool2x2` and
:func:`conv3x3_input_grad` over the transforms of :mod:`neurosim.kernels.winograd` (see there
for the method and the arrays ``U``, ``V``, ``M``), by chunks of images whose transformed
inputs and products stay in L2, the work arrays kept between calls (:mod:`.workspace`). With
several Numba threads a call's chunks run in as many runs of consecutive chunks, one a thread
with its own work arrays (:func:`neurosim.kernels.winograd.convolve_parallel`: the products
as serial own GEMMs); a call of one chunk runs the transforms' parallel twins and the 16
products on the threads (:func:`products`).
"""
import numpy as np

from ..kernels import winograd as kw
from ..kernels.conv import PARALLEL_VALUES
from ..kernels.threads import pick, threads
from . import workspace

PADDINGS = (0, 1, 2)
#: bytes of the transformed inputs and products (``V`` and ``M``) of a chunk of images: at
#: 128 x 32 x 14 x 14 -> 64 channels, float32, chunks of 8 images (2.4 MB, held in L2) ran
#: the whole forward in 6.5 ms, the whole batch at once (38 MB) in 8.8 ms
CHUNK_BYTES = 5 << 19


#: multiply-adds of the 16 products of a chunk from which each thread makes some of them
PARALLEL_WORK = 1 << 20


def products(U, V, M):
    """``M[e] = U[e] @ V[e]`` for the 16 planes: (16, K, C) @ (16, C, T) -> (16, K, T), one
    serial own GEMM of :mod:`~neurosim.kernels.gemm_large` a plane (a value's bits do not
    depend on the chunk's columns, so a chunk's products are the same on any thread count);
    with several Numba threads (and :data:`PARALLEL_WORK`) the planes on the threads."""
    _, n_out, n_in = U.shape
    work = 16 * n_out * n_in * V.shape[2]
    pick((kw.plane_products, kw.plane_products_parallel), work, PARALLEL_WORK)(U, V, M)
    return M


def chunk_size(n, most, parts):
    """Images a chunk of ``n`` images in runs of chunks on ``parts`` threads: at most ``most``,
    and as many chunks as make every run as long (17 + 15 images on two threads became 16 +
    16)."""
    chunks = parts * -(-n // (parts * most))
    return -(-n // chunks)


def _float_array(op, name, a, ndim):
    """``a`` checked: a NumPy float32/float64 array of ``ndim`` dims."""
    if not isinstance(a, np.ndarray) or a.dtype not in (np.float32, np.float64):
        raise TypeError(f"{op}: {name} must be a float32 or float64 NumPy array; got "
                        f"{type(a).__name__}"
                        f"{f' of {a.dtype}' if isinstance(a, np.ndarray) else ''}")
    if a.ndim != ndim:
        raise ValueError(f"{op}: {name} must have {ndim} dims; got shape {a.shape}")
    return a


def _rows(a):
    """``a`` where its rows are contiguous (any other strides: e.g. the im2col path's gradient
    rows (K, N, oh, ow) seen as (N, K, oh, ow) by a transpose, read as they are), else a
    C-contiguous copy."""
    return a if a.strides[-1] == a.itemsize else np.ascontiguousarray(a)


def _filters(op, W, n_in, dtype):
    """``W`` checked against ``n_in`` input channels: (K, n_in, 3, 3), ``dtype``, contiguous."""
    W = _float_array(op, "W", W, 4)
    if W.shape[1:] != (n_in, 3, 3):
        raise ValueError(f"{op}: W must be (out_channels, {n_in}, 3, 3) (3x3 filters over the "
                         f"input's {n_in} channels); got shape {W.shape}")
    return np.ascontiguousarray(W, dtype)


def _padding(op, padding):
    """``padding`` checked: one of :data:`PADDINGS`."""
    if type(padding) not in (int, np.int64) or padding not in PADDINGS:
        raise ValueError(f"{op}: padding must be one of {PADDINGS}; got {padding!r}")
    return int(padding)


def _convolve(x, W, bias, pad, relu, pool=False):
    """The convolution of checked arguments: ``x`` (N, C, H, W) with contiguous rows and ``W``
    (K, C, 3, 3) C-contiguous of one dtype, ``bias`` (K,) of it; returns (N, K, oh, ow), or
    where ``pool`` the ReLU's 2x2 max-pool (N, K, oh // 2, ow // 2) and its argmax
    (:func:`pooled`). The images run in chunks whose ``V`` and ``M`` take about
    :data:`CHUNK_BYTES` together, kept for the next chunk (and call:
    :mod:`neurosim.nn.workspace`)."""
    n_img, n_in, h, w = x.shape
    n_out = W.shape[0]
    oh, ow = h + 2 * pad - 2, w + 2 * pad - 2
    per = kw._tiles(oh) * kw._tiles(ow)
    step = max(1, min(n_img, CHUNK_BYTES // (16 * (n_in + n_out) * per * x.itemsize)))
    U = np.empty((16, n_out, n_in), x.dtype)
    kw.weights(W, U)
    out = np.empty((n_img, n_out) + ((oh // 2, ow // 2) if pool else (oh, ow)), x.dtype)
    argmax = np.empty(out.shape if pool else (0, 0, 0, 0), np.int32)
    parts = min(threads(16 * n_out * n_in * n_img * per, PARALLEL_WORK), -(-n_img // step))
    if parts > 1:           # runs of chunks on the threads, each with its own V and M
        step = chunk_size(n_img, step, parts)
        V = workspace.take((parts, 16 * n_in * step * per), x.dtype)
        M = workspace.take((parts, 16 * n_out * step * per), x.dtype)
        kw.convolve_parallel(x, U, bias, pad, relu, pool, step, V, M, out, argmax)
        workspace.give(V, M)
        return (out, argmax) if pool else out
    V = workspace.take((16 * n_in * step * per,), x.dtype)
    M = workspace.take((16 * n_out * step * per,), x.dtype)
    for start in range(0, n_img, step):
        part = slice(start, min(start + step, n_img))
        tiles = (part.stop - start) * per
        Vc = V[:16 * n_in * tiles].reshape(16, n_in, tiles)
        Mc = M[:16 * n_out * tiles].reshape(16, n_out, tiles)
        # (a call of one chunk: the kernels' parallel twins, by the values each writes)
        pick((kw.inputs, kw.inputs_parallel), Vc.size, PARALLEL_VALUES)(x[part], pad, Vc)
        products(U, Vc, Mc)
        if pool:
            pick((kw.pooled, kw.pooled_parallel), Mc.size, PARALLEL_VALUES)(
                Mc, bias, oh, ow, out[part], argmax[part])
        else:
            pick((kw.outputs, kw.outputs_parallel), Mc.size, PARALLEL_VALUES)(
                Mc, bias, relu, out[part])
    workspace.give(V, M)
    return (out, argmax) if pool else out


def _checked(op, x, W, b, padding):
    """``(x, W, bias, pad)`` of a forward call, checked (bias zeros where ``b`` is None)."""
    x = _rows(_float_array(op, "x", x, 4))
    W = _filters(op, W, x.shape[1], x.dtype)
    pad = _padding(op, padding)
    if min(x.shape[2:]) + 2 * pad < 3:
        raise ValueError(f"{op}: x's images {x.shape[2:]} padded by {pad} are smaller than the "
                         f"3x3 filter")
    bias = np.zeros(W.shape[0], x.dtype) if b is None else np.asarray(b, x.dtype)
    if bias.shape != (W.shape[0],):
        raise ValueError(f"{op}: b must be ({W.shape[0]},) (one per out channel of W); got "
                         f"shape {bias.shape}")
    return x, W, bias, pad


def conv3x3(x, W, b=None, padding=1, relu=False):
    """3x3 cross-correlation (stride 1) of ``x`` with ``W`` plus ``b``, by Winograd F(2x2, 3x3):
    the values of ``neurosim.nn.conv.conv2d(x, W, b, padding=padding)`` within rounding.

    Parameters
    ----------
    x : ndarray, (N, C, H, W), float32 or float64 (any strides; rows contiguous or copied)
    W : ndarray, (K, C, 3, 3), float (converted to ``x``'s dtype)
    b : ndarray, (K,), optional
    padding : {0, 1, 2}
        Zeros on each side of both spatial axes.
    relu : bool
        Apply the ReLU (``v if v > 0 else 0``) to the output, in the pass that lays it out.

    Returns
    -------
    ndarray, (N, K, H + 2 padding - 2, W + 2 padding - 2), ``x``'s dtype
    """
    x, W, bias, pad = _checked("conv3x3", x, W, b, padding)
    return _convolve(x, W, bias, pad, bool(relu))


def conv3x3_relu_max_pool2x2(x, W, b=None, padding=1):
    """``max_pool2x2(relu(conv3x3(x, W, b, padding)))`` without the convolution's output (a
    tile of 2x2 outputs is a pool window), with the argmax: the values and indices of
    :func:`conv3x3` with ``relu`` then ``neurosim.kernels.conv.max_pool2x2``, bit for bit,
    as ``neurosim.nn.conv.conv2d_relu_max_pool2x2`` keeps them for its backward pass.

    Parameters as :func:`conv3x3`; the convolution's output (oh, ow) at least 2x2.

    Returns
    -------
    out : ndarray, (N, K, oh // 2, ow // 2), ``x``'s dtype
        The maxima (an odd last row or column of the convolution's output is in no window).
    argmax : ndarray, same shape, int32
        Each maximum's flat index ``y * ow + x`` in its convolution plane (the first maximum
        in row-major order).
    """
    op = "conv3x3_relu_max_pool2x2"
    x, W, bias, pad = _checked(op, x, W, b, padding)
    if min(x.shape[2:]) + 2 * pad < 4:
        raise ValueError(f"{op}: x's images {x.shape[2:]} padded by {pad} give a convolution "
                         f"output smaller than the 2x2 pool")
    return _convolve(x, W, bias, pad, True, pool=True)


def conv3x3_input_grad(g, W, padding, in_hw):
    """The gradient with respect to the input of ``conv3x3(x, W, b, padding)`` (without ReLU:
    ``g`` is the gradient of the output before it) for images of size ``in_hw``.

    It is itself a 3x3 convolution, of ``g`` padded by ``2 - padding`` with the filters
    flipped and their in and out channels swapped, and runs through the same kernels.

    Parameters
    ----------
    g : ndarray, (N, K, oh, ow), float32 or float64
        The output gradient, ``(oh, ow) = (H + 2 padding - 2, W + 2 padding - 2)``; any
        strides (rows contiguous or copied): e.g. ``rows.reshape(K, N, oh, ow).transpose(1, 0,
        2, 3)`` of the im2col path's gradient rows, without a copy.
    W : ndarray, (K, C, 3, 3), float (converted to ``g``'s dtype)
    padding : {0, 1, 2}
        The forward's padding.
    in_hw : (int, int)
        The input's (H, W).

    Returns
    -------
    ndarray, (N, C, H, W), ``g``'s dtype
    """
    op = "conv3x3_input_grad"
    g = _rows(_float_array(op, "g", g, 4))
    pad = _padding(op, padding)
    W = _filters(op, W, _float_array(op, "W", W, 4).shape[1], g.dtype)
    if W.shape[0] != g.shape[1]:
        raise ValueError(f"{op}: g must have W's {W.shape[0]} out channels; got shape "
                         f"{g.shape}")
    h, w = in_hw
    if g.shape[2:] != (h + 2 * pad - 2, w + 2 * pad - 2) or min(h, w) < 1:
        raise ValueError(f"{op}: g's images {g.shape[2:]} are not the output of in_hw "
                         f"{tuple(in_hw)} padded by {pad}")
    flipped = np.ascontiguousarray(W[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))
    return _convolve(g, flipped, np.zeros(W.shape[1], g.dtype), 2 - pad, False)
