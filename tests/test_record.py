"""Monitors, the Dataset schema, netCDF round trips, spike helpers and chunked runs."""
import os
import signal

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import neurosim
from neurosim import record


def test_monitor_units_and_steps():
    assert record.Monitor().units(4).tolist() == [0, 1, 2, 3]
    assert record.Monitor(index=[3, 1]).units(4).tolist() == [3, 1]
    assert record.Monitor(index=np.array([True, False, True])).units(3).tolist() == [0, 2]
    assert record.Monitor(index=[]).units(4).tolist() == []
    assert record.Monitor(every=3).steps(10).tolist() == [0, 3, 6, 9]
    assert record.Monitor(every=3).steps(5, start=4).tolist() == [6]


@pytest.mark.parametrize("kwargs, n, match", [
    ({"every": 0}, 3, "every"),
    ({"index": [0, 5]}, 3, "index"),
    ({"index": [-1]}, 3, "index"),
    ({"index": [[0]]}, 3, "index"),
    ({"index": np.array([True, False])}, 3, "mask"),
])
def test_monitor_bad_input(kwargs, n, match):
    with pytest.raises(ValueError, match=match):
        record.Monitor(**kwargs).units(n)


def test_as_monitor():
    assert record.as_monitor(None) == record.Monitor()
    assert record.as_monitor({"every": 2}).every == 2
    with pytest.raises(TypeError, match="record"):
        record.as_monitor(5)


def make():
    return record.dataset(
        {"energy": (("cue", "sweep"), np.arange(6.0).reshape(2, 3)),
         "converged": ("cue", np.array([True, False]))},
        coords={"cue": [0, 1], "sweep": [0, 1, 2]},
        family="HN", model="HopfieldNetwork", params={"n_units": 3, "rule": "hebbian", "beta": None,
                                                       "symmetric": True},
        seed=5, attrs={"energy_units": "dimensionless"})


def test_dataset_attrs_follow_the_schema():
    ds = make()
    assert ds.attrs["family"] == "HN" and ds.attrs["model"] == "HopfieldNetwork"
    assert ds.attrs["neurosim_version"] == neurosim.__version__
    assert ds.attrs["seed"] == 5 and ds.attrs["backend"] == "cpu"
    assert ds.attrs["symmetric"] == 1 and ds.attrs["beta"] == "none" and ds.attrs["interrupted"] == 0


def test_dataset_coordinates_equal_xarrays_own():
    """The RangeIndex fast path builds the same Dataset as xarray's constructor, for every
    kind of coordinate, twice in a row (the cached ranges are not changed by the first)."""
    data = {"v": (("cue", "sweep", "name"), np.arange(24.0).reshape(2, 4, 3))}
    coords = {"cue": np.arange(2), "sweep": ("sweep", np.arange(4), {"long_name": "sweep", "n": [1, 2]}),
              "name": ["a", "b", "c"], "shifted": ("sweep", np.arange(1, 5)), "x": ("cue", [0.5, 1.5])}
    for _ in range(2):
        ds = record.dataset(data, coords, family="HN", model="M")
        ref = xr.Dataset(data, coords=coords)
        xr.testing.assert_identical(ds.drop_attrs(deep=False), ref)
        assert ds.indexes["cue"].equals(ref.indexes["cue"]) and ds.sel(cue=1, sweep=3, name="b").v == 22.0
        ds["cue"].attrs["changed"] = True  # must not leak into the next Dataset
    assert "changed" not in record.dataset(data, coords, family="HN", model="M")["cue"].attrs
    counts = record.dataset(data, {"cue": np.array([0, 2])}, family="HN", model="M")
    assert list(counts.cue.values) == [0, 2]


@pytest.mark.parametrize("data, coords", [
    # plain: built directly
    ({"e": (("cue", "sweep"), np.ones((2, 3)), {"units": "1"}), "s": ("spike", np.arange(4.0)),
      "c": ((), 3.0)}, {"sweep": np.arange(3), "cue": [10, 20], "t": ("spike", np.arange(4) * 0.5)}),
    ({"e": (("cue",), np.ones(2))}, {}),
    ({"s": (("cue", "unit"), np.ones((2, 3), np.int8), {"flag_values": np.array([-1, 1])}),
      "b": ("cue", np.array([True, False])), "z": ("cue", np.array([1 + 2j, 3j]))}, {}),
    # not plain: through xarray.Dataset
    ({"step": ("step", np.arange(3)), "x": ("step", np.ones(3))}, {}),
    ({"x": xr.DataArray(np.ones(2), dims="cue")}, {"cue": [0, 1]}),
    ({"x": ("cue", np.ones(2))}, {"cue": pd.Index([0, 1], name="cue")}),
])
def test_assembled_dataset_is_xarrays_own(data, coords):
    """The direct construction gives xarray's Dataset: same variables in the same order, same
    dims in the same order, same indexes."""
    ds = record.dataset(data, coords, family="HN", model="M").drop_attrs(deep=False)
    ref = xr.Dataset(data, coords=coords)
    xr.testing.assert_identical(ds, ref)
    assert list(ds.variables) == list(ref.variables) and list(ds.sizes.items()) == list(ref.sizes.items())
    assert set(ds.xindexes) == set(ref.xindexes)


def test_assembled_dataset_rejects_conflicting_sizes():
    with pytest.raises(ValueError, match="'cue'"):
        record.dataset({"a": ("cue", np.ones(2)), "b": ("cue", np.ones(3))}, family="HN", model="M")
    with pytest.raises(ValueError, match="cue"):
        record.dataset({"a": ("cue", np.ones(2))}, {"cue": np.arange(3)}, family="HN", model="M")
    with pytest.raises(ValueError, match="dimensions"):  # as many dims as the array has
        record.dataset({"a": (("cue", "x"), np.ones(2))}, family="HN", model="M")
    with pytest.raises(ValueError):  # a name both a data variable and a coordinate (xarray's check)
        record.dataset({"cue": ("x", np.ones(2))}, {"cue": np.arange(2)}, family="HN", model="M")


def test_save_load_round_trip(tmp_path):
    ds = make()
    path = record.save(ds, tmp_path / "r.nc")
    back = record.load(path)
    xr.testing.assert_identical(ds, back)
    assert back["converged"].dtype == bool


def test_no_pickle_in_saved_files(tmp_path):
    ds = make()
    record.save(ds, tmp_path / "r.nc")
    assert b"pickle" not in (tmp_path / "r.nc").read_bytes()


def spikes():
    # neuron 0 fires at 1, 2, 3 ms; neuron 2 at 2.5 ms and 9.5 ms, over 10 ms
    ds = xr.Dataset(record.spike_events([1e-3, 2e-3, 3e-3, 2.5e-3, 9.5e-3], [0, 0, 0, 2, 2]))
    ds.attrs["duration"] = 10e-3
    return ds


def test_spike_raster_and_rates():
    raster = record.spike_raster(spikes(), 5e-3, n_neurons=3)
    assert raster.dims == ("time", "neuron")
    assert raster.values.tolist() == [[3, 0, 1], [0, 0, 1]]
    rate = record.spike_rates(spikes(), 5e-3, n_neurons=3)
    # first bin: 4 spikes / 3 neurons / 5 ms
    assert rate.values[0] == pytest.approx(4 / 3 / 5e-3)
    assert rate.attrs["units"] == "Hz"


def test_spike_events_bad_input():
    with pytest.raises(ValueError, match="equal length"):
        record.spike_events([0.1, 0.2], [1])
    with pytest.raises(ValueError, match="dt"):
        record.spike_raster(spikes(), 0.0)


def chunks(run):
    return [(s, n) for s, n in run]


def test_run_covers_all_steps_in_chunks():
    run = record.Run(10, chunk=4)
    assert chunks(run) == [(0, 4), (4, 4), (8, 2)]
    assert (run.done, run.interrupted) == (10, False)


def test_run_chunk_policy_from_work_and_every(monkeypatch):
    monkeypatch.setattr(record.config, "CHUNK_WORK", 100)
    assert record.Run(1000, work=7).chunk == 14          # 100 // 7 steps of 7 units each
    assert record.Run(1000, work=7, every=5).chunk == 10  # a multiple of every
    assert record.Run(1000, work=10 ** 6, every=5).chunk == 5   # at least every
    assert record.Run(3, work=1).chunk == 3               # never more than the run
    with pytest.raises(ValueError, match="chunk"):
        record.Run(10, chunk=0)
    with pytest.raises(TypeError, match="total"):
        record.Run(1.5)


def test_run_stops_early_when_asked():
    run = record.Run(100, chunk=4)
    for start, n in run:
        if start >= 4:
            run.stop()
    assert (run.done, run.interrupted) == (8, False)


def test_ctrl_c_stops_after_the_current_chunk_and_keeps_the_handler():
    before = signal.getsignal(signal.SIGINT)
    run = record.Run(30, chunk=3)
    calls = []
    for start, n in run:
        calls.append(start)
        if start == 6:
            os.kill(os.getpid(), signal.SIGINT)  # the user presses Ctrl+C during this chunk
    assert run.interrupted and run.done == 9 and calls == [0, 3, 6]
    assert signal.getsignal(signal.SIGINT) is before


def test_ctrl_c_during_set_up_runs_no_chunk():
    before = signal.getsignal(signal.SIGINT)
    with record.Run(30, chunk=3, sizes={"unit": 2}, grow=("step",)) as run:
        run.track("x", ("step", "unit"))
        os.kill(os.getpid(), signal.SIGINT)      # pressed while the family builds its arrays
        assert signal.getsignal(signal.SIGINT) is not before
        calls = chunks(run)
    assert calls == [] and run.interrupted and run.done == 0
    assert signal.getsignal(signal.SIGINT) is before
    ds = run.dataset(family="X", model="M")
    assert ds.attrs["interrupted"] == 1 and ds["x"].shape == (0, 2)


def test_second_ctrl_c_raises():
    run = record.Run(30, chunk=3)
    with pytest.raises(KeyboardInterrupt):
        for _ in run:
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)


def _recorded_run(store=None, every=2):
    """A toy run: state x_t = t * (unit + 1) for 3 units, recorded every ``every`` steps, and
    events (t, unit) whenever t is a multiple of 3."""
    run = record.Run(11, chunk=4, every=every, sizes={"unit": 3}, grow=("step",),
                     events=("event",), store=store)
    with run:
        run.track("step", ("step",), np.int64, {"long_name": "step"})
        run.track("x", ("unit", "step"), attrs={"units": "1"})
        run.track("event_step", ("event",), np.int64)
        for start, n in run:
            steps = run.steps(start, n)
            run.keep(step=steps, x=np.arange(1, 4)[:, None] * steps[None, :].astype(float))
            t = np.arange(start, start + n)
            run.keep(event_step=t[t % 3 == 0])
    return run.dataset({"final": (("unit",), np.arange(3.0))}, {"unit": np.arange(3)},
                       family="X", model="Toy", params={"n": 3}, seed=2 ** 70)


def test_records_in_memory_follow_the_monitor():
    ds = _recorded_run()
    assert ds["step"].values.tolist() == [0, 2, 4, 6, 8, 10]
    np.testing.assert_array_equal(ds["x"].values, np.arange(1, 4)[:, None] * ds["step"].values)
    assert ds["event_step"].values.tolist() == [0, 3, 6, 9]
    assert ds["x"].attrs["units"] == "1" and ds.attrs["interrupted"] == 0


def test_records_streamed_to_disk_give_the_same_dataset(tmp_path):
    mem = _recorded_run()
    with _recorded_run(store=tmp_path / "run.nc") as disk:
        assert disk["x"].variable._in_memory is False   # opened lazily from the file
        xr.testing.assert_identical(disk.load(), mem)
    assert neurosim.rng.from_attr(mem.attrs["seed"]) == 2 ** 70   # stored losslessly


def test_records_that_would_not_fit_in_memory_stream_to_a_temporary_file(monkeypatch):
    monkeypatch.setattr(record, "_available", lambda: 100)
    monkeypatch.setattr(record.config, "RECORD_MEMORY_FLOOR", 0)
    with pytest.warns(RuntimeWarning, match="streaming them to"):
        ds = _recorded_run()
    try:
        assert ds.encoding["source"].endswith(".nc")
        monkeypatch.undo()
        xr.testing.assert_identical(ds.load(), _recorded_run())
    finally:
        ds.close()
        os.remove(ds.encoding["source"])


def test_run_refuses_a_store_in_a_missing_folder_and_bad_records(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        record.Run(3, store=tmp_path / "nowhere" / "x.nc")
    with pytest.raises(TypeError, match="store"):
        record.Run(3, store=3)
    run = record.Run(3, sizes={"unit": 2}, grow=("step",))
    with pytest.raises(ValueError, match="growing dim"):
        run.track("x", ("unit",))
    with pytest.raises(ValueError, match="no size"):
        run.track("x", ("step", "neuron"))


def test_open_model_refuses_foreign_truncated_and_other_models(tmp_path):
    good = tmp_path / "m.nc"
    xr.Dataset({"w": ("i", np.arange(3.0))}, attrs={"model": "Toy"}).to_netcdf(good)
    assert record.open_model(good, "Toy", ["w"])["w"].shape == (3,)
    with pytest.raises(ValueError, match="holds a Toy; Other.load"):
        record.open_model(good, "Other")
    with pytest.raises(ValueError, match="lacks 'b'"):
        record.open_model(good, "Toy", ["w", "b"])
    cut = tmp_path / "cut.nc"
    cut.write_bytes(good.read_bytes()[:200])
    with pytest.raises(ValueError, match="not a readable netCDF"):
        record.open_model(cut, "Toy")
    text = tmp_path / "t.txt"
    text.write_text("hello")
    with pytest.raises(ValueError, match="not a readable netCDF"):
        record.open_model(text, "Toy")
    with pytest.raises(ValueError, match="no such file"):
        record.open_model(tmp_path / "none.nc", "Toy")
    plain = tmp_path / "p.nc"
    xr.Dataset({"w": ("i", np.arange(3.0))}).to_netcdf(plain)
    with pytest.raises(ValueError, match="no neurosim model"):
        record.open_model(plain, "Toy")


def test_interrupt_ends_the_run_as_interrupted_even_on_its_last_chunk():
    run = record.Run(4, chunk=2)
    for start, n in run:
        if start == 2:
            run.interrupt()      # a nested run saw Ctrl+C during this (last) chunk
    assert run.interrupted and run.done == 4


def test_a_variable_named_after_a_dimension_is_refused_at_build_time():
    # netCDF reads such a variable back as a coordinate: the Dataset would not survive a save
    # and load (and xarray.merge with the loaded one fails), so no family may build one
    run = record.Run(4, chunk=2, sizes={"output": 2}, grow=("time",))
    with pytest.raises(ValueError, match="record 'output'.*name of a dimension"):
        run.track("output", ("time", "output"))
    with pytest.raises(ValueError, match="data variable 'output'.*name of a dimension"):
        record.dataset({"output": (("time", "output"), np.zeros((3, 2)))}, family="X", model="Toy")
    with pytest.raises(ValueError, match="data variable 'unit'"):   # another variable's dim
        record.dataset({"unit": ("time", np.zeros(3)), "state": (("time", "unit"), np.zeros((3, 2)))},
                       family="X", model="Toy")
    ds = record.dataset({"unit": ("unit", np.arange(2)), "state": (("time", "unit"), np.zeros((3, 2)))},
                        family="X", model="Toy")
    assert "unit" in ds.coords                 # along its own name: the dimension's coordinate


def test_records_streamed_to_disk_load_back_identical(tmp_path):
    def toy(store=None):
        run = record.Run(4, chunk=2, sizes={"output": 2}, grow=("time",), store=store)
        with run:
            run.track("prediction", ("time", "output"))
            for start, n in run:
                run.keep(prediction=np.ones((n, 2)) * start)
        return run.dataset({"gain": (("output", "time"), np.zeros((2, 4)))}, None,
                           family="X", model="Toy")
    mem = toy()
    with toy(tmp_path / "o.nc") as disk:
        xr.testing.assert_identical(disk.load(), mem)
    record.save(mem, tmp_path / "m.nc")
    xr.testing.assert_identical(record.load(tmp_path / "m.nc"), mem)


def test_load_names_a_file_that_is_not_a_dataset(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not netCDF")
    with pytest.raises(ValueError, match="notes.txt is not a readable netCDF file"):
        record.load(text)
    with pytest.raises(ValueError, match="missing.nc: no such file"):
        record.load(tmp_path / "missing.nc")
    with pytest.raises(ValueError, match="is a folder, not a file"):
        record.load(tmp_path)
    with pytest.raises(TypeError, match="path must be a file name or path; got int"):
        record.load(3)


def test_records_that_fit_neither_memory_nor_disk_are_refused_before_the_run(tmp_path, monkeypatch):
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda folder: usage(10 ** 6, 0, 10 ** 6))
    run = record.Run(10 ** 6, sizes={"chain": 2}, grow=("step",), store=tmp_path / "big.nc")
    with pytest.raises(ValueError, match=r"the records of this run need at least 16,000,016 bytes, "
                                         rf"{tmp_path} has 1,000,000 bytes free"):
        run.track("path", ("chain", "step"), np.int64)
    assert not (tmp_path / "big.nc").exists()
    monkeypatch.setattr(record, "_available", lambda: 1000)       # and no memory either
    monkeypatch.setattr(record.config, "RECORD_MEMORY_FLOOR", 0)
    run = record.Run(10 ** 6, sizes={"chain": 2}, grow=("step",))
    with pytest.raises(ValueError, match="more than the memory available, and .* has 1,000,000 bytes free"):
        run.track("path", ("chain", "step"), np.int64)
    assert run.store is None                                       # no temporary file was made


def test_a_run_that_stops_early_is_not_refused_for_its_bound_and_outgrown_records_stream(monkeypatch):
    big = record.Run(10 ** 12, sizes={"unit": 1000}, grow=("step",), stops_early=True)
    with big:
        big.track("x", ("step", "unit"))        # 8e15 bytes if it ran to the bound: not refused
        for start, n in big:
            big.keep(x=np.ones((2, 1000)))
            big.stop()                          # converged
    assert big.dataset(family="X", model="Toy")["x"].shape == (2, 1000)
    monkeypatch.setattr(record, "_available", lambda: 10 ** 6)
    monkeypatch.setattr(record.config, "RECORD_MEMORY_FLOOR", 0)
    grows = record.Run(100, chunk=1, sizes={"unit": 1000}, grow=("step",), stops_early=True)
    with pytest.warns(RuntimeWarning, match="outgrew the memory"):
        with grows:
            grows.track("x", ("step", "unit"))
            for start, n in grows:
                grows.keep(x=np.full((1, 1000), float(start)))
    ds = grows.dataset(family="X", model="Toy")
    try:
        assert ds.encoding["source"].endswith(".nc")
        np.testing.assert_array_equal(ds["x"].values[:, 0], np.arange(100.0))
    finally:
        ds.close()
        os.remove(ds.encoding["source"])


def test_a_run_to_its_end_fills_one_buffer_and_overflow_falls_back_to_chunks():
    run = record.Run(6, chunk=2, sizes={"unit": 2}, grow=("step",))
    with run:
        run.track("x", ("step", "unit"))
        run.keep(x=np.zeros((1, 2)))                 # step 0 before the loop
        for start, n in run:
            run.keep(x=np.full((n, 2), start + 1.0))
        run.keep(x=np.full((3, 2), 9.0))            # more rows than total // every + 2: chunks
    x = run.dataset(family="X", model="Toy")["x"].values
    np.testing.assert_array_equal(x[:, 0], [0, 1, 1, 3, 3, 5, 5, 9, 9, 9])
