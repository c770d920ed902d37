"""The registered experiments: one point each of a sweep, holding the family knowledge.

An experiment is a function ``f(<grid and fixed parameters>, seed)`` that returns a Dataset of
0-d variables (one point of a phase diagram, a learning curve, an error map). Register your own
with :func:`experiment`; then ``sweep("name", ...)`` and sweep configs (``fn = "name"``) find it.
The built-in ones: :func:`hopfield_capacity` (Amit-Gutfreund-Sompolinsky capacity),
:func:`sk_energy` (SK annealing towards Parisi's -0.7633) and :func:`esn_error` (ESN
Mackey-Glass error map). Each derives its independent streams (patterns, cue noise, recall; ...)
as children of ``seed`` and passes the raw seed to the Dataset.
"""
import numpy as np

from .. import checks, record, rng

EXPERIMENTS = {}
"""Named experiments usable as ``fn`` (and in sweep configs): name -> function."""


def experiment(func):
    """Register ``func`` under its name in :data:`EXPERIMENTS` (usable as ``fn="name"``)."""
    EXPERIMENTS[func.__name__] = func
    return func


# -- built-in experiments -----------------------------------------------------------------------
@experiment
def hopfield_capacity(n_units, alpha, seed=0, *, rule="hebbian", flip=0.0, max_sweeps=50, cues=None):
    """One point of the Hopfield capacity phase diagram (Amit, Gutfreund, Sompolinsky 1985).

    ``P = max(1, round(alpha * n_units))`` random +-1 patterns are stored with ``rule``; each of
    the first ``cues`` patterns (default all P), with a fraction ``flip`` of its units flipped,
    is recalled asynchronously at T = 0 for at most ``max_sweeps`` sweeps. Patterns, cue noise
    and recall draw independent child streams of ``seed``.

    Returns a Dataset of 0-d variables: ``overlap`` (mean final overlap m with the cued
    pattern), ``overlap_std``, ``retrieved`` (fraction of cues with m >= 0.95), ``sweeps``
    (mean sweeps used) and ``converged`` (fraction of cues that reached a fixed point); attrs
    family ``HN`` and the parameters (``n_patterns`` = P).
    """
    from ..datasets import noisy, random_patterns
    from ..energy import HopfieldNetwork

    n = checks.integer(n_units, "n_units", low=2)
    alpha = checks.scalar(alpha, "alpha", low=0.0, low_open=True)
    flip = checks.scalar(flip, "flip", low=0.0, high=1.0)
    P = max(1, int(round(alpha * n)))
    m = P if cues is None else min(checks.integer(cues, "cues", low=1), P)
    s_patterns, s_cues, s_recall = (rng.child(seed, k) for k in range(3))
    xi = random_patterns(P, n, seed=s_patterns)
    net = HopfieldNetwork(n, rule=rule).store(xi)
    cue = noisy(xi[:m], flip, seed=s_cues) if flip > 0 else xi[:m]
    ds = net.recall(cue, record="final", max_sweeps=max_sweeps, seed=s_recall)
    final = ds.overlap.isel(sweep=-1).values[np.arange(m), np.arange(m)]
    data = {
        "overlap": ((), final.mean(), {"long_name": "mean final overlap m with the cued pattern", "units": "1"}),
        "overlap_std": ((), final.std(), {"long_name": "standard deviation of m over cues", "units": "1"}),
        "retrieved": ((), (final >= 0.95).mean(), {"long_name": "fraction of cues with m >= 0.95", "units": "1"}),
        "sweeps": ((), ds.sweeps.values.mean(), {"long_name": "mean sweeps used", "units": "1"}),
        "converged": ((), ds.converged.values.mean(), {"long_name": "fraction of cues at a fixed point", "units": "1"}),
    }
    params = {"n_units": n, "alpha": alpha, "n_patterns": P, "rule": rule, "flip": flip,
              "max_sweeps": max_sweeps, "cues": m}
    return record.dataset(data, family="HN", model="HopfieldNetwork", params=params, seed=seed)


PARISI = -0.7633
"""Ground-state energy per spin of the Sherrington-Kirkpatrick model as N -> infinity (Parisi)."""


@experiment
def sk_energy(n_units, sweeps, seed=0, *, reads=8, beta_hot=0.1, beta_cold=5.0, method="metropolis"):
    """One point of the SK annealing curve: energy per spin reached after ``sweeps`` sweeps.

    A Sherrington-Kirkpatrick instance of ``n_units`` spins (``J_ij ~ N(0, 1/N)``) is annealed
    by ``reads`` independent reads, each cooling geometrically from ``beta_hot`` to
    ``beta_cold`` in ``sweeps`` sweeps with ``method`` moves. Couplings and annealing draw
    independent child streams of ``seed``. The energy per spin falls with slower cooling
    towards Parisi's ground-state value -0.7633 (reached as N -> infinity).

    Returns a Dataset of 0-d variables: ``energy_per_spin`` (mean over reads of E / N; its attrs
    ``reference`` = -0.7633 draws Parisi's line in :func:`neurosim.viz.sweep_figure`),
    ``energy_per_spin_best`` (lowest read) and ``energy_per_spin_std`` (over reads); attrs
    family ``BM`` and the parameters.
    """
    from ..energy import IsingAnnealer, sk_couplings

    n = checks.integer(n_units, "n_units", low=2)
    sweeps = checks.integer(sweeps, "sweeps", low=1)
    reads = checks.integer(reads, "reads", low=1)
    s_couplings, s_anneal = rng.child(seed, 0), rng.child(seed, 1)
    annealer = IsingAnnealer(sk_couplings(n, seed=s_couplings), seed=s_anneal)
    ds = annealer.anneal(sweeps=sweeps, reads=reads, beta_range=(beta_hot, beta_cold), method=method)
    e = ds.energy.values / n
    parisi = {"reference": PARISI, "reference_label": "Parisi -0.7633"}
    data = {
        "energy_per_spin": ((), e.mean(), {"long_name": "mean final energy per spin over reads",
                                           "units": "1", **parisi}),
        "energy_per_spin_best": ((), e.min(), {"long_name": "lowest final energy per spin", "units": "1",
                                               **parisi}),
        "energy_per_spin_std": ((), e.std(), {"long_name": "standard deviation over reads", "units": "1"}),
    }
    params = {"n_units": n, "sweeps": sweeps, "reads": reads, "beta_hot": float(beta_hot),
              "beta_cold": float(beta_cold), "method": method}
    return record.dataset(data, family=annealer.family, model="IsingAnnealer", params=params, seed=seed)


@experiment
def esn_error(spectral_radius, leak, seed=0, *, n_units=200, n_train=2000, n_test=500, washout=100,
              ridge=1e-7, input_scaling=1.0):
    """One point of the ESN error map: test NRMSE of one-step-ahead Mackey-Glass prediction.

    The Mackey-Glass series (tau = 17, its history drawn from ``seed``) is scaled to [-1, 1]; an
    ESN of ``n_units`` leaky tanh units with the given ``spectral_radius`` and ``leak`` (reservoir
    drawn from ``seed``) is fitted by ridge regression (``ridge``) to predict x(t + 1) from x(t)
    over ``n_train`` steps (the first ``washout`` discarded) and tested on the next ``n_test``.

    Returns a Dataset of 0-d variables ``nrmse`` (test NRMSE, RMSE / std of the target),
    ``log10_nrmse`` and ``train_nrmse``; attrs family ``ESN`` and the parameters.
    """
    import warnings

    from ..datasets import mackey_glass
    from ..metrics import nrmse
    from ..reservoir import ESN
    from ..reservoir.esn import EchoStateWarning

    n_train = checks.integer(n_train, "n_train", low=2)
    n_test = checks.integer(n_test, "n_test", low=1)
    washout = checks.integer(washout, "washout", low=0, high=n_train - 1)
    s_series, s_esn = rng.child(seed, 0), rng.child(seed, 1)
    X = mackey_glass(n_train + n_test + 1, seed=int(s_series.generate_state(1)[0]))
    X = 2 * (X - X.min()) / (X.max() - X.min()) - 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EchoStateWarning)  # radii >= 1 are part of the map
        esn = ESN(n_units, leak=leak, spectral_radius=spectral_radius, input_scaling=input_scaling,
                  ridge=ridge, seed=s_esn)
    esn.fit(X[:n_train], X[1:n_train + 1], washout=washout)
    fitted = esn.predict(X[:n_train], reset=True)  # ends in the state the test part continues from
    err_train = nrmse(X[washout + 1:n_train + 1], fitted[washout:])
    err = nrmse(X[n_train + 1:], esn.predict(X[n_train:-1]))
    data = {
        "nrmse": ((), err, {"long_name": "test NRMSE of one-step-ahead prediction", "units": "1"}),
        "log10_nrmse": ((), np.log10(err), {"long_name": "log10 of the test NRMSE", "units": "1"}),
        "train_nrmse": ((), err_train, {"long_name": "training NRMSE (after washout)", "units": "1"}),
    }
    params = {"spectral_radius": float(spectral_radius), "leak": float(leak), "n_units": esn.units,
              "n_train": n_train, "n_test": n_test, "washout": washout, "ridge": float(ridge),
              "input_scaling": float(input_scaling)}
    return record.dataset(data, family="ESN", model="ESN", params=params, seed=seed)
