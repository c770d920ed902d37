"""The training loop: mini-batches, validation, early stopping, callbacks, and the history as
an ``xarray.Dataset``."""
import contextlib
import time

import numpy as np

from .. import checks, config, metrics, record, rng
from ..backend import blas_single_thread
from . import losses, ops, optim
from .checkpoint import load_checkpoint, save_checkpoint
from .layers import Sequential
from .tensor import Tensor, no_grad


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or infinite; ``history`` holds the Dataset up to that step."""

    def __init__(self, message, history):
        super().__init__(message)
        self.history = history


class EarlyStopping:
    """Stop when ``monitor`` (a history variable per epoch, e.g. ``"val_loss"``) has not
    improved by more than ``min_delta`` for ``patience`` epochs; with ``restore_best`` the
    model's parameters go back to the best epoch's."""

    def __init__(self, monitor="val_loss", patience=5, min_delta=0.0, mode="min",
                 restore_best=True):
        self.monitor = monitor
        self.patience = checks.integer(patience, "patience", low=1)
        self.min_delta = checks.scalar(min_delta, "min_delta", low=0.0)
        self.sign = {"min": 1.0, "max": -1.0}[checks.choice(mode, "mode", ("min", "max"))]
        self.restore_best = bool(restore_best)

    def start(self):
        """Reset before a run."""
        self.best, self.best_epoch, self.best_state, self.wait = np.inf, -1, None, 0

    def __call__(self, model, epoch, logs):
        """Record ``logs[monitor]`` of ``epoch``; True when training should stop."""
        if self.monitor not in logs:
            raise ValueError(f"early stopping monitors {self.monitor!r}, which the history does "
                             f"not have; it has {sorted(logs)}")
        value = self.sign * logs[self.monitor]
        if value < self.best - self.min_delta:
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best:
                self.best_state = model.state()
            return False
        self.wait += 1
        return self.wait >= self.patience


def accuracy(outputs, y):
    """Fraction of rows whose arg-max (or, for one output, sign of the logit) matches ``y``."""
    if outputs.shape[1] == 1:
        return metrics.accuracy(y.reshape(-1) > 0.5, outputs[:, 0] > 0)
    return metrics.accuracy(y if y.ndim == 1 else y.argmax(axis=1), outputs.argmax(axis=1))


METRICS = {"accuracy": accuracy}


def predict(model, X, batch_size=256, lengths=None):
    """``model``'s outputs for ``X`` in evaluation mode, batch by batch, as an array.

    ``X`` is an array (n, *input_shape), or batches as :func:`fit` takes them (the first
    array of each is the input; a batch's lengths go to the model; the outputs of all batches
    must share their shape but for the first axis). ``lengths`` (n,): each sequence's steps,
    passed to the model's recurrent layers batch by batch.
    """
    dtype = model.dtype if hasattr(model, "dtype") else np.float64
    mode = model.training
    model.eval()
    try:
        with no_grad():
            if is_batches(X):
                outs = [forward(model, x, lb).data for x, _, _, lb in batches(X, "X", dtype)]
                shapes = {o.shape[1:] for o in outs}
                if len(shapes) > 1:
                    raise ValueError(f"X: the batches' outputs differ in shape {sorted(shapes)} "
                                     "(sequences padded to each batch's own length?); iterate "
                                     "the batches and call the model on each")
                return np.concatenate(outs)
            X = checks.array(X, "X", dtype=dtype)
            lengths = _lengths(lengths, X, model)
            return np.concatenate([
                forward(model, X[i:i + batch_size],
                        None if lengths is None else lengths[i:i + batch_size]).data
                for i in range(0, len(X), batch_size)])
    finally:
        model.train(mode)


def is_batches(X):
    """Whether ``X`` is a source of batches (an iterable such as
    :class:`~neurosim.nn.data.ArrayBatches`, or a function returning an iterator) rather than
    an array (NumPy arrays, lists, tuples and anything with ``__array__`` are arrays)."""
    if isinstance(X, (np.ndarray, list, tuple, Tensor)) or hasattr(X, "__array__"):
        return False
    return callable(X) or hasattr(X, "__iter__")


def _reiterable(source, name):
    """``source`` after checking that every epoch can iterate it afresh."""
    if not callable(source) and iter(source) is source:
        raise TypeError(f"{name} is an iterator ({type(source).__name__}), which its first "
                        "epoch would exhaust; pass something each epoch can iterate afresh: "
                        "ArrayBatches, DatasetBatches, or a function returning a new iterator "
                        "(e.g. the generator function itself)")
    return source


def batches(source, name, dtype):
    """One epoch of ``source``'s batches as ``(x, Y, y, lengths)``: ``x`` in ``dtype``, ``y``
    the batch's targets as given (None: an auto-encoder's, ``Y`` is then ``x``), ``Y`` the
    targets checked (:func:`_targets`), ``lengths`` None or as given. A batch is an array ``x``
    or a tuple ``(x,)``, ``(x, y)`` or ``(x, y, lengths)``; anything else is a TypeError
    naming ``name``."""
    for batch in (source() if callable(source) else iter(source)):
        parts = tuple(batch) if isinstance(batch, (tuple, list)) else (batch,)
        if not 1 <= len(parts) <= 3:
            raise TypeError(f"{name}: each batch must be x, (x, y) or (x, y, lengths); got "
                            f"a {type(batch).__name__} of {len(parts)} items")
        x = checks.array(parts[0], f"{name} batch x", dtype=dtype)
        y = parts[1] if len(parts) > 1 else None
        Y = x if y is None else _targets(y, len(x), f"{name} batch y")
        yield x, Y, y, parts[2] if len(parts) == 3 else None


def forward(model, x, lengths=None):
    """``model(x)``, or ``model(x, lengths=lengths)`` when lengths are given."""
    return model(x) if lengths is None else model(x, lengths=lengths)


def _lengths(lengths, X, model, name="lengths"):
    """``lengths`` for the rows of ``X`` as int64 (n,), or None; a model that cannot take them
    is a TypeError naming ``name``."""
    if lengths is None:
        return None
    if not model.takes_lengths():
        raise TypeError(f"{name}: {type(model).__name__} has no layer that takes lengths (the "
                        "recurrent and attention layers do)")
    a = checks.array(lengths, name, dtype=None)
    if a.ndim not in (1, 2) or len(a) != len(X):
        raise ValueError(f"{name} must have one entry per sequence of the inputs ({len(X)}): "
                         f"steps (n,) or a (n, time) mask; got shape {a.shape}")
    return a


def step_mask(lengths, out, x):
    """The (batch, time) mask of valid steps when ``out`` holds one output per step of ``x``
    (batch, time, ...) and ``lengths`` are given; None otherwise (the loss then sees all of
    ``out``)."""
    if lengths is None or out.ndim < 3 or x.ndim < 3 or out.shape[:2] != x.shape[:2]:
        return None
    a = np.asarray(lengths)
    steps = x.shape[1]
    return a.astype(bool) if a.ndim == 2 else np.arange(steps) < a.astype(np.int64)[:, None]


def masked(out, Y, mask, name="y"):
    """``out`` and ``Y`` at the valid steps only, (steps kept, ...), as PyTorch's packed
    sequence data; unchanged without ``mask``. Targets that are not per step are a ValueError
    naming ``name``."""
    if mask is None:
        return out, Y
    if Y.shape[:2] != mask.shape:
        raise ValueError(f"{name} must have one target per step, (batch, time, ...) with (batch, "
                         f"time) = {mask.shape}, for a model with per-step outputs and lengths; "
                         f"got shape {Y.shape}")
    index = np.nonzero(mask)
    return ops.getitem(out, index) if isinstance(out, Tensor) else out[index], Y[index]


def _targets(y, n, name):
    """Targets ``y`` checked (real, finite, one row per input row): integer labels as they
    are, anything else float64."""
    if y is None:
        return None
    y = checks.array(y, name, dtype=None)
    if y.ndim == 0 or len(y) != n:
        raise ValueError(f"{name} must have one row per row of the inputs ({n}); got shape {y.shape}")
    return y if np.issubdtype(y.dtype, np.integer) else y.astype(np.float64)


def _fitted_targets(out, loss, Y, y, name):
    """``Y`` as the model will be trained on it, checked against the output shape ``out``
    (per sample; None: unknown, no check) for the losses named in
    :data:`neurosim.nn.losses.LOSSES`: for ``"cross_entropy"`` 1-D targets are class labels in
    ``[0, classes)`` (whole-number floats such as 2.0 are read as labels), others must have
    the outputs' shape; a ``ValueError`` naming ``name``."""
    if not isinstance(loss, str) or Y is None or out is None:
        return Y
    if loss == "cross_entropy" and Y.ndim == 1:
        Y = checks.labels(Y, name)
        k = out[-1]
        if len(Y) and (Y.min() < 0 or Y.max() >= k):
            raise ValueError(f"{name} must hold class labels in [0, {k}) (the model has {k} outputs); got "
                             f"values from {Y.min()} to {Y.max()}")
        return Y
    if Y.shape[1:] != tuple(out):
        given = f"{name} is None, so the targets are X (as for an autoencoder), of shape" if y is None else \
            f"{name} has shape"
        want = f"(n, {', '.join(map(str, out))})" + (" or class labels (n,)" if loss == "cross_entropy" else "")
        raise ValueError(f"{given} {Y.shape}, but the model's outputs are {want} for loss={loss!r}")
    return Y


def _arrays_only(X, y, lengths, batch_size, shuffle):
    """Refuse the array-only arguments beside a source of batches, naming them."""
    for name, value, where in (("y", y, "the batches carry the targets: (x, y)"),
                               ("lengths", lengths, "the batches carry them: (x, y, lengths)"),
                               ("batch_size", batch_size, "X makes the batches"),
                               ("shuffle", shuffle, "X makes the batches")):
        if value is not None:
            raise TypeError(f"{name} is for arrays; X is a source of batches "
                            f"({type(X).__name__}) and {where} (e.g. ArrayBatches(x, y, "
                            "batch_size=, shuffle=, seed=))")


def _validation(validation, dtype, model):
    """``validation`` as ``(source, None, None, None, None)`` for batches, or ``(None, Xv, Yv,
    yv, lengths)`` for a pair or triple of arrays."""
    if is_batches(validation):
        return _reiterable(validation, "validation"), None, None, None, None
    if not isinstance(validation, (tuple, list)) or len(validation) not in (2, 3):
        raise TypeError("validation must be (X, y), (X, y, lengths) or a source of batches; "
                        f"got {type(validation).__name__}")
    Xv = checks.array(validation[0], "validation X", dtype=dtype)
    yv = validation[1]
    Yv = Xv if yv is None else _targets(yv, len(Xv), "validation y")
    lv = _lengths(validation[2], Xv, model, "validation lengths") if len(validation) == 3 else None
    return None, Xv, Yv, yv, lv


def _input_shape(source, dtype):
    """The per-sample shape of the first array of ``source``'s batches: from its
    ``sample_shapes()`` (:mod:`neurosim.nn.data`: no draw), else from a first batch."""
    if hasattr(source, "sample_shapes"):
        return tuple(source.sample_shapes()[0])
    for x, *_ in batches(source, "X", dtype):
        return x.shape[1:]
    raise ValueError("X gives no batches")


def fit(model, X, y=None, *, lengths=None, loss="cross_entropy", optimizer="adam", lr=1e-3,
        epochs=10, batch_size=None, shuffle=None, seed=None, validation=None, metrics=(),
        early_stopping=None, callbacks=(), progress=False, blas_threads=None, store=None,
        checkpoint=None, resume=None, **optimizer_options):
    """Train ``model`` on ``X`` (n, *input_shape) against ``y`` by mini-batch gradient descent.

    Parameters
    ----------
    X : array or source of batches
        An array (n, *input_shape), or an iterable that each epoch iterates afresh
        (:class:`~neurosim.nn.data.ArrayBatches`, :class:`~neurosim.nn.data.DatasetBatches`,
        or a function returning a new iterator, such as a generator function), giving per
        batch ``x``, ``(x, y)`` or ``(x, y, lengths)``; a one-shot iterator is a TypeError.
    y : array, optional
        Targets for array ``X``; None: the targets are ``X`` (auto-encoders).
    lengths : array_like, optional
        For array ``X`` of padded sequences (n, time, ...): each sequence's steps (n,) (or an
        (n, time) prefix mask), passed batch by batch to the model's recurrent layers (their
        final states are those after each sequence's last step, as PyTorch's packed
        sequences). When the model has one output per step (batch, time, ...), the loss and
        metrics see only the valid steps, flattened to (valid steps, ...) with the matching
        targets (``y`` (n, time) labels or (n, time, ...) values), as a PyTorch loss on
        ``pack_padded_sequence(...).data``.
    loss : str or callable
        Name in :data:`neurosim.nn.losses.LOSSES` or ``loss(outputs, targets) -> Tensor``.
    optimizer : str or Optimizer
        ``"sgd"``, ``"adam"``, ``"adamw"``, ``"rmsprop"`` (built with ``lr`` and
        ``optimizer_options``) or an optimiser already made over ``model.parameters()``.
    epochs : int
    batch_size : int
        For array ``X`` (32 by default); a source of batches makes its own.
    shuffle : bool
        For array ``X`` (True by default): reshuffle the rows every epoch, by ``seed``. A
        source of batches shuffles by its own seed (``ArrayBatches(shuffle=True, seed=)``).
    validation : (X_val, y_val), (X_val, y_val, lengths_val) or a source of batches, optional
        Evaluated after every epoch (``val_loss`` and ``val_<metric>``). For batches the
        value is the mean of the batches' values weighted by their samples (valid steps with
        per-step outputs and lengths).
    metrics : sequence of str
        Names in :data:`METRICS`, evaluated per epoch on the training and validation sets.
    early_stopping : EarlyStopping, optional
    callbacks : sequence of callables
        ``callback(model, epoch, logs) -> bool``; a true return stops training.
    progress : bool
        A progress bar over epochs. Ctrl+C (with or without it) stops after the current epoch.
    blas_threads : {None, 1, "all"}
        BLAS threads during training. None: one thread for models under
        ``config.NN_BLAS_ONE_THREAD_BELOW`` (a million) parameters (their mini-batch products
        are too small to share, and extra threads only fight for the cores), all otherwise.
        Products from 2^19 multiply-adds run on neurosim's GEMM with Numba's threads
        (``NUMBA_NUM_THREADS``) whatever this says; it acts on the smaller and the stacked
        products BLAS still makes.
    store : path, optional
        A netCDF file: the history is appended to it epoch by epoch and returned opened from
        it (the same Dataset as in memory).
    checkpoint : path, optional
        A netCDF file rewritten after every epoch with the training state
        (:mod:`neurosim.nn.checkpoint`: parameters, optimiser moments and step count, the
        states of the shuffling and dropout generators, the history so far). With a source
        of batches the shuffling generator is the source's ``generator`` (ArrayBatches',
        DatasetBatches'); a source without one must repeat its batches by itself.
    resume : path, optional
        A checkpoint to continue from: a model built as the saved one, the same optimiser and
        ``epochs`` counting the saved ones; training goes on from the epoch after the saved
        one and takes the same steps as an uninterrupted run, and the history holds every
        epoch. (Early stopping starts afresh.)

    Returns
    -------
    xarray.Dataset
        ``loss`` and ``lr`` per ``step``; ``epoch_loss``, the metrics, ``val_*`` and ``time``
        (s) per ``epoch``; also stored as ``model.history``. A NaN or infinite loss raises
        :class:`TrainingDiverged` carrying the history so far.
    """
    dtype = getattr(model, "dtype", np.float64)
    source = None
    if is_batches(X):
        source = _reiterable(X, "X")
        _arrays_only(X, y, lengths, batch_size, shuffle)
    else:
        X = checks.array(X, "X", dtype=dtype)
        n = len(X)
        Y = X if y is None else _targets(y, n, "y")
        lengths = _lengths(lengths, X, model)
        batch_size = checks.integer(32 if batch_size is None else batch_size, "batch_size",
                                    low=1)
        shuffle = True if shuffle is None else bool(shuffle)
        steps_per_epoch = -(-n // batch_size)
    loss_fn = losses.loss(loss)
    metric_fns = {m: METRICS[checks.choice(m, "metric", tuple(METRICS))] for m in metrics}
    epochs = checks.integer(epochs, "epochs", low=1)
    if validation is not None:
        val_source, Xv, Yv, yv, lv = _validation(validation, dtype, model)
    if blas_threads is not None:
        checks.choice(blas_threads, "blas_threads", (1, "all"))
    run = record.Run(epochs, chunk=1, grow=("step", "epoch"), progress=progress, desc="fit",
                     unit="epoch", store=store)
    with run:
        if not model.built:
            model.build(X.shape[1:] if source is None else _input_shape(source, dtype))
        elif isinstance(model, Sequential) and source is None:
            model.check_input(X.shape, "X")
        per_batch_check = source is not None or lengths is not None
        if not per_batch_check:
            Y = _fitted_targets(getattr(model, "output_shape", None), loss, Y, y, "y")
        if validation is not None and val_source is None and lv is None:
            Yv = _fitted_targets(getattr(model, "output_shape", None), loss, Yv, yv,
                                 "validation y")
        opt = (optimizer if isinstance(optimizer, optim.Optimizer) else
               optim.optimizer(optimizer, model.parameters(), lr=lr, **optimizer_options))
        steps, history = {"loss": [], "lr": []}, {}     # kept for checkpoints
        generator = rng.generator(seed)
        if source is not None and isinstance(getattr(source, "generator", None),
                                             np.random.Generator):
            generator = source.generator       # the source's shuffle: saved in checkpoints
        first = taken = 0
        if resume is not None:
            last, saved, history = load_checkpoint(resume, model, opt, generator)
            steps = {k: list(v) for k, v in saved.items()}
            history = {k: list(v) for k, v in history.items()}
            first, taken = last + 1, len(steps["loss"])
            if first >= epochs:
                raise ValueError(f"resume: {resume} holds {first} epochs already; epochs="
                                 f"{epochs} leaves none to run")
        params = {"epochs": epochs, "optimizer": type(opt).__name__,
                  "loss": loss if isinstance(loss, str) else loss.__name__}
        size = batch_size if source is None else getattr(source, "batch_size", None)
        if size is not None:
            params["batch_size"] = size
        meta = {"family": "nn", "model": type(model).__name__, "params": params,
                "seed": seed, "attrs": {"stopped_early": False, "time_units": "s",
                                        **model.history_attrs()}}
        if early_stopping is not None:
            early_stopping.start()
        if blas_threads is None:
            count = sum(p.size for _, p in model.parameters())
            blas_threads = 1 if count < config.NN_BLAS_ONE_THREAD_BELOW else "all"
        limit = blas_single_thread if blas_threads == 1 else contextlib.nullcontext
        track_steps(run)
        names = None     # of the per-epoch records: the first epoch's logs
        if first:        # the resumed epochs' records, then on from the next epoch
            keep_steps(run, 0, **steps)
            for epoch in range(first):
                names = keep_epoch(run, epoch, {k: v[epoch] for k, v in history.items()}, names)
            run.done = first

        def epoch_batches():
            """One epoch's ``(x, Y, y, lengths)``: the source's, or the shuffled arrays'."""
            if source is not None:
                yield from batches(source, "X", dtype)
                return
            order = generator.permutation(n) if shuffle else np.arange(n)
            Xs, Ys = X[order], Y[order]
            Ls = None if lengths is None else lengths[order]
            for k in range(steps_per_epoch):
                sl = slice(k * batch_size, (k + 1) * batch_size)
                yield Xs[sl], Ys[sl], y, None if Ls is None else Ls[sl]

        with limit():
            for epoch, _ in run:
                start = time.perf_counter()
                model.train()
                step_loss, step_lr = [], []
                for xb, Yb, yb, lb in epoch_batches():
                    opt.zero_grad()
                    with np.errstate(over="ignore", invalid="ignore"):  # divergence: below
                        out, Yb = _outputs(model, xb, Yb, yb, lb, loss, per_batch_check,
                                           "y" if source is None else "X batch y")
                        value = loss_fn(out, Yb)
                    v = value.item()
                    step_loss.append(v)
                    step_lr.append(opt.lr)
                    if not np.isfinite(v):
                        keep_steps(run, taken, loss=step_loss, lr=step_lr)
                        model.history = run.dataset(**meta)
                        raise TrainingDiverged(
                            f"the loss became {v} at epoch {epoch}, step {len(step_loss) - 1}; "
                            "the history so far is in .history (try a smaller lr or "
                            "clip_norm)", model.history)
                    value.backward()
                    opt.step()
                if not step_loss:
                    raise ValueError(f"X gave no batches in epoch {epoch}")
                keep_steps(run, taken, loss=step_loss, lr=step_lr)
                taken += len(step_loss)
                logs = {"epoch_loss": float(np.mean(step_loss))}
                if metric_fns:
                    logs.update((evaluate_batches(model, loss_fn, metric_fns, source, dtype, loss)
                                 if source is not None else
                                 evaluate(model, loss_fn, metric_fns, X, Y, lengths, loss))[1])
                if validation is not None:
                    val_loss, val_metrics = (
                        evaluate_batches(model, loss_fn, metric_fns, val_source, dtype, loss,
                                         "validation") if val_source is not None else
                        evaluate(model, loss_fn, metric_fns, Xv, Yv, lv, loss, "validation y"))
                    logs["val_loss"] = val_loss
                    logs.update({f"val_{m}": v for m, v in val_metrics.items()})
                logs["time"] = time.perf_counter() - start
                stop = any(bool(cb(model, epoch, logs)) for cb in callbacks)
                names = keep_epoch(run, epoch, logs, names)
                if checkpoint is not None:
                    steps["loss"] += step_loss
                    steps["lr"] += step_lr
                    for k in names:
                        history.setdefault(k, []).append(logs[k])
                    save_checkpoint(checkpoint, model, opt, epoch, generator, steps, history)
                if early_stopping is not None and early_stopping(model, epoch, logs):
                    stop = meta["attrs"]["stopped_early"] = True
                if stop:
                    run.stop()
    if early_stopping is not None and early_stopping.restore_best and \
            early_stopping.best_state is not None:
        model.load_state(early_stopping.best_state)
    model.history = run.dataset(**meta)
    return model.history


def _outputs(model, x, Y, y, lengths, loss, check, name):
    """The model's outputs for ``x`` and the targets ``Y``, both at the valid steps only when
    the outputs are per step and ``lengths`` are given (:func:`masked`); ``check``: fit the
    targets to the outputs (:func:`_fitted_targets`)."""
    out = forward(model, x, lengths)
    out, Y = masked(out, Y, step_mask(lengths, out, x), name)
    if check:
        Y = _fitted_targets(out.shape[1:], loss, Y, y, name)
    return out, Y


def evaluate(model, loss_fn, metric_fns, X, Y, lengths=None, loss=None, name="y"):
    """``loss_fn`` and each of ``metric_fns`` of ``model``'s outputs for ``X`` against ``Y``
    (evaluation mode): ``(loss, {name: value})``. With ``lengths`` (per-step outputs: only the
    valid steps count) the targets are fitted to the outputs for the loss named ``loss``."""
    out = predict(model, X, lengths=lengths)
    if lengths is not None:
        out, Y = masked(out, Y, step_mask(lengths, out, X), name)
        Y = _fitted_targets(out.shape[1:], loss, Y, Y, name)
    with no_grad():
        value = loss_fn(Tensor(out), Y).item()
    return value, {m: f(out, Y) for m, f in metric_fns.items()}


def evaluate_batches(model, loss_fn, metric_fns, source, dtype, loss=None, name="X"):
    """:func:`evaluate` over a source of batches: the mean of the batches' loss and metrics
    weighted by their samples (valid steps where the outputs are per step and a batch has
    lengths). A source's shuffling ``generator`` is left as it was (evaluating does not move
    the training's order on)."""
    mode = model.training
    model.eval()
    generator = getattr(source, "generator", None)
    kept = generator.bit_generator.state if isinstance(generator, np.random.Generator) else None
    total, sums, count = 0.0, dict.fromkeys(metric_fns, 0.0), 0
    try:
        with no_grad():
            for x, Y, y, lengths in batches(source, name, dtype):
                out, Y = _outputs(model, x, Y, y, lengths, loss, True, f"{name} batch y")
                out = out.data
                total += loss_fn(Tensor(out), Y).item() * len(out)
                for m, f in metric_fns.items():
                    sums[m] += f(out, Y) * len(out)
                count += len(out)
    finally:
        model.train(mode)
        if kept is not None:
            generator.bit_generator.state = kept
    if not count:
        raise ValueError(f"{name} gave no batches to evaluate")
    return total / count, {m: v / count for m, v in sums.items()}


def track_steps(run, names=("loss", "lr")):
    """Declare a training history's records on ``run``: ``names`` per ``step`` (float64),
    and the ``step`` and ``epoch`` coordinates (the per-epoch logs follow at the first
    :func:`keep_epoch`)."""
    for name in names:
        run.track(name, ("step",))
    run.track("step", ("step",), np.int64)
    run.track("epoch", ("epoch",), np.int64)


def keep_steps(run, first, **values):
    """Keep the per-step ``values`` (equal lengths) of the steps from ``first`` on."""
    count = len(next(iter(values.values())))
    run.keep(step=np.arange(first, first + count), **values)


def keep_epoch(run, epoch, logs, names=None):
    """Keep one epoch's ``logs`` (name -> number) under ``names`` and return them; without
    ``names`` (the first epoch) the logs' names and dtypes become the per-epoch records."""
    if names is None:
        names = tuple(logs)
        for name in names:
            run.track(name, ("epoch",), np.asarray(logs[name]).dtype)
    run.keep(epoch=[epoch], **{name: [logs[name]] for name in names})
    return names
