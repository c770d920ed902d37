"""Deep convolutional inverse graphics network (DCIGN, Kulkarni et al. 2015).

A convolutional encoder (the LeNet stages: 3x3 convolutions and 2x2 max-pooling) maps an
image to a diagonal Gaussian over a code; a deconvolutional decoder (a dense layer, a reshape
to a small feature map and transposed convolutions that double height and width) draws the
image back. It is trained as a variational autoencoder: :class:`DCIGN` is a
:class:`~neurosim.feedforward.autoencoder.VariationalAutoencoder` whose two stacks are
convolutional, so the ELBO, :meth:`~VariationalAutoencoder.sample`, ``interpolate``,
``log_likelihood`` and the latent traversal (:meth:`~DCIGN.traversals`: vary one code unit,
decode) are the VAE's. Images travel flat, (n, channels * height * width), like the digits.
"""
import numpy as np

from .. import checks
from ..nn.layers import Flatten, Reshape, Sequential
from .autoencoder import GaussianCode, VariationalAutoencoder
from .cnn import _image_shape, conv_stages
from .deconv import upsampling_stages


class DCIGN(VariationalAutoencoder):
    """Convolutional variational autoencoder with a Gaussian code (DCIGN).

    Encoder: Reshape(image_shape) -> per entry ``c`` of ``channels`` Conv2D(c, 3x3, padding 1)
    + ReLU + MaxPool2D(2) -> Flatten -> :class:`GaussianCode` (mean and log-variance heads of
    ``latent``). Decoder: Dense(prod(code), ReLU) -> Reshape(code) -> ConvTranspose2D(4x4,
    stride 2) stages -> Flatten, giving the pixels' logits (Bernoulli) or means (Gaussian).
    With the defaults on 8x8 digits: (64,) -> (16, 8, 8) -> (16, 4, 4) -> (32, 4, 4) ->
    (32, 2, 2) -> (128,) -> 2 x (latent,); (latent,) -> (128,) -> (32, 2, 2) -> (16, 4, 4) ->
    (1, 8, 8) -> (64,).

    Parameters
    ----------
    image_shape : (channels, height, width)
        Height and width must survive ``len(channels)`` halvings and be ``code``'s times one
        power of two.
    latent : int
        Dimension of the code.
    channels : sequence of int
        Filters of each convolution stage of the encoder.
    code : (channels, height, width)
        The decoder's first feature map.
    likelihood, sigma, seed, dtype
        As for :class:`VariationalAutoencoder`.

    Inputs and outputs are flat images (n, prod(image_shape)) with values in [0, 1] for the
    Bernoulli likelihood; losses are in nats per image.
    """

    family = "DCIGN"

    def __init__(self, image_shape=(1, 8, 8), latent=8, *, channels=(16, 32), code=(32, 2, 2),
                 likelihood="bernoulli", sigma=0.1, seed=None, dtype=np.float64):
        self.image_shape = _image_shape(image_shape, "image_shape")
        if isinstance(channels, (int, np.integer)) or not len(channels):
            raise TypeError(f"channels must be a non-empty sequence of filter counts, e.g. "
                            f"(16, 32); got {channels!r}")
        self.channels = tuple(checks.integer(c, "channels", low=1) for c in channels)
        self.code = _image_shape(code, "code")
        pixels = int(np.prod(self.image_shape))
        latent = checks.integer(latent, "latent", low=1)
        super().__init__((pixels, latent, pixels), likelihood=likelihood, sigma=sigma,
                         seed=seed, dtype=dtype)

    def _stacks(self, init):
        encoder = Sequential(Reshape(self.image_shape), *conv_stages(self.channels), Flatten(),
                             GaussianCode(self.code_size, init))
        decoder = Sequential(*upsampling_stages(self.image_shape, self.code, output="identity"),
                             Flatten())
        return encoder, decoder

    def __repr__(self):
        return (f"DCIGN({'x'.join(map(str, self.image_shape))}, channels={self.channels}, "
                f"latent={self.code_size})")

    def traversals(self, x, values=np.linspace(-3.0, 3.0, 9)):
        """Latent traversals of one image ``x`` (prod(image_shape),): for every code unit in
        turn, ``x``'s posterior mean with that unit set to each of ``values``, decoded.

        Returns an array (latent, len(values), *image_shape).
        """
        return np.stack([self.traverse(x, unit, values) for unit in range(self.code_size)]
                        ).reshape(self.code_size, len(values), *self.image_shape)


__all__ = ["DCIGN"]
