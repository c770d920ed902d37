"""A :class:`~neurosim.spiking.network.Network` to and from netCDF (no pickle).

The file holds the built network whole: wiring as the kernel's outgoing tables, parameters,
neuron and synapse state, spikes in flight, random streams, the step count; the groups'
constructor arguments as JSON in ``groups_json``; plastic synapses (weights, traces, STP
state, the rules as JSON in ``plastic_json``) where the network has some. Models built on a
network (the liquid state machine) add their own variables and attributes and their own
``model`` name.
"""
import importlib
import json

import numpy as np
import xarray as xr

from .. import record as _rec
from .. import rng as _rng
from ..kernels import spiking as _k
from . import synapses as _synapses
from .inputs import PoissonGroup, SpikeGeneratorGroup
from .custom import CustomNeurons
from .neurons import LIF, AdEx, HodgkinHuxley, Izhikevich

#: the built network's arrays, saved and restored as they are
ARRAYS = ("g_lo", "g_model", "g_syn", "g_par", "v", "u", "syn", "ref", "I_ext", "rates",
          "pstate", "gen_step", "gen_idx", "gen_ptr", "out_ptr", "out_code", "out_w", "out_d",
          "ring")
#: what every network file holds (variables and attributes)
REQUIRED = ARRAYS + ("dt", "step", "I_stride", "rate_stride", "n_poisson", "groups_json", "seed")
#: built network arrays that only some networks have (None otherwise)
OPTIONAL = ("aux",) + _synapses.ARRAYS
_SYN = ("synapse", "tau_e", "tau_i", "E_e", "E_i")
_CTOR = {"LIF": _SYN + ("t_ref", "tau_m", "v_rest", "v_th", "v_reset", "R"),
         "Izhikevich": _SYN + ("t_ref", "a", "b", "c", "d", "v_peak", "C"),
         "AdEx": _SYN + ("t_ref", "C", "g_L", "E_L", "V_T", "Delta_T", "tau_w", "a", "b",
                         "v_reset", "v_peak"),
         "HodgkinHuxley": _SYN + ("C", "g_L", "E_L", "g_Na", "E_Na", "g_K", "E_K", "V_T",
                                  "v_th"),
         "CustomNeurons": _SYN + ("t_ref",)}
_CLASSES = {"LIF": LIF, "Izhikevich": Izhikevich, "AdEx": AdEx, "HodgkinHuxley": HodgkinHuxley}

#: initial-state arguments: not needed by a built network, but its runs report them (scalars)
_INITIAL = ("v0", "u0", "w0", "m0", "h0", "n0")


def _step_name(step):
    f = getattr(step, "py_func", step)
    return f"{f.__module__}:{f.__qualname__}"


def _step_function(name):
    """The user step function saved as ``module:qualname``, imported again."""
    module, _, qual = name.partition(":")
    try:
        obj = importlib.import_module(module)
        for part in qual.split("."):
            obj = getattr(obj, part)
    except Exception as err:
        raise ValueError(f"the network's user model step function {name} cannot be imported "
                         f"({err}); define it at the top level of an importable module") from err
    return obj


def _scalar(x):
    return x if isinstance(x, (int, float)) and not isinstance(x, bool) else None


def write(net, path, *, model="Network", extra=None, attrs=None):
    """Write ``net`` (built first if needed) to ``path`` as ``model``, with ``extra`` data
    variables (name -> (dims, array)) and ``attrs`` of a model built on it."""
    if not net._built:
        net._build()
    data = {}
    for name in ARRAYS + OPTIONAL:     # the optional ones where the network has them
        a = getattr(net, name, None)
        if a is not None:
            data[name] = ([f"{name}_{k}" for k in range(a.ndim)], a)
    groups = []
    for g in net.groups:
        kind = type(g).__name__
        spec = {"kind": kind, "n": g.n, "name": g.name,
                "kwargs": {k: getattr(g, k) for k in _CTOR[kind]},
                "initial": {k: _scalar(getattr(g, k)) for k in _INITIAL if hasattr(g, k)}}
        if kind == "CustomNeurons":
            spec.update(step=_step_name(g.step), state=list(g.state_names),
                        params=g.model_params, units=g.state_units)
        groups.append(spec)
    for src in net.sources:
        groups.append({"kind": type(src).__name__, "n": src.n, "name": src.name})
    data.update(extra or {})
    ds = xr.Dataset(data)
    ds.attrs.update(attrs or {})
    ds.attrs.update({"dt": net.dt, "step": net.step, "I_stride": net.I_stride,
                     "rate_stride": net.rate_stride, "n_poisson": net.n_poisson,
                     "groups_json": json.dumps(groups), "seed": _rng.to_attr(net.seed),
                     "plastic_json": json.dumps(getattr(net, "plastic", [])),
                     "model": model, "family": "LSM"})
    ds.to_netcdf(path)
    return path


def read(cls, ds, backend="cpu"):
    """The network of class ``cls`` held by ``ds`` (checked by ``record.open_model``), to run
    on ``backend``."""
    net = cls(float(ds.attrs["dt"]), seed=seed_from_attr(ds.attrs["seed"]), backend=backend)
    for spec in json.loads(ds.attrs["groups_json"]):
        kind, n, name = spec["kind"], spec["n"], spec["name"]
        if kind in _CLASSES:
            g = _CLASSES[kind](n, name=name, **spec["kwargs"])
        elif kind == "CustomNeurons":
            g = CustomNeurons(n, _step_function(spec["step"]),
                              state={k: 0.0 for k in spec["state"]}, params=spec["params"],
                              units=spec["units"], name=name, **spec["kwargs"])
        elif kind == "PoissonGroup":
            g = PoissonGroup(n, 0.0, name=name)
        else:
            g = SpikeGeneratorGroup(n, [], np.empty(0, dtype=np.int64), name=name)
        for k, value in spec.get("initial", {}).items():
            setattr(g, k, value)   # as given (None: drawn per neuron), for the runs' attrs
        net.add(g)
    for name in ARRAYS:
        setattr(net, name, np.ascontiguousarray(ds[name].values))
    for name in OPTIONAL:
        setattr(net, name, np.ascontiguousarray(ds[name].values) if name in ds else None)
    if net.g_par.shape[1] < _k.N_PAR:     # a file from before the parameter slots grew
        net.g_par = np.pad(net.g_par, ((0, 0), (0, _k.N_PAR - net.g_par.shape[1])))
    net.plastic = json.loads(ds.attrs.get("plastic_json", "[]"))
    net.step = int(ds.attrs["step"])
    net.I_stride = int(ds.attrs["I_stride"])
    net.rate_stride = int(ds.attrs["rate_stride"])
    net.n_poisson = int(ds.attrs["n_poisson"])
    net._built = True
    return net


def seed_from_attr(value):
    """The seed a file records (:func:`neurosim.rng.from_attr`); files written before seeds
    were stored losslessly hold ``"None"`` or a SeedSequence's repr there: read as None (a
    loaded network is built and draws nothing more from its seed)."""
    if isinstance(value, str) and (value == "None" or value.startswith("SeedSequence(")):
        return None
    return _rng.from_attr(value)


def open_network(path, model="Network", required=()):
    """``record.open_model`` for a file holding a network (``REQUIRED`` plus ``required``)."""
    return _rec.open_model(path, model, required=REQUIRED + tuple(required))
