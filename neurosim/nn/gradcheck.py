"""Finite-difference checks of gradients, for ops, layers and users' own functions."""
import numpy as np

from .tensor import Tensor, no_grad, value_and_grad


def numerical_gradient(f, x, eps=1e-6):
    """Central-difference gradient of the scalar function ``f`` (array -> float) at ``x``."""
    x = np.array(x, dtype=np.float64, order="C")
    out = np.empty_like(x)
    flat, grad = x.reshape(-1), out.reshape(-1)
    for i in range(flat.size):
        keep = flat[i]
        flat[i] = keep + eps
        up = f(x)
        flat[i] = keep - eps
        down = f(x)
        flat[i] = keep
        grad[i] = (up - down) / (2 * eps)
    return out


def check_gradients(f, *args, eps=1e-6, seed=0):
    """Largest relative error between the autodiff and finite-difference gradients of ``f``.

    ``f`` maps the float64 arrays ``args`` to a Tensor of any shape; it is reduced to a scalar
    by a fixed random projection (seeded), so every output element is checked. Returns the
    maximum over arguments of ``|analytic - numeric| / max(1, |numeric|)`` (elementwise max).
    """
    args = [np.array(a, dtype=np.float64) for a in args]
    weights = {}

    def scalar(*xs):
        out = f(*xs)
        if out.shape not in weights:
            weights[out.shape] = np.random.default_rng(seed).standard_normal(out.shape)
        return (out * weights[out.shape]).sum()

    _, analytic = value_and_grad(scalar, tuple(range(len(args))))(*args)
    worst = 0.0
    for i, a in enumerate(args):
        def along(x, i=i):
            xs = [Tensor(v) for v in args]
            xs[i] = Tensor(x)
            with no_grad():
                return scalar(*xs).item()
        numeric = numerical_gradient(along, a, eps)
        err = np.abs(analytic[i] - numeric) / np.maximum(1.0, np.abs(numeric))
        worst = max(worst, float(err.max()))
    return worst
