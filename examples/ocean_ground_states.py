"""neurosim's annealing as a D-Wave Ocean sampler: how often it finds the ground state.

Samples two binary quadratic models built with dimod (a +-1 spin glass, SPIN; a random QUBO
with string labels, BINARY) with :class:`neurosim.energy.ocean.AnnealingSampler` for a range of
``num_sweeps``, finds their exact ground-state energies with ``dimod.ExactSolver``, and plots
the fraction of reads that reach the ground state (with dwave-samplers' simulated annealing
beside it where it is installed; the same keyword arguments). Writes to ``--out``:

- ``ocean_ground_states.png``: ground-state probability against sweeps per read;
- ``ocean_ground_states.nc``: those probabilities as a Dataset.

    python examples/ocean_ground_states.py --out out/ [--n 18] [--reads 100]
"""
import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import dimod  # noqa: E402
from neurosim import record  # noqa: E402
from neurosim.energy.ocean import AnnealingSampler  # noqa: E402


def problems(n, seed):
    """A SPIN spin glass with +-1 couplings and a BINARY QUBO (biases uniform in [-1, 1), half
    the pairs coupled) with string labels."""
    glass = dimod.generators.ran_r(1, n, seed=seed)
    g = np.random.default_rng(seed)
    qubo = dimod.generators.gnp_random_bqm(n, 0.5, "BINARY", random_state=seed,
                                           bias_generator=lambda k: g.uniform(-1, 1, k))
    qubo.relabel_variables({v: f"x{v}" for v in qubo.variables})
    return {"spin glass (SPIN)": glass, "random QUBO (BINARY)": qubo}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="out", help="output folder (default: out/)")
    ap.add_argument("--n", type=int, default=18, help="variables per problem")
    ap.add_argument("--reads", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="smaller, faster run (for tests)")
    args = ap.parse_args(argv)
    sweeps = [1, 2, 5, 10, 20, 50, 100, 200, 500]
    if args.quick:
        args.n, args.reads, sweeps = 12, 40, [1, 5, 20, 100]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        from dwave.samplers import SimulatedAnnealingSampler
        samplers = {"neurosim": AnnealingSampler(), "dwave-samplers": SimulatedAnnealingSampler()}
    except ImportError:
        samplers = {"neurosim": AnnealingSampler()}

    bqms = problems(args.n, args.seed)
    p = np.zeros((len(bqms), len(samplers), len(sweeps)))
    for a, (name, bqm) in enumerate(bqms.items()):
        ground = dimod.ExactSolver().sample(bqm).first.energy
        for b, sampler in enumerate(samplers.values()):
            for c, s in enumerate(sweeps):
                ss = sampler.sample(bqm, num_reads=args.reads, num_sweeps=s, seed=args.seed + c)
                assert np.allclose(ss.record.energy, bqm.energies(ss))   # dimod's energies
                p[a, b, c] = np.mean(ss.record.energy < ground + 1e-9)
        print(f"{name}: ground energy {ground:g}; P(ground) at {sweeps[-1]} sweeps: "
              + ", ".join(f"{k} {p[a, b, -1]:.2f}" for b, k in enumerate(samplers)))
    attrs = {"long_name": "fraction of reads in a ground state", "units": "1"}
    ds = record.dataset({"p_ground": (("problem", "sampler", "num_sweeps"), p, attrs)},
                        {"problem": list(bqms), "sampler": list(samplers), "num_sweeps": sweeps},
                        family="BM", model="AnnealingSampler", params={"n": args.n, "num_reads": args.reads},
                        seed=args.seed)
    ds.to_netcdf(out / "ocean_ground_states.nc")

    fig, axes = plt.subplots(1, len(bqms), figsize=(5 * len(bqms), 3.8), sharey=True)
    for ax, name in zip(axes, bqms):
        for b, k in enumerate(samplers):
            ax.plot(sweeps, ds.p_ground.sel(problem=name, sampler=k), "o-", label=k)
        ax.set_xscale("log")
        ax.set_xlabel("num_sweeps")
        ax.set_title(f"{name}, n = {args.n}")
    axes[0].set_ylabel("P(ground state)")
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(out / "ocean_ground_states.png", dpi=60 if args.quick else 100)
    plt.close(fig)
    print(f"wrote {out / 'ocean_ground_states.png'}, {out / 'ocean_ground_states.nc'}")


if __name__ == "__main__":
    main()
