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

# -- spiking networks (neurosim.spiking) -------------------------------------------------------
#: Simulated time (s) per compiled call of ``Network.run`` when no ``chunk=`` is given. A
#: spiking network's work per step depends on its activity (spikes delivered), unknown before
#: the run, so its chunk is measured in simulated time rather than in ``CHUNK_WORK``: 0.1 s is
#: 1000 steps at dt = 0.1 ms, tens of milliseconds for the CUBA network (N = 4000); the
#: records and spikes of a chunk stay small. Results do not depend on it.
SPIKING_CHUNK_TIME = 0.1

#: Least number of spikes the spike buffer of a kernel call holds (it holds at least
#: ``4 * n_neurons + 1024``); when it fills, the call returns early and the run calls again.
SPIKING_SPIKE_BUFFER = 1 << 16
