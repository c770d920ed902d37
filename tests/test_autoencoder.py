"""Autoencoders on the bundled digits: the AE reconstructs held-out digits far better than the
mean image does; the DAE restores masked digits better than an AE of the same size trained
on clean ones; the SAE's code units settle at the target activation rho; the VAE's KL term
matches its closed form and a Monte-Carlo estimate, its ELBO lies below an importance-sampled
log-likelihood, and training lowers the held-out negative ELBO. The fused ops (the
reparameterised sample and the sparsity penalty) match finite differences."""
import numpy as np
import pytest

from neurosim.datasets import digits_split
from neurosim.deep import (Autoencoder, DenoisingAutoencoder, SparseAutoencoder,
                           VariationalAutoencoder)
from neurosim.nn import check_gradients, losses, ops
from neurosim.nn.tensor import Tensor

SIZES = (64, 32, 16, 32, 64)


@pytest.fixture(scope="module")
def digits():
    return digits_split()


def mse(a, b):
    return float(((a - b) ** 2).mean())


@pytest.mark.parametrize("output, loss", [("sigmoid", "bce"), ("identity", "mse")])
def test_ae_beats_the_mean_image_on_held_out_digits(digits, output, loss, tmp_path):
    Xtr, Xte, _, _ = digits
    ae = Autoencoder((64, 32, 8, 32, 64), output=output, loss=loss, seed=0)
    h = ae.fit(Xtr, validation=Xte, epochs=10, seed=0)
    mean_image = mse(Xtr.mean(axis=0), Xte)                   # 0.074
    assert mse(ae.reconstruct(Xte), Xte) < 0.6 * mean_image   # seen 0.036 (bce), 0.037 (mse)
    assert h.val_loss.values[-1] < 0.8 * h.val_loss.values[0]
    assert h.attrs["family"] == "AE" and h.attrs["loss"] == loss
    assert h.sizes == {"step": 470, "epoch": 10}
    assert ae.encode(Xte).shape == (297, 8) and ae.predict(Xte).shape == (297, 64)
    np.testing.assert_allclose(ae.decode(ae.encode(Xte[:3])), ae.reconstruct(Xte[:3]))
    ae.save(tmp_path / "ae.nc")
    twin = Autoencoder((64, 32, 8, 32, 64), output=output, loss=loss, seed=1)
    np.testing.assert_array_equal(twin.load(tmp_path / "ae.nc").reconstruct(Xte),
                                  ae.reconstruct(Xte))


def test_dae_restores_masked_digits_better_than_a_plain_ae(digits):
    Xtr, Xte, _, _ = digits
    dae = DenoisingAutoencoder(SIZES, mask_rate=0.5, seed=0)
    ae = Autoencoder(SIZES, seed=0)
    dae.fit(Xtr, epochs=15, seed=0)
    ae.fit(Xtr, epochs=15, seed=0)
    masked = dae.corrupt(Xte, seed=1)
    restored = mse(dae.reconstruct(masked), Xte)
    assert restored < 0.5 * mse(masked, Xte)                  # seen 0.048 against 0.123
    assert restored < 0.95 * mse(ae.reconstruct(masked), Xte)  # seen 0.048 against 0.054
    assert dae.evaluate(Xte) == dae.evaluate(Xte)             # no noise when evaluating


def test_corruption_rates_and_seeds():
    X = np.full((400, 64), 0.5)
    dae = DenoisingAutoencoder((64, 8, 64), mask_rate=0.3, noise_std=0.1, seed=0)
    a, b = dae.corrupt(X, seed=3), dae.corrupt(X, seed=3)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, dae.corrupt(X, seed=4))
    masked = DenoisingAutoencoder((64, 8, 64), mask_rate=0.3, seed=0).corrupt(X, seed=0)
    assert abs((masked == 0).mean() - 0.3) < 0.01            # 25600 draws: sd 0.003
    noisy = DenoisingAutoencoder((64, 8, 64), mask_rate=0, noise_std=0.1, seed=0).corrupt(X, 0)
    assert abs((noisy - X).std() - 0.1) < 0.002 and abs((noisy - X).mean()) < 0.002


def test_sae_code_activation_approaches_rho(digits):
    Xtr, Xte, _, _ = digits
    mean = {}
    for beta in (0.0, 3.0):
        sae = SparseAutoencoder((64, 64, 64), rho=0.05, beta=beta, seed=0)
        h = sae.fit(Xtr, epochs=10, lr=1e-2, seed=0)
        mean[beta] = sae.mean_activation(Xte)
    assert h.attrs["family"] == "SAE"
    assert 0.03 < mean[3.0].mean() < 0.09 and mean[3.0].max() < 0.2   # seen 0.065, 0.10
    assert mean[0.0].mean() > 0.3                                      # seen 0.55
    assert mse(sae.reconstruct(Xte), Xte) < 0.5 * mse(Xtr.mean(axis=0), Xte)  # 0.026, 0.074


def test_sparsity_penalties_match_numpy_and_finite_differences():
    rng = np.random.default_rng(0)
    code = rng.uniform(0.05, 0.95, (6, 4))
    rho, m = 0.1, code.mean(axis=0)
    expected = np.sum(rho * np.log(rho / m) + (1 - rho) * np.log((1 - rho) / (1 - m)))
    assert losses.sparsity_kl(code, rho).item() == pytest.approx(expected, rel=1e-12)
    assert losses.sparsity_kl(np.full((3, 2), 0.2), 0.2).item() == pytest.approx(0.0, abs=1e-15)
    assert check_gradients(lambda c: losses.sparsity_kl(c, rho), code) < 1e-7
    sae = SparseAutoencoder((5, 4, 5), rho=rho, beta=2.0, l1=0.3, seed=0)
    penalty = sae._code_penalty(Tensor(code)).item()
    assert penalty == pytest.approx((2.0 * expected + 0.3 * np.abs(code).sum(axis=1).mean()) / 5)
    assert check_gradients(lambda c: sae._code_penalty(c), code) < 1e-7


def test_reparameterisation_gradients_match_finite_differences():
    rng = np.random.default_rng(1)
    mean, log_var, eps = rng.normal(size=(3, 4)), rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    z = ops.reparameterize(mean, log_var, eps).data
    np.testing.assert_allclose(z, mean + np.sqrt(np.exp(log_var)) * eps)
    assert check_gradients(lambda m, v: ops.reparameterize(m, v, eps), mean, log_var) < 1e-7
    # the whole negative ELBO of a small VAE with eps held fixed, through decoder and KL
    vae = VariationalAutoencoder((6, 5, 4, 5, 6), seed=0)
    x = rng.uniform(size=(3, 6))

    def negative_elbo(m, v):
        out = vae.decoder.forward(ops.reparameterize(m, v, eps))
        return ops.add(vae._reconstruction(out, x), losses.gaussian_kl(m, v))
    assert check_gradients(negative_elbo, mean, log_var) < 1e-6


@pytest.fixture(scope="module")
def trained_vae(digits):
    Xtr, Xte, _, _ = digits
    vae = VariationalAutoencoder((64, 32, 4, 32, 64), seed=0)
    before = vae.evaluate(Xte)
    history = vae.fit(Xtr, validation=Xte, epochs=8, seed=0)
    return vae, before, history


def test_vae_training_lowers_the_held_out_negative_elbo(digits, trained_vae):
    vae, before, history = trained_vae
    assert history.attrs["loss_units"] == "nats per image"
    assert before > 40                                    # seen 45.4: an untrained decoder
    assert history.val_loss.values[-1] < 0.65 * before    # seen 26.5
    assert history.val_loss.values[-1] == pytest.approx(-vae.elbo(digits[1]).mean())
    assert history.val_kl.values[-1] == pytest.approx(vae.kl(digits[1]).mean())
    assert np.all(history.val_kl.values > 0)


def test_vae_kl_matches_closed_form_and_monte_carlo(digits, trained_vae):
    vae = trained_vae[0]
    X = digits[1][:5]
    mean, log_var = vae.posterior(X)
    kl = vae.kl(X)
    sd = np.exp(0.5 * log_var)             # per dimension: log(1/s) + (s^2 + m^2 - 1) / 2
    np.testing.assert_allclose(kl, (-np.log(sd) + (sd ** 2 + mean ** 2 - 1) / 2).sum(axis=1))
    assert losses.gaussian_kl(mean, log_var).item() == pytest.approx(kl.mean())
    eps = np.random.default_rng(0).standard_normal((20000, *mean.shape))
    z = mean + sd * eps
    log_ratio = (-0.5 * eps ** 2 - np.log(sd) + 0.5 * z ** 2).sum(axis=2)   # log q - log p
    se = log_ratio.std(axis=0) / np.sqrt(len(eps))
    assert np.all(np.abs(log_ratio.mean(axis=0) - kl) < 4 * se)


def test_vae_elbo_is_a_lower_bound(digits, trained_vae):
    vae = trained_vae[0]
    X = digits[1][:20]
    elbo = vae.elbo(X, samples=1000, seed=1).mean()       # standard error about 0.02
    log_px = vae.log_likelihood(X, samples=2000, seed=2).mean()
    assert elbo + 0.1 < log_px < elbo + 5                 # seen -26.60 < -26.36
    np.testing.assert_array_equal(vae.log_likelihood(X[:2], 50, seed=3),
                                  vae.log_likelihood(X[:2], 50, seed=3))


def test_vae_samples_and_interpolation(trained_vae, digits):
    vae = trained_vae[0]
    images, z = vae.sample(6, seed=0)
    assert images.shape == (6, 64) and z.shape == (6, 4) and 0 <= images.min() <= images.max() <= 1
    np.testing.assert_array_equal(images, vae.sample(6, seed=0)[0])
    a, b = digits[1][0], digits[1][1]
    path, t = vae.interpolate(a, b, steps=5)
    assert path.shape == (5, 64) and t[0] == 0 and t[-1] == 1
    np.testing.assert_allclose(path[[0, -1]], vae.reconstruct(np.stack([a, b])))
    code = vae.encode(a[None])[0]
    walk = vae.traverse(a, 1, [code[1], -3.0, 3.0])
    np.testing.assert_allclose(walk[0], vae.reconstruct(a[None])[0])
    shifted = code.copy()
    shifted[1] = 3.0
    np.testing.assert_allclose(walk[2], vae.decode(shifted[None])[0])
    with pytest.raises(ValueError, match="unit must be <= 3"):
        vae.traverse(a, 4, [0.0])
    gaussian = VariationalAutoencoder((64, 8, 2, 8, 64), likelihood="gaussian", sigma=0.2, seed=0)
    gaussian.fit(digits[0][:200], epochs=1, seed=0)
    assert np.isfinite(gaussian.evaluate(digits[1]))


@pytest.mark.parametrize("cls, options", [
    (DenoisingAutoencoder, {"mask_rate": 0.2, "noise_std": 0.1}),
    (VariationalAutoencoder, {}),
    (SparseAutoencoder, {"l1": 0.01}),
])
def test_same_seed_same_weights_and_history(digits, cls, options):
    X = digits[0][:200]
    runs = []
    for seed in (5, 5, 6):
        m = cls((64, 16, 4, 16, 64), seed=seed, dtype="float32", **options)
        runs.append((m.fit(X, epochs=2, seed=seed), m.state()))
    (h1, s1), (h2, s2), (h3, s3) = runs
    np.testing.assert_array_equal(h1.loss.values, h2.loss.values)
    for k in s1:
        np.testing.assert_array_equal(s1[k], s2[k])
        assert s1[k].dtype == np.float32
    assert not np.array_equal(h1.loss.values, h3.loss.values)


@pytest.mark.parametrize("make, error, match", [
    (lambda: Autoencoder((64, 8)), ValueError, "odd number"),
    (lambda: Autoencoder((64, 8, 32)), ValueError, "odd number"),
    (lambda: Autoencoder(64), TypeError, "sizes"),
    (lambda: Autoencoder((64, 8.5, 64)), TypeError, "sizes"),
    (lambda: Autoencoder((64, 0, 64)), ValueError, "sizes"),
    (lambda: Autoencoder((64, 8, 64), loss="l2"), ValueError, "loss"),
    (lambda: Autoencoder((64, 8, 64), output="softmax"), ValueError, "output"),
    (lambda: Autoencoder((64, 8, 64), output="identity"), ValueError, "output='sigmoid'"),
    (lambda: Autoencoder((64, 8, 64), activation="swish"), ValueError, "activation"),
    (lambda: DenoisingAutoencoder((64, 8, 64), mask_rate=1.0), ValueError, "mask_rate"),
    (lambda: DenoisingAutoencoder((64, 8, 64), noise_std=-0.1), ValueError, "noise_std"),
    (lambda: SparseAutoencoder((64, 8, 64), rho=0.0), ValueError, "rho"),
    (lambda: SparseAutoencoder((64, 8, 64), rho=1.2), ValueError, "rho"),
    (lambda: SparseAutoencoder((64, 8, 64), beta=-1), ValueError, "beta"),
    (lambda: SparseAutoencoder((64, 8, 64), code_activation="relu"), ValueError, "sigmoid"),
    (lambda: VariationalAutoencoder((64, 8, 64), likelihood="poisson"), ValueError,
     "likelihood"),
    (lambda: VariationalAutoencoder((64, 8, 64), sigma=0), ValueError, "sigma"),
])
def test_bad_construction_raises(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_bad_data_raises():
    ae = Autoencoder((64, 8, 64), seed=0)
    with pytest.raises(ValueError, match=r"X must have shape \(\*, 64\)"):
        ae.fit(np.zeros((10, 63)))
    with pytest.raises(ValueError, match="validation"):
        ae.fit(np.zeros((10, 64)), validation=np.zeros((10, 32)))
    with pytest.raises(ValueError, match=r"Z must have shape \(\*, 8\)"):
        ae.decode(np.zeros((2, 7)))
    with pytest.raises(ValueError, match="target must lie in"):
        ae.fit(np.full((10, 64), 2.0))                    # BCE needs inputs in [0, 1]
    with pytest.raises(ValueError, match="activations must lie in"):
        losses.sparsity_kl(np.full((2, 3), 1.5), 0.1)
    with pytest.raises(ValueError, match="n must be"):
        VariationalAutoencoder((64, 8, 64), seed=0).sample(0)
