"""Autoencoders: plain (AE), denoising (DAE), sparse (SAE) and variational (VAE).

An autoencoder maps its input through a narrow code and back, and is trained to reproduce the
input. :class:`Autoencoder` stacks Dense layers from a list of widths (``64-32-8-32-64``: the
middle width is the code); :class:`DenoisingAutoencoder` corrupts its input during training only
and learns to restore the clean input; :class:`SparseAutoencoder` adds a penalty that keeps the
code's units mostly inactive; :class:`VariationalAutoencoder` encodes each input to a diagonal
Gaussian over the code and minimises the negative evidence lower bound (ELBO).

All four are layers built at construction: ``fit(X)`` trains with the input as its own target
and returns the history Dataset; ``encode``, ``decode``, ``reconstruct`` and ``interpolate``
work on arrays in evaluation mode. Calling a model on a batch Tensor runs the training forward
pass and gives the decoder's pre-activation (logits for a sigmoid output), which
:meth:`Autoencoder.objective` turns into the loss (the sigmoid and the cross-entropy fused, as
``BCEWithLogitsLoss`` does).
"""
import contextlib

import numpy as np

from .. import checks, rng
from ..nn import losses, ops
from ..nn.layers import Dense, Layer, Sequential
from ..nn.tensor import Tensor, no_grad
from ..nn.train import fit as _fit


def _widths(sizes):
    """``sizes`` as a list of ints: odd length >= 3, first equal to last."""
    if isinstance(sizes, (int, np.integer, str)) or not hasattr(sizes, "__len__"):
        raise TypeError(f"sizes must be a sequence of widths, e.g. (64, 32, 8, 32, 64); got "
                        f"{type(sizes).__name__}")
    widths = [checks.integer(s, "sizes", low=1) for s in sizes]
    if len(widths) < 3 or len(widths) % 2 == 0 or widths[0] != widths[-1]:
        raise ValueError("sizes must list an odd number (>= 3) of widths from the input through "
                         "the code (the middle one) back to the input's width, e.g. "
                         f"(64, 32, 8, 32, 64); got {tuple(widths)}")
    return widths


@contextlib.contextmanager
def _evaluation(model):
    """Context: ``model`` in evaluation mode without a tape, its mode restored afterwards."""
    mode = model.training
    model.eval()
    try:
        with no_grad():
            yield
    finally:
        model.train(mode)


class Autoencoder(Layer):
    """Autoencoder (AE): a Dense encoder to a code and a Dense decoder back to the input.

    Parameters
    ----------
    sizes : sequence of int
        Widths from the input through the code (the middle entry) back to the input, e.g.
        ``(64, 32, 8, 32, 64)``; the decoder need not mirror the encoder.
    activation : str
        Hidden activation (see :data:`neurosim.nn.ops.ACTIVATIONS`).
    code_activation : str
        Activation of the code layer.
    output : {"sigmoid", "identity"}
        Output activation: probabilities for inputs in [0, 1], or real values.
    loss : {"bce", "mse"}
        Reconstruction loss per pixel: binary cross-entropy (nats; needs ``output="sigmoid"``)
        or mean squared error.
    init, seed, dtype
        Weight initialiser name, seed of the weights (and of any noise the model draws),
        float64 or float32.

    Attributes
    ----------
    encoder, decoder : Sequential
        (batch, sizes[0]) -> (batch, code) and (batch, code) -> (batch, sizes[-1]); the
        decoder's last layer gives the pre-activation.
    history : xarray.Dataset
        Set by :meth:`fit`.
    """

    family = "AE"

    def __init__(self, sizes, activation="relu", *, code_activation="identity",
                 output="sigmoid", loss="bce", init="glorot_uniform", seed=None,
                 dtype=np.float64):
        super().__init__()
        self.sizes = _widths(sizes)
        self.output = checks.choice(output, "output", ("sigmoid", "identity"))
        self.loss = checks.choice(loss, "loss", ("bce", "mse"))
        if self.loss == "bce" and self.output != "sigmoid":
            raise ValueError(f"loss='bce' needs output='sigmoid' (probabilities); got "
                             f"output={output!r}")
        for name, value in (("activation", activation), ("code_activation", code_activation)):
            if value not in ops.ACTIVATIONS:
                raise ValueError(f"{name} must be one of {sorted(ops.ACTIVATIONS)}; got "
                                 f"{value!r}")
        self.activation, self.code_activation = activation, code_activation
        self.dtype = np.dtype(checks.choice(np.dtype(dtype).name, "dtype",
                                            ("float64", "float32")))
        self.encoder, self.decoder = self._stacks(init)
        self.layers = [self.encoder, self.decoder]
        self._penalty = None
        self.build((self.sizes[0],), rng.generator(seed), self.dtype)

    def _stacks(self, init):
        """The encoder (input -> code) and the decoder (code -> pre-activation), unbuilt."""
        middle = len(self.sizes) // 2
        encoder = Sequential(*[Dense(w, self.activation, init=init)
                               for w in self.sizes[1:middle]],
                             self._code_layer(self.sizes[middle], init))
        decoder = Sequential(*[Dense(w, self.activation, init=init)
                               for w in self.sizes[middle + 1:-1]],
                             Dense(self.sizes[-1], init=init))
        return encoder, decoder

    def _code_layer(self, width, init):
        return Dense(width, self.code_activation, init=init)

    def _build(self, shape, generator, dtype):
        code = self.encoder.build(shape, generator, dtype)
        self.decoder.build(code, generator, dtype)
        self.generator = np.random.default_rng(generator.integers(2 ** 63))
        return (self.sizes[-1],)

    def __repr__(self):
        return f"{type(self).__name__}({'-'.join(map(str, self.sizes))})"

    @property
    def code_size(self):
        """Width of the code."""
        return self.sizes[len(self.sizes) // 2]

    @property
    def loss_units(self):
        """Units of :meth:`objective` and of the history's losses."""
        return "nats per pixel" if self.loss == "bce" else "squared error per pixel"

    # ------------------------------------------------------------ training
    def forward(self, x):
        """Decoder pre-activation (batch, sizes[-1]) for a batch Tensor ``x``; in training mode
        the input is corrupted (DAE) or the code sampled (VAE), and the code's penalty (SAE,
        VAE) is kept for :meth:`objective`."""
        code = self.encoder.forward(self._corrupt_batch(x) if self.training else x)
        self._penalty = self._code_penalty(code)
        return self.decoder.forward(code)

    def _corrupt_batch(self, x):
        return x

    def _code_penalty(self, code):
        return None

    def _reconstruction(self, output, target):
        """Reconstruction loss per pixel, mean over the batch."""
        if self.loss == "bce":
            return losses.binary_cross_entropy_with_logits(output, target)
        return losses.mse(self._activate(output), target)

    def _activate(self, output):
        return ops.sigmoid(output) if self.output == "sigmoid" else output

    def objective(self, output, target):
        """The training loss: reconstruction of ``target`` from ``output`` (the pre-activation
        from the last forward pass) plus that pass's code penalty; a one-element Tensor in
        :attr:`loss_units`."""
        loss = self._reconstruction(output, target)
        return loss if self._penalty is None else ops.add(loss, self._penalty)

    def fit(self, X, *, validation=None, epochs=10, batch_size=32, lr=1e-3, optimizer="adam",
            seed=None, callbacks=(), **options):
        """Train on ``X`` (n, sizes[0]) with the clean input as its own target.

        ``validation`` (m, sizes[0]) adds ``val_loss`` (:meth:`evaluate`) per epoch (and, for a
        VAE, ``val_kl``, the KL term in nats per image); the other options are those of
        :func:`neurosim.nn.train.fit` (``early_stopping``, ``progress``, ``store``,
        ``clip_norm``, ...). Returns the history Dataset: ``loss`` per step, ``epoch_loss``,
        ``val_loss`` and ``time`` (s) per epoch, in :attr:`loss_units`.
        """
        X = self._inputs(X, "X")
        if validation is not None:
            X_val = self._inputs(validation, "validation")

            def validate(model, epoch, logs):
                logs.update(self._validation_logs(X_val))
                return False
            callbacks = [validate, *callbacks]
        return _fit(self, X, self._targets(X), loss=self.objective, optimizer=optimizer, lr=lr,
                    epochs=epochs, batch_size=batch_size, seed=seed, callbacks=callbacks,
                    **options)

    def history_attrs(self):
        """The family, its loss and units, and the widths, in the training history's attrs."""
        return {"family": self.family, "loss": self.loss, "loss_units": self.loss_units,
                "sizes": "-".join(map(str, self.sizes))}

    def _targets(self, X):
        """The training targets :meth:`objective` gets, row for row with ``X``; None: ``X``."""
        return None

    def evaluate(self, X):
        """Mean :meth:`objective` over ``X`` (n, sizes[0]) in evaluation mode (no noise; a
        sparsity penalty from the whole set's mean activations), in :attr:`loss_units`."""
        X = self._inputs(X, "X")
        with _evaluation(self):
            return self.objective(self.forward(Tensor(X)), X).item()

    def _validation_logs(self, X):
        return {"val_loss": self.evaluate(X)}

    # ------------------------------------------------------------ use
    def encode(self, X):
        """Codes (n, code_size) of inputs ``X`` (n, sizes[0]) (the posterior mean for a VAE)."""
        return self._run(self.encoder, self._inputs(X, "X"))

    def decode(self, Z):
        """Outputs (n, sizes[-1]) of codes ``Z`` (n, code_size): probabilities for a sigmoid
        output, means for an identity one."""
        Z = self._inputs(Z, "Z", self.code_size)
        with _evaluation(self):
            return self._activate(self.decoder.forward(Tensor(Z))).data

    def reconstruct(self, X):
        """``decode(encode(X))``: the reconstructions (n, sizes[-1]) of ``X``."""
        return self.decode(self.encode(X))

    predict = reconstruct

    def interpolate(self, x_from, x_to, steps=9):
        """Outputs (steps, sizes[-1]) along the straight line between the codes of two inputs
        (each (sizes[0],)), from ``x_from``'s code to ``x_to``'s, and the fractions ``t``
        (steps,)."""
        steps = checks.integer(steps, "steps", low=2)
        a, b = self.encode(np.stack([np.ravel(x_from), np.ravel(x_to)]))
        t = np.linspace(0.0, 1.0, steps)
        return self.decode(np.outer(1 - t, a) + np.outer(t, b)), t

    def traverse(self, x, unit, values):
        """Outputs (len(values), sizes[-1]) of ``x``'s code (``x`` (sizes[0],)) with code unit
        ``unit`` set to each of ``values`` in turn (a latent traversal)."""
        unit = checks.integer(unit, "unit", low=0, high=self.code_size - 1)
        values = checks.array(values, "values", ndim=1, dtype=self.dtype)
        codes = np.repeat(self.encode(np.ravel(x)[None]), len(values), axis=0)
        codes[:, unit] = values
        return self.decode(codes)

    # ------------------------------------------------------------ helpers
    def _inputs(self, X, name, width=None):
        width = self.sizes[0] if width is None else width
        return checks.array(X, name, shape=(None, width), dtype=self.dtype)

    def _run(self, layer, X):
        with _evaluation(self):
            return layer.forward(Tensor(X)).data


class DenoisingAutoencoder(Autoencoder):
    """Denoising autoencoder (DAE): trained to restore clean inputs from corrupted ones.

    During training only, each input entry is zeroed with probability ``mask_rate`` (masking
    noise) and then gets Gaussian noise of standard deviation ``noise_std``; the target stays the
    clean input. Evaluation (``encode``, ``reconstruct``, ``evaluate``) sees the input as given.

    Parameters
    ----------
    sizes, activation
        As for :class:`Autoencoder`.
    mask_rate : float
        Probability in [0, 1) of zeroing each input entry.
    noise_std : float
        Standard deviation (>= 0, input units) of the added Gaussian noise.
    **options
        ``code_activation``, ``output``, ``loss``, ``init``, ``seed``, ``dtype`` as for
        :class:`Autoencoder`; the seed also draws the corruption.
    """

    family = "DAE"

    def __init__(self, sizes, activation="relu", *, mask_rate=0.25, noise_std=0.0, **options):
        self.mask_rate = checks.scalar(mask_rate, "mask_rate", low=0.0, high=1.0, high_open=True)
        self.noise_std = checks.scalar(noise_std, "noise_std", low=0.0)
        super().__init__(sizes, activation, **options)

    def corrupt(self, X, seed=None):
        """``X`` (n, sizes[0]) corrupted as in training, drawn from ``seed``."""
        return self._corrupt(self._inputs(X, "X"), rng.generator(seed))

    def _corrupt(self, X, generator):
        if self.mask_rate:
            X = X * (generator.random(X.shape) >= self.mask_rate)
        if self.noise_std:
            X = X + self.noise_std * generator.standard_normal(X.shape)
        return X.astype(self.dtype, copy=False)

    def _corrupt_batch(self, x):
        return Tensor(self._corrupt(x.data, self.generator))


class SparseAutoencoder(Autoencoder):
    """Sparse autoencoder (SAE): a penalty keeps each code unit mostly inactive.

    The penalty is ``beta * sum_j KL(rho || mean_j)`` (Ng's sparse autoencoder: ``mean_j`` is
    code unit ``j``'s mean activation over the batch, which needs a code in [0, 1], so a sigmoid
    code) plus ``l1 * sum_j |code_j|`` (mean over the batch). As in Ng's notes the weights are
    relative to the reconstruction loss summed over an image's pixels; the objective stays per
    pixel, so the penalty enters it divided by the number of pixels.

    Parameters
    ----------
    sizes, activation
        As for :class:`Autoencoder`; the code may be wider than the input (overcomplete).
    rho : float
        Target mean activation in (0, 1).
    beta : float
        Weight (>= 0) of the KL penalty.
    l1 : float
        Weight (>= 0) of the L1 penalty on the code.
    code_activation : str
        ``"sigmoid"`` (required when ``beta > 0``).
    **options
        ``output``, ``loss``, ``init``, ``seed``, ``dtype`` as for :class:`Autoencoder`.
    """

    family = "SAE"

    def __init__(self, sizes, activation="relu", *, rho=0.05, beta=1.0, l1=0.0,
                 code_activation="sigmoid", **options):
        self.rho = checks.scalar(rho, "rho", low=0.0, high=1.0, low_open=True, high_open=True)
        self.beta = checks.scalar(beta, "beta", low=0.0)
        self.l1 = checks.scalar(l1, "l1", low=0.0)
        if self.beta and code_activation != "sigmoid":
            raise ValueError(f"the KL sparsity penalty (beta > 0) needs code_activation="
                             f"'sigmoid' (mean activations in [0, 1]); got {code_activation!r}")
        super().__init__(sizes, activation, code_activation=code_activation, **options)

    def _code_penalty(self, code):
        penalty, pixels = None, self.sizes[-1]
        if self.beta:
            penalty = ops.mul(losses.sparsity_kl(code, self.rho), self.beta / pixels)
        if self.l1:
            lasso = ops.mul(ops.abs(code).sum(), self.l1 / (len(code) * pixels))
            penalty = lasso if penalty is None else ops.add(penalty, lasso)
        return penalty

    def mean_activation(self, X):
        """Each code unit's mean activation (code_size,) over ``X`` (n, sizes[0])."""
        return self.encode(X).mean(axis=0)


class GaussianCode(Layer):
    """The VAE's stochastic code: (batch, in) -> (batch, latent).

    Two Dense heads give the mean and log-variance of a diagonal Gaussian; in training mode the
    output is the reparameterised sample ``mean + exp(log_var / 2) * eps`` (``eps`` standard
    normal from the layer's seeded stream), in evaluation mode the mean. The last pass's
    ``mean`` and ``log_var`` Tensors are kept for the KL term.
    """

    def __init__(self, latent, init="glorot_uniform"):
        super().__init__()
        self.latent = checks.integer(latent, "latent", low=1)
        self.mean_head, self.log_var_head = Dense(latent, init=init), Dense(latent, init=init)
        self.layers = [self.mean_head, self.log_var_head]
        self.mean = self.log_var = None

    def _build(self, shape, generator, dtype):
        self.mean_head.build(shape, generator, dtype)
        self.log_var_head.build(shape, generator, dtype)
        self.generator = np.random.default_rng(generator.integers(2 ** 63))
        return (self.latent,)

    def forward(self, x):
        self.mean, self.log_var = self.mean_head.forward(x), self.log_var_head.forward(x)
        if not self.training:
            return self.mean
        eps = self.generator.standard_normal(self.mean.shape)
        return ops.reparameterize(self.mean, self.log_var, eps)

    def __repr__(self):
        return f"GaussianCode({self.latent})"


class VariationalAutoencoder(Autoencoder):
    """Variational autoencoder (VAE, Kingma and Welling 2014) with a N(0, I) prior.

    The encoder ends in a :class:`GaussianCode` giving ``q(z | x) = N(mean, diag(exp(log_var)))``;
    the decoder gives ``p(x | z)``: Bernoulli with probabilities ``sigmoid(logits)``, or Gaussian
    with mean ``output`` and fixed standard deviation ``sigma``. Training minimises the negative
    ELBO, ``-E_q[log p(x | z)] + KL(q(z | x) || N(0, I))``, one sample of ``z`` per input, in
    nats per image.

    Parameters
    ----------
    sizes : sequence of int
        Widths from the input through the latent dimension (the middle entry) back to the
        input, e.g. ``(64, 128, 8, 128, 64)``.
    activation : str
        Hidden activation.
    likelihood : {"bernoulli", "gaussian"}
        Decoder distribution (Bernoulli for inputs in [0, 1]).
    sigma : float
        Standard deviation (> 0, input units) of the Gaussian decoder.
    init, seed, dtype
        As for :class:`Autoencoder`; the seed also draws ``eps``.
    """

    family = "VAE"

    def __init__(self, sizes, activation="relu", *, likelihood="bernoulli", sigma=0.1,
                 init="glorot_uniform", seed=None, dtype=np.float64):
        self.likelihood = checks.choice(likelihood, "likelihood", ("bernoulli", "gaussian"))
        self.sigma = checks.scalar(sigma, "sigma", low=0.0, low_open=True)
        bernoulli = self.likelihood == "bernoulli"
        super().__init__(sizes, activation, code_activation="identity",
                         output="sigmoid" if bernoulli else "identity",
                         loss="bce" if bernoulli else "mse", init=init, seed=seed, dtype=dtype)

    def _code_layer(self, width, init):
        return GaussianCode(width, init)

    @property
    def loss_units(self):
        return "nats per image"

    def _code_penalty(self, code):
        head = self.encoder.layers[-1]
        return losses.gaussian_kl(head.mean, head.log_var)

    def _reconstruction(self, output, target):
        """``-log p(x | z)`` per image, mean over the batch."""
        pixels = self.sizes[-1]
        if self.likelihood == "bernoulli":
            return ops.mul(losses.binary_cross_entropy_with_logits(output, target), pixels)
        return ops.add(ops.mul(losses.mse(output, target), pixels / (2 * self.sigma ** 2)),
                       0.5 * pixels * np.log(2 * np.pi * self.sigma ** 2))

    def _log_likelihood(self, X, Z):
        """``log p(x | z)`` (n,) of inputs ``X`` (n, pixels) given codes ``Z`` (n, latent)."""
        out = self._run(self.decoder, Z)
        if self.likelihood == "bernoulli":
            return (X * out - np.logaddexp(0.0, out)).sum(axis=1)
        return (-0.5 * ((X - out) / self.sigma) ** 2).sum(axis=1) \
            - 0.5 * X.shape[1] * np.log(2 * np.pi * self.sigma ** 2)

    def posterior(self, X):
        """Mean and log-variance (each (n, latent)) of ``q(z | x)`` for inputs ``X``."""
        X = self._inputs(X, "X")
        head = self.encoder.layers[-1]
        self._run(self.encoder, X)
        return head.mean.data, head.log_var.data

    def kl(self, X):
        """``KL(q(z | x) || N(0, I))`` per input (n,), in nats, in closed form."""
        mean, log_var = self.posterior(X)
        return 0.5 * (np.exp(log_var) + mean ** 2 - 1.0 - log_var).sum(axis=1)

    def elbo(self, X, samples=1, seed=0):
        """The evidence lower bound per input (n,), in nats: ``E_q[log p(x | z)]`` estimated
        with ``samples`` draws of ``z`` (from ``seed``) minus the closed-form KL."""
        X = self._inputs(X, "X")
        samples = checks.integer(samples, "samples", low=1)
        generator = rng.generator(seed)
        mean, log_var = self.posterior(X)
        std = np.exp(0.5 * log_var)
        expected = sum(self._log_likelihood(X, mean + std * generator.standard_normal(mean.shape))
                       for _ in range(samples)) / samples
        return expected - self.kl(X)

    def log_likelihood(self, X, samples=100, seed=0):
        """Importance-sampled ``log p(x)`` per input (n,), in nats, with ``q(z | x)`` as the
        proposal and ``samples`` draws per input (from ``seed``); its expectation lies between
        the ELBO and the true value, approaching the latter as ``samples`` grows."""
        X = self._inputs(X, "X")
        samples = checks.integer(samples, "samples", low=1)
        mean, log_var = self.posterior(X)
        eps = rng.generator(seed).standard_normal((samples, *mean.shape))
        Z = mean + np.exp(0.5 * log_var) * eps
        log_prior = -0.5 * (Z ** 2 + np.log(2 * np.pi)).sum(axis=2)
        log_proposal = -0.5 * (eps ** 2 + log_var + np.log(2 * np.pi)).sum(axis=2)
        log_lik = self._log_likelihood(np.tile(X, (samples, 1)),
                                       Z.reshape(-1, mean.shape[1])).reshape(samples, -1)
        log_w = log_lik + log_prior - log_proposal
        top = log_w.max(axis=0)
        return top + np.log(np.exp(log_w - top).mean(axis=0))

    def evaluate(self, X):
        """Negative ELBO, mean over ``X`` (one seeded sample per input), in nats per image."""
        return -float(self.elbo(X).mean())

    def _validation_logs(self, X):
        return {"val_loss": self.evaluate(X), "val_kl": float(self.kl(X).mean())}

    def sample(self, n, seed=None):
        """``n`` outputs (n, sizes[-1]) decoded from codes drawn from the prior N(0, I), and the
        codes (n, latent)."""
        n = checks.integer(n, "n", low=1)
        Z = rng.generator(seed).standard_normal((n, self.code_size))
        return self.decode(Z), Z


__all__ = ["Autoencoder", "DenoisingAutoencoder", "SparseAutoencoder", "VariationalAutoencoder",
           "GaussianCode"]
