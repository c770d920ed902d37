"""Small matrix products with a packed left operand: the per-step products of the recurrent
kernels (:mod:`.recurrent`), ``C = A @ B`` with ``A`` (M, K) the same at every step (the
recurrent weights) and ``B`` (K, N) the step's states, N the batch (contiguous).

NumPy's OpenBLAS ran these products (M 256-2048, K 64-2048, N 32-256, float32, one thread)
at 100-150 GFLOP/s on the benchmark machine (a Sapphire Rapids class Xeon), 55-85% of this
kernel's 150-190: each call packs ``A`` again and its kernels are tuned for large products.
Here ``A`` is packed once per sequence (:func:`pack`) into panels of :data:`PANEL` rows, each
(K, PANEL) so that one step of the inner loop reads PANEL consecutive values, and the product
runs a register-blocked micro-kernel (:func:`_tile2`, :func:`_tile1`): a tile of PANEL rows by
2 (or 1) SIMD vectors of columns held in 24 (12) vector registers over a pass of K, each step
of K one outer product (a row of ``B`` loaded as vectors, each panel value broadcast, one
fused multiply-add per accumulator). The tile is written as LLVM vector code (``<16 x float>``
or ``<8 x double>``, 512 bits; without AVX-512 a tile of 6 rows of 256-bit vectors), because
LLVM's loop vectoriser does not keep a tile of accumulators in registers across a loop over K.
Columns past the last whole vector run in a plain loop. K runs in passes of :data:`DEPTH`
(a panel's part stays in L1) and the columns in blocks whose part of ``B`` stays in L2
(:data:`L2_BYTES`): without them a (512, 2048) x (2048, 256) product ran at half speed. A
bias per row can start the sums (the recurrent input products ``W.T X + b``), and ``B``, ``C``
may be slices of larger arrays (any row stride). Each pass sums its part of K in order, one
fused multiply-add a term, and the passes' sums are added: the bits differ from BLAS's, within
float rounding.
"""
import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic


def _has_avx512():
    """Whether the host CPU has AVX-512 (32 vector registers of 512 bits)."""
    try:
        from llvmlite import binding
        return bool(binding.get_host_cpu_features().get("avx512f", False))
    except (ImportError, RuntimeError):
        return False


# the tile fills 24 of AVX-512's 32 registers; elsewhere (AVX2: 16 registers of 256 bits) a
# 6-row tile of 256-bit vectors keeps to 12
WIDE = _has_avx512()
PANEL = 12 if WIDE else 6           # rows of A per packed panel, rows of a tile
VECTOR_BYTES = 64 if WIDE else 32   # one SIMD vector
L2_BYTES = 1 << 18  # the part of B that one block of columns may take (of a 1-2 MB L2)
DEPTH = 512         # K per pass over the panels (a panel's part: PANEL * DEPTH values)


@njit(cache=True)
def packed_shape(m, k):
    """Shape of the packed form of an (m, k) matrix: (panels, k, PANEL)."""
    return (-(-m // PANEL), k, PANEL)


@njit(cache=True)
def pack(A, out):
    """``out`` (panels, K, PANEL) <- ``A`` (M, K) by panels of PANEL rows, panel ``p`` column
    ``r`` holding row ``p * PANEL + r`` (zeros past row M); see :func:`packed_shape`."""
    m, depth = A.shape
    zero = out.dtype.type(0)
    for p in range(out.shape[0]):
        for r in range(PANEL):
            i = p * PANEL + r
            if i < m:
                for k in range(depth):
                    out[p, k, r] = A[i, k]
            else:
                for k in range(depth):
                    out[p, k, r] = zero


def vector_types(context, dtype):
    """``(bytes, lanes, scalar, vector)`` of the Numba float ``dtype`` in a register tile: its
    size, the lanes of a :data:`VECTOR_BYTES` SIMD vector, and their LLVM types."""
    size = dtype.bitwidth // 8
    scalar = context.get_value_type(dtype)
    return size, VECTOR_BYTES // size, scalar, ir.VectorType(scalar, VECTOR_BYTES // size)


def register_loop(builder, depth, inits, step):
    """Emit ``for k in range(depth): accs = step(k, accs)`` in LLVM, the accumulators (LLVM
    values, ``inits`` on entry) held in registers as phi nodes across the loop; ``step(k,
    accs)`` emits one pass's code and returns the new accumulators. Returns the accumulators
    after the loop, with ``builder`` placed there. The K-loop of a register tile."""
    i64 = ir.IntType(64)
    entry = builder.block
    header = builder.append_basic_block("tile.k")
    body = builder.append_basic_block("tile.body")
    done = builder.append_basic_block("tile.done")
    builder.branch(header)
    builder.position_at_end(header)
    k = builder.phi(i64)
    accs = [builder.phi(init.type) for init in inits]
    k.add_incoming(i64(0), entry)
    for acc, init in zip(accs, inits):
        acc.add_incoming(init, entry)
    builder.cbranch(builder.icmp_signed("<", k, depth), body, done)
    builder.position_at_end(body)
    new = step(k, accs)
    k.add_incoming(builder.add(k, i64(1)), builder.block)
    for acc, value in zip(accs, new):
        acc.add_incoming(value, builder.block)
    builder.branch(header)
    builder.position_at_end(done)
    return accs


def _tile_intrinsic(vectors, prefetch_c=False):
    """An intrinsic ``tile(Ap, a_off, B, b_off, ldb, C, c_off, ldc, depth, rows, add, bias,
    bias_off)``: the C tile of ``rows`` (<= PANEL) rows by ``vectors`` SIMD vectors of
    columns, ``C[c_off + r * ldc + j] (+)= init_r + sum_k Ap[a_off + k * PANEL + r] *
    B[b_off + k * ldb + j]`` (offsets and strides in elements; ``+=`` where ``add``; ``init_r``
    is ``bias[bias_off + r]`` where ``bias`` has entries and not ``add``, else 0; the packed
    panel's rows past ``rows`` are computed, not stored). With ``prefetch_c`` the tile first
    asks for C's cache lines, which arrive while the sums run."""
    def tile(typingctx, ap, a_off, b, b_off, ldb, c, c_off, ldc, depth, rows, add, bias,
             bias_off):
        arrays = (ap, b, c, bias)
        if not (all(isinstance(t, types.Array) for t in arrays) and
                ap.dtype == b.dtype == c.dtype == bias.dtype and
                ap.dtype in (types.float32, types.float64)):
            return None
        sig = types.void(ap, types.intp, b, types.intp, types.intp, c, types.intp, types.intp,
                         types.intp, types.intp, types.boolean, bias, types.intp)

        def codegen(context, builder, signature, args):
            dtype = signature.args[0].dtype
            size, lanes, scalar, vec = vector_types(context, dtype)
            i32, i64 = ir.IntType(32), ir.IntType(64)
            structs = {i: context.make_array(signature.args[i])(context, builder, args[i])
                       for i in (0, 2, 5, 11)}
            a_off, b_off, ldb, c_off, ldc, depth, rows, add, bias_off = \
                (args[i] for i in (1, 3, 4, 6, 7, 8, 9, 10, 12))
            a0 = builder.gep(structs[0].data, [a_off], inbounds=True)
            b0 = builder.gep(structs[2].data, [b_off], inbounds=True)
            c0 = builder.gep(structs[5].data, [c_off], inbounds=True)
            fma = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(vec, [vec] * 3),
                f"llvm.fma.v{lanes}f{dtype.bitwidth}")
            splat_mask = ir.Constant(ir.VectorType(i32, lanes), [0] * lanes)
            undef = ir.Constant(vec, ir.Undefined)

            def splat(value):
                return builder.shuffle_vector(builder.insert_element(undef, value, i32(0)),
                                              undef, splat_mask)

            def vector_at(base, offset):
                return builder.bitcast(builder.gep(base, [offset], inbounds=True),
                                       vec.as_pointer())

            if prefetch_c:      # C's lines asked for now, to arrive while the sums run
                prefetch = cgutils.get_or_insert_function(builder.module, ir.FunctionType(
                    ir.VoidType(), [ir.IntType(8).as_pointer(), i32, i32, i32]),
                    "llvm.prefetch.p0i8")
                for r in range(PANEL):
                    with builder.if_then(builder.icmp_signed(">", rows, i64(r)), likely=True):
                        for j in sorted({0, *range(lanes, vectors * lanes, lanes),
                                         vectors * lanes - 1}):
                            at = builder.gep(c0, [builder.add(builder.mul(i64(r), ldc),
                                                              i64(j))], inbounds=True)
                            builder.call(prefetch, [builder.bitcast(
                                at, ir.IntType(8).as_pointer()), i32(1), i32(3), i32(1)])
            # the initial accumulators: the bias of each row (a zero in memory where there
            # is none, or past ``rows``), so that no load leaves the arrays
            zero_slot = cgutils.alloca_once_value(builder, ir.Constant(scalar, 0))
            has_bias = builder.and_(builder.icmp_signed(">", cgutils.unpack_tuple(
                builder, structs[11].shape)[0], i64(0)), builder.not_(add))
            inits = []
            for r in range(PANEL):
                use = builder.and_(has_bias, builder.icmp_signed(">", rows, i64(r)))
                at = builder.select(use, builder.gep(structs[11].data,
                                                     [builder.add(bias_off, i64(r))]), zero_slot)
                inits.append(splat(builder.load(at)))
            def step(k, accs):      # a row of B as vectors, a column of A broadcast
                b_row = builder.mul(k, ldb)
                bs = [builder.load(vector_at(b0, builder.add(b_row, i64(v * lanes))),
                                   align=size) for v in range(vectors)]
                a_row = builder.mul(k, i64(PANEL))
                new = []
                for r in range(PANEL):
                    a = splat(builder.load(builder.gep(a0, [builder.add(a_row, i64(r))],
                                                       inbounds=True)))
                    new += [builder.call(fma, [a, bs[v], accs[r * vectors + v]])
                            for v in range(vectors)]
                return new
            accs = register_loop(builder, depth, [inits[i // vectors]
                                                  for i in range(PANEL * vectors)], step)
            for r in range(PANEL):
                with builder.if_then(builder.icmp_signed(">", rows, i64(r)), likely=True):
                    row = builder.mul(i64(r), ldc)
                    for v in range(vectors):
                        at = vector_at(c0, builder.add(row, i64(v * lanes)))
                        with builder.if_else(add) as (then, otherwise):
                            with then:
                                builder.store(builder.fadd(builder.load(at, align=size),
                                                           accs[r * vectors + v]), at, align=size)
                            with otherwise:
                                builder.store(accs[r * vectors + v], at, align=size)
            return context.get_dummy_value()
        return sig, codegen
    tile.__name__ = tile.__qualname__ = f"_tile{vectors}{'_prefetch' if prefetch_c else ''}"
    return intrinsic(tile)


_tile2 = _tile_intrinsic(2)
_tile1 = _tile_intrinsic(1)
_tile2_prefetch = _tile_intrinsic(2, prefetch_c=True)


@njit(cache=True, inline="always")
def _tail(Ap, p, B, C, lo, hi, k0, k1, rows, add, bias):
    """Columns ``lo:hi`` of the rows of panel ``p`` (fewer than one SIMD vector), plainly."""
    for r in range(rows):
        i = p * PANEL + r
        if not add:
            init = bias[i] if bias.shape[0] else C.dtype.type(0)
            for j in range(lo, hi):
                C[i, j] = init
        for k in range(k0, k1):
            a = Ap[p, k, r]
            for j in range(lo, hi):
                C[i, j] += a * B[k, j]


@njit(cache=True)
def packed_matmul(Ap, B, C, bias=None):
    """``C = A @ B (+ bias[:, None])`` for ``A`` (M, K) packed by :func:`pack` into ``Ap``
    (panels, K, PANEL), ``B`` (K, N) and ``C`` (M, N) of ``Ap``'s dtype (float32 or float64),
    2-D with contiguous rows (any row stride: a (K, N) slice of a larger array will do) and
    ``bias`` (M,) or None; M is ``C``'s rows."""
    m, n = C.shape
    depth = B.shape[0]
    if Ap.shape[1] != depth or Ap.shape[2] != PANEL or B.shape[1] != n or \
            Ap.shape[0] * PANEL < m or (Ap.shape[0] - 1) * PANEL >= max(m, 1):
        raise ValueError("packed_matmul: shapes do not match")
    size = C.itemsize
    if n > 1 and ((depth and B.strides[1] != size) or (m and C.strides[1] != size)) or \
            B.strides[0] % size or C.strides[0] % size:
        raise ValueError("packed_matmul: B and C need contiguous rows")
    shift = np.empty(0, C.dtype) if bias is None else bias
    if bias is not None and (bias.shape[0] != m or (m > 1 and bias.strides[0] != size)):
        raise ValueError("packed_matmul: bias must be a contiguous vector of C's rows")
    ldb, ldc = B.strides[0] // size, C.strides[0] // size
    lanes = VECTOR_BYTES // size
    # K in chunks of DEPTH (a panel's chunk stays in L1), columns in blocks whose part of B
    # (DEPTH, block) stays in L2 while every panel of A passes
    chunk = max(min(depth, DEPTH), 1)
    block = max(2 * lanes, (L2_BYTES // (chunk * size)) // (2 * lanes) * 2 * lanes)
    for lo in range(0, n, block):
        hi = min(lo + block, n)
        for k0 in range(0, max(depth, 1), chunk):
            k1 = min(k0 + chunk, depth)
            add = k0 > 0
            for p in range(Ap.shape[0]):
                rows = min(PANEL, m - p * PANEL)
                a_off = (p * depth + k0) * PANEL
                j = lo
                while j + 2 * lanes <= hi:
                    _tile2(Ap, a_off, B, k0 * ldb + j, ldb, C, p * PANEL * ldc + j, ldc, k1 - k0,
                           rows, add, shift, p * PANEL)
                    j += 2 * lanes
                if j + lanes <= hi:
                    _tile1(Ap, a_off, B, k0 * ldb + j, ldb, C, p * PANEL * ldc + j, ldc, k1 - k0,
                           rows, add, shift, p * PANEL)
                    j += lanes
                if j < hi:
                    _tail(Ap, p, B, C, j, hi, k0, k1, rows, add, shift)


def packed(A):
    """``A`` (M, K) packed for :func:`packed_matmul` (a new array of ``A``'s dtype)."""
    A = np.ascontiguousarray(A)
    out = np.empty(packed_shape(*A.shape), A.dtype)
    pack(A, out)
    return out
