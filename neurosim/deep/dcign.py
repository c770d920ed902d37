"""Deep convolutional inverse graphics network (DCIGN, Kulkarni et al. 2015).

A convolutional encoder (the LeNet stages: 3x3 convolutions and 2x2 max-pooling) maps an
image to a diagonal Gaussian over a code; a deconvolutional decoder (a dense layer, a reshape
to a small feature map and transposed convolutions that double height and width) draws the
image back. It is trained as a variational autoencoder: :class:`DCIGN` is a
:class:`~neurosim.deep.autoencoder.VariationalAutoencoder` whose two stacks are
convolutional, so the ELBO, :meth:`~VariationalAutoencoder.sample`, ``interpolate``,
``log_likelihood`` and the latent traversal (:meth:`~DCIGN.traversals`: vary one code unit,
decode) are the VAE's. Images travel flat, (n, channels * height * width), like the digits.

Kulkarni's training trick trains a code block to follow one known factor of variation: in a
mini-batch where only some factors vary, the units of the factors held fixed are clamped to
their mean over the batch (so the decoder must explain the variation through the other
units), and each clamped unit is pulled towards that mean (his replaced gradient,
``z - mean``). On digits the known factor is the class: with ``class_units = k`` and labels
given to :meth:`DCIGN.fit`, the first ``k`` units of each sampled code are replaced by their
mean over the rows of the same class in the batch (the class is what those rows share; their
style varies), and ``invariance * |z - mean|^2 / 2`` per image joins the loss. The class
block then carries the class and the other units the style: decoding one digit's style units
with another class's block draws that class in the first digit's style (:meth:`DCIGN.swap`).
"""
import numpy as np

from .. import checks
from ..nn import ops
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
    class_units : int
        Size (0 .. latent) of the code block clamped per class when :meth:`fit` gets labels.
    invariance : float
        Weight (>= 0) of the pull of each clamped unit towards its class mean in the batch.
    likelihood, sigma, seed, dtype
        As for :class:`VariationalAutoencoder`.

    Inputs and outputs are flat images (n, prod(image_shape)) with values in [0, 1] for the
    Bernoulli likelihood; losses are in nats per image.
    """

    family = "DCIGN"

    def __init__(self, image_shape=(1, 8, 8), latent=8, *, channels=(16, 32), code=(32, 2, 2),
                 class_units=0, invariance=1.0, likelihood="bernoulli", sigma=0.1, seed=None,
                 dtype=np.float64):
        self.image_shape = _image_shape(image_shape, "image_shape")
        if isinstance(channels, (int, np.integer)) or not len(channels):
            raise TypeError(f"channels must be a non-empty sequence of filter counts, e.g. "
                            f"(16, 32); got {channels!r}")
        self.channels = tuple(checks.integer(c, "channels", low=1) for c in channels)
        self.code = _image_shape(code, "code")
        pixels = int(np.prod(self.image_shape))
        latent = checks.integer(latent, "latent", low=1)
        self.class_units = checks.integer(class_units, "class_units", low=0, high=latent)
        self.invariance = checks.scalar(invariance, "invariance", low=0.0)
        self._labels = None
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

    # ------------------------------------------------------------ Kulkarni's clamped training
    def fit(self, X, y=None, **options):
        """Train on flat images ``X`` (n, prod(image_shape)); with class labels ``y`` (n,)
        (and ``class_units > 0``) the class block is clamped per class in every batch (see
        the module's notes). The other options and the history are
        :meth:`VariationalAutoencoder.fit`'s; the history's ``loss`` then includes the
        invariance term, while ``val_loss`` stays the plain negative ELBO."""
        if y is not None:
            if not self.class_units:
                raise ValueError("labels (y) clamp the class block: give class_units > 0")
            y = np.asarray(y)
            if y.shape != (len(X),) or not np.issubdtype(y.dtype, np.integer):
                raise ValueError(f"y must be {len(X)} integer class labels; got {y.dtype} of "
                                 f"shape {y.shape}")
        self._labels = y
        try:
            return super().fit(X, **options)
        finally:
            self._labels = None

    def _targets(self, X):
        return None if self._labels is None else np.column_stack([X, self._labels])

    def forward(self, x):
        """As :meth:`VariationalAutoencoder.forward`; in clamped training, the sampled code
        (batch, latent), which :meth:`objective` clamps and decodes."""
        if self._labels is None or not self.training:
            return super().forward(x)
        code = self.encoder.forward(x)
        self._penalty = self._code_penalty(code)
        return code

    def objective(self, output, target):
        """The negative ELBO (nats per image); in clamped training ``output`` is the sampled
        code and ``target`` the images with their label as a last column, and the invariance
        term joins it."""
        if target.shape[1] == self.sizes[-1]:
            return super().objective(output, target)
        images, labels = target[:, :-1], target[:, -1]
        same = labels[:, None] == labels[None, :]
        class_mean = (same / same.sum(axis=1, keepdims=True)).astype(self.dtype)
        k = self.class_units
        block = ops.getitem(output, (slice(None), slice(0, k)))
        clamped = ops.matmul(class_mean, block)
        code = ops.concatenate([clamped, ops.getitem(output, (slice(None), slice(k, None)))],
                               axis=1)
        loss = super().objective(self.decoder.forward(code), images)
        if not self.invariance:
            return loss
        spread = ops.sub(block, clamped)
        pull = ops.mul(ops.mul(spread, spread).sum(), 0.5 * self.invariance / len(images))
        return ops.add(loss, pull)

    def swap(self, style, content):
        """Images (n, prod(image_shape)) decoded from the style units of ``style`` (n,
        pixels) and the class block of ``content`` (n, pixels) (posterior means)."""
        if not self.class_units:
            raise ValueError("swap needs a class block: class_units > 0")
        codes = self.encode(style)
        codes[:, :self.class_units] = self.encode(content)[:, :self.class_units]
        return self.decode(codes)

    def traversals(self, x, values=np.linspace(-3.0, 3.0, 9)):
        """Latent traversals of one image ``x`` (prod(image_shape),): for every code unit in
        turn, ``x``'s posterior mean with that unit set to each of ``values``, decoded.

        Returns an array (latent, len(values), *image_shape).
        """
        return np.stack([self.traverse(x, unit, values) for unit in range(self.code_size)]
                        ).reshape(self.code_size, len(values), *self.image_shape)


__all__ = ["DCIGN"]
