"""Linear readouts ``y = W x + b`` for reservoirs and ELMs: ridge regression in closed form and
recursive least squares (online; the learning rule of FORCE).

Features ``x`` are rows of an array (N, n_features); targets (N, n_outputs). ``W`` is
(n_outputs, n_features) and ``b`` (n_outputs,).
"""
import numpy as np
import scipy.linalg
from scipy.linalg import blas as _blas

from .. import checks
from ..kernels import reservoir as _k


def _xy(X, Y):
    X = checks.array(X, "X", ndim=2)
    Y = checks.array(Y, "Y", ndim=(1, 2))
    if Y.ndim == 1:
        Y = Y[:, None]
    if Y.shape[0] != X.shape[0]:
        raise ValueError(f"X and Y must have the same number of rows (samples); got {X.shape[0]} and {Y.shape[0]}")
    return X, Y


class Ridge:
    """Ridge regression ``min ||Y - X W' - b||^2 + ridge ||W||^2`` (the bias is not penalised:
    features and targets are centred first, as in reservoirpy's ``Ridge``).

    Solved through the normal equations (X'X + ridge I) W' = X'Y: X'X by BLAS ``syrk`` (one
    call per batch, the upper triangle only), the system by Cholesky (least squares where the
    matrix is singular, e.g. ``ridge = 0`` with collinear features). Fit
    several batches with :meth:`partial_fit` (sums of X'X and X'Y accumulate) and finish with
    :meth:`solve`, or in one call with :meth:`fit`.
    """

    def __init__(self, ridge=0.0):
        self.ridge = checks.scalar(ridge, "ridge", low=0.0)
        self.W = None
        self.b = None
        self._reset()

    def _reset(self):
        self._xtx = self._xty = self._xs = self._ys = None
        self._count = 0

    def partial_fit(self, X, Y):
        """Add the samples X (N, n_features), Y (N, n_outputs) to the sums; returns self."""
        X, Y = _xy(X, Y)
        if self._xtx is not None and (X.shape[1] != self._xtx.shape[0] or Y.shape[1] != self._xty.shape[1]):
            raise ValueError(f"X must have {self._xtx.shape[0]} columns and Y {self._xty.shape[1]}, as in the "
                             f"earlier batches; got {X.shape[1]} and {Y.shape[1]}")
        return self._accumulate(X, Y)

    def _accumulate(self, X, Y):
        """partial_fit without the checks, for callers whose X (N, n) and Y (N, m) are float64 and
        already checked (the ESN's own states): X' X by syrk on the transposed view, no copy;
        X' [Y, 1] (the cross products and the column sums) by one GEMM."""
        X = np.ascontiguousarray(X, dtype=np.float64)
        Y = np.asarray(Y, dtype=np.float64)
        if Y.ndim == 1:
            Y = Y[:, None]
        n, m = X.shape[1], Y.shape[1]
        if self._xtx is None:
            self._xtx = np.zeros((n, n), order="F")
            self._xty = np.zeros((n, m))
            self._xs = np.zeros(n)
            self._ys = np.zeros(m)
        self._xtx = _blas.dsyrk(1.0, X.T, beta=1.0, c=self._xtx, trans=0, lower=0, overwrite_c=1)
        Y1 = np.empty((X.shape[0], m + 1))
        Y1[:, :m] = Y
        Y1[:, m] = 1.0
        xty1 = X.T @ Y1
        self._xty += xty1[:, :m]
        self._xs += xty1[:, m]
        self._ys += Y.sum(axis=0)
        self._count += X.shape[0]
        return self

    def solve(self):
        """Solve for ``W`` and ``b`` from the accumulated sums; returns self."""
        if self._count == 0:
            raise ValueError("Ridge.solve: no samples; call partial_fit or fit first")
        N = self._count
        xm = self._xs / N
        ym = self._ys / N
        A = self._xtx - N * np.outer(xm, xm)  # upper triangle valid (syrk)
        B = self._xty - N * np.outer(xm, ym)
        if not (np.all(np.isfinite(np.diag(A))) and np.all(np.isfinite(B))):
            raise ValueError("X must be finite; it holds NaN or inf (the features overflowed?)")
        A[np.diag_indices_from(A)] += self.ridge
        try:
            Wt = scipy.linalg.cho_solve(scipy.linalg.cho_factor(A, lower=False, overwrite_a=False,
                                                                check_finite=False), B, check_finite=False)
        except (np.linalg.LinAlgError, scipy.linalg.LinAlgError):
            Wt = None
        if Wt is None or not np.all(np.isfinite(Wt)):
            A = np.triu(A) + np.triu(A, 1).T
            Wt = np.linalg.lstsq(A, B, rcond=None)[0]
        self.W = np.ascontiguousarray(Wt.T)
        self.b = ym - xm @ Wt
        self._reset()
        return self

    def fit(self, X, Y):
        """Fit on X (N, n_features) and Y (N, n_outputs) (or (N,)); returns self."""
        self._reset()
        return self.partial_fit(X, Y).solve()

    def predict(self, X):
        """Outputs (N, n_outputs) for features X (N, n_features)."""
        if self.W is None:
            raise ValueError("the readout is not fitted yet; call fit first")
        X = checks.array(X, "X", shape=(None, self.W.shape[1]))
        return X @ self.W.T + self.b


class RLS:
    """Recursive least squares, online, one sample at a time (Haykin; FORCE's rule).

    Features are ``[x, 1]``; ``P`` starts at ``I / delta`` (so with ``forget = 1`` the result after
    all samples equals ridge regression with penalty ``delta`` on every weight, bias included).
    ``forget`` in (0, 1] discounts old samples. Call :meth:`partial_fit` as data arrive.
    """

    def __init__(self, delta=1.0, forget=1.0):
        self.delta = checks.scalar(delta, "delta", low=0.0, low_open=True)
        self.forget = checks.scalar(forget, "forget", low=0.0, high=1.0, low_open=True)
        self.W = None
        self.b = None
        self.P = None
        self.errors = None

    def partial_fit(self, X, Y):
        """Update the readout with the samples X (N, n_features), Y (N, n_outputs) in order.

        The a-priori errors (before each update) are kept in ``errors`` (N, n_outputs): a
        learning curve. Returns self.
        """
        X, Y = _xy(X, Y)
        if self.W is None:
            n, m = X.shape[1], Y.shape[1]
            self.W = np.zeros((m, n))
            self.b = np.zeros(m)
            self.P = np.eye(n + 1) / self.delta
        elif X.shape[1] != self.W.shape[1] or Y.shape[1] != self.W.shape[0]:
            raise ValueError(f"X must have {self.W.shape[1]} columns and Y {self.W.shape[0]}, as before; "
                             f"got {X.shape[1]} and {Y.shape[1]}")
        self.errors = _k.rls(X, Y, self.W, self.b, self.P, self.forget)
        return self

    fit = partial_fit

    def predict(self, X):
        """Outputs (N, n_outputs) for features X (N, n_features)."""
        if self.W is None:
            raise ValueError("the readout is not fitted yet; call fit first")
        X = checks.array(X, "X", shape=(None, self.W.shape[1]))
        return X @ self.W.T + self.b
