"""The short-call fast paths of record.py and _dataset.py (issue 17) give what xarray's and Python's own calls
give: variables built directly, cached coordinates, the Ctrl+C handler set through ``_signal``,
the remembered random streams and the plain-int checks."""
import os
import signal

import numpy as np
import pytest
import xarray as xr

from neurosim import _dataset, checks, record, rng
from neurosim.energy import hopfield


@pytest.mark.parametrize("dims, values, attrs", [
    (("cue", "unit"), np.arange(6, dtype=np.int8).reshape(2, 3), {"long_name": "x", "flag_values": np.array([-1, 1])}),
    ("cue", np.array([True, False]), None),
    ((), np.full((), 2.5), {}),
    (("t",), np.array([1 + 2j, 3j]), {"units": "1"}),
])
def test_direct_variable_is_xarrays_own(dims, values, attrs):
    var = _dataset.variable(dims, values, attrs)
    ref = xr.Variable(dims, values, attrs)
    xr.testing.assert_identical(var, ref)
    assert type(var) is xr.Variable and var.dims == ref.dims and var.encoding == ref.encoding
    assert var.data is values  # taken as it is, as xarray's fastpath takes it
    var.attrs["changed"] = 1   # the caller's attrs are not the variable's
    assert attrs is None or "changed" not in attrs


def test_direct_variable_checks_dims_and_falls_back_for_other_data():
    with pytest.raises(ValueError, match="dimensions"):
        _dataset.variable(("a", "b"), np.ones(3))
    var = _dataset.variable("name", ["a", "b"])  # not a numeric ndarray: xarray's constructor
    xr.testing.assert_identical(var, xr.Variable("name", ["a", "b"]))


def test_cached_coordinate_copies_are_xarrays_copies_and_independent():
    coords = {"step": ("step", range(5), {"long_name": "step"})}
    first = _dataset.coordinate_variables(coords)[0]["step"]
    second = _dataset.coordinate_variables(coords)[0]["step"]
    ref = first.copy(deep=False)
    xr.testing.assert_identical(first, ref)
    assert type(first) is type(ref) is xr.IndexVariable and first.encoding == ref.encoding
    assert first._data is second._data  # the index is shared ...
    first.attrs["units"] = "s"         # ... the attrs are not
    assert "units" not in second.attrs and "units" not in _dataset.coordinate_variables(coords)[0]["step"].attrs


def test_data_variable_named_after_a_dimension():
    with pytest.raises(ValueError, match="name of a dimension"):  # direct construction: refused
        record.dataset({"cue": (("x", "cue"), np.ones((2, 2)))}, family="T", model="M")
    data = {"cue": xr.DataArray(np.ones(2), dims="x"), "v": ("cue", np.ones(3))}
    ds = record.dataset(data, family="T", model="M")  # through xarray.Dataset: its coordinate
    xr.testing.assert_identical(ds.drop_attrs(deep=False), xr.Dataset(data))


@pytest.mark.parametrize("previous", ["default", "ignore", "custom"])
def test_run_restores_the_handler_it_replaced(previous):
    handler = {"default": signal.default_int_handler, "ignore": signal.SIG_IGN,
               "custom": lambda signum, frame: None}[previous]
    before = signal.signal(signal.SIGINT, handler)
    try:
        outer = record.Run(6, chunk=2)
        with outer:
            assert signal.getsignal(signal.SIGINT) == outer._on_sigint
            for start, n in outer:
                inner = record.Run(2, chunk=1)
                for _ in inner:  # a nested run puts the outer run's handler back
                    pass
                assert signal.getsignal(signal.SIGINT) == outer._on_sigint
                if start == 2:
                    os.kill(os.getpid(), signal.SIGINT)
        assert signal.getsignal(signal.SIGINT) == handler
        assert signal.getsignal(signal.SIGINT) is signal.signal(signal.SIGINT, handler)  # same object
        assert outer.interrupted and outer.done == 4
    finally:
        signal.signal(signal.SIGINT, before)


def test_integer_check_plain_ints_and_the_rest_alike():
    assert checks.integer(5, "n", low=0, high=5) == 5 and type(checks.integer(np.int64(5), "n")) is int
    for bad, kind in ((True, TypeError), (2.0, TypeError), (-1, ValueError), (6, ValueError)):
        with pytest.raises(kind, match="n must"):
            checks.integer(bad, "n", low=0, high=5)


def test_remembered_streams_are_the_seeded_ones_and_fresh_each_call():
    master = rng.seed64(7)
    first = rng.streams(7, 50)
    np.testing.assert_array_equal(first, rng._seeded.__wrapped__(master, 50, 0))
    first[:] = 0  # a kernel advances its streams in place: the next call is not affected
    np.testing.assert_array_equal(rng.streams(7, 50), rng._seeded.__wrapped__(master, 50, 0))
    many = rng.streams(7, rng._CACHED_STREAMS + 3)  # not remembered: the same streams
    np.testing.assert_array_equal(many[:50], rng.streams(7, 50))
    np.testing.assert_array_equal(many[-1:], rng.streams(7, 1, first=rng._CACHED_STREAMS + 2))


def test_hopfield_run_seed_checks_as_before():
    assert hopfield._run_seed(3, None) == 3 and hopfield._run_seed(None, 4) == 4
    ss = np.random.SeedSequence(5)
    assert hopfield._run_seed(ss, None) is ss
    with pytest.raises(ValueError, match=">= 0"):
        hopfield._run_seed(-1, None)
    with pytest.raises(TypeError, match="seed must be"):
        hopfield._run_seed(True, None)


def test_run_in_another_thread_sets_no_handler():
    import threading

    before, seen = signal.getsignal(signal.SIGINT), []

    def work():
        run = record.Run(4, chunk=2)
        for start, n in run:
            seen.append((start, n))

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert seen == [(0, 2), (2, 2)] and signal.getsignal(signal.SIGINT) is before
