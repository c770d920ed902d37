"""Compiled kernels for reservoir computing (ESN, ELM, online readouts).

The reservoir matrix ``W[post, pre]`` is stored in sliced ELLPACK form (SELL-8): rows in
slices of 8 (``srow[s]`` first row, ``scount[s]`` rows, a slice never crossing a layer), each
slice's entries column by column (``data[sptr[s] + 8 k + lane]``, column indices ``idx`` likewise,
short rows padded with zeros), so a step keeps 8 independent running sums where CSR has one
dependent chain; each row's sum still runs in CSR order, so results equal a plain CSR loop's.
``lslice[l]:lslice[l+1]`` are layer ``l``'s slices and ``bounds[l]:bounds[l+1]`` its units (a
shallow ESN has one layer). Layers update in order within a step, so a row of layer ``l`` that
reads units of an earlier layer sees their *new* value (deep ESN feed-forward), while reads
inside its own layer or of later layers see the previous step (recurrence). One step, for the
units ``i`` of a layer::

    z_i = bias_i + sum_j W_ij x_j + sum_k Win_ik u_k + sum_m Wfb_im fb_m
    x_i <- (1 - leak) x_i + leak f(z_i) + noise * N(0, 1)

Activation codes ``act``: 0 tanh, 1 identity, 2 logistic sigmoid, 3 ReLU. Sequences of a batch
are independent (``prange`` over the batch); sequence ``b`` draws its noise from stream ``b``.
"""
import math

import numpy as np
from numba import njit, prange, uint64

from .rng import normal

TANH, IDENTITY, SIGMOID, RELU = 0, 1, 2, 3


@njit(cache=True, inline="always")
def activate(z, act):
    """Activation ``act`` (code, see module doc) of the scalar ``z``."""
    if act == 0:
        return math.tanh(z)
    if act == 1:
        return z
    if act == 2:
        return 1.0 / (1.0 + math.exp(-z))
    return z if z > 0.0 else 0.0


@njit(cache=True)
def sell_pack(indptr, indices, data, srow, scount, sptr, out_idx, out_data):
    """Fill the SELL-8 arrays ``out_idx``, ``out_data`` (zeroed, length sptr[-1]) from sorted CSR."""
    for s in range(srow.shape[0]):
        for lane in range(scount[s]):
            r = srow[s] + lane
            pos = sptr[s] + lane
            for j in range(indptr[r], indptr[r + 1]):
                out_idx[pos] = indices[j]
                out_data[pos] = data[j]
                pos += 8


@njit(cache=True, inline="always")
def _slice_sums(sptr, slen, idx, data, x, s, lanes):
    # unsigned offsets spare numba's negative-index checks in the innermost loop
    one, two, three, four = uint64(1), uint64(2), uint64(3), uint64(4)
    five, six, seven, eight = uint64(5), uint64(6), uint64(7), uint64(8)
    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = 0.0
    off = sptr[s]
    for _ in range(slen[s]):
        a0 += data[off] * x[idx[off]]
        a1 += data[off + one] * x[idx[off + one]]
        a2 += data[off + two] * x[idx[off + two]]
        a3 += data[off + three] * x[idx[off + three]]
        a4 += data[off + four] * x[idx[off + four]]
        a5 += data[off + five] * x[idx[off + five]]
        a6 += data[off + six] * x[idx[off + six]]
        a7 += data[off + seven] * x[idx[off + seven]]
        off += eight
    lanes[0], lanes[1], lanes[2], lanes[3] = a0, a1, a2, a3
    lanes[4], lanes[5], lanes[6], lanes[7] = a4, a5, a6, a7


@njit(cache=True)
def step(mat, bounds, win, wfb, bias, u, fb, x, tmp, lanes, leak, act, noise, rng, b):
    """Advance the state ``x`` (n,) one step in place with input ``u`` (n_in,) and feedback
    ``fb`` (n_fb,). ``mat`` = (sptr, slen, srow, scount, lslice, idx, data) (see module doc);
    ``tmp`` (n,) and ``lanes`` (8,) are scratch; noise from stream ``b`` of ``rng``."""
    sptr, slen, srow, scount, lslice, idx, data = mat
    n_in = u.shape[0]
    n_fb = fb.shape[0]
    for layer in range(bounds.shape[0] - 1):
        for s in range(lslice[layer], lslice[layer + 1]):
            _slice_sums(sptr, slen, idx, data, x, s, lanes)
            for lane in range(scount[s]):
                i = srow[s] + lane
                z = bias[i] + lanes[lane]
                for k in range(n_in):
                    z += win[i, k] * u[k]
                for m in range(n_fb):
                    z += wfb[i, m] * fb[m]
                tmp[i] = (1.0 - leak) * x[i] + leak * activate(z, act)
        r0 = bounds[layer]
        r1 = bounds[layer + 1]
        if noise > 0.0:
            for i in range(r0, r1):
                tmp[i] += noise * normal(rng, b)
        for i in range(r0, r1):
            x[i] = tmp[i]


@njit(parallel=True, cache=True)
def run(mat, bounds, win, wfb, bias, inputs, feedback, x, leak, act, noise, rng, out):
    """Drive the reservoir through whole sequences (teacher-forced feedback).

    inputs (B, T, n_in), feedback (B, T, n_fb) (the teacher's previous output at each step, or
    n_fb = 0), x (B, n) start states, updated in place to the end states; out (B, T, n) receives
    the state after each step.
    """
    n_batch, n_steps = inputs.shape[0], inputs.shape[1]
    n = x.shape[1]
    for b in prange(n_batch):
        tmp = np.empty(n)
        lanes = np.empty(8)
        xb = x[b]
        for t in range(n_steps):
            step(mat, bounds, win, wfb, bias, inputs[b, t], feedback[b, t], xb, tmp, lanes, leak, act, noise,
                 rng, b)
            out[b, t, :] = xb


@njit(cache=True, inline="always")
def _readout(wout, wbias, x, y):
    for o in range(wout.shape[0]):
        acc = wbias[o]
        for i in range(wout.shape[1]):
            acc += wout[o, i] * x[i]
        y[o] = acc


@njit(parallel=True, cache=True)
def run_readout(mat, bounds, win, wfb, bias, wout, wbias, inputs, closed, x, y, leak, act, noise, rng,
                out_x, out_y):
    """Run with the readout in the loop: its output ``y`` feeds back (through ``wfb``) and, when
    ``closed``, is also the next input (autonomous generation; then n_in == n_out).

    wout (n_out, n), wbias (n_out,); inputs (B, T, n_in) (ignored when ``closed``); x (B, n) and
    y (B, n_out) are the start state and the last output (updated in place); out_x (B, T, n) and
    out_y (B, T, n_out) receive the state and the readout after each step.
    """
    n_batch, n_steps = out_y.shape[0], out_y.shape[1]
    n = x.shape[1]
    n_fb = wfb.shape[1]
    for b in prange(n_batch):
        tmp = np.empty(n)
        lanes = np.empty(8)
        xb = x[b]
        yb = y[b]
        fb = np.zeros(n_fb)
        u = np.empty(win.shape[1])
        for t in range(n_steps):
            if closed:
                u[:] = yb
            else:
                u[:] = inputs[b, t]
            if n_fb > 0:
                fb[:] = yb
            step(mat, bounds, win, wfb, bias, u, fb, xb, tmp, lanes, leak, act, noise, rng, b)
            _readout(wout, wbias, xb, yb)
            out_x[b, t, :] = xb
            out_y[b, t, :] = yb


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


@njit(cache=True)
def force(mat, bounds, win, wfb, bias, inputs, targets, x, y, w, wbias, P, leak, act, noise, rng, every,
          out_y):
    """FORCE learning (Sussillo and Abbott 2009): the reservoir runs on its own fed-back output
    ``y`` while RLS (``P`` (n + 1, n + 1), no forgetting) pulls the readout toward ``targets``
    every ``every`` steps. One sequence: inputs (T, n_in), targets (T, n_out), x (n,), y (n_out,)
    updated in place; out_y (T, n_out) receives the readout after each step (before the update).
    """
    n_steps = targets.shape[0]
    n = x.shape[0]
    n_out = targets.shape[1]
    m = n + 1
    tmp = np.empty(n)
    lanes = np.empty(8)
    fb = np.zeros(wfb.shape[1])
    phi = np.empty(m)
    k = np.empty(m)
    for t in range(n_steps):
        if fb.shape[0] > 0:
            fb[:] = y
        step(mat, bounds, win, wfb, bias, inputs[t], fb, x, tmp, lanes, leak, act, noise, rng, 0)
        _readout(w, wbias, x, y)
        out_y[t, :] = y
        if t % every != 0:
            continue
        phi[:n] = x
        phi[n] = 1.0
        denom = _rls_gain(P, phi, k, 1.0)
        for o in range(n_out):
            e = y[o] - targets[t, o]
            for i in range(n):
                w[o, i] -= e * k[i]
            wbias[o] -= e * k[n]
            y[o] -= e * (1.0 - 1.0 / denom)  # a-posteriori output, fed back next step
        _rls_downdate(P, k, denom, 1.0)


@njit(parallel=True, cache=True)
def elm_hidden(b, act, out):
    """ELM hidden layer, in place: out (N, n_hidden) <- f(out + b), where ``out`` holds the input
    product X @ Win (done by BLAS); in parallel over samples."""
    n_samples, n_hidden = out.shape
    for s in prange(n_samples):
        for h in range(n_hidden):
            out[s, h] = activate(out[s, h] + b[h], act)


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
