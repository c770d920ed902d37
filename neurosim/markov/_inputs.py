"""Arguments of the Markov chain family: matrices, labels, states, sets of states, starting
distributions and starting states, checked once for every class and method that takes them."""
import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .. import checks, config
from ..kernels import markov as _k

FAMILY = "MC"


def as_matrix(M, name):
    """(dense ndarray or None, csr_array) from a dense array-like or scipy.sparse matrix."""
    if sp.issparse(M):
        if M.ndim != 2 or M.shape[0] != M.shape[1]:
            raise ValueError(f"{name} must be a square matrix; got shape {M.shape}")
        if M.shape[0] == 0:
            raise ValueError(f"{name} must not be empty; got shape {M.shape}")
        csr = sp.csr_array(checks.sparse_real(M, name), dtype=np.float64)
        csr.sum_duplicates()
        csr.sort_indices()
        if not np.all(np.isfinite(csr.data)):
            raise ValueError(f"{name} must be finite; it holds NaN or inf")
        return None, csr
    A = checks.array(M, name, ndim=2)
    if A.shape[0] != A.shape[1]:
        raise ValueError(f"{name} must be a square matrix; got shape {A.shape}")
    return A, None


def state_labels(labels, n):
    if labels is None:
        return None
    lab = np.asarray(list(labels))
    if lab.ndim != 1 or lab.shape[0] != n:
        raise ValueError(f"labels must be a sequence of {n} state names; got {lab.shape[0] if lab.ndim == 1 else lab.shape}")
    if np.unique(lab).shape[0] != n:
        raise ValueError("labels must be unique")
    return lab


def state_index(x, n, labels, name):
    """A state number from an int in [0, n) or (for a labelled chain) a label."""
    if isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_)):
        if not 0 <= x < n:
            raise ValueError(f"{name} must be a state number in [0, {n}); got {x}")
        return int(x)
    if labels is not None:
        hit = np.flatnonzero(labels == x)
        if hit.size:
            return int(hit[0])
        raise ValueError(f"{name} must be a state number in [0, {n}) or a label; got {x!r}")
    return checks.integer(x, name, low=0, high=n - 1)  # raises TypeError naming the argument


def state_set(target, n, labels, name):
    """Sorted unique int64 state numbers from one state or a sequence of states (or labels)."""
    if isinstance(target, (int, np.integer, str, np.str_)):
        target = [target]
    try:
        items = list(target)
    except TypeError as err:
        raise TypeError(f"{name} must be a state or a sequence of states; got {type(target).__name__}") from err
    if not items:
        raise ValueError(f"{name} must hold at least one state")
    return np.unique(np.array([state_index(x, n, labels, name) for x in items], dtype=np.int64))


def distribution(p, n, name):
    p = checks.array(p, name, shape=(n,))
    if np.any(p < 0) or abs(p.sum() - 1.0) > 1e-8:
        raise ValueError(f"{name} must be a probability vector (non-negative, summing to 1); got sum {p.sum():.6g}, min {p.min():.3g}")
    return p / p.sum()


def starting_distributions(initial, n, labels, name="initial"):
    """(k, n) float array of starting distributions from states, labels or distributions."""
    if initial is None:
        return np.eye(n)
    if isinstance(initial, (int, np.integer, str, np.str_)):
        M = np.zeros((1, n))
        M[0, state_index(initial, n, labels, name)] = 1.0
        return M
    a = np.asarray(initial)
    if np.issubdtype(a.dtype, np.floating):
        a2 = np.atleast_2d(checks.array(a, name, ndim=(1, 2)))
        if a2.shape[1] != n:
            raise ValueError(f"{name} distributions must have {n} entries; got shape {a.shape}")
        return np.stack([distribution(r, n, name) for r in a2])
    if a.ndim != 1 or a.size == 0:
        raise ValueError(f"{name} must be a state, a 1-D sequence of states or distributions; got shape {a.shape}")
    M = np.zeros((a.size, n))
    M[np.arange(a.size), [state_index(x, n, labels, name) for x in a]] = 1.0
    return M


def initial_states(n, labels, start, initial, n_chains, states):
    """Starting states (n_chains,) int64 from ``start`` (state(s)) or ``initial`` (distribution);
    uniform draws when both are None."""
    if start is not None and initial is not None:
        raise ValueError("give start or initial, not both")
    if start is None:
        p = np.full(n, 1.0 / n) if initial is None else distribution(initial, n, "initial")
        cdf = np.cumsum(p)
        cdf[-1] = 1.0
        x = np.empty(n_chains, dtype=np.int64)
        _k.sample_initial(cdf, np.int64(n), states, x)
        return x
    if isinstance(start, (int, np.integer, str, np.str_)):
        return np.full(n_chains, state_index(start, n, labels, "start"), dtype=np.int64)
    a = np.asarray(start)
    if a.ndim != 1 or a.shape[0] != n_chains:
        raise ValueError(f"start must be one state or a sequence of n_chains={n_chains} states; got shape {a.shape}")
    if np.issubdtype(a.dtype, np.integer):
        bad = (a < 0) | (a >= n)
        if bad.any():
            raise ValueError(f"start must hold state numbers in [0, {n}); got {a[bad][0]}")
        return a.astype(np.int64)
    return np.array([state_index(v, n, labels, "start") for v in a], dtype=np.int64)


def solve(A, b):
    """Solve ``A x = b`` for a small dense or sparse square system."""
    if sp.issparse(A):
        if A.shape[0] <= config.MARKOV_DENSE_SOLVE_MAX:
            return np.linalg.solve(A.toarray(), b)
        return spla.spsolve(sp.csc_array(A), b)
    return np.linalg.solve(A, b)
