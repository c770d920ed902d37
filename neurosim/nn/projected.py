"""The LSTM with a projection of its hidden state (PyTorch's ``nn.LSTM(proj_size=P)``):

    ``[i, f, g, o] = [s, s, tanh, s](x_t W + h_{t-1} U + b)``, ``c_t = f * c_{t-1} + i * g``,
    ``h_t = (o * tanh(c_t)) W_hr``

with ``W`` (features, 4H), ``U`` (P, 4H), ``b`` (4H,), ``W_hr`` (H, P) (PyTorch's
``weight_hr.T``): the state carried from step to step, and the output, is the projected ``h``
(P units, ``P < H``); the cell state keeps H.

Run as one fused :func:`~neurosim.nn.recurrent.lstm`: with ``m_t = o * tanh(c_t)`` the
H-wide output of the cell, ``h_{t-1} U = m_{t-1} (W_hr U)``, so the cell is a plain LSTM with
the recurrent weights ``W_hr U`` (H, 4H), and the outputs are ``m_t W_hr``, one product over
all steps. A given ``h0`` (P wide, no ``m_0`` behind it) enters the first step run as an extra
input block ``h0 U`` (inputs ``[x_t, h0 at the first step, else 0]``, weights ``[W; U]``).
"""
import numpy as np

from . import ops
from .tensor import as_tensor


def lstm_projected(x, W, U, b, W_hr, h0=None, c0=None, *, lengths=None, return_sequences=True,
                   reverse=False, return_state=False):
    """The projected LSTM (see the module) over whole sequences ``x`` (batch, time, features).

    ``h0`` (batch, P) and ``c0`` (batch, H) start the states (zeros by default); ``lengths``,
    ``return_sequences``, ``reverse`` and ``return_state`` are as for
    :func:`~neurosim.nn.recurrent.lstm`. Returns the outputs (batch, time, P) or (batch, P),
    with ``return_state`` a triple ``(outputs, h_T, c_T)`` (c_T (batch, H)).
    """
    from .recurrent import _checked_lengths, lstm
    x, W, U, b, W_hr = (as_tensor(t) for t in (x, W, U, b, W_hr))
    if x.ndim != 3:
        raise ValueError(f"lstm_projected: x must be 3-D (batch, time, features); got shape "
                         f"{x.shape}")
    if W_hr.ndim != 2 or W_hr.shape[1] >= W_hr.shape[0]:
        raise ValueError("lstm_projected: W_hr must have shape (units, proj) with proj < units; "
                         f"got {W_hr.shape}")
    (units, proj), (n, steps, features) = W_hr.shape, x.shape
    for name, t, wanted in (("W", W, (features, 4 * units)), ("U", U, (proj, 4 * units)),
                            ("b", b, (4 * units,)), ("h0", h0, (n, proj))):
        if t is not None and as_tensor(t).shape != wanted:
            raise ValueError(f"lstm_projected: {name} must have shape {wanted}; got "
                             f"{as_tensor(t).shape}")
    if h0 is not None:       # h0 U at each sequence's first step run
        lens = _checked_lengths(lengths, x.shape)
        first = np.zeros(n, np.int64) if not reverse else \
            np.full(n, steps - 1) if lens is None else lens - 1
        at_first = (np.arange(steps) == first[:, None])[:, :, None].astype(x.dtype)
        x = ops.concatenate([x, ops.reshape(as_tensor(h0), (n, 1, proj)) * at_first], axis=2)
        W = ops.concatenate([W, U], axis=0)
    out, m_T, c_T = lstm(x, W, ops.matmul(W_hr, U), b, None, c0, lengths=lengths,
                         return_sequences=return_sequences, reverse=reverse, return_state=True)
    out = ops.matmul(out, W_hr)
    if not return_state:
        return out
    return out, out if not return_sequences else ops.matmul(m_T, W_hr), c_T


__all__ = ["lstm_projected"]
