"""Tunables in one place: chunk budgets, block sizes, switch points.

Every number here trades speed, memory or responsiveness and changes no result. Tests patch
them (``monkeypatch.setattr(config, "CHUNK_WORK", 10)``) to exercise chunk boundaries and
small grids; families read them at call time, never at import.
"""

#: Work units (unit updates, synaptic events, chain steps) per kernel call of a chunked run:
#: about 0.02-0.1 s on one core, so a progress bar moves and Ctrl+C is honoured promptly.
CHUNK_WORK = 20_000_000

#: A run whose records would take more than this fraction of the memory available now is
#: streamed to a temporary netCDF file instead of being held in memory (with a warning).
RECORD_MEMORY_FRACTION = 0.5
