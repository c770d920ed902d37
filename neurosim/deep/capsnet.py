"""Capsule network (CapsNet, Sabour, Frosst and Hinton 2017) on small images.

:func:`capsnet` builds the paper's network scaled to the 8x8 digits: a ReLU convolution,
:class:`~neurosim.nn.capsules.PrimaryCapsules` (a convolution whose channels are grouped into
8-D capsules, squashed) and a :class:`~neurosim.nn.capsules.CapsuleLayer` of one 16-D capsule
per class, routed by agreement; a capsule's length is the score of its class. A dense decoder
draws the image back from the class capsule alone (the others masked to zero: the true class
in training, the longest capsule otherwise), which makes the capsule's dimensions encode how
the digit is drawn.

The loss per image is the margin loss plus ``reconstruction_weight`` times the reconstruction's
mean squared error per pixel. The paper weights the sum of squared errors over 784 pixels by
0.0005, i.e. 0.392 times the per-pixel mean; the default keeps that 0.392, so the
reconstruction has the paper's weight against the margin loss whatever the image size (0.0005
per pixel of a 64-pixel sum would make it 12 times weaker).
"""
import numpy as np

from .. import checks, rng
from ..nn import losses, ops
from ..nn.capsules import CapsuleLayer, PrimaryCapsules, capsule_lengths, margin_loss
from ..nn.layers import Conv2D, Dense, Layer, Sequential
from ..nn.tensor import Tensor
from ..nn.train import fit as _fit
from .autoencoder import _evaluation
from .cnn import _image_shape, as_images


class CapsNet(Layer):
    """A capsule classifier with a reconstruction decoder.

    Parameters
    ----------
    encoder : Sequential
        Images (batch, *input_shape) -> class capsules (batch, classes, dim), e.g. ending in
        a :class:`~neurosim.nn.capsules.CapsuleLayer`.
    decoder : Sequential
        Masked capsules (batch, classes * dim) -> pixels (batch, prod(input_shape)) in [0, 1].
    input_shape : (channels, height, width)
    reconstruction_weight : float
        Weight of the per-pixel mean squared reconstruction error in the loss (>= 0).
    m_plus, m_minus, down_weight : float
        The margin loss's margins and the weight of absent classes.
    seed, dtype
        Seed of the weights; float64 or float32.

    Attributes
    ----------
    history : xarray.Dataset
        Set by :meth:`fit`.
    """

    family = "CapsNet"

    def __init__(self, encoder, decoder, *, input_shape=(1, 8, 8), reconstruction_weight=0.392,
                 m_plus=0.9, m_minus=0.1, down_weight=0.5, seed=None, dtype=np.float64):
        super().__init__()
        for name, part in (("encoder", encoder), ("decoder", decoder)):
            if not isinstance(part, Layer):
                raise TypeError(f"{name} must be a Layer; got {type(part).__name__}")
        self.encoder, self.decoder = encoder, decoder
        self.layers = [encoder, decoder]
        self.image_shape = _image_shape(input_shape, "input_shape")
        self.reconstruction_weight = checks.scalar(reconstruction_weight,
                                                   "reconstruction_weight", low=0.0)
        self.m_plus = checks.scalar(m_plus, "m_plus", low=0.0, high=1.0)
        self.m_minus = checks.scalar(m_minus, "m_minus", low=0.0, high=self.m_plus)
        self.down_weight = checks.scalar(down_weight, "down_weight", low=0.0)
        self.dtype = np.dtype(checks.choice(np.dtype(dtype).name, "dtype",
                                            ("float64", "float32")))
        self.seed = seed
        self.build(self.image_shape, rng.generator(seed), self.dtype)

    def _build(self, shape, generator, dtype):
        caps = self.encoder.build(shape, generator, dtype)
        if len(caps) != 2:
            raise ValueError(f"the encoder must end in capsules (classes, dim); it gives {caps}")
        pixels = int(np.prod(shape))
        if self.decoder.build((caps[0] * caps[1],), generator, dtype) != (pixels,):
            raise ValueError(f"the decoder must draw {pixels} pixels; it gives "
                             f"{self.decoder.output_shape}")
        return caps

    @property
    def classes(self):
        """Number of class capsules."""
        return self.output_shape[0]

    def __repr__(self):
        return f"CapsNet({self.encoder!r}, decoder {self.decoder!r})"

    # ------------------------------------------------------------ training
    def forward(self, x):
        """Class capsules (batch, classes, dim) of a batch Tensor of images."""
        return self.encoder.forward(x)

    def _decode(self, capsules, labels):
        """Decoder pixels (batch, pixels) from the capsule of ``labels`` (the rest zeroed)."""
        mask = np.zeros(capsules.shape[:2] + (1,), dtype=self.dtype)
        mask[np.arange(len(mask)), labels] = 1.0
        return self.decoder.forward(ops.reshape(ops.mul(capsules, mask), (len(mask), -1)))

    def objective(self, output, target):
        """The training loss (mean over the batch): margin loss of the capsule lengths plus
        ``reconstruction_weight`` x pixel MSE of the image drawn from the true class capsule.

        ``output``: capsules (batch, classes, dim); ``target`` (batch, 1 + pixels): the label,
        then the flat image. A one-element Tensor.
        """
        labels = np.asarray(target[:, 0], dtype=np.intp)
        loss = margin_loss(capsule_lengths(output), labels, self.m_plus, self.m_minus,
                           self.down_weight)
        if not self.reconstruction_weight:
            return loss
        error = losses.mse(self._decode(output, labels), target[:, 1:])
        return ops.add(loss, ops.mul(error, self.reconstruction_weight))

    def _labels(self, y, n, name):
        y = np.asarray(y)
        if y.shape != (n,) or not np.issubdtype(y.dtype, np.integer) or \
                y.min() < 0 or y.max() >= self.classes:
            raise ValueError(f"{name} must be {n} integer class labels in [0, {self.classes}); "
                             f"got {y.dtype} of shape {y.shape}")
        return y

    def _targets(self, X, y, name):
        return np.column_stack([self._labels(y, len(X), name), X.reshape(len(X), -1)])

    def fit(self, X, y, *, validation=None, epochs=10, batch_size=32, lr=1e-3,
            optimizer="adam", seed=None, callbacks=(), **options):
        """Train on images ``X`` (n, *input_shape) or flat (n, pixels) with labels ``y`` (n,).

        ``validation`` (X_val, y_val) adds ``val_loss`` and ``val_accuracy`` (longest capsule)
        per epoch; the other options are those of :func:`neurosim.nn.train.fit`
        (``early_stopping``, ``progress``, ``store``, ``clip_norm``, ...). Returns the history
        Dataset: ``loss`` per step, ``epoch_loss``, ``val_*`` and ``time`` (s) per epoch.
        """
        X = self._images(X, "X")
        targets = self._targets(X, y, "y")
        if validation is not None:
            X_val = self._images(validation[0], "validation X")
            val_targets = self._targets(X_val, validation[1], "validation y")
            y_val = val_targets[:, 0]

            def validate(model, epoch, logs):
                capsules = self.capsules(X_val)
                with _evaluation(self):
                    logs["val_loss"] = self.objective(Tensor(capsules), val_targets).item()
                logs["val_accuracy"] = float(np.mean(self._longest(capsules) == y_val))
                return False
            callbacks = [validate, *callbacks]
        return _fit(self, X, targets, loss=self.objective, optimizer=optimizer, lr=lr,
                    epochs=epochs, batch_size=batch_size, seed=seed, callbacks=callbacks,
                    **options)

    def history_attrs(self):
        """The family and the loss's weights, in the training history's attrs."""
        return {"family": self.family, "reconstruction_weight": self.reconstruction_weight,
                "m_plus": self.m_plus, "m_minus": self.m_minus, "down_weight": self.down_weight}

    # ------------------------------------------------------------ use
    def capsules(self, X, batch_size=256):
        """Class capsules (n, classes, dim) of images ``X`` (n, *input_shape) or flat,
        ``batch_size`` images at a time (the routing holds batch x in_capsules x classes x dim
        predictions)."""
        X = self._images(X, "X")
        batch_size = checks.integer(batch_size, "batch_size", low=1)
        with _evaluation(self):
            return np.concatenate([self.forward(Tensor(X[i:i + batch_size])).data
                                   for i in range(0, len(X), batch_size)])

    def lengths(self, X):
        """Capsule lengths (n, classes) in [0, 1): each class's score (they need not sum to
        1: several digits may be present, or none)."""
        return np.linalg.norm(self.capsules(X), axis=-1)

    @staticmethod
    def _longest(capsules):
        return np.linalg.norm(capsules, axis=-1).argmax(axis=1)

    def predict(self, X, batch_size=256):
        """Class (n,) of each image: the longest capsule."""
        return self._longest(self.capsules(X, batch_size))

    def decode(self, capsules, labels=None):
        """Images (n, *input_shape) drawn from the capsules (n, classes, dim) of ``labels``
        (n,) (default: each row's longest capsule), the other capsules masked out."""
        capsules = checks.array(capsules, "capsules", shape=(None,) + self.output_shape,
                                dtype=self.dtype)
        labels = self._longest(capsules) if labels is None else \
            self._labels(labels, len(capsules), "labels")
        with _evaluation(self):
            pixels = self._decode(Tensor(capsules), labels).data
        return pixels.reshape((len(pixels),) + self.image_shape)

    def reconstruct(self, X, labels=None):
        """Images (n, *input_shape) redrawn from the capsules of ``X``: each image's longest
        capsule, or that of ``labels`` (n,)."""
        return self.decode(self.capsules(X), labels)

    def perturbations(self, x, offsets=np.linspace(-0.25, 0.25, 11)):
        """The paper's dimension perturbations of one image ``x`` (*input_shape or flat).

        Returns images (dim, len(offsets), *input_shape): row ``d`` redraws ``x`` from its
        longest capsule with ``offsets`` added to dimension ``d``.
        """
        offsets = checks.array(offsets, "offsets", ndim=1, dtype=self.dtype)
        capsules = self.capsules(np.reshape(x, (1, -1)))
        label = self._longest(capsules)[0]
        dim = self.output_shape[1]
        grid = np.repeat(capsules, dim * len(offsets), axis=0)    # row d * len(offsets) + k
        grid[np.arange(len(grid)), label, np.repeat(np.arange(dim), len(offsets))] += \
            np.tile(offsets, dim)
        images = self.decode(grid, np.full(len(grid), label))
        return images.reshape((dim, len(offsets)) + self.image_shape)

    def _images(self, X, name):
        try:
            return as_images(X, self.image_shape).astype(self.dtype, copy=False)
        except ValueError as err:
            raise ValueError(f"{name}: {err}") from None


def capsnet(input_shape=(1, 8, 8), classes=10, *, channels=64, primary_capsules=8,
            primary_dim=8, dim=16, kernel=3, iterations=3, gradient="final",
            decoder=(128, 256), reconstruction_weight=0.392, seed=None, dtype=np.float64):
    """The CapsNet of Sabour et al. (2017), scaled to small images.

    Conv2D(channels, kernel, ReLU) -> PrimaryCapsules(primary_capsules types of primary_dim,
    kernel, stride 1) -> CapsuleLayer(classes capsules of dim, iterations); the decoder
    Dense(decoder[0], ReLU) -> ... -> Dense(pixels, sigmoid). With the defaults on 8x8
    digits: (1, 8, 8) -> (64, 6, 6) -> 8 types x 4 x 4 = 128 capsules of 8 -> 10 of 16;
    decoder 160 -> 128 -> 256 -> 64 (the paper: 28x28 -> (256, 20, 20) -> 1152 of 8 -> 10
    of 16; decoder 512 -> 1024 -> 784).

    Parameters
    ----------
    input_shape : (channels, height, width)
    classes : int
    channels : int
        Filters of the first convolution.
    primary_capsules, primary_dim : int
        Capsule types of the primary layer and their dimension.
    dim : int
        Dimension of the class capsules.
    kernel : int
        Kernel size of both convolutions (no padding).
    iterations : int
        Routing iterations.
    gradient : {"final", "full"}
        Gradient through the routing (see :func:`neurosim.nn.capsules.route`).
    decoder : sequence of int
        Widths of the decoder's hidden ReLU layers.
    reconstruction_weight, seed, dtype
        See :class:`CapsNet`.

    Returns
    -------
    CapsNet
        Built for images (batch, *input_shape); its forward pass gives the class capsules
        (batch, classes, dim).
    """
    shape = _image_shape(input_shape, "input_shape")
    encoder = Sequential(
        Conv2D(checks.integer(channels, "channels", low=1), kernel, activation="relu",
               init="he_uniform"),
        PrimaryCapsules(primary_capsules, primary_dim, kernel),
        CapsuleLayer(checks.integer(classes, "classes", low=2), dim, iterations=iterations,
                     gradient=gradient))
    hidden = [Dense(checks.integer(w, "decoder", low=1), "relu", init="he_uniform")
              for w in decoder]
    return CapsNet(encoder, Sequential(*hidden, Dense(int(np.prod(shape)), "sigmoid")),
                   input_shape=shape, reconstruction_weight=reconstruction_weight, seed=seed,
                   dtype=dtype)


__all__ = ["CapsNet", "capsnet"]
