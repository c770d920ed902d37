"""The packed matrix product of the recurrent kernels (neurosim.kernels.gemm) against NumPy's
``@`` in float64 (to rounding: every shape path of the product, the SIMD tiles of two and one
vectors, the column tail, the split of K into passes, the blocks of columns, a last panel of
fewer rows, empty sides) and in float32; packing; shape errors."""
import numpy as np
import pytest

from neurosim.kernels import gemm

R = np.random.default_rng(0)


def product(A, B):
    C = np.full((A.shape[0], B.shape[1]), np.nan, A.dtype)
    gemm.packed_matmul(gemm.packed(A), B, C)
    return C


@pytest.mark.kernel
@pytest.mark.parametrize("m, k, n", [
    (1, 1, 1), (12, 5, 16), (13, 7, 8), (25, 9, 3),       # one tile, one vector, tail only
    (30, 40, 75),                                          # 2-vector tiles, a 1-vector tile, tail
    (7, 600, 20),                                          # K in two passes (the second adds)
    (29, 513, 83),                                         # passes and blocks of columns
    (5, 0, 17), (0, 4, 9), (6, 3, 0)])                     # empty sides
def test_product_matches_numpy_float64(m, k, n):
    A, B = R.standard_normal((m, k)), R.standard_normal((k, n))
    np.testing.assert_allclose(product(A, B), A @ B, rtol=1e-12, atol=1e-12 * np.sqrt(k + 1))


@pytest.mark.kernel
def test_product_float32_within_float32_rounding():
    A, B = R.standard_normal((50, 300)), R.standard_normal((300, 70))
    C = product(A.astype(np.float32), B.astype(np.float32))
    assert C.dtype == np.float32
    exact = A.astype(np.float32).astype(np.float64) @ B.astype(np.float32).astype(np.float64)
    # a sum of 300 products: within a few times sqrt(300) float32 roundings of its terms
    scale = np.abs(A.astype(np.float32)) @ np.abs(B.astype(np.float32))
    assert np.all(np.abs(C - exact) <= 300 * np.finfo(np.float32).eps * scale)


@pytest.mark.kernel
def test_packing_layout():
    rows = 2 * gemm.PANEL + 2
    A = np.arange(rows * 3, dtype=np.float64).reshape(rows, 3)
    P = gemm.packed(A)
    assert P.shape == gemm.packed_shape(rows, 3) == (3, 3, gemm.PANEL)
    np.testing.assert_array_equal(P[1, 2, 4], A[gemm.PANEL + 4, 2])
    np.testing.assert_array_equal(P[2, :, 2:], 0.0)          # rows past the last are zeros
    np.testing.assert_array_equal(P[2, :, :2], A[-2:].T)


@pytest.mark.kernel
def test_shape_mismatch_is_refused():
    A, B = R.standard_normal((20, 6)), R.standard_normal((6, 9))
    for Bbad, C in ((R.standard_normal((5, 9)), np.empty((20, 9))),
                    (B, np.empty((20, 8))), (B, np.empty((40, 9))), (B, np.empty((3, 9)))):
        with pytest.raises(ValueError, match="packed_matmul"):
            gemm.packed_matmul(gemm.packed(A), Bbad, C)


@pytest.mark.kernel
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bias_and_strided_operands(dtype):
    """``C = A @ B + bias[:, None]`` with ``B`` and ``C`` slices of larger arrays (rows apart
    by more than their length), over two passes of K (the bias enters once)."""
    A = R.standard_normal((27, 520)).astype(dtype)
    big_b, big_c = R.standard_normal((520, 90)).astype(dtype), np.full((27, 70), np.nan, dtype)
    bias = R.standard_normal(27).astype(dtype)
    B, C = big_b[:, 5:56], big_c[:, 3:54]
    gemm.packed_matmul(gemm.packed(A), B, C, bias)
    exact = A.astype(np.float64) @ B + bias[:, None]
    tol = 1e-12 if dtype == np.float64 else 2e-4
    np.testing.assert_allclose(C, exact, rtol=tol, atol=tol * np.sqrt(520))
    assert np.isnan(big_c[:, :3]).all() and np.isnan(big_c[:, 54:]).all()   # nothing outside
    with pytest.raises(ValueError, match="contiguous rows"):
        gemm.packed_matmul(gemm.packed(A), big_b[:, ::2], np.empty((27, 45), dtype))
    with pytest.raises(ValueError, match="bias"):
        gemm.packed_matmul(gemm.packed(A), B, C, bias[:5])
