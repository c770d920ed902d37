"""Compiled generators of the benchmark time series (:mod:`neurosim.datasets.timeseries`):
NARMA, Mackey-Glass (RK4 with the delayed term interpolated) and Lorenz (RK4), each filling a
preallocated ``out``."""
import numpy as np
from numba import njit


@njit(cache=True)
def narma(u, order, out):
    """NARMA-``order`` series driven by ``u`` (T,) into ``out`` (T,) (Atiya and Parlos 2000)::

        y[t+1] = 0.3 y[t] + 0.05 y[t] sum_{i<order} y[t-i] + 1.5 u[t-order+1] u[t] + 0.1
    """
    n_steps = u.shape[0]
    out[:] = 0.0
    for t in range(order - 1, n_steps - 1):
        s = 0.0
        for i in range(order):
            s += out[t - i]
        out[t + 1] = 0.3 * out[t] + 0.05 * out[t] * s + 1.5 * u[t - order + 1] * u[t] + 0.1


@njit(cache=True)
def _mg_rhs(x, xd, a, b, p):
    return a * xd / (1.0 + xd ** p) - b * x


@njit(cache=True)
def mackey_glass(history, n_delay, dt, sub, a, b, p, out):
    """Integrate dx/dt = a x(t - tau) / (1 + x(t - tau)^p) - b x(t) with classical RK4.

    The step is ``dt`` and ``tau = n_delay * dt`` (method of steps for a constant delay). The
    delayed term at the RK4 half steps comes from the cubic Hermite interpolant of the stored
    grid values and derivatives on that interval (on the history, taken piecewise linear, the
    interpolation is exact), so the scheme stays fourth order even across the derivative jump
    at t = 0. ``history`` (n_delay + 1,) holds x on the grid from -tau to 0; every ``sub``-th grid
    value from t = 0 on is written to ``out`` (T,).
    """
    n_out = out.shape[0]
    n_grid = (n_out - 1) * sub + 1
    buf = np.empty(n_delay + n_grid)
    der = np.empty(n_delay + n_grid)
    buf[:n_delay + 1] = history
    out[0] = buf[n_delay]
    for s in range(n_grid - 1):
        i = n_delay + s  # current grid index
        x = buf[i]
        j = s  # the delayed interval [j, j + 1]
        d0 = buf[j]
        d1 = buf[j + 1]
        k1 = _mg_rhs(x, d0, a, b, p)
        der[i] = k1
        if j < n_delay:
            dm = 0.5 * (d0 + d1)
        else:
            dm = 0.5 * (d0 + d1) + dt * (der[j] - der[j + 1]) / 8.0
        k2 = _mg_rhs(x + 0.5 * dt * k1, dm, a, b, p)
        k3 = _mg_rhs(x + 0.5 * dt * k2, dm, a, b, p)
        k4 = _mg_rhs(x + dt * k3, d1, a, b, p)
        buf[i + 1] = x + dt * (k1 + 2.0 * k2 + 2.0 * k3 + k4) / 6.0
        if (s + 1) % sub == 0:
            out[(s + 1) // sub] = buf[i + 1]


@njit(cache=True)
def lorenz(x0, dt, sub, sigma, rho, beta, out):
    """Lorenz system with RK4 at step ``dt / sub``; out (T, 3) gets every ``sub``-th point from x0."""
    h = dt / sub
    x, y, z = x0[0], x0[1], x0[2]
    out[0, 0], out[0, 1], out[0, 2] = x, y, z
    for t in range(1, out.shape[0]):
        for _ in range(sub):
            k1x, k1y, k1z = sigma * (y - x), x * (rho - z) - y, x * y - beta * z
            x2, y2, z2 = x + 0.5 * h * k1x, y + 0.5 * h * k1y, z + 0.5 * h * k1z
            k2x, k2y, k2z = sigma * (y2 - x2), x2 * (rho - z2) - y2, x2 * y2 - beta * z2
            x3, y3, z3 = x + 0.5 * h * k2x, y + 0.5 * h * k2y, z + 0.5 * h * k2z
            k3x, k3y, k3z = sigma * (y3 - x3), x3 * (rho - z3) - y3, x3 * y3 - beta * z3
            x4, y4, z4 = x + h * k3x, y + h * k3y, z + h * k3z
            k4x, k4y, k4z = sigma * (y4 - x4), x4 * (rho - z4) - y4, x4 * y4 - beta * z4
            x += h * (k1x + 2 * k2x + 2 * k3x + k4x) / 6.0
            y += h * (k1y + 2 * k2y + 2 * k3y + k4y) / 6.0
            z += h * (k1z + 2 * k2z + 2 * k3z + k4z) / 6.0
        out[t, 0], out[t, 1], out[t, 2] = x, y, z
