"""Capacity of the Hopfield network: final overlap against the load alpha = P/N.

Hebbian learning of P random +-1 patterns in N units; each stored pattern is used as its own
cue, recalled asynchronously at zero temperature, and the final overlap m with that pattern is
averaged over patterns and seeds. Retrieval holds (m close to 1) below the critical load
alpha_c = 0.138 of Amit, Gutfreund and Sompolinsky (1985) and collapses above it; the figure
shows the replica-symmetric theory m(alpha) beside the simulation. Writes
``hopfield_capacity.png`` and ``hopfield_capacity.nc`` to ``--out``.

    python examples/hopfield_capacity.py --out out/ [--n 500] [--seeds 4]
"""
import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy.optimize import brentq  # noqa: E402
from scipy.special import erf  # noqa: E402

from neurosim import record  # noqa: E402
from neurosim.datasets import random_patterns  # noqa: E402
from neurosim.energy import HopfieldNetwork  # noqa: E402

ALPHA_C = 0.138


def overlap_theory(alpha):
    """Retrieval overlap m(alpha) of Amit, Gutfreund and Sompolinsky at T = 0 (0 past alpha_c).

    With y = m / sqrt(2 alpha r), the saddle-point equations reduce to
    erf(y) = y (sqrt(2 alpha) + 2/sqrt(pi) exp(-y^2)); m = erf(y) at its largest root.
    """
    def f(y):
        return erf(y) - y * (np.sqrt(2 * alpha) + 2 / np.sqrt(np.pi) * np.exp(-y * y))

    ys = np.linspace(1e-3, 10, 4000)
    fy = f(ys)
    if fy.max() <= 0:
        return 0.0
    return float(erf(brentq(f, ys[fy.argmax()], 30.0)))


def final_overlaps(n, alpha, seed):
    """Final overlap of each stored pattern with itself after recall from it: (P,)."""
    P = max(1, int(round(alpha * n)))
    xi = random_patterns(P, n, seed=seed)
    net = HopfieldNetwork(n, rule="hebbian", seed=seed).store(xi)
    ds = net.recall(xi, record="final", max_sweeps=50)
    last = ds.overlap.isel(sweep=-1).values  # (cue, pattern)
    return np.diagonal(last)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="out", help="output folder (default: out/)")
    ap.add_argument("--n", type=int, default=500, help="number of units N (default 500)")
    ap.add_argument("--seeds", type=int, default=4, help="independent networks per load (default 4)")
    ap.add_argument("--quick", action="store_true", help="smaller, faster run (for tests)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.quick:
        n, seeds, alphas = 120, 1, np.array([0.05, 0.1, 0.2, 0.3])
    else:
        n, seeds = args.n, args.seeds
        alphas = np.round(np.concatenate([np.arange(0.02, 0.1, 0.02), np.arange(0.1, 0.185, 0.01),
                                          [0.2, 0.225, 0.25, 0.3]]), 3)

    m = np.full((alphas.size, seeds), np.nan)
    for a, alpha in enumerate(alphas):
        for s in range(seeds):
            m[a, s] = final_overlaps(n, alpha, seed=1000 * s + a).mean()
        print(f"alpha={alpha:.3f}  P={max(1, int(round(alpha * n))):4d}  "
              f"m={m[a].mean():.3f} +- {m[a].std():.3f}")
    theory = np.array([overlap_theory(a) for a in alphas])

    ds = record.dataset(
        {"overlap": (("alpha", "seed"), m, {"long_name": "mean final overlap with the cued pattern",
                                            "units": "1"}),
         "overlap_theory": (("alpha",), theory, {"long_name": "AGS replica-symmetric m(alpha), T=0",
                                                 "units": "1"})},
        {"alpha": ("alpha", alphas, {"long_name": "load P/N", "units": "1"}), "seed": np.arange(seeds)},
        family="HN", model="HopfieldNetwork", params={"rule": "hebbian", "n_units": n, "alpha_c": ALPHA_C})
    ds.to_netcdf(out / "hopfield_capacity.nc")

    fig, ax = plt.subplots(figsize=(5.5, 3.6), layout="constrained")
    fine = np.linspace(0.005, alphas.max(), 300)
    branch = np.array([overlap_theory(a) for a in fine])
    branch[branch == 0] = np.nan  # past alpha_c the retrieval state no longer exists
    ax.plot(fine, branch, color="0.4", lw=1.5, label="retrieval state, theory (AGS 1985)")
    ax.errorbar(alphas, m.mean(1), yerr=m.std(1) if seeds > 1 else None, fmt="o-", ms=4, capsize=2,
                label=f"neurosim, N={n}, {seeds} seed{'s' * (seeds > 1)}")
    ax.axvline(ALPHA_C, color="C3", ls="--", lw=1, label=r"$\alpha_c = 0.138$")
    ax.set_xlabel(r"load $\alpha = P/N$")
    ax.set_ylabel("final overlap m")
    ax.set_ylim(-0.02, 1.05)
    ax.set_title("Hopfield capacity (Hebbian, recall from stored patterns)")
    ax.legend(fontsize="small", frameon=False, loc="lower left")
    png = out / "hopfield_capacity.png"
    fig.savefig(png, dpi=60 if args.quick else 110)
    plt.close(fig)
    print("wrote", png)
    print("wrote", out / "hopfield_capacity.nc")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
