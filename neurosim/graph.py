"""Directed graphs given as ``scipy.sparse`` adjacency matrices: the structure that Markov
chains (and any other family with a transition or wiring graph) ask about, written once.

An edge ``i -> j`` is a stored non-zero ``A[i, j]`` (after ``eliminate_zeros`` the caller's
business); weights are ignored. Components are numbered by their smallest node, so the
numbering does not depend on scipy's traversal order.
"""
import numpy as np
import scipy.sparse as sp
import scipy.sparse.csgraph as csgraph

__all__ = ["edges", "strong_components", "closed_components", "members", "periods", "reaching"]


def _csr(adj):
    if not sp.issparse(adj) or adj.ndim != 2 or adj.shape[0] != adj.shape[1]:
        raise ValueError(f"adj must be a square scipy.sparse matrix; got {type(adj).__name__}"
                         f"{' of shape ' + str(adj.shape) if hasattr(adj, 'shape') else ''}")
    return sp.csr_array(adj)


def edges(adj):
    """The edges ``(sources, targets)`` (int64, stored order) of a square sparse matrix."""
    g = _csr(adj)
    return np.repeat(np.arange(g.shape[0]), np.diff(g.indptr)), g.indices.astype(np.int64)


def strong_components(adj):
    """Strongly connected components: ``comp`` (n,) int64, component ``k`` being the one whose
    smallest node is the ``k``-th smallest among the components' smallest nodes."""
    g = _csr(adj)
    n = g.shape[0]
    n_comp, comp = csgraph.connected_components(g, directed=True, connection="strong")
    first = np.full(n_comp, n)
    np.minimum.at(first, comp, np.arange(n))
    relabel = np.empty(n_comp, dtype=np.int64)
    relabel[np.argsort(first)] = np.arange(n_comp)
    return relabel[comp]


def closed_components(adj, comp):
    """Mask (k,) of the components no edge leaves (the recurrent classes of a chain)."""
    rows, cols = edges(adj)
    closed = np.ones(int(comp.max()) + 1 if comp.size else 0, dtype=bool)
    leaving = comp[rows] != comp[cols]
    closed[comp[rows[leaving]]] = False
    return closed


def members(comp):
    """The nodes of each component: a list of sorted int64 arrays, by component number."""
    order = np.argsort(comp, kind="stable")
    cuts = np.flatnonzero(np.diff(comp[order])) + 1
    return [part.astype(np.int64) for part in np.split(order, cuts)] if comp.size else []


def periods(adj, comp):
    """Period of each component (k,) int64: the gcd of the lengths of its cycles, found as the
    gcd of ``level(u) + 1 - level(v)`` over its edges ``u -> v`` (breadth-first levels from its
    smallest node); 0 for a lone node without a self-loop (no cycle)."""
    g = _csr(adj)
    n = g.shape[0]
    rows, cols = edges(g)
    out = np.zeros(int(comp.max()) + 1 if comp.size else 0, dtype=np.int64)
    for k, nodes in enumerate(members(comp)):
        inside = (comp[rows] == k) & (comp[cols] == k)
        if not inside.any():
            continue
        sub = sp.csr_array((np.ones(int(inside.sum())), (rows[inside], cols[inside])), shape=(n, n))
        level = csgraph.shortest_path(sub, directed=True, unweighted=True, indices=int(nodes[0]))
        out[k] = int(np.gcd.reduce(np.abs(level[rows[inside]] + 1 - level[cols[inside]]).astype(np.int64)))
    return out


def reaching(adj, target):
    """Mask (n,) of the nodes with a path (of length >= 0) into the nodes of mask ``target``."""
    g = _csr(adj)
    rev = sp.csr_array(g.T)
    seen = np.asarray(target, dtype=bool).copy()
    if seen.shape != (g.shape[0],):
        raise ValueError(f"target must be a mask of shape ({g.shape[0]},); got {seen.shape}")
    frontier = np.flatnonzero(seen)
    while frontier.size:
        nxt = np.unique(rev[frontier].indices)
        nxt = nxt[~seen[nxt]]
        seen[nxt] = True
        frontier = nxt
    return seen
