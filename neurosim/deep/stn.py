"""Spatial transformer networks (STN; Jaderberg, Simonyan, Zisserman and Kavukcuoglu 2015,
"Spatial transformer networks"): a layer that learns where to look, a CNN classifier behind it,
digits shifted and rotated at random to train it on, and the transformations it found as a
Dataset.

A :class:`SpatialTransformer` is three parts, each differentiable: a localisation network (any
layers, ending flat) whose features a dense regressor maps to the six entries of an affine
matrix ``theta`` (initialised to the identity: zero weights, identity bias, so training starts
from the plain CNN), the affine grid generator and the bilinear sampler of
:mod:`neurosim.nn.spatial`. Its output, the input resampled through ``theta``, feeds the
classifier, and the classification loss alone teaches the localisation network to undo the
distortions.
"""
import numpy as np

from .. import checks, record, rng
from ..datasets import digits_split
from ..nn import ops
from ..nn.layers import Conv2D, Dense, Flatten, Layer, MaxPool2D, Sequential
from ..nn.spatial import affine_grid, grid_sample, identity_theta, spatial_transform
from ..nn.tensor import no_grad
from .cnn import _image_shape, lenet


def localisation_network(channels=8, units=32, pool=2):
    """The default localisation layers: MaxPool2D(``pool``), Conv2D(``channels``, 3x3, padding
    1, ReLU), MaxPool2D(2), Flatten, Dense(``units``, ReLU)."""
    return [MaxPool2D(checks.integer(pool, "pool", low=1)),
            Conv2D(checks.integer(channels, "channels", low=1), 3, padding=1,
                   activation="relu", init="he_uniform"),
            MaxPool2D(2), Flatten(),
            Dense(checks.integer(units, "units", low=1), "relu", init="he_uniform")]


class SpatialTransformer(Layer):
    """Spatial transformer: (batch, C, H, W) -> (batch, C, *output_size), the input resampled
    through a predicted affine transformation.

    Parameters
    ----------
    localisation : sequence of Layer, optional
        The localisation network (its output must be flat, (features,));
        :func:`localisation_network` by default.
    output_size : (height, width), optional
        Of the resampled image; the input's by default (a smaller one crops and zooms).
    align_corners : bool
        Of the grid and the sampler (see :mod:`neurosim.nn.spatial`).

    The regressor ``W_theta`` (features, 6) starts at zero and ``b_theta`` at the identity
    ``[1, 0, 0, 0, 1, 0]``, so a new layer passes its input through unchanged (resampled at
    the output size). After every call ``theta`` holds the transformations, (batch, 2, 3).
    """

    def __init__(self, localisation=None, *, output_size=None, align_corners=False):
        super().__init__()
        layers = localisation_network() if localisation is None else list(localisation)
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"localisation layer {i} must be a Layer; got "
                                f"{type(layer).__name__}")
        if not layers:
            raise ValueError("localisation must hold at least one layer")
        self.output_size = None if output_size is None else tuple(
            checks.integer(s, "output_size", low=1) for s in np.ravel(output_size))
        if self.output_size is not None and len(self.output_size) != 2:
            raise ValueError(f"output_size must be (height, width); got {output_size!r}")
        if not isinstance(align_corners, (bool, np.bool_)):
            raise TypeError(f"align_corners must be True or False; got {align_corners!r}")
        self.align_corners = bool(align_corners)
        self.layers = [Sequential(*layers)]
        self.theta = None

    def _build(self, shape, generator, dtype):
        c, h, w = _image_shape(shape, "input shape")
        features = self.layers[0].build(shape, generator, dtype)
        if len(features) != 1:
            raise ValueError(f"the localisation network must end flat (features,); it gives "
                             f"{features} (end it with Flatten or Dense)")
        self.add_param("W_theta", np.zeros((features[0], 6)), dtype)
        self.add_param("b_theta", identity_theta().ravel(), dtype)
        self.output_size = self.output_size or (h, w)
        return (c,) + self.output_size

    def transform(self, x):
        """The affine matrices (batch, 2, 3) Tensor the localisation network gives for ``x``."""
        p = self.params
        raw = self.layers[0].forward(x)
        return ops.dense(raw, p["W_theta"], p["b_theta"]).reshape(x.shape[0], 2, 3)

    def forward(self, x):
        theta = self.transform(x)
        self.theta = theta.data
        return spatial_transform(x, theta, self.output_size, self.align_corners)

    def __repr__(self):
        return (f"SpatialTransformer(output_size={self.output_size}, "
                f"align_corners={self.align_corners})")


def stn_cnn(input_shape=(1, 16, 16), classes=10, *, transformer=True, channels=(16, 32),
            localisation=None, output_size=None, seed=None, dtype=np.float64):
    """A LeNet-style classifier (:func:`~neurosim.deep.cnn.lenet`), behind a spatial
    transformer or not (``transformer=False``: the same CNN alone, for comparison).

    Parameters
    ----------
    input_shape : (channels, height, width)
    classes : int
    transformer : bool
    channels : sequence of int
        Filters of the classifier's convolution stages.
    localisation : sequence of Layer, optional
        The transformer's localisation network (:func:`localisation_network` by default).
    output_size : (height, width), optional
        Of the transformer's output (the input's by default).
    seed, dtype

    Returns
    -------
    Sequential
        Built; logits (batch, classes) for ``loss="cross_entropy"``.
    """
    input_shape = _image_shape(input_shape, "input_shape")
    if not transformer:
        return lenet(input_shape, classes, channels=channels, seed=seed, dtype=dtype)
    stn = SpatialTransformer(localisation, output_size=output_size)
    inner = stn.output_size or input_shape[1:]
    head = lenet((input_shape[0],) + tuple(inner), classes, channels=channels).layers
    return Sequential(stn, *head, input_shape=input_shape, seed=seed, dtype=dtype)


def random_affine(n, max_angle=45.0, max_shift=0.25, *, max_scale=0.0, seed=None):
    """Random rotations (uniform in +-``max_angle`` degrees), shifts (uniform in +-``max_shift``
    of the half-width, per axis) and optional zooms (log-uniform in ``1 +- max_scale``) as
    affine matrices (n, 2, 3) in :func:`~neurosim.nn.spatial.affine_grid`'s convention (output
    to source coordinates)."""
    n = checks.integer(n, "n", low=1)
    max_angle = checks.scalar(max_angle, "max_angle", low=0.0, high=180.0)
    max_shift = checks.scalar(max_shift, "max_shift", low=0.0)
    max_scale = checks.scalar(max_scale, "max_scale", low=0.0, high=1.0, high_open=True)
    g = rng.generator(seed)
    angle = np.deg2rad(g.uniform(-max_angle, max_angle, n))
    scale = np.exp(g.uniform(np.log1p(-max_scale), np.log1p(max_scale), n))
    shift = g.uniform(-max_shift, max_shift, (n, 2))
    cos, sin = np.cos(angle) * scale, np.sin(angle) * scale
    return np.stack([np.stack([cos, -sin, shift[:, 0]], 1),
                     np.stack([sin, cos, shift[:, 1]], 1)], 1)


def distorted_digits(max_angle=45.0, max_shift=0.25, *, canvas=16, max_scale=0.0, seed=None):
    """The bundled digits (:func:`~neurosim.datasets.digits_split`: 1500 training, 297 test
    images, pixels in [0, 1]), each 8x8 digit centred on a ``canvas`` x ``canvas`` field and
    then rotated and shifted at random (:func:`random_affine`, bilinear resampling).

    Returns
    -------
    X_train (1500, 1, canvas, canvas), X_test (297, 1, canvas, canvas), y_train, y_test,
    theta (1797, 2, 3)
        The images, the labels and the transformations drawn (training images first).
    """
    canvas = checks.integer(canvas, "canvas", low=8)
    X_train, X_test, y_train, y_test = digits_split()
    X = np.concatenate([X_train, X_test]).reshape(-1, 1, 8, 8)
    field = np.zeros((len(X), 1, canvas, canvas))
    at = (canvas - 8) // 2
    field[:, :, at:at + 8, at:at + 8] = X
    theta = random_affine(len(X), max_angle, max_shift, max_scale=max_scale, seed=seed)
    with no_grad():
        out = grid_sample(field, affine_grid(theta, field.shape)).data
    return out[:len(X_train)], out[len(X_train):], y_train, y_test, theta


def transformations(model, X, batch_size=256):
    """What a trained spatial transformer does to ``X``: its ``theta`` and output per image.

    Parameters
    ----------
    model : Sequential holding a :class:`SpatialTransformer` (the first is used), or the layer
    X : array_like, (n, channels, height, width)

    Returns
    -------
    xarray.Dataset
        ``input`` (sample, channel, row, column), ``transformed`` (sample, channel, out_row,
        out_column), ``theta`` (sample, matrix_row, matrix_column) and ``prediction``
        (sample), the model's class when it is a Sequential classifier; attrs family "STN".
    """
    layers = [model] + list(getattr(model, "layers", []))
    stn = next((layer for layer in layers if isinstance(layer, SpatialTransformer)), None)
    if stn is None:
        raise ValueError(f"model has no SpatialTransformer layer: {model!r}")
    X = checks.array(X, "X", ndim=4, dtype=getattr(model, "dtype", np.float64))
    if X.shape[1:] != stn.input_shape:
        raise ValueError(f"X must have shape (n, {', '.join(map(str, stn.input_shape))}); got "
                         f"{X.shape}")
    batch_size = checks.integer(batch_size, "batch_size", low=1)
    mode = model.training
    model.eval()
    thetas, outs = [], []
    try:
        with no_grad():
            for start in range(0, len(X), batch_size):
                outs.append(stn(X[start:start + batch_size]).data)
                thetas.append(stn.theta)
    finally:
        model.train(mode)
    data = {"input": (("sample", "channel", "row", "column"), X),
            "transformed": (("sample", "channel", "out_row", "out_column"), np.concatenate(outs)),
            "theta": (("sample", "matrix_row", "matrix_column"), np.concatenate(thetas))}
    if model is not stn and isinstance(model, Sequential):
        data["prediction"] = (("sample",), model.predict(X, batch_size).argmax(axis=1))
    return record.dataset(data, {"sample": np.arange(len(X))}, family="STN", model=repr(stn),
                          params={"align_corners": int(stn.align_corners)})


__all__ = ["SpatialTransformer", "localisation_network", "stn_cnn", "random_affine",
           "distorted_digits", "transformations"]
