"""Boltzmann machine (BM): fully connected stochastic binary units, some visible, some hidden.

Units ``x_i`` in {0, 1}, the ``n_visible`` visible units first, then ``n_hidden`` hidden ones;
energy ``E(x) = -1/2 x^T W x - b^T x`` with symmetric ``W`` (all-to-all, no self-loops:
:func:`neurosim.connect.complete`) and ``p(x) ~ exp(-E(x) / T)``. Learning is the Boltzmann rule
(Ackley, Hinton and Sejnowski, 1985): ``dW ~ <x x^T>_clamped - <x x^T>_free``, the clamped phase
with the visible units fixed to data and the hidden ones sampled, the free phase from persistent
chains. Sampling is sequential heat-bath (Gibbs) with local fields updated only on flips.

Example::

    bm = BoltzmannMachine(4, 2, seed=0).fit(data, epochs=200)
    bm.log_likelihood(data).mean()       # exact (enumeration) for small machines
"""

import functools

import numpy as np
from scipy.special import logsumexp

from .. import backend as _backend
from .. import checks, config, connect, record, rng
from ..backend import SPIN

MAX_ENUMERATE = 22


class BoltzmannMachine:
    """Boltzmann machine with ``n_visible`` visible and ``n_hidden`` hidden binary (0/1) units.

    Parameters
    ----------
    n_visible : int (>= 1); n_hidden : int (>= 0)
    temperature : float
        Sampling temperature ``T > 0`` (``p ~ exp(-E / T)``).
    init_scale : float
        Initial weights ``N(0, init_scale^2)``, symmetrised; biases start at zero.
    seed : int, SeedSequence or None
    backend : {"cpu", "cuda", "auto"}
        Where the Gibbs sweeps of :meth:`sample` and :meth:`fit` run. CUDA: a block of threads
        per chain, the same states as the CPU for the same seed. ``"cuda"`` without a GPU is a
        ``ValueError``; ``"auto"`` falls back to the CPU with a warning.

    Attributes
    ----------
    W : float64 (n, n) symmetric, zero diagonal; bias : float64 (n,); history : Dataset (epoch).
    """

    family = "BM"

    def __init__(self, n_visible, n_hidden=0, *, temperature=1.0, init_scale=0.01, seed=None,
                 backend="cpu"):
        self.n_visible = checks.integer(n_visible, "n_visible", low=1)
        self.n_hidden = checks.integer(n_hidden, "n_hidden", low=0)
        self.n = self.n_visible + self.n_hidden
        # the weights and their construction (a mask, a triangle, the sum): four n x n arrays
        checks.memory(32 * self.n ** 2, f"BoltzmannMachine(n_visible={self.n_visible}, n_hidden={self.n_hidden})")
        self.temperature = checks.scalar(temperature, "temperature", low=0, low_open=True)
        init_scale = checks.scalar(init_scale, "init_scale", low=0)
        self.seed = seed
        self._seq = rng.sequence(seed)
        W = connect.complete(self.n, weights="normal", loc=0.0, scale=init_scale, seed=self._child(0))
        W = np.triu(W, 1)
        self.W = np.ascontiguousarray(W + W.T)
        self.bias = np.zeros(self.n)
        self.history = None
        self._calls = 0
        self._free = None  # persistent free-phase chains
        self.backend = _backend.resolve(backend)

    def _child(self, tag):
        return rng.child(self._seq, tag)

    def _streams(self, n):
        self._calls += 1
        return rng.streams(self._child(1000 + self._calls), n)

    def _gen(self):
        self._calls += 1
        return np.random.default_rng(self._child(2000 + self._calls))

    def _params(self):
        return {"n_visible": self.n_visible, "n_hidden": self.n_hidden, "temperature": self.temperature}

    def _check_visible(self, v, name="v"):
        v = checks.array(v, name, ndim=(1, 2))
        v2 = np.atleast_2d(v)
        if v2.shape[1] != self.n_visible:
            raise ValueError(f"{name} must have {self.n_visible} columns (visible units); got shape {v.shape}")
        if not np.all((v2 == 0) | (v2 == 1)):
            raise ValueError(f"{name} must be binary (0 or 1) for a Boltzmann machine's units")
        return v2, v.ndim == 1

    # ------------------------------------------------------------------ energies

    def energy(self, x):
        """``E(x) = -1/2 x^T W x - b^T x`` for 0/1 states ``x`` (n,) or (m, n)."""
        x = checks.array(x, "x", ndim=(1, 2))
        x2 = np.atleast_2d(x)
        if x2.shape[1] != self.n:
            raise ValueError(f"x must have {self.n} columns (all units); got shape {x.shape}")
        e = -0.5 * np.einsum("ij,ij->i", x2 @ self.W, x2) - x2 @ self.bias
        return float(e[0]) if x.ndim == 1 else e

    def _check_small(self):
        if self.n > MAX_ENUMERATE:
            raise ValueError(f"exact enumeration needs at most {MAX_ENUMERATE} units; this machine has {self.n}")

    def _log_marginals(self):
        """Unnormalised ``log sum_h exp(-E(v, h) / T)`` for every visible vector, float64
        (2**n_visible,), visible vector ``v`` at index ``sum_i v_i 2**(n_visible - 1 - i)``."""
        self._check_small()
        nv, nh, T = self.n_visible, self.n_hidden, self.temperature
        H = ((np.arange(1 << nh)[:, None] >> np.arange(nh - 1, -1, -1)) & 1).astype(np.float64)
        out = np.empty(1 << nv)
        step = max(1, config.BM_ENUMERATE_ROWS >> nh)
        for start in range(0, 1 << nv, step):
            idx = np.arange(start, min(start + step, 1 << nv))
            V = ((idx[:, None] >> np.arange(nv - 1, -1, -1)) & 1).astype(np.float64)
            X = np.concatenate([np.repeat(V, H.shape[0], axis=0), np.tile(H, (idx.size, 1))], axis=1)
            e = -0.5 * np.einsum("ij,ij->i", X @ self.W, X) - X @ self.bias
            out[idx] = logsumexp((-e / T).reshape(idx.size, H.shape[0]), axis=1)
        return out

    def log_partition(self):
        """``log Z = log sum_x exp(-E(x) / T)`` by enumeration (at most ``MAX_ENUMERATE`` units)."""
        return float(logsumexp(self._log_marginals()))

    def log_likelihood(self, v):
        """Exact ``log p(v)`` of visible vectors (m, n_visible), summing out the hidden units
        (enumeration: at most ``MAX_ENUMERATE`` units). float64 (m,), or a float for 1-D ``v``."""
        self._check_small()
        v2, one = self._check_visible(v)
        table = self._log_marginals()
        idx = (v2 @ (1 << np.arange(self.n_visible - 1, -1, -1))).astype(np.int64)
        out = table[idx] - logsumexp(table)
        return float(out[0]) if one else out

    # ------------------------------------------------------------------ sampling

    def _device(self, chains, extra=0):
        """This machine's backend (a :class:`neurosim.backend.Device`) and its sweep kernel (on
        CUDA a block per chain) with the weights and biases bound as its first arguments; a
        CUDA run whose arrays (the model, ``chains`` chains' units, fields and streams, plus
        ``extra`` bytes) would not fit is refused first."""
        dev = _backend.Device(self.backend, "annealing")
        dev.check(dev.nbytes(self.W, self.bias, chains * (self.n * 9 + 16), extra), "this Boltzmann machine run")
        kernel = dev.kernel("bm_sweeps", chains, config.BM_CUDA_THREADS)
        return dev, functools.partial(kernel, dev.put(self.W), dev.put(self.bias))

    def _run(self, units, first, sweeps, burn_in, states):
        """Sweeps on chains ``units`` (chains, n) int8 in place (their streams ``states``
        advanced in place): ``burn_in`` sweeps, then ``sweeps`` more whose mean ``x x^T`` is
        returned."""
        fields = units.astype(np.float64) @ self.W + self.bias
        chains = units.shape[0]
        corr = np.zeros((chains, self.n, self.n))
        dev, kernel = self._device(chains, corr.nbytes)
        d_units, d_fields, d_states, d_corr = (dev.put(a) for a in (units, fields, states, corr))
        if burn_in:
            self._sweeps(dev, kernel, d_units, d_fields, first, burn_in, d_states)
        self._sweeps(dev, kernel, d_units, d_fields, first, sweeps, d_states, corr=d_corr)
        units[...], states[...] = dev.get(d_units), dev.get(d_states)
        return dev.get(d_corr).sum(0) / (chains * sweeps)

    def _sweeps(self, dev, kernel, units, fields, first, sweeps, states, *, corr=None, thin=1, kept=None):
        """``sweeps`` heat-bath sweeps (``kernel`` of :meth:`_device` on ``dev``) of the chains
        ``units`` (their ``fields`` kept in step), adding ``x x^T`` to ``corr`` (chains,
        n, n) or keeping every ``thin``-th state in ``kept`` (chains, sweeps // thin, n) when
        given."""
        chains = units.shape[0]
        kernel(1.0 / self.temperature, units, fields, np.int64(first), np.int64(sweeps),
               dev.empty((chains, 0, 0)) if corr is None else corr, np.int64(thin),
               dev.empty((chains, 0, self.n), SPIN) if kept is None else kept, states)

    def sample(self, samples=100, chains=10, *, burn_in=100, thin=1, clamp=None, progress=False,
               store=None):
        """Gibbs samples: ``chains`` chains, ``burn_in`` sweeps, then ``samples`` states ``thin``
        sweeps apart. ``clamp`` (n_visible,) fixes the visible units (sampling ``p(h | v)``).
        Returns a Dataset with ``x`` (chain, sample, unit) int8 and ``energy`` (chain, sample).

        The samples are drawn in chunks of about ``config.CHUNK_WORK`` unit updates; Ctrl+C
        stops after the current chunk (``attrs["interrupted"] = 1``, the samples so far).
        ``store``: a netCDF path the samples are appended to chunk by chunk (the Dataset is
        then opened lazily from it).
        """
        samples = checks.integer(samples, "samples", low=1)
        chains = checks.integer(chains, "chains", low=1)
        burn_in = checks.integer(burn_in, "burn_in", low=0)
        thin = checks.integer(thin, "thin", low=1)
        # the chains' units (their draws), fields and streams
        checks.memory(chains * (17 * self.n + 16), f"BoltzmannMachine.sample with chains={chains}")
        g = self._gen()
        units = (g.random((chains, self.n)) < 0.5).astype(SPIN)
        first = 0
        if clamp is not None:
            c, _ = self._check_visible(clamp, "clamp")
            if c.shape[0] != 1:
                raise ValueError(f"clamp must be one visible vector ({self.n_visible},); got shape {np.shape(clamp)}")
            units[:, :self.n_visible] = c[0]
            first = self.n_visible
        states = self._streams(chains)
        run = record.Run(samples, work=chains * thin * max(self.n - first, 1) * self.n,
                         sizes={"chain": chains, "unit": self.n}, grow=("sample",), progress=progress,
                         desc="BM sample", unit="sample", store=store)
        with run:
            fields = units.astype(np.float64) @ self.W + self.bias
            dev, kernel = self._device(chains, chains * min(run.chunk, samples) * self.n)
            units, fields, states = (dev.put(a) for a in (units, fields, states))
            if burn_in:
                self._sweeps(dev, kernel, units, fields, first, burn_in, states)
            run.track("x", ("chain", "sample", "unit"), SPIN,
                      {"long_name": "unit states (0/1), visible first", **record.flags("binary")})
            run.track("energy", ("chain", "sample"), np.float64)
            run.track("sample", ("sample",), np.int64)
            for start, n in run:
                kept = dev.empty((chains, n, self.n), SPIN)
                self._sweeps(dev, kernel, units, fields, first, n * thin, states, thin=thin, kept=kept)
                kept = dev.get(kept)
                e = self.energy(kept.reshape(-1, self.n).astype(float)).reshape(chains, n)
                run.keep(x=kept, energy=e, sample=np.arange(start, start + n))
        return run.dataset(
            None, {"chain": np.arange(chains), "unit": np.arange(self.n)},
            family=self.family, model=type(self).__name__,
            params={**self._params(), "burn_in": burn_in, "thin": thin}, seed=self.seed,
            backend=self.backend, attrs={"main": "energy"})

    # ------------------------------------------------------------------ learning

    def fit(self, data, epochs=100, *, learning_rate=0.05, batch_size=None, clamped_sweeps=5,
            free_chains=50, free_sweeps=5, burn_in=2, weight_decay=0.0, monitor=True, progress=False,
            store=None):
        """Learn from binary ``data`` (m, n_visible) by the Boltzmann rule with persistent free chains.

        Each epoch, per mini-batch (``batch_size`` rows; default all): the clamped phase runs
        ``burn_in + clamped_sweeps`` sweeps of the hidden units of one chain per data row (skipped
        when there are no hidden units: the statistics are the data's own); the free phase runs
        ``burn_in + free_sweeps`` sweeps of ``free_chains`` persistent chains. Then
        ``W += learning_rate (<x x^T>_clamped - <x x^T>_free - weight_decay W)`` (zero diagonal) and
        ``b += learning_rate (<x>_clamped - <x>_free)``. With ``monitor`` (and at most
        ``MAX_ENUMERATE`` units) the exact mean log-likelihood of the data is recorded per epoch
        in :attr:`history` (``store``: a netCDF path it is appended to epoch by epoch). Ctrl+C
        stops after the current epoch. Returns self.
        """
        X, _ = self._check_visible(data, "data")
        epochs = checks.integer(epochs, "epochs", low=1)
        lr = checks.scalar(learning_rate, "learning_rate", low=0, low_open=True)
        m = X.shape[0]
        batch = m if batch_size is None else min(checks.integer(batch_size, "batch_size", low=1), m)
        clamped_sweeps = checks.integer(clamped_sweeps, "clamped_sweeps", low=1)
        free_chains = checks.integer(free_chains, "free_chains", low=1)
        free_sweeps = checks.integer(free_sweeps, "free_sweeps", low=1)
        burn_in = checks.integer(burn_in, "burn_in", low=0)
        decay = checks.scalar(weight_decay, "weight_decay", low=0)
        monitor = bool(monitor) and self.n <= MAX_ENUMERATE
        # the statistics x x^T, an n x n sum per chain (of a batch, or the free chains)
        checks.memory(8 * self.n ** 2 * max(batch if self.n_hidden else 0, free_chains),
                      f"BoltzmannMachine.fit with batch_size={batch} and free_chains={free_chains} "
                      f"(an n x n sum per chain, n = {self.n})")
        run = record.Run(epochs, chunk=1, grow=("epoch",), progress=progress, desc="BM fit", unit="epoch",
                         store=store)
        with run:
            g = self._gen()
            if self._free is None or self._free.shape[0] != free_chains:
                self._free = (g.random((free_chains, self.n)) < 0.5).astype(SPIN)
            free_states = self._streams(free_chains)
            clamp_states = self._streams(batch)
            run.track("epoch", ("epoch",), np.int64)
            if monitor:
                run.track("log_likelihood", ("epoch",), np.float64,
                          {"long_name": "mean exact log-likelihood (nats)", "units": "1"})
            for start, n in run:
                ll = []
                for _ in range(n):
                    order = g.permutation(m)
                    for s in range(0, m, batch):
                        rows = X[order[s:s + batch]]
                        units = np.empty((rows.shape[0], self.n), dtype=SPIN)
                        units[:, :self.n_visible] = rows
                        if self.n_hidden:
                            units[:, self.n_visible:] = g.random((rows.shape[0], self.n_hidden)) < 0.5
                            pos = self._run(units, self.n_visible, clamped_sweeps, burn_in, clamp_states)
                        else:
                            pos = rows.T @ rows / rows.shape[0]
                        neg = self._run(self._free, 0, free_sweeps, burn_in, free_states)
                        dW = pos - neg - decay * self.W
                        np.fill_diagonal(dW, 0.0)
                        self.W += lr * dW
                        self.bias += lr * (np.diag(pos) - np.diag(neg))
                    if monitor:
                        ll.append(float(np.mean(self.log_likelihood(X))))
                run.keep(epoch=np.arange(start + 1, start + n + 1))
                if monitor:
                    run.keep(log_likelihood=ll)
        self.history = run.dataset(
            family=self.family, model=type(self).__name__,
            params={**self._params(), "epochs": epochs, "learning_rate": lr, "batch_size": batch,
                    "clamped_sweeps": clamped_sweeps, "free_chains": free_chains, "free_sweeps": free_sweeps,
                    "burn_in": burn_in, "weight_decay": decay},
            seed=self.seed, backend=self.backend)
        return self

    # ------------------------------------------------------------------ files

    def save(self, path):
        """Write the model (weights, biases, parameters) to netCDF."""
        ds = record.dataset({"W": (("unit", "unit_in"), self.W), "bias": ("unit", self.bias)},
                            family=self.family, model=type(self).__name__, params=self._params(),
                            seed=self.seed, backend=self.backend)
        return record.save(ds, path)

    @classmethod
    def load(cls, path, *, backend="cpu"):
        """Read a model written by :meth:`save` (a ValueError naming the file if it is not one),
        to sample on ``backend``."""
        ds = record.open_model(path, cls.__name__, required=["W", "bias", "n_visible", "n_hidden", "temperature"])
        bm = cls(int(ds.attrs["n_visible"]), int(ds.attrs["n_hidden"]), temperature=float(ds.attrs["temperature"]),
                 init_scale=0.0, seed=rng.from_attr(ds.attrs.get("seed", "none")), backend=backend)
        bm.W = np.ascontiguousarray(ds["W"].values, dtype=np.float64)
        bm.bias = np.ascontiguousarray(ds["bias"].values, dtype=np.float64)
        return bm
