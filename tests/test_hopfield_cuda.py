"""CUDA twin of the asynchronous Hopfield kernel: bit-identical to the CPU on the same streams.

Runs on a GPU or under Numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``, tiny sizes only);
skipped when neither is available.
"""
import numpy as np
import pytest

from neurosim import backend
from neurosim.energy import HopfieldNetwork
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
