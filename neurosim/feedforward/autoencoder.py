"""Deprecated alias of :mod:`neurosim.deep.autoencoder` (the module moved there)."""
from neurosim.deep._moved import alias

alias(__name__)
