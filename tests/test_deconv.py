"""The deconvolutional network: trained from class codes to the digits, each generated image
is nearest to the mean of its own class among held-out digits; shapes and bad labels."""
import numpy as np
import pytest

from neurosim.datasets import digits_split, one_hot
from neurosim.deep.cnn import as_images
from neurosim.deep.deconv import class_means, deconvolutional, generate


def test_generated_digits_are_nearest_to_their_class_mean():
    Xtr, Xte, ytr, yte = digits_split()
    m = deconvolutional(seed=0)
    h = m.fit(one_hot(ytr), as_images(Xtr), loss="bce", lr=1e-2, epochs=3, seed=0)
    assert h.epoch_loss.values[-1] < 0.36                 # seen 0.352; untrained 0.69
    images = generate(m, np.arange(10))
    held_out = class_means(Xte, yte)                      # means of the 297 test digits
    dist = ((images[:, None] - held_out[None]) ** 2).mean(axis=(2, 3))
    np.testing.assert_array_equal(dist.argmin(axis=1), np.arange(10))
    own, other = np.diag(dist), np.where(np.eye(10, dtype=bool), np.inf, dist).min(axis=1)
    assert np.all(own < 0.8 * other)                      # seen: at most 0.61


def test_output_shapes_codes_and_mixtures():
    m = deconvolutional(seed=1)
    assert [layer.output_shape for layer in m.layers] == [(128,), (32, 2, 2), (16, 4, 4),
                                                         (1, 8, 8)]
    images = generate(m, [3, 0, 3])
    assert images.shape == (3, 8, 8) and 0 <= images.min() and images.max() <= 1
    np.testing.assert_array_equal(images[0], images[2])
    np.testing.assert_allclose(generate(m, one_hot([3, 0], 10)), images[:2])
    mix = generate(m, [[0.5, 0.5] + [0.0] * 8])
    assert mix.shape == (1, 8, 8)
    colour = deconvolutional(4, (3, 16, 16), code=(8, 2, 2), seed=0)
    assert colour.output_shape == (3, 16, 16) and len(colour.layers) == 5
    assert generate(colour, [1, 2]).shape == (2, 3, 16, 16)


@pytest.mark.parametrize("labels", [[10], [-1], [1.5], np.zeros((2, 5)), np.zeros((2, 2, 10))])
def test_bad_labels_raise(labels):
    with pytest.raises(ValueError, match="labels"):
        generate(deconvolutional(seed=0), labels)


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match="power of two"):
        deconvolutional(image_shape=(1, 8, 8), code=(32, 3, 3))
    with pytest.raises(ValueError, match="power of two"):
        deconvolutional(image_shape=(1, 8, 4), code=(32, 2, 2))
    with pytest.raises(ValueError, match="code must be"):
        deconvolutional(code=(32, 2))


def test_class_means_match_a_loop():
    X = np.random.default_rng(0).uniform(size=(30, 64))
    y = np.arange(30) % 3
    means = class_means(X, y)
    for k in range(3):
        np.testing.assert_allclose(means[k], X[y == k].mean(axis=0).reshape(8, 8))
    with pytest.raises(ValueError, match=r"classes \[3\] have no images"):
        class_means(X, y, classes=4)
