"""Node maps in the notation of the Neural Network Zoo poster, drawn from built models.

``node_map(model)`` draws the groups of cells and the links that :func:`neurosim.zoo.wiring`
reads from the model (an RBM's visible and hidden layers, a Hopfield net's all-to-all
couplings, an ESN's input, reservoir and readout with the reservoir's own sparse pattern, an
mlp's Dense layers, an LSM's groups and synapses): columns from left to right, one colour per
cell kind of the poster's "cells and layers" catalogue (:data:`CELL_COLOURS`, with the
poster's inner marks as a second cue). A group larger than ``max_cells`` is drawn as a few
representative cells (the first ones and the last, with an ellipsis) and its true size beside
it; the links drawn between representative cells are the model's own (a pair is joined only
where the model connects those two cells). Links within a group (recurrence) and links that
skip columns or run backwards are drawn as arcs. ``zoo_poster()`` draws a small working model
of every implemented family as a grid of maps.
"""
import textwrap

import numpy as np

from .. import checks, zoo

CELL_COLOURS = {
    "input": "#f5d33d", "backfed input": "#d99a1e", "noisy input": "#fff3a3",
    "hidden": "#6cc26b", "probabilistic hidden": "#2b8a57", "spiking hidden": "#b7e08a",
    "recurrent": "#4a90d9", "memory": "#1f4e9c", "different memory": "#9fd3f0",
    "kernel": "#ef9ccf", "convolution or pool": "#b5589b", "output": "#f28e2b",
    "match input output": "#d2452f", "capsule": "#8e6cc4",
}
"""One colour per cell kind of the catalogue (:data:`neurosim.zoo.CELLS`)."""

_RING = {"backfed input", "memory", "match input output", "convolution or pool"}
_TRIANGLE = {"noisy input", "spiking hidden", "different memory"}
_DOT = {"probabilistic hidden"}
_SQUARE = {"capsule"}
_R = 0.28       # cell radius
_DX = 2.2       # column spacing
_GAP = 0.9      # between the groups of one column


def shown_cells(size, max_cells):
    """The representative cells of a group of ``size``: all of them when ``size <= max_cells``,
    else the first ``max_cells - 1`` and the last. Returns ``(indices, elided)``."""
    if size <= max_cells:
        return list(range(size)), False
    return list(range(max_cells - 1)) + [size - 1], True


def _layout(w, max_cells):
    """Cell centres ``{(group, cell): (x, y)}``, each group's (x, top, bottom, elided) and the
    ellipsis positions."""
    centres, boxes, dots = {}, {}, []
    columns = sorted({g.column for g in w.groups})
    for col in columns:
        members = [k for k, g in enumerate(w.groups) if g.column == col]
        slots = {k: len(shown_cells(w.groups[k].size, max_cells)[0]) +
                 shown_cells(w.groups[k].size, max_cells)[1] for k in members}
        height = sum(slots.values()) - len(members) + _GAP * (len(members) - 1)
        y = height / 2.0
        x = _DX * columns.index(col)
        for k in members:
            cells, elided = shown_cells(w.groups[k].size, max_cells)
            top = y
            for n, i in enumerate(cells):
                if elided and n == len(cells) - 1:
                    dots.append((x, y))
                    y -= 1.0
                centres[(k, i)] = (x, y)
                y -= 1.0
            boxes[k] = (x, top, y + 1.0, elided)
            y -= _GAP
    return centres, boxes, dots


def _cell(ax, xy, kind, gid):
    from matplotlib.patches import Circle, RegularPolygon

    body = Circle(xy, _R, facecolor=CELL_COLOURS[kind], edgecolor="0.15", linewidth=0.8, zorder=3)
    body.set_gid(gid)
    ax.add_patch(body)
    mark = dict(edgecolor="0.15", linewidth=0.7, zorder=4)
    if kind in _RING:
        ax.add_patch(Circle(xy, 0.6 * _R, facecolor="none", **mark))
    elif kind in _TRIANGLE:
        ax.add_patch(RegularPolygon(xy, 3, radius=0.5 * _R, facecolor="none", **mark))
    elif kind in _DOT:
        ax.add_patch(Circle(xy, 0.22 * _R, facecolor="0.15", zorder=4))
    elif kind in _SQUARE:
        ax.add_patch(RegularPolygon(xy, 4, radius=0.5 * _R, orientation=np.pi / 4, facecolor="none", **mark))


def _edge(ax, a, b, gid, rad=0.0, **style):
    from matplotlib.patches import FancyArrowPatch

    ax.add_patch(FancyArrowPatch(a, b, arrowstyle="-", connectionstyle=f"arc3,rad={rad}",
                                 shrinkA=0, shrinkB=0, zorder=1, gid=gid, **style))


def _loop(ax, xy, gid, **style):
    from matplotlib.patches import Arc

    ax.add_patch(Arc((xy[0] + 1.3 * _R, xy[1]), 1.3 * _R, 1.3 * _R, theta1=-140, theta2=140,
                     zorder=1, gid=gid, **style))


def _links(ax, w, centres, max_cells):
    style = dict(color="0.45", linewidth=0.5, alpha=0.55)
    for link in w.links:
        src, dst = w.groups[link.source], w.groups[link.target]
        rows, _ = shown_cells(src.size, max_cells)
        cols, _ = shown_cells(dst.size, max_cells)
        adjacent = dst.column == src.column + 1 and not link.skip
        for i in rows:
            for j in cols:
                if not link.connected(i, j):
                    continue
                a, b = centres[(link.source, i)], centres[(link.target, j)]
                gid = f"link:{link.source}:{link.target}:{i}:{j}"
                if link.source == link.target and i == j:
                    _loop(ax, a, gid, **style)
                elif link.source == link.target:
                    _edge(ax, a, b, gid, rad=0.6 if i < j else -0.6, **style)
                else:
                    _edge(ax, a, b, gid, rad=0.0 if adjacent else 0.3, **style)


def node_map(model, ax=None, *, max_cells=6, labels=True, legend=True, title=None):
    """Draw ``model`` (a built model of any family, or a :class:`neurosim.zoomaps.Wiring`) as a
    node map; returns the Axes.

    Parameters
    ----------
    max_cells : int >= 2
        Most cells drawn per group; a larger group shows the first ``max_cells - 1`` cells,
        an ellipsis and the last, with its true size written beside it.
    labels : bool
        Name each group (above it) and give every group's size.
    legend : bool
        A legend of the cell kinds drawn.
    title : str, optional
        Default: the family and the class (e.g. "ESN ESN").

    Each cell patch carries the gid ``"cell:<kind>:<group>:<index>"`` and each link drawn
    ``"link:<source group>:<target group>:<cell>:<cell>"`` (so tests and scripts can find what
    was drawn).
    """
    from .plots import _new_axes
    from .. import zoomaps

    max_cells = checks.integer(max_cells, "max_cells", low=2)
    w = model if isinstance(model, zoomaps.Wiring) else zoo.wiring(model)
    ax = _new_axes(ax, (1.6 + 1.7 * len({g.column for g in w.groups}), 4.2))
    centres, boxes, dots = _layout(w, max_cells)
    _links(ax, w, centres, max_cells)
    for (k, i), xy in centres.items():
        _cell(ax, xy, w.groups[k].cell, f"cell:{w.groups[k].cell}:{k}:{i}")
    for x, y in dots:
        ax.text(x, y, "\u22ee", ha="center", va="center", fontsize=11, zorder=3)
    for k, (x, top, bottom, elided) in boxes.items():
        g = w.groups[k]
        if labels:
            ax.text(x, top + 0.62, g.name, ha="center", va="bottom", fontsize=6.5, color="0.25")
        if elided or labels:
            ax.text(x, bottom - 0.55, f"{g.size:,}", ha="center", va="top",
                    fontsize=7 if elided else 6, color="0.1" if elided else "0.45")
    xs = [xy[0] for xy in centres.values()]
    ys = [xy[1] for xy in centres.values()]
    (x0, x1), (y0, y1) = _span(min(xs) - 1.0, max(xs) + 1.0, 7.0), \
        _span(min(ys) - 1.3, max(ys) + (1.3 if labels else 0.6), 6.0)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    ax.set_axis_off()
    ax.set_title(textwrap.fill(w.name if title is None else title, 34), fontsize=9)
    if legend:
        _legend(ax, w.kinds(), ncol=1, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return ax


def _span(lo, hi, least):
    """``(lo, hi)`` widened about its centre to at least ``least`` (small maps keep the scale
    of the others instead of filling their axes)."""
    grow = max(0.0, least - (hi - lo)) / 2.0
    return lo - grow, hi + grow


def _legend(ax, kinds, **options):
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], linestyle="", marker="o", markersize=8, markerfacecolor=CELL_COLOURS[k],
                      markeredgecolor="0.15", label=k) for k in kinds]
    return ax.legend(handles=handles, frameon=False, fontsize=7, **options)


def zoo_poster(families=None, *, ncols=6, max_cells=4):
    """The Zoo poster from working models: a small model of each family
    (:func:`neurosim.zoo.tiny_model`) drawn by :func:`node_map`, one map per family in poster
    order, and the catalogue's legend; returns the Figure.

    ``families``: abbreviations to draw (default: every implemented family).
    """
    import matplotlib.pyplot as plt

    ncols = checks.integer(ncols, "ncols", low=1)
    chosen = [f for f in zoo.families() if f.implementation is not None] if families is None else \
        [zoo.get(a) for a in families]
    if not chosen:
        raise ValueError("families must name at least one family")
    nrows = -(-len(chosen) // ncols)
    fig, axes = plt.subplots(nrows + 1, ncols, figsize=(2.3 * ncols, 2.5 * nrows + 0.9),
                             gridspec_kw={"height_ratios": [1] * nrows + [0.32]}, layout="constrained")
    axes = np.atleast_2d(axes)
    for ax in axes.ravel():
        ax.set_axis_off()
    for ax, family in zip(axes[:nrows].ravel(), chosen):
        node_map(zoo.tiny_model(family.abbrev), ax, max_cells=max_cells, labels=False, legend=False,
                 title=f"{family.abbrev}: {family.name}")
        ax.title.set_fontsize(7.5)
    key = fig.add_subplot(axes[-1, 0].get_gridspec()[-1, :])
    key.set_axis_off()
    _legend(key, zoo.CELLS, ncol=7, loc="center")
    fig.suptitle("The Neural Network Zoo, drawn from neurosim's working models", fontsize=11)
    return fig


__all__ = ["node_map", "zoo_poster", "shown_cells", "CELL_COLOURS"]
