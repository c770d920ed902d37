"""Dropout and normalisation ops: inverted dropout, batch norm (training and inference) and
layer norm.

Each op is one recorded node with an analytic backward, so a normalisation layer costs one op
on the tape. Arguments may be Tensors or arrays; parameters that are constants take the dtype of
``x`` (float32 stays float32).
"""
import threading

import numpy as np

from ..kernels import nn_norm as kq
from ..kernels import threads as kthreads
from . import workspace
from .tensor import Tensor, as_tensor, record

def dropout(x, rate, generator):
    """Inverted dropout: each unit is zeroed with probability ``rate``, the kept ones scaled.

    Kept units are multiplied by ``1 / (1 - rate)``, so the expected value of every unit is
    unchanged and nothing needs rescaling at inference (where the layer skips this op).

    Parameters
    ----------
    x : Tensor or array_like
        Input of any shape.
    rate : float
        Probability of dropping a unit, in ``[0, 1)``. At 0, ``x`` is returned unchanged (no
        numbers are drawn).
    generator : numpy.random.Generator
        Source of the mask (the layer owns one, seeded from the model's seed).

    Returns
    -------
    Tensor
        Shape of ``x``; the gradient flows only through the kept units (with the same scale).

    The mask is ``generator.random(x.shape) >= rate``, as one call draws it. For float32 and
    float64 inputs the mask and the output are made in one compiled pass
    (:func:`~neurosim.kernels.nn_norm.dropout_rows`); with several threads, from
    :data:`~neurosim.kernels.nn_norm.DROPOUT_WORK` units and a PCG64 generator (NumPy's
    default), the uniforms are drawn in parts on Python threads from copies of the generator
    advanced to each part, and the generator is advanced past them: the same numbers, mask and
    final state as one call. Float32, 8192 x 128, NumPy's formula against this op: 2.94 against
    2.55-2.69 ms on one thread (CPU time); 2.87-3.04 against 1.88-2.01 ms on two (wall time,
    load 1.9 on 2 cores); two thirds of it are the draws.
    """
    rate = float(rate)
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"dropout rate must lie in [0, 1); got {rate}")
    if not isinstance(generator, np.random.Generator):
        raise TypeError(f"generator must be a numpy.random.Generator; got "
                        f"{type(generator).__name__}")
    x = as_tensor(x)
    if rate == 0.0:
        return x
    if x.dtype not in (np.float32, np.float64):
        scale = (generator.random(x.shape) >= rate).astype(x.dtype)
        scale *= x.dtype.type(1.0 / (1.0 - rate))
        return record(x.data * scale, (x,), lambda g: (g * scale,))
    flat = np.ascontiguousarray(x.data).reshape(-1)
    u = workspace.take((flat.size,), np.float64)     # the uniforms: kept for the next call
    out, scale = np.empty_like(flat), np.empty_like(flat)
    count = kthreads.threads(flat.size, kq.DROPOUT_WORK) if _advances(generator) else 1

    def part(lo, hi):          # the uniforms of units lo:hi, then their mask and outputs
        (generator if count == 1 else _advanced(generator, lo)).random(out=u[lo:hi])
        kq.dropout_rows(flat[lo:hi], u[lo:hi], rate, x.dtype.type(1.0 / (1.0 - rate)),
                        out[lo:hi], scale[lo:hi])
    _on_threads(part, flat.size, count)
    if count > 1:
        generator.bit_generator.advance(flat.size)      # as if drawn here: the same state
    workspace.give(u)
    scale = scale.reshape(x.shape)
    return record(out.reshape(x.shape), (x,), lambda g: (g * scale,))


def _advances(generator):
    """Whether ``generator``'s stream can be drawn in parts on threads with the numbers and
    final state of one call: a PCG64 (or PCG64DXSM) bit generator, which can advance by any
    number of draws (one a float64), holding no buffered 32-bit half (which advancing drops)."""
    bits = generator.bit_generator
    return isinstance(bits, (np.random.PCG64, np.random.PCG64DXSM)) and \
        not bits.state["has_uint32"]


def _advanced(generator, draws):
    """A new Generator on a copy of ``generator``'s bit generator advanced by ``draws``."""
    bits = type(generator.bit_generator)()
    bits.state = generator.bit_generator.state
    bits.advance(draws)
    return np.random.Generator(bits)


def _on_threads(part, size, count):
    """``part(lo, hi)`` for ``count`` runs of ``range(size)``: the first here, the others on
    Python threads (``part`` releases the GIL: NumPy's draws and a ``nogil`` kernel), all
    joined before returning."""
    bounds = [size * p // count for p in range(count + 1)]
    workers = [threading.Thread(target=part, args=bounds[p:p + 2]) for p in range(1, count)]
    for w in workers:
        w.start()
    part(*bounds[:2])
    for w in workers:
        w.join()


def _params(x, gamma, beta, size, what):
    """``gamma`` and ``beta`` as Tensors of shape ``(size,)``; constants in ``x``'s dtype."""
    out = []
    for name, p in (("gamma", gamma), ("beta", beta)):
        p = as_tensor(p)
        if p.shape != (size,):
            raise ValueError(f"{name} must have shape ({size},), one entry per {what}; got "
                             f"{p.shape}")
        if p.dtype != x.dtype and not p.requires_grad:
            p = Tensor(p.data.astype(x.dtype))
        out.append(p)
    return out


def _feature_axis(x, axis):
    if x.ndim < 2:
        raise ValueError(f"batch_norm needs a batch axis and a feature axis; got shape {x.shape}")
    if not -x.ndim <= axis < x.ndim or axis % x.ndim == 0:
        raise ValueError(f"axis must name a feature axis of shape {x.shape} (not the batch axis "
                         f"0); got {axis}")
    axis %= x.ndim
    reduce = tuple(i for i in range(x.ndim) if i != axis)
    shape = tuple(x.shape[axis] if i == axis else 1 for i in range(x.ndim))
    return axis, reduce, shape


def _scale_shift(x, gamma, beta, xhat, inv_std, shape, param_axes, stat_axes):
    """The node ``y = gamma * xhat + beta`` with ``xhat = (x - mean) * inv_std``.

    ``gamma``/``beta`` broadcast as ``shape``; their gradients sum over ``param_axes``. When the
    mean and variance were taken from ``x`` itself over ``stat_axes`` the gradient of ``x``
    goes through them too; ``stat_axes=None`` means fixed statistics.
    """
    g_gamma = gamma.data.reshape(shape)
    out = xhat * g_gamma + beta.data.reshape(shape)

    def backward(g):
        gx = None
        if x.requires_grad:
            d = g * g_gamma
            if stat_axes is None:
                gx = d * inv_std
            else:
                gx = inv_std * (d - d.mean(axis=stat_axes, keepdims=True)
                                - xhat * (d * xhat).mean(axis=stat_axes, keepdims=True))
        gg = (g * xhat).sum(axis=param_axes).reshape(gamma.shape) if gamma.requires_grad else None
        gb = g.sum(axis=param_axes).reshape(beta.shape) if beta.requires_grad else None
        return gx, gg, gb
    return record(out, (x, gamma, beta), backward)


def batch_norm(x, gamma, beta, eps=1e-5, axis=1):
    """Batch normalisation with the batch's own statistics (training mode), as one op.

    Each feature (channel) is normalised with the mean and biased variance over all other axes,
    ``xhat = (x - mean) / sqrt(var + eps)``, then ``y = gamma * xhat + beta``.

    Parameters
    ----------
    x : Tensor or array_like
        ``(N, C)`` or ``(N, C, H, W)`` (any rank >= 2), batch first.
    gamma, beta : Tensor or array_like
        Scale and shift, shape ``(C,)`` with ``C = x.shape[axis]``.
    eps : float
        Added to the variance.
    axis : int
        The feature axis (1: features of a dense layer, channels of a convolution).

    Returns
    -------
    y : Tensor
        Shape of ``x``; differentiable in ``x``, ``gamma`` and ``beta``.
    mean, var : numpy.ndarray
        The batch statistics, shape ``(C,)``, as plain arrays. ``var`` is the *biased* variance
        (divided by ``m = x.size // C``), the one used to normalise; for running averages of
        the unbiased variance use ``var * m / (m - 1)``.
    """
    x = as_tensor(x)
    axis, reduce, shape = _feature_axis(x, axis)
    gamma, beta = _params(x, gamma, beta, x.shape[axis], "feature")
    mean = x.data.mean(axis=reduce, keepdims=True)
    centred = x.data - mean
    var = (centred * centred).mean(axis=reduce, keepdims=True)
    inv_std = 1.0 / np.sqrt(var + eps)
    y = _scale_shift(x, gamma, beta, centred * inv_std, inv_std, shape, reduce, reduce)
    return y, mean.reshape(-1), var.reshape(-1)


def batch_norm_inference(x, gamma, beta, running_mean, running_var, eps=1e-5, axis=1):
    """Batch normalisation with fixed (running) statistics (inference mode), as one op.

    ``y = gamma * (x - running_mean) / sqrt(running_var + eps) + beta`` per feature.

    Parameters
    ----------
    x : Tensor or array_like
        ``(N, C)`` or ``(N, C, H, W)`` (any rank >= 2), batch first.
    gamma, beta : Tensor or array_like
        Scale and shift, shape ``(C,)``.
    running_mean, running_var : array_like
        Statistics, shape ``(C,)``; constants (no gradient).
    eps : float
        Added to the variance.
    axis : int
        The feature axis.

    Returns
    -------
    Tensor
        Shape of ``x``; differentiable in ``x``, ``gamma`` and ``beta``.
    """
    x = as_tensor(x)
    axis, reduce, shape = _feature_axis(x, axis)
    c = x.shape[axis]
    gamma, beta = _params(x, gamma, beta, c, "feature")
    stats = []
    for name, s in (("running_mean", running_mean), ("running_var", running_var)):
        s = np.asarray(s.data if isinstance(s, Tensor) else s, dtype=x.dtype)
        if s.shape != (c,):
            raise ValueError(f"{name} must have shape ({c},); got {s.shape}")
        stats.append(s.reshape(shape))
    inv_std = 1.0 / np.sqrt(stats[1] + eps)
    xhat = (x.data - stats[0]) * inv_std
    return _scale_shift(x, gamma, beta, xhat, inv_std, shape, reduce, None)


def layer_norm(x, gamma, beta, eps=1e-5):
    """Layer normalisation over the last axis, as one op.

    Each row (every index of the leading axes) is normalised with its own mean and biased
    variance over the last axis, then ``y = gamma * xhat + beta``.

    Parameters
    ----------
    x : Tensor or array_like
        ``(..., features)``.
    gamma, beta : Tensor or array_like
        Scale and shift, shape ``(features,)``.
    eps : float
        Added to the variance.

    Returns
    -------
    Tensor
        Shape of ``x``; differentiable in ``x``, ``gamma`` and ``beta``.
    """
    x = as_tensor(x)
    if x.ndim < 1:
        raise ValueError("layer_norm needs at least one axis (the features); got a scalar")
    gamma, beta = _params(x, gamma, beta, x.shape[-1], "feature")
    rows = np.ascontiguousarray(x.data).reshape(-1, x.shape[-1])
    dtype = rows.dtype
    scale = np.ascontiguousarray(gamma.data, dtype=dtype)
    out = np.empty_like(rows)
    mean, inv_std = np.empty(rows.shape[0], dtype), np.empty(rows.shape[0], dtype)
    parts = kthreads.runs(rows.size, kq.PARALLEL_WORK, rows.shape[0])
    forward, backward_rows = (kq.layer_norm_rows, kq.layer_norm_rows_backward) if parts == 1 \
        else (kq.layer_norm_rows_parallel, kq.layer_norm_rows_backward_parallel)
    forward(rows, scale, np.ascontiguousarray(beta.data, dtype=dtype), eps, out, mean, inv_std,
            parts)

    def backward(g):       # xhat made again from the rows and their statistics
        g = np.ascontiguousarray(g, dtype=dtype).reshape(rows.shape)
        gx = np.empty_like(rows)
        g_gamma, g_beta = np.empty(rows.shape[1]), np.empty(rows.shape[1])
        backward_rows(g, scale, rows, mean, inv_std, gx, g_gamma, g_beta, parts)
        return (gx.reshape(x.shape) if x.requires_grad else None,
                g_gamma.astype(gamma.dtype) if gamma.requires_grad else None,
                g_beta.astype(beta.dtype) if beta.requires_grad else None)
    return record(out.reshape(x.shape), (x, gamma, beta), backward)


__all__ = ["dropout", "batch_norm", "batch_norm_inference", "layer_norm"]
