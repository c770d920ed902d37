"""Connectivity builders: the zoo's wiring as dense or sparse weight matrices.

Convention: a weight matrix ``W`` has shape ``(n_post, n_pre)`` and ``W[i, j]`` is the synapse
from presynaptic neuron ``j`` to postsynaptic neuron ``i``, so input fields are ``h = W @ s``.

Dense results are ``float64`` NumPy arrays; sparse results are ``scipy.sparse.csr_array`` with
sorted indices and no explicit zeros (a synapse whose weight is exactly 0 is no synapse). The
*synapses* of a matrix, wherever an order matters (weight arrays, :func:`delays`), are its
nonzero entries in row-major order: row by row, presynaptic index ascending within a row (the
order of a sorted CSR matrix's ``data``).

Weights, for every builder that takes ``weights``:

- a float: every synapse has that weight (the default 1.0 gives the 0/1 pattern);
- an array of shape ``(n_synapses,)``, one weight per synapse in row-major order, or of the
  full matrix shape ``(n_post, n_pre)``, from which the entries at the synapses are taken;
- ``"normal"`` (mean ``loc``, standard deviation ``scale``), ``"uniform"`` (in
  ``[loc, loc + scale)``) or ``"lognormal"`` (``exp`` of a normal with mean ``loc`` and standard
  deviation ``scale``), drawn from :func:`neurosim.rng.generator` ``(seed)`` after the wiring.

The same ``seed`` gives the same matrix, dense or sparse.
"""
import math
import numbers

import numpy as np
import scipy.sparse as sp

from . import checks
from . import rng as _rng
from .backend import FLOAT, INDEX
from .kernels import connect as _k

__all__ = ["complete", "bipartite", "layered", "convolutional", "random", "pairs", "distance",
           "grid", "delays", "outgoing", "spectral_radius"]

WEIGHT_DISTRIBUTIONS = ("normal", "uniform", "lognormal")
_CHUNK = 1 << 22  # pairs per block when a builder visits every pair (bounds memory)
_DENSE_EIG_MAX = 200  # spectral_radius: numpy eigvals up to this size, ARPACK above
_DENSE_EIG_DENSITY = 0.25  # ... and from this fraction of non-zeros, whatever the size


# ------------------------------------------------------------------------------------ helpers

def _count(x, name, low=1):
    return checks.integer(x, name, low=low)


def _check_weight_spec(weights, loc, scale):
    """Validate ``weights``/``loc``/``scale`` before any wiring is drawn."""
    if isinstance(weights, str):
        checks.choice(weights, "weights", WEIGHT_DISTRIBUTIONS)
        checks.scalar(loc, "loc")
        checks.scalar(scale, "scale", low=0.0)
    elif isinstance(weights, numbers.Real) and not isinstance(weights, bool):
        checks.scalar(weights, "weights")
    elif isinstance(weights, bool) or weights is None:
        raise TypeError(f"weights must be a float, an array or one of {WEIGHT_DISTRIBUTIONS}; "
                        f"got {weights!r}")
    else:
        checks.array(weights, "weights", ndim=(1, 2))


def _weights(weights, rows, cols, shape, gen, loc, scale):
    """Weights (float64, one per synapse) for synapses ``(rows, cols)`` in row-major order."""
    n = rows.shape[0]
    if isinstance(weights, str):
        loc = checks.scalar(loc, "loc")
        scale = checks.scalar(scale, "scale", low=0.0)
        if weights == "normal":
            return gen.normal(loc, scale, n)
        if weights == "uniform":
            return loc + scale * gen.random(n)
        return gen.lognormal(loc, scale, n)
    if isinstance(weights, numbers.Real) and not isinstance(weights, bool):
        return np.full(n, checks.scalar(weights, "weights"), dtype=FLOAT)
    w = checks.array(weights, "weights", ndim=(1, 2))
    if w.ndim == 1:
        if w.shape[0] != n:
            raise ValueError(f"weights must have one value per synapse, shape ({n},), or the "
                             f"matrix shape {shape}; got {w.shape}")
        return w.copy()
    if w.shape != tuple(shape):
        raise ValueError(f"weights must have one value per synapse, shape ({n},), or the "
                         f"matrix shape {shape}; got {w.shape}")
    return w[rows, cols]


def _finish(indptr, indices, data, shape, sparse):
    """Sorted-CSR pieces -> csr_array (zeros dropped) or dense float64 array."""
    if sparse:
        W = sp.csr_array((data.astype(FLOAT, copy=False), indices, indptr), shape=shape)
        W.has_sorted_indices = True
        W.eliminate_zeros()
        return W
    W = np.zeros(shape, dtype=FLOAT)
    rows = np.repeat(np.arange(shape[0]), np.diff(indptr))
    W[rows, indices] = data
    return W


def _build(indptr, indices, shape, weights, gen, loc, scale, sparse):
    rows = np.repeat(np.arange(shape[0], dtype=INDEX), np.diff(indptr))
    data = _weights(weights, rows, indices, shape, gen, loc, scale)
    return _finish(indptr, indices, data, shape, sparse)


def _dense_pattern(mask, sparse, weights, gen, loc, scale):
    """Boolean (n_post, n_pre) mask -> matrix with the given weights."""
    counts = mask.sum(axis=1)
    indptr = np.zeros(mask.shape[0] + 1, dtype=INDEX)
    np.cumsum(counts, out=indptr[1:])
    indices = np.nonzero(mask)[1].astype(INDEX)
    return _build(indptr, indices, mask.shape, weights, gen, loc, scale, sparse)


def _as_csr(W, name, square=False):
    """A dense or scipy.sparse matrix as a canonical float64 csr_array (sorted, no zeros)."""
    if sp.issparse(W):
        if W.ndim != 2:
            raise ValueError(f"{name} must be 2-D; got shape {W.shape}")
        A = sp.csr_array(checks.sparse_real(W, name), dtype=FLOAT, copy=True)
        A.sum_duplicates()
        A.sort_indices()
        if not np.all(np.isfinite(A.data)):
            raise ValueError(f"{name} must be finite; it holds NaN or inf")
        A.eliminate_zeros()
    else:
        A = sp.csr_array(checks.array(W, name, ndim=2))
        A.sort_indices()
    if square and A.shape[0] != A.shape[1]:
        raise ValueError(f"{name} must be square; got shape {A.shape}")
    if 0 in A.shape:
        raise ValueError(f"{name} must not be empty; got shape {A.shape}")
    return A


# --------------------------------------------------------------------------------- builders

def complete(n, *, self_loops=False, weights=1.0, seed=None, loc=0.0, scale=1.0, sparse=False):
    """All-to-all wiring of ``n`` neurons: ``W`` (n, n), zero diagonal unless ``self_loops``.

    ``weights``, ``seed``, ``loc``, ``scale``: see the module docstring. Returns a dense float64
    array (default) or a csr_array when ``sparse``.
    """
    n = _count(n, "n")
    _check_weight_spec(weights, loc, scale)
    gen = _rng.generator(seed)
    mask = np.ones((n, n), dtype=bool)
    if not self_loops:
        np.fill_diagonal(mask, False)
    return _dense_pattern(mask, sparse, weights, gen, loc, scale)


def _bernoulli_rows(n_post, n_pre, p, skip_diag, gen):
    """Each pair independently with probability ``p``: a Binomial count per row, then that
    many distinct presynaptic indices uniformly (the same distribution, O(nnz) work)."""
    pool = np.full(n_post, n_pre, dtype=INDEX)
    if skip_diag:
        pool[:min(n_post, n_pre)] -= 1
    counts = gen.binomial(pool, p).astype(INDEX)
    return _sample(counts, n_pre, skip_diag, gen)


def _sample(counts, n_pre, skip_diag, gen):
    indptr = np.zeros(counts.shape[0] + 1, dtype=INDEX)
    np.cumsum(counts, out=indptr[1:])
    u = gen.random(int(indptr[-1]))
    indices = np.empty(int(indptr[-1]), dtype=INDEX)
    _k.sample_rows(counts, np.int64(n_pre), bool(skip_diag), u, indptr, indices)
    return indptr, indices


def bipartite(n_post, n_pre, *, p=1.0, weights=1.0, seed=None, loc=0.0, scale=1.0,
              sparse=False):
    """Wiring from a group of ``n_pre`` neurons onto a separate group of ``n_post``: ``W``
    (n_post, n_pre), each pair connected independently with probability ``p`` (all pairs for
    the default ``p=1``).

    ``weights``, ``seed``, ``loc``, ``scale``: see the module docstring. Dense by default.
    """
    n_post = _count(n_post, "n_post")
    n_pre = _count(n_pre, "n_pre")
    p = checks.scalar(p, "p", low=0.0, high=1.0)
    _check_weight_spec(weights, loc, scale)
    gen = _rng.generator(seed)
    if p == 1.0:
        return _dense_pattern(np.ones((n_post, n_pre), dtype=bool), sparse, weights, gen, loc,
                              scale)
    indptr, indices = _bernoulli_rows(n_post, n_pre, p, False, gen)
    return _build(indptr, indices, (n_post, n_pre), weights, gen, loc, scale, sparse)


def layered(sizes, *, p=1.0, symmetric=False, weights=1.0, seed=None, loc=0.0, scale=1.0,
            sparse=False):
    """Layers wired each to the next one: block matrix ``W`` of shape (sum(sizes), sum(sizes)).

    Neurons are numbered layer by layer; layer ``l`` holds ``sizes[l]`` neurons starting at
    ``sum(sizes[:l])``. The block ``W[layer l+1, layer l]`` is a :func:`bipartite` wiring with
    probability ``p`` (feed-forward). With ``symmetric`` the same synapses also run backwards
    with the same weights (``W = F + F.T``): undirected layers as in an RBM or DBN.

    sizes: sequence of >= 2 positive ints. ``weights`` (arrays apply to the feed-forward part
    ``F``, in its row-major order), ``seed``, ``loc``, ``scale``: see the module docstring.
    """
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__"):
        raise TypeError(f"sizes must be a sequence of layer sizes; got {type(sizes).__name__}")
    if len(sizes) < 2:
        raise ValueError(f"sizes must list at least 2 layers; got {len(sizes)}")
    sizes = [_count(s, f"sizes[{i}]") for i, s in enumerate(sizes)]
    p = checks.scalar(p, "p", low=0.0, high=1.0)
    _check_weight_spec(weights, loc, scale)
    gen = _rng.generator(seed)
    n = sum(sizes)
    starts = np.concatenate([[0], np.cumsum(sizes)])
    counts = np.zeros(n, dtype=INDEX)
    cols = [np.empty(0, dtype=INDEX)]
    for l in range(len(sizes) - 1):
        n_pre, n_post = sizes[l], sizes[l + 1]
        if p == 1.0:
            c = np.full(n_post, n_pre, dtype=INDEX)
            idx = np.tile(np.arange(n_pre, dtype=INDEX), n_post)
        else:
            ip, idx = _bernoulli_rows(n_post, n_pre, p, False, gen)
            c = np.diff(ip)
        counts[starts[l + 1]:starts[l + 2]] = c
        cols.append(idx + starts[l])
    indptr = np.zeros(n + 1, dtype=INDEX)
    np.cumsum(counts, out=indptr[1:])
    F = _build(indptr, np.concatenate(cols), (n, n), weights, gen, loc, scale, True)
    if symmetric:
        F = (F + F.T).tocsr()
        F.sort_indices()
    return F if sparse else F.toarray()


def _per_axis(x, name, nd, low):
    if isinstance(x, (numbers.Integral,)) and not isinstance(x, bool):
        return (checks.integer(x, name, low=low),) * nd
    if isinstance(x, (tuple, list)) and len(x) == nd:
        return tuple(checks.integer(v, f"{name}[{i}]", low=low) for i, v in enumerate(x))
    raise ValueError(f"{name} must be an int or a tuple of {nd} ints (one per axis of the "
                     f"sheet); got {x!r}")


def convolutional(in_shape, kernel_size, *, stride=1, padding=0, return_positions=False,
                  sparse=True):
    """Local receptive fields on a 1-D or 2-D sheet (the wiring of one convolution channel).

    in_shape: ``n`` or ``(n,)`` for a line, ``(h, w)`` for a sheet; neurons are numbered in
    row-major order. kernel_size, stride, padding: an int or one per axis. Output neuron ``o`` at
    position ``(oy, ox)`` receives from input ``(oy*stride - padding + ky, ox*stride - padding
    + kx)`` for every kernel offset ``(ky, kx)`` that falls inside the sheet (zero padding: the
    offsets that fall outside are simply absent). The output shape per axis is
    ``(n + 2*padding - kernel) // stride + 1``.

    Returns ``(W, out_shape)``: the 0/1 pattern ``W`` (n_out, n_in) (csr_array, or dense when
    ``sparse`` is False) and the output shape (a tuple). With ``return_positions`` also an int64
    array (n_synapses,) giving, for each synapse in row-major order, the flat (row-major) index
    of its kernel offset, so that a shared kernel ``K`` gives the weights ``K.ravel()[pos]``.
    """
    if isinstance(in_shape, numbers.Integral) and not isinstance(in_shape, bool):
        in_shape = (in_shape,)
    if not isinstance(in_shape, (tuple, list)) or len(in_shape) not in (1, 2):
        raise ValueError(f"in_shape must be an int, (n,) or (h, w); got {in_shape!r}")
    nd = len(in_shape)
    in_shape = tuple(checks.integer(v, f"in_shape[{i}]", low=1) for i, v in enumerate(in_shape))
    ks = _per_axis(kernel_size, "kernel_size", nd, 1)
    st = _per_axis(stride, "stride", nd, 1)
    pad = _per_axis(padding, "padding", nd, 0)
    out_shape = []
    for a in range(nd):
        if pad[a] >= ks[a]:
            raise ValueError(f"padding must be smaller than kernel_size on every axis; got "
                             f"padding {pad} with kernel_size {ks}")
        o = (in_shape[a] + 2 * pad[a] - ks[a]) // st[a] + 1
        if o < 1:
            raise ValueError(f"kernel_size {ks} is larger than the padded input "
                             f"{tuple(s + 2 * q for s, q in zip(in_shape, pad))}")
        out_shape.append(o)
    out_shape = tuple(out_shape)
    # input coordinate per (output position, kernel offset), one axis at a time
    coords = [np.arange(out_shape[a])[:, None] * st[a] - pad[a] + np.arange(ks[a])[None, :]
              for a in range(nd)]
    if nd == 1:
        iy = coords[0]                                   # (out, k)
        valid = (iy >= 0) & (iy < in_shape[0])
        flat_in = iy
    else:
        iy = coords[0][:, None, :, None]                 # (oy, 1, ky, 1)
        ix = coords[1][None, :, None, :]                 # (1, ox, 1, kx)
        valid = (iy >= 0) & (iy < in_shape[0]) & (ix >= 0) & (ix < in_shape[1])
        flat_in = iy * in_shape[1] + ix
        valid = valid.reshape(out_shape[0] * out_shape[1], ks[0] * ks[1])
        flat_in = np.broadcast_to(flat_in, (out_shape[0], out_shape[1], ks[0], ks[1]))
        flat_in = flat_in.reshape(valid.shape)
    valid = np.ascontiguousarray(valid)
    n_out, n_in = int(np.prod(out_shape)), int(np.prod(in_shape))
    kpos = np.broadcast_to(np.arange(int(np.prod(ks)), dtype=INDEX), valid.shape)
    # within a row, kernel offsets in row-major order visit inputs in increasing flat index
    indices = flat_in[valid].astype(INDEX)
    positions = kpos[valid].astype(INDEX)
    indptr = np.zeros(n_out + 1, dtype=INDEX)
    np.cumsum(valid.sum(axis=1), out=indptr[1:])
    W = _finish(indptr, indices, np.ones(indices.shape[0]), (n_out, n_in), sparse)
    return (W, out_shape, positions) if return_positions else (W, out_shape)


def random(n_post, n_pre=None, *, p=None, k=None, self_loops=False, weights=1.0, seed=None,
           loc=0.0, scale=1.0, sparse=True):
    """Random wiring ``W`` (n_post, n_pre): give exactly one of ``p`` or ``k``.

    p: each pair connected independently with probability ``p`` in [0, 1].
    k: fixed in-degree, exactly ``k`` distinct presynaptic neurons per postsynaptic neuron,
    drawn uniformly without replacement.
    n_pre: None means the same population (square, ``n_pre = n_post``). Self-loops ``W[i, i]``
    are excluded when the matrix is square unless ``self_loops`` (then ``k <= n_pre - 1``).
    Pass ``self_loops=True`` for two distinct populations of equal size.

    ``weights``, ``seed``, ``loc``, ``scale``: see the module docstring. Sparse by default.
    Work and memory are O(n_pre + synapses), not O(n_post * n_pre).
    """
    n_post = _count(n_post, "n_post")
    n_pre = n_post if n_pre is None else _count(n_pre, "n_pre")
    if (p is None) == (k is None):
        raise ValueError("give exactly one of p (connection probability) or k (in-degree); "
                         f"got p={p!r}, k={k!r}")
    skip_diag = (n_post == n_pre) and not self_loops
    pool = n_pre - 1 if skip_diag else n_pre
    if p is not None:
        p = checks.scalar(p, "p", low=0.0, high=1.0)
    else:
        k = checks.integer(k, "k", low=0)
        if k > pool:
            why = " (self-loops excluded)" if skip_diag else ""
            raise ValueError(f"k must be <= {pool}, the number of possible presynaptic "
                             f"neurons{why}; got {k}")
    _check_weight_spec(weights, loc, scale)
    gen = _rng.generator(seed)
    if p is not None:
        indptr, indices = _bernoulli_rows(n_post, n_pre, p, skip_diag, gen)
    else:
        indptr, indices = _sample(np.full(n_post, k, dtype=INDEX), n_pre, skip_diag, gen)
    return _build(indptr, indices, (n_post, n_pre), weights, gen, loc, scale, sparse)


def pairs(post, pre, shape, *, weights=1.0, seed=None, loc=0.0, scale=1.0, sparse=True):
    """Wiring from an explicit synapse list: synapse ``s`` runs from ``pre[s]`` to ``post[s]``.

    post, pre: int arrays (n_synapses,) of indices into ``shape = (n_post, n_pre)``; a pair
    listed twice is an error. ``weights``: as in the module docstring, except that a 1-D array
    follows the order of the list (``weights[s]`` is synapse ``s``), not row-major order.
    """
    if not isinstance(shape, (tuple, list)) or len(shape) != 2:
        raise ValueError(f"shape must be (n_post, n_pre); got {shape!r}")
    shape = (_count(shape[0], "shape[0]"), _count(shape[1], "shape[1]"))
    post_a = np.asarray(post)
    pre_a = np.asarray(pre)
    for a, name in ((post_a, "post"), (pre_a, "pre")):
        if a.dtype.kind not in "iu" and not (a.size == 0 and a.ndim == 1):
            raise TypeError(f"{name} must be an array of integer indices; got dtype {a.dtype}")
        if a.ndim != 1:
            raise ValueError(f"{name} must be 1-D; got shape {a.shape}")
    if post_a.shape != pre_a.shape:
        raise ValueError(f"post and pre must have the same length; got {post_a.shape[0]} "
                         f"and {pre_a.shape[0]}")
    post_a = post_a.astype(INDEX)
    pre_a = pre_a.astype(INDEX)
    for a, name, n in ((post_a, "post", shape[0]), (pre_a, "pre", shape[1])):
        if a.size and (a.min() < 0 or a.max() >= n):
            raise ValueError(f"{name} indices must lie in [0, {n - 1}]; got values in "
                             f"[{a.min()}, {a.max()}]")
    _check_weight_spec(weights, loc, scale)
    gen = _rng.generator(seed)
    order = np.lexsort((pre_a, post_a))
    rows, cols = post_a[order], pre_a[order]
    dup = (rows[1:] == rows[:-1]) & (cols[1:] == cols[:-1])
    if np.any(dup):
        s = int(np.argmax(dup))
        raise ValueError(f"pairs lists the synapse post={rows[s]}, pre={cols[s]} more than once")
    if isinstance(weights, str) or isinstance(weights, numbers.Real):
        data = _weights(weights, rows, cols, shape, gen, loc, scale)
    else:
        w = checks.array(weights, "weights", ndim=(1, 2))
        if w.ndim == 1:
            if w.shape != post_a.shape:
                raise ValueError(f"weights must have one value per listed pair, shape "
                                 f"{post_a.shape}, or the matrix shape {shape}; got {w.shape}")
            data = w[order]
        else:
            data = _weights(w, rows, cols, shape, gen, loc, scale)
    indptr = np.zeros(shape[0] + 1, dtype=INDEX)
    np.cumsum(np.bincount(rows, minlength=shape[0]), out=indptr[1:])
    return _finish(indptr, cols, data, shape, sparse)


def grid(shape):
    """Integer positions of neurons on a grid, e.g. a 15x3x3 column: int64 array (n, len(shape)).

    Neuron ``i`` sits at ``grid(shape)[i]``, numbered in row-major (C) order; 1 to 3 axes.
    """
    if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)) or not 1 <= len(shape) <= 3:
        raise ValueError(f"shape must be an int or a tuple of 1 to 3 ints; got {shape!r}")
    shape = tuple(checks.integer(v, f"shape[{i}]", low=1) for i, v in enumerate(shape))
    checks.memory(16 * len(shape) * math.prod(shape), f"grid(shape={shape})")
    return np.indices(shape, dtype=INDEX).reshape(len(shape), -1).T.copy()


def distance(pos_post, pos_pre=None, *, C=0.3, lam=2.0, self_loops=False, weights=1.0,
             seed=None, loc=0.0, scale=1.0, sparse=True):
    """Distance-dependent random wiring (Maass, Natschlaeger and Markram 2002).

    Each pair ``(i, j)`` is connected independently with probability
    ``C * exp(-(d(i, j) / lam)**2)``, ``d`` the Euclidean distance between ``pos_post[i]`` and
    ``pos_pre[j]``. pos_post: (n_post, d) positions (e.g. :func:`grid`); pos_pre: (n_pre, d), or
    None for the same population. C: a probability in [0, 1], or an array of them broadcastable
    to (n_post, n_pre) (e.g. 0.3/0.2/0.4/0.1 by pre and post type, built by indexing a 2x2
    table). lam: length constant > 0, in the units of the positions. Self-loops are excluded
    when the matrix is square unless ``self_loops``. ``weights``, ``seed``, ``loc``, ``scale``:
    see the module docstring.
    """
    pos_post = checks.array(pos_post, "pos_post", ndim=2)
    pos_pre = pos_post if pos_pre is None else checks.array(pos_pre, "pos_pre", ndim=2)
    if pos_pre.shape[1] != pos_post.shape[1]:
        raise ValueError(f"pos_pre must have the same number of coordinates as pos_post "
                         f"({pos_post.shape[1]}); got shape {pos_pre.shape}")
    n_post, n_pre = pos_post.shape[0], pos_pre.shape[0]
    lam = checks.scalar(lam, "lam", low=0.0, low_open=True)
    if isinstance(C, numbers.Real) and not isinstance(C, bool):
        C = checks.scalar(C, "C", low=0.0, high=1.0)
        Cb = None
    else:
        Carr = checks.array(C, "C", ndim=(0, 1, 2))
        if np.any(Carr < 0) or np.any(Carr > 1):
            raise ValueError(f"C must hold probabilities in [0, 1]; got values in "
                             f"[{Carr.min()}, {Carr.max()}]")
        try:
            Cb = np.broadcast_to(Carr, (n_post, n_pre))
        except ValueError:
            raise ValueError(f"C must be a float or broadcastable to (n_post, n_pre) = "
                             f"({n_post}, {n_pre}); got shape {Carr.shape}") from None
    _check_weight_spec(weights, loc, scale)
    gen = _rng.generator(seed)
    skip_diag = (n_post == n_pre) and not self_loops
    block = max(1, _CHUNK // n_pre)
    counts = np.zeros(n_post, dtype=INDEX)
    cols = []
    for r0 in range(0, n_post, block):
        r1 = min(n_post, r0 + block)
        d2 = ((pos_post[r0:r1, None, :] - pos_pre[None, :, :]) ** 2).sum(axis=2)
        prob = np.exp(-d2 / lam ** 2) * (C if Cb is None else Cb[r0:r1])
        if skip_diag:
            r = np.arange(r0, r1)
            prob[r - r0, r] = 0.0
        mask = gen.random(prob.shape) < prob
        counts[r0:r1] = mask.sum(axis=1)
        cols.append(np.nonzero(mask)[1].astype(INDEX))
    indptr = np.zeros(n_post + 1, dtype=INDEX)
    np.cumsum(counts, out=indptr[1:])
    return _build(indptr, np.concatenate(cols), (n_post, n_pre), weights, gen, loc, scale,
                  sparse)


# ------------------------------------------------------------------------ delays and events

def delays(W, *, low, high=None, dt, seed=None):
    """A transmission delay per synapse of ``W``, in integer time steps of ``dt``.

    W: dense array or scipy.sparse matrix (n_post, n_pre); its synapses are its nonzero entries.
    low, high: delays in seconds, uniform in ``[low, high]`` per synapse, or the constant ``low``
    when ``high`` is None. dt: the time step in seconds. Each delay is rounded to the nearest
    whole number of steps, ``rint(delay / dt)``.

    Returns a csr_array of int64 steps with exactly W's sparsity pattern (sorted indices; a
    delay of 0 steps is stored explicitly, so do not call ``eliminate_zeros`` on it).
    """
    A = _as_csr(W, "W")
    low = checks.scalar(low, "low", low=0.0)
    dt = checks.scalar(dt, "dt", low=0.0, low_open=True)
    if high is not None:
        high = checks.scalar(high, "high", low=low)
    gen = _rng.generator(seed)
    n = A.nnz
    d = np.full(n, low) if high is None else low + (high - low) * gen.random(n)
    steps = np.rint(d / dt).astype(INDEX)
    D = sp.csr_array((steps, A.indices.copy(), A.indptr.copy()), shape=A.shape)
    D.has_sorted_indices = True
    return D


def outgoing(W, D=None):
    """Synapses grouped by presynaptic neuron, for event-driven spike delivery (CSR of ``W.T``).

    W: dense or sparse (n_post, n_pre). D: optional delays with W's sparsity pattern (as from
    :func:`delays`), or a dense integer (n_post, n_pre) array read at W's synapses.

    Returns ``(indptr, targets, weights)`` or, with ``D``, ``(indptr, targets, weights,
    delays)``: indptr int64 (n_pre + 1,); the synapses of presynaptic neuron ``j`` are
    ``indptr[j]:indptr[j+1]``, with targets int64 (postsynaptic indices, ascending), weights
    float64 and delays int64 (steps).
    """
    A = _as_csr(W, "W")
    n_post, n_pre = A.shape
    rows = np.repeat(np.arange(n_post, dtype=INDEX), np.diff(A.indptr))
    cols = A.indices.astype(INDEX)
    order = np.lexsort((rows, cols))
    indptr = np.zeros(n_pre + 1, dtype=INDEX)
    np.cumsum(np.bincount(cols, minlength=n_pre), out=indptr[1:])
    out = (indptr, rows[order], A.data[order].astype(FLOAT))
    if D is None:
        return out
    if sp.issparse(D):
        if D.shape != A.shape:
            raise ValueError(f"D must have W's shape {A.shape}; got {D.shape}")
        Dc = sp.csr_array(D)
        Dc.sort_indices()
        if not (np.array_equal(Dc.indptr, A.indptr) and np.array_equal(Dc.indices, A.indices)):
            raise ValueError("D must have exactly W's sparsity pattern (build it with "
                             "neurosim.connect.delays(W, ...))")
        dvals = Dc.data
    else:
        Dd = checks.array(D, "D", shape=A.shape, dtype=None)
        dvals = Dd[rows, cols]
    if np.issubdtype(dvals.dtype, np.floating):
        if not np.all(np.isfinite(dvals)) or np.any(dvals != np.rint(dvals)):
            raise ValueError("D must hold whole numbers of time steps")
    if np.any(dvals < 0):
        raise ValueError(f"D must hold delays >= 0 steps; got minimum {dvals.min()}")
    return out + (dvals.astype(INDEX)[order],)


def spectral_radius(W):
    """Largest absolute eigenvalue of the square matrix ``W`` (dense or sparse), a float.

    Small matrices (n <= 200) and dense ones (a quarter of the entries non-zero or more) use
    ``numpy.linalg.eigvals``; larger sparse ones ARPACK (``scipy.sparse.linalg.eigs``, a fixed
    start vector so the answer is reproducible), falling back to the dense solver if ARPACK
    does not converge. ARPACK is asked for the 8 eigenvalues of largest modulus, not one: the
    eigenvalues of a random reservoir fill a disk, and asked for one it stopped at an eigenvalue
    0.01-0.6% inside the largest in 5 of 51 sparse reservoirs of 1000-3000 units (none with 8,
    at up to twice the time); on a dense one it took 1.5-3x eigvals' time.
    """
    A = _as_csr(W, "W", square=True)
    n = A.shape[0]
    if A.nnz == 0:
        return 0.0
    if n <= _DENSE_EIG_MAX or A.nnz >= _DENSE_EIG_DENSITY * n * n:
        return float(np.max(np.abs(np.linalg.eigvals(A.toarray()))))
    import scipy.sparse.linalg as spla   # deferred: ~0.3 s to import, needed only here

    v0 = _rng.generator(0).random(n)  # a fixed start vector: reproducible answers
    # ARPACK's restarts (~50 products each) capped at about the dense solver's cost, n^3 / (50 nnz):
    # a dense random matrix (its eigenvalues fill a disk, the largest barely apart) did not
    # converge in 50 n restarts, 6 minutes at 500 units before the same fallback
    maxiter = max(10, min(50 * n, n ** 3 // (50 * A.nnz)))
    try:
        ev = spla.eigs(A, k=8, which="LM", v0=v0, ncv=min(n - 1, 60), maxiter=maxiter,
                       tol=1e-12, return_eigenvectors=False)
        return float(np.abs(ev).max())
    except spla.ArpackNoConvergence:
        return float(np.max(np.abs(np.linalg.eigvals(A.toarray()))))
