"""CUDA twins of the per-neuron arithmetic of :mod:`neurosim.kernels.neurons` and
:mod:`neurosim.kernels.vexp`: AdEx, Hodgkin-Huxley and user-defined neurons for the spiking
twin (:mod:`neurosim.kernels.cuda.spiking`), one neuron per thread.

The CPU updates a block of neurons in a vectorised pass; here each thread does one neuron's
share of that pass, the same operations in the same order: products written :func:`_mul`
(``libdevice.dmul_rn`` on a GPU, which the compiler never fuses into a multiply-add, so a
product rounds once as on the CPU), the CPU's explicit fused multiply-adds
(:func:`neurosim.kernels.vexp.fma`) as :func:`_fma` (CUDA's ``fma``; exact rational arithmetic
rounded once under the simulator, whose own ``fma`` rounds twice), sums and divisions apart
(IEEE on both), and the
exponentials :func:`_exp`, :func:`_exprel` and :func:`_relax`, which are
:func:`neurosim.kernels.vexp.exp`, ``exprel`` and ``relax`` written out (no libm, no
``ex2.approx``). So a neuron's new state is the CPU's bit for bit; under Numba's CUDA simulator
every product is a Python float product, the CPU's too.

Each update takes the neuron ``i``, its group's parameter row ``p`` (the slots ``P_*`` of
:mod:`neurosim.kernels.neurons`), its synaptic variables ``xe``, ``xi`` as they were at the start
of the step (the caller decays them and adds the ring buffer's input) and its external current
``I``; it writes the neuron's state and returns True when it spikes.

User-defined models: :func:`custom` calls ``_user_step``, a module global that
:func:`with_user_step` rebinds to the user's function compiled with
``numba.cuda.jit(device=True)`` (one source, compiled again with the user's function in place,
as the CPU's ``run_steps_custom`` compiles the user's ``njit`` function into its kernel). On a
GPU the user's own arithmetic is compiled by NVVM, which fuses multiply-adds: such a model
agrees with the CPU to rounding there (bit for bit under the simulator).
"""
import types as _types

from numba import config as _numba_config
from numba import cuda, float64, int32, int64

from .. import vexp as _vx
from ..neurons import (EXP_CAP, N_PAR, P_A, P_C, P_D, P_DELTA, P_DTTAU, P_EE, P_EI, P_EK,
                       P_ENA, P_EW, P_GK, P_GL, P_GNA, P_NREF, P_NVARS, P_RESET, P_REST, P_TH,
                       P_VT)

#: the most state variables a user model may have on CUDA (a thread's local array)
MAX_VARS = 16

if _numba_config.ENABLE_CUDASIM:
    import struct as _struct
    from fractions import Fraction as _Fraction

    @cuda.jit(device=True, inline=True)
    def _mul(a, b):
        return a * b

    @cuda.jit(device=True, inline=True)
    def _fma(a, b, c):
        # a * b + c rounded once, as the GPU's fma and the CPU's vexp.fma (the simulator's
        # cuda.fma rounds twice): exact rational arithmetic, rounded by the conversion
        a, b, c = float(a), float(b), float(c)
        try:
            r = _Fraction(a) * _Fraction(b) + _Fraction(c)
            return float(r) if r != 0 else a * b + c     # (the sign of an exact zero)
        except (ValueError, OverflowError):              # inf, nan, overflow
            return a * b + c

    @cuda.jit(device=True, inline=True)
    def _as_double(bits):
        return _struct.unpack("<d", _struct.pack("<q", int(bits)))[0]

    @cuda.jit(device=True, inline=True)
    def _as_int(x):
        return _struct.unpack("<q", _struct.pack("<d", float(x)))[0]
else:  # pragma: no cover (needs a GPU)
    from numba.cuda import libdevice

    @cuda.jit(device=True, inline=True)
    def _mul(a, b):
        return libdevice.dmul_rn(a, b)

    @cuda.jit(device=True, inline=True)
    def _fma(a, b, c):
        return libdevice.fma(a, b, c)

    @cuda.jit(device=True, inline=True)
    def _as_double(bits):
        return libdevice.longlong_as_double(bits)

    @cuda.jit(device=True, inline=True)
    def _as_int(x):
        return libdevice.double_as_longlong(x)


@cuda.jit(device=True, inline=True)
def _exp(x):
    """:func:`neurosim.kernels.vexp.exp` step for step (its fused multiply-adds :func:`_fma`,
    products ``dmul_rn``, the scale from its bits): the CPU's exponential bit for bit."""
    if x < _vx.LOW:
        x = _vx.LOW
    if x > _vx.HIGH:
        x = _vx.HIGH
    t = _fma(x, _vx.LOG2E, _vx.SHIFT)
    kd = t - _vx.SHIFT
    r = _fma(-kd, _vx.LN2_LO, _fma(-kd, _vx.LN2_HI, x))
    r2 = _mul(r, r)
    r4 = _mul(r2, r2)
    r8 = _mul(r4, r4)
    a0 = _fma(_vx.C1, r, _vx.C0)
    a1 = _fma(_vx.C3, r, _vx.C2)
    a2 = _fma(_vx.C5, r, _vx.C4)
    a3 = _fma(_vx.C7, r, _vx.C6)
    a4 = _fma(_vx.C9, r, _vx.C8)
    a5 = _fma(_vx.C11, r, _vx.C10)
    a6 = _fma(_vx.C13, r, _vx.C12)
    b0 = _fma(a1, r2, a0)
    b1 = _fma(a3, r2, a2)
    b2 = _fma(a5, r2, a4)
    p = _fma(_fma(a6, r4, b2), r8, _fma(b1, r4, b0))
    return _mul(p, _as_double((_as_int(t) - _vx.SHIFT_BITS + 1023) << 52))


@cuda.jit(device=True, inline=True)
def _relax(y):
    """:func:`neurosim.kernels.vexp.relax` step for step (Estrin's scheme, fused multiply-adds
    :func:`_fma`): ``(1 - exp(-y)) / y`` for ``0 <= y <= RELAX_MAX``, the CPU's bits."""
    y2 = _mul(y, y)
    y4 = _mul(y2, y2)
    y8 = _mul(y4, y4)
    a0 = _fma(_vx.F1, y, _vx.F0)
    a1 = _fma(_vx.F3, y, _vx.F2)
    a2 = _fma(_vx.F5, y, _vx.F4)
    a3 = _fma(_vx.F7, y, _vx.F6)
    a4 = _fma(_vx.F9, y, _vx.F8)
    a5 = _fma(_vx.F11, y, _vx.F10)
    b0 = _fma(a1, y2, a0)
    b1 = _fma(a3, y2, a2)
    b2 = _fma(a5, y2, a4)
    return _fma(_fma(_vx.F12, y4, b2), y8, _fma(b1, y4, b0))


@cuda.jit(device=True, inline=True)
def _exprel(x):
    """:func:`neurosim.kernels.vexp.exprel` step for step (its Horner sum below |x| = 0.5,
    :func:`_exp` above; both computed, one selected, as on the CPU)."""
    s = _mul(_vx.E16, x) + _vx.E15
    s = _mul(s, x) + _vx.E14
    s = _mul(s, x) + _vx.E13
    s = _mul(s, x) + _vx.E12
    s = _mul(s, x) + _vx.E11
    s = _mul(s, x) + _vx.E10
    s = _mul(s, x) + _vx.E9
    s = _mul(s, x) + _vx.E8
    s = _mul(s, x) + _vx.E7
    s = _mul(s, x) + _vx.E6
    s = _mul(s, x) + _vx.E5
    s = _mul(s, x) + _vx.E4
    s = _mul(s, x) + _vx.E3
    s = _mul(s, x) + _vx.E2
    s = _mul(s, x) + _vx.E1
    s = _mul(s, x) + _vx.E0
    d = x if x != 0.0 else 1.0
    large = (_exp(x) - 1.0) / d
    return s if abs(x) < 0.5 else large


@cuda.jit(device=True, inline=True)
def _synaptic(conductance, p, xe, xi, v):
    """``(G_syn, A_syn)``: the synaptic terms of ``C dv/dt = A - G v`` as the CPU's AdEx and HH
    passes add them (``cond * (xe + xi)`` and ``xe E_e + xi E_i``, or the currents)."""
    if conductance:
        return xe + xi, _mul(xe, p[P_EE]) + _mul(xi, p[P_EI])
    return _mul(0.0, xe + xi), xe + xi


@cuda.jit(device=True)
def adex(i, p, conductance, v, u, ref, xe, xi, I):
    """One step of AdEx neuron ``i`` (:func:`neurosim.kernels.neurons.adex`); True on a spike."""
    gL = p[P_GL]
    EL = p[P_REST]
    DT = p[P_DELTA]
    vi = v[i]
    wi = u[i]
    r = ref[i]
    w_inf = _mul(p[P_A], vi - EL)
    wn = w_inf + _mul(wi - w_inf, p[P_EW])
    Gs, As = _synaptic(conductance, p, xe, xi, vi)
    G = gL + Gs
    A = (_mul(gL, EL) + As) + I
    arg = (vi - p[P_VT]) / DT
    if arg > EXP_CAP:
        arg = EXP_CAP
    A += _mul(_mul(gL, DT), _exp(arg)) - wi
    v_inf = A / G
    vn = v_inf + _mul(vi - v_inf, _exp(_mul(-p[P_DTTAU], G) / p[P_C]))
    if r > 0:
        vn = vi
        r -= 1
    if vn > p[P_TH] and r == 0:
        v[i] = p[P_RESET]
        u[i] = wn + p[P_D]
        ref[i] = int32(p[P_NREF])
        return True
    v[i] = vn
    u[i] = wn
    ref[i] = r
    return False


@cuda.jit(device=True, inline=True)
def _gate(x, alpha, beta, h):
    """:func:`neurosim.kernels.neurons._gate`: the gate after ``h`` seconds (exact)."""
    k = alpha + beta
    x_inf = alpha / k
    return x_inf + _mul(x - x_inf, _exp(_mul(-k, h)))


@cuda.jit(device=True)
def hh(i, p, conductance, v, m, aux, ref, xe, xi, I):
    """One step of Hodgkin-Huxley neuron ``i`` (:func:`neurosim.kernels.neurons.hh`, rates of
    ``hh_rates``); True when v rises above the threshold (``ref`` 1 while it stays above)."""
    h_ = p[P_DTTAU]
    vi = v[i]
    mi = m[i]
    hi_ = aux[0, i]
    ni = aux[1, i]
    x = vi - p[P_VT]
    am = 1.28e3 / _exprel((13e-3 - x) / 4e-3)
    bm = 1.4e3 / _exprel((x - 40e-3) / 5e-3)
    ah = _mul(128.0, _exp((17e-3 - x) / 18e-3))
    bh = 4e3 / (1.0 + _exp((40e-3 - x) / 5e-3))
    an = 0.16e3 / _exprel((15e-3 - x) / 5e-3)
    bn = _mul(500.0, _exp((10e-3 - x) / 40e-3))
    g_na = _mul(_mul(_mul(_mul(p[P_GNA], mi), mi), mi), hi_)
    n2 = _mul(ni, ni)
    g_k = _mul(_mul(p[P_GK], n2), n2)
    gL = p[P_GL]
    Gs, As = _synaptic(conductance, p, xe, xi, vi)
    G = ((gL + g_na) + g_k) + Gs
    A = (((_mul(gL, p[P_REST]) + _mul(g_na, p[P_ENA])) + _mul(g_k, p[P_EK])) + I) + As
    v_inf = A / G
    vn = v_inf + _mul(vi - v_inf, _exp(_mul(-h_, G) / p[P_C]))
    m[i] = _gate(mi, am, bm, h_)
    aux[0, i] = _gate(hi_, ah, bh, h_)
    aux[1, i] = _gate(ni, an, bn, h_)
    v[i] = vn
    above = vn > p[P_TH]
    rise = above and ref[i] == 0
    ref[i] = 1 if above else 0
    return rise


@cuda.jit(device=True)
def _user_step(x, p, I, dt):  # pragma: no cover (replaced by the user's function)
    """Stands for the user's step function in the kernels compiled without one."""
    return x, False


@cuda.jit(device=True)
def custom(i, p, conductance, dt, v, u, aux, ref, xe, xi, I):
    """One step of user-model neuron ``i`` (:func:`neurosim.kernels.neurons.custom`): the
    state ``(v, u, aux[:, i])`` through ``_user_step``; held while refractory."""
    r = ref[i]
    if r > 0:
        ref[i] = r - 1
        return False
    k = int64(p[P_NVARS])
    x = cuda.local.array(MAX_VARS, float64)
    vi = v[i]
    x[0] = vi
    if k > 1:
        x[1] = u[i]
    for a in range(2, k):
        x[a] = aux[a - 2, i]
    if conductance:
        Ii = (_mul(xe, p[P_EE] - vi) + _mul(xi, p[P_EI] - vi)) + I
    else:
        Ii = (xe + xi) + I
    new, spiked = _user_step(x[:k], p[N_PAR:], Ii, dt)
    for a in range(k):
        x[a] = new[a]
    v[i] = x[0]
    if k > 1:
        u[i] = x[1]
    for a in range(2, k):
        aux[a - 2, i] = x[a]
    if spiked:
        ref[i] = int32(p[P_NREF])
        return True
    return False


def source(function):
    """The Python function behind a Numba CPU or CUDA function (or the function itself)."""
    return getattr(function, "py_func", None) or getattr(function, "fn", None) or function


def rebind(function, **names):
    """The Python source of ``function`` with module globals ``names`` replaced: the same code,
    to compile again (:func:`numba.cuda.jit`) around other device functions."""
    f = source(function)
    g = dict(f.__globals__)
    g.update(names)
    return _types.FunctionType(f.__code__, g, f.__name__, f.__defaults__, f.__closure__)


def with_user_step(step):
    """:func:`custom` compiled around the user's step function ``step`` (a Python function or
    a Numba function; compiled here with ``cuda.jit(device=True)``)."""
    user = cuda.jit(device=True)(source(step))
    return cuda.jit(device=True)(rebind(custom, _user_step=user))

