"""Compiled kernels of attention: scaled dot-product attention over several heads (forward and
backward), and Bahdanau's additive attention for one decoder step (forward and backward), over a
batch.

Scaled dot-product attention runs one (sample, head) block at a time, by panels of
:data:`PANEL` queries: the panel's scores, its softmax rows and its output rows are made while
the panel sits in L1. The products are small (at head width 16 and 128 steps, (16 x 16) @ (16 x
128) a panel) and run in register tiles of the module's own (:func:`_product`: LLVM vector
code, a tile of accumulators over the shared dimension, the last vector of columns under a
mask), reading the heads of ``q``, ``k``, ``v`` and the kept weights where they are (strided
views, ``K^T`` copied once per head); NumPy's BLAS calls (``np.dot``) on copies had run these
shapes at a third of the rate. The softmax is one function over the panel's rows (the row
maximum over order keys, the exponential and its sum in one pass, the normalisation), in
512-bit lanes. The backward pass works the same way, with one (queries, keys) scratch for the
scores' gradient. No score-sized temporary is made: the weights, (batch, heads, queries,
keys), are written once and read once. Masks are read where they are: causal by index (a
causal panel multiplies only the keys its last query sees), key padding (batch, keys), a
general boolean or additive mask as a broadcast view (batch, heads, queries, keys); none is
materialised. Each kernel is a pair of twins (:func:`neurosim.kernels.threads.twins`):
``sdp_forward`` and ``sdp_forward_parallel`` (and the backward's) take ``parts``, the runs of
consecutive (sample, head) blocks the call is split into, which the parallel twin's threads
take as they come free; the blocks share nothing, so the bits are the serial kernel's.
Float32, 4 heads of width 16, 128 steps, batch 32 (minimum over repetitions, 2 cores shared
with other work at load 3.5-4): forward 2.48 ms on one thread, 1.35 on two; backward 4.06 and
1.75; at 16 steps 0.082 and 0.052, 0.104 and 0.056.

Forward, per sample ``b``: ``hidden[b, t] = tanh(query[b] + keys[b, t])`` for every encoder step
``t`` (in SIMD lanes, as ``tanh(x) = 2 s(2x) - 1`` with the vectorised logistic of
:mod:`neurosim.kernels.scalar`), scores ``e_t = hidden[b, t] . v``, their softmax over the steps
that are not padding (a row with none left gets zero weights), and the context
``sum_t w_t values[b, t]``. ``hidden`` and the weights are kept for the backward kernel, which
gives the gradients of the query, the keys, the values and ``v`` in one pass (``v``'s summed
over the batch in a fixed order). Arrays are C-contiguous, of one float dtype.
"""
import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic, overload

from . import vexp
from .fpenv import control_word, restore
from .gemm import VECTOR_BYTES, WIDE, register_loop, vector_types
from .scalar import _LIMIT32, exp32, sigmoid_lanes
from .simd import wide_vectors
from .threads import twins

_FAST = {"contract", "arcp", "nsz", "afn"}       # as kernels.scalar: sums keep their order
_SUMS = {"reassoc", "nsz"}                       # row sums and maxima in SIMD lanes, any order
_LOW64 = -708.0                                  # e^x below it: under float64's normal range


def _order_intrinsic(inverse):
    """An intrinsic: a float's order key, the integer of its width ``b ^ ((b >> (w - 1)) &
    (2^(w-1) - 1))`` of its bits ``b``, which compares as integers as the floats do (NaN above
    +inf), or with ``inverse`` the float of a key (the map is its own inverse). In LLVM, at the
    float's width (Numba would widen int32 arithmetic to int64): a maximum over keys runs in
    SIMD lanes, where a float maximum does not vectorise here."""
    def order(typingctx, x):
        if inverse and x in (types.int32, types.int64):
            result = types.float32 if x == types.int32 else types.float64
        elif not inverse and x in (types.float32, types.float64):
            result = types.int32 if x == types.float32 else types.int64
        else:
            return None

        def codegen(context, builder, signature, args):
            width = max(x.bitwidth, result.bitwidth)
            integer = ir.IntType(width)
            bits = args[0] if inverse else builder.bitcast(args[0], integer)
            key = builder.xor(bits, builder.and_(builder.ashr(bits, integer(width - 1)),
                                                 integer((1 << (width - 1)) - 1)))
            return builder.bitcast(key, context.get_value_type(result)) if inverse else key
        return result(x), codegen
    return intrinsic(order)


_order_key = _order_intrinsic(False)
_key_float = _order_intrinsic(True)


@njit(cache=True, fastmath=_FAST, error_model="numpy")
def _exp32(t, top, scale):
    """``e^((t - top) scale)`` for float32 arguments with ``(t - top) scale <= 87``
    (:func:`neurosim.kernels.scalar.exp32`, relative error below 1e-7); 0 below -87 (the true
    value is below 2e-38). A function of its own, so that a caller's ``reassoc`` does not reach
    the rounding trick (LLVM inlines it, keeping these flags)."""
    x = (t - top) * scale
    e = exp32(max(x, -_LIMIT32))
    return np.float32(0.0) if x < -_LIMIT32 else e


@njit(cache=True, error_model="numpy")
def _exp64(t, top, scale):
    """``e^((t - top) scale)`` for float64 arguments (:func:`neurosim.kernels.vexp.exp`, within
    2 ulp), 0 below -708."""
    x = (t - top) * scale
    return 0.0 if x < _LOW64 else vexp.exp(x)


def exp_shifted(t, top, scale):
    """``e^((t - top) scale)`` for float arguments of one dtype, ``(t - top) scale`` at most 87
    (float32) or 708 (float64), 0 below -87 (-708); a loop over it vectorises. Callable from
    kernels only."""
    raise NotImplementedError("exp_shifted is called from compiled kernels")


@overload(exp_shifted)
def _exp_shifted(t, top, scale):
    if t == types.float32:
        return lambda t, top, scale: _exp32(t, top, scale)
    return lambda t, top, scale: _exp64(t, top, scale)


def _product_intrinsic(rows, vectors):
    """An intrinsic ``tile(A, B, C, i, j, m, n, depth)``: ``C[i:i+m, j:j+n] = A[i:i+m, :depth]
    @ B[:depth, j:j+n]`` for ``m <= rows`` and ``n`` at most ``vectors`` SIMD vectors, its sums
    held in registers over one pass of the shared dimension, as in
    :func:`neurosim.kernels.gemm._tile_intrinsic` (each step an outer product: a row of ``B``
    loaded as vectors, each entry of a column of ``A`` broadcast, one fused multiply-add per
    accumulator). ``A`` (2-D) may have any strides (a transposed view too: its entries are read
    one at a time), ``B`` and ``C`` (2-D) need contiguous rows. The last vector of columns is
    loaded and stored under a mask (no scalar tail); rows past ``m`` are computed from row ``i``
    of ``A`` and not stored. No views are made: a view costs two atomic reference counts."""
    def tile(typingctx, a, b, c, i, j, m, n, depth):
        if not (all(isinstance(t, types.Array) and t.ndim == 2 for t in (a, b, c)) and
                a.dtype == b.dtype == c.dtype and a.dtype in (types.float32, types.float64)
                and all(isinstance(t, types.Integer) for t in (i, j, m, n, depth))):
            return None
        sig = types.void(a, b, c, types.intp, types.intp, types.intp, types.intp, types.intp)

        def codegen(context, builder, signature, args):
            dtype = signature.args[0].dtype
            size, lanes, scalar, vec = vector_types(context, dtype)
            i32, i64 = ir.IntType(32), ir.IntType(64)
            index = ir.VectorType(i32, lanes)
            A, B, C = (context.make_array(t)(context, builder, x)
                       for t, x in zip(signature.args[:3], args[:3]))
            i, j, m, n, depth = args[3:]

            def elements(strides, axis):        # a stride in bytes -> in elements
                return builder.ashr(cgutils.unpack_tuple(builder, strides)[axis],
                                    i64(size.bit_length() - 1))
            row_a, col_a = elements(A.strides, 0), elements(A.strides, 1)
            ldb, ldc = elements(B.strides, 0), elements(C.strides, 0)
            a0 = builder.gep(A.data, [builder.mul(i, row_a)], inbounds=True)
            b0 = builder.gep(B.data, [j], inbounds=True)
            c0 = builder.gep(C.data, [builder.add(builder.mul(i, ldc), j)], inbounds=True)
            name = f"v{lanes}f{dtype.bitwidth}"
            fma = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(vec, [vec] * 3), f"llvm.fma.{name}")
            mask_type = ir.VectorType(ir.IntType(1), lanes)
            load = cgutils.get_or_insert_function(builder.module, ir.FunctionType(
                vec, [vec.as_pointer(), i32, mask_type, vec]), f"llvm.masked.load.{name}.p0")
            store = cgutils.get_or_insert_function(builder.module, ir.FunctionType(
                ir.VoidType(), [vec, vec.as_pointer(), i32, mask_type]),
                f"llvm.masked.store.{name}.p0")
            zero = ir.Constant(vec, [ir.Constant(scalar, 0.0)] * lanes)

            def splat(value, like):
                undef = ir.Constant(like, ir.Undefined)
                return builder.shuffle_vector(builder.insert_element(undef, value, i32(0)),
                                              undef, ir.Constant(index, [0] * lanes))
            columns = splat(builder.trunc(n, i32), index)
            masks = [builder.icmp_signed("<", ir.Constant(index, list(range(
                v * lanes, (v + 1) * lanes))), columns) for v in range(vectors)]

            def vector_at(base, offset):
                return builder.bitcast(builder.gep(base, [offset], inbounds=True),
                                       vec.as_pointer())
            a_rows = [builder.gep(a0, [builder.mul(builder.select(builder.icmp_signed(
                ">", m, i64(r)), i64(r), i64(0)), row_a)], inbounds=True) for r in range(rows)]
            def step(k, accs):      # a row of B under the masks, a column of A broadcast
                b_row = builder.mul(k, ldb)
                bs = [builder.call(load, [vector_at(b0, builder.add(b_row, i64(v * lanes))),
                                          i32(size), masks[v], zero]) for v in range(vectors)]
                a_col = builder.mul(k, col_a)
                new = []
                for r in range(rows):
                    a = splat(builder.load(builder.gep(a_rows[r], [a_col], inbounds=True)),
                              vec)
                    new += [builder.call(fma, [a, bs[v], accs[r * vectors + v]])
                            for v in range(vectors)]
                return new
            accs = register_loop(builder, depth, [zero] * (rows * vectors), step)
            for r in range(rows):
                with builder.if_then(builder.icmp_signed(">", m, i64(r)), likely=True):
                    for v in range(vectors):
                        at = vector_at(c0, builder.add(builder.mul(i64(r), ldc), i64(v * lanes)))
                        builder.call(store, [accs[r * vectors + v], at, i32(size), masks[v]])
            return context.get_dummy_value()
        return sig, codegen
    tile.__name__ = tile.__qualname__ = f"_tile{rows}x{vectors}"
    return intrinsic(tile)


TILE_ROWS = 8 if WIDE else 4    # with two vectors of columns: 16 (8) accumulators of 32 (16)
_tile_wide = _product_intrinsic(TILE_ROWS, 2)
_tile_narrow = _product_intrinsic(2 * TILE_ROWS, 1)
PANEL = 2 * TILE_ROWS           # query rows of a pass: scores, softmax, output while in L1


@njit(cache=True)
def _product(A, B, C, start, end, n, depth):
    """``C[start:end, :n] = A[start:end, :depth] @ B[:depth, :n]`` by register tiles (2-D
    arrays; ``B`` and ``C`` with contiguous rows, ``A`` any strides): a ``C`` of one SIMD
    vector of columns or less in tiles of ``2 TILE_ROWS`` rows, a wider one in tiles of
    ``TILE_ROWS`` rows by two vectors. Each entry is one pass of fused multiply-adds over the
    shared dimension, in order."""
    lanes = VECTOR_BYTES // C.itemsize
    if n <= lanes:
        for i in range(start, end, 2 * TILE_ROWS):
            _tile_narrow(A, B, C, i, 0, min(2 * TILE_ROWS, end - i), n, depth)
        return
    for i in range(start, end, TILE_ROWS):
        for j in range(0, n, 2 * lanes):
            _tile_wide(A, B, C, i, j, min(TILE_ROWS, end - i), min(2 * lanes, n - j), depth)


@njit(cache=True, inline="always")
def _head(x, b, h, width):
    """Head ``h`` of sample ``b`` of ``x`` (batch, time, heads * width): a (time, width) view."""
    return x[b, :, h * width:(h + 1) * width]


@njit(cache=True)
def _transpose(x, out):
    """``out`` (d, time) <- ``x`` (time, d) transposed."""
    for t in range(x.shape[0]):
        for c in range(x.shape[1]):
            out[c, t] = x[t, c]


@njit(cache=True, fastmath=_SUMS, error_model="numpy")
def _softmax_rows(S, start, end, b, h, scale, causal, pad, allowed, additive):
    """Rows ``start:end`` of the block's scores ``S`` (queries, keys) -> attention weights in
    place: scaled, the additive mask added, disallowed pairs excluded, softmax per row (a row
    with no key left gets zeros; with ``causal``, the keys past a row's query are set to zero
    whatever they held). Every loop in SIMD lanes; no function calls (a call per row cost as
    much as the row's exponentials at 16-128 keys)."""
    wide_vectors()
    tk = S.shape[1]
    padded = pad.shape[1] == tk
    general = allowed.shape[3] == tk
    added = additive.shape[3] == tk
    masked = padded or general or added
    dtype = S.dtype.type
    ninf, one = dtype(-np.inf), dtype(1.0)
    for i in range(start, end):
        shrink = scale            # unmasked rows: the scale goes into the exponential's pass
        if masked:
            shrink = one
            for j in range(tk):
                S[i, j] *= scale
        if added:
            for j in range(tk):
                S[i, j] += additive[b, h, i, j]
        if padded:
            for j in range(tk):
                if pad[b, j]:
                    S[i, j] = ninf
        if general:
            for j in range(tk):
                if not allowed[b, h, i, j]:
                    S[i, j] = ninf
        n = min(i + 1, tk) if causal else tk
        for j in range(n, tk):
            S[i, j] = 0.0
        top = _order_key(ninf)
        for j in range(n):
            top = max(top, _order_key(S[i, j]))
        peak = _key_float(top)
        if peak == ninf:
            for j in range(n):
                S[i, j] = 0.0
            continue
        total = dtype(0.0)
        for j in range(n):
            e = exp_shifted(S[i, j], peak, shrink)
            S[i, j] = e
            total += e
        inv = one / total
        for j in range(n):
            S[i, j] *= inv


@njit(cache=True, fastmath=_SUMS, error_model="numpy")
def _softmax_grad_rows(P, dS, start, end, live, scale):
    """Rows ``start:end`` of ``dS`` (queries, keys), the gradient of the weights ``P``, ->
    the scores' gradient in place, over the first ``live`` keys: ``dS = P (dS - rowsum(dS P))
    scale`` (the row sum in float64 lanes)."""
    wide_vectors()
    dtype = P.dtype.type
    for i in range(start, end):
        total = 0.0
        for j in range(live):
            total += P[i, j] * dS[i, j]
        s = dtype(total)
        for j in range(live):
            dS[i, j] = P[i, j] * (dS[i, j] - s) * scale


@njit(cache=True, inline="always")
def _sizes(q, k, v, weights):
    """``(batch, query steps, key steps, heads, head width, value head width)``."""
    heads = weights.shape[1]
    return q.shape[0], q.shape[1], k.shape[1], heads, q.shape[2] // heads, v.shape[2] // heads


def _sdp_forward(q, k, v, scale, causal, pad, allowed, additive, weights, out, parts):
    """Scaled dot-product attention of every (sample, head): ``weights[b, h] = softmax(scale
    Q K^T + mask)`` and ``out = weights V``, heads merged.

    ``q`` (B, Tq, H * d), ``k`` (B, Tk, H * d), ``v`` (B, Tk, H * dv), one float dtype, rows
    contiguous (column slices of a wider array will do); ``weights`` (B, H, Tq, Tk) and ``out``
    (B, Tq, H * dv) are written. Masks: ``causal`` (query ``i`` sees keys ``j <= i``); ``pad``
    (B, Tk) bool, True at padding; ``allowed`` bool and ``additive`` (of the dtype), broadcast
    views of shape (B, H, Tq, Tk). A mask that is not used is an array with an empty last axis
    ((1, 0) or (1, 1, 1, 0)). ``parts`` (>= 1): the (sample, head) blocks in that many runs of
    consecutive blocks (as even as can be), which the threads of :data:`sdp_forward_parallel`
    take as they come free, each run with its own scratch and its caller's subnormal setting
    (:mod:`.fpenv`): the blocks share nothing, so the bits do not depend on ``parts`` or the
    twin.

    Each (sample, head) runs by panels of :data:`PANEL` queries: their scores (register tiles
    of :func:`_product`, with ``K^T`` copied once per head), their softmax rows and their
    output rows, while the panel sits in L1; a causal panel multiplies only the keys its last
    query sees.
    """
    n, tq, tk, heads, d, dv = _sizes(q, k, v, weights)
    word = control_word()
    for p in prange(parts):
        own = control_word()
        restore(word)
        Kt = np.empty((d, tk), q.dtype)
        lo, hi = p * n * heads // parts, (p + 1) * n * heads // parts
        for block in range(lo, hi):
            b, h = block // heads, block % heads
            Q, V, O, S = _head(q, b, h, d), _head(v, b, h, dv), _head(out, b, h, dv), weights[b, h]
            _transpose(_head(k, b, h, d), Kt)
            for i in range(0, tq, PANEL):
                end = min(i + PANEL, tq)
                live = min(end, tk) if causal else tk
                _product(Q, Kt, S, i, end, live, d)
                _softmax_rows(S, i, end, b, h, scale, causal, pad, allowed, additive)
                _product(S, V, O, i, end, dv, live)
        restore(own)


def _sdp_backward(g, q, k, v, weights, scale, causal, gq, gk, gv, parts):
    """Gradients of :func:`sdp_forward` for the output's gradient ``g`` (B, Tq, H * dv), from
    the kept ``weights`` (and ``causal``, as the forward pass had it): written into ``gq``,
    ``gk`` and ``gv`` (the shapes of ``q``, ``k``, ``v``; rows contiguous); a gradient that is
    not wanted is passed as an array with no elements and skipped. Through the softmax, ``dS =
    P (dP - rowsum(dP P)) scale`` with ``dP = G V^T``, by panels of :data:`PANEL` queries
    (``dP``, ``dS`` and ``dQ = dS K`` while the panel is in L1); then ``dK = dS^T Q`` and ``dV
    = P^T G`` (``dS`` and ``P`` read as transposed views). A causal block multiplies only the
    pairs that its mask leaves: a query panel's keys up to its last query, a key panel's
    queries from its first key. ``parts``: as in :func:`sdp_forward` (every gradient of a
    (sample, head) block is its own)."""
    n, tq, tk, heads, d, dv = _sizes(q, k, v, weights)
    want_q, want_k, want_v = gq.size > 0, gk.size > 0, gv.size > 0
    word = control_word()
    for p in prange(parts):
        own = control_word()
        restore(word)
        Vt, dS = np.empty((dv, tk), q.dtype), np.empty((tq, tk), q.dtype)
        lo, hi = p * n * heads // parts, (p + 1) * n * heads // parts
        for block in range(lo, hi):
            b, h = block // heads, block % heads
            P, G = weights[b, h], _head(g, b, h, dv)
            if want_v:
                _keys_product(P, G, _head(gv, b, h, dv), causal)
            if not (want_q or want_k):
                continue
            _transpose(_head(v, b, h, dv), Vt)
            for i in range(0, tq, PANEL):
                end = min(i + PANEL, tq)
                live = min(end, tk) if causal else tk
                _product(G, Vt, dS, i, end, live, dv)
                _softmax_grad_rows(P, dS, i, end, live, scale)
                if want_q:
                    _product(dS, _head(k, b, h, d), _head(gq, b, h, d), i, end, d, live)
            if want_k:
                _keys_product(dS, _head(q, b, h, d), _head(gk, b, h, d), causal)
        restore(own)


@njit(cache=True)
def _keys_product(A, B, C, causal):
    """``C = A^T B`` for ``A`` (queries, keys), ``B`` (queries, width), ``C`` (keys, width),
    ``A`` read as a transposed view; with ``causal``, a panel of :data:`PANEL` keys sums only
    over the queries from its first key on (``A`` is zero above its diagonal, and its entries
    there need not be written: every query from the panel's first key on has them, see
    :func:`sdp_backward`), and the keys past the last query, which no query sees, get zeros
    (``A`` is not written there at all)."""
    keys, width = C.shape
    queries = A.shape[0]
    if not causal:
        _product(A.T, B, C, 0, keys, width, queries)
        return
    seen = min(keys, queries)
    for j in range(0, seen, PANEL):
        end = min(j + PANEL, seen)
        _product(A[j:].T, B[j:], C, j, end, width, queries - j)
    zero = C.dtype.type(0)
    for j in range(seen, keys):
        for c in range(width):
            C[j, c] = zero


sdp_forward, sdp_forward_parallel = twins(_sdp_forward, error_model="numpy")
sdp_backward, sdp_backward_parallel = twins(_sdp_backward, error_model="numpy")
#: multiply-adds of a call's products (the forward's; the backward's are twice as many) from
#: which its (sample, head) blocks run on Numba's threads: 2^18 took 20 us on one thread, 14-16
#: on two (float32; 2^17: level)
PARALLEL_WORK = 1 << 18


@njit(cache=True, error_model="numpy")
def additive_forward(query, keys, values, v, pad, hidden, weights, context):
    """Fill ``hidden`` (B, S, A), ``weights`` (B, S) and ``context`` (B, D) from ``query``
    (B, A), ``keys`` (B, S, A), ``values`` (B, S, D) and ``v`` (A,); ``pad`` (B, S) bool, True
    at padding (a (1, 1) array of False when there is none)."""
    n, steps, units = keys.shape
    dim = values.shape[2]
    two, one = hidden.dtype.type(2), hidden.dtype.type(1)
    scratch = np.empty(steps * units, hidden.dtype)
    padded = pad.shape[1] == steps
    for b in range(n):
        flat = hidden[b].reshape(-1)
        q, kb = query[b], keys[b]
        for t in range(steps):
            row = hidden[b, t]
            kt = kb[t]
            for a in range(units):
                row[a] = (kt[a] + q[a]) * two
        sigmoid_lanes(flat, scratch)
        for j in range(flat.shape[0]):
            flat[j] = flat[j] + flat[j] - one
        w = weights[b]
        top = -np.inf
        for t in range(steps):
            if padded and pad[b, t]:
                w[t] = -np.inf
                continue
            row = hidden[b, t]
            e = 0.0
            for a in range(units):
                e += row[a] * v[a]
            w[t] = e
            top = max(top, e)
        total = 0.0
        for t in range(steps):
            if padded and pad[b, t]:
                w[t] = 0.0
            else:
                w[t] = np.exp(w[t] - top)
                total += w[t]
        if total > 0.0:
            for t in range(steps):
                w[t] /= total
        c = context[b]
        c[:] = 0.0
        for t in range(steps):
            wt = w[t]
            vt = values[b, t]
            for d in range(dim):
                c[d] += wt * vt[d]


@njit(cache=True, error_model="numpy")
def additive_backward(g, values, v, hidden, weights, gquery, gkeys, gvalues, gv):
    """Gradients of :func:`additive_forward` for the context's gradient ``g`` (B, D): written
    into ``gquery`` (B, A), ``gkeys`` (B, S, A), ``gvalues`` (B, S, D) and ``gv`` (A,)."""
    n, steps, units = hidden.shape
    dim = values.shape[2]
    gs = np.empty(steps, hidden.dtype)
    gv[:] = 0.0
    for b in range(n):
        w, gb = weights[b], g[b]
        mean = 0.0
        for t in range(steps):
            vt = values[b, t]
            s = 0.0
            for d in range(dim):
                s += vt[d] * gb[d]
            gs[t] = s
            mean += s * w[t]
            out = gvalues[b, t]
            for d in range(dim):
                out[d] = w[t] * gb[d]
        gq = gquery[b]
        gq[:] = 0.0
        for t in range(steps):
            st = w[t] * (gs[t] - mean)
            row, gk = hidden[b, t], gkeys[b, t]
            for a in range(units):
                h = row[a]
                grad = st * v[a] * (1.0 - h * h)
                gk[a] = grad
                gq[a] += grad
                gv[a] += st * h
