"""Loss functions: each returns a one-element Tensor and is one recorded node (fused forward and
backward), so a loss costs one op on the tape.

Arguments may be Tensors or arrays; a constant takes the dtype of the tensor it meets (float32
stays float32). Gradients flow to every argument that requires one, targets included.
:data:`LOSSES` names the losses a training loop can pick by string; :func:`loss` resolves a name
or passes a callable through.
"""
import numpy as np
from scipy.special import xlogy

from .. import checks
from ..kernels import nn_losses as kl
from . import ops
from .tensor import Tensor, as_tensor, record


def _operands(fname, a, b, names):
    """``a`` and ``b`` as same-shaped Tensors of one dtype where one of them is a constant."""
    a, b = as_tensor(a), as_tensor(b)
    if a.shape != b.shape:
        raise ValueError(f"{fname}: {names[0]} has shape {a.shape} but {names[1]} has shape "
                         f"{b.shape}; they must be equal")
    if a.dtype != b.dtype:
        if not b.requires_grad:
            b = Tensor(b.data.astype(a.dtype))
        elif not a.requires_grad:
            a = Tensor(a.data.astype(b.dtype))
    return a, b


def _check_range(fname, name, values, low, high=None):
    inside = values >= low if high is None else (values >= low) & (values <= high)
    if not inside.all():
        where = f"[{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"{fname}: {name} must lie in {where}; got values from "
                         f"{np.nanmin(values)} to {np.nanmax(values)}"
                         f"{' (and NaN)' if np.isnan(values).any() else ''}")


def _scalar(value, a, b):
    return np.asarray(value, dtype=np.result_type(a.data, b.data))


def mse(pred, target):
    """Mean squared error over all elements.

    Parameters
    ----------
    pred, target : Tensor or array_like
        Same shape.

    Returns
    -------
    Tensor
        ``mean((pred - target)**2)``, one element.
    """
    pred, target = _operands("mse", pred, target, ("pred", "target"))
    diff = pred.data - target.data
    scale = 2.0 / max(diff.size, 1)

    def backward(g):
        gp = g * scale * diff
        return gp, -gp if target.requires_grad else None
    return record(_scalar((diff * diff).mean(), pred, target), (pred, target), backward)


def binary_cross_entropy(prob, target):
    """Binary cross-entropy of probabilities, mean over all elements (nats).

    ``-mean(target * log(prob) + (1 - target) * log(1 - prob))``, each log's argument clipped
    at 1e-12 (the gradient is zero where clipping acts).

    Parameters
    ----------
    prob : Tensor or array_like
        Predicted probabilities in ``[0, 1]``.
    target : Tensor or array_like
        Targets in ``[0, 1]`` (labels or soft targets), same shape.

    Returns
    -------
    Tensor
        One element.
    """
    name = "binary_cross_entropy"
    prob, target = _operands(name, prob, target, ("prob", "target"))
    p, t = prob.data, target.data
    _check_range(name, "prob", p, 0, 1)
    _check_range(name, "target", t, 0, 1)
    tiny = 1e-12
    p_c, q_c = np.maximum(p, tiny), np.maximum(1 - p, tiny)
    log_p, log_q = np.log(p_c), np.log(q_c)
    n = max(p.size, 1)

    def backward(g):
        g = g / n
        # d/dp of each clipped log is zero where its clip acts
        gp = g * ((1 - t) * (1 - p > tiny) / q_c - t * (p > tiny) / p_c) \
            if prob.requires_grad else None
        gt = g * (log_q - log_p) if target.requires_grad else None
        return gp, gt
    value = -(t * log_p + (1 - t) * log_q).mean()
    return record(_scalar(value, prob, target), (prob, target), backward)


def binary_cross_entropy_with_logits(logits, target):
    """Binary cross-entropy of ``sigmoid(logits)``, fused and stable; mean over all elements.

    Computes ``max(z, 0) - z * t + log1p(exp(-|z|))``, finite for any logit ``z``.

    Parameters
    ----------
    logits : Tensor or array_like
        Real-valued scores, any shape.
    target : Tensor or array_like
        Targets in ``[0, 1]``, same shape.

    Returns
    -------
    Tensor
        One element (nats).
    """
    name = "binary_cross_entropy_with_logits"
    logits, target = _operands(name, logits, target, ("logits", "target"))
    z, t = logits.data, target.data
    n = max(z.size, 1)
    flat_z, flat_t = np.ascontiguousarray(z).reshape(-1), np.ascontiguousarray(t).reshape(-1)
    dz = np.empty_like(flat_z)             # sigmoid(z) - t, from the loss's own pass
    kernel = kl.bce_with_logits32 if dz.dtype == np.float32 else kl.bce_with_logits
    total, ok = kernel(flat_z, flat_t.astype(dz.dtype, copy=False), dz)
    if not ok:
        _check_range(name, "target", t, 0, 1)

    def backward(g):
        g = g / n
        gz = (dz * g).reshape(z.shape) if logits.requires_grad else None
        gt = -g * z if target.requires_grad else None
        return gz, gt
    return record(_scalar(total / n, logits, target), (logits, target), backward)


def cross_entropy(logits, labels):
    """Softmax cross-entropy, mean over the batch (delegates to
    :func:`~neurosim.nn.ops.softmax_cross_entropy`).

    Parameters
    ----------
    logits : Tensor or array_like
        ``(batch, classes)``.
    labels : array_like
        Integer class indices ``(batch,)`` in ``[0, classes)``, or float target distributions
        ``(batch, classes)``.

    Returns
    -------
    Tensor
        One element (nats).
    """
    return ops.softmax_cross_entropy(logits, labels)


def kl_divergence(p, q):
    """``KL(p || q)`` between discrete distributions along the last axis, mean over the rest.

    ``sum(p * log(p / q))`` over the last axis, with ``0 * log(0 / q) = 0``; infinite where
    ``q = 0 < p``. Rows are not renormalised, so the gradient is that of this formula (with
    respect to ``p`` it is ``log(p / q) + 1``, ``-inf`` where ``p = 0``).

    Parameters
    ----------
    p, q : Tensor or array_like
        ``(..., k)``, non-negative, each row summing to 1; same shape. Leading axes (the batch)
        are averaged over; a 1-D pair is one distribution each.

    Returns
    -------
    Tensor
        One element (nats).
    """
    name = "kl_divergence"
    p, q = _operands(name, p, q, ("p", "q"))
    if p.ndim < 1:
        raise ValueError(f"{name}: p and q need a distribution axis; got scalars")
    _check_range(name, "p", p.data, 0)
    _check_range(name, "q", q.data, 0)
    rows = max(p.size // max(p.shape[-1], 1), 1)

    def backward(g):
        g = g / rows
        with np.errstate(divide="ignore"):
            gp = g * (np.log(p.data) - np.log(q.data) + 1) if p.requires_grad else None
            gq = -g * p.data / q.data if q.requires_grad else None
        return gp, gq
    value = (xlogy(p.data, p.data) - xlogy(p.data, q.data)).sum() / rows
    return record(_scalar(value, p, q), (p, q), backward)


def gaussian_kl(mean, log_var):
    """``KL(N(mean, exp(log_var)) || N(0, I))``, the VAE's latent term.

    ``0.5 * sum(exp(log_var) + mean**2 - 1 - log_var)`` over every axis but the first (the
    latent), then the mean over the first (the batch).

    Parameters
    ----------
    mean, log_var : Tensor or array_like
        ``(batch, latent...)``, same shape: the encoder's mean and log-variance.

    Returns
    -------
    Tensor
        One element (nats).
    """
    name = "gaussian_kl"
    mean, log_var = _operands(name, mean, log_var, ("mean", "log_var"))
    if mean.ndim < 2:
        raise ValueError(f"{name}: mean and log_var must be (batch, latent...); got shape "
                         f"{mean.shape}")
    mu, lv = mean.data, log_var.data
    var = np.exp(lv)
    n = max(mu.shape[0], 1)

    def backward(g):
        g = g / n
        return (g * mu if mean.requires_grad else None,
                g * 0.5 * (var - 1) if log_var.requires_grad else None)
    value = 0.5 * (var + mu * mu - 1 - lv).sum() / n
    return record(_scalar(value, mean, log_var), (mean, log_var), backward)


def sparsity_kl(activations, rho):
    """Ng's sparsity penalty: ``sum_j KL(rho || mean_j)`` between Bernoulli distributions.

    ``mean_j`` is unit ``j``'s mean activation over the batch; the penalty is
    ``sum_j rho log(rho / mean_j) + (1 - rho) log((1 - rho) / (1 - mean_j))``, zero when every
    unit is active a fraction ``rho`` of the time. Each mean is clipped to ``[1e-12, 1 - 1e-12]``
    (the gradient is zero where clipping acts).

    Parameters
    ----------
    activations : Tensor or array_like
        ``(batch, units)`` in ``[0, 1]`` (e.g. sigmoid codes).
    rho : float
        Target mean activation in ``(0, 1)``.

    Returns
    -------
    Tensor
        One element (nats).
    """
    name = "sparsity_kl"
    a = as_tensor(activations)
    if a.ndim != 2:
        raise ValueError(f"{name}: activations must be (batch, units); got shape {a.shape}")
    rho = checks.scalar(rho, "rho", low=0.0, high=1.0, low_open=True, high_open=True)
    _check_range(name, "activations", a.data, 0, 1)
    tiny = 1e-12
    mean = a.data.mean(axis=0)
    inside = (mean > tiny) & (mean < 1 - tiny)
    m = np.clip(mean, tiny, 1 - tiny)
    value = (rho * np.log(rho / m) + (1 - rho) * np.log((1 - rho) / (1 - m))).sum()
    slope = (inside * ((1 - rho) / (1 - m) - rho / m) / len(a.data)).astype(a.dtype)
    return record(np.asarray(value, dtype=a.dtype), (a,),
                  lambda g: (np.broadcast_to(g * slope, a.shape),))


LOSSES = {"mse": mse, "bce": binary_cross_entropy, "bce_logits": binary_cross_entropy_with_logits,
          "cross_entropy": cross_entropy, "kl": kl_divergence}


def loss(name_or_callable):
    """The loss called ``name_or_callable`` in :data:`LOSSES`, or the callable itself.

    Raises ``ValueError`` for an unknown name and ``TypeError`` for anything else that is not
    callable.
    """
    if isinstance(name_or_callable, str):
        if name_or_callable not in LOSSES:
            raise ValueError(f"loss must be one of {sorted(LOSSES)} or a callable; got "
                             f"{name_or_callable!r}")
        return LOSSES[name_or_callable]
    if not callable(name_or_callable):
        raise TypeError(f"loss must be a name or a callable; got "
                        f"{type(name_or_callable).__name__}")
    return name_or_callable


__all__ = ["mse", "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy",
           "kl_divergence", "gaussian_kl", "sparsity_kl", "LOSSES", "loss"]
