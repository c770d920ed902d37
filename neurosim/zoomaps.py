"""Node maps read from built models: which groups of cells a model has, of which kind of the
poster's catalogue (:data:`neurosim.zoo.CELLS`), and how they are connected.

:func:`wiring` turns a model into a :class:`Wiring`: its groups (name, true size, cell kind,
column on the map) and links (source and target group and the pattern of connections: every
cell to every cell, or a matrix whose nonzero entries are the connections, read from the
model's own weights where the family's wiring is sparse: an ESN's reservoir, a Hopfield net's
or a Boltzmann machine's couplings, a Markov chain's transitions, a spiking network's
synapses). Readers go family by family (the first class in the model's MRO that has one);
:mod:`neurosim.nn` models (``Sequential`` stacks, the autoencoders, GANs, CapsNets, the memory
machines) are walked layer by layer. :func:`tiny_model` builds a small model of each family,
for the poster (:func:`neurosim.viz.zoo_poster`).
"""
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from . import zoo


@dataclass
class Group:
    """Cells of one kind: ``name``, true ``size``, ``cell`` (a kind of :data:`zoo.CELLS`) and
    ``column`` on the map (groups of one column are stacked)."""

    name: str
    size: int
    cell: str
    column: int


@dataclass
class Link:
    """Connections from group ``source`` to group ``target`` (indices; equal for recurrent
    links within a group): ``pattern`` "full" (every cell to every cell) or a matrix
    (source size, target size) whose nonzero entries are the connections; ``skip``: a
    shortcut around other groups (a residual branch), drawn as an arc."""

    source: int
    target: int
    pattern: object = "full"
    skip: bool = False

    def connected(self, i, j):
        """Whether cell ``i`` of the source reaches cell ``j`` of the target."""
        if isinstance(self.pattern, str):
            return True
        return bool(self.pattern[i, j] != 0)


@dataclass
class Wiring:
    """A model's node map: ``name`` (the family and class), ``groups`` and ``links``."""

    name: str
    groups: list = field(default_factory=list)
    links: list = field(default_factory=list)

    def add(self, name, size, cell, column=None):
        """A new group (in a new column unless ``column`` is given); returns its index."""
        if cell not in zoo.CELLS:
            raise ValueError(f"cell must be one of the catalogue's kinds {zoo.CELLS}; got {cell!r}")
        if column is None:
            column = 1 + max((g.column for g in self.groups), default=-1)
        self.groups.append(Group(name, int(size), cell, column))
        return len(self.groups) - 1

    def link(self, sources, target, pattern="full", *, skip=False):
        """Link every group of ``sources`` (an index or a list) to ``target`` (see :class:`Link`)."""
        for s in np.atleast_1d(sources):
            if not isinstance(pattern, str):
                want = (self.groups[s].size, self.groups[target].size)
                if pattern.shape != want:
                    raise ValueError(f"a link pattern from {self.groups[s].name!r} to "
                                     f"{self.groups[target].name!r} must have shape {want}; "
                                     f"got {pattern.shape}")
            self.links.append(Link(int(s), int(target), pattern, skip))

    def kinds(self):
        """The cell kinds drawn, in catalogue order."""
        present = {g.cell for g in self.groups}
        return tuple(c for c in zoo.CELLS if c in present)

    def relabel(self, index, cell):
        """Give group ``index`` another kind (e.g. the last layer of a stack: ``"output"``)."""
        self.groups[index].cell = cell


def _nonzero(M):
    """The connection pattern of a weight matrix: its nonzero entries (sparse stays sparse)."""
    return sp.csr_array(M) if sp.issparse(M) else np.asarray(M) != 0


def _need(value, what, model):
    if value is None:
        raise ValueError(f"{type(model).__name__} has no {what} yet: its node map is read from the "
                         f"built model (fit it first)")
    return value


# -- the simulated families --------------------------------------------------------------------
def _hopfield(w, m):
    # every pair is coupled (a Hebbian weight may be 0 by chance: the coupling is still there)
    g = w.add("units", m.n_units, "backfed input")
    w.link(g, g, ~np.eye(m.n_units, dtype=bool))


def _boltzmann(w, m):
    v = w.add("visible", m.n_visible, "backfed input")
    mask = _nonzero(m.W)
    w.link(v, v, mask[:m.n_visible, :m.n_visible])
    if m.n_hidden:
        h = w.add("hidden", m.n_hidden, "probabilistic hidden")
        w.link(v, h, mask[:m.n_visible, m.n_visible:])
        w.link(h, h, mask[m.n_visible:, m.n_visible:])


def _rbm(w, m, visible="backfed input"):
    v = w.add("visible", m.n_visible, visible)
    h = w.add("hidden", m.n_hidden, "probabilistic hidden")
    w.link(v, h)
    return v, h


def _dbn(w, m):
    v = w.add("visible", m.layers[0], "backfed input")
    first = prev = w.add("hidden 1", m.layers[1], "probabilistic hidden")
    w.link(v, first)
    for k, size in enumerate(m.layers[2:], start=2):
        h = w.add(f"hidden {k}", size, "probabilistic hidden")
        w.link(prev, h)
        prev = h
    # the generative pass ends in the data space, through the first RBM's weights
    w.link(first, w.add("generated", m.layers[0], "match input output"))


def _esn(w, m):
    u = w.add("input", m.n_inputs, "input")
    layers = []
    for k, (lo, hi) in enumerate(zip(m.bounds[:-1], m.bounds[1:])):
        g = w.add("reservoir" if len(m.sizes) == 1 else f"reservoir {k + 1}", hi - lo, "recurrent")
        w.link(g, g, _nonzero(m.W[lo:hi, lo:hi].T))
        if k == 0:
            w.link(u, g, _nonzero(m.Win[lo:hi].T))
        else:
            w.link(layers[-1], g, _nonzero(m.W[lo:hi, m.bounds[k - 1]:lo].T))
        layers.append(g)
    y = w.add("readout", m.n_outputs, "output")
    w.link(layers, y)
    if m.feedback:
        for g, (lo, hi) in zip(layers, zip(m.bounds[:-1], m.bounds[1:])):
            w.link(y, g, _nonzero(m.Wfb[lo:hi].T))


def _elm(w, m):
    Win = _need(m.Win, "input layer (it is sized at fit)", m)
    u = w.add("input", Win.shape[0], "input")
    h = w.add("hidden", m.n_hidden, "hidden")
    w.link(u, h)
    w.link(h, w.add("readout", m.Wout.shape[0], "output"))


def _network(w, net, liquid_cell="spiking hidden"):
    """A spiking network's sources (input), neuron groups and projections; returns the
    neuron groups' indices."""
    index = {}
    for k, s in enumerate(net.sources):
        index[id(s)] = w.add(s.name or f"source {k}", s.n, "input", column=0)
    for k, g in enumerate(net.groups):
        index[id(g)] = w.add(g.name or f"group {k}", g.n, liquid_cell, column=1 if net.sources else 0)
    for proj in net.projections:
        w.link(index[id(proj.pre)], index[id(proj.post)], _nonzero(sp.csr_array(proj.W).T))
    return [index[id(g)] for g in net.groups]


def _lsm(w, m):
    liquid = _network(w, m.network)
    if m.readout is not None:
        w.link(liquid, w.add("readout", m.readout.shape[1], "output"))


def _markov(w, m):
    g = w.add("states", m.n_states, "probabilistic hidden")
    w.link(g, g, _nonzero(m.P))


def _continuous_markov(w, m):
    g = w.add("states", m.n_states, "probabilistic hidden")
    Q = m.Q.toarray() if sp.issparse(m.Q) else np.array(m.Q, dtype=float)
    np.fill_diagonal(Q, 0.0)
    w.link(g, g, Q != 0)


def _som(w, m):
    u = w.add("input", m.dim, "input")
    w.link(u, w.add(f"{m.rows} x {m.cols} map", m.n_units, "hidden"))


def _perceptron(w, m):
    n = getattr(m, "n_features_in_", None) or m.n_inputs
    u = w.add("input", _need(n, "number of inputs (give n_inputs or fit)", m), "input")
    w.link(u, w.add("unit", 1, "output"))


def _rbf_network(w, m):
    centers = _need(m.centers_, "centres", m)
    u = w.add("input", centers.shape[1], "input")
    h = w.add("Gaussian units", centers.shape[0], "hidden")
    w.link(u, h)
    w.link(h, w.add("readout", m.weights_.shape[1], "output"))


# -- the gradient-trained families: nn models layer by layer ----------------------------------
_RECURRENT = {"SimpleRNN": "recurrent", "LSTM": "memory", "GRU": "different memory"}
_PASS = {"Flatten", "Reshape", "Dropout", "BatchNorm", "LayerNorm", "Activation", "PositionalEncoding",
         "SequencePooling"}


def _size(shape):
    return int(np.prod(shape)) if shape else 1


class Blocks:
    """A link pattern of equal blocks: source cell ``i`` reaches target cell ``j`` when
    ``i // rows == j // cols`` (kernel ``c`` and the cells of channel ``c``; a map's cells and
    the pooled cells of the same channel), without building the matrix."""

    def __init__(self, rows, cols, shape):
        self.rows, self.cols, self.shape = int(rows), int(cols), tuple(shape)

    def __getitem__(self, ij):
        return int(ij[0] // self.rows == ij[1] // self.cols)


def _channels(kernels, shape):
    """Kernel ``c`` of ``kernels`` reaches the cells of channel ``c`` of a (C, H, W) map."""
    per = _size(shape[1:])
    return Blocks(1, per, (kernels, _size(shape)))


def _names(layer):
    return {c.__name__ for c in type(layer).__mro__}


def _feature_map(w, frontier, kernels, shape, what):
    """A kernel group and the (C, H, W) map it makes."""
    k = w.add(f"{what} kernels", kernels, "kernel")
    w.link(frontier, k)
    c = w.add(f"{what} map {'x'.join(map(str, shape))}", _size(shape), "convolution or pool")
    w.link(k, c, _channels(kernels, shape))
    return [c]


def _walk(w, layer, frontier, nxt=None):
    """Add the groups of ``layer`` after the groups ``frontier``; returns the new frontier.
    ``nxt``: the layer that follows (a Dense before a Reshape to a map is a feature map)."""
    names = _names(layer)
    kind = type(layer).__name__
    if kind in _PASS:
        return frontier
    if kind == "Residual":
        after = _walk(w, layer.body, frontier)
        w.link(frontier, after[0], "full" if layer.shortcut is not None else
               sp.eye_array(w.groups[frontier[0]].size, w.groups[after[0]].size, format="csr"), skip=True)
        return after
    if kind == "Dense":
        out = layer.output_shape
        if nxt is not None and type(nxt).__name__ == "Reshape" and len(nxt.output_shape) == 3:
            return _feature_map(w, frontier, nxt.output_shape[0], nxt.output_shape, "dense")
        g = w.add(f"dense {out[-1]}", out[-1], "hidden")
        w.link(frontier, g)
        return [g]
    if kind in ("Conv2D", "ConvTranspose2D", "PrimaryCapsules"):
        out = layer.output_shape
        if kind == "PrimaryCapsules":
            k = w.add("capsule kernels", layer.capsules * layer.dim, "kernel")
            w.link(frontier, k)
            c = w.add("primary capsules", out[0], "capsule")
            w.link(k, c, Blocks(layer.dim, _size(layer.grid), (layer.capsules * layer.dim, out[0])))
            return [c]
        return _feature_map(w, frontier, out[0], out, "conv" if kind == "Conv2D" else "deconv")
    if kind in ("MaxPool2D", "AvgPool2D", "Upsample"):
        out = layer.output_shape
        g = w.add(f"{kind.replace('2D', '').lower()} {'x'.join(map(str, out))}", _size(out),
                  "convolution or pool")
        w.link(frontier, g, Blocks(_size(layer.input_shape[1:]), _size(out[1:]),
                                   (_size(layer.input_shape), _size(out))))
        return [g]
    if kind in _RECURRENT or "Recurrent" in names:
        g = w.add(kind, layer.units, _RECURRENT.get(kind, "recurrent"))
        w.link(frontier, g)
        w.link(g, g)
        return [g]
    if kind == "Bidirectional":
        inner, column = layer.layers[0], None
        out = []
        for direction in ("forward", "backward"):
            g = w.add(f"{direction} {type(inner).__name__}", inner.units,
                      _RECURRENT.get(type(inner).__name__, "recurrent"), column)
            column = w.groups[g].column
            w.link(frontier, g)
            w.link(g, g)
            out.append(g)
        return out
    if kind == "TransformerEncoderBlock":
        d = layer.input_shape[-1]
        a = w.add(f"attention ({layer.attention.heads} heads)", d, "hidden")
        w.link(frontier, a)
        f = w.add("feed-forward", layer.ff_units, "hidden")
        w.link(a, f)
        o = w.add("block output", d, "hidden")
        w.link(f, o)
        w.link(frontier, o, sp.eye_array(w.groups[frontier[0]].size, d, format="csr")
               if w.groups[frontier[0]].size == d else "full", skip=True)
        return [o]
    if kind == "MultiHeadAttention":
        g = w.add(f"attention ({layer.heads} heads)", layer.output_shape[-1], "hidden")
        w.link(frontier, g)
        return [g]
    if kind == "GaussianCode":
        g = w.add("code", layer.latent, "probabilistic hidden")
        w.link(frontier, g)
        return [g]
    if kind == "CapsuleLayer":
        g = w.add("class capsules", layer.capsules, "capsule")
        w.link(frontier, g)
        return [g]
    if layer.layers:            # Sequential, TimeDistributed, an autoencoder: its parts in order
        subs = layer.layers
        for k, sub in enumerate(subs):
            frontier = _walk(w, sub, frontier, subs[k + 1] if k + 1 < len(subs) else None)
        return frontier
    raise ValueError(f"no node-map reading of the layer {layer!r} (a {kind})")


def _input(w, model, cell="input"):
    shape = _need(model.input_shape, "input shape (build it first)", model)
    if len(shape) == 2 and _is_sequence(model):
        name, size = f"input ({shape[0]} steps)", shape[1]     # (time, features): cells per step
    else:
        name, size = "input", _size(shape)
    return [w.add(name, size, cell)]


def _stack(w, model, *, cell="input", last="output", frontier=None):
    """A built nn model walked from a new input group (or ``frontier``); the last group
    becomes ``last``."""
    frontier = _input(w, model, cell) if frontier is None else frontier
    out = _walk(w, model, frontier)
    for g in out:
        w.relabel(g, last)
    return out


def _is_sequence(model):
    first = model
    while getattr(first, "layers", None) and "Sequential" in _names(first):
        first = first.layers[0]
    return "SequenceLayer" in _names(first) or type(first).__name__ in ("TimeDistributed", "Bidirectional")


def _nn(w, m):
    _stack(w, m)


def _autoencoder(w, m):
    noisy = "DenoisingAutoencoder" in _names(m)
    _stack(w, m, cell="noisy input" if noisy else "input", last="match input output")


def _gan(w, m):
    sample = _stack(w, m.generator, last="match input output")
    _stack(w, m.discriminator, frontier=sample)


def _capsnet(w, m):
    # the classifying path (the reconstruction decoder is a training aid, left out as on the poster)
    caps = _walk(w, m.encoder, _input(w, m.encoder))
    w.link(caps, w.add("class lengths", m.encoder.output_shape[0], "output"),
           sp.eye_array(m.encoder.output_shape[0], format="csr"))


def _memory_machine(w, m):
    shape = _need(m.input_shape, "input shape (build it first)", m)
    u = w.add(f"input ({shape[0]} steps)", shape[1], "input")
    c = w.add("controller", m.controller, "hidden" if m.cell == "feedforward" else "memory")
    w.link(u, c)
    if m.cell != "feedforward":
        w.link(c, c)
    mem = w.add(f"memory {m.locations} x {m.width}", m.locations, "memory")
    w.link(c, mem)          # the heads write and read
    w.link(mem, c)
    y = w.add("output", m.outputs, "output")
    w.link([c, mem], y)


_READERS = {"HopfieldNetwork": _hopfield, "BoltzmannMachine": _boltzmann, "RBM": _rbm, "DBN": _dbn,
            "ESN": _esn, "ELM": _elm, "LiquidStateMachine": _lsm, "Network": _network,
            "MarkovChain": _markov, "ContinuousMarkovChain": _continuous_markov, "SOM": _som,
            "Perceptron": _perceptron, "RBFNetwork": _rbf_network, "Autoencoder": _autoencoder,
            "GAN": _gan, "CapsNet": _capsnet, "MemoryMachine": _memory_machine, "Layer": _nn}


def wiring(model):
    """The :class:`Wiring` of a built ``model`` of any implemented family (a ``TypeError`` for
    anything else, a ``ValueError`` for a model not built far enough to have its sizes)."""
    for cls in type(model).__mro__:
        reader = _READERS.get(cls.__name__)
        if reader is not None and cls.__module__.startswith("neurosim."):
            family = getattr(model, "family", None) or ("LSM" if cls.__name__ == "Network" else "")
            name = type(model).__name__
            w = Wiring(name if family in ("", name) else f"{family} ({name})")
            reader(w, model)
            return w
    raise TypeError(f"model must be a model of a zoo family (a neurosim class such as ESN, RBM or an nn "
                    f"Sequential); got {type(model).__name__}")


# -- a small model of each family, for the poster -----------------------------------------------
def _tiny(abbrev):
    """The builders of :func:`tiny_model`, by family (imports on call)."""
    g = np.random.default_rng(0)
    X, labels = g.random((24, 3)), np.arange(24) % 3

    def seq(cell, **kw):
        from .deep.rnn import recurrent_network
        return recurrent_network(cell, 5, input_shape=(6, 3), outputs=2, seed=0, **kw)

    def mod(name):
        import importlib
        return importlib.import_module(f"neurosim.{name}")

    def deep(name):
        return mod(f"deep.{name}")

    def lsm():
        from .spiking.lsm import LiquidStateMachine
        m = LiquidStateMachine(3, (3, 3, 2), seed=0)
        samples = [(np.array([0.001, 0.004]), np.array([k % 3, (k + 1) % 3])) for k in range(4)]
        return m.fit(samples, [0, 1, 0, 1], duration=0.01)

    def markov():
        from .markov import MarkovChain
        return MarkovChain([[0.5, 0.5, 0, 0], [0, 0.5, 0.5, 0], [0, 0, 0.5, 0.5], [0.5, 0, 0, 0.5]], seed=0)

    def hopfield():
        from .energy.hopfield import HopfieldNetwork
        return HopfieldNetwork(8).store(np.where(g.random((2, 8)) < 0.5, -1, 1))

    builders = {
        "P": lambda: deep("perceptron").Perceptron(3),
        "FF": lambda: deep("mlp").mlp([4, 6, 5, 3], seed=0),
        "RBF": lambda: deep("rbf").RBFNetwork(5, seed=0).fit(X, labels),
        "RNN": lambda: seq("rnn"), "LSTM": lambda: seq("lstm"), "GRU": lambda: seq("gru"),
        "BiRNN": lambda: seq("rnn", bidirectional=True),
        "AE": lambda: deep("autoencoder").Autoencoder((8, 4, 8), seed=0),
        "VAE": lambda: deep("autoencoder").VariationalAutoencoder((8, 3, 8), seed=0),
        "DAE": lambda: deep("autoencoder").DenoisingAutoencoder((8, 4, 8), seed=0),
        "SAE": lambda: deep("autoencoder").SparseAutoencoder((8, 12, 8), seed=0),
        "MC": markov, "HN": hopfield,
        "BM": lambda: mod("energy.boltzmann").BoltzmannMachine(4, 3, seed=0),
        "RBM": lambda: mod("energy.rbm").RBM(6, 4, seed=0),
        "DBN": lambda: mod("energy.dbn").DBN([6, 5, 4], seed=0),
        "CNN": lambda: deep("cnn").lenet((1, 8, 8), 3, channels=(4,), dense=(6,), seed=0),
        "DN": lambda: deep("deconv").deconvolutional(3, (1, 8, 8), code=(4, 2, 2), seed=0),
        "DCIGN": lambda: deep("dcign").DCIGN((1, 8, 8), 3, channels=(4,), code=(4, 2, 2), seed=0),
        "GAN": lambda: deep("gan").dense_gan(8, 3, (6,), seed=0),
        "LSM": lsm,
        "ELM": lambda: mod("reservoir.elm").ELM(6, seed=0).fit(X, labels),
        "ESN": lambda: mod("reservoir.esn").ESN(
            12, n_inputs=2, connectivity=0.4, input_connectivity=0.5, seed=0),
        "DRN": lambda: deep("residual").residual_network(2, 6, input_dim=5, classes=3, seed=0),
        "NTM": lambda: _built(deep("ntm").NTM(3, locations=6, width=4, controller=8), (5, 4)),
        "DNC": lambda: _built(deep("dnc").DNC(3, locations=6, width=4, controller=8, cell="feedforward"),
                              (5, 4)),
        "CapsNet": lambda: deep("capsnet").capsnet((1, 8, 8), 3, channels=4, primary_capsules=2,
                                                  primary_dim=2, dim=3, decoder=(8,), seed=0),
        "KN": lambda: mod("som").SOM(3, 4, 3, seed=0),
        "AN": lambda: deep("transformer").transformer_encoder(8, 2, input_shape=(5, 3), outputs=2,
                                                             ff_units=6, seed=0),
    }
    return builders.get(abbrev)


def _built(layer, input_shape):
    layer.build(input_shape)
    return layer


def tiny_model(abbrev):
    """A small built model of the family ``abbrev`` (its node map fits a poster's cell); a
    ``ValueError`` for a family neurosim does not implement."""
    family = zoo.get(abbrev)
    if family.implementation is None:
        raise ValueError(f"{family.abbrev} ({family.name}) is not implemented in neurosim yet: no model "
                         "to draw")
    build = _tiny(family.abbrev)
    if build is None:
        raise ValueError(f"no small model of {family.abbrev} is defined for node maps")
    return build()
