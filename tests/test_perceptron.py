"""Perceptron (P): Rosenblatt's rule against a plain Python loop, the logic gates (XOR out of
reach), the perceptron convergence theorem's bound, the gradient rule, and bad input."""
import numpy as np
import pytest

from neurosim import rng
from neurosim.datasets.gates import GATES, logic_gate
from neurosim.deep.perceptron import Perceptron
from neurosim.kernels import rng as rng_kernels


def naive_rosenblatt(X, y, lr, epochs, shuffle, state):
    """Rosenblatt's rule in plain Python floats, with the kernel's visiting order."""
    n, d = X.shape
    w, b = [0.0] * d, 0.0
    order = np.arange(n)
    errors = []
    for _ in range(epochs):
        if shuffle:
            rng_kernels.shuffle(state, 0, order)
        count = 0
        for i in order:
            s = b
            for k in range(d):
                s += w[k] * float(X[i, k])
            yhat = 1 if s > 0.0 else 0
            if yhat != y[i]:
                delta = lr * (int(y[i]) - yhat)
                w = [w[k] + delta * float(X[i, k]) for k in range(d)]
                b += delta
                count += 1
        errors.append(count)
        if count == 0:
            break
    return np.array(w), b, np.array(errors)


@pytest.mark.kernel
@pytest.mark.parametrize("shuffle,separable", [(True, False), (False, False), (True, True)])
def test_kernel_matches_python_reference_bit_for_bit(shuffle, separable):
    g = np.random.default_rng(4)
    X = g.standard_normal((30, 4))
    y = (X @ [1.0, -2.0, 0.5, 1.0] > 0.3).astype(int) if separable else g.integers(0, 2, 30)
    p = Perceptron(learning_rate=0.3, seed=7).fit(X, y, epochs=40, shuffle=shuffle)
    w, b, errors = naive_rosenblatt(X, y, 0.3, 40, shuffle, rng.streams(7, 1))
    np.testing.assert_array_equal(p.weights_, w)
    assert p.bias_ == b
    np.testing.assert_array_equal(p.history_.errors.values, errors)
    assert p.converged_ == separable and (len(errors) < 40) == separable


@pytest.mark.parametrize("gate", ["AND", "OR", "NAND", "NOR"])
def test_learns_linearly_separable_gates(gate):
    X, y = logic_gate(gate)
    p = Perceptron(seed=0).fit(X, y)
    assert p.converged_ and p.history_.sizes["epoch"] <= 10
    assert p.history_.errors.values[-1] == 0 and p.history_.errors.values[0] > 0
    np.testing.assert_array_equal(p.predict(X), y)
    assert p.score(X, y) == 1.0
    np.testing.assert_array_equal(p.decision_function(X) > 0, y == 1)


@pytest.mark.parametrize("gate", ["XOR", "XNOR"])
def test_never_learns_xor(gate):
    X, y = logic_gate(gate)
    p = Perceptron(seed=0).fit(X, y, epochs=60)
    assert not p.converged_ and p.history_.sizes["epoch"] == 60
    assert np.all(p.history_.errors.values > 0)
    assert p.score(X, y) <= 0.75  # no line gets all four right


@pytest.mark.parametrize("seed", range(4))
def test_convergence_theorem_bounds_the_updates(seed):
    """Novikoff (1962): from zero weights, at most (R / gamma)^2 updates, with R the largest
    norm of the inputs (with the bias input 1) and gamma the margin of a unit-norm separator."""
    g = np.random.default_rng(seed)
    d, gamma = 5, 0.1
    w_star = g.standard_normal(d + 1)
    w_star /= np.linalg.norm(w_star)
    X = g.uniform(-1, 1, (400, d))
    Xa = np.hstack([X, np.ones((400, 1))])
    margin = Xa @ w_star
    keep = np.abs(margin) >= gamma
    X, Xa, y = X[keep], Xa[keep], (margin[keep] > 0).astype(int)
    R = np.linalg.norm(Xa, axis=1).max()
    p = Perceptron(learning_rate=0.5, seed=seed).fit(X, y, epochs=5000)
    updates = int(p.history_.errors.sum())
    assert p.converged_ and p.score(X, y) == 1.0
    assert 0 < updates <= (R / gamma) ** 2


def test_gradient_rule_learns_and():
    X, y = logic_gate("AND")
    p = Perceptron(learning_rate=1.0, seed=0).fit(X, y, epochs=500, rule="gradient")
    assert p.converged_ and p.score(X, y) == 1.0
    h = p.history_
    assert h.attrs["rule"] == "gradient" and h.attrs["family"] == "P"
    assert h.errors.values[-1] == 0 and h.loss.values[-1] < h.loss.values[0]
    xor = Perceptron(seed=0).fit(*logic_gate("XOR"), epochs=50, rule="gradient")
    assert not xor.converged_ and np.all(xor.history_.errors.values > 0)


@pytest.mark.parametrize("rule", ["rosenblatt", "gradient"])
def test_reproducible_by_seed(rule):
    g = np.random.default_rng(2)
    X = g.standard_normal((40, 3))
    y = g.integers(0, 2, 40)
    a, b, c = (Perceptron(seed=s).fit(X, y, epochs=20, rule=rule, batch_size=4)
               for s in (5, 5, 6))
    np.testing.assert_array_equal(a.weights_, b.weights_)
    np.testing.assert_array_equal(a.history_.errors, b.history_.errors)
    assert not np.array_equal(a.weights_, c.weights_)


def test_logic_gates_table():
    for name, outputs in GATES.items():
        X, y = logic_gate(name.lower())
        assert X.shape == (4, 2) and X.dtype == np.float64 and y.dtype == np.int64
        np.testing.assert_array_equal(y, outputs)
    X, y = logic_gate("XOR")
    np.testing.assert_array_equal(y, X[:, 0] != X[:, 1])
    with pytest.raises(ValueError, match="AND.*XNOR.*'IMPLY'"):
        logic_gate("IMPLY")


def test_bad_input():
    X, y = logic_gate("AND")
    with pytest.raises(ValueError, match="X must be 2-D"):
        Perceptron().fit(X[0], y)
    with pytest.raises(ValueError, match="finite"):
        Perceptron().fit(np.where(X == 1, np.nan, X), y)
    with pytest.raises(ValueError, match="labels 0 and 1"):
        Perceptron().fit(X, np.array([0, 1, 2, 1]))      # any two labels, not three
    with pytest.raises(ValueError, match="y must have 4 labels"):
        Perceptron().fit(X, y[:3])
    with pytest.raises(ValueError, match="epochs must be >= 1"):
        Perceptron().fit(X, y, epochs=0)
    with pytest.raises(ValueError, match="rule must be one of"):
        Perceptron().fit(X, y, rule="hebb")
    with pytest.raises(ValueError, match=r"X must have shape \(\*, 3\)"):
        Perceptron(3).fit(X, y)
    with pytest.raises(ValueError, match="learning_rate must be > 0"):
        Perceptron(learning_rate=0)
    with pytest.raises(ValueError, match="not fitted"):
        Perceptron().predict(X)
    p = Perceptron().fit(X, y)
    with pytest.raises(ValueError, match=r"X must have shape \(\*, 2\)"):
        p.predict(np.ones((3, 5)))


@pytest.mark.parametrize("fixture, epochs", [("ctrl_c", 1), ("ctrl_c_setup", 0)])
def test_ctrl_c_during_gradient_training_keeps_the_epochs_so_far(request, fixture, epochs):
    request.getfixturevalue(fixture)
    X = np.random.default_rng(0).standard_normal((40, 2))
    xor = (X[:, 0] * X[:, 1] > 0).astype(int)                # never learnt: no early end
    p = Perceptron(seed=0).fit(X, xor, epochs=50, rule="gradient")
    h = p.history_
    assert h.attrs["interrupted"] == 1 and h.sizes["epoch"] == epochs
    assert p.converged_ is False and p.weights_.shape == (2,)
