r"""Partition functions and likelihoods of restricted Boltzmann machines, and the AIS core.

An RBM (see :class:`layerwise.models.rbm.RBM`) defines ``p(v, h) = exp(-E(v, h)) / Z`` with::

    E(v, h) = V(v) - h^T W s(v) - c^T h,      Z = sum_{v, h} exp(-E(v, h)),

``V(v) = -b^T v`` and ``s(v) = v`` for binary visible units, ``V(v) = sum_i (v_i - b_i)^2 /
(2 sigma_i^2)`` and ``s(v) = v / sigma`` for Gaussian ones (the sum over v is then an
integral). Binary units take the states {0, 1} (Bernoulli) or {-1, +1} (spin).

``log Z`` decides every likelihood, ``log p(v) = -F(v) - log Z``, and costs a sum over
``2^n`` states. This module computes it

* exactly (:func:`exact_log_partition`), summing over the smaller binary layer in float64,
  feasible to about 2^25 states;
* by annealed importance sampling (:func:`ais_log_partition`; Neal 2001, Salakhutdinov &
  Murray 2008) for models of real size;

* with temperatures where the log-weight variance accrues (:func:`adaptive_betas`, a pilot run
  and the rule of :mod:`.schedules`);

* from below with certainty, by the floor ``log sum exp(-F(v))`` over the distinct states a
  run has seen (:func:`log_z_floor`): Z is a sum of positive terms and a subset sums to less;
  AIS checks its estimate against it (a missed mode) and reports its effective sample size,
  the spread of the log weights and where along the schedule their variance accrues;

and the per-example log-likelihood (:func:`log_likelihood`), how to report it
(:func:`report_log_likelihood`: an estimate, or a proven upper bound when AIS fell below the
floor) and the pseudo-log-likelihood (:func:`pseudo_log_likelihood`), a cheap proxy that
needs no ``Z``.

The modules: :mod:`.exact` (enumeration), :mod:`.floor` (the floor), :mod:`.ais` (the AIS
core, the RBM's path, the checks, the adaptive schedule's pilot), :mod:`.schedules` (schedules
from a measured variance), :mod:`.likelihood` (log-likelihoods and their reports).

Annealed importance sampling is written once, in :func:`anneal`, over a small protocol
(:class:`AnnealingPath`: the base model's log Z and exact samples, the unnormalised
log-probability at an inverse temperature beta, and a transition leaving that distribution
invariant). :class:`RBMPath` implements it for the RBM; the DBM implements it beside its own
maths (``layerwise.models.dbm``).

References
----------
Neal (2001), "Annealed importance sampling", Statistics and Computing 11, 125-139.
Salakhutdinov & Murray (2008), "On the quantitative analysis of deep belief networks", ICML.
Besag (1975), "Statistical analysis of non-lattice data" (pseudo-likelihood).
"""

from .ais import (
    FLOOR_CHECKS,
    MIN_ESS,
    AISResult,
    AISWarning,
    AnnealingPath,
    LowESSWarning,
    MissedModeError,
    MissedModeWarning,
    SCHEDULES,
    RBMPath,
    adaptive_betas,
    ais_betas,
    ais_log_partition,
    anneal,
    base_model_bias,
    check_ais_result,
    check_betas,
    effective_sample_size,
    progress_bar,
)
from .exact import CHUNK_ELEMENTS, MAX_ENUMERATED_UNITS, exact_log_partition, in_float64
from .floor import distinct_states, is_discrete, log_z_floor
from .schedules import betas_from_variance, nonempty_segments, steps_per_segment
from .likelihood import (
    METHODS,
    ReportedLikelihood,
    log_likelihood,
    log_partition,
    pseudo_log_likelihood,
    report_log_likelihood,
)

__all__ = [
    "effective_sample_size",
    "AISResult",
    "AISWarning",
    "AnnealingPath",
    "LowESSWarning",
    "FLOOR_CHECKS",
    "MIN_ESS",
    "MissedModeError",
    "MissedModeWarning",
    "RBMPath",
    "ReportedLikelihood",
    "SCHEDULES",
    "CHUNK_ELEMENTS",
    "MAX_ENUMERATED_UNITS",
    "METHODS",
    "adaptive_betas",
    "ais_betas",
    "betas_from_variance",
    "ais_log_partition",
    "anneal",
    "base_model_bias",
    "check_ais_result",
    "check_betas",
    "distinct_states",
    "exact_log_partition",
    "in_float64",
    "is_discrete",
    "log_likelihood",
    "log_partition",
    "log_z_floor",
    "nonempty_segments",
    "progress_bar",
    "pseudo_log_likelihood",
    "report_log_likelihood",
    "steps_per_segment",
]
