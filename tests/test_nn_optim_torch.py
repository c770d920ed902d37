"""Optimisers against PyTorch's on the same parameters and gradients (float64, 1e-10): RMSprop
with every option, Adam, AdamW and SGD; the optimiser state round trip; bad input named."""
import itertools

import numpy as np
import pytest

from neurosim.nn import optim
from neurosim.nn.tensor import Tensor

torch = pytest.importorskip("torch")


def trajectories(ours_cls, theirs_cls, steps=25, **options):
    """Largest difference between the parameters after ``steps`` updates with the same random
    gradients (two parameter arrays)."""
    rng = np.random.default_rng(0)
    start = [rng.standard_normal((3, 4)), rng.standard_normal(5)]
    mine = [Tensor(a.copy(), requires_grad=True) for a in start]
    ref = [torch.tensor(a.copy(), requires_grad=True) for a in start]
    a, b = ours_cls(mine, **options), theirs_cls(ref, **options)
    for _ in range(steps):
        grads = [rng.standard_normal(p.shape) for p in start]
        a.zero_grad()
        for p, g in zip(mine, grads):
            p.grad[...] = g
        a.step()
        for p, g in zip(ref, grads):
            p.grad = torch.tensor(g)
        b.step()
    return max(np.abs(p.data - q.detach().numpy()).max() for p, q in zip(mine, ref))


@pytest.mark.parametrize("centered, momentum, weight_decay",
                         list(itertools.product((False, True), (0.0, 0.9), (0.0, 0.1))))
def test_rmsprop_matches_torch(centered, momentum, weight_decay):
    assert trajectories(optim.RMSprop, torch.optim.RMSprop, lr=0.01, alpha=0.9, eps=1e-6,
                        centered=centered, momentum=momentum, weight_decay=weight_decay) < 1e-10


def test_rmsprop_defaults_are_torchs():
    assert trajectories(optim.RMSprop, torch.optim.RMSprop) < 1e-10


@pytest.mark.parametrize("ours, theirs, options", [
    (optim.Adam, torch.optim.Adam, {"lr": 1e-2, "weight_decay": 0.1}),
    (optim.AdamW, torch.optim.AdamW, {"lr": 1e-2, "weight_decay": 0.1}),
    (optim.SGD, torch.optim.SGD, {"lr": 1e-2, "momentum": 0.9, "nesterov": True}),
])
def test_other_optimisers_match_torch(ours, theirs, options):
    assert trajectories(ours, theirs, **options) < 1e-10


def test_state_round_trip_resumes_the_same_updates():
    rng = np.random.default_rng(1)
    grads = [rng.standard_normal(6) for _ in range(6)]

    def run(split):
        p = Tensor(np.ones(6), requires_grad=True)
        opt = optim.RMSprop([p], lr=0.05, momentum=0.5, centered=True)
        for k, g in enumerate(grads):
            if k == split:            # a fresh optimiser continues from the saved state
                state = opt.state()
                opt = optim.RMSprop([p], lr=0.05, momentum=0.5, centered=True)
                opt.load_state(state)
            opt.grad[...] = g
            opt.step()
        return p.data.copy(), opt.step_count
    whole, count = run(None)
    resumed, count2 = run(3)
    assert count == count2 == 6
    np.testing.assert_array_equal(whole, resumed)


def test_bad_input_is_named():
    p = Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(ValueError, match="alpha"):
        optim.RMSprop([p], alpha=1.5)
    with pytest.raises(ValueError, match="eps"):
        optim.RMSprop([p], eps=0.0)
    with pytest.raises(ValueError, match="momentum"):
        optim.RMSprop([p], momentum=-0.1)
    adam = optim.Adam([p])
    with pytest.raises(ValueError, match=r"missing \['m', 'v'\]"):
        adam.load_state(optim.SGD([p]).state())
    with pytest.raises(ValueError, match=r"'m' has shape \(4,\)"):
        adam.load_state({"step_count": 1, "m": np.zeros(4), "v": np.zeros(4)})
    assert isinstance(optim.optimizer("rmsprop", [p], lr=0.1), optim.RMSprop)
