"""How :func:`neurosim.record.dataset` builds a result Dataset: directly from its parts when
they are plain, skipping the merge and alignment of ``xarray.Dataset`` (which cannot find
anything to align there), with the variables, the sizes and the dimension coordinates' indexes
made here. The same Dataset as xarray's constructor, variable and dimension order included
(``tests/test_record.py`` and ``tests/test_record_fast.py`` compare them); ``_construct_direct``
and the variables' slots are xarray's internals, checked once at import (another layout falls
back to xarray's constructors) and by those tests.
"""
import functools

import numpy as np
import pandas as pd
import xarray as xr


def assemble(data_vars, coords):
    """``xarray.Dataset(data_vars, coords=coords)``, built directly when every input is plain.

    Plain: data variables given as ``(dims, values[, attrs])`` tuples, none named after its
    own dimension nor after a coordinate, and coordinates given as arrays, lists or such
    tuples. Then the variables, the dimension coordinates' indexes (a ``pandas.RangeIndex``
    for ``0 .. k-1``, built once per name, length and attrs) and the sizes are made here and
    handed to xarray's direct constructor: the same Dataset (tested) 5-10x faster than through
    xarray's merge, which aligns and checks what cannot disagree here. Anything else goes
    through ``xarray.Dataset``. Either way a data variable named after a dimension is refused
    (:func:`check_names`).
    """
    plain = all(isinstance(v, tuple) and dims_of(v[0]) != (name,) and name not in coords
                for name, v in data_vars.items())
    parts = coordinate_variables(coords) if plain else None
    if parts is None:
        ds = xr.Dataset(data_vars, coords=coords)
        check_names(ds.variables, ds.data_vars, ds.dims)
        return ds
    coord_vars, indexes = parts
    variables = {name: variable(*value) for name, value in data_vars.items()}
    variables.update(coord_vars)
    sizes = {}
    for name, var in variables.items():
        for dim, size in zip(var._dims, var.shape):
            if sizes.setdefault(dim, size) != size:
                raise ValueError(f"conflicting sizes for dimension {dim!r}: {name!r} has length "
                                 f"{size}, an earlier variable {sizes[dim]}")
    check_names(variables, data_vars, sizes)
    return xr.Dataset._construct_direct(variables, set(coord_vars), sizes, {}, indexes)


def variable(dims, values, attrs=None):
    """``xarray.Variable(dims, values, attrs)``; a plain NumPy array of numbers or booleans is
    taken as it is (what xarray's ``fastpath`` does: the conversions and checks it skips, ~5 us
    a variable, cannot change such an array; dims are checked against its shape still), and the
    variable made directly (:func:`_direct`)."""
    if type(values) is np.ndarray and values.dtype.kind in "biufc":
        dims = dims_of(dims)
        if len(dims) != values.ndim:
            raise ValueError(f"dimensions {dims} must have the same length as the number of data "
                             f"dimensions, ndim={values.ndim}")
        if not _DIRECT:  # pragma: no cover - an xarray whose variables have other slots
            return xr.Variable(dims, values, attrs, fastpath=True)
        return _direct(xr.Variable, dims, values, attrs, None)
    return xr.Variable(dims, values, attrs)


def _slots(cls):
    """The instance attributes of ``cls`` when all of them are slots, else None."""
    mro = [c for c in cls.__mro__ if c is not object]
    if not all("__slots__" in c.__dict__ for c in mro):
        return None
    return {slot for c in mro for slot in c.__dict__["__slots__"]}


#: True when ``xarray.Variable`` and ``IndexVariable`` hold exactly the slots that
#: :func:`_direct` fills (checked once: an xarray with another layout takes its constructors)
_DIRECT = _slots(xr.Variable) == _slots(xr.IndexVariable) == {"_dims", "_data", "_attrs", "_encoding"}


def _direct(cls, dims, data, attrs, encoding):
    """A ``cls`` (``xarray.Variable`` or ``IndexVariable``) holding ``data`` as it is, as
    ``cls(dims, data, attrs, encoding, fastpath=True)`` makes it for a NumPy array or an index
    adapter (``dims`` a tuple checked against the data's shape by the caller), in 0.1 us rather
    than the 1-2 us of xarray's constructor (tests compare the two)."""
    new = object.__new__(cls)
    new._dims, new._data = dims, data
    new._attrs = dict(attrs) if attrs else None
    new._encoding = None if encoding is None else dict(encoding)
    return new


def check_names(variables, data_names, dims):
    """Refuse a data variable (among ``data_names`` of ``variables``) named after one of
    ``dims`` (other than a 1-D variable along its own name, which is that dimension's
    coordinate): netCDF reads it back as a coordinate, so the Dataset would not survive a save
    and load, and ``xarray.merge`` with it fails."""
    for name in data_names:  # (keys only: building each DataArray would cost ~0.1 ms)
        if name not in dims:
            continue
        own = variables[name].dims
        if own != (name,):
            raise ValueError(f"data variable {name!r} {own} has the name of a dimension: saved and "
                             f"loaded back it would become a coordinate; rename the variable or the "
                             f"dimension")


def dims_of(dims):
    """``dims`` (a name or a sequence of names) as a tuple of names."""
    return (dims,) if isinstance(dims, str) else tuple(dims)


@functools.lru_cache(maxsize=256)
def _range_coordinate(name, k, dtype, attrs):
    """Variable and ``RangeIndex`` of the dimension coordinate ``name = 0 .. k-1`` (``attrs`` as
    sorted items). Cached: each Dataset gets its own variable (:func:`_fresh`) around the
    shared index, which is never changed."""
    index = xr.indexes.PandasIndex(pd.RangeIndex(k), name, coord_dtype=np.dtype(dtype))
    var = xr.Variable((name,), np.arange(k, dtype=dtype), dict(attrs))
    return index.create_variables({name: var})[name], index


def _fresh(var):
    """``var.copy(deep=False)`` of a cached coordinate: a new variable around the same
    (read-only) index adapter, with its own attrs and encoding (:func:`_direct`)."""
    if not _DIRECT:  # pragma: no cover - an xarray whose variables have other slots
        return var.copy(deep=False)
    return _direct(type(var), var._dims, var._data, var._attrs, var._encoding)


_INT64 = np.dtype(np.int64).str


def _counting(values):
    """True when the 1-D integer array ``values`` is ``0 .. k-1`` (a short one compared as a
    list: 0.3 us rather than the 2 us of ``np.array_equal`` with a new ``arange``)."""
    k = values.shape[0]
    if k <= 64:
        return values.tolist() == list(range(k))
    return np.array_equal(values, np.arange(k))


def coordinate_variables(coords):
    """``coords`` (name -> values or (dims, values[, attrs])) as variables and indexes, as
    ``xarray.Dataset`` would make them (a pandas index for each dimension coordinate), or None
    when a value is not plain (an xarray or pandas object: left to ``xarray.Dataset``)."""
    variables, indexes = {}, {}
    for name, value in coords.items():
        if isinstance(value, tuple):
            dims, values, attrs = (*value, None)[:3]
            dims = dims_of(dims)
        elif isinstance(value, range) or (isinstance(value, (list, np.ndarray)) and np.ndim(value) == 1):
            dims, values, attrs = (name,), value, None
        else:
            return None
        key = tuple(sorted(attrs.items())) if attrs else ()
        # range(k) along its own dim: 0 .. k-1 known without making or comparing an array
        if isinstance(values, range) and values.start == 0 and values.step == 1 and dims == (name,) \
                and len(values) > 0:
            k, dtype = len(values), _INT64
        else:
            values = np.asarray(values)
            k = values.shape[0] if values.ndim == 1 else -1
            dtype = values.dtype.str
            if not (dims == (name,) and k > 0 and values.dtype.kind in "iu" and values[0] == 0
                    and values[-1] == k - 1 and _counting(values)):
                var = xr.Variable(dims, values, attrs)
                if dims == (name,):
                    index = xr.indexes.PandasIndex.from_variables({name: var}, options={})
                    var = index.create_variables({name: var})[name]
                    indexes[name] = index
                variables[name] = var
                continue
        try:
            var, index = _range_coordinate(name, k, dtype, key)
        except TypeError:  # attrs that cannot be hashed: built afresh
            var, index = _range_coordinate.__wrapped__(name, k, dtype, key)
        variables[name], indexes[name] = _fresh(var), index
    return variables, indexes
