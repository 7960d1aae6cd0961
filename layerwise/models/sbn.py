"""Sigmoid belief networks trained by wake-sleep (Hinton, Dayan, Frey & Neal 1995).

A directed net of binary {0, 1} layers ``v = h^0, h^1, ..., h^L`` (``sizes = [n_0, ..., n_L]``)::

    p(v, h^1, ..., h^L) = p(h^L) prod_{k=1..L} p(h^{k-1} | h^k),
    p(h^L_j = 1)             = sigm(a_j),                     a = top_bias
    p(h^{k-1}_i = 1 | h^k)   = sigm(W_k h^k + b_{k-1})_i,     W_k of shape (n_{k-1}, n_k)

with a separate recognition (inference) net, factorial in every layer given the one below::

    q(h^1, ..., h^L | v) = prod_{k=1..L} q(h^k | h^{k-1}),
    q(h^k_j = 1 | h^{k-1}) = sigm(R_k h^{k-1} + c_k)_j,       R_k of shape (n_k, n_{k-1}).

Both weight shapes are (out, in), as ``nn.Linear``: ``F.linear(h^k, W_k, b_{k-1})`` gives the
logits of the layer below, ``F.linear(h^{k-1}, R_k, c_k)`` those of the layer above. Each
factor is a product of Bernoulli terms, ``log p(x | a) = sum_i x_i a_i - softplus(a_i)``.

Wake-sleep alternates two local delta rules, each the exact gradient of a log-probability at
a sample:

* wake phase: ``h ~ q(h | v)`` bottom-up from the data, then ascend ``log p(v, h)`` in the
  generative parameters: ``dW_k = (h^{k-1} - p^{k-1}) (h^k)^T``, ``db_{k-1} = h^{k-1} - p^{k-1}``,
  ``da = h^L - sigm(a)``, where ``p^{k-1} = sigm(W_k h^k + b_{k-1})``;
* sleep phase: a fantasy ``(v, h) ~ p`` by ancestral sampling, then ascend ``log q(h | v)`` in
  the recognition parameters: ``dR_k = (h^k - q^k) (h^{k-1})^T``, ``dc_k = h^k - q^k``, where
  ``q^k = sigm(R_k h^{k-1} + c_k)``.

The wake phase lowers the variational free energy ``E_q[log q(h|v) - log p(v, h)]`` (the
description length of Hinton et al. 1995) in the generative parameters; the sleep phase fits
q to the generative model's own posterior, minimising ``KL(p(h|v) || q(h|v))`` averaged over
fantasies (the "wrong" KL, which is why wake-sleep is not exactly a bound optimiser).

``log p(v)`` is computed exactly by summing over the hidden layers one at a time
(``p(h^{k-1}) = sum_{h^k} p(h^k) p(h^{k-1} | h^k)``), or estimated by importance sampling with
the recognition net as proposal::

    log p(v) >= E[log (1/K) sum_k p(v, h_k) / q(h_k | v)],   h_k ~ q(h | v)

(Jensen's inequality; the bound tightens as K grows, Burda, Grosse & Salakhutdinov 2016).

References: Neal (1992), "Connectionist learning of belief networks", Artificial Intelligence
56; Hinton, Dayan, Frey & Neal (1995), "The wake-sleep algorithm for unsupervised neural
networks", Science 268; Burda, Grosse & Salakhutdinov (2016), "Importance weighted
autoencoders", ICLR.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .._validation import (as_float_tensor, check_choice, check_finite, check_int, check_memory, check_sizes,
                           check_tensor, check_unit_interval, dense_stack_elements, tensor_bytes)
from ..functional import binary_states, log_bernoulli
from ..partition import CHUNK_ELEMENTS, MAX_ENUMERATED_UNITS, MIN_ESS, check_betas
from ..sandwich import ISResult, SandwichBounds, sigmoid_betas, warn_low_ess
from ..training import all_reduce_mean
from ..units import get_units
from .sbn_bdmc import sbn_log_likelihood_bounds

__all__ = ["SigmoidBeliefNet"]

_BERNOULLI = get_units("bernoulli")


def _states(n: int, device, dtype) -> Tensor:
    """All 2^n states of n binary units, shape (2^n, n), first unit most significant (as
    ``itertools.product``): the order the exact sums have always run in (their last bit depends
    on the order of the terms)."""
    return binary_states(n, device=device, dtype=dtype).flip(1)


class SigmoidBeliefNet(nn.Module):
    r"""A sigmoid belief network with a recognition net, trained by wake-sleep.

    Parameters
    ----------
    sizes : list of int
        Layer sizes, data first: ``[n_visible, n_1, ..., n_L]``, at least 2 entries, all >= 1.
    device, dtype : optional
        As for ``nn.Linear``.

    Attributes
    ----------
    generative_weights : nn.ParameterList
        ``generative_weights[k]`` is W_{k+1} of shape ``(sizes[k], sizes[k+1])``: layer k+1 to
        layer k, ``p(h^k = 1 | h^{k+1}) = sigm(F.linear(h^{k+1}, W_{k+1}, b_k))``.
    generative_biases : nn.ParameterList
        ``generative_biases[k]`` is b_k of shape ``(sizes[k],)``, for k = 0 .. L-1.
    top_bias : nn.Parameter
        Logits a of the factorial prior ``p(h^L_j = 1) = sigm(a_j)``, shape ``(sizes[-1],)``.
    recognition_weights : nn.ParameterList
        ``recognition_weights[k]`` is R_{k+1} of shape ``(sizes[k+1], sizes[k])``: layer k to
        layer k+1, ``q(h^{k+1} = 1 | h^k) = sigm(F.linear(h^k, R_{k+1}, c_{k+1}))``.
    recognition_biases : nn.ParameterList
        ``recognition_biases[k]`` is c_{k+1} of shape ``(sizes[k+1],)``.

    Notes
    -----
    Train with :func:`layerwise.fit`: :meth:`training_step` applies one wake and one sleep
    update per batch (closed-form local gradients handed to the optimiser). Monitor with
    :meth:`metrics` (the 10-sample importance-weighted bound on log p(v)) or
    :meth:`log_likelihood`. Data must be binary {0, 1}; binarise grey levels first, e.g.
    ``(x > 0.5).float()`` or ``torch.bernoulli(x)``.

    Examples
    --------
    >>> sbn = SigmoidBeliefNet([64, 32, 8])
    >>> sbn
    SigmoidBeliefNet([64, 32, 8])
    >>> v = sbn.sample(5)                                    # (5, 64) ancestral samples
    >>> bound = sbn.log_likelihood(v, method="is", n_samples=100)   # (5,) float64
    >>> small = SigmoidBeliefNet([64, 12, 6])                # 2^(12 + 6) states: exact works
    >>> log_p = small.log_likelihood(small.sample(5))
    """

    #: What layerwise.fit watches for its divergence warning: the loss is a noisy surrogate, not an objective.
    monitored_metric = "reconstruction_error"

    def __init__(
        self,
        sizes: Sequence[int],
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.sizes = check_sizes("sizes", sizes, 2, (784, 200, 50))
        check_memory(f"SigmoidBeliefNet({self.sizes}) parameters",
                     tensor_bytes(dense_stack_elements(self.sizes, weight_copies=2) + sum(self.sizes[1:]), dtype))
        fk = {"device": device, "dtype": dtype}
        pairs = list(zip(self.sizes[:-1], self.sizes[1:]))
        self.generative_weights = nn.ParameterList(nn.Parameter(torch.empty(lo, hi, **fk)) for lo, hi in pairs)
        self.generative_biases = nn.ParameterList(nn.Parameter(torch.empty(lo, **fk)) for lo, _ in pairs)
        self.top_bias = nn.Parameter(torch.empty(self.sizes[-1], **fk))
        self.recognition_weights = nn.ParameterList(nn.Parameter(torch.empty(hi, lo, **fk)) for lo, hi in pairs)
        self.recognition_biases = nn.ParameterList(nn.Parameter(torch.empty(hi, **fk)) for _, hi in pairs)
        self.reset_parameters()

    # ---- parameters ---------------------------------------------------------------------------

    def reset_parameters(self) -> None:
        """Weights ~ N(0, 0.01^2), biases 0 (as an RBM, Hinton's practical guide 2010, section 8):
        every unit starts at probability about 1/2, the small random weights break the symmetry."""
        with torch.no_grad():
            for w in (*self.generative_weights, *self.recognition_weights):
                nn.init.normal_(w, 0.0, 0.01)
            for b in (*self.generative_biases, self.top_bias, *self.recognition_biases):
                nn.init.zeros_(b)

    @torch.no_grad()
    def init_visible_bias(self, x: Any) -> "SigmoidBeliefNet":
        """Set b_0 to the data's base rates, ``b_0i = log(p_i / (1 - p_i))`` with p_i the fraction
        of rows in which unit i is on (clipped to [0.001, 0.999]), so that training starts from
        the independent-pixel model rather than from p = 1/2 everywhere. Returns ``self``."""
        self.generative_biases[0].copy_(_BERNOULLI.bias_from_mean(self._data(x).mean(0)))
        return self

    def init_from_data(self, x: Any) -> "SigmoidBeliefNet":
        """Hook of :func:`layerwise.pretrain`: :meth:`init_visible_bias`."""
        return self.init_visible_bias(x)

    @property
    def n_layers(self) -> int:
        """Number of hidden layers L."""
        return len(self.sizes) - 1

    def generative_parameters(self) -> list[nn.Parameter]:
        """``[W_1, ..., W_L, b_0, ..., b_{L-1}, a]``: the order of :meth:`wake_gradients`."""
        return [*self.generative_weights, *self.generative_biases, self.top_bias]

    def recognition_parameters(self) -> list[nn.Parameter]:
        """``[R_1, ..., R_L, c_1, ..., c_L]``: the order of :meth:`sleep_gradients`."""
        return [*self.recognition_weights, *self.recognition_biases]

    def _params(self, dtype: torch.dtype | None = None) -> tuple[list[Tensor], list[Tensor], Tensor, list[Tensor], list[Tensor]]:
        """(W, b, a, R, c), cast to ``dtype`` when given (float64 for the likelihoods)."""
        cast = (lambda t: t) if dtype is None else (lambda t: t.to(dtype))
        return ([cast(w) for w in self.generative_weights], [cast(b) for b in self.generative_biases],
                cast(self.top_bias), [cast(r) for r in self.recognition_weights],
                [cast(c) for c in self.recognition_biases])

    # ---- input checks -------------------------------------------------------------------------

    def validate_data(self, x: Any) -> Tensor:
        """2-d, ``sizes[0]`` features, finite, non-empty, and binary: every value 0 or 1."""
        if isinstance(x, (tuple, list)):
            x = x[0]
        t = check_tensor("data", x, ndim=2, n_features=self.sizes[0])
        if not bool(((t == 0) | (t == 1)).all()):
            lo, hi = float(t.min()), float(t.max())
            raise ValueError(
                f"'data' must be binary (every value 0 or 1) for a sigmoid belief network; got values in "
                f"[{lo:.4g}, {hi:.4g}] that are not all 0 or 1. Binarise it first, e.g. (x > 0.5).float() "
                "or torch.bernoulli(x)."
            )
        return t

    def _data(self, x: Any) -> Tensor:
        w = self.top_bias
        return self.validate_data(x).to(w.device, w.dtype)

    @staticmethod
    def _batch(x: Any) -> Tensor:
        """A training batch as a tensor (fit has validated the whole data set already)."""
        return x[0] if isinstance(x, (tuple, list)) else x

    def _check_layers(self, name: str, hs: Any, first: int) -> list[Tensor]:
        """``hs`` as a list of tensors whose last dims are ``sizes[first:]``."""
        want = self.sizes[first:]
        if isinstance(hs, Tensor) or not isinstance(hs, Sequence) or len(hs) != len(want):
            got = f"a list of {len(hs)}" if isinstance(hs, Sequence) and not isinstance(hs, Tensor) else type(hs).__name__
            raise ValueError(
                f"'{name}' must be a list of {len(want)} tensors, one per layer of sizes {want}. Got {got} instead."
            )
        out = []
        for i, (h, n) in enumerate(zip(hs, want)):
            h = as_float_tensor(f"{name}[{i}]", h)
            if h.dim() == 0 or h.shape[-1] != n:
                raise ValueError(
                    f"'{name}[{i}]' must have {n} units in its last dimension (layer {first + i} of sizes "
                    f"{self.sizes}); got shape {tuple(h.shape)}."
                )
            out.append(self._check_values(f"{name}[{i}]", h))
        return out

    def _check_visible(self, name: str, v: Any) -> Tensor:
        v = as_float_tensor(name, v)
        if v.dim() == 0 or v.shape[-1] != self.sizes[0]:
            raise ValueError(
                f"'{name}' must have {self.sizes[0]} units in its last dimension (sizes[0]); got shape {tuple(v.shape)}."
            )
        return self._check_values(name, v)

    @staticmethod
    def _check_values(name: str, h: Tensor) -> Tensor:
        """Finite states (or probabilities) in [0, 1], as the data's check (binary units)."""
        h = as_float_tensor(name, h)
        return check_unit_interval(name, check_finite(name, h), "a sigmoid belief net's binary units")

    # ---- the maths: one method per formula ----------------------------------------------------

    def generative_logits(self, k: int, h_above: Tensor) -> Tensor:
        """Logits of layer k given layer k+1: ``W_{k+1} h^{k+1} + b_k``, shape (..., sizes[k])."""
        return F.linear(h_above, self.generative_weights[k], self.generative_biases[k])

    def recognition_logits(self, k: int, h_below: Tensor) -> Tensor:
        """Logits of layer k+1 given layer k: ``R_{k+1} h^k + c_{k+1}``, shape (..., sizes[k+1])."""
        return F.linear(h_below, self.recognition_weights[k], self.recognition_biases[k])

    @staticmethod
    def _log_joint(p, v: Tensor, hs: Sequence[Tensor]) -> Tensor:
        W, b, a, _, _ = p
        layers = [v, *hs]
        out = log_bernoulli(layers[-1], a)
        for k in range(len(W)):
            out = out + log_bernoulli(layers[k], F.linear(layers[k + 1], W[k], b[k]))
        return out

    @staticmethod
    def _log_q(p, hs: Sequence[Tensor], v: Tensor) -> Tensor:
        _, _, _, R, c = p
        layers = [v, *hs]
        out = 0.0
        for k in range(len(R)):
            out = out + log_bernoulli(layers[k + 1], F.linear(layers[k], R[k], c[k]))
        return out

    def log_joint(self, v: Tensor, hs: Sequence[Tensor]) -> Tensor:
        """log p(v, h) = log p(h^L) + sum_{k=1..L} log p(h^{k-1} | h^k), exactly.

        Each factor is ``sum_i x_i a_i - softplus(a_i)`` with a the layer's logits.

        Parameters
        ----------
        v : tensor (..., sizes[0])
            Visible states.
        hs : list of L tensors (..., sizes[k])
            Hidden states ``[h^1, ..., h^L]``; the leading dimensions of v and every h^k
            broadcast (e.g. v (B, 1, n_0) against h^k (1, S, n_k)).

        Returns
        -------
        Tensor of the broadcast leading shape; differentiable in the generative parameters.
        """
        v = self._check_visible("v", v)
        hs = self._check_layers("hs", hs, 1)
        return self._log_joint(self._params(), v, hs)

    def log_q(self, hs: Sequence[Tensor], v: Tensor) -> Tensor:
        """log q(h | v) = sum_{k=1..L} log q(h^k | h^{k-1}), h^0 = v, under the recognition net.

        Shapes as :meth:`log_joint`; differentiable in the recognition parameters.
        """
        v = self._check_visible("v", v)
        hs = self._check_layers("hs", hs, 1)
        return self._log_q(self._params(), hs, v)

    def log_prior(self, h_top: Tensor) -> Tensor:
        """log p(h^L) = sum_j h^L_j a_j - softplus(a_j), shape (...,). ``h_top`` is checked."""
        h_top = self._check_layers("h_top", [h_top], len(self.sizes) - 1)[0]
        return log_bernoulli(h_top, self.top_bias)

    # ---- sampling and inference ---------------------------------------------------------------

    @staticmethod
    def _up(p, v: Tensor, sample: bool, generator: torch.Generator | None) -> tuple[list[Tensor], Tensor | None]:
        """Bottom-up pass through the recognition net: the states and (when sampling) log q(h | v)."""
        _, _, _, R, c = p
        hs, log_q, h = [], 0.0, v
        for k in range(len(R)):
            logits = F.linear(h, R[k], c[k])
            if sample:
                h = _BERNOULLI.sample(logits, generator)
                log_q = log_q + log_bernoulli(h, logits)
            else:
                h = torch.sigmoid(logits)
            hs.append(h)
        return hs, (log_q if sample else None)

    @staticmethod
    def _down(p, n: int | tuple[int, ...], generator: torch.Generator | None) -> list[Tensor]:
        """Ancestral sampling: ``[v, h^1, ..., h^L]`` with leading shape ``n``."""
        W, b, a, _, _ = p
        shape = (n,) if isinstance(n, int) else tuple(n)
        h = _BERNOULLI.sample(a.expand(*shape, a.shape[0]), generator)
        layers = [h]
        for k in range(len(W) - 1, -1, -1):
            h = _BERNOULLI.sample(F.linear(h, W[k], b[k]), generator)
            layers.append(h)
        return layers[::-1]

    @torch.no_grad()
    def recognize(self, v: Any, sample: bool = True, generator: torch.Generator | None = None) -> list[Tensor]:
        """The recognition chain bottom-up: ``[h^1, ..., h^L]``.

        Parameters
        ----------
        v : tensor (B, sizes[0])
            Binary data.
        sample : bool
            ``True``: ``h^k ~ q(h^k | h^{k-1})`` one layer after the other (an exact sample of
            q(h | v)). ``False``: the deterministic mean-field pass ``h^k = sigm(R_k h^{k-1} + c_k)``
            feeding probabilities upward (exact marginals of q for h^1 only).
        generator : torch.Generator, optional
            For reproducible samples (on the model's device).
        """
        return self._up(self._params(), self._data(v), sample, generator)[0]

    @torch.no_grad()
    def sample(self, n: int, return_all: bool = False, generator: torch.Generator | None = None) -> Tensor | list[Tensor]:
        """Ancestral samples: ``h^L ~ p(h^L)``, then ``h^{k-1} ~ p(h^{k-1} | h^k)`` down to v.

        Returns the visible states (n, sizes[0]), or with ``return_all`` the list
        ``[v, h^1, ..., h^L]`` (a fantasy of the sleep phase).
        """
        n = check_int("n", n, 1)
        check_memory(f"{n} samples of SigmoidBeliefNet({self.sizes})",
                     tensor_bytes(2 * n * sum(self.sizes), self.generative_weights[0].dtype))
        layers = self._down(self._params(), n, generator)
        return layers if return_all else layers[0]

    def forward(self, v: Tensor) -> Tensor:
        """Top-layer probabilities of the mean-field recognition pass, differentiable (no input checks)."""
        return self._up(self._params(), v, False, None)[0][-1]

    @torch.no_grad()
    def transform(self, v: Any) -> Tensor:
        """Features: the top layer of ``recognize(v, sample=False)``, shape (B, sizes[-1])."""
        return self.recognize(v, sample=False)[-1]

    @torch.no_grad()
    def reconstruct(self, v: Any) -> Tensor:
        """Mean-field reconstruction: the recognition pass up with probabilities, then the
        generative pass down with probabilities, ``sigm(W_1 ... sigm(W_L h^L + b_{L-1}) ... + b_0)``."""
        W, b, _, _, _ = p = self._params()
        h = self._up(p, self._data(v), False, None)[0][-1]
        for k in range(len(W) - 1, -1, -1):
            h = torch.sigmoid(F.linear(h, W[k], b[k]))
        return h

    # ---- likelihoods --------------------------------------------------------------------------

    def _exact_table_bits(self) -> int:
        """log2 of the largest table the layer-by-layer sum makes: 2^{n_1} per data row, or
        2^{n_k + n_{k+1}} for adjacent hidden layers."""
        hidden = self.sizes[1:]
        return max([hidden[0]] + [x + y for x, y in zip(hidden[:-1], hidden[1:])])

    @torch.no_grad()
    def log_likelihood(
        self,
        v: Any,
        method: str = "exact",
        n_samples: int = 100,
        generator: torch.Generator | None = None,
        *,
        return_details: bool = False,
    ) -> Tensor | ISResult:
        """log p(v) per row, exactly or as an importance-sampled lower bound; float64.

        Parameters
        ----------
        v : tensor (B, sizes[0])
            Binary data.
        method : {"exact", "is"}
            ``"exact"``: sum the hidden layers out one at a time from the top,
            ``log p(h^{k-1}) = logsumexp_{h^k} [log p(h^k) + log p(h^{k-1} | h^k)]``, ending with
            ``log p(v) = logsumexp_{h^1} [log p(h^1) + log p(v | h^1)]``, in float64. This equals
            the sum over all joint hidden states; it is refused (ValueError) when a table exceeds
            2^20 entries: ``n_1 > 20`` or ``n_k + n_{k+1} > 20`` for adjacent hidden layers.
            ``"is"``: importance sampling with the recognition net as proposal,
            ``log (1/K) sum_k p(v, h_k) / q(h_k | v)``, ``h_k ~ q(h | v)``: in expectation a lower
            bound on log p(v) (Jensen), tightening as K grows, exact if q is the true posterior.
        n_samples : int
            K for ``"is"``; must be >= 1 (checked for either method, used by ``"is"`` only).
        generator : torch.Generator, optional
            For a reproducible ``"is"`` estimate (on the model's device).
        return_details : bool
            ``"is"`` only: return an :class:`~layerwise.sandwich.ISResult` (the estimates, the
            weights ``log w_k = log p(v, h_k) - log q(h_k | v)`` and each row's effective sample
            size ``(sum w)^2 / sum w^2``: K when q is the posterior, near 1 when one sample
            dominates) instead of the estimates alone.

        Returns
        -------
        Tensor (B,), float64, or ISResult.

        Warns
        -----
        LowESSWarning
            ``"is"`` with ``n_samples >= 10``, when some row's effective sample size is under 10
            (:data:`~layerwise.partition.MIN_ESS`): its estimate rests on a few weights.
        """
        check_choice("method", method, ("exact", "is"))
        n_samples = check_int("n_samples", n_samples, 1)
        if return_details and method != "is":
            raise ValueError(f"return_details=True needs method='is' (importance weights); got method={method!r}.")
        if method == "exact":
            bits = self._exact_table_bits()
            if bits > MAX_ENUMERATED_UNITS:
                raise ValueError(
                    f"method='exact' sums the hidden layers out one at a time; for hidden layers of sizes "
                    f"{self.sizes[1:]} its largest table has 2^{bits} entries, above the limit of "
                    f"2^{MAX_ENUMERATED_UNITS}. Use method='is' (importance sampling with the recognition "
                    "net, a stochastic lower bound) instead."
                )
        v = self._data(v).double()
        p = self._params(torch.float64)
        if method == "exact":
            return self._exact_log_likelihood(p, v)
        weights: list[Tensor] = []
        estimate = self._is_log_likelihood(p, v, n_samples, generator, weights)
        result = ISResult(log_likelihood=estimate, log_weights=torch.cat(weights))
        if n_samples >= MIN_ESS:
            warn_low_ess(result.effective_sample_size, "Importance sampling with the recognition net", stacklevel=4)
        return result if return_details else estimate

    def _exact_log_likelihood(self, p, v: Tensor) -> Tensor:
        W, b, a, _, _ = p
        dev, dt = v.device, v.dtype
        L = len(W)
        states = _states(self.sizes[L], dev, dt)
        log_p = log_bernoulli(states, a)                        # log p(h^L), (2^{n_L},)
        for k in range(L - 1, 0, -1):                            # sum h^{k+1} out: log p(h^k)
            below = _states(self.sizes[k], dev, dt)              # (2^{n_k}, n_k)
            logits = F.linear(states, W[k], b[k])                # (2^{n_{k+1}}, n_k)
            table = below @ logits.T - F.softplus(logits).sum(1)  # log p(h^k | h^{k+1}), (2^{n_k}, 2^{n_{k+1}})
            log_p = torch.logsumexp(table + log_p, dim=1)
            states = below
        logits = F.linear(states, W[0], b[0])                    # (2^{n_1}, n_0)
        norm = F.softplus(logits).sum(1) - log_p                 # (2^{n_1},)
        rows = max(1, CHUNK_ELEMENTS // states.shape[0])
        out = [torch.logsumexp(x @ logits.T - norm, dim=1) for x in v.split(rows)]
        return torch.cat(out)

    def _is_log_likelihood(self, p, v: Tensor, n_samples: int, generator: torch.Generator | None,
                           weights: list | None = None) -> Tensor:
        """The K-sample importance estimate per row; ``weights`` collects the (rows, K) log weights."""
        width = max(self.sizes)
        k_chunk = max(1, min(n_samples, CHUNK_ELEMENTS // width))
        rows = max(1, CHUNK_ELEMENTS // (k_chunk * width))
        out = []
        for x in v.split(rows):
            log_w = []
            for start in range(0, n_samples, k_chunk):
                kc = min(k_chunk, n_samples - start)
                xs = x.unsqueeze(1).expand(x.shape[0], kc, x.shape[1])   # (B, kc, n_0)
                hs, log_q = self._up(p, xs, True, generator)
                log_w.append(self._log_joint(p, xs, hs) - log_q)         # (B, kc)
            log_w = torch.cat(log_w, 1)
            if weights is not None:
                weights.append(log_w)
            out.append(torch.logsumexp(log_w, dim=1) - math.log(n_samples))
        return torch.cat(out)

    @torch.no_grad()
    def log_likelihood_bounds(
        self,
        v: Any,
        n_runs: int = 10,
        n_betas: int = 1000,
        *,
        hidden: Sequence[Tensor] | None = None,
        betas: Sequence[float] | Tensor | None = None,
        generator: torch.Generator | None = None,
        batch_size: int | None = None,
    ) -> SandwichBounds:
        r"""``log p(v)`` sandwiched by bidirectional Monte Carlo (Grosse, Ghahramani & Adams 2015).

        For each row, AIS over the hidden units along ``f_beta(h) = p(h) p(v | h^1)^beta``, from the
        prior (``Z_0 = 1``) to the unnormalised posterior (``Z_1 = p(v)``), with sequential Gibbs
        sweeps over the hidden units (:class:`~layerwise.models.sbn_bdmc.SBNPosteriorPath`):

        * **lower** (forward AIS, any v): ``h_0 ~ p(h)``, ``log w = sum_k (beta_k - beta_{k-1})
          log p(v | h^1_{k-1})``; ``E[w] = p(v)``, so ``E[log mean_r w_r] <= log p(v)``;
        * **upper** (reverse AIS, needs ``hidden``): started from an exact posterior sample, the
          sweeps run in reverse order down the schedule with the same increments summed to ``r``;
          ``E[exp(-r)] = 1 / p(v)``, so ``E[-log mean_r exp(-r_r)] >= log p(v)``.

        Both hold in expectation (Jensen) for any schedule, and
        ``P(lower > log p(v) + t) <= exp(-t)``, ``P(upper < log p(v) - t) <= exp(-t)`` (Markov);
        the gap narrows to 0 as ``n_betas`` grows. Exact posterior samples exist for data
        simulated from the model: ``v, *hidden = sbn.sample(n, return_all=True)`` gives
        ``hidden ~ p(h | v)``. On real data only the lower side exists (``upper = inf``), and the
        width measured on simulated data says how far it may be from ``log p(v)``.

        Parameters
        ----------
        v : tensor (B, sizes[0])
            Binary data.
        n_runs : int
            Forward (and reverse) chains per row.
        n_betas : int
            Temperatures, 0 and 1 included: :func:`~layerwise.sandwich.sigmoid_betas` (the paper's
            sigmoidal schedule). The cost is ``n_betas`` sweeps of ``sum(sizes[1:])`` single-unit
            updates for ``B * n_runs`` chains, twice with ``hidden``.
        hidden : list of L tensors (B, sizes[k]), optional
            Exact posterior samples ``h ~ p(h | v)``, one per row (every reverse chain of a row
            starts there); gives the upper end.
        betas : sequence of float, optional
            An explicit schedule from 0 to 1, instead of ``n_betas``.
        generator : torch.Generator, optional
            On the model's device.
        batch_size : int, optional
            Rows annealed at once (default: as many as fit :data:`~layerwise.partition.CHUNK_ELEMENTS`).

        Returns
        -------
        SandwichBounds
            ``lower`` / ``upper`` the means over rows, ``lower_rows`` / ``upper_rows`` per row,
            the log weights (and each row's ESS: ``lower_ess``, ``upper_ess``).
        """
        x = self._data(v).double()
        hs = None
        if hidden is not None:
            hs = self._check_layers("hidden", hidden, 1)
            for k, h in enumerate(hs):
                if h.dim() != 2 or h.shape[0] != x.shape[0] or not bool(((h == 0) | (h == 1)).all()):
                    raise ValueError(f"'hidden[{k}]' must be a binary (B, {self.sizes[k + 1]}) tensor with B = "
                                     f"{x.shape[0]} rows (one exact posterior sample per row of v); got shape "
                                     f"{tuple(h.shape)}.")
            hs = [h.to(x.device, torch.float64) for h in hs]
        betas_t = sigmoid_betas(n_betas) if betas is None else check_betas(betas)
        return sbn_log_likelihood_bounds(self._params(torch.float64), x, hs, n_runs, betas_t, generator, batch_size)

    # ---- wake-sleep ---------------------------------------------------------------------------

    def _wake(self, v: Tensor, hs: Sequence[Tensor]) -> tuple[list[Tensor], Tensor]:
        """Wake gradients (order of :meth:`generative_parameters`) and mean log p(v, h)."""
        W, b, a, _, _ = self._params()
        layers = [v, *hs]
        n = v.shape[0]
        g_w, g_b, log_p = [], [], log_bernoulli(layers[-1], a).sum()
        for k in range(len(W)):
            logits = F.linear(layers[k + 1], W[k], b[k])
            err = layers[k] - torch.sigmoid(logits)              # target - prediction, (B, n_k)
            g_w.append(err.T @ layers[k + 1] / n)                # (n_k, n_{k+1})
            g_b.append(err.mean(0))
            log_p = log_p + log_bernoulli(layers[k], logits).sum()
        g_a = layers[-1].mean(0) - torch.sigmoid(a)
        return [*g_w, *g_b, g_a], log_p / n

    def _sleep(self, fantasy: Sequence[Tensor]) -> tuple[list[Tensor], Tensor]:
        """Sleep gradients (order of :meth:`recognition_parameters`) and mean log q(h | v)."""
        _, _, _, R, c = self._params()
        n = fantasy[0].shape[0]
        g_r, g_c, log_q = [], [], 0.0
        for k in range(len(R)):
            logits = F.linear(fantasy[k], R[k], c[k])
            err = fantasy[k + 1] - torch.sigmoid(logits)         # (B, n_{k+1})
            g_r.append(err.T @ fantasy[k] / n)                   # (n_{k+1}, n_k)
            g_c.append(err.mean(0))
            log_q = log_q + log_bernoulli(fantasy[k + 1], logits).sum()
        return [*g_r, *g_c], log_q / n

    @torch.no_grad()
    def wake_gradients(self, v: Tensor, hs: Sequence[Tensor]) -> list[Tensor]:
        """Gradient of ``mean_B log p(v, h)`` in the generative parameters at the given states
        (ascent direction), in the order of :meth:`generative_parameters`::

            d/dW_k  = mean (h^{k-1} - p^{k-1}) (h^k)^T,   p^{k-1} = sigm(W_k h^k + b_{k-1})
            d/db_{k-1} = mean (h^{k-1} - p^{k-1}),        d/da = mean h^L - sigm(a)

        ``v`` is (B, sizes[0]), ``hs`` the list ``[h^1, ..., h^L]`` of (B, sizes[k]) tensors.
        """
        v = self._check_visible("v", v)
        return self._wake(v, self._check_layers("hs", hs, 1))[0]

    @torch.no_grad()
    def sleep_gradients(self, fantasy: Sequence[Tensor]) -> list[Tensor]:
        """Gradient of ``mean_B log q(h | v)`` in the recognition parameters at a fantasy
        ``[v, h^1, ..., h^L]`` (ascent direction), in the order of :meth:`recognition_parameters`::

            d/dR_k = mean (h^k - q^k) (h^{k-1})^T,   q^k = sigm(R_k h^{k-1} + c_k)
            d/dc_k = mean (h^k - q^k)
        """
        return self._sleep(self._check_layers("fantasy", fantasy, 0))[0]

    def training_loss(self, batch: Any) -> Tensor:
        """The wake-sleep surrogate ``-mean log p(v, h) - mean log q(h~ | v~)``.

        ``h ~ q(h | v)`` is recognised from the batch (wake) and ``(v~, h~) ~ p`` is a fantasy of
        the batch's size (sleep), both drawn without gradient and in the order of
        :meth:`training_step`. Its autograd gradient is minus the wake gradient in the generative
        parameters and minus the sleep gradient in the recognition parameters, so that descending
        it is the wake-sleep update; :func:`layerwise.fit` uses :meth:`training_step` (the same
        update in closed form) and calls this only for ``val_loss``.
        """
        v = self._batch(batch).to(self.top_bias.device, self.top_bias.dtype)
        with torch.no_grad():
            hs = self._up(self._params(), v, True, None)[0]
            fantasy = self._down(self._params(), v.shape[0], None)
        p = self._params()
        return -self._log_joint(p, v, hs).mean() - self._log_q(p, fantasy[1:], fantasy[0]).mean()

    def training_step(self, batch: Any, optimizer: torch.optim.Optimizer) -> Tensor:
        """One wake-sleep update, then ``optimizer.step()``.

        Wake: ``h ~ q(h | v)`` bottom-up from the batch; the generative parameters get
        ``-`` :meth:`wake_gradients`. Sleep: a fantasy ``(v~, h~)`` of the batch's size by
        ancestral sampling (from the parameters before this step); the recognition parameters get
        ``-`` :meth:`sleep_gradients`. The gradients (negated, for a descending optimiser) are
        averaged over processes under ``torch.distributed`` and handed to the optimiser in one
        step, so momentum, weight decay on the weights and learning-rate schedules apply.

        Returns the value of :meth:`training_loss` at these samples,
        ``-mean log p(v, h) - mean log q(h~ | v~)`` (nats): its first term is the wake
        objective, its second the sleep one.
        """
        with torch.no_grad():
            v = self._batch(batch).to(self.top_bias.device, self.top_bias.dtype)
            hs = self._up(self._params(), v, True, None)[0]
            g_gen, log_p = self._wake(v, hs)
            fantasy = self._down(self._params(), v.shape[0], None)
            g_rec, log_q = self._sleep(fantasy)
            grads = [g.neg_() for g in (*g_gen, *g_rec)]
            all_reduce_mean(grads)
        for param, g in zip((*self.generative_parameters(), *self.recognition_parameters()), grads):
            param.grad = g  # fresh tensors each step: hand them over, no copy
        optimizer.step()
        return -(log_p + log_q)

    @torch.no_grad()
    def metrics(self, batch: Any) -> dict[str, float]:
        """Once an epoch: ``log_likelihood_bound``, the mean 10-sample importance-weighted bound
        on log p(v) (:meth:`log_likelihood` with ``method="is"``), and ``reconstruction_error``,
        the squared error per sample of :meth:`reconstruct`."""
        v = self._batch(batch).to(self.top_bias.device, self.top_bias.dtype)
        bound = self._is_log_likelihood(self._params(torch.float64), v.double(), 10, None)
        return {"log_likelihood_bound": float(bound.mean()),
                "reconstruction_error": float(((v - self.reconstruct(v)) ** 2).sum(1).mean())}

    # ---- bookkeeping --------------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        """Constructor arguments, for :func:`layerwise.checkpoint.load_model`."""
        return {"sizes": list(self.sizes)}

    def extra_repr(self) -> str:
        return str(self.sizes)

    def __repr__(self) -> str:
        return f"SigmoidBeliefNet({self.extra_repr()})"
