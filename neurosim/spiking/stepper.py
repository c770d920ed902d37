"""The compiled kernel's arguments and chunk buffers for runs of a built :class:`Network`.

:meth:`Network.run` and the liquid state machine drive a network through this one object:
``advance(n)`` runs ``n`` steps from the network's current step (one kernel call, or more when
the spike buffer fills) and yields each call's recorded spikes; ``records(n)`` gives the state
and spike-count rows of those steps; ``close()`` leaves the network's state in its host arrays.

One code path for both backends: the CPU kernel ``kernels.spiking.run_steps`` runs on the
network's own arrays; its CUDA twin ``kernels.cuda.spiking.run_steps`` (the same arguments in
the same order) on device copies, which a :class:`_Device` makes (the wiring and parameters
are kept on the device between runs while the network's arrays stay the same objects) and
copies back (the state, once per run: no transfer per step or per chunk but the records').
"""
import numpy as np

from .. import backend as _backend
from .. import config
from ..kernels import spiking as _k


class _Host:
    """The CPU kernel on the host arrays themselves."""

    kernel = staticmethod(_k.run_steps)

    def need(self, arrays):
        pass

    def const(self, name, a):
        return a

    def state(self, name, a):
        return a

    def zeros(self, shape, dtype):
        return np.zeros(shape, dtype)

    def empty(self, shape, dtype):
        return np.empty(shape, dtype)

    def clear(self, a):
        a[...] = 0

    def count(self, n_spk):
        return int(n_spk[0])

    def spikes(self, steps, neurons, m):
        return steps[:m], neurons[:m]

    def get(self, a):
        return a

    def close(self):
        pass


class _Device:
    """The CUDA twin on device copies of the network ``net``'s arrays."""

    def __init__(self, net):
        from numba import cuda

        from ..kernels.cuda import spiking as ck

        self.cuda, self.kernel, self.net = cuda, ck.run_steps, net
        # wiring and parameters kept on the device, by name: (host array, device array)
        self.cache = net.__dict__.setdefault("_device_arrays", {})
        self.copies = []        # (device, host) pairs of state to copy back

    def _cached(self, name, a):
        hit = self.cache.get(name)
        return hit is not None and hit[0] is a

    def need(self, arrays):
        """Refuse a run that would not fit (``arrays``: name -> host array or bytes), before
        anything is copied or launched; arrays already on the device count nothing."""
        nbytes = sum(a if isinstance(a, (int, np.integer)) else
                     0 if self._cached(name, a) else a.nbytes for name, a in arrays.items())
        net = self.net
        _backend.check_device_memory(
            nbytes, f"a spiking network of {net.n_neurons} neurons and {net.n_synapses} "
                    "synapses (state, synapses, ring buffer, spike buffer, records)")

    def const(self, name, a):
        if a is None:
            return None
        if not self._cached(name, a):
            self.cache[name] = (a, self.cuda.to_device(np.ascontiguousarray(a)))
        return self.cache[name][1]

    def state(self, name, a):
        d = self.cuda.to_device(np.ascontiguousarray(a))
        self.copies.append((d, a))
        return d

    def zeros(self, shape, dtype):
        return self.cuda.to_device(np.zeros(shape, dtype))

    def empty(self, shape, dtype):
        return self.cuda.device_array(shape, dtype)

    def clear(self, a):
        a.copy_to_device(np.zeros(a.shape, a.dtype))

    def count(self, n_spk):
        return int(n_spk.copy_to_host()[0])

    def spikes(self, steps, neurons, m):
        """The first ``m`` recorded spikes, in the CPU's order (step, then neuron)."""
        if m == 0:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        st, si = steps[:m].copy_to_host(), neurons[:m].copy_to_host()
        s0, N = int(st.min()), int(self.net.n_neurons)
        if (int(st.max()) - s0 + 1) * N >= 2 ** 62:
            order = np.lexsort((si, st))
            return st[order], si[order]
        key = np.sort((st - s0) * N + si)      # one int64 key: 20x faster than lexsort
        return key // N + s0, key % N

    def get(self, a):
        return a.copy_to_host() if a.size else np.empty(a.shape, a.dtype)

    def close(self):
        for d, a in self.copies:
            a[...] = d.copy_to_host().reshape(a.shape)
        self.copies = []


class Stepper:
    """Kernel arguments for runs of the built network ``net`` in chunks of up to ``chunk`` steps.

    every: record stride (steps); rec_idx, rec_vars: recorded neurons and variable codes;
    spk_mask: (n_neurons,) bool, the neurons whose spikes are recorded. The spike buffer holds
    ``max(4 * n_neurons + 1024, config.SPIKING_SPIKE_BUFFER)`` spikes per kernel call. On a
    network with ``backend == "cuda"`` the kernel's arrays live on the device from here until
    :meth:`close` (device memory checked first: a run that would not fit is a ValueError).
    """

    def __init__(self, net, chunk, every, rec_idx, rec_vars, spk_mask):
        N = net.n_neurons
        self.net, self.every = net, int(every)
        self.on = on = _Device(net) if getattr(net, "backend", "cpu") == "cuda" else _Host()
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
                 "rate": rows * len(net.groups) * 8, "spikes": 16 * cap, "fired": 8 * n_fired})
        self.g_lo = on.const("g_lo", net.g_lo)
        self.g_kind = None if g_kind is None else on.const("g_kind", g_kind)
        self.g_par = on.const("g_par", net.g_par)
        self.v = on.state("v", net.v)
        self.u = on.state("u", net.u)
        self.syn = on.state("syn", net.syn.reshape(-1))   # (2N,) e then i: a view on the CPU
        self.ref = on.state("ref", net.ref)
        self.I_ext = on.const("I_ext", I_ext)
        self.poisson = ((on.const("rates", net.rates), np.int64(net.rate_stride),
                         on.state("pstate", net.pstate)) if uses_poisson else None)
        self.generators = ((on.const("gen_step", net.gen_step), on.const("gen_idx", net.gen_idx),
                            on.state("gen_ptr", net.gen_ptr)) if uses_gen else None)
        self.out_ptr = on.const("out_ptr", net.out_ptr)
        self.out_code = on.const("out_code", net.out_code)
        self.out_w = on.const("out_w", net.out_w)
        self.delays = (on.const("out_d", net.out_d), on.state("ring", net.ring)) if uses_ring \
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

    def advance(self, n):
        """Run ``n`` steps (at most ``chunk``); yield ``(steps, neurons)`` of the recorded spikes
        of each kernel call (in step, then neuron order; valid until the next call). ``steps``
        are absolute step numbers."""
        net, on = self.net, self.on
        on.clear(self.rate_buf)
        done = 0
        while done < n:
            on.clear(self.n_spk)
            got = on.kernel(np.int64(net.step), np.int64(done), np.int64(n - done),
                            float(net.dt), self.g_lo, self.g_kind, self.g_par,
                            self.v, self.u, self.syn, self.ref,
                            self.I_ext, np.int64(net.I_stride), self.poisson, self.generators,
                            self.out_ptr, self.out_code, self.out_w, self.delays,
                            np.int64(self.every), self.rec, self.rate_buf,
                            self.spk_mask, self.spk_step, self.spk_idx, self.n_spk, self.fired)
            net.step += int(got)
            done += int(got)
            yield on.spikes(self.spk_step, self.spk_idx, on.count(self.n_spk))

    def records(self, n):
        """State rows (rows, n_vars, n_idx) and spike counts per group (rows, n_groups) of the
        ``n`` steps just advanced (host arrays)."""
        rows = -(-int(n) // self.every)
        return self.on.get(self.rec_buf[:rows]), self.on.get(self.rate_buf[:rows])

    def close(self):
        """Leave the state in the network's arrays (a CUDA run copies it back; on the CPU the
        kernel changed them in place)."""
        self.on.close()
