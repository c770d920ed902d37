"""Layers and the Sequential model.

A layer is built once for an input shape (per sample, without the batch axis): ``build``
creates its parameters from a seeded generator and returns its output shape, or raises a
``ValueError`` naming the layer and both shapes when the input does not fit. Calling a built
layer on a batch (batch, *input_shape) runs its forward ops on the autodiff tape. Images are
(channels, height, width) per sample.
"""
import inspect
import os
import zipfile

import numpy as np

from .. import checks, record, rng
from . import conv, norm, ops
from .init import initialiser
from .tensor import Tensor, as_tensor


class Layer:
    """Base of layers and models: parameters, buffers, sub-layers, train/eval mode, state."""

    #: whether the layer takes sequences of any number of steps (axis 1 of its input), not only
    #: the number it was built for
    free_steps = False

    def __init__(self):
        self.params = {}      # name -> Tensor (requires_grad)
        self.buffers = {}     # name -> array, saved with the parameters (e.g. running means)
        self.layers = []      # sub-layers, in order
        self.training = True
        self.input_shape = self.output_shape = None

    @property
    def built(self):
        """Whether :meth:`build` has run."""
        return self.output_shape is not None

    def build(self, input_shape, generator=None, dtype=np.float64):
        """Create parameters for per-sample ``input_shape``; return the output shape.

        ``generator`` (a NumPy Generator, default seed 0) draws the initial weights; ``dtype``
        is float64 or float32.
        """
        generator = rng.generator(0) if generator is None else generator
        shape = tuple(int(s) for s in input_shape)
        try:
            out = self._build(shape, generator, np.dtype(dtype))
        except ValueError as err:
            raise ValueError(f"{self!r}: {err}") from None
        self.input_shape, self.output_shape = shape, tuple(out)
        return self.output_shape

    def _build(self, shape, generator, dtype):
        return shape

    def add_param(self, name, value, dtype):
        """Register ``value`` as a trainable parameter called ``name``; return its Tensor."""
        t = Tensor(np.asarray(value, dtype=dtype), requires_grad=True)
        self.params[name] = t
        return t

    def forward(self, x):
        """The layer's output for a batch Tensor ``x``."""
        raise NotImplementedError

    def takes_lengths(self):
        """Whether ``forward`` takes ``lengths`` (each sequence's steps: recurrent, attention)."""
        return "lengths" in inspect.signature(self.forward).parameters

    def __call__(self, x):
        x = as_tensor(x)
        if not self.built:
            raise ValueError(f"{self!r} is not built: call build(input_shape) or put it in a "
                             "Sequential")
        got, want = x.shape[1:], self.input_shape
        if got != want and not (self.free_steps and len(got) == len(want) and got[1:] == want[1:]):
            axes = ("time",) + want[1:] if self.free_steps else want
            raise ValueError(f"{self!r} expects inputs of shape (batch, "
                             f"{', '.join(map(str, axes))}); got {x.shape}")
        return self.forward(x)

    def __repr__(self):
        return type(self).__name__ + "()"

    def parameters(self):
        """``[(name, Tensor)]`` of every trainable parameter, sub-layers' as ``"i.name"``."""
        out = list(self.params.items())
        for i, layer in enumerate(self.layers):
            out += [(f"{i}.{k}", p) for k, p in layer.parameters()]
        return out

    def train(self, mode=True):
        """Set training mode (dropout active, batch statistics) for this layer and below."""
        self.training = mode
        for layer in self.layers:
            layer.train(mode)
        return self

    def eval(self):
        """Set evaluation mode (no dropout, running statistics)."""
        return self.train(False)

    def state(self):
        """Parameters and buffers as ``{name: array}`` (copies)."""
        out = {k: p.data.copy() for k, p in self.params.items()}
        out.update({k: b.copy() for k, b in self.buffers.items()})
        for i, layer in enumerate(self.layers):
            out.update({f"{i}.{k}": v for k, v in layer.state().items()})
        return out

    def load_state(self, state):
        """Copy ``{name: array}`` (as from :meth:`state`) into the built layer, in place."""
        mine = self.state()
        missing, extra = sorted(set(mine) - set(state)), sorted(set(state) - set(mine))
        if missing or extra:
            raise ValueError(f"state does not fit {self!r}: missing {missing}, unexpected {extra}")
        for name, value in state.items():
            if np.shape(value) != mine[name].shape:
                raise ValueError(f"state {name!r} has shape {np.shape(value)}; the model has "
                                 f"{mine[name].shape}")
        self._assign(state)
        return self

    def _assign(self, state):
        for k, p in self.params.items():
            p.data[...] = state[k]
        for k, b in self.buffers.items():
            b[...] = state[k]
        for i, layer in enumerate(self.layers):
            layer._assign({k[len(f"{i}."):]: v for k, v in state.items() if k.startswith(f"{i}.")})

    def save(self, path):
        """Write the parameters and buffers to the netCDF file ``path``; returns ``path``.

        One variable per entry of :meth:`state` (same name, its own dims ``<name>_0``, ...,
        attr ``kind`` "parameter" or "buffer"); attrs ``model`` (the class name),
        ``architecture`` (the model's repr) and ``family``. No pickle: the architecture is the
        code that builds the model, so a file is read back into a model built the same way
        (:meth:`load`).
        """
        trainable = {name for name, _ in self.parameters()}
        data = {name: ([f"{name}_{k}" for k in range(np.ndim(value))], value,
                       {"kind": "parameter" if name in trainable else "buffer"})
                for name, value in self.state().items()}
        ds = record.dataset(data, family=getattr(self, "family", "nn"),
                            model=type(self).__name__, params={"architecture": repr(self)})
        return record.save(ds, path)

    def load(self, path):
        """Read the parameters and buffers that :meth:`save` wrote to ``path`` into this built
        model (made as the saved one was); returns the model.

        ``.npz`` files written by earlier versions are read too. A file that is not this
        model's (not netCDF, truncated, another model class, other parameter names or shapes)
        is a ``ValueError`` naming the file, and the model is left as it was.
        """
        name = os.fspath(path)
        if _is_npz(name):
            state = _read_npz(name)
        else:
            ds = record.open_model(name, type(self).__name__)
            state = {key: ds[key].values for key in ds.data_vars}
        try:
            return self.load_state(state)
        except ValueError as err:
            raise ValueError(f"{name}: {err}") from None

    def history_attrs(self):
        """Attributes that :func:`neurosim.nn.train.fit` adds to this model's training history
        (a family's abbreviation, its loss's units, ...); none by default."""
        return {}

    def fit(self, X, y=None, **options):
        """Train by mini-batch gradient descent; see :func:`neurosim.nn.train.fit`."""
        from .train import fit
        return fit(self, X, y, **options)

    def predict(self, X, batch_size=256, lengths=None):
        """Outputs for ``X`` (n, *input_shape) in evaluation mode, as an array; see
        :func:`neurosim.nn.train.predict` (``lengths``, sources of batches)."""
        from .train import predict
        return predict(self, X, batch_size, lengths)


def _is_npz(path):
    """Whether ``path`` is a zip archive (an ``.npz`` state of an earlier version)."""
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"PK\x03\x04"
    except OSError:
        return False


def _read_npz(path):
    """``{name: array}`` from an ``.npz`` state file (no pickle); a damaged one is a
    ValueError naming the file."""
    try:
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise ValueError(f"{path} is not a readable .npz state file (truncated?): {err}") from None


def _image(shape, layer):
    if len(shape) != 3:
        raise ValueError(f"{layer} needs per-sample inputs (channels, height, width); got {shape}")
    return shape


class SequenceLayer(Layer):
    """A layer on (batch, time, features) that accepts any number of steps at call time (it is
    built for (time, features); only the features must match). Extra call arguments (an
    initial state, a context, a padding mask) go to ``forward``."""

    free_steps = True

    def __call__(self, x, *args, **kwargs):
        return self.forward(self.checked_input(x), *args, **kwargs)

    def checked_input(self, x):
        """``x`` as a Tensor after checking that it is (batch, time, features) with the built
        layer's features."""
        x = as_tensor(x)
        if not self.built:
            raise ValueError(f"{self!r} is not built: call build((time, features)) or put it "
                             "in a Sequential")
        if x.ndim != 3 or x.shape[2] != self.input_shape[1]:
            raise ValueError(f"{self!r} expects inputs of shape (batch, time, "
                             f"{self.input_shape[1]}); got {x.shape}")
        return x


class Activation(Layer):
    """An element-wise activation by name (see :data:`neurosim.nn.ops.ACTIVATIONS`)."""

    def __init__(self, name):
        super().__init__()
        self.name, self.fn = name, ops.activation(name)

    def forward(self, x):
        return self.fn(x)

    def __repr__(self):
        return f"Activation({self.name!r})"


class Dense(Layer):
    """Fully connected layer ``act(x @ W + b)``: (batch, in) -> (batch, units)."""

    def __init__(self, units, activation="identity", *, init="glorot_uniform", bias=True):
        super().__init__()
        self.units = checks.integer(units, "units", low=1)
        self.activation, self.act = activation, ops.activation(activation)
        self.init, self.bias = initialiser(init), bool(bias)

    def _build(self, shape, generator, dtype):
        if len(shape) != 1:
            raise ValueError(f"needs flat inputs (features,); got per-sample shape {shape} "
                             "(put a Flatten before it)")
        self.add_param("W", self.init(generator, (shape[0], self.units), shape[0], self.units),
                       dtype)
        if self.bias:
            self.add_param("b", np.zeros(self.units), dtype)
        return (self.units,)

    def forward(self, x):
        if self.activation == "relu":       # fused into the product's op
            return ops.dense(x, self.params["W"], self.params.get("b"), "relu")
        return self.act(ops.dense(x, self.params["W"], self.params.get("b")))

    def __repr__(self):
        act = "" if self.activation == "identity" else f", activation={self.activation!r}"
        return f"Dense({self.units}{act})"


class _Conv(Layer):
    """Shared options of :class:`Conv2D` and :class:`Conv1D`."""

    def __init__(self, filters, groups, activation, init, bias):
        super().__init__()
        self.filters = checks.integer(filters, "filters", low=1)
        self.groups = checks.integer(groups, "groups", low=1)
        if self.filters % self.groups:
            raise ValueError(f"filters ({self.filters}) must be a multiple of groups ({self.groups})")
        self.activation, self.act = activation, ops.activation(activation)
        self.init, self.bias = initialiser(init), bool(bias)

    def _weights(self, channels, taps, generator, dtype):
        """Create ``W`` (filters, channels / groups, *taps) and ``b``."""
        if channels % self.groups:
            raise ValueError(f"input channels ({channels}) must be a multiple of groups "
                             f"({self.groups})")
        area = int(np.prod(taps))
        fan_in, fan_out = channels // self.groups * area, self.filters * area
        self.add_param("W", self.init(generator, (self.filters, channels // self.groups, *taps),
                                      fan_in, fan_out), dtype)
        if self.bias:
            self.add_param("b", np.zeros(self.filters), dtype)

    def _apply(self, op, x, *geometry):
        """``act(op(x, W, b, *geometry, groups))``, a ReLU fused into the op."""
        fused = self.activation if self.activation in conv.FUSED else "identity"
        y = op(x, self.params["W"], self.params.get("b"), *geometry, self.groups, fused)
        return y if fused == self.activation else self.act(y)

    def _options(self, stride, padding, dilation, one):
        extra = "" if dilation == one else f", dilation={dilation}"
        extra += "" if self.groups == 1 else f", groups={self.groups}"
        return f"stride={stride}, padding={padding}{extra}"


class Conv2D(_Conv):
    """2-D convolution: (batch, C, H, W) -> (batch, filters, H', W').

    ``stride``, ``padding``, ``dilation`` ints or (h, w) pairs and ``groups`` as in
    :func:`neurosim.nn.conv.conv2d` (and PyTorch's ``Conv2d``); the weights are
    (filters, C / groups, kh, kw). A ReLU activation is fused into the convolution's op, and
    in a :class:`Sequential` a following ``MaxPool2D(2)`` too (:meth:`pooled_by`).
    """

    def __init__(self, filters, kernel, *, stride=1, padding=0, dilation=1, groups=1,
                 activation="identity", init="glorot_uniform", bias=True):
        super().__init__(filters, groups, activation, init, bias)
        self.kernel, self.stride = conv.pair(kernel, "kernel", 1), conv.pair(stride, "stride", 1)
        self.padding = conv.pair(padding, "padding")
        self.dilation = conv.pair(dilation, "dilation", 1)

    def _build(self, shape, generator, dtype):
        c, h, w = _image(shape, "Conv2D")
        out_hw = conv.conv_output_shape((h, w), self.kernel, self.stride, self.padding,
                                        self.dilation)
        self._weights(c, self.kernel, generator, dtype)
        return (self.filters, *out_hw)

    def forward(self, x):
        return self._apply(conv.conv2d, x, self.stride, self.padding, self.dilation)

    def pooled_by(self, layer):
        """Whether ``layer``, run on this layer's output, is a 2x2 max-pool that the
        convolution's op can take in the same pass (:meth:`forward_pooled`): this layer's
        activation the ReLU, ``layer`` a ``MaxPool2D`` with size 2, stride 2, no padding and no
        ceil mode."""
        return (type(self) is Conv2D and self.activation == "relu" and type(layer) is MaxPool2D
                and layer.size == layer.stride == (2, 2) and layer.padding == (0, 0)
                and not layer.ceil_mode)

    def forward_pooled(self, x):
        """``MaxPool2D(2).forward(self.forward(x))`` as one op
        (:func:`~neurosim.nn.conv.conv2d_relu_max_pool2x2`: the same values and gradients,
        without the full-size activation); :class:`Sequential` runs the pair this way."""
        return conv.conv2d_relu_max_pool2x2(x, self.params["W"], self.params.get("b"),
                                            self.stride, self.padding, self.dilation,
                                            self.groups)

    def __repr__(self):
        options = self._options(self.stride, self.padding, self.dilation, (1, 1))
        return f"Conv2D({self.filters}, {self.kernel}, {options})"


class Conv1D(_Conv):
    """1-D convolution over sequences of channels: (batch, C, L) -> (batch, filters, L').

    ``L' = (L + 2 padding - dilation (kernel - 1) - 1) // stride + 1``; ints ``kernel``,
    ``stride``, ``padding``, ``dilation`` and ``groups`` as in PyTorch's ``Conv1d``; the weights
    are (filters, C / groups, kernel). A ReLU activation is fused into the convolution's op.
    """

    def __init__(self, filters, kernel, *, stride=1, padding=0, dilation=1, groups=1,
                 activation="identity", init="glorot_uniform", bias=True):
        super().__init__(filters, groups, activation, init, bias)
        self.kernel = checks.integer(kernel, "kernel", low=1)
        self.stride = checks.integer(stride, "stride", low=1)
        self.padding = checks.integer(padding, "padding", low=0)
        self.dilation = checks.integer(dilation, "dilation", low=1)

    def _build(self, shape, generator, dtype):
        if len(shape) != 2:
            raise ValueError(f"Conv1D needs per-sample inputs (channels, length); got {shape}")
        c, length = shape
        out = conv.conv_output_shape((1, length), (1, self.kernel), (1, self.stride),
                                     (0, self.padding), (1, self.dilation))[1]
        self._weights(c, (self.kernel,), generator, dtype)
        return (self.filters, out)

    def forward(self, x):
        return self._apply(conv.conv1d, x, self.stride, self.padding, self.dilation)

    def __repr__(self):
        options = self._options(self.stride, self.padding, self.dilation, 1)
        return f"Conv1D({self.filters}, {self.kernel}, {options})"


class ConvTranspose2D(Layer):
    """Transposed convolution (up-sampling): (batch, C, H, W) -> (batch, filters, H', W') with
    ``H' = (H - 1) stride - 2 padding + kernel + output_padding``."""

    def __init__(self, filters, kernel, *, stride=1, padding=0, output_padding=0,
                 activation="identity", init="glorot_uniform", bias=True):
        super().__init__()
        self.filters = checks.integer(filters, "filters", low=1)
        self.kernel, self.stride, self.padding = (conv.pair(kernel, "kernel", 1), conv.pair(stride, "stride", 1),
                                                  conv.pair(padding, "padding"))
        self.output_padding = conv.pair(output_padding, "output_padding")
        self.activation, self.act = activation, ops.activation(activation)
        self.init, self.bias = initialiser(init), bool(bias)

    def _build(self, shape, generator, dtype):
        c, h, w = _image(shape, "ConvTranspose2D")
        kh, kw = self.kernel
        out_hw = conv.conv_transpose_output_shape((h, w), self.kernel, self.stride, self.padding,
                                                  self.output_padding)
        fan_in, fan_out = self.filters * kh * kw, c * kh * kw
        self.add_param("W", self.init(generator, (c, self.filters, kh, kw), fan_in, fan_out), dtype)
        if self.bias:
            self.add_param("b", np.zeros(self.filters), dtype)
        return (self.filters, *out_hw)

    def forward(self, x):
        return self.act(conv.conv_transpose2d(x, self.params["W"], self.params.get("b"),
                                              self.stride, self.padding, self.output_padding))

    def __repr__(self):
        return f"ConvTranspose2D({self.filters}, {self.kernel}, stride={self.stride})"


class _Pool(Layer):
    op = None

    def __init__(self, size=2, stride=None, padding=0, ceil_mode=False):
        super().__init__()
        self.size = conv.pair(size, "size", 1)
        self.stride = self.size if stride is None else conv.pair(stride, "stride", 1)
        self.padding = conv.pair(padding, "padding")
        self.ceil_mode = bool(ceil_mode)
        conv.pool_output_shape(self.size, self.size, self.stride, self.padding)  # checks padding

    def _build(self, shape, generator, dtype):
        c, h, w = _image(shape, type(self).__name__)
        return (c, *conv.pool_output_shape((h, w), self.size, self.stride, self.padding,
                                           self.ceil_mode))

    def forward(self, x):
        return type(self).op(x, self.size, self.stride, self.padding, self.ceil_mode)

    def __repr__(self):
        extra = "" if self.stride == self.size else f", stride={self.stride}"
        extra += "" if self.padding == (0, 0) else f", padding={self.padding}"
        extra += ", ceil_mode=True" if self.ceil_mode else ""
        return f"{type(self).__name__}({self.size}{extra})"


class MaxPool2D(_Pool):
    """Maximum over (size x size) windows, per channel; ``padding`` (minus infinity, at most
    half the window) and ``ceil_mode`` as in PyTorch's ``MaxPool2d``."""
    op = staticmethod(conv.max_pool2d)


class AvgPool2D(_Pool):
    """Mean over (size x size) windows, per channel; ``padding`` (zeros), ``ceil_mode`` and
    ``count_include_pad`` as in PyTorch's ``AvgPool2d``."""

    def __init__(self, size=2, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        super().__init__(size, stride, padding, ceil_mode)
        self.count_include_pad = bool(count_include_pad)

    def forward(self, x):
        return conv.avg_pool2d(x, self.size, self.stride, self.padding, self.ceil_mode,
                               self.count_include_pad)


class Upsample(Layer):
    """Integer up-sampling of images by ``scale``, ``"nearest"`` or ``"bilinear"``."""

    def __init__(self, scale=2, mode="nearest"):
        super().__init__()
        self.scale = checks.integer(scale, "scale", low=1)
        self.mode = checks.choice(mode, "mode", ("nearest", "bilinear"))

    def _build(self, shape, generator, dtype):
        c, h, w = _image(shape, "Upsample")
        return (c, h * self.scale, w * self.scale)

    def forward(self, x):
        return conv.upsample(x, self.scale, self.mode)

    def __repr__(self):
        return f"Upsample({self.scale}, {self.mode!r})"


class Flatten(Layer):
    """(batch, *shape) -> (batch, prod(shape))."""

    def _build(self, shape, generator, dtype):
        return (int(np.prod(shape)),)

    def forward(self, x):
        return ops.reshape(x, (x.shape[0], -1))


class Reshape(Layer):
    """(batch, *shape) -> (batch, *target) with the same number of elements per sample."""

    def __init__(self, target):
        super().__init__()
        self.target = tuple(int(t) for t in target)

    def _build(self, shape, generator, dtype):
        if int(np.prod(shape)) != int(np.prod(self.target)):
            raise ValueError(f"cannot reshape {shape} into {self.target}")
        return self.target

    def forward(self, x):
        return ops.reshape(x, (x.shape[0], *self.target))

    def __repr__(self):
        return f"Reshape({self.target})"


class Dropout(Layer):
    """Inverted dropout: in training, zero each input with probability ``rate``."""

    def __init__(self, rate=0.5):
        super().__init__()
        self.rate = checks.scalar(rate, "rate", low=0.0, high=1.0, high_open=True)

    def _build(self, shape, generator, dtype):
        self.generator = np.random.default_rng(generator.integers(2 ** 63))
        return shape

    def forward(self, x):
        return norm.dropout(x, self.rate, self.generator) if self.training else x

    def __repr__(self):
        return f"Dropout({self.rate})"


class BatchNorm(Layer):
    """Batch normalisation per feature (axis 1: features of flat inputs, channels of images),
    with running statistics for evaluation (``momentum`` weight of each new batch)."""

    def __init__(self, momentum=0.1, eps=1e-5):
        super().__init__()
        self.momentum = checks.scalar(momentum, "momentum", low=0.0, high=1.0)
        self.eps = checks.scalar(eps, "eps", low=0.0, low_open=True)

    def _build(self, shape, generator, dtype):
        self.add_param("gamma", np.ones(shape[0]), dtype)
        self.add_param("beta", np.zeros(shape[0]), dtype)
        self.buffers = {"running_mean": np.zeros(shape[0], dtype),
                        "running_var": np.ones(shape[0], dtype)}
        return shape

    def forward(self, x):
        g, b = self.params["gamma"], self.params["beta"]
        if not self.training:
            return norm.batch_norm_inference(x, g, b, self.buffers["running_mean"],
                                             self.buffers["running_var"], self.eps)
        y, mean, var = norm.batch_norm(x, g, b, self.eps)
        count = x.size // x.shape[1]
        m = self.momentum
        self.buffers["running_mean"] *= 1 - m
        self.buffers["running_mean"] += m * mean
        self.buffers["running_var"] *= 1 - m
        self.buffers["running_var"] += m * var * count / max(count - 1, 1)
        return y


class LayerNorm(Layer):
    """Normalisation over the last axis of each sample, with a learned scale and shift."""

    def __init__(self, eps=1e-5):
        super().__init__()
        self.eps = checks.scalar(eps, "eps", low=0.0, low_open=True)

    def _build(self, shape, generator, dtype):
        self.add_param("gamma", np.ones(shape[-1]), dtype)
        self.add_param("beta", np.zeros(shape[-1]), dtype)
        return shape

    def forward(self, x):
        return norm.layer_norm(x, self.params["gamma"], self.params["beta"], self.eps)


class Sequential(Layer):
    """Layers applied in order; the model that trains, predicts and saves.

    A ``Conv2D(activation="relu")`` directly followed by ``MaxPool2D(2)`` (stride 2, no
    padding, no ceil mode) runs as one fused op (:meth:`forward`); outputs, gradients, state,
    summary and repr are those of the two layers.

    Parameters
    ----------
    *layers : Layer
    input_shape : tuple, optional
        Per-sample input shape; given, the model is built at once (shape errors surface here),
        otherwise at the first call.
    seed : int, optional
        Seed of the initial weights and dropout masks.
    dtype : float64 or float32
    """

    def __init__(self, *layers, input_shape=None, seed=None, dtype=np.float64):
        super().__init__()
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"layer {i} must be a Layer; got {type(layer).__name__}")
            if getattr(layer, "return_state", False):     # (outputs, states): one passes on
                raise TypeError(f"layer {i} {layer!r} returns (outputs, final states), but a "
                                "Sequential passes one output on: make it with return_state="
                                "False, or call it outside the Sequential for the states")
        self.layers = list(layers)
        self.seed = seed
        self.dtype = np.dtype(checks.choice(np.dtype(dtype).name, "dtype", ("float64", "float32")))
        if input_shape is not None:
            self.build(input_shape)

    def build(self, input_shape, generator=None, dtype=None):
        """Build every layer in turn; errors name the layer's position."""
        generator = rng.generator(self.seed) if generator is None else generator
        dtype = self.dtype if dtype is None else dtype
        shape = tuple(int(s) for s in input_shape)
        self.input_shape = shape
        for i, layer in enumerate(self.layers):
            try:
                shape = layer.build(shape, generator, dtype)
            except ValueError as err:
                raise ValueError(f"layer {i} {err}") from None
        self.output_shape = shape
        return shape

    def any_steps(self):
        """Whether sequences of any length fit: the first layer past embeddings takes any
        number of steps (a sequence layer, a Bidirectional one, a TimeDistributed layer)."""
        first = next((k for k in self.layers if type(k).__name__ != "Embedding"), None)
        return first is not None and first.free_steps

    def check_input(self, shape, name="x"):
        """A ValueError naming ``name`` unless a batch of ``shape`` fits the built model."""
        want, free, got = self.input_shape, self.any_steps(), tuple(shape[1:])
        if not (got == want or free and len(got) == len(want) and got[1:] == want[1:]):
            axes = ("time",) + want[1:] if free else want
            raise ValueError(f"{name} must have shape (n, {', '.join(map(str, axes))}) (the "
                             f"model's inputs); got {tuple(shape)}")

    def __call__(self, x, lengths=None):
        """The output for ``x``; ``lengths`` go to the layers that take them."""
        x = as_tensor(x)
        if not self.built:
            self.build(x.shape[1:])
        same = x.shape[1:] == self.input_shape
        if not same and not self.any_steps():
            return super().__call__(x)      # its error
        if lengths is not None and not self.takes_lengths():
            raise TypeError(f"lengths: no layer of {self!r} takes lengths (recurrent, attention)")
        if same:
            return self.forward(x, lengths)
        self.check_input(x.shape)
        try:
            return self.forward(x, lengths)
        except ValueError as err:      # a later layer needs the length the model was built for
            raise ValueError(f"{err} (the model was built for sequences of "
                             f"{self.input_shape[0]} steps; got {x.shape[1]})") from None

    def forward(self, x, lengths=None):
        """The layers in turn; a ``Conv2D`` with a ReLU directly followed by ``MaxPool2D(2)``
        runs as one op (:meth:`Conv2D.pooled_by`, :meth:`Conv2D.forward_pooled`: the same
        outputs and gradients, without writing the full-size activation)."""
        layers, i = self.layers, 0
        while i < len(layers):
            layer = layers[i]
            pooled = i + 1 < len(layers) and isinstance(layer, Conv2D) and \
                layer.pooled_by(layers[i + 1])
            if pooled:
                x = layer.forward_pooled(x)
            else:
                x = layer.forward(x) if lengths is None or not layer.takes_lengths() else \
                    layer.forward(x, lengths=lengths)
            i += 2 if pooled else 1
        return x

    def takes_lengths(self):
        """Whether one of the layers takes ``lengths``."""
        return any(layer.takes_lengths() for layer in self.layers)

    def summary(self):
        """A table of the layers, their output shapes and parameter counts."""
        rows = [f"{'layer':<40}{'output':<20}{'parameters':>10}"]
        for layer in self.layers:
            count = sum(p.size for _, p in layer.parameters())
            rows.append(f"{layer!r:<40}{str(layer.output_shape):<20}{count:>10}")
        rows.append(f"{'total':<60}{sum(p.size for _, p in self.parameters()):>10}")
        return "\n".join(rows)

    def __repr__(self):
        return "Sequential(" + ", ".join(map(repr, self.layers)) + ")"


class Residual(Layer):
    """``act(body(x) + shortcut(x))``: ``body`` layers in order, ``shortcut`` the identity by
    default (or a layer, e.g. a 1x1 Conv2D, when the shapes differ)."""

    def __init__(self, *body, shortcut=None, activation="identity"):
        super().__init__()
        self.body = Sequential(*body)
        self.shortcut = shortcut
        self.layers = [self.body] + ([shortcut] if shortcut is not None else [])
        self.activation, self.act = activation, ops.activation(activation)

    def _build(self, shape, generator, dtype):
        out = self.body.build(shape, generator, dtype)
        skip = shape if self.shortcut is None else self.shortcut.build(shape, generator, dtype)
        if out != skip:
            raise ValueError(f"body output {out} and shortcut output {skip} differ (give a "
                             "shortcut layer that maps the input to the body's output shape)")
        return out

    def forward(self, x):
        skip = x if self.shortcut is None else self.shortcut.forward(x)
        return self.act(ops.add(self.body.forward(x), skip))

    def __repr__(self):
        return f"Residual({len(self.body.layers)} layers)"


__all__ = ["Layer", "Activation", "Dense", "Conv2D", "Conv1D", "ConvTranspose2D", "MaxPool2D", "AvgPool2D",
           "Upsample", "Flatten", "Reshape", "Dropout", "BatchNorm", "LayerNorm", "Sequential",
           "Residual"]
__all__.append("Embedding")


def __getattr__(name):
    """``Embedding`` lives in :mod:`.embedding` (which builds on :class:`Layer`)."""
    if name == "Embedding":
        from .embedding import Embedding
        return Embedding
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
