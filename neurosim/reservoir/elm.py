"""Extreme learning machines (Huang, Zhu and Siew 2006): a random, fixed hidden layer and output
weights by regularised least squares, in one solve.

``H = f(X Win + b)`` with ``Win`` (n_features, n_hidden) ~ N(0, weight_scale^2 / n_features) and
``b`` ~ U(-bias_scale, bias_scale); the readout is ridge regression on ``H``.
"""
import numpy as np

from .. import checks, record, rng
from ..estimator import Estimator, decision_scores, readout_targets
from ..kernels import reservoir as _k
from .esn import ACTIVATIONS
from ..readout import Ridge


class ELM(Estimator):
    """Extreme learning machine with ``n_hidden`` random units.

    ``activation`` ("tanh", "sigmoid", "relu", "identity"), ``weight_scale`` and ``bias_scale``
    set the random layer, ``ridge`` the readout's penalty, ``task`` "classification" (integer
    labels, one-hot targets, argmax prediction), "regression", or "auto" (integer 1-D targets
    are classes). Input weights are drawn from ``seed`` at the first :meth:`fit` (and again
    when a later fit has another number of features).

    After :meth:`fit`: ``n_features_in_``, and ``classes_`` (the labels, in the order of the
    readout's columns) when classifying, else None.
    """

    family = "ELM"
    _fitted_attr = "Wout"
    Win = b = Wout = bout = classes_ = None   # until fit

    def _kind(self):
        return {"classification": "classifier", "regression": "regressor"}.get(self.task)

    def __init__(self, n_hidden=500, *, activation="tanh", weight_scale=1.0, bias_scale=1.0, ridge=1e-6,
                 task="auto", seed=None):
        self.n_hidden = checks.integer(n_hidden, "n_hidden", low=1)
        self.activation = checks.choice(activation, "activation", tuple(ACTIVATIONS))
        self.weight_scale = checks.scalar(weight_scale, "weight_scale", low=0.0, low_open=True)
        self.bias_scale = checks.scalar(bias_scale, "bias_scale", low=0.0)
        self.ridge = checks.scalar(ridge, "ridge", low=0.0)
        self.task = checks.choice(task, "task", ("auto", "classification", "regression"))
        rng.sequence(seed)
        rng.to_attr(seed)   # a seed that a saved file could not hold is refused now, not at save
        self.seed = seed

    @property
    def params(self):
        """Scalar parameters (Dataset attrs, saving)."""
        return {"n_hidden": self.n_hidden, "activation": self.activation, "weight_scale": self.weight_scale,
                "bias_scale": self.bias_scale, "ridge": self.ridge, "task": self.task}

    def _X(self, X):
        if self.Win is None:
            return checks.array(X, "X", ndim=2)
        return checks.array(X, "X", shape=(None, self.Win.shape[0]))

    def hidden(self, X):
        """Hidden-layer activity H (N, n_hidden) for inputs X (N, n_features)."""
        if self.Win is None:
            raise ValueError("the ELM is not fitted yet; call fit first")
        X = self._X(X)
        H = X @ self.Win
        _k.elm_hidden(self.b, ACTIVATIONS[self.activation], H)
        return H

    def fit(self, X, y):
        """Fit on inputs X (N, n_features) and targets y: labels (N,) for classification, values
        (N,) or (N, n_outputs) for regression. Returns self."""
        X = checks.array(X, "X", ndim=2)
        T, self.classes_, self._flat = readout_targets(y, X.shape[0], self.task)
        (N, d), h = X.shape, self.n_hidden
        # the input weights, the hidden activity and the readout's Gram matrix and its factor
        checks.memory(8 * h * (d + N + 2 * h + 4), f"ELM(n_hidden={h}).fit on X of shape {X.shape}")
        if self.Win is None or self.Win.shape[0] != X.shape[1]:
            g = rng.generator(self.seed)
            d = X.shape[1]
            self.Win = g.normal(0.0, self.weight_scale / np.sqrt(d), size=(d, self.n_hidden))
            self.b = g.uniform(-self.bias_scale, self.bias_scale, size=self.n_hidden)
        readout = Ridge(self.ridge).fit(self.hidden(X), T)
        self.Wout, self.bout = readout.W, readout.b
        self.n_features_in_ = X.shape[1]
        return self

    def _readout(self, X):
        """Raw readout (N, n_outputs) (one column per class when classifying)."""
        if self.Wout is None:
            raise ValueError("the ELM is not fitted yet; call fit first")
        return self.hidden(X) @ self.Wout.T + self.bout

    def decision_function(self, X):
        """The readout (N, n_outputs): one column per class when classifying; for two
        classes, as sklearn's binary classifiers, one score (N,), positive for ``classes_[1]``
        (the second column minus the first)."""
        return decision_scores(self._readout(X), self.classes_)

    def predict(self, X):
        """Predicted labels (N,) when classifying, else values (N,) or (N, n_outputs)."""
        out = self._readout(X)
        if self.classes_ is not None:
            return self.classes_[np.argmax(out, axis=1)]
        return out[:, 0] if getattr(self, "_flat", False) else out

    def score(self, X, y):
        """Accuracy (classification) or R^2 (regression) on X, y."""
        return self._score(X, y)

    def evaluate(self, X, y):
        """Predictions and score as a Dataset: ``prediction`` and ``target`` along ``sample``."""
        p = self.predict(X)
        y = np.asarray(y)
        dims = ("sample",) if p.ndim == 1 else ("sample", "output")
        data = {"prediction": (dims, p), "target": (dims, y.reshape(p.shape))}
        score = self.score(X, y)
        return record.dataset(data, {"sample": np.arange(p.shape[0])}, family=self.family, model="ELM",
                              params=self.params, seed=self.seed,
                              attrs={"score": score,
                                     "score_name": "accuracy" if self.classes_ is not None else "r2"})

    def save(self, path):
        """Write the fitted model to netCDF; returns ``path``."""
        if self.Wout is None:
            raise ValueError("the ELM is not fitted yet; nothing to save")
        data = {"Win": (("feature", "hidden"), self.Win), "b": ("hidden", self.b),
                "Wout": (("output", "hidden"), self.Wout), "bout": ("output", self.bout)}
        if self.classes_ is not None:
            data["classes"] = ("output", self.classes_)
        ds = record.dataset(data, family=self.family, model="ELM", params=self.params, seed=self.seed,
                            attrs={"flat": getattr(self, "_flat", False)})
        return record.save(ds, path)

    @classmethod
    def load(cls, path):
        """Read a model written by :meth:`save`; a file that is not one (another model's, not
        netCDF, cut short) is a ValueError naming the file."""
        ds = record.open_model(path, "ELM", required=("Win", "b", "Wout", "bout", "n_hidden", "activation",
                                                      "weight_scale", "bias_scale", "ridge", "task", "seed"))
        a = ds.attrs
        m = cls(int(a["n_hidden"]), activation=a["activation"], weight_scale=a["weight_scale"],
                bias_scale=a["bias_scale"], ridge=a["ridge"], task=a["task"], seed=rng.from_attr(a["seed"]))
        m.Win, m.b = ds["Win"].values.copy(), ds["b"].values.copy()
        m.Wout, m.bout = np.ascontiguousarray(ds["Wout"].values), ds["bout"].values.copy()
        m.classes_ = ds["classes"].values.copy() if "classes" in ds else None
        m._flat = bool(a.get("flat", 0))
        m.n_features_in_ = m.Win.shape[0]
        return m
