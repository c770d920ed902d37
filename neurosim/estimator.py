"""The scikit-learn estimator API for the estimator-like families, without importing sklearn.

A family class that inherits :class:`Estimator` gets what ``sklearn.base.clone``,
``Pipeline`` and ``GridSearchCV`` need:

- ``get_params(deep=True)``: the constructor's arguments by name, read from its signature
  (arguments whose name starts with ``_`` are private and left out);
- ``set_params(**params)``: builds the model again from the merged arguments, so a new
  ``spectral_radius`` draws a new reservoir and a bad value is refused (a ``ValueError``
  naming it) with the model left as it was;
- ``fit_transform`` for the families that ``transform``; ``score`` (accuracy for
  classifiers, R^2 for regressors) where a family has none of its own;
- ``__sklearn_is_fitted__`` and ``__sklearn_tags__`` (the latter imports sklearn's tag
  classes when sklearn asks for them, never before).

Constructors keep validating their arguments (a bad argument fails where it is written) and
may store a checked or derived value under an argument's name (an ESN's ``units`` is the total
of a deep ESN's layer sizes). So that ``get_params`` still returns each argument exactly as it
was given (sklearn's ``clone`` checks identity), the constructor of every subclass is wrapped
to remember its arguments: ``get_params`` returns the argument as given while the attribute of
that name is the object the constructor left there, and the attribute itself once it has been
reassigned (``model.leak = 0.5``).

>>> from sklearn.base import clone
>>> from neurosim import ELM
>>> clone(ELM(200, ridge=1e-3)).get_params()["ridge"]
0.001
"""
import functools
import inspect

import numpy as np

_MISSING = object()


def _remember_arguments(init):
    """``init`` wrapped to store its arguments (as given) and the attributes it left under
    their names, in ``self._init_record``; ``inspect.signature`` still sees ``init``'s."""
    signature = inspect.signature(init)

    @functools.wraps(init)
    def wrapper(self, *args, **kwargs):
        init(self, *args, **kwargs)
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        self._init_record = {name: (value, self.__dict__.get(name, _MISSING))
                             for name, value in list(bound.arguments.items())[1:] if not name.startswith("_")}

    return wrapper


class Estimator:
    """Mixin: the scikit-learn estimator API over the constructor's arguments (see the module
    docstring).

    Class attributes a family sets: ``_estimator_kind`` ("classifier", "regressor",
    "transformer", "clusterer" or None; :meth:`_kind` may decide per instance) and
    ``_fitted_attr``, the attribute that is None until the model is fitted (None: the model is
    usable as built, e.g. an RBM can be sampled before training).
    """

    _estimator_kind = None
    _fitted_attr = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            cls.__init__ = _remember_arguments(cls.__dict__["__init__"])

    # -- parameters -------------------------------------------------------------------------
    @classmethod
    def _get_param_names(cls):
        """The constructor's public argument names, in signature order."""
        names = []
        for p in inspect.signature(cls.__init__).parameters.values():
            if p.kind == p.VAR_POSITIONAL:
                raise TypeError(f"{cls.__name__}'s constructor takes *args; an estimator's arguments "
                                "must be named")
            if p.name != "self" and p.kind != p.VAR_KEYWORD and not p.name.startswith("_"):
                names.append(p.name)
        return names

    def _param(self, name):
        given, left = getattr(self, "_init_record", {}).get(name, (_MISSING, _MISSING))
        current = self.__dict__.get(name, _MISSING)
        if given is not _MISSING and current is left:
            return given
        if current is _MISSING:
            raise AttributeError(f"{type(self).__name__} keeps no attribute {name!r} for its constructor "
                                 f"argument of that name")
        return current

    def get_params(self, deep=True):
        """The constructor's arguments as a dict ``{name: value}``; with ``deep``, also
        ``name__sub`` for arguments that are estimators themselves."""
        out = {}
        for name in self._get_param_names():
            value = self._param(name)
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                out.update({f"{name}__{k}": v for k, v in value.get_params().items()})
            out[name] = value
        return out

    def set_params(self, **params):
        """Set constructor arguments (``name__sub`` for a nested estimator's) and build the
        model again from them (a fitted model becomes unfitted, as a new one). Returns self.

        An unknown name or a value the constructor refuses raises, leaving the model as it was.
        """
        if not params:
            return self
        valid = self.get_params(deep=False)
        direct, nested = {}, {}
        for key, value in params.items():
            name, sep, sub = key.partition("__")
            if name not in valid:
                raise ValueError(f"Invalid parameter {name!r} for estimator {type(self).__name__}. "
                                 f"Valid parameters are: {sorted(valid)!r}.")
            if sep:
                nested.setdefault(name, {})[sub] = value
            else:
                direct[name] = value
        for name, sub in nested.items():
            direct.setdefault(name, valid[name]).set_params(**sub)
        fresh = type(self)(**{**valid, **direct})
        self.__dict__.clear()
        self.__dict__.update(fresh.__dict__)
        return self

    def __repr__(self):
        """``Class(arg=value, ...)`` for the arguments that differ from their defaults."""
        defaults = {p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()}
        shown = []
        for name, value in self.get_params(deep=False).items():
            default = defaults.get(name, inspect.Parameter.empty)
            same = default is not inspect.Parameter.empty and type(value) is type(default) and (
                value is default or (np.isscalar(value) and value == default))
            if not same:
                shown.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(shown)})"

    # -- what sklearn asks ------------------------------------------------------------------
    def _kind(self):
        """"classifier", "regressor", "transformer", "clusterer" or None for this instance."""
        return self._estimator_kind

    def __sklearn_is_fitted__(self):
        """True once the model is fitted (always, for models usable as built)."""
        return self._fitted_attr is None or getattr(self, self._fitted_attr, None) is not None

    def _sklearn_tags(self, tags):
        """Adjust sklearn's ``tags`` for this family (the default keeps them)."""
        return tags

    def __sklearn_tags__(self):
        """sklearn's ``Tags`` of this instance (imports sklearn: only sklearn calls this)."""
        from sklearn.utils import (ClassifierTags, InputTags, RegressorTags, Tags, TargetTags,
                                   TransformerTags)

        kind = self._kind()
        supervised = kind in ("classifier", "regressor")
        tags = Tags(estimator_type=kind if kind != "transformer" else None,
                    target_tags=TargetTags(required=supervised),
                    transformer_tags=TransformerTags(preserves_dtype=["float64"])
                    if hasattr(self, "transform") else None,
                    classifier_tags=ClassifierTags() if kind == "classifier" else None,
                    regressor_tags=RegressorTags() if kind == "regressor" else None,
                    requires_fit=self._fitted_attr is not None,
                    input_tags=InputTags())
        return self._sklearn_tags(tags)

    # -- shared methods ---------------------------------------------------------------------
    def _score(self, X, y):
        """Accuracy of ``predict(X)`` against labels ``y`` (a model fitted as a classifier: it
        has ``classes_``), else R^2 over all outputs."""
        from . import metrics

        p = np.asarray(self.predict(X))
        y = np.asarray(y)
        if y.shape[0] != p.shape[0]:
            raise ValueError(f"y must have {p.shape[0]} rows, one per row of X; got shape {y.shape}")
        if getattr(self, "classes_", None) is not None:
            return float(np.mean(y.reshape(p.shape) == p))
        return metrics.rsquare(np.asarray(y, dtype=float).reshape(p.shape), p)


class Transformer(Estimator):
    """:class:`Estimator` with ``fit_transform``, for the families that ``transform``."""

    def fit_transform(self, X, y=None, **fit_params):
        """``fit`` then ``transform`` the same ``X``; ``y`` goes to ``fit`` when it takes
        targets (its second argument is named ``y``, ``labels`` or ``targets``), and is
        ignored otherwise, as sklearn's unsupervised transformers do."""
        second = list(inspect.signature(self.fit).parameters)[1:2]
        if second and second[0] in ("y", "labels", "targets") and y is not None:
            return self.fit(X, y, **fit_params).transform(X)
        return self.fit(X, **fit_params).transform(X)


def _targets_array(y):
    """``y`` as an array, or a ValueError naming ``y`` (ragged nested lists and the like)."""
    try:
        return np.asarray(y)
    except ValueError as err:
        raise ValueError(f"y must be an array, one label or target row per row of X; could not "
                         f"convert it: {err}") from None


def class_labels(y, n):
    """``(classes, codes)`` of the class labels ``y`` given for ``n`` rows of X: the sorted
    distinct labels and each row's index among them (int64 (n,)). Any labels that sort (ints,
    strings); continuous values, NaN or a missing ``y`` are a ValueError naming ``y``."""
    if y is None:
        raise ValueError("y must hold one label per row of X: this model requires y to be passed, "
                         "but the target y is None")
    y = _targets_array(y)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D, one label per row of X; got shape {y.shape}")
    if y.shape[0] != n:
        raise ValueError(f"y must have {n} labels, one per row of X; got {y.shape[0]}")
    if np.iscomplexobj(y):
        raise TypeError(f"y must hold class labels; got an array of dtype {y.dtype}")
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)):
            raise ValueError("y must hold class labels; it holds NaN or inf")
        if np.any(y != np.round(y)):
            raise ValueError("y must hold class labels; got continuous values (use a regression "
                             "model, or integer labels)")
    classes, codes = np.unique(y, return_inverse=True)
    return classes, codes.astype(np.int64).reshape(n)


def readout_targets(y, n, task="auto"):
    """What a least-squares readout fits for targets ``y`` of ``n`` rows: ``(T, classes,
    flat)`` with ``T`` float64 (n, outputs): one-hot columns of ``classes`` when classifying
    (``task="classification"``, or ``"auto"`` and 1-D integer ``y``), else the values
    (``classes`` None, ``flat`` True when ``y`` was 1-D)."""
    if y is None:
        raise ValueError("y must be given: this model requires y to be passed, but the target y is None")
    y = _targets_array(y)
    if y.shape[:1] != (n,) or y.ndim > 2:
        raise ValueError(f"y must have shape ({n},) or ({n}, outputs), one of its rows per row of X; "
                         f"got {y.shape}")
    if task == "classification" or (task == "auto" and y.ndim == 1 and np.issubdtype(y.dtype, np.integer)):
        classes, codes = class_labels(y, n)
        T = np.zeros((n, classes.size))
        T[np.arange(n), codes] = 1.0
        return T, classes, False
    from . import checks

    T = checks.array(y, "y")
    return (T[:, None], None, True) if y.ndim == 1 else (T, None, False)


def decision_scores(out, classes):
    """sklearn's ``decision_function`` from a readout's columns ``out`` (n, outputs): for two
    ``classes`` the second column minus the first (n,), positive for ``classes[1]``; else
    ``out`` itself (one column per class, or per output)."""
    if classes is not None and len(classes) == 2:
        return out[:, 1] - out[:, 0]
    return out
