"""Optimisers over one flat parameter buffer, learning-rate schedules and gradient clipping.

An optimiser gathers its parameters into one contiguous buffer (each parameter's ``data``
becomes a view of it, and its ``grad`` a view of a twin gradient buffer), so a whole update is a
single compiled kernel call, however many layers the model has.
"""
import math

import numpy as np

from .. import checks
from ..kernels import fpenv
from ..kernels import nn_optim as ko
from ..kernels.threads import pick


# ---------------------------------------------------------------- schedules
def constant(lr):
    """``lr`` at every step."""
    return lambda step: lr


def step_decay(lr, every, factor=0.5):
    """``lr * factor ** (step // every)``: drops by ``factor`` every ``every`` steps."""
    return lambda step: lr * factor ** (step // every)


def exponential(lr, rate):
    """``lr * rate ** step``."""
    return lambda step: lr * rate ** step


def cosine(lr, total, final=0.0):
    """Cosine decay from ``lr`` to ``final`` over ``total`` steps, then ``final``."""
    return lambda step: final + 0.5 * (lr - final) * (1 + math.cos(math.pi * min(step, total) / total))


def warmup(schedule, steps):
    """Linear warm-up from 0 over ``steps`` steps, then ``schedule`` (a callable of the step)."""
    return lambda step: schedule(step) * min(1.0, (step + 1) / steps)


class Optimizer:
    """Base: owns the flat buffers; subclasses implement :meth:`_update`.

    Parameters
    ----------
    params : list of Tensor, or of (name, Tensor) as from ``Layer.parameters()``
    lr : float or callable
        Learning rate, or a schedule ``lr(step) -> float`` (step counts from 0).
    clip_norm : float, optional
        Rescale the gradient when its global L2 norm exceeds this.
    clip_value : float, optional
        Clip every gradient entry to ``[-clip_value, clip_value]``.
    """

    buffers = ()   # names of the per-parameter state arrays (flat, like ``data``)

    def __init__(self, params, lr, *, clip_norm=None, clip_value=None):
        params = [p[1] if isinstance(p, tuple) else p for p in params]
        if not params:
            raise ValueError("the optimiser got no parameters (is the model built?)")
        dtypes = {p.dtype for p in params}
        if len(dtypes) != 1:
            raise TypeError(f"all parameters must share one dtype; got {sorted(map(str, dtypes))}")
        self.schedule = lr if callable(lr) else constant(checks.scalar(lr, "lr", low=0.0))
        self.clip_norm = None if clip_norm is None else checks.scalar(clip_norm, "clip_norm",
                                                                      low=0.0, low_open=True)
        self.clip_value = None if clip_value is None else checks.scalar(clip_value, "clip_value",
                                                                        low=0.0, low_open=True)
        dtype = dtypes.pop()
        sizes = [p.size for p in params]
        self.data = np.concatenate([p.data.reshape(-1) for p in params]).astype(dtype)
        self.grad = np.zeros_like(self.data)
        start = 0
        for p, n in zip(params, sizes):
            shape = p.shape
            p.data = self.data[start:start + n].reshape(shape)
            p.grad = self.grad[start:start + n].reshape(shape)
            start += n
        self.params = params
        self.step_count = 0

    @property
    def lr(self):
        """The learning rate of the next step."""
        return float(self.schedule(self.step_count))

    def state(self):
        """The optimiser's state as ``{name: array}`` (copies): ``step_count`` (0-d int64) and
        each of :attr:`buffers` (flat, one entry per parameter element), enough with the
        model's parameters to resume training exactly (:meth:`load_state`)."""
        out = {"step_count": np.array(self.step_count, np.int64)}
        out.update({name: getattr(self, name).copy() for name in self.buffers})
        return out

    def load_state(self, state):
        """Copy ``{name: array}`` (as from :meth:`state`) into this optimiser, in place; a
        state of another optimiser or parameter count is a ValueError naming what differs."""
        want = {"step_count", *self.buffers}
        if set(state) != want:
            raise ValueError(f"optimiser state does not fit {type(self).__name__}: missing "
                             f"{sorted(want - set(state))}, unexpected {sorted(set(state) - want)}")
        for name in self.buffers:
            if np.shape(state[name]) != self.data.shape:
                raise ValueError(f"optimiser state {name!r} has shape {np.shape(state[name])}; "
                                 f"the parameters have {self.data.shape}")
        for name in self.buffers:
            getattr(self, name)[...] = state[name]
        self.step_count = checks.integer(int(np.asarray(state["step_count"])), "step_count",
                                         low=0)
        return self

    def zero_grad(self):
        """Set every gradient to zero."""
        self._kernel(ko.ZERO)(self.grad)

    def grad_norm(self):
        """Global L2 norm of the gradient."""
        return float(np.sqrt(np.dot(self.grad, self.grad)))

    def step(self):
        """Clip the gradient if asked, then update every parameter in place (with subnormals
        flushed to zero, as in :meth:`Tensor.backward`: Adam's squared gradients of a network
        that fits its data fall under float32's normal range)."""
        if self.clip_value is not None:
            np.clip(self.grad, -self.clip_value, self.clip_value, out=self.grad)
        if self.clip_norm is not None:
            norm = self.grad_norm()
            if norm > self.clip_norm:
                self.grad *= self.clip_norm / norm
        lr = self.lr
        self.step_count += 1
        fpenv.call_flushed(self._update, lr, one_blas_thread=False)   # as Tensor.backward

    def _kernel(self, twins):
        """The serial or the parallel one of an update's ``twins``
        (:mod:`neurosim.kernels.nn_optim`) for this optimiser's buffer size (the same bits)."""
        return pick(twins, self.data.size, ko.PARALLEL_SIZE)

    def _update(self, lr):
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum and L2 weight decay."""

    buffers = ("velocity",)

    def __init__(self, params, lr=0.01, momentum=0.0, nesterov=False, weight_decay=0.0, **clip):
        super().__init__(params, lr, **clip)
        self.momentum = checks.scalar(momentum, "momentum", low=0.0, high=1.0, high_open=True)
        if nesterov and self.momentum == 0.0:
            raise ValueError("nesterov needs momentum > 0")
        self.nesterov = bool(nesterov)
        self.weight_decay = checks.scalar(weight_decay, "weight_decay", low=0.0)
        self.velocity = np.zeros_like(self.data)

    def _update(self, lr):
        t = self.data.dtype.type
        self._kernel(ko.SGD)(self.data, self.grad, self.velocity, t(lr), t(self.momentum),
                             self.nesterov, t(self.weight_decay))


class Adam(Optimizer):
    """Adam (Kingma and Ba, 2015); ``weight_decay`` is added to the gradient (L2)."""

    decoupled = False
    buffers = ("m", "v")

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, **clip):
        super().__init__(params, lr, **clip)
        self.beta1 = checks.scalar(betas[0], "betas[0]", low=0.0, high=1.0, high_open=True)
        self.beta2 = checks.scalar(betas[1], "betas[1]", low=0.0, high=1.0, high_open=True)
        self.eps = checks.scalar(eps, "eps", low=0.0, low_open=True)
        self.weight_decay = checks.scalar(weight_decay, "weight_decay", low=0.0)
        self.m = np.zeros_like(self.data)
        self.v = np.zeros_like(self.data)

    def _update(self, lr):
        t, step = self.data.dtype.type, self.step_count
        decay = self.weight_decay
        if self.decoupled and decay:
            self.data *= t(1.0 - lr * decay)
            decay = 0.0
        self._kernel(ko.ADAM)(self.data, self.grad, self.m, self.v, t(self.beta1), t(self.beta2),
                              t(lr / (1.0 - self.beta1 ** step)), t(1.0 / (1.0 - self.beta2 ** step)),
                              t(self.eps), t(decay))


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov and Hutter, 2019)."""

    decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01, **clip):
        super().__init__(params, lr, betas, eps, weight_decay, **clip)


class RMSprop(Optimizer):
    """RMSprop (Tieleman and Hinton, 2012) as PyTorch's ``RMSprop``: the gradient divided by
    the root of a running mean of its square (decay ``alpha``) plus ``eps``; ``centered``
    subtracts the square of the running mean gradient first; ``momentum`` accumulates the
    scaled steps; ``weight_decay`` is added to the gradient (L2)."""

    buffers = ("square_avg", "grad_avg", "momentum_buffer")

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                 centered=False, **clip):
        super().__init__(params, lr, **clip)
        self.alpha = checks.scalar(alpha, "alpha", low=0.0, high=1.0)
        self.eps = checks.scalar(eps, "eps", low=0.0, low_open=True)
        self.weight_decay = checks.scalar(weight_decay, "weight_decay", low=0.0)
        self.momentum = checks.scalar(momentum, "momentum", low=0.0, high=1.0, high_open=True)
        self.centered = bool(centered)
        self.square_avg = np.zeros_like(self.data)
        self.grad_avg = np.zeros_like(self.data)
        self.momentum_buffer = np.zeros_like(self.data)

    def _update(self, lr):
        t = self.data.dtype.type
        self._kernel(ko.RMSPROP)(self.data, self.grad, self.square_avg, self.grad_avg,
                                 self.momentum_buffer, t(lr), t(self.alpha), t(self.eps),
                                 t(self.weight_decay), t(self.momentum), self.centered)


OPTIMIZERS = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop}


def optimizer(name, params, **options):
    """The optimiser called ``name`` (``"sgd"``, ``"adam"``, ``"adamw"``, ``"rmsprop"``) over
    ``params``."""
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}; got {name!r}")
    return OPTIMIZERS[name](params, **options)
