"""Capsule networks: squash against NumPy and its limits, finite-difference gradients of every
new op and layer, the properties of routing-by-agreement, and a CapsNet that learns the digits,
redraws them better than the mean image and whose capsule dimensions change the drawing
smoothly."""
import numpy as np
import pytest

from neurosim.datasets import digits_split
from neurosim.deep import CapsNet, capsnet
from neurosim.nn import Tensor, check_gradients, value_and_grad
from neurosim.nn.capsules import (CapsuleLayer, PrimaryCapsules, capsule_lengths,
                                  coupling_coefficients, margin_loss, route, squash)
from neurosim.nn.layers import Dense, Sequential


def naive_squash(s):
    norm = np.sqrt((s ** 2).sum(axis=-1, keepdims=True))
    return norm ** 2 / (1 + norm ** 2) * s / norm


def naive_routing(u_hat, iterations):
    """Plain NumPy routing, the paper's Procedure 1: parents and last couplings."""
    logits = np.zeros(u_hat.shape[:3])
    for _ in range(iterations):
        c = np.exp(logits) / np.exp(logits).sum(axis=2, keepdims=True)
        v = naive_squash((c[..., None] * u_hat).sum(axis=1))
        logits = logits + (u_hat * v[:, None]).sum(axis=3)
    return v, c


def test_squash_matches_numpy_and_its_limits():
    s = np.random.default_rng(0).normal(size=(4, 5, 3)) * np.array([1e-3, 0.3, 1, 3, 1e3])[:, None]
    v = squash(s).data
    np.testing.assert_allclose(v, naive_squash(s), rtol=1e-12)
    norm_s, norm_v = np.linalg.norm(s, axis=-1), np.linalg.norm(v, axis=-1)
    assert (norm_v < 1).all()
    np.testing.assert_allclose((v * s).sum(-1), norm_v * norm_s, rtol=1e-12)  # same direction
    np.testing.assert_allclose(norm_v[:, 0], norm_s[:, 0] ** 2, rtol=1e-5)   # short: |s|^2
    np.testing.assert_allclose(norm_v[:, 4], 1.0, atol=1e-5)                 # long: about 1
    np.testing.assert_allclose(squash(s, axis=1).data,
                               np.moveaxis(naive_squash(np.moveaxis(s, 1, -1)), -1, 1))
    value, grad = value_and_grad(lambda x: squash(x).sum())(np.zeros((2, 3)))
    assert value == 0.0 and np.array_equal(grad, np.zeros((2, 3)))           # 0 -> 0, safely
    np.testing.assert_allclose(capsule_lengths(s).data, norm_s)
    assert squash(s.astype(np.float32)).dtype == np.float32


def test_gradients_of_squash_lengths_and_margin_loss():
    rng = np.random.default_rng(1)
    s = rng.normal(size=(3, 4, 5))
    assert check_gradients(squash, s) < 1e-7
    assert check_gradients(lambda x: squash(x, axis=1), s) < 1e-7
    assert check_gradients(capsule_lengths, s) < 1e-7
    lengths, labels = rng.uniform(0.0, 1.0, (6, 4)), np.array([0, 3, 1, 1, 2, 0])
    assert check_gradients(lambda x: margin_loss(x, labels), lengths) < 1e-7
    # the paper's loss, written out
    present = np.eye(4)[labels]
    expected = (present * np.maximum(0, 0.9 - lengths) ** 2 +
                0.5 * (1 - present) * np.maximum(0, lengths - 0.1) ** 2).sum(1).mean()
    assert margin_loss(lengths, labels).item() == pytest.approx(expected, rel=1e-12)
    assert margin_loss(np.eye(4)[[1, 2]] * 0.95 + 0.05, [1, 2]).item() == 0.0


@pytest.mark.kernel
@pytest.mark.parametrize("iterations", [1, 3])
def test_routing_matches_numpy_and_its_gradients_follow_the_documented_choice(iterations):
    u_hat = np.random.default_rng(2).normal(size=(2, 5, 3, 4)) * 0.7
    v_ref, c_ref = naive_routing(u_hat, iterations)
    for gradient in ("final", "full"):
        np.testing.assert_allclose(route(u_hat, iterations, gradient=gradient).data, v_ref,
                                   rtol=1e-12)
    np.testing.assert_allclose(coupling_coefficients(u_hat, iterations), c_ref, rtol=1e-12)
    v32 = route(u_hat.astype(np.float32), iterations).data
    assert v32.dtype == np.float32 and np.allclose(v32, v_ref, atol=1e-6)
    # "full": the gradient of the whole routing, couplings included
    assert check_gradients(lambda u: route(u, iterations, gradient="full"), u_hat) < 1e-7
    # "final": the gradient of squash(sum_i c_ij u_hat) with the final couplings held constant
    weights = np.random.default_rng(3).normal(size=v_ref.shape)
    _, analytic = value_and_grad(lambda u: (route(u, iterations) * weights).sum())(u_hat)
    _, held = value_and_grad(lambda u: (squash((Tensor(c_ref[..., None]) * u).sum(axis=1))
                                        * weights).sum())(u_hat)
    np.testing.assert_allclose(analytic, held, rtol=1e-10, atol=1e-12)
    _, full = value_and_grad(lambda u: (route(u, iterations, gradient="full") *
                                        weights).sum())(u_hat)
    assert np.allclose(analytic, full) == (iterations == 1)   # they differ once routing acts


def test_routing_couplings_sum_to_one_start_uniform_and_follow_agreement():
    rng = np.random.default_rng(4)
    u_hat = rng.normal(size=(3, 20, 4, 6)) * 0.3
    c = coupling_coefficients(u_hat, 3)
    np.testing.assert_allclose(c.sum(axis=2), 1.0)
    assert (c > 0).all() and c.std() > 0.01
    np.testing.assert_allclose(coupling_coefficients(u_hat, 1), 0.25)   # r = 1: uniform
    # every child predicts the same vector for parent 0, scattered ones for the others
    u_hat[:, :, 0] = rng.normal(size=(3, 1, 6))
    share = [coupling_coefficients(u_hat, r)[:, :, 0].mean() for r in range(1, 6)]
    assert share[0] == pytest.approx(0.25)
    assert np.all(np.diff(share) > 0) and share[-1] > 0.9


def test_capsule_layers_gradients_and_shapes():
    rng = np.random.default_rng(5)
    primary = PrimaryCapsules(2, 3, 2, stride=2)
    assert primary.build((2, 4, 4), rng) == (8, 3)
    x = rng.normal(size=(2, 2, 4, 4))
    out = primary(x).data
    assert np.linalg.norm(out, axis=-1).max() < 1

    def primary_fn(x, W, b):
        primary.params.update(W=W, b=b)
        return primary(x)
    assert check_gradients(primary_fn, x, primary.params["W"].data, primary.params["b"].data) \
        < 1e-7
    for gradient in ("final", "full"):
        layer = CapsuleLayer(3, 4, iterations=3, gradient=gradient)
        assert layer.build((8, 3), rng) == (3, 4)
        u = squash(rng.normal(size=(2, 8, 3))).data

        def layer_fn(u, W):
            layer.params["W"] = W
            return layer(u) if gradient == "full" else layer.predictions(u)
        assert check_gradients(layer_fn, u, layer.params["W"].data) < 1e-7
    # the predictions are u_i @ W_ij, as written in the paper
    W = layer.params["W"].data
    np.testing.assert_allclose(layer.predictions(u).data[1, 5, 2], u[1, 5] @ W[5, :, 2, :])


@pytest.fixture(scope="module")
def trained():
    Xtr, Xte, ytr, yte = digits_split()
    model = capsnet(seed=0)
    history = model.fit(Xtr, ytr, epochs=3, lr=3e-3, seed=0, validation=(Xte, yte))
    return model, history, Xtr, Xte, yte


def test_capsnet_learns_digits_and_redraws_them(trained):
    model, history, Xtr, Xte, yte = trained
    assert history.val_accuracy.values[-1] > 0.9              # seen 0.94; chance is 0.1
    assert history.epoch_loss.values[-1] < 0.3 * history.epoch_loss.values[0]
    assert np.mean(model.predict(Xte) == yte) == pytest.approx(history.val_accuracy[-1])
    lengths = model.lengths(Xte)
    assert lengths.shape == (len(Xte), 10) and (lengths >= 0).all() and (lengths < 1).all()
    assert np.median(lengths[np.arange(len(yte)), yte]) > 0.7  # true class long: seen 0.84
    redrawn = model.reconstruct(Xte).reshape(len(Xte), -1)
    assert ((redrawn - Xte) ** 2).mean() < 0.6 * ((Xtr.mean(0) - Xte) ** 2).mean()  # seen 0.42
    # drawn from another class's capsule, the image is worse
    wrong = model.reconstruct(Xte, (yte + 5) % 10).reshape(len(Xte), -1)
    assert ((redrawn - Xte) ** 2).mean() < 0.8 * ((wrong - Xte) ** 2).mean()


def test_perturbing_a_capsule_dimension_changes_the_drawing_smoothly(trained):
    model, _, _, Xte, _ = trained
    offsets = np.linspace(-0.25, 0.25, 11)
    grid = model.perturbations(Xte[0], offsets)
    assert grid.shape == (16, 11, 1, 8, 8)
    np.testing.assert_allclose(grid[:, 5], np.repeat(model.reconstruct(Xte[:1]), 16, axis=0))
    flat = grid.reshape(16, 11, -1)
    span = np.abs(flat[:, -1] - flat[:, 0]).mean(axis=1)
    steps = np.abs(np.diff(flat, axis=1)).mean(axis=2)
    assert span.max() > 0.02                                  # the dimensions matter
    assert (steps.max(axis=1) < 0.3 * span + 1e-3).all()      # in small, even steps
    drift = np.abs(flat - flat[:, 5:6]).mean(axis=2)          # and away from the original
    assert (np.diff(drift[:, 5:], axis=1) > -1e-4).all()


def test_capsnet_is_reproducible_by_seed():
    Xtr, _, ytr, _ = digits_split()

    def run(seed):
        model = capsnet(seed=seed, channels=8, primary_capsules=2, dim=4, decoder=(16,))
        history = model.fit(Xtr[:64], ytr[:64], epochs=1, seed=seed)
        return model.state(), history.loss.values

    (s1, l1), (s2, l2), (s3, _) = run(1), run(1), run(2)
    np.testing.assert_array_equal(l1, l2)
    assert all(np.array_equal(s1[k], s2[k]) for k in s1)
    assert not np.array_equal(s1["0.2.W"], s3["0.2.W"])


def test_bad_input_is_named():
    u_hat = np.zeros((2, 3, 4, 5))
    with pytest.raises(ValueError, match=r"u_hat must be 4-D"):
        route(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="iterations must be >= 1"):
        route(u_hat, 0)
    with pytest.raises(TypeError, match="iterations must be an integer"):
        coupling_coefficients(u_hat, 1.5)
    with pytest.raises(ValueError, match="gradient must be one of"):
        route(u_hat, gradient="none")
    with pytest.raises(ValueError, match=r"labels must be 2 integer class indices in \[0, 4\)"):
        margin_loss(np.zeros((2, 4)), [0, 4])
    with pytest.raises(ValueError, match="lengths must be"):
        margin_loss(np.zeros(4), [0])
    with pytest.raises(ValueError, match="dim must be >= 1"):
        PrimaryCapsules(4, 0, 3)
    with pytest.raises(ValueError, match="iterations must be >= 1"):
        CapsuleLayer(10, 16, iterations=0)
    with pytest.raises(ValueError, match=r"CapsuleLayer.*needs per-sample capsules"):
        CapsuleLayer(10, 16).build((4, 4, 4))
    with pytest.raises(ValueError, match="layer 1 .*kernel"):       # 8x8 -> 6x6 -> 4x4 -> too small
        capsnet(kernel=5)
    model = capsnet(channels=4, primary_capsules=2, dim=4, decoder=(8,), seed=0)
    with pytest.raises(ValueError, match=r"X: X must be \(n, 64\) flat images"):
        model.predict(np.zeros((3, 63)))
    with pytest.raises(ValueError, match=r"y must be 3 integer class labels in \[0, 10\)"):
        model.fit(np.zeros((3, 64)), [0, 1, 10], epochs=1)
    with pytest.raises(ValueError, match="labels must be"):
        model.decode(np.zeros((2, 10, 4)), [0.5, 1.0])
    with pytest.raises(ValueError, match="the decoder must draw 64 pixels"):
        CapsNet(model.encoder, Sequential(Dense(10)))
    with pytest.raises(TypeError, match="encoder must be a Layer"):
        CapsNet("conv", model.decoder)
    with pytest.raises(ValueError, match="m_minus must be <= 0.2"):
        CapsNet(model.encoder, model.decoder, m_plus=0.2, m_minus=0.3)
    assert capsnet(channels=4, primary_capsules=2, dim=4, decoder=(8,),
                   dtype=np.float32).lengths(np.zeros((2, 64))).dtype == np.float32
