"""PyTorch recurrent weights in neurosim's layers, without importing PyTorch.

A PyTorch ``nn.RNN``/``nn.LSTM``/``nn.GRU`` state dict names its tensors ``weight_ih_l{k}``
(G*H, inputs), ``weight_hh_l{k}`` (G*H, H), ``bias_ih_l{k}`` and ``bias_hh_l{k}`` (G*H,),
with ``_reverse`` appended for the backward direction of a bidirectional layer; the gate
blocks are in the order neurosim uses (LSTM i, f, g, o; GRU r, z, n). neurosim stores ``x W``:
``W`` is ``weight_ih.T``, ``U`` is ``weight_hh.T``; in its ``"torch"`` layout the biases are
``b_ih`` and ``b_hh`` as they are, in the ``"neurosim"`` one their sum ``b`` (GRU: the
candidate's ``b_hh`` block apart, as ``b_hn``, since it sits inside the reset product).
A module made with ``bias=False`` has no bias tensors; the layer is then built with
``bias=False`` too. An LSTM with ``proj_size`` has ``weight_hr_l{k}`` (P, H) too, neurosim's
``W_hr`` its transpose, and ``weight_hh`` is (4H, P). The ReLU RNN's state dict is the tanh
one's: :func:`from_torch` reads the nonlinearity from the module, or takes it as an argument.
"""
import re

import numpy as np

from ..kernels import recurrent as kr

_KEY = re.compile(r"(weight_ih|weight_hh|bias_ih|bias_hh|weight_hr)_l(\d+)(_reverse)?$")
_WEIGHTS, _BIASES = ("weight_ih", "weight_hh"), ("bias_ih", "bias_hh")
_CELLS = {1: "rnn", 4: "lstm", 3: "gru"}


def _arrays(state):
    """``{name: float array}`` of a state dict (NumPy arrays, or anything with ``.numpy()``);
    unknown names are a ValueError naming them."""
    if not isinstance(state, dict):
        raise TypeError(f"state must be a dict of arrays; got {type(state).__name__}")
    out, unknown = {}, []
    for name, value in state.items():
        if not _KEY.match(name):
            unknown.append(name)
            continue
        value = value.detach().cpu().numpy() if hasattr(value, "detach") else value
        out[name] = np.asarray(value, dtype=np.float64)
    if unknown:
        raise ValueError(f"state: names that are not a PyTorch RNN/LSTM/GRU's (weight_ih_l0, "
                         "weight_hh_l0, bias_ih_l0, bias_hh_l0, weight_hr_l0, ..._reverse): "
                         f"{sorted(unknown)}")
    return out


def torch_to_state(layer, state):
    """The PyTorch state dict ``state`` (``{name: array}``) as the ``{name: array}`` of the
    built recurrent ``layer``'s :meth:`~neurosim.nn.layers.Layer.load_state`; a missing or
    misshapen tensor is a ValueError naming it."""
    arrays = _arrays(state)
    gates, h, r = kr.GATES[layer.cell], layer.units, layer.state_units
    kinds = _WEIGHTS + (_BIASES if layer.bias else ()) + (
        ("weight_hr",) if layer.proj_size else ())
    out, expected = {}, set()
    for k in range(layer.num_layers):
        for d in range(layer.directions):
            torch_suffix, ours = f"_l{k}" + ("_reverse" if d else ""), layer.suffix(k, d)
            names = [name + torch_suffix for name in kinds]
            expected.update(names)
            missing = [n for n in names if n not in arrays]
            if missing:
                raise ValueError(f"state has no {missing} for {layer!r}")
            w_ih, w_hh, *rest = (arrays[n] for n in names)
            shapes = [(gates * h, r)] + [(gates * h,)] * 2 * layer.bias + \
                [(r, h)] * bool(layer.proj_size)
            for name, value, wanted in zip(names[1:], [w_hh] + rest, shapes):
                if value.shape != wanted:
                    raise ValueError(f"state[{name!r}] has shape {value.shape}; {layer!r} "
                                     f"needs {wanted}")
            out["W" + ours], out["U" + ours] = w_ih.T, w_hh.T
            if layer.proj_size:
                out["W_hr" + ours] = rest.pop().T
            if not layer.bias:
                continue
            b_ih, b_hh = rest
            if layer.layout == "torch":
                out["b_ih" + ours], out["b_hh" + ours] = b_ih, b_hh
            elif layer.cell == kr.GRU:
                out["b" + ours] = np.concatenate([b_ih[:2 * h] + b_hh[:2 * h], b_ih[2 * h:]])
                out["b_hn" + ours] = b_hh[2 * h:]
            else:
                out["b" + ours] = b_ih + b_hh
    extra = sorted(set(arrays) - expected)
    if extra:
        raise ValueError(f"state has tensors {layer!r} does not: {extra}")
    return out


def from_torch(state, *, nonlinearity=None, return_sequences=True, return_state=False,
               dtype=np.float64):
    """A built neurosim layer (``layout="torch"``) holding the weights of a PyTorch RNN, LSTM
    or GRU.

    Parameters
    ----------
    state : dict or torch.nn.RNNBase
        ``{name: array}``, e.g. ``{k: v.numpy() for k, v in module.state_dict().items()}``,
        or the module itself (its ``state_dict()`` and ``nonlinearity`` are read; PyTorch is
        not imported here); the cell (from the gate blocks: 1 RNN, 4 LSTM, 3 GRU), units,
        inputs, layers, directions, ``bias`` and ``proj_size`` are read from the names and
        shapes.
    nonlinearity : "tanh" or "relu", optional
        The RNN's (a state dict does not tell them apart; default ``"tanh"``, or the
        module's). Only for the RNN.
    return_sequences, return_state : bool
        As for :class:`~neurosim.nn.recurrent.Recurrent` (PyTorch's modules return both).
    dtype : float64 or float32

    Returns
    -------
    SimpleRNN, LSTM or GRU
        Built for inputs (time, features); call it on batch-first sequences (PyTorch's
        ``batch_first=True``).
    """
    from .recurrent import GRU, LSTM, SimpleRNN
    if hasattr(state, "state_dict") and not isinstance(state, dict):
        module = state
        if nonlinearity is None:
            nonlinearity = getattr(module, "nonlinearity", None)
        state = dict(module.state_dict())
    arrays = _arrays(state)
    if "weight_hh_l0" not in arrays or "weight_ih_l0" not in arrays:
        raise ValueError(f"state has no weight_ih_l0/weight_hh_l0 (it has {sorted(arrays)}): "
                         "not a PyTorch RNN, LSTM or GRU state dict")
    rows, units = arrays["weight_hh_l0"].shape
    options = {}
    if "weight_hr_l0" in arrays:      # an LSTM with proj_size: weight_hr (P, H)
        options["proj_size"], units = arrays["weight_hr_l0"].shape
        if rows != 4 * units:
            raise ValueError(f"state['weight_hh_l0'] has shape {(rows, options['proj_size'])}"
                             f": not (4H, P) for weight_hr_l0 (P, H) = "
                             f"{arrays['weight_hr_l0'].shape}")
    if rows % units or rows // units not in _CELLS:
        raise ValueError(f"state['weight_hh_l0'] has shape {(rows, units)}: not (G*H, H) with "
                         "G 1 (RNN), 3 (GRU) or 4 (LSTM)")
    cell = _CELLS[rows // units]
    if cell == "rnn":
        options["nonlinearity"] = "tanh" if nonlinearity is None else nonlinearity
    elif nonlinearity is not None:
        raise ValueError(f"nonlinearity is the RNN's; state holds an {cell.upper()} "
                         f"(got nonlinearity={nonlinearity!r})")
    kind = {"rnn": SimpleRNN, "lstm": LSTM, "gru": GRU}[cell]
    layers = 1 + max(int(_KEY.match(n).group(2)) for n in arrays)
    bidirectional = any(n.endswith("_reverse") for n in arrays)
    bias = any(n.startswith("bias_") for n in arrays)
    layer = kind(units, num_layers=layers, bidirectional=bidirectional, layout="torch",
                 bias=bias, return_sequences=return_sequences, return_state=return_state,
                 **options)
    layer.build((1, arrays["weight_ih_l0"].shape[1]), dtype=dtype)
    return layer.load_torch_state(arrays)


__all__ = ["torch_to_state", "from_torch"]
