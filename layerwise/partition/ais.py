r"""Annealed importance sampling: the one AIS loop (:func:`anneal`), its protocol
(:class:`AnnealingPath`), the RBM's path, the result with its diagnostics, and the checks.

References
----------
Neal (2001), "Annealed importance sampling", Statistics and Computing 11, 125-139.
Salakhutdinov & Murray (2008), "On the quantitative analysis of deep belief networks", ICML.
Kong (1992), "A note on importance sampling using standardized weights" (effective sample size).
Grosse, Maddison & Salakhutdinov (2013), "Annealing between distributions by averaging moments"
(where to put the temperatures; :mod:`.schedules`).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Sequence

import torch
from torch import Tensor

from .._validation import as_float_tensor, check_choice, check_finite, check_int
from .floor import is_discrete, log_z_floor
from .schedules import betas_from_variance, nonempty_segments, steps_per_segment

__all__ = [
    "base_model_bias",
    "effective_sample_size",
    "AISResult",
    "AISWarning",
    "AnnealingPath",
    "LowESSWarning",
    "MIN_ESS",
    "MissedModeError",
    "MissedModeWarning",
    "RBMPath",
    "SCHEDULES",
    "adaptive_betas",
    "ais_betas",
    "ais_log_partition",
    "anneal",
    "check_ais_result",
    "check_betas",
]

# Salakhutdinov & Murray (2008), section 4.1: beta spaced uniformly 0 -> 0.5 in steps of 1e-3,
# 0.5 -> 0.9 in steps of 1e-4 and 0.9 -> 1 in steps of 1e-5 (14,500 steps, 14,501 values).
_PAPER_SEGMENTS = ((0.0, 0.5, 500), (0.5, 0.9, 4000), (0.9, 1.0, 10000))
_PIECEWISE_FROM = 1000  # n_betas from which the paper's shape is used instead of linspace

#: An AIS estimate whose effective sample size is below this is flagged unreliable: its weights
#: rest on a handful of runs, and the standard error of their mean means little.
MIN_ESS = 10.0
FLOOR_CHECKS = ("warn", "raise", "off")
#: The schedules of :func:`ais_log_partition`: the paper's fixed shape, or from a pilot run.
SCHEDULES = ("paper", "adaptive")


class AISWarning(UserWarning):
    """A warning about an annealed importance sampling estimate."""


class MissedModeWarning(AISWarning):
    """The AIS estimate of log Z is below the proven floor: the annealing missed a mode, and the
    log-likelihood is only bounded above (``-F(v) - floor``)."""


class LowESSWarning(AISWarning):
    """The AIS importance weights have an effective sample size under :data:`MIN_ESS`."""


class MissedModeError(RuntimeError):
    """Raised instead of :class:`MissedModeWarning` with ``floor_check="raise"``."""


def effective_sample_size(log_weights: Tensor) -> Tensor:
    """Per row of ``log_weights`` (..., K), ``(sum_k w_k)^2 / sum_k w_k^2`` (Kong 1992): K for equal
    weights, near 1 when one weight dominates. The one formula behind every ESS layerwise reports
    (AIS, RAISE, importance sampling, bidirectional Monte Carlo)."""
    return torch.exp(2 * torch.logsumexp(log_weights, -1) - torch.logsumexp(2 * log_weights, -1))


@dataclass
class AISResult:
    r"""The outcome of :func:`anneal` (:func:`ais_log_partition`, ``DBM.log_partition("ais")``).

    Attributes
    ----------
    log_z : float
        The estimate ``log mean_r exp(log_weights_r)``.
    lower, upper : float
        ``log_z -+ 3 se``, the band in log space by the delta method:
        ``se = std(w) / (sqrt(R) mean(w))``, the standard error of ``log mean w`` (its derivative
        ``1 / mean w`` times the standard error of the mean). Finite for a finite estimate
        (``mean w >= max w / R > 0``); infinite only for a single run, which measures no spread.
    log_weights : Tensor (n_runs,)
        float64 per-run estimates ``log Z_A + log w_r`` (each ``Z_A w_r`` is an unbiased
        estimate of Z).
    segment_betas : Tensor (S + 1,), optional
        The edges ``0 = e_0 < ... < e_S = 1`` of the beta segments of :attr:`segment_variance`.
    segment_variance : Tensor (S,), optional
        Where along the schedule the variance accrues: the variance over runs of the log-weight
        increments of the steps whose beta lies in ``(e_{s-1}, e_s]``.
    cumulative_variance : Tensor (S,), optional
        The variance over runs of the log weight accumulated up to ``e_s``.
    floor : float, optional
        The proven floor on log Z it was checked against (:func:`~layerwise.partition.log_z_floor`).
    end_states : optional
        The runs' last states (the path's format), e.g. for the floor.
    """

    log_z: float
    lower: float
    upper: float
    log_weights: Tensor
    segment_betas: Tensor | None = None
    segment_variance: Tensor | None = None
    cumulative_variance: Tensor | None = None
    floor: float | None = None
    end_states: Any = field(default=None, repr=False)

    @property
    def effective_sample_size(self) -> float:
        """``(sum w)^2 / sum w^2`` (Kong 1992): n_runs for equal weights, near 1 when one run dominates."""
        return float(effective_sample_size(self.log_weights))

    @property
    def log_weight_std(self) -> float:
        """The spread of the log weights, ``std_r log w_r`` (0 for a single run)."""
        return float(self.log_weights.std()) if self.log_weights.numel() > 1 else 0.0

    @property
    def below_floor(self) -> bool:
        """Whether the estimate is under the proven floor (a missed mode)."""
        return self.floor is not None and self.log_z < self.floor

    @property
    def reliable(self) -> bool:
        """``False`` when the effective sample size is under :data:`MIN_ESS` or the estimate is below
        the floor: then quote no estimate, only the proven bound (:attr:`log_z_checked`)."""
        return self.effective_sample_size >= MIN_ESS * (1 - 1e-9) and not self.below_floor

    @property
    def log_z_checked(self) -> float:
        """``max(log_z, floor)``: log Z is at least the floor, so a log-likelihood with this log Z is
        the estimate when AIS is above the floor, and the proven upper bound ``-F(v) - floor`` when not."""
        return self.log_z if self.floor is None else max(self.log_z, self.floor)

    def __float__(self) -> float:
        return self.log_z

    @classmethod
    def from_log_weights(cls, log_weights: Tensor, **fields: Any) -> "AISResult":
        """The estimate and its ±3 standard-error band (log space, see the class) from the per-run
        ``log Z_A + log w_r``; ``fields`` fill the other attributes."""
        n_runs = log_weights.numel()
        log_z = float(torch.logsumexp(log_weights, 0) - math.log(n_runs))
        if n_runs == 1:
            return cls(log_z=log_z, lower=-math.inf, upper=math.inf, log_weights=log_weights, **fields)
        w = torch.exp(log_weights - log_weights.max())  # max 1, so mean >= 1 / n_runs
        rel_se = float(w.std()) / (math.sqrt(n_runs) * float(w.mean()))
        return cls(log_z=log_z, lower=log_z - 3 * rel_se, upper=log_z + 3 * rel_se, log_weights=log_weights, **fields)


def check_ais_result(result: AISResult, floor: float | None = None, floor_check: str = "warn",
                     stacklevel: int = 4) -> AISResult:
    """Attach the proven ``floor`` to ``result`` and flag it: a :class:`MissedModeWarning` (or
    :class:`MissedModeError` with ``floor_check="raise"``) when the floor lies above the estimate's
    whole band (``result.upper``): a mode the runs never reached, not noise; a
    :class:`LowESSWarning` when the effective sample size is under :data:`MIN_ESS`.

    An estimate below the floor but with the floor inside its band is ordinary noise (AIS is
    unbiased in Z, so log Z-hat falls a little below log Z about as often as not): no warning,
    but ``result.below_floor`` is set and ``result.log_z_checked`` is the floor all the same.

    Parameters
    ----------
    result : AISResult
    floor : float, optional
        From :func:`~layerwise.partition.log_z_floor`.
    floor_check : {"warn", "raise", "off"}
        What a missed mode does; ``"off"`` also silences the ESS warning.
    stacklevel : int
        Of the warnings.

    Returns
    -------
    AISResult
        ``result`` itself, its ``floor`` set.
    """
    check_choice("floor_check", floor_check, FLOOR_CHECKS)
    if floor is not None:
        result.floor = float(floor)
    if floor_check == "off":
        return result
    if result.below_floor and result.floor > result.upper:
        msg = (f"AIS missed a mode: its log Z estimate {result.log_z:.4f} (band up to {result.upper:.4f}) "
               f"is below the proven floor {result.floor:.4f} (log sum exp(-F) over distinct seen states; "
               f"effective sample size {result.effective_sample_size:.2f}). Report log-likelihoods as upper bounds -F(v) - floor "
               "(AISResult.log_z_checked, partition.report_log_likelihood), never with the AIS figure.")
        if floor_check == "raise":
            raise MissedModeError(msg)
        warnings.warn(msg, MissedModeWarning, stacklevel=stacklevel)
    ess = result.effective_sample_size
    if ess < MIN_ESS * (1 - 1e-9):
        warnings.warn(f"AIS effective sample size {ess:.2f} of {result.log_weights.numel()} runs is under "
                      f"{MIN_ESS:g}: the estimate {result.log_z:.4f} rests on a few runs (log-weight std "
                      f"{result.log_weight_std:.2f}); do not quote it. More temperatures where the variance "
                      "accrues (AISResult.segment_variance) help; more runs barely do.",
                      LowESSWarning, stacklevel=stacklevel)
    return result


def ais_betas(n_betas: int) -> Tensor:
    """The inverse temperatures 0 = beta_0 < ... < beta_K = 1 (``n_betas`` values, float64).

    From 1000 values on, the shape of Salakhutdinov & Murray (2008): of the ``n_betas - 1``
    steps, 500/14500 spaced uniformly on [0, 0.5], 4000/14500 on [0.5, 0.9] and 10000/14500
    on [0.9, 1] (``n_betas=14501`` is the paper's schedule exactly: steps 1e-3, 1e-4, 1e-5).
    Below 1000, ``linspace(0, 1, n_betas)``.
    """
    n_betas = check_int("n_betas", n_betas, 2)
    if n_betas < _PIECEWISE_FROM:
        return torch.linspace(0.0, 1.0, n_betas, dtype=torch.float64)
    steps = n_betas - 1
    total = sum(k for _, _, k in _PAPER_SEGMENTS)
    counts = [round(steps * k / total) for _, _, k in _PAPER_SEGMENTS[:-1]]
    counts.append(steps - sum(counts))
    pieces = [torch.linspace(lo, hi, k + 1, dtype=torch.float64)[:-1]
              for (lo, hi, _), k in zip(_PAPER_SEGMENTS, counts)]
    pieces.append(torch.ones(1, dtype=torch.float64))
    return torch.cat(pieces)


def check_betas(betas: Any) -> Tensor:
    """An explicit AIS schedule as a float64 CPU tensor, checked: 1-d, finite, non-decreasing
    from exactly 0 to exactly 1."""
    t = as_float_tensor("betas", betas, torch.float64).detach().to("cpu", torch.float64)
    if t.dim() != 1 or t.numel() < 2:
        raise ValueError(f"'betas' must be a 1-d sequence of at least 2 values; got shape {tuple(t.shape)}.")
    check_finite("betas", t)
    if float(t[0]) != 0.0 or float(t[-1]) != 1.0 or bool((t[1:] < t[:-1]).any()):
        raise ValueError(
            f"'betas' must increase from 0 to 1 (non-decreasing, first 0, last 1); got first "
            f"{float(t[0])!r}, last {float(t[-1])!r}."
        )
    return t


def base_model_bias(rbm, base_visible_bias: Any, data: Any) -> Tensor:
    """b_A, the base model's visible biases of AIS (and of RAISE, so both ends share a base model):
    given, fitted to the data's means (Hinton's base rates), or the RBM's own b."""
    dev, dt = rbm.weight.device, rbm.weight.dtype
    if base_visible_bias is not None and data is not None:
        raise ValueError("Give at most one of 'base_visible_bias' and 'data'.")
    if base_visible_bias is not None:
        ba = as_float_tensor("base_visible_bias", base_visible_bias).detach()
        if tuple(ba.shape) != (rbm.n_visible,):
            raise ValueError(f"'base_visible_bias' must have shape ({rbm.n_visible},); got {tuple(ba.shape)}.")
        return check_finite("base_visible_bias", ba).to(dev, dt)
    if data is None:
        return rbm.visible_bias.detach().clone()
    mean = rbm.validate_data(data).detach().to(dev, torch.float64).mean(0)
    return rbm.visible.bias_from_mean(mean).to(dt)


@torch.no_grad()
def ais_log_partition(
    rbm,
    n_runs: int = 100,
    n_betas: int = 10000,
    *,
    betas: Sequence[float] | Tensor | None = None,
    base_visible_bias: Tensor | None = None,
    data: Any = None,
    generator: torch.Generator | None = None,
    return_bounds: bool = True,
    floor_states: Any = None,
    floor_check: str = "warn",
    segments: int | Sequence[float] = 10,
    schedule: str = "paper",
    pilot_runs: int = 20,
    pilot_betas: int | None = None,
    progress: bool = True,
) -> AISResult | float:
    r"""log Z by annealed importance sampling (Neal 2001; Salakhutdinov & Murray 2008).

    The base model A has the RBM's hidden units with zero weights and zero biases and
    visible biases ``b_A``, so ``E_A(v, h) = V_A(v)`` (``-b_A^T v``, or
    ``sum_i (v_i - b_{A,i})^2 / (2 s_i^2)`` for Gaussian visible units with the RBM's
    sigma). The intermediate distributions are
    ``p_k(v, h) ∝ exp(-(1 - beta_k) E_A(v, h) - beta_k E_B(v, h))``; summing the hidden units
    out in closed form (``L`` the hidden units' ``log_partition``, ``a(v) = c + W s(v)``)::

        log p*_k(v) = -(1 - beta_k) V_A(v) - beta_k V_B(v) + sum_j L(beta_k a_j(v)).

    At beta = 0 the hidden term is ``n_hidden L(0) = n_hidden log 2`` for both Bernoulli and
    spin units: the base model's hidden units, uncoupled, double the mass once each, so
    ``log Z_A = n_hidden log 2 + sum_i log sum_{v_i} exp(b_{A,i} v_i)`` (visible units'
    ``log_partition``; ``sum_i log(sqrt(2 pi) s_i)`` for Gaussian ones). At beta = 1 it is
    ``-F(v)``, so the normaliser is the RBM's Z. Each run draws ``v_0 ~ p_A``, then for
    ``k = 1..K``::

        log w += log p*_k(v_{k-1}) - log p*_{k-1}(v_{k-1}),   v_k ~ T_k(v_{k-1}),

    where ``T_k`` is one block Gibbs sweep of ``p_k``: ``h ~ p_k(h | v)`` with input
    ``beta_k a(v)``, then ``v ~ p_k(v | h)`` with input ``(1 - beta_k) b_A + beta_k
    (b + W^T h)`` (Gaussian: mean ``(1 - beta_k) b_A + beta_k (b + s W^T h)``, variance
    ``s^2``). ``Z_A w`` is unbiased for Z and the estimate is
    ``log Z = log Z_A + log mean_r w_r`` (biased low in log space by Jensen's inequality,
    as the paper notes). Runs are vectorised, sampling happens in the RBM's dtype and
    device, and the log weights accumulate in float64.

    Parameters
    ----------
    rbm : RBM
        The model (Bernoulli, spin or Gaussian visible units; Bernoulli or spin hidden).
    n_runs : int
        Independent annealing runs (the paper uses 100).
    n_betas : int
        Number of inverse temperatures including 0 and 1 (see :func:`ais_betas`; the paper's
        14,500 steps are ``n_betas=14501``).
    betas : sequence of float, optional
        An explicit schedule, non-decreasing from 0 to 1; overrides ``n_betas``.
    base_visible_bias : tensor (n_visible,), optional
        ``b_A`` directly.
    data : tensor (n, n_visible), optional
        Fit ``b_A`` to the data instead, as the paper does: ``log(p / (1 - p))`` of the
        data means clamped to [1e-3, 1 - 1e-3] (``atanh`` of the means for spin units, the
        means for Gaussian ones). A base model close to the data lowers the variance.
        Without either, ``b_A`` is the RBM's own visible bias.
    generator : torch.Generator, optional
        On the RBM's device, for reproducible runs.
    return_bounds : bool
        Return an :class:`AISResult` (estimate, band, log weights, diagnostics); ``False``
        returns the estimate alone as a float.
    floor_states : tensor (n, n_visible) or sequence of tensors, optional
        Visible states seen elsewhere (training data, persistent chains) for the proven floor
        on log Z (:func:`~layerwise.partition.log_z_floor`); default ``data`` when it is
        binary. The runs' end states and a persistent RBM's chains are always added. Binary
        visible units only.
    floor_check : {"warn", "raise", "off"}
        When the estimate is below the floor (a missed mode): a :class:`MissedModeWarning`,
        a :class:`MissedModeError`, or nothing (no floor computed). A :class:`LowESSWarning`
        flags an effective sample size under :data:`MIN_ESS` (not with ``"off"``).
    segments : int or sequence of float
        The beta segments of :attr:`AISResult.segment_variance` (see :func:`anneal`).
    schedule : {"paper", "adaptive"}
        With ``betas`` not given: ``"paper"``, :func:`ais_betas` (``n_betas`` temperatures in the
        paper's shape); ``"adaptive"``, :func:`adaptive_betas` (``n_betas`` temperatures placed
        where a pilot run measured the variance, same cost per run).
    pilot_runs, pilot_betas : int
        The pilot of ``schedule="adaptive"`` (see :func:`adaptive_betas`); it draws from
        ``generator`` before the runs, which are independent of it, so the estimate stays
        unbiased in Z.
    progress : bool
        A progress bar over the temperatures when stderr is a terminal (see :func:`anneal`).

    Returns
    -------
    AISResult or float
        Its ``floor`` set (binary visible units); the float is the estimate even when it is
        below the floor (use :attr:`AISResult.log_z_checked` for the bound).
    """
    n_runs = check_int("n_runs", n_runs, 1)
    check_choice("schedule", schedule, SCHEDULES)
    if betas is not None and schedule != "paper":
        raise ValueError(f"Give either 'betas' or schedule={schedule!r}, not both.")
    if rbm.hidden.states is None:  # pragma: no cover - the RBM offers binary hidden units only
        raise NotImplementedError("AIS needs binary hidden units.")
    check_choice("floor_check", floor_check, FLOOR_CHECKS)
    path = RBMPath(rbm, base_model_bias(rbm, base_visible_bias, data))
    if betas is not None:
        betas_t = check_betas(betas)
    elif schedule == "adaptive":
        betas_t = adaptive_betas(path, n_betas, pilot_runs=pilot_runs, pilot_betas=pilot_betas, generator=generator)
    else:
        betas_t = ais_betas(n_betas)
    result = anneal(path, betas_t, n_runs, generator, segments=segments, progress=progress)
    floor = None
    if floor_check != "off" and rbm.visible.states is not None:
        seen = [result.end_states[0]]
        chains = getattr(rbm, "chains", None) if getattr(rbm, "persistent", False) else None
        if chains is not None and is_discrete(chains, rbm.visible.states):
            seen.append(chains)  # the persistent chains' visible states
        if floor_states is not None:
            seen += list(floor_states) if isinstance(floor_states, (list, tuple)) else [floor_states]
        elif data is not None:
            d = rbm.validate_data(data)
            if is_discrete(d, rbm.visible.states):
                seen.append(d)
        floor = log_z_floor(rbm, seen)
    check_ais_result(result, floor, floor_check)
    return result if return_bounds else result.log_z


_BAR_EVERY = 50  # temperatures between two updates of a progress bar (tqdm costs ~1 us a call)


def progress_bar(total: int, enabled: bool, desc: str, unit: str):
    """A tqdm bar of ``total`` steps on stderr, or None: not ``enabled``, or stderr not a terminal
    (tqdm's ``disable=None``), so that logs and captured test output stay clean.

    Parameters
    ----------
    total : int
        Steps.
    enabled : bool
        False: no bar.
    desc, unit : str
        The bar's label and unit.

    Returns
    -------
    tqdm or None
    """
    if not enabled:
        return None
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=desc, unit=unit, leave=False, dynamic_ncols=True, disable=None)
    if bar.disable:
        bar.close()
        return None
    return bar


class AnnealingPath:
    r"""The protocol of :func:`anneal`: a path of distributions from a base model A (beta = 0)
    to the model B (beta = 1), ``p_beta(x) = p*_beta(x) / Z_beta``.

    A model implements (or an adapter implements for it):

    ``log_base_z`` : float
        ``log Z_0``, the base model's normaliser, known in closed form.
    ``device``
        Where the states and the log weights live.
    :meth:`sample_base`
        exact samples of ``p_0``;
    :meth:`log_unnormalised`
        ``log p*_beta(x)`` per run, float64;
    :meth:`transition`
        one Markov step that leaves ``p_beta`` invariant (e.g. a Gibbs sweep);
    :meth:`reverse_transition`
        its reversal ``T~(x' | x) = T(x | x') p_beta(x') / p_beta(x)``, for reverse annealing
        (RAISE, the upper side of bidirectional Monte Carlo); by default :meth:`transition`
        itself, right for a reversible step (a block Gibbs sweep of two layers), wrong for a
        sequential single-site sweep, whose reversal is the sweep in the opposite order.

    :meth:`log_weight` is ``log p*_beta(x) - log p*_beta'(x)``; by default the difference of two
    :meth:`log_unnormalised` calls, overridden where the model has a form that does not
    subtract large common terms (:class:`RBMPath`). A state is whatever the path chooses
    (a tensor, a list of layers, a tuple with cached inputs); :func:`anneal` only passes it on.
    """

    log_base_z: float = 0.0
    device: torch.device | str | None = None

    def sample_base(self, n_runs: int, generator: torch.Generator | None) -> Any:
        raise NotImplementedError

    def log_unnormalised(self, state: Any, beta: float) -> Tensor:
        raise NotImplementedError

    def transition(self, state: Any, beta: float, generator: torch.Generator | None) -> Any:
        raise NotImplementedError

    def reverse_transition(self, state: Any, beta: float, generator: torch.Generator | None) -> Any:
        """The reversal of :meth:`transition` with respect to ``p_beta`` (the reverse chains of
        :func:`layerwise.likelihood.reverse_anneal` take it); by default :meth:`transition`."""
        return self.transition(state, beta, generator)

    def log_weight(self, state: Any, beta_prev: float, beta: float) -> Tensor:
        """``log p*_beta(x) - log p*_beta_prev(x)``, the increment of a run's log importance weight."""
        return self.log_unnormalised(state, beta) - self.log_unnormalised(state, beta_prev)


@torch.no_grad()
def anneal(path: AnnealingPath, betas: Tensor, n_runs: int, generator: torch.Generator | None = None, *,
           segments: int | Sequence[float] = 10, progress: bool = True) -> AISResult:
    r"""Annealed importance sampling along ``path`` (Neal 2001): the one AIS loop.

    Each of ``n_runs`` runs draws ``x_0 ~ p_0`` (:meth:`AnnealingPath.sample_base`), then for
    ``k = 1..K``::

        log w += log p*_{beta_k}(x_{k-1}) - log p*_{beta_{k-1}}(x_{k-1}),   x_k ~ T_{beta_k}(x_{k-1}),

    (the increment skipped where beta repeats, no transition after the last), so that
    ``Z_0 w`` is an unbiased estimate of ``Z_1``.

    Parameters
    ----------
    path : AnnealingPath
        The model's annealing path.
    betas : Tensor
        The schedule 0 = beta_0 <= ... <= beta_K = 1 (see :func:`ais_betas`, :func:`check_betas`).
    n_runs : int
        Independent runs, vectorised.
    generator : torch.Generator, optional
        On the path's device, for reproducible runs.
    segments : int or sequence of float
        Where to measure the variance: ``S`` equal segments of [0, 1] in beta, or their edges
        (increasing from 0 to 1). The log weights are copied at the segment ends (S copies,
        no random numbers drawn: the estimate is the same for any ``segments``).
    progress : bool
        A progress bar over the temperatures (tqdm, on stderr) when stderr is a terminal;
        ``False``: none. It draws no random numbers: the estimate does not depend on it.

    Returns
    -------
    AISResult
        The estimate ``log Z_0 + log mean_r w_r`` with its band, per-run log weights, per-segment
        variances (:attr:`AISResult.segment_variance`) and the runs' end states.
    """
    edges = _segment_edges(segments)
    bl = betas.tolist()
    # the step to beta_k counts in segment s when beta_k is in (e_s, e_{s+1}]
    seg_of = (torch.searchsorted(edges, betas.detach().to("cpu", torch.float64)) - 1).clamp(min=0).tolist()
    x = path.sample_base(n_runs, generator)
    log_w = torch.zeros(n_runs, dtype=torch.float64, device=path.device)
    ends = {}  # segment -> cumulative log w at its last step
    last = len(bl) - 1
    bar = progress_bar(last, progress, "AIS", "beta")
    try:
        for k in range(1, last + 1):
            b_prev, b_k = bl[k - 1], bl[k]
            if b_k != b_prev:
                log_w += path.log_weight(x, b_prev, b_k)
            if k == last or seg_of[k + 1] != seg_of[k]:
                ends[seg_of[k]] = log_w.clone()
            if k < last:
                x = path.transition(x, b_k, generator)
            if bar is not None and (k % _BAR_EVERY == 0 or k == last):
                bar.update(k - bar.n)
    finally:
        if bar is not None:
            bar.close()
    cum, prev = [], torch.zeros_like(log_w)
    for s in range(len(edges) - 1):
        prev = ends.get(s, prev)
        cum.append(prev)
    cum_t = torch.stack(cum).cpu()  # (S, R)
    incr = torch.diff(cum_t, dim=0, prepend=torch.zeros_like(cum_t[:1]))
    var = (lambda t: t.var(1)) if n_runs > 1 else (lambda t: torch.zeros(t.shape[0], dtype=torch.float64))
    return AISResult.from_log_weights((log_w + path.log_base_z).cpu(), segment_betas=edges,
                                      segment_variance=var(incr), cumulative_variance=var(cum_t), end_states=x)


@torch.no_grad()
def adaptive_betas(path: AnnealingPath, n_betas: int, *, pilot_runs: int = 20, pilot_betas: int | None = None,
                   segments: int | Sequence[float] = 50, uniform_fraction: float = 0.1,
                   generator: torch.Generator | None = None) -> Tensor:
    r"""An AIS schedule of ``n_betas`` temperatures placed where the log-weight variance accrues,
    measured by a short pilot run.

    The pilot anneals ``pilot_runs`` runs along :func:`ais_betas` ``(pilot_betas)`` (the paper's
    shape) and measures the variance ``v_s`` of the log-weight increments in each of ``segments``
    beta segments (:attr:`AISResult.segment_variance`; segments without a pilot step are merged
    into a neighbour). The new schedule gives segment ``s`` (width ``L_s``, ``n_s`` pilot steps) the
    share ``(1 - u) sqrt(n_s v_s) / sum_t sqrt(n_t v_t) + u L_s`` of its ``n_betas - 1`` steps
    (:func:`~layerwise.partition.betas_from_variance`): with well-mixing transitions the
    increment of a step of size ``delta`` has variance ``delta^2 I(beta)`` (``I`` the Fisher
    information along the path), so ``Var log w ~ sum_s L_s^2 I_s / m_s``, smallest at fixed cost
    for ``m_s ∝ L_s sqrt(I_s) ~ sqrt(n_s v_s)``: every step carries the same variance (Neal 2001,
    section 5; Grosse, Maddison & Salakhutdinov 2013, section 3: steps equal in thermodynamic
    length). The derivation is in :mod:`layerwise.partition.schedules`.

    A pilot rather than a rule adapted on the fly (e.g. Zhou, Johansen & Aston 2016, who choose
    each beta so that the conditional ESS of the increments hits a target): the number of steps
    stays a parameter, so schedules compare at equal cost, and the runs that make the estimate
    never chose their own temperatures. The pilot costs ``pilot_runs * (pilot_betas - 1)`` steps
    of one run (20 x 2,000 against 100 x 14,500: 3 %).

    Parameters
    ----------
    path : AnnealingPath
        The model's path (:class:`RBMPath`, the DBM's path, ...).
    n_betas : int
        Temperatures of the schedule, 0 and 1 included.
    pilot_runs : int
        Runs of the pilot (at least 2, to measure a variance).
    pilot_betas : int, optional
        Temperatures of the pilot; default ``min(n_betas, 2001)``.
    segments : int or sequence of float
        Where the pilot measures the variance (see :func:`anneal`).
    uniform_fraction : float in [0, 1]
        Share of the steps spread uniformly in beta whatever the pilot saw.
    generator : torch.Generator, optional
        For the pilot, on the path's device.

    Returns
    -------
    Tensor (n_betas,), float64
        Non-decreasing from exactly 0 to exactly 1, for :func:`anneal` or ``betas=``.
    """
    n_betas = check_int("n_betas", n_betas, 2)
    pilot_runs = check_int("pilot_runs", pilot_runs, 2)
    pilot_betas = min(n_betas, 2001) if pilot_betas is None else check_int("pilot_betas", pilot_betas, 2)
    pilot = ais_betas(pilot_betas)
    edges = nonempty_segments(_segment_edges(segments), pilot)
    result = anneal(path, pilot, pilot_runs, generator, segments=edges, progress=False)
    return betas_from_variance(edges, result.segment_variance, steps_per_segment(edges, pilot), n_betas,
                               uniform_fraction)


def _segment_edges(segments: int | Sequence[float]) -> Tensor:
    if isinstance(segments, int) and not isinstance(segments, bool):
        return torch.linspace(0.0, 1.0, check_int("segments", segments, 1) + 1, dtype=torch.float64)
    t = as_float_tensor("segments", segments, torch.float64).detach().cpu()
    if t.dim() != 1 or t.numel() < 2 or float(t[0]) != 0.0 or float(t[-1]) != 1.0 or bool((t[1:] <= t[:-1]).any()):
        raise ValueError("'segments' must be a number of segments or their edges, increasing from 0 to 1; "
                         f"got {segments!r}.")
    return t


class RBMPath(AnnealingPath):
    r"""The annealing path of an RBM (see :func:`ais_log_partition` for the maths).

    The base model has the RBM's hidden units uncoupled and visible biases ``b_A``; with the
    hidden units summed out, ``log p*_beta(v) = -(1 - beta) V_A(v) - beta V_B(v) + sum_j
    L(beta a_j(v))``. A state is ``(v, a(v))``: the hidden input is computed once per state
    and used by both the weight and the transition.
    """

    def __init__(self, rbm, base_visible_bias: Tensor) -> None:
        self.rbm = rbm
        self.device = rbm.weight.device
        self.b_a = base_visible_bias  # (n_visible,) in the RBM's dtype
        self.b_a64 = base_visible_bias.to(torch.float64)
        # log Z_A: the uncoupled hidden units, L(0) each, times the visible units' normaliser.
        zero = torch.zeros((), dtype=torch.float64)
        log_z = rbm.n_hidden * float(rbm.hidden.log_partition(zero))
        self.log_base_z = log_z + float(rbm.visible.log_normaliser(self.b_a64, rbm.log_sigma))

    def _state(self, v: Tensor) -> tuple[Tensor, Tensor]:
        return v, self.rbm.hidden_input(v)  # (R, n_visible), (R, n_hidden)

    def _base_term(self, v: Tensor) -> Tensor:
        """V_A(v) in float64, shape (R,)."""
        return self.rbm.visible.visible_term(v.to(torch.float64), self.b_a64, self.rbm.log_sigma)

    def sample_base(self, n_runs: int, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        rbm = self.rbm
        return self._state(rbm.visible.sample(self.b_a.expand(n_runs, rbm.n_visible), generator, rbm.log_sigma))

    def log_unnormalised(self, state: tuple[Tensor, Tensor], beta: float) -> Tensor:
        v, a = state
        v_b = self.rbm.visible_term(v).to(torch.float64)
        return (-(1.0 - beta) * self._base_term(v) - beta * v_b
                + self.rbm.hidden.log_partition(beta * a.to(torch.float64)).sum(1))

    def log_weight(self, state: tuple[Tensor, Tensor], beta_prev: float, beta: float) -> Tensor:
        """``(beta - beta') (V_A - V_B) + sum_j [L(beta a_j) - L(beta' a_j)]``."""
        v, a = state
        lh = self.rbm.hidden.log_partition
        a64 = a.to(torch.float64)
        d_vis = self._base_term(v) - self.rbm.visible_term(v).to(torch.float64)
        return (beta - beta_prev) * d_vis + (lh(beta * a64) - lh(beta_prev * a64)).sum(1)

    def transition(self, state: tuple[Tensor, Tensor], beta: float,
                   generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        """One block Gibbs sweep of p_beta: h with input ``beta a(v)``, then v with input
        ``(1 - beta) b_A + beta (b + W^T h)``."""
        rbm = self.rbm
        h = rbm.hidden.sample(beta * state[1], generator=generator)
        v = rbm.visible.sample((1.0 - beta) * self.b_a + beta * rbm.visible_input(h), generator, rbm.log_sigma)
        return self._state(v)
