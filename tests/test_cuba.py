"""The CUBA network (Vogels and Abbott 2005, Brian2's examples/CUBA.py) against the figures
Brian2 gives for it: about 5.4 Hz mean rate and about 17% silent neurons at N = 4000."""
import numpy as np
import pytest

from neurosim.spiking import cuba, mean_rate, silent_fraction


def test_cuba_structure_matches_the_definition():
    net = cuba(4000, seed=0)
    exc, inh = net.groups
    assert (exc.n, inh.n) == (3200, 800)
    assert (exc.tau_m, exc.tau_e, exc.tau_i, exc.t_ref) == (20e-3, 5e-3, 10e-3, 5e-3)
    assert (exc.v_th, exc.v_reset, exc.v_rest) == (-50e-3, -60e-3, -49e-3)
    # 80 synapses per neuron on average (p = 0.02 from each source population)
    assert net.n_synapses / 4000 == pytest.approx(80, rel=0.01)
    W = {(pr.pre.name, pr.post.name): pr for pr in net.projections}
    assert np.allclose(W["exc", "exc"].W.data * exc.R, 60 * 0.27 / 10 * 1e-3)
    assert np.allclose(W["inh", "inh"].W.data * exc.R, -20 * 4.5 / 10 * 1e-3)
    assert W["exc", "inh"].channel == 0 and W["inh", "exc"].channel == 1


def test_cuba_rate_and_silent_fraction_near_brian2():
    rates, silent = [], []
    for seed in (0, 1):
        ds = cuba(4000, seed=seed).run(1.0)
        rates.append(mean_rate(ds))
        silent.append(silent_fraction(ds))
        v0 = ds.attrs
        assert v0["n_neurons"] == 4000
    # Brian2: ~5.4 Hz, ~17% silent (WORKLOADS.md); asynchronous irregular, not saturated
    assert 4.0 < np.mean(rates) < 7.0
    assert 0.10 < np.mean(silent) < 0.25


def test_cuba_initial_potentials_uniform_between_reset_and_threshold():
    from neurosim.record import Monitor

    ds = cuba(4000, seed=3).run(1e-4, record=Monitor(), spikes=False)
    v0 = ds.v.values[0]
    assert v0.min() >= -60e-3 and v0.max() <= -50e-3
    assert v0.mean() == pytest.approx(-55e-3, abs=0.3e-3)
