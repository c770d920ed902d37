"""NIR import and export of spiking networks: NIR's equations solved exactly (closed forms and a
plain step-by-step reference), snnTorch's conventions, round trips through .nir files with the
same spikes, and a clear error for everything that does not map."""
import subprocess
import sys
import warnings

import numpy as np
import pytest

nir = pytest.importorskip("nir")

from neurosim import backend, config  # noqa: E402
from neurosim.record import Monitor  # noqa: E402
from neurosim.spiking import (LIF, Izhikevich, Network, PoissonGroup,  # noqa: E402
                              SpikeGeneratorGroup)
from neurosim.spiking.nir import FAST, NEVER, from_nir, to_nir  # noqa: E402

DT = 1e-4


def _a(*x):
    return np.array(x, dtype=float)


def _graph(nodes, edges):
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def _by_name(net):
    return {g.name: g for g in net.groups + net.sources}


def _drive(net, name, steps, neuron=None):
    """Input spikes of source ``name`` at the given steps (all to ``neuron`` or neuron 0)."""
    steps = np.asarray(steps)
    net.set_spikes(_by_name(net)[name], steps * net.dt,
                   np.zeros(steps.size, dtype=np.int64) if neuron is None else neuron)


def _run(net, duration, **kw):
    return net.run(duration, record=Monitor(every=1), **kw)


IN_STEPS = np.array([5, 9, 30, 31, 32, 60, 61, 62, 63, 64, 65, 66, 140])


# ------------------------------------------------------------------ NIR's equations, exactly
@pytest.mark.parametrize("spikes, area", [("pulse", DT), ("delta", 1.0)])
def test_cubalif_follows_its_closed_form(spikes, area):
    """tau_syn I' = -I + w_in W S, tau_mem v' = v_leak - v + r I, below threshold: the
    double-exponential response to spikes of area ``area`` arriving at (step + 1) dt."""
    tau_s, tau_m, r, v_leak, w_in, W = 3e-3, 12e-3, 2e7, -0.06, 1.7, 4e-9 * DT / area
    graph = _graph({"in": nir.Input(input_type={"input": np.array([1])}),
                    "w": nir.Linear(weight=np.array([[W]])),
                    "n": nir.CubaLIF(tau_syn=_a(tau_s), tau_mem=_a(tau_m), r=_a(r),
                                     v_leak=_a(v_leak), v_threshold=_a(1.0), v_reset=_a(0.0),
                                     w_in=_a(w_in))},
                   [("in", "w"), ("w", "n")])
    net = from_nir(graph, dt=DT, spikes=spikes)
    _drive(net, "in", IN_STEPS)
    ds = _run(net, 0.02, variables=("v", "syn_e"))
    t = ds.time.values
    J = w_in * W * area / tau_s               # NIR: the current's jump per spike
    arrivals = (IN_STEPS + 1) * DT
    lag = t[:, None] - arrivals[None, :]
    on = lag >= 0                               # I is recorded just after its jump
    I = (J * np.exp(-np.where(on, lag, 0) / tau_s) * on).sum(1)
    v = v_leak + (r * J * tau_s / (tau_s - tau_m) *
                  (np.exp(-np.where(on, lag, 0) / tau_s) - np.exp(-np.where(on, lag, 0) / tau_m))
                  * on).sum(1)
    np.testing.assert_allclose(ds.syn_e.values[:, 0], I, rtol=1e-9, atol=1e-22)
    np.testing.assert_allclose(ds.v.values[:, 0], v, rtol=0, atol=1e-12)
    assert v.max() - v_leak > 1e-3              # the input did move v
    assert ds.sizes["spike"] == 0


def _lif_reference(steps_in, jumps, n_steps, tau, v_leak, v_th, v_reset, dt=DT):
    """A LIF neuron with delta synapses, solved exactly between step ends: an input spike of
    step s makes v jump at (s + 1) dt; threshold looked at the end of each step."""
    arrive = np.zeros(n_steps + 2)
    np.add.at(arrive, np.asarray(steps_in) + 1, jumps)
    v, out, trace = v_leak, [], []
    for m in range(n_steps):
        trace.append(v)
        v = v_leak + (v + arrive[m] - v_leak) * np.exp(-dt / tau)
        if v > v_th:
            out.append(m)
            v = v_reset
    return np.array(out), np.array(trace)


@pytest.mark.parametrize("spikes", ["pulse", "delta"])
def test_lif_with_delta_synapses_matches_the_exact_solution(spikes):
    tau, r = 8e-3, 1e6
    W = 0.4 * tau / (r * (DT if spikes == "pulse" else 1.0))     # a jump of 0.4 V a spike
    graph = _graph({"in": nir.Input(input_type={"input": np.array([1])}),
                    "w": nir.Affine(weight=np.array([[W]]), bias=_a(0.0)),
                    "n": nir.LIF(tau=_a(tau), r=_a(r), v_leak=_a(0.0), v_threshold=_a(1.0),
                                 v_reset=_a(0.0)),
                    "out": nir.Output(output_type={"output": np.array([1])})},
                   [("in", "w"), ("w", "n"), ("n", "out")])
    with warnings.catch_warnings():
        warnings.simplefilter("error")           # the exact fast channel raises no dt warning
        net = from_nir(graph, dt=DT, spikes=spikes)
        _drive(net, "in", IN_STEPS)
        ds = _run(net, 0.02)
    jump = r * W * (DT if spikes == "pulse" else 1.0) / tau        # NIR: r W a / tau
    assert jump == pytest.approx(0.4)
    spk, trace = _lif_reference(IN_STEPS, jump, 200, tau, 0.0, 1.0, 0.0)
    np.testing.assert_array_equal(ds.spike_time.values, spk * DT)
    np.testing.assert_allclose(ds.v.values[:, 0], trace, rtol=0, atol=1e-12)
    assert spk.size >= 2


def test_if_integrates_without_leak():
    r, W = 2.0, 0.3 / (2.0 * DT)                  # each spike: v += r W dt = 0.3
    graph = _graph({"in": nir.Input(input_type={"input": np.array([2])}),
                    "w": nir.Linear(weight=np.array([[W, 0.0], [0.0, 2 * W]])),
                    "n": nir.IF(r=_a(r, r), v_threshold=_a(1.0, 1.0), v_reset=_a(0.0, 0.0))},
                   [("in", "w"), ("w", "n")])
    net = from_nir(graph, dt=DT)
    src = _by_name(net)["in"]
    steps = np.arange(10, 200, 10)
    net.set_spikes(src, np.repeat(steps, 2) * DT, np.tile([0, 1], steps.size))
    ds = _run(net, 0.025)
    v = ds.v.values
    # neuron 0: 0.3, 0.6, 0.9, 1.2 > 1 -> spike, reset to 0; neuron 1: 0.6, 1.2 -> spike
    counts = np.searchsorted(steps + 1, np.arange(v.shape[0]), side="left")
    np.testing.assert_allclose(v[:, 0], 0.3 * (counts % 4), atol=1e-12)
    np.testing.assert_allclose(v[:, 1], 0.6 * (counts % 2), atol=1e-12)
    n0 = ds.spike_time.values[ds.spike_neuron.values == 0]
    np.testing.assert_array_equal(np.rint(n0 / DT), steps[3::4] + 1)


def test_snntorch_conventions():
    """snnTorch writes r = tau/dt (Leaky) and w_in = tau_syn/dt (Synaptic): with the same dt a
    spike through weight W moves v, or the synaptic current, by W."""
    tau, tau_s, W = 5e-3, 2e-3, 0.25
    graph = _graph({"input": nir.Input(input_type={"input": np.array([1])}),
                    "fc1": nir.Affine(weight=np.array([[W]]), bias=_a(0.0)),
                    "lif1": nir.LIF(tau=_a(tau), r=_a(tau / DT), v_leak=_a(0.0),
                                    v_threshold=_a(1.0), v_reset=_a(0.0)),
                    "fc2": nir.Linear(weight=np.array([[W]])),
                    "syn": nir.CubaLIF(tau_syn=_a(tau_s), tau_mem=_a(tau), r=_a(tau / DT),
                                       v_leak=_a(0.0), v_threshold=_a(1e9), v_reset=_a(0.0),
                                       w_in=_a(tau_s / DT)),
                    "fc3": nir.Linear(weight=np.array([[W]]))},
                   [("input", "fc1"), ("fc1", "lif1"), ("input", "fc3"), ("fc3", "syn")])
    net = from_nir(graph, dt=DT)
    _drive(net, "input", [3])
    ds = _run(net, 1e-3, variables=("v", "syn_e"))
    lif = ds.v.values[:, 0]
    # jumped by W, then one step of decay
    assert lif[5] == pytest.approx(W * np.exp(-DT / tau), rel=1e-12)
    assert ds.syn_e.values[5, 1] == pytest.approx(W * np.exp(-DT / tau_s), rel=1e-12)
    assert net.groups[1].tau_e == tau_s and net.groups[0].tau_e == FAST * DT


def test_heterogeneous_r_w_in_v_leak_and_bias():
    """Per-neuron r, w_in, v_leak and Affine biases become row factors and currents: each
    neuron follows its own closed form (no input spikes: v relaxes to v_leak + r w_in b)."""
    n = 3
    r, w_in = _a(1e7, 2e7, 5e6), _a(1.0, 0.5, 2.0)
    v_leak, b = _a(-0.07, -0.065, -0.06), _a(1e-10, -2e-10, 3e-10)
    tau_m = 10e-3
    graph = _graph({"in": nir.Input(input_type={"input": np.array([1])}),
                    "w": nir.Affine(weight=np.zeros((n, 1)), bias=b),
                    "n": nir.CubaLIF(tau_syn=np.full(n, 2e-3), tau_mem=np.full(n, tau_m), r=r,
                                     v_leak=v_leak, v_threshold=np.full(n, 1.0),
                                     v_reset=np.zeros(n), w_in=w_in)},
                   [("in", "w"), ("w", "n")])
    net = from_nir(graph, dt=DT)
    ds = _run(net, 0.01)
    t = ds.time.values[:, None]
    target = v_leak + r * w_in * b          # the bias current at its steady state
    expect = target + (v_leak - target) * np.exp(-t / tau_m)
    np.testing.assert_allclose(ds.v.values, expect, rtol=0, atol=1e-12)


def test_time_unit_reads_milliseconds():
    def graph(scale):
        return _graph({"in": nir.Input(input_type={"input": np.array([1])}),
                       "w": nir.Linear(weight=np.array([[3e-10]])),
                       "d": nir.Delay(delay=_a(2e-3 / scale)),
                       "n": nir.CubaLIF(tau_syn=_a(4e-3 / scale), tau_mem=_a(1e-2 / scale),
                                        r=_a(1e8), v_leak=_a(0.0), v_threshold=_a(5e-3),
                                        v_reset=_a(0.0), w_in=_a(4e-3 / DT))},
                      [("in", "d"), ("d", "w"), ("w", "n")])
    runs = []
    for scale in (1.0, 1e-3):
        net = from_nir(graph(scale), dt=DT, time_unit=scale)
        _drive(net, "in", IN_STEPS)
        runs.append(_run(net, 0.02))
    np.testing.assert_allclose(runs[1].v.values, runs[0].v.values, rtol=1e-12, atol=1e-15)
    assert runs[0].sizes["spike"] > 0
    np.testing.assert_array_equal(runs[1].spike_time.values, runs[0].spike_time.values)


# ------------------------------------------------------------------ round trips
def _network(current=True, seed=0):
    net = Network(DT, seed=seed)
    g = np.random.default_rng(1)
    src = net.add(SpikeGeneratorGroup(20, np.sort(g.random(150) * 0.1), g.integers(0, 20, 150),
                                      name="input"))
    a = net.add(LIF(30, t_ref=0.0, tau_e=3e-3, v_th=-0.055, v_reset=-0.07, name="a"))
    b = net.add(LIF(25, t_ref=0.0, tau_e=4e-3, tau_i=8e-3, name="b",
                    I=np.linspace(0, 6e-11, 25) if current else 0.0))
    c = net.add(LIF(5, t_ref=1e-4, tau_i=6e-3))          # unnamed, inhibitory channel only
    net.connect(src, a, p=0.3, weights=3e-10)
    net.connect(a, b, p=0.3, weights=2e-10, delay=(0.0, 2e-3))
    net.connect(b, b, p=0.2, weights=-1.5e-10, channel="i")
    net.connect(b, a, p=0.1, weights=1e-10, delay=1e-3)
    net.connect(b, c, p=0.5, weights=4e-10, channel="i")
    return net, src


@pytest.mark.parametrize("current", [False, True])
def test_round_trip_through_a_file_gives_the_same_spikes(tmp_path, current):
    net, src = _network(current)
    graph = to_nir(net)
    nir.write(tmp_path / "net.nir", graph)
    back = nir.read(tmp_path / "net.nir")                 # type-checked by nir
    assert set(back.nodes) == set(graph.nodes)
    assert type(back.nodes["a"]) is nir.CubaLIF and type(back.nodes["b"]) is nir.LIF
    assert type(back.nodes["b_syn_i"]) is nir.LI and type(back.nodes["group2"]) is nir.CubaLIF
    assert any(isinstance(v, nir.Delay) for v in back.nodes.values())
    net2 = from_nir(tmp_path / "net.nir", dt=DT)
    net2.set_spikes(_by_name(net2)["input"], src.times, src.indices)
    ds1, ds2 = _network(current)[0].run(0.15), net2.run(0.15)
    assert ds1.sizes["spike"] > 500
    np.testing.assert_array_equal(ds2.spike_time.values, ds1.spike_time.values)
    np.testing.assert_array_equal(ds2.spike_neuron.values, ds1.spike_neuron.values)
    for g1, g2 in zip(net.groups, net2.groups):
        for key in ("tau_m", "R", "v_th", "v_reset", "v_rest"):
            assert getattr(g2, key) == getattr(g1, key), key
    assert net2.n_synapses == net.n_synapses


def test_nir_to_neurosim_to_nir_keeps_the_graph():
    n_in, n_h, n_out = 4, 6, 3
    g = np.random.default_rng(3)
    W1, W2, Wr = g.normal(size=(n_h, n_in)), g.normal(size=(n_out, n_h)), g.normal(size=(n_h, n_h))
    graph = _graph({"input": nir.Input(input_type={"input": np.array([n_in])}),
                    "fc1": nir.Linear(weight=W1),
                    "lif1": nir.LIF(tau=np.full(n_h, 5e-3), r=np.full(n_h, 50.0),
                                    v_leak=np.zeros(n_h), v_threshold=np.ones(n_h),
                                    v_reset=np.zeros(n_h)),
                    "rec": nir.Linear(weight=Wr),
                    "fc2": nir.Linear(weight=W2),
                    "li": nir.LI(tau=np.full(n_out, 1e-2), r=np.full(n_out, 2.0),
                                 v_leak=np.zeros(n_out)),
                    "output": nir.Output(output_type={"output": np.array([n_out])})},
                   [("input", "fc1"), ("fc1", "lif1"), ("lif1", "rec"), ("rec", "lif1"),
                    ("lif1", "fc2"), ("fc2", "li"), ("li", "output")])
    net = from_nir(graph, dt=DT)
    assert net.groups[1].v_th == NEVER
    back = to_nir(net)
    assert type(back.nodes["lif1"]) is nir.LIF and type(back.nodes["li"]) is nir.LI
    np.testing.assert_allclose(back.nodes["lif1"].tau, 5e-3)
    np.testing.assert_allclose(back.nodes["li"].r, 2.0)
    np.testing.assert_allclose(back.nodes["input_to_lif1_0"].weight, W1, rtol=1e-12)
    np.testing.assert_allclose(back.nodes["lif1_to_lif1_1"].weight, Wr, rtol=1e-12)
    np.testing.assert_allclose(back.nodes["lif1_to_li_2"].weight, W2, rtol=1e-12)


def test_nested_graph_like_snntorch_recurrent_layers():
    n = 3
    inner = nir.NIRGraph(nodes={
        "input": nir.Input(input_type={"input": np.array([n])}),
        "lif": nir.LIF(tau=np.full(n, 4e-3), r=np.full(n, 40.0), v_leak=np.zeros(n),
                       v_threshold=np.ones(n), v_reset=np.zeros(n)),
        "w_rec": nir.Linear(weight=0.5 * np.eye(n)),
        "output": nir.Output(output_type={"output": np.array([n])})},
        edges=[("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")],
        type_check=False)
    flat = nir.NIRGraph(nodes={
        "lif": nir.LIF(tau=np.full(n, 4e-3), r=np.full(n, 40.0), v_leak=np.zeros(n),
                       v_threshold=np.ones(n), v_reset=np.zeros(n)),
        "w_rec": nir.Linear(weight=0.5 * np.eye(n))},
        edges=[("lif", "w_rec"), ("w_rec", "lif")], type_check=False)
    outer = {"input": nir.Input(input_type={"input": np.array([2])}),
             "fc": nir.Linear(weight=np.array([[30.0, 0.0], [0.0, 30.0], [15.0, 15.0]])),
             "output": nir.Output(output_type={"output": np.array([n])})}
    runs = []
    for rnn, into, out in ((inner, "rnn", "rnn.output"), (flat, "rnn.lif", "rnn.lif")):
        graph = _graph({**outer, "rnn": rnn}, [("input", "fc"), ("fc", into), (out, "output")])
        net = from_nir(graph, dt=DT)
        src = _by_name(net)["input"]
        net.set_spikes(src, np.arange(5, 300, 7) * DT, np.arange(5, 300, 7) % 2)
        runs.append(net.run(0.03))
        assert [g.name for g in net.groups] == ["rnn.lif"]
    assert runs[0].sizes["spike"] > 10
    np.testing.assert_array_equal(runs[0].spike_time.values, runs[1].spike_time.values)


# ------------------------------------------------------------------ what does not map
def test_export_refuses_what_nir_cannot_express():
    def net_with(group=None, source=None, **kw):
        net = Network(DT)
        net.add(source or SpikeGeneratorGroup(2, [], np.empty(0, dtype=np.int64)))
        net.add(group or LIF(2, t_ref=0.0))
        for k, v in kw.items():
            setattr(net.groups[0], k, v)
        return net
    cases = [
        (net_with(source=PoissonGroup(2, 5.0)), "PoissonGroup"),
        (net_with(Izhikevich(2)), "Izhikevich"),
        (net_with(LIF(2, t_ref=0.0, synapse="conductance")), "conductance"),
        (net_with(LIF(2, t_ref=2e-3)), "t_ref"),
        (net_with(LIF(2, t_ref=0.0, I=np.zeros((3, 2)), I_dt=1e-3)), "time-varying"),
    ]
    for net, match in cases:
        with pytest.raises(ValueError, match=match):
            to_nir(net)
    with pytest.raises(TypeError, match="network"):
        to_nir("net")
    with pytest.raises(ValueError, match="spikes"):
        to_nir(net_with(), spikes="boxcar")
    with pytest.raises(ValueError, match="time_unit"):
        to_nir(net_with(), time_unit=0)
    to_nir(net_with(LIF(2, t_ref=DT)))       # t_ref of one step holds nothing: exported


def _lif(n=2, **kw):
    p = dict(tau=np.full(n, 1e-2), r=np.ones(n), v_leak=np.zeros(n), v_threshold=np.ones(n),
             v_reset=np.zeros(n))
    p.update(kw)
    return nir.LIF(**p)


def _li(n=2, **kw):
    p = dict(tau=np.full(n, 1e-2), r=np.ones(n), v_leak=np.zeros(n))
    p.update(kw)
    return nir.LI(**p)


IN = {"in": nir.Input(input_type={"input": np.array([2])})}


@pytest.mark.parametrize("nodes, edges, match", [
    ({**IN, "c": nir.Conv1d(input_shape=2, weight=np.ones((1, 1, 1)), stride=1, padding=0,
                            dilation=1, groups=1, bias=np.zeros(1))}, [("in", "c")], "Conv1d"),
    ({**IN, "t": nir.Threshold(threshold=np.ones(2))}, [("in", "t")], "Threshold"),
    ({**IN, "w": nir.Linear(weight=np.eye(2)),
      "out": nir.Output(output_type={"output": np.array([2])})},
     [("in", "w"), ("w", "out")], "Output node 'out' reads 'w'"),
    ({**IN, "n": _lif(tau=_a(1e-2, 2e-2))}, [("in", "n")], "tau differs"),
    ({**IN, "n": _lif(v_threshold=_a(1.0, 2.0))}, [("in", "n")], "v_threshold differs"),
    ({**IN, "a": _li(), "b": _li(tau=np.full(2, 2e-2)), "n": _lif()},
     [("in", "a"), ("in", "b"), ("in", "n"), ("a", "n"), ("b", "n")], "3 differently filtered"),
    ({**IN, "d": nir.Delay(delay=np.full(2, 1.5e-4)), "n": _lif()}, [("in", "d"), ("d", "n")],
     "whole numbers of steps"),
    ({**IN, "w": nir.Affine(weight=np.eye(2), bias=np.ones(2)),
      "n": nir.IF(r=np.ones(2), v_threshold=np.ones(2), v_reset=np.zeros(2))},
     [("in", "w"), ("w", "n")], "constant input"),
    ({**IN, "a": _li(), "w": nir.Linear(weight=np.eye(2)), "n": _lif()},
     [("in", "a"), ("a", "w"), ("w", "n")], "membrane signal"),
    ({**IN, "a": _li(), "b": _li(), "n": _lif()}, [("in", "a"), ("a", "b"), ("b", "n")],
     "doubly filtered"),
    ({**IN, "w": nir.Linear(weight=np.eye(2)), "v": nir.Linear(weight=np.eye(2)), "n": _lif()},
     [("in", "w"), ("w", "v"), ("v", "w"), ("v", "n")], "loop"),
    ({**IN, "w": nir.Linear(weight=np.ones((2, 3))), "n": _lif()}, [("in", "w"), ("w", "n")],
     "takes 3 values"),
    ({**IN, "n": _lif(v_reset=np.full(2, 2.0))}, [("in", "n")], "node 'n' \\(LIF\\): v_reset"),
    ({**IN, "d1": nir.Delay(delay=_a(0.0, 1e-4)), "w": nir.Linear(weight=np.eye(2)),
      "d2": nir.Delay(delay=_a(0.0, 1e-4)), "v": nir.Linear(weight=np.eye(2)), "n": _lif()},
     [("in", "w"), ("w", "d2"), ("d2", "v"), ("v", "n")], "delay every signal alike"),
])
def test_import_refuses_what_neurosim_cannot_run(nodes, edges, match):
    with pytest.raises(ValueError, match=match):
        from_nir(_graph(nodes, edges), dt=DT)


def test_import_argument_checks():
    graph = _graph({**IN, "n": _lif()}, [("in", "n")])
    with pytest.raises(TypeError, match="graph"):
        from_nir({"in": 1}, dt=DT)
    with pytest.raises(ValueError, match="dt"):
        from_nir(graph, dt=0)
    with pytest.raises(ValueError, match="spikes"):
        from_nir(graph, dt=DT, spikes="rect")
    with pytest.raises(ValueError, match="not in the graph"):
        from_nir(_graph({**IN, "n": _lif()}, [("in", "m")]), dt=DT)


def test_delays_on_either_side_of_the_weights():
    """A Delay per presynaptic neuron before the weights and one per postsynaptic neuron after
    them add up per synapse."""
    W = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]) * 1e-3 / DT
    graph = _graph({**IN, "pre": nir.Delay(delay=_a(2 * DT, 5 * DT)), "w": nir.Linear(weight=W),
                    "post": nir.Delay(delay=_a(0.0, 1 * DT, 3 * DT)), "n": _lif(3, r=np.ones(3))},
                   [("in", "pre"), ("pre", "w"), ("w", "post"), ("post", "n")])
    net = from_nir(graph, dt=DT)
    src = _by_name(net)["in"]
    net.set_spikes(src, [10 * DT, 10 * DT], [0, 1])
    ds = _run(net, 3e-3)
    arrival = {0: 10 + 1 + 2, 1: 10 + 1 + 5 + 1, 2: 10 + 1 + 2 + 3}   # first input of neuron k
    for k, s in arrival.items():
        v = ds.v.values[:, k]
        assert v[s] == 0 and v[s + 1] > 0, k


def test_import_neurosim_leaves_nir_out():
    code = "import sys, neurosim, neurosim.spiking; print('nir' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.cuda
@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:Grid size:numba.core.errors.NumbaPerformanceWarning")
@pytest.mark.skipif(not backend.cuda_available(), reason="no CUDA GPU and no CUDA simulator")
def test_imported_network_on_cuda(monkeypatch):
    monkeypatch.setattr(config, "SPIKING_CUDA_THREADS", 64)
    monkeypatch.setattr(config, "SPIKING_CUDA_DELIVERY_THREADS", 8)
    monkeypatch.setattr(config, "SPIKING_CUDA_LANES", 4)
    monkeypatch.setattr(config, "SPIKING_CUDA_DELIVERY_BLOCKS", 2)
    graph = _graph({**IN, "w": nir.Linear(weight=np.diag([0.4, 0.7]) * 1e-2 / DT), "n": _lif()},
                   [("in", "w"), ("w", "n")])
    runs = []
    for b in ("cpu", "cuda"):
        net = from_nir(graph, dt=DT, backend=b)
        net.set_spikes(_by_name(net)["in"], np.repeat(np.arange(3, 150, 4), 2) * DT,
                       np.tile([0, 1], 37))
        runs.append(_run(net, 0.02))
    assert runs[0].sizes["spike"] > 3
    np.testing.assert_array_equal(runs[1].spike_time.values, runs[0].spike_time.values)
    np.testing.assert_allclose(runs[1].v.values, runs[0].v.values, rtol=0, atol=1e-12)


def test_generated_node_names_never_overwrite_a_group():
    net = Network(DT)
    src = net.add(SpikeGeneratorGroup(2, [1e-3, 2e-3], [0, 1], name="b_syn_e"))
    a = net.add(LIF(2, t_ref=0.0, name="a_out"))
    b = net.add(LIF(2, t_ref=0.0, tau_i=7e-3, name="b"))
    c = net.add(LIF(2, t_ref=0.0, name="a"))
    d = net.add(LIF(2, t_ref=0.0, name="a"))            # the same name twice
    net.connect(src, b, np.eye(2) * 1e-9)
    net.connect(c, b, np.eye(2) * 1e-9, channel="i")
    net.connect(src, a, np.eye(2) * 1e-9)
    net.connect(d, a, np.eye(2) * 1e-9)
    graph = to_nir(net)
    assert type(graph.nodes["b_syn_e"]) is nir.Input and type(graph.nodes["a_out"]) is nir.CubaLIF
    assert type(graph.nodes["b_syn_e_2"]) is nir.LI
    assert type(graph.nodes["a_2"]) is nir.LIF            # no input: no synapse
    assert sum(isinstance(v, nir.Output) for v in graph.nodes.values()) == 4
    assert len(graph.nodes) == 5 + 2 + 4 + 4           # groups, LI channels, Linear, Output
    back = from_nir(graph, dt=DT)
    assert [g.name for g in back.groups] == ["a_out", "b", "a", "a_2"]


def test_export_refuses_plastic_synapses():
    import neurosim.spiking as spiking
    if not hasattr(spiking, "STDP"):
        pytest.skip("this neurosim has no plasticity")
    net = Network(DT)
    src = net.add(SpikeGeneratorGroup(3, [], np.empty(0, dtype=np.int64)))
    post = net.add(LIF(2, t_ref=0.0))
    net.connect(src, post, np.full((2, 3), 1e-10), plasticity=spiking.STDP(w_max=1e-9))
    with pytest.raises(ValueError, match="plastic"):
        to_nir(net)
