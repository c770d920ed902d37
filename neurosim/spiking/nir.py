"""Spiking networks to and from NIR, the Neuromorphic Intermediate Representation.

:func:`to_nir` writes a :class:`~neurosim.spiking.Network` as a ``nir.NIRGraph`` and
:func:`from_nir` reads a graph (or a ``.nir`` file) into a ``Network``, including the node
types other NIR tools write (``Input``, ``Output``, ``Affine``, ``Linear``, ``Scale``,
``Delay``, ``LIF``, ``CubaLIF``, ``IF``, ``LI``, ``CubaLI``, ``I``, ``Flatten``, nested
graphs)::

    graph = to_nir(net)                    # then nir.write("net.nir", graph)
    net2 = from_nir("net.nir", dt=net.dt)  # the same spikes on the same input
    src = next(s for s in net2.sources if s.name == "input")
    net2.set_spikes(src, times, indices)

The mapping is exact: NIR's equations are neurosim's with these units.

- Time: NIR time constants and delays are in units of ``time_unit`` seconds (default 1: the
  seconds that snnTorch, Norse, Rockpool and the NIR paper's reference simulator write; pass
  ``time_unit=1e-3`` for a graph in milliseconds). Voltages are volts, ``r`` ohms, weights and
  biases amperes (``r * I`` is a voltage).
- Neurons: ``LIF`` ``tau dv/dt = (v_leak - v) + r I`` is neurosim's ``LIF`` (``tau_m = tau``,
  ``R = r``, ``v_rest = v_leak``, ``v_th = v_threshold``, ``v_reset``, ``t_ref = 0``: NIR has no
  refractory period). It spikes when ``v > v_threshold`` and resets to ``v_reset``, as neurosim
  does. ``IF`` (no leak) runs as a LIF whose leak factor ``exp(-dt/tau_m)`` is exactly 1
  (``tau_m = NO_LEAK * dt``, ``R = r tau_m``); ``LI``, ``CubaLI`` and ``I`` (no threshold) as
  neurons whose threshold is never reached (``v_th = NEVER``, the largest float), so their
  ``v`` is recorded like any neuron's.
- Spikes: a spike is a pulse of area ``a`` in NIR's equations: ``spikes="pulse"`` (default)
  reads it as a unit pulse held over one step, ``a = dt`` (what snnTorch's and Norse's
  exporters and the NIR paper's simulator assume: snnTorch writes ``r = tau/dt`` and
  ``w_in = tau_syn/dt`` so that a spike moves ``v`` or ``I`` by the weight), and
  ``spikes="delta"`` as a Dirac delta of area 1 (time unit).
- Synapses: ``CubaLIF``'s ``tau_syn dI/dt = -I + w_in S`` is neurosim's current synapse with
  ``tau_e = tau_syn``: a spike through weight ``W`` adds ``w_in W a / tau_syn`` amperes to
  ``I_e``. Two differently filtered inputs are written as two ``LI`` nodes (``tau_e`` and
  ``tau_i``, ``r = tau/a``, ``v_leak = 0``, their ``v`` being the current) feeding a ``LIF``;
  an ``LI`` node that feeds exactly one ``LIF``, ``IF``, ``LI`` or ``I`` node is read as such a
  channel. Spikes straight into a ``LIF`` or ``IF`` (delta synapses: ``v`` jumps by
  ``r W a / tau``) run on a current channel whose time constant ``FAST * dt`` makes it decay to
  exactly zero within the step the spike arrives, its weight chosen so that ``v`` gets the
  jump. Conductance synapses have no NIR node and are refused.
- Projections: a projection is a ``Linear`` node (the dense weight matrix, amperes) from the
  presynaptic node into the neuron or channel node; ``Affine`` biases and ``LI`` leak voltages
  of channels are constant currents (a bias filtered by a synapse is taken at its steady state,
  ``w_in b``: NIR leaves initial states to the platform); a neuron's constant external current
  ``I`` is written into ``v_leak`` (``v_rest + R I``, per neuron) and read back as a current.
  ``Scale`` nodes are diagonal weights, ``Flatten`` and the ``Input``/``Output`` nodes of nested
  graphs pass their signal on.
- Delays: a projection's delays (whole steps) are ``Delay`` nodes before ``Linear`` nodes, one
  pair per distinct delay (``d * dt`` in time units); on import, delays on either side of the
  weights (per presynaptic or postsynaptic neuron) must be whole numbers of steps. As in every
  neurosim network, delivery adds one step to them (a spike reaches its targets at the end of
  the step it was emitted in, as in Brian2).
- Sources: ``Input`` nodes are :class:`~neurosim.spiking.SpikeGeneratorGroup` sources named
  after the node (their spikes are the data, given with ``Network.set_spikes``); each neuron
  group gets an ``Output`` node ``<name>_out``. Initial states are not part of a graph: an
  imported network starts at rest (``v0 = v_leak``; 0 for ``IF`` and ``I``).

What NIR cannot express (Poisson sources, Izhikevich neurons, conductance synapses, a
refractory period, time-varying currents) and what neurosim cannot run (convolutions,
pooling, ``Threshold``, analog signals between neurons, doubly filtered inputs, per-neuron time
constants or thresholds) is a ``ValueError`` naming the group or node, never a silent drop.

nir is optional: ``import neurosim`` never imports this module (``pip install
neurosim[nir]``).
"""
import math
import os

import numpy as np

from .. import checks, connect
from .inputs import PoissonGroup, SpikeGeneratorGroup
from .network import Network
from .neurons import LIF

try:
    import nir
except ImportError as err:  # pragma: no cover - exercised only without nir
    raise ImportError("neurosim.spiking.nir needs the nir package (pip install nir, or "
                      "pip install neurosim[nir])") from err

__all__ = ["to_nir", "from_nir", "SPIKES"]

SPIKES = ("pulse", "delta")
#: time constant of the channel that carries delta synapses, in steps: exp(-1/FAST) is 0.0
FAST = 1e-3
#: membrane time constant of IF and I neurons, in steps: exp(-1/NO_LEAK) is 1.0
NO_LEAK = 2.0 ** 60
#: threshold of the neurons that never fire (LI, CubaLI, I)
NEVER = float(np.finfo(np.float64).max)

NEURONS = (nir.LIF, nir.CubaLIF, nir.IF, nir.LI, nir.CubaLI, nir.I)
SPIKING = (nir.LIF, nir.CubaLIF, nir.IF)
MEMBRANE = (nir.LIF, nir.IF, nir.LI, nir.I)     # input goes to v, no synaptic filter
WEIGHTS = (nir.Linear, nir.Affine, nir.Scale)
WIRES = ("Flatten", "Identity")                 # nodes that pass a flat signal on
_ONE = 8 * np.finfo(np.float64).eps


def _area(spikes, dt, time_unit):
    """A spike's area in NIR time units: one step (``"pulse"``) or 1 (``"delta"``)."""
    checks.choice(spikes, "spikes", SPIKES)
    return dt / time_unit if spikes == "pulse" else 1.0


def _full(n, x):
    return np.full(n, float(x))


# ============================================================================ export
def to_nir(network, *, spikes="pulse", time_unit=1.0):
    """The ``nir.NIRGraph`` of a spiking :class:`~neurosim.spiking.Network`.

    Nodes: an ``Input`` per :class:`SpikeGeneratorGroup`; per LIF group with current synapses a
    ``CubaLIF`` (one synaptic channel in use), or a ``LIF`` fed by an ``LI`` node per channel
    (both channels in use; delta channels feed the ``LIF`` directly), ``IF``/``LI``/``CubaLI``/
    ``I`` for groups imported as such, and an ``Output`` ``<name>_out``; per projection and
    delay a ``Linear`` (after a ``Delay``). spikes, time_unit: see the module docstring. Node
    names are the groups' names (``group<k>`` and ``source<k>`` for unnamed ones). Write it with
    ``nir.write(path, graph)``; a graph without an ``Input`` node reads back with
    ``nir.read(path, type_check=False)``.
    """
    if not isinstance(network, Network):
        raise TypeError(f"network must be a neurosim.spiking.Network; got {type(network).__name__}")
    time_unit = checks.scalar(time_unit, "time_unit", low=0.0, low_open=True)
    dt = network.dt
    a = _area(spikes, dt, time_unit)
    names = _node_names(network)
    taken = set(names.values())       # generated node names keep clear of the groups'
    nodes, edges, inlets = {}, [], {}
    for src in network.sources:
        if isinstance(src, PoissonGroup):
            raise ValueError(f"source {names[id(src)]!r} is a PoissonGroup: NIR has no random "
                             "spike source; draw its spikes into a SpikeGeneratorGroup (they "
                             "become the graph's input)")
        nodes[names[id(src)]] = nir.Input(input_type={"input": np.array([src.n])})
    for g in network.groups:
        used = sorted({pr.channel for pr in network.projections if pr.post is g})
        g_nodes, g_edges, inlets[id(g)] = _export_group(g, names[id(g)], used, dt, a, time_unit,
                                                        taken)
        nodes.update(g_nodes)
        edges += g_edges
    for k, pr in enumerate(network.projections):
        pre, post = names[id(pr.pre)], names[id(pr.post)]
        if getattr(pr, "stdp", None) is not None or getattr(pr, "stp", None) is not None:
            raise ValueError(f"projection {k} ({pre} -> {post}) is plastic (STDP or STP): NIR "
                             "has no plasticity; connect the learnt weights (network.weights) "
                             "in a static network to export it")
        inlet, scale = inlets[id(pr.post)][pr.channel]
        out = connect.outgoing(pr.W, pr.D)
        pres = np.repeat(np.arange(pr.pre.n), np.diff(out[0]))
        steps = out[3] if pr.D is not None else np.zeros(pres.size, dtype=np.int64)
        for d in np.unique(steps):
            sel = steps == d
            W = np.zeros((pr.post.n, pr.pre.n))
            W[out[1][sel], pres[sel]] = out[2][sel] * scale
            lin = _unique(taken, f"{pre}_to_{post}_{k}" + (f"_d{d}" if d else ""))
            nodes[lin] = nir.Linear(weight=W)
            if d:
                delay = _unique(taken, lin + "_delay")
                nodes[delay] = nir.Delay(delay=_full(pr.pre.n, d * dt / time_unit))
                edges += [(pre, delay), (delay, lin)]
            else:
                edges.append((pre, lin))
            edges.append((lin, inlet))
    for g in network.groups:
        name = names[id(g)]
        sink = _unique(taken, name + "_out")
        nodes[sink] = nir.Output(output_type={"output": np.array([g.n])})
        edges.append((name, sink))
    meta = {"generator": "neurosim", "dt": dt, "spikes": spikes, "time_unit": time_unit}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta, type_check=False)


def _unique(taken, base):
    """``base``, or ``base_2``, ``base_3``... if that name is taken; added to ``taken``."""
    name, k = base, 1
    while name in taken:
        k += 1
        name = f"{base}_{k}"
    taken.add(name)
    return name


def _node_names(network):
    """id(group) -> a unique node name: the group's name, else ``group<k>``/``source<k>``."""
    names, taken = {}, set()
    members = [(g, f"group{k}") for k, g in enumerate(network.groups)] + \
        [(s, f"source{k}") for k, s in enumerate(network.sources)]
    for g, default in members:
        names[id(g)] = _unique(taken, g.name or default)
    return names


def _export_group(g, name, used, dt, a, tu, taken):
    """(nodes, edges, inlets) of neuron group ``g``; ``inlets[channel]`` is the node a
    projection on that channel feeds and the factor from neurosim's weights to NIR's; new node
    names are kept clear of ``taken``."""
    if not isinstance(g, LIF):
        raise ValueError(f"group {name!r} is {type(g).__name__}: NIR has no such neuron "
                         "(it describes LIF, IF and leaky integrators)")
    if g.synapse != "current":
        raise ValueError(f"group {name!r} has conductance synapses: NIR's neurons take "
                         "currents only (CubaLIF, LIF)")
    held = max(int(np.rint(g.t_ref / dt)) - 1, 0)
    if held:
        raise ValueError(f"group {name!r}: t_ref = {g.t_ref} s holds v at reset for {held} "
                         "steps; NIR's neurons have no refractory period (use t_ref=0)")
    if g.I.shape[0] > 1:
        raise ValueError(f"group {name!r}: a time-varying current I cannot be expressed in "
                         "NIR; give that input as spikes from a SpikeGeneratorGroup")
    n = g.n
    leaky = math.exp(-dt / g.tau_m) < 1.0
    spiking = g.v_th < NEVER
    taus = {0: g.tau_e, 1: g.tau_i}
    delta = [c for c in used if math.exp(-dt / taus[c]) == 0.0]
    filtered = [c for c in used if c not in delta]
    r, v_leak, tau_m = _full(n, g.R), g.v_rest + g.R * g.I[0], _full(n, g.tau_m / tu)
    fire = dict(v_threshold=_full(n, g.v_th), v_reset=_full(n, g.v_reset))
    # the current as neurosim holds it: a hint that makes the round trip exact (NIR's metadata
    # may carry such hints; the import uses it only where it reproduces v_leak exactly)
    hint = {"metadata": {"neurosim_v_rest": g.v_rest, "neurosim_current": g.I[0].copy()}} \
        if np.any(g.I) else {}
    if leaky and len(filtered) == 1 and not delta:
        c = filtered[0]
        syn = dict(tau_syn=_full(n, taus[c] / tu), tau_mem=tau_m, r=r, v_leak=v_leak,
                   w_in=_full(n, taus[c] / tu / a))
        node = nir.CubaLIF(**syn, **fire, **hint) if spiking else nir.CubaLI(**syn, **hint)
        return {name: node}, [], {c: (name, 1.0)}
    if not leaky:
        r_if = _full(n, g.R * tu / g.tau_m)
        node = nir.IF(r=r_if, **fire) if spiking else nir.I(r=r_if)
    elif spiking:
        node = nir.LIF(tau=tau_m, r=r, v_leak=v_leak, **fire, **hint)
    else:
        node = nir.LI(tau=tau_m, r=r, v_leak=v_leak, **hint)
    nodes, edges, inlets = {name: node}, [], {}
    for c in delta:   # v jumps by R tau_s w / (tau_m - tau_s) = r W a / tau
        inlets[c] = (name, taus[c] * g.tau_m / ((g.tau_m - taus[c]) * tu * a))
    for c in filtered:
        syn = _unique(taken, f"{name}_syn_{'ei'[c]}")
        nodes[syn] = nir.LI(tau=_full(n, taus[c] / tu), r=_full(n, taus[c] / tu / a),
                            v_leak=np.zeros(n))
        edges.append((syn, name))
        inlets[c] = (syn, 1.0)
    return nodes, edges, inlets


# ============================================================================ import
def from_nir(graph, dt, *, spikes="pulse", time_unit=1.0, seed=None, backend="cpu"):
    """A :class:`~neurosim.spiking.Network` that runs the NIR graph ``graph``.

    graph: a ``nir.NIRGraph`` or the path of a ``.nir`` file. dt: the time step (s), which NIR
    leaves to the platform (and, with ``spikes="pulse"``, a spike's area). spikes, time_unit:
    see the module docstring. seed, backend: as for :class:`Network`.

    Every ``Input`` node becomes a :class:`SpikeGeneratorGroup` and every neuron node a
    :class:`LIF` group, both named after the node (``{g.name: g for g in net.groups +
    net.sources}``), in the graph's node order; give the input with ``net.set_spikes``.
    """
    if isinstance(graph, (str, os.PathLike)):
        graph = nir.read(graph, type_check=False)
    if not isinstance(graph, nir.NIRGraph):
        raise TypeError(f"graph must be a nir.NIRGraph or a path; got {type(graph).__name__}")
    dt = checks.scalar(dt, "dt", low=0.0, low_open=True)
    time_unit = checks.scalar(time_unit, "time_unit", low=0.0, low_open=True)
    reader = _Reader(graph, dt, _area(spikes, dt, time_unit), time_unit)
    return reader.network(Network(dt, seed=seed, backend=backend))


def _flatten(graph, prefix, nodes, edges, wires):
    """Nested graphs flattened into ``nodes`` and ``edges`` (names ``outer.inner``); their
    Input and Output nodes go to ``wires``."""
    for name, node in graph.nodes.items():
        if isinstance(node, nir.NIRGraph):
            _flatten(node, f"{prefix}{name}.", nodes, edges, wires)
        else:
            nodes[prefix + name] = node
            if prefix and isinstance(node, (nir.Input, nir.Output)):
                wires.add(prefix + name)
    for s, t in graph.edges:
        edges.append((_port(graph, prefix, s, nir.Output), _port(graph, prefix, t, nir.Input)))


def _port(graph, prefix, name, kind):
    """The flat name of an edge's end: a node, ``sub.node``, or a subgraph's one port."""
    node = graph.nodes.get(name)
    if node is None:
        head, _, rest = name.partition(".")
        sub = graph.nodes.get(head)
        if not isinstance(sub, nir.NIRGraph) or not rest:
            raise ValueError(f"an edge names node {prefix + name!r}, which is not in the graph")
        return _port(sub, f"{prefix}{head}.", rest, kind)
    if not isinstance(node, nir.NIRGraph):
        return prefix + name
    ports = [k for k, v in node.nodes.items() if isinstance(v, kind)]
    if len(ports) != 1:
        raise ValueError(f"an edge names subgraph {prefix + name!r}, which has {len(ports)} "
                         f"{kind.__name__} nodes; name one as '{name}.<node>'")
    return f"{prefix}{name}.{ports[0]}"


class _Reader:
    """One graph's reading: flat nodes, the role of each, the inputs of each neuron."""

    def __init__(self, graph, dt, area, time_unit):
        self.dt, self.a, self.tu = dt, area, time_unit
        self.nodes, self.edges, self.wires = {}, [], set()
        _flatten(graph, "", self.nodes, self.edges, self.wires)
        self.preds = {k: [] for k in self.nodes}
        self.succs = {k: [] for k in self.nodes}
        for s, t in self.edges:
            self.preds[t].append(s)
            self.succs[s].append(t)
        self.inputs = [k for k, v in self.nodes.items()
                       if isinstance(v, nir.Input) and k not in self.wires]
        for name, node in self.nodes.items():
            if not (isinstance(node, NEURONS + WEIGHTS + (nir.Delay, nir.Input, nir.Output))
                    or type(node).__name__ in WIRES):
                raise ValueError(f"node {name!r} is a {type(node).__name__}: neurosim cannot "
                                 "run it (it runs Input, Output, Affine, Linear, Scale, Delay, "
                                 "Flatten, LIF, CubaLIF, IF, LI, CubaLI and I nodes)")
            if name in self.inputs and self.preds[name]:
                raise ValueError(f"Input node {name!r} has incoming edges")
        self.channels = self._channels()
        self.memo, self.visiting = {}, set()

    def _channels(self):
        """LI nodes that are a synaptic channel of one neuron: name -> that neuron."""
        out = {}
        for name, node in self.nodes.items():
            if type(node) is not nir.LI:
                continue
            targets = [t for t in self.succs[name] if not isinstance(self.nodes[t], nir.Output)]
            if len(targets) == 1 and isinstance(self.nodes[targets[0]], MEMBRANE) and \
                    _size(self.nodes[targets[0]]) == _size(node):
                out[name] = targets[0]
        for name, target in out.items():
            if target in out:
                raise ValueError(f"LI node {name!r} feeds LI node {target!r}, itself the "
                                 f"synaptic current of {out[target]!r}: a doubly filtered "
                                 "input neurosim cannot run")
        return out

    def network(self, net):
        """Add the graph's sources, neuron groups and synapses to ``net``; returns it."""
        groups, plans = {}, []
        for name, node in self.nodes.items():
            if name in self.inputs:
                groups[name] = net.add(SpikeGeneratorGroup(
                    _size(node), [], np.empty(0, dtype=np.int64), name=name))
            elif isinstance(node, NEURONS) and name not in self.channels:
                group, channels = self._group(name, node)
                groups[name] = net.add(group)
                plans.append((name, channels))
            elif isinstance(node, nir.Output) and name not in self.wires:
                for p in self.preds[name]:
                    if not self._observable(p):
                        raise ValueError(f"Output node {name!r} reads {p!r} (a "
                                         f"{type(self.nodes[p]).__name__}): neurosim records "
                                         "neurons' spikes and states, not signals after a "
                                         "weight or delay node")
        for name, channels in plans:
            for c, (factor, terms) in enumerate(channels):
                for src, M, steps in terms:
                    W = factor[:, None] * M
                    if np.any(W):
                        net.connect(groups[src], groups[name], W, channel="ei"[c], delay=steps)
        return net

    def _observable(self, name):
        """Whether an Output can read node ``name``: a neuron's spikes or v, a channel's
        current (recorded as ``syn_e``/``syn_i``), an input, or one of those passed on."""
        node = self.nodes[name]
        if isinstance(node, NEURONS) or name in self.inputs:
            return True
        return (type(node).__name__ in WIRES or name in self.wires) and \
            all(self._observable(p) for p in self.preds[name])

    # ------------------------------------------------------------------- neurons
    def _group(self, name, node):
        """(the LIF group of a neuron node, its channels [(row factors, [(src, M, steps)])])."""
        n = _size(node)
        uniform = _uniform(name, node)
        spiking = isinstance(node, SPIKING)
        leaky = not isinstance(node, (nir.IF, nir.I))
        r = np.broadcast_to(np.asarray(node.r, dtype=float), node.r.shape).ravel()
        if not np.all(np.isfinite(r)) or r[0] <= 0:
            raise ValueError(f"node {name!r}: r must be finite and > 0; got {r[0]}")
        if leaky:
            tau_m = uniform("tau" if hasattr(node, "tau") else "tau_mem") * self.tu
            R, v_leak = float(r[0]), np.asarray(node.v_leak, dtype=float).ravel()
        else:
            tau_m = NO_LEAK * self.dt
            R, v_leak = float(r[0]) * tau_m / self.tu, np.zeros(n)
        rows = r / r[0]                  # per-neuron r: a row factor on inputs and currents
        v_rest, current, v0 = _rest(node, R, v_leak)
        channels, taus = [], []
        if isinstance(node, (nir.CubaLIF, nir.CubaLI)):
            tau_s = uniform("tau_syn")
            w_in = np.asarray(node.w_in, dtype=float).ravel()
            terms, bias = self._sum(name, self.preds[name], n)
            channels.append((_one(w_in * self.a / tau_s) * rows, terms))
            taus.append(tau_s * self.tu)
            current = current + r * w_in * bias / R
        else:
            direct = [p for p in self.preds[name] if self.channels.get(p) != name]
            for p in self.preds[name]:
                if self.channels.get(p) == name:   # an LI node: a current channel
                    li = self.nodes[p]
                    tau_c = _uniform(p, li)("tau")
                    terms, bias = self._sum(p, self.preds[p], n)
                    r_c = np.asarray(li.r, dtype=float).ravel()
                    channels.append((_one(r_c * self.a / tau_c) * rows, terms))
                    taus.append(tau_c * self.tu)
                    current = current + r * (r_c * bias + np.asarray(li.v_leak).ravel()) / R
            terms, bias = self._sum(name, direct, n)
            if terms:                              # delta synapses: the fast channel
                tau_s = FAST * self.dt
                per = r * self.a * (self.tu / tau_m if leaky else 1.0)   # v jump per unit W
                channels.append((per * (tau_m - tau_s) / (R * tau_s), terms))
                taus.append(tau_s)
            current = current + r * bias / R
        if len(channels) > 2:
            raise ValueError(f"node {name!r} receives {len(channels)} differently filtered "
                             "inputs; a neurosim neuron has two synaptic channels")
        if not leaky and np.any(current):
            raise ValueError(f"node {name!r} ({type(node).__name__}) gets a constant input "
                             "(an Affine bias or a leak voltage); neurosim's IF cannot add one")
        taus += [tau_m] * (2 - len(taus))
        kw = dict(tau_m=tau_m, R=R, v_rest=v_rest, t_ref=0.0, synapse="current", v0=v0,
                  tau_e=taus[0], tau_i=taus[1], I=current if np.any(current) else 0.0,
                  v_th=NEVER, v_reset=0.0, name=name)
        if spiking:
            kw.update(v_th=uniform("v_threshold"), v_reset=uniform("v_reset"))
        try:
            group = LIF(n, **kw)
        except (ValueError, TypeError) as err:
            raise ValueError(f"node {name!r} ({type(node).__name__}): {err}") from None
        if FAST * self.dt in taus:
            own = group.time_constants    # the fast channel is exact at any dt: not checked
            group.time_constants = lambda: [t for t in own() if t != FAST * self.dt]
        return group, [(f, [(s, M, self._steps(s, name, M, pre, post)) for s, M, pre, post in t])
                       for f, t in channels]

    def _steps(self, src, target, M, pre, post):
        """The delays of a term's synapses in steps: None when all are 0, else an int array."""
        d = (pre[None, :] + post[:, None]) * self.tu / self.dt
        d = np.broadcast_to(d, M.shape)[M != 0]
        if not d.size or not np.any(d):
            return None
        steps = np.rint(d)
        if np.any(d < 0) or np.any(np.abs(d - steps) > 1e-6 * np.maximum(1.0, steps)):
            raise ValueError(f"delays from {src!r} to {target!r} must be whole numbers of steps "
                             f"of dt = {self.dt} s, >= 0; got {d.min()} to {d.max()} steps")
        out = np.zeros(M.shape, dtype=np.int64)
        out[M != 0] = steps
        return out

    # ------------------------------------------------------------------- signals
    def _sum(self, name, preds, n):
        """The terms and bias of the sum of ``preds``' signals into node ``name`` (size n)."""
        terms, bias = [], np.zeros(n)
        for p in preds:
            t, b = self._trace(p)
            if b.shape[0] != n:
                raise ValueError(f"node {name!r} takes {n} values; {p!r} gives {b.shape[0]}")
            terms += [(s, np.eye(n) if M is None else M, pre, post) for s, M, pre, post in t]
            bias = bias + b
        return terms, bias

    def _trace(self, name):
        """The signal out of node ``name`` as spiking sources through weights and delays:
        ``([(source, M or None for identity, pre delays, post delays)], bias)``."""
        if name in self.memo:
            return self.memo[name]
        node = self.nodes[name]
        if name in self.inputs or (isinstance(node, SPIKING) and name not in self.channels):
            n = _size(node)
            return [(name, None, np.zeros(n), np.zeros(n))], np.zeros(n)
        if isinstance(node, NEURONS):
            raise ValueError(f"node {name!r} ({type(node).__name__}) puts out its membrane "
                             "signal, not spikes, and neurosim's synapses carry spikes (an LI "
                             "node may feed one neuron directly, as its synaptic current)")
        if not self.preds[name]:
            raise ValueError(f"node {name!r} ({type(node).__name__}) has no input")
        if name in self.visiting:
            raise ValueError(f"node {name!r} is on a loop without a neuron: a signal that "
                             "feeds itself instantly cannot run")
        self.visiting.add(name)
        n_in = self._trace(self.preds[name][0])[1].shape[0]
        terms, bias = [], np.zeros(n_in)
        for p in self.preds[name]:
            t, b = self._trace(p)
            if b.shape[0] != n_in:
                raise ValueError(f"node {name!r} sums inputs of sizes {n_in} and {b.shape[0]}")
            terms += t
            bias = bias + b
        if isinstance(node, WEIGHTS):
            W = _weight(name, node)
            if W.shape[1] != n_in:
                raise ValueError(f"node {name!r}: its weight takes {W.shape[1]} values; it "
                                 f"receives {n_in}")
            new = []
            for s, M, pre, post in terms:
                if np.ptp(post) > 0:
                    raise ValueError(f"node {name!r}: a Delay between two weight nodes must "
                                     "delay every signal alike")
                new.append((s, W.copy() if M is None else W @ M, pre + post[0],
                            np.zeros(W.shape[0])))
            terms = new
            bias = W @ bias + (np.broadcast_to(np.asarray(node.bias, float), W.shape[0])
                               if isinstance(node, nir.Affine) else 0.0)
        elif isinstance(node, nir.Delay):
            delay = np.broadcast_to(np.asarray(node.delay, dtype=float).ravel(), (n_in,))
            terms = [(s, M, pre + delay, post) if M is None else (s, M, pre, post + delay)
                     for s, M, pre, post in terms]
        self.visiting.discard(name)
        self.memo[name] = terms, bias
        return terms, bias


def _size(node):
    """Number of values a node puts out (neurons, or an Input's flattened shape)."""
    if isinstance(node, nir.Input):
        return int(np.prod(node.input_type["input"]))
    return int(np.asarray(node.r).size)


def _rest(node, R, v_leak):
    """(v_rest, the constant current (n,) that makes up v_leak, v0) of a neuron node: from
    neurosim's hint in the node's metadata where it gives v_leak exactly (v0 = v_rest, neurosim's
    default), else v_rest = v_leak[0] and v0 = v_leak (each neuron at its rest)."""
    hint = getattr(node, "metadata", None) or {}
    if "neurosim_v_rest" in hint and "neurosim_current" in hint:
        v_rest = float(np.asarray(hint["neurosim_v_rest"]))
        current = np.asarray(hint["neurosim_current"], dtype=float).ravel()
        if current.shape == v_leak.shape and np.array_equal(v_rest + R * current, v_leak):
            return v_rest, current.copy(), v_rest
    v_rest = float(v_leak[0])
    v0 = v_rest if np.all(v_leak == v_rest) else v_leak.copy()
    return v_rest, (v_leak - v_rest) / R, v0


def _uniform(name, node):
    """A getter of a neuron node's parameter that must be one value for all its neurons."""
    def get(key):
        x = np.asarray(getattr(node, key), dtype=float).ravel()
        if x.size and np.any(x != x[0]):
            raise ValueError(f"node {name!r}: {key} differs between neurons ({x.min()} to "
                             f"{x.max()}); a neurosim group has one {key}")
        return float(x[0])
    return get


def _one(f):
    """Factors within rounding of 1 taken as 1, so that round trips keep weights bit for bit."""
    f = np.asarray(f, dtype=float)
    return np.where(np.abs(f - 1.0) <= _ONE, 1.0, f)


def _weight(name, node):
    """The (n_out, n_in) matrix of a Linear, Affine or Scale node."""
    if isinstance(node, nir.Scale):
        return np.diag(np.asarray(node.scale, dtype=float).ravel())
    W = np.asarray(node.weight, dtype=float)
    if W.ndim != 2:
        raise ValueError(f"node {name!r}: weight must be 2-D (n_out, n_in); got shape {W.shape}")
    if not np.all(np.isfinite(W)):
        raise ValueError(f"node {name!r}: weight must be finite")
    return W
