"""Deep belief network (DBN): a stack of RBMs trained greedily, layer by layer.

Each RBM is trained on the hidden probabilities of the one below (Hinton, Osindero and Teh,
2006). Generation runs a Gibbs chain in the top RBM and passes its visible means down through
the lower RBMs' generative weights; classification puts a softmax (multinomial logistic)
regression on the top-level features.

Example::

    X, y = datasets.digits()
    dbn = DBN([64, 128, 64], seed=0).fit(X / 16, y, epochs=10)
    dbn.score(X / 16, y)
    frames = dbn.generate(steps=500, chains=16, every=10)   # Dataset (chain, step, visible)
"""
import numpy as np
import scipy.optimize as so
from scipy.special import log_softmax

from .. import backend as _backend
from .. import checks, record, rng
from ..backend import blas_single_thread
from ..estimator import Transformer
from .rbm import RBM


class SoftmaxRegression:
    """Multinomial logistic regression with an L2 penalty, fitted by L-BFGS (full batch).

    ``n_features`` inputs, ``n_classes`` classes; ``l2`` the penalty on the weights (not the
    bias) per training example. ``W`` float64 (n_features, n_classes), ``bias`` (n_classes,).
    """

    def __init__(self, n_features, n_classes, *, l2=1e-3):
        self.n_features = checks.integer(n_features, "n_features", low=1)
        self.n_classes = checks.integer(n_classes, "n_classes", low=2)
        self.l2 = checks.scalar(l2, "l2", low=0)
        self.W = np.zeros((self.n_features, self.n_classes))
        self.bias = np.zeros(self.n_classes)

    def _check(self, X, name="X"):
        return checks.array(X, name, shape=(None, self.n_features))

    def _labels(self, y, m):
        y = checks.labels(y, "y", n=m)
        if y.min() < 0 or y.max() >= self.n_classes:
            raise ValueError(f"y must hold class labels in [0, {self.n_classes}); got values from {y.min()} "
                             f"to {y.max()}")
        return y

    def fit(self, X, y, *, max_iter=500):
        """Fit to features ``X`` (m, n_features) and labels ``y`` (m,) in [0, n_classes). Returns self."""
        X = self._check(X)
        y = self._labels(y, X.shape[0])
        m, n, k = X.shape[0], self.n_features, self.n_classes
        Y = np.zeros((m, k))
        Y[np.arange(m), y] = 1.0

        def loss(theta):
            W = theta[:n * k].reshape(n, k)
            b = theta[n * k:]
            logp = log_softmax(X @ W + b, axis=1)
            P = np.exp(logp)
            f = -np.sum(Y * logp) / m + 0.5 * self.l2 * np.sum(W * W)
            G = (P - Y) / m
            return f, np.concatenate([(X.T @ G + self.l2 * W).ravel(), G.sum(0)])

        with blas_single_thread():
            res = so.minimize(loss, np.concatenate([self.W.ravel(), self.bias]), jac=True, method="L-BFGS-B",
                              options={"maxiter": checks.integer(max_iter, "max_iter", low=1)})
        self.W = res.x[:n * k].reshape(n, k).copy()
        self.bias = res.x[n * k:].copy()
        return self

    def predict_proba(self, X):
        """Class probabilities float64 (m, n_classes)."""
        return np.exp(log_softmax(self._check(X) @ self.W + self.bias, axis=1))

    def predict(self, X):
        """Most probable class int64 (m,)."""
        return np.argmax(self.predict_proba(X), axis=1)

    def score(self, X, y):
        """Accuracy (fraction of correct predictions) on ``X``, ``y``."""
        X = self._check(X)
        return float(np.mean(self.predict(X) == self._labels(y, X.shape[0])))


def _class_labels(labels, m):
    """``labels`` of ``m`` rows as int64 class labels >= 0 (whole-number floats accepted)."""
    y = checks.labels(labels, "labels", n=m)
    if y.min() < 0:
        raise ValueError(f"labels must be class labels >= 0; got {y.min()}")
    return y


class DBN(Transformer):
    """Deep belief network with layer sizes ``layers`` (visible first, at least two).

    Parameters
    ----------
    layers : sequence of int
        ``[n_visible, n_hidden_1, ..., n_top]``; layer ``l`` and ``l + 1`` form RBM ``l``.
    visible : {"bernoulli", "gaussian"}
        Type of the data units (the first RBM's visible layer); hidden layers are Bernoulli.
    sigma : float
        Standard deviation of Gaussian data units.
    seed : int, SeedSequence or None
        Seed of every layer's weights and streams.
    backend : ``"cpu"``, ``"cuda"`` or ``"auto"``
        Backend of every layer (see :class:`RBM`): on CUDA the layers' CD/PCD epochs and the
        top-level Gibbs chain of :meth:`generate` run on the GPU; the mean-field passes, the
        classifier and fine-tuning stay on the CPU.

    Attributes
    ----------
    rbms : list of RBM, bottom first. classifier : SoftmaxRegression or None.
    history : xarray.Dataset over ``layer`` and ``epoch`` after :meth:`pretrain`.

    A scikit-learn classifier (with labels) and transformer (the top-level features); see
    :mod:`neurosim.estimator`. ``classes_`` are ``0 .. n_classes - 1`` once it has a
    classifier.
    """

    family = "DBN"
    _estimator_kind = "classifier"

    def __sklearn_is_fitted__(self):
        """True once pre-trained or given a classifier."""
        return self.history is not None or self.classifier is not None

    def _sklearn_tags(self, tags):
        tags.target_tags.required = False     # fit(data) alone pre-trains
        return tags

    @property
    def n_features_in_(self):
        """Number of input features: ``layers[0]``."""
        return self.layers[0]

    @property
    def classes_(self):
        """The class labels ``0 .. n_classes - 1`` of the classifier (AttributeError without one)."""
        if self.classifier is None:
            raise AttributeError("this DBN has no classifier yet, hence no classes_")
        return np.arange(self.classifier.n_classes)

    def __init__(self, layers, *, visible="bernoulli", sigma=1.0, seed=None, backend="cpu"):
        if isinstance(layers, (str, bytes)) or not hasattr(layers, "__len__") or len(layers) < 2:
            raise ValueError(f"layers must be a sequence of at least two sizes [n_visible, n_hidden, ...]; got {layers!r}")
        self.layers = [checks.integer(n, f"layers[{i}]", low=1) for i, n in enumerate(layers)]
        self.visible = visible
        self.sigma = sigma
        self.seed = seed
        seq = rng.sequence(seed)
        self.backend = _backend.resolve(backend)
        self.rbms = [RBM(self.layers[i], self.layers[i + 1], visible=visible if i == 0 else "bernoulli",
                         sigma=sigma, seed=rng.child(seq, i), backend=self.backend)
                     for i in range(len(self.layers) - 1)]
        self.classifier = None
        self.history = None

    # ------------------------------------------------------------------ training

    def pretrain(self, data, epochs=10, *, store=None, **fit_kwargs):
        """Greedy layer-wise training: RBM 0 on ``data`` (m, n_visible), RBM ``l`` on the hidden
        probabilities of RBM ``l - 1``. ``epochs`` and ``fit_kwargs`` go to :meth:`RBM.fit`
        (an int, or a list with one value per layer for ``epochs``). :attr:`history` holds each
        layer's records over ``epoch`` (NaN past a layer's last epoch); ``store``: a netCDF path
        they are appended to layer by layer. Ctrl+C stops the layer being trained after its
        current epoch and trains no further layer (``interrupted = 1``). Returns self."""
        epochs = list(epochs) if isinstance(epochs, (list, tuple)) else [epochs] * len(self.rbms)
        if len(epochs) != len(self.rbms):
            raise ValueError(f"epochs must be an int or a list of {len(self.rbms)} ints; got {epochs!r}")
        n_ep = max(epochs)
        run = record.Run(len(self.rbms), chunk=1, sizes={"epoch": n_ep}, grow=("layer",), desc="DBN pretrain",
                         unit="layer", store=store)
        x = data
        with run:
            run.track("reconstruction_error", ("layer", "epoch"), np.float64)
            run.track("pseudo_likelihood", ("layer", "epoch"), np.float64,
                      {"long_name": "mean pseudo-log-likelihood (nats)", "units": "1"})
            run.track("layer", ("layer",), np.int64)
            for start, _ in run:   # one layer per chunk
                rbm = self.rbms[start]
                rbm.fit(x, epochs[start], **fit_kwargs)
                h = rbm.history
                rows = {}
                for name in ("reconstruction_error", "pseudo_likelihood"):
                    row = np.full(n_ep, np.nan)
                    if name in h:
                        row[:h.sizes["epoch"]] = h[name].values
                    rows[name] = row[None, :]
                run.keep(layer=[start], **rows)
                if h.attrs["interrupted"]:   # Ctrl+C went to the layer's own run: stop here too
                    run.interrupt()
                else:
                    x = rbm.transform(x)
        self.history = run.dataset(None, {"epoch": np.arange(1, n_ep + 1)}, family=self.family,
                                   model=type(self).__name__, params={"layers": self.layers}, seed=self.seed,
                                   backend=self.backend)
        return self

    def transform(self, v):
        """Top-level features: the upward mean-field pass, float64 (m, layers[-1])."""
        x = v
        for rbm in self.rbms:
            x = rbm.transform(x)
        return np.atleast_2d(x) if np.ndim(v) == 2 else x

    def fit_classifier(self, data, labels, *, n_classes=None, l2=1e-3):
        """Fit a softmax regression from the top-level features of ``data`` to ``labels`` (m,)."""
        F = np.atleast_2d(self.transform(data))
        y = _class_labels(labels, F.shape[0])
        k = int(y.max()) + 1 if n_classes is None else checks.integer(n_classes, "n_classes", low=2)
        self.classifier = SoftmaxRegression(F.shape[1], max(k, 2), l2=l2).fit(F, y)
        return self

    def fit(self, data, labels=None, epochs=10, *, l2=1e-3, **fit_kwargs):
        """:meth:`pretrain`, then :meth:`fit_classifier` when ``labels`` are given. Returns self."""
        if labels is not None:    # checked before the pretraining, not after it
            labels = _class_labels(labels, np.atleast_2d(checks.array(data, "data", ndim=(1, 2))).shape[0])
        self.pretrain(data, epochs, **fit_kwargs)
        if labels is not None:
            self.fit_classifier(data, labels, l2=l2)
        return self

    def _unpack(self, theta):
        """Split a flat parameter vector into [(W, c) per layer] and (W_out, b_out)."""
        layers, k = [], 0
        for r in self.rbms:
            nv, nh = r.W.shape
            W = theta[k:k + nv * nh].reshape(nv, nh)
            k += nv * nh
            layers.append((W, theta[k:k + nh]))
            k += nh
        n, m = self.classifier.W.shape
        return layers, (theta[k:k + n * m].reshape(n, m), theta[k + n * m:])

    def _pack(self):
        parts = []
        for r in self.rbms:
            parts += [r.W.ravel(), r.hidden_bias]
        return np.concatenate(parts + [self.classifier.W.ravel(), self.classifier.bias])

    def _loss(self, theta, X, Y, l2):
        """Mean cross-entropy of the upward network (sigmoid layers, softmax top) plus
        ``l2/2 |W|^2`` over every weight matrix, and its gradient (backpropagation)."""
        layers, (Wo, bo) = self._unpack(theta)
        s = self.rbms[0].sigma if self.rbms[0].gaussian else 1.0
        acts = [X / s]
        for W, c in layers:
            acts.append(1.0 / (1.0 + np.exp(-(acts[-1] @ W + c))))
        logp = log_softmax(acts[-1] @ Wo + bo, axis=1)
        m = X.shape[0]
        f = -np.sum(Y * logp) / m + 0.5 * l2 * (np.sum(Wo * Wo) + sum(np.sum(W * W) for W, _ in layers))
        delta = (np.exp(logp) - Y) / m
        grads = [(acts[-1].T @ delta + l2 * Wo).ravel(), delta.sum(0)]
        back = delta @ Wo.T
        for i in range(len(layers) - 1, -1, -1):
            W, c = layers[i]
            d = back * acts[i + 1] * (1.0 - acts[i + 1])
            grads = [(acts[i].T @ d + l2 * W).ravel(), d.sum(0)] + grads
            back = d @ W.T
        return f, np.concatenate(grads)

    def fine_tune(self, data, labels, *, max_iter=100, l2=1e-4):
        """Supervised fine-tuning: the upward (recognition) weights, hidden biases and the softmax
        top layer trained together by backpropagation of the cross-entropy (full batch, L-BFGS),
        starting from the pre-trained values (and from :meth:`fit_classifier` if there is no
        classifier yet). The weights are shared by the upward and downward passes, so fine-tuning
        also changes what :meth:`generate` produces (generate before fine-tuning for the
        pre-trained generative model); the visible biases are left as they are. Returns self."""
        if self.classifier is None:
            self.fit_classifier(data, labels, l2=l2)
        X, _ = self.rbms[0]._check_visible(data, "data")
        y = self.classifier._labels(labels, X.shape[0])
        Y = np.eye(self.classifier.n_classes)[y]
        l2 = checks.scalar(l2, "l2", low=0)
        with blas_single_thread():
            res = so.minimize(self._loss, self._pack(), args=(X, Y, l2), jac=True, method="L-BFGS-B",
                              options={"maxiter": checks.integer(max_iter, "max_iter", low=1)})
        layers, (Wo, bo) = self._unpack(res.x)
        for r, (W, c) in zip(self.rbms, layers):
            r.W = np.ascontiguousarray(W)
            r.hidden_bias = np.ascontiguousarray(c)
        self.classifier.W, self.classifier.bias = Wo.copy(), bo.copy()
        return self

    def _need_classifier(self):
        if self.classifier is None:
            raise ValueError("this DBN has no classifier yet: call fit(data, labels) or fit_classifier first")
        return self.classifier

    def predict_proba(self, v):
        """Class probabilities (m, n_classes) from the top-level features."""
        return self._need_classifier().predict_proba(np.atleast_2d(self.transform(v)))

    def predict(self, v):
        """Predicted classes int64 (m,)."""
        return self._need_classifier().predict(np.atleast_2d(self.transform(v)))

    def score(self, v, labels):
        """Classification accuracy on ``v``, ``labels``."""
        return self._need_classifier().score(np.atleast_2d(self.transform(v)), labels)

    # ------------------------------------------------------------------ generation

    def generate(self, steps=1000, chains=16, *, every=10, betas=None, initial=None, progress=False, store=None):
        """Generate data: Gibbs chains in the top RBM, then a downward mean-field pass.

        ``initial`` (chains, n_visible) optional data to start from (passed up to the top RBM's
        visible layer); ``betas`` (steps,) optional annealing schedule of the top chain. Returns a
        Dataset with ``v`` (chain, step, visible): the data-space means after every ``every``-th
        step, ``top`` (chain, step, unit): the top RBM's visible samples, and ``top_mean``: their
        means given the top hidden sample, which are passed down.

        Chunks, Ctrl+C and ``store`` (a netCDF path the records are appended to chunk by chunk)
        as for :meth:`RBM.sample`; each chunk is passed down as it is drawn.
        """
        top = self.rbms[-1]
        init = initial
        if initial is not None and len(self.rbms) > 1:
            x = initial
            for rbm in self.rbms[:-1]:
                x = rbm.transform(x)
            init = (np.atleast_2d(x) > 0.5).astype(np.float64)  # binary states of the top RBM's visible layer
        steps, chains, every, b, v, states = top._chains(steps, chains, every, betas, init)
        run = record.Run(steps, work=sum(r._gibbs_work(chains) for r in self.rbms), every=every,
                         sizes={"chain": chains, "visible": self.layers[0], "unit": top.n_visible},
                         grow=("step",), progress=progress, desc="DBN generate", unit="step", store=store)
        with run:
            gibbs = top._gibbs(v, b, every, states, run.chunk)
            run.track("v", ("chain", "step", "visible"), np.float64, {"long_name": "generated data (means)"})
            run.track("top", ("chain", "step", "unit"), np.float64,
                      {"long_name": "top RBM visible samples", **({} if top.gaussian else record.flags("binary", np.float64))})
            run.track("top_mean", ("chain", "step", "unit"), np.float64,
                      {"long_name": "top RBM visible means E[v | h], passed down"})
            run.track("step", ("step",), np.int64)
            for start, n in run:
                rec, out_v, out_m = gibbs.run(start, n)
                x = out_m.reshape(-1, top.n_visible)
                if x.shape[0]:
                    for rbm in reversed(self.rbms[:-1]):
                        x = rbm.visible_means(x)
                run.keep(v=x.reshape(chains, rec.size, self.layers[0]), top=out_v, top_mean=out_m, step=rec)
        return run.dataset(
            None, {"chain": np.arange(chains)}, family=self.family, model=type(self).__name__,
            params={"layers": self.layers, "steps": steps, "chains": chains, "every": every}, seed=self.seed,
            backend=self.backend)

    # ------------------------------------------------------------------ files

    def save(self, path):
        """Write every layer (and the classifier) to netCDF; read back with :meth:`load`."""
        data = {}
        for i, r in enumerate(self.rbms):
            data[f"W_{i}"] = ((f"unit_{i}", f"unit_{i + 1}"), r.W)
            data[f"bias_{i}_visible"] = (f"unit_{i}", r.visible_bias)
            data[f"bias_{i}_hidden"] = (f"unit_{i + 1}", r.hidden_bias)
        attrs = {"visible": self.visible, "sigma": self.rbms[0].sigma, "has_classifier": self.classifier is not None}
        if self.classifier is not None:
            n = len(self.rbms)
            data["classifier_W"] = ((f"unit_{n}", "class"), self.classifier.W)
            data["classifier_bias"] = ("class", self.classifier.bias)
            attrs["l2"] = self.classifier.l2
        ds = record.dataset(data, family=self.family, model=type(self).__name__,
                            params={"layers": self.layers}, seed=self.seed, backend=self.backend, attrs=attrs)
        return record.save(ds, path)

    @classmethod
    def load(cls, path, *, backend="cpu"):
        """Read a DBN written by :meth:`save` (a ValueError naming the file if it is not one),
        on ``backend``."""
        ds = record.open_model(path, cls.__name__, required=["layers", "visible", "sigma", "has_classifier"])
        layers = [int(x) for x in np.atleast_1d(ds.attrs["layers"])]
        need = [f"{name}_{i}{end}" for i in range(len(layers) - 1)
                for name, end in (("W", ""), ("bias", "_visible"), ("bias", "_hidden"))]
        if int(ds.attrs["has_classifier"]):
            need += ["classifier_W", "classifier_bias", "l2"]
        missing = [v for v in need if v not in ds.variables and v not in ds.attrs]
        if missing:
            raise ValueError(f"{path} lacks {', '.join(map(repr, missing))}, which a {cls.__name__} file with "
                             f"layers {layers} holds (truncated, or written by another version?)")
        dbn = cls(layers, visible=str(ds.attrs["visible"]), sigma=float(ds.attrs["sigma"]), seed=0, backend=backend)
        dbn.seed = rng.from_attr(ds.attrs.get("seed", "none"))
        for i, r in enumerate(dbn.rbms):
            r.W = np.ascontiguousarray(ds[f"W_{i}"].values, dtype=np.float64)
            r.visible_bias = np.ascontiguousarray(ds[f"bias_{i}_visible"].values, dtype=np.float64)
            r.hidden_bias = np.ascontiguousarray(ds[f"bias_{i}_hidden"].values, dtype=np.float64)
        if int(ds.attrs["has_classifier"]):
            W = ds["classifier_W"].values
            dbn.classifier = SoftmaxRegression(W.shape[0], W.shape[1], l2=float(ds.attrs["l2"]))
            dbn.classifier.W = np.array(W, dtype=np.float64)
            dbn.classifier.bias = np.array(ds["classifier_bias"].values, dtype=np.float64)
        return dbn
