"""CUDA twins of the reservoir kernels: ESN and ESNBatch runs on a GPU agree with the CPU's.

Runs on a GPU or under Numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``, tiny sizes only: 8
threads a block); the tests of ``backend="cuda"`` / ``"auto"`` without a GPU, and the CPU's
batch of reservoirs, run everywhere. The guarantee: the float sums of a step run in another
order on the GPU (the dense rows, the readout in the loop) and NVVM fuses multiply-adds, so
states agree to rounding (asserted within 1e-12 over 50 steps) and, where a closed loop
amplifies rounding, the task's NRMSE agrees. Under the simulator (libm, no FMA) the sparse
states are the CPU's to the bit, and that is asserted too.
"""
import inspect

import numpy as np
import pytest
from numba import config as nbconfig

from neurosim import backend, config, metrics
from neurosim.datasets import timeseries as ts
from neurosim.kernels import reservoir as K
from neurosim.reservoir import ESN, ESNBatch

pytestmark = [
    pytest.mark.cuda,
    # the simulator's uint64 arithmetic warns on the generator's (intended) wrap-around
    pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning"),
]
needs_cuda = pytest.mark.skipif(not backend.cuda_available(), reason="no CUDA GPU and no CUDA simulator")
SIM = bool(nbconfig.ENABLE_CUDASIM)
TOL = 1e-12


@pytest.fixture(autouse=True)
def small_grid(monkeypatch):
    """The fewest threads a block the twins take (the simulator runs each in Python)."""
    monkeypatch.setattr(config, "ESN_CUDA_THREADS", 8)


def inputs(B=2, T=50, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (B, T, 1))


def pair(units=20, **kw):
    kw = {"leak": 0.5, "spectral_radius": 0.9, "connectivity": 0.3, "input_connectivity": 0.5, "bias": 0.2,
          "seed": 1, **kw}
    return ESN(units, **kw), ESN(units, backend="cuda", **kw)


def fitted_pair(**kw):
    """Two ESNs with the same readout (fitted on the CPU)."""
    cpu, gpu = pair(**kw)
    U = inputs(T=80, seed=3)
    cpu.fit(U, np.sin(3 * U), washout=10)
    gpu.Wout, gpu.bout = cpu.Wout.copy(), cpu.bout.copy()
    return cpu, gpu


# ------------------------------------------------------------------ the twins themselves
@pytest.mark.parametrize("name", ["run", "run_readout", "readout", "run_many", "run_readout_many"])
def test_twin_takes_the_cpu_kernels_arguments(name):
    from neurosim.kernels.cuda import reservoir as ck

    assert list(inspect.signature(getattr(ck, name).py_func).parameters) == \
        list(inspect.signature(getattr(K, name).py_func).parameters)


def test_twins_compile_for_a_gpu():
    """The simulator does not type-check: compile the twins for real where libNVVM is
    installed (a float32 sparse reservoir, whose sums must stay float32 as on the CPU)."""
    if SIM:
        pytest.skip("the CUDA simulator compiles nothing")
    import scipy.sparse as sp
    from numba import typeof, types

    from neurosim.reservoir.layout import sell_layout, stack_layouts

    try:
        from numba.cuda import compile_ptx

        from neurosim.kernels.cuda import reservoir as ck
    except ImportError as err:   # pragma: no cover - no numba-cuda
        pytest.skip(f"no numba-cuda: {err}")
    n = 16
    mat = sell_layout(sp.random(n, n, density=0.3, random_state=0, format="csr"), np.array([0, n]), "float32")
    mats, soff = stack_layouts([mat, mat])
    t = lambda shape, dtype=np.float64: typeof(np.zeros(shape, dtype))  # noqa: E731
    sigs = {"run": (typeof(mat), t(2, np.int64), t((n, 1)), t((n, 0)), t(n, np.float32), t((2, 3, 1)),
                    t((2, 3, 0)), t((2, n), np.float32), types.float64, types.int64, types.float64,
                    t((2, 2), np.uint64), t((2, 3, n))),
            "run_readout_many": (typeof(mats), t(3, np.int64), t(2, np.int64), t((2, n, 1)), t((2, n, 1)),
                                 t((2, n), np.float32), t((2, 1, n)), t((2, 1)), t((2, 3, 1)), types.boolean,
                                 t((2, 2, n), np.float32), t((2, 2, 1)), t(2), types.int64, t(2),
                                 t((4, 2), np.uint64), t((2, 2, 3, n)), t((2, 2, 3, 1))),
            "take": (t((2, 3, n)), t(2, np.int64), t(2, np.int64), t((2, 2, 2)))}
    for name, sig in sigs.items():
        try:
            ptx = compile_ptx(getattr(ck, name).py_func, sig, cc=(9, 0))[0]
        except Exception as err:  # no libNVVM on this machine
            if "NVVM" not in str(err):
                raise
            pytest.skip(f"cannot compile for a GPU here: {err}")
        if name == "run":  # the recurrent sums stay float32 (as the CPU's float32 scratch holds them)
            assert "fma.rn.f32" in ptx


# ------------------------------------------------------------------ one reservoir
@needs_cuda
@pytest.mark.parametrize("noise, steps", [(0.0, 50), (0.05, 25)])
def test_states_agree_with_the_cpu_over_50_steps(noise, steps):
    cpu, gpu = pair(layout="sparse", noise=noise)
    U = inputs(T=steps)
    a, b = cpu.run_states(U), gpu.run_states(U)
    assert np.abs(a - b).max() <= TOL
    if SIM:   # the same sums in the same order, the same normals from the same streams
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(gpu.state_, cpu.state_, rtol=0, atol=TOL)


@needs_cuda
def test_deep_dense_float32_states_and_chunks(monkeypatch):
    """A deep ESN (layers in order within a step), the dense layout (another order of the row
    sums) and a float32 reservoir agree to their precision; a run cut into chunks gives the
    same states as one call."""
    cpu, gpu = pair([10, 6], layout="dense", dtype="float32")
    U = inputs(B=1, T=20)
    a = cpu.run_states(U)
    b = gpu.run_states(U)
    assert np.abs(a - b).max() <= 1e-5
    monkeypatch.setattr(config, "ESN_CUDA_CHUNK_BYTES", 8 * 16 * 7)  # 7 steps a call
    np.testing.assert_array_equal(gpu.run_states(U), b)


@needs_cuda
def test_fit_harvests_on_the_gpu_and_predict_run_generate_agree():
    cpu, gpu = pair(layout="sparse")
    U = inputs(T=40, seed=3)
    cpu.fit(U, np.sin(3 * U), washout=5)
    gpu.fit(U, np.sin(3 * U), washout=5)
    # the same states, so the same ridge system (solved on the CPU): equal to the solve's rounding
    np.testing.assert_allclose(gpu.Wout, cpu.Wout, rtol=1e-6, atol=1e-8)
    gpu.Wout, gpu.bout = cpu.Wout.copy(), cpu.bout.copy()
    V = inputs(T=12, seed=4)
    np.testing.assert_allclose(gpu.predict(V), cpu.predict(V), rtol=0, atol=TOL)
    mon = {"every": 3, "index": [0, 7, 19]}
    a, b = cpu.run(V, reset=True, record=mon), gpu.run(V, reset=True, record=mon)
    assert a.attrs["backend"] == "cpu" and b.attrs["backend"] == "cuda"
    assert b.state.dims == ("sample", "time", "unit") and b.sizes == a.sizes
    np.testing.assert_array_equal(b.time, a.time)
    np.testing.assert_allclose(b.state, a.state, rtol=0, atol=TOL)
    np.testing.assert_allclose(b.prediction, a.prediction, rtol=0, atol=TOL)
    g_cpu, g_gpu = cpu.generate(8), gpu.generate(8)   # closed loop: the readout's sum in another order
    assert g_gpu.attrs["backend"] == "cuda"
    np.testing.assert_allclose(g_gpu.prediction, g_cpu.prediction, rtol=0, atol=TOL)
    np.testing.assert_allclose(gpu.state_, cpu.state_, rtol=0, atol=TOL)


@needs_cuda
def test_output_feedback_teacher_forced_and_fed_back():
    cpu, gpu = pair(16, feedback_scaling=0.5)
    U = inputs(T=30, seed=5)
    Y = np.sin(3 * U)
    np.testing.assert_allclose(gpu.run_states(U, targets=Y), cpu.run_states(U, targets=Y), rtol=0, atol=TOL)
    cpu.fit(U, Y, washout=5)
    gpu.Wout, gpu.bout = cpu.Wout.copy(), cpu.bout.copy()
    V = inputs(T=10, seed=6)
    np.testing.assert_allclose(gpu.predict(V, reset=True), cpu.predict(V, reset=True), rtol=0, atol=TOL)
    # FORCE (sequential RLS updates) runs on the CPU kernel whatever the backend, and says so
    a, b = cpu.fit_force(U[0], Y[0]), gpu.fit_force(U[0], Y[0])
    assert a.attrs["backend"] == b.attrs["backend"] == "cpu"
    np.testing.assert_array_equal(a.prediction, b.prediction)


@needs_cuda
def test_mackey_glass_generation_nrmse_agrees():
    """60 closed-loop steps of a 20-unit ESN, 2 sequences: the predictions agree to rounding
    growth and the task's NRMSE to 1e-6 relative."""
    x = np.ravel(ts.mackey_glass(500))
    x = 2 * (x - x.min()) / (x.max() - x.min()) - 1
    cpu, gpu = pair(leak=0.3, spectral_radius=0.95, input_scaling=0.5, connectivity=0.5, layout="sparse", seed=0)
    cpu.fit(x[:300], x[1:301], washout=50)
    gpu.Wout, gpu.bout = cpu.Wout.copy(), cpu.bout.copy()
    ctx = np.stack([x[260:300], x[310:350]])[:, :, None]
    truth = np.stack([x[301:361], x[351:411]])
    a = cpu.generate(60, context=ctx).prediction.values[..., 0]
    b = gpu.generate(60, context=ctx).prediction.values[..., 0]
    assert np.abs(a - b).max() < 1e-9
    for s in range(2):
        e_cpu, e_gpu = metrics.nrmse(truth[s], a[s]), metrics.nrmse(truth[s], b[s])
        assert abs(e_gpu - e_cpu) <= 1e-6 * e_cpu


@needs_cuda
def test_store_streams_a_cuda_run_to_disk(tmp_path):
    cpu, gpu = fitted_pair()
    V = inputs(T=10)
    mem = gpu.run(V, reset=True, record={"index": [2, 3]})
    with gpu.run(V, reset=True, record={"index": [2, 3]}, store=tmp_path / "run.nc", chunk=4) as disk:
        assert disk.attrs["backend"] == "cuda"
        np.testing.assert_array_equal(disk.state.values, mem.state.values)
        np.testing.assert_array_equal(disk.prediction.values, mem.prediction.values)


@needs_cuda
def test_save_records_the_backend_and_load_takes_one(tmp_path):
    cpu, gpu = fitted_pair()
    gpu.save(tmp_path / "esn.nc")
    import xarray as xr

    with xr.open_dataset(tmp_path / "esn.nc") as ds:
        assert ds.attrs["backend"] == "cuda"
    assert ESN.load(tmp_path / "esn.nc").backend == "cpu"
    back = ESN.load(tmp_path / "esn.nc", backend="cuda")
    assert back.backend == "cuda"
    V = inputs(B=1, T=6)
    np.testing.assert_allclose(back.predict(V, reset=True), cpu.predict(V, reset=True), rtol=0, atol=TOL)


@needs_cuda
def test_bad_input_gets_the_cpus_errors():
    cpu, gpu = fitted_pair()
    for call in (lambda e: e.run_states(np.zeros((5, 2))), lambda e: e.fit(np.zeros(10), np.zeros(10), washout=10),
                 lambda e: e.predict(np.zeros((2, 5, 3))), lambda e: e.generate(0),
                 lambda e: e.run(np.zeros((3, 4, 1)), x0=np.zeros(7))):
        with pytest.raises(ValueError) as a:
            call(cpu)
        with pytest.raises(ValueError) as b:
            call(gpu)
        assert str(a.value) == str(b.value)


@needs_cuda
def test_device_memory_is_checked_before_launch(monkeypatch):
    from neurosim.reservoir import _device

    launched = []
    monkeypatch.setattr(_device.Kernels, "launch", lambda self, name, blocks: launched.append(name))
    monkeypatch.setattr(backend, "free_device_memory", lambda: 1000)
    esn = ESN(20, seed=0, backend="cuda")
    with pytest.raises(ValueError, match=r"ESN run_states needs [\d,]+ bytes of GPU memory; 1,000 are free"):
        esn.run_states(inputs())
    batch = ESNBatch(20, seed=[0, 1], backend="cuda")
    with pytest.raises(ValueError, match="ESNBatch states needs .* bytes of GPU memory"):
        batch.states(inputs())
    assert launched == []


def test_cuda_without_a_gpu_is_an_error_and_auto_falls_back(monkeypatch, tmp_path):
    monkeypatch.setattr(backend, "cuda_available", lambda: False)
    with pytest.raises(ValueError, match="backend='cuda' was requested but no CUDA GPU"):
        ESN(10, backend="cuda")
    with pytest.raises(ValueError, match="backend='cuda' was requested but no CUDA GPU"):
        ESNBatch(10, seed=[0, 1], backend="cuda")
    with pytest.warns(RuntimeWarning, match="running on the CPU"):
        esn = ESN(10, seed=2, backend="auto")
    assert esn.backend == "cpu"
    ds = esn.states(inputs(B=1, T=5)[0])
    assert ds.attrs["backend"] == "cpu"
    np.testing.assert_array_equal(ds.state, ESN(10, seed=2).states(inputs(B=1, T=5)[0]).state)
    esn.save(tmp_path / "esn.nc")
    with pytest.raises(ValueError, match="no CUDA GPU"):
        ESN.load(tmp_path / "esn.nc", backend="cuda")
    with pytest.warns(RuntimeWarning, match="running on the CPU"):
        assert ESNBatch(10, seed=[0, 1], backend="auto").backend == "cpu"


# ------------------------------------------------------------------ many reservoirs
SWEEP = {"seed": [1, 2, 3], "spectral_radius": [0.5, 0.9, 0.95], "leak": [0.3, 0.6, 1.0],
         "input_scaling": [0.5, 1.0, 2.0], "noise": [0.0, 0.01, 0.02]}


@pytest.mark.parametrize("layout, dtype", [("sparse", "float64"), ("dense", "float64"), ("sparse", "float32")])
def test_each_reservoir_of_a_cpu_batch_is_its_own_esn(layout, dtype):
    """On the CPU reservoir r of a batch gives the numbers of the ESN with its parameters, run
    alone (the brief asks 1e-12; it is the same step in the same order, so to the bit)."""
    kw = {"connectivity": 0.3, "layout": layout, "dtype": dtype}
    batch = ESNBatch(20, **SWEEP, **kw)
    alone = [ESN(20, **{k: v[r] for k, v in SWEEP.items()}, **kw) for r in range(3)]
    U = inputs(T=40)
    ds = batch.states(U)
    assert ds.state.dims == ("reservoir", "sample", "time", "unit") and ds.attrs["model"] == "ESNBatch"
    np.testing.assert_array_equal(ds.spectral_radius, SWEEP["spectral_radius"])
    np.testing.assert_array_equal(ds.seed, SWEEP["seed"])
    for r, esn in enumerate(alone):
        np.testing.assert_array_equal(ds.state.values[r], esn.states(U).state.values)
    batch.fit(U, U ** 2, washout=5)
    V = inputs(T=15, seed=1)
    pred = batch.predict(V)
    gen = batch.generate(10)
    for r, esn in enumerate(alone):
        esn.fit(U, U ** 2, washout=5)
        np.testing.assert_array_equal(batch.Wout[r], esn.Wout)
        np.testing.assert_array_equal(batch.esns[r].Wout, esn.Wout)
        np.testing.assert_array_equal(pred[r], esn.predict(V))
        g = esn.generate(10)
        np.testing.assert_array_equal(gen.prediction.values[r], g.prediction.values)
        np.testing.assert_array_equal(gen.state.values[r], g.state.values)


def test_batch_api_checks_and_one_sequence():
    with pytest.raises(ValueError, match="same length"):
        ESNBatch(10, seed=[0, 1], leak=[0.5, 0.6, 0.7])
    with pytest.raises(ValueError, match="at least one reservoir"):
        ESNBatch(10, seed=[])
    with pytest.raises(ValueError, match="feedback"):
        ESNBatch(10, seed=0, feedback_scaling=[0.0, 0.5])
    with pytest.raises(ValueError, match="leak"):
        ESNBatch(10, leak=[0.5, 1.5])
    batch = ESNBatch(12, seed=0, spectral_radius=[0.5, 0.8])  # one draw, two radii
    assert len(batch) == 2 and batch.varied == ("spectral_radius",)
    np.testing.assert_allclose(batch.esns[0].W.toarray() / 0.5, batch.esns[1].W.toarray() / 0.8, rtol=1e-12)
    u = np.sin(np.arange(30) / 4)
    batch.fit(u[:-1], u[1:], washout=5)
    ds = batch.run(u[:10], reset=True, record={"every": 2, "index": [0, 5]})
    assert ds.prediction.dims == ("reservoir", "time", "output") and ds.state.shape == (2, 5, 2)
    assert ds.attrs["seed"] == 0 and ds.attrs["reservoirs"] == 2
    assert batch.predict(u[:10]).shape == (2, 10, 1)
    with pytest.raises(ValueError, match="ridge must be one value or one per reservoir"):
        batch.fit(u[:-1], u[1:], ridge=[1e-6, 1e-6, 1e-6])


@needs_cuda
def test_cuda_batch_agrees_with_the_cpu_batch():
    kw = {"connectivity": 0.3, "layout": "sparse", **{k: v[:2] for k, v in SWEEP.items()}}
    cpu, gpu = ESNBatch(16, **kw), ESNBatch(16, backend="cuda", **kw)
    U = inputs(B=1, T=20)
    mon = {"every": 2, "index": [1, 4, 9]}
    a, b = cpu.states(U[0], record=mon), gpu.states(U[0], record=mon)
    assert b.attrs["backend"] == "cuda" and b.state.dims == ("reservoir", "time", "unit")
    assert b.state.shape == (2, 10, 3)
    assert np.abs(a.state.values - b.state.values).max() <= TOL
    if SIM:
        np.testing.assert_array_equal(a.state.values, b.state.values)
    cpu.fit(U, np.sin(3 * U), washout=5)
    gpu.fit(U, np.sin(3 * U), washout=5)   # (also draws the noise of one run, as the CPU batch did)
    gpu.Wout, gpu.bout = cpu.Wout.copy(), cpu.bout.copy()
    V = inputs(B=1, T=8, seed=2)[0]
    np.testing.assert_allclose(gpu.predict(V, reset=True), cpu.predict(V, reset=True), rtol=0, atol=TOL)
    a, b = cpu.generate(5), gpu.generate(5)
    np.testing.assert_allclose(b.prediction, a.prediction, rtol=0, atol=TOL)


def test_batch_runs_stop_cleanly_on_ctrl_c(ctrl_c):
    batch = ESNBatch(10, seed=[0, 1])
    ds = batch.states(inputs(T=20), chunk=5)
    assert ds.attrs["interrupted"] == 1 and ds.sizes["time"] == 5 and ds.state.shape == (2, 2, 5, 10)
    np.testing.assert_array_equal(batch.state_, ds.state.values[:, :, -1])
