"""AdEx and Hodgkin-Huxley neurons against scipy's solve_ivp at small dt (first-order
convergence of the exponential Euler steps), the AdEx firing patterns of Naud et al. (2008),
user-defined models compiled into the kernel (a quadratic integrate-and-fire neuron against
its closed-form period, Izhikevich written as a user model against the built-in one), save
and load, and bad input."""
import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from neurosim.kernels.neurons import hh_rates
from neurosim.record import Monitor
from neurosim.spiking import (ADEX_PATTERNS, AdEx, CustomNeurons, HodgkinHuxley, Izhikevich,
                              Network, PoissonGroup)


def adex_reference(kw, I, T, v_peak):
    """Spike times of one AdEx neuron from solve_ivp (LSODA, rtol 1e-10), reset at each
    crossing of v_peak located by event detection."""
    C, gL, EL, VT, DT = kw["C"], kw["g_L"], kw["E_L"], kw["V_T"], kw["Delta_T"]
    a, tw, b, vr = kw["a"], kw["tau_w"], kw["b"], kw["v_reset"]

    def f(t, y):
        return [(-gL * (y[0] - EL) + gL * DT * math.exp(min((y[0] - VT) / DT, 500.0)) - y[1]
                 + I) / C, (a * (y[0] - EL) - y[1]) / tw]

    def peak(t, y):
        return y[0] - v_peak
    peak.terminal, peak.direction = True, 1
    t0, y, spikes = 0.0, [EL, 0.0], []
    while True:
        sol = solve_ivp(f, (t0, T), y, events=peak, rtol=1e-10, atol=[1e-12, 1e-18],
                        method="LSODA")
        if not sol.t_events[0].size:
            return np.array(spikes)
        t0 = sol.t_events[0][0]
        spikes.append(t0)
        y = [vr, sol.y_events[0][0][1] + b]


def adex_spikes(kw, I, T, dt, v_peak):
    net = Network(dt)
    net.add(AdEx(1, I=I, v_peak=v_peak, **kw))
    return net.run(T).spike_time.values


@pytest.mark.parametrize("pattern", ["adapting", "bursting"])
def test_adex_spike_times_converge_to_solve_ivp(pattern):
    kw = dict(ADEX_PATTERNS[pattern])
    I = kw.pop("I")
    ref = adex_reference(kw, I, 0.32, 0.0)
    ref = ref[ref < 0.3]                       # spikes clear of the end of the run
    errors = []
    for dt in (1e-5, 1e-6):
        st = adex_spikes(kw, I, 0.32, dt, 0.0)
        st = st[:ref.size]
        assert st.size == ref.size >= 5
        errors.append(np.abs(st - ref).max())
    # first order: ten times smaller steps, about ten times smaller errors
    assert errors[1] < 1e-4 and 6 < errors[0] / errors[1] < 14, errors


def test_adex_subthreshold_trajectory_matches_solve_ivp():
    kw = dict(ADEX_PATTERNS["adapting"])
    kw.pop("I")
    I = 150e-12                                  # below the rheobase: no spike
    net = Network(1e-6)
    net.add(AdEx(1, I=I, **kw))
    ds = net.run(0.2, record=Monitor(every=100), variables=("v", "w"))
    assert ds.sizes["spike"] == 0 and ds.w.attrs["units"] == "A"
    C, gL, EL, VT, DT = kw["C"], kw["g_L"], kw["E_L"], kw["V_T"], kw["Delta_T"]
    sol = solve_ivp(lambda t, y: [(-gL * (y[0] - EL) + gL * DT * math.exp((y[0] - VT) / DT)
                                   - y[1] + I) / C, (kw["a"] * (y[0] - EL) - y[1]) / kw["tau_w"]],
                    (0, 0.2), [EL, 0.0], t_eval=ds.time.values, rtol=1e-11, atol=1e-14)
    np.testing.assert_allclose(ds.v.values[:, 0], sol.y[0], atol=2e-6)
    np.testing.assert_allclose(ds.w.values[:, 0], sol.y[1], atol=1e-13)


def hh_reference(g, I, T):
    def f(t, y):
        v, m, h, n = y
        am, bm, ah, bh, an, bn = hh_rates(v, g.V_T)
        dv = (g.g_L * (g.E_L - v) - g.g_Na * m ** 3 * h * (v - g.E_Na)
              - g.g_K * n ** 4 * (v - g.E_K) + I) / g.C
        return [dv, am * (1 - m) - bm * m, ah * (1 - h) - bh * h, an * (1 - n) - bn * n]

    def up(t, y):
        return y[0] - g.v_th
    up.direction = 1
    gates = [float(x[0]) for x in g.steady_gates(g.E_L)]
    sol = solve_ivp(f, (0, T), [g.E_L] + gates, events=up, rtol=1e-10, atol=1e-12,
                    method="LSODA", dense_output=True)
    return sol.t_events[0], sol


@pytest.mark.parametrize("I", [0.3e-9, 1e-9])
def test_hodgkin_huxley_converges_to_solve_ivp(I):
    g = HodgkinHuxley(1, I=I)
    ref, sol = hh_reference(g, I, 0.12)
    ref = ref[ref < 0.1]                       # spikes clear of the end of the run
    errors = []
    for dt in (1e-5, 1e-6):
        net = Network(dt)
        net.add(HodgkinHuxley(1, I=I))
        ds = net.run(0.12, record=Monitor(every=int(round(1e-5 / dt))),
                     variables=("v", "m", "h", "n"))
        st = ds.spike_time.values[:ref.size]
        assert st.size == ref.size >= 3
        errors.append(np.abs(st - ref).max())
        if dt == 1e-6:
            # the state up to the first upswing follows the reference
            t = ds.time.values
            early = t < ref[0] - 0.5e-3
            exact = sol.sol(t[early])
            for k, name in enumerate("vmhn"):
                err = np.abs(ds[name].values[early, 0] - exact[k]).max()
                assert err < (2e-5 if name == "v" else 2e-4), (name, err)
    # first order: a drift of about 10 us per spike at dt = 1 us, ten times less than at 10 us
    assert errors[1] < 2e-4 and 6 < errors[0] / errors[1] < 14, errors


def test_hodgkin_huxley_spikes_once_per_crossing_at_coarse_dt():
    net = Network(1e-4)
    net.add(HodgkinHuxley(1, I=1e-9))
    ds = net.run(0.2, record=Monitor(), variables="v")
    v = ds.v.values[:, 0]
    crossings = np.flatnonzero((v[:-1] <= -20e-3) & (v[1:] > -20e-3))
    assert np.array_equal(np.rint(ds.spike_time.values / 1e-4).astype(int), crossings)
    assert v.max() > 20e-3 and v.min() < -70e-3          # full action potentials, stable


def isis(pattern, T=0.5, dt=1e-5):
    kw = dict(ADEX_PATTERNS[pattern])
    I = kw.pop("I")
    st = adex_spikes(kw, I, T, dt, 0.0)
    return st, np.diff(st)


def test_adex_firing_patterns_of_naud_et_al():
    st, d = isis("tonic")
    assert st.size > 30 and d.max() / d.min() < 1.1               # regular from the start
    st, d = isis("adapting")
    assert np.all(np.diff(d) > -1e-4) and d[-1] / d[0] > 4        # intervals lengthen
    st, d = isis("initial_burst")
    assert d[0] < 10e-3 and d[1] < 10e-3 and d[2:].min() > 40e-3  # a burst, then tonic
    assert d[3:].max() / d[3:].min() < 1.05
    st, d = isis("bursting")
    short, long = d[d < 10e-3], d[d > 100e-3]
    assert short.size + long.size == d.size and long.size >= 3    # repeated bursts
    st, d = isis("transient")
    assert 1 <= st.size <= 3 and st[-1] < 0.05                    # fires at onset, then stops
    st, d = isis("delayed")
    assert st[0] > 0.01 and d[-1] < 0.7 * d[0]                    # late start, accelerating
    st, d = isis("irregular")
    assert d.std() / d.mean() > 0.3


# ---------------------------------------------------------------------------- user models
def qif(x, p, I, dt):
    """Quadratic integrate-and-fire, forward Euler: tau dv/dt = (v - v_r)(v - v_c) /
    (v_c - v_r) + R I; at v >= v_peak, v = v_reset."""
    v_r, v_c, tau, R, v_peak, v_reset = p[0], p[1], p[2], p[3], p[4], p[5]
    v = x[0] + dt / tau * ((x[0] - v_r) * (x[0] - v_c) / (v_c - v_r) + R * I)
    if v >= v_peak:
        return (v_reset,), True
    return (v,), False


QIF = {"v_r": -65e-3, "v_c": -50e-3, "tau": 10e-3, "R": 1e8, "v_peak": 30e-3,
       "v_reset": -70e-3}


def test_quadratic_integrate_and_fire_period_matches_closed_form():
    dt, I = 1e-6, 0.1e-9
    net = Network(dt)
    net.add(CustomNeurons(1, qif, state={"v": -70e-3}, params=QIF, I=I))
    st = net.run(0.3).spike_time.values
    # x = v - (v_r + v_c) / 2, w = (v_c - v_r) / 2: tau dx/dt = (x^2 + K) / (2 w), K = 2 w R I - w^2
    w = (QIF["v_c"] - QIF["v_r"]) / 2
    K = 2 * w * QIF["R"] * I - w * w
    x0 = QIF["v_reset"] - (QIF["v_r"] + QIF["v_c"]) / 2
    x1 = QIF["v_peak"] - (QIF["v_r"] + QIF["v_c"]) / 2
    period = QIF["tau"] * 2 * w / math.sqrt(K) * (math.atan(x1 / math.sqrt(K))
                                                  - math.atan(x0 / math.sqrt(K)))
    assert st.size > 5
    assert np.diff(st).mean() == pytest.approx(period, rel=2e-3)
    assert st[0] == pytest.approx(period, rel=2e-3)


def izh_step(x, p, I, dt):
    """Izhikevich (2003) as neurosim's built-in model computes it, written as a user model."""
    a, b, c, d, v_peak, C = p[0], p[1], p[2], p[3], p[4], p[5]
    v, u = x[0], x[1]
    drive = I / C
    v += 0.5 * dt * (4.0e4 * v * v + 5.0e3 * v + 140.0 - u + drive)
    v += 0.5 * dt * (4.0e4 * v * v + 5.0e3 * v + 140.0 - u + drive)
    if v > v_peak:
        v = v_peak
    B = b * 1e3
    u = B * v + (u - B * v) * math.exp(-(a * 1e3) * dt)
    if v >= v_peak:
        return (c, u + d), True
    return (v, u), False


IZH = {"a": 0.02, "b": 0.2, "c": -65e-3, "d": 8.0, "v_peak": 30e-3, "C": 1e-10}


def test_user_model_reproduces_the_built_in_izhikevich_exactly():
    I = np.linspace(0.0, 2e-9, 6)
    out = []
    for make in (lambda: Izhikevich(6, I=I, v0=-65e-3, u0=-13.0, **IZH),
                 lambda: CustomNeurons(6, izh_step, state={"v": -65e-3, "u": -13.0}, params=IZH,
                                       units={"u": "V/s"}, I=I)):
        net = Network(1e-4)
        net.add(make())
        out.append(net.run(0.3, record=Monitor(every=5), variables=("v", "u")))
    np.testing.assert_array_equal(out[0].v.values, out[1].v.values)
    np.testing.assert_array_equal(out[0].u.values, out[1].u.values)
    np.testing.assert_array_equal(out[0].spike_time.values, out[1].spike_time.values)
    assert out[0].sizes["spike"] > 20


def test_user_model_in_a_network_with_synapses_save_and_load(tmp_path):
    def build():
        net = Network(1e-4, seed=1)
        g = net.add(CustomNeurons(20, qif, state={"v": (-70e-3, -50e-3)}, params=QIF,
                                  synapse="conductance", t_ref=2e-3, I=0.05e-9))
        h = net.add(CustomNeurons(5, qif, state={"v": -65e-3}, params={**QIF, "tau": 5e-3}))
        src = net.add(PoissonGroup(30, 20.0))
        net.connect(src, g, p=0.3, weights=2e-9)
        net.connect(g, h, p=0.5, weights=3e-11)
        return net
    net = build()
    a = net.run(0.2)
    assert a.sizes["spike"] > 10 and set(np.unique(a.spike_neuron.values)) & set(range(20, 25))
    net.save(tmp_path / "qif.nc")
    cont = net.run(0.1)
    loaded = Network.load(tmp_path / "qif.nc")
    np.testing.assert_array_equal(loaded.run(0.1).spike_time.values, cont.spike_time.values)
    b = build().run(0.2)
    np.testing.assert_array_equal(a.spike_time.values, b.spike_time.values)


def test_adex_and_hh_save_load_store_restore(tmp_path):
    def build():
        net = Network(1e-4, seed=2)
        kw = dict(ADEX_PATTERNS["bursting"])
        I = kw.pop("I")
        net.add(AdEx(3, I=I, v0=(-60e-3, -50e-3), **kw))
        net.add(HodgkinHuxley(4, I=[0.3e-9, 0.5e-9, 0.7e-9, 0.9e-9], v0=(-65e-3, -60e-3)))
        return net
    net = build()
    net.run(0.1)
    net.save(tmp_path / "net.nc")
    net.store()
    ref = net.run(0.2, record=Monitor(every=10), variables=("v", "w", "m", "h", "n"))
    net.restore()
    again = net.run(0.2, record=Monitor(every=10), variables=("v", "w", "m", "h", "n"))
    loaded = Network.load(tmp_path / "net.nc").run(0.2, record=Monitor(every=10),
                                                   variables=("v", "w", "m", "h", "n"))
    for ds in (again, loaded):
        for name in ("v", "w", "m", "h", "n"):
            np.testing.assert_array_equal(ds[name].values, ref[name].values)
        np.testing.assert_array_equal(ds.spike_time.values, ref.spike_time.values)
    assert ref.sizes["spike"] > 20
    assert ref.m.attrs["units"] == "1" and ref.w.attrs["units"] == "A"


def test_bad_neuron_input_gives_clear_errors():
    with pytest.raises(ValueError, match="g_L"):
        AdEx(1, g_L=-1e-9)
    with pytest.raises(ValueError, match="v_reset"):
        AdEx(1, v_reset=30e-3, v_peak=20e-3)
    with pytest.raises(ValueError, match="Delta_T"):
        AdEx(1, Delta_T=0.0)
    with pytest.raises(ValueError, match="m0"):
        HodgkinHuxley(1, m0=1.5)
    with pytest.raises(ValueError, match="C"):
        HodgkinHuxley(1, C=0.0)
    with pytest.raises(TypeError, match="step"):
        CustomNeurons(1, "qif", state={"v": 0.0})
    with pytest.raises(ValueError, match="state"):
        CustomNeurons(1, qif, state={"x": 0.0, "v": 0.0})
    with pytest.raises(TypeError, match="params"):
        CustomNeurons(1, qif, state={"v": 0.0}, params={"tau": "fast"})
    with pytest.raises(ValueError, match="units"):
        CustomNeurons(1, qif, state={"v": 0.0}, units={"w": "A"})

    def two(x, p, I, dt):
        return (x[0], x[0]), False
    net = Network(1e-4)
    net.add(CustomNeurons(1, two, state={"v": 0.0}))
    with pytest.raises(TypeError, match="step"):
        net.run(0.01)
    net = Network(1e-4)
    net.add(CustomNeurons(1, qif, state={"v": -65e-3}, params=QIF))
    with pytest.raises(ValueError, match="step function"):
        net.add(CustomNeurons(1, izh_step, state={"v": -65e-3, "u": 0.0}, params=IZH))
    net.add(HodgkinHuxley(1))
    with pytest.raises(ValueError, match="variables"):
        net.run(0.01, variables="w")


def test_vectorising_exponentials_are_within_a_few_ulp_of_libm():
    """kernels.vexp (the neuron updates' exp and exprel, plain arithmetic so that LLVM
    vectorises them) against glibc's exp and expm1 over their whole working range."""
    from numba import njit

    from neurosim.kernels import vexp

    @njit
    def both(x, e, r):
        for i in range(x.shape[0]):
            e[i] = vexp.exp(x[i])
            r[i] = vexp.exprel(x[i])
    gen = np.random.default_rng(0)
    x = np.concatenate([gen.uniform(-708, 709, 100_000), gen.uniform(-1, 1, 100_000),
                        [0.0, 1e-300, -1e-12, 0.5, -0.5, np.nextafter(0.5, 0), 708.9, -707.9]])
    e, r = np.empty_like(x), np.empty_like(x)
    both(x, e, r)
    assert np.max(np.abs(e / np.exp(x) - 1)) <= 4.5e-16
    exact = np.array([math.expm1(v) / v if v else 1.0 for v in x])
    assert np.max(np.abs(r / exact - 1)) <= 9e-16          # exp's error, times e^x / (e^x - 1)
    both(np.array([-800.0, 800.0]), e[:2], r[:2])           # clamped, finite
    assert np.all(np.isfinite(e[:2])) and e[0] < 1e-300
