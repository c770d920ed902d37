"""The default figure of a result Dataset (what ``neurosim plot RESULT.nc`` draws).

Each family says which variables make its main figure: the Dataset's ``attrs["main"]``, set
where the family builds it (an attr rather than a table here keyed by ``model``, because one
model makes several kinds of Dataset, e.g. an ESN's run, generation and states, and because
the attr travels with the netCDF file, so a Dataset made or edited by hand can name its own).
Its grammar is one line of variable names: panels separated by spaces, variables drawn in the
same panel joined by ``+``, e.g. ``"energy overlap"`` (two panels) or ``"truth+prediction"``
(one). A panel draws its variables

- over their time-like dim (``sweep``, ``step``, ``epoch``, ``time``, ``iteration``) as lines:
  one line per index of the last other dim (at most 10), the leading other dims at index 0;
- as a raster for spike events (``spike_time`` with ``spike_neuron``);
- as a histogram of all values otherwise (e.g. the final energy of each read).

Datasets without ``main`` (older files) get a sweep's figure, a raster of spikes, or the curves
of the first variable over a time-like dim.
"""
import numpy as np

from .plots import TIME_DIMS, _label, curve
from .sweeps import sweep_figure

MAX_LINES = 10
"""Lines drawn per variable in a panel (the first indices of its last other dim)."""


def parse_panels(text, ds, what="attrs['main']"):
    """Panels (lists of variable names of ``ds``) from the ``main`` grammar (see the module doc);
    a name that is not a variable of ``ds`` is a ``ValueError`` naming ``what``."""
    panels = [[v for v in group.split("+") if v] for group in str(text).split()]
    panels = [p for p in panels if p]
    missing = sorted({v for p in panels for v in p} - set(ds.data_vars))
    if not panels or missing:
        raise ValueError(f"{what} must name variables of the Dataset {sorted(ds.data_vars)}; got {text!r}"
                         + (f" ({', '.join(map(repr, missing))} not among them)" if missing else ""))
    return panels


def main_panels(ds):
    """The panels of ``ds``'s main figure (``attrs["main"]``), or None when it names none."""
    text = ds.attrs.get("main")
    return None if text is None else parse_panels(text, ds)


def _spikes(ds, ax):
    ax.plot(ds.spike_time.values, ds.spike_neuron.values, "|", ms=2, color="k")
    ax.set_xlabel(f"time [{ds.spike_time.attrs.get('units', 's')}]")
    ax.set_ylabel("neuron")
    ax.set_title(f"{ds.attrs.get('family', '')} spikes".strip(), fontsize="medium")


def _lines(ds, names, ax):
    """Each of ``names`` over its time-like dim (see the module doc); True if drawn."""
    drawn = 0
    fixed = []
    for name in names:
        da = ds[name]
        t = next((d for d in TIME_DIMS if d in da.dims), None)
        if t is None or da.dtype.kind not in "biuf":
            return False
        others = [d for d in da.dims if d != t]
        lead = {d: 0 for d in others[:-1]}
        fixed += [f"{d} = 0" for d in lead if f"{d} = 0" not in fixed]
        da = da.isel(lead)
        n = da.sizes[others[-1]] if others else 1
        select = list(range(min(MAX_LINES, n))) if others else None
        labels = None
        if len(names) > 1:  # overlaid variables: say which is which
            labels = [name] if select is None or n == 1 else [f"{name} {i}" for i in select]
        curve(da, name, ax, dim=t, select=select, labels=labels, legend=False)
        drawn += len(select) if select else 1
    if len(names) > 1:
        ax.set_ylabel(" / ".join(_label(ds[v], v) for v in names))
    if 1 < drawn <= MAX_LINES:  # beside the lines, not over them
        ax.legend(fontsize="small", frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    title = " and ".join(n.replace("_", " ") for n in names)
    ax.set_title(title + (f" ({', '.join(fixed)})" if fixed else ""), fontsize="medium")
    return True


def _histogram(ds, name, ax):
    da = ds[name]
    if da.dtype.kind not in "biuf":
        raise ValueError(f"{name!r} is not numeric (dtype {da.dtype}); pick another variable")
    values = np.asarray(da.values, dtype=np.float64).ravel()
    values = values[np.isfinite(values)]
    ax.hist(values, bins=min(30, max(5, values.size // 3)), color="0.35")
    ax.set_xlabel(_label(da, name))
    ax.set_ylabel("count")
    what = str(da.attrs.get("long_name", name.replace("_", " ")))
    over = f"{values.size} {da.dims[0]}s" if da.ndim == 1 else f"{values.size} values"
    ax.set_title(f"{what} ({over})", fontsize="medium")


def _panel(ds, names, ax):
    if set(names) & {"spike_time", "spike_neuron"} and {"spike_time", "spike_neuron"} <= set(ds.data_vars):
        _spikes(ds, ax)
    elif not _lines(ds, names, ax):
        if len(names) > 1:
            raise ValueError(f"variables {names} share a panel but are not all curves over a time-like dim "
                             f"{TIME_DIMS}")
        _histogram(ds, names[0], ax)


def panels_figure(ds, panels):
    """A figure of ``panels`` (lists of variable names of ``ds``), side by side."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(1.0 + 5.0 * len(panels), 3.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(panels)))
    for names, ax in zip(panels, axes):
        _panel(ds, names, ax)
    model = ds.attrs.get("model") or ds.attrs.get("family")
    if model and len(panels) > 1:
        fig.suptitle(str(model), fontsize="medium")
    return fig


def default_figure(ds, var=None):
    """The default figure (``matplotlib.figure.Figure``) of a neurosim Dataset.

    Sweep results (and Datasets over parameters and ``seed``): heat map and lines over the grid
    (:func:`~neurosim.viz.sweep_figure`). ``var`` (a name, or the ``attrs["main"]`` grammar of
    the module doc): those variables. Otherwise the Dataset's main figure (``attrs["main"]``),
    else, for Datasets without one, spikes as a raster or the first variable with a time-like
    dim as curves. A Dataset with none of these is a ``ValueError``.
    """
    if "sweep_dims" in ds.attrs:
        return sweep_figure(ds, var)
    if var is not None:
        panels = parse_panels(var, ds, "var")
        if "seed" in ds.dims and not any(d in TIME_DIMS for v in panels[0] for d in ds[v].dims):
            return sweep_figure(ds, var)
        return panels_figure(ds, panels)
    panels = main_panels(ds)
    if panels is not None:
        return panels_figure(ds, panels)
    if {"spike_time", "spike_neuron"} <= set(ds.data_vars):
        return panels_figure(ds, [["spike_time"]])
    for name in ds.data_vars:
        if ds[name].dtype.kind in "biuf" and any(d in TIME_DIMS for d in ds[name].dims):
            return panels_figure(ds, [[name]])
    if "seed" in ds.dims:
        return sweep_figure(ds, var)
    raise ValueError(f"no default figure for this Dataset (family {ds.attrs.get('family', '')!r}); its "
                     f"variables are {sorted(ds.data_vars)}: pick one with var= (--var) or plot it with "
                     f"neurosim.viz")
