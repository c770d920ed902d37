"""Markov chains (zoo family MC): discrete-time chains on a finite state space and
continuous-time chains given by a rate matrix.

``MarkovChain(P)`` takes a row-stochastic transition matrix, dense or ``scipy.sparse``. It
simulates one long chain or many chains in parallel (compiled, one random stream per chain, O(1)
alias-table sampling per step), analyses the chain exactly (stationary distributions,
communication classes, recurrence, periods, absorption, hitting times, convergence in total
variation and the mixing time) and fits a chain to observed sequences (``fit``) or to n-grams of
a text (``from_ngrams``). ``ContinuousMarkovChain(Q)`` takes a rate matrix; it simulates by the
Gillespie algorithm and computes transient probabilities by uniformisation.

Conventions: states are ``0 .. n-1`` (optional ``labels`` name them); distributions are row
vectors, ``p_{t+1} = p_t P``; simulated paths are ``int64`` state indices; times are seconds and
rates 1/s.
"""
import math

import numpy as np
import scipy.linalg
import scipy.sparse as sp
import scipy.sparse.csgraph as csgraph
import scipy.sparse.linalg as spla
import scipy.stats

from . import checks, record, rng
from .kernels import markov as _k

__all__ = ["MarkovChain", "ContinuousMarkovChain", "ngram_text"]

DENSE_SOLVE_MAX = 3000  # chains up to this many states get exact dense linear solves
_FAMILY = "MC"


# --------------------------------------------------------------------------- validation helpers

def _as_matrix(M, name):
    """(dense ndarray or None, csr_array) from a dense array-like or scipy.sparse matrix."""
    if sp.issparse(M):
        if M.ndim != 2 or M.shape[0] != M.shape[1]:
            raise ValueError(f"{name} must be a square matrix; got shape {M.shape}")
        if M.shape[0] == 0:
            raise ValueError(f"{name} must not be empty; got shape {M.shape}")
        if not np.issubdtype(M.dtype, np.number) or np.issubdtype(M.dtype, np.complexfloating):
            raise TypeError(f"{name} must hold real numbers; got dtype {M.dtype}")
        csr = sp.csr_array(M, dtype=np.float64)
        csr.sum_duplicates()
        csr.sort_indices()
        if not np.all(np.isfinite(csr.data)):
            raise ValueError(f"{name} must be finite; it holds NaN or inf")
        return None, csr
    A = checks.array(M, name, ndim=2)
    if A.shape[0] != A.shape[1]:
        raise ValueError(f"{name} must be a square matrix; got shape {A.shape}")
    return A, None


def _labels(labels, n):
    if labels is None:
        return None
    lab = np.asarray(list(labels))
    if lab.ndim != 1 or lab.shape[0] != n:
        raise ValueError(f"labels must be a sequence of {n} state names; got {lab.shape[0] if lab.ndim == 1 else lab.shape}")
    if np.unique(lab).shape[0] != n:
        raise ValueError("labels must be unique")
    return lab


def _state_index(x, n, labels, name):
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


def _state_set(target, n, labels, name):
    """Sorted unique int64 state numbers from one state or a sequence of states (or labels)."""
    if isinstance(target, (int, np.integer, str, np.str_)):
        target = [target]
    try:
        items = list(target)
    except TypeError as err:
        raise TypeError(f"{name} must be a state or a sequence of states; got {type(target).__name__}") from err
    if not items:
        raise ValueError(f"{name} must hold at least one state")
    return np.unique(np.array([_state_index(x, n, labels, name) for x in items], dtype=np.int64))


def _distribution(p, n, name):
    p = checks.array(p, name, shape=(n,))
    if np.any(p < 0) or abs(p.sum() - 1.0) > 1e-8:
        raise ValueError(f"{name} must be a probability vector (non-negative, summing to 1); got sum {p.sum():.6g}, min {p.min():.3g}")
    return p / p.sum()


def _starting_distributions(initial, n, labels, name="initial"):
    """(k, n) float array of starting distributions from states, labels or distributions."""
    if initial is None:
        return np.eye(n)
    if isinstance(initial, (int, np.integer, str, np.str_)):
        M = np.zeros((1, n))
        M[0, _state_index(initial, n, labels, name)] = 1.0
        return M
    a = np.asarray(initial)
    if np.issubdtype(a.dtype, np.floating):
        a2 = np.atleast_2d(checks.array(a, name, ndim=(1, 2)))
        if a2.shape[1] != n:
            raise ValueError(f"{name} distributions must have {n} entries; got shape {a.shape}")
        return np.stack([_distribution(r, n, name) for r in a2])
    if a.ndim != 1 or a.size == 0:
        raise ValueError(f"{name} must be a state, a 1-D sequence of states or distributions; got shape {a.shape}")
    M = np.zeros((a.size, n))
    M[np.arange(a.size), [_state_index(x, n, labels, name) for x in a]] = 1.0
    return M


def _initial_states(n, labels, start, initial, n_chains, states):
    """Starting states (n_chains,) int64 from ``start`` (state(s)) or ``initial`` (distribution);
    uniform draws when both are None."""
    if start is not None and initial is not None:
        raise ValueError("give start or initial, not both")
    if start is None:
        p = np.full(n, 1.0 / n) if initial is None else _distribution(initial, n, "initial")
        cdf = np.cumsum(p)
        cdf[-1] = 1.0
        x = np.empty(n_chains, dtype=np.int64)
        _k.sample_initial(cdf, np.int64(n), states, x)
        return x
    if isinstance(start, (int, np.integer, str, np.str_)):
        return np.full(n_chains, _state_index(start, n, labels, "start"), dtype=np.int64)
    a = np.asarray(start)
    if a.ndim != 1 or a.shape[0] != n_chains:
        raise ValueError(f"start must be one state or a sequence of n_chains={n_chains} states; got shape {a.shape}")
    if np.issubdtype(a.dtype, np.integer):
        bad = (a < 0) | (a >= n)
        if bad.any():
            raise ValueError(f"start must hold state numbers in [0, {n}); got {a[bad][0]}")
        return a.astype(np.int64)
    return np.array([_state_index(v, n, labels, "start") for v in a], dtype=np.int64)


def _seed_attr(seq):
    """The seed as stored in attrs: the int given, else the SeedSequence's entropy as a string."""
    return str(seq.entropy) if not isinstance(seq.entropy, (int, np.integer)) or seq.entropy >= 2 ** 63 else int(seq.entropy)


def _solve(A, b):
    """Solve ``A x = b`` for a small dense or sparse square system."""
    if sp.issparse(A):
        if A.shape[0] <= DENSE_SOLVE_MAX:
            return np.linalg.solve(A.toarray(), b)
        return spla.spsolve(sp.csc_array(A), b)
    return np.linalg.solve(A, b)


class MarkovChain:
    """Discrete-time Markov chain on ``n`` states.

    Parameters
    ----------
    P : (n, n) array-like or scipy.sparse matrix
        Transition probabilities, ``P[i, j] = Pr(X_{t+1} = j | X_t = i)``: non-negative, each
        row summing to 1 within ``tol`` (rows are then renormalised exactly).
    labels : sequence of n names, optional
        State names; any method taking a state also takes its label.
    seed : int >= 0, SeedSequence or None
        Default seed of :meth:`simulate` (the same seed gives the same paths on any number of
        threads).
    tol : float
        Tolerance on row sums.
    """

    family = _FAMILY

    def __init__(self, P, labels=None, *, seed=None, tol=1e-8):
        tol = checks.scalar(tol, "tol", low=0, low_open=True)
        dense, csr = _as_matrix(P, "P")
        vals = dense if dense is not None else csr.data
        if vals.size and vals.min() < 0:
            where = tuple(int(i) for i in np.unravel_index(np.argmin(dense), dense.shape)) if dense is not None else None
            at = f" at P[{where[0]}, {where[1]}]" if where is not None else ""
            raise ValueError(f"P must be non-negative; smallest entry {vals.min():.6g}{at}")
        rows = dense.sum(axis=1) if dense is not None else np.asarray(csr.sum(axis=1)).ravel()
        err = np.abs(rows - 1.0)
        worst = int(np.argmax(err))
        if err[worst] > tol:
            raise ValueError(f"P must be row-stochastic (rows summing to 1 within tol={tol:g}); "
                             f"row {worst} sums to {rows[worst]:.12g}")
        if dense is not None:
            self._dense = dense / rows[:, None]
            self._csr = sp.csr_array(self._dense)
        else:
            self._dense = None
            self._csr = sp.csr_array(sp.diags_array(1.0 / rows) @ csr)
            self._csr.eliminate_zeros()
            self._csr.sort_indices()
        self.n_states = int(self._csr.shape[0])
        self.labels = _labels(labels, self.n_states)
        self._seq = rng.sequence(seed)
        self.seed = int(seed) if isinstance(seed, (int, np.integer)) else str(self._seq.entropy)  # str: 128 bits
        self._tables = None
        self._structure = None

    # ------------------------------------------------------------------ basics
    @property
    def is_sparse(self):
        """True when the chain was given (and is simulated) as a sparse matrix."""
        return self._dense is None

    @property
    def P(self):
        """The transition matrix: a dense ``ndarray`` or a ``scipy.sparse.csr_array``."""
        return self._dense if self._dense is not None else self._csr

    def to_dense(self):
        """The transition matrix as a dense (n, n) float64 array."""
        return self._dense if self._dense is not None else self._csr.toarray()

    def __repr__(self):
        kind = "sparse" if self.is_sparse else "dense"
        return f"MarkovChain(n_states={self.n_states}, {kind}, nnz={self._csr.nnz})"

    def _state(self, x, name="start"):
        return _state_index(x, self.n_states, self.labels, name)

    def _params(self):
        return {"n_states": self.n_states, "sparse": self.is_sparse}

    # ------------------------------------------------------------------ simulation
    def _get_tables(self):
        if self._tables is None:
            n = self.n_states
            if self._dense is not None:
                prob = np.empty((n, n))
                alias = np.empty((n, n), dtype=np.int32)
                _k.dense_tables(self._dense, prob, alias)
                table = np.empty((n, n), dtype=np.uint64)
                _k.pack_dense(prob, alias, table)
                self._tables = ("dense", table)
            else:
                c = self._csr
                indptr = c.indptr.astype(np.int64)
                indices = c.indices.astype(np.int64)
                cdf = np.empty(c.nnz)
                prob = np.empty(c.nnz)
                alias = np.empty(c.nnz, dtype=np.int64)
                _k.csr_tables(indptr, indices, c.data, cdf, prob, alias)
                self._tables = ("csr", indptr, indices, cdf, prob, alias)
        return self._tables

    def simulate(self, n_steps, start=None, n_chains=1, *, initial=None, every=1, seed=None,
                 progress=False, chunk=None):
        """Simulate ``n_chains`` independent chains for ``n_steps`` steps each.

        Parameters
        ----------
        n_steps : int >= 0
            Steps per chain.
        start : state, label or sequence of ``n_chains`` states, optional
            Starting state(s). If neither ``start`` nor ``initial`` is given the starting states
            are drawn uniformly.
        n_chains : int >= 1
            Independent chains, chain ``c`` drawing from random stream ``c`` (run in parallel).
        initial : (n,) probability vector, optional
            Distribution the starting states are drawn from.
        every : int >= 1
            Record the state every ``every`` steps (steps 0, every, 2 every, ...).
        seed : optional
            Overrides the chain's seed for this run.
        progress, chunk :
            Progress bar; steps per kernel call (Ctrl+C stops after the current chunk).

        Returns
        -------
        xarray.Dataset
            ``path`` (chain, step) int64 state numbers; ``step`` coordinate; ``state_label``
            (state) when the chain has labels.
        """
        n_steps = checks.integer(n_steps, "n_steps", low=0)
        n_chains = checks.integer(n_chains, "n_chains", low=1)
        every = checks.integer(every, "every", low=1)
        seq = self._seq if seed is None else rng.sequence(seed)
        states = rng.streams(seq, n_chains)
        x = _initial_states(self.n_states, self.labels, start, initial, n_chains, states)
        n_rec = n_steps // every
        path = np.empty((n_chains, n_rec + 1), dtype=np.int64)
        path[:, 0] = x
        if chunk is None:
            chunk = max(1, 20_000_000 // n_chains)
        chunk = max(every, checks.integer(chunk, "chunk", low=1) // every * every)
        tables = self._get_tables()
        rec = [1]

        def advance(done, n):
            k = n // every
            if tables[0] == "dense" and n_chains == 1:  # one chain: prefetching kernel, in place
                _k.run_dense_one(tables[1], x, np.int64(n), np.int64(every), states, path[0, rec[0]:rec[0] + k])
                rec[0] += k
                return False
            buf = np.empty((n_chains, k), dtype=np.int64)
            if tables[0] == "dense":
                _k.run_dense(tables[1], x, np.int64(n), np.int64(every), states, buf)
            else:
                _k.run_csr(*tables[1:], x, np.int64(n), np.int64(every), states, buf)
            path[:, rec[0]:rec[0] + k] = buf
            rec[0] += k
            return False

        done, interrupted = record.run_chunks(advance, n_steps, chunk, progress=progress,
                                              desc="MarkovChain", unit="step")
        path = path[:, :rec[0]]
        coords = {"chain": np.arange(n_chains), "step": np.arange(rec[0], dtype=np.int64) * every}
        if self.labels is not None:
            coords["state_label"] = ("state", self.labels)
        data = {"path": (("chain", "step"), path, {"long_name": "state number"})}
        return record.dataset(data, coords, family=_FAMILY, model="MarkovChain",
                              params={**self._params(), "n_steps": done, "every": every,
                                      "n_chains": n_chains},
                              seed=self.seed if seed is None else _seed_attr(seq),
                              interrupted=interrupted)

    # ------------------------------------------------------------------ structure
    def _get_structure(self):
        if self._structure is None:
            g = self._csr
            n_comp, comp = csgraph.connected_components(g, directed=True, connection="strong")
            rows = np.repeat(np.arange(self.n_states), np.diff(g.indptr))
            cols = g.indices
            leaving = comp[rows] != comp[cols]
            closed = np.ones(n_comp, dtype=bool)
            closed[comp[rows[leaving]]] = False
            # order classes by their smallest state
            first = np.full(n_comp, self.n_states)
            np.minimum.at(first, comp, np.arange(self.n_states))
            order = np.argsort(first)
            relabel = np.empty(n_comp, dtype=np.int64)
            relabel[order] = np.arange(n_comp)
            comp = relabel[comp]
            closed = closed[order]
            classes = [np.flatnonzero(comp == k) for k in range(n_comp)]
            periods = np.array([self._class_period(c, comp, rows, cols) for c in classes], dtype=np.int64)
            self._structure = {"comp": comp, "closed": closed, "classes": classes, "periods": periods}
        return self._structure

    def _class_period(self, members, comp, rows, cols):
        """gcd of (level(u) + 1 - level(v)) over edges u -> v inside the class (BFS levels)."""
        k = comp[members[0]]
        inside = (comp[rows] == k) & (comp[cols] == k)
        if not inside.any():
            return 0  # a single state without a self-loop: no return possible (period undefined)
        sub = sp.csr_array((np.ones(int(inside.sum())), (rows[inside], cols[inside])),
                           shape=(self.n_states, self.n_states))
        level = csgraph.shortest_path(sub, directed=True, unweighted=True, indices=int(members[0]))
        lu = level[rows[inside]]
        lv = level[cols[inside]]
        return int(np.gcd.reduce(np.abs(lu + 1 - lv).astype(np.int64)))

    @property
    def communication_classes(self):
        """Communication classes: a list of sorted int64 arrays of states, by smallest state."""
        return list(self._get_structure()["classes"])

    @property
    def recurrent_classes(self):
        """The closed (recurrent) communication classes."""
        s = self._get_structure()
        return [c for c, closed in zip(s["classes"], s["closed"]) if closed]

    @property
    def transient_states(self):
        """States in classes that can be left (transient): sorted int64 array."""
        s = self._get_structure()
        return np.flatnonzero(~s["closed"][s["comp"]]).astype(np.int64)

    @property
    def absorbing_states(self):
        """States ``i`` with ``P[i, i] == 1``: sorted int64 array."""
        d = self._csr.diagonal()
        return np.flatnonzero(d >= 1.0 - 1e-12).astype(np.int64)

    @property
    def is_irreducible(self):
        """True when every state communicates with every other one."""
        return len(self._get_structure()["classes"]) == 1

    @property
    def periods(self):
        """Period of each communication class (int64, aligned with ``communication_classes``);
        0 for a lone state that cannot return to itself."""
        return self._get_structure()["periods"].copy()

    @property
    def period(self):
        """The period of an irreducible chain; for a reducible one the least common multiple of
        its recurrent classes' periods (QuantEcon's convention)."""
        s = self._get_structure()
        return int(np.lcm.reduce(s["periods"][s["closed"]]))

    @property
    def is_aperiodic(self):
        """True when every recurrent class has period 1."""
        return self.period == 1

    def classify(self):
        """Per-state classification: Dataset with ``class`` (state) index into
        ``communication_classes``, ``recurrent`` (state) bool, ``period`` (state) int."""
        s = self._get_structure()
        coords = {"state": np.arange(self.n_states)}
        if self.labels is not None:
            coords["state_label"] = ("state", self.labels)
        return record.dataset(
            {"class_id": ("state", s["comp"]), "recurrent": ("state", s["closed"][s["comp"]].astype(np.int8)),
             "period": ("state", s["periods"][s["comp"]])},
            coords, family=_FAMILY, model="MarkovChain", params=self._params())

    # ------------------------------------------------------------------ stationary
    def _class_stationary(self, members, method, tol, max_iter):
        m = members.shape[0]
        if m == 1:
            return np.ones(1)
        whole = m == self.n_states
        sub = self._csr if whole else self._csr[members][:, members]
        if method == "solve" or (method == "auto" and m <= DENSE_SOLVE_MAX):
            if m > DENSE_SOLVE_MAX:
                A = (sub.T - sp.eye_array(m)).tolil()
            else:
                A = (self._dense if whole and self._dense is not None else sub.toarray()).T - np.eye(m)
            b = np.zeros(m)
            b[-1] = 1.0
            if sp.issparse(A):
                A[-1, :] = np.ones(m)
                pi = spla.spsolve(sp.csc_array(A), b)
            else:
                A[-1, :] = 1.0
                pi = np.linalg.solve(A, b)
        else:
            pi = np.full(m, 1.0 / m)
            T = sp.csr_array(sub.T)  # the kernel gathers along rows of P^T
            it = _k.power_stationary(T.indptr.astype(np.int64), T.indices.astype(np.int64),
                                     T.data, pi, tol, np.int64(max_iter))
            if it >= max_iter:
                raise RuntimeError(f"power iteration did not converge to tol={tol:g} in max_iter={max_iter} iterations")
        pi = np.maximum(pi, 0.0)
        return pi / pi.sum()

    def stationary_distributions(self, method="auto", *, tol=1e-13, max_iter=1_000_000):
        """One stationary distribution per recurrent class: (k, n) float64, rows summing to 1.

        ``method``: ``"solve"`` (exact linear solve, dense up to 3000 states then sparse LU),
        ``"power"`` (power iteration on the lazy chain to an L1 change below ``tol``), or
        ``"auto"`` (solve for classes up to 3000 states, power iteration beyond).
        """
        checks.choice(method, "method", ("auto", "solve", "power"))
        tol = checks.scalar(tol, "tol", low=0, low_open=True)
        max_iter = checks.integer(max_iter, "max_iter", low=1)
        rec = self.recurrent_classes
        out = np.zeros((len(rec), self.n_states))
        for r, members in enumerate(rec):
            out[r, members] = self._class_stationary(members, method, tol, max_iter)
        return out

    def stationary(self, method="auto", *, tol=1e-13, max_iter=1_000_000):
        """The stationary distribution (n,) of a chain with a single recurrent class.

        Raises ``ValueError`` when there are several (use :meth:`stationary_distributions`).
        See :meth:`stationary_distributions` for ``method``.
        """
        if len(self.recurrent_classes) != 1:
            raise ValueError(f"the chain has {len(self.recurrent_classes)} recurrent classes, so no unique "
                             "stationary distribution; use stationary_distributions()")
        return self.stationary_distributions(method, tol=tol, max_iter=max_iter)[0]

    # ------------------------------------------------------------------ absorption and hitting
    def absorption(self):
        """Absorbing-chain analysis over the transient states.

        Each recurrent class is a target (for an absorbing chain: each absorbing state).
        Returns a Dataset with ``fundamental`` (transient, transient_to) ``N = (I - Q)^-1``
        (expected visits), ``absorption_probability`` (transient, target) ``B = N R`` summed
        over each target class, ``expected_steps`` (transient) ``t = N 1`` and
        ``target_states`` (target) the smallest state of each target class.
        """
        T = self.transient_states
        rec = self.recurrent_classes
        if T.size == 0:
            raise ValueError("the chain has no transient states, so nothing is absorbed")
        P = self._csr
        Q = P[T][:, T]
        m = T.size
        R = P[T].toarray() if m <= DENSE_SOLVE_MAX else None
        A = np.eye(m) - Q.toarray() if m <= DENSE_SOLVE_MAX else sp.eye_array(m) - Q
        Rc = np.zeros((m, len(rec)))
        for r, members in enumerate(rec):
            Rc[:, r] = (R[:, members].sum(axis=1) if R is not None
                        else np.asarray(P[T][:, members].sum(axis=1)).ravel())
        if sp.issparse(A):
            lu = spla.splu(sp.csc_array(A))
            B = lu.solve(Rc)
            t = lu.solve(np.ones(m))
            N = None
        else:
            N = np.linalg.inv(A)
            B = N @ Rc
            t = N.sum(axis=1)
        data = {"absorption_probability": (("transient", "target"), B),
                "expected_steps": ("transient", t, {"units": "steps"}),
                "target_states": ("target", np.array([c[0] for c in rec], dtype=np.int64))}
        if N is not None:
            data["fundamental"] = (("transient", "transient_to"), N)
        coords = {"transient": T, "transient_to": T, "target": np.arange(len(rec))}
        if N is None:
            del coords["transient_to"]
        return record.dataset(data, coords, family=_FAMILY, model="MarkovChain", params=self._params())

    def _can_reach(self, target_mask):
        """Mask of states with a path (length >= 0) into the target set."""
        rev = self._csr.T.tocsr()
        seen = target_mask.copy()
        frontier = np.flatnonzero(seen)
        while frontier.size:
            nxt = np.unique(rev[frontier].indices) if frontier.size else frontier
            nxt = nxt[~seen[nxt]]
            seen[nxt] = True
            frontier = nxt
        return seen

    def hitting_probabilities(self, target):
        """Probability (n,) of ever reaching the set ``target`` (a state, label or sequence)."""
        A = _state_set(target, self.n_states, self.labels, "target")
        mask = np.zeros(self.n_states, dtype=bool)
        mask[A] = True
        reach = self._can_reach(mask)
        h = np.zeros(self.n_states)
        h[mask] = 1.0
        C = np.flatnonzero(reach & ~mask)
        if C.size:
            P = self._csr
            sub = P[C]
            rhs = np.asarray(sub[:, A].sum(axis=1)).ravel()
            M = sp.eye_array(C.size) - sub[:, C]
            h[C] = np.clip(_solve(M, rhs), 0.0, 1.0)
        return h

    def hitting_times(self, target, *, tol=1e-10):
        """Mean number of steps (n,) to reach the set ``target`` from each state (0 on it).

        ``inf`` where the target is reached with probability below 1 (within ``tol``).
        """
        A = _state_set(target, self.n_states, self.labels, "target")
        prob = self.hitting_probabilities(A)
        mask = np.zeros(self.n_states, dtype=bool)
        mask[A] = True
        sure = (prob >= 1.0 - tol) & ~mask
        k = np.full(self.n_states, np.inf)
        k[mask] = 0.0
        D = np.flatnonzero(sure)
        if D.size:
            sub = self._csr[D]
            M = sp.eye_array(D.size) - sub[:, D]
            k[D] = _solve(M, np.ones(D.size))
        return k

    def mean_return_times(self):
        """Expected return time ``1 / pi_i`` (n,) of an irreducible chain."""
        if not self.is_irreducible:
            raise ValueError("mean_return_times needs an irreducible chain")
        return 1.0 / self.stationary()

    # ------------------------------------------------------------------ transient behaviour
    def _propagate(self, M):
        return M @ self._dense if self._dense is not None else (self._csr.T @ M.T).T

    def distribution(self, n_steps, initial):
        """Distributions ``p_t = p_0 P^t`` for ``t = 0 .. n_steps``.

        ``initial`` is a state, a label or a probability vector (n,). Returns a Dataset with
        ``probability`` (step, state).
        """
        n_steps = checks.integer(n_steps, "n_steps", low=0)
        M = _starting_distributions(initial, self.n_states, self.labels)
        if M.shape[0] != 1:
            raise ValueError("initial must be one state or one distribution")
        out = np.empty((n_steps + 1, self.n_states))
        out[0] = M[0]
        for t in range(n_steps):
            out[t + 1] = self._propagate(out[t:t + 1])[0]
        return record.dataset({"probability": (("step", "state"), out)},
                              {"step": np.arange(n_steps + 1), "state": np.arange(self.n_states)},
                              family=_FAMILY, model="MarkovChain", params=self._params())

    def tv_distance(self, n_steps, starts=None):
        """Total-variation distance to stationarity over time.

        ``starts``: states (or labels) or probability vectors (k, n) to start from; all states
        by default. Returns a Dataset with ``tv`` (start, step) ``||p_t - pi||_TV`` and ``worst``
        (step) the maximum over starts, ``d(t)``.
        """
        n_steps = checks.integer(n_steps, "n_steps", low=0)
        pi = self.stationary()
        M = _starting_distributions(starts, self.n_states, self.labels, "starts")
        tv = np.empty((M.shape[0], n_steps + 1))
        for t in range(n_steps + 1):
            if t:
                M = self._propagate(M)
            tv[:, t] = 0.5 * np.abs(M - pi).sum(axis=1)
        return record.dataset({"tv": (("start", "step"), tv), "worst": ("step", tv.max(axis=0))},
                              {"start": np.arange(tv.shape[0]), "step": np.arange(n_steps + 1)},
                              family=_FAMILY, model="MarkovChain", params=self._params())

    def mixing_time(self, eps=0.25, *, max_steps=100_000):
        """Smallest ``t`` with ``max_x ||P^t(x, .) - pi||_TV <= eps`` (all start states).

        Needs an irreducible aperiodic chain; ``RuntimeError`` when not reached in ``max_steps``.
        """
        eps = checks.scalar(eps, "eps", low=0, high=1, low_open=True, high_open=True)
        max_steps = checks.integer(max_steps, "max_steps", low=1)
        if not (self.is_irreducible and self.is_aperiodic):
            raise ValueError("mixing_time needs an irreducible aperiodic chain")
        pi = self.stationary()
        M = np.eye(self.n_states)
        for t in range(max_steps + 1):
            if t:
                M = self._propagate(M)
            if 0.5 * np.abs(M - pi).sum(axis=1).max() <= eps:
                return t
        raise RuntimeError(f"total variation did not fall to eps={eps:g} within max_steps={max_steps}")

    # ------------------------------------------------------------------ fitting
    @classmethod
    def fit(cls, sequences, n_states=None, *, smoothing=0.0, labels=None, seed=None):
        """Maximum-likelihood chain from observed sequences (transition counts + ``smoothing``).

        ``sequences``: one sequence (a list or 1-D array of states, or a string of characters)
        or a list of such sequences (transitions are not counted across them). Integer states are used
        as they are (``n_states`` defaults to the largest + 1); other tokens (e.g. strings)
        become states in sorted order, kept as ``labels``. ``smoothing`` (>= 0) is added to
        every count (Laplace/Lidstone). Rows without any observed transition become uniform.
        The fitted chain keeps the counts in ``counts`` (dense or sparse).
        """
        smoothing = checks.scalar(smoothing, "smoothing", low=0)
        if isinstance(sequences, str) or (isinstance(sequences, np.ndarray) and sequences.ndim == 1) or (
                len(sequences) and not isinstance(sequences[0], (list, tuple, np.ndarray))):
            sequences = [sequences]
        seqs = [np.asarray(list(s) if isinstance(s, str) else s) for s in sequences]
        if not seqs or all(s.size == 0 for s in seqs):
            raise ValueError("sequences must hold at least one non-empty sequence")
        for s in seqs:
            if s.ndim != 1:
                raise ValueError(f"each sequence must be 1-D; got shape {s.shape}")
        numeric = all(np.issubdtype(s.dtype, np.integer) for s in seqs if s.size)
        if numeric and labels is None:
            cat = np.concatenate([s.astype(np.int64) for s in seqs])
            if cat.min() < 0:
                raise ValueError(f"sequences must hold states >= 0; got {cat.min()}")
            top = int(cat.max()) + 1
            n = top if n_states is None else checks.integer(n_states, "n_states", low=1)
            if top > n:
                raise ValueError(f"sequences hold state {top - 1}, outside n_states={n}")
            codes = [s.astype(np.int64) for s in seqs]
        else:
            tokens = np.concatenate([s.astype(str) for s in seqs])
            uniq, inv = np.unique(tokens, return_inverse=True)
            if labels is not None:
                lab = np.asarray(list(labels)).astype(str)
                lookup = {v: i for i, v in enumerate(lab)}
                missing = [u for u in uniq if u not in lookup]
                if missing:
                    raise ValueError(f"sequences hold tokens not in labels: {missing[:5]}")
                inv = np.array([lookup[u] for u in uniq], dtype=np.int64)[inv]
                uniq = lab
            labels = uniq
            n = uniq.shape[0]
            cuts = np.cumsum([s.size for s in seqs])[:-1]
            codes = np.split(inv.astype(np.int64), cuts)
        src = np.concatenate([c[:-1] for c in codes])
        dst = np.concatenate([c[1:] for c in codes])
        counts = sp.csr_array((np.ones(src.size), (src, dst)), shape=(n, n))
        counts.sum_duplicates()
        dense = smoothing > 0 or n <= 1000
        if dense:
            C = counts.toarray() + smoothing
            rows = C.sum(axis=1)
            C[rows == 0] = 1.0
            P = C / C.sum(axis=1, keepdims=True)
        else:
            rows = np.asarray(counts.sum(axis=1)).ravel()
            empty = np.flatnonzero(rows == 0)
            fill = sp.csr_array((np.ones(empty.size * n) / n,
                                 (np.repeat(empty, n), np.tile(np.arange(n), empty.size))), shape=(n, n))
            safe = np.where(rows == 0, 1.0, rows)
            P = sp.csr_array(sp.diags_array(1.0 / safe) @ counts) + fill
        chain = cls(P, labels=labels, seed=seed)
        chain.counts = counts.toarray() if dense else counts
        return chain

    @classmethod
    def from_ngrams(cls, tokens, order=1, *, smoothing=0.0, seed=None):
        """Order-``order`` n-gram chain: states are the observed runs of ``order`` tokens and a
        step appends one token. ``tokens``: a string (characters) or a sequence of words.

        The chain's labels are the n-grams (joined without a separator for a string, with
        spaces for words); :func:`ngram_text` turns a simulated path back into text.
        """
        order = checks.integer(order, "order", low=1)
        is_text = isinstance(tokens, str)
        toks = np.asarray(list(tokens) if is_text else list(tokens)).astype(str)
        if toks.ndim != 1 or toks.size <= order:
            raise ValueError(f"tokens must hold more than order={order} tokens; got {toks.size}")
        vocab, ids = np.unique(toks, return_inverse=True)
        ids = np.concatenate([ids, ids[:order]])  # read as a loop: every n-gram has a successor
        win = np.lib.stride_tricks.sliding_window_view(ids, order)
        grams, gram_ids = np.unique(win, axis=0, return_inverse=True)
        sep = "" if is_text else " "
        labels = np.array([sep.join(vocab[g]) for g in grams])
        chain = cls.fit([gram_ids.ravel().astype(np.int64)], n_states=grams.shape[0],
                        smoothing=smoothing, seed=seed)
        chain.labels = labels
        chain.ngram = {"order": order, "sep": sep, "last": vocab[grams[:, -1]]}
        return chain

    # ------------------------------------------------------------------ persistence
    def save(self, path):
        """Write the chain (matrix, labels, seed) to netCDF; read it back with :meth:`load`."""
        c = self._csr
        data = {"indptr": ("row_ptr", c.indptr.astype(np.int64)),
                "indices": ("nonzero", c.indices.astype(np.int64)),
                "data": ("nonzero", c.data)}
        coords = {}
        if self.labels is not None:
            coords["state_label"] = ("state", self.labels.astype(str))
        ds = record.dataset(data, coords, family=_FAMILY, model="MarkovChain", params=self._params(),
                            seed=str(self.seed))
        return record.save(ds, path)

    @classmethod
    def load(cls, path):
        """Read a chain written by :meth:`save`."""
        ds = record.load(path)
        n = int(ds.attrs["n_states"])
        csr = sp.csr_array((ds["data"].values, ds["indices"].values, ds["indptr"].values), shape=(n, n))
        labels = ds["state_label"].values if "state_label" in ds else None
        seed = int(ds.attrs["seed"]) if str(ds.attrs["seed"]).isdigit() else None
        P = csr if int(ds.attrs["sparse"]) else csr.toarray()
        return cls(P, labels=labels, seed=seed)


def ngram_text(chain, path):
    """Text from a path of an n-gram chain built by :meth:`MarkovChain.from_ngrams`.

    ``path``: 1-D state numbers (e.g. ``ds.path[0].values``). The first n-gram is written
    whole, then one token per step.
    """
    if not hasattr(chain, "ngram"):
        raise ValueError("chain must come from MarkovChain.from_ngrams")
    path = checks.array(path, "path", ndim=1, dtype=np.int64)
    sep = chain.ngram["sep"]
    head = str(chain.labels[path[0]])
    tail = chain.ngram["last"][path[1:]]
    return head + (sep if sep and tail.size else "") + sep.join(tail)


class ContinuousMarkovChain:
    """Continuous-time Markov chain on ``n`` states with rate matrix ``Q`` (rates in 1/s).

    ``Q[i, j] >= 0`` (i != j) is the rate of jumping from ``i`` to ``j``; the diagonal is
    ``-sum_j Q[i, j]``. Given a diagonal that does not make rows sum to 0 (within ``tol`` times
    the largest rate) is an error; ``fill_diagonal=True`` sets it from the off-diagonal rates.
    """

    family = _FAMILY

    def __init__(self, Q, labels=None, *, seed=None, tol=1e-8, fill_diagonal=False):
        tol = checks.scalar(tol, "tol", low=0, low_open=True)
        dense, csr = _as_matrix(Q, "Q")
        if dense is None:
            dense = csr.toarray()  # CTMCs here are dense-sized; the jump chain stays sparse
        Q = dense.copy()
        n = Q.shape[0]
        off = Q.copy()
        np.fill_diagonal(off, 0.0)
        if off.min() < 0:
            i, j = np.unravel_index(np.argmin(off), off.shape)
            raise ValueError(f"Q must have non-negative off-diagonal rates; Q[{i}, {j}] = {off[i, j]:.6g}")
        if fill_diagonal:
            np.fill_diagonal(Q, -off.sum(axis=1))
        scale = max(np.abs(Q).max(), 1e-300)
        err = np.abs(Q.sum(axis=1))
        worst = int(np.argmax(err))
        if err[worst] > tol * scale:
            raise ValueError(f"Q rows must sum to 0 (diagonal = -exit rate) within tol={tol:g}; "
                             f"row {worst} sums to {Q[worst].sum():.6g} (or pass fill_diagonal=True)")
        np.fill_diagonal(Q, -off.sum(axis=1))
        self.Q = Q
        self.n_states = n
        self.labels = _labels(labels, n)
        self._seq = rng.sequence(seed)
        self.seed = int(seed) if isinstance(seed, (int, np.integer)) else str(self._seq.entropy)  # str: 128 bits
        self._jump = None

    @property
    def exit_rates(self):
        """Total rate (n,) of leaving each state, 1/s."""
        return -np.diag(self.Q).copy()

    def __repr__(self):
        return f"ContinuousMarkovChain(n_states={self.n_states})"

    def _params(self):
        return {"n_states": self.n_states}

    def jump_chain(self):
        """The embedded jump chain: ``P[i, j] = Q[i, j] / q_i``; states with no exit are absorbing."""
        q = self.exit_rates
        P = self.Q.copy()
        np.fill_diagonal(P, 0.0)
        stay = q <= 0
        P[~stay] /= q[~stay, None]
        P[stay, :] = 0.0
        P[stay, np.flatnonzero(stay)] = 1.0
        return MarkovChain(P, labels=self.labels, seed=self._seq)

    def _uniformised(self):
        lam = float(self.exit_rates.max())
        lam = lam if lam > 0 else 1.0
        return lam, np.eye(self.n_states) + self.Q / lam

    def stationary(self):
        """The stationary distribution (n,) (``pi Q = 0``) of a chain with one recurrent class."""
        _, P = self._uniformised()
        return MarkovChain(P).stationary()

    def transient(self, times, initial, *, tol=1e-12):
        """Transient probabilities ``p(t) = p(0) exp(Q t)`` by uniformisation.

        ``times``: non-negative times (s); ``initial``: a state, label or distribution (n,).
        The Poisson series is cut where its tail is below ``tol``. Returns a Dataset with
        ``probability`` (time, state).
        """
        t = checks.array(np.atleast_1d(times), "times", ndim=1)
        if t.min() < 0:
            raise ValueError(f"times must be >= 0; got {t.min()}")
        M = _starting_distributions(initial, self.n_states, self.labels)
        if M.shape[0] != 1:
            raise ValueError("initial must be one state or one distribution")
        lam, P = self._uniformised()
        mu = lam * t
        K = int(scipy.stats.poisson.isf(tol, mu.max())) + 2 if mu.max() > 0 else 1
        ks = np.arange(K + 1)
        w = scipy.stats.poisson.pmf(ks[None, :], mu[:, None])  # (n_times, K+1)
        out = np.zeros((t.size, self.n_states))
        v = M[0].copy()
        for k in range(K + 1):
            out += w[:, k, None] * v[None, :]
            v = v @ P
        out /= out.sum(axis=1, keepdims=True)
        return record.dataset({"probability": (("time", "state"), out)},
                              {"time": ("time", t, {"units": "s"}), "state": np.arange(self.n_states)},
                              family=_FAMILY, model="ContinuousMarkovChain", params=self._params())

    def simulate(self, duration, start=None, n_chains=1, *, dt=None, initial=None, seed=None):
        """Gillespie simulation of ``n_chains`` independent chains over ``[0, duration]`` s.

        ``start``/``initial`` as in :meth:`MarkovChain.simulate`. Returns a Dataset with
        ``path`` (chain, time) the state on a grid of step ``dt`` (default ``duration / 1000``),
        ``occupancy`` (chain, state) time spent in each state (s) and ``jumps`` (chain).
        """
        duration = checks.scalar(duration, "duration", low=0, low_open=True)
        n_chains = checks.integer(n_chains, "n_chains", low=1)
        dt = duration / 1000 if dt is None else checks.scalar(dt, "dt", low=0, low_open=True)
        if self._jump is None:
            jc = self.jump_chain()
            self._jump = jc._get_tables() if jc.is_sparse else MarkovChain(sp.csr_array(jc.P))._get_tables()
        _, indptr, indices, cdf, prob, alias = self._jump
        seq = self._seq if seed is None else rng.sequence(seed)
        states = rng.streams(seq, n_chains)
        x = _initial_states(self.n_states, self.labels, start, initial, n_chains, states)
        n_grid = int(math.floor(duration / dt + 1e-9)) + 1
        grid = np.empty((n_chains, n_grid), dtype=np.int64)
        occ = np.zeros((n_chains, self.n_states))
        jumps = np.zeros(n_chains, dtype=np.int64)
        _k.gillespie(indptr, indices, cdf, prob, alias, self.exit_rates, x, float(duration), float(dt),
                     states, grid, occ, jumps)
        coords = {"chain": np.arange(n_chains), "time": ("time", np.arange(n_grid) * dt, {"units": "s"}),
                  "state": np.arange(self.n_states)}
        data = {"path": (("chain", "time"), grid, {"long_name": "state number"}),
                "occupancy": (("chain", "state"), occ, {"units": "s"}),
                "jumps": ("chain", jumps)}
        return record.dataset(data, coords, family=_FAMILY, model="ContinuousMarkovChain",
                              params={**self._params(), "duration": duration, "dt": dt, "n_chains": n_chains},
                              seed=self.seed if seed is None else _seed_attr(seq), attrs={"duration_units": "s"})

    def save(self, path):
        """Write the rate matrix (and labels) to netCDF; read it back with :meth:`load`."""
        coords = {"state": np.arange(self.n_states), "to_state": np.arange(self.n_states)}
        if self.labels is not None:
            coords["state_label"] = ("state", self.labels.astype(str))
        ds = record.dataset({"Q": (("state", "to_state"), self.Q, {"units": "1/s"})}, coords,
                            family=_FAMILY, model="ContinuousMarkovChain", params=self._params(),
                            seed=str(self.seed))
        return record.save(ds, path)

    @classmethod
    def load(cls, path):
        """Read a chain written by :meth:`save`."""
        ds = record.load(path)
        labels = ds["state_label"].values if "state_label" in ds else None
        seed = int(ds.attrs["seed"]) if str(ds.attrs["seed"]).isdigit() else None
        return cls(ds["Q"].values, labels=labels, seed=seed)

