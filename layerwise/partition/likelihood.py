r"""Likelihoods of an RBM from its log Z, and how to report them (see :mod:`layerwise.partition`).

References
----------
Salakhutdinov & Murray (2008), "On the quantitative analysis of deep belief networks", ICML.
Besag (1975), "Statistical analysis of non-lattice data" (pseudo-likelihood).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from .._validation import check_choice, check_real
from .ais import AISResult, ais_log_partition
from .exact import exact_log_partition

__all__ = ["ReportedLikelihood", "log_likelihood", "log_partition", "pseudo_log_likelihood",
           "report_log_likelihood"]

METHODS = ("exact", "ais")


# ---- entry point ----------------------------------------------------------------------------


def log_partition(rbm, method: str = "exact", **options: Any) -> float:
    """log Z of ``rbm``, exactly or by annealed importance sampling.

    Parameters
    ----------
    rbm : RBM
        The model.
    method : {"exact", "ais"}
        ``"exact"``: :func:`exact_log_partition`; ``"ais"``: the estimate of
        :func:`ais_log_partition` (call that function for the error band).
    **options
        Passed to the chosen function (``max_states``, ``batch_states``, ``over`` for
        ``"exact"``; ``n_runs``, ``n_betas``, ``betas``, ``base_visible_bias``, ``data``,
        ``generator``, ``floor_states``, ``floor_check`` for ``"ais"``).

    Returns
    -------
    float
    """
    check_choice("method", method, METHODS)
    if method == "exact":
        return exact_log_partition(rbm, **options)
    if "return_bounds" in options:
        raise TypeError("log_partition(method='ais') returns a float; call ais_log_partition() for the bounds.")
    return ais_log_partition(rbm, return_bounds=False, **options)


# ---- likelihoods ----------------------------------------------------------------------------


def _visible_batch(rbm, v: Any) -> Tensor:
    t = rbm.validate_data(v)
    return t.to(device=rbm.weight.device, dtype=rbm.weight.dtype)


def log_likelihood(rbm, v: Any, method: str = "exact", log_z: float | AISResult | None = None,
                   **options: Any) -> Tensor:
    """log p(v) = -F(v) - log Z for each row of ``v``.

    Parameters
    ----------
    rbm : RBM
    v : tensor (B, n_visible)
        Visible vectors (for binary units the value is a log-probability only for binary v).
    method : {"exact", "ais"}
        How to get log Z when ``log_z`` is not given (see :func:`log_partition`).
    log_z : float or AISResult, optional
        A log Z computed once, to score many batches without recomputing it. An
        :class:`AISResult` counts as :attr:`AISResult.log_z_checked`: when its estimate is below
        its proven floor, the result is the proven upper bound ``-F(v) - floor``.
    **options
        Passed to :func:`log_partition` (only when ``log_z`` is None).

    Returns
    -------
    Tensor (B,), float64, on the RBM's device; ``-F(v)`` keeps its autograd graph.
    """
    if log_z is None:
        log_z = log_partition(rbm, method=method, **options)
    elif options:
        raise TypeError(f"Options {sorted(options)} are only used to compute log Z; 'log_z' was given.")
    if isinstance(log_z, AISResult):
        log_z = log_z.log_z_checked
    log_z = check_real("log_z", log_z)
    x = _visible_batch(rbm, v)
    return -rbm.free_energy(x).to(torch.float64) - log_z


def pseudo_log_likelihood(rbm, v: Any, exact: bool = True, generator: torch.Generator | None = None,
                          checked: bool = True) -> Tensor:
    r"""The pseudo-log-likelihood ``sum_i log p(v_i | v_{-i})`` of each row (Besag 1975).

    With ``v^(i)`` the vector with unit i flipped (``1 - v_i`` for Bernoulli, ``-v_i`` for
    spin units)::

        log p(v_i | v_{-i}) = log [e^{-F(v)} / (e^{-F(v)} + e^{-F(v^(i))})]
                            = log sigmoid(F(v^(i)) - F(v)).

    ``F(v^(i)) - F(v) = -b_i d_i - sum_j [L(a_j + W_ji d_i) - L(a_j)]`` with
    ``d_i = v^(i)_i - v_i`` and ``a = c + W v``, so all the flips cost one ``(B, n_visible,
    n_hidden)`` elementwise pass (in chunks of bits), not n_visible matrix products.

    ``exact=False`` is scikit-learn's estimate (``BernoulliRBM.score_samples``): one bit ``i``
    drawn uniformly per row and ``n_visible * log sigmoid(F(v^(i)) - F(v))``; sklearn writes
    it ``-n_visible * logaddexp(0, -(fe_ - fe))`` with ``fe_`` the flipped free energy — the
    same sign. Its expectation over the bit is the exact value.

    Parameters
    ----------
    rbm : RBM
        With binary (Bernoulli or spin) visible units.
    v : tensor (B, n_visible)
        Visible vectors (probabilities are flipped as ``1 - v``, like scikit-learn).
    exact : bool
        All bits, or the one-random-bit estimate.
    generator : torch.Generator, optional
        On the RBM's device, for the random bits of ``exact=False``.
    checked : bool
        Check ``v`` (:meth:`RBM.validate_data`: values in the visible units' range). False takes
        any real values, as ``BernoulliRBM.score_samples`` does (``v`` must then be a tensor).

    Returns
    -------
    Tensor (B,) in the RBM's dtype (differentiable in the parameters).
    """
    if rbm.visible.states is None:
        raise ValueError(
            "pseudo_log_likelihood needs binary visible units ('bernoulli' or 'spin'); this RBM has "
            f"visible={rbm.visible.name!r}. Use log_likelihood instead."
        )
    x = _visible_batch(rbm, v) if checked else v.to(device=rbm.weight.device, dtype=rbm.weight.dtype)
    lo, hi = rbm.visible.states
    d = (lo + hi) - 2 * x  # flipped minus current, (B, n_visible)
    a = rbm.hidden_input(x)  # (B, n_hidden)
    la = rbm.hidden.log_partition(a)
    wt = rbm.weight.T  # (n_visible, n_hidden)
    b = rbm.visible_bias
    n_batch, n_vis = x.shape
    if not exact:
        i = torch.randint(n_vis, (n_batch,), generator=generator, device=x.device)
        di = d.gather(1, i.unsqueeze(1)).squeeze(1)  # (B,)
        a_flip = a + di.unsqueeze(1) * wt[i]  # (B, n_hidden)
        d_free = -di * b[i] - (rbm.hidden.log_partition(a_flip) - la).sum(1)
        return n_vis * F.logsigmoid(d_free)
    chunk = max(1, min(n_vis, 2**22 // max(1, n_batch * rbm.n_hidden)))
    out = torch.zeros(n_batch, dtype=x.dtype, device=x.device)
    for start in range(0, n_vis, chunk):
        sl = slice(start, start + chunk)
        a_flip = a.unsqueeze(1) + d[:, sl].unsqueeze(2) * wt[sl]  # (B, C, n_hidden)
        d_free = -d[:, sl] * b[sl] - (rbm.hidden.log_partition(a_flip) - la.unsqueeze(1)).sum(2)  # (B, C)
        out = out + F.logsigmoid(d_free).sum(1)
    return out


@dataclass(frozen=True)
class ReportedLikelihood:
    """A log-likelihood as it may be quoted: the number and what kind of number it is.

    Attributes
    ----------
    value : float
        The figure to quote (nats).
    kind : {"exact", "estimate", "unreliable estimate", "upper bound (proven)"}
        ``"upper bound (proven)"``: the AIS estimate of log Z fell below the proven floor, so
        the figure is ``mean(-F(v)) - floor`` and the true value is at most that.
        ``"unreliable estimate"``: the AIS effective sample size is under ``MIN_ESS``; quote
        :attr:`upper_bound` instead.
    estimate : float
        ``mean(-F(v)) - log Z`` with the log Z given (the AIS figure), whatever the kind.
    upper_bound : float or None
        ``mean(-F(v)) - floor`` when a floor is known: the true value is at most this.
    effective_sample_size : float or None
        Of the AIS weights.
    """

    value: float
    kind: str
    estimate: float
    upper_bound: float | None = None
    effective_sample_size: float | None = None

    def __str__(self) -> str:
        if self.kind == "upper bound (proven)":
            return f"<= {self.value:.2f} (proven)"
        if self.kind == "unreliable estimate":
            bound = f"; <= {self.upper_bound:.2f} (proven)" if self.upper_bound is not None else ""
            return f"{self.value:.2f} (unreliable: ESS {self.effective_sample_size:.1f}){bound}"
        return f"{self.value:.2f}"


def report_log_likelihood(neg_free_energy: Any, log_z: float | AISResult, exact: bool = False) -> ReportedLikelihood:
    r"""The mean log-likelihood ``mean(-F(v)) - log Z`` as it may be reported, with its kind.

    ``log Z >= floor`` (:func:`~layerwise.partition.log_z_floor`), so ``mean(-F(v)) - log Z
    <= mean(-F(v)) - floor`` always: when the AIS estimate is below the floor it missed a mode,
    and only this proven upper bound is reported ("<= x nats"), never the AIS figure; when its
    effective sample size is under ``MIN_ESS`` the estimate is marked unreliable, with the bound
    beside it.

    Parameters
    ----------
    neg_free_energy : float or tensor
        ``-F(v)`` per test example (averaged here) or its mean; for a DBM's variational bound,
        ``-E_q[E(v, h)] + H(q)``.
    log_z : float or AISResult
        A float is taken as exact with ``exact=True``, else as an estimate without diagnostics.
    exact : bool
        Whether a float ``log_z`` is exact.

    Returns
    -------
    ReportedLikelihood
    """
    q = float(torch.as_tensor(neg_free_energy, dtype=torch.float64).mean())
    if not isinstance(log_z, AISResult):
        lz = check_real("log_z", log_z)
        return ReportedLikelihood(q - lz, "exact" if exact else "estimate", q - lz)
    est = q - log_z.log_z
    upper = None if log_z.floor is None else q - log_z.floor
    ess = log_z.effective_sample_size
    if log_z.below_floor:
        return ReportedLikelihood(upper, "upper bound (proven)", est, upper, ess)
    if not log_z.reliable:
        return ReportedLikelihood(est, "unreliable estimate", est, upper, ess)
    return ReportedLikelihood(est, "estimate", est, upper, ess)
