"""Subnormal floats flushed to zero inside a compiled kernel (x86's MXCSR FTZ and DAZ bits).

Backpropagation through a long sequence multiplies gradients by gates below one at every step:
after 100-150 steps of an LSTM they fall under float32's smallest normal number (1.2e-38), and
every multiply-add that meets such a subnormal takes a microcode assist of about a hundred
cycles. An LSTM training step at hidden 128, batch 64, 200 steps ran 5-7x slower for it (0.50 s
against 0.07-0.10 s flushed, same machine and load; PyTorch's own step likewise, 1.4-1.7 s
against 0.14-0.42 s with ``torch.set_flush_denormal(True)``, which it leaves off).
:func:`flush_subnormals`, called at the top of a ``@njit`` kernel, sets the calling thread's
FTZ (results below the normal range become 0) and DAZ (such inputs read as 0) bits and returns
the previous control word, which :func:`restore` sets back before the kernel returns, so that
NumPy and the rest of the process keep IEEE subnormals. :func:`call_flushed` does the same
around a Python call, for the BLAS products of a backward pass, with BLAS limited to the
calling thread for the call: the control word is per thread, and BLAS's worker threads keep
subnormals (a (256, 20000) x (20000, 1024) float32 product of gradients decayed to 1e-36 took
0.08 s flushed on one thread, 2.2 s on two workers; an LSTM step at hidden 128, batch 64, 200
steps on 2 threads 550 ms, 214 ms with BLAS on the calling thread). The price: those products
lose BLAS's threads. A parallel kernel passes its caller's setting to its threads with
:func:`control_word` and :func:`restore`. The values changed are below 1.2e-38 (float32) or 2.2e-308 (float64), far
under the rounding of the sums they enter. On other CPUs all of this does nothing.
"""
import platform

from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

X86 = platform.machine().lower() in ("x86_64", "amd64", "i386", "i686")
FTZ_DAZ = 0x8040     # MXCSR bit 15 flush-to-zero, bit 6 denormals-are-zero


def _mxcsr(builder, name, slot):
    """Call ``llvm.x86.sse.stmxcsr`` / ``ldmxcsr`` on the 32-bit ``slot``."""
    i8p = ir.IntType(8).as_pointer()
    fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), [i8p]),
                                        name)
    builder.call(fn, [builder.bitcast(slot, i8p)])


def _read(builder):
    """The thread's MXCSR as a 32-bit value."""
    slot = cgutils.alloca_once(builder, ir.IntType(32))
    _mxcsr(builder, "llvm.x86.sse.stmxcsr", slot)
    return builder.load(slot)


def _write(builder, value):
    """Set the thread's MXCSR to the 32-bit ``value``."""
    slot = cgutils.alloca_once(builder, ir.IntType(32))
    builder.store(value, slot)
    _mxcsr(builder, "llvm.x86.sse.ldmxcsr", slot)


@intrinsic
def flush_subnormals(typingctx):
    """Set FTZ and DAZ for the calling thread; returns the previous MXCSR (0 off x86) for
    :func:`restore`."""
    def codegen(context, builder, signature, args):
        if not X86:
            return ir.IntType(32)(0)
        old = _read(builder)
        _write(builder, builder.or_(old, ir.IntType(32)(FTZ_DAZ)))
        return old
    return types.uint32(), codegen


@intrinsic
def control_word(typingctx):
    """The calling thread's MXCSR (0 off x86): a parallel kernel reads it before its loop and
    sets it with :func:`restore` in each thread, so that its threads flush as its caller does."""
    def codegen(context, builder, signature, args):
        return _read(builder) if X86 else ir.IntType(32)(0)
    return types.uint32(), codegen


@intrinsic
def restore(typingctx, word):
    """Set MXCSR to ``word`` (from :func:`flush_subnormals` or :func:`control_word`; nothing
    off x86)."""
    if not isinstance(word, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        if X86:
            _write(builder, context.cast(builder, args[0], signature.args[0], types.uint32))
        return context.get_dummy_value()
    return types.void(word), codegen


@njit(cache=True)
def _flush():
    return flush_subnormals()


@njit(cache=True)
def _restore(word):
    restore(word)


_controller = []     # threadpoolctl's view of the loaded BLAS libraries, made at first use


def _blas_threaded():
    """Whether a loaded BLAS library runs on more than one thread (threadpoolctl's controller
    made once; ~0.6 us a library a call)."""
    if not _controller:
        from threadpoolctl import ThreadpoolController
        _controller.append(ThreadpoolController())
    return any(lib.user_api == "blas" and lib.get_num_threads() > 1
               for lib in _controller[0].lib_controllers)


def call_flushed(function, *args, one_blas_thread=True):
    """``function(*args)`` with subnormals flushed to zero on the calling thread (compiled
    kernels, NumPy and BLAS calls in it), the previous state restored after, also on an error.

    ``one_blas_thread``: where BLAS has threads, it runs on the calling thread only for the
    call, so that its products are flushed too (~7 us a call, against ``threadpoolctl``'s 0.4
    ms; its worker threads would keep subnormals: an MLP that fits its data took 28-32 ms a
    step with 2 BLAS threads against 20 on one); without it BLAS keeps its threads (0.2 us)."""
    if not (one_blas_thread and _blas_threaded()):
        return _flushed(function, args)
    with _controller[0].limit(limits=1, user_api="blas"):
        return _flushed(function, args)


def _flushed(function, args):
    word = _flush()
    try:
        return function(*args)
    finally:
        _restore(word)
