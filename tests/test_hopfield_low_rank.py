"""Hebbian recall from the overlap counts (``kernels.hopfield.sweeps_low_rank``): the naive
reference's run and the field kernel's, bit for bit (issue 17)."""
import numpy as np
import pytest
import xarray as xr

from neurosim import config
from neurosim.energy import HopfieldNetwork

from test_hopfield import check_against_ref, flip, pm1, ref_recall


@pytest.mark.kernel
@pytest.mark.parametrize("mode", ["async", "sync"])
@pytest.mark.parametrize("T", [0.0, 0.4])
@pytest.mark.parametrize("n", [70, 300])
def test_low_rank_recall_is_the_field_recall_and_the_reference(monkeypatch, mode, T, n):
    """Hebbian recall from the overlap counts (``sweeps_low_rank``, switching to the fields and
    back as sweeps flip few or many units) against the naive reference and against the field
    kernel: the same Dataset, bit for bit, in one chunk or many."""
    g = np.random.default_rng(14)
    P = 4
    X = pm1(g, (P, n))
    cues = flip(g, np.repeat(X, 2, axis=0), 0.3)
    net = HopfieldNetwork(n, seed=5).store(X)
    runs = []
    for ratio, chunk in ((1.0, config.CHUNK_WORK), (1.0, 2 * 8 * n), (-1.0, config.CHUNK_WORK)):
        monkeypatch.setattr(config, "HOPFIELD_RECALL_LOW_RANK_MAX_RATIO", ratio)
        monkeypatch.setattr(config, "CHUNK_WORK", chunk)  # 2 sweeps per chunk in the second
        runs.append(net.recall(cues, mode=mode, temperature=T, max_sweeps=10))
    check_against_ref(runs[0], ref_recall(net.weights, X, cues, 5, T, 10, mode=mode))
    for other in runs[1:]:
        xr.testing.assert_identical(runs[0], other)
