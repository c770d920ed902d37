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
from .. import checks, rng
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
    if not np.all((a == allowed[0]) | (a == allowed[1])):
        bad = a[(a != allowed[0]) & (a != allowed[1])].ravel()[0]
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
        return int(np.random.SeedSequence().generate_state(1, np.uint64)[0] >> np.uint64(1))
    rng.sequence(seed)  # validates
    return seed


def _seed_attr(seed):
    if isinstance(seed, np.random.SeedSequence):
        return str(seed.entropy)
    return seed


def _chunk(total, work_per_sweep):
    """Sweeps per kernel call: about 2e7 unit updates, so a progress bar moves and Ctrl+C works."""
    return int(min(max(total, 1), max(1, 20_000_000 // max(work_per_sweep, 1))))


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
        self._XT = np.ascontiguousarray(X.T)
        self._XB = np.empty((P, -(-n // 64)), dtype=np.uint64)
        _k.pack_bits(X, self._XB)

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

    def _start(self, S):
        """Packed states ``SB`` (m, ceil(n / 64)) uint64, overlap counts ``Q`` (m, P) int64,
        local fields ``H`` (m, n) and energies ``E`` (m,) in kernel units for states ``S``
        (see ``kernels.hopfield``): one compiled pass, no BLAS (BLAS threads fighting
        the kernels' threads cost 10x on 2 cores). Hebbian weights with few patterns use the
        low-rank form ``X^T (X s) - P s`` (the same exact integers, O(n P) per cue)."""
        m = S.shape[0]
        SB = np.empty((m, self._XB.shape[1]), dtype=np.uint64)
        Q = np.empty((m, self._X.shape[0]), dtype=np.int64)
        H = np.empty(S.shape, dtype=self._h_dtype)
        E = np.empty(m)
        low_rank = self.rule == "hebbian" and 2 * self._X.shape[0] < self.n_units
        _k.start(self._X, self._XB, self._W2k, low_rank, S, SB, Q, H, E)
        return SB, Q, H, E

    # -- recall ---------------------------------------------------------------------------
    def recall(self, cues, *, mode="async", temperature=0.0, max_sweeps=100, record="sweeps",
               monitor=None, seed=None, progress=False):
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
        if record_kind == "final":
            rec_idx = np.zeros(0, dtype=np.int64)
        else:
            rec_idx = idx
        seed = _run_seed(seed, self.seed)
        progress = bool(progress)

        m, n = S.shape
        P = self._X.shape[0]
        SB, Q, H, E = self._start(S)
        streams = rng.streams(seed, m)
        t = temperature / self._scale
        converged = np.zeros(m, dtype=np.bool_)
        used = np.zeros(m, dtype=np.int64)
        sync = mode == "sync"
        run_backend = self.backend

        # Sweep 0 (the cues), then one block of monitored sweeps per chunk.
        out_sweeps, out_E, out_Q = [np.zeros(1, np.int64)], [E[:, None].copy()], [Q[:, None].copy()]
        out_S = [S[:, None, rec_idx]]

        def keep(start, nsw, rec_S, rec_E, rec_Q):
            """Move the monitored sweeps of a chunk out of its buffers (stopped cues: current)."""
            moved = np.flatnonzero(used > start)
            E[moved] = rec_E[moved, used[moved] - start - 1]  # E: every cue's current energy
            wanted = mon.steps(max(min(nsw, int(used.max()) - start), 0), start + 1)
            if wanted.size == 0:
                return
            j = wanted - start - 1
            ran = used[:, None] >= wanted
            out_sweeps.append(wanted)
            out_S.append(np.where(ran[:, :, None], rec_S[:, j], S[:, None, rec_idx]))
            out_E.append(np.where(ran, rec_E[:, j], E[:, None]))
            out_Q.append(np.where(ran[:, :, None], rec_Q[:, j], Q[:, None]))

        if run_backend == "cuda":
            runner = _CudaSweeps(self._W2k, self._XT, S, H, Q, streams, t, sync, converged, used,
                                 rec_idx)

        def advance(start, nsw):
            rec_S = np.empty((m, nsw, rec_idx.size), dtype=np.int8)
            rec_E = np.empty((m, nsw))
            rec_Q = np.empty((m, nsw, P), dtype=np.int64)
            if run_backend == "cuda":
                runner.run(nsw, rec_S, rec_E, rec_Q)
            else:
                order = np.empty((m, n), dtype=np.int64)
                _k.sweeps(self._W2k, self._XB, S, SB, H, Q, streams, order, nsw, t, sync,
                          converged, used, rec_idx, rec_S, rec_E, rec_Q)
            keep(start, nsw, rec_S, rec_E, rec_Q)
            return bool(converged.all())

        chunk = _chunk(max_sweeps, m * n)
        _, interrupted = _rec.run_chunks(advance, max_sweeps, chunk, progress=progress,
                                           desc="Hopfield recall", unit="sweep")
        if run_backend == "cuda":
            runner.finish()

        # Trim the sweep axis to the sweeps any cue ran (chunks may overshoot the last one).
        sweeps = np.concatenate(out_sweeps)
        n_keep = int(np.searchsorted(sweeps, used.max(), side="right"))
        sweeps = sweeps[:n_keep]
        energy = np.concatenate(out_E, axis=1)[:, :n_keep] * self._scale
        overlap = np.concatenate(out_Q, axis=1)[:, :n_keep] / n
        data = {
            "final_state": (("cue", "unit"), _to_units(S if mon.index is None else S[:, idx], self.units),
                            {"long_name": "state after the last sweep"}),
            "energy": (("cue", "sweep"), energy,
                       {"long_name": "energy E = -1/2 s.W.s", "units": "1"}),
            "overlap": (("cue", "sweep", "pattern"), overlap,
                        {"long_name": "overlap m = xi.s / n with each stored pattern", "units": "1"}),
            "converged": (("cue",), converged.copy(),
                          {"long_name": "a sweep changed nothing before max_sweeps"}),
            "sweeps": (("cue",), used.copy(),
                       {"long_name": "sweeps used (the final no-change sweep counts)"}),
        }
        if record_kind == "sweeps":
            state = np.concatenate(out_S, axis=1)[:, :n_keep]
            data["state"] = (("cue", "sweep", "unit"), _to_units(state, self.units),
                             {"long_name": "state after each sweep (sweep 0: the cue)"})
        coords = {"cue": np.arange(m), "sweep": ("sweep", sweeps, {"long_name": "sweep (0 = the cue)"}),
                  "unit": idx, "pattern": np.arange(P)}
        params = {"n_units": n, "rule": self.rule, "units": self.units, "mode": mode,
                  "temperature": temperature, "max_sweeps": max_sweeps, "n_patterns": P,
                  "record": record_kind, "every": mon.every}
        return _rec.dataset(data, coords, family="HN", model="HopfieldNetwork", params=params,
                              seed=_seed_attr(seed), backend=run_backend, interrupted=interrupted)

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
                            seed=_seed_attr(self.seed), backend=self.backend)
        return _rec.save(ds, path)

    @classmethod
    def load(cls, path, *, backend="cpu"):
        """A network saved by :meth:`save` (weights as saved, not relearnt)."""
        ds = _rec.load(path)
        if ds.attrs.get("model") != "HopfieldNetwork":
            raise ValueError(f"{path} does not hold a HopfieldNetwork (model attr: {ds.attrs.get('model')!r})")
        seed = ds.attrs.get("seed")
        seed = None if seed == "none" or isinstance(seed, str) else int(seed)
        net = cls(int(ds.attrs["n_units"]), rule=ds.attrs["rule"], units=ds.attrs["units"],
                  seed=seed, backend=backend)
        if "patterns" in ds:
            X, _ = _spins(ds["patterns"].values, "patterns", net.n_units, net.units)
            W = np.ascontiguousarray(ds["weights"].values, dtype=np.float64)
            if net.rule == "hebbian":
                Wk, scale = np.rint(W * net.n_units), 1.0 / net.n_units
            else:
                Wk, scale = W, 1.0
            net._set(X, W, Wk, scale)
        return net


class _CudaSweeps:
    """Device copies of one recall and the chunked launches of its CUDA kernel."""

    threads = 64

    def __init__(self, W2k, XT, S, H, Q, streams, t, sync, converged, used, rec_idx):
        from numba import cuda
        from numba.cuda.random import xoroshiro128p_dtype

        from ..kernels.cuda import hopfield as ck

        self.cuda, self.kernel = cuda, ck.sweeps
        self.host = (S, H, Q, converged, used)
        self.t, self.sync = t, sync
        m, n = S.shape
        self.d = {
            "W2T": cuda.to_device(np.ascontiguousarray(W2k)), "XT": cuda.to_device(XT),
            "S": cuda.to_device(S), "H": cuda.to_device(H), "Q": cuda.to_device(Q),
            "streams": cuda.to_device(streams.view(xoroshiro128p_dtype).ravel()),
            "order": cuda.device_array((m, n), dtype=np.int64),
            "converged": cuda.to_device(converged), "used": cuda.to_device(used),
            "rec_idx": cuda.to_device(rec_idx),
        }
        self.blocks = (m + self.threads - 1) // self.threads

    def run(self, nsw, rec_S, rec_E, rec_Q):
        cuda, d = self.cuda, self.d
        d_rS = cuda.device_array(rec_S.shape, dtype=np.int8)
        d_rE = cuda.device_array(rec_E.shape)
        d_rQ = cuda.device_array(rec_Q.shape, dtype=np.int64)
        self.kernel[self.blocks, self.threads](
            d["W2T"], d["XT"], d["S"], d["H"], d["Q"], d["streams"], d["order"], nsw, self.t,
            self.sync, d["converged"], d["used"], d["rec_idx"], d_rS, d_rE, d_rQ)
        cuda.synchronize()
        if rec_S.size:
            rec_S[...] = d_rS.copy_to_host()
        rec_E[...] = d_rE.copy_to_host()
        rec_Q[...] = d_rQ.copy_to_host()
        self._pull()

    def _pull(self):
        S, H, Q, converged, used = self.host
        d = self.d
        S[...] = d["S"].copy_to_host()
        H[...] = d["H"].copy_to_host()
        Q[...] = d["Q"].copy_to_host()
        converged[...] = d["converged"].copy_to_host()
        used[...] = d["used"].copy_to_host()

    def finish(self):
        self._pull()


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
                              seed=_seed_attr(self.seed), backend="cpu")

    def save(self, path):
        """Write ``beta`` and the patterns to a netCDF file; returns ``path``."""
        ds = _rec.dataset({"patterns": (("pattern", "unit"), self.patterns)}, family="HN",
                            model="ModernHopfield", params={"beta": self.beta},
                            seed=_seed_attr(self.seed))
        return _rec.save(ds, path)

    @classmethod
    def load(cls, path):
        """A network saved by :meth:`save`."""
        ds = _rec.load(path)
        if ds.attrs.get("model") != "ModernHopfield":
            raise ValueError(f"{path} does not hold a ModernHopfield (model attr: {ds.attrs.get('model')!r})")
        seed = ds.attrs.get("seed")
        seed = None if isinstance(seed, str) else int(seed)
        return cls(float(ds.attrs["beta"]), seed=seed).store(ds["patterns"].values)


def _modern_energy(S, X, beta):
    """Ramsauer et al.'s energy for rows of ``S`` (k, n): (k,)."""
    A = beta * (S @ X.T)
    amax = A.max(axis=1)
    lse = (amax + np.log(np.exp(A - amax[:, None]).sum(axis=1))) / beta
    M = np.sqrt((X * X).sum(axis=1).max())
    return -lse + 0.5 * (S * S).sum(axis=1) + np.log(X.shape[0]) / beta + 0.5 * M * M


__all__ = ["HopfieldNetwork", "ModernHopfield", "RULES", "UNITS", "MODES"]
