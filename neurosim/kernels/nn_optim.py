"""Compiled optimiser updates of the nn engine, in place over one flat parameter buffer and
its state buffers (1-D, one dtype, the same size), and the zeroing of its gradient buffer.

Each update is element-wise, so the buffer runs in chunks of :data:`CHUNK` elements, on Numba's
threads where it is large (:data:`PARALLEL_SIZE`; the parallel twins give the same bits). The
caller's subnormal flushing (:mod:`.fpenv`) is set in every thread. No ``fastmath``: its
freedom to fuse multiply-adds and to divide by reciprocals was taken differently in the two
twins (0.3% of the elements a last bit apart). ``error_model="numpy"`` drops Numba's
zero-division check, so the divisions vectorise (``eps`` keeps the divisors positive). Scalars come in the buffers' dtype, so float32 stays float32.
"""
import math

from numba import njit, prange

from .fpenv import control_word, restore
from .threads import twins

CHUNK = 1 << 14            # elements of a parallel item (a few of each buffer in L2)
PARALLEL_SIZE = 1 << 17    # elements from which the threads pay (0.1 ms of Adam on one core)
OPTIONS = dict(error_model="numpy")


@njit(cache=True, inline="always")
def _chunks(n):
    return -(-n // CHUNK)


@njit(cache=True, inline="always")
def _span(c, n):
    """The slice bounds of chunk ``c`` of ``n`` elements."""
    return c * CHUNK, min(n, (c + 1) * CHUNK)


def _zero(buffer):
    """``buffer[...] = 0`` (the gradient buffer before a step)."""
    for c in prange(_chunks(buffer.size)):
        lo, hi = _span(c, buffer.size)
        buffer[lo:hi] = 0


def _sgd(params, grads, velocity, lr, momentum, nesterov, weight_decay):
    """One SGD step; ``velocity`` is the momentum buffer (PyTorch's ``SGD``)."""
    word = control_word()
    for c in prange(_chunks(params.size)):
        own = control_word()
        restore(word)
        lo, hi = _span(c, params.size)
        p, gr, vel = params[lo:hi], grads[lo:hi], velocity[lo:hi]
        for i in range(p.size):
            g = gr[i] + weight_decay * p[i]
            if momentum != 0:
                vel[i] = momentum * vel[i] + g
                g = g + momentum * vel[i] if nesterov else vel[i]
            p[i] -= lr * g
        restore(own)


def _adam(params, grads, m, v, beta1, beta2, step_size, inv_correction2, eps, weight_decay):
    """One Adam step. ``step_size = lr / (1 - beta1**t)`` and ``inv_correction2 = 1 / (1 -
    beta2**t)`` carry the bias corrections of step ``t``; ``weight_decay`` is added to the
    gradient (L2)."""
    keep1 = params.dtype.type(1) - beta1
    keep2 = params.dtype.type(1) - beta2
    word = control_word()
    for c in prange(_chunks(params.size)):
        own = control_word()
        restore(word)
        lo, hi = _span(c, params.size)
        p, gr, mc, vc = params[lo:hi], grads[lo:hi], m[lo:hi], v[lo:hi]
        for i in range(p.size):
            g = gr[i] + weight_decay * p[i]
            mi = beta1 * mc[i] + keep1 * g
            vi = beta2 * vc[i] + keep2 * g * g
            mc[i] = mi
            vc[i] = vi
            p[i] -= step_size * mi / (math.sqrt(vi * inv_correction2) + eps)
        restore(own)


def _rmsprop(params, grads, square_avg, grad_avg, momentum_buf, lr, alpha, eps, weight_decay,
             momentum, centered):
    """One RMSprop step, as PyTorch's ``RMSprop``.

    ``g = grad + weight_decay * p``; ``square_avg = alpha square_avg + (1 - alpha) g**2``;
    centred, ``grad_avg = alpha grad_avg + (1 - alpha) g`` and the divisor is
    ``sqrt(square_avg - grad_avg**2) + eps``, else ``sqrt(square_avg) + eps``; with momentum
    ``buf = momentum buf + g / divisor`` and ``p -= lr buf``, else ``p -= lr g / divisor``.
    """
    keep = params.dtype.type(1) - alpha
    word = control_word()
    for c in prange(_chunks(params.size)):
        own = control_word()
        restore(word)
        lo, hi = _span(c, params.size)
        p, gr, sq, av, buf = (params[lo:hi], grads[lo:hi], square_avg[lo:hi], grad_avg[lo:hi],
                              momentum_buf[lo:hi])
        for i in range(p.size):
            g = gr[i] + weight_decay * p[i]
            s = alpha * sq[i] + keep * g * g
            sq[i] = s
            if centered:
                a = alpha * av[i] + keep * g
                av[i] = a
                s = s - a * a
            step = g / (math.sqrt(s) + eps)
            if momentum != 0:
                step = momentum * buf[i] + step
                buf[i] = step
            p[i] -= lr * step
        restore(own)


#: ``(serial, parallel)`` twins of each update (:func:`~.threads.pick` chooses by size)
ZERO = twins(_zero)
SGD = twins(_sgd, **OPTIONS)
ADAM = twins(_adam, **OPTIONS)
RMSPROP = twins(_rmsprop, **OPTIONS)
