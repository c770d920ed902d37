"""Convolutional network (CNN/DCNN): convolution and pooling stages, then dense layers.

:func:`lenet` builds the small LeNet-style classifier of the benchmarks (with its defaults,
exactly the CNN of the "Gradient families" workload: conv 3x3x16 pad 1, ReLU, max-pool 2,
conv 3x3x32 pad 1, ReLU, max-pool 2, dense 10); :func:`as_images` turns flat digits into
the NCHW images it takes; :func:`feature_maps` shows what each stage computes.
"""
import numpy as np

from .. import checks
from ..nn.layers import Conv2D, Dense, Dropout, Flatten, MaxPool2D, Sequential
from ..nn.tensor import no_grad


def _image_shape(value, name):
    """``value`` as a (channels, height, width) tuple of positive ints."""
    shape = tuple(checks.integer(s, name, low=1) for s in np.ravel(value))
    if len(shape) != 3:
        raise ValueError(f"{name} must be (channels, height, width); got {value!r}")
    return shape


def as_images(X, shape=(1, 8, 8)):
    """Flat images as an NCHW batch.

    Parameters
    ----------
    X : array_like, (n, prod(shape))
        One flattened image per row (e.g. the digits, (n, 64)); (n, *shape) passes through.
    shape : tuple of int
        Per-image (channels, height, width).

    Returns
    -------
    ndarray, float64, (n, *shape)
        A view of ``X`` where possible.
    """
    shape = _image_shape(shape, "shape")
    X = checks.array(X, "X")
    if X.shape[1:] == shape:
        return X
    if X.ndim != 2 or X.shape[1] != int(np.prod(shape)):
        raise ValueError(f"X must be (n, {int(np.prod(shape))}) flat images or (n, "
                         f"{', '.join(map(str, shape))}) images for shape {shape}; got "
                         f"{X.shape}")
    return X.reshape(len(X), *shape)


def conv_stages(channels):
    """Layers of the convolution stages: for each entry ``c`` of ``channels``,
    Conv2D(c, 3x3, padding 1) + ReLU + MaxPool2D(2), halving height and width."""
    layers = []
    for c in channels:
        layers += [Conv2D(checks.integer(c, "channels", low=1), 3, padding=1,
                          activation="relu", init="he_uniform"), MaxPool2D(2)]
    return layers


def lenet(input_shape=(1, 8, 8), classes=10, *, channels=(16, 32), dense=(), dropout=0.0,
          seed=None, dtype=np.float64):
    """A LeNet-style convolutional classifier.

    Each stage is Conv2D(c, 3x3, padding 1) + ReLU + MaxPool2D(2), halving height and width;
    then Flatten, the ``dense`` ReLU layers (each followed by Dropout when ``dropout`` > 0) and
    Dense(classes) logits for ``loss="cross_entropy"``.

    Parameters
    ----------
    input_shape : (channels, height, width)
        Per-image shape; height and width must survive ``len(channels)`` halvings.
    classes : int
    channels : sequence of int
        Filters of each convolution stage.
    dense : sequence of int
        Widths of hidden dense layers after the convolutions (none by default).
    dropout : float
        Dropout rate before each dense layer, in [0, 1).
    seed, dtype
        Seed of the weights and dropout masks; float64 or float32.

    Returns
    -------
    Sequential
        Built for inputs (batch, *input_shape); outputs (batch, classes). With the defaults:
        (1, 8, 8) -> (16, 8, 8) -> (16, 4, 4) -> (32, 4, 4) -> (32, 2, 2) -> (128,) -> (10,).
    """
    classes = checks.integer(classes, "classes", low=1)
    dropout = checks.scalar(dropout, "dropout", low=0.0, high=1.0, high_open=True)
    layers = conv_stages(channels) + [Flatten()]
    for width in dense:
        if dropout:
            layers.append(Dropout(dropout))
        layers.append(Dense(checks.integer(width, "dense", low=1), "relu", init="he_uniform"))
    if dropout:
        layers.append(Dropout(dropout))
    layers.append(Dense(classes))
    return Sequential(*layers, input_shape=_image_shape(input_shape, "input_shape"), seed=seed,
                      dtype=dtype)


def feature_maps(model, X):
    """The output of every layer of ``model`` for the batch ``X``, in evaluation mode.

    Parameters
    ----------
    model : Sequential
    X : array_like, (n, *model.input_shape)

    Returns
    -------
    list of (Layer, ndarray)
        One pair per layer, the array (n, *layer.output_shape).
    """
    X = checks.array(X, "X", dtype=model.dtype)
    if X.shape[1:] != model.input_shape:
        raise ValueError(f"X must be (n, {', '.join(map(str, model.input_shape))}); got "
                         f"{X.shape}")
    mode = model.training
    model.eval()
    out = []
    try:
        with no_grad():
            x = X
            for layer in model.layers:
                x = layer(x)
                out.append((layer, x.data))
    finally:
        model.train(mode)
    return out


__all__ = ["as_images", "lenet", "feature_maps"]
