"""Radial basis function networks (RBF; Broomhead and Lowe 1988): Gaussian bumps around centres,
and a linear read-out of them.

The classic recipe is three steps, none of them by gradient: centres by k-means, widths from the
spacing of the centres, and output weights by ridge regression (:class:`neurosim.readout.Ridge`,
the read-out the reservoir families share). The :class:`RBF` layer
makes the same bumps a differentiable layer of :mod:`neurosim.nn`, with trainable centres and
widths, so the whole network can also be trained (or fine-tuned) end to end.

A Gaussian unit with centre ``c`` (d,) and width ``s`` responds to ``x`` (d,) with
``exp(-||x - c||^2 / (2 s^2))``.
"""
import numpy as np

from .. import checks, record, rng
from ..estimator import Estimator, decision_scores, readout_targets
from ..kernels import feedforward as _k
from ..nn.layers import Dense, Layer, Sequential
from ..nn.tensor import as_tensor, record as _record
from ..nn.train import fit as _nn_fit
from ..readout import Ridge


def kmeans(X, k, *, seed=None, iterations=100, tol=1e-4, init=None):
    """k-means clustering: k-means++ seeding, then Lloyd's iterations (compiled).

    Parameters
    ----------
    X : array_like (n, d)
    k : int
        Number of clusters, 1 <= k <= n.
    seed : int, optional
        Seed of the k-means++ draws.
    iterations : int
        The most Lloyd updates.
    tol : float
        Stop when the summed squared movement of the centres in one update is at most ``tol``
        times the mean variance of the features of ``X``.
    init : array_like (k, d), optional
        Initial centres instead of k-means++ (``seed`` then unused).

    Returns
    -------
    centers : ndarray (k, d)
        A centre left without points keeps its previous position.
    labels : ndarray int64 (n,)
        Index of each row's nearest centre.
    inertia : float
        Sum of squared distances of the rows to their centres.
    """
    X = checks.array(X, "X", ndim=2)
    k = checks.integer(k, "k", low=1, high=X.shape[0])
    iterations = checks.integer(iterations, "iterations", low=1)
    tol = checks.scalar(tol, "tol", low=0.0)
    if init is None:
        C = np.empty((k, X.shape[1]))
        _k.kmeans_plusplus(X, rng.streams(seed, 1), C)
    else:
        C = checks.array(init, "init", shape=(k, X.shape[1])).copy()
    labels = np.empty(X.shape[0], np.int64)
    inertia = np.empty(iterations + 1)
    done = _k.lloyd(X, C, labels, inertia, tol * float(np.mean(np.var(X, axis=0))))
    return C, labels, float(inertia[done - 1])


def nearest_widths(centers, neighbours=2):
    """Per-centre Gaussian widths: the mean distance to the ``neighbours`` nearest other centres.

    Parameters
    ----------
    centers : array_like (k, d), k >= 2
    neighbours : int
        How many nearest centres to average over (at most k - 1 are used).

    Returns
    -------
    ndarray (k,)
    """
    C = checks.array(centers, "centers", ndim=2)
    neighbours = checks.integer(neighbours, "neighbours", low=1)
    if C.shape[0] < 2:
        raise ValueError(f"nearest widths need at least 2 centers; got {C.shape[0]}")
    D = np.empty((C.shape[0], C.shape[0]))
    _k.pairwise_sqdist(C, C, D)
    np.fill_diagonal(D, np.inf)
    p = min(neighbours, C.shape[0] - 1)
    widths = np.sqrt(np.sort(D, axis=1)[:, :p]).mean(axis=1)
    if widths.min() == 0.0:
        raise ValueError("two centers coincide, so a nearest width is 0 (does X have fewer "
                         "distinct rows than centers?)")
    return widths


def rbf_features(X, centers, widths):
    """Gaussian responses ``exp(-||x_i - c_j||^2 / (2 s_j^2))``.

    Parameters
    ----------
    X : array_like (n, d)
    centers : array_like (k, d)
    widths : array_like (k,) or float, all > 0

    Returns
    -------
    ndarray (n, k)
    """
    X = checks.array(X, "X", ndim=2)
    C = checks.array(centers, "centers", shape=(None, X.shape[1]))
    s = np.broadcast_to(checks.array(widths, "widths", ndim=(0, 1)), (C.shape[0],))
    if s.min() <= 0:
        raise ValueError(f"widths must be > 0; got a minimum of {s.min()}")
    D = np.empty((X.shape[0], C.shape[0]))
    _k.pairwise_sqdist(X, C, D)
    return np.exp(-D / (2.0 * s * s))


def gaussian_rbf(x, centers, log_widths):
    """Differentiable Gaussian RBF responses, one op with an analytic backward.

    Parameters
    ----------
    x : Tensor (n, d)
    centers : Tensor (k, d)
    log_widths : Tensor (k,)
        ``log s``: the widths stay positive whatever the optimiser does.

    Returns
    -------
    Tensor (n, k)
        ``exp(-||x_i - c_j||^2 / (2 s_j^2))``.
    """
    x, centers, log_widths = as_tensor(x), as_tensor(centers), as_tensor(log_widths)
    X, C = x.data, centers.data.astype(x.dtype, copy=False)
    D = np.empty((X.shape[0], C.shape[0]), x.dtype)
    _k.pairwise_sqdist(X, C, D)
    inv = np.exp(-2.0 * log_widths.data).astype(x.dtype, copy=False)  # 1 / s^2
    out = np.exp(-0.5 * D * inv)

    def backward(g):
        A = g * out * inv  # d out / d D = -out inv / 2, and d D / d x = 2 (x - c)
        gx = A @ C - A.sum(axis=1)[:, None] * X if x.requires_grad else None
        gc = A.T @ X - A.sum(axis=0)[:, None] * C if centers.requires_grad else None
        gl = (A * D).sum(axis=0) if log_widths.requires_grad else None
        return gx, gc, gl
    return _record(out, (x, centers, log_widths), backward)


class RBF(Layer):
    """Gaussian radial basis layer: (batch, features) -> (batch, units), trainable centres and
    log-widths (parameters ``"centers"`` (units, features) and ``"log_widths"`` (units,)).

    Parameters
    ----------
    units : int
    width : float or array_like (units,)
        Initial widths (> 0).
    centers : array_like (units, features), optional
        Initial centres (e.g. from :func:`kmeans`); by default drawn from N(0, 1), which suits
        standardised inputs.
    """

    def __init__(self, units, *, width=1.0, centers=None):
        super().__init__()
        self.units = checks.integer(units, "units", low=1)
        width = checks.array(width, "width", ndim=(0, 1)).reshape(-1)
        if width.min() <= 0 or width.size not in (1, self.units):
            raise ValueError(f"width must be > 0, a float or of shape ({self.units},); got "
                             f"{width if width.size < 5 else width.shape}")
        self.width = np.broadcast_to(width, (self.units,))
        self.centers = None if centers is None else checks.array(centers, "centers", ndim=2)
        if self.centers is not None and self.centers.shape[0] != self.units:
            raise ValueError(f"centers must have {self.units} rows; got {self.centers.shape}")

    def _build(self, shape, generator, dtype):
        if len(shape) != 1:
            raise ValueError(f"needs flat inputs (features,); got per-sample shape {shape}")
        if self.centers is None:
            C = generator.standard_normal((self.units, shape[0]))
        elif self.centers.shape[1] != shape[0]:
            raise ValueError(f"centers have {self.centers.shape[1]} features but the inputs "
                             f"{shape[0]}")
        else:
            C = self.centers
        self.add_param("centers", C, dtype)
        self.add_param("log_widths", np.log(self.width), dtype)
        return (self.units,)

    def forward(self, x):
        return gaussian_rbf(x, self.params["centers"], self.params["log_widths"])

    def __repr__(self):
        return f"RBF({self.units})"


class RBFNetwork(Estimator):
    """Radial basis function network: k-means centres, Gaussian widths, least-squares read-out.

    Regression when ``y`` holds floats ((n,) or (n, outputs)); classification when ``y`` holds
    integer labels (n,): the read-out fits one-hot targets and :meth:`predict` takes the argmax
    (``task`` may say which, as for :class:`neurosim.reservoir.ELM`).

    Parameters
    ----------
    centers : int
        Number of Gaussian units (at most the number of training rows).
    width : "nearest" or float
        ``"nearest"``: each unit's width is the mean distance from its centre to the
        ``neighbours`` nearest other centres (:func:`nearest_widths`); a float: one width for all.
    neighbours : int
        See ``width``.
    ridge : float
        Penalty on the output weights (the bias is not penalised); solved by
        :class:`neurosim.readout.Ridge`, whose accuracy Gaussian features (often
        ill-conditioned) need.
    iterations : int
        The most Lloyd iterations of the k-means.
    task : "auto", "classification" or "regression"
        ``"auto"``: integer labels (n,) are classes, anything else values.
    seed : int, optional
        Seed of the k-means++ seeding.

    Attributes
    ----------
    centers_ : ndarray (centers, features)
    widths_ : ndarray (centers,)
    weights_ : ndarray (centers, outputs)
    bias_ : ndarray (outputs,)
    classes_ : ndarray or None
        The class labels (column order of the outputs) when classifying.
    inertia_ : float
        The k-means inertia of the centres on the training rows.
    n_features_in_ : int
        Number of features seen by :meth:`fit`.
    """

    family = "RBF"
    _fitted_attr = "weights_"
    centers_ = widths_ = weights_ = bias_ = classes_ = inertia_ = None   # until fit

    def _kind(self):
        return {"classification": "classifier", "regression": "regressor"}.get(self.task)

    def __init__(self, centers=20, *, width="nearest", neighbours=2, ridge=1e-8, iterations=100,
                 task="auto", seed=None):
        self.centers = checks.integer(centers, "centers", low=1)
        if width != "nearest":
            checks.scalar(width, 'width (a float or "nearest")', low=0.0, low_open=True)
        self.width = width
        self.neighbours = checks.integer(neighbours, "neighbours", low=1)
        self.ridge = checks.scalar(ridge, "ridge", low=0.0)
        self.iterations = checks.integer(iterations, "iterations", low=1)
        self.task = checks.choice(task, "task", ("auto", "classification", "regression"))
        rng.to_attr(seed)  # a bad seed (or one a file cannot hold) fails here, not at fit
        self.seed = seed
        self._flat = False

    @property
    def params(self):
        """Scalar parameters (Dataset attrs)."""
        return {"centers": self.centers, "width": self.width, "neighbours": self.neighbours,
                "ridge": self.ridge, "iterations": self.iterations, "task": self.task}

    def _X(self, X):
        if self.centers_ is None:
            return checks.array(X, "X", ndim=2)
        return checks.array(X, "X", shape=(None, self.centers_.shape[1]))

    def fit(self, X, y):
        """Place the centres, set the widths and solve the read-out on ``X`` (n, features) and
        ``y`` (labels (n,), or values (n,) or (n, outputs)). Returns self."""
        X = checks.array(X, "X", ndim=2)
        if self.centers > X.shape[0]:
            raise ValueError(f"centers ({self.centers}) must be at most the number of rows of X "
                             f"(n_samples={X.shape[0]})")
        T, self.classes_, self._flat = readout_targets(y, X.shape[0], self.task)
        self.centers_, _, self.inertia_ = kmeans(X, self.centers, seed=self.seed,
                                                 iterations=self.iterations)
        self.widths_ = (nearest_widths(self.centers_, self.neighbours) if self.width == "nearest"
                        else np.full(self.centers, float(self.width)))
        readout = Ridge(self.ridge).fit(self.features(X), T)
        self.weights_, self.bias_ = np.ascontiguousarray(readout.W.T), readout.b
        self.n_features_in_ = X.shape[1]
        return self

    def features(self, X):
        """Gaussian responses (n, centers) of the fitted units to ``X`` (n, features)."""
        if self.centers_ is None:
            raise ValueError("the RBF network is not fitted yet; call fit first")
        return rbf_features(self._X(X), self.centers_, self.widths_)

    def _readout(self, X):
        """Read-out (n, outputs): one column per class when classifying."""
        return self.features(X) @ self.weights_ + self.bias_

    def decision_function(self, X):
        """Read-out (n, outputs): one column per class when classifying; for two classes, as
        sklearn's binary classifiers, one score (n,), positive for ``classes_[1]``."""
        return decision_scores(self._readout(X), self.classes_)

    def predict(self, X):
        """Labels (n,) when classifying, else values (n,) or (n, outputs) like ``y``."""
        out = self._readout(X)
        if self.classes_ is not None:
            return self.classes_[np.argmax(out, axis=1)]
        return out[:, 0] if self._flat else out

    def score(self, X, y):
        """Accuracy (classification) or R^2 (regression) on ``X``, ``y``."""
        return self._score(X, y)

    def fine_tune(self, X, y, epochs=100, lr=1e-3, batch_size=32):
        """Train centres, widths and read-out together by gradient (Adam on the squared error
        to the same targets as :meth:`fit`), starting from the fitted network.

        Returns
        -------
        xarray.Dataset
            The training history of :func:`neurosim.nn.train.fit`.
        """
        if self.centers_ is None:
            raise ValueError("the RBF network is not fitted yet; call fit first")
        X = self._X(X)
        T, classes, _ = readout_targets(y, X.shape[0], self.task)
        if T.shape[1] != self.weights_.shape[1] or not np.array_equal(classes, self.classes_):
            raise ValueError("y must be like the y given to fit: the same classes, or the same "
                             "number of outputs")
        rbf = RBF(self.centers, width=self.widths_, centers=self.centers_)
        model = Sequential(rbf, Dense(T.shape[1]), input_shape=(X.shape[1],))
        model.layers[1].load_state({"W": self.weights_, "b": self.bias_})
        history = _nn_fit(model, X, T, loss="mse", lr=lr, epochs=epochs, batch_size=batch_size,
                          seed=self.seed)
        self.centers_ = rbf.params["centers"].data.copy()
        self.widths_ = np.exp(rbf.params["log_widths"].data)
        self.weights_ = model.layers[1].params["W"].data.copy()
        self.bias_ = model.layers[1].params["b"].data.copy()
        return history

    def to_dataset(self):
        """The fitted network as a Dataset: ``centers`` (center, feature), ``widths`` (center),
        ``weights`` (center, output), ``bias`` (output) and, when classifying, ``classes``."""
        if self.centers_ is None:
            raise ValueError("the RBF network is not fitted yet; call fit first")
        data = {"centers": (("center", "feature"), self.centers_),
                "widths": ("center", self.widths_),
                "weights": (("center", "output"), self.weights_), "bias": ("output", self.bias_)}
        if self.classes_ is not None:
            data["classes"] = ("output", self.classes_)
        return record.dataset(data, family=self.family, model="RBFNetwork", params=self.params,
                              seed=self.seed, attrs={"inertia": self.inertia_})

    def save(self, path):
        """Write :meth:`to_dataset` (and ``flat``: 1 when fitted to 1-D values) to the netCDF
        file ``path``; returns ``path``."""
        ds = self.to_dataset()
        ds.attrs["flat"] = int(self._flat)
        return record.save(ds, path)

    @classmethod
    def load(cls, path):
        """The fitted network that :meth:`save` wrote to ``path``; a file that is not one (not
        netCDF, truncated, another model's) is a ``ValueError`` naming the file."""
        ds = record.open_model(path, "RBFNetwork", required=[
            "centers", "widths", "weights", "bias", "width", "neighbours", "ridge",
            "iterations", "inertia", "flat"])
        width = ds.attrs["width"]
        net = cls(int(ds.attrs["centers"]), width=width if width == "nearest" else float(width),
                  neighbours=int(ds.attrs["neighbours"]), ridge=float(ds.attrs["ridge"]),
                  iterations=int(ds.attrs["iterations"]), task=str(ds.attrs.get("task", "auto")),
                  seed=rng.from_attr(ds.attrs["seed"]))
        k = net.centers
        shapes = {"centers": (k, None), "widths": (k,), "weights": (k, None), "bias": (None,)}
        for name, shape in shapes.items():
            found = ds[name].shape
            if len(found) != len(shape) or any(s is not None and s != f
                                               for s, f in zip(shape, found)):
                raise ValueError(f"{path}: {name} of shape {found} for {k} centers (a damaged "
                                 "RBFNetwork file)")
        net.centers_ = ds["centers"].values.astype(np.float64)
        net.widths_ = ds["widths"].values.astype(np.float64)
        net.weights_ = ds["weights"].values.astype(np.float64)
        net.bias_ = ds["bias"].values.astype(np.float64)
        if net.weights_.shape[1] != net.bias_.shape[0]:
            raise ValueError(f"{path}: weights {net.weights_.shape} and bias "
                             f"{net.bias_.shape} disagree (a damaged RBFNetwork file)")
        net.classes_ = ds["classes"].values if "classes" in ds else None
        net.inertia_ = float(ds.attrs["inertia"])
        net._flat = bool(ds.attrs["flat"])
        net.n_features_in_ = net.centers_.shape[1]
        return net


__all__ = ["RBFNetwork", "RBF", "kmeans", "nearest_widths", "rbf_features", "gaussian_rbf"]
