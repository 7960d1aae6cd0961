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

and the per-example log-likelihood (:func:`log_likelihood`) and the pseudo-log-likelihood
(:func:`pseudo_log_likelihood`), a cheap proxy that needs no ``Z``.

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

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from ._validation import as_float_tensor, check_choice, check_finite, check_int, check_real
from .functional import binary_states

__all__ = [
    "AISResult",
    "AnnealingPath",
    "RBMPath",
    "CHUNK_ELEMENTS",
    "MAX_ENUMERATED_UNITS",
    "ais_betas",
    "ais_log_partition",
    "anneal",
    "check_betas",
    "exact_log_partition",
    "log_likelihood",
    "log_partition",
    "pseudo_log_likelihood",
]

METHODS = ("exact", "ais")

#: Largest layer whose 2^n states the models enumerate by default (the DBN's and up-down DBN's
#: exact log Z of the top RBM and exact bound, the sigmoid belief net's exact likelihood).
MAX_ENUMERATED_UNITS = 20
#: Elements of one temporary tensor in the likelihood computations (rows and states are chunked to fit).
CHUNK_ELEMENTS = 1 << 22

# Salakhutdinov & Murray (2008), section 4.1: beta spaced uniformly 0 -> 0.5 in steps of 1e-3,
# 0.5 -> 0.9 in steps of 1e-4 and 0.9 -> 1 in steps of 1e-5 (14,500 steps, 14,501 values).
_PAPER_SEGMENTS = ((0.0, 0.5, 500), (0.5, 0.9, 4000), (0.9, 1.0, 10000))
_PIECEWISE_FROM = 1000  # n_betas from which the paper's shape is used instead of linspace


# ---- entry point ------------------------------------------------------------------------------


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
        ``generator`` for ``"ais"``).

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


# ---- exact ------------------------------------------------------------------------------------


def _float64(rbm):
    """The RBM itself when it is already float64, else a float64 copy (for summing exp(-E))."""
    if rbm.weight.dtype == torch.float64:
        return rbm
    return copy.deepcopy(rbm).to(torch.float64)


@torch.no_grad()
def exact_log_partition(rbm, max_states: int = 2**25, batch_states: int = 2**14, *, over: str | None = None) -> float:
    r"""log Z by summing over every state of one binary layer, in float64.

    Summing over the hidden states ``h`` (the other layer integrated out in closed form)::

        log Z = logsumexp_h [ c^T h + sum_i log sum_{v_i} exp(v_i (b_i + (W^T h)_i)) ]

    for binary visible units (the inner sum is the visible units' ``log_partition``:
    ``softplus`` for Bernoulli, ``log 2 cosh`` for spin units). For Gaussian visible units,
    with ``u = W^T h`` and completing the square,
    ``-(v_i - b_i)^2 / (2 s_i^2) + v_i u_i / s_i = -(v_i - b_i - s_i u_i)^2 / (2 s_i^2)
    + b_i u_i / s_i + u_i^2 / 2``, so::

        int exp(-(v_i - b_i)^2 / (2 s_i^2) + (v_i / s_i) u_i) dv_i
            = sqrt(2 pi) s_i exp(b_i u_i / s_i + u_i^2 / 2),

        log Z = logsumexp_h [ c^T h + sum_i (b_i u_i / s_i + u_i^2 / 2) ]
                + sum_i log(sqrt(2 pi) s_i).

    Summing over the visible states instead uses the free energy:
    ``log Z = logsumexp_v -F(v)``.

    Parameters
    ----------
    rbm : RBM
        The model (any unit types; Gaussian visible units are always integrated, so the sum
        runs over the hidden states whatever the sizes).
    max_states : int
        Refuse to sum over more than this many states (2^25 by default, seconds on a GPU).
    batch_states : int
        States enumerated at once: memory is ``batch_states x n_visible`` float64 numbers
        per intermediate tensor.
    over : {"hidden", "visible"}, optional
        The layer to enumerate; default the smaller binary layer (hidden on a tie, and
        always hidden for Gaussian visible units).

    Returns
    -------
    float

    Raises
    ------
    ValueError
        When the layer has more than ``max_states`` states; use ``method="ais"`` then.
    """
    max_states = check_int("max_states", max_states, 1)
    batch_states = check_int("batch_states", batch_states, 1)
    gaussian = rbm.visible.states is None
    if over is None:
        over = "hidden" if gaussian or rbm.n_hidden <= rbm.n_visible else "visible"
    else:
        check_choice("over", over, ("hidden", "visible"))
        if gaussian and over == "visible":
            raise ValueError("over='visible' needs binary visible units; Gaussian visible units are "
                             "integrated analytically, so the sum must run over the hidden states (over='hidden').")
    n = rbm.n_hidden if over == "hidden" else rbm.n_visible
    if n > 62 or 2**n > max_states:
        raise ValueError(
            f"Exact log Z would sum over 2^{n} = {2**n} {over} states, more than max_states={max_states}. "
            "Use method='ais' (annealed importance sampling) for a model this size, or raise max_states."
        )
    m = _float64(rbm)
    w, b, c = m.weight.detach(), m.visible_bias.detach(), m.hidden_bias.detach()
    units = m.hidden if over == "hidden" else m.visible
    const = 0.0
    if gaussian:
        s = m.sigma.detach()
        const = float(m.visible.log_normaliser(b, m.log_sigma))  # sum_i log(sqrt(2 pi) s_i)
    parts = []
    for start in range(0, 2**n, batch_states):
        x = binary_states(n, units.states, start, min(start + batch_states, 2**n), device=w.device, dtype=w.dtype)  # (S, n)
        if over == "visible":
            lz = -m.free_energy(x)
        elif gaussian:
            u = x @ w  # (S, n_visible)
            lz = x @ c + (b * u / s + u * u / 2).sum(1)
        else:
            lz = x @ c + m.visible.log_partition(b + x @ w).sum(1)
        parts.append(torch.logsumexp(lz, 0))
    return float(torch.logsumexp(torch.stack(parts), 0)) + const


# ---- annealed importance sampling -------------------------------------------------------------


@dataclass
class AISResult:
    """The outcome of :func:`ais_log_partition`.

    Attributes
    ----------
    log_z : float
        The estimate ``log mean_r exp(log_weights_r)``.
    lower, upper : float
        ``log(mean w -+ 3 std(w) / sqrt(n_runs))`` in units of Z (Salakhutdinov & Murray
        2008 report this band); ``lower`` is ``-inf`` when ``mean w - 3 se <= 0`` (the
        weights are too spread out to bound log Z from below), both are infinite for a
        single run.
    log_weights : Tensor (n_runs,)
        float64 per-run estimates ``log Z_A + log w_r`` (each ``Z_A w_r`` is an unbiased
        estimate of Z).
    """

    log_z: float
    lower: float
    upper: float
    log_weights: Tensor

    @property
    def effective_sample_size(self) -> float:
        """``(sum w)^2 / sum w^2``: n_runs for equal weights, near 1 when one run dominates."""
        lw = self.log_weights
        return float(torch.exp(2 * torch.logsumexp(lw, 0) - torch.logsumexp(2 * lw, 0)))

    def __float__(self) -> float:
        return self.log_z

    @classmethod
    def from_log_weights(cls, log_weights: Tensor) -> "AISResult":
        """The estimate and its ±3 standard-error band from the per-run ``log Z_A + log w_r``."""
        n_runs = log_weights.numel()
        log_z = float(torch.logsumexp(log_weights, 0) - math.log(n_runs))
        if n_runs == 1:
            return cls(log_z=log_z, lower=-math.inf, upper=math.inf, log_weights=log_weights)
        top = float(log_weights.max())
        w = torch.exp(log_weights - top)
        se = float(w.std()) / math.sqrt(n_runs)
        mean = float(w.mean())
        upper = top + math.log(mean + 3 * se)
        lower = top + math.log(mean - 3 * se) if mean - 3 * se > 0 else -math.inf
        return cls(log_z=log_z, lower=lower, upper=upper, log_weights=log_weights)


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


def _base_visible_bias(rbm, base_visible_bias: Any, data: Any) -> Tensor:
    """b_A: given, fitted to the data's means (Hinton's base rates), or the RBM's own b."""
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
        Return an :class:`AISResult` (estimate, band, log weights); ``False`` returns the
        estimate alone as a float.

    Returns
    -------
    AISResult or float
    """
    n_runs = check_int("n_runs", n_runs, 1)
    betas_t = ais_betas(n_betas) if betas is None else check_betas(betas)
    if rbm.hidden.states is None:  # pragma: no cover - the RBM offers binary hidden units only
        raise NotImplementedError("AIS needs binary hidden units.")
    path = RBMPath(rbm, _base_visible_bias(rbm, base_visible_bias, data))
    result = anneal(path, betas_t, n_runs, generator)
    return result if return_bounds else result.log_z


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
        one Markov step that leaves ``p_beta`` invariant (e.g. a Gibbs sweep).

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

    def log_weight(self, state: Any, beta_prev: float, beta: float) -> Tensor:
        """``log p*_beta(x) - log p*_beta_prev(x)``, the increment of a run's log importance weight."""
        return self.log_unnormalised(state, beta) - self.log_unnormalised(state, beta_prev)


@torch.no_grad()
def anneal(path: AnnealingPath, betas: Tensor, n_runs: int, generator: torch.Generator | None = None) -> AISResult:
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

    Returns
    -------
    AISResult
        The estimate ``log Z_0 + log mean_r w_r`` with its band and per-run log weights.
    """
    bl = betas.tolist()
    x = path.sample_base(n_runs, generator)
    log_w = torch.zeros(n_runs, dtype=torch.float64, device=path.device)
    last = len(bl) - 1
    for k in range(1, last + 1):
        b_prev, b_k = bl[k - 1], bl[k]
        if b_k != b_prev:
            log_w += path.log_weight(x, b_prev, b_k)
        if k < last:
            x = path.transition(x, b_k, generator)
    return AISResult.from_log_weights((log_w + path.log_base_z).cpu())


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


# ---- likelihoods ------------------------------------------------------------------------------


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
        A log Z computed once, to score many batches without recomputing it.
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
        log_z = log_z.log_z
    log_z = check_real("log_z", log_z)
    x = _visible_batch(rbm, v)
    return -rbm.free_energy(x).to(torch.float64) - log_z


def pseudo_log_likelihood(rbm, v: Any, exact: bool = True, generator: torch.Generator | None = None) -> Tensor:
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

    Returns
    -------
    Tensor (B,) in the RBM's dtype (differentiable in the parameters).
    """
    if rbm.visible.states is None:
        raise ValueError(
            "pseudo_log_likelihood needs binary visible units ('bernoulli' or 'spin'); this RBM has "
            f"visible={rbm.visible.name!r}. Use log_likelihood instead."
        )
    x = _visible_batch(rbm, v)
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
