"""Argument checks and backend choice: the messages name the argument and what was given."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from neurosim import backend, checks


def test_array_converts_and_checks_shape():
    a = checks.array([[1, 2], [3, 4]], "w", ndim=2, shape=(2, None))
    assert a.dtype == np.float64 and a.flags.c_contiguous
    with pytest.raises(ValueError, match=r"w must have shape \(3, \*\); got \(2, 2\)"):
        checks.array(np.ones((2, 2)), "w", shape=(3, None))
    with pytest.raises(ValueError, match="w must be 1-D or 2-D; got shape"):
        checks.array(np.ones((2, 2, 2)), "w", ndim=(1, 2))


@pytest.mark.parametrize("value, err, match", [
    ([1.0, np.nan], ValueError, "finite"),
    ([1.0, np.inf], ValueError, "finite"),
    (["a", "b"], TypeError, "numeric"),
    ([], ValueError, "empty"),
    ([[1, 2], [3]], ValueError, "array"),
])
def test_array_bad_values(value, err, match):
    with pytest.raises(err, match=match):
        checks.array(value, "x")


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_scalar_accepts_exactly_the_finite_values_in_range(x):
    ok = np.isfinite(x) and 0 < x <= 1
    if ok:
        assert checks.scalar(x, "p", low=0, high=1, low_open=True) == x
    else:
        with pytest.raises(ValueError, match="p must"):
            checks.scalar(x, "p", low=0, high=1, low_open=True)


def test_scalar_integer_choice_types():
    with pytest.raises(TypeError, match="temperature"):
        checks.scalar("1", "temperature")
    with pytest.raises(TypeError, match="n"):
        checks.integer(2.0, "n")
    with pytest.raises(ValueError, match="n must be >= 1; got 0"):
        checks.integer(0, "n", low=1)
    with pytest.raises(ValueError, match="rule must be one of"):
        checks.choice("oja", "rule", ("hebbian", "storkey"))


def test_backend_resolution():
    assert backend.resolve("cpu") == "cpu"
    assert backend.available()[0] == "cpu"
    with pytest.raises(ValueError, match="backend must be one of"):
        backend.resolve("gpu")
    if not backend.cuda_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            backend.resolve("cuda")
        with pytest.warns(RuntimeWarning, match="CPU"):
            assert backend.resolve("auto") == "cpu"


def test_float_dtype():
    assert backend.float_dtype("float32") is np.float32
    with pytest.raises(ValueError, match="float32 or float64"):
        backend.float_dtype("int8")
    with pytest.raises(ValueError, match="float32 or float64"):
        backend.float_dtype("nonsense")


def test_complex_input_is_refused_not_truncated():
    with pytest.raises(TypeError, match="x must be real; got an array of dtype complex128"):
        checks.array(np.array([1 + 2j, 3]), "x")
    with pytest.raises(TypeError, match="must be real"):
        checks.array(np.zeros(3, np.complex64), "x", dtype=None)


def test_device_memory_check_names_bytes_needed_and_free(monkeypatch):
    monkeypatch.setattr(backend, "free_device_memory", lambda: 1000)
    assert backend.check_device_memory(999, "x") == 999
    with pytest.raises(ValueError, match=r"annealing needs 2,000 bytes of GPU memory; 1,000 are free"):
        backend.check_device_memory(2000, "annealing")


def test_device_on_the_cpu_is_the_host_arrays_and_kernels():
    from neurosim.kernels import markov

    dev = backend.Device("cpu", "markov")
    a = np.arange(3.0)
    assert dev.put(a) is a and dev.get(a) is a and dev.put((a, None)) == (a, None)
    assert dev.kernel("run_dense", 4, 32) is markov.run_dense
    out = np.empty(3)
    assert dev.get(a, out) is out and np.array_equal(out, a)
    assert dev.zeros((2,), np.int64).tolist() == [0, 0] and dev.empty((2, 3)).shape == (2, 3)
    assert backend.Device.nbytes(a, ((2, 3), np.int32), 10, None) == 24 + 24 + 10
    dev.check(10 ** 30, "anything")            # the CPU has no device memory to check


def test_device_buffers_are_reused_by_shape_and_dtype():
    dev = backend.Device("cpu", "markov")
    a = dev.buffer("rec", (2, 3), np.int64)
    assert dev.buffer("rec", (2, 3), np.int64) is a                  # same shape: the same array
    b = dev.buffer("rec", (2, 1), np.int64)                          # a shorter last chunk: a new one
    assert b is not a and b.shape == (2, 1) and dev.buffer("rec", (2, 1), np.float64).dtype == np.float64
    assert dev.buffer("other", (2, 1), np.int64) is not b             # one buffer per name
    kept = dev.buffer("x", (3,), host=False)                          # results kept without a copy
    assert dev.buffer("x", (3,), host=False) is not kept


def test_device_consts_and_items_on_the_cpu():
    from neurosim.kernels import markov

    cache = {}
    dev = backend.Device("cpu", "markov", cache)
    a = np.arange(4)
    assert dev.const("a", a) is a and dev.const("none", None) is None and not cache
    assert dev.items("run_dense", 1000, 64) is markov.run_dense
    z = np.ones(3)
    dev.clear(z)
    assert z.tolist() == [0, 0, 0]
    assert backend.Device.nbytes((a, None, ((3,), np.int8)), (a, a)) == 32 + 3 + 64  # argument groups


@pytest.mark.cuda
@pytest.mark.skipif(not backend.cuda_available(), reason="no CUDA GPU and no CUDA simulator")
def test_device_on_cuda_copies_once_and_brings_back():
    cache = {}
    dev = backend.Device("cuda", "markov", cache)
    a = np.arange(6.0).reshape(2, 3)
    d = dev.const("a", a)
    assert dev.cached("a", a) and dev.const("a", a) is d               # the same host array: kept
    assert backend.Device("cuda", "markov", cache).const("a", a) is d  # and by another Device
    b = a.copy()
    assert not dev.cached("a", b) and dev.const("a", b) is not d       # identity, not value
    assert np.array_equal(dev.get(d), a) and dev.const("none", None) is None
    out = np.empty((2, 3))
    assert dev.get(dev.put(a), out) is out and np.array_equal(out, a)
    dev.clear(d)
    assert not dev.get(d).any() and dev.get(dev.put(np.empty((0, 2)))).shape == (0, 2)
    buf = dev.buffer("rec", (2, 3))
    assert dev.buffer("rec", (2, 3)) is buf and dev.buffer("rec", (2, 3), host=False) is buf
    assert dev.get(dev.zeros((2,), np.int64)).tolist() == [0, 0]
    k = dev.items("run_dense", 70, 32)                                 # 3 blocks of 32 threads
    grid, block = (getattr(k, "grid_dim", None) or k.griddim), (getattr(k, "block_dim", None) or k.blockdim)
    assert tuple(grid)[0] == 3 and tuple(block)[0] == 32


def test_memory_refuses_what_would_not_fit_naming_bytes_needed_and_available(monkeypatch):
    assert checks.available_memory() > 0
    monkeypatch.setattr(checks, "available_memory", lambda: 1000)
    assert checks.memory(999, "x") == 999
    with pytest.raises(ValueError, match=r"^RBM\(n_visible=9\) needs about 2,000 bytes of memory; "
                                         r"1,000 are available$"):
        checks.memory(2000.0, "RBM(n_visible=9)")


def test_available_memory_reads_memavailable(tmp_path, monkeypatch):
    import builtins

    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       100 kB\nMemFree:         10 kB\nMemAvailable:    42 kB\n")
    real_open = builtins.open
    monkeypatch.setattr(builtins, "open", lambda f, *a, **k: real_open(meminfo if f == "/proc/meminfo" else f, *a, **k))
    assert checks.available_memory() == 42 * 1024


def test_labels_accept_whole_numbers_and_refuse_the_rest():
    np.testing.assert_array_equal(checks.labels([0.0, 2.0, 1.0], "y"), [0, 2, 1])
    assert checks.labels(np.array([True, False]), "y").dtype == np.int64
    with pytest.raises(ValueError, match=r"y must hold class labels \(whole numbers\); got 0.5"):
        checks.labels([0.0, 0.5], "y")
    with pytest.raises(ValueError, match=r"y must hold one label per sample \(3\); got 2"):
        checks.labels([0, 1], "y", n=3)
    with pytest.raises(TypeError, match="y must be real"):
        checks.labels(np.array([1j]), "y")
    with pytest.raises(ValueError, match="y must be 1-D"):
        checks.labels([[0, 1]], "y")


def test_array_none_empty_and_shape_messages():
    with pytest.raises(TypeError, match="x must be an array; got None"):
        checks.array(None, "x")
    assert checks.array([], "t", ndim=1, empty=True).shape == (0,)
    with pytest.raises(ValueError, match="empty"):
        checks.array([], "t", ndim=1)
    with pytest.raises(ValueError, match=r"h must have shape \(8,\); got \(7,\)"):
        checks.array(np.zeros(7), "h", shape=(8,))


def test_sparse_matrices_must_be_real():
    import scipy.sparse as sp

    M = sp.csr_matrix(np.eye(2))
    assert checks.sparse_real(M, "P") is M
    with pytest.raises(TypeError, match="P must hold real numbers; got a sparse matrix of dtype complex128"):
        checks.sparse_real(M.astype(complex), "P")


def _complex_calls():
    """Each entry point the issue names, called with one argument complex (its imaginary parts
    zero: converting would only hide the bug): {entry: (argument, call)}."""
    import scipy.sparse as sp

    from neurosim import ESN, RBM, SOM, IsingAnnealer, MarkovChain
    from neurosim.deep import mlp

    def z(a):
        return np.asarray(a, dtype=complex)

    return {
        "IsingAnnealer": ("J", lambda: IsingAnnealer(z(np.eye(3)))),
        "IsingAnnealer sparse": ("J", lambda: IsingAnnealer(sp.csr_matrix(z(np.eye(3))))),
        "ESN.fit": ("inputs", lambda: ESN(10, seed=0).fit(z(np.ones((20, 1))), np.ones((20, 1)))),
        "ESN.fit targets": ("targets", lambda: ESN(10, seed=0).fit(np.ones((20, 1)), z(np.ones((20, 1))))),
        "MarkovChain": ("P", lambda: MarkovChain(z(np.eye(2)))),
        "MarkovChain sparse": ("P", lambda: MarkovChain(sp.csr_matrix(z(np.eye(2))))),
        "mlp fit X": ("X", lambda: mlp([2, 3], seed=0).fit(z(np.ones((4, 2))), np.zeros(4, int), epochs=1)),
        "mlp fit y": ("y", lambda: mlp([2, 3], seed=0).fit(np.ones((4, 2)), z(np.zeros(4)), epochs=1)),
        "SOM.train": ("data", lambda: SOM(2, 2, 2, seed=0).train(z(np.ones((5, 2))))),
        "RBM.fit": ("data", lambda: RBM(3, 2, seed=0).fit(z(np.ones((5, 3))), epochs=1)),
    }


@pytest.mark.parametrize("entry", ["IsingAnnealer", "IsingAnnealer sparse", "ESN.fit", "ESN.fit targets",
                                   "MarkovChain", "MarkovChain sparse", "mlp fit X", "mlp fit y", "SOM.train",
                                   "RBM.fit"])
def test_complex_input_is_refused_at_each_entry_point(entry):
    name, call = _complex_calls()[entry]
    with pytest.raises(TypeError, match=rf"^{name} must (be|hold) real"):
        call()
