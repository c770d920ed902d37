"""Echo state networks (Jaeger 2001): a fixed random leaky-tanh reservoir and a trained linear
readout.

State update, for input ``u[t]`` and (optional) fed-back output ``y[t-1]``::

    x[t] = (1 - leak) x[t-1] + leak f(W x[t-1] + Win u[t] + Wfb y[t-1] + bias) + noise N(0, 1)
    y[t] = Wout x[t] + b

``W`` is sparse (a fraction ``connectivity`` of pairs, normal weights) scaled to the given
spectral radius; a deep ESN stacks layers, each driven by the one below in the same step. A
batch of sequences runs in compiled calls, one per chunk of steps: the recording runs
(:meth:`ESN.run`, :meth:`ESN.generate`, :meth:`ESN.states`, :meth:`ESN.fit_force`) and
:meth:`ESN.predict` iterate a :class:`neurosim.record.Run` (chunk size from
``config.CHUNK_WORK``, progress bar, Ctrl+C between chunks, records in memory or streamed to
netCDF with ``store=``); the kernels sum in a fixed order, so the chunking changes no digit.
The readout is :class:`neurosim.readout.Ridge` (or ``RLS``), shared with the other families;
the matrix layouts are in :mod:`neurosim.reservoir.layout`. ``backend="cuda"`` runs the same
loops on the CUDA twins of the kernels (:mod:`neurosim.kernels.cuda.reservoir`, through
:mod:`neurosim.reservoir._device`); many reservoirs at once: :class:`neurosim.reservoir.ESNBatch`.
"""
import warnings

import numpy as np
import scipy.sparse as sp

from .. import backend as _backend
from .. import checks, connect, rng
from .. import record as _rec
from ..estimator import Estimator
from ..kernels import reservoir as _k
from ..readout import RLS, Ridge
from . import _device
from .layout import LAYOUTS, dense_is_faster, dense_layout, precision, reservoir_layout, sell_layout  # noqa: F401

ACTIVATIONS = {"tanh": _k.TANH, "identity": _k.IDENTITY, "sigmoid": _k.SIGMOID, "relu": _k.RELU}


class EchoStateWarning(RuntimeWarning):
    """The reservoir may not have the echo state property (spectral radius >= 1)."""


def _units(units):
    if isinstance(units, (list, tuple, np.ndarray)):
        sizes = [checks.integer(u, "units", low=1) for u in units]
        if not sizes:
            raise ValueError("units must be a positive int or a non-empty list of layer sizes; got []")
        return sizes
    return [checks.integer(units, "units", low=1)]


class ESN(Estimator):
    """Echo state network: reservoir of ``units`` leaky units (a list of sizes for a deep ESN).

    Parameters: ``n_inputs`` input width; ``n_outputs`` output width (needed up front only for
    output feedback); ``leak`` in (0, 1]; ``spectral_radius`` > 0 of each layer's recurrent
    matrix; ``input_scaling``; ``connectivity`` and ``input_connectivity`` (fractions in (0, 1]
    of recurrent and input connections, normal weights); ``bias`` (scale of uniform(-1, 1)
    biases, 0 for none); ``activation`` ("tanh", "identity", "sigmoid", "relu"); ``noise`` (std
    of Gaussian state noise per step); ``feedback_scaling`` (scale of uniform(-1, 1) output
    feedback weights, 0 for none); ``inter_scaling`` (std of the weights from a layer to the
    next, deep ESNs); ``ridge`` (default readout regularisation); ``seed`` (an int, a
    ``SeedSequence`` or None; recorded losslessly in every Dataset and file); ``layout`` of the
    recurrent matrix in the kernels ("auto", "sparse" or "dense", see
    :func:`neurosim.reservoir.layout.reservoir_layout`; a choice of speed only: the states agree
    up to rounding); ``dtype`` of the reservoir,
    "float64" (default) or "float32": then the recurrent matrix, the bias, the running state and
    the recurrent sums are float32 (half the bytes per step, 16-lane SIMD in the dense layout),
    while the input term, the readout (trained in float64) and the returned states are float64.
    float32 states differ from float64 ones by about 1e-5 relative (rounding, amplified by the
    dynamics); the one-step NRMSE on Mackey-Glass is unchanged (see benchmarks/esn.py).
    ``backend``: "cpu", "cuda" or "auto" (CUDA runs :meth:`run`, :meth:`states`,
    :meth:`run_states`, the state harvesting of :meth:`fit`, :meth:`predict` and
    :meth:`generate` on the GPU, a block of threads per sequence; the readout's solve and
    :meth:`fit_force` stay on the CPU). GPU states agree with the CPU's to rounding (within
    1e-12 over 50 steps; closed-loop runs diverge slowly, as any two roundings of a chaotic
    system do); every Dataset says where it ran in ``attrs["backend"]``.

    A spectral radius >= 1 warns (:class:`EchoStateWarning`): the echo state property may fail.

    A scikit-learn regressor over one time series: ``fit(X, y)`` with X (T, n_inputs) and y
    (T, n_outputs) or (T,), ``predict(X)`` and ``score(X, y)`` (R^2) continue from the state
    where the last call ended, so a later segment of the same series (as
    ``TimeSeriesSplit`` cuts it) is scored as it follows; ``set_params`` draws a new reservoir
    (see :mod:`neurosim.estimator`).
    """

    family = "ESN"
    _estimator_kind, _fitted_attr = "regressor", "Wout"

    @property
    def n_features_in_(self):
        """Number of input features: ``n_inputs``."""
        return self.n_inputs

    def __init__(self, units=100, *, n_inputs=1, n_outputs=1, leak=1.0, spectral_radius=0.9,
                 input_scaling=1.0, connectivity=0.1, input_connectivity=0.1, bias=0.0,
                 activation="tanh", noise=0.0, feedback_scaling=0.0, inter_scaling=1.0,
                 ridge=1e-7, seed=None, layout="auto", dtype="float64", backend="cpu", _weights=None):
        self.sizes = _units(units)
        self.n_inputs = checks.integer(n_inputs, "n_inputs", low=1)
        self.n_outputs = checks.integer(n_outputs, "n_outputs", low=1)
        self.leak = checks.scalar(leak, "leak", low=0.0, high=1.0, low_open=True)
        self.spectral_radius = checks.scalar(spectral_radius, "spectral_radius", low=0.0, low_open=True)
        self.input_scaling = checks.scalar(input_scaling, "input_scaling")
        self.connectivity = checks.scalar(connectivity, "connectivity", low=0.0, high=1.0, low_open=True)
        self.input_connectivity = checks.scalar(input_connectivity, "input_connectivity", low=0.0, high=1.0,
                                                low_open=True)
        self.bias_scaling = checks.scalar(bias, "bias")
        self.activation = checks.choice(activation, "activation", tuple(ACTIVATIONS))
        self.noise = checks.scalar(noise, "noise", low=0.0)
        self.feedback_scaling = checks.scalar(feedback_scaling, "feedback_scaling")
        self.inter_scaling = checks.scalar(inter_scaling, "inter_scaling")
        self.ridge = checks.scalar(ridge, "ridge", low=0.0)
        self._seq = rng.sequence(seed)
        rng.to_attr(seed)   # a seed that a saved file could not hold is refused now, not after a run
        self.seed = seed
        self.layout = checks.choice(layout, "layout", LAYOUTS)
        self.dtype = precision(dtype)
        self.backend = _backend.resolve(backend)
        if self.spectral_radius >= 1.0:
            warnings.warn(f"spectral_radius={self.spectral_radius} >= 1: the echo state property may not hold "
                          "(the reservoir may keep a memory of its initial state or become chaotic)",
                          EchoStateWarning, stacklevel=2)
        self.units = int(sum(self.sizes))
        self.bounds = np.cumsum([0] + self.sizes).astype(np.int64)
        # child streams of the seed: 0 .. 2 layers + 2 build the reservoir (see _draw), the
        # next ones are the noise of successive runs (each run draws fresh noise)
        self._noise_key = 2 * len(self.sizes) + 3
        if _weights is None:
            self._check_memory()
            self._draw()
        else:
            self.W, self.Win, self.Wfb, self.b_res = _weights
        self.Wout = None
        self.bout = None
        self.reset()

    # --- construction -------------------------------------------------------------------------
    def _check_memory(self):
        """Refuse a reservoir whose weights would not fit in memory, before drawing them: each
        expected weight takes its index, its draw and its value while drawn, then the matrix
        and the kernels' layout (dense, n x n, for the small reservoirs that use it)."""
        sizes, n = self.sizes, self.units
        nnz = sum(self.connectivity * m * m for m in sizes) + \
            sum(self.input_connectivity * m * k for k, m in zip(sizes[:-1], sizes[1:]))
        dense = 8 * n * n if dense_is_faster(n, self.connectivity, self.dtype) else 0
        checks.memory(48 * nnz + dense + 8 * n * (self.n_inputs + self.n_outputs + 8),
                      f"ESN(units={self.sizes if len(sizes) > 1 else n}) (about {nnz:.3g} reservoir weights)")

    def _draw(self):
        n, sizes = self.units, self.sizes
        seeds = [rng.child(self._seq, k) for k in range(2 * len(sizes) + 3)]
        blocks = [[None] * len(sizes) for _ in sizes]
        for layer, m in enumerate(sizes):
            Wl = connect.random(m, p=self.connectivity, self_loops=True, weights="normal", seed=seeds[layer])
            rho = connect.spectral_radius(Wl) if Wl.nnz else 0.0
            if rho > 0:
                Wl = Wl * (self.spectral_radius / rho)
            blocks[layer][layer] = Wl
            if layer > 0:
                blocks[layer][layer - 1] = connect.random(m, sizes[layer - 1], p=self.input_connectivity,
                                                          weights="normal", scale=self.inter_scaling,
                                                          seed=seeds[len(sizes) + layer])
        W = sp.csr_array(sp.block_array(blocks, format="csr")) if len(sizes) > 1 else sp.csr_array(blocks[0][0])
        W.sort_indices()
        self.W = W
        Win = np.zeros((n, self.n_inputs))
        Win[:sizes[0]] = self.input_scaling * connect.random(sizes[0], self.n_inputs, p=self.input_connectivity,
                                                             self_loops=True, weights="normal",
                                                             seed=seeds[-3], sparse=False)
        self.Win = Win
        g = rng.generator(seeds[-2])
        self.Wfb = (self.feedback_scaling * g.uniform(-1, 1, size=(n, self.n_outputs))
                    if self.feedback_scaling != 0 else np.zeros((n, 0)))
        g = rng.generator(seeds[-1])
        self.b_res = self.bias_scaling * g.uniform(-1, 1, size=n) if self.bias_scaling != 0 else np.zeros(n)

    @property
    def params(self):
        """Scalar parameters (for Dataset attrs and saving)."""
        return {"units": self.units, "layers": len(self.sizes), "n_inputs": self.n_inputs,
                "n_outputs": self.n_outputs, "leak": self.leak, "spectral_radius": self.spectral_radius,
                "input_scaling": self.input_scaling, "connectivity": self.connectivity,
                "input_connectivity": self.input_connectivity, "bias": self.bias_scaling,
                "activation": self.activation, "noise": self.noise,
                "feedback_scaling": self.feedback_scaling, "inter_scaling": self.inter_scaling,
                "ridge": self.ridge, "dtype": self.dtype}

    @property
    def feedback(self):
        """True when the output is fed back into the reservoir."""
        return self.Wfb.shape[1] > 0

    def reset(self):
        """Set the stored state to zero (one sequence) and forget the last output; returns self."""
        self.state_ = np.zeros((1, self.units))
        self.output_ = np.zeros((1, self.n_outputs))
        return self

    # --- input handling ------------------------------------------------------------------------
    def _series(self, x, name, width):
        """(B, T, width) array from (T,), (T, width) or (B, T, width); and whether it was batched."""
        a = checks.array(x, name, ndim=(1, 2, 3))
        if a.ndim == 1:
            if width != 1:
                raise ValueError(f"{name} must have shape (T, {width}) or (batch, T, {width}); got {a.shape}")
            a = a[:, None]
        if a.shape[-1] != width:
            raise ValueError(f"{name} must have {width} feature(s) in its last axis, shape (T, {width}) or "
                             f"(batch, T, {width}); got {a.shape}")
        batched = a.ndim == 3
        return np.ascontiguousarray(a if batched else a[None]), batched

    def _start(self, n_batch, reset, x0):
        if x0 is not None:
            x = checks.array(x0, "x0", ndim=(1, 2))
            if x.shape not in ((self.units,), (n_batch, self.units)):
                raise ValueError(f"x0 must have shape ({self.units},) or ({n_batch}, {self.units}); got {x.shape}")
            return np.array(np.broadcast_to(x, (n_batch, self.units))), np.zeros((n_batch, self.n_outputs))
        if reset:
            return np.zeros((n_batch, self.units)), np.zeros((n_batch, self.n_outputs))
        if self.state_.shape[0] not in (1, n_batch):
            raise ValueError(f"the stored state holds {self.state_.shape[0]} sequences but {n_batch} were given; "
                             "pass reset=True or x0")
        return (np.array(np.broadcast_to(self.state_, (n_batch, self.units))),
                np.array(np.broadcast_to(self.output_, (n_batch, self.n_outputs))))

    def _streams(self, n_batch):
        """Noise streams of one run (each run draws fresh noise: the next child of the seed)."""
        if self.noise == 0:
            return np.zeros((n_batch, 2), np.uint64)
        self._noise_key += 1
        return rng.streams(rng.child(self._seq, self._noise_key - 1), n_batch)

    def _kernel_args(self):
        W = self.W
        key = (self.layout, self.dtype)
        cached = getattr(self, "_mat", None)
        if cached is None or cached[0] is not W or cached[1] != key:
            self._mat = (W, key, reservoir_layout(W, self.bounds, self.layout, self.dtype))
        win = np.asfortranarray(self.Win) if self.backend == "cpu" else self.Win   # columns contiguous: the
        # CPU kernels sum the input term column by column, vectorised over the units (the same bits)
        return (self._mat[2], self.bounds, win, self.Wfb, self.b_res.astype(self.dtype, copy=False))

    def _kernel_state(self, x):
        """The kernels' running state: ``x`` itself (float64) or a float32 copy."""
        return x if self.dtype == "float64" else x.astype(np.float32)

    def _session(self, x, y, streams, steps, what):
        """The kernels' arrays of one run on the ESN's backend (see
        :class:`neurosim.reservoir._device.Session`): start states x (B, units), last outputs
        y (B, n_out) (None: no readout in this run), noise ``streams``, at most ``steps`` steps
        a call; on a GPU the memory is checked first (a ValueError naming ``what``)."""
        return _device.Session(_device.Kernels(self.backend), self._kernel_args(), x, y, streams, leak=self.leak,
                               act=ACTIVATIONS[self.activation], noise=self.noise,
                               wout=None if y is None else self.Wout, bout=None if y is None else self.bout,
                               dtype=self.dtype, many=False, steps=steps, n_inputs=self.n_inputs,
                               n_fb=self.Wfb.shape[1], what=what)

    def _chunk(self, chunk, n_batch):
        """Steps per kernel call: the user's ``chunk``; else on a GPU about
        ``config.ESN_CUDA_CHUNK_BYTES`` of records a call, on the CPU None (``record.Run``'s
        rule, ``config.CHUNK_WORK``)."""
        if chunk is not None or self.backend == "cpu":
            return chunk
        return _device.cuda_chunk(n_batch, self.units + self.n_outputs)

    def _states(self, u, fb, x, what):
        """All states (B, T, units) for inputs u (B, T, n_in) and teacher feedback fb (or
        None), x advanced in place: one kernel call on the CPU, calls of a bounded chunk on a
        GPU (the kernels sum in a fixed order: the same numbers)."""
        T = u.shape[1]
        steps = T if self.backend == "cpu" else min(self._chunk(None, u.shape[0]), T)
        sess = self._session(x, None, self._streams(u.shape[0]), steps, what)
        states = sess.states(u, fb, steps)
        sess.finish(x)
        return states

    def _teacher(self, y, y_prev):
        """Feedback sequence (B, T, n_out): the previous target at each step."""
        if not self.feedback:
            return None
        fb = np.empty_like(y)
        fb[:, 1:] = y[:, :-1]
        fb[:, 0] = y_prev
        return fb

    def _forced(self, u, targets, y_prev, caller):
        """(teacher feedback, targets (B, T, n_out)) for a run driven by ``u``; (None, None)
        without output feedback."""
        if not self.feedback:
            return None, None
        if targets is None:
            raise ValueError(f"this ESN feeds its output back: {caller} needs targets (teacher forcing)")
        y, _ = self._series(targets, "targets", self.n_outputs)
        if y.shape[:2] != u.shape[:2]:
            raise ValueError(f"targets must cover the same steps as inputs: {u.shape[:2]}; got {y.shape[:2]}")
        return self._teacher(y, y_prev), y

    # --- science -------------------------------------------------------------------------------
    def run_states(self, inputs, *, targets=None, reset=True, x0=None):
        """Reservoir states (B, T, units), or (T, units) for one sequence, driven by ``inputs``
        (T, n_inputs) or (B, T, n_inputs). With output feedback, ``targets`` (same leading shape,
        n_outputs wide) are fed back shifted by one step (teacher forcing). Starts from zero
        (``reset``), from ``x0``, or from the stored state; stores the end state. One kernel
        call, every state in memory (:meth:`states` records a selection, in chunks)."""
        u, batched = self._series(inputs, "inputs", self.n_inputs)
        x, y_prev = self._start(u.shape[0], reset, x0)
        fb, y = self._forced(u, targets, y_prev, "run_states")
        if y is not None:
            self.output_ = y[:, -1].copy()
        states = self._states(u, fb, x, "ESN run_states")
        self.state_ = x
        return states if batched else states[0]

    def fit(self, inputs, targets, *, washout=0, method="ridge", ridge=None, forget=1.0, reset=True, x0=None):
        """Train the readout on ``inputs`` -> ``targets`` with teacher forcing; returns self.

        inputs (T, n_inputs) or (B, T, n_inputs); targets (T, n_outputs) or (B, T, n_outputs).
        The first ``washout`` states of each sequence are discarded. ``method`` "ridge" (closed
        form, penalty ``ridge``, default the model's: :class:`neurosim.readout.Ridge`) or "rls"
        (online recursive least squares, ``P0 = I / ridge``, forgetting factor ``forget``). The
        end state is kept, so :meth:`predict` continues the sequence.
        """
        checks.choice(method, "method", ("ridge", "rls"))
        u, _ = self._series(inputs, "inputs", self.n_inputs)
        y, _ = self._series(targets, "targets", self.n_outputs)
        if y.shape[:2] != u.shape[:2]:
            raise ValueError(f"targets must have the same batch and time length as inputs {u.shape[:2]}; "
                             f"got {y.shape[:2]}")
        washout = checks.integer(washout, "washout", low=0)
        if washout >= u.shape[1]:
            raise ValueError(f"washout ({washout}) must be shorter than the sequences ({u.shape[1]} steps)")
        lam = self.ridge if ridge is None else checks.scalar(ridge, "ridge", low=0.0)
        x, y_prev = self._start(u.shape[0], reset, x0)
        states = self._states(u, self._teacher(y, y_prev), x, "ESN fit")
        if method == "ridge":  # the states of each sequence read in place (no copy of them)
            readout = Ridge(lam)._fit_parts(list(states[:, washout:]), list(y[:, washout:]))
        else:
            X = states[:, washout:].reshape(-1, self.units)
            Y = y[:, washout:].reshape(-1, self.n_outputs)
            readout = RLS(delta=max(lam, 1e-12), forget=forget).fit(X, Y)
            self.learning_curve_ = readout.errors
        self.Wout, self.bout = readout.W, readout.b
        self.state_ = x
        self.output_ = y[:, -1].copy()
        return self

    def fit_force(self, inputs, targets, *, delta=1.0, every=1, reset=True, x0=None, store=None, chunk=None,
                  progress=False):
        """FORCE learning (Sussillo and Abbott 2009) of the readout of an ESN with output feedback.

        The reservoir runs on its *own* fed-back output while recursive least squares
        (``P0 = I / delta``) updates the readout every ``every`` steps toward ``targets``
        (T, n_outputs), so it learns to be stable in closed loop. One sequence; inputs
        (T, n_inputs). Returns a Dataset with ``prediction`` (the output the network fed back
        while learning) and ``target`` (time, output): the learning curve. The end state is kept for :meth:`predict` / :meth:`generate`.
        ``chunk``, ``store``, ``progress``: as for :meth:`run` (chunks are whole multiples of
        ``every``); Ctrl+C keeps what was learnt up to the end of the current chunk.
        """
        if not self.feedback:
            raise ValueError("FORCE learning needs output feedback: build the ESN with feedback_scaling != 0")
        # (the RLS updates are sequential: FORCE runs on the CPU kernel whatever the backend)
        u, batched = self._series(inputs, "inputs", self.n_inputs)
        y, _ = self._series(targets, "targets", self.n_outputs)
        if batched or u.shape[0] != 1:
            raise ValueError(f"fit_force takes one sequence, inputs (T, {self.n_inputs}); got {np.shape(inputs)}")
        if y.shape[:2] != u.shape[:2]:
            raise ValueError(f"targets must cover the same steps as inputs ({u.shape[1]}); got {y.shape[1]}")
        delta = checks.scalar(delta, "delta", low=0.0, low_open=True)
        every = checks.integer(every, "every", low=1)
        x, y_prev = self._start(1, reset, x0)
        run = _rec.Run(u.shape[1], chunk=chunk, work=self.W.nnz + self.units + (self.units + 1) ** 2 // every,
                       every=every, sizes={"output": self.n_outputs}, grow=("time",), progress=progress,
                       desc="ESN FORCE", store=store)
        with run:
            fitted = self.Wout is not None
            w = self.Wout.copy() if fitted else np.zeros((self.n_outputs, self.units))
            wb = self.bout.copy() if fitted else np.zeros(self.n_outputs)
            P = np.eye(self.units + 1) / delta
            xb, yb = self._kernel_state(x[0]), y_prev[0]
            args, streams = self._kernel_args(), self._streams(1)
            run.track("time", ("time",), np.int64, {"long_name": "time step", "units": "1"})
            run.track("prediction", ("time", "output"), attrs={"units": "1"})
            run.track("target", ("time", "output"), attrs={"units": "1"})
            for start, n in run:
                out = np.empty((n, self.n_outputs))
                _k.force(*args, u[0, start:start + n], y[0, start:start + n], xb, yb, w, wb, P, self.leak,
                         ACTIVATIONS[self.activation], self.noise, streams, every, out)
                run.keep(time=np.arange(start, start + n), prediction=out, target=y[0, start:start + n])
        if run.done or fitted:
            self.Wout, self.bout = w, wb
        self.state_, self.output_ = xb[None].astype(np.float64), yb[None].copy()
        return self._finish(run, None, {"mode": "force", "delta": delta, "every": every,
                                        "main": "target+prediction"}, backend="cpu")

    def score(self, inputs, targets):
        """R^2 of :meth:`predict` on ``inputs`` (continuing from the stored state) against
        ``targets`` (T, n_outputs) or (T,), over all outputs."""
        return self._score(inputs, targets)

    def _check_fitted(self):
        if self.Wout is None:
            raise ValueError("the ESN has no trained readout yet; call fit first")

    def _work(self, n_batch):
        """Work units per step of a run of ``n_batch`` sequences (for the chunk size)."""
        return n_batch * (self.W.nnz + self.units * (1 + self.n_inputs + self.n_outputs))

    def predict(self, inputs, *, reset=False, x0=None, chunk=None, progress=False):
        """Readout (T, n_outputs) (or (B, T, n_outputs)) for ``inputs``, continuing from the
        stored state unless ``reset`` (zero state) or ``x0``. With feedback, the ESN's own
        outputs are fed back. Runs in chunks of ``chunk`` steps (default from
        ``config.CHUNK_WORK``): only a chunk's states are held. Ctrl+C raises
        ``KeyboardInterrupt`` at the end of a chunk (an array has no partial form; the stored
        state is left as it was)."""
        self._check_fitted()
        u, batched = self._series(inputs, "inputs", self.n_inputs)
        x, y = self._start(u.shape[0], reset, x0)
        out = np.empty(u.shape[:2] + (self.n_outputs,))
        run = _rec.Run(u.shape[1], chunk=self._chunk(chunk, u.shape[0]), work=self._work(u.shape[0]),
                       progress=progress, desc="ESN predict")
        with run:
            sess = self._session(x, y, self._streams(u.shape[0]), run.chunk, "ESN predict")
            for start, n in run:
                uc = np.ascontiguousarray(u[:, start:start + n])
                out[:, start:start + n] = sess.get(sess.advance(uc, None, "open", n)[1])
            sess.finish(x, y)
        if run.interrupted:
            raise KeyboardInterrupt(f"ESN.predict interrupted after {run.done} of {u.shape[1]} steps")
        self.state_ = x
        self.output_ = y
        return out if batched else out[0]

    def warmup(self, context, *, reset=True):
        """Run the reservoir over ``context`` (T, n_inputs) (or batched) to set its state before
        :meth:`generate`; the readout of the last state is the first value fed back. Returns self."""
        self._check_fitted()
        self.predict(context, reset=reset)
        return self

    def _warm(self, u):
        """:meth:`warmup` on checked inputs u (B, T, n_inputs), in one kernel call (set-up work
        of :meth:`generate`, inside its Ctrl+C protection)."""
        x, y = self._start(u.shape[0], True, None)
        T = u.shape[1]
        steps = min(self._chunk(None, u.shape[0]) or T, T)
        sess = self._session(x, y, self._streams(u.shape[0]), steps, "ESN warm-up")
        for start in range(0, T, steps):
            sess.advance(np.ascontiguousarray(u[:, start:start + steps]), None, "open", min(steps, T - start))
        sess.finish(x, y)
        self.state_, self.output_ = x, y

    def generate(self, n_steps, *, context=None, record=None, store=None, chunk=None, progress=False):
        """Closed-loop generation: the ESN runs on its own predictions for ``n_steps``.

        Needs ``n_inputs == n_outputs`` unless the ESN has output feedback and no driving input
        is needed (then the input is zero). Starts from the stored state (after :meth:`fit`,
        :meth:`predict` or :meth:`warmup`), or warms up on ``context`` first. Returns a Dataset
        with ``prediction`` (time, output) (``sample`` first when batched) and ``state``
        (time, unit), recorded at the steps and units of ``record`` (a Monitor, dict or None:
        every step, all units). ``chunk``, ``store``, ``progress``: as for :meth:`run`.
        The first value fed back is the readout of the current state; ``prediction[k]`` is the
        output after k + 1 autonomous steps (after :meth:`fit` on ``X[:T] -> X[1:T+1]`` it
        predicts ``X[T + 1 + k]``).
        """
        self._check_fitted()
        n_steps = checks.integer(n_steps, "n_steps", low=1)
        closed = self.n_inputs == self.n_outputs
        if not closed and not self.feedback:
            raise ValueError(f"closed-loop generation needs n_inputs == n_outputs (the output becomes the next "
                             f"input) or output feedback; got n_inputs={self.n_inputs}, n_outputs={self.n_outputs}")
        ctx, batched = (None, False) if context is None else self._series(context, "context", self.n_inputs)
        n_batch = self.state_.shape[0] if ctx is None else ctx.shape[0]
        batched = batched or n_batch > 1
        run, units, coords = self._new_run(n_steps, n_batch, batched, record, store, chunk, progress,
                                           "ESN generate", "prediction")
        with run:
            if ctx is not None:
                self._warm(ctx)
            x, _ = self._start(n_batch, False, None)
            y = x @ self.Wout.T + self.bout  # the first value fed back: the readout of the current state
            self._recorded(run, units, None, None, x, y, "closed", "prediction", batched)
        self.state_, self.output_ = x, y
        return self._finish(run, coords, {"mode": "closed_loop", "main": "prediction"})

    def run(self, inputs, *, reset=False, x0=None, record=None, store=None, chunk=None, progress=False):
        """Open-loop run as a Dataset: ``prediction`` (time, output) and ``state`` (time, unit)
        (``sample`` first when batched), recorded as ``record`` (Monitor, dict or None: every
        step, all units); :meth:`predict` gives the outputs alone as an array.

        The run goes in chunks of ``chunk`` steps (default: ``config.CHUNK_WORK`` work units
        per chunk), so besides the records only a chunk's states are in memory; the numbers do
        not depend on the chunk size. ``store``: a netCDF path; the records are appended to it
        chunk by chunk and the Dataset is returned opened lazily from it (close it when done).
        ``progress``: a progress bar. Ctrl+C stops at the end of the current chunk: the Dataset
        holds the steps run so far (attr ``interrupted`` = 1) and the state reached is kept.
        """
        self._check_fitted()
        u, batched = self._series(inputs, "inputs", self.n_inputs)
        x, y = self._start(u.shape[0], reset, x0)
        run, units, coords = self._new_run(u.shape[1], u.shape[0], batched, record, store, chunk, progress,
                                           "ESN run", "prediction")
        with run:
            self._recorded(run, units, u, None, x, y, "open", "prediction", batched)
        self.state_, self.output_ = x, y
        return self._finish(run, coords, {"mode": "open_loop", "main": "prediction"})

    def states(self, inputs, *, targets=None, reset=True, x0=None, record=None, store=None, chunk=None,
               progress=False):
        """Reservoir states as a Dataset: ``state`` (time, unit) (``sample`` first when batched)
        and ``input``; see :meth:`run_states`. ``chunk``, ``store``, ``progress``: as for
        :meth:`run`."""
        u, batched = self._series(inputs, "inputs", self.n_inputs)
        x, y_prev = self._start(u.shape[0], reset, x0)
        fb, y = self._forced(u, targets, y_prev, "states")
        run, units, coords = self._new_run(u.shape[1], u.shape[0], batched, record, store, chunk, progress,
                                           "ESN states", None, inputs=True)
        with run:
            self._recorded(run, units, u, fb, x, None, "states", None, batched, inputs=True)
        self.state_ = x
        if y is not None:
            self.output_ = y[:, run.done - 1].copy() if run.done else y_prev
        return self._finish(run, coords, {"mode": "states", "main": "state"})

    # --- recorded runs -------------------------------------------------------------------------
    def _new_run(self, n_steps, n_batch, batched, monitor, store, chunk, progress, desc, yname, inputs=False):
        """The :class:`record.Run` of a recorded run, the recorded units and the fixed coords."""
        mon = _rec.as_monitor(monitor)
        units = mon.units(self.units)
        sizes = {"unit": units.size}
        sizes.update({"sample": n_batch} if batched else {})
        sizes.update({"output": self.n_outputs} if yname else {})
        sizes.update({"channel": self.n_inputs} if inputs else {})
        run = _rec.Run(n_steps, chunk=self._chunk(chunk, n_batch), work=self._work(n_batch), every=mon.every,
                       sizes=sizes, grow=("time",), progress=progress, desc=desc, store=store)
        coords = {"unit": units, "layer": ("unit", np.searchsorted(self.bounds, units, side="right") - 1)}
        return run, units, coords

    def _recorded(self, run, units, u, fb, x, y, mode, yname, batched, inputs=False):
        """The chunk loop of :meth:`run`, :meth:`generate` and :meth:`states` (see
        :func:`record_chunks`); x and y advanced in place."""
        sess = self._session(x, y, self._streams(x.shape[0]), run.chunk, run.desc)
        record_chunks(run, sess, units, u, fb, mode, yname, (), batched, inputs)
        sess.finish(x, y)

    def _finish(self, run, coords, attrs, backend=None):
        """The run's Dataset (``backend``: where it ran, by default the ESN's)."""
        return run.dataset(None, coords, family=self.family, model=type(self).__name__, params=self.params,
                           seed=self.seed, backend=backend or self.backend, attrs=attrs)

    # --- persistence ---------------------------------------------------------------------------
    _REQUIRED = ("W_indptr", "W_indices", "W_data", "Win", "Wfb", "bias_res", "sizes", "state", "last_output",
                 "units", "n_inputs", "n_outputs", "leak", "spectral_radius", "input_scaling", "connectivity",
                 "input_connectivity", "bias", "activation", "noise", "feedback_scaling", "inter_scaling",
                 "ridge", "seed")

    def save(self, path):
        """Write the model (weights, readout, state, parameters) to netCDF; returns ``path``."""
        W = self.W
        data = {"W_indptr": ("indptr", W.indptr.astype(np.int64)), "W_indices": ("nnz", W.indices.astype(np.int64)),
                "W_data": ("nnz", W.data), "Win": (("unit", "input"), self.Win),
                "Wfb": (("unit", "fb"), self.Wfb), "bias_res": ("unit", self.b_res),
                "sizes": ("layer", np.asarray(self.sizes, np.int64)),
                "state": (("sample", "unit"), self.state_), "last_output": (("sample", "output"), self.output_)}
        if self.Wout is not None:
            data["Wout"] = (("output", "unit"), self.Wout)
            data["bout"] = ("output", self.bout)
        ds = _rec.dataset(data, family=self.family, model=type(self).__name__, params=self.params, seed=self.seed,
                          backend=self.backend)
        return _rec.save(ds, path)

    @classmethod
    def load(cls, path, *, backend="cpu"):
        """Read a model written by :meth:`save`, to run on ``backend`` (the file records the
        one it was saved from, in ``attrs["backend"]``; the weights are the same on either); a
        file that is not one (another model's, not netCDF, cut short) is a ValueError naming
        the file."""
        ds = _rec.open_model(path, cls.__name__, required=cls._REQUIRED)
        a = ds.attrs
        n = int(a["units"])
        W = sp.csr_array((ds["W_data"].values, ds["W_indices"].values.astype(np.int32),
                          ds["W_indptr"].values.astype(np.int32)), shape=(n, n))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EchoStateWarning)
            model = cls([int(s) for s in ds["sizes"].values], n_inputs=int(a["n_inputs"]),
                        n_outputs=int(a["n_outputs"]), leak=a["leak"], spectral_radius=a["spectral_radius"],
                        input_scaling=a["input_scaling"], connectivity=a["connectivity"],
                        input_connectivity=a["input_connectivity"], bias=a["bias"], activation=a["activation"],
                        noise=a["noise"], feedback_scaling=a["feedback_scaling"],
                        inter_scaling=a["inter_scaling"], ridge=a["ridge"], dtype=a.get("dtype", "float64"),
                        seed=rng.from_attr(a["seed"]), backend=backend,
                        _weights=(W, ds["Win"].values.copy(), ds["Wfb"].values.copy(), ds["bias_res"].values.copy()))
        if "Wout" in ds:
            model.Wout = np.ascontiguousarray(ds["Wout"].values)
            model.bout = ds["bout"].values.copy()
        model.state_ = ds["state"].values.copy()
        model.output_ = ds["last_output"].values.copy()
        return model

    def __repr__(self):
        return (f"ESN(units={self.sizes if len(self.sizes) > 1 else self.units}, leak={self.leak}, "
                f"spectral_radius={self.spectral_radius}, fitted={self.Wout is not None})")


def record_chunks(run, sess, units, u, fb, mode, yname, outer, batched, inputs=False):
    """The chunk loop of a recorded run: advance the session ``sess`` (see
    :meth:`neurosim.reservoir._device.Session.advance`; inputs u and teacher feedback fb
    (B, T, width) or None) and keep the recorded steps and ``units`` of ``state``, the outputs
    as ``yname`` (None: none) and, with ``inputs``, the inputs. ``outer``: the records' dims
    before ``sample`` (``("reservoir",)`` for a batch of reservoirs); ``batched``: keep the
    ``sample`` dim (else the one sequence's records drop it)."""
    lead = outer + (("sample",) if batched else ())
    run.track("time", ("time",), np.int64, {"long_name": "time step", "units": "1"})
    run.track("state", lead + ("time", "unit"), np.float64, {"long_name": "reservoir state", "units": "1"})
    if yname:
        run.track(yname, lead + ("time", "output"), np.float64, {"units": "1"})
    if inputs:
        run.track("input", (("sample",) if batched else ()) + ("time", "channel"), np.float64, {"units": "1"})
    axis = len(outer)  # where the sample dim is dropped for one sequence

    def one(v, axis):
        return v if batched else v.reshape(v.shape[:axis] + v.shape[axis + 1:])

    for start, n in run:
        uc = None if u is None else np.ascontiguousarray(u[:, start:start + n])
        fc = None if fb is None else np.ascontiguousarray(fb[:, start:start + n])
        xs, ys = sess.advance(uc, fc, mode, n)
        steps = run.steps(start, n)
        rows = steps - start
        keep = {"time": steps, "state": one(sess.take(xs, rows, units), axis)}
        if yname:
            keep[yname] = one(sess.take(ys, rows, None), axis)
        if inputs:
            keep["input"] = one(uc[:, rows], 0)
        run.keep(**keep)


def memory_capacity(esn, max_delay=None, *, n_steps=4000, washout=500, ridge=1e-9, seed=0):
    """Short-term memory capacity (Jaeger 2001): sum over delays k = 1..max_delay of the squared
    correlation between u[t - k] and its best linear reconstruction from x[t], for i.i.d.
    uniform(-1, 1) input. At most ``units`` for ``n_inputs = 1``; a linear reservoir comes close
    to it. Returns ``(capacity, per_delay)`` with per_delay (max_delay,)."""
    if not isinstance(esn, ESN) or esn.n_inputs != 1:
        raise ValueError("memory_capacity needs an ESN with n_inputs = 1")
    max_delay = 2 * esn.units if max_delay is None else checks.integer(max_delay, "max_delay", low=1)
    n_steps = checks.integer(n_steps, "n_steps", low=1)
    washout = checks.integer(washout, "washout", low=max_delay)
    if washout >= n_steps:
        raise ValueError(f"washout ({washout}) must be shorter than n_steps ({n_steps})")
    # the input, the states and the delayed targets
    checks.memory(8 * n_steps * (1 + esn.units + max_delay), f"memory_capacity with n_steps={n_steps}")
    u = rng.generator(seed).uniform(-1, 1, size=n_steps)
    X = esn.run_states(u[:, None], reset=True)[washout:]
    delays = np.arange(1, max_delay + 1)
    Y = np.stack([u[washout - k:n_steps - k] for k in delays], axis=1)
    half = X.shape[0] // 2  # fit on the first half, score on the second
    readout = Ridge(ridge).fit(X[:half], Y[:half])
    P = readout.predict(X[half:])
    T = Y[half:]
    Pc, Tc = P - P.mean(0), T - T.mean(0)
    r2 = (Pc * Tc).sum(0) ** 2 / ((Pc ** 2).sum(0) * (Tc ** 2).sum(0))
    return float(r2.sum()), r2


def echo_state_distance(esn, inputs, *, n_pairs=4, scale=1.0, seed=0):
    """Distance ||x_a[t] - x_b[t]|| (T, n_pairs) between reservoirs started from different random
    states (uniform in [-scale, scale]) and driven by the same ``inputs`` (T, n_inputs): it
    decays to 0 when the echo state property holds."""
    n_pairs = checks.integer(n_pairs, "n_pairs", low=1)
    u, _ = esn._series(inputs, "inputs", esn.n_inputs)
    if u.shape[0] != 1:
        raise ValueError("echo_state_distance takes one input sequence (T, n_inputs)")
    g = rng.generator(seed)
    x0 = g.uniform(-scale, scale, size=(2 * n_pairs, esn.units))
    U = np.broadcast_to(u, (2 * n_pairs,) + u.shape[1:])
    saved = esn.state_, esn.output_
    xs = esn.run_states(np.ascontiguousarray(U), x0=x0)
    esn.state_, esn.output_ = saved
    return np.linalg.norm(xs[:n_pairs] - xs[n_pairs:], axis=2).T
