"""Differentiable ops on Tensors: arithmetic with broadcasting, reductions, matrix products,
shape changes, activations, softmax and the fused softmax cross-entropy.

Each op computes its forward value with NumPy (BLAS for products) or a Numba kernel and records
a backward function with :func:`~neurosim.nn.tensor.record`. Arguments may be Tensors, arrays
or numbers; only Tensors carry gradients.
"""
import numpy as np
from scipy.linalg import blas

from ..kernels import nn as kn
from ..kernels import conv as kc
from ..kernels import gemm_large
from ..kernels.threads import pick
from .tensor import Tensor, as_tensor, record


def unbroadcast(g, shape):
    """Sum the gradient ``g`` of a broadcast result back to an operand's ``shape``."""
    if g.shape == shape:
        return g
    extra = g.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(i + extra for i, s in enumerate(shape)
                                       if s == 1 and g.shape[i + extra] != 1)
    return g.sum(axis=axes, keepdims=True).reshape(shape)


def _pair(a, b):
    a, b = as_tensor(a), as_tensor(b)
    if a.dtype != b.dtype and not (a.requires_grad and b.requires_grad):
        # a constant takes the dtype of the tensor it meets (no silent float64 promotion)
        if a.requires_grad:
            b = Tensor(b.data.astype(a.dtype))
        elif b.requires_grad:
            a = Tensor(a.data.astype(b.dtype))
    return a, b


# ---------------------------------------------------------------- arithmetic
def add(a, b):
    """``a + b`` with broadcasting."""
    a, b = _pair(a, b)
    return record(a.data + b.data, (a, b),
                  lambda g: (unbroadcast(g, a.shape), unbroadcast(g, b.shape)))


def sub(a, b):
    """``a - b`` with broadcasting."""
    a, b = _pair(a, b)
    return record(a.data - b.data, (a, b),
                  lambda g: (unbroadcast(g, a.shape), unbroadcast(-g, b.shape)))


def mul(a, b):
    """``a * b`` element-wise, with broadcasting."""
    a, b = _pair(a, b)
    return record(a.data * b.data, (a, b),
                  lambda g: (unbroadcast(g * b.data, a.shape) if a.requires_grad else None,
                             unbroadcast(g * a.data, b.shape) if b.requires_grad else None))


def div(a, b):
    """``a / b`` element-wise, with broadcasting."""
    a, b = _pair(a, b)
    out = a.data / b.data
    return record(out, (a, b),
                  lambda g: (unbroadcast(g / b.data, a.shape) if a.requires_grad else None,
                             unbroadcast(-g * out / b.data, b.shape) if b.requires_grad else None))


def neg(a):
    """``-a``."""
    a = as_tensor(a)
    return record(-a.data, (a,), lambda g: (-g,))


def power(a, exponent):
    """``a ** exponent`` for a constant real exponent."""
    a = as_tensor(a)
    p = float(exponent)
    return record(a.data ** p, (a,), lambda g: (g * p * a.data ** (p - 1),))


def exp(a):
    """Element-wise ``e**a``."""
    a = as_tensor(a)
    out = np.exp(a.data)
    return record(out, (a,), lambda g: (g * out,))


def log(a):
    """Element-wise natural logarithm (``a > 0``)."""
    a = as_tensor(a)
    return record(np.log(a.data), (a,), lambda g: (g / a.data,))


def sqrt(a):
    """Element-wise square root (``a >= 0``)."""
    a = as_tensor(a)
    out = np.sqrt(a.data)
    return record(out, (a,), lambda g: (g * 0.5 / out,))


def abs(a):
    """Element-wise absolute value (subgradient 0 at 0)."""
    a = as_tensor(a)
    return record(np.abs(a.data), (a,), lambda g: (g * np.sign(a.data),))


def maximum(a, b):
    """Element-wise maximum with broadcasting; ties send the gradient to ``a``."""
    a, b = _pair(a, b)
    first = a.data >= b.data
    return record(np.maximum(a.data, b.data), (a, b),
                  lambda g: (unbroadcast(g * first, a.shape), unbroadcast(g * ~first, b.shape)))


def clip(a, low, high):
    """``a`` limited to ``[low, high]``; the gradient is zero where clipping acted."""
    a = as_tensor(a)
    inside = (a.data >= low) & (a.data <= high)
    return record(np.clip(a.data, low, high), (a,), lambda g: (g * inside,))


# ---------------------------------------------------------------- reductions
def _axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    return tuple(int(x) % ndim for x in axes)


def sum(a, axis=None, keepdims=False):
    """Sum over ``axis`` (int, tuple or None for all)."""
    a = as_tensor(a)
    axes = _axes(axis, a.ndim)
    out = a.data.sum(axis=axes, keepdims=keepdims)

    def backward(g):
        if not keepdims:
            g = np.expand_dims(g, axes)
        return (np.broadcast_to(g, a.shape),)
    return record(np.asarray(out), (a,), backward)


def mean(a, axis=None, keepdims=False):
    """Mean over ``axis`` (int, tuple or None for all)."""
    a = as_tensor(a)
    count = int(np.prod([a.shape[i] for i in _axes(axis, a.ndim)]))
    return mul(sum(a, axis, keepdims), 1.0 / count)


def max(a, axis=None, keepdims=False):
    """Maximum over ``axis``; the gradient goes to the first maximal entry of each slice."""
    a = as_tensor(a)
    axes = _axes(axis, a.ndim)
    top = a.data.max(axis=axes, keepdims=True)

    def backward(g):
        g = g if keepdims else np.expand_dims(g, axes)
        hit = a.data == top
        # keep only the first maximum along the reduced axes
        flat = np.moveaxis(hit, axes, tuple(range(-len(axes), 0)))
        shape = flat.shape
        flat = flat.reshape(shape[:flat.ndim - len(axes)] + (-1,))
        first = np.zeros_like(flat)
        np.put_along_axis(first, flat.argmax(axis=-1)[..., None], True, axis=-1)
        first = np.moveaxis(first.reshape(shape), tuple(range(-len(axes), 0)), axes)
        return (g * first,)
    return record(top if keepdims else np.squeeze(top, axis=axes), (a,), backward)


def reparameterize(mean, log_var, eps):
    """The reparameterised Gaussian sample ``mean + exp(log_var / 2) * eps`` as one op.

    ``mean``, ``log_var`` and the standard-normal draw ``eps`` have one shape (batch, latent);
    the gradient flows to ``mean`` and ``log_var`` with ``eps`` held fixed (the VAE's trick).
    """
    mean, log_var = _pair(mean, log_var)
    noise = np.exp(0.5 * log_var.data) * np.asarray(eps, dtype=mean.dtype)
    return record(mean.data + noise, (mean, log_var), lambda g: (g, 0.5 * g * noise))


# ---------------------------------------------------------------- products
def matmul(a, b):
    """Matrix product ``a @ b`` (NumPy semantics for 1-D and stacked operands). A right
    operand of two dimensions meets the rows of every leading index of ``a`` in one 2-D
    product (:func:`~neurosim.kernels.gemm_large.product`: own GEMM or BLAS by shape)."""
    a, b = _pair(a, b)
    # 1-D operands are promoted as NumPy does: a row vector on the left, a column on the right
    A = a.data[None, :] if a.ndim == 1 else a.data
    B = b.data[:, None] if b.ndim == 1 else b.data
    rows = B.ndim == 2          # (..., k) @ (k, n) as one (rows, k) @ (k, n) product
    if rows:
        R = A.reshape(-1, A.shape[-1])
        out = gemm_large.product(R, B).reshape(A.shape[:-1] + B.shape[-1:])
    else:
        out = A @ B

    def backward(g):
        g = g.reshape(out.shape)
        if rows:
            g2 = g.reshape(len(R), -1)
            ga = gemm_large.product(g2, B, trans_b=True).reshape(a.shape) \
                if a.requires_grad else None
            gb = gemm_large.product(R, g2, trans_a=True).reshape(b.shape) \
                if b.requires_grad else None
            return ga, gb
        ga = unbroadcast(g @ np.swapaxes(B, -1, -2), A.shape).reshape(a.shape) \
            if a.requires_grad else None
        gb = unbroadcast(np.swapaxes(A, -1, -2) @ g, B.shape).reshape(b.shape) \
            if b.requires_grad else None
        return ga, gb
    shape = out.shape[:-2] + (() if a.ndim == 1 else out.shape[-2:-1]) + \
        (() if b.ndim == 1 else out.shape[-1:])
    return record(out.reshape(shape), (a, b), backward)


_BIAS_RELU = (kc.bias_relu, kc.bias_relu_parallel)            # serial and parallel twins
_RELU_MASK_SUM = (kc.relu_mask_sum, kc.relu_mask_sum_parallel)


def dense(x, W, b=None, activation="identity"):
    """Affine map ``x @ W + b`` as one op: ``x`` (batch, in) or (batch, ..., in) (every
    position of the middle axes mapped alike, e.g. each step of a sequence), ``W`` (in, out),
    ``b`` (out,). ``activation`` "relu" applies the ReLU in the same op (one pass over the
    output adds the bias and clips; its backward masks the gradient and sums the bias's)."""
    x, W = _pair(x, W)
    relu = activation == "relu"
    if not relu and activation != "identity":
        raise ValueError(f"dense: activation must be 'identity' or 'relu' (the fused ones); "
                         f"got {activation!r}")
    parents = (x, W) if b is None else (x, W, as_tensor(b))
    rows = x.data.reshape(-1, x.shape[-1])      # 2-D products: own GEMM or BLAS by shape
    out = gemm_large.product(rows, W.data)
    if relu:
        bias = np.zeros(out.shape[1], out.dtype) if b is None else \
            parents[2].data.astype(out.dtype, copy=False)
        pick(_BIAS_RELU, out.size, kc.PARALLEL_VALUES)(out, bias, True)
    elif b is not None:
        out += parents[2].data

    def backward(g):
        g = g.reshape(len(rows), -1)
        gb = None
        if relu:
            masked, gb = np.empty_like(out), np.empty(out.shape[1])
            pick(_RELU_MASK_SUM, out.size, kc.PARALLEL_VALUES)(
                np.ascontiguousarray(g, dtype=out.dtype), out, masked, gb)
            g, gb = masked, gb.astype(out.dtype)
        elif b is not None:
            gb = g.sum(axis=0)
        gx = gemm_large.product(g, W.data, trans_b=True).reshape(x.shape) \
            if x.requires_grad else None
        gW = None if not W.requires_grad or _add_product_to_grad(W, rows, g) else \
            gemm_large.product(rows, g, trans_a=True)
        return (gx, gW) if b is None else (gx, gW, gb)
    return record(out.reshape(x.shape[:-1] + out.shape[-1:]), parents, backward)


_GEMM = {np.dtype(np.float32): blas.sgemm, np.dtype(np.float64): blas.dgemm}


def _add_product_to_grad(W, rows, g):
    """``W.grad += rows.T @ g`` as one call that accumulates (``beta = 1``) when ``W`` is
    a leaf whose gradient buffer already exists (an optimiser's, zeroed each step), so no
    temporary and no separate pass adds it; True if done, False (nothing done) otherwise.
    The call is neurosim's GEMM where :func:`~neurosim.kernels.gemm_large.preferred` (the
    sums within rounding of ``rows.T @ g``'s), else BLAS's (the bits of ``rows.T @ g``, the
    same OpenBLAS kernel; tested)."""
    grad = W.grad
    gemm = _GEMM.get(g.dtype)
    if W.backward_fn is not None or grad is None or gemm is None or grad.dtype != g.dtype \
            or rows.dtype != g.dtype or grad.ndim != 2 or not grad.flags.c_contiguous:
        return False
    if gemm_large.suits(rows, g, grad) and gemm_large.preferred(grad.shape[0], *g.shape):
        gemm_large.gemm(rows, g, grad, trans_a=True, accumulate=True)
        return True
    out = gemm(1.0, g.T, rows.T, beta=1.0, c=grad.T, trans_b=1, overwrite_c=1)
    if not np.shares_memory(out, grad):             # never seen: f2py copied the buffer
        grad[...] = out.T
    return True


# ---------------------------------------------------------------- shapes
def reshape(a, shape):
    """``a`` with a new shape (one entry may be -1)."""
    a = as_tensor(a)
    return record(a.data.reshape(shape), (a,), lambda g: (g.reshape(a.shape),))


def transpose(a, axes=None):
    """``a`` with axes permuted (reversed when ``axes`` is None)."""
    a = as_tensor(a)
    inverse = None if axes is None else tuple(np.argsort(axes))
    return record(a.data.transpose(axes), (a,), lambda g: (g.transpose(inverse),))


def getitem(a, index):
    """``a[index]`` for any NumPy index; repeated indices add their gradients."""
    a = as_tensor(a)
    if isinstance(index, Tensor):
        index = index.data.astype(np.intp)

    def backward(g):
        out = np.zeros_like(a.data)
        np.add.at(out, index, g)
        return (out,)
    return record(np.array(a.data[index]), (a,), backward)


def concatenate(tensors, axis=0):
    """Join tensors along an existing ``axis``."""
    tensors = [as_tensor(t) for t in tensors]
    ends = np.cumsum([t.shape[axis] for t in tensors])[:-1]
    return record(np.concatenate([t.data for t in tensors], axis=axis), tensors,
                  lambda g: tuple(np.split(g, ends, axis=axis)))


def stack(tensors, axis=0):
    """Join same-shaped tensors along a new ``axis``."""
    tensors = [as_tensor(t) for t in tensors]
    return record(np.stack([t.data for t in tensors], axis=axis), tensors,
                  lambda g: tuple(np.moveaxis(g, axis, 0)))


# ---------------------------------------------------------------- activations
def _unary(a, forward, backward_kernel, uses_output):
    a = as_tensor(a)
    out = forward(a.data)
    saved = out if uses_output else a.data
    return record(out, (a,), lambda g: (backward_kernel(g, saved),))


def sigmoid(a):
    """Logistic ``1 / (1 + e**-a)``."""
    return _unary(a, kn.sigmoid, kn.sigmoid_backward, True)


def tanh(a):
    """Hyperbolic tangent."""
    return _unary(a, np.tanh, kn.tanh_backward, True)


def relu(a):
    """``max(a, 0)``."""
    return _unary(a, kn.relu, kn.relu_backward, False)


def leaky_relu(a, slope=0.01):
    """``a`` where positive, ``slope * a`` elsewhere."""
    a = as_tensor(a)
    s = float(slope)
    return record(np.where(a.data > 0, a.data, s * a.data), (a,),
                  lambda g: (np.where(a.data > 0, g, s * g),))


def elu(a, alpha=1.0):
    """``a`` where positive, ``alpha (e**a - 1)`` elsewhere."""
    a = as_tensor(a)
    al = float(alpha)
    neg_part = al * np.expm1(np.minimum(a.data, 0.0))
    return record(np.where(a.data > 0, a.data, neg_part), (a,),
                  lambda g: (np.where(a.data > 0, g, g * (neg_part + al)),))


def softplus(a):
    """``log(1 + e**a)``, computed without overflow."""
    return _unary(a, kn.softplus, kn.softplus_backward, False)


def gaussian(a):
    """The radial activation ``e**(-a**2)``."""
    a = as_tensor(a)
    out = np.exp(-a.data * a.data)
    return record(out, (a,), lambda g: (-2.0 * a.data * out * g,))


ACTIVATIONS = {"sigmoid": sigmoid, "tanh": tanh, "relu": relu, "leaky_relu": leaky_relu,
               "elu": elu, "softplus": softplus, "gaussian": gaussian,
               "identity": lambda a: as_tensor(a)}


def activation(name):
    """The activation function called ``name`` (one of :data:`ACTIVATIONS`)."""
    if name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}; got {name!r}")
    return ACTIVATIONS[name]


# ---------------------------------------------------------------- softmax
def softmax(a, axis=-1):
    """``e**a`` normalised to sum 1 along ``axis``."""
    a = as_tensor(a)
    z = a.data - a.data.max(axis=axis, keepdims=True)
    out = np.exp(z)
    out /= out.sum(axis=axis, keepdims=True)
    return record(out, (a,),
                  lambda g: (out * (g - (g * out).sum(axis=axis, keepdims=True)),))


def log_softmax(a, axis=-1):
    """``a - log(sum(e**a))`` along ``axis``, computed stably."""
    a = as_tensor(a)
    z = a.data - a.data.max(axis=axis, keepdims=True)
    out = z - np.log(np.exp(z).sum(axis=axis, keepdims=True))
    return record(out, (a,),
                  lambda g: (g - np.exp(out) * g.sum(axis=axis, keepdims=True),))


def softmax_cross_entropy(logits, labels):
    """Mean cross-entropy of ``softmax(logits)`` against ``labels``, fused and stable.

    ``logits`` (batch, classes); ``labels`` int (batch,) class indices in ``[0, classes)`` or
    float (batch, classes) target distributions. Returns a one-element Tensor (nats).
    """
    logits = as_tensor(logits)
    if logits.ndim != 2:
        raise ValueError(f"logits must be (batch, classes); got shape {logits.shape}")
    labels = labels.data if isinstance(labels, Tensor) else np.asarray(labels)
    n, k = logits.shape
    if np.issubdtype(labels.dtype, np.integer):
        if labels.shape != (n,):
            raise ValueError(f"integer labels must have shape ({n},); got {labels.shape}")
        if labels.size and (labels.min() < 0 or labels.max() >= k):
            raise ValueError(f"labels must lie in [0, {k}); got values from {labels.min()} to "
                             f"{labels.max()}")
        target = np.zeros_like(logits.data)
        target[np.arange(n), labels] = 1.0
    else:
        if labels.shape != logits.shape:
            raise ValueError(f"target distributions must have the logits' shape {logits.shape};"
                             f" got {labels.shape}")
        target = labels.astype(logits.dtype)
    loss, probs = kn.softmax_cross_entropy(logits.data, target)
    return record(np.asarray(loss, dtype=logits.dtype), (logits,),
                  lambda g: ((probs - target) * (g / n),))


__all__ = [name for name in dir() if not name.startswith("_") and name not in
           ("np", "kn", "Tensor", "as_tensor", "record")]
