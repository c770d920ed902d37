"""Deep residual network (DRN): deep stacks of dense layers with identity shortcuts, and the
vanishing-gradient diagnostic that shows why the shortcuts matter.

:func:`residual_network` builds a residual stack or its plain twin (same depth, same initial
weights, no shortcuts); :func:`gradient_norms` measures the loss gradient layer by layer. In a
deep plain stack of saturating units (sigmoid: derivative at most 1/4) the gradient shrinks by
a roughly constant factor per layer, so the first layers hardly learn; each shortcut adds the
identity to the layer's Jacobian, and the gradient reaches the first layer undiminished.
"""
import numpy as np

from .. import checks, record
from ..nn import losses
from ..nn.layers import BatchNorm, Dense, LayerNorm, Residual, Sequential

_NORMS = {None: None, "layer": LayerNorm, "batch": BatchNorm}


def residual_network(depth, width=32, *, input_dim=64, classes=10, residual=True, norm=None,
                     activation="tanh", seed=None, dtype=np.float64):
    """A deep fully connected classifier, with or without identity shortcuts.

    Dense(width) input projection, ``depth`` hidden layers of ``width`` units, Dense(classes)
    logits. With ``residual=True`` each hidden layer is a block ``x + act(W x + b)``
    (:class:`~neurosim.nn.layers.Residual`); with ``residual=False`` it is ``act(W x + b)``.
    Both draw the same initial weights for the same ``seed``, so they are twins. With ``norm``
    each hidden layer normalises its input first (pre-norm), inside the block when residual.

    Parameters
    ----------
    depth : int
        Number of hidden layers (blocks).
    width : int
    input_dim, classes : int
    residual : bool
    norm : None, "layer" or "batch"
    activation : str
        Hidden activation, e.g. ``"tanh"``, ``"relu"`` or ``"sigmoid"`` (see
        :data:`neurosim.nn.ops.ACTIVATIONS`).
    seed, dtype
        Seed of the weights; float64 or float32.

    Returns
    -------
    Sequential
        Built for inputs (batch, input_dim); outputs (batch, classes) logits; ``depth + 2``
        layers, hidden ones at positions 1 .. depth.
    """
    depth = checks.integer(depth, "depth", low=1)
    width = checks.integer(width, "width", low=1)
    norm_layer = _NORMS[checks.choice(norm, "norm", tuple(_NORMS))]
    init = "he_uniform" if activation == "relu" else "glorot_uniform"
    blocks = []
    for _ in range(depth):
        body = ([norm_layer()] if norm_layer else []) + [Dense(width, activation, init=init)]
        blocks.append(Residual(*body) if residual else
                      body[0] if len(body) == 1 else Sequential(*body))
    return Sequential(Dense(width, init=init), *blocks, Dense(classes),
                      input_shape=(checks.integer(input_dim, "input_dim", low=1),), seed=seed,
                      dtype=dtype)


def gradient_norms(model, X, y, loss="cross_entropy"):
    """The L2 norm of the loss gradient with respect to each layer's parameters.

    One forward and backward pass on the batch ``(X, y)`` in the model's current mode;
    the parameters' accumulated gradients are left as they were.

    Parameters
    ----------
    model : Sequential
    X : array_like, (n, *model.input_shape)
    y : array_like
        Targets for ``loss``, e.g. labels (n,) for ``"cross_entropy"``.
    loss : str or callable
        As for ``fit``.

    Returns
    -------
    xarray.Dataset
        ``grad_norm`` and ``weight_norm`` (norm of the parameters) along dim ``layer`` (the
        position in ``model.layers`` of each layer that has parameters), with coordinate
        ``kind`` (the layer's repr); attrs ``loss`` (its name) and ``loss_value``.
    """
    X = checks.array(X, "X", dtype=model.dtype)
    if not model.built:
        model.build(X.shape[1:])
    params = [p for _, p in model.parameters()]
    saved = [None if p.grad is None else p.grad.copy() for p in params]
    for p in params:
        p.zero_grad()
    try:
        value = losses.loss(loss)(model(X), y)
        value.backward()
        index, grads, weights = [], [], []
        for i, layer in enumerate(model.layers):
            mine = [p for _, p in layer.parameters()]
            if mine:
                index.append(i)
                grads.append(np.sqrt(sum(float(np.sum(p.grad ** 2)) for p in mine)))
                weights.append(np.sqrt(sum(float(np.sum(p.data ** 2)) for p in mine)))
    finally:
        for p, g in zip(params, saved):
            if g is None:
                p.grad = None
            else:
                p.grad[...] = g
    return record.dataset(
        {"grad_norm": ("layer", np.array(grads)), "weight_norm": ("layer", np.array(weights))},
        {"layer": np.array(index), "kind": ("layer", [repr(model.layers[i]) for i in index])},
        family="DRN", model=type(model).__name__,
        params={"loss": loss if isinstance(loss, str) else getattr(loss, "__name__", "loss")},
        attrs={"loss_value": value.item()})


__all__ = ["residual_network", "gradient_norms"]
