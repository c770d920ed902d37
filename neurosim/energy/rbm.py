"""Restricted Boltzmann machine (RBM): Bernoulli-Bernoulli and Gaussian-Bernoulli.

Energies (``W`` (n_visible, n_hidden), visible bias ``b``, hidden bias ``c``):

- Bernoulli visible: ``E(v, h) = -b.v - c.h - v.W.h``, ``v`` in {0, 1} (values in [0, 1] are
  accepted as probabilities, as scikit-learn does);
- Gaussian visible: ``E(v, h) = |v - b|^2 / (2 sigma^2) - c.h - (v / sigma).W.h`` (standardise
  the data; ``sigma`` is fixed).

Training by contrastive divergence (CD-k) or persistent CD with mini-batches, momentum, weight
decay and an optional sparsity target. The model gives free energies, pseudo-likelihoods,
reconstruction errors, the exact log partition function by enumerating the smaller layer (at
most ``MAX_ENUMERATE`` units) or an annealed-importance-sampling estimate, Gibbs and annealed
sampling, and hidden probabilities as features (``transform``).

``backend="cuda"`` runs the Gibbs chains of :meth:`RBM.sample` (and a DBN's top-level chain) and
the epochs of :meth:`RBM.fit` on the GPU through the CUDA twins in ``kernels.cuda.rbm``, from
the same streams: samples identical to the CPU's, fits equal to rounding (see that module).
Free energies, likelihoods, AIS and the monitors of a fit stay on the CPU.

Example::

    X, y = datasets.digits()
    rbm = RBM(64, 100, seed=0).fit(X / 16, epochs=20)
    features = rbm.transform(X / 16)          # (1797, 100)
    rbm.history                               # Dataset over epoch
"""
import math

import numpy as np

from .. import backend as _backend
from .. import checks, config, record, rng
from ..backend import blas_single_thread
from ..estimator import Transformer
from ..kernels import rbm as _k

MAX_ENUMERATE = 24
VISIBLE = ("bernoulli", "gaussian")
METHODS = ("cd", "pcd")


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _softplus(x):
    return np.logaddexp(0.0, x)


def _logmeanexp(x):
    m = np.max(x)
    return float(m + np.log(np.mean(np.exp(x - m))))


class _Chains:
    """The Gibbs chains of one sampling call, on the RBM's backend: the weights, the chains
    ``v`` (chains, n_visible), the schedule ``betas`` and the ``states`` live on the kernel's
    side between chunks of at most ``chunk`` steps (a multiple of ``every``)."""

    def __init__(self, rbm, v, betas, every, states, chunk):
        self.rbm, self.every = rbm, every
        self.dev = _backend.Device(rbm.backend, "rbm")
        if self.dev.cuda is not None:
            chains, (nv, nh) = v.shape[0], rbm.W.shape
            self.dev.check(self.dev.kernels.gibbs_bytes(nv, nh, chains, chains * (chunk // every) * nv)
                           + betas.nbytes, f"RBM Gibbs sampling ({chains} chains, {nv} x {nh} units)")
        self.args = [self.dev.put(a) for a in (rbm.W, rbm.visible_bias, rbm.hidden_bias, v)]
        self.betas, self.states = self.dev.put(betas), self.dev.put(states)

    def run(self, start, n):
        """Steps ``start + 1 .. start + n`` (1-based; ``start`` a multiple of ``every``).
        Returns the recorded steps int64 (k,) (the multiples of ``every``), the visible samples
        and the means ``E[v | h]`` at them (chains, k, n_visible), on the host."""
        r, every = self.rbm, self.every
        rec = np.arange(start // every + 1, (start + n) // every + 1, dtype=np.int64) * every
        shape = (self.args[3].shape[0], rec.size, r.n_visible)
        out_v, out_m = self.dev.empty(shape), self.dev.empty(shape)
        self.dev.kernels.gibbs(*self.args, self.betas[start:start + n], r.gaussian, r.sigma, np.int64(every),
                               out_v, out_m, self.states)
        return rec, self.dev.get(out_v), self.dev.get(out_m)


class RBM(Transformer):
    """Restricted Boltzmann machine with ``n_visible`` visible and ``n_hidden`` binary hidden units.

    Parameters
    ----------
    n_visible, n_hidden : int
        Layer sizes (>= 1).
    visible : {"bernoulli", "gaussian"}
        Visible unit type.
    sigma : float
        Standard deviation of Gaussian visible units (> 0; ignored for Bernoulli).
    init_scale : float
        Initial weights are ``N(0, init_scale^2)``; biases start at zero.
    seed : int, SeedSequence or None
        Seed for the initial weights and every sampling stream.
    backend : ``"cpu"``, ``"cuda"`` or ``"auto"``
        Where :meth:`sample` and :meth:`fit` run their chains (CUDA: the same samples as the
        CPU from the same streams; fits equal to rounding).

    Attributes
    ----------
    W : float64 (n_visible, n_hidden); visible_bias (n_visible,); hidden_bias (n_hidden,)
    history : xarray.Dataset over ``epoch`` after :meth:`fit`.

    A scikit-learn transformer (``get_params``, ``set_params``, ``transform``,
    ``fit_transform``; see :mod:`neurosim.estimator`), usable as built (it can be sampled before
    it is trained). Unlike sklearn's ``BernoulliRBM``, :meth:`fit` continues from the current
    weights, and its second positional argument is ``epochs`` (pass ``y`` nowhere: sklearn's
    ``Pipeline`` calls ``fit_transform``, which leaves ``y`` out).
    """

    family = "RBM"
    _estimator_kind = "transformer"

    @property
    def n_features_in_(self):
        """Number of input features: ``n_visible``."""
        return self.n_visible

    def __init__(self, n_visible, n_hidden, *, visible="bernoulli", sigma=1.0, init_scale=0.01, seed=None,
                 backend="cpu"):
        self.n_visible = checks.integer(n_visible, "n_visible", low=1)
        self.n_hidden = checks.integer(n_hidden, "n_hidden", low=1)
        # the weights, and in fit their velocities and gradients: three (n_visible, n_hidden)
        checks.memory(24 * self.n_visible * self.n_hidden,
                      f"RBM(n_visible={self.n_visible}, n_hidden={self.n_hidden})")
        self.visible = checks.choice(visible, "visible", VISIBLE)
        self.sigma = checks.scalar(sigma, "sigma", low=0, low_open=True)
        self.init_scale = init_scale = checks.scalar(init_scale, "init_scale", low=0)
        self.seed = seed
        self._seq = rng.sequence(seed)
        self.backend = _backend.resolve(backend)
        g = np.random.default_rng(rng.child(self._seq, 0))
        self.W = g.normal(0.0, init_scale, (self.n_visible, self.n_hidden)) if init_scale > 0 else \
            np.zeros((self.n_visible, self.n_hidden))
        self.visible_bias = np.zeros(self.n_visible)
        self.hidden_bias = np.zeros(self.n_hidden)
        self.history = None
        self._calls = 0  # each sampling call draws from fresh streams

    # --------------------------------------------------------------------------- helpers

    @property
    def gaussian(self):
        """True for Gaussian (real-valued) visible units."""
        return self.visible == "gaussian"

    def _child(self, tag):
        return rng.child(self._seq, tag)

    def _streams(self, n):
        self._calls += 1
        return rng.streams(self._child(1000 + self._calls), n)

    def _check_visible(self, v, name="v"):
        v = checks.array(v, name, ndim=(1, 2))
        v2 = np.atleast_2d(v)
        if v2.shape[1] != self.n_visible:
            raise ValueError(f"{name} must have {self.n_visible} columns (visible units); got shape {v.shape}")
        if not self.gaussian and (v2.min() < 0.0 or v2.max() > 1.0):
            raise ValueError(f"{name} must be binary (values in [0, 1]) for Bernoulli visible units; "
                             f"got values from {v2.min()} to {v2.max()} (use visible='gaussian' for real data)")
        return np.ascontiguousarray(v2), v.ndim == 1

    def _check_hidden(self, h, name="h"):
        h = checks.array(h, name, ndim=(1, 2))
        h2 = np.atleast_2d(h)
        if h2.shape[1] != self.n_hidden:
            raise ValueError(f"{name} must have {self.n_hidden} columns (hidden units); got shape {h.shape}")
        if h2.min() < 0.0 or h2.max() > 1.0:
            raise ValueError(f"{name} must hold values in [0, 1]; got values from {h2.min()} to {h2.max()}")
        return h2, h.ndim == 1

    def _params(self):
        return {"n_visible": self.n_visible, "n_hidden": self.n_hidden, "visible": self.visible,
                "sigma": self.sigma}

    # --------------------------------------------------------------------------- the model

    def hidden_probs(self, v):
        """``p(h_j = 1 | v)``: float64 (m, n_hidden) for ``v`` (m, n_visible) (or 1-D)."""
        v2, one = self._check_visible(v)
        p = _sigmoid((v2 / self.sigma if self.gaussian else v2) @ self.W + self.hidden_bias)
        return p[0] if one else p

    transform = hidden_probs

    def visible_means(self, h):
        """``E[v | h]``: the visible probabilities (Bernoulli) or means (Gaussian), (m, n_visible)."""
        h2, one = self._check_hidden(h)
        x = h2 @ self.W.T
        out = self.visible_bias + self.sigma * x if self.gaussian else _sigmoid(x + self.visible_bias)
        return out[0] if one else out

    def free_energy(self, v):
        """Free energy ``F(v) = -log sum_h exp(-E(v, h))``: float64 (m,) (or a float for 1-D v)."""
        v2, one = self._check_visible(v)
        if self.gaussian:
            x = (v2 / self.sigma) @ self.W + self.hidden_bias
            f = ((v2 - self.visible_bias) ** 2).sum(1) / (2 * self.sigma ** 2) - _softplus(x).sum(1)
        else:
            f = -v2 @ self.visible_bias - _softplus(v2 @ self.W + self.hidden_bias).sum(1)
        return float(f[0]) if one else f

    def pseudo_likelihood(self, v):
        """Pseudo-log-likelihood ``sum_i log p(v_i | v_-i)`` per row (Bernoulli visible units).

        Exact over all units; it equals the expectation of scikit-learn's ``score_samples``
        (which flips one random unit and multiplies by ``n_visible``). float64 (m,).
        """
        if self.gaussian:
            raise ValueError("pseudo_likelihood needs Bernoulli visible units; this RBM has visible='gaussian'")
        v2, one = self._check_visible(v)
        out = _k.pseudo_likelihood(self.W, self.visible_bias, self.hidden_bias, v2)
        return float(out[0]) if one else out

    def reconstruction_error(self, v):
        """Mean squared error between ``v`` and ``E[v | h]`` with ``h = p(h | v)`` (mean field)."""
        v2, _ = self._check_visible(v)
        return float(np.mean((v2 - self.visible_means(self.hidden_probs(v2))) ** 2))

    def log_partition(self, method="auto", *, chains=100, betas=10000):
        """``log Z``: exact by enumerating the smaller layer, or by AIS.

        ``method``: ``"exact"`` (needs a layer of at most ``MAX_ENUMERATE`` units; the hidden
        layer for Gaussian RBMs), ``"ais"`` (Bernoulli only; returns the estimate) or ``"auto"``
        (exact when possible). See :meth:`ais` for the AIS settings.
        """
        checks.choice(method, "method", ("auto", "exact", "ais"))
        small_h = self.n_hidden <= MAX_ENUMERATE
        small_v = not self.gaussian and self.n_visible <= MAX_ENUMERATE
        if method == "ais" or (method == "auto" and not (small_h or small_v)):
            return self.ais(chains=chains, betas=betas)[0]
        if not (small_h or small_v):
            raise ValueError(f"exact log Z needs a layer of at most {MAX_ENUMERATE} units"
                             f"{' (the hidden layer, for Gaussian visible units)' if self.gaussian else ''}; "
                             f"got n_visible={self.n_visible}, n_hidden={self.n_hidden}: use method='ais'")
        if self.gaussian:
            const = 0.5 * self.n_visible * math.log(2 * math.pi * self.sigma ** 2)
            return const + _k.enumerate_log_sum(np.ascontiguousarray(self.W.T), self.hidden_bias,
                                                self.visible_bias, 1, self.sigma, config.RBM_ENUMERATE_BLOCKS)
        if small_h and (self.n_hidden <= self.n_visible or not small_v):
            return _k.enumerate_log_sum(np.ascontiguousarray(self.W.T), self.hidden_bias,
                                        self.visible_bias, 0, 1.0, config.RBM_ENUMERATE_BLOCKS)
        return _k.enumerate_log_sum(np.ascontiguousarray(self.W), self.visible_bias, self.hidden_bias, 0, 1.0,
                                    config.RBM_ENUMERATE_BLOCKS)

    def ais(self, chains=100, betas=10000, base_bias=None):
        """Annealed importance sampling estimate of ``log Z`` (Bernoulli visible units).

        ``chains`` independent runs (in parallel, one stream each) over ``betas`` inverse
        temperatures (an int: that many, linearly spaced in [0, 1]; or an increasing array from
        0 to 1). The base model has no weights and visible bias ``base_bias`` (default: the
        model's own visible bias). Returns ``(log_Z, standard_error)``, the error from the
        spread of the importance weights (delta method).
        """
        if self.gaussian:
            raise ValueError("ais is implemented for Bernoulli visible units; a Gaussian RBM's log Z "
                             "is exact by enumerating the hidden layer (log_partition('exact'))")
        chains = checks.integer(chains, "chains", low=1)
        if isinstance(betas, (int, np.integer)) and not isinstance(betas, bool):
            betas = checks.integer(betas, "betas", low=2)
            checks.memory(8 * betas, f"ais with betas={betas} inverse temperatures")
            betas = np.linspace(0.0, 1.0, betas)
        else:
            betas = checks.array(betas, "betas", ndim=1)
            if betas.shape[0] < 2 or betas[0] != 0.0 or betas[-1] != 1.0 or np.any(np.diff(betas) < 0):
                raise ValueError("betas must rise from 0 to 1 (non-decreasing, at least 2 values)")
        base = self.visible_bias.copy() if base_bias is None else checks.array(base_bias, "base_bias",
                                                                                shape=(self.n_visible,))
        # each chain's stream, visible and hidden units and weight
        checks.memory(chains * (24 + 8 * (self.n_visible + self.n_hidden)), f"ais with chains={chains}")
        logw = _k.ais_bernoulli(self.W, self.visible_bias, self.hidden_bias, base, betas, chains,
                                self._streams(chains))
        log_z0 = float(_softplus(base).sum() + self.n_hidden * math.log(2.0))
        est = log_z0 + _logmeanexp(logw)
        w = np.exp(logw - logw.max())
        err = float(np.std(w) / (np.sqrt(chains) * np.mean(w))) if chains > 1 else float("inf")
        return est, err

    def log_likelihood(self, v, log_z=None):
        """Log-likelihood (log density for Gaussian units) ``-F(v) - log Z`` per row: (m,).

        ``log_z`` defaults to :meth:`log_partition` (exact where possible, else AIS).
        """
        f = np.atleast_1d(self.free_energy(v))
        lz = self.log_partition() if log_z is None else checks.scalar(log_z, "log_z")
        out = -f - lz
        return float(out[0]) if np.ndim(v) == 1 else out

    # --------------------------------------------------------------------------- training

    def fit(self, data, epochs=20, *, batch_size=10, learning_rate=0.05, method="cd", k=1,
            momentum=0.5, weight_decay=0.0, sparsity_target=0.1, sparsity_cost=0.0, shuffle=True,
            monitor=256, callback=None, progress=False, store=None):
        """Train on ``data`` (m, n_visible) by CD-k (``method="cd"``) or persistent CD (``"pcd"``).

        Mini-batches of ``batch_size`` rows, ``epochs`` passes (in a fresh random order each
        epoch when ``shuffle``). The update of every parameter is
        ``d <- momentum d + learning_rate (gradient - weight_decay W)`` with the batch-mean
        gradient; ``sparsity_cost > 0`` adds ``sparsity_cost (sparsity_target - mean p(h))`` to
        the hidden-bias gradient. After each epoch the reconstruction error (and for Bernoulli
        units the mean pseudo-log-likelihood) of the first ``monitor`` rows is recorded in
        :attr:`history` (``monitor=0``: nothing; ``store``: a netCDF path the records are
        appended to epoch by epoch, :attr:`history` then opened lazily from it).
        ``callback(epoch, rbm)``, if given, is called after every epoch (e.g. to keep snapshots
        of the filters). Ctrl+C stops after the current epoch (``interrupted = 1`` in
        :attr:`history`). Returns ``self``.
        """
        X, _ = self._check_visible(data, "data")
        epochs = checks.integer(epochs, "epochs", low=1)
        batch = checks.integer(batch_size, "batch_size", low=1)
        lr = checks.scalar(learning_rate, "learning_rate", low=0, low_open=True)
        method = checks.choice(method, "method", METHODS)
        k = checks.integer(k, "k", low=1)
        mom = checks.scalar(momentum, "momentum", low=0, high=1, high_open=True)
        decay = checks.scalar(weight_decay, "weight_decay", low=0)
        target = checks.scalar(sparsity_target, "sparsity_target", low=0, high=1)
        cost = checks.scalar(sparsity_cost, "sparsity_cost", low=0)
        monitor = checks.integer(monitor, "monitor", low=0)
        if callback is not None and not callable(callback):
            raise TypeError(f"callback must be callable as callback(epoch, rbm); got {type(callback).__name__}")
        m = X.shape[0]
        batch = min(batch, m)
        sub = X[:min(monitor, m)]
        run = record.Run(epochs, chunk=1, grow=("epoch",), progress=progress, desc="RBM fit", unit="epoch",
                         store=store)
        dev = _backend.Device(self.backend, "rbm")
        with run, blas_single_thread():
            states = self._streams(batch)
            g = np.random.default_rng(self._child(2000 + self._calls))
            if dev.cuda is not None:
                dev.check(dev.kernels.fit_epoch_bytes(self.n_visible, self.n_hidden, m, batch, k, method == "pcd"),
                          f"RBM fit ({m} rows, batch {batch}, {self.n_visible} x {self.n_hidden} units)")
            # velocities, data, chains and streams on the kernel's side for the whole fit; the
            # parameters for each epoch (a callback may change them), then back (on the CPU:
            # the arrays themselves, updated in place)
            velocities = [dev.put(np.zeros_like(a)) for a in (self.W, self.visible_bias, self.hidden_bias)]
            data, chain_h, states = dev.put(X), dev.put(np.zeros((batch, self.n_hidden))), dev.put(states)
            order = dev.put(np.arange(m, dtype=np.int64))
            run.track("epoch", ("epoch",), np.int64)
            if monitor:
                run.track("reconstruction_error", ("epoch",), np.float64,
                          {"long_name": "mean squared reconstruction error"})
                if not self.gaussian:
                    run.track("pseudo_likelihood", ("epoch",), np.float64,
                              {"long_name": "mean pseudo-log-likelihood (nats)", "units": "1"})
            for start, n in run:
                recon, pl = [], []
                for e in range(start, start + n):
                    o = dev.put(g.permutation(m).astype(np.int64)) if shuffle else order
                    params = [dev.put(a) for a in (self.W, self.visible_bias, self.hidden_bias)]
                    dev.kernels.fit_epoch(*params, *velocities, data, o, np.int64(batch), np.int64(k), method == "pcd",
                                          chain_h, lr, mom, decay, target, cost, self.gaussian, self.sigma, states)
                    for a, host in zip(params, (self.W, self.visible_bias, self.hidden_bias)):
                        dev.get(a, host)
                    if monitor:
                        recon.append(self.reconstruction_error(sub))
                        if not self.gaussian:
                            pl.append(float(np.mean(self.pseudo_likelihood(sub))))
                    if callback is not None:
                        callback(e + 1, self)
                run.keep(epoch=np.arange(start + 1, start + n + 1))
                if monitor:
                    run.keep(reconstruction_error=recon)
                    if not self.gaussian:
                        run.keep(pseudo_likelihood=pl)
        self.history = run.dataset(
            family=self.family, model=type(self).__name__,
            params={**self._params(), "epochs": epochs, "batch_size": batch, "learning_rate": lr,
                    "method": method, "k": k, "momentum": mom, "weight_decay": decay,
                    "sparsity_target": target, "sparsity_cost": cost, "shuffle": shuffle, "monitor_rows": len(sub)},
            seed=self.seed, backend=self.backend)
        return self

    # --------------------------------------------------------------------------- sampling

    def _chains(self, steps, chains, every, betas, initial):
        """``sample``'s arguments checked and its chains started: ``(steps, chains, every,
        betas, v, states)`` with ``betas`` float64 (steps,) and ``v`` (chains, n_visible)."""
        steps = checks.integer(steps, "steps", low=1)
        chains = checks.integer(chains, "chains", low=1)
        every = checks.integer(every, "every", low=1, high=steps)
        # the schedule, and the chains' visible units (their draws), hidden units and streams
        checks.memory(8 * steps + chains * (16 * self.n_visible + 8 * self.n_hidden + 16),
                      f"RBM sampling of steps={steps} with chains={chains}")
        if betas is None:
            b = np.ones(steps)
        else:
            b = checks.array(betas, "betas", shape=(steps,))
            if np.any(b <= 0) or np.any(b > 1):
                raise ValueError(f"betas must lie in (0, 1] (temperature >= 1); got values from {b.min()} to {b.max()}")
        states = self._streams(chains)
        if initial is None:
            g = np.random.default_rng(self._child(3000 + self._calls))
            v = (self.visible_bias + self.sigma * g.standard_normal((chains, self.n_visible)) if self.gaussian
                 else (g.random((chains, self.n_visible)) < 0.5).astype(float))
        else:
            v0, _ = self._check_visible(initial, "initial")
            if v0.shape[0] not in (1, chains):
                raise ValueError(f"initial must have shape ({self.n_visible},) or ({chains}, {self.n_visible}); "
                                 f"got {np.shape(initial)}")
            v = np.array(np.broadcast_to(v0, (chains, self.n_visible)))
        return steps, chains, every, np.ascontiguousarray(b, dtype=np.float64), v, states

    def _gibbs_work(self, chains):
        """Work units (weight visits) of one Gibbs step of ``chains`` chains: the chunk policy's."""
        return chains * self.n_visible * self.n_hidden

    def _gibbs(self, v, betas, every, states, chunk):
        """The chains ``v`` (chains, n_visible) with schedule ``betas`` and ``states`` on this
        RBM's backend, run in chunks of at most ``chunk`` steps by ``.run(start, n)``."""
        return _Chains(self, v, betas, every, states, chunk)

    def sample(self, steps=1000, chains=10, *, every=1, betas=None, initial=None, progress=False, store=None):
        """Block Gibbs sampling of the model: ``chains`` chains of ``steps`` steps ``v -> h -> v``.

        ``betas`` (steps,), optional: inverse temperatures per step for annealed sampling (each
        in (0, 1]; default all 1, the model itself). ``initial`` (n_visible,) or
        (chains, n_visible): start states (default: random binary, or ``N(b, sigma^2)``).
        Returns a Dataset with ``v`` (chain, step, visible), the visible samples after every
        ``every``-th step, and ``v_mean`` (same dims), ``E[v | h]`` at those steps.

        The steps run in chunks of about ``config.CHUNK_WORK`` weight visits (a multiple of
        ``every``); Ctrl+C stops after the current chunk (``interrupted = 1``, the samples so
        far). ``store``: a netCDF path the samples are appended to chunk by chunk (the Dataset
        is then opened lazily from it).
        """
        steps, chains, every, b, v, states = self._chains(steps, chains, every, betas, initial)
        run = record.Run(steps, work=self._gibbs_work(chains), every=every,
                         sizes={"chain": chains, "visible": self.n_visible}, grow=("step",),
                         progress=progress, desc="RBM sample", unit="step", store=store)
        with run:
            gibbs = self._gibbs(v, b, every, states, run.chunk)
            run.track("v", ("chain", "step", "visible"), np.float64,
                      {"long_name": "visible sample", **({} if self.gaussian else record.flags("binary", np.float64))})
            run.track("v_mean", ("chain", "step", "visible"), np.float64, {"long_name": "E[v | h]"})
            run.track("beta", ("step",), np.float64, {"long_name": "inverse temperature"})
            run.track("step", ("step",), np.int64)
            for start, n in run:
                rec, out_v, out_m = gibbs.run(start, n)
                run.keep(v=out_v, v_mean=out_m, beta=b[rec - 1], step=rec)
        return run.dataset(
            None, {"chain": np.arange(chains), "visible": np.arange(self.n_visible)},
            family=self.family, model=type(self).__name__,
            params={**self._params(), "steps": steps, "chains": chains, "every": every},
            seed=self.seed, backend=self.backend)

    # --------------------------------------------------------------------------- files

    def to_dataset(self):
        """The model as a Dataset: ``W`` (visible, hidden), ``visible_bias``, ``hidden_bias``."""
        return record.dataset(
            {"W": (("visible", "hidden"), self.W), "visible_bias": ("visible", self.visible_bias),
             "hidden_bias": ("hidden", self.hidden_bias)},
            family=self.family, model=type(self).__name__, params=self._params(),
            seed=self.seed, backend=self.backend)

    @classmethod
    def from_dataset(cls, ds, *, backend="cpu"):
        """An RBM from :meth:`to_dataset`'s Dataset, on ``backend``."""
        W = np.asarray(ds["W"].values, dtype=np.float64)
        rbm = cls(W.shape[0], W.shape[1], visible=str(ds.attrs["visible"]), sigma=float(ds.attrs["sigma"]),
                  init_scale=0.0, seed=rng.from_attr(ds.attrs.get("seed", "none")), backend=backend)
        rbm.W = np.ascontiguousarray(W)
        rbm.visible_bias = np.ascontiguousarray(ds["visible_bias"].values, dtype=np.float64)
        rbm.hidden_bias = np.ascontiguousarray(ds["hidden_bias"].values, dtype=np.float64)
        return rbm

    def save(self, path):
        """Write the model to netCDF; read it back with :meth:`load`."""
        return record.save(self.to_dataset(), path)

    @classmethod
    def load(cls, path, *, backend="cpu"):
        """Read a model written by :meth:`save` (a ValueError naming the file if it is not one),
        on ``backend``."""
        return cls.from_dataset(record.open_model(path, cls.__name__,
                                                  required=["W", "visible_bias", "hidden_bias", "visible", "sigma"]),
                                backend=backend)
