"""Batch iterators: every sample once per epoch, aligned across arrays, seeded shuffles that
repeat and differ per epoch, drop_last; netCDF (and Zarr, where installed) read lazily one batch
at a time and equal to the data in memory; errors naming the argument."""
import numpy as np
import pytest
import xarray as xr

from neurosim.nn.data import ArrayBatches, DatasetBatches, _open

X = np.arange(23 * 2, dtype=float).reshape(23, 2)
Y = np.arange(23)


def epoch(batches):
    return [tuple(np.array(a) for a in b) for b in batches]


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("drop_last", [False, True])
def test_array_batches_cover_every_sample_once(shuffle, drop_last):
    it = ArrayBatches(X, Y, batch_size=5, shuffle=shuffle, seed=0, drop_last=drop_last)
    got = epoch(it)
    assert len(got) == len(it) == (4 if drop_last else 5)
    assert [len(b[1]) for b in got] == [5] * 4 + ([] if drop_last else [3])
    ids = np.concatenate([b[1] for b in got])
    for xb, yb in got:
        np.testing.assert_array_equal(xb, X[yb])          # rows stay aligned
    if drop_last:
        assert len(set(ids)) == 20
    else:
        np.testing.assert_array_equal(np.sort(ids), Y)
    assert (not shuffle) == np.array_equal(ids, np.arange(len(ids)))


def test_shuffle_repeats_with_a_seed_and_differs_per_epoch():
    a = ArrayBatches(Y, batch_size=4, shuffle=True, seed=3)
    b = ArrayBatches(Y, batch_size=4, shuffle=True, seed=3)
    first, second = np.concatenate([x for x, in a]), np.concatenate([x for x, in a])
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(first, np.concatenate([x for x, in b]))


@pytest.fixture
def stored(tmp_path):
    ds = xr.Dataset({"x": (("feature", "sample"), X.T.copy()), "label": ("sample", Y),
                     "other": ("feature", [1.0, 2.0])})
    path = tmp_path / "data.nc"
    ds.to_netcdf(path)
    return path, ds


@pytest.mark.parametrize("shuffle", [False, True])
def test_netcdf_batches_equal_the_data(stored, shuffle):
    path, _ = stored
    it = DatasetBatches(path, ["x", "label"], dim="sample", batch_size=6, shuffle=shuffle,
                        seed=1, dtype=np.float32)
    got = epoch(it)
    assert len(got) == len(it) == 4
    assert got[0][0].shape == (6, 2) and got[0][0].dtype == np.float32
    for xb, yb in got:
        np.testing.assert_array_equal(xb, X[yb.astype(int)])
    ids = np.concatenate([b[1] for b in got]).astype(int)
    np.testing.assert_array_equal(np.sort(ids), Y)
    again = epoch(DatasetBatches(path, ["x", "label"], batch_size=6, shuffle=shuffle, seed=1))
    for a, b in zip(got, again):
        np.testing.assert_array_equal(a[1], b[1])


def test_file_is_opened_lazily_in_batch_chunks(stored):
    path, _ = stored
    ds = _open(path, {"sample": 6})
    try:
        assert ds["x"].chunks == ((2,), (6, 6, 6, 5))        # dask: nothing read yet
        assert not ds["x"].variable._in_memory
    finally:
        ds.close()


def test_zarr_store(stored, tmp_path):
    pytest.importorskip("zarr")
    _, ds = stored
    store = tmp_path / "data.zarr"
    ds.to_zarr(store)
    got = epoch(DatasetBatches(store, "label", batch_size=10))
    np.testing.assert_array_equal(np.concatenate([b[0] for b in got]), Y)


def test_open_dataset_in_memory(stored):
    _, ds = stored
    got = epoch(DatasetBatches(ds, "x", batch_size=10, drop_last=True))
    np.testing.assert_array_equal(np.concatenate([b[0] for b in got]), X[:20])


def test_errors(stored):
    path, _ = stored
    with pytest.raises(ValueError, match="share their first axis"):
        ArrayBatches(X, Y[:5])
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        ArrayBatches(X, batch_size=0)
    with pytest.raises(ValueError, match=r"variables \['y'\] are not in the dataset"):
        DatasetBatches(path, ["x", "y"])
    with pytest.raises(ValueError, match="dim 'sample' is not a dimension of"):
        DatasetBatches(path, ["other"])
    with pytest.raises(ValueError, match="source: no file"):
        DatasetBatches(path.parent / "missing.nc", "x")
