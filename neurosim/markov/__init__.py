"""Markov chains (zoo family MC): discrete-time chains on a finite state space and
continuous-time chains given by a rate matrix.

``MarkovChain(P)`` takes a row-stochastic transition matrix, dense or ``scipy.sparse``. It
simulates one long chain or many chains in parallel (compiled, one random stream per chain, O(1)
alias-table sampling per step), analyses the chain exactly (stationary distributions,
communication classes, recurrence, periods, absorption, hitting times, convergence in total
variation and the mixing time) and fits a chain to observed sequences (``fit``) or to n-grams of
a text (``from_ngrams``). ``ContinuousMarkovChain(Q)`` takes a rate matrix; it simulates by the
Gillespie algorithm and computes transient probabilities by uniformisation.

Conventions: states are ``0 .. n-1`` (optional ``labels`` name them); distributions are row
vectors, ``p_{t+1} = p_t P``; simulated paths are ``int64`` state indices; times are seconds and
rates 1/s.

Rooms, one concern each:

- :mod:`.chain`: :class:`MarkovChain`, its simulation and distribution over time, save/load;
- :mod:`.structure`: classes, periods, stationary distributions, absorption and hitting
  (through the graph helper :mod:`neurosim.graph`);
- :mod:`.fit`: estimation from sequences and n-grams, :func:`ngram_text`;
- :mod:`.continuous`: :class:`ContinuousMarkovChain` and its Gillespie paths.
"""
from .. import config as _config
from .chain import MarkovChain
from .continuous import ContinuousMarkovChain
from .fit import ngram_text

__all__ = ["MarkovChain", "ContinuousMarkovChain", "ngram_text"]


def __getattr__(name):
    # the old module constant, now the tunable config.MARKOV_DENSE_SOLVE_MAX (read live)
    if name == "DENSE_SOLVE_MAX":
        return _config.MARKOV_DENSE_SOLVE_MAX
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
