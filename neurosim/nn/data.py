"""Mini-batches for training loops: over arrays in memory, and over netCDF or Zarr data larger
than memory (read one batch at a time).

Both iterables give, per batch, a tuple with one array per input (arrays) or variable
(datasets), the samples along the first axis. Each pass (each ``for``) is an epoch: with
``shuffle`` it draws a new order from the iterable's own generator, so a seeded run repeats
its epochs exactly and two passes differ. :func:`neurosim.nn.train.fit` takes either as ``X``
(batches ``(x, y)`` or ``(x, y, lengths)``) and saves the generator's state in its
checkpoints.

    for X, y in ArrayBatches(X, y, batch_size=64, shuffle=True, seed=0):
        ...
    for X, y in DatasetBatches("big.nc", ["x", "label"], dim="sample", batch_size=64):
        ...
"""
import os

import numpy as np

from .. import checks, rng


def _order(count, batch_size, shuffle, generator, drop_last):
    """Each batch's sample indices: a permutation (``shuffle``) or ``0..count-1`` in slices of
    ``batch_size``, the short last one dropped if asked."""
    index = generator.permutation(count) if shuffle else np.arange(count)
    stop = count - count % batch_size if drop_last else count
    return [index[k:k + batch_size] for k in range(0, stop, batch_size)]


class _Batches:
    """Shared settings and the epoch's order (see the module)."""

    def __init__(self, count, batch_size, shuffle, seed, drop_last):
        self.count = count
        self.batch_size = checks.integer(batch_size, "batch_size", low=1)
        self.shuffle, self.drop_last = bool(shuffle), bool(drop_last)
        self.generator = rng.generator(seed)

    def __len__(self):
        """Batches per epoch."""
        full, rest = divmod(self.count, self.batch_size)
        return full + (1 if rest and not self.drop_last else 0)

    def sample_shapes(self):
        """The per-sample shape of each array a batch holds, without drawing a batch."""
        raise NotImplementedError

    def _batches(self):
        return _order(self.count, self.batch_size, self.shuffle, self.generator, self.drop_last)


class ArrayBatches(_Batches):
    """Mini-batches of arrays that share their first axis (the samples).

    Parameters
    ----------
    *arrays : array_like
        Inputs, targets, ... (n, ...) each.
    batch_size : int
    shuffle : bool
        A new random order every epoch (from ``seed``).
    seed : int or numpy Generator, optional
    drop_last : bool
        Leave out the last batch when it is short.

    Iterating gives a tuple of arrays per batch (views when not shuffled).
    """

    def __init__(self, *arrays, batch_size=32, shuffle=False, seed=None, drop_last=False):
        if not arrays:
            raise ValueError("ArrayBatches needs at least one array")
        self.arrays = [np.asarray(a) for a in arrays]
        counts = {len(a) if a.ndim else -1 for a in self.arrays}
        if len(counts) != 1 or -1 in counts:
            raise ValueError("arrays must share their first axis (the samples); got shapes "
                             f"{[a.shape for a in self.arrays]}")
        super().__init__(counts.pop(), batch_size, shuffle, seed, drop_last)

    def sample_shapes(self):
        """The per-sample shape of each array, ``[a.shape[1:], ...]``."""
        return [a.shape[1:] for a in self.arrays]

    def __iter__(self):
        for index in self._batches():
            if self.shuffle:
                yield tuple(a[index] for a in self.arrays)
            else:
                yield tuple(a[index[0]:index[-1] + 1] for a in self.arrays)


def _open(source, chunks):
    """An xarray Dataset (lazy, dask-backed) from a path to netCDF or Zarr, or ``source``
    itself if it is a Dataset."""
    import xarray as xr
    if isinstance(source, xr.Dataset):
        return source
    path = os.fspath(source)
    if not os.path.exists(path):
        raise ValueError(f"source: no file or directory {path!r}")
    if os.path.isdir(path) or path.rstrip("/").endswith(".zarr"):
        return xr.open_zarr(path, chunks=chunks)
    return xr.open_dataset(path, chunks=chunks)


class DatasetBatches(_Batches):
    """Mini-batches of variables of a netCDF file, Zarr store or xarray Dataset, read one batch
    at a time (the file is opened lazily with dask chunks along ``dim``; only a batch's samples
    are read, so the data may be larger than memory).

    Parameters
    ----------
    source : str, path or xarray.Dataset
        A netCDF file, a Zarr store (a directory or ``*.zarr``) or an open Dataset.
    variables : str or list of str
        Variables to yield, in order; each must have the dimension ``dim``.
    dim : str
        The samples' dimension; it comes first in each yielded array (the others keep the
        variable's order).
    batch_size, shuffle, seed, drop_last
        As for :class:`ArrayBatches`. A shuffled batch reads its samples in file order and
        puts them back in the drawn order.
    dtype : dtype, optional
        Cast each batch (e.g. float32).
    """

    def __init__(self, source, variables, *, dim="sample", batch_size=32, shuffle=False,
                 seed=None, drop_last=False, dtype=None):
        self.source = source
        self.variables = [variables] if isinstance(variables, str) else list(variables)
        if not self.variables:
            raise ValueError("variables must name at least one variable")
        self.dim, self.dtype = dim, None if dtype is None else np.dtype(dtype)
        batch_size = checks.integer(batch_size, "batch_size", low=1)
        ds = _open(source, {})
        try:
            missing = [v for v in self.variables if v not in ds.variables]
            if missing:
                raise ValueError(f"variables {missing} are not in the dataset (it has "
                                 f"{sorted(map(str, ds.data_vars))})")
            lacking = [v for v in self.variables if dim not in ds[v].dims]
            if lacking:
                raise ValueError(f"dim {dim!r} is not a dimension of {lacking}")
            count = ds.sizes[dim]
            self.shapes = [tuple(n for d, n in ds[v].sizes.items() if d != dim)
                           for v in self.variables]
        finally:
            if ds is not source:
                ds.close()
        super().__init__(count, batch_size, shuffle, seed, drop_last)

    def sample_shapes(self):
        """The per-sample shape of each variable (its dimensions but ``dim``, in order)."""
        return list(self.shapes)

    def __iter__(self):
        ds = _open(self.source, {self.dim: self.batch_size})
        try:
            arrays = [ds[v].transpose(self.dim, ...) for v in self.variables]
            for index in self._batches():
                if self.shuffle:
                    read = np.sort(index)
                    back = np.searchsorted(read, index)
                    batch = tuple(a.isel({self.dim: read}).values[back] for a in arrays)
                else:
                    part = slice(int(index[0]), int(index[-1]) + 1)
                    batch = tuple(a.isel({self.dim: part}).values for a in arrays)
                yield batch if self.dtype is None else tuple(b.astype(self.dtype) for b in batch)
        finally:
            if ds is not self.source:
                ds.close()


__all__ = ["ArrayBatches", "DatasetBatches"]
