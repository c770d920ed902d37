"""Generative adversarial network (GAN, Goodfellow et al. 2014), optionally conditional.

A generator ``G`` maps noise ``z ~ N(0, I)`` to samples; a discriminator ``D`` maps a sample to
a logit, ``D(x) = sigmoid(logit)`` being its belief that ``x`` came from the data. Training
alternates Adam steps: ``d_steps`` discriminator steps on
``-log D(x) - log(1 - D(G(z)))`` (binary cross-entropy with logits, real rows labelled 1,
generated rows 0), then one generator step on the non-saturating loss ``-log D(G(z))`` (or,
with ``loss="minimax"``, on ``log(1 - D(G(z)))``, the original game's, whose gradient vanishes
while ``D`` rejects the samples). For a fixed generator the best discriminator is
``D*(x) = p_data(x) / (p_data(x) + p_g(x))``.

:class:`GAN` takes any two built or unbuilt layers; :func:`dense_gan` and :func:`conv_gan`
build them for vectors and for small images (8x8 digits). With ``classes > 0`` the GAN is
conditional (Mirza and Osindero 2014): a one-hot label is appended to ``z`` and to the
discriminator's input (flat data only).
"""
import contextlib
import time

import numpy as np
from scipy.special import expit

from .. import checks, record, rng
from ..backend import blas_single_thread
from ..datasets import one_hot
from ..nn import losses, ops, optim
from ..nn.layers import Dense, Flatten, Layer, Sequential
from ..nn.tensor import Tensor, no_grad
from ..nn.train import TrainingDiverged, keep_epoch, keep_steps, track_steps
from .autoencoder import _evaluation
from .cnn import _image_shape, conv_stages
from .deconv import upsampling_stages


@contextlib.contextmanager
def _frozen(layer):
    """Context: ``layer``'s parameters need no gradient (the backward pass skips them)."""
    params = [p for _, p in layer.parameters()]
    for p in params:
        p.requires_grad = False
    try:
        yield
    finally:
        for p in params:
            p.requires_grad = True


class GAN(Layer):
    """A generator and a discriminator trained against each other.

    Parameters
    ----------
    generator : Layer
        (batch, latent + classes) -> (batch, *sample_shape); built here if it is not yet.
    discriminator : Layer
        (batch, *sample_shape) -> (batch, 1) logits; for a conditional GAN
        (batch, features + classes) -> (batch, 1).
    latent : int
        Dimension of the noise ``z``.
    classes : int
        Number of class labels to condition on (0: unconditional).
    loss : {"non_saturating", "minimax"}
        The generator's loss.
    seed : int, optional
        Seed of the weights of whichever network is built here.

    Attributes
    ----------
    sample_shape : tuple
        Shape of one sample (the generator's output).
    history : xarray.Dataset
        Set by :meth:`fit`.

    Calling a GAN on a batch Tensor of inputs (batch, latent + classes) runs the generator.
    """

    family = "GAN"

    def __init__(self, generator, discriminator, latent, *, classes=0, loss="non_saturating",
                 seed=None):
        super().__init__()
        for name, net in (("generator", generator), ("discriminator", discriminator)):
            if not isinstance(net, Layer):
                raise TypeError(f"{name} must be a neurosim.nn Layer (e.g. a Sequential); got "
                                f"{type(net).__name__}")
        self.latent = checks.integer(latent, "latent", low=1)
        self.classes = checks.integer(classes, "classes", low=0)
        self.loss = checks.choice(loss, "loss", ("non_saturating", "minimax"))
        self.generator, self.discriminator = generator, discriminator
        self.layers = [generator, discriminator]
        self.dtype = np.dtype(getattr(generator, "dtype", np.float64))
        weights = rng.generator(seed)
        inputs = (self.latent + self.classes,)
        if not generator.built:
            generator.build(inputs, weights, self.dtype)
        elif generator.input_shape != inputs:
            raise ValueError(f"the generator takes inputs {generator.input_shape}; latent + "
                             f"classes = {inputs[0]} needs ({inputs[0]},)")
        self.sample_shape = generator.output_shape
        if self.classes and len(self.sample_shape) != 1:
            raise ValueError(f"a conditional GAN (classes > 0) needs flat samples; the "
                             f"generator gives {self.sample_shape}")
        critic = (self.sample_shape[0] + self.classes,) if self.classes else self.sample_shape
        if not discriminator.built:
            discriminator.build(critic, weights, self.dtype)
        if discriminator.input_shape != critic or discriminator.output_shape != (1,):
            raise ValueError(f"the discriminator must map {critic} to (1,) (one logit); it maps "
                             f"{discriminator.input_shape} to {discriminator.output_shape}")
        self.input_shape, self.output_shape = inputs, self.sample_shape

    def __repr__(self):
        cond = f", classes={self.classes}" if self.classes else ""
        return f"GAN(latent={self.latent}{cond}, samples={self.sample_shape})"

    def forward(self, x):
        return self.generator.forward(x)

    # ------------------------------------------------------------ losses
    def discriminator_loss(self, real, fake, labels=None):
        """``-mean log D(real) - mean log(1 - D(fake))`` (nats), a one-element Tensor.

        ``real`` and ``fake`` are batches (batch, *sample_shape) of one size (Tensors or
        arrays); ``labels`` (batch,) the class of each row for a conditional GAN (the same for
        both batches).
        """
        return self._discriminator_loss(self._critic_logits(real, fake, labels))

    def generator_loss(self, z, labels=None):
        """The generator's loss for noise ``z`` (batch, latent) (nats), a one-element Tensor:
        ``-mean log D(G(z))`` (non-saturating) or ``mean log(1 - D(G(z)))`` (minimax)."""
        logits = self._logits(self.generator.forward(self._generator_input(z, labels)), labels)
        if self.loss == "non_saturating":
            return losses.binary_cross_entropy_with_logits(logits, np.ones(logits.shape))
        return ops.neg(losses.binary_cross_entropy_with_logits(logits, np.zeros(logits.shape)))

    def _critic_logits(self, real, fake, labels):
        """Discriminator logits (2 batch, 1) of ``real`` rows then ``fake`` rows, in one pass."""
        if len(real) != len(fake):
            raise ValueError(f"real and fake must hold as many rows; got {len(real)} and "
                             f"{len(fake)}")
        both = None if labels is None else np.concatenate([labels, labels])
        return self._logits(ops.concatenate([real, fake]), both)

    @staticmethod
    def _discriminator_loss(logits):
        """The discriminator's loss from the logits of a real half and a fake half."""
        half = len(logits) // 2
        targets = np.repeat([1.0, 0.0], half)[:, None]
        return ops.mul(losses.binary_cross_entropy_with_logits(logits, targets), 2.0)

    def _logits(self, x, labels):
        return self.discriminator.forward(self._with_labels(x, labels))

    def _generator_input(self, z, labels):
        return self._with_labels(z if isinstance(z, Tensor) else
                                 Tensor(np.asarray(z, dtype=self.dtype)), labels)

    def _with_labels(self, x, labels):
        """``x`` (batch, features) with the one-hot ``labels`` appended (conditional GAN)."""
        if not self.classes:
            return x
        return ops.concatenate([x, one_hot(labels, self.classes).astype(self.dtype)], axis=1)

    # ------------------------------------------------------------ training
    def fit(self, X, y=None, *, epochs=10, batch_size=64, lr=2e-4, betas=(0.5, 0.999),
            d_steps=1, seed=None, callbacks=(), progress=False, store=None):
        """Train on samples ``X`` (n, *sample_shape) (flat rows of images are reshaped).

        Parameters
        ----------
        y : array_like, (n,), optional
            Class labels, required for a conditional GAN (and only then).
        epochs, batch_size : int
            An epoch shows each row of ``X`` (reshuffled by ``seed``) to the discriminator
            once, in batches of ``batch_size``.
        lr : float or (float, float)
            Adam's learning rate, or (discriminator's, generator's); 0 freezes a network.
        betas : (float, float)
            Adam's decay rates (DCGAN's (0.5, 0.999) by default).
        d_steps : int
            Discriminator steps per generator step (Goodfellow's ``k``).
        seed : int, optional
            Seed of the batch order and of the noise.
        callbacks : sequence of callables
            ``callback(gan, epoch, logs) -> bool`` after every epoch; true stops training.
        progress : bool
            A progress bar over epochs. Ctrl+C (with or without it) stops after the current
            epoch.
        store : path, optional
            A netCDF file: the history is appended to it epoch by epoch and returned opened
            from it (the same Dataset as in memory).

        Returns
        -------
        xarray.Dataset
            Per ``step`` (one generator step and the discriminator steps before it):
            ``d_loss`` and ``g_loss`` (nats), ``d_real`` and ``d_fake``, the mean of ``D(x)``
            and of ``D(G(z))`` over the step's discriminator batches; per ``epoch`` their
            means (``epoch_*``) and ``time`` (s). Also stored as ``gan.history``. A NaN or
            infinite loss raises :class:`~neurosim.nn.train.TrainingDiverged`.
        """
        X = self._samples(X, "X")
        labels = self._labels(y, len(X))
        epochs = checks.integer(epochs, "epochs", low=1)
        batch_size = checks.integer(batch_size, "batch_size", low=1)
        d_steps = checks.integer(d_steps, "d_steps", low=1)
        if np.ndim(lr) and np.size(lr) != 2:
            raise ValueError(f"lr must be a number or a pair (discriminator, generator); got "
                             f"{lr!r}")
        lr_d, lr_g = (lr, lr) if np.ndim(lr) == 0 else tuple(np.ravel(lr).tolist())
        opts = {name: optim.Adam(net.parameters(), lr=checks.scalar(rate, f"lr of the {name}",
                                                                   low=0.0), betas=betas)
                for name, net, rate in (("discriminator", self.discriminator, lr_d),
                                        ("generator", self.generator, lr_g))}
        n = len(X)
        batches = -(-n // batch_size)
        steps = -(-batches // d_steps)
        meta = {"family": self.family, "model": type(self).__name__,
                "params": {"latent": self.latent, "classes": self.classes, "loss": self.loss,
                           "epochs": epochs, "batch_size": batch_size, "d_steps": d_steps,
                           "lr_discriminator": lr_d, "lr_generator": lr_g},
                "seed": seed, "attrs": {"loss_units": "nats", "time_units": "s"}}
        run = record.Run(epochs, chunk=1, grow=("step", "epoch"), progress=progress,
                         desc="fit GAN", unit="epoch", store=store)
        with run, blas_single_thread():
            noise = rng.generator(seed)
            track_steps(run, ("d_loss", "g_loss", "d_real", "d_fake"))
            names = None     # of the per-epoch records: the first epoch's summary
            for epoch, _ in run:
                start = time.perf_counter()
                order = noise.permutation(n)
                self.train()
                logs = {k: np.empty(steps) for k in ("d_loss", "g_loss", "d_real", "d_fake")}
                for s in range(steps):
                    cycle = [order[b * batch_size:(b + 1) * batch_size]
                             for b in range(s * d_steps, min((s + 1) * d_steps, batches))]
                    d_out = np.array([self._discriminator_step(X[rows], self._pick(labels, rows),
                                                               noise, opts["discriminator"])
                                      for rows in cycle])
                    g_loss = self._generator_step(len(cycle[-1]), labels, noise,
                                                  opts["generator"])
                    logs["d_loss"][s], logs["d_real"][s], logs["d_fake"][s] = d_out.mean(axis=0)
                    logs["g_loss"][s] = g_loss
                    if not np.isfinite(d_out).all() or not np.isfinite(g_loss):
                        keep_steps(run, epoch * steps, **{k: v[:s + 1] for k, v in logs.items()})
                        self.history = run.dataset(**meta)
                        raise TrainingDiverged(f"a loss became NaN or infinite at epoch {epoch}, "
                                               f"step {s}; the history so far is in .history "
                                               "(try a smaller lr)", self.history)
                keep_steps(run, epoch * steps, **logs)
                summary = {f"epoch_{k}": float(v.mean()) for k, v in logs.items()}
                summary["time"] = time.perf_counter() - start
                stop = any(bool(cb(self, epoch, summary)) for cb in callbacks)
                names = keep_epoch(run, epoch, summary, names)
                if stop:
                    run.stop()
        self.history = run.dataset(**meta)
        return self.history

    def _discriminator_step(self, real, labels, noise, opt):
        """One Adam step of the discriminator; returns its loss, mean D(x) and mean D(G(z))."""
        z = noise.standard_normal((len(real), self.latent))
        with no_grad():
            fake = self.generator.forward(self._generator_input(z, labels)).data
        opt.zero_grad()
        with np.errstate(over="ignore", invalid="ignore"):   # divergence is checked by fit
            logits = self._critic_logits(Tensor(real), Tensor(fake), labels)
            loss = self._discriminator_loss(logits)
        loss.backward()
        opt.step()
        belief = expit(logits.data[:, 0])
        half = len(real)
        return loss.item(), belief[:half].mean(), belief[half:].mean()

    def _generator_step(self, size, labels, noise, opt):
        """One Adam step of the generator on ``size`` fresh noise rows; returns its loss."""
        z = noise.standard_normal((size, self.latent))
        picked = None if labels is None else labels[noise.integers(len(labels), size=size)]
        opt.zero_grad()
        with np.errstate(over="ignore", invalid="ignore"), _frozen(self.discriminator):
            loss = self.generator_loss(z, picked)
            loss.backward()
        opt.step()
        return loss.item()

    # ------------------------------------------------------------ use
    def sample(self, n, seed=None, labels=None):
        """``n`` generated samples (n, *sample_shape) and their noise ``z`` (n, latent), drawn
        from ``seed``; a conditional GAN needs ``labels`` (n,)."""
        n = checks.integer(n, "n", low=1)
        labels = self._labels(labels, n)
        z = rng.generator(seed).standard_normal((n, self.latent))
        with _evaluation(self):
            return self.generator.forward(self._generator_input(z, labels)).data, z

    def discriminate(self, X, labels=None):
        """The discriminator's probability ``D(x)`` (n,) that each row of ``X`` (n,
        *sample_shape) is real (a conditional GAN needs ``labels`` (n,))."""
        X = self._samples(X, "X")
        labels = self._labels(labels, len(X))
        with _evaluation(self):
            return expit(self._logits(Tensor(X), labels).data[:, 0])

    # ------------------------------------------------------------ helpers
    def _samples(self, X, name):
        X = checks.array(X, name, dtype=self.dtype)
        size = int(np.prod(self.sample_shape))
        if X.shape[1:] != self.sample_shape and X.ndim == 2 and X.shape[1] == size:
            X = X.reshape(len(X), *self.sample_shape)
        if X.shape[1:] != self.sample_shape:
            raise ValueError(f"{name} must have shape (n, {', '.join(map(str, self.sample_shape))})"
                             f" or (n, {size}); got {X.shape}")
        return X

    def _labels(self, y, n):
        if not self.classes:
            if y is not None:
                raise ValueError("labels (y) are for a conditional GAN (classes > 0); this one "
                                 "has classes=0")
            return None
        if y is None:
            raise ValueError(f"a conditional GAN (classes={self.classes}) needs class labels")
        y = np.asarray(y)
        if y.shape != (n,) or not np.issubdtype(y.dtype, np.integer) or y.min() < 0 \
                or y.max() >= self.classes:
            raise ValueError(f"labels must be {n} integers in [0, {self.classes}); got "
                             f"{y.dtype} of shape {y.shape}")
        return y

    @staticmethod
    def _pick(labels, rows):
        return None if labels is None else labels[rows]


def dense_gan(features=64, latent=16, hidden=(128,), *, classes=0, output="sigmoid",
              loss="non_saturating", seed=None, dtype=np.float64):
    """A GAN of dense networks for flat samples.

    Generator: ``latent (+ classes)`` -> the ``hidden`` widths (ReLU) -> ``features`` through
    ``output``; discriminator: ``features (+ classes)`` -> the ``hidden`` widths reversed
    (leaky ReLU) -> one logit.

    Parameters
    ----------
    features : int
        Width of a sample (64 for flat 8x8 digits).
    latent : int
    hidden : sequence of int
    classes : int
        > 0 for a conditional GAN.
    output : {"sigmoid", "identity", "tanh"}
        The generator's output activation: values in [0, 1] (pixels), real values, or [-1, 1].
    loss, seed, dtype
        As for :class:`GAN`; float64 or float32.
    """
    features = checks.integer(features, "features", low=1)
    hidden = [checks.integer(h, "hidden", low=1) for h in hidden]
    output = checks.choice(output, "output", ("sigmoid", "identity", "tanh"))
    generator = Sequential(*[Dense(h, "relu", init="he_uniform") for h in hidden],
                           Dense(features, output), dtype=dtype)
    discriminator = Sequential(*[Dense(h, "leaky_relu", init="he_uniform")
                                 for h in hidden[::-1]], Dense(1), dtype=dtype)
    return GAN(generator, discriminator, latent, classes=classes, loss=loss, seed=seed)


def conv_gan(image_shape=(1, 8, 8), latent=16, *, code=(32, 2, 2), channels=(16, 32),
             loss="non_saturating", seed=None, dtype=np.float64):
    """A convolutional GAN for small images (DCGAN-like, without batch normalisation).

    Generator: the deconvolutional network's stages (Dense -> Reshape(code) -> transposed
    convolutions doubling height and width, sigmoid image; see
    :func:`~neurosim.deep.deconv.deconvolutional`); discriminator: the LeNet stages
    (Conv2D 3x3 + ReLU + MaxPool2D per entry of ``channels``; see
    :func:`~neurosim.deep.cnn.lenet`), Flatten, one logit. Samples are
    (batch, *image_shape) in [0, 1].
    """
    image_shape = _image_shape(image_shape, "image_shape")
    generator = Sequential(*upsampling_stages(image_shape, code), dtype=dtype)
    discriminator = Sequential(*conv_stages(channels), Flatten(), Dense(1), dtype=dtype)
    return GAN(generator, discriminator, latent, loss=loss, seed=seed)


__all__ = ["GAN", "dense_gan", "conv_gan"]
