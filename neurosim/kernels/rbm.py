"""Restricted Boltzmann machine kernels: training epochs, Gibbs chains, AIS and enumeration.

Shapes: weights ``W`` float64 (n_visible, n_hidden), visible bias ``b`` (n_visible,), hidden
bias ``c`` (n_hidden,). Bernoulli visible units (``gaussian`` False):
``E(v, h) = -b.v - c.h - v.W.h``; Gaussian visible units with standard deviation ``sigma``:
``E(v, h) = |v - b|^2 / (2 sigma^2) - c.h - (v / sigma).W.h``. Hidden units are Bernoulli.
Random draws come from explicit xoroshiro128+ streams: row ``r`` of ``states`` serves batch row
(or chain) ``r``, so results do not depend on the number of threads.
"""
import math

import numpy as np
from numba import njit, prange

from .rng import _step, _unit, normal, uniform
from .scalar import logistic, logistic_rows, softplus, softplus_rows


@njit(cache=True)
def _bernoulli(p, out, states):
    """``out[r, j] = 1`` with probability ``p[r, j]`` (stream ``r`` for row ``r``: the draws of
    :func:`~neurosim.kernels.rng.uniform`, with the row's state held in registers)."""
    for r in range(p.shape[0]):
        s0 = states[r, 0]
        s1 = states[r, 1]
        for j in range(p.shape[1]):
            draw, s0, s1 = _step(s0, s1)
            out[r, j] = 1.0 if _unit(draw) < p[r, j] else 0.0
        states[r, 0] = s0
        states[r, 1] = s1


@njit(cache=True)
def _hidden_probs(v, W, c, inv_sigma, out, scratch):
    """``out = logistic(v W / sigma + c)`` (rows of ``v``); ``scratch`` (n_hidden,)."""
    np.dot(v, W, out)
    for r in range(out.shape[0]):
        row = out[r]
        for j in range(row.shape[0]):
            row[j] = row[j] * inv_sigma + c[j]
        logistic_rows(row, scratch)


@njit(cache=True, inline="always")
def _up(v, W, scale, c, x):
    """``x = c + scale v W`` for one visible vector, over contiguous rows of ``W`` and
    skipping the units that are 0 (the sum in the plain loop's order)."""
    for j in range(x.shape[0]):
        x[j] = c[j]
    for i in range(v.shape[0]):
        vi = v[i] * scale
        if vi != 0.0:
            w = W[i]
            for j in range(x.shape[0]):
                x[j] += vi * w[j]


@njit(cache=True, inline="always")
def _down(h, WT, down):
    """``down = W h`` for one binary hidden vector, over contiguous rows of ``WT = W.T``."""
    for i in range(down.shape[0]):
        down[i] = 0.0
    for j in range(h.shape[0]):
        if h[j] != 0.0:
            w = WT[j]
            for i in range(down.shape[0]):
                down[i] += w[i]


@njit(cache=True)
def fit_epoch(W, b, c, dW, db, dc, data, order, batch, k, persistent, chain_h, lr, momentum,
              decay, sparsity_target, sparsity_cost, gaussian, sigma, states):
    """One epoch of contrastive divergence (CD-k) or persistent CD over ``data[order]``.

    ``data`` float64 (m, n_visible); ``order`` int64 (m,) the visiting order; mini-batches of
    ``batch`` rows (the last may be smaller). ``persistent``: the negative phase starts from
    ``chain_h`` (batch, n_hidden) hidden samples and leaves its last samples there; otherwise
    from hidden samples of the data. Updates ``W, b, c`` and their velocities ``dW, db, dc``
    in place: ``d = momentum d + lr (grad - decay W)``, ``grad`` the batch-mean difference of
    data and model statistics (hidden probabilities, not samples), plus
    ``sparsity_cost (target - mean hidden probability)`` on ``c`` when ``sparsity_cost > 0``.
    ``states`` holds at least ``batch`` streams.
    """
    m = order.shape[0]
    nv, nh = W.shape
    inv_s = 1.0 / sigma if gaussian else 1.0
    hs = np.empty((batch, nh))
    # both phases in one product: gW = [vpos; vneg]^T [hpos; -hneg], the phases written in
    # place into the halves of vv and hh (hneg negated once it has been sampled)
    vv = np.empty((2 * batch, nv))
    hh = np.empty((2 * batch, nh))
    gW = np.empty((nv, nh))
    mean_buf = np.empty((batch, nv))
    scratch = np.empty(max(nv, nh))
    for start in range(0, m, batch):
        B = min(batch, m - start)
        vp = vv[:B]
        hp = hh[:B]
        h_s = hs[:B]
        vn = vv[B:2 * B]
        hn = hh[B:2 * B]
        for r in range(B):
            for i in range(nv):
                vp[r, i] = data[order[start + r], i]
        _hidden_probs(vp, W, c, inv_s, hp, scratch)
        if persistent:
            for r in range(B):
                for j in range(nh):
                    h_s[r, j] = chain_h[r, j]
        else:
            _bernoulli(hp, h_s, states)
        for step in range(k):
            mean = mean_buf[:B]
            np.dot(h_s, W.T, mean)
            for r in range(B):
                row = mean[r]
                if gaussian:
                    for i in range(nv):
                        vn[r, i] = b[i] + sigma * row[i] + sigma * normal(states, r)
                else:
                    for i in range(nv):
                        row[i] += b[i]
                    logistic_rows(row, scratch)
                    for i in range(nv):
                        vn[r, i] = 1.0 if uniform(states, r) < row[i] else 0.0
            _hidden_probs(vn, W, c, inv_s, hn, scratch)
            if step < k - 1:
                _bernoulli(hn, h_s, states)
        if persistent:
            _bernoulli(hn, h_s, states)
            for r in range(B):
                for j in range(nh):
                    chain_h[r, j] = h_s[r, j]
        for r in range(B):
            for j in range(nh):
                hn[r, j] = -hn[r, j]  # (hn holds -hneg from here on)
        np.dot(vv[:2 * B].T, hh[:2 * B], gW)
        scale = inv_s / B
        if momentum == 0.0:  # the same values, the velocity not kept (nothing reads it)
            for i in range(nv):
                for j in range(nh):
                    W[i, j] += lr * (gW[i, j] * scale - decay * W[i, j])
        else:
            for i in range(nv):
                for j in range(nh):
                    dW[i, j] = momentum * dW[i, j] + lr * (gW[i, j] * scale - decay * W[i, j])
                    W[i, j] += dW[i, j]
        for i in range(nv):
            g = 0.0
            for r in range(B):
                g += vp[r, i] - vn[r, i]
            db[i] = momentum * db[i] + lr * g * inv_s * inv_s / B
            b[i] += db[i]
        for j in range(nh):
            g = 0.0
            q = 0.0
            for r in range(B):
                g += hp[r, j] + hn[r, j]  # hp - hneg, exactly
                q += hp[r, j]
            g /= B
            if sparsity_cost > 0.0:
                g += sparsity_cost * (sparsity_target - q / B)
            dc[j] = momentum * dc[j] + lr * g
            c[j] += dc[j]


@njit(parallel=True, cache=True)
def gibbs(W, b, c, v, betas, gaussian, sigma, every, out_v, out_mean, states):
    """Block Gibbs chains ``v -> h -> v``, one per row of ``v`` (chains, n_visible), in place.

    Step ``t`` samples at inverse temperature ``betas[t]`` (all ones: the model itself; rising
    to one: annealed sampling). After every ``every``-th step the visible sample goes to
    ``out_v[:, t // every - ...]`` (chains, steps // every, n_visible) and the visible mean
    given the hidden sample to ``out_mean`` (same shape). Both products run over contiguous
    rows of ``W`` and ``W.T``, skipping the units that are 0 (sums in the same order as the
    plain loops), and the hidden probabilities in SIMD lanes.
    """
    chains, nv = v.shape
    nh = W.shape[1]
    inv_s = 1.0 / sigma if gaussian else 1.0
    WT = np.ascontiguousarray(W.T)
    for r in prange(chains):
        h = np.empty(nh)
        x = np.empty(nh)
        down = np.empty(nv)  # top-down input sum_j W_ij h_j
        scratch = np.empty(nh)
        for t in range(betas.shape[0]):
            beta = betas[t]
            _up(v[r], W, inv_s, c, x)
            for j in range(nh):
                x[j] *= beta
            logistic_rows(x, scratch)
            for j in range(nh):
                h[j] = 1.0 if uniform(states, r) < x[j] else 0.0
            rec = (t + 1) % every == 0
            slot = (t + 1) // every - 1
            _down(h, WT, down)
            for i in range(nv):
                if gaussian:
                    mean = b[i] + sigma * down[i]
                    v[r, i] = mean + sigma / math.sqrt(beta) * normal(states, r)
                else:
                    mean = logistic(beta * (b[i] + down[i]))
                    v[r, i] = 1.0 if uniform(states, r) < mean else 0.0
                if rec:
                    out_mean[r, slot, i] = mean
                    out_v[r, slot, i] = v[r, i]


@njit(parallel=True, cache=True)
def ais_bernoulli(W, b, c, base_b, betas, chains, states):
    """Annealed importance sampling weights for a Bernoulli-Bernoulli RBM.

    Path ``f_k(v) = (1 - beta_k) base_b.v + beta_k b.v + sum_j softplus(beta_k (c + v W)_j)``
    from the base model (``W = 0``, visible bias ``base_b``) at ``betas[0] = 0`` to the RBM at
    ``betas[-1] = 1``, with one Gibbs transition per intermediate beta. Returns the log
    importance weights float64 (chains,); ``log Z ~ log Z_base + logmeanexp(weights)``.
    The products run over contiguous rows of ``W`` and ``W.T`` as in :func:`gibbs`.
    """
    nv, nh = W.shape
    WT = np.ascontiguousarray(W.T)
    logw = np.zeros(chains)
    for r in prange(chains):
        v = np.empty(nv)
        h = np.empty(nh)
        x = np.empty(nh)
        down = np.empty(nv)
        now = np.empty(nh)      # beta_k x, then the hidden probabilities
        before = np.empty(nh)   # beta_{k-1} x
        f_now = np.empty(nh)
        f_before = np.empty(nh)
        scratch = np.empty(max(nh, nv))
        for i in range(nv):
            v[i] = 1.0 if uniform(states, r) < logistic(base_b[i]) else 0.0
        _up(v, W, 1.0, c, x)
        w = 0.0
        for k in range(1, betas.shape[0]):
            b0 = betas[k - 1]
            b1 = betas[k]
            # w += f_k(v) - f_{k-1}(v)
            for i in range(nv):
                if v[i] != 0.0:
                    w += (b1 - b0) * (b[i] - base_b[i])
            for j in range(nh):
                now[j] = b1 * x[j]
                before[j] = b0 * x[j]
            softplus_rows(now, f_now, scratch)
            softplus_rows(before, f_before, scratch)
            for j in range(nh):
                w += f_now[j] - f_before[j]
            # Gibbs transition leaving p_k invariant
            logistic_rows(now, scratch)
            for j in range(nh):
                h[j] = 1.0 if uniform(states, r) < now[j] else 0.0
            _down(h, WT, down)
            for i in range(nv):
                down[i] = (1.0 - b1) * base_b[i] + b1 * (b[i] + down[i])
            logistic_rows(down, scratch)
            for i in range(nv):
                v[i] = 1.0 if uniform(states, r) < down[i] else 0.0
            _up(v, W, 1.0, c, x)
        logw[r] = w
    return logw


@njit(parallel=True, cache=True)
def enumerate_log_sum(M, a, d, mode, sigma, blocks):
    """``log sum_x exp(g(x))`` over all binary ``x`` of the small layer (size ``m <= ~24``).

    ``M`` float64 (m, p) weights from the small layer to the other layer, ``a`` (m,) the small
    layer's bias, ``d`` (p,) the other layer's bias. ``mode`` 0 (other layer Bernoulli, summed
    out): ``g(x) = a.x + sum_j softplus(d_j + (x M)_j)``. ``mode`` 1 (other layer Gaussian with
    standard deviation ``sigma``, integrated out, up to ``p/2 log(2 pi sigma^2)``):
    ``g(x) = a.x + sum_i (d_i y_i / sigma + y_i^2 / 2)``, ``y = x M``. States are walked in
    Gray-code order in ``blocks`` parallel blocks, each updating ``y`` by one row per step.
    """
    m, p = M.shape
    total = np.int64(1) << np.int64(m)
    nb = min(blocks, total)
    maxes = np.full(nb, -np.inf)
    sums = np.zeros(nb)
    for blk in prange(nb):
        i0 = total * blk // nb
        i1 = total * (blk + 1) // nb
        g0 = i0 ^ (i0 >> 1)
        x = np.zeros(m)
        y = np.zeros(p)
        lin = 0.0
        for u in range(m):
            if (g0 >> u) & 1:
                x[u] = 1.0
                lin += a[u]
                for j in range(p):
                    y[j] += M[u, j]
        vals = np.empty(i1 - i0)
        for i in range(i0, i1):
            if i > i0:
                u = 0
                while not ((i >> u) & 1):
                    u += 1
                s = 1.0 - 2.0 * x[u]
                x[u] += s
                lin += s * a[u]
                for j in range(p):
                    y[j] += s * M[u, j]
            g = lin
            if mode == 0:
                for j in range(p):
                    g += softplus(d[j] + y[j])
            else:
                for j in range(p):
                    g += d[j] * y[j] / sigma + 0.5 * y[j] * y[j]
            vals[i - i0] = g
        mx = vals.max()
        maxes[blk] = mx
        sums[blk] = np.sum(np.exp(vals - mx))
    top = maxes.max()
    return top + math.log(np.sum(sums * np.exp(maxes - top)))


@njit(parallel=True, cache=True)
def pseudo_likelihood(W, b, c, v):
    """Exact pseudo-log-likelihood ``sum_i log p(v_i | v_-i)`` per row of ``v`` (Bernoulli).

    Flipping unit ``i`` maps ``v_i`` to ``1 - v_i`` (so fractional values are handled as
    scikit-learn does). float64 (m,).
    """
    m, nv = v.shape
    nh = W.shape[1]
    out = np.empty(m)
    for r in prange(m):
        x = np.empty(nh)
        lin = 0.0
        for i in range(nv):
            lin += b[i] * v[r, i]
        base = lin
        for j in range(nh):
            acc = c[j]
            for i in range(nv):
                acc += v[r, i] * W[i, j]
            x[j] = acc
            base += softplus(acc)
        total = 0.0
        for i in range(nv):
            dv = 1.0 - 2.0 * v[r, i]
            other = lin + dv * b[i]
            for j in range(nh):
                other += softplus(x[j] + dv * W[i, j])
            # log sigmoid(F(v') - F(v)) with F = -(free-energy terms)
            total -= softplus(other - base)
        out[r] = total
    return out
