"""Plots and animations of network dynamics, built from result Datasets.

``state_grid`` draws a state as an image; ``curve``, ``energy_curve`` and ``overlap_curve`` plot
any variable against its sweep (or step/epoch) dim; ``recall_grid`` summarises a recall;
``image_strip`` and ``animate_images`` show a sequence of images (samples per epoch, an
interpolation, a traversal);
``animate_recall`` and ``save_animation`` make and save a GIF; ``sweep_figure`` draws a sweep
result over its grid (:mod:`neurosim.viz.sweeps`) and ``default_figure`` picks a figure for any
result Dataset (what ``neurosim plot`` draws); ``node_map`` draws a built model in the Zoo
poster's notation and ``zoo_poster`` the poster from a small model of every family
(:mod:`neurosim.viz.nodemap`). Library code never calls ``plt.show``; pick a
backend (e.g. Agg) in scripts.
"""
from .animate import animate_images, animate_recall, save_animation  # noqa: F401
from .plots import (confusion_matrix, curve, energy_curve, image_strip, overlap_curve,  # noqa: F401
                    recall_grid, state_grid)
from .sweeps import sweep_figure  # noqa: F401
from .default import default_figure  # noqa: F401
from .nodemap import node_map, zoo_poster  # noqa: F401
from . import reservoir  # noqa: F401,E402
