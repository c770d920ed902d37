"""Monitors, chunked runs and the one place a result ``xarray.Dataset`` is assembled.

Schema (every family): plain dim names (``time`` in seconds, ``step``, ``sweep``, ``neuron``,
``unit``, ``visible``, ``hidden``, ``chain``, ``pattern``, ``cue``, ``sample``, ``epoch``,
``state``); spikes as events ``spike_time`` / ``spike_neuron`` along dim ``spike``; attrs
``family``, ``model``, every scalar parameter, ``seed``, ``backend``, ``neurosim_version``,
``interrupted`` and ``Conventions`` (CF). Every ``units`` attr is a UDUNITS string (``"1"`` for
counts and dimensionless values); two-state variables carry CF ``flag_values`` /
``flag_meanings`` instead (:func:`flags`). Files are netCDF, never pickle.
"""
import _signal
import functools
import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass

import numpy as np
import xarray as xr

from . import checks, config
from . import rng as _rng
from ._dataset import assemble as _assemble
from ._dataset import dims_of as _dims_of

try:
    from tqdm import tqdm
except ImportError:  # pragma: no cover - tqdm is a dependency; this keeps import errors readable
    tqdm = None


@dataclass(frozen=True)
class Monitor:
    """What a run records: every ``every``-th step (or sweep), of the units in ``index``.

    ``index=None`` records all units; otherwise a sequence of unit numbers, or a boolean mask.
    """

    every: int = 1
    index: object = None

    def __post_init__(self):
        checks.integer(self.every, "every", low=1)

    def units(self, n):
        """Indices (``int64``) of the recorded units among ``n``; checked against ``n``."""
        if self.index is None:
            return np.arange(n, dtype=np.int64)
        idx = np.asarray(self.index)
        if idx.size == 0 and idx.ndim == 1:  # record none of them (an empty list is float64)
            return np.zeros(0, dtype=np.int64)
        if idx.dtype == bool:
            if idx.shape != (n,):
                raise ValueError(f"index mask must have shape ({n},); got {idx.shape}")
            return np.flatnonzero(idx).astype(np.int64)
        if idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer):
            raise ValueError(f"index must be a 1-D sequence of unit numbers or a boolean mask; got {self.index!r}")
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise ValueError(f"index must hold unit numbers in [0, {n}); got values from {idx.min()} to {idx.max()}")
        return idx.astype(np.int64)

    def steps(self, n_steps, start=0):
        """The recorded steps among ``start .. start + n_steps - 1`` (multiples of ``every``)."""
        first = -(-start // self.every) * self.every
        return np.arange(first, start + n_steps, self.every, dtype=np.int64)


def as_monitor(record):
    """A :class:`Monitor` from ``None`` (record everything), a Monitor, or a dict of its fields."""
    if record is None:
        return Monitor()
    if isinstance(record, Monitor):
        return record
    if isinstance(record, dict):
        return Monitor(**record)
    raise TypeError(f"record must be a Monitor, a dict like {{'every': 10, 'index': [0, 1]}} or None; got {type(record).__name__}")


#: types whose values are stored as attrs as they are (``type(v) in``: bool and NumPy scalars,
#: subclasses of int and float, take the checks below)
_PLAIN_ATTRS = frozenset({int, float, str})


def _attr_value(value):
    """A netCDF-storable attribute value (bools become 0/1, None becomes 'none')."""
    if type(value) in _PLAIN_ATTRS:
        return value
    if value is None:
        return "none"
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, (int, float, str)):
        return value
    if isinstance(value, (list, tuple)) and all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in value):
        return np.asarray(value)
    return str(value)


#: the CF conventions every result Dataset follows (its ``Conventions`` attr)
CONVENTIONS = "CF-1.10"

#: CF flag attributes of the two-state encodings: (flag_values, flag_meanings)
_FLAGS = {"bipolar": ((-1, 1), "down up"), "binary": ((0, 1), "off on")}


def flags(encoding, dtype=np.int8):
    """CF attrs of a two-state variable, categorical and so without ``units``: ``"bipolar"``
    (``flag_values`` -1, 1: ``"down up"``) or ``"binary"`` (0, 1: ``"off on"``), the values
    of the variable's ``dtype`` (CF asks for the same type)."""
    values, meanings = _FLAGS[checks.choice(encoding, "encoding", tuple(_FLAGS))]
    return {"flag_values": np.array(values, dtype=dtype), "flag_meanings": meanings}


def dataset(data_vars, coords=None, *, family, model, params=None, seed=None, backend="cpu",
            interrupted=False, attrs=None):
    """Assemble a result Dataset with neurosim's attrs.

    ``data_vars`` and ``coords`` are as for ``xarray.Dataset``; ``params`` are the model's
    scalar parameters (stored one attr each); ``attrs`` adds anything else (e.g. units).
    """
    meta = {"family": family, "model": model}
    if params:
        meta.update(params)
    meta.update({"seed": _rng.to_attr(seed), "backend": backend, "neurosim_version": _version(),
                 "interrupted": interrupted, "Conventions": CONVENTIONS})
    if attrs:
        meta.update(attrs)
    ds = _assemble(data_vars, coords or {})
    ds.attrs.update({k: _attr_value(v) for k, v in meta.items()})
    return ds


@functools.lru_cache(maxsize=1)
def _version():
    """``neurosim.__version__``, imported once (a function-level import costs ~2 us a call)."""
    from . import __version__

    return __version__


def spike_events(times, neurons, *, t_unit="s"):
    """Data variables for spikes as events along dim ``spike`` (Brian2's SpikeMonitor layout)."""
    times = np.asarray(times, dtype=np.float64)
    neurons = np.asarray(neurons, dtype=np.int64)
    if times.shape != neurons.shape or times.ndim != 1:
        raise ValueError(f"times and neurons must be 1-D of equal length; got {times.shape} and {neurons.shape}")
    return {
        "spike_time": ("spike", times, {"units": t_unit, "long_name": "spike time"}),
        "spike_neuron": ("spike", neurons, {"long_name": "index of the neuron that spiked"}),
    }


def spike_raster(ds, dt, n_neurons=None, duration=None):
    """Spike counts per time bin and neuron: DataArray (time, neuron) with bin width ``dt`` (s)."""
    dt = checks.scalar(dt, "dt", low=0, low_open=True)
    t = ds["spike_time"].values
    i = ds["spike_neuron"].values
    n = int(n_neurons if n_neurons is not None else (i.max() + 1 if i.size else 0))
    T = float(duration if duration is not None else ds.attrs.get("duration", t.max() + dt if t.size else dt))
    n_bins = max(int(np.ceil(T / dt - 1e-9)), 1)
    bins = np.minimum((t / dt).astype(np.int64), n_bins - 1)
    counts = np.zeros((n_bins, n), dtype=np.int32)
    np.add.at(counts, (bins, i), 1)
    centres = (np.arange(n_bins) + 0.5) * dt
    return xr.DataArray(counts, dims=("time", "neuron"),
                        coords={"time": ("time", centres, {"units": "s"}), "neuron": np.arange(n)},
                        name="spike_count")


def spike_rates(ds, window, n_neurons=None, duration=None):
    """Population rate (Hz) in bins of ``window`` seconds: DataArray over ``time``."""
    raster = spike_raster(ds, window, n_neurons, duration)
    rate = raster.sum("neuron") / (raster.sizes["neuron"] * window)
    rate.attrs["units"] = "Hz"
    return rate.rename("rate")


def save(ds, path):
    """Write a Dataset to netCDF (``.nc``); no pickling anywhere."""
    ds.to_netcdf(path)
    return path


def load(path):
    """Read a Dataset written by :func:`save` fully into memory and close the file; a file
    that is missing, not netCDF or cut short is a ``ValueError`` naming it."""
    return _read(path, "a Dataset written by neurosim.save")


def _read(path, what):
    """The netCDF file ``path`` read into memory, or a ValueError naming it (``what``: what
    it should have been)."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a file name or path; got {type(path).__name__}")
    name = os.fspath(path)
    if os.path.isdir(name):
        raise ValueError(f"{name} is a folder, not a file ({what})")
    if not os.path.isfile(name):
        raise ValueError(f"{name}: no such file ({what})")
    try:
        with xr.open_dataset(name) as ds:
            return ds.load()
    except Exception as err:  # netCDF4, h5py and scipy raise a zoo of types for a bad file
        raise ValueError(f"{name} is not a readable netCDF file (truncated, or another format): "
                         f"{err}") from None


def open_model(path, model, required=()):
    """The Dataset a model's ``save`` wrote to ``path``, read into memory, after checking it.

    A file that is missing, is not netCDF or is cut short, that holds another ``model`` (its
    ``model`` attribute) or lacks one of the ``required`` variables is a ``ValueError`` that
    names the file and what is wrong: every ``Model.load`` starts here.
    """
    ds = _read(path, f"a {model} saved with {model}.save")
    name = os.fspath(path)
    found = ds.attrs.get("model")
    if found != model:
        what = f"a {found}" if found is not None else "no neurosim model (no 'model' attribute)"
        raise ValueError(f"{name} holds {what}; {model}.load needs a file written by {model}.save")
    missing = [v for v in required if v not in ds.variables and v not in ds.attrs]
    if missing:
        raise ValueError(f"{name} lacks {', '.join(map(repr, missing))}, which a {model} file "
                         f"holds (truncated, or written by another version?)")
    return ds


class NetCDFAppender:
    """Write arrays to a netCDF file chunk by chunk along unlimited dimensions.

    ``fixed``: dict of fixed dim sizes; ``unlimited``: names of growing dims. ``define(name,
    dims, dtype, attrs)`` declares a variable; ``append(name, values)`` writes ``values`` after
    what the variable already holds along its unlimited dim (any axis); ``close(attrs)`` writes
    global attributes and closes.
    """

    def __init__(self, path, fixed, unlimited):
        import netCDF4

        self.path = os.fspath(path)
        self._nc = netCDF4.Dataset(self.path, "w", format="NETCDF4")
        self._axis, self._count, self.defined = {}, {}, set()
        for name, size in fixed.items():
            self._nc.createDimension(name, size)
        for name in unlimited:
            self._nc.createDimension(name, None)
        self._unlimited = tuple(unlimited)

    def define(self, name, dims, dtype, attrs=None):
        """Declare variable ``name`` over ``dims``; the one unlimited dim among them grows."""
        var = self._nc.createVariable(name, np.dtype(dtype), dims)
        for k, v in (attrs or {}).items():  # (arrays, e.g. CF flag_values, kept as arrays)
            var.setncattr(k, v if isinstance(v, np.ndarray) else _attr_value(v))
        grow = [a for a, d in enumerate(dims) if d in self._unlimited]
        self.defined.add(name)
        self._axis[name] = grow[0] if grow else None
        self._count[name] = 0

    def append(self, name, values):
        """Append ``values`` along the unlimited dim of ``name``."""
        axis, n = self._axis[name], self._count[name]
        values = np.asarray(values)
        k = values.shape[axis]
        if k:
            where = [slice(None)] * values.ndim
            where[axis] = slice(n, n + k)
            self._nc.variables[name][tuple(where)] = values
            self._count[name] = n + k

    def close(self, attrs=None):
        """Set global ``attrs`` and close the file."""
        for k, v in (attrs or {}).items():
            self._nc.setncattr(k, _attr_value(v))
        self._nc.close()


class Run:
    """One chunked run of a family: chunks, progress bar, Ctrl+C, records in memory or on disk.

    A family's run method reads top to bottom::

        run = record.Run(total, work=m * n, every=mon.every, sizes={"cue": m, "unit": n},
                         grow=("sweep",), progress=progress, desc="recall", store=store)
        with run:                                  # Ctrl+C from here on stops cleanly
            ...set-up (may take seconds)...
            run.track("energy", ("cue", "sweep"), attrs={"units": "1"})
            for start, n in run:                   # steps start .. start + n - 1
                kernel(..., n, ...)
                run.keep(energy=rec_E[:, rows])    # already strided and indexed
                if converged: run.stop()
        return run.dataset(data_vars, coords, family=..., model=..., params=..., seed=seed)

    total: steps (sweeps, epochs, ...) to run. chunk: steps per kernel call; default
    ``config.CHUNK_WORK // work`` (``work``: work units per step), rounded down to a multiple
    of ``every`` (at least ``every``) so that each chunk starts on a recorded step.
    sizes: the fixed dims of the records. grow: dims along which records grow by step; events:
    dims that grow by event (spikes). store: a netCDF path; records are appended chunk by
    chunk and :meth:`dataset` returns the file opened lazily. Without ``store``, records whose
    estimated size (all ``total`` steps) exceeds ``config.RECORD_MEMORY_FRACTION`` of the
    available memory go to a temporary file too (with a warning), and so do records that outgrow
    it while the run goes on. stops_early: the run usually ends before ``total`` (a recall that
    converges, early stopping), so its records are not estimated from ``total`` up front.

    Ctrl+C: the first press inside ``with run`` (or the loop) sets a flag; no new chunk starts
    and the Dataset says ``interrupted = 1``; a second press raises ``KeyboardInterrupt``.
    """

    def __init__(self, total, *, chunk=None, work=1, every=1, sizes=None, grow=(), events=(),
                 stops_early=False, progress=False, desc=None, unit="step", store=None):
        self.total = checks.integer(total, "total", low=0)
        self.every = checks.integer(every, "every", low=1)
        if chunk is None:
            chunk = max(1, config.CHUNK_WORK // max(int(work), 1))
        chunk = min(checks.integer(chunk, "chunk", low=1), max(self.total, 1))
        self.chunk = max(self.every, chunk // self.every * self.every)
        self.sizes = dict(sizes or {})
        self.grow, self.events = tuple(grow), tuple(events)
        self._growing = self.grow + self.events
        self.stops_early = bool(stops_early)
        self.progress, self.desc, self.unit = bool(progress), desc, unit
        self.store = _store_path(store)
        self.done = 0
        self.interrupted = False
        self._stopped = False
        self._pressed = False
        self._previous = None   # the SIGINT handler this run replaced, while its own is installed
        self._records = {}      # name -> (dims, axis, dtype, attrs, list of chunks)
        self._free = None       # memory available (bytes), read at the first track
        self._kept_bytes = 0    # bytes of records held in memory
        self._bufs = {}         # name -> [whole-run buffer, rows filled] (see _into_buffer)
        self._file = None

    # -- Ctrl+C ---------------------------------------------------------------------------
    def __enter__(self):
        # (``_signal`` rather than ``signal.signal``: the same call without its enum conversions,
        # 1 us rather than 15 us a pair, which a short run pays twice)
        if self._previous is None:
            try:
                self._previous = _signal.signal(_signal.SIGINT, self._on_sigint)
            except ValueError:  # not the main thread (only it can set handlers): none set
                pass
        return self

    def __exit__(self, kind, value, tb):
        if self._previous is not None:
            _signal.signal(_signal.SIGINT, self._previous)
            self._previous = None
        if kind is not None and self._file is not None:
            self._file.close()
            self._file = None
        return False

    def _on_sigint(self, signum, frame):
        if self._pressed:
            raise KeyboardInterrupt
        self._pressed = True

    def pressed(self):
        """True once Ctrl+C has been pressed during this run."""
        return self._pressed

    # -- chunks ---------------------------------------------------------------------------
    def __iter__(self):
        outer = self._previous is not None
        if not outer:
            self.__enter__()
        bar = tqdm(total=self.total, desc=self.desc, unit=self.unit, leave=False) \
            if self.progress and tqdm else None
        try:
            while self.done < self.total and not self._stopped:
                if self.pressed():
                    self.interrupted = True
                    break
                n = min(self.chunk, self.total - self.done)
                yield self.done, n
                self.done += n
                if bar is not None:
                    bar.update(n)
        finally:
            if bar is not None:
                bar.close()
            if not outer:
                self.__exit__(None, None, None)

    def stop(self):
        """End the run after the current chunk (converged, early stopping)."""
        self._stopped = True

    def interrupt(self):
        """End the run after the current chunk as interrupted (a nested run saw Ctrl+C)."""
        self.interrupted = True
        self._stopped = True

    def steps(self, start, n):
        """The recorded steps (multiples of ``every``) among ``start .. start + n - 1``."""
        first = -(-start // self.every) * self.every
        return np.arange(first, start + n, self.every, dtype=np.int64)

    # -- records --------------------------------------------------------------------------
    def track(self, name, dims, dtype=np.float64, attrs=None):
        """Declare the record ``name`` over ``dims``: one of them in ``grow`` or ``events``,
        the others in ``sizes``. A record named after its dim is that dim's coordinate."""
        dims = _dims_of(dims)
        growing = self._growing
        axis = [a for a, d in enumerate(dims) if d in growing]
        if len(axis) != 1:
            raise ValueError(f"record {name!r} must have exactly one growing dim among "
                             f"{growing}; got dims {dims}")
        unknown = [d for d in dims if d not in self.sizes and d not in growing]
        if unknown:
            raise ValueError(f"record {name!r}: no size given for dims {unknown}")
        if dims != (name,) and (name in self.sizes or name in growing):
            raise ValueError(f"record {name!r} {dims} has the name of a dimension: saved and loaded back it "
                             f"would become a coordinate; rename the record or the dimension")
        self._records[name] = (dims, axis[0], np.dtype(dtype), dict(attrs or {}), [])
        estimate = 0 if self.stops_early else self._estimate()
        if self.store is None and self._too_big(estimate):
            self._stream(estimate, f"would not fit in memory ({estimate} bytes)")
        elif self.store is not None:   # every record declared so far, before any is written
            _check_disk(os.path.dirname(self.store), self._estimate())
            self._to_file()

    def _too_big(self, nbytes):
        return nbytes > config.RECORD_MEMORY_FLOOR and \
            nbytes > self._available() * config.RECORD_MEMORY_FRACTION

    def _stream(self, nbytes, why):
        """Move the records to a temporary netCDF file from now on (with a warning)."""
        _check_disk(tempfile.gettempdir(), nbytes, "more than the memory available, and ")
        self.store = _temporary(self.desc)
        warnings.warn(f"the records of this run {why}; streaming them to {self.store}",
                      RuntimeWarning, stacklevel=3)
        self._to_file()

    def _to_file(self):
        """Declare every record in the store and move what memory holds of them there."""
        appender = self._appender()
        for other, (o_dims, _, o_dtype, o_attrs, chunks) in self._records.items():
            if other not in appender.defined:
                appender.define(other, o_dims, o_dtype, o_attrs)
                if other in self._bufs:
                    chunks.insert(0, self._filled(other))
                    del self._bufs[other]
                for values in chunks:
                    appender.append(other, values)
                chunks.clear()
        self._kept_bytes = 0

    def keep(self, **values):
        """Append each record's values for this chunk (the growing dim may be empty)."""
        for name, v in values.items():
            dims, axis, dtype, _, chunks = self._records[name]
            v = np.asarray(v, dtype=dtype)
            if self._file is not None:
                self._file.append(name, v)
            elif not self._into_buffer(name, v):
                chunks.append(v.copy())
            self._kept_bytes += v.nbytes if self._file is None else 0
        if self._file is None and self._too_big(self._kept_bytes):
            self._stream(self._kept_bytes, f"outgrew the memory ({self._kept_bytes} bytes kept)")

    def _into_buffer(self, name, v):
        """Copy ``v`` into record ``name``'s buffer for the whole run (a record growing by step
        in a run that goes to its end: ``total // every + 2`` rows, allocated at its first keep,
        so that nothing is concatenated at the end); False where the record has none or ``v``
        would overflow it (it then continues as a list of chunks)."""
        dims, axis, dtype, _, chunks = self._records[name]
        if self.stops_early or dims[axis] not in self.grow or (chunks and name not in self._bufs):
            return False
        if name not in self._bufs:
            shape = [self.total // self.every + 2 if a == axis else self.sizes[d]
                     for a, d in enumerate(dims)]
            self._bufs[name] = [np.empty(shape, dtype), 0]
        buf, n = self._bufs[name]
        k = v.shape[axis]
        if n + k > buf.shape[axis]:
            chunks.append(self._filled(name))
            del self._bufs[name]
            return False
        where = [slice(None)] * v.ndim
        where[axis] = slice(n, n + k)
        buf[tuple(where)] = v
        self._bufs[name][1] = n + k
        return True

    def _filled(self, name):
        buf, n = self._bufs[name]
        axis = self._records[name][1]
        where = [slice(None)] * buf.ndim
        where[axis] = slice(0, n)
        return buf[tuple(where)]

    def kept(self, name):
        """Everything kept so far of record ``name`` in memory (concatenated), else None."""
        dims, axis, dtype, _, chunks = self._records[name]
        if self._file is not None:
            return None
        if name in self._bufs:
            return self._filled(name)
        if chunks:
            return np.concatenate(chunks, axis=axis) if len(chunks) > 1 else chunks[0]
        shape = [0 if a == axis else self.sizes[d] for a, d in enumerate(dims)]
        return np.zeros(shape, dtype=dtype)

    def _available(self):
        """The memory available when the run began tracking (read once: /proc is slow)."""
        if self._free is None:
            self._free = _available()
        return self._free

    def _estimate(self):
        """Bytes the step-growing records would take in memory at the end of the run."""
        rows = self.total // self.every + 1
        total = 0
        for dims, axis, dtype, _, _ in self._records.values():
            if dims[axis] in self.grow:
                size = rows * dtype.itemsize
                for d in dims:
                    size *= self.sizes[d] if d != dims[axis] else 1
                total += size
        return total

    def _appender(self):
        if self._file is None:
            self._file = NetCDFAppender(self.store, self.sizes, self.grow + self.events)
        return self._file

    # -- result ---------------------------------------------------------------------------
    def dataset(self, data_vars=None, coords=None, **meta):
        """The run's Dataset: ``data_vars`` and ``coords`` (as for :func:`dataset`) plus the
        records; ``meta`` as for :func:`dataset` (``interrupted`` is the run's). With a store,
        the file is completed and returned opened lazily (close it when done)."""
        data_vars, coords = dict(data_vars or {}), dict(coords or {})
        meta["interrupted"] = self.interrupted
        if self._file is None:
            for name, (dims, _, _, attrs, _) in self._records.items():
                (coords if (name,) == dims else data_vars)[name] = (dims, self.kept(name), attrs)
            return dataset(data_vars, coords, **meta)
        fixed = dataset(data_vars, coords, **meta)
        self._file.close()
        self._file = None
        fixed.to_netcdf(self.store, mode="a")
        return xr.open_dataset(self.store)


def _store_path(store):
    """``store`` as a path whose folder exists, or None; refused up front, not after the run."""
    if store is None:
        return None
    if not isinstance(store, (str, os.PathLike)):
        raise TypeError(f"store must be a path to a netCDF file or None; got {type(store).__name__}")
    path = os.path.abspath(os.fspath(store))
    if not os.path.isdir(os.path.dirname(path)):
        raise ValueError(f"store: the folder of {os.fspath(store)!r} does not exist")
    return path


def _available():
    """Bytes of memory available now (:func:`neurosim.checks.available_memory`)."""
    return checks.available_memory()


def _check_disk(folder, nbytes, why=""):
    """Refuse records of ``nbytes`` that the disk holding ``folder`` could not take."""
    try:
        free = shutil.disk_usage(folder).free
    except OSError:  # pragma: no cover - the folder was checked when the Run was made
        return
    if nbytes > free:
        raise ValueError(f"the records of this run need at least {nbytes:,} bytes, {why}{folder} has "
                         f"{free:,} bytes free: record fewer steps (a stride, every=) or units "
                         f"(index=), or run fewer steps")


def _temporary(desc):
    fd, path = tempfile.mkstemp(prefix=f"neurosim-{(desc or 'run').replace(' ', '-')}-", suffix=".nc")
    os.close(fd)
    return path

