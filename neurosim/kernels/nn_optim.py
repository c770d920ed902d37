"""Compiled optimiser updates of the nn engine over one flat parameter buffer (beside
:func:`~neurosim.kernels.nn.sgd_update` and :func:`~neurosim.kernels.nn.adam_update`).

``error_model="numpy"`` drops Numba's zero-division check, so the divisions vectorise (``eps``
keeps the divisors positive). Scalars come in the buffers' dtype, so float32 stays float32.
"""
import math

from numba import njit


@njit(cache=True, fastmath=True, error_model="numpy")
def rmsprop_update(params, grads, square_avg, grad_avg, momentum_buf, lr, alpha, eps,
                   weight_decay, momentum, centered):
    """One RMSprop step in place, as PyTorch's ``RMSprop``.

    ``g = grad + weight_decay * p``; ``square_avg = alpha square_avg + (1 - alpha) g**2``;
    centred, ``grad_avg = alpha grad_avg + (1 - alpha) g`` and the divisor is
    ``sqrt(square_avg - grad_avg**2) + eps``, else ``sqrt(square_avg) + eps``; with momentum
    ``buf = momentum buf + g / divisor`` and ``p -= lr buf``, else ``p -= lr g / divisor``.
    """
    keep = params.dtype.type(1) - alpha
    for i in range(params.size):
        g = grads[i] + weight_decay * params[i]
        s = alpha * square_avg[i] + keep * g * g
        square_avg[i] = s
        if centered:
            a = alpha * grad_avg[i] + keep * g
            grad_avg[i] = a
            s = s - a * a
        step = g / (math.sqrt(s) + eps)
        if momentum != 0:
            step = momentum * momentum_buf[i] + step
            momentum_buf[i] = step
        params[i] -= lr * step
