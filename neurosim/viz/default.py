"""The default figure of a result Dataset (what ``neurosim plot RESULT.nc`` draws), chosen from
what the Dataset holds: a sweep's grid, a Hopfield recall, spikes, or curves over a time-like
dim."""
from .plots import TIME_DIMS, curve, energy_curve, overlap_curve
from .sweeps import sweep_figure


def default_figure(ds, var=None):
    """A sensible default figure (``matplotlib.figure.Figure``) for a neurosim Dataset.

    Sweep results (and Datasets over parameters and ``seed``): heat map and lines over the grid
    (:func:`~neurosim.viz.sweep_figure`). Hopfield recalls: energy per sweep and the first cue's
    overlaps. Spikes: a raster. Otherwise the first variable with a time-like dim as curves
    (``var``: that variable). A Dataset with none of these is a ``ValueError``.
    """
    from matplotlib.figure import Figure

    if "sweep_dims" in ds.attrs:
        return sweep_figure(ds, var)
    if var is not None and var not in ds.data_vars:
        raise ValueError(f"var must name a variable of the Dataset {sorted(ds.data_vars)}; got {var!r}")
    family = str(ds.attrs.get("family", ""))
    if var is None and family == "HN" and {"energy", "overlap"} <= set(ds.data_vars) and "sweep" in ds.dims:
        fig = Figure(figsize=(10, 3.6), layout="constrained")
        ax_e, ax_m = fig.subplots(1, 2)
        energy_curve(ds, ax_e, cues=list(range(min(10, ds.sizes.get("cue", 1)))) if "cue" in ds.dims else None)
        overlap_curve(ds, 0, ax_m)
        fig.suptitle(f"{ds.attrs.get('model', 'Hopfield')} recall", fontsize="medium")
        return fig
    if var is None and {"spike_time", "spike_neuron"} <= set(ds.data_vars):
        fig = Figure(figsize=(6, 3.6), layout="constrained")
        ax = fig.add_subplot()
        ax.plot(ds.spike_time.values, ds.spike_neuron.values, "|", ms=2, color="k")
        ax.set_xlabel(f"time [{ds.spike_time.attrs.get('units', 's')}]")
        ax.set_ylabel("neuron")
        ax.set_title(f"{family} spikes", fontsize="medium")
        return fig
    candidates = [var] if var is not None else list(ds.data_vars)
    for name in candidates:
        da = ds[name]
        t = next((d for d in TIME_DIMS if d in da.dims), None)
        if t is None or da.dtype.kind not in "biuf":
            continue
        others = [d for d in da.dims if d != t]
        da = da.isel({d: 0 for d in others[1:]})
        fig = Figure(figsize=(6, 3.6), layout="constrained")
        ax = fig.add_subplot()
        select = list(range(min(10, da.sizes[others[0]]))) if others else None
        curve(da, name, ax, dim=t, select=select)
        fixed = ", ".join(f"{d} = 0" for d in others[1:])
        ax.set_title(f"{family} {name}" + (f" ({fixed})" if fixed else ""), fontsize="medium")
        return fig
    if "seed" in ds.dims or var is not None:
        return sweep_figure(ds, var)
    raise ValueError(f"no default figure for this Dataset (family {family!r}); its variables are "
                     f"{sorted(ds.data_vars)}: plot it with neurosim.viz")
