r"""Bidirectional Monte Carlo for sigmoid belief networks: the annealing path from the prior
over the hidden layers to their posterior given v, and the sandwich it gives on ``log p(v)``
(the maths of ``SigmoidBeliefNet.log_likelihood_bounds``).

For a fixed visible vector v the path runs over the hidden states ``h = (h^1, ..., h^L)``::

    f_beta(h) = p(h) p(v | h^1)^beta,     p(h) = p(h^L) prod_{k=2..L} p(h^{k-1} | h^k),

from the prior (``beta = 0``: ``Z_0 = 1``, exact samples by ancestral sampling of the hidden
layers) to the unnormalised posterior (``beta = 1``: ``Z_1 = sum_h p(h) p(v | h) = p(v)``). The
AIS increment is ``(beta - beta') log p(v | h^1)``. The transition is one sequential Gibbs sweep
over every hidden unit, layer 1 first; the conditional log-odds of unit j of layer l is::

    a_j^{(l)} + s_l * [ x . W_l[:, j] - sum_i (softplus(z_i + (1 - h_j) W_l[i, j]) - softplus(z_i - h_j W_l[i, j])) ],

with ``a^{(l)}`` the unit's prior logit (``W_{l+1} h^{l+1} + b_l``, or the top bias for l = L),
``x = h^{l-1}`` the layer below (v for l = 1), ``z = W_l h^l + b_{l-1}`` its current logits and
``s_l = beta`` for l = 1, 1 otherwise. Each single-site update leaves ``f_beta`` invariant and is
reversible, so the sweep in the opposite order (last unit of layer L first) is the sweep's
reversal: the reverse chains of BDMC use it (``reverse_transition``).

References
----------
Grosse, Ghahramani & Adams (2015), "Sandwiching the marginal likelihood using bidirectional Monte
Carlo", arXiv:1511.02543.
Neal (1992), "Connectionist learning of belief networks", Artificial Intelligence 56 (Gibbs
sampling in sigmoid belief networks).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor
from torch.nn import functional as F

from .._validation import check_int
from ..functional import log_bernoulli, sample_bernoulli
from ..partition import CHUNK_ELEMENTS, AnnealingPath
from ..sandwich import SandwichBounds, bidirectional_anneal, log_mean_exp

__all__ = ["SBNPosteriorPath", "sbn_log_likelihood_bounds"]


class SBNPosteriorPath(AnnealingPath):
    r"""The path ``f_beta(h) = p(h) p(v | h^1)^beta`` of a sigmoid belief net for fixed visible rows
    (module docstring). A state is the list ``[h^1, ..., h^L]`` of (N, n_k) float64 tensors, one row
    per chain; ``log_base_z = 0`` (the prior is normalised).

    Parameters
    ----------
    params : tuple
        ``(W, b, a, R, c)`` in float64, as ``SigmoidBeliefNet._params(torch.float64)``.
    v : Tensor (N, n_0), float64
        The visible vector of every chain.
    """

    log_base_z = 0.0

    def __init__(self, params: tuple, v: Tensor) -> None:
        self.W, self.b, self.a = params[0], params[1], params[2]
        self.v = v
        self.device = v.device

    def sample_base(self, n_runs: int, generator: torch.Generator | None) -> list[Tensor]:
        if n_runs != self.v.shape[0]:
            raise ValueError(f"This path holds {self.v.shape[0]} chains (one per row of v); got n_runs={n_runs}.")
        h = sample_bernoulli(torch.sigmoid(self.a).expand(n_runs, self.a.shape[0]), generator)
        hs = [h]
        for k in range(len(self.W) - 1, 0, -1):
            h = sample_bernoulli(torch.sigmoid(F.linear(h, self.W[k], self.b[k])), generator)
            hs.append(h)
        return hs[::-1]

    def log_likelihood_term(self, hs: Sequence[Tensor]) -> Tensor:
        """``log p(v | h^1)`` per chain, (N,)."""
        return log_bernoulli(self.v, F.linear(hs[0], self.W[0], self.b[0]))

    def log_prior(self, hs: Sequence[Tensor]) -> Tensor:
        """``log p(h)`` per chain, (N,)."""
        out = log_bernoulli(hs[-1], self.a)
        for k in range(1, len(self.W)):
            out = out + log_bernoulli(hs[k - 1], F.linear(hs[k], self.W[k], self.b[k]))
        return out

    def log_unnormalised(self, state: Sequence[Tensor], beta: float) -> Tensor:
        return self.log_prior(state) + beta * self.log_likelihood_term(state)

    def log_weight(self, state: Sequence[Tensor], beta_prev: float, beta: float) -> Tensor:
        """``(beta - beta') log p(v | h^1)``."""
        return (beta - beta_prev) * self.log_likelihood_term(state)

    def _sweep(self, state: Sequence[Tensor], beta: float, generator: torch.Generator | None,
               reverse: bool) -> list[Tensor]:
        layers = [self.v] + [h.clone() for h in state]
        n_layers = len(self.W)
        z = [F.linear(layers[k + 1], self.W[k], self.b[k]) for k in range(n_layers)]  # logits of layer k
        sp = [F.softplus(t) for t in z]                                   # their softplus, kept current
        order = [(l, j) for l in range(1, n_layers + 1) for j in range(layers[l].shape[1])]
        for l, j in (reversed(order) if reverse else order):
            col = self.W[l - 1][:, j]                                     # (n_{l-1},)
            h_j = layers[l][:, j]                                         # (N,)
            sign = 1.0 - 2.0 * h_j                                        # +1: the other state is "on"
            z_other = torch.addcmul(z[l - 1], sign[:, None], col)         # logits below with unit j flipped
            sp_other = F.softplus(z_other)
            # log p(x | on) - log p(x | off) = x . col - sum_i [softplus(z_on) - softplus(z_off)]
            below = layers[l - 1] @ col - sign * (sp_other.sum(1) - sp[l - 1].sum(1))
            prior = z[l][:, j] if l < n_layers else self.a[j]
            new = sample_bernoulli(torch.sigmoid(prior + (beta if l == 1 else 1.0) * below), generator)
            flip = (new != h_j)[:, None]
            z[l - 1] = torch.where(flip, z_other, z[l - 1])
            sp[l - 1] = torch.where(flip, sp_other, sp[l - 1])
            layers[l][:, j] = new  # z[l] (this layer's own logits) does not depend on its units
        return layers[1:]

    def transition(self, state: Sequence[Tensor], beta: float, generator: torch.Generator | None) -> list[Tensor]:
        """One sequential Gibbs sweep of ``p_beta``, layer 1 to L, each layer's units in order."""
        return self._sweep(state, beta, generator, reverse=False)

    def reverse_transition(self, state: Sequence[Tensor], beta: float,
                           generator: torch.Generator | None) -> list[Tensor]:
        """The sweep's reversal: the same single-site updates in the opposite order."""
        return self._sweep(state, beta, generator, reverse=True)


@torch.no_grad()
def sbn_log_likelihood_bounds(params: tuple, v: Tensor, hidden: Sequence[Tensor] | None, n_runs: int,
                              betas: Tensor, generator: torch.Generator | None,
                              batch_size: int | None = None) -> SandwichBounds:
    """The sandwich of ``SigmoidBeliefNet.log_likelihood_bounds`` (documented there) on checked
    inputs: ``params`` the model's ``(W, b, a, R, c)`` in float64, ``v`` (B, n_0) float64 binary,
    ``hidden`` the L exact posterior samples (B, n_k) float64 or None, ``betas`` a checked schedule.
    Rows are annealed ``batch_size`` at a time, each with ``n_runs`` forward (and reverse) chains."""
    n_runs = check_int("n_runs", n_runs, 1)
    width = v.shape[1] + sum(w.shape[1] for w in params[0])
    if batch_size is None:
        batch_size = max(1, CHUNK_ELEMENTS // (width * n_runs))
    batch_size = check_int("batch_size", batch_size, 1)
    lower, upper, forward = [], [], []
    for start in range(0, v.shape[0], batch_size):
        rows = v[start:start + batch_size]
        path = SBNPosteriorPath(params, rows.repeat_interleave(n_runs, 0))
        exact = None if hidden is None else [h[start:start + batch_size].repeat_interleave(n_runs, 0)
                                             for h in hidden]
        lo, up, fw = bidirectional_anneal(path, betas, rows.shape[0], n_runs, exact, generator)
        lower.append(lo)
        forward.append(fw)
        if up is not None:
            upper.append(up)
    lower_lw = torch.cat(lower)
    lower_rows = log_mean_exp(lower_lw)
    details = {"betas": betas, "forward": forward}
    if hidden is None:
        return SandwichBounds(lower=float(lower_rows.mean()), upper=float("inf"), lower_rows=lower_rows,
                              lower_log_weights=lower_lw, details=details)
    upper_lw = torch.cat(upper)
    upper_rows = -log_mean_exp(-upper_lw)
    return SandwichBounds(lower=float(lower_rows.mean()), upper=float(upper_rows.mean()), lower_rows=lower_rows,
                          upper_rows=upper_rows, lower_log_weights=lower_lw, upper_log_weights=upper_lw,
                          details=details)
