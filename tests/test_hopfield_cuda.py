"""CUDA twin of the asynchronous Hopfield kernel: bit-identical to the CPU on the same streams.

Runs on a GPU or under Numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``, tiny sizes only);
skipped when neither is available.
"""
import inspect

import numpy as np
import pytest

from neurosim import backend, config, rng
from neurosim.energy import HopfieldNetwork
from neurosim.kernels import hopfield as K
from neurosim.record import Monitor

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not backend.cuda_available(), reason="no CUDA GPU and no CUDA simulator"),
    # the simulator's uint64 arithmetic in numba.cuda.random warns on (intended) wrap-around
    pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning"),
]


def _case(n=24, P=3, m=5, seed=0):
    g = np.random.default_rng(seed)
    X = np.where(g.random((P, n)) < 0.5, -1, 1).astype(np.int8)
    cues = np.tile(X, (2, 1))[:m] * np.where(g.random((m, n)) < 0.3, -1, 1)
    return X, cues.astype(np.int8)


@pytest.mark.parametrize("rule", ["hebbian", "pinv"])  # int8 counts and float64 weights
@pytest.mark.parametrize("temperature", [0.0, 0.4])
def test_cuda_matches_cpu_bit_for_bit(rule, temperature):
    X, cues = _case()
    kw = dict(temperature=temperature, max_sweeps=8)
    cpu = HopfieldNetwork(24, rule=rule, seed=4).store(X).recall(cues, **kw)
    gpu = HopfieldNetwork(24, rule=rule, seed=4, backend="cuda").store(X).recall(cues, **kw)
    assert cpu.attrs["backend"] == "cpu" and gpu.attrs["backend"] == "cuda"
    assert gpu.drop_attrs().identical(cpu.drop_attrs())
    if temperature == 0.0:
        assert gpu.converged.all()


def test_cuda_final_only_and_monitor():
    X, cues = _case(n=20, P=2, m=3, seed=1)
    kw = dict(temperature=0.3, max_sweeps=6, monitor=Monitor(every=2, index=[0, 3, 19]))
    for record in ("final", "sweeps"):
        cpu = HopfieldNetwork(20, seed=2).store(X).recall(cues, record=record, **kw)
        gpu = HopfieldNetwork(20, seed=2, backend="cuda").store(X).recall(cues, record=record, **kw)
        assert gpu.drop_attrs().identical(cpu.drop_attrs())


@pytest.mark.parametrize("temperature", [0.0, 0.4])
def test_cuda_sync_matches_cpu(temperature):
    X, cues = _case(n=16, P=2, m=3, seed=2)
    kw = dict(mode="sync", temperature=temperature, max_sweeps=6)
    cpu = HopfieldNetwork(16, rule="storkey", seed=1).store(X).recall(cues, **kw)
    gpu = HopfieldNetwork(16, rule="storkey", seed=1, backend="cuda").store(X).recall(cues, **kw)
    assert gpu.attrs["backend"] == "cuda"
    assert gpu.drop_attrs().identical(cpu.drop_attrs())


@pytest.mark.parametrize("sync", [False, True])
def test_twin_takes_the_cpu_kernels_arguments(sync):
    """The same argument list, in the same order, for both kernels: each updates its own copy
    of it to the same values (states, bits, fields, counts, streams, records)."""
    from numba import cuda

    from neurosim.kernels.cuda import hopfield as ck

    assert list(inspect.signature(ck.sweeps.py_func).parameters) == \
        list(inspect.signature(K.sweeps.py_func).parameters)
    X, S = _case(n=70, P=3, m=4, seed=3)   # two words of bits per state
    net = HopfieldNetwork(70, seed=0).store(X)
    m, n, P, n_sweeps = 4, 70, 3, 5
    SB, Q, H, _ = net._start(S)
    args = [net._W2k, net._XB, S, SB, H, Q, rng.streams(6, m), np.zeros((m, n), np.int64),
            n_sweeps, 400.0, sync, np.zeros(m, np.bool_), np.zeros(m, np.int64), np.array([0, 69]),
            np.zeros((m, n_sweeps, 2), np.int8), np.zeros((m, n_sweeps)), np.zeros((m, n_sweeps, P), np.int64)]
    cpu = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    K.sweeps(*cpu)
    gpu = [cuda.to_device(a) if isinstance(a, np.ndarray) else a for a in args]
    ck.sweeps[1, config.HOPFIELD_CUDA_THREADS](*gpu)
    for name, c, g in zip(inspect.signature(K.sweeps.py_func).parameters, cpu, gpu):
        if name not in ("order", "W2T", "XB", "rec_idx") and isinstance(c, np.ndarray):
            np.testing.assert_array_equal(g.copy_to_host(), c, err_msg=name)
    assert (cpu[12] == n_sweeps).all()   # t = 400 (T = 400 / n): no cue settles in 5 sweeps


def test_cuda_recall_streams_to_disk(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "CHUNK_WORK", 2 * 5 * 24)   # two sweeps per chunk
    X, cues = _case()
    kw = dict(temperature=0.4, max_sweeps=7)
    cpu = HopfieldNetwork(24, seed=4).store(X).recall(cues, **kw)
    with HopfieldNetwork(24, seed=4, backend="cuda").store(X).recall(cues, store=tmp_path / "g.nc", **kw) as gpu:
        assert gpu.load().drop_attrs().identical(cpu.drop_attrs())
