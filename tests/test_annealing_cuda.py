"""CUDA twin of the annealing kernel: the same spins, energies, traces and samples as the CPU.

Runs on a GPU or under Numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``, tiny sizes only);
the tests of ``backend="cuda"`` / ``"auto"`` without a GPU run everywhere.
"""
import inspect

import numpy as np
import pytest
import scipy.sparse as sp

from neurosim import backend, config, rng
from neurosim.energy.annealing import IsingAnnealer
from neurosim.kernels import annealing as K

pytestmark = [
    pytest.mark.cuda,
    # the simulator's uint64 arithmetic warns on the generator's (intended) wrap-around
    pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning"),
]
needs_cuda = pytest.mark.skipif(not backend.cuda_available(), reason="no CUDA GPU and no CUDA simulator")


def _instance(n=10, seed=0, sparse=False):
    g = np.random.default_rng(seed)
    J = np.triu(g.standard_normal((n, n)), 1)
    if sparse:
        J *= g.random((n, n)) < 0.4
    J = J + J.T
    h = 0.5 * g.standard_normal(n)
    return (sp.csr_matrix(J) if sparse else J), h


@pytest.fixture
def small_grid(monkeypatch):
    """Few threads per block (the simulator runs each in Python); 4 < n, so a flip's field
    update is split over several entries per thread."""
    monkeypatch.setattr(config, "ANNEAL_CUDA_DENSE_THREADS", 4)
    monkeypatch.setattr(config, "ANNEAL_CUDA_SPARSE_THREADS", 2)


def _both(J, h, call, seed=3, **kw):
    cpu = getattr(IsingAnnealer(J, h, seed=seed), call)(**kw)
    gpu = getattr(IsingAnnealer(J, h, seed=seed, backend="cuda"), call)(**kw)
    assert cpu.attrs["backend"] == "cpu" and gpu.attrs["backend"] == "cuda"
    return cpu, gpu


@needs_cuda
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("method", ["metropolis", "heat_bath"])
def test_anneal_matches_cpu_exactly(small_grid, monkeypatch, sparse, method):
    monkeypatch.setattr(config, "CHUNK_WORK", config.ANNEAL_WORK_PER_SPIN * 10 * 3 * 2)  # 2 sweeps a chunk
    J, h = _instance(sparse=sparse)
    cpu, gpu = _both(J, h, "anneal", sweeps=5, reads=3, beta_range=(0.2, 3.0), schedule="linear",
                     method=method, trace=True)
    assert gpu.drop_attrs().identical(cpu.drop_attrs())
    assert (cpu.magnetisation.diff("sweep") != 0).any()      # spins moved: not a vacuous match


@needs_cuda
@pytest.mark.parametrize("sparse", [False, True])
def test_sample_matches_cpu_exactly(small_grid, monkeypatch, sparse):
    monkeypatch.setattr(config, "CHUNK_WORK", config.ANNEAL_WORK_PER_SPIN * 10 * 2 * 3)  # 3 sweeps a chunk
    J, h = _instance(seed=1, sparse=sparse)
    cpu, gpu = _both(J, h, "sample", beta=0.6, samples=3, reads=2, burn_in=2, thin=2, trace=True,
                     method="metropolis")
    assert gpu.drop_attrs().identical(cpu.drop_attrs())
    assert gpu.samples.shape == (2, 3, 10)


@needs_cuda
def test_more_threads_than_spins_qubo_and_initial_states(monkeypatch):
    monkeypatch.setattr(config, "ANNEAL_CUDA_DENSE_THREADS", 8)
    g = np.random.default_rng(2)
    Q = g.standard_normal((6, 6))
    initial = np.where(g.random((2, 6)) < 0.5, -1, 1)
    kw = dict(betas=[0.5, 1.0, 4.0], reads=2, initial=initial, trace=True)
    cpu = IsingAnnealer.from_qubo(Q, seed=5).anneal(**kw)
    gpu = IsingAnnealer.from_qubo(Q, seed=5, backend="cuda").anneal(**kw)
    assert gpu.drop_attrs().identical(cpu.drop_attrs())


@needs_cuda
@pytest.mark.parametrize("sparse", [False, True])
def test_twin_takes_the_cpu_kernels_arguments(small_grid, sparse):
    """The same argument list in the same order: each kernel updates its own copy of it to the
    same values (spins, fields, energies, streams, trace, samples), from a mid-run chunk."""
    from numba import cuda

    from neurosim.kernels.cuda import annealing as ck

    names = list(inspect.signature(K.anneal.py_func).parameters)
    assert list(inspect.signature(ck.anneal.py_func).parameters) == names
    Jm, h = _instance(n=9, seed=4, sparse=sparse)
    reads, n, start, stop, skip, keep = 3, 9, 2, 7, 1, 2
    spins = np.where(np.random.default_rng(0).random((reads, n)) < 0.5, -1, 1).astype(np.int8)
    fields = np.empty((reads, n))
    if sparse:
        J, indptr, indices, data = np.zeros((1, 1)), Jm.indptr.astype(np.int64), \
            Jm.indices.astype(np.int64), Jm.data.astype(np.float64)
        K.local_fields_csr(indptr, indices, data, h, spins, fields)
    else:
        J, indptr, indices, data = Jm, np.zeros(1, np.int64), np.zeros(1, np.int64), np.zeros(1)
        K.local_fields_dense(J, h, spins, fields)
    kept = (stop - skip) // keep - (start - skip) // keep
    args = [J, indptr, indices, data, sparse, np.linspace(0.3, 2.0, 8), np.int64(start), np.int64(stop),
            np.int64(K.HEAT_BATH), spins, fields, K.ising_energy(spins, fields, h), True,
            np.zeros((reads, stop - start)), np.zeros((reads, stop - start)), np.int64(skip),
            np.int64(keep), np.zeros((reads, kept, n), np.int8), np.zeros((reads, kept)),
            rng.streams(6, reads), np.int64(1)]
    cpu = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    K.anneal(*cpu)
    gpu = [cuda.to_device(a) if isinstance(a, np.ndarray) else a for a in args]
    _, kernel = IsingAnnealer(Jm, h, backend="cuda")._device(sparse, reads)
    kernel(*gpu)
    for name, c, g in zip(names, cpu, gpu):
        if isinstance(c, np.ndarray):
            np.testing.assert_array_equal(g.copy_to_host(), c, err_msg=name)
    assert not np.array_equal(cpu[9], spins)


@needs_cuda
def test_cuda_sample_streams_to_disk(small_grid, monkeypatch, tmp_path):
    monkeypatch.setattr(config, "CHUNK_WORK", config.ANNEAL_WORK_PER_SPIN * 10 * 2 * 2)
    J, h = _instance(seed=5, sparse=True)
    kw = dict(beta=0.8, samples=3, reads=2, burn_in=1, trace=True)
    cpu = IsingAnnealer(J, h, seed=1).sample(**kw)
    with IsingAnnealer(J, h, seed=1, backend="cuda").sample(store=tmp_path / "s.nc", **kw) as gpu:
        assert gpu.load().drop_attrs().identical(cpu.drop_attrs())


@needs_cuda
def test_bad_input_gets_the_cpu_errors():
    J, h = _instance(n=4)
    calls = [
        lambda a: a.anneal(sweeps=3, reads=0),
        lambda a: a.anneal(sweeps=3, method="glauber"),
        lambda a: a.anneal(betas=[1.0, 0.5]),
        lambda a: a.anneal(betas=[0.0, 1.0]),
        lambda a: a.anneal(sweeps=2, reads=2, initial=np.zeros(4)),
        lambda a: a.anneal(sweeps=2, reads=2, initial=np.ones((3, 4))),
        lambda a: a.sample(beta=1.0, temperature=1.0),
        lambda a: a.sample(beta=-1.0),
        lambda a: a.sample(beta=1.0, thin=0),
    ]
    for call in calls:
        errors = []
        for b in ("cpu", "cuda"):
            with pytest.raises((ValueError, TypeError)) as err:
                call(IsingAnnealer(J, h, seed=0, backend=b))
            errors.append((type(err.value), str(err.value)))
        assert errors[0] == errors[1]
    for b in ("cpu", "cuda"):
        with pytest.raises(ValueError, match="must be symmetric"):
            IsingAnnealer(np.triu(J), backend=b)


@needs_cuda
def test_device_memory_is_checked_before_launch(monkeypatch):
    from numba import cuda

    def copy(*args, **kw):
        raise AssertionError("copied to the device before the memory check")

    J, h = _instance(n=8)
    monkeypatch.setattr(backend, "free_device_memory", lambda: 1000)
    monkeypatch.setattr(cuda, "to_device", copy)
    with pytest.raises(ValueError, match=r"annealing run needs [\d,]+ bytes of GPU memory; 1,000 are free"):
        IsingAnnealer(J, h, backend="cuda").anneal(sweeps=4, reads=16)


def test_cuda_without_a_gpu_is_an_error_and_auto_falls_back(monkeypatch):
    monkeypatch.setattr(backend, "cuda_available", lambda: False)
    J, h = _instance(n=6)
    with pytest.raises(ValueError, match="backend='cuda' was requested but no CUDA GPU"):
        IsingAnnealer(J, h, backend="cuda")
    with pytest.raises(ValueError, match="no CUDA GPU"):
        IsingAnnealer.from_qubo(J, backend="cuda")
    with pytest.warns(RuntimeWarning, match="running on the CPU"):
        a = IsingAnnealer(J, h, seed=1, backend="auto")
    ds = a.anneal(sweeps=3, reads=2)
    assert a.backend == "cpu" and ds.attrs["backend"] == "cpu"
    assert ds.drop_attrs().identical(IsingAnnealer(J, h, seed=1).anneal(sweeps=3, reads=2).drop_attrs())
    with pytest.raises(ValueError, match="backend must be one of"):
        IsingAnnealer(J, h, backend="gpu")
