"""A real Ctrl+C for a family's run: the run goes in a subprocess, which sends itself SIGINT
while the run sets up (right after ``with record.Run(...)`` is entered) or during its first
chunk (right after the first chunk is handed out), and saves the Dataset it got back.

Used by each family's tests::

    ds = interrupted_run("net = cuba(200, seed=0)\\nds = net.run(0.5)", "run", tmp_path)
    assert ds.attrs["interrupted"] == 1
"""
import subprocess
import sys
import textwrap

import xarray as xr

PRELUDE = '''
import os, signal, sys
from neurosim import record

WHEN = sys.argv[1]
_enter, _iter = record.Run.__enter__, record.Run.__iter__


def __enter__(self):
    out = _enter(self)
    if WHEN == "setup":
        os.kill(os.getpid(), signal.SIGINT)   # pressed while the family builds its arrays
    return out


def __iter__(self):
    for i, chunk in enumerate(_iter(self)):
        if i == 0 and WHEN == "run":
            os.kill(os.getpid(), signal.SIGINT)   # pressed during the first chunk
        yield chunk


record.Run.__enter__, record.Run.__iter__ = __enter__, __iter__
'''


def interrupted_run(body, when, tmp_path, timeout=240):
    """Run ``body`` (Python that leaves a Dataset in ``ds``) with Ctrl+C pressed ``when``
    ("setup" or "run"); returns the Dataset it saved (loaded into memory)."""
    out = tmp_path / f"interrupted-{when}.nc"
    script = PRELUDE + textwrap.dedent(body) + f"\nds.load().to_netcdf({str(out)!r})\n"
    done = subprocess.run([sys.executable, "-c", script, when], capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    with xr.open_dataset(out) as ds:
        return ds.load()
