"""Plots for reservoir computing, from ESN Datasets and arrays.

``trajectories`` draws a few reservoir units over time; ``prediction`` a prediction against the
truth with its error; ``animate_generation`` a closed-loop run drawing itself beside the truth,
so one sees where it diverges (or does not). Library code never calls ``plt.show``.
"""
import numpy as np

from .. import checks


def _pyplot():
    import matplotlib.pyplot as plt
    return plt


def trajectories(ds, units=8, ax=None, *, var="state", start=0, stop=None, **line_kw):
    """Plot ``units`` (an int: the first that many recorded units, or a list of unit numbers)
    of ``ds[var]`` (time, unit) against time; returns the axes."""
    if var not in ds:
        raise ValueError(f"ds has no variable {var!r}; it has {list(ds.data_vars)}")
    da = ds[var]
    if da.dims != ("time", "unit"):
        raise ValueError(f"{var} must have dims ('time', 'unit') (one sequence); got {da.dims}")
    if isinstance(units, (int, np.integer)):
        units = list(da["unit"].values[:checks.integer(units, "units", low=1)])
    da = da.sel(unit=list(units)).isel(time=slice(start, stop))
    if ax is None:
        _, ax = _pyplot().subplots(figsize=(8, 3))
    t = da["time"].values
    for u in da["unit"].values:
        ax.plot(t, da.sel(unit=u).values, lw=1, label=f"unit {u}", **line_kw)
    ax.set_xlabel("time (s)" if da["time"].attrs.get("units") == "s" else "time step")
    ax.set_ylabel("state")
    ax.set_title("reservoir state trajectories")
    return ax


def prediction(truth, predicted, ax=None, *, t0=0, title=None, error=True):
    """Plot ``predicted`` against ``truth`` (T,) or (T, 1) from step ``t0``, with the absolute
    error underneath (log scale) when ``error``; returns the list of axes."""
    truth = checks.array(truth, "truth", ndim=(1, 2)).reshape(len(np.asarray(truth)), -1)[:, 0]
    predicted = checks.array(predicted, "predicted", ndim=(1, 2)).reshape(len(np.asarray(predicted)), -1)[:, 0]
    if truth.shape != predicted.shape:
        raise ValueError(f"truth and predicted must have the same length; got {truth.shape} and {predicted.shape}")
    plt = _pyplot()
    if ax is None:
        fig, axes = plt.subplots(2 if error else 1, 1, figsize=(8, 4.5 if error else 3), sharex=True,
                                 squeeze=False, gridspec_kw={"height_ratios": [2, 1]} if error else None)
        axes = list(axes[:, 0])
    else:
        axes = [ax]
        error = False
    t = t0 + np.arange(truth.size)
    axes[0].plot(t, truth, "k", lw=1.5, label="truth")
    axes[0].plot(t, predicted, "C1--", lw=1.2, label="prediction")
    axes[0].legend(loc="upper right")
    axes[0].set_title(title or "prediction against truth")
    if error:
        axes[1].semilogy(t, np.abs(truth - predicted) + 1e-16, "C3", lw=0.8)
        axes[1].set_ylabel("|error|")
        axes[1].set_xlabel("time (step)")
    return axes


def animate_generation(truth, generated, *, context=None, interval=40, frames=100, title=None):
    """Animation of closed-loop generation: ``generated`` (T,) drawn step by step over ``truth``
    (T,), after an optional ``context`` (the teacher-forced steps just before). Returns a
    ``matplotlib.animation.FuncAnimation`` (save it with :func:`neurosim.viz.save_animation`)."""
    from matplotlib.animation import FuncAnimation

    truth = np.asarray(truth, dtype=float).reshape(-1)
    generated = np.asarray(generated, dtype=float).reshape(-1)
    if truth.shape != generated.shape:
        raise ValueError(f"truth and generated must have the same length; got {truth.shape} and {generated.shape}")
    n = truth.size
    frames = checks.integer(frames, "frames", low=1)
    ctx = np.zeros(0) if context is None else np.asarray(context, dtype=float).reshape(-1)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 3.2))
    tc = np.arange(-ctx.size, 0)
    if ctx.size:
        ax.plot(tc, ctx, color="0.5", lw=1, label="context (teacher forced)")
    ax.plot(np.arange(n), truth, "k", lw=1, alpha=0.35, label="truth")
    (line,) = ax.plot([], [], "C1", lw=1.5, label="closed loop")
    (dot,) = ax.plot([], [], "o", color="C1")
    text = ax.text(0.01, 0.04, "", transform=ax.transAxes)
    lo, hi = min(truth.min(), generated.min()), max(truth.max(), generated.max())
    pad = 0.1 * (hi - lo + 1e-12)
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_xlim(-ctx.size, n)
    ax.set_xlabel("time (step)")
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title(title or "closed-loop generation")
    fig.tight_layout()
    steps = np.unique(np.linspace(1, n, frames).astype(int))

    def draw(k):
        line.set_data(np.arange(k), generated[:k])
        dot.set_data([k - 1], [generated[k - 1]])
        err = np.sqrt(np.mean((generated[:k] - truth[:k]) ** 2)) / (truth.std() + 1e-300)
        text.set_text(f"step {k}   NRMSE so far {err:.2e}")
        return line, dot, text

    return FuncAnimation(fig, draw, frames=steps, interval=interval, blit=False)
