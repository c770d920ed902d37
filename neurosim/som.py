"""Kohonen self-organising maps (zoo family KN).

A map is a ``rows x cols`` grid of units, each with a weight vector in the data space. Training
moves the best-matching unit (BMU) of each sample, and its grid neighbours, towards the sample:
online (one sample at a time, :func:`neurosim.kernels.som.train_online`) or batch (each epoch
every unit becomes the neighbourhood-weighted mean of the samples). Grids are rectangular or
hexagonal (unit spacing 1 on the plane), optionally toroidal.

Example::

    som = SOM(20, 20, 64, sigma=3.0, learning_rate=0.5, init="pca", seed=0)
    history = som.train(X, iterations=20_000)        # Dataset over dim "epoch"
    som.quantization_error(X), som.topographic_error(X), som.umatrix()
"""
import math

import numpy as np
import xarray as xr

from . import checks, record, rng
from .estimator import Transformer
from .kernels import som as _k

__all__ = ["SOM"]

_FAMILY = "KN"
_KINDS = {"gaussian": _k.GAUSSIAN, "bubble": _k.BUBBLE, "mexican_hat": _k.MEXICAN_HAT}


def _schedule(start, end, n, decay):
    """Values over ``n`` steps ``t = 0 .. n-1`` decaying from ``start``.

    ``asymptotic``: ``start / (1 + 2 t / n)`` (MiniSom's default, to a third at the end);
    ``linear``: from ``start`` to ``end``; ``exponential``: ``start (end / start)^(t / n)``.
    """
    t = np.arange(n, dtype=np.float64)
    if decay == "asymptotic":
        return start / (1.0 + t / (n / 2.0))
    if decay == "linear":
        return start + (end - start) * t / max(n - 1, 1)
    return start * (end / start) ** (t / max(n - 1, 1))


class SOM(Transformer):
    """Kohonen self-organising map.

    Also a scikit-learn clusterer and transformer (see :mod:`neurosim.estimator`):
    :meth:`fit` trains and returns the map, :meth:`predict` gives best-matching units,
    :meth:`transform` the distances to every unit's weights, :meth:`score` minus the
    quantisation error.

    Parameters
    ----------
    rows, cols : int >= 1
        Grid size (``rows * cols >= 2``).
    dim : int >= 1
        Width of the data vectors.
    topology : ``"rect"`` or ``"hex"``
        Rectangular grid (8 neighbours for the topographic error and U-matrix) or hexagonal
        (odd rows shifted by 1/2, 6 neighbours at distance 1).
    toroidal : bool
        Wrap the grid around in both directions (a hexagonal torus needs an even ``rows``).
    neighbourhood : ``"gaussian"``, ``"bubble"`` or ``"mexican_hat"``
        Units beyond ``d^2 > 27.6 sigma^2`` (where the Gaussian factor is below 1e-6) are not
        updated.
    sigma, learning_rate : float > 0
        Initial neighbourhood radius (grid units) and learning rate.
    decay : ``"asymptotic"``, ``"linear"`` or ``"exponential"``
        Schedule of both over training; the last two run to ``sigma_end`` and
        ``learning_rate_end`` (defaults 0.5 and 0.01 x learning_rate).
    init : ``"pca"``, ``"sample"`` or ``"random"``
        Initialisation used by :meth:`train` if the map has no weights yet. To start from
        given weights instead, build the map with :meth:`SOM.from_weights` or assign
        :attr:`weights` (both checked against the grid and ``dim``).
    seed : int >= 0, SeedSequence or None
        Seed of the initialisation and the sample order; None draws a fresh one, kept as
        ``seed`` and recorded in the history.
    """

    family = _FAMILY
    _estimator_kind, _fitted_attr = "clusterer", "W"

    @property
    def n_features_in_(self):
        """Number of input features: ``dim``."""
        return self.dim

    def __init__(self, rows, cols, dim, *, topology="rect", toroidal=False, neighbourhood="gaussian",
                 sigma=1.0, learning_rate=0.5, decay="asymptotic", sigma_end=None,
                 learning_rate_end=None, init="pca", seed=None):
        self.rows = checks.integer(rows, "rows", low=1)
        self.cols = checks.integer(cols, "cols", low=1)
        if self.rows * self.cols < 2:
            raise ValueError(f"the grid must have at least 2 units; got rows={rows}, cols={cols}")
        self.dim = checks.integer(dim, "dim", low=1)
        self.topology = checks.choice(topology, "topology", ("rect", "hex"))
        if not isinstance(toroidal, (bool, np.bool_)):
            raise TypeError(f"toroidal must be True or False; got {type(toroidal).__name__}")
        self.toroidal = bool(toroidal)
        if self.toroidal and self.topology == "hex" and self.rows % 2:
            raise ValueError(f"a toroidal hexagonal grid needs an even number of rows; got rows={rows}")
        self.neighbourhood = checks.choice(neighbourhood, "neighbourhood", tuple(_KINDS))
        self.sigma = checks.scalar(sigma, "sigma", low=0, low_open=True)
        self.learning_rate = checks.scalar(learning_rate, "learning_rate", low=0, low_open=True)
        self.decay = checks.choice(decay, "decay", ("asymptotic", "linear", "exponential"))
        self.sigma_end = 0.5 if sigma_end is None else checks.scalar(sigma_end, "sigma_end", low=0, low_open=True)
        self.learning_rate_end = (0.01 * self.learning_rate if learning_rate_end is None
                                  else checks.scalar(learning_rate_end, "learning_rate_end", low=0, low_open=True))
        self.init = checks.choice(init, "init", ("pca", "sample", "random"))
        self.seed = rng.fresh() if seed is None else seed  # recorded, so an unseeded map repeats
        rng.check(self.seed)  # bad or unrecordable: refused now
        # the seed's first child stream (as rng.generator draws it from a fresh seed), named
        # rather than spawned: a SeedSequence seed gives the same map however often it is used
        self._gen = np.random.default_rng(rng.child(self.seed, 0))
        # the weights, the grid's coordinates and their construction
        checks.memory(self.rows * self.cols * (8 * self.dim + 56),
                      f"SOM(rows={self.rows}, cols={self.cols}, dim={self.dim})")
        self.coords, self.period = self._grid()
        self.W = None
        self.history = None

    # ------------------------------------------------------------------ grid
    def _grid(self):
        r, c = np.divmod(np.arange(self.rows * self.cols), self.cols)
        if self.topology == "rect":
            xy = np.stack([c, r], axis=1).astype(np.float64)
            period = np.array([self.cols, self.rows], dtype=np.float64)
        else:
            h = math.sqrt(3.0) / 2.0
            xy = np.stack([c + 0.5 * (r % 2), r * h], axis=1).astype(np.float64)
            period = np.array([self.cols, self.rows * h])
        if not self.toroidal:
            period[:] = 0.0
        return np.ascontiguousarray(xy), period

    @property
    def n_units(self):
        """Number of units ``rows * cols``."""
        return self.rows * self.cols

    @property
    def _adjacent_d2(self):
        return 1.42 ** 2 if self.topology == "rect" else 1.01 ** 2

    @property
    def weights(self):
        """Weights as (rows, cols, dim) float64 (a view), or None before initialisation.

        Assigning an array of shape (rows, cols, dim) (or (rows * cols, dim), units row-major)
        sets them (a checked copy): :meth:`train` then starts from these weights instead of
        ``init``; see also :meth:`from_weights`."""
        return None if self.W is None else self.W.reshape(self.rows, self.cols, self.dim)

    @weights.setter
    def weights(self, weights):
        W = checks.array(weights, "weights", ndim=(2, 3))
        if W.shape not in ((self.rows, self.cols, self.dim), (self.n_units, self.dim)):
            raise ValueError(f"weights must have shape ({self.rows}, {self.cols}, {self.dim}) (or "
                             f"({self.n_units}, {self.dim})) to fit this map; got {W.shape}")
        self.W = np.array(W.reshape(self.n_units, self.dim))

    @classmethod
    def from_weights(cls, weights, **options):
        """A map that starts from the given ``weights`` (rows, cols, dim): the grid's size and
        the data width come from their shape; ``options`` are the other parameters of
        :class:`SOM` (``topology``, ``sigma``, ``learning_rate``, ``seed``, ...). :meth:`train`
        continues from these weights (a copy), e.g. from another map's, or from a layout of
        one's own::

            som = SOM.from_weights(np.random.default_rng(0).random((10, 10, 3)), sigma=2.0)
        """
        W = checks.array(weights, "weights", ndim=3)
        if W.shape[0] * W.shape[1] < 2:
            raise ValueError(f"weights must hold a grid of at least 2 units, shape (rows, cols, dim); "
                             f"got {W.shape}")
        som = cls(*W.shape, **options)
        som.weights = W
        return som

    def _params(self):
        return {"rows": self.rows, "cols": self.cols, "dim": self.dim, "topology": self.topology,
                "toroidal": self.toroidal, "neighbourhood": self.neighbourhood, "sigma": self.sigma,
                "learning_rate": self.learning_rate, "decay": self.decay, "sigma_end": self.sigma_end,
                "learning_rate_end": self.learning_rate_end, "init": self.init}

    def __repr__(self):
        return (f"SOM({self.rows}x{self.cols} {self.topology}{' torus' if self.toroidal else ''}, "
                f"dim={self.dim}, {self.neighbourhood})")

    def _data(self, data, name="data"):
        X = checks.array(data, name, ndim=2)
        if X.shape[1] != self.dim:
            raise ValueError(f"{name} must have shape (n_samples, {self.dim}) to match dim={self.dim}; got {X.shape}")
        return X

    def _trained(self):
        if self.W is None:
            raise ValueError("the map has no weights yet: call initialise(data) or train(data) first")

    # ------------------------------------------------------------------ initialisation
    def initialise(self, data, method=None):
        """Set the weights from ``data`` (n_samples, dim); returns ``self``.

        ``"pca"``: the grid spans the plane of the first two principal components around the
        mean, from -1 to +1 standard deviation of each (rows along the first component);
        ``"sample"``: random samples; ``"random"``: uniform in the data's bounding box.
        """
        X = self._data(data)
        method = checks.choice(self.init if method is None else method, "method", ("pca", "sample", "random"))
        n = self.n_units
        if method == "sample":
            W = X[self._gen.integers(0, X.shape[0], n)].copy()
        elif method == "random":
            lo, hi = X.min(axis=0), X.max(axis=0)
            W = lo + (hi - lo) * self._gen.random((n, self.dim))
        else:
            if self.dim < 2 or X.shape[0] < 2:
                raise ValueError(f"PCA initialisation needs dim >= 2 and at least 2 samples; got data of shape {X.shape}")
            mean = X.mean(axis=0)
            vals, vecs = np.linalg.eigh(np.cov(X, rowvar=False))
            order = np.argsort(vals)[::-1]
            pc1 = vecs[:, order[0]] * math.sqrt(max(vals[order[0]], 0.0))
            pc2 = vecs[:, order[1]] * math.sqrt(max(vals[order[1]], 0.0))
            a = np.linspace(-1, 1, self.rows) if self.rows > 1 else np.zeros(1)
            b = np.linspace(-1, 1, self.cols) if self.cols > 1 else np.zeros(1)
            A, B = np.meshgrid(a, b, indexing="ij")
            W = mean + A.reshape(-1, 1) * pc1 + B.reshape(-1, 1) * pc2
        self.W = np.ascontiguousarray(W, dtype=np.float64)
        return self

    # ------------------------------------------------------------------ training
    def train(self, data, iterations=None, *, mode="online", epochs=None, checkpoints=10,
              record_weights=False, progress=False, chunk=None, store=None):
        """Train the map on ``data`` (n_samples, dim) and return the training history.

        ``mode="online"``: ``iterations`` single-sample updates (default ``10 * n_samples``),
        samples in random order (successive shuffles of the data). ``mode="batch"``: ``epochs``
        batch epochs (default 20). ``sigma`` and ``learning_rate`` decay over the run (the
        batch algorithm has no learning rate). ``checkpoints`` (evenly spaced, the last
        at the end; 0 for none) store quantisation and topographic errors, and the weights
        when ``record_weights``.

        Returns a Dataset over dim ``epoch`` (checkpoint): ``iteration``, ``quantization_error``,
        ``topographic_error``, ``sigma``, ``learning_rate`` and optionally ``weights``
        (epoch, row, col, feature). It is also kept as ``self.history``. The map is
        initialised first (``init``) if it has no weights; a second call continues from the
        current weights with a fresh schedule.

        ``chunk``: updates (or epochs) per kernel call, default from ``config.CHUNK_WORK``
        (work: units x dim per update; samples x units x dim per epoch); chunking does not
        change the map. ``store``: a netCDF file the history is appended to checkpoint by
        checkpoint (the Dataset is then read lazily from it). Ctrl+C (set-up included) stops
        after the current chunk; the history then ends with a checkpoint where training
        stopped and says ``interrupted``.
        """
        X = self._data(data)
        mode = checks.choice(mode, "mode", ("online", "batch"))
        checkpoints = checks.integer(checkpoints, "checkpoints", low=0)
        if mode == "online":
            if epochs is not None:
                raise ValueError("epochs is for mode='batch'; give iterations for online training")
            total = 10 * X.shape[0] if iterations is None else checks.integer(iterations, "iterations", low=1)
            # the two schedules and the sample order, one value each per update
            checks.memory(40 * total, f"online training with iterations={total}")
            work = self.n_units * self.dim
        else:
            if iterations is not None:
                raise ValueError("iterations is for mode='online'; give epochs for batch training")
            total = 20 if epochs is None else checks.integer(epochs, "epochs", low=1)
            work = (X.shape[0] + self.n_units) * self.n_units * self.dim
            checks.memory(8 * self.n_units * (self.n_units + 2 * self.dim + 2),
                          f"batch training (mode='batch') of a {self.rows} x {self.cols} map (its "
                          f"neighbourhood matrix has (rows * cols)^2 entries)")
        run = record.Run(total, chunk=chunk, work=work, sizes={"row": self.rows, "col": self.cols,
                                                                "feature": self.dim},
                         grow=("epoch",), progress=progress, desc="SOM",
                         unit="it" if mode == "online" else "epoch", store=store)
        with run:
            if self.W is None:
                self.initialise(X)
            sig = _schedule(self.sigma, self.sigma_end, total, self.decay)
            lr = (_schedule(self.learning_rate, self.learning_rate_end, total, self.decay) if mode == "online"
                  else np.full(total, np.nan))  # the batch algorithm has no learning rate
            kind = _KINDS[self.neighbourhood]
            marks = np.unique(np.linspace(0, total, min(checkpoints, total) + 1).round().astype(np.int64)[1:]) \
                if checkpoints else np.zeros(0, dtype=np.int64)
            if mode == "online":
                reps = -(-total // X.shape[0])
                order = np.concatenate([self._gen.permutation(X.shape[0])
                                        for _ in range(reps)])[:total].astype(np.int64)
            if checkpoints:
                self._track_history(run, record_weights)
            rows, kept = 0, 0  # checkpoints kept; iterations (epochs) at the last one
            for first, n in run:
                cuts = [first, *marks[(marks > first) & (marks < first + n)].tolist(), first + n]
                for a, b in zip(cuts[:-1], cuts[1:]):  # pieces that end at the checkpoints
                    if mode == "online":
                        _k.train_online(self.W, X, order[a:b], sig[a:b], lr[a:b], np.int64(self.rows),
                                        np.int64(self.cols), self.topology == "hex", self.period, np.int64(kind))
                    else:
                        for e in range(a, b):
                            self._batch_epoch(X, sig[e], kind)
                    if b in marks:
                        self._checkpoint(run, X, rows, b, sig, lr, record_weights)
                        rows, kept = rows + 1, b
            if checkpoints and run.done and kept != run.done:  # stopped early: where it stopped
                self._checkpoint(run, X, rows, run.done, sig, lr, record_weights)
        self.history = run.dataset({}, None, family=_FAMILY, model="SOM", seed=self.seed,
                                   attrs={"main": "quantization_error topographic_error"},
                                   params={**self._params(), "mode": mode, "planned": total, "done": run.done})
        return self.history

    def _track_history(self, run, record_weights):
        run.track("epoch", "epoch", np.int64)
        run.track("iteration", "epoch", np.int64, {"long_name": "online updates (or batch epochs) done"})
        run.track("sigma", "epoch", np.float64, {"units": "1", "long_name": "neighbourhood radius (grid spacings)"})
        run.track("learning_rate", "epoch", np.float64)
        run.track("quantization_error", "epoch", np.float64,
                  {"units": "1", "long_name": "mean distance to the best-matching unit (the data's units)"})
        run.track("topographic_error", "epoch", np.float64,
                  {"units": "1", "long_name": "fraction of samples whose two best units are not neighbours"})
        if record_weights:
            run.track("weights", ("epoch", "row", "col", "feature"), np.float64)

    def _checkpoint(self, run, X, row, t, sig, lr, record_weights):
        """Keep the history's checkpoint ``row``, after ``t`` updates (epochs)."""
        first, second, dist = self._best_two(X)
        row = {"epoch": [row], "iteration": [t], "sigma": [sig[t - 1]], "learning_rate": [lr[t - 1]],
               "quantization_error": [dist.mean()], "topographic_error": [self._te_from(first, second)]}
        if record_weights:
            row["weights"] = self.weights[None]
        run.keep(**row)

    def _batch_epoch(self, X, sigma, kind):
        first, _, _ = self._best_two(X)
        sums = np.empty_like(self.W)
        counts = np.empty(self.n_units)
        _k.accumulate(X, first, sums, counts)
        H = np.empty((self.n_units, self.n_units))
        _k.neighbourhood_matrix(self.coords, self.period, float(sigma), np.int64(kind), H)
        num = H @ sums
        den = H @ counts
        ok = den > 1e-12
        self.W[ok] = num[ok] / den[ok, None]

    # ------------------------------------------------------------------ mapping and errors
    def _best_two(self, X):
        self._trained()
        n = X.shape[0]
        first = np.empty(n, dtype=np.int64)
        second = np.empty(n, dtype=np.int64)
        dist = np.empty(n)
        _k.best_two(self.W, X, first, second, dist)
        return first, second, dist

    def _te_from(self, first, second):
        d = self.coords[first] - self.coords[second]
        d = np.abs(d)
        per = self.period
        for ax in range(2):
            if per[ax] > 0:
                d[:, ax] = np.minimum(d[:, ax], per[ax] - d[:, ax])
        return float(np.mean((d ** 2).sum(axis=1) > self._adjacent_d2))

    def bmu(self, data):
        """Best-matching unit (n_samples,) int64 of each row of ``data``, numbered row-major."""
        return self._best_two(self._data(data))[0]

    # ------------------------------------------------------------------ scikit-learn's names
    def fit(self, X, y=None, **train_kwargs):
        """:meth:`train` on ``X`` (n_samples, dim) (``train_kwargs`` go to it; ``y`` is
        ignored); returns ``self``."""
        self.train(X, **train_kwargs)
        return self

    predict = bmu

    def transform(self, X):
        """Euclidean distance (n_samples, rows * cols) from each row of ``X`` to every unit's
        weights (units numbered row-major)."""
        self._trained()
        X = self._data(X, "X")
        d2 = (X ** 2).sum(1)[:, None] - 2.0 * X @ self.W.T + (self.W ** 2).sum(1)[None, :]
        return np.sqrt(np.maximum(d2, 0.0))

    def score(self, X, y=None):
        """Minus the quantisation error on ``X`` (higher is better, as sklearn's scores)."""
        return -self.quantization_error(X)

    def winners(self, data):
        """Grid position (n_samples, 2) int64 ``(row, col)`` of each sample's best-matching unit."""
        b = self.bmu(data)
        return np.stack(np.divmod(b, self.cols), axis=1)

    def quantization_error(self, data):
        """Mean Euclidean distance from each sample to its best-matching unit's weights."""
        return float(self._best_two(self._data(data))[2].mean())

    def topographic_error(self, data):
        """Fraction of samples whose best and second-best units are not grid neighbours
        (8-neighbourhood on a rectangular grid, 6 on a hexagonal one)."""
        first, second, _ = self._best_two(self._data(data))
        return self._te_from(first, second)

    def umatrix(self):
        """U-matrix: mean weight distance of each unit to its grid neighbours, (row, col)."""
        self._trained()
        out = np.empty(self.n_units)
        _k.umatrix(self.W, self.coords, self.period, self._adjacent_d2, out)
        return xr.DataArray(out.reshape(self.rows, self.cols), dims=("row", "col"),
                            coords={"row": np.arange(self.rows), "col": np.arange(self.cols)},
                            name="umatrix", attrs={"long_name": "mean distance to neighbouring units"})

    def hit_map(self, data):
        """Number of samples (row, col) whose best-matching unit is each unit."""
        counts = np.bincount(self.bmu(data), minlength=self.n_units).reshape(self.rows, self.cols)
        return xr.DataArray(counts, dims=("row", "col"), name="hits")

    # ------------------------------------------------------------------ persistence
    def save(self, path):
        """Write the weights and parameters to netCDF; read back with :meth:`load`."""
        self._trained()
        ds = record.dataset({"weights": (("row", "col", "feature"), self.weights)}, None,
                            family=_FAMILY, model="SOM", params=self._params(), seed=self.seed)
        return record.save(ds, path)

    @classmethod
    def load(cls, path):
        """Read a map written by :meth:`save` (``ValueError`` naming the file for anything else)."""
        ds = record.open_model(path, "SOM", required=["weights", "rows", "cols", "dim", "topology", "toroidal",
                                                       "neighbourhood", "sigma", "learning_rate", "decay",
                                                       "sigma_end", "learning_rate_end", "init"])
        a = ds.attrs
        som = cls(int(a["rows"]), int(a["cols"]), int(a["dim"]), topology=str(a["topology"]),
                  toroidal=bool(a["toroidal"]), neighbourhood=str(a["neighbourhood"]), sigma=float(a["sigma"]),
                  learning_rate=float(a["learning_rate"]), decay=str(a["decay"]), sigma_end=float(a["sigma_end"]),
                  learning_rate_end=float(a["learning_rate_end"]), init=str(a["init"]),
                  seed=rng.from_attr(a.get("seed", "none")))
        if ds["weights"].shape != (som.rows, som.cols, som.dim):
            raise ValueError(f"{path}: weights of shape {ds['weights'].shape} do not fit a "
                             f"{som.rows} x {som.cols} map of dim {som.dim}")
        som.W = np.ascontiguousarray(ds["weights"].values.reshape(som.n_units, som.dim))
        return som
