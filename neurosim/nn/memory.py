"""Differentiable external memory: the addressing of the neural Turing machine (Graves, Wayne
and Danihelka 2014) and the read and write of a memory matrix.

Shapes: memory ``M`` (batch, N, W): N locations of width W; per head ``h`` of H heads a
weighting ``w`` (batch, H, N) over the locations, a key ``k`` (batch, H, W), a key strength
``beta`` (batch, H), an interpolation gate ``g`` (batch, H), a shift weighting ``s``
(batch, H, 2R+1) over the offsets ``-R..R`` and a sharpening exponent ``gamma`` (batch, H).
The addressing stages, paper's equations (5)-(9), each for one head and location i:

- content: ``w^c_i = softmax_i(beta K(k, M_i))`` with the cosine similarity
  ``K(u, v) = u.v / (|u|_e |v|_e)``, ``|u|_e = sqrt(u.u + eps)``: the epsilon keeps K and its
  gradient finite for zero vectors (a fresh all-zero memory gives K = 0, a uniform weighting);
- interpolation: ``w^g = g w^c + (1 - g) w_prev``;
- circular shift: ``w~_i = sum_o s_o w^g_{(i - o) mod N}`` for the offsets o = -R..R (all of
  ``s`` on o = +1 moves the weighting one location forward);
- sharpening: ``w_i = w~_i^gamma / sum_j w~_j^gamma`` (gamma >= 1).

Read: ``r = w^T M`` per head; write (all write heads, erase before add):
``M <- M * prod_h (1 - w_h e_h^T) + sum_h w_h a_h^T``.

Each stage is a forward function returning its value and what its backward needs, and a
backward function; :func:`address` runs the four stages as one tape op (its backward chains the
stages' backwards), and each stage is also an op of its own. Every stage is a few whole-array
NumPy expressions over the batch and heads; no compiled kernel is used: measured on the copy
task's NTM (N=12, W=6, batch 16), these ops take about a quarter of a training epoch (the rest
is the controller, the tape and the optimiser), so a kernel could save at most that fraction,
and the whole epoch already runs 2.6x faster than the same machine in PyTorch
(benchmarks/memory.py).
"""
import numpy as np

from .tensor import as_tensor, record

EPS = 1e-6
"""Default epsilon of the cosine similarity's norms (see the module)."""


# ---------------------------------------------------------------- stages: forward and backward
def _content_forward(memory, key, beta, eps):
    key_norm = np.sqrt((key * key).sum(-1) + eps)                      # (B, H)
    row_norm = np.sqrt((memory * memory).sum(-1) + eps)                # (B, N)
    cosine = key @ memory.transpose(0, 2, 1) / (key_norm[..., None] * row_norm[:, None, :])
    z = beta[..., None] * cosine
    w = np.exp(z - z.max(-1, keepdims=True))
    w /= w.sum(-1, keepdims=True)
    return w, (memory, key, beta, key_norm, row_norm, cosine, w)


def _content_backward(cache, g):
    memory, key, beta, key_norm, row_norm, cosine, w = cache
    dz = w * (g - (g * w).sum(-1, keepdims=True))
    d_beta = (dz * cosine).sum(-1)
    d_cos = dz * beta[..., None]                                        # (B, H, N)
    scaled = d_cos / (key_norm[..., None] * row_norm[:, None, :])
    weighted = d_cos * cosine
    d_key = scaled @ memory - weighted.sum(-1)[..., None] * key / (key_norm ** 2)[..., None]
    d_memory = (scaled.transpose(0, 2, 1) @ key
                - weighted.sum(1)[..., None] * memory / (row_norm ** 2)[..., None])
    return d_memory, d_key, d_beta


def _interpolate_forward(content, previous, gate):
    gate = gate[..., None]
    return gate * content + (1 - gate) * previous, (content, previous, gate)


def _interpolate_backward(cache, g):
    content, previous, gate = cache
    return gate * g, (1 - gate) * g, (g * (content - previous)).sum(-1)


def _rotations(width, n):
    """Index arrays (width, n) of ``w_{(i - o) mod n}`` and ``g_{(i + o) mod n}`` per offset o."""
    offsets = np.arange(width)[:, None] - width // 2
    return (np.arange(n) - offsets) % n, (np.arange(n) + offsets) % n


def _shift_forward(weighting, shift):
    back, forth = _rotations(shift.shape[-1], weighting.shape[-1])
    rolled = weighting[..., back]                                       # (B, H, S, N)
    return (rolled * shift[..., None]).sum(-2), (shift, rolled, forth)


def _shift_backward(cache, g):
    shift, rolled, forth = cache
    return (g[..., forth] * shift[..., None]).sum(-2), (rolled * g[..., None, :]).sum(-1)


def _sharpen_forward(weighting, gamma):
    powered = weighting ** gamma[..., None]
    w = powered / powered.sum(-1, keepdims=True)
    return w, (weighting, gamma, powered, w)


def _sharpen_backward(cache, g):
    weighting, gamma, powered, w = cache
    d_powered = (g - (g * w).sum(-1, keepdims=True)) / powered.sum(-1, keepdims=True)
    log_w = np.log(np.where(weighting > 0, weighting, 1.0))    # w^gamma log w -> 0 at w = 0
    d_weighting = d_powered * gamma[..., None] * weighting ** (gamma[..., None] - 1)
    return d_weighting, (d_powered * powered * log_w).sum(-1)


def leave_one_out(factors):
    """Products of ``factors`` (batch, H, ...) over the heads axis 1: the whole product
    (batch, ...) and, per head, the product of the other heads' factors (batch, H, ...), by
    prefix and suffix products (no division, so zero factors are fine)."""
    ones = np.ones_like(factors[:, :1])
    before = np.cumprod(np.concatenate([ones, factors[:, :-1]], 1), axis=1)
    after = np.cumprod(np.concatenate([ones, factors[:, :0:-1]], 1), axis=1)[:, ::-1]
    others = before * after
    return others[:, -1] * factors[:, -1], others


def _write_forward(memory, w, e, a):
    keep = 1 - w[..., None] * e[:, :, None, :]                  # (B, H, N, W)
    kept, others = leave_one_out(keep)
    return memory * kept + w.transpose(0, 2, 1) @ a, (memory, w, e, a, kept, others)


def _write_backward(cache, g):
    memory, w, e, a, kept, others = cache
    d_keep = -(g * memory)[:, None] * others                    # (B, H, N, W)
    return (g * kept, (d_keep * e[:, :, None, :]).sum(-1) + a @ g.transpose(0, 2, 1),
            (d_keep * w[..., None]).sum(2), w @ g)


# ---------------------------------------------------------------- checks
def _checked(op, memory, **heads):
    """Tensors of ``memory`` (batch, N, W) and of each head argument after checking shapes;
    ``heads`` maps a name to (value, trailing shape) with "N", "W" or an int per axis."""
    memory = as_tensor(memory)
    if memory.ndim != 3:
        raise ValueError(f"{op}: memory must be 3-D (batch, N, W); got shape {memory.shape}")
    batch, n, width = memory.shape
    sizes = {"N": n, "W": width}
    out, count = [memory], None
    for name, (value, trailing) in heads.items():
        t = as_tensor(value)
        if count is None:
            count = t.shape[1] if t.ndim > 1 else -1
        wanted = (batch, count) + tuple(sizes.get(s, s) for s in trailing)
        if t.ndim != len(wanted) or any(w not in (None, d) for w, d in zip(wanted, t.shape)):
            raise ValueError(f"{op}: {name} must have shape {wanted} (batch, heads"
                             f"{''.join(', ' + str(s or '*') for s in trailing)}) for memory "
                             f"{memory.shape}; got {t.shape}")
        out.append(t)
    return out


def _eps(op, eps):
    if not eps > 0:
        raise ValueError(f"{op}: eps must be > 0; got {eps}")
    return float(eps)


def _shift_width(op, shift, n):
    width = shift.shape[-1]
    if width % 2 == 0 or width > n:
        raise ValueError(f"{op}: the shift weighting's last axis must be odd (offsets -R..R) "
                         f"and at most N = {n}; got {width}")


def _stage_op(forward, backward, parents, *extra):
    out, cache = forward(*(p.data for p in parents), *extra)
    return record(out, parents, lambda g: backward(cache, g))


# ---------------------------------------------------------------- ops
def content_weighting(memory, key, beta, eps=EPS):
    """Content addressing ``softmax_i(beta K(k, M_i))`` (cosine K with ``eps``, see the module).

    memory (batch, N, W), key (batch, H, W), beta (batch, H) -> weighting (batch, H, N).
    """
    memory, key, beta = _checked("content_weighting", memory, key=(key, ("W",)),
                                 beta=(beta, ()))
    return _stage_op(_content_forward, _content_backward, (memory, key, beta),
                     _eps("content_weighting", eps))


def interpolate(content, previous, gate):
    """``gate * content + (1 - gate) * previous``: content (batch, H, N), previous
    (batch, H, N), gate (batch, H) in [0, 1] -> (batch, H, N)."""
    content, previous, gate = (as_tensor(t) for t in (content, previous, gate))
    if previous.shape != content.shape or gate.shape != content.shape[:2]:
        raise ValueError(f"interpolate: previous must have content's shape {content.shape} and "
                         f"gate {content.shape[:2]}; got {previous.shape} and {gate.shape}")
    return _stage_op(_interpolate_forward, _interpolate_backward, (content, previous, gate))


def shift(weighting, shift_weighting):
    """Circular convolution ``sum_o s_o w_{(i - o) mod N}``: weighting (batch, H, N) and
    shift_weighting (batch, H, 2R+1) over the offsets -R..R -> (batch, H, N)."""
    weighting, s = as_tensor(weighting), as_tensor(shift_weighting)
    if weighting.ndim != 3 or s.ndim != 3 or s.shape[:2] != weighting.shape[:2]:
        raise ValueError(f"shift: weighting must be (batch, H, N) and shift_weighting "
                         f"(batch, H, 2R+1); got {weighting.shape} and {s.shape}")
    _shift_width("shift", s, weighting.shape[-1])
    return _stage_op(_shift_forward, _shift_backward, (weighting, s))


def sharpen(weighting, gamma):
    """``w_i^gamma / sum_j w_j^gamma``: weighting (batch, H, N) >= 0 with a positive sum,
    gamma (batch, H) -> (batch, H, N)."""
    weighting, gamma = as_tensor(weighting), as_tensor(gamma)
    if weighting.ndim != 3 or gamma.shape != weighting.shape[:2]:
        raise ValueError(f"sharpen: weighting must be (batch, H, N) and gamma (batch, H); got "
                         f"{weighting.shape} and {gamma.shape}")
    if np.any(weighting.data < 0) or np.any(weighting.data.sum(-1) <= 0):
        raise ValueError("sharpen: weighting must be >= 0 with a positive sum over locations")
    return _stage_op(_sharpen_forward, _sharpen_backward, (weighting, gamma))


def address(memory, previous, key, beta, gate, shift_weighting, gamma, eps=EPS):
    """The NTM's addressing (content, interpolation, shift, sharpening) as one op.

    Parameters
    ----------
    memory : (batch, N, W)
    previous : (batch, H, N)
        Each head's weighting at the previous step.
    key : (batch, H, W); beta : (batch, H) >= 0; gate : (batch, H) in [0, 1]
    shift_weighting : (batch, H, 2R+1)
        A distribution over the offsets -R..R.
    gamma : (batch, H) >= 1
    eps : float
        Epsilon of the cosine similarity's norms.

    Returns
    -------
    Tensor, (batch, H, N): each head's new weighting (a distribution over the locations).
    """
    parents = _checked("address", memory, previous=(previous, ("N",)), key=(key, ("W",)),
                       beta=(beta, ()), gate=(gate, ()), shift_weighting=(shift_weighting, (None,)),
                       gamma=(gamma, ()))
    memory, previous, key, beta, gate, s, gamma = parents
    _shift_width("address", s, memory.shape[1])
    if np.any(gamma.data < 1):
        raise ValueError("address: gamma must be >= 1")
    w, content = _content_forward(memory.data, key.data, beta.data, _eps("address", eps))
    w, blend = _interpolate_forward(w, previous.data, gate.data)
    w, rotation = _shift_forward(w, s.data)
    w, sharpening = _sharpen_forward(w, gamma.data)

    def backward(g):
        g, d_gamma = _sharpen_backward(sharpening, g)
        g, d_shift = _shift_backward(rotation, g)
        g, d_previous, d_gate = _interpolate_backward(blend, g)
        d_memory, d_key, d_beta = _content_backward(content, g)
        return d_memory, d_previous, d_key, d_beta, d_gate, d_shift, d_gamma
    return record(w, parents, backward)


def read(memory, weighting):
    """Read vectors ``r_h = sum_i w_hi M_i``: memory (batch, N, W), weighting (batch, H, N) ->
    (batch, H, W)."""
    memory, weighting = _checked("read", memory, weighting=(weighting, ("N",)))
    return record(weighting.data @ memory.data, (memory, weighting),
                  lambda g: (weighting.data.transpose(0, 2, 1) @ g,
                             g @ memory.data.transpose(0, 2, 1)))


def write(memory, weighting, erase, add):
    """The memory after every write head's erase, then add:
    ``M * prod_h (1 - w_h e_h^T) + sum_h w_h a_h^T``.

    memory (batch, N, W); weighting (batch, H, N); erase (batch, H, W) in [0, 1];
    add (batch, H, W) -> (batch, N, W).
    """
    memory, weighting, erase, add = _checked("write", memory, weighting=(weighting, ("N",)),
                                             erase=(erase, ("W",)), add=(add, ("W",)))
    return _stage_op(_write_forward, _write_backward, (memory, weighting, erase, add))
