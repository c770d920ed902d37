"""DCIGN (convolutional VAE): training lowers the held-out negative ELBO far below its value at
initialisation and the reconstructions beat the mean image; latent traversals decode the
posterior mean with one unit changed; Kulkarni's clamped training puts the class into the
class block (swapping it draws the other class, judged by the nearest class-mean image); the
negative ELBO's gradient through the convolutional encoder, the reparameterised sample, the
clamping and the transposed-convolution decoder matches finite differences; seeds; shapes and
bad input."""
import numpy as np
import pytest

from neurosim.datasets import digits_split
from neurosim.deep import DCIGN, class_means
from neurosim.nn import check_gradients
from neurosim.nn.tensor import Tensor


@pytest.fixture(scope="module")
def digits():
    return digits_split()


@pytest.fixture(scope="module")
def trained(digits):
    Xtr, Xte, _, _ = digits
    model = DCIGN(latent=4, seed=0)
    before = model.evaluate(Xte)
    history = model.fit(Xtr, validation=Xte, epochs=5, lr=5e-3, seed=0)
    return model, before, history


def test_training_lowers_the_held_out_negative_elbo(trained):
    model, before, history = trained
    assert before > 40                                          # seen 58.2
    assert history.val_loss.values[-1] < 0.65 * before          # seen 25.3
    assert np.all(np.diff(history.val_loss.values) < 0)
    assert history.attrs["family"] == "DCIGN" and history.sizes["epoch"] == 5


def test_reconstructions_beat_the_mean_image(digits, trained):
    Xtr, Xte, _, _ = digits
    model = trained[0]
    mse = ((model.reconstruct(Xte) - Xte) ** 2).mean()
    assert mse < 0.75 * ((Xtr.mean(axis=0) - Xte) ** 2).mean()  # seen 0.045 against 0.074


def test_traversals_and_shapes(digits, trained):
    model, x = trained[0], digits[1][0]
    assert model.encode(digits[1][:3]).shape == (3, 4)
    assert model.decode(np.zeros((2, 4))).shape == (2, 64)
    values = np.linspace(-2.0, 2.0, 5)
    walks = model.traversals(x, values)
    assert walks.shape == (4, 5, 1, 8, 8) and 0 <= walks.min() and walks.max() <= 1
    code = model.encode(x[None])[0]
    for unit in (0, 3):
        changed = np.repeat(code[None], 5, axis=0)
        changed[:, unit] = values
        np.testing.assert_allclose(walks[unit].reshape(5, 64), model.decode(changed))
    here = model.traverse(x, 2, [code[2]])
    np.testing.assert_allclose(here, model.reconstruct(x[None]))
    samples, z = model.sample(4, seed=0)
    assert samples.shape == (4, 64) and z.shape == (4, 4)


def test_clamped_training_puts_the_class_in_the_class_block(digits):
    Xtr, Xte, ytr, yte = digits
    model = DCIGN(latent=8, class_units=4, invariance=10.0, seed=0)
    history = model.fit(Xtr, ytr, validation=Xte, epochs=5, lr=3e-3, seed=0)
    assert history.val_loss.values[-1] < 31                  # seen 28.3: still a working VAE
    means = class_means(Xtr, ytr).reshape(10, 64)            # a classifier outside the model

    def classify(X):
        return ((X[:, None] - means[None]) ** 2).sum(axis=2).argmin(axis=1)
    assert (classify(Xte) == yte).mean() > 0.8               # 0.85 on the test digits
    rng = np.random.default_rng(0)
    style, content = rng.permutation(len(Xte)), rng.permutation(len(Xte))
    differ = yte[style] != yte[content]
    style, content = style[differ], content[differ]
    drawn = classify(model.swap(Xte[style], Xte[content]))
    takes_content = (drawn == yte[content]).mean()          # seen 0.40 (unclamped: 0.14)
    takes_style = (drawn == yte[style]).mean()              # seen 0.09 (unclamped: 0.41)
    assert takes_content > 0.3 and takes_content > 2 * takes_style
    Z, Ztr = model.encode(Xte), model.encode(Xtr)

    def centroid_accuracy(block):
        centres = np.stack([Ztr[ytr == k][:, block].mean(axis=0) for k in range(10)])
        d = ((Z[:, None, block] - centres[None]) ** 2).sum(axis=2)
        return (d.argmin(axis=1) == yte).mean()
    assert centroid_accuracy(slice(0, 4)) > centroid_accuracy(slice(4, 8)) + 0.1  # 0.70, 0.48


def test_clamping_matches_numpy_and_finite_differences():
    model = DCIGN((1, 4, 4), latent=3, channels=(2,), code=(2, 2, 2), class_units=2,
                  invariance=0.7, seed=0)
    rng = np.random.default_rng(2)
    x, labels = rng.uniform(size=(5, 16)), np.array([0, 1, 0, 2, 0])
    target = np.column_stack([x, labels])
    model.forward(Tensor(x))                                 # keeps the KL term of this pass
    z = rng.standard_normal((5, 3))
    block = z[:, :2]
    mean = np.stack([block[labels == c].mean(axis=0) for c in labels])
    pull = 0.5 * 0.7 * ((block - mean) ** 2).sum() / 5
    clamped = np.column_stack([mean, z[:, 2:]])
    plain = model.objective(model.decoder.forward(Tensor(clamped)), x).item()
    assert model.objective(Tensor(z), target).item() == pytest.approx(plain + pull, rel=1e-12)
    assert check_gradients(lambda q: model.objective(q, target), z) < 1e-6


def test_negative_elbo_gradients_match_finite_differences():
    model = DCIGN((1, 4, 4), latent=2, channels=(2,), code=(2, 2, 2), seed=0)
    x = np.random.default_rng(0).uniform(size=(3, 16))
    code = model.encoder.layers[-1]

    def negative_elbo(inputs):
        code.generator = np.random.default_rng(1)     # the same eps at every evaluation
        return model.objective(model.forward(inputs), x)
    assert check_gradients(negative_elbo, x) < 1e-6
    conv = model.encoder.layers[1]
    weights = conv.params["W"].data.copy()

    def through_weights(W):
        conv.params["W"] = W
        return negative_elbo(Tensor(x))
    assert check_gradients(through_weights, weights) < 1e-6
    deconv = model.decoder.layers[2]

    def through_decoder(W):
        deconv.params["W"] = W
        return negative_elbo(Tensor(x))
    assert check_gradients(through_decoder, deconv.params["W"].data.copy()) < 1e-6


def test_same_seed_same_history(digits):
    X = digits[0][:100]
    runs = []
    for seed in (2, 2, 3):
        model = DCIGN(latent=3, channels=(4, 8), code=(8, 2, 2), seed=seed, dtype=np.float32)
        runs.append((model.fit(X, epochs=2, seed=seed), model.state()))
    (h1, s1), (h2, s2), (h3, _) = runs
    np.testing.assert_array_equal(h1.loss.values, h2.loss.values)
    assert all(np.array_equal(s1[k], s2[k]) and s1[k].dtype == np.float32 for k in s1)
    assert not np.array_equal(h1.loss.values, h3.loss.values)


@pytest.mark.parametrize("make, error, match", [
    (lambda: DCIGN((1, 2, 2), channels=(4, 8), code=(8, 1, 1)), ValueError, "MaxPool2D"),
    (lambda: DCIGN((1, 8, 8), code=(8, 3, 3)), ValueError, "power of two"),
    (lambda: DCIGN((8, 8)), ValueError, "image_shape must be"),
    (lambda: DCIGN(channels=16), TypeError, "channels"),
    (lambda: DCIGN(channels=(16, 0)), ValueError, "channels"),
    (lambda: DCIGN(latent=0), ValueError, "latent"),
    (lambda: DCIGN(likelihood="poisson"), ValueError, "likelihood"),
    (lambda: DCIGN(latent=4, class_units=5), ValueError, "class_units"),
    (lambda: DCIGN(invariance=-1.0), ValueError, "invariance"),
])
def test_bad_construction_raises(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_bad_data_raises():
    model = DCIGN(latent=2, channels=(2,), code=(2, 4, 4), seed=0)
    with pytest.raises(ValueError, match=r"X must have shape \(\*, 64\)"):
        model.fit(np.zeros((4, 8, 8)))
    with pytest.raises(ValueError, match="target must lie in"):
        model.fit(np.full((4, 64), 2.0))
    with pytest.raises(ValueError, match="unit must be <= 1"):
        model.traverse(np.zeros(64), 2, [0.0])
    with pytest.raises(ValueError, match="class_units > 0"):
        model.fit(np.zeros((4, 64)), np.zeros(4, int))
    with pytest.raises(ValueError, match="class_units > 0"):
        model.swap(np.zeros((1, 64)), np.zeros((1, 64)))
    clamped = DCIGN(latent=2, channels=(2,), code=(2, 4, 4), class_units=1, seed=0)
    with pytest.raises(ValueError, match="y must be 4 integer class labels"):
        clamped.fit(np.zeros((4, 64)), np.zeros(3, int))
    with pytest.raises(ValueError, match="y must be 4 integer class labels"):
        clamped.fit(np.zeros((4, 64)), np.zeros(4))
