"""CF-readable results: every ``units`` attr of every variable and coordinate of a
representative run of each family parses as a UDUNITS string (checked with cf-units, the
UDUNITS-2 library's Python binding that cf-python and Iris use); two-state variables carry CF
``flag_values``/``flag_meanings`` (same count, the variable's type, holding every value) and
no units; every Dataset has a CF ``Conventions`` attr, also after a save to netCDF."""
import cf_units
import netCDF4
import numpy as np
import pytest

from neurosim import record
from neurosim.datasets import digits, jittered_templates
from neurosim.deep import dense_gan
from neurosim.energy import DBN, RBM, BoltzmannMachine, HopfieldNetwork, IsingAnnealer, ModernHopfield, sk_couplings
from neurosim.markov import ContinuousMarkovChain, MarkovChain
from neurosim.nn.layers import Dense, Sequential
from neurosim.reservoir import ELM, ESN
from neurosim.som import SOM
from neurosim.spiking import LIF, Izhikevich, Network, PoissonGroup, cuba
from neurosim.spiking.lsm import LiquidStateMachine
from neurosim.sweeps import experiments
from neurosim.sweeps.result import combine

GEN = np.random.default_rng(0)
PATTERNS = np.where(GEN.random((3, 24)) < 0.5, -1, 1)
BITS = (GEN.random((30, 6)) < 0.5).astype(float)


def _hopfield(units):
    X = PATTERNS if units == "bipolar" else (PATTERNS > 0).astype(int)
    return HopfieldNetwork(24, units=units).store(X).recall(X, seed=0)


def _boltzmann():
    bm = BoltzmannMachine(6, 2, seed=0)
    bm.fit(BITS, 2)
    return [bm.sample(10, 2, burn_in=5), bm.history]


def _rbm():
    r = RBM(6, 4, seed=0)
    r.fit(BITS, 2)
    return [r.history, r.sample(10, 2)]


def _dbn():
    d = DBN([6, 4, 3], seed=0)
    d.fit(BITS, epochs=2)
    return [d.history, d.generate(10, 2)]


def _spiking():
    """CUBA, and a network mixing current and conductance synapses (no one unit for syn_e)."""
    net = Network(1e-4, seed=0)
    src = net.add(PoissonGroup(20, 100.0))
    cur = net.add(LIF(5))
    cond = net.add(LIF(5, synapse="conductance"))
    izh = net.add(Izhikevich(3))
    for post, w in ((cur, 1e-10), (cond, 1e-9), (izh, 1e-10)):
        net.connect(src, post, p=0.5, weights=w)
    mixed = net.run(0.01, variables=("v", "u", "syn_e"))
    return [cuba(200, seed=0).run(0.02), mixed]


def _lsm():
    lsm = LiquidStateMachine(4, seed=0)
    samples, _, _ = jittered_templates(2, seed=0)
    return [lsm.run(samples[0], 0.05), lsm.memory_curve(n_bins=20, bin=0.02, max_delay=2, seed=1)]


def _esn():
    u = np.sin(0.3 * np.arange(300))[:, None]
    esn = ESN(30, seed=0).fit(u[:-1], u[1:], washout=20)
    return [esn.run(u[:40]), esn.generate(20)]


def _elm():
    X, y = digits()
    return [ELM(50, seed=0).fit(X[:300], y[:300]).evaluate(X[300:400], y[300:400])]


def _markov():
    chain = MarkovChain([[0.5, 0.5, 0.0], [0.2, 0.6, 0.2], [0.0, 0.0, 1.0]], seed=0)
    ctmc = ContinuousMarkovChain([[-1.0, 1.0], [2.0, -2.0]], seed=0)
    return [chain.simulate(50, n_chains=2), chain.absorption(), ctmc.simulate(5.0, n_chains=2)]


def _som():
    som = SOM(4, 4, 3, seed=0)
    return [som.train(GEN.random((60, 3)), 120)]


def _deep():
    X, y = digits()
    mlp = Sequential(Dense(16, "relu"), Dense(10), input_shape=(64,), seed=0)
    gan = dense_gan(2, latent=2, hidden=(8,), output="identity", seed=0)
    return [mlp.fit(X[:200], y[:200], epochs=2, batch_size=50, validation=(X[200:260], y[200:260]),
                    metrics=["accuracy"]),
            gan.fit(GEN.standard_normal((128, 2)), epochs=2, batch_size=64, seed=0)]


def _sweep():
    point = {(i,): experiments.hopfield_capacity(24, a, seed=0) for i, a in enumerate((0.05, 0.1))}
    point = {k + (0,): v for k, v in point.items()}
    return [combine([("alpha", [0.05, 0.1])], [0], point, {}, name="hopfield_capacity", fixed={},
                    store=None, interrupted=False)]


RUNS = {
    "hopfield bipolar": lambda: [_hopfield("bipolar")],
    "hopfield binary": lambda: [_hopfield("binary")],
    "modern hopfield": lambda: [ModernHopfield(4.0).store(PATTERNS).recall(PATTERNS[:2] * 0.9)],
    "annealing": lambda: [IsingAnnealer(sk_couplings(16, seed=0), seed=0).anneal(20, 2, trace=True),
                          IsingAnnealer(sk_couplings(16, seed=0), seed=0).sample(1.0, samples=10)],
    "boltzmann": _boltzmann,
    "rbm": _rbm,
    "dbn": _dbn,
    "spiking": _spiking,
    "lsm": _lsm,
    "esn": _esn,
    "elm": _elm,
    "markov": _markov,
    "som": _som,
    "nn and gan": _deep,
    "sweep": _sweep,
}


def check_cf(ds):
    """The CF checks on one Dataset; returns the (variable, units) pairs seen."""
    assert ds.attrs["Conventions"] == record.CONVENTIONS and record.CONVENTIONS.startswith("CF-")
    seen = []
    for name, var in ds.variables.items():
        a = var.attrs
        if "units" in a:
            assert isinstance(a["units"], str), name
            cf_units.Unit(a["units"])             # raises ValueError on a non-UDUNITS string
            seen.append((name, a["units"]))
        if "flag_values" in a or "flag_meanings" in a:
            values, meanings = np.asarray(a["flag_values"]), a["flag_meanings"].split()
            assert "units" not in a, f"{name}: categorical, so flags and no units"
            assert values.size == len(meanings) == len(set(meanings)), name
            assert values.dtype == var.dtype, f"{name}: CF asks flag_values in the variable's type"
            assert np.isin(np.unique(var.values), values).all(), f"{name} holds a value with no flag"
    return seen


@pytest.mark.parametrize("family", list(RUNS))
def test_every_unit_parses_and_flags_are_consistent(family):
    for ds in RUNS[family]():
        check_cf(ds)


def test_flags_and_units_of_known_variables_mean_what_they_say():
    """The encodings and units against their physics: spins are down/up, binary units off/on,
    spike times in seconds convert to milliseconds, rates in Hz are per second."""
    hop = _hopfield("bipolar")
    assert hop.final_state.attrs["flag_meanings"] == "down up"
    np.testing.assert_array_equal(hop.final_state.attrs["flag_values"], [-1, 1])
    np.testing.assert_array_equal(_hopfield("binary").state.attrs["flag_values"], [0, 1])
    assert _hopfield("binary").state.attrs["flag_meanings"] == "off on"
    ds = cuba(200, seed=0).run(0.02)
    ms = cf_units.Unit(ds.spike_time.attrs["units"]).convert(ds.spike_time.values, "ms")
    np.testing.assert_allclose(ms, ds.spike_time.values * 1e3)
    assert cf_units.Unit(ds.rate.attrs["units"]) == cf_units.Unit("s-1")
    rate = record.spike_rates(ds, 0.005)               # a DataArray, not a Dataset: units only
    assert cf_units.Unit(rate.attrs["units"]) == cf_units.Unit(rate.time.attrs["units"]) ** -1
    assert cf_units.Unit(ds.v.attrs["units"]).is_convertible("mV")
    assert cf_units.Unit(_esn()[0].time.attrs["units"]).is_dimensionless()
    with pytest.raises(ValueError, match="encoding"):
        record.flags("ternary")


def test_conventions_and_flags_survive_netcdf(tmp_path):
    """A run streamed to disk and a saved model: the file's global Conventions and the flags'
    types as CF asks (netCDF4 reads the file, not xarray)."""
    path = tmp_path / "recall.nc"
    net = HopfieldNetwork(24).store(PATTERNS)
    net.recall(PATTERNS, seed=0, store=path).close()
    with netCDF4.Dataset(path) as nc:
        assert nc.getncattr("Conventions") == record.CONVENTIONS
        state = nc.variables["state"]
        assert state.getncattr("flag_values").dtype == state.dtype
        assert state.getncattr("flag_meanings") == "down up"
    net.save(tmp_path / "model.nc")
    with netCDF4.Dataset(tmp_path / "model.nc") as nc:
        assert nc.getncattr("Conventions") == record.CONVENTIONS
