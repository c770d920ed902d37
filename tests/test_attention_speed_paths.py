"""The register-tile products of neurosim.kernels.attention (_product: narrow and wide tiles,
partial row tiles, masked last vectors, transposed and strided left operands, row ranges, zero
depth) against NumPy, and the attention op at the head widths of the users' sweeps (16, 32, 64)
with one and several query panels, causal and padded, against PyTorch in float64 and within
float32 rounding."""
import numpy as np
import pytest

from neurosim.kernels import attention as katt
from neurosim.nn.attention import attention
from neurosim.nn.tensor import Tensor

pytestmark = pytest.mark.kernel
R = np.random.default_rng(5)


def _left(m, depth, dtype, layout):
    """An (m, depth) operand: C order, a transposed view, or a column slice of a wider array."""
    a = R.standard_normal((m, depth)).astype(dtype)
    if layout == "transposed":
        return np.ascontiguousarray(a.T).T
    if layout == "strided":
        wide = np.zeros((m, 3 * depth + 2), dtype)
        wide[:, 1:depth + 1] = a
        return wide[:, 1:depth + 1]
    return a


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("layout", ["c", "transposed", "strided"])
@pytest.mark.parametrize("m, depth, n", [(1, 1, 1), (7, 5, 16), (37, 16, 17), (16, 40, 64),
                                         (33, 3, 5), (20, 0, 33), (45, 24, 130)])
def test_product_matches_numpy(dtype, layout, m, depth, n):
    A = _left(m, depth, dtype, layout)
    B = R.standard_normal((depth, n + 3)).astype(dtype)[:, :n]       # rows with a stride
    C = np.full((m, n + 2), 7.0, dtype)
    katt._product(A, B, C, 0, m, n, depth)
    want = A.astype(np.float64) @ B.astype(np.float64)
    tol = 1e-13 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(C[:, :n], want, rtol=0, atol=tol * max(1.0, np.abs(want).max()))
    assert (C[:, n:] == 7.0).all()                      # nothing written past the columns


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_product_row_range_and_shorter_depth(dtype):
    A = R.standard_normal((40, 30)).astype(dtype)
    B = R.standard_normal((30, 20)).astype(dtype)
    C = np.zeros((40, 20), dtype)
    katt._product(A, B, C, 9, 27, 18, 11)
    want = np.zeros((40, 20))
    want[9:27, :18] = A[9:27, :11].astype(np.float64) @ B[:11, :18]
    np.testing.assert_allclose(C, want, rtol=0, atol=1e-5 * np.abs(want).max())


def _torch_reference(torch, q, k, v, heads, causal, pad, g):
    """PyTorch float64: the output and the gradients of ``sum(out * g)``."""
    b, tq, width = q.shape
    tk = k.shape[1]

    def split(x):
        return x.reshape(b, x.shape[1], heads, -1).transpose(1, 2)
    tq_, tk_, tv_ = (torch.tensor(x, requires_grad=True) for x in (q, k, v))
    allowed = torch.ones((b, 1, tq, tk), dtype=torch.bool)
    if causal:
        allowed &= torch.ones((tq, tk), dtype=torch.bool).tril()
    if pad is not None:
        allowed &= ~torch.tensor(pad)[:, None, None, :]
    out = torch.nn.functional.scaled_dot_product_attention(split(tq_), split(tk_), split(tv_),
                                                           attn_mask=allowed)
    out = out.transpose(1, 2).reshape(b, tq, -1)
    (out * torch.tensor(g)).sum().backward()
    return [t.detach().numpy() for t in (out, tq_.grad, tk_.grad, tv_.grad)]


CASES = [(16, 20, False, False), (16, 37, True, False), (32, 16, False, True),
         (32, 35, True, True), (64, 18, True, False)]


def _case(width, steps, padded, dtype=np.float64, heads=4, batch=2):
    q, k, v = (R.standard_normal((batch, steps, heads * width)).astype(dtype) for _ in range(3))
    pad = None
    if padded:
        pad = np.zeros((batch, steps), bool)
        pad[0, steps - 5:] = True
    g = R.standard_normal((batch, steps, heads * width)).astype(dtype)
    return q, k, v, pad, g


def _ours(q, k, v, heads, causal, pad, g):
    tq, tk, tv = (Tensor(x, requires_grad=True) for x in (q, k, v))
    out, _ = attention(tq, tk, tv, heads, causal=causal, key_padding_mask=pad)
    (out * g).sum().backward()
    return [out.data, tq.grad, tk.grad, tv.grad]


@pytest.mark.parametrize("width, steps, causal, padded", CASES)
def test_attention_matches_pytorch_float64(width, steps, causal, padded):
    torch = pytest.importorskip("torch")
    q, k, v, pad, g = _case(width, steps, padded)
    want = _torch_reference(torch, q, k, v, 4, causal, pad, g)
    for ours, theirs in zip(_ours(q, k, v, 4, causal, pad, g), want):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("width, steps, causal, padded", CASES)
def test_attention_float32_within_rounding(width, steps, causal, padded):
    q, k, v, pad, g = _case(width, steps, padded)
    want = _ours(q, k, v, 4, causal, pad, g)
    got = _ours(*(x.astype(np.float32) for x in (q, k, v)), 4, causal, pad, g.astype(np.float32))
    for ours, theirs in zip(got, want):
        assert ours.dtype == np.float32
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=3e-5 * np.abs(theirs).max())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("tq, tk", [(9, 26), (20, 37), (37, 20)])
def test_causal_blocks_of_other_key_counts_match_pytorch(dtype, tq, tk):
    """Causal attention with more keys than queries (keys past the last query see no query:
    their gradients are exactly zero) or fewer, every entry of the output and the gradients
    against PyTorch's float64 (``tril`` of the (queries, keys) block, as its ``is_causal``)."""
    torch = pytest.importorskip("torch")
    q, g = (R.standard_normal((2, tq, 4 * 16)) for _ in range(2))
    k, v = (R.standard_normal((2, tk, 4 * 16)) for _ in range(2))
    want = _torch_reference(torch, q, k, v, 4, True, None, g)
    got = _ours(*(x.astype(dtype) for x in (q, k, v)), 4, True, None, g.astype(dtype))
    tol = 1e-10 if dtype == np.float64 else 3e-5
    for ours, theirs in zip(got, want):
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=tol * np.abs(theirs).max())
    if tk > tq:
        assert not got[2][:, tq:].any() and not got[3][:, tq:].any()
