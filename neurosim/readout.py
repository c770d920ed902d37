"""Linear readouts ``y = W x + b``, shared by every family that trains one: ridge regression in
closed form (:class:`Ridge`) and recursive least squares (:class:`RLS`, online; the learning
rule of FORCE). The ESN and the ELM (:mod:`neurosim.reservoir`), the liquid state machine and
the RBF network read out through them.

Samples are rows: features ``X`` (N, n_features), targets ``Y`` (N, n_outputs) or (N,). The
fitted ``W`` is (n_outputs, n_features) and ``b`` (n_outputs,).

How :meth:`Ridge.fit` solves (one method for every family; it replaced three)
---------------------------------------------------------------------------------
The normal equations ``(Xc' Xc + ridge I) W' = Xc' Yc`` of the centred data (``Xc = X - mean``,
so the intercept is not penalised), Gram matrix by BLAS ``syrk`` in row blocks, solved by
Cholesky; then iterative refinement against the data: the residual ``Yc - Xc W'`` is
recomputed from ``X`` itself and the correction solved with the same factor, until the
corrections stop halving. Forming ``Xc' Xc`` squares the condition number, and a Cholesky
solution alone carries an error of about ``cond(A) eps`` (A = Xc' Xc + ridge I: 4e-9
relative on a 500-unit ESN's states, 6e-8 at 2000 units, 1e-5 to 1 on designs with
condition 1e6-1e8); refinement takes it to the accuracy of least squares on the augmented
system ``[Xc; sqrt(ridge) I] W' = [Yc; 0]`` (4e-13 there), the backward-stable reference, at
the cost of a few matrix-vector passes over ``X`` (the Gram matrix dominates). Where
refinement cannot converge or the solution is not unique (``cond(A) eps`` above 0.2 by
LAPACK's estimate, or corrections that stop halving while still above ``sqrt(eps)``) the
augmented system itself is solved: by Householder QR when ``ridge > 0``,
else by the SVD (``gelsd``: the least-norm solution of a rank-deficient design).
``method_`` says which path ran. :meth:`Ridge.partial_fit` / :meth:`Ridge.solve` stream
batches through the same Gram sums but cannot refine (the data are gone): Cholesky alone.
"""
import numpy as np
import scipy.linalg
from scipy.linalg import blas as _blas
from scipy.linalg import lapack as _lapack

from . import checks, config
from .kernels import readout as _k

_EPS = np.finfo(np.float64).eps


def _xy(X, Y, sample_weight=None, *, ndim=(2, 3)):
    """Checked float64 X (..., n), Y (..., m) and weights (...) or None."""
    X = checks.array(X, "X", ndim=ndim)
    Y = checks.array(Y, "Y", ndim=(X.ndim - 1, X.ndim))
    if Y.ndim == X.ndim - 1:
        Y = Y[..., None]
    if Y.shape[:-1] != X.shape[:-1]:
        raise ValueError(f"X and Y must have the same number of rows (samples); got X of shape "
                         f"{X.shape} and Y of shape {Y.shape}")
    w = None
    if sample_weight is not None:
        w = checks.array(sample_weight, "sample_weight", shape=X.shape[:-1])
        if w.min() < 0:
            raise ValueError(f"sample_weight must be >= 0; got a minimum of {w.min()}")
        if not w.sum() > 0:
            raise ValueError("sample_weight must not be all zero")
    return X, Y, w


def _parts(a, sequences=False):
    """The rows of ``a`` as a list of parts: ``a`` itself, or its sequences (first axis)."""
    return list(a) if sequences else [a]


class Ridge:
    """Ridge regression: ``min ||Y - X W' - b||^2 + ridge ||W||^2`` over rows, each row's
    squared error weighted by ``sample_weight`` if given; the intercept ``b`` is not
    penalised (features and targets are centred, as in reservoirpy's and scikit-learn's
    ``Ridge``). ``intercept=False`` fits ``b = 0``.

    :meth:`fit` solves in one call, most accurately (see the module doc: refined normal
    equations, or least squares on the augmented system where that cannot converge);
    :meth:`partial_fit` adds batches to the normal equations' sums and :meth:`solve` solves
    them by Cholesky (no refinement: the data are gone). Fitted: ``W`` (n_outputs,
    n_features), ``b`` (n_outputs,) and ``method_``: "refined", "qr", "svd" (from :meth:`fit`)
    or "normal", "normal-lstsq" (from :meth:`solve`).

    A family with its own orientation reads ``W.T`` (n_features, n_outputs) and ``b``.
    """

    def __init__(self, ridge=0.0, *, intercept=True):
        self.ridge = checks.scalar(ridge, "ridge", low=0.0)
        self.intercept = bool(intercept)
        self.W = None
        self.b = None
        self.method_ = None
        self._sums = None

    # --- one call ----------------------------------------------------------------------------
    def fit(self, X, Y, sample_weight=None):
        """Fit on X (N, n_features) and Y (N, n_outputs) or (N,); or on the rows of several
        sequences, X (B, T, n_features) and Y (B, T, n_outputs). ``sample_weight`` (N,) (or
        (B, T)) >= 0 weighs each row's squared error. Returns self."""
        X, Y, w = _xy(X, Y, sample_weight)
        seq = X.ndim == 3
        return self._fit_parts(_parts(X, seq), _parts(Y, seq), None if w is None else _parts(w, seq))

    def _fit_parts(self, xs, ys, ws=None):
        """:meth:`fit` on lists of 2-D parts (rows, n) and (rows, m) (and (rows,) weights), for
        callers whose arrays are float64 and already checked (the ESN's own states: no copy
        of them is made, the rows are read in blocks)."""
        self._sums = None
        n, m = xs[0].shape[1], ys[0].shape[1]
        xm, ym, shift = np.zeros(n), np.zeros(m), False
        if self.intercept:
            xm, ym, shift = _moments(xs, ys, ws)
        x0, y0 = (xm, ym) if shift else (np.zeros(n), np.zeros(m))
        sums = _Sums(n, m, x0, y0, shift, self.intercept)
        sums.add(xs, ys, ws)
        A, B, xm, ym = sums.system(self.ridge)
        W, factor = _cholesky(A, B)
        method = "refined"
        if factor is not None:
            W = _refine(W, factor, xs, ys, ws, (x0, y0, shift), xm, ym, self.ridge)
        if W is None:
            W, method = _augmented(xs, ys, ws, xm, ym, self.ridge, self.intercept)
        return self._set(W, xm, ym, method)

    # --- streamed batches --------------------------------------------------------------------
    def partial_fit(self, X, Y, sample_weight=None):
        """Add the rows X (N, n_features), Y (N, n_outputs) (and their weights) to the normal
        equations' sums; finish with :meth:`solve`. Returns self."""
        X, Y, w = _xy(X, Y, sample_weight)
        seq = X.ndim == 3
        xs, ys, ws = _parts(X, seq), _parts(Y, seq), None if w is None else _parts(w, seq)
        if self._sums is None:
            n, m = X.shape[-1], Y.shape[-1]
            x0, y0 = _moments(xs, ys, ws)[:2] if self.intercept else (np.zeros(n), np.zeros(m))
            # rows shifted by the first batch's mean: the centring stays exact to rounding
            self._sums = _Sums(n, m, x0, y0, self.intercept, self.intercept)
        elif X.shape[-1] != self._sums.n or Y.shape[-1] != self._sums.m:
            raise ValueError(f"X must have {self._sums.n} columns and Y {self._sums.m}, as in the "
                             f"earlier batches; got {X.shape[-1]} and {Y.shape[-1]}")
        self._sums.add(xs, ys, ws)
        return self

    def solve(self):
        """Solve the accumulated normal equations (Cholesky; least squares on them where the
        matrix is singular, e.g. ``ridge = 0`` with collinear features); returns self."""
        if self._sums is None:
            raise ValueError("Ridge.solve: no samples; call partial_fit or fit first")
        A, B, xm, ym = self._sums.system(self.ridge)
        W, factor = _cholesky(A, B, overwrite=False)
        method = "normal"
        if W is None:
            W, method = np.linalg.lstsq(_symmetric(A), B, rcond=None)[0], "normal-lstsq"
        self._sums = None
        return self._set(W, xm, ym, method)

    def _set(self, Wt, xm, ym, method):
        self.W = np.ascontiguousarray(Wt.T)
        self.b = ym - xm @ Wt if self.intercept else np.zeros(Wt.shape[1])
        self.method_ = method
        return self

    def predict(self, X):
        """Outputs (..., n_outputs) for features X (N, n_features) or (B, T, n_features)."""
        if self.W is None:
            raise ValueError("the readout is not fitted yet; call fit first")
        X = checks.array(X, "X", ndim=(2, 3))
        if X.shape[-1] != self.W.shape[1]:
            raise ValueError(f"X must have {self.W.shape[1]} features in its last axis; got shape {X.shape}")
        return X @ self.W.T + self.b


# --- the solve, step by step ------------------------------------------------------------------
def _moments(xs, ys, ws):
    """(Weighted) column means of x and y over the rows of all parts, and whether x's means
    are large against its spread (``|mean|^2 > 4 sum of variances``): then rows are centred
    by copies before their products are summed, else the centring is a rank-one correction
    of the sums, which then loses nothing worth a copy."""
    if ws is None:
        count = sum(x.shape[0] for x in xs)
        xm = sum(x.sum(axis=0) for x in xs) / count
        ym = sum(y.sum(axis=0) for y in ys) / count
        square = sum(float(np.vdot(x, x)) for x in xs) / count
    else:
        count = sum(float(w.sum()) for w in ws)
        xm = sum(w @ x for x, w in zip(xs, ws)) / count
        ym = sum(w @ y for y, w in zip(ys, ws)) / count
        square = sum(float(np.einsum("i,ij,ij->", w, x, x)) for x, w in zip(xs, ws)) / count
    mean2 = float(xm @ xm)
    return xm, ym, mean2 > 4.0 * (square - mean2)


def _blocks(xs, ys, ws, x0, y0, shift, weigh):
    """The rows of all parts in blocks of about ``config.READOUT_BLOCK_BYTES``: (Xb, Yb, w)
    with ``Xb = X - x0``, ``Yb = Y - y0`` when ``shift`` (else the rows themselves), times the
    square roots of the weights when ``weigh``; ``w`` the block's weights (None unweighted).
    Copies go to one buffer, valid until the next block; without them a block is a view."""
    n, m = xs[0].shape[1], ys[0].shape[1]
    rows = max(1, int(config.READOUT_BLOCK_BYTES) // (8 * n))
    weigh = weigh and ws is not None
    if shift or weigh:   # one buffer, reused (fresh pages for each block cost as much as the copy)
        rows = min(rows, max(x.shape[0] for x in xs))
        bx, by = np.empty((rows, n)), np.empty((rows, m))
    for k, X in enumerate(xs):
        Y = ys[k]
        for r0 in range(0, X.shape[0], rows):
            Xb, Yb = X[r0:r0 + rows], Y[r0:r0 + rows]
            w = None if ws is None else ws[k][r0:r0 + rows]
            if shift or weigh:
                r = Xb.shape[0]
                Xb = np.subtract(Xb, x0, out=bx[:r]) if shift else _copy(Xb, bx[:r])
                Yb = np.subtract(Yb, y0, out=by[:r]) if shift else _copy(Yb, by[:r])
                if weigh:
                    s = np.sqrt(w)[:, None]
                    Xb *= s
                    Yb *= s
            yield Xb, Yb, w


def _copy(a, out):
    np.copyto(out, a)
    return out


class _Sums:
    """Sums of the normal equations: ``sum w (x - x0)(x - x0)'`` (upper triangle, by syrk),
    ``sum w (x - x0)(y - y0)'``, ``sum w (x - x0)``, ``sum w (y - y0)`` and ``sum w``, with the
    shift (x0, y0) subtracted from copies of the rows when ``shift`` (else x0 = y0 = 0) and the
    centring applied at :meth:`system` when ``centre``."""

    def __init__(self, n, m, x0, y0, shift, centre):
        self.n, self.m, self.x0, self.y0, self.shift, self.centre = n, m, x0, y0, shift, centre
        self.xtx = np.zeros((n, n), order="F")
        self.xty = np.zeros((n, m))
        self.sx, self.sy, self.count = np.zeros(n), np.zeros(m), 0.0

    def add(self, xs, ys, ws):
        for Xb, Yb, w in _blocks(xs, ys, ws, self.x0, self.y0, self.shift, True):
            Xb = np.ascontiguousarray(Xb)
            self.xtx = _blas.dsyrk(1.0, Xb.T, beta=1.0, c=self.xtx, trans=0, lower=0, overwrite_c=1)
            s = None if w is None else np.sqrt(w)
            Y1 = np.empty((Xb.shape[0], self.m + 1))   # X' [Y, s]: cross products and sums, one GEMM
            Y1[:, :self.m] = Yb
            Y1[:, self.m] = 1.0 if s is None else s
            xty1 = Xb.T @ Y1
            self.xty += xty1[:, :self.m]
            self.sx += xty1[:, self.m]
            self.sy += Yb.sum(axis=0) if s is None else s @ Yb
            self.count += Xb.shape[0] if s is None else float(w.sum())

    def system(self, ridge):
        """(A, B, mean of x, mean of y): A (upper triangle valid) = centred Gram + ridge I.
        Made in place: the sums are spent."""
        if not (np.all(np.isfinite(np.diag(self.xtx))) and np.all(np.isfinite(self.xty))):
            raise ValueError("X must be finite; it holds NaN or inf (the features overflowed?)")
        A, B = self.xtx, self.xty
        self.xtx = self.xty = None
        xm, ym = np.zeros(self.n), np.zeros(self.m)
        if self.centre:
            dx, dy = self.sx / self.count, self.sy / self.count
            A = _blas.dsyr(-self.count, dx, a=A, lower=0, overwrite_a=1)
            B -= self.count * np.outer(dx, dy)
            xm, ym = self.x0 + dx, self.y0 + dy
        A[np.diag_indices_from(A)] += ridge
        return A, B, xm, ym


def _symmetric(A):
    """The symmetric matrix whose upper triangle ``A`` holds."""
    return np.triu(A) + np.triu(A, 1).T


def _cholesky(A, B, overwrite=True):
    """The Cholesky solution of A W = B and the factor, or (None, None) where A is not
    numerically positive definite: the factorisation fails, or LAPACK's estimate of the
    reciprocal condition number is below ``config.READOUT_MIN_RCOND`` (there refinement would
    creep, and a singular design has no unique solution to refine: the caller solves the
    augmented system, least-norm where ``ridge = 0``). A holds the upper triangle; its strict
    lower triangle is zero (as :class:`_Sums` makes it)."""
    absA = np.abs(A)
    anorm = float((absA.sum(axis=0) + absA.sum(axis=1) - np.diag(absA)).max())   # 1-norm
    del absA
    try:
        factor = scipy.linalg.cho_factor(A, lower=False, overwrite_a=overwrite, check_finite=False)
    except (np.linalg.LinAlgError, scipy.linalg.LinAlgError):
        return None, None
    rcond, info = _lapack.dpocon(factor[0], anorm, uplo="U")
    if info != 0 or not rcond >= config.READOUT_MIN_RCOND:
        return None, None
    W = scipy.linalg.cho_solve(factor, B, check_finite=False)
    if not np.all(np.isfinite(W)):
        return None, None
    return W, factor


def _refine(W, factor, xs, ys, ws, shifted, xm, ym, ridge):
    """Iterative refinement of W (n, m) against the data: ``W += A^-1 (Xc' w (Yc - Xc W) -
    ridge W)``, the residuals from the rows themselves (shifted as for the sums: views where
    the means are small, so a pass is two matrix-vector products over the rows), while the
    corrections halve, until one is below ``config.READOUT_REFINE_TOL`` (relative) or after
    ``config.READOUT_REFINE_STEPS`` passes. None where they do not converge (the caller then
    solves the augmented system)."""
    x0, y0, shift = shifted
    dx, dy = xm - x0, ym - y0
    previous = np.inf
    tol = max(float(config.READOUT_REFINE_TOL), 4 * _EPS)
    for _ in range(int(config.READOUT_REFINE_STEPS)):
        c = dy - dx @ W          # the rows' residual is (Yb - Xb W) - c
        G = np.zeros_like(W)
        total = np.zeros(W.shape[1])
        for Xb, Yb, w in _blocks(xs, ys, ws, x0, y0, shift, False):
            R = Yb - Xb @ W - c
            if w is not None:
                R *= w[:, None]
            G += Xb.T @ R
            total += R.sum(axis=0)
        G -= np.outer(dx, total) + ridge * W
        D = scipy.linalg.cho_solve(factor, G, check_finite=False)
        W = W + D
        d, size = np.linalg.norm(D), np.linalg.norm(W)
        if d <= tol * size:
            return W
        if d > 0.5 * previous:   # stalled: at the rounding floor, or not converging at all
            return W if d <= np.sqrt(_EPS) * size else None
        previous = d
    return W if previous <= np.sqrt(_EPS) * np.linalg.norm(W) else None


def _augmented(xs, ys, ws, xm, ym, ridge, centre):
    """Least squares on ``[Xc; sqrt(ridge) I] W = [Yc; 0]`` (rows weighted by the square roots
    of their weights): Householder QR of the matrix with the targets as extra columns when
    ``ridge > 0`` (full column rank), else the SVD (``gelsd``: the least-norm solution).
    Returns (W, method)."""
    n, m = xs[0].shape[1], ys[0].shape[1]
    N = sum(x.shape[0] for x in xs)
    M = np.zeros((N + n, n + m), order="F")
    r = 0
    for Xc, Yc, _w in _blocks(xs, ys, ws, xm, ym, centre, True):
        M[r:r + Xc.shape[0], :n] = Xc
        M[r:r + Xc.shape[0], n:] = Yc
        r += Xc.shape[0]
    if ridge == 0:
        return scipy.linalg.lstsq(M[:N, :n], M[:N, n:], lapack_driver="gelsd", check_finite=False)[0], "svd"
    M[np.arange(N, N + n), np.arange(n)] = np.sqrt(ridge)
    lwork = max(int(_lapack.dgeqrf_lwork(N + n, n + m)[0]), 1)
    qr, _tau, _work, info = _lapack.dgeqrf(M, lwork=lwork, overwrite_a=1)
    W = scipy.linalg.solve_triangular(qr[:n, :n], qr[:n, n:], check_finite=False) if info == 0 else None
    if W is None or not np.all(np.isfinite(W)):
        raise np.linalg.LinAlgError(f"Ridge: QR of the augmented system failed (LAPACK info {info}; "
                                    f"ridge = {ridge} too small against the features' scale?)")
    return W, "qr"


class RLS:
    """Recursive least squares, online, one sample at a time (Haykin; FORCE's rule).

    Features are ``[x, 1]``; ``P`` starts at ``I / delta`` (so with ``forget = 1`` the result after
    all samples equals ridge regression with penalty ``delta`` on every weight, bias included).
    ``forget`` in (0, 1] discounts old samples (a sample ``k`` steps old weighs ``forget**k``).
    Call :meth:`partial_fit` as data arrive.
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
        X, Y, _ = _xy(X, Y, ndim=2)
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
