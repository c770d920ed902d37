"""The reservoir kernels on one backend, called alike: the CPU kernels of
:mod:`neurosim.kernels.reservoir` on host arrays, or their CUDA twins
(:mod:`neurosim.kernels.cuda.reservoir`, the same names and arguments) on device copies.

:class:`Session` holds one run's kernel arrays (the weights, the running state, the last
output, the noise streams) on the backend and advances them chunk by chunk; the ESN and the
batch of reservoirs (:class:`neurosim.reservoir.ESNBatch`) drive every run through it, so a run
method has one loop for both backends.
"""
import numpy as np

from .. import backend as _backend
from .. import config
from ..kernels import reservoir as _k


SERIAL = {"run": "run_serial", "run_readout": "run_readout_serial", "readout": "readout_serial"}
"""The CPU kernels launched for a single sequence: the same numbers without threads, compiled in
about half the time (a first ``fit`` or ``generate`` on a cold cache); the run kernels in the
variant of the model (:func:`neurosim.kernels.reservoir.serial`: only its layout, activation,
noise and feedback compiled)."""


class Kernels(_backend.Device):
    """:class:`neurosim.backend.Device` of the reservoir kernels, with their launch grids:
    ``launch(name, blocks)`` is the kernel to call, the CPU kernel or its CUDA twin on
    ``blocks`` blocks of ``config.ESN_CUDA_THREADS`` threads (a block per sequence, or per
    reservoir and sequence); ``items(name, n)`` a twin over ``n`` items, a thread each."""

    threads = 1   # (the CPU kernels take no grid)

    def __init__(self, backend):
        super().__init__(backend, "reservoir")
        if self.cuda is None:
            return
        lanes, most = self.kernels.LANES, self.kernels.MAX_THREADS
        threads = int(config.ESN_CUDA_THREADS)
        if threads < lanes or threads % lanes or threads > most:
            raise ValueError(f"config.ESN_CUDA_THREADS must be a multiple of {lanes} between {lanes} and {most}; "
                             f"got {config.ESN_CUDA_THREADS}")
        self.threads = threads

    def launch(self, name, blocks, variant=None):
        """The kernel ``name`` on ``blocks`` blocks; on the CPU, for one block, its serial twin,
        in the ``variant`` (layout, activation, noisy, feedback) when given (see :data:`SERIAL`)."""
        if self.cuda is None and int(blocks) <= 1 and name in SERIAL:
            if variant is not None and name != "readout":
                return _k.serial(SERIAL[name], *variant)
            name = SERIAL[name]
        return self.kernel(name, max(int(blocks), 1), self.threads)

    def items(self, name, n, threads=None):
        return super().items(name, n, threads or self.threads)


def cuda_chunk(lead, width):
    """Steps per kernel call on a GPU: records of ``lead`` sequences (all reservoirs
    together), ``width`` float64 values per sequence and step, about ``config.ESN_CUDA_CHUNK_BYTES``
    a chunk."""
    return max(1, int(config.ESN_CUDA_CHUNK_BYTES) // max(8 * int(lead) * int(width), 1))


class Session:
    """One run's kernel arrays on ``kernels``' backend, advanced chunk by chunk.

    ``static``: the weights as the kernels take them, ``(mat, bounds, win, wfb, bias)`` for one
    reservoir or ``(mats, soff, bounds, win, wfb, bias)`` for R (``many``), host arrays or
    device arrays put there earlier (:meth:`Kernels.put`); ``x`` (lead, n) float64 start states, ``lead`` = (B,)
    or (R, B); ``y`` (lead, n_out) the last outputs (None: no readout in this run);
    ``streams`` the noise streams (B or R B rows); ``leak`` and ``noise`` scalars (R-vectors
    for ``many``); ``wout``, ``bout`` the readout (None when unfitted); ``dtype`` the
    reservoir's precision; ``steps`` the most steps of one call and ``n_inputs``, ``n_fb`` the
    widths of a call's inputs and teacher feedback (for the memory check); ``what`` names the
    run in a memory error. The device memory is checked (weights still on the host, states,
    streams and one chunk's buffers) before anything is copied.
    """

    def __init__(self, kernels, static, x, y, streams, *, leak, act, noise, wout, bout, dtype, many, steps,
                 n_inputs, n_fb, what):
        self.k = kernels
        self.many = many
        self.lead = x.shape[:-1]
        self.units = x.shape[-1]
        self.n_out = 0 if y is None else y.shape[-1]
        B = self.lead[-1]
        seqs = self.lead[0] * (self.lead[1] if len(self.lead) > 1 else 1)
        # weights still on the host, states, last outputs and streams, readout; per step of a
        # chunk: the records (states, outputs, and as much again for the gathered ones) and
        # the inputs and teacher feedback of the B sequences
        if kernels.cuda is not None:
            kernels.check(kernels.nbytes(static, wout, bout) + seqs * (np.dtype(dtype).itemsize * self.units
                                                               + 8 * self.n_out + 16)
                          + int(steps) * (16 * seqs * (self.units + self.n_out) + 8 * B * (n_inputs + n_fb)), what)
        self.feedback = tuple(static[-2].shape)[-1] > 0  # wfb's columns
        # the single-sequence CPU kernels' variant (layout, activation, noise, feedback)
        self.variant = None if many else (_k.DENSE if static[0][7].shape[0] > 0 else _k.SPARSE, int(act),
                                          int(np.any(np.asarray(noise) > 0)), int(self.feedback))
        self.static = kernels.put(static)
        self.leak, self.act, self.noise = leak, act, noise
        self._x = x
        xk = x if x.dtype == np.dtype(dtype) else x.astype(dtype)
        self.x = kernels.put(xk)
        self.y = kernels.put(y)
        self.streams = kernels.put(streams)
        self.wout, self.bout = kernels.put(wout), kernels.put(bout)
        self.n_inputs, self.n_fb = n_inputs, n_fb
        self._blocks = seqs
        self._B = B

    # -- buffers --------------------------------------------------------------------------
    def _buffer(self, name, shape, dtype=np.float64):
        """A kernel output of this shape: new on the CPU (the records may keep it), reused on
        the GPU from the previous chunk of the same shape (one chunk's records at a time)."""
        return self.k.buffer(name, shape, dtype, host=False)

    def _input(self, a, n, width):
        """The kernel argument of the chunk's inputs ``a`` (B, n, width) (None: zeros)."""
        if a is None:
            a = np.zeros((self._B, n, width))
        return self.k.put(a)  # (a new device array: small, and copy_to_device into a reused
        #                        one refuses a slice whose unit axis has a zero stride)

    # -- steps ----------------------------------------------------------------------------
    def advance(self, u, fb, mode, n):
        """One call of ``n`` steps. u (B, n, n_inputs) (None in closed loop), fb the teacher's
        feedback (B, n, n_fb) (mode "states" only, or None). mode: "states" (no readout),
        "open" (the readout of each state; in the loop when it is fed back) or "closed" (the
        output is the next input). Returns kernel arrays (states (lead, n, units), outputs
        (lead, n, n_out) or None); the state and last output advance in place. The kernels
        sum in a fixed order: chunks give the same numbers as one call."""
        k, lead = self.k, self.lead
        out = self._buffer("x", lead + (n, self.units))
        if mode == "states":
            f = self._input(fb, n, self.n_fb)
            k.launch("run_many" if self.many else "run", self._blocks, self.variant)(
                *self.static, self._input(u, n, self.n_inputs), f, self.x, self.leak, self.act, self.noise,
                self.streams, out)
            return out, None
        ys = self._buffer("y", lead + (n, self.n_out))
        closed = mode == "closed"
        if self.many or self.feedback or closed:
            uu = self._input(None if closed else u, 1 if closed else n, self.n_inputs)
            k.launch("run_readout_many" if self.many else "run_readout", self._blocks, self.variant)(
                *self.static, self.wout, self.bout, uu, closed, self.x, self.y, self.leak, self.act, self.noise,
                self.streams, out, ys)
            return out, ys
        f = self._input(None, n, self.n_fb)
        k.launch("run", self._blocks, self.variant)(*self.static, self._input(u, n, self.n_inputs), f, self.x,
                                                    self.leak, self.act, self.noise, self.streams, out)
        if k.cuda is None:
            k.launch("readout", self._blocks)(out, self.wout, self.bout, ys)
            self.y[...] = ys[:, -1]
        else:
            k.items("readout", self._B * n)(out, self.wout, self.bout, ys)
            k.items("last", self._B * self.n_out)(ys, self.y)
        return out, ys

    def states(self, u, fb, steps):
        """All states (lead, T, units) on the host for inputs u (B, T, n_inputs) and teacher
        feedback fb (or None), in calls of at most ``steps`` steps."""
        T = u.shape[1]
        if self.k.cuda is None or steps >= T:
            return self.get(self.advance(u, fb, "states", T)[0])
        host = np.empty(self.lead + (T, self.units))
        for start in range(0, T, steps):
            n = min(steps, T - start)
            part = slice(start, start + n)
            xs, _ = self.advance(np.ascontiguousarray(u[:, part]),
                                 None if fb is None else np.ascontiguousarray(fb[:, part]), "states", n)
            host[..., part, :] = self.get(xs)
        return host

    # -- results --------------------------------------------------------------------------
    def get(self, a):
        return self.k.get(a)

    def take(self, a, rows, cols):
        """The host array ``a[..., rows, :][..., cols]`` of a chunk's kernel array ``a``
        (lead, n, width): on the GPU gathered there first, so only what is kept is copied."""
        shape = tuple(a.shape)  # (the simulator's device shapes take no negative index)
        n, width = shape[-2], shape[-1]
        all_rows = np.array_equal(rows, np.arange(n))
        all_cols = cols is None or np.array_equal(cols, np.arange(width))
        if self.k.cuda is None or all_rows and all_cols:
            a = self.get(a)
            a = a if all_rows else a[..., rows, :]
            return a if all_cols else a[..., cols]
        cols = np.arange(width) if cols is None else cols
        lead = int(np.prod(shape[:-2]))
        dst = self._buffer("take", (lead, rows.size, cols.size))
        if dst.size:
            self.k.items("take", dst.size)(a.reshape(lead, n, width), self.k.put(np.asarray(rows, np.int64)),
                                          self.k.put(np.asarray(cols, np.int64)), dst)
        return self.get(dst).reshape(shape[:-2] + (rows.size, cols.size))

    def finish(self, x, y=None):
        """Copy the state reached (and the last output) into the host arrays ``x`` (float64)
        and ``y``."""
        x[...] = self.get(self.x)
        if y is not None and self.y is not None:
            y[...] = self.get(self.y)
