"""Layers that wrap others along a sequence: :class:`Bidirectional` (a recurrent layer run both
ways) and :class:`TimeDistributed` (a layer applied at every step). Both are also importable
from :mod:`neurosim.nn.recurrent`."""
import copy

from .. import checks
from . import ops
from .layers import Layer


class Bidirectional(Layer):
    """A recurrent layer run forwards and a copy of it run backwards in time, merged.

    Parameters
    ----------
    layer : Recurrent
        Its settings (units, return_sequences, initialisers) serve both directions; the
        backward copy draws its own weights.
    merge : "concat" or "sum"
        Join the two outputs along the units (2 units wide) or add them.

    With ``return_sequences``, ``out[:, t]`` has seen the whole sequence: ``x[:, :t+1]``
    forwards and ``x[:, t:]`` backwards; otherwise each direction's final state is returned.
    ``initial_state`` is a pair (forward state, backward state).
    """

    free_steps = True

    def __init__(self, layer, merge="concat"):
        super().__init__()
        from .recurrent import Recurrent
        if not isinstance(layer, Recurrent):
            raise TypeError(f"Bidirectional wraps a recurrent layer (SimpleRNN, LSTM, GRU); got "
                            f"{type(layer).__name__}")
        if layer.bidirectional or layer.return_state:
            raise ValueError("Bidirectional wraps a one-way layer without return_state (for "
                             "PyTorch's form use the layer's own bidirectional=True)")
        self.merge = checks.choice(merge, "merge", ("concat", "sum"))
        backward = copy.copy(layer)
        backward.params, backward.reverse = {}, not layer.reverse
        self.layers = [layer, backward]

    def _build(self, shape, generator, dtype):
        out = [layer.build(shape, generator, dtype) for layer in self.layers][0]
        return out[:-1] + (2 * out[-1],) if self.merge == "concat" else out

    def __call__(self, x, initial_state=None, lengths=None):
        return self.forward(self.layers[0].checked_input(x), initial_state, lengths)

    def forward(self, x, initial_state=None, lengths=None):
        return self._merged([layer.forward for layer in self.layers], x, initial_state, lengths)

    def states(self, x, initial_state=None, lengths=None):
        """Every step's merged hidden state (batch, time, 2 units or units)."""
        x = self.layers[0].checked_input(x)
        return self._merged([layer.states for layer in self.layers], x, initial_state, lengths)

    def _merged(self, runs, x, initial_state, lengths):
        states = (None, None) if initial_state is None else initial_state
        if not isinstance(states, (tuple, list)) or len(states) != 2:
            raise TypeError("Bidirectional initial_state must be a pair (forward state, "
                            f"backward state); got {type(states).__name__}")
        outs = [run(x, s, lengths) for run, s in zip(runs, states)]
        return ops.concatenate(outs, axis=-1) if self.merge == "concat" else outs[0] + outs[1]

    def __repr__(self):
        return f"Bidirectional({self.layers[0]!r}, merge={self.merge!r})"


class TimeDistributed(Layer):
    """A layer applied to every time step: (batch, time, *shape) -> (batch, time, *out), e.g.
    ``TimeDistributed(Dense(1))`` after a recurrent layer with ``return_sequences``."""

    free_steps = True

    def __init__(self, layer):
        super().__init__()
        if not isinstance(layer, Layer):
            raise TypeError(f"TimeDistributed wraps a Layer; got {type(layer).__name__}")
        self.layers = [layer]

    def _build(self, shape, generator, dtype):
        if len(shape) < 2:
            raise ValueError(f"needs per-sample inputs (time, ...); got {shape}")
        return (shape[0],) + self.layers[0].build(shape[1:], generator, dtype)

    def forward(self, x):
        n, steps = x.shape[:2]
        y = self.layers[0].forward(ops.reshape(x, (n * steps,) + x.shape[2:]))
        return ops.reshape(y, (n, steps) + y.shape[1:])

    def __repr__(self):
        return f"TimeDistributed({self.layers[0]!r})"


__all__ = ["Bidirectional", "TimeDistributed"]
