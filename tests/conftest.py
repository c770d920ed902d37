"""Shared test settings: non-interactive plotting and a quick hypothesis profile."""
import contextlib
import os

import matplotlib
import pytest

matplotlib.use("Agg")

try:
    from hypothesis import settings

    settings.register_profile("neurosim", max_examples=40, deadline=None)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "neurosim"))
except ImportError:  # hypothesis is in the test extra; tests that need it import it themselves
    pass


@pytest.fixture
def ctrl_c(monkeypatch):
    """Chunked runs see Ctrl+C as already pressed: they stop after their first chunk."""
    from neurosim import record

    @contextlib.contextmanager
    def pressed():
        class Flag:
            requested = True
        yield Flag()

    monkeypatch.setattr(record, "interruptible", pressed)
