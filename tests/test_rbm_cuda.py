"""CUDA twins of the RBM's Gibbs chains and CD/PCD epochs: the CPU's samples, and its fits to rounding.

Runs on a GPU or under Numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``, tiny sizes only);
the tests of ``backend="cuda"`` / ``"auto"`` without a GPU run everywhere. Under the simulator
every sample, mean and record is bit-identical to the CPU's; on a GPU the Bernoulli visible
means may differ in their last bit (libdevice's ``exp``), the Gaussian samples in a few bits
(libdevice's ``log``/``cos`` in Box-Muller), never a Bernoulli sample.
"""
import inspect
import math

import numpy as np
import pytest
from numba import config as nbconfig

from neurosim import backend, config, rng
from neurosim.energy.dbn import DBN
from neurosim.energy.rbm import RBM
from neurosim.kernels import rbm as K

pytestmark = [
    pytest.mark.cuda,
    # the simulator's uint64 arithmetic warns on the generator's (intended) wrap-around
    pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning"),
]
needs_cuda = pytest.mark.skipif(not backend.cuda_available(), reason="no CUDA GPU and no CUDA simulator")
SIM = bool(nbconfig.ENABLE_CUDASIM)


@pytest.fixture(autouse=True)
def small_grid(monkeypatch):
    """Few threads per block of the one-dimensional kernels (the simulator runs each in Python)."""
    monkeypatch.setattr(config, "RBM_CUDA_THREADS", 32)


def random_rbm(nv, nh, seed, visible="bernoulli", sigma=1.0, backend="cpu"):
    g = np.random.default_rng(seed)
    r = RBM(nv, nh, visible=visible, sigma=sigma, seed=seed, backend=backend)
    r.W = g.normal(0, 1, (nv, nh))
    r.visible_bias = g.normal(0, 1, nv)
    r.hidden_bias = g.normal(0, 1, nh)
    return r


def same_samples(gpu, cpu, means=("v_mean",)):
    """Identical Datasets under the simulator; on a GPU the same except ``means``, within a few
    ulp (see the module notes: Bernoulli means through libdevice's exp, Gaussian samples
    through its log and cos)."""
    assert cpu.attrs["backend"] == "cpu" and gpu.attrs["backend"] == "cuda"
    if SIM:
        assert gpu.drop_attrs().identical(cpu.drop_attrs())
        return
    for name in cpu.data_vars:   # pragma: no cover - needs a GPU
        if name in means:
            np.testing.assert_allclose(gpu[name].values, cpu[name].values, rtol=1e-13, atol=1e-13)
        else:
            np.testing.assert_array_equal(gpu[name].values, cpu[name].values, err_msg=name)


# ------------------------------------------------------------------ the twins themselves

def _twin_call(cpu_kernel, gpu_kernel, args):
    from numba import cuda

    cpu = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    cpu_kernel(*cpu)
    gpu = [cuda.to_device(a) if isinstance(a, np.ndarray) else a for a in args]
    gpu_kernel(*gpu)
    return cpu, [g.copy_to_host() if hasattr(g, "copy_to_host") else g for g in gpu]


@needs_cuda
@pytest.mark.parametrize("gaussian", [False, True])
def test_gibbs_twin_takes_the_cpu_kernels_arguments(gaussian):
    """The same argument list in the same order; the chains, streams and records come out the
    same. 40 visible units and 34 chains: two tiles of inputs, units and chains; fractional
    Bernoulli start states (the products' multiplies are not by 1); beta < 1."""
    from neurosim.kernels.cuda import rbm as ck

    names = list(inspect.signature(K.gibbs.py_func).parameters)
    assert list(inspect.signature(ck.gibbs).parameters) == names
    g = np.random.default_rng(1)
    nv, nh, chains, steps, every = 40, 5, 34, 1, 1
    W, b, c = g.normal(0, 1, (nv, nh)), g.normal(0, 1, nv), g.normal(0, 1, nh)
    v = g.normal(0, 1, (chains, nv)) if gaussian else g.random((chains, nv)) * (g.random((chains, nv)) < 0.5)
    out = np.zeros((chains, steps // every, nv))
    args = [W, b, c, v, np.array([0.6]), gaussian, 0.7, np.int64(every), out, out.copy(), rng.streams(3, chains)]
    cpu, gpu = _twin_call(K.gibbs, ck.gibbs, args)
    for name, want, got in zip(names, cpu, gpu):
        if name == "out_mean" and not SIM and not gaussian:   # pragma: no cover - needs a GPU
            np.testing.assert_allclose(got, want, rtol=1e-14)
        elif name == "v" and not SIM and gaussian:             # pragma: no cover - needs a GPU
            np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-13)
        elif isinstance(want, np.ndarray):
            np.testing.assert_array_equal(got, want, err_msg=name)
    assert np.ptp(cpu[3]) > 0 and np.ptp(cpu[9]) > 0


def _unfused_logistic(x):
    """The polynomial of kernels.scalar.logistic_rows without fused multiply-adds."""
    from neurosim.kernels import scalar as S

    c = min(max(-x, -708.0), 708.0)
    k = math.floor(c * S._LOG2E + 0.5)
    r = c - k * S._LN2_HI - k * S._LN2_LO
    p = 1.0 / 6227020800.0
    for d in (479001600.0, 39916800.0, 3628800.0, 362880.0, 40320.0, 5040.0, 720.0, 120.0, 24.0, 6.0, 2.0, 1.0):
        p = 1.0 / d + r * p
    return 1.0 / (1.0 + (1.0 + r * p) * math.ldexp(1.0, k))


@needs_cuda
def test_device_logistic_is_the_cpu_polynomial():
    """The hidden probabilities: the port of kernels.scalar.logistic_rows gives its bits
    (including its fused multiply-adds, on a host with FMA) over the whole range."""
    from numba import cuda

    from neurosim.kernels.cuda import rbm as ck
    from neurosim.kernels.scalar import logistic_rows

    g = np.random.default_rng(0)
    x = g.normal(0, 4, 2000)
    want = x.copy()
    logistic_rows(want, np.empty_like(want))
    # values where the unfused formula (two roundings per Horner step) misses the CPU's bits
    differ = np.array([_unfused_logistic(t) for t in x]) != want
    if not differ.any():   # pragma: no cover - a host without FMA, or NUMBA_CPU_NAME=generic
        pytest.skip("this host's CPU kernel fuses no multiply-add; the device port follows FMA hosts")
    x = np.concatenate([x[differ][:30], g.normal(0, 300, 20),
                        [0.0, -0.0, 708.5, -708.5, 745.0, -800.0, 1e300, -1e300, 36.7, -36.7]])
    assert x.size == 60
    want = x.copy()
    logistic_rows(want, np.empty_like(want))
    V = cuda.to_device(np.zeros((1, 3)))   # one chain, all units 0: x = c
    P = cuda.device_array((1, x.size))
    blocks, threads = ck._grid(x.size, 1)
    ck._up[blocks, threads](V, cuda.to_device(np.ones((3, x.size))), cuda.to_device(x), 1.0,
                            cuda.to_device(np.ones(1)), 0, cuda.device_array((0, 0)), -1, P, P)
    np.testing.assert_array_equal(P.copy_to_host()[0], want)


@needs_cuda
@pytest.mark.parametrize("persistent,k,gaussian", [(False, 1, False), (True, 2, True)])
def test_fit_epoch_twin_takes_the_cpu_kernels_arguments(persistent, k, gaussian):
    """The same arguments; the same draws (streams and persistent chains end equal) and the
    parameters equal to rounding (the CPU sums its products by BLAS)."""
    from neurosim.kernels.cuda import rbm as ck

    names = list(inspect.signature(K.fit_epoch.py_func).parameters)
    assert list(inspect.signature(ck.fit_epoch).parameters) == names
    g = np.random.default_rng(2)
    nv, nh, m, batch = 9, 6, 7, 4   # a short last mini-batch
    X = g.normal(0, 1, (m, nv)) if gaussian else (g.random((m, nv)) < 0.4).astype(float)
    args = [g.normal(0, 1, (nv, nh)), g.normal(0, 1, nv), g.normal(0, 1, nh), np.zeros((nv, nh)), np.zeros(nv),
            np.zeros(nh), X, g.permutation(m).astype(np.int64), np.int64(batch), np.int64(k), persistent,
            (g.random((batch, nh)) < 0.5).astype(float), 0.1, 0.5, 0.01, 0.1, 0.3, gaussian, 0.8,
            rng.streams(5, batch)]
    cpu, gpu = _twin_call(K.fit_epoch, ck.fit_epoch, args)
    for name, want, got in zip(names, cpu, gpu):
        if name in ("chain_h", "states", "data", "order"):
            np.testing.assert_array_equal(got, want, err_msg=name)
        elif isinstance(want, np.ndarray):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14, err_msg=name)
    assert not np.allclose(cpu[0], args[0])


def test_twins_compile_for_a_gpu():
    """The simulator does not type-check: compile every kernel for a GPU of compute capability
    9.0 where libNVVM is installed (no GPU or driver needed). The products' multiplies are
    ``mul.rn`` (never fused into the following add) and the stream state stays in registers
    while a row draws (one load and one store of it)."""
    if SIM:
        pytest.skip("the CUDA simulator compiles nothing")
    from numba import boolean, float64, int64, uint64

    try:
        from numba.cuda import compile_ptx

        from neurosim.kernels.cuda import rbm as ck
    except ImportError as err:   # pragma: no cover - no numba-cuda
        pytest.skip(f"no numba-cuda: {err}")
    A1, A2, A3, S, I1 = float64[::1], float64[:, ::1], float64[:, :, ::1], uint64[:, ::1], int64[::1]
    sigs = {"_up": (A2, A2, A1, float64, A1, int64, A2, int64, A2, A2),
            "_down": (A2, A2, A1, boolean, float64, A1, int64, A2, int64, A2, A3, A3, int64),
            "_draws": (S, A2, int64, int64, int64, int64, boolean, boolean),
            "_transpose": (A2, A2), "_gather": (A2, I1, int64, A2),
            "_update_weights": (A2, A2, A2, A2, A2, A2, A2, float64, float64, float64, float64),
            "_update_biases": (A2, A2, A2, A2, A1, A1, A1, A1, float64, float64, float64, float64, float64)}
    ptx = {}
    for name, sig in sigs.items():
        try:
            ptx[name] = compile_ptx(getattr(ck, name).py_func, sig, cc=(9, 0))[0]
        except Exception as err:  # no libNVVM on this machine
            if "NVVM" not in str(err):
                raise
            pytest.skip(f"cannot compile for a GPU here: {err}")
    assert "mul.rn.f64" in ptx["_up"] and "mul.rn.f64" in ptx["_down"]
    assert ptx["_draws"].count("ld.global.u64") == 2 and ptx["_draws"].count("st.global.u64") == 2


# ------------------------------------------------------------------ the families

@needs_cuda
@pytest.mark.parametrize("visible", ["bernoulli", "gaussian"])
def test_sample_matches_the_cpu(visible):
    kw = dict(steps=4, chains=3, every=2, betas=np.linspace(0.5, 1.0, 4))
    cpu = random_rbm(7, 5, 3, visible, 0.8).sample(**kw)
    gpu = random_rbm(7, 5, 3, visible, 0.8, backend="cuda").sample(**kw)
    same_samples(gpu, cpu, ("v_mean",) if visible == "bernoulli" else ("v",))
    assert gpu.v.shape == (3, 2, 7)


@needs_cuda
def test_sample_in_chunks_from_initial_states_streams_to_disk(tmp_path, monkeypatch):
    """Chunks of 2 steps (the chains, schedule and streams stay on the device between them),
    a last chunk without a record, an initial state, and the records streamed to netCDF."""
    monkeypatch.setattr(config, "CHUNK_WORK", 2 * 3 * 6 * 4)
    kw = dict(steps=5, chains=3, every=2, initial=np.array([1, 0, 1, 1, 0, 0.0]))
    cpu = random_rbm(6, 4, 4).sample(**kw)
    with random_rbm(6, 4, 4, backend="cuda").sample(store=tmp_path / "s.nc", **kw) as gpu:
        same_samples(gpu.load(), cpu)
    assert list(cpu.step.values) == [2, 4]


@needs_cuda
def test_dbn_generate_runs_its_top_chain_on_the_device():
    cpu = DBN([6, 5, 4], seed=1)
    gpu = DBN([6, 5, 4], seed=1, backend="cuda")
    assert [r.backend for r in gpu.rbms] == ["cuda", "cuda"]
    for a, b in zip(cpu.rbms, gpu.rbms):
        a.W = b.W = np.random.default_rng(a.n_visible).normal(0, 1, a.W.shape)
    kw = dict(steps=2, chains=3, every=1, initial=np.random.default_rng(0).random((3, 6)))
    same_samples(gpu.generate(**kw), cpu.generate(**kw), means=("v", "top_mean"))


@needs_cuda
@pytest.mark.parametrize("method,k,visible", [("cd", 1, "bernoulli"), ("pcd", 2, "gaussian")])
def test_fit_gives_the_cpu_history(method, k, visible):
    """Two epochs of 2 mini-batches: the history (reconstruction error, pseudo-likelihood)
    and the parameters agree with the CPU's to 1e-12 (summation order of the products)."""
    X = np.random.default_rng(0).random((6, 7))
    if visible == "bernoulli":
        X = (X < 0.4).astype(float)
    kw = dict(epochs=2, batch_size=3, learning_rate=0.1, method=method, k=k, sparsity_cost=0.1)
    cpu = RBM(7, 4, visible=visible, seed=2, init_scale=0.5).fit(X, **kw)
    seen = []
    gpu = RBM(7, 4, visible=visible, seed=2, init_scale=0.5, backend="cuda").fit(
        X, callback=lambda e, r: seen.append(r.W.copy()), **kw)
    assert cpu.history.attrs["backend"] == "cpu" and gpu.history.attrs["backend"] == "cuda"
    for name in cpu.history.data_vars:
        np.testing.assert_allclose(gpu.history[name].values, cpu.history[name].values, rtol=1e-12, err_msg=name)
    for a in ("W", "visible_bias", "hidden_bias"):
        np.testing.assert_allclose(getattr(gpu, a), getattr(cpu, a), rtol=1e-12, atol=1e-14, err_msg=a)
    np.testing.assert_array_equal(seen[-1], gpu.W)   # the host copy is current at every callback


@needs_cuda
def test_dbn_pretrain_on_the_device():
    X = (np.random.default_rng(1).random((4, 6)) < 0.5).astype(float)
    cpu = DBN([6, 4, 3], seed=0).pretrain(X, epochs=1, batch_size=4)
    gpu = DBN([6, 4, 3], seed=0, backend="cuda").pretrain(X, epochs=1, batch_size=4)
    assert gpu.history.attrs["backend"] == "cuda"
    np.testing.assert_allclose(gpu.history.reconstruction_error.values, cpu.history.reconstruction_error.values,
                               rtol=1e-12)
    for a, b in zip(cpu.rbms, gpu.rbms):
        np.testing.assert_allclose(b.W, a.W, rtol=1e-12, atol=1e-14)


# ------------------------------------------------------------------ errors, memory, backends

@needs_cuda
def test_bad_input_gets_the_cpu_errors():
    calls = [lambda r: r.sample(steps=3, betas=[1.0, 0.0, 1.0]),
             lambda r: r.sample(steps=2, chains=2, initial=np.ones((3, 4))),
             lambda r: r.sample(steps=2, every=3),
             lambda r: r.fit(np.full((3, 4), 2.0)),
             lambda r: r.fit(np.ones((3, 5))),
             lambda r: r.fit(np.ones((3, 4)), method="xx")]
    for call in calls:
        errors = []
        for b in ("cpu", "cuda"):
            with pytest.raises(ValueError) as err:
                call(RBM(4, 3, seed=0, backend=b))
            errors.append(str(err.value))
        assert errors[0] == errors[1]


@needs_cuda
def test_device_memory_is_checked_before_any_copy(monkeypatch):
    from numba import cuda

    def copy(*args, **kw):
        raise AssertionError("copied to the device before the memory check")

    monkeypatch.setattr(backend, "free_device_memory", lambda: 100)
    monkeypatch.setattr(cuda, "to_device", copy)
    r = RBM(4, 3, seed=0, backend="cuda")
    with pytest.raises(ValueError, match=r"RBM Gibbs sampling \(5 chains, 4 x 3 units\) needs [\d,]+ bytes "
                                         r"of GPU memory; 100 are free"):
        r.sample(steps=3, chains=5)
    with pytest.raises(ValueError, match=r"RBM fit \(3 rows, batch 2, 4 x 3 units\) needs [\d,]+ bytes"):
        r.fit(np.ones((3, 4)), batch_size=2)
    with pytest.raises(ValueError, match="needs [\\d,]+ bytes of GPU memory"):
        DBN([4, 3, 2], seed=0, backend="cuda").generate(steps=2, chains=2, every=1)


def test_memory_estimates_cover_the_arrays():
    """The bytes checked before a launch count every device array of the call."""
    from neurosim.kernels.cuda import rbm as ck   # noqa: F401 (importable without a GPU)

    nv, nh, chains, out = 784, 500, 10_000, 10_000 * 784
    arrays = 2 * nv * nh + nv + nh + chains * nv + 2 * chains + 2 * out + chains * (nh + nv) + chains * nh
    assert ck.gibbs_bytes(nv, nh, chains, out) == 8 * arrays
    m, batch, k = 1000, 10, 3
    draws = nh + k * nv + (k - 1) * nh
    arrays = 3 * nv * nh + 2 * (nv + nh) + m * nv + m + batch * nh + 2 * batch + 2 * batch * nv \
        + 3 * batch * nh + batch * draws
    assert ck.fit_epoch_bytes(nv, nh, m, batch, k, False) == 8 * arrays
    assert ck.draws_per_row(nv, nh, 1, True) == nv + nh


def test_cuda_without_a_gpu_is_an_error_and_auto_falls_back(monkeypatch, tmp_path):
    monkeypatch.setattr(backend, "cuda_available", lambda: False)
    with pytest.raises(ValueError, match="backend='cuda' was requested but no CUDA GPU"):
        RBM(3, 2, backend="cuda")
    with pytest.raises(ValueError, match="backend='cuda' was requested but no CUDA GPU"):
        DBN([3, 2, 2], backend="cuda")
    with pytest.warns(RuntimeWarning, match="running on the CPU"):
        r = RBM(3, 2, seed=1, init_scale=1.0, backend="auto")
    ds = r.sample(steps=3, chains=2)
    assert r.backend == "cpu" and ds.attrs["backend"] == "cpu"
    assert ds.drop_attrs().identical(RBM(3, 2, seed=1, init_scale=1.0).sample(steps=3, chains=2).drop_attrs())
    with pytest.warns(RuntimeWarning, match="running on the CPU"):
        dbn = DBN([3, 2, 2], seed=0, backend="auto")
    assert dbn.backend == "cpu" and [x.backend for x in dbn.rbms] == ["cpu", "cpu"]
    RBM(3, 2, seed=1).save(tmp_path / "r.nc")
    DBN([3, 2, 2], seed=0).save(tmp_path / "d.nc")
    with pytest.raises(ValueError, match="no CUDA GPU"):
        RBM.load(tmp_path / "r.nc", backend="cuda")
    with pytest.raises(ValueError, match="no CUDA GPU"):
        DBN.load(tmp_path / "d.nc", backend="cuda")
    assert RBM.load(tmp_path / "r.nc").backend == "cpu"
