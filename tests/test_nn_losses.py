"""Losses: gradients against finite differences, values against SciPy/NumPy formulas and, for
the Gaussian KL, against numerical integration of its definition."""
import numpy as np
import pytest
from scipy import integrate, stats
from scipy.special import expit, xlogy

from neurosim import nn
from neurosim.nn import losses

R = np.random.default_rng(3)
A, C = R.standard_normal((4, 3)), R.standard_normal((4, 3))
PROB, SOFT = R.uniform(0.05, 0.95, (4, 3)), R.uniform(0.0, 1.0, (4, 3))
P = R.uniform(0.1, 1.0, (4, 3))
P /= P.sum(axis=1, keepdims=True)
Q = R.uniform(0.1, 1.0, (4, 3))
Q /= Q.sum(axis=1, keepdims=True)
LABELS = np.array([0, 2, 1, 2])

CASES = {
    "mse": (losses.mse, A, C),
    "bce": (losses.binary_cross_entropy, PROB, SOFT),
    "bce_logits": (losses.binary_cross_entropy_with_logits, A * 3, SOFT),
    "cross_entropy": (lambda z: losses.cross_entropy(z, LABELS), A),
    "kl": (losses.kl_divergence, P, Q),
    "kl_1d": (losses.kl_divergence, P[0], Q[0]),
    "gaussian_kl": (losses.gaussian_kl, A, C),
    "gaussian_kl_4d": (losses.gaussian_kl, R.standard_normal((2, 2, 2, 2)), R.standard_normal((2, 2, 2, 2))),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradient_matches_finite_differences(name):
    f, *args = CASES[name]
    assert nn.check_gradients(f, *args) < 1e-6


def test_values_match_formulas():
    assert losses.mse(A, C).item() == pytest.approx(np.mean((A - C) ** 2))
    bce = -(xlogy(SOFT, PROB) + xlogy(1 - SOFT, 1 - PROB)).mean()
    assert losses.binary_cross_entropy(PROB, SOFT).item() == pytest.approx(bce)
    p = np.exp(A) / np.exp(A).sum(axis=1, keepdims=True)
    assert losses.cross_entropy(A, LABELS).item() == pytest.approx(-np.log(p[np.arange(4), LABELS]).mean())
    assert losses.kl_divergence(P, Q).item() == pytest.approx(stats.entropy(P, Q, axis=1).mean())
    assert losses.kl_divergence(P[0], Q[0]).item() == pytest.approx(stats.entropy(P[0], Q[0]))
    assert losses.kl_divergence(P, P).item() == pytest.approx(0.0, abs=1e-15)
    for x in (A, nn.Tensor(A)):  # Tensors and arrays alike
        assert losses.mse(x, x).item() == 0.0
    assert losses.mse(A, C).shape == ()


def test_kl_with_zero_probabilities():
    p, q = np.array([[0.0, 0.5, 0.5]]), np.array([[0.2, 0.4, 0.4]])
    assert losses.kl_divergence(p, q).item() == pytest.approx(stats.entropy(p[0], q[0]))
    assert losses.kl_divergence(q, p).item() == np.inf
    qt = nn.Tensor(q, requires_grad=True)
    losses.kl_divergence(p, qt).backward()
    np.testing.assert_allclose(qt.grad, -p / q)


def test_gaussian_kl_matches_integral_of_definition():
    mean, log_var = np.array([[0.3, -1.2], [0.0, 2.0]]), np.array([[-0.5, 0.4], [0.0, -1.5]])
    sd = np.exp(0.5 * log_var)
    total = 0.0
    for mu, s in zip(mean.ravel(), sd.ravel()):
        # integral of q(z) log(q(z) / p(z)), q = N(mu, s^2), p = N(0, 1)
        integrand = lambda z, mu=mu, s=s: stats.norm.pdf(z, mu, s) * (stats.norm.logpdf(z, mu, s) - stats.norm.logpdf(z))  # noqa: E731
        total += integrate.quad(integrand, mu - 15 * s, mu + 15 * s, epsabs=1e-12)[0]
    assert losses.gaussian_kl(mean, log_var).item() == pytest.approx(total / 2, rel=1e-8)
    assert losses.gaussian_kl(np.zeros((3, 4)), np.zeros((3, 4))).item() == 0.0


def test_bce_with_logits_stable_and_equal_to_bce_of_sigmoid():
    target = (SOFT > 0.5).astype(float)
    assert losses.binary_cross_entropy_with_logits(A * 3, SOFT).item() == pytest.approx(
        losses.binary_cross_entropy(expit(A * 3), SOFT).item(), rel=1e-10)
    z = nn.Tensor(np.array([800.0, -800.0, 800.0, -800.0]), requires_grad=True)
    value = losses.binary_cross_entropy_with_logits(z, np.array([0.0, 1.0, 1.0, 0.0]))
    assert value.item() == pytest.approx(400.0)  # two confident misses of 800 nats, two hits of 0
    value.backward()
    np.testing.assert_allclose(z.grad, [0.25, -0.25, 0.0, 0.0])
    assert np.isfinite(losses.binary_cross_entropy_with_logits(A * 1e3, target).item())


def test_bce_with_logits_float32_lanes_within_float32_rounding():
    """The float32 kernel (polynomial exponential and log1p in SIMD lanes) against the float64
    one on the same values: logits from 1e-3 to 1e4 in size, past the exponential's +-87
    cut-off, over several of its blocks; the sum to 1e-7 relative, the gradient to 2 float32
    ulps of 1; an out-of-range target is still refused."""
    rng = np.random.default_rng(3)
    z = np.concatenate([rng.standard_normal(5000) * s for s in (1e-3, 1, 8, 100, 1e4)])
    z = np.concatenate([z, [0.0, 86.9, -86.9, 87.1, -87.1, 88.5, -88.5]]).astype(np.float32)
    t = rng.random(z.size).astype(np.float32)
    exact = nn.Tensor(z.astype(np.float64), requires_grad=True)
    lanes = nn.Tensor(z, requires_grad=True)
    values = [losses.binary_cross_entropy_with_logits(x, t) for x in (exact, lanes)]
    for v in values:
        v.backward()
    assert values[1].item() == pytest.approx(values[0].item(), rel=1e-7)
    np.testing.assert_allclose(lanes.grad * z.size, exact.grad * z.size, rtol=0, atol=2.4e-7)
    with pytest.raises(ValueError, match="target"):
        losses.binary_cross_entropy_with_logits(z[:3], np.array([0.5, 1.5, 0.0], np.float32))


def test_bce_clips_inside_the_log():
    p = nn.Tensor(np.array([0.0, 1.0, 0.5]), requires_grad=True)
    value = losses.binary_cross_entropy(p, np.array([1.0, 0.0, 1.0]))
    assert value.item() == pytest.approx((2 * -np.log(1e-12) + np.log(2)) / 3)
    value.backward()
    np.testing.assert_allclose(p.grad, [0.0, 0.0, -2 / 3])  # no gradient where the clip acts


def test_gradient_reaches_targets_only_when_asked():
    t = nn.Tensor(C, requires_grad=True)
    losses.mse(A, t).backward()
    np.testing.assert_allclose(t.grad, -2 * (A - C) / A.size)
    assert not losses.mse(A, C).requires_grad


@pytest.mark.parametrize("name", ["mse", "bce", "bce_logits", "cross_entropy", "kl", "gaussian_kl"])
def test_float32_stays_float32(name):
    f, *args = CASES[name]
    x = nn.Tensor(args[0].astype(np.float32), requires_grad=True)
    out = f(x, *args[1:])  # a float64 constant takes the tensor's dtype
    assert out.dtype == np.float32 and out.size == 1
    out.backward()
    assert x.grad.dtype == np.float32


def test_registry():
    assert set(losses.LOSSES) == {"mse", "bce", "bce_logits", "cross_entropy", "kl"}
    assert losses.loss("bce_logits") is losses.binary_cross_entropy_with_logits
    custom = lambda pred, target: losses.mse(pred, target)  # noqa: E731
    assert losses.loss(custom) is custom
    with pytest.raises(ValueError, match="'bce'.*'mse'.*'hinge'"):
        losses.loss("hinge")
    with pytest.raises(TypeError, match="callable; got int"):
        losses.loss(3)


def test_bad_input():
    with pytest.raises(ValueError, match=r"mse: pred has shape \(4, 3\) but target has shape \(3,\)"):
        losses.mse(A, A[0])
    with pytest.raises(ValueError, match="prob has shape.*target has shape"):
        losses.binary_cross_entropy(PROB, PROB.T)
    with pytest.raises(ValueError, match="logits has shape.*target has shape"):
        losses.binary_cross_entropy_with_logits(A, SOFT[:2])
    with pytest.raises(ValueError, match="p has shape.*q has shape"):
        losses.kl_divergence(P, Q[:, :2])
    with pytest.raises(ValueError, match="mean has shape.*log_var has shape"):
        losses.gaussian_kl(A, C[:1])
    with pytest.raises(ValueError, match=r"prob must lie in \[0, 1\]; got values from -0.1 to"):
        losses.binary_cross_entropy(np.array([-0.1, 0.5]), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"target must lie in \[0, 1\].*NaN"):
        losses.binary_cross_entropy(np.array([0.2, 0.5]), np.array([np.nan, 1.0]))
    with pytest.raises(ValueError, match=r"target must lie in \[0, 1\]; got values from 0.0 to 2.0"):
        losses.binary_cross_entropy_with_logits(A[0], np.array([0.0, 2.0, 1.0]))
    with pytest.raises(ValueError, match="q must lie in >= 0"):
        losses.kl_divergence(P[0], np.array([1.2, -0.1, -0.1]))
    with pytest.raises(ValueError, match="p must lie in >= 0"):
        losses.kl_divergence(-P, Q)
    with pytest.raises(ValueError, match="scalars"):
        losses.kl_divergence(0.5, 0.5)
    with pytest.raises(ValueError, match=r"\(batch, latent...\)"):
        losses.gaussian_kl(A[0], C[0])
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        losses.cross_entropy(A, np.array([0, 3, 1, 2]))


@pytest.mark.kernel
def test_bce_float32_parallel_twin_gives_the_serial_bits():
    from neurosim.kernels import nn_losses as kl
    rng = np.random.default_rng(5)
    z = (rng.standard_normal(5 * 2048 + 77) * 20).astype(np.float32)
    t = rng.random(z.size).astype(np.float32)
    t[3 * 2048 + 5] = 1.5                        # one target out of range, in the fourth block
    blocks = -(-z.size // 2048)
    outs = []
    for kernel in kl.BCE32:
        grad, totals, bad = np.empty_like(z), np.empty(blocks), np.empty(blocks, np.int64)
        kernel(z, t, grad, totals, bad)
        outs.append((grad, totals, bad))
    for a, b in zip(*outs):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(outs[0][2], np.arange(blocks) == 3)
