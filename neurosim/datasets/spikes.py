"""Spike-train data: jittered spike templates (Maass, Natschlaeger and Markram 2002)."""
import numpy as np

from .. import checks
from .. import rng as _rng


def jittered_templates(n_samples, *, n_templates=2, n_channels=4, duration=0.2, rate=20.0,
                       jitter=4e-3, seed=None):
    """Noisy copies of a few Poisson spike templates, for classification by a liquid.

    Each template is ``n_channels`` Poisson spike trains of ``rate`` Hz over ``duration`` s;
    a sample is a template (chosen uniformly) with every spike moved by a Gaussian jitter of
    standard deviation ``jitter`` s (spikes moved outside ``[0, duration)`` are dropped). The
    templates depend on ``seed`` only, not on ``jitter`` or ``n_samples``, so sets drawn with
    different jitters share their templates.

    Returns ``(samples, labels, templates)``: ``samples`` a list of ``(times, channels)`` pairs
    (float64 seconds, int64 channel numbers, sorted by time), ``labels`` int64 (n_samples,),
    ``templates`` the clean templates in the same form.
    """
    n_samples = checks.integer(n_samples, "n_samples", low=1)
    n_templates = checks.integer(n_templates, "n_templates", low=2)
    n_channels = checks.integer(n_channels, "n_channels", low=1)
    duration = checks.scalar(duration, "duration", low=0.0, low_open=True)
    rate = checks.scalar(rate, "rate", low=0.0, low_open=True)
    jitter = checks.scalar(jitter, "jitter", low=0.0)
    ss = _rng.sequence(seed)
    t_gen = np.random.default_rng(ss.spawn(1)[0])
    s_gen = np.random.default_rng(np.random.SeedSequence(ss.entropy,
                                                         spawn_key=ss.spawn_key + (99,)))
    templates = []
    for _ in range(n_templates):
        counts = t_gen.poisson(rate * duration, n_channels)
        times = np.concatenate([np.sort(t_gen.uniform(0, duration, c)) for c in counts])
        chans = np.repeat(np.arange(n_channels), counts)
        order = np.argsort(times, kind="stable")
        templates.append((times[order], chans[order].astype(np.int64)))
    labels = s_gen.integers(0, n_templates, n_samples).astype(np.int64)
    samples = []
    for lab in labels:
        times, chans = templates[lab]
        t = times + jitter * s_gen.standard_normal(times.shape[0])
        keep = (t >= 0) & (t < duration)
        order = np.argsort(t[keep], kind="stable")
        samples.append((t[keep][order], chans[keep][order]))
    return samples, labels, templates
