"""Figures of sweep results: a Dataset over grid parameters and ``seed`` (what
:func:`neurosim.sweeps.sweep` returns, or any Dataset of that shape) drawn as lines or a heat
map with lines, with the science's landmarks: the Hopfield critical load alpha_c = 0.138 on an
``alpha`` axis, and a variable's ``reference`` attr (Parisi's -0.7633 for the SK energy) as a
horizontal line. Returns a ``matplotlib.figure.Figure`` not attached to pyplot.
"""
import math
import numbers

import numpy as np
import xarray as xr

ALPHA_C = 0.138
"""Critical load of the Hebbian Hopfield network (Amit, Gutfreund, Sompolinsky 1985)."""


def grid_dims(ds, var=None):
    """The grid dims of a sweep result (attrs ``sweep_dims`` without ``seed``), or for any other
    Dataset the dims of ``var`` other than ``seed``."""
    if "sweep_dims" in ds.attrs:
        return [d for d in str(ds.attrs["sweep_dims"]).split() if d != "seed" and d in ds.dims]
    return [d for d in ds[var].dims if d != "seed"]


def _numeric_var(ds, var):
    if var is not None:
        if var not in ds.data_vars:
            raise ValueError(f"var must name a variable of the Dataset {sorted(ds.data_vars)}; got {var!r}")
        if ds[var].dtype.kind not in "biuf":
            raise ValueError(f"var {var!r} is not numeric (dtype {ds[var].dtype}); pick another")
        return var
    for v in ds.data_vars:
        if ds[v].dtype.kind in "biuf" and ds[v].ndim:
            return v
    raise ValueError(f"the Dataset has no numeric variable to plot; its variables are {sorted(ds.data_vars)}")


def _ticks(ax, axis, values):
    n = len(values)
    step = max(1, math.ceil(n / 10))
    pos = np.arange(0, n, step)
    labels = [f"{values[i]:g}" if isinstance(values[i], numbers.Number) else str(values[i]) for i in pos]
    (ax.set_xticks if axis == "x" else ax.set_yticks)(pos, labels)


def _log_x(ax, xpos, numeric):
    """Log x axis for positive values spanning a factor 50 or more (sweeps, sizes)."""
    xpos = np.asarray(xpos, dtype=np.float64)
    if numeric and xpos.size > 1 and xpos.min() > 0 and xpos.max() >= 50 * xpos.min():
        ax.set_xscale("log")


def _reference(ax, da):
    """A horizontal line at attrs ``reference`` of ``da`` (if it has one); True if drawn."""
    ref = da.attrs.get("reference")
    if ref is None or not np.isscalar(ref) or not np.isfinite(float(ref)):
        return False
    ax.axhline(float(ref), color="k", ls="--", lw=1, label=str(da.attrs.get("reference_label", f"{ref:g}")))
    return True


def sweep_figure(ds, var=None, *, fig=None):
    """Figure of a sweep result (or any Dataset over parameters and ``seed``).

    ``var`` (default: the first numeric variable) is averaged over ``seed`` (error bars: the
    standard deviation over seeds) and over any dims of its own. One grid dim: a line. Two or
    more: a heat map over the first and last grid dims (others averaged) beside lines of the
    last dim, one per value of the first. For the Hopfield family an ``alpha`` axis gets the
    critical load 0.138; a variable with attrs ``reference`` (a number, e.g. Parisi's -0.7633 for
    :func:`neurosim.sweeps.sk_energy`) gets a horizontal line there, labelled ``reference_label``. Line plots
    over positive values spanning a factor 50 or more use a log x axis. Returns a
    ``matplotlib.figure.Figure`` (not attached to pyplot).
    """
    from matplotlib.figure import Figure

    if not isinstance(ds, xr.Dataset):
        raise TypeError(f"ds must be an xarray Dataset; got {type(ds).__name__}")
    var = _numeric_var(ds, var)
    da = ds[var].astype(np.float64)
    dims = [d for d in grid_dims(ds, var) if d in da.dims]
    own = [d for d in da.dims if d not in dims and d != "seed"]
    if own:
        da = da.mean(own, skipna=True)
    mean = da.mean("seed", skipna=True) if "seed" in da.dims else da
    spread = da.std("seed", skipna=True) if "seed" in da.dims and da.sizes["seed"] > 1 else None
    if not dims:
        raise ValueError(f"{var!r} has no grid dim to plot over; its dims are {ds[var].dims}")
    varying = [d for d in dims if mean.sizes[d] > 1] or dims[:1]
    extra = [d for d in dims if d not in varying]
    hn_alpha = str(ds.attrs.get("family", "")) == "HN" and "alpha" in varying
    n_seeds = ds.sizes.get("seed", 1)
    label = var.replace("_", " ") + (f" [{da.attrs['units']}]" if da.attrs.get("units") not in (None, "1") else "")
    note = f"mean over {n_seeds} seed{'s' * (n_seeds != 1)}" + (f" and {', '.join(own)}" if own else "")

    if fig is None:
        fig = Figure(figsize=(10 if len(varying) > 1 else 5.5, 3.8), layout="constrained")
    if len(varying) <= 1:
        ax = fig.add_subplot()
        x = varying[0]
        m = mean.mean(extra, skipna=True) if extra else mean
        xs = np.asarray(ds[x].values) if x in ds.coords else np.arange(m.sizes[x])
        numeric = xs.dtype.kind in "biuf"
        pos = xs if numeric else np.arange(xs.size)
        s = None if spread is None else (spread.mean(extra, skipna=True) if extra else spread)
        ax.errorbar(pos, m.transpose(x).values, yerr=None if s is None else s.transpose(x).values,
                    fmt="o-", ms=4, capsize=2)
        if not numeric:
            _ticks(ax, "x", list(xs))
        _log_x(ax, pos, numeric)
        if hn_alpha:
            ax.axvline(ALPHA_C, color="C3", ls="--", lw=1, label=r"$\alpha_c = 0.138$")
        if _reference(ax, ds[var]) or hn_alpha:
            ax.legend(frameon=False, fontsize="small")
        ax.set_xlabel(x)
        ax.set_ylabel(label)
        ax.set_title(f"{var} ({note})", fontsize="medium")
        return fig

    y, x = varying[0], varying[-1]
    middle = [d for d in dims if d not in (x, y)]
    m = mean.mean(middle, skipna=True) if middle else mean
    m = m.transpose(y, x)
    s = None if spread is None else (spread.mean(middle, skipna=True) if middle else spread).transpose(y, x)
    xs, ys = list(ds[x].values), list(ds[y].values)
    ax_map, ax_lines = fig.subplots(1, 2)
    image = ax_map.imshow(m.values, origin="lower", aspect="auto", cmap="viridis", interpolation="nearest")
    fig.colorbar(image, ax=ax_map, label=label)
    _ticks(ax_map, "x", xs)
    _ticks(ax_map, "y", ys)
    ax_map.set_xlabel(x)
    ax_map.set_ylabel(y)
    ax_map.set_title(f"{var} ({note})", fontsize="medium")
    numeric = np.asarray(xs).dtype.kind in "biuf"
    xpos = np.asarray(xs, dtype=np.float64) if numeric else np.arange(len(xs))
    rows = np.unique(np.linspace(0, len(ys) - 1, min(len(ys), 8)).round().astype(int))
    colours = [f"C{i % 10}" for i in range(len(rows))]
    for colour, r in zip(colours, rows):
        ax_lines.errorbar(xpos, m.values[r], yerr=None if s is None else s.values[r], fmt="o-", ms=3,
                          capsize=2, color=colour, label=f"{y} = {ys[r]}")
    if not numeric:
        _ticks(ax_lines, "x", xs)
    _log_x(ax_lines, xpos, numeric)
    _reference(ax_lines, ds[var])
    if hn_alpha and x == "alpha" and numeric:
        ax_lines.axvline(ALPHA_C, color="C3", ls="--", lw=1, label=r"$\alpha_c = 0.138$")
        order = np.argsort(xpos)
        if xpos[order][0] <= ALPHA_C <= xpos[order][-1]:
            ax_map.axvline(np.interp(ALPHA_C, xpos[order], np.arange(len(xs))[order]), color="w", ls="--", lw=1)
    ax_lines.set_xlabel(x)
    ax_lines.set_ylabel(label)
    ax_lines.legend(frameon=False, fontsize="small")
    title = f"{ds.attrs.get('family', '')} sweep of {ds.attrs.get('sweep_fn', var)}".strip()
    if middle:
        title += f" (averaged over {', '.join(middle)})"
    fig.suptitle(title, fontsize="medium")
    return fig
