"""Compiled kernels for the first feed-forward families: the perceptron (P) and radial basis
function networks (RBF).

Samples are rows of ``X`` (n, d) float64. Random choices (sample order, k-means++ seeding) draw
from one xoroshiro128+ stream, row 0 of ``state`` (see :mod:`neurosim.kernels.rng`), so a seed
gives the same result on every run. Arithmetic runs in plain sequential order (no fastmath), so
a plain Python loop doing the same sums reproduces the results bit for bit.
"""
import numpy as np
from numba import njit

from .rng import shuffle, uniform


@njit(cache=True, inline="always")
def _sqdist(X, i, C, j):
    """Squared Euclidean distance between row ``i`` of ``X`` and row ``j`` of ``C``."""
    s = 0.0
    for k in range(X.shape[1]):
        e = X[i, k] - C[j, k]
        s += e * e
    return s


@njit(cache=True)
def rosenblatt(X, y, w, lr, epochs, mix, state, errors):
    """Rosenblatt's error-correction rule, online, until an epoch passes without errors.

    For each sample ``i`` in turn: ``yhat = 1 if w[:d] . x_i + w[d] > 0 else 0`` and
    ``w += lr (y_i - yhat) (x_i, 1)``. With ``mix`` the visiting order is reshuffled (in place,
    Fisher-Yates from ``state``) at the start of every epoch; otherwise it is 0 .. n-1.

    Parameters
    ----------
    X : (n, d) float64
    y : (n,) int64, labels 0 or 1
    w : (d + 1,) float64, weights then bias; updated in place
    lr : float
    epochs : int, the most epochs to run
    mix : bool
    state : (1, 2) uint64, the random stream; advanced in place
    errors : (epochs,) int64, out: mistakes (= updates) per epoch

    Returns
    -------
    int
        Epochs run (the last one without errors when fewer than ``epochs``).
    """
    n, d = X.shape
    order = np.arange(n)
    for e in range(epochs):
        if mix:
            shuffle(state, 0, order)
        count = 0
        for t in range(n):
            i = order[t]
            s = w[d]
            for k in range(d):
                s += w[k] * X[i, k]
            yhat = 1 if s > 0.0 else 0
            if yhat != y[i]:
                delta = lr * (y[i] - yhat)
                for k in range(d):
                    w[k] += delta * X[i, k]
                w[d] += delta
                count += 1
        errors[e] = count
        if count == 0:
            return e + 1
    return epochs


@njit(cache=True)
def kmeans_plusplus(X, state, C):
    """k-means++ seeding (Arthur and Vassilvitskii 2007) into ``C`` (k, d).

    The first centre is a uniformly drawn row of ``X``; each next one is row ``i`` with
    probability ``D(i)^2 / sum D^2``, ``D(i)`` the distance to the nearest centre chosen so far
    (uniform again when every row sits on a centre). ``state`` (1, 2) uint64 is advanced.
    """
    n = X.shape[0]
    d2 = np.full(n, np.inf)
    pick = min(int(uniform(state, 0) * n), n - 1)
    for j in range(C.shape[0]):
        if j > 0:
            total = 0.0
            for i in range(n):
                total += d2[i]
            u = uniform(state, 0)
            if total > 0.0:
                target = u * total
                acc = 0.0
                for i in range(n):
                    if d2[i] > 0.0:  # rows on a centre are never drawn again
                        pick = i
                        acc += d2[i]
                        if acc > target:
                            break
            else:
                pick = min(int(u * n), n - 1)
        C[j, :] = X[pick, :]
        for i in range(n):
            d2[i] = min(d2[i], _sqdist(X, i, C, j))


@njit(cache=True)
def _assign(X, C, labels):
    """Nearest centre of every row (first one on ties) into ``labels``; returns the inertia."""
    inertia = 0.0
    for i in range(X.shape[0]):
        best, arg = np.inf, 0
        for j in range(C.shape[0]):
            dist = _sqdist(X, i, C, j)
            if dist < best:
                best, arg = dist, j
        labels[i] = arg
        inertia += best
    return inertia


@njit(cache=True)
def lloyd(X, C, labels, inertia, tol):
    """Lloyd's k-means iterations from the centres ``C`` (k, d), updated in place.

    Alternates assignment (each row to its nearest centre) and update (each centre to the mean of
    its rows; a centre left without rows stays where it is) until the summed squared movement of
    the centres is at most ``tol``, or ``inertia.shape[0] - 1`` updates have run. A last
    assignment follows, so ``labels`` (n,) int64 always belong to the returned centres.

    ``inertia`` (iterations + 1,) float64 receives the sum of squared distances after each
    assignment (non-increasing). Returns the number of assignments made (entries filled).
    """
    k, d = C.shape
    sums = np.zeros((k, d))
    counts = np.zeros(k, np.int64)
    done = 0
    while True:
        inertia[done] = _assign(X, C, labels)
        done += 1
        if done == inertia.shape[0]:
            return done
        sums[:] = 0.0
        counts[:] = 0
        for i in range(X.shape[0]):
            counts[labels[i]] += 1
            for c in range(d):
                sums[labels[i], c] += X[i, c]
        shift = 0.0
        for j in range(k):
            if counts[j] == 0:
                continue
            for c in range(d):
                new = sums[j, c] / counts[j]
                shift += (new - C[j, c]) ** 2
                C[j, c] = new
        if shift <= tol:
            inertia[done] = _assign(X, C, labels)
            return done + 1


@njit(cache=True)
def pairwise_sqdist(X, C, out):
    """Squared Euclidean distances ``out[i, j] = ||X[i] - C[j]||^2``: (n, d), (k, d) -> (n, k)."""
    for i in range(X.shape[0]):
        for j in range(C.shape[0]):
            out[i, j] = _sqdist(X, i, C, j)
