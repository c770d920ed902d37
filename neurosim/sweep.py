"""Parameter sweeps on Dask distributed: a function over a grid x seeds, one Dataset back.

``sweep(fn, grid={"n_units": [100, 200], "alpha": [0.05, 0.1]}, seeds=3, store="runs/cap")``
calls ``fn(n_units=..., alpha=..., seed=s)`` at every point of the Cartesian grid and every seed,
on a Dask cluster (a ``LocalCluster`` of worker processes by default, or a ``Client`` / scheduler
address), and returns one ``xarray.Dataset`` with the grid names and ``seed`` as its leading
dims. ``fn`` returns an ``xarray.Dataset`` or a dict of scalars.

With ``store``, each finished point is written to ``store/points/`` (one netCDF file, written
atomically) as soon as it comes back, next to ``store/manifest.json`` that pins the function,
grid, seeds and fixed parameters. Running the same sweep again runs only the missing points; a
store from a different sweep is refused before anything is written. A point that raises is
recorded with its error (``store/failed/``, and the ``error`` variable of the result) without
losing the others, and is tried again on the next run. Many small points are batched into one
task (by default sized from the measured time of the first points). Ctrl+C stops submitting,
cancels what is queued and returns the points finished so far (attrs ``interrupted = 1``).

Scripts that call :func:`sweep` without a ``client`` start worker processes with the ``spawn``
method, so keep the call under ``if __name__ == "__main__":``.
"""
import functools
import importlib
import inspect
import itertools
import json
import logging
import math
import numbers
import os
import sys
import time
import traceback
from pathlib import Path

import numpy as np
import xarray as xr

from . import checks, record, rng

MANIFEST = "manifest.json"
FORMAT = 1  # manifest format version
RESERVED = ("seed", "error")
TARGET_TASK_S = 0.25  # automatic batching: about this much work per task
IN_FLIGHT_PER_THREAD = 4  # tasks kept submitted per worker thread
POLL_S = (0.001, 0.05)  # the client's wait between looks for finished tasks: shortest, longest

EXPERIMENTS = {}
"""Named experiments usable as ``fn`` (and in sweep configs): name -> function."""


def experiment(func):
    """Register ``func`` under its name in :data:`EXPERIMENTS` (usable as ``fn="name"``)."""
    EXPERIMENTS[func.__name__] = func
    return func


# -- built-in experiments -----------------------------------------------------------------------
@experiment
def hopfield_capacity(n_units, alpha, seed=0, *, rule="hebbian", flip=0.0, max_sweeps=50, cues=None):
    """One point of the Hopfield capacity phase diagram (Amit, Gutfreund, Sompolinsky 1985).

    ``P = max(1, round(alpha * n_units))`` random +-1 patterns are stored with ``rule``; each of
    the first ``cues`` patterns (default all P), with a fraction ``flip`` of its units flipped,
    is recalled asynchronously at T = 0 for at most ``max_sweeps`` sweeps. Patterns, cue noise
    and recall draw independent streams spawned from ``seed``.

    Returns a Dataset of 0-d variables: ``overlap`` (mean final overlap m with the cued
    pattern), ``overlap_std``, ``retrieved`` (fraction of cues with m >= 0.95), ``sweeps``
    (mean sweeps used) and ``converged`` (fraction of cues that reached a fixed point); attrs
    family ``HN`` and the parameters (``n_patterns`` = P).
    """
    from .datasets import noisy, random_patterns
    from .energy import HopfieldNetwork

    n = checks.integer(n_units, "n_units", low=2)
    alpha = checks.scalar(alpha, "alpha", low=0.0, low_open=True)
    flip = checks.scalar(flip, "flip", low=0.0, high=1.0)
    P = max(1, int(round(alpha * n)))
    m = P if cues is None else min(checks.integer(cues, "cues", low=1), P)
    s_patterns, s_cues, s_recall = rng.sequence(seed).spawn(3)
    xi = random_patterns(P, n, seed=s_patterns)
    net = HopfieldNetwork(n, rule=rule).store(xi)
    cue = noisy(xi[:m], flip, seed=s_cues) if flip > 0 else xi[:m]
    ds = net.recall(cue, record="final", max_sweeps=max_sweeps, seed=s_recall)
    final = ds.overlap.isel(sweep=-1).values[np.arange(m), np.arange(m)]
    data = {
        "overlap": ((), final.mean(), {"long_name": "mean final overlap m with the cued pattern", "units": "1"}),
        "overlap_std": ((), final.std(), {"long_name": "standard deviation of m over cues", "units": "1"}),
        "retrieved": ((), (final >= 0.95).mean(), {"long_name": "fraction of cues with m >= 0.95", "units": "1"}),
        "sweeps": ((), ds.sweeps.values.mean(), {"long_name": "mean sweeps used", "units": "1"}),
        "converged": ((), ds.converged.values.mean(), {"long_name": "fraction of cues at a fixed point", "units": "1"}),
    }
    params = {"n_units": n, "alpha": alpha, "n_patterns": P, "rule": rule, "flip": flip,
              "max_sweeps": max_sweeps, "cues": m}
    return record.dataset(data, family="HN", model="HopfieldNetwork", params=params,
                          seed=seed)


PARISI = -0.7633
"""Ground-state energy per spin of the Sherrington-Kirkpatrick model as N -> infinity (Parisi)."""


@experiment
def sk_energy(n_units, sweeps, seed=0, *, reads=8, beta_hot=0.1, beta_cold=5.0, method="metropolis"):
    """One point of the SK annealing curve: energy per spin reached after ``sweeps`` sweeps.

    A Sherrington-Kirkpatrick instance of ``n_units`` spins (``J_ij ~ N(0, 1/N)``) is annealed
    by ``reads`` independent reads, each cooling geometrically from ``beta_hot`` to
    ``beta_cold`` in ``sweeps`` sweeps with ``method`` moves. Couplings and annealing draw
    independent streams spawned from ``seed``. The energy per spin falls with slower cooling
    towards Parisi's ground-state value -0.7633 (reached as N -> infinity).

    Returns a Dataset of 0-d variables: ``energy_per_spin`` (mean over reads of E / N; its attrs
    ``reference`` = -0.7633 draws Parisi's line in :func:`plot`), ``energy_per_spin_best``
    (lowest read) and ``energy_per_spin_std`` (over reads); attrs family ``BM`` and the
    parameters.
    """
    from .energy import IsingAnnealer, sk_couplings

    n = checks.integer(n_units, "n_units", low=2)
    sweeps = checks.integer(sweeps, "sweeps", low=1)
    reads = checks.integer(reads, "reads", low=1)
    s_couplings, s_anneal = rng.sequence(seed).spawn(2)
    annealer = IsingAnnealer(sk_couplings(n, seed=s_couplings), seed=s_anneal)
    ds = annealer.anneal(sweeps=sweeps, reads=reads, beta_range=(beta_hot, beta_cold), method=method)
    e = ds.energy.values / n
    parisi = {"reference": PARISI, "reference_label": "Parisi -0.7633"}
    data = {
        "energy_per_spin": ((), e.mean(), {"long_name": "mean final energy per spin over reads",
                                           "units": "1", **parisi}),
        "energy_per_spin_best": ((), e.min(), {"long_name": "lowest final energy per spin", "units": "1",
                                               **parisi}),
        "energy_per_spin_std": ((), e.std(), {"long_name": "standard deviation over reads", "units": "1"}),
    }
    params = {"n_units": n, "sweeps": sweeps, "reads": reads, "beta_hot": float(beta_hot),
              "beta_cold": float(beta_cold), "method": method}
    return record.dataset(data, family=annealer.family, model="IsingAnnealer", params=params,
                          seed=seed)


@experiment
def esn_error(spectral_radius, leak, seed=0, *, n_units=200, n_train=2000, n_test=500, washout=100,
              ridge=1e-7, input_scaling=1.0):
    """One point of the ESN error map: test NRMSE of one-step-ahead Mackey-Glass prediction.

    The Mackey-Glass series (tau = 17, its history drawn from ``seed``) is scaled to [-1, 1]; an
    ESN of ``n_units`` leaky tanh units with the given ``spectral_radius`` and ``leak`` (reservoir
    drawn from ``seed``) is fitted by ridge regression (``ridge``) to predict x(t + 1) from x(t)
    over ``n_train`` steps (the first ``washout`` discarded) and tested on the next ``n_test``.

    Returns a Dataset of 0-d variables ``nrmse`` (test NRMSE, RMSE / std of the target),
    ``log10_nrmse`` and ``train_nrmse``; attrs family ``ESN`` and the parameters.
    """
    import warnings

    from .datasets import mackey_glass
    from .metrics import nrmse
    from .reservoir import ESN
    from .reservoir.esn import EchoStateWarning

    n_train = checks.integer(n_train, "n_train", low=2)
    n_test = checks.integer(n_test, "n_test", low=1)
    washout = checks.integer(washout, "washout", low=0, high=n_train - 1)
    s_series, s_esn = rng.sequence(seed).spawn(2)
    X = mackey_glass(n_train + n_test + 1, seed=int(s_series.generate_state(1)[0]))
    X = 2 * (X - X.min()) / (X.max() - X.min()) - 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EchoStateWarning)  # radii >= 1 are part of the map
        esn = ESN(n_units, leak=leak, spectral_radius=spectral_radius, input_scaling=input_scaling,
                  ridge=ridge, seed=s_esn)
    esn.fit(X[:n_train], X[1:n_train + 1], washout=washout)
    fitted = esn.predict(X[:n_train], reset=True)  # ends in the state the test part continues from
    err_train = nrmse(X[washout + 1:n_train + 1], fitted[washout:])
    err = nrmse(X[n_train + 1:], esn.predict(X[n_train:-1]))
    data = {
        "nrmse": ((), err, {"long_name": "test NRMSE of one-step-ahead prediction", "units": "1"}),
        "log10_nrmse": ((), np.log10(err), {"long_name": "log10 of the test NRMSE", "units": "1"}),
        "train_nrmse": ((), err_train, {"long_name": "training NRMSE (after washout)", "units": "1"}),
    }
    params = {"spectral_radius": float(spectral_radius), "leak": float(leak), "n_units": esn.units,
              "n_train": n_train, "n_test": n_test, "washout": washout, "ridge": float(ridge),
              "input_scaling": float(input_scaling)}
    return record.dataset(data, family="ESN", model="ESN", params=params,
                          seed=seed)


# -- argument checks ----------------------------------------------------------------------------
def _fn_name(func):
    if isinstance(func, functools.partial):
        return f"partial({_fn_name(func.func)})"
    module = getattr(func, "__module__", None) or "?"
    return f"{module}:{getattr(func, '__qualname__', type(func).__name__)}"


def resolve(fn):
    """``(callable, name)`` for ``fn``: a callable, a name in :data:`EXPERIMENTS`, or
    ``"module:function"`` (imported; the module must be importable on the workers too)."""
    if callable(fn):
        return fn, _fn_name(fn)
    if not isinstance(fn, str):
        raise TypeError(f"fn must be a callable, an experiment name or 'module:function'; got {type(fn).__name__}")
    if fn in EXPERIMENTS:
        return EXPERIMENTS[fn], fn
    if ":" not in fn:
        raise ValueError(f"fn must be one of the experiments {sorted(EXPERIMENTS)} or 'module:function'; got {fn!r}")
    module, _, attr = fn.partition(":")
    try:
        obj = importlib.import_module(module)
    except ImportError as err:
        raise ValueError(f"fn {fn!r}: cannot import module {module!r}: {err}") from None
    try:
        for part in attr.split("."):
            obj = getattr(obj, part)
    except AttributeError:
        raise ValueError(f"fn {fn!r}: module {module!r} has no {attr!r}") from None
    if not callable(obj):
        raise TypeError(f"fn {fn!r} is not callable; got {type(obj).__name__}")
    return obj, fn


def _plain(value, name):
    """A grid or fixed value as a plain JSON-able Python value (numbers, str, bool, None, lists)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"{name} must be finite; got {value}")
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v, f"{name}[{i}]") for i, v in enumerate(value)]
    raise TypeError(f"{name} must be a number, a string, a bool, None or a list of them; "
                    f"got {type(value).__name__}")


def _kind(v):
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, str):
        return "str"
    if isinstance(v, (int, float)):
        return "number"
    return "other"


def check_grid(grid):
    """``grid`` (dict name -> 1-D sequence of values) checked: ``[(name, [values])]`` in order.

    Names must be identifiers other than ``seed`` and ``error``; values numbers, strings or bools,
    one kind per axis, distinct, at least one.
    """
    if not isinstance(grid, dict):
        raise TypeError(f"grid must be a dict of parameter name -> list of values; got {type(grid).__name__}")
    if not grid:
        raise ValueError("grid must name at least one parameter; got an empty dict")
    axes = []
    for name, values in grid.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"grid names must be Python identifiers; got {name!r}")
        if name in RESERVED:
            raise ValueError(f"grid may not sweep {name!r} (reserved: {RESERVED}); give seeds with seeds=")
        where = f"grid[{name!r}]"
        if isinstance(values, (str, bytes, dict)) or not hasattr(values, "__iter__"):
            raise TypeError(f"{where} must be a list of values; got {type(values).__name__}")
        values = np.asarray(values, dtype=object) if not isinstance(values, np.ndarray) else values
        if values.ndim != 1:
            raise ValueError(f"{where} must be a flat list of values; got shape {values.shape}")
        if values.size == 0:
            raise ValueError(f"{where} must hold at least one value; got an empty list")
        plain = []
        for i, v in enumerate(values.tolist()):
            v = _plain(v, f"{where}[{i}]")
            if v is None or isinstance(v, list):
                raise TypeError(f"{where}[{i}] must be a number, a string or a bool; got {v!r}")
            plain.append(v)
        kinds = {_kind(v) for v in plain}
        if len(kinds) > 1:
            raise TypeError(f"{where} must hold values of one kind (numbers, strings or bools); "
                            f"got a mix of {sorted(kinds)}: {plain}")
        if len(set(plain)) != len(plain):
            raise ValueError(f"{where} must hold distinct values; got {plain}")
        axes.append((name, plain))
    return axes


def check_seeds(seeds):
    """``seeds``: an int n >= 1 (seeds 0..n-1) or a sequence of distinct ints >= 0 -> list of ints."""
    if isinstance(seeds, numbers.Integral) and not isinstance(seeds, bool):
        return list(range(checks.integer(seeds, "seeds", low=1)))
    if isinstance(seeds, (str, bytes)) or not hasattr(seeds, "__iter__"):
        raise TypeError(f"seeds must be an int (how many) or a list of ints >= 0; got {type(seeds).__name__}")
    out = [checks.integer(s, f"seeds[{i}]", low=0) for i, s in enumerate(seeds)]
    if not out:
        raise ValueError("seeds must hold at least one seed; got an empty list")
    if len(set(out)) != len(out):
        raise ValueError(f"seeds must be distinct; got {out}")
    return out


def check_parameters(func, grid_names, fixed, name="fn"):
    """Check that ``func`` accepts every grid and fixed parameter and ``seed`` by keyword, and
    that the grid, fixed and seed together give all its required parameters."""
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        return  # builtins without a signature: nothing to check
    params = sig.parameters
    takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
    keyword = {n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    both = sorted(set(grid_names) & set(fixed))
    if both:
        raise ValueError(f"parameter(s) {both} given both in grid and in fixed")
    if "seed" in fixed:
        raise ValueError("fixed may not set 'seed'; give seeds with seeds=")
    if not takes_any:
        for what, names in (("grid", grid_names), ("fixed", list(fixed)), ("seeds", ["seed"])):
            unknown = [n for n in names if n not in keyword]
            if unknown:
                raise ValueError(f"{what} names parameter(s) {unknown} that {name} does not take; "
                                 f"it takes {sorted(keyword)}")
    given = set(grid_names) | set(fixed) | {"seed"}
    missing = [n for n, p in params.items() if p.default is p.empty
               and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and n not in given]
    if missing:
        raise ValueError(f"{name} needs parameter(s) {missing}: give them in grid or fixed")


# -- configs ------------------------------------------------------------------------------------
CONFIG_KEYS = ("fn", "seeds", "store", "batch", "grid", "fixed")
"""Top-level keys of a sweep config (TOML)."""


def _grid_values(name, value):
    """A ``[grid]`` entry: a list of values, or a table ``{start, stop, num}`` (evenly spaced)."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        keys = {"start", "stop", "num"}
        if set(value) != keys:
            raise ValueError(f"[grid] {name} as a table needs exactly the keys {sorted(keys)}; got {sorted(value)}")
        start, stop, num = value["start"], value["stop"], value["num"]
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (start, stop)):
            raise TypeError(f"[grid] {name}: start and stop must be numbers; got {start!r} and {stop!r}")
        if not isinstance(num, int) or isinstance(num, bool) or num < 1:
            raise ValueError(f"[grid] {name}: num must be an integer >= 1; got {num!r}")
        return [float(v) for v in np.round(np.linspace(start, stop, num), 12)]
    raise TypeError(f"[grid] {name} must be a list of values or a table {{start, stop, num}}; got {value!r}")


def read_config(config, where=None):
    """The keyword arguments of :func:`sweep` from a sweep config, checked.

    ``config``: a path to a TOML file, or its parsed dict. Top-level keys: ``fn`` (an experiment
    name such as ``"hopfield_capacity"`` or ``"module:function"``; a module next to the config
    file is importable), ``seeds`` (int or list), ``store`` (folder; default the file's name),
    ``batch``, and the tables ``[grid]`` (name = list of values, or ``{start, stop, num}``
    for evenly spaced numbers) and ``[fixed]``. Unknown keys and bad values raise
    ``ValueError``/``TypeError`` naming the key. Returns a dict with ``fn``, ``grid``, ``seeds``,
    ``fixed``, ``store`` and ``batch``.
    """
    if isinstance(config, (str, os.PathLike)):
        where = Path(config)
        try:
            import tomllib
        except ModuleNotFoundError:  # Python 3.10
            import tomli as tomllib
        try:
            config = tomllib.loads(where.read_text())
        except FileNotFoundError:
            raise ValueError(f"config file not found: {where}") from None
        except tomllib.TOMLDecodeError as err:
            raise ValueError(f"{where} is not valid TOML: {err}") from None
    if not isinstance(config, dict):
        raise TypeError(f"config must be a path to a TOML file or a dict; got {type(config).__name__}")
    unknown = sorted(set(config) - set(CONFIG_KEYS))
    if unknown:
        raise ValueError(f"unknown top-level key(s) {unknown}; allowed: {sorted(CONFIG_KEYS)}")
    if "fn" not in config:
        raise ValueError(f"the config needs fn = an experiment name {sorted(EXPERIMENTS)} or 'module:function'")
    if where is not None:
        folder = str(Path(where).resolve().parent)
        if folder not in sys.path:
            sys.path.insert(0, folder)  # "module:function" next to the config (workers inherit sys.path)
    grid = config.get("grid")
    if not isinstance(grid, dict) or not grid:
        raise ValueError("[grid] must be a table of parameter = list of values, with at least one entry")
    grid = {k: _grid_values(k, v) for k, v in grid.items()}
    fixed = config.get("fixed", {})
    if not isinstance(fixed, dict):
        raise TypeError(f"[fixed] must be a table; got {fixed!r}")
    func, name = resolve(config["fn"])
    axes = check_grid(grid)
    seeds = check_seeds(config.get("seeds", 1))
    fixed = {k: _plain(v, f"[fixed] {k}") for k, v in fixed.items()}
    check_parameters(func, [a for a, _ in axes], fixed, name=f"fn {name!r}")
    batch = config.get("batch")
    if batch is not None:
        batch = checks.integer(batch, "batch", low=1)
    store = config.get("store", Path(where).stem if where is not None else None)
    if store is not None and (not isinstance(store, str) or not store):
        raise TypeError(f"store must be a folder name; got {store!r}")
    return {"fn": config["fn"], "grid": grid, "seeds": seeds, "fixed": fixed, "store": store, "batch": batch}


# -- the store on disk --------------------------------------------------------------------------
def _key(index):
    return "p" + "_".join(str(i) for i in index)


def _write_atomic(path, write):
    """Write ``path`` through ``write(tmp_path)`` then an atomic rename (no half-written files)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _local_io():
    """Context for the client's netCDF reads and writes: xarray takes a file lock from the
    active Dask scheduler, which with a distributed Client is a round trip to the scheduler per
    lock (about 20 ms a file); the files are the client's alone, so a local lock is enough."""
    import dask

    return dask.config.set(scheduler="threads")


class Store:
    """A sweep's folder: ``manifest.json``, ``points/<key>.nc`` and ``failed/<key>.json``."""

    def __init__(self, path, manifest):
        self.path = Path(path)
        self.manifest = manifest
        self.points = self.path / "points"
        self.failed = self.path / "failed"

    def check(self):
        """Raise if the folder holds anything but this sweep; return the keys already done."""
        if self.path.exists() and not self.path.is_dir():
            raise ValueError(f"store {str(self.path)!r} exists and is not a folder")
        mpath = self.path / MANIFEST
        if not mpath.is_file():
            if self.path.is_dir() and any(self.path.iterdir()):
                raise ValueError(f"store {str(self.path)!r} is not empty and holds no sweep manifest; "
                                 f"give an empty or new folder")
            return set()
        try:
            old = json.loads(mpath.read_text())
        except (OSError, ValueError) as err:
            raise ValueError(f"store {str(self.path)!r}: cannot read {MANIFEST}: {err}") from None
        differ = [k for k in ("fn", "grid", "seeds", "fixed") if old.get(k) != self.manifest[k]]
        if differ:
            lines = "; ".join(f"{k}: stored {old.get(k)!r}, asked {self.manifest[k]!r}" for k in differ)
            raise ValueError(f"store {str(self.path)!r} holds a different sweep ({lines}); nothing was "
                             f"changed: use another store folder, or delete this one to start over")
        return {p.stem for p in self.points.glob("p*.nc")} if self.points.is_dir() else set()

    def create(self):
        """Make the folders and write the manifest (once)."""
        self.points.mkdir(parents=True, exist_ok=True)
        self.failed.mkdir(exist_ok=True)
        mpath = self.path / MANIFEST
        if not mpath.exists():
            text = json.dumps(self.manifest, indent=1)
            _write_atomic(mpath, lambda p: p.write_text(text))

    def save_point(self, key, ds):
        """Write point ``key`` (atomically) and drop its failure record if it had one."""
        with _local_io():
            _write_atomic(self.points / f"{key}.nc", lambda p: ds.to_netcdf(p))
        stale = self.failed / f"{key}.json"
        if stale.exists():
            stale.unlink()

    def save_failure(self, key, info):
        """Record that point ``key`` failed (``info``: error message and traceback) as JSON."""
        text = json.dumps(info, indent=1)
        _write_atomic(self.failed / f"{key}.json", lambda p: p.write_text(text))

    def load_point(self, key):
        """The Dataset of a finished point, read fully into memory."""
        with _local_io():
            return record.load(self.points / f"{key}.nc")


# -- work on the workers ------------------------------------------------------------------------
def _as_dataset(result, reserved):
    """A point's result as a Dataset (a dict of scalars becomes 0-d variables)."""
    if isinstance(result, xr.Dataset):
        ds = result.load()
    elif isinstance(result, dict):
        data = {}
        for k, v in result.items():
            if not isinstance(k, str):
                raise TypeError(f"fn returned a dict with a non-string key {k!r}")
            a = np.asarray(v)
            if a.ndim != 0 or a.dtype == object:
                raise TypeError(f"fn returned a dict whose value {k!r} is not a scalar ({type(v).__name__}); "
                                f"return an xarray Dataset for arrays")
            data[k] = ((), a)
        ds = xr.Dataset(data)
    else:
        raise TypeError(f"fn must return an xarray Dataset or a dict of scalars; got {type(result).__name__}")
    clash = sorted(set(reserved) & (set(ds.variables) | set(ds.dims)))
    if clash:
        raise ValueError(f"fn's result uses the name(s) {clash}, which are the sweep's own dims or variables")
    return ds


def run_points(fn, fixed, items, reserved):
    """Run ``fn`` at each ``(key, point, seed)`` of ``items`` (one Dask task).

    Returns ``[(key, Dataset or None, error dict or None, seconds)]``; an exception in ``fn``
    becomes that point's error and the other points still run.
    """
    out = []
    for key, point, seed in items:
        t0 = time.perf_counter()
        try:
            ds = _as_dataset(fn(**point, **fixed, seed=seed), reserved)
            out.append((key, ds, None, time.perf_counter() - t0))
        except Exception as err:  # noqa: BLE001 - any failure of user code is recorded, not raised
            info = {"error": f"{type(err).__name__}: {err}", "traceback": traceback.format_exc()}
            out.append((key, None, info, time.perf_counter() - t0))
    return out


# -- the client side ----------------------------------------------------------------------------
def _distributed():
    try:
        import distributed
    except ImportError:  # pragma: no cover - dask is in the dist and test extras
        raise ImportError("neurosim.sweep needs Dask distributed: pip install 'dask[distributed]'") from None
    return distributed


def _ignore_ctrl_c(dask_worker=None):
    """Run on each worker of the sweep's own LocalCluster: Ctrl+C in the terminal reaches the
    whole process group, and only the client should answer it (stop cleanly, keep the workers
    quiet until the cluster is closed)."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


class _Connection:
    """The Dask client a sweep runs on; closes only what it opened."""

    def __init__(self, client, workers, timeout, n_tasks):
        distributed = _distributed()
        self.own_client = self.cluster = None
        if client is None:
            n = workers if workers is not None else max(1, min(os.cpu_count() or 1, n_tasks))
            self.cluster = distributed.LocalCluster(
                n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                silence_logs=logging.CRITICAL, env={"NUMBA_NUM_THREADS": "1"})
            self.client = self.own_client = distributed.Client(self.cluster)
            self.client.register_worker_callbacks(_ignore_ctrl_c)  # workers restarted later too
        elif isinstance(client, str):
            try:
                self.client = self.own_client = distributed.Client(client, timeout=f"{timeout}s")
            except (OSError, TimeoutError) as err:
                raise ConnectionError(f"could not reach the Dask scheduler at {client!r} within {timeout:g} s "
                                      f"({err})") from None
            except ValueError as err:
                raise ValueError(f"client {client!r} is not a scheduler address like "
                                 f"'tcp://host:8786': {err}") from None
        elif isinstance(client, distributed.Client):
            self.client = client
        elif isinstance(client, distributed.deploy.Cluster):
            self.client = self.own_client = distributed.Client(client)
        else:
            raise TypeError(f"client must be None, a scheduler address, a dask Client or a cluster; "
                            f"got {type(client).__name__}")

    def threads(self):
        """Worker threads of the cluster now (at least 1): sizes batches and the tasks in flight."""
        try:
            return max(1, sum(self.client.nthreads().values()))
        except Exception:  # noqa: BLE001 - a best guess is enough for sizing batches
            return 1

    def close(self):
        """Close the client and cluster this sweep opened (a given Client stays open)."""
        if self.own_client is not None:
            self.own_client.close()
        if self.cluster is not None:
            self.cluster.close()


def sweep(fn, grid=None, seeds=None, *, fixed=None, client=None, workers=None, store=None,
          progress=True, batch=None, timeout=10.0):
    """Run ``fn(**point, **fixed, seed=s)`` over the Cartesian ``grid`` x ``seeds`` on Dask.

    fn : callable returning an ``xarray.Dataset`` or a dict of scalars; or the name of an
        experiment in :data:`EXPERIMENTS` (e.g. ``"hopfield_capacity"``); or ``"module:function"``.
        Its parameters are checked against the grid, ``fixed`` and ``seed``. Or a sweep config
        (a ``.toml`` path or its dict, see :func:`read_config`) giving fn, grid, seeds, fixed,
        store and batch (``seeds``, ``store`` and ``batch`` given here override it).
    grid : dict name -> list of values (numbers, strings or bools; one kind per name; distinct).
    seeds : int n (seeds 0..n-1) or a list of distinct ints >= 0 (default 1: seed 0).
    fixed : dict of parameters passed unchanged to every point (JSON-able values).
    client : None (start a ``LocalCluster`` of ``workers`` processes, one thread each, and close
        it afterwards), a scheduler address ``"tcp://host:port"`` (unreachable: ``ConnectionError``
        after ``timeout`` seconds), a ``distributed.Client`` or a cluster object.
    store : folder that keeps each finished point (see the module docstring), or None (nothing
        on disk). Resuming runs only the missing (and failed) points.
    progress : show a progress bar of points done.
    batch : points per Dask task (int >= 1), or None: sized from the first points' run time to
        about 0.25 s of work per task.

    Returns a Dataset with dims ``(*grid, "seed", *fn's own dims)``: each variable of the
    points' Datasets (aligned on their coordinates; missing entries NaN, or "" for strings),
    ``error`` (grid..., seed) str ("" where the point ran, the error message where it failed,
    "not run" where the sweep was interrupted), and attrs ``family`` (the points'), ``model``
    "sweep", ``sweep_fn``, ``sweep_dims``, the fixed parameters and the attrs all points share,
    ``n_points``, ``n_failed``, ``n_missing`` and ``interrupted``.
    """
    if isinstance(fn, (dict, os.PathLike)) or (isinstance(fn, str) and fn.endswith(".toml")):
        config = read_config(fn)
        if grid is not None or fixed is not None:
            raise ValueError("fn is a sweep config: give grid and fixed in it, not as arguments too")
        fn, grid, fixed = config["fn"], config["grid"], config["fixed"]
        seeds = config["seeds"] if seeds is None else seeds
        store = config["store"] if store is None else store
        batch = config["batch"] if batch is None else batch
    if grid is None:
        raise TypeError("sweep needs grid= (a dict of parameter name -> list of values)")
    func, name = resolve(fn)
    axes = check_grid(grid)
    seeds = 1 if seeds is None else seeds
    seed_list = check_seeds(seeds)
    if fixed is None:
        fixed = {}
    if not isinstance(fixed, dict):
        raise TypeError(f"fixed must be a dict of parameter name -> value; got {type(fixed).__name__}")
    fixed = {k: _plain(v, f"fixed[{k!r}]") for k, v in fixed.items()}
    check_parameters(func, [a for a, _ in axes], fixed, name=f"fn {name!r}")
    if workers is not None:
        if client is not None:
            raise ValueError("workers sets the size of the LocalCluster started when client is None; "
                             "do not give both")
        workers = checks.integer(workers, "workers", low=1)
    if batch is not None:
        batch = checks.integer(batch, "batch", low=1)
    timeout = checks.scalar(timeout, "timeout", low=0.0, low_open=True)
    progress = bool(progress)

    names = [a for a, _ in axes]
    shape = tuple(len(v) for _, v in axes) + (len(seed_list),)
    manifest = {"format": FORMAT, "fn": name, "grid": [[a, v] for a, v in axes], "seeds": seed_list,
                "fixed": fixed}
    disk = Store(store, manifest) if store is not None else None
    done_keys = disk.check() if disk is not None else set()

    todo = []
    for index in itertools.product(*(range(n) for n in shape)):
        key = _key(index)
        if key not in done_keys:
            point = {a: axes[d][1][index[d]] for d, a in enumerate(names)}
            todo.append((index, key, point, seed_list[index[-1]]))

    results, errors = {}, {}
    interrupted = False
    if todo:
        conn = _Connection(client, workers, timeout, len(todo))
        try:
            if disk is not None:
                disk.create()
            interrupted = _run(conn, func, fixed, todo, tuple(names) + RESERVED, disk, batch, progress,
                               total=int(np.prod(shape)), desc=f"sweep {name}", results=results,
                               errors=errors)
        finally:
            conn.close()
    if disk is not None:
        for index in itertools.product(*(range(n) for n in shape)):
            key = _key(index)
            if key in done_keys:
                results[index] = disk.load_point(key)
    return _combine(axes, seed_list, results, errors, name=name, fixed=fixed, store=store,
                    interrupted=interrupted)


def _run(conn, func, fixed, todo, reserved, disk, batch, progress, *, total, desc, results, errors):
    """Submit ``todo`` in batches, keep a few tasks per thread in flight, collect as completed.

    Fills ``results`` (index -> Dataset) and ``errors`` (index -> message); returns True when
    stopped by Ctrl+C.
    """
    distributed = _distributed()
    client = conn.client
    threads = conn.threads()
    by_key = {key: index for index, key, _, _ in todo}
    queue = [(key, point, seed) for _, key, point, seed in todo]
    pos = 0
    durations = []
    bar = record.tqdm(total=total, initial=total - len(todo), desc=desc, unit="point",
                      disable=not progress, leave=False) if record.tqdm else None

    def size():
        if batch is not None:
            return batch
        if not durations:
            return 1
        mean = max(float(np.mean(durations)), 1e-6)
        tail = max(1, math.ceil((len(queue) - pos) / (IN_FLIGHT_PER_THREAD * threads)))
        return int(max(1, min(round(TARGET_TASK_S / mean), tail)))

    def refill():
        while pos < len(queue) and ac.count() < IN_FLIGHT_PER_THREAD * threads:
            submit(ac)

    def submit(ac):
        nonlocal pos
        items = queue[pos:pos + size()]
        pos += len(items)
        fut = client.submit(run_points, func, fixed, items, reserved, pure=False)
        pending[fut.key] = (fut, [k for k, _, _ in items])
        ac.add(fut)

    def outcome(fut):
        """The task's list of point outcomes; a task-level error fails all its points."""
        try:
            # Waits if the result was lost with a dying worker after it finished (Dask
            # recomputes it); raises a task-level error (e.g. KilledWorker after repeated deaths).
            return fut.result()
        except Exception as err:  # noqa: BLE001 - the points of this task are failed, others go on
            message = f"{type(err).__name__}: {err}"
            return [(k, None, {"error": message, "traceback": ""}, None) for k in pending[fut.key][1]]

    def collect(ready):
        finished = [f for f in ready if f.status == "finished"]
        try:  # one round trip for all finished tasks
            outs = dict(zip([f.key for f in finished], client.gather(finished))) if finished else {}
        except Exception:  # noqa: BLE001 - e.g. a result lost meanwhile: fetch them one by one
            outs = {}
        for fut in ready:
            out = outs[fut.key] if fut.key in outs else outcome(fut)
            pending.pop(fut.key)
            fut.release()
            keep(out)

    def keep(out):
        for key, ds, info, seconds in out:
            index = by_key[key]
            if ds is not None:
                if disk is not None:
                    disk.save_point(key, ds)
                results[index] = ds
                durations.append(seconds)
            else:
                if disk is not None:
                    disk.save_failure(key, {"point": key, **info})
                errors[index] = info["error"]
        if bar is not None:
            bar.update(len(out))

    pending = {}  # task key -> (future, point keys)
    ac = distributed.as_completed(loop=client.loop, with_results=False)
    interrupted = False
    try:
        with record.interruptible() as ctrl_c:
            if batch is None:
                submit(ac)  # measure one point before sizing batches
            else:
                refill()
            nap = POLL_S[0]
            while not ac.is_empty():
                if ctrl_c.requested:
                    interrupted = True
                    break
                ready = ac.next_batch(block=False)
                if not ready:  # poll (not block) so that Ctrl+C is seen during long points
                    time.sleep(nap)
                    nap = min(2 * nap, POLL_S[1])
                    continue
                nap = POLL_S[0]
                if batch is None and not durations:
                    collect(ready)  # batch sizes come from the first points' run time
                    refill()
                else:
                    refill()  # keep the workers busy while results are written
                    collect(ready)
    finally:
        if pending:
            ac.clear()
            client.cancel([fut for fut, _ in pending.values()])
        if bar is not None:
            bar.close()
    return interrupted


# -- combining points ---------------------------------------------------------------------------
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


def _combine(axes, seeds, results, errors, *, name, fixed, store, interrupted):
    """One Dataset over grid x seed from the points' Datasets (see :func:`sweep`)."""
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


# -- figures ------------------------------------------------------------------------------------
ALPHA_C = 0.138
"""Critical load of the Hebbian Hopfield network (Amit, Gutfreund, Sompolinsky 1985)."""


def grid_dims(ds, var=None):
    """The grid dims of a sweep result (attrs ``sweep_dims`` without ``seed``), or for any other
    Dataset the dims of ``var`` other than ``seed``."""
    if "sweep_dims" in ds.attrs:
        return [d for d in str(ds.attrs["sweep_dims"]).split() if d != "seed" and d in ds.dims]
    return [d for d in ds[var].dims if d != "seed"]


def _numeric_var(ds, var):
    if var is not None:
        if var not in ds.data_vars:
            raise ValueError(f"var must name a variable of the Dataset {sorted(ds.data_vars)}; got {var!r}")
        if ds[var].dtype.kind not in "biuf":
            raise ValueError(f"var {var!r} is not numeric (dtype {ds[var].dtype}); pick another")
        return var
    for v in ds.data_vars:
        if ds[v].dtype.kind in "biuf" and ds[v].ndim:
            return v
    raise ValueError(f"the Dataset has no numeric variable to plot; its variables are {sorted(ds.data_vars)}")


def _ticks(ax, axis, values):
    n = len(values)
    step = max(1, math.ceil(n / 10))
    pos = np.arange(0, n, step)
    labels = [f"{values[i]:g}" if isinstance(values[i], numbers.Number) else str(values[i]) for i in pos]
    (ax.set_xticks if axis == "x" else ax.set_yticks)(pos, labels)


def _log_x(ax, xpos, numeric):
    """Log x axis for positive values spanning a factor 50 or more (sweeps, sizes)."""
    xpos = np.asarray(xpos, dtype=np.float64)
    if numeric and xpos.size > 1 and xpos.min() > 0 and xpos.max() >= 50 * xpos.min():
        ax.set_xscale("log")


def _reference(ax, da):
    """A horizontal line at attrs ``reference`` of ``da`` (if it has one); True if drawn."""
    ref = da.attrs.get("reference")
    if ref is None or not np.isscalar(ref) or not np.isfinite(float(ref)):
        return False
    ax.axhline(float(ref), color="k", ls="--", lw=1, label=str(da.attrs.get("reference_label", f"{ref:g}")))
    return True


def plot(ds, var=None, *, fig=None):
    """Figure of a sweep result (or any Dataset over parameters and ``seed``).

    ``var`` (default: the first numeric variable) is averaged over ``seed`` (error bars: the
    standard deviation over seeds) and over any dims of its own. One grid dim: a line. Two or
    more: a heat map over the first and last grid dims (others averaged) beside lines of the
    last dim, one per value of the first. For the Hopfield family an ``alpha`` axis gets the
    critical load 0.138; a variable with attrs ``reference`` (a number, e.g. Parisi's -0.7633 for
    :func:`sk_energy`) gets a horizontal line there, labelled ``reference_label``. Line plots
    over positive values spanning a factor 50 or more use a log x axis. Returns a
    ``matplotlib.figure.Figure`` (not attached to pyplot).
    """
    from matplotlib.figure import Figure

    if not isinstance(ds, xr.Dataset):
        raise TypeError(f"ds must be an xarray Dataset; got {type(ds).__name__}")
    var = _numeric_var(ds, var)
    da = ds[var].astype(np.float64)
    dims = [d for d in grid_dims(ds, var) if d in da.dims]
    own = [d for d in da.dims if d not in dims and d != "seed"]
    if own:
        da = da.mean(own, skipna=True)
    mean = da.mean("seed", skipna=True) if "seed" in da.dims else da
    spread = da.std("seed", skipna=True) if "seed" in da.dims and da.sizes["seed"] > 1 else None
    if not dims:
        raise ValueError(f"{var!r} has no grid dim to plot over; its dims are {ds[var].dims}")
    varying = [d for d in dims if mean.sizes[d] > 1] or dims[:1]
    extra = [d for d in dims if d not in varying]
    hn_alpha = str(ds.attrs.get("family", "")) == "HN" and "alpha" in varying
    n_seeds = ds.sizes.get("seed", 1)
    label = var.replace("_", " ") + (f" [{da.attrs['units']}]" if da.attrs.get("units") not in (None, "1") else "")
    note = f"mean over {n_seeds} seed{'s' * (n_seeds != 1)}" + (f" and {', '.join(own)}" if own else "")

    if fig is None:
        fig = Figure(figsize=(10 if len(varying) > 1 else 5.5, 3.8), layout="constrained")
    if len(varying) <= 1:
        ax = fig.add_subplot()
        x = varying[0]
        m = mean.mean(extra, skipna=True) if extra else mean
        xs = np.asarray(ds[x].values) if x in ds.coords else np.arange(m.sizes[x])
        numeric = xs.dtype.kind in "biuf"
        pos = xs if numeric else np.arange(xs.size)
        s = None if spread is None else (spread.mean(extra, skipna=True) if extra else spread)
        ax.errorbar(pos, m.transpose(x).values, yerr=None if s is None else s.transpose(x).values,
                    fmt="o-", ms=4, capsize=2)
        if not numeric:
            _ticks(ax, "x", list(xs))
        _log_x(ax, pos, numeric)
        if hn_alpha:
            ax.axvline(ALPHA_C, color="C3", ls="--", lw=1, label=r"$\alpha_c = 0.138$")
        if _reference(ax, ds[var]) or hn_alpha:
            ax.legend(frameon=False, fontsize="small")
        ax.set_xlabel(x)
        ax.set_ylabel(label)
        ax.set_title(f"{var} ({note})", fontsize="medium")
        return fig

    y, x = varying[0], varying[-1]
    middle = [d for d in dims if d not in (x, y)]
    m = mean.mean(middle, skipna=True) if middle else mean
    m = m.transpose(y, x)
    s = None if spread is None else (spread.mean(middle, skipna=True) if middle else spread).transpose(y, x)
    xs, ys = list(ds[x].values), list(ds[y].values)
    ax_map, ax_lines = fig.subplots(1, 2)
    image = ax_map.imshow(m.values, origin="lower", aspect="auto", cmap="viridis", interpolation="nearest")
    fig.colorbar(image, ax=ax_map, label=label)
    _ticks(ax_map, "x", xs)
    _ticks(ax_map, "y", ys)
    ax_map.set_xlabel(x)
    ax_map.set_ylabel(y)
    ax_map.set_title(f"{var} ({note})", fontsize="medium")
    numeric = np.asarray(xs).dtype.kind in "biuf"
    xpos = np.asarray(xs, dtype=np.float64) if numeric else np.arange(len(xs))
    rows = np.unique(np.linspace(0, len(ys) - 1, min(len(ys), 8)).round().astype(int))
    colours = [f"C{i % 10}" for i in range(len(rows))]
    for colour, r in zip(colours, rows):
        ax_lines.errorbar(xpos, m.values[r], yerr=None if s is None else s.values[r], fmt="o-", ms=3,
                          capsize=2, color=colour, label=f"{y} = {ys[r]}")
    if not numeric:
        _ticks(ax_lines, "x", xs)
    _log_x(ax_lines, xpos, numeric)
    _reference(ax_lines, ds[var])
    if hn_alpha and x == "alpha" and numeric:
        ax_lines.axvline(ALPHA_C, color="C3", ls="--", lw=1, label=r"$\alpha_c = 0.138$")
        order = np.argsort(xpos)
        if xpos[order][0] <= ALPHA_C <= xpos[order][-1]:
            ax_map.axvline(np.interp(ALPHA_C, xpos[order], np.arange(len(xs))[order]), color="w", ls="--", lw=1)
    ax_lines.set_xlabel(x)
    ax_lines.set_ylabel(label)
    ax_lines.legend(frameon=False, fontsize="small")
    title = f"{ds.attrs.get('family', '')} sweep of {ds.attrs.get('sweep_fn', var)}".strip()
    if middle:
        title += f" (averaged over {', '.join(middle)})"
    fig.suptitle(title, fontsize="medium")
    return fig
