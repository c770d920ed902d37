"""The memory access of the differentiable neural computer (DNC; Graves et al. 2016, "Hybrid
computing using a neural network with dynamic external memory", Methods), as tape ops.

Shapes: memory ``M`` (batch, N, W); one write head; R read heads. The equations of one step t,
each for one sample (``*`` element-wise, ``.`` a product over a shared axis):

- interface (from the controller's raw emission, :func:`interface`): read keys ``k^r`` (R, W),
  read strengths ``beta^r = oneplus`` (R), write key ``k^w`` (W), write strength ``beta^w``
  (oneplus), erase vector ``e = sigmoid`` (W), write vector ``v`` (W), free gates
  ``f = sigmoid`` (R), allocation gate ``g^a`` and write gate ``g^w`` (sigmoid), read modes
  ``pi = softmax`` (R, 3) over (backward, content, forward); ``oneplus(x) = 1 + log(1 + e^x)``;
- usage (:func:`usage`): retention ``psi = prod_i (1 - f_i w^r_{t-1,i})``,
  ``u_t = (u_{t-1} + w^w_{t-1} - u_{t-1} * w^w_{t-1}) * psi``;
- allocation (:func:`allocation`): the free list ``phi`` sorts the locations by ascending usage,
  **ties by ascending location** (a stable sort, as ``numpy.argsort(kind="stable")`` and
  ``torch.sort(stable=True)``), and ``a[phi_j] = (1 - u[phi_j]) prod_{m<j} u[phi_m]``; the sort
  has no gradient: the gradient is that of the product with the free list held fixed (at a tie
  it is the limit from the side where the tie-break's order holds);
- write weighting (:func:`write_weighting`):
  ``w^w = g^w (g^a a + (1 - g^a) C(M_{t-1}, k^w, beta^w))``, ``C`` the NTM's content weighting
  (:func:`neurosim.nn.memory.content_weighting`, cosine with the same epsilon);
- write: ``M_t = M_{t-1} * (1 - w^w e^T) + w^w v^T`` (:func:`neurosim.nn.memory.write`);
- temporal links (:func:`link`):
  ``L_t[i, j] = (1 - w^w_i - w^w_j) L_{t-1}[i, j] + w^w_i p_{t-1, j}``, ``L_t[i, i] = 0``;
  precedence (:func:`precedence`): ``p_t = (1 - sum_i w^w_i) p_{t-1} + w^w``;
- read weightings (:func:`read_weighting`): forward ``f_i = L_t w^r_{t-1,i}``, backward
  ``b_i = L_t^T w^r_{t-1,i}``, content ``c_i = C(M_t, k^r_i, beta^r_i)``,
  ``w^r_i = pi_i[0] b_i + pi_i[1] c_i + pi_i[2] f_i``; read vectors ``r_i = M_t^T w^r_i``.

Each stage is a forward function returning its value and what its backward needs, and a backward
function, whole-array NumPy expressions but for the allocation (a sort and a running product,
sequential along the free list) and the O(N^2) link update, compiled kernels; each stage is an
op of its own. :func:`access` runs a whole step as one op on a packed state
(:func:`state_layout`): one compiled kernel call forward and one backward
(:mod:`neurosim.kernels.dnc`), looping over the samples with every stage's loops fused (the
backward runs the sample's forward again for its intermediates). Measured on the benchmark's
DNC (N=16, W=8, R=2, batch 16, one thread), the NumPy stages chained took about 0.9 ms per
step forward and 1.1 ms backward, most of a training epoch (``benchmarks/dnc.py``); the fused
kernels take about 0.08 and 0.13 ms.
"""
import functools
import math

import numpy as np

from ..kernels import dnc as kd
from ..kernels import nn as kn
from . import memory as nm
from .tensor import as_tensor, record

MODES = ("backward", "content", "forward")
"""The read modes, in the order of the last axis of ``pi``."""


# ---------------------------------------------------------------- packed layouts
def _layout(blocks):
    """{name: (slice, shape)} of consecutive blocks given as (name, shape) pairs."""
    out, start = {}, 0
    for name, shape in blocks:
        size = math.prod(shape)
        out[name] = (slice(start, start + size), shape)
        start += size
    return out


@functools.lru_cache(maxsize=64)
def interface_layout(width, read_heads):
    """Where each interface parameter lies in the controller's emission (batch, I): a dict of
    name -> (slice, per-sample shape), in the paper's order; ``I = interface_size(...)``."""
    w, r = width, read_heads
    return _layout([("read_keys", (r, w)), ("read_strengths", (r,)), ("write_key", (w,)),
                    ("write_strength", ()), ("erase", (w,)), ("write_vector", (w,)),
                    ("free_gates", (r,)), ("allocation_gate", ()), ("write_gate", ()),
                    ("read_modes", (r, 3))])


def interface_size(width, read_heads):
    """Length of the interface vector: ``R W + 3 W + 5 R + 3``."""
    return read_heads * width + 3 * width + 5 * read_heads + 3


@functools.lru_cache(maxsize=64)
def state_layout(locations, width, read_heads):
    """Where each part of a DNC's state lies in the packed state (batch, S) that :func:`access`
    takes and returns: name -> (slice, per-sample shape); ``S = state_size(...)``."""
    n, w, r = locations, width, read_heads
    return _layout([("memory", (n, w)), ("usage", (n,)), ("link", (n, n)), ("precedence", (n,)),
                    ("write_weighting", (n,)), ("read_weighting", (r, n)),
                    ("read_vectors", (r, w))])


def state_size(locations, width, read_heads):
    """Length of the packed state: ``N W + N^2 + 3 N + R N + R W``."""
    n, w, r = locations, width, read_heads
    return n * w + n * n + 3 * n + r * n + r * w


def views(packed, layout):
    """The named parts of a packed array (batch, size) as views (batch, *shape)."""
    return {name: packed[:, part].reshape((len(packed),) + shape)
            for name, (part, shape) in layout.items()}


# ---------------------------------------------------------------- stages: forward and backward
@functools.lru_cache(maxsize=64)
def _activated(width, heads):
    """Column indices of the interface's sigmoid parts and of its oneplus parts."""
    layout = interface_layout(width, heads)
    return tuple(np.concatenate([np.arange(layout[name][0].start, layout[name][0].stop)
                                 for name in names])
                 for names in (("erase", "free_gates", "allocation_gate", "write_gate"),
                               ("read_strengths", "write_strength")))


def _interface_forward(raw, width, heads):
    layout = interface_layout(width, heads)
    s = kn.sigmoid(raw)
    y = raw.copy()
    gated, oneplus = _activated(width, heads)
    y[:, gated] = s[:, gated]
    y[:, oneplus] = 1 + kn.softplus(raw[:, oneplus])
    modes = views(y, layout)["read_modes"]
    modes -= modes.max(-1, keepdims=True)
    np.exp(modes, out=modes)
    modes /= modes.sum(-1, keepdims=True)
    return y, (s, gated, oneplus, layout, modes)


def _interface_backward(cache, g):
    s, gated, oneplus, layout, modes = cache
    d = g.copy()
    d[:, gated] *= s[:, gated] * (1 - s[:, gated])
    d[:, oneplus] *= s[:, oneplus]
    dm = views(d, layout)["read_modes"]
    dm[...] = modes * (dm - (dm * modes).sum(-1, keepdims=True))
    return d


def _usage_forward(previous, write, reads, free):
    keep = 1 - free[..., None] * reads                                  # (B, R, N)
    retention, others = nm.leave_one_out(keep)
    kept = previous + write - previous * write
    return kept * retention, (previous, write, reads, free, retention, others, kept)


def _usage_backward(cache, g):
    previous, write, reads, free, retention, others, kept = cache
    g_kept = g * retention
    d_keep = (g * kept)[:, None] * others                               # (B, R, N)
    return (g_kept * (1 - write), g_kept * (1 - previous), -d_keep * free[..., None],
            -(d_keep * reads).sum(-1))


def _allocation_forward(usage):
    usage = np.ascontiguousarray(usage)
    order = np.empty(usage.shape, np.intp)
    out, before = np.empty_like(usage), np.empty_like(usage)
    kd.allocation_forward(usage, order, out, before)
    return out, (usage, order, before)


def _allocation_backward(cache, g):
    usage, order, before = cache
    d = np.empty_like(usage)
    kd.allocation_backward(usage, order, before, np.ascontiguousarray(g, usage.dtype), d)
    return d


def _write_weighting_forward(memory, key, strength, alloc, alloc_gate, write_gate, eps):
    content, c_cache = nm._content_forward(memory, key[:, None], strength[:, None], eps)
    content = content[:, 0]
    mix = alloc_gate[:, None] * alloc + (1 - alloc_gate[:, None]) * content
    return write_gate[:, None] * mix, (c_cache, content, alloc, mix, alloc_gate, write_gate)


def _write_weighting_backward(cache, g):
    c_cache, content, alloc, mix, alloc_gate, write_gate = cache
    g_mix = g * write_gate[:, None]
    d_memory, d_key, d_strength = nm._content_backward(
        c_cache, (g_mix * (1 - alloc_gate[:, None]))[:, None])
    return (d_memory, d_key[:, 0], d_strength[:, 0], g_mix * alloc_gate[:, None],
            (g_mix * (alloc - content)).sum(-1), (g * mix).sum(-1))


def _link_forward(link, precedence, write):
    link, precedence, write = (np.ascontiguousarray(a) for a in (link, precedence, write))
    out = np.empty_like(link)
    kd.link_forward(link, precedence, write, out)
    return out, (link, precedence, write)


def _link_backward(cache, g):
    link, precedence, write = cache
    d_link, d_precedence, d_write = (np.empty_like(a) for a in cache)
    kd.link_backward(link, precedence, write, np.ascontiguousarray(g, link.dtype), d_link,
                     d_precedence, d_write)
    return d_link, d_precedence, d_write


def _precedence_forward(previous, write):
    total = write.sum(-1, keepdims=True)
    return (1 - total) * previous + write, (previous, total)


def _precedence_backward(cache, g):
    previous, total = cache
    return g * (1 - total), g - (g * previous).sum(-1, keepdims=True)


def _read_weighting_forward(memory, link, previous, keys, strengths, modes, eps):
    content, c_cache = nm._content_forward(memory, keys, strengths, eps)     # (B, R, N)
    forward = previous @ link.transpose(0, 2, 1)                            # f_i = L w_i
    backward = previous @ link                                              # b_i = L^T w_i
    out = (modes[..., 0, None] * backward + modes[..., 1, None] * content
           + modes[..., 2, None] * forward)
    return out, (c_cache, link, previous, modes, np.stack([backward, content, forward], -2))


def _read_weighting_backward(cache, g):
    c_cache, link, previous, modes, parts = cache
    d_modes = (parts * g[..., None, :]).sum(-1)                             # (B, R, 3)
    g_b, g_c, g_f = (modes[..., k, None] * g for k in range(3))
    d_previous = g_f @ link + g_b @ link.transpose(0, 2, 1)
    d_link = g_f.transpose(0, 2, 1) @ previous + previous.transpose(0, 2, 1) @ g_b
    d_memory, d_keys, d_strengths = nm._content_backward(c_cache, g_c)
    return d_memory, d_link, d_previous, d_keys, d_strengths, d_modes


# ---------------------------------------------------------------- checks
def _tensors(op, expected, **arrays):
    """Tensors of ``arrays`` after checking each against its expected shape (None: any)."""
    out = []
    for name, value in arrays.items():
        t = as_tensor(value)
        want = expected[name]
        if t.ndim != len(want) or any(w not in (None, d) for w, d in zip(want, t.shape)):
            shape = "(" + ", ".join("*" if w is None else str(w) for w in want) + ")"
            raise ValueError(f"{op}: {name} must have shape {shape}; got {t.shape}")
        out.append(t)
    return out


def _eps(op, eps):
    if not eps > 0:
        raise ValueError(f"{op}: eps must be > 0; got {eps}")
    return float(eps)


def _op(forward, backward, parents, *extra):
    out, cache = forward(*(p.data for p in parents), *extra)
    return record(out, parents, lambda g: backward(cache, g))


def _sizes(op, memory):
    """(batch, N, W) of a 3-D memory, else a clear error."""
    memory = as_tensor(memory)
    if memory.ndim != 3:
        raise ValueError(f"{op}: memory must be 3-D (batch, N, W); got shape {memory.shape}")
    return memory.shape


# ---------------------------------------------------------------- ops
def interface(raw, width, read_heads):
    """The controller's raw emission (batch, I) with each part through its activation (see the
    module): identity for keys and the write vector, oneplus for strengths, sigmoid for the
    erase vector and the gates, softmax over each read head's three modes. The parts are where
    :func:`interface_layout` says; ``I = interface_size(width, read_heads)``."""
    raw = as_tensor(raw)
    size = interface_size(width, read_heads)
    if raw.ndim != 2 or raw.shape[1] != size:
        raise ValueError(f"interface: raw must have shape (batch, {size}) for width {width} and "
                         f"{read_heads} read heads; got {raw.shape}")
    return _op(_interface_forward, lambda c, g: (_interface_backward(c, g),), (raw,), width,
               read_heads)


def usage(previous, write_weighting, read_weightings, free_gates):
    """Usage after the previous step's write and the free gates' release:
    ``(u + w^w - u * w^w) * prod_i (1 - f_i w^r_i)``.

    previous (batch, N); write_weighting (batch, N) and read_weightings (batch, R, N) of the
    previous step; free_gates (batch, R) in [0, 1] -> (batch, N).
    """
    p = as_tensor(previous)
    if p.ndim != 2:
        raise ValueError(f"usage: previous must be (batch, N); got shape {p.shape}")
    b, n = p.shape
    r = as_tensor(free_gates).shape[-1] if as_tensor(free_gates).ndim == 2 else None
    parents = _tensors("usage", {"previous": (b, n), "write_weighting": (b, n),
                                 "read_weightings": (b, r, n), "free_gates": (b, r)},
                       previous=p, write_weighting=write_weighting,
                       read_weightings=read_weightings, free_gates=free_gates)
    return _op(_usage_forward, _usage_backward, parents)


def allocation(usage):
    """The allocation weighting from the usage (batch, N) in [0, 1]: locations taken in
    ascending order of usage (ties: ascending location), ``a = (1 - u) * product of the usages
    ahead``; the gradient holds the order fixed. -> (batch, N)."""
    u = as_tensor(usage)
    if u.ndim != 2:
        raise ValueError(f"allocation: usage must be (batch, N); got shape {u.shape}")
    return _op(_allocation_forward, lambda c, g: (_allocation_backward(c, g),), (u,))


def write_weighting(memory, key, strength, allocation, allocation_gate, write_gate, eps=nm.EPS):
    """``g^w (g^a a + (1 - g^a) C(M, k, beta))``: memory (batch, N, W), key (batch, W),
    strength (batch,), allocation (batch, N), allocation_gate and write_gate (batch,) in
    [0, 1] -> (batch, N)."""
    b, n, w = _sizes("write_weighting", memory)
    parents = _tensors("write_weighting", {"memory": (b, n, w), "key": (b, w), "strength": (b,),
                                           "allocation": (b, n), "allocation_gate": (b,),
                                           "write_gate": (b,)},
                       memory=memory, key=key, strength=strength, allocation=allocation,
                       allocation_gate=allocation_gate, write_gate=write_gate)
    return _op(_write_weighting_forward, _write_weighting_backward, parents,
               _eps("write_weighting", eps))


def link(previous, precedence, write_weighting):
    """The temporal link matrix after a write: previous (batch, N, N), the previous step's
    precedence (batch, N), this step's write weighting (batch, N) -> (batch, N, N), zero
    diagonal."""
    p = as_tensor(previous)
    if p.ndim != 3 or p.shape[1] != p.shape[2]:
        raise ValueError(f"link: previous must be (batch, N, N); got shape {p.shape}")
    b, n = p.shape[:2]
    parents = _tensors("link", {"previous": (b, n, n), "precedence": (b, n),
                                "write_weighting": (b, n)},
                       previous=p, precedence=precedence, write_weighting=write_weighting)
    return _op(_link_forward, _link_backward, parents)


def precedence(previous, write_weighting):
    """``(1 - sum_i w^w_i) p + w^w``: previous (batch, N), write_weighting (batch, N) ->
    (batch, N)."""
    p = as_tensor(previous)
    if p.ndim != 2:
        raise ValueError(f"precedence: previous must be (batch, N); got shape {p.shape}")
    parents = _tensors("precedence", {"previous": p.shape, "write_weighting": p.shape},
                       previous=p, write_weighting=write_weighting)
    return _op(_precedence_forward, _precedence_backward, parents)


def read_weighting(memory, link, previous, keys, strengths, modes, eps=nm.EPS):
    """Each read head's weighting ``pi[0] L^T w + pi[1] C(M, k, beta) + pi[2] L w``.

    memory (batch, N, W) after this step's write; link (batch, N, N) after it; previous
    (batch, R, N) the read weightings of the previous step; keys (batch, R, W); strengths
    (batch, R); modes (batch, R, 3) over (backward, content, forward) -> (batch, R, N).
    """
    b, n, w = _sizes("read_weighting", memory)
    r = as_tensor(previous).shape[1] if as_tensor(previous).ndim == 3 else None
    parents = _tensors("read_weighting", {"memory": (b, n, w), "link": (b, n, n),
                                          "previous": (b, r, n), "keys": (b, r, w),
                                          "strengths": (b, r), "modes": (b, r, 3)},
                       memory=memory, link=link, previous=previous, keys=keys,
                       strengths=strengths, modes=modes)
    return _op(_read_weighting_forward, _read_weighting_backward, parents,
               _eps("read_weighting", eps))


def _access_forward(state, raw, sizes, eps, trace):
    out, y = np.empty_like(state), np.empty_like(raw)
    allocation = np.empty((len(state), sizes[0]), state.dtype)
    kd.access_forward(state, raw, *sizes, eps, out, y, allocation)
    if trace is not None:
        trace.append(dict(views(out, state_layout(*sizes)), allocation=allocation, interface=y))
    return out, (state, y)


def _access_backward(sizes, eps, cache, g):
    state, y = cache
    d_state, d_raw = np.empty_like(state), np.empty_like(y)
    kd.access_backward(state, y, *sizes, eps, np.ascontiguousarray(g, state.dtype), d_state,
                       d_raw)
    return d_state, d_raw


def access(state, interface_raw, locations, width, read_heads, eps=nm.EPS, trace=None):
    """One step of the DNC's memory access, as one op: interface activations, usage,
    allocation, write weighting, write, temporal links and precedence, read weightings and
    read vectors (the module's equations, in that order).

    Parameters
    ----------
    state : Tensor or array, (batch, S)
        The previous step's state packed as :func:`state_layout` says (zeros at the start).
    interface_raw : Tensor or array, (batch, I)
        The controller's raw emission, before the activations of :func:`interface`.
    locations, width, read_heads : int
        N, W and R.
    eps : float
        Epsilon of the cosine similarity's norms.
    trace : list, optional
        If given, a dict of this step's arrays (the new state's parts by name, ``allocation``,
        and the activated ``interface``) is appended to it.

    Returns
    -------
    Tensor, (batch, S): the new state, packed the same way.
    """
    sizes = (locations, width, read_heads)
    state, raw = as_tensor(state), as_tensor(interface_raw)
    s, i = state_size(*sizes), interface_size(width, read_heads)
    if state.ndim != 2 or state.shape[1] != s:
        raise ValueError(f"access: state must have shape (batch, {s}) for N={locations}, "
                         f"W={width}, R={read_heads}; got {state.shape}")
    if raw.shape != (state.shape[0], i):
        raise ValueError(f"access: interface_raw must have shape ({state.shape[0]}, {i}); got "
                         f"{raw.shape}")
    eps = _eps("access", eps)
    data = np.ascontiguousarray(state.data)
    out, cache = _access_forward(data, np.ascontiguousarray(raw.data, data.dtype), sizes, eps,
                                 trace)
    return record(out, (state, raw), lambda g: _access_backward(sizes, eps, cache, g))
