"""Sweeps on Dask: argument checks, combining points, the store, and a real LocalCluster of
worker processes (results equal direct calls, batching, resume, failures, a killed worker, an
interrupted client, an unreachable scheduler)."""
import importlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import neurosim.sweeps as S
from neurosim.sweeps import engine as E, grid as G, result as R

ROOT = Path(__file__).resolve().parents[1]


# -- point functions (module level: the workers import them from this file) -------------------
def affine(a, b, seed, scale=1.0):
    """A dict of scalars that depends on every argument."""
    return {"v": scale * (10 * a + seed) + len(b), "label": f"{b}{a}", "even": (a + seed) % 2 == 0}


def ragged(n, seed):
    """A Dataset whose coordinate length depends on the point (outer alignment fills NaN)."""
    k = np.arange(n)
    return xr.Dataset({"x": ("k", (k + 1.0) * (seed + 1), {"units": "mV"}), "total": ((), float(n + seed))},
                      coords={"k": k}, attrs={"family": "XX", "n": n, "shared": 7})


def fragile(a, seed, marker=""):
    """Fails at a == 3 while the file ``marker`` does not exist (always if marker is empty)."""
    if a == 3 and (not marker or not os.path.exists(marker)):
        raise ValueError(f"cannot do a = {a}")
    return {"v": float(a * a + seed)}


def logged(a, seed, log, delay=0.0):
    """Appends 'a seed' to the file ``log`` when it starts, then returns after ``delay`` seconds."""
    with open(log, "a") as f:
        f.write(f"{a} {seed}\n")
    with open(f"{log}.pid", "a") as f:  # which process ran it, when (for failure messages)
        f.write(f"{a} {seed} pid {os.getpid()} at {time.time():.2f}\n")
    time.sleep(delay)
    return {"v": float(a + 100 * seed)}


def die_once(a, seed, marker):
    """Kills its worker process (no cleanup, like a crash) the first time it runs a == 2."""
    if a == 2 and not os.path.exists(marker):
        Path(marker).touch()
        os._exit(1)
    time.sleep(0.05)
    return {"v": float(a - seed)}


def log_lines(path):
    return Path(path).read_text().split("\n")[:-1] if Path(path).exists() else []


# -- checks without a cluster -----------------------------------------------------------------
@pytest.mark.parametrize("grid, error, match", [
    ([1, 2], TypeError, "grid must be a dict"),
    ({}, ValueError, "at least one parameter"),
    ({"a": 3}, TypeError, r"grid\['a'\] must be a list"),
    ({"a": "abc"}, TypeError, r"grid\['a'\] must be a list"),
    ({"a": []}, ValueError, "at least one value"),
    ({"a": [[1, 2], [3, 4]]}, ValueError, "flat list"),
    ({"a": [1, "x"]}, TypeError, "one kind"),
    ({"a": [1, True]}, TypeError, "one kind"),
    ({"a": [1, None]}, TypeError, r"grid\['a'\]\[1\]"),
    ({"a": [1, {"x": 1}]}, TypeError, r"grid\['a'\]\[1\]"),
    ({"a": [1.0, float("nan")]}, ValueError, "finite"),
    ({"a": [1, 2, 1]}, ValueError, "distinct"),
    ({"seed": [1, 2]}, ValueError, "reserved"),
    ({"not a name": [1]}, ValueError, "identifiers"),
])
def test_bad_grids_name_the_entry(grid, error, match):
    with pytest.raises(error, match=match):
        S.check_grid(grid)


def test_grid_values_keep_their_kind():
    axes = S.check_grid({"n": np.array([100, 200]), "alpha": [0.1, 1], "rule": ("hebbian", "pinv"),
                         "sync": [True, False]})
    assert axes == [("n", [100, 200]), ("alpha", [0.1, 1]), ("rule", ["hebbian", "pinv"]),
                    ("sync", [True, False])]
    assert all(type(v) is int for v in axes[0][1])


@pytest.mark.parametrize("seeds, error", [(0, ValueError), (-1, ValueError), ([], ValueError), ([1, 1], ValueError),
                                          ([0, -2], ValueError), ("3", TypeError), (2.5, TypeError),
                                          ([0, 1.5], TypeError)])
def test_bad_seeds(seeds, error):
    with pytest.raises(error, match="seeds"):
        S.check_seeds(seeds)


def test_seeds_forms():
    assert S.check_seeds(3) == [0, 1, 2]
    assert S.check_seeds(np.array([7, 2])) == [7, 2]


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(grid={"a": [1], "c": [1]}), ValueError, r"grid names parameter\(s\) \['c'\].*takes"),
    (dict(grid={"a": [1]}, fixed={"b": "x", "colour": 1}), ValueError, r"fixed names parameter\(s\) \['colour'\]"),
    (dict(grid={"a": [1]}), ValueError, r"needs parameter\(s\) \['b'\]"),
    (dict(grid={"a": [1], "b": ["x"]}, fixed={"b": "y"}), ValueError, "both in grid and in fixed"),
    (dict(grid={"a": [1], "b": ["x"]}, fixed={"seed": 3}), ValueError, "fixed may not set 'seed'"),
    (dict(grid={"a": [1], "b": ["x"]}, fixed={"scale": np.zeros(3)}), TypeError, r"fixed\['scale'\]"),
    (dict(grid={"a": [1], "b": ["x"]}, fixed=[("scale", 2)]), TypeError, "fixed must be a dict"),
    (dict(grid={"a": [1], "b": ["x"]}, batch=0), ValueError, "batch"),
    (dict(grid={"a": [1], "b": ["x"]}, workers=0), ValueError, "workers"),
    (dict(grid={"a": [1], "b": ["x"]}, workers=2, client="tcp://127.0.0.1:9"), ValueError, "do not give both"),
    (dict(grid={"a": [1], "b": ["x"]}, client=42), TypeError, "client must be"),
])
def test_bad_arguments_fail_before_any_work(tmp_path, kwargs, error, match):
    with pytest.raises(error, match=match):
        S.sweep(affine, store=tmp_path / "store", progress=False, **kwargs)
    assert not (tmp_path / "store").exists()


def test_neurosim_sweep_is_the_function_and_sweeps_its_package():
    """``neurosim.sweep`` is the function, whatever was imported first (no module named
    ``neurosim.sweep``, no module-class trick); importing the package loads neither Dask nor
    matplotlib."""
    code = ("import sys, types, importlib.util\n"
            "import neurosim.sweeps.engine, neurosim.sweeps.result\n"
            "import neurosim\n"
            "from neurosim.sweeps import sweep\n"
            "assert type(neurosim) is types.ModuleType\n"
            "assert neurosim.sweep is sweep is neurosim.sweeps.sweep\n"
            "assert importlib.util.find_spec('neurosim.sweep') is None\n"
            "assert neurosim.sweeps.plot is neurosim.viz.sweep_figure\n"
            "assert 'distributed' not in sys.modules and 'matplotlib' not in sys.modules\n"
            "assert 'sweep' in dir(neurosim) and 'sweeps' in dir(neurosim)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert done.returncode == 0, done.stderr


def test_fn_names_and_signatures():
    assert S.resolve("hopfield_capacity")[0] is S.hopfield_capacity
    assert S.resolve("test_sweep:affine")[0] is affine
    with pytest.raises(ValueError, match="experiments"):
        S.resolve("no_such_experiment")
    with pytest.raises(ValueError, match="cannot import module"):
        S.resolve("no_such_module_xyz:f")
    with pytest.raises(ValueError, match="has no 'nothing'"):
        S.resolve("test_sweep:nothing")
    with pytest.raises(TypeError, match="fn must be"):
        S.resolve(3)

    def no_seed(a):
        return {"a": a}

    with pytest.raises(ValueError, match=r"seeds names parameter\(s\) \['seed'\]"):
        S.check_parameters(no_seed, ["a"], {})

    def anything(**kw):
        return kw

    S.check_parameters(anything, ["whatever"], {"other": 1})  # **kwargs takes any name


def test_config_files_and_dicts(tmp_path):
    path = tmp_path / "cap.toml"
    path.write_text('fn = "test_sweep:affine"\nseeds = [1, 2]\n[grid]\na = {start = 0, stop = 1, num = 3}\n'
                    'b = ["x"]\n[fixed]\nscale = 2.0\n')
    cfg = S.read_config(path)
    assert cfg == {"fn": "test_sweep:affine", "grid": {"a": [0.0, 0.5, 1.0], "b": ["x"]}, "seeds": [1, 2],
                   "fixed": {"scale": 2.0}, "store": "cap", "batch": None}
    assert S.read_config({"fn": "hopfield_capacity", "grid": {"n_units": [10]}, "fixed": {"alpha": 0.1}})["store"] is None
    with pytest.raises(ValueError, match="unknown top-level key.*colour"):
        S.read_config({"fn": "hopfield_capacity", "grid": {"n_units": [10]}, "colour": 1})
    with pytest.raises(ValueError, match="not valid TOML"):
        (tmp_path / "bad.toml").write_text("[grid\n")
        S.read_config(tmp_path / "bad.toml")
    with pytest.raises(ValueError, match="config file not found"):
        S.read_config(tmp_path / "missing.toml")
    with pytest.raises(ValueError, match="give grid and fixed in it"):
        S.sweep(path, grid={"a": [1]})
    with pytest.raises(TypeError, match="needs grid="):
        S.sweep(affine)


def test_run_points_records_errors_and_keeps_going():
    items = [("p0", {"a": 2}, 0), ("p1", {"a": 3}, 0), ("p2", {"a": 4}, 1)]
    out = S.run_points(fragile, {}, items, ("a", "seed", "error"))
    assert [o[0] for o in out] == ["p0", "p1", "p2"]
    assert float(out[0][1].v) == 4.0 and float(out[2][1].v) == 17.0
    assert out[1][1] is None and out[1][2]["error"] == "ValueError: cannot do a = 3"
    assert "Traceback" in out[1][2]["traceback"]
    # results that are neither a Dataset nor a dict of scalars, or that reuse a grid name
    bad = S.run_points(lambda a, seed: [a], {}, [("p0", {"a": 1}, 0)], ("a", "seed", "error"))
    assert "dict of scalars" in bad[0][2]["error"]
    bad = S.run_points(lambda a, seed: {"x": np.zeros(3)}, {}, [("p0", {"a": 1}, 0)], ("a", "seed", "error"))
    assert "not a scalar" in bad[0][2]["error"]
    bad = S.run_points(lambda a, seed: {"a": 1.0}, {}, [("p0", {"a": 1}, 0)], ("a", "seed", "error"))
    assert "sweep's own dims" in bad[0][2]["error"]


def test_combine_matches_a_plain_reference():
    """Points (some failed, some not run) combine into arrays equal to a NumPy reference."""
    g = np.random.default_rng(0)
    axes = [("a", [1, 2, 3]), ("b", ["x", "y"])]
    seeds = [0, 5]
    truth = g.normal(size=(3, 2, 2, 4))
    results, errors = {}, {}
    for index in np.ndindex(3, 2, 2):
        if index == (1, 1, 0):
            errors[index] = "ValueError: no"
        elif index == (2, 0, 1):
            continue  # not run
        else:
            results[index] = xr.Dataset({"y": ("t", truth[index], {"units": "s"}), "n": ((), np.int64(sum(index)))},
                                        coords={"t": np.arange(4) * 0.5}, attrs={"family": "HN", "k": 1})
    ds = R.combine(axes, seeds, results, errors, name="f", fixed={"c": 2}, store=None, interrupted=True)
    assert ds.y.dims == ("a", "b", "seed", "t") and ds.y.attrs["units"] == "s"
    expect = truth.copy()
    expect[1, 1, 0] = np.nan
    expect[2, 0, 1] = np.nan
    np.testing.assert_array_equal(ds.y.values, expect)
    assert ds.n.dtype == np.float64 and np.isnan(ds.n.values[1, 1, 0]) and ds.n.values[2, 1, 1] == 4
    assert ds.error.values[1, 1, 0] == "ValueError: no" and ds.error.values[2, 0, 1] == "not run"
    assert ds.error.values[0, 0, 0] == ""
    assert list(ds.b.values) == ["x", "y"] and list(ds.seed.values) == [0, 5]
    assert ds.attrs["family"] == "HN" and ds.attrs["model"] == "sweep" and ds.attrs["k"] == 1
    assert ds.attrs["c"] == 2 and ds.attrs["n_failed"] == 1 and ds.attrs["n_missing"] == 1
    assert ds.attrs["interrupted"] == 1 and ds.attrs["sweep_dims"] == "a b seed"


def test_combine_aligns_ragged_points_on_their_coordinates():
    results = {(i, 0): ragged(n, 0) for i, n in enumerate([2, 4, 3])}
    ds = R.combine([("n", [2, 4, 3])], [0], results, {}, name="f", fixed={}, store=None, interrupted=False)
    np.testing.assert_array_equal(ds.k.values, [0, 1, 2, 3])
    expect = np.array([[1, 2, np.nan, np.nan], [1, 2, 3, 4], [1, 2, 3, np.nan]])
    np.testing.assert_array_equal(ds.x.values[:, 0], expect)
    assert ds.attrs["family"] == "XX" and ds.attrs["shared"] == 7 and "n" not in ds.attrs
    no_coord = {(0, 0): xr.Dataset({"x": ("k", np.zeros(2))}), (1, 0): xr.Dataset({"x": ("k", np.zeros(3))})}
    with pytest.raises(ValueError, match="no coordinate to align"):
        R.combine([("n", [2, 3])], [0], no_coord, {}, name="f", fixed={}, store=None, interrupted=False)


def _snapshot(folder):
    return {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in Path(folder).rglob("*") if p.is_file()}


def test_store_from_another_sweep_is_refused_and_untouched(tmp_path):
    store = tmp_path / "store"
    grid = {"a": [1, 2], "b": ["x"]}
    manifest = {"format": S.FORMAT, "fn": G.fn_name(affine), "grid": [["a", [1, 2]], ["b", ["x"]]],
                "seeds": [0], "fixed": {}}
    disk = S.Store(store, manifest)
    disk.create()
    disk.save_point("p0_0_0", xr.Dataset({"v": ((), 1.0)}))
    before = _snapshot(store)
    for kwargs, what in [(dict(grid={"a": [1, 3], "b": ["x"]}), "grid"),
                         (dict(grid=grid, seeds=2), "seeds"),
                         (dict(grid=grid, fixed={"scale": 2.0}), "fixed"),
                         (dict(grid={"b": ["x"], "a": [1, 2]}), "grid")]:
        with pytest.raises(ValueError, match=f"holds a different sweep.*{what}: stored"):
            S.sweep(affine, store=store, progress=False, **kwargs)
    with pytest.raises(ValueError, match="holds a different sweep.*fn"):
        S.sweep(fragile, grid={"a": [1, 2]}, store=store, progress=False)
    assert _snapshot(store) == before
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not empty and holds no sweep manifest"):
        S.sweep(affine, grid=grid, store=other, progress=False)
    assert (other / "notes.txt").read_text() == "mine" and len(list(other.iterdir())) == 1


def test_finished_store_returns_without_a_cluster(tmp_path):
    """Every point on disk: the sweep only reads them and starts no cluster."""
    store = tmp_path / "store"
    manifest = {"format": S.FORMAT, "fn": G.fn_name(affine), "grid": [["a", [1, 2]], ["b", ["x"]]],
                "seeds": [0], "fixed": {}}
    disk = S.Store(store, manifest)
    disk.create()
    for i, a in enumerate([1, 2]):
        disk.save_point(f"p{i}_0_0", E._as_dataset(affine(a, "x", 0), ()))
    ds = S.sweep(affine, grid={"a": [1, 2], "b": ["x"]}, store=store, client=None, progress=False)
    np.testing.assert_array_equal(ds.v.values[:, 0, 0], [11.0, 21.0])


def test_unreachable_scheduler_fails_fast_and_writes_nothing(tmp_path):
    import dask

    before = dask.config.get("scheduler", None)
    t0 = time.perf_counter()
    with pytest.raises(ConnectionError, match=r"could not reach the Dask scheduler at 'tcp://127.0.0.1:9' within 1 s"):
        S.sweep(affine, grid={"a": [1], "b": ["x"]}, client="tcp://127.0.0.1:9", timeout=1,
                store=tmp_path / "store", progress=False)
    assert time.perf_counter() - t0 < 30  # the timeout (1 s) plus Dask's import, not a hang
    assert not (tmp_path / "store").exists()
    with pytest.raises(ValueError, match="scheduler address"):
        S.sweep(affine, grid={"a": [1], "b": ["x"]}, client="no port here", progress=False)
    assert dask.config.get("scheduler", None) == before  # no half-made client left as Dask's default


def test_hopfield_capacity_point_against_theory():
    """Below alpha_c = 0.138 the stored patterns are retrieved (m near 1, AGS: m(0.05) > 0.999);
    at alpha = 0.25 retrieval is lost (m well below the AGS retrieval branch, which ends at 0.138)."""
    low = S.hopfield_capacity(400, 0.05, seed=1)
    assert low.attrs["n_patterns"] == 20 and low.attrs["family"] == "HN"
    assert float(low.overlap) > 0.995 and float(low.retrieved) == 1.0 and float(low.converged) == 1.0
    high = S.hopfield_capacity(400, 0.25, seed=1, flip=0.05, cues=40)
    assert high.attrs["n_patterns"] == 100 and high.attrs["cues"] == 40
    assert float(high.overlap) < 0.7 and float(high.retrieved) < 0.2
    again = S.hopfield_capacity(400, 0.25, seed=1, flip=0.05, cues=40)
    xr.testing.assert_identical(high, again)
    with pytest.raises(ValueError, match="alpha"):
        S.hopfield_capacity(100, 0.0)


# -- a real LocalCluster of worker processes ----------------------------------------------------
@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    import logging

    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=logging.CRITICAL,
                                       env={"NUMBA_NUM_THREADS": "1"})
    c = distributed.Client(cluster, set_as_default=False)  # other tests keep Dask's default
    yield c
    c.close()
    cluster.close()


@pytest.mark.slow
def test_cluster_sweep_equals_direct_calls_whatever_the_batching(client, tmp_path):
    grid = {"a": [0, 1, 2, 3], "b": ["x", "yy", "zzz"]}
    runs = [S.sweep(affine, grid=grid, seeds=[0, 3], fixed={"scale": 0.5}, client=client, batch=b,
                    store=tmp_path / f"s{b}", progress=False) for b in (1, 5, None)]
    for a, va in enumerate(grid["a"]):
        for b, vb in enumerate(grid["b"]):
            for s, seed in enumerate([0, 3]):
                ref = affine(va, vb, seed, scale=0.5)
                ds = runs[0].isel(a=a, b=b, seed=s)
                assert float(ds.v) == ref["v"] and str(ds.label.values) == ref["label"]
                assert bool(ds.even) == ref["even"]
    assert runs[0].attrs["scale"] == 0.5 and runs[0].attrs["n_failed"] == 0
    config = {"fn": "test_sweep:affine", "grid": grid, "seeds": [0, 3], "fixed": {"scale": 0.5}}
    runs.append(S.sweep(config, client=client, progress=False))
    for other in runs[1:]:
        xr.testing.assert_identical(runs[0].drop_attrs(), other.drop_attrs())
    assert len(list((tmp_path / "s5" / "points").glob("*.nc"))) == 24
    manifest = json.loads((tmp_path / "s5" / "manifest.json").read_text())
    assert manifest["grid"] == [["a", [0, 1, 2, 3]], ["b", ["x", "yy", "zzz"]]] and manifest["seeds"] == [0, 3]
    # Datasets with coordinates that differ between points come back aligned
    rag = S.sweep(ragged, grid={"n": [3, 1, 2]}, seeds=2, client=client, progress=False)
    np.testing.assert_array_equal(rag.x.values[:, 1], [[2, 4, 6], [2, np.nan, np.nan], [2, 4, np.nan]])
    assert rag.x.attrs["units"] == "mV" and rag.attrs["family"] == "XX"


@pytest.mark.slow
def test_failures_are_recorded_and_retried_and_resume_runs_only_missing_points(client, tmp_path):
    store, marker = tmp_path / "store", tmp_path / "failed-once"
    grid = {"a": [1, 2, 3, 4]}
    first = S.sweep(fragile, grid=grid, seeds=2, fixed={"marker": str(marker)}, client=client, batch=2,
                    store=store, progress=False)
    assert first.attrs["n_failed"] == 2
    assert list(first.error.values[2]) == ["ValueError: cannot do a = 3"] * 2
    assert np.isnan(first.v.values[2]).all() and first.v.values[3, 1] == 17.0
    failed = sorted(p.name for p in (store / "failed").glob("*.json"))
    assert failed == ["p2_0.json", "p2_1.json"]
    assert "cannot do a = 3" in json.loads((store / "failed" / "p2_0.json").read_text())["error"]
    marker.touch()  # now a = 3 works: the next run retries the failed points only
    second = S.sweep(fragile, grid=grid, seeds=2, fixed={"marker": str(marker)}, client=client,
                     store=store, progress=False)
    assert second.attrs["n_failed"] == 0 and not list((store / "failed").glob("*.json"))
    np.testing.assert_array_equal(second.v.values, [[1, 2], [4, 5], [9, 10], [16, 17]])

    # resume: only the points whose files are missing run again, and the result is the same
    log = tmp_path / "log"
    kw = dict(grid={"a": [0, 1, 2]}, seeds=2, fixed={"log": str(log)}, client=client, progress=False)
    full = S.sweep(logged, store=tmp_path / "resume", **kw)
    assert sorted(log_lines(log)) == sorted(f"{a} {s}" for a in range(3) for s in range(2))
    for key in ("p0_1", "p2_0"):
        (tmp_path / "resume" / "points" / f"{key}.nc").unlink()
    log.unlink()
    again = S.sweep(logged, store=tmp_path / "resume", **kw)
    assert sorted(log_lines(log)) == ["0 1", "2 0"]
    xr.testing.assert_identical(full, again)


@pytest.mark.slow
def test_killed_worker_loses_no_point_and_the_sweep_completes(client, tmp_path):
    marker = tmp_path / "killed"
    client.wait_for_workers(2, timeout=60)
    ds = S.sweep(die_once, grid={"a": [0, 1, 2, 3, 4, 5]}, seeds=2, fixed={"marker": str(marker)},
                 client=client, batch=1, store=tmp_path / "store", progress=False)
    assert marker.exists()  # a worker did die
    assert ds.attrs["n_failed"] == 0 and ds.attrs["n_missing"] == 0 and (ds.error.values == "").all()
    np.testing.assert_array_equal(ds.v.values, np.arange(6)[:, None] - np.array([0, 1]))
    assert len(list((tmp_path / "store" / "points").glob("*.nc"))) == 12


@pytest.mark.slow
def test_interrupted_client_then_rerun_runs_only_missing_points(client, tmp_path):
    store, log = tmp_path / "store", tmp_path / "log"
    client.wait_for_workers(2, timeout=60)  # a worker killed by another test may be restarting
    client.run(importlib.import_module, "test_sweep")  # warm: unpacking the first task imports it
    script = (
        "from neurosim.sweeps import sweep\n"
        "from test_sweep import logged\n"
        f"ds = sweep(logged, grid={{'a': list(range(16))}}, fixed={{'log': {str(log)!r}, 'delay': 0.3}}, "
        f"client={client.scheduler.address!r}, store={str(store)!r}, batch=1, progress=False)\n"
        "print('interrupted', ds.attrs['interrupted'], 'missing', ds.attrs['n_missing'])\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "tests")]))
    proc = subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while len(list((store / "points").glob("*.nc"))) < 3 and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)  # Ctrl+C
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "interrupted 1" in out
    kept = {p: p.stat().st_mtime_ns for p in (store / "points").glob("*.nc")}
    done = {p.stem for p in kept}
    assert 3 <= len(done) < 16
    # tasks that were already on the workers when Ctrl+C came finish there and are dropped
    deadline = time.monotonic() + 30
    while any(client.processing().values()) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)
    before = len(log_lines(log))
    ds = S.sweep(logged, grid={"a": list(range(16))}, fixed={"log": str(log), "delay": 0.3}, client=client,
                 store=store, batch=1, progress=False)
    rerun = log_lines(log)[before:]
    missing = {f"{a} 0" for a in range(16) if f"p{a}_0" not in done}
    # every missing point ran (a task the interrupted client had sent may still have run as well:
    # Dask cancels queued tasks but one a worker had begun to unpack runs; its result is dropped)
    assert set(rerun) == missing, (sorted(done), Path(f"{log}.pid").read_text())
    assert {p: p.stat().st_mtime_ns for p in kept} == kept  # finished points were not run again
    np.testing.assert_array_equal(ds.v.values[:, 0], np.arange(16.0))
    assert ds.attrs["n_missing"] == 0 and ds.attrs["interrupted"] == 0


@pytest.mark.slow
@pytest.mark.parametrize("when", ["setup", "run"])
def test_real_ctrl_c_during_setup_or_the_first_point_then_resume(client, tmp_path, monkeypatch, when):
    """SIGINT to a sweep in a subprocess (tests/interrupt.py) while it connects (setup) or while
    it waits for its first point (run): no point is run or kept, the result says interrupted,
    the store is left ready, and the same sweep run again completes it."""
    from interrupt import interrupted_run

    store = tmp_path / "store"
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), str(ROOT / "tests")]))
    client.wait_for_workers(2, timeout=60)
    body = (f"from neurosim.sweeps import sweep\n"
            f"ds = sweep('test_sweep:affine', grid={{'a': [1, 2, 3], 'b': ['x']}}, seeds=2, "
            f"client={client.scheduler.address!r}, store={str(store)!r}, batch=1, progress=False)\n")
    ds = interrupted_run(body, when, tmp_path, timeout=120)
    assert ds.attrs["interrupted"] == 1 and ds.attrs["n_missing"] == 6 and ds.attrs["n_failed"] == 0
    assert (ds.error.values == "not run").all()
    assert (store / "manifest.json").is_file() and not list((store / "points").glob("*.nc"))
    again = S.sweep(affine, grid={"a": [1, 2, 3], "b": ["x"]}, seeds=2, client=client, store=store,
                    progress=False)
    assert again.attrs["interrupted"] == 0 and again.attrs["n_missing"] == 0
    np.testing.assert_array_equal(again.v.values[:, 0], [[11, 12], [21, 22], [31, 32]])


@pytest.mark.slow
def test_ctrl_c_after_the_first_point_keeps_what_came_back(client, tmp_path, ctrl_c):
    """The sweep is a Run of one step per point: Ctrl+C seen after the first point stops it;
    the points already back are kept (in the result and the store), the rest are 'not run'."""
    client.wait_for_workers(2, timeout=60)
    store = tmp_path / "store"
    ds = S.sweep(logged, grid={"a": list(range(8))}, fixed={"log": str(tmp_path / "log"), "delay": 0.2},
                 client=client, batch=1, store=store, progress=False)
    ok = ds.error.values[:, 0] == ""
    assert ds.attrs["interrupted"] == 1 and 1 <= ok.sum() < 8
    assert ds.attrs["n_missing"] == 8 - ok.sum() and (ds.error.values[~ok, 0] == "not run").all()
    assert sorted(p.stem for p in (store / "points").glob("*.nc")) == [f"p{a}_0" for a in np.flatnonzero(ok)]
    np.testing.assert_array_equal(ds.v.values[ok, 0], np.flatnonzero(ok))


def test_workers_of_the_own_cluster_ignore_ctrl_c():
    """Terminal Ctrl+C reaches every process of the group: the sweep's own workers ignore it
    (the client stops the sweep cleanly) - set in the main thread, a no-op elsewhere."""
    import threading

    previous = signal.getsignal(signal.SIGINT)
    try:
        worker = threading.Thread(target=E._ignore_ctrl_c)
        worker.start()
        worker.join()
        assert signal.getsignal(signal.SIGINT) is previous
        E._ignore_ctrl_c()
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)
