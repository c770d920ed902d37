"""Deprecated alias of :mod:`neurosim.deep.transformer` (the module moved there)."""
from neurosim.deep._moved import alias

alias(__name__)
