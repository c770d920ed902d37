"""The reservoir matrix in the kernels' layouts (see :mod:`neurosim.kernels.reservoir`): sliced
ELLPACK (SELL-8-sigma) or dense, in float64 or float32, and the rule that picks one. A choice of
speed only: both give the same states up to rounding. The switch points are tunables in
:mod:`neurosim.config` (``ESN_DENSE_*``), read at call time.
"""
import numpy as np
import scipy.sparse as sp

from .. import config
from ..kernels import reservoir as _k

LAYOUTS = ("auto", "sparse", "dense")
DTYPES = ("float64", "float32")


def precision(dtype):
    """The precision name ("float64" or "float32") of ``dtype`` (a name or NumPy dtype)."""
    try:
        name = np.dtype(dtype).name
    except (TypeError, ValueError):
        name = None
    if name not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES} (or the NumPy dtypes); got {dtype!r}")
    return name


def _csr(W):
    W = sp.csr_array(W, copy=True)
    W.sort_indices()
    return W


def sell_layout(W, bounds, dtype="float64"):
    """The kernels' SELL-8-sigma form of the square sparse matrix ``W`` with layers cut at
    ``bounds`` (see :mod:`neurosim.kernels.reservoir`): the tuple (sptr, slen, rows, scount,
    lslice, idx, data, dense) with ``dense`` empty and ``data`` of ``dtype`` (float64 or
    float32). Each layer's rows are sorted by length, longest first, before they are cut into
    slices of 8, so little padding is needed. Column indices are uint16 where the matrix is
    small enough (less data to stream)."""
    dtype = np.dtype(precision(dtype))
    W = _csr(W)
    lengths = np.diff(W.indptr)
    lanes = _k.LANES
    rows, scount, slen, lslice = [], [], [], [0]
    for r0, r1 in zip(bounds[:-1], bounds[1:]):
        order = r0 + np.argsort(-lengths[r0:r1], kind="stable")
        n_slices = -(-(r1 - r0) // lanes)
        padded = np.full(n_slices * lanes, r0, dtype=np.int64)
        padded[:order.size] = order
        rows.append(padded)
        counts = np.full(n_slices, lanes, dtype=np.int64)
        if n_slices:
            counts[-1] = (r1 - r0) - lanes * (n_slices - 1)
        scount.append(counts)
        slen.append(lengths[padded[::lanes]] if n_slices else np.zeros(0, np.int64))  # longest row first
        lslice.append(lslice[-1] + n_slices)
    rows = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    scount = np.concatenate(scount).astype(np.int64)
    slen = np.concatenate(slen).astype(np.uint64)
    sptr = np.zeros(scount.size + 1, dtype=np.uint64)
    sptr[1:] = np.cumsum(lanes * slen)
    idx_type = np.uint16 if W.shape[1] <= np.iinfo(np.uint16).max + 1 else np.uint32
    idx = np.zeros(int(sptr[-1]), dtype=idx_type)
    data = np.zeros(int(sptr[-1]), dtype=dtype)
    _k.sell_pack(W.indptr.astype(np.int64), W.indices.astype(np.int64), W.data.astype(np.float64), rows, scount,
                 sptr.astype(np.int64), idx, data)
    return sptr, slen, rows, scount, np.asarray(lslice, dtype=np.int64), idx, data, np.zeros((0, 0), dtype)


def dense_layout(W, bounds, dtype="float64"):
    """The kernels' dense form of ``W`` in ``dtype`` (same tuple as :func:`sell_layout`, SELL
    parts empty)."""
    dtype = np.dtype(precision(dtype))
    W = sp.csr_array(W)
    return (np.zeros(1, np.uint64), np.zeros(0, np.uint64), np.zeros(0, np.int64), np.zeros(0, np.int64),
            np.zeros(len(bounds), np.int64), np.zeros(0, np.uint16), np.zeros(0, dtype),
            np.ascontiguousarray(W.toarray(), dtype=dtype))


def dense_is_faster(n, density, dtype="float64"):
    """The "auto" rule (switch points from :mod:`neurosim.config`, measured there): dense when
    ``n <= ESN_DENSE_MAX_UNITS``, or when the density is at least ``ESN_DENSE_MIN_DENSITY``
    and ``n <= ESN_DENSE_MAX_UNITS_DENSE``, or (float32 only) when the density is at least
    ``ESN_DENSE32_MIN_DENSITY`` and ``n <= ESN_DENSE32_MAX_UNITS`` or at least
    ``ESN_DENSE_MIN_DENSITY`` and ``n <= ESN_DENSE32_MAX_UNITS_DENSE``."""
    dense = n <= config.ESN_DENSE_MAX_UNITS or (density >= config.ESN_DENSE_MIN_DENSITY
                                                and n <= config.ESN_DENSE_MAX_UNITS_DENSE)
    if precision(dtype) == "float32":
        dense = (dense or (density >= config.ESN_DENSE32_MIN_DENSITY and n <= config.ESN_DENSE32_MAX_UNITS)
                 or (density >= config.ESN_DENSE_MIN_DENSITY and n <= config.ESN_DENSE32_MAX_UNITS_DENSE))
    return dense


def reservoir_layout(W, bounds, layout="auto", dtype="float64"):
    """The kernels' form of ``W`` with weights in ``dtype``: "sparse" (:func:`sell_layout`),
    "dense" (:func:`dense_layout`) or "auto" (:func:`dense_is_faster`). Both layouts give the
    same states up to rounding."""
    dtype = precision(dtype)
    if layout == "auto":
        n = W.shape[0]
        layout = "dense" if dense_is_faster(n, W.nnz / max(n * W.shape[1], 1), dtype) else "sparse"
    return dense_layout(W, bounds, dtype) if layout == "dense" else sell_layout(W, bounds, dtype)


def stack_layouts(layouts):
    """One layout for R reservoirs of the same size and layers, from their own layouts (all
    sparse or all dense, of one dtype): ``(mats, soff)`` for the kernels ``run_many`` and
    ``run_readout_many`` of :mod:`neurosim.kernels.reservoir`, whose ``member(mats, soff, r)``
    gives back reservoir r's layout as views.

    Sparse: the SELL arrays concatenated, reservoir r's slices at ``soff[r]:soff[r+1]``, its
    ``sptr`` entries shifted to index the concatenated ``idx``/``data`` (a reservoir's last
    entry is the next one's first), ``lslice`` (R, layers + 1) and ``dense`` (R, 0, 0). Dense:
    ``dense`` (R, n, n), the SELL parts empty and ``soff`` zero."""
    layouts = list(layouts)
    if not layouts:
        raise ValueError("stack_layouts needs at least one layout")
    dense = [m[7] for m in layouts]
    if len({d.shape for d in dense}) != 1 or len({m[6].dtype for m in layouts}) != 1:
        raise ValueError("stack_layouts: the reservoirs must share one size, one layout and one dtype")
    n_slices = np.array([m[3].size for m in layouts], np.int64)
    soff = np.zeros(len(layouts) + 1, np.int64)
    soff[1:] = np.cumsum(n_slices)
    shift = np.cumsum([0] + [int(m[0][-1]) for m in layouts[:-1]]).astype(np.uint64)
    sptr = np.concatenate([m[0][:-1] + s for m, s in zip(layouts, shift)]
                          + [np.array([shift[-1] + layouts[-1][0][-1]], np.uint64)]).astype(np.uint64)
    idx_type = np.result_type(*[m[5].dtype for m in layouts])
    return ((sptr, np.concatenate([m[1] for m in layouts]).astype(np.uint64),
             np.concatenate([m[2] for m in layouts]).astype(np.int64),
             np.concatenate([m[3] for m in layouts]).astype(np.int64),
             np.ascontiguousarray(np.stack([m[4] for m in layouts]), dtype=np.int64),
             np.concatenate([m[5] for m in layouts]).astype(idx_type),
             np.concatenate([m[6] for m in layouts]),
             np.ascontiguousarray(np.stack(dense))), soff)
