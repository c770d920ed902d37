"""Short-term plasticity (Tsodyks-Markram, as Markram et al. 1998 and Maass et al. 2002 write
it): the amplitudes of a regular train against the model's recursion and its closed-form
steady state, irregular trains and delays, STP beside STDP, the LSM's dynamic synapses, bad
input."""
import math

import numpy as np
import pytest

from neurosim.record import Monitor
from neurosim.spiking import (LIF, STDP, STP, LiquidStateMachine, Network,
                              SpikeGeneratorGroup)

DT = 1e-4
TAU_E = 3e-3
W = 2e-10


def amplitudes(times, rule, *, delay=None, extra=None):
    """The input each spike of ``times`` adds to the postsynaptic current, read from the
    recorded ``syn_e`` (``syn[s + 1] = syn[s] exp(-dt / tau_e) + amplitude``)."""
    net = Network(DT, seed=0)
    post = net.add(LIF(1, tau_e=TAU_E, v_th=1.0, v_reset=-1.0))       # never fires
    src = net.add(SpikeGeneratorGroup(1, times, np.zeros(len(times), dtype=int)))
    plasticity = rule if extra is None else (rule, extra)
    net.connect(src, post, np.array([[W]]), plasticity=plasticity, delay=delay)
    T = max(times) + 0.01
    ds = net.run(T, record=Monitor(index=[0]), variables="syn_e")
    x = ds.syn_e.values[:, 0]
    d = 0 if delay is None else int(round(delay / DT))
    arrive = np.rint(np.asarray(times) / DT).astype(int) + d
    return x[arrive + 1] - x[arrive] * math.exp(-DT / TAU_E)


def recursion(times, U, D, F):
    """``u_n R_n`` of Markram et al. (1998), eqs. as in Maass et al. (2002)."""
    u, R, out = U, 1.0, []
    for n, t in enumerate(times):
        if n:
            gap = t - times[n - 1]
            u_new = U + u * (1 - U) * (math.exp(-gap / F) if F > 0 else 0.0)
            R = 1 + (R - u * R - 1) * math.exp(-gap / D)
            u = u_new
        out.append(u * R)
    return np.array(out)


MAASS = {"EE": (0.5, 1.1, 0.05), "EI": (0.05, 0.125, 1.2), "IE": (0.25, 0.7, 0.02),
         "II": (0.32, 0.144, 0.06)}


@pytest.mark.parametrize("kind", sorted(MAASS))
def test_regular_train_reaches_the_closed_form_steady_state(kind):
    U, D, F = MAASS[kind]
    rule = STP(U=U, tau_rec=D, tau_facil=F)
    period = 0.025
    times = list(np.arange(300) * period + 0.01)
    A = amplitudes(times, rule)
    np.testing.assert_allclose(A, W * recursion(times, U, D, F), rtol=1e-9)
    assert A[0] == pytest.approx(W * U, rel=1e-12)          # u_1 = U, R_1 = 1
    u_ss = U / (1 - (1 - U) * math.exp(-period / F))
    R_ss = (1 - math.exp(-period / D)) / (1 - (1 - u_ss) * math.exp(-period / D))
    assert (u_ss, R_ss) == pytest.approx(rule.steady_state(period), rel=1e-14)
    assert A[-1] == pytest.approx(W * u_ss * R_ss, rel=1e-7)
    # depressing synapses settle below their first amplitude, facilitating ones above
    assert (A[-1] < A[0]) == (kind != "EI")


def test_pure_depression_steady_state_falls_as_one_over_rate():
    rule = STP(U=0.6, tau_rec=0.5, tau_facil=0.0)
    finals = []
    for rate in (50.0, 100.0):
        times = list(np.arange(200) / rate + 0.01)
        A = amplitudes(times, rule)
        u, R = rule.steady_state(1 / rate)
        assert u == 0.6 and A[-1] == pytest.approx(W * u * R, rel=1e-9)
        finals.append(A[-1])
    # Tsodyks and Markram (1997): above the limiting frequency the amplitude ~ 1 / rate
    assert finals[0] / finals[1] == pytest.approx(2.0, rel=0.05)


def test_irregular_train_with_delay_follows_the_recursion_at_arrival():
    gen = np.random.default_rng(1)
    times = list(np.cumsum(gen.exponential(0.03, 80)) + 0.005)
    times = list(np.rint(np.array(times) / DT) * DT)       # on the step grid
    A = amplitudes(times, STP(U=0.2, tau_rec=0.3, tau_facil=0.4), delay=2.5e-3)
    np.testing.assert_allclose(A, W * recursion(times, 0.2, 0.3, 0.4), rtol=1e-9)


def test_stp_beside_stdp_on_one_projection():
    """STP scales what a spike delivers; STDP changes the weight it scales (the delivered
    amplitude is ``w u_n R_n`` with ``w`` the weight at arrival)."""
    times = list(np.arange(30) * 0.02 + 0.01)
    stp = STP(U=0.4, tau_rec=0.2, tau_facil=0.05)
    stdp = STDP(w_max=4e-10, A_plus=0.05, A_minus=0.05)
    # the post neuron never fires: STDP leaves w alone and the amplitudes are STP's alone
    A = amplitudes(times, stp, extra=stdp)
    np.testing.assert_allclose(A, W * recursion(times, 0.4, 0.2, 0.05), rtol=1e-9)


def test_lsm_with_maass_dynamic_synapses():
    lsm = LiquidStateMachine(4, dynamic=True, seed=2)
    assert lsm.dynamic and lsm.w_scale == 1.0
    net = lsm.network
    kinds = {tuple(sorted(p["stp"].items())) for p in net.plastic}
    assert kinds == {tuple(sorted(STP(U=U, tau_rec=D, tau_facil=F).params().items()))
                     for U, D, F in MAASS.values()}
    gen = np.random.default_rng(0)
    times = np.sort(gen.uniform(0, 0.2, 16))
    chans = gen.integers(0, 4, 16)
    ds = lsm.run((times, chans), 0.4)
    after = ds.spike_time.values[ds.spike_time.values > 0.3]
    assert ds.sizes["spike"] > 0 and after.size < ds.sizes["spike"] / 4
    silent = lsm.run((np.empty(0), np.empty(0, dtype=int)), 0.2)
    assert silent.sizes["spike"] == 0                        # silent without input
    # a sample always starts from the same state (synapses recovered): the same spikes twice
    again = lsm.run((times, chans), 0.4)
    np.testing.assert_array_equal(again.spike_time.values, ds.spike_time.values)


def test_lsm_dynamic_save_load_classifies_the_same(tmp_path):
    from neurosim.datasets import jittered_templates

    samples, labels, _ = jittered_templates(40, jitter=2e-3, seed=3)
    lsm = LiquidStateMachine(4, dynamic=True, seed=4).fit(samples[:30], labels[:30])
    lsm.save(tmp_path / "lsm.nc")
    loaded = LiquidStateMachine.load(tmp_path / "lsm.nc")
    assert loaded.dynamic
    np.testing.assert_array_equal(loaded.decision_function(samples[30:]),
                                  lsm.decision_function(samples[30:]))


def test_bad_stp_input_gives_value_errors_naming_the_argument():
    with pytest.raises(ValueError, match="U"):
        STP(U=0.0)
    with pytest.raises(ValueError, match="U"):
        STP(U=1.5)
    with pytest.raises(ValueError, match="tau_rec"):
        STP(tau_rec=0.0)
    with pytest.raises(ValueError, match="tau_rec"):
        STP(tau_rec=800.0)                            # milliseconds given as seconds
    with pytest.raises(ValueError, match="tau_facil"):
        STP(tau_facil=-0.1)
    with pytest.raises(TypeError, match="plasticity"):
        net = Network(DT)
        g = net.add(LIF(1))
        net.connect(g, g, np.array([[1e-12]]), plasticity=(STP(), STP()))
    with pytest.raises(ValueError, match="dynamic"):
        LiquidStateMachine(4, dynamic="yes")
