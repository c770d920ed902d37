"""Spiking networks: neuron groups and sources wired with :mod:`neurosim.connect`, run in chunks.

>>> net = Network(dt=1e-4, seed=0)
>>> exc = net.add(LIF(3200, v0=(-60e-3, -50e-3)))
>>> net.connect(exc, exc, p=0.02, weights=1e-11, channel="e")
>>> ds = net.run(1.0, record=Monitor(every=10, index=[0, 1]))

Each step follows Brian2's schedule (state update, threshold, delivery, reset; see
:mod:`neurosim.kernels.spiking`). A run is cut into chunks, one compiled call each; between
chunks the recorded data leave the chunk buffers (for memory or a netCDF file), a progress bar
moves and Ctrl+C stops the run cleanly with what was recorded so far.
"""
import numbers
import os

import numpy as np
import scipy.sparse as sp
import xarray as xr

from .. import checks, connect
from .. import record as _rec
from .. import rng as _rng
from ..kernels import spiking as _k
from .inputs import PoissonGroup, SpikeGeneratorGroup
from .neurons import LIF, Izhikevich, NeuronGroup, check_dt

VARIABLES = {"v": _k.VAR_V, "u": _k.VAR_U, "syn_e": _k.VAR_SYN_E, "syn_i": _k.VAR_SYN_I}
CHANNELS = {"e": 0, "i": 1}


class NetCDFAppender:
    """Write arrays to a netCDF file chunk by chunk along unlimited dimensions.

    ``fixed``: dict of fixed dim sizes; ``unlimited``: names of growing dims. ``define(name,
    dims, dtype, attrs)`` declares a variable; ``append(name, values)`` writes ``values`` after
    what the variable already holds along its first (unlimited) dim; ``write(name, values)``
    sets a fixed-size variable; ``close(attrs)`` writes global attributes and closes.
    """

    def __init__(self, path, fixed, unlimited):
        import netCDF4

        self.path = os.fspath(path)
        self._nc = netCDF4.Dataset(self.path, "w", format="NETCDF4")
        self._count = {}
        for name, size in fixed.items():
            self._nc.createDimension(name, size)
        for name in unlimited:
            self._nc.createDimension(name, None)

    def define(self, name, dims, dtype, attrs=None):
        """Declare variable ``name`` over ``dims`` (unlimited ones grow as chunks arrive)."""
        var = self._nc.createVariable(name, np.dtype(dtype) if dtype is not str else str, dims)
        for k, v in (attrs or {}).items():
            var.setncattr(k, v)
        self._count[name] = 0

    def append(self, name, values):
        """Append ``values`` along the first (unlimited) dim of ``name``."""
        var = self._nc.variables[name]
        n = self._count[name]   # a shared unlimited dim grows with its longest variable
        values = np.asarray(values)
        if values.shape[0]:
            var[n:n + values.shape[0]] = values
            self._count[name] = n + values.shape[0]

    def write(self, name, values):
        """Write the whole of a fixed-size variable ``name``."""
        self._nc.variables[name][:] = np.asarray(values)

    def close(self, attrs=None):
        """Set global ``attrs`` and close the file."""
        for k, v in (attrs or {}).items():
            self._nc.setncattr(k, v)
        self._nc.close()


class _Projection:
    def __init__(self, pre, post, W, channel, D):
        self.pre, self.post, self.W, self.channel, self.D = pre, post, W, channel, D


class Network:
    """A spiking network: neuron groups, spike sources, synapses; state kept between runs.

    dt: time step (s), > 0. seed: int >= 0, SeedSequence or None; it fixes the initial states
    drawn from ranges, random wiring made by :meth:`connect`, delays and Poisson spikes. The
    same seed gives the same spikes whatever the number of threads.
    """

    def __init__(self, dt=1e-4, *, seed=None):
        self.dt = checks.scalar(dt, "dt", low=0.0, low_open=True)
        self.seed = seed
        self._ss = _rng.sequence(seed)
        self._children = 0
        self.groups = []        # neuron groups, in the order added
        self.sources = []       # Poisson and generator groups
        self.projections = []
        self._built = False
        self.step = 0

    # ----------------------------------------------------------------------- building
    def _child(self):
        self._children += 1
        return np.random.SeedSequence(self._ss.entropy,
                                      spawn_key=self._ss.spawn_key + (self._children,))

    def add(self, group):
        """Add a neuron group (:class:`LIF`, :class:`Izhikevich`) or a source
        (:class:`PoissonGroup`, :class:`SpikeGeneratorGroup`); returns it."""
        if self._built:
            raise RuntimeError("cannot add groups after the network has run")
        if any(group is g for g in self.groups + self.sources):
            raise ValueError("this group is already in the network")
        if isinstance(group, NeuronGroup):
            self.groups.append(group)
        elif isinstance(group, (PoissonGroup, SpikeGeneratorGroup)):
            self.sources.append(group)
        else:
            raise TypeError(f"group must be a neuron group (LIF, Izhikevich) or a source "
                            f"(PoissonGroup, SpikeGeneratorGroup); got {type(group).__name__}")
        return group

    def _check_member(self, g, name):
        if not any(g is x for x in self.groups + self.sources):
            raise ValueError(f"{name} is not a group of this network (add it first)")

    def connect(self, pre, post, W=None, *, p=None, k=None, weights=1.0, channel="e",
                delay=None, self_loops=False, loc=0.0, scale=1.0):
        """Synapses from group ``pre`` onto neuron group ``post``; returns ``W`` (csr_array).

        W: a weight matrix (n_post, n_pre), dense or sparse (e.g. from :mod:`neurosim.connect`),
        or None to draw random wiring here with ``p`` (probability per pair) or ``k`` (fixed
        in-degree) and ``weights``/``loc``/``scale`` as in :func:`neurosim.connect.random`.
        Weights are amperes onto current synapses and siemens (>= 0) onto conductance synapses.
        channel: ``"e"`` or ``"i"``, the synaptic variable the spikes add to.
        delay: None or 0 (delivered before the next update), a float (s), a pair ``(low, high)``
        (s, uniform per synapse), or a matrix of delays in steps with W's sparsity pattern (from
        :func:`neurosim.connect.delays`). Delays in seconds are rounded to whole steps,
        ``rint(delay / dt)``.
        """
        if self._built:
            raise RuntimeError("cannot connect groups after the network has run")
        self._check_member(pre, "pre")
        self._check_member(post, "post")
        if not isinstance(post, NeuronGroup):
            raise TypeError("post must be a neuron group (sources receive no synapses)")
        checks.choice(channel, "channel", tuple(CHANNELS))
        if W is None:
            if (p is None) == (k is None):
                raise ValueError("give W, or exactly one of p and k")
            same = pre is post
            W = connect.random(post.n, None if same else pre.n, p=p, k=k, weights=weights,
                               self_loops=self_loops, seed=self._child(), loc=loc, scale=scale)
        else:
            if p is not None or k is not None:
                raise ValueError("give either W or p/k, not both")
            W = connect._as_csr(W, "W")
        if W.shape != (post.n, pre.n):
            raise ValueError(f"W must have shape (n_post, n_pre) = ({post.n}, {pre.n}); "
                             f"got {W.shape}")
        if post.synapse == "conductance" and W.nnz and W.data.min() < 0:
            raise ValueError("weights onto conductance synapses are conductances and must be "
                             f">= 0 S; got minimum {W.data.min()}")
        D = None
        if delay is not None:
            if sp.issparse(delay) or isinstance(delay, np.ndarray):
                D = delay
            elif isinstance(delay, tuple) and len(delay) == 2:
                D = connect.delays(W, low=delay[0], high=delay[1], dt=self.dt, seed=self._child())
            elif isinstance(delay, numbers.Real) and not isinstance(delay, bool):
                d = checks.scalar(delay, "delay", low=0.0)
                D = connect.delays(W, low=d, dt=self.dt) if d > 0 else None
            else:
                raise TypeError("delay must be None, a float (s), a pair (low, high) or a matrix "
                                f"of steps; got {type(delay).__name__}")
            if D is not None:
                connect.outgoing(W, D)   # validates pattern, integers and signs
        self.projections.append(_Projection(pre, post, W, CHANNELS[channel], D))
        return W

    def indices(self, group):
        """Global neuron numbers (int64 array) of a neuron group, as used in results."""
        self._check_member(group, "group")
        if not isinstance(group, NeuronGroup):
            raise TypeError("indices are defined for neuron groups only")
        start = 0
        for g in self.groups:
            if g is group:
                return np.arange(start, start + g.n, dtype=np.int64)
            start += g.n

    @property
    def n_neurons(self):
        """Total number of neurons (sources excluded)."""
        return sum(g.n for g in self.groups)

    def _pre_start(self, group):
        start = 0
        for g in self.groups + self.sources:
            if g is group:
                return start
            start += g.n

    def _build(self):
        if not self.groups:
            raise ValueError("the network has no neuron group; add one with add(LIF(...))")
        check_dt(self.dt, self.groups)
        dt = self.dt
        N = self.n_neurons
        gen = np.random.default_rng(self._child())
        self.g_lo = np.zeros(len(self.groups) + 1, dtype=np.int64)
        np.cumsum([g.n for g in self.groups], out=self.g_lo[1:])
        self.g_model = np.array([g.model for g in self.groups], dtype=np.int64)
        self.g_syn = np.array([0 if g.synapse == "current" else 1 for g in self.groups],
                              dtype=np.int64)
        self.g_par = np.stack([g.parameters(dt) for g in self.groups])
        vs, us = zip(*(g.initial_state(gen) for g in self.groups))
        self.v = np.concatenate(vs)
        self.u = np.concatenate(us)
        self.syn = np.zeros((2, N))
        self.ref = np.zeros(N, dtype=np.int32)  # int32: the update loop vectorises better
        # external currents: one table (rows, N) with a common stride in steps
        strides = []
        for g in self.groups:
            if g.I.shape[0] > 1:
                strides.append(self._steps(g.I_dt, "I_dt"))
        if strides and len(set(strides)) > 1:
            raise ValueError(f"all time-varying currents must share one I_dt; got strides "
                             f"{sorted(set(strides))} steps")
        self.I_stride = strides[0] if strides else 1
        rows = max(g.I.shape[0] for g in self.groups)
        self.I_ext = np.zeros((rows, N))
        for g, lo in zip(self.groups, self.g_lo):
            self.I_ext[:, lo:lo + g.n] = g.I if g.I.shape[0] == rows else g.I[-1]
            if 1 < g.I.shape[0] < rows:
                self.I_ext[:g.I.shape[0], lo:lo + g.n] = g.I
                self.I_ext[g.I.shape[0]:, lo:lo + g.n] = g.I[-1]
        # Poisson sources
        pois = [s for s in self.sources if isinstance(s, PoissonGroup)]
        self.n_poisson = sum(s.n for s in pois)
        if pois:
            strides = sorted({self._steps(s.dt, "rates dt") for s in pois if s.rates.shape[0] > 1})
            if len(strides) > 1:
                raise ValueError(f"all time-varying Poisson rates must share one dt; got strides "
                                 f"{strides} steps")
            self.rate_stride = strides[0] if strides else 1
            rows = max(s.rates.shape[0] for s in pois)
            self.rates = np.zeros((rows, self.n_poisson))
            c = 0
            for s in pois:
                r = s.rates
                self.rates[:, c:c + s.n] = r[np.minimum(np.arange(rows), r.shape[0] - 1)]
                c += s.n
            if self.rates.max() * dt > 1:
                raise ValueError(f"rates * dt must be <= 1; got a rate of {self.rates.max()} Hz "
                                 f"with dt = {dt} s")
            self.pstate = _rng.streams(self._child(), self.n_poisson)
        else:
            self.rate_stride = 1
            self.rates = np.zeros((1, 1))
            self.pstate = np.zeros((1, 2), dtype=np.uint64)
            self._child()
        # Poisson sources are numbered before generators in the presynaptic space
        self.sources = pois + [s for s in self.sources if isinstance(s, SpikeGeneratorGroup)]
        self._set_generators()
        self._build_synapses()
        self._built = True

    def _steps(self, x, name):
        n = int(np.rint(x / self.dt))
        if n < 1:
            raise ValueError(f"{name} must be at least dt ({self.dt} s); got {x}")
        return n

    def _set_generators(self):
        steps, idx = [np.empty(0, dtype=np.int64)], [np.empty(0, dtype=np.int64)]
        for s in self.sources:
            if isinstance(s, SpikeGeneratorGroup):
                steps.append(np.rint(s.times / self.dt).astype(np.int64))
                idx.append(s.indices + self._pre_start(s))
        steps, idx = np.concatenate(steps), np.concatenate(idx)
        order = np.lexsort((idx, steps))
        self.gen_step, self.gen_idx = steps[order], idx[order]
        self.gen_ptr = np.zeros(1, dtype=np.int64)
        # skip events already in the past
        self.gen_ptr[0] = np.searchsorted(self.gen_step, self.step)

    def _build_synapses(self):
        n_pre = self.n_neurons + sum(s.n for s in self.sources)
        pres, codes, ws, ds = [], [], [], []
        for pr in self.projections:
            out = connect.outgoing(pr.W, pr.D)
            indptr, targets, w = out[:3]
            d = out[3] if pr.D is not None else np.zeros(w.shape[0], dtype=np.int64)
            pre_local = np.repeat(np.arange(pr.pre.n, dtype=np.int64), np.diff(indptr))
            pres.append(pre_local + self._pre_start(pr.pre))
            codes.append(pr.channel * self.n_neurons + targets + self.indices(pr.post)[0])
            ws.append(w)
            ds.append(d)
        if pres:
            pre = np.concatenate(pres)
            order = np.argsort(pre, kind="stable")
            code = np.concatenate(codes)[order]
            # int32 targets (half the memory traffic of delivery) wherever 2N fits
            self.out_code = code.astype(np.int32) if 2 * self.n_neurons < 2 ** 31 else code
            self.out_w = np.concatenate(ws)[order]
            self.out_d = np.concatenate(ds)[order]
            counts = np.bincount(pre, minlength=n_pre)
        else:
            self.out_code = np.empty(0, dtype=np.int32)
            self.out_w = np.empty(0)
            self.out_d = np.empty(0, dtype=np.int64)
            counts = np.zeros(n_pre, dtype=np.int64)
        self.out_ptr = np.zeros(n_pre + 1, dtype=np.int64)
        np.cumsum(counts, out=self.out_ptr[1:])
        L = int(self.out_d.max()) + 1 if self.out_d.size else 1
        self.ring = np.zeros((L, 2 * self.n_neurons))

    @property
    def n_synapses(self):
        """Number of synapses."""
        if self._built:
            return int(self.out_w.shape[0])
        return sum(int(pr.W.nnz) for pr in self.projections)

    # ------------------------------------------------------------------ save / load
    _ARRAYS = ("g_lo", "g_model", "g_syn", "g_par", "v", "u", "syn", "ref", "I_ext", "rates",
               "pstate", "gen_step", "gen_idx", "gen_ptr", "out_ptr", "out_code", "out_w",
               "out_d", "ring")
    _CTOR = {"LIF": ("synapse", "tau_e", "tau_i", "E_e", "E_i", "t_ref", "tau_m", "v_rest",
                     "v_th", "v_reset", "R"),
             "Izhikevich": ("synapse", "tau_e", "tau_i", "E_e", "E_i", "t_ref", "a", "b", "c",
                            "d", "v_peak", "C")}

    def save(self, path, *, extra=None, attrs=None):
        """Write the whole network (wiring, parameters, state, random streams, time) to a
        netCDF file; :meth:`load` continues from it exactly. No pickle. ``extra``: more data
        variables (name -> (dims, array)) and ``attrs`` more attributes, for models built on a
        network."""
        import json

        if not self._built:
            self._build()
        data = {}
        for name in self._ARRAYS:
            a = getattr(self, name)
            data[name] = ([f"{name}_{k}" for k in range(a.ndim)], a)
        groups = []
        for g in self.groups:
            kind = type(g).__name__
            groups.append({"kind": kind, "n": g.n, "name": g.name,
                           "kwargs": {k: getattr(g, k) for k in self._CTOR[kind]}})
        for src in self.sources:
            groups.append({"kind": type(src).__name__, "n": src.n, "name": src.name})
        data.update(extra or {})
        ds = xr.Dataset(data)
        ds.attrs.update(attrs or {})
        ds.attrs.update({"dt": self.dt, "step": self.step, "I_stride": self.I_stride,
                         "rate_stride": self.rate_stride, "n_poisson": self.n_poisson,
                         "groups_json": json.dumps(groups), "seed": str(self.seed),
                         "model": "Network", "family": "LSM"})
        ds.to_netcdf(path)
        return path

    @classmethod
    def load(cls, path):
        """A network saved by :meth:`save`, ready to run on from where it stopped."""
        import json

        with xr.open_dataset(path) as ds:
            ds = ds.load()
        net = cls(float(ds.attrs["dt"]))
        seed = ds.attrs["seed"]
        net.seed = int(seed) if seed.isdigit() else None
        for spec in json.loads(ds.attrs["groups_json"]):
            kind, n, name = spec["kind"], spec["n"], spec["name"]
            if kind == "LIF":
                g = LIF(n, name=name, **spec["kwargs"])
            elif kind == "Izhikevich":
                g = Izhikevich(n, name=name, **spec["kwargs"])
            elif kind == "PoissonGroup":
                g = PoissonGroup(n, 0.0, name=name)
            else:
                g = SpikeGeneratorGroup(n, [], np.empty(0, dtype=np.int64), name=name)
            net.add(g)
        for name in cls._ARRAYS:
            setattr(net, name, np.ascontiguousarray(ds[name].values))
        net.step = int(ds.attrs["step"])
        net.I_stride = int(ds.attrs["I_stride"])
        net.rate_stride = int(ds.attrs["rate_stride"])
        net.n_poisson = int(ds.attrs["n_poisson"])
        net._built = True
        return net

    @property
    def t(self):
        """Current time (s)."""
        return self.step * self.dt

    # ------------------------------------------------------------------- snapshots
    _STATE = ("v", "u", "syn", "ref", "ring", "pstate", "gen_ptr")

    def store(self):
        """Snapshot the state (neurons, synapses in flight, random streams, time) in memory."""
        if not self._built:
            self._build()
        self._stored = {k: getattr(self, k).copy() for k in self._STATE}
        self._stored["step"] = self.step

    def restore(self):
        """Return to the state saved by :meth:`store`."""
        if not hasattr(self, "_stored"):
            raise RuntimeError("restore() needs a store() first")
        for k in self._STATE:
            getattr(self, k)[...] = self._stored[k]
        self.step = self._stored["step"]

    def set_spikes(self, group, times, indices):
        """Replace a :class:`SpikeGeneratorGroup`'s spikes (times in s from t = 0)."""
        self._check_member(group, "group")
        if not isinstance(group, SpikeGeneratorGroup):
            raise TypeError("set_spikes needs a SpikeGeneratorGroup")
        new = SpikeGeneratorGroup(group.n, times, indices)
        group.times, group.indices = new.times, new.indices
        if self._built:
            self._set_generators()

    # --------------------------------------------------------------------- running
    def _simulate(self, n_steps, rec_every, rec_idx, rec_vars, spk_mask, sink, chunk,
                  progress):
        """Run ``n_steps``; hand each chunk's records to ``sink(rows, rec, rates, steps, idx)``.
        Returns (steps done, interrupted)."""
        if not self._built:
            self._build()
        N = self.n_neurons
        G = len(self.groups)
        chunk = max(rec_every, (chunk // rec_every) * rec_every)
        rows = -(-chunk // rec_every)
        rec_buf = np.zeros((rows, len(rec_vars), len(rec_idx)))
        rate_buf = np.zeros((rows, G), dtype=np.int64)
        cap = max(4 * N + 1024, 1 << 16)
        spk_step = np.empty(cap, dtype=np.int64)
        spk_idx = np.empty(cap, dtype=np.int64)
        n_spk = np.zeros(1, dtype=np.int64)

        # the parts this network does not use are passed as None: the kernel is then compiled
        # without them (a CUBA-like network compiles only the LIF pass and the delivery)
        lif_current = (self.g_model == _k.LIF) & (self.g_syn == _k.CURRENT)
        g_kind = None if lif_current.all() else 2 * self.g_model + self.g_syn
        poisson = ((self.rates, np.int64(self.rate_stride), self.pstate) if self.n_poisson > 0
                   else None)
        generators = ((self.gen_step, self.gen_idx, self.gen_ptr) if self.gen_step.size
                      else None)
        delays = (self.out_d, self.ring) if self.ring.shape[0] > 1 else None
        rec = (rec_idx, rec_vars, rec_buf) if rec_buf.size else None
        # no external current into LIF-current groups only: None (one array less to read)
        I_ext = None if g_kind is None and not self.I_ext.any() else self.I_ext
        if not self.syn.flags.c_contiguous:
            self.syn = np.ascontiguousarray(self.syn)
        syn = self.syn.reshape(-1)       # a view (updated in place): e then i
        fired = np.empty(self.out_ptr.shape[0] - 1 + self.gen_step.size, dtype=np.int64)
        out_code = self.out_code
        if out_code.dtype != np.int32 and 2 * N < 2 ** 31:   # e.g. a network saved before
            out_code = self.out_code = out_code.astype(np.int32)

        def advance(start, n):
            rate_buf[:] = 0
            done = 0
            while done < n:
                n_spk[0] = 0
                got = _k.run_steps(np.int64(self.step), np.int64(done), np.int64(n - done),
                                   float(self.dt), self.g_lo, g_kind, self.g_par,
                                   self.v, self.u, syn, self.ref,
                                   I_ext, np.int64(self.I_stride), poisson, generators,
                                   self.out_ptr, out_code, self.out_w, delays,
                                   np.int64(rec_every), rec, rate_buf,
                                   spk_mask, spk_step, spk_idx, n_spk, fired)
                self.step += int(got)
                done += int(got)
                m = int(n_spk[0])
                sink(None, None, spk_step[:m].copy(), spk_idx[:m].copy())
            r = -(-n // rec_every)
            sink(rec_buf[:r].copy(), rate_buf[:r].copy(), None, None)
            return False

        return _rec.run_chunks(advance, n_steps, chunk, progress=progress,
                                 desc="spiking network", unit="step")

    def run(self, duration, *, record=None, variables=("v",), spikes=True, chunk=None,
            progress=False, stream=None):
        """Simulate ``duration`` seconds from the current state; returns an ``xarray.Dataset``.

        record: a :class:`neurosim.record.Monitor` (``every`` in steps, ``index`` of neurons) for
        state variables, or None: no neuron states, population rates every step. variables:
        which states to record among ``"v"`` (V), ``"u"`` (Izhikevich recovery, V/s),
        ``"syn_e"``, ``"syn_i"`` (A for current synapses, S for conductance synapses); states
        are those at the start of each recorded step (time ``step * dt``), as Brian2 records.
        spikes: True (all neurons), False, or the neuron numbers / a boolean mask to record.
        chunk: steps per compiled call (default 0.1 s of simulated time). progress: tqdm bar.
        stream: a path; records go to that netCDF file chunk by chunk (bounded memory) and the
        file is returned opened lazily with ``xarray.open_dataset`` (close it when done).

        Dataset: ``v`` etc. (time, neuron); ``rate`` (time, population) in Hz, each group's
        spikes in the ``every`` steps from that time; ``spike_time`` (s) and ``spike_neuron``
        along ``spike``. Ctrl+C stops after the current chunk (attr ``interrupted`` = 1).
        """
        duration = checks.scalar(duration, "duration", low=0.0, low_open=True)
        n_steps = int(np.rint(duration / self.dt))
        if n_steps < 1:
            raise ValueError(f"duration must be at least one step (dt = {self.dt} s); "
                             f"got {duration}")
        if not self._built:
            self._build()
        N = self.n_neurons
        mon = _monitor(record, N)
        rec_idx = mon.units(N)
        if isinstance(variables, str):
            variables = (variables,)
        for name in variables:
            checks.choice(name, "variables", tuple(VARIABLES))
        rec_vars = np.array([VARIABLES[x] for x in variables], dtype=np.int64)
        if spikes is True:
            spk_mask = np.ones(N, dtype=bool)
        elif spikes is False or spikes is None:
            spk_mask = np.zeros(N, dtype=bool)
        else:
            spk_mask = np.zeros(N, dtype=bool)
            spk_mask[_rec.Monitor(index=spikes).units(N)] = True
        if chunk is None:
            chunk = max(1, int(round(0.1 / self.dt)))
        chunk = checks.integer(chunk, "chunk", low=1)
        t0_step = self.step
        every = mon.every
        pop = [g.name or f"group{i}" for i, g in enumerate(self.groups)]
        sizes = np.array([g.n for g in self.groups], dtype=float)
        units = {"v": "V", "u": "V/s"}
        syn_types = {g.synapse for g in self.groups}
        syn_unit = "A" if syn_types == {"current"} else "S" if syn_types == {"conductance"} \
            else "A (current synapses) or S (conductance synapses)"
        var_attrs = {name: {"units": units.get(name, syn_unit)} for name in variables}
        params = {"dt": self.dt, "n_neurons": N, "n_synapses": self.n_synapses,
                  "t_start": t0_step * self.dt, "every": every}
        for g, name in zip(self.groups, pop):
            params.update({f"{name}_{k}": v for k, v in g.params().items()})
        attrs = {"groups": ", ".join(f"{name}: {type(g).__name__}({g.n}, {g.synapse})"
                                     for g, name in zip(self.groups, pop)),
                 "time_units": "s", "dt_units": "s",
                 "spike_time_convention": "start of the step in which v crossed threshold"}

        if stream is None:
            recs, rates, sts, sis = [], [], [], []

            def sink(rec, rate, st, si):
                if rec is not None:
                    recs.append(rec)
                    rates.append(rate)
                else:
                    sts.append(st)
                    sis.append(si)
        else:
            app = NetCDFAppender(stream, {"neuron": len(rec_idx), "population": len(pop)},
                                 ("time", "spike"))
            app.define("neuron", ("neuron",), np.int64)
            app.write("neuron", rec_idx)
            app.define("population", ("population",), str)
            for i, name in enumerate(pop):
                app._nc.variables["population"][i] = name
            app.define("time", ("time",), np.float64, {"units": "s"})
            for name in variables:
                app.define(name, ("time", "neuron"), np.float64, var_attrs[name])
            app.define("rate", ("time", "population"), np.float64, {"units": "Hz"})
            app.define("spike_time", ("spike",), np.float64, {"units": "s"})
            app.define("spike_neuron", ("spike",), np.int64)
            written = [0]

            def sink(rec, rate, st, si):
                if rec is not None:
                    r = rec.shape[0]
                    times = (t0_step + (written[0] + np.arange(r)) * every) * self.dt
                    written[0] += r
                    app.append("time", times)
                    for a, name in enumerate(variables):
                        app.append(name, rec[:, a, :])
                    app.append("rate", rate / (sizes * every * self.dt))
                else:
                    app.append("spike_time", st * self.dt)
                    app.append("spike_neuron", si)

        done, interrupted = self._simulate(n_steps, every, rec_idx, rec_vars, spk_mask, sink,
                                           chunk, progress)
        params["duration"] = done * self.dt
        if stream is not None:
            meta = _rec.dataset({}, family="LSM", model="Network", params=params,
                                  seed=_seed_attr(self.seed), interrupted=interrupted,
                                  attrs=attrs).attrs
            app.close(dict(meta))
            return xr.open_dataset(stream)
        rec = np.concatenate(recs) if recs else np.zeros((0, len(rec_vars), len(rec_idx)))
        rate = np.concatenate(rates) if rates else np.zeros((0, len(pop)))
        st = np.concatenate(sts) if sts else np.empty(0, dtype=np.int64)
        si = np.concatenate(sis) if sis else np.empty(0, dtype=np.int64)
        times = (t0_step + np.arange(rec.shape[0]) * every) * self.dt
        data = {name: (("time", "neuron"), rec[:, a, :], var_attrs[name])
                for a, name in enumerate(variables)}
        data["rate"] = (("time", "population"), rate / (sizes * every * self.dt),
                        {"units": "Hz", "long_name": "population rate over the recording bin"})
        data.update(_rec.spike_events(st * self.dt, si))
        coords = {"time": ("time", times, {"units": "s"}), "neuron": rec_idx,
                  "population": pop}
        return _rec.dataset(data, coords, family="LSM", model="Network", params=params,
                              seed=_seed_attr(self.seed), interrupted=interrupted, attrs=attrs)


def _seed_attr(seed):
    return seed


def _monitor(rec, n):
    if rec is None:
        return _rec.Monitor(every=1, index=np.empty(0, dtype=np.int64))
    mon = _rec.as_monitor(rec)
    if mon.index is not None and not isinstance(mon.index, np.ndarray) and len(mon.index) == 0:
        return _rec.Monitor(every=mon.every, index=np.empty(0, dtype=np.int64))
    return mon


def silent_fraction(ds, n_neurons=None):
    """Fraction of neurons with no spike in a run's Dataset (``n_neurons``: default attr)."""
    n = int(n_neurons if n_neurons is not None else ds.attrs["n_neurons"])
    return 1.0 - np.unique(ds["spike_neuron"].values).size / n


def mean_rate(ds, n_neurons=None):
    """Mean firing rate (Hz): spikes / neurons / duration."""
    n = int(n_neurons if n_neurons is not None else ds.attrs["n_neurons"])
    return ds.sizes["spike"] / n / float(ds.attrs["duration"])


def cuba(n=4000, *, p=None, dt=1e-4, seed=None):
    """The Vogels and Abbott (2005) CUBA network as Brian2's ``examples/CUBA.py`` defines it.

    n neurons (80% excitatory, named "exc" and "inh"), each source connected with probability
    ``p`` (default ``80 / n``: 80 synapses per neuron on average), taum 20 ms, taue 5 ms,
    taui 10 ms, Vt -50 mV, Vr -60 mV, El -49 mV, we = 60*0.27/10 mV, wi = -20*4.5/10 mV (as jumps
    of ``R * I``; here R = 100 Mohm and the weights are amperes), refractory 5 ms, v0 uniform in
    [Vr, Vt]. Returns the :class:`Network` (run it with ``net.run(1.0)``).
    """
    n = checks.integer(n, "n", low=5)
    p = 80.0 / n if p is None else checks.scalar(p, "p", low=0.0, high=1.0)
    R = 1e8
    n_e = int(round(0.8 * n))
    kw = dict(tau_m=20e-3, v_rest=-49e-3, v_th=-50e-3, v_reset=-60e-3, t_ref=5e-3, R=R,
              tau_e=5e-3, tau_i=10e-3, v0=(-60e-3, -50e-3))
    net = Network(dt, seed=seed)
    exc = net.add(LIF(n_e, name="exc", **kw))
    inh = net.add(LIF(n - n_e, name="inh", **kw))
    we = 60 * 0.27 / 10 * 1e-3 / R
    wi = -20 * 4.5 / 10 * 1e-3 / R
    # Brian2 draws one Synapses object per source population over all n targets
    for src, w, ch in ((exc, we, "e"), (inh, wi, "i")):
        for dst in (exc, inh):
            net.connect(src, dst, p=p, weights=w, channel=ch, self_loops=True)
    return net

