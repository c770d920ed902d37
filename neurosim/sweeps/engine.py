"""The sweep engine: :func:`sweep`, the work each Dask task does (:func:`run_points`), and the
client's loop that keeps the cluster busy and collects what comes back.

The client submits the points in batches (one task of one or more points; by default sized from
the measured time of the first points), keeps a few tasks per worker thread in flight, and
writes each finished point to the store as it comes back. The sweep is one
:class:`neurosim.record.Run` of one step per finished point: its progress bar counts points,
and Ctrl+C (its only SIGINT handling) stops submitting, cancels what is queued and returns the
points finished so far (attrs ``interrupted = 1``). The tunables (``SWEEP_*``) are in
:mod:`neurosim.config`.
"""
import collections
import itertools
import logging
import math
import os
import time
import traceback

import numpy as np
import xarray as xr

from .. import checks, config, record
from .configfile import read_config
from .grid import RESERVED, check_grid, check_parameters, check_seeds, plain_value, resolve
from .result import combine
from .store import FORMAT, Store, point_key


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
        raise ImportError("neurosim.sweeps runs on Dask distributed, which is not installed: "
                          "pip install \"neurosim[dist]\"") from None
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
    """The Dask client a sweep runs on; closes only what it opened. A client it opens is not
    made Dask's default: the sweep submits to it directly, and a failed connection must not leave
    ``dask.config``'s scheduler pointing at a client that never came up."""

    def __init__(self, client, workers, timeout, n_tasks):
        distributed = _distributed()
        self.own_client = self.cluster = None
        if client is None:
            n = workers if workers is not None else max(1, min(os.cpu_count() or 1, n_tasks))
            self.cluster = distributed.LocalCluster(
                n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                silence_logs=logging.CRITICAL, env={"NUMBA_NUM_THREADS": "1"})
            self.client = self.own_client = distributed.Client(self.cluster, set_as_default=False)
            self.client.register_worker_callbacks(_ignore_ctrl_c)  # workers restarted later too
        elif isinstance(client, str):
            try:
                self.client = self.own_client = distributed.Client(client, timeout=f"{timeout}s",
                                                                 set_as_default=False)
            except (OSError, TimeoutError) as err:
                raise ConnectionError(f"could not reach the Dask scheduler at {client!r} within {timeout:g} s "
                                      f"({err})") from None
            except ValueError as err:
                raise ValueError(f"client {client!r} is not a scheduler address like "
                                 f"'tcp://host:8786': {err}") from None
        elif isinstance(client, distributed.Client):
            self.client = client
        elif isinstance(client, distributed.deploy.Cluster):
            self.client = self.own_client = distributed.Client(client, set_as_default=False)
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
        experiment in :data:`~neurosim.sweeps.EXPERIMENTS` (e.g. ``"hopfield_capacity"``); or
        ``"module:function"``. Its parameters are checked against the grid, ``fixed`` and
        ``seed``. Or a sweep config (a ``.toml`` path or its dict, see
        :func:`~neurosim.sweeps.read_config`) giving fn, grid, seeds, fixed, store and batch
        (``seeds``, ``store`` and ``batch`` given here override it).
    grid : dict name -> list of values (numbers, strings or bools; one kind per name; distinct).
    seeds : int n (seeds 0..n-1) or a list of distinct ints >= 0 (default 1: seed 0).
    fixed : dict of parameters passed unchanged to every point (JSON-able values).
    client : None (start a ``LocalCluster`` of ``workers`` processes, one thread each, and close
        it afterwards), a scheduler address ``"tcp://host:port"`` (unreachable: ``ConnectionError``
        after ``timeout`` seconds), a ``distributed.Client`` or a cluster object.
    store : folder that keeps each finished point (see :mod:`neurosim.sweeps`), or None
        (nothing on disk). Resuming runs only the missing (and failed) points.
    progress : show a progress bar of points done (the sweep's :class:`neurosim.record.Run`).
    batch : points per Dask task (int >= 1), or None: sized from the first points' run time to
        about ``config.SWEEP_TARGET_TASK_S`` (0.25 s) of work per task.

    Returns a Dataset with dims ``(*grid, "seed", *fn's own dims)``: each variable of the
    points' Datasets (aligned on their coordinates; missing entries NaN, or "" for strings),
    ``error`` (grid..., seed) str ("" where the point ran, the error message where it failed,
    "not run" where the sweep was interrupted), and attrs ``family`` (the points'), ``model``
    "sweep", ``sweep_fn``, ``sweep_dims``, the fixed parameters and the attrs all points share,
    ``n_points``, ``n_failed``, ``n_missing`` and ``interrupted``.
    """
    if isinstance(fn, (dict, os.PathLike)) or (isinstance(fn, str) and fn.endswith(".toml")):
        given = read_config(fn)
        if grid is not None or fixed is not None:
            raise ValueError("fn is a sweep config: give grid and fixed in it, not as arguments too")
        fn, grid, fixed = given["fn"], given["grid"], given["fixed"]
        seeds = given["seeds"] if seeds is None else seeds
        store = given["store"] if store is None else store
        batch = given["batch"] if batch is None else batch
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
    fixed = {k: plain_value(v, f"fixed[{k!r}]") for k, v in fixed.items()}
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
        key = point_key(index)
        if key not in done_keys:
            point = {a: axes[d][1][index[d]] for d, a in enumerate(names)}
            todo.append((index, key, point, seed_list[index[-1]]))

    results, errors = {}, {}
    interrupted = False
    if todo:
        run = record.Run(len(todo), chunk=1, progress=progress, desc=f"sweep {name}", unit="point")
        with run:  # Ctrl+C from here on (the cluster's start included) stops the sweep cleanly
            conn = _Connection(client, workers, timeout, len(todo))
            try:
                if disk is not None:
                    disk.create()
                interrupted = _run(run, conn, func, fixed, todo, tuple(names) + RESERVED, disk, batch,
                                   results, errors)
            finally:
                conn.close()
    if disk is not None:
        for index in itertools.product(*(range(n) for n in shape)):
            key = point_key(index)
            if key in done_keys:
                results[index] = disk.load_point(key)
    return combine(axes, seed_list, results, errors, name=name, fixed=fixed, store=store,
                   interrupted=interrupted)


def _run(run, conn, func, fixed, todo, reserved, disk, batch, results, errors):
    """Run the points ``todo`` on ``conn``'s cluster, one step of ``run`` per finished point.

    Each point is written to ``disk`` (if any) as it comes back and put in ``results`` (index ->
    Dataset) or ``errors`` (index -> message). Returns True when Ctrl+C stopped the sweep
    before every point was back.
    """
    index_of = {key: index for index, key, _, _ in todo}
    tasks = Tasks(conn, func, fixed, [(key, point, seed) for _, key, point, seed in todo], reserved, batch)
    kept = 0
    try:
        for _ in run:  # stops at Ctrl+C
            out = tasks.next_point(run)
            if out is None:  # Ctrl+C while waiting for a point
                break
            _keep(out, index_of[out[0]], disk, results, errors)
            kept += 1
        for out in tasks.in_hand():  # came back before Ctrl+C was seen: kept too
            _keep(out, index_of[out[0]], disk, results, errors)
            kept += 1
    finally:
        tasks.cancel()
    return kept < len(todo)


def _keep(out, index, disk, results, errors):
    """Keep one point's outcome ``(key, Dataset or None, error info or None, seconds)``."""
    key, ds, info, _ = out
    if ds is not None:
        if disk is not None:
            disk.save_point(key, ds)
        results[index] = ds
    else:
        if disk is not None:
            disk.save_failure(key, {"point": key, **info})
        errors[index] = info["error"]


class Tasks:
    """A sweep's points as Dask tasks on a cluster, handed back one finished point at a time.

    ``queue``: ``[(key, point, seed)]``. Tasks of ``batch`` points each, or with ``batch=None``
    one point first, then batches of about ``config.SWEEP_TARGET_TASK_S`` of work measured on
    the points done so far (smaller near the end, so that every worker gets a share);
    ``config.SWEEP_IN_FLIGHT_PER_THREAD`` tasks per worker thread are kept submitted.
    """

    def __init__(self, conn, func, fixed, queue, reserved, batch):
        self.client, self.threads = conn.client, conn.threads()
        self.func, self.fixed, self.queue, self.reserved, self.batch = func, fixed, queue, reserved, batch
        self.pos = 0                          # points of the queue submitted so far
        self.durations = []                   # run time (s) of each point done
        self.pending = {}                     # task key -> (future, its points' keys)
        self.ready = collections.deque()      # outcomes collected, not yet handed out
        self.completed = _distributed().as_completed(loop=self.client.loop, with_results=False)

    def next_point(self, run):
        """The outcome ``(key, Dataset or None, error info or None, seconds)`` of the next
        finished point, waiting for one; None if Ctrl+C is pressed meanwhile (``run.pressed()``,
        looked at while polling, so that it is seen during long points). The first call submits
        the first tasks (unless Ctrl+C came first)."""
        if self.pos == 0 and not run.pressed():
            self._start()
        nap = config.SWEEP_POLL_S[0]
        while not self.ready:
            if run.pressed():
                return None
            if self.completed.is_empty():  # every point was handed out: a caller's bug
                raise RuntimeError("no sweep point left to wait for")
            done = self.completed.next_batch(block=False)
            if not done:
                time.sleep(nap)
                nap = min(2 * nap, config.SWEEP_POLL_S[1])
                continue
            nap = config.SWEEP_POLL_S[0]
            if self.batch is None and not self.durations:
                self._collect(done)  # batch sizes come from the first points' run time
                self._refill()
            else:
                self._refill()  # keep the workers busy while results are written
                self._collect(done)
        return self.ready.popleft()

    def in_hand(self):
        """The outcomes collected but not handed out yet (emptied)."""
        out = list(self.ready)
        self.ready.clear()
        return out

    def cancel(self):
        """Cancel the tasks still queued or running (their results are dropped)."""
        if self.pending:
            self.completed.clear()
            self.client.cancel([fut for fut, _ in self.pending.values()])
            self.pending.clear()

    def _start(self):
        if self.batch is None:
            self._submit()  # measure one point before sizing batches
        else:
            self._refill()

    def _size(self):
        if self.batch is not None:
            return self.batch
        if not self.durations:
            return 1
        mean = max(float(np.mean(self.durations)), 1e-6)
        in_flight = config.SWEEP_IN_FLIGHT_PER_THREAD * self.threads
        tail = max(1, math.ceil((len(self.queue) - self.pos) / in_flight))
        return int(max(1, min(round(config.SWEEP_TARGET_TASK_S / mean), tail)))

    def _refill(self):
        while self.pos < len(self.queue) and \
                self.completed.count() < config.SWEEP_IN_FLIGHT_PER_THREAD * self.threads:
            self._submit()

    def _submit(self):
        items = self.queue[self.pos:self.pos + self._size()]
        self.pos += len(items)
        fut = self.client.submit(run_points, self.func, self.fixed, items, self.reserved, pure=False)
        self.pending[fut.key] = (fut, [k for k, _, _ in items])
        self.completed.add(fut)

    def _outcome(self, fut):
        """The task's list of point outcomes; a task-level error fails all its points."""
        try:
            # Waits if the result was lost with a dying worker after it finished (Dask
            # recomputes it); raises a task-level error (e.g. KilledWorker after repeated deaths).
            return fut.result()
        except Exception as err:  # noqa: BLE001 - the points of this task are failed, others go on
            message = f"{type(err).__name__}: {err}"
            return [(k, None, {"error": message, "traceback": ""}, None) for k in self.pending[fut.key][1]]

    def _collect(self, done):
        """Fetch the outcomes of the tasks ``done`` into :attr:`ready`."""
        finished = [f for f in done if f.status == "finished"]
        try:  # one round trip for all finished tasks
            outs = dict(zip([f.key for f in finished], self.client.gather(finished))) if finished else {}
        except Exception:  # noqa: BLE001 - e.g. a result lost meanwhile: fetch them one by one
            outs = {}
        for fut in done:
            out = outs[fut.key] if fut.key in outs else self._outcome(fut)
            self.pending.pop(fut.key)
            fut.release()
            self.durations += [seconds for _, ds, _, seconds in out if ds is not None]
            self.ready.extend(out)
