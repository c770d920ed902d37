"""Echo state networks (Jaeger 2001): a fixed random leaky-tanh reservoir and a trained linear
readout.

State update, for input ``u[t]`` and (optional) fed-back output ``y[t-1]``::

    x[t] = (1 - leak) x[t-1] + leak f(W x[t-1] + Win u[t] + Wfb y[t-1] + bias) + noise N(0, 1)
    y[t] = Wout x[t] + b

``W`` is sparse (a fraction ``connectivity`` of pairs, normal weights) scaled to the given
spectral radius; a deep ESN stacks layers, each driven by the one below in the same step. The
whole sequence (and a batch of sequences) runs in one compiled call.
"""
import warnings

import numpy as np
import scipy.sparse as sp

from .. import checks, connect, record, rng
from ..kernels import reservoir as _k
from ..readout import RLS, Ridge

ACTIVATIONS = {"tanh": _k.TANH, "identity": _k.IDENTITY, "sigmoid": _k.SIGMOID, "relu": _k.RELU}


#: Layout rule (measured on a 2-core Cascade Lake, one thread, float64, 1 MiB L2): a dense
#: matrix is read with SIMD dot products, a sparse one costs about three scalar loads per
#: non-zero. Per step, at 10 % density: 128 units about equal; 256 units sparse 1.3x faster;
#: 500 units sparse 2.2x (the dense 2 MiB streams from L3). At 30 % density dense wins at 500
#: units (1.3x) but not at 1000 (8 MiB). So: dense for n <= DENSE_MAX_UNITS, or for density
#: >= DENSE_MIN_DENSITY while n <= DENSE_MAX_UNITS_DENSE; sparse otherwise.
DENSE_MAX_UNITS = 128
DENSE_MIN_DENSITY = 0.25
DENSE_MAX_UNITS_DENSE = 700
#: float32 halves the dense bytes and runs the dense product in 16 SIMD lanes (four rows at a
#: time); the sparse cost (scalar loads per non-zero) does not shrink with the precision. Measured
#: per step at 10 % density, float32: 256 and 384 units dense ~= sparse (dense 1.1x ahead at
#: 384 with tanh excluded); 500 units sparse 1.6x faster (the 1 MB dense matrix no longer stays
#: in the 1 MiB L2 once the recorded states stream through). At 30 % density: 500 units dense
#: float32 1.6x faster than sparse (2.6x than dense float64), 1000 units about equal. So for
#: float32 dense also up to DENSE32_MAX_UNITS units from density DENSE32_MIN_DENSITY on, and up
#: to DENSE32_MAX_UNITS_DENSE units from DENSE_MIN_DENSITY on.
DENSE32_MAX_UNITS = 384
DENSE32_MIN_DENSITY = 0.1
DENSE32_MAX_UNITS_DENSE = 1000
LAYOUTS = ("auto", "sparse", "dense")
DTYPES = ("float64", "float32")


def _dtype(dtype):
    """The precision name ("float64" or "float32") of ``dtype`` (a name or NumPy dtype)."""
    try:
        name = np.dtype(dtype).name
    except (TypeError, ValueError):
        name = None
    if name not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES} (or the NumPy dtypes); got {dtype!r}")
    return name


def _csr(W):
    W = sp.csr_array(W, copy=True)
    W.sort_indices()
    return W


def sell_layout(W, bounds, dtype="float64"):
    """The kernels' SELL-8-sigma form of the square sparse matrix ``W`` with layers cut at
    ``bounds`` (see :mod:`neurosim.kernels.reservoir`): the tuple (sptr, slen, rows, scount,
    lslice, idx, data, dense) with ``dense`` empty and ``data`` of ``dtype`` (float64 or
    float32). Each layer's rows are sorted by length, longest first, before they are cut into
    slices of 8, so little padding is needed. Column indices are uint16 where the matrix is
    small enough (less data to stream)."""
    dtype = np.dtype(_dtype(dtype))
    W = _csr(W)
    lengths = np.diff(W.indptr)
    lanes = _k.LANES
    rows, scount, slen, lslice = [], [], [], [0]
    for r0, r1 in zip(bounds[:-1], bounds[1:]):
        order = r0 + np.argsort(-lengths[r0:r1], kind="stable")
        n_slices = -(-(r1 - r0) // lanes)
        padded = np.full(n_slices * lanes, r0, dtype=np.int64)
        padded[:order.size] = order
        rows.append(padded)
        counts = np.full(n_slices, lanes, dtype=np.int64)
        if n_slices:
            counts[-1] = (r1 - r0) - lanes * (n_slices - 1)
        scount.append(counts)
        slen.append(lengths[padded[::lanes]] if n_slices else np.zeros(0, np.int64))  # longest row first
        lslice.append(lslice[-1] + n_slices)
    rows = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    scount = np.concatenate(scount).astype(np.int64)
    slen = np.concatenate(slen).astype(np.uint64)
    sptr = np.zeros(scount.size + 1, dtype=np.uint64)
    sptr[1:] = np.cumsum(lanes * slen)
    idx_type = np.uint16 if W.shape[1] <= np.iinfo(np.uint16).max + 1 else np.uint32
    idx = np.zeros(int(sptr[-1]), dtype=idx_type)
    data = np.zeros(int(sptr[-1]), dtype=dtype)
    _k.sell_pack(W.indptr.astype(np.int64), W.indices.astype(np.int64), W.data.astype(np.float64), rows, scount,
                 sptr.astype(np.int64), idx, data)
    return sptr, slen, rows, scount, np.asarray(lslice, dtype=np.int64), idx, data, np.zeros((0, 0), dtype)


def dense_layout(W, bounds, dtype="float64"):
    """The kernels' dense form of ``W`` in ``dtype`` (same tuple as :func:`sell_layout`, SELL
    parts empty)."""
    dtype = np.dtype(_dtype(dtype))
    W = sp.csr_array(W)
    return (np.zeros(1, np.uint64), np.zeros(0, np.uint64), np.zeros(0, np.int64), np.zeros(0, np.int64),
            np.zeros(len(bounds), np.int64), np.zeros(0, np.uint16), np.zeros(0, dtype),
            np.ascontiguousarray(W.toarray(), dtype=dtype))


def reservoir_layout(W, bounds, layout="auto", dtype="float64"):
    """The kernels' form of ``W`` with weights in ``dtype``: "sparse" (:func:`sell_layout`),
    "dense" (:func:`dense_layout`) or "auto": dense when ``n <= DENSE_MAX_UNITS``, or when the
    density is at least ``DENSE_MIN_DENSITY`` and ``n <= DENSE_MAX_UNITS_DENSE``, or (float32
    only) when the density is at least ``DENSE32_MIN_DENSITY`` and ``n <= DENSE32_MAX_UNITS``
    or at least ``DENSE_MIN_DENSITY`` and ``n <= DENSE32_MAX_UNITS_DENSE``; else sparse. Both layouts give the same states up to rounding."""
    dtype = _dtype(dtype)
    if layout == "auto":
        n = W.shape[0]
        density = W.nnz / max(n * W.shape[1], 1)
        dense = n <= DENSE_MAX_UNITS or (density >= DENSE_MIN_DENSITY and n <= DENSE_MAX_UNITS_DENSE)
        if dtype == "float32":
            dense = (dense or (density >= DENSE32_MIN_DENSITY and n <= DENSE32_MAX_UNITS)
                     or (density >= DENSE_MIN_DENSITY and n <= DENSE32_MAX_UNITS_DENSE))
        layout = "dense" if dense else "sparse"
    return dense_layout(W, bounds, dtype) if layout == "dense" else sell_layout(W, bounds, dtype)


class EchoStateWarning(RuntimeWarning):
    """The reservoir may not have the echo state property (spectral radius >= 1)."""


def _units(units):
    if isinstance(units, (list, tuple, np.ndarray)):
        sizes = [checks.integer(u, "units", low=1) for u in units]
        if not sizes:
            raise ValueError("units must be a positive int or a non-empty list of layer sizes; got []")
        return sizes
    return [checks.integer(units, "units", low=1)]


class ESN:
    """Echo state network: reservoir of ``units`` leaky units (a list of sizes for a deep ESN).

    Parameters: ``n_inputs`` input width; ``n_outputs`` output width (needed up front only for
    output feedback); ``leak`` in (0, 1]; ``spectral_radius`` > 0 of each layer's recurrent
    matrix; ``input_scaling``; ``connectivity`` and ``input_connectivity`` (fractions in (0, 1]
    of recurrent and input connections, normal weights); ``bias`` (scale of uniform(-1, 1)
    biases, 0 for none); ``activation`` ("tanh", "identity", "sigmoid", "relu"); ``noise`` (std
    of Gaussian state noise per step); ``feedback_scaling`` (scale of uniform(-1, 1) output
    feedback weights, 0 for none); ``inter_scaling`` (std of the weights from a layer to the
    next, deep ESNs); ``ridge`` (default readout regularisation); ``seed``; ``layout`` of the
    recurrent matrix in the kernels ("auto", "sparse" or "dense", see :func:`reservoir_layout`;
    a choice of speed only: the states agree up to rounding); ``dtype`` of the reservoir,
    "float64" (default) or "float32": then the recurrent matrix, the bias, the running state and
    the recurrent sums are float32 (half the bytes per step, 16-lane SIMD in the dense layout),
    while the input term, the readout (trained in float64) and the returned states are float64.
    float32 states differ from float64 ones by about 1e-5 relative (rounding, amplified by the
    dynamics); the one-step NRMSE on Mackey-Glass is unchanged (see benchmarks/esn.py).

    A spectral radius >= 1 warns (:class:`EchoStateWarning`): the echo state property may fail.
    """

    family = "ESN"

    def __init__(self, units=100, *, n_inputs=1, n_outputs=1, leak=1.0, spectral_radius=0.9,
                 input_scaling=1.0, connectivity=0.1, input_connectivity=0.1, bias=0.0,
                 activation="tanh", noise=0.0, feedback_scaling=0.0, inter_scaling=1.0,
                 ridge=1e-7, seed=None, layout="auto", dtype="float64", _weights=None):
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
        self.seed = seed
        self.layout = checks.choice(layout, "layout", LAYOUTS)
        self.dtype = _dtype(dtype)
        self._seq = rng.sequence(seed)
        if self.spectral_radius >= 1.0:
            warnings.warn(f"spectral_radius={self.spectral_radius} >= 1: the echo state property may not hold "
                          "(the reservoir may keep a memory of its initial state or become chaotic)",
                          EchoStateWarning, stacklevel=2)
        self.units = int(sum(self.sizes))
        self.bounds = np.cumsum([0] + self.sizes).astype(np.int64)
        if _weights is None:
            self._draw()
        else:
            self.W, self.Win, self.Wfb, self.b_res = _weights
        self.Wout = None
        self.bout = None
        self.reset()

    # --- construction -------------------------------------------------------------------------
    def _draw(self):
        n, sizes = self.units, self.sizes
        seeds = self._seq.spawn(2 * len(sizes) + 3)
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
        return rng.streams(self._seq.spawn(1)[0], n_batch) if self.noise > 0 else np.zeros((n_batch, 2), np.uint64)

    def _kernel_args(self):
        W = self.W
        key = (self.layout, self.dtype)
        cached = getattr(self, "_mat", None)
        if cached is None or cached[0] is not W or cached[1] != key:
            self._mat = (W, key, reservoir_layout(W, self.bounds, self.layout, self.dtype))
        return (self._mat[2], self.bounds, self.Win, self.Wfb, self.b_res.astype(self.dtype, copy=False))

    def _kernel_state(self, x):
        """The kernels' running state: ``x`` itself (float64) or a float32 copy."""
        return x if self.dtype == "float64" else x.astype(np.float32)

    def _run_states(self, u, fb, x):
        """Kernel call: states (B, T, n) for inputs u (B, T, n_in), teacher feedback fb; x updated."""
        B, T = u.shape[:2]
        out = np.empty((B, T, self.units))
        if fb is None:
            fb = np.zeros((B, T, self.Wfb.shape[1]))
        xk = self._kernel_state(x)
        _k.run(*self._kernel_args(), u, fb, xk, self.leak, ACTIVATIONS[self.activation], self.noise,
               self._streams(B), out)
        x[...] = xk
        return out

    def _teacher(self, y, y_prev):
        """Feedback sequence (B, T, n_out): the previous target at each step."""
        if not self.feedback:
            return None
        fb = np.empty_like(y)
        fb[:, 1:] = y[:, :-1]
        fb[:, 0] = y_prev
        return fb

    # --- science -------------------------------------------------------------------------------
    def run_states(self, inputs, *, targets=None, reset=True, x0=None):
        """Reservoir states (B, T, units), or (T, units) for one sequence, driven by ``inputs``
        (T, n_inputs) or (B, T, n_inputs). With output feedback, ``targets`` (same leading shape,
        n_outputs wide) are fed back shifted by one step (teacher forcing). Starts from zero
        (``reset``), from ``x0``, or from the stored state; stores the end state."""
        u, batched = self._series(inputs, "inputs", self.n_inputs)
        x, y_prev = self._start(u.shape[0], reset, x0)
        fb = None
        if self.feedback:
            if targets is None:
                raise ValueError("this ESN feeds its output back: run_states needs targets (teacher forcing)")
            y, _ = self._series(targets, "targets", self.n_outputs)
            if y.shape[:2] != u.shape[:2]:
                raise ValueError(f"targets must cover the same steps as inputs: {u.shape[:2]}; got {y.shape[:2]}")
            fb = self._teacher(y, y_prev)
            self.output_ = y[:, -1].copy()
        states = self._run_states(u, fb, x)
        self.state_ = x
        return states if batched else states[0]

    def fit(self, inputs, targets, *, washout=0, method="ridge", ridge=None, forget=1.0, reset=True, x0=None):
        """Train the readout on ``inputs`` -> ``targets`` with teacher forcing; returns self.

        inputs (T, n_inputs) or (B, T, n_inputs); targets (T, n_outputs) or (B, T, n_outputs).
        The first ``washout`` states of each sequence are discarded. ``method`` "ridge" (closed
        form, penalty ``ridge``, default the model's) or "rls" (online recursive least squares,
        ``P0 = I / ridge``, forgetting factor ``forget``). The end state is kept, so
        :meth:`predict` continues the sequence.
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
        states = self._run_states(u, self._teacher(y, y_prev), x)
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

    def fit_force(self, inputs, targets, *, delta=1.0, every=1, reset=True, x0=None):
        """FORCE learning (Sussillo and Abbott 2009) of the readout of an ESN with output feedback.

        The reservoir runs on its *own* fed-back output while recursive least squares
        (``P0 = I / delta``) updates the readout every ``every`` steps toward ``targets``
        (T, n_outputs), so it learns to be stable in closed loop. One sequence; inputs
        (T, n_inputs). Returns a Dataset with ``output`` and ``target`` (time, output): the
        learning curve. The end state is kept for :meth:`predict` / :meth:`generate`.
        """
        if not self.feedback:
            raise ValueError("FORCE learning needs output feedback: build the ESN with feedback_scaling != 0")
        u, batched = self._series(inputs, "inputs", self.n_inputs)
        y, _ = self._series(targets, "targets", self.n_outputs)
        if batched or u.shape[0] != 1:
            raise ValueError(f"fit_force takes one sequence, inputs (T, {self.n_inputs}); got {np.shape(inputs)}")
        if y.shape[:2] != u.shape[:2]:
            raise ValueError(f"targets must cover the same steps as inputs ({u.shape[1]}); got {y.shape[1]}")
        delta = checks.scalar(delta, "delta", low=0.0, low_open=True)
        every = checks.integer(every, "every", low=1)
        x, y_prev = self._start(1, reset, x0)
        if self.Wout is None:
            w, wb = np.zeros((self.n_outputs, self.units)), np.zeros(self.n_outputs)
        else:
            w, wb = self.Wout.copy(), self.bout.copy()
        P = np.eye(self.units + 1) / delta
        out = np.empty((u.shape[1], self.n_outputs))
        xb, yb = self._kernel_state(x[0]), y_prev[0]
        mat, bounds, Win, Wfb, bias = self._kernel_args()
        _k.force(mat, bounds, Win, Wfb, bias, u[0], y[0], xb, yb, w, wb, P, self.leak,
                 ACTIVATIONS[self.activation], self.noise, self._streams(1), every, out)
        self.Wout, self.bout = w, wb
        self.state_, self.output_ = xb[None].astype(np.float64), yb[None].copy()
        data_vars = {"output": (("time", "output"), out, {"units": "1"}),
                     "target": (("time", "output"), y[0], {"units": "1"})}
        return record.dataset(data_vars, {"time": ("time", np.arange(out.shape[0]), {"units": "step"})},
                              family=self.family, model=type(self).__name__, params=self.params,
                              seed=self.seed if isinstance(self.seed, (int, np.integer)) else None,
                              attrs={"mode": "force", "delta": delta, "every": every})

    def _check_fitted(self):
        if self.Wout is None:
            raise ValueError("the ESN has no trained readout yet; call fit first")

    def predict(self, inputs, *, reset=False, x0=None):
        """Readout (T, n_outputs) (or (B, T, n_outputs)) for ``inputs``, continuing from the
        stored state unless ``reset`` (zero state) or ``x0``. With feedback, the ESN's own
        outputs are fed back."""
        self._check_fitted()
        u, batched = self._series(inputs, "inputs", self.n_inputs)
        x, y_prev = self._start(u.shape[0], reset, x0)
        if self.feedback:
            states, out = self._run_readout(u, x, y_prev, closed=False, n_steps=u.shape[1])
        else:
            states = self._run_states(u, None, x)
            out = states @ self.Wout.T + self.bout
            y_prev = out[:, -1].copy()
        self.state_ = x
        self.output_ = y_prev
        return out if batched else out[0]

    def _run_readout(self, u, x, y, closed, n_steps):
        B = x.shape[0]
        out_x = np.empty((B, n_steps, self.units))
        out_y = np.empty((B, n_steps, self.n_outputs))
        if u is None:
            u = np.zeros((B, 1, self.n_inputs))
        xk = self._kernel_state(x)
        _k.run_readout(*self._kernel_args(), self.Wout, self.bout, u, closed, xk, y, self.leak,
                       ACTIVATIONS[self.activation], self.noise, self._streams(B), out_x, out_y)
        x[...] = xk
        return out_x, out_y

    def warmup(self, context, *, reset=True):
        """Run the reservoir over ``context`` (T, n_inputs) (or batched) to set its state before
        :meth:`generate`; the readout of the last state is the first value fed back. Returns self."""
        self._check_fitted()
        self.predict(context, reset=reset)
        return self

    def generate(self, n_steps, *, context=None, record=None):
        """Closed-loop generation: the ESN runs on its own predictions for ``n_steps``.

        Needs ``n_inputs == n_outputs`` unless the ESN has output feedback and no driving input
        is needed (then the input is zero). Starts from the stored state (after :meth:`fit`,
        :meth:`predict` or :meth:`warmup`), or warms up on ``context`` first. Returns a Dataset
        with ``prediction`` (time, output) (``sample`` first when batched) and ``state``
        (time, unit), recorded at the steps and units of ``record`` (a Monitor, dict or None:
        every step, all units).
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
        batched = False
        if context is not None:
            batched = np.ndim(context) == 3
            self.warmup(context)
        x, _ = self._start(self.state_.shape[0], False, None)
        y = x @ self.Wout.T + self.bout  # the first value fed back: the readout of the current state
        xs, ys = self._run_readout(None, x, y, closed, n_steps)
        self.state_, self.output_ = x, y
        return self._dataset(xs, ys, batched or xs.shape[0] > 1, record, "prediction",
                             {"mode": "closed_loop"})

    def run(self, inputs, *, reset=False, x0=None, record=None):
        """Open-loop run as a Dataset: ``output`` (time, output) and ``state`` (time, unit)
        (``sample`` first when batched), recorded as ``record`` (Monitor, dict or None: every
        step, all units); :meth:`predict` gives the outputs alone as an array."""
        self._check_fitted()
        u, batched = self._series(inputs, "inputs", self.n_inputs)
        x, y = self._start(u.shape[0], reset, x0)
        if self.feedback:
            xs, ys = self._run_readout(u, x, y, False, u.shape[1])
        else:
            xs = self._run_states(u, None, x)
            ys = xs @ self.Wout.T + self.bout
            y = ys[:, -1].copy()
        self.state_, self.output_ = x, y
        return self._dataset(xs, ys, batched, record, "output", {"mode": "open_loop"})

    def states(self, inputs, *, targets=None, reset=True, x0=None, record=None):
        """Reservoir states as a Dataset: ``state`` (time, unit) (``sample`` first when batched)
        and ``input``; see :meth:`run_states`."""
        xs = self.run_states(inputs, targets=targets, reset=reset, x0=x0)
        batched = xs.ndim == 3
        xs3 = xs if batched else xs[None]
        u, _ = self._series(inputs, "inputs", self.n_inputs)
        ds = self._dataset(xs3, None, batched, record, None, {"mode": "states"})
        lead = ("sample",) if batched else ()
        u = u[:, ds["time"].values]
        ds["input"] = (lead + ("time", "channel"), u if batched else u[0], {"units": "1"})
        return ds

    def _dataset(self, xs, ys, batched, monitor, yname, attrs):
        mon = record.as_monitor(monitor)
        steps = mon.steps(xs.shape[1])
        units = mon.units(self.units)
        lead = ("sample",) if batched else ()
        sel = xs[:, steps][:, :, units]
        data = {"state": (lead + ("time", "unit"), sel if batched else sel[0],
                          {"long_name": "reservoir state", "units": "1"})}
        coords = {"time": ("time", steps, {"units": "step"}), "unit": units,
                  "layer": ("unit", np.searchsorted(self.bounds, units, side="right") - 1)}
        if ys is not None:
            sel = ys[:, steps]
            data[yname] = (lead + ("time", "output"), sel if batched else sel[0], {"units": "1"})
        return record.dataset(data, coords, family=self.family, model=type(self).__name__, params=self.params,
                              seed=self.seed if isinstance(self.seed, (int, np.integer)) else None,
                              attrs=attrs)

    # --- persistence ---------------------------------------------------------------------------
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
        ds = record.dataset(data, family=self.family, model=type(self).__name__, params=self.params,
                            seed=self.seed if isinstance(self.seed, (int, np.integer)) else None)
        return record.save(ds, path)

    @classmethod
    def load(cls, path):
        """Read a model written by :meth:`save`."""
        ds = record.load(path)
        a = ds.attrs
        n = int(a["units"])
        W = sp.csr_array((ds["W_data"].values, ds["W_indices"].values.astype(np.int32),
                          ds["W_indptr"].values.astype(np.int32)), shape=(n, n))
        seed = a.get("seed")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EchoStateWarning)
            model = cls([int(s) for s in ds["sizes"].values], n_inputs=int(a["n_inputs"]),
                        n_outputs=int(a["n_outputs"]), leak=a["leak"], spectral_radius=a["spectral_radius"],
                        input_scaling=a["input_scaling"], connectivity=a["connectivity"],
                        input_connectivity=a["input_connectivity"], bias=a["bias"], activation=a["activation"],
                        noise=a["noise"], feedback_scaling=a["feedback_scaling"],
                        inter_scaling=a["inter_scaling"], ridge=a["ridge"], dtype=a.get("dtype", "float64"),
                        seed=None if seed == "none" else int(seed),
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
