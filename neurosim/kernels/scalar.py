"""Scalar functions shared by the kernels (inlined where they are called)."""
import math

import numpy as np
from numba import njit, types
from numba.extending import intrinsic, overload


@njit(cache=True, inline="always")
def logistic(x):
    """``1 / (1 + e^-x)``; for x < -709 ``e^-x`` overflows to inf and ``1 / inf = 0``, the limit."""
    return 1.0 / (1.0 + math.exp(-x))


@njit(cache=True, inline="always")
def softplus(x):
    """``log(1 + e^x)`` without overflow."""
    if x > 0.0:
        return x + math.log1p(math.exp(-x))
    return math.log1p(math.exp(x))


_LOG2E = 1.4426950408889634
_LN2_HI = 0.6931471803691238  # ln 2 split in two so that k * _LN2_HI is exact for |k| < 2**11
_LN2_LO = 1.9082149292705877e-10
_ROUND = 6755399441055744.0  # 1.5 * 2**52: k + _ROUND holds the integer k in its low bits
_ROUND_BITS = np.int64(0x4338000000000000)


# No reassociation (sums keep their order); error_model="numpy" drops Numba's
# ZeroDivisionError branch, which would keep every loop with a division out of SIMD lanes.
_FAST = {"contract", "arcp", "nsz", "afn"}


@njit(cache=True, fastmath=_FAST, error_model="numpy")
def _exp_rows(t, scratch):
    """``t <- e^t`` in place for a contiguous float64 vector, in SIMD lanes (in place: with a
    separate output that might alias ``t``, LLVM's overlap check would choose its scalar loop).

    ``e^t = 2^k p(r)`` with ``r = t - k ln 2``, ``|r| <= ln 2 / 2`` and ``p`` the Taylor
    polynomial of degree 13 (relative error below 1e-15); ``2^k`` is built from the bits of
    ``k + 1.5 * 2^52`` in ``scratch`` (float64, at least ``len(t)``), so all three loops
    vectorise, about 2.5x faster than ``math.exp`` per element here. ``t > 708`` gives inf,
    ``t < -708`` gives 0 (the true value is below 3e-308).
    """
    bits = scratch.view(np.int64)
    for j in range(t.shape[0]):
        big = t[j] > 708.0
        tiny = t[j] < -708.0
        c = min(max(t[j], -708.0), 708.0)
        k = math.floor(c * _LOG2E + 0.5)
        r = c - k * _LN2_HI - k * _LN2_LO
        p = 1.0 / 6227020800.0
        p = 1.0 / 479001600.0 + r * p
        p = 1.0 / 39916800.0 + r * p
        p = 1.0 / 3628800.0 + r * p
        p = 1.0 / 362880.0 + r * p
        p = 1.0 / 40320.0 + r * p
        p = 1.0 / 5040.0 + r * p
        p = 1.0 / 720.0 + r * p
        p = 1.0 / 120.0 + r * p
        p = 1.0 / 24.0 + r * p
        p = 1.0 / 6.0 + r * p
        p = 0.5 + r * p
        p = 1.0 + r * p
        t[j] = math.inf if big else (0.0 if tiny else 1.0 + r * p)
        scratch[j] = k + _ROUND
    for j in range(t.shape[0]):
        bits[j] = (bits[j] - _ROUND_BITS + 1023) << 52  # now the float 2^k
    for j in range(t.shape[0]):
        t[j] *= scratch[j]


@njit(cache=True, fastmath=_FAST, error_model="numpy")
def logistic_rows(x, scratch):
    """``x <- 1 / (1 + e^-x)`` in place for a contiguous float64 vector, in SIMD lanes
    (``e^-x`` by :func:`_exp_rows`; ``scratch`` float64, at least ``len(x)``). ``x < -708``
    gives 0 (the true value is below 3e-308), ``x > 708`` gives 1.
    """
    for j in range(x.shape[0]):
        x[j] = -x[j]
    _exp_rows(x, scratch)
    for j in range(x.shape[0]):
        x[j] = 1.0 / (1.0 + x[j])


@njit(cache=True, fastmath=_FAST, error_model="numpy")
def softplus_rows(x, out, scratch):
    """``out = log(1 + e^x)`` for a contiguous float64 vector ``x`` into another, ``out``, in
    SIMD lanes: ``max(x, 0) + log1p(u)`` with ``u = e^-|x|`` (:func:`_exp_rows`) and
    ``log1p(u) = 2 atanh(t) = 2 t (1 + t^2/3 + t^4/5 + ... + t^32/33)``, ``t = u / (2 + u)
    <= 1/3`` (truncation below 1e-18 relative). ``scratch`` float64, at least ``len(x)``.
    Within a few ulp of ``numpy.logaddexp(0, x)``; ``x < -708`` gives 0 (the true value is
    below 3e-308).
    """
    for j in range(x.shape[0]):
        out[j] = -abs(x[j])
    _exp_rows(out, scratch)
    for j in range(x.shape[0]):
        t = out[j] / (2.0 + out[j])
        s = t * t
        p = 1.0 / 33.0
        p = 1.0 / 31.0 + s * p
        p = 1.0 / 29.0 + s * p
        p = 1.0 / 27.0 + s * p
        p = 1.0 / 25.0 + s * p
        p = 1.0 / 23.0 + s * p
        p = 1.0 / 21.0 + s * p
        p = 1.0 / 19.0 + s * p
        p = 1.0 / 17.0 + s * p
        p = 1.0 / 15.0 + s * p
        p = 1.0 / 13.0 + s * p
        p = 1.0 / 11.0 + s * p
        p = 1.0 / 9.0 + s * p
        p = 1.0 / 7.0 + s * p
        p = 1.0 / 5.0 + s * p
        p = 1.0 / 3.0 + s * p
        p = 1.0 + s * p
        out[j] = max(x[j], 0.0) + 2.0 * t * p


_LOG2E32 = np.float32(1.4426950408889634)
_LN2_HI32 = np.float32(0.693359375)    # ln 2 split in two: k * _LN2_HI32 is exact for |k| < 2**9
_LN2_LO32 = np.float32(-2.12194440e-4)
_ROUND32 = np.float32(12582912.0)        # 1.5 * 2**23: y + _ROUND32 rounds y to an integer
_ROUND_BITS32 = np.int32(0x4B400000)     # the bits of _ROUND32
_LIMIT32 = np.float32(87.0)              # e**87 fits in float32
_ONE, _HALF = np.float32(1.0), np.float32(0.5)


def _bitcast(source, target):
    """An intrinsic that reads a ``source`` value's bits as a ``target`` value of the same
    width (an LLVM bitcast, which vectorises); an integer ``source`` takes any integer,
    converted to it first (Numba widens int32 arithmetic to int64)."""
    @intrinsic
    def bitcast(typingctx, x):
        if x != source and not (isinstance(source, types.Integer) and
                                isinstance(x, types.Integer)):
            return None

        def codegen(context, builder, signature, args):
            value = context.cast(builder, args[0], signature.args[0], source)
            return builder.bitcast(value, context.get_value_type(target))
        return target(x), codegen
    return bitcast


float32_bits = _bitcast(types.float32, types.int32)
bits_float32 = _bitcast(types.int32, types.float32)


@njit(cache=True, inline="always")
def exp_parts32(t):
    """``e^t`` (float32, ``|t| <= 87``) but for the factor ``2^k``: ``(p(r), t log2(e) + 1.5 *
    2^23)``, ``r = t - k ln 2`` (``|r| <= ln 2 / 2``), ``p`` the Taylor polynomial of degree 7;
    ``k`` sits in the low bits of the second value, from which the caller builds ``2^k`` (in
    SIMD lanes, as :func:`logistic_rows32` does)."""
    y = t * _LOG2E32 + _ROUND32
    k = y - _ROUND32
    r = t - k * _LN2_HI32 - k * _LN2_LO32
    p = np.float32(1.0 / 5040.0)
    p = np.float32(1.0 / 720.0) + r * p
    p = np.float32(1.0 / 120.0) + r * p
    p = np.float32(1.0 / 24.0) + r * p
    p = np.float32(1.0 / 6.0) + r * p
    p = _HALF + r * p
    p = _ONE + r * p
    return _ONE + r * p, y


@njit(cache=True, inline="always")
def exp32(t):
    """``e^t`` for float32 ``|t| <= 87``: :func:`exp_parts32`'s ``p(r)`` times ``2^k``, whose
    bits are built from those of ``k + 1.5 * 2^23`` by bitcasts, so that a loop of it is one
    pass in SIMD lanes (about 2x the three passes through a scratch array of integers). Its
    callers must not allow ``reassoc``, which would undo the rounding in :func:`exp_parts32`."""
    p, y = exp_parts32(t)
    return p * bits_float32((float32_bits(y) - _ROUND_BITS32 + 127) << 23)


@njit(cache=True, fastmath=_FAST, error_model="numpy")
def logistic_rows32(x, scratch):
    """``x <- 1 / (1 + e^-x)`` in place for a contiguous float32 vector, in float32 SIMD lanes.

    The float32 twin of :func:`logistic_rows`: ``e^-x`` by :func:`exp32` (relative error below
    1e-7, under float32's rounding), one pass (``scratch``, taken for the float64 twin's sake,
    is not used). ``-x`` is clipped to [-87, 87], which changes the result by less than 1e-37.
    """
    for j in range(x.shape[0]):
        x[j] = _ONE / (_ONE + exp32(min(max(-x[j], -_LIMIT32), _LIMIT32)))


def sigmoid_lanes(x, scratch):
    """``x <- 1 / (1 + e^-x)`` in place for a contiguous vector of either float dtype
    (``scratch`` of the same dtype and length): :func:`logistic_rows32` for float32,
    :func:`logistic_rows` for float64. Callable from kernels only."""
    raise NotImplementedError("sigmoid_lanes is called from compiled kernels")


@overload(sigmoid_lanes)
def _sigmoid_lanes(x, scratch):
    if x.dtype == types.float32:
        return lambda x, scratch: logistic_rows32(x, scratch)
    return lambda x, scratch: logistic_rows(x, scratch)

