"""An exponential that vectorises: ``exp(x)`` in plain arithmetic, for the neuron updates.

``math.exp`` is a libm call, which stops LLVM from vectorising a loop (no vector math library
comes with Numba here: SVML is absent), and one exponential per neuron and step is most of the
time of a conductance-based network. :func:`exp` reduces ``x = k ln 2 + r`` (``|r| <= ln 2 /
2``, ``k`` the nearest integer to ``x log2(e)``, found by adding and subtracting ``1.5 * 2**52``
so that no float-to-integer conversion is needed: ``k`` is then in the low bits of the sum;
``ln 2`` split in two as fdlibm does, so ``k ln2_hi`` is exact), sums the Taylor series of
``exp(r)`` to degree 13 (truncation below 5e-18) by Estrin's scheme (pairs, then powers r^2,
r^4, r^8: a third of Horner's chain of dependent operations, 30% faster in the neuron loops)
and scales by ``2**k`` built from its bits; the reduction and the series are fused
multiply-adds :func:`fma` (15 operations for the series instead of 27: 1.6x faster, COBAHH
1.2x). Within 2 ulp of glibc's ``exp`` (tested), arguments clamped to [-708, 709] (no
overflow, no subnormal results). Numba compiles without contraction, so a multiply-add is fused
only where :func:`fma` asks for it (``llvm.fma``: one instruction on CPUs with FMA, x86 since
2013; elsewhere LLVM calls libm's exact ``fma``: the same bits, slower); the CUDA twin
(:func:`neurosim.kernels.cuda.neurons._exp`) calls CUDA's ``fma`` in the same places and writes
its other products with ``dmul_rn`` (never fused), so both give the same bits.
"""
import math

from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

LOG2E = 1.4426950408889634
LN2_HI = 6.93147180369123816490e-01     # fdlibm's ln2_hi: 32 bits of mantissa, k * LN2_HI exact
LN2_LO = 1.90821492927058770002e-10
#: Taylor coefficients 1 / k!, k = 0 .. 13
COEF = tuple(1.0 / math.factorial(k) for k in range(14))
LOW, HIGH = -708.0, 709.0
SHIFT = 6755399441055744.0                  # 1.5 * 2**52: x + SHIFT - SHIFT rounds x to an integer
SHIFT_BITS = 0x4338000000000000             # the bits of SHIFT: bits(t) - SHIFT_BITS = k
(C0, C1, C2, C3, C4, C5, C6, C7, C8, C9, C10, C11, C12, C13) = COEF


@intrinsic
def _as_double(typingctx, bits):
    """The float64 whose bits are the int64 ``bits`` (an LLVM bitcast: vectorises)."""
    if not isinstance(bits, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())
    return types.float64(types.int64), codegen


@intrinsic
def _as_int(typingctx, x):
    """The int64 whose bits are the float64 ``x`` (an LLVM bitcast: vectorises)."""
    if not isinstance(x, types.Float):
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))
    return types.int64(types.float64), codegen


@intrinsic
def fma(typingctx, a, b, c):
    """``a * b + c`` rounded once (LLVM's ``llvm.fma``: a fused multiply-add instruction on
    CPUs with FMA, which vectorises; IEEE's fusedMultiplyAdd, the same bits as CUDA's
    ``fma``)."""
    if not all(isinstance(x, types.Float) for x in (a, b, c)):
        return None

    def codegen(context, builder, signature, args):
        x, y, z = (context.cast(builder, v, t, types.float64)
                   for v, t in zip(args, signature.args))
        return builder.fma(x, y, z)
    return types.float64(a, b, c), codegen


@njit(cache=True)
def exp(x):
    """``exp(x)`` within 2 ulp, for ``x`` in [-708, 709] (clamped there), in arithmetic that
    LLVM vectorises."""
    if x < LOW:
        x = LOW
    if x > HIGH:
        x = HIGH
    t = fma(x, LOG2E, SHIFT)
    kf = t - SHIFT
    r = fma(-kf, LN2_LO, fma(-kf, LN2_HI, x))
    r2 = r * r
    r4 = r2 * r2
    r8 = r4 * r4
    a0 = fma(C1, r, C0)
    a1 = fma(C3, r, C2)
    a2 = fma(C5, r, C4)
    a3 = fma(C7, r, C6)
    a4 = fma(C9, r, C8)
    a5 = fma(C11, r, C10)
    a6 = fma(C13, r, C12)
    b0 = fma(a1, r2, a0)
    b1 = fma(a3, r2, a2)
    b2 = fma(a5, r2, a4)
    p = fma(fma(a6, r4, b2), r8, fma(b1, r4, b0))
    return p * _as_double((_as_int(t) - SHIFT_BITS + 1023) << 52)


#: ``1 / (k + 1)!``, k = 0 .. 16: the Taylor series of ``(exp(x) - 1) / x``
EXPREL = tuple(1.0 / math.factorial(k + 1) for k in range(17))
(E0, E1, E2, E3, E4, E5, E6, E7, E8, E9, E10, E11, E12, E13, E14, E15, E16) = EXPREL


@njit(cache=True, error_model="numpy", inline="always")
def exprel(x):
    """``(exp(x) - 1) / x``, 1 at 0: its Taylor series to degree 16 below |x| = 0.5
    (truncation below 1e-19, no cancellation), :func:`exp` above (within 4 ulp); both computed
    and one selected, so a loop over it vectorises."""
    s = E16 * x + E15
    s = s * x + E14
    s = s * x + E13
    s = s * x + E12
    s = s * x + E11
    s = s * x + E10
    s = s * x + E9
    s = s * x + E8
    s = s * x + E7
    s = s * x + E6
    s = s * x + E5
    s = s * x + E4
    s = s * x + E3
    s = s * x + E2
    s = s * x + E1
    s = s * x + E0
    d = x if x != 0.0 else 1.0
    large = (exp(x) - 1.0) / d
    return s if abs(x) < 0.5 else large


#: :func:`relax` is a polynomial for ``0 <= y <= RELAX_MAX``
RELAX_MAX = 1.0
#: its coefficients, k = 0 .. 12: 1, -1/2, then the degree-10 interpolant of
#: ``g(y) = (f(y) - 1 + y / 2) / y**2`` at the 11 Chebyshev nodes of [0, 1] (computed in
#: 60-digit arithmetic with mpmath, rounded to float64; tests/test_coba_fast.py rebuilds them)
RELAX = (1.0, -0.5, 0.16666666666666666, -0.04166666666666575, 0.008333333333296417,
         -0.0013888888883114424, 0.00019841269377389884, -2.4801565521409248e-05,
         2.755667997774181e-06, -2.754521920850292e-07, 2.490389959082373e-08,
         -1.9733098526963756e-09, 1.0892387377145797e-10)
(F0, F1, F2, F3, F4, F5, F6, F7, F8, F9, F10, F11, F12) = RELAX


@njit(cache=True)
def relax(y):
    """``f(y) = (1 - exp(-y)) / y`` (1 at 0) for ``0 <= y <= RELAX_MAX``: one polynomial of
    degree 12, no exponential, no range reduction, no division; within 4 ulp (tested against
    mpmath). Exponential relaxation over a step: ``x + (x_inf - x)(1 - exp(-y)) = x + (x_inf -
    x) y f(y)``, so the conductance LIF step needs neither ``exp`` nor ``v_inf``'s division.

    Accuracy (the approximation, before rounding): ``f(y) = int_0^1 exp(-t y) dt``, so
    ``g(y) = (f(y) - 1 + y/2) / y**2 = int_0^1 (1-t)**2 / 2 exp(-t y) dt`` is entire with
    ``|g^(k)(y)| <= int_0^1 t^k (1-t)**2 / 2 dt = k! / (k+3)!`` for ``y >= 0``. Interpolation of
    degree m at the Chebyshev nodes of [0, Y] errs by at most ``2 (Y/4)**(m+1) max|g^(m+1)| /
    (m+1)! <= 2 (Y/4)**(m+1) / (m+4)!``; with Y = 1, m = 10: 5.5e-18, times ``y**2 <= 1`` for f,
    relative to ``f >= f(1) = 0.632``: below 8.7e-18. Rounding the coefficients to float64 adds
    at most 1.8e-17 (measured against mpmath on a fine grid; the leading ``1, -1/2`` are exact),
    and evaluating in float64 (Estrin's scheme in fused multiply-adds :func:`fma`: 15
    operations instead of 27, the conductance LIF pass 1.3x faster) about 3 ulp: the error is
    that of rounding, as for :func:`exp`. Outside [0, RELAX_MAX] the polynomial is not ``f``:
    callers test the range and take ``exp`` there. The CUDA twin
    (``neurosim.kernels.cuda.neurons._relax``) takes the same fused operations: the same
    bits."""
    y2 = y * y
    y4 = y2 * y2
    y8 = y4 * y4
    a0 = fma(F1, y, F0)
    a1 = fma(F3, y, F2)
    a2 = fma(F5, y, F4)
    a3 = fma(F7, y, F6)
    a4 = fma(F9, y, F8)
    a5 = fma(F11, y, F10)
    b0 = fma(a1, y2, a0)
    b1 = fma(a3, y2, a2)
    b2 = fma(a5, y2, a4)
    return fma(fma(F12, y4, b2), y8, fma(b1, y4, b0))
