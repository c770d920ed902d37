"""A sweep's folder on disk: ``manifest.json`` (the function, grid, seeds and fixed
parameters it belongs to), ``points/<key>.nc`` (one netCDF file per finished point, written
atomically as soon as it comes back) and ``failed/<key>.json`` (the error of a failed point).
Running the same sweep again reads what is there and runs only the rest; a folder of another
sweep is refused before anything is written."""
import json
import os
from pathlib import Path

from .. import record

MANIFEST = "manifest.json"
FORMAT = 1  # manifest format version


def point_key(index):
    """The file name (without .nc) of the point at grid-and-seed ``index``."""
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
