"""Synaptic plasticity rules for :meth:`Network.connect`: :class:`STDP` and :class:`STP`.

>>> net.connect(inputs, neuron, p=1.0, weights=5e-11, plasticity=STDP(w_max=1e-10))
>>> net.connect(exc, exc, p=0.1, weights=1e-9, plasticity=STP(U=0.5, tau_rec=0.8))

Both are event-driven: a synapse's state changes only when a spike arrives at it (the
presynaptic spike after the synapse's delay) or when its postsynaptic neuron fires, and traces
decay analytically between events (:mod:`neurosim.kernels.plasticity`). A projection may carry
either rule or both (``plasticity=(STDP(...), STP(...))``).

Units: time constants in seconds; weight bounds in the weights' own unit (amperes onto current
synapses, siemens onto conductance synapses); amplitudes ``A_plus``, ``A_minus`` are fractions
of the weight range ``w_max - w_min`` per spike pair; ``U`` is a fraction.
"""
from .. import checks
from ..kernels import plasticity as _kp

INTERACTIONS = ("all", "nearest")
RULES = {"additive": 0.0, "multiplicative": 1.0}


def _tau(x, name, zero=False):
    """A time constant in seconds: > 0 (>= 0 with ``zero``) and at most 100 s (a value above
    that was almost surely given in milliseconds)."""
    x = checks.scalar(x, name, low=0.0, low_open=not zero)
    if x > 100.0:
        raise ValueError(f"{name} is a time constant in seconds and must be <= 100 s; got {x} "
                         "(milliseconds given as seconds?)")
    return x


class STDP:
    """Pair-based spike-timing-dependent plasticity with pre- and postsynaptic traces.

    For a presynaptic spike arriving at ``t_pre`` and a postsynaptic spike at ``t_post``,
    ``dt = t_post - t_pre``: potentiation ``+A_plus exp(-dt / tau_plus)`` when ``dt >= 0``
    (applied at the postsynaptic spike), depression ``-A_minus exp(dt / tau_minus)`` when
    ``dt < 0`` (applied at the presynaptic arrival), each times ``w_max - w_min`` and the weight
    dependence. A pre and a post spike in the same step count as ``dt = 0`` (pre first, as
    Brian2's schedule runs the presynaptic pathway before the postsynaptic one).

    tau_plus, tau_minus: s, > 0 (the pre and the post trace). A_plus, A_minus: fractions of the
    weight range per pair, in [0, 1]. w_min < w_max: bounds (the weights' unit; >= 0 onto
    conductance synapses); the weights given to ``connect`` must lie within them.
    rule: ``"additive"`` (changes independent of w, then clipped to the bounds),
    ``"multiplicative"`` (soft bounds: potentiation times ``(w_max - w) / (w_max - w_min)``,
    depression times ``(w - w_min) / (w_max - w_min)``), or a float ``mu`` in [0, 1] for the
    power law of Guetig et al. (2003) between them (0 additive, 1 multiplicative).
    interaction: ``"all"`` (every pair of spikes: traces add 1 at each spike) or ``"nearest"``
    (symmetric nearest-spike: traces are reset to 1, so a spike pairs with the latest spike of
    the other side only).

    Defaults follow Song, Miller and Abbott (2000) and Brian2's STDP example (tau 20 ms,
    A_plus 0.01, A_minus = 1.05 A_plus, additive, all pairs); ``w_max`` has no default.
    """

    def __init__(self, *, w_max, w_min=0.0, tau_plus=20e-3, tau_minus=20e-3, A_plus=0.01,
                 A_minus=0.0105, rule="additive", interaction="all"):
        self.tau_plus = _tau(tau_plus, "tau_plus")
        self.tau_minus = _tau(tau_minus, "tau_minus")
        self.A_plus = checks.scalar(A_plus, "A_plus", low=0.0, high=1.0)
        self.A_minus = checks.scalar(A_minus, "A_minus", low=0.0, high=1.0)
        self.w_min = checks.scalar(w_min, "w_min")
        self.w_max = checks.scalar(w_max, "w_max")
        if not self.w_min < self.w_max:
            raise ValueError(f"w_min must be below w_max; got w_min = {self.w_min}, "
                             f"w_max = {self.w_max}")
        if isinstance(rule, str):
            self.rule = checks.choice(rule, "rule", tuple(RULES))
            self.mu = RULES[rule]
        else:
            self.mu = checks.scalar(rule, "rule", low=0.0, high=1.0)
            self.rule = self.mu
        self.interaction = checks.choice(interaction, "interaction", INTERACTIONS)

    def params(self):
        """The rule's parameters (JSON-able), as given to the constructor."""
        return {"w_max": self.w_max, "w_min": self.w_min, "tau_plus": self.tau_plus,
                "tau_minus": self.tau_minus, "A_plus": self.A_plus, "A_minus": self.A_minus,
                "rule": self.rule, "interaction": self.interaction}

    def check(self, W, synapse):
        """Refuse weights ``W`` (csr_array) outside the bounds, and negative bounds onto
        conductance synapses (``synapse``: the post group's kind)."""
        if synapse == "conductance" and self.w_min < 0:
            raise ValueError(f"w_min must be >= 0 S onto conductance synapses; got {self.w_min}")
        if W.nnz and (W.data.min() < self.w_min or W.data.max() > self.w_max):
            raise ValueError(f"weights must lie within the STDP bounds [w_min, w_max] = "
                             f"[{self.w_min}, {self.w_max}]; got values in "
                             f"[{W.data.min()}, {W.data.max()}]")

    def fill(self, row, dt):
        """Write the rule into the kernel's parameter row ``row`` for time step ``dt``."""
        span = self.w_max - self.w_min
        row[_kp.R_STDP] = 1.0
        row[_kp.R_KPRE] = dt / self.tau_plus
        row[_kp.R_KPOST] = dt / self.tau_minus
        row[_kp.R_APLUS] = self.A_plus * span
        row[_kp.R_AMINUS] = self.A_minus * span
        row[_kp.R_WMIN] = self.w_min
        row[_kp.R_WMAX] = self.w_max
        row[_kp.R_MU] = self.mu
        row[_kp.R_NEAR] = 1.0 if self.interaction == "nearest" else 0.0

    def __repr__(self):
        return "STDP(" + ", ".join(f"{k}={v!r}" for k, v in self.params().items()) + ")"


class STP:
    """Short-term plasticity: the Tsodyks-Markram model as Markram, Wang and Tsodyks (1998) and
    Maass, Natschlaeger and Markram (2002) write it.

    The n-th spike arriving at a synapse of weight ``w`` adds ``w u_n R_n`` to the synaptic
    variable, with ``u_1 = U``, ``R_1 = 1`` and, ``D_n`` seconds after the previous arrival,
    ``u_{n+1} = U + u_n (1 - U) exp(-D_n / tau_facil)``,
    ``R_{n+1} = 1 + (R_n - u_n R_n - 1) exp(-D_n / tau_rec)``.
    U: utilisation of synaptic efficacy, in (0, 1]. tau_rec: recovery from depression (s,
    > 0). tau_facil: facilitation (s, >= 0; 0: none, u stays U). For a regular train of period
    T the amplitudes settle at ``w u* R*`` with ``u* = U / (1 - (1 - U) exp(-T / tau_facil))``
    and ``R* = (1 - exp(-T / tau_rec)) / (1 - (1 - u*) exp(-T / tau_rec))``
    (:meth:`steady_state`).
    """

    def __init__(self, *, U=0.5, tau_rec=0.8, tau_facil=0.0):
        self.U = checks.scalar(U, "U", low=0.0, high=1.0, low_open=True)
        self.tau_rec = _tau(tau_rec, "tau_rec")
        self.tau_facil = _tau(tau_facil, "tau_facil", zero=True)

    def params(self):
        """The rule's parameters (JSON-able)."""
        return {"U": self.U, "tau_rec": self.tau_rec, "tau_facil": self.tau_facil}

    def check(self, W, synapse):
        """Nothing to refuse in the weights (any sign, any synapse kind)."""

    def fill(self, row, dt):
        """Write the rule into the kernel's parameter row ``row`` for time step ``dt``."""
        row[_kp.R_STP] = 1.0
        row[_kp.R_U] = self.U
        row[_kp.R_KREC] = dt / self.tau_rec
        row[_kp.R_KFAC] = dt / self.tau_facil if self.tau_facil > 0 else _kp.NO_FACIL

    def steady_state(self, period):
        """``(u*, R*)`` of a regular train with ``period`` seconds between spikes (the amplitude
        is ``w u* R*``)."""
        import math

        period = checks.scalar(period, "period", low=0.0, low_open=True)
        ef = math.exp(-period / self.tau_facil) if self.tau_facil > 0 else 0.0
        er = math.exp(-period / self.tau_rec)
        u = self.U / (1.0 - (1.0 - self.U) * ef)
        return u, (1.0 - er) / (1.0 - (1.0 - u) * er)

    def __repr__(self):
        return "STP(" + ", ".join(f"{k}={v!r}" for k, v in self.params().items()) + ")"


def rules(plasticity):
    """``(stdp, stp)`` from ``connect``'s ``plasticity`` argument: None, an :class:`STDP`, an
    :class:`STP`, or a tuple of at most one of each."""
    if plasticity is None:
        return None, None
    items = plasticity if isinstance(plasticity, (tuple, list)) else (plasticity,)
    stdp = stp = None
    for x in items:
        if isinstance(x, STDP) and stdp is None:
            stdp = x
        elif isinstance(x, STP) and stp is None:
            stp = x
        else:
            raise TypeError("plasticity must be an STDP, an STP, or a tuple of one of each; "
                            f"got {plasticity!r}")
    return stdp, stp


def from_params(spec):
    """The rules of a saved projection (``{"stdp": params or None, "stp": params or None}``)."""
    stdp = STDP(**spec["stdp"]) if spec.get("stdp") else None
    stp = STP(**spec["stp"]) if spec.get("stp") else None
    return stdp, stp
