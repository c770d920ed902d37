"""Markov chains from data: maximum-likelihood fits to observed sequences and n-gram chains
of text, and text back from an n-gram chain's path.

:class:`Fitting` is a mixin of :class:`neurosim.markov.MarkovChain` (its classmethods build the
chain through ``cls(P, labels=..., seed=..., backend=...)``).
"""
import numpy as np
import scipy.sparse as sp

from .. import backend as _backend
from .. import checks, config

__all__ = ["ngram_text"]


class Fitting:
    """Classmethods that estimate a chain: :meth:`fit` and :meth:`from_ngrams`."""

    @classmethod
    def fit(cls, sequences, n_states=None, *, smoothing=0.0, labels=None, seed=None, backend="cpu"):
        """Maximum-likelihood chain from observed sequences (transition counts + ``smoothing``).

        ``sequences``: one sequence (a list or 1-D array of states, or a string of characters)
        or a list of such sequences (transitions are not counted across them). Integer states are used
        as they are (``n_states`` defaults to the largest + 1); other tokens (e.g. strings)
        become states in sorted order, kept as ``labels``. ``smoothing`` (>= 0) is added to
        every count (Laplace/Lidstone). Rows without any observed transition become uniform.
        The chain is dense with smoothing or up to ``config.MARKOV_FIT_DENSE_MAX`` (1000)
        states, sparse beyond; it keeps the counts in ``counts`` (dense or sparse). ``seed`` and
        ``backend`` are the chain's (see :class:`MarkovChain`).
        """
        smoothing = checks.scalar(smoothing, "smoothing", low=0)
        backend = _backend.resolve(backend)  # refused (or fallen back) before the counting
        if isinstance(sequences, str) or (isinstance(sequences, np.ndarray) and sequences.ndim == 1) or (
                len(sequences) and not isinstance(sequences[0], (list, tuple, np.ndarray))):
            sequences = [sequences]
        seqs = [np.asarray(list(s) if isinstance(s, str) else s) for s in sequences]
        if not seqs or all(s.size == 0 for s in seqs):
            raise ValueError("sequences must hold at least one non-empty sequence")
        for s in seqs:
            if s.ndim != 1:
                raise ValueError(f"each sequence must be 1-D; got shape {s.shape}")
        numeric = all(np.issubdtype(s.dtype, np.integer) for s in seqs if s.size)
        if numeric and labels is None:
            cat = np.concatenate([s.astype(np.int64) for s in seqs])
            if cat.min() < 0:
                raise ValueError(f"sequences must hold states >= 0; got {cat.min()}")
            top = int(cat.max()) + 1
            n = top if n_states is None else checks.integer(n_states, "n_states", low=1)
            if top > n:
                raise ValueError(f"sequences hold state {top - 1}, outside n_states={n}")
            codes = [s.astype(np.int64) for s in seqs]
        else:
            tokens = np.concatenate([s.astype(str) for s in seqs])
            uniq, inv = np.unique(tokens, return_inverse=True)
            if labels is not None:
                lab = np.asarray(list(labels)).astype(str)
                lookup = {v: i for i, v in enumerate(lab)}
                missing = [u for u in uniq if u not in lookup]
                if missing:
                    raise ValueError(f"sequences hold tokens not in labels: {missing[:5]}")
                inv = np.array([lookup[u] for u in uniq], dtype=np.int64)[inv]
                uniq = lab
            labels = uniq
            n = uniq.shape[0]
            cuts = np.cumsum([s.size for s in seqs])[:-1]
            codes = np.split(inv.astype(np.int64), cuts)
        src = np.concatenate([c[:-1] for c in codes])
        dst = np.concatenate([c[1:] for c in codes])
        counts = sp.csr_array((np.ones(src.size), (src, dst)), shape=(n, n))
        counts.sum_duplicates()
        dense = smoothing > 0 or n <= config.MARKOV_FIT_DENSE_MAX
        if dense:
            C = counts.toarray() + smoothing
            rows = C.sum(axis=1)
            C[rows == 0] = 1.0
            P = C / C.sum(axis=1, keepdims=True)
        else:
            rows = np.asarray(counts.sum(axis=1)).ravel()
            empty = np.flatnonzero(rows == 0)
            fill = sp.csr_array((np.ones(empty.size * n) / n,
                                 (np.repeat(empty, n), np.tile(np.arange(n), empty.size))), shape=(n, n))
            safe = np.where(rows == 0, 1.0, rows)
            P = sp.csr_array(sp.diags_array(1.0 / safe) @ counts) + fill
        chain = cls(P, labels=labels, seed=seed, backend=backend)
        chain.counts = counts.toarray() if dense else counts
        return chain

    @classmethod
    def from_ngrams(cls, tokens, order=1, *, smoothing=0.0, seed=None, backend="cpu"):
        """Order-``order`` n-gram chain: states are the observed runs of ``order`` tokens and a
        step appends one token. ``tokens``: a string (characters) or a sequence of words.

        The chain's labels are the n-grams (joined without a separator for a string, with
        spaces for words); :func:`ngram_text` turns a simulated path back into text.
        """
        order = checks.integer(order, "order", low=1)
        is_text = isinstance(tokens, str)
        toks = np.asarray(list(tokens) if is_text else list(tokens)).astype(str)
        if toks.ndim != 1 or toks.size <= order:
            raise ValueError(f"tokens must hold more than order={order} tokens; got {toks.size}")
        vocab, ids = np.unique(toks, return_inverse=True)
        ids = np.concatenate([ids, ids[:order]])  # read as a loop: every n-gram has a successor
        win = np.lib.stride_tricks.sliding_window_view(ids, order)
        grams, gram_ids = np.unique(win, axis=0, return_inverse=True)
        sep = "" if is_text else " "
        labels = np.array([sep.join(vocab[g]) for g in grams])
        chain = cls.fit([gram_ids.ravel().astype(np.int64)], n_states=grams.shape[0],
                        smoothing=smoothing, seed=seed, backend=backend)
        chain.labels = labels
        chain.ngram = {"order": order, "sep": sep, "last": vocab[grams[:, -1]]}
        return chain


def ngram_text(chain, path):
    """Text from a path of an n-gram chain built by :meth:`MarkovChain.from_ngrams`.

    ``path``: 1-D state numbers (e.g. ``ds.path[0].values``). The first n-gram is written
    whole, then one token per step.
    """
    if not hasattr(chain, "ngram"):
        raise ValueError("chain must come from MarkovChain.from_ngrams")
    path = checks.array(path, "path", ndim=1, dtype=np.int64)
    sep = chain.ngram["sep"]
    head = str(chain.labels[path[0]])
    tail = chain.ngram["last"][path[1:]]
    return head + (sep if sep and tail.size else "") + sep.join(tail)
