"""The compiled kernel's arguments and chunk buffers for runs of a built :class:`Network`.

:meth:`Network.run` and the liquid state machine drive a network through this one object:
``advance(n)`` runs ``n`` steps from the network's current step (one kernel call, or more when
the spike buffer fills) and yields each call's recorded spikes; ``records(n)`` gives the state
and spike-count rows of those steps.
"""
import numpy as np

from .. import config
from ..kernels import spiking as _k


class Stepper:
    """Kernel arguments for runs of the built network ``net`` in chunks of up to ``chunk`` steps.

    every: record stride (steps); rec_idx, rec_vars: recorded neurons and variable codes;
    spk_mask: (n_neurons,) bool, the neurons whose spikes are recorded. The spike buffer holds
    ``max(4 * n_neurons + 1024, config.SPIKING_SPIKE_BUFFER)`` spikes per kernel call.
    """

    def __init__(self, net, chunk, every, rec_idx, rec_vars, spk_mask):
        N = net.n_neurons
        self.net, self.every = net, int(every)
        rows = -(-int(chunk) // self.every)
        self.rec_buf = np.zeros((rows, len(rec_vars), len(rec_idx)))
        self.rate_buf = np.zeros((rows, len(net.groups)), dtype=np.int64)
        cap = max(4 * N + 1024, int(config.SPIKING_SPIKE_BUFFER))
        self.spk_step = np.empty(cap, dtype=np.int64)
        self.spk_idx = np.empty(cap, dtype=np.int64)
        self.n_spk = np.zeros(1, dtype=np.int64)
        self.spk_mask = spk_mask
        # the parts this network does not use are passed as None: the kernel is then compiled
        # without them (a CUBA-like network compiles only the LIF pass and the delivery)
        lif_current = (net.g_model == _k.LIF) & (net.g_syn == _k.CURRENT)
        self.g_kind = None if lif_current.all() else 2 * net.g_model + net.g_syn
        self.poisson = ((net.rates, np.int64(net.rate_stride), net.pstate) if net.n_poisson > 0
                        else None)
        self.generators = ((net.gen_step, net.gen_idx, net.gen_ptr) if net.gen_step.size
                           else None)
        self.delays = (net.out_d, net.ring) if net.ring.shape[0] > 1 else None
        self.rec = (rec_idx, rec_vars, self.rec_buf) if self.rec_buf.size else None
        # no external current into LIF-current groups only: None (one array less to read)
        self.I_ext = None if self.g_kind is None and not net.I_ext.any() else net.I_ext
        if not net.syn.flags.c_contiguous:
            net.syn = np.ascontiguousarray(net.syn)
        self.syn = net.syn.reshape(-1)       # a view (updated in place): e then i
        self.fired = np.empty(net.out_ptr.shape[0] - 1 + net.gen_step.size, dtype=np.int64)
        if net.out_code.dtype != np.int32 and 2 * N < 2 ** 31:   # e.g. a network saved before
            net.out_code = net.out_code.astype(np.int32)

    def advance(self, n):
        """Run ``n`` steps (at most ``chunk``); yield ``(steps, neurons)`` of the recorded spikes
        of each kernel call (views of the buffer, valid until the next one). ``steps`` are
        absolute step numbers."""
        net = self.net
        self.rate_buf[:] = 0
        done = 0
        while done < n:
            self.n_spk[0] = 0
            got = _k.run_steps(np.int64(net.step), np.int64(done), np.int64(n - done),
                               float(net.dt), net.g_lo, self.g_kind, net.g_par,
                               net.v, net.u, self.syn, net.ref,
                               self.I_ext, np.int64(net.I_stride), self.poisson, self.generators,
                               net.out_ptr, net.out_code, net.out_w, self.delays,
                               np.int64(self.every), self.rec, self.rate_buf,
                               self.spk_mask, self.spk_step, self.spk_idx, self.n_spk, self.fired)
            net.step += int(got)
            done += int(got)
            m = int(self.n_spk[0])
            yield self.spk_step[:m], self.spk_idx[:m]

    def records(self, n):
        """State rows (rows, n_vars, n_idx) and spike counts per group (rows, n_groups) of the
        ``n`` steps just advanced (views of the buffers)."""
        rows = -(-int(n) // self.every)
        return self.rec_buf[:rows], self.rate_buf[:rows]
