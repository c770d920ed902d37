"""The LeNet-style CNN: learns the bundled digits, its stages have the documented shapes and
compute what they say (ReLU maps, 2x2 maxima), and seeds make it reproducible."""
import numpy as np
import pytest

from neurosim.datasets import digits_split
from neurosim.deep.cnn import as_images, feature_maps, lenet

SHAPES = [(16, 8, 8), (16, 4, 4), (32, 4, 4), (32, 2, 2), (128,), (10,)]


def test_lenet_learns_digits():
    Xtr, Xte, ytr, yte = digits_split()
    m = lenet(seed=0)
    h = m.fit(as_images(Xtr), ytr, epochs=3, batch_size=64, lr=1e-2, seed=0,
              validation=(as_images(Xte), yte), metrics=["accuracy"])
    assert h.val_accuracy.values[-1] > 0.91          # seen 0.929; chance is 0.1
    assert h.epoch_loss.values[-1] < 0.3 * h.epoch_loss.values[0]


def test_feature_maps_have_the_documented_shapes_and_meaning():
    X = as_images(digits_split()[0][:5])
    m = lenet(seed=1)
    maps = feature_maps(m, X)
    assert [a.shape[1:] for _, a in maps] == SHAPES == [layer.output_shape for layer in m.layers]
    conv1, pool1 = maps[0][1], maps[1][1]
    assert conv1.min() >= 0 and (conv1 > 0).mean() > 0.2      # ReLU maps, not all dead
    np.testing.assert_array_equal(pool1, conv1.reshape(5, 16, 4, 2, 4, 2).max(axis=(3, 5)))
    np.testing.assert_allclose(maps[-1][1], m.predict(X))


def test_lenet_options_and_shape_errors():
    m = lenet((3, 16, 16), 4, channels=(8, 8, 8), dense=(20,), dropout=0.25, seed=0)
    assert m.output_shape == (4,) and m.layers[5].output_shape == (8, 2, 2)
    assert "Dropout(0.25)" in repr(m) and "Dense(20" in repr(m)
    assert lenet(dtype=np.float32).predict(np.zeros((2, 1, 8, 8))).dtype == np.float32
    with pytest.raises(ValueError, match=r"layer 3 MaxPool2D"):  # 2x2 cannot be pooled twice
        lenet((1, 2, 2), channels=(4, 4))
    with pytest.raises(ValueError, match="dropout"):
        lenet(dropout=1.0)


def test_lenet_is_reproducible_by_seed():
    Xtr, _, ytr, _ = digits_split()
    X, y = as_images(Xtr[:200]), ytr[:200]

    def run(seed):
        m = lenet(seed=seed, dense=(16,), dropout=0.2)
        h = m.fit(X, y, epochs=1, seed=seed)
        return m.state(), h.loss.values

    (s1, l1), (s2, l2), (s3, _) = run(5), run(5), run(6)
    np.testing.assert_array_equal(l1, l2)
    assert all(np.array_equal(s1[k], s2[k]) for k in s1)
    assert not np.array_equal(s1["0.W"], s3["0.W"])


def test_as_images():
    X = np.arange(2 * 64.0).reshape(2, 64)
    images = as_images(X)
    assert images.shape == (2, 1, 8, 8) and images[1, 0, 0, 1] == 65
    assert as_images(images) is images
    assert as_images(np.zeros((3, 48)), (3, 4, 4)).shape == (3, 3, 4, 4)
    with pytest.raises(ValueError, match=r"X must be \(n, 64\) flat images.*got \(2, 63\)"):
        as_images(np.zeros((2, 63)))
    with pytest.raises(ValueError, match="shape must be"):
        as_images(X, (64,))
