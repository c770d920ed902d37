"""Patterns for associative memories: bundled letter bitmaps, random patterns and noisy cues.

Every pattern here is ``int8`` with values +-1 (bipolar), one pattern per row, so that it can be
stored in a Hopfield network as it is.
"""
from importlib import resources
import string

import numpy as np

from .. import checks, rng

_LETTERS = None  # parsed letters.txt, cached: (names tuple, int8 array (26, H, W))


def _parse_letters(text):
    """Parse the letters file: a name line, then rows of '#' and '.', all of one size."""
    names, bitmaps, rows, shape = [], [], None, None

    def close(name, rows):
        if rows is None:
            return
        if not rows:
            raise ValueError(f"letters.txt: letter {name!r} has no rows")
        widths = {len(r) for r in rows}
        here = (len(rows), len(rows[0]))
        if len(widths) != 1:
            raise ValueError(f"letters.txt: letter {name!r} has rows of different widths {sorted(widths)}")
        nonlocal shape
        if shape is None:
            shape = here
        elif here != shape:
            raise ValueError(f"letters.txt: letter {name!r} is {here}, the others {shape}")
        bitmaps.append([[1 if c == "#" else -1 for c in r] for r in rows])

    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("# "):
            continue
        if set(line) <= {"#", "."}:
            if rows is None:
                raise ValueError(f"letters.txt: bitmap row {line!r} before any letter name")
            rows.append(line)
        else:
            close(names[-1] if names else None, rows)
            names.append(line)
            rows = []
    close(names[-1] if names else None, rows)
    return tuple(names), np.asarray(bitmaps, dtype=np.int8), shape


def _letters():
    global _LETTERS
    if _LETTERS is None:
        text = resources.files("neurosim").joinpath("data", "letters.txt").read_text(encoding="ascii")
        _LETTERS = _parse_letters(text)
    return _LETTERS


def letters(names=None):
    """Bundled capital-letter bitmaps (12x12, hand-drawn, in ``neurosim/data/letters.txt``).

    ``names``: None for all 26 letters A..Z, a string such as ``"HOPE"`` (one letter per
    character), or a sequence of one-letter strings; case-insensitive, repeats allowed.

    Returns ``(patterns, shape, names)``: ``patterns`` int8 of shape (P, H*W) with values +-1
    (+1 = ink, rows are the bitmaps in row-major order), ``shape`` the bitmap shape ``(H, W)``
    to pass to :func:`neurosim.viz.state_grid`, and ``names`` a tuple of the P letters.
    """
    all_names, bitmaps, shape = _letters()
    if names is None:
        chosen = list(all_names)
    else:
        if isinstance(names, str):
            chosen = list(names)
        else:
            try:
                chosen = list(names)
            except TypeError:
                raise TypeError(f"names must be None, a string of letters or a sequence of letters; "
                                f"got {type(names).__name__}") from None
        if not chosen:
            raise ValueError("names must name at least one letter; got an empty selection")
        for c in chosen:
            if not isinstance(c, str) or len(c) != 1 or c.upper() not in string.ascii_uppercase:
                raise ValueError(f"names must hold single letters A..Z; got {c!r}")
        chosen = [c.upper() for c in chosen]
    index = [all_names.index(c) for c in chosen]
    h, w = shape
    patterns = bitmaps[index].reshape(len(index), h * w).copy()
    return patterns, (h, w), tuple(chosen)


def _pattern_values(p, name):
    """'bipolar' (+-1) or 'binary' (0/1) for an integer-valued pattern array; else ValueError."""
    values = np.unique(p)
    if np.all(np.isin(values, (-1, 1))):
        return "bipolar"
    if np.all(np.isin(values, (0, 1))):
        return "binary"
    shown = values[:6].tolist()
    raise ValueError(f"{name} must hold +-1 (or 0/1) values only; got values {shown}"
                     f"{' ...' if values.size > 6 else ''}")


def noisy(patterns, flip, seed=None):
    """Cues made from ``patterns`` by flipping exactly ``round(flip * N)`` distinct units of each.

    ``patterns``: (P, N) or (N,) of +-1 (or 0/1, flipped as 1 - x). ``flip``: fraction in
    [0, 1]. The flipped units of each pattern are a uniformly random subset, drawn from ``seed``.
    Returns int8 cues of the same shape (the WORKLOADS.md Hopfield cue definition).
    """
    p = checks.array(patterns, "patterns", ndim=(1, 2), dtype=None)
    kind = _pattern_values(p, "patterns")
    flip = checks.scalar(flip, "flip", low=0.0, high=1.0)
    single = p.ndim == 1
    p2 = p.reshape(1, -1) if single else p
    P, N = p2.shape
    k = int(round(flip * N))
    g = rng.generator(seed)
    # the first k units of an independent uniform random permutation of each row
    order = np.argsort(g.random((P, N)), axis=1, kind="stable")[:, :k]
    mask = np.zeros((P, N), dtype=bool)
    np.put_along_axis(mask, order, True, axis=1)
    cues = p2.astype(np.int8)
    if kind == "bipolar":
        cues[mask] = -cues[mask]
    else:
        cues[mask] = 1 - cues[mask]
    return cues[0] if single else cues


def random_patterns(P, N, seed=None, bias=0.0):
    """``P`` random +-1 patterns of ``N`` units: int8 (P, N), each unit +1 with probability
    ``(1 + bias) / 2`` independently (``bias`` in [-1, 1] is the mean activity)."""
    P = checks.integer(P, "P", low=1)
    N = checks.integer(N, "N", low=1)
    bias = checks.scalar(bias, "bias", low=-1.0, high=1.0)
    g = rng.generator(seed)
    return np.where(g.random((P, N)) < (1.0 + bias) / 2.0, 1, -1).astype(np.int8)
