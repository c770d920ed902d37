"""Deconvolutional network (DN): a class code drawn out into an image by transposed
convolutions, the convolutional network run backwards.

:func:`deconvolutional` builds the generator (one-hot code -> Dense -> Reshape to a small
feature map -> ConvTranspose2D stages that double height and width -> sigmoid image). Trained
with ``loss="bce"`` from ``one_hot(y)`` to the images, each class code converges to the
pixel-wise mean of its class (the minimiser of the cross-entropy for a fixed input);
:func:`generate` draws images from labels or from any mixture of codes.
"""
import numpy as np

from .. import checks
from ..datasets import one_hot
from ..nn.layers import ConvTranspose2D, Dense, Reshape, Sequential
from .cnn import _image_shape, as_images


def deconvolutional(classes=10, image_shape=(1, 8, 8), *, code=(32, 2, 2), seed=None,
                    dtype=np.float64):
    """A deconvolutional generator from class codes to images.

    Dense(prod(code), ReLU) -> Reshape(code) -> ConvTranspose2D(kernel 4, stride 2,
    padding 1) stages, each doubling height and width and halving the channels (ReLU), the
    last one giving the image's channels through a sigmoid.

    Parameters
    ----------
    classes : int
        Length of the input code (one-hot class vectors).
    image_shape : (channels, height, width)
        Output image; height and width must be the code's times the same power of two (at
        least 2).
    code : (channels, height, width)
        The feature map the code is first reshaped to.
    seed, dtype
        Seed of the weights; float64 or float32.

    Returns
    -------
    Sequential
        Built for inputs (batch, classes); outputs (batch, *image_shape) in [0, 1]. With the
        defaults: (10,) -> (128,) -> (32, 2, 2) -> (16, 4, 4) -> (1, 8, 8).
    """
    classes = checks.integer(classes, "classes", low=1)
    return Sequential(*upsampling_stages(image_shape, code), input_shape=(classes,), seed=seed,
                      dtype=dtype)


def upsampling_stages(image_shape=(1, 8, 8), code=(32, 2, 2), output="sigmoid"):
    """Layers from a flat input to an image: Dense(prod(code), ReLU) -> Reshape(code) ->
    ConvTranspose2D(kernel 4, stride 2, padding 1) stages, each doubling height and width and
    halving the channels (ReLU), the last giving ``image_shape``'s channels through the
    ``output`` activation (``"identity"`` for logits)."""
    image_shape = _image_shape(image_shape, "image_shape")
    code = _image_shape(code, "code")
    factor = image_shape[1] // code[1]
    if factor < 2 or factor & (factor - 1) or image_shape[1:] != (code[1] * factor,
                                                                  code[2] * factor):
        raise ValueError(f"image_shape {image_shape} must be code {code}'s height and width "
                         "times one power of two >= 2")
    layers = [Dense(int(np.prod(code)), "relu", init="he_uniform"), Reshape(code)]
    channels = code[0]
    stages = factor.bit_length() - 1
    for k in range(stages):
        last = k == stages - 1
        channels = image_shape[0] if last else max(channels // 2, 1)
        layers.append(ConvTranspose2D(channels, 4, stride=2, padding=1,
                                      activation=output if last else "relu",
                                      init="glorot_uniform" if last else "he_uniform"))
    return layers


def generate(model, labels):
    """Images drawn by a deconvolutional ``model`` from class labels or codes.

    Parameters
    ----------
    model : Sequential
        As from :func:`deconvolutional`, inputs (batch, classes).
    labels : array_like
        Class labels (n,) in ``[0, classes)``, or codes (n, classes): one-hot rows or any
        mixture of them (e.g. ``(1 - t) e_a + t e_b`` to morph class a into b).

    Returns
    -------
    ndarray, (n, height, width)
        For one-channel images; (n, channels, height, width) otherwise.
    """
    classes = model.input_shape[0]
    labels = np.asarray(labels)
    if labels.ndim == 1:
        try:
            codes = one_hot(labels, classes)
        except ValueError as err:
            raise ValueError(f"labels: {err}") from None
    elif labels.ndim == 2 and labels.shape[1] == classes:
        codes = checks.array(labels, "labels")
    else:
        raise ValueError(f"labels must be class labels (n,) or codes (n, {classes}); got shape "
                         f"{labels.shape}")
    images = model.predict(codes)
    return images[:, 0] if images.shape[1] == 1 else images


def class_means(X, y, classes=None, shape=(1, 8, 8)):
    """The mean image of each class.

    Parameters
    ----------
    X : array_like, (n, prod(shape)) or (n, *shape)
    y : array_like, (n,)
        Labels 0 .. classes - 1.
    classes : int, optional
        ``max(y) + 1`` by default; every class must occur.
    shape : (channels, height, width)

    Returns
    -------
    ndarray, (classes, height, width)
        For one-channel images; (classes, channels, height, width) otherwise.
    """
    images = as_images(X, shape)
    onehot = one_hot(y, classes)
    if len(onehot) != len(images):
        raise ValueError(f"y has {len(onehot)} labels but X has {len(images)} images")
    counts = onehot.sum(axis=0)
    if np.any(counts == 0):
        raise ValueError(f"classes {np.flatnonzero(counts == 0).tolist()} have no images")
    means = np.tensordot(onehot / counts, images, axes=(0, 0))
    return means[:, 0] if means.shape[1] == 1 else means


__all__ = ["deconvolutional", "generate", "class_means"]
