"""The compiled kernel's arguments and chunk buffers for runs of a built :class:`Network`.

:meth:`Network.run` and the liquid state machine drive a network through this one object:
``advance(n)`` runs ``n`` steps from the network's current step (one kernel call, or more when
the spike buffer fills) and yields each call's recorded spikes; ``records(n)`` gives the state
and spike-count rows of those steps; ``close()`` leaves the network's state in its host arrays.

One code path for both backends: the CPU kernel ``kernels.spiking.run_steps`` runs on the
network's own arrays; its CUDA twin ``kernels.cuda.spiking.run_steps`` (the same arguments in
the same order) on device copies, which a :class:`_Runner` (a :class:`neurosim.backend.Device`)
makes (the wiring and parameters are kept on the device between runs while the network's
arrays stay the same objects) and copies back (the state, once per run: no transfer per step
or per chunk but the records'). Plastic synapses' tables go the same way: weights, traces, STP
variables and the spike history are state, the rest constants; the weight monitor's rows are a
device buffer brought back per chunk.
"""
import numpy as np

from .. import backend as _backend
from .. import config
from ..kernels import spiking as _k
from . import synapses as _synapses


class _Runner(_backend.Device):
    """:class:`neurosim.backend.Device` of the spiking kernel ``run_steps`` for the network
    ``net``, with what only spiking runs need: the state copied to the device and back once a
    run (:meth:`state`, :meth:`close`), the wiring and parameters kept there between runs
    while the network's arrays stay the same objects (``const``, in the network's cache), and
    a call's spikes brought back in the CPU's order (:meth:`spikes`). On the CPU the kernel
    runs on the network's arrays themselves."""

    def __init__(self, net):
        backend = getattr(net, "backend", "cpu")
        # wiring and parameters kept on the device, by name: (host array, device array)
        cache = net.__dict__.setdefault("_device_arrays", {}) if backend == "cuda" else None
        super().__init__(backend, "spiking", cache)
        self.net = net
        self.run_steps = self.kernel("run_steps")
        self.copies = []        # (device, host) pairs of state to copy back

    def need(self, arrays):
        """Refuse a run that would not fit (``arrays``: name -> host array or bytes), before
        anything is copied or launched; arrays already on the device count nothing."""
        net = self.net
        self.check(self.nbytes(*(0 if self.cached(name, a) else a for name, a in arrays.items())),
                   f"a spiking network of {net.n_neurons} neurons and {net.n_synapses} "
                   "synapses (state, synapses, ring buffer, spike buffer, records)")

    def state(self, a):
        """The kernel argument of the state array ``a`` (changed by the kernel): on CUDA a copy
        that :meth:`close` brings back into ``a``."""
        if self.cuda is None:
            return a
        d = self.put(a)
        self.copies.append((d, a))
        return d

    def count(self, n_spk):
        """The number of spikes recorded by the last call."""
        return int(self.get(n_spk)[0])

    def spikes(self, steps, neurons, m):
        """The first ``m`` recorded spikes, in the CPU's order (step, then neuron)."""
        if self.cuda is None:
            return steps[:m], neurons[:m]
        if m == 0:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        st, si = self.get(steps[:m]), self.get(neurons[:m])
        s0, N = int(st.min()), int(self.net.n_neurons)
        if (int(st.max()) - s0 + 1) * N >= 2 ** 62:
            order = np.lexsort((si, st))
            return st[order], si[order]
        key = np.sort((st - s0) * N + si)      # one int64 key: 20x faster than lexsort
        return key // N + s0, key % N

    def close(self):
        """Bring the state back into the network's arrays (CUDA)."""
        for d, a in self.copies:
            a[...] = self.get(d).reshape(a.shape)
        self.copies = []


class Stepper:
    """Kernel arguments for runs of the built network ``net`` in chunks of up to ``chunk`` steps.

    every: record stride (steps); rec_idx, rec_vars: recorded neurons and variable codes;
    spk_mask: (n_neurons,) bool, the neurons whose spikes are recorded. wrec: None, or
    ``(index, every, s0)``: record the plastic synapses ``index`` (user numbering, see
    :mod:`.synapses`) every ``every`` steps from step ``s0``. The spike buffer holds
    ``max(4 * n_neurons + 1024, config.SPIKING_SPIKE_BUFFER)`` spikes per kernel call. On a
    network with ``backend == "cuda"`` the kernel's arrays live on the device from here until
    :meth:`close` (device memory checked first: a run that would not fit is a ValueError).
    """

    def __init__(self, net, chunk, every, rec_idx, rec_vars, spk_mask, wrec=None):
        N = net.n_neurons
        self.net, self.every = net, int(every)
        self.on = on = _Runner(net)
        rows = -(-int(chunk) // self.every)
        cap = max(4 * N + 1024, int(config.SPIKING_SPIKE_BUFFER))
        if net.out_code.dtype != np.int32 and 2 * N < 2 ** 31:   # e.g. a network saved before
            net.out_code = net.out_code.astype(np.int32)
        if not net.syn.flags.c_contiguous:
            net.syn = np.ascontiguousarray(net.syn)
        # the parts this network does not use are passed as None: the CPU kernel is then
        # compiled without them (a CUBA-like network compiles only the LIF pass and delivery)
        lif_current = (net.g_model == _k.LIF) & (net.g_syn == _k.CURRENT)
        g_kind = None if lif_current.all() else 2 * net.g_model + net.g_syn
        uses_poisson = net.n_poisson > 0
        uses_gen = net.gen_step.size > 0
        uses_ring = net.ring.shape[0] > 1
        uses_rec = len(rec_vars) * len(rec_idx) > 0
        # no external current into LIF-current groups only: None (one array less to read)
        I_ext = None if g_kind is None and not net.I_ext.any() else net.I_ext
        n_fired = net.out_ptr.shape[0] - 1 + net.gen_step.size
        dynamic = _synapses.kernel_args(net, n_fired)
        if dynamic is not None and on.cuda is not None:
            _check_generators(net)
        # a user model's step function: the kernel specialisation that calls it (the CUDA
        # twin compiles it for the device itself)
        steps = [g.step for g in net.groups if g.step is not None]
        self.custom = steps[0] if steps else None
        if self.custom is not None and on.cuda is None:
            on.run_steps = _k.run_steps_custom
        aux = getattr(net, "aux", None)
        rec_idx = np.asarray(rec_idx, dtype=np.int64)
        rec_vars = np.asarray(rec_vars, dtype=np.int64)
        # device memory: everything below, before any of it is made
        on.need({"g_lo": net.g_lo, "g_par": net.g_par, "v": net.v, "u": net.u, "syn": net.syn,
                 "ref": net.ref, "I_ext": I_ext if I_ext is not None else 0,
                 "rates": net.rates if uses_poisson else 0,
                 "pstate": net.pstate if uses_poisson else 0,
                 "gen_step": net.gen_step, "gen_idx": net.gen_idx, "out_ptr": net.out_ptr,
                 "out_code": net.out_code, "out_w": net.out_w,
                 "out_d": net.out_d if uses_ring else 0, "ring": net.ring if uses_ring else 0,
                 "g_kind": net.g_lo, "spk_mask": spk_mask, "rec_idx": rec_idx,
                 "rec": rows * len(rec_vars) * len(rec_idx) * 8,
                 "rate": rows * len(net.groups) * 8, "spikes": 16 * cap, "fired": 8 * n_fired,
                 "aux": aux if aux is not None else 0,
                 **({name: a for name, a in zip(_synapses.KERNEL, dynamic) if a is not None}
                    if dynamic is not None else {}),
                 "w_rec": 0 if wrec is None else
                 8 * len(wrec[0]) * (-(-int(chunk) // int(wrec[1])) + 3)})
        self.g_lo = on.const("g_lo", net.g_lo)
        self.g_kind = None if g_kind is None else on.const("g_kind", g_kind)
        self.g_par = on.const("g_par", net.g_par)
        self.v = on.state(net.v)
        self.u = on.state(net.u)
        self.syn = on.state(net.syn.reshape(-1))   # (2N,) e then i: a view on the CPU
        self.ref = on.state(net.ref)
        self.aux = on.state(aux) if aux is not None and (aux.size or on.cuda is None) else None
        self.I_ext = on.const("I_ext", I_ext)
        self.poisson = ((on.const("rates", net.rates), np.int64(net.rate_stride),
                         on.state(net.pstate)) if uses_poisson else None)
        self.generators = ((on.const("gen_step", net.gen_step), on.const("gen_idx", net.gen_idx),
                            on.state(net.gen_ptr)) if uses_gen else None)
        self.out_ptr = on.const("out_ptr", net.out_ptr)
        self.out_code = on.const("out_code", net.out_code)
        self.out_w = on.const("out_w", net.out_w)
        self.delays = (on.const("out_d", net.out_d), on.state(net.ring)) if uses_ring \
            else None
        self.rec_buf = on.zeros((rows, len(rec_vars), len(rec_idx)), np.float64)
        self.rate_buf = on.zeros((rows, len(net.groups)), np.int64)
        self.rec = (on.const("rec_idx", rec_idx), on.const("rec_vars", rec_vars),
                    self.rec_buf) if uses_rec else None
        self.spk_mask = on.const("spk_mask", spk_mask)
        self.spk_step = on.empty(cap, np.int64)
        self.spk_idx = on.empty(cap, np.int64)
        self.n_spk = on.zeros(1, np.int64)
        self.fired = on.empty(n_fired, np.int64)
        # the plastic synapses: what runs changes is state (copied back), the rest constant
        self.dynamic = None if dynamic is None else tuple(
            (on.state(a) if name in _synapses.STATE else on.const(name, a)) if a is not None
            else None for name, a in zip(_synapses.KERNEL, dynamic))
        self.wrec = None
        if wrec is not None:
            w_idx, w_every, s0 = wrec
            self.w_every, self.w_s0 = int(w_every), int(s0)
            self.w_buf = on.zeros((-(-int(chunk) // self.w_every) + 1, len(w_idx)))
            self.w_n = on.zeros(1, np.int64)
            self.wrec = (self.dynamic[_synapses.KERNEL.index("dyn_w")],
                         on.put(net.pl_dyn[w_idx]), np.int64(s0), np.int64(w_every),
                         self.w_buf, self.w_n)

    def advance(self, n):
        """Run ``n`` steps (at most ``chunk``); yield ``(steps, neurons)`` of the recorded spikes
        of each kernel call (in step, then neuron order; valid until the next call). ``steps``
        are absolute step numbers."""
        net, on = self.net, self.on
        on.clear(self.rate_buf)
        if self.wrec is not None:
            on.clear(self.w_n)
        done = 0
        while done < n:
            on.clear(self.n_spk)
            got = on.run_steps(np.int64(net.step), np.int64(done), np.int64(n - done),
                            float(net.dt), self.g_lo, self.g_kind, self.custom, self.g_par,
                            self.v, self.u, self.syn, self.ref, self.aux,
                            self.I_ext, np.int64(net.I_stride), self.poisson, self.generators,
                            self.out_ptr, self.out_code, self.out_w, self.delays, self.dynamic,
                            np.int64(self.every), self.rec, self.wrec, self.rate_buf,
                            self.spk_mask, self.spk_step, self.spk_idx, self.n_spk, self.fired)
            net.step += int(got)
            done += int(got)
            yield on.spikes(self.spk_step, self.spk_idx, on.count(self.n_spk))

    def records(self, n):
        """State rows (rows, n_vars, n_idx) and spike counts per group (rows, n_groups) of the
        ``n`` steps just advanced (host arrays)."""
        rows = -(-int(n) // self.every)
        return self.on.get(self.rec_buf[:rows]), self.on.get(self.rate_buf[:rows])

    def weight_records(self, start, n):
        """Steps (from the run's first) and rows (rows, n_index) of the weights recorded in the
        ``n`` steps from run step ``start`` just advanced."""
        first = -(-int(start) // self.w_every) * self.w_every
        steps = np.arange(first, start + n, self.w_every, dtype=np.int64)
        m = int(self.on.get(self.w_n)[0])
        if m == 0:
            return steps, np.empty((0, self.w_buf.shape[1]))
        return steps, self.on.get(self.w_buf[:m]).copy()

    def close(self):
        """Leave the state in the network's arrays (a CUDA run copies it back; on the CPU the
        kernel changed them in place)."""
        self.on.close()


def _check_generators(net):
    """On CUDA a synapse's events in one step are one thread's: refuse a generator with two
    events of one source in one step onto plastic synapses (the CPU handles them in turn)."""
    if not net.gen_step.size:
        return
    plastic = np.diff(net.dyn_ptr)[net.gen_idx] > 0
    key = np.stack([net.gen_step[plastic], net.gen_idx[plastic]])
    if key.shape[1] and np.unique(key, axis=1).shape[1] < key.shape[1]:
        raise ValueError("times: a SpikeGeneratorGroup with plastic synapses gives one source two "
                         "spikes in one step; the CUDA twin cannot update a synapse twice in a "
                         "step (give distinct steps, or run with backend='cpu')")
