r"""Two-sided test log-likelihoods of RBMs: reverse annealing (RAISE) below, AIS above.

Annealed importance sampling (:func:`layerwise.partition.ais_log_partition`) estimates ``Z``
without bias, so by Jensen's inequality ``E[log Z_hat] <= log Z``: the log-likelihood
``-F(v) - log Z_hat`` it gives is a *stochastic upper bound* on ``log p(v)`` (too high in
expectation, and far too high when the annealing misses a mode of the model). The Reverse AIS
Estimator (RAISE; Burda, Grosse & Salakhutdinov 2015) runs the same annealing path backwards,
from the test vector towards the base model, and gives a *stochastic lower bound* on the
log-probability that an annealing model assigns to the vector (see
:func:`raise_log_likelihood`). Together they give a test log-likelihood as ``[lower, upper]``
(:func:`log_likelihood_bounds`). Ends far apart mean that at least one estimate is far off;
ends that agree can still share one blind spot, a mode of the model that neither chain
reaches and no test vector visits (see :func:`log_likelihood_bounds`).

The reverse chain uses only what AIS already needs, the :class:`layerwise.partition.AnnealingPath`
protocol (``log_base_z``, ``log_unnormalised``, ``log_weight``, ``transition``), so
:func:`reverse_anneal` is written once for every path whose transitions are reversible (the
RBM's block Gibbs sweep with the hidden units summed out is, and so is the DBM's odd-then-even
sweep on its even layers). For a DBM (:func:`dbm_raise_log_likelihood`,
:func:`dbm_log_likelihood_bounds`) the DBM is passed duck-typed: it supplies its path
(``annealing_path``), ``log_marginal``, ``mean_field`` and ``gibbs``.

References
----------
Burda, Grosse & Salakhutdinov (2015), "Accurate and conservative estimates of MRF
log-likelihood using reverse annealing", AISTATS (JMLR W&CP 38).
Salakhutdinov & Hinton (2009), "Deep Boltzmann machines", AISTATS.
Neal (2001), "Annealed importance sampling", Statistics and Computing 11, 125-139.
Salakhutdinov & Murray (2008), "On the quantitative analysis of deep belief networks", ICML.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any, Sequence

import torch
from torch import Tensor

from ._validation import check_choice, check_int, check_real, check_tensor
from .functional import binary_states, sample_bernoulli
from .partition import (CHUNK_ELEMENTS, AISResult, AnnealingPath, RBMPath, ais_betas, ais_log_partition,
                        base_model_bias, check_betas, effective_sample_size, in_float64, progress_bar)

__all__ = ["RAISEResult", "LikelihoodBounds", "Sandwich", "reverse_anneal", "raise_log_likelihood", "log_likelihood_bounds",
           "dbm_raise_log_likelihood", "dbm_log_likelihood_bounds"]


# ---- the reverse chain ------------------------------------------------------------------------


@torch.no_grad()
def reverse_anneal(path: AnnealingPath, betas: Tensor, state: Any, generator: torch.Generator | None = None,
                   bar: Any = None) -> Tensor:
    r"""Log RAISE weights of the states ``state`` along ``path`` run backwards (Burda et al. 2015).

    With ``f_k = p*_{beta_k}`` the path's unnormalised distributions (``f_0`` the base model,
    normaliser ``Z_0``; ``f_K`` the model) and ``T_k`` a transition that leaves ``p_k`` invariant
    and is reversible with respect to it, the *annealing model* is the generative process::

        x_0 ~ p_0,   x_k ~ T_k(. | x_{k-1})  (k = 1..K),          p_ann(x) = P(x_K = x).      (1)

    Its reversal started at ``x_K = x`` (``x_{k-1} ~ T~_k(. | x_k)`` for ``k = K..1``, the path's
    ``reverse_transition``; a reversible ``T_k`` is its own reversal) is an importance
    distribution for the first K states, and the ratio of the two path probabilities telescopes (the ``Z_k`` cancel)::

        w = p_0(x_0) prod_k T_k(x_k | x_{k-1}) / prod_k T_k(x_{k-1} | x_k)
          = f_K(x) / Z_0 * prod_{k=0}^{K-1} f_k(x_k) / f_{k+1}(x_k),                         (2)

    so ``E[w] = p_ann(x)`` exactly, for any K, and ``E[log w] <= log p_ann(x)`` (Jensen).
    In logs, ``log w = log f_K(x) - log Z_0 - sum_k [log f_k(x_{k-1}) - log f_{k-1}(x_{k-1})]``:
    the AIS increments of :func:`layerwise.partition.anneal`, summed along the reversed chain and
    subtracted. The first transition is the model's own (``beta_K = 1``), so for an RBM the
    chain starts by drawing the hidden units from the posterior ``p(h | v)``.

    Parameters
    ----------
    path : AnnealingPath
        The annealing path; its :meth:`~layerwise.partition.AnnealingPath.reverse_transition`
        must be the reversal of its ``transition`` with respect to ``p_beta``; by default the
        transition itself, right when it is reversible (a Gibbs sweep of a two-layer model summed
        over one layer is; a sweep ``v -> h1 -> h2`` of a deeper model is not in general).
    betas : Tensor
        The schedule ``0 = beta_0 <= ... <= beta_K = 1``.
    state : path state
        The starting states ``x_K`` (one per chain), in the path's own representation.
    generator : torch.Generator, optional
        On the path's device.
    bar : optional
        An object with ``update(n)`` (a tqdm bar), advanced once per temperature.

    Returns
    -------
    Tensor (n_chains,), float64 on the path's device: ``log w`` of each chain.
    """
    bl = betas.tolist()
    if bl[-1] != 1.0 or bl[0] != 0.0:
        raise ValueError(f"'betas' must run from 0 to 1; got first {bl[0]!r}, last {bl[-1]!r}.")
    log_w = path.log_unnormalised(state, 1.0).to(torch.float64) - path.log_base_z
    for k in range(len(bl) - 1, 0, -1):
        state = path.reverse_transition(state, bl[k], generator)
        if bl[k] != bl[k - 1]:
            log_w = log_w - path.log_weight(state, bl[k - 1], bl[k])
        if bar is not None:
            bar.update(1)
    return log_w


# ---- RAISE for the RBM --------------------------------------------------------------------------


@dataclass
class RAISEResult:
    """The outcome of :func:`raise_log_likelihood`.

    Attributes
    ----------
    log_likelihood : Tensor (B,), float64
        Per test vector, ``log mean_r w_r``: in expectation at most ``log p_ann(v)``.
    log_weights : Tensor (B, n_runs), float64
        ``log w_r`` of every reverse chain (each ``w_r`` is unbiased for ``p_ann(v)``).
    """

    log_likelihood: Tensor
    log_weights: Tensor

    @property
    def mean(self) -> float:
        """The data set's mean of :attr:`log_likelihood` (the number to report)."""
        return float(self.log_likelihood.mean())

    @property
    def effective_sample_size(self) -> Tensor:
        """Per test vector ``(sum_r w_r)^2 / sum_r w_r^2``: n_runs for equal weights, near 1
        when one chain dominates (then the estimate is mostly the Jensen gap)."""
        return effective_sample_size(self.log_weights)

    def __float__(self) -> float:
        return self.mean


def _test_vectors(rbm, v: Any) -> Tensor:
    """The test vectors, checked: 2-d, ``n_visible`` columns, finite, and for binary units
    every entry one of the two states (a probability is not a state whose likelihood exists)."""
    t = check_tensor("v", v, ndim=2, n_features=rbm.n_visible)
    rbm.visible.check_data(t, "v")
    states = rbm.visible.states
    if states is not None:
        bad = (t != states[0]) & (t != states[1])
        if bool(bad.any()):
            first = tuple(int(i) for i in bad.nonzero()[0])
            raise ValueError(
                f"'v' must hold the {rbm.visible.name} units' states {states} only, as log p(v) is "
                f"defined for states; got {float(t[first])!r} at index {first}. Binarise the data "
                "first (datasets.Binarize)."
            )
    return t.detach().to(rbm.weight.device, rbm.weight.dtype)


def _schedule(n_betas: int, betas: Any) -> Tensor:
    return ais_betas(n_betas) if betas is None else check_betas(betas)


@torch.no_grad()
def raise_log_likelihood(
    rbm,
    v: Any,
    n_runs: int = 100,
    n_betas: int = 10000,
    *,
    betas: Sequence[float] | Tensor | None = None,
    base_visible_bias: Tensor | None = None,
    data: Any = None,
    generator: torch.Generator | None = None,
    batch_size: int | None = None,
    progress: bool = True,
) -> RAISEResult:
    r"""A stochastic lower bound on each ``log p(v)``: the Reverse AIS Estimator (Burda et al. 2015).

    The path is AIS's (:class:`layerwise.partition.RBMPath`, Salakhutdinov & Murray 2008): the
    base model A has the RBM's hidden units uncoupled and visible biases ``b_A``, and with the
    hidden units summed out (``L`` their ``log_partition``, ``a(v) = c + W s(v)``)::

        log f_k(v) = -(1 - beta_k) V_A(v) - beta_k V_B(v) + sum_j L(beta_k a_j(v)),
        log Z_0 = n_hidden L(0) + log sum_v exp(-V_A(v)),       log f_K(v) = -F(v).

    ``T_k`` is one block Gibbs sweep of ``p_k``, ``h ~ p_k(h | v)``, ``v' ~ p_k(v' | h)``;
    as a kernel on v it is reversible with respect to ``p_k(v)``
    (``p_k(v) T_k(v' | v) = sum_h p_k(v, h) p_k(v', h) / p_k(h)``, symmetric). Each of the
    ``n_runs`` reverse chains of a test vector starts at ``v_K = v``, draws ``h`` from the
    model's posterior ``p(h | v)`` and a new ``v`` (the sweep at ``beta_K = 1``), and moves
    down the schedule; its log weight (:func:`reverse_anneal`, eq. (2) there) is::

        log w = -F(v) - log Z_0 - sum_{k=1}^{K} [log f_k(v_{k-1}) - log f_{k-1}(v_{k-1})],  (3)

    and the estimate is ``log p_hat(v) = log mean_r w_r``.                                    (4)

    What it bounds. ``E[w] = p_ann(v)``, the probability of v under the annealing model
    (eq. (1) of :func:`reverse_anneal`: sample the base model, then run the sweeps
    ``T_1 .. T_K``), so ``E[log p_hat(v)] <= log p_ann(v)`` exactly, for any schedule.
    ``p_ann`` is not the RBM: it tends to ``p`` as the schedule lengthens. On average over
    vectors drawn from the RBM itself, ``E log p_ann <= E log p`` (the gap is
    ``KL(p || p_ann) >= 0``), so there the estimate is a lower bound on the mean of ``log p``
    in expectation. For other test data it is a lower bound on ``log p_ann``, which Burda et al.
    find at or below ``log p`` in practice, but not always: a model trained by CD-1 can fit
    the data worse than its short-run annealing model does (on an RBM 64-20 trained by CD-1
    on the digits, RAISE with 100 temperatures lies 0.03-0.05 nats above the exact mean test
    log p(v), with 1,000 temperatures 0.003 above; ``benchmarks/raise_sandwich.py``). The
    excess vanishes as the schedule lengthens. Markov's inequality bounds the chance of a large
    overestimate: ``P(log p_hat(v) > log p_ann(v) + t) <= exp(-t)``.

    A mode of the RBM that the annealing never reaches (mass ``m``) is missing from ``p_ann``:
    for test vectors outside it RAISE is too high by ``-log(1 - m)``, exactly as AIS is, but
    for a test vector inside it the reverse chain starts in the mode, where ``p_ann`` is
    small, and RAISE is far too *low*. So test data that visit a missed mode open the
    sandwich, and a mode no test vector visits goes unseen by both ends
    (``tests/test_likelihood.py::test_a_mode_the_annealing_misses``).

    Parameters
    ----------
    rbm : RBM
        Bernoulli, spin or Gaussian visible units (a density for Gaussian ones), Bernoulli or
        spin hidden units.
    v : tensor (B, n_visible)
        Test vectors; for binary units every entry must be one of the two states.
    n_runs : int
        Reverse chains per test vector.
    n_betas : int
        Number of inverse temperatures including 0 and 1
        (:func:`layerwise.partition.ais_betas`); the cost is ``n_betas`` Gibbs sweeps of
        ``B * n_runs`` chains.
    betas : sequence of float, optional
        An explicit schedule, non-decreasing from 0 to 1; overrides ``n_betas``.
    base_visible_bias : tensor (n_visible,), optional
        ``b_A`` directly.
    data : tensor (n, n_visible), optional
        Fit ``b_A`` to these data's means instead (the training data, as for AIS). Without
        either, ``b_A`` is the RBM's own visible bias.
    generator : torch.Generator, optional
        On the RBM's device, for reproducible runs.
    batch_size : int, optional
        Test vectors annealed at once (each with its ``n_runs`` chains); by default as many as
        keep one ``(chains, n_visible + n_hidden)`` tensor under
        :data:`layerwise.partition.CHUNK_ELEMENTS` elements.
    progress : bool
        A tqdm bar over the temperatures of every chunk, when stderr is a terminal; ``False``: none.

    Returns
    -------
    RAISEResult
        Per-vector estimates (4) and the log weights (3), float64 on the CPU.
    """
    n_runs = check_int("n_runs", n_runs, 1)
    betas_t = _schedule(n_betas, betas)
    x = _test_vectors(rbm, v)
    if batch_size is None:
        batch_size = max(1, CHUNK_ELEMENTS // ((rbm.n_visible + rbm.n_hidden) * n_runs))
    batch_size = check_int("batch_size", batch_size, 1)
    path = RBMPath(rbm, base_model_bias(rbm, base_visible_bias, data))
    n = x.shape[0]
    steps = (len(betas_t) - 1) * math.ceil(n / batch_size)
    bar = progress_bar(steps, progress, "RAISE", "beta")
    parts = []
    try:
        for start in range(0, n, batch_size):
            chains = x[start:start + batch_size].repeat_interleave(n_runs, 0)  # (b * R, n_visible)
            state = (chains, rbm.hidden_input(chains))  # RBMPath's state: (v, a(v))
            lw = reverse_anneal(path, betas_t, state, generator, bar)
            parts.append(lw.reshape(-1, n_runs).cpu())
    finally:
        if bar is not None:
            bar.close()
    log_weights = torch.cat(parts)
    estimate = torch.logsumexp(log_weights, 1) - math.log(n_runs)
    return RAISEResult(log_likelihood=estimate, log_weights=log_weights)


# ---- the sandwich -----------------------------------------------------------------------------


class Sandwich:
    """What the ``[lower, upper]`` results share (:class:`LikelihoodBounds`,
    :class:`layerwise.sandwich.SandwichBounds`): the width, whether the ends crossed, a
    Markov interval, unpacking as ``lo, hi`` and a one-line text. Subclasses hold ``lower`` and
    ``upper`` (floats, nats) and say in their docstrings what each end bounds."""

    lower: float
    upper: float

    @property
    def width(self) -> float:
        """``upper - lower`` in nats (negative when the two ends cross; ``inf`` without an upper end)."""
        return self.upper - self.lower

    @property
    def crossed(self) -> bool:
        """``lower > upper``: at least one end is off by more than the gap (too few runs, or a
        schedule too short for the annealing model to be close to the model); lengthen the
        schedule before quoting either number."""
        return self.lower > self.upper

    def interval(self, confidence: float = 0.95) -> tuple[float, float]:
        r"""``[lower - t, upper + t]`` with ``t = log(2 / (1 - confidence))``: a sure-probability
        widening of the sandwich by Markov's inequality.

        Each end averages weights whose expectation is known (AIS: ``E[Z_hat] = Z``; RAISE:
        ``E[p_hat(v) / p_ann(v)] = 1``; reverse AIS: ``E[exp(-r)] = 1 / p(v)``). Markov's
        inequality gives ``P(log x_hat >= log x + t) <= exp(-t)`` for each, and through the
        arithmetic-geometric mean inequality the same for a mean over test vectors of per-vector
        logs. With ``exp(-t) = (1 - confidence) / 2`` for each end, the interval contains what the
        two ends bracket with probability at least ``confidence`` (for RAISE: whenever
        ``mean log p_ann(v) <= mean log p(v)``, see :func:`log_likelihood_bounds`). It is wide
        (3.7 nats at 95 %) but assumes nothing about how well the chains mixed.
        """
        confidence = check_real("confidence", confidence, 0.0, 1.0, low_open=True, high_open=True)
        t = math.log(2.0 / (1.0 - confidence))
        return self.lower - t, self.upper + t

    def __iter__(self):
        return iter((self.lower, self.upper))

    def __str__(self) -> str:
        return f"[{self.lower:.3f}, {self.upper:.3f}] nats (width {self.width:.3f})"


@dataclass
class LikelihoodBounds(Sandwich):
    """The mean test log-likelihood as ``[lower, upper]`` (:func:`log_likelihood_bounds`).

    Attributes
    ----------
    lower : float
        RAISE: the mean over the test vectors of ``log mean_r w_r``; a stochastic lower bound
        (in expectation) on the mean ``log p_ann(v)``.
    upper : float
        AIS: ``mean(-F(v)) - log_z``; a stochastic upper bound (in expectation) on the mean
        ``log p(v)`` when ``log_z`` is (in expectation) at most ``log Z``.
    log_z : float
        The log Z used for ``upper``.
    raise_result : RAISEResult
        The per-vector RAISE estimates and weights.
    ais : AISResult or None
        The AIS run behind ``log_z`` (None when ``log_z`` was given as a number).
    neg_free_energy : Tensor (B,), float64
        ``-F(v)`` of each test vector: ``neg_free_energy - log_z`` is the per-vector upper end.
    """

    lower: float
    upper: float
    log_z: float
    raise_result: RAISEResult
    ais: AISResult | None
    neg_free_energy: Tensor


@torch.no_grad()
def log_likelihood_bounds(
    rbm,
    v: Any,
    n_runs: int = 100,
    n_betas: int = 10000,
    *,
    log_z: float | AISResult | None = None,
    ais_runs: int = 100,
    betas: Sequence[float] | Tensor | None = None,
    base_visible_bias: Tensor | None = None,
    data: Any = None,
    generator: torch.Generator | None = None,
    batch_size: int | None = None,
    progress: bool = True,
) -> LikelihoodBounds:
    r"""The mean test log-likelihood of an RBM as ``[RAISE lower, AIS upper]``.

    ``lower = mean_i log p_hat_RAISE(v_i)`` (:func:`raise_log_likelihood`) and
    ``upper = mean_i -F(v_i) - log Z_hat`` with ``log Z_hat`` from
    :func:`layerwise.partition.ais_log_partition`. Both are *stochastic* bounds: each holds in
    expectation, not for every run.

    What each side assumes:

    * **upper** (AIS; Neal 2001, Salakhutdinov & Murray 2008): ``Z_0 w`` is unbiased for Z, so
      ``E[log Z_hat] <= log Z`` and ``E[upper] >= mean log p(v)``, with nothing assumed of the
      schedule. The estimate can still be far too high with no sign of it when the annealing
      misses a mode (the weights that would correct it are never drawn); a proven floor on
      log Z, passed as ``log_z``, turns it into a sure upper bound.
    * **lower** (RAISE; Burda, Grosse & Salakhutdinov 2015): ``E[lower] <= mean log p_ann(v)``
      exactly, where ``p_ann`` is the annealing model (the base model followed by the
      schedule's Gibbs sweeps). It bounds ``mean log p(v)`` when ``p_ann`` is no better than
      ``p`` on the test data, which holds on average for data drawn from the RBM
      (``KL(p || p_ann) >= 0``), holds as the schedule lengthens (``p_ann -> p``) and, per the
      paper, holds in practice on real test sets; a short schedule makes it conservative.

    When the two ends are far apart, at least one of them is far off. When they are close,
    both are close to the truth up to the runs' noise, unless the annealing misses a mode of
    the model that no test vector visits: then both ends are too high by the same
    ``-log(1 - m)`` (``m`` the mode's mass) and only a floor on log Z (passed as ``log_z``)
    reveals it. Test vectors inside a missed mode pull the RAISE end far down, so the
    sandwich opens (see :func:`raise_log_likelihood`). When the ends cross
    (:attr:`LikelihoodBounds.crossed`), lengthen the schedule.

    Parameters
    ----------
    rbm : RBM
    v : tensor (B, n_visible)
        Test vectors (states of the visible units).
    n_runs, n_betas, betas, base_visible_bias, data, generator, batch_size, progress
        As for :func:`raise_log_likelihood`; the schedule, the base model and the generator are
        shared with the AIS run.
    log_z : float or AISResult, optional
        A log Z computed before (an AIS result, an exact value, or a proven floor); by default
        one AIS run of ``ais_runs`` chains is made.
    ais_runs : int
        Runs of that AIS estimate.

    Returns
    -------
    LikelihoodBounds
        ``lower``, ``upper``, and what they were computed from; ``lo, hi = bounds`` unpacks.
    """
    ais = None
    if log_z is None:
        ais = ais_log_partition(rbm, n_runs=check_int("ais_runs", ais_runs, 1), n_betas=n_betas, betas=betas,
                                base_visible_bias=base_visible_bias, data=data, generator=generator, progress=progress)
        z = ais.log_z
    elif isinstance(log_z, AISResult):
        ais, z = log_z, log_z.log_z
    else:
        z = check_real("log_z", log_z)
        if not math.isfinite(z):
            raise ValueError(f"The 'log_z' parameter must be a finite float. Got {log_z!r} instead.")
    rr = raise_log_likelihood(rbm, v, n_runs, n_betas, betas=betas, base_visible_bias=base_visible_bias, data=data,
                              generator=generator, batch_size=batch_size, progress=progress)
    x = _test_vectors(rbm, v)
    neg_f = -rbm.free_energy(x).to(torch.float64).cpu()
    return LikelihoodBounds(lower=rr.mean, upper=float(neg_f.mean()) - z, log_z=z, raise_result=rr, ais=ais,
                            neg_free_energy=neg_f)


# ---- RAISE for the DBM ----------------------------------------------------------------------------

#: The mean-field proposal's means are clipped to ``[MF_CLIP, 1 - MF_CLIP]``: every state of the even
#: hidden layers keeps a positive probability (one it could not draw would only loosen the bound).
MF_CLIP = 1e-6
#: Default most states of the even hidden layers enumerated per test vector (exact posterior, log p*(v)).
MAX_POSTERIOR_STATES = 2**16


def _dbm_vectors(m, v: Any) -> Tensor:
    """Test vectors of a DBM: 2-d, ``sizes[0]`` columns, every entry 0 or 1, in the model's dtype."""
    t = check_tensor("v", v, ndim=2, n_features=m.sizes[0])
    bad = (t != 0) & (t != 1)
    if bool(bad.any()):
        first = tuple(int(i) for i in bad.nonzero()[0])
        raise ValueError(f"'v' must hold binary states 0 or 1 only, as log p(v) is defined for states; got "
                         f"{float(t[first])!r} at index {first}. Binarise the data first (datasets.Binarize).")
    w = m.weights[0]
    return t.detach().to(w.device, w.dtype)


def _full_states(m, v: Tensor, h: Tensor) -> list[Tensor]:
    """``[v, 0, h_2, 0, h_4, ...]`` from the even hidden layers ``h`` side by side (odd layers zero: scratch)."""
    cut = [0] + list(itertools.accumulate(m.sizes[2::2]))
    return [v] + [v.new_zeros(v.shape[0], n) if l % 2 else h[:, cut[l // 2 - 1]:cut[l // 2]]
                  for l, n in enumerate(m.sizes[1:], 1)]


def _even_hidden_table(m, x: Tensor, max_states: int) -> tuple[Tensor, Tensor]:
    """``log p*(v, h_even)`` of every test vector and every state of the even hidden layers (the odd
    layers summed out, :meth:`DBM.log_marginal`): a (B, S) table and the (S, n_2 + n_4 + ...) states."""
    n = sum(m.sizes[2::2])
    if n > 62 or 2**n > max_states:
        raise ValueError(f"The exact posterior and log p*(v) enumerate the 2^{n} states of the even hidden layers "
                         f"{m.sizes[2::2]}, more than max_states={max_states}. Use posterior='mean_field' "
                         "(RAISE alone, dbm_raise_log_likelihood), or raise max_states.")
    hs = binary_states(n, device=x.device, dtype=x.dtype)
    s = hs.shape[0]
    rows = max(1, CHUNK_ELEMENTS // (s * sum(m.sizes)))
    parts = []
    for i in range(0, x.shape[0], rows):
        xb = x[i:i + rows]
        st = _full_states(m, xb.repeat_interleave(s, 0), hs.repeat(xb.shape[0], 1))
        parts.append(m.log_marginal(st, 0).to(torch.float64).reshape(xb.shape[0], s))
    return torch.cat(parts), hs


@torch.no_grad()
def dbm_raise_log_likelihood(
    dbm,
    v: Any,
    n_runs: int = 100,
    n_betas: int = 10000,
    *,
    betas: Sequence[float] | Tensor | None = None,
    data: Any = None,
    posterior: str = "auto",
    gibbs_steps: int = 0,
    max_states: int = MAX_POSTERIOR_STATES,
    generator: torch.Generator | None = None,
    batch_size: int | None = None,
    progress: bool = True,
) -> RAISEResult:
    r"""A stochastic lower bound on each ``log p(v)`` of a DBM: RAISE (Burda, Grosse & Salakhutdinov 2015).

    The path is AIS's (``dbm.annealing_path``, :class:`~layerwise.models.dbm_parts.DBMPath`,
    Salakhutdinov & Hinton 2009): the odd layers are summed out, so a state is the even layers
    ``e = (v, h)``, ``h = (h_2, h_4, ...)``, with unnormalised marginals ``f_k(e) = p*_{beta_k}(e)``
    (``f_K = p*``, the DBM's :meth:`log_marginal`), and the transition ``T_k`` (odd layers given
    even, then even given odd) is reversible with respect to ``p_k(e)`` (see ``DBMPath``). So
    :func:`reverse_anneal` started at ``e_K = (v, h)`` gives ``w_rev`` with
    ``E[w_rev] = p_ann(v, h)``, the annealing model's probability of the *joint* even state
    (eq. (2) there). The test vector fixes only v; ``h`` is drawn from a proposal ``q(h | v)``
    and then moved by ``M = gibbs_steps`` Gibbs sweeps at beta = 1 with v clamped
    (``h_0 -> h_M``; they leave ``p(h | v)`` invariant). The weight of one chain is::

        w = p*(v, h_0) / q(h_0 | v) * w_rev(v, h_M) / p*(v, h_M),                             (5)
        log w = log p*(v, h_0) - log q(h_0 | v) - log Z_0
                - sum_{k=1}^{K} [log f_k(e_{k-1}) - log f_{k-1}(e_{k-1})],

    and the estimate ``log p_hat(v) = log mean_r w_r``.

    Why it is a lower bound. Given ``h_M``, ``E[w_rev] / p*(v, h_M) = p_ann(v, h_M) / p*(v, h_M)
    =: g(h_M)``. The pair ``(p*(v, h_0) / q(h_0 | v), h_M)`` is properly weighted for
    ``p(h | v)``: ``E_q[p*(v, h_0) / q(h_0) E[g(h_M) | h_0]] = p*(v) sum_h0 p(h_0 | v) E[g(h_M) | h_0]
    = p*(v) E_{p(h|v)}[g]`` by invariance, ``= sum_h p_ann(v, h) = p_ann(v)``. So
    ``E[w] = p_ann(v)`` exactly, for any schedule, any ``M`` and any q that gives every h a
    positive probability, and ``E[log p_hat(v)] <= log p_ann(v)`` (Jensen), as for the RBM
    (:func:`raise_log_likelihood`, which also says when ``log p_ann`` is below ``log p``). A
    poor q does not bias the bound; it widens the spread of w and so the Jensen gap: the
    estimate is then lower (more conservative), never higher in expectation.

    The starting state (``posterior``; ``"auto"`` takes the first where it can):

    * ``"exact"``: ``h_0`` from the DBM's own posterior ``p(h | v)``, by enumerating the
      ``2^(n_2 + n_4 + ...)`` states of the even hidden layers (tiny models); then
      ``p*(v, h_0) / q(h_0 | v) = p*(v)``, exact, and all the noise is the reverse chain's.
    * ``"mean_field"``: ``h_0`` from the factorised mean-field posterior (:meth:`DBM.mean_field`,
      means clipped to ``[MF_CLIP, 1 - MF_CLIP]``), whose density is known: valid at any size.
      Its mismatch with ``p(h | v)`` costs only efficiency: the first factor of (5) is then a
      one-sample importance estimate of ``p*(v)``, noisy, so the bound is looser, never invalid.
      A start drawn by Gibbs sweeps alone (density unknown) could not be weighted at all; here
      the sweeps only follow the weighted ``h_0``.

    Parameters
    ----------
    dbm : DBM
        Binary units, any depth; used in float64.
    v : tensor (B, sizes[0])
        Test vectors, every entry 0 or 1.
    n_runs, n_betas, betas, generator, batch_size, progress
        As for :func:`raise_log_likelihood`.
    data : tensor, optional
        Fit the base model's visible biases to these data's means (as ``DBM.log_partition``);
        without it the base model is uniform.
    posterior : {"auto", "exact", "mean_field"}
        The proposal ``q(h_0 | v)``; ``"auto"``: exact when at most ``max_states`` states.
    gibbs_steps : int
        Gibbs sweeps at beta = 1 with v clamped between ``h_0`` and the reverse chain.
    max_states : int
        ``"exact"``: the most even-hidden states enumerated.

    Returns
    -------
    RAISEResult
        Per-vector estimates and the log weights (5), float64 on the CPU.
    """
    n_runs = check_int("n_runs", n_runs, 1)
    check_choice("posterior", posterior, ("auto", "exact", "mean_field"))
    gibbs_steps = check_int("gibbs_steps", gibbs_steps, 0)
    max_states = check_int("max_states", max_states, 1)
    betas_t = _schedule(n_betas, betas)
    m = in_float64(dbm)
    x = _dbm_vectors(m, v)
    path = m.annealing_path(data=data)
    if posterior == "auto":
        posterior = "exact" if sum(m.sizes[2::2]) <= 62 and 2**sum(m.sizes[2::2]) <= max_states else "mean_field"
    table = _even_hidden_table(m, x, max_states) if posterior == "exact" else None
    if batch_size is None:
        batch_size = max(1, CHUNK_ELEMENTS // (sum(m.sizes) * n_runs))
    batch_size = check_int("batch_size", batch_size, 1)
    n = x.shape[0]
    bar = progress_bar((len(betas_t) - 1) * math.ceil(n / batch_size), progress, "RAISE", "beta")
    parts = []
    try:
        for start in range(0, n, batch_size):
            xb = x[start:start + batch_size]
            rows = xb.repeat_interleave(n_runs, 0)
            if table is not None:
                lt = table[0][start:start + batch_size]  # (b, S): log p*(v, h)
                idx = torch.multinomial(torch.softmax(lt, 1), n_runs, replacement=True, generator=generator)
                h = table[1][idx.reshape(-1)]
                log_first = torch.logsumexp(lt, 1).repeat_interleave(n_runs)  # p*(v, h) / p(h | v) = p*(v)
            else:
                mu = torch.cat(m.mean_field(xb)[2::2], 1).clamp(MF_CLIP, 1.0 - MF_CLIP).repeat_interleave(n_runs, 0)
                h = sample_bernoulli(mu, generator)
                log_q = (h * mu.log() + (1.0 - h) * torch.log1p(-mu)).sum(1).to(torch.float64)
                log_first = m.log_marginal(_full_states(m, rows, h), 0).to(torch.float64) - log_q
            state = _full_states(m, rows, h)
            if gibbs_steps:
                state = m.gibbs(state, gibbs_steps, clamp_visible=True, generator=generator)
            log_top = path.log_unnormalised(state, 1.0).to(torch.float64)  # log p*(v, h_M)
            lw = log_first + reverse_anneal(path, betas_t, state, generator, bar) - log_top
            parts.append(lw.reshape(-1, n_runs).cpu())
    finally:
        if bar is not None:
            bar.close()
    log_weights = torch.cat(parts)
    return RAISEResult(log_likelihood=torch.logsumexp(log_weights, 1) - math.log(n_runs), log_weights=log_weights)


@torch.no_grad()
def dbm_log_likelihood_bounds(
    dbm,
    v: Any,
    n_runs: int = 100,
    n_betas: int = 10000,
    *,
    log_z: float | AISResult | None = None,
    ais_runs: int = 100,
    betas: Sequence[float] | Tensor | None = None,
    data: Any = None,
    posterior: str = "auto",
    gibbs_steps: int = 0,
    max_states: int = MAX_POSTERIOR_STATES,
    generator: torch.Generator | None = None,
    batch_size: int | None = None,
    progress: bool = True,
) -> LikelihoodBounds:
    r"""The mean test log-likelihood of a small DBM as ``[RAISE lower, AIS upper]``.

    ``lower = mean_i log p_hat(v_i)`` (:func:`dbm_raise_log_likelihood`) and
    ``upper = mean_i log p*(v_i) - log Z_hat``, with the exact unnormalised marginal
    ``log p*(v) = log sum_h exp(log p*(v, h))`` (the even hidden layers enumerated, the odd
    ones summed out analytically) and ``log Z_hat`` from ``dbm.log_partition("ais", ...)``
    (its ``log_z_checked``: the estimate, or the proven floor on log Z when the estimate fell
    below it). ``E[log Z_hat] <= log Z``, so ``upper`` is a stochastic upper bound on
    ``mean log p(v)``; what ``lower`` bounds is said in :func:`log_likelihood_bounds`.

    Only for DBMs whose even hidden layers can be enumerated (``2^(n_2 + n_4 + ...) <=
    max_states``): for a larger DBM, log p*(v) is unknown, and the usual substitute,
    the variational bound ``-F_q(v) - log Z`` (:meth:`DBM.lower_bound`), lies *below* log p(v):
    it is not an upper end, so no upper end is returned (ValueError); use
    :func:`dbm_raise_log_likelihood` with ``posterior="mean_field"`` for the lower end alone.

    Parameters
    ----------
    dbm : DBM
    v : tensor (B, sizes[0])
        Test vectors, every entry 0 or 1.
    n_runs, n_betas, betas, data, posterior, gibbs_steps, max_states, generator, batch_size, progress
        As for :func:`dbm_raise_log_likelihood`; schedule, base model and generator shared with AIS.
    log_z, ais_runs
        As for :func:`log_likelihood_bounds` (an AIS result counts as its ``log_z_checked``).

    Returns
    -------
    LikelihoodBounds
        ``neg_free_energy`` holds each ``log p*(v)``.
    """
    max_states = check_int("max_states", max_states, 1)
    m = in_float64(dbm)
    x = _dbm_vectors(m, v)
    log_pstar = torch.logsumexp(_even_hidden_table(m, x, max_states)[0], 1).cpu()
    ais = None
    if log_z is None:
        ais = dbm.log_partition("ais", n_runs=check_int("ais_runs", ais_runs, 1), n_betas=n_betas, betas=betas,
                                data=data, generator=generator, progress=progress)
        z = ais.log_z_checked
    elif isinstance(log_z, AISResult):
        ais, z = log_z, log_z.log_z_checked
    else:
        z = check_real("log_z", log_z)
        if not math.isfinite(z):
            raise ValueError(f"The 'log_z' parameter must be a finite float. Got {log_z!r} instead.")
    rr = dbm_raise_log_likelihood(dbm, v, n_runs, n_betas, betas=betas, data=data, posterior=posterior,
                                  gibbs_steps=gibbs_steps, max_states=max_states, generator=generator,
                                  batch_size=batch_size, progress=progress)
    return LikelihoodBounds(lower=rr.mean, upper=float(log_pstar.mean()) - z, log_z=z, raise_result=rr, ais=ais,
                            neg_free_energy=log_pstar)
