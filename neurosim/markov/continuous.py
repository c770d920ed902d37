"""The continuous-time Markov chain: a rate matrix, its jump chain, transient probabilities
by uniformisation and Gillespie paths on a time grid."""
import math

import numpy as np
import scipy.sparse as sp
import scipy.stats

from .. import backend as _backend
from .. import checks, record, rng
from ._device import Kernels, nbytes
from ._inputs import FAMILY, as_matrix, initial_states, starting_distributions, state_labels
from .chain import MarkovChain

__all__ = ["ContinuousMarkovChain"]


class ContinuousMarkovChain:
    """Continuous-time Markov chain on ``n`` states with rate matrix ``Q`` (rates in 1/s).

    ``Q[i, j] >= 0`` (i != j) is the rate of jumping from ``i`` to ``j``; the diagonal is
    ``-sum_j Q[i, j]``. Given a diagonal that does not make rows sum to 0 (within ``tol`` times
    the largest rate) is an error; ``fill_diagonal=True`` sets it from the off-diagonal rates.
    ``backend`` (``"cpu"``, ``"cuda"`` or ``"auto"``): where :meth:`simulate` runs its Gillespie
    paths (one GPU thread per chain, the CPU's draws from the same seed; ``"auto"`` falls back
    to the CPU with a warning when there is no GPU).
    """

    family = FAMILY

    def __init__(self, Q, labels=None, *, seed=None, tol=1e-8, fill_diagonal=False, backend="cpu"):
        tol = checks.scalar(tol, "tol", low=0, low_open=True)
        self.backend = _backend.resolve(backend)
        dense, csr = as_matrix(Q, "Q")
        if dense is None:
            dense = csr.toarray()  # CTMCs here are dense-sized; the jump chain stays sparse
        Q = dense.copy()
        n = Q.shape[0]
        off = Q.copy()
        np.fill_diagonal(off, 0.0)
        if off.min() < 0:
            i, j = np.unravel_index(np.argmin(off), off.shape)
            raise ValueError(f"Q must have non-negative off-diagonal rates; Q[{i}, {j}] = {off[i, j]:.6g}")
        if fill_diagonal:
            np.fill_diagonal(Q, -off.sum(axis=1))
        scale = max(np.abs(Q).max(), 1e-300)
        err = np.abs(Q.sum(axis=1))
        worst = int(np.argmax(err))
        if err[worst] > tol * scale:
            raise ValueError(f"Q rows must sum to 0 (diagonal = -exit rate) within tol={tol:g}; "
                             f"row {worst} sums to {Q[worst].sum():.6g} (or pass fill_diagonal=True)")
        np.fill_diagonal(Q, -off.sum(axis=1))
        self.Q = Q
        self.n_states = n
        self.labels = state_labels(labels, n)
        self.seed = rng.fresh() if seed is None else seed  # recorded, so an unseeded run repeats
        rng.check(self.seed)  # bad or unrecordable: refused now
        self._jump = None

    @property
    def exit_rates(self):
        """Total rate (n,) of leaving each state, 1/s."""
        return -np.diag(self.Q).copy()

    def __repr__(self):
        on = "" if self.backend == "cpu" else f", backend={self.backend!r}"
        return f"ContinuousMarkovChain(n_states={self.n_states}{on})"

    def _params(self):
        return {"n_states": self.n_states}

    def jump_chain(self):
        """The embedded jump chain: ``P[i, j] = Q[i, j] / q_i``; states with no exit are absorbing."""
        q = self.exit_rates
        P = self.Q.copy()
        np.fill_diagonal(P, 0.0)
        stay = q <= 0
        P[~stay] /= q[~stay, None]
        P[stay, :] = 0.0
        P[stay, np.flatnonzero(stay)] = 1.0
        return MarkovChain(P, labels=self.labels, seed=self.seed, backend=self.backend)

    def _uniformised(self):
        lam = float(self.exit_rates.max())
        lam = lam if lam > 0 else 1.0
        return lam, np.eye(self.n_states) + self.Q / lam

    def stationary(self):
        """The stationary distribution (n,) (``pi Q = 0``) of a chain with one recurrent class."""
        _, P = self._uniformised()
        return MarkovChain(P).stationary()

    def transient(self, times, initial, *, tol=1e-12):
        """Transient probabilities ``p(t) = p(0) exp(Q t)`` by uniformisation.

        ``times``: non-negative times (s); ``initial``: a state, label or distribution (n,).
        The Poisson series is cut where its tail is below ``tol``. Returns a Dataset with
        ``probability`` (time, state).
        """
        t = checks.array(np.atleast_1d(times), "times", ndim=1)
        if t.min() < 0:
            raise ValueError(f"times must be >= 0; got {t.min()}")
        M = starting_distributions(initial, self.n_states, self.labels)
        if M.shape[0] != 1:
            raise ValueError("initial must be one state or one distribution")
        lam, P = self._uniformised()
        mu = lam * t
        K = int(scipy.stats.poisson.isf(tol, mu.max())) + 2 if mu.max() > 0 else 1
        ks = np.arange(K + 1)
        w = scipy.stats.poisson.pmf(ks[None, :], mu[:, None])  # (n_times, K+1)
        out = np.zeros((t.size, self.n_states))
        v = M[0].copy()
        for k in range(K + 1):
            out += w[:, k, None] * v[None, :]
            v = v @ P
        out /= out.sum(axis=1, keepdims=True)
        return record.dataset({"probability": (("time", "state"), out)},
                              {"time": ("time", t, {"units": "s"}), "state": np.arange(self.n_states)},
                              family=FAMILY, model="ContinuousMarkovChain", params=self._params())

    def simulate(self, duration, start=None, n_chains=1, *, dt=None, initial=None, seed=None,
                 progress=False, chunk=None, store=None):
        """Gillespie simulation of ``n_chains`` independent chains over ``[0, duration]`` s.

        ``start``/``initial`` as in :meth:`MarkovChain.simulate`. Returns a Dataset with
        ``path`` (chain, time) the state on a grid of step ``dt`` (default ``duration / 1000``),
        ``occupancy`` (chain, state) time spent in each state (s) and ``jumps`` (chain).
        ``chunk``: grid points per kernel call (default from ``config.CHUNK_WORK``); ``store``:
        a netCDF file the path is appended to chunk by chunk. Ctrl+C stops at the end of a
        chunk: the Dataset then covers ``[0, duration]`` with ``duration`` the last grid time
        reached (``occupancy`` sums to it) and says ``interrupted``.
        """
        duration = checks.scalar(duration, "duration", low=0, low_open=True)
        n_chains = checks.integer(n_chains, "n_chains", low=1)
        dt = duration / 1000 if dt is None else checks.scalar(dt, "dt", low=0, low_open=True)
        seed = self.seed if seed is None else seed
        rng.check(seed)  # refused before the run, not after it
        n_grid = int(math.floor(duration / dt + 1e-9)) + 1
        rates = self.exit_rates
        run = record.Run(n_grid, chunk=chunk, work=n_chains * (1 + math.ceil(rates.max() * dt)),
                         sizes={"chain": n_chains}, grow=("time",), progress=progress,
                         desc="ContinuousMarkovChain", unit="point", store=store)
        # each chain's stream, state, times, jumps, occupancy (per state) and one chunk of its path
        checks.memory(n_chains * (48 + 8 * self.n_states + 8 * run.chunk),
                      f"ContinuousMarkovChain.simulate with n_chains={n_chains}")
        with run:
            if self._jump is None:
                jc = self.jump_chain()
                self._jump = jc._get_tables() if jc.is_sparse else MarkovChain(sp.csr_array(jc.P))._get_tables()
            states = rng.streams(seed, n_chains)
            x = initial_states(self.n_states, self.labels, start, initial, n_chains, states)
            t_last = np.zeros(n_chains)
            t_next = np.full(n_chains, np.nan)  # next jumps, drawn when first needed
            occ = np.zeros((n_chains, self.n_states))
            jumps = np.zeros(n_chains, dtype=np.int64)
            dev = Kernels(self.backend, n_chains)
            carried = (x, t_last, t_next, occ, jumps)  # each chain's state between chunks
            dev.check(nbytes(*self._jump[1:], rates, states, *carried, ((n_chains, run.chunk), np.int64)),
                      f"ContinuousMarkovChain.simulate of {n_chains} chains")
            tables = [dev.put(a) for a in (*self._jump[1:], rates)]
            d_states = dev.put(states)
            d_x, d_t_last, d_t_next, d_occ, d_jumps = (dev.put(a) for a in carried)
            kernel = dev["gillespie"]
            run.track("path", ("chain", "time"), np.int64, {"long_name": "state number"})
            run.track("time", "time", np.float64, {"units": "s"})
            for first, n in run:
                grid = dev.record((n_chains, n), np.int64)
                kernel(*tables, d_x, d_t_last, d_t_next, float(duration), float(dt), np.int64(first),
                       np.int64(n_grid), d_states, grid, d_occ, d_jumps)
                run.keep(path=dev.get(grid), time=np.arange(first, first + n) * dt)
            x, t_last, occ, jumps = (dev.get(a) for a in (d_x, d_t_last, d_occ, d_jumps))
            if run.done < n_grid:  # stopped early: the time spent up to the last grid point reached
                duration = (run.done - 1) * dt if run.done else 0.0
                occ[np.arange(n_chains), x] += np.maximum(duration - t_last, 0.0)
        data = {"occupancy": (("chain", "state"), occ, {"units": "s"}), "jumps": ("chain", jumps)}
        coords = {"chain": np.arange(n_chains), "state": np.arange(self.n_states)}
        return run.dataset(data, coords, family=FAMILY, model="ContinuousMarkovChain",
                           params={**self._params(), "duration": duration, "dt": dt, "n_chains": n_chains},
                           seed=seed, backend=self.backend, attrs={"duration_units": "s"})

    def save(self, path):
        """Write the rate matrix (and labels; the backend in ``attrs``) to netCDF; read it back
        with :meth:`load`."""
        coords = {"state": np.arange(self.n_states), "to_state": np.arange(self.n_states)}
        if self.labels is not None:
            coords["state_label"] = ("state", self.labels.astype(str))
        ds = record.dataset({"Q": (("state", "to_state"), self.Q, {"units": "1/s"})}, coords,
                            family=FAMILY, model="ContinuousMarkovChain", params=self._params(),
                            seed=self.seed, backend=self.backend)
        return record.save(ds, path)

    @classmethod
    def load(cls, path, *, backend="cpu"):
        """Read a chain written by :meth:`save` (``ValueError`` naming the file for anything else).

        ``backend``: where the loaded chain simulates (a file does not choose the machine)."""
        ds = record.open_model(path, "ContinuousMarkovChain", required=["Q"])
        labels = ds["state_label"].values if "state_label" in ds else None
        return cls(ds["Q"].values, labels=labels, seed=rng.from_attr(ds.attrs.get("seed", "none")),
                   backend=backend)
