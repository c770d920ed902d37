"""Feed-forward network (FF, the multilayer perceptron): fully connected layers in sequence."""
import numpy as np

from .. import checks
from ..nn.layers import Dense, Dropout, Sequential


def mlp(sizes, activation="relu", *, output="identity", dropout=0.0, init="glorot_uniform",
        seed=None, dtype=np.float64):
    """A multilayer perceptron ``sizes[0] -> sizes[1] -> ... -> sizes[-1]``.

    Parameters
    ----------
    sizes : sequence of int
        Input width, hidden widths, output width, e.g. ``(64, 128, 10)``.
    activation : str
        Hidden activation (see :data:`neurosim.nn.ops.ACTIVATIONS`).
    output : str
        Output activation; ``"identity"`` gives logits for ``loss="cross_entropy"``.
    dropout : float
        Dropout rate after each hidden layer (0 for none).
    init, seed, dtype
        Weight initialiser name, seed of the weights and dropout masks, float64 or float32.

    Returns
    -------
    Sequential
        Built for inputs (batch, sizes[0]); train it with ``fit``.
    """
    if isinstance(sizes, (int, np.integer)) or len(sizes) < 2:
        raise ValueError(f"sizes must list at least the input and output widths; got {sizes!r}")
    sizes = [checks.integer(s, "sizes", low=1) for s in sizes]
    dropout = checks.scalar(dropout, "dropout", low=0.0, high=1.0, high_open=True)
    weights = sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))
    # each parameter, its gradient and an optimiser's two moments (Adam), in float64 at most
    checks.memory(32 * weights, f"mlp(sizes={sizes}) ({weights} parameters)")
    layers = []
    for width in sizes[1:-1]:
        layers.append(Dense(width, activation, init=init))
        if dropout:
            layers.append(Dropout(dropout))
    layers.append(Dense(sizes[-1], output, init=init))
    return Sequential(*layers, input_shape=(sizes[0],), seed=seed, dtype=dtype)


__all__ = ["mlp"]
