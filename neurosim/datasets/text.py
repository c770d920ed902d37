"""Bundled public-domain texts (US government documents, typed in) for n-gram Markov chains.

The texts live in ``neurosim/data/us_texts.txt`` (sources in that folder's README), one section
per text under a ``=== name`` line.
"""
from importlib import resources

TEXTS = ("gettysburg", "declaration")


def _sections():
    raw = resources.files("neurosim").joinpath("data", "us_texts.txt").read_text(encoding="utf-8")
    out = {}
    for block in raw.split("=== ")[1:]:
        name, _, body = block.partition("\n")
        out[name.strip()] = body.strip()
    return out


def us_text(name="all"):
    """A bundled text as one ``str``: ``"gettysburg"`` (the Gettysburg Address, Bliss copy,
    about 1,500 characters), ``"declaration"`` (the Declaration of Independence, about
    8,000) or ``"all"`` (both, separated by a blank line). Paragraphs are separated by blank
    lines."""
    sections = _sections()
    if name == "all":
        return "\n\n".join(sections[k] for k in TEXTS)
    if name not in sections:
        raise ValueError(f"name must be one of {TEXTS + ('all',)}; got {name!r}")
    return sections[name]
