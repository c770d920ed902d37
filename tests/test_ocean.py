"""The dimod sampler over neurosim's annealing: dimod's own sampler tests, energies in dimod's
convention, ground states against dimod's ExactSolver, dwave-samplers' keyword arguments."""
import subprocess
import sys
import unittest
import warnings

import numpy as np
import pytest

dimod = pytest.importorskip("dimod")

from neurosim import backend, config  # noqa: E402
from neurosim.energy import IsingAnnealer  # noqa: E402
from neurosim.energy.ocean import AnnealingSampler, default_beta_range, ising_arrays  # noqa: E402


def _random_bqm(n, vartype, seed, labels=None, p=0.6):
    """A random frustrated model with awkward labels and an offset."""
    g = np.random.default_rng(seed)
    labels = labels or [("v", i) if i % 3 else f"s{i}" for i in range(n)]
    lin = {v: float(g.normal()) for v in labels}
    quad = {(labels[i], labels[j]): float(g.normal())
            for i in range(n) for j in range(i + 1, n) if g.random() < p}
    return dimod.BinaryQuadraticModel(lin, quad, float(g.normal()), vartype)


def test_sampler_api():
    dimod.testing.assert_sampler_api(AnnealingSampler())
    assert isinstance(AnnealingSampler(), dimod.Initialized)
    assert "num_reads" in AnnealingSampler().parameters
    options = AnnealingSampler().properties["beta_schedule_options"]
    assert options == ("geometric", "linear", "custom")


@dimod.testing.load_sampler_bqm_tests(AnnealingSampler)
class TestDimodSuite(unittest.TestCase):
    """dimod's generated tests: empty, one-variable and path models of every BQM class, in both
    vartypes, with complicated labels; energies checked with dimod's assert_sampleset_energies."""


@pytest.mark.parametrize("vartype", ["SPIN", "BINARY"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ground_state_of_exact_solver(vartype, seed):
    bqm = _random_bqm(10, vartype, seed)
    exact = dimod.ExactSolver().sample(bqm)
    ss = AnnealingSampler().sample(bqm, num_reads=8, num_sweeps=400, seed=seed)
    assert ss.vartype is bqm.vartype and set(ss.variables) == set(bqm.variables)
    dimod.testing.assert_sampleset_energies(ss, bqm)
    assert ss.first.energy == pytest.approx(exact.first.energy, abs=1e-9)
    ground = {tuple(s[v] for v in bqm.variables)
              for s, e in exact.data(["sample", "energy"]) if e < exact.first.energy + 1e-9}
    assert tuple(ss.first.sample[v] for v in bqm.variables) in ground


@pytest.mark.parametrize("vartype", ["SPIN", "BINARY"])
@pytest.mark.parametrize("n, p", [(6, 1.0), (80, 0.04)])   # dense and CSR couplings
def test_energies_are_dimods(vartype, n, p):
    bqm = _random_bqm(n, vartype, seed=n, p=p)
    J, h, offset = ising_arrays(bqm)
    assert isinstance(J, np.ndarray) == (p == 1.0)
    ss = AnnealingSampler().sample(bqm, num_reads=6, num_sweeps=30, seed=4,
                                   beta_range=(0.05, 0.5))   # warm: varied, not all ground
    np.testing.assert_allclose(ss.record.energy, bqm.energies(ss), rtol=0, atol=1e-9)
    # the translation itself: neurosim's energy of each spin state is dimod's
    g = np.random.default_rng(0)
    spins = np.where(g.random((20, n)) < 0.5, -1, 1)
    ours = IsingAnnealer(J, h, offset=offset).energy(spins)
    np.testing.assert_allclose(ours, bqm.spin.energies((spins, list(bqm.variables))), atol=1e-9)


def test_sign_convention_of_one_coupling():
    """dimod's b_ab = +1 favours anti-aligned spins; neurosim's J_ab = -1 says the same."""
    bqm = dimod.BinaryQuadraticModel({"a": 0.5}, {("a", "b"): 1.0}, 0.25, "SPIN")
    J, h, offset = ising_arrays(bqm)
    np.testing.assert_array_equal(J, [[0.0, -1.0], [-1.0, 0.0]])
    np.testing.assert_array_equal(h, [-0.5, 0.0])
    assert offset == 0.25
    ss = AnnealingSampler().sample(bqm, num_reads=4, seed=0)
    assert ss.first.sample == {"a": -1, "b": 1} and ss.first.energy == pytest.approx(-1.25)


def test_seed_repeats_and_is_reported():
    bqm = _random_bqm(12, "SPIN", seed=5)
    s = AnnealingSampler()
    a = s.sample(bqm, num_reads=5, num_sweeps=50, seed=7, beta_range=(0.1, 1.0))
    b = s.sample(bqm, num_reads=5, num_sweeps=50, seed=7, beta_range=(0.1, 1.0))
    c = s.sample(bqm, num_reads=5, num_sweeps=50, seed=8, beta_range=(0.1, 1.0))
    np.testing.assert_array_equal(a.record.sample, b.record.sample)
    assert not np.array_equal(a.record.sample, c.record.sample)
    fresh = s.sample(bqm, num_reads=5, num_sweeps=50, beta_range=(0.1, 1.0))
    again = s.sample(bqm, num_reads=5, num_sweeps=50, beta_range=(0.1, 1.0),
                     seed=fresh.info["seed"])
    np.testing.assert_array_equal(fresh.record.sample, again.record.sample)


@pytest.mark.parametrize("schedule, space", [("geometric", np.geomspace), ("linear", np.linspace)])
def test_schedules_are_dwave_samplers(schedule, space):
    """dwave-samplers' schedule: num_sweeps / num_sweeps_per_beta betas spaced over beta_range,
    each held for num_sweeps_per_beta sweeps; the same run as the annealer on those betas."""
    bqm = _random_bqm(9, "SPIN", seed=3)
    ss = AnnealingSampler().sample(bqm, num_reads=4, num_sweeps=12, num_sweeps_per_beta=3,
                                   beta_range=(0.2, 2.0), beta_schedule_type=schedule, seed=11,
                                   proposal_acceptance_criteria="Gibbs")
    assert ss.info["beta_range"] == [0.2, pytest.approx(2.0)]
    assert ss.info["beta_schedule_type"] == schedule and ss.info["num_sweeps"] == 12
    J, h, offset = ising_arrays(bqm)
    betas = np.repeat(space(0.2, 2.0, 4), 3)
    ds = IsingAnnealer(J, h, offset=offset, seed=11).anneal(reads=4, betas=betas,
                                                             method="heat_bath")
    np.testing.assert_array_equal(ss.record.sample, ds.spins.values)
    custom = AnnealingSampler().sample(bqm, num_reads=4, beta_schedule_type="custom",
                                       beta_schedule=space(0.2, 2.0, 4), num_sweeps_per_beta=3,
                                       seed=11, proposal_acceptance_criteria="Gibbs")
    np.testing.assert_array_equal(custom.record.sample, ds.spins.values)


def _strict_local_minimum(bqm):
    """An excited state of ``bqm`` from which every single flip raises the energy."""
    exact = dimod.ExactSolver().sample(bqm)
    ground = exact.first.energy
    for sample, energy in exact.data(["sample", "energy"]):
        if energy > ground + 1e-6 and all(
                bqm.energy({**sample, v: -sample[v]}) > energy + 1e-6 for v in bqm.variables):
            return sample
    raise AssertionError("no strict local minimum")


def test_initial_states_keep_their_labels():
    bqm = _random_bqm(8, "SPIN", seed=9)
    start = _strict_local_minimum(bqm)
    shuffled = dict(reversed(list(start.items())))     # another label order than the bqm's
    cold = dict(beta_schedule_type="custom", beta_schedule=[50.0, 50.0])
    ss = AnnealingSampler().sample(bqm, initial_states=shuffled, seed=0, **cold)
    assert len(ss) == 1 and ss.first.sample == start
    tiled = AnnealingSampler().sample(bqm, initial_states=shuffled, num_reads=3,
                                      initial_states_generator="tile", seed=0, **cold)
    assert all(s == start for s in tiled.samples())
    with pytest.raises(ValueError, match="insufficient"):
        AnnealingSampler().sample(bqm, initial_states=shuffled, num_reads=2,
                                  initial_states_generator="none", **cold)
    # BINARY model, spin start states: dimod converts them
    binary = bqm.change_vartype("BINARY", inplace=False)
    ss = AnnealingSampler().sample(binary, initial_states=start, seed=0, **cold)
    assert ss.first.sample == {v: (s + 1) // 2 for v, s in start.items()}
    # random fill of the missing reads is seeded
    a = AnnealingSampler().sample(bqm, initial_states=start, num_reads=4, num_sweeps=1,
                                  beta_range=(50.0, 50.0), seed=3)
    b = AnnealingSampler().sample(bqm, initial_states=start, num_reads=4, num_sweeps=1,
                                  beta_range=(50.0, 50.0), seed=3)
    np.testing.assert_array_equal(a.record.sample, b.record.sample)


def test_sample_ising_and_qubo():
    s = AnnealingSampler()
    ss = s.sample_ising({"x": 1.0, "y": -2.0}, {("x", "y"): -0.5}, num_reads=3, seed=1)
    assert ss.first.sample == {"x": -1, "y": 1}
    energy = dimod.ising_energy(ss.first.sample, {"x": 1.0, "y": -2.0}, {("x", "y"): -0.5})
    assert ss.first.energy == pytest.approx(energy)
    Q = {(0, 0): -1.0, (1, 1): -1.0, (0, 1): 2.0, (2, 2): 0.5}
    ss = s.sample_qubo(Q, num_reads=4, seed=2)
    assert ss.first.energy == pytest.approx(-1.0) and ss.first.sample[2] == 0


def test_agrees_with_dwave_samplers():
    samplers = pytest.importorskip("dwave.samplers")
    bqm = _random_bqm(14, "SPIN", seed=21)
    ours = AnnealingSampler().sample(bqm, num_reads=10, num_sweeps=500, seed=1)
    theirs = samplers.SimulatedAnnealingSampler().sample(bqm, num_reads=10, num_sweeps=500, seed=1)
    exact = dimod.ExactSolver().sample(bqm).first.energy
    assert ours.first.energy == pytest.approx(exact) == theirs.first.energy


def test_bad_arguments():
    s = AnnealingSampler()
    bqm = _random_bqm(4, "SPIN", seed=0)
    cases = [
        (dict(randomize_order=True), ValueError, "randomize_order"),
        (dict(interrupt_function=lambda: False), ValueError, "interrupt_function"),
        (dict(proposal_acceptance_criteria="Glauber"), ValueError, "proposal_acceptance"),
        (dict(beta_schedule_type="custom"), ValueError, "beta_schedule"),
        (dict(beta_schedule_type="custom", beta_schedule=[2.0, 1.0]), ValueError, "beta_schedule"),
        (dict(beta_schedule=[1.0, 2.0]), ValueError, "custom"),
        (dict(beta_schedule_type="cosine"), ValueError, "beta_schedule_type"),
        (dict(num_sweeps=10, num_sweeps_per_beta=3), ValueError, "multiple"),
        (dict(num_sweeps=0), ValueError, "num_sweeps"),
        (dict(num_reads=0), ValueError, "num_reads"),
        (dict(num_reads=1.5), TypeError, "num_reads"),
        (dict(beta_range=(2.0, 1.0)), ValueError, "beta_range"),
        (dict(beta_range=(1.0,)), ValueError, "beta_range"),
        (dict(seed=-1), ValueError, "seed"),
        (dict(seed="x"), TypeError, "seed"),
    ]
    for kwargs, err, match in cases:
        with pytest.raises(err, match=match):
            s.sample(bqm, **kwargs)
    with pytest.raises(TypeError, match="bqm"):
        s.sample({"a": 1.0})
    with pytest.raises(ValueError, match="finite"):
        s.sample(dimod.BinaryQuadraticModel({"a": np.nan}, {}, 0.0, "SPIN"))
    with pytest.raises(ValueError, match="backend"):
        AnnealingSampler(backend="tpu")
    with pytest.warns(dimod.exceptions.SamplerUnknownArgWarning):
        s.sample(bqm, num_sweeps=5, temperature=3)


def test_import_neurosim_leaves_dimod_out():
    code = "import sys, neurosim, neurosim.energy; print('dimod' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.cuda
@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.skipif(not backend.cuda_available(), reason="no CUDA GPU and no CUDA simulator")
def test_cuda_backend_gives_the_cpu_samples(monkeypatch):
    monkeypatch.setattr(config, "ANNEAL_CUDA_DENSE_THREADS", 4)
    monkeypatch.setattr(config, "ANNEAL_CUDA_SPARSE_THREADS", 2)
    bqm = _random_bqm(7, "BINARY", seed=2)
    kw = dict(num_reads=3, num_sweeps=6, beta_range=(0.2, 3.0), seed=5)
    cpu = AnnealingSampler().sample(bqm, **kw)
    gpu = AnnealingSampler(backend="cuda").sample(bqm, **kw)
    assert gpu.info["backend"] == "cuda"
    np.testing.assert_array_equal(gpu.record.sample, cpu.record.sample)
    np.testing.assert_array_equal(gpu.record.energy, cpu.record.energy)


@pytest.mark.parametrize("make", [
    lambda: dimod.generators.gnp_random_bqm(15, 0.5, "BINARY", random_state=0),
    lambda: dimod.generators.ran_r(2, 15, seed=1),
    lambda: _random_bqm(9, "SPIN", seed=4),
    lambda: dimod.BinaryQuadraticModel({"a": 0.0, "b": 0.0}, {}, 0.0, "SPIN"),
])
def test_default_beta_range_is_dwave_samplers(make):
    rule = getattr(pytest.importorskip("dwave.samplers.sa.sampler"), "_default_ising_beta_range",
                   None)
    if rule is None:
        pytest.skip("this dwave-samplers has no _default_ising_beta_range")
    bqm = make()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")         # dwave-samplers warns on a model without biases
        theirs = rule(bqm.spin.linear, bqm.spin.quadratic)
    np.testing.assert_allclose(default_beta_range(bqm), theirs, rtol=1e-12)
    ss = AnnealingSampler().sample(bqm, num_sweeps=3, seed=0)
    np.testing.assert_allclose(ss.info["beta_range"], theirs, rtol=1e-12)


def test_finely_spaced_energies_reach_the_ground_state():
    """A QUBO with uniform random biases: the default cold end (the smallest bias) settles
    every read into the ground state that dimod's ExactSolver finds."""
    bqm = dimod.generators.gnp_random_bqm(14, 0.5, "BINARY", random_state=3)
    ground = dimod.ExactSolver().sample(bqm).first.energy
    ss = AnnealingSampler().sample(bqm, num_reads=20, num_sweeps=500, seed=2)
    assert np.mean(ss.record.energy < ground + 1e-9) > 0.9
