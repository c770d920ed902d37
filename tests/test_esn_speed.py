"""The ESN's fast paths give the numbers of the plain ones, to the bit: the single-sequence
kernel variants (compiled for one layout, activation, noise and feedback) against the generic
parallel kernels, the vector-gathered sparse rows against a CSR product, the column-wise input
term of a Fortran-ordered input matrix against the row-wise one; and a cold first fit compiles
only its own variant."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp

from neurosim import rng
from neurosim.kernels import reservoir as K
from neurosim.reservoir.layout import dense_layout, sell_layout

N = 40


def system(seed, n_in, n_fb, density=0.3, dtype="float64"):
    """A 2-layer reservoir's kernel arrays (both layouts) and its inputs."""
    g = np.random.default_rng(seed)
    W = sp.random(N, N, density=density, random_state=seed, data_rvs=g.standard_normal, format="csr") * 0.4
    bounds = np.array([0, 15, N], np.int64)
    win = g.normal(size=(N, n_in))
    wfb = g.normal(size=(N, n_fb)) * 0.2
    bias = (g.normal(size=N) * 0.1).astype(dtype)
    return W, bounds, win, wfb, bias


VARIANTS = [  # (layout, activation, noisy, feedback, n_in, dtype): each compiles its own kernels (~2-5 s)
    (K.SPARSE, K.TANH, 0, 0, 1, "float64"),
    pytest.param(K.DENSE, K.SIGMOID, 1, 1, 2, "float64", marks=pytest.mark.slow),
    pytest.param(K.SPARSE, K.RELU, 0, 1, 2, "float32", marks=pytest.mark.slow),
    pytest.param(K.DENSE, K.IDENTITY, 1, 0, 3, "float64", marks=pytest.mark.slow),
]


@pytest.mark.kernel
@pytest.mark.parametrize("layout, act, noisy, fb, n_in, dtype", VARIANTS)
def test_serial_variants_equal_generic_kernels(layout, act, noisy, fb, n_in, dtype):
    """Each variant against the generic parallel kernels (every flag read per call)."""
    W, bounds, win, wfb, bias = system(act, n_in, 2 if fb else 0, dtype=dtype)
    mat = (dense_layout if layout == K.DENSE else sell_layout)(W, bounds, dtype)
    g = np.random.default_rng(9)
    T, noise = 30, 0.05 if noisy else 0.0
    U = g.normal(size=(1, T, n_in))
    F = g.normal(size=(1, T, wfb.shape[1]))
    x0 = (g.normal(size=(1, N)) * 0.3).astype(dtype)
    streams = rng.streams(3, 1)
    # states, teacher-forced
    outs = []
    for kernel in (K.run, K.serial("run_serial", layout, act, noisy, fb)):
        x, out = x0.copy(), np.empty((1, T, N))
        kernel(mat, bounds, win, wfb, bias, U, F, x, 0.6, act, noise, streams.copy(), out)
        outs.append((x, out))
    np.testing.assert_array_equal(outs[0][1], outs[1][1])
    np.testing.assert_array_equal(outs[0][0], outs[1][0])
    # readout in the loop, open and closed
    wout = g.normal(size=(n_in, N)) * 0.2
    wb = g.normal(size=n_in) * 0.1
    for closed in (False, True):
        res = []
        for kernel in (K.run_readout, K.serial("run_readout_serial", layout, act, noisy, fb)):
            x, y = x0.copy(), np.full((1, n_in), 0.1)
            ox, oy = np.empty((1, T, N)), np.empty((1, T, n_in))
            kernel(mat, bounds, win, wfb if wfb.shape[1] == n_in or not fb else wfb[:, :0], bias, wout, wb, U,
                   closed, x, y, 0.6, act, noise, streams.copy(), ox, oy)
            res.append((ox, oy, x, y))
        for a, b in zip(*res):
            np.testing.assert_array_equal(a, b)


@pytest.mark.kernel
def test_gathered_sparse_rows_equal_csr_product():
    """Each SELL row sums in CSR order, products rounded then added: scipy's CSR product, bit
    for bit, at sizes with full and partial slices and 16- and 32-bit column indices."""
    g = np.random.default_rng(0)
    for n, per_row in ((13, 6), (200, 20), (70000, 3)):
        rows = np.repeat(np.arange(n), per_row)
        W = sp.csr_array((g.normal(size=rows.size), (rows, g.integers(0, n, rows.size))), shape=(n, n))
        W.sum_duplicates()
        mat = sell_layout(W, np.array([0, n], np.int64))
        assert mat[5].dtype == (np.uint16 if n <= 65536 else np.uint32)
        x, z = g.normal(size=n), np.empty(n)
        for s in range(mat[3].size):
            K._slice_sums(mat[0], mat[1], mat[5], mat[6], x, s, mat[2], mat[3], z)
        np.testing.assert_array_equal(z, W @ x)


@pytest.mark.kernel
def test_readout_serial_equals_parallel():
    g = np.random.default_rng(4)
    states, wout, wb = g.normal(size=(1, 50, N)), g.normal(size=(3, N)), g.normal(size=3)
    a, b = np.empty((1, 50, 3)), np.empty((1, 50, 3))
    K.readout(states, wout, wb, a)
    K.readout_serial(states, wout, wb, b)
    np.testing.assert_array_equal(a, b)


@pytest.mark.kernel
def test_input_term_orders_agree():
    """The column-wise sum of a Fortran-ordered input matrix (and of one input) adds the same
    terms in the same order as the row-wise sum of a C-ordered one."""
    g = np.random.default_rng(2)
    W, bounds, _, wfb, bias = system(1, 1, 0)
    mat = sell_layout(W, bounds)
    for n_in in (1, 3, 8):
        win = g.normal(size=(N, n_in))
        U = g.normal(size=(1, 20, n_in))
        outs = []
        for w in (np.ascontiguousarray(win), np.asfortranarray(win)):
            out = np.empty((1, 20, N))
            K.run(mat, bounds, w, wfb, bias, U, np.zeros((1, 20, 0)), np.zeros((1, N)), 0.5, 0, 0.0,
                  np.zeros((1, 2), np.uint64), out)
            outs.append(out)
        np.testing.assert_array_equal(outs[0], outs[1])


COLD = """
import json, numpy as np
from numba.core import event
names = []
class Listener(event.Listener):
    def on_start(self, e): names.append(e.data["dispatcher"].py_func.__name__)
    def on_end(self, e): pass
from neurosim.reservoir import ESN
esn = ESN(60, seed=0, layout="dense")
event.register("numba:compile", Listener())
u = np.sin(np.arange(201) * 0.3)[:, None]
esn.fit(u[:150], u[1:151], washout=10).predict(u[150:200])
print(json.dumps(names))
"""


@pytest.mark.slow
def test_cold_first_fit_compiles_only_its_variant(tmp_path):
    """A dense tanh ESN without noise or feedback, on an empty kernel cache: its fit and predict
    compile the serial variant and the serial readout, not the other layout, the other three
    activations, the noise, the feedback or a parallel kernel."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    proc = subprocess.run([sys.executable, "-c", COLD], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    names = set(json.loads(proc.stdout.strip().splitlines()[-1]))
    assert {"run_serial", "readout_serial", "_dense_rows", "_leaky_tanh"} <= names
    unwanted = {"_sparse_rows", "_leaky_sigmoid", "_leaky_relu", "_leaky_identity", "_add_noise", "_add_drive_fb",
                "run", "readout", "step", "run_readout_serial"}
    assert not names & unwanted
