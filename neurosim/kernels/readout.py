"""Compiled online readouts: recursive least squares (:class:`neurosim.readout.RLS`), and its gain
and downdate, which FORCE learning (:func:`neurosim.kernels.reservoir.force`) shares."""
import numpy as np
from numba import njit


@njit(cache=True, inline="always")
def _rls_gain(P, phi, k, forget):
    """RLS gain in place: ``k = P phi / (forget + phi' P phi)``; returns the denominator."""
    m = phi.shape[0]
    denom = forget
    for i in range(m):
        acc = 0.0
        for j in range(m):
            acc += P[i, j] * phi[j]
        k[i] = acc
        denom += phi[i] * acc
    for i in range(m):
        k[i] /= denom
    return denom


@njit(cache=True, inline="always")
def _rls_downdate(P, k, denom, forget):
    """``P <- (P - k (P phi)') / forget`` in place, using ``P phi = k * denom`` (P symmetric)."""
    m = k.shape[0]
    for i in range(m):
        ki = k[i] * denom
        for j in range(m):
            P[i, j] = (P[i, j] - ki * k[j]) / forget


@njit(cache=True)
def rls(states, targets, w, wbias, P, forget):
    """Recursive least squares over the rows of ``states`` (T, n) toward ``targets`` (T, n_out).

    The readout ``y = w @ x + wbias`` (w (n_out, n), wbias (n_out,)) and the inverse correlation
    matrix ``P`` (n + 1, n + 1) over the features ``[x, 1]`` are updated in place, one sample at a
    time with forgetting factor ``forget`` (1 = none). Returns the a-priori errors (T, n_out).
    """
    n_steps, n = states.shape
    n_out = targets.shape[1]
    m = n + 1
    phi = np.empty(m)
    k = np.empty(m)
    err = np.empty((n_steps, n_out))
    for t in range(n_steps):
        phi[:n] = states[t]
        phi[n] = 1.0
        # k = P phi / (forget + phi' P phi)
        denom = _rls_gain(P, phi, k, forget)
        for o in range(n_out):
            y = wbias[o]
            for i in range(n):
                y += w[o, i] * phi[i]
            e = targets[t, o] - y
            err[t, o] = e
            for i in range(n):
                w[o, i] += e * k[i]
            wbias[o] += e * k[n]
        _rls_downdate(P, k, denom, forget)
    return err
