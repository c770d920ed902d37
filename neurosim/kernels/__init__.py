"""Compiled kernels: ``@njit`` functions over arrays (and their CUDA twins in ``kernels.cuda``).

Nothing here validates its input or knows about classes; the families one layer up do that.
"""
