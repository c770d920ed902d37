"""The liquid state machine (Maass, Natschlaeger and Markram 2002).

Input spike trains -> a recurrent column of LIF neurons (the "liquid": 80% excitatory,
distance-dependent random wiring, delays) -> a linear readout trained by ridge regression on
low-pass-filtered liquid spike trains (the liquid state).

>>> lsm = LiquidStateMachine(n_inputs=4, seed=0)
>>> samples, labels, _ = datasets.jittered_templates(200, jitter=4e-3, seed=1)
>>> lsm.fit(samples[:150], labels[:150]).score(samples[150:], labels[150:])

Synapses: static by default; ``dynamic=True`` gives the recurrent synapses the paper's
short-term dynamics (:class:`~neurosim.spiking.STP`, Markram et al. 1998) with the paper's
mean U, D, F per connection type (EE 0.5, 1.1 s, 0.05 s; EI 0.05, 0.125 s, 1.2 s; IE 0.25,
0.7 s, 0.02 s; II 0.32, 0.144 s, 0.06 s; the paper draws them per synapse from Gaussians of
SD half the mean, here each type has its mean), and the input synapses stay static.
Simplifications against the paper: weights drawn from a gamma distribution with the paper's
means and a coefficient of variation of 0.5, and a global scale ``w_scale`` on the recurrent
weights (default 0.15 with static synapses: without synaptic depression the paper's weights
make the liquid's activity self-sustaining at ~140 Hz once started; at 0.15 it answers four
20 Hz inputs at ~25 Hz, falls silent when the input ends and is silent without input; default
1.0, the paper's weights, with dynamic synapses).
"""
import math

import numpy as np

from .. import checks, connect
from .. import record as _rec
from .. import rng as _rng
from ..kernels import spiking as _k
from ..readout import Ridge
from .inputs import SpikeGeneratorGroup
from . import persist
from .network import SYNAPSE_BYTES, Network
from .neurons import LIF
from .plasticity import STP
from .stepper import Stepper

#: Maass et al. (2002): mean (U, D = tau_rec, F = tau_facil) of the dynamic synapses per type
MAASS_STP = {"EE": (0.5, 1.1, 0.05), "EI": (0.05, 0.125, 1.2), "IE": (0.25, 0.7, 0.02),
             "II": (0.32, 0.144, 0.06)}

_EMPTY = np.empty(0, dtype=np.int64)


def ridge(X, Y, alpha):
    """Ridge regression in closed form: weights (n_features + 1, n_targets), bias in the last row.

    X: (n_samples, n_features); Y: (n_samples,) or (n_samples, n_targets); alpha >= 0 (the bias
    is not penalised): the shared :class:`neurosim.readout.Ridge`, in the LSM's stacked layout.
    """
    X = checks.array(X, "X", ndim=2)
    Y = checks.array(Y, "Y", ndim=(1, 2))
    if Y.shape[0] != X.shape[0]:
        raise ValueError(f"Y must have one row per row of X ({X.shape[0]}); got {Y.shape[0]}")
    fit = Ridge(checks.scalar(alpha, "alpha", low=0.0)).fit(X, Y)
    w = np.vstack([fit.W.T, fit.b])
    return w[:, 0] if Y.ndim == 1 else w


def _gamma(gen, mean, n, cv=0.5):
    k = 1.0 / cv ** 2
    return np.sign(mean) * gen.gamma(k, abs(mean) / k, n)


class LiquidStateMachine:
    """A liquid of LIF neurons on a grid with a ridge readout.

    n_inputs: input spike channels. shape: the grid of liquid neurons (default the paper's
    15 x 3 x 3 = 135). frac_inh: fraction of inhibitory neurons (placed at random). lam: length
    constant of the wiring (grid units); C: connection scale per (pre, post) type ``{"EE",
    "EI", "IE", "II"}`` (paper: 0.3, 0.2, 0.4, 0.1); W: mean weights (A) per type (paper: 30, 60,
    -19, -19 nA); delays (s): 1.5 ms for EE, 0.8 ms otherwise. Neurons: tau_m 30 ms, threshold
    15 mV, reset 13.5 mV, rest 0 (potentials relative to rest), R = 1 Mohm, refractory 3 ms (E)
    and 2 ms (I), background current uniform in [13.5, 14.5] nA, synaptic currents decaying with
    3 ms (excitatory) and 6 ms (inhibitory). Inputs reach each liquid neuron with probability
    ``p_in`` with mean weight ``w_in`` (A; half onto inhibitory neurons). tau_readout: the
    low-pass filter of the liquid state (s). alpha: ridge penalty. dt: step (s). w_scale: factor
    on the recurrent weights (default 0.15 static, 1.0 dynamic; see the module docstring).
    dynamic: True for the paper's dynamic (short-term plastic) recurrent synapses. seed: fixes
    the liquid (types, wiring, weights, background currents, initial potentials). backend: where
    the liquid runs, as for :class:`Network` (``"cpu"``, ``"cuda"``, ``"auto"``; the readout is
    fitted on the CPU).
    """

    def __init__(self, n_inputs=4, shape=(15, 3, 3), *, frac_inh=0.2, lam=2.0, C=None, W=None,
                 w_scale=None, p_in=0.3, w_in=18e-9, tau_readout=30e-3, alpha=1e-1, dt=1e-4,
                 dynamic=False, seed=None, backend="cpu"):
        self.n_inputs = checks.integer(n_inputs, "n_inputs", low=1)
        pos = connect.grid(shape)
        self.shape = tuple(int(s) for s in np.atleast_1d(np.asarray(shape)))
        n = pos.shape[0]
        self.frac_inh = checks.scalar(frac_inh, "frac_inh", low=0.0, high=1.0, high_open=True)
        self.lam = checks.scalar(lam, "lam", low=0.0, low_open=True)
        if not isinstance(dynamic, (bool, np.bool_)):
            raise ValueError(f"dynamic must be True or False; got {dynamic!r}")
        self.dynamic = bool(dynamic)
        if w_scale is None:
            w_scale = 1.0 if self.dynamic else 0.15
        self.w_scale = checks.scalar(w_scale, "w_scale", low=0.0)
        self.p_in = checks.scalar(p_in, "p_in", low=0.0, high=1.0)
        self.w_in = checks.scalar(w_in, "w_in")
        self.tau_readout = checks.scalar(tau_readout, "tau_readout", low=0.0, low_open=True)
        self.alpha = checks.scalar(alpha, "alpha", low=0.0)
        self.dt = checks.scalar(dt, "dt", low=0.0, low_open=True)
        C = {"EE": 0.3, "EI": 0.2, "IE": 0.4, "II": 0.1, **(C or {})}
        W = {"EE": 30e-9, "EI": 60e-9, "IE": -19e-9, "II": -19e-9, **(W or {})}
        for key in ("EE", "EI", "IE", "II"):
            checks.scalar(C[key], f"C['{key}']", low=0.0, high=1.0)
            checks.scalar(W[key], f"W['{key}']")
        _rng.to_attr(seed)   # a seed that could not be saved is refused now
        # the neurons and their synapses: on a grid, a neuron's expected in-degree is at most
        # C (1 + sqrt(pi) lam)^d (the sum of exp(-k^2 / lam^2) over each axis), plus its inputs
        fan_in = min(n, max(C.values()) * (1 + math.sqrt(math.pi) * self.lam) ** pos.shape[1])
        checks.memory(n * (88 + SYNAPSE_BYTES * (fan_in + self.p_in * self.n_inputs)),
                      f"LiquidStateMachine(shape={self.shape}) ({n} neurons, about {n * fan_in:.3g} synapses)")
        self.C, self.W, self.seed = C, W, seed
        ss = _rng.sequence(seed)
        # child 0: cell types, weights, wiring seeds, currents; child 1: the network's own
        # draws (initial potentials)
        gen = np.random.default_rng(_rng.child(ss, 0))
        n_inh = int(round(self.frac_inh * n))
        inh = np.zeros(n, dtype=bool)
        inh[gen.choice(n, n_inh, replace=False)] = True
        # excitatory neurons first, then inhibitory; positions follow
        order = np.concatenate([np.flatnonzero(~inh), np.flatnonzero(inh)])
        self.positions = pos[order]
        self.n_exc, self.n_inh = n - n_inh, n_inh
        self.n_liquid = n
        kw = dict(tau_m=30e-3, v_rest=0.0, v_th=15e-3, v_reset=13.5e-3, R=1e6, tau_e=3e-3,
                  tau_i=6e-3, v0=(13.5e-3, 15e-3))
        net = Network(self.dt, seed=_rng.child(ss, 1), backend=backend)
        self.backend = net.backend
        groups = {}
        groups["E"] = net.add(LIF(self.n_exc, t_ref=3e-3, name="exc",
                                  I=gen.uniform(13.5e-9, 14.5e-9, self.n_exc), **kw))
        if n_inh:
            groups["I"] = net.add(LIF(n_inh, t_ref=2e-3, name="inh",
                                      I=gen.uniform(13.5e-9, 14.5e-9, n_inh), **kw))
        self.inputs = net.add(SpikeGeneratorGroup(self.n_inputs, [], np.empty(0, np.int64),
                                                  name="input"))
        P = {"E": self.positions[:self.n_exc], "I": self.positions[self.n_exc:]}
        for a in groups:
            for b in groups:
                key = a + b
                Wm = connect.distance(P[b], P[a], C=C[key], lam=self.lam,
                                      seed=int(gen.integers(1 << 62)))
                if Wm.nnz == 0:
                    continue
                Wm.data[:] = self.w_scale * _gamma(gen, W[key], Wm.nnz)
                d = 1.5e-3 if key == "EE" else 0.8e-3
                stp = STP(**dict(zip(("U", "tau_rec", "tau_facil"), MAASS_STP[key]))) \
                    if self.dynamic else None
                net.connect(groups[a], groups[b], Wm, channel="e" if a == "E" else "i",
                            delay=d, plasticity=stp)
        for b, scale in (("E", 1.0), ("I", 0.5)):
            if b in groups:
                Win = connect.random(groups[b].n, self.n_inputs, p=self.p_in,
                                     seed=int(gen.integers(1 << 62)))
                if Win.nnz:
                    Win.data[:] = _gamma(gen, scale * self.w_in, Win.nnz)
                    net.connect(self.inputs, groups[b], Win, channel="e" if self.w_in >= 0
                                else "i")
        net.store()
        self.network = net
        self.readout = None

    # ------------------------------------------------------------------- simulation
    def _check_sample(self, sample, name):
        """One input ``(times, channels)`` checked: (times float64 >= 0, channels int64 in
        ``[0, n_inputs)``), of equal length (no spikes is an input too)."""
        if not (isinstance(sample, (tuple, list)) and len(sample) == 2):
            raise ValueError(f"{name} must be a pair (times, channels); got {type(sample).__name__}")
        times = checks.array(sample[0], f"{name} times", ndim=1, empty=True)
        chans = checks.array(sample[1], f"{name} channels", ndim=1, dtype=None, empty=True)
        if times.shape != chans.shape:
            raise ValueError(f"{name} times and channels must have the same length; got "
                             f"{times.shape[0]} and {chans.shape[0]}")
        if chans.size:
            if chans.dtype.kind not in "iub":
                raise TypeError(f"{name} channels must be integers; got dtype {chans.dtype}")
            if chans.min() < 0 or chans.max() >= self.n_inputs:
                raise ValueError(f"{name} channels must lie in [0, {self.n_inputs}); got values "
                                 f"from {chans.min()} to {chans.max()}")
            if times.min() < 0:
                raise ValueError(f"{name} times must be >= 0 s; got {times.min()}")
        return times, chans.astype(np.int64)

    def _samples(self, samples):
        """A sequence of inputs ``(times, channels)`` checked, as a list of checked pairs."""
        if isinstance(samples, (str, bytes, np.ndarray)) or not hasattr(samples, "__len__"):
            raise TypeError(f"samples must be a sequence of (times, channels) pairs; got "
                            f"{type(samples).__name__}")
        if not len(samples):
            raise ValueError("samples must hold at least one (times, channels) pair")
        return [self._check_sample(s, f"samples[{k}]") for k, s in enumerate(samples)]

    def liquid_spikes(self, sample, duration):
        """Spikes of the liquid for one input ``(times, channels)`` over ``duration`` s, from
        the liquid's fixed initial state: (steps int64, neurons int64)."""
        return self._spikes(*self._check_sample(sample, "sample"), duration)

    def _spikes(self, times, chans, duration):
        """:meth:`liquid_spikes` of a checked input."""
        net = self.network
        net.restore()
        net.set_spikes(self.inputs, times, chans)
        n_steps = int(np.rint(duration / self.dt))
        # one kernel call (more if the spike buffer fills): a sample is short, and a fit runs
        # many; Ctrl+C ends a fit as any Python loop (nothing partial to return)
        stepper = Stepper(net, n_steps, n_steps, _EMPTY, _EMPTY,
                          np.ones(self.n_liquid, dtype=bool))
        st, si = [], []
        try:
            for steps, neurons in stepper.advance(n_steps):
                st.append(steps - net._stored["step"])
                si.append(neurons.copy())
        finally:
            stepper.close()
        return np.concatenate(st), np.concatenate(si)

    def states(self, samples, duration, readout_times=None):
        """Liquid states: low-pass-filtered spike trains (exponential kernel ``tau_readout``)
        read at ``readout_times`` (s, default ``[duration]``): array (n_samples, n_times *
        n_liquid)."""
        samples = self._samples(samples)
        duration = checks.scalar(duration, "duration", low=0.0, low_open=True)
        rt = np.atleast_1d(np.array([duration]) if readout_times is None
                           else checks.array(readout_times, "readout_times", ndim=(0, 1)))
        if np.any(rt <= 0) or np.any(rt > duration + 1e-12):
            raise ValueError(f"readout_times must lie in (0, duration = {duration}]; got {rt}")
        steps = np.rint(rt / self.dt).astype(np.int64) - 1
        decay = np.exp(-self.dt / self.tau_readout)
        out = np.empty((len(samples), rt.size * self.n_liquid))
        for k, (times, chans) in enumerate(samples):
            st, si = self._spikes(times, chans, duration)
            out[k] = _k.filtered_counts(st, si, self.n_liquid, steps, decay).ravel()
        return out

    # ---------------------------------------------------------------------- readout
    def fit(self, samples, labels, *, duration=None, readout_times=None):
        """Train the ridge readout to classify ``samples`` (list of ``(times, channels)``) into
        integer ``labels`` (one-hot targets). duration: s (default: the last input spike,
        rounded up to 10 ms). Returns self."""
        samples = self._samples(samples)
        labels = checks.labels(labels, "labels", n=len(samples))
        if labels.min() < 0:
            raise ValueError("labels must be integers >= 0")
        self.classes_ = np.unique(labels)
        self.duration_ = duration or _default_duration(samples)
        self.readout_times_ = readout_times
        X = self.states(samples, self.duration_, readout_times)
        Y = (labels[:, None] == self.classes_[None, :]).astype(float)
        self.readout = ridge(X, Y, self.alpha)
        return self

    def decision_function(self, samples):
        """Readout outputs (n_samples, n_classes)."""
        if self.readout is None:
            raise RuntimeError("fit the readout first")
        X = self.states(samples, self.duration_, self.readout_times_)
        return X @ self.readout[:-1] + self.readout[-1]

    def predict(self, samples):
        """Predicted labels (n_samples,)."""
        if self.readout is None:
            raise RuntimeError("fit the readout first")
        return self.classes_[np.argmax(self.decision_function(samples), axis=1)]

    def score(self, samples, labels):
        """Fraction of ``samples`` classified as ``labels``."""
        labels = checks.labels(labels, "labels", n=len(self._samples(samples)))
        return float(np.mean(self.predict(samples) == labels))

    # ------------------------------------------------------------------- experiments
    def run(self, sample, duration, *, chunk=None, progress=False, store=None):
        """The liquid's response to one input as a Dataset (spike events, population rates
        and the input spikes ``input_time``, ``input_channel``), from the liquid's fixed
        initial state. chunk, progress, store: as for :meth:`Network.run` (store: the records
        go to that netCDF file, returned opened lazily). Ctrl+C stops after the current chunk
        (attr ``interrupted`` = 1)."""
        net = self.network
        net.restore()
        times, chans = self._check_sample(sample, "sample")
        net.set_spikes(self.inputs, times, chans)
        inputs = {"input_time": ("input_spike", np.asarray(times, dtype=float), {"units": "s"}),
                  "input_channel": ("input_spike", np.asarray(chans, dtype=np.int64))}
        return net._run(duration, record=None, variables=("v",), spikes=True, chunk=chunk,
                        progress=progress, store=store, model="LiquidStateMachine",
                        data_vars=inputs)

    def memory_curve(self, *, n_bins=300, bin=0.03, max_delay=10, rate=80.0, train=0.6,
                     alpha=10.0, seed=None):
        """Delayed recall: how well the liquid remembers past inputs.

        The input is ``n_inputs`` Poisson channels sharing a rate that jumps every ``bin`` s to a
        fresh value uniform in [0, ``rate``] Hz. For each delay ``d`` (0..max_delay bins) a ridge
        readout of the liquid state at the end of bin ``k`` is trained on the first ``train``
        fraction of bins to report the rate of bin ``k - d``, and scored on the rest by the
        squared correlation ``r2``. alpha: ridge penalty (larger than for classification: one
        target, few bins). Returns a Dataset over ``delay`` with ``r2`` and attr
        ``memory_capacity`` (sum of r2).
        """
        n_bins = checks.integer(n_bins, "n_bins", low=20)
        bin = checks.scalar(bin, "bin", low=self.dt, low_open=True)
        max_delay = checks.integer(max_delay, "max_delay", low=0, high=n_bins // 4)
        rate = checks.scalar(rate, "rate", low=0.0, low_open=True)
        train = checks.scalar(train, "train", low=0.1, high=0.9)
        alpha = checks.scalar(alpha, "alpha", low=0.0)
        gen = _rng.generator(seed)
        r = gen.uniform(0, rate, n_bins)
        T = n_bins * bin
        times, chans = [], []
        for c in range(self.n_inputs):
            counts = gen.poisson(r * bin)
            t = np.concatenate([k * bin + np.sort(gen.uniform(0, bin, m))
                                for k, m in enumerate(counts)])
            times.append(t)
            chans.append(np.full(t.size, c))
        times, chans = np.concatenate(times), np.concatenate(chans).astype(np.int64)
        order = np.argsort(times, kind="stable")
        st, si = self.liquid_spikes((times[order], chans[order]), T)
        steps = np.rint(np.arange(1, n_bins + 1) * bin / self.dt).astype(np.int64) - 1
        X = _k.filtered_counts(st, si, self.n_liquid, steps,
                               np.exp(-self.dt / self.tau_readout))
        split = int(train * n_bins)
        r2 = np.zeros(max_delay + 1)
        for d in range(max_delay + 1):
            k = np.arange(max(d, 5), n_bins)
            tr, te = k[k < split], k[k >= split]
            w = ridge(X[tr], r[tr - d], alpha)
            pred = X[te] @ w[:-1] + w[-1]
            c = np.corrcoef(pred, r[te - d])[0, 1]
            r2[d] = 0.0 if not np.isfinite(c) else c * c
        return _rec.dataset(
            {"r2": ("delay", r2, {"units": "1", "long_name": "squared correlation of recall"})},
            {"delay": ("delay", np.arange(max_delay + 1), {"long_name": "delay in time bins", "units": "1"})},
            family="LSM", model="LiquidStateMachine", params=self.params(),
            seed=seed, backend=self.backend,
            attrs={"bin": bin, "bin_units": "s", "n_bins": n_bins, "input_rate_max": rate,
                   "memory_capacity": float(r2.sum())})

    # ------------------------------------------------------------------- save / load
    def save(self, path):
        """Write the liquid (wiring, initial state) and the trained readout to netCDF."""
        import json

        net = self.network
        net.restore()
        extra = {"positions": (("neuron", "coord"), self.positions)}
        attrs = {"lsm_json": json.dumps({**self.params(), "shape": list(self.shape),
                                         "frac_inh": self.frac_inh, "C": self.C, "W": self.W,
                                         "seed": _rng.to_attr(self.seed)})}
        if self.readout is not None:
            extra["readout"] = (("feature", "class"), self.readout)
            extra["classes"] = (("class",), self.classes_)
            attrs["duration_"] = float(self.duration_)
            if self.readout_times_ is not None:
                attrs["readout_times_"] = np.asarray(self.readout_times_, dtype=float)
        return persist.write(net, path, model="LiquidStateMachine", extra=extra, attrs=attrs)

    @classmethod
    def load(cls, path, *, backend="cpu"):
        """A machine saved by :meth:`save` (liquid, initial state and readout), its liquid to
        run on ``backend``. A file that is not a saved LiquidStateMachine (another model,
        truncated, not netCDF) is a ValueError."""
        import json

        from .. import backend as _backend

        backend = _backend.resolve(backend)
        ds = persist.open_network(path, "LiquidStateMachine", required=("positions", "lsm_json"))
        meta = json.loads(ds.attrs["lsm_json"])
        self = cls.__new__(cls)
        for key in ("n_inputs", "n_liquid", "n_exc", "n_inh", "lam", "w_scale", "p_in", "w_in",
                    "tau_readout", "alpha", "dt", "frac_inh", "C", "W"):
            setattr(self, key, meta[key])
        self.dynamic = bool(meta.get("dynamic", 0))
        self.shape = tuple(meta["shape"])
        self.seed = persist.seed_from_attr(meta["seed"])
        self.positions = ds["positions"].values
        self.network = persist.read(Network, ds, backend=backend)
        self.backend = backend
        self.inputs = next(s for s in self.network.sources if s.name == "input")
        self.network.store()
        self.readout = None
        if "readout" in ds:
            self.readout = ds["readout"].values
            self.classes_ = ds["classes"].values
            self.duration_ = float(ds.attrs["duration_"])
            rt = ds.attrs.get("readout_times_")
            self.readout_times_ = None if rt is None else np.atleast_1d(rt)
        return self

    def params(self):
        """Scalar parameters (for Dataset attrs)."""
        return {"n_inputs": self.n_inputs, "n_liquid": self.n_liquid, "n_exc": self.n_exc,
                "n_inh": self.n_inh, "lam": self.lam, "w_scale": self.w_scale,
                "p_in": self.p_in, "w_in": self.w_in, "tau_readout": self.tau_readout,
                "alpha": self.alpha, "dt": self.dt, "dynamic": int(self.dynamic)}


def _default_duration(samples):
    last = max((float(np.max(t)) for t, _ in samples if len(t)), default=0.0)
    return max(0.01, np.ceil(last / 0.01 + 1e-9) * 0.01)


def jitter_curve(jitters, *, n_train=100, n_test=100, n_templates=2, n_channels=4,
                 duration=0.2, rate=20.0, readout_times=None, seed=None, **liquid):
    """Template classification accuracy of a liquid against the jitter of its inputs.

    For each jitter (s) draw ``n_train + n_test`` jittered copies of the same templates
    (:func:`neurosim.datasets.jittered_templates`), fit the readout on the first ``n_train``,
    score on the rest. ``liquid``: arguments of :class:`LiquidStateMachine`. Returns a Dataset
    over ``jitter`` with ``accuracy`` and ``train_accuracy`` and attr ``chance``.
    """
    from ..datasets.spikes import jittered_templates

    jitters = checks.array(jitters, "jitters", ndim=1)
    if np.any(jitters < 0):
        raise ValueError("jitters must be >= 0 s")
    lsm = LiquidStateMachine(n_channels, seed=seed, **liquid)
    acc, tr = [], []
    for j in jitters:
        samples, labels, _ = jittered_templates(n_train + n_test, n_templates=n_templates,
                                                n_channels=n_channels, duration=duration,
                                                rate=rate, jitter=float(j), seed=seed)
        lsm.fit(samples[:n_train], labels[:n_train], duration=duration,
                readout_times=readout_times)
        tr.append(lsm.score(samples[:n_train], labels[:n_train]))
        acc.append(lsm.score(samples[n_train:], labels[n_train:]))
    return _rec.dataset(
        {"accuracy": ("jitter", np.array(acc), {"units": "1", "long_name": "held-out accuracy"}),
         "train_accuracy": ("jitter", np.array(tr), {"units": "1"})},
        {"jitter": ("jitter", jitters, {"units": "s"})},
        family="LSM", model="LiquidStateMachine", params=lsm.params(),
        seed=seed, backend=lsm.backend,
        attrs={"chance": 1.0 / n_templates, "n_train": n_train, "n_test": n_test,
               "duration": duration, "input_rate": rate})
