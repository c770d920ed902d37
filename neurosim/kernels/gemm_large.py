"""General matrix products ``C (+)= op(A) @ op(B)`` of C-contiguous float32/float64 arrays
(``op`` a transpose or not), for the dense layers' products: the forward ``X @ W``, the input
gradient ``G @ W.T`` and the weight gradient ``X.T @ G`` added to a gradient buffer.

The GotoBLAS structure around the register tile of :mod:`.gemm` (:func:`~.gemm._tile2`,
PANEL rows by two SIMD vectors of columns): the columns of ``C`` run in blocks of NC and the
depth in passes of KC (sizes in bytes: :data:`KC_BYTES`, :data:`NC_BYTES`, :data:`MC_BYTES`);
for each (block, pass) the part of ``op(B)`` is packed into panels of two vectors' width
(KC, 2 * lanes), each read by the tile as consecutive rows, and stays in L2 while blocks of
MC rows of ``op(A)`` are packed into panels of PANEL rows (KC, PANEL) and each panel, held in
L1, meets every panel of ``B``. Transposes are taken
by the packing (a panel is copied with a stride of one or of the leading dimension), so no
transposed copy is made. Rows past the last whole panel are zeros in the packed panel and not
stored; columns past the last whole panel of ``B`` go through a small buffer. Each pass sums
its part of the depth in order, one fused multiply-add a term, and the passes are added in
``C``: the bits differ from BLAS's, within float rounding.

:func:`gemm` checks its arguments and runs :func:`gemm_serial`, or with more than one Numba
thread :func:`_gemm_threaded`, which gives each thread a block of columns (or of rows, when
the columns are few) with its own packing buffers.
"""
import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

from .fpenv import control_word, restore
from .gemm import PANEL, VECTOR_BYTES, _tile2_prefetch as _tile
from .threads import threads as pool_threads

KC_BYTES = 1024      # KC * itemsize: a pass's depth (A's panel, PANEL * KC, stays in L1)
NC_BYTES = 3 << 19   # KC * NC * itemsize: a packed block of B, held in L2
MC_BYTES = 1 << 17   # MC * KC * itemsize: a packed block of A
THREADED_WORK = 1 << 21   # multiply-adds below which one thread does the whole product


def _transposed(builder, rows, lanes):
    """``rows`` (``lanes`` vectors of ``lanes`` values, a square block) transposed, by one
    stage of two-vector shuffles per bit of the index (each stage swaps that bit of the row
    and of the column index)."""
    rows = list(rows)
    mask = ir.VectorType(ir.IntType(32), lanes)
    bit = 1
    while bit < lanes:
        low = [c if not c & bit else lanes + (c ^ bit) for c in range(lanes)]
        high = [c ^ bit if not c & bit else lanes + c for c in range(lanes)]
        for r in range(lanes):
            if not r & bit:
                x, y = rows[r], rows[r | bit]
                rows[r] = builder.shuffle_vector(x, y, ir.Constant(mask, low))
                rows[r | bit] = builder.shuffle_vector(x, y, ir.Constant(mask, high))
        bit *= 2
    return rows


def _panel_intrinsic(b_side):
    """An intrinsic ``pack(src, start, step_k, step_r, depth, valid, out, base)``:
    ``out[base + k * width + r] = src[start + k * step_k + r * step_r]`` for ``r < valid``
    and 0 for ``valid <= r < width``, ``k < depth`` (1-D arrays of one dtype, offsets and
    strides in elements); ``width`` is a panel of B's (two SIMD vectors) where ``b_side``,
    else PANEL. A whole panel (``valid == width``) is copied in SIMD vectors: a row of the
    panel at a time where ``step_r`` is 1, else, where ``step_k`` is 1 (the panel's rows are
    the source's columns), in square blocks of a vector's lanes transposed in registers; the
    stores of a block may run up to a vector past the panel's end (into what is written next,
    or the buffer's slack of :data:`SLACK` vectors)."""
    @intrinsic
    def pack(typingctx, src, start, step_k, step_r, depth, valid, out, base):
        if not (isinstance(src, types.Array) and isinstance(out, types.Array) and
                src.dtype == out.dtype and src.ndim == out.ndim == 1 and
                src.dtype in (types.float32, types.float64)):
            return None
        sig = types.void(src, types.intp, types.intp, types.intp, types.intp, types.intp,
                         out, types.intp)

        def codegen(context, builder, signature, args):
            dtype = signature.args[0].dtype
            size = dtype.bitwidth // 8
            lanes = VECTOR_BYTES // size
            width = 2 * lanes if b_side else PANEL
            scalar = context.get_value_type(dtype)
            vec = ir.VectorType(scalar, lanes)
            i64 = ir.IntType(64)
            start, step_k, step_r, depth, valid, _, base = args[1:]
            s0 = builder.gep(context.make_array(signature.args[0])(
                context, builder, args[0]).data, [start], inbounds=True)
            o0 = builder.gep(context.make_array(signature.args[6])(
                context, builder, args[6]).data, [base], inbounds=True)

            def at(pointer, offset, as_vector=False):
                element = builder.gep(pointer, [offset], inbounds=True)
                return builder.bitcast(element, vec.as_pointer()) if as_vector else element

            def plain(k_lo, r_hi):
                """Rows ``k_lo:depth`` of the panel value by value, columns ``r_hi:width``
                zeros."""
                with cgutils.for_range_slice(builder, k_lo, depth, i64(1)) as (k, _):
                    row, dst = at(s0, builder.mul(k, step_k)), at(o0, builder.mul(k, i64(width)))
                    with cgutils.for_range(builder, r_hi) as r:
                        builder.store(builder.load(at(row, builder.mul(r.index, step_r))),
                                      at(dst, r.index))
                    with cgutils.for_range_slice(builder, r_hi, i64(width), i64(1)) as (r, _):
                        builder.store(ir.Constant(scalar, 0), at(dst, r))

            def rows():
                """Each row of the panel from a contiguous run of the source."""
                full = width // lanes * lanes
                with cgutils.for_range(builder, depth) as k:
                    row = at(s0, builder.mul(k.index, step_k))
                    dst = at(o0, builder.mul(k.index, i64(width)))
                    for j in range(0, full, lanes):
                        builder.store(builder.load(at(row, i64(j), True), align=size),
                                      at(dst, i64(j), True), align=size)
                    for j in range(full, width):
                        builder.store(builder.load(at(row, i64(j))), at(dst, i64(j)))

            def blocks():
                """Rows ``k0:k0 + lanes`` of the panel (the source's columns) for each whole
                block of ``lanes``, the panel's columns in groups of ``lanes`` (the last one
                padded) transposed in registers; the rows past the blocks plainly. A group's
                store may run past its row into the next one's, which is stored after it."""
                blocked = builder.mul(builder.sdiv(depth, i64(lanes)), i64(lanes))
                padding = ir.Constant(vec, ir.Undefined)
                with cgutils.for_range_slice(builder, i64(0), blocked, i64(lanes)) as (k0, _):
                    groups = [_transposed(builder, [builder.load(at(s0, builder.add(
                        k0, builder.mul(i64(r), step_r)), True), align=size)
                        if r < width else padding for r in range(g, g + lanes)], lanes)
                        for g in range(0, width, lanes)]
                    for c in range(lanes):
                        dst = at(o0, builder.mul(builder.add(k0, i64(c)), i64(width)))
                        for g in reversed(range(len(groups))):
                            builder.store(groups[g][c], at(dst, i64(g * lanes), True),
                                          align=size)
                plain(blocked, i64(width))

            whole = builder.icmp_signed("==", valid, i64(width))
            contiguous = builder.and_(whole, builder.icmp_signed("==", step_r, i64(1)))
            across = builder.and_(whole, builder.icmp_signed("==", step_k, i64(1)))
            with builder.if_else(contiguous, likely=True) as (then, otherwise):
                with then:
                    rows()
                with otherwise:
                    with builder.if_else(across) as (then, otherwise):
                        with then:
                            blocks()
                        with otherwise:
                            plain(i64(0), valid)
            return context.get_dummy_value()
        return sig, codegen
    return pack


_pack_a_panel = _panel_intrinsic(False)
_pack_b_panel = _panel_intrinsic(True)
SLACK = 1   # vectors past a packing buffer's panels that a transposed block's stores may reach


@njit(cache=True, inline="always")
def _pack(src, ld, trans, r0, rows, k0, depth, b_side, out):
    """``out`` <- rows ``r0:r0 + rows``, columns ``k0:k0 + depth`` of ``op(S)`` by panels of
    B's width (``b_side``) or of PANEL rows, panel ``p`` (depth, width) at
    ``p * depth * width``; ``src`` is ``S`` (C-contiguous, rows of ``ld`` values) flattened,
    ``op(S)`` its transpose where ``trans``."""
    step_k, step_r = (ld, 1) if trans else (1, ld)
    width = 2 * (VECTOR_BYTES // out.itemsize) if b_side else PANEL
    for p in range(-(-rows // width)):
        start, valid = (r0 + p * width) * step_r + k0 * step_k, min(width, rows - p * width)
        if b_side:
            _pack_b_panel(src, start, step_k, step_r, depth, valid, out, p * depth * width)
        else:
            _pack_a_panel(src, start, step_k, step_r, depth, valid, out, p * depth * width)


@njit(cache=True)
def _sizes(dtype_size):
    """(width of a B panel, KC, NC, MC) for values of ``dtype_size`` bytes."""
    width = 2 * (VECTOR_BYTES // dtype_size)
    kc = KC_BYTES // dtype_size
    nc = max(width, NC_BYTES // (kc * dtype_size) // width * width)
    mc = max(PANEL, MC_BYTES // (kc * dtype_size) // PANEL * PANEL)
    return width, kc, nc, mc


@njit(cache=True)
def _block(A, B, C, ta, tb, accumulate, i_lo, i_hi, j_lo, j_hi):
    """``C[i_lo:i_hi, j_lo:j_hi] (+)= op(A)[i_lo:i_hi] @ op(B)[:, j_lo:j_hi]`` (``+=`` where
    ``accumulate``), in passes of KC and blocks of NC columns and MC rows, packed."""
    size = C.itemsize
    width, kc_max, nc_max, mc_max = _sizes(size)
    depth = A.shape[0] if ta else A.shape[1]
    a, b = A.reshape(A.size), B.reshape(B.size)
    lda, ldb, ldc = A.shape[1], B.shape[1], C.shape[1]
    slack = SLACK * VECTOR_BYTES // size
    # the buffers no larger than the product needs (a small product pays for no large one)
    # (and the passes of even depth: 300 as 150 + 150, not 256 + 44)
    kc_max = -(-depth // -(-depth // kc_max)) if depth else 1
    mc_max = max(PANEL, min(mc_max, -(-(i_hi - i_lo) // PANEL) * PANEL))
    nc_max = max(width, min(nc_max, -(-(j_hi - j_lo) // width) * width))
    Ap = np.empty(mc_max * kc_max + slack, C.dtype)
    Bp = np.empty(nc_max * kc_max + slack, C.dtype)
    edge = np.empty(PANEL * width, C.dtype)
    none = np.empty(0, C.dtype)
    if depth == 0 and not accumulate:
        C[i_lo:i_hi, j_lo:j_hi] = 0
    for j0 in range(j_lo, j_hi, nc_max):
        nc = min(nc_max, j_hi - j0)
        for k0 in range(0, depth, kc_max):
            kc = min(kc_max, depth - k0)
            add = accumulate or k0 > 0
            _pack(b, ldb, not tb, j0, nc, k0, kc, True, Bp)
            for i0 in range(i_lo, i_hi, mc_max):
                mc = min(mc_max, i_hi - i0)
                _pack(a, lda, ta, i0, mc, k0, kc, False, Ap)
                for p in range(-(-mc // PANEL)):
                    rows = min(PANEL, mc - p * PANEL)
                    i = i0 + p * PANEL
                    for q in range(-(-nc // width)):
                        j = j0 + q * width
                        cols = min(width, nc - q * width)
                        if cols == width:
                            _tile(Ap, p * kc * PANEL, Bp, q * kc * width, width, C,
                                  i * ldc + j, ldc, kc, rows, add, none, 0)
                        else:
                            _tile(Ap, p * kc * PANEL, Bp, q * kc * width, width, edge, 0,
                                  width, kc, rows, False, none, 0)
                            _store_edge(edge, width, C, i, rows, j, cols, add)


@njit(cache=True, inline="always")
def _store_edge(edge, width, C, i, rows, j, cols, add):
    """``C[i:i + rows, j:j + cols] (+)=`` the tile computed into ``edge`` (PANEL, width)."""
    for r in range(rows):
        for c in range(cols):
            value = edge[r * width + c]
            C[i + r, j + c] = C[i + r, j + c] + value if add else value


@njit(cache=True)
def gemm_serial(A, B, C, ta, tb, accumulate):
    """The whole product on one thread, unchecked (see :func:`gemm` for the arguments): for
    compiled loops that give each of their parallel items its own products (the bits of
    :func:`gemm`'s)."""
    _block(A, B, C, ta, tb, accumulate, 0, C.shape[0], 0, C.shape[1])


@njit(parallel=True, cache=True)
def _gemm_threaded(A, B, C, ta, tb, accumulate, threads):
    """The product in ``threads`` parts of its columns (whole panels of B), or of its rows
    (whole panels of A) where the columns are fewer than two panels a thread; each thread
    flushes subnormals where the caller does (:mod:`.fpenv`), so the bits are the serial's."""
    word = control_word()
    m, n = C.shape
    width = _sizes(C.itemsize)[0]
    by_columns = n >= 2 * width * threads
    unit, extent = (width, n) if by_columns else (PANEL, m)
    units = -(-extent // unit)
    parts = min(threads, units)
    for t in prange(parts):
        lo = min(extent, t * units // parts * unit)
        hi = min(extent, (t + 1) * units // parts * unit)
        own = control_word()
        restore(word)
        if by_columns:
            _block(A, B, C, ta, tb, accumulate, 0, m, lo, hi)
        else:
            _block(A, B, C, ta, tb, accumulate, lo, hi, 0, n)
        restore(own)


def _operand(name, x, dtype=None):
    """``x`` checked: a C-contiguous 2-D float32/float64 array (of ``dtype`` where given)."""
    if not isinstance(x, np.ndarray) or x.ndim != 2:
        raise TypeError(f"gemm: {name} must be a 2-D NumPy array; got {type(x).__name__}"
                        f"{'' if not isinstance(x, np.ndarray) else f' of {x.ndim} dims'}")
    if x.dtype not in (np.float32, np.float64) or (dtype is not None and x.dtype != dtype):
        raise TypeError(f"gemm: {name} must be float32 or float64 (the dtype of the others); "
                        f"got {x.dtype}")
    if not x.flags.c_contiguous:
        raise ValueError(f"gemm: {name} must be C-contiguous (pass the untransposed array "
                         f"and trans_{name.lower()}=True for a transpose)")
    return x


def gemm(A, B, C, trans_a=False, trans_b=False, accumulate=False):
    """``C = op(A) @ op(B)``, or ``C += op(A) @ op(B)`` where ``accumulate``, in place.

    Parameters
    ----------
    A : ndarray, (M, K), or (K, M) with ``trans_a``; float32 or float64, C-contiguous
    B : ndarray, (K, N), or (N, K) with ``trans_b``; ``A``'s dtype, C-contiguous
    C : ndarray, (M, N); ``A``'s dtype, C-contiguous, apart from ``A`` and ``B``; written
        (or added to)
    trans_a, trans_b : bool
        ``op(X)`` is ``X.T`` where set (the transpose is read by the packing, not copied).
    accumulate : bool
        Add the product to ``C`` (BLAS's beta = 1) instead of overwriting it.

    Returns ``C``. With more than one Numba thread (:func:`numba.get_num_threads`) the
    columns (or rows) are shared among the threads.
    """
    C = _operand("C", C)
    A, B = _operand("A", A, C.dtype), _operand("B", B, C.dtype)
    m, k = A.shape[::-1] if trans_a else A.shape
    k_b, n = B.shape[::-1] if trans_b else B.shape
    if k != k_b or C.shape != (m, n):
        raise ValueError(f"gemm: op(A) {(m, k)} @ op(B) {(k_b, n)} does not give C's shape "
                         f"{C.shape}")
    if any(np.may_share_memory(C, x) for x in (A, B)):
        raise ValueError("gemm: C must not share memory with A or B")
    return _run(A, B, C, bool(trans_a), bool(trans_b), bool(accumulate), m * k * n)


def _run(A, B, C, ta, tb, accumulate, work):
    """:func:`gemm` on checked arguments (``work``: its multiply-adds): a product with few
    columns as its transpose (:func:`_narrow`), threaded where Numba has more than one thread
    and the product is large enough, else serial."""
    if _narrow(*C.shape, C.itemsize):      # C^T = op(B)^T op(A)^T, C's few columns as rows
        CT = _run(B, A, np.empty(C.shape[::-1], C.dtype), not tb, not ta, False, work)
        if accumulate:
            C += CT.T
        else:
            C[...] = CT.T
        return C
    threads = pool_threads(work, THREADED_WORK)
    if threads > 1:
        _gemm_threaded(A, B, C, ta, tb, accumulate, threads)
    else:
        gemm_serial(A, B, C, ta, tb, accumulate)
    return C


def _narrow(m, n, itemsize):
    """Whether an (m, n) product fills under 3/4 of the tiles' cells that its transpose fills:
    a few columns (a classifier's 10) in tiles two SIMD vectors wide, against a few rows in
    panels of PANEL. As its transpose, (256, 1024) @ (1024, 10) in float32 ran in 107 us
    instead of 145 (OpenBLAS 103), (1024, 256).T @ (256, 10) in 96 instead of 193 (138)."""
    width = 2 * VECTOR_BYTES // itemsize
    cells = -(-m // PANEL) * PANEL * (-(-n // width) * width)
    transposed = -(-n // PANEL) * PANEL * (-(-m // width) * width)
    return 4 * transposed < 3 * cells


#: products of fewer multiply-adds go to BLAS, which runs them on the calling thread alone
#: (measured: OpenBLAS's workers stayed idle through 2^19, ran from 2^20)
BLAS_WORK = 1 << 19


def preferred(m, k, n):
    """Whether :func:`gemm` makes an (m, k) @ (k, n) product: from :data:`BLAS_WORK`
    multiply-adds up, whatever the dtype, the transposes and the thread count.

    So BLAS never runs on its own threads: its workers spin for milliseconds after each call
    and took the cores from Numba's threads (an MLP forward pass with one such product, the
    10-class layer, ran in 6.3 ms instead of 3.3 at 2 threads a side). And a product's bits do
    not depend on the thread count (the threaded GEMM gives the serial bits). On one thread of
    the benchmark machine this GEMM ran at 1.0-1.1x OpenBLAS on the sweeps' float32 layers
    (``op(B)`` transposed too; benchmarks/gemm.py), the few-column ones as their transposes
    level with it; float64 level (0.85-1.05x). Smaller products cost more in the call and the
    blocking than they save."""
    return m * k * n >= BLAS_WORK


def product(A, B, trans_a=False, trans_b=False):
    """``op(A) @ op(B)`` of 2-D arrays (``op`` a transpose where asked) as a new array:
    :func:`gemm` where :func:`preferred` and the operands suit it (C-contiguous, one float
    dtype), else NumPy's ``@`` (BLAS)."""
    if suits(A, B):
        m, k = A.shape[::-1] if trans_a else A.shape
        k_b, n = B.shape[::-1] if trans_b else B.shape
        if k == k_b and preferred(m, k, n):
            return _run(A, B, np.empty((m, n), A.dtype), bool(trans_a), bool(trans_b), False,
                        m * k * n)
    return (A.T if trans_a else A) @ (B.T if trans_b else B)


def suits(*arrays):
    """Whether ``arrays`` are 2-D C-contiguous arrays of one dtype, float32 or float64."""
    return all(isinstance(x, np.ndarray) and x.ndim == 2 and x.flags.c_contiguous and
               x.dtype == arrays[0].dtype for x in arrays) and \
        arrays[0].dtype in (np.float32, np.float64)
