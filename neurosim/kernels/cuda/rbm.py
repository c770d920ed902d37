"""CUDA twins of :func:`neurosim.kernels.rbm.gibbs` and :func:`neurosim.kernels.rbm.fit_epoch`.

``gibbs`` and ``fit_epoch`` take the CPU kernels' arguments in the same order, as device arrays
(scalars as they are), and launch the compiled kernels below step by step (a Gibbs step or a
mini-batch is several launches; the weights and chains stay on the device between them).

Parallel decomposition of a Gibbs half-step: the products ``v W`` (visible -> hidden) and
``h W^T`` (hidden -> visible) for all chains at once, tiled like a matrix product: a block of
``TILE_COLS x TILE_THREADS_Y`` threads owns ``TILE_ROWS`` chains x ``TILE_COLS`` units, each
thread ``TILE_ROWS / TILE_THREADS_Y`` chains of one unit. A ``TILE_K x TILE_COLS`` tile of the
weights and a ``TILE_ROWS x TILE_K`` tile of the states go to shared memory (coalesced loads),
so each weight read from global memory serves ``TILE_ROWS`` chains: a block per chain would
re-read all of ``W`` for every chain (8 bytes per multiply-add, L2-bound), a thread per chain
would read rows of ``W`` that differ between the threads of a warp. ``W^T`` is kept as a
second copy so that both products read rows with consecutive units in consecutive threads.

Same streams: a chain's draws come from its own row of the CPU's ``(n, 2) uint64`` stream
array, in the CPU kernel's order (per Gibbs step ``n_hidden`` uniforms, then ``n_visible``
uniforms or normals), drawn by one thread per chain into a ``(chains, draws)`` buffer before the
products that use them. The draws do not depend on the states, so this changes nothing.

Same arithmetic: each thread sums its unit's terms in the CPU's order (ascending input unit,
the sum started from the hidden bias, units that are 0 skipped), with every multiply written
``dmul_rn`` so that the compiler cannot contract ``acc + a * w`` into a fused multiply-add the
CPU does not do. The hidden probabilities use a port of ``kernels.scalar.logistic_rows`` (the
polynomial ``exp``) with a fused multiply-add where LLVM fuses one on the CPU (its
``contract`` flag on a host with FMA: x86-64 since Haswell, ARM64; checked bit for bit on 2e5
values), so the probabilities, and with them the samples, equal the CPU's. (On a host whose
CPU kernel fuses nothing, e.g. with ``NUMBA_CPU_NAME=generic``, a probability may differ in
its last bit, and a sample only if its uniform falls inside that bit.) The visible means use
``math.exp`` as the CPU kernel does: on a GPU that is libdevice's ``exp`` (within 1 ulp of the
C library's), so a Bernoulli ``v_mean`` may differ in its last bit, never a sample unless a
uniform falls in that ulp; Gaussian samples take their normals from libdevice's ``log`` and
``cos`` (Box-Muller, ``kernels.cuda.rng``), so on a GPU they may differ in their last bits
(their means given the hidden samples do not). Under the CUDA simulator everything is
bit-identical.

The CD/PCD epoch keeps ``W``, ``W^T``, the biases and the velocities on the device for the
whole epoch (one mini-batch is about eight launches; moving ``W`` to the host and back per
mini-batch would cost more than the batch's products); its products differ from the CPU's
BLAS in summation order only, so a fit agrees with the CPU's to rounding (about 1e-15
relative per update), not bit for bit.
"""
import math
from fractions import Fraction

import numpy as np
from numba import config as _nbconfig
from numba import cuda, float64, int64, uint64

from ... import config
from .rng import normal, uniform

#: Tile geometry of the product kernels (compile-time: shared and local array shapes).
TILE_COLS = 32        # units per block, one per thread along x (a warp)
TILE_THREADS_Y = 4    # threads along y
TILE_ROWS = 32        # chains per block
TILE_K = 32           # input units per shared tile
_RPT = TILE_ROWS // TILE_THREADS_Y   # chains per thread

_SIM = bool(_nbconfig.ENABLE_CUDASIM)

# ------------------------------------------------------------------------------ arithmetic
if _SIM:
    @cuda.jit(device=True)
    def _mul(a, b):
        return a * b

    @cuda.jit(device=True)
    def _fma(a, b, c):
        """Exact fused multiply-add (the simulator's cuda.fma rounds twice)."""
        if math.isfinite(a) and math.isfinite(b) and math.isfinite(c):
            return float(Fraction(a) * Fraction(b) + Fraction(c))
        return a * b + c
else:  # pragma: no cover - needs a GPU
    from numba.cuda import libdevice

    @cuda.jit(device=True, inline=True)
    def _mul(a, b):
        """``a * b`` rounded on its own (``mul.rn``: never contracted into an FMA)."""
        return libdevice.dmul_rn(a, b)

    @cuda.jit(device=True, inline=True)
    def _fma(a, b, c):
        return cuda.fma(a, b, c)


_LOG2E = 1.4426950408889634
_LN2_HI = 0.6931471803691238
_LN2_LO = 1.9082149292705877e-10


@cuda.jit(device=True, inline=True)
def _logistic_poly(x):
    """``kernels.scalar.logistic_rows`` for one value: ``1 / (1 + e^-x)`` with ``e^-x = 2^k
    p(r)`` (degree-13 Taylor polynomial, Horner steps fused as on the CPU)."""
    t = -x
    big = t > 708.0
    tiny = t < -708.0
    c = min(max(t, -708.0), 708.0)
    k = float64(math.floor(_fma(c, _LOG2E, 0.5)))
    r = _fma(-k, _LN2_LO, _fma(-k, _LN2_HI, c))
    p = 1.0 / 6227020800.0
    p = _fma(r, p, 1.0 / 479001600.0)
    p = _fma(r, p, 1.0 / 39916800.0)
    p = _fma(r, p, 1.0 / 3628800.0)
    p = _fma(r, p, 1.0 / 362880.0)
    p = _fma(r, p, 1.0 / 40320.0)
    p = _fma(r, p, 1.0 / 5040.0)
    p = _fma(r, p, 1.0 / 720.0)
    p = _fma(r, p, 1.0 / 120.0)
    p = _fma(r, p, 1.0 / 24.0)
    p = _fma(r, p, 1.0 / 6.0)
    p = _fma(r, p, 0.5)
    p = _fma(r, p, 1.0)
    e = math.inf if big else (0.0 if tiny else _fma(r, p, 1.0))
    e = _mul(e, math.ldexp(1.0, int(k)))
    return 1.0 / (1.0 + e)


# ------------------------------------------------------------------------------ kernels
@cuda.jit(device=True, inline=True)
def _product(A, M, scale, sA, sM, acc):
    """``acc[q] += (A[row_q, k] scale) * M[k, col]`` over ascending ``k`` where the first
    factor is not 0, for this thread's chains ``row_q`` (block rows ``ty + q TILE_THREADS_Y``)
    and unit ``col``, through shared tiles ``sA`` (TILE_ROWS, TILE_K) and ``sM`` (TILE_K,
    TILE_COLS). Every thread of the block must call it (it synchronises)."""
    tx = cuda.threadIdx.x
    ty = cuda.threadIdx.y
    row0 = cuda.blockIdx.y * TILE_ROWS
    col = cuda.blockIdx.x * TILE_COLS + tx
    rows = A.shape[0]
    K = M.shape[0]
    cols = M.shape[1]
    for k0 in range(0, K, TILE_K):
        for kk in range(ty, TILE_K, TILE_THREADS_Y):
            k = k0 + kk
            sM[kk, tx] = M[k, col] if k < K and col < cols else 0.0
        for rr in range(ty, TILE_ROWS, TILE_THREADS_Y):
            row = row0 + rr
            k = k0 + tx
            sA[rr, tx] = A[row, k] * scale if row < rows and k < K else 0.0
        cuda.syncthreads()
        for kk in range(min(TILE_K, K - k0)):
            w = sM[kk, tx]
            for q in range(_RPT):
                a = sA[ty + q * TILE_THREADS_Y, kk]
                if a != 0.0:
                    acc[q] += _mul(a, w)
        cuda.syncthreads()


@cuda.jit
def _up(V, W, c, scale, betas, t, U, off, P, H):
    """Hidden layer of every chain: ``x = c + (V scale) W`` (the CPU's ``_up`` order), ``p =
    logistic(betas[t] x)``; ``P[r, j] = p`` when ``P`` has rows, ``H[r, j] = U[r, off + j] < p``
    when ``off >= 0``. Grid ``(ceil(n_hidden / TILE_COLS), ceil(chains / TILE_ROWS))``."""
    sA = cuda.shared.array((TILE_ROWS, TILE_K), float64)
    sM = cuda.shared.array((TILE_K, TILE_COLS), float64)
    acc = cuda.local.array(_RPT, float64)
    col = cuda.blockIdx.x * TILE_COLS + cuda.threadIdx.x
    cols = W.shape[1]
    start = c[col] if col < cols else 0.0
    for q in range(_RPT):
        acc[q] = start
    _product(V, W, scale, sA, sM, acc)
    if col >= cols:
        return
    beta = betas[t]
    for q in range(_RPT):
        row = cuda.blockIdx.y * TILE_ROWS + cuda.threadIdx.y + q * TILE_THREADS_Y
        if row < V.shape[0]:
            p = _logistic_poly(acc[q] * beta)
            if P.shape[0] > 0:
                P[row, col] = p
            if off >= 0:
                H[row, col] = 1.0 if U[row, off + col] < p else 0.0


@cuda.jit
def _down(H, WT, b, gaussian, sigma, betas, t, U, off, V, out_v, out_mean, slot):
    """Visible layer of every chain: ``down = H W^T`` (the CPU's ``_down`` order), ``mean =
    logistic(betas[t] (b + down))`` (Bernoulli) or ``b + sigma down`` (Gaussian), and the sample
    ``V[r, i]`` from ``U[r, off + i]`` (a uniform, or a normal for Gaussian units); with
    ``slot >= 0`` both go to ``out_v[r, slot, i]`` and ``out_mean[r, slot, i]``. Grid
    ``(ceil(n_visible / TILE_COLS), ceil(chains / TILE_ROWS))``."""
    sA = cuda.shared.array((TILE_ROWS, TILE_K), float64)
    sM = cuda.shared.array((TILE_K, TILE_COLS), float64)
    acc = cuda.local.array(_RPT, float64)
    for q in range(_RPT):
        acc[q] = 0.0
    _product(H, WT, 1.0, sA, sM, acc)
    col = cuda.blockIdx.x * TILE_COLS + cuda.threadIdx.x
    if col >= WT.shape[1]:
        return
    beta = betas[t]
    for q in range(_RPT):
        row = cuda.blockIdx.y * TILE_ROWS + cuda.threadIdx.y + q * TILE_THREADS_Y
        if row < H.shape[0]:
            down = acc[q]
            if gaussian:
                mean = b[col] + _mul(sigma, down)
                x = mean + _mul(sigma / math.sqrt(beta), U[row, off + col])
            else:
                mean = 1.0 / (1.0 + math.exp(-(beta * (b[col] + down))))
                x = 1.0 if U[row, off + col] < mean else 0.0
            V[row, col] = x
            if slot >= 0:
                out_mean[row, slot, col] = mean
                out_v[row, slot, col] = x


@cuda.jit
def _draws(states, U, rows, n_hidden, n_visible, k, persistent, gaussian):
    """Row ``r < rows`` of ``U`` from stream ``r``, in the order the CPU kernels draw: unless
    ``persistent``, ``n_hidden`` uniforms; then ``k`` times ``n_visible`` uniforms (normals for
    Gaussian units) followed, except after the last unless ``persistent``, by ``n_hidden``
    uniforms. (``k = 1``, not persistent: one Gibbs step.) One thread per row; the row's state
    is held in a local copy (registers) while it draws, and written back at the end."""
    r = cuda.grid(1)
    if r >= rows:
        return
    st = cuda.local.array((1, 2), uint64)
    st[0, 0] = states[r, 0]
    st[0, 1] = states[r, 1]
    p = 0
    if not persistent:
        for j in range(n_hidden):
            U[r, p] = uniform(st, 0)
            p += 1
    for s in range(k):
        for i in range(n_visible):
            U[r, p] = normal(st, 0) if gaussian else uniform(st, 0)
            p += 1
        if s < k - 1 or persistent:
            for j in range(n_hidden):
                U[r, p] = uniform(st, 0)
                p += 1
    states[r, 0] = st[0, 0]
    states[r, 1] = st[0, 1]


@cuda.jit
def _transpose(A, AT):
    """``AT = A.T``; a thread per element of ``A``, grid 2-D over (columns, rows)."""
    j, i = cuda.grid(2)
    if i < A.shape[0] and j < A.shape[1]:
        AT[j, i] = A[i, j]


@cuda.jit
def _gather(data, order, start, out):
    """``out[r] = data[order[start + r]]`` for the rows of ``out``; grid 2-D over (column, row)."""
    i, r = cuda.grid(2)
    if r < out.shape[0] and i < out.shape[1]:
        out[r, i] = data[order[start + r], i]


@cuda.jit
def _update_weights(vp, hp, vn, hn, W, WT, dW, lr, momentum, decay, scale):
    """``dW = momentum dW + lr (scale (vp^T hp - vn^T hn) - decay W)``, ``W += dW`` (and its
    copy ``WT``); a thread per weight, grid 2-D over (hidden, visible)."""
    j, i = cuda.grid(2)
    if i >= W.shape[0] or j >= W.shape[1]:
        return
    g = 0.0
    for r in range(vp.shape[0]):
        g += vp[r, i] * hp[r, j]
    for r in range(vn.shape[0]):
        g += vn[r, i] * -hn[r, j]
    d = momentum * dW[i, j] + lr * (g * scale - decay * W[i, j])
    dW[i, j] = d
    w = W[i, j] + d
    W[i, j] = w
    WT[j, i] = w


@cuda.jit
def _update_biases(vp, hp, vn, hn, b, c, db, dc, lr, momentum, inv_s, target, cost):
    """The bias steps of ``fit_epoch``: a thread per visible unit, then per hidden unit."""
    u = cuda.grid(1)
    nv = b.shape[0]
    B = vp.shape[0]
    if u < nv:
        g = 0.0
        for r in range(B):
            g += vp[r, u] - vn[r, u]
        db[u] = momentum * db[u] + lr * g * inv_s * inv_s / B
        b[u] += db[u]
    elif u < nv + c.shape[0]:
        j = u - nv
        g = 0.0
        q = 0.0
        for r in range(B):
            g += hp[r, j] - hn[r, j]
            q += hp[r, j]
        g /= B
        if cost > 0.0:
            g += cost * (target - q / B)
        dc[j] = momentum * dc[j] + lr * g
        c[j] += dc[j]


# ------------------------------------------------------------------------------ launchers
def _grid(cols, rows):
    return ((cols + TILE_COLS - 1) // TILE_COLS, (rows + TILE_ROWS - 1) // TILE_ROWS), \
        (TILE_COLS, TILE_THREADS_Y)


def _grid1(n):
    threads = config.RBM_CUDA_THREADS
    return max((n + threads - 1) // threads, 1), threads


def _grid2(cols, rows):
    """Blocks of 32 columns x ``RBM_CUDA_THREADS // 32`` rows for the element-wise kernels."""
    ty = max(config.RBM_CUDA_THREADS // 32, 1)
    return ((cols + 31) // 32, (rows + ty - 1) // ty), (32, ty)


def _transposed(W):
    WT = cuda.device_array((W.shape[1], W.shape[0]), np.float64)
    blocks, threads = _grid2(W.shape[1], W.shape[0])
    _transpose[blocks, threads](W, WT)
    return WT


def draws_per_row(n_visible, n_hidden, k, persistent):
    """Draws (uniforms or normals) per row of one mini-batch of :func:`fit_epoch` (for
    ``k = 1``, not persistent: of one Gibbs step)."""
    return (0 if persistent else n_hidden) + k * n_visible + (k - 1 + int(bool(persistent))) * n_hidden


def gibbs_bytes(n_visible, n_hidden, chains, out_size):
    """Device bytes of a :func:`gibbs` call, its arguments included: ``W`` and its transposed
    copy, the chains, their streams, the records (``out_size`` values each) and the draws and
    hidden samples of a step."""
    return 8 * (2 * n_visible * n_hidden + n_visible + n_hidden + chains * n_visible + 2 * chains
                + 2 * out_size + chains * (n_visible + 2 * n_hidden))


def fit_epoch_bytes(n_visible, n_hidden, m, batch, k, persistent):
    """Device bytes of a :func:`fit_epoch` call, its arguments included (``m`` rows of data)."""
    return 8 * (3 * n_visible * n_hidden + 2 * (n_visible + n_hidden) + m * n_visible + m
                + batch * n_hidden + 2 * batch + 2 * batch * n_visible + 3 * batch * n_hidden
                + batch * draws_per_row(n_visible, n_hidden, k, persistent))


def gibbs(W, b, c, v, betas, gaussian, sigma, every, out_v, out_mean, states):
    """:func:`neurosim.kernels.rbm.gibbs` on the device: the same arguments (device arrays),
    the same chains, samples and records (see the module notes for the last bit of ``v_mean``).

    Per step three launches: the draws (a thread per chain), the hidden layer and the visible
    layer (tiled products, see the module notes), the latter writing the records of every
    ``every``-th step. ``W^T``, the draws and the hidden samples are scratch of this call.
    """
    chains, nv = v.shape
    nh = W.shape[1]
    inv_s = 1.0 / sigma if gaussian else 1.0
    WT = _transposed(W)
    U = cuda.device_array((chains, nh + nv), np.float64)
    H = cuda.device_array((chains, nh), np.float64)
    none = cuda.device_array((0, 0), np.float64)
    b1, t1 = _grid1(chains)
    bh, th = _grid(nh, chains)
    bv, tv = _grid(nv, chains)
    for t in range(betas.shape[0]):
        _draws[b1, t1](states, U, chains, nh, nv, 1, False, gaussian)
        _up[bh, th](v, W, c, inv_s, betas, t, U, 0, none, H)
        slot = (t + 1) // every - 1 if (t + 1) % every == 0 else -1
        _down[bv, tv](H, WT, b, gaussian, sigma, betas, t, U, nh, v, out_v, out_mean, slot)


def fit_epoch(W, b, c, dW, db, dc, data, order, batch, k, persistent, chain_h, lr, momentum,
              decay, sparsity_target, sparsity_cost, gaussian, sigma, states):
    """:func:`neurosim.kernels.rbm.fit_epoch` on the device: the same arguments (device arrays),
    the same draws from the same streams; the parameters agree with the CPU's to rounding.

    A mini-batch: its draws (a thread per row), the gather of its data rows, the hidden layer of
    the data (probabilities, and samples for CD), ``k`` visible/hidden steps of the negative
    phase (PCD reads and leaves its chains in ``chain_h``), then the weight step (a thread per
    weight, ``W^T`` kept alongside) and the bias steps. Scratch: ``W^T``, the phases' states and
    probabilities and the batch's draws.
    """
    m = order.shape[0]
    nv, nh = W.shape
    batch = int(batch)
    k = int(k)
    persistent = bool(persistent)
    inv_s = 1.0 / sigma if gaussian else 1.0
    WT = _transposed(W)
    vpos = cuda.device_array((batch, nv), np.float64)
    hpos = cuda.device_array((batch, nh), np.float64)
    hs = cuda.device_array((batch, nh), np.float64)
    vneg = cuda.device_array((batch, nv), np.float64)
    hneg = cuda.device_array((batch, nh), np.float64)
    U = cuda.device_array((batch, draws_per_row(nv, nh, k, persistent)), np.float64)
    none = cuda.device_array((0, 0), np.float64)
    rec = cuda.device_array((0, 0, 0), np.float64)
    one = cuda.to_device(np.ones(1))
    gw_blocks, gw_threads = _grid2(nh, nv)
    bias_blocks, bias_threads = _grid1(nv + nh)
    for start in range(0, m, batch):
        B = min(batch, m - start)
        vp, hp, h_s, vn, hn = vpos[:B], hpos[:B], hs[:B], vneg[:B], hneg[:B]
        blocks, threads = _grid1(B)
        _draws[blocks, threads](states, U, B, nh, nv, k, persistent, gaussian)
        blocks, threads = _grid2(nv, B)
        _gather[blocks, threads](data, order, start, vp)
        bh, th = _grid(nh, B)
        bv, tv = _grid(nv, B)
        _up[bh, th](vp, W, c, inv_s, one, 0, U, -1 if persistent else 0, hp, h_s)
        h_in = chain_h[:B] if persistent else h_s
        off = 0 if persistent else nh
        for step in range(k):
            _down[bv, tv](h_in, WT, b, gaussian, sigma, one, 0, U, off, vn, rec, rec, -1)
            off += nv
            if step < k - 1:
                _up[bh, th](vn, W, c, inv_s, one, 0, U, off, hn, h_s)
                off += nh
                h_in = h_s
            elif persistent:
                _up[bh, th](vn, W, c, inv_s, one, 0, U, off, hn, chain_h[:B])
            else:
                _up[bh, th](vn, W, c, inv_s, one, 0, U, -1, hn, none)
        _update_weights[gw_blocks, gw_threads](vp, hp, vn, hn, W, WT, dW, lr, momentum, decay, inv_s / B)
        _update_biases[bias_blocks, bias_threads](vp, hp, vn, hn, b, c, db, dc, lr, momentum, inv_s,
                                                  sparsity_target, sparsity_cost)
