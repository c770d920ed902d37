"""The discrete-time Markov chain: its matrix, simulation of its paths and its distribution
over time; persistence.

``MarkovChain(P)`` takes a row-stochastic transition matrix, dense or ``scipy.sparse``. It
simulates one long chain or many chains in parallel (compiled, one random stream per chain, O(1)
alias-table sampling per step) and propagates distributions exactly (``p_{t+1} = p_t P``, total
variation to stationarity, the mixing time). Its graph structure, stationary distributions,
absorption and hitting come from :class:`~neurosim.markov.structure.Structure`, estimation from
data from :class:`~neurosim.markov.fit.Fitting`.
"""
import numpy as np
import scipy.sparse as sp

from .. import backend as _backend
from .. import checks, config, record, rng
from ..kernels import markov as _k
from ._device import Kernels, nbytes
from ._inputs import FAMILY, as_matrix, initial_states, starting_distributions, state_index, state_labels
from .fit import Fitting
from .structure import Structure

__all__ = ["MarkovChain"]


class MarkovChain(Structure, Fitting):
    """Discrete-time Markov chain on ``n`` states.

    Parameters
    ----------
    P : (n, n) array-like or scipy.sparse matrix
        Transition probabilities, ``P[i, j] = Pr(X_{t+1} = j | X_t = i)``: non-negative, each
        row summing to 1 within ``tol`` (rows are then renormalised exactly).
    labels : sequence of n names, optional
        State names; any method taking a state also takes its label.
    seed : int >= 0, SeedSequence or None
        Default seed of :meth:`simulate` (the same seed gives the same paths on any number of
        threads); None draws a fresh one, kept as ``seed`` and recorded in results.
    tol : float
        Tolerance on row sums.
    backend : ``"cpu"``, ``"cuda"`` or ``"auto"``
        Where :meth:`simulate` runs: ``"cuda"`` runs one GPU thread per chain (the same paths
        as the CPU, state for state, from the same seed); ``"auto"`` takes the GPU when there
        is one and falls back to the CPU with a warning. Analysis runs on the CPU.
    """

    family = FAMILY

    def __init__(self, P, labels=None, *, seed=None, tol=1e-8, backend="cpu"):
        tol = checks.scalar(tol, "tol", low=0, low_open=True)
        self.backend = _backend.resolve(backend)
        dense, csr = as_matrix(P, "P")
        vals = dense if dense is not None else csr.data
        if vals.size and vals.min() < 0:
            where = tuple(int(i) for i in np.unravel_index(np.argmin(dense), dense.shape)) if dense is not None else None
            at = f" at P[{where[0]}, {where[1]}]" if where is not None else ""
            raise ValueError(f"P must be non-negative; smallest entry {vals.min():.6g}{at}")
        rows = dense.sum(axis=1) if dense is not None else np.asarray(csr.sum(axis=1)).ravel()
        err = np.abs(rows - 1.0)
        worst = int(np.argmax(err))
        if err[worst] > tol:
            raise ValueError(f"P must be row-stochastic (rows summing to 1 within tol={tol:g}); "
                             f"row {worst} sums to {rows[worst]:.12g}")
        if dense is not None:
            self._dense = dense / rows[:, None]
            self._csr_cache = None  # made when the analysis first needs it
        else:
            self._dense = None
            self._csr_cache = sp.csr_array(sp.diags_array(1.0 / rows) @ csr)
            self._csr_cache.eliminate_zeros()
            self._csr_cache.sort_indices()
        self.n_states = int(rows.shape[0])
        self.labels = state_labels(labels, self.n_states)
        self.seed = rng.fresh() if seed is None else seed  # recorded, so an unseeded run repeats
        rng.check(self.seed)  # bad or unrecordable: refused now
        self._tables = None
        self._structure = None

    # ------------------------------------------------------------------ basics
    @property
    def _csr(self):
        """The matrix in CSR form, what the graph analysis reads; made from a dense matrix at
        the first use (a dense chain that is only simulated never holds the copy)."""
        if self._csr_cache is None:
            self._csr_cache = sp.csr_array(self._dense)
        return self._csr_cache

    @property
    def is_sparse(self):
        """True when the chain was given (and is simulated) as a sparse matrix."""
        return self._dense is None

    @property
    def P(self):
        """The transition matrix: a dense ``ndarray`` or a ``scipy.sparse.csr_array``."""
        return self._dense if self._dense is not None else self._csr

    def to_dense(self):
        """The transition matrix as a dense (n, n) float64 array."""
        return self._dense if self._dense is not None else self._csr.toarray()

    def __repr__(self):
        kind = "sparse" if self.is_sparse else "dense"
        on = "" if self.backend == "cpu" else f", backend={self.backend!r}"
        nnz = self._csr.nnz if self._dense is None else np.count_nonzero(self._dense)
        return f"MarkovChain(n_states={self.n_states}, {kind}, nnz={nnz}{on})"

    def _state(self, x, name="start"):
        return state_index(x, self.n_states, self.labels, name)

    def _params(self):
        return {"n_states": self.n_states, "sparse": self.is_sparse}

    # ------------------------------------------------------------------ simulation
    def _get_tables(self):
        if self._tables is None:
            n = self.n_states
            if self._dense is not None:
                table = np.empty((n, n), dtype=np.uint64)
                _k.dense_packed(self._dense, table)
                self._tables = ("dense", table)
            else:
                c = self._csr
                indptr = c.indptr.astype(np.int64)
                indices = c.indices.astype(np.int64)
                cdf = np.empty(c.nnz)
                prob = np.empty(c.nnz)
                alias = np.empty(c.nnz, dtype=np.int64)
                _k.csr_tables(indptr, indices, c.data, cdf, prob, alias)
                self._tables = ("csr", indptr, indices, cdf, prob, alias)
        return self._tables

    def simulate(self, n_steps, start=None, n_chains=1, *, initial=None, every=1, seed=None,
                 progress=False, chunk=None, store=None):
        """Simulate ``n_chains`` independent chains for ``n_steps`` steps each.

        Parameters
        ----------
        n_steps : int >= 0
            Steps per chain.
        start : state, label or sequence of ``n_chains`` states, optional
            Starting state(s). If neither ``start`` nor ``initial`` is given the starting states
            are drawn uniformly.
        n_chains : int >= 1
            Independent chains, chain ``c`` drawing from random stream ``c`` (run in parallel).
        initial : (n,) probability vector, optional
            Distribution the starting states are drawn from.
        every : int >= 1
            Record the state every ``every`` steps (steps 0, every, 2 every, ...).
        seed : optional
            Overrides the chain's seed for this run.
        progress, chunk :
            Progress bar; steps per kernel call (default ``config.CHUNK_WORK // n_chains``;
            Ctrl+C stops after the current chunk, and the Dataset says ``interrupted``).
        store : path, optional
            netCDF file the path is appended to chunk by chunk; the Dataset is then read
            lazily from it.

        Returns
        -------
        xarray.Dataset
            ``path`` (chain, step) int64 state numbers; ``step`` coordinate; ``state_label``
            (state) when the chain has labels. Chunking, ``every`` and the thread count do not
            change the path.
        """
        n_steps = checks.integer(n_steps, "n_steps", low=0)
        n_chains = checks.integer(n_chains, "n_chains", low=1)
        every = checks.integer(every, "every", low=1)
        if seed is None:
            seed = self.seed  # (checked when the chain was made)
        else:
            rng.check(seed)  # refused before the run, not after it
        run = record.Run(n_steps, chunk=chunk, work=n_chains, every=every, sizes={"chain": n_chains},
                         grow=("step",), progress=progress, desc="MarkovChain", unit="step", store=store)
        need = n_chains * (24 + 8 * (run.chunk // every + 1))  # streams, states, a chunk of path
        if need > config.RECORD_MEMORY_FLOOR:  # (reading the memory free takes 20 us)
            checks.memory(need, f"MarkovChain.simulate with n_chains={n_chains}")
        attrs = {"long_name": "state number"}
        with run:
            run.track("path", ("chain", "step"), np.int64, attrs)  # (the run streams what would
            run.track("step", "step", np.int64)                    # not fit in memory)
            # in memory (no store, nothing streamed): the kernel writes straight into the path
            # of the result, (chain, step) for all steps; else a chunk at a time, then kept
            whole = run.store is None
            states = rng.streams(seed, n_chains)
            x = initial_states(self.n_states, self.labels, start, initial, n_chains, states)
            tables = self._get_tables()
            dev = Kernels(self.backend, n_chains)
            # one dense chain on the CPU: the prefetching kernel (the same path, faster)
            one = (dev.cuda is None and tables[0] == "dense" and n_chains == 1
                   and self.n_states >= config.MARKOV_PREFETCH_MIN_STATES)
            kernel = dev["run_dense_one" if one else "run_" + tables[0]]
            if dev.cuda is not None:
                dev.check(nbytes(*tables[1:], x, states, ((n_chains, run.chunk // every), np.int64)),
                          f"MarkovChain.simulate of {n_chains} chains")
            args = [dev.put(a) for a in tables[1:]]
            d_x, d_states = dev.put(x), dev.put(states)
            if whole:
                path = np.empty((n_chains, n_steps // every + 1), np.int64)
                path[:, 0] = x
            else:
                run.keep(path=x[:, None], step=[0])
            for first, n in run:  # steps first + 1 .. first + n; chunks are multiples of every
                j, k = first // every + 1, n // every
                out = path[:, j:j + k] if whole and dev.cuda is None else dev.record((n_chains, k), np.int64)
                kernel(*args, d_x, np.int64(n), np.int64(every), d_states, out[0] if one else out)
                if not whole:
                    run.keep(path=dev.get(out), step=every * np.arange(j, j + k, dtype=np.int64))
                elif dev.cuda is not None:
                    path[:, j:j + k] = dev.get(out)
        coords = {"chain": range(n_chains)}
        if self.labels is not None:
            coords["state_label"] = ("state", self.labels)
        meta = dict(family=FAMILY, model="MarkovChain", seed=seed, backend=self.backend, attrs={"main": "path"},
                    params={**self._params(), "n_steps": run.done, "every": every, "n_chains": n_chains})
        if not whole:
            return run.dataset({}, coords, **meta)
        rows = run.done // every + 1  # fewer than allocated when interrupted
        coords["step"] = range(rows) if every == 1 else np.arange(0, every * rows, every, dtype=np.int64)
        return record.dataset({"path": (("chain", "step"), path[:, :rows], attrs)}, coords,
                              interrupted=run.interrupted, **meta)

    # ------------------------------------------------------------------ transient behaviour
    def _propagate(self, M):
        return M @ self._dense if self._dense is not None else (self._csr.T @ M.T).T

    def distribution(self, n_steps, initial):
        """Distributions ``p_t = p_0 P^t`` for ``t = 0 .. n_steps``.

        ``initial`` is a state, a label or a probability vector (n,). Returns a Dataset with
        ``probability`` (step, state).
        """
        n_steps = checks.integer(n_steps, "n_steps", low=0)
        checks.memory(8 * (n_steps + 1) * (self.n_states + 1), f"distribution(n_steps={n_steps}) of "
                      f"{self.n_states} states")
        M = starting_distributions(initial, self.n_states, self.labels)
        if M.shape[0] != 1:
            raise ValueError("initial must be one state or one distribution")
        out = np.empty((n_steps + 1, self.n_states))
        out[0] = M[0]
        for t in range(n_steps):
            out[t + 1] = self._propagate(out[t:t + 1])[0]
        return record.dataset({"probability": (("step", "state"), out)},
                              {"step": np.arange(n_steps + 1), "state": np.arange(self.n_states)},
                              family=FAMILY, model="MarkovChain", params=self._params())

    def tv_distance(self, n_steps, starts=None):
        """Total-variation distance to stationarity over time.

        ``starts``: states (or labels) or probability vectors (k, n) to start from; all states
        by default. Returns a Dataset with ``tv`` (start, step) ``||p_t - pi||_TV`` and ``worst``
        (step) the maximum over starts, ``d(t)``.
        """
        n_steps = checks.integer(n_steps, "n_steps", low=0)
        pi = self.stationary()
        M = starting_distributions(starts, self.n_states, self.labels, "starts")
        checks.memory(8 * (n_steps + 1) * (M.shape[0] + 2), f"tv_distance(n_steps={n_steps}) from "
                      f"{M.shape[0]} starts")
        tv = np.empty((M.shape[0], n_steps + 1))
        for t in range(n_steps + 1):
            if t:
                M = self._propagate(M)
            tv[:, t] = 0.5 * np.abs(M - pi).sum(axis=1)
        return record.dataset({"tv": (("start", "step"), tv), "worst": ("step", tv.max(axis=0))},
                              {"start": np.arange(tv.shape[0]), "step": np.arange(n_steps + 1)},
                              family=FAMILY, model="MarkovChain", params=self._params())

    def mixing_time(self, eps=0.25, *, max_steps=100_000):
        """Smallest ``t`` with ``max_x ||P^t(x, .) - pi||_TV <= eps`` (all start states).

        Needs an irreducible aperiodic chain; ``RuntimeError`` when not reached in ``max_steps``.
        """
        eps = checks.scalar(eps, "eps", low=0, high=1, low_open=True, high_open=True)
        max_steps = checks.integer(max_steps, "max_steps", low=1)
        if not (self.is_irreducible and self.is_aperiodic):
            raise ValueError("mixing_time needs an irreducible aperiodic chain")
        pi = self.stationary()
        M = np.eye(self.n_states)
        for t in range(max_steps + 1):
            if t:
                M = self._propagate(M)
            if 0.5 * np.abs(M - pi).sum(axis=1).max() <= eps:
                return t
        raise RuntimeError(f"total variation did not fall to eps={eps:g} within max_steps={max_steps}")

    # ------------------------------------------------------------------ persistence
    def save(self, path):
        """Write the chain (matrix, labels, seed; its backend in ``attrs``) to netCDF; read it
        back with :meth:`load`."""
        c = self._csr
        data = {"indptr": ("row_ptr", c.indptr.astype(np.int64)),
                "indices": ("nonzero", c.indices.astype(np.int64)),
                "data": ("nonzero", c.data)}
        coords = {}
        if self.labels is not None:
            coords["state_label"] = ("state", self.labels.astype(str))
        ds = record.dataset(data, coords, family=FAMILY, model="MarkovChain", params=self._params(),
                            seed=self.seed, backend=self.backend)
        return record.save(ds, path)

    @classmethod
    def load(cls, path, *, backend="cpu"):
        """Read a chain written by :meth:`save` (``ValueError`` naming the file for anything else).

        ``backend``: where the loaded chain simulates (a file does not choose the machine)."""
        ds = record.open_model(path, "MarkovChain", required=["indptr", "indices", "data", "n_states", "sparse"])
        n = int(ds.attrs["n_states"])
        csr = sp.csr_array((ds["data"].values, ds["indices"].values, ds["indptr"].values), shape=(n, n))
        labels = ds["state_label"].values if "state_label" in ds else None
        P = csr if int(ds.attrs["sparse"]) else csr.toarray()
        return cls(P, labels=labels, seed=rng.from_attr(ds.attrs.get("seed", "none")), backend=backend)
