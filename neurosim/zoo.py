"""The Neural Network Zoo (Van Veen, 2016) as a registry: every family, its cells, and the
neurosim class that implements it, or plainly "not yet"; and the node maps of built models.

>>> from neurosim import zoo
>>> print(zoo.table())          # the README's family table
>>> zoo.get("HN").load()        # the class itself
>>> zoo.wiring(zoo.tiny_model("ESN"))   # the groups of cells and their links, read from the model

:func:`wiring` reads a built model's layers and connections (:mod:`neurosim.zoomaps` does it
family by family) into a :class:`Wiring` of groups of cells, each of one kind of the poster's
"cells and layers" catalogue (:data:`CELLS`); :func:`neurosim.viz.node_map` draws it.
"""
import importlib
from dataclasses import dataclass

CELLS = ("input", "backfed input", "noisy input", "hidden", "probabilistic hidden", "spiking hidden",
         "recurrent", "memory", "different memory", "kernel", "convolution or pool", "output",
         "match input output", "capsule")
"""The poster's "cells and layers" catalogue, in the poster's order: the kinds a node map draws."""

_KIND_OF = {"hidden (RBF)": ("hidden",), "gated memory": ("different memory",),
            "recurrent or memory": ("recurrent", "memory")}
"""Registry cell names that are not catalogue kinds: the kinds they stand for."""


@dataclass(frozen=True)
class Family:
    """One family of the zoo: ``abbrev`` as on the poster, full ``name``, its ``cells``, the
    ``group`` it belongs to in neurosim, and ``implementation`` as ``"module:Class"`` (None when
    it is not built yet). ``model_cells``: the catalogue kinds of neurosim's model where they
    differ from the poster's ``cells`` (its node map draws these). ``also``: further
    implementations of the family, as ``"module:name"`` (the attention class, for one, holds
    the Transformer, encoder-decoder attention and spatial transformers)."""

    abbrev: str
    name: str
    cells: tuple
    group: str
    implementation: str | None = None
    model_cells: tuple | None = None
    also: tuple = ()

    @property
    def kinds(self):
        """The catalogue kinds (:data:`CELLS`) a node map of this family's model draws, in
        catalogue order: ``model_cells``, else the poster's ``cells``."""
        named = self.model_cells or self.cells
        kinds = {k for c in named for k in _KIND_OF.get(c, (c,))}
        return tuple(c for c in CELLS if c in kinds)

    def load(self):
        """The implementing class; ``NotImplementedError`` when the family is not built yet."""
        if self.implementation is None:
            raise NotImplementedError(f"{self.abbrev} ({self.name}) is not implemented in neurosim yet")
        module, cls = self.implementation.split(":")
        return getattr(importlib.import_module(module), cls)

    @property
    def implementations(self):
        """Every implementation, ``implementation`` first then ``also``, as ``"module:name"``."""
        return (() if self.implementation is None else (self.implementation,)) + self.also

    def load_all(self):
        """The implementing classes or builders of :attr:`implementations`, in order."""
        out = []
        for entry in self.implementations:
            module, name = entry.split(":")
            out.append(getattr(importlib.import_module(module), name))
        return out

    @property
    def status(self):
        """``"ready"`` when implemented, otherwise ``"not yet"``."""
        return "not yet" if self.implementation is None else "ready"


_IN, _OUT, _HID = "input", "output", "hidden"
_FAMILIES = (
    Family("P", "Perceptron", (_IN, _OUT), "deep", "neurosim.deep.perceptron:Perceptron"),
    Family("FF", "Feed-forward network", (_IN, _HID, _OUT), "deep", "neurosim.deep.mlp:mlp"),
    Family("RBF", "Radial basis function network", (_IN, "hidden (RBF)", _OUT), "deep",
           "neurosim.deep.rbf:RBFNetwork"),
    Family("RNN", "Recurrent neural network", (_IN, "recurrent", _OUT), "deep",
           "neurosim.deep.rnn:SimpleRNN"),
    Family("LSTM", "Long short-term memory", (_IN, "memory", _OUT), "deep",
           "neurosim.deep.rnn:LSTM"),
    Family("GRU", "Gated recurrent unit", (_IN, "gated memory", _OUT), "deep",
           "neurosim.deep.rnn:GRU"),
    # drawn from a bidirectional RNN (a BiLSTM's or BiGRU's map has memory cells instead)
    Family("BiRNN", "Bidirectional RNN / LSTM / GRU", (_IN, "recurrent or memory", _OUT), "deep",
           "neurosim.deep.rnn:Bidirectional", model_cells=(_IN, "recurrent", _OUT)),
    Family("AE", "Autoencoder", (_IN, _HID, "match input output"), "deep",
           "neurosim.deep.autoencoder:Autoencoder"),
    Family("VAE", "Variational autoencoder", (_IN, "probabilistic hidden", "match input output"), "deep",
           "neurosim.deep.autoencoder:VariationalAutoencoder"),
    Family("DAE", "Denoising autoencoder", ("noisy input", _HID, "match input output"), "deep",
           "neurosim.deep.autoencoder:DenoisingAutoencoder"),
    Family("SAE", "Sparse autoencoder", (_IN, _HID, "match input output"), "deep",
           "neurosim.deep.autoencoder:SparseAutoencoder"),
    Family("MC", "Markov chain", ("probabilistic hidden",), "markov",
           "neurosim.markov:MarkovChain"),
    Family("HN", "Hopfield network", ("backfed input",), "energy",
           "neurosim.energy.hopfield:HopfieldNetwork"),
    Family("BM", "Boltzmann machine", ("backfed input", "probabilistic hidden"), "energy",
           "neurosim.energy.boltzmann:BoltzmannMachine"),
    Family("RBM", "Restricted Boltzmann machine", ("backfed input", "probabilistic hidden"), "energy",
           "neurosim.energy.rbm:RBM"),
    Family("DBN", "Deep belief network", ("backfed input", "probabilistic hidden", "match input output"), "energy",
           "neurosim.energy.dbn:DBN"),
    Family("CNN", "Convolutional network", (_IN, "kernel", "convolution or pool", _HID, _OUT), "deep",
           "neurosim.deep.cnn:lenet"),
    Family("DN", "Deconvolutional network", (_IN, "kernel", "convolution or pool", _OUT), "deep",
           "neurosim.deep.deconv:deconvolutional"),
    # the DCIGN is trained to give back its input (a convolutional VAE)
    Family("DCIGN", "Deep convolutional inverse graphics network",
           (_IN, "kernel", "convolution or pool", "probabilistic hidden", _OUT), "deep",
           "neurosim.deep.dcign:DCIGN",
           model_cells=(_IN, "kernel", "convolution or pool", "probabilistic hidden",
                        "match input output")),
    # the generator's noise, its sample (shaped as the data) and the discriminator's verdict
    Family("GAN", "Generative adversarial network", ("backfed input", _HID, "match input output"), "deep",
           "neurosim.deep.gan:GAN", model_cells=(_IN, _HID, "match input output", _OUT)),
    Family("LSM", "Liquid state machine", (_IN, "spiking hidden", _OUT), "spiking",
           "neurosim.spiking.lsm:LiquidStateMachine"),
    Family("ELM", "Extreme learning machine", (_IN, _HID, _OUT), "reservoir",
           "neurosim.reservoir.elm:ELM"),
    Family("ESN", "Echo state network", (_IN, "recurrent", _OUT), "reservoir",
           "neurosim.reservoir.esn:ESN"),
    Family("DRN", "Deep residual network", (_IN, _HID, _OUT), "deep",
           "neurosim.deep.residual:residual_network"),
    Family("NTM", "Neural Turing machine", (_IN, _HID, "memory", _OUT), "deep",
           "neurosim.deep.ntm:NTM"),
    Family("DNC", "Differentiable neural computer", (_IN, _HID, "memory", _OUT), "deep",
           "neurosim.deep.dnc:DNC"),
    Family("CapsNet", "Capsule network", (_IN, "kernel", "convolution or pool", "capsule", _OUT), "deep",
           "neurosim.deep.capsnet:capsnet"),
    Family("KN", "Kohonen network (self-organising map)", (_IN, _HID), "som", "neurosim.som:SOM"),
    # a Transformer encoder attends over the steps instead of recurring; the class also holds
    # encoder-decoder RNNs with additive or multiplicative attention and spatial transformers
    Family("AN", "Attention network", (_IN, _HID, "recurrent", _OUT), "deep",
           "neurosim.deep.transformer:transformer_encoder", model_cells=(_IN, _HID, _OUT),
           also=("neurosim.deep.seq2seq:Seq2Seq", "neurosim.deep.stn:SpatialTransformer")),
)
_BY_ABBREV = {f.abbrev.lower(): f for f in _FAMILIES}


def families():
    """Every family of the zoo, in poster order."""
    return _FAMILIES


def get(abbrev):
    """The :class:`Family` for an abbreviation (case-insensitive), e.g. ``get("hn")``."""
    try:
        return _BY_ABBREV[str(abbrev).lower()]
    except KeyError:
        known = ", ".join(f.abbrev for f in _FAMILIES)
        raise ValueError(f"unknown family {abbrev!r}; the zoo has: {known}") from None


def table():
    """The family table as Markdown (abbreviation, name, cells, status and class)."""
    rows = ["| | family | cells | neurosim |", "|---|---|---|---|"]
    for f in _FAMILIES:
        where = f"`{f.implementation.replace(':', '.')}`" if f.implementation else "not yet"
        rows.append(f"| {f.abbrev} | {f.name} | {', '.join(f.cells)} | {where} |")
    return "\n".join(rows)


def wiring(model):
    """The node map data of a built ``model`` (see :func:`neurosim.zoomaps.wiring`)."""
    from . import zoomaps

    return zoomaps.wiring(model)


def tiny_model(abbrev):
    """A small built model of family ``abbrev``, for node maps (see
    :func:`neurosim.zoomaps.tiny_model`)."""
    from . import zoomaps

    return zoomaps.tiny_model(abbrev)
