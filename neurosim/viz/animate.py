"""Animations of network dynamics, built from a result Dataset alone, and saving them as GIF."""
import math
from pathlib import Path

import numpy as np

from .. import checks
from .plots import (UNIT_DIMS, _grid_shape, _index_list, _label, _image_sequence, _pyplot, state_grid,
                    state_range, time_dim)


def _state_dims(da):
    """(item dim or None, time dim, unit dim) of a recorded state variable."""
    t = time_dim(da)
    units = [d for d in UNIT_DIMS if d in da.dims and d != t]
    if not units:
        raise ValueError(f"{da.name!r} has no unit dim (one of {UNIT_DIMS}); its dims are {da.dims}")
    u = units[0]
    rest = [d for d in da.dims if d not in (t, u)]
    if len(rest) > 1:
        raise ValueError(f"{da.name!r} has dims {da.dims}: at most one dim besides {t!r} and {u!r} "
                         f"(e.g. cue); select the others first")
    return (rest[0] if rest else None), t, u


def animate_recall(ds, shape, cues=None, interval=400, *, var="state", energy="energy",
                   overlap="overlap", labels=None, ncols=None, cmap="gray_r", fig=None):
    """Animation of recall: the cues' states as images, one frame per sweep, above their energy
    traces growing sweep by sweep. Built from the Dataset alone.

    ``ds``: a recall Dataset recorded with ``record="sweeps"``: ``var`` of dims (cue, sweep,
    unit) (or (sweep, unit)); ``energy`` (cue, sweep) and ``overlap`` (cue, sweep, pattern)
    are drawn when present (pass None to leave them out). Any time-like dim (sweep, step,
    epoch) works in place of sweep. ``shape``: ``(H, W)`` of one state. ``cues``: int or ints
    (default all, at most 64). ``interval``: ms between frames. ``labels``: names of the stored
    patterns (e.g. the letters) for the titles, which show each cue's best overlap. ``fig``: a Figure to draw in
    (default a new one outside pyplot, so notebooks do not show a stray still image).
    Returns a ``matplotlib.animation.FuncAnimation`` with one frame per recorded sweep; save it
    with :func:`save_animation` or show it with ``anim.to_jshtml()``.
    """
    from matplotlib.animation import FuncAnimation
    from matplotlib.figure import Figure

    if not hasattr(ds, "data_vars"):
        raise TypeError(f"ds must be an xarray Dataset; got {type(ds).__name__}")
    if var not in ds.data_vars:
        hint = " (recall with record='sweeps' to keep the state of every sweep)" if var == "state" else ""
        raise ValueError(f"ds has no variable {var!r}{hint}; it has {sorted(ds.data_vars)}")
    da = ds[var]
    item, t, u = _state_dims(da)
    states = da.transpose(*([item] if item else []), t, u).values
    if item is None:
        states = states[None]
    n_items, n_frames, n_units = states.shape
    h, w = _grid_shape(shape, n_units)
    idx = _index_list(cues, "cues", n_items, item or "state")
    if len(idx) > 64:
        raise ValueError(f"cues must select at most 64 cues to animate; got {len(idx)} (pass cues=[...])")
    interval = checks.scalar(interval, "interval", low=0, low_open=True)
    lo, hi = state_range(states[idx])

    def along(name):
        if name is None or name not in ds.data_vars:
            return None
        a = ds[name]
        if t not in a.dims:
            raise ValueError(f"{name!r} must have the dim {t!r} of {var!r}; its dims are {a.dims}")
        if item is not None and item not in a.dims:
            return None
        order = ([item] if item else []) + [t] + [d for d in a.dims if d not in (item, t)]
        v = np.asarray(a.transpose(*order).values, dtype=np.float64)
        v = v if item else v[None]
        if v.shape[1] != n_frames:
            raise ValueError(f"{name!r} has {v.shape[1]} {t}s but {var!r} has {n_frames}")
        return v[idx]

    e = along(energy)
    m = along(overlap)
    if m is not None and m.ndim != 3:
        m = None
    if labels is not None:
        labels = [str(a) for a in labels]
        if m is not None and len(labels) != m.shape[2]:
            raise ValueError(f"labels must name every stored pattern ({m.shape[2]}); got {len(labels)}")

    n = len(idx)
    ncols = min(n, 8) if ncols is None else checks.integer(ncols, "ncols", low=1)
    nrows = math.ceil(n / ncols)
    cell = 1.5
    if fig is None:
        fig = Figure(figsize=(max(cell * ncols, 4.0), cell * nrows + (2.2 if e is not None else 0.4)),
                     layout="constrained")
    else:
        from matplotlib.figure import FigureBase

        if not isinstance(fig, FigureBase):
            raise TypeError(f"fig must be a matplotlib Figure or None; got {type(fig).__name__}")
        fig.clear()
    if e is not None:
        gs = fig.add_gridspec(nrows + 1, ncols, height_ratios=[1.0] * nrows + [1.2 * max(1, nrows) ** 0.5])
    else:
        gs = fig.add_gridspec(nrows, ncols)
    images, titles = [], []
    for k, i in enumerate(idx):
        ax = fig.add_subplot(gs[k // ncols, k % ncols])
        images.append(ax.imshow(states[i, 0].reshape(h, w), cmap=cmap, vmin=lo, vmax=hi,
                                interpolation="nearest"))
        ax.set_xticks([])
        ax.set_yticks([])
        titles.append(ax.set_title(f"{item or 'state'} {i}", fontsize="small"))
    x = np.asarray(da[t].values) if t in da.coords else np.arange(n_frames)
    lines = []
    if e is not None:
        ax_e = fig.add_subplot(gs[nrows, :])
        for k, i in enumerate(idx):
            (line,) = ax_e.plot(x[:1], e[k, :1], marker="o", ms=3, lw=1.2,
                                label=f"{item} {i}" if item else None)
            lines.append(line)
        finite = e[np.isfinite(e)]
        if finite.size:
            pad = 0.05 * max(finite.max() - finite.min(), 1e-12)
            ax_e.set_ylim(finite.min() - pad, finite.max() + pad)
        ax_e.set_xlim(x[0] - 0.25, x[-1] + 0.25 if n_frames > 1 else x[0] + 1)
        ax_e.set_xlabel(t)
        if np.issubdtype(x.dtype, np.integer):
            from matplotlib.ticker import MaxNLocator

            ax_e.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax_e.set_ylabel(_label(ds[energy], energy))
        if 1 < n <= 8:
            ax_e.legend(fontsize="x-small", frameon=False, ncols=min(n, 4))
    header = fig.suptitle(f"{t} {x[0]}")

    def update(frame):
        for k, i in enumerate(idx):
            images[k].set_data(states[i, frame].reshape(h, w))
            if m is not None:
                best = int(np.argmax(m[k, frame]))
                who = f" {labels[best]}" if labels is not None else ""
                titles[k].set_text(f"{item or 'state'} {i}:{who} m={m[k, frame, best]:.2f}")
        for k, line in enumerate(lines):
            line.set_data(x[: frame + 1], e[k, : frame + 1])
        header.set_text(f"{t} {x[frame]}")
        return images + lines + titles + [header]

    anim = FuncAnimation(fig, update, frames=range(n_frames), interval=interval, blit=False,
                         repeat=True)
    return anim


def animate_images(images, values, shape=None, *, title="{:.2f}", bounce=False, interval=80,
                   vmin=None, vmax=None):
    """Animation of a sequence of images (samples per epoch, a path through a code space), one
    frame per image titled ``title.format(values[i])``, run forward and then back when
    ``bounce``.

    ``images``: (frames, H*W) with ``shape`` = (H, W), or (frames, H, W); ``values``: (frames,)
    the number shown with each (an epoch, a path parameter); ``interval`` in ms. Returns the
    ``FuncAnimation`` (save it with :func:`save_animation`, then ``plt.close("all")``).
    """
    from matplotlib.animation import FuncAnimation

    a, values = _image_sequence(images, values, shape)
    h, w = a.shape[1:]
    fig, ax = _pyplot().subplots(figsize=(2.6 * max(1.0, w / h), 2.8))
    state_grid(a[0], ax=ax, vmin=vmin, vmax=vmax)
    frames = np.arange(len(values))
    if bounce:
        frames = np.concatenate([frames, frames[::-1]])

    def draw(i):
        ax.images[-1].set_data(a[i])
        ax.set_title(title.format(values[i]))
        return ax.images

    return FuncAnimation(fig, draw, frames=frames, interval=interval)


def save_animation(anim, path, fps=2.0, dpi=100):
    """Write ``anim`` (a matplotlib Animation) to ``path`` as an animated GIF with Pillow.

    ``path``: a file name ending in ``.gif`` (parent folders are made). ``fps``: frames per
    second (> 0). ``dpi``: resolution. Returns the path as a ``pathlib.Path``.
    """
    from matplotlib.animation import Animation, PillowWriter

    if not isinstance(anim, Animation):
        raise TypeError(f"anim must be a matplotlib Animation; got {type(anim).__name__}")
    try:
        path = Path(path)
    except TypeError:
        raise TypeError(f"path must be a file path ending in .gif; got {type(path).__name__}") from None
    if path.suffix.lower() != ".gif":
        raise ValueError(f"path must end in .gif (saved with Pillow); got {str(path)!r}")
    fps = checks.scalar(fps, "fps", low=0, low_open=True)
    dpi = checks.scalar(dpi, "dpi", low=0, low_open=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    anim.save(path, writer=PillowWriter(fps=fps), dpi=dpi)
    return path
