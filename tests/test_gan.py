"""GAN: on a 2-D Gaussian the generator's samples take the target's mean and spread and the
game ends at its equilibrium (D = 1/2, discriminator loss 2 log 2); with the generator held
fixed the discriminator approaches the optimal D* = p_data / (p_data + p_g) of two known
Gaussians; a conditional GAN draws each class where it belongs; both losses match a NumPy
formula and finite differences; seeds; bad input."""
import numpy as np
import pytest
from scipy.stats import norm

from neurosim.deep import GAN, conv_gan, dense_gan
from neurosim.nn import check_gradients
from neurosim.nn.layers import Dense, Sequential


def test_generator_learns_a_gaussian_and_reaches_the_equilibrium():
    rng = np.random.default_rng(0)
    mean, std = np.array([1.0, -2.0]), np.array([0.5, 1.5])
    X = rng.normal(mean, std, size=(2000, 2))
    gan = dense_gan(2, latent=2, hidden=(32,), output="identity", seed=0)
    untrained = gan.sample(4000, seed=1)[0]
    assert np.abs((untrained.mean(axis=0) - mean) / std).max() > 1.0
    h = gan.fit(X, epochs=30, batch_size=64, lr=2e-3, seed=0)
    samples = gan.sample(4000, seed=1)[0]
    # the game oscillates about its equilibrium: seeds 0-2 gave mean errors up to 0.12 std
    # and spreads within 26%
    assert np.abs((samples.mean(axis=0) - mean) / std).max() < 0.25       # seen 0.12
    np.testing.assert_allclose(samples.std(axis=0), std, rtol=0.2)        # seen 7%, 6%
    last = slice(-5, None)                            # the last five epochs
    assert abs(h.epoch_d_loss.values[last].mean() - 2 * np.log(2)) < 0.05   # seen 1.388
    assert abs(h.epoch_d_real.values[last].mean() - 0.5) < 0.05
    assert abs(h.epoch_d_fake.values[last].mean() - 0.5) < 0.05
    assert h.sizes == {"step": 30 * 32, "epoch": 30} and h.attrs["family"] == "GAN"


def test_discriminator_approaches_the_optimal_discriminator():
    """Data N(0, 1); a frozen generator G(z) = 2 z + 1 gives p_g = N(1, 4)."""
    X = np.random.default_rng(0).standard_normal((3000, 1))
    generator = Sequential(Dense(1), input_shape=(1,))
    generator.layers[0].params["W"].data[...] = 2.0
    generator.layers[0].params["b"].data[...] = 1.0
    discriminator = Sequential(Dense(32, "tanh"), Dense(32, "tanh"), Dense(1))
    gan = GAN(generator, discriminator, 1, seed=0)
    x = np.linspace(-2.0, 3.0, 21)
    optimal = norm.pdf(x) / (norm.pdf(x) + norm.pdf(x, 1.0, 2.0))
    assert np.abs(gan.discriminate(x[:, None]) - optimal).max() > 0.2
    gan.fit(X, epochs=15, batch_size=128, lr=(1e-2, 0.0), betas=(0.9, 0.999), seed=0)
    np.testing.assert_allclose(gan.discriminate(x[:, None]), optimal, atol=0.05)  # seen 0.03
    assert generator.layers[0].params["W"].data[0, 0] == 2.0         # lr 0 froze it


def test_conditional_gan_draws_each_class_where_it_belongs():
    rng = np.random.default_rng(1)
    y = rng.integers(2, size=2000)
    X = rng.normal(np.where(y == 0, -2.0, 2.0), 0.5)[:, None]
    gan = dense_gan(1, latent=2, hidden=(16,), classes=2, output="identity", seed=0)
    gan.fit(X, y, epochs=15, batch_size=64, lr=2e-3, seed=0)
    for label, centre in ((0, -2.0), (1, 2.0)):
        samples = gan.sample(2000, seed=2, labels=np.full(2000, label))[0][:, 0]
        assert abs(samples.mean() - centre) < 0.25     # seen -2.03, 1.96
        assert 0.25 < samples.std() < 0.75             # seen 0.35, 0.50 (target 0.5)


def tiny(classes=0, loss="non_saturating"):
    return dense_gan(3, latent=2, hidden=(4,), classes=classes, output="tanh", loss=loss,
                     seed=0)


def swapped(layer, name, value):
    """Run with ``layer``'s parameter ``name`` replaced by the Tensor ``value``."""
    layer.params[name] = value
    return layer


@pytest.mark.parametrize("classes, loss", [(0, "non_saturating"), (0, "minimax"),
                                           (2, "non_saturating")])
def test_losses_match_numpy_and_finite_differences(classes, loss):
    gan = tiny(classes, loss)
    rng = np.random.default_rng(0)
    real, fake = rng.uniform(-1, 1, (5, 3)), rng.uniform(-1, 1, (5, 3))
    z = rng.standard_normal((5, 2))
    labels = rng.integers(2, size=5) if classes else None
    d_real, d_fake = gan.discriminate(real, labels), gan.discriminate(fake, labels)
    expected = -np.log(d_real).mean() - np.log(1 - d_fake).mean()
    assert gan.discriminator_loss(real, fake, labels).item() == pytest.approx(expected)
    d_generated = gan.discriminate(gan.generator.forward(gan._generator_input(z, labels)).data,
                                   labels)
    expected = (-np.log(d_generated) if loss == "non_saturating" else np.log(1 - d_generated))
    assert gan.generator_loss(z, labels).item() == pytest.approx(expected.mean())

    assert check_gradients(lambda r, f: gan.discriminator_loss(r, f, labels), real, fake) < 1e-7
    assert check_gradients(lambda q: gan.generator_loss(q, labels), z) < 1e-7
    d_layer, g_layer = gan.discriminator.layers[0], gan.generator.layers[0]
    W_d, W_g = d_layer.params["W"].data.copy(), g_layer.params["W"].data.copy()
    assert check_gradients(lambda w: swapped(d_layer, "W", w) and
                           gan.discriminator_loss(real, fake, labels), W_d) < 1e-7
    assert check_gradients(lambda w: swapped(g_layer, "W", w) and
                           gan.generator_loss(z, labels), W_g) < 1e-7


def test_conv_gan_shapes_and_gradients(tmp_path):
    gan = conv_gan((1, 4, 4), latent=3, code=(2, 2, 2), channels=(2,), seed=0)
    assert gan.sample_shape == (1, 4, 4)
    samples, z = gan.sample(5, seed=0)
    assert samples.shape == (5, 1, 4, 4) and z.shape == (5, 3)
    assert 0 <= samples.min() and samples.max() <= 1
    X = np.random.default_rng(0).uniform(size=(6, 16))        # flat rows are reshaped
    h = gan.fit(X, epochs=2, batch_size=4, d_steps=2, seed=0)
    assert h.sizes == {"step": 2, "epoch": 2}                 # 2 batches, 2 D steps each
    assert check_gradients(lambda q: gan.generator_loss(q), z) < 1e-7
    assert check_gradients(lambda r: gan.discriminator_loss(r, samples), X[:5]
                           .reshape(5, 1, 4, 4)) < 1e-7
    gan.save(tmp_path / "gan.nc")
    twin = conv_gan((1, 4, 4), latent=3, code=(2, 2, 2), channels=(2,), seed=1)
    np.testing.assert_array_equal(twin.load(tmp_path / "gan.nc").sample(5, seed=0)[0],
                                  gan.sample(5, seed=0)[0])


def test_same_seed_same_history():
    X = np.random.default_rng(0).uniform(size=(100, 64))
    runs = []
    for seed in (3, 3, 4):
        gan = dense_gan(64, 8, (16,), seed=seed, dtype=np.float32)
        runs.append((gan.fit(X, epochs=2, batch_size=32, d_steps=2, seed=seed), gan.state()))
    (h1, s1), (h2, s2), (h3, _) = runs
    for var in ("d_loss", "g_loss", "d_real", "d_fake"):
        np.testing.assert_array_equal(h1[var].values, h2[var].values)
    assert all(np.array_equal(s1[k], s2[k]) and s1[k].dtype == np.float32 for k in s1)
    assert not np.array_equal(h1.d_loss.values, h3.d_loss.values)
    assert h1.sizes == {"step": 4, "epoch": 2}                # 4 batches / 2 D steps per G step


@pytest.mark.parametrize("make, error, match", [
    (lambda: GAN("generator", Sequential(Dense(1)), 2), TypeError, "generator must be"),
    (lambda: GAN(Sequential(Dense(3), input_shape=(4,)), Sequential(Dense(1)), 2), ValueError,
     "latent"),
    (lambda: GAN(Sequential(Dense(3)), Sequential(Dense(2)), 2), ValueError, "one logit"),
    (lambda: dense_gan(4, latent=0), ValueError, "latent"),
    (lambda: dense_gan(4, output="relu"), ValueError, "output"),
    (lambda: dense_gan(4, loss="wasserstein"), ValueError, "loss"),
    (lambda: GAN(conv_gan(latent=16).generator, Sequential(Dense(1)), 14, classes=2),
     ValueError, "flat samples"),
])
def test_bad_construction_raises(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_bad_data_raises():
    gan, X = tiny(), np.zeros((8, 3))
    with pytest.raises(ValueError, match=r"X must have shape \(n, 3\)"):
        gan.fit(np.zeros((8, 4)))
    with pytest.raises(TypeError, match="X must be numeric"):
        gan.fit(np.array([["a"] * 3] * 8))
    with pytest.raises(ValueError, match="conditional"):
        gan.fit(X, np.zeros(8, int))
    with pytest.raises(ValueError, match="d_steps must be >= 1"):
        gan.fit(X, d_steps=0)
    with pytest.raises(ValueError, match="lr must be a number or a pair"):
        gan.fit(X, lr=(1e-3, 1e-3, 1e-3))
    with pytest.raises(ValueError, match="lr of the generator must be >= 0"):
        gan.fit(X, lr=(1e-3, -1.0))
    with pytest.raises(ValueError, match="real and fake"):
        gan.discriminator_loss(X, X[:3])
    conditional = tiny(classes=2)
    with pytest.raises(ValueError, match="needs class labels"):
        conditional.fit(X)
    with pytest.raises(ValueError, match=r"labels must be 8 integers in \[0, 2\)"):
        conditional.fit(X, np.full(8, 2))
    with pytest.raises(ValueError, match="n must be >= 1"):
        gan.sample(0)


def test_history_streamed_to_netcdf_is_the_in_memory_history(tmp_path, monkeypatch):
    from types import SimpleNamespace

    import xarray as xr

    from neurosim.deep import gan as gan_module
    monkeypatch.setattr(gan_module, "time", SimpleNamespace(perf_counter=lambda: 0.0))
    X = np.random.default_rng(0).uniform(size=(20, 3))
    labels = np.arange(20) % 2

    def run(store=None):
        return tiny(classes=2).fit(X, labels, epochs=3, batch_size=4, d_steps=2, seed=1,
                                   callbacks=[lambda gan, epoch, logs: epoch == 1], store=store)
    mem = run()
    with run(tmp_path / "gan.nc") as disk:
        assert disk["d_loss"].variable._in_memory is False
        xr.testing.assert_identical(disk.load(), mem)
    assert mem.sizes == {"step": 6, "epoch": 2}               # 5 batches, 2 D steps per G step


@pytest.mark.parametrize("when, steps, epochs", [("setup", 0, 0), ("run", 3, 1)])
def test_real_ctrl_c_stops_the_game_with_what_was_recorded(tmp_path, when, steps, epochs):
    from interrupt import interrupted_run

    ds = interrupted_run("""
        import numpy as np
        from neurosim.deep import dense_gan
        X = np.random.default_rng(0).uniform(size=(12, 3))
        ds = dense_gan(3, latent=2, hidden=(4,), seed=0).fit(X, epochs=4, batch_size=4, seed=0)
    """, when, tmp_path)
    assert ds.attrs["interrupted"] == 1
    assert ds.sizes["step"] == steps and ds.sizes["epoch"] == epochs
    assert np.isfinite(ds.d_loss.values).all() and np.isfinite(ds.g_loss.values).all()
