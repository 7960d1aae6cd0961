r"""Both sides of a log-likelihood from importance weights: importance sampling with its
effective sample size, bidirectional Monte Carlo (BDMC) on any annealing path, and the
``[lower, upper]`` result they and the DBN's bound interval share.

Bidirectional Monte Carlo (Grosse, Ghahramani & Adams 2015). Take a path of unnormalised
distributions ``f_0, ..., f_K`` from a base ``p_0`` with known ``Z_0`` to the target ``f_K``
with unknown ``Z_K``, transitions ``T_k`` leaving ``p_k = f_k / Z_k`` invariant and their
reversals ``T~_k(x' | x) = T_k(x | x') p_k(x') / p_k(x)``.

* **Forward AIS** (Neal 2001; :func:`layerwise.partition.anneal`): ``x_0 ~ p_0``,
  ``x_k ~ T_k(. | x_{k-1})``, ``log w = sum_{k=1}^K [log f_k(x_{k-1}) - log f_{k-1}(x_{k-1})]``.
  ``E[w] = Z_K / Z_0``, so by Jensen ``E[log Z_0 + log mean_r w_r] <= log Z_K``: a stochastic
  *lower* bound, whatever the schedule.
* **Reverse AIS**: ``x_K ~ p_K`` *exactly*, ``x_{k-1} ~ T~_k(. | x_k)``, and the same sum ``r``
  of increments along the reversed chain. The ratio of the two chains' path probabilities gives
  ``E[exp(-r)] = Z_0 / Z_K``, so ``E[log Z_0 - log mean_r exp(-r_r)] >= log Z_K``: a stochastic
  *upper* bound (:func:`layerwise.likelihood.reverse_anneal` runs the chain).

With ``Z_K = p(v)`` (the path from a prior ``p(h)`` to the posterior ``p(h | v)``, e.g. a sigmoid
belief net, ``layerwise.models.sbn_bdmc``) this sandwiches ``log p(v)``. Exact posterior samples
exist for data simulated from the model: an ancestral sample ``(v, h)`` gives ``h ~ p(h | v)``.
The two ends converge on ``log p(v)`` as the schedule lengthens, and their gap bounds the error of
either on such data; on real data only the lower side exists (the upper needs an exact sample).
Both ends hold in expectation; Markov's inequality bounds the chance of a large miss:
``P(lower > log p(v) + t) <= exp(-t)`` and ``P(upper < log p(v) - t) <= exp(-t)``.

References
----------
Grosse, Ghahramani & Adams (2015), "Sandwiching the marginal likelihood using bidirectional Monte
Carlo", arXiv:1511.02543.
Neal (2001), "Annealed importance sampling", Statistics and Computing 11, 125-139.
Kong (1992), "A note on importance sampling using standardized weights" (effective sample size).
Burda, Grosse & Salakhutdinov (2016), "Importance weighted autoencoders", ICLR.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from ._validation import check_int, check_real
from .likelihood import Sandwich, reverse_anneal
from .partition import MIN_ESS, AISResult, AnnealingPath, LowESSWarning, anneal, effective_sample_size

__all__ = ["ISResult", "SandwichBounds", "bidirectional_anneal", "effective_sample_size", "log_mean_exp",
           "sigmoid_betas", "warn_low_ess"]


def warn_low_ess(ess: Tensor, what: str, stacklevel: int = 3) -> None:
    """A :class:`~layerwise.partition.LowESSWarning` naming how many rows of ``ess`` are under
    :data:`~layerwise.partition.MIN_ESS` (none: no warning)."""
    low = ess < MIN_ESS * (1 - 1e-9)
    if bool(low.any()):
        warnings.warn(f"{what}: the effective sample size is under {MIN_ESS:g} for {int(low.sum())} of "
                      f"{low.numel()} rows (smallest {float(ess.min()):.2f}): those estimates rest on a few "
                      "weights and are mostly the Jensen gap; do not quote them. More samples, or a proposal "
                      "closer to the posterior, help.", LowESSWarning, stacklevel=stacklevel)


@dataclass
class ISResult:
    r"""An importance-sampling estimate of ``log p(v)`` per row, with its weights
    (``SigmoidBeliefNet.log_likelihood(..., method="is", return_details=True)``).

    Attributes
    ----------
    log_likelihood : Tensor (B,), float64
        ``log mean_k w_k``, ``w_k = p(v, h_k) / q(h_k | v)``, ``h_k ~ q(h | v)``: ``E[w] = p(v)``,
        so ``E[log_likelihood] <= log p(v)`` (Jensen), with equality when q is the posterior.
    log_weights : Tensor (B, K), float64
        ``log w_k`` per row and sample.
    """

    log_likelihood: Tensor
    log_weights: Tensor

    @property
    def effective_sample_size(self) -> Tensor:
        """Per row, ``(sum_k w_k)^2 / sum_k w_k^2``: K when q is the exact posterior (every weight
        is p(v)), near 1 when one sample dominates."""
        return effective_sample_size(self.log_weights)

    @property
    def low_ess(self) -> Tensor:
        """Per row, whether the effective sample size is under :data:`~layerwise.partition.MIN_ESS`."""
        return self.effective_sample_size < MIN_ESS * (1 - 1e-9)

    @property
    def mean(self) -> float:
        """The mean of :attr:`log_likelihood` over the rows."""
        return float(self.log_likelihood.mean())

    def __float__(self) -> float:
        return self.mean


@dataclass
class SandwichBounds(Sandwich):
    r"""A mean log-likelihood (or bound) as ``[lower, upper]``, with its per-row ends.

    What the ends bound is the producer's to say:

    * ``SigmoidBeliefNet.log_likelihood_bounds`` (BDMC): ``lower`` is forward AIS from the prior to
      the posterior, ``upper`` reverse AIS from exact posterior samples; both are stochastic bounds
      on ``mean log p(v)`` (module docstring). Without exact samples (real data) ``upper`` is
      ``inf`` and the per-row upper ends are None.
    * ``DBN.lower_bound_interval``: ``lower`` is the variational bound with the top RBM's
      log-marginal replaced by its RAISE estimate (conservative), ``upper`` the bound with the
      top RBM's log Z from AIS (optimistic); together they bracket the bound with the exact log Z.

    ``lo, hi = bounds`` unpacks; :meth:`interval` widens the ends by Markov's inequality (for BDMC:
    ``E[w_i] = p(v_i)`` forward, ``E[exp(-r_i)] = 1 / p(v_i)`` reverse, so it contains
    ``mean log p(v)`` with probability at least ``confidence`` whatever the mixing; for the DBN's
    interval the same holds of each end around what it bounds).

    Attributes
    ----------
    lower, upper : float
        The means of :attr:`lower_rows` and :attr:`upper_rows` (``upper = inf`` when there is no
        upper end).
    lower_rows : Tensor (B,), float64
        Per-row lower ends.
    upper_rows : Tensor (B,) or None
        Per-row upper ends.
    lower_log_weights, upper_log_weights : Tensor (B, R) or None
        The weights behind each end, where it is an average of weights: for BDMC, the forward
        ``log Z_0 + log w`` and the reverse ``log Z_0 + r`` (the upper end is
        ``log R - logsumexp(-upper_log_weights)``, a harmonic mean).
    details : dict
        What the ends were computed from (AIS results, log Z, schedules).
    """

    lower: float
    upper: float
    lower_rows: Tensor
    upper_rows: Tensor | None = None
    lower_log_weights: Tensor | None = None
    upper_log_weights: Tensor | None = None
    details: dict = field(default_factory=dict, repr=False)

    @property
    def lower_ess(self) -> Tensor | None:
        """Per row, the effective sample size of the lower end's weights (None without them)."""
        return None if self.lower_log_weights is None else effective_sample_size(self.lower_log_weights)

    @property
    def upper_ess(self) -> Tensor | None:
        """Per row, the effective sample size of the upper end's weights ``exp(-r)`` (None without them)."""
        return None if self.upper_log_weights is None else effective_sample_size(-self.upper_log_weights)


def sigmoid_betas(n_betas: int, scale: float = 4.0) -> Tensor:
    r"""The sigmoidal schedule of Grosse, Ghahramani & Adams (2015), ``n_betas`` values from exactly 0
    to exactly 1 (float64)::

        beta_k = (s(t_k) - s(-1)) / (s(1) - s(-1)),   s(t) = sigm(scale t),   t_k = -1 + 2k / K.

    Dense at both ends: near 0, where the likelihood term ``beta log p(v | h)`` first bites and its
    increments vary most, and near 1, where the posterior sharpens. ``scale -> 0`` is linear.
    """
    n_betas = check_int("n_betas", n_betas, 2)
    scale = check_real("scale", scale, 0.0, low_open=True)
    s = torch.sigmoid(scale * torch.linspace(-1.0, 1.0, n_betas, dtype=torch.float64))
    betas = (s - s[0]) / (s[-1] - s[0])
    betas[0], betas[-1] = 0.0, 1.0
    return betas


@torch.no_grad()
def bidirectional_anneal(path: AnnealingPath, betas: Tensor, n_rows: int, n_runs: int,
                         exact_state: Any = None, generator: torch.Generator | None = None,
                         ) -> tuple[Tensor, Tensor | None, AISResult]:
    r"""Forward and (with ``exact_state``) reverse AIS along ``path``, per row (module docstring).

    The path holds ``n_rows * n_runs`` chains, row after row (row i's chains are
    ``i * n_runs .. (i + 1) * n_runs - 1``), each row with its own target ``Z_K`` (e.g. ``p(v_i)``).
    The forward runs go through :func:`layerwise.partition.anneal`, the reverse ones through
    :func:`layerwise.likelihood.reverse_anneal` (with the path's ``reverse_transition``), whose RAISE
    weight ``log f_K(x) - log Z_0 - r`` gives back ``r``.

    Parameters
    ----------
    path : AnnealingPath
        Its ``sample_base(n_rows * n_runs)`` draws every chain's start.
    betas : Tensor
        The schedule, 0 to 1.
    n_rows, n_runs : int
        Rows and chains per row.
    exact_state : path state, optional
        Exact samples of every chain's target ``p_K`` (``n_rows * n_runs`` of them; repeats are
        allowed: each chain's weight stays unbiased); without it, no reverse runs.
    generator : torch.Generator, optional
        On the path's device.

    Returns
    -------
    lower_log_weights : Tensor (n_rows, n_runs)
        ``log Z_0 + log w`` of the forward runs; ``logsumexp - log n_runs`` is the lower end.
    upper_log_weights : Tensor (n_rows, n_runs) or None
        ``log Z_0 + r`` of the reverse runs; ``log n_runs - logsumexp(-.)`` is the upper end.
    forward : AISResult
        The forward run (its segment variances pool the chains of every row).
    """
    forward = anneal(path, betas, n_rows * n_runs, generator)
    lower_lw = forward.log_weights.reshape(n_rows, n_runs)
    upper_lw = None
    if exact_state is not None:
        log_top = path.log_unnormalised(exact_state, 1.0).to(torch.float64)
        raise_lw = reverse_anneal(path, betas, exact_state, generator)
        upper_lw = (log_top - raise_lw).cpu().reshape(n_rows, n_runs)  # log Z_0 + r
    return lower_lw, upper_lw, forward


def log_mean_exp(log_weights: Tensor) -> Tensor:
    """``log mean_k exp(x_k)`` over the last dimension."""
    return torch.logsumexp(log_weights, -1) - math.log(log_weights.shape[-1])
