"""The Neural Network Zoo poster, drawn from working models: a node map per family.

Builds a small model of every family neurosim implements (``neurosim.zoo.tiny_model``), reads
each one's groups of cells and connections from the model itself (``neurosim.zoo.wiring``) and
draws them in the poster's notation, one colour per cell kind of its "cells and layers"
catalogue. Writes to ``--out``:

- ``zoo_poster.png``: the poster, one map per family, with the catalogue's legend;
- ``zoo_node_map_esn.png``: a full-size deep ESN (a 300- and a 100-unit reservoir): large
  layers drawn as a few representative cells with their true size, and only the pairs the
  reservoir's sparse matrices connect joined.

    python examples/zoo_poster.py --out out/
"""
import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from neurosim import viz, zoo  # noqa: E402
from neurosim.reservoir import ESN  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="out", help="output folder (default: out/)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    fig = viz.zoo_poster()
    fig.savefig(out / "zoo_poster.png", dpi=80)
    plt.close(fig)

    esn = ESN([300, 100], n_inputs=3, n_outputs=2, connectivity=0.05, input_connectivity=0.3, seed=0)
    ax = viz.node_map(esn, max_cells=7, title="A deep ESN (300 + 100 units), drawn from its matrices")
    ax.figure.savefig(out / "zoo_node_map_esn.png", dpi=110, bbox_inches="tight")
    plt.close(ax.figure)
    drawn = sum(f.implementation is not None for f in zoo.families())
    print(f"{drawn} families drawn; files in {out}/")


if __name__ == "__main__":
    main()
