"""Shared test settings: non-interactive plotting and a quick hypothesis profile."""
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
    """Ctrl+C pressed during the first chunk of every run: it stops after that chunk."""
    from neurosim import record

    monkeypatch.setattr(record.Run, "pressed", lambda run: run.done > 0)


@pytest.fixture
def ctrl_c_setup(monkeypatch):
    """Ctrl+C pressed while a run sets up: no chunk runs."""
    from neurosim import record

    monkeypatch.setattr(record.Run, "pressed", lambda run: True)
