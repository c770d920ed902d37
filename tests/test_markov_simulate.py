"""Markov simulation set-up (issue 17): the one-pass packed alias table and the range step
coordinate give what the two-pass table and an array coordinate give."""
import numpy as np
import pytest
import xarray as xr

from neurosim import record
from neurosim.kernels import markov as K

from test_markov import _packed_table, random_chain


@pytest.mark.kernel
def test_one_pass_packed_table_is_the_two_pass_one():
    rng = np.random.default_rng(3)
    P = random_chain(37, rng, zeros=0.4)
    table = np.empty(P.shape, dtype=np.uint64)
    K.dense_packed(P, table)
    np.testing.assert_array_equal(table, _packed_table(P))


def test_range_step_coordinate_is_the_array_one():
    meta = dict(family="MC", model="MarkovChain")
    for k in (1, 7):
        a = record.dataset({"path": (("chain", "step"), np.zeros((1, k), np.int64))}, {"step": range(k)}, **meta)
        b = record.dataset({"path": (("chain", "step"), np.zeros((1, k), np.int64))}, {"step": np.arange(k)}, **meta)
        xr.testing.assert_identical(a, b)
        assert a.indexes["step"].equals(b.indexes["step"]) and type(a.indexes["step"]) is type(b.indexes["step"])
