"""Hopfield networks (HN): the classical binary associative memory and the modern (dense) one.

Classical network (Hopfield 1982): ``n`` binary units ``s_i = +-1`` (or 0/1), symmetric weights
with a zero diagonal learnt from stored patterns, energy ``E = -1/2 s^T W s``. Recall runs
asynchronous sweeps (every unit once per sweep in a fresh random order; an event-based kernel
that keeps the local fields ``h = W s`` and updates them only when a unit flips) or synchronous
sweeps, at zero temperature (``s_i <- sign(h_i)``, ties to +1) or with Glauber's heat bath.

Example::

    X = np.where(np.random.default_rng(0).random((10, 200)) < 0.5, -1, 1)
    net = HopfieldNetwork(200, seed=0).store(X)
    ds = net.recall(X * np.where(np.random.default_rng(1).random(X.shape) < 0.1, -1, 1))
    ds.overlap.isel(sweep=-1)      # about 1 on the diagonal: every pattern recalled

Modern network (Ramsauer et al. 2020, "Hopfield networks is all you need"): continuous states,
retrieval ``xi <- X^T softmax(beta X xi)``, capacity exponential in ``n``.
"""
import numpy as np

from .. import backend as _backend
from .. import checks, config, rng
from .. import record as _rec
from ..kernels import hopfield as _k

RULES = ("hebbian", "storkey", "pinv")
UNITS = ("bipolar", "binary")
MODES = ("async", "sync")
RECORDS = ("sweeps", "final")


# ---------------------------------------------------------------------------------- helpers
def _spins(x, name, n_units, units, ndim=(1, 2)):
    """Validated binary states as bipolar ``int8`` (+-1), plus whether the input was 1-D."""
    a = checks.array(x, name, ndim=ndim, dtype=None)
    if a.shape[-1] != n_units:
        want = f"(P, {n_units})" if name == "patterns" else f"({n_units},) or (m, {n_units})"
        raise ValueError(f"{name} must have shape {want} (one value per unit); got {a.shape}")
    allowed = (-1, 1) if units == "bipolar" else (0, 1)
    # (bipolar: |a| == 1, one comparison fewer than a == -1 | a == 1, the same values)
    if not (np.abs(a) == 1 if units == "bipolar" else (a == 0) | (a == 1)).all():
        bad = a[(a != allowed[0]) & (a != allowed[1])].ravel()[0].item()
        raise ValueError(f"{name} must hold only {allowed[0]} and {allowed[1]} (units={units!r}); "
                         f"found {bad!r}")
    s = a.astype(np.int8)
    if units == "binary":
        s = (2 * s - 1).astype(np.int8)
    return np.ascontiguousarray(np.atleast_2d(s)), a.ndim == 1


def _to_units(s, units):
    """Bipolar ``int8`` states in the network's units (0/1 when ``units == 'binary'``)."""
    return ((s + 1) // 2).astype(np.int8) if units == "binary" else s.astype(np.int8)


def _run_seed(seed, own):
    """The seed a run uses: ``seed``, else the network's own, else a fresh recorded one."""
    if seed is None:
        seed = own
    if seed is None:
        return rng.fresh()
    if type(seed) is int and seed >= 0:
        return seed  # (valid: no SeedSequence built to check it, ~3 us)
    rng.sequence(seed)  # validates
    return seed


# ---------------------------------------------------------------------------------- classical
class HopfieldNetwork:
    """Classical Hopfield network of ``n_units`` binary units.

    Parameters
    ----------
    n_units : int >= 2
    rule : ``"hebbian"`` (``W = X^T X / n``), ``"storkey"`` (Storkey 1997, incremental, more
        capacity and tolerance of correlated patterns) or ``"pinv"`` (projection
        ``X^T (X X^T)^+ X``: every linearly independent pattern is a fixed point). The
        diagonal is zero for all three; all three give a symmetric ``W``.
    units : ``"bipolar"`` (+-1) or ``"binary"`` (0/1; mapped to ``2x - 1`` for learning and
        dynamics, returned as 0/1).
    seed : int >= 0, ``numpy.random.SeedSequence`` or None: the default seed of :meth:`recall`.
    backend : ``"cpu"``, ``"cuda"`` or ``"auto"`` (CUDA runs recall on the GPU, one thread per
        cue, bit-identical to the CPU).
    """

    family = "HN"

    def __init__(self, n_units, *, rule="hebbian", units="bipolar", seed=None, backend="cpu"):
        self.n_units = checks.integer(n_units, "n_units", low=2)
        # the weights, their copy in kernel units and store()'s temporary: three n x n float64
        checks.memory(24 * self.n_units ** 2, f"HopfieldNetwork(n_units={self.n_units})")
        self.rule = checks.choice(rule, "rule", RULES)
        self.units = checks.choice(units, "units", UNITS)
        rng.sequence(seed)  # validate now, not at the first recall
        self.seed = seed
        self.backend = _backend.resolve(backend)
        self._X = None      # bipolar int8 (P, n)
        self._W = np.zeros((self.n_units, self.n_units))
        self._Wk = self._W  # weights in kernel units: W = scale * Wk
        self._W2k = self._W  # 2 Wk in the async kernel's dtype (int8/int16 for Hebbian counts)
        self._scale = 1.0

    def __repr__(self):
        P = 0 if self._X is None else self._X.shape[0]
        return (f"HopfieldNetwork(n_units={self.n_units}, rule={self.rule!r}, units={self.units!r}, "
                f"patterns={P}, backend={self.backend!r})")

    # -- learning -------------------------------------------------------------------------
    def store(self, patterns):
        """Learn ``patterns`` (P, n_units) of +-1 (0/1 for binary units) from scratch.

        Replaces any patterns stored before. Returns ``self``.
        """
        X, _ = _spins(patterns, "patterns", self.n_units, self.units)
        n = self.n_units
        Xf = X.astype(np.float64)
        if self.rule == "hebbian":
            # Integer counts in float64 (exact up to 2**53, no overflow); W = counts / n.
            Wk = Xf.T @ Xf
            np.fill_diagonal(Wk, 0.0)
            scale = 1.0 / n
            W = Wk / n
        elif self.rule == "storkey":
            Wk = W = _k.storkey(X)
            scale = 1.0
        else:
            Wk = Xf.T @ np.linalg.pinv(Xf @ Xf.T, hermitian=True) @ Xf
            Wk = 0.5 * (Wk + Wk.T)
            np.fill_diagonal(Wk, 0.0)
            W = Wk
            scale = 1.0
        self._set(X, W, Wk, scale)
        return self

    def _set(self, X, W, Wk, scale):
        P, n = X.shape
        W2k = 2.0 * Wk
        if self.rule == "hebbian" and n * P < 2**30:
            # Exact integer counts: |2 Wk| <= 2P fits int8 or int16, fields |h| <= nP fit int32
            # (2-8x less memory traffic per flip than float64, and still exact).
            if 2 * P <= np.iinfo(np.int8).max:
                W2k = W2k.astype(np.int8)
            elif 2 * P <= np.iinfo(np.int16).max:
                W2k = W2k.astype(np.int16)
        # Private arrays stay writable (kernels compile once for writable arrays); the public
        # properties hand out read-only views.
        self._X, self._W, self._Wk, self._W2k, self._scale = X, W, Wk, W2k, scale
        if W2k.dtype == np.float64:
            self._h_dtype = np.float64
        else:  # |h_i| <= sum_j |Wk_ij| in every state: int16 lanes (2x int32's) when that fits
            bound = np.abs(Wk).sum(axis=1).max()
            self._h_dtype = np.int16 if bound <= np.iinfo(np.int16).max else np.int32
        self._XB = np.empty((P, -(-n // 64)), dtype=np.uint64)
        _k.pack_bits(X, self._XB)
        self._XT = np.ascontiguousarray(X.T)  # (n, P) int8: the unit's column, for sweeps_low_rank

    @property
    def weights(self):
        """Weights ``W`` (n_units, n_units) float64, zero diagonal (a read-only view)."""
        view = self._W.view()
        view.flags.writeable = False
        return view

    @property
    def patterns(self):
        """Stored patterns (P, n_units) int8, in the network's units (a copy)."""
        self._require_patterns()
        return _to_units(self._X, self.units)

    @property
    def n_patterns(self):
        """Number of stored patterns P."""
        return 0 if self._X is None else self._X.shape[0]

    def _require_patterns(self):
        if self._X is None:
            raise ValueError("no patterns stored: call store(patterns) before recall or patterns")

    # -- energy ---------------------------------------------------------------------------
    def energy(self, states):
        """Energy ``E = -1/2 s^T W s`` of ``states`` (n_units,) -> float, or (m, n_units) -> (m,).

        For binary units, ``s`` is the equivalent bipolar state ``2x - 1`` (the quantity the
        dynamics never increase).
        """
        S, single = _spins(states, "states", self.n_units, self.units)
        Sf = S.astype(np.float64)
        E = -0.5 * np.einsum("mi,mi->m", Sf @ self._W, Sf)
        return float(E[0]) if single else E

    def _start(self, S, fields=True):
        """Packed states ``SB`` (m, ceil(n / 64)) uint64, overlap counts ``Q`` (m, P) int64,
        local fields ``H`` (m, n) and energies ``E`` (m,) in kernel units for states ``S``
        (see ``kernels.hopfield``): one compiled pass, no BLAS (BLAS threads fighting
        the kernels' threads cost 10x on 2 cores). Hebbian weights with few patterns (fewer than
        ``config.HOPFIELD_LOW_RANK_MAX_RATIO`` n) use the low-rank form ``X^T (X s) - P s`` (the
        same exact integers, O(n P) per cue). ``fields=False`` (Hebbian counts only): ``H`` is
        None, the energies come from the overlap counts (what ``sweeps_low_rank`` needs)."""
        m = S.shape[0]
        SB = np.empty((m, self._XB.shape[1]), dtype=np.uint64)
        Q = np.empty((m, self._X.shape[0]), dtype=np.int64)
        E = np.empty(m)
        if not fields:
            _k.start_counts(self._XB, S, SB, Q, E)
            return SB, Q, None, E
        H = np.empty(S.shape, dtype=self._h_dtype)
        low_rank = self.rule == "hebbian" and \
            self._X.shape[0] < config.HOPFIELD_LOW_RANK_MAX_RATIO * self.n_units
        _k.start(self._X, self._XB, self._W2k, low_rank, S, SB, Q, H, E)
        return SB, Q, H, E

    # -- recall ---------------------------------------------------------------------------
    def recall(self, cues, *, mode="async", temperature=0.0, max_sweeps=100, record="sweeps",
               monitor=None, seed=None, progress=False, store=None):
        """Run the dynamics from ``cues`` (n_units,) or (m, n_units) until stable.

        mode : ``"async"`` (every sweep visits all units once in a fresh random permutation
            drawn from the cue's own stream) or ``"sync"`` (all units at once from the previous
            state; 2-cycles run to ``max_sweeps``). Both are event-based: the local fields are
            computed once and then updated only where a unit flips.
        temperature : T >= 0. ``T = 0``: ``s_i <- +1 if h_i >= 0 else -1``. ``T > 0``:
            Glauber heat bath ``P(s_i = +1) = 1 / (1 + exp(-2 h_i / T))``.
        max_sweeps : int >= 1. A cue stops after the first sweep that changes nothing (that
            sweep counts, ``converged`` True); otherwise at ``max_sweeps`` (``converged`` False).
        record : ``"sweeps"`` (states per sweep) or ``"final"`` (final states only; energy and
            overlaps are recorded per sweep either way).
        monitor : :class:`neurosim.record.Monitor` (or dict): ``every`` records every k-th sweep,
            ``index`` the units kept in ``state`` and ``final_state``.
        seed : seed of the cues' random streams (default: the network's ``seed``); cue ``c``
            uses stream ``c``, so results do not depend on the number of threads.
        progress : show a progress bar (tqdm). Ctrl+C stops after the current chunk and returns
            what was recorded (attrs ``interrupted = 1``).
        store : path of a netCDF file: the records are appended to it chunk by chunk and the
            Dataset is returned opened lazily from it (close it when done). Default: memory.

        Returns an ``xarray.Dataset`` with dims ``cue``, ``sweep`` (0 = the cue), ``unit``,
        ``pattern`` and variables ``state`` (cue, sweep, unit) int8 (record="sweeps"; a
        stopped cue's last state is carried forward), ``final_state`` (cue, unit) int8,
        ``energy`` (cue, sweep), ``overlap`` (cue, sweep, pattern) ``m = xi.s / n`` in [-1, 1],
        ``converged`` (cue) bool and ``sweeps`` (cue) int64.
        """
        self._require_patterns()
        S, _ = _spins(cues, "cues", self.n_units, self.units)
        mode = checks.choice(mode, "mode", MODES)
        temperature = checks.scalar(temperature, "temperature", low=0.0)
        max_sweeps = checks.integer(max_sweeps, "max_sweeps", low=1)
        record_kind = checks.choice(record, "record", RECORDS)
        mon = _rec.as_monitor(monitor)
        idx = mon.units(self.n_units)
        rec_idx = idx if record_kind == "sweeps" else np.zeros(0, dtype=np.int64)
        seed = _run_seed(seed, self.seed)
        m, n = S.shape
        P = self._X.shape[0]
        t = temperature / self._scale
        sync = mode == "sync"
        dev = _backend.Device(self.backend, "hopfield")
        # Hebbian counts with few patterns on the CPU: the same run from the overlap counts
        low_rank = dev.cuda is None and self._h_dtype != np.float64 and n < 2**15 and \
            P <= config.HOPFIELD_RECALL_LOW_RANK_MAX_RATIO * n
        kernel = dev.items("sweeps_low_rank" if low_rank else "sweeps", m,
                           config.HOPFIELD_CUDA_THREADS)  # a thread per cue on CUDA

        run = _rec.Run(max_sweeps, work=m * n, every=mon.every, stops_early=True,
                       sizes={"cue": m, "unit": idx.size, "pattern": P}, grow=("sweep",),
                       progress=progress, desc="Hopfield recall", unit="sweep", store=store)
        with run:
            SB, Q, H, E = self._start(S, fields=not low_rank)
            converged = np.zeros(m, dtype=np.bool_)
            used = np.zeros(m, dtype=np.int64)
            d_S, d_SB, d_Q = dev.put(S), dev.put(SB), dev.put(Q)
            per_cue = (dev.put(rng.streams(seed, m)), dev.put(np.empty((m, n), dtype=np.int64)))
            args = (self._X, self._XT, self._W2k, d_S, d_SB, np.empty(S.shape, self._h_dtype), d_Q,
                    *per_cue) if low_rank else \
                (dev.put(self._W2k), dev.put(self._XB), d_S, d_SB, dev.put(H), d_Q, *per_cue)
            d_conv, d_used, d_idx = dev.put(converged), dev.put(used), dev.put(rec_idx)
            run.track("sweep", ("sweep",), np.int64, {"long_name": "sweep (0 = the cue)"})
            if record_kind == "sweeps":
                run.track("state", ("cue", "sweep", "unit"), np.int8,
                          {"long_name": "state after each sweep (sweep 0: the cue)",
                           **_rec.flags(self.units)})
            run.track("energy", ("cue", "sweep"), np.float64,
                      {"long_name": "energy E = -1/2 s.W.s (the model's own units)", "units": "1"})
            run.track("overlap", ("cue", "sweep", "pattern"), np.float64,
                      {"long_name": "overlap m = xi.s / n with each stored pattern", "units": "1"})
            sweeps = record_kind == "sweeps"  # (else no states to keep)
            self._keep(run, record_kind, np.zeros(1, np.int64),
                       (S[:, None] if mon.index is None else S[:, None, rec_idx]) if sweeps else None,
                       E[:, None], Q[:, None])                          # sweep 0: the cues
            for start, nsw in run:
                rec = (dev.empty((m, nsw, rec_idx.size), np.int8), dev.empty((m, nsw), np.float64),
                       dev.empty((m, nsw, P), np.int64))
                kernel(*args, nsw, t, sync, d_conv, d_used, d_idx, *rec)
                S, Q, converged, used = (dev.get(a) for a in (d_S, d_Q, d_conv, d_used))
                S_rec = (S if mon.index is None else S[:, rec_idx]) if sweeps else None  # (a view)
                rec_S, rec_E, rec_Q = (dev.get(a) for a in rec)
                # A cue that ran in this chunk: its energy now; one that stopped: carried forward.
                moved = np.flatnonzero(used > start)
                E[moved] = rec_E[moved, used[moved] - start - 1]
                # Slot k holds sweep start + k + 1, for the cues that ran that far: the recorded
                # sweeps are slots j = wanted - start - 1, a slice (every-th slot; no copies)
                wanted = run.steps(start + 1, max(min(nsw, int(used.max()) - start), 0))
                j = slice(wanted[0] - start - 1, wanted[-1] - start, mon.every) if wanted.size else slice(0, 0)
                ran = used[:, None] >= wanted
                self._keep(run, record_kind, wanted,
                           np.where(ran[:, :, None], rec_S[:, j], S_rec[:, None]) if sweeps else None,
                           np.where(ran, rec_E[:, j], E[:, None]),
                           np.where(ran[:, :, None], rec_Q[:, j], Q[:, None]))
                if converged.all():
                    run.stop()

        data = {
            "final_state": (("cue", "unit"), _to_units(S if mon.index is None else S[:, idx], self.units),
                            {"long_name": "state after the last sweep", **_rec.flags(self.units)}),
            "converged": (("cue",), converged.copy(),
                          {"long_name": "a sweep changed nothing before max_sweeps"}),
            "sweeps": (("cue",), used.copy(),
                       {"long_name": "sweeps used (the final no-change sweep counts)"}),
        }
        coords = {"cue": range(m), "unit": range(n) if mon.index is None else idx,  # (ranges: no
                  "pattern": range(P)}                                             # arrays to compare)
        params = {"n_units": n, "rule": self.rule, "units": self.units, "mode": mode,
                  "temperature": temperature, "max_sweeps": max_sweeps, "n_patterns": P,
                  "record": record_kind, "every": mon.every}
        return run.dataset(data, coords, family="HN", model="HopfieldNetwork", params=params,
                           seed=seed, backend=self.backend, attrs={"main": "energy overlap"})

    def _keep(self, run, record_kind, sweeps, states, energies, counts):
        """Keep the recorded ``sweeps`` of a chunk: states (cue, sweep, unit) bipolar (None when
        ``record_kind`` is ``"final"``), energies (cue, sweep) and overlap counts (cue, sweep,
        pattern) in kernel units, as final values (the network's units, the weights' scale,
        overlaps ``counts / n``)."""
        if sweeps.size == 0:
            return
        run.keep(sweep=sweeps, energy=energies * self._scale, overlap=counts / self.n_units)
        if record_kind == "sweeps":
            run.keep(state=_to_units(states, self.units))

    # -- persistence ----------------------------------------------------------------------
    def save(self, path):
        """Write the network (weights, patterns, parameters) to a netCDF file; returns ``path``."""
        data = {"weights": (("unit", "source"), np.asarray(self._W),
                            {"long_name": "weight W[i, j] from unit j to unit i"})}
        if self._X is not None:
            data["patterns"] = (("pattern", "unit"), self.patterns, {"long_name": "stored patterns"})
        params = {"n_units": self.n_units, "rule": self.rule, "units": self.units,
                  "n_patterns": self.n_patterns}
        ds = _rec.dataset(data, family="HN", model="HopfieldNetwork", params=params,
                          seed=self.seed, backend=self.backend)
        return _rec.save(ds, path)

    @classmethod
    def load(cls, path, *, backend="cpu"):
        """A network saved by :meth:`save` (weights as saved, not relearnt).

        A file that is not such a network (another model's, truncated, not netCDF) is a
        ``ValueError`` naming the file."""
        ds = _rec.open_model(path, "HopfieldNetwork", required=["weights", "n_units", "rule", "units"])
        net = cls(int(ds.attrs["n_units"]), rule=ds.attrs["rule"], units=ds.attrs["units"],
                  seed=rng.from_attr(ds.attrs["seed"]), backend=backend)
        W = np.ascontiguousarray(ds["weights"].values, dtype=np.float64)
        if W.shape != (net.n_units, net.n_units):
            raise ValueError(f"{path}: weights of shape {W.shape} for {net.n_units} units "
                             f"(a damaged HopfieldNetwork file)")
        if "patterns" in ds:
            X, _ = _spins(ds["patterns"].values, "patterns", net.n_units, net.units)
            if net.rule == "hebbian":
                Wk, scale = np.rint(W * net.n_units), 1.0 / net.n_units
            else:
                Wk, scale = W, 1.0
            net._set(X, W, Wk, scale)
        return net


# ---------------------------------------------------------------------------------- modern
class ModernHopfield:
    """Modern (dense associative memory) Hopfield network, Ramsauer et al. 2020.

    Stores real-valued patterns ``X`` (P, n) and retrieves with ``xi <- X^T softmax(beta X xi)``;
    its energy is ``E = -lse(beta, X xi) + xi.xi / 2 + log(P) / beta + M^2 / 2`` with
    ``lse(beta, z) = log(sum exp(beta z)) / beta`` and ``M`` the largest pattern norm.
    Its capacity grows exponentially with ``n`` (far beyond the classical ``0.138 n``).

    Parameters: ``beta`` > 0 (inverse temperature of the softmax), ``seed`` (kept in attrs;
    retrieval is deterministic).
    """

    family = "HN"

    def __init__(self, beta=1.0, *, seed=None):
        self.beta = checks.scalar(beta, "beta", low=0.0, low_open=True)
        rng.sequence(seed)
        self.seed = seed
        self._X = None

    def __repr__(self):
        shape = None if self._X is None else self._X.shape
        return f"ModernHopfield(beta={self.beta}, patterns={shape})"

    @property
    def patterns(self):
        """Stored patterns (P, n) float64 (a read-only view)."""
        if self._X is None:
            raise ValueError("no patterns stored: call store(patterns) first")
        view = self._X.view()
        view.flags.writeable = False
        return view

    @property
    def n_units(self):
        """Pattern length n (None before :meth:`store`)."""
        return None if self._X is None else self._X.shape[1]

    def store(self, patterns):
        """Store real-valued ``patterns`` (P, n), finite. Returns ``self``."""
        self._X = checks.array(patterns, "patterns", ndim=2).copy()
        return self

    def energy(self, states):
        """Ramsauer et al.'s energy of ``states`` (n,) -> float or (m, n) -> (m,)."""
        X = self.patterns
        S = checks.array(states, "states", ndim=(1, 2))
        if S.shape[-1] != X.shape[1]:
            raise ValueError(f"states must have shape ({X.shape[1]},) or (m, {X.shape[1]}); got {S.shape}")
        E = _modern_energy(np.atleast_2d(S), X, self.beta)
        return float(E[0]) if S.ndim == 1 else E

    def recall(self, cues, *, max_steps=10, tol=1e-9):
        """Retrieve from ``cues`` (n,) or (m, n): at most ``max_steps`` updates per cue, each
        cue stopping after the first step that moves no coordinate by more than ``tol``.

        Returns a Dataset with dims ``cue``, ``step`` (0 = the cue), ``unit``, ``pattern`` and
        variables ``state`` (cue, step, unit) float64 (a stopped cue carried forward),
        ``final_state`` (cue, unit), ``energy`` (cue, step), ``overlap`` (cue, step, pattern)
        ``X xi / n``, ``converged`` (cue) bool, ``steps`` (cue) int64.
        """
        X = self.patterns
        P, n = X.shape
        XI = checks.array(cues, "cues", ndim=(1, 2))
        if XI.shape[-1] != n:
            raise ValueError(f"cues must have shape ({n},) or (m, {n}); got {XI.shape}")
        XI = np.ascontiguousarray(np.atleast_2d(XI)).copy()
        max_steps = checks.integer(max_steps, "max_steps", low=1)
        tol = checks.scalar(tol, "tol", low=0.0)
        m = XI.shape[0]
        start = XI.copy()
        converged = np.zeros(m, dtype=np.bool_)
        used = np.zeros(m, dtype=np.int64)
        rec = np.empty((m, max_steps, n))
        _k.modern_steps(self._X, XI, self.beta, max_steps, tol, converged, used, rec)
        last = int(used.max())
        states = np.concatenate([start[:, None, :], rec[:, :last]], axis=1)
        overlap = states @ X.T / n
        energy = _modern_energy(states.reshape(-1, n), X, self.beta).reshape(m, last + 1)
        data = {
            "state": (("cue", "step", "unit"), states, {"long_name": "state after each step (step 0: the cue)"}),
            "final_state": (("cue", "unit"), XI, {"long_name": "state after the last step"}),
            "energy": (("cue", "step"), energy, {"long_name": "energy (Ramsauer et al. 2020)", "units": "1"}),
            "overlap": (("cue", "step", "pattern"), overlap, {"long_name": "overlap X.xi / n", "units": "1"}),
            "converged": (("cue",), converged, {"long_name": "a step moved nothing by more than tol"}),
            "steps": (("cue",), used, {"long_name": "update steps used"}),
        }
        coords = {"cue": np.arange(m), "step": np.arange(last + 1), "unit": np.arange(n),
                  "pattern": np.arange(P)}
        params = {"n_units": n, "n_patterns": P, "beta": self.beta, "max_steps": max_steps, "tol": tol}
        return _rec.dataset(data, coords, family="HN", model="ModernHopfield", params=params,
                            seed=self.seed, backend="cpu", attrs={"main": "energy overlap"})

    def save(self, path):
        """Write ``beta`` and the patterns to a netCDF file; returns ``path``."""
        ds = _rec.dataset({"patterns": (("pattern", "unit"), self.patterns)}, family="HN",
                          model="ModernHopfield", params={"beta": self.beta}, seed=self.seed)
        return _rec.save(ds, path)

    @classmethod
    def load(cls, path):
        """A network saved by :meth:`save` (a ``ValueError`` naming the file for any other)."""
        ds = _rec.open_model(path, "ModernHopfield", required=["patterns", "beta"])
        return cls(float(ds.attrs["beta"]), seed=rng.from_attr(ds.attrs["seed"])).store(ds["patterns"].values)


def _modern_energy(S, X, beta):
    """Ramsauer et al.'s energy for rows of ``S`` (k, n): (k,)."""
    A = beta * (S @ X.T)
    amax = A.max(axis=1)
    lse = (amax + np.log(np.exp(A - amax[:, None]).sum(axis=1))) / beta
    M = np.sqrt((X * X).sum(axis=1).max())
    return -lse + 0.5 * (S * S).sum(axis=1) + np.log(X.shape[0]) / beta + 0.5 * M * M


__all__ = ["HopfieldNetwork", "ModernHopfield", "RULES", "UNITS", "MODES"]
