"""The training loop: mini-batches, validation, early stopping, callbacks, and the history as
an ``xarray.Dataset``."""
import contextlib
import time

import numpy as np
import xarray as xr

from .. import checks, config, metrics, record, rng
from ..backend import blas_single_thread
from . import losses, optim
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


def predict(model, X, batch_size=256):
    """``model``'s outputs for ``X`` in evaluation mode, batch by batch, as an array."""
    X = checks.array(X, "X", dtype=model.dtype if hasattr(model, "dtype") else np.float64)
    mode = model.training
    model.eval()
    try:
        with no_grad():
            return np.concatenate([model(X[i:i + batch_size]).data
                                   for i in range(0, len(X), batch_size)])
    finally:
        model.train(mode)


def _targets(y, n, name):
    """Targets ``y`` checked (real, finite, one row per input row): integer labels as they
    are, anything else float64."""
    if y is None:
        return None
    y = checks.array(y, name, dtype=None)
    if y.ndim == 0 or len(y) != n:
        raise ValueError(f"{name} must have one row per row of the inputs ({n}); got shape {y.shape}")
    return y if np.issubdtype(y.dtype, np.integer) else y.astype(np.float64)


def _fitted_targets(model, loss, X, Y, y, name):
    """``Y`` as the model will be trained on it, checked against the (built) model's output
    shape for the losses named in :data:`neurosim.nn.losses.LOSSES`: for ``"cross_entropy"``
    1-D targets are class labels in ``[0, classes)`` (whole-number floats such as 2.0 are read
    as labels), others must have the outputs' shape; a ``ValueError`` naming ``name``."""
    out = getattr(model, "output_shape", None)
    if not isinstance(loss, str) or Y is None or out is None:
        return Y
    if loss == "cross_entropy" and Y.ndim == 1:
        Y = checks.labels(Y, name)
        k = out[-1]
        if Y.min() < 0 or Y.max() >= k:
            raise ValueError(f"{name} must hold class labels in [0, {k}) (the model has {k} outputs); got "
                             f"values from {Y.min()} to {Y.max()}")
        return Y
    if Y.shape[1:] != tuple(out):
        given = f"{name} is None, so the targets are X (as for an autoencoder), of shape" if y is None else \
            f"{name} has shape"
        want = f"(n, {', '.join(map(str, out))})" + (" or class labels (n,)" if loss == "cross_entropy" else "")
        raise ValueError(f"{given} {Y.shape}, but the model's outputs are {want} for loss={loss!r}")
    return Y


def fit(model, X, y=None, *, loss="cross_entropy", optimizer="adam", lr=1e-3, epochs=10,
        batch_size=32, shuffle=True, seed=None, validation=None, metrics=(), early_stopping=None,
        callbacks=(), progress=False, blas_threads=None, store=None, checkpoint=None, resume=None,
        **optimizer_options):
    """Train ``model`` on ``X`` (n, *input_shape) against ``y`` by mini-batch gradient descent.

    Parameters
    ----------
    loss : str or callable
        Name in :data:`neurosim.nn.losses.LOSSES` or ``loss(outputs, targets) -> Tensor``;
        with ``y=None`` the targets are ``X`` (auto-encoders).
    optimizer : str or Optimizer
        ``"sgd"``, ``"adam"``, ``"adamw"``, ``"rmsprop"`` (built with ``lr`` and
        ``optimizer_options``) or an optimiser already made over ``model.parameters()``.
    epochs, batch_size : int
    shuffle : bool
        Reshuffle the rows every epoch, by ``seed``.
    validation : (X_val, y_val), optional
        Evaluated after every epoch (``val_loss`` and ``val_<metric>``).
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
    store : path, optional
        A netCDF file: the history is appended to it epoch by epoch and returned opened from
        it (the same Dataset as in memory).
    checkpoint : path, optional
        A netCDF file rewritten after every epoch with the training state
        (:mod:`neurosim.nn.checkpoint`: parameters, optimiser moments and step count, the
        states of the shuffling and dropout generators, the history so far).
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
    X = checks.array(X, "X", dtype=dtype)
    n = len(X)
    Y = X if y is None else _targets(y, n, "y")
    loss_fn = losses.loss(loss)
    metric_fns = {m: METRICS[checks.choice(m, "metric", tuple(METRICS))] for m in metrics}
    epochs = checks.integer(epochs, "epochs", low=1)
    batch_size = checks.integer(batch_size, "batch_size", low=1)
    if validation is not None:
        Xv = checks.array(validation[0], "validation X", dtype=dtype)
        Yv = Xv if validation[1] is None else _targets(validation[1], len(Xv), "validation y")
    if blas_threads is not None:
        checks.choice(blas_threads, "blas_threads", (1, "all"))
    steps_per_epoch = -(-n // batch_size)
    run = record.Run(epochs, chunk=1, grow=("step", "epoch"), progress=progress, desc="fit",
                     unit="epoch", store=store)
    with run:
        if not model.built:
            model.build(X.shape[1:])
        elif isinstance(model, Sequential) and X.shape[1:] != model.input_shape:
            raise ValueError(f"X must have shape (n, {', '.join(map(str, model.input_shape))}) (the model's "
                             f"inputs); got {X.shape}")
        Y = _fitted_targets(model, loss, X, Y, y, "y")
        if validation is not None:
            Yv = _fitted_targets(model, loss, Xv, Yv, validation[1], "validation y")
        opt = (optimizer if isinstance(optimizer, optim.Optimizer) else
               optim.optimizer(optimizer, model.parameters(), lr=lr, **optimizer_options))
        steps, history = {"loss": [], "lr": []}, {}     # kept for checkpoints
        generator = rng.generator(seed)
        first = 0
        if resume is not None:
            last, saved, history = load_checkpoint(resume, model, opt, generator)
            steps = {k: list(v) for k, v in saved.items()}
            history = {k: list(v) for k, v in history.items()}
            first = last + 1
            if first >= epochs:
                raise ValueError(f"resume: {resume} holds {first} epochs already; epochs="
                                 f"{epochs} leaves none to run")
        meta = {"family": "nn", "model": type(model).__name__,
                "params": {"epochs": epochs, "batch_size": batch_size,
                           "optimizer": type(opt).__name__,
                           "loss": loss if isinstance(loss, str) else loss.__name__},
                "seed": seed, "attrs": {"stopped_early": False, "time_units": "s",
                                        **model.history_attrs()}}
        if early_stopping is not None:
            early_stopping.start()
        if blas_threads is None:
            size = sum(p.size for _, p in model.parameters())
            blas_threads = 1 if size < config.NN_BLAS_ONE_THREAD_BELOW else "all"
        limit = blas_single_thread if blas_threads == 1 else contextlib.nullcontext
        track_steps(run)
        names = None     # of the per-epoch records: the first epoch's logs
        if first:        # the resumed epochs' records, then on from the next epoch
            keep_steps(run, 0, **steps)
            for epoch in range(first):
                names = keep_epoch(run, epoch, {k: v[epoch] for k, v in history.items()}, names)
            run.done = first
        with limit():
            for epoch, _ in run:
                start = time.perf_counter()
                order = generator.permutation(n) if shuffle else np.arange(n)
                Xs, Ys = X[order], Y[order]
                model.train()
                step_loss = np.empty(steps_per_epoch)
                step_lr = np.empty(steps_per_epoch)
                for k in range(steps_per_epoch):
                    sl = slice(k * batch_size, (k + 1) * batch_size)
                    opt.zero_grad()
                    with np.errstate(over="ignore", invalid="ignore"):  # divergence: below
                        value = loss_fn(model(Xs[sl]), Ys[sl])
                    step_loss[k] = v = value.item()
                    step_lr[k] = opt.lr
                    if not np.isfinite(v):
                        keep_steps(run, epoch * steps_per_epoch, loss=step_loss[:k + 1],
                                   lr=step_lr[:k + 1])
                        model.history = run.dataset(**meta)
                        raise TrainingDiverged(
                            f"the loss became {v} at epoch {epoch}, step {k}; the history so "
                            "far is in .history (try a smaller lr or clip_norm)", model.history)
                    value.backward()
                    opt.step()
                keep_steps(run, epoch * steps_per_epoch, loss=step_loss, lr=step_lr)
                logs = {"epoch_loss": float(np.mean(step_loss))}
                if metric_fns:
                    logs.update(evaluate(model, loss_fn, metric_fns, X, Y)[1])
                if validation is not None:
                    val_loss, val_metrics = evaluate(model, loss_fn, metric_fns, Xv, Yv)
                    logs["val_loss"] = val_loss
                    logs.update({f"val_{m}": v for m, v in val_metrics.items()})
                logs["time"] = time.perf_counter() - start
                stop = any(bool(cb(model, epoch, logs)) for cb in callbacks)
                names = keep_epoch(run, epoch, logs, names)
                if checkpoint is not None:
                    steps["loss"] += list(step_loss)
                    steps["lr"] += list(step_lr)
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


def evaluate(model, loss_fn, metric_fns, X, Y):
    """``loss_fn`` and each of ``metric_fns`` of ``model``'s outputs for ``X`` against ``Y``
    (evaluation mode): ``(loss, {name: value})``."""
    out = predict(model, X)
    with no_grad():
        value = loss_fn(Tensor(out), Y).item()
    return value, {m: f(out, Y) for m, f in metric_fns.items()}


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
