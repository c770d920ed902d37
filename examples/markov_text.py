"""n-gram Markov chains on public-domain text (the Gettysburg Address and the Declaration of
Independence, bundled).

Fits character chains of orders 1 to 5 and a word chain, generates text from each, and writes to
``--out``:

- ``markov_text.txt``: the generated samples;
- ``markov_text.png``: the letter chain's stationary distribution beside the letter
  frequencies of the text, its convergence to stationarity in total variation, and the number
  of states and the transition density per order.

    python examples/markov_text.py --out out/ [--length 400] [--seed 0]
"""
import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from neurosim.datasets import us_text  # noqa: E402
from neurosim.markov import MarkovChain, ngram_text  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="out", help="output folder (default: out/)")
    ap.add_argument("--length", type=int, default=400, help="characters (or words) per sample")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="smaller, faster run (for tests)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    text = us_text("gettysburg" if args.quick else "all")
    text = " ".join(text.split()) + " "  # one line (paragraphs become spaces); the loop ends in a space
    samples, sizes = [], []
    orders = (1, 2, 3) if args.quick else (1, 2, 3, 4, 5)
    for order in orders:
        mc = MarkovChain.from_ngrams(text, order=order, seed=args.seed)
        path = mc.simulate(args.length - order, start=int(np.flatnonzero(mc.labels == text[:order])[0]))
        samples.append((f"characters, order {order} ({mc.n_states} states)", ngram_text(mc, path.path[0].values)))
        nnz = mc.P.nnz if mc.is_sparse else int(np.count_nonzero(mc.P))
        sizes.append((order, mc.n_states, nnz / mc.n_states))
    words = MarkovChain.from_ngrams(text.split(), order=2, seed=args.seed)
    wpath = words.simulate(args.length // 6, start=int(np.flatnonzero(words.labels == " ".join(text.split()[:2]))[0]))
    samples.append((f"words, order 2 ({words.n_states} states)", ngram_text(words, wpath.path[0].values)))

    with open(out / "markov_text.txt", "w", encoding="utf-8") as f:
        for title, body in samples:
            f.write(f"== {title}\n{body}\n\n")
    for title, body in samples:
        print(f"== {title}\n{body[:300]}\n")

    # analysis of the order-1 chain on characters
    mc1 = MarkovChain.from_ngrams(text, order=1, seed=args.seed)
    pi = mc1.stationary()
    freq = np.array([text.count(ch) for ch in mc1.labels]) / len(text)
    tv = mc1.tv_distance(12)
    t_mix = mc1.mixing_time(0.01)

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2), gridspec_kw={"width_ratios": [2.2, 1, 1]})
    x = np.arange(mc1.n_states)
    axes[0].bar(x - 0.2, pi, 0.4, label="stationary distribution")
    axes[0].bar(x + 0.2, freq, 0.4, label="frequency in the text")
    axes[0].set_xticks(x, [str(c) if c != " " else "␣" for c in mc1.labels], fontsize=7)
    axes[0].set_ylabel("probability")
    axes[0].set_title("order-1 character chain")
    axes[0].legend()
    for k in range(tv.sizes["start"]):
        axes[1].semilogy(tv.step, tv.tv[k], color="0.7", lw=0.6)
    axes[1].semilogy(tv.step, tv.worst, "k", lw=2, label="worst start d(t)")
    axes[1].axvline(t_mix, color="C3", ls="--", label=f"mixing time (eps 0.01) = {t_mix}")
    axes[1].set_xlabel("step")
    axes[1].set_ylabel("total variation to stationarity")
    axes[1].legend(fontsize=8)
    o, n, d = np.array(sizes).T
    axes[2].semilogy(o, n, "o-", label="states")
    axes[2].semilogy(o, d, "s-", label="successors per state")
    axes[2].set_xlabel("order")
    axes[2].legend()
    axes[2].set_title("n-gram chains")
    fig.tight_layout()
    png = out / "markov_text.png"
    fig.savefig(png, dpi=60 if args.quick else 100)
    plt.close(fig)
    print(f"wrote {png} and {out / 'markov_text.txt'}")
    return png


if __name__ == "__main__":
    main()
