"""Simulated annealing and fixed-temperature sampling of Ising (and QUBO) energies.

``E(s) = -1/2 s^T J s - h^T s + offset`` over spins ``s_i = +-1``, with symmetric couplings
``J`` given as a dense array or a ``scipy.sparse`` matrix (kept in CSR form). Single-spin-flip
Metropolis or heat-bath (Gibbs) moves, sequential sweeps, many independent reads in parallel
(one random stream each), local fields updated only when a spin flips.

Example::

    J = sk_couplings(512, seed=0)
    ds = IsingAnnealer(J, seed=1).anneal(sweeps=1000, reads=20, beta_range=(0.1, 5.0))
    ds.energy.min() / 512          # about -0.75 (Parisi: -0.7633 at infinite N)
"""
import math
import warnings

import numba
import numpy as np
import scipy.sparse as sp

from .. import backend as _backend
from .. import checks, config, record, rng
from ..backend import SPIN
from ..kernels import annealing as _k

METHODS = {"metropolis": _k.METROPOLIS, "heat_bath": _k.HEAT_BATH, "gibbs": _k.HEAT_BATH}
SCHEDULES = ("geometric", "linear")


def sk_couplings(n, seed=None):
    """Sherrington-Kirkpatrick couplings: symmetric float64 (n, n), ``J_ij ~ N(0, 1/n)`` for
    ``i < j``, zero diagonal. The ground-state energy per spin tends to -0.7633 (Parisi)."""
    n = checks.integer(n, "n", low=2)
    checks.memory(24 * n * n, f"sk_couplings(n={n})")   # the draws, their triangle, the sum
    g = rng.generator(seed)
    a = np.triu(g.standard_normal((n, n)) / math.sqrt(n), 1)
    return a + a.T


def beta_schedule(beta_range, sweeps, schedule="geometric"):
    """Inverse temperatures for ``sweeps`` sweeps from ``beta_range[0]`` (hot) to
    ``beta_range[1]`` (cold): ``"geometric"`` or ``"linear"`` spacing. float64 (sweeps,)."""
    sweeps = checks.integer(sweeps, "sweeps", low=1)
    checks.memory(8 * sweeps, f"a schedule of sweeps={sweeps} inverse temperatures")
    schedule = checks.choice(schedule, "schedule", SCHEDULES)
    if not isinstance(beta_range, (tuple, list, np.ndarray)) or len(beta_range) != 2:
        raise ValueError(f"beta_range must be a pair (beta_hot, beta_cold); got {beta_range!r}")
    b0 = checks.scalar(beta_range[0], "beta_range[0]", low=0, low_open=True)
    b1 = checks.scalar(beta_range[1], "beta_range[1]", low=0, low_open=True)
    if b1 < b0:
        raise ValueError(f"beta_range must cool (beta_range[1] >= beta_range[0]); got {tuple(beta_range)}")
    if sweeps == 1:
        return np.array([b1])
    if schedule == "geometric":
        return np.geomspace(b0, b1, sweeps)
    return np.linspace(b0, b1, sweeps)


def _couplings(J, name="J", symmetrize=False):
    """Validated couplings: (dense, csr_or_None, diagonal). Diagonal is split off (constant)."""
    if sp.issparse(J):
        J = sp.csr_matrix(checks.sparse_real(J, name), dtype=np.float64)
        if J.shape[0] != J.shape[1] or J.shape[0] < 1:
            raise ValueError(f"{name} must be square (n, n); got shape {J.shape}")
        if not np.all(np.isfinite(J.data)):
            raise ValueError(f"{name} must be finite; it holds NaN or inf")
        asym = abs(J - J.T)
        if asym.nnz and asym.max() > 1e-12 * max(1.0, abs(J).max()):
            if not symmetrize:
                raise ValueError(f"{name} must be symmetric (J == J.T); pass symmetrize=True to use (J + J.T) / 2")
            warnings.warn(f"{name} is not symmetric: using (J + J.T) / 2", RuntimeWarning, stacklevel=3)
            J = ((J + J.T) * 0.5).tocsr()
        diag = J.diagonal().copy()
        J = J.tolil()
        J.setdiag(0.0)
        J = J.tocsr()
        J.eliminate_zeros()
        J.sort_indices()
        return None, J, diag
    J = checks.array(J, name, ndim=2, finite=False)  # (finite: checked in the pass below)
    if J.shape[0] != J.shape[1]:
        raise ValueError(f"{name} must be square (n, n); got shape {J.shape}")
    asym, big, finite = _k.coupling_check(J)
    if not finite:
        raise ValueError(f"{name} must be finite; it holds NaN or inf")
    if not asym <= 1e-12 * max(1.0, big):
        if not symmetrize:
            raise ValueError(f"{name} must be symmetric (J == J.T); pass symmetrize=True to use (J + J.T) / 2")
        warnings.warn(f"{name} is not symmetric: using (J + J.T) / 2", RuntimeWarning, stacklevel=3)
        J = 0.5 * (J + J.T)
    diag = np.diag(J).copy()
    J = J.copy()
    np.fill_diagonal(J, 0.0)
    return np.ascontiguousarray(J), None, diag


class IsingAnnealer:
    """Simulated annealing and Boltzmann sampling of ``E(s) = -1/2 s^T J s - h^T s + offset``.

    Parameters
    ----------
    J : array (n, n) or scipy.sparse matrix
        Symmetric couplings. A non-symmetric ``J`` is a ``ValueError`` unless
        ``symmetrize=True`` (then ``(J + J.T) / 2`` is used, with a warning). Diagonal entries
        only add the constant ``-1/2 sum_i J_ii`` (since ``s_i^2 = 1``).
    h : array (n,), optional
        External fields (default zeros).
    offset : float
        Constant added to every energy.
    seed : int, SeedSequence or None
        Seed of the per-read random streams and random start states (None: each run draws a
        fresh seed and records it in ``attrs["seed"]``).
    backend : {"cpu", "cuda", "auto"}
        Where the sweeps run. CUDA: dense couplings a block of threads per read, sparse ones a
        thread per read; the same spins, energies, traces and samples as the CPU for the same
        seed. ``"cuda"`` without a GPU is a ``ValueError``; ``"auto"`` falls back to the CPU
        with a warning.
    """

    family = "BM"

    def __init__(self, J, h=None, *, offset=0.0, symmetrize=False, seed=None, backend="cpu"):
        dense, csr, diag = _couplings(J, symmetrize=symmetrize)
        self.n = int(diag.shape[0])
        self.h = np.zeros(self.n) if h is None else checks.array(h, "h", shape=(self.n,))
        self.offset = checks.scalar(offset, "offset") - 0.5 * float(diag.sum())
        self._dense, self._csr = dense, csr
        rng.sequence(seed)  # validate now
        self.seed = seed
        self.backend = _backend.resolve(backend)

    @classmethod
    def from_qubo(cls, Q, *, offset=0.0, seed=None, backend="cpu"):
        """Annealer for the QUBO energy ``E(x) = x^T Q x + offset`` over ``x_i in {0, 1}``.

        ``Q`` (n, n) dense, any triangle. Spins map to bits by ``x = (s + 1) / 2``; use
        :meth:`to_bits` on the returned spins.
        """
        Q = checks.array(Q, "Q", ndim=2)
        if Q.shape[0] != Q.shape[1]:
            raise ValueError(f"Q must be square (n, n); got shape {Q.shape}")
        Qs = 0.5 * (Q + Q.T)
        J = -0.5 * Qs
        np.fill_diagonal(J, 0.0)
        h = -0.5 * Qs.sum(axis=1)
        const = 0.25 * float(np.trace(Qs)) + 0.25 * float(Qs.sum())
        return cls(J, h, offset=checks.scalar(offset, "offset") + const, seed=seed, backend=backend)

    @staticmethod
    def to_bits(spins):
        """Bits ``(s + 1) / 2`` (int8) from +-1 spins."""
        return ((np.asarray(spins) + 1) // 2).astype(np.int8)

    @property
    def couplings(self):
        """The couplings as used (zero diagonal): dense array or CSR matrix."""
        return self._dense if self._csr is None else self._csr

    def energy(self, spins):
        """Energies of +-1 ``spins`` (n,) or (m, n): float or float64 (m,)."""
        s = checks.array(spins, "spins", ndim=(1, 2))
        if s.shape[-1] != self.n:
            raise ValueError(f"spins must have {self.n} columns; got shape {s.shape}")
        if not np.all(np.abs(s) == 1):
            raise ValueError("spins must hold only -1 and +1")
        s2 = np.atleast_2d(s)
        Js = (self.couplings @ s2.T).T
        e = -0.5 * np.einsum("ij,ij->i", s2, Js) - s2 @ self.h + self.offset
        return float(e[0]) if s.ndim == 1 else e

    def default_beta_range(self):
        """``(beta_hot, beta_cold)`` chosen from the couplings.

        Hot: the largest single-flip energy change ``2 (|h_i| + sum_j |J_ij|)`` is accepted with
        probability 1/2. Cold: for the unit whose strongest term ``max(|h_i|, max_j |J_ij|)`` is
        weakest, flipping against that term (``dE = 2 x`` that term) is accepted with
        probability 1/100. (This cold end follows the typical coupling, not the smallest one,
        which for Gaussian couplings would make most sweeps a quench.)
        """
        A = abs(self.couplings)
        row_sum = np.asarray(A.sum(axis=1)).ravel() + np.abs(self.h)
        row_max = np.maximum(np.asarray(A.max(axis=1).toarray() if sp.issparse(A) else A.max(axis=1)).ravel(),
                             np.abs(self.h))
        if not np.any(row_sum > 0):
            return 0.1, 1.0  # no energy at all: any schedule samples uniformly
        hot = math.log(2.0) / (2.0 * row_sum.max())
        weakest = row_max[row_max > 0].min()
        cold = max(math.log(100.0) / (2.0 * weakest), hot)
        return hot, cold

    # ----------------------------------------------------------------------------- running

    def _initial(self, reads, initial, seed):
        if initial is None:
            g = rng.generator(seed)
            return np.where(g.random((reads, self.n)) < 0.5, -1, 1).astype(SPIN)
        s = checks.array(initial, "initial", ndim=(1, 2), dtype=None)
        if s.shape[-1] == self.n and (s.ndim == 1 or s.shape[0] == 1):
            s = np.broadcast_to(np.atleast_2d(s), (reads, self.n))
        if s.shape != (reads, self.n):
            raise ValueError(f"initial must have shape ({self.n},) or ({reads}, {self.n}); got {np.shape(initial)}")
        if not np.all(np.abs(s) == 1):
            raise ValueError("initial must hold only -1 and +1 spins")
        return np.array(s, dtype=SPIN, order="C")  # a copy: the kernel updates it in place

    def _run(self, betas, reads, method, trace, skip, keep, initial, progress, desc, params, store):
        """Sweep ``reads`` chains through ``betas`` in chunks of a :class:`record.Run`: the
        trace (``trace``) and the states after sweep ``skip + keep - 1`` and every ``keep``-th
        after it (``keep > 0``) are kept per chunk; returns the run's Dataset. Without a seed,
        a fresh one is drawn and recorded, so that the run can be repeated."""
        seed = rng.fresh() if self.seed is None else self.seed
        method_code = METHODS[checks.choice(method, "method", tuple(METHODS))]
        n, total = self.n, betas.shape[0]
        grow = ("sweep", "sample") if keep else ("sweep",)
        run = record.Run(total, work=config.ANNEAL_WORK_PER_SPIN * n * reads,
                         sizes={"chain": reads, "unit": n}, grow=grow, progress=progress,
                         desc=desc, unit="sweep", store=store)
        steps = min(run.chunk, total)
        per_chunk = (2 * reads * steps * 8 if trace else 0) + \
            (reads * (steps // keep + 1) * (n + 8) if keep else 0)
        # spins (int8), fields, energies, streams and the random start states' draws of every
        # read, and one chunk's records
        checks.memory(reads * (17 * n + 40) + per_chunk, f"{desc} with reads={reads} of {n} spins")
        with run:
            states = rng.streams(seed, reads)
            spins = self._initial(reads, initial, seed)
            fields = np.empty((reads, n))
            if self._csr is None:
                J, data, sparse = self._dense, np.zeros(1), False
                indptr = indices = np.zeros(1, np.int64)
                _k.local_fields_dense(J, self.h, spins, fields)
            else:
                J = np.zeros((1, 1))
                indptr = self._csr.indptr.astype(np.int64)
                indices = self._csr.indices.astype(np.int64)
                data = self._csr.data.astype(np.float64)
                sparse = True
                _k.local_fields_csr(indptr, indices, data, self.h, spins, fields)
            energy = _k.ising_energy(spins, fields, self.h)
            block = np.int64(-(-reads // numba.get_num_threads()))  # one block of reads per thread
            dev, kernel = self._device(sparse, reads)
            dev.check(dev.nbytes(J, indptr, indices, data, betas, spins, fields, energy, states, per_chunk),
                      "this annealing run")
            d_J, d_indptr, d_indices, d_data, d_betas, d_spins, d_fields, d_energy, d_states = (
                dev.put(a) for a in (J, indptr, indices, data, betas, spins, fields, energy, states))
            run.track("sweep", ("sweep",), np.int64)
            run.track("beta", ("sweep",), np.float64, {"long_name": "inverse temperature"})
            if trace:
                run.track("energy_trace", ("chain", "sweep"), np.float64,
                          {"long_name": "energy after each sweep (the model's own units)", "units": "1"})
                run.track("magnetisation", ("chain", "sweep"), np.float64,
                          {"long_name": "mean spin after each sweep", "units": "1"})
            if keep:
                run.track("samples", ("chain", "sample", "unit"), SPIN,
                          {"long_name": "kept states (+-1)", **record.flags("bipolar")})
                run.track("sample_energy", ("chain", "sample"), np.float64,
                          {"long_name": "energy of kept states (the model's own units)", "units": "1"})
            for start, steps in run:
                stop = start + steps
                width = steps if trace else 0
                etr, mtr = dev.empty((reads, width)), dev.empty((reads, width))
                kept = max(stop - skip, 0) // keep - max(start - skip, 0) // keep if keep else 0
                samples, s_energy = dev.empty((reads, kept, n if keep else 0), SPIN), dev.empty((reads, kept))
                kernel(d_J, d_indptr, d_indices, d_data, sparse, d_betas, np.int64(start),
                       np.int64(stop), np.int64(method_code), d_spins, d_fields, d_energy,
                       bool(trace), etr, mtr, np.int64(skip), np.int64(keep), samples, s_energy,
                       d_states, block)
                run.keep(sweep=np.arange(start, stop), beta=betas[start:stop])
                if trace:
                    run.keep(energy_trace=dev.get(etr) + self.offset, magnetisation=dev.get(mtr))
                if keep:
                    run.keep(samples=dev.get(samples), sample_energy=dev.get(s_energy) + self.offset)
            spins, energy = dev.get(d_spins), dev.get(d_energy)

        data = {
            "spins": (("chain", "unit"), spins, {"long_name": "final spins (+-1)", **record.flags("bipolar")}),
            "energy": (("chain",), energy + self.offset,
                       {"long_name": "final energy (the model's own units)", "units": "1"}),
        }
        coords = {"chain": np.arange(reads), "unit": np.arange(n)}
        p = {"n": n, "method": method, "sparse": self._csr is not None, "offset": self.offset}
        p.update(params)
        return run.dataset(data, coords, family=self.family, model=type(self).__name__, params=p,
                           seed=seed, backend=self.backend,
                           attrs={"main": "energy_trace energy" if trace else "energy"})

    def _device(self, sparse, reads):
        """This annealer's backend (a :class:`neurosim.backend.Device`) and its annealing kernel:
        on CUDA a block of threads per read for dense couplings, a thread per read for sparse
        ones."""
        dev = _backend.Device(self.backend, "annealing")
        if sparse:
            return dev, dev.items("anneal", reads, config.ANNEAL_CUDA_SPARSE_THREADS)
        return dev, dev.kernel("anneal", reads, config.ANNEAL_CUDA_DENSE_THREADS)

    def anneal(self, sweeps=1000, reads=10, *, beta_range=None, schedule="geometric", betas=None,
               method="metropolis", trace=False, initial=None, progress=False, store=None):
        """Simulated annealing: ``reads`` independent runs of ``sweeps`` sweeps, cooling.

        Parameters
        ----------
        sweeps : int
            Sweeps per read (one sweep = one update attempt per spin, in order).
        reads : int
            Independent reads, run in parallel, one random stream each.
        beta_range : (float, float), optional
            ``(beta_hot, beta_cold)``, > 0 and non-decreasing; default :meth:`default_beta_range`.
        schedule : {"geometric", "linear"}
            Spacing of the betas between the ends of ``beta_range``.
        betas : array (sweeps,), optional
            A custom non-decreasing schedule of inverse temperatures (> 0); overrides the above.
        method : {"metropolis", "heat_bath"}
            Single-flip acceptance rule.
        trace : bool
            Also record the energy and magnetisation per spin after every sweep.
        initial : array (n,) or (reads, n) of +-1, optional
            Start states (default: uniformly random).
        progress : bool
            Show a progress bar; Ctrl+C stops after the current chunk (``attrs["interrupted"]``).
        store : path, optional
            A netCDF file: the per-sweep records are appended to it chunk by chunk and the
            Dataset is returned opened lazily from it (close it when done).

        Returns
        -------
        xarray.Dataset
            ``spins`` (chain, unit) int8, ``energy`` (chain), ``beta`` (sweep) and with
            ``trace`` ``energy_trace`` (chain, sweep) and ``magnetisation`` (chain, sweep).
        """
        if betas is not None:
            b = checks.array(betas, "betas", ndim=1)
            if np.any(b <= 0):
                raise ValueError(f"betas must all be > 0 (temperature > 0); got min {b.min()}")
            if np.any(np.diff(b) < 0):
                raise ValueError("betas must be non-decreasing for annealing (temperature must not rise); "
                                 "use sample() for a fixed temperature")
        else:
            br = self.default_beta_range() if beta_range is None else beta_range
            b = beta_schedule(br, sweeps, schedule)
        reads = checks.integer(reads, "reads", low=1)
        params = {"sweeps": int(b.shape[0]), "reads": reads, "beta_hot": float(b[0]),
                  "beta_cold": float(b[-1]), "schedule": "custom" if betas is not None else schedule}
        return self._run(np.ascontiguousarray(b, dtype=np.float64), reads, method, trace, 0, 0, initial,
                         progress, "annealing", params, store)

    def sample(self, beta=None, samples=1000, reads=1, *, temperature=None, burn_in=100, thin=1,
               method="heat_bath", trace=False, initial=None, progress=False, store=None):
        """Samples from the Boltzmann distribution ``p(s) ~ exp(-beta E(s))`` at a fixed temperature.

        Give ``beta`` (> 0) or ``temperature`` (> 0, ``beta = 1/temperature``). Each of the
        ``reads`` chains runs ``burn_in`` sweeps, then keeps its state after every ``thin``-th
        sweep until it has ``samples`` states. ``store``: as for :meth:`anneal`.

        Returns an ``xarray.Dataset`` with ``samples`` (chain, sample, unit) int8 and
        ``sample_energy`` (chain, sample), plus ``spins`` and ``energy`` (the final state).
        """
        if (beta is None) == (temperature is None):
            raise ValueError("give exactly one of beta and temperature")
        if temperature is not None:
            beta = 1.0 / checks.scalar(temperature, "temperature", low=0, low_open=True)
        beta = checks.scalar(beta, "beta", low=0, low_open=True)
        samples = checks.integer(samples, "samples", low=1)
        burn_in = checks.integer(burn_in, "burn_in", low=0)
        thin = checks.integer(thin, "thin", low=1)
        checks.memory(8 * (burn_in + samples * thin),
                      f"the inverse temperatures of burn_in + samples * thin = {burn_in + samples * thin} sweeps")
        b = np.full(burn_in + samples * thin, beta)
        reads = checks.integer(reads, "reads", low=1)
        params = {"beta": beta, "temperature": 1.0 / beta, "samples": samples, "reads": reads,
                  "burn_in": burn_in, "thin": thin}
        return self._run(b, reads, method, trace, burn_in, thin, initial, progress, "sampling", params,
                         store)
