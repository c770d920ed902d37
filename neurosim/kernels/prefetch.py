"""Software prefetch for the spiking kernel's synaptic delivery.

A step's spikers are a few random rows of the outgoing-synapse tables (``out_code``,
``out_w``, ``out_d``: 12-20 bytes a synapse, tens of MB in a large network), so each row
starts with cache misses that the hardware prefetcher cannot foresee; the adds into the
synaptic variables (which stay in L2) then wait on them. :func:`prefetch_rows` asks for every
cache line of the step's rows at once, before the adds: the misses overlap instead of coming
one row after another (COBA at N = 32000: delivery about 1.4 -> 0.7 ns a neuron-step). A
prefetch is a hint: it changes no result.
"""
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

LINE = 64   # bytes in a cache line


@intrinsic
def prefetch(typingctx, arr, i):
    """Hint the CPU to bring the cache line of ``arr[i]`` into L1 for reading (LLVM's
    ``llvm.prefetch``: no fault, no effect on results; ``i`` is not bounds-checked)."""
    if not isinstance(arr, types.Array) or not isinstance(i, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        aty = signature.args[0]
        ary = context.make_array(aty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, aty, ary, [args[1]], wraparound=False)
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]),
            "llvm.prefetch.p0")
        # read, keep in every cache level, data
        builder.call(fn, [builder.bitcast(ptr, i8p), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()
    return types.none(arr, i), codegen


@njit(cache=True)
def prefetch_span(arr, q0, q1):
    """Prefetch the cache lines of ``arr[q0:q1]`` (a contiguous 1-D array)."""
    step = max(1, LINE // arr.itemsize)
    for q in range(q0, q1, step):
        prefetch(arr, q)


@njit(cache=True)
def prefetch_rows(fired, n_fired, out_ptr, out_code, out_w):
    """Prefetch the outgoing-synapse rows (``out_code``, ``out_w``) of ``fired[:n_fired]``."""
    for a in range(n_fired):
        j = fired[a]
        prefetch_span(out_code, out_ptr[j], out_ptr[j + 1])
        prefetch_span(out_w, out_ptr[j], out_ptr[j + 1])
