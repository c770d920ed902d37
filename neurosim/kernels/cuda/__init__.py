"""CUDA twins of the CPU kernels: same module names, kernel names and arguments.

Importing a module here needs ``numba.cuda`` (the ``numba-cuda`` package); the kernels run on a
GPU or, for tests on small sizes, in Numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``).
"""
