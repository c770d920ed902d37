"""The LSTM with a projection of its hidden state (PyTorch's ``nn.LSTM(proj_size=P)``):

    ``[i, f, g, o] = [s, s, tanh, s](x_t W + h_{t-1} U + b)``, ``c_t = f * c_{t-1} + i * g``,
    ``h_t = (o * tanh(c_t)) W_hr``

with ``W`` (features, 4H), ``U`` (P, 4H), ``b`` (4H,), ``W_hr`` (H, P) (PyTorch's
``weight_hr.T``): the state carried from step to step, and the output, is the projected ``h``
(P units, ``P < H``); the cell state keeps H. The fused recurrent kernel carries an H-wide
state, so this op runs step by step on the tape (per step: the cell as a one-step
:func:`~neurosim.nn.recurrent.lstm` on ``[x_t, h_{t-1}]``, then the projection): a sequence
costs T nodes, slower than the fused LSTM, with the same results as PyTorch's.
"""
import numpy as np

from . import ops
from .tensor import Tensor, as_tensor


def lstm_projected(x, W, U, b, W_hr, h0=None, c0=None, *, lengths=None, return_sequences=True,
                   reverse=False, return_state=False):
    """The projected LSTM (see the module) over whole sequences ``x`` (batch, time, features).

    ``h0`` (batch, P) and ``c0`` (batch, H) start the states (zeros by default); ``lengths``,
    ``return_sequences``, ``reverse`` and ``return_state`` are as for
    :func:`~neurosim.nn.recurrent.lstm`. Returns the outputs (batch, time, P) or (batch, P),
    with ``return_state`` a triple ``(outputs, h_T, c_T)`` (c_T (batch, H)).
    """
    from .recurrent import _checked_lengths, _order, lstm
    x, W, U, b, W_hr = (as_tensor(t) for t in (x, W, U, b, W_hr))
    if x.ndim != 3:
        raise ValueError(f"lstm_projected: x must be 3-D (batch, time, features); got shape "
                         f"{x.shape}")
    if W_hr.ndim != 2 or W_hr.shape[1] >= W_hr.shape[0]:
        raise ValueError("lstm_projected: W_hr must have shape (units, proj) with proj < units; "
                         f"got {W_hr.shape}")
    (units, proj), (n, steps, features) = W_hr.shape, x.shape
    for name, t, wanted in (("W", W, (features, 4 * units)), ("U", U, (proj, 4 * units)),
                            ("b", b, (4 * units,))):
        if t.shape != wanted:
            raise ValueError(f"lstm_projected: {name} must have shape {wanted}; got {t.shape}")
    dtype = x.dtype
    h = Tensor(np.zeros((n, proj), dtype)) if h0 is None else as_tensor(h0)
    c = Tensor(np.zeros((n, units), dtype)) if c0 is None else as_tensor(c0)
    for name, t, wanted in (("h0", h, (n, proj)), ("c0", c, (n, units))):
        if t.shape != wanted:
            raise ValueError(f"lstm_projected: {name} must have shape {wanted}; got {t.shape}")
    lengths = _checked_lengths(lengths, x.shape)
    order = _order(lengths, steps, reverse)
    if order is None and reverse:
        order = np.broadcast_to(np.arange(steps)[::-1], (n, steps))
    rows = np.arange(n)[:, None]
    if order is not None:
        x = ops.getitem(x, (rows, order))
    joined = ops.concatenate([W, U], axis=0)       # [x_t, h_{t-1}] (features + P, 4H)
    no_recurrence = np.zeros((units, 4 * units), dtype)
    outs = []
    for t in range(steps):
        step = ops.concatenate([ops.getitem(x, (slice(None), slice(t, t + 1))),
                                ops.reshape(h, (n, 1, proj))], axis=2)
        cell_out, _, c_new = lstm(step, joined, no_recurrence, b, None, c,
                                  return_sequences=False, return_state=True)
        h_new = ops.matmul(cell_out, W_hr)
        if lengths is None:
            h, c = h_new, c_new
            outs.append(h_new)
            continue
        live = (t < lengths)[:, None].astype(dtype)     # held states past a length
        h = h_new * live + h * (1.0 - live)
        c = c_new * live + c * (1.0 - live)
        outs.append(h_new * live)
    if not return_sequences:
        return (h, h, c) if return_state else h
    out = ops.stack(outs, axis=1)
    if order is not None:
        out = ops.getitem(out, (rows, order))
    return (out, h, c) if return_state else out


__all__ = ["lstm_projected"]
