"""Feed-forward families trained by gradient (or by their own rules) on ``neurosim.nn``."""
from .mlp import mlp  # noqa: F401
from .perceptron import Perceptron  # noqa: F401
from .rbf import RBF, RBFNetwork, kmeans  # noqa: F401
from .cnn import as_images, feature_maps, lenet  # noqa: F401
from .deconv import class_means, deconvolutional, generate  # noqa: F401
from .residual import gradient_norms, residual_network  # noqa: F401
from .autoencoder import (Autoencoder, DenoisingAutoencoder, GaussianCode,  # noqa: F401
                          SparseAutoencoder, VariationalAutoencoder)
from .gan import GAN, conv_gan, dense_gan  # noqa: F401
from .dcign import DCIGN  # noqa: F401
from .capsnet import CapsNet, capsnet  # noqa: F401
