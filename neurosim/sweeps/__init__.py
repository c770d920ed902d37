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

Rooms: :mod:`~neurosim.sweeps.engine` (:func:`sweep`, the Dask tasks and the client's loop),
:mod:`~neurosim.sweeps.store` (the point store and its manifest), :mod:`~neurosim.sweeps.grid`
(argument checks), :mod:`~neurosim.sweeps.configfile` (TOML sweep configs),
:mod:`~neurosim.sweeps.result` (the points combined into one Dataset) and
:mod:`~neurosim.sweeps.experiments` (the registered experiments, which hold the family
knowledge). The figure of a sweep result, :func:`plot`, is :func:`neurosim.viz.sweep_figure`.
"""
from ..viz.sweeps import ALPHA_C, grid_dims, sweep_figure as plot  # noqa: F401
from .configfile import CONFIG_KEYS, read_config  # noqa: F401
from .engine import run_points, sweep  # noqa: F401
from .experiments import EXPERIMENTS, PARISI, esn_error, experiment, hopfield_capacity, sk_energy  # noqa: F401
from .grid import RESERVED, check_grid, check_parameters, check_seeds, resolve  # noqa: F401
from .store import FORMAT, MANIFEST, Store  # noqa: F401

__all__ = ["ALPHA_C", "CONFIG_KEYS", "EXPERIMENTS", "FORMAT", "MANIFEST", "PARISI", "RESERVED", "Store",
           "check_grid", "check_parameters", "check_seeds", "esn_error", "experiment", "grid_dims",
           "hopfield_capacity", "plot", "read_config", "resolve", "run_points", "sk_energy", "sweep"]
