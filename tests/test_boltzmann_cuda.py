"""CUDA twin of the Boltzmann machine's Gibbs sweeps: the same samples and fits as the CPU.

Runs on a GPU or under Numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``, tiny sizes only);
the tests of ``backend="cuda"`` / ``"auto"`` without a GPU run everywhere.
"""
import inspect

import numpy as np
import pytest

from neurosim import backend, config, rng
from neurosim.energy.boltzmann import BoltzmannMachine
from neurosim.kernels import annealing as K

pytestmark = [
    pytest.mark.cuda,
    # the simulator's uint64 arithmetic warns on the generator's (intended) wrap-around
    pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning"),
]
needs_cuda = pytest.mark.skipif(not backend.cuda_available(), reason="no CUDA GPU and no CUDA simulator")


@pytest.fixture(autouse=True)
def small_grid(monkeypatch):
    """Few threads per block (the simulator runs each in Python): 3 < n, so a flip's field
    update and the kept state are split over several entries per thread."""
    monkeypatch.setattr(config, "BM_CUDA_THREADS", 3)


def random_bm(nv, nh, seed, backend="cpu"):
    g = np.random.default_rng(seed)
    bm = BoltzmannMachine(nv, nh, seed=seed, backend=backend)
    A = np.triu(g.normal(0, 1, (bm.n, bm.n)), 1)
    bm.W = A + A.T
    bm.bias = g.normal(0, 1, bm.n)
    return bm


@needs_cuda
@pytest.mark.parametrize("clamp", [None, [1, 0, 1]])
def test_sample_matches_cpu_exactly(monkeypatch, clamp):
    monkeypatch.setattr(config, "CHUNK_WORK", 3 * 2 * 7 * 7 * 2)   # two samples a chunk
    kw = dict(samples=5, chains=3, burn_in=3, thin=2, clamp=clamp)
    cpu = random_bm(3, 4, 1).sample(**kw)
    gpu = random_bm(3, 4, 1, "cuda").sample(**kw)
    assert cpu.attrs["backend"] == "cpu" and gpu.attrs["backend"] == "cuda"
    assert gpu.drop_attrs().identical(cpu.drop_attrs())
    assert (cpu.x.diff("sample") != 0).any()                      # states moved
    if clamp is not None:
        assert (gpu.x[:, :, :3] == clamp).all()


@needs_cuda
def test_fit_matches_cpu_exactly():
    data = (np.random.default_rng(0).random((6, 3)) < 0.5).astype(float)
    kw = dict(epochs=2, batch_size=3, free_chains=3, free_sweeps=2, burn_in=1, clamped_sweeps=2)
    cpu = random_bm(3, 2, 1).fit(data, **kw)
    gpu = random_bm(3, 2, 1, "cuda").fit(data, **kw)
    np.testing.assert_array_equal(gpu.W, cpu.W)
    np.testing.assert_array_equal(gpu.bias, cpu.bias)
    np.testing.assert_array_equal(gpu._free, cpu._free)
    assert gpu.history.attrs["backend"] == "cuda"
    assert gpu.history.drop_attrs().identical(cpu.history.drop_attrs())


@needs_cuda
@pytest.mark.parametrize("first", [0, 2])
def test_twin_takes_the_cpu_kernels_arguments(first):
    """The same argument list in the same order: each kernel updates its own copy of it to the
    same values (units, fields, x x^T sums, kept states, streams)."""
    from numba import cuda

    from neurosim.kernels.cuda import annealing as ck

    names = list(inspect.signature(K.bm_sweeps.py_func).parameters)
    assert list(inspect.signature(ck.bm_sweeps.py_func).parameters) == names
    bm = random_bm(3, 4, 2)
    chains, n, sweeps = 3, 7, 4
    x = (np.random.default_rng(1).random((chains, n)) < 0.5).astype(np.int8)
    args = [bm.W, bm.bias, 0.8, x, x @ bm.W + bm.bias, np.int64(first), np.int64(sweeps),
            np.zeros((chains, n, n)), np.int64(2), np.zeros((chains, 2, n), np.int8), rng.streams(3, chains)]
    cpu = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    K.bm_sweeps(*cpu)
    gpu = [cuda.to_device(a) if isinstance(a, np.ndarray) else a for a in args]
    ck.bm_sweeps[chains, config.BM_CUDA_THREADS](*gpu)
    for name, c, g in zip(names, cpu, gpu):
        if isinstance(c, np.ndarray):
            np.testing.assert_array_equal(g.copy_to_host(), c, err_msg=name)
    assert not np.array_equal(cpu[3], x)


@needs_cuda
def test_sample_streams_to_disk_and_load_on_cuda(tmp_path):
    bm = random_bm(2, 2, 3)
    bm.save(tmp_path / "bm.nc")
    cpu = bm.sample(4, 2, burn_in=1)
    gpu = BoltzmannMachine.load(tmp_path / "bm.nc", backend="cuda")
    assert gpu.backend == "cuda"
    with gpu.sample(4, 2, burn_in=1, store=tmp_path / "s.nc") as ds:
        assert ds.attrs["backend"] == "cuda"
        assert ds.load().drop_attrs().identical(cpu.drop_attrs())


@needs_cuda
def test_bad_input_gets_the_cpu_errors():
    calls = [
        lambda bm: bm.sample(0),
        lambda bm: bm.sample(3, chains=0),
        lambda bm: bm.sample(3, thin=0),
        lambda bm: bm.sample(3, clamp=[1, 0]),
        lambda bm: bm.sample(3, clamp=[1, 0, 2]),
        lambda bm: bm.sample(3, clamp=[[1, 0, 1], [0, 0, 1]]),
        lambda bm: bm.fit(np.array([[1, 0, 1]]), free_chains=0),
        lambda bm: bm.fit(np.array([[1, 0]])),
    ]
    for call in calls:
        errors = []
        for b in ("cpu", "cuda"):
            with pytest.raises((ValueError, TypeError)) as err:
                call(BoltzmannMachine(3, 2, seed=0, backend=b))
            errors.append((type(err.value), str(err.value)))
        assert errors[0] == errors[1]


@needs_cuda
def test_device_memory_is_checked_before_any_copy(monkeypatch):
    from numba import cuda

    def copy(*args, **kw):
        raise AssertionError("copied to the device before the memory check")

    monkeypatch.setattr(backend, "free_device_memory", lambda: 100)
    monkeypatch.setattr(cuda, "to_device", copy)
    bm = BoltzmannMachine(3, 2, seed=0, backend="cuda")
    with pytest.raises(ValueError, match=r"Boltzmann machine run needs [\d,]+ bytes of GPU memory; 100 are free"):
        bm.sample(3, chains=4)
    with pytest.raises(ValueError, match="needs [\\d,]+ bytes of GPU memory"):
        bm.fit(np.array([[1, 0, 1]]), epochs=1)


def test_cuda_without_a_gpu_is_an_error_and_auto_falls_back(monkeypatch, tmp_path):
    monkeypatch.setattr(backend, "cuda_available", lambda: False)
    with pytest.raises(ValueError, match="backend='cuda' was requested but no CUDA GPU"):
        BoltzmannMachine(3, 1, backend="cuda")
    with pytest.warns(RuntimeWarning, match="running on the CPU"):
        bm = BoltzmannMachine(3, 1, seed=2, backend="auto")
    ds = bm.sample(3, 2, burn_in=1)
    assert bm.backend == "cpu" and ds.attrs["backend"] == "cpu"
    assert ds.drop_attrs().identical(BoltzmannMachine(3, 1, seed=2).sample(3, 2, burn_in=1).drop_attrs())
    BoltzmannMachine(3, 1, seed=2).save(tmp_path / "bm.nc")
    with pytest.raises(ValueError, match="no CUDA GPU"):
        BoltzmannMachine.load(tmp_path / "bm.nc", backend="cuda")
