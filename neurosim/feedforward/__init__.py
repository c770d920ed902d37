"""Deprecated alias of :mod:`neurosim.deep`: the feed-forward families moved there.

``neurosim.feedforward`` gives the same names (and its modules, e.g.
``neurosim.feedforward.gan``, the same modules) as before, with a DeprecationWarning.
"""
import sys

from neurosim.deep import (CapsNet, DCIGN, GAN, RBF, Autoencoder,  # noqa: F401
                           DenoisingAutoencoder, GaussianCode, Perceptron, RBFNetwork,
                           SparseAutoencoder, VariationalAutoencoder, as_images, capsnet,
                           class_means, conv_gan, deconvolutional, dense_gan, feature_maps,
                           generate, gradient_norms, kmeans, lenet, mlp, residual_network)
from neurosim.deep._moved import warn

warn(__name__)

# the modules the old package had as attributes; mlp and capsnet were, and stay, the functions
# (their modules are registered here, so that importing them cannot turn the names into modules)
for _name in ("perceptron", "rbf", "cnn", "deconv", "residual", "autoencoder", "gan", "dcign"):
    globals()[_name] = sys.modules[f"neurosim.deep.{_name}"]
for _name in ("mlp", "capsnet"):
    sys.modules[f"{__name__}.{_name}"] = sys.modules[f"neurosim.deep.{_name}"]
del _name, sys, warn

__all__ = ["mlp", "Perceptron", "RBF", "RBFNetwork", "kmeans", "as_images", "feature_maps",
           "lenet", "class_means", "deconvolutional", "generate", "gradient_norms",
           "residual_network", "Autoencoder", "DenoisingAutoencoder", "GaussianCode",
           "SparseAutoencoder", "VariationalAutoencoder", "GAN", "conv_gan", "dense_gan", "DCIGN",
           "CapsNet", "capsnet"]
