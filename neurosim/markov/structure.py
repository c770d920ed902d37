"""What a Markov chain's transition graph says about it: communication classes, which are
recurrent, their periods, stationary distributions, absorption and hitting.

:class:`Structure` is a mixin of :class:`neurosim.markov.MarkovChain`: it reads the chain's
``_csr`` (row-stochastic CSR), ``_dense`` (or None), ``n_states``, ``labels`` and
``_params()``, and caches the graph analysis in ``_structure``. The graph work itself
(strongly connected components, closed classes, periods, reachability) is
:mod:`neurosim.graph`.
"""
import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .. import checks, config, graph, record
from ..kernels import markov as _k
from ._inputs import FAMILY, solve, state_set


class Structure:
    """Classes, periods, stationary distributions, absorption and hitting of a chain."""

    _structure = None

    # ------------------------------------------------------------------ structure
    def _get_structure(self):
        """Classes, which are closed, and their periods, from the transition graph (cached)."""
        if self._structure is None:
            comp = graph.strong_components(self._csr)
            self._structure = {"comp": comp, "closed": graph.closed_components(self._csr, comp),
                               "classes": graph.members(comp), "periods": graph.periods(self._csr, comp)}
        return self._structure

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
            coords, family=FAMILY, model="MarkovChain", params=self._params())

    # ------------------------------------------------------------------ stationary
    def _class_stationary(self, members, method, tol, max_iter):
        m = members.shape[0]
        if m == 1:
            return np.ones(1)
        whole = m == self.n_states
        sub = self._csr if whole else self._csr[members][:, members]
        if method == "solve" or (method == "auto" and m <= config.MARKOV_DENSE_SOLVE_MAX):
            if m > config.MARKOV_DENSE_SOLVE_MAX:
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

        ``method``: ``"solve"`` (exact linear solve, dense up to ``config.MARKOV_DENSE_SOLVE_MAX``
        (3000) states, then sparse LU),
        ``"power"`` (power iteration on the lazy chain to an L1 change below ``tol``), or
        ``"auto"`` (solve for classes up to that many states, power iteration beyond).
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
        R = P[T].toarray() if m <= config.MARKOV_DENSE_SOLVE_MAX else None
        A = np.eye(m) - Q.toarray() if m <= config.MARKOV_DENSE_SOLVE_MAX else sp.eye_array(m) - Q
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
                "expected_steps": ("transient", t, {"long_name": "expected steps before absorption", "units": "1"}),
                "target_states": ("target", np.array([c[0] for c in rec], dtype=np.int64))}
        if N is not None:
            data["fundamental"] = (("transient", "transient_to"), N)
        coords = {"transient": T, "transient_to": T, "target": np.arange(len(rec))}
        if N is None:
            del coords["transient_to"]
        return record.dataset(data, coords, family=FAMILY, model="MarkovChain", params=self._params())

    def hitting_probabilities(self, target):
        """Probability (n,) of ever reaching the set ``target`` (a state, label or sequence)."""
        A = state_set(target, self.n_states, self.labels, "target")
        mask = np.zeros(self.n_states, dtype=bool)
        mask[A] = True
        reach = graph.reaching(self._csr, mask)
        h = np.zeros(self.n_states)
        h[mask] = 1.0
        C = np.flatnonzero(reach & ~mask)
        if C.size:
            P = self._csr
            sub = P[C]
            rhs = np.asarray(sub[:, A].sum(axis=1)).ravel()
            M = sp.eye_array(C.size) - sub[:, C]
            h[C] = np.clip(solve(M, rhs), 0.0, 1.0)
        return h

    def hitting_times(self, target, *, tol=1e-10):
        """Mean number of steps (n,) to reach the set ``target`` from each state (0 on it).

        ``inf`` where the target is reached with probability below 1 (within ``tol``).
        """
        A = state_set(target, self.n_states, self.labels, "target")
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
            k[D] = solve(M, np.ones(D.size))
        return k

    def mean_return_times(self):
        """Expected return time ``1 / pi_i`` (n,) of an irreducible chain."""
        if not self.is_irreducible:
            raise ValueError("mean_return_times needs an irreducible chain")
        return 1.0 / self.stationary()
