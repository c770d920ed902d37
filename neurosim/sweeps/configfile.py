"""Sweep configs: a TOML file (or its parsed dict) giving ``fn``, ``seeds``, ``store``,
``batch`` and the tables ``[grid]`` and ``[fixed]``, read into the arguments of
:func:`neurosim.sweeps.sweep` (what ``neurosim sweep CONFIG.toml`` runs)."""
import os
import sys
from pathlib import Path

import numpy as np

from .. import checks
from .experiments import EXPERIMENTS
from .grid import check_grid, check_parameters, check_seeds, plain_value, resolve

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
    fixed = {k: plain_value(v, f"[fixed] {k}") for k, v in fixed.items()}
    check_parameters(func, [a for a, _ in axes], fixed, name=f"fn {name!r}")
    batch = config.get("batch")
    if batch is not None:
        batch = checks.integer(batch, "batch", low=1)
    store = config.get("store", Path(where).stem if where is not None else None)
    if store is not None and (not isinstance(store, str) or not store):
        raise TypeError(f"store must be a folder name; got {store!r}")
    return {"fn": config["fn"], "grid": grid, "seeds": seeds, "fixed": fixed, "store": store, "batch": batch}
