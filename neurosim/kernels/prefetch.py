"""Software prefetch: hints that bring an array element's cache line closer before it is read.

A prefetch neither faults nor waits for the data, so an out-of-range index is harmless and the
instructions after it retire at once (unlike a load whose value is thrown away); it changes no
result. Users: the Markov chain's look-ahead (:mod:`neurosim.kernels.markov`), Hopfield's
pattern columns (:mod:`neurosim.kernels.hopfield`), and the spiking kernel's synaptic delivery:
a step's spikers are a few random rows of the outgoing-synapse tables (``out_code``,
``out_w``, ``out_d``: 12-20 bytes a synapse, tens of MB in a large network), so each row starts
with cache misses that the hardware prefetcher cannot foresee; the adds into the synaptic
variables (which stay in L2) then wait on them. :func:`prefetch_rows` asks for every cache
line of the step's rows at once, before the adds: the misses overlap instead of coming one row
after another (COBA at N = 32000: delivery about 1.4 -> 0.6 ns a neuron-step).
"""
import llvmlite.binding as _llvm
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

LINE = 64   # bytes in a cache line
# llvm.prefetch is overloaded on the pointer type: "p0" with opaque pointers (LLVM >= 15)
_PREFETCH = "llvm.prefetch.p0" if _llvm.llvm_version_info[0] >= 15 else "llvm.prefetch.p0i8"


def _codegen(context, builder, signature, args):
    """Prefetch the element of the array ``args[0]`` at the indices ``args[1:]`` (read, keep in
    every cache level, data)."""
    aty = signature.args[0]
    ary = context.make_array(aty)(context, builder, args[0])
    inds = [context.cast(builder, a, t, types.intp) for a, t in zip(args[1:], signature.args[1:])]
    ptr = cgutils.get_item_pointer2(context, builder, data=ary.data,
                                    shape=cgutils.unpack_tuple(builder, ary.shape),
                                    strides=cgutils.unpack_tuple(builder, ary.strides),
                                    layout=aty.layout, inds=inds, wraparound=False,
                                    boundscheck=False)
    i8p = ir.IntType(8).as_pointer()
    i32 = ir.IntType(32)
    fn = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]), _PREFETCH)
    builder.call(fn, [builder.bitcast(ptr, i8p), i32(0), i32(3), i32(1)])
    return context.get_dummy_value()


@intrinsic
def prefetch(typingctx, arr, i):
    """Hint the CPU to bring the cache line of ``arr[i]`` (a 1-D array) into cache (``i`` is not
    bounds-checked)."""
    if not (isinstance(arr, types.Array) and arr.ndim == 1 and isinstance(i, types.Integer)):
        return None
    return types.none(arr, i), _codegen


@intrinsic
def prefetch2(typingctx, arr, i, j):
    """Hint the CPU to bring ``arr[i, j]`` of a 2-D array into cache (not bounds-checked)."""
    if not (isinstance(arr, types.Array) and arr.ndim == 2 and isinstance(i, types.Integer)
            and isinstance(j, types.Integer)):
        return None
    return types.none(arr, i, j), _codegen


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
