"""Many echo state networks at once: the sweep over seeds and hyper-parameters that reservoir
users actually run, as one batch.

:class:`ESNBatch` holds R reservoirs of the same size (and layers), each an :class:`ESN` of its
own parameters (``batch.esns[r]``), and runs them together over the same inputs: on the CPU
in parallel over (reservoir, sequence) pairs, on CUDA a block of threads per pair (the kernels
``run_many`` / ``run_readout_many``). Results carry a ``reservoir`` dim, with the parameters
that vary along it as its coordinates. Reservoir ``r`` of a batch gives the numbers of
``batch.esns[r]`` run alone (on the CPU to the bit: the same step in the same order; on a GPU
to rounding), the noise included: each reservoir draws from its own ESN's streams.

::

    batch = ESNBatch(500, seed=range(8), spectral_radius=[0.8, 0.9, 1.0, 1.1] * 2, leak=0.3)
    batch.fit(u_train, y_train, washout=100)      # R ridge readouts (solved on the CPU)
    pred = batch.predict(u_test)                  # (R, T, n_outputs)
    scores = [metrics.nrmse(y_test, p) for p in pred]
"""
import numpy as np

from .. import backend as _backend
from .. import checks, rng
from .. import record as _rec
from ..readout import Ridge
from . import _device
from .esn import ACTIVATIONS, ESN, record_chunks
from .layout import LAYOUTS, dense_is_faster, precision, stack_layouts

#: The parameters an :class:`ESNBatch` takes per reservoir (a sequence of R values) or shared.
SWEEPABLE = ("seed", "leak", "spectral_radius", "input_scaling", "connectivity", "input_connectivity", "bias",
             "noise", "feedback_scaling", "inter_scaling", "ridge")


def _per_reservoir(value):
    return isinstance(value, (list, tuple, range)) or (isinstance(value, np.ndarray) and value.ndim > 0)


class ESNBatch:
    """R echo state networks of one size, run together over the same inputs.

    Parameters: as :class:`ESN`'s; each of ``seed``, ``leak``, ``spectral_radius``,
    ``input_scaling``, ``connectivity``, ``input_connectivity``, ``bias``, ``noise``,
    ``feedback_scaling``, ``inter_scaling`` and ``ridge`` is either one value, shared, or a
    sequence of one value per reservoir (all such sequences of the same length R). Reservoir r
    is ``ESN(units, ..., <its values>)``: ``esns[r]``, which also holds its readout after
    :meth:`fit`. A shared int seed gives every reservoir the same random draws (scaled to its
    own spectral radius, input scaling, ...); varied seeds must be ints. ``units``,
    ``n_inputs``, ``n_outputs``, ``activation``, ``dtype`` and ``backend`` are shared, and so
    is the ``layout`` ("auto": one choice for the batch, from the mean density); output
    feedback must be on for all reservoirs or for none.

    Runs: :meth:`states`, :meth:`run`, :meth:`generate` (Datasets with a ``reservoir`` dim
    first), :meth:`fit` (state harvesting on the backend, one ridge solve per reservoir on the
    CPU) and :meth:`predict` (an array (R, [B,] T, n_outputs)). The batch keeps its own state
    (R, B, units) between calls, as an ESN does. The weights are packed for the kernels at the
    first run (and kept on the GPU for later ones): build a new batch rather than edit
    ``esns[r]``'s weights in place.
    """

    family = "ESN"

    def __init__(self, units=100, *, n_inputs=1, n_outputs=1, leak=1.0, spectral_radius=0.9, input_scaling=1.0,
                 connectivity=0.1, input_connectivity=0.1, bias=0.0, activation="tanh", noise=0.0,
                 feedback_scaling=0.0, inter_scaling=1.0, ridge=1e-7, seed=None, layout="auto", dtype="float64",
                 backend="cpu"):
        given = {"seed": seed, "leak": leak, "spectral_radius": spectral_radius, "input_scaling": input_scaling,
                 "connectivity": connectivity, "input_connectivity": input_connectivity, "bias": bias,
                 "noise": noise, "feedback_scaling": feedback_scaling, "inter_scaling": inter_scaling,
                 "ridge": ridge}
        lengths = {k: len(v) for k, v in given.items() if _per_reservoir(v)}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"the parameters given per reservoir must all have the same length (one value per "
                             f"reservoir); got lengths {lengths}")
        R = next(iter(lengths.values()), 1)
        if R < 1:
            raise ValueError(f"an ESNBatch needs at least one reservoir; got empty sequences for {sorted(lengths)}")
        self.varied = tuple(k for k in SWEEPABLE if k in lengths)
        if "seed" in self.varied:
            rng.to_attr([int(s) if isinstance(s, np.integer) else s for s in seed])  # ints only: a file must hold them
        self.layout = checks.choice(layout, "layout", LAYOUTS)
        self.dtype = precision(dtype)
        self.activation = checks.choice(activation, "activation", tuple(ACTIVATIONS))
        self.backend = _backend.resolve(backend)
        per = [{k: (list(given[k])[r] if k in lengths else given[k]) for k in SWEEPABLE} for r in range(R)]
        for p in per:
            if isinstance(p["seed"], np.integer):
                p["seed"] = int(p["seed"])
        self.esns = [ESN(units, n_inputs=n_inputs, n_outputs=n_outputs, activation=activation,
                         layout="sparse" if layout == "auto" else layout, dtype=dtype, **p) for p in per]
        first = self.esns[0]
        if len({e.feedback for e in self.esns}) > 1:
            raise ValueError("feedback_scaling must be 0 for every reservoir or for none (output feedback on for "
                             f"all or none); got {feedback_scaling!r}")
        self.sizes, self.units, self.bounds = first.sizes, first.units, first.bounds
        self.n_inputs, self.n_outputs = first.n_inputs, first.n_outputs
        if layout == "auto":
            density = np.mean([e.W.nnz for e in self.esns]) / max(self.units ** 2, 1)
            chosen = "dense" if dense_is_faster(self.units, density, self.dtype) else "sparse"
            for e in self.esns:
                e.layout = chosen
        self.seed = seed if "seed" not in self.varied else [p["seed"] for p in per]
        self._host = None     # the kernels' arguments for the weights (packed at the first run)
        self._device = None   # and their copy on the GPU
        self.Wout = None
        self.bout = None
        self.reset()

    def __len__(self):
        return len(self.esns)

    @property
    def params(self):
        """The shared scalar parameters (Dataset attrs); the varied ones are coordinates."""
        p = {k: v for k, v in self.esns[0].params.items() if k not in self.varied}
        p["reservoirs"] = len(self)
        p["layout"] = self.esns[0].layout
        return p

    @property
    def feedback(self):
        return self.esns[0].feedback

    def reset(self):
        """Set the stored states to zero (one sequence per reservoir); returns self."""
        self.state_ = np.zeros((len(self), 1, self.units))
        self.output_ = np.zeros((len(self), 1, self.n_outputs))
        return self

    # --- kernels -------------------------------------------------------------------------------
    def _static(self):
        """The weights as the ``*_many`` kernels take them: host arrays, or their device copy
        once a CUDA session made it."""
        if self._device is not None:
            return self._device
        if self._host is None:
            esns = self.esns
            layouts = []
            for e in esns:
                layouts.append(e._kernel_args()[0])
                e._mat = None  # (the batch keeps the packed copy)
            mats, soff = stack_layouts(layouts)
            self._host = (mats, soff, self.bounds, np.stack([e.Win for e in esns]), np.stack([e.Wfb for e in esns]),
                          np.stack([e.b_res for e in esns]).astype(self.dtype))
        return self._host

    def _session(self, x, y, n_batch, steps, what):
        leak = np.array([e.leak for e in self.esns])
        noise = np.array([e.noise for e in self.esns])
        streams = np.concatenate([e._streams(n_batch) for e in self.esns])
        sess = _device.Session(_device.Kernels(self.backend), self._static(), x, y, streams, leak=leak,
                               act=ACTIVATIONS[self.activation], noise=noise,
                               wout=None if y is None else self.Wout, bout=None if y is None else self.bout,
                               dtype=self.dtype, many=True, steps=steps, n_inputs=self.n_inputs,
                               n_fb=self.esns[0].Wfb.shape[1], what=what)
        if self.backend == "cuda":
            self._device, self._host = sess.static, None
        return sess

    def _chunk(self, chunk, n_batch):
        if chunk is not None or self.backend == "cpu":
            return chunk
        return _device.cuda_chunk(len(self) * n_batch, self.units + self.n_outputs)

    def _work(self, n_batch):
        return sum(e._work(n_batch) for e in self.esns)

    # --- inputs and state ----------------------------------------------------------------------
    def _series(self, x, name, width):
        return self.esns[0]._series(x, name, width)

    def _start(self, n_batch, reset, x0):
        R, n = len(self), self.units
        if x0 is not None:
            x = checks.array(x0, "x0", ndim=(1, 2, 3))
            if x.shape not in ((n,), (n_batch, n), (R, n_batch, n)):
                raise ValueError(f"x0 must have shape ({n},), ({n_batch}, {n}) or ({R}, {n_batch}, {n}); got {x.shape}")
            return np.array(np.broadcast_to(x, (R, n_batch, n))), np.zeros((R, n_batch, self.n_outputs))
        if reset:
            return np.zeros((R, n_batch, n)), np.zeros((R, n_batch, self.n_outputs))
        if self.state_.shape[1] not in (1, n_batch):
            raise ValueError(f"the stored state holds {self.state_.shape[1]} sequences but {n_batch} were given; "
                             "pass reset=True or x0")
        return (np.array(np.broadcast_to(self.state_, (R, n_batch, n))),
                np.array(np.broadcast_to(self.output_, (R, n_batch, self.n_outputs))))

    def _forced(self, u, targets, y_prev, caller):
        """(teacher feedback (B, T, n_out), targets) shared by the reservoirs; (None, None)
        without output feedback."""
        if not self.feedback:
            return None, None
        if not np.all(y_prev == y_prev[:1]):
            raise ValueError(f"{caller}: the reservoirs' last outputs differ (after predict or generate), and the "
                             "teacher's feedback is shared by all of them; pass reset=True or x0")
        return self.esns[0]._forced(u, targets, y_prev[0], caller)

    def _check_fitted(self):
        if self.Wout is None:
            raise ValueError("the ESNBatch has no trained readouts yet; call fit first")

    def _states(self, u, fb, x, what):
        T = u.shape[1]
        steps = T if self.backend == "cpu" else min(self._chunk(None, u.shape[0]), T)
        sess = self._session(x, None, u.shape[0], steps, what)
        states = sess.states(u, fb, steps)
        sess.finish(x)
        return states

    def _warm(self, u):
        """Run every reservoir over the context u (B, T, n_inputs) from zero (set-up of
        :meth:`generate`, inside its Ctrl+C protection)."""
        x, y = self._start(u.shape[0], True, None)
        T = u.shape[1]
        steps = min(self._chunk(None, u.shape[0]) or T, T)
        sess = self._session(x, y, u.shape[0], steps, "ESNBatch warm-up")
        for start in range(0, T, steps):
            sess.advance(np.ascontiguousarray(u[:, start:start + steps]), None, "open", min(steps, T - start))
        sess.finish(x, y)
        self.state_, self.output_ = x, y

    # --- science -------------------------------------------------------------------------------
    def fit(self, inputs, targets, *, washout=0, ridge=None, reset=True, x0=None):
        """Train every reservoir's readout on ``inputs`` -> ``targets`` (as :meth:`ESN.fit`
        with ``method="ridge"``): the states of all reservoirs are harvested on the backend,
        then each readout is solved on the CPU (:class:`neurosim.readout.Ridge`). ``ridge``:
        one penalty, one per reservoir, or None (each reservoir's own). Returns self."""
        u, _ = self._series(inputs, "inputs", self.n_inputs)
        y, _ = self._series(targets, "targets", self.n_outputs)
        if y.shape[:2] != u.shape[:2]:
            raise ValueError(f"targets must have the same batch and time length as inputs {u.shape[:2]}; "
                             f"got {y.shape[:2]}")
        washout = checks.integer(washout, "washout", low=0)
        if washout >= u.shape[1]:
            raise ValueError(f"washout ({washout}) must be shorter than the sequences ({u.shape[1]} steps)")
        R = len(self)
        if ridge is None:
            lams = [e.ridge for e in self.esns]
        elif _per_reservoir(ridge):
            lams = [checks.scalar(v, "ridge", low=0.0) for v in ridge]
            if len(lams) != R:
                raise ValueError(f"ridge must be one value or one per reservoir ({R}); got {len(lams)}")
        else:
            lams = [checks.scalar(ridge, "ridge", low=0.0)] * R
        x, y_prev = self._start(u.shape[0], reset, x0)
        fb = self._forced(u, y, y_prev, "fit")[0] if self.feedback else None
        states = self._states(u, fb, x, "ESNBatch fit")
        Wout = np.empty((R, self.n_outputs, self.units))
        bout = np.empty((R, self.n_outputs))
        ys = list(y[:, washout:])
        for r, (esn, lam) in enumerate(zip(self.esns, lams)):
            readout = Ridge(lam)._fit_parts(list(states[r, :, washout:]), ys)
            Wout[r], bout[r] = readout.W, readout.b
            esn.Wout, esn.bout = Wout[r], bout[r]
        self.Wout, self.bout = Wout, bout
        self.state_ = x
        self.output_ = np.array(np.broadcast_to(y[:, -1], (R,) + y[:, -1].shape))
        return self

    def predict(self, inputs, *, reset=False, x0=None, chunk=None, progress=False):
        """Readouts (R, T, n_outputs) (or (R, B, T, n_outputs)) for ``inputs``, as
        :meth:`ESN.predict` for every reservoir; continues from the stored states unless
        ``reset`` or ``x0``."""
        self._check_fitted()
        u, batched = self._series(inputs, "inputs", self.n_inputs)
        x, y = self._start(u.shape[0], reset, x0)
        out = np.empty((len(self),) + u.shape[:2] + (self.n_outputs,))
        run = _rec.Run(u.shape[1], chunk=self._chunk(chunk, u.shape[0]), work=self._work(u.shape[0]),
                       progress=progress, desc="ESNBatch predict")
        with run:
            sess = self._session(x, y, u.shape[0], run.chunk, "ESNBatch predict")
            for start, n in run:
                uc = np.ascontiguousarray(u[:, start:start + n])
                out[:, :, start:start + n] = sess.get(sess.advance(uc, None, "open", n)[1])
            sess.finish(x, y)
        if run.interrupted:
            raise KeyboardInterrupt(f"ESNBatch.predict interrupted after {run.done} of {u.shape[1]} steps")
        self.state_, self.output_ = x, y
        return out if batched else out[:, 0]

    def states(self, inputs, *, targets=None, reset=True, x0=None, record=None, store=None, chunk=None,
               progress=False):
        """Every reservoir's states as a Dataset: ``state`` (reservoir, [sample,] time, unit)
        and ``input``, as :meth:`ESN.states` (``record``, ``store``, ``chunk``, ``progress``
        likewise); works before :meth:`fit`."""
        u, batched = self._series(inputs, "inputs", self.n_inputs)
        x, y_prev = self._start(u.shape[0], reset, x0)
        fb, y = self._forced(u, targets, y_prev, "states")
        run, units, coords = self._new_run(u.shape[1], u.shape[0], batched, record, store, chunk, progress,
                                           "ESNBatch states", None, inputs=True)
        with run:
            sess = self._session(x, None, u.shape[0], run.chunk, run.desc)
            record_chunks(run, sess, units, u, fb, "states", None, ("reservoir",), batched, inputs=True)
            sess.finish(x)
        self.state_ = x
        if y is not None:
            last = y[:, run.done - 1] if run.done else y_prev[0]
            self.output_ = np.array(np.broadcast_to(last, (len(self),) + last.shape))
        return self._finish(run, coords, {"mode": "states"})

    def run(self, inputs, *, reset=False, x0=None, record=None, store=None, chunk=None, progress=False):
        """Open-loop run of every reservoir as a Dataset: ``prediction`` and ``state``
        (reservoir, [sample,] time, ...), as :meth:`ESN.run`."""
        self._check_fitted()
        u, batched = self._series(inputs, "inputs", self.n_inputs)
        x, y = self._start(u.shape[0], reset, x0)
        run, units, coords = self._new_run(u.shape[1], u.shape[0], batched, record, store, chunk, progress,
                                           "ESNBatch run", "prediction")
        with run:
            sess = self._session(x, y, u.shape[0], run.chunk, run.desc)
            record_chunks(run, sess, units, u, None, "open", "prediction", ("reservoir",), batched)
            sess.finish(x, y)
        self.state_, self.output_ = x, y
        return self._finish(run, coords, {"mode": "open_loop"})

    def generate(self, n_steps, *, context=None, record=None, store=None, chunk=None, progress=False):
        """Closed-loop generation by every reservoir (as :meth:`ESN.generate`): ``prediction``
        and ``state`` (reservoir, [sample,] time, ...); starts from the stored states, or
        warms up on ``context`` first."""
        self._check_fitted()
        n_steps = checks.integer(n_steps, "n_steps", low=1)
        if self.n_inputs != self.n_outputs and not self.feedback:
            raise ValueError(f"closed-loop generation needs n_inputs == n_outputs (the output becomes the next "
                             f"input) or output feedback; got n_inputs={self.n_inputs}, n_outputs={self.n_outputs}")
        ctx, batched = (None, False) if context is None else self._series(context, "context", self.n_inputs)
        n_batch = self.state_.shape[1] if ctx is None else ctx.shape[0]
        batched = batched or n_batch > 1
        run, units, coords = self._new_run(n_steps, n_batch, batched, record, store, chunk, progress,
                                           "ESNBatch generate", "prediction")
        with run:
            if ctx is not None:
                self._warm(ctx)
            x, _ = self._start(n_batch, False, None)
            # the first value fed back: the readout of the current state (as each ESN makes it)
            y = np.stack([x[r] @ self.Wout[r].T + self.bout[r] for r in range(len(self))])
            sess = self._session(x, y, n_batch, run.chunk, run.desc)
            record_chunks(run, sess, units, None, None, "closed", "prediction", ("reservoir",), batched)
            sess.finish(x, y)
        self.state_, self.output_ = x, y
        return self._finish(run, coords, {"mode": "closed_loop"})

    # --- records -------------------------------------------------------------------------------
    def _new_run(self, n_steps, n_batch, batched, monitor, store, chunk, progress, desc, yname, inputs=False):
        mon = _rec.as_monitor(monitor)
        units = mon.units(self.units)
        sizes = {"reservoir": len(self), "unit": units.size}
        sizes.update({"sample": n_batch} if batched else {})
        sizes.update({"output": self.n_outputs} if yname else {})
        sizes.update({"channel": self.n_inputs} if inputs else {})
        run = _rec.Run(n_steps, chunk=self._chunk(chunk, n_batch), work=self._work(n_batch), every=mon.every,
                       sizes=sizes, grow=("time",), progress=progress, desc=desc, store=store)
        coords = {"reservoir": np.arange(len(self)), "unit": units,
                  "layer": ("unit", np.searchsorted(self.bounds, units, side="right") - 1)}
        for k in self.varied:
            if k == "seed":
                values = np.asarray(rng.to_attr(self.seed), dtype=np.int64)
            else:
                values = np.array([getattr(e, "bias_scaling" if k == "bias" else k) for e in self.esns], np.float64)
            coords[k] = ("reservoir", values)
        return run, units, coords

    def _finish(self, run, coords, attrs):
        return run.dataset(None, coords, family=self.family, model=type(self).__name__, params=self.params,
                           seed=None if "seed" in self.varied else self.seed, backend=self.backend, attrs=attrs)

    def __repr__(self):
        varied = ", ".join(self.varied) or "nothing"
        return (f"ESNBatch({len(self)} reservoirs of {self.sizes if len(self.sizes) > 1 else self.units} units, "
                f"varying {varied}, fitted={self.Wout is not None})")

