"""STDP: single pairs against the STDP window, all-to-all against nearest-spike on triplets,
bounds, delays, the kernel against a plain event-by-event reference on random networks, Song,
Miller and Abbott (2000), weight monitors, save/load/store/restore and bad input."""
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp

from neurosim.record import Monitor
from neurosim.spiking import (LIF, STDP, Network, PoissonGroup, SpikeGeneratorGroup)
from neurosim.spiking.classic import song2000

DT = 1e-4
W_MAX = 1e-11          # amperes: tiny next to the kicks, so plastic inputs never make spikes
KICK = 5e-8          # a jump of 24 mV: one spike the step after the kick


def naive(pre, post, w0, rule, dt=DT):
    """The weight after arrivals at steps ``pre`` and postsynaptic spikes at steps ``post``,
    replayed event by event with traces written out as sums over the spikes so far (arrivals
    of a step before its post spike, as Brian2 orders the pathways)."""
    span = rule.w_max - rule.w_min
    mu = {"additive": 0.0, "multiplicative": 1.0}.get(rule.rule, rule.rule)
    near = rule.interaction == "nearest"
    w = w0
    for s in sorted(set(pre) | set(post)):
        for _ in range(list(pre).count(s)):           # depression at each arrival
            earlier = [q for q in post if q < s]
            if earlier:
                lags = [s - q for q in earlier][-1:] if near else [s - q for q in earlier]
                x = sum(math.exp(-lag * dt / rule.tau_minus) for lag in lags)
                f = ((w - rule.w_min) / span) ** mu
                w = min(max(w - rule.A_minus * span * f * x, rule.w_min), rule.w_max)
        if s in post:                                   # potentiation at the post spike
            earlier = [p for p in pre if p <= s]
            if earlier:
                lags = [s - p for p in earlier][-1:] if near else [s - p for p in earlier]
                x = sum(math.exp(-lag * dt / rule.tau_plus) for lag in lags)
                f = ((rule.w_max - w) / span) ** mu
                w = min(max(w + rule.A_plus * span * f * x, rule.w_min), rule.w_max)
    return w


def pair_network(pre_times, post_times, rule, *, w0=0.5 * W_MAX, delay=None):
    """One post neuron fired by kicks one step before each ``post_times``; one plastic synapse
    from a generator firing at ``pre_times``. Returns (network, W, kick steps)."""
    net = Network(DT, seed=0)
    post = net.add(LIF(1, tau_e=1e-3, t_ref=3e-3, v_rest=-70e-3, v_th=-50e-3, v_reset=-70e-3))
    pre = net.add(SpikeGeneratorGroup(1, pre_times, np.zeros(len(pre_times), dtype=int)))
    kick = net.add(SpikeGeneratorGroup(1, np.asarray(post_times) - DT,
                                       np.zeros(len(post_times), dtype=int)))
    W = net.connect(pre, post, np.array([[w0]]), plasticity=rule, delay=delay)
    net.connect(kick, post, np.array([[KICK]]))
    return net, W


def steps(times):
    return [int(round(t / DT)) for t in times]


@pytest.mark.parametrize("lag", [-30e-3, -5e-3, -1e-4, 0.0, 1e-4, 2e-3, 17e-3, 60e-3])
@pytest.mark.parametrize("rule", ["additive", "multiplicative"])
def test_single_pair_follows_the_stdp_window(lag, rule):
    r = STDP(w_max=W_MAX, w_min=0.0, tau_plus=17e-3, tau_minus=34e-3, A_plus=0.01,
             A_minus=0.007, rule=rule)
    t_pre = 0.1
    net, W = pair_network([t_pre], [t_pre + lag], r)
    ds = net.run(0.3)
    assert steps(ds.spike_time.values) == steps([t_pre + lag])
    w0 = 0.5 * W_MAX
    f_plus = 1.0 if rule == "additive" else (W_MAX - w0) / W_MAX
    f_minus = 1.0 if rule == "additive" else w0 / W_MAX
    dt = round(lag / DT) * DT          # t_post - t_pre in whole steps
    if dt >= 0:
        expected = w0 + 0.01 * W_MAX * f_plus * math.exp(-dt / 17e-3)
    else:
        expected = w0 - 0.007 * W_MAX * f_minus * math.exp(dt / 34e-3)
    assert net.weights(W)[0, 0] == pytest.approx(expected, rel=1e-13, abs=0)


def test_delay_pairs_the_post_spike_with_the_arrival():
    r = STDP(w_max=W_MAX, A_plus=0.02, A_minus=0.02)
    # the pre spike at 100 ms arrives at 103 ms: a post spike at 102 ms comes first (depression)
    net, W = pair_network([0.1], [0.102], r, delay=3e-3)
    net.run(0.2)
    expected = 0.5 * W_MAX - 0.02 * W_MAX * math.exp(-1e-3 / 20e-3)
    assert net.weights(W)[0, 0] == pytest.approx(expected, rel=1e-13)


@pytest.mark.parametrize("interaction", ["all", "nearest"])
def test_all_to_all_and_nearest_spike_on_triplets(interaction):
    r = STDP(w_max=W_MAX, A_plus=0.01, A_minus=0.012, interaction=interaction)
    # pre-pre-post: all-to-all pairs the post with both pre spikes, nearest with the last one
    net, W = pair_network([0.100, 0.110], [0.115], r)
    net.run(0.2)
    both = math.exp(-15e-3 / 20e-3) + math.exp(-5e-3 / 20e-3)
    x = both if interaction == "all" else math.exp(-5e-3 / 20e-3)
    assert net.weights(W)[0, 0] == pytest.approx(0.5 * W_MAX + 0.01 * W_MAX * x, rel=1e-13)
    # post-post-pre: depression from both posts, or from the nearest one
    net, W = pair_network([0.120], [0.100, 0.112], r)
    net.run(0.2)
    both = math.exp(-20e-3 / 20e-3) + math.exp(-8e-3 / 20e-3)
    x = both if interaction == "all" else math.exp(-8e-3 / 20e-3)
    assert net.weights(W)[0, 0] == pytest.approx(0.5 * W_MAX - 0.012 * W_MAX * x, rel=1e-13)
    # pre-post-post: the (nearest) pre spike pairs with both posts under either rule
    net, W = pair_network([0.100], [0.104, 0.109], r)
    net.run(0.2)
    x = math.exp(-4e-3 / 20e-3) + math.exp(-9e-3 / 20e-3)
    assert net.weights(W)[0, 0] == pytest.approx(0.5 * W_MAX + 0.01 * W_MAX * x, rel=1e-13)


@pytest.mark.parametrize("rule", ["additive", "multiplicative", 0.5])
def test_bounds_hold_and_are_reached_by_additive_stdp(rule):
    lo, hi = 2e-12, 8e-12
    r = STDP(w_min=lo, w_max=hi, A_plus=0.4, A_minus=0.4, rule=rule)
    up = np.arange(0.1, 0.5, 0.02)
    net, W = pair_network(up, up + 1e-3, r, w0=5e-12)
    ds = net.run(0.6, weights=Monitor())
    w = ds.weight.values[:, 0]
    assert w.min() >= lo and w.max() <= hi
    # pairs 1 ms apart every 20 ms: each cycle potentiates more than it depresses
    if rule == "additive":
        assert w[-1] == hi
    else:
        assert 5e-12 < w[-1] <= hi
        if rule == "multiplicative":       # soft bounds: approached, never reached
            assert w[-1] < hi
    net, W = pair_network(up + 1e-3, up, r, w0=5e-12)
    ds = net.run(0.6, weights=Monitor())
    w = ds.weight.values[:, 0]
    assert w.min() >= lo and w.max() <= hi
    if rule == "additive":
        assert w[-1] == lo
    else:
        assert lo <= w[-1] < 5e-12
        if rule == "multiplicative":
            assert w[-1] > lo


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("rule, interaction", [("additive", "all"), ("multiplicative", "nearest"),
                                               (0.3, "all")])
def test_kernel_matches_event_by_event_reference_on_random_networks(seed, rule, interaction):
    """Generator inputs and recurrent neurons, both plastic, with random delays: every final
    weight equals the reference's replay of that synapse's arrivals and post spikes."""
    gen = np.random.default_rng(seed)
    n_in, n = 6, 8
    times = np.sort(gen.uniform(0, 0.3, 120))
    chans = gen.integers(0, n_in, times.size)
    net = Network(DT, seed=seed)
    neurons = net.add(LIF(n, tau_e=3e-3, t_ref=2e-3, v0=(-70e-3, -50e-3),
                          I=gen.uniform(0, 3e-10, n)))
    inputs = net.add(SpikeGeneratorGroup(n_in, times, chans))
    r_in = STDP(w_max=3e-10, w_min=1e-11, A_plus=0.05, A_minus=0.06, tau_plus=15e-3,
                tau_minus=25e-3, rule=rule, interaction=interaction)
    r_rec = STDP(w_max=1e-10, A_plus=0.03, A_minus=0.02, rule=rule, interaction=interaction)
    W_in = sp.random(n, n_in, density=0.6, random_state=seed, format="csr",
                     data_rvs=lambda k: gen.uniform(1.1e-11, 2.9e-10, k))
    W_in = net.connect(inputs, neurons, W_in, plasticity=r_in, delay=(0.0, 2e-3))
    W_rec = net.connect(neurons, neurons, p=0.4, weights=5e-11, plasticity=r_rec,
                        delay=(0.5e-3, 3e-3))
    D = {k: pr.D for k, pr in enumerate(net.projections)}
    ds = net.run(0.35)
    assert ds.sizes["spike"] > 20
    post_steps = {i: [] for i in range(n)}
    for t, i in zip(ds.spike_time.values, ds.spike_neuron.values):
        post_steps[int(i)].append(int(round(t / DT)))
    pre_in = {c: steps(times[chans == c]) for c in range(n_in)}
    for Wk, pre_steps, rule_k, k in ((W_in, pre_in, r_in, 0), (W_rec, post_steps, r_rec, 1)):
        final = net.weights(Wk)
        Dk = sp.csr_array(D[k])
        for i in range(n):
            for a in range(Wk.indptr[i], Wk.indptr[i + 1]):
                j = Wk.indices[a]
                d = int(Dk[i, j])
                arrivals = [s + d for s in pre_steps[j] if s + d < 3500]   # arrived by the end
                expected = naive(arrivals, post_steps[i], Wk.data[a], rule_k)
                assert final[i, j] == pytest.approx(expected, rel=1e-11, abs=1e-24), (k, i, j)


def test_song_miller_abbott_weights_become_bimodal():
    """Brian2's STDP example (Song et al. 2000): 1000 Poisson inputs at 15 Hz, additive STDP,
    100 s (as the example; the kernel takes about 2 s). The uniform initial weights split: the
    outer tenths of [0, w_max] each end up holding at least 2.5x any middle bin."""
    net, W = song2000(1000, seed=3)
    w0 = net.weights(W).data.copy()
    h0 = np.histogram(w0, bins=10, range=(0, 1e-10))[0]
    assert h0.min() > 60                     # uniform at the start
    ds = net.run(100.0, spikes=False, weights=Monitor(every=100_000, index=np.arange(0, 1000, 10)))
    w = net.weights(W).data / 1e-10
    h = np.histogram(w, bins=10, range=(0, 1))[0]
    assert min(h[0], h[-1]) > 2.5 * h[3:7].max(), h
    assert w.min() >= 0 and w.max() <= 1
    # the monitor: every 10 s, synapses 0, 10, ..., read at the start of the recorded steps
    assert ds.sizes["weight_time"] == 10 and ds.sizes["synapse"] == 100
    np.testing.assert_allclose(ds.weight_time.values, np.arange(10) * 10.0 + ds.attrs["t_start"])
    np.testing.assert_array_equal(ds.weight.values[0], w0[::10])


def test_weight_monitor_stride_index_and_coordinates():
    r = STDP(w_max=W_MAX)
    net = Network(DT, seed=4)
    g = net.add(LIF(3, I=2.5e-10))
    src = net.add(PoissonGroup(5, 50.0))
    net.connect(src, g, np.full((3, 5), 1e-12))                   # static: not numbered
    W = net.connect(src, g, p=0.7, weights=4e-12, plasticity=r)
    ds = net.run(0.05, weights=Monitor(every=7, index=[0, 2, 3]), chunk=60)
    assert ds.sizes["weight_time"] == len(range(0, 500, 7))
    np.testing.assert_allclose(ds.weight_time.values, np.arange(0, 500, 7) * DT)
    rows = np.repeat(np.arange(3), np.diff(W.indptr))
    np.testing.assert_array_equal(ds.synapse_post.values, rows[[0, 2, 3]])
    np.testing.assert_array_equal(ds.synapse_pre.values, W.indices[[0, 2, 3]])
    np.testing.assert_array_equal(ds.synapse_projection.values, [1, 1, 1])
    assert ds.weight.attrs["units"] == "A"
    rules = json.loads(ds.attrs["plasticity"])               # the rules, with their parameters
    assert [r["index"] for r in rules] == [1] and rules[0]["stdp"]["w_max"] == W_MAX
    # chunking does not change the records
    net2 = Network(DT, seed=4)
    g = net2.add(LIF(3, I=2.5e-10))
    src = net2.add(PoissonGroup(5, 50.0))
    net2.connect(src, g, np.full((3, 5), 1e-12))
    net2.connect(src, g, p=0.7, weights=4e-12, plasticity=r)
    ds2 = net2.run(0.05, weights=Monitor(every=7, index=[0, 2, 3]))
    np.testing.assert_array_equal(ds.weight.values, ds2.weight.values)
    np.testing.assert_array_equal(ds.spike_time.values, ds2.spike_time.values)


def _song_weights(seed, T):
    net, W = song2000(200, seed=seed, learning_rate=3.0)
    net.run(T, spikes=False)
    return net.weights(W).data


def test_same_seed_same_weights_whatever_the_thread_count():
    a = _song_weights(5, 2.0)
    np.testing.assert_array_equal(a, _song_weights(5, 2.0))
    assert not np.array_equal(a, _song_weights(6, 2.0))
    code = ("import numpy as np, sys; sys.path.insert(0, %r); from test_stdp import _song_weights;"
            "np.save(sys.argv[1], _song_weights(5, 2.0))" % os.path.dirname(__file__))
    out = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"stdp_threads_{os.getpid()}.npy")
    env = {**os.environ, "NUMBA_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-c", code, out], check=True, env=env, timeout=600)
    np.testing.assert_array_equal(a, np.load(out))
    os.remove(out)


def test_save_load_and_store_restore_continue_exactly(tmp_path):
    def build():
        net = Network(DT, seed=7)
        g = net.add(LIF(4, I=2.2e-10, synapse="conductance", v0=(-70e-3, -50e-3)))
        src = net.add(PoissonGroup(20, 40.0))
        W = net.connect(src, g, p=0.5, weights=5e-10,
                        plasticity=STDP(w_max=1e-9, A_plus=0.05, A_minus=0.05,
                                        interaction="nearest"), delay=(0, 2e-3))
        net.connect(g, g, p=0.5, weights=2e-10, plasticity=STDP(w_max=5e-10, rule="multiplicative"))
        return net, W
    net, W = build()
    net.run(0.2)
    net.save(tmp_path / "net.nc")
    ref = net.run(0.2, weights=Monitor(every=10))
    w_ref = net.weights(W)
    loaded = Network.load(tmp_path / "net.nc")
    again = loaded.run(0.2, weights=Monitor(every=10))
    np.testing.assert_array_equal(again.spike_time.values, ref.spike_time.values)
    np.testing.assert_array_equal(again.weight.values, ref.weight.values)
    np.testing.assert_array_equal(loaded.weights(0).toarray(), w_ref.toarray())
    # store / restore: the same run twice
    net2, W2 = build()
    net2.run(0.2)
    net2.store()
    first = net2.run(0.2, weights=Monitor(every=10))
    net2.restore()
    second = net2.run(0.2, weights=Monitor(every=10))
    np.testing.assert_array_equal(first.weight.values, second.weight.values)
    np.testing.assert_array_equal(first.spike_time.values, second.spike_time.values)
    np.testing.assert_array_equal(first.weight.values, ref.weight.values)


def test_bad_plasticity_input_gives_value_errors_naming_the_argument():
    with pytest.raises(ValueError, match="A_plus"):
        STDP(w_max=1e-9, A_plus=-0.01)
    with pytest.raises(ValueError, match="A_minus"):
        STDP(w_max=1e-9, A_minus=-0.01)
    with pytest.raises(ValueError, match="A_plus"):
        STDP(w_max=1e-9, A_plus=5.0)                     # a fraction, not a weight
    with pytest.raises(ValueError, match="tau_plus"):
        STDP(w_max=1e-9, tau_plus=-1e-3)
    with pytest.raises(ValueError, match="tau_minus"):
        STDP(w_max=1e-9, tau_minus=20.0 * 1000)          # milliseconds given as seconds
    with pytest.raises(ValueError, match="w_min"):
        STDP(w_min=1e-9, w_max=1e-10)                    # inverted bounds
    with pytest.raises(ValueError, match="rule"):
        STDP(w_max=1e-9, rule="hebbian")
    with pytest.raises(ValueError, match="rule"):
        STDP(w_max=1e-9, rule=2.0)
    with pytest.raises(ValueError, match="interaction"):
        STDP(w_max=1e-9, interaction="some")
    with pytest.raises(TypeError, match="w_max"):
        STDP()
    net = Network(DT)
    g = net.add(LIF(2, synapse="conductance"))
    src = net.add(PoissonGroup(3, 10.0))
    with pytest.raises(ValueError, match="weights"):
        net.connect(src, g, p=1.0, weights=2e-9, plasticity=STDP(w_max=1e-9))
    with pytest.raises(ValueError, match="w_min"):
        net.connect(src, g, p=1.0, weights=1e-10, plasticity=STDP(w_min=-1e-9, w_max=1e-9))
    # STDP onto a group without postsynaptic spikes and trace (a source)
    with pytest.raises(ValueError, match="post"):
        net.connect(g, src, p=1.0, weights=1e-10, plasticity=STDP(w_max=1e-9))
    with pytest.raises(TypeError, match="plasticity"):
        net.connect(src, g, p=1.0, weights=1e-10, plasticity="stdp")
    with pytest.raises(ValueError, match="weights"):
        net.run(0.01, weights=Monitor())                # nothing plastic to record
    net.connect(src, g, p=1.0, weights=1e-10, plasticity=STDP(w_max=1e-9))
    with pytest.raises(ValueError, match="index"):
        net.run(0.01, weights=Monitor(index=[6]))
    with pytest.raises(ValueError, match="projection"):
        net.weights(3)
