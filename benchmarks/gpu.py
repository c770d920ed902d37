"""GPU twins against the CPU kernels on all cores, at sizes where a GPU matters (issue 14).

Each case builds a family twice, ``backend="cpu"`` and ``backend="cuda"``, runs the same call on
the same seed (one compiling call first, then the best of ``--repeats``; the CPU on all of
Numba's threads), and reports both wall times, the ratio and how the results agree (``identical``
where the arithmetic is discrete or in the same order; a statistic otherwise). Rows:

- ``sk``: SK annealing, N=1024, 1024 reads (Metropolis, default geometric schedule);
- ``rbm``: RBM Gibbs sampling, 10^4 chains;
- ``markov``: 10^5 chains on 1000 states (dense), and a CSR chain;
- ``cuba``: CUBA-like networks of 10^5 and 10^6 neurons (80 synapses each), 1 s of biological
  time (goal: 10^6 neurons in at most 1 s of wall time), and 10^5 neurons with 1000 synapses;
- ``esn``: a batch of 256 reservoirs of 1000 units;
- ``plastic``: Song et al. (2000)'s STDP (Poisson inputs onto conductance LIF neurons, additive
  all-to-all STDP) with 10-80 neurons of 2000 inputs each (4000-160000 plastic synapses; the
  CPU's plasticity kernel is serial), and the COBA network with STP on every synapse;
- ``neurons``: COBAHH (Brette et al. 2007 benchmark 3, Hodgkin-Huxley) and an AdEx network of
  the same wiring, 4000 to 64000 neurons.

Goals on one H100-class GPU: the 10^6-neuron CUBA second within one second of wall time; every
other row at least 30x the CPU kernels on 2 cores. Without a GPU every row reports
``"skipped": "no GPU"`` (``NUMBA_ENABLE_CUDASIM=1 ... --quick`` runs tiny sizes in the simulator,
to check the script itself).

``python benchmarks/gpu.py [--cases sk rbm markov cuba esn plastic neurons] [--repeats 3]
[--quick]``
"""
import argparse
import json
import platform
import time
import warnings

import numba
import numpy as np

from neurosim import backend


def best(call, repeats):
    """Seconds of the fastest of ``repeats`` calls after one warm-up (compiling) call, and the
    last result."""
    call()
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = call()
        times.append(time.perf_counter() - t)
    return min(times), out


def side_by_side(make, run, agree, repeats, cpu_repeats=1):
    """Time ``run(make(backend))`` on the CPU and on CUDA; ``agree(cpu_result, gpu_result)``
    says how the results compare (a dict)."""
    t_cpu, r_cpu = best(lambda: run(make("cpu")), cpu_repeats)
    row = {"cpu_s": t_cpu, "cpu_threads": numba.get_num_threads()}
    if not backend.cuda_available():
        return {**row, "skipped": "no GPU"}
    t_gpu, r_gpu = best(lambda: run(make("cuda")), repeats)
    return {**row, "gpu_s": t_gpu, "ratio": t_cpu / t_gpu, **agree(r_cpu, r_gpu)}


def identical(a, b):
    return {"identical": bool(a.drop_attrs().identical(b.drop_attrs()))}


def sk(quick, repeats):
    from neurosim.energy import IsingAnnealer, sk_couplings

    n, reads, sweeps = (16, 4, 5) if quick else (1024, 1024, 100)
    J = sk_couplings(n, seed=0)
    row = side_by_side(lambda b: IsingAnnealer(J, seed=1, backend=b),
                       lambda a: a.anneal(sweeps=sweeps, reads=reads, method="metropolis"),
                       identical, repeats)
    return {"case": f"SK N={n}, {reads} reads x {sweeps} sweeps", **row,
            "spin_updates": n * reads * sweeps}


def rbm(quick, repeats):
    """RBM Gibbs sampling, 10^4 chains x 100 steps (annealed betas 0.5 -> 1, the last step
    recorded) of a 784 x 500 Bernoulli RBM (MNIST-sized) and of a 64 x 256 one; and one CD-1
    epoch of 10^4 rows in mini-batches of 100 (784 x 500; the CPU kernel is serial)."""
    from neurosim.energy.rbm import RBM

    sizes = [(12, 9, 40, 4)] if quick else [(64, 256, 10_000, 100), (784, 500, 10_000, 100)]
    rows = []
    for nv, nh, chains, steps in sizes:
        g = np.random.default_rng(0)
        W, bv, bh = g.normal(0, 0.05, (nv, nh)), g.normal(-1, 0.5, nv), g.normal(-0.5, 0.5, nh)

        def make(b, nv=nv, nh=nh, W=W, bv=bv, bh=bh):
            r = RBM(nv, nh, seed=1, backend=b)
            r.W, r.visible_bias, r.hidden_bias = W.copy(), bv.copy(), bh.copy()
            return r

        def agree(a, b):
            return {"samples_identical": bool(np.array_equal(a.v.values, b.v.values)),
                    "v_mean_max_abs_diff": float(abs(a.v_mean - b.v_mean).max())}

        betas = np.linspace(0.5, 1.0, steps)
        row = side_by_side(make, lambda r: r.sample(steps=steps, chains=chains, every=steps,
                                                    betas=betas), agree, repeats)
        rows.append({"case": f"Gibbs {nv}x{nh}, {chains} chains x {steps} steps", **row,
                     "chain_steps": chains * steps})
    nv, nh, m, batch = (12, 9, 60, 10) if quick else (784, 500, 10_000, 100)
    X = (np.random.default_rng(1).random((m, nv)) < 0.15).astype(np.float64)

    def agree_fit(a, b):
        return {"W_max_abs_diff": float(abs(a.W - b.W).max()),
                "recon_rel_diff": float(abs(a.history.reconstruction_error.values[-1]
                                            / b.history.reconstruction_error.values[-1] - 1))}

    row = side_by_side(lambda b: RBM(nv, nh, seed=2, backend=b),
                       lambda r: r.fit(X, epochs=1, batch_size=batch, learning_rate=0.05,
                                       monitor=100), agree_fit, repeats)
    rows.append({"case": f"CD-1 epoch {nv}x{nh}, {m} rows, batch {batch}", **row})
    return rows


def cuba(quick, repeats):
    """CUBA (Vogels and Abbott 2005, as Brian2's example) of 10^5 and 10^6 neurons with 80
    synapses each, and 10^5 with 1000, one second of biological time at dt = 0.1 ms. The build
    (wiring on the host) is timed apart; a 1 ms run first compiles and, on CUDA, uploads the
    wiring (kept on the device between runs); each timed run restarts from the state after it.
    One weight per channel: the GPU gives the CPU's spikes (identical)."""
    from neurosim import config
    from neurosim.spiking import cuba as make_cuba

    T = 2e-3 if quick else 1.0
    sizes = [(200, 20)] if quick else [(10**5, 80), (10**6, 80), (10**5, 1000)]
    if quick:   # the simulator runs a Python thread per GPU thread
        config.SPIKING_CUDA_DELIVERY_THREADS, config.SPIKING_CUDA_LANES = 8, 4
        config.SPIKING_CUDA_DELIVERY_BLOCKS = 2

    def identical(a, b, na, nb):
        return {"identical": bool(a.drop_attrs().identical(b.drop_attrs()))}

    return _network_rows(lambda s: f"CUBA {s[0]} neurons x {s[1]} synapses, {T} s", sizes,
                         lambda s, b: make_cuba(s[0], p=s[1] / s[0], seed=0, backend=b), T,
                         repeats, identical)



def esn(quick, repeats):
    """A batch of 256 reservoirs of 1000 units (10 % connectivity: the sparse SELL layout; seeds
    0..255, spectral radius 0.7-1.1 and leak 0.1-1 varied over the batch), driven by 1000 steps
    of Mackey-Glass: (1) the states, 10 units a reservoir recorded (the reservoir kernel and
    little transfer); (2) the sweep end to end: every state harvested (2 GB back to the host),
    256 ridge readouts solved on the CPU, 1000 steps predicted, NRMSE per reservoir; (3) one
    1000-unit reservoir over a batch of 256 input sequences (10 units recorded). The build
    (weights drawn on the host, once per backend) is timed apart."""
    from neurosim import config, metrics
    from neurosim.datasets import timeseries as ts
    from neurosim.reservoir import ESN, ESNBatch

    R, n, T = (4, 16, 40) if quick else (256, 1000, 1000)
    if quick:   # the simulator runs a Python thread per GPU thread
        config.ESN_CUDA_THREADS = 8
    x = np.ravel(ts.mackey_glass(2 * T + 1))
    x = 2 * (x - x.min()) / (x.max() - x.min()) - 1
    grid = {"seed": list(range(R)), "spectral_radius": np.linspace(0.7, 1.1, R),
            "leak": np.resize([0.1, 0.3, 0.6, 1.0], R)}
    backends = ("cpu", "cuda") if backend.cuda_available() else ("cpu",)
    batches, build = {}, {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # spectral radius >= 1: EchoStateWarning
        for b in backends:
            t = time.perf_counter()
            batches[b] = ESNBatch(n, input_scaling=0.5, backend=b, **grid)
            build[f"{b}_build_s"] = time.perf_counter() - t
    mon = {"index": np.arange(10)}
    rows = []

    def states_agree(a, b):
        return {"max_abs_diff": float(abs(a.state - b.state).max())}

    row = side_by_side(lambda b: batches[b], lambda m: m.states(x[:T], record=mon), states_agree, repeats)
    rows.append({"case": f"ESNBatch {R} reservoirs x {n} units, {T} steps, states (10 units recorded)",
                 **build, **row, "unit_updates": R * n * T})

    truth = x[T + 1:2 * T + 1]

    def sweep(m):
        m.fit(x[:T], x[1:T + 1], washout=T // 10)
        return m.predict(x[T:2 * T], reset=False)[..., 0]

    def nrmse_agree(a, b):
        ea = np.array([metrics.nrmse(truth, p) for p in a])
        eb = np.array([metrics.nrmse(truth, p) for p in b])
        return {"nrmse_median": float(np.median(ea)), "nrmse_max_rel_diff": float(np.max(abs(ea - eb) / ea)),
                "prediction_max_abs_diff": float(abs(a - b).max())}

    row = side_by_side(lambda b: batches[b], sweep, nrmse_agree, repeats)
    rows.append({"case": f"ESNBatch {R} reservoirs x {n} units: fit on {T} steps (ridge on the CPU) and "
                         f"predict {T}", **row})

    U = np.random.default_rng(0).uniform(-1, 1, (R, T, 1))
    row = side_by_side(lambda b: ESN(n, seed=0, backend=b), lambda e: e.states(U, record=mon), states_agree,
                       repeats)
    rows.append({"case": f"ESN {n} units, {R} sequences x {T} steps, states (10 units recorded)", **row})
    return rows


def _paths_identical(a, b):
    return {"identical": bool(np.array_equal(a.path.values, b.path.values))}


def markov(quick, repeats):
    """10^5 chains x 1000 steps on 1000 states, dense and CSR (32 non-zeros a row: alias rows),
    recording every state and every 100th; Gillespie paths of 10^4 chains on 100 states."""
    import scipy.sparse as sp

    from neurosim.markov import ContinuousMarkovChain, MarkovChain

    n, chains, steps = (40, 50, 200) if quick else (1000, 100_000, 1000)
    g = np.random.default_rng(0)
    P = g.random((n, n))
    P /= P.sum(axis=1, keepdims=True)
    k = 20 if quick else 32
    cols = np.concatenate([g.choice(n, k, replace=False) for _ in range(n)])
    S = sp.csr_array((g.random(n * k) + 0.01, (np.repeat(np.arange(n), k), cols)), shape=(n, n))
    S = sp.csr_array(sp.diags_array(1.0 / S.sum(axis=1)) @ S)
    rows = []
    for kind, M in (("dense", P), (f"CSR {k} nnz/row", S)):
        for every in (1, 100):
            row = side_by_side(lambda b: MarkovChain(M, seed=1, backend=b),
                               lambda c: c.simulate(steps, n_chains=chains, every=every),
                               _paths_identical, repeats)
            rows.append({"case": f"{kind}, {n} states, {chains} chains x {steps} steps, "
                                 f"every={every}", **row, "steps": chains * steps})
    nq, cq, duration = (6, 8, 5.0) if quick else (100, 10_000, 100.0)
    Q = g.random((nq, nq)) * (g.random((nq, nq)) < 0.3)

    def agree(a, b):
        return {**_paths_identical(a, b),
                "occupancy_max_rel_diff": float(abs(a.occupancy - b.occupancy).max() / duration)}

    row = side_by_side(lambda b: ContinuousMarkovChain(Q, seed=2, fill_diagonal=True, backend=b),
                       lambda c: c.simulate(duration, n_chains=cq, dt=0.1), agree, repeats)
    rows.append({"case": f"Gillespie, {nq} states, {cq} chains, {duration} s", **row})
    return rows


def _on(net, b):
    """``net`` (a network from :mod:`neurosim.spiking.classic`, built for the CPU) run on ``b``:
    a network's backend is read when it runs, so the same host network can run on either."""
    net.backend = b
    return net


def _tiny_grids(quick):
    if quick:   # the simulator runs a Python thread per GPU thread
        from neurosim import config
        config.SPIKING_CUDA_THREADS, config.SPIKING_CUDA_DELIVERY_THREADS = 64, 8
        config.SPIKING_CUDA_LANES, config.SPIKING_CUDA_DELIVERY_BLOCKS = 4, 2


def _network_rows(label, sizes, make, T, repeats, agree):
    """Rows of ``make(size, backend)`` networks run for ``T`` s on the CPU and on CUDA, sides
    alternating per size: build time, a first short run (compiles; CUDA uploads the wiring),
    then the best of the timed runs (one on the CPU) from the state stored after it;
    ``agree(cpu_run, cuda_run, cpu_net, cuda_net)`` says how they compare."""
    rows = []
    for size in sizes:
        row = {"case": label(size), "T_s": T, "cpu_threads": numba.get_num_threads(),
               "kernel_cpu": "serial (run_steps has no prange)"}
        results = {}
        for b in ("cpu", "cuda") if backend.cuda_available() else ("cpu",):
            t = time.perf_counter()
            net = make(size, b)
            net.store()
            row[f"{b}_build_s"] = time.perf_counter() - t
            t = time.perf_counter()
            net.run(min(1e-3, T))
            row[f"{b}_first_ms_s"] = time.perf_counter() - t
            net.store()
            times = []
            for _ in range(repeats if b == "cuda" else 1):
                net.restore()
                t = time.perf_counter()
                ds = net.run(T)
                times.append(time.perf_counter() - t)
            row[f"{b}_s"] = min(times)
            results[b] = (ds, net)
        ds, net = results["cpu"]
        row.update(neurons=net.n_neurons, synapses=net.n_synapses,
                   spikes=int(ds.sizes["spike"]),
                   rate_hz=float(ds.sizes["spike"]) / (net.n_neurons * T))
        if "cuda" in results:
            row["ratio"] = row["cpu_s"] / row["cuda_s"]
            row.update(agree(results["cpu"][0], results["cuda"][0], results["cpu"][1],
                             results["cuda"][1]))
        else:
            row["skipped"] = "no GPU"
        rows.append(row)
    return rows


def _spikes_agree(a, b, na, nb):
    same = a.sizes["spike"] == b.sizes["spike"] and bool(
        np.array_equal(a.spike_time.values, b.spike_time.values)
        and np.array_equal(a.spike_neuron.values, b.spike_neuron.values))
    return {"spikes_identical": same,
            "rate_rel_diff": abs(b.sizes["spike"] - a.sizes["spike"]) / max(a.sizes["spike"], 1),
            "v_max_abs_diff": float(abs(na.v - nb.v).max())}


def plastic(quick, repeats):
    """STDP (Song et al. 2000: ``n`` conductance LIF neurons, each with its own 2000 Poisson
    inputs at 15 Hz through additive all-to-all STDP, weights uniform in [0, w_max), w_max
    scaled by 1000 / inputs as benchmarks/stdp.py does) and COBA with Tsodyks-Markram STP
    (U 0.2, tau_rec 200 ms, tau_facil 50 ms) on every synapse. One second each. The weights
    agree to rounding (libdevice's exp beside glibc's in the traces)."""
    import scipy.sparse as sp

    from neurosim.spiking import LIF, STDP, STP, Network, PoissonGroup

    _tiny_grids(quick)
    k = 20 if quick else 2000
    T = 2e-3 if quick else 1.0

    def song(n, b):
        net = Network(1e-4, seed=0, backend=b)
        src = net.add(PoissonGroup(n * k, 15.0))
        R, w_max = 1e8, 0.01 / 1e8 * 1000 / k
        post = net.add(LIF(n, tau_m=10e-3, v_rest=-74e-3, v_th=-54e-3, v_reset=-60e-3,
                           t_ref=0.0, R=R, synapse="conductance", tau_e=5e-3, E_e=0.0,
                           v0=-74e-3))
        g = np.random.default_rng(1)
        rows = np.repeat(np.arange(n), k)
        W = sp.csr_array(((g.random(n * k) * 0.999 + 0.001) * w_max, (rows, np.arange(n * k))),
                         shape=(n, n * k))
        net.connect(src, post, W, plasticity=STDP(w_max=w_max))
        return net

    def weights_agree(a, b, na, nb):
        return {**_spikes_agree(a, b, na, nb),
                "w_max_rel_diff": float(abs(na.dyn_w - nb.dyn_w).max() / abs(na.dyn_w).max())}

    rows = _network_rows(lambda n: f"STDP (Song 2000), {n} neurons x {k} inputs",
                         [2] if quick else [10, 20, 40, 80], song, T, repeats, weights_agree)

    def coba_stp(n, b):
        net = Network(1e-4, seed=0, backend=b)
        R = 1e8
        kw = dict(tau_m=20e-3, v_rest=-60e-3, v_th=-50e-3, v_reset=-60e-3, t_ref=5e-3, R=R,
                  synapse="conductance", tau_e=5e-3, tau_i=10e-3, E_e=0.0, E_i=-80e-3,
                  I=20e-3 / R, v0=(-60e-3, -50e-3))
        n_e = int(round(0.8 * n))
        exc = net.add(LIF(n_e, name="exc", **kw))
        inh = net.add(LIF(n - n_e, name="inh", **kw))
        rule = STP(U=0.2, tau_rec=0.2, tau_facil=0.05)
        for src, w, ch in ((exc, 0.6 / R / 0.2, "e"), (inh, 6.7 / R / 0.2, "i")):
            for dst in (exc, inh):
                net.connect(src, dst, p=min(0.2, 80.0 / n), weights=w, channel=ch, self_loops=True,
                            plasticity=rule)
        return net

    rows += _network_rows(lambda n: f"COBA with STP, {n} neurons", [40] if quick else
                          [4000, 16000, 32000, 64000], coba_stp, T, repeats, weights_agree)
    return rows


def neurons(quick, repeats):
    """COBAHH (Hodgkin-Huxley, :func:`neurosim.spiking.classic.cobahh`) and the same wiring of
    AdEx neurons (conductance synapses, Brette-Gerstner parameters driven by 0.7 nA), one
    second each, 4000-64000 neurons."""
    from neurosim.spiking import AdEx, Network
    from neurosim.spiking.classic import _balanced, cobahh

    _tiny_grids(quick)
    T = 2e-3 if quick else 1.0
    sizes = [20] if quick else [4000, 16000, 32000, 64000]
    rows = _network_rows(lambda n: f"COBAHH {n} neurons", sizes,
                         lambda n, b: _on(cobahh(n, p=min(0.2, 80.0 / n), seed=0), b), T,
                         repeats, _spikes_agree)

    def adex(n, b):
        net = Network(1e-4, seed=0, backend=b)
        n_e = int(round(0.8 * n))
        kw = dict(synapse="conductance", I=0.7e-9, v0=(-70e-3, -55e-3))
        exc = net.add(AdEx(n_e, name="exc", **kw))
        inh = net.add(AdEx(n - n_e, name="inh", **kw))
        _balanced(net, exc, inh, n, min(0.2, 80.0 / n), 6e-9, 67e-9)
        return net

    rows += _network_rows(lambda n: f"AdEx (conductance) {n} neurons", sizes, adex, T, repeats,
                          _spikes_agree)
    return rows


CASES = {"sk": sk, "rbm": rbm, "markov": markov, "cuba": cuba, "esn": esn, "plastic": plastic,
         "neurons": neurons}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="*", default=list(CASES), choices=list(CASES))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (checks the script)")
    args = parser.parse_args()
    out = {"benchmark": "gpu", "machine": platform.processor() or platform.machine(),
           "gpu": _gpu_name(), "rows": []}
    for name in args.cases:
        for row in np.atleast_1d(CASES[name](args.quick, args.repeats)):
            out["rows"].append({"family": name, **row})
            print(json.dumps(out["rows"][-1]), flush=True)
    print(json.dumps(out, indent=1))


def _gpu_name():
    if not backend.cuda_available():
        return None
    from numba import cuda

    name = getattr(cuda.get_current_device(), "name", "CUDA simulator")
    return name.decode() if isinstance(name, bytes) else str(name)


if __name__ == "__main__":
    main()
