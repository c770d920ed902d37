"""CUDA twin of the spiking kernel against the CPU kernel, under a GPU or Numba's simulator.

Guarantees tested: identical spikes, states, records and final state wherever the order of the
adds into one synaptic variable in one step cannot matter (feed-forward wiring with one input
per variable, equal weights per channel as in CUBA: the atomics may add in any order); for
recurrent random weights, v within 1e-12 V over a short horizon and the same statistics (mean
rate, CV of the ISIs) over a longer run. The simulator runs every thread in Python: networks of
tens of neurons and a few hundred steps, on tiny grids (``config`` patched).
"""
import sys
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

from neurosim import backend, config
from neurosim.kernels import spiking as K
from neurosim.record import Monitor
from neurosim.spiking import (LIF, Izhikevich, LiquidStateMachine, Network, PoissonGroup,
                              SpikeGeneratorGroup, cuba)

DT = 1e-4

cuda_only = [
    pytest.mark.cuda,
    pytest.mark.skipif(not backend.cuda_available(), reason="no CUDA GPU and no CUDA simulator"),
    # the simulator's uint64 arithmetic in the xoroshiro draws warns on (intended) wrap-around
    pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning"),
    pytest.mark.filterwarnings("ignore:Grid size:numba.core.errors.NumbaPerformanceWarning"),
]


def cuda_test(f):
    for mark in reversed(cuda_only):
        f = mark(f)
    return f


@pytest.fixture(autouse=True)
def tiny_grids(monkeypatch):
    """Small blocks (the simulator runs a Python thread per GPU thread) and quick thread
    switches (its scheduler polls its threads; the default 5 ms switch interval dominates)."""
    monkeypatch.setattr(config, "SPIKING_CUDA_THREADS", 64)
    monkeypatch.setattr(config, "SPIKING_CUDA_DELIVERY_THREADS", 8)
    monkeypatch.setattr(config, "SPIKING_CUDA_LANES", 4)
    monkeypatch.setattr(config, "SPIKING_CUDA_DELIVERY_BLOCKS", 2)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)
    yield
    sys.setswitchinterval(interval)


def both(make, duration, **run):
    """(cpu, cuda) Datasets and networks of ``make(backend)`` run for ``duration``."""
    out = []
    for b in ("cpu", "cuda"):
        net = make(b)
        out.append((net.run(duration, **run), net))
    return out


def assert_same_run(a, b):
    (da, na), (db, nb) = a, b
    assert da.attrs["backend"] == "cpu" and db.attrs["backend"] == "cuda"
    assert db.drop_attrs().identical(da.drop_attrs())
    for name in ("v", "u", "syn", "ref", "ring", "pstate", "gen_ptr"):
        np.testing.assert_array_equal(getattr(nb, name), getattr(na, name), err_msg=name)
    assert nb.step == na.step


# --------------------------------------------------------------------- identical to the CPU

def feedforward(backend_, seed=0):
    """Generators and Poisson sources onto all four neuron kinds, one synapse per (neuron,
    channel) with random weights and delays: one add per synaptic variable per step."""
    gen = np.random.default_rng(seed)
    net = Network(DT, seed=seed, backend=backend_)
    I_t = gen.uniform(0.1e-9, 0.3e-9, (3, 6))
    groups = [net.add(LIF(6, I=I_t, I_dt=2e-3, v0=(-65e-3, -52e-3), t_ref=1e-3, name="lif")),
              net.add(LIF(5, synapse="conductance", I=0.19e-9, v0=(-70e-3, -51e-3), t_ref=2e-3)),
              net.add(Izhikevich(4, I=gen.uniform(0.3e-9, 1.0e-9, 4), v0=-65e-3)),
              net.add(Izhikevich(4, synapse="conductance", I=0.5e-9, t_ref=1e-3, v0=-60e-3))]
    times = np.sort(gen.uniform(0, 0.008, 30))
    src = net.add(SpikeGeneratorGroup(3, times, gen.integers(0, 3, 30)))
    pois = net.add(PoissonGroup(4, 400.0))
    for g in groups:
        scale = 3e-9 if g.synapse == "conductance" else 4e-10
        for pre, ch in ((src, "e"), (pois, "i")):
            W = sp.csr_array((gen.uniform(0.2, 1.0, g.n) * scale * (1 if ch == "e" else
                                                                   (1 if g.synapse ==
                                                                    "conductance" else -1)),
                              (np.arange(g.n), gen.integers(0, pre.n, g.n))),
                             shape=(g.n, pre.n))
            D = W.copy()
            D.data = gen.integers(0, 4, g.n).astype(float)
            net.connect(pre, g, W, channel=ch, delay=D)
    return net


@cuda_test
def test_feedforward_network_of_every_kind_is_the_cpus_bit_for_bit():
    kw = dict(record=Monitor(every=3, index=[0, 5, 7, 12, 16]),
              variables=("v", "u", "syn_e", "syn_i"), spikes=np.arange(15), chunk=40)
    cpu, gpu = both(feedforward, 100 * DT, **kw)
    assert_same_run(cpu, gpu)
    assert cpu[0].sizes["spike"] > 10 and set(cpu[0].spike_neuron.values) > {0, 1}


def equal_weights(b):
    """A recurrent E-I network with one weight per channel (as CUBA) and delays."""
    gen = np.random.default_rng(5)
    net = Network(DT, seed=3, backend=b)
    exc = net.add(LIF(30, t_ref=1e-3, I=gen.uniform(0.3e-9, 0.6e-9, 30), v0=(-60e-3, -50e-3)))
    inh = net.add(LIF(10, t_ref=1e-3, I=0.4e-9, v0=(-60e-3, -50e-3)))
    for pre, w, ch in ((exc, 1e-10, "e"), (inh, -3e-10, "i")):
        for post in (exc, inh):
            net.connect(pre, post, p=0.3, weights=w, channel=ch, delay=(0.0, 3e-4),
                        self_loops=True)
    return net


@cuda_test
def test_recurrent_network_with_equal_weights_is_the_cpus_bit_for_bit():
    """One weight per channel (as in CUBA): the order in which the atomics add a step's spikes
    (or put them into the ring buffer) cannot change a sum, so the spikes are the CPU's."""
    kw = dict(record=Monitor(every=2, index=[0, 3, 35]), variables=("v", "syn_e", "syn_i"),
              chunk=50)
    cpu, gpu = both(equal_weights, 100 * DT, **kw)
    assert_same_run(cpu, gpu)
    assert cpu[0].sizes["spike"] > 15 and cpu[0].syn_i.values.min() < 0


@cuda_test
def test_spike_buffer_refills_when_full(monkeypatch):
    # 8 neurons spiking every step: the buffer (4 * 8 + 1024) fills after 131 steps
    monkeypatch.setattr(config, "SPIKING_SPIKE_BUFFER", 0)

    def make(b):
        net = Network(DT, seed=0, backend=b)
        net.add(LIF(8, t_ref=0.0, I=1e-6))
        return net
    cpu, gpu = both(make, 140 * DT, chunk=140)
    assert_same_run(cpu, gpu)
    assert gpu[0].sizes["spike"] == 8 * 140


# --------------------------------------------------------------------- within a tolerance

def recurrent(b):
    gen = np.random.default_rng(11)
    net = Network(DT, seed=4, backend=b)
    # started close to the threshold and without delays, many spikes reach a neuron in the
    # same step: the simulator's atomics too add them in another order than the CPU
    exc = net.add(LIF(30, t_ref=1e-3, I=gen.uniform(0.5e-9, 1e-9, 30), v0=(-50.2e-3, -50e-3)))
    net.connect(exc, exc, p=0.3, weights="uniform", loc=-3e-10, scale=6e-10, channel="e")
    return net


@cuda_test
def test_recurrent_random_weights_agree_within_tolerance():
    """Random weights: the atomics' order changes the last bits of the sums. Stated tolerance:
    v within 1e-12 V (a millionth of a microvolt) over the first 50 steps; then the same mean
    rate (within 10 %) and CV of the ISIs (within 0.1) over 200 steps (~200 Hz)."""
    runs = []
    for b in ("cpu", "cuda"):
        net = recurrent(b)
        first = net.run(50 * DT, record=Monitor(index=np.arange(30)))
        rest = net.run(150 * DT, chunk=150)
        runs.append((first, rest))
    (cpu, cpu_rest), (gpu, gpu_rest) = runs
    assert gpu.attrs["backend"] == "cuda"
    np.testing.assert_allclose(gpu.v.values, cpu.v.values, rtol=0, atol=1e-12)

    def stats(ds, rest):
        st = np.concatenate([ds.spike_time.values, rest.spike_time.values])
        si = np.concatenate([ds.spike_neuron.values, rest.spike_neuron.values])
        cvs = []
        for i in range(30):
            isi = np.diff(np.sort(st[si == i]))
            if isi.size >= 2:
                cvs.append(isi.std() / isi.mean())
        return st.size / 30 / (200 * DT), np.mean(cvs)
    (r_c, cv_c), (r_g, cv_g) = stats(cpu, cpu_rest), stats(gpu, gpu_rest)
    assert r_c > 100
    assert r_g == pytest.approx(r_c, rel=0.1)
    assert abs(cv_g - cv_c) < 0.1


# ------------------------------------------------------------- the LSM, files, memory, errors

@cuda_test
def test_lsm_runs_on_cuda_and_loads_onto_either_backend(tmp_path):
    kw = dict(shape=(3, 3, 2), seed=3)
    sample = ([0.001, 0.002, 0.003, 0.004], [0, 1, 0, 1])
    cpu = LiquidStateMachine(2, **kw)
    gpu = LiquidStateMachine(2, backend="cuda", **kw)
    a, b = cpu.run(sample, 0.005), gpu.run(sample, 0.005)
    assert b.attrs["backend"] == "cuda" and a.sizes["spike"] > 5
    # recurrent random weights: the same spikes over this short horizon
    np.testing.assert_array_equal(b.spike_time.values, a.spike_time.values)
    np.testing.assert_array_equal(b.spike_neuron.values, a.spike_neuron.values)
    np.testing.assert_allclose(gpu.states([sample], 0.005), cpu.states([sample], 0.005),
                               rtol=1e-9)
    gpu.save(tmp_path / "lsm.nc")
    back = LiquidStateMachine.load(tmp_path / "lsm.nc", backend="cuda")
    assert back.network.backend == "cuda"
    np.testing.assert_array_equal(back.run(sample, 0.005).spike_time.values, a.spike_time.values)


@cuda_test
def test_cuda_network_saves_its_state_and_loads_onto_either_backend(tmp_path):
    ref = cuba(30, p=0.3, seed=5)
    ref.run(30 * DT)
    net = cuba(30, p=0.3, seed=5, backend="cuda")
    net.run(30 * DT)
    net.save(tmp_path / "net.nc")            # the state came back from the device
    want = ref.run(25 * DT, record=Monitor(index=[0, 1]))
    for b in ("cpu", "cuda"):
        back = Network.load(tmp_path / "net.nc", backend=b)
        got = back.run(25 * DT, record=Monitor(index=[0, 1]))
        assert got.attrs["backend"] == b
        assert got.drop_attrs().identical(want.drop_attrs())


@cuda_test
def test_store_streams_a_cuda_run_to_disk(tmp_path):
    kw = dict(record=Monitor(every=4, index=[1, 2]), chunk=30)
    mem = cuba(24, p=0.3, seed=1).run(60 * DT, **kw)
    with cuba(24, p=0.3, seed=1, backend="cuda").run(60 * DT, store=tmp_path / "g.nc",
                                                      **kw) as disk:
        assert disk.load().drop_attrs().identical(mem.drop_attrs())


@cuda_test
def test_device_memory_is_checked_before_anything_runs(monkeypatch):
    net = cuba(20, p=0.3, seed=0, backend="cuda")
    net.store()
    v0 = net.v.copy()
    monkeypatch.setattr(backend, "free_device_memory", lambda: 1000)
    with pytest.raises(ValueError, match=r"20 neurons .* needs [\d,]+ bytes of GPU memory; "
                                         r"1,000 are free"):
        net.run(10 * DT)
    assert net.step == 0 and np.array_equal(net.v, v0)


@cuda_test
def test_bad_input_gets_the_cpus_errors():
    for kw in (dict(duration=0.0), dict(duration=DT, variables=("w",)),
               dict(duration=DT, record=Monitor(index=[99])), dict(duration=DT, spikes=[50])):
        msgs = []
        for b in ("cpu", "cuda"):
            with pytest.raises(ValueError) as err:
                cuba(20, p=0.3, seed=0, backend=b).run(**kw)
            msgs.append(str(err.value))
        assert msgs[0] == msgs[1]


@cuda_test
def test_twin_has_the_cpu_kernels_name_and_arguments():
    import inspect

    from neurosim.kernels.cuda import spiking as ck

    assert list(inspect.signature(ck.run_steps).parameters) == \
        list(inspect.signature(K.run_steps.py_func).parameters)


# ----------------------------------------------------------- without a GPU (the CPU suite)

def test_cuda_without_a_gpu_is_an_error_and_auto_falls_back(monkeypatch):
    monkeypatch.setattr(backend, "cuda_available", lambda: False)
    with pytest.raises(ValueError, match="no CUDA GPU"):
        Network(DT, backend="cuda")
    with pytest.raises(ValueError, match="no CUDA GPU"):
        LiquidStateMachine(2, shape=(2, 2, 2), backend="cuda")
    with pytest.raises(ValueError, match="backend"):
        Network(DT, backend="gpu")
    with pytest.warns(RuntimeWarning, match="no CUDA GPU"):
        net = cuba(100, seed=0, backend="auto")
    assert net.backend == "cpu" and net.run(5 * DT).attrs["backend"] == "cpu"


def test_kernels_compile_for_a_gpu(monkeypatch):
    """Without a GPU the simulator does not type-check: compile the three kernels to PTX for
    an H100 (needs libNVVM, e.g. the nvidia-cuda-nvcc-cu12 wheel) and check that the state
    arithmetic has no fused multiply-add (only the exponential's own polynomial has)."""
    import re
    import types

    from numba import config as nb_config
    if nb_config.ENABLE_CUDASIM:
        pytest.skip("the simulator does not compile")
    from numba import cuda
    from numba.cuda import types as t

    import numba.cuda.dispatcher as dispatcher
    from neurosim.kernels.cuda import spiking as ck
    # device functions ask the current device for its compute capability; there is none
    monkeypatch.setattr(dispatcher, "get_current_device",
                        lambda: types.SimpleNamespace(compute_capability=(9, 0)), raising=False)
    i1, f1, i2, f2 = t.int64[::1], t.float64[::1], t.int64[:, ::1], t.float64[:, ::1]
    sigs = {"_spikes": (i1, i1, t.int64, t.float64, i1, i1, f1, f2, f1, f1, f2, f1, t.int32[::1],
                        f2, f2, t.uint64[:, ::1], i1, i1, i1, f2, t.boolean[::1], i1, i1, i1,
                        i2, i1),
            "_deliver": (i1, i1, t.int64, i1, i1, i1, t.int32[::1], f1, i1, f2, f1, i1),
            "_record": (i1, i1, t.int64, f1, f1, f1, f2, i1, i1, t.float64[:, :, ::1])}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ptx = {name: cuda.compile_ptx(getattr(ck, name).py_func, sig, cc=(9, 0))[0]
                   for name, sig in sigs.items()}
        except Exception as err:   # no libNVVM here
            if "nvvm" in str(err).lower() or "nvrtc" in str(err).lower() or \
                    "cannot be found" in str(err) or "not found" in str(err).lower():
                pytest.skip(f"no libNVVM: {err}")
            raise
    # the exponential (the conductance LIF's fallback step) is kernels.vexp.exp written out:
    # its range reduction by log2(e) is there, no approximate ex2; the multiply-adds the CPU
    # fuses (vexp.fma) are the GPU's fma.rn, the other products mul.rn (never fused), so the
    # GPU's arithmetic is the CPU's bit for bit
    text = ptx["_spikes"]
    assert "0d3FF71547652B82FE" in text, "no exp in the neuron pass?"
    assert "ex2.approx" not in text
    assert "fma.rn.f64" in text and "mul.rn.f64" in text
    assert "atom.global.add.f64" in ptx["_deliver"]
