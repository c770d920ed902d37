"""Echo state network on the Mackey-Glass series: one-step-ahead prediction and closed-loop
generation.

Trains a 500-unit ESN (leak 0.3, spectral radius 1.25, ridge 1e-7: the benchmark's settings) on
Mackey-Glass (tau = 17) rescaled to [-1, 1], then writes to ``--out``:

- ``esn_mg_states.png``: a few reservoir state trajectories driven by the series;
- ``esn_mg_prediction.png``: one-step-ahead prediction on the test part against the truth;
- ``esn_mg_generation.png`` and ``esn_mg_generation.gif``: 500 steps of closed-loop generation
  (the ESN running on its own output) against the truth;
- ``esn_mg_generation.nc``: the generation Dataset.

    python examples/esn_mackey_glass.py --out out/ [--units 500] [--seed 1] [--quick]
"""
import argparse
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from neurosim import metrics, record, viz  # noqa: E402
from neurosim.datasets import mackey_glass  # noqa: E402
from neurosim.reservoir import ESN, EchoStateWarning  # noqa: E402
from neurosim.viz import reservoir as rviz  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="out", help="output folder (default: out/)")
    ap.add_argument("--units", type=int, default=500)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="smaller, faster run (for tests)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    n_train, n_test, n_gen = (2000, 500, 200) if args.quick else (8000, 1999, 500)
    X = mackey_glass(n_train + n_test + 1)
    X = 2 * (X - X.min()) / (X.max() - X.min()) - 1

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EchoStateWarning)  # 1.25 works here: the input drives it
        esn = ESN(args.units, leak=0.3, spectral_radius=1.25, ridge=1e-7, seed=args.seed)

    states = esn.states(X[:300], record={"index": list(range(8))})
    ax = rviz.trajectories(states, 8)
    ax.figure.tight_layout()
    ax.figure.savefig(out / "esn_mg_states.png", dpi=110)
    plt.close(ax.figure)

    esn.fit(X[:n_train], X[1:n_train + 1], washout=100)
    end_state = esn.state_.copy()
    pred = esn.predict(X[n_train:-1])
    err = metrics.nrmse(X[n_train + 1:], pred)
    axes = rviz.prediction(X[n_train + 1:n_train + 301], pred[:300], t0=n_train + 1,
                           title=f"one-step-ahead prediction, test NRMSE {err:.2e}")
    axes[0].figure.tight_layout()
    axes[0].figure.savefig(out / "esn_mg_prediction.png", dpi=110)
    plt.close(axes[0].figure)

    esn.state_ = end_state  # generate from the end of training
    ds = esn.generate(n_gen, record={"index": list(range(8))})  # every step, 8 units' states
    truth = X[n_train + 1:n_train + 1 + n_gen, 0]
    full = ds["prediction"].values[:, 0]
    e100 = metrics.nrmse(truth[:100], full[:100])
    axes = rviz.prediction(truth, full, t0=n_train + 1,
                           title=f"closed-loop generation: NRMSE {e100:.2e} (100 steps), "
                                 f"{metrics.nrmse(truth, full):.2e} ({n_gen})")
    axes[0].figure.tight_layout()
    axes[0].figure.savefig(out / "esn_mg_generation.png", dpi=110)
    plt.close(axes[0].figure)
    anim = rviz.animate_generation(truth, full, context=X[n_train - 100:n_train + 1, 0],
                                   frames=40 if args.quick else 80)
    viz.save_animation(anim, out / "esn_mg_generation.gif", fps=12, dpi=70)
    plt.close("all")
    record.save(ds, out / "esn_mg_generation.nc")
    print(f"test NRMSE {err:.3e}; closed loop NRMSE {e100:.3e} (100 steps); files in {out}/")


if __name__ == "__main__":
    main()
