"""Spiking networks: single neurons against exact solutions, the kernel against a plain NumPy
reference, delays, seeds, monitors, streaming and bad input."""
import math
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import xarray as xr

from neurosim import connect
from neurosim.record import Monitor
from neurosim.spiking import (LIF, Izhikevich, Network, PoissonGroup, SpikeGeneratorGroup,
                              mean_rate, silent_fraction)

DT = 1e-4


def single(I, *, duration=0.2, **kw):
    net = Network(DT, seed=0)
    net.add(LIF(1, I=I, **kw))
    return net.run(duration, record=Monitor(index=[0]))


# ------------------------------------------------------------------ one LIF neuron, analytic

def test_membrane_potential_matches_exact_charging_curve():
    R, I, tau = 1e8, 0.15e-9, 20e-3           # R I = 15 mV < 20 mV to threshold: no spike
    ds = single(I, R=R, tau_m=tau, v_rest=-70e-3, v_th=-50e-3, duration=0.1)
    t = ds.time.values
    exact = -70e-3 + R * I * (1 - np.exp(-t / tau))
    np.testing.assert_allclose(ds.v[:, 0].values, exact, rtol=0, atol=1e-13)
    assert ds.sizes["spike"] == 0


@pytest.mark.parametrize("I", [0.25e-9, 0.4e-9, 1e-9])
def test_time_to_first_spike_and_interspike_interval(I):
    R, tau, vr, vt, vreset, tref = 1e8, 20e-3, -70e-3, -50e-3, -65e-3, 2e-3
    ds = single(I, R=R, tau_m=tau, v_rest=vr, v_th=vt, v_reset=vreset, t_ref=tref, duration=0.3)
    T_first = -tau * math.log(1 - (vt - vr) / (R * I))
    t = ds.spike_time.values
    # the spike is stamped with the start of the step in which v crossed (as Brian2)
    assert T_first - DT - 1e-12 <= t[0] < T_first
    # after reset v is frozen for t_ref, then climbs from v_reset: ISI in whole steps
    T_isi = tau * math.log((R * I + vr - vreset) / (R * I + vr - vt))
    isi_steps = np.rint(np.diff(t) / DT).astype(int)
    assert np.all(isi_steps == round(tref / DT) - 1 + math.ceil(T_isi / DT))


def test_f_I_curve_against_theory():
    R, tau, vr, vt, vreset, tref = 1e8, 20e-3, -70e-3, -50e-3, -70e-3, 2e-3
    currents = np.array([0.0, 0.15e-9, 0.21e-9, 0.3e-9, 0.5e-9, 1e-9])
    net = Network(DT, seed=0)
    net.add(LIF(len(currents), I=currents, R=R, tau_m=tau, v_rest=vr, v_th=vt, v_reset=vreset,
                t_ref=tref))
    ds = net.run(1.0)
    counts = np.bincount(ds.spike_neuron.values, minlength=len(currents))
    for c, I in zip(counts, currents):
        if R * I <= vt - vr:
            assert c == 0
        else:
            rate = 1 / (tref + tau * math.log(R * I / (R * I - (vt - vr))))
            # each ISI is rounded up to whole steps: within one step per interval
            assert abs(c - rate) <= rate * rate * DT + 1.5


def test_refractory_period_is_honoured():
    tref = 3e-3
    ds = single(1e-6, t_ref=tref, duration=0.1)          # drives v over threshold in one step
    isi = np.diff(ds.spike_time.values)
    np.testing.assert_allclose(isi, tref, atol=1e-12)   # as Brian2: free again at t_spike + t_ref
    v = ds.v[:, 0].values
    s0 = int(round(ds.spike_time.values[0] / DT))
    # frozen at reset during the refractory steps (records at the start of each step)
    np.testing.assert_array_equal(v[s0 + 1:s0 + 1 + round(tref / DT)], -60e-3)


def test_conductance_lif_with_constant_conductance_is_exact():
    R, tau, g, E_e, vr = 1e8, 20e-3, 2e-9, 0.0, -70e-3
    net = Network(DT, seed=0)
    src = net.add(SpikeGeneratorGroup(1, [0.0], [0]))
    post = net.add(LIF(1, R=R, tau_m=tau, v_rest=vr, v_th=0.5, v_reset=-0.1,
                       synapse="conductance", tau_e=1e9, E_e=E_e))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        net.connect(src, post, np.array([[g]]), channel="e")
        ds = net.run(0.05, record=Monitor(index=[0]), variables=("v", "syn_e"))
    # the spike at step 0 is delivered in step 0; from step 1 on the conductance is g (held)
    t = ds.time.values[1:] - DT
    Rg = R * g
    v_inf = (vr + Rg * E_e) / (1 + Rg)
    exact = v_inf + (vr - v_inf) * np.exp(-t * (1 + Rg) / tau)
    np.testing.assert_allclose(ds.v[1:, 0].values, exact, rtol=0, atol=1e-12)
    assert ds.syn_e.attrs["units"] == "S"


def test_synaptic_current_decay_and_psp_shape_are_exact():
    R, tau_m, tau_e, w, t0 = 1e8, 20e-3, 5e-3, 1e-10, 0.01
    net = Network(DT, seed=0)
    src = net.add(SpikeGeneratorGroup(1, [t0], [0]))
    post = net.add(LIF(1, R=R, tau_m=tau_m, tau_e=tau_e, v_rest=-70e-3, v_th=0.0))
    net.connect(src, post, [[w]])
    ds = net.run(0.08, record=Monitor(index=[0]), variables=("v", "syn_e", "syn_i"))
    t = ds.time.values
    arrive = t0 + DT      # delivered in the spike's step, seen from the next step on
    lag = np.clip(t - arrive, 0, None)
    on = t >= arrive - 1e-12
    I_exact = np.where(on, w * np.exp(-lag / tau_e), 0.0)
    np.testing.assert_allclose(ds.syn_e[:, 0].values, I_exact, rtol=1e-10, atol=1e-25)
    psp = np.where(on, R * w * tau_e / (tau_e - tau_m)
                   * (np.exp(-lag / tau_e) - np.exp(-lag / tau_m)), 0.0)
    np.testing.assert_allclose(ds.v[:, 0].values, -70e-3 + psp, rtol=0, atol=1e-13)
    assert np.all(ds.syn_i.values == 0)
    assert ds.v.attrs["units"] == "V" and ds.syn_e.attrs["units"] == "A"


# --------------------------------------------------------- kernel against a NumPy reference

def naive_run(groups, W_e, W_i, D, gen_events, n_steps, dt):
    """Plain NumPy simulation with Brian2's schedule, from the equations (not the kernel).

    groups: list of (spec, v0, u0); W_e, W_i: dense (N, n_pre) weights for each channel;
    D: dense int delays (N, n_pre); gen_events: dict step -> list of presynaptic indices.
    Returns spikes as (step, neuron) pairs and the v trace (n_steps, N) at step starts.
    """
    specs = [g for g, _, _ in groups]
    N = sum(g.n for g in specs)
    v = np.concatenate([v0 for _, v0, _ in groups]).astype(float)
    u = np.concatenate([u0 for _, _, u0 in groups]).astype(float)
    ge, gi = np.zeros(N), np.zeros(N)
    ref = np.zeros(N, dtype=int)
    pending = {}
    spikes, trace = [], []
    bounds = np.cumsum([0] + [g.n for g in specs])
    for s in range(n_steps):
        trace.append(v.copy())
        fired = []
        for g, lo, hi in zip(specs, bounds[:-1], bounds[1:]):
            sl = slice(lo, hi)
            free = ref[sl] == 0
            I = g.I[0]
            xe, xi = ge[sl].copy(), gi[sl].copy()
            if isinstance(g, LIF):
                a = math.exp(-dt / g.tau_m)
                if g.synapse == "current":
                    def resp(tau):
                        b = math.exp(-dt / tau)
                        return g.R * tau / (tau - g.tau_m) * (b - a)
                    vn = g.v_rest + (v[sl] - g.v_rest) * a + g.R * I * (1 - a) \
                        + resp(g.tau_e) * xe + resp(g.tau_i) * xi
                else:
                    G = 1 + g.R * (xe + xi)
                    vinf = (g.v_rest + g.R * (xe * g.E_e + xi * g.E_i + I)) / G
                    vn = vinf + (v[sl] - vinf) * np.exp(-dt / g.tau_m * G)
                v[sl] = np.where(free, vn, v[sl])
                thr = v[sl] > g.v_th
            else:
                cond = g.synapse == "conductance"
                Itot = I + (xe * (g.E_e - v[sl]) + xi * (g.E_i - v[sl]) if cond else xe + xi)
                vv, uu = v[sl].copy(), u[sl].copy()
                for _ in range(2):
                    vv = vv + 0.5 * dt * (0.04 * (1e3 * vv) ** 2 + 5 * (1e3 * vv) + 140 - uu
                                          + Itot / g.C)
                vv = np.minimum(vv, g.v_peak)
                A, B = g.a * 1e3, g.b * 1e3
                un = B * vv + (uu - B * vv) * math.exp(-A * dt)
                v[sl] = np.where(free, vv, v[sl])
                u[sl] = np.where(free, un, u[sl])
                thr = v[sl] >= g.v_peak
            ref[sl] = np.where(free, 0, ref[sl] - 1)
            ge[sl] *= math.exp(-dt / g.tau_e)
            gi[sl] *= math.exp(-dt / g.tau_i)
            hit = np.flatnonzero(thr & (ref[sl] == 0)) + lo
            for i in hit:
                if isinstance(g, LIF):
                    v[i] = g.v_reset
                else:
                    v[i] = g.c
                    u[i] += g.d
                ref[i] = max(round(g.t_ref / dt) - 1, 0)
                spikes.append((s, i))
            fired.extend(hit)
        fired.extend(gen_events.get(s, []))
        for c, amount in pending.pop(s, []):
            (ge if c == 0 else gi)[amount[0]] += amount[1]
        for j in fired:
            for c, W in ((0, W_e), (1, W_i)):
                for i in np.flatnonzero(W[:, j]):
                    if D[i, j] == 0:
                        (ge if c == 0 else gi)[i] += W[i, j]
                    else:
                        pending.setdefault(s + D[i, j], []).append((c, (i, W[i, j])))
    return spikes, np.array(trace)


@pytest.mark.kernel
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kernel_matches_numpy_reference_on_random_networks(seed):
    gen = np.random.default_rng(seed)
    dt = 1e-4
    g1 = LIF(12, R=1e8, tau_m=15e-3, v_rest=-65e-3, v_th=-52e-3, v_reset=-68e-3, t_ref=1e-3,
             tau_e=3e-3, tau_i=7e-3, I=gen.uniform(0.05e-9, 0.2e-9, 12), v0=(-66e-3, -53e-3),
             name="lifc")
    g2 = LIF(9, R=1e8, tau_m=25e-3, synapse="conductance", E_e=0.0, E_i=-0.08, t_ref=2e-3,
             tau_e=4e-3, tau_i=8e-3, I=0.19e-9, v0=(-70e-3, -51e-3), name="lifg")
    g3 = Izhikevich(7, I=gen.uniform(0.3e-9, 1.2e-9, 7), v0=-65e-3, name="izh")
    net = Network(dt, seed=seed)
    for g in (g1, g2, g3):
        net.add(g)
    n_in = 5
    ev_t = np.sort(gen.uniform(0, 0.04, 40))
    ev_i = gen.integers(0, n_in, 40)
    src = net.add(SpikeGeneratorGroup(n_in, ev_t, ev_i))
    N = 28
    n_pre = N + n_in
    W = {0: np.zeros((N, n_pre)), 1: np.zeros((N, n_pre))}
    Dm = np.zeros((N, n_pre), dtype=int)
    groups = [g1, g2, g3, src]
    starts = [0, 12, 21, 28]
    for pre, ps in zip(groups, starts):
        for post, qs in zip(groups[:3], starts[:3]):
            ch = "i" if pre is g2 else "e"
            scale = 1e-9 if post.synapse == "conductance" else 4e-11
            if post is g3:
                scale = 2e-10
            Wm = connect.random(post.n, pre.n, p=0.4, weights="uniform", loc=0.0, scale=scale,
                                seed=int(gen.integers(1 << 30)), self_loops=pre is post)
            Dd = connect.delays(Wm, low=0.0, high=2e-3, dt=dt, seed=int(gen.integers(1 << 30)))
            net.connect(pre, post, Wm, channel=ch, delay=Dd)
            c = 0 if ch == "e" else 1
            A = Wm.toarray()
            W[c][qs:qs + post.n, ps:ps + pre.n] += A
            rows, cols = Wm.nonzero()
            Dm[qs + rows, ps + cols] = Dd.toarray()[rows, cols]
    n_steps = 500
    ds = net.run(n_steps * dt, record=Monitor(), chunk=77)
    init = [(g, ds.v.values[0, s:s + g.n], net.u[s:s + g.n] * 0 + (
        g.b * 1e3 * ds.v.values[0, s:s + g.n] if isinstance(g, Izhikevich) else 0))
        for g, s in zip(groups[:3], starts[:3])]
    events = {}
    for t, i in zip(np.rint(ev_t / dt).astype(int), ev_i):
        events.setdefault(t, []).append(N + i)
    spikes, trace = naive_run(init, W[0], W[1], Dm, events, n_steps, dt)
    got = sorted(zip(np.rint(ds.spike_time.values / dt).astype(int), ds.spike_neuron.values))
    assert len(spikes) > 20
    assert got == sorted(spikes)
    np.testing.assert_allclose(ds.v.values, trace, rtol=0, atol=1e-9)


@pytest.mark.kernel
@pytest.mark.parametrize("with_current", [False, True])
def test_lif_current_fast_path_matches_numpy_reference(with_current):
    # only LIF neurons with current synapses, no delays, no sources, no state monitor: the
    # kernel's pruned fast path (fused update and threshold in blocks of BLOCK neurons; with
    # no external current it skips the current term). Groups straddle block boundaries.
    from neurosim.kernels import spiking as K

    gen = np.random.default_rng(7)
    dt = 1e-4
    sizes = (K.BLOCK + 37, 2 * K.BLOCK + 5)
    kw = dict(R=1e8, tau_m=20e-3, v_rest=-45e-3 if not with_current else -60e-3, v_th=-50e-3,
              v_reset=-60e-3, t_ref=2e-3, tau_e=5e-3, tau_i=10e-3, v0=(-60e-3, -50e-3))
    groups = [LIF(n, I=gen.uniform(0, 0.2e-9, n) if with_current else 0.0, **kw)
              for n in sizes]
    net = Network(dt, seed=1)
    for g in groups:
        net.add(g)
    N = sum(sizes)
    W = {0: np.zeros((N, N)), 1: np.zeros((N, N))}
    starts = (0, sizes[0])
    for pre, ps in zip(groups, starts):
        for post, qs in zip(groups, starts):
            ch = "e" if pre is groups[0] else "i"
            w = 3e-11 if ch == "e" else -5e-11
            Wm = net.connect(pre, post, p=0.05, weights=w, channel=ch, self_loops=True)
            W[0 if ch == "e" else 1][qs:qs + post.n, ps:ps + pre.n] += Wm.toarray()
    net.store()                      # builds: the initial state drawn from the seed
    init = [(g, net.v[s:s + g.n].copy(), np.zeros(g.n)) for g, s in zip(groups, starts)]
    n_steps = 300
    ds = net.run(n_steps * dt, chunk=120)
    assert net.out_code.dtype == np.int32
    spikes, _ = naive_run(init, W[0], W[1], np.zeros((N, N), dtype=int), {}, n_steps, dt)
    got = list(zip(np.rint(ds.spike_time.values / dt).astype(int), ds.spike_neuron.values))
    assert len(spikes) > 50
    assert got == sorted(spikes)      # same spikes, in step then neuron order


# ----------------------------------------------------------------------------------- delays

def test_delays_shift_spikes_by_exactly_the_delay():
    def run(delay):
        net = Network(DT, seed=0)
        src = net.add(SpikeGeneratorGroup(3, [0.005, 0.012, 0.02], [0, 1, 2]))
        post = net.add(LIF(3))
        net.connect(src, post, sp.identity(3, format="csr") * 2e-9, delay=delay)
        return net.run(0.1)
    base = run(None).spike_time.values
    assert base.size >= 3
    for d in (DT, 7 * DT, 3.2e-3):
        shifted = run(d).spike_time.values
        np.testing.assert_allclose(shifted - base, round(d / DT) * DT, atol=1e-12)


def test_delay_rounding_is_to_the_nearest_step():
    net = Network(DT, seed=0)
    src = net.add(SpikeGeneratorGroup(1, [0.0], [0]))
    post = net.add(LIF(1))
    net.connect(src, post, [[1e-6]], delay=2.6 * DT)
    ds = net.run(0.01)
    assert np.isclose(ds.spike_time.values[0], 3 * DT + DT)   # arrives at step 3, spikes at 4


# ----------------------------------------------------------------- seeds, Poisson, monitors

def small_random_net(seed):
    net = Network(DT, seed=seed)
    inp = net.add(PoissonGroup(20, 50.0))
    exc = net.add(LIF(80, v0=(-70e-3, -50e-3), I=0.15e-9))
    net.connect(inp, exc, p=0.2, weights=2e-10)
    net.connect(exc, exc, p=0.1, weights=5e-11, delay=(1e-3, 3e-3))
    return net


def test_same_seed_same_spikes_different_seed_different_spikes():
    a = small_random_net(5).run(0.2)
    b = small_random_net(5).run(0.2)
    c = small_random_net(6).run(0.2)
    np.testing.assert_array_equal(a.spike_time.values, b.spike_time.values)
    np.testing.assert_array_equal(a.spike_neuron.values, b.spike_neuron.values)
    assert a.sizes["spike"] > 0
    assert not (a.sizes["spike"] == c.sizes["spike"]
                and np.array_equal(a.spike_neuron.values, c.spike_neuron.values))


def test_runs_continue_and_chunking_does_not_change_results():
    one = small_random_net(3).run(0.2, chunk=2000)
    net = small_random_net(3)
    first = net.run(0.1, chunk=13)
    second = net.run(0.1, chunk=400)
    np.testing.assert_array_equal(np.concatenate([first.spike_time, second.spike_time]),
                                  one.spike_time.values)
    assert second.attrs["t_start"] == pytest.approx(0.1)


def test_poisson_shot_noise_and_time_varying_rates():
    n, T, w, tau_e, r = 400, 0.6, 1e-12, 5e-3, 40.0
    rates = np.zeros((2, n))
    rates[1] = r
    net = Network(DT, seed=1)
    src = net.add(PoissonGroup(n, rates, dt=T / 3))
    post = net.add(LIF(n, v_th=1.0, v_reset=0.0, tau_e=tau_e))
    net.connect(src, post, sp.identity(n, format="csr") * w)
    ds = net.run(T, record=Monitor(every=10), variables="syn_e")
    x = ds.syn_e.values
    t = ds.time.values
    assert np.all(x[t <= T / 3] == 0)
    # Campbell's theorem: mean of shot noise = rate * weight * tau
    late = x[t > T / 3 + 5 * tau_e]
    assert late.mean() == pytest.approx(r * w * tau_e, rel=0.06)
    assert late.var() == pytest.approx(r * w * w * tau_e / 2, rel=0.15)


def test_monitor_every_index_rates_and_spike_subset():
    net = small_random_net(2)
    ds = net.run(0.1, record=Monitor(every=5, index=[3, 7]), variables=("v", "syn_e"),
                 spikes=[0, 1, 2, 3])
    assert ds.v.shape == (200, 2) and list(ds.neuron.values) == [3, 7]
    assert np.allclose(np.diff(ds.time.values), 5 * DT)
    assert set(np.unique(ds.spike_neuron.values)) <= {0, 1, 2, 3}
    full = small_random_net(2).run(0.1, record=Monitor(every=5, index=[]))
    # rate over 5-step bins integrates to the spike count
    total = (full.rate.values[:, 0] * 80 * 5 * DT).sum()
    assert np.isclose(total, full.sizes["spike"])
    assert np.isclose(mean_rate(full), full.sizes["spike"] / 80 / 0.1)
    assert 0 <= silent_fraction(full) <= 1


def test_stream_to_netcdf_equals_in_memory(tmp_path):
    mem = small_random_net(4).run(0.1, record=Monitor(every=10, index=[1, 2]), chunk=250)
    path = tmp_path / "run.nc"
    disk = small_random_net(4).run(0.1, record=Monitor(every=10, index=[1, 2]), chunk=250,
                                   store=path)
    try:
        np.testing.assert_array_equal(disk.spike_time.values, mem.spike_time.values)
        np.testing.assert_array_equal(disk.v.values, mem.v.values)
        np.testing.assert_allclose(disk.rate.values, mem.rate.values)
        np.testing.assert_allclose(disk.time.values, mem.time.values)
        assert disk.attrs["family"] == "LSM"
    finally:
        disk.close()


def test_dataset_round_trips_through_netcdf(tmp_path):
    ds = small_random_net(4).run(0.05, record=Monitor(every=10, index=[0]))
    ds.to_netcdf(tmp_path / "x.nc")
    back = xr.load_dataset(tmp_path / "x.nc")
    xr.testing.assert_identical(ds, back)


def test_izhikevich_regular_spiking_fires_tonically():
    net = Network(1e-4, seed=0)
    net.add(Izhikevich(1, I=1e-9))                        # the paper's I = 10
    ds = net.run(0.5)
    isi = np.diff(ds.spike_time.values)
    assert ds.sizes["spike"] > 5
    assert isi[-1] > isi[0]                               # spike-frequency adaptation (RS)


# ------------------------------------------------------------------------------- bad input

def test_bad_input_gives_clear_errors():
    with pytest.raises(ValueError, match="dt"):
        Network(0.0)
    with pytest.raises(ValueError, match="dt"):
        Network(-1e-4)
    with pytest.raises(ValueError, match="rates"):
        PoissonGroup(3, [1.0, -2.0, 3.0])
    with pytest.raises(ValueError, match="rates"):
        PoissonGroup(3, [1.0, 2.0])
    with pytest.raises(ValueError, match="finite"):
        LIF(2, I=[np.nan, 0.0])
    with pytest.raises(ValueError, match="v_reset"):
        LIF(2, v_reset=-40e-3, v_th=-50e-3)
    with pytest.raises(ValueError, match="indices"):
        SpikeGeneratorGroup(2, [0.1], [5])
    with pytest.raises(ValueError, match="times"):
        SpikeGeneratorGroup(2, [-0.1], [0])
    with pytest.raises(ValueError, match="synapse"):
        LIF(2, synapse="chemical")
    net = Network(DT)
    a = net.add(LIF(3))
    b = net.add(LIF(4))
    with pytest.raises(ValueError, match="shape"):
        net.connect(a, b, np.ones((3, 4)))
    with pytest.raises(ValueError, match="delay"):
        net.connect(a, b, np.ones((4, 3)), delay=-1e-3)
    with pytest.raises(ValueError, match="p and k"):
        net.connect(a, b)
    with pytest.raises(ValueError, match="channel"):
        net.connect(a, b, np.ones((4, 3)), channel="x")
    with pytest.raises(ValueError, match="not a group"):
        net.connect(LIF(3), b, np.ones((4, 3)))
    with pytest.raises(ValueError, match="variables"):
        net.run(0.01, variables=("w",))
    with pytest.raises(ValueError, match="duration"):
        net.run(-1.0)
    with pytest.raises(ValueError, match="index"):
        net.run(0.01, record=Monitor(index=[99]))
    g = Network(DT)
    c = g.add(LIF(2, synapse="conductance"))
    with pytest.raises(ValueError, match="conductance"):
        g.connect(c, c, -np.ones((2, 2)))
    with pytest.raises(ValueError, match="rates"), pytest.warns(RuntimeWarning, match="dt"):
        bad = Network(1e-3)
        bad.add(LIF(1))
        bad.add(PoissonGroup(1, 5000.0))
        bad.run(0.01)


def test_large_dt_warns():
    net = Network(5e-3)
    net.add(LIF(2, tau_m=20e-3, tau_e=5e-3))
    with pytest.warns(RuntimeWarning, match="dt"):
        net.run(0.02)


def test_network_save_load_continues_exactly(tmp_path):
    ref = small_random_net(8)
    ref.run(0.05)
    net = small_random_net(8)
    net.run(0.05)
    net.save(tmp_path / "net.nc")
    back = Network.load(tmp_path / "net.nc")
    a = ref.run(0.05, record=Monitor(index=[0, 5]))
    b = back.run(0.05, record=Monitor(index=[0, 5]))
    np.testing.assert_array_equal(a.spike_time.values, b.spike_time.values)
    np.testing.assert_array_equal(a.spike_neuron.values, b.spike_neuron.values)
    np.testing.assert_array_equal(a.v.values, b.v.values)
    assert back.n_synapses == ref.n_synapses and back.t == pytest.approx(0.1)


def test_spike_buffer_refills_when_full():
    # 100 neurons spiking every step for 1000 steps: more spikes than one buffer holds
    net = Network(DT, seed=0)
    net.add(LIF(100, t_ref=0.0, I=1e-6))
    ds = net.run(0.1, chunk=1000)
    assert ds.sizes["spike"] == 100 * 1000
    counts = np.bincount(np.rint(ds.spike_time.values / DT).astype(int))
    assert np.all(counts == 100)


def test_ctrl_c_stops_after_the_current_chunk_and_keeps_records(ctrl_c):
    net = small_random_net(1)
    ds = net.run(0.1, chunk=200, record=Monitor(every=10, index=[0]))
    assert ds.attrs["interrupted"] == 1
    assert ds.attrs["duration"] == pytest.approx(200 * DT)
    assert ds.sizes["time"] == 20 and net.step == 200


def test_time_varying_current_and_recovery_variable():
    net = Network(DT, seed=0)
    net.add(LIF(1, I=[[0.0], [1e-9]], I_dt=0.05))
    izh = net.add(Izhikevich(2, I=[[0.0, 0.0], [1e-9, 0.0]], I_dt=0.05, v0=-70e-3))
    ds = net.run(0.1, record=Monitor(every=10), variables=("v", "u"))
    t, i = ds.spike_time.values, ds.spike_neuron.values
    assert np.all(t[i == 0] >= 0.05) and np.sum(i == 0) > 0
    assert np.all(t[i == 1] >= 0.05) and np.sum(i == 1) > 0 and np.sum(i == 2) == 0
    # -70 mV is the RS model's rest (0.04 v^2 + (5 - b) v + 140 = 0): v stays, u = b v there
    rest = ds.sel(neuron=2)
    np.testing.assert_allclose(rest.v.values, -70e-3, atol=1e-9)
    np.testing.assert_allclose(rest.u.values, 1e3 * izh.b * -70e-3, rtol=1e-6)
    assert ds.u.attrs["units"] == "V/s"
    with pytest.raises(ValueError, match="I_dt"):
        LIF(1, I=[[0.0], [1.0]])


# ------------------------------------------------- the run contract: store, Ctrl+C, seeds, files

@pytest.mark.parametrize("kw", [
    dict(record=Monitor(every=10, index=[1, 2]), variables=("v", "syn_e"), spikes=[0, 5, 60]),
    dict(),                                   # no states: a neuron dim of size 0, rates each step
])
def test_store_gives_the_in_memory_dataset(tmp_path, kw):
    mem = small_random_net(4).run(0.1, chunk=250, **kw)
    disk = small_random_net(4).run(0.1, chunk=250, store=tmp_path / "x.nc", **kw)
    try:
        assert disk.attrs["interrupted"] == 0 and mem.sizes["spike"] > 0
        xr.testing.assert_identical(disk.load(), mem)
    finally:
        disk.close()


def test_stream_is_a_deprecated_name_of_store(tmp_path):
    mem = small_random_net(4).run(0.02)
    with pytest.warns(DeprecationWarning, match="store="):
        disk = small_random_net(4).run(0.02, stream=tmp_path / "s.nc")
    with disk:
        xr.testing.assert_identical(disk.load(), mem)
    with pytest.warns(DeprecationWarning), pytest.raises(TypeError, match="store="):
        small_random_net(4).run(0.02, stream=tmp_path / "a.nc", store=tmp_path / "b.nc")


def test_netcdf_appender_moved_to_record():
    from neurosim import record, spiking

    assert spiking.NetCDFAppender is record.NetCDFAppender


def test_default_chunk_is_config_spiking_chunk_time(monkeypatch, ctrl_c):
    from neurosim import config

    monkeypatch.setattr(config, "SPIKING_CHUNK_TIME", 0.005)     # 50 steps
    net = small_random_net(1)
    ds = net.run(0.1, record=Monitor(every=10, index=[0]))
    assert ds.attrs["interrupted"] == 1 and net.step == 50 and ds.sizes["time"] == 5


CUBA_RUN = """
from neurosim.record import Monitor
from neurosim.spiking import cuba
net = cuba(300, seed=0)
ds = net.run(0.05, chunk=100, record=Monitor(every=10, index=[0, 1, 250]))
ds.attrs["steps_done"] = net.step
"""


@pytest.mark.parametrize("when", ["setup", "run"])
def test_ctrl_c_keeps_what_was_recorded(tmp_path, when):
    from interrupt import interrupted_run

    from neurosim.spiking import cuba

    ds = interrupted_run(CUBA_RUN, when, tmp_path)
    done = 0 if when == "setup" else 100       # set-up: no step; mid-run: the first chunk
    assert ds.attrs["interrupted"] == 1 and ds.attrs["steps_done"] == done
    assert ds.attrs["duration"] == pytest.approx(done * DT)
    full = cuba(300, seed=0).run(0.05, chunk=100, record=Monitor(every=10, index=[0, 1, 250]))
    assert full.sizes["spike"] > 0 and full.attrs["interrupted"] == 0
    first = full.isel(time=slice(0, done // 10), spike=full.spike_time.values < done * DT)
    assert ds.sizes["time"] == done // 10
    xr.testing.assert_equal(ds, first)


@pytest.mark.parametrize("seed", [7, 2 ** 70, np.random.SeedSequence(5, spawn_key=(3, 1)), None])
def test_seed_survives_save_and_load(tmp_path, seed):
    from neurosim import rng

    net = small_random_net(seed)
    net.run(0.01)
    net.save(tmp_path / "net.nc")
    back = Network.load(tmp_path / "net.nc")
    assert rng.to_attr(back.seed) == rng.to_attr(seed)
    ds = back.run(0.01, record=Monitor(every=5), variables=("v", "syn_e"))
    assert ds.attrs["seed"] == rng.to_attr(seed)
    # the loaded network goes on exactly as the saved one: same values, same attrs
    xr.testing.assert_identical(ds, net.run(0.01, record=Monitor(every=5),
                                            variables=("v", "syn_e")))


def test_child_seeds_are_rng_child_keys():
    from neurosim import rng

    net = Network(DT, seed=11)
    assert [net._child().spawn_key for _ in range(3)] == [(1,), (2,), (3,)]
    assert net._child().entropy == rng.child(11, 4).entropy


def test_seed_that_cannot_be_recorded_is_refused_up_front():
    with pytest.raises(ValueError, match="seed"):
        Network(DT, seed=np.random.SeedSequence([1, 2]))


def check_refusals(load, path, other, other_model, tmp_path):
    """``load`` refuses a foreign netCDF file, a file that is not netCDF, a truncated copy of
    ``path`` and ``other`` (a file of ``other_model``), each with a ValueError naming it."""
    foreign = tmp_path / "foreign.nc"
    xr.Dataset({"x": ("a", np.arange(3.0))}).to_netcdf(foreign)
    text = tmp_path / "text.nc"
    text.write_text("not a netCDF file")
    truncated = tmp_path / "truncated.nc"
    data = path.read_bytes()
    truncated.write_bytes(data[:len(data) // 2])
    for bad, match in ((foreign, "no neurosim model"), (text, "not a readable netCDF"),
                       (truncated, "not a readable netCDF"), (other, f"holds a {other_model}"),
                       (tmp_path / "missing.nc", "no such file")):
        with pytest.raises(ValueError, match=match) as err:
            load(bad)
        assert str(bad) in str(err.value)


def test_network_load_refuses_foreign_truncated_and_other_model_files(tmp_path):
    from neurosim.energy.hopfield import HopfieldNetwork
    from neurosim.spiking import LiquidStateMachine

    path = tmp_path / "net.nc"
    small_random_net(1).save(path)
    hopfield = tmp_path / "hopfield.nc"
    X = np.where(np.random.default_rng(0).random((2, 16)) < 0.5, -1, 1)
    HopfieldNetwork(16, seed=0).store(X).save(hopfield)
    check_refusals(Network.load, path, hopfield, "HopfieldNetwork", tmp_path)
    lsm = tmp_path / "lsm.nc"
    LiquidStateMachine(2, shape=(3, 3, 1), seed=0).save(lsm)
    with pytest.raises(ValueError, match="holds a LiquidStateMachine"):
        Network.load(lsm)
    # a network file missing a variable (written by another version, say)
    with xr.open_dataset(path) as ds:
        ds.load().drop_vars("out_w").to_netcdf(tmp_path / "partial.nc")
    with pytest.raises(ValueError, match="out_w"):
        Network.load(tmp_path / "partial.nc")


def test_initial_states_and_spike_times_are_checked_when_given():
    # v0 used to be checked only when the network was first built and run
    with pytest.raises(ValueError, match=r"v0 must have shape \(3,\); got \(2,\)"):
        LIF(3, v0=np.zeros(2))
    with pytest.raises(TypeError, match="v0 must be real"):
        LIF(3, v0=np.zeros(3, complex))
    with pytest.raises(ValueError, match=r"v0\[1\] must be >= -0.06"):
        LIF(3, v0=(-0.06, -0.07))
    with pytest.raises(ValueError, match="u0 must be finite"):
        Izhikevich(3, u0=np.array([0.0, np.nan, 0.0]))
    with pytest.raises(TypeError, match="times must be real"):
        SpikeGeneratorGroup(2, np.array([0.01j]), [0])
    g = SpikeGeneratorGroup(2, [], [])
    assert g.times.shape == (0,) and g.indices.dtype == np.int64


def test_absurd_networks_are_refused_from_an_estimate_naming_the_bytes():
    from neurosim.spiking import cuba

    with pytest.raises(ValueError, match=r"cuba\(n=100000000, .* needs about [\d,]+ bytes"):
        cuba(10 ** 8)
    net = Network(1e-4, seed=0)
    g = net.add(LIF(10 ** 6))
    with pytest.raises(ValueError, match=r"Network.connect with p=0.5 .* needs about [\d,]+ bytes"):
        net.connect(g, g, p=0.5)
    with pytest.raises(ValueError, match=r"LIF\(n=100000000000\) needs about [\d,]+ bytes"):
        LIF(10 ** 11)
