"""Static plots built from result Datasets: state grids, per-sweep curves, recall summaries.

Every function takes what a run returned (an ``xarray.Dataset``, or one of its DataArrays) and
draws on a matplotlib ``Axes`` (a new figure when ``ax`` is None); none calls ``plt.show``.
The curve functions work on any variable with a time-like dim (``sweep``, ``step``, ``epoch``,
``time`` or ``iteration``), so every family can reuse them.
"""
import numbers

import numpy as np
import xarray as xr

from .. import checks

TIME_DIMS = ("sweep", "step", "epoch", "time", "iteration")
"""Dims recognised as the x axis of a curve, in order of preference."""

UNIT_DIMS = ("unit", "neuron", "visible", "hidden")
"""Dims recognised as the units of a network state, in order of preference."""


def _pyplot():
    import matplotlib.pyplot as plt

    return plt


def _new_axes(ax, figsize):
    if ax is None:
        _, ax = _pyplot().subplots(figsize=figsize, layout="constrained")
        return ax
    from matplotlib.axes import Axes

    if not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes or None; got {type(ax).__name__}")
    return ax


def variable(ds, var, name="ds"):
    """The DataArray ``ds[var]`` (``ds`` a Dataset) or ``ds`` itself (a DataArray); clear errors."""
    if isinstance(ds, xr.DataArray):
        return ds
    if not isinstance(ds, xr.Dataset):
        raise TypeError(f"{name} must be an xarray Dataset or DataArray; got {type(ds).__name__}")
    if var not in ds.data_vars:
        raise ValueError(f"{name} has no variable {var!r}; it has {sorted(ds.data_vars)}")
    return ds[var]


def time_dim(da, dim=None):
    """The time-like dim of ``da``: ``dim`` if given (checked), else the first of :data:`TIME_DIMS`."""
    if dim is not None:
        if dim not in da.dims:
            raise ValueError(f"dim must be one of the dims of {da.name!r} {da.dims}; got {dim!r}")
        return dim
    for d in TIME_DIMS:
        if d in da.dims:
            return d
    raise ValueError(f"{da.name!r} has no time-like dim (one of {TIME_DIMS}); its dims are {da.dims}; "
                     f"pass dim=")


def _label(da, name):
    """Axis label: the variable's name, with its units unless dimensionless ("1").

    (``long_name`` attrs are often whole sentences; they stay in the Dataset.)"""
    units = da.attrs.get("units")
    text = str(name).replace("_", " ")
    return f"{text} [{units}]" if units and str(units) != "1" else text


def _axis_values(da, dim):
    if dim in da.coords:
        return np.asarray(da[dim].values)
    return np.arange(da.sizes[dim])


def _index_list(x, name, n, what):
    """``x`` (None, an int, or a sequence of ints) as a list of indices in [0, n)."""
    if x is None:
        return list(range(n))
    items = [x] if isinstance(x, numbers.Integral) and not isinstance(x, bool) else x
    try:
        items = list(items)
    except TypeError:
        raise TypeError(f"{name} must be None, an int or a sequence of ints; got {type(x).__name__}") from None
    if not items:
        raise ValueError(f"{name} must select at least one {what}; got an empty selection")
    return [checks.integer(i, name, low=0, high=n - 1) for i in items]


def curve(ds, var, ax=None, *, dim=None, select=None, labels=None, legend=None, **line_kw):
    """Plot ``ds[var]`` against its time-like dim, one line per index of its one other dim.

    ``ds``: a Dataset (or a DataArray, then ``var`` only names it). The variable must be 1-D
    (one line) or 2-D (one line per index of the other dim, e.g. per cue or per pattern);
    select further dims first (``ds.isel(...)``). ``dim``: the x dim (default: the first of
    ``sweep``, ``step``, ``epoch``, ``time``, ``iteration``). ``select``: int or ints of the
    other dim to draw (default all). ``labels``: one legend label per drawn line. ``legend``:
    True/False, default only when 10 lines or fewer. ``line_kw`` go to ``Axes.plot``.
    Returns the Axes.
    """
    da = variable(ds, var)
    dim = time_dim(da, dim)
    others = [d for d in da.dims if d != dim]
    if len(others) > 1:
        raise ValueError(f"{var!r} has dims {da.dims}: one line per index of one dim besides {dim!r} "
                         f"only; select the others first, e.g. ds.isel({others[1]}=0)")
    ax = _new_axes(ax, (5, 3.2))
    x = _axis_values(da, dim)
    if others:
        other = others[0]
        idx = _index_list(select, "select", da.sizes[other], other)
        series = [da.isel({other: i}) for i in idx]
        coord = _axis_values(da, other)
        names = [f"{other} {coord[i]}" for i in idx]
    else:
        if select is not None:
            raise ValueError(f"select picks lines along a second dim, but {var!r} has only {dim!r}")
        series, names = [da], [str(da.name)]
    if labels is not None:
        labels = [str(s) for s in labels]
        if len(labels) != len(series):
            raise ValueError(f"labels must give one label per line ({len(series)}); got {len(labels)}")
        names = labels
    for s, name in zip(series, names):
        ax.plot(x, np.asarray(s.transpose(dim).values, dtype=np.float64), label=name, **line_kw)
    ax.set_xlabel(_label(da[dim], dim) if dim in da.coords else dim)
    ax.set_ylabel(_label(da, var))
    if legend is None:
        legend = 1 < len(series) <= 10
    if legend:
        ax.legend(fontsize="small", frameon=False)
    if np.issubdtype(np.asarray(x).dtype, np.integer):
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return ax


def energy_curve(ds, ax=None, *, var="energy", dim=None, cues=None, **line_kw):
    """Energy per sweep (or step/epoch), one line per cue (or chain, sample...).

    ``ds``: a result Dataset with ``var`` of dims (cue, sweep) or (sweep,). ``cues``: int or ints
    of the lines to draw (default all). Returns the Axes; its lines' y data are the energies.
    """
    ax = curve(ds, var, ax, dim=dim, select=cues, **line_kw)
    if not ax.get_title():
        ax.set_title("energy")
    return ax


def overlap_curve(ds, cue=0, ax=None, *, var="overlap", dim=None, labels=None, **line_kw):
    """Overlap of one cue's state with every stored pattern per sweep (one line per pattern).

    ``ds``: a result Dataset with ``var`` of dims (cue, sweep, pattern) (or without ``cue``).
    ``cue``: which cue. ``labels``: a name per pattern (e.g. the letters); by default the
    ``pattern`` coordinate. Overlaps lie in [-1, 1]. Returns the Axes.
    """
    da = variable(ds, var)
    if "cue" in da.dims:
        cue = checks.integer(cue, "cue", low=0, high=da.sizes["cue"] - 1)
        da = da.isel(cue=cue)
    dim = time_dim(da, dim)
    others = [d for d in da.dims if d != dim]
    if labels is None and len(others) == 1:
        coord = _axis_values(da, others[0])
        labels = [f"{others[0]} {c}" for c in coord]
    ax = curve(da, var, ax, dim=dim, labels=labels, **line_kw)
    if var == "overlap":
        ax.set_ylabel("overlap m")
    ax.set_ylim(-1.05, 1.05)
    ax.axhline(0.0, color="0.8", lw=0.8, zorder=0)
    if not ax.get_title():
        ax.set_title(f"cue {cue}" if "cue" in variable(ds, var).dims else "overlap")
    return ax


def _grid_shape(shape, size, name="shape"):
    try:
        h, w = shape
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a pair (height, width); got {shape!r}") from None
    h = checks.integer(h, f"{name}[0]", low=1)
    w = checks.integer(w, f"{name}[1]", low=1)
    if h * w != size:
        raise ValueError(f"{name} {(h, w)} holds {h * w} units but the state has {size}")
    return h, w


def state_range(values):
    """Colour limits for a state: (0, 1) if it has no negative values (0/1 units), else (-1, 1)."""
    lo = float(np.nanmin(values)) if np.size(values) else 0.0
    return (0.0, 1.0) if lo >= 0 else (-1.0, 1.0)


def state_grid(state, shape=None, ax=None, *, cmap="gray_r", title=None, vmin=None, vmax=None):
    """Draw a network state as an image: +1 (or 1) dark, -1 (or 0) light.

    ``state``: (H*W,) vector of +-1, 0/1 or real values (a DataArray is fine), or an (H, W)
    array. ``shape``: ``(H, W)``, needed for a vector (row-major, as :func:`neurosim.datasets.
    letters` stores them). Colour limits are (0, 1) for non-negative states and (-1, 1)
    otherwise unless ``vmin``/``vmax`` say. Returns the Axes (its image is ``ax.images[-1]``).
    """
    s = checks.array(state, "state", ndim=(1, 2), dtype=np.float64, finite=False)
    if s.ndim == 1:
        if shape is None:
            raise ValueError(f"shape (height, width) is needed to draw a 1-D state of {s.size} units")
        s = s.reshape(_grid_shape(shape, s.size))
    elif shape is not None:
        _grid_shape(shape, s.size)
        s = s.reshape(tuple(shape))
    lo, hi = state_range(s)
    ax = _new_axes(ax, (2.5, 2.5))
    ax.imshow(s, cmap=cmap, vmin=lo if vmin is None else vmin, vmax=hi if vmax is None else vmax,
              interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title is not None:
        ax.set_title(title)
    return ax


def _image_sequence(images, values, shape):
    """``images`` (frames, H*W) with ``shape``, or (frames, H, W), as (frames, H, W), and
    ``values`` (frames,) checked against them."""
    a = checks.array(images, "images", ndim=(2, 3), dtype=np.float64)
    if a.ndim == 2:
        if shape is None:
            raise ValueError(f"shape (height, width) is needed for images given as rows of {a.shape[1]} values")
        a = a.reshape(a.shape[0], *_grid_shape(shape, a.shape[1]))
    values = checks.array(values, "values", ndim=1, dtype=np.float64)
    if values.size != a.shape[0]:
        raise ValueError(f"values must hold one value per image ({a.shape[0]}); got {values.size}")
    return a, values


def image_strip(images, values, shape=None, *, shown=9, title="t={:.2f}", suptitle=None,
                vmin=None, vmax=None):
    """Figure of ``shown`` images evenly spaced through a sequence (an interpolation between
    two codes, a traversal of one code unit), each titled ``title.format(values[i])``.

    ``images``: (frames, H*W) with ``shape`` = (H, W), or (frames, H, W); ``values``: (frames,)
    the number shown with each. Returns the Figure.
    """
    a, values = _image_sequence(images, values, shape)
    n = min(checks.integer(shown, "shown", low=1), len(values))
    picked = np.linspace(0, len(values) - 1, n).round().astype(int)
    plt = _pyplot()
    fig, axes = plt.subplots(1, n, figsize=(1.0 * n, 1.6), squeeze=False)
    for ax, i in zip(axes[0], picked):
        state_grid(a[i], ax=ax, title=title.format(values[i]), vmin=vmin, vmax=vmax)
    if suptitle is not None:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def recall_grid(ds, shape, cues=None, *, patterns=None, labels=None, cmap="gray_r"):
    """Figure of recall results: one column per cue; rows: the cue (sweep 0 of ``state``, when
    recorded), the recalled ``final_state`` (titled with its best overlap and the sweeps used),
    and, when ``patterns`` (P, N) are given, the stored pattern it is closest to.

    ``ds``: a recall Dataset (``final_state`` (cue, unit); ``state``, ``overlap``, ``sweeps``
    optional). ``shape``: ``(H, W)`` of one state. ``cues``: int or ints (default all, at most
    32). ``labels``: names of the stored patterns (e.g. letters) for the titles. Returns the Figure.
    """
    if not isinstance(ds, xr.Dataset):
        raise TypeError(f"ds must be a recall Dataset (xarray.Dataset); got {type(ds).__name__}")
    final = variable(ds, "final_state")
    if final.dims != ("cue", "unit"):
        final = final.transpose("cue", "unit")
    n_cues, n_units = final.shape
    _grid_shape(shape, n_units)
    idx = _index_list(cues, "cues", n_cues, "cue")
    if len(idx) > 32:
        raise ValueError(f"cues must select at most 32 cues to draw; got {len(idx)} (pass cues=[...])")
    rows = []
    if "state" in ds.data_vars:
        st = ds["state"]
        rows.append(("cue", st.isel({time_dim(st): 0}).transpose("cue", "unit").values))
    rows.append(("recalled", final.values))
    best = None
    if "overlap" in ds.data_vars:
        ov = ds["overlap"]
        last = ov.isel({time_dim(ov): -1}).transpose("cue", "pattern").values
        best = np.argmax(last, axis=1), last[np.arange(n_cues), np.argmax(last, axis=1)]
    if patterns is not None:
        pats = checks.array(patterns, "patterns", ndim=2, shape=(None, n_units), dtype=np.float64)
        if best is None:
            f = final.values.astype(np.float64)
            m = f @ pats.T / n_units
            best = np.argmax(m, axis=1), m[np.arange(n_cues), np.argmax(m, axis=1)]
        rows.append(("stored", pats[best[0]]))
    if labels is not None:
        labels = [str(s) for s in labels]
    plt = _pyplot()
    fig, axes = plt.subplots(len(rows), len(idx), figsize=(1.3 * len(idx) + 0.6, 1.45 * len(rows)),
                             squeeze=False, layout="constrained")
    for r, (name, values) in enumerate(rows):
        for c, i in enumerate(idx):
            ax = axes[r, c]
            state_grid(values[i], shape, ax, cmap=cmap)
            if c == 0:
                ax.set_ylabel(name)
            if name == "cue":
                ax.set_title(f"cue {i}", fontsize="small")
            elif name == "recalled" and best is not None:
                k = int(best[0][i])
                who = labels[k] if labels is not None and k < len(labels) else str(k)
                extra = f", {int(ds['sweeps'].values[i])} sw" if "sweeps" in ds.data_vars else ""
                ax.set_title(f"{who}: m={best[1][i]:.2f}{extra}", fontsize="small")
    return fig


def confusion_matrix(labels, predicted, ax=None, *, classes=None, cmap="Blues"):
    """Draw the confusion matrix of integer ``labels`` (n,) against ``predicted`` (n,): rows the
    true class, columns the predicted one, each non-zero cell with its count; the title gives
    the accuracy. ``classes`` defaults to ``max + 1`` of both. Returns the Axes."""
    labels = checks.array(labels, "labels", ndim=1, dtype=np.int64)
    predicted = checks.array(predicted, "predicted", shape=labels.shape, dtype=np.int64)
    if labels.min() < 0 or predicted.min() < 0:
        raise ValueError("labels and predicted must be non-negative class indices")
    k = int(max(labels.max(), predicted.max())) + 1 if classes is None else \
        checks.integer(classes, "classes", low=int(max(labels.max(), predicted.max())) + 1)
    conf = np.zeros((k, k), dtype=np.int64)
    np.add.at(conf, (labels, predicted), 1)
    ax = _new_axes(ax, (4.5, 4))
    ax.imshow(conf, cmap=cmap)
    for i, j in zip(*np.nonzero(conf)):
        ax.text(j, i, conf[i, j], ha="center", va="center", fontsize=7,
                color="white" if conf[i, j] > conf.max() / 2 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_xticks(range(k))
    ax.set_yticks(range(k))
    ax.set_title(f"accuracy {np.mean(labels == predicted):.3f}")
    return ax
