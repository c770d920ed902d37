"""Training steps give the same bits on one thread and on several: the product rule is the
same on any thread count, and every parallel kernel (products, convolutions, recurrent passes,
attention, layer norm, losses, optimiser) splits only independent items. Sizes are just large
enough for each family's kernels to take their parallel paths."""
import numba
import numpy as np
import pytest

from neurosim.deep import VariationalAutoencoder
from neurosim.deep.transformer import transformer_encoder
from neurosim.nn import losses, optim
from neurosim.nn.layers import Conv2D, Dense, Flatten, MaxPool2D, Sequential
from neurosim.nn.recurrent import GRU, LSTM

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2,
                                 reason="needs NUMBA_NUM_THREADS >= 2")]
F32 = np.float32


def _problem(kind, rng):
    """(model, loss) of one family at a size that reaches its parallel kernels: ``loss()``
    the training loss on a fixed batch."""
    if kind == "vae":
        model = VariationalAutoencoder((784, 256, 20, 256, 784), "relu", seed=0, dtype=F32)
        x = rng.random((64, 784), dtype=F32)
        return model, lambda: model.objective(model(x), x)
    if kind == "mlp":
        model = Sequential(Dense(384, "relu"), Dense(384, "relu"), Dense(10), input_shape=(784,),
                           seed=0, dtype=F32)
        x, y = rng.random((128, 784), dtype=F32), rng.integers(0, 10, 128)
    elif kind == "cnn":
        model = Sequential(Conv2D(16, 3, padding=1, activation="relu"), MaxPool2D(2),
                           Conv2D(32, 3, padding=1, activation="relu"), MaxPool2D(2), Flatten(),
                           Dense(10), input_shape=(1, 28, 28), seed=0, dtype=F32)
        x, y = rng.random((32, 1, 28, 28), dtype=F32), rng.integers(0, 10, 32)
    elif kind == "transformer":
        model = transformer_encoder(64, 4, input_shape=(32, 25), outputs=10, ff_units=128,
                                    positional=None, pool="last", seed=0, dtype=F32)
        x, y = rng.standard_normal((32, 32, 25)).astype(F32), rng.integers(0, 10, 32)
    else:
        layer = {"lstm": LSTM, "gru": GRU}[kind](128)
        model = Sequential(layer, Dense(10), input_shape=(20, 16), seed=0, dtype=F32)
        x, y = rng.standard_normal((64, 20, 16)).astype(F32), rng.integers(0, 10, 64)
    return model, lambda: losses.cross_entropy(model(x), y)


def _train(kind, threads, steps=2):
    """The parameters after ``steps`` Adam steps at ``threads`` Numba threads."""
    before = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        model, loss = _problem(kind, np.random.default_rng(11))
        opt = optim.Adam(model.parameters(), lr=1e-3)
        for _ in range(steps):
            opt.zero_grad()
            loss().backward()
            opt.step()
        return opt.data.copy()
    finally:
        numba.set_num_threads(before)


@pytest.mark.parametrize("kind", ["mlp", "cnn", "lstm", "gru", "transformer", "vae"])
def test_training_steps_give_the_same_bits_on_one_and_two_threads(kind):
    one, two = _train(kind, 1), _train(kind, 2)
    assert one.tobytes() == two.tobytes()
