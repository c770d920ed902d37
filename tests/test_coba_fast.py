"""The conductance LIF step without exponential or division (``kernels.vexp.relax``, a
polynomial for ``(1 - exp(-y)) / y`` on [0, 1], and ``kernels.neurons.lif_conductance``, which
takes it where it holds and exponential Euler with ``exp`` elsewhere), against mpmath, libm,
an ODE solver, a per-neuron reference and the CUDA twin."""
import math

import numpy as np
import pytest
from numba import njit

from neurosim.kernels import neurons as kn
from neurosim.kernels import vexp
from neurosim.record import Monitor
from neurosim.spiking import LIF, Network, SpikeGeneratorGroup
from test_spiking_cuda import assert_same_run, both, cuda_test, tiny_grids  # noqa: F401

DT = 1e-4


@njit
def _relax_all(y, out):
    for i in range(y.shape[0]):
        out[i] = vexp.relax(y[i])


def relax(y):
    out = np.empty_like(y)
    _relax_all(y, out)
    return out


def grid():
    """y over [0, RELAX_MAX]: a fine grid, random points, the ends and tiny values."""
    gen = np.random.default_rng(0)
    return np.concatenate([np.linspace(0.0, vexp.RELAX_MAX, 4001),
                           gen.uniform(0.0, vexp.RELAX_MAX, 4000), 10.0 ** gen.uniform(-12, 0, 500),
                           [5e-324, 1e-300, np.nextafter(vexp.RELAX_MAX, 0.0)]])


@pytest.mark.kernel
def test_relax_is_within_four_ulp_of_libm_over_its_range():
    """Against ``-expm1(-y) / y`` (itself within about 1 ulp): no mpmath needed."""
    y = grid()
    ref = np.array([-math.expm1(-v) / v if v else 1.0 for v in y])
    assert np.all(np.abs(relax(y) - ref) <= 5 * np.spacing(ref))


@pytest.mark.kernel
def test_relax_coefficients_and_accuracy_against_mpmath():
    """The coefficients are the degree-10 Chebyshev interpolant of ``(f - 1 + y/2) / y**2``
    on [0, 1] (60 digits, rounded); the polynomial with them is within 1.8e-17 of f before
    rounding (the docstring's bound: 8.7e-18 for the interpolant, plus the coefficients'
    rounding), and within 4 ulp as evaluated."""
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 60

    def f(y):
        y = mp.mpf(y)
        return -mp.expm1(-y) / y if y else mp.mpf(1)

    m, Y = 10, mp.mpf(vexp.RELAX_MAX)
    nodes = [Y / 2 * (1 + mp.cos(mp.pi * (2 * k + 1) / (2 * (m + 1)))) for k in range(m + 1)]
    A = mp.matrix([[x ** j for j in range(m + 1)] for x in nodes])
    b = mp.matrix([(f(x) - 1 + x / 2) / x ** 2 for x in nodes])
    coef = mp.lu_solve(A, b)
    assert vexp.RELAX == (1.0, -0.5) + tuple(float(c) for c in coef)
    bound = 2 * (Y / 4) ** (m + 1) / mp.factorial(m + 4) * Y ** 2 / f(Y)
    assert bound < 8.7e-18
    y = grid()[::8]
    got = relax(y)
    worst_poly = worst_eval = 0
    for v, g in zip(y, got):
        exact = f(v)
        poly = sum(mp.mpf(c) * mp.mpf(v) ** k for k, c in enumerate(vexp.RELAX))
        worst_poly = max(worst_poly, abs(poly / exact - 1))
        worst_eval = max(worst_eval, abs(mp.mpf(g) - exact) / np.spacing(float(exact)))
    assert worst_poly < 1.8e-17
    assert worst_eval <= 4


@njit
def _fma_all(a, b, c, out):
    for i in range(a.shape[0]):
        out[i] = vexp.fma(a[i], b[i], c[i])


@pytest.mark.kernel
def test_fma_rounds_once_as_exact_arithmetic_does():
    """``vexp.fma`` (and the CUDA simulator's ``_fma``) is ``a * b + c`` rounded once: exact
    rational arithmetic rounded to float64, which differs from the product and sum rounded
    apart on a good share of inputs (cancelling ones chosen so)."""
    from fractions import Fraction

    from neurosim.kernels.cuda import neurons as cn

    gen = np.random.default_rng(2)
    a = gen.uniform(-2, 2, 2000)
    b = gen.uniform(-2, 2, 2000)
    c = -(a * b) * gen.choice([1.0, 1 + 2.0 ** -30, 0.5], 2000)     # near-cancelling sums
    c[:5] = [0.0, -0.0, 1e300, 5e-324, 1.0]
    out = np.empty(2000)
    _fma_all(a, b, c, out)
    exact = np.array([float(Fraction(x) * Fraction(y) + Fraction(z)) for x, y, z in zip(a, b, c)])
    np.testing.assert_array_equal(out, exact)
    assert (out != a * b + c).mean() > 0.2
    sim = getattr(cn._fma, "py_func", cn._fma)
    if not hasattr(cn, "libdevice"):        # the simulator's twin
        np.testing.assert_array_equal([sim(x, y, z) for x, y, z in zip(a, b, c)], exact)


P = dict(R=1e8, tau_m=20e-3, v_rest=-60e-3, v_th=-50e-3, v_reset=-60e-3, t_ref=2e-3,
         tau_e=5e-3, tau_i=10e-3, E_e=0.0, E_i=-80e-3, synapse="conductance")


@njit
def reference_step(vi, r, xe, xi, Ii, p):
    """One neuron's conductance LIF step as the kernel defines it, scalar: the polynomial
    step where relax holds, exponential Euler with ``exp`` elsewhere; v held while
    refractory (a spike when it leaves the refractory steps above threshold). Returns (v,
    refractory steps left, spiked)."""
    R = p[kn.P_R]
    dt_tau = p[kn.P_DTTAU]
    fma = vexp.fma
    g = fma(R, xe + xi, 1.0)
    A = fma(R, fma(xe, p[kn.P_EE], fma(xi, p[kn.P_EI], Ii)), p[kn.P_REST])
    y = dt_tau * g
    if 0.0 <= y <= vexp.RELAX_MAX:
        vn = fma(fma(-vi, g, A), dt_tau * vexp.relax(y), vi)
    else:
        v_inf = A / g
        vn = fma(vi - v_inf, vexp.exp(-y), v_inf)
    if r > 0:
        vn = vi
        r -= 1
    if vn > p[kn.P_TH] and r == 0:
        return p[kn.P_RESET], np.int32(p[kn.P_NREF]), True
    return vn, r, False


@pytest.mark.kernel
def test_each_neuron_gets_its_own_step_whatever_its_block():
    """Blocks all inside the polynomial's range, mixed, and a partial one: every neuron's new
    state is the scalar reference's, bit for bit (its bits depend on its own y alone), the
    spikers are reset in order, conductances decay, and the far neurons take ``exp``."""
    B = kn.BLOCK
    n = 2 * B + 37
    gen = np.random.default_rng(1)
    p = LIF(1, **P).parameters(DT)
    R, dt_tau = p[kn.P_R], p[kn.P_DTTAU]
    # y = dt_tau (1 + R (xe + xi)): block 0 in (0.005, 0.9), the rest from 0.005 to 3
    total = np.concatenate([gen.uniform(0, 0.9 / dt_tau - 1, B),
                            gen.uniform(0, 3.0 / dt_tau - 1, n - B)]) / R
    total[B + 5] = (1.0 / dt_tau - 1) / R                 # at the edge
    split = gen.uniform(0, 1, n)
    xe, xi = total * split, total * (1 - split)
    v = gen.uniform(-62e-3, -49e-3, n)
    ref = np.where(gen.uniform(size=n) < 0.2, gen.integers(1, 4, n), 0).astype(np.int32)
    I = gen.uniform(0.0, 3e-10, n)
    y = dt_tau * (1 + R * (xe + xi))
    far = (y > vexp.RELAX_MAX)
    assert not far[:B].any() and 20 < far.sum() < n - B - 20
    expect = [reference_step(v[i], ref[i], xe[i], xi[i], I[i], p) for i in range(n)]
    fired = np.zeros(n, dtype=np.int64)
    vk, rk, ek, ik = v.copy(), ref.copy(), xe.copy(), xi.copy()
    count = kn.lif_conductance(vk, rk, ek, ik, I, 0, n, p, fired, 0)
    np.testing.assert_array_equal(vk, [e[0] for e in expect])
    np.testing.assert_array_equal(rk, [e[1] for e in expect])
    np.testing.assert_array_equal(ek, xe * p[kn.P_DE])
    np.testing.assert_array_equal(ik, xi * p[kn.P_DI])
    spikers = [i for i in range(n) if expect[i][2]]
    assert fired[:count].tolist() == spikers
    assert any(far[i] for i in spikers) and any(not far[i] for i in spikers)
    # both forms are exponential Euler: within rounding of the exact step
    g = 1 + R * (xe + xi)
    v_inf = (p[kn.P_REST] + R * (xe * P["E_e"] + xi * P["E_i"] + I)) / g
    exact = v_inf + (v - v_inf) * np.exp(-y)
    free = (ref == 0) & ~np.isin(np.arange(n), spikers)
    assert np.all(np.abs(vk - exact)[free] <= 4 * np.spacing(np.abs(v[free])))


def pulse_network(backend="cpu"):
    """Conductance LIF neurons kicked by input spikes of several sizes: the total conductance
    climbs past the polynomial's range (y > 1) and decays back through it."""
    net = Network(DT, seed=0, backend=backend)
    post = net.add(LIF(4, I=0.15e-9, v0=(-62e-3, -55e-3), **P))
    src = net.add(SpikeGeneratorGroup(2, [2e-3, 6e-3, 6e-3, 15e-3], [0, 1, 0, 1]))
    net.connect(src, post, np.array([[4e-6, 0], [1e-6, 0], [2e-8, 0], [0, 0]]), channel="e")
    net.connect(src, post, np.array([[0, 3e-6], [0, 0], [0, 5e-9], [0, 4e-6]]), channel="i")
    return net


@pytest.mark.kernel
def test_trajectory_through_both_forms_matches_solve_ivp():
    """With the conductances the kernel holds over each step (recorded at its start),
    ``tau_m dv/dt = A - g v`` integrated by scipy's solver step by step gives the kernel's v
    (refractory steps held, as the kernel does), on both sides of y = 1."""
    from scipy.integrate import solve_ivp

    net = pulse_network()
    n_steps = 300
    ds = net.run(n_steps * DT, record=Monitor(), variables=("v", "syn_e", "syn_i"))
    v, ge, gi = ds.v.values, ds.syn_e.values, ds.syn_i.values
    y = DT / P["tau_m"] * (1 + P["R"] * (ge + gi))
    assert (y > 1).any(axis=0).tolist() == [True, False, False, True]
    assert ds.sizes["spike"] > 3
    spiked = {(round(t / DT), i) for t, i in zip(ds.spike_time.values, ds.spike_neuron.values)}
    n_ref = round(P["t_ref"] / DT)
    R, tau = P["R"], P["tau_m"]
    for i in range(4):
        left = 0
        for s in range(n_steps - 1):
            if left:
                left -= 1
                assert v[s + 1, i] == v[s, i]
                continue
            if (s, i) in spiked:
                assert v[s + 1, i] == P["v_reset"]
                left = n_ref - 1
                continue
            g = 1 + R * (ge[s, i] + gi[s, i])
            A = P["v_rest"] + R * (ge[s, i] * P["E_e"] + gi[s, i] * P["E_i"] + 0.15e-9)
            sol = solve_ivp(lambda t, x: (A - g * x) / tau, (0, DT), [v[s, i]], method="DOP853",
                            rtol=1e-13, atol=1e-16)
            assert abs(sol.y[0, -1] - v[s + 1, i]) < 1e-12, (s, i)


@cuda_test
def test_cuda_twin_takes_the_same_form_per_neuron_bit_for_bit():
    """The twin branches per thread on y as the CPU selects per neuron: the same bits on both
    sides of the polynomial's range."""
    kw = dict(record=Monitor(every=1), variables=("v", "syn_e", "syn_i"), chunk=60)
    cpu, gpu = both(pulse_network, 200 * DT, **kw)
    assert_same_run(cpu, gpu)
    ds = cpu[0]
    y = DT / P["tau_m"] * (1 + P["R"] * (ds.syn_e.values + ds.syn_i.values))
    assert (y > 1).any() and (y < 1).any() and ds.sizes["spike"] > 0
