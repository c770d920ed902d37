"""CUDA twins of the Markov kernels: the same paths as the CPU on the same streams.

The GPU tests run on a GPU or under Numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``, tiny
sizes only) and are skipped when neither is there; the backend choice without a GPU is tested
everywhere (``backend.cuda_available`` patched).
"""
import inspect

import numba
import numpy as np
import pytest
import scipy.sparse as sp

from neurosim import backend, config, rng
from neurosim.kernels import markov as K
from neurosim.markov import ContinuousMarkovChain, MarkovChain

gpu = [
    pytest.mark.cuda,
    pytest.mark.skipif(not backend.cuda_available(), reason="no CUDA GPU and no CUDA simulator"),
    # the simulator's uint64 arithmetic warns on the generator's (intended) wrap-around
    pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning"),
]


def on_gpu(test):
    """Mark a test as a CUDA test (run on a GPU or the simulator, skipped without either)."""
    for mark in gpu:
        test = mark(test)
    return test


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 4 threads: several blocks even for a handful of chains (and a quick simulator)."""
    monkeypatch.setattr(config, "MARKOV_CUDA_THREADS", 4)


def _dense(n, seed=0, zeros=0.4):
    g = np.random.default_rng(seed)
    P = g.random((n, n)) * (g.random((n, n)) > zeros)
    P[np.arange(n), (np.arange(n) + 1) % n] += 0.05  # every row has an exit
    return P / P.sum(axis=1, keepdims=True)


def _csr(n=24, seed=1):
    """Rows of 2-3 non-zeros (sampled by a scan) and rows of 20 (by the alias table)."""
    g = np.random.default_rng(seed)
    P = np.zeros((n, n))
    for i in range(n):
        k = 20 if i % 3 == 0 else 2 + i % 2
        cols = g.choice(n, size=k, replace=False)
        P[i, cols] = g.random(k) + 0.01
    assert (np.count_nonzero(P, axis=1) > K.SCAN_MAX).any()
    return sp.csr_array(P / P.sum(axis=1, keepdims=True))


SIMULATED = numba.config.ENABLE_CUDASIM


def _same(a, b):
    """The CUDA run's Dataset is the CPU's but for attrs["backend"]. A Gillespie run's waiting
    times take a log, the GPU's libdevice one (within 1 ulp) on hardware, so there its
    ``occupancy`` is compared to rounding (paths and jump counts still exactly); under the
    simulator (the CPU's libm log) everything is identical."""
    assert a.attrs["backend"] == "cpu" and b.attrs["backend"] == "cuda"
    if "occupancy" in a and not SIMULATED:  # pragma: no cover - needs a GPU
        np.testing.assert_allclose(b.occupancy, a.occupancy, rtol=1e-12, atol=1e-12)
        a, b = a.drop_vars("occupancy"), b.drop_vars("occupancy")
    assert b.drop_attrs().identical(a.drop_attrs())
    assert {k: v for k, v in a.attrs.items() if k != "backend"} == \
        {k: v for k, v in b.attrs.items() if k != "backend"}


@pytest.mark.parametrize("every", [1, 3])
@pytest.mark.parametrize("n_chains", [1, 6])   # one chain: the CPU's prefetching kernel
@pytest.mark.usefixtures("small_blocks")
@on_gpu
def test_dense_paths_are_the_cpus(every, n_chains):
    P = _dense(7)
    kw = dict(n_chains=n_chains, every=every, chunk=6)   # several chunks of the run loop
    cpu = MarkovChain(P, seed=3).simulate(25, **kw)
    cuda = MarkovChain(P, seed=3, backend="cuda").simulate(25, **kw)
    _same(cpu, cuda)
    assert cuda.path.shape == (n_chains, 25 // every + 1)


@pytest.mark.usefixtures("small_blocks")
@on_gpu
def test_csr_paths_are_the_cpus_on_scanned_and_alias_rows():
    P = _csr()
    cpu = MarkovChain(P, seed=5, labels=[f"s{i}" for i in range(24)]).simulate(30, n_chains=5, chunk=8, initial=np.full(24, 1 / 24))
    cuda = MarkovChain(P, seed=5, labels=[f"s{i}" for i in range(24)], backend="cuda").simulate(
        30, n_chains=5, chunk=8, initial=np.full(24, 1 / 24))
    _same(cpu, cuda)
    one_c = MarkovChain(P, seed=2).simulate(20, start=0)
    one_g = MarkovChain(P, seed=2, backend="cuda").simulate(20, start=0)
    _same(one_c, one_g)


def _ctmc(n=20, seed=4):
    """A rate matrix whose jump chain has long rows (alias), short rows (scan) and an
    absorbing state (no exit)."""
    g = np.random.default_rng(seed)
    Q = np.zeros((n, n))
    for i in range(n - 1):
        k = n - 1 if i % 4 == 0 else 2
        cols = g.choice([j for j in range(n) if j != i], size=k, replace=False)
        Q[i, cols] = g.random(k) * 3 + 0.1
    return Q


@pytest.mark.usefixtures("small_blocks")
@on_gpu
def test_gillespie_paths_are_the_cpus_across_chunks():
    Q = _ctmc()
    kw = dict(n_chains=5, dt=0.05, chunk=7)   # 41 grid points in 6 chunks
    cpu = ContinuousMarkovChain(Q, seed=8, fill_diagonal=True).simulate(2.0, **kw)
    cuda = ContinuousMarkovChain(Q, seed=8, fill_diagonal=True, backend="cuda").simulate(2.0, **kw)
    _same(cpu, cuda)
    assert int(cuda.jumps.sum()) > 10
    np.testing.assert_allclose(cuda.occupancy.sum("state"), 2.0, rtol=1e-12)


@pytest.mark.usefixtures("small_blocks")
@on_gpu
def test_interrupted_runs_are_the_cpus(ctrl_c):
    Q = _ctmc(n=6)
    kw = dict(n_chains=3, dt=0.1, chunk=4)
    cpu = ContinuousMarkovChain(Q, seed=1, fill_diagonal=True).simulate(2.0, **kw)
    cuda = ContinuousMarkovChain(Q, seed=1, fill_diagonal=True, backend="cuda").simulate(2.0, **kw)
    _same(cpu, cuda)
    assert cuda.attrs["interrupted"] == 1 and cuda.path.sizes["time"] == 4
    c2 = MarkovChain(_dense(5), seed=1).simulate(20, n_chains=3, chunk=5)
    g2 = MarkovChain(_dense(5), seed=1, backend="cuda").simulate(20, n_chains=3, chunk=5)
    _same(c2, g2)
    assert g2.attrs["interrupted"] == 1


@pytest.mark.parametrize("name", ["run_dense", "run_csr", "gillespie"])
@on_gpu
def test_twins_take_the_cpu_kernels_arguments(name):
    from neurosim.kernels.cuda import markov as ck

    assert list(inspect.signature(getattr(ck, name).py_func).parameters) == \
        list(inspect.signature(getattr(K, name).py_func).parameters)


@on_gpu
def test_twins_leave_every_argument_as_the_cpu_does():
    """Called directly on the same arguments, each kernel and its twin leave states, streams,
    records and (Gillespie) carried times, occupancy and jumps at the same values (the times
    to rounding on a GPU: see ``_same``)."""
    from numba import cuda

    from neurosim.kernels.cuda import markov as ck

    m = 5
    dense = MarkovChain(_dense(6), seed=0)._get_tables()[1:]
    csr = MarkovChain(_csr(), seed=0)._get_tables()[1:]
    ct = ContinuousMarkovChain(_ctmc(8), fill_diagonal=True)
    ctab = ct.jump_chain()
    ctab = MarkovChain(sp.csr_array(ctab.P))._get_tables()[1:]
    cases = [
        ("run_dense", [*dense, np.arange(m) % 6, np.int64(9), np.int64(2), rng.streams(1, m),
                       np.zeros((m, 4), np.int64)]),
        ("run_csr", [*csr, np.arange(m) * 4, np.int64(9), np.int64(1), rng.streams(2, m),
                     np.zeros((m, 9), np.int64)]),
        ("gillespie", [*ctab, ct.exit_rates, np.arange(m), np.zeros(m), np.full(m, np.nan), 1.0, 0.1,
                       np.int64(3), np.int64(11), rng.streams(3, m), np.zeros((m, 4), np.int64),
                       np.zeros((m, 8)), np.zeros(m, np.int64)]),
    ]
    for name, args in cases:
        cpu = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
        getattr(K, name)(*cpu)
        dev = [cuda.to_device(a) if isinstance(a, np.ndarray) else a for a in args]
        getattr(ck, name)[2, 4](*dev)
        names = list(inspect.signature(getattr(K, name).py_func).parameters)
        for arg, c, g in zip(names, cpu, dev):
            if not isinstance(c, np.ndarray):
                continue
            if name == "gillespie" and c.dtype == np.float64 and not SIMULATED:  # pragma: no cover
                np.testing.assert_allclose(g.copy_to_host(), c, rtol=1e-12, err_msg=arg)  # (the log)
            else:
                np.testing.assert_array_equal(g.copy_to_host(), c, err_msg=f"{name}: {arg}")


@on_gpu
def test_bad_input_gets_the_cpus_errors():
    cpu, cuda = MarkovChain(_dense(4), seed=0), MarkovChain(_dense(4), seed=0, backend="cuda")
    ccpu = ContinuousMarkovChain(_ctmc(4), fill_diagonal=True)
    ccuda = ContinuousMarkovChain(_ctmc(4), fill_diagonal=True, backend="cuda")
    calls = [lambda c: c.simulate(5, start=7), lambda c: c.simulate(5, n_chains=0),
             lambda c: c.simulate(5, every=0), lambda c: c.simulate(-1),
             lambda c: c.simulate(5, start=0, initial=np.full(4, 0.25)),
             lambda c: c.simulate(5, n_chains=2, start=[0, 1, 2])]
    for call in calls:
        errors = []
        for chain in (cpu, cuda):
            with pytest.raises((ValueError, TypeError)) as err:
                call(chain)
            errors.append((type(err.value), str(err.value)))
        assert errors[0] == errors[1]
    for call in [lambda c: c.simulate(0.0), lambda c: c.simulate(1.0, dt=-1), lambda c: c.simulate(1.0, start=9)]:
        errors = []
        for chain in (ccpu, ccuda):
            with pytest.raises(ValueError) as err:
                call(chain)
            errors.append(str(err.value))
        assert errors[0] == errors[1]
    with pytest.raises(ValueError, match="backend must be one of"):
        MarkovChain(_dense(3), backend="gpu")


@on_gpu
def test_device_memory_is_checked_before_launch(monkeypatch):
    from numba import cuda

    def copied(*args, **kw):
        raise AssertionError("an array went to the device before the memory check")

    monkeypatch.setattr(backend, "free_device_memory", lambda: 1000)
    monkeypatch.setattr(cuda, "to_device", copied)
    monkeypatch.setattr(cuda, "device_array", copied)
    with pytest.raises(ValueError, match=r"MarkovChain.simulate of 50 chains needs [\d,]+ bytes of GPU memory; 1,000 are free"):
        MarkovChain(_dense(6), backend="cuda").simulate(10, n_chains=50)
    with pytest.raises(ValueError, match=r"ContinuousMarkovChain.simulate of 50 chains needs [\d,]+ bytes"):
        ContinuousMarkovChain(_ctmc(6), fill_diagonal=True, backend="cuda").simulate(1.0, n_chains=50)


@pytest.mark.usefixtures("small_blocks")
@on_gpu
def test_save_load_and_store_with_the_backend(tmp_path):
    mc = MarkovChain(_dense(5), seed=6, backend="cuda")
    assert "backend='cuda'" in repr(mc)
    mc.save(tmp_path / "mc.nc")
    back = MarkovChain.load(tmp_path / "mc.nc", backend="cuda")
    assert back.backend == "cuda" and MarkovChain.load(tmp_path / "mc.nc").backend == "cpu"
    want = MarkovChain(_dense(5), seed=6).simulate(12, n_chains=3)
    with back.simulate(12, n_chains=3, chunk=5, store=tmp_path / "run.nc") as got:
        _same(want, got.load())
    cm = ContinuousMarkovChain(_ctmc(5), fill_diagonal=True, seed=2, backend="cuda")
    cm.save(tmp_path / "cm.nc")
    cb = ContinuousMarkovChain.load(tmp_path / "cm.nc", backend="cuda")
    assert cb.backend == "cuda" and cb.jump_chain().backend == "cuda"
    _same(ContinuousMarkovChain(_ctmc(5), fill_diagonal=True, seed=2).simulate(1.0, n_chains=2, dt=0.1),
          cb.simulate(1.0, n_chains=2, dt=0.1))


# -- without a GPU (any machine) ------------------------------------------------------------------
def test_cuda_without_a_gpu_is_an_error_and_auto_falls_back(monkeypatch):
    monkeypatch.setattr(backend, "cuda_available", lambda: False)
    for make in (lambda b: MarkovChain(_dense(3), backend=b),
                 lambda b: ContinuousMarkovChain(_ctmc(3), fill_diagonal=True, backend=b)):
        with pytest.raises(ValueError, match="no CUDA GPU is available"):
            make("cuda")
        with pytest.warns(RuntimeWarning, match="no CUDA GPU found"):
            chain = make("auto")
        assert chain.backend == "cpu"
    with pytest.warns(RuntimeWarning):
        mc = MarkovChain(_dense(3), seed=0, backend="auto")
    assert mc.simulate(4, n_chains=2).attrs["backend"] == "cpu"
    with pytest.raises(ValueError, match="no CUDA GPU is available"):
        MarkovChain.fit([0, 1, 0, 2], backend="cuda")


@on_gpu
def test_fitted_chains_take_the_backend():
    seqs = [[0, 1, 2, 1, 0, 2, 2, 1], [1, 1, 0, 2]]
    cpu = MarkovChain.fit(seqs, seed=3).simulate(10, n_chains=3)
    fitted = MarkovChain.fit(seqs, seed=3, backend="cuda")
    assert fitted.backend == "cuda"
    _same(cpu, fitted.simulate(10, n_chains=3))
    assert MarkovChain.from_ngrams("abracadabra", 2, backend="cuda").backend == "cuda"


def _ptx(name, argtypes):
    """PTX of twin ``name`` for a GPU of compute capability 9.0 (libNVVM only: no GPU, no
    driver needed)."""
    if SIMULATED:
        pytest.skip("the CUDA simulator compiles nothing")
    try:
        from numba.cuda import compile_ptx

        from neurosim.kernels.cuda import markov as ck

        return compile_ptx(getattr(ck, name).py_func, argtypes, cc=(9, 0))[0]
    except Exception as err:  # no numba-cuda or no libNVVM on this machine
        if "NVVM" not in str(err) and not isinstance(err, ImportError):
            raise
        pytest.skip(f"cannot compile for a GPU here: {err}")


def test_twins_compile_for_a_gpu_without_fma_in_the_csr_step():
    """The simulator does not type-check: compile the twins for real (where libNVVM is
    installed). The CSR step's ``u * m`` is a ``__dmul_rn`` that NVVM never fuses with the
    following subtraction, so the CSR kernel holds no FMA at all."""
    from numba import float64, int64, uint64

    a1, a2, f1, f2 = int64[::1], int64[:, ::1], float64[::1], float64[:, ::1]
    u2 = uint64[:, ::1]
    assert "ld.global.u64" in _ptx("run_dense", (u2, a1, int64, int64, u2, a2))
    csr = _ptx("run_csr", (a1, a1, f1, f1, a1, a1, int64, int64, u2, a2))
    assert "fma" not in csr and "mul.rn.f64" in csr
    _ptx("gillespie", (a1, a1, f1, f1, a1, f1, a1, f1, f1, float64, float64, int64, int64,
                       u2, a2, f2, a1))

