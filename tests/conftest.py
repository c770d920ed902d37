"""Shared test settings: non-interactive plotting and a quick hypothesis profile."""
import os

import matplotlib

matplotlib.use("Agg")

try:
    from hypothesis import settings

    settings.register_profile("neurosim", max_examples=40, deadline=None)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "neurosim"))
except ImportError:  # hypothesis is in the test extra; tests that need it import it themselves
    pass
