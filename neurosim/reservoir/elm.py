"""Extreme learning machines (Huang, Zhu and Siew 2006): a random, fixed hidden layer and output
weights by regularised least squares, in one solve.

``H = f(X Win + b)`` with ``Win`` (n_features, n_hidden) ~ N(0, weight_scale^2 / n_features) and
``b`` ~ U(-bias_scale, bias_scale); the readout is ridge regression on ``H``.
"""
import numpy as np

from .. import checks, record, rng
from ..kernels import reservoir as _k
from .esn import ACTIVATIONS
from ..readout import Ridge


class ELM:
    """Extreme learning machine with ``n_hidden`` random units.

    ``activation`` ("tanh", "sigmoid", "relu", "identity"), ``weight_scale`` and ``bias_scale``
    set the random layer, ``ridge`` the readout's penalty, ``task`` "classification" (integer
    labels, one-hot targets, argmax prediction), "regression", or "auto" (integer 1-D targets
    are classes). Input weights are drawn from ``seed`` at the first :meth:`fit`.
    """

    family = "ELM"

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
        self.Win = self.b = self.Wout = self.bout = self.classes_ = None

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
        X = self._X(X)
        y = np.asarray(y)
        if y.shape[:1] != X.shape[:1]:
            raise ValueError(f"y must have {X.shape[0]} rows, one per row of X; got shape {y.shape}")
        classify = self.task == "classification" or (
            self.task == "auto" and y.ndim == 1 and np.issubdtype(y.dtype, np.integer))
        if self.Win is None:
            g = rng.generator(self.seed)
            d = X.shape[1]
            self.Win = g.normal(0.0, self.weight_scale / np.sqrt(d), size=(d, self.n_hidden))
            self.b = g.uniform(-self.bias_scale, self.bias_scale, size=self.n_hidden)
        if classify:
            if y.ndim != 1:
                raise ValueError(f"classification needs 1-D labels y (N,); got shape {y.shape}")
            self.classes_, codes = np.unique(y, return_inverse=True)
            T = np.zeros((y.size, self.classes_.size))
            T[np.arange(y.size), codes] = 1.0
        else:
            self.classes_ = None
            T = checks.array(y, "y", ndim=(1, 2))
            T = T[:, None] if T.ndim == 1 else T
            self._flat = y.ndim == 1
        readout = Ridge(self.ridge).fit(self.hidden(X), T)
        self.Wout, self.bout = readout.W, readout.b
        return self

    def decision_function(self, X):
        """Raw readout (N, n_outputs) (one column per class when classifying)."""
        if self.Wout is None:
            raise ValueError("the ELM is not fitted yet; call fit first")
        return self.hidden(X) @ self.Wout.T + self.bout

    def predict(self, X):
        """Predicted labels (N,) when classifying, else values (N,) or (N, n_outputs)."""
        out = self.decision_function(X)
        if self.classes_ is not None:
            return self.classes_[np.argmax(out, axis=1)]
        return out[:, 0] if getattr(self, "_flat", False) else out

    def score(self, X, y):
        """Accuracy (classification) or R^2 (regression) on X, y."""
        from .. import metrics
        p = self.predict(X)
        if self.classes_ is not None:
            return metrics.accuracy(np.asarray(y), p)
        return metrics.rsquare(np.asarray(y, dtype=float).reshape(p.shape), p)

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
        return m
