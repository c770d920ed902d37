"""Capsules (Sabour, Frosst and Hinton 2017, "Dynamic routing between capsules").

A capsule is a vector whose length says how likely an entity is present and whose direction
says how it looks. :func:`squash` shrinks a vector's length into [0, 1) and keeps its
direction; :class:`PrimaryCapsules` is a convolution whose channels are grouped into such
vectors; :class:`CapsuleLayer` maps every child capsule ``u_i`` to a prediction
``u_hat_{j|i} = u_i W_ij`` for every parent ``j`` and combines them by routing-by-agreement
(:func:`route`); :func:`margin_loss` trains the parents' lengths as class scores.

Routing (:func:`route`, ``r`` iterations): the logits ``b_ij`` start at 0; each iteration takes
the couplings ``c_ij = softmax_j(b_ij)`` (over parents, so each child's couplings sum to 1),
the parents ``v_j = squash(sum_i c_ij u_hat_{j|i})`` and, except after the last iteration, adds
the agreement ``u_hat_{j|i} . v_j`` to ``b_ij``. The gradient, by ``gradient=``:

- ``"final"`` (default): through the final iteration's ``sum_i c_ij u_hat_{j|i}`` only, with
  the couplings held constant (the routing computes *which* parent a prediction goes to; the
  gradient trains the predictions themselves). One fused op, and the cheaper choice.
- ``"full"``: through every iteration, couplings included (the whole routing on the tape).

Shapes: child capsules (batch, in_capsules, in_dim); predictions (batch, in_capsules,
capsules, dim); parents (batch, capsules, dim).
"""
import numpy as np

from .. import checks
from ..kernels import capsules as kc
from . import conv, ops
from .init import initialiser
from .layers import Layer
from .tensor import as_tensor, record

__all__ = ["squash", "capsule_lengths", "route", "coupling_coefficients", "margin_loss",
           "PrimaryCapsules", "CapsuleLayer", "ROUTING_GRADIENTS"]

ROUTING_GRADIENTS = ("final", "full")


def _norms(s, axis):
    """``(|s|^2, |s|)`` along ``axis``, kept as a length-1 axis."""
    n2 = (s * s).sum(axis=axis, keepdims=True)
    return n2, np.sqrt(n2)


def _squash_backward(g, s, axis):
    """Gradient of :func:`squash` at ``s`` for the output gradient ``g``.

    With ``v = f(n) s``, ``f(n) = n / (1 + n^2)``: ``ds = f g + s (f'(n) / n) (s . g)``, where
    ``f'(n) / n = (1 - n^2) / (n (1 + n^2)^2)``; the second term vanishes with ``s`` at 0, where
    the Jacobian is 0 (``v`` grows like ``|s| s``).
    """
    n2, n = _norms(s, axis)
    slope = (1 - n2) / (np.where(n > 0, n, 1) * (1 + n2) ** 2)
    return g * (n / (1 + n2)) + s * (slope * (s * g).sum(axis=axis, keepdims=True))


def _squash(s, axis):
    n2, n = _norms(s, axis)
    return s * (n / (1 + n2))


def squash(s, axis=-1):
    """The capsule non-linearity ``|s|^2 / (1 + |s|^2) * s / |s|`` along ``axis``.

    Parameters
    ----------
    s : Tensor or array_like
        Capsule vectors along ``axis`` (any other axes: batch, capsules).

    Returns
    -------
    Tensor
        Same shape and direction, length ``|s|^2 / (1 + |s|^2)`` in [0, 1); 0 maps to 0 with
        gradient 0 (no division by zero).
    """
    s = as_tensor(s)
    return record(_squash(s.data, axis), (s,), lambda g: (_squash_backward(g, s.data, axis),))


def capsule_lengths(v, axis=-1):
    """Euclidean lengths of the capsules ``v`` along ``axis`` (the axis is removed).

    The gradient ``v / |v|`` is taken as 0 for a zero capsule (a subgradient).
    """
    v = as_tensor(v)
    _, n = _norms(v.data, axis)
    unit = v.data / np.where(n > 0, n, 1)
    return record(np.squeeze(n, axis), (v,),
                  lambda g: (np.expand_dims(g, axis) * unit,))


def _check_predictions(u_hat, iterations):
    if u_hat.ndim != 4:
        raise ValueError(f"u_hat must be 4-D (batch, in_capsules, capsules, dim); got shape "
                         f"{u_hat.shape}")
    return checks.integer(iterations, "iterations", low=1)


def _children_first(u_hat):
    """``u_hat`` (B, I, J, D) as the C-contiguous (I, B, J, D) array of the kernels: a view
    when ``u_hat`` is itself a transpose of one (as :class:`CapsuleLayer` makes it)."""
    return np.ascontiguousarray(u_hat.transpose(1, 0, 2, 3))


def _routing(u_hat, iterations):
    """Forward routing on arrays (a compiled kernel): parents ``v`` (B, J, D), their inputs
    ``s`` and the final couplings ``c`` (B, I, J)."""
    batch, children, parents, dim = u_hat.shape
    v, s = (np.empty((batch, parents, dim), dtype=u_hat.dtype) for _ in range(2))
    c = np.empty((batch, children, parents), dtype=u_hat.dtype)
    kc.route(_children_first(u_hat), iterations, v, s, c)
    return v, s, c


def coupling_coefficients(u_hat, iterations=3):
    """The couplings ``c_ij`` (batch, in_capsules, capsules) of the last of ``iterations``
    routing iterations over the predictions ``u_hat`` (batch, in_capsules, capsules, dim);
    each child's couplings sum to 1 over the parents. An array (no gradient)."""
    u_hat = checks.array(as_tensor(u_hat).data, "u_hat", dtype=None)
    return _routing(u_hat, _check_predictions(u_hat, iterations))[2]


def route(u_hat, iterations=3, *, gradient="final"):
    """Routing-by-agreement from the predictions ``u_hat`` to the parent capsules.

    Parameters
    ----------
    u_hat : Tensor or array_like
        (batch, in_capsules, capsules, dim): child ``i``'s prediction for parent ``j``.
    iterations : int
        Routing iterations ``r`` >= 1 (1: uniform couplings, no routing).
    gradient : {"final", "full"}
        Through the last iteration with constant couplings, or through every iteration
        (see the module's notes).

    Returns
    -------
    Tensor
        Parent capsules ``v`` (batch, capsules, dim), each of length < 1.
    """
    u_hat = as_tensor(u_hat)
    iterations = _check_predictions(u_hat, iterations)
    checks.choice(gradient, "gradient", ROUTING_GRADIENTS)
    if gradient == "full":
        return _route_on_tape(u_hat, iterations)
    v, s, c = _routing(u_hat.data, iterations)

    def backward(g):
        batch, children, parents, dim = u_hat.shape
        g_hat = np.empty((children, batch, parents, dim), dtype=u_hat.dtype)
        kc.route_backward(_squash_backward(g, s, -1), c, g_hat)
        return (g_hat.transpose(1, 0, 2, 3),)
    return record(v, (u_hat,), backward)


def _route_on_tape(u_hat, iterations):
    """:func:`route` written with differentiable ops, so the gradient follows every
    iteration."""
    batch, children, parents, dim = u_hat.shape
    logits = np.zeros((batch, children, parents), dtype=u_hat.dtype)
    for r in range(iterations):
        c = ops.softmax(logits, axis=2)
        v = squash(ops.sum(ops.mul(ops.reshape(c, c.shape + (1,)), u_hat), axis=1))
        if r < iterations - 1:
            agreement = ops.mul(u_hat, ops.reshape(v, (batch, 1, parents, dim)))
            logits = ops.add(logits, ops.sum(agreement, axis=3))
    return v


def margin_loss(lengths, labels, m_plus=0.9, m_minus=0.1, down_weight=0.5):
    """The capsules' margin loss, summed over classes and averaged over the batch.

    ``L_k = T_k max(0, m_plus - |v_k|)^2 + down_weight (1 - T_k) max(0, |v_k| - m_minus)^2``
    with ``T_k = 1`` for the true class only.

    Parameters
    ----------
    lengths : Tensor or array_like
        (batch, classes) capsule lengths ``|v_k|``.
    labels : array_like of int
        (batch,) class indices in [0, classes).
    m_plus, m_minus, down_weight : float
        The paper's 0.9, 0.1 and lambda = 0.5.

    Returns
    -------
    Tensor
        One element.
    """
    lengths = as_tensor(lengths)
    if lengths.ndim != 2:
        raise ValueError(f"lengths must be (batch, classes); got shape {lengths.shape}")
    n, k = lengths.shape
    labels = checks.array(labels, "labels", shape=(n,), dtype=None)
    if not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0 or labels.max() >= k:
        raise ValueError(f"labels must be {n} integer class indices in [0, {k}); got "
                         f"{labels.dtype} values {labels.min()} to {labels.max()}")
    target = np.zeros(lengths.shape, dtype=bool)
    target[np.arange(n), labels] = True
    short = np.where(target, np.maximum(m_plus - lengths.data, 0), 0)
    long = np.where(target, 0, np.maximum(lengths.data - m_minus, 0))
    value = (short ** 2 + down_weight * long ** 2).sum() / n
    return record(np.asarray(value, dtype=lengths.dtype), (lengths,),
                  lambda g: (g * 2 * (down_weight * long - short) / n,))


class PrimaryCapsules(Layer):
    """A convolution whose output channels are grouped into capsules, squashed:
    (batch, C, H, W) -> (batch, capsules * H' * W', dim).

    Channels ``t * dim .. (t + 1) * dim - 1`` at one position form a capsule of type ``t``;
    the output lists the capsules type by type, each type's positions row by row.
    """

    def __init__(self, capsules, dim, kernel, *, stride=1, padding=0, init="glorot_uniform"):
        super().__init__()
        self.capsules = checks.integer(capsules, "capsules", low=1)
        self.dim = checks.integer(dim, "dim", low=1)
        self.kernel, self.stride = conv.pair(kernel, "kernel", 1), conv.pair(stride, "stride", 1)
        self.padding, self.init = conv.pair(padding, "padding"), initialiser(init)

    def _build(self, shape, generator, dtype):
        if len(shape) != 3:
            raise ValueError(f"needs per-sample inputs (channels, height, width); got {shape}")
        c, h, w = shape
        kh, kw = self.kernel
        self.grid = conv.conv_output_shape((h, w), self.kernel, self.stride, self.padding)
        filters = self.capsules * self.dim
        self.add_param("W", self.init(generator, (filters, c, kh, kw), c * kh * kw,
                                      filters * kh * kw), dtype)
        self.add_param("b", np.zeros(filters), dtype)
        return (self.capsules * self.grid[0] * self.grid[1], self.dim)

    def forward(self, x):
        maps = conv.conv2d(x, self.params["W"], self.params["b"], self.stride, self.padding)
        grouped = ops.reshape(maps, (len(x), self.capsules, self.dim, -1))
        return squash(ops.reshape(ops.transpose(grouped, (0, 1, 3, 2)),
                                  (len(x),) + self.output_shape))

    def __repr__(self):
        return f"PrimaryCapsules({self.capsules}, dim={self.dim}, kernel={self.kernel})"


class CapsuleLayer(Layer):
    """Capsules routed by agreement (the paper's DigitCaps): (batch, in_capsules, in_dim) ->
    (batch, capsules, dim).

    Each child ``u_i`` predicts each parent as ``u_hat_{j|i} = u_i @ W[i, :, j, :]``;
    :func:`route` combines the predictions. ``W`` (in_capsules, in_dim, capsules, dim) is
    drawn by ``init`` with fan-in ``in_dim`` and fan-out ``dim``.

    Parameters
    ----------
    capsules, dim : int
        Number and dimension of the parent capsules.
    iterations : int
        Routing iterations (the paper's 3).
    gradient : {"final", "full"}
        See :func:`route`.
    """

    def __init__(self, capsules, dim, *, iterations=3, gradient="final",
                 init="glorot_uniform"):
        super().__init__()
        self.capsules = checks.integer(capsules, "capsules", low=1)
        self.dim = checks.integer(dim, "dim", low=1)
        self.iterations = checks.integer(iterations, "iterations", low=1)
        self.gradient = checks.choice(gradient, "gradient", ROUTING_GRADIENTS)
        self.init = initialiser(init)

    def _build(self, shape, generator, dtype):
        if len(shape) != 2:
            raise ValueError(f"needs per-sample capsules (in_capsules, in_dim); got {shape}")
        children, in_dim = shape
        self.add_param("W", self.init(generator, (children, in_dim, self.capsules, self.dim),
                                      in_dim, self.dim), dtype)
        return (self.capsules, self.dim)

    def predictions(self, u):
        """The predictions ``u_hat`` (batch, in_capsules, capsules, dim) of the children
        ``u`` (batch, in_capsules, in_dim), a Tensor."""
        children, in_dim = self.input_shape
        W = ops.reshape(self.params["W"], (children, in_dim, -1))
        per_child = ops.matmul(ops.transpose(u, (1, 0, 2)), W)   # (in_capsules, batch, J*D)
        return ops.transpose(ops.reshape(per_child, (children, len(u), self.capsules, self.dim)),
                             (1, 0, 2, 3))

    def forward(self, u):
        return route(self.predictions(u), self.iterations, gradient=self.gradient)

    def __repr__(self):
        return (f"CapsuleLayer({self.capsules}, dim={self.dim}, iterations={self.iterations}, "
                f"gradient={self.gradient!r})")
