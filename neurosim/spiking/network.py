"""Spiking networks: neuron groups and sources wired with :mod:`neurosim.connect`, run in chunks.

>>> net = Network(dt=1e-4, seed=0)
>>> exc = net.add(LIF(3200, v0=(-60e-3, -50e-3)))
>>> net.connect(exc, exc, p=0.02, weights=1e-11, channel="e")
>>> ds = net.run(1.0, record=Monitor(every=10, index=[0, 1]))

Each step follows Brian2's schedule (state update, threshold, delivery, reset; see
:mod:`neurosim.kernels.spiking`). A run is a :class:`neurosim.record.Run`: cut into chunks
of ``config.SPIKING_CHUNK_TIME`` simulated seconds (or ``chunk=`` steps), one compiled call
each (:mod:`.stepper`); between chunks the records leave the chunk buffers (for memory, or a
netCDF file with ``store=``), a progress bar moves and Ctrl+C stops the run cleanly with what
was recorded so far. Files: :mod:`.persist`.
"""
import json
import numbers
import warnings

import numpy as np
import scipy.sparse as sp

from .. import backend as _backend
from .. import checks, config, connect
from .. import record as _rec
from .. import rng as _rng
from ..kernels import spiking as _k
from . import persist
from . import plasticity as _plasticity
from . import synapses as _synapses
from .inputs import PoissonGroup, SpikeGeneratorGroup
from .neurons import LIF, NeuronGroup, check_dt
from .stepper import Stepper

VARIABLES = {"v": _k.VAR_V, "u": _k.VAR_U, "syn_e": _k.VAR_SYN_E, "syn_i": _k.VAR_SYN_I}
CHANNELS = {"e": 0, "i": 1}


class _Projection:
    def __init__(self, pre, post, W, channel, D, index, stdp=None, stp=None):
        self.pre, self.post, self.W, self.channel, self.D = pre, post, W, channel, D
        self.index, self.stdp, self.stp = index, stdp, stp


class Network:
    """A spiking network: neuron groups, spike sources, synapses; state kept between runs.

    dt: time step (s), > 0. seed: int >= 0, SeedSequence or None; it fixes the initial states
    drawn from ranges, random wiring made by :meth:`connect`, delays and Poisson spikes. The
    same seed gives the same spikes whatever the number of threads.
    backend: ``"cpu"``, ``"cuda"`` or ``"auto"``. CUDA runs a thread per neuron and delivers
    spikes by atomic adds (:mod:`neurosim.kernels.cuda.spiking`); the network is built on the
    host, its wiring stays on the GPU between runs and its state comes back after each run.
    Same Poisson draws and state arithmetic as the CPU: the spikes are the CPU's wherever the
    order of the adds into a synaptic variable in one step cannot matter (one input per
    variable per step, or equal weights per channel as in CUBA); otherwise they agree until
    rounding differences grow (the same statistics). Plasticity (STDP, STP), AdEx,
    Hodgkin-Huxley and user-defined neurons run on CUDA too (weights and traces to rounding;
    a generator with two spikes of one source in one step onto plastic synapses is refused).
    """

    def __init__(self, dt=1e-4, *, seed=None, backend="cpu"):
        self.dt = checks.scalar(dt, "dt", low=0.0, low_open=True)
        _rng.to_attr(seed)   # a seed that results could not record is refused now
        self.seed = seed
        self.backend = _backend.resolve(backend)
        self._ss = _rng.sequence(seed)
        self._children = 0
        self.groups = []        # neuron groups, in the order added
        self.sources = []       # Poisson and generator groups
        self.projections = []
        self._built = False
        self.step = 0

    # ----------------------------------------------------------------------- building
    def _child(self):
        # child k of the seed for the k-th random part, in the order they are made: each
        # connect()'s wiring and delays as called, then the initial state and the Poisson
        # streams when the network is built (keys 1, 2, ... as before rng.child existed)
        self._children += 1
        return _rng.child(self._ss, self._children)

    def add(self, group):
        """Add a neuron group (:class:`LIF`, :class:`Izhikevich`, :class:`AdEx`,
        :class:`HodgkinHuxley`, :class:`CustomNeurons`) or a source (:class:`PoissonGroup`,
        :class:`SpikeGeneratorGroup`); returns it."""
        if self._built:
            raise RuntimeError("cannot add groups after the network has run")
        if any(group is g for g in self.groups + self.sources):
            raise ValueError("this group is already in the network")
        if isinstance(group, NeuronGroup):
            steps = {id(g.step) for g in self.groups if g.step is not None}
            if group.step is not None and steps and id(group.step) not in steps:
                raise ValueError("group: a network runs one user step function (groups may "
                                 "share it with different parameters); this group brings a "
                                 "second one")
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
                delay=None, self_loops=False, loc=0.0, scale=1.0, plasticity=None):
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
        plasticity: None (static synapses), an :class:`~neurosim.spiking.STDP`, an
        :class:`~neurosim.spiking.STP`, or a tuple of one of each. A plastic synapse's
        events happen when the spike arrives (after its delay), and it delivers its weight at
        that time; a zero weight is no synapse (as everywhere in W), so start plastic weights
        above zero. Read the weights with :meth:`weights`, record them with ``run(...,
        weights=Monitor(...))``.
        """
        if self._built:
            raise RuntimeError("cannot connect groups after the network has run")
        self._check_member(pre, "pre")
        self._check_member(post, "post")
        stdp, stp = _plasticity.rules(plasticity)
        if plasticity is not None:
            if not isinstance(post, NeuronGroup):
                raise ValueError("post must be a neuron group for plasticity: STDP needs the "
                                 "postsynaptic spikes and trace of a neuron group; got a "
                                 f"{type(post).__name__}")
        if not isinstance(post, NeuronGroup):
            raise TypeError("post must be a neuron group (sources receive no synapses)")
        checks.choice(channel, "channel", tuple(CHANNELS))
        if W is None:
            if (p is None) == (k is None):
                raise ValueError("give W, or exactly one of p and k")
            same = pre is post
            if p is not None:
                p = checks.scalar(p, "p", low=0.0, high=1.0)
                _check_synapses(p * post.n * pre.n, f"Network.connect with p={p} ({post.n} x {pre.n} pairs)")
            else:
                k = checks.integer(k, "k", low=0)
                _check_synapses(k * post.n, f"Network.connect with k={k} (onto {post.n} neurons)")
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
        for rule in (stdp, stp):
            if rule is not None:
                rule.check(W, post.synapse)
        self.projections.append(_Projection(pre, post, W, CHANNELS[channel], D,
                                            len(self.projections), stdp, stp))
        return W

    def weights(self, projection):
        """The current weights of a plastic projection as a csr_array (n_post, n_pre):
        ``projection`` is the ``W`` that :meth:`connect` returned or its number in connect
        order (0, 1, ...). A static projection's weights are its ``W``."""
        k = None
        for pr in self.projections:
            if projection is pr.W:
                k = pr.index
        if k is None:
            k = checks.integer(projection, "projection", low=0)
        if not self._built:
            pr = next((p for p in self.projections if p.index == k), None)
            if pr is None:
                raise ValueError(f"projection must be one of the network's {len(self.projections)} "
                                 f"projections; got {k}")
            return pr.W.copy()
        static = next((p for p in self.projections if p.index == k and p.stdp is None
                       and p.stp is None), None)
        if static is not None:
            return static.W.copy()
        return _synapses.weights(self, k)

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
        for g in self.groups:
            if g.step is not None:
                g.check_step(dt)
        rows = [g.parameters(dt) for g in self.groups]
        self.g_par = np.zeros((len(rows), max(r.size for r in rows)))
        for r, row in zip(self.g_par, rows):
            r[:row.size] = row
        vs, us = zip(*(g.initial_state(gen) for g in self.groups))
        self.v = np.concatenate(vs)
        self.u = np.concatenate(us)
        K = max(g.n_aux for g in self.groups)
        # (a user model's kernel takes aux whatever its number of variables)
        self.aux = np.zeros((K, N)) if K or any(g.step is not None for g in self.groups) \
            else None
        for g, lo in zip(self.groups, self.g_lo):
            if g.n_aux:
                self.aux[:g.n_aux, lo:lo + g.n] = g.initial_aux(gen).T
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
        _synapses.build(self)
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

    @property
    def n_synapses(self):
        """Number of synapses."""
        if self._built:
            dyn = 0 if getattr(self, "dyn_w", None) is None else self.dyn_w.shape[0]
            return int(self.out_w.shape[0]) + int(dyn)
        return sum(int(pr.W.nnz) for pr in self.projections)

    # ------------------------------------------------------------------ save / load
    def save(self, path, *, extra=None, attrs=None):
        """Write the whole network (wiring, parameters, state, random streams, time, seed) to
        a netCDF file; :meth:`load` continues from it exactly. No pickle. ``extra``: more data
        variables (name -> (dims, array)) and ``attrs`` more attributes, for models built on a
        network."""
        return persist.write(self, path, extra=extra, attrs=attrs)

    @classmethod
    def load(cls, path, *, backend="cpu"):
        """A network saved by :meth:`save` (on either backend), ready to run on from where it
        stopped on ``backend``. A file that is not a saved Network (another model, truncated,
        not netCDF) is a ValueError."""
        backend = _backend.resolve(backend)
        ds = persist.open_network(path, "Network")
        return persist.read(cls, ds, backend=backend)

    @property
    def t(self):
        """Current time (s)."""
        return self.step * self.dt

    # ------------------------------------------------------------------- snapshots
    _STATE = ("v", "u", "aux", "syn", "ref", "ring", "pstate", "gen_ptr") + _synapses.STATE

    def store(self):
        """Snapshot the state (neurons, synapses in flight, plastic weights and their traces,
        random streams, time) in memory."""
        if not self._built:
            self._build()
        self._stored = {k: getattr(self, k).copy() for k in self._STATE
                        if getattr(self, k, None) is not None}
        self._stored["step"] = self.step

    def restore(self):
        """Return to the state saved by :meth:`store`."""
        if not hasattr(self, "_stored"):
            raise RuntimeError("restore() needs a store() first")
        for k in self._STATE:
            if k not in self._stored:
                continue
            a, b = getattr(self, k), self._stored[k]
            if a.shape != b.shape:          # a buffer grown since (the spike history)
                a[...] = 0
                a = a[tuple(slice(0, n) for n in b.shape)]
            a[...] = b
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
    def run(self, duration, *, record=None, variables=("v",), spikes=True, weights=None,
            chunk=None, progress=False, store=None, stream=None):
        """Simulate ``duration`` seconds from the current state; returns an ``xarray.Dataset``.

        record: a :class:`neurosim.record.Monitor` (``every`` in steps, ``index`` of neurons) for
        state variables, or None: no neuron states, population rates every step. variables:
        which states to record among ``"v"`` (V), ``"u"`` (Izhikevich recovery, V/s),
        ``"syn_e"``, ``"syn_i"`` (A for current synapses, S for conductance synapses); states
        are those at the start of each recorded step (time ``step * dt``), as Brian2 records.
        spikes: True (all neurons), False, or the neuron numbers / a boolean mask to record.
        weights: a :class:`neurosim.record.Monitor` of the plastic synapses (``every`` in steps,
        ``index`` into the plastic synapses: projections with plasticity in connect order,
        each in the order of its ``W.data``), or None. chunk: steps per compiled call (default
        ``config.SPIKING_CHUNK_TIME`` = 0.1 s of simulated time). progress: tqdm bar. store: a
        path; records go to that netCDF file chunk by chunk (bounded memory) and the file is
        returned opened lazily with ``xarray.open_dataset`` (close it when done). stream:
        deprecated name of ``store``.

        Dataset: ``v`` etc. (time, neuron); ``rate`` (time, population) in Hz, each group's
        spikes in the ``every`` steps from that time; ``spike_time`` (s) and ``spike_neuron``
        along ``spike``. With ``weights``: ``weight`` (weight_time, synapse) in the weights' unit
        (their value at the start of each recorded step) and, along ``synapse``,
        ``synapse_projection`` (connect order), ``synapse_pre`` and ``synapse_post`` (neuron
        indices within the pre and post groups). Ctrl+C (also while the network is built) stops
        after the current chunk (attr ``interrupted`` = 1) with what was recorded so far.
        """
        if stream is not None:
            warnings.warn("Network.run(stream=...) is deprecated; use store=...",
                          DeprecationWarning, stacklevel=2)
            if store is not None:
                raise TypeError("give store= only (stream= is its deprecated name)")
            store = stream
        return self._run(duration, record=record, variables=variables, spikes=spikes,
                         weights=weights, chunk=chunk, progress=progress, store=store)

    def _variables(self):
        """Recordable state variables: name -> kernel code, and name -> units (the groups'
        own names: v, u or w, m, h, n, a user model's; and syn_e, syn_i)."""
        codes, units = dict(VARIABLES), {"v": "V", "u": "V/s"}
        for g in self.groups:
            for k, name in enumerate(g.state_names):
                code = (_k.VAR_V, _k.VAR_U)[k] if k < 2 else _k.VAR_AUX + k - 2
                # a name held in different slots by different groups cannot be recorded
                codes[name] = code if codes.get(name, code) == code else None
                units[name] = g.state_units.get(name, "1")
        return codes, units

    def _n_plastic(self):
        if self._built:
            return 0 if getattr(self, "pl_dyn", None) is None else int(self.pl_dyn.shape[0])
        return sum(int(pr.W.nnz) for pr in self.projections if pr.stdp or pr.stp)

    def _run(self, duration, *, record, variables, spikes, chunk, progress, store,
             model="Network", data_vars=None, weights=None):
        """:meth:`run`, with more ``data_vars`` and another ``model`` attr for models built on
        a network (they go into the file too when the run is stored)."""
        duration = checks.scalar(duration, "duration", low=0.0, low_open=True)
        n_steps = int(np.rint(duration / self.dt))
        if n_steps < 1:
            raise ValueError(f"duration must be at least one step (dt = {self.dt} s); "
                             f"got {duration}")
        if not self.groups:
            raise ValueError("the network has no neuron group; add one with add(LIF(...))")
        N = self.n_neurons
        mon = _monitor(record, N)
        rec_idx = mon.units(N)
        if isinstance(variables, str):
            variables = (variables,)
        codes, units = self._variables()
        for name in variables:
            checks.choice(name, "variables", tuple(codes))
            if codes[name] is None:
                raise ValueError(f"variables: {name!r} is a different state variable in "
                                 "different groups; it cannot be recorded as one variable")
        rec_vars = np.array([codes[x] for x in variables], dtype=np.int64)
        spk_mask = np.zeros(N, dtype=bool)
        if spikes is True:
            spk_mask[:] = True
        elif spikes is not False and spikes is not None:
            spk_mask[_rec.Monitor(index=spikes).units(N)] = True
        if chunk is None:
            chunk = max(1, int(round(config.SPIKING_CHUNK_TIME / self.dt)))
        every = mon.every
        pop = [g.name or f"group{i}" for i, g in enumerate(self.groups)]
        sizes = np.array([g.n for g in self.groups], dtype=float)
        syn_types = {g.synapse for g in self.groups}
        # synaptic weights and syn_e/syn_i: A or S; mixed, no one unit (CF: no units attr)
        syn_attrs = {"units": "A"} if syn_types == {"current"} else {"units": "S"} \
            if syn_types == {"conductance"} else {"comment": "A (current synapses) or S (conductance synapses)"}
        attrs = {"groups": ", ".join(f"{name}: {type(g).__name__}({g.n}, {g.synapse})"
                                     for g, name in zip(self.groups, pop)),
                 "time_units": "s", "dt_units": "s",
                 "spike_time_convention": "start of the step in which v crossed threshold",
                 "main": "spike_time rate"}

        w_mon = w_idx = None
        if weights is not None:
            w_mon = _rec.as_monitor(weights)
            n_pl = self._n_plastic()
            if n_pl == 0:
                raise ValueError("weights: the network has no plastic synapses to record "
                                 "(connect(..., plasticity=STDP(...)))")
            w_idx = w_mon.units(n_pl)
        t0_step = self.step
        sizes_rec = {"neuron": len(rec_idx), "population": len(pop)}
        if w_mon is not None:
            sizes_rec["synapse"] = len(w_idx)
        run = _rec.Run(n_steps, chunk=chunk, every=every, progress=progress, sizes=sizes_rec,
                       grow=("time",) if w_mon is None else ("time", "weight_time"),
                       events=("spike",), desc="spiking network", unit="step", store=store)
        with run:
            if not self._built:
                self._build()
            wrec = None if w_mon is None else (w_idx, w_mon.every, t0_step)
            stepper = Stepper(self, run.chunk, every, rec_idx, rec_vars, spk_mask, wrec)
            if w_mon is not None:
                run.track("weight_time", "weight_time", np.float64, {"units": "s"})
                run.track("weight", ("weight_time", "synapse"), np.float64,
                          {**syn_attrs, "long_name": "synaptic weight"})
            run.track("time", "time", np.float64, {"units": "s"})
            for name in variables:
                run.track(name, ("time", "neuron"), np.float64,
                          {"units": units[name]} if name in units else syn_attrs)
            run.track("rate", ("time", "population"), np.float64,
                      {"units": "Hz", "long_name": "population rate over the recording bin"})
            run.track("spike_time", "spike", np.float64, {"units": "s", "long_name": "spike time"})
            run.track("spike_neuron", "spike", np.int64,
                      {"long_name": "index of the neuron that spiked"})
            try:
                for start, n in run:
                    for steps, neurons in stepper.advance(n):
                        run.keep(spike_time=steps * self.dt, spike_neuron=neurons)
                    if w_mon is not None:
                        w_steps, w_rows = stepper.weight_records(start, n)
                        run.keep(weight_time=(t0_step + w_steps) * self.dt, weight=w_rows)
                    rec, counts = stepper.records(n)
                    run.keep(time=(t0_step + run.steps(start, n)) * self.dt,
                             rate=counts / (sizes * every * self.dt),
                             **{name: rec[:, a, :] for a, name in enumerate(variables)})
            finally:
                stepper.close()     # the state back in the host arrays (CUDA)
        params = {"dt": self.dt, "n_neurons": N, "n_synapses": self.n_synapses,
                  "t_start": t0_step * self.dt, "every": every}
        for g, name in zip(self.groups, pop):
            params.update({f"{name}_{k}": v for k, v in g.params().items()})
        params["duration"] = run.done * self.dt
        if getattr(self, "plastic", None):
            # the rules of the plastic projections (connect order, parameters with units)
            attrs["plasticity"] = json.dumps(self.plastic)
        coords = {"neuron": rec_idx, "population": pop}
        if w_mon is not None:
            data_vars = dict(data_vars or {})
            coords["synapse"] = w_idx
            for k, name in (("projection", "pl_proj"), ("pre", "pl_pre"), ("post", "pl_post")):
                data_vars[f"synapse_{k}"] = ("synapse", getattr(self, name)[w_idx])
        return run.dataset(data_vars, coords, family="LSM",
                           model=model, params=params, seed=self.seed, backend=self.backend,
                           attrs=attrs)


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


#: bytes a synapse takes while it is drawn (indices, draws, weights) and in the built network
#: (its outgoing list: target, weight, delay)
SYNAPSE_BYTES = 48


def _check_synapses(count, what):
    """Refuse wiring whose ``count`` synapses (expected) would not fit in memory."""
    checks.memory(SYNAPSE_BYTES * count, what)


def mean_rate(ds, n_neurons=None):
    """Mean firing rate (Hz): spikes / neurons / duration."""
    n = int(n_neurons if n_neurons is not None else ds.attrs["n_neurons"])
    return ds.sizes["spike"] / n / float(ds.attrs["duration"])


def cuba(n=4000, *, p=None, dt=1e-4, seed=None, backend="cpu"):
    """The Vogels and Abbott (2005) CUBA network as Brian2's ``examples/CUBA.py`` defines it.

    n neurons (80% excitatory, named "exc" and "inh"), each source connected with probability
    ``p`` (default ``80 / n``: 80 synapses per neuron on average), taum 20 ms, taue 5 ms,
    taui 10 ms, Vt -50 mV, Vr -60 mV, El -49 mV, we = 60*0.27/10 mV, wi = -20*4.5/10 mV (as jumps
    of ``R * I``; here R = 100 Mohm and the weights are amperes), refractory 5 ms, v0 uniform in
    [Vr, Vt]. backend: as for :class:`Network`. Returns the :class:`Network` (run it with
    ``net.run(1.0)``). All excitatory weights are equal, and all inhibitory ones: the order in
    which a step's spikes reach a neuron cannot change the sums, so CUDA gives the CPU's spikes.
    """
    n = checks.integer(n, "n", low=5)
    p = 80.0 / n if p is None else checks.scalar(p, "p", low=0.0, high=1.0)
    checks.memory(SYNAPSE_BYTES * p * n * n + 64 * n, f"cuba(n={n}, p={p:.3g}) ({n} neurons, about "
                  f"{p * n * n:.3g} synapses)")
    R = 1e8
    n_e = int(round(0.8 * n))
    kw = dict(tau_m=20e-3, v_rest=-49e-3, v_th=-50e-3, v_reset=-60e-3, t_ref=5e-3, R=R,
              tau_e=5e-3, tau_i=10e-3, v0=(-60e-3, -50e-3))
    net = Network(dt, seed=seed, backend=backend)
    exc = net.add(LIF(n_e, name="exc", **kw))
    inh = net.add(LIF(n - n_e, name="inh", **kw))
    we = 60 * 0.27 / 10 * 1e-3 / R
    wi = -20 * 4.5 / 10 * 1e-3 / R
    # Brian2 draws one Synapses object per source population over all n targets
    for src, w, ch in ((exc, we, "e"), (inh, wi, "i")):
        for dst in (exc, inh):
            net.connect(src, dst, p=p, weights=w, channel=ch, self_loops=True)
    return net

