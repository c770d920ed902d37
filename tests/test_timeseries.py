"""Time-series generators: integrators against independent references and convergence orders."""
import numpy as np
import pytest

from neurosim.datasets import timeseries as ts


def naive_mg(history_fn, tau, T, dt, a=0.2, b=0.1, n=10):
    """Plain RK4 for the Mackey-Glass DDE on a grid of step dt (tau a multiple of dt), the
    delayed value at half steps linearly interpolated (2nd order in dt: use a small dt)."""
    nd = int(round(tau / dt))
    steps = int(round(T / dt))
    xs = np.empty(nd + steps + 1)
    xs[:nd + 1] = [history_fn(-tau + k * dt) for k in range(nd + 1)]
    f = lambda x, xd: a * xd / (1 + xd ** n) - b * x
    for i in range(nd, nd + steps):
        x, d0, d1 = xs[i], xs[i - nd], xs[i - nd + 1]
        k1 = f(x, d0)
        k2 = f(x + dt / 2 * k1, (d0 + d1) / 2)
        k3 = f(x + dt / 2 * k2, (d0 + d1) / 2)
        k4 = f(x + dt * k3, d1)
        xs[i + 1] = x + dt * (k1 + 2 * k2 + 2 * k3 + k4) / 6
    return xs[nd::int(round(1 / dt))]


def test_mackey_glass_matches_naive_reference():
    hist = np.full(17, 1.2)
    ours = ts.mackey_glass(41, history=hist, substeps=20)[:, 0]
    ref = naive_mg(lambda t: 1.2, 17.0, 40.0, 0.01)
    np.testing.assert_allclose(ours, ref, atol=2e-5)


def test_mackey_glass_fourth_order():
    hist = np.full(17, 1.2)
    exact = ts.mackey_glass(60, history=hist, substeps=160)
    errs = [np.abs(ts.mackey_glass(60, history=hist, substeps=s) - exact).max() for s in (5, 10, 20)]
    assert errs[0] / errs[1] > 12 and errs[1] / errs[2] > 12  # 2^4 = 16 for a 4th-order method


def test_mackey_glass_chaotic_attractor_and_defaults():
    x = ts.mackey_glass(5000)
    assert x.shape == (5000, 1) and x[0, 0] == 1.2
    # the tau = 17 attractor lives in about [0.4, 1.35]; nearby starts separate (chaos)
    assert 0.35 < x[500:].min() < 0.5 and 1.25 < x[500:].max() < 1.4
    y = ts.mackey_glass(5000, x0=1.2 + 1e-8)
    assert np.abs(x - y)[:200].max() < 1e-6 and np.abs(x - y)[3000:].max() > 0.1
    np.testing.assert_array_equal(x, ts.mackey_glass(5000))  # seed 0 by default
    assert not np.array_equal(x, ts.mackey_glass(5000, seed=1))


def test_mackey_glass_close_to_reservoirpy_statistics():
    rpy = pytest.importorskip("reservoirpy.datasets")
    ours, theirs = ts.mackey_glass(10000)[1000:], rpy.mackey_glass(10000)[1000:]
    assert abs(ours.mean() - theirs.mean()) < 0.02 and abs(ours.std() - theirs.std()) < 0.02


def test_narma10_matches_recursion():
    u, y = ts.narma(300, seed=3)
    uu = u[:, 0]
    ref = np.zeros(301)
    for t in range(9, 300):
        ref[t + 1] = (0.3 * ref[t] + 0.05 * ref[t] * ref[t - 9:t + 1].sum() + 1.5 * uu[t - 9] * uu[t] + 0.1)
    np.testing.assert_allclose(y[:, 0], ref[1:], rtol=1e-13)
    assert 0 <= u.min() and u.max() <= 0.5
    u2, y2 = ts.narma(5000, washout=100, seed=3)
    assert np.all(np.isfinite(y2)) and 0.1 < y2.mean() < 1.0


def test_lorenz_against_scipy():
    from scipy.integrate import solve_ivp
    out = ts.lorenz(101, h=0.01)
    rhs = lambda t, v: [10 * (v[1] - v[0]), v[0] * (28 - v[2]) - v[1], v[0] * v[1] - 8 / 3 * v[2]]
    ref = solve_ivp(rhs, (0, 1.0), [1.0, 1.0, 1.0], t_eval=np.linspace(0, 1, 101), rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(out, ref.y.T, atol=1e-6)
    far = ts.lorenz(3000)
    assert -25 < far[:, 0].min() < -10 and 35 < far[:, 2].max() < 55  # the butterfly's extent


def test_sine_and_sine_family():
    s = ts.sine(100, period=20.0, amplitude=2.0)
    np.testing.assert_allclose(s[:, 0], 2 * np.sin(2 * np.pi * np.arange(100) / 20))
    u, y = ts.sine_family(1000, periods=(10.0, 20.0), segment=100, seed=2)
    assert set(np.unique(u)) <= {0.1, 0.05} and len(np.unique(u)) == 2
    # continuous phase: the step-to-step change never exceeds 2 pi f
    assert np.all(np.abs(np.diff(y[:, 0])) <= 2 * np.pi * 0.1 + 1e-12)


@pytest.mark.parametrize("call, msg", [
    (lambda: ts.mackey_glass(0), "n_timesteps"), (lambda: ts.mackey_glass(10, tau=-1), "tau"),
    (lambda: ts.mackey_glass(10, tau=17.05), "whole number"), (lambda: ts.mackey_glass(10, h=0), "h"),
    (lambda: ts.mackey_glass(10, history=[1.0, 2.0]), "history"), (lambda: ts.narma(10, order=0), "order"),
    (lambda: ts.sine(10, period=0), "period"), (lambda: ts.sine_family(10, periods=(1.0, -2.0)), "periods"),
    (lambda: ts.lorenz(10, x0=(1, 2)), "x0"),
])
def test_bad_arguments(call, msg):
    with pytest.raises((ValueError, TypeError), match=msg):
        call()
