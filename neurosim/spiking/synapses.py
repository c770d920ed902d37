"""A network's synapses as the kernel holds them (:func:`build`), and the plastic ones' views.

Static synapses (no plasticity) go into the outgoing CSR lists ``out_ptr``/``out_code``/
``out_w`` (+ ``out_d`` and the ring buffer for delays) of :mod:`neurosim.kernels.spiking`.
Synapses of projections with a rule (:class:`~neurosim.spiking.plasticity.STDP`,
:class:`~neurosim.spiking.plasticity.STP`) go into the dynamic tables of
:mod:`neurosim.kernels.plasticity` (``dyn_*``, built once with the postsynaptic view
``in_ptr``/``in_syn``). Plastic synapses are numbered for users in connect order, each
projection's in the order of its ``W.data`` (CSR, row = postsynaptic neuron): ``pl_dyn[k]`` is
the dynamic synapse of user synapse ``k``; ``pl_proj``, ``pl_pre``, ``pl_post`` its projection
(connect order) and its neurons' indices within the pre and post groups.
"""
import numpy as np
import scipy.sparse as sp

from .. import connect
from ..kernels import plasticity as _kp

#: the dynamic synapses' arrays, in the order :func:`neurosim.kernels.plasticity.deliver` takes
#: them after ``syn`` (None where unused)
KERNEL = ("dyn_ptr", "dyn_code", "dyn_w", "dyn_proj", "dyn_last", "dyn_rules", "dyn_d", "hist",
          "hist_n", "dyn_xpre", "post_tr", "last_spike", "in_ptr", "in_syn", "dyn_u", "dyn_R")
#: what changes while the network runs (store/restore)
STATE = ("dyn_w", "dyn_last", "hist", "hist_n", "dyn_xpre", "post_tr", "last_spike", "dyn_u",
         "dyn_R")
#: everything a file holds of them
ARRAYS = KERNEL + ("pl_dyn", "pl_proj", "pl_pre", "pl_post")


def _layout(A, D):
    """Synapses of ``A`` (canonical csr, (n_post, n_pre)) in outgoing order (by pre, then
    post): ``(order into A.data, pre, post, delays)``."""
    rows = np.repeat(np.arange(A.shape[0], dtype=np.int64), np.diff(A.indptr))
    cols = A.indices.astype(np.int64)
    order = np.lexsort((rows, cols))      # connect.outgoing's order
    d = connect.outgoing(A, D)[3] if D is not None else np.zeros(A.nnz, dtype=np.int64)
    return order, cols[order], rows[order], d


def build(net):
    """Fill ``net``'s synapse tables from its projections (called once, when it is built)."""
    N = net.n_neurons
    n_pre = N + sum(s.n for s in net.sources)
    static = [pr for pr in net.projections if pr.stdp is None and pr.stp is None]
    pres, codes, ws, ds = [], [], [], []
    for pr in static:
        order, pre, post, d = _layout(pr.W, pr.D)
        pres.append(pre + net._pre_start(pr.pre))
        codes.append(pr.channel * N + post + net.indices(pr.post)[0])
        ws.append(pr.W.data[order])
        ds.append(d)
    if pres:
        pre = np.concatenate(pres)
        order = np.argsort(pre, kind="stable")
        code = np.concatenate(codes)[order]
        # int32 targets (half the memory traffic of delivery) wherever 2N fits
        net.out_code = code.astype(np.int32) if 2 * N < 2 ** 31 else code
        net.out_w = np.concatenate(ws)[order]
        net.out_d = np.concatenate(ds)[order]
        counts = np.bincount(pre, minlength=n_pre)
    else:
        net.out_code = np.empty(0, dtype=np.int32)
        net.out_w = np.empty(0)
        net.out_d = np.empty(0, dtype=np.int64)
        counts = np.zeros(n_pre, dtype=np.int64)
    net.out_ptr = np.zeros(n_pre + 1, dtype=np.int64)
    np.cumsum(counts, out=net.out_ptr[1:])
    L = int(net.out_d.max()) + 1 if net.out_d.size else 1
    net.ring = np.zeros((L, 2 * N))
    _dynamic(net, [pr for pr in net.projections if pr.stdp is not None or pr.stp is not None],
             n_pre)


def _dynamic(net, projections, n_pre):
    for name in ARRAYS:
        setattr(net, name, None)
    net.plastic = []
    if not projections:
        return
    N, dt = net.n_neurons, net.dt
    rules = np.zeros((len(projections), _kp.N_RULE))
    parts = {k: [] for k in ("pre", "code", "w", "d", "proj", "user", "pl_proj", "pl_pre",
                             "pl_post")}
    base = post_off = 0
    for r, pr in enumerate(projections):
        A = pr.W
        order, pre, post, d = _layout(A, pr.D)
        lo = int(net.indices(pr.post)[0])
        parts["pre"].append(pre + net._pre_start(pr.pre))
        parts["code"].append(pr.channel * N + post + lo)
        parts["w"].append(A.data[order])
        parts["d"].append(d)
        parts["proj"].append(np.full(A.nnz, r, dtype=np.int64))
        parts["user"].append(base + order)
        rows = np.repeat(np.arange(A.shape[0], dtype=np.int64), np.diff(A.indptr))
        parts["pl_proj"].append(np.full(A.nnz, pr.index, dtype=np.int64))
        parts["pl_pre"].append(A.indices.astype(np.int64))
        parts["pl_post"].append(rows)
        base += A.nnz
        if pr.stdp is not None:
            pr.stdp.fill(rules[r], dt)
            rules[r, _kp.R_POST_OFF] = post_off
            rules[r, _kp.R_POST_LO] = lo
            rules[r, _kp.R_POST_HI] = lo + pr.post.n
            post_off += pr.post.n
        if pr.stp is not None:
            pr.stp.fill(rules[r], dt)
        net.plastic.append({"index": pr.index, "shape": list(A.shape),
                            "stdp": None if pr.stdp is None else pr.stdp.params(),
                            "stp": None if pr.stp is None else pr.stp.params()})
    cat = {k: np.concatenate(v) for k, v in parts.items()}
    order = np.lexsort((cat["d"], cat["pre"]))      # by source, then delay (stable)
    n = order.size
    net.dyn_ptr = np.zeros(n_pre + 1, dtype=np.int64)
    np.cumsum(np.bincount(cat["pre"], minlength=n_pre), out=net.dyn_ptr[1:])
    net.dyn_code = cat["code"][order]
    net.dyn_w = cat["w"][order]
    net.dyn_proj = cat["proj"][order]
    net.dyn_last = np.full(n, _kp.NEVER, dtype=np.int64)
    net.dyn_rules = rules
    d = cat["d"][order]
    if d.size and d.max() > 0:
        net.dyn_d = d
        net.hist = np.zeros((int(d.max()) + 1, n_pre + 1), dtype=np.int64)
        net.hist_n = np.zeros(int(d.max()) + 1, dtype=np.int64)
    net.pl_dyn = np.empty(n, dtype=np.int64)
    net.pl_dyn[cat["user"][order]] = np.arange(n, dtype=np.int64)
    for k in ("pl_proj", "pl_pre", "pl_post"):
        setattr(net, k, cat[k])
    stdp = rules[net.dyn_proj, _kp.R_STDP] != 0
    if stdp.any():
        net.dyn_xpre = np.zeros(n)
        net.post_tr = np.zeros(post_off)
        net.last_spike = np.full(N, _kp.NEVER, dtype=np.int64)
        q = np.flatnonzero(stdp)
        post = net.dyn_code[q] % N
        net.in_ptr = np.zeros(N + 1, dtype=np.int64)
        np.cumsum(np.bincount(post, minlength=N), out=net.in_ptr[1:])
        net.in_syn = q[np.argsort(post, kind="stable")].astype(np.int64)
    if (rules[:, _kp.R_STP] != 0).any():
        net.dyn_u = np.zeros(n)
        net.dyn_R = np.ones(n)


def kernel_args(net, n_fired):
    """The dynamic synapses' kernel arguments (None when there are none); the spike history
    grows to hold ``n_fired`` sources a step."""
    if net.dyn_ptr is None:
        return None
    if net.hist is not None and net.hist.shape[1] < n_fired:
        grown = np.zeros((net.hist.shape[0], n_fired), dtype=np.int64)
        grown[:, :net.hist.shape[1]] = net.hist
        net.hist = grown
    return tuple(getattr(net, k) for k in KERNEL)


def weights(net, k):
    """The current weights of plastic projection ``k`` (connect order) as a csr_array."""
    spec = next((p for p in net.plastic if p["index"] == k), None)
    if spec is None:
        raise ValueError(f"projection {k} has no plasticity (plastic projections: "
                         f"{[p['index'] for p in net.plastic]})")
    sel = net.pl_proj == k
    return sp.csr_array((net.dyn_w[net.pl_dyn[sel]], (net.pl_post[sel], net.pl_pre[sel])),
                        shape=tuple(spec["shape"]))
