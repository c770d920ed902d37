"""A D-Wave Ocean sampler over neurosim's simulated annealing: :class:`AnnealingSampler`.

``AnnealingSampler`` is a ``dimod.Sampler``: it takes binary quadratic models (SPIN or BINARY,
any variable labels), runs them on :class:`~neurosim.energy.IsingAnnealer` (on the CPU, or the
GPU with ``backend="cuda"``) and returns a ``dimod.SampleSet`` whose energies are dimod's. Its
keyword arguments are those of ``dwave.samplers.SimulatedAnnealingSampler`` where they mean the
same (``num_reads``, ``num_sweeps``, ``num_sweeps_per_beta``, ``beta_range``,
``beta_schedule_type``, ``beta_schedule``, ``seed``, ``initial_states``,
``initial_states_generator``, ``proposal_acceptance_criteria``), so either sampler can stand in
for the other. Without ``beta_range`` it takes dwave-samplers' default
(:func:`default_beta_range`). What differs: ``seed`` is any neurosim seed (an int >= 0, a
``SeedSequence``, None), ``num_sweeps`` is at least 1, ``beta_schedule`` must not heat, and
``randomize_order``/``interrupt_function`` are accepted at their defaults only::

    import dimod
    from neurosim.energy.ocean import AnnealingSampler

    bqm = dimod.generators.ran_r(1, 20, seed=0)
    ss = AnnealingSampler().sample(bqm, num_reads=10, num_sweeps=1000, seed=1)
    ss.first.energy                           # dimod's energy of the best sample

Energy conventions. neurosim writes an Ising energy as ``E(s) = -1/2 s'Js - h's + offset``
with ``J`` symmetric and zero on the diagonal (a positive ``J_ij`` favours aligned spins, the
physicists' sign); dimod writes ``E(s) = sum_i a_i s_i + sum_{i<j} b_ij s_i s_j + c`` (a
positive ``b_ij`` favours anti-aligned spins). They are the same energy when
``J_ij = J_ji = -b_ij``, ``h_i = -a_i`` and ``offset = c``; the sampler makes that translation,
so the energies it reports are ``bqm.energies(sampleset)``, and ``beta`` is the inverse
temperature of the same energy in both. A BINARY model is annealed as ``bqm.spin`` (the same
energies, ``x = (s + 1) / 2``) and its samples are returned as 0/1.

dimod is optional: ``import neurosim`` never imports this module (``pip install
neurosim[ocean]``).
"""
import math
import numbers

import numpy as np
import scipy.sparse as sp

from .. import checks
from .. import rng as _rng
from .annealing import SCHEDULES, IsingAnnealer, beta_schedule

try:
    import dimod
except ImportError as err:  # pragma: no cover - exercised only without dimod
    raise ImportError("neurosim.energy.ocean needs dimod (pip install dimod, or "
                      "pip install neurosim[ocean])") from err

__all__ = ["AnnealingSampler", "default_beta_range", "ising_arrays"]

#: dwave-samplers' acceptance criteria -> IsingAnnealer methods
CRITERIA = {"metropolis": "metropolis", "gibbs": "heat_bath"}
#: couplings at least this dense (fraction of all pairs) go to the dense kernel
DENSE_FRACTION = 0.25


def default_beta_range(bqm):
    """``(hot, cold)``: dwave-samplers' default inverse temperatures for ``bqm`` (in spin form).

    Hot: the largest field a spin can feel, ``max_i (|a_i| + sum_j |b_ij|)``, is overcome with
    probability 1/2 by a Metropolis flip. Cold: the smallest nonzero bias ``m`` (over all ``a_i``
    and ``b_ij``) sets the smallest excitation ``2 m``; at the cold end the ``k`` variables that
    have it flip up with total probability 1/100 (``beta = log(100 k) / (2 m)``). A model with no
    bias at all gets ``(0.1, 1.0)``. Cold enough for a QUBO's finely spaced energies, where
    :meth:`IsingAnnealer.default_beta_range` (made for spin glasses) stops warmer.
    """
    spin = bqm.spin
    order = list(spin.variables)
    lin, (row, col, quad), _ = spin.to_numpy_vectors(variable_order=order)
    lin, quad = np.abs(np.asarray(lin, float)), np.abs(np.asarray(quad, float))
    field = lin.copy()
    np.add.at(field, row, quad)
    np.add.at(field, col, quad)
    weakest = np.where(lin > 0, lin, np.inf)
    nonzero = quad > 0
    for ends in (row, col):
        np.minimum.at(weakest, ends[nonzero], quad[nonzero])
    if not np.isfinite(weakest).any():
        return 0.1, 1.0
    m = weakest.min()
    hot = math.log(2.0) / (2.0 * field.max())
    return hot, max(math.log(100.0 * np.count_nonzero(weakest == m)) / (2.0 * m), hot)


def ising_arrays(bqm, variables=None):
    """neurosim's Ising arrays ``(J, h, offset)`` of a dimod binary quadratic model.

    The energies agree: ``IsingAnnealer(J, h, offset=offset).energy(s)`` equals dimod's
    energy of the spin sample ``s`` (a BINARY model is taken as ``bqm.spin``, ``x = (s+1)/2``).
    ``J`` is a dense float64 array when at least ``DENSE_FRACTION`` of the pairs interact
    (else a CSR matrix), ``J_ij = J_ji = -b_ij`` for dimod's quadratic bias ``b_ij``;
    ``h = -a`` for its linear biases; ``offset`` is its offset. ``variables``: the order of the
    units (default ``bqm.variables``).
    """
    if not isinstance(bqm, dimod.BinaryQuadraticModel):
        raise TypeError(f"bqm must be a dimod.BinaryQuadraticModel; got {type(bqm).__name__}")
    order = list(bqm.variables) if variables is None else list(variables)
    spin = bqm.spin
    lin, (row, col, quad), offset = spin.to_numpy_vectors(variable_order=order)
    lin, quad = np.asarray(lin, np.float64), np.asarray(quad, np.float64)
    if not (np.all(np.isfinite(lin)) and np.all(np.isfinite(quad)) and np.isfinite(offset)):
        raise ValueError("bqm biases and offset must be finite; they hold NaN or inf")
    n = len(order)
    J = sp.coo_matrix((np.concatenate([-quad, -quad]),
                       (np.concatenate([row, col]), np.concatenate([col, row]))),
                      shape=(n, n)).tocsr()
    if n <= 2 or 2 * quad.size >= DENSE_FRACTION * n * (n - 1):
        J = J.toarray()
    return J, -lin, float(offset)


class AnnealingSampler(dimod.Sampler, dimod.Initialized):
    """A ``dimod.Sampler`` running neurosim's simulated annealing (:class:`IsingAnnealer`).

    backend: ``"cpu"``, ``"cuda"`` or ``"auto"``, where the sweeps run (the GPU twin gives the
    CPU's samples for the same seed). See :meth:`sample` for the keyword arguments, and the
    module docstring for how the energies are translated.
    """

    def __init__(self, backend="cpu"):
        self.backend = checks.choice(backend, "backend", ("cpu", "cuda", "auto"))
        self._parameters = {name: [] for name in (
            "num_reads", "num_sweeps", "num_sweeps_per_beta", "beta_range", "beta_schedule",
            "seed", "initial_states", "initial_states_generator", "proposal_acceptance_criteria",
            "randomize_order", "interrupt_function")}
        self._parameters["beta_schedule_type"] = ["beta_schedule_options"]
        self._properties = {"beta_schedule_options": SCHEDULES + ("custom",),
                            "backend": self.backend}

    @property
    def parameters(self):
        """Keyword arguments of :meth:`sample` (dimod's sampler API)."""
        return self._parameters

    @property
    def properties(self):
        """The schedule types and the backend (dimod's sampler API)."""
        return self._properties

    def sample(self, bqm, num_reads=None, num_sweeps=None, num_sweeps_per_beta=1,
               beta_range=None, beta_schedule_type="geometric", beta_schedule=None, seed=None,
               initial_states=None, initial_states_generator="random",
               proposal_acceptance_criteria="Metropolis", randomize_order=False,
               interrupt_function=None, **kwargs):
        """Anneal ``bqm`` ``num_reads`` times; returns a ``dimod.SampleSet`` (one row a read).

        Parameters
        ----------
        bqm : dimod.BinaryQuadraticModel
            SPIN or BINARY, any hashable labels. Samples come back in its vartype, with
            dimod's energies (``bqm.energies(sampleset)``).
        num_reads : int, optional
            Independent reads, one random stream each (default: the number of
            ``initial_states``, or 1).
        num_sweeps : int, optional
            Sweeps per read, >= 1 (default 1000; with ``beta_schedule_type="custom"``,
            ``len(beta_schedule) * num_sweeps_per_beta``).
        num_sweeps_per_beta : int
            Sweeps at each inverse temperature of the schedule.
        beta_range : (float, float), optional
            ``(hot, cold)`` inverse temperatures, ``0 < hot <= cold``; default
            :func:`default_beta_range`, dwave-samplers' rule.
        beta_schedule_type : {"geometric", "linear", "custom"}
            Spacing of the ``num_sweeps / num_sweeps_per_beta`` betas in ``beta_range``, or
            ``"custom"``: the betas of ``beta_schedule`` (> 0, non-decreasing).
        seed : int, SeedSequence or None
            Fixes the reads' streams and random start states; None draws one, reported in
            ``sampleset.info["seed"]`` so that the run can be repeated.
        initial_states : samples-like or SampleSet, optional
            Start states with their labels (dimod's samples-like: a SampleSet, a dict, an
            array with labels, ...), in either vartype; ``initial_states_generator``
            (``"random"``, ``"tile"`` or ``"none"``, as in dimod) fills the reads they lack.
        proposal_acceptance_criteria : {"Metropolis", "Gibbs"}
            Single-flip acceptance rule (Gibbs is neurosim's heat bath).
        randomize_order, interrupt_function
            Accepted for dwave-samplers compatibility only at their defaults (neurosim sweeps
            the units in order; Ctrl+C stops a run): other values are a ``ValueError``.

        Other keyword arguments are dimod's unknown-argument warning and are ignored.

        Returns
        -------
        dimod.SampleSet
            Rows in read order; ``info``: ``beta_range`` (the ends used),
            ``beta_schedule_type``, ``num_sweeps``, ``seed``, ``backend``.
        """
        self.remove_unknown_kwargs(**kwargs)
        if not isinstance(bqm, dimod.BinaryQuadraticModel):
            raise TypeError(f"bqm must be a dimod.BinaryQuadraticModel; got {type(bqm).__name__}")
        if randomize_order:
            raise ValueError("randomize_order=True is not supported: neurosim sweeps the "
                             "variables in order")
        if interrupt_function is not None:
            raise ValueError("interrupt_function is not supported: press Ctrl+C to stop a run "
                             "(the reads so far come back)")
        if not isinstance(proposal_acceptance_criteria, str) or \
                proposal_acceptance_criteria.lower() not in CRITERIA:
            raise ValueError("proposal_acceptance_criteria must be 'Metropolis' or 'Gibbs'; got "
                             f"{proposal_acceptance_criteria!r}")
        method = CRITERIA[proposal_acceptance_criteria.lower()]
        seed = _rng.fresh() if seed is None else seed
        _rng.sequence(seed)     # type and sign checked, naming seed
        states, variables, num_reads = self._starts(bqm, num_reads, initial_states,
                                                    initial_states_generator, seed)
        arrays = ising_arrays(bqm, variables) if variables else None   # checks the biases
        betas, schedule = _schedule(num_sweeps, num_sweeps_per_beta, beta_range,
                                    beta_schedule_type, beta_schedule,
                                    lambda: default_beta_range(bqm))
        info = {"beta_range": [float(betas[0]), float(betas[-1])], "beta_schedule_type": schedule,
                "num_sweeps": int(betas.size), "seed": _rng.to_attr(seed), "backend": self.backend}
        if arrays is None:      # nothing to anneal: every read is the empty sample
            return dimod.SampleSet.from_samples((np.empty((num_reads, 0), np.int8), []),
                                                vartype=bqm.vartype, info=info,
                                                energy=np.full(num_reads, float(bqm.offset)))
        J, h, offset = arrays
        annealer = IsingAnnealer(J, h, offset=offset, seed=seed, backend=self.backend)
        ds = annealer.anneal(reads=num_reads, betas=betas, method=method, initial=states)
        info["backend"] = ds.attrs["backend"]
        out = dimod.SampleSet.from_samples((ds.spins.values, variables), vartype=dimod.SPIN,
                                           energy=ds.energy.values, info=info)
        if bqm.vartype is dimod.BINARY:
            out.change_vartype(dimod.BINARY, inplace=True)
        return out

    def _starts(self, bqm, num_reads, initial_states, generator, seed):
        """(spin start states (reads, n) or None, the variables in their order, reads)."""
        if initial_states is None:
            reads = 1 if num_reads is None else checks.integer(num_reads, "num_reads", low=1)
            return None, list(bqm.variables), reads
        if num_reads is not None:
            checks.integer(num_reads, "num_reads", low=1)
        # dimod's own parsing (labels, vartype, "random"/"tile"/"none"); its random fill is
        # seeded from a child of the seed, so the same seed gives the same start states
        fill = int(_rng.generator(_rng.child(seed, 1)).integers(2 ** 32))
        parsed = self.parse_initial_states(bqm, initial_states=initial_states,
                                           initial_states_generator=generator,
                                           num_reads=num_reads, seed=fill)
        states = parsed.initial_states.record.sample.astype(np.int8)
        if bqm.vartype is dimod.BINARY:
            states = 2 * states - 1
        return states, list(parsed.initial_states.variables), parsed.num_reads


def _schedule(num_sweeps, per_beta, beta_range, schedule_type, custom, default_range):
    """(the betas of every sweep, the schedule type); ``default_range()``: the beta range when
    none is given."""
    per_beta = checks.integer(per_beta, "num_sweeps_per_beta", low=1)
    if schedule_type not in SCHEDULES + ("custom",):
        raise ValueError(f"beta_schedule_type must be one of {SCHEDULES + ('custom',)}; got "
                         f"{schedule_type!r}")
    if schedule_type == "custom":
        if custom is None:
            raise ValueError("beta_schedule is needed when beta_schedule_type='custom'")
        b = checks.array(custom, "beta_schedule", ndim=1)
        if np.any(b <= 0) or np.any(np.diff(b) < 0):
            raise ValueError("beta_schedule must be > 0 and non-decreasing (neurosim anneals, "
                             f"it never heats); got values in [{b.min()}, {b.max()}]")
        betas = np.repeat(b, per_beta)
        if num_sweeps is not None and checks.integer(num_sweeps, "num_sweeps") != betas.size:
            raise ValueError(f"num_sweeps must be None or len(beta_schedule) * "
                             f"num_sweeps_per_beta = {betas.size}; got {num_sweeps}")
        if beta_range is not None and tuple(beta_range) != (b[0], b[-1]):
            raise ValueError("beta_range must be None or the ends of beta_schedule with "
                             "beta_schedule_type='custom'")
        return betas, "custom"
    if custom is not None:
        raise ValueError("beta_schedule is used only with beta_schedule_type='custom'")
    num_sweeps = 1000 if num_sweeps is None else checks.integer(num_sweeps, "num_sweeps", low=1)
    if num_sweeps % per_beta:
        raise ValueError(f"num_sweeps ({num_sweeps}) must be a multiple of num_sweeps_per_beta "
                         f"({per_beta})")
    if beta_range is None:
        beta_range = default_range()
    if not isinstance(beta_range, (tuple, list, np.ndarray)) or len(beta_range) != 2 or \
            not all(isinstance(b, numbers.Real) for b in beta_range):
        raise ValueError(f"beta_range must be a pair (hot, cold); got {beta_range!r}")
    betas = beta_schedule(beta_range=tuple(float(b) for b in beta_range),
                          sweeps=num_sweeps // per_beta, schedule=schedule_type)
    return np.repeat(betas, per_beta), schedule_type
