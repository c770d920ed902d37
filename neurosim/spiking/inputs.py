"""Spike sources: Poisson groups and spike generators (explicit ``(time, neuron)`` lists).

Sources have no state to integrate; they only emit spikes, which their outgoing synapses
deliver like any neuron's. External currents are a neuron-group argument (``I=``).
"""
import numbers

import numpy as np

from .. import checks


class PoissonGroup:
    """``n`` independent Poisson spike sources.

    rates: Hz, >= 0: a float, an array (n,), or (n_times, n) with rows ``dt`` seconds apart (the
    last row holds afterwards). In each simulation step of length ``h`` a source fires with
    probability ``rate * h`` (needs ``rate * h <= 1``), drawing from its own random stream.
    """

    kind = "poisson"

    def __init__(self, n, rates, *, dt=None, name=None):
        self.n = checks.integer(n, "n", low=1)
        if isinstance(rates, numbers.Real) and not isinstance(rates, bool):
            r = np.full((1, self.n), checks.scalar(rates, "rates", low=0.0))
        else:
            r = checks.array(rates, "rates", ndim=(1, 2))
            if r.shape[-1] != self.n:
                raise ValueError(f"rates must have {self.n} columns (one per source), as a "
                                 f"float, (n,) or (n_times, n); got shape {r.shape}")
            if np.any(r < 0):
                raise ValueError(f"rates must be >= 0 Hz; got minimum {r.min()}")
            r = r.reshape(-1, self.n)
        self.rates = r
        self.dt = None if dt is None else checks.scalar(dt, "dt", low=0.0, low_open=True)
        if r.shape[0] > 1 and self.dt is None:
            raise ValueError(f"dt (seconds between rows of rates) is needed when rates vary over "
                             f"time (rates has shape {r.shape})")
        self.name = name

    def params(self):
        """Scalar parameters (for Dataset attrs)."""
        return {"n": self.n}


class SpikeGeneratorGroup:
    """``n`` sources firing at given times: source ``indices[k]`` fires at ``times[k]`` seconds.

    times: float array (n_spikes,) >= 0; indices: int array (n_spikes,) in ``[0, n)``. A time is
    rounded to the nearest step, ``rint(t / dt)``; two spikes of one source in one step count
    once each (both are delivered).
    """

    kind = "generator"

    def __init__(self, n, times, indices, *, name=None):
        self.n = checks.integer(n, "n", low=1)
        t = checks.array(times, "times", ndim=1, empty=True)
        i = checks.array(indices, "indices", ndim=1, dtype=None, empty=True)
        if t.shape != i.shape:
            raise ValueError(f"times and indices must be 1-D of equal length; got shapes "
                             f"{t.shape} and {i.shape}")
        if t.size:
            if t.min() < 0:
                raise ValueError(f"times must be >= 0 s; got minimum {t.min()}")
            if i.dtype.kind not in "iu":
                raise TypeError(f"indices must be integers; got dtype {i.dtype}")
            if i.min() < 0 or i.max() >= self.n:
                raise ValueError(f"indices must lie in [0, {self.n}); got values in "
                                 f"[{i.min()}, {i.max()}]")
        self.times = t
        self.indices = i.astype(np.int64)
        self.name = name

    def params(self):
        """Scalar parameters (for Dataset attrs)."""
        return {"n": self.n}
