"""Vector width of the compiled neuron passes.

LLVM keeps loops on CPUs with AVX-512 (Skylake-X and later) to 256-bit vectors unless told
otherwise ("prefer-vector-width"), for fear of the clock drop that 512-bit instructions cost on
early parts. The neuron updates are long runs of arithmetic on independent neurons (the
exponential is most of it) that gain 20-30% from 512-bit vectors on this project's benchmark
machine (Rocket Lake; the same bits: the lanes do the same operations). :func:`wide_vectors`,
called at the top of a ``@njit`` function, asks LLVM for 512-bit vectors in that function's
loops; on a CPU without AVX-512 it changes nothing.
"""
from numba import types
from numba.extending import intrinsic

ATTRIBUTE = '"prefer-vector-width"="512"'


@intrinsic
def wide_vectors(typingctx):
    """Mark the calling compiled function's loops for 512-bit vectors (no effect on results,
    and none on CPUs without AVX-512). Call it as a statement: ``wide_vectors()``."""
    def codegen(context, builder, signature, args):
        # llvmlite's attribute set admits only attributes without values: add the
        # key-value attribute to the underlying set, which prints it as written
        set.add(builder.function.attributes, ATTRIBUTE)
        return context.get_dummy_value()
    return types.none(), codegen
