"""The perceptron (P; Rosenblatt 1958): one threshold unit ``yhat = step(w . x + b)``.

Two ways to train it: Rosenblatt's error-correction rule (a compiled kernel, online, which
stops at the first epoch without mistakes and, by the perceptron convergence theorem, gets
there after at most ``(R / gamma)^2`` updates on data separable with margin ``gamma``), or
gradient descent on the logistic loss (the same unit read as logistic regression, trained with
:mod:`neurosim.nn`). Neither can learn XOR: no line separates its classes.
"""
import numpy as np

from .. import checks, record, rng
from ..estimator import Estimator, class_labels
from ..kernels import feedforward as _k
from ..nn.layers import Dense, Sequential
from ..nn.train import fit as _nn_fit


def _labels(y, n):
    """``(classes, codes)`` for the labels ``y`` of ``n`` rows: two classes (0 and 1, or any
    two labels, the larger one coded 1), codes int64 0/1; or a ValueError."""
    classes, codes = class_labels(y, n)
    if classes.size > 2:
        raise ValueError(f"y must hold labels 0 and 1 (or any two labels); got {classes.size} classes: "
                         f"{classes[:10]}. Only binary classification is supported by one threshold unit")
    if classes.size < 2:
        if not (np.issubdtype(classes.dtype, np.number) and classes[0] in (0, 1)):
            raise ValueError(f"y must hold labels 0 and 1 (or any two labels); got one class: {classes}")
        codes = (np.asarray(y) == 1).astype(np.int64)   # one of the unit's own outputs
        classes = np.array([0, 1], dtype=classes.dtype)
    return classes, codes


def _no_errors(model, epoch, logs):
    """Training callback: stop once every training sample is classified correctly."""
    return logs["accuracy"] == 1.0


class Perceptron(Estimator):
    """A single threshold unit on ``n_inputs`` features.

    Parameters
    ----------
    n_inputs : int, optional
        Number of features; taken from the first :meth:`fit` when not given.
    learning_rate : float
        Step size of either rule (> 0). Rosenblatt's rule from zero weights does the same
        mistakes for every step size; only the scale of ``weights_`` changes.
    seed : int, optional
        Seed of the order in which samples are visited.

    Attributes
    ----------
    classes_ : ndarray (2,)
        The two labels; the unit's output 1 means ``classes_[1]`` (``[0, 1]`` for 0/1 labels).
    n_features_in_ : int
        Number of features seen by :meth:`fit`.
    weights_ : ndarray (n_inputs,)
    bias_ : float
    converged_ : bool
        Whether training ended with an epoch that made no mistake.
    history_ : xarray.Dataset
        Per ``epoch``: ``errors`` (mistakes during the epoch for Rosenblatt's rule, training
        errors after it for the gradient rule) and, for the gradient rule, ``loss``.
    """

    family = "P"
    _estimator_kind, _fitted_attr = "classifier", "weights_"
    weights_ = bias_ = converged_ = history_ = None   # until fit

    def _sklearn_tags(self, tags):
        tags.classifier_tags.multi_class = False
        return tags

    def __init__(self, n_inputs=None, *, learning_rate=1.0, seed=None):
        self.n_inputs = None if n_inputs is None else checks.integer(n_inputs, "n_inputs", low=1)
        self.learning_rate = checks.scalar(learning_rate, "learning_rate", low=0.0, low_open=True)
        self.seed = seed
        rng.to_attr(seed)  # a bad seed (or one a file cannot hold) fails here, not at fit

    def _X(self, X, fitting=False):
        width = self.n_inputs if fitting or self.weights_ is None else self.n_features_in_
        if width is None:
            return checks.array(X, "X", ndim=2)
        return checks.array(X, "X", shape=(None, width))

    def fit(self, X, y, epochs=100, rule="rosenblatt", shuffle=True, batch_size=1):
        """Train from zero weights on ``X`` (n, n_inputs) and labels ``y`` (n,) in {0, 1}.

        Parameters
        ----------
        epochs : int
            The most passes over the data; training stops at the first epoch without errors.
        rule : {"rosenblatt", "gradient"}
            Rosenblatt's rule ``w += lr (y - yhat) x`` (and ``b += lr (y - yhat)``), sample by
            sample; or SGD on the binary cross-entropy of ``sigmoid(w . x + b)``.
        shuffle : bool
            Visit the samples in a new seeded order every epoch (else in row order).
        batch_size : int
            Mini-batch size of the gradient rule (1: online, like Rosenblatt's).

        Returns
        -------
        self
        """
        X = self._X(X, fitting=True)
        classes, y = _labels(y, X.shape[0])
        epochs = checks.integer(epochs, "epochs", low=1)
        rule = checks.choice(rule, "rule", ("rosenblatt", "gradient"))
        batch_size = checks.integer(batch_size, "batch_size", low=1)
        n_in = X.shape[1]
        if rule == "rosenblatt":
            w = np.zeros(n_in + 1)
            errors = np.zeros(epochs, np.int64)
            done = _k.rosenblatt(X, y, w, self.learning_rate, epochs, bool(shuffle),
                                 rng.streams(self.seed, 1), errors)
            data = {"errors": ("epoch", errors[:done])}
            interrupted = False      # one kernel call, over in milliseconds
        else:
            model = Sequential(Dense(1, init="zeros"), input_shape=(n_in,))
            hist = _nn_fit(model, X, y[:, None].astype(np.float64), loss="bce_logits",
                           optimizer="sgd", lr=self.learning_rate, epochs=epochs,
                           batch_size=batch_size, shuffle=bool(shuffle), seed=self.seed,
                           metrics=("accuracy",), callbacks=(_no_errors,))
            dense = model.layers[0]
            w = np.append(dense.params["W"].data[:, 0], dense.params["b"].data[0])
            done = hist.sizes["epoch"]
            interrupted = bool(hist.attrs["interrupted"])     # Ctrl+C: the epochs so far
            accuracy, loss = ((hist["accuracy"].values, hist["epoch_loss"].values) if done
                              else (np.zeros(0), np.zeros(0)))
            errors = np.rint((1.0 - accuracy) * X.shape[0]).astype(np.int64)
            data = {"errors": ("epoch", errors), "loss": ("epoch", loss)}
        self.weights_, self.bias_ = w[:-1], float(w[-1])
        self.classes_, self.n_features_in_ = classes, n_in
        self.converged_ = bool(done and errors[done - 1] == 0)
        params = {"n_inputs": n_in, "learning_rate": self.learning_rate, "rule": rule,
                  "epochs": epochs, "shuffle": bool(shuffle)}
        if rule == "gradient":
            params["batch_size"] = batch_size
        self.history_ = record.dataset(
            data, {"epoch": np.arange(done)}, family=self.family, model="Perceptron",
            params=params, seed=self.seed, interrupted=interrupted,
            attrs={"converged": self.converged_})
        return self

    def decision_function(self, X):
        """``w . x + b`` for each row of ``X`` (n, n_inputs): array (n,)."""
        if self.weights_ is None:
            raise ValueError("the perceptron is not fitted yet; call fit first")
        return self._X(X) @ self.weights_ + self.bias_

    def predict(self, X):
        """Labels ``step(w . x + b)``: ``classes_[1]`` where positive, else ``classes_[0]``
        (int64 1 and 0 for 0/1 labels): array (n,)."""
        positive = self.decision_function(X) > 0.0          # (not fitted: a ValueError)
        return self.classes_[positive.astype(np.int64)]

    def score(self, X, y):
        """Fraction of the rows of ``X`` whose predicted label equals ``y`` (n,)."""
        return self._score(X, y)

    def save(self, path):
        """Write the fitted unit (``weights`` over ``feature``; ``bias``, ``converged`` and
        the parameters as attrs) to the netCDF file ``path``; returns ``path``."""
        if self.weights_ is None:
            raise ValueError("the perceptron is not fitted yet; call fit first")
        ds = record.dataset({"weights": ("feature", self.weights_), "classes": ("class", self.classes_)},
                            family=self.family, model="Perceptron", seed=self.seed,
                            params={"n_inputs": self.n_features_in_,
                                    "learning_rate": self.learning_rate, "bias": self.bias_,
                                    "converged": self.converged_})
        return record.save(ds, path)

    @classmethod
    def load(cls, path):
        """The perceptron that :meth:`save` wrote to ``path``; a file that is not one (not
        netCDF, truncated, another model's) is a ``ValueError`` naming the file."""
        ds = record.open_model(path, "Perceptron", required=["weights", "n_inputs", "bias",
                                                            "learning_rate", "converged"])
        n_inputs = int(ds.attrs["n_inputs"])
        if ds["weights"].shape != (n_inputs,):
            raise ValueError(f"{path}: weights of shape {ds['weights'].shape} for {n_inputs} "
                             "inputs (a damaged Perceptron file)")
        model = cls(n_inputs, learning_rate=float(ds.attrs["learning_rate"]),
                    seed=rng.from_attr(ds.attrs["seed"]))
        model.weights_ = ds["weights"].values.astype(np.float64)
        model.bias_ = float(ds.attrs["bias"])
        model.converged_ = bool(ds.attrs["converged"])
        model.classes_ = ds["classes"].values if "classes" in ds else np.array([0, 1])
        model.n_features_in_ = n_inputs
        return model


__all__ = ["Perceptron"]
