"""scikit-learn's estimator API on the estimator-like families (neurosim/estimator.py).

Perceptron, ELM and RBFNetwork learn from any (n_samples, n_features) data and go through
scikit-learn's own ``check_estimator`` suite (``parametrize_with_checks``); the checks they
fail by design are listed in :data:`EXPECTED_FAILURES` with the reason, and run as strict
xfails (one that starts passing fails here, so the list stays true). ESN, RBM, DBN and SOM
are built with their sizes (a reservoir, weights or a grid exist before any data), so the
suite's data checks, which feed every estimator data of their own widths, do not apply to
them: they run the suite's API checks (:data:`API_CHECKS`) and the tests below. Then
sklearn's tools on real tasks: ``GridSearchCV`` over an ESN's spectral radius, an RBM feeding
a ``LogisticRegression`` in a ``Pipeline`` on the bundled digits.
"""
import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")
from sklearn.base import clone, is_classifier, is_clusterer, is_regressor  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit, cross_val_score  # noqa: E402
from sklearn.neural_network import BernoulliRBM  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.utils import estimator_checks as ec  # noqa: E402
from sklearn.utils.validation import check_is_fitted  # noqa: E402

from neurosim import DBN, ELM, ESN, RBM, SOM, Perceptron, RBFNetwork, datasets  # noqa: E402
from neurosim.datasets.gates import logic_gate  # noqa: E402

# -- scikit-learn's suite -------------------------------------------------------------------
_WORDING = ("neurosim's own wording: a ValueError naming the argument, the expected shape and "
            "what was given, where sklearn matches its own sentence")
EXPECTED_FAILURES = {
    "check_do_not_raise_errors_in_init_or_set_params":
        "constructors check their arguments, so a bad one fails where it is written (DESIGN.md); "
        "set_params checks too and leaves the model as it was",
    "check_estimators_unfitted":
        "a model used before fit raises neurosim's ValueError ('... not fitted yet; call fit first'); "
        "sklearn's NotFittedError would mean importing sklearn",
    "check_n_features_in_after_fitting": _WORDING + " ('X has 1 features, but ... is expecting ...')",
    "check_fit2d_predict1d": _WORDING + " ('Reshape your data')",
    "check_estimators_empty_data_messages": _WORDING + " ('0 feature(s) (shape=(12, 0))')",
    "check_complex_data": "complex X is a TypeError (a wrong type), where sklearn expects a ValueError",
    "check_dtype_object": "object arrays are refused (a TypeError naming X), not converted element by "
                          "element",
    "check_supervised_y_2d": "a column y (n, 1) is refused as labels, or kept as one output of a regression "
                             "(predictions keep its shape); never raveled with a DataConversionWarning",
}
_ELM_WEIGHTS = {"check_dont_overwrite_parameters": "the learnt weights keep the zoo's names Win, b, Wout, "
                                                   "bout (as in saved files), without a trailing underscore"}
_RAW_READOUT = {"check_regressors_no_decision_function": "decision_function is the raw readout, defined "
                                                         "for regression too"}

CHECKED = [Perceptron(seed=0),
           ELM(20, task="classification", seed=0), ELM(20, task="regression", seed=0),
           RBFNetwork(10, task="classification", seed=0), RBFNetwork(10, task="regression", seed=0)]


def expected_failures(estimator):
    """The checks ``estimator`` fails by design, with the reason."""
    out = dict(EXPECTED_FAILURES)
    if isinstance(estimator, ELM):
        out.update(_ELM_WEIGHTS)
    if is_regressor(estimator):
        out.update(_RAW_READOUT)
    return out


with warnings.catch_warnings():      # "... does not inherit from BaseEstimator": by design
    warnings.filterwarnings("ignore", message=".*does not inherit from", category=UserWarning)
    _SUITE = ec.parametrize_with_checks(CHECKED, expected_failed_checks=expected_failures, xfail_strict=True)


@_SUITE
def test_sklearn_check_estimator(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(estimator)


# sklearn's API checks that do not feed the model data of their own width
API_CHECKS = (ec.check_estimator_cloneable, ec.check_estimator_repr, ec.check_get_params_invariance,
              ec.check_set_params, ec.check_parameters_default_constructible,
              ec.check_estimator_tags_renamed, ec.check_valid_tag_types, ec.check_mixin_order)
BUILT = {"ESN": lambda: ESN(30, n_inputs=2, seed=0), "RBM": lambda: RBM(6, 4, seed=0),
         "DBN": lambda: DBN([6, 4, 3], seed=0), "SOM": lambda: SOM(3, 4, 2, seed=0)}


@pytest.mark.parametrize("family", sorted(BUILT))
@pytest.mark.parametrize("check", API_CHECKS, ids=lambda c: c.__name__)
def test_sklearn_api_checks_on_models_built_with_their_sizes(family, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(family, BUILT[family]())


# -- the contract, family by family -----------------------------------------------------------
def _data(family):
    """(X, y) the family learns from: a series for the ESN, binary rows for the RBM/DBN."""
    g = np.random.default_rng(0)
    if family == "ESN":
        u = g.uniform(-1, 1, (120, 2))
        return u, u[:, 0] * u[:, 1]
    if family in ("RBM", "DBN"):
        X = (g.random((40, 6)) < 0.4).astype(float)
        return X, (X[:, 0] > 0).astype(np.int64)
    return g.random((60, 2)), None


@pytest.mark.parametrize("family", sorted(BUILT))
def test_fit_returns_self_keeps_the_arguments_and_clones_unfitted(family):
    model, (X, y) = BUILT[family](), _data(family)
    before = model.get_params()
    kwargs = {"epochs": 2} if family in ("RBM", "DBN") else {}
    fitted = model.fit(X, y, **kwargs) if y is not None and family != "RBM" else model.fit(X, **kwargs)
    assert fitted is model
    after = model.get_params()
    assert before.keys() == after.keys() and all(after[k] is before[k] for k in before)
    assert model.n_features_in_ == X.shape[1]
    check_is_fitted(model)
    twin = clone(model)
    assert twin is not model and twin.get_params().keys() == before.keys()
    if family in ("ESN", "SOM"):
        with pytest.raises(Exception, match="not fitted|fit first|NotFitted"):
            check_is_fitted(twin)
    back = pickle.loads(pickle.dumps(model))
    method = "predict" if family == "ESN" else "transform"
    kw = {"reset": True} if family == "ESN" else {}
    np.testing.assert_array_equal(getattr(back, method)(X, **kw), getattr(model, method)(X, **kw))


def test_tags_name_each_family_s_kind():
    assert is_classifier(Perceptron()) and is_classifier(ELM(task="classification"))
    assert is_regressor(ESN()) and is_regressor(RBFNetwork(task="regression"))
    assert is_clusterer(SOM(2, 2, 3)) and is_classifier(DBN([4, 3]))
    assert not (is_classifier(RBM(4, 3)) or is_regressor(RBM(4, 3)))
    assert not (is_classifier(ELM()) or is_regressor(ELM()))   # task="auto": decided by y


def test_get_params_returns_the_arguments_as_given():
    units = [20, 10]
    esn = ESN(units, bias=0.3, seed=4)
    params = esn.get_params()
    assert params["units"] is units and esn.units == 30      # the total stays the attribute
    assert params["bias"] == 0.3 and params["seed"] == 4 and "_weights" not in params
    som = SOM(2, 3, 4)                                     # seed=None draws a seed, kept as som.seed
    assert som.get_params()["seed"] is None and som.seed is not None
    elm = ELM(10)
    elm.ridge = 0.5                                        # a reassigned attribute is what counts
    assert elm.get_params()["ridge"] == 0.5 and clone(elm).ridge == 0.5
    assert repr(ELM(10, ridge=0.5)) == "ELM(n_hidden=10, ridge=0.5)"


def test_set_params_builds_the_model_again():
    esn = ESN(50, spectral_radius=0.9, seed=3)
    assert esn.set_params(spectral_radius=0.5) is esn
    rho = np.abs(np.linalg.eigvals(esn.W.toarray())).max()          # the reservoir was redrawn
    assert rho == pytest.approx(0.5, rel=1e-6)
    np.testing.assert_array_equal(esn.W.toarray(), ESN(50, spectral_radius=0.5, seed=3).W.toarray())
    with pytest.raises(ValueError, match=r"Invalid parameter 'radius' for estimator ESN.*spectral_radius"):
        esn.set_params(radius=0.5)
    with pytest.raises(ValueError, match="leak must be <= 1"):
        esn.set_params(leak=2.0)
    assert esn.leak == 1.0 and esn.get_params()["spectral_radius"] == 0.5   # left as it was
    rbm = RBM(5, 3, seed=0).set_params(n_hidden=7)
    assert rbm.W.shape == (5, 7) and rbm.hidden_bias.shape == (7,)


def test_scikit_learn_is_not_imported_by_neurosim():
    code = ("import sys, neurosim\n"
            "from neurosim import ESN, ELM, RBM, DBN, SOM, Perceptron, RBFNetwork\n"
            "from neurosim import estimator\n"
            "ELM(10, seed=0).fit([[0.0], [1.0], [2.0]], [0, 1, 1]).score([[0.0]], [0])\n"
            "assert not any(m == 'sklearn' or m.startswith('sklearn.') for m in sys.modules), 'sklearn'\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_perceptron_takes_any_two_labels():
    X, y = logic_gate("AND")
    names = np.array(["off", "on"])[y]
    p = Perceptron(seed=0).fit(X, names)
    assert list(p.classes_) == ["off", "on"]
    np.testing.assert_array_equal(p.predict(X), names)
    assert p.score(X, names) == 1.0
    np.testing.assert_array_equal(p.weights_, Perceptron(seed=0).fit(X, y).weights_)  # same unit
    assert list(Perceptron(seed=0).fit(X, y).classes_) == [0, 1]


def test_som_as_a_clusterer():
    X = np.random.default_rng(1).random((80, 3))
    som = SOM(3, 3, 3, seed=0).fit(X, iterations=400)
    np.testing.assert_array_equal(som.predict(X), som.bmu(X))
    D = som.transform(X)
    assert D.shape == (80, 9)
    np.testing.assert_array_equal(np.argmin(D, axis=1), som.bmu(X))
    np.testing.assert_allclose(D.min(axis=1).mean(), som.quantization_error(X), rtol=1e-12)
    assert som.score(X) == -som.quantization_error(X)
    with pytest.raises(ValueError, match=r"X must have shape \(n_samples, 3\)"):
        som.transform(X[:, :2])


# -- sklearn's tools on real tasks ------------------------------------------------------------
def test_grid_search_over_an_esn_s_spectral_radius():
    """Recall of i.i.d. input 6 steps back: a reservoir's memory of u[t - k] fades like
    rho^k, so rho = 0.1 keeps about 1e-6 of it (nothing to read out: R^2 near 0) while
    rho = 0.5 and 0.95 keep enough for a linear readout (Jaeger 2001)."""
    g = np.random.default_rng(0)
    u = g.uniform(-1, 1, 1500)
    k = 6
    X, y = u[k:, None], u[:-k]
    esn = ESN(100, input_scaling=0.5, connectivity=0.2, input_connectivity=1.0, ridge=1e-6, seed=1)
    radii = [0.1, 0.5, 0.95]
    search = GridSearchCV(esn, {"spectral_radius": radii}, cv=TimeSeriesSplit(3)).fit(X, y)
    scores = dict(zip(radii, search.cv_results_["mean_test_score"]))
    assert scores[0.1] < 0.1 and scores[0.5] > 0.95 and scores[0.95] > 0.9
    assert search.best_params_ == {"spectral_radius": 0.5}
    # the search's numbers are the ESN's own: fit on each earlier segment, score the next
    for radius in radii:
        own = [ESN(**{**esn.get_params(), "spectral_radius": radius}).fit(X[tr], y[tr]).score(X[te], y[te])
               for tr, te in TimeSeriesSplit(3).split(X)]
        assert np.mean(own) == pytest.approx(scores[radius], abs=1e-12)
    best = search.best_estimator_
    assert best.spectral_radius == 0.5 and best.Wout is not None and best is not esn and esn.Wout is None


def test_rbm_features_feed_a_logistic_regression_in_a_pipeline():
    """Digits (1200 to train, 597 to test): the RBM's hidden probabilities as features for a
    logistic regression score above 0.85, as well as scikit-learn's BernoulliRBM does in the
    same pipeline (100 hidden units, 10 epochs)."""
    X, y = datasets.digits()
    X = X / 16.0
    train, test = slice(0, 1200), slice(1200, None)
    pipe = Pipeline([("rbm", RBM(64, 100, seed=0)), ("clf", LogisticRegression(max_iter=2000))])
    pipe.fit(X[train], y[train], rbm__epochs=10, rbm__learning_rate=0.02, rbm__momentum=0.9, rbm__monitor=0)
    ours = pipe.score(X[test], y[test])
    sk = Pipeline([("rbm", BernoulliRBM(100, learning_rate=0.06, n_iter=10, random_state=0)),
                   ("clf", LogisticRegression(max_iter=2000))]).fit(X[train], y[train])
    assert ours > 0.85 and ours >= sk.score(X[test], y[test]) - 0.02
    assert pipe.named_steps["rbm"].history.sizes["epoch"] == 10
    fresh = clone(pipe)
    np.testing.assert_array_equal(fresh.named_steps["rbm"].W, RBM(64, 100, seed=0).W)   # unfitted


def test_cross_validation_of_an_elm_on_digits():
    X, y = datasets.digits()
    scores = cross_val_score(ELM(300, seed=0), X / 16.0, y, cv=3)
    assert scores.min() > 0.85
