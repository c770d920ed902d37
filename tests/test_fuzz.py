"""Bad input at every public entry point: a ValueError or TypeError that names the argument.

Each family's cases run in one subprocess (so a crash, a hang or a runaway allocation cannot take
the test session with it): under an address-space limit, each case under a timer, the whole
batch under a timeout. The classes of bad input: wrong shapes (drawn by hypothesis where an
array argument has a shape to get wrong), dtypes (complex, object, strings), NaN and inf, empty
arrays, zero or negative sizes, invalid options, absurd sizes (refused from an estimate of the
memory, within a second, naming the bytes needed and available), and foreign files for every
``load``. A case passes when the call raises ``ValueError`` or ``TypeError`` (subclasses
included) whose message names the argument; ``accept`` cases must return normally.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import textwrap
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import pytest

CASE_SECONDS = 20          # one case's timer inside the subprocess
BATCH_SECONDS = 240        # a whole family's subprocess
ABSURD_SECONDS = 3.0       # an absurd size is refused at once, from an estimate (slack: busy cores)
ADDRESS_SPACE = 12 << 30   # bytes of address space per subprocess: an allocation that escaped its
                           # check fails there instead of eating the machine

RUNNER = r'''
import json, resource, signal, sys, time, traceback, warnings
resource.setrlimit(resource.RLIMIT_AS, (int(sys.argv[1]), int(sys.argv[1])))
job = json.loads(sys.stdin.read())


class Timeout(BaseException):
    pass


def alarm(signum, frame):
    raise Timeout()


signal.signal(signal.SIGALRM, alarm)
warnings.simplefilter("ignore")
space = {"tmp": job["tmp"]}
exec(job["setup"], space)
for label, code in job["cases"]:
    env = dict(space)
    start = time.perf_counter()
    signal.setitimer(signal.ITIMER_REAL, job["seconds"])
    try:
        exec(code, env)
        out = {"outcome": "returned"}
    except Timeout:
        out = {"outcome": "timeout"}
    except BaseException as err:
        frames = traceback.extract_tb(err.__traceback__)
        out = {"outcome": "raised", "types": [c.__name__ for c in type(err).__mro__],
               "message": str(err)[:2000],
               "where": [f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno}" for f in frames[-3:]]}
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    out.update(label=label, seconds=time.perf_counter() - start)
    print(json.dumps(out), flush=True)
'''

COMMON = '''
import os
import numpy as np
import scipy.sparse as sp
import neurosim as ns


def nan(a):
    a = np.array(a, dtype=float)
    a.flat[0] = np.nan
    return a


def inf(a):
    a = np.array(a, dtype=float)
    a.flat[-1] = np.inf
    return a


def shapes_refused(call, name, ok, values=1.0, examples=25):
    """hypothesis: ``call`` refuses (naming ``name``) every array shape that ``ok`` does not
    accept (arrays of ``values``; up to 4 axes of up to 5)."""
    from hypothesis import HealthCheck, given, settings, strategies as st

    @settings(max_examples=examples, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.lists(st.integers(0, 5), max_size=4).map(tuple))
    def refused(shape):
        if ok(shape) and 0 not in shape:
            return
        try:
            call(np.full(shape, values))
        except (ValueError, TypeError) as err:
            assert name in str(err), f"shape {shape}: {type(err).__name__} without {name!r}: {err}"
        else:
            raise AssertionError(f"shape {shape} was accepted")

    refused()
'''


def refuse(code, *names):
    """A case that must raise ValueError or TypeError naming each of ``names``."""
    return ("refuse", code, names)


def absurd(code, *names):
    """An absurd size: refused at once, naming the bytes needed."""
    return ("absurd", code, names + ("bytes",))


def accept(code):
    """A case that must return normally (a normal input, or a hypothesis property)."""
    return ("accept", code, ())


def bad_arrays(call, name, good, *, optional=False, skip=(), prefix=""):
    """The dtype and value classes of bad input for one array argument: ``call`` has ``{}``
    where the argument goes, ``good`` is an expression for a valid value; ``optional``: None
    is a valid value (the default); ``skip``: classes the argument accepts; ``prefix``: of the
    cases' labels."""
    cases = [
        ("complex", f"{good}.astype(complex)"),
        ("object", f"np.asarray({good}).astype(object)"),
        ("strings", f"np.full(np.shape({good}), 'a')"),
        ("NaN", f"nan({good})"),
        ("inf", f"inf({good})"),
        ("ragged", "[[1.0, 2.0], [3.0]]"),
        ("empty", f"np.asarray({good})[:0]"),
    ] + ([] if optional else [("None", "None")])
    return {f"{prefix}{name} {what}": refuse(call.format(expr), name)
            for what, expr in cases if what not in skip}


# --------------------------------------------------------------------------------- families
GROUPS = {}

GROUPS["hopfield"] = ("""
from neurosim.energy import HopfieldNetwork, ModernHopfield
X = np.where(np.random.default_rng(0).random((3, 16)) < 0.5, -1, 1)
net = HopfieldNetwork(16, seed=0).store(X)
""", {
    "n_units 0": refuse("HopfieldNetwork(0)", "n_units"),
    "n_units -3": refuse("HopfieldNetwork(-3)", "n_units"),
    "n_units float": refuse("HopfieldNetwork(2.5)", "n_units"),
    "n_units string": refuse("HopfieldNetwork('16')", "n_units"),
    "n_units absurd": absurd("HopfieldNetwork(10**7)", "n_units"),
    "rule": refuse("HopfieldNetwork(16, rule='oja')", "rule"),
    "units": refuse("HopfieldNetwork(16, units='spins')", "units"),
    "seed": refuse("HopfieldNetwork(16, seed=-1)", "seed"),
    "backend": refuse("HopfieldNetwork(16, backend='gpu')", "backend"),
    **bad_arrays("net.store({})", "patterns", "X"),
    "patterns not spins": refuse("net.store(X * 2)", "patterns"),
    "patterns shapes": accept("shapes_refused(net.store, 'patterns', lambda s: len(s) in (1, 2) "
                              "and s[-1] == 16)"),
    **bad_arrays("net.recall({})", "cues", "X"),
    "cues shapes": accept("shapes_refused(net.recall, 'cues', "
                          "lambda s: len(s) in (1, 2) and s[-1] == 16)"),
    "mode": refuse("net.recall(X, mode='random')", "mode"),
    "temperature -1": refuse("net.recall(X, temperature=-1.0)", "temperature"),
    "temperature NaN": refuse("net.recall(X, temperature=float('nan'))", "temperature"),
    "max_sweeps 0": refuse("net.recall(X, max_sweeps=0)", "max_sweeps"),
    "record": refuse("net.recall(X, record='all')", "record"),
    **bad_arrays("net.energy({})", "states", "X"),
    "modern beta": refuse("ModernHopfield(beta=-1.0)", "beta"),
    **bad_arrays("ModernHopfield().store({})", "patterns", "X", prefix="modern "),
})

GROUPS["annealing"] = ("""
from neurosim.energy import IsingAnnealer, sk_couplings, beta_schedule
J = sk_couplings(8, seed=0)
ann = IsingAnnealer(J, seed=1)
""", {
    **bad_arrays("IsingAnnealer({})", "J", "J"),
    "J shapes": accept("shapes_refused(IsingAnnealer, 'J', "
                       "lambda s: len(s) == 2 and s[0] == s[1])"),
    "J not symmetric": refuse("IsingAnnealer(np.triu(J))", "J"),
    "J sparse complex": refuse("IsingAnnealer(sp.csr_matrix(J.astype(complex)))", "J"),
    "J sparse NaN": refuse("IsingAnnealer(sp.csr_matrix(nan(J)))", "J"),
    "J sparse not square": refuse("IsingAnnealer(sp.csr_matrix(J[:3]))", "J"),
    **bad_arrays("IsingAnnealer(J, h={})", "h", "np.ones(8)", optional=True),
    "h shape": refuse("IsingAnnealer(J, h=np.ones(7))", "h"),
    "offset NaN": refuse("IsingAnnealer(J, offset=float('nan'))", "offset"),
    **bad_arrays("IsingAnnealer.from_qubo({})", "Q", "J"),
    "sweeps 0": refuse("ann.anneal(sweeps=0)", "sweeps"),
    "sweeps -5": refuse("ann.anneal(sweeps=-5)", "sweeps"),
    "sweeps float": refuse("ann.anneal(sweeps=10.5)", "sweeps"),
    "reads 0": refuse("ann.anneal(reads=0)", "reads"),
    "reads absurd": absurd("ann.anneal(reads=10**10)", "reads"),
    "sweeps absurd": absurd("ann.anneal(sweeps=10**12)", "sweeps"),
    "samples absurd": absurd("ann.sample(beta=1.0, samples=10**12)", "samples"),
    "beta_range reversed": refuse("ann.anneal(beta_range=(5.0, 0.1))", "beta_range"),
    "beta_range one": refuse("ann.anneal(beta_range=(1.0,))", "beta_range"),
    "beta_range NaN": refuse("ann.anneal(beta_range=(float('nan'), 1.0))", "beta_range"),
    "schedule": refuse("ann.anneal(schedule='cosine')", "schedule"),
    "method": refuse("ann.anneal(method='swendsen')", "method"),
    **bad_arrays("ann.anneal(betas={})", "betas", "np.linspace(0.1, 2, 10)", optional=True),
    "betas negative": refuse("ann.anneal(betas=-np.ones(3))", "betas"),
    **bad_arrays("ann.anneal(initial={})", "initial", "np.ones(8)", optional=True),
    "initial not spins": refuse("ann.anneal(initial=np.zeros(8))", "initial"),
    "initial shapes": accept("shapes_refused(lambda a: ann.anneal(10, 2, initial=a), 'initial', "
                             "lambda s: s in ((8,), (1, 8), (2, 8)))"),
    "beta and temperature": refuse("ann.sample(beta=1.0, temperature=1.0)", "beta", "temperature"),
    "temperature 0": refuse("ann.sample(temperature=0.0)", "temperature"),
    "thin 0": refuse("ann.sample(beta=1.0, thin=0)", "thin"),
    **bad_arrays("ann.energy({})", "spins", "np.ones(8)"),
    "schedule sweeps absurd": absurd("beta_schedule((0.1, 1.0), 10**12)", "sweeps"),
    "sk_couplings absurd": absurd("sk_couplings(10**7)", "n"),
})

GROUPS["boltzmann"] = ("""
from neurosim.energy import BoltzmannMachine, RBM, DBN
V = (np.random.default_rng(0).random((20, 6)) < 0.5).astype(float)
bm = BoltzmannMachine(6, 2, seed=0)
rbm = RBM(6, 4, seed=0)
dbn = DBN([6, 4, 3], seed=0)
labels = np.arange(20) % 2
""", {
    "BM n_visible 0": refuse("BoltzmannMachine(0)", "n_visible"),
    "BM n_hidden -1": refuse("BoltzmannMachine(4, -1)", "n_hidden"),
    "BM absurd": absurd("BoltzmannMachine(10**6, 10**6)", "bytes"),
    "BM temperature": refuse("BoltzmannMachine(4, temperature=0.0)", "temperature"),
    **bad_arrays("bm.fit({}, epochs=1)", "data", "V", prefix="BM "),
    "BM data not binary": refuse("bm.fit(V * 3, epochs=1)", "data"),
    "BM data shapes": accept("shapes_refused(lambda a: bm.fit(a, epochs=1), 'data', "
                             "lambda s: len(s) in (1, 2) and s[-1] == 6, examples=15)"),
    "BM epochs 0": refuse("bm.fit(V, epochs=0)", "epochs"),
    "BM samples 0": refuse("bm.sample(samples=0)", "samples"),
    "BM chains absurd": absurd("bm.sample(samples=1, chains=10**11)", "chains"),
    "RBM n_hidden 0": refuse("RBM(6, 0)", "n_hidden"),
    "RBM n_visible float": refuse("RBM(6.0, 4)", "n_visible"),
    "RBM absurd": absurd("RBM(10**6, 10**6)", "bytes"),
    "RBM visible": refuse("RBM(6, 4, visible='poisson')", "visible"),
    "RBM sigma": refuse("RBM(6, 4, sigma=-1.0)", "sigma"),
    **bad_arrays("rbm.fit({}, epochs=1)", "data", "V", prefix="RBM "),
    "RBM data shapes": accept("shapes_refused(lambda a: rbm.fit(a, epochs=1), 'data', "
                              "lambda s: len(s) in (1, 2) and s[-1] == 6, examples=15)"),
    "RBM data out of range": refuse("rbm.fit(V * 3, epochs=1)", "data"),
    "RBM method": refuse("rbm.fit(V, epochs=1, method='cd-k')", "method"),
    "RBM k 0": refuse("rbm.fit(V, epochs=1, k=0)", "k"),
    "RBM batch_size 0": refuse("rbm.fit(V, epochs=1, batch_size=0)", "batch_size"),
    "RBM learning_rate NaN": refuse("rbm.fit(V, epochs=1, learning_rate=float('nan'))",
                                    "learning_rate"),
    "RBM steps -1": refuse("rbm.sample(steps=-1)", "steps"),
    "RBM chains absurd": absurd("rbm.sample(steps=1, chains=10**11)", "chains"),
    "RBM ais chains absurd": absurd("rbm.ais(chains=10**11)", "chains"),
    "RBM ais betas absurd": absurd("rbm.ais(betas=10**12)", "betas"),
    **bad_arrays("rbm.hidden_probs({})", "v", "V", prefix="RBM hidden_probs "),
    "DBN layers short": refuse("DBN([6])", "layers"),
    "DBN layers 0": refuse("DBN([6, 0])", "layers"),
    "DBN layers string": refuse("DBN('64')", "layers"),
    "DBN absurd": absurd("DBN([10**6, 10**6, 10])", "bytes"),
    **bad_arrays("dbn.pretrain({}, epochs=1)", "data", "V", prefix="DBN "),
    **bad_arrays("dbn.fit(V, {}, epochs=1)", "labels", "labels", optional=True,
                 prefix="DBN labels "),
    "DBN labels floats": refuse("dbn.fit(V, labels + 0.5, epochs=1)", "labels"),
    "DBN labels length": refuse("dbn.fit(V, labels[:5], epochs=1)", "labels"),
})

GROUPS["spiking"] = ("""
from neurosim.spiking import Network, LIF, PoissonGroup, cuba, LiquidStateMachine
net = Network(1e-4, seed=0)
g = net.add(LIF(10))
lsm = LiquidStateMachine(2, (3, 3, 2), seed=0)
big = Network(1e-4, seed=0)
huge = big.add(LIF(10**6))
sample = (np.array([0.01, 0.02]), np.array([0, 1]))
""", {
    "cuba n 0": refuse("cuba(0)", "n"),
    "cuba n float": refuse("cuba(100.5)", "n"),
    "cuba n absurd": absurd("cuba(10**8)", "n"),
    "cuba p": refuse("cuba(100, p=2.0)", "p"),
    "cuba dt": refuse("cuba(100, dt=0.0)", "dt"),
    "Network dt NaN": refuse("Network(float('nan'))", "dt"),
    "Network dt -1": refuse("Network(-1e-4)", "dt"),
    "LIF n 0": refuse("LIF(0)", "n"),
    "LIF n absurd": absurd("net.add(LIF(10**11))", "n"),
    "LIF tau_m": refuse("LIF(10, tau_m=0.0)", "tau_m"),
    **bad_arrays("LIF(3, I={})", "I", "np.full(3, 1e-9)", prefix="LIF "),
    **bad_arrays("LIF(3, v0={})", "v0", "np.zeros(3)", optional=True, prefix="LIF v0 "),
    "connect p": refuse("net.connect(g, g, p=1.5)", "p"),
    "connect W shape": refuse("net.connect(g, g, np.ones((3, 3)))", "W"),
    **bad_arrays("net.connect(g, g, {})", "W", "np.ones((10, 10))", prefix="connect "),
    "connect channel": refuse("net.connect(g, g, p=0.1, channel='x')", "channel"),
    "connect absurd": absurd("big.connect(huge, huge, p=0.5)", "p"),
    "connect k absurd": absurd("big.connect(huge, huge, k=10**5)", "k"),
    "run duration -1": refuse("net.run(-1.0)", "duration"),
    "run duration NaN": refuse("net.run(float('nan'))", "duration"),
    "run duration string": refuse("net.run('1s')", "duration"),
    "run variables": refuse("net.run(0.01, variables=('w',))", "variables"),
    "LSM n_inputs 0": refuse("LiquidStateMachine(0)", "n_inputs"),
    "LSM shape": refuse("LiquidStateMachine(2, (0, 3))", "shape"),
    "LSM shape absurd": absurd("LiquidStateMachine(2, (1000, 1000, 1000))", "bytes"),
    "LSM frac_inh": refuse("LiquidStateMachine(2, (3, 3, 2), frac_inh=1.5)", "frac_inh"),
    "LSM labels floats": refuse("lsm.fit([sample, sample], [0.5, 1.5])", "labels"),
    "LSM labels complex": refuse("lsm.fit([sample, sample], np.array([0, 1], complex))", "labels"),
    "LSM labels length": refuse("lsm.fit([sample, sample], [0])", "labels"),
    "LSM sample not pair": refuse("lsm.fit([np.ones(3), sample], [0, 1])", "samples"),
    "LSM sample channels": refuse("lsm.fit([(np.array([0.01]), np.array([5])), sample], [0, 1])",
                                  "samples"),
    "LSM sample times NaN": refuse("lsm.fit([(np.array([np.nan]), np.array([0])), sample], [0, 1])",
                                   "samples"),
    "LSM sample times complex": refuse("lsm.fit([(np.array([1j]), np.array([0])), sample], [0, 1])",
                                       "samples"),
    "LSM duration": refuse("lsm.states([sample], -1.0)", "duration"),
})

GROUPS["reservoir"] = ("""
from neurosim.reservoir import ESN, ELM, memory_capacity
u = np.sin(np.arange(60) / 5.0)[:, None]
esn = ESN(20, seed=0).fit(u[:-1], u[1:])
X = np.random.default_rng(0).random((30, 4))
y = np.arange(30) % 3
elm = ELM(10, seed=0)
""", {
    "ESN units 0": refuse("ESN(0)", "units"),
    "ESN units []": refuse("ESN([])", "units"),
    "ESN units float": refuse("ESN(10.5)", "units"),
    "ESN units absurd": absurd("ESN(10**9)", "units"),
    "ESN units large": absurd("ESN(10**6, connectivity=0.5)", "units"),
    "ESN deep absurd": absurd("ESN([10**5, 10**8])", "units"),
    "ESN leak": refuse("ESN(10, leak=0.0)", "leak"),
    "ESN spectral_radius": refuse("ESN(10, spectral_radius=-1.0)", "spectral_radius"),
    "ESN connectivity": refuse("ESN(10, connectivity=2.0)", "connectivity"),
    "ESN activation": refuse("ESN(10, activation='softmax')", "activation"),
    "ESN dtype": refuse("ESN(10, dtype='int8')", "dtype"),
    "ESN layout": refuse("ESN(10, layout='csr')", "layout"),
    **bad_arrays("ESN(10, seed=0).fit({}, u)", "inputs", "u", prefix="ESN fit "),
    **bad_arrays("ESN(10, seed=0).fit(u, {})", "targets", "u", prefix="ESN fit targets "),
    "ESN fit inputs shapes": accept("shapes_refused(lambda a: ESN(10, seed=0).fit(a, a), "
                                    "'inputs', lambda s: len(s) in (1, 2, 3) "
                                    "and (len(s) == 1 or s[-1] == 1))"),
    "ESN fit targets length": refuse("esn.fit(u, u[:-3])", "targets"),
    "ESN fit washout": refuse("esn.fit(u, u, washout=100)", "washout"),
    "ESN fit method": refuse("esn.fit(u, u, method='lasso')", "method"),
    **bad_arrays("esn.run({})", "inputs", "u", prefix="ESN run "),
    "ESN run x0": refuse("esn.run(u, x0=np.ones(3))", "x0"),
    "ESN run record": refuse("esn.run(u, record={'every': 0})", "every"),
    "ESN predict width": refuse("esn.predict(np.ones((5, 2)))", "inputs"),
    "ESN generate 0": refuse("esn.generate(0)", "n_steps"),
    "ESN generate absurd": absurd("esn.generate(10**13)", "bytes"),
    "memory_capacity absurd": absurd("memory_capacity(esn, n_steps=10**12)", "n_steps"),
    "ESN run roundtrip": accept(
        "import xarray as xr\n"
        "ds = esn.run(u); p = os.path.join(tmp, 'run.nc'); ns.save(ds, p)\n"
        "back = ns.load(p); xr.testing.assert_identical(back, ds); "
        "xr.merge([back, ds], compat='identical', join='exact')"),
    "ELM n_hidden 0": refuse("ELM(0)", "n_hidden"),
    "ELM n_hidden absurd": absurd("ELM(10**12).fit(X, y)", "bytes"),
    "ELM activation": refuse("ELM(10, activation='gelu')", "activation"),
    "ELM task": refuse("ELM(10, task='ranking')", "task"),
    **bad_arrays("elm.fit({}, y)", "X", "X", prefix="ELM "),
    **bad_arrays("elm.fit(X, {})", "y", "y", prefix="ELM y "),
    "ELM y length": refuse("elm.fit(X, y[:5])", "y"),
    "ELM X shapes": accept("shapes_refused(lambda a: ELM(5, seed=0).fit(a, np.zeros(len(a)) "
                           "if a.ndim else 0), 'X', "
                           "lambda s: len(s) == 2)"),
})

GROUPS["markov"] = ("""
from neurosim.markov import MarkovChain, ContinuousMarkovChain
P = np.array([[0.9, 0.1], [0.5, 0.5]])
Q = np.array([[-1.0, 1.0], [2.0, -2.0]])
mc = MarkovChain(P, seed=0)
cmc = ContinuousMarkovChain(Q, seed=0)
""", {
    **bad_arrays("MarkovChain({})", "P", "P"),
    "P not stochastic": refuse("MarkovChain(P * 2)", "P"),
    "P negative": refuse("MarkovChain([[1.5, -0.5], [0.5, 0.5]])", "P"),
    "P sparse complex": refuse("MarkovChain(sp.csr_matrix(P.astype(complex)))", "P"),
    "P sparse NaN": refuse("MarkovChain(sp.csr_matrix(nan(P)))", "P"),
    "P shapes": accept("shapes_refused(MarkovChain, 'P', lambda s: s == (1, 1))"),
    "labels": refuse("MarkovChain(P, labels=['a'])", "labels"),
    "labels repeated": refuse("MarkovChain(P, labels=['a', 'a'])", "labels"),
    "tol": refuse("MarkovChain(P, tol=-1.0)", "tol"),
    "n_steps -1": refuse("mc.simulate(-1)", "n_steps"),
    "n_steps float": refuse("mc.simulate(10.0)", "n_steps"),
    "n_steps absurd": absurd("mc.simulate(10**13)", "bytes"),
    "n_chains 0": refuse("mc.simulate(10, n_chains=0)", "n_chains"),
    "n_chains absurd": absurd("mc.simulate(10, n_chains=10**11)", "n_chains"),
    "start": refuse("mc.simulate(10, start=5)", "start"),
    "start label": refuse("mc.simulate(10, start='x')", "start"),
    "start complex": refuse("mc.simulate(10, start=1j)", "start"),
    "every 0": refuse("mc.simulate(10, every=0)", "every"),
    **bad_arrays("mc.simulate(10, initial={})", "initial", "np.array([0.5, 0.5])", optional=True,
                 prefix="initial "),
    "initial not a distribution": refuse("mc.simulate(10, initial=[0.7, 0.7])", "initial"),
    "distribution n_steps": refuse("mc.distribution(-1, 0)", "n_steps"),
    "distribution absurd": absurd("mc.distribution(10**13, 0)", "n_steps"),
    "tv_distance absurd": absurd("mc.tv_distance(10**13)", "n_steps"),
    **bad_arrays("ContinuousMarkovChain({})", "Q", "Q"),
    "Q rows": refuse("ContinuousMarkovChain(np.ones((2, 2)))", "Q"),
    "Q shapes": accept("shapes_refused(ContinuousMarkovChain, 'Q', lambda s: False)"),
    "duration 0": refuse("cmc.simulate(0.0)", "duration"),
    "duration NaN": refuse("cmc.simulate(float('nan'))", "duration"),
    "duration inf": refuse("cmc.simulate(float('inf'))", "duration"),
    "dt 0": refuse("cmc.simulate(1.0, dt=0.0)", "dt"),
    "duration absurd": absurd("cmc.simulate(1e13, dt=1.0)", "bytes"),
    "cmc n_chains absurd": absurd("cmc.simulate(1.0, n_chains=10**11)", "n_chains"),
    "transient times": refuse("cmc.transient([-1.0], 0)", "times"),
})

GROUPS["som"] = ("""
from neurosim.som import SOM
X = np.random.default_rng(0).random((40, 3))
som = SOM(4, 5, 3, seed=0)
""", {
    "rows 0": refuse("SOM(0, 5, 3)", "rows"),
    "cols -1": refuse("SOM(4, -1, 3)", "cols"),
    "dim 0": refuse("SOM(4, 5, 0)", "dim"),
    "grid 1x1": refuse("SOM(1, 1, 3)", "grid"),
    "absurd": absurd("SOM(10**5, 10**5, 3)", "bytes"),
    "absurd dim": absurd("SOM(100, 100, 10**9)", "bytes"),
    "batch absurd": absurd("SOM(300, 300, 3, seed=0).train(X, mode='batch', epochs=1)", "bytes"),
    "topology": refuse("SOM(4, 5, 3, topology='tri')", "topology"),
    "toroidal": refuse("SOM(4, 5, 3, toroidal='yes')", "toroidal"),
    "neighbourhood": refuse("SOM(4, 5, 3, neighbourhood='cone')", "neighbourhood"),
    "sigma": refuse("SOM(4, 5, 3, sigma=0.0)", "sigma"),
    "decay": refuse("SOM(4, 5, 3, decay='cosine')", "decay"),
    "init": refuse("SOM(4, 5, 3, init='zeros')", "init"),
    **bad_arrays("som.train({})", "data", "X", prefix="train "),
    "train data shapes": accept("shapes_refused(lambda a: SOM(4, 5, 3).train(a, iterations=5), "
                                "'data', "
                                "lambda s: len(s) == 2 and s[1] == 3)"),
    "iterations 0": refuse("som.train(X, iterations=0)", "iterations"),
    "mode": refuse("som.train(X, mode='minibatch')", "mode"),
    "checkpoints -1": refuse("som.train(X, checkpoints=-1)", "checkpoints"),
    "iterations absurd": absurd("som.train(X, iterations=10**12)", "iterations"),
    "checkpoints many": accept("assert som.train(X, iterations=30, checkpoints=10**12)"
                               ".sizes['epoch'] == 30"),
    **bad_arrays("SOM.from_weights({})", "weights", "np.ones((4, 5, 3))", prefix="weights "),
    "weights shapes": accept("shapes_refused(SOM.from_weights, 'weights', "
                             "lambda s: len(s) == 3 and s[0] * s[1] >= 2)"),
    "weights setter shape": refuse("setattr(som, 'weights', np.ones((5, 4, 3)))", "weights"),
    "weights setter complex": refuse("setattr(som, 'weights', np.ones((4, 5, 3), complex))",
                                     "weights"),
    **bad_arrays("som.train(X, iterations=5) and som.bmu({})", "data", "X", prefix="bmu "),
})

GROUPS["deep"] = ("""
from neurosim.deep import Perceptron, RBFNetwork, mlp, Autoencoder, recurrent_network, lenet
rng = np.random.default_rng(0)
X = rng.random((24, 4))
y = np.arange(24) % 3
yb = np.arange(24) % 2
net = mlp([4, 8, 3], seed=0)
S = rng.random((6, 5, 2))
""", {
    "P n_inputs 0": refuse("Perceptron(0)", "n_inputs"),
    "P learning_rate": refuse("Perceptron(learning_rate=0.0)", "learning_rate"),
    **bad_arrays("Perceptron().fit({}, yb)", "X", "X", prefix="P "),
    **bad_arrays("Perceptron().fit(X, {})", "y", "yb", skip=("object", "strings"), prefix="P y "),
    "P y three classes": refuse("Perceptron().fit(X, y)", "y"),
    "P rule": refuse("Perceptron().fit(X, yb, rule='hebb')", "rule"),
    "P X shapes": accept("shapes_refused(lambda a: Perceptron().fit(a, np.arange(len(a)) % 2 "
                         "if a.ndim else 0), 'X', "
                         "lambda s: len(s) == 2)"),
    "mlp sizes short": refuse("mlp([4])", "sizes"),
    "mlp sizes 0": refuse("mlp([4, 0])", "sizes"),
    "mlp sizes int": refuse("mlp(4)", "sizes"),
    "mlp absurd": absurd("mlp([10**6, 10**6, 10])", "bytes"),
    "mlp activation": refuse("mlp([4, 8, 3], 'swishy')", "activation"),
    "mlp dropout": refuse("mlp([4, 8, 3], dropout=1.5)", "dropout"),
    **bad_arrays("net.fit({}, y, epochs=1)", "X", "X", prefix="mlp fit "),
    **bad_arrays("net.fit(X, {}, epochs=1)", "y", "y", prefix="mlp fit y "),
    "mlp fit y whole floats": accept("net.fit(X, y.astype(float), epochs=1)"),
    "mlp fit y halves": refuse("net.fit(X, y + 0.5, epochs=1)", "y"),
    "mlp fit y out of range": refuse("net.fit(X, y + 5, epochs=1)", "y"),
    "mlp fit y negative": refuse("net.fit(X, y - 1, epochs=1)", "y"),
    "mlp fit y length": refuse("net.fit(X, y[:5], epochs=1)", "y"),
    "mlp fit X width": refuse("net.fit(np.ones((24, 5)), y, epochs=1)", "X"),
    "mlp fit epochs 0": refuse("net.fit(X, y, epochs=0)", "epochs"),
    "mlp fit batch_size 0": refuse("net.fit(X, y, batch_size=0)", "batch_size"),
    "mlp fit loss": refuse("net.fit(X, y, loss='hinge')", "loss"),
    "mlp fit optimizer": refuse("net.fit(X, y, optimizer='lbfgs')", "optimizer"),
    "mlp fit lr": refuse("net.fit(X, y, lr=-1.0)", "lr"),
    "RBF centers 0": refuse("RBFNetwork(0)", "centers"),
    "RBF width": refuse("RBFNetwork(3, width=-1.0)", "width"),
    "RBF centers > rows": refuse("RBFNetwork(50).fit(X, y)", "centers"),
    **bad_arrays("RBFNetwork(3, seed=0).fit({}, y)", "X", "X", prefix="RBF "),
    **bad_arrays("RBFNetwork(3, seed=0).fit(X, {})", "y", "y", prefix="RBF y "),
    "AE sizes": refuse("Autoencoder([4, 2])", "sizes"),
    **bad_arrays("Autoencoder([4, 2, 4], seed=0).fit({}, epochs=1)", "X", "X", prefix="AE fit "),
    "RNN cell": refuse("recurrent_network('transformer', 4, input_shape=(5, 2))", "cell"),
    "RNN units 0": refuse("recurrent_network('lstm', 0, input_shape=(5, 2))", "units"),
    **bad_arrays("recurrent_network('gru', 4, input_shape=(5, 2), seed=0)"
                 ".fit({}, np.ones((6, 1)), loss='mse', epochs=1)", "X", "S", prefix="RNN fit "),
    "CNN input_shape": refuse("lenet((1, 0, 8))", "input_shape"),
    "CNN classes": refuse("lenet(classes=0)", "classes"),
})

FILES = {"text": "notes.txt", "empty": "empty.nc", "png": "picture.png", "missing": "missing.nc",
         "folder": "a_folder", "other": "other_model.nc", "truncated": "truncated.nc"}
GROUPS["files"] = ("""
from neurosim.energy import HopfieldNetwork, RBM, BoltzmannMachine, DBN, ModernHopfield
from neurosim.reservoir import ESN, ELM
from neurosim.markov import MarkovChain, ContinuousMarkovChain
from neurosim.som import SOM
from neurosim.spiking import Network, LiquidStateMachine
from neurosim.deep import Perceptron, RBFNetwork, mlp
files = {}
files["text"] = os.path.join(tmp, "notes.txt")
open(files["text"], "w").write("not a netCDF file")
files["empty"] = os.path.join(tmp, "empty.nc")
open(files["empty"], "wb").close()
files["png"] = os.path.join(tmp, "picture.png")
open(files["png"], "wb").write(bytes([137, 80, 78, 71, 13, 10, 26, 10]) + bytes(100))
files["missing"] = os.path.join(tmp, "missing.nc")
files["folder"] = os.path.join(tmp, "a_folder")
os.mkdir(files["folder"])
files["other"] = os.path.join(tmp, "other_model.nc")
MarkovChain([[0.5, 0.5], [0.5, 0.5]], seed=0).save(files["other"])
good = os.path.join(tmp, "good.nc")
SOM(2, 2, 2, seed=0).initialise(np.eye(2)).save(good)
files["truncated"] = os.path.join(tmp, "truncated.nc")
open(files["truncated"], "wb").write(open(good, "rb").read()[:300])
""", {
    f"{loader} {kind}": refuse(f"{loader}(files['{kind}'])", FILES[kind])
    for loader in ("ns.load", "HopfieldNetwork.load", "RBM.load", "BoltzmannMachine.load",
                   "DBN.load", "ModernHopfield.load", "ESN.load", "ELM.load",
                   "ContinuousMarkovChain.load", "SOM.load",
                   "Network.load", "LiquidStateMachine.load", "Perceptron.load", "RBFNetwork.load",
                   "mlp([2, 2], seed=0).load")
    for kind in ("text", "empty", "png", "missing", "folder", "other", "truncated")
    if not (loader == "ns.load" and kind == "other")
})


# --------------------------------------------------------------------------------- running
def _run_group(group):
    """The outcome of each case of ``group`` (label -> dict), from one subprocess."""
    setup, cases = GROUPS[group]
    env = dict(os.environ, NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1")
    with tempfile.TemporaryDirectory(prefix="neurosim-fuzz-") as tmp:   # the cases' files
        job = {"setup": textwrap.dedent(COMMON) + textwrap.dedent(setup), "seconds": CASE_SECONDS,
               "tmp": tmp, "cases": [[label, code] for label, (_, code, _) in cases.items()]}
        try:
            proc = subprocess.run([sys.executable, "-c", RUNNER, str(ADDRESS_SPACE)],
                                  input=json.dumps(job), capture_output=True, text=True,
                                  timeout=BATCH_SECONDS, env=env)
            out, err, why = proc.stdout, proc.stderr, f"exit status {proc.returncode}"
        except subprocess.TimeoutExpired as exc:
            out, err, why = exc.stdout or "", exc.stderr or "", f"timed out after {BATCH_SECONDS} s"
            out, err = (x.decode() if isinstance(x, bytes) else x for x in (out, err))
    results = {}
    for line in out.splitlines():
        if line.startswith("{"):
            row = json.loads(line)
            results[row["label"]] = row
    for label in cases:
        lost = f"the subprocess ended ({why}) before this case: {err[-1500:]}"
        results.setdefault(label, {"outcome": "lost", "message": lost})
    return results


def _names(message, name):
    """Whether ``message`` names ``name`` as a word (``y`` in "y must ...", not in "array")."""
    return re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", message) is not None


@lru_cache(maxsize=1)
def _results():
    """Every group's outcomes, two subprocesses at a time (the machine has two cores)."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(GROUPS, pool.map(_run_group, GROUPS)))


@pytest.mark.parametrize("group, label",
                         [(g, label) for g, (_, cases) in GROUPS.items() for label in cases])
def test_bad_input_is_refused_naming_the_argument(group, label):
    kind, code, names = GROUPS[group][1][label]
    got = _results()[group][label]
    said = (f"{code}\n -> {got.get('outcome')}: {got.get('types', [''])[0]}: "
            f"{got.get('message', '')} (at {got.get('where')}, {got.get('seconds', 0):.2f} s)")
    if kind == "accept":
        assert got["outcome"] == "returned", said
        return
    assert got["outcome"] == "raised", said
    assert {"ValueError", "TypeError"} & set(got["types"]), said
    missing = [n for n in names if not _names(got["message"], n)]
    assert not missing, f"the message does not name {missing}: {said}"
    if kind == "absurd":
        assert got["seconds"] < ABSURD_SECONDS, said
