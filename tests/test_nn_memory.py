"""NTM addressing and memory ops: against plain NumPy loops written from the paper's equations,
finite differences, and the properties the paper relies on."""
import numpy as np
import pytest

from neurosim.nn import check_gradients
from neurosim.nn import memory as nm

B, H, N, W = 2, 2, 5, 3


@pytest.fixture
def heads():
    r = np.random.default_rng(0)
    return dict(memory=r.standard_normal((B, N, W)), previous=r.dirichlet(np.ones(N), (B, H)),
                key=r.standard_normal((B, H, W)), beta=3 * r.random((B, H)),
                gate=r.random((B, H)), shift=r.dirichlet(np.ones(3), (B, H)),
                gamma=1 + 2 * r.random((B, H)), erase=r.random((B, H, W)),
                add=r.standard_normal((B, H, W)))


# ---------------------------------------------------------------- references, one head at a time
def ref_content(M, k, beta, eps=nm.EPS):
    cos = np.array([k @ m / (np.sqrt(k @ k + eps) * np.sqrt(m @ m + eps)) for m in M])
    e = np.exp(beta * cos)
    return e / e.sum()


def ref_shift(w, s):
    n, r = len(w), len(s) // 2
    out = np.zeros(n)
    for i in range(n):
        for j in range(n):
            offset = (i - j) % n            # s_{i-j}, the index taken mod n
            if offset <= r:
                out[i] += w[j] * s[r + offset]
            elif offset >= n - r:
                out[i] += w[j] * s[r + offset - n]
    return out


def ref_sharpen(w, gamma):
    return w ** gamma / (w ** gamma).sum()


def ref_address(M, prev, k, beta, g, s, gamma):
    return ref_sharpen(ref_shift(g * ref_content(M, k, beta) + (1 - g) * prev, s), gamma)


def per_head(fn, *args):
    """``fn`` applied to each (batch, head) slice; memory-like arguments (3-D, first) shared."""
    out = np.empty((B, H, N))
    for b in range(B):
        for h in range(H):
            out[b, h] = fn(*(a[b] if a.shape[1:] == (N, W) else a[b, h] for a in args))
    return out


def test_content_weighting_matches_paper(heads):
    got = nm.content_weighting(heads["memory"], heads["key"], heads["beta"]).data
    want = per_head(ref_content, heads["memory"], heads["key"], heads["beta"])
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_interpolate_shift_sharpen_match_paper(heads):
    prev, s, gamma, g = heads["previous"], heads["shift"], heads["gamma"], heads["gate"]
    other = prev[:, ::-1]
    np.testing.assert_allclose(nm.interpolate(prev, other, g).data,
                               g[..., None] * prev + (1 - g[..., None]) * other)
    np.testing.assert_allclose(nm.shift(prev, s).data, per_head(ref_shift, prev, s), rtol=1e-12)
    five = np.random.default_rng(1).dirichlet(np.ones(5), (B, H))   # R = 2 on N = 5
    np.testing.assert_allclose(nm.shift(prev, five).data, per_head(ref_shift, prev, five))
    np.testing.assert_allclose(nm.sharpen(prev, gamma).data, per_head(ref_sharpen, prev, gamma))


def test_address_is_the_four_stages(heads):
    names = ("memory", "previous", "key", "beta", "gate", "shift", "gamma")
    got = nm.address(*(heads[k] for k in names)).data
    np.testing.assert_allclose(got, per_head(ref_address, *(heads[k] for k in names)),
                               rtol=1e-12)


def test_read_and_write_match_paper(heads):
    M, w, e, a = heads["memory"], heads["previous"], heads["erase"], heads["add"]
    want_read = np.array([[sum(w[b, h, i] * M[b, i] for i in range(N)) for h in range(H)]
                          for b in range(B)])
    np.testing.assert_allclose(nm.read(M, w).data, want_read)
    want = M.copy()
    for h in range(H):                                      # every erase, then every add
        want *= 1 - w[:, h, :, None] * e[:, h, None, :]
    for h in range(H):
        want += w[:, h, :, None] * a[:, h, None, :]
    np.testing.assert_allclose(nm.write(M, w, e, a).data, want)


# ---------------------------------------------------------------- finite differences
def test_gradients_of_every_op(heads):
    M, prev, s = heads["memory"], heads["previous"], heads["shift"]
    M[0, 1] = 0.0                                           # a zero row: the epsilon's job
    key = heads["key"].copy()
    key[1, 0] = 0.0                                         # and a zero key
    args = (M, prev, key, heads["beta"], heads["gate"], s, heads["gamma"])
    assert check_gradients(nm.address, *args) < 1e-5
    assert check_gradients(nm.content_weighting, M, key, heads["beta"]) < 1e-5
    assert check_gradients(nm.interpolate, prev, prev[:, ::-1], heads["gate"]) < 1e-7
    assert check_gradients(nm.shift, prev, s) < 1e-7
    assert check_gradients(nm.sharpen, prev, heads["gamma"]) < 1e-7
    assert check_gradients(nm.read, M, prev) < 1e-7
    assert check_gradients(nm.write, M, prev, heads["erase"], heads["add"]) < 1e-7
    three = np.random.default_rng(2).random((B, 3, N))      # three write heads
    assert check_gradients(nm.write, M, three, three[..., :W], three[..., 1:W + 1]) < 1e-7


def test_sharpen_gradient_at_a_zero_entry():
    w = np.array([[[0.0, 0.3, 0.7]]])
    assert check_gradients(lambda g: nm.sharpen(w, g), np.array([[2.5]])) < 1e-7


# ---------------------------------------------------------------- properties
def test_weightings_are_distributions(heads):
    names = ("memory", "previous", "key", "beta", "gate", "shift", "gamma")
    w = nm.address(*(heads[k] for k in names)).data
    assert np.all(w >= 0)
    np.testing.assert_allclose(w.sum(-1), 1.0)


def test_shift_by_one_with_large_gamma_rotates_a_one_hot():
    onehot = np.zeros((1, 1, N))
    onehot[0, 0, 3] = 1.0
    w = nm.address(np.zeros((1, N, W)), onehot, np.zeros((1, 1, W)), np.zeros((1, 1)),
                   np.zeros((1, 1)), np.array([[[0.02, 0.03, 0.95]]]), np.array([[50.0]])).data
    np.testing.assert_allclose(w[0, 0], np.roll(onehot[0, 0], 1), atol=1e-9)
    assert w[0, 0].argmax() == 4


def test_content_with_large_beta_picks_the_matching_row(heads):
    M = heads["memory"]
    w = nm.content_weighting(M, 2.0 * M[:, [3, 1]], np.full((B, 2), 200.0)).data
    np.testing.assert_array_equal(w.argmax(-1), [[3, 1], [3, 1]])
    assert np.all(w.max(-1) > 0.99)


def test_zero_memory_gives_a_uniform_content_weighting():
    w = nm.content_weighting(np.zeros((1, N, W)), np.ones((1, 1, W)), np.ones((1, 1))).data
    np.testing.assert_allclose(w, 1.0 / N)


def test_full_erase_on_one_location_clears_that_row(heads):
    M = heads["memory"]
    w = np.zeros((B, 1, N))
    w[:, 0, 2] = 1.0
    out = nm.write(M, w, np.ones((B, 1, W)), np.zeros((B, 1, W))).data
    np.testing.assert_array_equal(out[:, 2], 0.0)
    np.testing.assert_array_equal(np.delete(out, 2, axis=1), np.delete(M, 2, axis=1))


def test_float32_stays_float32(heads):
    f = {k: v.astype(np.float32) for k, v in heads.items()}
    w = nm.address(f["memory"], f["previous"], f["key"], f["beta"], f["gate"], f["shift"],
                   f["gamma"])
    assert w.dtype == np.float32
    assert nm.write(f["memory"], w, f["erase"], f["add"]).dtype == np.float32


# ---------------------------------------------------------------- bad input
def test_bad_input(heads):
    M, prev = heads["memory"], heads["previous"]
    with pytest.raises(ValueError, match="memory must be 3-D"):
        nm.read(M[0], prev)
    with pytest.raises(ValueError, match="weighting must have shape"):
        nm.read(M, prev[..., :-1])
    with pytest.raises(ValueError, match="key must have shape"):
        nm.content_weighting(M, heads["key"][..., :2], heads["beta"])
    with pytest.raises(ValueError, match="eps must be > 0"):
        nm.content_weighting(M, heads["key"], heads["beta"], eps=0.0)
    with pytest.raises(ValueError, match="odd"):
        nm.shift(prev, np.full((B, H, 2), 0.5))
    with pytest.raises(ValueError, match="gamma must be >= 1"):
        nm.address(M, prev, heads["key"], heads["beta"], heads["gate"], heads["shift"],
                   np.full((B, H), 0.5))
    with pytest.raises(ValueError, match=">= 0 with a positive sum"):
        nm.sharpen(-prev, heads["gamma"])
    with pytest.raises(ValueError, match="add must have shape"):
        nm.write(M, prev, heads["erase"], heads["add"][:, :1])
    with pytest.raises(TypeError, match="numbers"):
        nm.read(np.full((B, N, W), "x"), prev)
