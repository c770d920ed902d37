"""The CUDA spiking twin with plasticity (STDP, STP), AdEx, Hodgkin-Huxley and user-defined
neurons, against the CPU kernel (the reference, itself tested against theory and solve_ivp in
test_stdp.py, test_stp.py and test_neurons.py), under a GPU or Numba's CUDA simulator.

Guarantees tested: the CPU's spikes exactly; state traces, weights, traces and STP variables
within 1e-12 (relative to their scale; under the simulator they are equal); weight monitors,
save/load and store/restore as on the CPU; what the twin cannot do is refused by name.
Networks of a few neurons and about a hundred steps: the simulator runs a Python thread per
GPU thread.
"""
import warnings

import numpy as np
import pytest
from numba import config as nb_config

from neurosim import config

from neurosim.kernels.plasticity import R_STDP
from neurosim.record import Monitor
from neurosim.spiking import (LIF, STDP, STP, AdEx, CustomNeurons, HodgkinHuxley, Izhikevich,
                              LiquidStateMachine, Network, PoissonGroup, SpikeGeneratorGroup)
from neurosim.spiking import synapses as _synapses
from test_spiking_cuda import cuda_test, tiny_grids  # noqa: F401 (the simulator's tiny grids)

DT = 1e-4
STATE = ("v", "u", "aux", "syn", "ref", "pstate", "gen_ptr")


def plastic(backend_, seed=3):
    """Poisson and generator sources and a recurrent group onto LIF and Izhikevich neurons
    through every rule: STDP all-to-all additive with delays, nearest-spike multiplicative,
    Guetig's mu, STP (depressing, facilitating) alone and with STDP, static beside them."""
    net = Network(DT, seed=seed, backend=backend_)
    src = net.add(PoissonGroup(12, 300.0, name="poisson"))
    gen = net.add(SpikeGeneratorGroup(3, np.arange(0, 12e-3, 0.7e-3),
                                      np.arange(18) % 3, name="gen"))
    lif = net.add(LIF(5, I=2.2e-10, v0=(-65e-3, -51e-3), t_ref=1e-3, name="lif"))
    izh = net.add(Izhikevich(4, synapse="conductance", I=6e-12, name="izh"))
    w = 5e-10
    net.connect(src, lif, p=0.7, weights="uniform", loc=0.5 * w, scale=0.5 * w, delay=(0.0, 1e-3),
                plasticity=STDP(w_max=2 * w, A_plus=0.05, A_minus=0.06))
    net.connect(gen, lif, p=1.0, weights=w, channel="i",
                plasticity=(STDP(w_max=2 * w, rule="multiplicative", interaction="nearest",
                                 A_plus=0.1, A_minus=0.1), STP(U=0.4, tau_rec=20e-3)))
    net.connect(lif, lif, p=0.5, weights=0.6 * w, delay=0.3e-3,
                plasticity=STDP(w_max=2 * w, rule=0.5, A_plus=0.2, A_minus=0.2))
    net.connect(src, izh, p=0.5, weights=2e-9, delay=(0.0, 0.5e-3),
                plasticity=STP(U=0.1, tau_rec=5e-3, tau_facil=30e-3))
    net.connect(lif, izh, p=0.5, weights=1e-9)
    return net


def both(make, duration, **run):
    """(cpu, cuda) (Dataset, network) pairs of ``make(backend)`` run for ``duration``."""
    out = []
    for b in ("cpu", "cuda"):
        net = make(b)
        out.append((net.run(duration, **run), net))
    return out


def assert_close(a, b, names, what):
    for name in names:
        x, y = getattr(a, name), getattr(b, name)
        if x is None:
            assert y is None, f"{what}.{name}"
            continue
        x, y = np.asarray(x), np.asarray(y)
        scale = max(float(np.abs(x).max(initial=0.0)), 1e-300)
        np.testing.assert_allclose(y, x, rtol=0, atol=1e-12 * scale, err_msg=f"{what}.{name}")


def assert_same_run(cpu, gpu, variables=("v",)):
    (da, na), (db, nb) = cpu, gpu
    assert da.attrs["backend"] == "cpu"
    np.testing.assert_array_equal(db.spike_time, da.spike_time)
    np.testing.assert_array_equal(db.spike_neuron, da.spike_neuron)
    for name in variables + (("weight",) if "weight" in da else ()):
        assert db[name].shape == da[name].shape, name
        scale = float(np.abs(da[name].values).max(initial=0.0))
        np.testing.assert_allclose(db[name], da[name], rtol=0, atol=1e-12 * scale, err_msg=name)
    assert_close(na, nb, STATE, "network")
    if getattr(na, "dyn_w", None) is not None:
        assert_close(na, nb, [k for k in _synapses.STATE if k not in ("hist", "hist_n")],
                     "network")
    assert nb.step == na.step


@cuda_test
def test_stdp_and_stp_on_cuda_are_the_cpus():
    cpu, gpu = both(plastic, 8e-3, record=Monitor(every=3), variables=("v", "syn_e", "syn_i"),
                    weights=Monitor(every=4))
    ds, net = cpu
    assert ds.sizes["spike"] > 15 and ds.sizes["synapse"] == net.pl_dyn.size
    w0 = plastic("cpu")
    w0.store()
    assert np.abs(net.dyn_w - w0.dyn_w).max() > 1e-12    # the rules did change the weights
    stdp = net.dyn_w[net.dyn_rules[net.dyn_proj, R_STDP] != 0]
    assert stdp.min() == 0.0 and stdp.max() == 1e-9       # and clipped some at both bounds
    assert (net.dyn_R < 1).any() and (net.dyn_u > 0).any()
    assert_same_run(cpu, gpu, ("v", "syn_e", "syn_i"))
    # the spike history of the delayed plastic synapses: the same sources per row (the CUDA
    # twin appends them in the order of its atomics)
    na, nb = cpu[1], gpu[1]
    np.testing.assert_array_equal(nb.hist_n, na.hist_n)
    for row, m in enumerate(na.hist_n):
        np.testing.assert_array_equal(np.sort(nb.hist[row, :m]), np.sort(na.hist[row, :m]))


@cuda_test
def test_a_cuda_run_saves_loads_and_restores_its_plastic_state(tmp_path):
    """Save after a CUDA run and load onto either backend, or store/restore on CUDA, and run
    on: the CPU's continuation (weights recorded on the way)."""
    ref = plastic("cpu")
    ref.run(4e-3)
    ds_ref = ref.run(3e-3, weights=Monitor(every=5))
    net = plastic("cuda")
    net.run(4e-3)
    net.save(tmp_path / "net.nc")
    net.store()
    first = net.run(3e-3, weights=Monitor(every=5))
    assert_same_run((ds_ref, ref), (first, net))
    net.restore()
    again = net.run(3e-3, weights=Monitor(every=5))
    assert_same_run((ds_ref, ref), (again, net))
    for b in ("cpu", "cuda"):
        back = Network.load(tmp_path / "net.nc", backend=b)
        assert_same_run((ds_ref, ref), (back.run(3e-3, weights=Monitor(every=5)), back))


@cuda_test
def test_plastic_run_refills_a_full_spike_buffer_as_the_cpu(monkeypatch):
    """8 neurons firing every step: the buffer (4 * 8 + 1024 spikes) fills after 131 steps and
    the kernel is called again within the chunk; plastic launches and weight rows go on."""
    monkeypatch.setattr(config, "SPIKING_SPIKE_BUFFER", 0)

    def make(b):
        net = Network(DT, seed=0, backend=b)
        g = net.add(LIF(8, t_ref=0.0, I=1e-6))
        net.connect(g, g, p=0.5, weights=1e-10, delay=(0.0, 0.3e-3),
                    plasticity=(STDP(w_max=3e-10, interaction="nearest"), STP(U=0.5)))
        return net
    cpu, gpu = both(make, 140 * DT, chunk=140, weights=Monitor(every=9))
    assert_same_run(cpu, gpu)
    assert gpu[0].sizes["spike"] == 8 * 140 and gpu[0].sizes["weight_time"] == 16


def qif(x, p, I, dt):
    """Quadratic integrate-and-fire with an adaptation current (three state variables)."""
    v, w, z = x[0], x[1], x[2]
    v_rest, v_c, tau, R = p[0], p[1], p[2], p[3]
    dv = ((v - v_rest) * (v - v_c) / (v_c - v_rest) + R * (I - w)) / tau
    v = v + dt * dv
    w = w - dt * w / p[6]
    z = z + dt * (v - z) / 5e-3
    if v >= p[4]:
        return (p[5], w + 2e-11, z), True
    return (v, w, z), False


def neurons(backend_, seed=5):
    """AdEx (current and conductance synapses; tonic and bursting parameters), Hodgkin-Huxley
    (COBAHH's) and a user model driven by Poisson sources and recurrent synapses."""
    net = Network(DT, seed=seed, backend=backend_)
    src = net.add(PoissonGroup(10, 400.0))
    groups = [
        net.add(AdEx(3, I=0.8e-9, v0=(-70e-3, -52e-3), name="adex")),
        net.add(AdEx(2, synapse="conductance", tau_w=20e-3, a=-0.5e-9, b=7e-12, v_reset=-47e-3,
                     I=0.5e-9, t_ref=0.3e-3, name="adex_g")),
        net.add(HodgkinHuxley(3, v0=(-65e-3, -50e-3), I=0.3e-9, name="hh")),
        net.add(CustomNeurons(3, qif, state={"v": (-66e-3, -55e-3), "w": 0.0, "z": -65e-3},
                              params={"v_rest": -65e-3, "v_c": -50e-3, "tau": 10e-3, "R": 1e8,
                                      "v_peak": 30e-3, "v_reset": -70e-3, "tau_w": 50e-3},
                              I=0.2e-9, t_ref=0.5e-3, synapse="conductance", name="qif")),
    ]
    for g in groups:
        w = 3e-9 if g.synapse == "conductance" else 2e-10
        net.connect(src, g, p=0.5, weights=w, delay=(0.0, 0.3e-3))
        net.connect(groups[0], g, p=0.6, weights=w, channel="i" if g is groups[2] else "e")
    return net


@cuda_test
def test_adex_hodgkin_huxley_and_user_models_on_cuda_are_the_cpus():
    # every model's own state variables by their names (AdEx w, HH m h n, the user's w z)
    variables = ("v", "w", "m", "h", "n", "z", "syn_e", "syn_i")
    cpu, gpu = both(neurons, 10e-3, record=Monitor(every=2), variables=variables)
    ds = cpu[0]
    counts = np.bincount(ds.spike_neuron, minlength=11)
    assert counts[:3].sum() and counts[3:5].sum() and counts[5:8].sum() and counts[8:].sum(), \
        counts
    assert_same_run(cpu, gpu, variables)


@cuda_test
def test_lsm_with_dynamic_synapses_on_cuda_is_the_cpus():
    kw = dict(shape=(3, 2, 2), dynamic=True, seed=4)
    sample = ([0.5e-3, 1e-3, 1.5e-3, 2e-3, 3e-3], [0, 1, 0, 1, 1])
    runs = []
    for b in ("cpu", "cuda"):
        lsm = LiquidStateMachine(2, backend=b, **kw)
        runs.append((lsm.run(sample, 6e-3), lsm.network))
    (a, na), (b, nb) = runs
    assert a.sizes["spike"] > 0
    np.testing.assert_array_equal(b.spike_time, a.spike_time)
    np.testing.assert_array_equal(b.spike_neuron, a.spike_neuron)
    assert_close(na, nb, ("v", "syn", "dyn_u", "dyn_R", "dyn_w"), "lsm")


# ----------------------------------------------------------------------- refused by name

@cuda_test
def test_what_the_twin_cannot_do_is_refused_by_name():
    # two spikes of one generator source in one step onto plastic synapses
    net = Network(DT, backend="cuda")
    gen = net.add(SpikeGeneratorGroup(1, [1e-3, 1e-3], [0, 0]))
    post = net.add(LIF(1))
    net.connect(gen, post, [[1e-10]], plasticity=STDP(w_max=2e-10))
    with pytest.raises(ValueError, match="times"):
        net.run(2e-3)
    cpu = Network(DT)             # the CPU handles them in turn
    gen = cpu.add(SpikeGeneratorGroup(1, [1e-3, 1e-3], [0, 0]))
    cpu.connect(gen, cpu.add(LIF(1)), [[1e-10]], plasticity=STDP(w_max=2e-10))
    cpu.run(2e-3)
    assert cpu.dyn_last[0] == 10
    # a user model with more state than a thread's local array
    from neurosim.kernels.cuda.neurons import MAX_VARS

    def many(x, p, I, dt):
        return x, False
    net = Network(DT, backend="cuda")
    net.add(CustomNeurons(2, many, state={"v": -65e-3, **{f"x{k}": 0.0
                                                          for k in range(MAX_VARS)}}))
    with pytest.raises(ValueError, match="state"):
        net.run(1e-3)


# ------------------------------------------------------------- the GPU's compiler (no GPU)

def test_plasticity_and_user_model_kernels_compile_for_a_gpu(monkeypatch):
    """Without a GPU the simulator does not type-check: compile the plasticity kernels and the
    neuron pass around a user model to PTX for an H100 (needs libNVVM)."""
    import types

    if nb_config.ENABLE_CUDASIM:
        pytest.skip("the simulator does not compile")
    from numba import cuda
    from numba.cuda import types as t

    import numba.cuda.dispatcher as dispatcher
    from neurosim.kernels.cuda import neurons as cn
    from neurosim.kernels.cuda import plasticity as cp
    monkeypatch.setattr(dispatcher, "get_current_device",
                        lambda: types.SimpleNamespace(compute_capability=(9, 0)), raising=False)
    i1, f1, i2, f2, n = t.int64[::1], t.float64[::1], t.int64[:, ::1], t.float64[:, ::1], t.int64
    sigs = {cp._arrivals: (i1, i1, n, i1, f1, i1, t.int32[::1], f1, i1, i1, f2, i1, i2, i1, f1,
                           f1, i1, f1, f1, n, n, n),
            cp._post: (i1, i1, n, i1, f1, i1, i1, f2, f1, f1, i1, i1, i1),
            cp.record_weights: (i1, i1, n, n, n, f1, i1, f2, i1)}
    # the user-model neuron update around the user's function, as _kernels builds it
    user = cn.rebind(cn.custom, _user_step=cuda.jit(device=True)(qif))
    f = t.float64
    sigs[user] = (n, f1, t.boolean, f, f1, f1, f2, t.int32[::1], f, f, f)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ptx = {k: cuda.compile_ptx(cn.source(k), sig, cc=(9, 0), device=k is user)[0]
                   for k, sig in sigs.items()}
        except Exception as err:   # no libNVVM here
            if "nvvm" in str(err).lower() or "not found" in str(err).lower() or \
                    "cannot be found" in str(err):
                pytest.skip(f"no libNVVM: {err}")
            raise
    assert "atom.global.add.f64" in ptx[cp._arrivals]
    assert "atom.global.add.u64" in ptx[cp._arrivals]     # the spike history's counter
    assert ".local" in ptx[user]          # the state in a thread's local array
