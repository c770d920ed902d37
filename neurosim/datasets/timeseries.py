"""Time series for reservoir computing: Mackey-Glass, NARMA, a sine family and Lorenz.

Every generator returns float64 arrays of shape ``(T, dims)`` (time along axis 0), ready to feed
an ESN, and takes ``seed`` where it draws random numbers (default 0: the same series each call).
The defaults of :func:`mackey_glass` and :func:`lorenz` are reservoirpy's, so a series and its
statistics match what reservoirpy users know; the integration is done properly here (RK4 at a
fine step with an interpolated delay), where reservoirpy holds the delayed value over a whole
sample interval.
"""
import numpy as np

from .. import checks, rng
from ..kernels import timeseries as _k


def mackey_glass(n_timesteps, tau=17, a=0.2, b=0.1, n=10, x0=1.2, h=1.0, *, substeps=10,
                 seed=0, history=None):
    """Mackey-Glass series: dx/dt = a x(t - tau) / (1 + x(t - tau)^n) - b x(t).

    Integrated with RK4 at step ``h / substeps`` (the delay on that grid, cubic-interpolated at
    the half steps) and sampled every ``h`` (time units). ``tau = 17`` is chaotic. The history on
    ``[-tau, 0)`` is ``x0 + 0.2 (U(0,1) - 0.5)`` at the ``floor(tau / h)`` sample times (as in
    reservoirpy), linearly interpolated, or the given ``history`` (samples at spacing ``h``,
    oldest first, at least ``floor(tau / h)`` of them); x(0) = ``x0``.

    Returns an array (n_timesteps, 1).
    """
    n_timesteps = checks.integer(n_timesteps, "n_timesteps", low=1)
    tau = checks.scalar(tau, "tau", low=0, low_open=True)
    h = checks.scalar(h, "h", low=0, low_open=True)
    a = checks.scalar(a, "a")
    b = checks.scalar(b, "b")
    n = checks.scalar(n, "n")
    x0 = checks.scalar(x0, "x0")
    substeps = checks.integer(substeps, "substeps", low=1)
    dt = h / substeps
    n_delay = int(round(tau / dt))
    if n_delay < 1 or abs(n_delay * dt - tau) > 1e-9 * max(tau, 1.0):
        raise ValueError(f"tau / (h / substeps) must be a whole number >= 1; got tau={tau}, h={h}, "
                         f"substeps={substeps}")
    n_hist = int(np.floor(tau / h))
    if history is None:
        coarse = x0 + 0.2 * (rng.generator(seed).random(max(n_hist, 1)) - 0.5)
    else:
        coarse = checks.array(history, "history", ndim=(1, 2)).ravel()
        if coarse.size < n_hist:
            raise ValueError(f"history must hold at least floor(tau / h) = {n_hist} samples; got {coarse.size}")
        coarse = coarse[-max(n_hist, 1):]
    # coarse samples at times -len*h .. -h, then x0 at t = 0; interpolate onto the fine grid
    t_coarse = np.append(-h * np.arange(coarse.size, 0, -1), 0.0)
    x_coarse = np.append(coarse, x0)
    t_fine = -tau + dt * np.arange(n_delay + 1)
    hist = np.interp(t_fine, t_coarse, x_coarse)
    hist[-1] = x0
    out = np.empty(n_timesteps)
    _k.mackey_glass(hist, n_delay, dt, substeps, a, b, n, out)
    return out.reshape(-1, 1)


def narma(n_timesteps, order=10, *, seed=0, washout=0):
    """NARMA-``order`` task (Atiya and Parlos 2000): input u ~ U(0, 0.5) and the target::

        y[t+1] = 0.3 y[t] + 0.05 y[t] sum_{i<order} y[t-i] + 1.5 u[t-order+1] u[t] + 0.1

    ``washout`` leading steps are generated and dropped (y starts at 0). Returns ``(u, y)``, both
    (n_timesteps, 1); the task is to predict ``y[t]`` from ``u[0..t]``.
    """
    n_timesteps = checks.integer(n_timesteps, "n_timesteps", low=1)
    order = checks.integer(order, "order", low=1)
    washout = checks.integer(washout, "washout", low=0)
    total = n_timesteps + washout
    u = rng.generator(seed).uniform(0.0, 0.5, size=total + 1)
    y = np.empty(total + 1)
    _k.narma(u, order, y)  # y[t + 1] from u[..t]
    return u[washout:total].reshape(-1, 1), y[washout + 1:].reshape(-1, 1)


def sine(n_timesteps, period=20.0, *, amplitude=1.0, phase=0.0):
    """A sine wave ``amplitude sin(2 pi t / period + phase)``, t = 0, 1, ...: (n_timesteps, 1)."""
    n_timesteps = checks.integer(n_timesteps, "n_timesteps", low=1)
    period = checks.scalar(period, "period", low=0, low_open=True)
    amplitude = checks.scalar(amplitude, "amplitude")
    phase = checks.scalar(phase, "phase")
    t = np.arange(n_timesteps, dtype=np.float64)
    return (amplitude * np.sin(2 * np.pi * t / period + phase)).reshape(-1, 1)


def sine_family(n_timesteps, periods=(8.0, 16.0, 32.0), segment=200, *, seed=0):
    """Tunable sine generator task (Jaeger's frequency-controlled oscillator).

    The period switches every ``segment`` steps to one drawn from ``periods``; the input is the
    control ``u = 1 / period`` (the frequency, cycles per step) and the target a unit sine whose
    phase runs on continuously at that frequency. Returns ``(u, y)``, both (n_timesteps, 1).
    """
    n_timesteps = checks.integer(n_timesteps, "n_timesteps", low=1)
    segment = checks.integer(segment, "segment", low=1)
    periods = checks.array(periods, "periods", ndim=1)
    if np.any(periods <= 0):
        raise ValueError(f"periods must all be > 0; got {periods.tolist()}")
    n_seg = -(-n_timesteps // segment)
    chosen = periods[rng.generator(seed).integers(0, periods.size, size=n_seg)]
    freq = np.repeat(1.0 / chosen, segment)[:n_timesteps]
    phase = 2 * np.pi * np.concatenate(([0.0], np.cumsum(freq[:-1])))
    return freq.reshape(-1, 1), np.sin(phase).reshape(-1, 1)


def lorenz(n_timesteps, rho=28.0, sigma=10.0, beta=8.0 / 3.0, x0=(1.0, 1.0, 1.0), h=0.03, *,
           substeps=10):
    """Lorenz system dx = sigma (y - x), dy = x (rho - z) - y, dz = x y - beta z.

    RK4 at step ``h / substeps``, sampled every ``h`` from ``x0``. Returns (n_timesteps, 3)
    with columns x, y, z.
    """
    n_timesteps = checks.integer(n_timesteps, "n_timesteps", low=1)
    rho = checks.scalar(rho, "rho")
    sigma = checks.scalar(sigma, "sigma")
    beta = checks.scalar(beta, "beta")
    h = checks.scalar(h, "h", low=0, low_open=True)
    substeps = checks.integer(substeps, "substeps", low=1)
    start = checks.array(x0, "x0", shape=(3,))
    out = np.empty((n_timesteps, 3))
    _k.lorenz(start, h, substeps, sigma, rho, beta, out)
    return out
