"""The points' Datasets combined into one sweep result over grid x seed (points that failed or
did not run are NaN, or "" for strings; their messages in the variable ``error``)."""
import numpy as np
import xarray as xr

from .. import record


def _fill(dtype):
    """(dtype, fill value) for a variable with missing entries."""
    kind = np.dtype(dtype).kind
    if kind in "fc":
        return dtype, np.nan
    if kind in "biu":
        return np.float64, np.nan
    if kind in "mM":
        return dtype, np.array("NaT", dtype=dtype)
    return object, ""


def _common_attrs(dss):
    attrs = dict(dss[0].attrs)
    for ds in dss[1:]:
        for k in list(attrs):
            v = ds.attrs.get(k, None)
            if k not in ds.attrs or not np.array_equal(np.asarray(v), np.asarray(attrs[k])):
                del attrs[k]
    return attrs


def _aligned(dss):
    """The point Datasets on common coordinates (outer join) when their coordinates differ."""
    first = dss[0]
    same = all(ds.sizes == first.sizes and all(ds.indexes[d].equals(first.indexes[d]) for d in first.indexes)
               and set(ds.indexes) == set(first.indexes) for ds in dss[1:])
    if same:
        return dss
    for ds in dss:
        for d, n in ds.sizes.items():
            if d not in ds.indexes and any(d in o.sizes and o.sizes[d] != n for o in dss):
                raise ValueError(f"the points' results disagree on the size of dim {d!r}, which has no "
                                 f"coordinate to align them on")
    return list(xr.align(*dss, join="outer"))


def combine(axes, seeds, results, errors, *, name, fixed, store, interrupted):
    """One Dataset over grid x seed from the points' Datasets (see :func:`neurosim.sweeps.sweep`)."""
    names = [a for a, _ in axes]
    dims = tuple(names) + ("seed",)
    shape = tuple(len(v) for _, v in axes) + (len(seeds),)
    coords = {a: (a, np.asarray(v)) for a, v in axes}
    coords["seed"] = ("seed", np.asarray(seeds, dtype=np.int64))
    indices = list(results)
    dss = _aligned([results[i].reset_coords() for i in indices]) if indices else []
    complete = len(indices) == int(np.prod(shape))
    data = {}
    if dss:
        for d, idx in dss[0].indexes.items():
            coords[d] = dss[0][d].variable
        order = []
        for ds in dss:
            order += [v for v in ds.data_vars if v not in order]
        for var in order:
            have = [(i, ds[var]) for i, ds in zip(indices, dss) if var in ds.data_vars]
            vdims = have[0][1].dims
            for _, da in have:
                if da.dims != vdims:
                    raise ValueError(f"the points' results give {var!r} different dims: {vdims} and {da.dims}")
            dtype = np.result_type(*[da.dtype for _, da in have])
            if complete and len(have) == len(indices):
                out = np.empty(shape + have[0][1].shape, dtype=dtype)
            else:
                dtype, fill = _fill(dtype)
                out = np.full(shape + have[0][1].shape, fill, dtype=dtype)
            for i, da in have:
                out[i] = da.values
            data[var] = (dims + vdims, out, dict(have[0][1].attrs))
    error = np.full(shape, "not run", dtype=object)
    for i in indices:
        error[i] = ""
    for i, message in errors.items():
        error[i] = message
    data["error"] = (dims, error, {"long_name": "error of the point ('' if it ran)"})

    common = _common_attrs(dss) if dss else {}
    family = common.pop("family", "none")
    point_model = common.pop("model", "none")
    for k in ("seed", "backend", "neurosim_version", "interrupted"):
        common.pop(k, None)
    common.update(fixed)
    n_failed = len(errors)
    attrs = {"sweep_fn": name, "sweep_dims": " ".join(dims), "point_model": point_model,
             "n_points": int(np.prod(shape)), "n_failed": n_failed,
             "n_missing": int(np.prod(shape)) - len(indices) - n_failed,
             "store": "none" if store is None else str(store)}
    return record.dataset(data, coords, family=family, model="sweep", params=common, seed=seeds,
                          backend="dask", interrupted=interrupted, attrs=attrs)
