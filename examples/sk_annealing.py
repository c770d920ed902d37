"""Simulated annealing of a Sherrington-Kirkpatrick spin glass.

Anneals an SK instance (``J_ij ~ N(0, 1/N)``) with several independent reads, Metropolis and
heat-bath moves, recording the energy and magnetisation after every sweep, and writes to
``--out``:

- ``sk_annealing.png``: energy per spin against temperature for every read (with Parisi's
  infinite-N ground-state energy -0.7633), and the energy per spin along the sweeps;
- ``sk_annealing.gif``: the same energy-temperature curves drawn as the temperature falls;
- ``sk_annealing.nc``: the annealing Dataset.

    python examples/sk_annealing.py --out out/ [--n 400] [--sweeps 1000] [--reads 8]
"""
import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.animation import FuncAnimation  # noqa: E402

from neurosim import viz  # noqa: E402
from neurosim.energy.annealing import IsingAnnealer, sk_couplings  # noqa: E402

PARISI = -0.7633


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="out", help="output folder (default: out/)")
    ap.add_argument("--n", type=int, default=400, help="number of spins")
    ap.add_argument("--sweeps", type=int, default=1000)
    ap.add_argument("--reads", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="smaller, faster run (for tests)")
    args = ap.parse_args(argv)
    if args.quick:
        args.n, args.sweeps, args.reads = 100, 200, 4
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    J = sk_couplings(args.n, seed=args.seed)
    annealer = IsingAnnealer(J, seed=args.seed + 1)
    runs = {m: annealer.anneal(sweeps=args.sweeps, reads=args.reads, beta_range=(0.1, 5.0), method=m, trace=True)
            for m in ("metropolis", "heat_bath")}
    ds = runs["metropolis"]
    ds.to_netcdf(out / "sk_annealing.nc")
    for m, r in runs.items():
        e = r.energy.values / args.n
        print(f"{m:10s}: energy per spin mean {e.mean():.4f}, best {e.min():.4f} (Parisi {PARISI})")

    T = 1.0 / ds.beta.values
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    for m, r in runs.items():
        e = r.energy_trace.values / args.n
        colour = "C0" if m == "metropolis" else "C1"
        ax1.plot(T, e.T, color=colour, alpha=0.5, lw=0.8)
        ax2.plot(r.sweep.values, e.T, color=colour, alpha=0.5, lw=0.8)
        ax1.plot([], [], color=colour, label=m)
    for ax in (ax1, ax2):
        ax.axhline(PARISI, color="k", ls="--", lw=0.8, label="Parisi -0.7633")
        ax.set_ylabel("energy per spin")
    ax1.set_xscale("log")
    ax1.invert_xaxis()
    ax1.set_xlabel("temperature T = 1/beta (falling)")
    ax1.legend()
    ax2.set_xlabel("sweep")
    fig.suptitle(f"SK model, N = {args.n}: {args.reads} reads, {args.sweeps} sweeps, beta 0.1 to 5")
    fig.tight_layout()
    fig.savefig(out / "sk_annealing.png", dpi=60 if args.quick else 100)
    plt.close(fig)

    e = ds.energy_trace.values / args.n
    frames = np.unique(np.linspace(1, e.shape[1], 25 if args.quick else 60).astype(int))
    fig, ax = plt.subplots(figsize=(5, 4))
    lines = [ax.plot([], [], lw=1)[0] for _ in range(e.shape[0])]
    ax.axhline(PARISI, color="k", ls="--", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlim(T[0], T[-1])
    ax.set_ylim(e.min() - 0.05, max(0.05, e.max() + 0.05))
    ax.set_xlabel("temperature T (falling)")
    ax.set_ylabel("energy per spin")
    title = ax.set_title("")

    def draw(k):
        for line, row in zip(lines, e):
            line.set_data(T[:k], row[:k])
        title.set_text(f"sweep {k}, T = {T[k - 1]:.2f}")
        return lines

    anim = FuncAnimation(fig, draw, frames=frames, interval=100)
    viz.save_animation(anim, out / "sk_annealing.gif", fps=10, dpi=50 if args.quick else 70)
    plt.close(fig)
    print(f"wrote {out / 'sk_annealing.png'}, {out / 'sk_annealing.gif'}, {out / 'sk_annealing.nc'}")


if __name__ == "__main__":
    main()
