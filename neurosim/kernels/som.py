"""Compiled kernels for Kohonen self-organising maps (family KN).

Weights ``W`` are (n_units, dim) float64, units numbered row-major over the grid. Unit positions
on the plane are ``coords`` (n_units, 2) = (x, y); ``period`` (2,) holds the torus periods in x
and y (0 for no wrap-around). Neighbourhood codes: 0 Gaussian ``exp(-d^2 / 2 s^2)``, 1 bubble
``1 if d <= s``, 2 Mexican hat ``(1 - d^2 / s^2) exp(-d^2 / 2 s^2)``.
"""
import math

import numpy as np
from numba import njit, prange

GAUSSIAN, BUBBLE, MEXICAN_HAT = 0, 1, 2
_CUT = 27.6  # neighbourhood factors below 1e-6 (Gaussian d^2 > 27.6 s^2) are skipped


@njit(cache=True, inline="always")
def grid_d2(coords, period, a, b):
    """Squared distance on the plane (torus when ``period`` > 0) between units ``a`` and ``b``."""
    dx = abs(coords[a, 0] - coords[b, 0])
    dy = abs(coords[a, 1] - coords[b, 1])
    if period[0] > 0.0 and dx > 0.5 * period[0]:
        dx = period[0] - dx
    if period[1] > 0.0 and dy > 0.5 * period[1]:
        dy = period[1] - dy
    return dx * dx + dy * dy


@njit(cache=True, inline="always")
def neighbourhood(d2, sigma, kind):
    """Neighbourhood value at squared grid distance ``d2`` for radius ``sigma``."""
    s2 = sigma * sigma
    if kind == BUBBLE:
        return 1.0 if d2 <= s2 * (1.0 + 1e-12) else 0.0
    if d2 > _CUT * s2:
        return 0.0
    g = math.exp(-0.5 * d2 / s2)
    if kind == MEXICAN_HAT:
        return (1.0 - d2 / s2) * g
    return g


@njit(cache=True, fastmath=True, inline="always")
def _sqdist(W, j, x):
    d = 0.0
    for k in range(x.shape[0]):
        e = W[j, k] - x[k]
        d += e * e
    return d


@njit(cache=True, inline="always")
def _axis_d2(a, b, period):
    d = abs(a - b)
    if period > 0.0 and d > 0.5 * period:
        d = period - d
    return d * d


@njit(cache=True, fastmath=True)
def _general_neighbourhood(br, bc, rows, cols, hexagonal, period, s2, lr, kind, dy2, ey, dx2, ex, hs):
    """``hs[j] = lr * h(d(j, b))`` for every unit ``j``, ``b`` the unit at row ``br``, column
    ``bc``: any grid and neighbourhood, ``O(rows + cols)`` exponentials."""
    ry = math.sqrt(3.0) / 2.0 if hexagonal else 1.0
    bx = bc + (0.5 * (br % 2) if hexagonal else 0.0)
    for r in range(rows):
        dy2[r] = _axis_d2(r * ry, br * ry, period[1])
        ey[r] = math.exp(-0.5 * dy2[r] / s2)
    for p in range(2 if hexagonal else 1):
        for c in range(cols):
            dx2[p, c] = _axis_d2(c + 0.5 * p, bx, period[0])
            ex[p, c] = math.exp(-0.5 * dx2[p, c] / s2)
    for r in range(rows):
        p = r % 2 if hexagonal else 0
        for c in range(cols):
            d2 = dy2[r] + dx2[p, c]
            if kind == BUBBLE:
                h = 1.0 if d2 <= s2 * (1.0 + 1e-12) else 0.0
            elif d2 > _CUT * s2:
                h = 0.0
            elif kind == MEXICAN_HAT:
                h = (1.0 - d2 / s2) * ey[r] * ex[p, c]
            else:
                h = ey[r] * ex[p, c]
            hs[r * cols + c] = lr * h


@njit(cache=True, inline="always")
def _axis_int(a, b, period):
    """Whole-number distance between grid lines ``a`` and ``b`` (wrapped when ``period`` > 0)."""
    d = abs(a - b)
    if period > 0.0 and d > 0.5 * period:
        d = np.int64(period) - d
    return d


@njit(cache=True, fastmath=True)
def _rect_neighbourhood(br, bc, rows, cols, period, s2, lr, kind, gt, iy, ix, dxr, exr, hs):
    """:func:`_general_neighbourhood` for a rectangular grid with the Gaussian or Mexican hat:
    axis distances are whole numbers ``q``, so the factors ``exp(-q^2 / 2 s^2)`` come from one
    table ``gt`` shared by both axes (one exponential per distinct distance, the same values);
    ``dxr``, ``exr`` (cols,) hold the column parts, so the loop over units is plain arithmetic
    on rows (rows beyond the cut-off are zeroed whole)."""
    cut = _CUT * s2
    top = 0
    for r in range(rows):
        iy[r] = _axis_int(r, br, period[1])
        top = max(top, iy[r])
    for c in range(cols):
        ix[c] = _axis_int(c, bc, period[0])
        top = max(top, ix[c])
    for q in range(top + 1):
        gt[q] = math.exp(-0.5 * np.float64(q * q) / s2)
    for c in range(cols):  # the column factors, once per update
        dxr[c] = np.float64(ix[c] * ix[c])
        exr[c] = gt[ix[c]]
    for r in range(rows):
        qy = iy[r]
        dyr = np.float64(qy * qy)
        eyr = gt[qy]
        o = r * cols
        if dyr > cut:
            hs[o:o + cols] = 0.0
            continue
        if kind == MEXICAN_HAT:
            for c in range(cols):
                d2 = dyr + dxr[c]
                hs[o + c] = 0.0 if d2 > cut else lr * ((1.0 - d2 / s2) * eyr * exr[c])
        else:
            for c in range(cols):
                hs[o + c] = 0.0 if dyr + dxr[c] > cut else lr * (eyr * exr[c])


@njit(cache=True, fastmath=True)
def train_online(W, X, order, sigmas, rates, rows, cols, hexagonal, period, kind):
    """Online Kohonen updates, in place: for ``t`` in ``range(len(order))`` present sample
    ``X[order[t]]``, find its best-matching unit ``b`` and move every unit ``j`` by
    ``rates[t] * h(d(j, b), sigmas[t]) * (x - W[j])``.

    The grid is ``rows x cols`` (units row-major), hexagonal when ``hexagonal`` (odd rows
    shifted by 1/2, rows sqrt(3)/2 apart); ``period`` as for :func:`grid_d2`. Squared grid
    distances split into a row part and a column part, so the neighbourhood costs
    O(rows + cols) exponentials per update rather than one per unit (on a rectangular grid
    with the Gaussian or Mexican hat, one per distinct whole-number axis distance:
    :func:`_rect_neighbourhood`). The best-matching unit is the first unit (lowest number) at
    the smallest squared distance, the distances summed in the order the compiler vectorises.
    """
    n_units = W.shape[0]
    dim = W.shape[1]
    n_iter = order.shape[0]
    if n_iter == 0:
        return
    x = np.empty(dim)
    nx = np.empty(dim)
    dy2 = np.empty(rows)
    ey = np.empty(rows)
    dx2 = np.empty((2, cols))
    ex = np.empty((2, cols))
    gt = np.empty(max(rows, cols))
    iy = np.empty(rows, np.int64)
    ix = np.empty(cols, np.int64)
    dxr = np.empty(cols)
    exr = np.empty(cols)
    rect_table = (not hexagonal) and kind != BUBBLE
    hs = np.empty(n_units)
    # rows copied by loops: Numba compiles an array assigned to a slice with a shape-mismatch
    # error message (about 2 s on a cold cache)
    for k in range(dim):
        nx[k] = X[order[0], k]
    b = 0
    best = 1e300
    for j in range(n_units):
        d = _sqdist(W, j, nx)
        if d < best:
            best = d
            b = j
    for t in range(n_iter):
        for k in range(dim):
            x[k] = nx[k]
        if t + 1 < n_iter:  # (after the last sample nx stays x)
            for k in range(dim):
                nx[k] = X[order[t + 1], k]
        s = sigmas[t]
        s2 = s * s
        lr = rates[t]
        br = b // cols
        bc = b % cols
        if rect_table:
            _rect_neighbourhood(br, bc, rows, cols, period, s2, lr, kind, gt, iy, ix, dxr, exr, hs)
        else:
            _general_neighbourhood(br, bc, rows, cols, hexagonal, period, s2, lr, kind,
                                   dy2, ey, dx2, ex, hs)
        # one pass over the weights: update each unit for x and measure it against the next
        # sample, so the next best-matching unit is known when the pass ends
        best = 1e300
        nb = 0
        for j in range(n_units):
            f = hs[j]
            d = 0.0
            if f != 0.0:
                g = 1.0 - f
                for k in range(dim):
                    w = g * W[j, k] + f * x[k]
                    W[j, k] = w
                    e = w - nx[k]
                    d += e * e
            else:
                for k in range(dim):
                    e = W[j, k] - nx[k]
                    d += e * e
            if d < best:
                best = d
                nb = j
        b = nb


@njit(parallel=True, cache=True, fastmath=True)
def best_two(W, X, first, second, dist):
    """For each sample: best and second-best matching units and the distance to the best."""
    for i in prange(X.shape[0]):
        x = X[i]
        b1 = 0
        b2 = 0
        d1 = 1e300
        d2 = 1e300
        for j in range(W.shape[0]):
            d = _sqdist(W, j, x)
            if d < d1:
                d2 = d1
                b2 = b1
                d1 = d
                b1 = j
            elif d < d2:
                d2 = d
                b2 = j
        first[i] = b1
        second[i] = b2
        dist[i] = math.sqrt(d1)


@njit(cache=True)
def neighbourhood_matrix(coords, period, sigma, kind, H):
    """``H[a, b] = h(d(a, b), sigma)`` for all unit pairs (the batch algorithm's kernel)."""
    n = coords.shape[0]
    for a in range(n):
        for b in range(n):
            H[a, b] = neighbourhood(grid_d2(coords, period, a, b), sigma, kind)


@njit(cache=True)
def accumulate(X, bmu, sums, counts):
    """Per-unit sums of the samples (``sums`` (n_units, dim)) and counts mapped to each unit."""
    sums[:] = 0.0
    counts[:] = 0.0
    for i in range(X.shape[0]):
        b = bmu[i]
        counts[b] += 1.0
        for k in range(X.shape[1]):
            sums[b, k] += X[i, k]


@njit(cache=True)
def umatrix(W, coords, period, adjacent_d2, out):
    """Mean weight distance from each unit to its grid neighbours (``d^2 <= adjacent_d2``)."""
    n = W.shape[0]
    for a in range(n):
        total = 0.0
        m = 0
        for b in range(n):
            if b != a and grid_d2(coords, period, a, b) <= adjacent_d2:
                d = 0.0
                for k in range(W.shape[1]):
                    e = W[a, k] - W[b, k]
                    d += e * e
                total += math.sqrt(d)
                m += 1
        out[a] = total / m if m else 0.0
